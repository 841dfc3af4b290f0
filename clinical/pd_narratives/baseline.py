"""The lexicon baseline: the training set's annotated terms, looked up in new text."""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Sequence

from bitbox.errors import ParameterError
from bitbox.processors.narrative_format import LEVELS, LabelHierarchy, Narrative, Span, default_hierarchy

__all__ = ["LexiconTagger"]


def _normal(term: str) -> str:
    return " ".join(term.lower().split())


def _pattern(term: str) -> re.Pattern:
    words = [re.escape(w) for w in term.split(" ")]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.I)


class LexiconTagger:
    """Tag every occurrence of a term annotated in training with its most frequent category.

    A term enters the lexicon when it was annotated in at least ``min_precision`` of its
    occurrences in the training texts (so "went", annotated once in a hundred uses, stays
    out). Overlapping matches of one category keep the longest. This is the keyword
    baseline a learnt model has to beat.

    Parameters
    ----------
    level : {"category", "label"}
        Tag with the top-level category (default) or the fine label of the training spans.
    min_precision : float
        Smallest share of a term's training occurrences that were annotated (default 0.5).
    hierarchy : LabelHierarchy | None
        The labels and their categories; ``None`` (default) for the paper's 48 labels and 12 categories
        (:func:`~bitbox.processors.narrative_format.default_hierarchy`).

    Attributes
    ----------
    lexicon_ : dict
        ``{term (lower case): label}``.
    """

    def __init__(self, *, level: str = "category", min_precision: float = 0.5,
                 hierarchy: LabelHierarchy | None = None) -> None:
        self.level = level
        self.min_precision = min_precision
        self.hierarchy = hierarchy

    def fit(self, narratives: Sequence[Narrative]) -> "LexiconTagger":
        """Learn the lexicon from annotated narratives.

        Parameters
        ----------
        narratives : sequence of Narrative
            The training narratives with their annotated spans; a term's occurrences are counted,
            case-insensitively and as whole words, over all of their texts.

        Returns
        -------
        LexiconTagger
            This tagger, with ``lexicon_`` set.

        Raises
        ------
        ParameterError
            ``level`` is not one of ``"category"``, ``"label"``, or a span's label is not in the hierarchy.
        """
        if self.level not in LEVELS:
            raise ParameterError(f"level must be one of {LEVELS}. Got {self.level!r} instead.")
        hierarchy = self.hierarchy or default_hierarchy()
        labels: dict[str, Counter] = defaultdict(Counter)
        for narrative in narratives:
            for span in narrative.spans:
                term = _normal(narrative.term(span))
                if term:
                    labels[term][hierarchy.at_level(span.label, self.level)] += 1
        lexicon = {}
        for term, counter in labels.items():
            occurrences = sum(len(_pattern(term).findall(n.content)) for n in narratives)
            annotated = sum(counter.values())
            if occurrences and annotated / occurrences >= float(self.min_precision):
                lexicon[term] = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        self.lexicon_ = dict(sorted(lexicon.items()))
        self._patterns = {term: _pattern(term) for term in self.lexicon_}
        return self

    def predict(self, narratives: Sequence[Narrative | str]) -> list[Narrative]:
        """Narratives with the lexicon's spans (same content and names).

        Parameters
        ----------
        narratives : sequence of (Narrative | str)
            Texts to tag: narratives (their own spans are ignored) or plain strings (unnamed).

        Returns
        -------
        list of Narrative
            One per input, in order: each case-insensitive, whole-word occurrence of a lexicon term
            tagged with its label; of overlapping matches of one label, the longest is kept.

        Raises
        ------
        ParameterError
            The tagger is not fitted.
        """
        if not hasattr(self, "lexicon_"):
            raise ParameterError("This LexiconTagger is not fitted yet: call fit() first.")
        out = []
        for item in narratives:
            narrative = item if isinstance(item, Narrative) else Narrative(str(item))
            found: dict[str, list[tuple[int, int]]] = defaultdict(list)
            for term, label in self.lexicon_.items():
                for match in self._patterns[term].finditer(narrative.content):
                    found[label].append(match.span())
            spans = []
            for label, matches in found.items():
                kept: list[tuple[int, int]] = []
                for b, e in sorted(matches, key=lambda m: (-(m[1] - m[0]), m[0])):
                    if all(e <= kb or b >= ke for kb, ke in kept):
                        kept.append((b, e))
                spans.extend(Span(b, e, label) for b, e in kept)
            out.append(Narrative(narrative.content, sorted(spans), name=narrative.name))
        return out
