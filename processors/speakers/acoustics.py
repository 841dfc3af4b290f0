"""Per-speaker voice measures: F0 median and range, syllable-based speech rate.

Each speaker's own speech (their segments, minus the time anyone else speaks) is joined into one
sound with 0.1 s of silence between the pieces, and measured as the ``speech`` processor measures a
recording: Praat's two-pass autocorrelation pitch (:func:`bitbox.processors.voice.two_pass_pitch`,
floor and ceiling from the speaker's own voice) and de Jong & Wempe's syllable nuclei on Praat's
intensity contour (:func:`bitbox.processors.voice.syllable_nuclei`). Pieces shorter than
``min_piece_s`` are left out (too short for pitch).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from bitbox.processors.voice import syllable_nuclei, two_pass_pitch

__all__ = ["own_speech", "speaker_voice_summary", "VOICE_KEYS"]

#: The keys of :func:`speaker_voice_summary`.
VOICE_KEYS = ("own_speech_s", "syllable_count", "speech_rate_syll_per_s", "f0_median_hz", "f0_p5_hz", "f0_p95_hz",
              "f0_range_semitones")
_JOIN_S = 0.1
_HOP_S = 0.01


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
    """F0 and speech rate of one speaker's own speech.

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
    import parselmouth

    out: dict[str, Any] = dict.fromkeys(VOICE_KEYS, math.nan)
    out["own_speech_s"] = float(sum(b - a for a, b in pieces))
    if not pieces:
        out["syllable_count"] = 0.0
        return out
    gap = np.zeros(int(round(_JOIN_S * sr)), dtype=np.float64)
    parts = []
    for a, b in pieces:
        parts.append(np.asarray(samples[int(round(a * sr)):int(round(b * sr))], dtype=np.float64))
        parts.append(gap)
    joined = np.concatenate(parts)
    sound = parselmouth.Sound(joined, sampling_frequency=float(sr))
    pitch, _, _ = two_pass_pitch(sound, time_step=_HOP_S)
    f0 = pitch.selected_array["frequency"]
    times = np.round(np.arange(int(len(joined) / sr / _HOP_S)) * _HOP_S, 6)
    k = np.rint((times - pitch.x1) / pitch.dx).astype(int)
    voiced = np.zeros(len(times), dtype=bool)
    ok = (k >= 0) & (k < len(f0))
    voiced[ok] = f0[k[ok]] > 0
    intensity = sound.to_intensity(minimum_pitch=50.0, time_step=_HOP_S)
    ki = np.rint((times - intensity.x1) / intensity.dx).astype(int)
    level = np.full(len(times), np.nan)
    oki = (ki >= 0) & (ki < intensity.values.shape[1])
    level[oki] = intensity.values[0][ki[oki]]
    level = np.where(np.isfinite(level), np.maximum(level, 0.0), np.nan)
    nuclei = syllable_nuclei(level, times, voiced, silence_db=silence_db, min_dip_db=min_dip_db)
    out["syllable_count"] = float(len(nuclei))
    out["speech_rate_syll_per_s"] = len(nuclei) / rate_time_s if rate_time_s > 0 else math.nan
    f0_voiced = f0[f0 > 0]
    if len(f0_voiced) >= 10:
        p5, p95 = np.percentile(f0_voiced, [5, 95])
        out.update({"f0_median_hz": float(np.median(f0_voiced)), "f0_p5_hz": float(p5), "f0_p95_hz": float(p95),
                    "f0_range_semitones": float(12 * np.log2(p95 / p5))})
    return out
