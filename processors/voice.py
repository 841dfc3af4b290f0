"""Voice analysis shared by the audio processors: voice activity, speech segments, syllable nuclei, pitch.

``speech``, ``speakers`` and plugins use the same steps (so that their measures agree), kept here
rather than in one processor that the others would have to import:

- :func:`vad_probabilities` (Silero VAD, packaged ONNX model), :func:`speech_segments`,
  :func:`refine_segments` (edges moved to the intensity contour), :func:`merge_short_gaps`;
- :func:`frame_levels` (dB per hop), :func:`syllable_nuclei` (de Jong & Wempe 2009);
- :func:`two_pass_pitch` (Praat autocorrelation pitch, De Looze & Hirst 2008).
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from bitbox.audio import AudioBlock, audio_blocks, audio_rate, resample, resample_block
from bitbox.cache import Cache
from bitbox.errors import RecordingError

__all__ = ["VAD_HOP_S", "VadStream", "vad_probabilities", "speech_segments", "frame_levels", "refine_segments",
           "merge_short_gaps", "syllable_nuclei", "two_pass_pitch", "first_pass_pitch", "pitch_range", "FIRST_PASS",
           "audio_blocks_16k", "VAD_SR"]

#: Silero VAD's hop: one probability per 512 samples at 16 kHz (s).
VAD_HOP_S = 512 / 16000
#: Sample rate of the Silero voice activity detector (Hz).
VAD_SR = 16000
#: Windows per call of the Silero network (its sequence model: the same recurrence as window by window).
_SEQUENCE = 512
#: Time step of the first pitch pass, which only estimates the voice's range (s).
_FIRST_PASS_STEP_S = 0.03


# ---------------------------------------------------------------------------- voice activity
#: The Silero VAD session (one, made on first use); ``bitbox.clear_caches()`` frees it.
_VAD_SESSION: Cache[Any] = Cache("voice activity detector")


def _load_vad_session():
    from importlib.util import find_spec

    from bitbox.offline import onnxruntime_offline

    ort = onnxruntime_offline()  # telemetry off before the first session

    # find_spec locates the package without importing it (importing it loads torch).
    spec = find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("Voice activity detection needs the packaged Silero model: "
                          "pip install silero-vad==6.2.3")
    model = Path(list(spec.submodule_search_locations)[0]) / "data" / "silero_vad_16k_sequence.onnx"
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # the sequence model carries unused initializers ONNX Runtime warns about
    return ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])


def _vad_session():
    return _VAD_SESSION.get_or_create("silero_vad_16k_sequence.onnx", _load_vad_session)


class VadStream:
    """Silero VAD over audio fed in pieces: the network's state and the partial window carry from one
    piece to the next, so any split of the audio gives the probabilities of the whole at once.

    Feed 16-kHz mono samples with :meth:`feed` (a block's own samples, in order; resample blocks with
    :func:`bitbox.audio.resample_block`), then call :meth:`finish` for the probabilities.
    """

    def __init__(self) -> None:
        self._session = _vad_session()
        self._hidden = np.zeros((1, 1, 128), dtype=np.float32)
        self._cell = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(64, dtype=np.float32)
        self._pending = np.empty(0, dtype=np.float32)
        self._probs: list[np.ndarray] = []

    def _run(self, x: np.ndarray) -> np.ndarray:
        """Probabilities of the whole 512-sample windows of ``x``, up to ``_SEQUENCE`` windows per network
        call (each window prefixed with the previous one's last 64 samples, as the streaming model does)."""
        n = len(x) // 512
        probs = []
        for first in range(0, n, _SEQUENCE):
            count = min(_SEQUENCE, n - first)
            frames = x[first * 512:(first + count) * 512].reshape(count, 512)
            contexts = np.empty((count, 64), dtype=np.float32)
            contexts[0] = self._context
            contexts[1:] = frames[:-1, -64:]
            self._context = frames[-1, -64:].copy()
            values, self._hidden, self._cell = self._session.run(
                None, {"input": np.concatenate([contexts, frames], axis=1), "h": self._hidden, "c": self._cell})
            probs.append(np.asarray(values, dtype=np.float32).reshape(-1))
        return np.concatenate(probs) if probs else np.empty(0, dtype=np.float32)

    def feed(self, samples16k: np.ndarray) -> None:
        """Add the next samples (16 kHz, mono)."""
        x = np.concatenate([self._pending, np.asarray(samples16k, dtype=np.float32)])
        whole = len(x) // 512 * 512
        self._probs.append(self._run(x[:whole]))
        self._pending = x[whole:]

    def finish(self) -> np.ndarray:
        """The probabilities of every 32-ms window (the last, partial window padded with silence)."""
        if len(self._pending):
            self._probs.append(self._run(np.pad(self._pending, (0, 512 - len(self._pending)))))
            self._pending = np.empty(0, dtype=np.float32)
        return np.concatenate(self._probs) if self._probs else np.empty(0, dtype=np.float32)


def vad_probabilities(samples: np.ndarray, sr: int) -> np.ndarray:
    """Silero VAD speech probability for every 32-ms window (512 samples at 16 kHz).

    Parameters
    ----------
    samples : np.ndarray
        Mono audio.
    sr : int
        Its sample rate (resampled to 16 kHz here).

    Returns
    -------
    np.ndarray
        One probability per window; window ``i`` starts at ``i * VAD_HOP_S`` seconds. The same as
        a :class:`VadStream` fed the audio in pieces.
    """
    stream = VadStream()
    stream.feed(resample(np.asarray(samples, dtype=np.float32), sr, VAD_SR))
    return stream.finish()


def speech_segments(probs: np.ndarray, *, threshold: float = 0.5, hop_s: float = VAD_HOP_S,
                    min_speech_s: float = 0.25, min_silence_s: float = 0.1) -> list[tuple[float, float]]:
    """Speech segments (start_s, end_s) from VAD probabilities, with Silero's hysteresis rule.

    A segment starts when the probability reaches ``threshold`` and ends when it stays below
    ``threshold - 0.15`` for ``min_silence_s``; segments shorter than ``min_speech_s`` are
    dropped.
    """
    low = max(threshold - 0.15, 0.01)
    segments: list[tuple[float, float]] = []
    active, start, quiet_from = False, 0, None
    for i, p in enumerate(probs):
        if not active:
            if p >= threshold:
                active, start, quiet_from = True, i, None
        elif p < low:
            quiet_from = i if quiet_from is None else quiet_from
            if (i - quiet_from + 1) * hop_s >= min_silence_s:
                segments.append((start * hop_s, quiet_from * hop_s))
                active, quiet_from = False, None
        elif p >= threshold:
            quiet_from = None
    if active:
        segments.append((start * hop_s, (quiet_from if quiet_from is not None else len(probs)) * hop_s))
    return [(a, b) for a, b in segments if b - a >= min_speech_s]


def frame_levels(samples: np.ndarray, sr: int, hop_s: float, window_s: float = 0.025,
                  block: int = 6000) -> np.ndarray:
    """Short-time level (dB) of frames centred at ``i * hop_s`` (computed ``block`` frames at a time)."""
    hop, win = max(1, int(round(hop_s * sr))), max(2, int(round(window_s * sr)))
    n = int(len(samples) // hop) + 1
    padded = np.pad(np.asarray(samples, dtype=np.float32), (win // 2, win + hop))
    levels = np.empty(n)
    for first in range(0, n, block):
        last = min(n, first + block)
        part = padded[first * hop:(last - 1) * hop + win].astype(np.float64)
        power = np.concatenate([[0.0], np.cumsum(part ** 2)])
        starts = np.arange(last - first) * hop
        levels[first:last] = 10 * np.log10((power[starts + win] - power[starts]) / win + 1e-12)
    return levels


def refine_segments(segments: list[tuple[float, float]], levels_db: np.ndarray, hop_s: float, *,
                    edge_db: float = -40.0, search_s: float = 0.15) -> list[tuple[float, float]]:
    """Move each segment edge to the first/last frame above the edge threshold.

    ``levels_db`` are short-time levels of frames at ``i * hop_s``. The threshold is the
    99th-percentile level plus ``edge_db`` (negative), but at least 6 dB above the median
    level outside the segments (the noise floor). Edges move at most ``search_s``.
    """
    if not segments:
        return []
    times = np.arange(len(levels_db)) * hop_s
    outside = np.ones(len(levels_db), dtype=bool)
    for start, end in segments:
        outside &= ~((times >= start) & (times < end))
    threshold = np.percentile(levels_db, 99) + edge_db
    if outside.sum() >= 10:
        threshold = max(threshold, float(np.median(levels_db[outside])) + 6.0)
    loud = levels_db > threshold
    refined = []
    for start, end in segments:
        window = loud & (times >= start - search_s) & (times <= start + search_s)
        new_start = times[window][0] if window.any() else start
        window = loud & (times >= end - search_s) & (times <= end + search_s)
        new_end = times[window][-1] + hop_s if window.any() else end
        if new_end > new_start:
            refined.append((float(new_start), float(new_end)))
    # Refinement can make neighbours touch: merge overlaps.
    merged: list[tuple[float, float]] = []
    for start, end in refined:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def merge_short_gaps(segments: list[tuple[float, float]], min_pause_s: float) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in segments:
        if merged and start - merged[-1][1] < min_pause_s:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


# ---------------------------------------------------------------------------- syllables and cepstrum
def syllable_nuclei(intensity_db: np.ndarray, times: np.ndarray, voiced: np.ndarray, *,
                    silence_db: float = -25.0, min_dip_db: float = 2.0) -> np.ndarray:
    """Times of syllable nuclei (de Jong & Wempe 2009) on an intensity contour.

    A nucleus is a local maximum of ``intensity_db`` above its 99th percentile +
    ``silence_db``, at least ``min_dip_db`` above the lowest value before the next peak,
    where ``voiced`` is true. NaN frames are never nuclei, and are left out of the dips.
    """
    values = np.asarray(intensity_db, dtype=float)
    if len(values) < 3 or not np.isfinite(values).any():
        return np.empty(0)
    threshold = np.nanpercentile(values, 99) + silence_db  # NaN frames are never peaks
    peaks = np.flatnonzero((values[1:-1] > values[:-2]) & (values[1:-1] >= values[2:])) + 1
    peaks = peaks[values[peaks] > threshold]
    nuclei = []
    for k, peak in enumerate(peaks):
        following = peaks[k + 1] if k + 1 < len(peaks) else len(values) - 1
        if values[peak] - np.nanmin(values[peak:following + 1]) > min_dip_db and voiced[peak]:
            nuclei.append(times[peak])
    return np.asarray(nuclei)


def two_pass_pitch(sound, *, time_step: float = 0.01, f0_min: float | None = None, f0_max: float | None = None,
                   min_floor: float = 0.0):
    """Praat autocorrelation pitch in two passes (De Looze & Hirst 2008).

    A first pass from 50 to 700 Hz (every 30 ms) sets the floor at ``0.75 x`` its 25th and the
    ceiling at ``2 x`` its 75th percentile (with fewer than 10 voiced frames: 75 and 600 Hz); the
    second pass runs between them. ``f0_min`` / ``f0_max`` fix either bound; ``min_floor`` (Hz)
    keeps an estimated floor above a frequency that must not be taken for F0 (1.1 x the mains
    frequency under strong hum).

    Parameters
    ----------
    sound : parselmouth.Sound
        The audio.
    time_step : float
        Frame step of the second pass (s).
    f0_min, f0_max : float | None
        Fixed floor / ceiling (Hz); ``None`` estimates it.
    min_floor : float
        Lowest estimated floor (Hz).

    Returns
    -------
    pitch : parselmouth.Pitch
        The second pass.
    floor, ceiling : float
        The bounds it used (Hz).
    """
    floor, ceiling = f0_min, f0_max
    if floor is None or ceiling is None:
        first = first_pass_pitch(sound, min_floor=min_floor)
        floor, ceiling = pitch_range(first.selected_array["frequency"], f0_min=f0_min, f0_max=f0_max,
                                     min_floor=min_floor)
    pitch = sound.to_pitch_ac(time_step=time_step, pitch_floor=floor, pitch_ceiling=ceiling)
    return pitch, float(floor), float(ceiling)


#: Time step (s), floor and ceiling (Hz) of the first pitch pass, which only estimates the voice's range.
FIRST_PASS = (_FIRST_PASS_STEP_S, 50.0, 700.0)


def first_pass_pitch(sound, *, min_floor: float = 0.0, time_step: float = FIRST_PASS[0]):
    """The first pass of :func:`two_pass_pitch`: Praat autocorrelation pitch from 50 (or ``min_floor``)
    to 700 Hz every ``time_step`` (30 ms)."""
    return sound.to_pitch_ac(time_step=time_step, pitch_floor=max(FIRST_PASS[1], min_floor),
                             pitch_ceiling=FIRST_PASS[2])


def pitch_range(first_f0: np.ndarray, *, f0_min: float | None = None, f0_max: float | None = None,
                min_floor: float = 0.0) -> tuple[float, float]:
    """Floor and ceiling (Hz) of the second pitch pass from the first pass's F0 values (0 where unvoiced),
    as :func:`two_pass_pitch` sets them; ``f0_min`` / ``f0_max`` fix either bound."""
    f0 = np.asarray(first_f0, dtype=np.float64)
    f0 = f0[f0 > 0]
    floor, ceiling = f0_min, f0_max
    if len(f0) >= 10:
        q25, q75 = np.percentile(f0, [25, 75])
        floor = floor if floor is not None else float(max(40.0, 0.75 * q25, min_floor))
        ceiling = ceiling if ceiling is not None else float(min(1000.0, max(2.0 * q75, 1.5 * floor)))
    else:
        floor = floor if floor is not None else float(max(75.0, min_floor))
        ceiling = ceiling if ceiling is not None else 600.0
    return float(floor), float(ceiling)


# ---------------------------------------------------------------------------- 16-kHz blocks
def audio_blocks_16k(path: str | Path, *, block_s: float | None = 60.0, margin_s: float = 1.0
                     ) -> Iterator[tuple[AudioBlock, np.ndarray]]:
    """A recording's blocks (:func:`bitbox.audio.audio_blocks`) and each block's own samples at 16 kHz.

    Blocks are aligned for the polyphase resampler (``align`` the down factor of the native rate to
    16 kHz), so that the 16-kHz pieces joined are the whole file's resampling (:func:`bitbox.audio.resample`).

    Parameters
    ----------
    path : str | Path
        The recording.
    block_s : float | None
        Block length (s); ``None``: the whole file as one block.
    margin_s : float
        Context on each side of a block (s).

    Yields
    ------
    block : AudioBlock
        The block at the native rate.
    samples16 : np.ndarray of float32
        Its own samples resampled to 16 kHz.
    """
    try:
        rate = audio_rate(path)[0]
    except RecordingError:  # audio_blocks raises it again, in context
        rate = None
    align = Fraction(VAD_SR, rate).denominator if rate else 1
    for block in audio_blocks(path, block_s=block_s, margin_s=margin_s, align=align):
        yield block, resample_block(block, VAD_SR)
