"""Audio input: decode an audio file or a video's audio track into a mono float array.

The native sample rate is kept unless the caller asks for another one; several channels
are mixed down to mono by averaging them (the usual choice for speech: it keeps the level
of a voice recorded on both channels and halves uncorrelated noise).

WAV, FLAC, OGG/Vorbis and MP3 are read with libsndfile (``soundfile``); other audio
formats (Opus, M4A/AAC) and the audio track of video files are decoded with FFmpeg's
libraries (``av``, PyAV). Both ship inside their wheels: nothing is installed on the system.

Long recordings are read block by block (:func:`audio_blocks`): memory then stays flat with the
recording's length, and every block comes with context on both sides so that analyses with windows
give the same values at block edges as on the whole file.

What the audio processors refuse or repair (too short, silent, clipped, mains hum) is theirs:
:mod:`bitbox.processors.audio_quality`.
"""
from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import RecordingError

__all__ = ["read_audio", "resample", "AudioBlock", "audio_blocks", "resample_block", "audio_rate"]

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
    data, native = _with_decoder(path, _read_soundfile, _read_av)
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


# ---------------------------------------------------------------------------- blocks
#: Samples decoded at a time by libsndfile while streaming.
_CHUNK = 65536


@dataclass(frozen=True)
class AudioBlock:
    """One block of a recording's audio, with context on both sides (see :func:`audio_blocks`).

    Attributes
    ----------
    samples : np.ndarray of float32
        Mono samples from file sample ``offset`` on: the context before the block, the block, the
        context after it (less context at the file's start and end).
    sr : int
        Sample rate (Hz).
    offset : int
        File index of ``samples[0]``.
    start, stop : int
        File indices of the block's own samples, ``[start, stop)``: blocks tile the file.
    last : bool
        Whether this is the file's last block.
    """

    samples: np.ndarray
    sr: int
    offset: int
    start: int
    stop: int
    last: bool

    @property
    def core(self) -> np.ndarray:
        """The block's own samples (no context)."""
        return self.samples[self.start - self.offset:self.stop - self.offset]

    @property
    def start_s(self) -> float:
        """Time of the block's first own sample (s)."""
        return self.start / self.sr

    @property
    def stop_s(self) -> float:
        """Time just after the block's last own sample (s)."""
        return self.stop / self.sr

    def context(self, margin: int) -> "AudioBlock":
        """The same block with at most ``margin`` samples of context on each side."""
        lo = max(self.offset, self.start - int(margin))
        hi = min(self.offset + len(self.samples), self.stop + int(margin))
        return AudioBlock(self.samples[lo - self.offset:hi - self.offset], self.sr, lo, self.start, self.stop,
                          self.last)


def _soundfile_chunks(path: Path) -> tuple[Iterator[np.ndarray], int, int]:
    """(channels x n) float32 chunks from libsndfile, the sample rate and the number of channels."""
    import soundfile as sf

    handle = sf.SoundFile(str(path))
    sr, channels = int(handle.samplerate), int(handle.channels)

    def chunks() -> Iterator[np.ndarray]:
        decoded = 0
        with handle:
            while True:
                try:
                    data = handle.read(_CHUNK, dtype="float32", always_2d=True)
                except Exception as err:  # libsndfile loses its way in a damaged file after opening it
                    if not decoded:
                        raise RecordingError(path, f"its audio cannot be decoded (libsndfile: {err})",
                                             "The file is probably corrupt or truncated; check that it plays, "
                                             "or convert it to WAV (e.g. ffmpeg -i IN -ac 1 OUT.wav)") from None
                    # As with FFmpeg's damaged tails: what decoded is used, unless clearly less audio decoded
                    # than the header declares.
                    try:
                        _check_complete(path, decoded, sr)
                    except RecordingError:
                        raise RecordingError(path, f"is damaged or truncated: decoding stops at {decoded / sr:.2f} s "
                                             f"(libsndfile: {err}), short of the length its header declares",
                                             "Copy the file again from its source. Converting what plays (e.g. "
                                             "ffmpeg -i IN -ac 1 OUT.wav) drops the damaged stretch: times after it "
                                             "then come earlier than in the original") from None
                    from .log import logger

                    logger.warning("%s: audio decoding stopped early (libsndfile: %s); using the first %.1f s",
                                   path.name, err, decoded / float(sr))
                    return
                if not len(data):
                    return
                decoded += len(data)
                yield data.T

    return chunks(), sr, channels


def _av_chunks(path: Path) -> tuple[Iterator[np.ndarray], int, int]:
    """(channels x n) float32 chunks of the first audio stream decoded by FFmpeg, the rate and channels.

    The rate and channels are those of the first decoded frame (an HE-AAC stream's header states half the
    rate it decodes at)."""
    import av

    try:
        container = av.open(str(path))
    except av.error.FFmpegError as err:
        raise RecordingError(path, f"cannot be opened for decoding ({err})",
                             "Check that the file plays in a media player; it may be truncated or corrupt") from None
    if not container.streams.audio:
        container.close()
        raise RecordingError(path, "has no audio track", "Use a recording with an audio track")
    stream = container.streams.audio[0]
    rate = [int(stream.rate or stream.codec_context.sample_rate)]

    def frames() -> Iterator[np.ndarray]:
        resampler = av.AudioResampler(format="fltp")
        decoded = 0
        with container:
            try:
                for frame in container.decode(stream):
                    for out in resampler.resample(frame):
                        rate[0] = int(out.sample_rate)
                        decoded += out.samples
                        yield out.to_ndarray().astype(np.float32, copy=False)
                for out in resampler.resample(None):
                    yield out.to_ndarray().astype(np.float32, copy=False)
            except av.error.FFmpegError as err:
                if not decoded:
                    raise RecordingError(path, f"its audio cannot be decoded ({err})",
                                         "The file is probably corrupt or truncated") from None
                from .log import logger

                logger.warning("%s: audio decoding stopped early (%s); using the first %.1f s", path.name, err,
                               decoded / float(rate[0]))

    chunks = frames()
    first = next(chunks, None)  # the decoded rate
    if first is None:
        raise RecordingError(path, "its audio track holds no samples", "The file is probably truncated")
    return itertools.chain([first], chunks), rate[0], int(first.shape[0])


def _with_decoder(path: Path, with_soundfile, with_av):
    """``with_soundfile(path)`` where libsndfile reads the file, else ``with_av(path)`` (FFmpeg); any other
    failure than a :class:`RecordingError` becomes one that names the file."""
    if path.suffix.lower() in _SOUNDFILE_SUFFIXES:
        try:
            return with_soundfile(path)
        except Exception:  # libsndfile refuses it: let FFmpeg try before giving up
            pass
    try:
        return with_av(path)
    except RecordingError:
        raise
    except Exception as err:
        raise RecordingError(path, f"cannot be decoded as audio ({type(err).__name__}: {err})",
                             "Check that the file plays; convert it to WAV (e.g. `ffmpeg -i IN -ac 1 OUT.wav`)"
                             ) from None


def _open_chunks(path: Path) -> tuple[Iterator[np.ndarray], int, int]:
    """Chunks from libsndfile where it reads the file, else from FFmpeg (as :func:`read_audio`)."""
    return _with_decoder(path, _soundfile_chunks, _av_chunks)


def _mix_choice(path: Path) -> int | None:
    """``None`` to average the channels, or the loudest channel's index when averaging cancels them
    (as :func:`read_audio` decides; one decoding pass, only for files with several channels)."""
    chunks, _, channels = _open_chunks(path)
    if channels < 2:
        for _ in chunks:  # noqa: B007 - close the file
            break
        return None
    power, mixed = np.zeros(channels), 0.0
    for chunk in chunks:
        power[:len(chunk)] += np.sum(np.square(chunk, dtype=np.float64), axis=1)
        mixed += float(np.sum(np.square(chunk.mean(axis=0), dtype=np.float64)))
    if power.max() > 0 and math.sqrt(mixed) < 0.1 * math.sqrt(power.max()):
        from .log import logger

        loudest = int(np.argmax(power))
        logger.warning("%s: the channels cancel out when averaged (one is wired with inverted polarity); using "
                       "channel %d alone", path.name, loudest + 1)
        return loudest
    return None


@functools.lru_cache(maxsize=64)
def _remembered_mix_choice(path: str, size: int, mtime_ns: int) -> int | None:
    """:func:`_mix_choice`, once per file and version of it in a process (an analysis that reads a
    recording several times decodes it once more, not once more per pass)."""
    return _mix_choice(Path(path))


def _mono_chunks(path: Path) -> tuple[Iterator[np.ndarray], int]:
    """Mono float32 chunks (mixed as :func:`read_audio` mixes), checked for NaN, and the sample rate;
    after the last chunk, the file is refused when it holds clearly less audio than it declares."""
    try:
        info = path.stat()
    except OSError as err:
        raise RecordingError(path, f"cannot be read ({err.strerror})", "Check the path and its permissions") from None
    channel = _remembered_mix_choice(str(path.resolve()), info.st_size, info.st_mtime_ns)
    chunks, sr, _ = _open_chunks(path)

    def mono() -> Iterator[np.ndarray]:
        total = 0
        for chunk in chunks:
            x = chunk.mean(axis=0) if channel is None else chunk[min(channel, len(chunk) - 1)]
            if not np.isfinite(x).all():
                raise RecordingError(path, "holds NaN or infinite samples", "Export the audio again")
            total += len(x)
            yield np.ascontiguousarray(x, dtype=np.float32)
        if not total:
            raise RecordingError(path, "holds no audio samples", "The file is probably truncated")
        _check_complete(path, total, sr)

    return mono(), sr


def audio_rate(path: str | Path) -> tuple[int, float | None]:
    """The native sample rate (Hz) of a recording's audio, as its decoder gives it, and the duration its
    header declares (s; ``None`` when it declares none), without decoding more than its first frame.

    Raises
    ------
    RecordingError
        When the file cannot be opened as audio or has no audio track.
    """
    path = Path(path)
    chunks, sr, _ = _open_chunks(path)
    del chunks  # the file closes with its reader
    if path.suffix.lower() in _SOUNDFILE_SUFFIXES:
        import soundfile as sf

        try:
            frames = sf.info(str(path)).frames
        except Exception:  # decoded by FFmpeg: its declaration below
            frames = None
        if frames is not None:
            return sr, (frames / sr if frames > 0 else None)
    return sr, _declared_duration(path)


def audio_blocks(path: str | Path, *, block_s: float | None = 60.0, margin_s: float = 1.0,
                 align: int = 1) -> Iterator[AudioBlock]:
    """Decode a recording's audio (mono, native rate) block by block, each block with context.

    Decoding streams (libsndfile, or FFmpeg for other formats and video tracks), so memory holds one
    block and its context whatever the recording's length. The mix-down, the checks for NaN samples
    and for truncation are those of :func:`read_audio` (a multi-channel file is decoded once more
    first to choose the mix-down, the first time a process reads it; a truncated file raises after
    its last block).

    Parameters
    ----------
    path : str | Path
        The recording (audio, or video with an audio track).
    block_s : float | None
        Length of a block (s); ``None`` gives the whole file as one block.
    margin_s : float
        Context on each side of a block (s; less at the file's start and end).
    align : int
        Block lengths and margins are multiples of this many samples (so that a polyphase
        resampler with this down factor sees the same sample phases in every block:
        :func:`resample_block`).

    Yields
    ------
    AudioBlock
        The blocks, in order; together their own samples are the whole file.

    Raises
    ------
    RecordingError
        When the file cannot be decoded, holds no samples, NaN samples, or less audio than its
        header declares.
    """
    path = Path(path)
    chunks, sr = _mono_chunks(path)
    align = max(1, int(align))
    margin = int(math.ceil(margin_s * sr / align)) * align
    block = None if block_s is None else max(align, int(round(block_s * sr / align)) * align)
    # Decoded pieces not yet given out, from file sample `offset` on; joined once per block (joining them
    # chunk by chunk would reallocate a block-sized buffer 15 times a second of audio).
    pieces: list[np.ndarray] = []
    held, offset, start = 0, 0, 0
    exhausted = False
    while True:
        need = None if block is None else start + block + margin
        # One chunk past the block and its context: a block that ends where the file ends is then known
        # to be the last one, even without context after it.
        while not exhausted and (need is None or offset + held <= need):
            try:
                piece = next(chunks)
            except StopIteration:
                exhausted = True
                break
            pieces.append(piece)
            held += len(piece)
        buffer = np.concatenate(pieces) if len(pieces) != 1 else pieces[0]
        end = offset + len(buffer)
        stop = end if block is None else min(start + block, end)
        if stop <= start:
            return
        last = exhausted and stop >= end
        lo = max(offset, start - margin)
        yield AudioBlock(buffer[lo - offset:min(end, stop + margin) - offset], sr, lo, start, stop, last)
        if last:
            return
        start = stop
        keep = max(offset, start - margin)
        pieces = [buffer[keep - offset:]]
        held, offset = len(pieces[0]), keep


def resample_block(block: AudioBlock, target_sr: int) -> np.ndarray:
    """A block's own samples at ``target_sr``: its samples with their context resampled
    (:func:`resample`), the context then cut off.

    Blocks whose offsets are multiples of the resampler's down factor (``align`` in
    :func:`audio_blocks`) give, joined, the whole file's resampled samples up to the filter's
    reach into the context (none with a context of a few hundred samples).
    """
    if int(target_sr) == block.sr:
        return block.core
    ratio = Fraction(int(target_sr), block.sr)
    out = resample(block.samples, block.sr, int(target_sr))
    first = (block.start - block.offset) * ratio.numerator // ratio.denominator
    count = (block.stop * ratio.numerator + ratio.denominator - 1) // ratio.denominator \
        - (block.start * ratio.numerator + ratio.denominator - 1) // ratio.denominator
    return out[first:first + count]
