"""Measurements: what processors produce for one recording, and how it is stored.

For each processor a :class:`ProcessorResult` holds

- ``timeseries``: a DataFrame with a ``time_s`` column (seconds from the start of the
  recording) and one column per catalogued measure;
- ``summary``: per-recording values (``{"blink_rate_per_min": 14.2, ...}``);
- ``provenance``: processor name and version, parameters, input SHA-256, package versions,
  start and end time;
- ``rows`` and ``row_key``: for a processor that measures several parts of one recording
  (e.g. several people), one complete summary per part id, and the name of the column that
  tells the parts apart (``{}`` and ``""`` otherwise; see :class:`bitbox.RowSummaries`).
- ``curves``: named :class:`Curve` s the report draws beside the time series, e.g. the EEG power
  spectrum and ERP waveforms (``{}`` for most processors; small, never raw samples).

On disk a result is two files in the recording's output folder: ``<processor>.parquet``
(the time series, with the provenance in its metadata) and ``<processor>.json``
(summary, units, provenance and the curves), plus the extra files its processor declares
(``extra_outputs``, e.g. ``speakers.rttm``). :func:`write_result` is the one way they are
written, by :meth:`ProcessorResult.write`, :meth:`Measurements.write` and the batch alike
(which streams the table first with :func:`streamed_table`): each file atomically, the JSON
last, so that a folder with the JSON holds a complete result. Reading them back gives
identical tables and values.
"""
from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from .catalog import summary_columns
from .errors import BitboxError, ParameterError
from .fileio import atomic_path, read_json, write_json
from .log import logger

__all__ = ["ProcessorResult", "Curve", "curves_from_json", "Measurements", "MemorySink", "ParquetSink", "FORMAT_VERSION",
           "split_measurements",
           "default_plot_measures", "rows_from_json", "write_result", "streamed_table", "ExtraOutputs"]

FORMAT_VERSION = 1
_PROVENANCE_KEY = b"bitbox.provenance"
#: Provenance keys known only after a run (kept out of the parquet file's metadata).
_RUN_KEYS = ("started_utc", "finished_utc", "n_rows")


def _nan_for_none(summary: Mapping) -> dict:
    return {k: (math.nan if v is None else v) for k, v in summary.items()}


def rows_from_json(data: Mapping) -> dict:
    """The per-part summaries stored in a ``<processor>.json`` (``{}`` for a file without them).

    They are stored as a list of ``{"key": part id, "summary": {...}}`` (JSON object keys are
    always text; the list keeps integer ids integers), in part order.

    Parameters
    ----------
    data : Mapping
        The parsed content of a ``<processor>.json`` (its ``"rows"`` entry is read; missing or
        empty: no parts).

    Returns
    -------
    dict
        Part id -> summary (measure name -> value), in the stored order; ``null`` values (JSON's
        NaN, see :func:`bitbox.io.write_json`) are read back as NaN.
    """
    rows = data.get("rows") or []
    return {item["key"]: _nan_for_none(item.get("summary", {})) for item in rows}


def _read_only(values, what: str) -> np.ndarray:
    array = np.array(values, dtype=float)  # a copy: the curve never shares memory with its input
    if array.ndim != 1:
        raise ParameterError(f"Curve {what} must be 1-D; got an array of shape {array.shape}.")
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class Curve:
    """One figure of lines over a shared x axis that a result carries for the report (e.g. a power spectrum).

    The values are copied into read-only 1-D float arrays. Two curves are equal when their labels
    and values are (NaN equal to NaN).

    Parameters
    ----------
    x : numpy.ndarray
        The x values (1-D, float), e.g. frequencies.
    y : dict of str to numpy.ndarray
        Named lines, each as long as ``x`` (in the given order), e.g. ``{"mean": psd}``.
    x_label : str
        What x is (``"frequency"``, ``"time"``).
    x_unit : str
        Its unit (``"Hz"``, ``"ms"``).
    y_label : str
        What the lines are (``"power spectral density"``).
    y_unit : str
        Their unit (``"uV^2/Hz"``, ``"uV"``).
    title : str
        The figure's title.
    log_y : bool, default False
        Draw the y axis on a log scale.

    Raises
    ------
    ParameterError
        When x or a line is not 1-D, or a line's length differs from x's.

    Examples
    --------
    >>> c = Curve(x=[1.0, 2.0], y={"mean": [0.5, 0.25]}, x_label="frequency", x_unit="Hz",
    ...           y_label="power", y_unit="uV^2/Hz", title="Spectrum", log_y=True)
    >>> Curve.from_json(c.to_json()) == c
    True
    """

    x: np.ndarray
    y: dict
    x_label: str
    x_unit: str
    y_label: str
    y_unit: str
    title: str
    log_y: bool = False

    def __post_init__(self) -> None:
        x = _read_only(self.x, "x")
        lines = {}
        for name, values in dict(self.y).items():
            line = _read_only(values, f"line {name!r}")
            if len(line) != len(x):
                raise ParameterError(f"Curve {self.title!r}: line {name!r} has {len(line)} values for {len(x)} x "
                                     "values; give every line one value per x.")
            lines[str(name)] = line
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", lines)
        object.__setattr__(self, "log_y", bool(self.log_y))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Curve):
            return NotImplemented
        return ((self.x_label, self.x_unit, self.y_label, self.y_unit, self.title, self.log_y)
                == (other.x_label, other.x_unit, other.y_label, other.y_unit, other.title, other.log_y)
                and np.array_equal(self.x, other.x, equal_nan=True) and list(self.y) == list(other.y)
                and all(np.array_equal(self.y[k], other.y[k], equal_nan=True) for k in self.y))

    __hash__ = None  # holds arrays

    def to_json(self) -> dict:
        """The curve as JSON-ready data (floats as Python floats, written exactly; NaN as ``None``).

        Returns
        -------
        dict
            ``x``, ``y`` (``{line: values}``), the labels and units, ``title`` and ``log_y``.
        """
        def values(array: np.ndarray) -> list:
            return [float(v) if math.isfinite(v) else None for v in array.tolist()]

        return {"title": self.title, "x_label": self.x_label, "x_unit": self.x_unit, "y_label": self.y_label,
                "y_unit": self.y_unit, "log_y": self.log_y, "x": values(self.x),
                "y": {name: values(line) for name, line in self.y.items()}}

    @classmethod
    def from_json(cls, data: Mapping) -> "Curve":
        """The curve stored by :meth:`to_json` (``None`` values read as NaN).

        Parameters
        ----------
        data : Mapping
            What :meth:`to_json` returned (e.g. read back from a ``<processor>.json``).

        Returns
        -------
        Curve
            Equal to the curve written.
        """
        def values(items) -> np.ndarray:
            return np.array([math.nan if v is None else v for v in items], dtype=float)

        return cls(x=values(data.get("x", [])), y={k: values(v) for k, v in (data.get("y") or {}).items()},
                   x_label=data.get("x_label", ""), x_unit=data.get("x_unit", ""),
                   y_label=data.get("y_label", ""), y_unit=data.get("y_unit", ""), title=data.get("title", ""),
                   log_y=bool(data.get("log_y", False)))


def curves_from_json(data: Mapping) -> dict[str, Curve]:
    """The curves stored in a ``<processor>.json`` (``{}`` for a file without them, e.g. from an older run).

    Parameters
    ----------
    data : Mapping
        The parsed content of a ``<processor>.json`` (its ``"curves"`` entry is read).

    Returns
    -------
    dict of str to Curve
        Curve name -> curve, in the stored order.
    """
    return {name: Curve.from_json(item) for name, item in (data.get("curves") or {}).items()}


@dataclass
class ProcessorResult:
    """The output of one processor on one recording.

    ``rows`` holds one complete summary per part of the recording (e.g. per person) for a
    processor that splits it, keyed by part id; ``row_key`` names the column telling the
    parts apart (e.g. ``"person"``). Both are empty for processors that do not split.

    Parameters
    ----------
    processor : str
        The processor's name.
    timeseries : pandas.DataFrame | None
        The time series (``time_s`` and catalogued columns); ``None`` when it was streamed to a sink.
    summary : dict
        One value per catalogued summary measure.
    provenance : dict
        How the result was made (versions, parameters, input SHA-256 ...).
    units : dict
        The unit of each column and summary key.
    rows : dict
        The summary of each part, keyed by part id.
    row_key : str
        The column telling the parts apart (``""`` for processors that do not split).
    curves : dict of str to Curve
        Figures for the report beside the time series (e.g. ``"spectrum"``); ``{}`` for most processors.
    """

    processor: str
    timeseries: pd.DataFrame
    summary: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    units: dict = field(default_factory=dict)
    rows: dict = field(default_factory=dict)
    row_key: str = ""
    curves: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        parts = f", {len(self.rows)} parts by {self.row_key!r}" if self.rows else ""
        table = ("time series written to a sink" if self.timeseries is None else
                 f"{len(self.timeseries)} rows x {self.timeseries.shape[1]} columns")
        return f"<ProcessorResult {self.processor!r}: {table}, {len(self.summary)} summary values{parts}>"

    # ----------------------------------------------------------------- disk
    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        """Write ``<processor>.parquet`` and ``<processor>.json`` into ``out_dir`` atomically
        (:func:`write_result`).

        Parameters
        ----------
        out_dir : str or Path
            The folder to write into (created if needed).

        Returns
        -------
        tuple of Path
            The parquet and the JSON file.
        """
        return write_result(self, out_dir)

    def write_json(self, out_dir: str | Path) -> Path:
        """Write the summary + provenance file (the last file of a result to be written).

        Parameters
        ----------
        out_dir : str or Path
            The folder to write ``<processor>.json`` into.

        Returns
        -------
        Path
            The JSON file.
        """
        path = Path(out_dir) / f"{self.processor}.json"
        data = {"bitbox_format": FORMAT_VERSION, "processor": self.processor, "summary": self.summary}
        if self.row_key or self.rows:  # files of processors that never split stay as they were
            data["row_key"] = self.row_key
            data["rows"] = [{"key": key, "summary": summary} for key, summary in self.rows.items()]
        data.update(units=self.units, provenance=self.provenance)
        if self.curves:  # files of processors without curves stay as they were
            data["curves"] = {name: curve.to_json() for name, curve in self.curves.items()}
        write_json(path, data)
        return path

    @classmethod
    def read(cls, out_dir: str | Path, processor: str) -> "ProcessorResult":
        """Read a result written by :meth:`write`.

        Parameters
        ----------
        out_dir : str or Path
            The folder holding ``<processor>.parquet`` and ``<processor>.json``.
        processor : str
            The processor's name.

        Returns
        -------
        ProcessorResult
            The result as it was written.
        """
        out_dir = Path(out_dir)
        json_path = out_dir / f"{processor}.json"
        parquet_path = out_dir / f"{processor}.parquet"
        for path in (json_path, parquet_path):
            if not path.is_file():
                raise BitboxError(f"{path}: missing; the output folder is incomplete. Re-run the processor.")
        data = read_json(json_path)
        summary = _nan_for_none(data.get("summary", {}))
        timeseries = pd.read_parquet(parquet_path)
        return cls(processor=data["processor"], timeseries=timeseries, summary=summary,
                   provenance=data.get("provenance", {}), units=data.get("units", {}),
                   rows=rows_from_json(data), row_key=data.get("row_key", ""), curves=curves_from_json(data))


#: Writes a processor's extra output files for one result into a folder: ``write(result, folder)``
#: (:meth:`bitbox.Processor.write_extra_outputs` of the processor that made the result).
ExtraOutputs = Callable[[ProcessorResult, Path], object]


def _table_path(folder: Path, processor: str) -> Path:
    return folder / f"{processor}.parquet"


@contextlib.contextmanager
def streamed_table(folder: str | Path, processor: str, provenance: Mapping) -> Iterator[ParquetSink]:
    """A sink streaming a result's time series into ``folder/<processor>.parquet``, atomically.

    The first half of :func:`write_result` for a result whose rows are too many to hold in
    memory (the batch): the stale ``<processor>.json`` is removed first (the JSON marks a complete
    result), the table appears under its name only when the block ends without an error, and the
    rest of the result is then written by ``write_result(result, folder, table_written=True)``.

    Parameters
    ----------
    folder : str | Path
        The recording's output folder (created if needed).
    processor : str
        The processor's name (the file's stem).
    provenance : Mapping
        What the outputs depend on, stored in the file's metadata (run-only keys left out,
        as :meth:`ProcessorResult.write` stores them).

    Yields
    ------
    ParquetSink
        Append the time-series chunks to it; it is closed when the block ends.
    """
    folder = Path(folder)
    (folder / f"{processor}.json").unlink(missing_ok=True)
    with atomic_path(_table_path(folder, processor)) as tmp:
        sink = ParquetSink(tmp, provenance=provenance)
        yield sink
        sink.close()


def write_result(result: ProcessorResult, folder: str | Path, *, table_written: bool = False,
                 extra_outputs: ExtraOutputs | None = None) -> tuple[Path, Path]:
    """Write one result's files into ``folder``: the one write path of Bitbox.

    In this order, each file atomically: the stale ``<processor>.json`` is removed, then
    ``<processor>.parquet`` (the time series, provenance in its metadata), the extra output
    files, and ``<processor>.json`` (summary, per-part summaries, units, provenance) last, so
    that a folder holding the JSON holds the complete result.

    Parameters
    ----------
    result : ProcessorResult
        The result to write.
    folder : str | Path
        The recording's output folder (created if needed).
    table_written : bool
        The table is already in ``folder``, streamed there by :func:`streamed_table` (the
        result's ``timeseries`` is then ``None``; the extra outputs get the table read back).
    extra_outputs : callable or None
        ``extra_outputs(result, folder)`` writes the processor's extra files
        (:meth:`bitbox.Processor.write_extra_outputs`); ``None``: there are none.

    Returns
    -------
    tuple of Path
        The ``.parquet`` and ``.json`` files.

    Raises
    ------
    ParameterError
        When the result's time series went to a sink (``timeseries`` is ``None``) and
        ``table_written`` is False: there is no table to write.
    """
    folder = Path(folder)
    parquet = _table_path(folder, result.processor)
    if not table_written:
        if result.timeseries is None:
            raise ParameterError(f"The {result.processor!r} result has no time series in memory (it was written to "
                                 "a sink), so it cannot be written again; write the sink's table with "
                                 "streamed_table() and call write_result(..., table_written=True).")
        (folder / f"{result.processor}.json").unlink(missing_ok=True)
        with atomic_path(parquet) as tmp:
            sink = ParquetSink(tmp, provenance=result.provenance)
            sink.append(result.timeseries)
            sink.close(empty_like=result.timeseries)
    if extra_outputs is not None:
        # with the time series read back when it was streamed to the file
        extra_outputs(replace(result, timeseries=pd.read_parquet(parquet)) if table_written else result, folder)
    return parquet, result.write_json(folder)


def part_order(key: object) -> tuple:
    """Sort key of part ids: integers (also integer text, ``"2"``) in numeric order, then text."""
    text = str(key)
    if isinstance(key, (int, np.integer)) or (text.lstrip("-").isdigit() and text.lstrip("-") != ""):
        return (0, int(text), "")
    return (1, 0, text)


def _matches(column: pd.Series, value: object) -> np.ndarray:
    """Rows of ``column`` equal to ``value``, comparing numbers as numbers (``"1"`` matches 1)."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return np.zeros(len(column), dtype=bool)
        return (column.to_numpy(dtype=float, na_value=np.nan) == number)
    return (column.astype(str) == str(value)).to_numpy()


def _present(column: pd.Series) -> list:
    values = column.dropna().unique().tolist()
    values = [int(v) if isinstance(v, float) and v.is_integer() else v for v in values]
    return sorted(values, key=part_order)


def split_measurements(m: "Measurements", column: str, value: object) -> "Measurements":
    """One part of a recording: the rows of every time series whose ``column`` equals ``value``.

    For results in long format with one row per time and part (e.g. one row per frame and
    person), this gives the part's own results, as if it had been recorded alone: the rows of
    that part, ``column`` dropped, and the part's own summary (``rows[value]``). Results without
    ``column`` describe the whole recording, not the part, and are left out.

    Parameters
    ----------
    m : Measurements
        The recording's results.
    column : str
        The time-series column telling the parts apart (e.g. ``"person"``).
    value : int | str
        The part's id; text is compared as a number with a numeric column (``"1"`` matches 1).

    Returns
    -------
    Measurements
        With recording id ``"<recording_id>:<column>=<value>"``.

    Raises
    ------
    ParameterError
        When no time series has ``column`` (the columns there are listed), or ``value`` does not
        occur in it (the ids present are listed).
    """
    results = []
    for result in m.values():
        frame = result.timeseries
        if frame is None or column not in frame.columns:
            continue
        keep = _matches(frame[column], value)
        if not keep.any():
            present = _present(frame[column])
            hint = (f" It holds one {column} only: the processor reported one; process the recording again with "
                    f"every {column} measured (e.g. --set {result.processor}.{column}=all)" if len(present) == 1
                    else "")
            raise ParameterError(f"{m.recording_id}: the {result.processor!r} time series has no rows with "
                                 f"{column} = {value}. The {column} ids present: "
                                 f"{', '.join(map(str, present)) or 'none'}.{hint}")
        part = frame.loc[keep].drop(columns=[column]).reset_index(drop=True)
        summary = next((s for k, s in result.rows.items() if str(k) == str(value)
                        or part_order(k) == part_order(value)), {})
        results.append(ProcessorResult(processor=result.processor, timeseries=part, summary=dict(summary),
                                       provenance=result.provenance, units=result.units))
    if not results:
        columns = {r.processor: [c for c in r.timeseries.columns if c != "time_s"] for r in m.values()
                   if r.timeseries is not None}
        shown = "; ".join(f"{p}: {', '.join(c[:8])}{', ...' if len(c) > 8 else ''}" for p, c in columns.items())
        raise ParameterError(f"{m.recording_id}: no time series has a {column!r} column, so its parts cannot be "
                             f"told apart (columns: {shown or 'none'}). Process the recording so that it "
                             f"measures every part (e.g. the processor's parameter for several people), or "
                             "compare two recordings instead.")
    return Measurements(results, recording_id=f"{m.recording_id}:{column}={value}", path=m.path)


class MemorySink:
    """Collects time-series chunks in memory (used by :func:`bitbox.process`)."""

    def __init__(self) -> None:
        self._chunks: list[pd.DataFrame] = []

    def append(self, chunk: pd.DataFrame) -> None:
        """Keep one chunk of the time series (not copied).

        Parameters
        ----------
        chunk : pandas.DataFrame
            Consecutive rows of the time series (``time_s`` and the processor's columns).
        """
        self._chunks.append(chunk)

    def result(self) -> pd.DataFrame:
        """The chunks appended so far as one table.

        Returns
        -------
        pandas.DataFrame
            The chunks concatenated in order, with a fresh ``0..n-1`` index; a table with one empty
            float64 ``time_s`` column when nothing was appended.
        """
        if not self._chunks:
            return pd.DataFrame({"time_s": pd.Series([], dtype="float64")})
        if len(self._chunks) == 1:
            return self._chunks[0].reset_index(drop=True)
        return pd.concat(self._chunks, ignore_index=True)


class ParquetSink:
    """Streams time-series chunks into one parquet file, one row group per chunk.

    Memory stays bounded by the chunk size, whatever the recording's length. The
    provenance is stored in the file's schema metadata so the file explains itself.

    Parameters
    ----------
    path : str or Path
        The parquet file to write (created by the first :meth:`append`, or by :meth:`close`).
    provenance : Mapping or None, default None
        What the outputs depend on, stored as JSON under the schema metadata key
        ``bitbox.provenance``; the run-only keys (``started_utc``, ``finished_utc``, ``n_rows``)
        are left out. ``None``: an empty mapping.

    Attributes
    ----------
    n_rows : int
        Rows appended so far.
    """

    def __init__(self, path: str | Path, provenance: Mapping | None = None) -> None:
        self.path = Path(path)
        self._provenance = dict(provenance or {})
        self._writer = None
        self._schema = None
        self.n_rows = 0

    def _metadata(self) -> dict[bytes, bytes]:
        # What the outputs depend on, known before the first row is written (so a batch streaming the rows
        # and ProcessorResult.write store the same): no timing, no row count (both are in <processor>.json).
        stable = {k: v for k, v in self._provenance.items() if k not in _RUN_KEYS}
        return {_PROVENANCE_KEY: json.dumps(stable, sort_keys=True, default=str).encode()}

    def append(self, chunk: pd.DataFrame) -> None:
        """Write one chunk as a row group (zstd-compressed); the first chunk fixes the file's schema.

        Parameters
        ----------
        chunk : pandas.DataFrame
            Consecutive rows of the time series; its index is not stored. Every chunk after the
            first has the first one's columns, with values convertible to its types.

        Raises
        ------
        KeyError
            When a later chunk lacks a column of the first one.
        pyarrow.ArrowInvalid
            When a later chunk's values cannot be converted to the first one's types.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._writer is None:
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            metadata = dict(table.schema.metadata or {})
            metadata.update(self._metadata())
            self._schema = table.schema.with_metadata(metadata)
            table = table.replace_schema_metadata(metadata)
            # zstd level 1: as small as the default level on measurement data (floats barely compress), 2x faster
            self._writer = pq.ParquetWriter(self.path, self._schema, compression="zstd", compression_level=1)
        else:
            table = pa.Table.from_pandas(chunk, schema=self._schema, preserve_index=False)
        self._writer.write_table(table)
        self.n_rows += len(chunk)

    def close(self, empty_like: pd.DataFrame | None = None) -> None:
        """Finish the file (call it once, after the last :meth:`append`).

        Parameters
        ----------
        empty_like : pandas.DataFrame or None, default None
            Written as the only chunk when nothing was appended, so that the file still has a
            schema (give an empty frame with the time series' columns); ``None``: a table with one
            empty float64 ``time_s`` column. Ignored once a chunk was appended.
        """
        if self._writer is None:
            self.append(empty_like if empty_like is not None else
                        pd.DataFrame({"time_s": pd.Series([], dtype="float64")}))
        self._writer.close()


#: Finds the installed processor class of a name (``None`` when there is none). The data layer knows no
#: registry: :mod:`bitbox.registry` installs its lookup here when it is imported (:func:`use_processor_lookup`).
_processor_lookup: Callable[[str], type | None] = lambda name: None


def default_plot_measures(processor: str, frame: pd.DataFrame, *, limit: int = 6) -> list[str]:
    """The measures plotted over time when none are named, by :meth:`Measurements.plot` and the report alike:
    the processor's :attr:`~bitbox.Processor.plot_measures` that ``frame`` has as numeric columns, else its
    first ``limit`` numeric columns (``time_s`` aside).

    Parameters
    ----------
    processor : str
        The processor's name (its class is found through the registry).
    frame : pandas.DataFrame
        Its time series.
    limit : int
        At most this many columns when the processor names none.

    Returns
    -------
    list of str
        Column names of ``frame``.
    """
    cls = _processor_lookup(processor)
    numeric = [c for c in frame.columns if c != "time_s" and pd.api.types.is_numeric_dtype(frame[c])]
    named = [m for m in (cls.plot_measures if cls is not None else ()) if m in numeric]
    return named or numeric[:limit]


def _draws_own_figure(cls: type) -> bool:
    """Whether a processor class overrides :meth:`Processor.plot_result <bitbox.Processor.plot_result>` (the
    base class lives above this layer: it is recognised by its module)."""
    owner = next((k for k in cls.__mro__ if "plot_result" in vars(k)), None)
    return owner is not None and owner.__module__ != "bitbox.processor"


def use_processor_lookup(lookup: Callable[[str], type | None]) -> None:
    """Set how results find their processor's class by name, for :meth:`Measurements.plot` (the processor's
    own figure and default measures) and :meth:`Measurements.write` (its extra output files).

    :mod:`bitbox.registry` calls it with its entry-point lookup when it is imported; the data layer
    itself imports nothing above it.
    """
    global _processor_lookup
    _processor_lookup = lookup


def _installed_extra_outputs(result: ProcessorResult) -> ExtraOutputs | None:
    """The writer of ``result``'s extra output files: those of the installed processor of its name,
    configured with the result's parameters; ``None`` when that processor declares none or is not
    installed (a result of a processor that is gone, or given as a class: its tables only)."""
    cls = _processor_lookup(result.processor)
    if cls is None or not cls.extra_outputs:
        return None
    try:
        processor = cls(**result.provenance.get("parameters", {}))
    except TypeError:  # parameters of another version of the processor
        processor = cls()
    return processor.write_extra_outputs


class Measurements(Mapping[str, ProcessorResult]):
    """All processors' results for one recording.

    Index it by processor name: ``m["face"].timeseries``, ``m["face"].summary``.

    Parameters
    ----------
    results : sequence of ProcessorResult
        One per processor.
    recording_id : str
        Identifier of the recording (the file stem by default).
    path : str
        Path of the recording.
    failures : dict | None
        ``{processor: reason}`` for processors that failed on the recording.
    not_applicable : dict | None
        ``{processor: reason}`` for processors that do not apply to it (e.g. no sound track).

    Examples
    --------
    >>> m = bitbox.process("interview.mp4")              # doctest: +SKIP
    >>> m["face"].timeseries[["time_s", "head_yaw"]]     # doctest: +SKIP
    >>> m.summary_row()                                  # doctest: +SKIP
    >>> m.summary_table()                                # doctest: +SKIP
    >>> m.write("results/interview")                     # doctest: +SKIP
    """

    def __init__(self, results: Sequence[ProcessorResult], recording_id: str = "", path: str = "",
                 failures: dict[str, str] | None = None, not_applicable: dict[str, str] | None = None) -> None:
        self._results = {r.processor: r for r in results}
        self.recording_id = recording_id
        self.path = str(path)
        self.failures = dict(failures or {})
        self.not_applicable = dict(not_applicable or {})

    def __getitem__(self, processor: str) -> ProcessorResult:
        try:
            return self._results[processor]
        except KeyError:
            raise KeyError(f"No results for processor {processor!r}; these measurements hold "
                           f"{sorted(self._results)}.") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._results)

    def __len__(self) -> int:
        return len(self._results)

    def __repr__(self) -> str:
        parts = ", ".join([*(f"{k}: {len(v.timeseries)} rows" for k, v in self._results.items()),
                           *(f"{k}: failed" for k in self.failures),
                           *(f"{k}: not applicable" for k in self.not_applicable)])
        return f"<Measurements {self.recording_id!r} ({parts})>"

    @property
    def processors(self) -> list[str]:
        """Names of the processors with results."""
        return list(self._results)

    def summary_row(self) -> pd.Series:
        """One row of per-recording values, named ``<processor>.<measure>`` (each processor's main
        summary: for one that splits the recording into parts, e.g. people, the part it follows), as
        ``summary.csv`` names them: keys that are not safe column names (a channel name with a space)
        renamed by :func:`bitbox.catalog.summary_columns`."""
        values = {c: v for p, r in self._results.items() for c, v in summary_columns(p, r.summary)[0].items()}
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values.values())
        # text measures (notes, a list of bad channels) keep the row an object Series
        return pd.Series(values, name=self.recording_id, dtype="float64" if numeric and values else object)

    @property
    def row_key(self) -> str:
        """The column telling apart the parts of this recording (e.g. ``"person"``), ``""`` when no
        processor splits it.

        Raises
        ------
        ParameterError
            When two processors split it by different keys.
        """
        keys = {r.processor: r.row_key for r in self._results.values() if r.row_key}
        if len(set(keys.values())) > 1:
            raise ParameterError("These results split the recording by different keys: " + ", ".join(
                f"{p} by {k!r}" for p, k in keys.items()) + ". Read them one processor at a time.")
        return next(iter(keys.values()), "")

    def summary_table(self) -> pd.DataFrame:
        """The summary as ``summary.csv`` has it: one row per part of the recording.

        Columns: ``recording_id``, then the :attr:`row_key` column when a processor splits the
        recording (e.g. ``person``), then ``<processor>.<measure>``. A processor with per-part
        summaries gives each row its part's values; the others repeat their values on every row.
        Without parts there is one row (with an empty key when a processor declares one), the
        values of :meth:`summary_row`.

        Returns
        -------
        DataFrame
            Rows sorted by part id (integers in numeric order, then text).
        """
        key = self.row_key
        split = {p: r.rows for p, r in self._results.items() if r.rows}
        parts = sorted({k for rows in split.values() for k in rows}, key=part_order)
        table = []
        for part in parts or [""]:
            row: dict[str, object] = {"recording_id": self.recording_id}
            if key:
                row[key] = part
            for p, r in self._results.items():
                summary = r.rows.get(part, {}) if p in split else r.summary
                row.update(summary_columns(p, summary)[0])
            table.append(row)
        return pd.DataFrame(table)

    def to_wide(self) -> pd.DataFrame:
        """All time series in one table: ``time_s`` plus ``<processor>.<measure>`` columns.

        Processors sampled at different times are outer-joined on ``time_s`` (sorted).
        """
        wide: pd.DataFrame | None = None
        for processor, result in self._results.items():
            frame = result.timeseries.rename(
                columns={c: f"{processor}.{c}" for c in result.timeseries.columns if c != "time_s"})
            wide = frame if wide is None else wide.merge(frame, on="time_s", how="outer")
        if wide is None:
            return pd.DataFrame({"time_s": pd.Series([], dtype="float64")})
        return wide.sort_values("time_s", kind="stable").reset_index(drop=True)

    def write(self, out_dir: str | Path) -> Path:
        """Write every result into ``out_dir`` (``<processor>.parquet`` and ``.json``, and the files its
        processor declares in ``extra_outputs``, e.g. ``speakers.rttm``).

        Parameters
        ----------
        out_dir : str or Path
            The folder to write into.

        Returns
        -------
        Path
            ``out_dir``.
        """
        out_dir = Path(out_dir)
        for result in self._results.values():
            write_result(result, out_dir, extra_outputs=_installed_extra_outputs(result))
        return out_dir

    @classmethod
    def read(cls, out_dir: str | Path, processors: Sequence[str] | None = None) -> "Measurements":
        """Read results written by :meth:`write` or by a batch (``OUT/<recording_id>``).

        Parameters
        ----------
        out_dir : str or Path
            The recording's output folder.
        processors : sequence of str | None
            The processors to read (default: every ``<processor>.json`` in the folder).

        Returns
        -------
        Measurements
            The results, with the folder's name as the recording id.
        """
        out_dir = Path(out_dir)
        if not out_dir.is_dir():
            raise BitboxError(f"{out_dir}: no such output folder.")
        if processors is None:
            processors = sorted(p.stem for p in out_dir.glob("*.json"))
        if not processors:
            raise BitboxError(f"{out_dir}: holds no Bitbox results (no <processor>.json files).")
        results = [ProcessorResult.read(out_dir, p) for p in processors]
        path = results[0].provenance.get("input_path", "")
        return cls(results, recording_id=out_dir.name, path=path)

    def _panel(self, measure: str) -> tuple[str, str]:
        """``(processor, column)`` of a measure named ``"face.head_yaw"`` or ``"head_yaw"`` (the first processor
        whose time series has it)."""
        name, _, column = measure.partition(".")
        if column and name in self._results:
            return name, column
        if column and name in {*self.failures, *self.not_applicable}:
            raise KeyError(f"{measure!r}: the {name!r} processor has no result on {self.recording_id} "
                           f"({'failed' if name in self.failures else 'not applicable'}).")
        if column and name not in self._results and measure not in {c for r in self._results.values()
                                                                    for c in r.timeseries.columns}:
            raise KeyError(f"{measure!r}: no processor {name!r} among these results ({', '.join(self.processors)}).")
        owner = next((p for p, r in self._results.items() if measure in r.timeseries.columns), None)
        if owner is None:
            raise KeyError(f"{measure!r} is not a column of any time series here; name it '<processor>.<column>' "
                           f"(processors: {', '.join(self.processors)}).")
        return owner, measure

    def plot(self, measures: Sequence[str] | None = None, processor: str | None = None, ax=None):
        """Plot measures over time (one panel per measure, one shared time axis).

        With nothing named, every processor's main measures are drawn, each processor's panels one
        after the other on the same time axis (a video's face and its speech line up); a processor that
        draws a figure of its own (e.g. ``speakers``' turns, ``narrative``'s spans) is named in the figure's
        footnote, and ``m.plot(processor="speakers")`` draws that figure. With one processor, its own figure
        or its main measures.

        Parameters
        ----------
        measures : list of str | None
            Column names: ``"face.head_yaw"``, or ``"head_yaw"`` (of ``processor`` when given, else of the
            first processor whose time series has it). By default a few main measures (each processor's
            ``plot_measures``).
        processor : str | None
            The processor whose time series to plot (default: every processor's, see above).
        ax : matplotlib Axes | sequence of Axes | None
            Where to draw: one axes per measure (default: a new figure). With ``ax`` the measures
            are plotted over time even when the processor draws a figure of its own.

        Returns
        -------
        matplotlib.figure.Figure
            The figure drawn on (the figure of ``ax`` when given).

        Raises
        ------
        ParameterError
            When ``ax`` holds a different number of axes than there are measures.
        KeyError
            When a named measure is not a column of its processor's time series, or a processor has no result.
        """
        import matplotlib.pyplot as plt

        if not self._results:
            raise ParameterError(f"{self.recording_id}: no results to plot"
                                 + (f" ({', '.join(f'{k} failed' for k in self.failures)})" if self.failures else "")
                                 + ".")
        own_figures: list[str] = []
        if processor is not None:
            result = self[processor]
            if measures is None:
                cls = _processor_lookup(processor)
                figure = cls.plot_result(result) if cls is not None and ax is None else None
                if figure is not None:
                    return figure
                measures = default_plot_measures(processor, result.timeseries)
            panels = [(processor, m.split(".", 1)[1] if m.startswith(f"{processor}.") else m) for m in measures]
        elif measures is not None:
            panels = [self._panel(m) for m in measures]
        else:
            panels = []
            for name, result in self._results.items():
                cls = _processor_lookup(name)
                if ax is None and cls is not None and _draws_own_figure(cls) and len(self._results) > 1:
                    own_figures.append(name)
                    continue
                if ax is None and len(self._results) == 1 and cls is not None:
                    figure = cls.plot_result(result)
                    if figure is not None:
                        return figure
                panels += [(name, m) for m in default_plot_measures(name, result.timeseries)]
        for name, measure in panels:
            frame = self[name].timeseries
            if measure not in frame.columns:
                numeric = [c for c in frame.columns if c != "time_s" and pd.api.types.is_numeric_dtype(frame[c])]
                raise KeyError(f"[{measure!r}] not in the {name!r} time series; available: {numeric}")
        if not panels:
            raise ParameterError(f"{self.recording_id}: nothing to plot over time; "
                                 + ", ".join(f"m.plot(processor={n!r})" for n in own_figures) + " draws "
                                 + ("its" if len(own_figures) == 1 else "their") + " own figure.")
        if ax is None:
            fig, axes = plt.subplots(len(panels), 1, figsize=(9, 1.8 * len(panels) + 0.6 + 0.3 * bool(own_figures)),
                                     sharex=True, squeeze=False)
        else:
            axes = np.atleast_1d(np.asarray(ax, dtype=object)).reshape(-1, 1)
            if len(axes) != len(panels):
                raise ParameterError(f"plot got {len(axes)} axes for {len(panels)} measures "
                                     f"{[m for _, m in panels]}; give one axes per measure, or ax=None for a new "
                                     "figure.")
            fig = axes[0, 0].figure
        several = len({name for name, _ in panels}) > 1
        for axis, (name, measure) in zip(axes[:, 0], panels):
            result = self[name]
            frame = result.timeseries
            # Sparse series (e.g. one row per utterance) get markers, so single points show.
            axis.plot(frame["time_s"].to_numpy(), frame[measure].to_numpy(dtype=float, na_value=np.nan), lw=1,
                      marker="o" if len(frame) < 200 else None, ms=4)
            unit = result.units.get(measure, "")
            label = f"{name}.{measure}" if several else measure
            axis.set_ylabel(f"{label}\n[{unit}]" if unit else label, fontsize=8)
            axis.grid(alpha=0.3)
        axes[-1, 0].set_xlabel("time [s]")
        if ax is None:
            drawn = list(dict.fromkeys(name for name, _ in panels))
            fig.suptitle(f"{self.recording_id} — {', '.join(drawn)}")
            if own_figures:
                fig.text(0.01, 0.005, "Drawn in figures of their own: " + ", ".join(
                    f"m.plot(processor={n!r})" for n in own_figures), fontsize=8, color="0.35", va="bottom")
                logger.info("%s: %s draw figures of their own: %s", self.recording_id, ", ".join(own_figures),
                            ", ".join(f"m.plot(processor={n!r})" for n in own_figures))
            fig.tight_layout(rect=(0, 0.03 if own_figures else 0, 1, 1))
        return fig
