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

The package, from the bottom up (no module imports one above it):

- :mod:`~bitbox.batch.layout`: the names of OUT (:data:`SCRATCH_DIR`, :data:`CODEBOOK_FILE`,
  :data:`RESERVED_IDS`);
- :mod:`~bitbox.batch.jobs`: :class:`Job`, :class:`ManifestRow` and :func:`run_job` (one recording,
  resumable, never raising);
- :mod:`~bitbox.batch.discovery`: :func:`discover` (which files are recordings, their ids);
- :mod:`~bitbox.batch.worker`: one recording in a child interpreter (``python -m bitbox.batch.worker``);
- :mod:`~bitbox.batch.executors`: serial, an isolated process pool, Dask;
- :mod:`~bitbox.batch.tables`: summary.csv, manifest.csv and codebook.csv;
- :mod:`~bitbox.batch.run`: :func:`process_folder` and :class:`BatchResult`.
"""
from __future__ import annotations

from .discovery import discover
from .jobs import Job, ManifestRow, run_job
from .layout import CODEBOOK_FILE, LOCK_FILE, MANIFEST_FILE, RESERVED_IDS, SCRATCH_DIR, SUMMARY_FILE
from .run import BatchResult, process_folder

__all__ = ["process_folder", "discover", "BatchResult", "Job", "ManifestRow", "run_job", "SCRATCH_DIR",
           "CODEBOOK_FILE", "RESERVED_IDS", "LOCK_FILE", "MANIFEST_FILE", "SUMMARY_FILE"]
