"""The measure catalog: what each output column and summary value means.

Every measure a processor writes is declared as a :class:`Measure` (name, unit,
description, valid range, reference). The catalog gathers the measures of all installed
processors (:func:`bitbox.catalog`, defined in :mod:`bitbox.inventory`, above the registry);
:func:`validate_timeseries` and :func:`validate_summary` check a processor's
output against it, so an undeclared column or an impossible value is an error, not a
silent surprise in a results table.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from .errors import CatalogError

__all__ = ["Measure", "Catalog", "validate_timeseries", "validate_summary", "SAFE_COLUMN", "safe_key",
           "summary_columns", "labels_text"]

#: What every column name of ``summary.csv`` (``<processor>.<measure>``) matches: a letter, then letters,
#: digits, underscores and dots (R and SPSS take it as it is; ``bitbox export`` gives Stata its dotless names).
SAFE_COLUMN = re.compile(r"[A-Za-z][A-Za-z0-9_.]*")

_KINDS = ("timeseries", "summary")
_DTYPES = ("float", "int", "bool", "str", "array")


@dataclass(frozen=True)
class Measure:
    """One catalogued measure.

    Parameters
    ----------
    name : str
        Column name (time series) or key (summary). With ``pattern=True`` it is a regular
        expression matching a family of names (e.g. the 478 landmarks).
    unit : str
        Physical or relative unit (``"deg"``, ``"px"``, ``"1/min"``, ``"s"``, ``"1"`` for
        dimensionless, ``"IOD"`` for fractions of the inter-ocular distance).
    description : str
        What it measures and how, in one or two sentences.
    kind : {"timeseries", "summary"}
        A per-frame column or a per-recording value.
    valid_range : tuple of float | None
        Inclusive bounds every finite value must respect; ``None`` for unbounded.
    dtype : {"float", "int", "bool", "str", "array"}
        Value type; ``"array"`` is one fixed-length numeric vector per row (e.g. landmarks).
    reference : str
        Where the method comes from.
    pattern : bool
        Whether ``name`` is a regular expression for a family of columns.
    processor : str
        Name of the processor that produces it (filled in by the processor base class).
    evidence : str
        How the measure was validated against known truth, with the figures.
    value_labels : mapping or tuple of (value, label) pairs
        What each code of a coded measure means (e.g. ``{0: "closed", 1: "open"}``); stored as a tuple of
        pairs. Empty: :meth:`labels` gives ``0 = no, 1 = yes`` to a ``bool`` measure and to an ``int`` one
        ranging over [0, 1] (an indicator), nothing to the others.
    nan_reason : str
        Why the measure is NaN when it is by design, not by a fault, and no note says so (e.g. "NaN when no
        target speaker was chosen: set target_speaker"): the codebook's reason for such an empty cell.
    """

    name: str
    unit: str
    description: str
    kind: str = "timeseries"
    valid_range: tuple[float, float] | None = None
    dtype: str = "float"
    reference: str = ""
    pattern: bool = False
    processor: str = ""
    evidence: str = ""
    value_labels: tuple[tuple[object, str], ...] = ()
    nan_reason: str = ""
    _regex: re.Pattern | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"Measure {self.name!r}: kind must be one of {_KINDS}. Got {self.kind!r} instead.")
        if self.dtype not in _DTYPES:
            raise ValueError(f"Measure {self.name!r}: dtype must be one of {_DTYPES}. Got {self.dtype!r} instead.")
        if self.valid_range is not None:
            low, high = self.valid_range
            if not low <= high:
                raise ValueError(f"Measure {self.name!r}: valid_range {self.valid_range} has low > high.")
        if self.pattern:
            object.__setattr__(self, "_regex", re.compile(self.name))
        labels = self.value_labels
        pairs = tuple(labels.items()) if isinstance(labels, Mapping) else tuple(tuple(p) for p in labels)
        if any(len(p) != 2 or not isinstance(p[1], str) for p in pairs):
            raise ValueError(f"Measure {self.name!r}: value_labels must map codes to text labels. Got {labels!r}.")
        object.__setattr__(self, "value_labels", pairs)

    def labels(self) -> dict:
        """What each code of this measure means (``{}`` when it is not coded).

        Returns
        -------
        dict
            :attr:`value_labels`, or ``{0: "no", 1: "yes"}`` for an indicator (a ``bool`` measure, or an
            ``int`` one whose valid range is [0, 1]).
        """
        if self.value_labels:
            return dict(self.value_labels)
        if self.dtype == "bool" or (self.dtype == "int" and self.valid_range == (0, 1)):
            return {0: "no", 1: "yes"}
        return {}

    def matches(self, name: str) -> bool:
        """Whether a column or summary key is this measure.

        Parameters
        ----------
        name : str
            A column name or summary key (matched in full against a ``pattern``).

        Returns
        -------
        bool
            True when ``name`` is this measure.
        """
        if self._regex is not None:
            return self._regex.fullmatch(name) is not None
        return name == self.name

    def with_processor(self, processor: str) -> "Measure":
        """A copy attributed to ``processor``.

        Parameters
        ----------
        processor : str
            The name of the processor producing the measure.

        Returns
        -------
        Measure
            The same measure with :attr:`processor` set.
        """
        return dataclasses.replace(self, processor=processor)

    def to_dict(self) -> dict:
        """Plain-data form (for JSON and tables)."""
        return {"processor": self.processor, "name": self.name, "kind": self.kind, "unit": self.unit,
                "dtype": self.dtype,
                "valid_min": None if self.valid_range is None else self.valid_range[0],
                "valid_max": None if self.valid_range is None else self.valid_range[1],
                "description": self.description, "reference": self.reference, "evidence": self.evidence,
                "pattern": self.pattern, "value_labels": {str(k): v for k, v in self.labels().items()},
                "nan_reason": self.nan_reason}


class Catalog:
    """The measures of a set of processors, looked up by processor and name.

    Use :func:`bitbox.catalog` (:mod:`bitbox.inventory`) for the catalog of all installed processors.

    Parameters
    ----------
    measures : iterable of Measure
        The catalogued measures, each attributed to its processor.
    """

    def __init__(self, measures: Iterable[Measure] = ()) -> None:
        self._measures: list[Measure] = list(measures)

    def __iter__(self):
        return iter(self._measures)

    def __len__(self) -> int:
        return len(self._measures)

    def __repr__(self) -> str:
        processors = sorted({m.processor for m in self._measures})
        return f"<Catalog: {len(self)} measures from {', '.join(processors) or 'no processor'}>"

    def processors(self) -> list[str]:
        """Names of the processors with catalogued measures."""
        return sorted({m.processor for m in self._measures})

    def get(self, name: str, processor: str | None = None, kind: str | None = None) -> Measure:
        """Find the measure describing ``name`` (optionally ``processor.name``).

        Parameters
        ----------
        name : str
            A column or summary key (``"head_roll"``), or ``"<processor>.<name>"``.
        processor : str | None
            Only this processor's measures (default: any, or the prefix of ``name``).
        kind : {"timeseries", "summary"} | None
            Only measures of this kind (default: either).

        Returns
        -------
        Measure
            The first matching measure.

        Raises
        ------
        CatalogError
            When no catalogued measure matches.
        """
        if processor is None and "." in name:
            processor, name = name.split(".", 1)
        for measure in self._measures:
            if (processor is None or measure.processor == processor) and (kind is None or measure.kind == kind) \
                    and measure.matches(name):
                return measure
        raise CatalogError(f"{name!r} is not a catalogued measure"
                           + (f" of processor {processor!r}" if processor else "") + ".")

    def to_frame(self) -> pd.DataFrame:
        """The catalog as a table, one row per measure (value labels as text: ``0 = no; 1 = yes``)."""
        return pd.DataFrame([{**m.to_dict(), "value_labels": labels_text(m.labels())} for m in self._measures])

    def to_markdown(self) -> str:
        """The catalog as Markdown, one section per processor (used to generate the docs)."""
        lines: list[str] = []
        for processor in self.processors():
            lines += [f"## `{processor}`", ""]
            for kind, title in (("timeseries", "Time series (one row per time step)"),
                                ("summary", "Summary (one value per recording)")):
                rows = [m for m in self._measures if m.processor == processor and m.kind == kind]
                if not rows:
                    continue
                lines += [f"### {title}", "", "| name | unit | valid range | description | reference |",
                          "|---|---|---|---|---|"]
                for m in rows:
                    name = f"`{m.name}`" + (" (pattern)" if m.pattern else "")
                    valid = "" if m.valid_range is None else f"[{_fmt(m.valid_range[0])}, {_fmt(m.valid_range[1])}]"
                    desc = m.description.replace("|", "\\|")
                    lines.append(f"| {name} | {m.unit} | {valid} | {desc} | {m.reference} |")
                lines.append("")
        return "\n".join(lines)


def safe_key(key: str) -> str:
    """A summary key as a safe column name (:data:`SAFE_COLUMN`): ``key`` itself when it is one.

    Otherwise accents are dropped (``Müller`` -> ``Muller``), every run of other characters (spaces,
    ``-``, ``+``, ``/``, ``:``) becomes one ``_``, underscores at the ends go, and a name not starting with a
    letter gets ``m_`` in front: ``rel_power_delta_ch_Channel 1`` -> ``rel_power_delta_ch_Channel_1``,
    ``abs_power_alpha_uv2_ch_EEG Fpz-Cz`` -> ``abs_power_alpha_uv2_ch_EEG_Fpz_Cz``.

    Parameters
    ----------
    key : str
        A summary key as a processor wrote it (e.g. with a channel's or condition's name in it).

    Returns
    -------
    str
        The safe name.
    """
    if SAFE_COLUMN.fullmatch(key):
        return key
    text = unicodedata.normalize("NFKD", key).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9_.]+", "_", text).strip("_.")
    return text if text[:1].isalpha() else f"m_{text}"


def summary_columns(processor: str, summary: Mapping[str, object]) -> tuple[dict[str, object], dict[str, str]]:
    """A processor's summary as ``summary.csv`` columns: ``<processor>.<safe key>`` (:func:`safe_key`).

    A key that is already safe keeps its name; a renamed key whose safe name is taken (``EEG Fz`` beside
    ``EEG_Fz``, or two names in another script: ``α``, ``β``) gets six hex digits of its own SHA-1 appended,
    so that one original always gets the same column, whatever the other keys.

    Parameters
    ----------
    processor : str
        The processor's name.
    summary : mapping
        Its summary, ``{key: value}``.

    Returns
    -------
    columns : dict
        ``{"<processor>.<safe key>": value}``, in the order of ``summary``.
    originals : dict
        ``{column: "<processor>.<key>"}`` for the keys that were renamed (``{}`` when none was).
    """
    taken = {key for key in summary if SAFE_COLUMN.fullmatch(key)}  # safe keys keep their names
    columns: dict[str, object] = {}
    originals: dict[str, str] = {}
    for key, value in summary.items():
        if key in taken:
            columns[f"{processor}.{key}"] = value
            continue
        safe = name = safe_key(key)
        if name in taken:  # told apart by the original's own digest: the same key gets the same name everywhere
            name = f"{safe}_{hashlib.sha1(key.encode('utf-8', 'surrogatepass')).hexdigest()[:6]}"
        taken.add(name)
        columns[f"{processor}.{name}"] = value
        originals[f"{processor}.{name}"] = f"{processor}.{key}"
    return columns, originals


def labels_text(labels: Mapping) -> str:
    """Value labels as one line of text, ``0 = no; 1 = yes`` (``""`` for none).

    Parameters
    ----------
    labels : mapping
        ``{code: label}``.

    Returns
    -------
    str
        The pairs, ``; ``-separated.
    """
    return "; ".join(f"{code} = {label}" for code, label in labels.items())


def _fmt(value: float) -> str:
    return "inf" if value == math.inf else "-inf" if value == -math.inf else f"{value:g}"


def _measure_for(measures: Iterable[Measure], name: str, kind: str) -> Measure | None:
    for measure in measures:
        if measure.kind == kind and measure.matches(name):
            return measure
    return None


def _check_range(processor: str, measure: Measure, name: str, values: np.ndarray) -> None:
    if measure.valid_range is None or values.size == 0:
        return
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return
    low, high = measure.valid_range
    bad = (finite < low) | (finite > high)
    if bad.any():
        example = finite[bad][0]
        raise CatalogError(
            f"Processor {processor!r} produced {name}={example!r}, outside its valid range "
            f"[{_fmt(low)}, {_fmt(high)}] ({int(bad.sum())} value(s)). This is a bug in the processor.")


def validate_timeseries(processor: str, measures: Iterable[Measure], frame: pd.DataFrame) -> None:
    """Check a time-series table against the processor's catalogued measures.

    Raises
    ------
    CatalogError
        When ``time_s`` is missing, a column is not catalogued, a numeric column holds
        non-numbers, or a value falls outside its valid range.
    """
    measures = list(measures)
    if "time_s" not in frame.columns:
        raise CatalogError(f"Processor {processor!r} produced a time series without a 'time_s' column.")
    for column in frame.columns:
        if column == "time_s":
            continue
        measure = _measure_for(measures, column, "timeseries")
        if measure is None:
            raise CatalogError(f"Processor {processor!r} produced the column {column!r}, which is not in its "
                               "catalog. Declare it as a Measure in the processor's `measures`.")
        if measure.dtype in ("str", "array"):
            continue
        series = frame[column]
        if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
            raise CatalogError(f"Processor {processor!r} produced non-numeric values in {column!r} "
                               f"(dtype {series.dtype}).")
        _check_range(processor, measure, column, series.to_numpy(dtype=float, na_value=np.nan))


def validate_summary(processor: str, measures: Iterable[Measure], summary: Mapping[str, object]) -> None:
    """Check a summary mapping against the processor's catalogued summary measures."""
    measures = list(measures)
    for key, value in summary.items():
        measure = _measure_for(measures, key, "summary")
        if measure is None:
            raise CatalogError(f"Processor {processor!r} produced the summary value {key!r}, which is not in "
                               "its catalog. Declare it as a Measure(kind='summary').")
        if measure.dtype in ("str", "array"):
            continue
        if value is None:
            continue
        if not isinstance(value, (int, float, np.integer, np.floating, bool, np.bool_)):
            raise CatalogError(f"Processor {processor!r} produced a non-numeric summary value {key}={value!r}.")
        _check_range(processor, measure, key, np.asarray([float(value)]))
