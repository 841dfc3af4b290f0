"""Following every face in a video with a stable person id.

How a face is followed. Each followed face (a *track*) has its own tracking face mesh
(mediapipe ``FaceMesh``, one face, irises), run every frame on a square crop of the frame
centred on the face's previous rigid-landmark centre, side ``4 x IOD`` (3D outer-eye distance
of the previous frame), resized to 256 x 256 when its side is outside [128, 512] px
(:func:`.detect.crop_square`). The face therefore
stays centred and of constant size in its crop, so the mesh's own frame-to-frame tracking stays
valid, and a small face fills the mesh's input as a close-up does.

A track is *lost* when its mesh finds no face, when its face centre leaves the frame, when it
shrinks below ``MIN_IOD_PX`` (6 px), when it jumps in one frame (centre more than 0.5 IOD off its
recent velocity, or IOD changed by more than 12 %: the mesh slid onto a face passing in front),
or when two tracks converge on one face (centres closer than 0.5 IOD: the track whose face
jumped more and matches its own appearance worse loses it).

Finding faces. Full-range detection on tiles (:func:`.detect.detect_faces`) runs

- on the whole frame set (a *sweep*) on the first ``START_FRAMES`` frames and every 0.25 s for the
  first ``START_SWEEP_S`` seconds, at once on the frame a
  track is lost, and every 0.25 s for ``LOST_FAST_S`` seconds after a loss; in that time also the
  tile nearest to where the face was lost, on every frame for ``LOST_EVERY_FRAME_S`` and then on
  every other frame, so that a face coming back where it left (after a dropout or a hand passing,
  from behind someone, at the frame edge) is picked up on the frame it is back;
- otherwise on one square tile at a time, in turn (a *rolling* search): every ``redetect_s / n``
  seconds (``n`` tiles), so each part of the frame is searched every ``redetect_s`` seconds and a
  newcomer is found within ``redetect_s`` (default 2 s). 1280 x 720 has 3 tiles (a detector run,
  about 4.5 ms, every 0.67 s), 640 x 480 has 2 (every 1 s; its whole-frame view is searched in sweeps).
  Nothing else is searched while every followed face is fine.

Detections within ``max(0.8 IOD, box / 2)`` of a followed face are dropped. While fewer than
``max_faces`` faces are followed, every other one is meshed on a crop of 2.5 box sides around it
by a tracking mesh (the spare one when there is one), which then follows the face if it becomes
a track, and the faces so found are matched
to the tracks that are not followed now (lost, or gone long ago) by a Hungarian assignment
(``scipy.optimize.linear_sum_assignment``) on the dimensionless cost::

    cost = 0.2 min(|c - c_t| / IOD_t, 3)          position (weak: the person may come back elsewhere)
         + 2 min(|log(IOD / IOD_t)|, 1)           size
         + 20 mean_i |q_i - q_t,i|                shape: rigid landmarks after Umeyama alignment
                                                  to the reference face (pose-free, IOD units)
         + 2 B(h, h_t)                            colour: Bhattacharyya distance of the
                                                  hue-saturation histograms (16 x 8) of the face

A match is accepted when ``cost < MAX_COST``, its appearance part (shape + colour) is below
``MAX_APPEARANCE``, and it passes a ratio test (``cost < 0.7 x`` the next best track for that
face); otherwise the face gets a new id. The appearance descriptors of a track are updated every
10th observation: a running mean of the first 10 samples, then an exponential average (weight 0.1).

Person ids are integers from 0 in order of first appearance (faces first seen on the same frame:
from left to right). At most ``max_faces`` faces are followed at once, the largest first (each
mesh holds about 27 MiB); faces beyond are counted in ``n_faces`` only. The meshes of tracks lost
for more than ``LOST_FAST_S`` seconds are released (one is kept as a spare); their descriptors are
kept for re-identification for the whole video.

``tracking=False`` (unrelated stills): every frame is a sweep and every face a single-image mesh;
ids are still assigned by the same matching, against every known person.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bitbox.errors import ParameterError
from bitbox.log import logger

from . import geometry as geo
from .detect import Detection, box_iou, crop_square, detect_faces, detection_views
from .mesh import face_detection, face_mesh, normalized_landmarks, process_landmarks

__all__ = ["FaceTracker", "FrameFaces", "TrackedFace", "face_shape", "face_colour", "match_cost"]

#: most faces followed at once (each holds a face mesh, about 27 MiB)
MAX_FACES = 16
#: crop side of a followed face, in IODs
CROP_IOD = 4.0
#: crop side around a new detection, in detector box sides (about CROP_IOD IODs)
CROP_BOX = 2.5
#: side of the crop given to the mesh, pixels
CROP_OUT = 256
#: a followed face smaller than this (3D outer-eye distance, frame pixels) is dropped
MIN_IOD_PX = 6.0
#: a followed face whose centre moves this much (IODs) off its recent velocity in one frame is lost
JUMP_IOD = 0.5
#: ... or whose size changes by more than this (|log| of the IOD ratio) in one frame
JUMP_SIZE = 0.12
#: two tracks closer than this (IODs) are on one face
CONVERGE_IOD = 0.5
#: detections closer than this (IODs) to a followed face are that face
SAME_FACE_IOD = 0.8
#: interval of the fast search, seconds
FAST_S = 0.25
#: for this long from the first frame the whole frame is searched every FAST_S (a face the detector
#: misses on the first frames, e.g. a small one, is found within a fraction of a second, not redetect_s)
START_SWEEP_S = 2.0
#: the first frames are all searched (a face missed once at the start is found on the next frame)
START_FRAMES = 2
#: the tile where a face was lost is searched on every frame for this long after the loss
LOST_EVERY_FRAME_S = 1.0
#: sweeps every FAST_S for this long after a loss; then the lost track's mesh is closed
LOST_FAST_S = 3.0
#: match acceptance (see the module docstring)
MAX_COST = 3.0
MAX_APPEARANCE = 1.2
RATIO = 0.7
#: descriptor update period (observations) and the number of samples averaged before the EMA
DESCRIPTOR_EVERY = 10
DESCRIPTOR_SAMPLES = 10
#: weights of the cost terms
W_POSITION, W_SIZE, W_SHAPE, W_COLOUR = 0.2, 2.0, 20.0, 2.0
#: a rejected detection (no mesh found) is not retried for this long when it comes back in place
REJECT_S = 2.0


@dataclass(frozen=True, eq=False)
class TrackedFace:
    """One person's face in one frame.

    Attributes
    ----------
    person : int
        Stable id, 0-based in order of first appearance.
    points : ndarray, shape (478, 3), float64
        Landmarks in pixels of the frame given to :meth:`FaceTracker.update`: x right, y down,
        z = mediapipe's depth x the crop side, so that it scales like x.
    detected : bool
        True when the face was (re)found by detection on this frame, False when followed.
    """

    person: int
    points: np.ndarray = field(repr=False)
    detected: bool = False


@dataclass(frozen=True, eq=False)
class FrameFaces:
    """The faces of one frame.

    Attributes
    ----------
    faces : list of TrackedFace
        Followed faces, sorted by ``person``.
    n_faces : int
        Faces seen on this frame: the followed ones plus the faces beyond ``max_faces`` (not
        followed) that the latest search of their region found.
    searched : bool
        Whether face detection ran on this frame.
    """

    faces: list[TrackedFace]
    n_faces: int
    searched: bool = False


# ---------------------------------------------------------------------- appearance
def face_shape(points: np.ndarray) -> np.ndarray:
    """Pose-free shape of a face: its rigid landmarks aligned to the reference face.

    With ``s, R, t = umeyama(template[RIGID], points[RIGID])`` (``points ~ s R q + t``), the
    shape is ``q = R^T (points[RIGID] - t) / s``, in units of the reference IOD.
    """
    template = geo.load_template()
    rigid = points[geo.RIGID]
    scale, rotation, translation, _ = geo.umeyama(template.rigid_shape, rigid)
    return (rigid - translation) @ rotation / scale


def face_colour(rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Hue-saturation histogram (16 x 8 bins, sums to 1) of the face's convex hull in ``rgb``."""
    import cv2

    hull = cv2.convexHull(np.round(points[:geo.N_MESH, :2]).astype(np.int32))
    x, y, w, h = cv2.boundingRect(hull)
    height, width = rgb.shape[:2]
    xa, ya, xb, yb = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    if xa >= xb or ya >= yb:
        return np.full(16 * 8, 1.0 / 128, np.float32)
    patch = np.ascontiguousarray(rgb[ya:yb, xa:xb])
    mask = np.zeros(patch.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, hull - np.array([xa, ya], np.int32), 255)
    hsv = cv2.cvtColor(patch, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], mask, [16, 8], [0, 180, 0, 256]).ravel()
    total = float(hist.sum())
    return (hist / total).astype(np.float32) if total > 0 else np.full(128, 1.0 / 128, np.float32)


def _bhattacharyya(a: np.ndarray, b: np.ndarray) -> float:
    import cv2

    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


def _centre(points: np.ndarray) -> np.ndarray:
    return points[geo.RIGID, :2].mean(axis=0)


def _iod(points: np.ndarray) -> float:
    """3D outer-eye distance (landmarks 33, 263), pixels: robust to the head turning."""
    return float(np.linalg.norm(points[geo.OUTER_EYE[1]] - points[geo.OUTER_EYE[0]]))


@dataclass
class _Observation:
    """A face found by detection: its landmarks and descriptors."""

    points: np.ndarray
    centre: np.ndarray
    iod: float
    shape: np.ndarray
    colour: np.ndarray
    mesh: Any = None      # the tracking mesh that found it (tracking mode), now following it


class _Track:
    """One person: last landmarks, appearance descriptors, and a tracking mesh while followed."""

    def __init__(self, person: int, obs: _Observation, time_s: float) -> None:
        self.person = person
        self.mesh: Any = None
        self.mesh_dirty = False  # the mesh's last image had a face (its state must be reset before reuse)
        self.lost_at: float | None = None
        self.velocity = np.zeros(2)
        self.n_obs = 0
        self.shape = obs.shape
        self.colour = obs.colour
        self._accept(obs.points, obs.centre, obs.iod, time_s)

    def _accept(self, points: np.ndarray, centre: np.ndarray, iod: float, time_s: float) -> None:
        if self.lost_at is None and self.n_obs:
            self.velocity = 0.5 * self.velocity + 0.5 * (centre - self.centre)
        else:
            self.velocity = np.zeros(2)
        self.points, self.centre, self.iod = points, centre, iod
        self.last_seen = time_s
        self.lost_at = None
        self.n_obs += 1

    def observe(self, points: np.ndarray, rgb: np.ndarray, time_s: float, centre: np.ndarray | None = None,
                iod: float | None = None, shape: np.ndarray | None = None,
                colour: np.ndarray | None = None) -> None:
        """Take this frame's landmarks; refresh the descriptors every DESCRIPTOR_EVERY observations."""
        self._accept(points, _centre(points) if centre is None else centre, _iod(points) if iod is None else iod,
                     time_s)
        if self.n_obs % DESCRIPTOR_EVERY == 0:
            k = self.n_obs // DESCRIPTOR_EVERY
            weight = 1.0 / min(k + 1, DESCRIPTOR_SAMPLES)
            new_shape = face_shape(points) if shape is None else shape
            new_colour = face_colour(rgb, points) if colour is None else colour
            self.shape = (1 - weight) * self.shape + weight * new_shape
            self.colour = ((1 - weight) * self.colour + weight * new_colour).astype(np.float32)

    @property
    def live(self) -> bool:
        return self.lost_at is None

    def close_mesh(self) -> None:
        if self.mesh is not None:
            self.mesh.close()
            self.mesh = None


def match_cost(track: Any, obs: _Observation) -> tuple[float, float]:
    """``(cost, appearance part)`` of giving a found face the id of a track that is not followed.

    See the module docstring for the formula.
    """
    position = W_POSITION * min(float(np.linalg.norm(obs.centre - track.centre)) / track.iod, 3.0)
    size = W_SIZE * min(abs(math.log(obs.iod / track.iod)), 1.0)
    shape = W_SHAPE * float(np.linalg.norm(obs.shape - track.shape, axis=1).mean())
    colour = W_COLOUR * _bhattacharyya(obs.colour, track.colour)
    return position + size + shape + colour, shape + colour


# ---------------------------------------------------------------------- tracker
class FaceTracker:
    """Find, follow and identify every face of a video (see the module docstring).

    Parameters
    ----------
    max_faces : int
        Most faces followed at once (each has its own face mesh).
    min_detection_confidence : float
        Threshold of the full-range detector and of the single-image meshes.
    min_tracking_confidence : float
        mediapipe's tracking threshold of the followed meshes.
    redetect_s : float
        Every part of the frame is searched for new faces at least this often (seconds).
    tracking : bool
        False for unrelated stills: search every frame afresh (ids are still assigned).

    Attributes
    ----------
    stats : dict
        Counts since :meth:`start`: ``frames``, ``sweeps`` (whole-frame searches), ``views``
        (single-tile searches), ``candidate_meshes`` (meshes run on detections), ``meshes_made``.
    n_persons : int
        Person ids given so far.

    Examples
    --------
    >>> with FaceTracker(max_faces=3) as tracker:                     # doctest: +SKIP
    ...     tracker.start(width=1280, height=720, fps=30.0)
    ...     for i, rgb in enumerate(frames):
    ...         for face in tracker.update(rgb, time_s=i / 30).faces:
    ...             print(i, face.person, face.points[1, :2])
    """

    def __init__(self, *, max_faces: int = 4, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, redetect_s: float = 2.0, tracking: bool = True) -> None:
        self.max_faces = max_faces
        self.min_detection_confidence = min_detection_confidence
        self.min_tracking_confidence = min_tracking_confidence
        self.redetect_s = redetect_s
        self.tracking = tracking
        self._started = False
        self._detector: Any = None
        self._static: Any = None
        self._spare: list[Any] = []
        self._tracks: list[_Track] = []

    # ------------------------------------------------------------------ lifecycle
    def _check_params(self) -> None:
        if isinstance(self.max_faces, bool) or not isinstance(self.max_faces, (int, np.integer)) \
                or not 1 <= self.max_faces <= MAX_FACES:
            raise ParameterError(f"max_faces must be an integer from 1 to 16, got {self.max_faces!r}")
        for name in ("min_detection_confidence", "min_tracking_confidence"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
                raise ParameterError(f"{name} must be a number in [0, 1], got {value!r}")
        if not isinstance(self.redetect_s, (int, float)) or not 0.0 < float(self.redetect_s) <= 3600:
            raise ParameterError(f"redetect_s must be a number of seconds in (0, 3600], got {self.redetect_s!r}")

    def start(self, *, width: int, height: int, fps: float) -> "FaceTracker":
        """Prepare for a video of ``width`` x ``height`` pixels at ``fps`` frames per second.

        Makes the detector; forgets every person of a previous video.
        """
        self._check_params()
        if int(width) < 16 or int(height) < 16:
            raise ParameterError(f"frames of {width} x {height} pixels are too small to hold a face (16 x 16 "
                                 f"at least)")
        if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
            raise ParameterError(f"fps must be a positive number, got {fps!r}")
        self.close()
        self.width, self.height, self.fps = int(width), int(height), float(fps)
        self._views = detection_views(width=self.width, height=self.height)
        # the rolling search goes over the tiles only (the whole-frame view of small frames is in sweeps)
        side = min(self.width, self.height)
        self._tiles = [v for v in self._views if v[2] == side and v[3] == side] or self._views[:1]
        self._detector = face_detection(min_confidence=float(self.min_detection_confidence), full_range=True)
        self._tracks = []
        self._next_person = 0
        self._cursor = 0
        self._last_sweep: float | None = None
        self._last_search: float | None = None
        self._last_time: float | None = None
        self._first_time: float | None = None
        self._untracked: list[np.ndarray] = []   # centres of faces seen beyond max_faces
        self._rejected: list[tuple[tuple[float, float, float, float], float]] = []
        self.stats = {"frames": 0, "sweeps": 0, "views": 0, "candidate_meshes": 0, "meshes_made": 0}
        self._started = True
        return self

    def close(self) -> None:
        """Close every mediapipe graph (safe to call twice)."""
        for track in self._tracks:
            track.close_mesh()
        while self._spare:
            self._spare.pop().close()
        for name in ("_detector", "_static"):
            graph = getattr(self, name, None)
            if graph is not None:
                graph.close()
                setattr(self, name, None)
        self._started = False

    def __enter__(self) -> "FaceTracker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def n_persons(self) -> int:
        """Number of person ids given so far."""
        return len(self._tracks)

    # ------------------------------------------------------------------ per frame
    def update(self, rgb: np.ndarray, *, time_s: float) -> FrameFaces:
        """The faces of one frame (``rgb``: height x width x 3 uint8, as given to :meth:`start`)."""
        if not self._started:
            raise ParameterError("FaceTracker.update() before start(); call start(width=, height=, fps=) first")
        if not isinstance(rgb, np.ndarray) or rgb.shape != (self.height, self.width, 3) or rgb.dtype != np.uint8:
            raise ParameterError(f"expected a {self.width} x {self.height} RGB uint8 frame (as given to start()), "
                                 f"got shape {getattr(rgb, 'shape', None)} and dtype {getattr(rgb, 'dtype', None)}")
        time_s = float(time_s)
        if not math.isfinite(time_s):
            raise ParameterError(f"time_s must be finite, got {time_s}")
        if self._last_time is not None and time_s < self._last_time:  # a seek backwards: search again
            self._last_sweep = self._last_search = None
        self._last_time = time_s
        self.stats["frames"] += 1
        if not self.tracking:
            return self._static_frame(rgb, time_s)
        lost_now = self._follow(rgb, time_s)
        views = self._views_to_search(time_s, lost_now)
        found: set[int] = set()
        if views is not None:
            found = self._search(rgb, time_s, views)
        faces = [TrackedFace(person=t.person, points=t.points, detected=t.person in found)
                 for t in self._tracks if t.live and t.last_seen == time_s]
        faces.sort(key=lambda f: f.person)
        n_other = sum(not self._near_live(c) for c in self._untracked)
        return FrameFaces(faces=faces, n_faces=len(faces) + n_other, searched=views is not None)

    def _follow(self, rgb: np.ndarray, time_s: float) -> bool:
        """Run each followed face's mesh on its crop; returns whether a track was lost."""
        lost_now = False
        live = [t for t in self._tracks if t.live]
        previous = {t.person: t.centre for t in live}
        for track in live:
            crop, transform = crop_square(rgb, centre=track.centre, side=CROP_IOD * track.iod, out=CROP_OUT)
            found = process_landmarks(track.mesh, crop)
            track.mesh_dirty = bool(found)
            if not found:
                lost_now |= self._lose(track, time_s, "the mesh lost the face")
                continue
            points = transform.to_frame(found[0])
            centre, iod = _centre(points), _iod(points)
            if not (0 <= centre[0] < self.width and 0 <= centre[1] < self.height):
                lost_now |= self._lose(track, time_s, "the face left the frame")
            elif iod < MIN_IOD_PX:
                lost_now |= self._lose(track, time_s, f"the face is smaller than {MIN_IOD_PX:g} px IOD")
            elif (np.linalg.norm(centre - track.centre - track.velocity) > JUMP_IOD * track.iod
                  or abs(math.log(iod / track.iod)) > JUMP_SIZE):
                lost_now |= self._lose(track, time_s, "the face jumped in place or size (onto another face?)")
            else:
                track.observe(points, rgb, time_s, centre=centre, iod=iod)
        lost_now |= self._resolve_convergence(rgb, time_s, previous)
        return lost_now

    def _lose(self, track: _Track, time_s: float, why: str) -> bool:
        track.lost_at = time_s
        logger.debug("face tracker: person %d lost at %.3f s (%s)", track.person, time_s, why)
        return True

    def _resolve_convergence(self, rgb: np.ndarray, time_s: float, previous: dict[int, np.ndarray]) -> bool:
        """Two tracks on one face: the one that jumped more and matches its appearance worse loses it."""
        lost = False
        live = [t for t in self._tracks if t.live and t.last_seen == time_s]
        for i, a in enumerate(live):
            for b in live[i + 1:]:
                if not (a.live and b.live):
                    continue
                if np.linalg.norm(a.centre - b.centre) >= CONVERGE_IOD * min(a.iod, b.iod):
                    continue
                obs = self._observation(rgb, a.points)
                badness = []
                for t in (a, b):
                    jump = float(np.linalg.norm(t.centre - previous.get(t.person, t.centre))) / t.iod
                    badness.append(jump + match_cost(t, obs)[1])
                loser = a if badness[0] > badness[1] else b
                lost |= self._lose(loser, time_s, f"converged with person {(b if loser is a else a).person}")
        return lost

    # ------------------------------------------------------------------ searching
    def _views_to_search(self, time_s: float, lost_now: bool) -> list[tuple[int, int, int, int]] | None:
        """Which regions to search on this frame (None: no search); see the module docstring."""
        starting = self.stats["frames"] <= START_FRAMES
        if self._first_time is None:
            self._first_time = time_s
        recent = [t for t in self._tracks if not t.live and time_s - t.lost_at < LOST_FAST_S]
        due = self._last_sweep is None or time_s - self._last_sweep >= FAST_S - 1e-9
        early = time_s - self._first_time < START_SWEEP_S  # the first seconds: whoever is there is found
        if lost_now or starting or ((recent or early) and due):
            self._last_sweep = self._last_search = time_s
            self.stats["sweeps"] += 1
            self._close_stale(time_s)
            return list(self._views)
        latest = max(recent, key=lambda t: t.lost_at) if recent else None
        if latest is not None and (time_s - latest.lost_at < LOST_EVERY_FRAME_S or self.stats["frames"] % 2 == 0):
            # the tile where the face was lost last: it usually comes back there (after a dropout, a
            # hand passing, a turn away), so that tile is searched on every frame for a second, then
            # on every other frame
            where = latest.centre
            self.stats["views"] += 1
            return [min(self._tiles, key=lambda v: np.hypot(v[0] + v[2] / 2 - where[0], v[1] + v[3] / 2 - where[1]))]
        step = float(self.redetect_s) / len(self._tiles)
        if self._last_search is not None and time_s - self._last_search < step - 1e-9:
            return None
        self._last_search = time_s
        self._cursor = (self._cursor + 1) % len(self._tiles)
        self.stats["views"] += 1
        self._close_stale(time_s)
        return [self._tiles[self._cursor]]

    def _close_stale(self, time_s: float) -> None:
        for track in self._tracks:
            if track.mesh is not None and not track.live and time_s - track.lost_at >= LOST_FAST_S:
                self._release(track.mesh, dirty=track.mesh_dirty)
                track.mesh = None

    def _take_mesh(self) -> Any:
        """A tracking mesh for a new face: the spare, else that of the longest-lost track, else a new one."""
        if self._spare:
            return self._spare.pop()
        idle = sorted((t for t in self._tracks if t.mesh is not None and not t.live), key=lambda t: t.lost_at)
        if idle and len([t for t in self._tracks if t.mesh is not None]) >= self.max_faces:
            mesh, dirty, idle[0].mesh = idle[0].mesh, idle[0].mesh_dirty, None
            if dirty:
                mesh.reset()
            return mesh
        self.stats["meshes_made"] += 1
        return face_mesh(static=False, max_faces=1, min_detection_confidence=float(self.min_detection_confidence),
                         min_tracking_confidence=float(self.min_tracking_confidence))

    def _release(self, mesh: Any, *, dirty: bool) -> None:
        """Keep one spare tracking mesh (its state reset when it last saw a face); close the others."""
        if mesh is None:
            return
        if self._spare:
            mesh.close()
            return
        if dirty:
            mesh.reset()
        self._spare.append(mesh)

    def _observation(self, rgb: np.ndarray, points: np.ndarray) -> _Observation:
        return _Observation(points=points, centre=_centre(points), iod=_iod(points), shape=face_shape(points),
                            colour=face_colour(rgb, points))

    def _near_live(self, centre: np.ndarray, radius_box: float = 0.0) -> bool:
        return any(float(np.linalg.norm(centre - t.centre)) < max(SAME_FACE_IOD * t.iod, radius_box)
                   for t in self._tracks if t.live)

    def _rejected_before(self, det: Detection, time_s: float) -> bool:
        self._rejected = [(box, t) for box, t in self._rejected if 0 <= time_s - t < REJECT_S]
        return any(box_iou(det.box, box) > 0.5 for box, _ in self._rejected)

    def _mesh_detection(self, rgb: np.ndarray, det: Detection) -> tuple[np.ndarray | None, Any]:
        """Landmarks of the face in a detection box, or None, and the mesh that looked (tracking mode).

        The mesh runs on a crop of ``CROP_BOX`` box sides around the box. In tracking mode it is a
        tracking mesh (its first image is searched like a still), which then follows the face if the
        face becomes a track; with ``tracking=False`` it is one shared single-image mesh.
        """
        crop, transform = crop_square(rgb, centre=det.centre, side=max(CROP_BOX * det.size, 16.0), out=CROP_OUT)
        self.stats["candidate_meshes"] += 1
        if self.tracking:
            mesh = self._take_mesh()
        else:
            if self._static is None:
                self._static = face_mesh(static=True, max_faces=1,
                                         min_detection_confidence=float(self.min_detection_confidence))
            mesh = self._static
        result = mesh.process(crop)
        if not result.multi_face_landmarks:
            if self.tracking:
                self._release(mesh, dirty=False)
            return None, None
        points = transform.to_frame(normalized_landmarks(result.multi_face_landmarks[0]))
        return points, (mesh if self.tracking else None)

    def _search(self, rgb: np.ndarray, time_s: float, views: list[tuple[int, int, int, int]]) -> set[int]:
        """Detect in ``views``, mesh the new faces, give them ids; returns the persons (re)found."""
        detections = detect_faces(rgb, min_confidence=float(self.min_detection_confidence),
                                  detector=self._detector, views=views)
        observations = []
        extra: list[np.ndarray] = []
        room = self.max_faces - sum(t.live for t in self._tracks)
        for det in sorted(detections, key=lambda d: -d.size):
            if self._near_live(det.centre, 0.5 * det.size) or self._rejected_before(det, time_s):
                continue
            if len(observations) >= room:   # no room to follow it: count it only
                extra.append(det.centre)
                continue
            points, mesh = self._mesh_detection(rgb, det)
            if points is None or _iod(points) < MIN_IOD_PX:
                self._release(mesh, dirty=True)
                self._rejected.append((det.box, time_s))
                continue
            obs = self._observation(rgb, points)
            if self._near_live(obs.centre) or any(
                    np.linalg.norm(obs.centre - o.centre) < CONVERGE_IOD * o.iod for o in observations):
                self._release(mesh, dirty=True)
                continue
            obs.mesh = mesh
            observations.append(obs)
        found, left_out = self._admit(observations, rgb, time_s,
                                      candidates=[t for t in self._tracks if not t.live])
        extra += [o.centre for o in left_out]
        # the faces not followed: those in the searched regions are replaced by this search's
        self._untracked = [c for c in self._untracked if not any(self._inside(c, v) for v in views)] + extra
        return found

    def _inside(self, centre: np.ndarray, view: tuple[int, int, int, int]) -> bool:
        """Whether a view sees a face at ``centre`` whole: inside it by 10 % of its side, except at frame edges."""
        x, y, w, h = view
        m = 0.1 * min(w, h)
        x0, y0 = (x + m if x > 0 else 0), (y + m if y > 0 else 0)
        x1 = x + w - m if x + w < self.width else self.width
        y1 = y + h - m if y + h < self.height else self.height
        return bool(x0 <= centre[0] < x1 and y0 <= centre[1] < y1)

    def _assign(self, observations: list[_Observation], candidates: list[_Track]) -> dict[int, _Track]:
        """Hungarian assignment of found faces to candidate tracks, with the acceptance rules."""
        if not observations or not candidates:
            return {}
        from scipy.optimize import linear_sum_assignment

        costs = np.empty((len(observations), len(candidates)))
        appearance = np.empty_like(costs)
        for i, obs in enumerate(observations):
            for j, track in enumerate(candidates):
                costs[i, j], appearance[i, j] = match_cost(track, obs)
        matched = {}
        for i, j in zip(*linear_sum_assignment(costs)):
            others = np.delete(costs[i], j)
            ratio_ok = others.size == 0 or costs[i, j] < RATIO * others.min()
            ok = costs[i, j] < MAX_COST and appearance[i, j] < MAX_APPEARANCE and ratio_ok
            logger.debug("face tracker: face at (%.0f, %.0f) vs person %d: cost %.2f (appearance %.2f)%s",
                         *observations[i].centre, candidates[j].person, costs[i, j], appearance[i, j],
                         "" if ok else " rejected")
            if ok:
                matched[int(i)] = candidates[j]
        return matched

    def _admit(self, observations: list[_Observation], rgb: np.ndarray, time_s: float,
               candidates: list[_Track]) -> tuple[set[int], list[_Observation]]:
        """Give each found face its person (re-identified or new) while fewer than max_faces are followed.

        Returns the persons found and the faces left out (beyond ``max_faces``).
        """
        matched = self._assign(observations, candidates)
        room = self.max_faces - sum(t.live and t.last_seen == time_s for t in self._tracks)
        order = sorted(range(len(observations)), key=lambda i: (i not in matched, -observations[i].iod))[:max(room, 0)]
        left_out = [observations[i] for i in range(len(observations)) if i not in order]
        for obs in left_out:   # beyond max_faces: not followed
            self._release(obs.mesh, dirty=True)
        found: set[int] = set()
        # new people seen on the same frame get their ids from left to right
        for i in sorted(order, key=lambda i: (i not in matched, observations[i].centre[0])):
            obs = observations[i]
            track = matched.get(i)
            if track is None:
                track = _Track(self._next_person, obs, time_s)
                self._next_person += 1
                self._tracks.append(track)
                logger.debug("face tracker: new person %d at (%.0f, %.0f), IOD %.1f px", track.person,
                             *obs.centre, obs.iod)
            else:
                track.observe(obs.points, rgb, time_s, centre=obs.centre, iod=obs.iod, shape=obs.shape,
                              colour=obs.colour)
            if obs.mesh is not None:   # the mesh that found the face follows it from now on
                self._release(track.mesh, dirty=track.mesh_dirty)
                track.mesh, track.mesh_dirty = obs.mesh, True
                self._settle(track, rgb)
            found.add(track.person)
        return found, left_out

    def _settle(self, track: _Track, rgb: np.ndarray) -> None:
        """Run a new track's mesh once more on the crop it will follow (centred, side 4 IOD).

        The mesh found the face on the detection crop; its own tracking state is in that crop's
        coordinates, and the first follow crop is framed differently, which would make the mesh
        drop the face on the next frame.
        """
        crop, transform = crop_square(rgb, centre=track.centre, side=CROP_IOD * track.iod, out=CROP_OUT)
        result = track.mesh.process(crop)
        if result.multi_face_landmarks:
            points = transform.to_frame(normalized_landmarks(result.multi_face_landmarks[0]))
            track.points, track.centre, track.iod = points, _centre(points), _iod(points)

    def _static_frame(self, rgb: np.ndarray, time_s: float) -> FrameFaces:
        """tracking=False: detect and mesh every face afresh, ids by matching against every person."""
        detections = detect_faces(rgb, min_confidence=float(self.min_detection_confidence),
                                  detector=self._detector, views=self._views)
        observations: list[_Observation] = []
        for det in sorted(detections, key=lambda d: -d.size):
            points, _ = self._mesh_detection(rgb, det)
            if points is None or _iod(points) < MIN_IOD_PX:
                continue
            obs = self._observation(rgb, points)
            if any(np.linalg.norm(obs.centre - o.centre) < CONVERGE_IOD * o.iod for o in observations):
                continue
            observations.append(obs)
        for track in self._tracks:
            track.lost_at = time_s if track.live else track.lost_at  # every person is a candidate again
        found, _ = self._admit(observations, rgb, time_s, candidates=list(self._tracks))
        faces = [TrackedFace(person=t.person, points=t.points, detected=True)
                 for t in self._tracks if t.person in found]
        faces.sort(key=lambda f: f.person)
        return FrameFaces(faces=faces, n_faces=len(observations), searched=True)
