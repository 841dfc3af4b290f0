"""Pose fault: a real upper-body video pasted small into a wide frame.

mediapipe's pose model, given a person who fills little of a wide frame, fits a shrunken
skeleton: shoulders at the chin, hips at the chest. :func:`small_in_wide_frame` writes such a
copy of a real video (e.g. the carphone clip, 176 x 144) centred on a larger canvas of one
grey level or on a real photo from scikit-image, with the offset recorded so that landmarks
map back onto the original.

Usage: ``python -m tools.faults.pose_frame IN.mp4 OUT.mp4 [--size 960x540] [--background grey]``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

__all__ = ["BACKGROUNDS", "small_in_wide_frame", "paste"]

#: Canvas fills: a grey level (0-255) or the name of a scikit-image photo.
BACKGROUNDS = {"grey": 128, "black": 0, "white": 255, "coffee": "coffee", "chelsea": "chelsea", "rocket": "rocket"}


def _canvas(size: tuple[int, int], background: str) -> np.ndarray:
    width, height = size
    fill = BACKGROUNDS.get(background)
    if fill is None:
        raise ValueError(f"Unknown background {background!r}: choose one of {', '.join(BACKGROUNDS)}.")
    if isinstance(fill, int):
        return np.full((height, width, 3), fill, dtype=np.uint8)
    import cv2
    import skimage.data

    return cv2.resize(getattr(skimage.data, fill)(), (width, height), interpolation=cv2.INTER_AREA)


def paste(frame: np.ndarray, canvas: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    """A copy of ``canvas`` with ``frame`` (RGB) placed with its top-left corner at ``offset`` (x, y)."""
    x0, y0 = offset
    height, width = frame.shape[:2]
    if x0 < 0 or y0 < 0 or x0 + width > canvas.shape[1] or y0 + height > canvas.shape[0]:
        raise ValueError(f"A {width}x{height} frame at {offset} does not fit a {canvas.shape[1]}x{canvas.shape[0]} "
                         "canvas.")
    out = canvas.copy()
    out[y0:y0 + height, x0:x0 + width] = frame
    return out


def small_in_wide_frame(src: str | Path, dst: str | Path, *, size: tuple[int, int] = (960, 540),
                        background: str = "grey") -> tuple[int, int]:
    """Write ``dst``: every frame of the video ``src`` centred, unscaled, on a ``size`` canvas.

    Parameters
    ----------
    src, dst : path
        The real video (never modified) and the faulty copy (MPEG-4, same frame rate).
    size : (width, height)
        The canvas; it must be at least as large as the video's frames.
    background : str
        A key of :data:`BACKGROUNDS`.

    Returns
    -------
    (x0, y0)
        Where the original frame's top-left corner lies in the copy: a landmark (x, y) of the
        copy is at (x - x0, y - y0) in the original.
    """
    from bitbox.recording import Recording
    from tools import synth

    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise ValueError("The faulty copy must not overwrite its input.")
    recording = Recording(src)
    canvas = _canvas(size, background)
    offset: list[tuple[int, int]] = []

    def frames():
        for frame in recording.iter_frames():
            height, width = frame.rgb.shape[:2]
            if not offset:
                offset.append(((size[0] - width) // 2, (size[1] - height) // 2))
            yield paste(frame.rgb, canvas, offset[0])

    synth.write_video(dst, frames(), fps=recording.fps)
    return offset[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("--size", default="960x540", help="canvas WIDTHxHEIGHT (default 960x540)")
    parser.add_argument("--background", default="grey", choices=sorted(BACKGROUNDS))
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    x0, y0 = small_in_wide_frame(args.src, args.dst, size=(width, height), background=args.background)
    print(f"{args.dst}: {args.src.name} at x={x0}, y={y0} on a {width}x{height} {args.background} canvas")


if __name__ == "__main__":
    main()
