"""Jitter and shimmer from glottal pulses, computed as Praat computes them, on pulses gathered block by block.

Praat's voice report measures jitter on a PointProcess (the pulses of ``To PointProcess (cc)``) and
shimmer on the peak amplitudes of its periods (``To AmplitudeTier (period)``). Both are sums over
neighbouring periods, so a long recording can be analysed in blocks: each block's pulses (found on the
block with context) and their amplitudes (measured on the block's samples) are kept, joined, and the
measures computed once on the join, with Praat's formulas (Boersma & Weenink, Praat source
``PointProcess.cpp``, ``VoiceAnalysis.cpp``, ``AmplitudeTier.cpp``):

- a *period* is an interval between consecutive pulses from ``shortest_period`` to ``longest_period``
  (s); the mean period counts the periods that are not more than ``max_period_factor`` times as long
  or as short as both of their neighbours;
- jitter (local, RAP, PPQ5) averages, over the runs of 2, 3 or 5 consecutive periods that are all
  periods and whose neighbours differ by at most ``max_period_factor``, the absolute difference of
  consecutive periods (local) or of the middle period from the run's mean (RAP, PPQ5), divided by the
  mean period;
- a pulse's amplitude is the RMS of the sound under an asymmetric Hann window reaching 0.2 of the
  period on each side (pulses with valid periods on both sides only); shimmer (local, APQ3, APQ5)
  averages, over runs of 2, 3 or 5 consecutive amplitudes whose pulses are a period apart and whose
  neighbours differ by at most ``max_amplitude_factor``, the absolute difference of consecutive
  amplitudes (local) or of the middle one from the run's mean, divided by the mean amplitude of all
  pulses but the last.

On the whole recording's pulses these equal Praat's ``Get jitter (...)`` and ``Get shimmer (...)``
(tested to 1e-9 relative).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["pulse_amplitudes", "jitter", "shimmer", "period_ok"]


def period_ok(periods: np.ndarray, shortest_period: float, longest_period: float) -> np.ndarray:
    """Whether each interval counts as a period (within the bounds, positive)."""
    return (periods > 0) & (periods >= shortest_period) & (periods <= longest_period)


def _factor(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """max(a, b) / min(a, b), elementwise."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a > b, a / b, b / a)


def _mean_period(pulses: np.ndarray, shortest_period: float, longest_period: float,
                 max_period_factor: float) -> float:
    """Praat's PointProcess_getMeanPeriod over the whole pulse train."""
    periods = np.diff(pulses)
    if not len(periods):
        return math.nan
    ok = period_ok(periods, shortest_period, longest_period)
    with np.errstate(divide="ignore", invalid="ignore"):
        prev = np.full(len(periods), np.nan)
        nxt = np.full(len(periods), np.nan)
        prev[1:] = np.where(periods[:-1] > 0, periods[1:] / periods[:-1], np.nan)
        nxt[:-1] = np.where(periods[1:] > 0, periods[:-1] / periods[1:], np.nan)
        prev = np.where(prev < 1, 1 / prev, prev)
        nxt = np.where(nxt < 1, 1 / nxt, nxt)
    if max_period_factor >= 1:
        ok &= ~((prev > max_period_factor) & (nxt > max_period_factor))
    return float(np.mean(periods[ok])) if ok.any() else math.nan



def _mean_deviation(x: np.ndarray, pair_ok: np.ndarray, n: int) -> float | None:
    """Mean absolute difference between each value and the mean of the ``n`` (odd) values centred on it,
    over the windows whose ``n - 1`` consecutive pairs are all valid (``pair_ok[i]``: values ``i``, ``i + 1``);
    ``None`` when there is none (Praat's RAP/PPQ5 and APQ3/APQ5 numerators)."""
    if len(x) < n:
        return None
    windows = np.ones(len(x) - n + 1, dtype=bool)
    for k in range(n - 1):
        windows &= pair_ok[k:len(pair_ok) - (n - 2) + k]
    if not windows.any():
        return None
    neighbours = sum(x[k:len(x) - (n - 1) + k] for k in range(n)) / float(n)
    centre = x[n // 2:len(x) - n // 2]
    return float(np.mean(np.abs(centre - neighbours)[windows]))

def jitter(pulses: np.ndarray, *, shortest_period: float, longest_period: float,
           max_period_factor: float = 1.3) -> dict[str, float]:
    """Jitter (local, RAP, PPQ5) of a pulse train, as Praat's ``Get jitter``.

    Parameters
    ----------
    pulses : np.ndarray
        Pulse times (s), increasing.
    shortest_period, longest_period : float
        Bounds of a period (s).
    max_period_factor : float
        Largest ratio of neighbouring periods.

    Returns
    -------
    dict
        ``jitter_local``, ``jitter_rap``, ``jitter_ppq5`` (fractions; NaN when undefined).
    """
    t = np.asarray(pulses, dtype=np.float64)
    p = np.diff(t)
    out = {"jitter_local": math.nan, "jitter_rap": math.nan, "jitter_ppq5": math.nan}
    if len(p) < 2:
        return out
    mean = _mean_period(t, shortest_period, longest_period, max_period_factor)
    ok = period_ok(p, shortest_period, longest_period)
    pair = ok[:-1] & ok[1:] & (_factor(p[:-1], p[1:]) <= max_period_factor)
    if pair.any():
        out["jitter_local"] = float(np.mean(np.abs(p[:-1] - p[1:])[pair]) / mean)
    for key, n in (("jitter_rap", 3), ("jitter_ppq5", 5)):
        deviation = _mean_deviation(p, pair, n)
        if deviation is not None:
            out[key] = deviation / mean
    return out


def pulse_amplitudes(samples: np.ndarray, sr: int, start_time: float, pulses: np.ndarray, *,
                     shortest_period: float, longest_period: float, max_period_factor: float = 1.3,
                     keep: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Peak amplitudes of the periods, as Praat's ``To AmplitudeTier (period)``.

    Every pulse but the first and the last whose periods on both sides count (within the bounds,
    their ratio at most ``max_period_factor``) gets the RMS of the samples under a Hann window from
    0.2 of the previous period before it to 0.2 of the next period after it (at least 3 samples).

    Parameters
    ----------
    samples : np.ndarray
        Mono samples; sample ``j`` lies at ``start_time + (j + 0.5) / sr`` (Praat's convention).
    sr : int
        Sample rate (Hz).
    start_time : float
        Time of the samples' start (s).
    pulses : np.ndarray
        Pulse times found on these samples (s), increasing.
    shortest_period, longest_period, max_period_factor : float
        As in :func:`jitter`.
    keep : (float, float) | None
        Only pulses in ``[keep[0], keep[1])`` (a block's own time range) are returned.

    Returns
    -------
    times, amplitudes : np.ndarray
        The tier's points.
    """
    t = np.asarray(pulses, dtype=np.float64)
    if len(t) < 3:
        return np.empty(0), np.empty(0)
    p1, p2 = t[1:-1] - t[:-2], t[2:] - t[1:-1]
    mid = t[1:-1]
    ok = (period_ok(p1, shortest_period, longest_period) & period_ok(p2, shortest_period, longest_period)
          & (_factor(p1, p2) <= max_period_factor))
    if keep is not None:
        ok &= (mid >= keep[0]) & (mid < keep[1])
    mid, left, right = mid[ok], 0.2 * p1[ok], 0.2 * p2[ok]
    dx = 1.0 / sr
    x1 = start_time + 0.5 * dx
    first = np.maximum(np.ceil((mid - left - x1) / dx), 0).astype(np.int64)
    last = np.minimum(np.floor((mid + right - x1) / dx), len(samples) - 1).astype(np.int64)
    defined = last - first + 1 >= 3
    amplitudes = np.full(len(mid), np.nan)
    x = np.asarray(samples, dtype=np.float64)
    width = int(np.max(last - first + 1)) if len(mid) else 0
    for chunk in range(0, len(mid), 4096):  # bounded memory
        sl = slice(chunk, chunk + 4096)
        idx = first[sl, None] + np.arange(width)[None, :]
        inside = idx <= last[sl, None]
        idx = np.minimum(idx, len(x) - 1)
        times = x1 + idx * dx
        half = np.where(times < mid[sl, None], left[sl, None], right[sl, None])
        window = np.where(inside, 0.5 + 0.5 * np.cos(np.pi * (times - mid[sl, None]) / half), 0.0)
        values = x[idx] * window
        with np.errstate(invalid="ignore", divide="ignore"):
            amplitudes[sl] = np.sqrt(np.sum(values ** 2, axis=1) / np.sum(window ** 2, axis=1))
    good = defined & np.isfinite(amplitudes) & (amplitudes > 0)
    return mid[good], amplitudes[good]


def shimmer(times: np.ndarray, amplitudes: np.ndarray, *, shortest_period: float, longest_period: float,
            max_amplitude_factor: float = 1.6) -> dict[str, float]:
    """Shimmer (local, APQ3, APQ5) of the period amplitudes, as Praat's ``Get shimmer``.

    Parameters
    ----------
    times, amplitudes : np.ndarray
        The amplitude tier (:func:`pulse_amplitudes`; several blocks' tiers joined).
    shortest_period, longest_period : float
        Bounds of a period (s) between consecutive points.
    max_amplitude_factor : float
        Largest ratio of neighbouring amplitudes.

    Returns
    -------
    dict
        ``shimmer_local``, ``shimmer_apq3``, ``shimmer_apq5`` (fractions; NaN when undefined).
    """
    t = np.asarray(times, dtype=np.float64)
    a = np.asarray(amplitudes, dtype=np.float64)
    out = {"shimmer_local": math.nan, "shimmer_apq3": math.nan, "shimmer_apq5": math.nan}
    if len(a) < 2:
        return out
    denominator = float(np.mean(a[:-1]))
    if denominator == 0:
        return out
    ok = period_ok(np.diff(t), shortest_period, longest_period) & (_factor(a[:-1], a[1:]) <= max_amplitude_factor)
    if ok.any():
        out["shimmer_local"] = float(np.mean(np.abs(a[:-1] - a[1:])[ok]) / denominator)
    for key, n in (("shimmer_apq3", 3), ("shimmer_apq5", 5)):
        deviation = _mean_deviation(a, ok, n)
        if deviation is not None:
            out[key] = deviation / denominator
    return out
