"""Gaze from the irises: offsets in eye widths and eye-in-head angles in degrees.

Both measures are read off the pose-free face, ``aligned = (points - t) @ R / s`` (the frame's
478 face-mesh landmarks aligned to the reference face by :func:`geometry.umeyama` on the rigid
points, as the face processor computes it). In that frame head rotation, position and scale
are removed, the outer-eye inter-ocular distance (IOD) is 1, x points to the image's right,
y down, and z away from the camera.

Eyeball model (``gaze_yaw_deg``, ``gaze_pitch_deg``), per eye:

- the eyeball centre projects onto ``C``, the midpoint of the eye corners (33 and 133 for
  the person's right eye, 362 and 263 for the left); the corners are fixed in the head, so C
  moves with the head, not with the eye;
- the iris centre ``I`` is landmark 468 (right) / 473 (left), on the eyeball's surface;
- the eyeball radius is ``r = EYEBALL_RADIUS_IOD = 12 mm / 90 mm = 0.133`` IOD: an adult eyeball
  is about 24 mm across (Bekerman, Gottlieb & Vaiman 2014, J. Ophthalmology 2014:503645: axial
  22-24.8 mm, transverse 23.6 mm) and the outer eye corners of an adult are about 90 mm apart
  (biocular width ex-ex, Farkas 1994, Anthropometry of the Head and Face: about 88 mm in women,
  91 mm in men);
- an eye turned by yaw ``a`` and pitch ``b`` puts its iris at
  ``I - C = r (sin a cos b, -sin b)`` (y down), so, with ``(dx, dy) = (I - C) / r``,

  ``yaw = asin(clip(dx, -1, 1))``, ``pitch = asin(clip(-dy, -1, 1))`` (the small ``cos b`` factor
  on x is neglected),

  and the reported angles are the mean over both eyes. ``yaw`` > 0: toward the image's right
  (the person's left; the sign of ``head_yaw`` and ``gaze_x``); ``pitch`` > 0: up.

These are eye-in-head angles (head pose removed); the gaze relative to the camera would be the
head rotation applied to ``g = (sin a cos b, sin b, cos a cos b)``. The mesh's irises move less
than a real iris does (about half as far, see the measures' evidence), so the angles are
compressed: compare them within a person rather than reading them as absolute directions.
"""
from __future__ import annotations

import math

import numpy as np

from bitbox.catalog import Measure
from bitbox.errors import ParameterError

from . import geometry as geo

__all__ = ["EYEBALL_RADIUS_IOD", "GAZE_MIN_IOD_PX", "EYES", "SERIES", "ANGLE_SERIES", "gaze_offsets",
           "gaze_offsets_many",
           "gaze_angles", "gaze_angles_many", "measures"]

#: Eyeball radius in outer-eye inter-ocular distances: 12 mm / 90 mm (see the module docstring).
EYEBALL_RADIUS_MM = 12.0
BIOCULAR_WIDTH_MM = 90.0
EYEBALL_RADIUS_IOD = EYEBALL_RADIUS_MM / BIOCULAR_WIDTH_MM
#: Per-frame gaze columns (offsets in eye widths, then angles in degrees).
SERIES = ("gaze_x", "gaze_y", "gaze_yaw_deg", "gaze_pitch_deg")
#: The angle columns.
#: Every gaze column is NaN while the eyes are closed (a blink, or EAR below blink_threshold x the
#: open-eye baseline: the lids cover the irises); the processor applies it.
#: Below this inter-ocular distance (px) the mesh's irises barely move: the summary notes that gaze is unreliable.
GAZE_MIN_IOD_PX = 50.0
ANGLE_SERIES = ("gaze_yaw_deg", "gaze_pitch_deg")
#: Per eye (person's right, left): iris-centre landmark and the two eye corners (outer, inner).
EYES = ((geo.IRIS_RIGHT, (33, 133)), (geo.IRIS_LEFT, (362, 263)))

_MODEL_REF = ("Eyeball model: iris centre on a 12 mm sphere whose centre projects on the eye-corner midpoint "
              "(eyeball 24 mm: Bekerman et al. 2014; outer eye corners 90 mm apart: Farkas 1994); mediapipe "
              "attention-mesh irises (Kartynnik et al. 2019)")
_OFFSET_REF = "mediapipe attention-mesh irises (Kartynnik et al. 2019), relative to the eye corners"


def _check(aligned: np.ndarray, *, ndim: int) -> np.ndarray:
    """``aligned`` as a float array of shape (478, >=2) (ndim 2) or (n, 478, >=2) (ndim 3)."""
    array = np.asarray(aligned, dtype=float)
    if array.ndim != ndim or array.shape[-2] != geo.N_LANDMARKS or array.shape[-1] < 2:
        expected = "(478, 3)" if ndim == 2 else "(n_frames, 478, 3)"
        raise ParameterError(
            f"aligned landmarks must have shape {expected} (the 478 face-mesh landmarks with irises, aligned "
            f"to the reference face: (points - t) @ R / s). Got shape {array.shape} instead. Run the face mesh "
            "with refine_landmarks=True so the irises (468-477) are present.")
    return array


def gaze_offsets(aligned: np.ndarray) -> tuple[float, float]:
    """Iris offset from the eye's centre in eye widths (``gaze_x``, ``gaze_y``).

    Per eye, with corners ``c1, c2`` and iris centre ``i`` in the pose-free template frame
    (x right in the image, y down): ``w = |c1 - c2|``, ``m = (c1 + c2) / 2``,
    ``gaze_x = (i_x - m_x) / w``, ``gaze_y = -(i_y - m_y) / w`` (> 0 up); mean of both eyes,
    the mean clipped to [-1, 1].

    Parameters
    ----------
    aligned : ndarray, shape (478, 3)
        Landmarks aligned to the reference face, ``(points - t) @ R / s``.

    Returns
    -------
    gaze_x, gaze_y : float
    """
    aligned = _check(aligned, ndim=2)
    offsets = []
    for iris, (c1, c2) in EYES:
        # Reference: the eye corners, which stay put (the lids move with the eyes' rotation).
        width = np.linalg.norm(aligned[c1, :2] - aligned[c2, :2])
        centre = (aligned[c1, :2] + aligned[c2, :2]) / 2
        offsets.append(((aligned[iris, 0] - centre[0]) / width, -(aligned[iris, 1] - centre[1]) / width))
    gx, gy = np.mean(offsets, axis=0)
    return float(np.clip(gx, -1, 1)), float(np.clip(gy, -1, 1))


def gaze_offsets_many(aligned: np.ndarray) -> np.ndarray:
    """:func:`gaze_offsets` of many frames at once: shape (n_frames, 2), NaN rows without a face.

    Parameters
    ----------
    aligned : ndarray, shape (n_frames, 478, 3)
        Pose-free landmarks per frame.
    """
    aligned = _check(aligned, ndim=3)
    per_eye = []
    for iris, (c1, c2) in EYES:
        width = np.linalg.norm(aligned[:, c1, :2] - aligned[:, c2, :2], axis=1)
        offset = aligned[:, iris, :2] - (aligned[:, c1, :2] + aligned[:, c2, :2]) / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            per_eye.append(np.stack([offset[:, 0] / width, -offset[:, 1] / width], axis=1))
    return np.clip((per_eye[0] + per_eye[1]) / 2, -1, 1)


def gaze_angles_many(aligned: np.ndarray, *, radius_iod: float = EYEBALL_RADIUS_IOD) -> np.ndarray:
    """Eye-in-head gaze yaw and pitch (degrees) of many frames; see :func:`gaze_angles`.

    Parameters
    ----------
    aligned : ndarray, shape (n_frames, 478, 3)
        Pose-free landmarks per frame; a frame of NaN (no face) gives NaN.
    radius_iod : float
        Eyeball radius in outer-eye inter-ocular distances (default 12 / 90 mm).

    Returns
    -------
    ndarray, shape (n_frames, 2)
        Columns yaw (> 0 toward the image's right) and pitch (> 0 up), mean of both eyes.
    """
    aligned = _check(aligned, ndim=3)
    if not (math.isfinite(radius_iod) and radius_iod > 0):
        raise ParameterError(f"radius_iod must be a positive number of inter-ocular distances (0.133 for a "
                             f"12 mm eyeball). Got {radius_iod!r} instead.")
    per_eye = []
    for iris, corners in EYES:
        centre = aligned[:, list(corners), :2].mean(axis=1)
        d = (aligned[:, iris, :2] - centre) / radius_iod
        with np.errstate(invalid="ignore"):
            per_eye.append(np.stack([np.arcsin(np.clip(d[:, 0], -1, 1)), np.arcsin(np.clip(-d[:, 1], -1, 1))],
                                    axis=1))
    return np.degrees((per_eye[0] + per_eye[1]) / 2)


def gaze_angles(aligned: np.ndarray, *, radius_iod: float = EYEBALL_RADIUS_IOD) -> tuple[float, float]:
    """Eye-in-head gaze yaw and pitch in degrees from the irises (head pose removed).

    Per eye, ``C`` = midpoint of the eye corners (33/133 right, 362/263 left), ``I`` = iris
    centre (468 right, 473 left), ``(dx, dy) = (I - C)[:2] / r`` with ``r = radius_iod``:

    ``yaw = degrees(asin(clip(dx, -1, 1)))``, ``pitch = degrees(asin(clip(-dy, -1, 1)))``;

    the result is the mean of both eyes (per eye angles averaged).

    Parameters
    ----------
    aligned : ndarray, shape (478, 3)
        Landmarks aligned to the reference face, ``(points - t) @ R / s`` (IOD 1, x right, y down).
    radius_iod : float
        Eyeball radius in outer-eye inter-ocular distances (default ``EYEBALL_RADIUS_IOD``).

    Returns
    -------
    yaw, pitch : float
        Degrees; yaw > 0 toward the image's right (as ``head_yaw``), pitch > 0 up. NaN where the
        landmarks are NaN.

    Examples
    --------
    >>> aligned = geometry.load_template().shape.copy()          # doctest: +SKIP
    >>> gaze_angles(aligned)                                     # doctest: +SKIP
    """
    aligned = _check(aligned, ndim=2)
    if not (math.isfinite(radius_iod) and radius_iod > 0):
        raise ParameterError(f"radius_iod must be a positive number of inter-ocular distances (0.133 for a "
                             f"12 mm eyeball). Got {radius_iod!r} instead.")
    yaw = pitch = 0.0
    for iris, (c1, c2) in EYES:  # scalar arithmetic: about 10x faster than numpy on one frame
        dx = (aligned[iris, 0] - (aligned[c1, 0] + aligned[c2, 0]) / 2) / radius_iod
        dy = (aligned[iris, 1] - (aligned[c1, 1] + aligned[c2, 1]) / 2) / radius_iod
        if not (math.isfinite(dx) and math.isfinite(dy)):
            return math.nan, math.nan
        yaw += math.asin(min(max(dx, -1.0), 1.0))
        pitch += math.asin(min(max(-dy, -1.0), 1.0))
    return math.degrees(yaw / 2), math.degrees(pitch / 2)


# ---------------------------------------------------------------------- catalogue
_EVIDENCE = {
    "gaze_x": "Irises of a real face shifted -4..4 px (triangle warp): strictly increasing, Pearson r 0.996, "
              "0.015 eye widths per px.",
    "gaze_y": "Irises shifted -4..4 px downwards: Spearman -0.967; strictly decreasing up to 1 px down, then "
              "mediapipe's vertical iris estimate saturates as the iris slides under the lower lid.",
    "gaze_yaw_deg": "Irises of real faces rotated in 3D by -25..25 deg about a 12 mm eyeball (triangle warp, "
                    "tests/test_face_gaze.py): astronaut Pearson r 0.997, strictly increasing, slope 0.34 deg/deg, "
                    "offset -1.5 deg; Grace Hopper r 0.980, slope 0.20, offset -2.1, monotone within 0.2 deg. The "
                    "mesh's irises move about half as far as the set iris and its eye corners follow a little, so "
                    "angles are compressed about 3x. The same eye rotations on a head re-posed by +-15 deg yaw: "
                    "gaze_yaw_deg changes by at most 3.8 deg (straight eyes, head +-30 deg: at most 5.4 deg).",
    "gaze_pitch_deg": "Irises rotated by -25..25 deg pitch: astronaut Pearson r 0.992, slope 0.10 deg/deg, offset "
                      "+7.6 deg (the iris centre sits above the eye-corner line), increasing (smallest step +0.10 "
                      "deg); Grace Hopper r 0.91, slope 0.05, offset +8.5: the mesh hardly moves the iris "
                      "vertically, so pitch is weak. Yaw sweeps move it by up to 3.5 deg (cross-talk).",
}


def _ts(name: str, unit: str, description: str, valid_range, reference: str) -> Measure:
    return Measure(name, unit, description, "timeseries", valid_range, "float", reference)


def _sm(name: str, unit: str, description: str, valid_range, reference: str) -> Measure:
    return Measure(name, unit, description, "summary", valid_range, "float", reference)


def measures() -> list[Measure]:
    """Catalogue entries of the gaze measures (time series, then summary), with their evidence."""
    angle_note = ("eye-in-head (head pose removed by the alignment); eyeball model: iris on a sphere of radius "
                  "12 mm = 0.133 IOD centred behind the eye-corner midpoint, angle = asin(offset / radius), mean of "
                  "both eyes; NaN while the eyes are closed (a blink, or eye aspect ratio below blink_threshold x the "
                  "open-eye baseline: the lids cover the irises). Biased: the face mesh's irises move "
                  "about half as far as real ones, so angles are compressed (measured yaw slope 0.2-0.35, pitch "
                  "0.05-0.1 deg/deg) and 0 is not exactly straight ahead (pitch reads about +8 deg): compare within a "
                  "person.")
    series = [
        _ts("gaze_x", "eye width", "Horizontal iris-centre offset from the midpoint of the eye corners, head "
            "rotation removed, mean of both eyes; > 0 toward the image's right; NaN while the eyes are closed.",
            (-1, 1), _OFFSET_REF),
        _ts("gaze_y", "eye width", "Vertical iris-centre offset from the line through the eye corners, head "
            "rotation removed, mean of both eyes; > 0 up (not 0 when looking straight: compare within a person); "
            "NaN while the eyes are closed.", (-1, 1), _OFFSET_REF),
        _ts("gaze_yaw_deg", "deg", "Horizontal gaze angle; > 0 toward the image's right (the person's left, the "
            "sign of head_yaw and gaze_x); " + angle_note, (-90, 90), _MODEL_REF),
        _ts("gaze_pitch_deg", "deg", "Vertical gaze angle; > 0 up; " + angle_note, (-90, 90), _MODEL_REF),
    ]
    summary = [
        *[_sm(f"{name}_{s}", "eye width", f"{'Mean' if s == 'mean' else 'Standard deviation'} of {name} over "
              "frames with a face and open eyes.",
              None if s == "mean" else (0, math.inf), _OFFSET_REF) for name in ("gaze_x", "gaze_y")
          for s in ("mean", "sd")],
        *[_sm(f"{name}_{s}", "deg", f"{'Mean' if s == 'mean' else 'Standard deviation'} of {name} over frames "
              "with a face and open eyes.", (-90, 90) if s == "mean" else (0, math.inf), _MODEL_REF)
          for name in ("gaze_yaw_deg", "gaze_pitch_deg") for s in ("mean", "sd")],
    ]
    out = []
    for m in series + summary:
        base = m.name if m.kind == "timeseries" else m.name.rsplit("_", 1)[0]
        out.append(Measure(m.name, m.unit, m.description, m.kind, m.valid_range, m.dtype, m.reference,
                           evidence=_EVIDENCE.get(base, "")))
    return out
