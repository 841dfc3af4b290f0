"""The batch's codebook: what every column of ``summary.csv`` and of each time series holds.

``OUT/codebook.csv`` has one row per column (``table`` tells ``summary.csv`` from ``<processor>.parquet``),
keyed by ``column``, the exact header: the processor and catalog measure it comes from (a pattern
measure, e.g. per-channel band power, expanded to the columns the batch wrote), the name the
processor gave it when that was not a safe column name (``original``), unit, type, description,
valid range, value labels of codes, reference and evidence. ``OUT/codebook.json`` holds the same
rows (value labels as objects) and, for every empty (NaN) cell of ``summary.csv``, why it is empty:
the processor failed or did not apply (with its reason), a note of the processor names the measure,
or the recording has no such member of a measure family (a channel, condition or speaker it lacks).
"""
from __future__ import annotations

import fnmatch
import functools
import math
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from ..catalog import Measure, labels_text
from ..errors import BitboxError
from ..fileio import atomic_path, read_json, write_json
from ..log import logger
from ..outcomes import FIXED_SUMMARY_COLUMNS, OK
from ..processor import Processor, package_versions, split_notes
from .layout import CODEBOOK_FILE, CODEBOOK_JSON

__all__ = ["CODEBOOK_COLUMNS", "catalogs_of", "codebook_rows", "declaring_processors", "missing_reasons",
           "write_codebook", "stored_originals", "timeseries_columns"]

#: The fields of a codebook row, in codebook.csv's column order.
CODEBOOK_COLUMNS = ("column", "table", "processor", "measure", "original", "unit", "dtype", "description",
                    "valid_min", "valid_max", "value_labels", "reference", "evidence")

_SUMMARY = "summary.csv"

#: codebook.csv's text for the recording-level columns of summary.csv
_FIXED = {
    "recording_id": "The recording's id, unique within OUT: its path relative to the input folder, made a safe "
                    "folder name. Its results are in OUT/<recording_id>/.",
    "path": "The recording's path as given to the run.",
    "status": "The recording: ok (no processor failed), partial (some processors failed, some worked), failed "
              "(none worked).",
    "error": "Why processors failed, each named with its reason (empty when none failed).",
}
_RECORDING_STATUS = {"ok": "no processor failed", "partial": "some processors failed, some worked",
                     "failed": "no processor worked"}
_PROCESSOR_STATUS = {"ok": "it worked", "failed": "it failed (the error column says why)",
                     "not_applicable": "it does not apply to this recording (e.g. a stream it reads is absent)"}


def catalogs_of(names: Iterable[str], processors: Sequence[Processor]) -> dict[str, list[Measure]]:
    """The catalog measures of each processor named: this run's instances, then the installed ones.

    Parameters
    ----------
    names : iterable of str
        Processor names (e.g. of the columns of an earlier run's summary.csv).
    processors : sequence of Processor
        This run's processors.

    Returns
    -------
    dict
        ``{name: [Measure, ...]}`` (``[]`` for a processor that is no longer installed).
    """
    from ..registry import get_processor_class

    measures: dict[str, list[Measure]] = {p.name: list(p.catalog_measures()) for p in processors}
    for name in names:
        if name not in measures:
            try:
                measures[name] = list(get_processor_class(name).catalog_measures())
            except BitboxError:  # a processor of an earlier run that is no longer installed
                measures[name] = []
    return measures


def declaring_processors(key: str, names: Iterable[str], processors: Sequence[Processor]) -> dict[str, type]:
    """The processor classes among ``names`` (this run's instances first, then the installed ones) that
    split recordings by ``key``.

    Parameters
    ----------
    key : str
        summary.csv's key column (e.g. ``"person"``).
    names : iterable of str
        Processor names (e.g. of summary.csv's columns).
    processors : sequence of Processor
        This run's processors.

    Returns
    -------
    dict
        ``{name: processor class}``.
    """
    from ..registry import get_processor_class

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


def _row(column: str, table: str, processor: str = "", source: Measure | None = None, **fields: Any) -> dict:
    """One codebook row; the catalog measure ``source`` fills what ``fields`` do not give."""
    row: dict[str, Any] = {field: "" for field in CODEBOOK_COLUMNS}
    row.update(column=column, table=table, processor=processor, valid_min=None, valid_max=None)
    if source is not None:
        low, high = source.valid_range if source.valid_range is not None else (None, None)
        low = None if low is None or math.isinf(low) else low  # unbounded: empty in the CSV, null in the JSON
        high = None if high is None or math.isinf(high) else high
        row.update(measure=source.name, unit=source.unit, dtype=source.dtype, description=source.description,
                   valid_min=low, valid_max=high, value_labels=source.labels(), reference=source.reference,
                   evidence=source.evidence)
    row.update(fields)
    row["value_labels"] = row["value_labels"] or {}
    return row


def _summary_rows(columns: Sequence[str], key: str, key_text: tuple[str, str], catalogs: Mapping[str, list],
                  originals: Mapping[str, str]) -> list[dict]:
    rows = [_row(c, _SUMMARY, dtype="str", description=_FIXED[c],
                 value_labels=_RECORDING_STATUS if c == "status" else {}) for c in FIXED_SUMMARY_COLUMNS]
    if key:
        declaring, text = key_text
        rows.insert(1, _row(key, _SUMMARY, declaring, measure=key, dtype="int or str", description=(
            text or f"The id of the part of the recording ({key}) the row describes.")
            + " summary.csv has one row per recording and part; this is empty on the one row of a recording that "
            "is not split. The columns of processors that do not split the recording repeat its values on each of "
            "its rows."))
    for column in columns:
        name, measure_name = column.split(".", 1)
        if measure_name == "status":
            rows.append(_row(column, _SUMMARY, name, measure="status", dtype="str", value_labels=_PROCESSOR_STATUS,
                             description=f"The {name} processor on this recording: ok, failed, or not_applicable "
                                         "(e.g. a stream it reads is absent)."))
            continue
        if measure_name == "error":
            rows.append(_row(column, _SUMMARY, name, measure="error", dtype="str",
                             description=f"Why the {name} processor failed or did not apply (empty when it worked)."))
            continue
        original = originals.get(column, "")
        wanted = [measure_name] + ([original.split(".", 1)[1]] if original else [])
        measure = next((m for m in catalogs.get(name, []) if m.kind == "summary" and any(map(m.matches, wanted))),
                       None)
        if measure is None:
            rows.append(_row(column, _SUMMARY, name, original=original,
                             description=f"Not in the catalog of the installed {name!r} processor."))
        else:
            rows.append(_row(column, _SUMMARY, name, measure, original=original))
    return rows


def timeseries_columns(out_dir: Path, recording_ids: Iterable[str], names: Iterable[str],
                       cache: dict | None = None, fresh: Iterable[str] | None = None) -> dict[str, list[str]]:
    """The columns of the processors' time series in OUT, per processor, in first-seen order.

    Parameters
    ----------
    out_dir : Path
        The batch's output folder.
    recording_ids : iterable of str
        The recordings whose ``OUT/<id>/<processor>.parquet`` files are read (their schemas only).
    names : iterable of str
        The processors.
    cache : dict or None
        ``{path: ((mtime_ns, size), columns)}`` kept between calls, so each file is read once.
    fresh : iterable of str or None
        The recordings whose files may have changed since the last call (this run's); the others' files,
        once in ``cache``, are not looked at again (no ``stat`` per file and write on a network share).
        ``None``: all.

    Returns
    -------
    dict
        ``{processor: [column, ...]}`` (processors without any time series file left out).
    """
    import pyarrow.parquet as pq

    cache = {} if cache is None else cache
    fresh = None if fresh is None else set(fresh)
    found: dict[str, dict[str, None]] = {}
    names = list(names)
    for rid in recording_ids:
        for name in names:
            path = out_dir / rid / f"{name}.parquet"
            if fresh is not None and rid not in fresh and path in cache:
                if cache[path][1]:
                    found.setdefault(name, {}).update(dict.fromkeys(cache[path][1]))
                continue
            try:
                stat = path.stat()
            except OSError:  # no time series (not run, not applicable, failed): remembered too
                cache[path] = (None, [])
                continue
            stamp = (stat.st_mtime_ns, stat.st_size)
            entry = cache.get(path)
            if entry is None or entry[0] != stamp:
                try:
                    entry = cache[path] = (stamp, list(pq.read_schema(path).names))
                except Exception as err:  # a damaged file: its recording says so; the codebook goes on
                    logger.debug("codebook: cannot read the columns of %s: %s", path, err)
                    continue
            found.setdefault(name, {}).update(dict.fromkeys(entry[1]))
    return {name: list(columns) for name, columns in found.items()}


def _timeseries_rows(columns: Mapping[str, Sequence[str]], catalogs: Mapping[str, list]) -> list[dict]:
    rows = []
    for name, names in columns.items():
        table = f"{name}.parquet"
        for column in names:
            if column == "time_s":
                rows.append(_row(column, table, name, measure="time_s", unit="s", dtype="float",
                                 description="Time from the start of the recording."))
                continue
            measure = next((m for m in catalogs.get(name, []) if m.kind == "timeseries" and m.matches(column)), None)
            rows.append(_row(column, table, name, measure) if measure is not None else
                        _row(column, table, name, description=f"Not in the catalog of the installed {name!r} "
                                                              "processor."))
    return rows


def codebook_rows(columns: Sequence[str], key: str, processors: Sequence[Processor], *,
                  timeseries: Mapping[str, Sequence[str]] | None = None,
                  originals: Mapping[str, str] | None = None) -> list[dict]:
    """The codebook: one row per column of ``summary.csv``, then one per column of each time series.

    Parameters
    ----------
    columns : sequence of str
        The measure columns of summary.csv (``<processor>.<measure>``), after the fixed ones and the key.
    key : str
        summary.csv's key column (``""``: one row per recording).
    processors : sequence of Processor
        This run's processors (their catalogs; processors of earlier runs are looked up installed).
    timeseries : mapping or None
        ``{processor: [column, ...]}`` of the time series written (:func:`timeseries_columns`).
    originals : mapping or None
        ``{column: "<processor>.<key>"}``: the names processors gave renamed columns.

    Returns
    -------
    list of dict
        Rows with the fields :data:`CODEBOOK_COLUMNS` (``value_labels`` a dict).
    """
    timeseries = timeseries or {}
    names = list(dict.fromkeys([*(c.split(".", 1)[0] for c in columns if "." in c), *timeseries]))
    catalogs = catalogs_of(names, processors)
    key_text = ("", "")
    if key:
        declaring = declaring_processors(key, names, processors)
        key_text = (",".join(declaring),
                    next((cls.row_key_description for cls in declaring.values() if cls.row_key_description), ""))
    return [*_summary_rows(columns, key, key_text, catalogs, originals or {}),
            *_timeseries_rows(timeseries, catalogs)]


_NAN_NOTE = re.compile(r"^(?P<names>.+?) (?:is|are) NaN\b:?\s*(?P<why>.*)$", re.S)


@functools.lru_cache(maxsize=4096)
def _parsed_note(note: str) -> tuple[str, ...]:
    """The measure names (``*`` wildcards kept) a ``"<names> is/are NaN: <why>"`` note is about (``()``: not one)."""
    match = _NAN_NOTE.match(note)
    return tuple(n.strip() for n in re.split(r",\s*|\s+and\s+", match["names"])) if match else ()


@functools.lru_cache(maxsize=65536)
def _mention(names: tuple[str, ...]) -> re.Pattern:
    return re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(map(re.escape, names)) + r")(?![A-Za-z0-9_])")


def _note_reason(measure: str, original: str, notes: Sequence[str]) -> str:
    """The note that says why ``measure`` is NaN: one of the ``"<names> is/are NaN: <why>"`` notes naming it
    (``*`` in a name matches anything), else a note naming it anywhere; ``""`` when none does."""
    wanted = tuple(m for m in (measure, original) if m)
    for note in notes:
        if any(fnmatch.fnmatchcase(m, name) for name in _parsed_note(note) for m in wanted):
            return note
    pattern = _mention(wanted)
    return next((note for note in notes if pattern.search(note)), "")


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def missing_reasons(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], key: str,
                    catalogs: Mapping[str, list[Measure]], originals: Mapping[str, str]) -> list[dict]:
    """Why each empty cell of summary.csv's measure columns is empty, per row (text measures, e.g. notes, are
    empty when there is nothing to say: they need no reason).

    A processor that did not give values on a recording (failed, not applicable, not run) explains all its
    columns at once (``"<processor>.*"``); a measure of a processor that worked is explained by the note
    naming it (:func:`bitbox.processor.split_notes` of ``<processor>.notes``), by the recording lacking that
    member of a pattern family, or, when nothing says, that the processor gave no value and no reason.

    Parameters
    ----------
    rows : sequence of mapping
        summary.csv's rows (``{column: value}``; a missing or NaN value is an empty cell).
    columns : sequence of str
        The measure columns (``<processor>.<measure>``).
    key : str
        The key column (``""``: none).
    catalogs : mapping
        ``{processor: its catalog measures}``.
    originals : mapping
        ``{column: "<processor>.<key>"}`` of renamed columns.

    Returns
    -------
    list of dict
        ``{"recording_id": ..., key: part (when keyed), "reasons": [{"reason": text, "columns": [column or
        "<processor>.*", ...]}, ...]}`` for the rows with empty cells.
    """
    by_processor: dict[str, list[str]] = {}
    for column in columns:
        name, measure_name = column.split(".", 1)
        measure = next((m for m in catalogs.get(name, []) if m.kind == "summary" and m.matches(measure_name)), None)
        if measure_name not in ("status", "error") and not (measure is not None and measure.dtype == "str"):
            by_processor.setdefault(name, []).append(column)  # empty text (no notes, no bad channel) is text
    out = []
    for row in rows:
        reasons: dict[str, str] = {}
        for name, own in by_processor.items():
            empty = [c for c in own if _is_missing(row.get(c))]
            if not empty:
                continue
            status = row.get(f"{name}.status")
            if status != OK:
                error = row.get(f"{name}.error")
                reasons[f"{name}.*"] = (f"{name} {str(status).replace('_', ' ')}: {error}" if status and error
                                        else f"{name} {str(status).replace('_', ' ')}" if status
                                        else f"the {name} processor was not run on this recording")
                continue
            notes = split_notes(row.get(f"{name}.notes"))
            for column in empty:
                measure_name = column.split(".", 1)[1]
                original = originals.get(column, "").split(".", 1)[-1]
                why = _note_reason(measure_name, original, notes)
                if not why:
                    measure = next((m for m in catalogs.get(name, []) if m.kind == "summary"
                                    and (m.matches(measure_name) or (original and m.matches(original)))), None)
                    why = (measure.nan_reason if measure is not None and measure.nan_reason else
                           f"{name} gave no {measure_name} for this recording and no note about it: a member of "
                           f"the {measure.name!r} family (per channel, condition, speaker or person) that other "
                           "recordings have and this one does not" if measure is not None and measure.pattern else
                           f"{name} gave no value and no note for {measure_name} on this recording")
                reasons[column] = why
        if reasons:
            entry: dict[str, Any] = {"recording_id": row.get("recording_id", "")}
            if key:
                entry[key] = row.get(key, "")
            grouped: dict[str, list[str]] = {}
            for column, why in reasons.items():  # one entry per reason: notes often explain many columns
                grouped.setdefault(why, []).append(column)
            entry["reasons"] = [{"reason": why, "columns": columns} for why, columns in grouped.items()]
            out.append(entry)
    return out


def stored_originals(out_dir: Path) -> dict[str, str]:
    """The renamed columns' original names an earlier run recorded in ``OUT/codebook.json`` (``{}``: none).

    Parameters
    ----------
    out_dir : Path
        The batch's output folder.

    Returns
    -------
    dict
        ``{column: "<processor>.<key>"}``.
    """
    path = out_dir / CODEBOOK_JSON
    try:
        data = read_json(path)
    except (OSError, ValueError, BitboxError):
        return {}
    rows = data.get("columns", []) if isinstance(data, dict) else []
    return {r["column"]: r["original"] for r in rows if isinstance(r, dict) and r.get("original")
            and r.get("table") == _SUMMARY}


def _number(value: Any) -> str:
    """A bound as codebook.csv writes it: ``0``, ``0.5``, ``""`` for none."""
    if value is None or value == "":
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _version() -> str:
    """Bitbox's version as the outputs' provenance states it (read once per process: a batch run under a user
    who cannot read the environment's metadata still has it)."""
    return package_versions()["bitbox"]


def write_codebook(out_dir: Path, rows: list[dict], missing: list[dict], key: str) -> None:
    """``OUT/codebook.csv`` and ``OUT/codebook.json`` (atomically).

    Parameters
    ----------
    out_dir : Path
        The batch's output folder.
    rows : list of dict
        :func:`codebook_rows`.
    missing : list of dict
        :func:`missing_reasons`.
    key : str
        summary.csv's key column (``""``: none).
    """
    table = pd.DataFrame([{**r, "value_labels": labels_text(r["value_labels"]), "valid_min": _number(r["valid_min"]),
                           "valid_max": _number(r["valid_max"])} for r in rows], columns=list(CODEBOOK_COLUMNS))
    with atomic_path(out_dir / CODEBOOK_FILE) as tmp:
        table.to_csv(tmp, index=False)
    write_json(out_dir / CODEBOOK_JSON, {
        "bitbox_version": _version(), "summary": _SUMMARY, "key": key,
        "columns": [{**r, "value_labels": {str(k): v for k, v in r["value_labels"].items()}} for r in rows],
        "missing": missing})
