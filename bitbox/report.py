"""HTML reports of a batch's results, with plots people can look at.

``bitbox report OUT`` (or :func:`write_report`) writes ``OUT/report/index.html``, the cohort
page (counts, failures with their reasons, a quality-control table with detection rates and
links, and the distribution of every summary measure over the recordings) and ``OUT/report/<recording_id>.html`` per
processed recording: its summary values with units, the main measures over time (frames of
low quality shaded, with the reasons counted), and its provenance. Figures are PNGs embedded
in the pages, so a report is a folder of self-contained files. Frames of the recordings that
processors draw their results on (:meth:`Processor.report_frames <bitbox.Processor.report_frames>`,
e.g. faces with their landmarks) appear only with ``show_faces=True`` (``--show-faces``):
recordings of patients are health data. Writing a
report holds OUT's lock (:func:`bitbox.fileio.out_lock`), as a batch does: a ``bitbox run``
starting meanwhile stops (or waits) instead of removing the report's temporary files.
"""
from __future__ import annotations

import base64
import html
import io
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .errors import BitboxError
from .fileio import confined, display_path, out_lock, write_text
from .log import logger, verbose
from .measurements import Measurements, ProcessorResult, default_plot_measures
from .processor import split_notes
from .recording import Recording

__all__ = ["write_report", "png_data", "html_page", "REPORT_DIR", "INDEX_PAGE"]

#: The report's folder in OUT, and its cohort page in that folder.
REPORT_DIR = "report"
INDEX_PAGE = "index.html"

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.8em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.failed { color: #b00020; } .ok { color: #1b7f3b; } .partial { color: #a15c00; } .not_applicable { color: #555; }
img { max-width: 100%; } .frames img { width: 24%; margin: 0.2%; }
details { margin: 1em 0; } code { font-size: 0.9em; }
td.rid { overflow-wrap: anywhere; width: 16em; }
.wide { overflow-x: auto; } td.reason { font-size: 0.85em; color: #444; overflow-wrap: anywhere; padding-bottom: 0.6em; }
td.reason ul { margin: 0.2em 0; padding-left: 1.2em; } tr.rec td { border-bottom: none; padding-top: 0.5em; }
.notes { background: #fff6e0; border-left: 4px solid #e0a000; padding: 0.4em 1em; margin: 0.8em 0; }
.notes li { margin: 0.2em 0; }
"""


def html_page(title: str, body: str, *, css: str = "") -> str:
    """A self-contained HTML page in Bitbox's report style (``css`` adds rules).

    Parameters
    ----------
    title : str
        The page's ``<title>`` (plain text: it is HTML-escaped here).
    body : str
        The content of ``<body>``, as HTML (inserted as it is: escape any text in it).
    css : str, default ""
        Style rules added after Bitbox's own (so they can override them).

    Returns
    -------
    str
        The whole page (UTF-8 declared, no external resources), ending with a newline.
    """
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}{css}</style></head><body>\n{body}\n</body></html>\n")


def png_data(fig, dpi: int = 90) -> str:
    """A matplotlib figure as base64 PNG data for an ``<img src='data:image/png;base64,...'>`` (closes it).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure; it is saved cropped to its content (``bbox_inches="tight"``) and then closed
        (``plt.close``), so it cannot be drawn again.
    dpi : int, default 90
        Resolution of the PNG, in dots per inch.

    Returns
    -------
    str
        The PNG's bytes, base64-encoded as ASCII text (without the ``data:`` prefix).
    """
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _img(data: str, alt: str, css: str = "plot") -> str:
    return f"<img class='{css}' alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>"


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _processor_figure(result: ProcessorResult):
    """The figure the processor draws of a result itself (:meth:`Processor.plot_result`), or ``None``."""
    from .registry import get_processor_class

    try:
        cls = get_processor_class(result.processor)
    except BitboxError:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    return cls.plot_result(result)


def _timeseries_figure(result: ProcessorResult, title: str):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    frame = result.timeseries
    key = result.row_key if result.row_key in frame.columns else ""
    names = [n for n in default_plot_measures(result.processor, frame.drop(columns=[key]) if key else frame)]
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 1.5 * len(names) + 0.8), sharex=True, squeeze=False)
    t = frame["time_s"].to_numpy()
    low = None
    qc = _quality(result.processor)
    if qc is not None and qc.quality in frame.columns and not key:
        low = frame[qc.quality].to_numpy(dtype=float) < qc.low
    # Long format (one row per time and part, e.g. per person): one line per part, not a zigzag between them.
    lines = ([(f"{key} {part}", (frame[key] == part).to_numpy()) for part in pd.unique(frame[key].dropna())]
             if key else [("", np.ones(len(frame), dtype=bool))])
    for axis, name in zip(axes[:, 0], names):
        for label, rows in lines:
            axis.plot(t[rows], frame[name].to_numpy(dtype=float, na_value=np.nan)[rows], lw=0.9,
                      label=label or None, **({} if key else {"color": "#1f5f9f"}))
        if key and axis is axes[0, 0]:
            axis.legend(fontsize=7, loc="upper right", ncol=min(len(lines), 6))
        if low is not None and low.any():
            bottom, top = axis.get_ylim()
            axis.fill_between(t, bottom, top, where=low, color="#d62728", alpha=0.15, lw=0, step="mid")
            axis.set_ylim(bottom, top)
        unit = result.units.get(name, "")
        axis.set_ylabel(f"{name}\n[{unit}]" if unit else name, fontsize=8)
        axis.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("time [s]")
    caption = title + ("  (red: frames of low quality)" if low is not None and low.any() else "")
    fig.suptitle(caption, fontsize=10)
    fig.tight_layout()
    return fig


def _processor_class(name: str) -> type | None:
    """The installed class of processor ``name`` (``None`` when it is not installed any more, or broken)."""
    from .registry import get_processor_class

    try:
        return get_processor_class(name)
    except BitboxError:
        return None


def _quality(name: str):
    """The processor's :class:`~bitbox.processor.QualityColumns` (``None``: it declares none)."""
    cls = _processor_class(name)
    return getattr(cls, "qc", None) if cls is not None else None


def _rgb_png(rgb: np.ndarray) -> str:
    """An RGB image (H x W x 3, uint8) as base64 PNG data."""
    from matplotlib.image import imsave

    buffer = io.BytesIO()
    imsave(buffer, np.ascontiguousarray(rgb, dtype=np.uint8), format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _processor_frames(result: ProcessorResult, path: Path, n_frames: int = 4) -> list[str]:
    """A few frames of the recording with the result drawn on them, as the processor draws them
    (:meth:`Processor.report_frames <bitbox.Processor.report_frames>`; e.g. face landmarks), as PNG data."""
    cls = _processor_class(result.processor)
    if cls is None or not path.is_file():
        return []
    try:
        images = cls.report_frames(result, Recording(path), n_frames=n_frames)
    except BitboxError as err:  # the recording changed or went away since it was processed
        logger.warning("%s: no frames for the report (%s)", display_path(path), err)
        return []
    return [_rgb_png(rgb) for rgb in images]


def _notes_box(notes: list[str], title: str = "Notes") -> str:
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f"<div class='notes'><b>{html.escape(title)}</b><ul>{items}</ul></div>" if notes else ""


def _main_part(result: ProcessorResult) -> str:
    """``" (person 1)"``: which part the main summary is, for a result with parts; else ``""``."""
    part = next((p for p, row in result.rows.items() if row == result.summary), None)
    return f" ({result.row_key} {part})" if part is not None else ""


def _status_section(row: dict | None) -> str:
    """The recording's status and each processor's, with the reasons (from OUT/manifest.csv)."""
    if not row:
        return ""
    status = str(row.get("status", ""))
    names = [k[: -len(".status")] for k in row if k.endswith(".status") and row[k]]
    cells = "".join(f"<tr><td>{html.escape(n)}</td><td class='{html.escape(str(row[n + '.status']))}'>"
                    f"{html.escape(str(row[n + '.status']))}</td><td class='reason'>"
                    f"{html.escape(str(row.get(n + '.error', '')))}</td></tr>" for n in names)
    table = (f"<table><tr><th>processor</th><th>status</th><th>reason</th></tr>{cells}</table>" if cells else "")
    return f"<p>Status: <b class='{html.escape(status)}'>{html.escape(status)}</b></p>{table}"


def _recording_page(folder: Path, show_faces: bool, row: dict | None = None) -> str:
    m = Measurements.read(folder)
    parts = [f"<p><a href='index.html'>&larr; all recordings</a></p><h1>{html.escape(m.recording_id)}</h1>",
             f"<p>Input: <code>{html.escape(m.path)}</code></p>", _status_section(row)]
    ordered = [p for p in str((row or {}).get("processors") or "").split(",") if p in m.processors]
    for processor in [*ordered, *(p for p in m.processors if p not in ordered)]:  # in the order they were run
        result = m[processor]
        prov = result.provenance
        parts.append(f"<h2>{html.escape(processor)} <small>{html.escape(str(prov.get('processor_version', '')))}"
                     "</small></h2>")
        main = _main_part(result)
        parts.append(_notes_box(split_notes(result.summary.get("notes")),
                                f"Notes{main}" + ("; every part's notes are under Summary" if main else "")))
        frame = result.timeseries
        qc = _quality(processor)
        if qc is not None and qc.reason in frame.columns:
            counts = frame[qc.reason].value_counts()
            rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td class='num'>{v}</td>"
                           f"<td class='num'>{v / len(frame):.1%}</td></tr>" for k, v in counts.items())
            parts.append(f"<h3>Quality control</h3><table><tr><th>frame status</th><th>frames</th><th>share</th>"
                         f"</tr>{rows}</table>")
        own = _processor_figure(result) if len(frame) else None
        if own is not None:  # the processor's own picture (e.g. who spoke when), as Measurements.plot draws it
            parts.append("<h3>Overview</h3>" + _img(png_data(own), f"{processor}: overview"))
        elif len(frame) and default_plot_measures(processor, frame.drop(columns=["time_s"])):
            parts.append("<h3>Over time</h3>" + _img(png_data(_timeseries_figure(result, f"{m.recording_id}: "
                                                                                          f"{processor}")),
                                                     f"{processor} measures over time"))
        if show_faces:
            frames = _processor_frames(result, Path(prov.get("input_path", m.path)))
            if frames:
                parts.append(f"<h3>Frames ({html.escape(processor)})</h3><div class='frames'>"
                             + "".join(_img(f, f"a frame with the {processor} result drawn", "frame") for f in frames)
                             + "</div>")
        parts.append(_summary_table(result))
        prov_rows = "".join(f"<tr><td>{html.escape(k)}</td><td><code>{html.escape(str(v))}</code></td></tr>"
                            for k, v in prov.items())
        parts.append(f"<details><summary>Provenance</summary><table>{prov_rows}</table></details>")
    return html_page(f"Bitbox report: {m.recording_id}", "\n".join(parts))


def _summary_table(result: ProcessorResult) -> str:
    """The summary values with units; with parts (``result.rows``, e.g. one summary per person) a
    column per part beside the main summary, and each part's notes."""
    processor, parts = result.processor, result.rows
    if not parts:
        return _prefixed_summary_table(result)
    keys = list(dict.fromkeys([*result.summary, *(k for row in parts.values() for k in row)]))
    head = "".join(f"<th>{html.escape(f'{result.row_key} {part}')}</th>" for part in parts)
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td class='num'>{_fmt(result.summary.get(k))}</td>"
                   + "".join(f"<td class='num'>{_fmt(row.get(k))}</td>" for row in parts.values())
                   + f"<td>{html.escape(_unit(processor, k))}</td></tr>" for k in keys if k != "notes")
    value = f"main{_main_part(result)}" if parts else "value"
    table = (f"<h3>Summary</h3><div class='wide'><table><tr><th>measure</th><th>{value}</th>{head}<th>unit</th></tr>"
             f"{rows}</table></div>")
    noted = [(part, split_notes(row.get("notes"))) for part, row in parts.items()]
    return table + "".join(f"<p>{html.escape(f'{result.row_key} {part}')}:</p>{_notes_box(notes)}"
                           for part, notes in noted if notes)


def _part_columns(processor: str) -> tuple[re.Pattern | None, str]:
    """The processor's :attr:`~bitbox.processor.Processor.part_columns` as a ``<part>_<measure>`` regex, and
    its :attr:`~bitbox.processor.Processor.part_name`."""
    from .registry import get_processor_class

    try:
        cls = get_processor_class(processor)
    except BitboxError:
        return None, ""
    return (re.compile(rf"^({cls.part_columns})_(.+)$") if cls.part_columns else None), cls.part_name


def _prefixed_summary_table(result: ProcessorResult) -> str:
    """The summary values with units; measures the processor gives per part as ``<part>_<measure>`` columns
    (e.g. per speaker) in a second table, one column per part."""
    processor, summary = result.processor, result.summary
    pattern, part_name = _part_columns(processor)
    per_part: dict[str, dict[str, object]] = {}
    for key, value in summary.items():
        match = pattern.match(key) if pattern is not None else None
        if match:
            per_part.setdefault(match.group(2), {})[match.group(1)] = value
    per_part = {measure: values for measure, values in per_part.items()  # a measure of several parts
                if len(values) > 1}
    parted = {f"{part}_{measure}" for measure, values in per_part.items() for part in values}
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td class='num'>{_fmt(v)}</td>"
                   f"<td>{html.escape(_unit(processor, k))}</td></tr>"
                   for k, v in summary.items() if k != "notes" and k not in parted)
    table = (f"<h3>Summary</h3><div class='wide'><table><tr><th>measure</th><th>value</th><th>unit</th></tr>"
             f"{rows}</table></div>")
    if not per_part:
        return table
    order = {p: i for i, p in enumerate(dict.fromkeys(p for values in per_part.values() for p in values))}
    parts = sorted(order, key=lambda p: (not re.search(r"\d", p), int(re.sub(r"\D", "", p) or 0), order[p]))
    head = "".join(f"<th>{html.escape(p)}</th>" for p in parts)
    body = "".join(f"<tr><td>{html.escape(measure)}</td>"
                   + "".join(f"<td class='num'>{_fmt(values.get(p))}</td>" for p in parts)
                   + f"<td>{html.escape(_unit(processor, f'{next(iter(values))}_{measure}'))}</td></tr>"
                   for measure, values in per_part.items())
    return table + (f"<h3>Per {html.escape(part_name or 'part')}</h3><div class='wide'><table><tr><th>measure</th>"
                    f"{head}<th>unit</th></tr>{body}</table></div>")


def _unit(processor: str, measure: str) -> str:
    from .inventory import catalog

    try:
        return catalog().get(measure, processor=processor, kind="summary").unit
    except BitboxError:
        return ""


def _summary_measures(summary: pd.DataFrame) -> dict[str, list[tuple[str, str]]]:
    """Numeric, catalogued (non-pattern) summary columns with data, grouped by processor."""
    from .inventory import catalog

    known = {(m.processor, m.name): m.unit for m in catalog() if m.kind == "summary" and not m.pattern}
    groups: dict[str, list[tuple[str, str]]] = {}
    for column in summary.columns:
        if "." not in column:
            continue
        processor, measure = column.split(".", 1)
        values = pd.to_numeric(summary[column], errors="coerce")
        if (processor, measure) in known and np.isfinite(values).any():
            groups.setdefault(processor, []).append((measure, known[(processor, measure)]))
    return groups


def _distributions_figure(summary: pd.DataFrame, processor: str, measures: list[tuple[str, str]]):
    """One small histogram per measure (recordings that were processed), median marked."""
    import matplotlib.pyplot as plt

    n_cols = 4
    n_rows = int(np.ceil(len(measures) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(12, 2.1 * n_rows), squeeze=False)
    for axis, (measure, unit) in zip(axes.ravel(), measures):
        values = pd.to_numeric(summary[f"{processor}.{measure}"], errors="coerce").to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        if len(values) >= 8 and np.ptp(values) > 0:
            axis.hist(values, bins=min(20, max(5, len(values) // 2)), color="#4c72b0", alpha=0.85)
        else:  # a few recordings: one dot each (spread vertically so equal values stay visible)
            spread = np.random.default_rng(0).uniform(0.2, 0.8, len(values))
            axis.scatter(values, spread, s=18, color="#4c72b0", alpha=0.8)
            axis.set_ylim(0, 1)
            if np.ptp(values) == 0:
                axis.set_xlim(values[0] - (abs(values[0]) * 0.1 or 1), values[0] + (abs(values[0]) * 0.1 or 1))
        axis.axvline(float(np.median(values)), color="#dd8452", lw=1.5)
        axis.set_title(f"{measure} [{unit}]" if unit else measure, fontsize=8)
        axis.tick_params(labelsize=7)
        axis.set_yticks([])
    for axis in axes.ravel()[len(measures):]:
        axis.axis("off")
    fig.tight_layout()
    return fig


def _cell(summary: pd.DataFrame, rid: str, column: str) -> str:
    """A recording's value of ``column``: ``–`` when absent; the values of its parts joined by `` / ``
    (in summary.csv's order) when it has several rows."""
    if rid not in summary.index:
        return "–"
    values = summary.loc[[rid], column].tolist()
    return " / ".join(_fmt(v) for v in values)


def _is_detection_column(column: str) -> bool:
    """Whether a summary column (``processor.measure``) is a detection rate its processor declares
    (:attr:`QualityColumns.detected_fraction <bitbox.processor.QualityColumns.detected_fraction>`)."""
    name, _, measure = column.partition(".")
    qc = _quality(name) if measure else None
    return qc is not None and measure in qc.detected_fraction


def _index_page(out_dir: Path, pages: dict[str, str]) -> str:
    """The cohort page: counts, a QC table with failures and detection rates, distributions, links."""
    manifest_path = out_dir / "manifest.csv"
    if manifest_path.is_file():
        manifest = pd.read_csv(manifest_path, keep_default_na=False, dtype={"recording_id": str, "reason": str})
    else:
        manifest = pd.DataFrame({"recording_id": sorted(pages), "path": "", "status": "ok", "reason": ""})
    summary_path = out_dir / "summary.csv"
    summary = (pd.read_csv(summary_path, dtype={"recording_id": str}) if summary_path.is_file()
               else pd.DataFrame({"recording_id": []}))
    summary = summary.set_index("recording_id") if "recording_id" in summary.columns else summary
    split = not summary.index.is_unique  # one row per recording and part (e.g. person)
    qc_columns = [c for c in summary.columns if _is_detection_column(c)]
    status_columns = [c for c in manifest.columns if c.endswith(".status")]
    note_columns = [c for c in summary.columns if c.endswith(".notes")]
    header = "".join(f"<th>{html.escape(c)}</th>" for c in [*status_columns, *qc_columns])
    rows = []
    for _, row in manifest.iterrows():
        rid = str(row["recording_id"])
        name = f"<a href='{html.escape(pages[rid])}'>{html.escape(rid)}</a>" if rid in pages else html.escape(rid)
        status = str(row.get("status", ""))
        per = "".join(f"<td class='{html.escape(str(row[c]))}'>{html.escape(str(row[c]))}</td>" for c in status_columns)
        qc = per + "".join(f"<td class='num'>{_cell(summary, rid, c)}</td>" for c in qc_columns)
        notes = list(dict.fromkeys(f"{c[: -len('.notes')]}: {n}" for c in note_columns if rid in summary.index
                                   for text in summary.loc[[rid], c] for n in split_notes(text)))
        reason = html.escape(str(row.get("reason", "")))
        noted = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
        path = html.escape(str(row.get("path", "")), quote=True)
        rows.append(f"<tr class='rec'><td class='rid' title='{path}'>{name}</td>"
                    f"<td class='{html.escape(status)}'>{html.escape(status)}</td>"
                    f"{qc}<td class='num'>{_fmt(row.get('seconds', ''))}</td></tr>")
        if reason or noted:  # reasons and notes under the row, across the table: long text stays readable
            rows.append(f"<tr><td></td><td class='reason' colspan='{len(status_columns) + len(qc_columns) + 2}'>"
                        f"{reason}{f'<ul>{noted}</ul>' if noted else ''}</td></tr>")
    counts = manifest["status"].value_counts().to_dict() if len(manifest) else {}
    head = ", ".join(f"{v} {k}" for k, v in counts.items())
    failed = manifest[manifest["status"].isin(["failed", "partial"])] if len(manifest) else manifest
    parts = [f"<h1>Bitbox report</h1><p>{len(manifest)} recordings ({head}) in <code>{html.escape(str(out_dir))}"
             "</code></p>"]
    if len(failed):
        items = "".join(f"<li><b>{html.escape(str(r['recording_id']))}</b>: {html.escape(str(r['reason']))}</li>"
                        for _, r in failed.iterrows())
        parts.append(f"<h2 class='failed'>Failures ({len(failed)})</h2><ul>{items}</ul>")
    parts.append("<h2>Quality control</h2><p>Each processor's status; the reasons of failures and every note "
                 "(what was found and what to do: see the Quality control page of the docs).</p><div class='wide'>"
                 "<table><tr><th>recording</th><th>status</th>"
                 f"{header}<th>seconds</th></tr>{''.join(rows)}</table></div>")
    processed = summary[summary["status"].isin(["ok", "partial"])] if "status" in summary.columns else summary
    groups = _summary_measures(processed) if len(processed) else {}
    if groups:
        over = "recordings and parts (one row of summary.csv each)" if split else "recordings"
        parts.append(f"<h2>Distributions of the summary measures</h2><p>Over the processed {over}: a "
                     "histogram (or one dot per row when there are few), the median in orange. Units in "
                     "brackets; definitions in the measure catalog.</p>")
        for processor, measures in groups.items():
            parts.append(f"<h3>{html.escape(processor)}</h3>"
                         + _img(png_data(_distributions_figure(processed, processor, measures)),
                                f"{processor} summary measures over recordings"))
    return html_page("Bitbox report", "".join(parts))


def _page_names(ids: Sequence[str]) -> dict[str, str]:
    """``<recording_id>.html`` per id; one that would be the cohort page's name (an OUT written by
    an older Bitbox may hold a recording ``index``) or another's (ignoring case) gets a suffix."""
    taken = {INDEX_PAGE.casefold()}
    names: dict[str, str] = {}
    for rid in ids:
        name, n = f"{rid}.html", 1
        while name.casefold() in taken:
            name, n = f"{rid}_rec{'' if n == 1 else n}.html", n + 1
        taken.add(name.casefold())
        names[rid] = name
    return names


@verbose
def write_report(out_dir: str | Path, *, show_faces: bool = False, recordings: Sequence[str] | None = None,
                 wait: bool = False, verbose: bool | str | int | None = None) -> Path:
    """Write HTML pages for the results in ``out_dir`` (a batch's output folder).

    Parameters
    ----------
    out_dir : path
        A folder written by ``bitbox run`` / :func:`bitbox.process_folder` (a relative one is
        relative to the working directory).
    show_faces : bool
        Include a few frames of each recording with the results drawn on them, where the processor
        draws them (:meth:`Processor.report_frames`; e.g. face landmarks). Off by default: privacy.
    recordings : list of str | None
        Only these recording ids (default: all with results).
    wait : bool
        When a run is writing to ``out_dir``: wait for it to finish (logged) instead of raising
        :class:`~bitbox.errors.ParameterError` at once.
    verbose : bool | str | int | None
        Log level for this call.

    Returns
    -------
    Path
        ``out_dir/report/index.html`` (absolute).

    Raises
    ------
    BitboxError
        When ``out_dir`` holds no results.
    ParameterError
        When another run is writing to ``out_dir`` (and ``wait`` is False); the message names it.
    """
    out_dir = Path(out_dir).absolute()
    if not out_dir.is_dir():
        raise BitboxError(f"{out_dir}: no such results folder. Run `bitbox run INPUT -o {out_dir}` first.")
    with out_lock(out_dir, wait=wait):  # no run cleans up (or rewrites the tables) meanwhile
        return _write_pages(out_dir, show_faces, recordings)


def _write_pages(out_dir: Path, show_faces: bool, recordings: Sequence[str] | None) -> Path:
    folders = sorted(p.parent for p in out_dir.glob("*/*.json")
                     if p.parent.name != REPORT_DIR and not p.parent.name.startswith("."))
    folders = list(dict.fromkeys(folders))
    if recordings is not None:
        folders = [f for f in folders if f.name in set(recordings)]
    if not folders and not (out_dir / "manifest.csv").is_file():
        raise BitboxError(f"{out_dir}: holds no Bitbox results (no <recording>/<processor>.json files).")
    report_dir = out_dir / REPORT_DIR
    manifest_path = out_dir / "manifest.csv"
    rows = ({str(r["recording_id"]): r for r in pd.read_csv(manifest_path, dtype=str, keep_default_na=False)
             .to_dict("records")} if manifest_path.is_file() else {})
    pages = _page_names([f.name for f in folders])
    for folder in folders:
        name = pages[folder.name]
        # display_path: a file name that is not UTF-8 (in the provenance) shows its bytes as \xNN
        write_text(confined(out_dir, report_dir / name),
                   display_path(_recording_page(folder, show_faces, rows.get(folder.name)), controls=False))
        logger.info("report: wrote %s", report_dir / name)
    index = confined(out_dir, report_dir / INDEX_PAGE)  # not through a link planted in OUT
    write_text(index, display_path(_index_page(out_dir, pages), controls=False))
    return index
