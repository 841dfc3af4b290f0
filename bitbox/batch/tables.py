"""The batch's tables in OUT: ``summary.csv``, ``manifest.csv`` and ``codebook.csv``.

:class:`Tables` holds the rows already in OUT merged with this run's (:mod:`bitbox.outcomes`), and
writes all three tables atomically in a fixed layout: rows sorted by recording id (then part id),
columns grouped by processor (status, error, the catalogued measures in catalog order, the rest).
A run whose processors split recordings into parts (a ``row_key``, e.g. ``person``) writes the
keyed form: ``summary.csv`` with that column after ``recording_id`` and one row per recording and
part, ``manifest.csv`` still one row per recording.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

from ..catalog import SAFE_COLUMN, summary_columns
from ..errors import BitboxError, ParameterError
from ..fileio import atomic_path, display_path
from ..log import logger
from ..measurements import part_order
from ..outcomes import (FIXED_SUMMARY_COLUMNS, MANIFEST_COLUMNS, MANIFEST_FILE, OK, SUMMARY_FILE, merge_row,
                        read_tables, write_tables)
from ..processor import Processor
from .discovery import path_tag
from .jobs import Job, ManifestRow
from .codebook import (catalogs_of, codebook_rows, declaring_processors, missing_reasons, stored_originals,
                       timeseries_columns, write_codebook)

__all__ = ["Tables", "row_key", "stored_row_key", "text_measures", "key_column"]


def _summary_columns(processors: Sequence[Processor]) -> list[str]:
    """Per processor: its status and error, then its catalogued summary measures."""
    columns: list[str] = []
    for p in processors:
        columns += [f"{p.name}.status", f"{p.name}.error"]
        columns += [f"{p.name}.{m.name}" for m in p.catalog_measures() if m.kind == "summary" and not m.pattern]
    return columns


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def text_measures(processors: Sequence[Processor]) -> set[str]:
    """Summary columns that hold text (e.g. ``eeg.bad_channels``), read back as text even when empty.

    Parameters
    ----------
    processors : sequence of Processor
        The run's processors.

    Returns
    -------
    set of str
        ``<processor>.<measure>`` of their catalogued text summary measures.
    """
    return {f"{p.name}.{m.name}" for p in processors for m in p.catalog_measures()
            if m.kind == "summary" and m.dtype == "str" and not m.pattern}


def _column_layout(keys: Iterable[str], first: Sequence[str], processors: Sequence[Processor] = ()) -> list[str]:
    """Summary columns grouped by processor (in the order they first appear in ``first``, then the
    others by name): status, error, the catalogued measures in catalog order (from ``processors``,
    this run's instances, else the installed processor), then the rest (pattern measures) by name."""
    from ..registry import get_processor_class

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


def row_key(processors: Sequence[Processor]) -> str:
    """The key the processors of one run split recordings by (``""``: none splits).

    Parameters
    ----------
    processors : sequence of Processor
        The run's processors.

    Returns
    -------
    str
        Their ``row_key``.

    Raises
    ------
    ParameterError
        When two processors declare different keys, or a key is not a plain column name.
    """
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


def stored_row_key(out_dir: Path) -> str:
    """The key column of ``OUT/summary.csv``.

    Parameters
    ----------
    out_dir : Path
        The batch's output folder.

    Returns
    -------
    str
        The column right after ``recording_id`` when it is not ``path``; ``""`` when there is none,
        or no readable summary.csv.
    """
    path = out_dir / SUMMARY_FILE
    if not path.is_file():
        return ""
    try:
        header = list(pd.read_csv(path, nrows=0).columns)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
        return ""
    return header[1] if len(header) > 1 and header[0] == "recording_id" and header[1] != "path" else ""


class Tables:
    """The summary.csv and manifest.csv of one OUT: the rows already there, merged with this run's.

    A recording that a processor splits into parts (:class:`~bitbox.processor.RowSummaries`:
    e.g. one summary per person) has one summary row per part, with the part's id in the key
    column (the processors' ``row_key``, right after ``recording_id``). Its recording-level row
    (``self.summary``) is merged as any other; ``self.parts`` holds the columns of the processors
    that split it, per part, and ``self.owners`` those processors. The rows are expanded when
    written, each repeating the recording-level columns.

    Parameters
    ----------
    out_dir : Path
        The batch's output folder (its tables, if any, are read).
    processors : sequence of Processor
        This run's processors.

    Raises
    ------
    ParameterError
        When OUT's summary.csv is split by another key than this run's processors.
    """

    def __init__(self, out_dir: Path, processors: Sequence[Processor]) -> None:
        self.out_dir = out_dir
        self.names = [p.name for p in processors]
        self.processors = list(processors)
        self.manifest, self.summary, self.order, old_columns = read_tables(out_dir)
        stored, key = stored_row_key(out_dir), row_key(processors)
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
        #: {column: "<processor>.<key>"}: the names processors gave the columns renamed into safe names
        self.originals: dict[str, str] = stored_originals(out_dir)
        old_columns = self._safe_stored_columns([c for c in old_columns if c != stored])
        self.columns = list(dict.fromkeys([*old_columns, *_summary_columns(processors)]))
        #: the ids OUT holds, by their case-folded form (ids that differ only in case share a folder on
        #: case-insensitive file systems: macOS, Windows, SMB shares, exFAT drives)
        self.folded = {rid.casefold(): rid for rid in [*self.summary, *self.manifest]}
        #: this run's outcome per recording: (status, whether every processor that worked was reused)
        self.this_run: dict[str, tuple[str, bool]] = {}
        self._schemas: dict = {}  # the time series files' columns, read once (timeseries_columns)

    def _safe_stored_columns(self, columns: list[str]) -> list[str]:
        """``columns`` of a summary.csv written before column names were made safe (``eeg.rel_power_delta_ch_EEG
        Fz``), renamed as :func:`~bitbox.catalog.summary_columns` names them now, in the stored rows too."""
        renamed: dict[str, str] = {}
        for column in columns:
            if "." in column and column not in FIXED_SUMMARY_COLUMNS and not SAFE_COLUMN.fullmatch(column):
                name, key = column.split(".", 1)
                renamed[column] = next(iter(summary_columns(name, {key: None})[0]))
        if not renamed:
            return columns
        logger.info("%s: %d columns of summary.csv renamed into safe column names (e.g. %r -> %r)", self.out_dir,
                    len(renamed), *next(iter(renamed.items())))
        for column, new in renamed.items():
            self.originals.setdefault(new, column)

        def rename(row: dict[str, Any]) -> dict[str, Any]:
            return {renamed.get(c, c): v for c, v in row.items()}

        self.summary = {rid: rename(row) for rid, row in self.summary.items()}
        self.parts = {rid: {part: rename(row) for part, row in parts.items()} for rid, parts in self.parts.items()}
        return list(dict.fromkeys(renamed.get(c, c) for c in columns))

    def _read_parts(self, key: str) -> None:
        """The parts of the recordings in a summary.csv with a key column.

        The processors that split a recording are those whose columns differ between its rows,
        and those that declare ``key`` as their row key; the others' columns are the recording's.
        """
        frame = pd.read_csv(self.out_dir / SUMMARY_FILE, dtype={c: str for c in (*FIXED_SUMMARY_COLUMNS, key)})
        text = [c for c in frame.columns if c.endswith((".status", ".error", ".notes"))]
        frame[text] = frame[text].astype("object").fillna("")
        frame[key] = frame[key].fillna("")
        names = {c.split(".", 1)[0] for c in frame.columns if "." in c}
        declared = set(declaring_processors(key, names, self.processors))
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
        """The job under an id that is its own in OUT.

        Parameters
        ----------
        job : Job
            A recording found by :func:`~bitbox.batch.discover`.

        Returns
        -------
        Job
            ``job``, or the same file under a new id when OUT holds that id for another file (a
            second folder run into the same OUT, with files of the same relative path).
        """
        stored_id = self.folded.get(job.recording_id.casefold(), job.recording_id)  # one folder, whatever the case
        stored = self.manifest.get(stored_id) or self.summary.get(stored_id)
        if (not stored or not stored.get("path") or str(stored["path"]) == display_path(job.path)
                or _same_file(str(stored["path"]), job.path)):
            return job
        rid = f"{job.recording_id}_{path_tag(Path(job.path))}"
        logger.info("%s: the id %r is taken in %s by %s; this recording is %r", job.path, job.recording_id,
                    self.out_dir, stored["path"], rid)
        return Job(rid, job.path)

    def add(self, row: ManifestRow) -> None:
        """Merge one recording's row of this run into the tables (in memory; :meth:`write` writes them).

        Parameters
        ----------
        row : ManifestRow
            The recording's row.
        """
        # Text as it can be written (a file name that is not UTF-8 shows its bytes as \xNN).
        row = row.map_text(display_path)
        rid = row.recording_id
        self.originals.update(row.originals)
        new = {"recording_id": rid, "path": row.path, "status": row.status, "error": row.reason, **row.summary}
        # the columns of the processors run on this recording are replaced; the others' stay (a run of the
        # default processors runs each on its own kind only)
        merged = merge_row(self.summary.get(rid), new, row.processors.split(",") if row.processors else self.names)
        self.summary[rid] = merged
        self._merge_parts(rid, {str(k): _shown(v) for k, v in row.rows.items()}, set(row.split))
        entry = row.manifest()
        entry["status"], entry["reason"] = merged["status"], merged.get("error", row.reason)
        entry["processors"] = ",".join(k[: -len(".status")] for k, v in merged.items()
                                       if k.endswith(".status") and isinstance(v, str) and v) or row.processors
        self.manifest[rid] = entry
        if rid not in self.order:
            self.order.append(rid)
        worked = {k[: -len(".status")] for k, v in row.summary.items() if k.endswith(".status") and v == OK}
        self.this_run[rid] = (row.status, bool(worked) and worked == set(filter(None, row.reused.split(","))))

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
        self._write_codebook(rows, layout)

    def _write_codebook(self, rows: list[dict[str, Any]], layout: list[str]) -> None:
        """codebook.csv and codebook.json: every column of summary.csv and of the time series written, and why
        each empty summary cell is empty."""
        names = list(dict.fromkeys(c.split(".", 1)[0] for c in layout if "." in c))
        series = timeseries_columns(self.out_dir, sorted(self.summary), names, self._schemas, fresh=self.this_run)
        entries = codebook_rows(layout, self.key, self.processors, timeseries=series, originals=self.originals)
        catalogs = catalogs_of(names, self.processors)
        missing = missing_reasons(rows, layout, self.key, catalogs, self.originals)
        write_codebook(self.out_dir, entries, missing, self.key)


def _write_keyed_tables(out_dir: Path, manifest_rows: dict[str, dict], summary_rows: dict[str, dict],
                        rows: list[dict[str, Any]], done: list[str], columns: list[str], key: str) -> None:
    """:func:`bitbox.outcomes.write_tables` for a summary with a key column: ``manifest.csv`` one row
    per recording of ``done``, ``summary.csv`` the ``rows`` (one per recording and part) with ``key``
    right after ``recording_id``; both atomically."""
    manifest_columns = [*MANIFEST_COLUMNS, *(c for c in columns if c.endswith((".status", ".error")))]
    manifest = pd.DataFrame([{c: {**summary_rows.get(rid, {}), **manifest_rows.get(rid, {})}.get(c, "")
                              for c in manifest_columns} for rid in done], columns=manifest_columns)
    head = [FIXED_SUMMARY_COLUMNS[0], key, *FIXED_SUMMARY_COLUMNS[1:]]
    table = pd.DataFrame([{c: r.get(c) for c in [*head, *columns]} for r in rows], columns=[*head, *columns])
    for name, frame in ((MANIFEST_FILE, manifest), (SUMMARY_FILE, table)):
        with atomic_path(out_dir / name) as tmp:
            frame.to_csv(tmp, index=False)


def key_column(values: pd.Series) -> pd.Series:
    """The key column of a summary read back.

    Parameters
    ----------
    values : Series
        The column as read.

    Returns
    -------
    Series or ExtensionArray
        Integers (nullable ``Int64``, missing on the rows of recordings that are not split) when
        every id is an integer, else text (``""`` for none).
    """
    text = values.fillna("").astype(str)
    filled = text[text != ""]
    if len(filled) and filled.str.fullmatch(r"-?\d+").all():
        return pd.array([int(v) if v != "" else pd.NA for v in text], dtype="Int64")
    return text
