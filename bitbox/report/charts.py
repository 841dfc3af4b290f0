"""Plotly figures of the report, as plain figure dicts (``{"data": [...], "layout": {...}}``) drawn by the
chart library the report writes once into its assets folder (:func:`write_chart_library`).

Long time series are reduced for display (:func:`reduce_series`: the minimum and the maximum of each run
of consecutive rows, so peaks and dips stay visible); no figure holds a raw landmark array.
"""
from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..fileio import write_text
from ..log import logger

#: Points drawn per line at most; a longer series is shown as the min and max of runs of rows.
MAX_POINTS = 4000
#: Shaded low-quality intervals per processor at most (closer ones are merged beyond that).
MAX_BANDS = 150
#: Events drawn per kind at most (the first ones in time; the caption says so).
MAX_EVENTS = 3000
#: The chart library's file in the report's assets folder.
CHART_LIBRARY = "plotly.min.js"

_LINE = "#1f5f9f"
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
            "#bcbd22")
_FONT = {"family": "system-ui, sans-serif", "size": 11}


def write_chart_library(assets: Path) -> Path:
    """Write Plotly's JavaScript (from the installed ``plotly`` package) into ``assets``, atomically, when it
    is missing or differs.

    Parameters
    ----------
    assets : Path
        The report's assets folder (created when missing); already checked to lie inside OUT.

    Returns
    -------
    Path
        The library's file.
    """
    from plotly.offline import get_plotlyjs

    script = get_plotlyjs()
    target = assets / CHART_LIBRARY
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    try:
        same = target.is_file() and hashlib.sha256(target.read_bytes()).digest() == digest
    except OSError:
        same = False
    if not same:
        write_text(target, script)
        logger.info("report: wrote %s", target)
    return target


def _round(values: np.ndarray, digits: int = 4) -> list:
    """Values for JSON: ``digits`` significant digits, NaN and infinities as ``None`` (gaps in a line)."""
    values = np.asarray(values, dtype=float)
    out: list = []
    for v in values.tolist():
        out.append(float(f"{v:.{digits}g}") if np.isfinite(v) else None)
    return out


def _times(values: np.ndarray) -> list:
    """Times for JSON: to the millisecond."""
    values = np.asarray(values, dtype=float)
    return [round(v, 3) if np.isfinite(v) else None for v in values.tolist()]


@dataclass
class Reduced:
    """A series as drawn: its points, and how many rows of the original each stands for."""

    t: np.ndarray
    y: np.ndarray
    n_rows: int
    per_bin: int = 1

    def describe(self) -> str:
        """``""`` when every row is drawn, else how the series was reduced."""
        if self.per_bin <= 1:
            return ""
        return (f"{self.n_rows} rows shown as the minimum and maximum of every {self.per_bin} consecutive rows "
                f"({len(self.t)} points)")


def reduce_series(t: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS) -> Reduced:
    """A series reduced to at most ``max_points`` points for display: the minimum and the maximum of each run
    of consecutive rows, in the order they occur (so a peak, a dip or a 0/1 switch stays visible).

    Parameters
    ----------
    t, y : numpy.ndarray
        Times and values (same length; NaN values are gaps).
    max_points : int
        The most points returned.

    Returns
    -------
    Reduced
        The points drawn.
    """
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(t)
    if n <= max_points:
        return Reduced(t, y, n)
    per_bin = int(np.ceil(n / (max_points // 2)))
    n_bins = int(np.ceil(n / per_bin))
    pad = n_bins * per_bin - n
    yy = np.concatenate([y, np.full(pad, np.nan)]).reshape(n_bins, per_bin)
    tt = np.concatenate([t, np.full(pad, np.nan)]).reshape(n_bins, per_bin)
    finite = np.isfinite(yy)
    empty = ~finite.any(axis=1)
    low = np.where(finite, yy, np.inf).argmin(axis=1)
    high = np.where(finite, yy, -np.inf).argmax(axis=1)
    first, second = np.minimum(low, high), np.maximum(low, high)  # in time order
    rows = np.arange(n_bins)
    t_out = np.column_stack([tt[rows, first], tt[rows, second]]).ravel()
    y_out = np.column_stack([yy[rows, first], yy[rows, second]]).ravel()
    y_out[np.repeat(empty, 2)] = np.nan  # a bin without a value stays a gap
    t_start = np.nanmin(tt, axis=1)
    t_out[np.repeat(empty, 2)] = np.repeat(t_start[empty], 2)
    return Reduced(t_out, y_out, n, per_bin)


def low_quality_bands(t: np.ndarray, quality: np.ndarray, low: float, max_bands: int = MAX_BANDS
                      ) -> list[tuple[float, float]]:
    """The intervals where quality is below ``low`` (``(start, end)`` in seconds; at most ``max_bands``, the
    closest merged).

    Parameters
    ----------
    t, quality : numpy.ndarray
        Times (increasing) and per-row quality in [0, 1] (NaN counts as low).
    low : float
        The threshold.
    max_bands : int
        The most intervals returned.

    Returns
    -------
    list of tuple of float
        The intervals, in time order; each reaches half a row beyond its low rows on either side.
    """
    t = np.asarray(t, dtype=float)
    bad = ~(np.asarray(quality, dtype=float) >= low)
    if not bad.any():
        return []
    step = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    edges = np.flatnonzero(np.diff(np.concatenate([[0], bad.astype(int), [0]])))
    bands = [(t[a] - step / 2, t[b - 1] + step / 2) for a, b in zip(edges[::2], edges[1::2])]
    if len(bands) > max_bands:  # merge across the smallest gaps
        gaps = np.array([bands[i + 1][0] - bands[i][1] for i in range(len(bands) - 1)])
        joined = set(np.argsort(gaps, kind="stable")[: len(bands) - max_bands].tolist())
        merged = [bands[0]]
        for i, (start, end) in enumerate(bands[1:]):
            merged[-1:] = [(merged[-1][0], end)] if i in joined else [merged[-1], (start, end)]
        bands = merged
    return [(max(float(a), float(t[0]) - step / 2), float(b)) for a, b in bands]


@dataclass
class Panel:
    """One row of a recording's timeline: a measure's lines, or the events of a processor."""

    title: str
    traces: list[dict[str, Any]]
    kind: str = "measure"  # or "events"
    lanes: list[str] = field(default_factory=list)
    bands: list[tuple[float, float]] = field(default_factory=list)
    log_y: bool = False


def measure_traces(processor: str, name: str, unit: str, description: str, frame: pd.DataFrame, key: str
                   ) -> tuple[list[dict[str, Any]], list[str]]:
    """The lines of one measure (one per part in a long table, e.g. per person) and how they were reduced.

    Parameters
    ----------
    processor, name, unit, description : str
        The measure (for the hover text).
    frame : pandas.DataFrame
        The time series (``time_s`` and the measure's column; ``key`` telling the parts apart, or ``""``).
    key : str
        The column of the parts (``""``: none).

    Returns
    -------
    traces : list of dict
        Plotly scatter traces.
    notes : list of str
        How each reduced line was reduced.
    """
    t = frame["time_s"].to_numpy(dtype=float)
    values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    parts = ([(f"{key} {part}", (frame[key] == part).to_numpy()) for part in pd.unique(frame[key].dropna())]
             if key else [("", np.ones(len(frame), dtype=bool))])
    label = f"{name} [{unit}]" if unit else name
    tip = html.escape(description) if description else ""
    traces, notes = [], []
    for i, (part, rows) in enumerate(parts):
        reduced = reduce_series(t[rows], values[rows])
        if reduced.describe():
            notes.append(f"{processor} {name}{f' ({part})' if part else ''}: {reduced.describe()}")
        sparse = len(reduced.t) < 200
        hover = (f"<b>{html.escape(label)}</b>{f' ({html.escape(part)})' if part else ''}<br>"
                 f"%{{y:.4g}} {html.escape(unit) if unit not in ('', '1') else ''} at %{{x:.2f}} s"
                 + (f"<br><i>{_wrap(tip)}</i>" if tip else "") + f"<extra>{html.escape(processor)}</extra>")
        traces.append({"type": "scatter", "mode": "lines+markers" if sparse else "lines",
                       "x": _times(reduced.t), "y": _round(reduced.y), "name": part or name,
                       "showlegend": len(parts) > 1, "legendgroup": part or name,
                       "line": {"width": 1.2, "color": _PALETTE[i % len(_PALETTE)] if key else _LINE},
                       "marker": {"size": 4}, "hovertemplate": hover})
    return traces, notes


def _wrap(text: str, width: int = 70) -> str:
    """Text broken into lines of about ``width`` characters (``<br>``) for a hover box."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "<br>".join([*lines, line] if line else lines)


def event_panel(processor: str, events: pd.DataFrame) -> tuple[Panel | None, list[str]]:
    """The events of one processor as a panel: one lane per kind (label), a bar per event with a duration
    and a marker at each onset, the text in the hover box.

    Parameters
    ----------
    processor : str
        The processor (the panel's title).
    events : pandas.DataFrame
        ``onset_s``, ``duration_s``, ``label``, ``text`` (see :meth:`Processor.report_events`).

    Returns
    -------
    panel : Panel | None
        ``None`` when there are no events.
    notes : list of str
        Kinds of which not every event is drawn.
    """
    if events is None or not len(events):
        return None, []
    events = events.copy()
    events["onset_s"] = pd.to_numeric(events["onset_s"], errors="coerce")
    events["duration_s"] = pd.to_numeric(events.get("duration_s", 0.0), errors="coerce").fillna(0.0).clip(lower=0)
    events["label"] = events.get("label", pd.Series("event", index=events.index)).fillna("event").astype(str)
    events["text"] = events.get("text", pd.Series("", index=events.index)).fillna("").astype(str)
    events = events[np.isfinite(events["onset_s"])]
    lanes = list(dict.fromkeys(events["label"]))
    traces, notes = [], []
    for i, lane in enumerate(lanes):
        rows = events[events["label"] == lane].sort_values("onset_s", kind="stable")
        if len(rows) > MAX_EVENTS:
            notes.append(f"{processor} {lane}: the first {MAX_EVENTS} of {len(rows)} events drawn")
            rows = rows.iloc[:MAX_EVENTS]
        kinds = pd.unique(rows["text"])
        # a few kinds of text repeating (e.g. who speaks: "S1", "S2"): a colour each; else one for the lane
        groups = ([(k, (rows["text"] == k).to_numpy()) for k in kinds] if 1 < len(kinds) <= 8 and len(kinds) < len(rows)
                  else [(lane, np.ones(len(rows), dtype=bool))])
        for j, (_, keep) in enumerate(groups):
            traces += _event_traces(lane, rows[keep], _PALETTE[(i + j) % len(_PALETTE)])
    return Panel(f"{processor} events", traces, kind="events", lanes=lanes), notes


def _event_traces(lane: str, rows: pd.DataFrame, color: str) -> list[dict[str, Any]]:
    """A lane's events: a bar over each one's duration, a tick at each onset (visible at any zoom)."""
    texts = [_event_text(lane, r.onset_s, r.duration_s, r.text) for r in rows.itertuples()]
    long = rows["duration_s"].to_numpy() > 0
    traces = []
    if long.any():
        traces.append({"type": "bar", "orientation": "h", "base": _times(rows["onset_s"][long]),
                       "x": _times(rows["duration_s"][long]), "y": [lane] * int(long.sum()),
                       "marker": {"color": color, "opacity": 0.55, "line": {"width": 0}},
                       "width": 0.6, "name": lane, "showlegend": False,
                       "hovertext": [t for t, keep in zip(texts, long) if keep], "hoverinfo": "text"})
    traces.append({"type": "scatter", "mode": "markers", "x": _times(rows["onset_s"]), "y": [lane] * len(rows),
                   "marker": {"symbol": "line-ns-open", "size": 12, "color": color, "line": {"width": 1.5}},
                   "name": lane, "showlegend": False, "hovertext": texts, "hoverinfo": "text"})
    return traces


def _event_text(label: str, onset: float, duration: float, text: str) -> str:
    when = f"{onset:.2f} s" + (f" – {onset + duration:.2f} s ({duration:.2f} s)" if duration > 0 else "")
    body = _wrap(html.escape(text[:400] + ("…" if len(text) > 400 else ""))) if text else ""
    return f"<b>{html.escape(label)}</b> {when}" + (f"<br>{body}" if body else "")


def timeline_figure(panels: Sequence[Panel], duration: float) -> dict[str, Any]:
    """One figure of stacked panels sharing one time axis (zooming one zooms all), from 0 to ``duration``.

    Parameters
    ----------
    panels : sequence of Panel
        Top to bottom.
    duration : float
        The recording's length in seconds (the axis' end).

    Returns
    -------
    dict
        The Plotly figure.
    """
    heights = [max(50, 26 * len(p.lanes) + 16) if p.kind == "events" else 110 for p in panels]
    gap = 30
    total = sum(heights) + gap * (len(panels) - 1)
    layout: dict[str, Any] = {
        "height": total + 90, "margin": {"l": 90, "r": 20, "t": 40, "b": 50}, "font": _FONT,
        "hovermode": "closest", "plot_bgcolor": "#fff", "showlegend": any(
            t.get("showlegend") for p in panels for t in p.traces),
        "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0, "yanchor": "bottom", "font": {"size": 10}},
        "xaxis": {"range": [0, round(float(duration), 3)], "title": {"text": "time [s]"}, "showgrid": True,
                  "gridcolor": "#eee", "zeroline": False, "anchor": f"y{len(panels) if len(panels) > 1 else ''}",
                  "showspikes": True, "spikemode": "across", "spikethickness": 1, "spikecolor": "#999"},
        "shapes": [], "annotations": [], "barmode": "overlay", "bargap": 0.3,
    }
    data: list[dict[str, Any]] = []
    legend: set = set()  # each part once in the legend
    top = total
    for i, (panel, height) in enumerate(zip(panels, heights), start=1):
        name = f"y{i if i > 1 else ''}"
        axis = f"yaxis{i if i > 1 else ''}"
        domain = [max(0.0, (top - height) / total), top / total]
        top -= height + gap
        spec: dict[str, Any] = {"domain": [round(d, 4) for d in domain], "anchor": "x", "gridcolor": "#eee",
                                "zeroline": False, "automargin": True, "tickfont": {"size": 10}}
        layout["annotations"].append({"text": f"<b>{html.escape(panel.title)}</b>", "showarrow": False,
                                      "xref": "paper", "yref": "paper", "x": 0, "y": round(domain[1], 4),
                                      "xanchor": "left", "yanchor": "bottom", "font": {"size": 11}})
        if panel.kind == "events":
            spec.update({"type": "category", "categoryorder": "array", "categoryarray": panel.lanes[::-1],
                         "showgrid": False, "fixedrange": True, "range": [-0.6, len(panel.lanes) - 0.4]})
        elif panel.log_y:
            spec["type"] = "log"
        layout[axis] = spec
        for trace in panel.traces:
            shown = trace.get("showlegend", False) and trace.get("legendgroup") not in legend
            legend.add(trace.get("legendgroup"))
            data.append({**trace, "showlegend": bool(shown), "xaxis": "x", "yaxis": name})
        for start, end in panel.bands:
            layout["shapes"].append({"type": "rect", "xref": "x", "yref": f"{name} domain", "x0": round(start, 3),
                                     "x1": round(end, 3), "y0": 0, "y1": 1, "fillcolor": "#d62728",
                                     "opacity": 0.15, "line": {"width": 0}, "layer": "below"})
    return {"data": data, "layout": layout}


def curve_figure(curve, figure_title: str = "") -> dict[str, Any]:
    """A :class:`~bitbox.measurements.Curve` (e.g. a power spectrum, an ERP) as a figure: one line per name.

    Parameters
    ----------
    curve : Curve
        The curve (``x``, ``y``, labels and units, ``log_y``).
    figure_title : str
        The title (default: the curve's).

    Returns
    -------
    dict
        The Plotly figure.
    """
    x_label, x_unit = str(getattr(curve, "x_label", "")), str(getattr(curve, "x_unit", ""))
    y_label, y_unit = str(getattr(curve, "y_label", "")), str(getattr(curve, "y_unit", ""))
    x_text = f"{x_label} [{x_unit}]" if x_unit else x_label
    y_text = f"{y_label} [{y_unit}]" if y_unit else y_label
    data = []
    for i, (name, values) in enumerate(dict(getattr(curve, "y", {})).items()):
        data.append({"type": "scatter", "mode": "lines", "x": _round(np.asarray(curve.x, dtype=float), 6),
                     "y": _round(values), "name": str(name), "line": {"width": 1.6, "color": _PALETTE[i % 10]},
                     "hovertemplate": (f"<b>{html.escape(str(name))}</b><br>{html.escape(x_label)} %{{x:.4g}} "
                                       f"{html.escape(x_unit)}<br>{html.escape(y_label)} %{{y:.4g}} "
                                       f"{html.escape(y_unit)}<extra></extra>")})
    layout = {"height": 340, "margin": {"l": 70, "r": 20, "t": 40, "b": 50}, "font": _FONT,
              "title": {"text": html.escape(figure_title or str(getattr(curve, "title", ""))), "font": {"size": 13}},
              "xaxis": {"title": {"text": html.escape(x_text)}, "gridcolor": "#eee", "zeroline": False},
              "yaxis": {"title": {"text": html.escape(y_text)}, "gridcolor": "#eee",
                        "type": "log" if getattr(curve, "log_y", False) else "linear"},
              "hovermode": "x unified" if len(data) > 1 else "closest", "plot_bgcolor": "#fff",
              "showlegend": len(data) > 1}
    return {"data": data, "layout": layout}


@dataclass
class CohortMeasure:
    """One summary measure over the cohort: a value per row of summary.csv, with the row's recording."""

    name: str
    unit: str
    description: str
    values: np.ndarray
    labels: list[str]
    links: list[str]


def cohort_figure(processor: str, measures: Sequence[CohortMeasure], columns: int = 5) -> dict[str, Any]:
    """One box plot with every recording as a labelled dot (hover: the recording and its value; a click
    opens its page) per summary measure, in a grid.

    Parameters
    ----------
    processor : str
        Whose measures they are.
    measures : sequence of CohortMeasure
        The measures.
    columns : int
        Plots per row.

    Returns
    -------
    dict
        The Plotly figure.
    """
    n_rows = int(np.ceil(len(measures) / columns))
    cell_h, gap_h = 150, 48
    total = n_rows * cell_h + (n_rows - 1) * gap_h
    layout: dict[str, Any] = {"height": total + 60, "margin": {"l": 40, "r": 10, "t": 50, "b": 10}, "font": _FONT,
                              "showlegend": False, "hovermode": "closest", "plot_bgcolor": "#fff",
                              "annotations": []}
    data = []
    width_gap = 0.06
    cell_w = (1 - width_gap * (columns - 1)) / columns
    for i, measure in enumerate(measures, start=1):
        row, col = divmod(i - 1, columns)
        top = 1 - row * (cell_h + gap_h) / total
        y_domain = [round(max(0.0, top - cell_h / total), 4), round(top, 4)]
        x_domain = [round(col * (cell_w + width_gap), 4), round(col * (cell_w + width_gap) + cell_w, 4)]
        suffix = "" if i == 1 else str(i)
        layout[f"xaxis{suffix}"] = {"domain": x_domain, "anchor": f"y{suffix}", "showticklabels": False,
                                    "fixedrange": True, "zeroline": False}
        layout[f"yaxis{suffix}"] = {"domain": y_domain, "anchor": f"x{suffix}", "gridcolor": "#eee",
                                    "zeroline": False, "tickfont": {"size": 9}}
        title = f"{measure.name} [{measure.unit}]" if measure.unit not in ("", "1") else measure.name
        layout["annotations"].append({"text": f"<b>{html.escape(_short(title, 40))}</b>", "showarrow": False,
                                      "xref": "paper", "yref": "paper", "x": sum(x_domain) / 2, "y": y_domain[1],
                                      "xanchor": "center", "yanchor": "bottom", "font": {"size": 10},
                                      "hovertext": _wrap(html.escape(measure.description)) or None})
        unit = "" if measure.unit in ("", "1") else f" {html.escape(measure.unit)}"
        hover = (f"<b>%{{text}}</b><br>{html.escape(measure.name)} = %{{y:.4g}}{unit}"
                 + (f"<br><i>{_wrap(html.escape(measure.description))}</i>" if measure.description else "")
                 + "<br>(click: the recording's page)<extra></extra>")
        data.append({"type": "box", "y": _round(measure.values), "x": [measure.name] * len(measure.values),
                     "text": measure.labels, "customdata": measure.links, "name": measure.name,
                     "boxpoints": "all", "jitter": 0.5, "pointpos": 0, "fillcolor": "rgba(76,114,176,0.08)",
                     "line": {"color": "#8aa0c8", "width": 1}, "marker": {"color": "#4c72b0", "size": 7,
                                                                           "opacity": 0.85},
                     "hovertemplate": hover, "hoveron": "points", "xaxis": f"x{suffix}", "yaxis": f"y{suffix}"})
    return {"data": data, "layout": layout}


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
