"""Container faults of real videos: rotation metadata (phones) and a variable frame rate.

Each function takes a real video and writes a faulty copy (the input is never modified):

- :func:`set_display_rotation` - the same coded frames with a display matrix that asks a
  player to turn them (a stream copy: no pixel changes);
- :func:`phone_rotated` - what a phone held sideways writes: the frames stored turned
  (re-encoded losslessly with ffmpeg's ``transpose``) and a display matrix that turns them
  back, so a player shows the original upright;
- :func:`variable_frame_rate` - only some frames kept, each at its original presentation
  timestamp (as a phone or screen recorder that drops frames writes them), re-encoded
  losslessly with explicit timestamps.

Angles are counterclockwise, as FFmpeg's display matrix and PyAV's ``VideoFrame.rotation``
state them. Debian's ffmpeg 5.1 has no ``-display_rotation`` (ffmpeg >= 6) and its
``-metadata:s:v rotate=`` tag is deprecated, so the display matrix is written with PyAV.

Usage::

    python -m tools.faults.video_container rotate IN.mp4 OUT.mp4 --degrees 90 [--phone] [--hflip]
    python -m tools.faults.video_container vfr IN.mp4 OUT.mp4 --slow 40:80:3
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av

__all__ = ["set_display_rotation", "phone_rotated", "variable_frame_rate", "slow_segment"]

#: ffmpeg filters that turn the frames clockwise by 90/180/270 degrees (the inverse of a
#: counterclockwise display rotation).
_UNDO = {90: "transpose=clock", 180: "hflip,vflip", 270: "transpose=cclock"}


def _check_paths(src: Path, dst: Path) -> None:
    if not src.is_file():
        raise FileNotFoundError(src)
    if src.resolve() == dst.resolve():
        raise ValueError("the output must not overwrite the input")


def set_display_rotation(src: str | Path, dst: str | Path, degrees: int, *, hflip: bool = False,
                         vflip: bool = False) -> Path:
    """Copy ``src``'s video packets to ``dst`` with a display matrix (no re-encoding).

    Parameters
    ----------
    src, dst : str | Path
        Input video and output MP4/MOV.
    degrees : int
        Counterclockwise rotation a player should apply.
    hflip, vflip : bool
        Mirror after the rotation (PyAV's ``VideoStream.set_display_rotation``).

    Returns
    -------
    Path
        ``dst``.
    """
    src, dst = Path(src), Path(dst)
    _check_paths(src, dst)
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        source = inp.streams.video[0]
        stream = out.add_stream_from_template(source)
        stream.set_display_rotation(degrees, hflip=hflip, vflip=vflip)
        for packet in inp.demux(source):
            if packet.dts is None:
                continue
            packet.stream = stream
            out.mux(packet)
    return dst


def phone_rotated(src: str | Path, dst: str | Path, degrees: int, *, ffmpeg: str = "ffmpeg") -> Path:
    """Write ``src`` as a phone would: frames stored turned, a display matrix turning them back.

    The frames are turned clockwise by ``degrees`` and re-encoded losslessly (H.264,
    ``-qp 0``), then the display matrix asks for a ``degrees`` counterclockwise rotation, so
    that a player (and a correct reader) shows the original frames.

    Parameters
    ----------
    src, dst : str | Path
        Input video and output MP4.
    degrees : {90, 180, 270}
        Counterclockwise display rotation.
    ffmpeg : str
        The ffmpeg executable.

    Returns
    -------
    Path
        ``dst``.
    """
    if degrees not in _UNDO:
        raise ValueError(f"degrees must be one of {sorted(_UNDO)}. Got {degrees!r} instead.")
    src, dst = Path(src), Path(dst)
    _check_paths(src, dst)
    stored = dst.with_name(dst.stem + ".stored.mp4")
    try:
        subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(src), "-vf", _UNDO[degrees], "-an",
                        "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p", str(stored)],
                       check=True, capture_output=True, text=True)
        return set_display_rotation(stored, dst, degrees)
    finally:
        stored.unlink(missing_ok=True)


def slow_segment(n_frames: int, start: int, stop: int, every: int) -> list[int]:
    """Frame indices ``0..n_frames-1`` keeping only every ``every``-th in ``[start, stop)``."""
    return [i for i in range(n_frames) if not start <= i < stop or (i - start) % every == 0]


def variable_frame_rate(src: str | Path, dst: str | Path, keep: Sequence[int]) -> list[float]:
    """Write the frames of ``src`` listed in ``keep``, each at its original timestamp.

    Frames are re-encoded losslessly (H.264 ``qp=0``, no B-frames) in the input's time base,
    so the output's presentation timestamps are exactly those of the kept frames.

    Parameters
    ----------
    src, dst : str | Path
        Input video and output MP4.
    keep : sequence of int
        Indices (in decoding order) of the frames to keep, increasing.

    Returns
    -------
    list of float
        The presentation time (s) of each written frame, from the first written one.
    """
    src, dst = Path(src), Path(dst)
    _check_paths(src, dst)
    wanted = set(keep)
    times: list[float] = []
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        source = inp.streams.video[0]
        time_base = source.time_base or Fraction(1, 90000)
        stream = out.add_stream("libx264", rate=source.guessed_rate,
                                options={"qp": "0", "bf": "0", "preset": "ultrafast"})
        stream.width, stream.height = source.codec_context.width, source.codec_context.height
        stream.pix_fmt = "yuv420p"
        stream.time_base = stream.codec_context.time_base = time_base
        origin = None
        for index, frame in enumerate(inp.decode(source)):
            if index not in wanted:
                continue
            origin = frame.pts if origin is None else origin
            frame.time_base = time_base
            times.append(float((frame.pts - origin) * time_base))
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return times


def repeat_timestamps(src: str | Path, dst: str | Path, at: Sequence[int]) -> Path:
    """Remux ``src`` (no B-frames, e.g. from :func:`variable_frame_rate`) into Matroska with the
    packets listed in ``at`` given the previous packet's timestamp, as a broken muxer writes them.

    Returns
    -------
    Path
        ``dst``.
    """
    src, dst = Path(src), Path(dst)
    _check_paths(src, dst)
    wanted = set(at)
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="matroska") as out:
        source = inp.streams.video[0]
        stream = out.add_stream_from_template(source)
        previous = None
        for index, packet in enumerate(p for p in inp.demux(source) if p.dts is not None):
            if index in wanted and previous is not None:
                packet.pts = packet.dts = previous
            previous = packet.pts
            packet.stream = stream
            out.mux(packet)
    return dst


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="fault", required=True)
    rotate = sub.add_parser("rotate", help="add a display matrix (rotation metadata)")
    rotate.add_argument("src", type=Path)
    rotate.add_argument("dst", type=Path)
    rotate.add_argument("--degrees", type=int, default=90, help="counterclockwise display rotation")
    rotate.add_argument("--phone", action="store_true",
                        help="store the frames turned the other way, as a phone does (lossless re-encode)")
    rotate.add_argument("--hflip", action="store_true")
    rotate.add_argument("--ffmpeg", default="ffmpeg")
    vfr = sub.add_parser("vfr", help="drop frames in a segment, keeping the others' timestamps")
    vfr.add_argument("src", type=Path)
    vfr.add_argument("dst", type=Path)
    vfr.add_argument("--slow", default="40:80:3", help="START:STOP:EVERY (keep every EVERY-th frame there)")
    args = parser.parse_args(argv)
    if args.fault == "rotate":
        if args.phone:
            phone_rotated(args.src, args.dst, args.degrees, ffmpeg=args.ffmpeg)
        else:
            set_display_rotation(args.src, args.dst, args.degrees, hflip=args.hflip)
    else:
        start, stop, every = (int(x) for x in args.slow.split(":"))
        with av.open(str(args.src)) as inp:
            n_frames = inp.streams.video[0].frames or sum(1 for _ in inp.decode(video=0))
        times = variable_frame_rate(args.src, args.dst, slow_segment(n_frames, start, stop, every))
        print(f"{args.dst}: {len(times)} frames, last at {times[-1]:.4f} s")
    print(args.dst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
