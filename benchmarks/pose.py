"""Pose-processor speed against decode-only speed on the same video (one core).

Generates a 640 x 480, 30 fps, 20-second video of a real upper body (the astronaut portrait
swaying), then measures in fresh processes pinned to one core: decode-only fps and pose
processor fps, and their ratio.

Usage: ``python benchmarks/pose.py [--seconds 20]``.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    import numpy as np
    from one_core import measure

    from tools import synth
    from tools.sample_images import astronaut

    photo = astronaut()
    with tempfile.TemporaryDirectory(prefix="bitbox-bench-") as tmp:
        video = Path(tmp) / "body.mp4"
        n = int(args.seconds * 30)
        frames = (synth.warp_photo(photo, scale=0.9, centre=(256.0, 256.0),
                                   shift_px=(40 * np.sin(2 * np.pi * i / 90), 0.0)) for i in range(n))
        synth.write_video(video, frames)
        results = {mode: measure(mode, video, Path(tmp) / "out")["fps"] for mode in ("decode", "pose")}
    print(f"pose processor, 640x480 video ({args.seconds:g} s), one core")
    print(f"  decode only        : {results['decode']:7.1f} fps")
    print(f"  pose processor     : {results['pose']:7.1f} fps")
    print(f"  ratio pose/decode  : {results['pose'] / results['decode']:7.3f}")


if __name__ == "__main__":
    main()
