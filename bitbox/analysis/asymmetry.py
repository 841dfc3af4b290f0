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

__all__ = ["asymmetry", "mirror_align"]


def _kabsch(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation R and translation t with ``dst ~ src @ R.T + t`` (least squares, proper rotation)."""
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    u, _, vt = np.linalg.svd((dst - mu_d).T @ (src - mu_s))
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    rotation = u @ np.diag([1.0] * (src.shape[1] - 1) + [d]) @ vt
    return rotation, mu_d - mu_s @ rotation.T


def mirror_align(points: np.ndarray, mirror: np.ndarray, align_on: np.ndarray | None = None) -> np.ndarray:
    """The face reflected about its best mid-sagittal plane, point-for-point comparable to ``points``."""
    flip = np.ones(points.shape[1])
    flip[0] = -1.0
    mirrored = (points * flip)[mirror]
    idx = np.arange(len(points)) if align_on is None else np.asarray(align_on)
    rotation, translation = _kabsch(mirrored[idx], points[idx])
    return mirrored @ rotation.T + translation


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
    out = {name: np.full(len(arr), np.nan) for name in regions}
    for i, points in enumerate(arr):
        if not np.isfinite(points).all() or not divisor[i] > 0:
            continue
        reflected = mirror_align(points, mirror, align_on)
        distance = np.linalg.norm(points - reflected, axis=1) / divisor[i]
        for name, idx in regions.items():
            out[name][i] = distance[idx].mean()
    return out


