"""Expressivity and diversity of expression signals (Bitbox's multiscale peak analysis).

Each signal (e.g. a descriptor such as ``mouth_open`` over time) is filtered with a Mexican-hat
(Ricker) wavelet at several time scales. Every local maximum of the positive part of a
filtered signal is an expressive event at that scale, and the event's *activation* is the
raw signal value at the peak frame. Unusual activations (outside Tukey's 1.5 IQR fences,
when a scale has more than 5 events) are dropped. The events' rate, density and activations
describe how much and how strongly a person expresses; the spread of the events'
activations over signals (entropy) describes how diverse the expressions are.

A time scale ``d`` (seconds) is the duration of the events it looks for: the wavelet has
``sigma = d / 4`` (its positive lobe is ``d / 2`` wide, its whole kernel ``2 d`` long) and
responds most to oscillations of period about ``d``.

This is the original Bitbox definition (compsygroup/bitbox, ``src/bitbox/expressions.py``
``expressivity`` and ``diversity`` and ``src/bitbox/signal_processing/wavelets.py``
``peak_detection``, commit 9a5e32a). ``convention="original"`` reproduces those functions
exactly (PyWavelets' ``cwt(..., 'mexh')`` at scale ``fps d / 4``, as PyWavelets >= 1.9
computes it or, with ``pywavelets_precision=10``, as earlier releases did; the 1-frame
Gaussian smoothing before and after it; counts instead of rates). The default
``convention="bitbox"`` keeps the definition and fixes what is wrong: the fence that drops
real events when the IQR is rounding error, flat-topped maxima the original misses, the
half-sample shift of PyWavelets' discretised kernel, the frame-rate dependence of the
1-frame smoothing, and rates that depend on the recording's length. See
``docs/analyses.md`` for the table.
"""
from __future__ import annotations

import functools
import math
from typing import Sequence

import numpy as np
from scipy.ndimage import convolve1d, gaussian_filter1d
from scipy.signal import find_peaks

from ..errors import ParameterError
from ..log import logger
from ._common import NO_VALID_SAMPLES, as_signal, check_fps, finish, finite_or_nan, report_nan

__all__ = ["ricker_kernel", "min_samples", "multiscale_response", "peak_threshold", "expressivity",
           "peak_activations", "diversity", "scale_label", "original_scales", "DEFAULT_SCALES_S",
           "ORIGINAL_SCALES_S", "CONVENTIONS", "PYWAVELETS_PRECISION"]

CONVENTIONS = ("bitbox", "original")
#: Time scales (s) between 0.1 and 4 s (Bitbox's default).
DEFAULT_SCALES_S = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
#: The original's grid for ``scales=6``: ``linspace(0.1, 4.0, 6)`` (wavelets.py:174); pass
#: ``scales_s=6`` (or any number of scales) for it.
ORIGINAL_SCALES_S = (0.1, 0.88, 1.66, 2.44, 3.22, 4.0)
_STATS = ("frequency", "density", "mean", "std", "min", "max")
#: Responses and IQRs smaller than this fraction of their scale are rounding error.
_ROUNDING = 1e-9
#: The original's outlier rule applies from this many peaks on (expressions.py:163: ``len(idx) > 5``).
_MIN_PEAKS_FOR_FENCE = 6
#: PyWavelets' ``cwt`` samples its wavelet on 2**precision points of [-8, 8]: 12 from
#: PyWavelets 1.9.0 on (August 2025), 10 in earlier releases.
PYWAVELETS_PRECISION = 12
_MEXH_BOUND = 8.0


def _check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ParameterError(f"convention must be one of {CONVENTIONS}. Got {convention!r} instead.")
    return convention


def _check_scale(scale_s) -> float:
    if isinstance(scale_s, bool) or not isinstance(scale_s, (int, float, np.integer, np.floating)) \
            or not math.isfinite(scale_s) or not scale_s > 0:
        raise ParameterError(f"Time scales must be positive numbers of seconds. Got {scale_s!r} instead.")
    return float(scale_s)


def original_scales(n: int) -> tuple[float, ...]:
    """The original's grid of ``n`` scales: ``linspace(0.1, 4.0, n)`` seconds (wavelets.py:174).

    Parameters
    ----------
    n : int
        The number of scales.

    Returns
    -------
    tuple of float
        The scales in seconds.

    Examples
    --------
    >>> [round(s, 2) for s in original_scales(6)]
    [0.1, 0.88, 1.66, 2.44, 3.22, 4.0]
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ParameterError(f"A number of scales must be a positive integer. Got {n!r} instead.")
    return tuple(float(s) for s in np.linspace(0.1, 4.0, num=int(n)))


def _scales(scales_s) -> tuple[float, ...]:
    """Scales in seconds; an integer ``n`` is the original's grid of ``n`` scales."""
    if isinstance(scales_s, (int, np.integer)) and not isinstance(scales_s, bool):
        return original_scales(scales_s)
    if isinstance(scales_s, (str, bytes)) or not hasattr(scales_s, "__len__") or len(scales_s) == 0:
        raise ParameterError(f"scales_s must be a non-empty sequence of seconds or a number of scales. "
                             f"Got {scales_s!r} instead.")
    return tuple(_check_scale(s) for s in scales_s)


def ricker_kernel(scale_s: float, *, fps: float) -> np.ndarray:
    """Mexican-hat kernel for events lasting ``scale_s`` seconds, zero mean, positive lobe summing to 1.

    Parameters
    ----------
    scale_s : float
        Time scale ``d`` in seconds (the duration of the events it looks for).
    fps : float
        Samples per second.

    Returns
    -------
    array, shape (2 * ceil(d fps) + 1,)
        ``k(t) = (1 - t^2 / sigma^2) exp(-t^2 / (2 sigma^2))`` on ``|t| <= 4 sigma``, with
        ``sigma = d fps / 4`` samples (the original's ``mexh`` at PyWavelets scale
        ``fps d / 4``), minus its mean (so that constants give no response), divided by the
        sum of its positive part (so that responses are in the signal's unit).

    Notes
    -----
    A pure function of its parameters: a scale that is not a positive number, or shorter
    than one sample (``d fps < 1``), is a :class:`~bitbox.errors.ParameterError`. Scales
    with ``sigma`` under about half a sample (``d < 2 / fps``) are resolved only coarsely
    (their kernel is a few samples long).
    """
    fps = check_fps(fps)
    scale_s = _check_scale(scale_s)
    if scale_s * fps < 1.0 - 1e-9:
        raise ParameterError(f"The scale {scale_s:g} s is shorter than one sample at {fps:g} fps; "
                             "use larger scales or a higher sampling rate.")
    sigma = scale_s * fps / 4.0
    half = int(math.ceil(4 * sigma - 1e-9))
    t = np.arange(-half, half + 1) / sigma
    kernel = (1 - t ** 2) * np.exp(-t ** 2 / 2)
    kernel -= kernel.mean()  # exact zero mean despite truncation: constants give no response
    return kernel / kernel[kernel > 0].sum()


def min_samples(scale_s: float, *, fps: float, convention: str = "bitbox") -> int:
    """Fewest samples a series needs for a response at ``scale_s``.

    ``bitbox``: the kernel's half-width + 1, ``ceil(d fps) + 1`` (a series a little longer
    than ``d`` seconds). ``original``: ``floor(d fps) + 1``, the original's rule that the
    series must last longer than its largest scale (wavelets.py:189, where it raises).

    Parameters
    ----------
    scale_s : float
        The time scale ``d`` in seconds.
    fps : float
        Samples per second.
    convention : {"bitbox", "original"}
        Whose rule.

    Returns
    -------
    int
        The number of samples.
    """
    _check_convention(convention)
    if convention == "original":
        fps, scale_s = check_fps(fps), _check_scale(scale_s)
        return int(math.floor(scale_s * fps)) + 1
    return len(ricker_kernel(scale_s, fps=fps)) // 2 + 1


# ----------------------------------------------------------------------------- responses
def _bitbox_responses(x: np.ndarray, fps: float,
                      scales_s: Sequence[float]) -> tuple[np.ndarray, dict[int, tuple[str, str]]]:
    """Wavelet responses (n_scales, n_samples), zero padding, and per scale index why it is all NaN."""
    missing = ~np.isfinite(x)
    out = np.full((len(scales_s), len(x)), np.nan)
    kernels = [ricker_kernel(scale, fps=fps) for scale in scales_s]  # parameter errors first
    if missing.all():
        return out, dict.fromkeys(range(len(scales_s)), NO_VALID_SAMPLES)
    finite = x[~missing]
    if finite.max() == finite.min():  # constant: exactly no response (x - mean may round to +-tiny)
        filled = np.zeros(len(x))
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            filled = np.where(missing, 0.0, x - finite.mean())
    why: dict[int, tuple[str, str]] = {}
    for k, (scale, kernel) in enumerate(zip(scales_s, kernels)):
        half = len(kernel) // 2
        if len(x) <= half:
            why[k] = ("too_short", f"the {scale:g} s scale needs at least {half + 1} samples "
                                   f"({(half + 1) / fps:.2f} s at {fps:g} fps) and the series has {len(x)}")
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            out[k] = convolve1d(filled, kernel[::-1], mode="constant", cval=0.0)  # zero padding beyond the ends
        if missing.any():  # NaN wherever the kernel reaches a gap (beyond the ends is padding, not a gap)
            touched = convolve1d(missing.astype(float), np.ones(len(kernel)), mode="constant") > 0.5
            out[k, touched] = np.nan
            if touched.all():
                why[k] = ("gaps", f"the gaps (NaN) leave no stretch long enough for the {scale:g} s scale (a window "
                                  f"of {len(kernel)} samples without NaN, or {half + 1} at either end)")
    return out, why


@functools.lru_cache(maxsize=4)
def _mexh_integral(precision: int) -> tuple[np.ndarray, float]:
    """PyWavelets' integrated ``mexh`` wavelet on ``2**precision`` points of [-8, 8] and its step.

    ``psi(t) = 2 / (sqrt(3) pi^(1/4)) (1 - t^2) exp(-t^2 / 2)``, integrated by a cumulative sum.
    PyWavelets' own table when it is installed (bit for bit the original's); otherwise the
    same formula evaluated like PyWavelets' C code (C library ``exp``), which agrees with it
    on all but a few points of the table, in the last bit.
    """
    try:
        import pywt  # optional: only the original convention can use it
        psi, x = pywt.ContinuousWavelet("mexh").wavefun(precision)
    except ImportError:
        x = np.linspace(-_MEXH_BOUND, _MEXH_BOUND, 2 ** precision)
        norm = math.sqrt(3) * math.sqrt(math.sqrt(math.pi))
        psi = np.array([(1 - t * t) * math.exp(-(t * t) / 2) * 2 / norm for t in x.tolist()])
    step = float(x[1] - x[0])
    integral = np.cumsum(psi)
    integral *= step
    return integral, step


def _pywt_mexh_cwt(signal: np.ndarray, scale: float, precision: int) -> np.ndarray:
    """PyWavelets' ``cwt(signal, [scale], 'mexh')[0][0]`` (method ``conv``).

    PyWavelets samples the integrated wavelet (see :func:`_mexh_integral`) every
    ``1 / scale``, convolves the signal with it (zero padding) and differentiates:
    ``-sqrt(scale) diff(conv)``, cut to the signal's length (``floor`` samples off the start,
    ``ceil`` off the end: a half-sample shift when the kernel has an odd length).
    """
    int_psi, step = _mexh_integral(precision)
    j = (np.arange(scale * (2 * _MEXH_BOUND) + 1) / (scale * step)).astype(int)
    int_psi_scale = int_psi[j[j < int_psi.size]][::-1]
    coef = -np.sqrt(scale) * np.diff(np.convolve(signal, int_psi_scale))
    extra = (coef.size - signal.size) / 2.0
    return coef[math.floor(extra):-math.ceil(extra)] if extra > 0 else coef


def _original_responses(x: np.ndarray, fps: float, scales_s: Sequence[float],
                        precision: int) -> tuple[np.ndarray, dict[int, tuple[str, str]]]:
    """The original's smoothed wavelet coefficients (wavelets.py:192-205) and why they are all NaN."""
    out = np.full((len(scales_s), len(x)), np.nan)
    for scale in scales_s:
        if 16 * fps * scale / 4.0 + 1 < 2:  # PyWavelets: "Selected scale ... too small"
            raise ParameterError(f"The scale {scale:g} s is too small for the original's wavelet at {fps:g} fps "
                                 f"(PyWavelets needs d >= {0.25 / fps:.3g} s).")
    if len(x) / fps <= max(scales_s):
        reason = (f"the original refuses a series that is not longer than its largest scale (ValueError: "
                  f"{len(x) / fps:.2f} s against {max(scales_s):g} s)")
        return out, dict.fromkeys(range(len(scales_s)), ("too_short", reason))
    with np.errstate(invalid="ignore", over="ignore"):
        signal = gaussian_filter1d(x - x.mean(), sigma=1.0, mode="reflect")
        for k, scale in enumerate(scales_s):
            coef = _pywt_mexh_cwt(signal, fps * scale / 4.0, precision)
            out[k] = gaussian_filter1d(coef, sigma=1.0, mode="reflect")
    return out, {}


def _responses(x: np.ndarray, fps: float, scales_s: Sequence[float], convention: str,
               precision: int = PYWAVELETS_PRECISION) -> tuple[np.ndarray, dict[int, tuple[str, str]]]:
    if convention == "original":
        return _original_responses(x, fps, scales_s, precision)
    return _bitbox_responses(x, fps, scales_s)


def _check_precision(precision: int | None, convention: str) -> int:
    """``pywavelets_precision``: only with ``convention="original"``; default :data:`PYWAVELETS_PRECISION`."""
    if precision is None:
        return PYWAVELETS_PRECISION
    if convention != "original":
        raise ParameterError("pywavelets_precision applies to convention='original' only (Bitbox's kernel is "
                             "sampled exactly).")
    if isinstance(precision, bool) or not isinstance(precision, (int, np.integer)) or not 4 <= precision <= 20:
        raise ParameterError(f"pywavelets_precision must be an integer in [4, 20] (12: PyWavelets >= 1.9, 10: "
                             f"earlier releases). Got {precision!r} instead.")
    return int(precision)


def multiscale_response(x, *, fps: float, scales_s: Sequence[float] | int = DEFAULT_SCALES_S,
                        convention: str = "bitbox", pywavelets_precision: int | None = None) -> np.ndarray:
    """Wavelet responses of a signal, shape (n_scales, n_samples); NaN where the window has NaN.

    Parameters
    ----------
    x : array, shape (n_samples,)
        The signal (NaN where missing).
    fps : float
        Samples per second.
    scales_s : sequence of float, or int
        Time scales ``d`` in seconds; an integer ``n`` is the original's grid
        ``linspace(0.1, 4, n)`` (see :func:`original_scales`).
    convention : {"bitbox", "original"}
        ``bitbox``: ``r_d = (x - mean(x)) * k_d`` with :func:`ricker_kernel` ``k_d`` and zero
        padding beyond the ends. ``original``: ``r_d = G1 * cwt_mexh(G1 * (x - mean(x)), fps d / 4)``
        with ``G1`` a Gaussian of 1 frame (mirrored ends) and PyWavelets' discretised
        wavelet (zero padding, a half-sample shift at some scales, a gain of ``sqrt(scale)``).
    pywavelets_precision : int | None
        ``original`` only: the PyWavelets release's wavelet sampling, 12 (default; PyWavelets
        >= 1.9.0) or 10 (earlier releases, which give different events on some inputs).

    Returns
    -------
    array, shape (n_scales, n_samples)
        The response at each scale and sample.

    Notes
    -----
    ``bitbox``: a sample's response is NaN when the kernel centred on it (``2 ceil(d fps) + 1``
    samples; beyond the series' ends is zero padding) reaches a NaN sample. A whole scale is
    NaN, with a reason, when the series has fewer than :func:`min_samples` samples (a little
    more than ``d`` seconds), when the gaps leave no such window, or without any finite
    sample. A constant series gives a response of 0. ``original``: the original propagates
    one NaN to every sample (through the mean); a series not longer than the largest scale,
    which the original refuses (ValueError), is NaN with that reason.
    """
    fps = check_fps(fps)
    _check_convention(convention)
    precision = _check_precision(pywavelets_precision, convention)
    scales = _scales(scales_s)
    x = as_signal(x, ndim=(1,))
    out, why = _responses(x, fps, scales, convention, precision)
    if convention == "original" and not why and np.isnan(x).any():
        why = dict.fromkeys(range(len(scales)), ("gaps", "the original's mean of a series with NaN is NaN, "
                                                         "so its response is NaN everywhere"))
    for k, (kind, reason) in why.items():
        report_nan("multiscale_response", (f"{scale_label(scales[k])}s",), reason, kind)
    return out


# ----------------------------------------------------------------------------- peaks
def _bitbox_maxima(response: np.ndarray, level: float) -> np.ndarray:
    """Local maxima of the positive response (flat tops once), both neighbours defined, above rounding."""
    finite = np.isfinite(response)
    if not finite.any():
        return np.zeros(0, dtype=int)
    floor = _ROUNDING * float(np.max(np.abs(response[finite])))
    values = np.where(finite, response, -np.inf)
    index, _ = find_peaks(values, height=max(level, floor, np.finfo(float).tiny))
    inside = finite[np.maximum(index - 1, 0)] & finite[np.minimum(index + 1, len(response) - 1)]
    return index[inside]


def _original_maxima(response: np.ndarray) -> np.ndarray:
    """The original's peaks (wavelets.py:21-33): where the slope of ``max(r, 0)`` turns from + to -."""
    positive = np.where(response < 0, 0.0, response)
    jumps = np.diff(np.sign(np.diff(np.abs(positive))))
    return np.where(jumps == -2)[0] + 1


def _inliers(values: np.ndarray, convention: str) -> np.ndarray:
    """Tukey's fences, ``[Q1 - 1.5 IQR, Q3 + 1.5 IQR]``, for more than 5 values (basics.py:31-46).

    ``bitbox`` applies no fence when the IQR is rounding error (at most 1e-9 of the quartiles'
    magnitude): identical activations have no spread to judge an outlier by, and a fence of
    width ~1e-16 would drop any real event that differs at all (the original does).
    """
    keep = np.ones(values.size, dtype=bool)
    if values.size < _MIN_PEAKS_FOR_FENCE:
        return keep
    q1, q3 = np.percentile(values, 25), np.percentile(values, 75)
    iqr = q3 - q1
    if convention == "bitbox" and not iqr > _ROUNDING * max(abs(q1), abs(q3)):
        return keep
    return (values >= q1 - 1.5 * iqr) & (values <= q3 + 1.5 * iqr)


def _events(x: np.ndarray, response: np.ndarray, level: float, convention: str) -> np.ndarray:
    """Frames of the retained events of one scale (peaks of the response, outliers removed)."""
    index = _original_maxima(response) if convention == "original" else _bitbox_maxima(response, level)
    return index[_inliers(x[index], convention)]


def _threshold(x: np.ndarray, min_threshold: float) -> float:
    finite = x[np.isfinite(x)]
    if not finite.size:
        return math.nan
    mad = float(np.median(np.abs(finite - np.median(finite))))
    return finite_or_nan(max(0.5 * 1.4826 * mad, float(min_threshold)))


def peak_threshold(x, *, min_threshold: float = 0.0) -> float:
    """A noise-robust peak threshold: half the signal's robust SD (1.4826 x MAD), at least ``min_threshold``.

    Not used by default (every positive maximum is an event, as in the original); pass it as
    ``threshold=`` to :func:`expressivity` to ignore events smaller than the signal's own
    variation. A Bitbox helper: the original has no threshold.

    Parameters
    ----------
    x : array, shape (n_samples,)
        The signal (NaN where missing).
    min_threshold : float
        The smallest threshold returned.

    Returns
    -------
    float
        The threshold.

    Notes
    -----
    A constant signal or a single sample has a MAD of 0 and gives ``min_threshold``. NaN
    (with a reason) without any finite sample.
    """
    level = _threshold(np.asarray(x, dtype=float).ravel(), min_threshold)
    if math.isnan(level):
        report_nan("peak_threshold", ("threshold",), NO_VALID_SAMPLES[1], NO_VALID_SAMPLES[0])
    return level


def _prepare(signals, names: Sequence[str] | None) -> tuple[np.ndarray, list[str]]:
    if names is None and hasattr(signals, "columns"):
        names = [str(c) for c in signals.columns]
    arr = as_signal(signals)
    arr = arr[:, None] if arr.ndim == 1 else arr
    names = list(names) if names is not None else [f"s{i}" for i in range(arr.shape[1])]
    if len(names) != arr.shape[1]:
        raise ParameterError(f"names has {len(names)} entries for {arr.shape[1]} signals.")
    return arr, names


def _level(x: np.ndarray, threshold: float | None, min_threshold: float, convention: str) -> float:
    if convention == "original":
        if threshold is not None or min_threshold != 0:
            raise ParameterError("convention='original' counts every positive peak (it has no threshold): "
                                 "leave threshold and min_threshold unset, or use convention='bitbox'.")
        return 0.0
    return float(min_threshold) if threshold is None else float(threshold)


def _nan_input_warning(function: str, name: str) -> None:
    logger.warning("bitbox.analysis.%s(convention='original'): %s has NaN samples; the original's mean is then "
                   "NaN and it reports 0 for every statistic, as reproduced here (use convention='bitbox' for "
                   "values that skip the gaps)", function, name)


def _stats_bitbox(key: str, scale: float, x: np.ndarray, response: np.ndarray, index: np.ndarray, fps: float,
                  level: float) -> tuple[dict[str, float], dict[str, tuple[str, str]]]:
    valid = int(np.isfinite(response).sum())
    values = x[index]
    with np.errstate(over="ignore", invalid="ignore"):
        result = {f"{key}_frequency": index.size / (valid / fps / 60.0),
                  f"{key}_density": float(values.sum() / valid)}
        for stat, func in (("mean", np.mean), ("std", np.std), ("min", np.min), ("max", np.max)):
            result[f"{key}_{stat}"] = float(func(values)) if values.size else math.nan
    detail = f" above the threshold {level:.3g}" if level > 0 else ""
    reason = ("no_events", f"no expressive events at the {scale:g} s scale (no positive peak of the "
                           f"response{detail})")
    return result, {f"{key}_{stat}": reason for stat in _STATS}


def _stats_original(key: str, x: np.ndarray, index: np.ndarray) -> dict[str, float]:
    """expressions.py:168-179: a count, the sum over the series' length, and 0 without peaks."""
    values = x[index]
    if not values.size:
        return dict.fromkeys((f"{key}_{stat}" for stat in _STATS), 0.0)
    return {f"{key}_frequency": float(values.size), f"{key}_density": float(values.sum() / len(x)),
            f"{key}_mean": float(values.mean()), f"{key}_std": float(values.std()),
            f"{key}_min": float(values.min()), f"{key}_max": float(values.max())}


def expressivity(signals, *, fps: float, scales_s: Sequence[float] | int = DEFAULT_SCALES_S,
                 threshold: float | None = None, min_threshold: float = 0.0,
                 names: Sequence[str] | None = None, convention: str = "bitbox",
                 pywavelets_precision: int | None = None) -> dict[str, float]:
    """Multiscale peak statistics of one or more expression signals.

    Parameters
    ----------
    signals : array, shape (n_samples,) or (n_samples, n_signals), or a DataFrame
        Expression signals sampled at ``fps`` (NaN where unavailable).
    fps : float
        Samples per second.
    scales_s : sequence of float, or int
        Time scales ``d`` in seconds, the duration of the events looked for (default 0.1,
        0.25, 0.5, 1, 2, 4). An integer ``n`` is the original's grid ``linspace(0.1, 4, n)``
        (``6``: 0.1, 0.88, 1.66, 2.44, 3.22, 4; see :data:`ORIGINAL_SCALES_S`).
    threshold : float | None
        Smallest wavelet response (in the signal's unit) counted as an event. Default: none,
        every positive local maximum is an event (as in the original); e.g.
        :func:`peak_threshold` ignores events smaller than the signal's own variation.
    min_threshold : float
        The threshold used when ``threshold`` is None (default 0; e.g. the measurement noise
        of the signal, so that a still signal shows no events).
    names : sequence of str | None
        Signal names (default: the DataFrame's columns, or ``s0``, ``s1``, ...).
    convention : {"bitbox", "original"}
        ``original`` reproduces the original's ``expressivity`` exactly (no threshold then).
    pywavelets_precision : int | None
        ``original`` only: 12 (default) reproduces the original run with PyWavelets >= 1.9.0,
        10 with earlier releases (see :func:`multiscale_response`).

    Returns
    -------
    dict
        For each signal and scale, keys ``<name>_<scale>s_<stat>`` (scales written like
        ``0.25`` -> ``0p25``), always all ``n_signals x n_scales x 6``. With the events'
        activations ``a_i = x[t_i]`` (raw signal values at the peak frames ``t_i``, after the
        outlier fence), ``n`` events and ``N`` frames:

        ============  ==========================================  ============================
        stat          bitbox                                       original
        ============  ==========================================  ============================
        frequency     ``n / (N_valid / fps / 60)``, per minute     ``n`` (a count)
        density       ``sum(a_i) / N_valid``, per frame            ``sum(a_i) / N``
        mean ... max  of ``a_i`` (std with ddof 0); NaN            the same; 0 without events
                      (with the reason) without events
        ============  ==========================================  ============================

        ``N_valid`` is the number of frames whose response is defined (``N`` without gaps),
        so that time near gaps, where no peak can be found, is not counted as time without
        events. On a 60 s recording the frequency equals the original's count.

    Notes
    -----
    Events (both conventions): the frames where the response ``r_d`` (see
    :func:`multiscale_response`) is a local maximum with ``r_d > 0``, i.e. the maxima of
    ``max(r_d, 0)``; the first and last frames never are. With more than 5 events, those
    whose activation lies outside ``[Q1 - 1.5 IQR, Q3 + 1.5 IQR]`` are dropped. Bitbox's
    fixes: a flat-topped maximum counts once (the original misses it), a frame next to a gap
    cannot be a maximum, responses below 1e-9 of the largest are rounding error (not events),
    and the fence is not applied when the IQR is rounding error (the original then drops any
    event that differs at all: 29 instead of 30 events on a clean 60 s, 0.5 Hz sine at 1 s).

    ``bitbox``: all six statistics of a scale are NaN (with the reason) when its response is
    NaN throughout (a series shorter than :func:`min_samples`, gaps that leave no long
    enough stretch, or no finite sample); otherwise ``frequency`` and ``density`` are finite
    (0 without events). ``original``: a series not longer than the largest scale gives NaN
    for all its keys (the original raises ValueError); a series with NaN gives 0 for every
    statistic, as the original does (with a warning).
    """
    fps = check_fps(fps)
    _check_convention(convention)
    precision = _check_precision(pywavelets_precision, convention)
    scales = _scales(scales_s)
    arr, names = _prepare(signals, names)
    result: dict[str, float] = {}
    why: dict[str, tuple[str, str]] = {}
    for column, name in enumerate(names):
        x = arr[:, column]
        level = _level(x, threshold, min_threshold, convention)
        responses, unusable = _responses(x, fps, scales, convention, precision)
        if convention == "original" and not unusable and np.isnan(x).any():
            _nan_input_warning("expressivity", name)
        for k, (scale, response) in enumerate(zip(scales, responses)):
            key = f"{name}_{scale_label(scale)}s"
            if k in unusable:
                for stat in _STATS:
                    result[f"{key}_{stat}"], why[f"{key}_{stat}"] = math.nan, unusable[k]
                continue
            index = _events(x, response, level, convention)
            if convention == "original":
                result.update(_stats_original(key, x, index))
            else:
                stats, reasons = _stats_bitbox(key, scale, x, response, index, fps, level)
                result.update(stats)
                why.update(reasons)
    return finish("expressivity", result, why)


def peak_activations(signals, *, fps: float, scale_s: float, threshold: float | None = None,
                     min_threshold: float = 0.0, convention: str = "bitbox",
                     pywavelets_precision: int | None = None) -> np.ndarray:
    """The events of one scale as an activation matrix, the input of :func:`diversity`.

    Parameters
    ----------
    signals : array, shape (n_samples,) or (n_samples, n_signals), or a DataFrame
        Expression signals (NaN where unavailable).
    fps : float
        Samples per second.
    scale_s : float
        The time scale ``d`` in seconds.
    threshold : float | None
        As in :func:`expressivity`.
    min_threshold : float
        As in :func:`expressivity`.
    convention : {"bitbox", "original"}
        As in :func:`expressivity`.
    pywavelets_precision : int | None
        As in :func:`expressivity`.

    Returns
    -------
    array, shape (n_samples, n_signals)
        ``x[t]`` at each retained event frame ``t`` of each signal (the same events as
        :func:`expressivity`: peaks of the positive response, outliers removed), 0 at the
        other frames (expressions.py:226-244, ``magnitude=True``). ``bitbox``: NaN where the
        response is undefined (gaps, a series too short for the scale), so that
        :func:`diversity` leaves frames without any defined signal out.
    """
    fps = check_fps(fps)
    _check_convention(convention)
    precision = _check_precision(pywavelets_precision, convention)
    scale = _check_scale(scale_s)
    arr, names = _prepare(signals, None)
    out = np.zeros(arr.shape)
    for column, name in enumerate(names):
        x = arr[:, column]
        level = _level(x, threshold, min_threshold, convention)
        responses, unusable = _responses(x, fps, (scale,), convention, precision)
        if convention == "original" and not unusable and np.isnan(x).any():
            _nan_input_warning("peak_activations", name)
        if unusable and convention == "original":
            out[:, column] = np.nan
            continue
        index = _events(x, responses[0], level, convention)
        if convention == "bitbox":
            out[~np.isfinite(responses[0]), column] = np.nan
        out[index, column] = x[index]
    return out


def scale_label(scale_s: float) -> str:
    """``0.25`` -> ``"0p25"``, ``1.0`` -> ``"1"`` (for measure names)."""
    return f"{scale_s:g}".replace(".", "p")


# ----------------------------------------------------------------------------- diversity
def _entropy(p: np.ndarray, base: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    return np.clip(-terms.sum(axis=-1) / math.log(base), 0.0, 1.0)  # rounding must not leave [0, 1]


def _original_log(p: np.ndarray, base: int) -> np.ndarray:
    """basics.py:48-54: ``log_base(p)`` where ``p > 0``, 0 elsewhere (and where it is not finite)."""
    out = np.zeros_like(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[p > 0] = np.log(p[p > 0]) / np.log(base)
    out[~np.isfinite(out)] = 0.0
    return out


def _diversity_original(arr: np.ndarray) -> dict[str, object]:
    """expressions.py:255-270: entropies of ``|a|``, the frame-wise mean over all frames."""
    base = arr.shape[1]
    magnitude = np.asfortranarray(np.abs(arr))  # frames contiguous, as in the original: the same sums, bit for bit
    with np.errstate(invalid="ignore", divide="ignore"):
        total = magnitude.sum(axis=0)
        prob = np.divide(total, total.sum(), out=np.zeros_like(total), where=total.sum() > 0)
        row = magnitude.sum(axis=1, keepdims=True)
        prob_frame = np.divide(magnitude, row, out=np.zeros_like(magnitude), where=row > 0)
        overall = -1 * np.sum(prob * _original_log(prob, base))
        framewise = -1 * np.sum(prob_frame * _original_log(prob_frame, base), axis=1)
    out = {"overall": float(overall), "framewise_mean": float(framewise.mean()) if framewise.size else math.nan,
           "framewise": framewise}
    reason = ("no_data", "there are no frames to average over")
    return finish("diversity", out, {"overall": reason, "framewise_mean": reason})


def diversity(activations, *, names: Sequence[str] | None = None, convention: str = "bitbox") -> dict[str, object]:
    """Entropy of how activation is spread over expression signals (0 one signal, 1 all equal).

    Parameters
    ----------
    activations : array, shape (n_samples, n_signals), or a DataFrame
        Activations, e.g. :func:`peak_activations` (each signal's raw value at its event
        frames, 0 elsewhere), as the original feeds it.
    names : sequence of str | None
        Unused; accepted for symmetry with :func:`expressivity`.
    convention : {"bitbox", "original"}
        ``bitbox``: negative values and NaN count as 0. ``original``: magnitudes ``|a|``
        (expressions.py:256), NaN propagates, no clipping of rounding to [0, 1].

    Returns
    -------
    dict
        With ``p_j = A_j / sum_j A_j`` (``A_j`` the total activation of signal ``j``) and
        ``p_tj = a_tj / sum_j a_tj`` per frame, logarithms in base ``n_signals`` (values in
        [0, 1]): ``overall = -sum_j p_j log p_j``; ``framewise``: the per-frame entropy
        ``H_t = -sum_j p_tj log p_tj``, shape (n_samples,) (NaN for a frame without
        activation; the original gives 0 there); ``framewise_mean``: ``sum_t H_t / T`` over
        all ``T`` frames, frames without activation counting 0 (expressions.py:270; ``bitbox``
        leaves out only frames where every signal is NaN, i.e. unknown).

    Notes
    -----
    ``bitbox``: ``overall`` and ``framewise_mean`` are NaN, with the reason "no activation",
    when no sample has a positive activation (e.g. all NaN, all 0 or a still face; the
    original gives 0 and 0). Fewer than 2 signals is a ParameterError in both conventions
    (the entropy's base would be 1; the original returns 0). Entropy does not depend on the
    activations' scale, so they are divided by their maximum where their sum would overflow.
    """
    _check_convention(convention)
    arr = as_signal(activations, "activations", ndim=(2,))
    n_signals = arr.shape[1]
    if n_signals < 2:
        raise ParameterError("diversity needs at least 2 signals.")
    if convention == "original":
        return _diversity_original(arr)
    a = np.where(np.isfinite(arr) & (arr > 0), arr, 0.0)
    if not np.isfinite(a.sum()):  # only where the sums would overflow: results stay bit-identical otherwise
        a = a / a.max()
    total = a.sum(axis=0)
    overall = float(_entropy(total / total.sum(), n_signals)) if total.sum() > 0 else math.nan
    row_sum = a.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        framewise = np.where(row_sum > 0, _entropy(a / row_sum[:, None], n_signals), np.nan)
    known = np.isfinite(arr).any(axis=1)  # frames where some signal is defined: empty ones count 0
    active = np.isfinite(framewise)
    mean = float(framewise[active].sum() / known.sum()) if active.any() else math.nan
    out = {"overall": overall, "framewise_mean": mean, "framewise": framewise}
    reason = ("no_events", "no activation (every value is 0, negative or NaN)")
    return finish("diversity", out, {"overall": reason, "framewise_mean": reason})
