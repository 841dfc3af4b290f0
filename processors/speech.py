"""The ``speech`` processor: voice activity, pauses, rate, prosody and voice quality.

Pipeline (every parameter is recorded in the provenance):

1. **Decode** the audio file or the video's audio track (native sample rate, channels
   averaged to mono) and refuse recordings that are too short, silent or clipped
   (:func:`bitbox.processors.audio_quality.check_audio`).
2. **Voice activity**: the Silero VAD network (ONNX, packaged in ``silero-vad``) gives a
   speech probability every 32 ms at 16 kHz; speech segments follow Silero's hysteresis
   rule (start above ``vad_threshold``, end below ``vad_threshold - 0.15`` held for
   100 ms; segments shorter than ``min_speech_s`` dropped). Each segment edge is then
   refined to 10 ms on the short-time energy: the first/last frame within 150 ms whose
   level is above the recording's 99th-percentile level + ``edge_db`` (and 6 dB above the
   noise floor, the median level outside speech).
   **Mains hum** (:func:`bitbox.processors.audio_quality.mains_hum`): the 50 or 60 Hz line and its harmonics
   are measured (``hum_db``, relative to the power inside the speech segments) and, from
   -30 dB on, notched out (:func:`bitbox.processors.audio_quality.remove_hum`) before every later step; from
   -15 dB on the pitch floor is also kept above 1.1 x the mains frequency.
3. **Pauses**: gaps between speech segments of at least ``min_pause_s`` (shorter gaps are
   part of speech). Leading and trailing silence are not pauses.
4. **Syllable nuclei** (de Jong & Wempe 2009): peaks of the intensity contour inside
   speech, above the 99th-percentile intensity + ``silence_db``, followed by a dip of at
   least ``min_dip_db`` before the next peak, and voiced. Speech rate = nuclei / speaking
   time (first speech onset to last offset, pauses included); articulation rate = nuclei
   / phonation time (speech segments only).
5. **Praat measures** through parselmouth: F0 (autocorrelation, two passes: the floor and
   ceiling of the second pass are 0.75 x the 25th and 2 x the 75th percentile of a 50-700 Hz
   first pass, after De Looze & Hirst) and its octave jumps, intensity, jitter (local, RAP,
   PPQ5) and shimmer (local, APQ3, APQ5) on the cross-correlation point process (Praat's formulas
   on the pulses of all blocks: :mod:`bitbox.processors.perturbation`), HNR (the periodicity
   strength of the same pitch analysis), formants F1-F3 on voiced speech (Burg; ceiling 5000 Hz for
   a median F0 below 160 Hz, else 5500 Hz, as the Praat manual advises for male and female voices),
   MFCCs on speech (on a 16 kHz copy, so that they do not depend on the sample rate).
6. **CPP** (cepstral peak prominence, Hillenbrand et al. 1994) per voiced frame with numpy.
7. Optionally the 88 eGeMAPSv02 functionals of openSMILE (``egemaps=True``).

The recording is read block by block (``block_s``, :mod:`bitbox.processors.speech_blocks`): memory
stays flat with its length, and the results are those of a whole-file analysis within
:data:`BLOCK_TOLERANCES` (measured: identical to about 1e-6).
"""
from __future__ import annotations

import math
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from bitbox.audio import AudioBlock, audio_rate
from bitbox.processors.audio_quality import AudioStats, MainsHum, no_audio_reason, remove_hum
from bitbox.catalog import Measure
from bitbox.errors import MeasurementError, ParameterError
from bitbox.log import logger
from bitbox.params import Bool, Interval, NoneOk
from bitbox.events import events_frame, events_from_mask
from bitbox.processor import Processor, ProgressCallback, QualityColumns, join_notes
from bitbox.processors.speech_blocks import (CONTEXT_S, NOTCH_MARGIN_S, FrameAnalysis, align_for, aligned_sound,
                                             block_levels, block_peak, cepstral_peak_prominence, inside_segments,
                                             notched, owned, scan, tie_free_extra)
from bitbox.processors.voice import (FIRST_PASS, VAD_HOP_S, VAD_SR, first_pass_pitch, merge_short_gaps, pitch_range,
                                     refine_segments, speech_segments, syllable_nuclei, two_pass_pitch,
                                     vad_probabilities)
from bitbox.recording import Recording

__all__ = ["SpeechProcessor", "BLOCK_TOLERANCES", "vad_probabilities", "speech_segments", "refine_segments",
           "syllable_nuclei", "cepstral_peak_prominence", "speech_summary", "two_pass_pitch", "SPEECH_SUMMARY_KEYS",
           "VAD_HOP_S"]

#: Silero VAD's frame: 512 samples at 16 kHz.
_DE_JONG = "de Jong & Wempe (2009), Praat script to detect syllable nuclei, Behav Res Methods 41:385"
_PRAAT = "Boersma & Weenink, Praat (via parselmouth, Jadoul et al. 2018)"
_SILERO = "Silero Team (2024), Silero VAD"
_HIRST = "De Looze & Hirst (2008), two-pass F0 floor/ceiling"
_HILLENBRAND = "Hillenbrand et al. (1994), cepstral peak prominence, J Speech Hear Res 37:769"
_GOLDMAN = "Goldman-Eisler (1968); pauses of at least min_pause_s"
_EYBEN = "Eyben et al. (2016), the Geneva Minimalistic Acoustic Parameter Set (eGeMAPS), via openSMILE"
_PRAAT_FORMANT = ("Praat manual, Sound: To Formant (burg) and FAQ: Formant analysis (5000 Hz for male, 5500 Hz for "
                  "female voices); F0 split at 160 Hz, between the typical adult speaking F0 of men (85-155 Hz) and "
                  "women (165-255 Hz), Baken & Orlikoff (2000)")
_NO_NORM = ("No reference norm is given: the thresholds often quoted (MDVP's 1.04% local jitter and 3.81% local "
            "shimmer, cited in the Praat manual) were set on sustained vowels and do not apply to connected "
            "speech, which measures higher; compare recordings of the same task, microphone and sample rate.")
#: Mains hum at or above this level (dB re the speech) is noted and notched out.
HUM_REMOVE_DB = -30.0
#: From this hum level (dB re the speech) on, hum is "strong" (left in, it moves the F0 median of the
#: LibriVox clips by up to 12% at -15 dB and to the mains frequency at -10 dB) and the pitch floor
#: stays above 1.1 x the mains frequency.
HUM_STRONG_DB = -15.0
#: Reported hum levels are clipped to this range (dB); the floor also means "no hum line found".
HUM_RANGE_DB = (-60.0, 40.0)
#: A frame-to-frame F0 change of at least this many octaves (9 semitones in 10 ms) is an octave jump.
OCTAVE_JUMP_OCTAVES = 0.75
#: f0_octave_jump_rate above which a note is added.
OCTAVE_JUMP_NOTE_RATE = 0.01
#: Median F0 (Hz) below which the formant ceiling is 5000 Hz (else 5500 Hz).
FORMANT_F0_SPLIT_HZ = 160.0
FORMANT_CEILINGS_HZ = (5000.0, 5500.0)
#: MFCCs are computed on a copy of the audio at this rate (Hz).
MFCC_SR = 16000
#: Time step of the CPP frames that are averaged into one value (s).
_QUALITY_STEP_S = 0.02
#: Time step of the formant tracks (s); the time series takes the nearest formant frame.
_FORMANT_STEP_S = 0.02
#: From this duration on (s), the first pitch pass (which only estimates the voice's range) steps 60 ms, not
#: 30 ms: over a minute it has 1000 frames or more, and its floor and ceiling move by under 1% (measured on
#: 3- to 5-minute recordings) for half its cost.
LONG_RECORDING_S = 60.0
#: Largest difference (relative, absolute) between a blockwise (``block_s``) and a whole-file analysis,
#: per summary measure (regular expressions over the names), documented in docs/speech.md: bounds that
#: hold with a wide margin. Measured on real read speech at 8 to 96 kHz, mono and stereo, with and
#: without hum, in blocks of 10 to 60 s, the measures are identical to about 1e-6 (only the hum notch's
#: filtering leaves float noise), as Praat analyses no window whose samples it finds by rounding a tie
#: (:func:`bitbox.processors.speech_blocks.tie_free_extra`).
BLOCK_TOLERANCES: dict[str, tuple[float, float]] = {
    r"duration_s|speaking_time_s|phonation_time_s|pause_.+|hum_db|hum_mains_hz|clipped_fraction": (1e-9, 0.0),
    r"formant_ceiling_hz|egemaps_.+": (1e-9, 0.0),
    r"syllable_count|speech_rate_syll_per_s|articulation_rate_syll_per_s": (0.01, 0.0),
    r"voiced_fraction": (0.015, 0.0),
    r"f0_(mean|median|p5|p95|floor|ceiling)_hz": (0.005, 0.0),
    r"f0_(sd|range)_semitones": (0.01, 0.0),
    r"f0_octave_jump_rate": (0.0, 0.002),
    r"intensity_mean_db": (0.001, 0.0),
    r"intensity_sd_db": (0.002, 0.0),
    r"jitter_.+": (0.02, 0.0),
    r"shimmer_.+": (0.01, 0.0),
    r"hnr_db": (0.01, 0.0),
    r"cpp_db|f[123]_mean_hz": (0.005, 0.0),
    r"mfcc_\d+_mean": (0.01, 0.2),
    r"mfcc_\d+_sd": (0.002, 0.0),
}
#: Intensity floor (dB): Praat gives about -300 dB for digital silence.
_INTENSITY_FLOOR_DB = 0.0
_INTENSITY_NOTE = "Praat convention: samples taken as pascals, dB re 20 uPa; relative, not calibrated SPL"

_MEASURES = [
    Measure("speech_active", "1", "1 when the frame is inside a speech segment (Silero VAD, edges refined on the "
            "energy), else 0.", "timeseries", (0, 1), "int", reference=_SILERO,
            evidence="espeak-ng sentences separated by silences of 0.4, 0.8 and 1.5 s: every pause found, "
                     "its duration within 50 ms (tested)."),
    Measure("vad_probability", "1", "Silero VAD speech probability of the 32-ms window holding the frame.",
            "timeseries", (0, 1), reference=_SILERO),
    Measure("voiced", "1", "1 when Praat's pitch tracker found the frame voiced (F0 measured), else 0.",
            "timeseries", (0, 1), "int", reference=_PRAAT),
    Measure("f0_hz", "Hz", "Fundamental frequency. Measured in voiced frames; inside speech segments the "
            "unvoiced frames are linearly interpolated between neighbouring voiced frames (voiced = 0 marks "
            "them); NaN outside speech.", "timeseries", (20, 2000), reference=_PRAAT,
            evidence="espeak-ng at pitch settings 30-90: mean F0 strictly increasing (tested)."),
    Measure("intensity_db", "dB", f"Intensity ({_INTENSITY_NOTE}), floored at 0 dB (digital silence).",
            "timeseries", (0, 200),
            reference=_PRAAT),
    *[Measure(f"f{k}_hz", "Hz", f"Formant F{k} (Burg, 5 formants below the formant ceiling formant_ceiling_hz, "
              f"20-ms steps, the nearest one per frame), measured in voiced frames (voiced = 1); inside speech, "
              f"unvoiced frames and frames without F{k} are interpolated; NaN outside speech.", "timeseries",
              (0, 10000), reference=_PRAAT_FORMANT) for k in (1, 2, 3)],
    Measure("duration_s", "s", "Duration of the audio.", "summary", (0, math.inf)),
    Measure("speaking_time_s", "s", "From the first speech onset to the last speech offset (pauses included).",
            "summary", (0, math.inf)),
    Measure("phonation_time_s", "s", "Total duration of the speech segments (pauses excluded).", "summary",
            (0, math.inf)),
    Measure("syllable_count", "1", "Syllable nuclei found (intensity peaks in voiced speech).", "summary",
            (0, math.inf), reference=_DE_JONG),
    Measure("speech_rate_syll_per_s", "1/s", "Syllable nuclei per second of speaking time (first onset to last "
            "offset). de Jong & Wempe divide by the whole file's duration; leaving out leading and trailing "
            "silence makes the rate independent of when the recording was started and stopped. NaN, with a note, above "
            "30/s (no speech is that fast: the intensity contour is too irregular).", "summary",
            (0, 30), reference=_DE_JONG,
            evidence="espeak-ng at 120, 160, 200, 240 words/min (31 syllables): strictly increasing and within "
                     "15% of the true syllable rate (tested)."),
    Measure("articulation_rate_syll_per_s", "1/s", "Syllable nuclei per second of phonation time (pauses "
            "excluded); NaN, with a note, above 30/s.", "summary", (0, 30), reference=_DE_JONG),
    Measure("pause_count", "1", "Pauses: silent gaps between speech segments of at least min_pause_s.",
            "summary", (0, math.inf), reference=_GOLDMAN),
    Measure("pause_rate_per_min", "1/min", "Pauses per minute of speaking time.", "summary", (0, math.inf),
            reference=_GOLDMAN),
    Measure("pause_mean_s", "s", "Mean pause duration (0 without pauses).", "summary", (0, math.inf),
            reference=_GOLDMAN),
    Measure("pause_median_s", "s", "Median pause duration (0 without pauses).", "summary", (0, math.inf),
            reference=_GOLDMAN),
    Measure("pause_fraction", "1", "Total pause time / speaking time.", "summary", (0, 1), reference=_GOLDMAN),
    Measure("voiced_fraction", "1", "Voiced frames / frames inside speech.", "summary", (0, 1)),
    Measure("f0_mean_hz", "Hz", "Mean F0 over voiced frames.", "summary", (20, 2000), reference=_PRAAT),
    Measure("f0_median_hz", "Hz", "Median F0 over voiced frames.", "summary", (20, 2000), reference=_PRAAT,
            evidence="Five LibriVox clips with 50 or 60 Hz hum at -10 or -20 dB re the speech: within 1.7% of "
                     "the clean clip's (51.8 instead of 91.2 Hz with -10 dB of 50-Hz hum before the hum was "
                     "notched out; tested within 10%)."),
    Measure("f0_sd_semitones", "st", "Standard deviation of F0 in semitones (12 log2 of F0 over its median): "
            "pitch variability independent of the voice's register.", "summary", (0, 48), reference=_PRAAT),
    Measure("f0_p5_hz", "Hz", "5th percentile of F0 (a robust minimum).", "summary", (20, 2000)),
    Measure("f0_p95_hz", "Hz", "95th percentile of F0 (a robust maximum).", "summary", (20, 2000)),
    Measure("f0_range_semitones", "st", "F0 range from the 5th to the 95th percentile, in semitones.",
            "summary", (0, 96)),
    Measure("f0_floor_hz", "Hz", "Pitch floor used (second pass, or the f0_min parameter).", "summary",
            (20, 2000), reference=_HIRST),
    Measure("f0_ceiling_hz", "Hz", "Pitch ceiling used (second pass, or the f0_max parameter).", "summary",
            (20, 2000), reference=_HIRST),
    Measure("f0_octave_jump_rate", "1", "Octave jumps per pair of consecutive voiced frames (hop_s apart, both "
            "inside speech): pairs whose F0 ratio is at least 2^0.75 (9 semitones) up or down, i.e. near or "
            "beyond a doubling or halving. Real voices do not change that fast; jumps are pitch-tracking errors "
            "(halving or doubling), creak or hum. 0 when there are no such pairs.", "summary", (0, 1),
            reference=_PRAAT,
            evidence="The five LibriVox clips: 0 to 0.005; one of them with 60-Hz hum at -10 dB left in "
                     "(notch_hum=False): 0.017, and 0 with the hum notched out (tested: below/above 0.01)."),
    Measure("hum_db", "dB", "Mains hum: power of the 50 or 60 Hz line and its harmonics (up to the 20th) that "
            "stand 10 dB above the spectrum around them (Welch, 2-s Hann windows; each line's power within "
            "1.5 Hz above the median spectrum 4-12 Hz away), relative to the speech: 10 log10(hum power / (mean "
            "power inside the speech segments - hum power)). -60 when no mains line stands out (clipped to "
            "-60..40). Measured before the hum is notched out.", "summary", HUM_RANGE_DB,
            evidence="LibriVox clips with 50-Hz hum (fundamental + 5 harmonics, 1/k amplitudes) injected at -10 "
                     "and -20 dB re the speech's RMS: -9.9 to -12.1 and -20.9 to -22.1 dB (harmonics buried under "
                     "the voice are not counted); the real 60-Hz hum of four of the clips: within 1.1 dB of a "
                     "lock-in fit (-23.6 to -27.0 dB); the fifth clip's (-25.8 dB by lock-in) is not resolved "
                     "under its voice and reads -60 (tested)."),
    Measure("hum_mains_hz", "Hz", "Mains frequency of the hum measured in hum_db (50 or 60); 0 when no mains "
            "line stands out.", "summary", (0, 60)),
    Measure("formant_ceiling_hz", "Hz", "Formant ceiling used (the formant_max_hz parameter, or chosen from the "
            "voice: 5000 Hz when the median F0 is below 160 Hz, else 5500 Hz; at most the Nyquist frequency "
            "- 50 Hz, with the number of formants scaled down to match).", "summary", (0, 10000),
            reference=_PRAAT_FORMANT,
            evidence="LibriVox reader (median F0 about 91 Hz): 5000 Hz; espeak-ng en-us at pitch 10 (F0 70 Hz) "
                     "and en-us+f3 at pitch 80 (F0 272 Hz): 5000 and 5500 Hz (tested)."),
    Measure("notes", "", "Warnings that did not stop the processor, ' | '-joined, each saying what was found "
            "and what to do: mains hum, octave jumps, a sample rate below 16 kHz. Empty when there are none.",
            "summary", None, "str"),
    Measure("intensity_mean_db", "dB", f"Mean intensity over speech frames ({_INTENSITY_NOTE}).", "summary",
            (-400, 200), reference=_PRAAT),
    Measure("intensity_sd_db", "dB", "Standard deviation of intensity over speech frames (loudness "
            "variability).", "summary", (0, 200), reference=_PRAAT),
    Measure("jitter_local", "1", "Mean absolute difference of consecutive periods / mean period (fraction; "
            f"x100 for %), over all voiced speech. {_NO_NORM}", "summary", (0, 1), reference=_PRAAT,
            evidence="Five LibriVox clips of one reader (connected read speech): 0.024-0.031."),
    Measure("jitter_rap", "1", "Relative average perturbation (3-period).", "summary", (0, 1), reference=_PRAAT),
    Measure("jitter_ppq5", "1", "Five-point period perturbation quotient.", "summary", (0, 1), reference=_PRAAT),
    Measure("shimmer_local", "1", "Mean absolute difference of consecutive peak amplitudes / mean amplitude "
            f"(fraction), over all voiced speech. {_NO_NORM}", "summary", (0, 2), reference=_PRAAT,
            evidence="Five LibriVox clips of one reader (connected read speech): 0.094-0.121."),
    Measure("shimmer_apq3", "1", "Three-point amplitude perturbation quotient.", "summary", (0, 2),
            reference=_PRAAT),
    Measure("shimmer_apq5", "1", "Five-point amplitude perturbation quotient.", "summary", (0, 2),
            reference=_PRAAT),
    Measure("hnr_db", "dB", "Harmonics-to-noise ratio: 10 log10(r / (1 - r)) of the periodicity strength r of "
            "the F0 analysis' chosen candidate (Boersma 1993; Praat's autocorrelation, 3 periods per Hanning window, "
            "hop_s steps), mean over the voiced frames inside speech. The same analysis gives F0, the pulses of "
            "jitter and shimmer, and the voicing of the syllable nuclei; versions before 1.2.0 ran a separate "
            "Praat cross-correlation harmonicity (1 period per window, 40-ms steps), 8-15 dB on the LibriVox "
            "clips where this gives 9-12 dB.",
            "summary", (-50, 100), reference=_PRAAT + "; Boersma (1993), Proc. Inst. Phonetic Sciences 17:97",
            evidence="espeak-ng speech with white noise added at decreasing SNR: HNR strictly decreasing "
                     "(tested)."),
    Measure("cpp_db", "dB", "Cepstral peak prominence: height of the cepstral peak (searched between the "
            "quefrencies of the pitch ceiling and floor) above the regression line of the cepstrum (1-50 ms), "
            "mean over voiced speech frames "
            "(40-ms Hann windows every 20 ms).", "summary", (-50, 100), reference=_HILLENBRAND,
            evidence="espeak-ng speech with white noise added at decreasing SNR: CPP strictly decreasing "
                     "(tested)."),
    *[Measure(f"f{k}_mean_hz", "Hz", f"Mean formant F{k} over voiced frames.", "summary", (0, 10000),
              reference=_PRAAT_FORMANT) for k in (1, 2, 3)],
    Measure(r"mfcc_\d+_mean", "1", "Mean of a mel-frequency cepstral coefficient (Praat, 15-ms windows, on a "
            "16 kHz copy of the audio so that any sample rate gives comparable values) over speech frames "
            "(mfcc_<k>_mean, k = 1..n_mfcc). Audio recorded below 16 kHz lacks the bands above its Nyquist "
            "frequency (see notes).", "summary", None, pattern=True, reference=_PRAAT,
            evidence="A LibriVox clip resampled to 44.1 and 192 kHz: means within 0.001 of each other and "
                     "within 0.35 of the 16-kHz original's (they differed by up to about 1200 when computed at the "
                     "native rate); tested."),
    Measure(r"mfcc_\d+_sd", "1", "Standard deviation of a mel-frequency cepstral coefficient over speech "
            "frames.", "summary", (0, math.inf), pattern=True, reference=_PRAAT),
    Measure("clipped_fraction", "1", "Fraction of samples at full scale (a recording quality check).",
            "summary", (0, 1)),
    Measure(r"egemaps_.+", "", "One of the 88 eGeMAPSv02 functionals of openSMILE over the whole recording "
            "(egemaps_<openSMILE name>; units as in Eyben et al. 2016); only with egemaps=True.", "summary",
            None, pattern=True, reference=_EYBEN),
]


def _interpolate_inside(values: np.ndarray, known: np.ndarray, inside: np.ndarray,
                        frames: slice | None = None) -> np.ndarray:
    """Values where ``known``; linear interpolation (flat at the ends) elsewhere inside; NaN outside.

    With ``frames``, only those frames are returned (the same values as the whole call's there).
    """
    frames = frames if frames is not None else slice(0, len(values))
    first, last = frames.indices(len(values))[:2]
    out = np.full(last - first, np.nan)
    idx = np.flatnonzero(known)
    if len(idx):
        lo = max(int(np.searchsorted(idx, first)) - 1, 0)
        hi = int(np.searchsorted(idx, last)) + 1
        near = idx[lo:hi]
        wanted = np.flatnonzero(inside[first:last])
        out[wanted] = np.interp(wanted + first, near, np.asarray(values[near], dtype=np.float64))
    return out


# ---------------------------------------------------------------------------- the summary
#: Keys of :func:`speech_summary`, in the order of the processor's summary.
SPEECH_SUMMARY_KEYS = ("duration_s", "speaking_time_s", "phonation_time_s", "syllable_count",
                       "speech_rate_syll_per_s", "articulation_rate_syll_per_s", "pause_count", "pause_rate_per_min",
                       "pause_mean_s", "pause_median_s", "pause_fraction", "voiced_fraction", "f0_mean_hz",
                       "f0_median_hz", "f0_sd_semitones", "f0_p5_hz", "f0_p95_hz", "f0_range_semitones",
                       "f0_octave_jump_rate", "intensity_mean_db", "intensity_sd_db", "notes")
#: Syllable rates above this (1/s) are not speech: the rate is NaN, with a note.
MAX_SYLLABLE_RATE = 30.0
_F0_KEYS = ("f0_mean_hz", "f0_median_hz", "f0_sd_semitones", "f0_p5_hz", "f0_p95_hz", "f0_range_semitones")


def _nan_note(names: Sequence[str], reason: str, advice: str) -> str:
    """A note on NaN measures: ``"<names> is/are NaN: <reason> - <advice>"``."""
    return f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} NaN: {reason} - {advice}"


def _checked_contour(values: ArrayLike, name: str, low: float, high: float, zero_ok: bool = False) -> np.ndarray:
    """A 1-D float contour whose finite values are within [low, high] (0 too when ``zero_ok``)."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ParameterError(f"The {name!r} argument of speech_summary must be 1-D. Got shape {x.shape} instead.")
    finite = x[np.isfinite(x)]
    outside = ((finite < low) | (finite > high)) & ~((finite == 0) & zero_ok)
    if np.isinf(x).any() or outside.any():
        raise ParameterError(f"The {name!r} argument of speech_summary must hold values from {low:g} to {high:g}"
                             f"{' (or 0)' if zero_ok else ''} or NaN. Got values from {np.nanmin(x):g} to "
                             f"{np.nanmax(x):g} instead.")
    return x


def _checked_segments(segments: Sequence[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of sorted, non-overlapping segments with 0 <= start < end (finite)."""
    pairs = np.asarray(list(segments), dtype=np.float64).reshape(-1, 2)
    starts, ends = pairs[:, 0], pairs[:, 1]
    if not (np.isfinite(pairs).all() and (starts >= 0).all() and (ends > starts).all()
            and (starts[1:] >= ends[:-1]).all()):
        raise ParameterError("The 'segments' argument of speech_summary must be (start_s, end_s) pairs with "
                             "0 <= start_s < end_s, sorted and not overlapping. Got "
                             f"{[tuple(p) for p in pairs[:5].tolist()]}{' ...' if len(pairs) > 5 else ''} instead.")
    return starts, ends


def speech_summary(f0_hz: ArrayLike, intensity_db: ArrayLike, segments: Sequence[tuple[float, float]], *,
                   hop_s: float = 0.01, duration_s: float | None = None, silence_db: float = -25.0,
                   min_dip_db: float = 2.0, f0_range_hz: tuple[float, float] | None = None) -> dict[str, Any]:
    """The pause, rate, pitch and intensity summary of the speech processor, from its frame-level data.

    Parameters
    ----------
    f0_hz : array-like, shape (n_frames,)
        F0 (Hz) of the frames at ``i * hop_s``: NaN or 0 where unvoiced (Praat's pitch on the
        processor's grid, before interpolation); voiced values from 20 to 2000 Hz.
    intensity_db : array-like, shape (n_frames,)
        Intensity (dB, 0 to 200) of the same frames; NaN where unknown.
    segments : sequence of (start_s, end_s)
        The speech segments (VAD, refined, short gaps merged): sorted, not overlapping.
    hop_s : float
        Frame step (s).
    duration_s : float | None
        Duration of the audio (default: ``n_frames * hop_s``).
    silence_db, min_dip_db : float
        The syllable-nucleus thresholds (:func:`syllable_nuclei`).
    f0_range_hz : (float, float) | None
        The pitch floor and ceiling used, only quoted in the octave-jump note.

    Returns
    -------
    dict
        Exactly the keys of ``SPEECH_SUMMARY_KEYS``: finite numbers or NaN, and ``notes`` (the
        octave-jump note, and one note for every measure the data leave NaN, saying why).

    Raises
    ------
    ParameterError
        On arguments outside the ranges above (never on the data: any number of frames,
        NaN gaps, no voiced frame and no speech segment all give a summary).
    """
    if not (isinstance(hop_s, (int, float, np.integer, np.floating)) and 0 < hop_s < math.inf):
        raise ParameterError(f"The 'hop_s' argument of speech_summary must be a positive number. Got {hop_s!r} "
                             "instead.")
    f0 = _checked_contour(f0_hz, "f0_hz", 20.0, 2000.0, zero_ok=True)
    level = _checked_contour(intensity_db, "intensity_db", 0.0, 200.0)
    if len(level) != len(f0):
        raise ParameterError(f"f0_hz and intensity_db of speech_summary must have the same length. Got {len(f0)} "
                             f"and {len(level)} instead.")
    starts, ends = _checked_segments(segments)
    times = np.round(np.arange(len(f0)) * hop_s, 6)
    notes: list[str] = []
    if len(starts):
        k = np.searchsorted(starts, times, side="right") - 1
        inside = (k >= 0) & (times < ends[np.maximum(k, 0)])
    else:
        inside = np.zeros(len(f0), dtype=bool)
    voiced = np.isfinite(f0) & (f0 > 0)
    speech_voiced = voiced & inside
    pauses = starts[1:] - ends[:-1]
    speaking = float(ends[-1] - starts[0]) if len(starts) else 0.0
    phonation = float(np.sum(ends - starts))

    nuclei = syllable_nuclei(level, times, voiced, silence_db=silence_db, min_dip_db=min_dip_db)
    if len(nuclei) and len(starts):
        n_idx = np.searchsorted(starts, nuclei, side="right") - 1
        nuclei = nuclei[(n_idx >= 0) & (nuclei < ends[np.maximum(n_idx, 0)])]
    syllables = float(len(nuclei)) if len(starts) else 0.0
    summary: dict[str, Any] = {
        "duration_s": float(duration_s) if duration_s is not None else len(f0) * hop_s,
        "speaking_time_s": speaking, "phonation_time_s": phonation, "syllable_count": syllables,
        "speech_rate_syll_per_s": syllables / speaking if speaking > 0 else math.nan,
        "articulation_rate_syll_per_s": syllables / phonation if phonation > 0 else math.nan,
        "pause_count": float(len(pauses)),
        "pause_rate_per_min": 60.0 * len(pauses) / speaking if speaking > 0 else math.nan,
        "pause_mean_s": float(np.mean(pauses)) if len(pauses) else 0.0 if speaking > 0 else math.nan,
        "pause_median_s": float(np.median(pauses)) if len(pauses) else 0.0 if speaking > 0 else math.nan,
        "pause_fraction": float(np.sum(pauses)) / speaking if speaking > 0 else math.nan,
    }
    for key, time_name in (("speech_rate_syll_per_s", "speaking time"), ("articulation_rate_syll_per_s",
                                                                        "phonation time")):
        if summary[key] > MAX_SYLLABLE_RATE:
            notes.append(_nan_note([key], f"{summary[key]:.0f} syllable nuclei per second of {time_name} is faster "
                                   f"than speech (above {MAX_SYLLABLE_RATE:g}/s): the intensity contour is too "
                                   "irregular for syllable detection",
                                   "listen to the recording; raise min_dip_db if it is noisy"))
            summary[key] = math.nan
    if inside.any():
        summary["voiced_fraction"] = float(speech_voiced.sum() / inside.sum())
    else:
        summary["voiced_fraction"] = math.nan
        if len(starts):
            notes.append(_nan_note(["voiced_fraction", "intensity_mean_db", "intensity_sd_db"],
                                   f"no frame (every {hop_s:g} s) falls inside the speech segments",
                                   "use a smaller hop_s or a longer recording"))
    f0_voiced = f0[speech_voiced]
    if len(f0_voiced):
        median = np.median(f0_voiced)
        p5, p95 = np.percentile(f0_voiced, [5, 95])
        summary.update({"f0_mean_hz": float(np.mean(f0_voiced)), "f0_median_hz": float(median),
                        "f0_sd_semitones": float(np.std(12 * np.log2(f0_voiced / median))),
                        "f0_p5_hz": float(p5), "f0_p95_hz": float(p95),
                        "f0_range_semitones": float(12 * np.log2(p95 / p5))})
    else:
        summary.update(dict.fromkeys(_F0_KEYS, math.nan))
        if len(starts):
            notes.append(_nan_note(list(_F0_KEYS), "no voiced frame inside the speech segments (pitch undefined)",
                                   "whispered or very noisy speech has no pitch; check the recording"))
    jump_rate = _octave_jump_rate(f0, speech_voiced)
    summary["f0_octave_jump_rate"] = jump_rate
    if jump_rate > OCTAVE_JUMP_NOTE_RATE:
        used = (f" (the floor/ceiling used were {f0_range_hz[0]:.0f}/{f0_range_hz[1]:.0f} Hz)"
                if f0_range_hz is not None else "")
        notes.append(f"F0 jumps by an octave or more between consecutive frames in {100 * jump_rate:.1f}% of "
                     f"voiced frame pairs (pitch halving or doubling, creak, or noise): F0 statistics "
                     f"(mean, SD, range) are unreliable; listen to the recording, and if the voice's range "
                     f"is known set f0_min and f0_max around it{used}")
    loud = level[inside & np.isfinite(level)]
    summary["intensity_mean_db"] = float(np.mean(loud)) if len(loud) else math.nan
    summary["intensity_sd_db"] = float(np.std(loud)) if len(loud) else math.nan
    if inside.any() and not len(loud):
        notes.append(_nan_note(["intensity_mean_db", "intensity_sd_db"], "the intensity is NaN in every frame "
                               "inside the speech segments", "check the intensity contour"))
    if not len(starts):
        notes.insert(0, _nan_note([k for k, v in summary.items() if isinstance(v, float) and math.isnan(v)],
                                  "no speech segment", "check that the recording holds speech"))
    summary["notes"] = join_notes(notes)
    return summary


def _octave_jump_rate(f0: np.ndarray, voiced: np.ndarray) -> float:
    """Fraction of consecutive voiced-frame pairs whose F0 ratio is at least 2^0.75 either way."""
    pairs = voiced[:-1] & voiced[1:]
    if not pairs.any():
        return 0.0
    change = np.abs(np.log2(f0[1:][pairs] / f0[:-1][pairs]))
    return float(np.mean(change >= OCTAVE_JUMP_OCTAVES))


# ---------------------------------------------------------------------------- the processor
class SpeechProcessor(Processor):
    """Speech and voice measures from an audio file or a video's audio track (CPU, offline).

    Parameters
    ----------
    hop_s : float
        Time step of the time series (s).
    vad_threshold : float
        Silero speech probability that starts a speech segment.
    min_speech_s : float
        Shorter speech segments are dropped (s).
    min_pause_s : float
        Shortest silent gap counted as a pause (s); shorter gaps are part of speech.
    silence_db : float
        Intensity relative to the 99th percentile below which no syllable nucleus is
        counted (dB, negative; de Jong & Wempe's -25).
    edge_db : float
        Level relative to the 99th percentile that marks a speech segment's edge (dB,
        negative; never closer than 6 dB to the noise floor).
    min_dip_db : float
        Dip in intensity needed between two syllable nuclei (dB).
    f0_min, f0_max : float | None
        Pitch floor and ceiling (Hz); ``None`` estimates them from the voice (two passes).
    formant_max_hz : float | None
        Ceiling of the formant search (Hz). ``None`` chooses it from the voice as the Praat
        manual advises: 5000 Hz when the median F0 is below 160 Hz (male range), else 5500 Hz
        (female range). Give a number to fix it (e.g. up to 8000 Hz for young children).
    notch_hum : bool
        Notch out mains hum of at least -30 dB re the speech before the voice measures
        (``hum_db`` is measured either way).
    n_mfcc : int
        Number of MFCCs summarised (c1..c_n).
    egemaps : bool
        Add the 88 eGeMAPSv02 functionals of openSMILE to the summary.
    max_clipped_fraction : float
        Refuse recordings with more clipped samples than this fraction.
    block_s : float | None
        The recording is decoded and analysed in blocks of this length (s), each with context on
        both sides, so memory stays flat with its length; the results are those of a whole-file
        analysis within the tolerances of ``docs/speech.md`` (most measures identical). ``None``
        analyses the whole recording at once (memory grows with its length).
    """

    name = "speech"
    version = "1.2.0"
    input_kinds = ("audio", "video")
    default_for = ("audio",)
    qc = QualityColumns(measures=("clipped_fraction", "hum_db", "f0_octave_jump_rate"))
    dependencies = ("praat-parselmouth", "silero-vad", "onnxruntime", "soundfile", "av", "opensmile")
    measures = tuple(_MEASURES)
    plot_measures = ("speech_active", "f0_hz", "intensity_db")
    _parameter_constraints = {
        "hop_s": [Interval(float, 0.001, 0.1)],
        "vad_threshold": [Interval(float, 0.16, 0.99)],
        "min_speech_s": [Interval(float, 0, None)],
        "min_pause_s": [Interval(float, 0.05, None)],
        "silence_db": [Interval(float, None, 0, closed="neither")],
        "edge_db": [Interval(float, None, 0, closed="neither")],
        "min_dip_db": [Interval(float, 0, None)],
        "f0_min": [Interval(float, 20, 1000), NoneOk()],
        "f0_max": [Interval(float, 40, 2000), NoneOk()],
        "formant_max_hz": [Interval(float, 1000, 10000), NoneOk()],
        "notch_hum": [Bool()],
        "n_mfcc": [Interval(int, 1, 24)],
        "egemaps": [Bool()],
        "max_clipped_fraction": [Interval(float, 0, 1)],
        "block_s": [Interval(float, 10, None), NoneOk()],
    }

    def __init__(self, *, hop_s: float = 0.01, vad_threshold: float = 0.5, min_speech_s: float = 0.25,
                 min_pause_s: float = 0.25, silence_db: float = -25.0, edge_db: float = -40.0,
                 min_dip_db: float = 2.0,
                 f0_min: float | None = None, f0_max: float | None = None, formant_max_hz: float | None = None,
                 notch_hum: bool = True, n_mfcc: int = 12, egemaps: bool = False,
                 max_clipped_fraction: float = 0.01, block_s: float | None = 60.0) -> None:
        self.hop_s = hop_s
        self.vad_threshold = vad_threshold
        self.min_speech_s = min_speech_s
        self.min_pause_s = min_pause_s
        self.silence_db = silence_db
        self.edge_db = edge_db
        self.min_dip_db = min_dip_db
        self.f0_min = f0_min
        self.f0_max = f0_max
        self.formant_max_hz = formant_max_hz
        self.notch_hum = notch_hum
        self.n_mfcc = n_mfcc
        self.egemaps = egemaps
        self.max_clipped_fraction = max_clipped_fraction
        self.block_s = block_s

    @classmethod
    def report_events(cls, result) -> pd.DataFrame:
        """The pauses: the runs of frames outside speech (``speech_active`` 0) between the first and the last
        speech frame (label ``"pause"``, text its duration), as ``pause_count`` counts them; to one frame step.

        Parameters
        ----------
        result : ProcessorResult
            A speech result (read back from disk or not).

        Returns
        -------
        pandas.DataFrame
            The events (see :meth:`bitbox.Processor.report_events`).
        """
        frame = result.timeseries
        if frame is None or "speech_active" not in frame.columns or frame.empty:
            return events_frame()
        active = frame["speech_active"].to_numpy(dtype=float, na_value=0.0) == 1
        inside = np.flatnonzero(active)
        if len(inside) < 2:
            return events_frame()
        first, last = inside[0], inside[-1]
        times = frame["time_s"].to_numpy(dtype=float)
        pauses = events_from_mask(times[first:last + 1], ~active[first:last + 1], "pause")
        pauses["text"] = [f"pause of {d:.2f} s" for d in pauses["duration_s"]]
        return pauses

    def validate_params(self) -> None:
        super().validate_params()
        if self.f0_min is not None and self.f0_max is not None and self.f0_max <= self.f0_min:
            raise ParameterError(f"f0_max ({self.f0_max}) must be above f0_min ({self.f0_min}) in SpeechProcessor.")

    def skip_reason(self, recording: Recording) -> str | None:
        """A video without an audio track has no speech to measure."""
        return no_audio_reason(recording)

    # ------------------------------------------------------------------ steps
    def _formant_ceiling(self, f0_median: float, sr: int) -> tuple[float, float]:
        """Formant ceiling (Hz) and number of formants: the parameter, or chosen from the median F0;
        kept below the Nyquist frequency, with the number of formants scaled down to match."""
        if self.formant_max_hz is not None:
            ceiling = float(self.formant_max_hz)
        else:
            ceiling = FORMANT_CEILINGS_HZ[0] if f0_median < FORMANT_F0_SPLIT_HZ else FORMANT_CEILINGS_HZ[1]
        limit = sr / 2.0 - 50.0
        if ceiling > limit:
            return limit, 5.0 * limit / ceiling
        return ceiling, 5.0

    def _egemaps(self, samples: np.ndarray, sr: int) -> dict[str, float]:
        try:
            import opensmile
        except ImportError:
            raise ImportError("egemaps=True needs openSMILE: pip install opensmile==2.6.0") from None
        smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                feature_level=opensmile.FeatureLevel.Functionals)
        table = smile.process_signal(samples, sr)
        return {f"egemaps_{name}": float(value) for name, value in table.iloc[0].items()}

    # ------------------------------------------------------------------ quality checks
    @staticmethod
    def _hum_level(found, segments: list[tuple[float, float]]) -> tuple[MainsHum | None, float]:
        """Mains hum and its level (dB) re the speech: the power inside the VAD segments minus the
        hum's own power. ``(None, -60)`` when no mains line stands out."""
        hum = found.hum
        if hum is None or hum.power <= 0:
            return None, HUM_RANGE_DB[0]
        total = found.speech_power(segments)
        clean = max(total - hum.power, total * 10 ** (-HUM_RANGE_DB[1] / 10))
        return hum, float(np.clip(10 * math.log10(hum.power / clean), *HUM_RANGE_DB))

    @staticmethod
    def _hum_note(hum: MainsHum, hum_db: float, removed: bool, floor: float) -> str:
        """The note on mains hum of at least HUM_REMOVE_DB: what was found, what was done, what to do."""
        freq = f"{hum.mains_hz:.0f} Hz"
        top = hum.harmonics[-1] * hum.mains_hz
        found = f"mains hum at {freq} and harmonics, {hum_db:.1f} dB re the speech"
        if not removed:
            return (f"{found}, was left in (notch_hum=False): hum above about -20 dB pulls F0 towards {freq} and "
                    "lowers HNR and CPP; run with notch_hum=True, or fix the recording chain (grounding, cables)")
        if hum_db >= HUM_STRONG_DB:
            return (f"strong {found}: notched out (fundamental and harmonics up to {top:.0f} Hz) before the voice "
                    f"measures, and the pitch floor kept at {floor:.0f} Hz or above; left in, hum this strong "
                    f"pulls F0 towards {freq} and lowers HNR and CPP, and the notches also take out some of the "
                    f"voice at those frequencies: compare F0 near or below {floor:.0f} Hz, HNR and CPP with other "
                    "recordings with caution, and fix the recording chain (ground loop, unbalanced or unscreened "
                    "microphone cable, mains-powered recorder)")
        return (f"weak {found}: notched out (fundamental and harmonics up to {top:.0f} Hz) before the voice "
                "measures; nothing to do for these measures, but check the recording chain (grounding, cables) "
                "before further recordings: hum above about -20 dB pulls F0 towards the mains frequency")

    _octave_jump_rate = staticmethod(_octave_jump_rate)

    # ------------------------------------------------------------------ processing
    def _blocks(self, recording: Recording, align: int, margin_s: float = 1.0) -> Iterator[AudioBlock]:
        """The recording's blocks of ``block_s`` (lengths and margins multiples of ``align`` samples), each with
        ``margin_s`` of context."""
        block_s = None if self.block_s is None else float(self.block_s)
        return recording.audio_blocks(block_s=block_s, margin_s=margin_s, align=align)

    def compute(self, recording: Recording, sink, progress: ProgressCallback | None = None) -> dict[str, Any]:
        sr, declared = audio_rate(recording.path)
        whole = self.block_s is None
        hop = float(self.hop_s)
        # Block lengths that keep resampling (VAD, MFCC, formants) in phase from block to block.
        formant_rates = (10000, 11000, sr - 100) if self.formant_max_hz is None else \
            (int(round(2 * float(self.formant_max_hz))), sr - 100)
        align = align_for(sr, (VAD_SR, MFCC_SR, *[r for r in formant_rates if 0 < r < sr]))
        if align > sr // 10:
            align = align_for(sr, (VAD_SR, MFCC_SR))
        n_est = 1 if whole else max(1, math.ceil((declared or float(self.block_s)) / float(self.block_s)))
        done = [0]

        def tick(_block: AudioBlock | None = None) -> None:
            done[0] += 1
            if progress is not None:
                progress(min(done[0], 3 * n_est - 1), 3 * n_est)

        # Pass 1: checks, voice activity, mains hum.
        found = scan(self._blocks(recording, align), progress=tick)
        found.stats.check(recording.path, max_clipped_fraction=float(self.max_clipped_fraction))
        n_samples = found.n_samples
        duration = n_samples / sr
        times = np.round(np.arange(int(duration / hop)) * hop, 6)
        n_est = max(n_est, done[0])
        probs = found.probs
        raw_segments = speech_segments(probs, threshold=float(self.vad_threshold),
                                       min_speech_s=float(self.min_speech_s))
        hum, hum_db = self._hum_level(found, raw_segments)
        hum_found = hum is not None and hum_db >= HUM_REMOVE_DB
        removed = hum_found and bool(self.notch_hum)
        notch = hum.frequency_hz if removed else None
        min_floor = 1.1 * hum.mains_hz if removed and hum_db >= HUM_STRONG_DB else 0.0
        notes: list[str] = []

        # Pass 2: levels (segment edges) and the first pitch pass (the voice's range). Praat's pitch needs the
        # recording's peak: of the raw audio from pass 1, or of the notched audio from an extra pass.
        hop_n, win = max(1, int(round(hop * sr))), max(2, int(round(0.025 * sr)))
        levels = np.empty(n_samples // hop_n + 1)
        first_t, first_f0 = [], []
        margin = CONTEXT_S + (NOTCH_MARGIN_S if notch is not None else 0.0)
        # The Praat analyses' context, a whole number of `align` samples (the resamplers' phase).
        context = -(-int(round(CONTEXT_S * sr)) // align) * align
        peak = found.stats.extremes
        # The first pass only estimates the voice's range: on long recordings every 60 ms is as good as every 30.
        first_step = FIRST_PASS[0] if duration < LONG_RECORDING_S else 2 * FIRST_PASS[0]
        first_extra = tie_free_extra(n_samples, sr, window_s=3.0 / max(FIRST_PASS[1], min_floor), step_s=first_step,
                                     kind="pitch")
        if notch is not None:
            notched_stats = AudioStats(sr)
            for block in self._blocks(recording, align, margin):
                block = notched(block, notch, whole)
                notched_stats.update(block.core)
                frames, values = block_levels(block, hop_n, win, len(levels))
                levels[frames] = values
            peak = notched_stats.extremes
        for block in self._blocks(recording, align, margin):
            block = notched(block, notch, whole)
            if notch is None:
                frames, values = block_levels(block, hop_n, win, len(levels))
                levels[frames] = values
            part = block.context(context)
            sound = aligned_sound(part.samples, sr, part.offset, n_samples, first_step,
                                  **block_peak(part, n_samples, peak), extra=first_extra)
            first = first_pass_pitch(sound, min_floor=min_floor, time_step=first_step)
            t, f = first.xs(), first.selected_array["frequency"]
            own = owned(t, block)
            first_t.append(t[own])
            first_f0.append(f[own])
            tick()
        first_t, first_f0 = np.concatenate(first_t), np.concatenate(first_f0)
        if self.f0_min is not None and self.f0_max is not None:
            floor, ceiling = float(self.f0_min), float(self.f0_max)
        else:
            floor, ceiling = pitch_range(first_f0, f0_min=self.f0_min, f0_max=self.f0_max, min_floor=min_floor)
        segments = merge_short_gaps(refine_segments(raw_segments, levels, hop, edge_db=float(self.edge_db)),
                                     float(self.min_pause_s))
        del levels
        if not segments:
            raise MeasurementError(recording.path, "no speech was detected (the voice activity detector found "
                                   "no speech segment)", "Check that the recording holds speech and is not "
                                   "only noise or music")
        starts = np.array([s for s, _ in segments])
        ends = np.array([e for _, e in segments])
        in_speech = inside_segments(first_t, starts, ends) & (first_f0 > 0)
        voiced_first = first_f0[in_speech] if in_speech.any() else first_f0[first_f0 > 0]
        formant_ceiling, n_formants = self._formant_ceiling(float(np.median(voiced_first)) if len(voiced_first)
                                                            else FORMANT_F0_SPLIT_HZ, sr)

        # Pass 3: the voice measures, block by block.
        analysis = FrameAnalysis(times=times, n_samples=n_samples, sr=sr, hop_s=hop, floor=floor, ceiling=ceiling,
                                 formant_rate=int(round(2 * formant_ceiling)), n_formants=n_formants,
                                 segments=(starts, ends), n_mfcc=int(self.n_mfcc), cpp_step_s=_QUALITY_STEP_S,
                                 formant_step_s=max(hop, _FORMANT_STEP_S), mfcc_sr=MFCC_SR,
                                 peak=peak)
        for block in self._blocks(recording, align, margin):
            analysis.add(notched(block, notch, whole).context(context))
            tick()
        formant_ceiling = min(analysis.formant_rate, sr) / 2.0
        inside = analysis.inside
        f0 = analysis.f0
        voiced = np.isfinite(f0)
        speech_voiced = voiced & inside
        if speech_voiced.sum() < 2:
            raise MeasurementError(recording.path, "no voiced speech was found (pitch undefined everywhere)",
                                   "Whispered or very noisy speech has no pitch; check the recording")
        level = np.maximum(pd.Series(analysis.level).interpolate(limit_direction="both").to_numpy(),
                           _INTENSITY_FLOOR_DB)
        formants = analysis.formants

        # Summary.
        prosody = speech_summary(f0, level, segments, hop_s=hop, duration_s=duration, silence_db=float(self.silence_db),
                                 min_dip_db=float(self.min_dip_db), f0_range_hz=(floor, ceiling))
        summary: dict[str, Any] = {key: prosody[key] for key in SPEECH_SUMMARY_KEYS[:SPEECH_SUMMARY_KEYS.index(
            "f0_octave_jump_rate")]}
        summary.update({
            "f0_floor_hz": floor, "f0_ceiling_hz": ceiling, "f0_octave_jump_rate": prosody["f0_octave_jump_rate"],
            "hum_db": hum_db, "hum_mains_hz": float(hum.mains_hz) if hum is not None else 0.0,
            "formant_ceiling_hz": formant_ceiling,
            "intensity_mean_db": prosody["intensity_mean_db"], "intensity_sd_db": prosody["intensity_sd_db"],
            "cpp_db": analysis.cpp_db, "clipped_fraction": found.stats.clipped_fraction,
            **analysis.voice_quality(),
        })
        for n in (1, 2, 3):
            values = formants[n][speech_voiced]
            values = values[np.isfinite(values)]
            summary[f"f{n}_mean_hz"] = float(np.mean(values, dtype=np.float64)) if len(values) else math.nan
        summary.update(analysis.mfcc_summary())

        # Time series, a block's worth of frames at a time (columns made per chunk: flat memory).
        rows = len(times) if whole else max(1, int(round(float(self.block_s) / hop)))
        known = {n: np.isfinite(formants[n]) & inside for n in (1, 2, 3)}
        for first in range(0, max(len(times), 1), rows):
            part = slice(first, min(first + rows, len(times)))
            sink.append(pd.DataFrame({
                "time_s": times[part],
                "speech_active": inside[part].astype(np.int8),
                "vad_probability": probs[np.minimum((times[part] / VAD_HOP_S).astype(int),
                                                    len(probs) - 1)].astype(float),
                "voiced": speech_voiced[part].astype(np.int8),
                "f0_hz": _interpolate_inside(f0, speech_voiced, inside, part),
                "intensity_db": level[part],
                **{f"f{n}_hz": _interpolate_inside(formants[n], known[n], inside, part) for n in (1, 2, 3)},
            }))
        del known

        if self.egemaps:
            samples, native = recording.load_audio()
            if removed:
                samples = remove_hum(samples, native, hum.frequency_hz)
            summary.update(self._egemaps(samples, native))

        # Notes.
        if hum_found:
            notes.append(self._hum_note(hum, hum_db, removed, floor))
        if prosody["notes"]:
            notes.append(prosody["notes"])
        if sr < MFCC_SR:
            notes.append(f"the audio is sampled at {sr} Hz: nothing above {sr / 2:.0f} Hz was recorded, so the "
                         f"MFCCs (computed at {MFCC_SR} Hz after upsampling) and formants (ceiling "
                         f"{formant_ceiling:.0f} Hz) are not comparable with wide-band recordings; compare it only "
                         f"with recordings of the same sample rate, or record at 16 kHz or more")
        summary["notes"] = join_notes(notes)
        if progress is not None:
            progress(1, 1)
        logger.debug("speech: %d segments, %d pauses, %d syllable nuclei, hum %.1f dB", len(segments),
                     int(prosody["pause_count"]), int(prosody["syllable_count"]), hum_db)
        return summary
