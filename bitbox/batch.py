"""Batch processing of many recordings: discovery, resumable runs, failures as rows.

:func:`process_folder` (and ``bitbox run``) finds recordings under the inputs in sorted
order, runs the processors on each (in this process or in a pool of worker processes)
and writes, under ``out_dir``::

    <recording_id>/<processor>.parquet   time series (written atomically)
    <recording_id>/<processor>.json      summary + provenance (written last, atomically)
    summary.csv                          one row per recording (and part: see below): status, error, then
                                         per processor <processor>.status, <processor>.error,
                                         <processor>.<measure>
    codebook.csv                         what each column of summary.csv holds (unit, type, description)
    manifest.csv                         one row per recording: status, reason, SHA-256, seconds,
                                         processors reused, <processor>.status / .error

Each processor succeeds or fails on its own (:mod:`bitbox.outcomes`), and both tables cover
every recording ever processed into ``out_dir``. A processor's result is reused when its
outputs exist and their recorded processor version, parameters and input SHA-256 match the
current run. A recording (or a processor) that fails is recorded with its reason; the batch
goes on. Every input path is checked before anything runs. Inputs are only ever read.

Parts: a processor that measures several parts of one recording (e.g. several people in one
shot) declares a ``row_key`` (e.g. ``"person"``) and returns a
:class:`~bitbox.processor.RowSummaries`. ``summary.csv`` then has that key column right after
``recording_id`` and one row per recording and part; each row repeats the recording's own
columns (path, status, error, the other processors' columns), so that it stands alone. A
recording without parts keeps one row, with an empty key. ``manifest.csv`` stays one row per
recording. The processors of one run (and of every run into one OUT) split by one key.

Confinement: recording ids are safe folder names (:func:`bitbox.fileio.safe_name`), every
per-recording folder is checked to resolve inside ``out_dir`` (:func:`bitbox.fileio.confined`),
FIFOs, devices and sockets are refused without being opened, and the processors' temporary
files live in ``out_dir/.bitbox-tmp/<run>/`` (removed at the end, or by the next run when this
one was killed). A recording whose id would be one of OUT's own names (``manifest.csv``,
``summary.csv``, ``codebook.csv``, ``report``, ``index``, compared case-insensitively) gets
``_rec`` appended. One writer per ``out_dir`` at a time (a run, or ``bitbox report``): it holds
``out_dir/.bitbox.lock`` (which records its PID, host, start time and command) before it touches
anything there. ``out_dir`` is made absolute first (a relative one is relative to the working
directory), so workers in other processes or on other machines write to the same folder.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import math
import multiprocessing
import os
import shutil
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

from .errors import BitboxError, NoRecordingsError, ParameterError
from .fileio import (LOCK_FILE, OutsideOutputError, atomic_path, confined, display_path, is_atomic_leftover,
                     jsonable, out_lock, read_json, safe_name, scratch_root, scratch_scope, utc_now)
from .log import logger, verbose
from .measurements import ParquetSink, ProcessorResult, part_order, rows_from_json
from .outcomes import (FAILED, MANIFEST_FILE, NOT_APPLICABLE, OK, PARTIAL, SUMMARY_FILE, internal_error, merge_row,
                       not_applicable_reason, read_tables, recording_status, write_tables)
from .pipeline import resolve_processors
from .processor import Processor, ProgressCallback, run_order
from .recording import EXTENSIONS, Recording, sha256_file
from .report import INDEX_PAGE, REPORT_DIR

__all__ = ["process_folder", "discover", "BatchResult", "Job"]

#: Folder of OUT holding each run's scratch folder (spill files, job files of worker processes).
SCRATCH_DIR = ".bitbox-tmp"
#: What each column of summary.csv holds (written beside it).
CODEBOOK_FILE = "codebook.csv"
#: Names the batch and the report write in OUT or in OUT/report/ (``<id>.html``), compared
#: case-insensitively (macOS and Windows file systems ignore case): no recording gets them as id.
RESERVED_IDS = frozenset(name.casefold() for name in (MANIFEST_FILE, SUMMARY_FILE, CODEBOOK_FILE, REPORT_DIR,
                                                      Path(INDEX_PAGE).stem, LOCK_FILE, SCRATCH_DIR))


@dataclass(frozen=True)
class Job:
    """One recording to process: its batch-unique id and path."""

    recording_id: str
    path: str


@dataclass
class BatchResult:
    """What a batch did.

    ``summary`` and ``manifest`` are the tables of ``out_dir`` (every recording ever processed
    into it; ``summary`` has one row per recording and part, with the key column after
    ``recording_id``, when a processor splits recordings); ``counts`` are this run's: ``ok``,
    ``partial``, ``failed`` recordings, and how many of the ``ok`` ones were ``already_done``
    (every result reused, nothing recomputed).
    """

    out_dir: Path
    summary: pd.DataFrame
    manifest: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def n_failed(self) -> int:
        """Recordings of this run on which some processor failed (``failed`` or ``partial``)."""
        return self.counts.get(FAILED, 0) + self.counts.get(PARTIAL, 0)

    def __repr__(self) -> str:
        parts = ", ".join(f"{v} {k}" for k, v in self.counts.items())
        return f"<BatchResult {sum(self.counts.get(s, 0) for s in (OK, PARTIAL, FAILED))} recordings ({parts}) " \
               f"in '{self.out_dir}'>"

    def describe(self) -> str:
        """One line: this run's recordings, how many were processed, already done, partial, failed."""
        c = self.counts
        n = sum(c.get(s, 0) for s in (OK, PARTIAL, FAILED))
        done = c.get("already_done", 0)
        text = f"{n} recording{'s' if n != 1 else ''}: {c.get(OK, 0) - done} processed, {done} already done"
        if c.get(PARTIAL):
            text += f", {c[PARTIAL]} partial (some processors failed)"
        text += f", {c.get(FAILED, 0)} failed"
        if self.n_failed:
            text += f" (reasons in {self.out_dir / MANIFEST_FILE})"
        if len(self.manifest) > n:
            text += f"; {len(self.manifest)} recordings in {self.out_dir / SUMMARY_FILE} in all"
        return text


# ---------------------------------------------------------------------------- discovery
def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _is_candidate(path: Path) -> bool:
    """A regular file, or a FIFO, device or socket (found so that it is refused with a reason, not
    skipped in silence; :class:`~bitbox.recording.Recording` refuses it without opening it)."""
    return path.is_file() or path.is_fifo() or path.is_char_device() or path.is_block_device() or path.is_socket()


def discover(inputs: Iterable[str | Path], kinds: Iterable[str], exclude: Path | None = None
             ) -> tuple[list[Job], list[tuple[Job, str]]]:
    """Find recordings under ``inputs`` (files or folders, searched recursively in sorted order).

    Returns
    -------
    jobs : list of Job
        Recordings of the given kinds, with batch-unique ids based on relative paths, made
        safe as folder names (:func:`bitbox.fileio.safe_name`: no ``..``, separators, control
        characters or leading dots). FIFOs, devices and sockets with a recording's extension
        are jobs too: processing refuses them with the reason, without opening them.
    problems : list of (Job, reason)
        Folders without recordings.

    Raises
    ------
    NoRecordingsError
        When an input does not exist (checked for every input before anything is found).
    """
    inputs = list(inputs)
    missing = [str(item) for item in inputs if not Path(item).exists()]
    if missing:
        raise NoRecordingsError(f"{'These inputs do' if len(missing) > 1 else 'This input does'} not exist: "
                                f"{', '.join(map(repr, missing))}. Check the path(s); nothing was processed.")
    suffixes = {s for kind in kinds for s in EXTENSIONS[kind]}
    found: list[tuple[str, Path]] = []
    problems: list[tuple[Job, str]] = []
    exclude = exclude.resolve() if exclude is not None else None
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            root = path
            candidates = sorted(p for p in root.rglob("*") if p.suffix.lower() in suffixes and _is_candidate(p)
                                and not (exclude is not None and exclude in p.resolve().parents))
            files = [p for p in candidates if not _is_hidden(p, root)]
            _log_hidden([p for p in candidates if _is_hidden(p, root)])
            if not files:
                problems.append((Job(_not_reserved(safe_name(path.name or path.resolve().name, fallback="inputs")),
                                     str(path)),
                                 f"no recordings found in this folder (searched recursively for "
                                 f"{', '.join(sorted(suffixes))})"))
            files = _without_transcripts(files)
            for file in files:
                found.append((str(file.relative_to(root).with_suffix("")).replace(os.sep, "__"), file))
        else:
            # A file named explicitly is always attempted, so a wrong type gets a clear error.
            found.append((path.stem, path))
    return _unique_ids(found), problems


def _log_hidden(hidden: list[Path]) -> None:
    """Say which files a folder search left out because they are hidden (a name, or a folder on the
    way, starting with ``.``), so that none is skipped in silence. macOS's ``._`` companion files
    (resource forks, not recordings) are only counted."""
    if not hidden:
        return
    forks = [p for p in hidden if p.name.startswith("._")]
    others = [p for p in hidden if not p.name.startswith("._")]
    if others:
        shown = ", ".join(display_path(p) for p in others[:3]) + (", ..." if len(others) > 3 else "")
        logger.warning("%d hidden file(s) skipped (their name, or a folder on the way, starts with '.'): %s. "
                       "Give such a file by name to process it, or rename it.", len(others), shown)
    if forks:
        logger.info("%d macOS '._' companion file(s) skipped (not recordings)", len(forks))


def _without_transcripts(files: list[Path]) -> list[Path]:
    """Drop text files that are the transcript of an audio/video file beside them (same stem).

    Such a transcript is read by the processors of that recording (e.g. ``language``),
    not processed as a recording of its own.
    """
    media = {p.with_suffix("") for p in files if p.suffix.lower() in EXTENSIONS["audio"] | EXTENSIONS["video"]}
    kept = []
    for path in files:
        if path.suffix.lower() in EXTENSIONS["text"] and path.with_suffix("") in media:
            logger.debug("%s is the transcript of a recording beside it, not a recording", path)
            continue
        kept.append(path)
    return kept


def _not_reserved(rid: str) -> str:
    """``rid``, or ``rid`` + ``_rec`` when it is one of OUT's own names (:data:`RESERVED_IDS`)."""
    return f"{rid}_rec" if rid.casefold() in RESERVED_IDS else rid


def _path_tag(path: Path) -> str:
    return hashlib.sha1(str(path.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:8]


def _unique_ids(found: list[tuple[str, Path]]) -> list[Job]:
    """Safe, batch-unique ids: the same sanitised id for two files gets the extension, then a hash.

    Ids are compared case-insensitively (two ids differing only in case would share a folder on
    macOS or Windows); one of OUT's own names gets ``_rec`` appended; a file given twice is one job.
    """
    unique: dict[Path, tuple[str, Path]] = {}
    for base, path in found:
        unique.setdefault(path.resolve(), (_not_reserved(safe_name(base)), path))
    found = list(unique.values())
    counts: dict[str, int] = {}
    for base, _ in found:
        counts[base.casefold()] = counts.get(base.casefold(), 0) + 1
    jobs: list[Job] = []
    seen: set[str] = set()
    for base, path in found:
        rid = base
        if counts[base.casefold()] > 1:
            rid = f"{base}_{safe_name(path.suffix.lstrip('.').lower())}" if path.suffix else base
            if rid.casefold() in seen:
                rid = f"{rid}_{_path_tag(path)}"
        seen.add(rid.casefold())
        jobs.append(Job(rid, str(path)))
    return jobs


# ---------------------------------------------------------------------------- one recording
def _up_to_date(folder: Path, processor: Processor, recording: Recording) -> tuple[dict, dict] | None:
    """The stored summary and per-part summaries (``rows``) if ``folder`` holds this processor's
    outputs for these parameters and input, else ``None``."""
    sha256 = recording.sha256
    json_path = folder / f"{processor.name}.json"
    if not (json_path.is_file() and (folder / f"{processor.name}.parquet").is_file()):
        return None
    try:
        data = read_json(json_path)
    except (OSError, ValueError):
        return None
    provenance = data.get("provenance", {})
    if (provenance.get("input_sha256") == sha256
            and provenance.get("processor_version") == processor.version
            and provenance.get("parameters") == jsonable(processor.get_params())
            and {k: v["sha256"] for k, v in provenance.get("companion_files", {}).items()}
            == {k: sha256_file(p) for k, p in processor.companion_files(recording).items()}
            and provenance.get("upstream", {}) == jsonable(processor.upstream_provenance(recording))
            and all((folder / name).is_file() for name in processor.extra_outputs)):
        return data.get("summary", {}), rows_from_json(data)
    return None


def _run_processor(processor: Processor, recording: Recording, folder: Path, overwrite: bool,
                   progress: ProgressCallback | None, label: str) -> tuple[str, str, dict, dict, bool]:
    """One processor on one recording: ``(status, reason, summary, rows, reused)``, ``rows`` being the
    per-part summaries (``{}`` when it does not split the recording); never raises."""
    try:
        reason = not_applicable_reason(processor, recording)
        if reason:
            logger.info("%s: %s not applied: %s", label, processor.name, reason)
            return NOT_APPLICABLE, reason, {}, {}, False
        stored = None if overwrite else _up_to_date(folder, processor, recording)
        if stored is not None:
            logger.info("%s: %s outputs are up to date, reused", label, processor.name)
            return OK, "", *stored, True
        processor.validate_params()
        provenance = processor.provenance(recording)
        # The JSON file marks a complete result: remove a stale one before replacing the table.
        (folder / f"{processor.name}.json").unlink(missing_ok=True)
        with atomic_path(folder / f"{processor.name}.parquet") as tmp:
            sink = ParquetSink(tmp, provenance=provenance)
            result = processor.process(recording, sink=sink, progress=progress)
            sink.close()
        if processor.extra_outputs:
            _write_extra_outputs(processor, folder, result)
        result.write_json(folder)
        return OK, "", result.summary, result.rows, False
    except BitboxError as err:
        reason = str(err)
        logger.warning("%s: %s failed: %s", label, processor.name, reason)
    except Exception as err:  # an unexpected bug must not cost the other processors; keep its trace in the log
        reason = internal_error(err)
        logger.error("%s: %s failed with an internal error:\n%s", label, processor.name, traceback.format_exc())
    for stale in (f"{processor.name}.json", f"{processor.name}.parquet", *processor.extra_outputs):
        (folder / stale).unlink(missing_ok=True)  # no stale result beside a failure
    return FAILED, reason, {}, {}, False


def _write_extra_outputs(processor: Processor, folder: Path, result: ProcessorResult) -> None:
    """Write a processor's :attr:`~bitbox.processor.Processor.extra_outputs` files, made from its result
    (with the time series read back from ``<processor>.parquet``: the batch streamed it there)."""
    processor.write_extra_outputs(replace(result, timeseries=pd.read_parquet(folder / f"{processor.name}.parquet")),
                                  folder)


def run_job(job: Job, processors: Sequence[Processor], out_dir: str | Path, overwrite: bool = False,
            progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Process one recording into ``out_dir/<recording_id>/``; never raises for a bad recording.

    Each processor succeeds or fails on its own (see :mod:`bitbox.outcomes`); the order of
    the processors never changes a result. Returns the manifest row plus ``summary``
    (``{"<processor>.status": ..., "<processor>.error": ..., "<processor>.<measure>": value}``),
    ``rows`` (``{part id: {"<processor>.<measure>": value}}``, the per-part summaries of the
    processors that split the recording) and ``split`` (those processors' names).
    """
    started = time.perf_counter()
    out_dir = Path(out_dir).absolute()
    names = [p.name for p in processors]
    row: dict[str, Any] = {"recording_id": job.recording_id, "path": job.path, "status": FAILED, "reason": "",
                           "sha256": "", "seconds": 0.0, "processors": ",".join(names), "reused": "",
                           "summary": {}, "rows": {}, "split": []}
    folder = out_dir / job.recording_id
    outcomes: dict[str, tuple[str, str]] = {}
    reused: list[str] = []
    try:
        confined(out_dir, job.recording_id)  # e.g. OUT/<id> a link to another folder: nothing written there
        recording = Recording(job.path)
        row["sha256"] = recording.sha256
    except BitboxError as err:  # the file itself cannot be read: every processor fails for that reason
        outcomes = {name: (FAILED, str(err)) for name in names}
        logger.warning("%s failed: %s", job.recording_id, err)
    except OSError as err:  # e.g. removed or unreadable after discovery, an I/O error on a network share
        reason = f"{job.path}: cannot be read ({err.strerror or err}). Check that the file is still there and readable"
        outcomes = {name: (FAILED, reason) for name in names}
        logger.warning("%s failed: %s", job.recording_id, reason)
    except Exception as err:  # a bug: recorded, and the batch goes on
        outcomes = {name: (FAILED, internal_error(err)) for name in names}
        logger.error("%s failed with an internal error:\n%s", job.recording_id, traceback.format_exc())
    else:
        used = {name for p in processors for name in p.uses}
        for processor in run_order(processors):
            status, reason, summary, rows, was_reused = _run_processor(processor, recording, folder, overwrite,
                                                                       progress, job.recording_id)
            if processor.name in used:  # a later processor reads this result, or why there is none
                if status == OK:
                    recording.add_upstream(ProcessorResult.read(folder, processor.name))
                else:
                    recording.add_upstream_failure(processor.name, f"{status.replace('_', ' ')}: {reason}")
            outcomes[processor.name] = (status, reason)
            if was_reused:
                reused.append(processor.name)
            row["summary"].update({f"{processor.name}.{k}": v for k, v in summary.items()})
            if rows:
                row["split"].append(processor.name)
            for key, part in rows.items():
                row["rows"].setdefault(key, {}).update({f"{processor.name}.{k}": v for k, v in part.items()})
    for name, (status, reason) in outcomes.items():
        row["summary"][f"{name}.status"] = status
        row["summary"][f"{name}.error"] = reason
    row["status"], row["reason"] = recording_status(outcomes)
    row["reused"] = ",".join(reused)
    if row["status"] == FAILED and _inside(out_dir, folder) and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()  # leave no empty folder behind for a recording that produced nothing
    row["seconds"] = round(time.perf_counter() - started, 3)
    row["finished_utc"] = utc_now()
    return row


def _worker(processors: list[Processor], out_dir: str, overwrite: bool, log_level: int, connection,
            core: int | None = None, scratch: str | None = None) -> None:
    """Entry point of a worker process: run the recordings it is sent, one at a time, until ``None``.

    The processors arrive pickled once (parameters only); each recording's manifest row is
    sent back when it is done. With ``core`` the worker keeps to that CPU core, so that the
    thread pools of the libraries inside (TFLite, OpenCV, BLAS) do not compete across workers.
    ``scratch`` is the batch's scratch folder (temporary files stay inside OUT).
    """
    from .worker import _die_with_parent

    _die_with_parent()  # a batch killed with SIGKILL leaves no worker behind (Linux)
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


def _inside(out_dir: str | Path, path: Path) -> bool:
    """Whether ``path`` resolves inside ``out_dir`` (symbolic links followed)."""
    try:
        confined(out_dir, path)
    except OutsideOutputError:
        return False
    return True


def _remove_partial(folder: Path) -> None:
    """Delete temporary files a dead worker left in ``folder``, and the folder if nothing else is there."""
    if folder.is_symlink() or not folder.is_dir():  # never delete through a link
        return
    for leftover in folder.glob(".*.tmp"):
        if is_atomic_leftover(leftover.name) and (leftover.is_symlink() or leftover.is_file()):
            leftover.unlink(missing_ok=True)
    if not any(folder.iterdir()):
        folder.rmdir()


def _failed_row(job: Job, processors: Sequence[Processor], reason: str) -> dict[str, Any]:
    """The row of a recording whose every processor failed for one reason (a dead or stopped worker)."""
    summary: dict[str, Any] = {}
    for processor in processors:
        summary[f"{processor.name}.status"] = FAILED
        summary[f"{processor.name}.error"] = reason
    return {"recording_id": job.recording_id, "path": job.path, "status": FAILED, "reason": reason, "sha256": "",
            "seconds": 0.0, "processors": ",".join(p.name for p in processors), "reused": "",
            "finished_utc": utc_now(), "summary": summary, "rows": {}, "split": []}


def _crashed(job: Job, processors: Sequence[Processor], exitcode: int | None, out_dir: Path) -> dict[str, Any]:
    _remove_partial(out_dir / job.recording_id)
    how = f"killed by signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"exit code {exitcode}"
    return _failed_row(job, processors, f"the worker process processing this recording died ({how}), e.g. a crash "
                       "in native code; the other recordings are not affected")


def _timed_out(job: Job, processors: Sequence[Processor], out_dir: Path, timeout_s: float) -> dict[str, Any]:
    """The manifest row of a recording stopped by the per-recording timeout."""
    _remove_partial(out_dir / job.recording_id)
    return _failed_row(job, processors, f"timed out after {timeout_s:g} s (the per-recording timeout); the worker "
                       "was stopped. Raise --timeout for long recordings")


def _run_isolated(jobs: Sequence[Job], processors: Sequence[Processor], out_dir: Path, overwrite: bool,
                  workers: int, timeout_s: float | None = None, scratch: Path | None = None):
    """Run the recordings in ``workers`` worker processes (spawned); yield manifest rows.

    Each worker runs one recording at a time and is reused for the next one (so the cost
    of starting Python and loading models is paid once per worker, not per recording). A
    recording whose worker dies (a segmentation fault in a decoder or model, ``os._exit``)
    or runs longer than ``timeout_s`` fails alone: its row says so, a fresh worker replaces
    the dead or stopped one, and the other recordings go on. ``scratch`` (default: the current
    one, :func:`bitbox.fileio.scratch_root`) is given to every worker.
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
                        row = _crashed(job, processors, process.exitcode, Path(out_dir))
                elif not process.is_alive():
                    healthy = False
                    retire(process, connection, kill=False)
                    row = _crashed(job, processors, process.exitcode, Path(out_dir))
                elif timeout_s is not None and time.monotonic() - started > timeout_s:
                    healthy = False
                    retire(process, connection, kill=True)
                    row = _timed_out(job, processors, Path(out_dir), timeout_s)
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
        # is retried once on a fresh worker, then failed.
        with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None, silence_logs=logging.ERROR)
        return Client(cluster)
    try:  # Dask's connect timeout (30 s unless configured: distributed.comm.timeouts.connect)
        return Client(scheduler, timeout=dask.config.get("distributed.comm.timeouts.connect", "30s"))
    except (OSError, TimeoutError) as err:
        raise ParameterError(f"Cannot reach the Dask scheduler at {scheduler!r} ({err}). Check the address "
                             "(e.g. tcp://10.0.0.5:8786) and that the scheduler is running.") from None


def _dask_task(job: Job, processors: list[Processor], out_dir: str, overwrite: bool, log_level: int,
               timeout_s: float | None, scratch: str | None = None) -> dict[str, Any]:
    """One recording on a Dask worker: in the worker process, or in a child process with a timeout.

    ``scratch`` (the batch's scratch folder inside OUT) is where the recording's temporary files
    go, for this task only (:func:`bitbox.fileio.scratch_scope`; the worker's environment is not
    changed): a Dask worker runs several tasks at once in threads, and may serve other batches too.
    """
    with scratch_scope(scratch):
        if timeout_s is not None:
            from .worker import run_in_subprocess

            return run_in_subprocess(job, processors, out_dir, overwrite, log_level, timeout_s)
        logger.setLevel(log_level)
        return run_job(job, processors, out_dir, overwrite)


def _run_dask(jobs: Sequence[Job], processors: Sequence[Processor], out_dir: Path, overwrite: bool, workers: int,
              scheduler: str, timeout_s: float | None = None, scratch: Path | None = None):
    """Run each recording as a Dask task; yield manifest rows.

    Each recording runs in a Dask worker process. If the worker dies (a crash in native code,
    the machine running out of memory, a node lost), the scheduler retries the recording on
    another worker; one that keeps killing its workers fails alone (the scheduler's
    ``allowed-failures``). With ``timeout_s`` each recording runs in a child process of the
    worker, stopped when it takes too long.
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
                _remove_partial(out_dir / job.recording_id)
                row = _failed_row(job, processors, "the Dask workers processing this recording died every time it "
                                  f"was tried ({type(err).__name__}), e.g. a crash in native code; the other "
                                  "recordings are not affected")
            yield row
    finally:
        cluster = client.cluster if scheduler == "local" else None
        client.close()
        if cluster is not None:
            cluster.close()


# ---------------------------------------------------------------------------- tables
def _summary_columns(processors: Sequence[Processor]) -> list[str]:
    """Per processor: its status and error, then its catalogued summary measures."""
    columns: list[str] = []
    for p in processors:
        columns += [f"{p.name}.status", f"{p.name}.error"]
        columns += [f"{p.name}.{m.name}" for m in p.catalog_measures() if m.kind == "summary" and not m.pattern]
    return columns


def _check_out_dir(out_dir: Path) -> None:
    """A usage error, before anything runs, when ``out_dir`` cannot be the output folder: an
    existing file, under a file, or not writable. Missing folders are created (parents too)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ParameterError(f"The output folder {out_dir} is an existing file, not a folder. Give a folder "
                             "(it is created if needed); nothing was processed.")
    existing = out_dir.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ParameterError(f"The output folder {out_dir} cannot be created: {existing} is a file, not a folder. "
                             "Check the path; nothing was processed.")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "The output folder" if existing == out_dir.absolute() else f"The output folder {out_dir} cannot be " \
                                                                            "created: its parent folder"
        raise ParameterError(f"{what} {existing} is not writable by this user (or is on a read-only file "
                             "system). Choose a folder you can write to, or ask for write access; nothing was "
                             "processed.")


def _clean_leftovers(out_dir: Path) -> None:
    """Remove what an interrupted run left in ``out_dir`` (called once the lock is held):
    temporary files beside results and the scratch folders of earlier runs."""
    for leftover in [*out_dir.glob(".*.tmp"), *out_dir.glob("*/.*.tmp")]:
        # only atomic_path's temporary files (a user's own hidden .tmp files stay), never through a link
        if (is_atomic_leftover(leftover.name) and (leftover.is_symlink() or leftover.is_file())
                and _inside(out_dir, leftover.parent)):
            logger.info("removing %s, left by an interrupted run", leftover)
            leftover.unlink(missing_ok=True)
    scratch = out_dir / SCRATCH_DIR
    if scratch.is_symlink() or (scratch.exists() and not scratch.is_dir()):
        scratch.unlink()  # a link is removed, never followed
    elif scratch.is_dir():
        n = sum(1 for p in scratch.rglob("*") if not p.is_dir())
        if n:
            logger.info("removing %d temporary file(s) in %s, left by an interrupted run", n, scratch)
        shutil.rmtree(scratch, ignore_errors=True)


def _make_scratch(out_dir: Path) -> Path:
    """This run's scratch folder, ``OUT/.bitbox-tmp/<time>-pid<PID>`` (absolute, for the workers)."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    folder = confined(out_dir, Path(SCRATCH_DIR) / f"{stamp}-pid{os.getpid()}").resolve()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder.parent, 0o700)
    return folder


def _remove_scratch(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        folder.parent.rmdir()  # OUT/.bitbox-tmp, when no other run's folder is there


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def _text_measures(processors: Sequence[Processor]) -> set[str]:
    """Summary columns that hold text (e.g. ``eeg.bad_channels``), read back as text even when empty."""
    return {f"{p.name}.{m.name}" for p in processors for m in p.catalog_measures()
            if m.kind == "summary" and m.dtype == "str" and not m.pattern}


def _column_layout(keys: Iterable[str], first: Sequence[str], processors: Sequence[Processor] = ()) -> list[str]:
    """Summary columns grouped by processor (in the order they first appear in ``first``, then the
    others by name): status, error, the catalogued measures in catalog order (from ``processors``,
    this run's instances, else the installed processor), then the rest (pattern measures) by name."""
    from .outcomes import FIXED_SUMMARY_COLUMNS
    from .registry import get_processor_class

    groups: dict[str, list[str]] = {}
    for key in [*first, *sorted(keys)]:
        if key in FIXED_SUMMARY_COLUMNS or "." not in key:
            continue
        groups.setdefault(key.split(".", 1)[0], [])
    keys = set(keys) | set(first)
    layout: list[str] = []
    for name in groups:
        own = sorted(k for k in keys if k.startswith(f"{name}."))
        instance = next((p for p in processors if p.name == name), None)
        try:
            measures = (instance if instance is not None else get_processor_class(name)).catalog_measures()
            catalogued = [f"{name}.{m.name}" for m in measures if m.kind == "summary" and not m.pattern]
        except BitboxError:  # a processor of an earlier run that is no longer installed
            catalogued = []
        head = [f"{name}.status", f"{name}.error", *catalogued]
        layout += [k for k in head if k in keys] + [k for k in own if k not in head]
    return layout


def _shown(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with text as it can be written (a file name that is not UTF-8 shows its bytes as \\xNN)."""
    return {k: display_path(v) if isinstance(v, str) else v for k, v in values.items()}


def _is_measure_of(column: str, names: set[str]) -> bool:
    """Whether ``column`` is a measure (not the status or error) of one of the processors ``names``."""
    return "." in column and column.split(".", 1)[0] in names and not column.endswith((".status", ".error"))


def _row_key(processors: Sequence[Processor]) -> str:
    """The key the processors of one run split recordings by (``""``: none splits).

    Raises
    ------
    ParameterError
        When two processors declare different keys, or a key is not a plain column name.
    """
    from .outcomes import FIXED_SUMMARY_COLUMNS

    keys = {p.name: p.row_key for p in processors if p.row_key}
    for name, key in keys.items():
        if not (isinstance(key, str) and key.isidentifier()) or key in FIXED_SUMMARY_COLUMNS:
            raise ParameterError(f"The {name!r} processor declares row_key={key!r}; a row key is a plain column "
                                 "name (letters, digits, underscores; not one of "
                                 f"{', '.join(FIXED_SUMMARY_COLUMNS)}). This is a bug in the processor.")
    if len(set(keys.values())) > 1:
        raise ParameterError("These processors split each recording by different keys, and summary.csv can have "
                             "one row per recording and part of one kind only: "
                             + ", ".join(f"{name} by {key!r}" for name, key in keys.items())
                             + ". Run them into separate output folders.")
    return next(iter(keys.values()), "")


def _stored_row_key(out_dir: Path) -> str:
    """The key column of ``OUT/summary.csv`` (the column right after ``recording_id`` when it is not
    ``path``), ``""`` when it has none or does not exist."""
    path = out_dir / SUMMARY_FILE
    if not path.is_file():
        return ""
    try:
        header = list(pd.read_csv(path, nrows=0).columns)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
        return ""
    return header[1] if len(header) > 1 and header[0] == "recording_id" and header[1] != "path" else ""


def _declaring(key: str, names: Iterable[str], processors: Sequence[Processor]) -> dict[str, type]:
    """The processor classes among ``names`` (this run's instances first, then the installed
    ones) that split recordings by ``key``."""
    from .registry import get_processor_class

    found: dict[str, type] = {p.name: type(p) for p in processors if p.row_key == key}
    for name in names:
        if name in found:
            continue
        try:
            cls = get_processor_class(name)
        except BitboxError:  # a processor of an earlier run that is no longer installed
            continue
        if cls.row_key == key:
            found[name] = cls
    return found


class _Tables:
    """summary.csv and manifest.csv of one OUT: the rows already there, merged with this run's.

    A recording that a processor splits into parts (:class:`~bitbox.processor.RowSummaries`:
    e.g. one summary per person) has one summary row per part, with the part's id in the key
    column (the processors' ``row_key``, right after ``recording_id``). Its recording-level row
    (``self.summary``) is merged as any other; ``self.parts`` holds the columns of the processors
    that split it, per part, and ``self.owners`` those processors. The rows are expanded when
    written, each repeating the recording-level columns.
    """

    def __init__(self, out_dir: Path, processors: Sequence[Processor]) -> None:
        self.out_dir = out_dir
        self.names = [p.name for p in processors]
        self.processors = list(processors)
        self.manifest, self.summary, self.order, old_columns = read_tables(out_dir)
        stored, key = _stored_row_key(out_dir), _row_key(processors)
        if stored and key and stored != key:
            splitting = ", ".join(p.name for p in processors if p.row_key == key)
            raise ParameterError(f"{out_dir / SUMMARY_FILE} has one row per recording and {stored!r} (the column "
                                 f"after recording_id), and {splitting} splits recordings by {key!r}. Use another "
                                 "output folder for this run; nothing was processed.")
        #: the key column of summary.csv ("": one row per recording)
        self.key = key or stored
        #: per recording split into parts: {part id as text: {"<processor>.<measure>": value}}
        self.parts: dict[str, dict[str, dict[str, Any]]] = {}
        #: per recording split into parts: the processors whose columns the parts hold
        self.owners: dict[str, set[str]] = {}
        if stored:
            self._read_parts(stored)
        self.columns = list(dict.fromkeys([*(c for c in old_columns if c != stored), *_summary_columns(processors)]))
        #: the ids OUT holds, by their case-folded form (ids that differ only in case share a folder on
        #: case-insensitive file systems: macOS, Windows, SMB shares, exFAT drives)
        self.folded = {rid.casefold(): rid for rid in [*self.summary, *self.manifest]}
        #: this run's outcome per recording: (status, whether every processor that worked was reused)
        self.this_run: dict[str, tuple[str, bool]] = {}

    def _read_parts(self, key: str) -> None:
        """The parts of the recordings in a summary.csv with a key column.

        The processors that split a recording are those whose columns differ between its rows,
        and those that declare ``key`` as their row key; the others' columns are the recording's.
        """
        from .outcomes import FIXED_SUMMARY_COLUMNS

        frame = pd.read_csv(self.out_dir / SUMMARY_FILE, dtype={c: str for c in (*FIXED_SUMMARY_COLUMNS, key)})
        text = [c for c in frame.columns if c.endswith((".status", ".error", ".notes"))]
        frame[text] = frame[text].astype("object").fillna("")
        frame[key] = frame[key].fillna("")
        names = {c.split(".", 1)[0] for c in frame.columns if "." in c}
        declared = set(_declaring(key, names, self.processors))
        for rid, group in frame.groupby("recording_id", sort=False):
            records = [{k: v for k, v in r.items() if not (isinstance(v, float) and math.isnan(v))}
                       for r in group.to_dict("records")]
            parts = [str(r.pop(key)) for r in records]
            if len(records) == 1 and parts[0] == "":
                continue  # a recording of one row
            columns = {c for r in records for c in r if _is_measure_of(c, names)}
            differ = {c.split(".", 1)[0] for c in columns if len({repr(r.get(c)) for r in records}) > 1}
            owners = differ | (declared & {c.split(".", 1)[0] for c in columns})
            self.parts[rid] = {part: {c: v for c, v in r.items() if _is_measure_of(c, owners)}
                               for part, r in zip(parts, records) if part != ""}
            self.owners[rid] = owners
            self.summary[rid] = {c: v for c, v in records[0].items() if not _is_measure_of(c, owners)}

    def distinct(self, job: Job) -> Job:
        """``job``, or the same file under a new id when OUT holds that id for another file (a second
        folder run into the same OUT, with files of the same relative path)."""
        stored_id = self.folded.get(job.recording_id.casefold(), job.recording_id)  # one folder, whatever the case
        stored = self.manifest.get(stored_id) or self.summary.get(stored_id)
        if (not stored or not stored.get("path") or str(stored["path"]) == display_path(job.path)
                or _same_file(str(stored["path"]), job.path)):
            return job
        rid = f"{job.recording_id}_{_path_tag(Path(job.path))}"
        logger.info("%s: the id %r is taken in %s by %s; this recording is %r", job.path, job.recording_id,
                    self.out_dir, stored["path"], rid)
        return Job(rid, job.path)

    def add(self, row: dict[str, Any]) -> None:
        # Text as it can be written (a file name that is not UTF-8 shows its bytes as \xNN).
        row = _shown(row)
        row["summary"] = _shown(row["summary"])
        rid = row["recording_id"]
        new = {"recording_id": rid, "path": row["path"], "status": row["status"], "error": row["reason"],
               **row["summary"]}
        merged = merge_row(self.summary.get(rid), new, self.names)
        self.summary[rid] = merged
        self._merge_parts(rid, {str(k): _shown(v) for k, v in (row.get("rows") or {}).items()},
                          set(row.get("split") or ()))
        entry = {k: v for k, v in row.items() if k not in ("summary", "rows", "split")}
        entry["status"], entry["reason"] = merged["status"], merged.get("error", row["reason"])
        entry["processors"] = ",".join(k[: -len(".status")] for k, v in merged.items()
                                       if k.endswith(".status") and isinstance(v, str) and v) or row["processors"]
        self.manifest[rid] = entry
        if rid not in self.order:
            self.order.append(rid)
        worked = {k[: -len(".status")] for k, v in row["summary"].items() if k.endswith(".status") and v == OK}
        self.this_run[rid] = (row["status"], bool(worked) and worked == set(filter(None, row["reused"].split(","))))

    def _merge_parts(self, rid: str, new_parts: dict[str, dict], split: set[str]) -> None:
        """Replace the parts of ``rid`` as a group: this run's processors' columns go from every part
        (and a part left by a processor of this run goes with them), this run's parts come in."""
        rerun = set(self.names)
        old_parts, old_owners = self.parts.pop(rid, {}), self.owners.pop(rid, set())
        kept_owners = old_owners - rerun
        # Old parts stay while a processor that made them (and is not run now) still has them; parts of
        # unknown origin (an OUT whose splitting processor is not installed) stay unless replaced.
        keep = bool(kept_owners) or (not old_owners and not new_parts)
        parts = {part: {c: v for c, v in columns.items() if not _is_measure_of(c, rerun)}
                 for part, columns in old_parts.items()} if keep else {}
        for part, columns in new_parts.items():
            parts.setdefault(part, {}).update(columns)
        if parts:
            self.parts[rid], self.owners[rid] = parts, kept_owners | split

    def _rows(self, order: Sequence[str]) -> list[dict[str, Any]]:
        """The summary rows, one per recording and part, parts in id order (integers first)."""
        rows: list[dict[str, Any]] = []
        for rid in order:
            base = self.summary.get(rid, {"recording_id": rid})
            parts = self.parts.get(rid)
            if not parts:
                rows.append({**base, self.key: ""} if self.key else base)
                continue
            split = self.owners.get(rid, set()) | {c.split(".", 1)[0] for cols in parts.values() for c in cols}
            shared = {c: v for c, v in base.items() if not _is_measure_of(c, split)}
            rows += [{**shared, self.key: part, **parts[part]} for part in sorted(parts, key=part_order)]
        return rows

    def write(self) -> None:
        """Both tables (and codebook.csv), rows sorted by recording id (then part id) and columns in
        a fixed layout, so that they do not depend on the order recordings finished in or on what
        earlier runs wrote first."""
        order = sorted(self.order)
        done = [rid for rid in order if rid in self.manifest or rid in self.summary]
        rows = self._rows(done)
        keys = dict.fromkeys([*self.columns, *(k for row in rows for k in row if k != self.key)])
        layout = _column_layout(keys, self.columns, self.processors)
        if self.key:
            _write_keyed_tables(self.out_dir, self.manifest, self.summary, rows, done, layout, self.key)
        else:
            write_tables(self.out_dir, self.manifest, self.summary, order, layout)
        _write_codebook(self.out_dir, layout, self.key, self.processors)


def _write_keyed_tables(out_dir: Path, manifest_rows: dict[str, dict], summary_rows: dict[str, dict],
                        rows: list[dict[str, Any]], done: list[str], columns: list[str], key: str) -> None:
    """:func:`bitbox.outcomes.write_tables` for a summary with a key column: ``manifest.csv`` one row
    per recording of ``done``, ``summary.csv`` the ``rows`` (one per recording and part) with ``key``
    right after ``recording_id``; both atomically."""
    from .outcomes import FIXED_SUMMARY_COLUMNS, MANIFEST_COLUMNS

    manifest_columns = [*MANIFEST_COLUMNS, *(c for c in columns if c.endswith((".status", ".error")))]
    manifest = pd.DataFrame([{c: {**summary_rows.get(rid, {}), **manifest_rows.get(rid, {})}.get(c, "")
                              for c in manifest_columns} for rid in done], columns=manifest_columns)
    head = [FIXED_SUMMARY_COLUMNS[0], key, *FIXED_SUMMARY_COLUMNS[1:]]
    table = pd.DataFrame([{c: r.get(c) for c in [*head, *columns]} for r in rows], columns=[*head, *columns])
    for name, frame in ((MANIFEST_FILE, manifest), (SUMMARY_FILE, table)):
        with atomic_path(out_dir / name) as tmp:
            frame.to_csv(tmp, index=False)


#: codebook.csv's text for the recording-level columns of summary.csv
_FIXED_CODEBOOK = {
    "recording_id": "The recording's id, unique within OUT: its path relative to the input folder, made a safe "
                    "folder name. Its results are in OUT/<recording_id>/.",
    "path": "The recording's path as given to the run.",
    "status": "The recording: ok (no processor failed), partial (some processors failed, some worked), failed "
              "(none worked).",
    "error": "Why processors failed, each named with its reason (empty when none failed).",
}


def _codebook(columns: Sequence[str], key: str, processors: Sequence[Processor]) -> pd.DataFrame:
    """One row per column of summary.csv (the fixed ones, the key column, then ``columns``):
    ``column``, ``processor``, ``unit``, ``dtype``, ``description``, from the processors' catalogs
    (this run's instances, then the installed processors)."""
    from .outcomes import FIXED_SUMMARY_COLUMNS
    from .registry import get_processor_class

    names = list(dict.fromkeys(c.split(".", 1)[0] for c in columns if "." in c))
    measures: dict[str, list] = {p.name: list(p.catalog_measures()) for p in processors}
    for name in names:
        if name not in measures:
            try:
                measures[name] = list(get_processor_class(name).catalog_measures())
            except BitboxError:  # a processor of an earlier run that is no longer installed
                measures[name] = []
    table = [{"column": c, "processor": "", "unit": "", "dtype": "str", "description": _FIXED_CODEBOOK[c]}
             for c in FIXED_SUMMARY_COLUMNS]
    if key:
        declaring = _declaring(key, names, processors)
        text = next((cls.row_key_description for cls in declaring.values() if cls.row_key_description), "")
        table.insert(1, {"column": key, "processor": ",".join(declaring), "unit": "", "dtype": "int or str",
                         "description": (text or f"The id of the part of the recording ({key}) the row describes.")
                         + " summary.csv has one row per recording and part; this is empty on the one row of a "
                         "recording that is not split. The columns of processors that do not split the recording "
                         "repeat its values on each of its rows."})
    for column in columns:
        name, measure_name = column.split(".", 1)
        if measure_name == "status":
            entry = ("", "str", f"The {name} processor on this recording: ok, failed, or not_applicable (e.g. "
                                "a stream it reads is absent).")
        elif measure_name == "error":
            entry = ("", "str", f"Why the {name} processor failed or did not apply (empty when it worked).")
        else:
            measure = next((m for m in measures.get(name, []) if m.kind == "summary" and m.matches(measure_name)),
                           None)
            entry = ((measure.unit, measure.dtype, measure.description) if measure is not None
                     else ("", "", f"Not in the catalog of the installed {name!r} processor."))
        table.append({"column": column, "processor": name, "unit": entry[0], "dtype": entry[1],
                      "description": entry[2]})
    return pd.DataFrame(table, columns=["column", "processor", "unit", "dtype", "description"])


def _write_codebook(out_dir: Path, columns: Sequence[str], key: str, processors: Sequence[Processor]) -> None:
    """``OUT/codebook.csv``: what each column of summary.csv holds (atomically)."""
    with atomic_path(out_dir / CODEBOOK_FILE) as tmp:
        _codebook(columns, key, processors).to_csv(tmp, index=False)


def _key_column(values: pd.Series) -> pd.Series:
    """The key column of a summary read back: integers (nullable ``Int64``, missing on the rows of
    recordings that are not split) when every id is an integer, else text (``""`` for none)."""
    text = values.fillna("").astype(str)
    filled = text[text != ""]
    if len(filled) and filled.str.fullmatch(r"-?\d+").all():
        return pd.array([int(v) if v != "" else pd.NA for v in text], dtype="Int64")
    return text


def _run_batch(jobs: list[Job], problems: list[tuple[Job, str]], instances: Sequence[Processor], out_dir: Path,
               overwrite: bool, workers: int, timeout_s: float | None, scheduler: str | None,
               progress: bool, scratch: Path | None = None) -> "_Tables":
    """Run the jobs with the chosen executor, recording each row; return the tables (written).
    ``scratch`` is given to worker processes and Dask tasks."""
    from tqdm.auto import tqdm

    tables = _Tables(out_dir, instances)
    jobs = [tables.distinct(job) for job in jobs]  # an id of an earlier run's other file gets a suffix
    for job, reason in problems:
        tables.add({"recording_id": job.recording_id, "path": job.path, "status": FAILED, "reason": reason,
                    "sha256": "", "seconds": 0.0, "processors": ",".join(p.name for p in instances), "reused": "",
                    "finished_utc": utc_now(), "summary": {}})
    logger.info("processing %d recordings with %s into %s (%d worker(s)%s)", len(jobs),
                ", ".join(p.name for p in instances), out_dir, workers,
                f", Dask scheduler {scheduler}" if scheduler else "")
    last_write, write_every = 0.0, 2.0
    bar = tqdm(total=len(jobs), desc="bitbox", unit="rec", disable=not progress, dynamic_ncols=True)

    def record(row: dict) -> None:
        nonlocal last_write, write_every
        tables.add(row)
        bar.update(1)
        bar.set_postfix_str(row["recording_id"][-30:], refresh=False)
        if time.monotonic() - last_write > write_every:  # at most ~10% of the time on the tables
            started = time.monotonic()
            tables.write()
            last_write = time.monotonic()
            write_every = max(2.0, 10 * (last_write - started))

    try:
        if scheduler is not None:
            for row in _run_dask(jobs, instances, out_dir, overwrite, workers, scheduler, timeout_s, scratch):
                record(row)
        elif workers == 1 and timeout_s is None:
            # The current recording's progress (frames of a video, steps of an audio analysis), per processor.
            steps = tqdm(total=0, desc="  ", unit="step", leave=False, disable=not progress, dynamic_ncols=True)

            def on_progress(done: int, total: int | None) -> None:
                if total is not None and steps.total != total or done < steps.n:  # the next processor's count
                    steps.reset(total=total)
                steps.n = done
                steps.refresh()

            try:
                for job in jobs:
                    bar.set_postfix_str(job.recording_id[-30:])
                    steps.reset(total=0)
                    steps.set_description_str(f"  {job.recording_id[-24:]}", refresh=False)
                    record(run_job(job, instances, out_dir, overwrite, progress=on_progress))
            finally:
                steps.close()
        else:
            for row in _run_isolated(jobs, instances, out_dir, overwrite, workers, timeout_s, scratch):
                record(row)
    finally:
        bar.close()
        tables.write()
    return tables


def _result(out_dir: Path, tables: "_Tables", instances: Sequence[Processor]) -> BatchResult:
    """The batch's result: OUT's tables as written, and this run's counts."""
    # Ids, paths and reasons stay text ("001" is not the number 1).
    manifest = pd.read_csv(out_dir / MANIFEST_FILE, dtype=str, keep_default_na=False)
    manifest["seconds"] = pd.to_numeric(manifest["seconds"], errors="coerce")
    header = pd.read_csv(out_dir / SUMMARY_FILE, nrows=0).columns
    key = _stored_row_key(out_dir)
    text_measures = _text_measures(instances)
    text = {c: str for c in header if c.endswith((".status", ".error", ".notes")) or c in text_measures}
    summary = pd.read_csv(out_dir / SUMMARY_FILE, dtype={"recording_id": str, "path": str, "status": str,
                                                        "error": str, **text, **({key: str} if key else {})},
                          keep_default_na=True)
    text_columns = [c for c in ("error", *text) if c in summary.columns]
    summary[text_columns] = summary[text_columns].fillna("")  # empty text is "", as in the manifest
    if key:
        summary[key] = _key_column(summary[key])
    outcomes = list(tables.this_run.values())
    counts = {status: sum(st == status for st, _ in outcomes) for status in (OK, PARTIAL, FAILED)}
    counts["already_done"] = sum(st == OK and done for st, done in outcomes)
    result = BatchResult(out_dir=out_dir, summary=summary, manifest=manifest, counts=counts)
    return result


# ---------------------------------------------------------------------------- public
@verbose
def process_folder(inputs: str | Path | Iterable[str | Path], out_dir: str | Path,
                   processors: str | Sequence[str | Processor] = ("face",), *, workers: int = 1,
                   overwrite: bool = False, timeout_s: float | None = None, scheduler: str | None = None,
                   progress: bool = True, wait: bool = False,
                   verbose: bool | str | int | None = None, **params: Any) -> BatchResult:
    """Process every recording under ``inputs`` into ``out_dir``; resumable, failure-tolerant.

    Parameters
    ----------
    inputs : path or list of paths
        Files and folders (searched recursively, sorted; hidden files skipped).
    out_dir : path
        Output folder (created if needed, parents too; a relative one is relative to the working
        directory). One run writes to it at a time (see ``wait``); everything the run writes
        stays inside it, temporary files included.
    processors : str | list of (str | Processor)
        Processor names or configured instances.
    workers : int
        Worker processes (1 = run in this process). With more than one, every recording runs
        in its own process, so a crash in native code fails that recording only.
    overwrite : bool
        Recompute even when up-to-date outputs exist.
    timeout_s : float | None
        Stop a recording that takes longer than this and record it as failed (each
        recording then runs in its own process, whatever ``workers`` is).
    scheduler : str | None
        Run on Dask: ``"local"`` starts a LocalCluster of ``workers`` processes on this
        machine; an address (``"tcp://host:8786"``) uses an existing scheduler (e.g. one
        started by dask-jobqueue on SLURM). ``None`` (default) uses the local process pool.
        Each recording runs in a Dask worker process; a worker that dies mid-task gets its
        recording retried on another one. Outputs are identical whichever executor runs.
    progress : bool
        Show a progress bar.
    wait : bool
        When another run is writing to ``out_dir``: wait for it to finish (logged) instead of
        raising :class:`~bitbox.errors.ParameterError` at once.
    verbose : bool | str | int | None
        Log level for this call.
    **params
        Processor parameters (``frame_step=2``, ``**{"face.max_faces": 3}``).

    Returns
    -------
    BatchResult
        ``.summary`` (one row per recording, or per recording and part when a processor splits
        recordings: then with the key column, e.g. ``person``, after ``recording_id``),
        ``.manifest``, ``.counts``.

    Raises
    ------
    NoRecordingsError
        When no recording at all is found in ``inputs``.
    ParameterError
        For invalid parameters; when two processors split recordings by different keys, or by a
        key other than the one of ``out_dir``'s summary.csv; when ``out_dir`` is a file or not
        writable; when another run is writing to ``out_dir`` (and ``wait`` is False); the message
        names that run's PID, host, start time and command.
    """
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    inputs = list(inputs)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ParameterError(f"The 'workers' parameter must be an integer >= 1. Got {workers!r} instead.")
    if timeout_s is not None and not (isinstance(timeout_s, (int, float)) and timeout_s > 0):
        raise ParameterError(f"The 'timeout_s' parameter must be a positive number of seconds or None. "
                             f"Got {timeout_s!r} instead.")
    if scheduler is not None and not (isinstance(scheduler, str) and scheduler.strip()):
        raise ParameterError(f"The 'scheduler' parameter must be 'local', a Dask scheduler address or None. "
                             f"Got {scheduler!r} instead.")
    instances = resolve_processors(processors, params)
    run_order(instances)  # processors that use each other in a cycle: a usage error before anything runs
    for processor in instances:
        processor.validate_params()
    _row_key(instances)  # processors splitting recordings by different keys: refused before anything runs
    kinds = sorted({k for p in instances for k in p.input_kinds})
    out_dir = Path(out_dir).absolute()  # workers elsewhere (Dask) and confined() need it absolute
    _check_out_dir(out_dir)
    jobs, problems = discover(inputs, kinds, exclude=out_dir)
    if not jobs:
        reasons = "; ".join(f"{job.path}: {reason}" for job, reason in problems) or "no inputs were given"
        raise NoRecordingsError(f"No recordings to process ({reasons}).")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ParameterError(f"The output folder {out_dir} cannot be created ({err.strerror or err}). Choose a "
                             "folder you can write to; nothing was processed.") from None
    # Nothing in OUT is touched (leftovers, tables, results) before the lock is held.
    with out_lock(out_dir, wait=wait):
        _clean_leftovers(out_dir)
        scratch = _make_scratch(out_dir)
        try:
            with scratch_scope(scratch):  # this thread's; workers and tasks are given it explicitly
                tables = _run_batch(jobs, problems, instances, out_dir, overwrite, workers, timeout_s, scheduler,
                                    progress, scratch)
        finally:
            _remove_scratch(scratch)
        result = _result(out_dir, tables, instances)  # read while the lock is held
    logger.info(result.describe())
    return result

