"""Expressivity and diversity of expression signals (Bitbox's multiscale peak analysis).

Each signal (e.g. a descriptor such as ``mouth_open`` over time) is filtered with Mexican-hat
(Ricker) wavelets at several time scales; the peaks of each filtered signal are the
expressive events at that scale. Unusually high peaks (above Q3 + 3 IQR of a signal's peak
heights, e.g. tracking glitches) are dropped. Their rate, density and activations describe how much and
how strongly a person expresses; the spread of activation over signals (entropy) describes
how diverse the expressions are.

Time scale ``s`` (seconds) is the width of the wavelet's positive lobe, ``2 sigma``: an
event lasting about ``s`` seconds gives the strongest response at scale ``s``. Kernels are
normalised so that their positive lobe sums to 1, so activations are in the signal's unit
(a step of height h under the lobe and 0 around it gives an activation near h).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy.ndimage import convolve1d
from scipy.signal import find_peaks

from ..errors import ParameterError
from ._common import NO_VALID_SAMPLES, as_signal, check_fps, finish, finite_or_nan, report_nan

__all__ = ["ricker_kernel", "min_samples", "multiscale_response", "peak_threshold", "expressivity", "diversity",
           "DEFAULT_SCALES_S"]

#: Time scales (s) between 0.1 and 4 s, as in Bitbox.
DEFAULT_SCALES_S = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
_STATS = ("frequency", "density", "mean", "std", "min", "max")


def ricker_kernel(scale_s: float, *, fps: float) -> np.ndarray:
    """Mexican-hat kernel whose positive lobe lasts ``scale_s`` seconds and sums to 1.

    Parameters
    ----------
    scale_s : float
        Time scale in seconds (the width ``2 sigma`` of the positive lobe).
    fps : float
        Samples per second.

    Returns
    -------
    array, shape (2 * ceil(4 sigma) + 1,)
        The kernel, with ``sigma = scale_s * fps / 2`` samples; zero mean.

    Notes
    -----
    A pure function of its parameters: a scale that is not a positive number, or shorter
    than one sample, is a :class:`~bitbox.errors.ParameterError`.
    """
    fps = check_fps(fps)
    if not isinstance(scale_s, (int, float, np.integer, np.floating)) or not math.isfinite(scale_s) \
            or not scale_s > 0:
        raise ParameterError(f"Time scales must be positive numbers of seconds. Got {scale_s!r} instead.")
    sigma = scale_s * fps / 2.0
    if sigma < 0.5:
        raise ParameterError(f"The scale {scale_s} s is shorter than one sample at {fps:g} fps; "
                             "use larger scales or a higher sampling rate.")
    half = int(math.ceil(4 * sigma))
    t = np.arange(-half, half + 1) / sigma
    kernel = (1 - t ** 2) * np.exp(-t ** 2 / 2)
    kernel -= kernel.mean()  # exact zero mean despite truncation: constants give no response
    return kernel / kernel[kernel > 0].sum()


def min_samples(scale_s: float, *, fps: float) -> int:
    """Fewest samples a series needs for a response at ``scale_s``: the kernel's half-width + 1.

    The kernel spans ``+-4 sigma = +-2 scale_s``; with mirrored edges a series of at least
    ``ceil(2 scale_s fps) + 1`` samples (about ``2 scale_s`` seconds) is reflected once
    only. A shorter one would be folded onto itself several times, so that every event in
    it would be counted again in its own mirror images.
    """
    return len(ricker_kernel(scale_s, fps=fps)) // 2 + 1


def _responses(x: np.ndarray, fps: float,
               scales_s: Sequence[float]) -> tuple[np.ndarray, dict[int, tuple[str, str]]]:
    """Wavelet responses (n_scales, n_samples) and, per scale index, why it is all NaN."""
    missing = ~np.isfinite(x)
    out = np.full((len(scales_s), len(x)), np.nan)
    kernels = [ricker_kernel(scale, fps=fps) for scale in scales_s]  # parameter errors first
    if missing.all():
        return out, dict.fromkeys(range(len(scales_s)), NO_VALID_SAMPLES)
    filled = np.where(missing, 0.0, x - np.nanmedian(x))
    why: dict[int, tuple[str, str]] = {}
    for k, (scale, kernel) in enumerate(zip(scales_s, kernels)):
        half = len(kernel) // 2
        if len(x) <= half:
            why[k] = ("too_short", f"the {scale:g} s scale needs at least {half + 1} samples "
                                   f"({(half + 1) / fps:.2f} s at {fps:g} fps) and the series has {len(x)}")
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            out[k] = convolve1d(filled, kernel[::-1], mode="reflect")  # mirrored edges: no edge artefacts
        if missing.any():  # NaN wherever the kernel (mirrored at the ends like the signal) reaches a gap
            touched = convolve1d(missing.astype(float), np.ones(len(kernel)), mode="reflect") > 0.5
            out[k, touched] = np.nan
            if touched.all():
                why[k] = ("gaps", f"the gaps (NaN) leave no stretch long enough for the {scale:g} s scale (a window "
                                  f"of {len(kernel)} samples without NaN, or {half + 1} at either end)")
    return out, why


def multiscale_response(x, *, fps: float, scales_s: Sequence[float] = DEFAULT_SCALES_S) -> np.ndarray:
    """Wavelet responses of a signal, shape (n_scales, n_samples); NaN where the window has NaN.

    Parameters
    ----------
    x : array, shape (n_samples,)
        The signal (NaN where missing); its median is removed first.
    fps : float
        Samples per second.
    scales_s : sequence of float
        Time scales in seconds.

    Returns
    -------
    array, shape (n_scales, n_samples)

    Notes
    -----
    A sample's response is NaN when the kernel centred on it (``2 ceil(2 scale fps) + 1``
    samples, mirrored at the ends like the signal) reaches a NaN sample. A whole scale is
    NaN, with a reason, when the series has fewer than :func:`min_samples` samples
    (about ``2 scale`` seconds), when the gaps leave no such window, or without any finite
    sample. A constant series gives a response of 0.
    """
    fps = check_fps(fps)
    x = as_signal(x, ndim=(1,))
    out, why = _responses(x, fps, scales_s)
    for k, (kind, reason) in why.items():
        report_nan("multiscale_response", (f"{scale_label(scales_s[k])}s",), reason, kind)
    return out


def _peaks(response: np.ndarray, threshold: float) -> np.ndarray:
    values = np.where(np.isfinite(response), response, -np.inf)
    index, _ = find_peaks(values, height=threshold)
    heights = response[index]
    if heights.size >= 4:  # robust outlier removal: Tukey's "far out" fence, Q3 + 3 IQR
        q1, q3 = np.percentile(heights, [25, 75])
        if q3 > q1:
            index = index[heights <= q3 + 3.0 * (q3 - q1)]
    return index


def _threshold(x: np.ndarray, min_threshold: float) -> float:
    finite = x[np.isfinite(x)]
    if not finite.size:
        return math.nan
    mad = float(np.median(np.abs(finite - np.median(finite))))
    return finite_or_nan(max(0.5 * 1.4826 * mad, float(min_threshold)))


def peak_threshold(x, *, min_threshold: float = 0.0) -> float:
    """Default peak threshold: half the signal's robust SD (1.4826 x MAD), at least ``min_threshold``.

    Notes
    -----
    A constant signal or a single sample has a MAD of 0 and gives ``min_threshold``. NaN
    (with a reason) without any finite sample.
    """
    level = _threshold(np.asarray(x, dtype=float).ravel(), min_threshold)
    if math.isnan(level):
        report_nan("peak_threshold", ("threshold",), NO_VALID_SAMPLES[1], NO_VALID_SAMPLES[0])
    return level


def expressivity(signals, *, fps: float, scales_s: Sequence[float] = DEFAULT_SCALES_S,
                 threshold: float | None = None, min_threshold: float = 0.0,
                 names: Sequence[str] | None = None) -> dict[str, float]:
    """Multiscale peak statistics of one or more expression signals.

    Parameters
    ----------
    signals : array, shape (n_samples,) or (n_samples, n_signals), or a DataFrame
        Expression signals sampled at ``fps`` (NaN where unavailable).
    fps : float
        Samples per second.
    scales_s : sequence of float
        Time scales in seconds (default 0.1, 0.25, 0.5, 1, 2, 4).
    threshold : float | None
        Smallest activation counted as a peak, in the signal's unit. By default half the
        signal's robust standard deviation (1.4826 x median absolute deviation), so that
        noise much smaller than the signal's own variation is not counted.
    min_threshold : float
        Floor for the default threshold (e.g. the measurement noise of the signal, so that
        a still signal shows no events).
    names : sequence of str | None
        Signal names (default: the DataFrame's columns, or ``s0``, ``s1``, ...).

    Returns
    -------
    dict
        For each signal and scale, keys ``<name>_<scale>s_<stat>`` with stat in
        ``frequency`` (peaks per minute of valid response), ``density`` (summed peak
        activation per minute), ``mean``, ``std``, ``min``, ``max`` (of peak activations).
        Scales are written like ``0.25`` -> ``0p25``. Always all
        ``n_signals x n_scales x 6`` keys.

    Notes
    -----
    Rates are per minute of the samples whose response is defined (see
    :func:`multiscale_response`), so that time near gaps, where no peak can be found, is
    not counted as time without events. All six statistics of a scale are NaN (with the
    reason) when its response is NaN throughout: the series is shorter than
    :func:`min_samples` (about ``2 scale`` seconds), its gaps leave no long enough
    stretch, or it has no finite sample. Otherwise ``frequency`` and ``density`` are
    finite (0 for a constant signal) and the activation statistics are NaN, with the
    reason "no expressive events", when no peak passes the threshold.
    """
    fps = check_fps(fps)
    if names is None and hasattr(signals, "columns"):
        names = [str(c) for c in signals.columns]
    arr = as_signal(signals)
    arr = arr[:, None] if arr.ndim == 1 else arr
    names = list(names) if names is not None else [f"s{i}" for i in range(arr.shape[1])]
    if len(names) != arr.shape[1]:
        raise ParameterError(f"names has {len(names)} entries for {arr.shape[1]} signals.")
    result: dict[str, float] = {}
    why: dict[str, tuple[str, str]] = {}
    for column, name in enumerate(names):
        x = arr[:, column]
        level = _threshold(x, min_threshold) if threshold is None else float(threshold)
        responses, unusable = _responses(x, fps, scales_s)
        for k, (scale, response) in enumerate(zip(scales_s, responses)):
            key = f"{name}_{scale_label(scale)}s"
            keys = [f"{key}_{stat}" for stat in _STATS]
            if k in unusable:
                result.update(dict.fromkeys(keys, math.nan))
                why.update(dict.fromkeys(keys, unusable[k]))
                continue
            valid_min = np.isfinite(response).sum() / fps / 60.0
            index = _peaks(response, level if level > 0 else np.finfo(float).tiny)
            heights = response[index]
            result[f"{key}_frequency"] = index.size / valid_min
            with np.errstate(over="ignore"):
                result[f"{key}_density"] = float(heights.sum() / valid_min)
            for stat, func in (("mean", np.mean), ("std", np.std), ("min", np.min), ("max", np.max)):
                with np.errstate(over="ignore", invalid="ignore"):
                    result[f"{key}_{stat}"] = float(func(heights)) if heights.size else math.nan
                why[f"{key}_{stat}"] = ("no_events", f"no expressive events at the {scale:g} s scale (no peak of "
                                                     f"the response above the threshold {level:.3g})")
    return finish("expressivity", result, why)


def scale_label(scale_s: float) -> str:
    """``0.25`` -> ``"0p25"``, ``1.0`` -> ``"1"`` (for measure names)."""
    return f"{scale_s:g}".replace(".", "p")


def _entropy(p: np.ndarray, base: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    return np.clip(-terms.sum(axis=-1) / math.log(base), 0.0, 1.0)  # rounding must not leave [0, 1]


def diversity(activations, *, names: Sequence[str] | None = None) -> dict[str, object]:
    """Entropy of how activation is spread over expression signals (0 one signal, 1 all equal).

    Parameters
    ----------
    activations : array, shape (n_samples, n_signals), or a DataFrame
        Non-negative activations (negative values and NaN count as 0), e.g. the positive
        part of baseline-relative descriptors or of their wavelet responses.
    names : sequence of str | None
        Unused; accepted for symmetry with :func:`expressivity`.

    Returns
    -------
    dict
        ``overall``: entropy of each signal's share of the total activation;
        ``framewise_mean``: mean over samples with any activation of the per-sample
        entropy; ``framewise``: the per-sample entropy, shape (n_samples,) (NaN without
        activation). Logarithms are in base ``n_signals``, so values lie in [0, 1].

    Notes
    -----
    Any number of samples works (one too). ``overall`` and ``framewise_mean`` are NaN,
    with the reason "no activation", when no sample has a positive activation (e.g. all
    NaN, all 0 or a still face). Fewer than 2 signals is a ParameterError (the entropy's
    base would be 1). Entropy does not depend on the activations' scale, so they are
    divided by their maximum where their sum would overflow.
    """
    arr = as_signal(activations, "activations", ndim=(2,))
    n_signals = arr.shape[1]
    if n_signals < 2:
        raise ParameterError("diversity needs at least 2 signals.")
    a = np.where(np.isfinite(arr) & (arr > 0), arr, 0.0)
    if not np.isfinite(a.sum()):  # only where the sums would overflow: results stay bit-identical otherwise
        a = a / a.max()
    total = a.sum(axis=0)
    overall = float(_entropy(total / total.sum(), n_signals)) if total.sum() > 0 else math.nan
    row_sum = a.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        framewise = np.where(row_sum > 0, _entropy(a / row_sum[:, None], n_signals), np.nan)
    finite = framewise[np.isfinite(framewise)]
    out = {"overall": overall, "framewise_mean": float(finite.mean()) if finite.size else math.nan,
           "framewise": framewise}
    reason = ("no_events", "no activation (every value is 0, negative or NaN)")
    return finish("diversity", out, {"overall": reason, "framewise_mean": reason})
