"""Bounded-memory storage of per-frame results for processors that need two passes.

A processor that needs recording-level statistics (a baseline, a median body size) before
it can write its time series keeps, in the first pass, a few numbers per frame in a
:class:`FrameTable` (preallocated arrays, no Python object per value) and large per-frame
records (landmarks) in a :class:`SpillFile` on disk; the second pass reads the records back
in chunks. Memory then depends on the chunk size, not on the recording's length.

Spill files hold intermediates (landmarks are biometric data): they live in the core's
scratch folder (:func:`bitbox.fileio.scratch_folder`), which is inside OUT during a batch.
"""
from __future__ import annotations

import os
from typing import Iterator, Sequence

import numpy as np

from .fileio import scratch_folder

__all__ = ["FrameTable", "SpillFile"]


class FrameTable:
    """Per-frame scalars (float64) plus time and frame index, growing when needed.

    Parameters
    ----------
    names : sequence of str
        Column names.
    capacity : int
        Expected number of frames (the container's frame count); the table grows past it.
    """

    def __init__(self, names: Sequence[str], capacity: int) -> None:
        self.names = tuple(names)
        self._index = {name: i for i, name in enumerate(self.names)}
        capacity = max(1, int(capacity))
        self._values = np.full((capacity, len(self.names)), np.nan)
        self._times = np.zeros(capacity)
        self._frames = np.zeros(capacity, dtype=np.int64)
        self._extra: dict[str, np.ndarray] = {}
        self.n = 0

    def _grow(self) -> None:
        grow = max(16, self.n // 2)
        self._values = np.concatenate([self._values, np.full((grow, len(self.names)), np.nan)])
        self._times = np.concatenate([self._times, np.zeros(grow)])
        self._frames = np.concatenate([self._frames, np.zeros(grow, dtype=np.int64)])
        for key, arr in self._extra.items():
            self._extra[key] = np.concatenate([arr, np.full((grow, *arr.shape[1:]), np.nan)])

    def append(self, row: dict[str, float], time_s: float, frame: int, **arrays: np.ndarray) -> None:
        """Add one frame: scalars by name (missing ones stay NaN) and fixed-shape arrays."""
        if self.n == len(self._times):  # the container under-reported its frames
            self._grow()
        self._values[self.n] = [row.get(name, np.nan) for name in self.names]
        self._times[self.n] = time_s
        self._frames[self.n] = frame
        for key, value in arrays.items():
            if key not in self._extra:
                self._extra[key] = np.full((len(self._times), *np.shape(value)), np.nan)
            self._extra[key][self.n] = value
        self.n += 1

    def column(self, name: str) -> np.ndarray:
        """A copy of one scalar column for the frames stored so far."""
        return self._values[:self.n, self._index[name]].copy()

    def columns(self) -> dict[str, np.ndarray]:
        return {name: self.column(name) for name in self.names}

    def array(self, key: str) -> np.ndarray:
        """The stored per-frame arrays named ``key`` (frames first)."""
        return self._extra[key][:self.n]

    @property
    def times(self) -> np.ndarray:
        return self._times[:self.n]

    @property
    def frames(self) -> np.ndarray:
        return self._frames[:self.n]


class SpillFile:
    """Fixed-shape float32 records written one per frame to a temporary file, read back in chunks.

    Use as a context manager; the file (and its folder) is deleted on exit. The folder is made by
    :func:`bitbox.fileio.scratch_folder`: inside the batch's output folder during a batch, else in
    the system's temporary folder.

    Parameters
    ----------
    shape : tuple of int
        Shape of one record.
    prefix : str
        Start of the scratch folder's name, e.g. ``"bitbox-face-"``.
    """

    def __init__(self, shape: tuple[int, ...], prefix: str = "bitbox-") -> None:
        self.shape = tuple(shape)
        self._size = int(np.prod(self.shape))
        self._dir = scratch_folder(prefix)
        self.path = os.path.join(self._dir.name, "records.f32")
        self._handle = open(self.path, "wb")
        self.n = 0

    def __enter__(self) -> "SpillFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write(self, record: np.ndarray) -> None:
        self._handle.write(np.asarray(record, dtype=np.float32).reshape(self.shape).tobytes())
        self.n += 1

    def chunks(self, size: int) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, block)`` pairs, ``block`` of shape (rows, *shape), in order."""
        self._handle.flush()
        with open(self.path, "rb") as handle:
            for start in range(0, self.n, size):
                rows = min(size, self.n - start)
                block = np.fromfile(handle, dtype=np.float32, count=rows * self._size)
                yield start, block.reshape(rows, *self.shape)

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.close()
        self._dir.cleanup()
