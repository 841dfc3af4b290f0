"""Audio faults for the real-recording suite: mains hum and sample-rate changes.

Each function takes samples (or, in the CLI, a real file) and returns a faulty copy; the
input is never modified.

- :func:`add_hum` adds mains hum: a sine at ``mains_hz`` (50 or 60 Hz) and its
  harmonics, whose **total** RMS is ``level_db`` relative to the RMS of the speech
  (:func:`speech_rms`). This is the known truth ``hum_db`` is tested against.
- :func:`line_power` measures a sinusoid already in a recording (least-squares fit, a
  lock-in): the independent truth for hum that real recordings carry.
- :func:`change_rate` resamples to another sample rate (polyphase filter, as
  :func:`bitbox.audio.resample`), e.g. 8 kHz telephone audio or a 192 kHz studio file.

CLI::

    python -m tools.faults.audio hum IN.wav OUT.wav --mains 50 --level-db -10
    python -m tools.faults.audio rate IN.wav OUT.wav --sr 8000
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

__all__ = ["HUM_HARMONICS", "speech_rms", "add_hum", "line_power", "change_rate", "write_hum", "write_rate"]

#: Relative amplitudes of the fundamental and harmonics 2..6 of the injected hum (1/k: a
#: buzz whose harmonics fall off at 6 dB per octave, as a rectified or saturated mains
#: current gives).
HUM_HARMONICS = tuple(1.0 / k for k in range(1, 7))


def speech_rms(samples: np.ndarray, sr: int, *, frame_s: float = 0.025, range_db: float = 40.0) -> float:
    """RMS of the speech: over the 25-ms frames within ``range_db`` of the loudest frame.

    Leading, trailing and inter-word silences are left out, so the reference does not depend
    on how much silence surrounds the speech.
    """
    x = np.asarray(samples, dtype=np.float64)
    n = max(1, int(round(frame_s * sr)))
    frames = x[: len(x) // n * n].reshape(-1, n)
    power = np.mean(frames ** 2, axis=1)
    loud = power >= power.max() * 10 ** (-range_db / 10)
    return float(np.sqrt(np.mean(power[loud])))


def add_hum(samples: np.ndarray, sr: int, *, mains_hz: float = 50.0, level_db: float = -10.0,
            harmonics: tuple[float, ...] = HUM_HARMONICS, seed: int = 0) -> np.ndarray:
    """Speech plus mains hum at ``level_db`` re the speech's RMS.

    Parameters
    ----------
    samples : np.ndarray
        Mono samples.
    sr : int
        Sample rate (Hz).
    mains_hz : float
        Mains frequency (50 or 60 Hz).
    level_db : float
        RMS of the whole hum (fundamental + harmonics) relative to :func:`speech_rms`, in dB.
    harmonics : tuple of float
        Relative amplitudes of the fundamental and harmonics 2, 3, ... (those at or above
        the Nyquist frequency are left out).
    seed : int
        Seeds the harmonics' phases.

    Returns
    -------
    np.ndarray
        A new float32 array (the input is not modified).
    """
    x = np.asarray(samples, dtype=np.float64)
    t = np.arange(len(x)) / float(sr)
    phases = np.random.default_rng(seed).uniform(0, 2 * np.pi, len(harmonics))
    hum = np.zeros_like(x)
    for k, (amplitude, phase) in enumerate(zip(harmonics, phases), start=1):
        if k * mains_hz < sr / 2:
            hum += amplitude * np.sin(2 * np.pi * k * mains_hz * t + phase)
    hum *= speech_rms(x, sr) * 10 ** (level_db / 20) / np.sqrt(np.mean(hum ** 2))
    return (x + hum).astype(np.float32)


def line_power(samples: np.ndarray, sr: int, freq_hz: float, *, search_hz: float = 0.1,
               step_hz: float = 0.005) -> tuple[float, float]:
    """Power and frequency of the strongest sinusoid within ``search_hz`` of ``freq_hz``.

    A least-squares fit of a cosine and a sine over the whole recording (a lock-in
    amplifier) at each candidate frequency; speech adds only what falls in its 1/duration-wide
    band, so a mains line 25 dB below the speech is measured to a fraction of a dB.

    Returns
    -------
    power, frequency
        Mean power of the fitted sinusoid (squared sample units) and its frequency (Hz).
    """
    x = np.asarray(samples, dtype=np.float64)
    t = np.arange(len(x)) / float(sr)
    best = (0.0, float(freq_hz))
    for f in np.arange(freq_hz - search_hz, freq_hz + search_hz + 1e-9, step_hz):
        design = np.column_stack([np.cos(2 * np.pi * f * t), np.sin(2 * np.pi * f * t)])
        coef, *_ = np.linalg.lstsq(design, x, rcond=None)
        power = float(np.sum(coef ** 2) / 2)
        if power > best[0]:
            best = (power, float(f))
    return best


def change_rate(samples: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """The samples resampled from ``sr`` to ``target_sr`` (a new float32 array)."""
    from bitbox.audio import resample

    return np.asarray(resample(np.asarray(samples, dtype=np.float32), int(sr), int(target_sr)),
                      dtype=np.float32).copy()


def _read(path: Path) -> tuple[np.ndarray, int]:
    from bitbox.audio import read_audio

    return read_audio(path)


def write_hum(src: str | Path, dst: str | Path, *, mains_hz: float = 50.0, level_db: float = -10.0) -> Path:
    """Write a copy of ``src`` with mains hum (see :func:`add_hum`) to ``dst``; returns ``dst``."""
    import soundfile as sf

    samples, sr = _read(Path(src))
    out = add_hum(samples, sr, mains_hz=mains_hz, level_db=level_db)
    peak = float(np.max(np.abs(out)))
    if peak >= 1.0:  # keep it unclipped: scale speech and hum together (levels relative to each other hold)
        out = out * (0.99 / peak)
    sf.write(str(dst), out, sr, subtype="FLOAT")
    return Path(dst)


def write_rate(src: str | Path, dst: str | Path, *, sr: int) -> Path:
    """Write a copy of ``src`` resampled to ``sr`` Hz to ``dst``; returns ``dst``."""
    import soundfile as sf

    samples, native = _read(Path(src))
    sf.write(str(dst), change_rate(samples, native, sr), int(sr), subtype="FLOAT")
    return Path(dst)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="fault", required=True)
    hum = sub.add_parser("hum", help="add mains hum (fundamental + harmonics)")
    hum.add_argument("src", type=Path)
    hum.add_argument("dst", type=Path)
    hum.add_argument("--mains", type=float, default=50.0, help="mains frequency (Hz)")
    hum.add_argument("--level-db", type=float, default=-10.0, help="hum RMS re the speech RMS (dB)")
    rate = sub.add_parser("rate", help="resample to another sample rate")
    rate.add_argument("src", type=Path)
    rate.add_argument("dst", type=Path)
    rate.add_argument("--sr", type=int, required=True, help="target sample rate (Hz)")
    args = parser.parse_args(argv)
    if args.fault == "hum":
        write_hum(args.src, args.dst, mains_hz=args.mains, level_db=args.level_db)
    else:
        write_rate(args.src, args.dst, sr=args.sr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
