"""Events on a recording's time axis (blinks, pauses, gestures, speaker turns, utterances) for the report.

A processor lists the events of one of its results with :meth:`bitbox.Processor.report_events`: a
table with one row per event and the columns :data:`EVENT_COLUMNS` (``onset_s``, ``duration_s``,
``label``, ``text``). :func:`events_frame` makes such a table from lists, :func:`events_from_mask`
from a 0/1 time-series column (each run of 1 one event), as blinks and gestures are stored.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["EVENT_COLUMNS", "events_frame", "events_from_mask", "concat_events", "truncated"]

#: The columns of :meth:`bitbox.Processor.report_events` frames, in order.
EVENT_COLUMNS = ("onset_s", "duration_s", "label", "text")


def events_frame(onset_s: Sequence[float] = (), duration_s: Sequence[float] | None = None,
                 label: str | Sequence[str] = "", text: str | Sequence[str] = "") -> pd.DataFrame:
    """A :meth:`~bitbox.Processor.report_events` table: one row per event, sorted by onset.

    Parameters
    ----------
    onset_s : sequence of float
        Each event's start, in seconds from the recording's start.
    duration_s : sequence of float or None
        Each event's length in seconds (``None``: instants, 0).
    label : str or sequence of str
        The events' kind (one for all, or one per event), e.g. ``"blink"``.
    text : str or sequence of str
        Hover text (one for all, or one per event; ``None`` items become ``""``).

    Returns
    -------
    pandas.DataFrame
        Columns ``onset_s``, ``duration_s`` (float64), ``label``, ``text`` (str), index ``0..n-1``,
        sorted by onset (ties keep their order).

    Raises
    ------
    ValueError
        When the sequences have different lengths.

    Examples
    --------
    >>> events_frame([1.5, 0.5], [0.2, 0.1], "blink").onset_s.tolist()
    [0.5, 1.5]
    """
    onsets = np.asarray(onset_s, dtype=float).reshape(-1)
    n = len(onsets)
    durations = np.zeros(n) if duration_s is None else np.asarray(duration_s, dtype=float).reshape(-1)
    labels = [label] * n if isinstance(label, str) else [str(v) for v in label]
    texts = [text] * n if isinstance(text, str) else ["" if v is None else str(v) for v in text]
    if not len(durations) == len(labels) == len(texts) == n:
        raise ValueError(f"events_frame: {n} onsets, {len(durations)} durations, {len(labels)} labels and "
                         f"{len(texts)} texts; give one of each per event.")
    frame = pd.DataFrame({"onset_s": pd.Series(onsets, dtype="float64"),
                          "duration_s": pd.Series(durations, dtype="float64"),
                          "label": pd.Series(labels, dtype=object), "text": pd.Series(texts, dtype=object)})
    return frame.sort_values("onset_s", kind="stable").reset_index(drop=True)


def events_from_mask(time_s: Sequence[float], mask: Sequence, label: str, text: str = "",
                     step_s: float | None = None) -> pd.DataFrame:
    """One event per run of true (non-zero) values of a time-series column, e.g. ``blink``.

    Parameters
    ----------
    time_s : sequence of float
        The rows' times (s), increasing.
    mask : sequence
        The column (0/1, bool; NaN counts as 0 and ends a run).
    label : str
        The events' kind.
    text : str
        Hover text of every event.
    step_s : float or None
        Time between rows; ``None``: the median step of ``time_s``. An event lasts its number of
        rows times this, as the processors' summaries count durations (a run of one row lasts one step).

    Returns
    -------
    pandas.DataFrame
        The events (:func:`events_frame`): onset the time of a run's first row.

    Examples
    --------
    >>> events_from_mask([0.0, 0.1, 0.2, 0.3, 0.4], [0, 1, 1, 0, 1], "blink").values.tolist()
    [[0.1, 0.2, 'blink', ''], [0.4, 0.1, 'blink', '']]
    """
    times = np.asarray(time_s, dtype=float).reshape(-1)
    values = pd.to_numeric(pd.Series(np.asarray(mask).reshape(-1)), errors="coerce").to_numpy(dtype=float,
                                                                                              na_value=np.nan)
    active = np.nan_to_num(values, nan=0.0) != 0
    edges = np.diff(np.r_[0, active.astype(np.int8), 0])
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if step_s is None:
        steps = np.diff(times[np.isfinite(times)])
        step_s = float(np.median(steps)) if len(steps) else 0.0
    durations = np.round((stops - starts) * step_s, 9)  # 3 rows of 0.1 s last 0.3 s, not 0.30000000000000004
    return events_frame(times[starts], durations, label, text)


def concat_events(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Several event tables as one, sorted by onset (ties in the given order).

    Parameters
    ----------
    frames : sequence of pandas.DataFrame
        Tables made by :func:`events_frame` (or with its columns).

    Returns
    -------
    pandas.DataFrame
        The events of all of them (:func:`events_frame`; empty for none).
    """
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return events_frame()
    table = pd.concat(frames, ignore_index=True)
    return events_frame(table["onset_s"], table["duration_s"], table["label"].tolist(), table["text"].tolist())


def truncated(text: object, limit: int = 120) -> str:
    """``text`` as one line of at most ``limit`` characters (an ellipsis marks a cut).

    Parameters
    ----------
    text : object
        The text (``None`` and NaN give ``""``).
    limit : int
        The longest result.

    Returns
    -------
    str
        The text, whitespace runs made single spaces, cut at a word boundary when it can be.

    Examples
    --------
    >>> truncated("one two three four", 12)
    'one two…'
    """
    if text is None or (isinstance(text, float) and text != text):
        return ""
    line = " ".join(str(text).split())
    if len(line) <= limit:
        return line
    cut = line[:limit - 1]
    if " " in cut[limit // 2:]:
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip() + "…"
