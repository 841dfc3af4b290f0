"""Which audio a voice measure can trust, for the audio processors: checks, level, clipping and mains hum.

Decoding is the core's (:func:`bitbox.audio.read_audio`); what the audio processors refuse or
repair is their policy, kept here for ``speech``, ``speakers``, ``voice_windows``, ``language``,
``narrative`` and plugins:

- :func:`no_audio_reason`, :func:`has_audio_track`: a video without an audio track is not for them;
- :func:`check_audio` turns recordings no speech measure can be trusted on into clear errors:
  shorter than ``min_duration_s``, silence only, or clipped on more than a tolerated fraction
  of samples (:func:`level_dbfs`, :func:`clipped_fraction`); :class:`AudioStats` makes the same
  checks on audio read block by block;
- :func:`mains_hum` measures mains hum (the 50 or 60 Hz line and its harmonics) in a recording
  (:class:`HumSpectrum` gathers its spectrum block by block), :func:`remove_hum` notches it out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bitbox.errors import RecordingError

__all__ = ["has_audio_track", "no_audio_reason", "check_audio", "level_dbfs", "clipped_fraction", "MainsHum",
           "mains_hum", "remove_hum", "AudioStats", "HumSpectrum", "hum_from_spectrum", "MAINS_HZ", "HUM_HARMONICS",
           "SILENCE_DBFS", "CLIP_LEVEL"]

#: Peak level below which a recording is treated as silence only (dBFS).
SILENCE_DBFS = -60.0
#: A sample counts as clipped when its magnitude reaches this fraction of full scale.
CLIP_LEVEL = 0.999


def has_audio_track(path: str | Path) -> bool:
    """Whether a media file holds at least one audio stream (``False`` when it cannot be opened)."""
    import av

    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio)
    except Exception:  # unreadable files are reported by the decoder, with the reason
        return False


def no_audio_reason(recording) -> str | None:
    """Why an audio processor cannot apply to a :class:`~bitbox.recording.Recording`
    (a video without an audio track), or ``None`` (also when the file cannot be opened: the
    processor then fails with the decoder's reason, not "no audio track")."""
    import av

    if "video" not in recording.kind_info.streams:  # an audio file without sound fails with the decoder's reason
        return None
    try:
        with av.open(str(recording.path)) as container:
            return None if container.streams.audio else "the video has no audio track"
    except Exception:  # a file that cannot be opened: the processor reports the decoder's reason
        return None


def level_dbfs(samples: np.ndarray) -> float:
    """Peak level in dB relative to full scale (``-inf`` for digital silence)."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def clipped_fraction(samples: np.ndarray, *, level: float = CLIP_LEVEL) -> float:
    """Fraction of samples at (or beyond) ``level`` of full scale."""
    return float(np.mean(np.abs(samples) >= level)) if samples.size else 0.0


class AudioStats:
    """Length, peak and clipped samples of audio seen block by block, for the checks of :func:`check_audio`.

    Parameters
    ----------
    sr : int
        Sample rate (Hz).
    """

    def __init__(self, sr: int) -> None:
        self.sr = int(sr)
        self.n_samples = 0
        self.peak = 0.0
        self.n_clipped = 0
        self.maximum, self.minimum, self.total = -math.inf, math.inf, 0.0

    def update(self, samples: np.ndarray) -> None:
        """Add the next samples (a block's own samples)."""
        if samples.size:
            magnitude = np.abs(samples)
            self.peak = max(self.peak, float(magnitude.max()))
            self.n_clipped += int(np.count_nonzero(magnitude >= CLIP_LEVEL))
            self.n_samples += int(samples.size)
            self.maximum = max(self.maximum, float(samples.max()))
            self.minimum = min(self.minimum, float(samples.min()))
            self.total += float(np.sum(samples, dtype=np.float64))

    @property
    def extremes(self) -> tuple[float, float, float]:
        """The smallest and largest sample and the mean (zeros before any sample)."""
        if not self.n_samples:
            return 0.0, 0.0, 0.0
        return self.minimum, self.maximum, self.total / self.n_samples

    @property
    def duration_s(self) -> float:
        """Duration seen (s)."""
        return self.n_samples / self.sr

    @property
    def clipped_fraction(self) -> float:
        """Fraction of samples at full scale (:func:`clipped_fraction`)."""
        return self.n_clipped / self.n_samples if self.n_samples else 0.0

    def check(self, path: str | Path, *, min_duration_s: float = 1.0, max_clipped_fraction: float = 0.01) -> None:
        """Raise the errors of :func:`check_audio` (same parameters) for the audio seen."""
        duration = self.duration_s
        if duration < min_duration_s:
            raise RecordingError(path, f"is too short to measure ({duration:.2f} s of audio; at least "
                                 f"{min_duration_s:g} s is needed)", "Use a longer recording")
        peak = 20 * math.log10(self.peak) if self.peak > 0 else -math.inf
        if peak < SILENCE_DBFS:
            raise RecordingError(path, f"is silent (peak level {peak:.0f} dBFS, below {SILENCE_DBFS:.0f} dBFS)",
                                 "Check the microphone and the recording's audio channel")
        clipped = self.clipped_fraction
        if clipped > max_clipped_fraction:
            raise RecordingError(path, f"is clipped: {100 * clipped:.1f}% of samples are at full scale (at most "
                                 f"{100 * max_clipped_fraction:g}% tolerated)",
                                 "Record again with a lower input gain; clipping distorts pitch and voice-quality "
                                 "measures (raise max_clipped_fraction to analyse it anyway)")


def check_audio(samples: np.ndarray, sr: int, path: str | Path, *, min_duration_s: float = 1.0,
                max_clipped_fraction: float = 0.01) -> None:
    """Raise a clear :class:`RecordingError` for audio no speech measure can be trusted on.

    Parameters
    ----------
    samples : np.ndarray
        Mono samples in [-1, 1].
    sr : int
        Sample rate (Hz).
    path : str | Path
        The file, for the message.
    min_duration_s : float
        Shorter recordings are refused.
    max_clipped_fraction : float
        Recordings with more clipped samples than this fraction are refused (clipping
        distorts pitch perturbation and voice-quality measures).
    """
    stats = AudioStats(sr)
    stats.update(np.asarray(samples))
    stats.check(path, min_duration_s=min_duration_s, max_clipped_fraction=max_clipped_fraction)


# ---------------------------------------------------------------------------- mains hum
#: Mains frequencies searched (Hz).
MAINS_HZ = (50.0, 60.0)
#: Harmonics (fundamental included) measured and notched: up to 1 kHz at 50 Hz, 1.2 kHz at 60 Hz.
HUM_HARMONICS = 20
#: A hum line counts when its spectral peak stands this far above the spectrum around it (dB).
_LINE_DB = 10.0
#: Half-width of a line's band and the ring of neighbouring frequencies that gives its background (Hz).
_LINE_HALF_WIDTH_HZ = 1.5
_RING_HZ = (4.0, 12.0)
#: Welch segments (s) and the longest stretch analysed at once (s; long recordings are averaged block by block).
_HUM_SEGMENT_S = 2.0
_HUM_BLOCK_S = 60.0
#: The mains frequency is refined within this distance of 50 or 60 Hz (Hz; grids stay within 0.2 Hz).
_MAINS_TOLERANCE_HZ = 0.4


@dataclass(frozen=True)
class MainsHum:
    """Mains hum found in a recording (see :func:`mains_hum`).

    Attributes
    ----------
    mains_hz : float
        Nominal mains frequency, 50 or 60 Hz.
    frequency_hz : float
        The measured fundamental (within 0.4 Hz of ``mains_hz``).
    harmonics : np.ndarray of int
        Harmonic numbers analysed (1 is the fundamental).
    line_power : np.ndarray of float
        Power of each harmonic's line above the spectrum around it (squared sample units);
        0 for lines that do not stand ``10`` dB above their surroundings.
    """

    mains_hz: float
    frequency_hz: float
    harmonics: np.ndarray
    line_power: np.ndarray

    @property
    def power(self) -> float:
        """Total power of the hum family (the lines that stand out), in squared sample units."""
        return float(np.sum(self.line_power))

    @property
    def found(self) -> np.ndarray:
        """Harmonic numbers whose line stands out."""
        return self.harmonics[self.line_power > 0]


class HumSpectrum:
    """The Welch spectrum of :func:`mains_hum`, gathered from audio fed in pieces.

    Welch power spectral density (Hann, 2-s segments, half overlap) up to ``top_hz``, averaged over
    60-s stretches (each with the half segment after it), so memory holds one stretch whatever the
    recording's length; any split of the audio into pieces gives the same spectrum.

    Parameters
    ----------
    sr : int
        Sample rate (Hz).
    top_hz : float
        Highest frequency kept (Hz).
    """

    def __init__(self, sr: int, top_hz: float | None = None) -> None:
        self.sr = int(sr)
        self.top_hz = float(top_hz) if top_hz is not None else \
            HUM_HARMONICS * (max(MAINS_HZ) + _MAINS_TOLERANCE_HZ) + 2 * _RING_HZ[1]
        self._nperseg = int(round(_HUM_SEGMENT_S * sr))
        self._block = max(self._nperseg, int(round(_HUM_BLOCK_S * sr)))
        self._pending = np.empty(0, dtype=np.float32)
        self._total: np.ndarray | None = None
        self._weight = 0.0
        self._freqs: np.ndarray | None = None
        self._n = 0

    def _add(self, part: np.ndarray, nperseg: int) -> None:
        """Add the Welch density of ``part`` (weighted by its length), computed 8 segments at a time (the
        mean over all of its segments, with a few MB of spectra in memory)."""
        from scipy.signal import welch

        step = nperseg - nperseg // 2
        n_segments = max(1, (len(part) - nperseg) // step + 1)
        total, freqs = None, None
        for first in range(0, n_segments, 8):
            count = min(8, n_segments - first)
            piece = part[first * step:(first + count - 1) * step + nperseg].astype(np.float64)
            freqs, psd = welch(piece, self.sr, window="hann", nperseg=nperseg, noverlap=nperseg // 2,
                               detrend=False, scaling="density")
            keep = freqs <= self.top_hz
            total = psd[keep] * count if total is None else total + psd[keep] * count
        psd = total / n_segments * len(part)
        self._total = psd if self._total is None else self._total + psd
        self._weight += len(part)
        self._freqs = freqs[keep]

    def feed(self, samples: np.ndarray) -> None:
        """Add the next samples (a block's own samples, in order)."""
        self._n += len(samples)
        x = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32)])
        need = self._block + self._nperseg // 2
        while len(x) >= need:  # a whole stretch, and more audio after its first block: not the last one
            self._add(x[:need], self._nperseg)
            x = x[self._block:]
        self._pending = x

    def finish(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Frequencies and density; ``None`` for less than half a second of audio."""
        if self._n < int(0.5 * self.sr):
            return None
        x, nperseg = self._pending, int(min(self._n, self._nperseg))
        for start in range(0, len(x), self._block):
            part = x[start:start + self._block + nperseg // 2]
            if len(part) < nperseg:
                if self._total is not None:
                    break
                nperseg = len(part)
            self._add(part, nperseg)
        self._pending = np.empty(0, dtype=np.float32)
        return self._freqs, self._total / self._weight


def _peak_hz(freqs: np.ndarray, psd: np.ndarray, around: float, half_width: float) -> tuple[float, float]:
    """Frequency of the spectral peak within ``half_width`` of ``around`` (parabolic interpolation of the
    log spectrum) and its height (density)."""
    window = np.flatnonzero(np.abs(freqs - around) <= half_width)
    i = int(window[np.argmax(psd[window])])
    if 0 < i < len(psd) - 1:
        a, b, c = np.log(np.maximum(psd[i - 1:i + 2], 1e-300))
        shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c < 0 else 0.0
        return float(freqs[i] + np.clip(shift, -0.5, 0.5) * (freqs[1] - freqs[0])), float(psd[i])
    return float(freqs[i]), float(psd[i])


def _background(freqs: np.ndarray, psd: np.ndarray, f: float) -> float:
    """Median spectral density 4-12 Hz away from ``f``."""
    distance = np.abs(freqs - f)
    return float(np.median(psd[(distance >= _RING_HZ[0]) & (distance <= _RING_HZ[1])]))


def _family(freqs: np.ndarray, psd: np.ndarray, sr: int, nominal: float) -> tuple[MainsHum, float, bool]:
    """The hum family of one mains frequency; also its power outside the harmonics it shares with the
    other mains frequency (multiples of 300 Hz) and whether it was found.

    The fundamental is ``f_k / k`` of the harmonic whose peak (searched within ``1 Hz + k x 0.4 Hz``
    of ``k x nominal``) stands out most above its surroundings; each line's power is then measured
    at ``k x`` that fundamental.
    """
    df = float(freqs[1] - freqs[0])
    ks = np.arange(1, HUM_HARMONICS + 1)
    ks = ks[ks * (nominal + _MAINS_TOLERANCE_HZ) + _RING_HZ[1] < min(sr / 2.0, freqs[-1])]
    ratio = 10 ** (_LINE_DB / 10)
    f0, best = float(nominal), ratio
    for k in ks:
        peak, height = _peak_hz(freqs, psd, k * nominal, 1.0 + k * _MAINS_TOLERANCE_HZ)
        snr = height / max(_background(freqs, psd, peak), 1e-300)
        if snr >= best and abs(peak / k - nominal) <= _MAINS_TOLERANCE_HZ:
            f0, best = float(peak / k), snr
    power = np.zeros(len(ks))
    for i, k in enumerate(ks):
        line = np.abs(freqs - k * f0) <= _LINE_HALF_WIDTH_HZ
        floor = _background(freqs, psd, k * f0)
        if line.any() and psd[line].max() >= floor * ratio:
            power[i] = max(0.0, float(np.sum(psd[line] - floor)) * df)
    own = (ks * nominal) % 300 != 0
    found = bool(power[0] > 0 or np.count_nonzero(power[own]) >= 2) if len(ks) else False
    return MainsHum(nominal, f0, ks, power), float(np.sum(power[own])), found


def mains_hum(samples: np.ndarray, sr: int) -> MainsHum | None:
    """Measure mains hum: the 50 or 60 Hz line and its harmonics.

    The Welch power spectrum (Hann windows of 2 s, 0.5-Hz resolution, half overlap) is
    searched for lines at ``k * f`` (k = 1..20), with ``f`` within 0.4 Hz of 50 or of 60 Hz
    (``f_k / k`` of the harmonic that stands out most, its peak ``f_k`` located by parabolic
    interpolation of the log spectrum). A harmonic counts when
    its peak within 1.5 Hz stands 10 dB above the median spectrum 4-12 Hz away; its power is
    the power within 1.5 Hz above that background. A family is found when its fundamental
    counts, or two of its harmonics that are not shared with the other family (multiples of
    300 Hz are). When both families are found, the stronger one (on unshared harmonics) wins.

    Parameters
    ----------
    samples : np.ndarray
        Mono samples.
    sr : int
        Sample rate (Hz).

    Returns
    -------
    MainsHum | None
        The hum, or ``None`` when no mains line stands out.
    """
    spectrum = HumSpectrum(sr)
    spectrum.feed(np.asarray(samples, dtype=np.float32))
    return hum_from_spectrum(spectrum, sr)


def hum_from_spectrum(spectrum: HumSpectrum, sr: int) -> MainsHum | None:
    """:func:`mains_hum` of the audio fed to ``spectrum`` (``None`` when no mains line stands out)."""
    found = spectrum.finish()
    if found is None:
        return None
    freqs, psd = found
    if len(freqs) < 8:
        return None
    best, best_power = None, -1.0
    for nominal in MAINS_HZ:
        hum, own_power, found = _family(freqs, psd, sr, nominal)
        if found and own_power > best_power:
            best, best_power = hum, own_power
    return best


def remove_hum(samples: np.ndarray, sr: int, frequency_hz: float, *, n_harmonics: int = HUM_HARMONICS,
               block_s: float = 60.0, margin_s: float = 3.0) -> np.ndarray:
    """Notch out mains hum: the fundamental ``frequency_hz`` and its harmonics.

    Second-order IIR notches (:func:`scipy.signal.iirnotch`) at ``k * frequency_hz``
    (k = 1..``n_harmonics``, below the Nyquist frequency), each ``1 Hz + 1%`` of its frequency
    wide at -3 dB, applied forwards and backwards (zero phase; the attenuation doubles in
    dB). Long recordings are filtered in blocks of ``block_s`` with ``margin_s`` of context
    on each side, so memory does not grow with their length.

    Returns
    -------
    np.ndarray of float32
        A filtered copy.
    """
    from scipy.signal import iirnotch, sosfiltfilt, tf2sos

    sections = []
    for k in range(1, int(n_harmonics) + 1):
        f = k * float(frequency_hz)
        if f >= 0.95 * sr / 2:
            break
        b, a = iirnotch(f, f / (1.0 + 0.01 * f), fs=sr)
        sections.append(tf2sos(b, a))
    x = np.asarray(samples, dtype=np.float32)
    if not sections:
        return x.copy()
    sos = np.vstack(sections)
    out = np.empty_like(x)
    block, margin = int(round(block_s * sr)), int(round(margin_s * sr))
    for start in range(0, len(x), block):
        lo, hi = max(0, start - margin), min(len(x), start + block + margin)
        filtered = sosfiltfilt(sos, x[lo:hi].astype(np.float64))
        out[start:min(start + block, len(x))] = filtered[start - lo:start - lo + min(block, len(x) - start)]
    return out
