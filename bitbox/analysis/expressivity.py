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
from ._common import as_signal, check_fps

__all__ = ["ricker_kernel", "multiscale_response", "peak_threshold", "expressivity", "diversity", "DEFAULT_SCALES_S"]

#: Time scales (s) between 0.1 and 4 s, as in Bitbox.
DEFAULT_SCALES_S = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
_STATS = ("frequency", "density", "mean", "std", "min", "max")


def ricker_kernel(scale_s: float, *, fps: float) -> np.ndarray:
    """Mexican-hat kernel whose positive lobe lasts ``scale_s`` seconds and sums to 1."""
    fps = check_fps(fps)
    sigma = scale_s * fps / 2.0
    if sigma < 0.5:
        raise ParameterError(f"The scale {scale_s} s is shorter than one sample at {fps:g} fps; "
                             "use larger scales or a higher sampling rate.")
    half = int(math.ceil(4 * sigma))
    t = np.arange(-half, half + 1) / sigma
    kernel = (1 - t ** 2) * np.exp(-t ** 2 / 2)
    kernel -= kernel.mean()  # exact zero mean despite truncation: constants give no response
    return kernel / kernel[kernel > 0].sum()


def multiscale_response(x, *, fps: float, scales_s: Sequence[float] = DEFAULT_SCALES_S) -> np.ndarray:
    """Wavelet responses of a signal, shape (n_scales, n_samples); NaN where the window has NaN."""
    x = as_signal(x, ndim=(1,))
    missing = ~np.isfinite(x)
    filled = np.where(missing, 0.0, x - np.nanmedian(x)) if (~missing).any() else np.zeros_like(x)
    out = np.empty((len(scales_s), len(x)))
    for k, scale in enumerate(scales_s):
        kernel = ricker_kernel(scale, fps=fps)
        out[k] = convolve1d(filled, kernel[::-1], mode="reflect")  # mirrored edges: no edge artefacts
        if missing.any():
            touched = np.convolve(missing.astype(float), np.ones(len(kernel)), mode="same") > 0
            out[k, touched] = np.nan
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


def peak_threshold(x, *, min_threshold: float = 0.0) -> float:
    """Default peak threshold: half the signal's robust SD (1.4826 x MAD), at least ``min_threshold``."""
    x = np.asarray(x, dtype=float)
    finite = x[np.isfinite(x)]
    mad = float(np.median(np.abs(finite - np.median(finite)))) if finite.size else 0.0
    return max(0.5 * 1.4826 * mad, float(min_threshold))


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
        ``frequency`` (peaks per minute of valid signal), ``density`` (summed peak
        activation per minute), ``mean``, ``std``, ``min``, ``max`` (of peak activations;
        NaN without peaks). Scales are written like ``0.25`` -> ``0p25``.
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
    for column, name in enumerate(names):
        x = arr[:, column]
        valid_min = np.isfinite(x).sum() / fps / 60.0
        level = peak_threshold(x, min_threshold=min_threshold) if threshold is None else float(threshold)
        responses = multiscale_response(x, fps=fps, scales_s=scales_s)
        for scale, response in zip(scales_s, responses):
            key = f"{name}_{scale_label(scale)}s"
            index = _peaks(response, level if level > 0 else np.finfo(float).tiny)
            heights = response[index]
            result[f"{key}_frequency"] = index.size / valid_min if valid_min > 0 else math.nan
            result[f"{key}_density"] = float(heights.sum() / valid_min) if valid_min > 0 else math.nan
            for stat, func in (("mean", np.mean), ("std", np.std), ("min", np.min), ("max", np.max)):
                result[f"{key}_{stat}"] = float(func(heights)) if heights.size else math.nan
    return result


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

    Returns
    -------
    dict
        ``overall``: entropy of each signal's share of the total activation;
        ``framewise_mean``: mean over samples with any activation of the per-sample
        entropy; ``framewise``: the per-sample entropy (NaN without activation).
        Logarithms are in base ``n_signals``, so values lie in [0, 1].
    """
    arr = as_signal(activations, "activations", ndim=(2,))
    n_signals = arr.shape[1]
    if n_signals < 2:
        raise ParameterError("diversity needs at least 2 signals.")
    a = np.where(np.isfinite(arr) & (arr > 0), arr, 0.0)
    total = a.sum(axis=0)
    overall = float(_entropy(total / total.sum(), n_signals)) if total.sum() > 0 else math.nan
    row_sum = a.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        framewise = np.where(row_sum > 0, _entropy(a / row_sum[:, None], n_signals), np.nan)
    finite = framewise[np.isfinite(framewise)]
    return {"overall": overall, "framewise_mean": float(finite.mean()) if finite.size else math.nan,
            "framewise": framewise}
