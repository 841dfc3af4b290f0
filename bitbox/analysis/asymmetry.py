"""Left-right asymmetry of landmark configurations (Bitbox's asymmetry measure).

Each feature (a region: eyes, brows, nose, mouth, ...) is split into its left-right pairs of
landmarks. The feature's right half is reflected about the feature's own plane, the
perpendicular bisector of the centroids of its left and right halves (a Householder
reflection), and the asymmetry of the feature is the mean distance between each left
landmark and its reflected right counterpart. ``overall`` is the mean of the features. A
perfectly symmetric face scores 0, at any head pose and size; a change of one feature leaves
the other features' values untouched.

This is the original Bitbox definition (compsygroup/bitbox, ``src/bitbox/expressions.py``,
``asymmetry``, commit 9a5e32a). ``convention="original"`` reproduces that function exactly on
landmark arrays, its normalisation to 3DI reference values included; the default fixes its
degenerate-plane fallback, and leaves values in landmark units (see :func:`asymmetry`).
"""
from __future__ import annotations

import warnings
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from ..errors import ParameterError
from ..log import logger
from ._common import OVERFLOW, report_nan

__all__ = ["asymmetry", "mirror_align", "ORIGINAL_NORMALIZATION"]

CONVENTIONS = ("bitbox", "original")
PLANES = ("feature", "face")

#: The original's normalisation constants (expressions.py:93-105 at commit 9a5e32a): for 3-D
#: canonicalised landmarks of its 3DI / 3DI-lite backends, the median score of symmetric faces
#: and the 99th percentile of "Jim Carrey" videos, per feature; for 2-D landmarks the median of
#: symmetric faces only. They are in those backends' units and landmark schema (ibug 51 points)
#: and mean nothing for other landmarks (e.g. MediaPipe's mesh).
ORIGINAL_NORMALIZATION: dict[str, tuple[dict[str, float], dict[str, float] | None]] = {
    "3DI": ({"eye": 0.5801, "brow": 0.7857, "nose": 0.0965, "mouth": 1.0076, "overall": 0.6172},
            {"eye": 3.1310, "brow": 2.2180, "nose": 1.4357, "mouth": 5.5638, "overall": 2.4260}),
    "3DIl": ({"eye": 0.5321, "brow": 0.8457, "nose": 0.1585, "mouth": 1.0731, "overall": 0.6547},
             {"eye": 1.4455, "brow": 2.3044, "nose": 0.7789, "mouth": 3.1907, "overall": 1.4160}),
    "2D": ({"eye": 0.9330, "brow": 1.1110, "nose": 0.0001, "mouth": 0.7021, "overall": 0.7689}, None),
}
#: The original's absolute threshold on the distance between a feature's centroids (expressions.py:75).
_ORIGINAL_DEGENERATE = 1e-8
#: Bitbox's threshold, relative to the size of the feature's coordinates.
_RELATIVE_DEGENERATE = 1e-9


class _Feature(NamedTuple):
    left: np.ndarray   # point indices of one side
    right: np.ndarray  # their counterparts, in the same order


# ---------------------------------------------------------------------------- the face plane (plane="face")
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
        The face's points (e.g. landmarks of one frame).
    mirror : array of int, shape (n_points,)
        Each point's left-right counterpart.
    align_on : array of int | None
        Points used to fit the plane (default all).

    Returns
    -------
    array, shape (n_points, 2 or 3)
        The reflected face, aligned onto ``points``.

    Notes
    -----
    The points are mirrored (x -> -x, each point swapped with its counterpart) and the copy is
    rigidly aligned back onto the original (Kabsch); a rotation composed with a mirror is a
    reflection about a plane. All NaN (with a reason) when a point used for the alignment (or
    its counterpart) is NaN: the plane cannot be fitted. Other NaN points stay NaN.
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


# ---------------------------------------------------------------------------- parameters
def _check_options(convention: str, plane: str, normalize: str | None, scale, dims: int) -> None:
    if convention not in CONVENTIONS:
        raise ParameterError(f"convention must be one of {CONVENTIONS}. Got {convention!r} instead.")
    if plane not in PLANES:
        raise ParameterError(f"plane must be one of {PLANES}. Got {plane!r} instead.")
    if convention == "original":
        if plane != "feature":
            raise ParameterError("convention='original' reflects each feature about its own plane: "
                                 "plane='face' is a Bitbox option.")
        if scale is not None:
            raise ParameterError("convention='original' has no scale: divide the landmarks beforehand, or use "
                                 "convention='bitbox'.")
    if normalize is None:
        return
    if convention != "original":
        raise ParameterError("normalize applies the original's 3DI reference values and needs "
                             "convention='original'; Bitbox's values stay in landmark units (see scale).")
    if normalize not in ORIGINAL_NORMALIZATION:
        raise ParameterError(f"normalize must be None or one of {tuple(ORIGINAL_NORMALIZATION)}. "
                             f"Got {normalize!r} instead.")
    if (normalize == "2D") != (dims == 2):
        raise ParameterError(f"normalize={normalize!r} is for {'2' if normalize == '2D' else '3'}-D landmarks; "
                             f"these have {dims} coordinates.")


def _as_landmarks(landmarks) -> np.ndarray:
    arr = np.asarray(landmarks, dtype=float)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[2] not in (2, 3):
        raise ParameterError(f"landmarks must have shape (n_frames, n_points, 2 or 3). Got {arr.shape}.")
    return arr


def _as_mirror(mirror, n_points: int) -> np.ndarray:
    mirror = np.asarray(mirror)
    if mirror.shape != (n_points,) or not np.issubdtype(mirror.dtype, np.integer) \
            or (n_points and (mirror.min() < 0 or mirror.max() >= n_points)) \
            or not np.array_equal(mirror[mirror], np.arange(n_points)):
        raise ParameterError("mirror must give each point's counterpart (a permutation that is its own inverse) "
                             f"for all {n_points} points.")
    return mirror


def _as_indices(values, n_points: int, what: str) -> np.ndarray:
    try:
        idx = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{what} must be a sequence of point indices. Got {values!r}.") from exc
    if not np.array_equal(idx, np.round(idx)):
        raise ParameterError(f"{what} must hold integer point indices.")
    idx = idx.astype(int)
    if idx.size and (idx.min() < 0 or idx.max() >= n_points):
        raise ParameterError(f"{what} must hold point indices in 0..{n_points - 1}.")
    return idx


def _left_side(arr: np.ndarray, mirror: np.ndarray, left) -> np.ndarray:
    """A boolean mask of the points on one side of the face.

    Given ``left``, those points; otherwise, of each pair, the point with the larger median x
    over the frames (the lower index when x does not tell).
    """
    n_points = arr.shape[1]
    paired = mirror != np.arange(n_points)
    if left is not None:
        idx = _as_indices(left, n_points, "left")
        mask = np.zeros(n_points, bool)
        mask[idx] = True
        if (mask & ~paired).any() or (mask & mask[mirror]).any() or (paired & ~mask & ~mask[mirror]).any():
            raise ParameterError("left must hold exactly one point of every left-right pair (and no midline "
                                 "point, one that is its own counterpart).")
        return mask
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pairs: a tie
        dx = np.nanmedian(arr[:, :, 0] - arr[:, mirror, 0], axis=0) if len(arr) else np.full(n_points, np.nan)
    tie = ~(np.abs(dx) > 0)
    return paired & np.where(tie, np.arange(n_points) < mirror, dx > 0)


def _features(regions, mirror: np.ndarray, is_left: np.ndarray, n_points: int) -> dict[str, _Feature]:
    """Each region's left-right pairs (its midline points, their own counterparts, are left out)."""
    named = {"overall": np.arange(n_points)} if not regions else dict(regions)
    features = {}
    for name, values in named.items():
        if name == "overall" and regions:
            raise ParameterError("'overall' is the mean of the regions: name no region 'overall'.")
        idx = np.unique(_as_indices(values, n_points, f"regions[{name!r}]"))
        side = np.unique(np.where(is_left[idx], idx, mirror[idx])[mirror[idx] != idx])
        if not side.size:
            raise ParameterError(f"region {name!r} has no left-right pair of points (mirror maps all of its points "
                                 "to themselves): it has no asymmetry.")
        features[name] = _Feature(side, mirror[side])
    return features


# ---------------------------------------------------------------------------- per-feature planes
def _feature_scores(arr: np.ndarray, feature: _Feature, convention: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame asymmetry of one feature, and a mask of frames whose plane is undefined (Bitbox).

    ``x_l`` (n, k, d) and ``x_r`` its counterparts: ``c_L``, ``c_R`` their centroids, ``n`` the
    unit vector from ``c_L`` to ``c_R``, ``m`` their midpoint; the reflection is
    ``H(x) = x - 2 ((x - m) . n) n`` and the score ``mean_j ||x_l,j - H(x_r,j)||``.
    """
    xl, xr = arr[:, feature.left], arr[:, feature.right]
    c_l, c_r = xl.mean(axis=1), xr.mean(axis=1)
    normal = c_r - c_l
    length = np.linalg.norm(normal, axis=1)
    if convention == "original":  # an absolute threshold, then no reflection at all (expressions.py:75-80)
        degenerate = length <= _ORIGINAL_DEGENERATE
    else:
        both = np.concatenate([xl, xr], axis=1)
        degenerate = length <= _RELATIVE_DEGENERATE * np.abs(both).max(axis=(1, 2))
    unit = np.where(degenerate[:, None], 0.0, normal / np.where(degenerate, 1.0, length)[:, None])
    middle = (c_l + c_r) / 2
    reflected = xr - 2.0 * np.einsum("nkd,nd->nk", xr - middle[:, None], unit)[:, :, None] * unit[:, None]
    score = np.linalg.norm(xl - reflected, axis=2).mean(axis=1)
    if convention == "original":
        return score, np.zeros(len(arr), bool)
    # Centroids that coincide leave the plane undefined: 0 when the feature is a single point
    # (any plane maps it onto itself), otherwise no value.
    spread = np.abs(both - both.mean(axis=1, keepdims=True)).max(axis=(1, 2))
    collapsed = degenerate & (spread <= _RELATIVE_DEGENERATE * np.abs(both).max(axis=(1, 2)))
    score = np.where(collapsed, 0.0, score)
    undefined = degenerate & ~collapsed & np.isfinite(arr).all(axis=(1, 2))
    return np.where(undefined, np.nan, score), undefined


def _face_scores(arr: np.ndarray, mirror: np.ndarray, regions, align_on, usable: np.ndarray,
                 features: Mapping[str, _Feature]) -> dict[str, np.ndarray]:
    """plane="face": one plane per frame fitted on ``align_on``; a region is the mean distance of
    its points (midline points included) to the reflection of their counterparts."""
    align = np.arange(arr.shape[1]) if align_on is None else _as_indices(align_on, arr.shape[1], "align_on")
    named = {"overall": np.arange(arr.shape[1])} if not regions else \
        {name: np.unique(_as_indices(v, arr.shape[1], name)) for name, v in regions.items()}
    out = {name: np.full(len(arr), np.nan) for name in features}
    for i in np.flatnonzero(usable):
        try:
            distance = np.linalg.norm(arr[i] - _reflect(arr[i], mirror, align), axis=1)
        except np.linalg.LinAlgError:  # SVD without convergence (values beyond double precision)
            distance = np.full(arr.shape[1], np.inf)
        for name, idx in named.items():
            out[name][i] = distance[idx].mean()
    return out


def _normalise(out: dict[str, np.ndarray], normalize: str) -> dict[str, np.ndarray]:
    """The original's normalisation (expressions.py:89-109): ``max(0, (A - median_sym) / (p99_jim - median_sym))``
    in 3-D, ``max(0, A - median_sym)`` in 2-D; features it has no constant for are left as they are."""
    low, high = ORIGINAL_NORMALIZATION[normalize]
    result = {}
    for name, values in out.items():
        if name not in low:
            logger.debug("asymmetry: the original has no normalisation constant for %r; left unnormalised", name)
            result[name] = values
            continue
        shifted = values - low[name]
        if high is not None:
            shifted = shifted / (high[name] - low[name])
        result[name] = np.where(np.isnan(shifted), np.nan, np.maximum(shifted, 0.0))
    return result


# ---------------------------------------------------------------------------- public
def asymmetry(landmarks, *, mirror: Sequence[int], regions: Mapping[str, Sequence[int]] | None = None,
              align_on: Sequence[int] | None = None, scale=None, left: Sequence[int] | None = None,
              plane: str = "feature", convention: str = "bitbox",
              normalize: str | None = None) -> dict[str, np.ndarray]:
    """Per-frame asymmetry of landmark configurations, per feature and overall.

    For a feature with left-right pairs ``(l_j, r_j)``, ``j = 1..k``, in frame ``t``::

        c_L = mean_j x_l,j        c_R = mean_j x_r,j
        n   = (c_R - c_L) / ||c_R - c_L||            m = (c_L + c_R) / 2
        H(x) = x - 2 ((x - m) . n) n                 (reflection about the feature's own plane)
        A_feature = mean_j ||x_l,j - H(x_r,j)|| / scale
        A_overall = mean over the features of A_feature

    as in the original (expressions.py:56-84 at commit 9a5e32a), which fixes the features to
    eye, brow, nose and mouth of its 51-point ibug schema; here they are the ``regions``.

    Parameters
    ----------
    landmarks : array, shape (n_frames, n_points, 2 or 3) or (n_points, 2 or 3)
        Landmarks, any head pose (each feature's plane follows the face).
    mirror : sequence of int, length n_points
        Index of each point's left-right counterpart (midline points map to themselves; a
        feature uses only its pairs, as the original leaves out "landmarks shared by left/right").
    regions : mapping name -> point indices | None
        The features (e.g. ``eye``, ``brow``, ``nose``, ``mouth``), each with both sides' points
        in any order; a point's counterpart joins the feature with it. None: one feature of
        all points, which is then ``overall``.
    align_on : sequence of int | None
        Only with ``plane="face"``: the points that fit the face's plane (default all; rigid
        points are better when expressions may be one-sided). Ignored otherwise.
    scale : float or array (n_frames,) | None
        Divide the scores by this (e.g. the inter-ocular distance) for size-free values.
        Values are in landmark units (divided by ``scale``): e.g. inter-ocular distances for
        the face processor's pose-free shapes.
    left : sequence of int | None
        The points of one side, exactly one of each pair (the original's ``l*`` index lists).
        Default: of each pair the point with the larger median x over the frames, right for
        any pose a face can be seen in when x is the image's or the face's left-right axis.
        Which side is called left does not change any value.
    plane : {"feature", "face"}
        ``"feature"`` (default, the original's): each feature reflected about its own plane.
        ``"face"``: one mid-sagittal plane per frame, the face mirrored and rigidly aligned
        onto itself on ``align_on`` (Bitbox before issue 20); a region is then the mean
        distance of its points (midline points included) to the reflection of their
        counterparts, and ``overall`` the mean of the regions (of all points without regions).
    convention : {"bitbox", "original"}
        ``"original"`` reproduces the original exactly: an absolute 1e-8 threshold on
        ``||c_R - c_L||`` below which it compares the sides unreflected
        (``A = mean_j ||x_l,j - x_r,j||``), NaN landmarks making only their feature (and
        ``overall``) NaN, no ``scale``, and the optional ``normalize``.
    normalize : {None, "3DI", "3DIl", "2D"}
        Only with ``convention="original"`` (whose default ``normalize=True`` it mirrors):
        ``max(0, (A - median_sym) / (p99_jim - median_sym))`` with the original's constants
        for its 3DI or 3DI-lite 3-D canonical landmarks, or ``max(0, A - median_sym)`` for 2-D
        landmarks (:data:`ORIGINAL_NORMALIZATION`). The constants describe 3DI's ibug-51
        landmarks in 3DI's units; they do not apply to other landmarks (MediaPipe's mesh),
        and None (no normalisation, the original's ``normalize=False``) is the default.

    Returns
    -------
    dict
        ``overall`` and each region: array (n_frames,).

    Notes
    -----
    Bitbox differs from the original where the original is unsound:

    - Coinciding centroids (``||c_R - c_L|| <= 1e-9 x`` the feature's largest coordinate; the
      original: ``<= 1e-8`` in absolute units) leave the plane undefined. The original then
      compares the sides without reflecting them; Bitbox gives 0 when all the feature's points
      coincide (any plane maps them onto themselves) and NaN with a reason otherwise.
    - No normalisation: the original's reference values come from 3DI's 51 landmarks and
      cannot describe another landmark set; use ``scale`` for size-free values.

    Frames are independent: any number of frames works, and a constant series gives the same
    value in every frame. In the Bitbox convention a frame is NaN when any of its points is NaN
    or its ``scale`` is not a positive finite number (a reason is reported when every frame is
    NaN). The per-feature plane makes the score blind to a rigid shift of one side of a
    feature along the line joining the centroids, and largely to other rigid shifts of it (a
    one-pair feature always scores 0): it measures the shape difference between the sides;
    ``plane="face"`` also sees where a feature sits on the face.
    """
    arr = _as_landmarks(landmarks)
    _check_options(convention, plane, normalize, scale, arr.shape[2])
    mirror = _as_mirror(mirror, arr.shape[1])
    features = _features(regions, mirror, _left_side(arr, mirror, left), arr.shape[1])
    divisor = np.ones(len(arr)) if scale is None else np.broadcast_to(np.asarray(scale, dtype=float), (len(arr),))
    names = tuple(features) if "overall" in features else (*features, "overall")
    if convention == "original":
        return _original(arr, features, names, normalize)
    usable = np.isfinite(arr).all(axis=(1, 2)) & np.isfinite(divisor) & (divisor > 0) & (arr.shape[1] > 0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if plane == "face":
            scores = _face_scores(arr, mirror, regions, align_on, usable, features)
            undefined = {}
        else:
            if align_on is not None:
                logger.debug("asymmetry: align_on is used only with plane='face'; ignored")
            scores, undefined = {}, {}
            for name, feature in features.items():
                scores[name], undefined[name] = _feature_scores(arr, feature, convention)
        out = {name: np.where(usable, scores[name] / divisor, np.nan) for name in features}
        if "overall" not in out:
            out["overall"] = np.mean(np.stack([out[name] for name in features]), axis=0)
    _report_bitbox(out, undefined, usable, len(arr))
    return {name: out[name] for name in names}


def _original(arr: np.ndarray, features: Mapping[str, _Feature], names: tuple[str, ...],
              normalize: str | None) -> dict[str, np.ndarray]:
    with np.errstate(over="ignore", invalid="ignore"):
        out = {name: _feature_scores(arr, feature, "original")[0] for name, feature in features.items()}
        if "overall" not in out:
            out["overall"] = np.mean(np.stack([out[name] for name in features]), axis=0)
    out = {name: out[name] for name in names}
    if normalize is not None:
        out = _normalise(out, normalize)
    for name, values in out.items():
        if np.isnan(values).any():
            report_nan("asymmetry", (name,), "a landmark of the feature (for overall: of any feature) is NaN "
                                             "(convention='original')", "no_data")
        if np.isinf(values).any():
            report_nan("asymmetry", (name,), OVERFLOW[1], OVERFLOW[0])
            values[np.isinf(values)] = np.nan
    return out


def _report_bitbox(out: dict[str, np.ndarray], undefined: Mapping[str, np.ndarray], usable: np.ndarray,
                   n_frames: int) -> None:
    any_undefined = np.zeros(n_frames, bool)
    for name, mask in undefined.items():
        any_undefined |= mask
        if (mask & usable).any():
            report_nan("asymmetry", tuple(dict.fromkeys((name, "overall"))), "the centroids of the feature's left "
                       "and right points coincide: its mirror plane is undefined", "no_variation")
    overflowed = []
    for name, values in out.items():
        explained = any_undefined if name == "overall" else undefined.get(name, np.zeros(n_frames, bool))
        if (usable & ~explained & ~np.isfinite(values)).any():
            overflowed.append(name)
        values[~np.isfinite(values)] = np.nan
    if overflowed:
        report_nan("asymmetry", tuple(overflowed), OVERFLOW[1], OVERFLOW[0])
    if n_frames and not usable.any():
        report_nan("asymmetry", tuple(out), "every frame has a NaN point (or a scale that is not a positive "
                                            "finite number)", "no_data")
