"""Motion kinematics, smoothness and relative motion of any trajectory (plain functions).

A trajectory is an array of shape (n_samples,) or (n_samples, n_dims) sampled at ``fps``
(e.g. head yaw in degrees, or head x/y in pixels). Samples that are NaN (e.g. no face)
break the trajectory: differences across them are not used. Outputs that the input
cannot support are NaN with a reason (see :func:`bitbox.analysis.nan_reasons`).
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError
from ._common import NO_VALID_SAMPLES, as_signal, check_fps, consecutive_reason, finish, nan_mean

__all__ = ["kinematics", "smoothness", "relative_motion"]


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


def kinematics(x, *, fps: float) -> dict[str, float]:
    """Range, path length, mean speed and mean acceleration of a trajectory.

    Parameters
    ----------
    x : array, shape (n_samples,) or (n_samples, n_dims)
        Positions (any unit U); NaN where missing.
    fps : float
        Samples per second.

    Returns
    -------
    dict
        ``range`` (U; largest extent over dimensions, max - min), ``path_length`` (U; sum
        of Euclidean steps), ``mean_speed`` (U/s), ``mean_acceleration`` (U/s^2; mean norm
        of the second difference x fps^2).

    Notes
    -----
    Steps touching a NaN sample are skipped. NaN (with a reason) when the input cannot
    support a value: ``range`` without any finite sample (one sample gives 0);
    ``path_length`` and ``mean_speed`` without two consecutive valid samples;
    ``mean_acceleration`` without three. A constant trajectory gives 0 everywhere.

    Examples
    --------
    >>> kinematics(np.arange(5.0) * 2, fps=10)["mean_speed"]
    20.0
    """
    fps = check_fps(fps)
    x = _as_2d(x)
    valid_dims = np.isfinite(x).any(axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        extent = np.nanmax(x[:, valid_dims], axis=0) - np.nanmin(x[:, valid_dims], axis=0) \
            if valid_dims.any() else np.empty(0)
    v = _derivative(x, fps)
    a = _derivative(v, fps)
    speed = _norm(v)
    accel = _norm(a)
    steps = np.isfinite(speed)
    out = {
        "range": float(extent.max()) if extent.size else math.nan,
        "path_length": float(speed[steps].sum() / fps) if steps.any() else math.nan,
        "mean_speed": _mean(speed),
        "mean_acceleration": _mean(accel),
    }
    finite_rows = np.isfinite(x).all(axis=1)
    rows = np.where(finite_rows, 0.0, np.nan)
    why = {"range": NO_VALID_SAMPLES,
           "path_length": consecutive_reason(rows, 2, "speed"),
           "mean_speed": consecutive_reason(rows, 2, "speed"),
           "mean_acceleration": consecutive_reason(rows, 3, "acceleration")}
    return finish("kinematics", out, why)


def smoothness(x, *, fps: float) -> dict[str, float]:
    """Mean jerk and log dimensionless jerk (LDJ) of a trajectory.

    LDJ follows Balasubramanian et al. (2015), computed on the velocity:
    ``LDJ = -ln( T^3 / v_peak^2 * integral |d^2 v / dt^2|^2 dt )`` with ``T`` the duration
    and ``v_peak`` the peak speed. Smoother movements give larger (less negative) values;
    a minimum-jerk point-to-point movement gives ``-ln(204.8) = -5.32``.

    Parameters
    ----------
    x : array, shape (n_samples,) or (n_samples, n_dims)
    fps : float

    Returns
    -------
    dict
        ``mean_jerk`` (U/s^3, mean norm of the third difference x fps^3) and ``ldj``
        (dimensionless).

    Notes
    -----
    ``mean_jerk`` skips differences touching a NaN; it is NaN (with a reason) without four
    consecutive valid samples, and 0 for a constant trajectory. ``ldj`` is NaN (with a
    reason) when the trajectory has gaps (compute it on a gap-free stretch, e.g.
    ``x[longest_run(np.isfinite(x).all(axis=1))]``), has fewer than 4 samples, does not
    move (peak speed 0, e.g. a constant series) or has a velocity without any curvature.
    LDJ is computed in the log domain, ``-(3 ln T - 2 ln v_peak + ln integral)``, so that
    extreme values do not overflow (identical otherwise).
    """
    fps = check_fps(fps)
    x = _as_2d(x)
    v = _derivative(x, fps)
    j = _derivative(_derivative(v, fps), fps)
    jerk = _norm(j)
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
        duration = (len(x) - 1) / fps
        v_peak = float(_norm(v).max())
        with np.errstate(over="ignore", invalid="ignore"):
            integral = float((jerk ** 2).sum() / fps)
        if v_peak == 0:
            why["ldj"] = ("no_variation", "the trajectory does not move (peak speed 0)")
        elif integral <= 0:
            why["ldj"] = ("no_variation", "the velocity has no curvature at all (jerk 0): LDJ is unbounded")
        else:
            out["ldj"] = -(3 * math.log(duration) - 2 * math.log(v_peak) + math.log(integral))
    return finish("smoothness", out, why)


def relative_motion(x, *, reference=None) -> dict[str, object]:
    """Displacement of each sample from a reference position: min, mean, std, max.

    Parameters
    ----------
    x : array, shape (n_samples,) or (n_samples, n_dims)
    reference : array, shape (n_dims,) | None
        The reference position; by default the mean position (NaNs ignored).

    Returns
    -------
    dict
        ``min``, ``mean``, ``std``, ``max`` of the Euclidean distance to the reference, and
        ``series`` (per-sample distances, shape (n_samples,), NaN where ``x`` is NaN).

    Notes
    -----
    One sample gives 0 from its own mean (std 0); a constant series gives 0 everywhere.
    The statistics are NaN (with a reason) without any finite sample or when the
    reference has NaN.
    """
    x = _as_2d(x)
    if reference is None:
        ref = nan_mean(x, axis=0)
    else:
        ref = np.atleast_1d(np.asarray(reference, dtype=float))
        if ref.shape not in ((1,), (x.shape[1],)):
            raise ParameterError(f"reference must have one value per dimension ({x.shape[1]}). "
                                 f"Got shape {ref.shape} instead.")
    distance = _norm(x - ref)
    finite = distance[np.isfinite(distance)]
    keys = ("min", "mean", "std", "max")
    if finite.size == 0:
        stats = dict.fromkeys(keys, math.nan)
    else:
        stats = {"min": float(finite.min()), "mean": float(finite.mean()), "std": float(finite.std()),
                 "max": float(finite.max())}
    reason = NO_VALID_SAMPLES if np.isfinite(ref).all() or reference is None else ("no_data", "the reference has NaN")
    return finish("relative_motion", {**stats, "series": distance}, dict.fromkeys(keys, reason))
