"""The face processor's summary: one row of measures (``notes`` included) from a face time series.

:func:`face_summary` never raises on the data: measures the frames cannot support are NaN,
each named in ``notes`` with the reason and what to do.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from bitbox import analysis
from bitbox.analysis.expressivity import peak_activations, scale_label
from bitbox.processor import join_notes

from . import blendshapes as bs
from . import gaze
from .descriptors import NAMES as DESCRIPTORS
from .qc import QC_ADVICE, QC_NOTE_FRACTION

__all__ = ["face_summary", "NO_FACE_NOTE", "REGIONS", "ASYM_REGIONS", "EXPRESSIVITY_SCALES_S", "DIVERSITY_REGIONS",
           "EXPRESSION_NOISE_IOD"]

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
                 frame_step: int = 1, n_persons: int = 1) -> dict[str, Any]:
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
    n_persons : int
        People tracked in the video (the ``n_persons`` measure).

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
        "n_persons": float(n_persons),
        "quality_mean": float(col("quality")[detected].mean()) if detected.any() else math.nan,
    }
    if "qc_reason" in ts.columns and detected.any():  # frame problems common enough to say so
        shares = ts.loc[detected, "qc_reason"].astype(str).value_counts(normalize=True)
        for reason, share in shares.items():
            if reason in QC_ADVICE and share >= QC_NOTE_FRACTION:
                notes.add_text(f"qc_reason {reason} on {100 * share:.0f}% of the frames with a face: "
                               f"{QC_ADVICE[reason]}")
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
    for name in (*gaze.SERIES, *DESCRIPTORS, *[f"disp_{r}" for r in REGIONS]):
        summary[f"{name}_mean"], summary[f"{name}_sd"] = _mean_sd(col(name)[detected])
    summary.update(_blendshape_summary(ts, detected, notes))
    size = col("head_size_px")[detected]
    size = float(np.median(size[np.isfinite(size)])) if np.isfinite(size).any() else math.nan
    if size < gaze.GAZE_MIN_IOD_PX:
        notes.add_text(f"gaze is unreliable: the face is {size:.0f} px between the eyes (median), under "
                       f"{gaze.GAZE_MIN_IOD_PX:g} px, where the mesh's irises barely move - record closer or at a "
                       "higher resolution for gaze")
    summary.update(_summary_analyses(col, detected, fps, frame_step, notes))
    summary["notes"] = notes.text() if detected.any() else NO_FACE_NOTE
    return summary


def _blendshape_summary(ts: pd.DataFrame, detected: np.ndarray, notes: _Notes) -> dict[str, float]:
    """Mean, SD and activation rate of each blendshape coefficient over the frames with a face."""
    names = [f"{c}_{stat}" for c in bs.COLUMNS for stat in bs.SUMMARY_STATS]
    if not set(bs.COLUMNS) <= set(ts.columns):
        notes.add(["bs_*"], "the time series has no blendshape columns (blendshapes=False)",
                  "nothing to fix (blendshapes=True measures them)")
        return dict.fromkeys(names, math.nan)
    values = ts[list(bs.COLUMNS)].to_numpy(dtype=float, na_value=np.nan)
    return bs.summarize(values, detected)


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

    The same as :func:`.geometry.rotation_from_euler` up to the fixed change of axes,
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

