"""Two people: coordination and imitation between two recordings' measures.

:func:`dyad` takes the results of two recordings (e.g. a clinician and a patient filmed
separately, or the left and right halves of one video processed with ``crop="left"`` and
``crop="right"``), puts B's time series on A's time axis (shifted by ``offset_s`` when the
recordings did not start together), and computes Bitbox's windowed lagged correlation for
each measure: two-sided coordination, and one-sided imitation in both directions. Lags
follow the original Bitbox's sign: a lag > 0 means B follows A.

Two parts of one recording (e.g. two people in one shot, measured into one time series in
long format with one row per time and part) are compared with ``split_by`` and ``parts``:
``dyad(m, split_by="person", parts=(0, 1))`` splits the recording's results with
:func:`bitbox.measurements.split_measurements` and compares the two parts; both share the
recording's time axis, so the alignment is the identity.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from . import analysis
from .errors import BitboxError, ParameterError
from .measurements import Measurements, split_measurements

__all__ = ["dyad", "align_series", "coordination_matrix"]


def _dyad_declaration(name: str) -> tuple[int, tuple[str, ...]]:
    """``(preference, measures)`` a processor declares for :func:`dyad` (``(0, ())`` when it declares none or
    is not installed)."""
    from .registry import get_processor_class

    try:
        cls = get_processor_class(name)
    except BitboxError:
        return 0, ()
    return int(cls.dyad_preference), tuple(cls.dyad_measures)


def _as_measurements(item: Measurements | str | Path) -> Measurements:
    if isinstance(item, Measurements):
        return item
    path = Path(item)
    if not path.is_dir():
        raise BitboxError(f"{path}: not a results folder. Give the folder of one recording's results "
                          "(OUT/<recording_id>), written by `bitbox run`.")
    return Measurements.read(path)


def align_series(time_a, time_b, values_b, *, offset_s: float = 0.0) -> np.ndarray:
    """B's values at A's times (B's clock = A's clock + ``offset_s``), linearly interpolated.

    A time of A outside B's recording, or next to a missing (NaN) value of B, gives NaN.
    """
    time_a = np.asarray(time_a, dtype=float) + offset_s
    time_b = np.asarray(time_b, dtype=float)
    values_b = np.asarray(values_b, dtype=float)
    out = np.full(time_a.shape, np.nan)
    if len(time_b) < 2:
        return out
    inside = (time_a >= time_b[0]) & (time_a <= time_b[-1])
    right = np.clip(np.searchsorted(time_b, time_a[inside]), 1, len(time_b) - 1)
    left = right - 1
    t0, t1 = time_b[left], time_b[right]
    v0, v1 = values_b[left], values_b[right]
    weight = np.where(t1 > t0, (time_a[inside] - t0) / np.where(t1 > t0, t1 - t0, 1), 0.0)
    out[inside] = v0 + weight * (v1 - v0)  # NaN neighbours propagate
    return out


def _series(m: Measurements, processor: str, measure: str) -> tuple[np.ndarray, np.ndarray]:
    frame = m[processor].timeseries
    if measure not in frame.columns:
        raise ParameterError(f"{m.recording_id}: the {processor!r} results have no measure {measure!r}.")
    return frame["time_s"].to_numpy(dtype=float), frame[measure].to_numpy(dtype=float, na_value=np.nan)


def _pair(a: Measurements | str | Path, b: Measurements | str | Path | None, split_by: str | None,
          parts: Sequence | None) -> tuple[Measurements, Measurements]:
    """The two results to compare: two recordings, or two parts of one recording."""
    if split_by is None:
        if b is None:
            raise ParameterError("dyad needs two recordings' results (a and b), or one recording and the two parts "
                                 "to compare (split_by='person', parts=(0, 1)).")
        if parts is not None:
            raise ParameterError("parts needs split_by: the time-series column telling the parts apart (e.g. "
                                 "split_by='person').")
        return _as_measurements(a), _as_measurements(b)
    if b is not None:
        raise ParameterError("Give either two recordings (a and b) or one recording with split_by and parts, not "
                             "both.")
    if not isinstance(split_by, str) or not split_by:
        raise ParameterError(f"split_by must be the name of a time-series column (e.g. 'person'). Got "
                             f"{split_by!r} instead.")
    if parts is None or isinstance(parts, (str, bytes)) or len(parts) != 2:
        raise ParameterError(f"parts must be the two {split_by} ids to compare, e.g. parts=(0, 1). Got {parts!r} "
                             "instead.")
    if str(parts[0]) == str(parts[1]):
        raise ParameterError(f"parts must be two different {split_by} ids; got {parts[0]!r} twice.")
    m = _as_measurements(a)
    return split_measurements(m, split_by, parts[0]), split_measurements(m, split_by, parts[1])


def dyad(a: Measurements | str | Path, b: Measurements | str | Path | None = None, *,
         split_by: str | None = None, parts: Sequence | None = None, processor: str | None = None,
         measures: Sequence[str] | None = None, offset_s: float = 0.0, window_s: float = 0.5,
         max_lag_s: float | None = None, convention: str = "bitbox") -> pd.DataFrame:
    """Coordination and imitation between person A and person B, measure by measure.

    Parameters
    ----------
    a, b : Measurements or path
        The two recordings' results (``OUT/<recording_id>`` folders or in-memory); with
        ``split_by``, ``a`` alone: the recording holding both parts (``b`` is ``None``).
    split_by : str | None
        Compare two parts of recording ``a``: the time-series column telling the parts apart
        (e.g. ``"person"``, in results with one row per frame and person). Results without
        that column (whole-recording measures) are left out.
    parts : pair of (int | str) | None
        With ``split_by``: the ids of parts A and B (e.g. ``(0, 1)``; text ``"1"`` matches 1).
    processor : str | None
        Whose time series to compare. Default: of the processors both have, the one that declares
        default dyad measures (:attr:`Processor.dyad_measures <bitbox.Processor.dyad_measures>`) with
        the highest :attr:`~bitbox.Processor.dyad_preference`: ``pose`` if both have it, else ``face``.
    measures : list of str | None
        Measures to compare (default: the processor's declared dyad measures present in both).
    offset_s : float
        B's clock minus A's: B's time ``t + offset_s`` is compared with A's time ``t``.
    window_s, max_lag_s : float
        Window length and largest lag of the lagged correlation (see
        :func:`bitbox.analysis.coordination`; default lag: the original Bitbox's, 0.2 s at
        30 fps for a 0.5 s window in coordination and 0.1 s in imitation).
    convention : {"bitbox", "original"}
        Passed to :func:`bitbox.analysis.coordination` and :func:`bitbox.analysis.imitation`
        (``"original"``: the original Bitbox's numbers exactly).

    Returns
    -------
    DataFrame
        One row per measure: ``coordination_r_mean``, ``coordination_r_sd`` (the best
        correlation per window, signed: a mirrored partner gives -1),
        ``coordination_lag_s_mean``, ``coordination_peak_lag_s`` (> 0: B follows A, < 0: A
        follows B), and ``imitation_a_follows_b_r``, ``imitation_b_follows_a_r`` (mean best
        correlation of the one-sided analyses), ``n_samples`` (overlapping samples with both
        values).

    Raises
    ------
    ParameterError
        With ``split_by``: when no time series of ``a`` has that column (its columns are
        listed), or a part id does not occur (the ids present are listed); when ``b`` is given
        too, or ``parts`` is not two different ids.

    Examples
    --------
    >>> dyad("OUT/clinician", "OUT/patient")                          # doctest: +SKIP
    >>> dyad("OUT/session", split_by="person", parts=(0, 1))          # doctest: +SKIP
    """
    ma, mb = _pair(a, b, split_by, parts)
    shared = [p for p in ma.processors if p in mb]
    declared = {p: _dyad_declaration(p) for p in shared}
    # processors with default dyad measures first, by their preference; then the others, in A's order
    common = sorted(shared, key=lambda p: (not declared[p][1], -declared[p][0]))
    if not common:
        raise BitboxError(f"{ma.recording_id} ({ma.processors}) and {mb.recording_id} ({mb.processors}) have no "
                          "processor in common.")
    processor = processor or common[0]
    if processor not in common:
        raise ParameterError(f"Both recordings need {processor!r} results; they share {common}.")
    if measures is None:
        cols_a, cols_b = set(ma[processor].timeseries.columns), set(mb[processor].timeseries.columns)
        measures = [c for c in declared[processor][1] if c in cols_a and c in cols_b]
        if not measures:
            raise ParameterError(f"No default measures for processor {processor!r}; pass measures=[...].")
    rows = []
    for measure in measures:
        time_a, values_a = _series(ma, processor, measure)
        time_b, values_b = _series(mb, processor, measure)
        values_b = align_series(time_a, time_b, values_b, offset_s=offset_s)
        fps = _rate(time_a, ma.recording_id, measure)
        both = np.isfinite(values_a) & np.isfinite(values_b)
        row = {"processor": processor, "measure": measure, "n_samples": int(both.sum())}
        try:
            co, ab, ba = _coordination_and_imitation(values_a, values_b, fps=fps, window_s=window_s,
                                                     max_lag_s=max_lag_s, convention=convention)
        except ParameterError as err:
            raise ParameterError(f"{measure}: {err}") from None
        row.update(coordination_r_mean=co["r_mean"], coordination_r_sd=co["r_sd"],
                   coordination_lag_s_mean=co["lag_s_mean"], coordination_peak_lag_s=co["peak_lag_s"],
                   imitation_a_follows_b_r=ab["r_mean"], imitation_b_follows_a_r=ba["r_mean"])
        rows.append(row)
    return pd.DataFrame(rows)


def _coordination_and_imitation(values_a: np.ndarray, values_b: np.ndarray, **kw) -> tuple[dict, dict, dict]:
    """Coordination of A and B, then imitation results "A follows B" and "B follows A".

    ``imitation(x, y)`` measures y following x in Bitbox; under ``convention="original"``
    it is the original's underlying function, which measures x following y (lags <= 0).
    """
    co = analysis.coordination(values_a, values_b, **kw)
    a_follows_b = analysis.imitation(values_b, values_a, **kw)
    b_follows_a = analysis.imitation(values_a, values_b, **kw)
    if kw.get("convention") == "original":
        a_follows_b, b_follows_a = b_follows_a, a_follows_b
    return co, a_follows_b, b_follows_a


def _rate(times: np.ndarray, recording_id: str, measure: str) -> float:
    """Samples per second of a time axis, or a clear error when it has none (fewer than two samples)."""
    fps = analysis.fps_from_times(times)
    if not (math.isfinite(fps) and fps > 0):
        raise ParameterError(f"{measure}: {recording_id}'s time series has fewer than two increasing times "
                             f"({len(times)} sample(s)), too few to tell its rate; coordination needs a longer "
                             "recording.")
    return fps


def coordination_matrix(a: Measurements | str | Path, b: Measurements | str | Path, *, processor: str,
                        measures: Sequence[str], offset_s: float = 0.0, window_s: float = 0.5,
                        max_lag_s: float | None = None, convention: str = "bitbox") -> pd.DataFrame:
    """Mean best windowed correlation of every measure of A with every measure of B (A rows, B columns).

    The best correlation of each window is signed (the lag with the largest ``|r|``), so a
    measure that moves opposite to another gives a negative entry; see :func:`dyad`.
    """
    ma, mb = _as_measurements(a), _as_measurements(b)
    out = pd.DataFrame(index=list(measures), columns=list(measures), dtype=float)
    for ya in measures:
        time_a, values_a = _series(ma, processor, ya)
        fps = _rate(time_a, ma.recording_id, ya)
        for yb in measures:
            time_b, values_b = _series(mb, processor, yb)
            aligned = align_series(time_a, time_b, values_b, offset_s=offset_s)
            result = analysis.coordination(values_a, aligned, fps=fps, window_s=window_s, max_lag_s=max_lag_s,
                                           convention=convention)
            out.loc[ya, yb] = result["r_mean"] if math.isfinite(result["r_mean"]) else np.nan
    return out
