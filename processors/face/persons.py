"""The people of one video: each person's per-frame numbers during pass 1, and who is reported.

Pass 1 keeps, for every person id the tracker gives, a few dozen numbers per analysed frame
in memory (:class:`~bitbox.framestore.FrameTable`) and the landmarks and blendshape scores
in temporary files (:class:`~bitbox.framestore.SpillFile`), with a row for every analysed
frame (NaN where the person is absent), so that each person's series is a regular grid.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np

from bitbox.errors import MeasurementError
from bitbox.framestore import FrameTable, SpillFile

from . import blendshapes as bs
from . import geometry as geo

__all__ = ["SCALARS", "PERSON_CHOICES", "PersonStore", "People", "select_persons", "min_frames_for_all"]

#: Per-frame numbers of one person kept in memory during pass 1.
SCALARS = ("detected", "inframe", "rms", "pitch", "yaw", "roll", "head_x", "head_y", "head_z", "scale")
#: The ``person`` parameter's named choices (an integer id is the other kind).
PERSON_CHOICES = ("largest", "left", "right", "all")
#: ``person='all'`` leaves out (and notes) a person seen on fewer than ``min(_MIN_FRAMES, _MIN_SHARE x
#: analysed frames)`` frames: a passing or spurious detection.
_MIN_SHARE = 0.02
_MIN_FRAMES = 5

_NAN_ROW = dict.fromkeys(SCALARS, math.nan) | {"detected": 0.0}
_NAN_POINTS = np.full((geo.N_LANDMARKS, 3), np.nan, dtype=np.float32)
_NAN_SCORES = np.full(len(bs.NAMES), np.nan, dtype=np.float32)
_NAN_ROTATION = np.full((3, 3), np.nan)


class PersonStore:
    """One person's pass-1 record: per-frame scalars, rotations, landmarks, blendshapes, baseline sample."""

    def __init__(self, person: int, *, capacity: int, stack: contextlib.ExitStack, blendshapes: bool,
                 sample_every: int, sample_max: int) -> None:
        self.person = person
        self.table = FrameTable(SCALARS, capacity=capacity)
        self.landmarks = stack.enter_context(SpillFile((geo.N_LANDMARKS, 3), prefix="bitbox-face-"))
        self.scores = stack.enter_context(SpillFile((len(bs.NAMES),), prefix="bitbox-face-bs-")) if blendshapes \
            else None
        self.sample: list[np.ndarray] = []
        self.n_detected = 0
        self._sample_every = sample_every
        self._sample_max = sample_max

    def add(self, row: dict[str, float], *, time_s: float, index: int, rotation: np.ndarray,
            points: np.ndarray, aligned: np.ndarray, scores: np.ndarray | None) -> None:
        """The person's face in the next analysed frame."""
        self.table.append(row, time_s, index, rotation=rotation)
        self.landmarks.write(points.astype(np.float32))
        if self.scores is not None:
            self.scores.write(_NAN_SCORES if scores is None else scores)
        # every k-th face of this person (k from the video's length): evenly spread, and never empty
        if self.n_detected % self._sample_every == 0 and len(self.sample) < self._sample_max:
            self.sample.append(aligned.astype(np.float32))
        self.n_detected += 1

    def add_missing(self, *, time_s: float, index: int) -> None:
        """An analysed frame without this person."""
        self.table.append(_NAN_ROW, time_s, index, rotation=_NAN_ROTATION)
        self.landmarks.write(_NAN_POINTS)
        if self.scores is not None:
            self.scores.write(_NAN_SCORES)


@dataclass
class People:
    """Every person of pass 1, and the frames of the video analysed so far."""

    stores: dict[int, PersonStore]
    times: list[float]
    indices: list[int]
    n_faces: list[int]
    #: Ids beyond ``max_persons`` that were ignored.
    ignored: set[int]

    @classmethod
    def empty(cls) -> "People":
        return cls({}, [], [], [], set())

    def stats(self) -> dict[int, dict[str, float]]:
        """Per person: frames with the face, median head size and horizontal position."""
        out = {}
        for pid, store in self.stores.items():
            s = store.table.columns()
            seen = s["detected"] == 1
            out[pid] = {"n": float(seen.sum()),
                        "size": float(np.median(s["scale"][seen])) if seen.any() else math.nan,
                        "x": float(np.median(s["head_x"][seen])) if seen.any() else math.nan}
        return out


def min_frames_for_all(n_frames: int) -> float:
    """Frames a person must be seen on to be reported by ``person='all'``: 5, or 2% of a clip
    shorter than 250 frames (a passing or spurious detection is left out, and noted)."""
    return min(_MIN_FRAMES, _MIN_SHARE * n_frames)


def select_persons(person: str | int, stats: dict[int, dict[str, float]], *, n_frames: int,
                   path, roi=None) -> tuple[list[int], list[int]]:
    """The ids to report for the ``person`` parameter, and the ids left out of ``'all'``.

    ``largest``, ``left`` and ``right`` choose among the people present on at least half as
    many frames as the most present one: the largest median head size, the smallest or the
    largest median horizontal position. An integer is that id. ``all`` is every id seen on
    at least :func:`min_frames_for_all` frames.

    Parameters
    ----------
    person : {"largest", "left", "right", "all"} or int
        The processor's ``person`` parameter.
    stats : dict
        Per id: ``n`` (frames with the face), ``size`` (median head size, px), ``x`` (median
        head x, px), as :meth:`People.stats` gives.
    n_frames : int
        Analysed frames of the video.
    path : path
        The recording (for the error).
    roi : str | tuple | None
        The processor's ``roi`` (for the error when no face was found).

    Returns
    -------
    chosen, left_out : list of int
        The ids reported, and those ``"all"`` leaves out.

    Raises
    ------
    MeasurementError
        No face at all, or an id that was not seen (the ids seen are listed).
    """
    present = {pid: st for pid, st in stats.items() if st["n"] > 0}
    if not present:
        if roi is not None:
            raise MeasurementError(path, f"no face was found inside roi {roi} in any of the {n_frames} analysed "
                                   "frames", "Check that the roi (x,y,w,h in pixels of the displayed frame) holds "
                                   "the face, or leave roi unset to search the whole frame")
        raise MeasurementError(path, f"no face was found in any of the {n_frames} analysed frames",
                               "Check that a face is visible, frontal enough and well lit; a small face in a "
                               "large frame is found down to about 25 px between the eyes - give roi=x,y,w,h "
                               "around it, or lower min_detection_confidence")
    if person == "all":
        floor = min_frames_for_all(n_frames)
        keep = sorted(pid for pid, st in present.items() if st["n"] >= floor)
        return keep, sorted(set(present) - set(keep))
    if not isinstance(person, str):
        if person not in present:
            seen = ", ".join(f"{pid} ({100 * st['n'] / n_frames:.0f}% of frames)"
                             for pid, st in sorted(present.items()))
            raise MeasurementError(path, f"person {person} was not seen; the people seen are {seen}",
                                   "Give one of those ids, or person='largest' / 'left' / 'right' / 'all'")
        return [int(person)], []
    most = max(st["n"] for st in present.values())
    regular = {pid: st for pid, st in present.items() if st["n"] >= 0.5 * most}
    key = {"largest": lambda pid: -regular[pid]["size"], "left": lambda pid: regular[pid]["x"],
           "right": lambda pid: -regular[pid]["x"]}[person]
    return [min(sorted(regular), key=key)], []
