"""Motion kinematics, smoothness and relative motion of any trajectory (plain functions).

A trajectory is an array of shape (n_samples,) or (n_samples, n_dims) sampled at ``fps``
(e.g. head yaw in degrees, or head x/y in pixels). Samples that are NaN (e.g. no face)
break the trajectory: differences across them are not used.
"""
from __future__ import annotations

import math

import numpy as np

from ._common import as_signal, check_fps

__all__ = ["kinematics", "smoothness", "relative_motion"]


def _as_2d(x) -> np.ndarray:
    arr = as_signal(x)
    return arr[:, None] if arr.ndim == 1 else arr


def _derivative(x: np.ndarray, fps: float) -> np.ndarray:
    """Finite difference x fps; rows touching a NaN are NaN."""
    return np.diff(x, axis=0) * fps


def _norm(v: np.ndarray) -> np.ndarray:
    return np.linalg.norm(v, axis=1)


def kinematics(x, *, fps: float) -> dict[str, float]:
    """Range, path length, mean speed and mean acceleration of a trajectory.

    Parameters
    ----------
    x : array, shape (n_samples,) or (n_samples, n_dims)
        Positions (any unit U).
    fps : float
        Samples per second.

    Returns
    -------
    dict
        ``range`` (U; largest extent over dimensions, max - min), ``path_length`` (U; sum
        of Euclidean steps), ``mean_speed`` (U/s), ``mean_acceleration`` (U/s^2; mean norm
        of the second difference x fps^2).

    Examples
    --------
    >>> kinematics(np.arange(5.0) * 2, fps=10)["mean_speed"]
    20.0
    """
    fps = check_fps(fps)
    x = _as_2d(x)
    with np.errstate(invalid="ignore"):
        extent = np.nanmax(x, axis=0) - np.nanmin(x, axis=0) if np.isfinite(x).any() else np.full(x.shape[1], np.nan)
    v = _derivative(x, fps)
    a = _derivative(v, fps)
    speed = _norm(v)
    accel = _norm(a)
    return {
        "range": float(np.nanmax(extent)) if np.isfinite(extent).any() else math.nan,
        "path_length": float(np.nansum(speed) / fps) if np.isfinite(speed).any() else math.nan,
        "mean_speed": float(np.nanmean(speed)) if np.isfinite(speed).any() else math.nan,
        "mean_acceleration": float(np.nanmean(accel)) if np.isfinite(accel).any() else math.nan,
    }


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
        (dimensionless; NaN when the trajectory has gaps or does not move).
    """
    fps = check_fps(fps)
    x = _as_2d(x)
    v = _derivative(x, fps)
    j = _derivative(_derivative(v, fps), fps)
    jerk = _norm(j)
    mean_jerk = float(np.nanmean(jerk)) if np.isfinite(jerk).any() else math.nan
    if not np.isfinite(x).all() or len(x) < 4:
        return {"mean_jerk": mean_jerk, "ldj": math.nan}
    duration = (len(x) - 1) / fps
    v_peak = float(_norm(v).max())
    if v_peak == 0:
        return {"mean_jerk": mean_jerk, "ldj": math.nan}
    integral = float((jerk ** 2).sum() / fps)
    if integral <= 0:
        return {"mean_jerk": mean_jerk, "ldj": math.nan}
    return {"mean_jerk": mean_jerk, "ldj": float(-math.log(duration ** 3 / v_peak ** 2 * integral))}


def relative_motion(x, *, reference=None) -> dict[str, float]:
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
        ``series`` (per-sample distances, NaN where ``x`` is NaN).
    """
    x = _as_2d(x)
    ref = np.nanmean(x, axis=0) if reference is None else np.atleast_1d(np.asarray(reference, dtype=float))
    distance = _norm(x - ref)
    finite = distance[np.isfinite(distance)]
    if finite.size == 0:
        stats = dict.fromkeys(("min", "mean", "std", "max"), math.nan)
    else:
        stats = {"min": float(finite.min()), "mean": float(finite.mean()), "std": float(finite.std()),
                 "max": float(finite.max())}
    return {**stats, "series": distance}
