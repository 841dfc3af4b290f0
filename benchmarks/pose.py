"""Pose-processor speed against decode-only speed on the same video (one core).

Generates a 640 x 480, 30 fps, 20-second video of a real upper body (the astronaut portrait
swaying), then measures in fresh processes pinned to one core: decode-only fps and pose
processor fps, and their ratio.

Usage: ``python benchmarks/pose.py [--seconds 20]``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def child(mode: str, video: str, out: str) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from bitbox import Recording
    from bitbox.batch import process_folder

    start = time.perf_counter()
    if mode == "decode":
        n = sum(1 for _ in Recording(video).iter_frames())
    else:
        result = process_folder([video], out, processors=["pose"], progress=False, overwrite=True)
        if result.n_failed:
            raise SystemExit(result.manifest.to_string())
        n = Recording(video).n_frames
    print(json.dumps({"fps": n / (time.perf_counter() - start)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    import numpy as np

    from tools import synth
    from tools.sample_images import astronaut

    photo = astronaut()
    with tempfile.TemporaryDirectory(prefix="bitbox-bench-") as tmp:
        video = Path(tmp) / "body.mp4"
        n = int(args.seconds * 30)
        frames = (synth.warp_photo(photo, scale=0.9, centre=(256.0, 256.0),
                                   shift_px=(40 * np.sin(2 * np.pi * i / 90), 0.0)) for i in range(n))
        synth.write_video(video, frames)
        results = {}
        for mode in ("decode", "pose"):
            proc = subprocess.run([sys.executable, __file__, "--child", mode, str(video), str(Path(tmp) / "out")],
                                  capture_output=True, text=True, check=True)
            results[mode] = json.loads(proc.stdout.strip().splitlines()[-1])["fps"]
    print(f"pose processor, 640x480 video ({args.seconds:g} s), one core")
    print(f"  decode only        : {results['decode']:7.1f} fps")
    print(f"  pose processor     : {results['pose']:7.1f} fps")
    print(f"  ratio pose/decode  : {results['pose'] / results['decode']:7.3f}")


if __name__ == "__main__":
    main()
