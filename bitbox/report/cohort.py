"""The cohort page (``OUT/report/index.html``): counts, failures with their reasons, a sortable quality-control
table with every modality's QC columns, and each summary measure over the recordings as labelled dots."""
from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pandas as pd

from . import charts
from .page import chart, chart_head, fmt, html_page, measure_info, scripts, split
from .recording import processor_class, quality_columns


def _qc_measures(name: str) -> tuple[str, ...]:
    """The summary measures a processor declares as its QC (``detected_fraction``, then ``measures``)."""
    qc = quality_columns(name)
    if qc is None:
        return ()
    return (*tuple(getattr(qc, "detected_fraction", ()) or ()), *tuple(getattr(qc, "measures", ()) or ()))


def qc_columns(summary: pd.DataFrame, processors: list[str]) -> list[str]:
    """The QC columns of summary.csv (``processor.measure``), processor by processor, in the declared order.

    Parameters
    ----------
    summary : pandas.DataFrame
        summary.csv.
    processors : list of str
        The processors, in the order of the manifest's columns (others found in summary.csv follow).

    Returns
    -------
    list of str
        Column names present in ``summary``.
    """
    found = [c.split(".", 1)[0] for c in summary.columns if "." in c]
    names = list(dict.fromkeys([*processors, *found]))
    return [f"{p}.{m}" for p in names for m in _qc_measures(p) if f"{p}.{m}" in summary.columns]


def _header(column: str) -> str:
    processor, _, measure = column.partition(".")
    unit, description = measure_info(processor, measure, "summary") if measure else ("", "")
    tip = " ".join(filter(None, [description, f"[{unit}]" if unit else ""]))
    text = re.sub(r"([._])", r"\1<wbr>", html.escape(column))  # long names wrap at their parts
    name = html.escape(column, quote=True)
    return (f"<th data-column='{name}'><abbr title='{html.escape(tip, quote=True)}'>{text}</abbr></th>" if tip
            else f"<th data-column='{name}'>{text}</th>")


def _status_cell(row: pd.Series, column: str) -> str:
    """A processor's status in the QC table (``n/a``: it does not read this kind of recording; why, on hover)."""
    status = str(row[column])
    reason = str(row.get(f"{column[: -len('.status')]}.error", "") or "")
    shown = "n/a" if status == "not_applicable" else status
    tip = f" title='{html.escape(f'{status}: {reason}' if reason else status, quote=True)}'"
    return f"<td class='{html.escape(status)}'{tip}>{html.escape(shown)}</td>"


def _cell(summary: pd.DataFrame, rid: str, column: str) -> str:
    """A recording's value of ``column`` as a cell: ``–`` when absent; the values of its parts joined by `` / ``
    (in summary.csv's order) when it has several rows (sorted by the first)."""
    if rid not in summary.index:
        return "<td class='num'>–</td>"
    values = summary.loc[[rid], column].tolist()
    return f"<td class='num'>{' / '.join(fmt(v) for v in values)}</td>"


def _row_labels(summary: pd.DataFrame) -> list[str]:
    """A label per row of summary.csv: the recording, and which part for a recording with several rows."""
    keys = [c for c in summary.columns if c in _row_keys(summary)]
    duplicated = summary.index.duplicated(keep=False)
    labels = []
    for i, rid in enumerate(summary.index):
        label = str(rid)
        if duplicated[i]:
            part = next((f"{k} {summary.iloc[i][k]}" for k in keys if pd.notna(summary.iloc[i][k])), f"row {i + 1}")
            label += f" ({part})"
        labels.append(label)
    return labels


def _row_keys(summary: pd.DataFrame) -> set[str]:
    names = {c.split(".", 1)[0] for c in summary.columns if "." in c}
    return {getattr(processor_class(n), "row_key", "") for n in names} - {""}


#: A family of summary columns (e.g. one ERP latency per condition) is drawn on the cohort page when it has at most
#: this many columns; larger ones (per-channel band powers) are on the recording pages.
FAMILY_LIMIT = 12


def summary_measures(summary: pd.DataFrame) -> dict[str, list[str]]:
    """Numeric, catalogued summary columns with data, grouped by processor: every plain measure, and the
    members of a measure family (per condition, speaker...) when the family has at most
    :data:`FAMILY_LIMIT` columns with data (per-channel families are left to the recording pages).

    Parameters
    ----------
    summary : pandas.DataFrame
        summary.csv's processed rows.

    Returns
    -------
    dict of str to list of str
        ``{processor: [measure, ...]}`` in summary.csv's order.
    """
    from ..inventory import catalog

    measures = [m for m in catalog() if m.kind == "summary" and m.dtype in ("float", "int", "bool")]
    known = {(m.processor, m.name) for m in measures if not m.pattern}
    families: dict[tuple[str, str], list[str]] = {}
    plain: list[tuple[str, str]] = []
    for column in summary.columns:
        if "." not in column:
            continue
        processor, measure = column.split(".", 1)
        if not np.isfinite(pd.to_numeric(summary[column], errors="coerce")).any():
            continue
        if (processor, measure) in known:
            plain.append((processor, measure))
            continue
        family = next((m.name for m in measures if m.pattern and m.processor == processor and m.matches(measure)),
                      None)
        if family is not None:
            families.setdefault((processor, family), []).append(measure)
            plain.append((processor, measure))
    shown = {(p, m) for (p, _), members in families.items() if len(members) <= FAMILY_LIMIT for m in members}
    groups: dict[str, list[str]] = {}
    for processor, measure in plain:
        if (processor, measure) in known or (processor, measure) in shown:
            groups.setdefault(processor, []).append(measure)
    return groups


def _distributions(processed: pd.DataFrame, pages: dict[str, str]) -> list[str]:
    """One chart per processor: every summary measure as a box with a labelled dot per row."""
    groups = summary_measures(processed) if len(processed) else {}
    labels = _row_labels(processed)
    links = [pages.get(str(rid), "") for rid in processed.index]
    parts = []
    for processor, measures in groups.items():
        items = []
        for measure in measures:
            unit, description = measure_info(processor, measure, "summary")
            values = pd.to_numeric(processed[f"{processor}.{measure}"], errors="coerce").to_numpy(dtype=float)
            keep = np.isfinite(values)
            items.append(charts.CohortMeasure(measure, unit, description, values[keep],
                                              [lab for lab, k in zip(labels, keep) if k],
                                              [lnk for lnk, k in zip(links, keep) if k]))
        figure_id = f"cohort-{re.sub(r'[^A-Za-z0-9]', '-', processor)}"
        parts.append(f"<h3 id='{figure_id}-h'>{html.escape(processor)}</h3>"
                     + chart(charts.cohort_figure(processor, items), figure_id))
    return parts


def index_page(out_dir: Path, pages: dict[str, str], assets: str) -> str:
    """The cohort page.

    Parameters
    ----------
    out_dir : Path
        OUT (its manifest.csv and summary.csv are read).
    pages : dict of str to str
        Each recording's page, relative to the cohort page.
    assets : str
        The URL of the report's assets folder relative to the cohort page.

    Returns
    -------
    str
        The page.
    """
    manifest_path = out_dir / "manifest.csv"
    if manifest_path.is_file():
        manifest = pd.read_csv(manifest_path, keep_default_na=False, dtype={"recording_id": str, "reason": str})
    else:
        manifest = pd.DataFrame({"recording_id": sorted(pages), "path": "", "status": "ok", "reason": ""})
    summary_path = out_dir / "summary.csv"
    summary = (pd.read_csv(summary_path, dtype={"recording_id": str}) if summary_path.is_file()
               else pd.DataFrame({"recording_id": []}))
    summary = summary.set_index("recording_id") if "recording_id" in summary.columns else summary
    split_rows = not summary.index.is_unique  # one row per recording and part (e.g. person)
    status_columns = [c for c in manifest.columns if c.endswith(".status")]
    quality = qc_columns(summary, [c[: -len(".status")] for c in status_columns])
    note_columns = [c for c in summary.columns if c.endswith(".notes")]
    header = "".join(f"<th>{html.escape(c[: -len('.status')])}</th>" for c in status_columns)
    header += "".join(_header(c) for c in quality)
    rows = []
    for _, row in manifest.iterrows():
        rid = str(row["recording_id"])
        name = (f"<a href='{html.escape(pages[rid], quote=True)}'>{html.escape(rid)}</a>" if rid in pages
                else html.escape(rid))
        status = str(row.get("status", ""))
        cells = "".join(_status_cell(row, c) for c in status_columns)
        cells += "".join(_cell(summary, rid, c) for c in quality)
        notes = list(dict.fromkeys(f"{c[: -len('.notes')]}: {n}" for c in note_columns if rid in summary.index
                                   for text in summary.loc[[rid], c] for n in split(text)))
        reason = html.escape(str(row.get("reason", "")))
        noted = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
        path = html.escape(str(row.get("path", "")), quote=True)
        width = 3 + len(status_columns) + len(quality)
        under = (f"<tr><td class='rid'></td><td class='reason' colspan='{width - 1}'><div>{reason}"
                 f"{f'<ul>{noted}</ul>' if noted else ''}</div></td></tr>") if reason or noted else ""
        rows.append(f"<tbody><tr class='rec'><td class='rid' title='{path}' "
                    f"data-sort='{html.escape(rid.lower(), quote=True)}'>{name}</td>"
                    f"<td class='{html.escape(status)}'>{html.escape(status)}</td>{cells}"
                    f"<td class='num'>{fmt(row.get('seconds', ''))}</td></tr>{under}</tbody>")
    counts = manifest["status"].value_counts().to_dict() if len(manifest) else {}
    head = ", ".join(f"{v} {k}" for k, v in counts.items())
    failed = manifest[manifest["status"].isin(["failed", "partial"])] if len(manifest) else manifest
    parts = [f"<h1>Bitbox report</h1><p>{len(manifest)} recordings ({head}) in <code>{html.escape(str(out_dir))}"
             "</code></p>"]
    if len(failed):
        items = "".join(f"<li><b>{html.escape(str(r['recording_id']))}</b> ({html.escape(str(r['status']))}): "
                        f"{html.escape(str(r['reason']))}</li>" for _, r in failed.iterrows())
        parts.append(f"<h2 class='failed'>Failures ({len(failed)})</h2><ul>{items}</ul>")
    parts.append("<h2>Quality control</h2><p>Each processor's status, its quality measures (hover a column's name "
                 "for what it measures), the processing time in seconds; under a recording, the reasons of failures "
                 "and every note (what was found and what to do: see the Quality control page of the docs). Click a column's "
                 "name to sort by it.</p><div class='wide'><table class='sortable' id='qc'><thead><tr>"
                 f"<th>recording</th><th>status</th>{header}<th>seconds</th></tr></thead>{''.join(rows)}</table></div>")
    processed = summary[summary["status"].isin(["ok", "partial"])] if "status" in summary.columns else summary
    figures = _distributions(processed, pages)
    if figures:
        over = "recordings and parts (one row of summary.csv each)" if split_rows else "recordings"
        parts.append(f"<h2>Distributions of the summary measures</h2><p>Over the processed {over}: a box (median "
                     "and quartiles) with one dot per row. Hover a dot for its recording and value, click it to "
                     "open the recording's page; hover a plot's title for the measure's description. Units in "
                     "brackets.</p>")
        parts.extend(figures)
    return html_page("Bitbox report", "".join(parts) + scripts(), head=chart_head(assets))
