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
from ._common import NO_VALID_SAMPLES, as_signal, check_fps, finish, nan_mean, report_nan

__all__ = ["coordination", "imitation", "lagged_correlation"]


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r between matching rows of a and b (NaN when a row is constant or has NaN)."""
    varies = (np.ptp(a, axis=1) > 0) & (np.ptp(b, axis=1) > 0)  # exactly constant: r undefined (not rounding noise)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        a = a - a.mean(axis=1, keepdims=True)
        b = b - b.mean(axis=1, keepdims=True)
        denom = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
        return np.where(varies & (denom > 0), np.clip((a * b).sum(axis=1) / denom, -1.0, 1.0), np.nan)


def _lagged(x, y, fps: float, window_s: float, max_lag_s: float, step_s: float | None,
            min_lag_s: float | None) -> tuple[dict[str, np.ndarray], tuple[str, str] | None]:
    """The windowed lagged correlations and, when no window gives a correlation, ``(kind, reason)``."""
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
        needed = max_lag + window + max(0, -min_lag)
        reason = ("too_short", f"the signals ({len(x)} samples, {len(x) / fps:.2f} s) are shorter than one window "
                               f"with its lags (window_s={window_s:g} and max_lag_s={max_lag_s:g} need {needed} "
                               f"samples, {needed / fps:.2f} s)")
        return {"lags_s": lags / fps, "window_start_s": np.empty(0), "r": np.empty((0, lags.size))}, reason
    xw = np.stack([x[s:s + window] for s in starts])
    r = np.empty((starts.size, lags.size))
    for k, lag in enumerate(lags):
        yw = np.stack([y[s - lag:s - lag + window] for s in starts])
        r[:, k] = _pearson_rows(xw, yw)
    reason = None
    if not np.isfinite(r).any():
        if not np.isfinite(x).any() or not np.isfinite(y).any():
            reason = NO_VALID_SAMPLES
        elif np.isfinite(x).all() and np.isfinite(y).all():
            reason = ("no_variation", "x or y is constant in every window: there is no correlation to measure")
        else:
            reason = ("gaps", "every window is constant or has missing samples (NaN) in x or y, at every lag")
    return {"lags_s": lags / fps, "window_start_s": starts / fps, "r": r}, reason


def lagged_correlation(x, y, *, fps: float, window_s: float = 0.5, max_lag_s: float = 1.0,
                       step_s: float | None = None, min_lag_s: float | None = None) -> dict[str, np.ndarray]:
    """Windowed Pearson correlation of ``x(t)`` with ``y(t - lag)`` for each lag.

    Parameters
    ----------
    x, y : array, shape (n_samples,)
        Time-aligned signals (NaN where missing).
    fps : float
    window_s, max_lag_s, step_s : float
        See :func:`coordination`.
    min_lag_s : float | None
        Smallest lag (default ``-max_lag_s``).

    Returns
    -------
    dict
        ``lags_s`` (n_lags,), ``window_start_s`` (n_windows,), ``r`` (n_windows, n_lags).

    Notes
    -----
    ``r`` is NaN for a window and lag where either window has a NaN or is constant. A
    series shorter than one window plus its lags has no window: ``window_start_s`` is
    empty and ``r`` has shape (0, n_lags), with a reason. A ``window_s`` of fewer than 3
    samples and signals of different lengths are ParameterErrors.
    """
    result, reason = _lagged(x, y, fps, window_s, max_lag_s, step_s, min_lag_s)
    if reason is not None:
        report_nan("lagged_correlation", ("r",), reason[1], reason[0])
    return result


_SCALARS = ("r_mean", "r_sd", "lag_s_mean", "lag_s_sd", "peak_lag_s")


def _summarise(function: str, result: dict[str, np.ndarray],
               reason: tuple[str, str] | None) -> dict[str, object]:
    r = result["r"]
    usable = np.isfinite(r).any(axis=1)
    if not usable.any():
        out = {**dict.fromkeys(_SCALARS, math.nan), "lags_s": result["lags_s"],
               "r_by_lag": np.full(r.shape[1], np.nan)}
        return finish(function, out, dict.fromkeys(_SCALARS, reason))
    best = np.argmax(np.where(np.isfinite(r[usable]), r[usable], -np.inf), axis=1)
    r_best = r[usable][np.arange(best.size), best]
    lag_best = result["lags_s"][best]
    r_by_lag = nan_mean(r, axis=0)
    peak = int(np.argmax(np.where(np.isfinite(r_by_lag), r_by_lag, -np.inf)))
    out = {"r_mean": float(r_best.mean()), "r_sd": float(r_best.std()), "lag_s_mean": float(lag_best.mean()),
           "lag_s_sd": float(lag_best.std()), "peak_lag_s": float(result["lags_s"][peak]),
           "lags_s": result["lags_s"], "r_by_lag": r_by_lag}
    return finish(function, out, {})


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
        correlation per lag, shape (n_lags,); NaN for a lag without any usable window).

    Notes
    -----
    Windows where ``x`` or ``y`` has a NaN, or is constant, give no correlation and are
    skipped. The five scalars are NaN (with a reason) when the signals are shorter than
    one window plus its lags (``window_s + max_lag_s`` seconds, and ``max_lag_s`` more for
    the negative lags), or when every window is constant or has a gap. A single usable
    window gives SDs of 0.
    """
    return _summarise("coordination", *_lagged(x, y, fps, window_s, max_lag_s, step_s, None))


def imitation(x, y, *, fps: float, window_s: float = 0.5, max_lag_s: float = 1.0,
              step_s: float | None = None) -> dict[str, object]:
    """One-sided coordination: how much ``x`` follows ``y`` (lags 0 to ``max_lag_s``).

    Same outputs as :func:`coordination`, with lags restricted to ``x`` following ``y``.

    Notes
    -----
    As :func:`coordination`; the signals need ``window_s + max_lag_s`` seconds.
    """
    return _summarise("imitation", *_lagged(x, y, fps, window_s, max_lag_s, step_s, 0.0))
