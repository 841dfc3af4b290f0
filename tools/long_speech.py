"""Long real-speech recordings for the streaming tests and benchmarks: a reader talking for minutes.

Real clips (the five LibriVox clips of Debian's ``pocketsphinx-testdata`` when installed, and the
bundled ``examples/data/spoken_story.flac``) are joined in a seeded random order, separated by
pauses of 0.2-2.5 s filled with the clips' own background noise (their quietest 100 ms, looped with
a random start), until the requested length; the result can be resampled and given several channels
(the same voice on each, the second channel 3 dB lower) and 50-Hz mains hum (``hum_db`` re the
speech, :func:`tools.faults.audio.add_hum`). Same arguments, same samples.

Run ``python tools/long_speech.py OUT.wav --minutes 3 [--sr 44100] [--channels 2] [--hum-db -10]``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script: the repository's tools package
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
STORY = REPO / "examples" / "data" / "spoken_story.flac"
SR = 16000


def _clips() -> list[np.ndarray]:
    from bitbox.audio import read_audio

    paths = sorted(LIBRIVOX.glob("*.wav")) + [STORY]
    clips = []
    for path in paths:
        x, sr = read_audio(path, sr=SR)
        clips.append(x.astype(np.float64))
    return clips


def _noise_floor(clip: np.ndarray) -> np.ndarray:
    """The clip's quietest 100 ms."""
    n = SR // 10
    frames = clip[: len(clip) // n * n].reshape(-1, n)
    return frames[int(np.argmin(np.mean(frames ** 2, axis=1)))]


def long_speech(minutes: float, *, seed: int = 0, sr: int = SR, channels: int = 1,
                hum_db: float | None = None) -> np.ndarray:
    """Samples (float32; ``(n,)`` mono or ``(n, channels)``) of about ``minutes`` of real read speech.

    Parameters
    ----------
    minutes : float
        Length (min).
    seed : int
        Order of the clips and pause lengths.
    sr : int
        Sample rate (Hz; the clips are 16 kHz, resampled).
    channels : int
        Number of channels.
    hum_db : float | None
        50-Hz hum level re the speech (dB); ``None`` for none.

    Returns
    -------
    np.ndarray
    """
    rng = np.random.default_rng(seed)
    clips = _clips()
    floors = [_noise_floor(c) for c in clips]
    total = int(round(minutes * 60 * SR))
    parts, n = [], 0
    while n < total:
        k = int(rng.integers(len(clips)))
        pause = int(rng.uniform(0.2, 2.5) * SR)
        floor = floors[k]
        start = int(rng.integers(len(floor)))
        parts.append(np.resize(np.roll(floor, -start), pause))
        parts.append(clips[k])
        n += pause + len(clips[k])
    x = np.concatenate(parts)[:total]
    if hum_db is not None:
        from tools.faults.audio import add_hum

        x = add_hum(x.astype(np.float32), SR, mains_hz=50.0, level_db=float(hum_db)).astype(np.float64)
    if sr != SR:
        from bitbox.audio import resample

        x = resample(x.astype(np.float32), SR, int(sr)).astype(np.float64)
    x = 0.5 * x / max(float(np.max(np.abs(x))), 1e-9)
    if channels > 1:
        x = np.stack([x] + [x * 10 ** (-3 / 20)] * (channels - 1), axis=1)
    return x.astype(np.float32)


def write_long_speech(path: str | Path, minutes: float, **kwargs) -> Path:
    """Write :func:`long_speech` to ``path`` (format from the suffix: WAV, FLAC, ...; 16-bit PCM)."""
    import soundfile as sf

    path = Path(path)
    sr = int(kwargs.get("sr", SR))
    sf.write(str(path), long_speech(minutes, **kwargs), sr, subtype="PCM_16")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--sr", type=int, default=SR)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--hum-db", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write_long_speech(args.out, args.minutes, seed=args.seed, sr=args.sr, channels=args.channels,
                      hum_db=args.hum_db)


if __name__ == "__main__":
    main()
