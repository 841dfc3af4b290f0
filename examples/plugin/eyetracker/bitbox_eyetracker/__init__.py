"""A worked Bitbox plugin that brings a new kind of recording: eye-tracker samples in a CSV file.

It declares, through two entry points and nothing else (no change to Bitbox):

- the kind ``gaze`` (:data:`GAZE`): ``.csv`` / ``.tsv`` files whose header names ``gaze_x`` and
  ``gaze_y`` (other CSV files are not recordings of this kind: :func:`looks_like_gaze` sniffs the
  header, as xarray's ``guess_can_open`` does);
- the processor ``eyetracker`` (:class:`EyeTrackerProcessor`), the default for that kind:
  fixations and saccades with the velocity-threshold identification (I-VT) of Salvucci and
  Goldberg (2000), per-sample velocity, track loss, and a scanpath figure for the report.

The file: one row per sample, a header line, a time column (``time_s``, ``timestamp_s`` or
``timestamp_ms``), ``gaze_x`` and ``gaze_y`` (degrees of visual angle, or any unit with
``deg_per_unit``), optionally ``validity`` (1 valid, 0 lost); comma-, semicolon- or tab-separated,
UTF-8 with or without a byte-order mark, decimal commas in semicolon- or tab-separated files. An
empty gaze cell (or ``NaN``, ``NA``, ``.``) is track loss (blinks, looking away); any other value
that is not a number is refused with its column, count and first line. :func:`simulate` writes
such a file with known fixations and saccades.
"""
from __future__ import annotations

import math
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from bitbox import Measure, MeasurementError, Processor
from bitbox.kinds import Kind
from bitbox.params import Interval
from bitbox.processor import QualityColumns, join_notes

__all__ = ["GAZE", "GAP_INTERVALS", "EyeTrackerProcessor", "looks_like_gaze", "read_gaze", "ivt", "simulate"]

_TIME_COLUMNS = {"time_s": 1.0, "timestamp_s": 1.0, "timestamp_ms": 1e-3}
_REF = "Salvucci & Goldberg (2000), Identifying fixations and saccades in eye-tracking protocols, ETRA"
_EK = "Engbert & Kliegl (2003), Vision Research 43"
_ENCODING = "utf-8-sig"  # UTF-8, with or without the byte-order mark that spreadsheet exports write
_LINE_LIMIT = 65536  # characters: a longer first line is no header
_PEEK_LINES = 100  # data lines read to tell decimal commas
_MISSING = ["."]  # EyeLink's missing-value marker, besides pandas' own (empty, NaN, NA, null, ...)
#: A gap between two samples longer than this many median sample intervals is track loss between them.
GAP_INTERVALS = 1.5
_SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


def _header(path: Path) -> tuple[list[str], str]:
    """The column names of the first line (lower case) and its separator.

    Reads at most :data:`_LINE_LIMIT` characters. A first line that is no header, because it is
    longer than that, empty, or holds control characters (binary content), gives no names.
    """
    with open(path, encoding=_ENCODING, errors="replace") as handle:
        line = handle.readline(_LINE_LIMIT)
    if len(line) >= _LINE_LIMIT and not line.endswith("\n"):
        return [], ","
    line = line.rstrip("\r\n")
    if not line.strip() or any(unicodedata.category(ch) == "Cc" and ch != "\t" for ch in line):
        return [], ","
    sep = "\t" if "\t" in line else ";" if line.count(";") > line.count(",") else ","
    return [name.strip().strip('"').lower() for name in line.split(sep)], sep


def _decimal(path: Path, sep: str) -> str:
    """``","`` for a semicolon- or tab-separated file whose first data lines hold commas, else ``"."``."""
    if sep == ",":
        return "."
    with open(path, encoding=_ENCODING, errors="replace") as handle:
        handle.readline(_LINE_LIMIT)
        for _ in range(_PEEK_LINES):
            line = handle.readline(_LINE_LIMIT)
            if not line:
                break
            if "," in line:
                return ","
    return "."


def looks_like_gaze(path: Path) -> bool:
    """Whether a ``.csv``/``.tsv`` file's header names ``gaze_x`` and ``gaze_y`` (reads one line, 64 KiB at most)."""
    names, _ = _header(Path(path))
    return {"gaze_x", "gaze_y"} <= set(names)


#: The new kind of recording, registered as ``bitbox.kinds`` entry point ``gaze``.
GAZE = Kind("gaze", extensions=(".csv", ".tsv"), description="eye-tracker samples (CSV with gaze_x, gaze_y)",
            can_open=looks_like_gaze)


def _numbers(path: Path, table: pd.DataFrame, column: str, sep: str, decimal: str,
             hint: str = "Export numbers; an empty cell (or NaN, NA, '.') marks track loss") -> np.ndarray:
    """A column as floats (NaN where empty); a value that is not a number is a :class:`MeasurementError`."""
    raw = table[column]
    if pd.api.types.is_numeric_dtype(raw):
        return raw.to_numpy(float)
    text = raw.str.replace(",", ".", regex=False) if decimal == "," else raw  # pandas left the column as text
    values = pd.to_numeric(text, errors="coerce")
    bad = (values.isna() & raw.notna()).to_numpy()
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        value = str(raw.iloc[first])
        value = value if len(value) <= 40 else value[:37] + "..."
        if sep == ",":
            decimals = "a comma-separated file cannot hold decimal commas: export '.' decimals or separate by ';'"
        elif decimal == ",":
            decimals = "the file was read with decimal commas"
        else:
            decimals = "decimal commas are read when the first data lines show them"
        raise MeasurementError(path, f"its {column} column holds {int(bad.sum())} value(s) that are not numbers "
                               f"(the first at line {first + 2}: {value!r}; {decimals})", hint)
    return values.to_numpy(float)


def read_gaze(path: str | Path, *, deg_per_unit: float = 1.0) -> pd.DataFrame:
    """The samples of a gaze CSV: ``time_s`` from 0, ``x``, ``y`` in degrees, ``valid`` (bool).

    The separator is the header's; semicolon- and tab-separated files whose first data lines
    hold commas are read with decimal commas. Line numbers in the errors are the file's (the
    header is line 1); blank lines at the end are ignored, one inside the samples is a sample
    without a time.

    Raises
    ------
    MeasurementError
        When the first line is no header, the time or gaze columns are missing or hold values
        that are not numbers, a time is empty, there are fewer than 5 samples, or time does not
        increase.
    """
    path = Path(path)
    names, sep = _header(path)
    if not names:
        raise MeasurementError(path, "its first line is not a header of column names (empty, binary content, "
                               f"or longer than {_LINE_LIMIT} characters)", "Export the samples as a CSV with a header line")
    time_column = next((c for c in _TIME_COLUMNS if c in names), None)
    missing = [c for c in ("gaze_x", "gaze_y") if c not in names]
    if time_column is None or missing:
        raise MeasurementError(path, f"has no {'time column' if time_column is None else ', '.join(missing)} "
                               f"(its columns: {', '.join(names)})",
                               f"Export one of {', '.join(_TIME_COLUMNS)} and gaze_x, gaze_y")
    decimal = _decimal(path, sep)
    try:
        table = pd.read_csv(path, sep=sep, decimal=decimal, encoding=_ENCODING, encoding_errors="replace",
                            skip_blank_lines=False, skipinitialspace=True, na_values=_MISSING)
    except (pd.errors.ParserError, ValueError) as err:
        raise MeasurementError(path, f"could not be read as a {_SEPARATOR_NAMES[sep]}-separated table "
                               f"({str(err).strip()})", "Check that every row has the header's columns") from None
    table.columns = [str(c).strip().strip('"').lower() for c in table.columns]
    filled = np.flatnonzero(table.notna().any(axis=1).to_numpy())
    table = table.iloc[: filled[-1] + 1 if len(filled) else 0]  # blank lines at the end are no samples
    t = _numbers(path, table, time_column, sep, decimal, "Export the timestamps as numbers")
    t = t * _TIME_COLUMNS[time_column]
    if not np.all(np.isfinite(t)):
        empty = np.flatnonzero(~np.isfinite(t))
        raise MeasurementError(path, f"its {time_column} is empty or not a finite number at line {empty[0] + 2} "
                               f"({len(empty)} such sample(s))", "Every sample needs a time: remove rows without one")
    if not np.all(np.diff(t) > 0):
        sample = int(np.argmax(np.diff(t) <= 0)) + 2  # 1-based; the file's line is one more (the header)
        raise MeasurementError(path, f"its {time_column} does not increase (sample {sample}, line {sample + 1} of "
                               "the file, is not later than the one before)",
                               "Sort the samples by time and remove duplicated rows")
    if len(table) < 5:
        raise MeasurementError(path, f"holds {len(table)} samples; at least 5 are needed (the velocity spans five)",
                               "Check the export")
    x = _numbers(path, table, "gaze_x", sep, decimal) * deg_per_unit
    y = _numbers(path, table, "gaze_y", sep, decimal) * deg_per_unit
    valid = np.isfinite(x) & np.isfinite(y)
    if "validity" in table.columns:
        valid &= np.nan_to_num(_numbers(path, table, "validity", sep, decimal), nan=0.0) > 0
    return pd.DataFrame({"time_s": t - t[0], "x": x, "y": y, "valid": valid})


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` index ranges of the runs of True in ``mask`` (stop exclusive)."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    return list(zip(edges[::2], edges[1::2]))


def _interval(t: np.ndarray) -> float:
    """The median interval between samples (NaN for fewer than two)."""
    return float(np.median(np.diff(t))) if len(t) > 1 else math.nan


def _gaps(t: np.ndarray) -> np.ndarray:
    """Per interval (``len(t) - 1``): whether it is longer than :data:`GAP_INTERVALS` median intervals."""
    return np.diff(t) > GAP_INTERVALS * _interval(t) if len(t) > 1 else np.zeros(0, bool)


def ivt(t: np.ndarray, x: np.ndarray, y: np.ndarray, valid: np.ndarray, *, velocity_threshold: float = 30.0,
        min_fixation_s: float = 0.06) -> tuple[np.ndarray, np.ndarray]:
    """Velocity-threshold identification (I-VT): each sample's velocity and event.

    The velocity of sample ``i`` is Engbert and Kliegl's (2003) five-sample estimate over the
    samples' real times,

    ``v = |p[i+2] + p[i+1] - p[i-1] - p[i-2]| / (t[i+2] + t[i+1] - t[i-1] - t[i-2])``

    (deg/s). For a uniform interval ``dt`` the denominator is ``6 dt``, their formula; with the
    real times it is the same weighted difference taken of time, so that the estimate stays exact
    for gaze moving at constant velocity however irregular the sampling. It averages out tracker
    noise that a two-sample difference would take for saccades. The velocity is NaN for the
    first and last two samples, wherever one of the five samples is lost, and across a gap in
    time longer than :data:`GAP_INTERVALS` (1.5) median intervals (rows the tracker dropped: track
    loss between the samples, so no velocity spans it).

    A valid sample faster than ``velocity_threshold`` is a saccade sample, one not faster a
    fixation sample, a valid one whose velocity is NaN ``"unknown"`` (neither: so that a
    saccade starting right after a blink is not taken for fixation, and no fixation continues
    across a gap). A run of fixation samples shorter than ``min_fixation_s`` (first to last
    sample plus one median interval) is ``"short"``, not a fixation. Lost samples are ``"lost"``.
    Fewer than five samples give no velocity: every valid sample is ``"unknown"``.

    Returns
    -------
    velocity : ndarray of float
    event : ndarray of str
        ``"fixation"``, ``"saccade"``, ``"short"``, ``"unknown"`` or ``"lost"`` per sample.
    """
    t, x, y, valid = (np.asarray(a) for a in (t, x, y, valid))
    dt = _interval(t)
    velocity = np.full(len(t), np.nan)
    if len(t) >= 5:
        span = t[4:] + t[3:-1] - t[1:-3] - t[:-4]
        vx = (x[4:] + x[3:-1] - x[1:-3] - x[:-4]) / span
        vy = (y[4:] + y[3:-1] - y[1:-3] - y[:-4]) / span
        across = np.convolve(_gaps(t).astype(int), np.ones(4, int), mode="valid") > 0  # window i-2..i+2 has a gap
        velocity[2:-2] = np.where(across, np.nan, np.hypot(vx, vy))  # NaN too wherever a sample of the five is lost
    known = valid & np.isfinite(velocity)
    event = np.where(valid, "unknown", "lost").astype(object)
    event[known & (velocity > velocity_threshold)] = "saccade"
    event[known & ~(velocity > velocity_threshold)] = "fixation"
    for start, stop in _runs(event == "fixation"):
        if t[stop - 1] - t[start] + dt < min_fixation_s - 1e-9:  # 1e-9 s: timestamps rounded in the file
            event[start:stop] = "short"
    return velocity, event.astype(str)


def _events(t, x, y, velocity, event) -> tuple[list[float], list[float], list[float]]:
    """Fixation durations (s), saccade amplitudes (deg) and peak velocities (deg/s)."""
    dt = _interval(t)
    durations = [float(t[b - 1] - t[a] + dt) for a, b in _runs(event == "fixation")]
    amplitudes, peaks = [], []
    cut = ("lost", "unknown")
    for a, b in _runs(event == "saccade"):
        if a == 0 or event[a - 1] in cut or b >= len(t) or event[b] in cut:
            continue  # a saccade cut by track loss, a gap or the recording's edges: its amplitude is unknown
        amplitudes.append(float(math.hypot(x[b - 1] - x[a - 1], y[b - 1] - y[a - 1])))
        peaks.append(float(np.nanmax(velocity[a:b])))
    return durations, amplitudes, peaks


def _mean(values: list[float], scale: float = 1.0) -> float:
    return float(np.mean(values)) * scale if values else math.nan


class EyeTrackerProcessor(Processor):
    """Fixations and saccades from eye-tracker samples (I-VT), with track loss.

    Parameters
    ----------
    velocity_threshold : float
        Saccade velocity threshold in deg/s (Salvucci & Goldberg: 20-100; 30 is common for
        250-1000 Hz trackers).
    min_fixation_ms : float
        Shortest fixation in ms (shorter runs of slow samples are ``"short"``).
    deg_per_unit : float
        Degrees of visual angle per unit of ``gaze_x``/``gaze_y`` (1: the file is in degrees).
    """

    name = "eyetracker"
    version = "1.1.0"
    input_kinds = ("gaze",)
    default_for = ("gaze",)
    qc = QualityColumns(detected_fraction=("valid_fraction",))
    plot_measures = ("gaze_x", "gaze_y", "velocity")
    measures = (
        Measure("gaze_x", "deg", "Horizontal gaze position (NaN: track lost).", reference=_REF),
        Measure("gaze_y", "deg", "Vertical gaze position (NaN: track lost).", reference=_REF),
        Measure("velocity", "deg/s", "Gaze speed, Engbert & Kliegl's five-sample estimate over the samples' real "
                "times (NaN for the first and last two samples, next to track loss and across a gap in time longer "
                "than 1.5 median intervals).", valid_range=(0, math.inf), reference=_EK),
        Measure("event", "", "fixation, saccade, short (a fixation shorter than min_fixation_ms), lost, or unknown "
                "(a valid sample whose velocity is NaN: neither fixation nor saccade).", dtype="str", reference=_REF),
        Measure("sampling_rate_hz", "Hz", "1 / the median interval between samples.", "summary", (0, math.inf)),
        Measure("valid_fraction", "1", "Fraction of samples with a gaze position (not lost).", "summary", (0, 1)),
        Measure("fixation_count", "1", "Fixations (runs of samples slower than velocity_threshold, at least "
                "min_fixation_ms long).", "summary", (0, math.inf), dtype="int", reference=_REF),
        Measure("fixation_rate_per_s", "1/s", "Fixations per second of recording.", "summary", (0, math.inf)),
        Measure("fixation_duration_mean_ms", "ms", "Mean fixation duration (first to last sample + one interval).",
                "summary", (0, math.inf), reference=_REF),
        Measure("saccade_count", "1", "Saccades with a known start and end (not cut by track loss).", "summary",
                (0, math.inf), dtype="int", reference=_REF),
        Measure("saccade_amplitude_mean_deg", "deg", "Mean saccade amplitude: gaze before the first fast sample to "
                "the last fast sample.", "summary", (0, math.inf), reference=_REF),
        Measure("saccade_peak_velocity_mean_deg_s", "deg/s", "Mean of the saccades' peak velocities.", "summary",
                (0, math.inf), reference=_REF),
        Measure("notes", "", "Why a value is missing, and gaps in time treated as track loss.", "summary",
                dtype="str"),
    )
    _parameter_constraints = {
        "velocity_threshold": [Interval(float, 0, None, closed="neither")],
        "min_fixation_ms": [Interval(float, 0, None)],
        "deg_per_unit": [Interval(float, 0, None, closed="neither")],
    }

    def __init__(self, *, velocity_threshold: float = 30.0, min_fixation_ms: float = 60.0,
                 deg_per_unit: float = 1.0) -> None:
        self.velocity_threshold = velocity_threshold
        self.min_fixation_ms = min_fixation_ms
        self.deg_per_unit = deg_per_unit

    def compute(self, recording, sink, progress=None):
        """Read the samples, classify them, append the time series, return the summary."""
        samples = read_gaze(recording.path, deg_per_unit=self.deg_per_unit)
        t, x, y, valid = (samples[c].to_numpy() for c in ("time_s", "x", "y", "valid"))
        x, y = np.where(valid, x, np.nan), np.where(valid, y, np.nan)
        velocity, event = ivt(t, x, y, valid, velocity_threshold=self.velocity_threshold,
                              min_fixation_s=self.min_fixation_ms / 1000)
        sink.append(pd.DataFrame({"time_s": t, "gaze_x": x, "gaze_y": y, "velocity": velocity, "event": event}))
        durations, amplitudes, peaks = _events(t, x, y, velocity, event)
        dt = _interval(t)
        return {"sampling_rate_hz": round(1 / dt, 6), "valid_fraction": float(valid.mean()),
                "fixation_count": len(durations), "fixation_rate_per_s": len(durations) / (t[-1] + dt),
                "fixation_duration_mean_ms": _mean(durations, 1000), "saccade_count": len(amplitudes),
                "saccade_amplitude_mean_deg": _mean(amplitudes), "saccade_peak_velocity_mean_deg_s": _mean(peaks),
                "notes": join_notes(self._notes(t, valid, velocity, durations, amplitudes))}

    def _notes(self, t, valid, velocity, durations, amplitudes) -> list[str]:
        """Why the summary lacks values, and the gaps in time taken for track loss."""
        notes = []
        gaps = np.flatnonzero(_gaps(t))
        if len(gaps):
            lengths = t[gaps + 1] - t[gaps]
            longest = int(np.argmax(lengths))
            where = f"{lengths[longest] * 1000:.0f} ms after {t[gaps[longest]]:.3f} s"
            if len(gaps) == 1:
                notes.append(f"a gap in time of {where} (over {GAP_INTERVALS:g} sample intervals): track loss, "
                             "no velocity across it")
            else:
                notes.append(f"{len(gaps)} gaps in time over {GAP_INTERVALS:g} sample intervals "
                             f"({float(lengths.sum()) * 1000:.0f} ms in all, the longest {where}): track loss, "
                             "no velocity across them")
        if not valid.any():
            return notes + ["no valid gaze sample: no velocity, fixation or saccade"]
        if not np.isfinite(velocity).any():
            return notes + ["no velocity: no five valid samples in a row without a gap in time (Engbert & Kliegl's "
                            "estimate spans five): no fixation or saccade"]
        if not durations:
            notes.append(f"no fixation of at least {self.min_fixation_ms:g} ms: no fixation duration")
        if not amplitudes:
            notes.append("no saccade with a known start and end: no saccade amplitude or peak velocity")
        return notes

    @classmethod
    def plot_result(cls, result):
        """The scanpath (gaze positions: fixations in blue, saccades in orange; one degree as long on both
        axes, y downwards as on a screen) and gaze over time."""
        import matplotlib.pyplot as plt

        ts = result.timeseries
        fig, (path_ax, time_ax) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1, 2]})
        # the samples without a class first, so that fixations and saccades are drawn over them
        styles = {"unknown": ("#cccccc", 2), "short": ("#999999", 3), "fixation": ("#1f5f9f", 6),
                  "saccade": ("#e07b00", 6)}
        for name, (color, size) in styles.items():
            rows = ts["event"] == name
            if rows.any():
                path_ax.scatter(ts.loc[rows, "gaze_x"], ts.loc[rows, "gaze_y"], s=size, color=color, label=name)
        path_ax.set(xlabel="gaze x [deg]", ylabel="gaze y [deg] (down, as on a screen)", title="scanpath")
        path_ax.set_aspect("equal", adjustable="datalim")
        path_ax.invert_yaxis()
        path_ax.legend(fontsize=7, markerscale=2)
        for column, color in (("gaze_x", "#1f5f9f"), ("gaze_y", "#2ca02c")):
            time_ax.plot(ts["time_s"], ts[column], lw=0.8, color=color, label=column)
        lost = (ts["event"] == "lost").to_numpy()
        if lost.any():
            bottom, top = time_ax.get_ylim()
            time_ax.fill_between(ts["time_s"], bottom, top, where=lost, color="#d62728", alpha=0.15, lw=0,
                                 label="track lost")
        time_ax.set(xlabel="time [s]", ylabel="[deg]", title="gaze over time")
        time_ax.legend(fontsize=7, loc="upper right")
        fig.tight_layout()
        return fig


def simulate(path: str | Path, *, n_fixations: int = 8, rate_hz: float = 250.0, fixation_s: float = 0.3,
             amplitude_deg: float = 8.0, noise_deg: float = 0.03, loss_s: tuple[float, float] | None = (0.75, 0.85),
             seed: int = 0) -> dict:
    """Write a gaze CSV with known fixations and saccades; return the truth.

    Fixations last ``fixation_s`` at positions ``amplitude_deg`` apart (random directions), with
    Gaussian noise of ``noise_deg`` (EyeLink-class trackers: about 0.01-0.05 deg); saccades between
    them follow a minimum-jerk profile lasting ``2.2 ms/deg x amplitude + 21 ms`` (Carpenter's main
    sequence). ``loss_s``: a stretch of track loss (empty gaze cells), as a blink gives.

    Returns
    -------
    dict
        The truth after the loss, as a five-sample velocity can see it: the two samples next to
        lost ones and to the recording's edges have no velocity, so they belong to no event.
        ``n_fixations`` (runs of the remaining fixation samples of at least 60 ms: a loss inside a
        fixation splits it), ``n_saccades`` (saccades whose samples before and after have a
        velocity: no lost sample within two of either), ``amplitude_deg``,
        ``rate_hz``, ``valid_fraction``. With the defaults these are the plain counts, 9 and 7.
    """
    rng = np.random.default_rng(seed)
    saccade_s = (2.2 * amplitude_deg + 21) / 1000
    positions = [np.zeros(2)]
    for _ in range(n_fixations - 1):
        angle = rng.uniform(0, 2 * np.pi)
        positions.append(positions[-1] + amplitude_deg * np.array([np.cos(angle), np.sin(angle)]))
    points, labels = [], []
    n_fix, n_sac = int(round(fixation_s * rate_hz)), int(round(saccade_s * rate_hz))
    for i, position in enumerate(positions):
        points += [position] * n_fix
        labels += ["fixation"] * n_fix
        if i + 1 < len(positions):
            s = np.arange(1, n_sac) / n_sac
            s = 10 * s ** 3 - 15 * s ** 4 + 6 * s ** 5  # minimum jerk
            points += list(position + s[:, None] * (positions[i + 1] - position))
            labels += ["saccade"] * (n_sac - 1)
    xy = np.array(points) + rng.normal(0, noise_deg, (len(points), 2))
    time = np.arange(len(points)) / rate_hz
    label = np.array(labels, dtype=object)
    if loss_s is not None:
        lost = (time >= loss_s[0]) & (time < loss_s[1])
        xy[lost] = np.nan
        label[lost] = "lost"
    pd.DataFrame({"time_s": np.round(time, 6), "gaze_x": np.round(xy[:, 0], 4),
                  "gaze_y": np.round(xy[:, 1], 4)}).to_csv(path, index=False, na_rep="")
    blind = np.convolve(np.r_[1, 1, label == "lost", 1, 1].astype(int), np.ones(5, int), mode="valid") > 0
    seen = np.where(blind & (label != "lost"), "unknown", label)  # no velocity within two samples of loss or edges
    fixations = [r for r in _runs(seen == "fixation") if (r[1] - r[0]) / rate_hz >= 0.06 - 1e-9]
    saccades = [(a, b) for a, b in _runs(label == "saccade")
                if seen[a - 1] not in ("lost", "unknown") and seen[b] not in ("lost", "unknown")]
    return {"n_fixations": len(fixations), "n_saccades": len(saccades), "amplitude_deg": amplitude_deg,
            "rate_hz": rate_hz, "valid_fraction": float(np.mean(label != "lost"))}
