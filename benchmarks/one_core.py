"""One timed run in a fresh process pinned to one core (shared by the benchmark scripts).

``measure(mode, video, out)`` runs this file as a child process: ``mode`` is ``"decode"``
(decode every frame) or a processor name (``bitbox.process_folder`` with that processor).
The child prints frames, seconds, fps and its peak resident memory as JSON.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def measure(mode: str, video: Path, out: Path) -> dict:
    """Run one measurement in a fresh process and return its figures."""
    proc = subprocess.run([sys.executable, __file__, mode, str(video), str(out)], capture_output=True, text=True,
                          check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _child(mode: str, video: str, out: str) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from bitbox import Recording
    from bitbox.batch import process_folder

    start = time.perf_counter()
    if mode == "decode":
        n = sum(1 for _ in Recording(video).iter_frames())
    else:
        result = process_folder([video], out, processors=[mode], progress=False, overwrite=True)
        if result.n_failed:
            raise SystemExit(result.manifest.to_string())
        n = Recording(video).n_frames
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"frames": n, "seconds": seconds, "fps": n / seconds, "peak_mib": peak_mib}))


if __name__ == "__main__":
    _child(*sys.argv[1:4])
