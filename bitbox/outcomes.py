"""Per-processor outcomes and the batch's two tables, merged over every run into one OUT.

Each processor succeeds or fails on its own. A recording's row keeps every processor that
worked, with ``<processor>.status`` (``ok``, ``failed`` or ``not_applicable``: its stream is
absent, e.g. no sound track) and ``<processor>.error``; the row's ``status`` is

- ``ok``: no processor failed (and at least one worked),
- ``partial``: some failed and some worked,
- ``failed``: none worked.

``summary.csv`` and ``manifest.csv`` describe every recording ever processed into OUT: a
run's rows replace the same recordings' columns of the processors it ran and keep the
columns of the others, so running ``-p face`` and then ``-p speech`` into one OUT gives
rows with both, and running a second folder adds its recordings to the first's.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from .fileio import atomic_path

__all__ = ["OK", "FAILED", "NOT_APPLICABLE", "PARTIAL", "not_applicable_reason", "internal_error", "recording_status",
           "merge_row", "read_tables",
           "write_tables", "SUMMARY_FILE", "MANIFEST_FILE", "MANIFEST_COLUMNS", "FIXED_SUMMARY_COLUMNS"]

OK, FAILED, NOT_APPLICABLE, PARTIAL = "ok", "failed", "not_applicable", "partial"

SUMMARY_FILE = "summary.csv"
MANIFEST_FILE = "manifest.csv"
MANIFEST_COLUMNS = ["recording_id", "path", "status", "reason", "sha256", "seconds", "processors", "reused",
                    "finished_utc"]
FIXED_SUMMARY_COLUMNS = ["recording_id", "path", "status", "error"]
_STATUS, _ERROR = ".status", ".error"


def _text(value: Any) -> str:
    """A table cell as text ('' for a missing value)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


#: The attribute of a processor instance that a batch run with the default processors sets: the kinds
#: it runs on as their default (:func:`run_as_default_for`).
_DEFAULT_KINDS = "_bitbox_default_for"


def run_as_default_for(processor, kinds) -> None:
    """Make ``processor`` run only on recordings of ``kinds``, those it is the default processor of, in a
    batch run without named processors (e.g. ``speech`` on the audio files of a folder, not on the sound
    of its videos, which ``face`` measures). Not a parameter: not in the provenance. On the other
    recordings it is not run at all (:func:`runs_on`): no outcome, so a result an earlier run of it
    stored for such a recording stays in the tables."""
    setattr(processor, _DEFAULT_KINDS, tuple(kinds))


def runs_on(processor, kind: str | None) -> bool:
    """Whether a batch runs ``processor`` on a recording of ``kind``: always, unless the run made it the
    default of other kinds only (:func:`run_as_default_for`)."""
    default_for = getattr(processor, _DEFAULT_KINDS, None)
    return default_for is None or kind in default_for


def not_applicable_reason(processor, recording) -> str | None:
    """Why ``processor`` does not apply to ``recording`` (a kind it does not read, or its own
    ``skip_reason``: e.g. no sound track), or ``None`` when it applies."""
    if recording.kind not in processor.input_kinds:
        return f"reads {', '.join(processor.input_kinds)} recordings, not {recording.kind}"
    return processor.skip_reason(recording)


def internal_error(err: BaseException) -> str:
    """The reason recorded for an unexpected exception (a bug in Bitbox or a plugin)."""
    return f"internal error ({type(err).__name__}: {err}); please report it with the log"


def recording_status(outcomes: Mapping[str, tuple[str, str]]) -> tuple[str, str]:
    """The row's status and error from ``{processor: (status, reason)}``.

    The error names each processor that failed with its reason (``""`` for an ``ok`` row:
    processors that did not apply say why in their own ``<processor>.error``); when nothing
    worked and nothing failed, it names the processors that did not apply. When none worked
    for one reason (a single processor, or a file that cannot be opened) the reason is given
    alone.
    """
    statuses = [status for status, _ in outcomes.values()]
    n_ok, n_failed = statuses.count(OK), statuses.count(FAILED)
    status = PARTIAL if n_ok and n_failed else OK if n_ok else FAILED
    # The error is about failures; processors that did not apply are named only when nothing worked.
    shown = (FAILED,) if n_failed or n_ok else (FAILED, NOT_APPLICABLE)
    problems = {name: reason for name, (st, reason) in outcomes.items() if st in shown and reason}
    if status == FAILED and len(set(problems.values())) == 1:
        return status, next(iter(problems.values()))
    return status, "; ".join(f"{name}: {reason}" for name, reason in problems.items())


def _outcomes_of(row: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    return {key[: -len(_STATUS)]: (_text(value), _text(row.get(key[: -len(_STATUS)] + _ERROR)))
            for key, value in row.items() if key.endswith(_STATUS) and _text(value)}


def merge_row(old: Mapping[str, Any] | None, new: Mapping[str, Any], processors: Iterable[str]) -> dict[str, Any]:
    """``new`` over ``old``: the columns of ``processors`` come from ``new``, the others stay.

    The row's status and error are recomputed from every processor's outcome in the merged
    row (rows without per-processor outcomes, e.g. a folder without recordings, keep theirs).
    """
    names = list(processors)
    kept = {} if old is None else {k: v for k, v in old.items() if not any(k.startswith(f"{n}.") for n in names)}
    merged = {**kept, **new}
    outcomes = _outcomes_of(merged)
    if outcomes:
        merged["status"], merged["error"] = recording_status(outcomes)
    return merged


def read_tables(out_dir: Path) -> tuple[dict[str, dict], dict[str, dict], list[str], list[str]]:
    """The manifest and summary rows already in ``out_dir`` (by recording id), their order and the
    summary's column order ({}, {}, [], [] when there are none)."""
    manifest_rows: dict[str, dict] = {}
    summary_rows: dict[str, dict] = {}
    order: list[str] = []
    columns: list[str] = []
    manifest_path, summary_path = out_dir / MANIFEST_FILE, out_dir / SUMMARY_FILE
    if manifest_path.is_file():
        manifest = pd.read_csv(manifest_path, dtype=str, keep_default_na=False)
        for row in manifest.to_dict("records"):
            manifest_rows[row["recording_id"]] = row
            order.append(row["recording_id"])
    if summary_path.is_file():
        summary = pd.read_csv(summary_path, dtype={c: str for c in FIXED_SUMMARY_COLUMNS})
        text = [c for c in summary.columns if c.endswith((_STATUS, _ERROR, ".notes"))]
        summary[text] = summary[text].astype("object").fillna("")
        columns = [c for c in summary.columns if c not in FIXED_SUMMARY_COLUMNS]
        for row in summary.to_dict("records"):
            rid = row["recording_id"]
            summary_rows[rid] = {k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))}
            if rid not in manifest_rows and rid not in order:  # a recording with several parts has several rows
                order.append(rid)
    for rid, row in manifest_rows.items():  # tables of an older Bitbox: outcomes from the row's status
        entry = summary_rows.setdefault(rid, {"recording_id": rid, "path": row.get("path", "")})
        if not _outcomes_of(entry):
            worked = row.get("status") in (OK, "skipped")
            for name in filter(None, row.get("processors", "").split(",")):
                entry[name + _STATUS] = OK if worked else FAILED
                entry[name + _ERROR] = "" if worked else row.get("reason", "")
            entry["status"] = row["status"] = OK if worked else FAILED
    return manifest_rows, summary_rows, order, columns


def write_tables(out_dir: Path, manifest_rows: Mapping[str, dict], summary_rows: Mapping[str, dict],
                 order: list[str], columns: list[str]) -> None:
    """Write ``manifest.csv`` and ``summary.csv`` atomically, in ``order``.

    ``columns`` are the summary's columns after the fixed four, in order; every other key
    of the rows follows them (pattern measures, processors of earlier runs).
    """
    done = [rid for rid in order if rid in manifest_rows or rid in summary_rows]
    summary = [summary_rows.get(rid, {"recording_id": rid}) for rid in done]
    extra = list(dict.fromkeys(k for r in summary for k in r if k not in FIXED_SUMMARY_COLUMNS))
    measure_columns = list(dict.fromkeys([*columns, *extra]))
    per_processor = [c for c in measure_columns if c.endswith((_STATUS, _ERROR))]
    manifest_columns = [*MANIFEST_COLUMNS, *per_processor]
    manifest = pd.DataFrame([{c: {**summary_rows.get(rid, {}), **manifest_rows.get(rid, {})}.get(c, "")
                              for c in manifest_columns} for rid in done], columns=manifest_columns)
    table = pd.DataFrame([{c: r.get(c) for c in [*FIXED_SUMMARY_COLUMNS, *measure_columns]} for r in summary],
                         columns=[*FIXED_SUMMARY_COLUMNS, *measure_columns])
    for name, frame in ((MANIFEST_FILE, manifest), (SUMMARY_FILE, table)):
        with atomic_path(out_dir / name) as tmp:
            frame.to_csv(tmp, index=False)
