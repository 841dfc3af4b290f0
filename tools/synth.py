"""Videos with known head motion, made from real public-domain photos (for tests and benchmarks).

Every frame is the astronaut portrait (scikit-image) warped by a similarity transform with
a known in-plane rotation (roll), translation and scale about the face centre, so the
true roll and displacement of the face are known exactly for each frame.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from tools.sample_images import astronaut

# Centre of the astronaut's face in skimage.data.astronaut() (between the eyes), in pixels.
ASTRONAUT_FACE_CENTRE = (225.0, 110.0)


def warp_photo(photo: np.ndarray, *, size: tuple[int, int] = (640, 480), roll_deg: float = 0.0,
               shift_px: tuple[float, float] = (0.0, 0.0), scale: float = 1.5,
               centre: tuple[float, float] = ASTRONAUT_FACE_CENTRE) -> np.ndarray:
    """The photo's face placed at the frame centre (+ ``shift_px``), scaled and rotated.

    ``roll_deg`` > 0 rotates the face counter-clockwise in the image (OpenCV convention).
    """
    import cv2

    width, height = size
    matrix = cv2.getRotationMatrix2D(centre, roll_deg, scale)
    matrix[:, 2] += np.array([width / 2 + shift_px[0], height / 2 + shift_px[1]]) - np.array(centre)
    return cv2.warpAffine(photo, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = 30.0) -> Path:
    """Write RGB frames to an MPEG-4 (mp4v) file with OpenCV."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    try:
        for rgb in frames:
            if writer is None:
                height, width = rgb.shape[:2]
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
                if not writer.isOpened():
                    raise RuntimeError(f"OpenCV cannot write {path}")
            writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    finally:
        if writer is not None:
            writer.release()
    return path


def roll_angles(n_frames: int, amplitude_deg: float = 30.0, period_frames: int = 60) -> np.ndarray:
    """A smooth sweep of roll angles starting at 0: ``amplitude * sin(2 pi i / period)``."""
    return amplitude_deg * np.sin(2 * np.pi * np.arange(n_frames) / period_frames)


def roll_video(path: str | Path, angles: Sequence[float], fps: float = 30.0, **kwargs) -> Path:
    """A video whose frame ``i`` shows the astronaut's face rolled by ``angles[i]`` degrees."""
    photo = astronaut()
    return write_video(path, (warp_photo(photo, roll_deg=float(a), **kwargs) for a in angles), fps)


def shift_video(path: str | Path, shifts: Sequence[tuple[float, float]], fps: float = 30.0, **kwargs) -> Path:
    """A video whose frame ``i`` shows the face moved by ``shifts[i]`` pixels (x right, y down)."""
    photo = astronaut()
    return write_video(path, (warp_photo(photo, shift_px=tuple(s), **kwargs) for s in shifts), fps)


def moving_face_frames(n_frames: int, fps: float = 30.0, size: tuple[int, int] = (640, 480)):
    """Frames of a face that sways (roll +-10 deg, +-40 px) for ``n_frames`` (benchmarks)."""
    photo = astronaut()
    for i in range(n_frames):
        t = i / fps
        yield warp_photo(photo, size=size, roll_deg=10 * np.sin(2 * np.pi * t / 4),
                         shift_px=(40 * np.sin(2 * np.pi * t / 7), 10 * np.sin(2 * np.pi * t / 5)))


def still_frames(image: np.ndarray, n_frames: int, size: tuple[int, int] = (640, 480)):
    """The same picture (resized) ``n_frames`` times, e.g. a scene without a face."""
    import cv2

    frame = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    for _ in range(n_frames):
        yield frame
