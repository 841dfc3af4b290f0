"""Corpus handling: the file-level 70/10/20 split stratified by entity counts (Khanna, Bhatt et al. 2025)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from bitbox.errors import ParameterError
from bitbox.processors.narrative_format import Narrative

__all__ = ["split_narratives", "PARTS"]

PARTS = ("train", "validation", "test")


def _pick_stratified(order: list[str], n_pick: int, rng: np.random.Generator) -> list[str]:
    """One random member of each of ``n_pick`` equal-size consecutive strata of ``order``."""
    if n_pick == 0:
        return []
    edges = np.linspace(0, len(order), n_pick + 1)
    picks = []
    for i in range(n_pick):
        low, high = int(np.floor(edges[i])), max(int(np.floor(edges[i + 1])), int(np.floor(edges[i])) + 1)
        picks.append(order[int(rng.integers(low, min(high, len(order))))])
    return picks


def split_narratives(narratives: Sequence[Narrative], *, fractions: Sequence[float] = (0.7, 0.1, 0.2),
                     seed: int = 42) -> dict[str, str]:
    """Assign each narrative (file) to ``train``, ``validation`` or ``test``.

    Files are ranked by their number of annotated entities (ties broken at random); the
    test files are one random file from each of ``n_test`` equal-size quantile strata of
    that ranking, then the validation files likewise from the rest, so every part spans
    the range of entity counts. The split depends only on the files (not on their order)
    and the seed.

    Parameters
    ----------
    narratives : sequence of Narrative
        With distinct ``name``\\ s (the file stems).
    fractions : (train, validation, test)
        Summing to 1; the counts are rounded (at least one validation and one test file
        when there are three files or more).
    seed : int
        Seed of the tie-breaking and of the pick within each stratum (default 42): the same files and
        seed give the same split.

    Returns
    -------
    dict
        ``{name: part}``.

    Raises
    ------
    ParameterError
        The names are missing or not distinct, ``fractions`` are not three non-negative numbers summing
        to 1, there are fewer than 3 narratives, or too few to leave any for training.
    """
    names = [n.name for n in narratives]
    if len(set(names)) != len(names) or not all(names):
        raise ParameterError("Every narrative needs a distinct name (its file stem) to be split by file.")
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not np.isclose(sum(fractions), 1.0):
        raise ParameterError(f"fractions must be three non-negative numbers summing to 1. Got {tuple(fractions)}.")
    n = len(narratives)
    if n < 3:
        raise ParameterError(f"Splitting by file needs at least 3 annotated narratives. Got {n}.")
    n_test = max(1, int(round(fractions[2] * n))) if fractions[2] > 0 else 0
    n_val = max(1, int(round(fractions[1] * n))) if fractions[1] > 0 else 0
    if n_test + n_val >= n:
        raise ParameterError(f"{n} narratives are too few for the fractions {tuple(fractions)}: nothing is left "
                             "to train on.")
    rng = np.random.default_rng(seed)
    narratives = sorted(narratives, key=lambda x: x.name)  # the split depends on the files, not their order
    names = [x.name for x in narratives]
    counts = np.array([len(x.spans) for x in narratives], dtype=float)
    tie = rng.random(n)
    order = [names[i] for i in np.lexsort((tie, counts))]
    test = _pick_stratified(order, n_test, rng)
    rest = [x for x in order if x not in set(test)]
    validation = _pick_stratified(rest, n_val, rng)
    part = dict.fromkeys(names, "train")
    part.update(dict.fromkeys(test, "test"))
    part.update(dict.fromkeys(validation, "validation"))
    return part
