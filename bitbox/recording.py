"""Recordings: one input file, its kind, media information, SHA-256 and a frame stream.

A :class:`Recording` checks the file when it is created (exists, is a readable, non-empty
file of a known kind) and reads media information lazily. Frames are streamed one at a
time, so memory does not grow with the length of a video.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import RecordingError
from .log import logger

__all__ = ["Recording", "VideoInfo", "Frame", "EXTENSIONS", "kind_of", "sha256_file", "crop_frame", "CROPS",
           "analysed_frames"]

#: Known file extensions per recording kind (lower case, with the dot).
EXTENSIONS: dict[str, frozenset[str]] = {
    "video": frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg",
                        ".wmv", ".flv", ".mts", ".m2ts", ".3gp"}),
    "audio": frozenset({".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac"}),
    "eeg": frozenset({".edf", ".bdf", ".gdf", ".fif", ".vhdr", ".set"}),
    "text": frozenset({".txt", ".json", ".srt"}),
}

_CHUNK = 1 << 20

#: Frame regions a video processor can be restricted to (two people side by side: left, right).
CROPS = ("full", "left", "right")


def crop_frame(rgb: np.ndarray, crop: str) -> tuple[np.ndarray, int]:
    """The part of a frame to analyse and its x offset in the full frame.

    ``"left"``/``"right"`` keep the left/right half (for one video of two people side by
    side, processed as two persons); ``"full"`` keeps everything.
    """
    width = rgb.shape[1]
    if crop == "full":
        return rgb, 0
    if crop == "left":
        return rgb[:, : width // 2], 0
    if crop == "right":
        return rgb[:, width // 2:], width // 2
    raise ValueError(f"crop must be one of {CROPS}. Got {crop!r} instead.")


def kind_of(path: str | Path) -> str | None:
    """Return the recording kind of a path from its extension, or ``None`` when unknown."""
    suffix = Path(path).suffix.lower()
    for kind, suffixes in EXTENSIONS.items():
        if suffix in suffixes:
            return kind
    return None


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video stream."""

    fps: float
    n_frames: int
    width: int
    height: int

    @property
    def duration_s(self) -> float:
        """Duration in seconds (``n_frames / fps``)."""
        return self.n_frames / self.fps


@dataclass(frozen=True)
class Frame:
    """One decoded video frame: its index, its time in seconds and its RGB pixels (H x W x 3, uint8)."""

    index: int
    time_s: float
    rgb: np.ndarray


class Recording:
    """One recording on disk.

    Parameters
    ----------
    path : str | Path
        The file.
    kind : {"video", "audio", "eeg", "text"} | None
        The recording kind; by default inferred from the extension.

    Raises
    ------
    RecordingError
        When the file does not exist, is a folder, is empty, cannot be read, or has an
        extension of no known kind (and ``kind`` is not given).

    Examples
    --------
    >>> rec = Recording("interview.mp4")          # doctest: +SKIP
    >>> rec.fps, rec.n_frames, rec.duration_s     # doctest: +SKIP
    (30.0, 5400, 180.0)
    """

    def __init__(self, path: str | Path, kind: str | None = None) -> None:
        self.path = Path(path)
        self._check_file()
        if kind is None:
            kind = kind_of(self.path)
            if kind is None:
                known = ", ".join(sorted(s for v in EXTENSIONS.values() for s in v))
                raise RecordingError(
                    self.path, f"the extension {self.path.suffix or '(none)'!r} is not a known recording type",
                    f"Known extensions: {known}",
                )
        elif kind not in EXTENSIONS:
            raise RecordingError(self.path, f"unknown recording kind {kind!r}",
                                 f"Use one of {sorted(EXTENSIONS)}")
        self.kind = kind
        self._sha256: str | None = None
        self._video_info: VideoInfo | None = None

    def __repr__(self) -> str:
        text = f"<Recording {self.kind} '{self.path.name}'"
        if self.kind == "video" and self._video_info is not None:
            info = self._video_info
            text += f", {info.width}x{info.height}, {info.fps:g} fps, {info.duration_s:.1f} s"
        return text + ">"

    # ------------------------------------------------------------------ file checks
    def _check_file(self) -> None:
        path = self.path
        try:
            exists = path.exists()
        except PermissionError:
            raise RecordingError(path, "permission denied: a folder on the path cannot be entered",
                                 "Give the current user access to the folders (e.g. chmod u+rx)") from None
        if not exists:
            raise RecordingError(path, "file does not exist", "Check the path and its spelling")
        if path.is_dir():
            raise RecordingError(path, "is a folder, not a recording",
                                 "Use bitbox.process_folder() or `bitbox run` for folders")
        try:
            size = path.stat().st_size
            with open(path, "rb") as handle:
                handle.read(1)
        except PermissionError:
            raise RecordingError(path, "permission denied: the file cannot be read",
                                 "Give the current user read access (e.g. chmod u+r)") from None
        except OSError as err:
            raise RecordingError(path, f"cannot be read ({err.strerror or err})") from None
        if size == 0:
            raise RecordingError(path, "file is empty (0 bytes)",
                                 "The copy or recording probably failed; copy the file again")

    @property
    def sha256(self) -> str:
        """SHA-256 of the file's bytes (computed once, then cached)."""
        if self._sha256 is None:
            self._sha256 = sha256_file(self.path)
        return self._sha256

    @property
    def id(self) -> str:
        """A default identifier: the file name without its extension."""
        return self.path.stem

    # ------------------------------------------------------------------ audio
    def load_audio(self, *, sr: int | None = None) -> tuple[np.ndarray, int]:
        """Decode the audio (of an audio file, or a video's audio track) as mono float32.

        See :func:`bitbox.audio.read_audio`; ``sr=None`` keeps the native sample rate.
        """
        if self.kind not in ("audio", "video"):
            raise RecordingError(self.path, f"is a {self.kind} recording, which has no audio")
        from .audio import read_audio

        return read_audio(self.path, sr=sr)

    # ------------------------------------------------------------------ video
    def _require_video(self) -> None:
        if self.kind != "video":
            raise RecordingError(self.path, f"is a {self.kind} recording, not a video")

    def _open_capture(self):  # -> cv2.VideoCapture
        import cv2

        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise RecordingError(
                self.path, "cannot be opened as a video (not a video file, truncated or corrupt, or an unsupported codec)",
                "Check that the file plays; re-encode it to H.264 MP4 (e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`)",
            )
        return capture

    @property
    def video_info(self) -> VideoInfo:
        """Frame rate, frame count and frame size, from the container (checked once)."""
        self._require_video()
        if self._video_info is None:
            import cv2

            capture = self._open_capture()
            try:
                fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
                n_frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
                width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
                height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
                ok, _ = capture.read()
            finally:
                capture.release()
            if not ok:
                raise RecordingError(self.path, "no frame could be decoded (corrupt or truncated video)",
                                     "Check that the file plays; re-encode or copy it again")
            if not np.isfinite(fps) or fps <= 0 or fps > 1000:
                raise RecordingError(self.path, f"the video reports an invalid frame rate ({fps})",
                                     "Re-encode it with a constant frame rate (e.g. `ffmpeg -i IN -r 30 OUT.mp4`)")
            if n_frames <= 0 or width <= 0 or height <= 0:
                raise RecordingError(self.path, "the video reports no frames or no frame size",
                                     "Re-encode it (e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`)")
            self._video_info = VideoInfo(fps=fps, n_frames=n_frames, width=width, height=height)
        return self._video_info

    @property
    def fps(self) -> float:
        """Frames per second (video)."""
        return self.video_info.fps

    @property
    def n_frames(self) -> int:
        """Number of frames the container reports (video)."""
        return self.video_info.n_frames

    @property
    def duration_s(self) -> float:
        """Duration in seconds (video)."""
        return self.video_info.duration_s

    @property
    def size(self) -> tuple[int, int]:
        """Frame size as ``(width, height)`` in pixels (video)."""
        info = self.video_info
        return info.width, info.height

    def iter_frames(self, *, step: int = 1, truncation_tolerance: float = 0.02) -> Iterator[Frame]:
        """Stream decoded frames one at a time.

        Parameters
        ----------
        step : int
            Yield every ``step``-th frame (all frames are still decoded in order).
        truncation_tolerance : float
            Fraction of the reported frame count that may be missing at the end before the
            video is declared truncated (containers often over-report by a frame or two).

        Yields
        ------
        Frame
            ``time_s`` is ``index / fps``, seconds from the start of the recording.

        Raises
        ------
        RecordingError
            When decoding stops well before the frame count the container reports.
        """
        import cv2

        info = self.video_info
        capture = self._open_capture()
        index = 0
        try:
            while True:
                if index % step:
                    if not capture.grab():  # skipped frame: no colour conversion, no copy
                        break
                    index += 1
                    continue
                ok, bgr = capture.read()
                if not ok:
                    break
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                yield Frame(index=index, time_s=index / info.fps, rgb=rgb)
                index += 1
        finally:
            capture.release()
        missing = info.n_frames - index
        allowed = max(2, int(round(truncation_tolerance * info.n_frames)))
        if missing > allowed:
            raise RecordingError(
                self.path,
                f"video is truncated or corrupt: only {index} of the {info.n_frames} frames it reports could be decoded",
                "Copy the file again or re-encode it (`ffmpeg -i IN -c:v libx264 OUT.mp4`)",
            )
        if missing > 0:
            logger.debug("%s: decoded %d of %d reported frames", self.path, index, info.n_frames)


def analysed_frames(recording: "Recording", *, step: int = 1, crop: str = "full",
                    progress=None) -> Iterator[tuple[Frame, np.ndarray, int]]:
    """Frames to give a model: ``(frame, rgb, x_offset)`` with ``rgb`` cropped, contiguous, read-only.

    Reports ``progress(done, total)`` every 25 frames and once at the end.
    """
    expected = max(1, -(-recording.n_frames // step))
    count = 0
    for count, frame in enumerate(recording.iter_frames(step=step), start=1):
        rgb, x0 = crop_frame(frame.rgb, crop)
        rgb = np.ascontiguousarray(rgb)
        rgb.flags.writeable = False
        yield frame, rgb, x0
        if progress is not None and count % 25 == 1:
            progress(count, expected)
    if progress is not None:
        progress(count, count)

