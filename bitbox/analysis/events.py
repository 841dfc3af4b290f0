"""Runs of True values in 0/1 time series (blinks, gestures, stretches with a face)."""
from __future__ import annotations

import numpy as np

__all__ = ["runs", "longest_run"]


def runs(mask) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop indices (stop exclusive) of each run of True (non-zero) values.

    >>> runs([0, 1, 1, 0, 1])
    (array([1, 4]), array([3, 5]))
    """
    edges = np.diff(np.r_[0, np.asarray(mask).astype(bool).astype(np.int8), 0])
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def longest_run(mask) -> slice:
    """The longest run of True values as a slice (empty slice when there is none)."""
    starts, stops = runs(mask)
    if not starts.size:
        return slice(0, 0)
    k = int(np.argmax(stops - starts))
    return slice(int(starts[k]), int(stops[k]))
