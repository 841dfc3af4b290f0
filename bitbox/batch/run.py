"""Running a batch: :func:`process_folder` and its :class:`BatchResult`.

Checks every argument and input before anything runs, holds OUT's lock, cleans what an
interrupted run left, runs the jobs with the chosen executor (:mod:`bitbox.batch.executors`) in
a scratch folder of OUT, and writes the tables (:mod:`bitbox.batch.tables`) as recordings finish.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import multiprocessing
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

from ..errors import NoRecordingsError, ParameterError, ProcessorNotFoundError
from ..kinds import available_kinds, kind_of
from ..fileio import confined, is_atomic_leftover, out_lock, scratch_scope
from ..log import logger, verbose
from ..outcomes import FAILED, MANIFEST_FILE, OK, PARTIAL, SUMMARY_FILE, run_as_default_for
from ..pipeline import resolve_processors
from ..processor import Processor, run_order
from ..registry import default_processors, get_processor_class
from .bids import check_derivative_target, write_derivative_description
from .discovery import discover
from .executors import run_dask, run_isolated, run_serial
from .jobs import Job, ManifestRow, is_inside
from .layout import SCRATCH_DIR
from .tables import Tables, key_column, row_key, stored_row_key, text_measures

__all__ = ["process_folder", "BatchResult"]


@dataclass
class BatchResult:
    """What a batch did.

    ``summary`` and ``manifest`` are the tables of ``out_dir`` (every recording ever processed
    into it; ``summary`` has one row per recording and part, with the key column after
    ``recording_id``, when a processor splits recordings); ``counts`` are this run's: ``ok``,
    ``partial``, ``failed`` recordings, and how many of the ``ok`` ones were ``already_done``
    (every result reused, nothing recomputed).

    Parameters
    ----------
    out_dir : Path
        The output folder.
    summary : DataFrame
        OUT's summary.csv as written.
    manifest : DataFrame
        OUT's manifest.csv as written.
    counts : dict
        This run's ``{outcome: number of recordings}``.
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
                and is_inside(out_dir, leftover.parent)):
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


def _run_batch(jobs: list[Job], problems: list[tuple[Job, str]], instances: Sequence[Processor], out_dir: Path,
               overwrite: bool, workers: int, timeout_s: float | None, scheduler: str | None,
               progress: bool, scratch: Path | None = None) -> Tables:
    """Run the jobs with the chosen executor, recording each row; return the tables (written).
    ``scratch`` is given to worker processes and Dask tasks."""
    from tqdm.auto import tqdm

    tables = Tables(out_dir, instances)
    jobs = [tables.distinct(job) for job in jobs]  # an id of an earlier run's other file gets a suffix
    for job, reason in problems:  # a folder without recordings: a row, not the processors' outcomes
        tables.add(ManifestRow.failed(job, [p.name for p in instances], reason, outcomes=False))
    logger.info("processing %d recordings with %s into %s (%d worker(s)%s)", len(jobs),
                ", ".join(p.name for p in instances), out_dir, workers,
                f", Dask scheduler {scheduler}" if scheduler else "")
    last_write, write_every = 0.0, 2.0
    bar = tqdm(total=len(jobs), desc="bitbox", unit="rec", disable=not progress, dynamic_ncols=True)

    def record(row: ManifestRow) -> None:
        nonlocal last_write, write_every
        tables.add(row)
        bar.update(1)
        bar.set_postfix_str(row.recording_id[-30:], refresh=False)
        if time.monotonic() - last_write > write_every:  # at most ~10% of the time on the tables
            started = time.monotonic()
            tables.write()
            last_write = time.monotonic()
            write_every = max(2.0, 10 * (last_write - started))

    if scheduler is not None:
        rows = run_dask(jobs, instances, out_dir, overwrite, workers, scheduler, timeout_s, scratch)
    elif workers == 1 and timeout_s is None:
        rows = run_serial(jobs, instances, out_dir, overwrite, show_progress=progress,
                          starting=lambda job: bar.set_postfix_str(job.recording_id[-30:]))
    else:
        rows = run_isolated(jobs, instances, out_dir, overwrite, workers, timeout_s, scratch)
    try:
        for row in rows:
            record(row)
    finally:
        rows.close()  # the executor's own clean-up (workers, its progress bar) first
        bar.close()
        tables.write()
    return tables


def _result(out_dir: Path, tables: Tables, instances: Sequence[Processor]) -> BatchResult:
    """The batch's result: OUT's tables as written, and this run's counts."""
    # Ids, paths and reasons stay text ("001" is not the number 1).
    manifest = pd.read_csv(out_dir / MANIFEST_FILE, dtype=str, keep_default_na=False)
    manifest["seconds"] = pd.to_numeric(manifest["seconds"], errors="coerce")
    header = pd.read_csv(out_dir / SUMMARY_FILE, nrows=0).columns
    key = stored_row_key(out_dir)
    text_columns_of = text_measures(instances)
    text = {c: str for c in header if c.endswith((".status", ".error", ".notes")) or c in text_columns_of}
    summary = pd.read_csv(out_dir / SUMMARY_FILE, dtype={"recording_id": str, "path": str, "status": str,
                                                        "error": str, **text, **({key: str} if key else {})},
                          keep_default_na=True)
    text_columns = [c for c in ("error", *text) if c in summary.columns]
    summary[text_columns] = summary[text_columns].fillna("")  # empty text is "", as in the manifest
    if key:
        summary[key] = key_column(summary[key])
    outcomes = list(tables.this_run.values())
    counts = {status: sum(st == status for st, _ in outcomes) for status in (OK, PARTIAL, FAILED)}
    counts["already_done"] = sum(st == OK and done for st, done in outcomes)
    result = BatchResult(out_dir=out_dir, summary=summary, manifest=manifest, counts=counts)
    return result


def _refuse_unguarded_script() -> None:
    """Refuse a call made while a worker process starts by importing the user's script again.

    Worker processes are spawned: each imports the script that started the batch (as ``__mp_main__``). A
    script calling :func:`process_folder` at its top level, not under ``if __name__ == "__main__":``,
    would start another batch in every worker; it is stopped here with the remedy.
    """
    # multiprocessing's own test (spawn.py sets it while the child imports the main module), or the script
    # itself on the call stack under the name spawn gives it
    importing = getattr(multiprocessing.current_process(), "_inheriting", False)
    frame = sys._getframe(1)
    while frame is not None and not importing:
        importing = frame.f_globals.get("__name__") == "__mp_main__"
        frame = frame.f_back
    main = sys.modules.get("__mp_main__") or sys.modules.get("__main__")
    if importing:
        raise ParameterError(
            f"process_folder() was called while a worker process was starting: the worker imports your script "
            f"({getattr(main, '__file__', 'the main module')}) again, and the script calls process_folder() at its "
            "top level. Put the call under `if __name__ == \"__main__\":` (needed with workers > 1, timeout_s "
            "or scheduler='local'), as multiprocessing requires.")


def _check_processors(instances: Sequence[Processor]) -> None:
    """Usage errors refused before anything runs: processors that use each other in a cycle, invalid
    parameters, processors splitting recordings by different keys."""
    run_order(instances)
    for processor in instances:
        processor.validate_params()
    row_key(instances)


def _companions(processors: Iterable[Processor | type]) -> dict[str, set[str]]:
    """``{kind: kinds of the recordings its files accompany}`` the processors claim (:attr:`Processor.companions`)."""
    companions: dict[str, set[str]] = {}
    for processor in processors:
        for kind, owners in processor.companions.items():
            companions.setdefault(kind, set()).update(owners)
    return companions


def _by_default(inputs: list, out_dir: Path, params: dict[str, Any]
                ) -> tuple[list[Processor], list[Job], list[tuple[Job, str]]]:
    """The processors, jobs and problems of a run without named processors: the recordings of every kind
    that has a default processor, each measured by its kind's default (:func:`run_as_default_for`)."""
    defaults: dict[str, str] = {}
    for kind in available_kinds():
        with contextlib.suppress(ProcessorNotFoundError):
            defaults[kind] = default_processors(kind)[0]
    if not defaults:
        raise ParameterError("No installed processor is the default for any kind of recording; name the "
                             "processors to run (see `bitbox list`).")
    _check_out_dir(out_dir)
    classes = [get_processor_class(name) for name in sorted(set(defaults.values()))]
    jobs, problems = discover(inputs, sorted(defaults), exclude=out_dir, companions=_companions(classes))
    present = sorted({kind_of(job.path) for job in jobs} & set(defaults))
    names = list(dict.fromkeys(defaults[kind] for kind in (present or sorted(defaults))))
    # parameters are checked against every default processor (`--set face.frame_step=2` is valid for a folder
    # without videos), then only those of the kinds found run
    everyone = resolve_processors(list(dict.fromkeys(defaults[kind] for kind in sorted(defaults))), params)
    instances = [p for p in everyone if p.name in names]
    plan = {p.name: [kind for kind, name in defaults.items() if name == p.name] for p in instances}
    for processor in instances:
        run_as_default_for(processor, plan[processor.name])
    _check_processors(instances)
    logger.info("default processors: %s", "; ".join(f"{name} on {', '.join(k)}" for name, k in plan.items()))
    return instances, jobs, problems


@verbose
def process_folder(inputs: str | Path | Iterable[str | Path], out_dir: str | Path,
                   processors: str | Sequence[str | Processor] | None = None, *, workers: int = 1,
                   overwrite: bool = False, timeout_s: float | None = None, scheduler: str | None = None,
                   progress: bool = True, wait: bool = False, bids_derivative: bool = False,
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
    processors : str | list of (str | Processor) | None
        Processor names or configured instances. ``None`` (default): every recording gets the
        default processor of its kind (:attr:`Processor.default_for`; ``bitbox list`` shows them):
        ``face`` for video, ``speech`` for audio, ``eeg`` for EEG, ``language`` for text. A
        processor run as a default measures only the recordings of its kind; on the others it is
        ``not_applicable`` with that reason (``speech`` does not measure the sound of the videos).
    workers : int
        Worker processes (1 = run in this process). With more than one, every recording runs
        in its own process, so a crash in native code fails that recording only. The workers are
        spawned and import the calling script again: in a script, call this under
        ``if __name__ == "__main__":``.
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
    bids_derivative : bool
        Make ``out_dir`` a BIDS derivative dataset of the inputs' BIDS dataset(s): its
        ``dataset_description.json`` (``DatasetType`` "derivative", ``GeneratedBy`` Bitbox, ``SourceDatasets``)
        is written atomically; per-recording folders stay ``out_dir/<recording_id>/``, the ids being the BIDS
        basenames (docs/bids.md). E.g. ``process_folder(root, root / "derivatives" / "bitbox", bids_derivative=True)``.
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
        names that run's PID, host, start time and command; with ``bids_derivative``, when no input is
        part of a BIDS dataset or ``out_dir`` holds another dataset's ``dataset_description.json``.
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
    _refuse_unguarded_script()
    out_dir = Path(out_dir).absolute()  # workers elsewhere (Dask) and confined() need it absolute
    bids_sources = check_derivative_target(out_dir, inputs) if bids_derivative else []
    if processors is None:
        instances, jobs, problems = _by_default(inputs, out_dir, params)
    else:
        instances = resolve_processors(processors, params)
        _check_processors(instances)
        _check_out_dir(out_dir)
        kinds = sorted({k for p in instances for k in p.input_kinds})
        jobs, problems = discover(inputs, kinds, exclude=out_dir, companions=_companions(instances))
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
        if bids_derivative:
            write_derivative_description(out_dir, bids_sources)
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
