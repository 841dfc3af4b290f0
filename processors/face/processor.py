"""The ``face`` processor: landmarks, head pose, blinks, gaze, blendshapes and expression descriptors.

Faces are found anywhere in the frame, down to about 25 px between the eyes, by mediapipe's
full-range face detector on overlapping tiles; each face is followed by its own face mesh
(478 landmarks with irises, tracking mode) on a crop around it, and gets a stable ``person``
id (:mod:`.track`). The ``person`` parameter says whom the outputs are about: the largest
face (default), the leftmost or rightmost, one id, or everyone (one row per frame and person).

Per frame and person it reports detection and quality, the landmarks in image pixels, head
pose (degrees) and position, eye aspect ratios and blinks, gaze (eye widths and degrees),
the 52 MediaPipe blendshape coefficients, expression descriptors relative to the person's
own neutral baseline (the per-recording median) and regional expression displacement.
See ``docs/face.md`` and ``docs/catalog.md``.

Two passes: the first runs the models and keeps, per frame and person, a few dozen numbers in
memory and the landmarks and blendshapes in temporary files; the second reads them back in
chunks, computes baseline-relative measures and streams the table to the output.
"""
from __future__ import annotations

import contextlib
import math
import os
from typing import Any

import numpy as np
import pandas as pd

from bitbox import analysis
from bitbox.events import concat_events, events_frame, events_from_mask
from bitbox.log import logger
from bitbox.params import Bool, Interval, NoneOk, Options
from bitbox.processor import Processor, ProgressCallback, QualityColumns, RowSummaries, join_notes
from bitbox.processors.video import CROPS, Box, analysed_frames, no_video_reason
from bitbox.recording import Recording

from . import blendshapes as bs
from . import geometry as geo
from . import gaze
from .catalog import MEASURES
from .descriptors import NAMES as DESCRIPTORS
from .descriptors import RAW_FEATURES, baselines, descriptor_values, ear, raw_features
from .persons import PERSON_CHOICES, People, PersonStore, min_frames_for_all, select_persons
from .qc import quality
from .summary import ASYM_REGIONS, NO_FACE_NOTE, REGIONS, face_summary
from .track import MAX_FACES, FaceTracker

#: Most different people kept per video (each holds a few dozen numbers per frame).
_MAX_PERSONS = 20

__all__ = ["FaceProcessor", "face_summary", "landmarks_array", "detect_blinks", "DESCRIPTORS", "REGIONS",
           "ASYM_REGIONS", "NO_FACE_NOTE"]


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
    """The face landmarks of a face time series as an array of shape (n_rows, 478, 3).

    Columns are image x (right), image y (down) and relative depth z, in pixels; rows of a
    frame without a face are NaN. With ``person='all'`` take one person's rows first
    (``ts[ts.person == 0]``).

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


def detect_blinks(ear_values: np.ndarray, *, baseline: float, threshold: float, max_frames: int) -> np.ndarray:
    """Blink mask from a mean-EAR series (NaN where no face) with hysteresis and a maximum length.

    A blink starts when EAR < ``threshold x baseline`` and ends when EAR is back above
    ``(threshold + 1) / 2 x baseline``; closures longer than ``max_frames`` or cut by a frame
    without a face are not blinks.
    """
    blink = np.zeros(len(ear_values), dtype=np.int8)
    close_at = threshold * baseline
    open_at = (threshold + 1.0) / 2.0 * baseline
    start = None
    for i, value in enumerate(ear_values):
        if start is None:
            if value < close_at:  # NaN compares False
                start = i
        elif not value < open_at:  # reopened, or face lost (NaN)
            if i - start <= max_frames and not math.isnan(value):
                blink[start:i] = 1
            start = None
    return blink


def _detect_blinks(ear_values: np.ndarray, baseline: float, threshold: float, max_frames: int) -> np.ndarray:
    return detect_blinks(ear_values, baseline=baseline, threshold=threshold, max_frames=max_frames)


def _frame_row(points: np.ndarray, template, region) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """One face's per-frame scalars, its rotation and its pose-free shape (IOD units)."""
    scale, rotation, translation, rms = geo.umeyama(template.rigid_shape, points[geo.RIGID])
    aligned = (points - translation) @ rotation / scale
    pitch, yaw, roll = geo.euler_angles(rotation)
    inside = ((points[:, 0] >= region.x) & (points[:, 0] < region.x + region.width) & (points[:, 1] >= region.y)
              & (points[:, 1] < region.y + region.height)).mean()
    row = {"detected": 1.0, "inframe": float(inside), "rms": rms / scale, "pitch": pitch, "yaw": yaw, "roll": roll,
           "head_x": float(translation[0]), "head_y": float(translation[1]), "head_z": float(translation[2]),
           "scale": scale}
    return row, rotation, aligned


class _PathParam:
    """The path (str or os.PathLike) of an existing file; its content is checked when the model opens."""

    def accepts(self, value: Any) -> bool:
        return (isinstance(value, (str, os.PathLike)) and bool(str(value))
                and os.path.isfile(os.path.expanduser(value)))

    def describe(self) -> str:
        return "the path of an existing MediaPipe face_landmarker.task or face_blendshapes.tflite file"


class FaceProcessor(Processor):
    """Face and head measures from a video (mediapipe face detection and mesh, CPU, offline).

    Parameters
    ----------
    person : {"largest", "left", "right", "all"} or int
        Whom the outputs are about. Every face gets a stable ``person`` id (0, 1, ... in
        order of first appearance). ``"largest"`` (default): the person with the largest
        face among those present on at least half as many frames as the most present one;
        ``"left"`` / ``"right"``: among those, the leftmost / rightmost; an integer: that id
        (see ``n_persons`` and the ``person`` column of a ``"all"`` run); ``"all"``: everyone,
        one time-series row per frame and person and one summary row per person.
    max_faces : int
        Faces followed at the same time, at most 16 (each costs one face mesh per frame);
        faces beyond it are counted in ``n_faces`` but not measured.
    min_detection_confidence : float
        Face-detector score needed to start following a face, in [0, 1].
    min_tracking_confidence : float
        Landmark-tracking score below which a face counts as lost, in [0, 1].
    tracking : bool
        Follow faces from frame to frame (fast, temporally smooth). ``False`` detects faces
        anew in every frame (slower; for shuffled stills).
    redetect_s : float
        Seconds between searches for new faces over the whole frame while every followed face
        is in view (a lost face is also searched for at once, then every 0.25 s for 3 s, and
        where it was lost on every frame for 1 s).
    frame_step : int
        Analyse every ``frame_step``-th frame (1 = all). Times stay in seconds.
    blink_threshold : float
        A blink starts when the mean eye aspect ratio falls below this fraction of the
        person's open-eye baseline.
    blink_max_s : float
        Longer eye closures are not counted as blinks.
    blendshapes : bool
        Compute the 52 MediaPipe blendshape coefficients (``bs_*`` columns).
    face_model : str | None
        Your own MediaPipe ``face_landmarker.task`` (or ``face_blendshapes.tflite``) for the
        blendshapes; default: the bundle shipped with Bitbox.
    store_landmarks : bool
        Write the 478 landmarks into the time series (column ``landmarks``; see
        :func:`landmarks_array`).
    baseline_frames : int
        Frames (evenly spaced) used for the neutral baseline face; bounds memory.
    chunk_frames : int
        Rows per streamed chunk of output.
    crop : {"full", "left", "right"}
        Analyse the whole frame or one half. Landmarks stay in full-frame pixels.
    roi : str | tuple of int | None
        Analyse only this box, ``"x,y,w,h"`` in pixels of the displayed frame (a webcam inset
        in a screen recording; one person of several). Wins over ``crop``; from the CLI
        ``--set face.roi=960,540,320,180``. Landmarks stay in full-frame pixels.

    Examples
    --------
    >>> m = bitbox.process("interview.mp4", processors=["face"])   # doctest: +SKIP
    >>> m["face"].summary["blink_rate_per_min"]                      # doctest: +SKIP
    >>> m = bitbox.process("group.mp4", processors=["face"], **{"face.person": "all"})  # doctest: +SKIP
    """

    name = "face"
    version = "2.0.0"
    input_kinds = ("video",)
    default_for = ("video",)
    qc = QualityColumns(quality="quality", reason="qc_reason", detected_fraction=("face_detected_fraction",),
                        measures=("quality_mean",))
    dyad_measures = ("head_yaw_rel", "head_pitch_rel", "head_roll_rel", "mouth_open", "lip_corner_pull", "brow_raise")
    dyad_preference = 10
    dependencies = ("mediapipe", "opencv-contrib-python", "scipy")
    measures = tuple(MEASURES)
    row_key = "person"
    row_key_description = ("Face processor: stable id of the person the row is about (0, 1, ... in order of first "
                           "appearance); one row per recording and person with face.person='all', else the id of "
                           "the one person reported.")
    plot_measures = ("quality", "head_yaw", "head_pitch", "head_roll", "eye_closure", "mouth_open",
                     "lip_corner_pull", "bs_mouth_smile_left", "gaze_yaw_deg")
    _parameter_constraints = {
        "person": [Options(PERSON_CHOICES), Interval(int, 0, None)],
        "max_faces": [Interval(int, 1, MAX_FACES)],
        "min_detection_confidence": [Interval(float, 0, 1)],
        "min_tracking_confidence": [Interval(float, 0, 1)],
        "tracking": [Bool()],
        "redetect_s": [Interval(float, 0, 3600, closed="right")],
        "frame_step": [Interval(int, 1, None)],
        "blink_threshold": [Interval(float, 0, 1, closed="neither")],
        "blink_max_s": [Interval(float, 0, None, closed="neither")],
        "blendshapes": [Bool()],
        "face_model": [NoneOk(), _PathParam()],
        "store_landmarks": [Bool()],
        "baseline_frames": [Interval(int, 10, None)],
        "chunk_frames": [Interval(int, 1, None)],
        "crop": [Options(CROPS)],
        "roi": [NoneOk(), Box()],
    }

    def __init__(self, *, person: str | int = "largest", max_faces: int = 4, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, tracking: bool = True, redetect_s: float = 2.0,
                 frame_step: int = 1, blink_threshold: float = 0.7, blink_max_s: float = 0.7,
                 blendshapes: bool = True, face_model: str | None = None, store_landmarks: bool = True,
                 baseline_frames: int = 1800, chunk_frames: int = 1000, crop: str = "full", roi=None) -> None:
        self.person = person
        self.max_faces = max_faces
        self.min_detection_confidence = min_detection_confidence
        self.min_tracking_confidence = min_tracking_confidence
        self.tracking = tracking
        self.redetect_s = redetect_s
        self.frame_step = frame_step
        self.blink_threshold = blink_threshold
        self.blink_max_s = blink_max_s
        self.blendshapes = blendshapes
        self.face_model = face_model
        self.store_landmarks = store_landmarks
        self.baseline_frames = baseline_frames
        self.chunk_frames = chunk_frames
        self.crop = crop
        self.roi = roi

    def validate_params(self) -> None:
        """Check every parameter, and a user's ``face_model`` file itself (so that a batch stops
        before any recording instead of failing each one)."""
        super().validate_params()
        if self.blendshapes and self.face_model is not None:
            with bs.BlendshapeModel(bs.resolve_model(self.face_model)):
                pass  # opening reads the file and checks the network's shapes

    # ------------------------------------------------------------------ inputs
    def skip_reason(self, recording: Recording) -> str | None:
        """An audio-only file (e.g. a phone's .mp4 with sound only) has no face to see."""
        return no_video_reason(recording)

    @classmethod
    def report_events(cls, result) -> pd.DataFrame:
        """The blinks of the time series' ``blink`` column: one event per run of blinking frames (label
        ``"blink"``, lasting its frames times the frame step, as ``blink_duration_mean_s`` counts them); with
        several people (``person="all"``) each person's, with the person as text.

        Parameters
        ----------
        result : ProcessorResult
            A face result (read back from disk or not).

        Returns
        -------
        pandas.DataFrame
            The events (see :meth:`bitbox.Processor.report_events`).
        """
        frame = result.timeseries
        if frame is None or "blink" not in frame.columns or frame.empty:
            return events_frame()
        if "person" not in frame.columns:
            return events_from_mask(frame["time_s"], frame["blink"], "blink")
        people = frame["person"].astype(str)
        several = people.nunique() > 1
        return concat_events([events_from_mask(rows["time_s"], rows["blink"], "blink",
                                               f"person {person}" if several else "")
                              for person, rows in frame.groupby(people, sort=False)])

    @classmethod
    def report_frames(cls, result, recording: Recording, *, n_frames: int = 4) -> list[np.ndarray]:
        """Up to ``n_frames`` frames with a face, evenly spread, with the landmarks drawn as green dots (RGB).

        Frames are decoded as the processor saw them (upright, in presentation order); a result without
        ``landmarks`` (``store_landmarks=False``) gives none.
        """
        import cv2

        frame = result.timeseries
        if frame is None or "landmarks" not in frame.columns or "frame" not in frame.columns:
            return []
        detected = frame.index[frame.get("face_detected", pd.Series(1, index=frame.index)) == 1]
        if len(detected) == 0:
            return []
        rows = detected[np.linspace(0, len(detected) - 1, min(n_frames, len(detected))).astype(int)]
        wanted = {int(frame.at[row, "frame"]): row for row in rows}
        images = []
        for decoded in recording.iter_frames():
            if decoded.index > max(wanted):
                break
            if decoded.index not in wanted:
                continue
            rgb = np.ascontiguousarray(decoded.rgb)
            points = np.asarray(frame.at[wanted[decoded.index], "landmarks"], dtype=float).reshape(-1, 3)
            radius = max(1, int(round(max(rgb.shape[:2]) / 400)))
            for x, y in points[:, :2]:
                if np.isfinite(x) and np.isfinite(y):
                    cv2.circle(rgb, (int(round(x)), int(round(y))), radius, (80, 220, 80), -1, cv2.LINE_AA)
            images.append(rgb)
        return images

    def companion_files(self, recording: Recording) -> dict:
        """The blendshape model: its SHA-256 goes into the provenance (a changed model recomputes)."""
        return {"face_model": bs.resolve_model(self.face_model)} if self.blendshapes else {}

    # ------------------------------------------------------------------ pass 1
    def compute(self, recording: Recording, sink, progress: ProgressCallback | None = None) -> dict[str, Any]:
        info = recording.video_info
        step = self.frame_step
        expected = max(1, math.ceil(info.n_frames / step))
        template = geo.load_template()
        fps = (info.fps_median if info.frame_rate_varies and info.fps_median else info.fps) / step
        people = People.empty()
        with contextlib.ExitStack() as stack:
            model = stack.enter_context(bs.BlendshapeModel(bs.resolve_model(self.face_model))) \
                if self.blendshapes else None
            tracker = stack.enter_context(FaceTracker(
                max_faces=self.max_faces, min_detection_confidence=float(self.min_detection_confidence),
                min_tracking_confidence=float(self.min_tracking_confidence), redetect_s=float(self.redetect_s),
                tracking=self.tracking))
            spills = stack.enter_context(contextlib.ExitStack())
            started = False
            for count, (frame, rgb, region) in enumerate(analysed_frames(recording, step=step, crop=self.crop,
                                                                         roi=self.roi, progress=progress)):
                if not started:
                    tracker.start(width=rgb.shape[1], height=rgb.shape[0], fps=fps)
                    started = True
                faces = tracker.update(rgb, time_s=frame.time_s)
                seen = set()
                for face in faces.faces:
                    store = self._store(people, face.person, count, expected, spills)
                    if store is None:
                        continue
                    points = face.points + (region.x, region.y, 0.0)
                    row, rotation, aligned = _frame_row(points, template, region)
                    scores = model.scores(points) if model is not None else None
                    store.add(row, time_s=frame.time_s, index=frame.index, rotation=rotation, points=points,
                              aligned=aligned, scores=scores)
                    seen.add(face.person)
                for pid, store in people.stores.items():
                    if pid not in seen:
                        store.add_missing(time_s=frame.time_s, index=frame.index)
                people.times.append(frame.time_s)
                people.indices.append(frame.index)
                people.n_faces.append(faces.n_faces)
            n = len(people.times)
            chosen, dropped = select_persons(self.person, people.stats(), n_frames=n, path=recording.path,
                                             roi=self.roi)
            logger.info("%s: %d person(s) seen; reporting %s", recording.path.name, len(people.stores),
                        ", ".join(map(str, chosen)))
            return self._second_pass(recording, sink, people, chosen, dropped, fps)

    def _store(self, people: People, pid: int, count: int, expected: int, stack) -> PersonStore | None:
        """The person's store, made (with rows for the frames before) on their first face."""
        store = people.stores.get(pid)
        if store is None and pid not in people.ignored:
            if len(people.stores) >= _MAX_PERSONS:
                people.ignored.add(pid)
                return None
            store = PersonStore(pid, capacity=expected + 2, stack=stack, blendshapes=self.blendshapes,
                                sample_every=max(1, math.ceil(expected / self.baseline_frames)),
                                sample_max=self.baseline_frames)
            for t, index in zip(people.times, people.indices):
                store.add_missing(time_s=t, index=index)
            people.stores[pid] = store
        return store

    # ------------------------------------------------------------------ pass 2
    def _second_pass(self, recording, sink, people: People, chosen: list[int], dropped: list[int],
                     fps: float) -> dict[str, Any]:
        info = recording.video_info
        regions = _region_indices()
        n_faces = np.asarray(people.n_faces, dtype=float)
        series = {pid: _PersonSeries(people.stores[pid], self, regions, n_faces, fps) for pid in chosen}
        readers = {pid: p.chunks(self.chunk_frames) for pid, p in series.items()}
        for start in range(0, len(people.times), self.chunk_frames):
            frames = [next(readers[pid]) for pid in chosen]
            chunk = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
            if len(frames) > 1:
                chunk = chunk.sort_values(["frame", "person"], kind="stable", ignore_index=True)
            sink.append(chunk)
        extra = [n for n in info.notes if n != info.frame_rate_note]
        if dropped:
            extra.append(f"person(s) {', '.join(map(str, dropped))} appeared on fewer than "
                         f"{min_frames_for_all(len(people.times)):g} analysed frames and are not reported (a passing "
                         "or spurious face) - give person=<id> to see one")
        if len(chosen) == 1 and len(people.stores) > 1:
            others = ", ".join(str(pid) for pid in sorted(people.stores) if pid != chosen[0])
            extra.append(f"{len(people.stores)} people were seen; this row is person {chosen[0]} "
                         f"(person={self.person!r}); the others ({others}) are not measured here - give person='all' "
                         "to measure everyone")
        if people.ignored:
            extra.append(f"more than {_MAX_PERSONS} different faces were seen; the later ones were ignored")
        rows = {}
        for pid, person in series.items():
            summary = face_summary(person.summary_series(), fps=fps, duration_s=info.duration_s,
                                   frame_step=self.frame_step, n_persons=len(people.stores))
            summary["notes"] = join_notes([summary["notes"], *extra])
            rows[pid] = summary
        # the main summary (one row per recording): whom person='largest' would report
        main = chosen[0] if len(chosen) == 1 else select_persons(
            "largest", {pid: st for pid, st in people.stats().items() if pid in rows}, n_frames=len(people.times),
            path=recording.path)[0][0]
        return RowSummaries(rows[main], rows=rows)


class _PersonSeries:
    """Pass 2 for one person: baseline-relative measures, blinks, quality; chunks and the summary's series."""

    def __init__(self, store: PersonStore, proc: FaceProcessor, regions: dict[str, np.ndarray],
                 n_faces: np.ndarray, fps: float) -> None:
        self.store, self.proc, self.regions, self.n_faces = store, proc, regions, n_faces
        s = self.s = store.table.columns()
        self.detected = detected = s["detected"] == 1
        self.rotations = store.table.array("rotation")
        self.raw = raw = self._raw_features(proc.chunk_frames)
        self.descriptors = descriptor_values(raw, baselines(raw, detected))
        self.ear_baseline = float(np.nanmedian(raw["ear_mean"][detected])) if detected.any() else math.nan
        max_frames = max(1, int(round(proc.blink_max_s * fps)))
        self.blink = detect_blinks(raw["ear_mean"], baseline=self.ear_baseline, threshold=proc.blink_threshold,
                                   max_frames=max_frames)
        n = len(detected)
        # the lids cover the irises: a blink, or any closure (longer than a blink, or cut by a lost face)
        with np.errstate(invalid="ignore"):
            self.eyes_closed = (self.blink == 1) | (raw["ear_mean"] < proc.blink_threshold * self.ear_baseline)
        # gaze from pass 2's pose-free chunks (vectorised); NaN while the eyes are closed
        self.gaze = {k: np.full(n, np.nan) for k in gaze.SERIES}
        self.quality, self.reasons = quality(s, detected)
        self.relative = _relative_pose(self.rotations, detected)
        self.displacement = {region: np.full(n, np.nan) for region in REGIONS}
        self.asym = {region: np.full(n, np.nan) for region in ASYM_REGIONS}
        self.scores = np.full((n, len(bs.NAMES)), np.nan, dtype=np.float32) if store.scores is not None else None
        self.baseline_shape = np.median(np.stack(store.sample), axis=0) if store.sample else None
        size = s["scale"][detected]
        self.median_size = float(np.median(size)) if size.size else -math.inf

    def _aligned(self, start: int, block: np.ndarray) -> np.ndarray:
        """Pose-free shapes (IOD units) of frames ``start ...`` from pass 1's alignment."""
        s, stop = self.s, start + len(block)
        translation = np.stack([s["head_x"][start:stop], s["head_y"][start:stop], s["head_z"][start:stop]], axis=1)
        aligned = np.matmul(block - translation[:, None, :], self.rotations[start:stop])  # (points - t) R / s
        aligned /= s["scale"][start:stop, None, None]
        return aligned

    def _raw_features(self, size: int) -> dict[str, np.ndarray]:
        """Raw descriptor features and eye aspect ratios of every frame (NaN without a face)."""
        store = self.store
        n = store.table.n
        out = {name: np.full(n, np.nan) for name in ("ear_left", "ear_right", *RAW_FEATURES)}
        for start, block in store.landmarks.chunks(size):
            stop = start + len(block)
            for name, values in raw_features(self._aligned(start, block)).items():
                out[name][start:stop] = values
            points = block.astype(np.float64)
            out["ear_left"][start:stop] = ear(points, geo.EYE_LEFT)
            out["ear_right"][start:stop] = ear(points, geo.EYE_RIGHT)
        return out

    def chunks(self, size: int):
        """The output table in chunks of ``size`` frames (DataFrames)."""
        store, s = self.store, self.s
        mirror = geo.load_template().mirror[:geo.N_MESH]
        asym_regions = {r: self.regions[f"asym_{r}"] for r in ASYM_REGIONS if r != "overall"}
        times, frames = store.table.times, store.table.frames
        score_chunks = store.scores.chunks(size) if store.scores is not None else None
        for start, block in store.landmarks.chunks(size):
            stop = start + len(block)
            aligned = self._aligned(start, block)
            if self.baseline_shape is not None:
                distance = np.linalg.norm(aligned - self.baseline_shape, axis=2)
                for region in REGIONS:
                    self.displacement[region][start:stop] = distance[:, self.regions[region]].mean(axis=1)
            offsets, angles = gaze.gaze_offsets_many(aligned), gaze.gaze_angles_many(aligned)
            closed = self.eyes_closed[start:stop]
            for j, k in enumerate(("gaze_x", "gaze_y")):
                self.gaze[k][start:stop] = np.where(closed, np.nan, offsets[:, j])
            for j, k in enumerate(gaze.ANGLE_SERIES):
                self.gaze[k][start:stop] = np.where(closed, np.nan, angles[:, j])
            with analysis.nan_reasons():  # frames without a face are NaN: qc_reason says so already
                chunk_asym = analysis.asymmetry(aligned[:, :geo.N_MESH], mirror=mirror, regions=asym_regions)
            for region in ASYM_REGIONS:
                self.asym[region][start:stop] = chunk_asym[region]
            chunk = {
                "time_s": times[start:stop],
                "frame": frames[start:stop].astype(np.int32),
                "person": np.full(stop - start, store.person, dtype=np.int32),
                "face_detected": self.detected[start:stop].astype(np.int8),
                "n_faces": self.n_faces[start:stop].astype(np.int8),
                "quality": self.quality[start:stop].astype(np.float32),
                "qc_reason": self.reasons[start:stop],
                **{k: v[start:stop] for k, v in self._series().items() if k not in ("time_s", "face_detected",
                                                                                    "n_faces", "quality", "qc_reason")},
            }
            if score_chunks is not None:
                _, scores = next(score_chunks)
                self.scores[start:stop] = scores
                chunk.update({c: scores[:, j] for j, c in enumerate(bs.COLUMNS)})
            frame = pd.DataFrame({k: (v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype == np.float64
                                      and k != "time_s" else v) for k, v in chunk.items()})
            frame["qc_reason"] = frame["qc_reason"].astype("str")
            if self.proc.store_landmarks:  # one list column: parquet metadata stays small for long videos
                frame["landmarks"] = list(block.reshape(stop - start, -1))
            yield frame

    def _series(self) -> dict[str, np.ndarray]:
        """Every per-frame measure at full precision (landmarks and blendshapes aside)."""
        s = self.s
        return {
            "time_s": self.store.table.times, "face_detected": self.detected.astype(np.int8), "n_faces": self.n_faces,
            "quality": self.quality, "qc_reason": self.reasons, "head_pitch": s["pitch"], "head_yaw": s["yaw"],
            "head_roll": s["roll"], **{f"head_{a}_rel": self.relative[a] for a in ("pitch", "yaw", "roll")},
            "head_x": s["head_x"], "head_y": s["head_y"], "head_size_px": s["scale"],
            "ear_left": self.raw["ear_left"], "ear_right": self.raw["ear_right"], "blink": self.blink,
            **self.gaze, **self.descriptors,
            **{f"disp_{r}": v for r, v in self.displacement.items()}, **{f"asym_{r}": v for r, v in self.asym.items()},
        }

    def summary_series(self) -> pd.DataFrame:
        """The full-precision series the summary is computed from (after :meth:`chunks` ran)."""
        data = pd.DataFrame(self._series())
        if self.scores is not None:
            data = pd.concat([data, pd.DataFrame(self.scores.astype(float), columns=list(bs.COLUMNS))], axis=1)
        return data


def _relative_pose(rotations: np.ndarray, detected: np.ndarray) -> dict[str, np.ndarray]:
    """Angles of each frame's rotation relative to the median rotation (chordal median)."""
    out = {a: np.full(len(rotations), np.nan) for a in ("pitch", "yaw", "roll")}
    if not detected.any():
        return out
    u, _, vt = np.linalg.svd(np.median(rotations[detected], axis=0))
    median = u @ np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))]) @ vt
    for i in np.flatnonzero(detected):
        out["pitch"][i], out["yaw"][i], out["roll"][i] = geo.euler_angles(median.T @ rotations[i])
    return out
