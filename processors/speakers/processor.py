"""The ``speakers`` processor: who spoke when, per-speaker measures and turn-taking."""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bitbox.audio import audio_blocks, read_audio
from bitbox.processors.audio_quality import AudioStats, check_audio, no_audio_reason
from bitbox.errors import MeasurementError, ParameterError, RecordingError
from bitbox.log import logger
from bitbox.params import Interval, NoneOk, Options, PathLike, StrMatching
from bitbox.processors.voice import audio_blocks_16k
from bitbox.measurements import ProcessorResult
from bitbox.events import events_frame
from bitbox.processor import Processor, ProgressCallback, QualityColumns, TimeSeriesSink, join_notes
from bitbox.processors.rttm import find_rttm, format_rttm, label_by_first_speech, label_order, read_rttm
from bitbox.processors.kinds import AUDIO, VIDEO
from bitbox.recording import Recording

from .acoustics import own_speech, speaker_voices
from .catalog import CONVERSATION_KEYS, MEASURES, PER_SPEAKER
from .diarize import AudioScan, diarize_blocks, embed_windows, scan_audio
from .encoder import FRAME_S, SAMPLE_RATE, SpeakerEncoder, locate_model, mel_frames
from .turns import (BACKCHANNEL_MAX_S, annotate_turns, floor_turns, merge_same_speaker, speaker_turn_summary,
                    turn_taking_summary)

__all__ = ["SpeakersProcessor", "SOURCES", "TARGET_RULES", "speaker_names"]

#: Where the speaker turns come from (the ``source`` parameter).
SOURCES = ("auto", "rttm", "diarize")
#: The rules of the ``target`` parameter besides a speaker label or a voice file.
TARGET_RULES = ("first", "longest")
_LABEL = re.compile(r"S[1-9]\d*")
#: A target with one of these suffixes (or a path separator) is a voice file, not a speaker's name.
_MEDIA_SUFFIXES = AUDIO.extensions | VIDEO.extensions
_VOICE_WINDOW_S = 1.5


def speaker_names(summary: dict[str, Any]) -> dict[str, str]:
    """``{label: name}`` of a summary's ``speaker_labels`` (``"S1=clinician; S2=patient"``; ``{}`` when empty)."""
    text = summary.get("speaker_labels")
    pairs = [item.split("=", 1) for item in text.split("; ")] if isinstance(text, str) and text else []
    return {label: name for label, name in (p for p in pairs if len(p) == 2)}


class SpeakersProcessor(Processor):
    """Who spoke when, per-speaker measures and turn-taking, offline on a CPU.

    Parameters
    ----------
    source : {"auto", "rttm", "diarize"}
        Where the speaker turns come from: ``"auto"`` reads a reference RTTM beside the recording
        (same stem, ``.rttm``) when there is one and diarizes otherwise; ``"rttm"`` requires it;
        ``"diarize"`` always diarizes.
    n_speakers : int | None
        The number of speakers when known; ``None`` estimates it between ``min_speakers`` and
        ``max_speakers``.
    min_speakers, max_speakers : int
        Bounds of the estimate.
    target : str | None
        Which speaker is the target (e.g. the patient), whose measures are copied to the
        ``target_*`` columns: ``"first"`` (the first to speak), ``"longest"`` (the most talk
        time), a label (``"S2"``), or the path of a voice sample of the target (a WAV/FLAC/...
        file of that person alone; the speaker whose voice is most similar is chosen).
        ``None``: no target.
    vad_threshold : float
        Silero speech probability that starts a speech region.
    min_speech_s : float
        Shorter speech regions are dropped (s).
    window_s, step_s : float
        Speaker-embedding windows: length and step (s).
    min_pause_s : float
        Silences shorter than this inside one speaker's speech do not split it (s).
    backchannel_max_s : float
        Longest back-channel (s).
    encoder_model : str | None
        A speaker-encoder weights file of resemblyzer's format (``None``: the installed
        resemblyzer 0.1.4 weights).
    block_s : float | None
        Audio decoded and analysed at a time (s): memory stays flat with the recording's length (the
        audio is read in a few passes, block by block; only per-frame values and the windows' embeddings
        are kept). ``None`` reads the whole file at once.
    """

    name = "speakers"
    version = "1.2.0"
    input_kinds = ("audio", "video")
    dependencies = ("torch", "librosa", "silero-vad", "onnxruntime", "praat-parselmouth", "scikit-learn", "scipy",
                    "soundfile", "av")
    measures = MEASURES
    plot_measures = ("speaker",)
    qc = QualityColumns(measures=("n_speakers", "overlap_fraction"))
    extra_outputs = ("speakers.rttm",)
    part_columns = r"S[1-9]\d*|target"
    part_name = "speaker"
    _parameter_constraints = {
        "source": [Options(SOURCES)],
        "n_speakers": [Interval(int, 1, 20), NoneOk()],
        "min_speakers": [Interval(int, 1, 20)],
        "max_speakers": [Interval(int, 1, 20)],
        "vad_threshold": [Interval(float, 0.16, 0.99)],
        "min_speech_s": [Interval(float, 0, 5)],
        "window_s": [Interval(float, 0.5, 4.0)],
        "step_s": [Interval(float, 0.05, 2.0)],
        "min_pause_s": [Interval(float, 0, 5)],
        "backchannel_max_s": [Interval(float, 0.1, 5)],
        "target": [StrMatching(r"(?s).+", "'first', 'longest', a speaker label such as 'S2', a speaker's name"),
                   PathLike(), NoneOk()],
        "encoder_model": [PathLike(), NoneOk()],
        "block_s": [Interval(float, 1, None), NoneOk()],
    }

    def __init__(self, *, source: str = "auto", n_speakers: int | None = None, min_speakers: int = 1,
                 max_speakers: int = 8, target: str | None = None, vad_threshold: float = 0.5,
                 min_speech_s: float = 0.2, window_s: float = 1.5, step_s: float = 0.25, min_pause_s: float = 0.25,
                 backchannel_max_s: float = BACKCHANNEL_MAX_S, encoder_model: str | None = None,
                 block_s: float | None = 60.0) -> None:
        self.source = source
        self.n_speakers = n_speakers
        self.min_speakers = min_speakers
        self.max_speakers = max_speakers
        self.target = target
        self.vad_threshold = vad_threshold
        self.min_speech_s = min_speech_s
        self.window_s = window_s
        self.step_s = step_s
        self.min_pause_s = min_pause_s
        self.backchannel_max_s = backchannel_max_s
        self.encoder_model = encoder_model
        self.block_s = block_s

    # ------------------------------------------------------------------ parameters
    def validate_params(self) -> None:
        super().validate_params()
        if self.min_speakers > self.max_speakers:
            raise ParameterError(f"min_speakers ({self.min_speakers}) must not be above max_speakers "
                                 f"({self.max_speakers}) in SpeakersProcessor.")
        if self.n_speakers is not None and not self.min_speakers <= self.n_speakers <= self.max_speakers:
            raise ParameterError(f"n_speakers ({self.n_speakers}) must lie between min_speakers ({self.min_speakers}) "
                                 f"and max_speakers ({self.max_speakers}) in SpeakersProcessor.")
        if self.target is not None:
            if not isinstance(self.target, (str, Path)) or not str(self.target):
                raise ParameterError(f"The 'target' parameter of SpeakersProcessor must be 'first', 'longest', a "
                                     f"speaker label such as 'S2', or the path of a voice sample. Got {self.target!r}.")
            text = str(self.target)
            if not self._target_rule() and not Path(text).is_file():
                raise ParameterError(f"The 'target' parameter of SpeakersProcessor is {text!r}: not 'first', "
                                     "'longest', a label such as 'S2' or a speaker's name in the reference RTTM, and "
                                     "no such voice file exists. Give one of those, or the path of a recording of "
                                     "the target person alone.")
        if self.encoder_model is not None and not isinstance(self.encoder_model, (str, Path)):
            raise ParameterError(f"The 'encoder_model' parameter of SpeakersProcessor must be a path or None. Got "
                                 f"{self.encoder_model!r}.")

    def _target_rule(self) -> str | None:
        """The target as a rule, label or speaker name (``None`` when it is a voice file, or no target)."""
        text = str(self.target) if self.target is not None else ""
        if text in TARGET_RULES or _LABEL.fullmatch(text):
            return text
        looks_like_file = Path(text).suffix.lower() in _MEDIA_SUFFIXES or "/" in text or "\\" in text
        return None if not text or Path(text).is_file() or looks_like_file else text

    # ------------------------------------------------------------------ recording
    def skip_reason(self, recording: Recording) -> str | None:
        """A video without an audio track has no voices."""
        return no_audio_reason(recording)

    def _reference(self, recording: Recording) -> Path | None:
        return None if self.source == "diarize" else find_rttm(recording.path)

    def companion_files(self, recording: Recording) -> dict[str, Path]:
        """The reference RTTM beside the recording, the target's voice sample, and the speaker encoder's
        weights file, when used."""
        files: dict[str, Path] = {}
        reference = self._reference(recording)
        if reference is not None:
            files["rttm"] = reference
        voice = self.target is not None and not self._target_rule() and Path(self.target).is_file()
        if voice:
            files["target_voice"] = Path(self.target)
        if reference is None or voice:  # the speaker encoder's weights: a new file recomputes the result
            files["encoder_model"] = locate_model(self.encoder_model)[0]
        return files

    def output_files(self, result: ProcessorResult) -> dict[str, str]:
        """``speakers.rttm``: the speaker segments of the result (the file id is the recording's stem; the speakers
        of a reference RTTM keep their names there)."""
        table = result.timeseries
        names = speaker_names(result.summary)
        segments = pd.DataFrame({"start_s": table["time_s"], "end_s": table["end_s"],
                                 "speaker": table["speaker"].map(lambda label: names.get(label, label))})
        stem = Path(result.provenance.get("input_path", "recording")).stem or "recording"
        return {"speakers.rttm": format_rttm(segments, file_id=stem)}

    @classmethod
    def report_events(cls, result: ProcessorResult) -> pd.DataFrame:
        """The floor turns (label ``"speaker turn"``: a speaker's first start to last end before another takes
        the floor, text the speaker, with their name from a reference RTTM), and the back-channels and
        overlapping speech that do not take the floor (labels ``"backchannel"``, ``"overlap"``).

        Parameters
        ----------
        result : ProcessorResult
            A speakers result (read back from disk or not).

        Returns
        -------
        pandas.DataFrame
            The events (see :meth:`bitbox.Processor.report_events`).
        """
        table = result.timeseries
        needed = {"time_s", "end_s", "speaker", "turn", "turn_type"}
        if table is None or table.empty or not needed <= set(table.columns):
            return events_frame()
        names = speaker_names(result.summary)

        def who(label: str) -> str:
            return f"{label} ({names[label]})" if label in names else label

        turns = floor_turns(table.rename(columns={"time_s": "start_s"}))
        aside = table[table["turn_type"].isin(["backchannel", "overlap"])]
        return events_frame([*(t.start_s for t in turns), *aside["time_s"]],
                            [*(t.duration_s for t in turns), *(aside["end_s"] - aside["time_s"])],
                            ["speaker turn"] * len(turns) + aside["turn_type"].astype(str).tolist(),
                            [*(who(t.speaker) for t in turns), *(who(str(s)) for s in aside["speaker"])])

    @classmethod
    def plot_result(cls, result: ProcessorResult):
        """Who spoke when: one lane per speaker (back-channels lighter, overlapped speech hatched), and
        each speaker's talk time."""
        import matplotlib.pyplot as plt

        table, summary = result.timeseries, result.summary
        speakers = sorted(table["speaker"].unique(), key=label_order) if len(table) else []
        colours = dict(zip(speakers, plt.get_cmap("tab10").colors))
        fig, (lanes, bars) = plt.subplots(1, 2, figsize=(10, 0.5 * max(len(speakers), 1) + 1.6),
                                          gridspec_kw={"width_ratios": [5, 1]}, sharey=True)
        for row in table.itertuples():
            level = speakers.index(row.speaker)
            light = row.turn_type in ("backchannel", "overlap")
            lanes.barh(level, row.end_s - row.time_s, left=row.time_s, height=0.6, color=colours[row.speaker],
                       alpha=0.45 if light else 0.9, edgecolor="none")
        starts, ends, who = table["time_s"].to_numpy(), table["end_s"].to_numpy(), table["speaker"].to_numpy()
        for i in range(len(table)):  # overlapped speech: a hatched band across the lanes
            later = np.flatnonzero((starts > starts[i] - 1e-9) & (starts < ends[i]) & (who != who[i]))
            for j in later[later != i]:
                lanes.axvspan(starts[j], min(ends[i], ends[j]), color="0.3", alpha=0.25, hatch="///", lw=0)
        target, names = summary.get("target_speaker") or "", speaker_names(summary)
        labels = [s + (f" ({names[s]})" if s in names else "") + (" - target" if s == target else "") for s in speakers]
        lanes.set_yticks(range(len(speakers)), labels, fontsize=8)
        lanes.invert_yaxis()
        lanes.set_xlabel("time (s)", fontsize=8)
        lanes.tick_params(labelsize=8)
        talk = [summary.get(f"{s}_talk_time_s", 0.0) for s in speakers]
        bars.barh(range(len(speakers)), talk, color=[colours[s] for s in speakers])
        bars.set_xlabel("talk time (s)", fontsize=8)
        bars.tick_params(labelsize=8)
        latency = summary.get("latency_median_s", math.nan)
        fig.suptitle(f"speakers: {int(summary.get('n_speakers', 0))} found ({summary.get('source', '')}), "
                     f"{summary.get('switches_per_min', math.nan):.1f} switches/min, median latency "
                     f"{latency:.2f} s, overlap {summary.get('overlap_time_s', 0.0):.1f} s", fontsize=9)
        fig.tight_layout()
        return fig

    # ------------------------------------------------------------------ running
    def compute(self, recording: Recording, sink: TimeSeriesSink,
                progress: ProgressCallback | None = None) -> dict[str, Any]:
        block_s = None if self.block_s is None else float(self.block_s)

        def blocks16():
            return audio_blocks_16k(recording.path, block_s=block_s)

        def blocks():
            return audio_blocks(recording.path, block_s=block_s, margin_s=0.0)

        reference = self._reference(recording)
        diarizing = reference is None and self.source != "rttm"
        scan = scan_audio(blocks16, vad=diarizing)  # first pass: level, duration (and voice activity)
        _check(scan, recording.path)
        sr = scan.sr
        duration = scan.n_native / sr
        notes: list[str] = []
        encoder = None
        if self.source == "rttm" and reference is None:
            raise RecordingError(recording.path, "has no reference RTTM beside it (looked for "
                                 f"{recording.path.with_suffix('.rttm').name})",
                                 "Put the annotation next to the recording, or use source='auto'")
        if reference is not None:
            segments = read_rttm(reference)
            file_id = segments.attrs.get("file_id", "")
            if file_id and file_id != recording.path.stem:
                notes.append(f"the reference RTTM {reference.name} names the recording {file_id!r}, not "
                             f"{recording.path.stem!r}: check that it is this recording's annotation")
            if segments["end_s"].max() > duration + 0.5:
                raise MeasurementError(recording.path, f"its reference RTTM {reference.name} has speech up to "
                                       f"{segments['end_s'].max():.2f} s, but the recording lasts {duration:.2f} s",
                                       "Check that the RTTM belongs to this recording (same stem), or use "
                                       "source='diarize'")
            segments, names = label_by_first_speech(merge_same_speaker(segments, min_pause_s=float(self.min_pause_s)))
            labels = "; ".join(f"{new}={old}" for new, old in names.items())
            source = f"reference RTTM {reference.name}"
            notes.append(f"speaker turns read from the reference RTTM {reference.name} (no diarization ran)")
            centroids = None
            reason = f"the speakers of the reference RTTM {reference.name}"
        else:
            encoder = SpeakerEncoder.from_path(self.encoder_model)
            result = diarize_blocks(blocks16, scan=scan, encoder=encoder, n_speakers=self.n_speakers,
                             min_speakers=int(self.min_speakers), max_speakers=int(self.max_speakers),
                             vad_threshold=float(self.vad_threshold), min_speech_s=float(self.min_speech_s),
                             window_s=float(self.window_s), step_s=float(self.step_s),
                             min_pause_s=float(self.min_pause_s), progress=progress, path=recording.path)
            if result.n_speakers == 0:
                raise MeasurementError(recording.path, "no speech was detected (the voice activity detector found "
                                       "no speech region)", "Check that the recording holds speech and is not "
                                       "only noise or music")
            segments, labels, source, centroids, names = result.segments, "", "diarization", result.centroids, {}
            reason = result.how
            notes.extend(result.notes)
        annotated = annotate_turns(segments, backchannel_max_s=float(self.backchannel_max_s))
        speakers = sorted(annotated["speaker"].unique(), key=label_order)
        summary: dict[str, Any] = {"n_speakers": float(len(speakers)), **turn_taking_summary(annotated)}
        per_speaker = self._speakers_measures(annotated, speakers, blocks, scan, block_s, notes)
        for speaker, values in per_speaker.items():
            summary.update({f"{speaker}_{key}": value for key, value in values.items()})
        target, similarity = self._choose_target(per_speaker, annotated, blocks16, scan, centroids, encoder, notes,
                                                 names)
        summary["target_speaker"] = target
        summary["target_similarity"] = similarity
        for key, *_ in PER_SPEAKER:
            summary[f"target_{key}"] = per_speaker[target][key] if target else math.nan
        summary.update({"source": source, "n_speakers_reason": reason, "speaker_labels": labels})
        if len(speakers) > 1 and summary["switch_count"] == 0:
            notes.append("latency_median_s, latency_iqr_s and gap_median_s are NaN: the floor never changed hands "
                         "(the other speakers' speech was all back-channels or overlaps)")
        elif summary["switch_count"] > 0 and math.isnan(summary["gap_median_s"]):
            notes.append("gap_median_s is NaN: every change of speaker overlapped the previous speaker (no silent "
                         "gap between speakers)")
        if len(speakers) == 1:
            advice = ("nothing to fix" if reference is not None or self.n_speakers == 1 else
                      "if more people speak, set n_speakers")
            empty = [k for k, v in summary.items() if isinstance(v, float) and math.isnan(v)
                     and not k.startswith(("target_", f"{speakers[0]}_"))]
            notes.append(f"{', '.join(empty) or 'the turn-taking measures'} {'is' if len(empty) == 1 else 'are'} NaN: "
                         f"one speaker, so there is no turn-taking to measure - {advice}")
        summary["notes"] = join_notes(notes)
        for key, value in summary.items():  # times to the microsecond: no float noise from sums of segments
            if key.endswith("_s") and isinstance(value, float) and math.isfinite(value):
                summary[key] = round(value, 6)
        sink.append(pd.DataFrame({
            "time_s": annotated["start_s"].to_numpy(float), "end_s": annotated["end_s"].to_numpy(float),
            "speaker": annotated["speaker"].astype(str).to_numpy(), "overlap": annotated["overlap"].to_numpy(float),
            "turn": annotated["turn"].to_numpy(np.int64), "turn_type": annotated["turn_type"].astype(str).to_numpy(),
            "latency_s": annotated["latency_s"].to_numpy(float)}))
        logger.debug("speakers: %d speakers, %d segments (%s)", len(speakers), len(annotated), source)
        return {key: summary[key] for key in (*CONVERSATION_KEYS, *summary) if key in summary}

    def _speakers_measures(self, annotated: pd.DataFrame, speakers: list[str], blocks, scan: AudioScan,
                           block_s: float | None, notes: list[str]) -> dict[str, dict[str, Any]]:
        """The :data:`~.catalog.PER_SPEAKER` measures of every speaker (a note names those left NaN, and why).

        The speech rate's time is the speaker's own (not overlapped) speech plus the pauses inside
        their floor turns: the time its syllables were counted in, with the pauses that belong to it.
        The voice measures of all speakers come from passes over the audio read block by block
        (:func:`~.acoustics.speaker_voices`).
        """
        pieces = {s: own_speech(annotated, s) for s in speakers}
        turns = floor_turns(annotated)
        rate_times = {s: sum(b - a for a, b in pieces[s]) + sum(t.duration_s - t.speech_s for t in turns
                                                                if t.speaker == s) for s in speakers}
        voices = speaker_voices(blocks, pieces, rate_times, n_samples=scan.n_native, sr=scan.sr, block_s=block_s)
        return {s: self._speaker_measures(annotated, s, voices[s], sum(b - a for a, b in pieces[s]), notes)
                for s in speakers}

    def _speaker_measures(self, annotated: pd.DataFrame, speaker: str, voice: dict[str, Any], own: float,
                          notes: list[str]) -> dict[str, Any]:
        """One speaker's measures from their voice measures (``own``: their own speech, s)."""
        turns = speaker_turn_summary(annotated, speaker)
        values = {**turns, **voice}
        out = {key: values[key] for key, *_ in PER_SPEAKER}
        reasons = {"turn_mean_s": "they never hold the floor (only back-channels or speech over another's)",
                   "speech_rate_syll_per_s": "none of their speech is free of another speaker's",
                   "f0_median_hz": f"fewer than 10 voiced 10-ms frames in their own speech ({own:.1f} s)",
                   "f0_range_semitones": f"fewer than 10 voiced 10-ms frames in their own speech ({own:.1f} s)"}
        for key, reason in reasons.items():
            if math.isnan(out[key]):
                notes.append(f"{speaker}_{key} is NaN: {reason}")
        return out

    def _choose_target(self, per_speaker: dict[str, dict], annotated: pd.DataFrame, blocks16, scan: AudioScan,
                       centroids: np.ndarray | None, encoder: SpeakerEncoder | None, notes: list[str],
                       names: dict[str, str]) -> tuple[str, float]:
        """The target speaker's label ('' for none) and the voice sample's similarity to them (``names``: the
        reference RTTM's name of each label)."""
        if self.target is None:
            return "", math.nan
        rule = self._target_rule()
        speakers = list(per_speaker)
        if rule == "first":
            return speakers[0], math.nan
        if rule == "longest":
            return max(speakers, key=lambda s: (per_speaker[s]["talk_time_s"], -int(s[1:]))), math.nan
        if rule is not None:
            by_name = {name: label for label, name in names.items()}
            if rule in per_speaker or rule in by_name:  # a label first, else a name in the reference RTTM
                return (rule if rule in per_speaker else by_name[rule]), math.nan
            known = ", ".join(f"{label} ({names[label]})" if label in names else label for label in speakers)
            notes.append(f"target_* are NaN: target {rule} was not found: {len(speakers)} speaker(s): {known} - "
                         "choose one of them")
            return "", math.nan
        # A voice sample of the target.
        encoder = encoder or SpeakerEncoder.from_path(self.encoder_model)
        voice = Path(self.target)
        if centroids is None:  # a reference RTTM: the speakers' voices from their own speech
            centroids = self._recording_voices(encoder, blocks16, scan, [own_speech(annotated, s) for s in speakers])
            silent = [s for s, c in zip(speakers, centroids) if not c.any()]
            if silent:
                notes.append(f"{', '.join(silent)} never speak(s) alone in the reference RTTM, so their voice cannot "
                             "be compared with the target's voice sample")
        sample, sample_sr = read_audio(voice)
        check_audio(sample, sample_sr, voice, max_clipped_fraction=1.0)
        target = self._voice_embedding(encoder, sample, sample_sr, [(0.0, len(sample) / sample_sr)])
        similarity = centroids @ target
        best = int(np.argmax(similarity))
        if len(speakers) > 1:
            runner_up = float(np.sort(similarity)[-2])
            if similarity[best] - runner_up < 0.05:
                notes.append(f"the target voice {voice.name} is about as similar to {speakers[best]} "
                             f"({similarity[best]:.2f}) as to another speaker ({runner_up:.2f}): the choice of "
                             "target is uncertain; give a longer, cleaner voice sample or name the speaker (e.g. "
                             f"target='{speakers[best]}')")
        return speakers[best], float(similarity[best])

    def _voice_embedding(self, encoder: SpeakerEncoder, samples: np.ndarray, sr: int,
                         pieces: list[tuple[float, float]]) -> np.ndarray:
        """One unit vector for a voice held in memory: the normalised mean of 1.5-s window embeddings over its
        speech."""
        from bitbox.audio import resample

        x = resample(np.asarray(samples, dtype=np.float32), sr, SAMPLE_RATE) if sr != SAMPLE_RATE else samples
        mel = mel_frames(np.asarray(x, dtype=np.float32), sr=SAMPLE_RATE)
        starts, lengths = _voice_windows(pieces, len(mel))
        if not len(starts):
            return np.zeros(256)
        return _unit_mean(encoder.embed(mel, starts=starts, lengths=lengths))

    def _recording_voices(self, encoder: SpeakerEncoder, blocks16, scan: AudioScan,
                          pieces: list[list[tuple[float, float]]]) -> np.ndarray:
        """:meth:`_voice_embedding` of each speaker's pieces of the recording, in one pass over its blocks."""
        windows = [_voice_windows(p, scan.n_frames) for p in pieces]
        emb = embed_windows(blocks16, encoder, np.concatenate([w[0] for w in windows]),
                            np.concatenate([w[1] for w in windows]), gain=scan.gain)
        out, at = np.zeros((len(pieces), 256)), 0
        for i, (starts, _) in enumerate(windows):
            if len(starts):
                out[i] = _unit_mean(emb[at:at + len(starts)])
            at += len(starts)
        return out


def _voice_windows(pieces: list[tuple[float, float]], n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """First frame and length of the 1.5-s windows (half overlapping) over a voice's pieces."""
    win = int(round(_VOICE_WINDOW_S / FRAME_S))
    starts, lengths = [], []
    for a, b in pieces:
        first, last = int(a / FRAME_S), min(n_frames, int(b / FRAME_S))
        if last - first <= win:
            if last - first > 0:
                starts.append(first), lengths.append(last - first)
            continue
        for s in range(first, last - win + 1, win // 2):
            starts.append(s), lengths.append(win)
    return np.asarray(starts, dtype=np.int64), np.asarray(lengths, dtype=np.int64)


def _unit_mean(embeddings: np.ndarray) -> np.ndarray:
    """The normalised mean of embeddings."""
    mean = embeddings.astype(np.float64).mean(axis=0)
    return mean / max(np.linalg.norm(mean), 1e-12)


def _check(scan: AudioScan, path: Path) -> None:
    """The checks of :func:`check_audio` (too short, silent), from the first pass's counts."""
    checks = AudioStats(scan.sr)
    checks.n_samples, checks.peak, checks.n_clipped = scan.n_native, scan.peak, scan.clipped
    checks.check(path, max_clipped_fraction=1.0)
