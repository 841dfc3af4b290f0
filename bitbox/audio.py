"""Audio input: decode an audio file or a video's audio track into a mono float array.

The native sample rate is kept unless the caller asks for another one; several channels
are mixed down to mono by averaging them (the usual choice for speech: it keeps the level
of a voice recorded on both channels and halves uncorrelated noise).

WAV, FLAC, OGG/Vorbis and MP3 are read with libsndfile (``soundfile``); other audio
formats (Opus, M4A/AAC) and the audio track of video files are decoded with FFmpeg's
libraries (``av``, PyAV). Both ship inside their wheels: nothing is installed on the system.

What the audio processors refuse or repair (too short, silent, clipped, mains hum) is theirs:
:mod:`bitbox.processors.audio_quality`.
"""
from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import RecordingError

__all__ = ["read_audio", "resample"]

_SOUNDFILE_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".mp3"}


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
                                 "Use a recording with an audio track")
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


def _declared_duration(path: Path) -> float | None:
    """Duration the container declares for its first audio stream (s), when it declares one: the
    stream's own, else the container's (not for a file with video: it may hold more video than sound)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None and not container.streams.video:
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
        declared = _declared_duration(path)
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
