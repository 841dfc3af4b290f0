"""Coordination and imitation: windowed, lagged correlation between two signals.

Both signals are cut into windows (``window_s`` long, advancing by ``step_s``); in each
window the Pearson correlation between ``x`` and ``y`` shifted by every lag up to
``max_lag_s`` is computed, and the lag with the largest correlation kept. Coordination
allows lags in both directions; imitation only lets ``x`` follow ``y`` (``x(t)`` resembles
``y(t - lag)``, lag >= 0).
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError
from ._common import as_signal, check_fps

__all__ = ["coordination", "imitation", "lagged_correlation"]


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r between matching rows of a and b (NaN when a row is constant or has NaN)."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denom = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (a * b).sum(axis=1) / denom, np.nan)


def lagged_correlation(x, y, *, fps: float, window_s: float = 0.5, max_lag_s: float = 1.0,
                       step_s: float | None = None, min_lag_s: float | None = None) -> dict[str, np.ndarray]:
    """Windowed Pearson correlation of ``x(t)`` with ``y(t - lag)`` for each lag.

    Returns
    -------
    dict
        ``lags_s`` (n_lags,), ``window_start_s`` (n_windows,), ``r`` (n_windows, n_lags).
    """
    fps = check_fps(fps)
    x = as_signal(x, "x", ndim=(1,))
    y = as_signal(y, "y", ndim=(1,))
    if len(x) != len(y):
        raise ParameterError(f"x and y must have the same length (time-aligned). Got {len(x)} and {len(y)}.")
    window = int(round(window_s * fps))
    if window < 3:
        raise ParameterError(f"window_s={window_s} is fewer than 3 samples at {fps:g} fps.")
    step = max(1, int(round((step_s if step_s is not None else window_s / 2) * fps)))
    max_lag = int(round(max_lag_s * fps))
    min_lag = -max_lag if min_lag_s is None else int(round(min_lag_s * fps))
    lags = np.arange(min_lag, max_lag + 1)
    starts = np.arange(max_lag, len(x) - window - max(0, -min_lag) + 1, step)
    if starts.size == 0:
        raise ParameterError(f"The signals ({len(x) / fps:.2f} s) are too short for window_s={window_s} and "
                             f"max_lag_s={max_lag_s}.")
    xw = np.stack([x[s:s + window] for s in starts])
    r = np.empty((starts.size, lags.size))
    for k, lag in enumerate(lags):
        yw = np.stack([y[s - lag:s - lag + window] for s in starts])
        r[:, k] = _pearson_rows(xw, yw)
    return {"lags_s": lags / fps, "window_start_s": starts / fps, "r": r}


def _summarise(result: dict[str, np.ndarray]) -> dict[str, object]:
    r = result["r"]
    usable = np.isfinite(r).any(axis=1)
    if not usable.any():
        return {"r_mean": math.nan, "r_sd": math.nan, "lag_s_mean": math.nan, "lag_s_sd": math.nan,
                "peak_lag_s": math.nan, "lags_s": result["lags_s"], "r_by_lag": np.full(r.shape[1], np.nan)}
    best = np.nanargmax(np.where(np.isfinite(r[usable]), r[usable], -np.inf), axis=1)
    r_best = r[usable][np.arange(best.size), best]
    lag_best = result["lags_s"][best]
    with np.errstate(invalid="ignore"):
        r_by_lag = np.nanmean(r, axis=0)
    return {"r_mean": float(r_best.mean()), "r_sd": float(r_best.std()), "lag_s_mean": float(lag_best.mean()),
            "lag_s_sd": float(lag_best.std()), "peak_lag_s": float(result["lags_s"][np.nanargmax(r_by_lag)]),
            "lags_s": result["lags_s"], "r_by_lag": r_by_lag}


def coordination(x, y, *, fps: float, window_s: float = 0.5, max_lag_s: float = 1.0,
                 step_s: float | None = None) -> dict[str, object]:
    """Two-sided coordination of two time-aligned signals.

    Parameters
    ----------
    x, y : array, shape (n_samples,)
        Time-aligned signals (e.g. the head yaw of two people), sampled at ``fps``.
    fps : float
    window_s : float
        Window length in seconds (default 0.5, as in Bitbox).
    max_lag_s : float
        Largest lag considered, in each direction.
    step_s : float | None
        Window step (default half a window).

    Returns
    -------
    dict
        ``r_mean``, ``r_sd``: mean and SD over windows of the best correlation;
        ``lag_s_mean``, ``lag_s_sd``: of the best lag (> 0: x follows y); ``peak_lag_s``:
        the lag with the highest mean correlation; ``lags_s`` and ``r_by_lag`` (the mean
        correlation per lag).
    """
    return _summarise(lagged_correlation(x, y, fps=fps, window_s=window_s, max_lag_s=max_lag_s, step_s=step_s))


def imitation(x, y, *, fps: float, window_s: float = 0.5, max_lag_s: float = 1.0,
              step_s: float | None = None) -> dict[str, object]:
    """One-sided coordination: how much ``x`` follows ``y`` (lags 0 to ``max_lag_s``).

    Same outputs as :func:`coordination`, with lags restricted to ``x`` following ``y``.
    """
    return _summarise(lagged_correlation(x, y, fps=fps, window_s=window_s, max_lag_s=max_lag_s, step_s=step_s,
                                         min_lag_s=0.0))
