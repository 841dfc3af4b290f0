"""Left-right asymmetry of landmark configurations (Bitbox's asymmetry measure).

For each frame the landmarks are mirrored (x -> -x, each point swapped with its
left-right counterpart) and the mirrored copy is rigidly aligned back onto the original.
A rotation composed with a mirror is a reflection about a plane (a Householder reflection),
so the aligned copy is the face reflected about its own best mid-sagittal plane. The
asymmetry of a landmark is its distance to that reflection of its counterpart; a region's
asymmetry is the mean over its landmarks. A perfectly symmetric face scores 0.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..errors import ParameterError
from ._common import OVERFLOW, report_nan

__all__ = ["asymmetry", "mirror_align"]


def _kabsch(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation R and translation t with ``dst ~ src @ R.T + t`` (least squares, proper rotation)."""
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    u, _, vt = np.linalg.svd((dst - mu_d).T @ (src - mu_s))
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    rotation = u @ np.diag([1.0] * (src.shape[1] - 1) + [d]) @ vt
    return rotation, mu_d - mu_s @ rotation.T


def _reflect(points: np.ndarray, mirror: np.ndarray, idx: np.ndarray) -> np.ndarray:
    flip = np.ones(points.shape[1])
    flip[0] = -1.0
    mirrored = (points * flip)[mirror]
    rotation, translation = _kabsch(mirrored[idx], points[idx])
    return mirrored @ rotation.T + translation


def mirror_align(points: np.ndarray, mirror: np.ndarray, align_on: np.ndarray | None = None) -> np.ndarray:
    """The face reflected about its best mid-sagittal plane, point-for-point comparable to ``points``.

    Parameters
    ----------
    points : array, shape (n_points, 2 or 3)
    mirror : array of int, shape (n_points,)
        Each point's left-right counterpart.
    align_on : array of int | None
        Points used to fit the plane (default all).

    Returns
    -------
    array, shape (n_points, 2 or 3)

    Notes
    -----
    All NaN (with a reason) when a point used for the alignment (or its counterpart) is
    NaN: the plane cannot be fitted. Other NaN points stay NaN.
    """
    points = np.asarray(points, dtype=float)
    mirror = np.asarray(mirror)
    idx = np.arange(len(points)) if align_on is None else np.asarray(align_on)
    if points.size == 0 or not np.isfinite(points[idx]).all() or not np.isfinite(points[mirror[idx]]).all():
        report_nan("mirror_align", ("points",), "a point used for the alignment (or its counterpart) is NaN",
                   "no_data")
        return np.full(points.shape, np.nan)
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            reflected = _reflect(points, mirror, idx)
    except np.linalg.LinAlgError:  # SVD without convergence (values beyond double precision)
        reflected = np.full(points.shape, np.nan)
    source_missing = ~np.isfinite(points[mirror]).all(axis=1)  # reflected point i comes from point mirror[i]
    if not np.isfinite(reflected[~source_missing]).all():
        report_nan("mirror_align", ("points",), OVERFLOW[1], OVERFLOW[0])
        reflected[~np.isfinite(reflected)] = np.nan
    return reflected


def asymmetry(landmarks, *, mirror: Sequence[int], regions: Mapping[str, Sequence[int]] | None = None,
              align_on: Sequence[int] | None = None, scale=None) -> dict[str, np.ndarray]:
    """Per-frame asymmetry of landmark configurations, overall and per region.

    Parameters
    ----------
    landmarks : array, shape (n_frames, n_points, 2 or 3) or (n_points, 2 or 3)
        Landmarks (x must be the left-right axis of the image or of the face).
    mirror : sequence of int, length n_points
        Index of each point's left-right counterpart (midline points map to themselves).
    regions : mapping name -> point indices | None
        Regions to report besides ``overall`` (all points).
    align_on : sequence of int | None
        Points used to find the mid-sagittal plane (default all; rigid points are better
        when expressions may be one-sided).
    scale : float or array (n_frames,) | None
        Divide distances by this (e.g. the inter-ocular distance) for size-free values.

    Returns
    -------
    dict
        ``overall`` and each region: array (n_frames,) of mean distances (NaN for frames
        with missing points).

    Notes
    -----
    Frames are independent: any number of frames works (a single ``(n_points, 2 or 3)``
    configuration too), and a constant series gives the same value in every frame. A frame
    is NaN when any of its points is NaN or its ``scale`` is not a positive finite number;
    a reason is reported when every frame is NaN.
    """
    arr = np.asarray(landmarks, dtype=float)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[2] not in (2, 3):
        raise ParameterError(f"landmarks must have shape (n_frames, n_points, 2 or 3). Got {arr.shape}.")
    mirror = np.asarray(mirror)
    if mirror.shape != (arr.shape[1],) or not np.array_equal(mirror[mirror], np.arange(arr.shape[1])):
        raise ParameterError("mirror must give each point's counterpart (a permutation that is its own inverse) "
                             f"for all {arr.shape[1]} points.")
    regions = {"overall": np.arange(arr.shape[1]), **{k: np.asarray(v) for k, v in (regions or {}).items()}}
    divisor = np.ones(len(arr)) if scale is None else np.broadcast_to(np.asarray(scale, dtype=float), (len(arr),))
    align = np.arange(arr.shape[1]) if align_on is None else np.asarray(align_on)
    out = {name: np.full(len(arr), np.nan) for name in regions}
    usable = np.isfinite(arr).all(axis=(1, 2)) & np.isfinite(divisor) & (divisor > 0) & (arr.shape[1] > 0)
    failed = 0
    for i in np.flatnonzero(usable):
        points = arr[i]
        with np.errstate(over="ignore", invalid="ignore"):
            try:
                distance = np.linalg.norm(points - _reflect(points, mirror, align), axis=1) / divisor[i]
            except np.linalg.LinAlgError:  # SVD without convergence (values beyond double precision)
                distance = np.full(len(points), np.inf)
        for name, idx in regions.items():
            value = distance[idx].mean() if len(idx) else np.nan
            out[name][i] = value if np.isfinite(value) else np.nan
            failed += bool(len(idx)) and not np.isfinite(value)
    if failed:
        report_nan("asymmetry", tuple(out), OVERFLOW[1], OVERFLOW[0])
    if len(arr) and not usable.any():
        report_nan("asymmetry", tuple(out), "every frame has a NaN point (or a scale that is not a positive "
                                            "finite number)", "no_data")
    return out


