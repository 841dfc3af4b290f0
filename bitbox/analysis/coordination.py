"""Coordination and imitation: windowed, lagged correlation between two signals.

Both signals are cut into windows of ``W = round(window_s * fps)`` samples advancing by
``S`` samples. In each window the Pearson correlation of ``x`` with ``y`` shifted by every
lag up to ``max_lag_s`` is computed, and the lag with the largest ``|r|`` kept, with the
sign of its r (a mirrored partner, ``y = -x``, gives r = -1). The sign of the lag is the
original Bitbox's: **lag > 0 means y follows x** (``y(t) = x(t - lag)``). Coordination
allows lags in both directions; imitation only lets ``y`` follow ``x`` (lag >= 0).

Two conventions (``convention=``):

``"bitbox"`` (default)
    The original's definitions (lag sign, polarity, window, step and lag range), with its
    one-sided scheme for both functions (x's windows fixed, y shifted), so that the lag
    never exceeds ``max_lag_s``, float64 arithmetic, NaN (with a reason) rather than 0
    for constant windows, and a working ``imitation``.
``"original"``
    The original Bitbox (compsygroup/bitbox at 9a5e32a) exactly, bugs included:
    ``social.coordination`` (two-sided: x *and* y shifted, net lags up to twice the
    lag parameter) and, for :func:`imitation`, the original's underlying one-sided function
    called directly with ``causality=True`` (lags <= 0: x follows y). The original's own
    ``social.imitation`` raises ``TypeError`` on every call (it passes ``casuality=``).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import ParameterError
from ._common import NO_VALID_SAMPLES, as_signal, check_fps, finish, nan_mean, report_nan

__all__ = ["coordination", "imitation", "lagged_correlation", "CONVENTIONS"]

#: The values of ``convention=``: Bitbox's definitions, or the original Bitbox's exactly.
CONVENTIONS = ("bitbox", "original")
_SCALARS = ("r_mean", "r_sd", "lag_s_mean", "lag_s_sd", "peak_lag_s")
_TIE = 1e-9  # |r| within this of the best counts as a tie (bitbox: the smallest |lag| wins)
_EPS = 1e-12  # the original's floor on window standard deviations (similarity.py:7)


# ---------------------------------------------------------------------------- parameters
def _check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ParameterError(f"convention must be one of {CONVENTIONS} ('bitbox': Bitbox's definitions; "
                             f"'original': the original Bitbox's exactly). Got {convention!r} instead.")
    return convention


def _signals(x, y, fps: float) -> tuple[np.ndarray, np.ndarray, float]:
    fps = check_fps(fps)
    x = as_signal(x, "x", ndim=(1,))
    y = as_signal(y, "y", ndim=(1,))
    if len(x) != len(y):
        raise ParameterError(f"x and y must have the same length (time-aligned). Got {len(x)} and {len(y)}.")
    return x, y, fps


def _seconds(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value < 0:
        raise ParameterError(f"{name} must be a number of seconds >= 0 (or None for the default). "
                             f"Got {value!r} instead.")
    return float(value)


def _frames(fps: float, window_s: float, step_s: float | None, max_lag_s: float | None,
            lag_per_quarter: int) -> tuple[int, int, int]:
    """``(W, S, L)`` in samples: window, step and largest lag.

    ``W = round(window_s * fps)`` (at least 3); ``S = max(1, W // 2)`` by default, else
    ``max(1, round(step_s * fps))``; ``L = lag_per_quarter * (W // 4)`` by default, else
    ``round(max_lag_s * fps)`` — the original's rules (similarity.py:57-71).
    """
    window_s = _seconds(window_s, "window_s")
    step_s, max_lag_s = _seconds(step_s, "step_s"), _seconds(max_lag_s, "max_lag_s")
    window = int(round(window_s * fps))
    if window < 3:
        raise ParameterError(f"window_s={window_s:g} is fewer than 3 samples at {fps:g} fps.")
    step = max(1, window // 2) if step_s is None else max(1, int(round(step_s * fps)))
    max_lag = lag_per_quarter * (window // 4) if max_lag_s is None else int(round(max_lag_s * fps))
    return window, step, max_lag


def _too_short(n: int, fps: float, window_s: float, lag_s: float, needed: int) -> tuple[str, str]:
    return ("too_short", f"the signals ({n} samples, {n / fps:.2f} s) are shorter than one window with its lags "
                         f"(window_s={window_s:g} and max_lag_s={lag_s:g} need {needed} samples, "
                         f"{needed / fps:.2f} s)")


def _no_value_reason(x: np.ndarray, y: np.ndarray) -> tuple[str, str]:
    """Why no window gave a correlation, when the signals are long enough."""
    if not np.isfinite(x).any() or not np.isfinite(y).any():
        return NO_VALID_SAMPLES
    if np.isfinite(x).all() and np.isfinite(y).all():
        return "no_variation", "x or y is constant in every window: there is no correlation to measure"
    return "gaps", "every window is constant or has missing samples (NaN) in x or y, at every lag"


# ---------------------------------------------------------------------------- convention "bitbox"
def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r between matching rows of a and b (NaN when a row is constant or has NaN)."""
    varies = (np.ptp(a, axis=1) > 0) & (np.ptp(b, axis=1) > 0)  # exactly constant: r undefined (not rounding noise)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        a = a - a.mean(axis=1, keepdims=True)
        b = b - b.mean(axis=1, keepdims=True)
        denom = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
        return np.where(varies & (denom > 0), np.clip((a * b).sum(axis=1) / denom, -1.0, 1.0), np.nan)


def _grid(x: np.ndarray, y: np.ndarray, window: int, step: int, lags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Window starts and ``r[w, k] = pearson(x[s:s+W], y[s+lag_k:s+lag_k+W])`` (lag > 0: y follows x)."""
    first, last = max(0, -int(lags[0])), len(x) - window - max(0, int(lags[-1]))
    starts = np.arange(first, last + 1, step) if last >= first else np.empty(0, dtype=int)
    r = np.empty((starts.size, lags.size))
    if starts.size:
        xs, ys = sliding_window_view(x, window), sliding_window_view(y, window)
        for k, lag in enumerate(lags):
            r[:, k] = _pearson_rows(xs[starts], ys[starts + lag])
    return starts, r


def _best_index(r: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Per row, the index of the largest ``|r|``; among ties (within 1e-9) the smallest ``|lag|``, then the first."""
    strength = np.where(np.isfinite(r), np.abs(r), -np.inf)
    tied = strength >= strength.max(axis=-1, keepdims=True) - _TIE
    return np.argmin(np.where(tied, np.abs(lags), np.inf), axis=-1)


def _bitbox_lagged(x, y, fps: float, window_s: float, max_lag_s: float | None, step_s: float | None,
                   min_lag_s: float | None, lag_per_quarter: int) -> tuple[dict[str, np.ndarray], tuple | None]:
    x, y, fps = _signals(x, y, fps)
    window, step, max_lag = _frames(fps, window_s, step_s, max_lag_s, lag_per_quarter)
    min_lag = -max_lag if min_lag_s is None else int(round(float(min_lag_s) * fps))
    if min_lag > max_lag:
        raise ParameterError(f"min_lag_s={min_lag_s} is larger than max_lag_s ({max_lag / fps:g} s).")
    lags = np.arange(min_lag, max_lag + 1)
    starts, r = _grid(x, y, window, step, lags)
    reason = None
    if starts.size == 0:
        needed = window + max(0, max_lag) + max(0, -min_lag)
        reason = _too_short(len(x), fps, window_s, max_lag / fps, needed)
    elif not np.isfinite(r).any():
        reason = _no_value_reason(x, y)
    return {"lags_s": lags / fps, "window_start_s": starts / fps, "r": r}, reason


def _bitbox_summary(function: str, result: dict[str, np.ndarray],
                    reason: tuple[str, str] | None) -> dict[str, object]:
    r, lags_s = result["r"], result["lags_s"]
    usable = np.isfinite(r).any(axis=1)
    if not usable.any():
        out = {**dict.fromkeys(_SCALARS, math.nan), "lags_s": lags_s, "r_by_lag": np.full(lags_s.size, np.nan)}
        return finish(function, out, dict.fromkeys(_SCALARS, reason))
    rows = r[usable]
    best = _best_index(rows, lags_s)
    r_best, lag_best = rows[np.arange(best.size), best], lags_s[best]
    r_by_lag = nan_mean(r, axis=0)
    peak = int(_best_index(r_by_lag[None, :], lags_s)[0])
    out = {"r_mean": float(r_best.mean()), "r_sd": float(r_best.std()), "lag_s_mean": float(lag_best.mean()),
           "lag_s_sd": float(lag_best.std()), "peak_lag_s": float(lags_s[peak]), "lags_s": lags_s,
           "r_by_lag": r_by_lag}
    return finish(function, out, {})


# ---------------------------------------------------------------------------- convention "original"
def _orig_windows(v: np.ndarray, window: int) -> np.ndarray:
    """The original's float32 sliding windows, shape (T - W + 1, 1, W) (one signal)."""
    return sliding_window_view(v.astype(np.float32)[:, None], window_shape=(window,), axis=0)


def _orig_r(x_win: np.ndarray, y_win: np.ndarray, window: int) -> np.ndarray:
    """The original's float32 r (similarity.py:105-124): ``sum(x0 y0) / (W max(sd_x, eps) max(sd_y, eps))``.

    ``x_win`` (n, 1, W), ``y_win`` (n, 1, W, n_lags) -> r (n, n_lags). A constant window
    gives r = 0 (not NaN), a window with NaN gives NaN.
    """
    x0 = x_win - x_win.mean(axis=2, keepdims=True)
    y0 = y_win - y_win.mean(axis=2, keepdims=True)
    num = np.einsum("niw,njwl->nijl", x0, y0, optimize=True).astype(np.float32)
    sd_x = np.maximum(x_win.std(axis=2, keepdims=True), _EPS)[:, None].astype(np.float32)  # (n, 1, 1, 1)
    sd_y = np.maximum(y_win.std(axis=2, keepdims=True), _EPS).astype(np.float32)  # (n, 1, 1, n_lags)
    return (num / (window * sd_x * sd_y))[:, 0, 0, :]


def _orig_lag_blocks(y: np.ndarray, window: int, max_lag: int, starts: np.ndarray) -> np.ndarray:
    """y's windows at ``start + lag`` for lag = -L..L, shape (n, 1, W, 2L + 1) (similarity.py:88-96)."""
    blocks = sliding_window_view(_orig_windows(y, window), window_shape=(2 * max_lag + 1,), axis=0)
    return blocks[starts - max_lag]


def _orig_two_sided(x: np.ndarray, y: np.ndarray, window: int, max_lag: int,
                    starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """social.coordination's search (similarity.py:139-268, polarity=True): per window, the (lx, ly) in
    [-L, L]^2 with the largest |r| (first strictly larger wins; r starts at 0), net lag ly - lx frames."""
    xs, y_blocks = _orig_windows(x, window), _orig_lag_blocks(y, window, max_lag, starts)
    best_r = np.zeros(starts.size, dtype=np.float32)
    best_ly = np.zeros(starts.size, dtype=np.int64)
    best_lx = np.zeros(starts.size, dtype=np.int64)
    profile = None
    for lx in range(-max_lag, max_lag + 1):
        r = _orig_r(xs[starts + lx], y_blocks, window)
        if lx == 0:
            profile = r  # x fixed, y shifted: the original's own lag grid, kept for r_by_lag
        ly = np.argmax(np.abs(r), axis=1)  # a NaN anywhere in the row is picked (argmax of NaN) ...
        r_ly = r[np.arange(starts.size), ly]
        better = np.abs(r_ly) > np.abs(best_r)  # ... and then never wins
        best_r[better], best_ly[better], best_lx[better] = r_ly[better], ly[better], lx
    return best_r, (best_ly - max_lag) - best_lx, profile


def _orig_one_sided_causal(x: np.ndarray, y: np.ndarray, window: int, max_lag: int,
                           starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The original's one-sided function called with causality=True (similarity.py:7-136): y shifted by
    -L..0 only (x follows y), the lag with the largest |r| (first on ties, NaN rows stay NaN)."""
    xs, y_blocks = _orig_windows(x, window), _orig_lag_blocks(y, window, max_lag, starts)
    r = _orig_r(xs[starts], y_blocks[..., :max_lag + 1], window)
    idx = np.argmax(np.abs(r), axis=1)
    return r[np.arange(starts.size), idx], idx - max_lag, r


def _orig_summary(function: str, x, y, fps: float, window_s: float, max_lag_s: float | None,
                  step_s: float | None, causal: bool) -> dict[str, object]:
    """social.py:38-48: mean/SD of the per-window best r and mean lag over windows with a finite, non-zero r."""
    x, y, fps = _signals(x, y, fps)
    window, step, max_lag = _frames(fps, window_s, step_s, max_lag_s, 1)
    lag_frames = np.arange(-max_lag, 1 if causal else max_lag + 1)
    lags_s = lag_frames / fps
    last = len(x) - window - max_lag
    if last < max_lag:  # similarity.py:79-82: no window with the full +-L lag range
        reason = _too_short(len(x), fps, window_s, max_lag / fps, window + 2 * max_lag)
        out = {**dict.fromkeys(_SCALARS, math.nan), "lags_s": lags_s, "r_by_lag": np.full(lags_s.size, np.nan)}
        return finish(function, out, dict.fromkeys(_SCALARS, reason))
    starts = np.arange(max_lag, last + 1, step)
    search = _orig_one_sided_causal if causal else _orig_two_sided
    r_best, lag_frames_best, profile = search(x, y, window, max_lag, starts)
    if causal:  # similarity.py:132, 136: frames / fps in float64, then float32
        lag_best = (lag_frames_best / float(fps)).astype(np.float32)
    else:  # similarity.py:266: float32 frames / fps, in float32
        lag_best = lag_frames_best.astype(np.float32) / float(fps)
    keep = np.isfinite(r_best) & (r_best != 0)  # social.py:40: zero (constant windows) and NaN dropped
    profile = np.where(np.isfinite(profile) & (profile != 0), profile, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN means: NaN, explained below
        r_kept, lag_kept = np.where(keep, r_best, np.nan), np.where(keep, lag_best, np.nan)
        stats = {"r_mean": np.nanmean(r_kept), "r_sd": np.nanstd(r_kept), "lag_s_mean": np.nanmean(lag_kept),
                 "lag_s_sd": np.nanstd(lag_kept)}
        r_by_lag = np.nanmean(profile, axis=0).astype(float)
    strength = np.where(np.isfinite(r_by_lag), np.abs(r_by_lag), -np.inf)
    peak = float(lags_s[int(np.argmax(strength))]) if np.isfinite(r_by_lag).any() else math.nan
    out = {**{k: float(v) for k, v in stats.items()}, "peak_lag_s": peak, "lags_s": lags_s, "r_by_lag": r_by_lag}
    if not keep.any():
        return finish(function, out, dict.fromkeys(_SCALARS, _no_value_reason(x, y)))
    return finish(function, out, {"peak_lag_s": ("gaps", "no window gives a correlation with x unshifted (the "
                                                         "original's lag grid at lx = 0): every one has a gap or "
                                                         "is constant")})


# ---------------------------------------------------------------------------- public functions
def lagged_correlation(x, y, *, fps: float, window_s: float = 0.5, max_lag_s: float | None = None,
                       step_s: float | None = None, min_lag_s: float | None = None) -> dict[str, np.ndarray]:
    """Windowed Pearson correlation of ``x(t)`` with ``y(t + lag)`` for each lag.

    .. math:: r_w(\\ell) = \\operatorname{corr}\\big(x[s_w : s_w + W],\\; y[s_w + \\ell : s_w + \\ell + W]\\big)

    so that lag ``> 0`` means y follows x (``y(t) = x(t - lag)`` peaks at ``+lag``).

    Parameters
    ----------
    x, y : array, shape (n_samples,)
        Time-aligned signals (NaN where missing).
    fps : float
        Samples per second.
    window_s : float
        See :func:`coordination`.
    max_lag_s : float | None
        See :func:`coordination` (default: twice a quarter window).
    step_s : float | None
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
    samples, a negative ``max_lag_s`` and signals of different lengths are
    ParameterErrors. (No ``convention``: the original has no such function.)
    """
    result, reason = _bitbox_lagged(x, y, fps, window_s, max_lag_s, step_s, min_lag_s, 2)
    if reason is not None:
        report_nan("lagged_correlation", ("r",), reason[1], reason[0])
    return result


def coordination(x, y, *, fps: float, window_s: float = 0.5, max_lag_s: float | None = None,
                 step_s: float | None = None, convention: str = "bitbox") -> dict[str, object]:
    """Two-sided coordination of two time-aligned signals.

    For each window ``w`` (start ``s_w``, ``W`` samples) and lag ``l`` in ``[-L, L]``:

    .. math:: r_w(l) = \\operatorname{corr}\\big(x[s_w : s_w + W],\\; y[s_w + l : s_w + l + W]\\big),
              \\qquad l_w = \\arg\\max_l |r_w(l)|, \\qquad r_w = r_w(l_w)

    (signed: ``y = -x`` gives -1; ties within 1e-9 go to the smallest ``|l|``). Returned are
    the mean and SD over windows of ``r_w`` and of ``l_w``. Lag > 0 means **y follows x**.

    The original (social.py:7-50 with similarity.py:139-268) shifts *both* windows:
    ``r_w = max over lx, ly in [-L, L] of |corr(x[s+lx:], y[s+ly:])|`` with lag ``ly - lx``,
    so its lags reach ``2L`` although its docstring calls ``L`` the maximum absolute lag;
    Bitbox shifts y only, over the same net range ``[-2 (W//4), 2 (W//4)]`` by default.

    Parameters
    ----------
    x, y : array, shape (n_samples,)
        Time-aligned signals (e.g. the head yaw of two people), sampled at ``fps``.
    fps : float
    window_s : float
        Window length in seconds (default 0.5, as the original); ``W = round(window_s fps)``.
    max_lag_s : float | None
        Largest ``|lag|``. Default: ``2 (W // 4)`` samples, the largest lag the original's
        default reaches (0.2 s at 30 fps for a 0.5 s window). With
        ``convention="original"`` it is the original's ``lag``: each signal is shifted by up
        to it (default ``W // 4`` samples), net lags up to twice it.
    step_s : float | None
        Window step; default ``max(1, W // 2)`` samples, as the original.
    convention : {"bitbox", "original"}
        ``"original"`` reproduces ``bitbox.social.coordination`` (at 9a5e32a) exactly:
        float32 arithmetic, r = 0 for a constant window, windows whose best r is 0 or NaN
        dropped (social.py:40), ties to the first (lx, ly).

    Returns
    -------
    dict
        ``r_mean``, ``r_sd``: mean and SD (ddof 0) over windows of the best signed r;
        ``lag_s_mean``, ``lag_s_sd``: of its lag (> 0: y follows x); ``peak_lag_s``: the
        lag whose mean r over windows is largest in absolute value; ``lags_s`` and
        ``r_by_lag`` (that mean r per lag, NaN for a lag without a usable window). Under
        ``"original"``, which reports only ``r_mean``, ``r_sd`` and ``lag_s_mean``,
        ``lag_s_sd`` is the SD of the same per-window lags and ``r_by_lag`` the mean of the
        original's correlations with x unshifted (lx = 0, lags ``-L..L``).

    Notes
    -----
    Windows where ``x`` or ``y`` has a NaN, or is constant, give no correlation and are
    skipped. The five scalars are NaN (with a reason) when the signals are shorter than one
    window plus its lags in both directions (``W + 2L`` samples), or when every window is
    constant or has a gap. A single usable window gives SDs of 0. A window of fewer than 3
    samples and a negative ``max_lag_s`` are ParameterErrors in both conventions (the
    original accepts 1 or 2 samples and clips a negative lag to 0), and so are signals of
    different lengths (the original cuts both to the shorter one).
    """
    if _check_convention(convention) == "original":
        return _orig_summary("coordination", x, y, fps, window_s, max_lag_s, step_s, causal=False)
    return _bitbox_summary("coordination", *_bitbox_lagged(x, y, fps, window_s, max_lag_s, step_s, None, 2))


def imitation(x, y, *, fps: float, window_s: float = 0.5, max_lag_s: float | None = None,
              step_s: float | None = None, convention: str = "bitbox") -> dict[str, object]:
    """One-sided coordination: how much ``y`` follows (imitates) ``x``, lags ``0..L``.

    As :func:`coordination` with ``l`` in ``[0, L]``: ``r_w(l) = corr(x[s:s+W], y[s+l:s+l+W])``,
    lag > 0 meaning y follows x, as the original's ``social.imitation`` docstring promises.

    The original's ``social.imitation`` (social.py:53-97) raises ``TypeError`` on every call
    (it passes ``casuality=`` to a function whose argument is ``causality``). Its underlying
    ``windowed_cross_correlation_lagged_one_sided(..., causality=True)`` (similarity.py:7-136)
    keeps the lags ``-L..0``: x's window against y's windows at the same time or *earlier*,
    i.e. x follows y, the reverse of the docstring. Bitbox measures y following x.

    Parameters
    ----------
    x, y : array, shape (n_samples,)
        The leader ``x`` and the imitator ``y`` (time-aligned), sampled at ``fps``.
    fps : float
        Samples per second.
    window_s : float
        As :func:`coordination`.
    max_lag_s : float | None
        Largest lag; default ``W // 4`` samples, the original's (0.1 s at 30 fps for a
        0.5 s window).
    step_s : float | None
        As :func:`coordination`.
    convention : {"bitbox", "original"}
        ``"original"``: what the original's underlying one-sided function does when called
        directly with ``causality=True`` (what ``social.imitation`` meant to pass), with
        ``social.imitation``'s statistics: lags ``-L..0`` (x follows y; ``lag_s_mean <= 0``),
        windows on the grid ``L, L + S, ..`` up to ``T - W - L``, float32, first lag on ties,
        windows with r = 0 or NaN (a NaN at any lag) dropped.

    Returns
    -------
    dict
        As :func:`coordination`.

    Notes
    -----
    The signals need ``W + L`` samples (``"original"``: ``W + 2L``, its window grid keeps
    room for lags it does not use).
    """
    if _check_convention(convention) == "original":
        return _orig_summary("imitation", x, y, fps, window_s, max_lag_s, step_s, causal=True)
    return _bitbox_summary("imitation", *_bitbox_lagged(x, y, fps, window_s, max_lag_s, step_s, 0.0, 1))
