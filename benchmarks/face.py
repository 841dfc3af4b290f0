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
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def child(mode: str, video: str, out: str) -> None:
    """Runs in a fresh process: one measurement, printed as JSON."""
    _pin_one_core()
    from bitbox import Recording
    from bitbox.batch import process_folder

    start = time.perf_counter()
    if mode == "decode":
        n = sum(1 for _ in Recording(video).iter_frames())
    else:
        result = process_folder([video], out, processors=["face"], progress=False, overwrite=True)
        if result.n_failed:
            raise SystemExit(result.manifest.to_string())
        n = Recording(video).n_frames
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"frames": n, "seconds": seconds, "fps": n / seconds, "peak_mib": peak_mib}))


def measure(mode: str, video: Path, out: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", mode, str(video), str(out)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


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
    parser.add_argument("--child", nargs=3, metavar=("MODE", "VIDEO", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory(prefix="bitbox-bench-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        short = make_video(work / "face_1min.mp4", 1.0)
        long = make_video(work / f"face_{args.minutes_long:g}min.mp4", args.minutes_long)
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
