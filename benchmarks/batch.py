"""Batch throughput: a folder of short videos with 1 and 2 workers, and the Dask path's overhead.

Makes ``--n`` copies of the bundled ``examples/data/astronaut_sway.mp4`` (640 x 480, 3 s),
each cut to ``--seconds`` by looping, then times ``bitbox run -p face`` on the folder (each
run a fresh command, start-up and model loading included, outputs overwritten):

- the local process pool with 1 worker (in-process) and with 2 workers;
- Dask (``--scheduler local``, a LocalCluster) with 2 workers.

Prints recordings per minute, the 2-worker speedup (target >= 1.7 on 2 cores) and the Dask
overhead per recording against the 2-worker pool.

Usage: ``python benchmarks/batch.py [--n 16] [--seconds 10]``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_folder(folder: Path, n: int, seconds: float) -> None:
    from bitbox import Recording
    from tools import synth

    source = Recording(REPO / "examples" / "data" / "astronaut_sway.mp4")
    frames = [f.rgb for f in source.iter_frames()]
    n_frames = int(round(seconds * source.fps))
    first = folder / "clip_00.mp4"
    synth.write_video(first, (frames[i % len(frames)] for i in range(n_frames)), source.fps)
    for i in range(1, n):
        (folder / f"clip_{i:02d}.mp4").write_bytes(first.read_bytes())


def timed(folder: Path, out: Path, *extra: str) -> float:
    command = [sys.executable, "-m", "bitbox", "run", str(folder), "-o", str(out), "-p", "face", "-q",
               "--overwrite", *extra]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16, help="number of videos")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each video")
    args = parser.parse_args()
    print(f"{args.n} videos of {args.seconds:g} s (640 x 480, 30 fps), face processor; {os.cpu_count()} CPU cores")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "videos"
        folder.mkdir()
        make_folder(folder, args.n, args.seconds)
        runs = {"pool, 1 worker": timed(folder, Path(tmp) / "out1"),
                "pool, 2 workers": timed(folder, Path(tmp) / "out2", "--workers", "2"),
                "Dask LocalCluster, 2 workers": timed(folder, Path(tmp) / "out3", "--workers", "2",
                                                      "--scheduler", "local")}
        identical = all((Path(tmp) / "out2" / rid / "face.parquet").read_bytes()
                        == (Path(tmp) / "out3" / rid / "face.parquet").read_bytes()
                        for rid in (p.stem for p in folder.glob("*.mp4")))
    for name, seconds in runs.items():
        print(f"  {name:<30} {seconds:7.1f} s   {60 * args.n / seconds:6.1f} recordings/min")
    speedup = runs["pool, 1 worker"] / runs["pool, 2 workers"]
    overhead = (runs["Dask LocalCluster, 2 workers"] - runs["pool, 2 workers"]) / args.n
    print(f"speedup with 2 workers: {speedup:.2f}x (target >= 1.7: {'met' if speedup >= 1.7 else 'NOT met'})")
    print(f"Dask overhead per recording vs the 2-worker pool: {overhead:+.2f} s "
          f"(cluster start-up included); Dask files identical to the pool's: {identical}")


if __name__ == "__main__":
    main()
