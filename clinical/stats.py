"""Statistics shared by the clinical modules."""
from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["bootstrap_ci", "binary_auc"]


def bootstrap_ci(metric: Callable[[np.ndarray, np.ndarray], float], y_true: np.ndarray, score: np.ndarray, *,
                 n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of ``metric(y_true, score)`` over subjects resampled with replacement.

    Resamples with a single class are skipped (most classification metrics are undefined
    there); ``(nan, nan)`` when every resample is.

    Parameters
    ----------
    metric : callable
        ``metric(y_true, score) -> float``.
    y_true, score : np.ndarray
        One entry per subject (``score`` may be 2-D: one row per subject).
    n_boot : int
        Resamples.
    seed : int
        Seed of the resampling.
    """
    y_true = np.asarray(y_true)
    score = np.asarray(score)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y_true), len(y_true))
        if len(np.unique(y_true[idx])) < 2:
            continue
        values.append(metric(y_true[idx], score[idx]))
    if not values:
        return (float("nan"), float("nan"))
    low, high = np.percentile(values, [2.5, 97.5])
    return (float(low), float(high))


def binary_auc(target: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties counting one half.

    Equals scikit-learn's ``roc_auc_score`` for a 0/1 ``target``, without its input checks
    (fast enough for thousands of bootstrap resamples).

    Parameters
    ----------
    target : np.ndarray
        One 0/1 label per subject (1 = positive class); other values are ignored.
    score : np.ndarray
        One score per subject, same length as ``target``; higher means more likely positive.

    Returns
    -------
    float
        The AUC in [0, 1]; 0.5 is chance. NaN when ``target`` has no positive or no negative.
    """
    target = np.asarray(target)
    score = np.asarray(score, dtype=float)
    positive, negative = score[target == 1], score[target == 0]
    greater = (positive[:, None] > negative[None, :]).mean()
    return float(greater + 0.5 * (positive[:, None] == negative[None, :]).mean())
