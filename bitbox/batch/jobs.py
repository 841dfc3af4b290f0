"""One recording of a batch: the job, its manifest row, and running it (resumable, never raising).

:func:`run_job` runs the processors on one recording into ``OUT/<recording_id>/``, each
succeeding or failing on its own (:mod:`bitbox.outcomes`), reusing a result whose recorded
processor version, parameters, input and companion files match the current run. Whatever
happens, it returns the recording's :class:`ManifestRow`; so do the executors for a recording
whose worker died or was stopped (:func:`crashed_row`, :func:`timed_out_row`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from ..catalog import summary_columns
from ..errors import BitboxError
from ..fileio import OutsideOutputError, confined, is_atomic_leftover, jsonable, read_json, utc_now
from ..kinds import kind_of
from ..log import logger
from ..measurements import ProcessorResult, rows_from_json, streamed_table, write_result
from ..outcomes import (FAILED, MANIFEST_COLUMNS, NOT_APPLICABLE, OK, internal_error, not_applicable_reason,
                        recording_status, runs_on)
from ..processor import Processor, ProgressCallback, run_order
from ..recording import Recording, sha256_file

__all__ = ["Job", "ManifestRow", "run_job", "processors_for", "crashed_row", "timed_out_row", "remove_partial", "is_inside"]


@dataclass(frozen=True)
class Job:
    """One recording to process: its batch-unique id and path.

    Parameters
    ----------
    recording_id : str
        The recording's id, unique within the batch and OUT (its folder there).
    path : str
        The recording's path as given to the run.
    """

    recording_id: str
    path: str


@dataclass
class ManifestRow:
    """One recording's outcome in one run: its ``manifest.csv`` columns and its summary values.

    Parameters
    ----------
    recording_id : str
        The recording's batch-unique id (its folder in OUT).
    path : str
        The recording's path as given to the run.
    status : str
        ``ok``, ``partial`` or ``failed`` (:func:`bitbox.outcomes.recording_status`).
    reason : str
        Why processors failed, each named with its reason (``""`` when none failed).
    sha256 : str
        The recording's SHA-256 (``""`` when it could not be read).
    seconds : float
        How long the recording took.
    processors : str
        The run's processors, comma-separated.
    reused : str
        The processors whose stored results were reused, comma-separated.
    finished_utc : str
        When the recording was done (ISO 8601, UTC).
    summary : dict
        ``{"<processor>.status": ..., "<processor>.error": ..., "<processor>.<measure>": value}``.
    rows : dict
        ``{part id: {"<processor>.<measure>": value}}``: the per-part summaries of the processors
        that split the recording (``{}`` when none does).
    split : list of str
        Those processors' names.
    originals : dict
        ``{column: "<processor>.<key>"}``: the summary keys renamed into safe column names
        (:func:`bitbox.catalog.summary_columns`, e.g. a channel name with a space), as the processor wrote them.
    """

    recording_id: str
    path: str
    status: str = FAILED
    reason: str = ""
    sha256: str = ""
    seconds: float = 0.0
    processors: str = ""
    reused: str = ""
    finished_utc: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    rows: dict[Any, dict[str, Any]] = field(default_factory=dict)
    split: list[str] = field(default_factory=list)
    originals: dict[str, str] = field(default_factory=dict)

    @classmethod
    def failed(cls, job: Job, names: Sequence[str], reason: str, *, outcomes: bool = True) -> "ManifestRow":
        """The row of a recording that failed as a whole, for one reason.

        Parameters
        ----------
        job : Job
            The recording.
        names : sequence of str
            The run's processors.
        reason : str
            Why it failed.
        outcomes : bool
            Give every processor that reason as its own outcome (``<processor>.status`` failed); False
            for a row that is not about processors (e.g. a folder without recordings).

        Returns
        -------
        ManifestRow
            Finished now, status ``failed``.
        """
        summary: dict[str, Any] = {}
        if outcomes:
            for name in names:
                summary[f"{name}.status"] = FAILED
                summary[f"{name}.error"] = reason
        return cls(job.recording_id, job.path, status=FAILED, reason=reason, processors=",".join(names),
                   finished_utc=utc_now(), summary=summary)

    def manifest(self) -> dict[str, Any]:
        """The row's ``manifest.csv`` columns (:data:`bitbox.outcomes.MANIFEST_COLUMNS`), in order.

        Returns
        -------
        dict
            ``{column: value}``.
        """
        return {column: getattr(self, column) for column in MANIFEST_COLUMNS}

    def map_text(self, convert: Callable[[str], str]) -> "ManifestRow":
        """The row with ``convert`` applied to its text fields and to the text values of its summary.

        Parameters
        ----------
        convert : callable
            ``convert(text) -> text`` (e.g. :func:`bitbox.fileio.display_path`).

        Returns
        -------
        ManifestRow
            A new row (``rows`` and ``split`` unchanged).
        """
        text = {f.name: convert(getattr(self, f.name)) for f in fields(self) if isinstance(getattr(self, f.name), str)}
        return replace(self, **text, summary={k: convert(v) if isinstance(v, str) else v
                                              for k, v in self.summary.items()})

    def __getitem__(self, name: str) -> Any:
        """A field by name (``row["status"]``), as the row dicts of earlier versions had it."""
        if name not in {f.name for f in fields(self)}:
            raise KeyError(name)
        return getattr(self, name)


# ---------------------------------------------------------------------------- one processor
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
        # The rows stream into the table file; then the extra outputs and the JSON (write_result).
        with streamed_table(folder, processor.name, processor.provenance(recording)) as sink:
            result = processor.process(recording, sink=sink, progress=progress)
        write_result(result, folder, table_written=True,
                     extra_outputs=processor.write_extra_outputs if processor.extra_outputs else None)
        return OK, "", result.summary, result.rows, False
    except BitboxError as err:
        reason = str(err)
        logger.warning("%s: %s failed: %s", label, processor.name, reason)
    except Exception as err:  # an unexpected bug must not cost the other processors; keep its trace in the log
        reason = internal_error(err)
        logger.error("%s: %s failed with an internal error", label, processor.name, exc_info=True)
    for stale in (f"{processor.name}.json", f"{processor.name}.parquet", *processor.extra_outputs):
        (folder / stale).unlink(missing_ok=True)  # no stale result beside a failure
    return FAILED, reason, {}, {}, False


# ---------------------------------------------------------------------------- one recording
def processors_for(job: Job, processors: Sequence[Processor]) -> list[Processor]:
    """The run's processors that run on ``job``: all of them, except in a run of the default processors,
    where each runs on its own kinds only (:func:`bitbox.outcomes.runs_on`; a file of no known kind gets
    them all, each failing with the reason)."""
    kind = kind_of(job.path)
    return [p for p in processors if runs_on(p, kind)] or list(processors)


def run_job(job: Job, processors: Sequence[Processor], out_dir: str | Path, overwrite: bool = False,
            progress: ProgressCallback | None = None) -> ManifestRow:
    """Process one recording into ``out_dir/<recording_id>/``; never raises for a bad recording.

    Each processor succeeds or fails on its own (see :mod:`bitbox.outcomes`); the order of
    the processors never changes a result.

    Parameters
    ----------
    job : Job
        The recording.
    processors : sequence of Processor
        The run's processors (run in :func:`~bitbox.processor.run_order`).
    out_dir : str | Path
        The batch's output folder.
    overwrite : bool
        Recompute even when up-to-date outputs exist.
    progress : callable or None
        ``progress(done, total)``, called as each processor advances.

    Returns
    -------
    ManifestRow
        The recording's manifest columns, its ``summary`` (with every processor's status and
        error), ``rows`` (per-part summaries) and ``split`` (the processors that split it).
    """
    started = time.perf_counter()
    out_dir = Path(out_dir).absolute()
    processors = processors_for(job, processors)
    names = [p.name for p in processors]
    row = ManifestRow(job.recording_id, job.path, processors=",".join(names))
    folder = out_dir / job.recording_id
    outcomes: dict[str, tuple[str, str]] = {}
    reused: list[str] = []
    try:
        confined(out_dir, job.recording_id)  # e.g. OUT/<id> a link to another folder: nothing written there
        recording = Recording(job.path)
        row.sha256 = recording.sha256
    except BitboxError as err:  # the file itself cannot be read: every processor fails for that reason
        outcomes = {name: (FAILED, str(err)) for name in names}
        logger.warning("%s failed: %s", job.recording_id, err)
    except OSError as err:  # e.g. removed or unreadable after discovery, an I/O error on a network share
        reason = f"{job.path}: cannot be read ({err.strerror or err}). Check that the file is still there and readable"
        outcomes = {name: (FAILED, reason) for name in names}
        logger.warning("%s failed: %s", job.recording_id, reason)
    except Exception as err:  # a bug: recorded, and the batch goes on
        outcomes = {name: (FAILED, internal_error(err)) for name in names}
        logger.error("%s failed with an internal error", job.recording_id, exc_info=True)
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
            columns, renamed = summary_columns(processor.name, summary)
            row.summary.update(columns)
            row.originals.update(renamed)
            if rows:
                row.split.append(processor.name)
            for key, part in rows.items():
                columns, renamed = summary_columns(processor.name, part)
                row.rows.setdefault(key, {}).update(columns)
                row.originals.update(renamed)
    for name, (status, reason) in outcomes.items():
        row.summary[f"{name}.status"] = status
        row.summary[f"{name}.error"] = reason
    row.status, row.reason = recording_status(outcomes)
    row.reused = ",".join(reused)
    if row.status == FAILED and is_inside(out_dir, folder) and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()  # leave no empty folder behind for a recording that produced nothing
    row.seconds = round(time.perf_counter() - started, 3)
    row.finished_utc = utc_now()
    return row


# ---------------------------------------------------------------------------- a recording that did not finish
def is_inside(out_dir: str | Path, path: Path) -> bool:
    """Whether ``path`` resolves inside ``out_dir`` (symbolic links followed).

    Parameters
    ----------
    out_dir : str | Path
        The batch's output folder.
    path : Path
        A path in it (absolute, or relative to ``out_dir``).

    Returns
    -------
    bool
        True when it is inside (a link pointing out of ``out_dir`` is not).
    """
    try:
        confined(out_dir, path)
    except OutsideOutputError:
        return False
    return True


def remove_partial(folder: Path) -> None:
    """Delete temporary files a dead worker left in ``folder``, and the folder if nothing else is there.

    Parameters
    ----------
    folder : Path
        A recording's output folder (never followed when it is a link).
    """
    if folder.is_symlink() or not folder.is_dir():  # never delete through a link
        return
    for leftover in folder.glob(".*.tmp"):
        if is_atomic_leftover(leftover.name) and (leftover.is_symlink() or leftover.is_file()):
            leftover.unlink(missing_ok=True)
    if not any(folder.iterdir()):
        folder.rmdir()


def crashed_row(job: Job, processors: Sequence[Processor], exitcode: int | None, out_dir: Path) -> ManifestRow:
    """The row of a recording whose worker process died, its partial files removed.

    Parameters
    ----------
    job : Job
        The recording.
    processors : sequence of Processor
        The run's processors.
    exitcode : int or None
        The worker's exit code (negative: the signal that killed it).
    out_dir : Path
        The batch's output folder.

    Returns
    -------
    ManifestRow
        Every processor failed with the reason.
    """
    remove_partial(out_dir / job.recording_id)
    how = f"killed by signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"exit code {exitcode}"
    return ManifestRow.failed(job, [p.name for p in processors_for(job, processors)],
                              f"the worker process processing this recording died ({how}), e.g. a crash in native "
                              "code; the other recordings are not affected")


def timed_out_row(job: Job, processors: Sequence[Processor], out_dir: Path, timeout_s: float) -> ManifestRow:
    """The row of a recording stopped by the per-recording timeout, its partial files removed.

    Parameters
    ----------
    job : Job
        The recording.
    processors : sequence of Processor
        The run's processors.
    out_dir : Path
        The batch's output folder.
    timeout_s : float
        The timeout it ran past.

    Returns
    -------
    ManifestRow
        Every processor failed with the reason.
    """
    remove_partial(out_dir / job.recording_id)
    return ManifestRow.failed(job, [p.name for p in processors_for(job, processors)],
                              f"timed out after {timeout_s:g} s (the per-recording timeout); the worker was stopped. "
                              "Raise --timeout for long recordings")
