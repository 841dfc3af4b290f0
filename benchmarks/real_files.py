"""What reading real files honestly costs: each check against a baseline in the same run.

- **Video**: ``Recording.iter_frames`` (PyAV, display matrix applied, presentation timestamps)
  against a bare single-threaded PyAV decode to RGB of the same file (Bitbox lets FFmpeg decode
  with threads, so it can be faster); and the timestamp scan of ``video_info`` (every packet's
  time, for variable frame rates) against that decode. Targets: iter_frames <= 1.3x the bare
  decode; the scan <= 10% of it.
- **Text**: ``read_text_file`` (BOM, UTF-16 without BOM by its NUL bytes, UTF-8, a guessed
  Windows-1252, the binary/control-character check) on a 4 MB transcript in UTF-16 LE without
  BOM, against Python's C decoder with the encoding already known (1 ms: a hard baseline).
  Target <= 25x (about 200 MB/s).
- **Tables**: a run of one recording into an OUT that already holds 5,000 recordings (reading,
  merging and writing ``summary.csv`` and ``manifest.csv``) against writing the same tables
  fresh. Target <= 3x.

Usage: ``python benchmarks/real_files.py [--seconds 20]``.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def best_of(n: int, fn) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def video(folder: Path, seconds: float) -> None:
    import av

    from bitbox import Recording
    from tools import synth

    source = Recording(REPO / "examples" / "data" / "astronaut_sway.mp4")
    frames = [f.rgb for f in source.iter_frames()]
    n = int(round(seconds * source.fps))
    path = synth.write_video(folder / "clip.mp4", (frames[i % len(frames)] for i in range(n)), source.fps)

    def bare() -> None:
        with av.open(str(path)) as container:
            for frame in container.decode(container.streams.video[0]):
                frame.to_ndarray(format="rgb24")

    def bitbox_frames() -> None:
        for _ in Recording(path).iter_frames():
            pass

    def scan() -> None:
        Recording(path).video_info  # a fresh Recording: timestamps scanned again

    t_bare, t_frames, t_scan = best_of(3, bare), best_of(3, bitbox_frames), best_of(3, scan)
    print(f"video ({n} frames, 640x480): bare PyAV decode {n / t_bare:.0f} frames/s, Recording.iter_frames "
          f"{n / t_frames:.0f} frames/s (ratio {t_frames / t_bare:.2f}; target <= 1.3), timestamp scan "
          f"{1000 * t_scan:.0f} ms = {100 * t_scan / t_bare:.1f}% of the decode (target <= 10%)")


def text(folder: Path) -> None:
    from bitbox.processors.text.textfile import read_text_file

    line = "He was not an ill disposed young man, unless to be rather cold hearted and selfish is to be ill.\n"
    path = folder / "long_transcript.txt"
    path.write_bytes((line * 20000).encode("utf-16-le"))
    t_known = best_of(3, lambda: path.read_bytes().decode("utf-16-le"))
    t_read = best_of(3, lambda: read_text_file(path))
    assert read_text_file(path).codec == "utf-16-le"
    print(f"text ({path.stat().st_size / 1e6:.1f} MB UTF-16 LE without BOM): read_text_file {1000 * t_read:.0f} ms "
          f"vs decoding with the encoding known {1000 * t_known:.0f} ms (ratio {t_read / t_known:.2f}; target <= 25)")


def tables(folder: Path) -> None:
    from bitbox.outcomes import read_tables, write_tables

    rng = np.random.default_rng(0)
    n = 5000
    columns = ["face.status", "face.error", "face.notes", *[f"face.m{i}" for i in range(60)]]
    summary = {f"r{i:05d}": {"recording_id": f"r{i:05d}", "path": f"r{i:05d}.mp4", "status": "ok", "error": "",
                             "face.status": "ok", "face.error": "", "face.notes": "",
                             **{f"face.m{k}": float(v) for k, v in enumerate(rng.normal(size=60))}}
               for i in range(n)}
    manifest = {rid: {"recording_id": rid, "path": row["path"], "status": "ok", "reason": "", "sha256": "0" * 64,
                      "seconds": 1.0, "processors": "face", "reused": "", "finished_utc": ""}
                for rid, row in summary.items()}
    out = folder / "out"
    out.mkdir()
    order = list(summary)
    t_fresh = best_of(3, lambda: write_tables(out, manifest, summary, order, columns))

    def merged_run() -> None:
        m, s, o, c = read_tables(out)
        s["r00000"] = {**s["r00000"], "face.m0": 1.0}
        write_tables(out, m, s, o, c)

    t_merge = best_of(3, merged_run)
    print(f"tables ({n} recordings x {len(columns)} columns already in OUT): a run that merges into them "
          f"{1000 * t_merge:.0f} ms vs writing them fresh {1000 * t_fresh:.0f} ms (ratio {t_merge / t_fresh:.2f}; "
          "target <= 3)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the test video (default 20 s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video(Path(tmp), args.seconds)
        text(Path(tmp))
        tables(Path(tmp))


if __name__ == "__main__":
    main()
