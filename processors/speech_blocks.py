"""Block-by-block analysis for the speech processor: flat memory on recordings of any length.

The speech processor reads its recording three times, one block (60 s by default) with context at a
time (:func:`bitbox.audio.audio_blocks`); only per-frame results (a few numbers every 10 ms) and
running sums are kept:

1. :func:`scan`: the checks of :class:`~bitbox.processors.audio_quality.AudioStats`, Silero VAD
   (:class:`~bitbox.processors.voice.VadStream`: the network's state carries over), the mains-hum
   spectrum (:class:`~bitbox.processors.audio_quality.HumSpectrum`) and the energy of every VAD
   window (for the hum's level re the speech);
2. the speech processor's second pass: the short-time levels that refine the speech segments and the
   first pitch pass that sets the pitch floor and ceiling;
3. its third pass: pitch, intensity, glottal pulses and their amplitudes, formants, HNR, CPP, MFCC.

Praat analyses a block as a Sound that starts at the block's time, cut so that its frames fall on the
frames of the whole recording (:func:`aligned_sound`: a start on a multiple of the time step, or of the
smallest whole number of samples that is one, and a length congruent with the recording's). The whole
recording and every block are analysed as if a few zeros followed the recording
(:func:`tie_free_extra`), so that Praat never places a window by rounding a tie, which floating-point
noise would decide differently in a block and in the whole file. Pitch (and so voicing, F0, pulses,
jitter and shimmer), HNR, intensity, formants and MFCC are then those of a whole-file analysis.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator

import numpy as np

from bitbox.audio import AudioBlock, resample, resample_block
from bitbox.processors.audio_quality import AudioStats, HumSpectrum, MainsHum, hum_from_spectrum, remove_hum
from bitbox.processors.voice import VAD_HOP_S, VAD_SR, VadStream

__all__ = ["Scan", "scan", "aligned_sound", "notched", "block_levels", "frame_range", "RunningMoments",
           "NOTCH_MARGIN_S", "CONTEXT_S", "align_for", "owned", "on_grid", "inside_segments", "FrameAnalysis",
           "block_peak", "peak_pad", "grid_samples", "tie_free_extra", "strength_to_db",
           "cepstral_peak_prominence", "INTENSITY_WINDOW_S", "FORMANT_WINDOW_S", "MFCC_WINDOW_S"]

#: Context the hum notch needs around what it filters (s): it runs forwards and backwards.
NOTCH_MARGIN_S = 3.0
#: Context given to the Praat analyses (s): far more than their longest window (3 periods of 40 Hz), and
#: longer than nearly every voiced stretch of connected speech, so that Praat's pulses of a stretch that
#: crosses a block edge are placed from the same stretch as in the whole file (a sustained vowel that
#: crosses one may get its pulses placed slightly differently: within the jitter tolerance).
CONTEXT_S = 1.5
#: Speech segments are padded by this much (s) for the analyses that only matter inside speech (formants,
#: MFCC): far more than their windows (50 and 15 ms).
PART_PAD_S = 0.2
#: Voiced stretches are padded by this much (s) for the formant analysis (its window: 50 ms).
FORMANT_PAD_S = 0.06


def align_for(sr: int, rates: tuple[int, ...]) -> int:
    """Sample count that block lengths and margins are multiples of, so that resampling to each of
    ``rates`` sees the same sample phases in every block (lcm of the down factors)."""
    align = 1
    for rate in rates:
        align = math.lcm(align, Fraction(int(rate), int(sr)).denominator)
    return align


@dataclass
class Scan:
    """What the first pass over a recording found.

    Attributes
    ----------
    sr : int
        Native sample rate (Hz).
    stats : AudioStats
        Length, peak and clipping.
    probs : np.ndarray
        Silero speech probability per 32-ms window.
    energy_at : np.ndarray
        Sum of squared samples before the start of every VAD window (and after the last), so that the
        energy of ``[int(k * VAD_HOP_S * sr), int(m * VAD_HOP_S * sr))`` is ``energy_at[m] - energy_at[k]``.
    hum : MainsHum | None
        The mains hum found (before any notch).
    """

    sr: int
    stats: AudioStats
    probs: np.ndarray
    energy_at: np.ndarray
    hum: MainsHum | None = None

    @property
    def n_samples(self) -> int:
        """Samples in the recording."""
        return self.stats.n_samples

    def _energy(self, k: int) -> float:
        return float(self.energy_at[min(max(k, 0), len(self.energy_at) - 1)])

    def speech_power(self, segments: list[tuple[float, float]]) -> float:
        """Mean squared sample inside ``segments`` (edges on VAD windows, as :func:`speech_segments`
        gives them); the whole recording's when there are none."""
        total, count = 0.0, 0
        for start, end in segments:
            a, b = int(start * self.sr), min(int(end * self.sr), self.n_samples)
            if b > a:
                k, m = int(round(start / VAD_HOP_S)), int(round(end / VAD_HOP_S))
                total += self._energy(m) - self._energy(k)
                count += b - a
        if not count:
            return float(self.energy_at[-1]) / max(self.n_samples, 1)
        return total / count


def scan(blocks: Iterator[AudioBlock], progress=None) -> Scan:
    """The first pass (see the module's description) over ``blocks``."""
    stats = vad = spectrum = None
    energies: list[np.ndarray] = []
    running = 0.0
    sr = 0
    for block in blocks:
        if stats is None:
            sr = block.sr
            stats, vad, spectrum = AudioStats(sr), VadStream(), HumSpectrum(sr)
        core = block.core
        stats.update(core)
        vad.feed(resample_block(block, VAD_SR))
        spectrum.feed(core)
        # Energy before each VAD window's first sample int(k * VAD_HOP_S * sr) in this block.
        ks = np.arange(max(0, int(block.start / (VAD_HOP_S * sr)) - 1), int(block.stop / (VAD_HOP_S * sr)) + 2)
        edges = (ks * VAD_HOP_S * sr).astype(np.int64)
        edges = edges[(edges >= block.start) & (edges < block.stop)]
        cumulative = np.concatenate([[0.0], np.cumsum(np.square(core, dtype=np.float64))])
        energies.append(running + cumulative[edges - block.start])
        running += float(cumulative[-1])
        if progress is not None:
            progress(block)
    if stats is None:
        raise ValueError("no audio block to scan")
    probs = vad.finish()
    energy_at = np.concatenate(energies + [np.array([running])])  # every edge before the end, and the end
    found = Scan(sr, stats, probs, energy_at)
    found.hum = hum_from_spectrum(spectrum, sr)
    return found


def notched(block: AudioBlock, frequency_hz: float | None, whole: bool) -> AudioBlock:
    """The block with mains hum notched out (context kept), or the block itself.

    ``whole``: the block is the whole recording (filtered as :func:`remove_hum` filters, in 60-s
    pieces with 3 s of context); else the block and all its context are filtered at once (decode
    ``NOTCH_MARGIN_S`` more context than the analyses need: the block's own samples are then those of
    the whole file to a few 1e-7, its context to within the filter's transient)."""
    if frequency_hz is None:
        return block
    if whole:
        samples = remove_hum(block.samples, block.sr, frequency_hz)
    else:
        samples = remove_hum(block.samples, block.sr, frequency_hz, block_s=len(block.samples) / block.sr + 1.0,
                             margin_s=0.0)
    return AudioBlock(samples, block.sr, block.offset, block.start, block.stop, block.last)


#: Physical window lengths of Praat's analyses (s; pitch: 3 periods of the floor): where their first frame falls.
INTENSITY_WINDOW_S = 6.4 / 50.0
FORMANT_WINDOW_S = 2 * 0.025
MFCC_WINDOW_S = 2 * 0.015


def tie_free_extra(total: int, rate: float, *, window_s: float, step_s: float, kind: str) -> int:
    """Zeros (0-3) to analyse after a recording of ``total`` samples so that Praat places no analysis window
    by rounding a tie.

    Praat centres its ``n = floor((duration - window) / step) + 1`` frames in the analysed Sound (the first
    ``duration / 2 - (n - 1) step / 2`` from its start). Where the first frame lies exactly on a sample
    (``kind="intensity"``: intensity, MFCC) or exactly between two samples (``kind="pitch"``: pitch,
    formants), Praat finds its window's samples by rounding a tie; where ``(duration - window) / step`` is a
    whole number, the frame count is one. Floating-point noise decides such ties: differently in a block
    and in the whole recording, and differently in two recordings that differ only in their start. A
    whole-file analysis and every block analyse the recording as if these zeros followed it
    (:func:`aligned_sound`), so no tie is left.

    Parameters
    ----------
    total : int
        The recording's length (samples at ``rate``).
    rate : float
        Sample rate of the analysis (Hz).
    window_s : float
        The analysis' physical window (s).
    step_s : float
        Its time step (s).
    kind : str
        ``"pitch"`` (pitch, formants) or ``"intensity"`` (intensity, MFCC): where its ties are.

    Returns
    -------
    int
        The number of zeros.
    """
    for extra in range(4):
        duration = (total + extra) / rate
        frames = (duration - window_s) / step_s
        if abs(frames - round(frames)) < 1e-6:  # the frame count itself would be a tie
            continue
        count = math.floor(frames) + 1
        position = (0.5 * duration - 0.5 * (count - 1) * step_s) * rate
        fraction = position - math.floor(position)
        tie = abs(fraction - 0.5) < 1e-6 if kind == "pitch" else min(fraction, 1 - fraction) < 1e-6
        if not tie:
            return extra
    return 0


def aligned_sound(samples: np.ndarray, rate: float, offset: int, total: int, step_s: float, *,
                  peak: tuple[float, float, float] | None = None, at_end: bool = True, extra: int = 0):
    """A parselmouth Sound of ``samples`` (the first at index ``offset`` of a recording of ``total``
    samples at ``rate``) whose analysis frames at ``step_s`` fall on the whole recording's frames.

    Praat centres its frames in a Sound: they coincide with the whole recording's when the Sound starts
    on a multiple of the step and its length is congruent with the recording's modulo the step. When the
    step is not a whole number of samples (10 ms at 11025 or 22050 Hz), the smallest whole number of
    samples that is a whole number of steps is used instead (441 samples: 4 or 2 steps). Up to that
    many samples of context are dropped on each side for that. Only when no such number is below half
    a second (an odd sample rate) is the Sound returned uncut (frames then within half a step of the
    whole file's).

    ``peak``: the whole recording's smallest and largest sample and its mean. Praat's pitch and
    harmonicity analyses judge silence and voicing relative to the analysed Sound's largest distance
    of a sample from its mean, its glottal pulses (``To PointProcess (cc)``) relative to its largest
    sample magnitude: a block that lacks the recording's loudest moments would judge quieter frames
    differently. Half a second of "silence" ending in the recording's extreme samples is added after
    the block (``at_end``) or before it, outside the frames the block owns, its level chosen so that
    the Sound's mean is the recording's (:func:`peak_pad`): both peaks are then the recording's.

    ``extra``: zeros taken to follow the recording (:func:`tie_free_extra`); a Sound that reaches the
    recording's end gets them.
    """
    import parselmouth

    lo, hi = int(offset), int(offset) + len(samples)
    end = int(total) + int(extra)
    grid = grid_samples(step_s, rate)
    if hi >= total:  # the recording's end, and the zeros after it
        hi = end
    if grid is not None:
        new_lo = -(-lo // grid) * grid
        remainder = end % grid
        new_hi = new_lo + remainder + ((hi - new_lo - remainder) // grid) * grid
        if new_hi > new_lo:
            lo, hi = new_lo, new_hi
    part = np.asarray(samples[lo - int(offset):min(hi, int(offset) + len(samples)) - int(offset)], dtype=np.float64)
    if hi > int(offset) + len(samples):
        part = np.concatenate([part, np.zeros(hi - int(offset) - len(samples))])
    start = lo / float(rate)
    if peak is not None and len(part):
        # A whole number of steps of silence (the frames stay on the grid), the peak sample at its far end.
        step_n = grid or 1
        n_pad = -(-int(0.5 * rate) // step_n) * step_n
        pad = peak_pad(n_pad, len(part), float(np.sum(part)), peak)
        if at_end:
            part = np.concatenate([part, pad])
        else:
            pad = pad[::-1]
            part = np.concatenate([pad, part])
            start -= n_pad / float(rate)
    return parselmouth.Sound(part, sampling_frequency=float(rate), start_time=start)


def grid_samples(step_s: float, rate: float) -> int | None:
    """The smallest whole number of samples at ``rate`` that is a whole number of time steps ``step_s``
    (``None`` when there is none below half a second)."""
    step = Fraction(step_s * rate).limit_denominator(1000)
    if step <= 0 or abs(float(step) - step_s * rate) > 1e-6 or step.numerator > 0.5 * rate:
        return None
    return step.numerator


def peak_pad(n_pad: int, n_part: int, part_sum: float, peak: tuple[float, float, float]) -> np.ndarray:
    """The samples to add to a Sound of ``n_part`` samples (summing to ``part_sum``) so that its mean, its
    largest sample magnitude and its largest distance from the mean are a recording's.

    Parameters
    ----------
    n_pad : int
        Samples to add (at least 3).
    n_part : int
        Samples of the Sound.
    part_sum : float
        Their sum.
    peak : (float, float, float)
        The recording's smallest and largest sample and its mean.

    Returns
    -------
    np.ndarray
        ``n_pad`` samples: a constant level (silence at the level that sets the mean), then the
        recording's sample of largest magnitude and its sample farthest from its mean (one sample
        when they are the same). When that level would itself exceed the recording's extremes (a
        block far from the recording's mean), silence at zero and one sample at the recording's
        distance from the new mean.
    """
    low, high, mean = (float(v) for v in peak)
    magnitude = high if abs(high) >= abs(low) else low
    farthest = high if high - mean >= mean - low else low
    ends = [magnitude] if magnitude == farthest else [magnitude, farthest]
    n_all = n_part + n_pad
    level = (mean * n_all - part_sum - sum(ends)) / (n_pad - len(ends))
    if low <= level <= high:
        return np.concatenate([np.full(n_pad - len(ends), level), ends])
    pad = np.zeros(n_pad)
    distance = max(high - mean, mean - low)
    pad[-1] = (distance * n_all + part_sum) / (n_all - 1)  # |value - new mean| == distance
    return pad


def block_peak(block: AudioBlock, n_samples: int, peak: tuple[float, float, float] | None) -> dict:
    """Keywords of :func:`aligned_sound` that give a block the recording's peak: none for a block that is
    the whole recording; the peak after a block whose context stops before the recording's end, else before
    it (a block just before a very short last one may hold the recording's end in its context: frames there
    must see the end of the recording, not added silence)."""
    reaches_end = block.offset + len(block.samples) >= n_samples
    if peak is None or (block.offset == 0 and reaches_end):
        return {}
    return {"peak": peak, "at_end": not reaches_end}


def frame_range(times: np.ndarray, block: AudioBlock) -> slice:
    """The frames at ``times`` (s) that the block owns (``[start_s, stop_s)``, the last block to the end)."""
    first = int(np.searchsorted(times, block.start_s, side="left"))
    last = len(times) if block.last else int(np.searchsorted(times, block.stop_s, side="left"))
    return slice(first, last)


def block_levels(block: AudioBlock, hop: int, win: int, n_frames: int) -> tuple[slice, np.ndarray]:
    """Short-time levels (dB) of the frames centred at ``i * hop`` samples that the block owns, as
    :func:`bitbox.processors.voice.frame_levels` computes them on the whole recording
    (``n_frames`` of them)."""
    first = -(-block.start // hop)
    last = n_frames if block.last else min(n_frames, -(-block.stop // hop))
    if last <= first:
        return slice(first, first), np.empty(0)
    padded = np.pad(np.asarray(block.samples, dtype=np.float32), (win, win + hop))
    levels = np.empty(last - first)
    for chunk in range(first, last, 6000):  # a few MB at a time
        end = min(last, chunk + 6000)
        lo = chunk * hop - win // 2 - block.offset + win
        hi = (end - 1) * hop - win // 2 - block.offset + win + win
        part = padded[lo:hi].astype(np.float64)
        power = np.concatenate([[0.0], np.cumsum(part ** 2)])
        starts = np.arange(end - chunk) * hop
        levels[chunk - first:end - first] = 10 * np.log10((power[starts + win] - power[starts]) / win + 1e-12)
    return slice(first, last), levels


@dataclass
class RunningMoments:
    """Count, mean and sum of squared deviations of rows of values added in batches (Chan et al.'s
    parallel update), for means and population SDs of per-frame values over a whole recording."""

    n: int = 0
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None

    def add(self, values: np.ndarray) -> None:
        """Add observations (rows: frames, columns: variables)."""
        if not len(values):
            return
        values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
        n_b, mean_b = len(values), values.mean(axis=0)
        m2_b = np.sum((values - mean_b) ** 2, axis=0)
        if self.mean is None:
            self.n, self.mean, self.m2 = n_b, mean_b, m2_b
            return
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * n_b / n
        self.m2 = self.m2 + m2_b + delta ** 2 * self.n * n_b / n
        self.n = n

    def sd(self) -> np.ndarray | None:
        """Population standard deviations (``None`` before any observation)."""
        return None if self.mean is None else np.sqrt(self.m2 / self.n)


def resampled(block: AudioBlock, rate: int) -> tuple[np.ndarray, int]:
    """The block's samples with context at ``rate`` and the index of the first one at that rate
    (blocks aligned as :func:`align_for` gives: the same samples as the whole recording's)."""
    if rate == block.sr:
        return block.samples, block.offset
    ratio = Fraction(int(rate), block.sr)
    return resample(block.samples, block.sr, int(rate)), block.offset * ratio.numerator // ratio.denominator


def cepstral_peak_prominence(frames: np.ndarray, sr: int, *, f0_min: float = 60.0, f0_max: float = 330.0
                             ) -> np.ndarray:
    """Cepstral peak prominence (dB) of each row of ``frames`` (windowed audio frames).

    The power spectrum in dB is transformed to the cepstrum (also in dB); CPP is the
    height of its peak between quefrencies ``1/f0_max`` and ``1/f0_min`` above the
    least-squares line fitted to the cepstrum from 1 ms to 50 ms (Hillenbrand et al. 1994).
    """
    n_fft = int(2 ** math.ceil(math.log2(frames.shape[1])))
    spectrum_db = 10 * np.log10(np.abs(np.fft.rfft(frames, n=n_fft, axis=1)) ** 2 + 1e-12)
    cepstrum = np.abs(np.fft.irfft(spectrum_db, axis=1))
    cepstrum_db = 20 * np.log10(cepstrum + 1e-12)
    quefrency = np.arange(cepstrum.shape[1]) / sr
    fit = (quefrency >= 0.001) & (quefrency <= min(0.05, quefrency[cepstrum.shape[1] // 2 - 1]))
    search = (quefrency >= 1.0 / f0_max) & (quefrency <= 1.0 / f0_min)
    q_fit = quefrency[fit]
    design = np.vstack([q_fit, np.ones_like(q_fit)]).T
    coef, *_ = np.linalg.lstsq(design, cepstrum_db[:, fit].T, rcond=None)
    idx = np.flatnonzero(search)
    peak = idx[np.argmax(cepstrum_db[:, idx], axis=1)]
    line = coef[0] * quefrency[peak] + coef[1]
    return cepstrum_db[np.arange(len(frames)), peak] - line


def strength_to_db(strength: np.ndarray) -> np.ndarray:
    """Harmonicity (dB) of periodicity strengths r, as Praat converts them: 10 log10(r / (1 - r)), -150 dB
    for r <= 1e-15 and 150 dB for r > 1 - 1e-15."""
    r = np.asarray(strength, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        db = 10 * np.log10(r / (1 - r))
    return np.where(r <= 1e-15, -150.0, np.where(r > 1 - 1e-15, 150.0, db))


def on_grid(values: np.ndarray, x1: float, dx: float, times: np.ndarray) -> np.ndarray:
    """Praat frame values (first frame at ``x1``, step ``dx``) at ``times``, nearest frame (a time halfway
    between two frames takes the later one, whatever the rounding errors of ``x1``); NaN outside."""
    k = np.floor((times - x1) / dx + 0.5 + 1e-6).astype(int)
    ok = (k >= 0) & (k < len(values))
    out = np.full(len(times), np.nan)
    out[ok] = values[k[ok]]
    return out


#: Times within this of a block's start belong to it (s): Praat's frame times carry rounding errors.
_EDGE_S = 1e-9


def owned(t: np.ndarray, block: AudioBlock) -> np.ndarray:
    """Whether the times ``t`` (s) belong to the block (``[start_s, stop_s)``, the last block to the end;
    a time within 1 ns below an edge counts as on it, so that neighbouring blocks agree)."""
    shifted = np.asarray(t) + _EDGE_S
    return (shifted >= block.start_s) & ((shifted < block.stop_s) | block.last)


def inside_segments(t: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Whether each time lies inside one of the sorted segments ``[starts, ends)``."""
    if not len(starts):
        return np.zeros(len(t), dtype=bool)
    k = np.searchsorted(starts, t, side="right") - 1
    return (k >= 0) & (t < ends[np.maximum(k, 0)])


class FrameAnalysis:
    """The third pass: Praat's pitch, intensity, pulses, HNR, formants and MFCC, and CPP, block by block.

    Parameters
    ----------
    times : np.ndarray
        The frame times of the time series (s).
    n_samples, sr : int
        The recording's length (samples) and sample rate (Hz).
    hop_s : float
        Time step of the time series and of the pitch and intensity analyses (s).
    floor, ceiling : float
        Pitch floor and ceiling (Hz).
    formant_rate : int
        Sample rate the formant analysis runs at (twice the formant ceiling, Hz).
    n_formants : float
        Number of formants searched below the ceiling.
    segments : (np.ndarray, np.ndarray)
        Starts and ends of the speech segments (s).
    n_mfcc : int
        MFCCs summarised (c1..c_n).
    cpp_step_s, formant_step_s : float
        Time steps of CPP and formant frames (s).
    mfcc_sr : int
        Sample rate of the MFCC analysis (Hz).
    peak : (float, float, float) | None
        The recording's smallest and largest sample and its mean (:func:`aligned_sound`), given to
        blocks that are not the whole recording.
    """

    def __init__(self, *, times: np.ndarray, n_samples: int, sr: int, hop_s: float, floor: float, ceiling: float,
                 formant_rate: int, n_formants: float, segments: tuple[np.ndarray, np.ndarray], n_mfcc: int,
                 cpp_step_s: float, formant_step_s: float, mfcc_sr: int,
                 peak: tuple[float, float, float] | None = None) -> None:
        self.times, self.n_samples, self.sr, self.hop_s = times, int(n_samples), int(sr), float(hop_s)
        self.floor, self.ceiling = float(floor), float(ceiling)
        self.formant_rate, self.n_formants = int(formant_rate), float(n_formants)
        self.starts, self.ends = segments
        self.inside = inside_segments(times, self.starts, self.ends)
        self.n_mfcc, self.mfcc_sr = int(n_mfcc), int(mfcc_sr)
        self.formant_step_s = float(formant_step_s)
        self.peak = peak
        self.cpp_stride = max(1, int(round(cpp_step_s / self.hop_s)))
        n = len(times)
        #: Per-frame values; formants as float32 (0.001-Hz resolution) to keep long recordings small.
        self.f0 = np.full(n, np.nan)
        self.level = np.full(n, np.nan)
        self.formants = {k: np.full(n, np.nan, dtype=np.float32) for k in (1, 2, 3)}
        self.pulses: list[np.ndarray] = []
        self.tier_times: list[np.ndarray] = []
        self.tier_values: list[np.ndarray] = []
        self.hnr_sum, self.hnr_n = 0.0, 0
        self.cpp_sum, self.cpp_n = 0.0, 0
        self.voiced_speech_seen = 0
        self.mfcc = RunningMoments()
        #: Zeros each analysis takes to follow the recording, so that none of its windows is a tie.
        mfcc_total = -(-self.n_samples * self.mfcc_sr // self.sr)
        formant_rate = min(self.formant_rate, self.sr)
        self.extras = {
            "pitch": tie_free_extra(self.n_samples, self.sr, window_s=3.0 / self.floor, step_s=self.hop_s,
                                    kind="pitch"),
            "intensity": tie_free_extra(self.n_samples, self.sr, window_s=INTENSITY_WINDOW_S, step_s=self.hop_s,
                                        kind="intensity"),
            "formant": tie_free_extra(-(-self.n_samples * formant_rate // self.sr), formant_rate,
                                      window_s=FORMANT_WINDOW_S, step_s=self.formant_step_s, kind="pitch"),
            "mfcc": tie_free_extra(mfcc_total, self.mfcc_sr, window_s=MFCC_WINDOW_S, step_s=self.hop_s,
                                   kind="intensity")}
        #: Periods counted by jitter and shimmer (s), as the speech processor always set them.
        self.shortest_period = 1.0 / self.ceiling * 0.8
        self.longest_period = 1.0 / self.floor * 1.25

    def add(self, block: AudioBlock) -> None:
        """Analyse one block (with its context; hum already notched out)."""
        from parselmouth.praat import call

        frames = frame_range(self.times, block)
        t = self.times[frames]
        peak = self.block_peak(block)
        sound = aligned_sound(block.samples, self.sr, block.offset, self.n_samples, self.hop_s, **peak,
                              extra=self.extras["pitch"])
        pitch = sound.to_pitch_ac(time_step=self.hop_s, pitch_floor=self.floor, pitch_ceiling=self.ceiling)
        f0 = pitch.selected_array["frequency"]
        self.f0[frames] = on_grid(np.where(f0 > 0, f0, np.nan), pitch.x1, pitch.dx, t)
        if self.extras["intensity"] != self.extras["pitch"]:  # its frames would meet ties in the pitch's Sound
            sound_i = aligned_sound(block.samples, self.sr, block.offset, self.n_samples, self.hop_s,
                                    extra=self.extras["intensity"])
        else:
            sound_i = sound
        intensity = sound_i.to_intensity(minimum_pitch=50.0, time_step=self.hop_s)
        self.level[frames] = on_grid(intensity.values[0], intensity.x1, intensity.dx, t)

        # Glottal pulses, their amplitudes (from the samples around them), jitter and shimmer later on the join.
        points = call([sound, pitch], "To PointProcess (cc)")
        pulses = np.asarray(call(points, "To Matrix").values[0], dtype=np.float64) \
            if call(points, "Get number of points") else np.empty(0)
        self.pulses.append(pulses[owned(pulses, block)])
        keep = (block.start_s, math.inf if block.last else block.stop_s)
        from bitbox.processors.perturbation import pulse_amplitudes

        tier_t, tier_a = pulse_amplitudes(sound.values[0], self.sr, sound.xmin, pulses,
                                          shortest_period=self.shortest_period,
                                          longest_period=self.longest_period, keep=keep)
        self.tier_times.append(tier_t)
        self.tier_values.append(tier_a)

        # HNR from the same pitch analysis: Boersma's (1993) harmonicity of the chosen candidate, as Praat's
        # Harmonicity objects convert a strength r to dB, over the voiced frames inside speech.
        strength = on_grid(pitch.selected_array["strength"], pitch.x1, pitch.dx, t)
        voiced = np.isfinite(self.f0[frames]) & self.inside[frames] & np.isfinite(strength)
        self.hnr_sum += float(np.sum(strength_to_db(strength[voiced])))
        self.hnr_n += int(voiced.sum())

        self._formants(block, frames, t)
        self._cpp(block, frames, t)
        self._mfcc(block)

    def block_peak(self, block: AudioBlock) -> dict:
        """Keywords of :func:`aligned_sound` that give a block the recording's peak."""
        return block_peak(block, self.n_samples, self.peak)

    def _parts(self, rate: float, offset: int, length: int, spans: tuple[np.ndarray, np.ndarray] | None = None,
               pad_s: float = PART_PAD_S, join_s: float = 0.0) -> list[tuple[int, int]]:
        """Sample ranges ``[lo, hi)`` (at ``rate``, within ``offset .. offset + length``) of ``spans`` (the
        speech segments by default) padded by ``pad_s``, overlapping ones joined: analyses whose values are
        only used there run on these alone (the same ranges in blocks and in the whole file); ranges less
        than ``join_s`` apart are joined too (fewer, longer Praat analyses)."""
        parts: list[tuple[int, int]] = []
        starts, ends = spans if spans is not None else (self.starts, self.ends)
        for start, end in zip(starts, ends):
            lo = max(offset, int(math.floor((start - pad_s) * rate)))
            hi = min(offset + length, int(math.ceil((end + pad_s) * rate)))
            if hi <= lo:
                continue
            if parts and lo - parts[-1][1] <= join_s * rate:
                parts[-1] = (parts[-1][0], max(parts[-1][1], hi))
            else:
                parts.append((lo, hi))
        return parts

    def _formants(self, block: AudioBlock, frames: slice, t: np.ndarray) -> None:
        from parselmouth.praat import call

        samples, offset = resampled(block, self.formant_rate) if self.formant_rate < self.sr \
            else (block.samples, block.offset)
        rate = min(self.formant_rate, self.sr)
        total = -(-self.n_samples * rate // self.sr)
        # Voiced speech only (the summary's frames; unvoiced speech frames are interpolated in the time series).
        voiced = np.isfinite(self.f0[frames]) & self.inside[frames]
        edges = np.flatnonzero(np.diff(np.concatenate([[0], voiced.astype(np.int8), [0]])))
        runs = (t[edges[0::2]] - self.hop_s / 2, t[np.minimum(edges[1::2], len(t)) - 1] + self.hop_s / 2) \
            if len(edges) else (np.empty(0), np.empty(0))
        if len(edges):  # a run at a block edge goes on in the context: analyse it there as in the whole file
            runs[0][edges[0::2] == 0] = block.offset / self.sr
            runs[1][edges[1::2] >= len(t)] = (block.offset + len(block.samples)) / self.sr
        for lo, hi in self._parts(rate, offset, len(samples), runs, FORMANT_PAD_S, join_s=0.3):
            sound = aligned_sound(samples[lo - offset:hi - offset], rate, lo, total, self.formant_step_s,
                                  extra=self.extras["formant"])
            if sound.xmax - sound.xmin < 0.06:  # too short for a formant frame
                continue
            formant = sound.to_formant_burg(time_step=self.formant_step_s, max_number_of_formants=self.n_formants,
                                            maximum_formant=rate / 2.0)
            here = (t >= lo / rate) & (t < hi / rate) & voiced
            for k in (1, 2, 3):
                values = np.asarray(call(formant, "To Matrix", k).values)[0]
                track = self.formants[k][frames]
                track[here] = on_grid(np.where(values > 0, values, np.nan), formant.x1, formant.dx, t[here])
                self.formants[k][frames] = track

    def _cpp(self, block: AudioBlock, frames: slice, t: np.ndarray) -> None:
        """CPP of every ``cpp_stride``-th voiced speech frame (counted over the whole recording)."""
        voiced = np.isfinite(self.f0[frames]) & self.inside[frames]
        rank = self.voiced_speech_seen + np.cumsum(voiced) - 1
        self.voiced_speech_seen += int(voiced.sum())
        chosen = t[voiced & (rank % self.cpp_stride == 0)]
        if not len(chosen):
            return
        win = int(round(0.04 * self.sr))
        centres = np.rint(chosen * self.sr).astype(int) - block.offset
        padded = np.pad(np.asarray(block.samples, dtype=np.float32), (win, win))
        taper = np.hanning(win)
        for first in range(0, len(centres), 256):  # bounded memory: a few MB of spectra at a time
            idx = centres[first:first + 256][:, None] + np.arange(win)[None, :] + win - win // 2
            values = cepstral_peak_prominence(padded[idx].astype(np.float64) * taper, self.sr,
                                              f0_min=max(self.floor, 40.0), f0_max=min(self.ceiling, self.sr / 4))
            self.cpp_sum += float(np.sum(values))
            self.cpp_n += len(values)

    def _mfcc(self, block: AudioBlock) -> None:
        samples, offset = resampled(block, self.mfcc_sr)
        total = -(-self.n_samples * self.mfcc_sr // self.sr)
        for lo, hi in self._parts(self.mfcc_sr, offset, len(samples)):
            sound = aligned_sound(samples[lo - offset:hi - offset], self.mfcc_sr, lo, total, self.hop_s,
                                  extra=self.extras["mfcc"])
            if sound.xmax - sound.xmin < 0.05:
                continue
            mfcc = sound.to_mfcc(number_of_coefficients=self.n_mfcc, window_length=0.015, time_step=self.hop_s)
            coefficients = np.asarray(mfcc.to_array())
            mt = mfcc.xs()
            chosen = owned(mt, block) & inside_segments(mt, self.starts, self.ends)
            self.mfcc.add(coefficients[1:self.n_mfcc + 1, chosen].T)

    def voice_quality(self) -> dict[str, float]:
        """Jitter, shimmer and HNR over the whole recording."""
        from bitbox.processors.perturbation import jitter, shimmer

        pulses = np.concatenate(self.pulses) if self.pulses else np.empty(0)
        bounds = {"shortest_period": self.shortest_period, "longest_period": self.longest_period}
        out = dict.fromkeys(("jitter_local", "jitter_rap", "jitter_ppq5", "shimmer_local", "shimmer_apq3",
                             "shimmer_apq5"), math.nan)
        if len(pulses) > 5:
            out.update(jitter(pulses, max_period_factor=1.3, **bounds))
            out.update(shimmer(np.concatenate(self.tier_times), np.concatenate(self.tier_values),
                               max_amplitude_factor=1.6, **bounds))
        out["hnr_db"] = self.hnr_sum / self.hnr_n if self.hnr_n else math.nan
        return out

    @property
    def cpp_db(self) -> float:
        """Mean CPP (dB) of the chosen frames (NaN without any)."""
        return self.cpp_sum / self.cpp_n if self.cpp_n else math.nan

    def mfcc_summary(self) -> dict[str, float]:
        """Mean and SD of c1..c_n over the MFCC frames inside speech."""
        out: dict[str, float] = {}
        sd = self.mfcc.sd()
        for c in range(1, self.n_mfcc + 1):
            out[f"mfcc_{c}_mean"] = float(self.mfcc.mean[c - 1]) if sd is not None else math.nan
            out[f"mfcc_{c}_sd"] = float(sd[c - 1]) if sd is not None else math.nan
        return out
