"""Conversations with exact known truth: who speaks when, gaps, overlaps, back-channels.

Builds multi-speaker recordings (16 kHz mono) from synthesised and real voices and returns,
with the samples, the truth the ``speakers`` processor is checked against:

- **Voices** (:class:`Voice`): flite's ``awb``, ``rms``, ``slt`` (CMU ARCTIC voices of three real
  speakers) and ``kal16``; festival's ``ked`` diphone voice; espeak-ng variants (formant
  synthesis with other pitch, speed and voice variant); and four **real speakers** recorded
  in Debian packages: the LibriVox reader of pocketsphinx's test data (``librivox``), the
  pocketsphinx ``goforward``/``numbers``/``something`` speaker (``an4_man``), the ``cards``
  speaker (``cards_man``) and the woman naming ALSA's channels (``alsa_woman``).
- **Speech extent**: every utterance (synthesised, or a clip of a recording) is cut to its
  speech: on 10-ms frames, level :math:`L_k = 10 \\log_{10}(\\overline{x^2}_k / \\max_j
  \\overline{x^2}_j)` dB; leading and trailing frames below the threshold are removed, so the
  utterance starts and ends with speech. Inside it, runs of frames below the threshold of at
  least ``min_pause_s`` (0.25 s) are pauses: the utterance's truth segments are the speech
  between them (what an RTTM line holds). The threshold is -40 dB for synthesised speech; for
  a real recording it is ``max(-40, floor + 15)`` dB with ``floor`` the 5th percentile of the
  frame levels, because the recordings' background noise lies at -30 to -46 dB (LibriVox,
  pocketsphinx) and a -40-dB threshold would count all of it, lead-in included, as speech.
- **Dialogue** (:class:`Dialogue`): a list of :class:`Turn` (speaker, text or clip, offset).
  A turn starts ``offset_s`` after the end of everything before it (the latest end of the
  previous turns, i.e. the previous turn's end except after a back-channel): positive = gap,
  negative = overlap. Times are whole samples, so gaps and overlaps are exact to 1/16000 s.
- **Mixing**: each utterance is scaled to the same speech level (RMS of its frames above
  the threshold = -20 dBFS), utterances are added (overlaps sum), white noise (seeded) is added at
  ``snr_db`` below the mean speech power, then the whole is peak-normalised to -3 dBFS.
  Same spec, same samples, same WAV bytes.
- **Truth** (:class:`BuiltDialogue`): the segments table (``start_s``, ``end_s``,
  ``speaker``) and a JSON-able dict: per turn speaker, start, end, text or clip and kind
  (``turn``, ``interruption``: starts inside another speaker's turn and ends after it,
  ``backchannel``: at most 1 s, inside another speaker's turn); per speaker talk time (union
  of its segments), turns and segments; response latencies between consecutive floor turns
  (not back-channels) of different speakers (next start - previous end, negative for an
  interruption); overlaps (time where two or more speakers speak).

:data:`SCENARIOS` holds ready dialogues (interview, overlaps and back-channels, short turns,
three speakers, monologue, real voices, long ones made by :func:`long_dialogue`).

Run ``python tools/dialogues.py OUT_DIR [--scenario NAME ...]`` to write ``NAME.wav``
(16-bit PCM), ``NAME.truth.rttm`` and ``NAME.truth.json`` for each scenario.

Needs the Debian packages ``flite``, ``festival`` with ``festvox-kdlpc16k`` (the ``ked`` voice),
``espeak-ng`` and, for the real voices, ``pocketsphinx-testdata`` and ``alsa-utils`` (its sounds).
Synthesised utterances are cached in memory per (voice, text) (:func:`clear_cache`).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from bitbox.errors import ParameterError
from bitbox.log import logger
from bitbox.processors.rttm import segments_table, write_rttm

__all__ = ["SR", "TRIM_DB", "FRAME_S", "MIN_PAUSE_S", "BACKCHANNEL_MAX_S", "FLOOR_MARGIN_DB", "Voice", "Turn",
           "Dialogue", "BuiltDialogue", "VOICES", "SCENARIOS", "REAL_CLIPS", "utterance", "speech_extent",
           "speech_runs", "speech_threshold_db", "build", "long_dialogue", "clear_cache", "write_dialogue",
           "have_tools", "main"]

#: Sample rate of every dialogue (Hz).
SR = 16000
#: Speech threshold (dB re the utterance's loudest 10-ms frame).
TRIM_DB = -40.0
#: Frame length of the speech-extent analysis (s).
FRAME_S = 0.010
#: Shortest silence inside an utterance that splits it into two truth segments (s).
MIN_PAUSE_S = 0.25
#: Longest back-channel (s).
BACKCHANNEL_MAX_S = 1.0
#: Real recordings: the speech threshold is at least this far above the noise floor (dB).
FLOOR_MARGIN_DB = 15.0
#: Real recordings: the noise floor is this percentile of the 10-ms frame levels.
FLOOR_PERCENTILE = 5.0
#: Speech RMS every utterance is scaled to before mixing (dBFS).
SPEECH_DBFS = -20.0
#: Peak level of the finished mix (dBFS).
PEAK_DBFS = -3.0

_FRAME = int(round(FRAME_S * SR))
_PSX = Path("/usr/share/pocketsphinx/test/data")
_ALSA = Path("/usr/share/sounds/alsa")


# ---------------------------------------------------------------------------- voices
@dataclass(frozen=True)
class Voice:
    """A voice that says a text, or a real speaker whose recordings are used as clips.

    Attributes
    ----------
    name : str
        Short name (key of :data:`VOICES`).
    engine : str
        ``"flite"`` (options: ``-voice NAME`` ...), ``"festival"`` (options: the voice's Scheme
        function, e.g. ``"voice_ked_diphone"``), ``"espeak"`` (options: espeak-ng arguments,
        e.g. ``-v en-us+f3 -p 60``) or ``"recording"`` (a real speaker: turns give a ``clip``).
    options : tuple of str
        Engine arguments.
    description : str
        Who the voice is.
    """

    name: str
    engine: str
    options: tuple[str, ...] = ()
    description: str = ""


VOICES: dict[str, Voice] = {v.name: v for v in (
    Voice("awb", "flite", ("-voice", "awb"), "flite CMU ARCTIC awb: Scottish-English man (real speaker's recordings)"),
    Voice("rms", "flite", ("-voice", "rms"), "flite CMU ARCTIC rms: US-English man (real speaker's recordings)"),
    Voice("slt", "flite", ("-voice", "slt"), "flite CMU ARCTIC slt: US-English woman (real speaker's recordings)"),
    Voice("kal16", "flite", ("-voice", "kal16"), "flite kal16 diphone voice: US-English man"),
    Voice("ked", "festival", ("voice_ked_diphone",), "festival ked diphone voice: US-English man"),
    Voice("espeak_f3", "espeak", ("-v", "en-us+f3", "-s", "160", "-p", "60"),
          "espeak-ng en-us, female variant f3, pitch 60, 160 words/min"),
    Voice("espeak_m3", "espeak", ("-v", "en-us+m3", "-s", "150", "-p", "30"),
          "espeak-ng en-us, male variant m3, pitch 30, 150 words/min"),
    Voice("espeak_f5", "espeak", ("-v", "en-gb+f5", "-s", "175", "-p", "75"),
          "espeak-ng en-gb, female variant f5, pitch 75, 175 words/min"),
    Voice("librivox", "recording", (), "LibriVox reader of pocketsphinx's test data (a man, median F0 ~95 Hz)"),
    Voice("an4_man", "recording", (), "pocketsphinx goforward/numbers/something speaker (a man, median F0 ~110 Hz)"),
    Voice("cards_man", "recording", (), "pocketsphinx cards speaker (a man, median F0 ~100 Hz)"),
    Voice("alsa_woman", "recording", (), "woman naming ALSA's channels (alsa-utils sounds, median F0 ~190 Hz)"),
)}

#: Real recordings of each real speaker (paths on Debian).
REAL_CLIPS: dict[str, tuple[str, ...]] = {
    "librivox": tuple(str(_PSX / "librivox" / f"sense_and_sensibility_01_austen_64kb-0{n}.wav")
                      for n in (870, 880, 890, 920, 930)),
    "an4_man": tuple(str(_PSX / f"{n}.raw") for n in ("goforward", "numbers", "something")),
    "cards_man": tuple(str(_PSX / "cards" / f"00{n}.wav") for n in range(1, 6)),
    "alsa_woman": tuple(str(_ALSA / f"{n}.wav") for n in ("Front_Left", "Front_Right", "Front_Center", "Rear_Left",
                                                         "Rear_Right", "Rear_Center", "Side_Left", "Side_Right")),
}


def have_tools(*, real: bool = False) -> bool:
    """Whether flite, festival's text2wave and espeak-ng are installed (and, with ``real``, the real clips)."""
    tools = all(shutil.which(t) for t in ("flite", "festival", "espeak-ng"))
    return tools and (not real or all(Path(p).is_file() for clips in REAL_CLIPS.values() for p in clips))


def _resample(samples: np.ndarray, sr: int) -> np.ndarray:
    if sr == SR:
        return samples.astype(np.float32)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(SR, sr)
    return resample_poly(samples.astype(np.float64), SR // g, sr // g).astype(np.float32)


def _read_audio(path: str | Path) -> np.ndarray:
    """Mono float32 samples at 16 kHz of a WAV file or a 16-kHz int16 little-endian .raw file."""
    path = Path(path)
    if path.suffix.lower() == ".raw":
        return np.fromfile(path, dtype="<i2").astype(np.float32) / 32768.0
    import soundfile as sf

    samples, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return _resample(samples.mean(axis=1), int(sr))


def _run(command: list[str], **kwargs: Any) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, **kwargs)
    except FileNotFoundError:
        raise RuntimeError(f"{command[0]} is not installed (Debian: apt-get install flite festival espeak-ng)") \
            from None
    except subprocess.CalledProcessError as err:
        raise RuntimeError(f"{' '.join(command[:3])} ... failed: {err.stderr.decode(errors='replace')[-300:]}") \
            from None


def _synth_one(voice: Voice, text: str, out: Path) -> None:
    if voice.engine == "flite":
        _run(["flite", *voice.options, "-t", text, "-o", str(out)])
    elif voice.engine == "espeak":
        _run(["espeak-ng", *voice.options, "-w", str(out), text])
    elif voice.engine == "festival":
        _run(["text2wave", "-eval", f"({voice.options[0]})", "-o", str(out)], input=text.encode())
    else:
        raise ParameterError(f"Voice {voice.name!r} has engine {voice.engine!r}; it cannot say a text "
                             "(give a clip for a recording voice).")


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _festival_many(voice: Voice, texts: list[str], folder: Path) -> list[Path]:
    """Synthesise several texts in one festival process (its start-up takes ~0.25 s)."""
    outs = [folder / f"festival_{i}.wav" for i in range(len(texts))]
    script = [f"({voice.options[0]})"]
    script += [f"(utt.save.wave (utt.synth (Utterance Text {_scheme_string(t)})) {_scheme_string(str(o))} 'riff)"
               for t, o in zip(texts, outs)]
    (folder / "script.scm").write_text("\n".join(script) + "\n", encoding="utf-8")
    _run(["festival", "--batch", str(folder / "script.scm")])
    return outs


# ---------------------------------------------------------------------------- speech extent
def _frame_levels(samples: np.ndarray) -> np.ndarray:
    """Level (dB re the loudest frame) of each whole 10-ms frame."""
    n = len(samples) // _FRAME
    power = np.mean(samples[: n * _FRAME].astype(np.float64).reshape(n, _FRAME) ** 2, axis=1)
    peak = power.max() if n else 0.0
    if peak <= 0:
        return np.full(n, -np.inf)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(power / peak)


def speech_extent(samples: np.ndarray, *, threshold_db: float = TRIM_DB) -> tuple[int, int]:
    """Sample range ``[first, stop)`` from the first to the last 10-ms frame at or above ``threshold_db``.

    Frames are ``samples[k*160:(k+1)*160]`` (16 kHz); frame level is
    ``10 log10(mean(x^2) / max_k mean(x^2))`` dB.

    Raises
    ------
    ParameterError
        No frame reaches the threshold (silence, or shorter than one frame).
    """
    loud = np.flatnonzero(_frame_levels(samples) >= threshold_db)
    if not len(loud):
        raise ParameterError("The utterance holds no speech (no 10-ms frame above the threshold).")
    return int(loud[0]) * _FRAME, (int(loud[-1]) + 1) * _FRAME


def speech_runs(samples: np.ndarray, *, threshold_db: float = TRIM_DB, min_pause_s: float = MIN_PAUSE_S
                ) -> list[tuple[int, int]]:
    """Speech runs ``[(first, stop), ...]`` (samples) of an utterance: frames at or above ``threshold_db``,
    split where at least ``min_pause_s`` of frames below it lie between (shorter pauses are kept inside)."""
    loud = _frame_levels(samples) >= threshold_db
    idx = np.flatnonzero(loud)
    if not len(idx):
        return []
    min_gap = int(round(min_pause_s / FRAME_S))
    breaks = np.flatnonzero(np.diff(idx) - 1 >= min_gap)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]]) + 1
    return [(int(a) * _FRAME, int(b) * _FRAME) for a, b in zip(starts, ends)]


def speech_threshold_db(samples: np.ndarray, *, recording: bool = False) -> float:
    """The speech threshold of an utterance (dB re its loudest 10-ms frame).

    Synthesised speech: :data:`TRIM_DB` (-40 dB; its silences are near digital zero). A real
    recording has a background-noise floor, often above -40 dB (LibriVox clips: -30 to -39 dB;
    the pocketsphinx and ALSA ones: -36 to -75 dB), so its threshold is
    ``max(-40, floor + 15)`` dB, ``floor`` being the 5th percentile of its frame levels.
    """
    if not recording:
        return TRIM_DB
    levels = _frame_levels(samples)
    levels = levels[np.isfinite(levels)]
    if not len(levels):
        return TRIM_DB
    return float(max(TRIM_DB, np.percentile(levels, FLOOR_PERCENTILE) + FLOOR_MARGIN_DB))


@dataclass(frozen=True)
class _Prepared:
    samples: np.ndarray  # cut to the speech extent, scaled to SPEECH_DBFS
    runs: tuple[tuple[int, int], ...]  # speech runs (samples within ``samples``)
    threshold_db: float


def _prepare(samples: np.ndarray, *, recording: bool = False) -> _Prepared:
    """Cut to the speech extent, find the speech runs, scale the speech frames' RMS to SPEECH_DBFS."""
    threshold = speech_threshold_db(samples, recording=recording)
    first, stop = speech_extent(samples, threshold_db=threshold)
    cut = samples[first:stop].astype(np.float64)  # starts on a frame boundary: same frames, same peak
    levels = _frame_levels(cut)
    frames = cut[: len(levels) * _FRAME].reshape(len(levels), _FRAME)[levels >= threshold]
    rms = float(np.sqrt(np.mean(frames ** 2)))
    scaled = (cut * (10 ** (SPEECH_DBFS / 20) / rms)).astype(np.float32)
    return _Prepared(scaled, tuple(speech_runs(cut, threshold_db=threshold)), threshold)


_CACHE: dict[tuple[Voice, str], _Prepared] = {}


def clear_cache() -> None:
    """Forget the synthesised utterances and clips kept in memory."""
    _CACHE.clear()


def _prefetch(pairs: Iterable[tuple[Voice, str]]) -> None:
    """Synthesise the festival utterances that are not cached yet, one festival process per voice."""
    todo: dict[Voice, list[str]] = {}
    for voice, text in pairs:
        if voice.engine == "festival" and (voice, text) not in _CACHE and text not in todo.get(voice, []):
            if not text.strip():
                raise ParameterError(f"A turn of voice {voice.name!r} has no text.")
            todo.setdefault(voice, []).append(text)
    for voice, texts in todo.items():
        with tempfile.TemporaryDirectory(prefix="bitbox-dialogue-") as tmp:
            for text, out in zip(texts, _festival_many(voice, texts, Path(tmp))):
                _CACHE[(voice, text)] = _prepare(_read_audio(out))


def _prepared(voice: Voice | str, text: str = "", *, clip: str = "") -> _Prepared:
    voice = VOICES[voice] if isinstance(voice, str) else voice
    key = (voice, f"clip:{clip}" if voice.engine == "recording" else text)
    if key not in _CACHE:
        if voice.engine == "recording":
            if not clip:
                raise ParameterError(f"Voice {voice.name!r} is a real speaker: give the turn a clip (an audio file).")
            _CACHE[key] = _prepare(_read_audio(clip), recording=True)
        elif voice.engine == "festival":
            _prefetch([(voice, text)])
        else:
            if not text.strip():
                raise ParameterError(f"A turn of voice {voice.name!r} has no text.")
            with tempfile.TemporaryDirectory(prefix="bitbox-dialogue-") as tmp:
                out = Path(tmp) / "utterance.wav"
                _synth_one(voice, text, out)
                _CACHE[key] = _prepare(_read_audio(out))
    return _CACHE[key]


def utterance(voice: Voice | str, text: str = "", *, clip: str = "") -> np.ndarray:
    """One utterance at 16 kHz, cut to its speech and scaled to the common speech level (cached).

    Parameters
    ----------
    voice : Voice or str
        The voice (or its name in :data:`VOICES`).
    text : str
        What a synthesised voice says.
    clip : str
        For a ``recording`` voice: the audio file (WAV, or 16-kHz int16 ``.raw``).

    Returns
    -------
    numpy.ndarray
        float32 samples; the first and last 10-ms frames are speech (at or above
        :func:`speech_threshold_db`).
    """
    return _prepared(voice, text, clip=clip).samples


# ---------------------------------------------------------------------------- dialogues
@dataclass(frozen=True)
class Turn:
    """One turn of a dialogue.

    Attributes
    ----------
    speaker : str
        Speaker label (a key of the dialogue's ``voices``); it is the truth's label.
    text : str
        What a synthesised voice says.
    clip : str
        For a real speaker: the audio file the turn plays (cut to its speech).
    offset_s : float
        Start relative to the end of everything before (the latest end of the previous turns):
        positive = gap, negative = overlap. For the first turn: after ``lead_s``.
    """

    speaker: str
    text: str = ""
    _: KW_ONLY
    clip: str = ""
    offset_s: float = 0.5

    def __post_init__(self) -> None:
        if not isinstance(self.clip, str) or not isinstance(self.text, str):
            raise ParameterError(f"A turn's text and clip are strings; got text={self.text!r}, clip={self.clip!r}.")
        if not (isinstance(self.offset_s, (int, float)) and np.isfinite(self.offset_s)):
            raise ParameterError(f"A turn's offset_s is a number of seconds; got {self.offset_s!r}.")


@dataclass(frozen=True)
class Dialogue:
    """A conversation to build: voices, turns and mixing settings.

    Attributes
    ----------
    name : str
        Scenario name (file stem of its outputs).
    voices : dict
        ``{speaker label: voice name}`` (keys of :data:`VOICES`).
    turns : tuple of Turn
        In order of start.
    lead_s, tail_s : float
        Silence before the first and after the last turn (s).
    snr_db : float or None
        White-noise floor, dB below the mean speech power; None: none (digital silence).
    seed : int
        Seed of the noise.
    duration_s : float or None
        When set, turns that would end after ``duration_s - tail_s`` (and all after them) are
        left out and the recording is padded to exactly ``duration_s``.
    description : str
        What the scenario tests.
    """

    name: str
    voices: dict[str, str]
    turns: tuple[Turn, ...]
    lead_s: float = 0.5
    tail_s: float = 0.5
    snr_db: float | None = 40.0
    seed: int = 0
    duration_s: float | None = None
    description: str = ""


@dataclass(frozen=True)
class BuiltDialogue:
    """A built dialogue: samples and truth.

    Attributes
    ----------
    name : str
    samples : numpy.ndarray
        Mono float32 samples at :data:`SR`, peak -3 dBFS.
    sr : int
    segments : pandas.DataFrame
        Truth segments table (``start_s``, ``end_s``, ``speaker``).
    truth : dict
        JSON-able truth (see the module docstring).
    """

    name: str
    samples: np.ndarray
    sr: int
    segments: pd.DataFrame
    truth: dict[str, Any] = field(default_factory=dict)


def _place(dialogue: Dialogue) -> list[tuple[Turn, _Prepared, int]]:
    """(turn, prepared utterance, start sample) of each turn kept."""
    voices = {}
    for label, name in dialogue.voices.items():
        if name not in VOICES:
            raise ParameterError(f"Dialogue {dialogue.name!r}: unknown voice {name!r} for {label!r}; "
                                 f"choose one of {sorted(VOICES)}.")
        voices[label] = VOICES[name]
    for turn in dialogue.turns:
        if turn.speaker not in voices:
            raise ParameterError(f"Dialogue {dialogue.name!r}: turn of {turn.speaker!r}, who has no voice "
                                 f"(voices: {sorted(voices)}).")
    _prefetch((voices[t.speaker], t.text) for t in dialogue.turns)
    limit = None if dialogue.duration_s is None else int(round((dialogue.duration_s - dialogue.tail_s) * SR))
    placed, latest_end = [], int(round(dialogue.lead_s * SR))
    for i, turn in enumerate(dialogue.turns):
        prep = _prepared(voices[turn.speaker], turn.text, clip=turn.clip)
        audio = prep.samples
        start = latest_end + (int(round(turn.offset_s * SR)) if i else 0)
        if start < 0:
            raise ParameterError(f"Dialogue {dialogue.name!r}: turn {i} ({turn.speaker}) would start at "
                                 f"{start / SR:.2f} s, before the recording; make its offset less negative.")
        if limit is not None and start + len(audio) > limit:
            break
        placed.append((turn, prep, start))
        latest_end = max(latest_end, start + len(audio))
    if not placed:
        raise ParameterError(f"Dialogue {dialogue.name!r} holds no turn (or none fits in duration_s).")
    return placed


def _turn_kinds(spans: list[tuple[str, int, int]]) -> list[str]:
    """``turn``, ``interruption`` or ``backchannel`` of each (speaker, start, end) span (samples)."""
    kinds = []
    for i, (speaker, start, end) in enumerate(spans):
        others = [(s, e) for j, (who, s, e) in enumerate(spans) if j != i and who != speaker]
        if end - start <= BACKCHANNEL_MAX_S * SR and any(s <= start and end <= e for s, e in others):
            kinds.append("backchannel")
        elif any(s < start < e < end for s, e in others):
            kinds.append("interruption")
        else:
            kinds.append("turn")
    return kinds


def _overlaps(segments: pd.DataFrame) -> list[dict[str, Any]]:
    """Regions where two or more speakers speak, by a sweep over the segment boundaries (sample-exact)."""
    events: dict[int, list[tuple[int, str]]] = {}
    for start, end, speaker in segments.itertuples(index=False, name=None):
        events.setdefault(int(round(start * SR)), []).append((1, speaker))
        events.setdefault(int(round(end * SR)), []).append((-1, speaker))
    active: dict[str, int] = {}
    regions, opened = [], None
    for t in sorted(events):
        for step, speaker in events[t]:
            active[speaker] = active.get(speaker, 0) + step
        speaking = sorted(k for k, n in active.items() if n > 0)
        if len(speaking) >= 2 and opened is None:
            opened = (t, speaking)
        elif len(speaking) < 2 and opened is not None:
            regions.append({"start_s": opened[0] / SR, "end_s": t / SR, "duration_s": (t - opened[0]) / SR,
                            "speakers": opened[1]})
            opened = None
    return regions


def _union_s(segments: pd.DataFrame) -> float:
    """Total time (s) covered by the segments (overlapping ones counted once)."""
    total, reach = 0.0, -np.inf
    for start, end in sorted(zip(segments["start_s"], segments["end_s"])):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return float(total)


def _truth(dialogue: Dialogue, placed: list[tuple[Turn, _Prepared, int]], segments: pd.DataFrame,
           n_samples: int) -> dict[str, Any]:
    spans = [(turn.speaker, start, start + len(prep.samples)) for turn, prep, start in placed]
    kinds = _turn_kinds(spans)
    turns = []
    for i, ((turn, _, _), (speaker, start, end), kind) in enumerate(zip(placed, spans, kinds)):
        entry = {"index": i, "speaker": speaker, "start_s": start / SR, "end_s": end / SR,
                 "duration_s": (end - start) / SR, "offset_s": turn.offset_s if i else None, "kind": kind}
        entry.update({"clip": turn.clip} if turn.clip else {"text": turn.text})
        turns.append(entry)
    floor = [t for t in turns if t["kind"] != "backchannel"]
    latencies = [{"from_turn": a["index"], "to_turn": b["index"], "from_speaker": a["speaker"],
                  "to_speaker": b["speaker"], "latency_s": b["start_s"] - a["end_s"]}
                 for a, b in zip(floor, floor[1:]) if a["speaker"] != b["speaker"]]
    overlaps = _overlaps(segments)
    speakers = {}
    for label in dict.fromkeys(t["speaker"] for t in turns):
        own = segments[segments["speaker"] == label]
        speakers[label] = {"voice": dialogue.voices[label], "engine": VOICES[dialogue.voices[label]].engine,
                           "talk_time_s": _union_s(own),
                           "n_turns": sum(t["speaker"] == label for t in turns), "n_segments": int(len(own))}
    return {"name": dialogue.name, "description": dialogue.description, "sample_rate": SR,
            "duration_s": n_samples / SR, "n_speakers": len(speakers), "speakers": speakers,
            "n_turns": len(turns), "turns": turns, "latencies": latencies, "overlaps": overlaps,
            "n_overlaps": len(overlaps), "overlap_s": float(sum(o["duration_s"] for o in overlaps)),
            "n_interruptions": kinds.count("interruption"), "n_backchannels": kinds.count("backchannel"),
            "settings": {"trim_db": TRIM_DB, "frame_s": FRAME_S, "min_pause_s": MIN_PAUSE_S,
                         "speech_dbfs": SPEECH_DBFS, "peak_dbfs": PEAK_DBFS, "snr_db": dialogue.snr_db,
                         "seed": dialogue.seed, "lead_s": dialogue.lead_s, "tail_s": dialogue.tail_s}}


def build(dialogue: Dialogue) -> BuiltDialogue:
    """Build a dialogue: mix its turns and compute the truth.

    Returns
    -------
    BuiltDialogue
        Samples (16 kHz, float32, peak -3 dBFS), truth segments and truth dict.

    Raises
    ------
    ParameterError
        An unknown voice, a turn whose speaker has no voice, a turn starting before 0 s, or
        no turn.
    RuntimeError
        A synthesiser is missing or fails.
    """
    placed = _place(dialogue)
    end = max(start + len(prep.samples) for _, prep, start in placed)
    n_samples = end + int(round(dialogue.tail_s * SR))
    if dialogue.duration_s is not None:
        n_samples = max(n_samples, int(round(dialogue.duration_s * SR)))
    mix = np.zeros(n_samples, dtype=np.float64)
    rows = []
    for turn, prep, start in placed:
        mix[start:start + len(prep.samples)] += prep.samples
        rows += [((start + a) / SR, (start + b) / SR, turn.speaker) for a, b in prep.runs]
    segments = segments_table(rows)
    if dialogue.snr_db is not None:
        speech_power = 10 ** (SPEECH_DBFS / 10)  # every utterance's speech frames are at this mean power
        noise = np.random.default_rng(dialogue.seed).standard_normal(n_samples)
        mix += noise * np.sqrt(speech_power / 10 ** (dialogue.snr_db / 10))
    mix *= 10 ** (PEAK_DBFS / 20) / np.abs(mix).max()
    truth = _truth(dialogue, placed, segments, n_samples)
    logger.debug("built dialogue %s: %.1f s, %d turns", dialogue.name, n_samples / SR, len(placed))
    return BuiltDialogue(dialogue.name, mix.astype(np.float32), SR, segments, truth)


def write_dialogue(built: BuiltDialogue, out_dir: str | Path) -> dict[str, Path]:
    """Write ``NAME.wav`` (16-bit PCM), ``NAME.truth.rttm`` and ``NAME.truth.json`` into ``out_dir``."""
    import soundfile as sf

    from bitbox.fileio import atomic_path, write_json

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"wav": out_dir / f"{built.name}.wav", "rttm": out_dir / f"{built.name}.truth.rttm",
             "json": out_dir / f"{built.name}.truth.json"}
    with atomic_path(paths["wav"]) as tmp:
        sf.write(str(tmp), built.samples, built.sr, subtype="PCM_16", format="WAV")
    write_rttm(built.segments, paths["rttm"], file_id=built.name)
    write_json(paths["json"], built.truth)
    return paths


# ---------------------------------------------------------------------------- scenarios
def _dialogue(name: str, voices: dict[str, str], turns: Iterable[tuple], description: str, **kwargs: Any
              ) -> Dialogue:
    """Turns given as (speaker, text, offset_s) or (speaker, "", offset_s, clip)."""
    made = tuple(Turn(t[0], t[1], clip=t[3] if len(t) > 3 else "", offset_s=t[2]) for t in turns)
    return Dialogue(name, voices, made, description=description, **kwargs)


_INTERVIEW = [  # (interviewer question, patient answer)
    ("Good morning. How have you been feeling since our last visit?",
     "Honestly, a bit better. The mornings are still hard, but by lunchtime I usually feel like myself again."),
    ("How many hours are you sleeping at night?", "About five, maybe six on a good night."),
    ("Do you wake up during the night?",
     "Yes, most nights I wake up around three and I lie there thinking about work until the alarm goes off."),
    ("Have you noticed any change in your appetite?", "Not really, it is the same."),
    ("And your energy during the day, would you say it is low, normal or high?",
     "Low in the afternoon. I need a walk or a coffee to keep going."),
    ("Are you still seeing your friends on the weekends?",
     "Sometimes. Last Saturday we went to the market together, and that felt good."),
    ("Thank you. Shall we look at your medication next?", "Yes, please, let us do that."),
]
_INTERVIEW_GAPS = (0.6, 0.9, 0.4, 1.2, 0.3, 0.8, 1.5, 0.5, 0.2, 1.0, 0.7, 0.45, 1.1)


def _interview() -> Dialogue:
    turns, gaps = [], iter(_INTERVIEW_GAPS)
    for question, answer in _INTERVIEW:
        turns.append(("interviewer", question, next(gaps, 0.5) if turns else 0.0))
        turns.append(("patient", answer, next(gaps)))
    return _dialogue("interview", {"interviewer": "slt", "patient": "rms"}, turns,
                     "Clinical interview: a woman asks, a man answers; gaps 0.2-1.5 s, turns 1-8 s, no overlap.")


def _overlaps_scenario() -> Dialogue:
    turns = [
        ("A", "I was telling my sister about the new job, and she said I should ask for a later start time, "
              "because the bus in the morning is always late.", 0.0),
        ("B", "mhm", -4.0),                                     # back-channel inside A's turn
        ("B", "But did you actually ask them, or are you still thinking about it?", -0.5),  # interruption
        ("A", "I asked on Monday.", 0.4),
        ("A", "They said they would think about it and call me back by the end of the week.", 0.3),
        ("B", "yeah", -2.0),                                    # back-channel
        ("B", "That sounds hopeful. Most places are flexible if you explain the situation early.", 0.6),
        ("A", "Right, that is what I thought, so I wrote them a short email as well, just to be safe.", -0.8),
        ("B", "right", -1.5),                                   # back-channel
        ("B", "Good. Let me know what they say, and we can plan the rest of the month after that.", -0.3),
        ("A", "I will, thank you for listening.", 0.7),
    ]
    return _dialogue("overlaps", {"A": "awb", "B": "espeak_f3"}, turns,
                     "Two speakers with interruptions that take the floor (0.3-0.8 s overlap) and back-channels "
                     "(mhm, yeah, right) inside the other's turn.")


def _short_turns() -> Dialogue:
    lines = [("A", "Are you ready to begin?"), ("B", "Yes, go ahead, please."), ("A", "What day of the week is it?"),
             ("B", "I think it is Tuesday."), ("A", "And which month are we in?"), ("B", "It is March, I believe."),
             ("A", "Good, that is right."), ("B", "Can I ask you something?"), ("A", "Yes, of course you can."),
             ("B", "How long will this take?"), ("A", "About ten more minutes."), ("B", "Okay, that is fine."),
             ("A", "Now name a fruit for me."), ("B", "An apple, or a banana."),
             ("A", "Thank you, that is all for now.")]
    gaps = (0.0, 0.5, 0.3, 0.6, 0.25, 0.8, 0.4, 0.35, 0.7, 0.3, 0.5, 0.45, 0.6, 0.3, 0.5)
    return _dialogue("short_turns", {"A": "ked", "B": "espeak_f5"},
                     [(s, t, g) for (s, t), g in zip(lines, gaps)],
                     "Quick question and answer: turns of about 1-2 s, gaps 0.25-0.8 s (festival ked, espeak-ng).")


def _three() -> Dialogue:
    turns = [
        ("host", "Welcome, both of you. Let us start with introductions, please.", 0.0),
        ("guest1", "Thanks. I am a nurse, and I have worked on the night shift for about ten years.", 0.6),
        ("guest2", "And I am a teacher at the primary school near the river.", 0.9),
        ("host", "What is the hardest part of your week?", 0.5),
        ("guest2", "Mondays, without a doubt. The children are tired and so am I.", 1.0),
        ("guest1", "For me it is the switch back to sleeping at night on my days off.", 0.4),
        ("host", "Does anything help with that?", 0.7),
        ("guest1", "Dark curtains, and no coffee after noon.", 0.3),
        ("guest2", "I should try that as well.", 0.8),
        ("host", "Thank you both for coming in today.", 0.6),
    ]
    return _dialogue("three_speakers", {"host": "kal16", "guest1": "slt", "guest2": "awb"}, turns,
                     "Three speakers (flite kal16, slt, awb): a host and two guests, gaps 0.3-1.0 s.")


def _monologue() -> Dialogue:
    sentences = [
        "Every morning I take the dog for a walk along the canal before breakfast.",
        "We usually go as far as the old bridge, and then we turn around and come back through the park.",
        "On weekdays it is quiet, but on Sundays there are runners and families with small children.",
        "After the walk I make tea, read the news for a few minutes, and then I get ready for work.",
        "The bus leaves at half past eight, so there is not much time to spare.",
        "In the evening I like to cook something simple and call my brother, who lives abroad.",
    ]
    gaps = (0.0, 0.6, 0.45, 0.7, 0.5, 0.55)
    return _dialogue("monologue", {"speaker": "rms"}, [("speaker", s, g) for s, g in zip(sentences, gaps)],
                     "One speaker (flite rms) for about 30 s, sentences separated by 0.45-0.7 s pauses: n_speakers 1.")


def _real() -> Dialogue:
    lib, an4, alsa = REAL_CLIPS["librivox"], REAL_CLIPS["an4_man"], REAL_CLIPS["alsa_woman"]
    turns = [
        ("reader", "", 0.0, lib[0]), ("caller", "", 0.7, an4[0]), ("announcer", "", 0.5, alsa[0]),
        ("reader", "", 0.9, lib[1]), ("caller", "", 0.4, an4[1]), ("reader", "", 1.1, lib[2]),
        ("announcer", "", 0.6, alsa[1]), ("announcer", "", 0.3, alsa[2]), ("caller", "", 0.8, an4[2]),
        ("reader", "", 0.5, lib[3]), ("announcer", "", 0.7, alsa[3]), ("reader", "", 0.6, lib[4]),
        ("announcer", "", 0.4, alsa[4]),
    ]
    return _dialogue("real", {"reader": "librivox", "caller": "an4_man", "announcer": "alsa_woman"}, turns,
                     "Real recordings of three people (LibriVox reader, pocketsphinx goforward speaker, ALSA channel "
                     "names woman), gaps 0.3-1.1 s.")


def long_dialogue(minutes: float, *, seed: int = 0) -> Dialogue:
    """An interview of about ``minutes`` minutes for benchmarks, reusing the interview's utterances.

    The interview's question/answer pairs are repeated in a seeded random order with gaps drawn
    uniformly from 0.2-1.5 s; about one answer in six is an interruption (starts 0.3-1.0 s before
    the question ends) and about one question in five of more than 40 characters gets the
    patient's back-channel ``mhm`` starting 1.5 s before the question ends.
    ``duration_s`` is ``minutes * 60``: turns that would end after it are left out.
    """
    if not minutes > 0:
        raise ParameterError(f"minutes must be > 0; got {minutes!r}.")
    rng = np.random.default_rng(seed)
    n_pairs = int(np.ceil(minutes * 60 / 7.0)) + 4  # an interview pair lasts ~8 s: a margin of turns
    turns: list[Turn] = []
    for k in range(n_pairs):
        question, answer = _INTERVIEW[int(rng.integers(len(_INTERVIEW)))]
        turns.append(Turn("interviewer", question, offset_s=float(np.round(rng.uniform(0.2, 1.5), 2)) if k else 0.0))
        if len(question) > 40 and rng.random() < 0.2:
            turns.append(Turn("patient", "mhm", offset_s=-1.5))
        overlap = rng.random() < 1 / 6
        offset = -float(np.round(rng.uniform(0.3, 1.0), 2)) if overlap else float(np.round(rng.uniform(0.2, 1.5), 2))
        turns.append(Turn("patient", answer, offset_s=offset))
    return Dialogue(f"long_{minutes:g}min", {"interviewer": "slt", "patient": "rms"}, tuple(turns),
                    seed=seed, duration_s=minutes * 60.0,
                    description=f"A {minutes:g}-minute interview (slt asks, rms answers) for benchmarks.")


SCENARIOS: dict[str, Dialogue] = {d.name: d for d in (
    _interview(), _overlaps_scenario(), _short_turns(), _three(), _monologue(), _real(),
    long_dialogue(1), long_dialogue(10))}


# ---------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                        help="scenario to build (repeatable; default: all)")
    parser.add_argument("--long", type=float, action="append", default=[], metavar="MINUTES",
                        help="also build a long interview of this many minutes (repeatable)")
    args = parser.parse_args(argv)
    dialogues = [SCENARIOS[n] for n in (args.scenario or SCENARIOS)] + [long_dialogue(m) for m in args.long]
    for dialogue in dialogues:
        built = build(dialogue)
        paths = write_dialogue(built, args.out_dir)
        t = built.truth
        sys.stdout.write(f"{paths['wav']}: {t['duration_s']:.1f} s, {t['n_speakers']} speakers, {t['n_turns']} turns, "
                         f"{t['n_overlaps']} overlaps ({t['overlap_s']:.2f} s), {t['n_interruptions']} interruptions, "
                         f"{t['n_backchannels']} back-channels\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
