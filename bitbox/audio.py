"""Audio input: decode an audio file or a video's audio track into a mono float array.

The native sample rate is kept unless the caller asks for another one; several channels
are mixed down to mono by averaging them (the usual choice for speech: it keeps the level
of a voice recorded on both channels and halves uncorrelated noise).

WAV, FLAC, OGG/Vorbis and MP3 are read with libsndfile (``soundfile``); other audio
formats (Opus, M4A/AAC) and the audio track of video files are decoded with FFmpeg's
libraries (``av``, PyAV). Both ship inside their wheels: nothing is installed on the system.

:func:`check_audio` turns recordings no speech measure can be trusted on into clear errors:
shorter than ``min_duration_s``, silence only, or clipped on more than a tolerated fraction
of samples.

:func:`mains_hum` measures mains hum (the 50 or 60 Hz line and its harmonics) in a recording,
:func:`remove_hum` notches it out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import RecordingError
from .recording import kind_of

__all__ = ["has_audio_track", "no_audio_reason", "read_audio", "resample", "check_audio", "level_dbfs",
           "clipped_fraction", "MainsHum", "mains_hum", "remove_hum", "MAINS_HZ", "HUM_HARMONICS"]

_SOUNDFILE_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".mp3"}
#: Peak level below which a recording is treated as silence only (dBFS).
SILENCE_DBFS = -60.0
#: A sample counts as clipped when its magnitude reaches this fraction of full scale.
CLIP_LEVEL = 0.999


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return data.T, int(sr)


def _read_av(path: Path) -> tuple[np.ndarray, int]:
    """Decode the first audio stream: (channels x samples, rate)."""
    import av

    try:
        container = av.open(str(path))
    except av.error.FFmpegError as err:
        raise RecordingError(path, f"cannot be opened for decoding ({err})",
                             "Check that the file plays in a media player; it may be truncated or corrupt") from None
    with container:
        if not container.streams.audio:
            raise RecordingError(path, "has no audio track",
                                 "Speech measures need sound: use a recording with an audio track")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp")
        chunks: list[np.ndarray] = []
        sr = stream.rate or stream.codec_context.sample_rate
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
                    sr = out.sample_rate
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
        except av.error.FFmpegError as err:
            if not chunks:
                raise RecordingError(path, f"its audio cannot be decoded ({err})",
                                     "The file is probably corrupt or truncated") from None
            # A damaged tail: keep what decoded, as media players do, but say so (and the caller
            # refuses the file when much of the declared sound is missing).
            from .log import logger

            logger.warning("%s: audio decoding stopped early (%s); using the first %.1f s", path.name, err,
                           sum(c.shape[1] for c in chunks) / float(sr))
    if not chunks:
        raise RecordingError(path, "its audio track holds no samples", "The file is probably truncated")
    return np.concatenate(chunks, axis=1).astype(np.float32, copy=False), int(sr)


def _riff_declared_fraction(path: Path) -> float | None:
    """For a RIFF/WAVE file: the fraction of the declared ``data`` chunk present on disk."""
    import struct

    size = path.stat().st_size
    with open(path, "rb") as handle:
        header = handle.read(12)
        if len(header) < 12 or header[:4] not in (b"RIFF", b"RF64") or header[8:12] != b"WAVE":
            return None
        offset = 12
        while offset + 8 <= size:
            handle.seek(offset)
            chunk, length = struct.unpack("<4sI", handle.read(8))
            if chunk == b"data":
                if length in (0, 0xFFFFFFFF):  # streamed or RF64: no usable declaration
                    return None
                return min(1.0, (size - offset - 8) / length)
            offset += 8 + length + (length % 2)
    return None


def _declared_duration(path: Path, *, stream_only: bool = False) -> float | None:
    """Duration the container declares for its first audio stream (s), when it declares one
    (``stream_only``: the audio stream's own duration, not the container's)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None and not stream_only:
                return container.duration / 1_000_000
    except Exception:  # no declaration to compare with
        return None
    return None


def _check_complete(path: Path, n_samples: int, sr: int) -> None:
    """Refuse a file that decodes to clearly less audio than its header declares.

    WAV and FLAC headers state the exact length (2% tolerated); other formats often only
    estimate it from the bit rate (10% tolerated, so variable-bit-rate files pass). For a
    video, its audio stream's own declared duration counts (its container may hold more
    video than sound).
    """
    tolerance = 0.02 if path.suffix.lower() in (".wav", ".wave", ".flac") else 0.10
    decoded = n_samples / sr
    fraction = _riff_declared_fraction(path) if path.suffix.lower() in (".wav", ".wave") else None
    if fraction is not None:
        declared = decoded / fraction if fraction > 0 else math.inf
    else:
        declared = _declared_duration(path, stream_only=kind_of(path) == "video")
        if declared is None or path.suffix.lower() in (".wav", ".wave"):
            return
    if declared - decoded > max(0.05, tolerance * declared):
        raise RecordingError(path, f"is truncated: its header declares {declared:.2f} s of audio but only "
                             f"{decoded:.2f} s can be decoded", "The copy or recording probably stopped early; "
                             "copy the file again")


def _to_mono(data: np.ndarray, path: Path) -> np.ndarray:
    """The channels' mean; or the loudest channel alone when averaging cancels them (a channel wired
    with inverted polarity: the mean is more than 20 dB below the loudest channel), with a warning."""
    if data.shape[0] < 2:
        return data[0]
    mixed = data.mean(axis=0)
    rms = np.sqrt(np.mean(np.square(data, dtype=np.float64), axis=1))
    if rms.max() > 0 and np.sqrt(np.mean(np.square(mixed, dtype=np.float64))) < 0.1 * rms.max():
        from .log import logger

        loudest = int(np.argmax(rms))
        logger.warning("%s: the channels cancel out when averaged (one is wired with inverted polarity); using "
                       "channel %d alone", path.name, loudest + 1)
        return data[loudest]
    return mixed


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

    if recording.kind != "video":
        return None
    try:
        with av.open(str(recording.path)) as container:
            return None if container.streams.audio else "the video has no audio track"
    except Exception:  # a file that cannot be opened: the processor reports the decoder's reason
        return None


def read_audio(path: str | Path, *, sr: int | None = None, mono: bool = True) -> tuple[np.ndarray, int]:
    """Decode an audio file or a video's audio track.

    Parameters
    ----------
    path : str | Path
        The recording (audio, or video with an audio track).
    sr : int | None
        Resample to this rate (Hz); ``None`` keeps the native rate.
    mono : bool
        Average the channels into one (shape ``(n_samples,)``); otherwise the shape is
        ``(n_channels, n_samples)``.

    Returns
    -------
    samples : np.ndarray of float32
        Samples in [-1, 1].
    sr : int
        Their sample rate.

    Raises
    ------
    RecordingError
        When the file cannot be decoded, has no audio track or holds no samples.

    Examples
    --------
    >>> x, sr = read_audio("interview.wav")            # doctest: +SKIP
    >>> x16, _ = read_audio("interview.mp4", sr=16000)  # doctest: +SKIP
    """
    path = Path(path)
    data = None
    if path.suffix.lower() in _SOUNDFILE_SUFFIXES:
        try:
            data, native = _read_soundfile(path)
        except Exception:  # libsndfile refuses it: let FFmpeg try before giving up
            data = None
    if data is None:
        try:
            data, native = _read_av(path)
        except RecordingError:
            raise
        except Exception as err:
            raise RecordingError(path, f"cannot be decoded as audio ({type(err).__name__}: {err})",
                                 "Check that the file plays; convert it to WAV (e.g. `ffmpeg -i IN -ac 1 OUT.wav`)"
                                 ) from None
    if data.size == 0:
        raise RecordingError(path, "holds no audio samples", "The file is probably truncated")
    _check_complete(path, data.shape[-1], native)
    if not np.isfinite(data).all():
        raise RecordingError(path, "holds NaN or infinite samples", "Export the audio again")
    if mono:
        data = _to_mono(data, path)
    if sr is not None and int(sr) != native:
        data = resample(data, native, int(sr))
        native = int(sr)
    return np.ascontiguousarray(data, dtype=np.float32), native


def resample(samples: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """Resample along the last axis with a polyphase filter (``scipy.signal.resample_poly``)."""
    from scipy.signal import resample_poly

    if int(sr) == int(target_sr):
        return samples
    ratio = Fraction(int(target_sr), int(sr))
    return resample_poly(samples, ratio.numerator, ratio.denominator, axis=-1).astype(np.float32)


def level_dbfs(samples: np.ndarray) -> float:
    """Peak level in dB relative to full scale (``-inf`` for digital silence)."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def clipped_fraction(samples: np.ndarray, *, level: float = CLIP_LEVEL) -> float:
    """Fraction of samples at (or beyond) ``level`` of full scale."""
    return float(np.mean(np.abs(samples) >= level)) if samples.size else 0.0


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
    duration = len(samples) / sr
    if duration < min_duration_s:
        raise RecordingError(path, f"is too short to measure ({duration:.2f} s of audio; at least "
                             f"{min_duration_s:g} s is needed)", "Use a longer recording")
    peak = level_dbfs(samples)
    if peak < SILENCE_DBFS:
        raise RecordingError(path, f"is silent (peak level {peak:.0f} dBFS, below {SILENCE_DBFS:.0f} dBFS)",
                             "Check the microphone and the recording's audio channel")
    clipped = clipped_fraction(samples)
    if clipped > max_clipped_fraction:
        raise RecordingError(path, f"is clipped: {100 * clipped:.1f}% of samples are at full scale (at most "
                             f"{100 * max_clipped_fraction:g}% tolerated)",
                             "Record again with a lower input gain; clipping distorts pitch and voice-quality "
                             "measures (raise max_clipped_fraction to analyse it anyway)")


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


def _welch_blocks(samples: np.ndarray, sr: int, top_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density (Hann, 2-s segments, half overlap) up to ``top_hz``, averaged over
    60-s blocks so that memory does not grow with the recording's length."""
    from scipy.signal import welch

    x = np.asarray(samples, dtype=np.float32)
    nperseg = int(min(len(x), round(_HUM_SEGMENT_S * sr)))
    block = max(nperseg, int(round(_HUM_BLOCK_S * sr)))
    total, weight, freqs = None, 0.0, None
    for start in range(0, len(x), block):
        part = x[start:start + block + nperseg // 2]
        if len(part) < nperseg:
            if total is not None:
                break
            nperseg = len(part)
        freqs, psd = welch(part.astype(np.float64), sr, window="hann", nperseg=nperseg, noverlap=nperseg // 2,
                           detrend=False, scaling="density")
        keep = freqs <= top_hz
        psd = psd[keep] * len(part)
        total = psd if total is None else total + psd
        weight += len(part)
    return freqs[freqs <= top_hz], total / weight


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
    if len(samples) < int(0.5 * sr):
        return None
    top = HUM_HARMONICS * (max(MAINS_HZ) + _MAINS_TOLERANCE_HZ) + 2 * _RING_HZ[1]
    freqs, psd = _welch_blocks(samples, sr, top)
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
