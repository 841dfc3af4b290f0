"""Input checks and NaN reasons shared by the analysis functions.

The analyses never raise on the data they are given: gaps (NaN), series shorter than a
window or kernel, constant series and single samples all give NaN outputs, each with a
reason. A reason is logged as a warning (``bitbox`` logger) or, inside
:func:`nan_reasons`, collected for the caller to report (e.g. in a processor's ``notes``).
Only invalid *parameters* (a non-positive ``fps``, arrays of the wrong dimensionality,
signals of different lengths) raise :class:`~bitbox.errors.ParameterError`.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
from typing import Iterable, Iterator, NamedTuple

import numpy as np

from ..errors import ParameterError
from ..log import logger

__all__ = ["NanReason", "nan_reasons", "fps_from_times", "uniform_rows"]


class NanReason(NamedTuple):
    """Why some outputs of an analysis are NaN.

    Attributes
    ----------
    function : str
        The analysis function (e.g. ``"expressivity"``).
    keys : tuple of str
        The output keys that are NaN (for :func:`~bitbox.analysis.expressivity`, the full
        ``<name>_<scale>s_<stat>`` keys).
    reason : str
        What in the input prevents a value, in plain words.
    kind : str
        The reason's category, for callers that act on it: ``"too_short"`` (fewer samples
        than a window, kernel or difference needs), ``"gaps"`` (enough samples, but NaN gaps
        leave no usable stretch), ``"no_data"`` (no finite sample), ``"no_variation"`` (a
        constant or motionless input), ``"no_events"`` (no peak or activation to describe)
        or ``"overflow"`` (values beyond double precision).
    """

    function: str
    keys: tuple[str, ...]
    reason: str
    kind: str


_COLLECTED: contextvars.ContextVar[list[NanReason] | None] = contextvars.ContextVar("bitbox_nan_reasons",
                                                                                     default=None)


@contextlib.contextmanager
def nan_reasons() -> Iterator[list[NanReason]]:
    """Collect the reasons for NaN outputs of the analyses called inside the block.

    Inside the block reasons are appended to the yielded list (and logged at debug level
    only); outside it each reason is logged as a warning. Safe with threads and asyncio
    (a context variable, not a global).

    Yields
    ------
    list of NanReason
        The reasons collected inside the block.

    Examples
    --------
    >>> import numpy as np, bitbox.analysis as ba
    >>> with ba.nan_reasons() as reasons:
    ...     _ = ba.smoothness(np.zeros(10), fps=30)
    >>> reasons[0].keys, reasons[0].reason
    (('ldj',), 'the trajectory does not move (peak speed 0)')
    """
    token = _COLLECTED.set([])
    try:
        yield _COLLECTED.get()
    finally:
        _COLLECTED.reset(token)


KINDS = ("too_short", "gaps", "no_data", "no_variation", "no_events", "overflow")


def report_nan(function: str, keys: Iterable[str], reason: str, kind: str) -> None:
    """Record that ``keys`` of ``function``'s output are NaN because of ``reason`` (of category ``kind``)."""
    assert kind in KINDS, kind
    entry = NanReason(function, tuple(keys), reason, kind)
    sink = _COLLECTED.get()
    if sink is None:
        logger.warning("bitbox.analysis.%s: %s NaN: %s", function, ", ".join(entry.keys), reason)
    else:
        sink.append(entry)
        logger.debug("bitbox.analysis.%s: %s NaN: %s", function, ", ".join(entry.keys), reason)


def as_signal(x, name: str = "x", ndim: tuple[int, ...] = (1, 2)) -> np.ndarray:
    """A float array of shape (n_samples,) or (n_samples, n_dims); non-finite values become NaN.

    Any number of samples (also 0 or 1) is accepted: the functions decide what they can
    compute. A wrong number of dimensions is a :class:`~bitbox.errors.ParameterError`.
    """
    arr = np.array(x, dtype=float)  # a copy: inputs are never modified
    if arr.ndim not in ndim:
        raise ParameterError(f"{name} must have {' or '.join(str(d) for d in ndim)} dimension(s) "
                             f"(samples first). Got shape {arr.shape} instead.")
    arr[~np.isfinite(arr)] = np.nan  # +-inf is missing too
    return arr


def check_fps(fps: float) -> float:
    if not isinstance(fps, (int, float, np.integer, np.floating)) or isinstance(fps, bool) or not fps > 0 \
            or not np.isfinite(fps):
        raise ParameterError(f"fps must be a positive number (samples per second). Got {fps!r} instead.")
    return float(fps)


def finite_or_nan(value: float) -> float:
    """``value`` as a float, NaN when it is not finite (an overflow must never leave as inf)."""
    value = float(value)
    return value if math.isfinite(value) else math.nan


def nan_mean(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """Mean over ``axis`` ignoring NaN, NaN where there is no finite value (no RuntimeWarning)."""
    finite = np.isfinite(values)
    count = finite.sum(axis=axis)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def fps_from_times(time_s) -> float:
    """Sampling rate from a ``time_s`` column (median step), for series from a Measurements table.

    Parameters
    ----------
    time_s : array, shape (n_samples,)
        Sample times in seconds (NaN are ignored).

    Returns
    -------
    float
        Samples per second (1 / median step).

    Notes
    -----
    NaN, with the reason ``"time_s holds fewer than two increasing finite times: the
    sampling rate is unknown"``, for fewer than two finite times or times that do not
    increase (constant). Passing that NaN on as ``fps`` is a ParameterError.
    """
    t = np.asarray(time_s, dtype=float).ravel()
    steps = np.diff(t[np.isfinite(t)])
    if steps.size == 0 or not np.median(steps) > 0:
        report_nan("fps_from_times", ("fps",), "time_s holds fewer than two increasing finite times: the sampling "
                                               "rate is unknown", "too_short")
        return math.nan
    return finite_or_nan(1.0 / np.median(steps))


#: The reason given for a value that overflowed double precision.
OVERFLOW = ("overflow", "the values are too large for double precision (overflow)")
#: The reason given for an input without a single finite sample.
NO_VALID_SAMPLES = ("no_data", "no valid (finite) samples")
_FALLBACK = ("no_data", "the input does not support a value")


def uniform_rows(time_s, *, fps: float, tolerance: float = 0.1) -> np.ndarray | None:
    """Rows of a series on a uniform grid at ``fps``, for a series whose samples are unevenly spaced.

    The analyses take samples ``1 / fps`` apart. A video with a variable frame rate (phones,
    screen recorders, dropped frames) is not: put it on the grid first, and frames missing
    from the file become gaps (NaN) rather than compressed time.

    Parameters
    ----------
    time_s : array-like, shape (n_samples,)
        Increasing sample times in seconds.
    fps : float
        The grid's rate (e.g. the median frame rate).
    tolerance : float
        Spacing within this fraction of ``1 / fps`` counts as even.

    Returns
    -------
    ndarray of int, shape (n_grid,) | None
        For each grid time ``time_s[0] + k / fps`` the row of the nearest sample within half
        a period, or -1 (a gap); ``None`` when the samples are already evenly spaced, fewer
        than two, or their times do not strictly increase, so the series is used as it is.

    Examples
    --------
    >>> uniform_rows([0.0, 0.1, 0.4, 0.5], fps=10)
    array([ 0,  1, -1, -1,  2,  3])
    """
    t = np.asarray(time_s, dtype=float)
    fps = check_fps(fps)
    if t.size < 2 or not np.isfinite(t).all() or (np.diff(t) <= 0).any():
        return None  # nothing to regularise, or times that do not increase (not a time axis to trust)
    steps = np.diff(t) * fps
    if (np.abs(steps - 1.0) <= tolerance).all():
        return None
    grid = t[0] + np.arange(int(round((t[-1] - t[0]) * fps)) + 1) / fps
    right = np.clip(np.searchsorted(t, grid), 1, t.size - 1)
    nearest = np.where(np.abs(t[right - 1] - grid) <= np.abs(t[right] - grid), right - 1, right)
    return np.where(np.abs(t[nearest] - grid) <= 0.5 / fps, nearest, -1)


def finish(function: str, out: dict, why: dict[str, tuple[str, str]]) -> dict:
    """Make every float output finite or NaN and report a reason for each NaN one.

    ``why`` maps output keys to ``(kind, reason)``, why they are NaN (entries for keys that
    are not NaN are ignored). Infinite values become NaN with :data:`OVERFLOW`; in array
    outputs infinities become NaN too. Reasons are reported grouped.
    """
    grouped: dict[tuple[str, str], list[str]] = {}
    for key, value in out.items():
        if isinstance(value, np.ndarray):
            if value.dtype.kind == "f" and np.isinf(value).any():
                out[key] = np.where(np.isinf(value), np.nan, value)
                grouped.setdefault(OVERFLOW, []).append(key)
            continue
        if not isinstance(value, (float, np.floating)):
            continue
        if math.isinf(value):
            out[key] = math.nan
            grouped.setdefault(OVERFLOW, []).append(key)
        elif math.isnan(value):
            grouped.setdefault(why.get(key, _FALLBACK), []).append(key)
        else:
            out[key] = float(value)
    for (kind, reason), keys in grouped.items():
        report_nan(function, keys, reason, kind)
    return out


def consecutive_reason(x: np.ndarray, k: int, what: str) -> tuple[str, str]:
    """``(kind, reason)``: why ``what``, which needs ``k`` consecutive valid samples of ``x``, is NaN."""
    n = len(x)
    if n < k:
        return "too_short", f"{what} needs {k} consecutive samples (the series has {n})"
    if not np.isfinite(x).any():
        return NO_VALID_SAMPLES
    return "gaps", f"{what} needs {k} consecutive valid samples, and the gaps (NaN) leave no such stretch"
