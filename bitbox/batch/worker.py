"""Run one recording in a fresh Python process, for executors that must be able to stop it.

With a per-recording timeout the Dask executor calls :func:`run_in_subprocess` inside a
Dask worker: the recording runs in a child interpreter (``python -m bitbox.batch.worker ARGS
RESULT``, :func:`main`), so a hang past the timeout (or a crash) fails that recording only and
leaves the Dask worker alive. If the Dask worker itself dies, the child dies with it (Linux) and
Dask retries the recording on another worker.

The job and result files of the child live in the batch's scratch folder inside OUT
(:func:`bitbox.fileio.scratch_folder`); the child is given that folder explicitly, in its own
environment (:data:`bitbox.fileio.SCRATCH_ENV`), whatever the Dask worker's environment holds.

This module imports only :mod:`bitbox.batch.jobs` of the batch (the executors import it, never
the reverse), and nothing of the package imports it at import time: run as ``-m``, it is not
already in ``sys.modules``.
"""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from ..fileio import SCRATCH_ENV, scratch_folder, scratch_root
from ..log import logger
from ..processor import Processor
from .jobs import Job, ManifestRow, crashed_row, run_job, timed_out_row

__all__ = ["run_in_subprocess", "die_with_parent", "main"]

#: The child interpreter's module (``python -m``).
CHILD_MODULE = "bitbox.batch.worker"


def die_with_parent() -> None:  # pragma: no cover - runs in a child process
    """Ask Linux to kill this process when its parent (the batch, or a Dask worker) dies; elsewhere nothing."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def run_in_subprocess(job: Job, processors: Sequence[Processor], out_dir: str | Path, overwrite: bool,
                      log_level: int, timeout_s: float | None = None) -> ManifestRow:
    """Process ``job`` with :func:`~bitbox.batch.run_job` in a child interpreter.

    Parameters
    ----------
    job : Job
        The recording.
    processors : sequence of Processor
        The run's processors (pickled: parameters only).
    out_dir : str | Path
        The batch's output folder.
    overwrite : bool
        Recompute even when up-to-date outputs exist.
    log_level : int
        The child's log level.
    timeout_s : float or None
        Stop the child after this many seconds.

    Returns
    -------
    ManifestRow
        The child's row; a failed row when it timed out or died.
    """
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
            proc = subprocess.run([sys.executable, "-m", CHILD_MODULE, str(args), str(result)],
                                  timeout=timeout_s, stdin=subprocess.DEVNULL, env=env,
                                  preexec_fn=die_with_parent if sys.platform.startswith("linux") else None)
        except subprocess.TimeoutExpired:
            return timed_out_row(job, processors, Path(out_dir), timeout_s)
        if proc.returncode != 0 or not result.is_file():
            return crashed_row(job, processors, proc.returncode, Path(out_dir))
        with open(result, "rb") as handle:
            return pickle.load(handle)


def main(argv: Sequence[str]) -> int:
    """Entry point of the child interpreter: run the pickled job, pickle its row.

    Parameters
    ----------
    argv : sequence of str
        The job file and the row file to write.

    Returns
    -------
    int
        The exit status (0).
    """
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
