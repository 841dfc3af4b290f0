"""Per-speaker voice measures: F0 median and range, syllable-based speech rate.

Each speaker's own speech (their segments, minus the time anyone else speaks) is joined into one
sound with 0.1 s of silence between the pieces, and measured as the ``speech`` processor measures a
recording: Praat's two-pass autocorrelation pitch (:func:`bitbox.processors.voice.two_pass_pitch`,
floor and ceiling from the speaker's own voice) and de Jong & Wempe's syllable nuclei on Praat's
intensity contour (:func:`bitbox.processors.voice.syllable_nuclei`). Pieces shorter than
``min_piece_s`` are left out (too short for pitch).

Long recordings: :func:`speaker_voices` measures every speaker in passes over the audio read block by
block, never holding a speaker's joined sound: each speaker's join is cut into chunks of ``block_s``
with 1 s of the join on both sides as context, and Praat runs on each chunk (a Praat Sound, Pitch and
Intensity per chunk, never for the whole join). A chunk's frames are put on the whole join's frame grid
(zeros added at its ends so that Praat's centred frames fall where they fall on the whole join), and
Praat's pitch sees the whole join's peak level (a single sample of that level after the chunk, far
from its frames), so the voicing decisions are those of the whole join. The first pass of
:func:`~bitbox.processors.voice.two_pass_pitch` runs over all chunks before the floor and ceiling are
set. Only the per-frame values (F0, voicing, level, about 2 kB per second of the speaker's speech) are
kept.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from bitbox.audio import AudioBlock
from bitbox.log import logger
from bitbox.processors.voice import syllable_nuclei

__all__ = ["own_speech", "speaker_voice_summary", "speaker_voices", "VOICE_KEYS"]

#: The keys of :func:`speaker_voice_summary`.
VOICE_KEYS = ("own_speech_s", "syllable_count", "speech_rate_syll_per_s", "f0_median_hz", "f0_p5_hz", "f0_p95_hz",
              "f0_range_semitones")
_JOIN_S = 0.1
_HOP_S = 0.01
_FIRST_STEP_S, _FIRST_FLOOR, _FIRST_CEILING = 0.03, 50.0, 700.0  # two_pass_pitch's first pass
_INTENSITY_PITCH = 50.0
_CONTEXT_S = 1.0  # of the join on each side of a chunk
_TAIL_S = 0.5  # zeros between a chunk's end and the sample that carries the join's peak level


def own_speech(annotated: pd.DataFrame, speaker: str, *, min_piece_s: float = 0.1) -> list[tuple[float, float]]:
    """The pieces of ``speaker``'s segments during which nobody else speaks (sorted (start_s, end_s))."""
    mine = annotated[annotated["speaker"] == speaker]
    others = annotated[annotated["speaker"] != speaker]
    o_s, o_e = others["start_s"].to_numpy(), others["end_s"].to_numpy()
    pieces = []
    for s, e in zip(mine["start_s"].to_numpy(), mine["end_s"].to_numpy()):
        cuts = [(max(a, s), min(b, e)) for a, b in zip(o_s, o_e) if a < e and b > s]
        t = s
        for a, b in sorted(cuts):
            if a > t:
                pieces.append((t, a))
            t = max(t, b)
        if e > t:
            pieces.append((t, e))
    return [(a, b) for a, b in pieces if b - a >= min_piece_s]


def speaker_voice_summary(samples: np.ndarray, sr: int, pieces: list[tuple[float, float]], *,
                          rate_time_s: float, silence_db: float = -25.0, min_dip_db: float = 2.0) -> dict[str, Any]:
    """F0 and speech rate of one speaker's own speech, from a recording held in memory.

    Parameters
    ----------
    samples, sr : np.ndarray, int
        The recording (mono) and its sample rate.
    pieces : list of (start_s, end_s)
        The speaker's own speech (:func:`own_speech`).
    rate_time_s : float
        The denominator of the speech rate (s): the speaker's own speech plus the pauses inside their
        floor turns, so that, as in the ``speech`` processor, pauses count.
    silence_db, min_dip_db : float
        The syllable-nucleus thresholds.

    Returns
    -------
    dict
        :data:`VOICE_KEYS`: ``own_speech_s``; ``syllable_count``; ``speech_rate_syll_per_s`` =
        nuclei / ``rate_time_s``; F0 median, 5th and 95th percentiles (Hz) and range
        (``12 log2(p95 / p5)`` semitones) over the voiced frames. NaN where there are fewer than 10
        voiced frames (about 0.1 s of voicing).
    """
    x = np.asarray(samples)
    block = AudioBlock(x, int(sr), 0, 0, len(x), True)
    return speaker_voices(lambda: iter([block]), {"S": pieces}, {"S": rate_time_s}, n_samples=len(x), sr=int(sr),
                          block_s=None, silence_db=silence_db, min_dip_db=min_dip_db)["S"]


def speaker_voices(blocks, pieces: dict[str, list[tuple[float, float]]], rate_times: dict[str, float], *,
                   n_samples: int, sr: int, block_s: float | None = 60.0, silence_db: float = -25.0,
                   min_dip_db: float = 2.0) -> dict[str, dict[str, Any]]:
    """:func:`speaker_voice_summary` of every speaker, in three passes over a recording read block by block.

    Parameters
    ----------
    blocks : callable
        ``blocks()`` gives the recording's :class:`~bitbox.audio.AudioBlock` in order (native rate), once per pass.
    pieces : dict
        Each speaker's own speech (:func:`own_speech`).
    rate_times : dict
        Each speaker's speech-rate denominator (s).
    n_samples, sr : int
        Samples in the recording and its sample rate.
    block_s : float | None
        Chunks of a speaker's joined speech analysed at a time (s); ``None``: the whole join at once.
    silence_db, min_dip_db : float
        The syllable-nucleus thresholds.

    Returns
    -------
    dict
        ``{speaker: {key: value}}`` for :data:`VOICE_KEYS`.
    """
    chunk = None if block_s is None else max(1, int(round(float(block_s) * sr)))
    joins = {s: _Join(p, n_samples, sr, chunk) for s, p in pieces.items()}
    active = {s: j for s, j in joins.items() if j.total}
    if active:
        if chunk is not None:  # the joins' mean and peak level (Praat's global peak), for the chunks
            _run(blocks, active, lambda join: join.stats)
        _run(blocks, active, lambda join: join.first_pass)
        for join in active.values():
            join.set_range()
        _run(blocks, active, lambda join: join.second_pass)
    out = {}
    for speaker, join in joins.items():
        result: dict[str, Any] = dict.fromkeys(VOICE_KEYS, math.nan)
        result["own_speech_s"] = float(sum(b - a for a, b in pieces[speaker]))
        if not pieces[speaker]:
            result["syllable_count"] = 0.0
            out[speaker] = result
            continue
        nuclei = syllable_nuclei(join.level, join.times, join.voiced, silence_db=silence_db, min_dip_db=min_dip_db)
        rate_time_s = rate_times[speaker]
        result["syllable_count"] = float(len(nuclei))
        result["speech_rate_syll_per_s"] = len(nuclei) / rate_time_s if rate_time_s > 0 else math.nan
        f0_voiced = np.concatenate(join.f0) if join.f0 else np.zeros(0)
        if len(f0_voiced) >= 10:
            p5, p95 = np.percentile(f0_voiced, [5, 95])
            result.update({"f0_median_hz": float(np.median(f0_voiced)), "f0_p5_hz": float(p5),
                           "f0_p95_hz": float(p95), "f0_range_semitones": float(12 * np.log2(p95 / p5))})
        out[speaker] = result
    return out


def _run(blocks, joins: dict[str, "_Join"], step) -> None:
    """One pass over the audio: every join fed each block, each chunk analysed by ``step(join)``."""
    for join in joins.values():
        join.start(step(join))
    for block in blocks():
        for join in joins.values():
            join.feed(block)
    for join in joins.values():
        join.finish()


def _frame_grid(n: int, sr: int, window: float, step: float) -> tuple[int, float]:
    """Praat's centred frames of a sound of ``n`` samples from time 0: their number and the first one's time."""
    duration = n / sr
    count = int(math.floor((duration - window) / step)) + 1
    return count, 0.5 * duration - 0.5 * (count - 1) * step


class _Join:
    """One speaker's own speech joined (pieces with 0.1 s of silence after each), fed block by block and
    analysed a chunk at a time (see the module docstring)."""

    def __init__(self, pieces: list[tuple[float, float]], n_samples: int, sr: int, chunk: int | None) -> None:
        self.sr, self.chunk = sr, chunk
        self.gap = int(round(_JOIN_S * sr))
        spans = [(min(int(round(a * sr)), n_samples), min(int(round(b * sr)), n_samples)) for a, b in pieces]
        self.spans = [(a, max(a, b)) for a, b in spans]
        self.total = sum(b - a + self.gap for a, b in self.spans)  # samples in the join
        self.context = int(round(_CONTEXT_S * sr))
        n_times = int(self.total / sr / _HOP_S)
        self.times = np.round(np.arange(n_times) * _HOP_S, 6)
        self.voiced = np.zeros(n_times, dtype=bool)
        self.level = np.full(n_times, np.nan)
        self.f0: list[np.ndarray] = []
        self.first_f0: list[np.ndarray] = []
        self.sum = 0.0
        self.high, self.low = 0.0, 0.0
        self.floor, self.ceiling = 75.0, 600.0

    # ---------------------------------------------------------------- feeding
    def start(self, analyse) -> None:
        """Begin a pass; ``analyse(sound, at, own_start, own_stop)`` gets each chunk."""
        self.analyse = analyse
        self.buffer = np.empty(0, dtype=np.float32)  # float32 as decoded; float64 for Praat a chunk at a time
        self.buffer_at = 0  # join index of buffer[0]
        self.own = 0  # join index where the next chunk's own samples start
        self.piece = 0  # the piece being filled
        self.parts: list[np.ndarray] = []  # samples for the join, not yet in the buffer
        self.pending: dict[int, list[np.ndarray]] = {}

    def feed(self, block: AudioBlock) -> None:
        """Add the samples of the join that lie in the block's own samples."""
        core = block.core
        i = self.piece
        while i < len(self.spans) and self.spans[i][0] < block.stop:
            a, b = self.spans[i]
            lo, hi = max(a, block.start), min(b, block.stop)
            if hi > lo:
                part = np.asarray(core[lo - block.start:hi - block.start], dtype=np.float32)
                if i == self.piece:
                    self.parts.append(part)
                else:  # a piece that overlaps the one being filled (a speaker's own overlap in a reference RTTM)
                    self.pending.setdefault(i, []).append(part)
            i += 1
        while self.piece < len(self.spans) and self.spans[self.piece][1] <= block.stop:
            self._next_piece()
        self._flush(final=False)

    def _next_piece(self) -> None:
        self.parts.append(np.zeros(self.gap, dtype=np.float32))
        self.piece += 1
        self.parts.extend(self.pending.pop(self.piece, []))

    def finish(self) -> None:
        """End the pass: analyse the rest of the join."""
        while self.piece < len(self.spans):
            self._next_piece()
        self._flush(final=True)

    def _flush(self, *, final: bool) -> None:
        if self.parts:
            self.buffer = np.concatenate([self.buffer, *self.parts])
            self.parts = []
        end = self.buffer_at + len(self.buffer)
        while self.own < self.total:
            stop = self.total if self.chunk is None else min(self.total, self.own + self.chunk)
            if not final and min(self.total, stop + self.context) > end:
                return
            lo = 0 if self.chunk is None else max(0, self.own - self.context)
            hi = self.total if self.chunk is None else min(self.total, stop + self.context)
            self.analyse(self.buffer[lo - self.buffer_at:hi - self.buffer_at], lo, self.own, stop)
            self.own = stop
            keep = max(self.buffer_at, self.own - self.context)
            self.buffer, self.buffer_at = self.buffer[keep - self.buffer_at:], keep

    # ---------------------------------------------------------------- analyses
    def _grid(self, window: float, step: float, kind: str) -> tuple[int, int, float]:
        """The whole join's frame grid for one analysis: zeros added at its end (0-3) so that no frame centre
        falls where Praat's sample lookup is a tie (which float noise would then decide), the number of frames
        and the first one's time."""
        sr = self.sr
        for extra in range(4):
            count, first = _frame_grid(self.total + extra, sr, window, step)
            position = first * sr - 0.5  # Praat's sample index (from 0) of the first frame's centre
            fraction = position - math.floor(position)
            tie = min(fraction, 1 - fraction) < 1e-6 if kind == "pitch" else abs(fraction - 0.5) < 1e-6
            if not tie:
                return extra, count, first
        return 0, *_frame_grid(self.total, sr, window, step)

    def _sound(self, samples: np.ndarray, at: int, window: float, step: float, kind: str):
        """A Praat Sound of a chunk (join samples from ``at``) on the whole join's frame grid (:meth:`_grid`):
        zeros added before and after it so that its centred frames fall where they fall on the whole join.
        For pitch, a sample after the chunk carries the whole join's peak level about its mean (Praat's
        voicing threshold is relative to it). Returns the sound, the whole-join index of its first frame, and
        the whole join's number of frames and first frame's time."""
        import parselmouth

        sr, n = self.sr, len(samples)
        extra, whole_count, whole_first = self._grid(window, step, kind)
        if self.chunk is None:
            before, after, tail = 0, extra, 0
        else:
            tail = int(round(_TAIL_S * sr)) + 1 if kind == "pitch" else 0
            least = extra if at + n >= self.total else 0
            reach = int(math.ceil(2 * step * sr)) + 2  # a frame's step, twice over, in samples
            before = np.arange(reach)[:, None]
            after = least + np.arange(reach)[None, :]
            duration = (n + before + after + tail) / sr
            count = np.floor((duration - window) / step) + 1
            first = 0.5 * duration - 0.5 * (count - 1) * step
            shift = ((at - before) / sr + first - whole_first) / step
            miss = np.abs(shift - np.round(shift)) + 1e-9 * (before + after)  # the least padding among the best
            i, j = np.unravel_index(int(np.argmin(miss)), miss.shape)
            if miss[i, j] > 1e-6:
                logger.debug("speaker acoustics: a chunk's frames are %.3f frames off the join's grid", miss[i, j])
            before, after = int(before[i, 0]), int(after[0, j])
        x = np.concatenate([np.zeros(before), samples, np.zeros(after + tail)])
        if tail:
            mean_rest = float(np.sum(x)) / len(x)
            target = max(self.high - self.mean, self.mean - self.low)
            x[-1] = (target + mean_rest) / (1.0 - 1.0 / len(x))
        sound = parselmouth.Sound(x, sampling_frequency=float(sr))
        count, first = _frame_grid(len(x), sr, window, step)
        offset = int(round(((at - before) / sr + first - whole_first) / step))
        return sound, offset, whole_count, whole_first

    def _owned(self, own: int, stop: int, count: int, first: float, step: float) -> tuple[int, int]:
        """The whole join's frames (indices ``[lo, hi)``) whose times lie in the join samples ``[own, stop)``."""
        def index(sample: int) -> int:
            if sample >= self.total:
                return count
            return min(count, max(0, int(math.ceil((sample / self.sr - first) / step - 1e-7))))
        return index(own), index(stop)

    def _nearest(self, grid: np.ndarray, count: int, first: float, step: float) -> np.ndarray:
        """The whole join's frame nearest each 10-ms time ``self.times[grid]`` (ties to the later frame; -1 where
        the frame would lie outside the join's frames)."""
        k = np.floor((self.times[grid] - first) / step + 0.5 + 1e-9).astype(np.int64)
        return np.where((k >= 0) & (k < count), k, -1)

    def stats(self, samples: np.ndarray, at: int, own: int, stop: int) -> None:
        """The join's sum, highest and lowest sample (its mean and peak about the mean)."""
        mine = samples[own - at:stop - at]
        self.sum += float(np.sum(mine, dtype=np.float64))
        if mine.size:
            self.high, self.low = max(self.high, float(mine.max())), min(self.low, float(mine.min()))
        self.mean = self.sum / self.total

    def first_pass(self, samples: np.ndarray, at: int, own: int, stop: int) -> None:
        """two_pass_pitch's first pass (50-700 Hz every 30 ms) on a chunk: its voiced F0 values."""
        window = 3.0 / _FIRST_FLOOR
        sound, offset, count, first = self._sound(samples, at, window, _FIRST_STEP_S, "pitch")
        pitch = sound.to_pitch_ac(time_step=_FIRST_STEP_S, pitch_floor=_FIRST_FLOOR, pitch_ceiling=_FIRST_CEILING)
        f0 = pitch.selected_array["frequency"]
        lo, hi = self._owned(own, stop, count, first, _FIRST_STEP_S)
        f0 = f0[lo - offset:hi - offset]
        self.first_f0.append(f0[f0 > 0])

    def set_range(self) -> None:
        """The second pass's floor and ceiling from the first pass's F0 (as two_pass_pitch sets them)."""
        f0 = np.concatenate(self.first_f0) if self.first_f0 else np.zeros(0)
        if len(f0) >= 10:
            q25, q75 = np.percentile(f0, [25, 75])
            self.floor = float(max(40.0, 0.75 * q25))
            self.ceiling = float(min(1000.0, max(2.0 * q75, 1.5 * self.floor)))
        self.first_f0 = []

    def second_pass(self, samples: np.ndarray, at: int, own: int, stop: int) -> None:
        """The second pass on a chunk (F0 every 10 ms between the floor and ceiling) and its intensity."""
        grid = np.flatnonzero((self.times >= own / self.sr) & (self.times < stop / self.sr))
        sound, offset, count, first = self._sound(samples, at, 3.0 / self.floor, _HOP_S, "pitch")
        pitch = sound.to_pitch_ac(time_step=_HOP_S, pitch_floor=self.floor, pitch_ceiling=self.ceiling)
        f0 = pitch.selected_array["frequency"]
        lo, hi = self._owned(own, stop, count, first, _HOP_S)
        mine = f0[lo - offset:hi - offset]
        self.f0.append(mine[mine > 0])
        self.voiced[grid] = self._on_grid(f0, offset, grid, count, first, fill=0.0) > 0
        sound, offset, count, first = self._sound(samples, at, 6.4 / _INTENSITY_PITCH, _HOP_S, "intensity")
        intensity = sound.to_intensity(minimum_pitch=_INTENSITY_PITCH, time_step=_HOP_S)
        level = self._on_grid(intensity.values[0], offset, grid, count, first, fill=np.nan)
        self.level[grid] = np.where(np.isfinite(level), np.maximum(level, 0.0), np.nan)

    def _on_grid(self, values: np.ndarray, offset: int, grid: np.ndarray, count: int, first: float, *,
                 fill: float) -> np.ndarray:
        """A chunk's frame values (its frame 0 is the whole join's frame ``offset``) at the 10-ms times
        ``self.times[grid]``; ``fill`` where the whole join has no frame there."""
        k = self._nearest(grid, count, first, _HOP_S)
        local = k - offset
        ok = (k >= 0) & (local >= 0) & (local < len(values))
        out = np.full(len(grid), fill, dtype=np.float64)
        out[ok] = values[local[ok]]
        return out
