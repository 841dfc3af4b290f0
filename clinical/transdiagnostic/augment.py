"""The audio augmentations of Hansen et al. (2023), in numpy/scipy, and augmented window features.

The original (HLasse/multidiagnosis-speech, ``configs/augmentation_config.yml``) trains the
MLP head on features of 5-s training windows passed through a torch_audiomentations
``Compose(shuffle=True, p=1)`` of four transforms, each applied with probability 0.5, with
the library's default settings:

==================  ===========================================================================
transform           what it does (defaults of torch_audiomentations)
==================  ===========================================================================
``Gain``            multiply by a gain drawn uniformly in [-18, +6] dB
``AddColoredNoise`` add noise of spectral decay ``f_decay`` ~ U[-2, 2] (1/f^f_decay, 0 = white)
                    at an SNR ~ U[3, 30] dB relative to the signal's RMS
``ApplyImpulseResponse``  convolve with a room impulse response (the original: recorded IRs from
                    a folder; here a synthetic one, exponentially decaying noise), full
                    convolution cut to the input's length (no delay compensation)
``SpliceOut``       8 times: cut a segment of U{0..399} ms (rounded up to an even sample
                    count) and cross-fade its two halves with a Hann window; the signal is
                    zero-padded at the end back to its length
==================  ===========================================================================

The original applies them to the raw audio of each training window every time the
window is loaded (a fresh draw every epoch), before the embedding (eGeMAPS, MFCC,
x-vector). Bitbox computes features once per recording, so augmentation here means
``n_copies`` extra augmented copies of every training window, their features computed with
the ``voice_windows`` processor's own functions (:func:`augmented_window_features`).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from bitbox.errors import ParameterError

__all__ = ["AUGMENTATIONS", "apply_gain", "colored_noise", "add_colored_noise", "room_impulse_response",
           "apply_impulse_response", "splice_out", "augment", "augmented_window_features", "augmented_features"]

#: The original's augmentation settings (torch_audiomentations defaults; p from augmentation_config.yml).
AUGMENTATIONS: dict[str, dict[str, Any]] = {
    "gain": {"p": 0.5, "min_gain_db": -18.0, "max_gain_db": 6.0},
    "colored_noise": {"p": 0.5, "min_snr_db": 3.0, "max_snr_db": 30.0, "min_f_decay": -2.0, "max_f_decay": 2.0},
    "impulse_response": {"p": 0.5, "min_rt60_s": 0.2, "max_rt60_s": 1.0},  # RT60 range: ours (synthetic rooms)
    "splice_out": {"p": 0.5, "n_intervals": 8, "max_width_ms": 400.0},
}


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def apply_gain(samples: np.ndarray, gain_db: float) -> np.ndarray:
    """``samples`` times ``10 ** (gain_db / 20)``.

    Parameters
    ----------
    samples : np.ndarray
        Audio samples (any shape).
    gain_db : float
        The gain in decibels (negative attenuates).

    Returns
    -------
    np.ndarray
        The scaled samples, float64.
    """
    return np.asarray(samples, dtype=np.float64) * 10.0 ** (float(gain_db) / 20.0)


def colored_noise(n_samples: int, sr: int, f_decay: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise with an amplitude spectrum falling as ``1 / f ** f_decay`` (0: white, 1: pink, 2: brown).

    As torch_audiomentations: one second of Gaussian noise is shaped in the frequency
    domain (the bins mapped linearly onto [1, sqrt(sr / 2)]), normalised to unit RMS and
    repeated to ``n_samples``.

    Parameters
    ----------
    n_samples : int
        Length of the noise in samples.
    sr : int
        Sample rate in Hz: the length of the shaped period (one second).
    f_decay : float
        Exponent of the spectral decay (negative values tilt the noise towards high frequencies).
    rng : np.random.Generator
        The source of the Gaussian noise.

    Returns
    -------
    np.ndarray
        ``(n_samples,)`` float64 noise of unit RMS (over each one-second period).
    """
    white = rng.standard_normal(int(sr))
    spectrum = np.fft.rfft(white)
    spectrum /= np.linspace(1.0, np.sqrt(sr / 2.0), len(spectrum)) ** float(f_decay)
    period = np.fft.irfft(spectrum, n=int(sr))
    period /= max(_rms(period), 1e-12)
    return np.tile(period, int(np.ceil(n_samples / len(period))))[:n_samples]


def add_colored_noise(samples: np.ndarray, sr: int, snr_db: float, f_decay: float,
                      rng: np.random.Generator) -> np.ndarray:
    """Add :func:`colored_noise` with RMS ``rms(samples) / 10 ** (snr_db / 20)``.

    Parameters
    ----------
    samples : np.ndarray
        Mono audio samples.
    sr : int
        Their sample rate in Hz.
    snr_db : float
        Signal-to-noise ratio in decibels, relative to the RMS of ``samples`` (silence gets no noise).
    f_decay : float
        Spectral decay of the noise (0: white, 1: pink, 2: brown).
    rng : np.random.Generator
        The source of the noise.

    Returns
    -------
    np.ndarray
        The noisy samples, float64, of the input's length.
    """
    x = np.asarray(samples, dtype=np.float64)
    return x + _rms(x) / 10.0 ** (float(snr_db) / 20.0) * colored_noise(len(x), sr, f_decay, rng)


def room_impulse_response(sr: int, rt60_s: float, rng: np.random.Generator) -> np.ndarray:
    """A synthetic room impulse response: a direct path, then Gaussian noise decaying by 60 dB in ``rt60_s``.

    ``rt60_s`` seconds long, normalised to unit energy (so that convolving white noise keeps
    its level on average; the level is the ``gain`` transform's business).

    Parameters
    ----------
    sr : int
        Sample rate in Hz.
    rt60_s : float
        Reverberation time in seconds: the time the response takes to decay by 60 dB, and its length.
    rng : np.random.Generator
        The source of the noise.

    Returns
    -------
    np.ndarray
        ``(max(round(rt60_s * sr), 1),)`` float64 impulse response of unit energy.
    """
    n = max(int(round(float(rt60_s) * sr)), 1)
    t = np.arange(n) / sr
    h = rng.standard_normal(n) * np.exp(-3.0 * np.log(10.0) * t / float(rt60_s))  # -60 dB at rt60_s
    h[0] = np.abs(h).max() * 2.0 if n > 1 else 1.0  # the direct path dominates, as in a recorded IR
    return h / np.sqrt(np.sum(h ** 2))


def apply_impulse_response(samples: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """Full convolution with ``ir``, cut to the input's length (torch_audiomentations' default).

    Parameters
    ----------
    samples : np.ndarray
        Mono audio samples.
    ir : np.ndarray
        The impulse response (e.g. :func:`room_impulse_response`), at the samples' rate.

    Returns
    -------
    np.ndarray
        The reverberant samples, float64, of the input's length (no delay compensation).
    """
    from scipy.signal import fftconvolve

    x = np.asarray(samples, dtype=np.float64)
    return fftconvolve(x, np.asarray(ir, dtype=np.float64), mode="full")[: len(x)]


def splice_out(samples: np.ndarray, sr: int, rng: np.random.Generator, *, n_intervals: int = 8,
               max_width_ms: float = 400.0) -> tuple[np.ndarray, list[int]]:
    """SpliceOut (Jain et al. 2021) as torch_audiomentations does it.

    ``n_intervals`` times: a length ``L`` drawn uniformly in ``[0, sr * max_width_ms / 1000)``
    (made even), a start uniformly before ``len - L``; the ``L`` samples are replaced by the
    cross-fade of their two halves (the second half of a periodic Hann window times the first
    half, plus the first half of the window times the second half), so the signal loses
    ``L / 2`` samples; at the end zeros pad it back to its length.

    Parameters
    ----------
    samples : np.ndarray
        Mono audio samples.
    sr : int
        Their sample rate in Hz.
    rng : np.random.Generator
        The source of the lengths and starts.
    n_intervals : int
        Segments spliced out (default 8).
    max_width_ms : float
        Upper bound (exclusive) of a segment's length in milliseconds (default 400).

    Returns
    -------
    samples : np.ndarray
        The spliced samples, float64, of the input's length.
    lengths : list of int
        The (even) ``L`` of each interval; ``sum(lengths) // 2`` zeros end the output.
    """
    x = np.asarray(samples, dtype=np.float64)
    out = x.copy()
    high = int(sr * float(max_width_ms) * 1e-3)
    lengths = []
    for _ in range(int(n_intervals)):
        length = int(rng.integers(0, high)) if high > 0 else 0
        length = min(length, max(len(out) - 2, 0))  # a signal shorter than the splice keeps a sample
        start = int(rng.integers(0, max(len(out) - length, 1)))
        length += length % 2
        half = length // 2
        if half:
            window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)  # periodic Hann
            fade = window[half:] * out[start:start + half] + window[:half] * out[start + half:start + length]
            out = np.concatenate([out[:start], fade, out[start + length:]])
        lengths.append(length)
    return np.concatenate([out, np.zeros(len(x) - len(out))]), lengths


def augment(samples: np.ndarray, sr: int, rng: np.random.Generator,
            settings: dict[str, dict[str, Any]] | None = None) -> tuple[np.ndarray, list[str]]:
    """The original's Compose: the four transforms in a random order, each with its probability.

    Parameters
    ----------
    samples : np.ndarray
        Mono audio samples.
    sr : int
        Their sample rate in Hz.
    rng : np.random.Generator
        The source of every draw (order, which transforms, their settings).
    settings : dict | None
        Per transform (``"gain"``, ``"colored_noise"``, ``"impulse_response"``, ``"splice_out"``), settings
        replacing those of :data:`AUGMENTATIONS` (e.g. ``{"gain": {"p": 1.0}}``); ``None`` (default)
        keeps them all.

    Returns
    -------
    samples : np.ndarray
        The augmented samples, float64, of the input's length.
    applied : list of str
        The names of the transforms applied, in order.
    """
    s = {k: {**v, **(settings or {}).get(k, {})} for k, v in AUGMENTATIONS.items()}
    steps: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "gain": lambda x: apply_gain(x, rng.uniform(s["gain"]["min_gain_db"], s["gain"]["max_gain_db"])),
        "colored_noise": lambda x: add_colored_noise(
            x, sr, rng.uniform(s["colored_noise"]["min_snr_db"], s["colored_noise"]["max_snr_db"]),
            rng.uniform(s["colored_noise"]["min_f_decay"], s["colored_noise"]["max_f_decay"]), rng),
        "impulse_response": lambda x: apply_impulse_response(x, room_impulse_response(
            sr, rng.uniform(s["impulse_response"]["min_rt60_s"], s["impulse_response"]["max_rt60_s"]), rng)),
        "splice_out": lambda x: splice_out(x, sr, rng, n_intervals=s["splice_out"]["n_intervals"],
                                           max_width_ms=s["splice_out"]["max_width_ms"])[0],
    }
    x = np.asarray(samples, dtype=np.float64)
    applied = []
    for name in rng.permutation(list(steps)):
        if rng.random() < s[name]["p"]:
            x = steps[name](x)
            applied.append(str(name))
    return x, applied


def augmented_window_features(samples: np.ndarray, starts_s, *, window_s: float, egemaps: bool,
                              rng: np.random.Generator, n_mfcc: int = 40, n_mels: int = 128) -> pd.DataFrame:
    """Features of an augmented copy of each window of 16-kHz ``samples`` (the ``voice_windows`` columns).

    Each window (``window_s`` from each start) is augmented on its own, as the original
    augments each 5-s training clip, then measured: eGeMAPSv02 functionals (when
    ``egemaps``) and the means of MFCCs 1..``n_mfcc`` over the window.

    Parameters
    ----------
    samples : np.ndarray
        The recording's mono samples at 16 kHz.
    starts_s : iterable of float
        Start of each window in seconds (e.g. ``voice_windows.window_starts``).
    window_s : float
        Window length in seconds (a window is cut short at the end of ``samples``).
    egemaps : bool
        Also compute the eGeMAPSv02 functionals (needs opensmile).
    rng : np.random.Generator
        The source of the augmentations' draws.
    n_mfcc : int
        MFCCs kept, after the 0th (default 40).
    n_mels : int
        Mel bands of the MFCC (default 128).

    Returns
    -------
    pd.DataFrame
        One row per window: ``egemaps_<feature>`` columns (when ``egemaps``), then ``mfcc_1_mean`` ...
        ``mfcc_<n_mfcc>_mean``.
    """
    from bitbox.processors.voice_windows import SAMPLE_RATE, mfcc

    smile = None
    if egemaps:
        import opensmile

        smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                feature_level=opensmile.FeatureLevel.Functionals)
    width = int(round(float(window_s) * SAMPLE_RATE))
    rows = []
    for start_s in starts_s:
        a = int(round(float(start_s) * SAMPLE_RATE))
        clip, _ = augment(samples[a:min(a + width, len(samples))], SAMPLE_RATE, rng)
        clip = clip.astype(np.float32)
        row: dict[str, float] = {}
        if smile is not None:
            row.update({f"egemaps_{k}": float(v) for k, v in smile.process_signal(clip, SAMPLE_RATE).iloc[0].items()})
        means = mfcc(clip, SAMPLE_RATE, n_mfcc=int(n_mfcc) + 1, n_mels=int(n_mels))[1:].mean(axis=1)
        row.update({f"mfcc_{k + 1}_mean": float(v) for k, v in enumerate(means)})
        rows.append(row)
    return pd.DataFrame(rows)


def augmented_features(recordings: dict[str, str], sets, *, n_copies: int, window_s: float = 5.0,
                       stride_s: float = 1.0, seed: int = 0) -> dict[str, pd.DataFrame]:
    """``n_copies`` augmented copies of every window of each recording, per voice window set.

    Parameters
    ----------
    recordings : dict
        ``{recording_key: audio path}``.
    sets : sequence of str
        Among ``("egemaps", "mfcc")``.
    n_copies : int
        Augmented copies of every window (0 gives none).
    window_s, stride_s : float
        The windows of the feature extraction.
    seed : int
        Seed of the draws (each recording gets its own stream, so results do not depend on
        which other recordings are augmented).

    Returns
    -------
    dict
        Per set, rows ``recording_key``, ``copy`` (1..n_copies) and the set's columns; empty when
        there is no set, no copy or no recording.

    Raises
    ------
    ParameterError
        ``n_copies`` is negative.
    """
    import zlib

    from bitbox.audio import resample
    from bitbox.processors.voice_windows import SAMPLE_RATE, window_starts
    from bitbox.recording import Recording

    sets = [s for s in sets if s in ("egemaps", "mfcc")]
    if int(n_copies) < 0:
        raise ParameterError(f"n_copies must be >= 0; got {n_copies}.")
    if not sets or not int(n_copies) or not recordings:
        return {}
    frames = []
    for key, path in recordings.items():
        samples, sr = Recording(path).load_audio()
        samples = resample(samples, sr, SAMPLE_RATE)
        starts = window_starts(len(samples) / SAMPLE_RATE, float(window_s), float(stride_s))
        rng = np.random.default_rng([int(seed), zlib.crc32(key.encode())])
        for copy in range(1, int(n_copies) + 1):
            table = augmented_window_features(samples, starts, window_s=window_s, egemaps="egemaps" in sets, rng=rng)
            table.insert(0, "copy", copy)
            table.insert(0, "recording_key", key)
            frames.append(table)
    every = pd.concat(frames, ignore_index=True)
    return {name: every[["recording_key", "copy", *[c for c in every.columns if c.startswith(f"{name}_")]]]
            for name in sets}
