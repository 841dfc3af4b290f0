"""The HTML side of the report: page frame, style, tables, figure embedding, the sorting script."""
from __future__ import annotations

import base64
import html
import io
import json
from typing import Any

import numpy as np

from ..errors import BitboxError
from ..processor import split_notes

__all__ = ["html_page", "png_data"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.8em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.failed { color: #b00020; } .ok { color: #1b7f3b; } .partial { color: #a15c00; } .not_applicable { color: #555; }
img { max-width: 100%; } .frames img { width: 100%; margin: 0 0 0.4em 0; }
details { margin: 1em 0; } code { font-size: 0.9em; }
td.rid { overflow-wrap: anywhere; min-width: 9em; max-width: 16em; }
.wide { overflow-x: auto; }
td.reason { font-size: 0.85em; color: #444; overflow-wrap: anywhere; padding-bottom: 0.6em; }
td.reason ul { margin: 0.2em 0; padding-left: 1.2em; } tr.rec td { border-bottom: none; padding-top: 0.5em; }
.notes { background: #fff6e0; border-left: 4px solid #e0a000; padding: 0.4em 1em; margin: 0.8em 0; }
.notes li { margin: 0.2em 0; }
.chart { width: 100%; margin: 0.5em 0 1em 0; }
.caption { font-size: 0.85em; color: #555; margin: 0.2em 0 0.8em 0; }
.side { display: flex; gap: 1em; align-items: flex-start; } .side > .main { flex: 1 1 auto; min-width: 0; }
.side > .frames { flex: 0 0 220px; } .frames figcaption { font-size: 0.8em; color: #555; }
th.sortable { cursor: pointer; user-select: none; white-space: nowrap; }
th.sortable::after { content: " \\2195"; color: #aaa; }
th.sorted-asc::after { content: " \\2191"; color: #222; } th.sorted-desc::after { content: " \\2193"; color: #222; }
abbr[title] { text-decoration: underline dotted #999; cursor: help; }
#qc th { white-space: normal; max-width: 8em; vertical-align: bottom; font-size: 0.9em; }
#qc td.rid, #qc th:first-child { position: sticky; left: 0; background: #fff; z-index: 1; }
td.reason > div { position: sticky; left: 10em; max-width: min(60em, 80vw); }
"""

#: Sorts a ``<table class='sortable'>`` by the column whose header is clicked (numbers as numbers, a cell's
#: ``data-sort`` first; ``-`` and empty cells last), ascending then descending. A table of several ``<tbody>``
#: (a row and the rows under it that belong to it, e.g. its reasons) is sorted by their first rows.
SORT_SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  var heads = table.tHead ? table.tHead.rows[0].cells : [];
  Array.prototype.forEach.call(heads, function (th, col) {
    th.classList.add('sortable');
    th.addEventListener('click', function () {
      var asc = !th.classList.contains('sorted-asc');
      Array.prototype.forEach.call(heads, function (h) { h.classList.remove('sorted-asc', 'sorted-desc'); });
      th.classList.add(asc ? 'sorted-asc' : 'sorted-desc');
      var groups = table.tBodies.length > 1, parent = groups ? table : table.tBodies[0];
      var items = Array.prototype.slice.call(groups ? table.tBodies : parent.rows);
      function key(item) {
        var row = groups ? item.rows[0] : item, cell = row && row.cells[col]; if (!cell) { return null; }
        var text = cell.hasAttribute('data-sort') ? cell.getAttribute('data-sort') : cell.textContent.trim();
        if (text === '' || text === '\\u2013') { return null; }
        var n = Number(text.split(' / ')[0]); return isNaN(n) ? text.toLowerCase() : n;
      }
      items.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null || y === null) { return x === y ? 0 : (x === null ? 1 : -1); }
        if (typeof x !== typeof y) { x = String(x); y = String(y); }
        return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
      });
      items.forEach(function (item) { parent.appendChild(item); });
    });
  });
});
"""

#: Draws every ``<div class='chart' data-figure='ID'>`` from the JSON in ``<script id='ID'>`` with Plotly; a
#: click on a point whose ``customdata`` is a page opens it (the cohort page's dots).
CHART_SCRIPT = """
document.querySelectorAll('div.chart[data-figure]').forEach(function (div) {
  if (typeof Plotly === 'undefined') {
    div.textContent = 'The chart library (assets/plotly.min.js) did not load: write the report again.';
    return;
  }
  var fig = JSON.parse(document.getElementById(div.getAttribute('data-figure')).textContent);
  Plotly.newPlot(div, fig.data, fig.layout, {responsive: true, displaylogo: false, scrollZoom: false});
  div.on('plotly_click', function (event) {
    var point = event.points && event.points[0];
    if (point && typeof point.customdata === 'string' && /\\.html$/.test(point.customdata)) {
      window.location.href = point.customdata;
    }
  });
});
"""


def html_page(title: str, body: str, *, css: str = "", head: str = "") -> str:
    """An HTML page in Bitbox's report style (``css`` adds rules).

    Parameters
    ----------
    title : str
        The page's ``<title>`` (plain text: it is HTML-escaped here).
    body : str
        The content of ``<body>``, as HTML (inserted as it is: escape any text in it).
    css : str, default ""
        Style rules added after Bitbox's own (so they can override them).
    head : str, default ""
        More HTML for ``<head>`` (e.g. a ``<script src='...'>`` of a file beside the page), inserted as it is.

    Returns
    -------
    str
        The whole page (UTF-8 declared; without ``head``, no resources outside the page), ending with a newline.
    """
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}{css}</style>{head}</head><body>\n{body}\n</body></html>\n")


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


def rgb_png(rgb: np.ndarray) -> str:
    """An RGB image (H x W x 3, uint8) as base64 PNG data."""
    from matplotlib.image import imsave

    buffer = io.BytesIO()
    imsave(buffer, np.ascontiguousarray(rgb, dtype=np.uint8), format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def img(data: str, alt: str, css: str = "plot") -> str:
    """An ``<img>`` of base64 PNG data."""
    return f"<img class='{css}' alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>"


def fmt(value) -> str:
    """A value for a table cell: 4 significant digits, ``–`` for missing ones, text escaped."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    return html.escape(str(value))


def notes_box(notes: list[str], title: str = "Notes") -> str:
    """A highlighted list of notes (nothing when there are none)."""
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f"<div class='notes'><b>{html.escape(title)}</b><ul>{items}</ul></div>" if notes else ""


def measure_info(processor: str, name: str, kind: str | None = None) -> tuple[str, str]:
    """``(unit, description)`` of a catalogued measure (``("", "")`` when the catalog has none of that name)."""
    from ..inventory import catalog

    try:
        measure = catalog().get(name, processor=processor, kind=kind)
    except BitboxError:
        return "", ""
    return measure.unit, measure.description


def measure_label(processor: str, name: str, shown: str | None = None) -> str:
    """A summary measure's name (or ``shown``) as HTML, its description and unit in a tooltip."""
    unit, description = measure_info(processor, name, "summary")
    tip = " ".join(filter(None, [description, f"[{unit}]" if unit else ""]))
    text = html.escape(name if shown is None else shown)
    return f"<abbr title='{html.escape(tip, quote=True)}'>{text}</abbr>" if tip else text


def chart(figure: dict[str, Any], figure_id: str, caption: str = "") -> str:
    """A Plotly chart: a ``<div>`` and its figure as JSON (drawn by :data:`CHART_SCRIPT`), with a caption."""
    text = json.dumps(figure, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")  # never ends the script
    height = int(figure.get("layout", {}).get("height", 400))
    return (f"<div class='chart' data-figure='{figure_id}' style='min-height:{height}px'></div>"
            f"<script type='application/json' id='{figure_id}'>{text}</script>"
            + (f"<p class='caption'>{caption}</p>" if caption else ""))


def chart_head(assets: str) -> str:
    """The ``<head>`` part loading the chart library from the report's assets folder (a relative URL)."""
    return f"<script src='{html.escape(assets, quote=True)}/plotly.min.js'></script>"


def scripts() -> str:
    """The page's own scripts (charts, sortable tables), inline, for the end of ``<body>``."""
    return f"<script>{CHART_SCRIPT}{SORT_SCRIPT}</script>"


def split(text) -> list[str]:
    """The notes in a notes cell (:func:`bitbox.processor.split_notes`)."""
    return split_notes(text)
