"""A worked Bitbox plugin that brings a new kind of recording: eye-tracker samples in a CSV file.

It declares, through two entry points and nothing else (no change to Bitbox):

- the kind ``gaze`` (:data:`GAZE`): ``.csv`` / ``.tsv`` files whose header names ``gaze_x`` and
  ``gaze_y`` (other CSV files are not recordings of this kind: :func:`looks_like_gaze` sniffs the
  header, as xarray's ``guess_can_open`` does);
- the processor ``eyetracker`` (:class:`EyeTrackerProcessor`), the default for that kind:
  fixations and saccades with the velocity-threshold identification (I-VT) of Salvucci and
  Goldberg (2000), per-sample velocity, track loss, and a scanpath figure for the report.

The file: one row per sample, a time column (``time_s``, ``timestamp_s`` or ``timestamp_ms``),
``gaze_x`` and ``gaze_y`` (degrees of visual angle, or any unit with ``deg_per_unit``), optionally
``validity`` (1 valid, 0 lost). Empty gaze cells are track loss (blinks, looking away).
:func:`simulate` writes such a file with known fixations and saccades.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from bitbox import Measure, MeasurementError, Processor
from bitbox.kinds import Kind
from bitbox.params import Interval
from bitbox.processor import QualityColumns, join_notes

__all__ = ["GAZE", "EyeTrackerProcessor", "looks_like_gaze", "read_gaze", "ivt", "simulate"]

_TIME_COLUMNS = {"time_s": 1.0, "timestamp_s": 1.0, "timestamp_ms": 1e-3}
_REF = "Salvucci & Goldberg (2000), Identifying fixations and saccades in eye-tracking protocols, ETRA"


def _header(path: Path) -> list[str]:
    with open(path, encoding="utf-8", errors="replace") as handle:
        line = handle.readline()
    sep = "\t" if "\t" in line else ";" if line.count(";") > line.count(",") else ","
    return [name.strip().strip('"').lower() for name in line.split(sep)]


def looks_like_gaze(path: Path) -> bool:
    """Whether a ``.csv``/``.tsv`` file's header names ``gaze_x`` and ``gaze_y`` (reads one line)."""
    names = set(_header(Path(path)))
    return {"gaze_x", "gaze_y"} <= names


#: The new kind of recording, registered as ``bitbox.kinds`` entry point ``gaze``.
GAZE = Kind("gaze", extensions=(".csv", ".tsv"), description="eye-tracker samples (CSV with gaze_x, gaze_y)",
            can_open=looks_like_gaze)


def read_gaze(path: str | Path, *, deg_per_unit: float = 1.0) -> pd.DataFrame:
    """The samples of a gaze CSV: ``time_s`` from 0, ``x``, ``y`` in degrees, ``valid`` (bool).

    Raises
    ------
    MeasurementError
        When the time or gaze columns are missing, not numbers, or time does not increase.
    """
    path = Path(path)
    names = _header(path)
    time_column = next((c for c in _TIME_COLUMNS if c in names), None)
    missing = [c for c in ("gaze_x", "gaze_y") if c not in names]
    if time_column is None or missing:
        raise MeasurementError(path, f"has no {'time column' if time_column is None else ', '.join(missing)} "
                               f"(its columns: {', '.join(names)})",
                               f"Export one of {', '.join(_TIME_COLUMNS)} and gaze_x, gaze_y")
    table = pd.read_csv(path, sep=None, engine="python")
    table.columns = [str(c).strip().lower() for c in table.columns]
    try:
        t = pd.to_numeric(table[time_column], errors="raise").to_numpy(float) * _TIME_COLUMNS[time_column]
    except (TypeError, ValueError):
        raise MeasurementError(path, f"its {time_column} column holds values that are not numbers",
                               "Export the timestamps as numbers") from None
    if len(t) < 3:
        raise MeasurementError(path, f"holds {len(t)} samples; at least 3 are needed", "Check the export")
    if not np.all(np.diff(t) > 0):
        sample = int(np.argmax(np.diff(t) <= 0)) + 2  # 1-based; the file's line is one more (the header)
        raise MeasurementError(path, f"its {time_column} does not increase (sample {sample}, line {sample + 1} of "
                               "the file, is not later than the one before)",
                               "Sort the samples by time and remove duplicated rows")
    x = pd.to_numeric(table["gaze_x"], errors="coerce").to_numpy(float) * deg_per_unit
    y = pd.to_numeric(table["gaze_y"], errors="coerce").to_numpy(float) * deg_per_unit
    valid = np.isfinite(x) & np.isfinite(y)
    if "validity" in table.columns:
        valid &= pd.to_numeric(table["validity"], errors="coerce").fillna(0).to_numpy() > 0
    return pd.DataFrame({"time_s": t - t[0], "x": x, "y": y, "valid": valid})


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` index ranges of the runs of True in ``mask`` (stop exclusive)."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    return list(zip(edges[::2], edges[1::2]))


def ivt(t: np.ndarray, x: np.ndarray, y: np.ndarray, valid: np.ndarray, *, velocity_threshold: float = 30.0,
        min_fixation_s: float = 0.06) -> tuple[np.ndarray, np.ndarray]:
    """Velocity-threshold identification (I-VT): each sample's velocity and event.

    The velocity of sample ``i`` is Engbert and Kliegl's (2003) five-sample estimate,
    ``v = |p[i+2] + p[i+1] - p[i-1] - p[i-2]| / (6 dt)`` (deg/s; NaN for the first and last two
    samples and next to track loss): it averages out tracker noise that a two-sample difference
    would take for saccades. A valid sample faster than
    ``velocity_threshold`` is a saccade sample, a slower one a fixation sample; a run of fixation
    samples shorter than ``min_fixation_s`` (first to last sample plus one sample interval) is
    ``"short"``, not a fixation. Lost samples are ``"lost"``.

    Returns
    -------
    velocity : ndarray of float
    event : ndarray of str
        ``"fixation"``, ``"saccade"``, ``"short"`` or ``"lost"`` per sample.
    """
    dt = float(np.median(np.diff(t)))
    velocity = np.full(len(t), np.nan)
    if len(t) >= 5:
        vx = (x[4:] + x[3:-1] - x[1:-3] - x[:-4]) / (6 * dt)
        vy = (y[4:] + y[3:-1] - y[1:-3] - y[:-4]) / (6 * dt)
        velocity[2:-2] = np.hypot(vx, vy)  # NaN wherever a sample of the five is lost
    event = np.where(valid, "fixation", "lost").astype(object)
    event[valid & (velocity > velocity_threshold)] = "saccade"
    for start, stop in _runs(event == "fixation"):
        if t[stop - 1] - t[start] + dt < min_fixation_s:
            event[start:stop] = "short"
    return velocity, event.astype(str)


def _events(t, x, y, velocity, event) -> tuple[list[float], list[float], list[float]]:
    """Fixation durations (s), saccade amplitudes (deg) and peak velocities (deg/s)."""
    dt = float(np.median(np.diff(t)))
    durations = [float(t[b - 1] - t[a] + dt) for a, b in _runs(event == "fixation")]
    amplitudes, peaks = [], []
    for a, b in _runs(event == "saccade"):
        if a == 0 or event[a - 1] == "lost" or b >= len(t) or event[b] == "lost":
            continue  # a saccade cut by track loss or the recording's edges: its amplitude is unknown
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
    version = "1.0.0"
    input_kinds = ("gaze",)
    default_for = ("gaze",)
    qc = QualityColumns(detected_fraction=("valid_fraction",))
    plot_measures = ("gaze_x", "gaze_y", "velocity")
    measures = (
        Measure("gaze_x", "deg", "Horizontal gaze position (NaN: track lost).", reference=_REF),
        Measure("gaze_y", "deg", "Vertical gaze position (NaN: track lost).", reference=_REF),
        Measure("velocity", "deg/s", "Gaze speed, Engbert & Kliegl's five-sample estimate (NaN next to track loss).",
                valid_range=(0, math.inf), reference="Engbert & Kliegl (2003), Vision Research 43"),
        Measure("event", "", "fixation, saccade, short (a fixation shorter than min_fixation_ms) or lost.",
                dtype="str", reference=_REF),
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
        Measure("notes", "", "Why a value is missing.", "summary", dtype="str"),
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
        dt = float(np.median(np.diff(t)))
        notes = []
        if not durations:
            notes.append(f"no fixation of at least {self.min_fixation_ms:g} ms: no fixation duration")
        if not amplitudes:
            notes.append("no saccade with a known start and end: no saccade amplitude or peak velocity")
        return {"sampling_rate_hz": 1 / dt, "valid_fraction": float(valid.mean()),
                "fixation_count": len(durations), "fixation_rate_per_s": len(durations) / (t[-1] + dt),
                "fixation_duration_mean_ms": _mean(durations, 1000), "saccade_count": len(amplitudes),
                "saccade_amplitude_mean_deg": _mean(amplitudes), "saccade_peak_velocity_mean_deg_s": _mean(peaks),
                "notes": join_notes(notes)}

    @classmethod
    def plot_result(cls, result):
        """The scanpath (gaze positions, fixations in blue, saccades in orange) and gaze over time."""
        import matplotlib.pyplot as plt

        ts = result.timeseries
        fig, (path_ax, time_ax) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1, 2]})
        colors = {"fixation": "#1f5f9f", "saccade": "#e07b00", "short": "#999999"}
        for name, color in colors.items():
            rows = ts["event"] == name
            path_ax.scatter(ts.loc[rows, "gaze_x"], ts.loc[rows, "gaze_y"], s=3, color=color, label=name)
        path_ax.set(xlabel="gaze x [deg]", ylabel="gaze y [deg]", title="scanpath")
        path_ax.invert_yaxis()
        path_ax.legend(fontsize=7, markerscale=3)
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
        The truth after the loss: ``n_fixations`` (runs of fixation samples of at least 60 ms: a
        loss inside a fixation splits it), ``n_saccades`` (saccades whose samples before and after
        are not lost), ``amplitude_deg``, ``rate_hz``, ``valid_fraction``.
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
    fixations = [r for r in _runs(label == "fixation") if (r[1] - r[0]) / rate_hz >= 0.06]
    saccades = [(a, b) for a, b in _runs(label == "saccade") if label[a - 1] != "lost" and label[b] != "lost"]
    return {"n_fixations": len(fixations), "n_saccades": len(saccades), "amplitude_deg": amplitude_deg,
            "rate_hz": rate_hz, "valid_fraction": float(np.mean(label != "lost"))}
