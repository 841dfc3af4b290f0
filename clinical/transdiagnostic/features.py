"""Voice and text features of a cohort, computed (and cached) by Bitbox's batch machinery.

Feature sets (Hansen et al. 2023, with Bitbox's own measures added):

==================  =====  ==========================================================
name                kind   rows
==================  =====  ==========================================================
``egemaps``         voice  one per 5-s window: the 88 eGeMAPSv02 functionals
``mfcc``            voice  one per 5-s window: 40 MFCC means
``speech``          voice  one per recording: the ``speech`` processor's summary
``descriptives``    text   one per recording: the ``language`` processor's summary
``tfidf``           text   one per recording: the transcript (the TF-IDF vocabulary is
                           learnt on each training set, never on test participants)
``embeddings``      text   one per recording: the mean sentence embedding (packaged
                           all-MiniLM-L6-v2, or any encoder folder)
==================  =====  ==========================================================

Recordings go through :func:`bitbox.process_folder` into ``<out>/features/voice`` and
``<out>/features/text``, so a second run reuses every result whose input, transcript and
parameters are unchanged, and a recording that fails is dropped with its reason while the
rest go on. As in the paper, audio shorter than ``min_audio_s`` (3 s) and transcripts of
fewer than ``min_words`` (5) words are left out.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bitbox import ProcessorResult
from bitbox.errors import ParameterError
from bitbox.io import write_text
from bitbox.log import logger
from bitbox.processors.kinds import TEXT

from ..features import cached_embeddings, run_batch
from .cohort import Cohort

__all__ = ["Features", "extract_features", "FEATURE_SETS", "VOICE_SETS", "TEXT_SETS"]

VOICE_SETS = ("egemaps", "mfcc", "speech")
TEXT_SETS = ("descriptives", "tfidf", "embeddings")
FEATURE_SETS = VOICE_SETS + TEXT_SETS
#: Summary measures of the processors that say nothing about the person (settings, quality checks).
#: Numeric summary values that are settings or recording facts, not features of the voice.
#: Quality measures too: they describe the recording chain (hum, transcription confidence, the
#: transcript's source), which differs by site and would let a classifier learn the site.
_NOT_FEATURES = {"speech.f0_floor_hz", "speech.f0_ceiling_hz", "speech.clipped_fraction", "speech.duration_s",
                 "speech.formant_ceiling_hz", "speech.hum_mains_hz", "speech.hum_db", "speech.f0_octave_jump_rate",
                 "language.transcribed", "language.asr_avg_logprob", "language.asr_compression_ratio",
                 "language.asr_no_speech_prob"}


def _measure_columns(summary: pd.DataFrame, processor: str) -> list[str]:
    """The processor's numeric summary columns that are features (no status, error, notes or settings)."""
    return [k for k in summary.columns if k.startswith(f"{processor}.") and k not in _NOT_FEATURES
            and pd.api.types.is_numeric_dtype(summary[k]) and not pd.api.types.is_bool_dtype(summary[k])]


@dataclass
class Features:
    """The feature tables of a cohort.

    Attributes
    ----------
    tables : dict of str to pandas.DataFrame
        Per feature set, one row per sample (window or recording) with a
        ``recording_key`` column and the features (``tfidf``: one ``text`` column).
    dropped : pandas.DataFrame
        ``recording_key``, ``participant_id``, ``modality`` and ``reason`` of every
        recording left out of a modality.
    """

    tables: dict[str, pd.DataFrame]
    dropped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["recording_key", "participant_id", "modality", "reason"]))

    @staticmethod
    def modality(name: str) -> str:
        """``"voice"`` or ``"text"``: the modality of a feature set.

        Parameters
        ----------
        name : str
            A feature set (:data:`FEATURE_SETS`); anything not in :data:`VOICE_SETS` is text.

        Returns
        -------
        str
            ``"voice"`` for ``egemaps``, ``mfcc`` and ``speech``; ``"text"`` otherwise.
        """
        return "voice" if name in VOICE_SETS else "text"

    def __repr__(self) -> str:
        parts = ", ".join(f"{k} {v['recording_key'].nunique()} rec/{len(v)} rows" for k, v in self.tables.items())
        return f"<Features | {parts}; {len(self.dropped)} dropped>"


def _check_sets(feature_sets) -> list[str]:
    sets = list(feature_sets)
    unknown = [s for s in sets if s not in FEATURE_SETS]
    if unknown or not sets:
        raise ParameterError(f"Unknown feature set(s) {unknown}; choose among {list(FEATURE_SETS)}.")
    return sets


def extract_features(cohort: Cohort, out_dir: str | Path, *, feature_sets=FEATURE_SETS, window_s: float = 5.0,
                     stride_s: float = 1.0, min_audio_s: float = 3.0, min_words: int = 5,
                     embedding_model: str | None = None, asr_model: str | None = None, workers: int = 1,
                     scheduler: str | None = None, progress: bool = True) -> Features:
    """Compute the feature sets of every recording of ``cohort``.

    Parameters
    ----------
    cohort : Cohort
        The recordings to measure (from :func:`~bitbox.clinical.transdiagnostic.read_manifest`), with
        their transcript files or inline transcripts.
    out_dir : str | Path
        Output folder; the per-recording results are kept in ``out_dir/features``.
    feature_sets : sequence of str
        Among :data:`FEATURE_SETS`.
    window_s, stride_s : float
        Windows of the ``egemaps`` and ``mfcc`` sets (s).
    min_audio_s : float
        Shorter audio is left out of the voice sets.
    min_words : int
        Transcripts with fewer words are left out of the text sets.
    embedding_model : str | None
        Sentence-encoder folder for ``embeddings`` and the coherence measure (``None``:
        the packaged all-MiniLM-L6-v2).
    asr_model : str | None
        Whisper (CTranslate2) folder for recordings without a transcript (``None``: the
        packaged tiny.en).
    workers : int
        Worker processes, as in :func:`bitbox.process_folder` (default 1). Text features use one
        process unless recordings must be transcribed (or ``scheduler`` is given).
    scheduler : str | None
        A Dask scheduler (``"local"`` or an address), as in :func:`bitbox.process_folder`; ``None``
        (default) for the local process pool.
    progress : bool
        Progress bars.

    Returns
    -------
    Features
        The tables of the feature sets that have any recording, and the recordings left out of a
        modality (failed, too short, too few words) with the reason.

    Raises
    ------
    ParameterError
        An unknown feature set, or none.
    """
    from bitbox.processors.language import LanguageProcessor
    from bitbox.processors.speech import SpeechProcessor
    from bitbox.processors.text.transcript import read_transcript
    from bitbox.processors.voice_windows import VoiceWindowsProcessor

    sets = _check_sets(feature_sets)
    root = Path(out_dir) / "features"
    rec = cohort.recordings
    tables: dict[str, pd.DataFrame] = {}
    dropped: list[dict] = []

    def drop(key: str, modality: str, reason: str) -> None:
        pid = rec.loc[rec["recording_key"] == key, "participant_id"].iloc[0]
        dropped.append({"recording_key": key, "participant_id": pid, "modality": modality, "reason": reason})

    voice = [s for s in sets if s in VOICE_SETS]
    if voice:
        processors = []
        if {"egemaps", "mfcc"} & set(voice):
            processors.append(VoiceWindowsProcessor(window_s=window_s, stride_s=stride_s,
                                                    egemaps="egemaps" in voice))
        if "speech" in voice:
            processors.append(SpeechProcessor())
        logger.info("transdx: voice features of %d recordings", len(rec))
        done, summary, failed = run_batch(list(rec["recording"]), root / "voice", processors, workers=workers,
                                           scheduler=scheduler, progress=progress)
        windows, speech_rows = [], []
        for key, path in zip(rec["recording_key"], rec["recording"]):
            if path not in done:
                drop(key, "voice", failed.get(path, "not processed"))
                continue
            row = summary.loc[done[path]]
            duration = row.get("voice_windows.duration_s", row.get("speech.duration_s", np.nan))
            if duration < min_audio_s:
                drop(key, "voice", f"audio shorter than {min_audio_s:g} s ({duration:.2f} s)")
                continue
            if "speech" in voice:
                values = {k.split(".", 1)[1]: row[k] for k in _measure_columns(summary, "speech")}
                speech_rows.append({"recording_key": key, **values})
            if {"egemaps", "mfcc"} & set(voice):
                frame = ProcessorResult.read(root / "voice" / done[path], "voice_windows").timeseries
                frame.insert(0, "recording_key", key)
                windows.append(frame.drop(columns=["time_s", "end_s"]))
        if windows:
            all_windows = pd.concat(windows, ignore_index=True)
            for name, prefix in (("egemaps", "egemaps_"), ("mfcc", "mfcc_")):
                if name in voice:
                    tables[name] = all_windows[["recording_key",
                                                *[c for c in all_windows.columns if c.startswith(prefix)]]]
        if speech_rows:
            tables["speech"] = pd.DataFrame(speech_rows)

    text = [s for s in sets if s in TEXT_SETS]
    if text:
        inputs: dict[str, str] = {}
        for key, transcript_path, transcript_text, audio in zip(rec["recording_key"], rec["transcript_path"],
                                                                rec["transcript_text"], rec["recording"]):
            if transcript_path is not None:
                inputs[key] = transcript_path
            elif transcript_text is not None:
                # Inline transcripts become files of the output folder (the manifest is never changed).
                file = root / "transcripts" / (hashlib.sha1(key.encode()).hexdigest()[:16] + ".txt")
                if not file.is_file() or file.read_text(encoding="utf-8") != transcript_text:
                    write_text(file, transcript_text)
                inputs[key] = str(file.resolve())
            else:
                inputs[key] = audio  # the language processor transcribes it (or reads a transcript beside it)
        logger.info("transdx: text features of %d recordings", len(inputs))
        language = LanguageProcessor(embedding_model=embedding_model, asr_model=asr_model)
        # Reading transcripts takes milliseconds each: worker processes (each loading the sentence encoder) only
        # pay off when recordings must be transcribed, or on a Dask cluster.
        transcribing = any(Path(p).suffix.lower() not in TEXT.extensions for p in inputs.values())
        done, summary, failed = run_batch(list(inputs.values()), root / "text", [language],
                                           workers=workers if transcribing or scheduler else 1,
                                           scheduler=scheduler, progress=progress)
        descriptives, texts = [], {}
        for key, path in inputs.items():
            if path not in done:
                drop(key, "text", failed.get(path, "not processed"))
                continue
            row = summary.loc[done[path]]
            if row["language.word_count"] < min_words:
                drop(key, "text", f"transcript of fewer than {min_words} words ({int(row['language.word_count'])})")
                continue
            descriptives.append({"recording_key": key, **{k.split(".", 1)[1]: row[k]
                                                          for k in _measure_columns(summary, "language")}})
            if Path(path).suffix.lower() in TEXT.extensions:
                utterances = [u.text for u in read_transcript(path).utterances]
            else:  # transcribed: the utterances are in the time series
                result = ProcessorResult.read(root / "text" / done[path], "language")
                utterances = result.timeseries["utterance_text"].astype(str).tolist()
            texts[key] = "\n".join(u.replace("\n", " ") for u in utterances)
        if "descriptives" in text and descriptives:
            tables["descriptives"] = pd.DataFrame(descriptives)
        if "tfidf" in text and texts:
            tables["tfidf"] = pd.DataFrame({"recording_key": list(texts), "text": list(texts.values())})
        if "embeddings" in text and texts:
            vectors = cached_embeddings(root / "embeddings", texts, embedding_model)
            matrix = np.stack([vectors[k] for k in texts])
            frame = pd.DataFrame(matrix, columns=[f"embedding_{i + 1}" for i in range(matrix.shape[1])])
            frame.insert(0, "recording_key", list(texts))
            tables["embeddings"] = frame
    for name in sets:
        if name not in tables:
            logger.warning("transdx: no recording has %s features", name)
    order = {k: i for i, k in enumerate(rec["recording_key"])}
    tables = {name: tables[name].sort_values("recording_key", key=lambda s: s.map(order), kind="stable")
              .reset_index(drop=True) for name in sets if name in tables}
    return Features(tables, pd.DataFrame(dropped, columns=["recording_key", "participant_id", "modality", "reason"]))
