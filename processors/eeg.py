"""The ``eeg`` processor: MNE-based reading, preprocessing, spectral measures and ERPs.

Pipeline (every parameter is recorded in the provenance):

1. **Read** EDF/BDF, GDF, FIF, BrainVision (``.vhdr``) or EEGLAB (``.set``) with MNE; keep
   the EEG channels; check for NaNs and implausible amplitudes (volts stored as microvolts
   or the reverse); apply the standard 10-20 montage where channel names match.
2. **Preprocess**: resample (optional), notch at the line frequency and its harmonics,
   band-pass, mark bad channels (flat, or robust z-score of log-variance above
   ``bad_channel_z``) and interpolate them when positions are known, optional ICA with
   automatic component labelling (mne-icalabel; components labelled as eye, muscle, heart,
   line or channel noise with probability above ``ica_threshold`` are removed),
   re-reference to the average.
3. **Measure**: absolute and relative band power (Welch, ``window_s`` windows) per channel
   and averaged, the individual alpha peak frequency; and, when the recording has events
   (annotations or a stim channel): epochs per condition with peak-to-peak rejection, ERPs,
   and component measures (peak latency, peak amplitude, mean amplitude) in windows.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bitbox.catalog import Measure
from bitbox.errors import MeasurementError, ParameterError, RecordingError
from bitbox.log import logger
from bitbox.params import Bool, Interval, NoneOk, Options
from bitbox.processor import Processor, ProgressCallback
from bitbox.recording import Recording

__all__ = ["EegProcessor", "read_raw", "BANDS", "COMPONENTS", "condition_name"]

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
_ALPHA_REF = "Klimesch (1999), individual alpha frequency; here the 7-13 Hz peak above a 1/f fit"
_READERS = {".edf": "read_raw_edf", ".bdf": "read_raw_bdf", ".gdf": "read_raw_gdf", ".fif": "read_raw_fif",
            ".vhdr": "read_raw_brainvision", ".set": "read_raw_eeglab"}

_MEASURES = [
    *[Measure(f"rel_power_{b}", "1", f"Relative {b} power ({lo:g}-{hi:g} Hz) in the window, mean over channels: "
              "band power / power from 1 to 40 Hz.", "timeseries", (0, 1), reference=_REF)
      for b, (lo, hi) in BANDS.items()],
    *[Measure(f"abs_power_{b}_uv2", "uV^2", f"Absolute {b} power ({lo:g}-{hi:g} Hz) in the window, mean over "
              "channels (Welch PSD integrated over the band).", "timeseries", (0, math.inf), reference=_REF)
      for b, (lo, hi) in BANDS.items()],
    *[Measure(f"rel_power_{b}", "1", f"Relative {b} power over the recording, mean over channels.", "summary",
              (0, 1), reference=_REF, evidence="Relative powers of the five bands sum to 1 (by construction, "
                                                "tested).") for b in BANDS],
    *[Measure(f"abs_power_{b}_uv2", "uV^2", f"Absolute {b} power over the recording, mean over channels.",
              "summary", (0, math.inf), reference=_REF) for b in BANDS],
    Measure(r"rel_power_(delta|theta|alpha|beta|gamma)_ch_.+", "1", "Relative band power of one channel "
            "(rel_power_<band>_ch_<channel>).", "summary", (0, 1), pattern=True, reference=_REF),
    Measure(r"abs_power_(delta|theta|alpha|beta|gamma)_uv2_ch_.+", "uV^2", "Absolute band power of one channel "
            "(abs_power_<band>_uv2_ch_<channel>).", "summary", (0, math.inf), pattern=True, reference=_REF),
    Measure("alpha_peak_hz", "Hz", "Individual alpha peak frequency: the maximum of the channel-mean PSD between "
            "7 and 13 Hz after removing a 1/f fit (log-log line over 2-40 Hz), refined by a parabola; NaN "
            "without a peak.", "summary", (7, 13), reference=_ALPHA_REF,
            evidence="Simulated EEG with a 9.5 Hz alpha rhythm over 1/f noise: recovered within 0.5 Hz."),
    Measure("n_channels", "1", "EEG channels analysed.", "summary", (0, math.inf)),
    Measure("n_bad_channels", "1", "Channels marked bad (flat or extreme variance) and interpolated or dropped.",
            "summary", (0, math.inf)),
    Measure("n_ica_excluded", "1", "ICA components removed as artefacts (0 without ICA).", "summary",
            (0, math.inf)),
    Measure("amplitude_median_uv", "uV", "Median absolute amplitude of the raw EEG (before filtering); "
            "typically 5-50 uV.", "summary", (0, math.inf)),
    Measure("units_suspect", "1", "1 when the raw amplitude is implausible for EEG in volts (median above "
            "1000 uV: microvolts stored as volts; or below 0.01 uV): check the file's units.", "summary", (0, 1)),
    Measure("duration_s", "s", "Duration of the recording.", "summary", (0, math.inf)),
    Measure(r"erp_[a-z0-9_]+_n_trials", "1", "Epochs of the condition kept after peak-to-peak rejection.",
            "summary", (0, math.inf), pattern=True, reference=_ERP_REF),
    Measure(r"erp_[a-z0-9_]+_peak_latency_ms", "ms", "Latency of the component's peak (largest positive or "
            "negative deflection in its window) in the condition's ERP, averaged over the component's channels.",
            "summary", (-math.inf, math.inf), pattern=True, reference=_ERP_REF,
            evidence="Simulated P3 (350 ms, 10 uV at Pz, 60 trials): latency within 10 ms."),
    Measure(r"erp_[a-z0-9_]+_peak_amplitude_uv", "uV", "Amplitude at the component's peak.", "summary",
            None, pattern=True, reference=_ERP_REF,
            evidence="Simulated P3 of 10 uV: amplitude within 10%."),
    Measure(r"erp_[a-z0-9_]+_mean_amplitude_uv", "uV", "Mean amplitude over the component's window.", "summary",
            None, pattern=True, reference=_ERP_REF),
]


def condition_name(description: str) -> str:
    """An event description as a measure-name part: lower case, letters, digits and underscores."""
    name = re.sub(r"[^a-z0-9]+", "_", str(description).lower()).strip("_")
    return name or "event"


def read_raw(path: str | Path):
    """Read an EEG recording with MNE, with clear errors for bad files.

    Returns
    -------
    mne.io.Raw
        Preloaded, EEG channels only.
    """
    import mne

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _READERS:
        raise RecordingError(path, f"{suffix or 'no extension'} is not a supported EEG format",
                             f"Use one of {', '.join(sorted(_READERS))}")
    if suffix == ".vhdr":
        text = path.read_text(errors="replace")
        for key in ("DataFile", "MarkerFile"):
            match = re.search(rf"^{key}=(.+)$", text, flags=re.MULTILINE)
            if match and not (path.parent / match.group(1).strip()).is_file():
                raise RecordingError(path, f"the BrainVision companion file {match.group(1).strip()!r} is missing",
                                     "Keep the .vhdr, .vmrk and .eeg files together in one folder")
    if suffix == ".set":
        fdt = path.with_suffix(".fdt")
        try:
            from scipy.io import loadmat, whosmat

            names = [n for n, *_ in whosmat(str(path))]
            needs_fdt = "EEG" in names and isinstance(loadmat(str(path), variable_names=["EEG"],
                                                              squeeze_me=True)["EEG"]["data"].item(), str)
        except Exception:  # HDF5-based (v7.3) files: let MNE decide
            needs_fdt = False
        if needs_fdt and not fdt.is_file():
            raise RecordingError(path, f"the EEGLAB data file {fdt.name!r} is missing",
                                 "Keep the .set and .fdt files together in one folder")
    reader = getattr(mne.io, _READERS[suffix])
    try:
        raw = reader(str(path), preload=True, verbose="error")
    except Exception as err:  # every reader fails in its own way: name the file and the reason
        raise RecordingError(path, f"cannot be read as {suffix} EEG ({type(err).__name__}: {err})",
                             "Check that the file is complete and opens in its recording software") from None
    picks = mne.pick_types(raw.info, eeg=True, exclude=[])
    if len(picks) == 0:
        raise RecordingError(path, "holds no EEG channels",
                             f"Channel types found: {sorted(set(raw.get_channel_types()))}")
    raw.pick(picks)
    data = raw.get_data()
    bad = [raw.ch_names[i] for i in np.flatnonzero(~np.isfinite(data).all(axis=1))]
    if bad:
        raise RecordingError(path, f"channels {bad} contain NaN or infinite values",
                             "Export the recording again, or drop these channels")
    return raw


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
    """

    name = "eeg"
    version = "1.0.0"
    input_kinds = ("eeg",)
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
    }

    def __init__(self, *, l_freq: float = 0.5, h_freq: float = 40.0, notch_hz: float | None = 50.0,
                 resample_hz: float | None = None, reference: str = "average", bad_channel_z: float = 5.0,
                 interpolate_bads: bool = True, ica: bool = False, ica_method: str = "infomax",
                 ica_n_components: int = 15,
                 ica_threshold: float = 0.8, window_s: float = 2.0, epoch_tmin: float = -0.2,
                 epoch_tmax: float = 0.8, reject_uv: float | None = 150.0, components: dict | None = None,
                 random_state: int = 0) -> None:
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

    # ------------------------------------------------------------------ preprocessing
    def preprocess(self, raw) -> tuple[Any, dict[str, float]]:
        """Filter, clean and re-reference a raw recording (a copy); returns it and a few counts."""
        import mne

        if self.ica and self.reference != "average":
            raise ParameterError("ica=True needs reference='average' (ICLabel classifies average-referenced "
                                 f"EEG). Got reference={self.reference!r}.")
        raw = raw.copy()
        counts: dict[str, float] = {}
        data_uv = raw.get_data() * 1e6
        median = float(np.median(np.abs(data_uv - np.median(data_uv, axis=1, keepdims=True))))
        counts["amplitude_median_uv"] = median
        counts["units_suspect"] = float(median > 1000 or median < 0.01)
        if counts["units_suspect"]:
            logger.warning("EEG amplitudes look implausible (median %.3g uV): check the file's units", median)
        montage = mne.channels.make_standard_montage("standard_1020")
        known = {name.lower() for name in montage.ch_names}
        if any(ch.lower() in known for ch in raw.ch_names):
            raw.set_montage(montage, match_case=False, on_missing="ignore", verbose="error")
        if self.resample_hz:
            raw.resample(float(self.resample_hz), verbose="error")
        nyquist = raw.info["sfreq"] / 2
        h_freq = min(float(self.h_freq), nyquist - 1.0)
        if self.notch_hz and self.notch_hz < nyquist:
            top = min(nyquist, (100.0 if self.ica else h_freq) + self.notch_hz)
            freqs = np.arange(float(self.notch_hz), top, float(self.notch_hz))
            raw.notch_filter(freqs, verbose="error")
        unfiltered = raw.copy() if self.ica else None  # ICLabel wants 1-100 Hz data
        raw.filter(float(self.l_freq), h_freq, verbose="error")
        # Bad channels: flat, or extreme log-variance (robust z-score).
        log_var = np.log(np.maximum(raw.get_data().var(axis=1), 1e-30))
        mad = 1.4826 * np.median(np.abs(log_var - np.median(log_var))) or 1e-12
        z = (log_var - np.median(log_var)) / mad
        bads = [ch for ch, zz, lv in zip(raw.ch_names, z, log_var) if abs(zz) > self.bad_channel_z or lv < -60]
        raw.info["bads"] = bads
        counts["n_bad_channels"] = float(len(bads))
        if bads:
            logger.info("bad EEG channels: %s", ", ".join(bads))
            has_positions = all(np.isfinite(raw.info["chs"][raw.ch_names.index(ch)]["loc"][:3]).all()
                                and np.any(raw.info["chs"][raw.ch_names.index(ch)]["loc"][:3]) for ch in bads)
            for target in (raw, unfiltered) if unfiltered is not None else (raw,):
                target.info["bads"] = list(bads)
                if self.interpolate_bads and has_positions and len(bads) < len(raw.ch_names) - 3:
                    target.interpolate_bads(reset_bads=True, verbose="error")
                else:
                    target.drop_channels(bads)
        if len(raw.ch_names) < 1:
            raise MeasurementError("", "no good EEG channel is left after bad-channel detection")
        if self.reference == "average" and len(raw.ch_names) > 1:
            raw.set_eeg_reference("average", projection=False, verbose="error")
        counts["n_ica_excluded"] = float(self._run_ica(raw, unfiltered) if self.ica else 0)
        return raw, counts

    def _run_ica(self, raw, unfiltered) -> int:
        """Fit ICA on a 1-100 Hz, average-referenced copy; remove artefact components from ``raw``."""
        import warnings

        import mne
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

    @staticmethod
    def _integrate(psd: np.ndarray, freqs: np.ndarray) -> dict[str, np.ndarray]:
        df = freqs[1] - freqs[0] if len(freqs) > 1 else 1.0
        total_band = (freqs >= 1.0) & (freqs < 40.0)
        total = psd[..., total_band].sum(axis=-1) * df
        out = {}
        for band, (lo, hi) in BANDS.items():
            mask = (freqs >= lo) & (freqs < hi)
            out[f"abs_{band}"] = psd[..., mask].sum(axis=-1) * df
            with np.errstate(invalid="ignore", divide="ignore"):
                out[f"rel_{band}"] = np.where(total > 0, out[f"abs_{band}"] / total, np.nan)
        return out

    @staticmethod
    def alpha_peak(psd_mean: np.ndarray, freqs: np.ndarray) -> float:
        """Alpha peak frequency (Hz) of a mean PSD, above a 1/f fit; NaN without a peak."""
        fit = (freqs >= 2) & (freqs <= 40) & ~((freqs >= 7) & (freqs <= 13)) & (psd_mean > 0)
        if fit.sum() < 3:
            return math.nan
        slope, intercept = np.polyfit(np.log10(freqs[fit]), np.log10(psd_mean[fit]), 1)
        band = np.flatnonzero((freqs >= 7) & (freqs <= 13))
        residual = np.log10(np.maximum(psd_mean[band], 1e-30)) - (intercept + slope * np.log10(freqs[band]))
        k = int(np.argmax(residual))
        if residual[k] <= 0 or k in (0, len(band) - 1):
            return math.nan
        y0, y1, y2 = residual[k - 1:k + 2]
        shift = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2) if (y0 - 2 * y1 + y2) != 0 else 0.0
        return float(freqs[band[k]] + shift * (freqs[1] - freqs[0]))

    def _erps(self, raw) -> dict[str, float]:
        import mne

        if len(raw.annotations):
            events, event_id = mne.events_from_annotations(raw, verbose="error")
            event_id = {d: i for d, i in event_id.items() if not d.lower().startswith(("bad", "edge"))}
        else:
            stim = mne.pick_types(raw.info, stim=True)
            if not len(stim):
                return {}
            events = mne.find_events(raw, verbose="error")
            event_id = {str(code): int(code) for code in np.unique(events[:, 2])}
        if not event_id:
            return {}
        reject = {"eeg": self.reject_uv * 1e-6} if self.reject_uv else None
        epochs = mne.Epochs(raw, events, event_id, tmin=self.epoch_tmin, tmax=self.epoch_tmax,
                            baseline=(self.epoch_tmin, 0.0), reject=reject, preload=True, verbose="error")
        components = self.components or COMPONENTS
        out: dict[str, float] = {}
        for description in event_id:
            cond = condition_name(description)
            sub = epochs[description]
            out[f"erp_{cond}_n_trials"] = float(len(sub))
            if not len(sub):
                continue
            evoked = sub.average()
            times_ms = evoked.times * 1000
            for comp, (t0, t1, polarity, channels) in components.items():
                picks = [ch for ch in channels if ch in evoked.ch_names] or evoked.ch_names
                wave = evoked.copy().pick(picks).data.mean(axis=0) * 1e6
                window = (times_ms >= t0) & (times_ms <= t1)
                if not window.any():
                    continue
                segment = wave[window]
                k = int(np.argmax(segment) if polarity == "positive" else np.argmin(segment))
                out[f"erp_{cond}_{comp}_peak_latency_ms"] = float(times_ms[window][k])
                out[f"erp_{cond}_{comp}_peak_amplitude_uv"] = float(segment[k])
                out[f"erp_{cond}_{comp}_mean_amplitude_uv"] = float(segment.mean())
        return out

    # ------------------------------------------------------------------ processing
    def compute(self, recording: Recording, sink, progress: ProgressCallback | None = None) -> dict[str, Any]:
        raw = read_raw(recording.path)
        if progress is not None:
            progress(1, 4)
        try:
            clean, counts = self.preprocess(raw)
        except MeasurementError as err:
            raise MeasurementError(recording.path, err.reason) from None
        if progress is not None:
            progress(2, 4)
        data, sfreq = clean.get_data(), clean.info["sfreq"]
        if data.shape[1] < int(self.window_s * sfreq):
            raise RecordingError(recording.path, f"is shorter than one {self.window_s:g}-s analysis window",
                                 "Use a longer recording or a smaller window_s")
        # Time series: band powers per window, averaged over channels.
        n_win = int(round(self.window_s * sfreq))
        rows = []
        for start in range(0, data.shape[1] - n_win + 1, n_win):
            psd, freqs = self._band_powers(data[:, start:start + n_win], sfreq)
            powers = self._integrate(psd, freqs)
            row = {"time_s": start / sfreq}
            row.update({f"rel_power_{b}": float(np.nanmean(powers[f"rel_{b}"])) for b in BANDS})
            row.update({f"abs_power_{b}_uv2": float(np.mean(powers[f"abs_{b}"])) for b in BANDS})
            rows.append(row)
        sink.append(pd.DataFrame(rows))
        if progress is not None:
            progress(3, 4)
        # Summary: whole-recording spectrum, per channel and averaged.
        psd, freqs = self._band_powers(data, sfreq)
        powers = self._integrate(psd, freqs)
        summary: dict[str, Any] = {"n_channels": float(len(clean.ch_names)), "duration_s": float(raw.times[-1]),
                                   **counts}
        rel_mean = {b: float(np.nanmean(powers[f"rel_{b}"])) for b in BANDS}
        scale = sum(rel_mean.values())
        for band in BANDS:
            summary[f"rel_power_{band}"] = rel_mean[band] / scale if scale > 0 else math.nan
            summary[f"abs_power_{band}_uv2"] = float(np.mean(powers[f"abs_{band}"]))
            for ch, rel, ab in zip(clean.ch_names, powers[f"rel_{band}"], powers[f"abs_{band}"]):
                summary[f"rel_power_{band}_ch_{ch}"] = float(rel)
                summary[f"abs_power_{band}_uv2_ch_{ch}"] = float(ab)
        summary["alpha_peak_hz"] = self.alpha_peak(psd.mean(axis=0), freqs)
        summary.update(self._erps(clean))
        if progress is not None:
            progress(4, 4)
        return summary
