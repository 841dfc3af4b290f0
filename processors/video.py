"""Video helpers shared by the video processors: the analysed region of a frame and the frames to analyse.

The core decodes frames (:meth:`bitbox.Recording.iter_frames`); what part of a frame a video
processor looks at (``crop``, ``roi``) and when a video processor does not apply (a file with no
video stream) is the processors' policy, kept here for ``face``, ``pose`` and plugins.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from bitbox.errors import ParameterError
from bitbox.io import display_path
from bitbox.recording import Frame, Recording

__all__ = ["CROPS", "Region", "parse_box", "analysis_region", "analysed_frames", "no_video_reason", "Box"]


#: Frame regions a video processor can be restricted to (two people side by side: left, right).
CROPS = ("full", "left", "right")


@dataclass(frozen=True)
class Region:
    """The part of a frame that is analysed: its top-left corner and size, in frame pixels."""

    x: int
    y: int
    width: int
    height: int


def parse_box(value: Any) -> tuple[int, int, int, int] | None:
    """A box ``(x, y, w, h)`` from ``"x,y,w,h"`` or a sequence of four integers (``None`` stays ``None``).

    Raises ``ValueError`` when it is neither, or when ``x, y < 0`` or ``w, h <= 0``.
    """
    if value is None:
        return None
    try:
        parts = value.replace(" ", "").split(",") if isinstance(value, str) else list(value)
        if len(parts) != 4 or any(isinstance(p, (bool, float)) for p in parts):
            raise ValueError
        box = tuple(int(p) for p in parts)
    except (TypeError, ValueError):
        raise ValueError(f"a box is 'x,y,w,h' (four integers, pixels). Got {value!r}.") from None
    if box[0] < 0 or box[1] < 0 or box[2] <= 0 or box[3] <= 0:
        raise ValueError(f"a box needs x, y >= 0 and w, h > 0 (pixels). Got {value!r}.")
    return box  # type: ignore[return-value]


@dataclass(frozen=True)
class Box:
    """A parameter constraint (:mod:`bitbox.params`): a pixel box ``(x, y, w, h)``, given as ``"x,y,w,h"`` or
    four integers, with ``x, y >= 0`` and ``w, h > 0``."""

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is such a box (``None`` is not: combine with ``NoneOk()``)."""
        if value is None:
            return False
        try:
            parse_box(value)
        except ValueError:
            return False
        return True

    def describe(self) -> str:
        """The constraint in words, for the error message."""
        return "a box 'x,y,w,h' (four integers, pixels; x, y >= 0, w, h > 0)"


def analysis_region(width: int, height: int, *, crop: str = "full", roi: Any = None) -> Region:
    """The analysed region of a ``width`` x ``height`` frame for ``crop`` or ``roi``.

    ``roi`` (``"x,y,w,h"`` or four integers, pixels of the displayed frame) wins over
    ``crop``; it must lie inside the frame. Raises ``ValueError`` with the frame size otherwise.
    """
    box = parse_box(roi)
    if box is not None:
        x, y, w, h = box
        if x + w > width or y + h > height:
            raise ValueError(f"roi {x},{y},{w},{h} reaches outside the {width}x{height} frame (x + w must be <= "
                             f"{width} and y + h <= {height})")
        return Region(x, y, w, h)
    if crop == "full":
        return Region(0, 0, width, height)
    if crop == "left":
        return Region(0, 0, width // 2, height)
    if crop == "right":
        return Region(width // 2, 0, width - width // 2, height)
    raise ValueError(f"crop must be one of {CROPS}. Got {crop!r} instead.")



def no_video_reason(recording: Recording) -> str | None:
    """Why a video processor cannot apply to a recording whose kind carries video: the file holds sound
    only (an audio-only ``.mp4`` or ``.webm`` from a phone or a call), or ``None``.

    A file that cannot be opened gives ``None``: the processor then reports the decoder's reason.
    """
    import av

    if "video" not in recording.kind_info.streams:
        return None
    try:
        with av.open(str(recording.path)) as container:
            if not container.streams.video and container.streams.audio:
                return "the file has no video stream"
    except Exception:  # unreadable files are reported by the processor, with the reason
        return None
    return None


def analysed_frames(recording: Recording, *, step: int = 1, crop: str = "full", roi: Any = None,
                    progress=None) -> Iterator[tuple[Frame, np.ndarray, Region]]:
    """Frames to give a model: ``(frame, rgb, region)`` with ``rgb`` the analysed region of the
    frame (:func:`analysis_region`: ``crop`` or ``roi``), contiguous and read-only; add
    ``region.x``, ``region.y`` to a position in ``rgb`` for full-frame pixels.

    Reports ``progress(done, total)`` every 25 frames and once at the end. A ``roi`` outside
    the frame is a :class:`~bitbox.errors.ParameterError` naming the file and the frame size.
    """
    info = recording.video_info
    try:
        region = analysis_region(info.width, info.height, crop=crop, roi=roi)
    except ValueError as err:
        raise ParameterError(f"{display_path(recording.path)}: {err}; give a roi inside the frame") from None
    expected = max(1, -(-recording.n_frames // step))
    count = 0
    for count, frame in enumerate(recording.iter_frames(step=step), start=1):
        rgb = np.ascontiguousarray(frame.rgb[region.y:region.y + region.height, region.x:region.x + region.width])
        rgb.flags.writeable = False
        yield frame, rgb, region
        if progress is not None and count % 25 == 1:
            progress(count, expected)
    if progress is not None:
        progress(count, count)

