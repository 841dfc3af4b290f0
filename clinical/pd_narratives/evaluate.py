"""Span evaluation exactly as Khanna, Bhatt et al. (2025), and their LLM output format.

Per sentence (the paper's regex), gold and predicted annotations are *sets* of
``(term, category)``: a term annotated twice in a sentence counts once.

- **strict**: a prediction is correct when a gold pair has the same term (surrounding
  whitespace aside) and the same category;
- **lenient**: same category and word overlap ``|A ∩ B| / max(|A|, |B|) > 0.5``, ``A`` and
  ``B`` the sets of lower-cased words of the two terms. Pairs are matched one-to-one,
  greedily from the largest overlap, so a prediction matches at most one gold term.

True positives, false positives (unmatched predictions) and false negatives (unmatched gold)
are pooled per category over all sentences: per-category precision, recall and F1; micro =
the pooled counts over all categories; macro = the mean over the categories present in the
gold or the predictions (a category never predicted has precision 0, like scikit-learn's
``zero_division=0``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from bitbox.errors import ParameterError
from bitbox.processors.narrative_format import (AnnotationError, LabelHierarchy, Narrative, default_hierarchy,
                                                read_narrative, split_sentences)

__all__ = ["evaluate_spans", "sentence_terms", "word_overlap", "parse_llm_output", "read_llm_predictions",
           "read_predictions", "LlmSentence", "MODES"]

MODES = ("strict", "lenient")
_WORDS = re.compile(r"\w+(?:['’]\w+)*")
_ANNOTATION = re.compile(
    r"Annotation\(\s*start\s*=\s*(?P<start>-?\d+)\s*,\s*end\s*=\s*(?P<end>-?\d+)\s*,\s*"
    r"term\s*=\s*(?P<q>[\"'])(?P<term>(?:\\.|(?!(?P=q)).)*)(?P=q)\s*,\s*"
    r"label\s*=\s*(?P<q2>[\"'])(?P<label>[^\"']*)(?P=q2)\s*\)", re.S)
_BLOCK_TEXT = re.compile(r"text\s*=\s*(?P<q>[\"'])(?P<text>(?:\\.|(?!(?P=q)).)*)(?P=q)", re.S)


def _words(term: str) -> set[str]:
    return set(_WORDS.findall(term.lower()))


def word_overlap(a: str, b: str) -> float:
    """``|A ∩ B| / max(|A|, |B|)`` over the sets of lower-cased words of two terms (0 when either has none)."""
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / max(len(wa), len(wb))


def _category(label: str, hierarchy: LabelHierarchy, level: str, where: str, on_unknown: str) -> str | None:
    if label in hierarchy.labels:
        return hierarchy.at_level(label, level)
    if on_unknown == "drop":
        return None
    raise AnnotationError(where, hierarchy.unknown_message(label).rstrip("."),
                          "Fix the label, or pass on_unknown='drop' (CLI: --on-unknown drop) to leave such "
                          "predictions out and count them")


def sentence_terms(narrative: Narrative, *, hierarchy: LabelHierarchy | None = None, level: str = "category",
                   on_unknown: str = "error", dropped: list | None = None) -> list[set[tuple[str, str]]]:
    """Per sentence, the set of ``(term, category)`` of a narrative's spans."""
    hierarchy = hierarchy or default_hierarchy()
    out = []
    for sentence in narrative.sentences():
        pairs = set()
        for span in sentence.spans:
            term = narrative.content[sentence.begin + span.begin:sentence.begin + span.end].strip()
            category = _category(span.label, hierarchy, level, narrative.name or "narrative", on_unknown)
            if category is None:
                if dropped is not None:
                    dropped.append((narrative.name, span.label))
                continue
            if term:
                pairs.add((term, category))
        out.append(pairs)
    return out


@dataclass
class _Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def scores(self) -> dict[str, float]:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1": f1, "tp": self.tp, "fp": self.fp, "fn": self.fn,
                "support": self.tp + self.fn}


def _match(gold: set[tuple[str, str]], pred: set[tuple[str, str]], mode: str) -> int:
    """Number of one-to-one matches between gold and predicted pairs of one category."""
    if mode == "strict":
        return len(gold & pred)
    pairs = sorted(((word_overlap(g, p), g, p) for g, _ in gold for p, _ in pred), key=lambda x: (-x[0], x[1], x[2]))
    used_gold, used_pred, matches = set(), set(), 0
    for overlap, g, p in pairs:
        if overlap <= 0.5:
            break
        if g not in used_gold and p not in used_pred:
            used_gold.add(g)
            used_pred.add(p)
            matches += 1
    return matches


def _score(gold: Sequence[set], pred: Sequence[set], mode: str) -> dict:
    per: dict[str, _Counts] = {}
    for g_sent, p_sent in zip(gold, pred):
        g_strip = {(t.strip(), c) for t, c in g_sent}
        p_strip = {(t.strip(), c) for t, c in p_sent}
        for category in sorted({c for _, c in g_strip} | {c for _, c in p_strip}):
            g_c = {x for x in g_strip if x[1] == category}
            p_c = {x for x in p_strip if x[1] == category}
            tp = _match(g_c, p_c, mode)
            counts = per.setdefault(category, _Counts())
            counts.tp += tp
            counts.fp += len(p_c) - tp
            counts.fn += len(g_c) - tp
    total = _Counts(sum(c.tp for c in per.values()), sum(c.fp for c in per.values()),
                    sum(c.fn for c in per.values()))
    per_category = {k: per[k].scores() for k in sorted(per)}
    if per_category:
        macro = {key: sum(s[key] for s in per_category.values()) / len(per_category)
                 for key in ("precision", "recall", "f1")}
    else:
        macro = {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    return {"micro": total.scores(), "macro": macro, "per_category": per_category}


def evaluate_spans(gold: Sequence[Narrative] | Mapping[str, Narrative],
                   predicted: Mapping[str, Sequence[set[tuple[str, str]]] | Narrative], *,
                   level: str = "category", hierarchy: LabelHierarchy | None = None,
                   on_unknown: str = "error") -> dict:
    """Strict and lenient P/R/F1 of predictions against gold narratives (the paper's protocol).

    Parameters
    ----------
    gold : sequence or mapping of Narrative
        Gold narratives (keyed by, or named after, their file stem).
    predicted : mapping
        ``{name: Narrative}`` with the same content, or ``{name: [set of (term, label)] per
        sentence]}`` (e.g. from :func:`read_llm_predictions`). A gold narrative without
        predictions counts as predicted empty and is listed in ``missing_predictions``.
    level : {"category", "label"}
        Score top-level categories (as the paper) or the fine labels.
    on_unknown : {"error", "drop"}
        A predicted label outside the hierarchy raises (default) or is left out and counted.

    Returns
    -------
    dict
        ``{"strict": {"micro", "macro", "per_category"}, "lenient": {...}, "n_files",
        "n_sentences", "level", "missing_predictions", "extra_predictions",
        "dropped_predictions"}``; scores hold ``precision``, ``recall``, ``f1`` (micro and
        per category also ``tp``, ``fp``, ``fn``, ``support``).
    """
    hierarchy = hierarchy or default_hierarchy()
    if on_unknown not in ("error", "drop"):
        raise ParameterError(f"on_unknown must be 'error' or 'drop'. Got {on_unknown!r} instead.")
    if isinstance(gold, Mapping):
        gold_map = dict(gold)
    else:
        gold_map = {n.name: n for n in gold}
        if len(gold_map) != len(gold):
            raise ParameterError("Gold narratives need distinct names (their file stems).")
    gold_sets: list[set] = []
    pred_sets: list[set] = []
    missing, dropped = [], []
    for name in sorted(gold_map):
        g = sentence_terms(gold_map[name], hierarchy=hierarchy, level=level)
        gold_sets.extend(g)
        item = predicted.get(name)
        if item is None:
            missing.append(name)
            pred_sets.extend(set() for _ in g)
            continue
        if isinstance(item, Narrative):
            if item.content != gold_map[name].content:
                raise AnnotationError(item.name or name, "the predicted narrative's content differs from the gold "
                                      f"file {name!r}", "Predict on the gold file's exact 'content'")
            p = sentence_terms(item, hierarchy=hierarchy, level=level, on_unknown=on_unknown, dropped=dropped)
        else:
            p = []
            for sent in item:
                pairs = set()
                for term, label in sent:
                    category = _category(label, hierarchy, level, name, on_unknown)
                    if category is None:
                        dropped.append((name, label))
                    else:
                        pairs.add((term, category))
                p.append(pairs)
            if len(p) != len(g):
                raise AnnotationError(name, f"the predictions hold {len(p)} sentences, the gold file {len(g)}")
        pred_sets.extend(p)
    result = {mode: _score(gold_sets, pred_sets, mode) for mode in MODES}
    result.update({"level": level, "n_files": len(gold_map), "n_sentences": len(gold_sets),
                   "missing_predictions": missing,
                   "extra_predictions": sorted(set(predicted) - set(gold_map)),
                   "dropped_predictions": len(dropped)})
    return result


# ---------------------------------------------------------------------------- LLM outputs
@dataclass
class LlmSentence:
    """One parsed LLM answer: the sentence text and its ``(start, end, term, label)`` annotations."""

    text: str
    annotations: list[tuple[int, int, str, str]]


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_llm_output(output: str) -> list[LlmSentence]:
    """Parse answers in the paper's format, one block per sentence::

        ( text ="I made breakfast." annotations = { Annotation(start=2, end=16, term="made breakfast",
          label="action"), ... } )

    Blocks may follow one another in one string; an empty ``annotations = { }`` is a
    sentence without spans. Single or double quotes are accepted.
    """
    starts = [m.start() for m in re.finditer(r"\(\s*text\s*=", output)]
    if not starts and "Annotation(" in output:
        starts = [0]
    blocks = [output[a:b] for a, b in zip(starts, starts[1:] + [len(output)])]
    parsed = []
    for block in blocks:
        text_match = _BLOCK_TEXT.search(block)
        annotations = [(int(m["start"]), int(m["end"]), _unescape(m["term"]), m["label"].strip())
                       for m in _ANNOTATION.finditer(block)]
        parsed.append(LlmSentence(_unescape(text_match["text"]) if text_match else "", annotations))
    return parsed


def _norm(text: str) -> str:
    return " ".join(text.split())


def read_llm_predictions(path: str | Path, gold: Narrative) -> list[set[tuple[str, str]]]:
    """An LLM's answers for one narrative (a text file of blocks), as per-sentence sets aligned to ``gold``.

    Each block is put on the gold sentence with the same text (whitespace aside); sentences
    without a block have no predictions; a block whose text matches no sentence is an error.
    """
    path = Path(path)
    blocks = parse_llm_output(path.read_text(encoding="utf-8"))
    sentences = [_norm(gold.content[b:e]) for b, e in split_sentences(gold.content)]
    out: list[set[tuple[str, str]]] = [set() for _ in sentences]
    cursor = 0
    for k, block in enumerate(blocks):
        target = _norm(block.text)
        try:
            index = sentences.index(target, cursor) if target in sentences[cursor:] else sentences.index(target)
        except ValueError:
            raise AnnotationError(path, f"the text of block {k + 1} matches no sentence of the gold file {gold.name!r}",
                                  "Give the model the gold sentences verbatim") from None
        cursor = index + 1
        out[index] |= {(term, label) for _, _, term, label in block.annotations}
    return out


def read_predictions(folder: str | Path, gold: Iterable[Narrative]) -> dict[str, object]:
    """Predictions for the gold narratives from a folder: ``NAME.json`` (annotation JSON) or
    ``NAME.txt`` (LLM answers), matched to the gold files by name. Files without a gold
    partner are returned too (they become ``extra_predictions``); labels are checked by
    :func:`evaluate_spans`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AnnotationError(folder, "is not a folder", "Give the folder of predicted annotation files")
    gold_map = {n.name: n for n in gold}
    out: dict[str, object] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".json":
            out[path.stem] = read_narrative(path, check_labels=False)
        elif path.suffix == ".txt":
            out[path.stem] = read_llm_predictions(path, gold_map[path.stem]) if path.stem in gold_map else []
    return out
