"""A recording's page: one interactive timeline of every processor's measures and events, its curves (e.g.
the EEG spectrum and ERPs), summary tables, notes, quality counts, provenance and, on request, frames."""
from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import BitboxError
from ..fileio import display_path
from ..log import logger
from ..measurements import Measurements, ProcessorResult, default_plot_measures
from ..recording import Recording
from . import charts
from .page import chart, chart_head, fmt, html_page, img, measure_info, measure_label, notes_box, png_data, \
    rgb_png, scripts, split


def processor_class(name: str) -> type | None:
    """The installed class of processor ``name`` (``None`` when it is not installed any more, or broken)."""
    from ..registry import get_processor_class

    try:
        return get_processor_class(name)
    except BitboxError:
        return None


def quality_columns(name: str):
    """The processor's :class:`~bitbox.processor.QualityColumns` (``None``: it declares none)."""
    cls = processor_class(name)
    return getattr(cls, "qc", None) if cls is not None else None


def _own_figure(result: ProcessorResult):
    """The figure the processor draws of a result itself (:meth:`Processor.plot_result`), or ``None``."""
    cls = processor_class(result.processor)
    if cls is None:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    return cls.plot_result(result)


def report_events(result: ProcessorResult) -> pd.DataFrame | None:
    """The processor's events on the recording's time axis (:meth:`Processor.report_events`), or ``None``
    when it has none, is not installed or cannot make them from this (older) result (logged)."""
    cls = processor_class(result.processor)
    method = getattr(cls, "report_events", None) if cls is not None else None
    if method is None or result.timeseries is None:
        return None
    try:
        events = method(result)
    except Exception as err:  # noqa: BLE001 - a plugin's (or an older result's) events never stop the report
        logger.warning("report: no events of %s (%s: %s)", result.processor, type(err).__name__, err)
        return None
    if not isinstance(events, pd.DataFrame) or "onset_s" not in events.columns:
        logger.warning("report: %s.report_events gave no frame with an onset_s column; its events are not shown",
                       result.processor)
        return None
    return events


def _end_time(result: ProcessorResult, events: pd.DataFrame | None) -> float:
    """Where a processor's data ends on the time axis (its last row or event, ``end_s`` included)."""
    ends = [0.0]
    frame = result.timeseries
    for column in ("time_s", "end_s"):
        if frame is not None and column in frame.columns and len(frame):
            values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
            if np.isfinite(values).any():
                ends.append(float(np.nanmax(values)))
    duration = pd.to_numeric(pd.Series([result.summary.get("duration_s")]), errors="coerce").iloc[0]
    if np.isfinite(duration):  # a processor that says how long the recording is
        ends.append(float(duration))
    if events is not None and len(events):
        end = (pd.to_numeric(events["onset_s"], errors="coerce")
               + pd.to_numeric(events.get("duration_s", 0.0), errors="coerce").fillna(0.0)).to_numpy(dtype=float)
        if np.isfinite(end).any():
            ends.append(float(np.nanmax(end)))
    return max(ends)


def _quality_bands(result: ProcessorResult) -> tuple[list[tuple[float, float]], float | None]:
    """The processor's low-quality intervals (rows whose quality is below its ``qc.low``; in a long table, times
    where no part's quality reaches it) and the threshold (``None``: the processor declares no quality)."""
    qc = quality_columns(result.processor)
    frame = result.timeseries
    if qc is None or not getattr(qc, "quality", "") or frame is None or qc.quality not in frame.columns:
        return [], None
    quality = pd.to_numeric(frame[qc.quality], errors="coerce")
    by_time = quality.groupby(frame["time_s"].to_numpy(dtype=float)).max()
    low = float(getattr(qc, "low", 0.5))
    return charts.low_quality_bands(by_time.index.to_numpy(dtype=float), by_time.to_numpy(dtype=float), low), low


def _timeline(m: Measurements, order: list[str], own: dict[str, Any]) -> tuple[str, list[str]]:
    """The recording's timeline (HTML: the chart and its caption), empty when there is nothing over time,
    and the processors drawn in it."""
    panels: list[charts.Panel] = []
    notes: list[str] = []
    shaded: list[str] = []
    drawn: list[str] = []
    end = 0.0
    for processor in order:
        result = m[processor]
        frame = result.timeseries
        if frame is None or not len(frame) or "time_s" not in frame.columns:
            continue
        events = report_events(result)
        end = max(end, _end_time(result, events))
        key = result.row_key if result.row_key and result.row_key in frame.columns else ""
        names = [] if own.get(processor) is not None else default_plot_measures(
            processor, frame.drop(columns=[key]) if key else frame)
        bands, low = _quality_bands(result)
        empty = [n for n in names if not np.isfinite(pd.to_numeric(frame[n], errors="coerce")
                                                     .to_numpy(dtype=float)).any()]
        if empty:
            notes.append(f"{processor} {', '.join(empty)}: no values, not drawn")
        for name in (n for n in names if n not in empty):
            unit, description = measure_info(processor, name, "timeseries")
            unit = result.units.get(name, unit) or unit
            traces, reduced = charts.measure_traces(processor, name, unit, description, frame, key)
            title = f"{processor} · {name}" + (f" [{unit}]" if unit not in ("", "1") else "")
            panels.append(charts.Panel(title, traces, bands=bands))
            notes.extend(reduced)
        if names and bands:
            shaded.append(f"{processor} quality below {low:g}")
        panel, skipped = charts.event_panel(processor, events) if events is not None else (None, [])
        if panel is not None:
            panels.append(panel)
            notes.extend(skipped)
        if names or panel is not None:
            drawn.append(processor)
    if not panels:
        return "", []
    figure = charts.timeline_figure(panels, end)
    caption = ["One time axis for every processor: drag to zoom (every panel follows), double-click to reset; "
               "hover a line for the measure's value, unit and description, an event for its details."]
    if shaded:
        caption.append("Red bands: " + "; ".join(shaded) + ".")
    if notes:  # the same reduction of several lines said once
        said: dict[str, list[str]] = {}
        for note in notes:
            what, _, how = note.partition(": ")
            said.setdefault(how, []).append(what)
        caption.append("; ".join(f"{', '.join(whats)}: {how}" for how, whats in said.items()) + ".")
    return chart(figure, "timeline", " ".join(html.escape(c) for c in caption)), drawn


def _status_section(row: dict | None) -> str:
    """The recording's status and each processor's, with the reasons (from OUT/manifest.csv)."""
    if not row:
        return ""
    status = str(row.get("status", ""))
    names = [k[: -len(".status")] for k in row if k.endswith(".status") and row[k]]
    cells = "".join(f"<tr><td>{html.escape(n)}</td><td class='{html.escape(str(row[n + '.status']))}'>"
                    f"{html.escape(str(row[n + '.status']))}</td><td class='reason'>"
                    f"{html.escape(str(row.get(n + '.error', '')))}</td></tr>" for n in names)
    table = (f"<table><thead><tr><th>processor</th><th>status</th><th>reason</th></tr></thead><tbody>{cells}"
             "</tbody></table>" if cells else "")
    return f"<p>Status: <b class='{html.escape(status)}'>{html.escape(status)}</b></p>{table}"


def _main_part(result: ProcessorResult) -> str:
    """``" (person 1)"``: which part the main summary is, for a result with parts; else ``""``."""
    part = next((p for p, row in result.rows.items() if row == result.summary), None)
    return f" ({result.row_key} {part})" if part is not None else ""


def _frames(result: ProcessorResult, path: Path, n_frames: int = 4) -> list[str]:
    """A few frames of the recording with the result drawn on them, as the processor draws them
    (:meth:`Processor.report_frames <bitbox.Processor.report_frames>`; e.g. face landmarks), as PNG data."""
    cls = processor_class(result.processor)
    if cls is None or not path.is_file():
        return []
    try:
        images = cls.report_frames(result, Recording(path), n_frames=n_frames)
    except BitboxError as err:  # the recording changed or went away since it was processed
        logger.warning("%s: no frames for the report (%s)", display_path(path), err)
        return []
    return [rgb_png(rgb) for rgb in images]


def _curves(result: ProcessorResult) -> str:
    """The result's curves (:attr:`ProcessorResult.curves`, e.g. a power spectrum and ERPs), one chart each."""
    curves = getattr(result, "curves", None) or {}
    parts = []
    for i, (name, curve) in enumerate(curves.items()):
        try:
            figure = charts.curve_figure(curve)
        except (TypeError, ValueError, AttributeError) as err:  # a curve of another shape (a plugin's, older)
            logger.warning("report: curve %r of %s not drawn (%s)", name, result.processor, err)
            continue
        parts.append(chart(figure, f"curve-{re.sub(r'[^A-Za-z0-9]', '-', result.processor)}-{i}"))
    return ("<h3>Curves</h3><p class='caption'>Hover a line for its values; click a legend entry to hide "
            "it, double-click to show it alone.</p>" + "".join(parts)) if parts else ""


def recording_page(folder: Path, show_faces: bool, row: dict | None, assets: str, index: str) -> str:
    """The page of the recording whose results are in ``folder``.

    Parameters
    ----------
    folder : Path
        ``OUT/<recording_id>``.
    show_faces : bool
        Draw frames of the recording (where the processors draw them).
    row : dict | None
        The recording's row of OUT/manifest.csv (statuses and reasons).
    assets : str
        The URL of the report's assets folder relative to the page.
    index : str
        The URL of the cohort page relative to the page.

    Returns
    -------
    str
        The page.
    """
    m = Measurements.read(folder)
    ordered = [p for p in str((row or {}).get("processors") or "").split(",") if p in m.processors]
    order = [*ordered, *(p for p in m.processors if p not in ordered)]  # in the order they were run
    own = {p: (_own_figure(m[p]) if m[p].timeseries is not None and len(m[p].timeseries) else None) for p in order}
    parts = [f"<p><a href='{html.escape(index, quote=True)}'>&larr; all recordings</a></p>"
             f"<h1>{html.escape(m.recording_id)}</h1>", f"<p>Input: <code>{html.escape(m.path)}</code></p>",
             _status_section(row)]
    timeline, drawn = _timeline(m, order, own)
    frames = []
    if show_faces:
        for processor in order:
            prov = m[processor].provenance
            frames += [(processor, f) for f in _frames(m[processor], Path(prov.get("input_path", m.path)))]
    side = ("<div class='frames'>" + "".join(
        f"<figure>{img(f, f'a frame with the {p} result drawn', 'frame')}<figcaption>{html.escape(p)}"
        "</figcaption></figure>" for p, f in frames) + "</div>") if frames else ""
    if timeline or side:
        parts.append("<h2>Over time</h2>" + (f"<p>{', '.join(html.escape(p) for p in drawn)}</p>" if drawn else "")
                     + f"<div class='side'><div class='main'>{timeline}</div>{side}</div>")
    for processor in order:
        parts.append(_processor_section(m[processor], own.get(processor)))
    return html_page(f"Bitbox report: {m.recording_id}", "\n".join(parts) + scripts(), head=chart_head(assets))


def _processor_section(result: ProcessorResult, own) -> str:
    """One processor's part of a recording's page: notes, QC counts, its own figure, curves, summary,
    provenance."""
    processor, prov = result.processor, result.provenance
    parts = [f"<h2 id='{html.escape(processor, quote=True)}'>{html.escape(processor)} <small>"
             f"{html.escape(str(prov.get('processor_version', '')))}</small></h2>"]
    main = _main_part(result)
    parts.append(notes_box(split(result.summary.get("notes")),
                           f"Notes{main}" + ("; every part's notes are under Summary" if main else "")))
    frame = result.timeseries
    qc = quality_columns(processor)
    reason = getattr(qc, "reason", "") if qc is not None else ""
    if reason and frame is not None and reason in frame.columns and len(frame):
        counts = frame[reason].value_counts()
        rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td class='num'>{v}</td>"
                       f"<td class='num'>{v / len(frame):.1%}</td></tr>" for k, v in counts.items())
        parts.append("<h3>Quality control</h3><table><thead><tr><th>frame status</th><th>frames</th><th>share</th>"
                     f"</tr></thead><tbody>{rows}</tbody></table>")
    if own is not None:  # the processor's own picture (e.g. who spoke when), as Measurements.plot draws it
        parts.append("<h3>Overview</h3>" + img(png_data(own), f"{processor}: overview"))
    parts.append(_curves(result))
    parts.append(summary_table(result))
    prov_rows = "".join(f"<tr><td>{html.escape(k)}</td><td><code>{html.escape(str(v))}</code></td></tr>"
                        for k, v in prov.items())
    parts.append(f"<details><summary>Provenance</summary><table>{prov_rows}</table></details>")
    return "".join(parts)


def summary_table(result: ProcessorResult) -> str:
    """The summary values with units (a measure's description in its name's tooltip); with parts
    (``result.rows``, e.g. one summary per person) a column per part beside the main summary, and each part's
    notes.

    Parameters
    ----------
    result : ProcessorResult
        The result.

    Returns
    -------
    str
        HTML.
    """
    processor, parts = result.processor, result.rows
    if not parts:
        return _prefixed_summary_table(result)
    keys = list(dict.fromkeys([*result.summary, *(k for row in parts.values() for k in row)]))
    head = "".join(f"<th>{html.escape(f'{result.row_key} {part}')}</th>" for part in parts)
    rows = "".join(f"<tr><td>{measure_label(processor, k)}</td><td class='num'>{fmt(result.summary.get(k))}</td>"
                   + "".join(f"<td class='num'>{fmt(row.get(k))}</td>" for row in parts.values())
                   + f"<td>{html.escape(_unit(processor, k))}</td></tr>" for k in keys if k != "notes")
    value = f"main{_main_part(result)}"
    table = (f"<h3>Summary</h3><div class='wide'><table class='sortable'><thead><tr><th>measure</th><th>{value}</th>"
             f"{head}<th>unit</th></tr></thead><tbody>{rows}</tbody></table></div>")
    noted = [(part, split(row.get("notes"))) for part, row in parts.items()]
    return table + "".join(f"<p>{html.escape(f'{result.row_key} {part}')}:</p>{notes_box(notes)}"
                           for part, notes in noted if notes)


def _part_columns(processor: str) -> tuple[re.Pattern | None, str]:
    """The processor's :attr:`~bitbox.processor.Processor.part_columns` as a ``<part>_<measure>`` regex, and
    its :attr:`~bitbox.processor.Processor.part_name`."""
    cls = processor_class(processor)
    if cls is None:
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
    plain, patterned = [], []
    for k, v in summary.items():
        if k != "notes" and k not in parted:
            (patterned if _is_pattern(processor, k) else plain).append(
                f"<tr><td>{measure_label(processor, k)}</td><td class='num' data-sort='{_sort_key(v)}'>{fmt(v)}"
                f"</td><td>{html.escape(_unit(processor, k))}</td></tr>")
    head_row = "<thead><tr><th>measure</th><th>value</th><th>unit</th></tr></thead>"
    table = (f"<h3>Summary</h3><div class='wide'><table class='sortable'>{head_row}<tbody>{''.join(plain)}</tbody>"
             "</table></div>")
    if patterned:  # per channel, per condition, per coefficient ...: many, folded
        table += (f"<details><summary>{len(patterned)} more values (per channel, condition, ...)</summary>"
                  f"<div class='wide'><table class='sortable'>{head_row}<tbody>{''.join(patterned)}</tbody></table>"
                  "</div></details>")
    if not per_part:
        return table
    order = {p: i for i, p in enumerate(dict.fromkeys(p for values in per_part.values() for p in values))}
    parts = sorted(order, key=lambda p: (not re.search(r"\d", p), int(re.sub(r"\D", "", p) or 0), order[p]))
    head = "".join(f"<th>{html.escape(p)}</th>" for p in parts)
    body = "".join(f"<tr><td>{measure_label(processor, f'{next(iter(values))}_{measure}', measure)}</td>"
                   + "".join(f"<td class='num'>{fmt(values.get(p))}</td>" for p in parts)
                   + f"<td>{html.escape(_unit(processor, f'{next(iter(values))}_{measure}'))}</td></tr>"
                   for measure, values in per_part.items())
    return table + (f"<h3>Per {html.escape(part_name or 'part')}</h3><div class='wide'><table class='sortable'>"
                    f"<thead><tr><th>measure</th>{head}<th>unit</th></tr></thead><tbody>{body}</tbody></table></div>")


def _sort_key(value) -> str:
    """A cell's ``data-sort``: the number in full, or the text."""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return repr(float(value)) if np.isfinite(value) else ""
    return html.escape(str(value), quote=True)


def _is_pattern(processor: str, measure: str) -> bool:
    """Whether the catalog describes the summary measure by a pattern (one of a family: per channel ...)."""
    from ..inventory import catalog

    try:
        return catalog().get(measure, processor=processor, kind="summary").pattern
    except BitboxError:
        return False


def _unit(processor: str, measure: str) -> str:
    return measure_info(processor, measure, "summary")[0]
