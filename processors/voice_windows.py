"""The ``voice_windows`` processor: acoustic feature vectors over sliding windows.

The window-level features of Hansen et al. (2023) for voice classifiers, one row per
window (``window_s`` long, every ``stride_s``; 5 s and 1 s by default) of the audio
resampled to 16 kHz:

- the 88 **eGeMAPSv02 functionals** of openSMILE (Eyben et al. 2016) computed on the
  window (``egemaps_<openSMILE name>``);
- the **means of 40 MFCCs** over the window (``mfcc_<k>_mean``, k = 1..n_mfcc; c0 is
  left out): ``librosa.feature.mfcc`` with its defaults (:func:`mfcc`): 25-ms Hann frames
  every 10 ms (starting at 0), a 512-point power spectrum, ``n_mels`` Slaney mel bands
  (area-normalised), log power in dB floored 80 dB below the recording's loudest mel value
  (``top_db``), an orthonormal DCT-II. (Version 1.1 computed the same without the 80-dB floor;
  means change little on recordings with a noise floor (interview sample: median 0.08) and much
  where the audio holds digital silence (a LibriVox clip: median 2.2, up to 16.5).)

Both are computed on the 16 kHz copy whatever the recording's rate, so 16, 44.1 and 192 kHz
files give comparable values; a recording sampled below 16 kHz (telephone audio at 8 kHz) is
upsampled, has nothing above its Nyquist frequency, and gets a note saying so.

A recording shorter than one window gives a single window over all of it. A classifier
scores each window and averages the scores over a recording's windows (see
``bitbox.clinical.transdiagnostic``).

Long recordings stream (``block_s``, 60 s by default; ``None`` reads the whole file at once): the
audio is decoded and resampled block by block (:func:`bitbox.audio.audio_blocks`,
:func:`bitbox.audio.resample_block`) in two passes. The first checks the audio (duration, peak
level, clipped samples, as :func:`~bitbox.processors.audio_quality.check_audio`) and finds the
recording's loudest mel value (the reference of the 80-dB floor); the second computes the MFCC
frames of each block (with the 400 samples a frame spans) and each window from a rolling buffer
of at most one window and one block, and appends the rows to the output block by block. Memory
stays flat with the recording's length; the values are those of the whole file at once (MFCC
means and eGeMAPS identical at 16 and 44.1 kHz: tested).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from bitbox.processors.audio_quality import AudioStats, no_audio_reason
from bitbox.processors.voice import audio_blocks_16k
from bitbox.catalog import Measure
from bitbox.errors import ParameterError
from bitbox.params import Bool, Interval, NoneOk
from bitbox.processor import Processor, ProgressCallback, QualityColumns, join_notes
from bitbox.recording import Recording

__all__ = ["VoiceWindowsProcessor", "mfcc", "window_starts", "voice_windows_summary", "SAMPLE_RATE"]

_EYBEN = "Eyben et al. (2016), the Geneva minimalistic acoustic parameter set (eGeMAPS), IEEE TAC 7:190"
_HANSEN = "Hansen et al. (2023), transdiagnostic speech and text classification (5-s windows, 1-s stride)"
_DAVIS = "Davis & Mermelstein (1980), mel-frequency cepstral coefficients; Slaney (1998) mel scale"
#: The rate (Hz) the windows' features are computed at: recordings are resampled to it.
SAMPLE_RATE = 16000

_MEASURES = [
    Measure("end_s", "s", "End of the window (time_s is its start).", "timeseries", (0, math.inf)),
    Measure(r"egemaps_.+", "", "One of the 88 eGeMAPSv02 functionals of openSMILE over the window "
            "(egemaps_<openSMILE name>; units as in Eyben et al. 2016); only with egemaps=True.", "timeseries",
            None, pattern=True, reference=_EYBEN),
    Measure(r"mfcc_\d+_mean", "1", "Mean over the window's 25-ms frames of one mel-frequency cepstral "
            "coefficient (k = 1..n_mfcc; dB-scaled log mel power, orthonormal DCT).", "timeseries", None,
            pattern=True, reference=_DAVIS,
            evidence="A gain of +6 dB changes c0 only (higher coefficients unchanged to 1e-4); a LibriVox clip "
                     "resampled to 44.1 and 192 kHz: means within 0.1 of each other and within 2.5 of the 16-kHz "
                     "original's (the resampling filters take out the last few hundred Hz below 8 kHz); tested."),
    Measure("window_count", "1", "Windows in the recording.", "summary", (1, math.inf), reference=_HANSEN),
    Measure("duration_s", "s", "Duration of the audio.", "summary", (0, math.inf)),
    Measure("notes", "", "Warnings that did not stop the processor, ' | '-joined, each saying what was found and "
            "what to do (a sample rate below 16 kHz). Empty when there are none.", "summary", None, "str"),
]


def window_starts(duration_s: float, window_s: float, stride_s: float) -> np.ndarray:
    """Start times (s) of the windows that fit in ``duration_s`` (one at 0 if none fits).

    >>> window_starts(7.0, 5.0, 1.0)
    array([0., 1., 2.])
    """
    n = int(math.floor((duration_s - window_s) / stride_s + 1e-9)) + 1
    return np.arange(max(n, 1)) * float(stride_s)


def mfcc(samples: np.ndarray, sr: int, *, n_mfcc: int = 40, n_mels: int = 128, n_fft: int = 512,
         win_length: int | None = None, hop_length: int | None = None) -> np.ndarray:
    """Mel-frequency cepstral coefficients c0..c(n_mfcc-1), shape (n_mfcc, n_frames).

    Parameters
    ----------
    samples : np.ndarray
        Mono samples.
    sr : int
        Sample rate (Hz).
    n_mfcc : int
        Coefficients returned (c0 first).
    n_mels : int
        Mel bands.
    n_fft : int
        FFT length (samples).
    win_length, hop_length : int | None
        Hann window and hop in samples (default 25 ms and 10 ms).
    """
    import librosa

    win_length = int(round(0.025 * sr)) if win_length is None else int(win_length)
    hop_length = int(round(0.010 * sr)) if hop_length is None else int(hop_length)
    if win_length > n_fft:
        raise ValueError(f"win_length ({win_length}) must not exceed n_fft ({n_fft}).")
    x = np.asarray(samples, dtype=np.float64)
    if len(x) < win_length:
        x = np.pad(x, (0, win_length - len(x)))
    # librosa centres the window in each n_fft-sample frame: pad so that frame i's window starts at sample
    # i * hop_length (frames start at 0, 1 + (n - win_length) // hop_length of them).
    lead = (n_fft - win_length) // 2
    x = np.pad(x, (lead, n_fft - win_length - lead))
    return librosa.feature.mfcc(y=x, sr=sr, n_mfcc=n_mfcc, n_fft=n_fft, win_length=win_length,
                                hop_length=hop_length, n_mels=n_mels, center=False)


def voice_windows_summary(windows: pd.DataFrame, *, duration_s: float, sample_rate: int) -> dict[str, Any]:
    """The voice_windows summary, from the per-window table.

    Parameters
    ----------
    windows : DataFrame
        One row per window (the processor's time series: ``time_s``, ``end_s``, the
        ``mfcc_<k>_mean`` and ``egemaps_*`` features); at least one row.
    duration_s : float
        Duration of the audio (s).
    sample_rate : int
        The recording's own sample rate (Hz), before the 16 kHz copy.

    Returns
    -------
    dict
        ``window_count``, ``duration_s`` and ``notes``: a sample rate below 16 kHz, and windows
        whose features are NaN (which a classifier must leave out), each with what to do.

    Raises
    ------
    ParameterError
        When the table has no row (the processor always makes at least one window), or
        ``duration_s`` or ``sample_rate`` is not a non-negative / positive number.
    """
    if not len(windows):
        raise ParameterError("voice_windows_summary needs at least one window (a recording shorter than one "
                             "window gives one window over all of it). Got an empty table instead.")
    if not (isinstance(duration_s, (int, float, np.integer, np.floating)) and 0 <= duration_s < math.inf):
        raise ParameterError(f"The 'duration_s' argument of voice_windows_summary must be a non-negative number. "
                             f"Got {duration_s!r} instead.")
    if not (isinstance(sample_rate, (int, float, np.integer, np.floating)) and 0 < sample_rate < math.inf):
        raise ParameterError(f"The 'sample_rate' argument of voice_windows_summary must be a positive number. "
                             f"Got {sample_rate!r} instead.")
    features = [c for c in windows.columns if c.startswith(("mfcc_", "egemaps_"))]
    tally = _FeatureTally(features)
    tally.add(windows)
    return _summary(tally, duration_s=float(duration_s), sample_rate=sample_rate)


class _FeatureTally:
    """Windows whose features are NaN or infinite, counted chunk by chunk (the summary's note)."""

    def __init__(self, features: list[str]) -> None:
        self.features = features
        self.windows = 0
        self.missing = 0
        self.bad = np.zeros(len(features), dtype=bool)

    def add(self, chunk: pd.DataFrame) -> None:
        """Count the windows of one chunk of the table."""
        self.windows += len(chunk)
        if self.features:
            values = chunk[self.features].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64,
                                                                                       na_value=np.nan)
            finite = np.isfinite(values)
            self.missing += int((~finite.all(axis=1)).sum())
            self.bad |= ~finite.all(axis=0)


def _summary(tally: _FeatureTally, *, duration_s: float, sample_rate: int) -> dict[str, Any]:
    """The summary (see :func:`voice_windows_summary`) from the counts of the whole table."""
    notes = []
    if sample_rate < SAMPLE_RATE:
        notes.append(f"the audio is sampled at {sample_rate:g} Hz: nothing above {sample_rate / 2:.0f} Hz was "
                     f"recorded, so the MFCCs and eGeMAPS features (computed at {SAMPLE_RATE} Hz after upsampling) "
                     "are not comparable with wide-band recordings; compare it only with recordings of the same "
                     "sample rate, or record at 16 kHz or more")
    if tally.missing:
        names = [f for f, bad in zip(tally.features, tally.bad) if bad]
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        notes.append(f"{tally.missing} of {tally.windows} windows have features that are NaN or infinite "
                     f"({shown}): leave these windows out when scoring, and check the audio there (silence, "
                     "a window too short for openSMILE)")
    return {"window_count": float(tally.windows), "duration_s": float(duration_s), "notes": join_notes(notes)}


class VoiceWindowsProcessor(Processor):
    """The eGeMAPS functionals and MFCC means over sliding windows of an audio recording.

    Parameters
    ----------
    window_s : float
        Window length (s).
    stride_s : float
        Step between window starts (s).
    egemaps : bool
        Compute the 88 eGeMAPSv02 functionals per window (openSMILE; most of the time).
    n_mfcc : int
        MFCCs averaged per window (c1..c_n).
    n_mels : int
        Mel bands of the MFCCs.
    max_clipped_fraction : float
        Refuse recordings with more clipped samples than this fraction.
    block_s : float | None
        Audio decoded and analysed at a time (s): memory stays flat with the recording's length, the
        values are those of the whole file at once. ``None`` reads the whole file at once.
    """

    name = "voice_windows"
    version = "1.3.0"
    input_kinds = ("audio", "video")
    dependencies = ("opensmile", "soundfile", "av", "scipy")
    measures = tuple(_MEASURES)
    plot_measures = ("mfcc_1_mean", "mfcc_2_mean")
    qc = QualityColumns(measures=("window_count",))
    _parameter_constraints = {
        "window_s": [Interval(float, 0.5, 600)],
        "stride_s": [Interval(float, 0.01, 600)],
        "egemaps": [Bool()],
        "n_mfcc": [Interval(int, 1, 80)],
        "n_mels": [Interval(int, 8, 256)],
        "max_clipped_fraction": [Interval(float, 0, 1)],
        "block_s": [Interval(float, 1, None), NoneOk()],
    }

    def __init__(self, *, window_s: float = 5.0, stride_s: float = 1.0, egemaps: bool = True, n_mfcc: int = 40,
                 n_mels: int = 128, max_clipped_fraction: float = 0.01, block_s: float | None = 60.0) -> None:
        self.window_s = window_s
        self.stride_s = stride_s
        self.egemaps = egemaps
        self.n_mfcc = n_mfcc
        self.n_mels = n_mels
        self.max_clipped_fraction = max_clipped_fraction
        self.block_s = block_s

    def validate_params(self) -> None:
        super().validate_params()
        if self.n_mfcc >= self.n_mels:
            raise ParameterError(f"n_mfcc ({self.n_mfcc}) must be below n_mels ({self.n_mels}) in "
                                 "VoiceWindowsProcessor.")

    def skip_reason(self, recording: Recording) -> str | None:
        """A video without an audio track has no voice to measure."""
        return no_audio_reason(recording)

    def compute(self, recording: Recording, sink, progress: ProgressCallback | None = None) -> dict[str, Any]:
        block_s = None if self.block_s is None else float(self.block_s)
        window_s, stride_s = float(self.window_s), float(self.stride_s)
        n_mfcc, n_mels = int(self.n_mfcc), int(self.n_mels)

        def blocks():
            return audio_blocks_16k(recording.path, block_s=block_s)

        # Pass 1: the checks of check_audio and the loudest mel value (the reference of the 80-dB floor).
        checks, frames, loudest, sr = None, _MelFrames(n_mels), 0.0, SAMPLE_RATE
        for block, x16 in blocks():
            sr = block.sr
            checks = checks if checks is not None else AudioStats(block.sr)
            checks.update(block.core)
            _, power = frames.feed(x16, last=block.last)
            if power.size:
                loudest = max(loudest, float(power.max()))
        checks.check(recording.path, max_clipped_fraction=float(self.max_clipped_fraction))
        n16 = frames.total
        floor_db = 10.0 * math.log10(max(_AMIN, loudest)) - _TOP_DB
        duration = n16 / SAMPLE_RATE
        starts = window_starts(duration, window_s, stride_s)
        width = int(round(window_s * SAMPLE_RATE))
        first = np.rint(starts * SAMPLE_RATE).astype(np.int64)
        last = np.minimum(first + width, n16)
        smile = None
        if self.egemaps:
            import opensmile

            smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                    feature_level=opensmile.FeatureLevel.Functionals)

        # Pass 2: MFCC frames block by block; each window from a rolling buffer (at most a window and a block).
        frames = _MelFrames(n_mels)
        buffer, buffer_at = np.empty(0, dtype=np.float32), 0  # buffer[0] is 16-kHz sample `buffer_at`
        coefficients, coefficients_at = np.empty((n_mfcc, 0)), 0  # MFCC frame `coefficients_at` first
        tally, i = None, 0
        for block, x16 in blocks():
            buffer = np.concatenate([buffer, x16])
            _, power = frames.feed(x16, last=block.last)
            if power.size:
                log_power = np.maximum(10.0 * np.log10(np.maximum(_AMIN, power)), floor_db)
                coefficients = np.concatenate([coefficients, _dct(log_power, n_mfcc + 1)[1:]], axis=1)
            end = buffer_at + len(buffer)
            rows = []
            while i < len(starts):
                a, b = int(first[i]), int(last[i])
                if not block.last and frames.next * _HOP + _WIN <= max(b, a + 1):
                    break  # frames of this window are still to come
                row: dict[str, Any] = {"time_s": float(starts[i]), "end_s": b / SAMPLE_RATE}
                if smile is not None:
                    table = smile.process_signal(buffer[a - buffer_at:b - buffer_at], SAMPLE_RATE)
                    row.update({f"egemaps_{k}": float(v) for k, v in table.iloc[0].items()})
                frame_starts = (coefficients_at + np.arange(coefficients.shape[1])) * _HOP
                inside = (frame_starts >= a) & (frame_starts + _WIN <= max(b, a + 1))
                if not inside.any():
                    inside = frame_starts >= a
                means = coefficients[:, inside].mean(axis=1)
                row.update({f"mfcc_{k + 1}_mean": float(v) for k, v in enumerate(means)})
                rows.append(row)
                i += 1
                if progress is not None:
                    progress(i, len(starts))
            if rows:
                chunk = pd.DataFrame(rows)
                if tally is None:
                    tally = _FeatureTally([c for c in chunk.columns if c.startswith(("mfcc_", "egemaps_"))])
                tally.add(chunk)
                sink.append(chunk)
            keep = min(int(first[i]) if i < len(starts) else end, end)
            buffer, buffer_at = buffer[keep - buffer_at:], keep
            cut = min(max(coefficients_at, -(-keep // _HOP)), frames.next)
            coefficients, coefficients_at = coefficients[:, cut - coefficients_at:], cut
        if tally is None or i < len(starts):  # the last block finishes every window
            raise RuntimeError(f"voice_windows: {len(starts) - i} windows of {recording.path} were not computed")
        return _summary(tally, duration_s=duration, sample_rate=sr)


# ---------------------------------------------------------------------------- streaming
_WIN = int(round(0.025 * SAMPLE_RATE))  # the 25-ms frames of mfcc() at 16 kHz (samples)
_HOP = int(round(0.010 * SAMPLE_RATE))  # their 10-ms step
_N_FFT = 512
_LEAD = (_N_FFT - _WIN) // 2  # samples before a frame's window in its n_fft-sample FFT frame
_AMIN = 1e-10  # librosa.power_to_db's floor of the power
_TOP_DB = 80.0  # and its dynamic range below the loudest value
_BATCH = 2000  # mel frames computed at a time


def _dct(log_power: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` cepstral coefficients of log mel frames, as ``librosa.feature.mfcc`` computes them."""
    import librosa

    return librosa.feature.mfcc(S=log_power, n_mfcc=n)


class _MelFrames:
    """Mel power frames of 16-kHz samples fed in order, framed as :func:`mfcc` frames the whole file.

    Frame ``i`` holds samples ``[i * 160, i * 160 + 400)`` (in a 512-point FFT frame from sample
    ``i * 160 - 56``); a frame is computed once all its samples are in, the last ones when the last
    samples come (with the whole file's zero padding).
    """

    def __init__(self, n_mels: int) -> None:
        self.n_mels = n_mels
        self.buffer = np.empty(0, dtype=np.float32)
        self.offset = 0  # file index of buffer[0]
        self.next = 0  # the next frame to compute
        self.total = 0  # samples fed

    def feed(self, samples: np.ndarray, *, last: bool) -> tuple[int, np.ndarray]:
        """Add samples; return the first new frame's index and the new frames' mel power ``(n_mels, k)``."""
        import librosa

        self.buffer = np.concatenate([self.buffer, np.asarray(samples, dtype=np.float32)])
        self.total += len(samples)
        if last:
            count = 1 + (max(self.total, _WIN) - _WIN) // _HOP
        else:
            count = (self.total - (_N_FFT - _LEAD)) // _HOP + 1 if self.total >= _N_FFT - _LEAD else 0
        first = self.next
        if count <= first:
            return first, np.empty((self.n_mels, 0))
        lo, hi = first * _HOP - _LEAD, (count - 1) * _HOP + _N_FFT - _LEAD
        segment = np.zeros(hi - lo)
        a, b = max(lo, 0), min(hi, self.total)
        segment[a - lo:b - lo] = self.buffer[a - self.offset:b - self.offset]
        power = np.empty((self.n_mels, count - first))
        for at in range(0, count - first, _BATCH):  # a few thousand frames at a time: the STFT's memory stays small
            k = min(_BATCH, count - first - at)
            power[:, at:at + k] = librosa.feature.melspectrogram(
                y=segment[at * _HOP:(at + k - 1) * _HOP + _N_FFT], sr=SAMPLE_RATE, n_fft=_N_FFT, win_length=_WIN,
                hop_length=_HOP, center=False, n_mels=self.n_mels)
        self.next = count
        keep = min(max(0, count * _HOP - _LEAD), self.total)
        self.buffer, self.offset = self.buffer[keep - self.offset:], keep
        return first, power


