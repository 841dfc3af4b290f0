"""Recordings: one input file, its kind, media information, SHA-256 and a frame stream.

A :class:`Recording` checks the file when it is created (exists, is a readable, non-empty
file of a known kind) and reads media information lazily. Frames are streamed one at a
time, so memory does not grow with the length of a video.

Videos are decoded with PyAV (FFmpeg) as a player shows them: a frame stored turned (the
display matrix phones write) is turned upright, and when the frame rate varies, frame times
are the presentation timestamps (see :class:`VideoInfo`).
"""
from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Iterator, Mapping

import numpy as np

from . import kinds
from .errors import RecordingError
from .log import logger

if TYPE_CHECKING:
    from .audio import AudioBlock

__all__ = ["Recording", "VideoInfo", "Frame", "kind_of", "sha256_file", "special_file_reason"]

_CHUNK = 1 << 20


def kind_of(path: str | Path) -> str | None:
    """Return the recording kind of a path (an installed :class:`~bitbox.kinds.Kind` accepts it), or ``None``.

    Parameters
    ----------
    path : str or Path
        The file: its extension, then its content for a kind that sniffs it (a FIFO, a device or
        a socket is judged by its extension alone, never opened).

    Returns
    -------
    str or None
        The kind's name (``"video"``, ``"audio"``, ``"eeg"``, ``"text"`` or a plugin's), as
        :func:`bitbox.kinds.kind_of` chooses among all installed kinds; ``None`` when none accepts it.
    """
    return kinds.kind_of(path)


_SPECIAL = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def special_file_reason(mode: int) -> str | None:
    """Why a file of this ``st_mode`` is not a recording (a FIFO, a device, a socket), or ``None``.

    Such files are refused without being opened: opening a FIFO for reading blocks until
    someone writes to it, and a device can be read for ever.

    Parameters
    ----------
    mode : int
        The file's ``st_mode``, from :func:`os.stat` (or ``os.fstat`` of an opened file).

    Returns
    -------
    str or None
        The reason, worded to follow the file's name in a message (``"is a named pipe (FIFO), not
        a regular file; ..."``); ``None`` for a regular file, a folder or a link.
    """
    for test, what in _SPECIAL:
        if test(mode):
            return f"is {what}, not a regular file; it was not opened (reading it could block or never end)"
    return None


_SPECIAL_HINT = "Copy the recording to an ordinary file and process that"


def _open_regular(path: str | Path):
    """Open ``path`` for reading if it is a regular file, without ever blocking on a FIFO.

    Raises
    ------
    RecordingError
        For a FIFO, a device or a socket (checked before opening and again on the opened file).
    """
    reason = special_file_reason(os.stat(path).st_mode)
    if reason is None:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        mode = os.fstat(fd).st_mode  # replaced by a FIFO between the two checks: still refused
        reason = special_file_reason(mode)
        if reason is None:
            if hasattr(os, "O_NONBLOCK"):
                os.set_blocking(fd, True)
            return os.fdopen(fd, "rb")
        os.close(fd)
    raise RecordingError(path, reason, _SPECIAL_HINT)


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks (a FIFO, a device or a socket is refused
    with a :class:`~bitbox.errors.RecordingError`, never opened).

    Parameters
    ----------
    path : str or Path
        The file (symbolic links are followed).

    Returns
    -------
    str
        The digest as 64 lower-case hexadecimal characters.

    Raises
    ------
    RecordingError
        When the file is a named pipe (FIFO), a device or a socket.
    OSError
        When it does not exist or cannot be read (e.g. ``FileNotFoundError``, ``PermissionError``).
    """
    digest = hashlib.sha256()
    with _open_regular(path) as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


#: Decoded frames the presentation-order buffer holds while scanning timestamps (H.264/HEVC
#: reorder at most 16 frames).
_REORDER = 16

#: A frame interval differing from the median by more than this fraction (and by more than
#: one tick of the container's clock) makes the frame rate "vary".
_RATE_TOLERANCE = 0.1


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video stream, as a player would show it.

    ``width`` and ``height`` are the displayed size: for a file that asks for a 90 or 270
    degree rotation (phones store portrait videos sideways with a display matrix) they are
    the stored size swapped. ``rotation_deg`` and ``mirrored`` are what
    :meth:`Recording.iter_frames` applies to every decoded frame to make it upright: a
    counterclockwise rotation, then a left-right flip. The timing fields come from the
    presentation timestamps of every frame (read once, without decoding).

    Attributes
    ----------
    fps : float
        Frames per second: the container's rate; when the frame rate varies, the mean rate
        (frames / duration) from the timestamps.
    n_frames : int
        The frame count the container reports (or, when it reports none, the count of
        timestamps).
    width, height : int
        Displayed frame size in pixels.
    rotation_deg : {0, 90, 180, 270}
        Counterclockwise rotation applied to the decoded frames.
    mirrored : bool
        Whether a left-right flip is applied after the rotation.
    frame_rate_varies : bool
        Whether the intervals between frames differ from their median by more than 10 %
        (variable-frame-rate phones and screen recorders, dropped frames). Frame times then
        come from the timestamps, not from ``index / fps``.
    fps_min, fps_max, fps_median : float or None
        The slowest, fastest and typical rate between consecutive frames (``1 / interval``; the
        typical one is 1 / the mean of the intervals within 10% of the median, so that 33 and 34 ms
        ticks give 29.97 fps),
        from the timestamps; None when the file has fewer than 2 timestamps.
    irregular_fraction : float
        Fraction of the frame intervals that differ from the median by more than 10 %.
    timestamps_duration_s : float or None
        Duration from the timestamps: last minus first presentation time plus the last
        frame's duration.
    start_s : float
        Presentation time of the first frame in the file's own timeline (``Frame.time_s`` 0),
        e.g. to align the video with another stream of the same file.
    broken_timestamps : int
        Frame timestamps that repeat or go backwards (a broken muxer). When there are any,
        the timestamps are not trusted: ``time_s`` is ``index / fps`` and the frame rate is
        not judged to vary (see the note).
    """

    fps: float
    n_frames: int
    width: int
    height: int
    rotation_deg: int = 0
    mirrored: bool = False
    frame_rate_varies: bool = False
    fps_min: float | None = None
    fps_max: float | None = None
    fps_median: float | None = None
    irregular_fraction: float = 0.0
    timestamps_duration_s: float | None = None
    start_s: float = 0.0
    broken_timestamps: int = 0

    @property
    def duration_s(self) -> float:
        """Duration in seconds: from the timestamps when the frame rate varies, else ``n_frames / fps``."""
        if self.frame_rate_varies and self.timestamps_duration_s is not None:
            return self.timestamps_duration_s
        return self.n_frames / self.fps

    @property
    def rotation_note(self) -> str:
        """What was done to make the frames upright (``""`` when nothing was)."""
        if not self.rotation_deg and not self.mirrored:
            return ""
        turns = []
        if self.rotation_deg:
            turns.append(f"rotated {self.rotation_deg} deg counterclockwise")
        if self.mirrored:
            turns.append("mirrored left-right")
        return (f"the video is stored turned (display matrix): its frames were {' and '.join(turns)} so they "
                f"are upright as a player shows them ({self.width}x{self.height}); landmark pixels refer to "
                "the upright frames")

    @property
    def frame_rate_note(self) -> str:
        """A warning when the frame rate varies (``""`` when it does not)."""
        if not self.frame_rate_varies:
            return ""
        return (f"the frame rate varies ({self.fps_min:.1f}-{self.fps_max:.1f} fps, median "
                f"{self.fps_median:.2f}; {100 * self.irregular_fraction:.0f}% of the frame intervals differ "
                "from the median by more than 10%): times come from the timestamps; rates per frame are not "
                "uniform, so use time_s rather than frame counts for durations and speeds, or re-encode at a "
                "constant rate (`ffmpeg -i IN -fps_mode cfr -r 30 OUT.mp4`)")

    @property
    def timestamps_note(self) -> str:
        """A note when the file's timestamps repeat or go backwards, else ``""``."""
        if not self.broken_timestamps:
            return ""
        return (f"{self.broken_timestamps} frame timestamps repeat or go backwards (a broken muxer): times are the "
                f"frame index / {self.fps:.4g} fps, as at a constant frame rate; re-encode the file to repair its "
                "timestamps (`ffmpeg -i IN -c:v libx264 OUT.mp4`)")

    @property
    def notes(self) -> tuple[str, ...]:
        """Human-readable notes on how the video was read, for a processor's ``notes`` measure."""
        return tuple(note for note in (self.rotation_note, self.frame_rate_note, self.timestamps_note) if note)


@dataclass(frozen=True)
class Frame:
    """One decoded video frame: its index, its time in seconds and its RGB pixels (H x W x 3, uint8).

    Yielded by :meth:`Recording.iter_frames`.

    Attributes
    ----------
    index : int
        The frame's position in the video, from 0 (frames skipped with ``step`` are counted).
    time_s : float
        Seconds from the first frame: ``index / fps`` at a constant frame rate, else from the
        presentation timestamps (see :meth:`Recording.iter_frames`).
    rgb : numpy.ndarray
        The pixels, shape (height, width, 3), dtype uint8, in RGB order, turned upright as the file's
        display matrix asks (:attr:`VideoInfo.rotation_deg`, :attr:`VideoInfo.mirrored`).
    """

    index: int
    time_s: float
    rgb: np.ndarray


class Recording:
    """One recording on disk.

    Parameters
    ----------
    path : str | Path
        The file.
    kind : str | None
        The recording kind, one of the installed :mod:`bitbox.kinds` (``"video"``, ``"audio"``,
        ``"eeg"``, ``"text"`` and those of plugins); by default the kind that accepts the file
        (:func:`bitbox.kinds.kind_of`: its extension, and its content where the kind sniffs it).

    Raises
    ------
    RecordingError
        When the file does not exist, is a folder, is a named pipe (FIFO), a device or a
        socket (refused without being opened), is empty, cannot be read, or no installed kind
        accepts it (and ``kind`` is not given).

    Examples
    --------
    >>> rec = Recording("interview.mp4")          # doctest: +SKIP
    >>> rec.fps, rec.n_frames, rec.duration_s     # doctest: +SKIP
    (30.0, 5400, 180.0)
    """

    def __init__(self, path: str | Path, kind: str | None = None) -> None:
        self.path = Path(path)
        self._check_file()
        installed = kinds.available_kinds()
        if kind is None:
            kind = kinds.kind_of(self.path)
            if kind is None:
                claimed = [spec for spec in installed.values() if self.path.suffix.lower() in spec.extensions]
                if claimed:
                    names = " or ".join(f"{spec.name} recording ({spec.description})" for spec in claimed)
                    raise RecordingError(self.path, f"is not a {names} although its extension is "
                                         f"{self.path.suffix!r}: its content does not look like one",
                                         "Check that this is the right file and that it is a complete export")
                if not installed:
                    raise RecordingError(self.path, "no recording kinds are installed (bitbox.kinds entry points)",
                                         "Reinstall Bitbox (pip install bitbox, or pip install -e . in a checkout)")
                known = ", ".join(sorted(kinds.extensions()))
                raise RecordingError(
                    self.path, f"the extension {self.path.suffix or '(none)'!r} is not a known recording type",
                    f"Known extensions: {known}",
                )
        elif kind not in installed:
            raise RecordingError(self.path, f"unknown recording kind {kind!r}",
                                 f"Use one of {sorted(installed)} (installed kinds; see `bitbox list`)")
        self.kind = kind
        self.kind_info: kinds.Kind = installed[kind]
        self._sha256: str | None = None
        self._video_info: VideoInfo | None = None
        self._upstream: dict[str, Any] = {}
        self._upstream_failures: dict[str, str] = {}

    def __getstate__(self) -> dict[str, Any]:
        # the kind travels by name: its content sniffer (a plugin's function) need not be picklable
        state = dict(self.__dict__)
        state["kind_info"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.kind_info = kinds.get_kind(self.kind)

    @property
    def upstream(self) -> Mapping[str, Any]:
        """The results (:class:`~bitbox.measurements.ProcessorResult`) of the processors that ran on this
        recording before in the same call or batch, by name, for processors that
        :attr:`~bitbox.processor.Processor.uses` them (read-only; empty when a processor runs alone)."""
        return MappingProxyType(self._upstream)

    @property
    def upstream_failures(self) -> Mapping[str, str]:
        """Why the processors of the same call or batch that failed, or did not apply, have no result in
        :attr:`upstream` (``{name: reason}``; read-only), so that a processor using them can say why."""
        return MappingProxyType(self._upstream_failures)

    def add_upstream(self, result: Any) -> None:
        """Make a processor's result available to the processors run after it (see :attr:`upstream`).

        Parameters
        ----------
        result : ProcessorResult
            The result, under its processor's name.
        """
        self._upstream_failures.pop(result.processor, None)
        self._upstream[result.processor] = result

    def add_upstream_failure(self, name: str, reason: str) -> None:
        """Record why processor ``name`` has no result for the processors run after it.

        Parameters
        ----------
        name : str
            The processor that failed or was skipped.
        reason : str
            Why it has no result.
        """
        self._upstream.pop(name, None)
        self._upstream_failures[name] = reason

    def clear_upstream(self) -> None:
        """Forget the results of an earlier call (a new call or batch job starts with none)."""
        self._upstream.clear()
        self._upstream_failures.clear()

    def __repr__(self) -> str:
        text = f"<Recording {self.kind} '{self.path.name}'"
        if self._video_info is not None:
            info = self._video_info
            text += f", {info.width}x{info.height}, {info.fps:g} fps, {info.duration_s:.1f} s"
            if info.rotation_deg or info.mirrored:
                text += f", turned {info.rotation_deg} deg" + (" and mirrored" if info.mirrored else "")
            if info.frame_rate_varies:
                text += ", variable frame rate"
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
            with _open_regular(path) as handle:
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
        """A default identifier: the file name without its extension, made safe as a folder name
        (:func:`bitbox.io.safe_name`: ``...wav`` gets ``__``, never ``..``)."""
        from .io import safe_name

        return safe_name(self.path.stem)

    # ------------------------------------------------------------------ audio
    def load_audio(self, *, sr: int | None = None) -> tuple[np.ndarray, int]:
        """Decode the audio (of an audio file, or a video's audio track) as mono float32.

        See :func:`bitbox.audio.read_audio`.

        Parameters
        ----------
        sr : int | None
            The sample rate to resample to; ``None`` keeps the native sample rate.

        Returns
        -------
        samples : numpy.ndarray
            The mono samples (float32).
        sr : int
            Their sample rate.
        """
        if "audio" not in self.kind_info.streams:
            raise RecordingError(self.path, f"is a {self.kind} recording, which has no audio")
        from .audio import read_audio

        return read_audio(self.path, sr=sr)

    def audio_blocks(self, *, block_s: float | None = 60.0, margin_s: float = 1.0,
                     align: int = 1) -> Iterator[AudioBlock]:
        """Decode the audio block by block, each block with context (:func:`bitbox.audio.audio_blocks`):
        memory stays flat with the recording's length.

        Parameters
        ----------
        block_s : float | None
            Block length (s); ``None`` gives the whole recording as one block.
        margin_s : float
            Context on each side of a block (s).
        align : int
            Block lengths and margins are multiples of this many samples.

        Returns
        -------
        Iterator[bitbox.audio.AudioBlock]
            The blocks, in order.
        """
        if "audio" not in self.kind_info.streams:
            raise RecordingError(self.path, f"is a {self.kind} recording, which has no audio")
        from .audio import audio_blocks

        return audio_blocks(self.path, block_s=block_s, margin_s=margin_s, align=align)

    # ------------------------------------------------------------------ video
    def _require_video(self) -> None:
        if "video" not in self.kind_info.streams:
            raise RecordingError(self.path, f"is a {self.kind} recording, not a video")

    def _open_video(self):  # -> (av.container.InputContainer, av.video.stream.VideoStream)
        import av

        try:
            container = av.open(str(self.path))
        except (av.FFmpegError, UnicodeDecodeError, ValueError):
            raise RecordingError(
                self.path, "cannot be opened as a video (not a video file, truncated or corrupt, or an unsupported codec)",
                "Check that the file plays; re-encode it to H.264 MP4 (e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`)",
            ) from None
        if not container.streams.video:
            container.close()
            raise RecordingError(self.path, "cannot be opened as a video: the file has no video stream",
                                 "Check that this is the video and not an audio-only export")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return container, stream

    @property
    def video_info(self) -> VideoInfo:
        """Frame rate, frame count, displayed size, rotation and timing, from the container (read once).

        Reading it decodes the first frame (for the display matrix) and reads every packet's
        timestamp without decoding (about 40 000 packets per second here).
        """
        self._require_video()
        if self._video_info is None:
            self._video_info = self._read_video_info()
            info = self._video_info
            if info.rotation_note:
                logger.info("%s: %s", self.path.name, info.rotation_note)
            for note in (info.frame_rate_note, info.timestamps_note):
                if note:
                    logger.warning("%s: %s", self.path.name, note)
        return self._video_info

    def _read_video_info(self) -> VideoInfo:
        container, stream = self._open_video()
        try:
            rate = stream.average_rate or stream.guessed_rate  # as OpenCV's CAP_PROP_FPS
            fps = float(rate) if rate else 0.0
            n_frames = int(stream.frames or 0)
            width, height = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
            first = next(_decoded(container, stream), None)
            matrix = _display_matrix(first) if first is not None else None
        finally:
            container.close()
        container, stream = self._open_video()
        try:
            timing = _scan_timestamps(container, stream)
            time_base = stream.time_base  # read while open: PyAV frees the stream with its container
        finally:
            container.close()
        if first is None:
            raise RecordingError(self.path, "no frame could be decoded (corrupt or truncated video)",
                                 "Check that the file plays; re-encode or copy it again")
        width, height = width or first.width, height or first.height
        fields = timing.fields(time_base) if timing is not None else {}
        if fields.get("frame_rate_varies"):
            fps = timing.count / fields["timestamps_duration_s"]  # the mean rate
        elif fields.get("fps_median") and not (0 < fps <= 1000):
            fps = fields["fps_median"]  # the container states no usable rate; the timestamps do
        if not np.isfinite(fps) or fps <= 0 or fps > 1000:
            raise RecordingError(self.path, f"the video reports an invalid frame rate ({fps})",
                                 "Re-encode it with a constant frame rate (e.g. `ffmpeg -i IN -r 30 OUT.mp4`)")
        if n_frames <= 0:
            n_frames = timing.count if timing is not None else 0
        if n_frames <= 0 or width <= 0 or height <= 0:
            raise RecordingError(self.path, "the video reports no frames or no frame size",
                                 "Re-encode it (e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`)")
        rotation, mirrored = _orientation(matrix, self.path)
        if rotation in (90, 270):
            width, height = height, width
        return VideoInfo(fps=fps, n_frames=n_frames, width=width, height=height, rotation_deg=rotation,
                         mirrored=mirrored, **fields)

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
        """Stream decoded frames one at a time, upright and with their presentation times.

        Parameters
        ----------
        step : int
            Yield every ``step``-th frame (all frames are still decoded in order; the skipped
            ones are not converted to RGB).
        truncation_tolerance : float
            Fraction of the reported frame count that may be missing at the end before the
            video is declared truncated (containers often over-report by a frame or two).

        Yields
        ------
        Frame
            ``rgb`` is turned as the file's display matrix asks (see
            :attr:`VideoInfo.rotation_deg`). ``time_s`` is seconds from the first frame: ``index
            / fps`` at a constant frame rate; when the frame rate varies
            (:attr:`VideoInfo.frame_rate_varies`), the frame's presentation timestamp minus the
            first frame's.

        Raises
        ------
        RecordingError
            When decoding stops well before the frame count the container reports.
        """
        from av.video.reformatter import VideoReformatter

        info = self.video_info
        container, stream = self._open_video()
        reformatter = VideoReformatter()  # one swscale context for every frame
        time_base = stream.time_base
        use_pts = info.frame_rate_varies and time_base is not None
        origin = None
        index = 0
        try:
            for decoded in _decoded(container, stream):
                if origin is None:
                    origin = decoded.pts
                if index % step == 0:
                    rgb = _orient(reformatter.reformat(decoded, format="rgb24").to_ndarray(),
                                  info.rotation_deg, info.mirrored)
                    if use_pts and decoded.pts is not None and origin is not None:
                        time_s = float((decoded.pts - origin) * time_base)
                    else:
                        time_s = index / info.fps
                    yield Frame(index=index, time_s=time_s, rgb=rgb)
                index += 1
        finally:
            container.close()
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


# ---------------------------------------------------------------------------- video helpers
def _decoded(container, stream) -> Iterator:  # -> Iterator[av.VideoFrame]
    """Decoded frames in presentation order; a packet the decoder rejects is skipped, a read
    error ends the stream (the caller compares the count with the container's)."""
    import av

    bad = 0
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except (av.FFmpegError, EOFError) as err:
            logger.debug("%s: reading stopped: %s", container.name, err)
            packet = None
        try:
            frames = stream.decode(packet)
        except av.FFmpegError as err:
            bad += 1
            logger.debug("%s: a packet could not be decoded: %s", container.name, err)
            frames = []
        yield from frames
        if packet is None:
            break
    if bad:
        logger.info("%s: %d packets could not be decoded and were skipped", container.name, bad)


def _display_matrix(frame) -> np.ndarray | None:
    """The 3 x 3 display matrix of a decoded frame (FFmpeg's int32 layout), or None."""
    import av.sidedata.sidedata as side

    data = frame.side_data.get(side.Type.DISPLAYMATRIX) if frame.side_data else None
    if data is None:
        return None
    raw = bytes(data)
    if len(raw) != 36:
        return None
    return np.frombuffer(raw, dtype="<i4").reshape(3, 3)


def _orientation(matrix: np.ndarray | None, path: Path) -> tuple[int, bool]:
    """``(counterclockwise degrees, mirrored)`` that make frames upright, as FFmpeg's players do.

    Follows ``ffmpeg``'s autorotate (fftools): the angle from ``av_display_rotation_get``,
    transposes for 90/270 degrees, flips for 180 and 0 degrees. A rotation that is not a
    multiple of 90 degrees is left undone (logged).
    """
    if matrix is None:
        return 0, False
    m = matrix.ravel().astype(float)
    scale_x, scale_y = np.hypot(m[0], m[3]), np.hypot(m[1], m[4])
    if scale_x == 0 or scale_y == 0:
        return 0, False
    # clockwise degrees, as ffmpeg's get_rotation(): -av_display_rotation_get()
    theta = float(np.round(np.degrees(np.arctan2(m[1] / scale_y, m[0] / scale_x))))
    theta -= 360 * np.floor(theta / 360 + 0.9 / 360)
    if abs(theta - 90) < 1:   # transpose=clock, or cclock_flip when m[3] > 0
        return (270, True) if m[3] > 0 else (270, False)
    if abs(theta - 270) < 1:  # transpose=cclock, or clock_flip when m[3] < 0
        return (90, True) if m[3] < 0 else (90, False)
    if abs(theta - 180) < 1:  # hflip when m[0] < 0, vflip when m[4] < 0
        hflip, vflip = m[0] < 0, m[4] < 0
        return {(True, True): (180, False), (True, False): (0, True), (False, True): (180, True),
                (False, False): (0, False)}[(bool(hflip), bool(vflip))]
    if abs(theta) < 1:
        return (180, True) if m[4] < 0 else (0, False)  # vflip
    logger.warning("%s: the display matrix asks for a %.0f deg clockwise rotation, which is not a multiple of 90 deg; "
                   "the frames are analysed as stored", path, theta)
    return 0, False


def _orient(rgb: np.ndarray, rotation_deg: int, mirrored: bool) -> np.ndarray:
    """Rotate ``rgb`` counterclockwise by ``rotation_deg``, then flip it left-right if ``mirrored``."""
    if not rotation_deg and not mirrored:
        return rgb
    out = np.rot90(rgb, rotation_deg // 90)
    if mirrored:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


@dataclass
class _Timing:
    """Streaming statistics of a video's presentation timestamps (memory: one count per distinct interval)."""

    count: int = 0
    first: int | None = None
    last: int | None = None
    last_duration: int = 0
    nonincreasing: int = 0
    intervals: dict | None = None

    def add(self, pts: int, duration: int) -> None:
        if self.intervals is None:
            self.intervals = {}
        if self.last is not None:
            step = pts - self.last
            if step <= 0:
                self.nonincreasing += 1
                return
            self.intervals[step] = self.intervals.get(step, 0) + 1
        else:
            self.first = pts
        self.count += 1
        self.last, self.last_duration = pts, duration

    def fields(self, time_base) -> dict:
        """The timing fields of :class:`VideoInfo` (``time_base``: seconds per tick)."""
        if not self.intervals or time_base is None:
            return {}
        tb = float(time_base)
        steps = np.array(sorted(self.intervals), dtype=float)
        counts = np.array([self.intervals[int(k)] for k in steps], dtype=float)
        cumulative = np.cumsum(counts)
        median = float(steps[np.searchsorted(cumulative, cumulative[-1] / 2)])
        irregular = np.abs(steps - median) > max(1.0, _RATE_TOLERANCE * median)
        # The typical interval: the mean of the regular ones, so that a clock rounding 29.97 fps to 33
        # and 34 ms ticks (Matroska, WebM from browsers) gives 29.97, not 1 / 33 ms.
        typical = float(np.sum(steps[~irregular] * counts[~irregular]) / counts[~irregular].sum())
        last = self.last_duration if self.last_duration > 0 else median
        if self.nonincreasing:  # timestamps that repeat or go backwards: only their usual interval is kept
            return {"broken_timestamps": int(self.nonincreasing), "fps_median": 1 / (typical * tb)}
        return {
            "frame_rate_varies": bool(irregular.any()),
            "fps_min": 1 / (steps[-1] * tb), "fps_max": 1 / (steps[0] * tb), "fps_median": 1 / (typical * tb),
            "irregular_fraction": float(counts[irregular].sum() / cumulative[-1]),
            "timestamps_duration_s": float((self.last - self.first + last) * tb),
            "start_s": float(self.first * tb),
        }


def _scan_timestamps(container, stream) -> _Timing | None:
    """Read every packet's timestamp (no decoding) and sort them into presentation order."""
    import heapq

    import av

    timing, heap = _Timing(), []
    try:
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            heapq.heappush(heap, (packet.pts, packet.duration or 0))
            if len(heap) > _REORDER:
                timing.add(*heapq.heappop(heap))
    except (av.FFmpegError, EOFError) as err:
        logger.debug("%s: timestamps read up to an error: %s", container.name, err)
    while heap:
        timing.add(*heapq.heappop(heap))
    if timing.nonincreasing:
        logger.info("%s: %d frame timestamps do not increase", container.name, timing.nonincreasing)
    return timing if timing.count else None
