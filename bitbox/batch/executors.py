"""Executors: how the jobs of a batch run, each yielding the recordings' rows as they finish.

- :func:`run_serial`: in this process, one recording after another (``workers=1``, no timeout);
- :func:`run_isolated`: a pool of spawned worker processes, one recording at a time each, so that a
  crash in native code or a recording past the timeout fails that recording only;
- :func:`run_dask`: a Dask task per recording, on a LocalCluster or an existing scheduler.

Outputs are identical whichever executor runs: each runs :func:`~bitbox.batch.jobs.run_job`.
"""
from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from ..console import limit_heap_fragmentation
from ..errors import ParameterError
from ..fileio import scratch_root, scratch_scope
from ..log import logger
from ..processor import Processor
from .jobs import Job, ManifestRow, crashed_row, processors_for, remove_partial, run_job, timed_out_row

__all__ = ["run_serial", "run_isolated", "run_dask"]


def run_serial(jobs: Sequence[Job], processors: Sequence[Processor], out_dir: Path, overwrite: bool, *,
               show_progress: bool = False, starting: Callable[[Job], None] | None = None) -> Iterator[ManifestRow]:
    """Run the recordings in this process, one after another; yield their rows.

    Parameters
    ----------
    jobs : sequence of Job
        The recordings.
    processors : sequence of Processor
        The run's processors.
    out_dir : Path
        The batch's output folder.
    overwrite : bool
        Recompute even when up-to-date outputs exist.
    show_progress : bool
        Show the current recording's progress (frames of a video, steps of an audio analysis), per
        processor, in a progress bar of its own.
    starting : callable or None
        ``starting(job)``, called before each recording.

    Yields
    ------
    ManifestRow
        Each recording's row, in the order of ``jobs``.
    """
    from tqdm.auto import tqdm

    steps = tqdm(total=0, desc="  ", unit="step", leave=False, disable=not show_progress, dynamic_ncols=True)

    def on_progress(done: int, total: int | None) -> None:
        if total is not None and steps.total != total or done < steps.n:  # the next processor's count
            steps.reset(total=total)
        steps.n = done
        steps.refresh()

    try:
        for job in jobs:
            if starting is not None:
                starting(job)
            steps.reset(total=0)
            steps.set_description_str(f"  {job.recording_id[-24:]}", refresh=False)
            yield run_job(job, processors, out_dir, overwrite, progress=on_progress)
    finally:
        steps.close()


def _worker(processors: list[Processor], out_dir: str, overwrite: bool, log_level: int, connection,
            core: int | None = None, scratch: str | None = None) -> None:
    """Entry point of a worker process: run the recordings it is sent, one at a time, until ``None``.

    The processors arrive pickled once (parameters only); each recording's manifest row is
    sent back when it is done. With ``core`` the worker keeps to that CPU core, so that the
    thread pools of the libraries inside (TFLite, OpenCV, BLAS) do not compete across workers.
    ``scratch`` is the batch's scratch folder (temporary files stay inside OUT).
    """
    from .worker import die_with_parent  # not at import time: see bitbox.batch.worker

    die_with_parent()  # a batch killed with SIGKILL leaves no worker behind (Linux)
    limit_heap_fragmentation()  # resident memory flat over long recordings
    logger.setLevel(log_level)
    if core is not None:
        try:
            os.sched_setaffinity(0, {core})
        except OSError:
            pass
    with scratch_scope(scratch):
        while True:
            job = connection.recv()
            if job is None:
                break
            connection.send(run_job(job, processors, out_dir, overwrite))
    connection.close()


def run_isolated(jobs: Sequence[Job], processors: Sequence[Processor], out_dir: Path, overwrite: bool,
                 workers: int, timeout_s: float | None = None, scratch: Path | None = None
                 ) -> Iterator[ManifestRow]:
    """Run the recordings in ``workers`` worker processes (spawned); yield their rows.

    Each worker runs one recording at a time and is reused for the next one (so the cost
    of starting Python and loading models is paid once per worker, not per recording). A
    recording whose worker dies (a segmentation fault in a decoder or model, ``os._exit``)
    or runs longer than ``timeout_s`` fails alone: its row says so, a fresh worker replaces
    the dead or stopped one, and the other recordings go on.

    Parameters
    ----------
    jobs : sequence of Job
        The recordings.
    processors : sequence of Processor
        The run's processors (sent to each worker once, pickled).
    out_dir : Path
        The batch's output folder.
    overwrite : bool
        Recompute even when up-to-date outputs exist.
    workers : int
        Worker processes (each kept to a CPU core of its own when there are enough, on Linux).
    timeout_s : float or None
        Stop a recording that takes longer than this (its worker is killed and replaced).
    scratch : Path or None
        The batch's scratch folder, given to every worker (default: the current one,
        :func:`bitbox.fileio.scratch_root`).

    Yields
    ------
    ManifestRow
        Each recording's row, as it finishes.
    """
    from multiprocessing.connection import wait

    scratch = scratch if scratch is not None else scratch_root()

    context = multiprocessing.get_context("spawn")  # native libraries do not survive fork
    pending = list(jobs)
    idle: list[tuple[Any, Any]] = []
    busy: dict[Any, tuple[Job, Any, float]] = {}  # process -> (job, connection, started)
    # One core per worker when there are enough of them (Linux): no oversubscribed thread pools.
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    free_cores = list(cores[:workers]) if len(cores) >= workers > 1 else []
    core_of: dict[Any, int] = {}

    def start_worker() -> tuple[Any, Any]:
        here, there = context.Pipe(duplex=True)
        core = free_cores.pop(0) if free_cores else None
        process = context.Process(target=_worker, name="bitbox-worker", daemon=True,
                                  args=(list(processors), str(out_dir), overwrite, logger.getEffectiveLevel(), there,
                                        core, None if scratch is None else str(scratch)))
        process.start()
        there.close()
        if core is not None:
            core_of[process] = core
        return process, here

    def retire(process, connection, kill: bool) -> None:
        if kill:
            process.kill()
        process.join()
        connection.close()
        if process in core_of:
            free_cores.append(core_of.pop(process))

    try:
        while pending or busy:
            while pending and len(busy) < workers:
                process, connection = idle.pop() if idle else start_worker()
                job = pending.pop(0)
                try:
                    connection.send(job)
                except (BrokenPipeError, OSError):  # an idle worker that died: replace it
                    retire(process, connection, kill=True)
                    process, connection = start_worker()
                    connection.send(job)
                busy[process] = (job, connection, time.monotonic())
            wait([p.sentinel for p in busy] + [c for _, c, _ in busy.values()],
                 timeout=None if timeout_s is None else 1.0)
            for process in list(busy):
                job, connection, started = busy[process]
                row, healthy = None, True
                if connection.poll():
                    try:
                        row = connection.recv()
                    except (EOFError, OSError):  # closed without a result: the process died
                        healthy = False
                        retire(process, connection, kill=True)
                        row = crashed_row(job, processors, process.exitcode, Path(out_dir))
                elif not process.is_alive():
                    healthy = False
                    retire(process, connection, kill=False)
                    row = crashed_row(job, processors, process.exitcode, Path(out_dir))
                elif timeout_s is not None and time.monotonic() - started > timeout_s:
                    healthy = False
                    retire(process, connection, kill=True)
                    row = timed_out_row(job, processors, Path(out_dir), timeout_s)
                if row is None:
                    continue
                del busy[process]
                if healthy:
                    idle.append((process, connection))
                yield row
    finally:
        for process, connection in idle:
            try:
                connection.send(None)
            except (BrokenPipeError, OSError):
                pass
        for process, connection in idle:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
            connection.close()
        for process, (_, connection, _) in busy.items():
            retire(process, connection, kill=True)


def _dask_client(scheduler: str, workers: int):
    """A Dask client: a LocalCluster of ``workers`` single-threaded processes, or an existing scheduler."""
    try:
        import dask
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ParameterError("--scheduler needs Dask: pip install 'dask[distributed]'") from None
    import logging

    if scheduler == "local":
        # Loopback only; no dashboard: nothing leaves the machine. A recording whose worker dies
        # is retried once on a fresh worker, then failed. A worker holds only the recording it is
        # running (saturation 1.0; Dask's default 1.1 sends a single-threaded worker two tasks), so
        # a recording that kills its worker never takes a queued neighbour's retries with it.
        with dask.config.set({"distributed.scheduler.allowed-failures": 1,
                              "distributed.scheduler.worker-saturation": 1.0}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None, silence_logs=logging.ERROR)
        return Client(cluster)
    try:  # Dask's connect timeout (30 s unless configured: distributed.comm.timeouts.connect)
        return Client(scheduler, timeout=dask.config.get("distributed.comm.timeouts.connect", "30s"))
    except (OSError, TimeoutError) as err:
        raise ParameterError(f"Cannot reach the Dask scheduler at {scheduler!r} ({err}). Check the address "
                             "(e.g. tcp://10.0.0.5:8786) and that the scheduler is running.") from None


def _dask_task(job: Job, processors: list[Processor], out_dir: str, overwrite: bool, log_level: int,
               timeout_s: float | None, scratch: str | None = None) -> ManifestRow:
    """One recording on a Dask worker: in the worker process, or in a child process with a timeout.

    ``scratch`` (the batch's scratch folder inside OUT) is where the recording's temporary files
    go, for this task only (:func:`bitbox.fileio.scratch_scope`; the worker's environment is not
    changed): a Dask worker runs several tasks at once in threads, and may serve other batches too.
    """
    with scratch_scope(scratch):
        if timeout_s is not None:
            from .worker import run_in_subprocess  # not at import time: see bitbox.batch.worker

            return run_in_subprocess(job, processors, out_dir, overwrite, log_level, timeout_s)
        logger.setLevel(log_level)
        return run_job(job, processors, out_dir, overwrite)


def run_dask(jobs: Sequence[Job], processors: Sequence[Processor], out_dir: Path, overwrite: bool, workers: int,
             scheduler: str, timeout_s: float | None = None, scratch: Path | None = None) -> Iterator[ManifestRow]:
    """Run each recording as a Dask task; yield their rows.

    Each recording runs in a Dask worker process. If the worker dies (a crash in native code,
    the machine running out of memory, a node lost), the scheduler retries the recording on
    another worker; one that keeps killing its workers fails alone (the scheduler's
    ``allowed-failures``). With ``timeout_s`` each recording runs in a child process of the
    worker, stopped when it takes too long.

    Parameters
    ----------
    jobs : sequence of Job
        The recordings.
    processors : sequence of Processor
        The run's processors.
    out_dir : Path
        The batch's output folder.
    overwrite : bool
        Recompute even when up-to-date outputs exist.
    workers : int
        Worker processes of a LocalCluster (``scheduler="local"``).
    scheduler : str
        ``"local"`` or the address of an existing Dask scheduler.
    timeout_s : float or None
        Stop a recording that takes longer than this.
    scratch : Path or None
        The batch's scratch folder, given to every task (default: the current one).

    Yields
    ------
    ManifestRow
        Each recording's row, as it finishes.

    Raises
    ------
    ParameterError
        When Dask is not installed or the scheduler cannot be reached.
    """
    from dask.distributed import as_completed

    scratch = scratch if scratch is not None else scratch_root()
    client = _dask_client(scheduler, workers)
    try:
        futures = {}
        for job in jobs:
            future = client.submit(_dask_task, job, list(processors), str(out_dir), overwrite,
                                   logger.getEffectiveLevel(), timeout_s, None if scratch is None else str(scratch),
                                   pure=False,
                                   key=f"bitbox-{job.recording_id}-{os.getpid()}-{time.monotonic_ns()}")
            futures[future] = job
        for future in as_completed(futures):
            job = futures[future]
            try:
                row = future.result()
            except Exception as err:  # KilledWorker after repeated worker deaths, or a lost scheduler
                remove_partial(out_dir / job.recording_id)
                row = ManifestRow.failed(job, [p.name for p in processors_for(job, processors)],
                                         f"the Dask workers processing this recording died every time it was tried "
                                         f"({type(err).__name__}), e.g. a crash in native code; the other recordings "
                                         "are not affected")
            yield row
    finally:
        cluster = client.cluster if scheduler == "local" else None
        client.close()
        if cluster is not None:
            cluster.close()
