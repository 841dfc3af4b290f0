"""Interactive HTML reports of a batch's results, readable offline.

``bitbox report OUT`` (or :func:`write_report`) writes into ``OUT/report/``:

- ``index.html``, the cohort page: counts, failures with their reasons, a sortable quality-control table
  (each processor's status and its QC measures: :attr:`QualityColumns.detected_fraction
  <bitbox.processor.QualityColumns.detected_fraction>` and ``measures``; notes and reasons), and every summary
  measure over the recordings as a box of labelled dots (hover: the recording; click: its page);
- ``recordings/<recording_id>.html`` per processed recording: one zoomable timeline of every processor's plot
  measures on a shared time axis (frames of low quality shaded, events such as blinks, pauses, gestures,
  speaker turns and utterances from :meth:`Processor.report_events <bitbox.Processor.report_events>` marked,
  a measure's description and unit in its hover box), the result's curves (e.g. the EEG spectrum and ERPs,
  :attr:`ProcessorResult.curves <bitbox.measurements.ProcessorResult.curves>`), the processors' own figures,
  summary tables with units and descriptions, notes, frame-quality counts and provenance;
- ``assets/plotly.min.js``, the chart library (from the installed ``plotly`` package), written once and
  loaded by the pages through a relative link: the pages need no network.

No recording id can take a page's place: the recordings' pages have a folder of their own. Long time series
are reduced for display (the minimum and maximum of runs of rows, said on the page); no landmark array is
embedded. Frames of the recordings that processors draw their results on (:meth:`Processor.report_frames
<bitbox.Processor.report_frames>`, e.g. faces with their landmarks) appear only with ``show_faces=True``
(``--show-faces``): recordings of patients are health data. Writing a report holds OUT's lock
(:func:`bitbox.fileio.out_lock`), as a batch does: a ``bitbox run`` starting meanwhile stops (or waits) instead
of removing the report's temporary files.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence
from urllib.parse import quote

import pandas as pd

from ..errors import BitboxError
from ..fileio import confined, display_path, out_lock, write_text
from ..log import logger, verbose
from .charts import write_chart_library
from .cohort import index_page
from .page import html_page, png_data
from .recording import recording_page

__all__ = ["write_report", "png_data", "html_page", "REPORT_DIR", "INDEX_PAGE", "RECORDINGS_DIR", "ASSETS_DIR"]

#: The report's folder in OUT, and its cohort page in that folder.
REPORT_DIR = "report"
INDEX_PAGE = "index.html"
#: The folder of the recordings' pages, and of the chart library, in the report's folder.
RECORDINGS_DIR = "recordings"
ASSETS_DIR = "assets"

_OLD_PAGE = "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>Bitbox report: "


def _page_names(ids: Sequence[str]) -> dict[str, str]:
    """``<recording_id>.html`` per id; one whose name another took (ignoring case: an OUT copied from a
    case-sensitive file system) gets a suffix."""
    taken: set[str] = set()
    names: dict[str, str] = {}
    for rid in ids:
        name, n = f"{rid}.html", 2
        while name.casefold() in taken:
            name, n = f"{rid}_{n}.html", n + 1
        taken.add(name.casefold())
        names[rid] = name
    return names


def _result_folders(out_dir: Path) -> list[Path]:
    """OUT's recording folders: those holding a result (``<processor>.json`` beside ``<processor>.parquet``),
    hidden ones aside."""
    folders = [p.parent for p in out_dir.glob("*/*.json")
               if not p.parent.name.startswith(".") and p.with_suffix(".parquet").is_file()]
    return sorted(dict.fromkeys(folders))


@verbose
def write_report(out_dir: str | Path, *, show_faces: bool = False, recordings: Sequence[str] | None = None,
                 wait: bool = False, verbose: bool | str | int | None = None) -> Path:
    """Write interactive HTML pages for the results in ``out_dir`` (a batch's output folder).

    Parameters
    ----------
    out_dir : path
        A folder written by ``bitbox run`` / :func:`bitbox.process_folder` (a relative one is
        relative to the working directory).
    show_faces : bool
        Include a few frames of each recording with the results drawn on them, beside its timeline, where the
        processor draws them (:meth:`Processor.report_frames`; e.g. face landmarks). Off by default: privacy.
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
        ``out_dir/report/index.html`` (absolute); the recordings' pages are in ``out_dir/report/recordings/``.

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
    folders = _result_folders(out_dir)
    if recordings is not None:
        folders = [f for f in folders if f.name in set(recordings)]
    if not folders and not (out_dir / "manifest.csv").is_file():
        raise BitboxError(f"{out_dir}: holds no Bitbox results (no <recording>/<processor>.json files).")
    report_dir = out_dir / REPORT_DIR
    write_chart_library(confined(out_dir, report_dir / ASSETS_DIR))  # not through a link planted in OUT
    manifest_path = out_dir / "manifest.csv"
    rows = ({str(r["recording_id"]): r for r in pd.read_csv(manifest_path, dtype=str, keep_default_na=False)
             .to_dict("records")} if manifest_path.is_file() else {})
    names = _page_names([f.name for f in _result_folders(out_dir)])
    chosen = {f.name for f in folders}
    pages = {rid: f"{RECORDINGS_DIR}/{quote(name)}" for rid, name in names.items()  # linked: the pages there are
             if rid in chosen or (report_dir / RECORDINGS_DIR / name).is_file()}
    for folder in folders:
        target = confined(out_dir, report_dir / RECORDINGS_DIR / names[folder.name])
        # display_path: a file name that is not UTF-8 (in the provenance) shows its bytes as \xNN
        page = recording_page(folder, show_faces, rows.get(folder.name), assets=f"../{ASSETS_DIR}",
                              index=f"../{INDEX_PAGE}")
        write_text(target, display_path(page, controls=False))
        logger.info("report: wrote %s", target)
    index = confined(out_dir, report_dir / INDEX_PAGE)
    write_text(index, display_path(index_page(out_dir, pages, ASSETS_DIR), controls=False))
    _remove_old_pages(out_dir, report_dir)
    return index


def _remove_old_pages(out_dir: Path, report_dir: Path) -> None:
    """Remove the recordings' pages an older Bitbox wrote beside the cohort page (``report/<id>.html``): they
    would show outdated results. Only files that begin as those pages did are removed."""
    for path in report_dir.glob("*.html"):
        if path.name == INDEX_PAGE or not path.is_file() or path.is_symlink():
            continue
        try:
            with path.open("r", encoding="utf-8", errors="replace") as handle:
                start = handle.read(len(_OLD_PAGE))
        except OSError:
            continue
        if start == _OLD_PAGE:
            confined(out_dir, path).unlink()
            logger.info("report: removed %s (a page of an older report; the pages are in %s/ now)",
                        path, RECORDINGS_DIR)
