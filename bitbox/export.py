"""Results for SPSS, Stata, R and Excel: ``bitbox export OUT --to spss,stata,csv``.

:func:`export` turns a batch's output folder into files statistics packages open:

- ``summary.sav`` (SPSS, with :mod:`pyreadstat`) and ``summary.dta`` (Stata 15): one row per row of
  ``summary.csv``, each variable labelled with its description and unit from ``codebook.csv``, the codes of
  numeric coded columns (yes/no as 1/0) with their value labels;
- ``summary.csv``, ``codebook.csv`` and ``codebook.json``, as the batch wrote them (the exact column names,
  the time series' columns, why each empty cell is empty);
- ``variables.csv``: every column with the name it has in each format, its label, unit and value labels (names that
  SPSS or Stata refuse are made valid: ``face.blink_rate_per_min`` is ``face_blink_rate_per_min`` in
  Stata, whose names allow no dot and at most 32 characters);
- with ``timeseries=True``, ``timeseries/<recording_id>/<processor>.csv`` for every time series, an
  array column (face landmarks) left out or expanded into one column per value (``landmarks="expand"``).

Everything is written inside the export folder (``OUT/export`` by default), each file atomically; the
results themselves are only read.

Examples
--------
>>> from bitbox.export import export
>>> export("results/", to=("spss", "stata"))["spss"]   # doctest: +SKIP
[PosixPath('results/export/summary.sav')]
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .errors import BitboxError, ParameterError
from .fileio import atomic_path, display_path
from .log import logger, verbose
from .measurements import Measurements

__all__ = ["export", "variable_names", "FORMATS", "EXPORT_DIR"]

#: The formats :func:`export` writes.
FORMATS = ("spss", "stata", "csv")
#: The export folder inside OUT, unless another is given.
EXPORT_DIR = "export"

#: Stata's and SPSS's longest names (Stata: characters; SPSS: bytes) and labels.
_LIMITS = {"stata": (32, 80), "spss": (64, 256)}
_RESERVED = {
    "spss": {"ALL", "AND", "BY", "EQ", "GE", "GT", "LE", "LT", "NE", "NOT", "OR", "TO", "WITH"},
    "stata": {"_all", "_b", "byte", "_coef", "_cons", "double", "float", "if", "in", "int", "long", "_n", "_N",
              "_pi", "_pred", "_rc", "_skip", "strL", "using", "with"},
}
#: Stata's longest string variable written as str# (longer texts are cut, said in the log).
_STATA_STR = 2045


def _valid(name: str, fmt: str) -> str:
    """``name`` as the format allows it (not yet unique)."""
    allowed = r"[^A-Za-z0-9_]" if fmt == "stata" else r"[^A-Za-z0-9_.]"
    text = re.sub(allowed, "_", name)
    if not re.match(r"[A-Za-z]", text):
        text = "v_" + text
    text = text.rstrip(".")
    if text.upper() in _RESERVED["spss"] and fmt == "spss" or text in _RESERVED["stata"] and fmt == "stata":
        text += "_"
    return text


def variable_names(columns: Iterable[str], fmt: str) -> dict[str, str]:
    """``{column: name in fmt}``: valid and unique names for SPSS or Stata (CSV keeps the columns as they are).

    Parameters
    ----------
    columns : iterable of str
        Column names (``summary.csv``'s header).
    fmt : {"spss", "stata", "csv"}
        The format.

    Returns
    -------
    dict of str to str
        A name per column, in order: characters the format refuses become ``_``, a name that does not start
        with a letter gets ``v_`` in front, reserved words get ``_`` after them, a name cut to the format's
        length ends in ``__1``, ``__2`` ... (two underscores: not to be read as part of a channel's name) and
        one equal to an earlier name (case-insensitively) in ``__2``, ``__3`` ...; ``variables.csv`` and the
        variable labels give the column.

    Examples
    --------
    >>> variable_names(["face.blink_rate_per_min", "eeg.rel_power_delta_ch_Channel 1", "with"], "stata")
    {'face.blink_rate_per_min': 'face_blink_rate_per_min', \
'eeg.rel_power_delta_ch_Channel 1': 'eeg_rel_power_delta_ch_Channel_1', 'with': 'with_'}
    """
    if fmt not in FORMATS:
        raise ParameterError(f"The format must be one of {', '.join(FORMATS)}. Got {fmt!r} instead.")
    columns = list(columns)
    if fmt == "csv":
        return {c: c for c in columns}
    limit = _LIMITS[fmt][0]
    taken: set[str] = set()
    names: dict[str, str] = {}
    for column in columns:
        full = _valid(column, fmt)
        cut = len(full) > limit  # a cut name is marked: "..._ch_sine_1" would read as the channel "sine 1"
        name, n = (full[: limit - 3] + "__1", 1) if cut else (full, 1)
        while name.lower() in taken:
            n += 1
            suffix = f"__{n}"
            name = full[: limit - len(suffix)] + suffix
        taken.add(name.lower())
        names[column] = name
    return names


def _labels(codebook: pd.DataFrame, columns: Sequence[str], fmt: str) -> dict[str, str]:
    """A variable label per column, ``<column>: <description> [<unit>]`` from the codebook; a description too
    long for the format (Stata: 80 characters) is cut, the unit kept."""
    rows = codebook.set_index("column") if "column" in codebook.columns else pd.DataFrame()
    limit = _LIMITS[fmt][1]
    labels = {}
    for column in columns:
        description = str(rows.at[column, "description"]) if column in rows.index else ""
        unit = str(rows.at[column, "unit"]) if column in rows.index and isinstance(rows.at[column, "unit"], str) \
            else ""
        text = f"{column}: {description}" if description and description != "nan" else column
        unit_text = f" [{unit}]" if unit else ""
        if len(text) + len(unit_text) > limit:  # the description is cut, the unit kept
            text = text[: limit - len(unit_text) - 3] + "..."
        labels[column] = text + unit_text
    return labels


def _read_tables(out_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    summary_path, codebook_path = out_dir / "summary.csv", out_dir / "codebook.csv"
    if not summary_path.is_file():
        raise BitboxError(f"{display_path(out_dir)}: no summary.csv. Give the output folder of `bitbox run` "
                          "(or bitbox.process_folder); nothing was exported.")
    summary = pd.read_csv(summary_path, dtype={"recording_id": str, "path": str})
    codebook = (pd.read_csv(codebook_path, dtype=str, keep_default_na=False) if codebook_path.is_file()
                else pd.DataFrame(columns=["column", "processor", "unit", "dtype", "description"]))
    if "table" in codebook.columns:  # the time series' rows are not summary.csv's
        codebook = codebook[codebook["table"] == "summary.csv"]
    return summary, codebook.drop_duplicates("column")


def _value_labels(codebook: pd.DataFrame, summary: pd.DataFrame, names: dict[str, str]) -> dict[str, dict]:
    """SPSS/Stata value labels of the numeric columns whose codes the codebook labels (``0 = no; 1 = yes``)."""
    if "value_labels" not in codebook.columns:
        return {}
    out: dict[str, dict] = {}
    for column, text in zip(codebook["column"], codebook["value_labels"]):
        if not text or column not in summary.columns:
            continue
        values = summary[column]
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            continue  # text codes (e.g. status) are written as the text itself
        pairs = {}
        for item in str(text).split("; "):
            code, _, label = item.partition(" = ")
            try:
                pairs[int(code)] = label
            except ValueError:
                pairs = {}
                break
        if pairs:
            out[names[column]] = pairs
    return out


def _for_stats(summary: pd.DataFrame, names: dict[str, str], fmt: str) -> pd.DataFrame:
    """The summary with the format's names: yes/no columns as 1/0, text columns as text (empty, not NaN),
    Stata's long texts cut."""
    table = summary.rename(columns=names).copy()
    for column in table.columns:
        values = table[column]
        if pd.api.types.is_bool_dtype(values):
            table[column] = values.astype("int8")
        elif not pd.api.types.is_numeric_dtype(values):
            text = values.astype("object").where(values.notna(), "").astype(str)
            if fmt == "stata" and (text.str.len() > _STATA_STR).any():
                logger.warning("%s: texts longer than %d characters are cut in the Stata file (summary.csv has "
                               "them whole)", column, _STATA_STR)
                text = text.str.slice(0, _STATA_STR)
            table[column] = text
    return table


def _write_stats(summary: pd.DataFrame, codebook: pd.DataFrame, dest: Path, fmt: str) -> Path:
    import pyreadstat

    names = variable_names(summary.columns, fmt)
    labels = _labels(codebook, list(summary.columns), fmt)
    table = _for_stats(summary, names, fmt)
    column_labels = {names[c]: labels[c] for c in summary.columns}
    value_labels = _value_labels(codebook, summary, names)
    path = dest / ("summary.sav" if fmt == "spss" else "summary.dta")
    with atomic_path(path) as tmp:
        if fmt == "spss":
            pyreadstat.write_sav(table, str(tmp), column_labels=column_labels, variable_value_labels=value_labels)
        else:
            pyreadstat.write_dta(table, str(tmp), column_labels=column_labels, variable_value_labels=value_labels,
                                 version=15)
    return path


def _variables(summary: pd.DataFrame, codebook: pd.DataFrame) -> pd.DataFrame:
    """One row per summary column: its name in every format, label and unit."""
    spss, stata = variable_names(summary.columns, "spss"), variable_names(summary.columns, "stata")
    rows = codebook.set_index("column") if "column" in codebook.columns else pd.DataFrame()
    return pd.DataFrame({
        "column": list(summary.columns),
        "spss_name": [spss[c] for c in summary.columns],
        "stata_name": [stata[c] for c in summary.columns],
        "processor": [rows.at[c, "processor"] if c in rows.index else "" for c in summary.columns],
        "unit": [rows.at[c, "unit"] if c in rows.index else "" for c in summary.columns],
        "description": [rows.at[c, "description"] if c in rows.index else "" for c in summary.columns],
        "value_labels": [rows.at[c, "value_labels"] if c in rows.index and "value_labels" in rows.columns else ""
                         for c in summary.columns],
    })


def _flat(frame: pd.DataFrame, landmarks: str) -> pd.DataFrame:
    """A time series with its array columns left out (``"drop"``) or one column per value (``"expand"``)."""
    arrays = [c for c in frame.columns if len(frame) and frame[c].map(lambda v: isinstance(v, (list, np.ndarray)))
              .any()]
    if not arrays:
        return frame
    if landmarks == "drop":
        return frame.drop(columns=arrays)
    parts = [frame.drop(columns=arrays)]
    for column in arrays:
        width = int(frame[column].map(lambda v: len(v) if isinstance(v, (list, np.ndarray)) else 0).max())
        matrix = np.full((len(frame), width), np.nan)
        for i, value in enumerate(frame[column]):
            if isinstance(value, (list, np.ndarray)) and len(value):
                matrix[i, : len(value)] = np.asarray(value, dtype=float)
        parts.append(pd.DataFrame(matrix, columns=[f"{column}_{j}" for j in range(width)], index=frame.index))
    return pd.concat(parts, axis=1)


def _write_timeseries(out_dir: Path, summary: pd.DataFrame, dest: Path, landmarks: str) -> list[Path]:
    written = []
    for rid in dict.fromkeys(summary["recording_id"].astype(str)):
        folder = out_dir / rid
        if not folder.is_dir() or not any(folder.glob("*.json")):
            continue
        measurements = Measurements.read(folder)
        for processor in measurements.processors:
            frame = measurements[processor].timeseries
            if frame is None:
                continue
            path = dest / "timeseries" / rid / f"{processor}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                _flat(frame, landmarks).to_csv(tmp, index=False)
            written.append(path)
    return written


@verbose
def export(out_dir: str | Path, to: str | Sequence[str] = FORMATS, *, dest: str | Path | None = None,
           timeseries: bool = False, landmarks: str = "drop",
           verbose: bool | str | int | None = None) -> dict[str, list[Path]]:
    """Write a batch's results as SPSS, Stata and CSV files.

    Parameters
    ----------
    out_dir : str or Path
        A folder written by ``bitbox run`` / :func:`bitbox.process_folder` (with ``summary.csv``).
    to : str or sequence of {"spss", "stata", "csv"}
        The formats (a comma-separated string too: ``"spss,stata"``).
    dest : str or Path or None
        The export folder (created); default ``out_dir/export``.
    timeseries : bool
        Also write every recording's time series as CSV (``timeseries/<recording_id>/<processor>.csv``).
    landmarks : {"drop", "expand"}
        Array columns of the time series (face landmarks): left out, or one column per value.
    verbose : bool or str or int or None
        Log level for this call.

    Returns
    -------
    dict of str to list of Path
        The files written, by format (``"variables"`` for ``variables.csv``, ``"timeseries"`` for the
        time series).

    Raises
    ------
    ParameterError
        For an unknown format or ``landmarks`` value.
    BitboxError
        When ``out_dir`` holds no ``summary.csv``.
    """
    formats = [f.strip() for f in (to.split(",") if isinstance(to, str) else to) if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ParameterError(f"The formats must be among {', '.join(FORMATS)}. Got {to!r} instead.")
    if landmarks not in ("drop", "expand"):
        raise ParameterError(f"The 'landmarks' parameter must be 'drop' or 'expand'. Got {landmarks!r} instead.")
    out_dir = Path(out_dir)
    summary, codebook = _read_tables(out_dir)
    dest = Path(dest) if dest is not None else out_dir / EXPORT_DIR
    dest.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {}
    for fmt in formats:
        if fmt == "csv":
            paths = []
            with atomic_path(dest / "summary.csv") as tmp:
                summary.to_csv(tmp, index=False)
            paths.append(dest / "summary.csv")
            for name in ("codebook.csv", "codebook.json"):  # as the batch wrote them
                if (out_dir / name).is_file():
                    with atomic_path(dest / name) as tmp:
                        shutil.copyfile(out_dir / name, tmp)
                    paths.append(dest / name)
            written["csv"] = paths
        else:
            written[fmt] = [_write_stats(summary, codebook, dest, fmt)]
    with atomic_path(dest / "variables.csv") as tmp:
        _variables(summary, codebook).to_csv(tmp, index=False)
    written["variables"] = [dest / "variables.csv"]
    if timeseries:
        written["timeseries"] = _write_timeseries(out_dir, summary, dest, landmarks)
    logger.info("exported %s to %s", ", ".join(formats), display_path(dest))
    return written
