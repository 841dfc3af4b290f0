"""Run one recording in a fresh Python process, for executors that must be able to stop it.

With a per-recording timeout the Dask executor calls :func:`run_in_subprocess` inside a
Dask worker: the recording runs in a child interpreter (``python -m bitbox.worker ARGS
RESULT``), so a hang past the timeout (or a crash) fails that recording only and leaves the
Dask worker alive. If the Dask worker itself dies, the child dies with it (Linux) and Dask
retries the recording on another worker.

The job and result files of the child live in the batch's scratch folder inside OUT
(:func:`bitbox.fileio.scratch_folder`); the child is given that folder explicitly, in its own
environment (:data:`bitbox.fileio.SCRATCH_ENV`), whatever the Dask worker's environment holds.
"""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

__all__ = ["run_in_subprocess"]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to kill this process when its parent (the Dask worker) dies."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def run_in_subprocess(job, processors: Sequence, out_dir: str | Path, overwrite: bool, log_level: int,
                      timeout_s: float | None = None) -> dict[str, Any]:
    """Process ``job`` with :func:`bitbox.batch.run_job` in a child interpreter; return its row."""
    from .batch import _crashed, _timed_out
    from .fileio import SCRATCH_ENV, scratch_folder, scratch_root

    scratch = scratch_root()  # this task's (a Dask worker runs tasks of several batches in threads)
    with scratch_folder("bitbox-job-") as tmp:
        args, result = Path(tmp) / "job.pkl", Path(tmp) / "row.pkl"
        with open(args, "wb") as handle:
            pickle.dump((job, list(processors), str(out_dir), overwrite, log_level), handle)
        try:
            # The child imports what this worker can import (plugins given as classes included).
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
            env.pop(SCRATCH_ENV, None)
            if scratch is not None:
                env[SCRATCH_ENV] = str(scratch)
            proc = subprocess.run([sys.executable, "-m", "bitbox.worker", str(args), str(result)],
                                  timeout=timeout_s, stdin=subprocess.DEVNULL, env=env,
                                  preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        except subprocess.TimeoutExpired:
            return _timed_out(job, processors, Path(out_dir), timeout_s)
        if proc.returncode != 0 or not result.is_file():
            return _crashed(job, processors, proc.returncode, Path(out_dir))
        with open(result, "rb") as handle:
            return pickle.load(handle)


def main(argv: Sequence[str]) -> int:
    """Entry point of the child interpreter: run the pickled job, pickle its row."""
    from .batch import run_job
    from .log import logger

    args, result = argv
    with open(args, "rb") as handle:
        job, processors, out_dir, overwrite, log_level = pickle.load(handle)
    logger.setLevel(log_level)
    row = run_job(job, processors, out_dir, overwrite)
    partial = result + ".part"
    with open(partial, "wb") as handle:
        pickle.dump(row, handle)
    os.replace(partial, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
