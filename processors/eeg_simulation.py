"""Simulated EEG with known ground truth, for tests, examples and method development.

:func:`simulate_raw` returns an :class:`mne.io.RawArray` on a standard 10-20 montage with

- background activity: 1/f ("pink") noise on every channel plus an alpha rhythm of known
  frequency, strongest over posterior channels;
- event-related potentials: for each condition, components of known latency, amplitude and
  width (Gaussian in time) with a Gaussian scalp topography around a peak channel, added
  after each event;
- events as annotations named after the conditions.

Everything is reproducible from ``seed``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

__all__ = ["ERPComponent", "simulate_raw", "pink_noise", "CHANNELS_19", "DEFAULT_CONDITIONS"]

#: The 19 channels of the classic 10-20 system.
CHANNELS_19 = ("Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3", "Pz",
               "P4", "P8", "O1", "O2")


@dataclass(frozen=True)
class ERPComponent:
    """One ERP component: peak ``amplitude_uv`` at ``latency_ms`` on ``channel`` (Gaussian in time and space)."""

    latency_ms: float
    amplitude_uv: float
    width_ms: float = 50.0
    channel: str = "Pz"
    spread_m: float = 0.06


#: An oddball-like default: a large P3 for targets, a small one for standards, an N1 for both.
DEFAULT_CONDITIONS: dict[str, tuple[ERPComponent, ...]] = {
    "target": (ERPComponent(100, -4.0, 20, "Cz"), ERPComponent(350, 10.0, 60, "Pz")),
    "standard": (ERPComponent(100, -4.0, 20, "Cz"), ERPComponent(350, 3.0, 60, "Pz")),
}


def pink_noise(rng: np.random.Generator, n_channels: int, n_times: int) -> np.ndarray:
    """Unit-variance noise with a 1/f power spectrum, per channel (the background of simulated EEG).

    Complex Gaussian spectra scaled by :math:`1/\\sqrt{f}` (power :math:`\\propto 1/f`; the DC bin as
    1 Hz), transformed back and standardised per channel.

    Parameters
    ----------
    rng : numpy.random.Generator
        The random source (seed it for reproducible noise).
    n_channels, n_times : int
        Shape of the result.

    Returns
    -------
    np.ndarray
        ``(n_channels, n_times)``, each row of standard deviation 1.
    """
    spectrum = rng.normal(size=(n_channels, n_times // 2 + 1)) + 1j * rng.normal(size=(n_channels, n_times // 2 + 1))
    freqs = np.arange(n_times // 2 + 1)
    spectrum *= 1.0 / np.sqrt(np.maximum(freqs, 1))
    noise = np.fft.irfft(spectrum, n=n_times, axis=1)
    return noise / noise.std(axis=1, keepdims=True)


def simulate_raw(*, duration_s: float = 200.0, sfreq: float = 250.0, channels: Sequence[str] = CHANNELS_19,
                 noise_uv: float = 5.0, alpha_hz: float = 10.0, alpha_uv: float = 8.0,
                 conditions: Mapping[str, Sequence[ERPComponent]] | None = None, n_events: int = 60,
                 isi_s: tuple[float, float] = (1.2, 1.6), line_noise_hz: float | None = None,
                 line_noise_uv: float = 2.0, seed: int = 0):
    """Simulate raw EEG with known background spectrum and ERPs.

    Parameters
    ----------
    duration_s, sfreq : float
        Length and sampling rate.
    channels : sequence of str
        Channel names of the standard_1020 montage.
    noise_uv : float
        RMS of the 1/f background per channel (microvolts).
    alpha_hz, alpha_uv : float
        Alpha rhythm frequency and amplitude (peak, at O1/O2/Pz; weaker toward the front).
    conditions : mapping name -> list of ERPComponent | None
        ERPs per condition (default :data:`DEFAULT_CONDITIONS`).
    n_events : int
        Events per condition (interleaved in random order, spaced by ``isi_s``).
    line_noise_hz : float | None
        Add power-line noise at this frequency (e.g. 50).
    seed : int
        Random seed.

    Returns
    -------
    mne.io.RawArray
        In volts, with the montage set and one annotation per event.
    """
    import mne

    conditions = dict(DEFAULT_CONDITIONS if conditions is None else conditions)
    rng = np.random.default_rng(seed)
    n_times = int(round(duration_s * sfreq))
    info = mne.create_info(list(channels), sfreq, ch_types="eeg")
    montage = mne.channels.make_standard_montage("standard_1020")
    positions = montage.get_positions()["ch_pos"]
    missing = [ch for ch in channels if ch not in positions]
    if missing:
        raise ValueError(f"Channels {missing} are not in the standard_1020 montage.")
    xyz = np.array([positions[ch] for ch in channels])
    times = np.arange(n_times) / sfreq

    data = noise_uv * pink_noise(rng, len(channels), n_times)
    posterior = np.clip((-xyz[:, 1] + 0.02) / 0.12, 0.15, 1.0)  # y < 0 is posterior
    envelope = 1.0 + 0.3 * np.sin(2 * np.pi * times / 7.0)
    phase = rng.uniform(0, 2 * np.pi)
    data += alpha_uv * posterior[:, None] * envelope * np.sin(2 * np.pi * alpha_hz * times + phase)
    if line_noise_hz:
        data += line_noise_uv * np.sin(2 * np.pi * line_noise_hz * times)

    labels = np.repeat(list(conditions), n_events)
    rng.shuffle(labels)
    onsets, t = [], 1.0
    for _ in labels:
        onsets.append(t)
        t += rng.uniform(*isi_s)
    if t > duration_s - 1.0:
        raise ValueError(f"{len(labels)} events do not fit in {duration_s} s; lengthen duration_s.")
    for label, onset in zip(labels, onsets):
        for comp in conditions[label]:
            centre = xyz[list(channels).index(comp.channel)] if comp.channel in channels else \
                np.array(positions[comp.channel])
            weight = np.exp(-np.sum((xyz - centre) ** 2, axis=1) / (2 * comp.spread_m ** 2))
            start = int(round((onset + comp.latency_ms / 1000 - 4 * comp.width_ms / 1000) * sfreq))
            stop = int(round((onset + comp.latency_ms / 1000 + 4 * comp.width_ms / 1000) * sfreq))
            t_local = (np.arange(start, stop) / sfreq - onset) * 1000
            wave = comp.amplitude_uv * np.exp(-((t_local - comp.latency_ms) ** 2) / (2 * comp.width_ms ** 2))
            data[:, start:stop] += weight[:, None] * wave
    raw = mne.io.RawArray(data * 1e-6, info, verbose="error")
    raw.set_montage(montage, verbose="error")
    raw.set_annotations(mne.Annotations(onsets, [0.0] * len(onsets), list(labels)))
    return raw
