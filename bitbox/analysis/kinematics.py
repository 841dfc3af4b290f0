"""Motion kinematics, smoothness and relative motion of any trajectory (plain functions).

A trajectory is an array of shape (n_samples,) or (n_samples, n_dims) sampled at ``fps``
(e.g. head yaw in degrees, or head x/y in pixels). Samples that are NaN (e.g. no face)
break the trajectory: differences across them are not used. Outputs that the input
cannot support are NaN with a reason (see :func:`bitbox.analysis.nan_reasons`).

The measures are those of the original Bitbox toolkit (compsygroup/bitbox,
``src/bitbox/biomechanics.py`` at commit 9a5e32a: ``motion_kinematics``,
``motion_smoothness``, ``relative_motion``). ``convention="bitbox"`` (the default) keeps the
original's definitions where they are sound and fixes them where they are wrong (its
acceleration and jerk forget ``fps``; its LDJ is neither dimensionless nor the jerk);
``convention="original"`` reproduces the original's numbers, bugs included.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.integrate import trapezoid
from scipy.signal import savgol_filter

from ..errors import ParameterError
from ._common import NO_VALID_SAMPLES, as_signal, check_fps, consecutive_reason, finish, nan_mean

__all__ = ["kinematics", "smoothness", "relative_motion"]

#: The accepted values of ``convention``.
CONVENTIONS = ("bitbox", "original")
#: Fewest samples the original's ``motion_kinematics`` and ``motion_smoothness`` accept (they raise below).
_ORIGINAL_MIN_SAMPLES = 4
#: Savitzky-Golay polynomial order for the LDJ's derivatives (exact for polynomials up to degree 5).
_SG_ORDER = 5


# ----------------------------------------------------------------------------- helpers
def _check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ParameterError(f"convention must be one of {', '.join(map(repr, CONVENTIONS))} ('bitbox': Bitbox's "
                             f"definitions, 'original': the original Bitbox toolkit's numbers). "
                             f"Got {convention!r} instead.")
    return convention


def _as_2d(x) -> np.ndarray:
    arr = as_signal(x)
    return arr[:, None] if arr.ndim == 1 else arr


def _derivative(x: np.ndarray, fps: float) -> np.ndarray:
    """Finite difference x fps; rows touching a NaN are NaN."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.diff(x, axis=0) * fps


def _norm(v: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        return np.linalg.norm(v, axis=1)


def _mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


def _original_refusal(x: np.ndarray, min_samples: int, what: str) -> tuple[str, str] | None:
    """Why the original returns no number for ``x`` (``(kind, reason)``), or None when it does."""
    if len(x) < min_samples:
        return ("too_short", f"the original's {what} raises on fewer than {min_samples} samples (the trajectory "
                             f"has {len(x)}): convention='original' gives NaN")
    if not np.isfinite(x).all():
        if not np.isfinite(x).any():
            return NO_VALID_SAMPLES
        return ("gaps", "the original has no gap handling (one NaN sample makes every output NaN): use "
                        "convention='bitbox', which skips the gaps, or a gap-free stretch")
    return None


def _refused(function: str, keys: tuple[str, ...], why: tuple[str, str]) -> dict[str, float]:
    return finish(function, dict.fromkeys(keys, math.nan), dict.fromkeys(keys, why))


def _log_ldj(duration: float, v_peak: float, integral: float) -> float:
    """``-ln(T^3 * integral / v_peak^2)`` in the log domain (no overflow)."""
    return -(3 * math.log(duration) + math.log(integral) - 2 * math.log(v_peak))


# ----------------------------------------------------------------------------- kinematics
_KIN_KEYS = ("range", "path_length", "mean_speed", "mean_acceleration")


def _extent_diagonal(x: np.ndarray) -> float:
    """Norm of the per-dimension extents (max - min), over the dimensions with a finite value."""
    valid_dims = np.isfinite(x).any(axis=0)
    if not valid_dims.any():
        return math.nan
    with np.errstate(over="ignore", invalid="ignore"):
        extent = np.nanmax(x[:, valid_dims], axis=0) - np.nanmin(x[:, valid_dims], axis=0)
        return float(np.linalg.norm(extent))


def _kinematics_original(x: np.ndarray, fps: float) -> dict[str, float]:
    """``motion_kinematics`` of the original (biomechanics.py:42-59), for a gap-free x of >= 4 samples."""
    with np.errstate(over="ignore", invalid="ignore"):
        dx = np.diff(x, axis=0)
        v = dx * fps
        a = np.diff(v, axis=0)  # the original's bug, kept: no x fps, so this is U/s per frame
        return {"range": float(np.linalg.norm(x.max(axis=0) - x.min(axis=0), axis=-1)),
                "path_length": float(np.linalg.norm(dx, axis=-1).sum(axis=0)),
                "mean_speed": float(np.linalg.norm(v, axis=-1).mean(axis=0)),
                "mean_acceleration": float(np.linalg.norm(a, axis=-1).mean(axis=0))}


def kinematics(x, *, fps: float, convention: str = "bitbox") -> dict[str, float]:
    """Range, path length, mean speed and mean acceleration of a trajectory.

    Parameters
    ----------
    x : array, shape (n_samples,) or (n_samples, n_dims)
        Positions (any unit U); NaN where missing.
    fps : float
        Samples per second.
    convention : {"bitbox", "original"}
        ``"bitbox"`` (default): the formulas below. ``"original"``: the original Bitbox
        toolkit's numbers (``motion_kinematics``, biomechanics.py:16-59 at commit 9a5e32a),
        bugs included: its acceleration lacks one factor ``fps`` (it is ``mean_acceleration
        / fps`` of ``"bitbox"``); NaN with a reason where the original returns no number
        (fewer than 4 samples: it raises; any NaN sample: all its outputs are NaN).

    Returns
    -------
    dict
        ``range`` (U), ``path_length`` (U), ``mean_speed`` (U/s), ``mean_acceleration``
        (U/s^2; U/s per frame with ``convention="original"``).

    Notes
    -----
    With ``d`` the dimensions and ``x_i`` the samples:

    - ``range = || (max_i x_id - min_i x_id)_d ||``: the diagonal of the bounding box (as the
      original; a circle of radius r gives ``2 sqrt(2) r``; one dimension: max - min).
    - ``path_length = sum_i ||x_{i+1} - x_i||`` and ``mean_speed = mean_i ||x_{i+1} - x_i|| * fps``
      (as the original).
    - ``mean_acceleration = mean_i ||x_{i+2} - 2 x_{i+1} + x_i|| * fps^2``. The original's is
      ``mean_i ||v_{i+1} - v_i||`` with ``v = diff(x) * fps`` (``a = np.diff(v)``,
      biomechanics.py:56): it forgets the second ``fps``, so its "units/sec^2" are U/s per
      frame and change with the frame rate for the same motion. Fixed here.

    Steps touching a NaN sample are skipped (the original has no gap handling). NaN (with
    a reason) when the input cannot support a value: ``range`` without any finite sample
    (one sample gives 0); ``path_length`` and ``mean_speed`` without two consecutive valid
    samples; ``mean_acceleration`` without three. A constant trajectory gives 0 everywhere.

    Examples
    --------
    >>> kinematics(np.arange(5.0) * 2, fps=10)["mean_speed"]
    20.0
    >>> t = np.linspace(0, 2 * np.pi, 1001)
    >>> round(kinematics(np.c_[5 * np.cos(t), 5 * np.sin(t)], fps=30)["range"], 2)
    14.14
    """
    fps = check_fps(fps)
    _check_convention(convention)
    x = _as_2d(x)
    if convention == "original":
        why = _original_refusal(x, _ORIGINAL_MIN_SAMPLES, "motion_kinematics")
        if why is not None:
            return _refused("kinematics", _KIN_KEYS, why)
        return finish("kinematics", _kinematics_original(x, fps), {})
    v = _derivative(x, fps)
    speed = _norm(v)
    accel = _norm(_derivative(v, fps))
    steps = np.isfinite(speed)
    out = {"range": _extent_diagonal(x),
           "path_length": float(speed[steps].sum() / fps) if steps.any() else math.nan,
           "mean_speed": _mean(speed),
           "mean_acceleration": _mean(accel)}
    rows = np.where(np.isfinite(x).all(axis=1), 0.0, np.nan)
    why = {"range": NO_VALID_SAMPLES,
           "path_length": consecutive_reason(rows, 2, "speed"),
           "mean_speed": consecutive_reason(rows, 2, "speed"),
           "mean_acceleration": consecutive_reason(rows, 3, "acceleration")}
    return finish("kinematics", out, why)


# ----------------------------------------------------------------------------- smoothness
def _sg_window(n: int, fps: float, window_s: float) -> tuple[int, int]:
    """Savitzky-Golay (window length, polynomial order) for the LDJ's derivatives of n samples.

    The window is the odd number of samples nearest ``window_s * fps``, at least 7 (order
    5 needs 6 points), at most the largest odd number <= n. Series of 4-6 samples use one
    polynomial through all of them (window n, order n - 1).
    """
    if n < _SG_ORDER + 2:
        return n, n - 1
    window = max(_SG_ORDER + 2, 2 * int(round((window_s * fps - 1) / 2)) + 1)
    return min(window, n if n % 2 else n - 1), _SG_ORDER


def _sg_derivatives(x: np.ndarray, fps: float, window_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Velocity and jerk (U/s, U/s^3) at every sample, from local polynomial fits."""
    window, order = _sg_window(len(x), fps, window_s)
    kw = {"window_length": window, "polyorder": order, "delta": 1.0 / fps, "axis": 0, "mode": "interp"}
    with np.errstate(over="ignore", invalid="ignore"):
        return savgol_filter(x, deriv=1, **kw), savgol_filter(x, deriv=3, **kw)


def _ldj_bitbox(x: np.ndarray, fps: float, window_s: float) -> tuple[float, tuple[str, str] | None]:
    """LDJ of a gap-free x of >= 4 samples (see :func:`smoothness`), with the reason when it is NaN."""
    if not np.diff(x, axis=0).any():  # decided on the samples: a fit's rounding is not motion
        return math.nan, ("no_variation", "the trajectory does not move (peak speed 0)")
    if not np.diff(x, 3, axis=0).any():
        return math.nan, ("no_variation", "the velocity has no curvature at all (jerk 0): LDJ is unbounded")
    with np.errstate(over="ignore", invalid="ignore"):
        v, j = _sg_derivatives(x - x[0], fps, window_s)  # derivatives ignore the offset: drop it (precision)
        integral = float(trapezoid(np.sum(j ** 2, axis=1), dx=1.0 / fps))
    duration = (len(x) - 1) / fps
    v_peak = float(_norm(v).max())
    if not (math.isfinite(v_peak) and math.isfinite(integral)):
        return math.nan, ("overflow", "the values are too large for double precision (overflow)")
    if v_peak <= 0 or integral <= 0:
        return math.nan, ("no_variation", "the fitted velocity or jerk is 0 throughout: LDJ is undefined")
    return _log_ldj(duration, v_peak, integral), None


def _smoothness_original(x: np.ndarray, fps: float) -> tuple[dict[str, float], dict[str, tuple[str, str]]]:
    """``motion_smoothness`` of the original (biomechanics.py:88-116), for a gap-free x of >= 4 samples."""
    dt = 1.0 / fps
    duration = x.shape[0] * dt  # the original's T = N / fps (the samples span (N - 1) / fps)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        v = np.diff(x, axis=0) * fps
        a = np.diff(v, axis=0)  # no x fps (the original's bug, kept)
        j = np.diff(a, axis=0)  # no x fps either
        jerk = float(np.linalg.norm(j, axis=-1).mean(axis=0))
        integral = np.float64((np.linalg.norm(a, axis=-1) ** 2).sum(axis=0) * dt)
        v_peak2 = np.float64(np.linalg.norm(v, axis=-1).max(axis=0) ** 2)
        ldj = float(-np.log((duration ** 3 * integral) / v_peak2))  # numpy scalars: 0/0 is NaN, not an error
        integral, v_peak2 = float(integral), float(v_peak2)
    why: dict[str, tuple[str, str]] = {}
    if v_peak2 == 0:
        why["ldj"] = ("no_variation", "the trajectory does not move (peak speed 0): the original's LDJ is 0/0")
    elif integral == 0:
        ldj = math.nan
        why["ldj"] = ("no_variation", "the velocity never changes (acceleration 0): the original's LDJ is +inf")
    elif not math.isfinite(ldj) and math.isfinite(integral) and math.isfinite(v_peak2):
        ldj = _log_ldj(duration, math.sqrt(v_peak2), integral)  # the same number, past an overflow
    return {"mean_jerk": jerk, "ldj": ldj}, why


def smoothness(x, *, fps: float, convention: str = "bitbox", ldj_window_s: float = 0.2) -> dict[str, float]:
    """Mean jerk and log dimensionless jerk (LDJ) of a trajectory.

    Parameters
    ----------
    x : array, shape (n_samples,) or (n_samples, n_dims)
        Positions (any unit U); NaN where missing.
    fps : float
        Samples per second.
    convention : {"bitbox", "original"}
        ``"bitbox"`` (default): the formulas below. ``"original"``: the original Bitbox
        toolkit's numbers (``motion_smoothness``, biomechanics.py:62-116 at commit 9a5e32a),
        bugs included (see Notes); NaN with a reason where the original returns no number
        (fewer than 4 samples: it raises; any NaN sample; no motion: 0/0; constant
        velocity: +inf).
    ldj_window_s : float
        Length in seconds of the Savitzky-Golay window from which the LDJ's velocity and
        jerk are taken (``"bitbox"`` only; at least 7 samples are used).

    Returns
    -------
    dict
        ``mean_jerk`` (U/s^3; U/s per frame^2 with ``convention="original"``) and ``ldj``
        (dimensionless; not with ``convention="original"``).

    Notes
    -----
    ``mean_jerk = mean_i ||third difference of x||_i * fps^3``. The original's is
    ``mean_i ||diff(diff(v))||`` with ``v = diff(x) * fps`` (biomechanics.py:97-103): it forgets
    two factors ``fps`` (its value is this one / fps^2). Differences touching a NaN are
    skipped; NaN (with a reason) without four consecutive valid samples, 0 for a constant
    trajectory.

    ``ldj`` follows Balasubramanian et al. (2015), on the velocity ``v``:
    ``LDJ = -ln( T^3 / v_peak^2 * integral_0^T ||d^2 v / dt^2||^2 dt )`` with ``T = (N - 1) / fps``
    the duration and ``v_peak`` the peak speed. Smoother movements give larger (less
    negative) values; a minimum-jerk point-to-point movement gives ``-ln(204.8) = -5.32``
    whatever its amplitude, duration and frame rate. The derivatives are those of local
    quintic polynomials (Savitzky-Golay, order 5, window ``ldj_window_s``, fitted at the ends
    too) at every sample, and the integral is the trapezoid rule over the N samples. Plain
    finite differences are not accurate enough at video rates: their jerk covers only N - 3
    samples and misses the movement's ends, where a minimum-jerk movement has its largest
    jerk (1 s at 30 fps: -5.00 instead of -5.32); the quintic fit is exact for polynomial
    movements up to degree 5 and gives -5.33 at 30 fps. The window also smooths: with 0.2 s
    the jerk's -3 dB point is 7.5-8.2 Hz at any rate from 30 to 2000 fps, so faster jitter
    is damped and a noisy trajectory gives comparable values at different frame rates (use
    ``ldj_window_s=7 / fps``, the shortest window, to keep fast jitter).

    The original's ``ldj`` (biomechanics.py:105-114) is ``-ln( T'^3 / v_peak^2 * sum_i ||a_i||^2 / fps )``
    with ``a = diff(v)`` (no ``fps``: not an acceleration in U/s^2), the *squared
    acceleration* instead of the squared jerk, and ``T' = N / fps``. It is not dimensionless
    (it grows by ``2 ln fps`` with the frame rate for the same movement) and is positive for
    smooth movements.

    ``ldj`` is NaN (with a reason) when the trajectory has gaps (compute it on a gap-free
    stretch, e.g. ``x[longest_run(np.isfinite(x).all(axis=1))]``), has fewer than 4
    samples, does not move (peak speed 0, e.g. a constant series) or has a velocity without
    any curvature. It is computed in the log domain, ``-(3 ln T - 2 ln v_peak + ln integral)``,
    so that extreme values do not overflow (identical otherwise).

    References
    ----------
    Balasubramanian S, Melendez-Calderon A, Roby-Brami A, Burdet E (2015). On the analysis
    of movement smoothness. J NeuroEng Rehabil 12:112.
    """
    fps = check_fps(fps)
    _check_convention(convention)
    if not (isinstance(ldj_window_s, (int, float, np.integer, np.floating)) and not isinstance(ldj_window_s, bool)
            and math.isfinite(ldj_window_s) and ldj_window_s > 0):
        raise ParameterError(f"ldj_window_s must be a positive number of seconds. Got {ldj_window_s!r} instead.")
    x = _as_2d(x)
    if convention == "original":
        refusal = _original_refusal(x, _ORIGINAL_MIN_SAMPLES, "motion_smoothness")
        if refusal is not None:
            return _refused("smoothness", ("mean_jerk", "ldj"), refusal)
        out, why = _smoothness_original(x, fps)
        return finish("smoothness", out, why)
    jerk = _norm(_derivative(_derivative(_derivative(x, fps), fps), fps))
    rows = np.where(np.isfinite(x).all(axis=1), 0.0, np.nan)
    out = {"mean_jerk": _mean(jerk), "ldj": math.nan}
    why = {"mean_jerk": consecutive_reason(rows, 4, "jerk")}
    if len(x) < 4:
        why["ldj"] = ("too_short", f"LDJ needs at least 4 samples (the trajectory has {len(x)})")
    elif not np.isfinite(x).all():
        why["ldj"] = (NO_VALID_SAMPLES if not np.isfinite(x).any() else
                      ("gaps", "the trajectory has gaps (NaN): LDJ needs a gap-free trajectory (use its longest "
                               "gap-free stretch, bitbox.analysis.longest_run)"))
    else:
        out["ldj"], reason = _ldj_bitbox(x, fps, float(ldj_window_s))
        if reason is not None:
            why["ldj"] = reason
    return finish("smoothness", out, why)


# ----------------------------------------------------------------------------- relative motion
def relative_motion(x, *, reference=None, convention: str = "bitbox") -> dict[str, object]:
    """Displacement of each sample from a reference position: min, mean, std, max.

    Parameters
    ----------
    x : array, shape (n_samples,) or (n_samples, n_dims)
        Positions over time (NaN where missing).
    reference : array, shape (n_dims,) | None
        The reference position; by default the mean position (NaNs ignored).
    convention : {"bitbox", "original"}
        The same formulas (they agree with the original's ``relative_motion``,
        biomechanics.py:119-171 at commit 9a5e32a); ``"original"`` also reproduces its lack
        of gap handling: any NaN sample makes the statistics NaN (with a reason).

    Returns
    -------
    dict
        ``min``, ``mean``, ``std``, ``max`` of the Euclidean distance to the reference, and
        ``series`` (per-sample distances, shape (n_samples,), NaN where ``x`` is NaN).

    Notes
    -----
    ``d_i = ||x_i - r||``; ``std`` is the population SD (ddof 0), as the original. The
    original's ``reference`` is a list of frame indices instead of a position: for each
    index k it takes ``r = x_k``, drops the reference frames and averages the statistics
    over the indices. For one frame k that is
    ``relative_motion(np.delete(x, k, axis=0), reference=x[k])``.

    One sample gives 0 from its own mean (std 0); a constant series gives 0 everywhere.
    The statistics are NaN (with a reason) without any finite sample or when the
    reference has NaN.
    """
    _check_convention(convention)
    x = _as_2d(x)
    if reference is None:
        ref = nan_mean(x, axis=0)
    else:
        ref = np.atleast_1d(np.asarray(reference, dtype=float))
        if ref.shape not in ((1,), (x.shape[1],)):
            raise ParameterError(f"reference must have one value per dimension ({x.shape[1]}). "
                                 f"Got shape {ref.shape} instead.")
    distance = _norm(x - ref)
    keys = ("min", "mean", "std", "max")
    refusal = _original_refusal(x, 1, "relative_motion") if convention == "original" else None
    finite = distance[np.isfinite(distance)]
    if finite.size == 0 or refusal is not None:
        stats = dict.fromkeys(keys, math.nan)
    else:
        stats = {"min": float(finite.min()), "mean": float(finite.mean()), "std": float(finite.std()),
                 "max": float(finite.max())}
    reason = NO_VALID_SAMPLES if np.isfinite(ref).all() or reference is None else ("no_data", "the reference has NaN")
    return finish("relative_motion", {**stats, "series": distance}, dict.fromkeys(keys, refusal or reason))
