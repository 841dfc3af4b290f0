"""Runs of True values in 0/1 time series (blinks, gestures, stretches with a face)."""
from __future__ import annotations

import numpy as np

__all__ = ["runs", "longest_run"]


def _as_mask(mask) -> np.ndarray:
    """A 1-D bool array: non-zero is True; NaN (unknown) is False."""
    values = np.asarray(mask)
    if values.dtype.kind in "fc":
        values = np.where(np.isnan(values), 0, values)
    return np.atleast_1d(values.astype(bool)).ravel()


def runs(mask) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop indices (stop exclusive) of each run of True (non-zero) values.

    Parameters
    ----------
    mask : array, shape (n_samples,)
        0/1 or bool series (any length, also 0 or 1).

    Returns
    -------
    starts : array of int, shape (n_runs,)
        The index of each run's first True sample.
    stops : array of int, shape (n_runs,)
        The index after each run's last True sample.

    Notes
    -----
    A NaN sample (unknown, e.g. no face) counts as False: it ends a run. Never NaN: a mask
    without a True value has no runs (two empty arrays).

    Examples
    --------
    >>> runs([0, 1, 1, 0, 1])
    (array([1, 4]), array([3, 5]))
    """
    edges = np.diff(np.r_[0, _as_mask(mask).astype(np.int8), 0])
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def longest_run(mask) -> slice:
    """The longest run of True values as a slice (the first one on ties).

    Parameters
    ----------
    mask : array, shape (n_samples,)
        0/1 or bool series.

    Returns
    -------
    slice
        The run's samples.

    Notes
    -----
    An empty slice ``slice(0, 0)`` when there is no True value (also for an empty mask);
    NaN counts as False (see :func:`runs`).
    """
    starts, stops = runs(mask)
    if not starts.size:
        return slice(0, 0)
    k = int(np.argmax(stops - starts))
    return slice(int(starts[k]), int(stops[k]))
