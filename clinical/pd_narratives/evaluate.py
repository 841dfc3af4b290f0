"""Span evaluation exactly as Khanna, Bhatt et al. (2025) score it, and their LLM output format.

The reference is the authors' notebook ``evaluation/postprocessing_and_eval.ipynb``
(itsjustnilay/Parkinsons-Cognitive-LLM): cell 4 parses the LLM's answers, cell 11 reads gold
and predictions, cell 13 counts, cell 14 averages. Gold and predicted annotations are *sets*
of ``(term, category)`` per sentence: a term annotated twice in a sentence counts once.

Two lenient rules (``lenient=``):

- ``"paper"`` (default), the notebook's rule: sentences are keyed by their text (identical
  sentences are scored once, with the last one's annotations, as the notebook's dict does);
  a prediction is a true positive when some gold term of the same category has word overlap
  ``|A ∩ B| / max(|A|, |B|) > 0.5``, ``A`` and ``B`` the sets of whitespace-separated words
  (case-sensitive, punctuation attached); false positives are the other predictions; false
  negatives are the gold pairs *not identical* to a matched prediction, so a gold term
  matched only leniently still counts as a miss. Matching is not one-to-one. Strict: true
  positives are the pairs in both sets, gold terms as written, predicted terms stripped.
- ``"one-to-one"``, Bitbox's stricter variant: every sentence occurrence is scored; words are
  the lower-cased ``\\w+`` tokens; gold and predictions are matched one-to-one, greedily from
  the largest overlap; false negatives are the unmatched gold terms. Strict: same stripped
  term and category.

Counts are pooled per category over all sentences: per-category precision, recall and F1
(0 when undefined); micro = the pooled counts; macro = the mean over all the categories of the
hierarchy (``macro="all"``, the notebook's: an absent category scores 0) or over those in
the gold or the predictions (``macro="present"``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from bitbox.errors import ParameterError
from bitbox.log import logger
from bitbox.processors.narrative_format import (AnnotationError, LabelHierarchy, Narrative, default_hierarchy,
                                                read_narrative, split_sentences)

__all__ = ["evaluate_spans", "sentence_terms", "word_overlap", "parse_llm_output", "read_llm_predictions",
           "read_predictions", "LlmSentence", "MODES", "LENIENT_RULES", "MACRO_OVER"]

MODES = ("strict", "lenient")
#: ``paper``: the authors' notebook (cell 13); ``one-to-one``: Bitbox's stricter variant.
LENIENT_RULES = ("paper", "one-to-one")
#: Categories the macro average runs over: all of the hierarchy (the notebook's) or the present ones.
MACRO_OVER = ("all", "present")
_WORDS = re.compile(r"\w+(?:['’]\w+)*")
_ANNOTATION = re.compile(
    r"Annotation\s*\(\s*start\s*=\s*(?P<start>\d+)\s*,\s*end\s*=\s*(?P<end>\d+)\s*,\s*"
    r"term\s*=\s*(?P<q>[\"'])(?P<term>.*?)(?P=q)\s*,\s*"
    r"label\s*=\s*(?P<q2>[\"'])(?P<label>.*?)(?P=q2)\s*\)", re.S)
_ANNOTATION_OPEN = re.compile(r"Annotation\s*\(")
_BLOCK_TEXT = re.compile(r"text\s*=\s*(?P<q>[\"'])(?P<text>.*?)(?P=q)\s*annotations\s*=", re.S)
_BLOCK_TEXT_ONLY = re.compile(r"text\s*=\s*(?P<q>[\"'])(?P<text>.*?)(?P=q)", re.S)


def _words(term: str, lenient: str) -> set[str]:
    return set(term.split()) if lenient == "paper" else set(_WORDS.findall(term.lower()))


def word_overlap(a: str, b: str, lenient: str = "paper") -> float:
    """``|A ∩ B| / max(|A|, |B|)`` over the word sets of two terms (0 when neither has a word).

    Parameters
    ----------
    a, b : str
        The two terms.
    lenient : {"paper", "one-to-one"}
        ``"paper"`` (default): words split at whitespace, case-sensitive (the notebook's);
        ``"one-to-one"``: lower-cased ``\\w+`` words.

    Returns
    -------
    float
        The overlap in [0, 1]; a lenient match needs more than 0.5.
    """
    wa, wb = _words(a, lenient), _words(b, lenient)
    if not wa and not wb:
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
                   on_unknown: str = "error", dropped: list | None = None,
                   strip: bool = True) -> list[set[tuple[str, str]]]:
    """Per sentence, the set of ``(term, category)`` of a narrative's spans.

    ``strip=True``: terms without surrounding whitespace, empty ones left out; ``strip=False``:
    terms as written (the notebook's gold), spans with ``begin == end`` left out.

    Parameters
    ----------
    narrative : Narrative
        The annotated text; its sentences are those of
        :func:`~bitbox.processors.narrative_format.split_sentences`.
    hierarchy : LabelHierarchy | None
        The labels and their categories; ``None`` (default) for the paper's.
    level : {"category", "label"}
        Pair each term with its label's top-level category (default) or with the label itself.
    on_unknown : {"error", "drop"}
        A label outside the hierarchy raises (default) or is left out.
    dropped : list | None
        When given, ``(narrative name, label)`` is appended for each span left out by ``on_unknown="drop"``.
    strip : bool
        Strip surrounding whitespace from the terms (default True).

    Returns
    -------
    list of set of (str, str)
        One set of ``(term, category or label)`` per sentence, in order.

    Raises
    ------
    AnnotationError
        A span's label is not in the hierarchy and ``on_unknown="error"``.
    """
    hierarchy = hierarchy or default_hierarchy()
    out = []
    for sentence in narrative.sentences():
        pairs = set()
        for span in sentence.spans:
            term = narrative.content[sentence.begin + span.begin:sentence.begin + span.end]
            category = _category(span.label, hierarchy, level, narrative.name or "narrative", on_unknown)
            if category is None:
                if dropped is not None:
                    dropped.append((narrative.name, span.label))
                continue
            term = term.strip() if strip else term
            if term:
                pairs.add((term, category))
        out.append(pairs)
    return out


@dataclass
class _Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    support: int = 0

    def scores(self) -> dict[str, float]:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1": f1, "tp": self.tp, "fp": self.fp, "fn": self.fn,
                "support": self.support}

    @property
    def present(self) -> bool:
        return bool(self.tp or self.fp or self.fn)


def _one_to_one_matches(gold: set[tuple[str, str]], pred: set[tuple[str, str]]) -> int:
    """Number of one-to-one lenient matches between gold and predicted pairs of one category."""
    pairs = sorted(((word_overlap(g, p, "one-to-one"), g, p) for g, _ in gold for p, _ in pred),
                   key=lambda x: (-x[0], x[1], x[2]))
    used_gold, used_pred, matches = set(), set(), 0
    for overlap, g, p in pairs:
        if overlap <= 0.5:
            break
        if g not in used_gold and p not in used_pred:
            used_gold.add(g)
            used_pred.add(p)
            matches += 1
    return matches


def _count_one_to_one(gold: Sequence[set], pred: Sequence[set]) -> dict[str, dict[str, _Counts]]:
    """Bitbox's rule: every sentence occurrence, stripped terms, one-to-one lenient matching."""
    per: dict[str, dict[str, _Counts]] = {"strict": {}, "lenient": {}}
    for g_sent, p_sent in zip(gold, pred):
        g_strip = {(t.strip(), c) for t, c in g_sent}
        p_strip = {(t.strip(), c) for t, c in p_sent}
        for category in {c for _, c in g_strip} | {c for _, c in p_strip}:
            g_c = {x for x in g_strip if x[1] == category}
            p_c = {x for x in p_strip if x[1] == category}
            for mode, tp in (("strict", len(g_c & p_c)), ("lenient", _one_to_one_matches(g_c, p_c))):
                counts = per[mode].setdefault(category, _Counts())
                counts.tp += tp
                counts.fp += len(p_c) - tp
                counts.fn += len(g_c) - tp
                counts.support += len(g_c)
    return per


def _count_paper(keys: Sequence[str], gold: Sequence[set], pred: Sequence[set]) -> dict[str, dict[str, _Counts]]:
    """The notebook's rule (cell 13): sentences keyed by text, lenient TP per prediction, FN by identity."""
    gold_by_text: dict[str, set] = {}
    pred_by_text: dict[str, set] = {}
    for key, g_sent, p_sent in zip(keys, gold, pred):  # a repeated text keeps its last occurrence
        gold_by_text[key] = set(g_sent)
        pred_by_text[key] = {(t.strip(), c) for t, c in p_sent}
    per: dict[str, dict[str, _Counts]] = {"strict": {}, "lenient": {}}

    def add(mode: str, pairs: Iterable[tuple[str, str]], field: str) -> None:
        for _, category in pairs:
            counts = per[mode].setdefault(category, _Counts())
            setattr(counts, field, getattr(counts, field) + 1)

    for key, truth in gold_by_text.items():
        predicted = pred_by_text[key]
        for mode in MODES:
            add(mode, truth, "support")
        strict = truth & predicted
        add("strict", strict, "tp")
        add("strict", predicted - strict, "fp")
        add("strict", truth - strict, "fn")
        lenient = {(p, c) for p, c in predicted
                   if any(gc == c and word_overlap(p, g, "paper") > 0.5 for g, gc in truth)}
        add("lenient", lenient, "tp")
        add("lenient", predicted - lenient, "fp")
        add("lenient", truth - lenient, "fn")
    return per


def _summarise(per: Mapping[str, _Counts], names: Sequence[str], macro: str) -> dict:
    per = {name: per.get(name, _Counts()) for name in sorted(set(names) | set(per))}
    total = _Counts(*(sum(getattr(c, f) for c in per.values()) for f in ("tp", "fp", "fn", "support")))
    per_category = {k: c.scores() for k, c in per.items()}
    averaged = list(per) if macro == "all" else [k for k, c in per.items() if c.present]
    if averaged:
        macro_scores = {key: sum(per_category[k][key] for k in averaged) / len(averaged)
                        for key in ("precision", "recall", "f1")}
    else:
        macro_scores = {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    return {"micro": total.scores(), "macro": macro_scores, "macro_categories": averaged,
            "per_category": per_category}


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ParameterError(f"{name} must be one of {', '.join(map(repr, choices))}. Got {value!r} instead.")


def evaluate_spans(gold: Sequence[Narrative] | Mapping[str, Narrative],
                   predicted: Mapping[str, Sequence[set[tuple[str, str]]] | Narrative], *,
                   level: str = "category", hierarchy: LabelHierarchy | None = None,
                   on_unknown: str = "error", lenient: str = "paper", macro: str = "all") -> dict:
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
    hierarchy : LabelHierarchy | None
        The labels and their categories; ``None`` (default) for the paper's 48 labels and 12 categories.
    on_unknown : {"error", "drop"}
        A predicted label outside the hierarchy raises (default) or is left out and counted
        (the notebook leaves such predictions out silently).
    lenient : {"paper", "one-to-one"}
        The notebook's counting (default; see the module docstring) or Bitbox's stricter
        one-to-one matching of every sentence occurrence.
    macro : {"all", "present"}
        Average over all the categories (labels at ``level="label"``) of the hierarchy, absent
        ones scoring 0 (default, the notebook's), or over those in the gold or the predictions.

    Returns
    -------
    dict
        ``{"strict": {"micro", "macro", "macro_categories", "per_category"}, "lenient": {...},
        "lenient_rule", "macro_over", "level", "n_files", "n_sentences", "duplicate_sentences",
        "missing_predictions", "extra_predictions", "dropped_predictions"}``; scores hold
        ``precision``, ``recall``, ``f1`` (micro and per category also ``tp``, ``fp``, ``fn`` and
        ``support``, the number of gold pairs). ``duplicate_sentences``: sentences whose text
        repeats an earlier one (scored once under ``lenient="paper"``).

    Raises
    ------
    ParameterError
        ``on_unknown``, ``lenient`` or ``macro`` is not one of its choices, or a sequence of gold
        narratives repeats a name.
    AnnotationError
        A predicted narrative's content differs from its gold file's, per-sentence predictions hold
        another number of sentences than the gold file, or a label is unknown with ``on_unknown="error"``.
    """
    hierarchy = hierarchy or default_hierarchy()
    _check_choice("on_unknown", on_unknown, ("error", "drop"))
    _check_choice("lenient", lenient, LENIENT_RULES)
    _check_choice("macro", macro, MACRO_OVER)
    paper = lenient == "paper"
    if isinstance(gold, Mapping):
        gold_map = dict(gold)
    else:
        gold_map = {n.name: n for n in gold}
        if len(gold_map) != len(gold):
            raise ParameterError("Gold narratives need distinct names (their file stems).")
    keys: list[str] = []
    gold_sets: list[set] = []
    pred_sets: list[set] = []
    missing, dropped = [], []
    for name in sorted(gold_map):
        g = sentence_terms(gold_map[name], hierarchy=hierarchy, level=level, strip=not paper)
        keys.extend(s.text.strip() for s in gold_map[name].sentences())
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
            p = sentence_terms(item, hierarchy=hierarchy, level=level, on_unknown=on_unknown, dropped=dropped,
                               strip=not paper)
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
    per = _count_paper(keys, gold_sets, pred_sets) if paper else _count_one_to_one(gold_sets, pred_sets)
    names = hierarchy.names(level)
    result: dict = {mode: _summarise(per[mode], names, macro) for mode in MODES}
    result.update({"lenient_rule": lenient, "macro_over": macro, "level": level, "n_files": len(gold_map),
                   "n_sentences": len(gold_sets), "duplicate_sentences": len(keys) - len(set(keys)),
                   "missing_predictions": missing,
                   "extra_predictions": sorted(set(predicted) - set(gold_map)),
                   "dropped_predictions": len(dropped)})
    return result


# ---------------------------------------------------------------------------- LLM outputs
@dataclass
class LlmSentence:
    """One parsed LLM answer: the sentence text, its ``(start, end, term, label)`` annotations, and
    how many annotations were unreadable (left out, as the notebook leaves them out).

    Parameters
    ----------
    text : str
        The sentence as the answer's ``text =`` gives it (``""`` when the block has none).
    annotations : list of (int, int, str, str)
        ``(start, end, term, label)`` of each readable annotation, character offsets as the model wrote
        them; identical ones are kept once and those with ``start == end`` dropped.
    unparsed : int
        Annotations in the block that could not be read (default 0).
    """

    text: str
    annotations: list[tuple[int, int, str, str]]
    unparsed: int = 0


def _field(block: str, key: str, stop: str) -> str:
    """The text after the first ``key`` (and before any second one) up to ``stop``, stripped."""
    return block.split(key)[1].split(stop)[0].strip()


def _nested_annotations(block: str) -> tuple[list[tuple[int, int, str, str]], int]:
    """The nested form ``Annotation = { AnnotationStart = 2, AnnotationEnd = 16, Term = "...",
    Label = "...", ...}``, read field by field as the notebook does (cell 4)."""
    found, unparsed = [], 0
    for part in block.split("Annotation = {")[1:]:
        try:
            start = int(_field(part, "AnnotationStart = ", ","))
            end = int(_field(part, "AnnotationEnd = ", ","))
            term = _field(part, 'Term = "', '",')
            label = _field(part, 'Label = "', '",')
        except (IndexError, ValueError):
            unparsed += 1
            continue
        if '"' in label or "\n" in label:  # no '",' after the label: the notebook reads junk and drops it
            unparsed += 1
        elif start != end:
            found.append((start, end, term, label))
    return found, unparsed


def _parse_block(block: str) -> LlmSentence:
    block = block.replace('\\"', '"').replace("\\'", "'")
    text_match = _BLOCK_TEXT.search(block) or _BLOCK_TEXT_ONLY.search(block)
    standard = list(_ANNOTATION.finditer(block))
    unparsed = len(_ANNOTATION_OPEN.findall(block)) - len(standard)
    annotations = [(int(m["start"]), int(m["end"]), m["term"].strip(), m["label"].strip()) for m in standard]
    annotations = [a for a in annotations if a[0] != a[1]]
    if "Annotation =" in block:
        nested, bad = _nested_annotations(block)
        annotations += nested
        unparsed += bad
    unique = list(dict.fromkeys(annotations))  # the notebook keeps the first of identical (start, end, term, label)
    return LlmSentence(text_match["text"] if text_match else "", unique, unparsed)


def parse_llm_output(output: str) -> list[LlmSentence]:
    """Parse answers in the paper's format, one block per sentence, as the notebook (cell 4).

    A block reads::

        ( text ="I made breakfast." annotations = { Annotation(start=2, end=16, term="made breakfast",
          label="action"), ... } )

    Blocks may follow one another in one string; an empty ``annotations = { }`` is a sentence
    without spans. Escaped quotes (``\\"``) are read as quotes; terms and labels are stripped;
    annotations with ``start == end`` are dropped, and identical ``(start, end, term, label)``
    kept once. The nested form the fine-tuned model sometimes writes, ``Annotation = {
    AnnotationStart = 2, AnnotationEnd = 16, Term = "made breakfast", Label = "action", }``,
    is read too, field by field as the notebook reads it. Single quotes are accepted besides
    double ones (the notebook reads double quotes only).

    Parameters
    ----------
    output : str
        The model's answers: blocks starting ``( text =``; a text without any block but with
        annotations is read as one block.

    Returns
    -------
    list of LlmSentence
        One per block, in order (empty when the output holds no block).
    """
    starts = [m.start() for m in re.finditer(r"\(\s*text\s*=", output)]
    if not starts and ("Annotation(" in output or "Annotation =" in output):
        starts = [0]
    blocks = [output[a:b] for a, b in zip(starts, starts[1:] + [len(output)])]
    return [_parse_block(block) for block in blocks]


def _norm(text: str) -> str:
    return " ".join(text.split())


def read_llm_predictions(path: str | Path, gold: Narrative) -> list[set[tuple[str, str]]]:
    """An LLM's answers for one narrative (a text file of blocks), as per-sentence sets aligned to ``gold``.

    Each block is put on the gold sentence with the same text (whitespace aside); sentences
    without a block have no predictions; a block whose text matches no sentence is an error.
    Unreadable annotations are left out (as the notebook does) and their number is logged.

    Parameters
    ----------
    path : str | Path
        The UTF-8 text file of the model's answers (see :func:`parse_llm_output`).
    gold : Narrative
        The gold narrative the answers are for; its sentences are the alignment's targets.

    Returns
    -------
    list of set of (str, str)
        Per gold sentence, the predicted ``(term, label)`` pairs (labels as written, not checked here).

    Raises
    ------
    AnnotationError
        A block's text matches no sentence of ``gold``.
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
    unparsed = sum(b.unparsed for b in blocks)
    if unparsed:
        logger.warning("%s: %d annotation(s) in a form neither Annotation(start=, end=, term=, label=) nor the "
                       "nested AnnotationStart/AnnotationEnd/Term/Label one; left out, as the paper's notebook "
                       "leaves them out.", path, unparsed)
    return out


def read_predictions(folder: str | Path, gold: Iterable[Narrative]) -> dict[str, object]:
    """Predictions for the gold narratives from a folder: ``NAME.json`` (annotation JSON) or
    ``NAME.txt`` (LLM answers), matched to the gold files by name. Files without a gold
    partner are returned too (they become ``extra_predictions``); labels are checked by
    :func:`evaluate_spans`.

    Parameters
    ----------
    folder : str | Path
        The folder of predictions (not searched recursively; other files are ignored).
    gold : iterable of Narrative
        The gold narratives, named after their file stems; a ``.txt`` file is aligned to its namesake.

    Returns
    -------
    dict of str to object
        File stem -> a :class:`~bitbox.processors.narrative_format.Narrative` (from ``.json``) or per-sentence
        sets of ``(term, label)`` (from ``.txt``; an empty list when no gold narrative has that name).

    Raises
    ------
    AnnotationError
        ``folder`` is not a folder, an annotation JSON is malformed, or an LLM block matches no gold sentence.
    """
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
