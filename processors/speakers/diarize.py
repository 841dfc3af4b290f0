"""Who spoke when: speech regions, speaker embeddings, clustering and resegmentation.

:func:`diarize` runs the whole method on one recording:

1. **Speech regions**: Silero VAD (as the ``speech`` processor: a region starts at probability
   ``vad_threshold``, ends after 100 ms below ``vad_threshold - 0.15``; regions shorter than
   ``min_speech_s`` dropped; edges refined to 10 ms on the short-time level).
2. **Embeddings**: d-vectors (:mod:`.encoder`) of windows of ``window_s`` every ``step_s``
   inside each region (a region shorter than a window is one window of its own length).
3. **Clustering** (:func:`.cluster.cluster_speakers`) of the windows of at least
   ``min_cluster_s``: spectral clustering on the cosine affinity, the number of speakers from the
   eigengap (at most ``max_speakers``). Speakers heard only in short turns are added from the short
   windows that match no voice. A number known in advance (``n_speakers``, or ``min_speakers``) is
   reached this way when it can be, else by clustering the long windows into the missing speakers.
   Each speaker's centroid is the normalised mean of their windows.
4. **Resegmentation**: every 0.1 s tick inside speech scores each speaker by the mean cosine
   similarity of the windows covering it to the speaker's centroid; a Viterbi path through each
   region (a change of speaker costs ``change_penalty``) assigns one speaker per tick, so turns
   are cut where the voice changes, not where a window happens to end.
5. **Overlapped speech**: at a change of speaker inside a region (no silence between the two),
   short windows (``overlap_window_s``) around it are compared with both speakers' centroids and
   with their normalised sum (the voice mixture); where the mixture matches better than either
   voice alone by ``overlap_margin``, both speakers are marked as speaking.
6. Segments are labelled ``S1``, ``S2``, ... in order of first speech.

Long recordings: :func:`diarize_blocks` runs the method in passes over the audio read block by block
(:func:`scan_audio` for the voice activity and level, :func:`embed_windows` for the embeddings, once
more for the windows around changes of speaker), keeping only per-frame values and the windows'
float32 embeddings; :func:`diarize` is the same on samples in memory (one block).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from bitbox.audio import AudioBlock, resample
from bitbox.errors import MeasurementError
from bitbox.log import logger
from bitbox.processors.rttm import label_by_first_speech
from bitbox.processors.voice import VadStream, frame_levels, refine_segments, speech_segments, vad_probabilities

from .cluster import cluster_speakers, unit_centroids
from .encoder import EMBEDDING_SIZE, FRAME_S, HOP, N_FFT, SAMPLE_RATE, TARGET_DBFS, SpeakerEncoder, _hann, \
    mel_filterbank
from .turns import merge_same_speaker

__all__ = ["Diarization", "diarize", "diarize_blocks", "scan_audio", "AudioScan", "embed_windows", "speech_regions",
           "TICK_S"]

#: A zero-argument callable giving the recording's blocks and each block's own samples at 16 kHz, once per
#: pass (e.g. ``lambda: bitbox.processors.voice.audio_blocks_16k(path)``).
Blocks = Callable[[], Iterable[tuple[AudioBlock, np.ndarray]]]

#: Resolution of the resegmentation (s).
TICK_S = 0.1


@dataclass
class Diarization:
    """The result of :func:`diarize`.

    Attributes
    ----------
    segments : pd.DataFrame
        ``start_s``, ``end_s``, ``speaker`` (``S1``, ...), one row per speaker segment (segments
        of different speakers overlap where overlapped speech was found).
    n_speakers : int
        Speakers found.
    centroids : np.ndarray
        ``(n_speakers, 256)`` unit vectors, row ``i`` for ``S{i+1}``.
    regions : list of (float, float)
        The speech regions of the voice-activity detector.
    how : str
        How the number of speakers was chosen (for the notes).
    notes : list of str
        What the user should know about this result.
    """

    segments: pd.DataFrame
    n_speakers: int
    centroids: np.ndarray
    regions: list[tuple[float, float]]
    how: str = ""
    notes: list[str] = field(default_factory=list)


def speech_regions(samples16: np.ndarray, *, vad_threshold: float = 0.5,
                   min_speech_s: float = 0.2) -> list[tuple[float, float]]:
    """Speech regions (start_s, end_s) of 16 kHz audio: Silero VAD, edges refined on the level."""
    probs = vad_probabilities(samples16, SAMPLE_RATE)
    raw = speech_segments(probs, threshold=vad_threshold, min_speech_s=min_speech_s)
    levels = frame_levels(samples16, SAMPLE_RATE, 0.01)
    return [(float(a), float(b)) for a, b in refine_segments(raw, levels, 0.01)]


def _windows(regions: list[tuple[float, float]], n_frames: int, *, window_s: float, step_s: float
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First frame, length (frames) and region index of the embedding windows."""
    win, step = int(round(window_s / FRAME_S)), max(1, int(round(step_s / FRAME_S)))
    starts, lengths, owner = [], [], []
    for r, (a, b) in enumerate(regions):
        first, last = int(round(a / FRAME_S)), min(n_frames, int(round(b / FRAME_S)))
        if last - first <= win:
            if last - first >= 1:
                starts.append(first), lengths.append(last - first), owner.append(r)
            continue
        positions = list(range(first, last - win + 1, step))
        if positions[-1] != last - win:
            positions.append(last - win)
        starts.extend(positions), lengths.extend([win] * len(positions)), owner.extend([r] * len(positions))
    return np.asarray(starts, dtype=np.int64), np.asarray(lengths, dtype=np.int64), np.asarray(owner, dtype=np.int64)


def _viterbi(scores: np.ndarray, penalty: float) -> np.ndarray:
    """The label path maximising the summed scores minus ``penalty`` per change of label."""
    n, k = scores.shape
    best = scores[0].copy()
    back = np.zeros((n, k), dtype=np.int64)
    for t in range(1, n):
        stay = best
        move = best.max() - penalty
        back[t] = np.where(stay >= move, np.arange(k), int(best.argmax()))
        best = np.maximum(stay, move) + scores[t]
    path = np.empty(n, dtype=np.int64)
    path[-1] = int(best.argmax())
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


# ---------------------------------------------------------------------------- streaming
class _Frames:
    """400-sample frames every 160 samples of 16-kHz audio fed in order, frame ``t`` centred on sample
    ``160 t`` (zero padding before the first and after the last sample): the frames of
    :func:`~.encoder.mel_frames` and of :func:`bitbox.processors.voice.frame_levels` at 10 ms, ``1 + n // 160`` of
    them for ``n`` samples. Only the samples of frames still to come are kept."""

    def __init__(self) -> None:
        self.buffer = np.empty(0, dtype=np.float32)
        self.offset = 0  # sample index of buffer[0]
        self.next = 0  # the next frame
        self.total = 0  # samples fed

    def feed(self, samples: np.ndarray, *, last: bool) -> tuple[int, np.ndarray]:
        """Add samples; return the index of the first new frame and the samples of the new frames (frame ``i``
        of them is ``segment[160 i : 160 i + 400]``)."""
        half = N_FFT // 2
        self.buffer = np.concatenate([self.buffer, np.asarray(samples, dtype=np.float32)])
        self.total += len(samples)
        if last:
            count = 1 + self.total // HOP
        else:
            count = (self.total - half) // HOP + 1 if self.total >= half else 0
        first = self.next
        if count <= first:
            return first, np.zeros(0, dtype=np.float32)
        lo, hi = first * HOP - half, (count - 1) * HOP + half
        segment = np.zeros(hi - lo, dtype=np.float32)
        a, b = max(lo, 0), min(hi, self.total)
        segment[a - lo:b - lo] = self.buffer[a - self.offset:b - self.offset]
        self.next = count
        keep = min(max(0, count * HOP - half), self.total)
        self.buffer, self.offset = self.buffer[keep - self.offset:], keep
        return first, segment


def _framed(segment: np.ndarray) -> np.ndarray:
    """The frames of a :meth:`_Frames.feed` segment, ``(k, 400)`` (a view)."""
    if len(segment) < N_FFT:
        return np.zeros((0, N_FFT), dtype=np.float32)
    return np.lib.stride_tricks.sliding_window_view(segment, N_FFT)[::HOP]


def _levels(segment: np.ndarray) -> np.ndarray:
    """Short-time levels (dB) of the 25-ms frames of a segment, as :func:`bitbox.processors.voice.frame_levels`
    computes them (from a cumulative sum of the squared samples, 2048 frames at a time)."""
    count = 1 + (len(segment) - N_FFT) // HOP if len(segment) >= N_FFT else 0
    out = np.empty(count)
    for first in range(0, count, 2048):
        last = min(count, first + 2048)
        part = segment[first * HOP:(last - 1) * HOP + N_FFT].astype(np.float64)
        power = np.concatenate([[0.0], np.cumsum(np.square(part, out=part), out=part)])
        starts = np.arange(last - first) * HOP
        out[first:last] = 10 * np.log10((power[starts + N_FFT] - power[starts]) / N_FFT + 1e-12)
    return out


def _mel(segment: np.ndarray) -> np.ndarray:
    """The encoder's power mel frames of a segment's 400-sample frames (as :func:`~.encoder.mel_frames`),
    ``(k, 40)`` float32, computed 1024 frames at a time."""
    frames = _framed(segment)
    window, weights = _hann(N_FFT), mel_filterbank().astype(np.float64)
    out = np.empty((len(frames), weights.shape[0]), dtype=np.float32)
    for start in range(0, len(frames), 1024):
        block = frames[start:start + 1024] * window
        out[start:start + len(block)] = (np.abs(np.fft.rfft(block, axis=1)) ** 2) @ weights.T
    return out


@dataclass
class AudioScan:
    """What the first pass over a recording keeps (:func:`scan_audio`): all small, per 10 or 32 ms.

    Attributes
    ----------
    sr : int
        The native sample rate.
    n_native, n16 : int
        Samples at the native rate and at 16 kHz.
    peak : float
        Largest magnitude of a native sample.
    clipped : int
        Native samples at or beyond :data:`~bitbox.processors.audio_quality.CLIP_LEVEL` of full scale.
    sum_squares : float
        Sum of the squared 16-kHz samples (the speaker encoder's level normalisation).
    probs : np.ndarray of float32
        Silero speech probabilities per 32 ms (empty when the scan ran without VAD).
    levels : np.ndarray
        Short-time levels (dB) per 10 ms (empty without VAD).
    """

    sr: int = SAMPLE_RATE
    n_native: int = 0
    n16: int = 0
    peak: float = 0.0
    clipped: int = 0
    sum_squares: float = 0.0
    probs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    levels: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def gain(self) -> float:
        """The factor :func:`~.encoder.normalize_volume` raises the 16-kHz audio by (1: none)."""
        rms = math.sqrt(self.sum_squares / self.n16) if self.n16 else 0.0
        if rms <= 0.0 or not math.isfinite(rms):
            return 1.0
        change_db = TARGET_DBFS - 20.0 * math.log10(rms)
        return 10.0 ** (change_db / 20.0) if change_db > 0.0 else 1.0

    @property
    def n_frames(self) -> int:
        """Mel frames of the recording (every 10 ms)."""
        return 1 + self.n16 // HOP


def scan_audio(blocks: Blocks, *, vad: bool = True) -> AudioScan:
    """The first pass over a recording: level, clipping, duration, and (``vad``) the VAD probabilities and
    short-time levels that give the speech regions.

    Parameters
    ----------
    blocks : callable
        The recording's blocks (:data:`Blocks`).
    vad : bool
        Run the voice-activity detector and the level frames too.

    Returns
    -------
    AudioScan
    """
    from bitbox.processors.audio_quality import CLIP_LEVEL

    scan = AudioScan()
    stream = VadStream() if vad else None
    frames, levels = _Frames(), []
    for block, x16 in blocks():
        core = block.core
        scan.sr = block.sr
        scan.n_native += len(core)
        if core.size:
            magnitude = np.abs(core)
            scan.peak = max(scan.peak, float(magnitude.max()))
            scan.clipped += int(np.count_nonzero(magnitude >= CLIP_LEVEL))
        scan.n16 += len(x16)
        scan.sum_squares += float(np.sum(np.square(x16, dtype=np.float64)))
        if stream is not None:
            stream.feed(x16)
            levels.append(_levels(frames.feed(x16, last=block.last)[1]))
    if stream is not None:
        scan.probs = stream.finish()
        scan.levels = np.concatenate(levels) if levels else np.zeros(0)
    return scan


def embed_windows(blocks: Blocks, encoder: SpeakerEncoder, starts: np.ndarray, lengths: np.ndarray | int, *,
                  gain: float = 1.0) -> np.ndarray:
    """Speaker embeddings of windows of mel frames, computed block by block (one pass over the audio).

    The same as ``encoder.embed(mel_frames(samples16), starts=starts, lengths=lengths)`` on the whole
    recording (the level normalisation given as ``gain``, :attr:`AudioScan.gain`), but only the mel frames
    of windows still to come are kept: a window that straddles a block edge is embedded once its
    last frame is in.

    Parameters
    ----------
    blocks : callable
        The recording's blocks (:data:`Blocks`).
    encoder : SpeakerEncoder
        The network.
    starts : np.ndarray
        First mel frame of each window.
    lengths : np.ndarray or int
        Frames in each window.
    gain : float
        Factor the 16-kHz samples are multiplied by first (as float32, as :func:`~.encoder.normalize_volume`).

    Returns
    -------
    np.ndarray
        ``(len(starts), 256)`` float32, row ``i`` for window ``i``.
    """
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.broadcast_to(np.asarray(lengths, dtype=np.int64), starts.shape)
    out = np.zeros((len(starts), EMBEDDING_SIZE), dtype=np.float32)
    if not len(starts):
        return out
    order = np.argsort(starts + lengths, kind="stable")  # windows in the order their last frame comes
    ends = (starts + lengths)[order]
    keep_from = np.minimum.accumulate(starts[order][::-1])[::-1]  # the earliest frame any later window needs
    frames = _Frames()
    mel, mel_at, i = np.zeros((0, 40), dtype=np.float32), 0, 0
    factor = np.float32(gain)
    for block, x16 in blocks():
        if gain != 1.0:
            x16 = (np.asarray(x16, dtype=np.float32) * factor).astype(np.float32)
        mel = np.concatenate([mel, _mel(frames.feed(x16, last=block.last)[1])])
        available = mel_at + len(mel)
        j = int(np.searchsorted(ends, available, side="right"))
        if j > i:
            chosen = order[i:j]
            out[chosen] = encoder.embed(mel, starts=starts[chosen] - mel_at, lengths=lengths[chosen])
            i = j
        keep = min(int(keep_from[i]) if i < len(order) else available, available)
        mel, mel_at = mel[keep - mel_at:], keep
    if i < len(order):
        raise MeasurementError("<audio>", f"{len(order) - i} speaker-embedding windows lie beyond the audio's "
                               f"{mel_at + len(mel)} mel frames", "Report this as a bug")
    return out


def _memory_blocks(samples: np.ndarray, sr: int) -> Blocks:
    """In-memory audio as one block (:data:`Blocks`), resampled to 16 kHz once."""
    x = np.asarray(samples, dtype=np.float32)
    x16 = resample(x, sr, SAMPLE_RATE) if sr != SAMPLE_RATE else x
    block = AudioBlock(x, int(sr), 0, 0, len(x), True)

    def blocks():
        yield block, x16

    return blocks


def diarize(samples: np.ndarray, sr: int, *, encoder: SpeakerEncoder, n_speakers: int | None = None,
            min_speakers: int = 1, max_speakers: int = 8, vad_threshold: float = 0.5, min_speech_s: float = 0.2,
            window_s: float = 1.5, step_s: float = 0.25, min_cluster_s: float = 1.0, change_penalty: float = 1.0,
            overlap_window_s: float = 0.8, overlap_margin: float = 0.02, min_pause_s: float = 0.25,
            progress=None, path: str = "<audio>") -> Diarization:
    """Diarize one recording held in memory (see the module docstring for the method; :func:`diarize_blocks`
    for a recording read block by block).

    Parameters
    ----------
    samples, sr : np.ndarray, int
        Mono audio and its sample rate.
    encoder : SpeakerEncoder
        The speaker-embedding network.
    n_speakers : int | None
        The number of speakers when known (``None``: estimated between ``min_speakers`` and
        ``max_speakers``).
    vad_threshold, min_speech_s : float
        Voice activity (see :func:`speech_regions`).
    window_s, step_s : float
        Embedding windows: length and step (s).
    min_cluster_s : float
        Shortest window used to find the speakers (shorter ones are only assigned).
    change_penalty : float
        Viterbi cost of a change of speaker, in units of cosine similarity x ticks.
    overlap_window_s, overlap_margin : float
        Overlapped-speech detection at changes inside a region (window length, s; margin of the
        mixture's similarity over the better single voice).
    min_pause_s : float
        A speaker's segments closer than this are joined.
    progress : callable | None
        ``progress(done, total)`` over the steps.
    path : str
        The recording, for error messages.

    Returns
    -------
    Diarization
    """
    return diarize_blocks(_memory_blocks(samples, sr), encoder=encoder, n_speakers=n_speakers,
                          min_speakers=min_speakers, max_speakers=max_speakers, vad_threshold=vad_threshold,
                          min_speech_s=min_speech_s, window_s=window_s, step_s=step_s, min_cluster_s=min_cluster_s,
                          change_penalty=change_penalty, overlap_window_s=overlap_window_s,
                          overlap_margin=overlap_margin, min_pause_s=min_pause_s, progress=progress, path=path)


def diarize_blocks(blocks: Blocks, *, encoder: SpeakerEncoder, scan: AudioScan | None = None,
                   n_speakers: int | None = None, min_speakers: int = 1, max_speakers: int = 8,
                   vad_threshold: float = 0.5, min_speech_s: float = 0.2, window_s: float = 1.5, step_s: float = 0.25,
                   min_cluster_s: float = 1.0, change_penalty: float = 1.0, overlap_window_s: float = 0.8,
                   overlap_margin: float = 0.02, min_pause_s: float = 0.25, progress=None,
                   path: str = "<audio>") -> Diarization:
    """Diarize one recording read block by block: memory stays flat with its length.

    Up to three passes over the audio: the voice-activity detector and the level (:func:`scan_audio`; skipped
    when ``scan`` is given), the embeddings of the windows in speech (:func:`embed_windows`), and the
    embeddings around changes of speaker (overlapped speech). Only per-frame values (VAD probabilities,
    levels) and the windows' embeddings are kept, never the audio. The parameters are those of :func:`diarize`.

    Returns
    -------
    Diarization
    """
    scan = scan if scan is not None and len(scan.levels) else scan_audio(blocks)
    duration = scan.n16 / SAMPLE_RATE
    raw = speech_segments(scan.probs, threshold=vad_threshold, min_speech_s=min_speech_s)
    regions = [(float(a), float(b)) for a, b in refine_segments(raw, scan.levels, 0.01)]
    empty = pd.DataFrame({"start_s": pd.Series(dtype=float), "end_s": pd.Series(dtype=float),
                          "speaker": pd.Series(dtype=str)})
    if not regions:
        return Diarization(empty, 0, np.zeros((0, 256)), regions, "no speech")
    n_frames = scan.n_frames
    starts, lengths, owner = _windows(regions, n_frames, window_s=window_s, step_s=step_s)
    if n_speakers is not None and len(starts) < n_speakers:
        speech = sum(b - a for a, b in regions)
        raise MeasurementError(path, f"has too little speech to tell {n_speakers} speakers apart ({speech:.1f} s in "
                               f"{len(regions)} region(s), {len(starts)} embedding window(s))",
                               "Check the recording, or lower n_speakers (None estimates it)")
    embeddings = embed_windows(blocks, encoder, starts, lengths, gain=scan.gain)  # float32: 1 kB per window
    if progress is not None:
        progress(1, 3)
    reliable = lengths * FRAME_S >= min_cluster_s - 1e-9
    if reliable.sum() < max(2, n_speakers or 0):
        reliable = np.ones(len(starts), dtype=bool)
    notes: list[str] = []
    lowest, highest = (n_speakers, n_speakers) if n_speakers is not None else (min_speakers, max_speakers)
    centroids, how, short_notes = _speaker_centroids(embeddings, lengths * FRAME_S, reliable, lowest, highest)
    if len(centroids) < lowest:  # the voices found were too few: split the long windows into the rest
        centroids, how, short_notes = _speaker_centroids(embeddings, lengths * FRAME_S, reliable, lowest, highest,
                                                         force=True)
    notes.extend(short_notes)
    if n_speakers is not None:
        how = f"n_speakers={n_speakers} given; {how}"
    k = len(centroids)
    similarity = np.concatenate([embeddings[i:i + 4096].astype(np.float64) @ centroids.T
                                 for i in range(0, len(embeddings), 4096)])  # (windows, speakers)
    del embeddings

    rows = []
    for r, (a, b) in enumerate(regions):
        mine = np.flatnonzero(owner == r)
        ticks = np.arange(a, b, TICK_S)
        if len(ticks) == 0 or k == 1:
            rows.append((a, b, 0))
            continue
        w_start = starts[mine] * FRAME_S
        w_end = (starts[mine] + lengths[mine]) * FRAME_S
        centre = ticks + TICK_S / 2
        covers = (w_start[None, :] <= centre[:, None]) & (w_end[None, :] > centre[:, None])
        weights = covers / np.maximum(covers.sum(axis=1, keepdims=True), 1)
        scores = weights @ similarity[mine]
        nowhere = covers.sum(axis=1) == 0
        if nowhere.any():  # ticks no window covers (edges): the nearest window
            nearest = np.abs((w_start + w_end)[None, :] / 2 - centre[nowhere, None]).argmin(axis=1)
            scores[nowhere] = similarity[mine][nearest]
        path = _viterbi(scores, change_penalty)
        bounds = np.flatnonzero(np.diff(path)) + 1
        edges = np.concatenate([[a], ticks[bounds], [b]])
        labels_run = np.concatenate([[path[0]], path[bounds]])
        rows.extend((float(s), float(e), int(lab)) for s, e, lab in zip(edges[:-1], edges[1:], labels_run))
    segments = pd.DataFrame(rows, columns=["start_s", "end_s", "speaker"])
    if progress is not None:
        progress(2, 3)
    if k > 1:
        segments = _mark_overlaps(segments, blocks, n_frames, encoder, centroids, gain=scan.gain,
                                  window_s=overlap_window_s, margin=overlap_margin)
    segments["speaker"] = segments["speaker"].map(lambda j: f"spk{int(j)}")
    segments[["start_s", "end_s"]] = segments[["start_s", "end_s"]].round(3)  # milliseconds, as in RTTM
    segments = merge_same_speaker(segments, min_pause_s=min_pause_s)
    segments, names = label_by_first_speech(segments)
    order = [int(names[f"S{i}"][3:]) for i in range(1, len(names) + 1)]  # the centroid of S1, S2, ...
    centroids = centroids[order] if len(order) else centroids[:0]
    if n_speakers is not None and len(order) < n_speakers:
        notes.append(f"n_speakers={n_speakers} was asked for, but only {len(order)} voice(s) hold any speech after "
                     "resegmentation: the others' windows were closer to another voice everywhere; the recording "
                     "may hold fewer speakers than that")
    logger.debug("diarization: %d regions, %d windows, %d speakers (%s), %d segments, %.1f s", len(regions),
                 len(starts), len(order), how, len(segments), duration)
    if progress is not None:
        progress(3, 3)
    return Diarization(segments, len(order), centroids, regions, how, notes)


def _speaker_centroids(embeddings: np.ndarray, durations: np.ndarray, reliable: np.ndarray, lowest: int,
                       highest: int, *, force: bool = False) -> tuple[np.ndarray, str, list[str]]:
    """The speakers' centroids, how their number was chosen, and notes on short turns.

    The windows of at least ``min_cluster_s`` are clustered (the number estimated up to ``highest``),
    then speakers heard only in short turns are added (:func:`_short_turn_speakers`), up to
    ``highest`` in all. A number known in advance (``lowest``, e.g. ``n_speakers``) is reached this
    way when it can be, since a speaker of short turns only would otherwise be made by splitting a
    long-speaking one; with ``force`` the long windows are clustered into the speakers still missing.
    """
    if reliable.sum() < 2:
        labels, k, how = np.zeros(int(reliable.sum()), dtype=np.int64), 1, "one speech window: one speaker"
    else:
        fixed = max(1, lowest - _count_short_speakers(embeddings, durations, reliable, highest)) if force else None
        result = cluster_speakers(embeddings[reliable], n_speakers=fixed, min_speakers=1, max_speakers=highest)
        labels, k, how = result.labels, int(result.n_speakers), result.why
    centroids = unit_centroids(embeddings[reliable], labels, k)
    notes: list[str] = []
    if k < highest:
        centroids, notes = _short_turn_speakers(embeddings[~reliable], durations[~reliable], centroids,
                                                max_new=highest - k)
        if len(centroids) > k:
            how += f"; {len(centroids) - k} more speaker(s) from short turns that match no other voice"
    return centroids, how, notes


def _count_short_speakers(embeddings: np.ndarray, durations: np.ndarray, reliable: np.ndarray, highest: int) -> int:
    """How many speakers :func:`_short_turn_speakers` adds to the free clustering's voices."""
    if reliable.sum() < 2:
        return 0
    result = cluster_speakers(embeddings[reliable], min_speakers=1, max_speakers=highest)
    centroids = unit_centroids(embeddings[reliable], result.labels, int(result.n_speakers))
    more, _ = _short_turn_speakers(embeddings[~reliable], durations[~reliable], centroids,
                                   max_new=max(0, highest - len(centroids)))
    return len(more) - len(centroids)


#: A short turn whose voice is less similar than this to every speaker's centroid matches none of them.
SHORT_MATCH_SIMILARITY = 0.65
#: Short unmatched turns at least this similar to one another (average linkage) are one voice.
SHORT_GROUP_SIMILARITY = 0.7


def _short_turn_speakers(embeddings: np.ndarray, durations: np.ndarray, centroids: np.ndarray, *, max_new: int,
                         min_turns: int = 3, min_total_s: float = 1.5) -> tuple[np.ndarray, list[str]]:
    """Speakers heard only in short turns (shorter than the windows the clustering uses).

    The short turns whose voice matches no speaker (similarity below :data:`SHORT_MATCH_SIMILARITY`)
    are grouped by average linkage at :data:`SHORT_GROUP_SIMILARITY`; a group of at least
    ``min_turns`` turns and ``min_total_s`` of speech is a further speaker. Returns the centroids
    (with the new ones appended) and notes on short turns that still match no one.
    """
    if len(embeddings) == 0 or len(centroids) == 0:
        return centroids, []
    unmatched = np.flatnonzero((embeddings @ centroids.T).max(axis=1) < SHORT_MATCH_SIMILARITY)
    if len(unmatched) == 0:
        return centroids, []
    groups = np.zeros(len(unmatched), dtype=np.int64)
    if len(unmatched) > 1:
        from scipy.cluster.hierarchy import fcluster, linkage

        unit = embeddings[unmatched]
        distance = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)[np.triu_indices(len(unit), 1)]
        groups = fcluster(linkage(distance, method="average"), t=1.0 - SHORT_GROUP_SIMILARITY, criterion="distance")
    new, left = [], []
    for g in np.unique(groups):
        members = unmatched[groups == g]
        if len(members) >= min_turns and durations[members].sum() >= min_total_s and len(new) < max_new:
            mean = embeddings[members].mean(axis=0)
            new.append(mean / max(np.linalg.norm(mean), 1e-12))
        else:
            left.extend(members.tolist())
    notes = []
    if len(left) >= 2 and durations[left].sum() >= 1.0:
        notes.append(f"{len(left)} short turns ({durations[left].sum():.1f} s) match no speaker's voice well (cosine "
                     f"similarity below {SHORT_MATCH_SIMILARITY}); they were given to the nearest voice. They may "
                     "come from a speaker who only says a few words (a speaker is found from at least "
                     f"{min_turns} such turns), or be noise: check them, or set n_speakers")
    return (np.vstack([centroids, *new]) if new else centroids), notes


def _mark_overlaps(segments: pd.DataFrame, blocks: Blocks, n_frames: int, encoder: SpeakerEncoder,
                   centroids: np.ndarray, *, gain: float, window_s: float, margin: float) -> pd.DataFrame:
    """Extend both speakers over the overlapped speech found around changes of speaker inside a region (the
    windows around every change embedded in one pass over the audio)."""
    rows = [tuple(r) for r in segments.itertuples(index=False)]
    changes = [i for i in range(1, len(rows)) if rows[i][0] == rows[i - 1][1] and rows[i][2] != rows[i - 1][2]]
    if not changes:
        return segments
    half = window_s / 2
    length = int(round(window_s / FRAME_S))
    plans = []
    for i in changes:
        t0 = rows[i][0]
        lo, hi = max(rows[i - 1][0], t0 - 1.5), min(rows[i][1], t0 + 1.5)
        centres = np.arange(lo + half, hi - half + 1e-9, TICK_S)
        first = np.clip(np.round((centres - half) / FRAME_S).astype(np.int64), 0, n_frames - 1)
        plans.append((i, centres, np.minimum(first, n_frames - length)))
    plans = [p for p in plans if len(p[1])]
    if not plans:
        return segments
    everything = embed_windows(blocks, encoder, np.concatenate([p[2] for p in plans]), length, gain=gain)
    cuts = np.cumsum([len(p[1]) for p in plans])[:-1]
    extra = []
    for (i, centres, _), emb in zip(plans, np.split(everything.astype(np.float64), cuts)):
        t0, a_lab, b_lab = rows[i][0], rows[i - 1][2], rows[i][2]
        mix = centroids[a_lab] + centroids[b_lab]
        mix /= max(np.linalg.norm(mix), 1e-12)
        single = np.maximum(emb @ centroids[a_lab], emb @ centroids[b_lab])
        both = (emb @ mix) > single + margin
        if not both.any():
            continue
        run = np.flatnonzero(both)
        s, e = float(centres[run[0]] - TICK_S / 2), float(centres[run[-1]] + TICK_S / 2)
        s, e = max(s, rows[i - 1][0]), min(e, rows[i][1])
        if s < t0:
            extra.append((s, t0, b_lab))  # the second speaker started earlier
        if e > t0:
            extra.append((t0, e, a_lab))  # the first speaker went on
    if not extra:
        return segments
    table = pd.concat([segments, pd.DataFrame(extra, columns=segments.columns)], ignore_index=True)
    return table.sort_values(["start_s", "speaker"], kind="stable").reset_index(drop=True)
