"""Annotated narratives: the span-annotation JSON, the label hierarchy and sentence splitting.

The format is the one of Khanna, Bhatt et al. (2025), one JSON file per narrative::

    {"content": "Making breakfast was hard. I went to his bathroom ...",
     "indexes": {"0": {"Token": [...],
                       "Entity": [{"begin": 0, "end": 16, "semantic": "action"},
                                  {"begin": 32, "end": 44, "semantic": "location"}, ...]}}}

``begin``/``end`` are character offsets into ``content`` (end exclusive). Spans may nest
and overlap ("went to his bathroom" is an action that contains the location "his
bathroom"). Entities under every key of ``indexes`` are read (duplicates once).

Labels are the paper's 48 fine labels (``visual_color``, ``thought_memory``, ...), each with
a top-level category (12: ``visual``, ``somatosensory``, ``smell``, ``sound``, ``taste``,
``interoception``, ``time``, ``location``, ``action``, ``social_interaction``, ``emotion``,
``thought``). The hierarchy is data (:func:`default_hierarchy`, or your own JSON file).
"""
from __future__ import annotations

import bisect
import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from bitbox.errors import FileProblem, ParameterError, RecordingError
from bitbox.fileio import write_json
from bitbox.log import logger

from .text.textfile import read_text_file

__all__ = ["Span", "Sentence", "Narrative", "LabelHierarchy", "AnnotationError", "SENTENCE_SPLIT",
           "split_sentences", "word_offsets", "default_hierarchy", "read_narrative", "write_narrative",
           "read_narratives", "LEVELS"]

#: The paper's sentence splitter: after ., ? or ! (with any whitespace), and at line breaks.
SENTENCE_SPLIT = re.compile(r"(?<=\.|\?|!)\s*(?=\S)|\r\n|\n")
#: Word tokens: letters/digits with inner apostrophes, or one punctuation mark.
_WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
#: Levels at which labels are used: the fine labels or their top-level categories.
LEVELS = ("category", "label")
_DATA = Path(__file__).parent / "data" / "narrative_labels.json"


class AnnotationError(FileProblem, ValueError):
    """An annotation file (or a prediction) is malformed: which file, which entity, what to do."""


@dataclass(frozen=True, order=True)
class Span:
    """One annotated span: character offsets ``[begin, end)`` and its label."""

    begin: int
    end: int
    label: str


@dataclass(frozen=True)
class Sentence:
    """One sentence of a narrative: its offsets in the content, its text, and its spans.

    ``spans`` hold offsets relative to the sentence (as in the paper); a span that runs
    past the sentence's end belongs to the sentence where it begins.
    """

    index: int
    begin: int
    end: int
    text: str
    spans: tuple[Span, ...] = ()

    def term(self, span: Span) -> str:
        """The text of a sentence-relative span."""
        return self.text[span.begin:span.end]


def split_sentences(text: str) -> list[tuple[int, int]]:
    """``(begin, end)`` character offsets of the sentences of ``text`` (the paper's regex).

    Pieces that hold only whitespace are dropped; a sentence keeps any whitespace that
    starts its line.

    Examples
    --------
    >>> split_sentences("I woke up. Then?  Yes!\\nNew line")
    [(0, 10), (11, 16), (18, 22), (23, 31)]
    """
    bounds: list[tuple[int, int]] = []
    start = 0
    for match in SENTENCE_SPLIT.finditer(text):
        if match.start() == start and match.end() == start:
            continue
        bounds.append((start, match.start()))
        start = match.end()
    bounds.append((start, len(text)))
    return [(b, e) for b, e in bounds if text[b:e].strip()]


def word_offsets(text: str) -> list[tuple[int, int]]:
    """``(begin, end)`` of the word and punctuation tokens of ``text``."""
    return [m.span() for m in _WORD.finditer(text)]


# ---------------------------------------------------------------------------- hierarchy
@dataclass(frozen=True)
class LabelHierarchy:
    """Fine labels and the top-level category of each.

    Parameters
    ----------
    labels : mapping of str to str
        ``{label: category}``.
    categories : mapping of str to str
        ``{category: description}``; every label's category must be one of them.
    """

    labels: Mapping[str, str]
    categories: Mapping[str, str]

    def __post_init__(self) -> None:
        missing = sorted({c for c in self.labels.values() if c not in self.categories})
        if missing:
            raise ParameterError(f"The label hierarchy maps labels to undeclared categories: {', '.join(missing)}. "
                                 "Declare them under 'categories'.")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LabelHierarchy":
        """From ``{"labels": {label: category}, "categories": {category: description}}``."""
        if not isinstance(data.get("labels"), Mapping) or not isinstance(data.get("categories"), Mapping):
            raise ParameterError("A label hierarchy needs 'labels' ({label: category}) and 'categories' "
                                 "({category: description}).")
        labels = dict(data["labels"])
        categories = dict(data["categories"])
        for category in categories:  # a category is a label of itself
            labels.setdefault(category, category)
        return cls(labels=labels, categories=categories)

    @classmethod
    def from_file(cls, path: str | Path) -> "LabelHierarchy":
        """Read a hierarchy JSON file (the format of :meth:`to_dict`)."""
        path = Path(path)
        try:
            data = json.loads(read_text_file(path).text)
        except (RecordingError, ValueError) as err:
            raise AnnotationError(path, f"cannot be read as a label hierarchy ({err})",
                                  'Give a JSON file {"labels": {...}, "categories": {...}}') from None
        try:
            return cls.from_dict(data)
        except ParameterError as err:
            raise AnnotationError(path, str(err)) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain data (round-trips through :meth:`from_dict`)."""
        return {"categories": dict(self.categories), "labels": dict(self.labels)}

    def names(self, level: str = "category") -> tuple[str, ...]:
        """The category names (in declared order) or the fine labels (sorted)."""
        _check_level(level)
        return tuple(self.categories) if level == "category" else tuple(sorted(self.labels))

    def category(self, label: str) -> str:
        """The top-level category of a label (a category maps to itself)."""
        try:
            return self.labels[label]
        except KeyError:
            raise ParameterError(self.unknown_message(label)) from None

    def at_level(self, label: str, level: str) -> str:
        """``label`` itself, or its category."""
        return self.category(label) if level == "category" else self.check(label)

    def check(self, label: str) -> str:
        """``label`` when the hierarchy knows it; a :class:`ParameterError` otherwise."""
        if label not in self.labels:
            raise ParameterError(self.unknown_message(label))
        return label

    def unknown_message(self, label: str) -> str:
        """'... is not a label of the hierarchy. Did you mean ...?' with the valid ones."""
        close = difflib.get_close_matches(str(label), list(self.labels), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return (f"{label!r} is not a label of the hierarchy.{hint} Valid labels: {', '.join(sorted(self.labels))} "
                "(or give your own hierarchy file).")


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ParameterError(f"The level must be one of {', '.join(map(repr, LEVELS))}. Got {level!r} instead.")


_DEFAULT: LabelHierarchy | None = None


def default_hierarchy() -> LabelHierarchy:
    """The paper's 48 labels and 12 categories (``processors/data/narrative_labels.json``)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = LabelHierarchy.from_dict(json.loads(_DATA.read_text(encoding="utf-8")))
    return _DEFAULT


# ---------------------------------------------------------------------------- narratives
@dataclass
class Narrative:
    """A narrative's text and its annotated spans (offsets into ``content``).

    Parameters
    ----------
    content : str
    spans : list of Span
    name : str
        The file stem it was read from (used to pair gold and predicted files).
    """

    content: str
    spans: list[Span] = field(default_factory=list)
    name: str = ""

    def __repr__(self) -> str:  # never the text: narratives are health data
        return f"<Narrative {self.name or '(unnamed)'}: {len(self.content)} characters, {len(self.spans)} spans>"

    def term(self, span: Span) -> str:
        """The text of a span."""
        return self.content[span.begin:span.end]

    def sentences(self) -> list[Sentence]:
        """The sentences (paper's regex) with their spans, offsets relative to each sentence."""
        bounds = split_sentences(self.content)
        grouped: list[list[Span]] = [[] for _ in bounds]
        starts = [b for b, _ in bounds]
        for span in sorted(set(self.spans)):
            i = max(0, bisect.bisect_right(starts, span.begin) - 1)
            b = starts[i] if bounds else 0
            grouped[i].append(Span(span.begin - b, span.end - b, span.label))
        return [Sentence(i, b, e, self.content[b:e], tuple(group))
                for i, ((b, e), group) in enumerate(zip(bounds, grouped))]

    def validate(self, hierarchy: LabelHierarchy | None = None, *, source: str | Path = "",
                 check_labels: bool = True) -> "Narrative":
        """Check offsets (and labels); raise :class:`AnnotationError` naming the entity."""
        hierarchy = hierarchy or default_hierarchy()
        where = source or self.name or "narrative"
        n = len(self.content)
        for i, span in enumerate(self.spans):
            if not (isinstance(span.begin, int) and isinstance(span.end, int)) or not 0 <= span.begin < span.end <= n:
                raise AnnotationError(where, f"entity {i} has begin={span.begin!r}, end={span.end!r}; offsets must be "
                                      f"integers with 0 <= begin < end <= {n} (the content's length)",
                                      "Fix the offsets (characters into 'content', end exclusive)")
            if check_labels and span.label not in hierarchy.labels:
                raise AnnotationError(where, f"entity {i} (characters {span.begin}-{span.end}): "
                                      + hierarchy.unknown_message(span.label).rstrip("."))
        return self

    def to_json(self) -> dict[str, Any]:
        """The annotation JSON (one ``indexes`` entry, tokens with offsets)."""
        tokens = [{"begin": b, "end": e} for b, e in word_offsets(self.content)]
        entities = [{"begin": s.begin, "end": s.end, "semantic": s.label} for s in sorted(set(self.spans))]
        return {"content": self.content, "indexes": {"0": {"Token": tokens, "Entity": entities}}}


def _entities(data: Any, path: Path) -> Iterable[Span]:
    indexes = data.get("indexes", {})
    if not isinstance(indexes, Mapping):
        raise AnnotationError(path, "'indexes' is not an object", 'Use {"indexes": {"0": {"Entity": [...]}}}')
    for key, entry in indexes.items():
        if not isinstance(entry, Mapping):
            raise AnnotationError(path, f"indexes[{key!r}] is not an object")
        entities = entry.get("Entity", [])
        if not isinstance(entities, list):
            raise AnnotationError(path, f"indexes[{key!r}]['Entity'] is not a list")
        for j, item in enumerate(entities):
            if not isinstance(item, Mapping) or not {"begin", "end", "semantic"} <= set(item):
                raise AnnotationError(path, f"indexes[{key!r}]['Entity'][{j}] lacks begin, end or semantic",
                                      'Each entity is {"begin": 17, "end": 33, "semantic": "action"}')
            begin, end, label = item["begin"], item["end"], item["semantic"]
            if isinstance(begin, bool) or isinstance(end, bool) or not isinstance(begin, int) \
                    or not isinstance(end, int):
                raise AnnotationError(path, f"indexes[{key!r}]['Entity'][{j}] has non-integer offsets "
                                      f"begin={begin!r}, end={end!r}")
            yield Span(begin, end, str(label))


def read_narrative(path: str | Path, hierarchy: LabelHierarchy | None = None, *,
                   check_labels: bool = True) -> Narrative:
    """Read one annotation JSON file (a narrative without ``indexes`` has no spans).

    ``check_labels=False`` accepts any label (e.g. a model's predictions, which the
    evaluation checks itself).

    Raises
    ------
    AnnotationError
        For invalid JSON, a missing ``content``, malformed entities, offsets outside the
        content, or a label outside the hierarchy.
    """
    path = Path(path)
    try:
        decoded = read_text_file(path)  # any encoding it detects (UTF-8, UTF-16, a Latin-1 guess...)
    except RecordingError as err:
        raise AnnotationError(path, err.reason, err.hint) from None
    if decoded.note:
        logger.warning("%s", decoded.note)
    text = decoded.text
    try:
        data = json.loads(text)
    except ValueError as err:
        raise AnnotationError(path, f"is not valid JSON ({err})") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("content"), str):
        raise AnnotationError(path, "has no 'content' string", 'Use {"content": "...", "indexes": {...}}')
    spans = sorted(set(_entities(data, path)))
    return Narrative(data["content"], spans, name=path.stem).validate(hierarchy, source=path,
                                                                       check_labels=check_labels)


def write_narrative(path: str | Path, narrative: Narrative) -> None:
    """Write a narrative as annotation JSON (atomically)."""
    write_json(path, narrative.to_json())


def read_narratives(folder: str | Path, hierarchy: LabelHierarchy | None = None) -> list[Narrative]:
    """Every ``*.json`` annotation file of a folder, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AnnotationError(folder, "is not a folder", "Give the folder of annotation JSON files")
    files = sorted(folder.glob("*.json"))
    if not files:
        raise AnnotationError(folder, "holds no .json annotation files")
    return [read_narrative(f, hierarchy) for f in files]
