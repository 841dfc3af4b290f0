"""The ``eeg`` processor: MNE-based reading, preprocessing, spectral measures and ERPs.

Pipeline (every parameter is recorded in the provenance):

1. **Read** EDF/BDF, GDF, FIF, BrainVision (``.vhdr``) or EEGLAB (``.set``) with MNE: refuse
   EDF/BDF/GDF files shorter than their header declares (truncated); read the events of stim
   channels into annotations (named by code); keep the EEG channels; optionally override the
   file's units (``units``); check for NaNs; apply the standard 10-20 montage where channel
   names match. Implausible amplitudes (e.g. microvolts stored as volts) are flagged with a
   note that says which ``units`` to rerun with.
2. **Preprocess**: resample (optional), notch at the line frequency and its harmonics,
   band-pass, mark bad channels (flat, or robust z-score of log-variance above
   ``bad_channel_z``; named in ``bad_channels``) and interpolate them when positions are
   known, optional ICA with automatic component labelling (mne-icalabel; components labelled
   as eye, muscle, heart, line or channel noise with probability above ``ica_threshold`` are
   removed), re-reference to the average (noted when over fewer than 8 channels).
3. **Measure**: absolute and relative band power (Welch, ``window_s`` windows) per channel
   and averaged, the individual alpha peak frequency; and, when the recording has events
   (annotations or a stim channel): epochs per condition (each event code on its own, so codes
   sharing a sample each keep their events; exact repeats merged) with peak-to-peak
   rejection, event/rejected/kept counts, ERPs, and component measures (peak latency, peak
   amplitude, mean amplitude) in windows.

Every warning that does not stop the processor is a sentence in the ``notes`` summary
measure; every failure, including one inside MNE, is a :class:`~bitbox.errors.RecordingError`
or :class:`~bitbox.errors.MeasurementError` naming the file, the step and what to do.
"""
from __future__ import annotations

import math
import re
import struct
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from bitbox.catalog import Measure
from bitbox.errors import BitboxError, MeasurementError, ParameterError, RecordingError
from bitbox.log import logger
from bitbox.params import Bool, InstanceOf, Interval, NoneOk, Options
from bitbox.measurements import Curve
from bitbox.processor import Processor, ProgressCallback, QualityColumns, Summary, join_notes
from bitbox.recording import Recording

__all__ = ["EegProcessor", "read_raw", "check_complete", "units_note", "spectral_summary", "band_powers", "BANDS",
           "COMPONENTS", "UNITS", "condition_name", "annotation_events", "RECORDING_MARKERS", "bids_path",
           "bids_sidecars", "check_bids_events", "check_bids_channels", "BIDS_READABLE"]

#: Frequency bands (Hz), half-open [low, high).
BANDS: dict[str, tuple[float, float]] = {"delta": (1.0, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 13.0),
                                         "beta": (13.0, 30.0), "gamma": (30.0, 40.0)}
#: Default ERP components: window (ms), polarity, and the channels averaged (those present).
COMPONENTS: dict[str, tuple[float, float, str, tuple[str, ...]]] = {
    "n1": (80.0, 150.0, "negative", ("Cz", "FCz", "Fz")),
    "p2": (150.0, 250.0, "positive", ("Cz", "FCz", "Fz")),
    "p3": (250.0, 500.0, "positive", ("Pz", "CPz", "P3", "P4")),
    "lpp": (400.0, 800.0, "positive", ("Pz", "CPz", "Cz")),
}
_ARTIFACT_LABELS = ("eye blink", "muscle artifact", "heart beat", "line noise", "channel noise")
_REF = "Gramfort et al. (2013), MEG and EEG data analysis with MNE-Python"
_ERP_REF = "Luck (2014), An Introduction to the Event-Related Potential Technique"
#: The codebook's reasons for per-channel and per-condition columns a recording has not (other recordings have)
_NO_CHANNEL = "NaN when the recording has no such channel (other recordings of the batch have it) - nothing to fix"
_NO_CONDITION = ("NaN when the recording has no events of that condition (read from annotations, a stim channel or "
                 "a BIDS events.tsv; other recordings of the batch have them) - ERPs need events: check the "
                 "recording's triggers, or see eeg.notes")
_ALPHA_REF = "Klimesch (1999), individual alpha frequency; here the 7-13 Hz peak above a 1/f fit"
_READERS = {".edf": "read_raw_edf", ".bdf": "read_raw_bdf", ".gdf": "read_raw_gdf", ".fif": "read_raw_fif",
            ".vhdr": "read_raw_brainvision", ".set": "read_raw_eeglab"}

#: Scale of each unit the ``units`` parameter accepts, in volts.
UNITS: dict[str, float] = {"V": 1.0, "mV": 1e-3, "uV": 1e-6}
_UNIT_WORDS = {"V": "volts", "mV": "millivolts", "uV": "microvolts", "nV": "nanovolts"}
_UNIT_SCALES = {**UNITS, "nV": 1e-9}
#: Median channel amplitudes (uV) outside this range are implausible for scalp EEG.
PLAUSIBLE_UV = (0.01, 1000.0)
#: Fewer good channels than this make the average reference unreliable (a note says so).
MIN_AVERAGE_REFERENCE_CHANNELS = 8
#: Floor of the robust SD of channels' log-variances in bad-channel detection.
_MIN_LOG_VAR_SD = 0.25


_MEASURES = [
    *[Measure(f"rel_power_{b}", "1", f"Relative {b} power ({lo:g}-{hi:g} Hz) in the window, mean over channels: "
              "band power / power from 1 to 40 Hz; NaN when the spectrum has no frequency in the band.", "timeseries",
              (0, 1), reference=_REF)
      for b, (lo, hi) in BANDS.items()],
    *[Measure(f"abs_power_{b}_uv2", "uV^2", f"Absolute {b} power ({lo:g}-{hi:g} Hz) in the window, mean over "
              "channels (Welch PSD integrated over the band); NaN when the spectrum has no frequency in the band.",
              "timeseries", (0, math.inf), reference=_REF)
      for b, (lo, hi) in BANDS.items()],
    *[Measure(f"rel_power_{b}", "1", f"Relative {b} power over the recording, mean over channels.", "summary",
              (0, 1), reference=_REF, evidence="Relative powers of the five bands sum to 1 (by construction, "
                                                "tested).") for b in BANDS],
    *[Measure(f"abs_power_{b}_uv2", "uV^2", f"Absolute {b} power over the recording, mean over the channels with a "
              "value; NaN, with a note, when no channel has one (e.g. a spectrum that stops below the band).",
              "summary", (0, math.inf), reference=_REF) for b in BANDS],
    Measure(r"rel_power_(delta|theta|alpha|beta|gamma)_ch_.+", "1", "Relative band power of one channel "
            "(rel_power_<band>_ch_<channel>).", "summary", (0, 1), pattern=True, reference=_REF,
            nan_reason=_NO_CHANNEL),
    Measure(r"abs_power_(delta|theta|alpha|beta|gamma)_uv2_ch_.+", "uV^2", "Absolute band power of one channel "
            "(abs_power_<band>_uv2_ch_<channel>).", "summary", (0, math.inf), pattern=True, reference=_REF,
            nan_reason=_NO_CHANNEL),
    Measure("alpha_peak_hz", "Hz", "Individual alpha peak frequency: the maximum of the channel-mean PSD between "
            "7 and 13 Hz after removing a 1/f fit (log-log line over 2-40 Hz), refined by a parabola; NaN "
            "without a peak.", "summary", (7, 13), reference=_ALPHA_REF,
            evidence="Simulated EEG with a 9.5 Hz alpha rhythm over 1/f noise: recovered within 0.5 Hz."),
    Measure("n_channels", "1", "EEG channels analysed.", "summary", (0, math.inf)),
    Measure("n_bad_channels", "1", "Channels marked bad (flat or extreme variance) and interpolated or dropped.",
            "summary", (0, math.inf)),
    Measure("bad_channels", "", "The channels marked bad, comma-separated (\"\" when none); their per-channel "
            "band powers are NaN when they were dropped rather than interpolated.", "summary", dtype="str"),
    Measure("n_ica_excluded", "1", "ICA components removed as artefacts (0 without ICA).", "summary",
            (0, math.inf)),
    Measure("amplitude_median_uv", "uV", "Median over channels of each channel's median absolute deviation "
            "from its median, in the raw EEG (before filtering); typically 5-50 uV.", "summary", (0, math.inf)),
    Measure("units_suspect", "1", f"1 when the raw amplitude is implausible for scalp EEG (median above "
            f"{PLAUSIBLE_UV[1]:g} uV: e.g. microvolts stored as volts; or below {PLAUSIBLE_UV[0]:g} uV); the note "
            "says which `units` to rerun with.", "summary", (0, 1)),
    Measure("duration_s", "s", "Duration of the recording (samples / sampling rate).", "summary", (0, math.inf)),
    Measure(r"erp_[a-z0-9_]+_n_events", "1", "Events of the condition (repeated events at the same sample "
            "merged), each the start of one epoch.", "summary", (0, math.inf), pattern=True, reference=_ERP_REF,
            nan_reason=_NO_CONDITION),
    Measure(r"erp_[a-z0-9_]+_n_rejected", "1", "Epochs of the condition dropped by the peak-to-peak rejection "
            "(reject_uv); events too close to the recording's edges for a whole epoch are neither kept nor "
            "rejected.", "summary", (0, math.inf), pattern=True, reference=_ERP_REF, nan_reason=_NO_CONDITION),
    Measure(r"erp_[a-z0-9_]+_n_trials", "1", "Epochs of the condition kept after peak-to-peak rejection.",
            "summary", (0, math.inf), pattern=True, reference=_ERP_REF, nan_reason=_NO_CONDITION),
    Measure("notes", "", "What was found that did not stop the processor (implausible units, bad channels, a "
            "reference over few channels, merged or simultaneous events, conditions left without epochs), each "
            "with what to do; \" | \"-joined, \"\" when none.", "summary", dtype="str"),
    Measure(r"erp_[a-z0-9_]+_peak_latency_ms", "ms", "Latency of the component's peak (largest positive or "
            "negative deflection in its window) in the condition's ERP, averaged over the component's channels.",
            "summary", (-math.inf, math.inf), pattern=True, reference=_ERP_REF, nan_reason=_NO_CONDITION,
            evidence="Simulated P3 (350 ms, 10 uV at Pz, 60 trials): latency within 10 ms."),
    Measure(r"erp_[a-z0-9_]+_peak_amplitude_uv", "uV", "Amplitude at the component's peak.", "summary",
            None, pattern=True, reference=_ERP_REF, nan_reason=_NO_CONDITION,
            evidence="Simulated P3 of 10 uV: amplitude within 10%."),
    Measure(r"erp_[a-z0-9_]+_mean_amplitude_uv", "uV", "Mean amplitude over the component's window.", "summary",
            None, pattern=True, reference=_ERP_REF, nan_reason=_NO_CONDITION),
]


def condition_name(description: str) -> str:
    """An event description as a measure-name part: lower case, letters, digits and underscores."""
    name = re.sub(r"[^a-z0-9]+", "_", str(description).lower()).strip("_")
    return name or "event"


# ---------------------------------------------------------------------------- units
def _unit_key(text: str | None) -> str | None:
    """``"µV"``, ``"uv"``, ``"μV"`` -> ``"uV"``; ``"mV"`` -> ``"mV"``; ``"V"`` -> ``"V"``; else None."""
    if text is None:
        return None
    key = str(text).strip().replace("\u00b5", "u").replace("\u03bc", "u").lower()
    return {"v": "V", "mv": "mV", "uv": "uV", "nv": "nV"}.get(key)


# ---------------------------------------------------------------------------- file layout
@dataclass(frozen=True)
class _Layout:
    """What an EDF/BDF/GDF header declares: records, record length, per-signal labels and units."""

    header_bytes: int
    n_records: int
    record_s: float
    record_bytes: int
    labels: tuple[str, ...]
    units: tuple[str, ...]  # the unit MNE scales each signal by ("uV", "mV", "V" or the header's text)


_GDF_BYTES = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 8, 8: 8, 16: 4, 17: 8, 18: 16, 279: 3, 535: 3}


def _edf_layout(head: bytes, bytes_per_sample: int) -> _Layout:
    n = int(head[252:256])

    def field(before: int, width: int) -> list[str]:
        start = 256 + n * before
        return [head[start + i * width:start + (i + 1) * width].decode("latin-1").strip() for i in range(n)]

    samples = [int(v) for v in field(216, 8)]
    return _Layout(int(head[184:192]), int(head[236:244]), float(head[244:252]),
                   sum(samples) * bytes_per_sample, tuple(field(0, 16)), tuple(field(96, 8)))


def _gdf_layout(head: bytes) -> _Layout:
    version = float(head[4:8].decode("ascii"))
    n = struct.unpack("<H" if version >= 2 else "<I", head[252:254] if version >= 2 else head[252:256])[0]
    header = struct.unpack("<H", head[184:186])[0] * 256 if version >= 2 else struct.unpack("<q", head[184:192])[0]
    n_records = struct.unpack("<q", head[236:244])[0]
    num, den = struct.unpack("<II", head[244:252])
    samples = struct.unpack(f"<{n}i", head[256 + 216 * n:256 + 220 * n])
    types = struct.unpack(f"<{n}I", head[256 + 220 * n:256 + 224 * n])
    labels = tuple(head[256 + 16 * i:256 + 16 * (i + 1)].decode("latin-1").strip() for i in range(n))
    if version >= 2:  # MNE scales by the dimension code: 4275 uV, 4274 mV, else 1
        codes = struct.unpack(f"<{n}H", head[256 + 102 * n:256 + 104 * n])
        units = tuple({4275: "uV", 4274: "mV"}.get(c, "V") for c in codes)
    else:  # MNE scales "uV..." by 1e-6, everything else by 1
        text = [head[256 + 96 * n + 8 * i:256 + 96 * n + 8 * (i + 1)].decode("latin-1").strip() for i in range(n)]
        units = tuple("uV" if t[:2] == "uV" else "V" for t in text)
    record_bytes = sum(s * _GDF_BYTES[t] for s, t in zip(samples, types))
    return _Layout(int(header), int(n_records), num / den if den else 0.0, record_bytes, labels, units)


def _layout(path: Path) -> _Layout | None:
    """The header's declared layout of an EDF/BDF/GDF file; None when it cannot be parsed (MNE will say why)."""
    try:
        with open(path, "rb") as handle:
            first = handle.read(256)
            if first[:3] == b"GDF":
                version = float(first[4:8].decode("ascii"))
                n = struct.unpack("<H", first[252:254])[0] if version >= 2 else struct.unpack("<I", first[252:256])[0]
                return _gdf_layout(first + handle.read(256 * n))
            n = int(first[252:256])
            return _edf_layout(first + handle.read(256 * n), 3 if first[:1] == b"\xff" else 2)
    except (OSError, ValueError, KeyError, struct.error, ZeroDivisionError, OverflowError):
        return None  # UnicodeDecodeError is a ValueError


def _seconds(value: float) -> str:
    return f"{round(value, 1):g} s" if value >= 1 else f"{value:.3g} s"


def check_complete(path: str | Path) -> None:
    """Refuse an EDF/BDF/GDF file shorter than its header's record count x record length.

    Raises
    ------
    RecordingError
        Naming the duration the header declares, the duration the file holds and what is missing.
    """
    path = Path(path)
    layout = _layout(path)
    if layout is None or layout.n_records <= 0 or layout.record_bytes <= 0 or layout.record_s <= 0:
        return  # unknown record count (-1) or an unparsable header: nothing to compare
    size = path.stat().st_size
    expected = layout.header_bytes + layout.n_records * layout.record_bytes
    if size >= expected:
        return
    total = layout.n_records * layout.record_s
    held = max(size - layout.header_bytes, 0) / layout.record_bytes * layout.record_s
    missing = total - held
    raise RecordingError(path, f"is truncated: its header declares {layout.n_records} data records of "
                         f"{layout.record_s:g} s ({_seconds(total)}) but the file holds only {_seconds(held)} of "
                         f"data: {_seconds(missing)} ({100 * missing / total:.0f}%) of the recording are missing "
                         f"({expected - size} bytes)",
                         "Copy the complete file again from the recording system (or export it again); "
                         "a partial recording is not analysed")


_READ_HINTS = {
    ".vhdr": "Check that the .vhdr header, the .vmrk markers and the .eeg data are all complete (one cut short or "
             "edited by hand fails here) and open in the recording software; export them again if not",
    ".set": "The .set file is probably truncated or damaged: copy it again, or export it again from EEGLAB",
}
_BV_BYTES = {"INT_16": 2, "UINT_16": 2, "INT_32": 4, "IEEE_FLOAT_32": 4}


def _header_value(text: str, key: str) -> str | None:
    match = re.search(rf"^{key}=(.*)$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else None


def check_brainvision(path: str | Path) -> None:
    """Refuse a BrainVision set whose data or marker file is missing, empty or truncated.

    The header (``.vhdr``) names its data (``DataFile=``) and marker (``MarkerFile=``) files; a
    binary multiplexed data file must hold a whole number of samples of every channel, and the
    markers must lie inside the data.

    Raises
    ------
    RecordingError
        Naming the file at fault, what is wrong and what to do.
    """
    path = Path(path)
    text = path.read_text(encoding="latin-1")
    named = {key: _header_value(text, key) for key in ("DataFile", "MarkerFile")}
    for key, name in named.items():
        if name and not (path.parent / name).is_file():
            own = path.with_suffix(".eeg" if key == "DataFile" else ".vmrk")
            hint = (f"The files were probably renamed: set {key}={own.name} in {path.name} (a text file)"
                    if own.is_file() else "Keep the .vhdr, .vmrk and .eeg files together in one folder")
            raise RecordingError(path, f"the BrainVision companion file {name!r} that the header names "
                                 f"({key}=) is missing", hint)
    data_name = named["DataFile"]
    if not data_name:
        return
    data = path.parent / data_name
    size = data.stat().st_size
    if size == 0:
        raise RecordingError(path, f"its data file {data_name!r} is empty", "Copy or export the recording again")
    n_channels = _header_value(text, "NumberOfChannels")
    width = _BV_BYTES.get(_header_value(text, "BinaryFormat") or "")
    interval_us = _header_value(text, "SamplingInterval")
    if (_header_value(text, "DataFormat") or "BINARY").upper() != "BINARY" or not width or not n_channels:
        return  # ASCII or vectorized data: MNE checks those
    try:
        frame = int(n_channels) * width
        n_samples = size / frame
        sfreq = 1e6 / float(interval_us) if interval_us else math.nan
    except (ValueError, ZeroDivisionError):
        return
    if size % frame:
        raise RecordingError(path, f"its data file {data_name!r} is truncated: {size} bytes is not a whole number of "
                             f"samples of its {n_channels} channels ({frame} bytes each)",
                             "Copy or export the recording again; a partial recording is not analysed")
    marker = path.parent / named["MarkerFile"] if named["MarkerFile"] else None
    if marker is not None and marker.is_file():
        positions = [int(m.group(1)) for m in re.finditer(r"^Mk\d+=[^,\n]*,[^,\n]*,\s*(\d+)",
                                                          marker.read_text(encoding="latin-1"), flags=re.MULTILINE)]
        past = [p for p in positions if p > n_samples]
        if past and math.isfinite(sfreq):
            raise RecordingError(path, f"its data file {data_name!r} is probably truncated: it holds "
                                 f"{_seconds(n_samples / sfreq)} of data but {len(past)} of the "
                                 f"{len(positions)} markers lie after its end (the last at "
                                 f"{_seconds(max(past) / sfreq)})",
                                 "Copy or export the recording again; a partial recording is not analysed")


def check_eeglab(path: str | Path) -> None:
    """Refuse an EEGLAB ``.set`` whose separate data file (``.fdt``) is missing or shorter than the
    header's channels x points x trials of float32 samples.

    Raises
    ------
    RecordingError
        Naming the data file, what is wrong and what to do.
    """
    path = Path(path)
    try:
        from scipy.io import loadmat, whosmat

        variables = {name: cls for name, _, cls in whosmat(str(path))}
        if variables.get("data") == "char":  # fields at the top level (EEGLAB's default)
            fields = loadmat(str(path), variable_names=["data", "nbchan", "pnts", "trials"], squeeze_me=True)
        elif "EEG" in variables:  # one EEG struct
            fields = {k: loadmat(str(path), variable_names=["EEG"], squeeze_me=True)["EEG"][k].item()
                      for k in ("data", "nbchan", "pnts", "trials")}
        else:
            return
    except Exception:  # HDF5-based (v7.3) or unusual files: MNE decides
        return
    name = fields.get("data")
    if not isinstance(name, str):
        return  # the data are inside the .set
    fdt = path.parent / name
    if not fdt.is_file():
        raise RecordingError(path, f"the EEGLAB data file {name!r} is missing",
                             "Keep the .set and .fdt files together in one folder")
    try:
        expected = int(fields["nbchan"]) * int(fields["pnts"]) * int(fields.get("trials") or 1) * 4
    except (TypeError, ValueError, KeyError):
        return
    size = fdt.stat().st_size
    if size < expected:
        raise RecordingError(path, f"its data file {name!r} is truncated: it holds {size} of the {expected} bytes "
                             f"that {int(fields['nbchan'])} channels x {int(fields['pnts'])} points need "
                             f"({100 * (expected - size) / expected:.0f}% missing)",
                             "Copy or export the recording again; a partial recording is not analysed")


# ---------------------------------------------------------------------------- reading
@contextmanager
def _mne_step(path: str | Path, step: str, hint: str) -> Iterator[None]:
    """Turn any non-Bitbox error of a dependency into a RecordingError naming the file, the step and a fix."""
    try:
        yield
    except BitboxError:
        raise
    except Exception as err:  # MNE and its readers fail in many ways: name the file, the step and the reason
        logger.debug("%s: %s failed", path, step, exc_info=True)
        raise RecordingError(path, f"{step} failed ({type(err).__name__}: {err})", hint) from None


@dataclass
class _ReadInfo:
    """What reading found besides the data: the unit the values were taken to be in, stim events; for a file of
    a BIDS dataset, the channels its channels.tsv marks bad, notes on its sidecars and the sidecars used."""

    unit: str = "V"
    n_stim_events: int = 0
    stim_channels: tuple[str, ...] = ()
    n_stim_duplicates: int = 0
    marked_bad: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    bids_sidecars: dict[str, Path] = field(default_factory=dict)


def _declared_units(raw, path: Path) -> dict[str, str]:
    """The unit MNE took each channel's values to be in (the file's label), by channel name."""
    default = "uV" if path.suffix.lower() == ".set" else "V"  # EEGLAB stores uV; FIF and arrays store V
    declared = {ch: default for ch in raw.ch_names}
    if path.suffix.lower() == ".gdf":
        layout = _layout(path)
        if layout is not None:
            declared.update({ch: u for ch, u in zip(layout.labels, layout.units) if ch in declared})
    for ch, unit in (getattr(raw, "_orig_units", None) or {}).items():
        if ch in declared:
            declared[ch] = _unit_key(unit) or (unit if unit.strip() else "V")
    return declared


def _apply_units(raw, declared: dict[str, str], units: str) -> None:
    """Rescale each channel as if its stored values were in ``units`` (overriding the file's label)."""
    groups: dict[float, list[str]] = {}
    for ch in raw.ch_names:
        factor = UNITS[units] / _UNIT_SCALES.get(_unit_key(declared.get(ch)) or "", 1.0)
        if factor != 1.0:
            groups.setdefault(factor, []).append(ch)
    for factor, channels in groups.items():
        raw.apply_function(lambda x, f=factor: x * f, picks=channels, channel_wise=False, verbose="error")
        logger.info("units=%s: %d channel(s) rescaled by %g", units, len(channels), factor)


def _is_event(description: str) -> bool:
    """Whether an annotation is an event (not a BAD/EDGE segment nor a recording marker)."""
    return not description.lower().startswith(("bad", "edge")) and description.strip().lower() not in RECORDING_MARKERS


def _stim_events(raw, path: Path) -> tuple[tuple[str, ...], int, int]:
    """Read the events of every stim channel into annotations (description: the code), before it is dropped.

    A trigger at the sample of an event the annotations already hold (a file that carries its events
    both ways, e.g. a FIF with STI 014 and annotations) is not added again. Returns the stim channels,
    the events added and the duplicates left out.
    """
    import mne

    stim = tuple(raw.ch_names[i] for i in mne.pick_types(raw.info, stim=True, exclude=[]))
    n_events = n_duplicates = 0
    for channel in stim:
        mask = 0xFFFF if path.suffix.lower() == ".bdf" else None  # BioSemi: the low 16 bits are the triggers
        events = mne.find_events(raw, stim_channel=channel, shortest_event=1, consecutive=True, mask=mask,
                                 mask_type="and", initial_event=True, verbose="error")
        if len(events) and len(raw.annotations):
            annotated = np.array([raw.time_as_index(a["onset"], use_rounding=True)[0] + raw.first_samp
                                  for a in raw.annotations if _is_event(a["description"])], dtype=int)
            if annotated.size:
                near = np.abs(events[:, 0][:, None] - annotated[None, :]).min(axis=1) <= 1
                n_duplicates += int(near.sum())
                events = events[~near]
        if not len(events):
            continue
        n_events += len(events)
        orig_time = raw.annotations.orig_time  # onsets count from the measurement date when there is one
        found = mne.annotations_from_events(events, raw.info["sfreq"], {int(c): str(int(c)) for c in events[:, 2]},
                                            first_samp=0 if orig_time is not None else raw.first_samp,
                                            orig_time=orig_time)
        raw.set_annotations(raw.annotations + found)
    return stim, n_events, n_duplicates


# ---------------------------------------------------------------------------- BIDS
#: Extensions read with mne-bids (:func:`mne_bids.read_raw_bids`) when the file lies in a BIDS dataset.
BIDS_READABLE = (".edf", ".bdf", ".vhdr", ".set", ".fif")
#: The sidecars the measurements depend on, by role: (BIDS suffix, extension); ``None``: the data file's own suffix.
_BIDS_SIDECARS: dict[str, tuple[str | None, str]] = {
    "bids_events": ("events", ".tsv"), "bids_events_json": ("events", ".json"), "bids_channels": ("channels", ".tsv"),
    "bids_sidecar": (None, ".json"), "bids_electrodes": ("electrodes", ".tsv"),
    "bids_coordsystem": ("coordsystem", ".json")}
_CHANNEL_STATUS = {"good", "bad", "n/a"}
_EVENTS_HINT = ("A BIDS events.tsv is tab-separated text: a header line with the columns onset and duration (in "
                "seconds from the recording's start; n/a allowed for duration) and trial_type (each event's "
                "condition), then one line per event with as many fields as the header")


def bids_path(path: str | Path):
    """The :class:`mne_bids.BIDSPath` of an EEG file that lies in a BIDS dataset, or None.

    A file lies in a BIDS dataset when it is BIDS-named (``sub-<label>[_ses-<label>]..._<suffix>.<ext>``),
    lies in ``<root>/sub-<label>/[ses-<label>/]<datatype>/`` and ``<root>`` holds ``dataset_description.json``.

    Parameters
    ----------
    path : str or Path
        An EEG file.

    Returns
    -------
    mne_bids.BIDSPath or None
        With its ``root`` and ``datatype`` set; None for a file outside BIDS (or in a format mne-bids does not
        read, :data:`BIDS_READABLE`), which is read as a loose file.
    """
    path = Path(path).absolute()
    if not path.name.startswith("sub-") or path.suffix.lower() not in BIDS_READABLE:
        return None
    from mne_bids import get_bids_path_from_fname

    try:
        found = get_bids_path_from_fname(path, check=False, verbose="error")
    except Exception as err:  # a name mne-bids cannot parse: read as a loose file, and say so
        if any((p / "dataset_description.json").is_file() for p in path.parents):
            logger.warning("%s: not read as BIDS (mne-bids cannot parse its name: %s); read as a loose file",
                           path.name, err)
        return None
    root = Path(found.root) if found.root is not None else None
    if root is None or not (root / "dataset_description.json").is_file() \
            or path.relative_to(root).parts[0] != f"sub-{found.subject}":
        return None
    return found


def bids_sidecars(path: str | Path) -> dict[str, Path]:
    """The BIDS sidecars of an EEG file in a BIDS dataset that its measurements depend on, by role.

    ``bids_events`` (``events.tsv``), ``bids_events_json``, ``bids_channels`` (``channels.tsv``),
    ``bids_sidecar`` (the recording's own ``_eeg.json``), ``bids_electrodes``, ``bids_coordsystem``:
    those present, found by BIDS's inheritance rules (:meth:`mne_bids.BIDSPath.find_matching_sidecar`).

    Parameters
    ----------
    path : str or Path
        An EEG file.

    Returns
    -------
    dict of str to Path
        Empty for a file outside BIDS (:func:`bids_path`).
    """
    found = bids_path(path)
    if found is None:
        return {}
    out = {}
    for role, (suffix, extension) in _BIDS_SIDECARS.items():
        try:
            match = found.find_matching_sidecar(suffix=suffix or found.suffix, extension=extension, on_error="ignore")
        except Exception:  # several candidates, or an unreadable folder: the reading names the problem
            match = None
        if match is not None and Path(match).is_file():
            out[role] = Path(match)
    return out


def _shown(sidecar: Path, root: Path) -> str:
    try:
        return str(Path(sidecar).relative_to(root))
    except ValueError:
        return str(sidecar)


def check_bids_events(events_tsv: str | Path) -> list[str]:
    """Check a BIDS ``events.tsv`` before it is read: the notes it deserves, or an error naming what to fix.

    Parameters
    ----------
    events_tsv : str or Path
        The events file.

    Returns
    -------
    list of str
        Notes: no ``trial_type`` (nor ``value``) column, rows whose ``trial_type`` is ``n/a`` (not epoched).

    Raises
    ------
    RecordingError
        Naming the events file: unreadable, empty, not tab-separated, without ``onset`` or ``duration``,
        a line with the wrong number of fields, an onset or duration that is not a number.
    """
    path = Path(events_tsv)
    try:
        lines = [line for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise RecordingError(path, f"this BIDS events file cannot be read ({type(err).__name__}: {err})",
                             "Save it as UTF-8 text") from None
    if not lines:
        raise RecordingError(path, "this BIDS events file is empty", _EVENTS_HINT + "; or delete it")
    header = lines[0].split("\t")
    missing = [c for c in ("onset", "duration") if c not in header]
    if missing:
        sep = next((s for s in (",", ";") if len(header) == 1 and s in lines[0]), None)
        what = (f"is separated by {sep!r}, not by tabs" if sep else
                f"has no {' and no '.join(repr(c) for c in missing)} column (its header: {lines[0][:80]!r})")
        raise RecordingError(path, f"this BIDS events file {what}", _EVENTS_HINT)
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(header):
            raise RecordingError(path, f"line {number} of this BIDS events file has {len(fields)} fields, its header "
                                 f"{len(header)}", _EVENTS_HINT)
        for column in ("onset", "duration"):
            value = fields[header.index(column)].strip()
            try:
                number_value = float(value) if value != "n/a" else 0.0
            except ValueError:
                number_value = math.nan
            if not math.isfinite(number_value) or (column == "duration" and number_value < 0):
                raise RecordingError(path, f"line {number} of this BIDS events file has {column} {value!r}, not a "
                                     f"{'number of seconds' if column == 'onset' else 'duration >= 0 (or n/a)'}",
                                     _EVENTS_HINT)
    notes = []
    if "trial_type" not in header and "value" not in header:
        notes.append(f"{path.name} has neither a trial_type nor a value column: all its {len(lines) - 1} events are "
                     "one condition ('n/a'); add a trial_type column naming each event's condition")
    elif "trial_type" in header:
        k = header.index("trial_type")
        unnamed = sum(1 for line in lines[1:] if line.split("\t")[k].strip() in ("n/a", ""))
        if unnamed and "value" not in header:
            notes.append(f"{unnamed} events of {path.name} have trial_type n/a and are not epoched; name their "
                         "condition in trial_type to epoch them")
    return notes


def check_bids_channels(channels_tsv: str | Path, ch_names: Sequence[str]) -> None:
    """Refuse a BIDS ``channels.tsv`` that does not describe the data file's channels.

    Parameters
    ----------
    channels_tsv : str or Path
        The channels file.
    ch_names : sequence of str
        The channels of the data file, in its order.

    Raises
    ------
    RecordingError
        Naming the channels file: unreadable, without ``name`` or ``type`` column, other channels than
        the data file's (those missing and extra named), or a ``status`` other than good, bad or n/a.
    """
    path = Path(channels_tsv)
    hint = ("A BIDS channels.tsv is tab-separated text with the columns name and type (and status: good or bad), one "
            "line per channel of the data file, in the data file's order")
    try:
        lines = [line.split("\t") for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise RecordingError(path, f"this BIDS channels file cannot be read ({type(err).__name__}: {err})",
                             "Save it as UTF-8 text") from None
    header = lines[0] if lines else []
    missing = [c for c in ("name", "type") if c not in header]
    if missing:
        raise RecordingError(path, f"this BIDS channels file has no {' and no '.join(map(repr, missing))} column", hint)
    rows = [dict(zip(header, line)) for line in lines[1:]]
    names = [row.get("name", "").strip() for row in rows]
    absent = [ch for ch in ch_names if ch not in names]
    extra = [ch for ch in names if ch not in ch_names]
    if absent or extra:
        parts = ([f"lacks the data file's channel(s) {', '.join(absent[:5])}{', ...' if len(absent) > 5 else ''}"]
                 if absent else []) + ([f"lists channel(s) the data file does not have: "
                                        f"{', '.join(extra[:5])}{', ...' if len(extra) > 5 else ''}"] if extra else [])
        raise RecordingError(path, "this BIDS channels file does not match the data file: it " + " and ".join(parts),
                             hint)
    odd = sorted({row.get("status", "n/a").strip().lower() for row in rows} - _CHANNEL_STATUS)
    if "status" in header and odd:
        raise RecordingError(path, f"this BIDS channels file has status value(s) {', '.join(map(repr, odd))}", hint)


def _read_bids(path: Path, found) -> tuple[Any, list[str], dict[str, Path]]:
    """Read an EEG file of a BIDS dataset with :func:`mne_bids.read_raw_bids`: events from events.tsv, channel types
    and bad channels from channels.tsv. Returns the raw recording (preloaded), notes and the sidecars used."""
    import json
    import warnings

    import mne
    from mne_bids import read_raw_bids

    root = Path(found.root)
    sidecars = bids_sidecars(path)
    notes: list[str] = []
    own = sidecars.get("bids_sidecar")
    for role in ("bids_sidecar", "bids_events_json", "bids_coordsystem"):
        if role in sidecars:
            try:
                json.loads(sidecars[role].read_text(encoding="utf-8-sig"))
            except (OSError, UnicodeDecodeError, ValueError) as err:
                raise RecordingError(sidecars[role], f"this BIDS sidecar is not valid JSON ({err})",
                                     "Correct it (a JSON object of the recording's metadata), or delete it") from None
    if own is None:
        notes.append(f"no BIDS sidecar {found.copy().update(extension='.json', check=False).basename}: the "
                     "recording's metadata (e.g. PowerLineFrequency) are those of the data file; add the sidecar "
                     "BIDS requires")
    events = sidecars.get("bids_events")
    if events is not None:
        notes += check_bids_events(events)
    elif not str(found.task or "").startswith("rest"):
        name = found.copy().update(suffix="events", extension=".tsv", check=False).basename
        notes.append(f"no BIDS events file ({name}) beside it: the data file's own events are used (none: no "
                     "ERPs); add it, with the columns onset, duration and trial_type")
    channels = sidecars.get("bids_channels")
    if channels is None:
        notes.append("no BIDS channels.tsv beside it: channel types and bad channels are those of the data file")
    else:
        with _mne_step(path, "reading the data file's channel names", "Check that the file opens in MNE"):
            header = getattr(mne.io, _READERS[path.suffix.lower()])(str(path), preload=False, verbose="error")
        check_bids_channels(channels, header.ch_names)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw = read_raw_bids(found, extra_params={"preload": True}, on_ch_mismatch="reorder", verbose="error")
        except BitboxError:
            raise
        except Exception as err:  # mne-bids names the sidecar in its messages
            raise RecordingError(path, f"cannot be read as BIDS EEG with its sidecars in {root} "
                                 f"({type(err).__name__}: {err})",
                                 "Check the sidecars mne-bids names (events.tsv, channels.tsv, the _eeg.json), or "
                                 "validate the dataset with the BIDS validator") from None
    for message in dict.fromkeys(str(w.message) for w in caught):
        logger.info("%s (mne-bids): %s", path.name, message)
    if not raw.preload:
        raw.load_data(verbose="error")
    used = ", ".join(_shown(p, root) for p in sidecars.values())
    logger.info("%s: read as BIDS (%s)", path.name, used or "no sidecar found")
    return raw, notes, sidecars


def _read(path: str | Path, units: str = "auto") -> tuple[Any, _ReadInfo]:
    """:func:`read_raw` and what it found (the values' unit, stim events, BIDS sidecars)."""
    import mne

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _READERS:
        raise RecordingError(path, f"{suffix or 'no extension'} is not a supported EEG format",
                             f"Use one of {', '.join(sorted(_READERS))}")
    if units != "auto" and units not in UNITS:
        raise ParameterError(f"units must be 'auto' or one of {sorted(UNITS)}. Got {units!r} instead.")
    if suffix == ".vhdr":
        check_brainvision(path)
    if suffix == ".set":
        check_eeglab(path)
    if suffix in (".edf", ".bdf", ".gdf"):
        check_complete(path)
    info = _ReadInfo()
    found = bids_path(path)
    if found is not None:  # events from events.tsv, channel types and bads from channels.tsv
        raw, info.notes, info.bids_sidecars = _read_bids(path, found)
    else:
        reader = getattr(mne.io, _READERS[suffix])
        try:
            raw = reader(str(path), preload=True, verbose="error")
        except Exception as err:  # every reader fails in its own way: name the file and the reason
            raise RecordingError(path, f"cannot be read as {suffix} EEG ({type(err).__name__}: {err})",
                                 _READ_HINTS.get(suffix, "Check that the file is complete and opens in its "
                                                         "recording software")) from None
    if suffix == ".vhdr":  # "Comment/standard", "Stimulus/S  1": the marker's type is not the condition
        plain = {d: re.sub(r"^(Comment|Stimulus|Response|Marker)/", "", d) for d in set(raw.annotations.description)}
        raw.annotations.rename({d: p for d, p in plain.items() if p != d and p.strip()})
    if "bids_events" in info.bids_sidecars:  # BIDS: the events are events.tsv's, a trigger channel is dropped
        logger.info("%s: events from %s", path.name, info.bids_sidecars["bids_events"].name)
    else:
        with _mne_step(path, "reading the stim channel's events",
                       "Check the trigger channel, or export the events as annotations"):
            info.stim_channels, info.n_stim_events, info.n_stim_duplicates = _stim_events(raw, path)
    if info.stim_channels:
        logger.info("%s: %d events read from the stim channel(s) %s", path.name, info.n_stim_events,
                    ", ".join(info.stim_channels))
    picks = mne.pick_types(raw.info, eeg=True, exclude=[])
    if len(picks) == 0:
        raise RecordingError(path, "holds no EEG channels",
                             f"Channel types found: {sorted(set(raw.get_channel_types()))}")
    declared = _declared_units(raw, path)
    if found is not None:
        left = Counter(t for ch, t in zip(raw.ch_names, raw.get_channel_types()) if t != "eeg")
        if left:
            logger.info("%s: channels.tsv types: %s channel(s) left out", path.name,
                        ", ".join(f"{n} {t}" for t, n in sorted(left.items())))
        info.marked_bad = tuple(raw.ch_names[i] for i in picks if raw.ch_names[i] in raw.info["bads"])
    raw.pick(picks)
    labels = Counter(declared[ch] for ch in raw.ch_names)
    info.unit = labels.most_common(1)[0][0]
    if units != "auto":
        _apply_units(raw, declared, units)
        info.unit = units
    data = raw.get_data()
    bad = [raw.ch_names[i] for i in np.flatnonzero(~np.isfinite(data).all(axis=1))]
    if bad:
        raise RecordingError(path, f"channels {bad} contain NaN or infinite values",
                             "Export the recording again, or drop these channels")
    return raw, info


def read_raw(path: str | Path, *, units: str = "auto"):
    """Read an EEG recording with MNE, with clear errors for bad files.

    Parameters
    ----------
    path : path
        An EDF/BDF, GDF, FIF, BrainVision (``.vhdr``) or EEGLAB (``.set``) file.
    units : {"auto", "V", "mV", "uV"}
        The unit the file's values are really in, overriding its header ("auto": trust the
        header). E.g. ``"uV"`` for microvolts labelled as volts.

    Returns
    -------
    mne.io.Raw
        Preloaded, EEG channels only, in volts; the events of stim channels (read before
        they are dropped) are annotations named after their codes.

    Raises
    ------
    RecordingError
        For an unknown extension, a missing companion file, a truncated EDF/BDF/GDF file, a
        file MNE cannot parse, no EEG channel, NaN or infinite values.
    """
    return _read(path, units)[0]


#: Annotations that mark the recording itself, not a stimulus (EDF+ writers put them at the edges).
RECORDING_MARKERS = frozenset({"recording starts", "recording ends", "recording start", "recording end"})


def annotation_events(raw) -> tuple[np.ndarray, dict[str, int], list[str]]:
    """Events from a raw recording's annotations, as real files hold them.

    Exact repeats (same sample, same code) are merged and counted; different codes sharing
    a sample (trial start, cue and feedback in BCI recordings) are all kept, so epoch each
    code on its own (``mne.Epochs`` refuses events that share a sample). ``BAD``/``EDGE``
    annotations and the recording's own markers (:data:`RECORDING_MARKERS`, e.g. EDF+
    "Recording starts") are not events.

    Returns
    -------
    events : ndarray, shape (n_events, 3)
        MNE's events array, sorted by sample, without exact repeats.
    event_id : dict
        Description -> code.
    notes : list of str
        What was merged and which samples carry several codes.
    """
    import mne

    if not len(raw.annotations):
        return np.zeros((0, 3), int), {}, []
    events, event_id = mne.events_from_annotations(raw, verbose="error")
    event_id = {d: i for d, i in event_id.items() if _is_event(d)}
    events = events[np.isin(events[:, 2], list(event_id.values()))]
    names = {i: d for d, i in event_id.items()}
    notes = []
    pairs, counts = np.unique(events[:, [0, 2]], axis=0, return_counts=True)
    if (counts > 1).any():
        repeats: Counter[str] = Counter()
        for (_, code), n in zip(pairs, counts):
            if n > 1:
                repeats[names[int(code)]] += int(n) - 1
        notes.append(f"{int((counts - 1).sum())} repeated events (same sample, same code) merged: "
                     + ", ".join(f"{d} x{n}" for d, n in sorted(repeats.items())))
    unique = np.column_stack([pairs[:, 0], np.zeros(len(pairs), int), pairs[:, 1]]).astype(int)
    samples, per_sample = np.unique(unique[:, 0], return_counts=True)
    shared = samples[per_sample > 1]
    if len(shared):
        combos = Counter("+".join(sorted((names[int(c)] for c in unique[unique[:, 0] == t, 2]), key=str))
                         for t in shared)
        notes.append(f"{len(shared)} samples carry several event codes ("
                     + ", ".join(f"{combo} x{n}" for combo, n in combos.most_common(5))
                     + (", ..." if len(combos) > 5 else "")
                     + "): each code's events were kept and epoched as their own condition")
    return unique, event_id, notes


def units_note(median_uv: float, unit: str) -> str:
    """The note for an implausible median amplitude, with the ``units`` that would make it plausible.

    Parameters
    ----------
    median_uv : float
        Median channel amplitude as read (uV).
    unit : str
        The unit the values were taken to be in (the file's label, or the ``units`` parameter).
    """
    applied = _UNIT_SCALES.get(_unit_key(unit) or "", 1.0)
    best = min(UNITS, key=lambda u: abs(math.log10(max(median_uv, 1e-30) * UNITS[u] / applied) - math.log10(20.0)))
    label = _UNIT_WORDS.get(_unit_key(unit) or "", repr(unit))
    plausible = PLAUSIBLE_UV[0] <= median_uv * UNITS[best] / applied <= PLAUSIBLE_UV[1]
    if best == _unit_key(unit) or not plausible:
        return (f"median channel amplitude {median_uv:.2g} uV is implausible for scalp EEG and no unit among "
                f"{', '.join(UNITS)} makes it plausible: check the recording's calibration and the channels' types")
    return (f"median channel amplitude {median_uv:.2g} uV is implausible for scalp EEG: the file's units are "
            f"probably {_UNIT_WORDS[best]} labelled as {label}; rerun with --set eeg.units={best}")


# ---------------------------------------------------------------------------- spectral summary
#: Total-power range of the relative band powers (Hz), half-open.
TOTAL_BAND = (1.0, 40.0)
#: The alpha peak is searched in this range (Hz), above a 1/f fit over FIT_RANGE.
ALPHA_SEARCH = (7.0, 13.0)
_FIT_RANGE = (2.0, 40.0)
#: Why alpha_peak_hz is NaN when the spectrum was searched and has no alpha peak: a finding (noted,
#: with nothing to fix), not a failure.
NO_ALPHA_PEAK = "no peak between 7 and 13 Hz above the 1/f fit"


def _nanmean(values: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """Mean of the finite values (NaN, without a warning, where there are none)."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    count = finite.sum(axis=axis)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return float(out) if np.ndim(out) == 0 else out


def band_powers(psd: np.ndarray, freqs: np.ndarray) -> dict[str, np.ndarray]:
    """Absolute (``abs_<band>``) and relative (``rel_<band>``) power of each band, per row of ``psd``.

    Absolute power is the PSD summed over the band's frequencies times the frequency step;
    relative power divides it by the power from 1 to 40 Hz. NaN for a band without any
    frequency of the spectrum, for a row whose PSD is NaN in the band, and (relative) for a
    row without power from 1 to 40 Hz.
    """
    df = freqs[1] - freqs[0] if len(freqs) > 1 else 1.0
    total_band = (freqs >= TOTAL_BAND[0]) & (freqs < TOTAL_BAND[1])
    total = psd[..., total_band].sum(axis=-1) * df
    out = {}
    for band, (lo, hi) in BANDS.items():
        mask = (freqs >= lo) & (freqs < hi)
        out[f"abs_{band}"] = psd[..., mask].sum(axis=-1) * df if mask.any() else np.full(psd.shape[:-1], np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"rel_{band}"] = np.where(total > 0, out[f"abs_{band}"] / total, np.nan)
    return out


def _alpha_peak(psd_mean: np.ndarray, freqs: np.ndarray) -> tuple[float, str]:
    """Alpha peak frequency (Hz) above a 1/f fit, and why it is NaN ("" when it is not)."""
    band = np.flatnonzero((freqs >= ALPHA_SEARCH[0]) & (freqs <= ALPHA_SEARCH[1]))
    if len(band) < 3:
        return math.nan, (f"the spectrum has {len(band)} frequenc{'y' if len(band) == 1 else 'ies'} from 7 to 13 Hz, "
                          "fewer than the 3 a peak needs")
    if not np.isfinite(psd_mean[band]).all():
        return math.nan, "the spectrum is NaN between 7 and 13 Hz"
    fit = ((freqs >= _FIT_RANGE[0]) & (freqs <= _FIT_RANGE[1]) & ~((freqs >= ALPHA_SEARCH[0])
           & (freqs <= ALPHA_SEARCH[1])) & (psd_mean > 0))
    if fit.sum() < 3:
        return math.nan, "fewer than 3 frequencies with power from 2 to 40 Hz outside 7-13 Hz for the 1/f fit"
    slope, intercept = np.polyfit(np.log10(freqs[fit]), np.log10(psd_mean[fit]), 1)
    residual = np.log10(np.maximum(psd_mean[band], 1e-30)) - (intercept + slope * np.log10(freqs[band]))
    k = int(np.argmax(residual))
    if residual[k] <= 0 or k in (0, len(band) - 1):
        return math.nan, NO_ALPHA_PEAK
    y0, y1, y2 = residual[k - 1:k + 2]
    shift = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2) if (y0 - 2 * y1 + y2) != 0 else 0.0
    return float(freqs[band[k]] + shift * (freqs[1] - freqs[0])), ""


def _family(key: str) -> str:
    """The key with its band written as ``*`` (``rel_power_alpha_ch_Fz`` -> ``rel_power_*_ch_Fz``)."""
    return re.sub(r"^(rel|abs)_power_(delta|theta|alpha|beta|gamma)", r"\1_power_*", key)


def _nan_notes(groups: dict[str, list[str]]) -> list[str]:
    """One note per reason: ``"<names> NaN: <reason>"``, a band family written as ``*`` when complete."""
    notes = []
    for reason, keys in groups.items():
        names: list[str] = []
        for key in keys:
            family = _family(key)
            whole = family != key and all(re.sub(r"\*", b, family, count=1) in keys for b in BANDS)
            name = family if whole else key
            if name not in names:
                names.append(name)
        notes.append(f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} NaN: {reason}")
    return notes


def spectral_summary(psd: ArrayLike, freqs: ArrayLike, *, channels: Sequence[str], dropped: Sequence[str] = (),
                     recorded: Sequence[str] | None = None) -> dict[str, Any]:
    """The band-power and alpha-peak summary of the EEG processor, from the recording's spectrum.

    Parameters
    ----------
    psd : array-like, shape (n_channels, n_freqs)
        Power spectral density (uV^2/Hz) of each analysed channel: non-negative, or NaN.
    freqs : array-like, shape (n_freqs,)
        Its frequencies (Hz): evenly spaced, increasing, non-negative.
    channels : sequence of str
        The analysed channels, one per row of ``psd``.
    dropped : sequence of str
        Bad channels that were dropped: their per-channel band powers are NaN (the processor's
        bad-channel note names them and says why).
    recorded : sequence of str | None
        The recorded channels, in the order of the per-channel keys (default: ``channels``
        then ``dropped``); only those analysed or dropped get keys.

    Returns
    -------
    dict
        ``rel_power_<band>`` and ``abs_power_<band>_uv2`` (mean over the channels with a
        value; the relative powers rescaled to sum to 1), each followed by its per-channel
        values (``..._ch_<channel>``), ``alpha_peak_hz``, and ``notes``: every value the data
        leave NaN is named there with the reason, except the per-channel values of dropped
        channels (the processor's bad-channel note names them) and an alpha peak that is
        NaN because the searched spectrum has none (the catalogued meaning of NaN there).

    Raises
    ------
    ParameterError
        When the shapes do not match, the PSD is negative or infinite, or the frequencies
        are not evenly spaced and increasing (never on the data: any number of frequencies,
        NaN, flat or empty spectra give a summary).
    """
    psd = np.asarray(psd, dtype=np.float64)
    freqs = np.asarray(freqs, dtype=np.float64)
    channels = [str(ch) for ch in channels]
    if psd.ndim != 2 or freqs.ndim != 1 or psd.shape != (len(channels), len(freqs)):
        raise ParameterError(f"spectral_summary needs psd of shape (channels, freqs) = ({len(channels)}, "
                             f"{freqs.size}). Got psd of shape {psd.shape} and freqs of shape {freqs.shape} instead.")
    step = np.diff(freqs)
    if (np.isinf(psd).any() or (psd < 0).any() or not np.isfinite(freqs).all() or (freqs < 0).any()
            or (len(step) and (step[0] <= 0 or not np.allclose(step, step[0], rtol=1e-6)))):
        raise ParameterError("spectral_summary needs a non-negative, finite (or NaN) psd over evenly spaced, "
                             "increasing, non-negative frequencies.")
    dropped = [str(ch) for ch in dropped]
    recorded = channels + [ch for ch in dropped if ch not in channels] if recorded is None else list(recorded)
    powers = band_powers(psd, freqs)
    index = {ch: i for i, ch in enumerate(channels)}
    groups: dict[str, list[str]] = {}
    top = f"{freqs[-1]:g} Hz" if len(freqs) else "no frequency"
    total_band = (freqs >= TOTAL_BAND[0]) & (freqs < TOTAL_BAND[1])

    def why(band: str, i: int, kind: str) -> str:
        lo, hi = BANDS[band]
        if len(freqs) < 2:
            return f"the spectrum has {len(freqs)} frequenc{'y' if len(freqs) == 1 else 'ies'} - use a longer window_s"
        if not ((freqs >= lo) & (freqs < hi)).any():
            return (f"the spectrum (to {top}, in {step[0]:g}-Hz steps) has no frequency in the {band} band "
                    f"({lo:g}-{hi:g} Hz) - use a higher sampling rate or a longer window_s")
        if not np.isfinite(psd[i, (freqs >= lo) & (freqs < hi)]).all() or (
                kind == "rel" and not np.isfinite(psd[i, total_band]).all()):
            return "the channel's spectrum is NaN in the band or from 1 to 40 Hz - check the data for gaps"
        return "the channel has no power from 1 to 40 Hz (flat) - check the electrode"

    rel_mean = {b: _nanmean(powers[f"rel_{b}"]) for b in BANDS}
    finite = [v for v in rel_mean.values() if math.isfinite(v)]
    scale = sum(finite) if finite else math.nan
    summary: dict[str, Any] = {}
    for band in BANDS:
        summary[f"rel_power_{band}"] = rel_mean[band] / scale if scale > 0 else math.nan
        summary[f"abs_power_{band}_uv2"] = _nanmean(powers[f"abs_{band}"])
        for key in (f"rel_power_{band}", f"abs_power_{band}_uv2"):
            if math.isnan(summary[key]):
                reason = ("no channel was analysed" if not channels else
                          why(band, 0, key[:3]) if len(channels) == 1 else
                          "no analysed channel has a value (see the per-channel notes)")
                groups.setdefault(reason, []).append(key)
        for ch in recorded:
            if ch not in index and ch not in dropped:
                continue
            i = index.get(ch)
            for kind, key in (("rel", f"rel_power_{band}_ch_{ch}"), ("abs", f"abs_power_{band}_uv2_ch_{ch}")):
                summary[key] = math.nan if i is None else float(powers[f"{kind}_{band}"][i])
                if i is None:  # a bad channel that could not be interpolated
                    groups.setdefault("the channel was marked bad and dropped (see bad_channels) - fix the "
                                      "electrode, or give the montage so that it can be interpolated", []).append(key)
                elif math.isnan(summary[key]):
                    groups.setdefault(why(band, i, kind), []).append(key)
    psd_mean = _nanmean(psd, axis=0) if len(channels) else np.full(len(freqs), np.nan)
    summary["alpha_peak_hz"], reason = _alpha_peak(np.atleast_1d(psd_mean), freqs)
    notes = _nan_notes(groups)
    if reason == NO_ALPHA_PEAK:
        notes.append(f"alpha_peak_hz is NaN: {reason} (no alpha rhythm, e.g. eyes open) - nothing to fix")
    elif reason:
        notes.append(f"alpha_peak_hz is NaN: {reason} - use a longer window_s, or check the data for gaps")
    summary["notes"] = join_notes(notes)
    return summary


#: At most this many points per ERP waveform in a result's curves (longer epochs are sampled every k-th point;
#: the signal is low-passed at h_freq far below the rate that leaves).
_ERP_CURVE_POINTS = 500


def _erp_curve(description: str, n_trials: int, times_ms: np.ndarray,
               lines: dict[tuple[str, ...], tuple[list[str], np.ndarray]]) -> Curve:
    """One condition's evoked waveforms: a line per channel set the components average (components with the
    same channels share a line, named ``"<components> (<channels>)"``), in uV over ms from the event."""
    step = max(1, math.ceil(len(times_ms) / _ERP_CURVE_POINTS))
    return Curve(x=np.round(times_ms[::step], 6),
                 y={f"{'/'.join(comps)} ({', '.join(picks)})": np.round(wave[::step], 4)  # 0.1 nV: well below noise
                    for picks, (comps, wave) in lines.items()},
                 x_label="time from the event", x_unit="ms", y_label="amplitude", y_unit="uV",
                 title=f"ERP: {description} (mean of {n_trials} epochs)")


class EegProcessor(Processor):
    """EEG measures from an EEG recording (MNE-Python pipeline, CPU, offline).

    Parameters
    ----------
    l_freq, h_freq : float
        Band-pass edges (Hz).
    notch_hz : float | None
        Line frequency removed with its harmonics below ``h_freq`` (50 or 60; None: no notch).
    resample_hz : float | None
        Resample to this rate first (None: keep the native rate).
    reference : {"average", "none"}
        Re-reference to the average of the good channels, or keep the recorded reference.
    bad_channel_z : float
        Channels whose log-variance is this many robust SDs from the median (or flat) are bad.
    interpolate_bads : bool
        Interpolate bad channels (needs channel positions); otherwise they are dropped.
    ica : bool
        Run ICA and remove components labelled as artefacts by mne-icalabel.
    ica_method : {"infomax", "fastica"}
        ICA algorithm: extended infomax (what ICLabel was trained on; slower) or FastICA.
    ica_n_components : int
        ICA components (at most the number of channels - 1).
    ica_threshold : float
        Label probability above which an artefact component is removed.
    window_s : float
        Window of the band-power time series and of the Welch segments (s).
    epoch_tmin, epoch_tmax : float
        Epoch limits around each event (s).
    reject_uv : float | None
        Epochs with a peak-to-peak amplitude above this (uV) on any channel are dropped.
    components : dict | None
        ERP components: ``{name: (tmin_ms, tmax_ms, "positive"|"negative", (channels, ...))}``
        (default :data:`COMPONENTS`: N1, P2, P3, LPP).
    random_state : int
        Seed for ICA.
    units : {"auto", "V", "mV", "uV"}
        The unit the file's values are really in, overriding its header ("auto": trust the
        header); e.g. ``"uV"`` for microvolts labelled as volts (``--set eeg.units=uV``).
    event_names : dict | None
        Condition names for event descriptions or codes, e.g. ``{"769": "left", "770": "right"}``;
        events not in it (all, by default) keep their description or code as the condition name
        (``erp_769_...``).

    Notes
    -----
    Events are epoched per condition, so events of different codes at the same sample (a
    trial start, a cue and a feedback code written together) each give their condition's
    epoch; exact repeats (same sample, same code) are merged. Both are counted in ``notes``.
    """

    name = "eeg"
    version = "1.6.0"
    input_kinds = ("eeg",)
    default_for = ("eeg",)
    qc = QualityColumns(measures=("n_bad_channels", "n_channels", "n_ica_excluded", "amplitude_median_uv",
                                  "units_suspect"))
    dependencies = ("mne", "mne-icalabel", "onnxruntime")
    measures = tuple(_MEASURES)
    plot_measures = tuple(f"rel_power_{b}" for b in BANDS)
    _parameter_constraints = {
        "l_freq": [Interval(float, 0, None, closed="neither")],
        "h_freq": [Interval(float, 0, None, closed="neither")],
        "notch_hz": [Interval(float, 0, None, closed="neither"), NoneOk()],
        "resample_hz": [Interval(float, 0, None, closed="neither"), NoneOk()],
        "reference": [Options(("average", "none"))],
        "bad_channel_z": [Interval(float, 0, None, closed="neither")],
        "interpolate_bads": [Bool()],
        "ica": [Bool()],
        "ica_method": [Options(("infomax", "fastica"))],
        "ica_n_components": [Interval(int, 2, None)],
        "ica_threshold": [Interval(float, 0, 1)],
        "window_s": [Interval(float, 0, None, closed="neither")],
        "epoch_tmin": [Interval(float, None, 0)],
        "epoch_tmax": [Interval(float, 0, None, closed="neither")],
        "reject_uv": [Interval(float, 0, None, closed="neither"), NoneOk()],
        "random_state": [Interval(int, 0, None)],
        "units": [Options(("auto", *UNITS))],
        "components": [InstanceOf(dict), NoneOk()],
        "event_names": [InstanceOf(dict), NoneOk()],
    }

    def __init__(self, *, l_freq: float = 0.5, h_freq: float = 40.0, notch_hz: float | None = 50.0,
                 resample_hz: float | None = None, reference: str = "average", bad_channel_z: float = 5.0,
                 interpolate_bads: bool = True, ica: bool = False, ica_method: str = "infomax",
                 ica_n_components: int = 15,
                 ica_threshold: float = 0.8, window_s: float = 2.0, epoch_tmin: float = -0.2,
                 epoch_tmax: float = 0.8, reject_uv: float | None = 150.0, components: dict | None = None,
                 random_state: int = 0, units: str = "auto", event_names: dict | None = None) -> None:
        self.l_freq = l_freq
        self.h_freq = h_freq
        self.notch_hz = notch_hz
        self.resample_hz = resample_hz
        self.reference = reference
        self.bad_channel_z = bad_channel_z
        self.interpolate_bads = interpolate_bads
        self.ica = ica
        self.ica_method = ica_method
        self.ica_n_components = ica_n_components
        self.ica_threshold = ica_threshold
        self.window_s = window_s
        self.epoch_tmin = epoch_tmin
        self.epoch_tmax = epoch_tmax
        self.reject_uv = reject_uv
        self.components = components
        self.random_state = random_state
        self.units = units
        self.event_names = event_names

    # ------------------------------------------------------------------ preprocessing
    def preprocess(self, raw, marked_bad: Sequence[str] = ()) -> tuple[Any, dict[str, Any]]:
        """Filter, clean and re-reference a raw recording (a copy).

        Parameters
        ----------
        raw : mne.io.Raw
            The recording as read (it is not changed).
        marked_bad : sequence of str
            Channels known to be bad before the detection (e.g. ``status`` bad in a BIDS channels.tsv):
            bad whatever their variance, interpolated or dropped as detected ones are.

        Returns
        -------
        raw : mne.io.Raw
            The clean recording.
        counts : dict
            ``amplitude_median_uv``, ``units_suspect``, ``n_bad_channels``, ``bad_channels``
            (comma-separated names), ``dropped_channels`` (list), ``n_ica_excluded`` and
            ``notes`` (list of str: bad channels, an average reference over few channels).
        """
        import mne

        if self.ica and self.reference != "average":
            raise ParameterError("ica=True needs reference='average' (ICLabel classifies average-referenced "
                                 f"EEG). Got reference={self.reference!r}.")
        raw = raw.copy()
        counts: dict[str, Any] = {"notes": [], "dropped_channels": []}
        data_uv = raw.get_data() * 1e6
        median = float(np.median(np.median(np.abs(data_uv - np.median(data_uv, axis=1, keepdims=True)), axis=1)))
        counts["amplitude_median_uv"] = median
        counts["units_suspect"] = float(not PLAUSIBLE_UV[0] <= median <= PLAUSIBLE_UV[1])
        if counts["units_suspect"]:
            source = raw.filenames[0] if getattr(raw, "filenames", None) and raw.filenames[0] else "EEG recording"
            logger.warning("%s: EEG amplitudes look implausible (median %.3g uV): check the file's units (the "
                           "'units' parameter)", Path(str(source)).name, median)
        montage = mne.channels.make_standard_montage("standard_1020")
        known = {name.lower() for name in montage.ch_names}
        if any(ch.lower() in known for ch in raw.ch_names):
            raw.set_montage(montage, match_case=False, on_missing="ignore", verbose="error")
        if self.resample_hz:
            raw.resample(float(self.resample_hz), verbose="error")
        nyquist = raw.info["sfreq"] / 2
        h_freq = min(float(self.h_freq), nyquist - 1.0)
        if self.l_freq >= self.h_freq:
            raise ParameterError(f"l_freq ({self.l_freq:g} Hz) must be below h_freq ({self.h_freq:g} Hz).")
        if self.l_freq >= h_freq:
            raise MeasurementError("", f"its sampling rate ({raw.info['sfreq']:g} Hz) leaves no band between l_freq "
                                   f"({self.l_freq:g} Hz) and 1 Hz below the Nyquist frequency; lower l_freq or "
                                   "resample_hz=null")
        if self.notch_hz and self.notch_hz < nyquist:
            top = min(nyquist, (100.0 if self.ica else h_freq) + self.notch_hz)
            freqs = np.arange(float(self.notch_hz), top, float(self.notch_hz))
            raw.notch_filter(freqs, verbose="error")
        unfiltered = raw.copy() if self.ica else None  # ICLabel wants 1-100 Hz data
        raw.filter(float(self.l_freq), h_freq, verbose="error")
        bads = self._bad_channels(raw, counts, marked_bad)
        if bads and len(bads) == len(raw.ch_names):
            raise MeasurementError("", f"every EEG channel is bad ({counts['_bad_reasons']}); check the recording "
                                   "and its units, or raise bad_channel_z")
        if bads:
            has_positions = all(np.isfinite(raw.info["chs"][raw.ch_names.index(ch)]["loc"][:3]).all()
                                and np.any(raw.info["chs"][raw.ch_names.index(ch)]["loc"][:3]) for ch in bads)
            interpolate = self.interpolate_bads and has_positions and len(bads) < len(raw.ch_names) - 3
            for target in (raw, unfiltered) if unfiltered is not None else (raw,):
                target.info["bads"] = list(bads)
                if interpolate:
                    target.interpolate_bads(reset_bads=True, verbose="error")
                else:
                    target.drop_channels(bads)
            counts["dropped_channels"] = [] if interpolate else list(bads)
            how = ("interpolated from their neighbours" if interpolate else
                   "dropped (" + ("interpolation is off" if not self.interpolate_bads else
                                  "no electrode positions to interpolate from" if not has_positions else
                                  "too few good channels to interpolate from") + ")")
            counts["notes"].append(f"bad channels {counts['_bad_reasons']}: {how}; check these electrodes, or "
                                   f"change bad_channel_z (now {self.bad_channel_z:g})")
        counts.pop("_bad_reasons", None)
        if len(raw.ch_names) < 1:
            raise MeasurementError("", "no good EEG channel is left after bad-channel detection")
        if self.reference == "average":
            n_good = len(raw.ch_names)
            if n_good == 1:
                counts["notes"].append("average reference skipped: only 1 good channel; the recorded reference "
                                       "is kept")
            elif n_good < MIN_AVERAGE_REFERENCE_CHANNELS:
                counts["notes"].append(
                    f"average reference over only {n_good} channels: the average of so few channels is far from "
                    f"neutral and takes part of the signal away (use {MIN_AVERAGE_REFERENCE_CHANNELS} or more "
                    "channels spread over the scalp); rerun with --set eeg.reference=none to keep the recorded "
                    "reference")
            if n_good > 1:
                raw.set_eeg_reference("average", projection=False, verbose="error")
        counts["n_ica_excluded"] = float(self._run_ica(raw, unfiltered) if self.ica else 0)
        return raw, counts

    def _bad_channels(self, raw, counts: dict[str, Any], marked_bad: Sequence[str] = ()) -> list[str]:
        """The ``marked_bad`` channels, then flat channels, or channels with an extreme log-variance (robust
        z-score); records them in ``counts``."""
        log_var = np.log(np.maximum(raw.get_data().var(axis=1), 1e-30))
        # Robust SD of the log-variances, floored so that near-identical channels (e.g. calibration
        # signals) do not turn a small difference into an extreme z-score.
        mad = max(1.4826 * float(np.median(np.abs(log_var - np.median(log_var)))), _MIN_LOG_VAR_SD)
        z = (log_var - np.median(log_var)) / mad
        found = [(ch, "flat" if lv < -60 else f"{'high' if zz > 0 else 'low'} variance, z = {zz:+.1f}")
                 for ch, zz, lv in zip(raw.ch_names, z, log_var) if abs(zz) > self.bad_channel_z or lv < -60]
        marked = [ch for ch in raw.ch_names if ch in set(marked_bad)]
        found = [(ch, "status bad in channels.tsv") for ch in marked] + [f for f in found if f[0] not in marked]
        bads = [ch for ch, _ in found]
        counts["n_bad_channels"] = float(len(bads))
        counts["bad_channels"] = ", ".join(bads)
        counts["_bad_reasons"] = ", ".join(f"{ch} ({why})" for ch, why in found)
        if bads:
            logger.info("bad EEG channels: %s", counts["_bad_reasons"])
        return bads

    def _run_ica(self, raw, unfiltered) -> int:
        """Fit ICA on a 1-100 Hz, average-referenced copy; remove artefact components from ``raw``."""
        import warnings

        import mne

        from bitbox.offline import onnxruntime_offline

        onnxruntime_offline(required=False)  # ICLabel's ONNX backend (used without torch) creates a session
        from mne_icalabel import label_components

        n = min(int(self.ica_n_components), len(raw.ch_names) - 1)
        fit_params = {"extended": True} if self.ica_method == "infomax" else None
        ica = mne.preprocessing.ICA(n_components=n, method=self.ica_method, fit_params=fit_params,
                                    random_state=int(self.random_state), max_iter="auto")
        fit_raw = unfiltered.filter(1.0, min(100.0, unfiltered.info["sfreq"] / 2 - 1.0), verbose="error")
        fit_raw.set_eeg_reference("average", projection=False, verbose="error")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ica.fit(fit_raw, verbose="error")
            labels = label_components(fit_raw, ica, method="iclabel")
        for message in {str(w.message) for w in caught}:
            logger.warning("ICA: %s", message)
        exclude = [i for i, (label, prob) in enumerate(zip(labels["labels"], labels["y_pred_proba"]))
                   if label in _ARTIFACT_LABELS and prob >= self.ica_threshold]
        ica.exclude = exclude
        ica.apply(raw, verbose="error")
        logger.info("ICA: removed %d of %d components", len(exclude), n)
        return len(exclude)

    # ------------------------------------------------------------------ measures
    def _band_powers(self, data: np.ndarray, sfreq: float) -> tuple[np.ndarray, np.ndarray]:
        """Welch PSD (channels x freqs, uV^2/Hz) and its frequencies."""
        from mne.time_frequency import psd_array_welch

        n_fft = int(round(self.window_s * sfreq))
        n_fft = max(8, min(n_fft, data.shape[1]))
        psd, freqs = psd_array_welch(data * 1e6, sfreq, fmin=0.0, fmax=min(sfreq / 2, 45.0), n_fft=n_fft,
                                     n_overlap=n_fft // 2, verbose="error")
        return psd, freqs

    _integrate = staticmethod(band_powers)

    @staticmethod
    def alpha_peak(psd_mean: np.ndarray, freqs: np.ndarray) -> float:
        """Alpha peak frequency (Hz) of a mean PSD, above a 1/f fit; NaN without a peak.

        Parameters
        ----------
        psd_mean : numpy.ndarray
            The power spectral density averaged over channels, one value per frequency.
        freqs : numpy.ndarray
            The frequencies (Hz).

        Returns
        -------
        float
            The peak frequency (Hz), or NaN.
        """
        return _alpha_peak(np.asarray(psd_mean, dtype=np.float64), np.asarray(freqs, dtype=np.float64))[0]

    def _events(self, raw) -> tuple[np.ndarray, dict[str, int], list[str]]:
        """Events from the annotations (:func:`annotation_events`)."""
        return annotation_events(raw)

    def _conditions(self, event_id: dict[str, int]) -> dict[str, str]:
        """Condition name (measure-name part) of each event description, unique."""
        if self.event_names is not None and not isinstance(self.event_names, dict):
            raise ParameterError("The 'event_names' parameter of EegProcessor must be a dict of event description "
                                 f"-> condition name or None. Got {self.event_names!r} instead.")
        mapping = {str(k): str(v) for k, v in (self.event_names or {}).items()}
        out: dict[str, str] = {}
        for description in event_id:
            base = condition_name(mapping.get(description, description))
            name, k = base, 2
            while name in out.values():
                name, k = f"{base}_{k}", k + 1
            out[description] = name
        return out

    def _erps(self, raw) -> tuple[dict[str, float], list[str], dict[str, Curve]]:
        """ERP measures per condition, notes (merged/simultaneous events, conditions left empty), and the
        evoked waveform of each condition with epochs (curve ``erp_<condition>``)."""
        import mne

        events, event_id, notes = self._events(raw)
        curves: dict[str, Curve] = {}
        if not event_id:
            return {}, notes, curves
        reject = {"eeg": self.reject_uv * 1e-6} if self.reject_uv else None
        components = self.components or COMPONENTS
        out: dict[str, float] = {}
        for description, cond in self._conditions(event_id).items():
            own = events[events[:, 2] == event_id[description]]
            epochs = mne.Epochs(raw, own, {description: event_id[description]}, tmin=self.epoch_tmin,
                                tmax=self.epoch_tmax, baseline=(self.epoch_tmin, 0.0), reject=reject, preload=True,
                                verbose="error")
            reasons = [r for r in epochs.drop_log if r]
            outside = sum(1 for r in reasons if set(r) & {"NO_DATA", "TOO_SHORT"})
            rejected = len(reasons) - outside
            out[f"erp_{cond}_n_events"] = float(len(own))
            out[f"erp_{cond}_n_rejected"] = float(rejected)
            out[f"erp_{cond}_n_trials"] = float(len(epochs))
            if not len(epochs):
                notes.append(self._empty_note(description, cond, len(own), rejected, outside, reasons))
                continue
            evoked = epochs.average()
            times_ms = evoked.times * 1000
            lines: dict[tuple[str, ...], tuple[list[str], np.ndarray]] = {}
            for comp, (t0, t1, polarity, channels) in components.items():
                picks = [ch for ch in channels if ch in evoked.ch_names] or evoked.ch_names
                wave = evoked.copy().pick(picks).data.mean(axis=0) * 1e6
                lines.setdefault(tuple(picks), ([], wave))[0].append(comp)
                window = (times_ms >= t0) & (times_ms <= t1)
                if not window.any():
                    continue
                segment = wave[window]
                k = int(np.argmax(segment) if polarity == "positive" else np.argmin(segment))
                out[f"erp_{cond}_{comp}_peak_latency_ms"] = float(times_ms[window][k])
                out[f"erp_{cond}_{comp}_peak_amplitude_uv"] = float(segment[k])
                out[f"erp_{cond}_{comp}_mean_amplitude_uv"] = float(segment.mean())
            curves[f"erp_{cond}"] = _erp_curve(description, len(epochs), times_ms, lines)
        return out, notes, curves

    def _empty_note(self, description: str, cond: str, n_events: int, rejected: int, outside: int,
                    reasons: list[tuple[str, ...]]) -> str:
        """Why a condition has no epoch, and what to change."""
        parts = []
        if rejected:
            worst = Counter(ch for r in reasons for ch in r if ch not in ("NO_DATA", "TOO_SHORT"))
            parts.append(f"{rejected} rejected by the {self.reject_uv:g} uV peak-to-peak threshold (mostly on "
                         f"{', '.join(ch for ch, _ in worst.most_common(3))}): check the units (amplitude_median_uv) "
                         "and the channels, or raise reject_uv (--set eeg.reject_uv=...; null turns it off)")
        if outside:
            parts.append(f"{outside} too close to the recording's start or end for a {self.epoch_tmin:g} to "
                         f"{self.epoch_tmax:g} s epoch: shorten epoch_tmin/epoch_tmax")
        return (f"erp_{cond}_* are NaN: condition {description!r} has no epoch left of its {n_events} events: "
                + "; ".join(parts))

    # ------------------------------------------------------------------ processing
    def companion_files(self, recording: Recording) -> dict[str, Path]:
        """The BIDS sidecars read with a recording of a BIDS dataset (:func:`bids_sidecars`: events.tsv,
        channels.tsv, its _eeg.json ...), so that their SHA-256 are in the provenance; none outside BIDS."""
        return bids_sidecars(recording.path)

    def compute(self, recording: Recording, sink, progress: ProgressCallback | None = None) -> dict[str, Any]:
        path = recording.path
        raw, info = _read(path, str(self.units))
        if progress is not None:
            progress(1, 4)
        try:
            with _mne_step(path, "preprocessing (filtering, bad channels, reference, ICA)",
                           "Check the preprocessing parameters against the recording (sampling rate, channels); "
                           "e.g. --set eeg.ica=false or eeg.resample_hz=null"):
                clean, counts = self.preprocess(raw, marked_bad=info.marked_bad)
        except MeasurementError as err:
            raise MeasurementError(path, err.reason) from None
        notes: list[str] = []
        if counts["units_suspect"]:
            notes.insert(0, units_note(counts["amplitude_median_uv"], info.unit))
        if info.n_stim_duplicates:
            notes.append(f"{info.n_stim_duplicates} triggers of the stim channel(s) {', '.join(info.stim_channels)} "
                         "lie at the samples of events the annotations already hold: counted once, as the "
                         "annotations name them - nothing to fix")
        notes += [*info.notes, *counts.pop("notes")]  # info.notes: on the BIDS sidecars
        dropped = counts.pop("dropped_channels")
        if progress is not None:
            progress(2, 4)
        data, sfreq = clean.get_data(), clean.info["sfreq"]
        if data.shape[1] < int(self.window_s * sfreq):
            raise RecordingError(path, f"is shorter than one {self.window_s:g}-s analysis window",
                                 "Use a longer recording or a smaller window_s")
        with _mne_step(path, "the spectral analysis", "Check window_s against the recording's length and rate"):
            rows = self._windows(data, sfreq)
            psd, freqs = self._band_powers(data, sfreq)
        sink.append(pd.DataFrame(rows))
        if progress is not None:
            progress(3, 4)
        # Summary: whole-recording spectrum, per channel and averaged.
        summary: dict[str, Any] = {"n_channels": float(len(clean.ch_names)),
                                   "duration_s": float(raw.n_times / raw.info["sfreq"]), **counts}
        spectral = spectral_summary(psd, freqs, channels=clean.ch_names, dropped=dropped, recorded=raw.ch_names)
        spectral_notes = spectral.pop("notes")
        summary.update(spectral)
        with _mne_step(path, "epoching around the events", "Check the events and epoch_tmin/epoch_tmax, or "
                       "reject_uv"):
            erps, erp_notes, erp_curves = self._erps(clean)
        summary.update(erps)
        summary["notes"] = join_notes([*notes, spectral_notes, *erp_notes])
        if summary["notes"]:
            logger.info("%s: %s", path, summary["notes"])
        if progress is not None:
            progress(4, 4)
        curves = {"spectrum": self._spectrum_curve(psd, freqs, len(clean.ch_names)), **erp_curves}
        return Summary(summary, curves=curves)

    def _spectrum_curve(self, psd: np.ndarray, freqs: np.ndarray, n_channels: int) -> Curve:
        """The whole recording's Welch PSD averaged over the analysed channels, over the pass band
        (``l_freq`` to ``h_freq``; the frequencies outside it were filtered out)."""
        band = (freqs >= self.l_freq) & (freqs <= self.h_freq) & (freqs > 0)
        mean = np.atleast_1d(_nanmean(psd, axis=0)) if n_channels else np.full(len(freqs), np.nan)
        # 6 significant digits: the file stays small, and repeated runs write the same text
        rounded = np.array([float(f"{v:.6g}") for v in mean[band]])
        return Curve(x=freqs[band], y={"mean": rounded}, x_label="frequency", x_unit="Hz",
                     y_label="power spectral density", y_unit="uV^2/Hz", log_y=True,
                     title=f"Power spectrum (Welch, {self.window_s:g}-s segments; mean of {n_channels} channels)")

    def _windows(self, data: np.ndarray, sfreq: float) -> list[dict[str, float]]:
        """Band powers per ``window_s`` window, averaged over channels (the time series)."""
        n_win = int(round(self.window_s * sfreq))
        rows = []
        for start in range(0, data.shape[1] - n_win + 1, n_win):
            psd, freqs = self._band_powers(data[:, start:start + n_win], sfreq)
            powers = self._integrate(psd, freqs)
            row = {"time_s": start / sfreq}
            row.update({f"rel_power_{b}": _nanmean(powers[f"rel_{b}"]) for b in BANDS})
            row.update({f"abs_power_{b}_uv2": _nanmean(powers[f"abs_{b}"]) for b in BANDS})
            rows.append(row)
        return rows
