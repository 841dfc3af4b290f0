"""Face dropouts in a real video: frames where the face is lost, with the exact frames known.

A real clip (e.g. the carphone talking head, ``examples/data/talking_head.mp4``) is copied,
optionally trimmed, with chosen frames replaced by a black frame or by a face-free region
of the clip itself (its top-left corner, the car's interior, tiled over the frame). The
copy is encoded losslessly enough (H.264, CRF 10) for the untouched frames to keep their
face. The input is never modified.

Usage::

    python tools/faults/video_dropout.py IN.mp4 OUT.mp4 --frames 40-43 [--n-frames 100] [--fill black|background]
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

__all__ = ["read_frames", "write_frames", "dropout_copy", "parse_frames", "FILLS"]

#: How a dropped frame is replaced.
FILLS = ("black", "background")


def read_frames(path: str | Path) -> tuple[list[np.ndarray], float]:
    """All frames of a video as RGB arrays, and its frame rate."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate)
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    return frames, rate


def write_frames(path: str | Path, frames: Sequence[np.ndarray], fps: float) -> Path:
    """Write RGB frames as an H.264 MP4 (CRF 10: near-lossless) at ``fps``."""
    from fractions import Fraction

    import av

    path = Path(path)
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "10"}
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _background(frame: np.ndarray, patch: int = 24) -> np.ndarray:
    """A frame tiled with the clip's own top-left ``patch`` x ``patch`` corner (no face there)."""
    corner = frame[:patch, :patch]
    reps = (-(-frame.shape[0] // patch), -(-frame.shape[1] // patch), 1)
    return np.tile(corner, reps)[:frame.shape[0], :frame.shape[1]].copy()


def dropout_copy(src: str | Path, dst: str | Path, *, frames: Iterable[int], n_frames: int | None = None,
                 fill: str = "black") -> Path:
    """Write a copy of ``src`` (its first ``n_frames`` frames) with the face removed from ``frames``.

    Parameters
    ----------
    src, dst : path
        The real video and where to write the faulty copy (``src`` is not modified).
    frames : iterable of int
        0-based indices of the frames to replace.
    n_frames : int | None
        Keep only the first ``n_frames`` frames (default all).
    fill : {"black", "background"}
        A black frame, or the clip's own face-free top-left corner tiled over the frame.

    Returns
    -------
    Path
        ``dst``.
    """
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {FILLS}. Got {fill!r} instead.")
    if Path(src).resolve() == Path(dst).resolve():
        raise ValueError("dst must differ from src: inputs are never modified.")
    video, fps = read_frames(src)
    video = video[:n_frames] if n_frames is not None else video
    dropped = sorted(set(frames))
    if dropped and not 0 <= dropped[0] <= dropped[-1] < len(video):
        raise ValueError(f"frames must lie in 0..{len(video) - 1}. Got {dropped}.")
    for i in dropped:
        video[i] = np.zeros_like(video[i]) if fill == "black" else _background(video[i])
    return write_frames(dst, video, fps)


def parse_frames(text: str) -> list[int]:
    """``"3,7-9"`` -> ``[3, 7, 8, 9]``."""
    out: list[int] = []
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        out.extend(range(int(first), int(last or first) + 1))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("--frames", type=parse_frames, required=True, help="frames to drop, e.g. 40-43,90")
    parser.add_argument("--n-frames", type=int, default=None, help="keep only the first N frames")
    parser.add_argument("--fill", choices=FILLS, default="black")
    args = parser.parse_args(argv)
    dropout_copy(args.src, args.dst, frames=args.frames, n_frames=args.n_frames, fill=args.fill)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
