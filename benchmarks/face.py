"""Face-processor speed and memory, with decode-only speed as the baseline in the same run.

Prints, for a 640 x 480, 30 fps video of a real face (the astronaut portrait swaying):

- decode-only fps and face-processor fps on one core (the process pinned to CPU 0), and
  their ratio (target: at least 60 fps for the processor);
- peak resident memory of ``bitbox run`` on a 1-minute and a 10-minute video, and their
  ratio (target: equal within 10%: frames are streamed, memory must not grow with length).

Usage: ``python benchmarks/face.py [--minutes-long 10] [--workdir DIR]`` (about 6 minutes).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_video(path: Path, minutes: float) -> Path:
    from tools import synth

    if not path.exists():
        n = int(round(minutes * 60 * 30))
        print(f"writing {path.name}: {n} frames ...", flush=True)
        synth.write_video(path, synth.moving_face_frames(n), fps=30)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes-long", type=float, default=10.0)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the generated videos here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bitbox-bench-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        short = make_video(work / "face_1min.mp4", 1.0)
        long = make_video(work / f"face_{args.minutes_long:g}min.mp4", args.minutes_long)
        from one_core import measure

        decode = measure("decode", short, work / "out")
        face_short = measure("face", short, work / "out")
        face_long = measure("face", long, work / "out")
    print("\nface processor, 640x480 video, one core")
    print(f"  decode only        : {decode['fps']:7.1f} fps")
    print(f"  face processor     : {face_short['fps']:7.1f} fps   (target >= 60)")
    print(f"  ratio face/decode  : {face_short['fps'] / decode['fps']:7.3f}")
    print(f"  peak memory  1 min : {face_short['peak_mib']:7.1f} MiB")
    print(f"  peak memory {args.minutes_long:g} min : {face_long['peak_mib']:7.1f} MiB "
          f"({face_long['fps']:.1f} fps)")
    ratio = face_long["peak_mib"] / face_short["peak_mib"]
    print(f"  memory ratio long/short: {ratio:.3f}   (target within 1.10)")


if __name__ == "__main__":
    main()
