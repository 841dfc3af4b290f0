"""Speech with known truth, synthesised with espeak-ng (Debian package ``espeak-ng``).

Used by the tests, the benchmark and ``tools/make_samples.py``:

- :func:`espeak` renders a text at a set rate (words/min) and pitch (0-99);
- :func:`with_pauses` joins sentences with silences of exact lengths, after trimming
  espeak's own leading/trailing silence, and returns the true pause intervals;
- :func:`add_noise` adds white noise at a given signal-to-noise ratio (seeded);
- :func:`video_with_audio` copies a video's frames into an MP4 with an AAC audio track.

Run ``python tools/speech_synth.py OUT.wav "text" --rate 160 --pitch 50`` to make one file.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

#: Sentences with hand-counted syllables (CMU dictionary pronunciations).
SENTENCES: tuple[tuple[str, int], ...] = (
    ("The quick brown fox jumps over the lazy dog.", 11),
    ("Peter Piper picked a peck of pickled peppers.", 12),
    ("She sells sea shells by the sea shore.", 8),
    ("How much wood would a woodchuck chuck.", 8),
)


def have_espeak() -> bool:
    """Whether the espeak-ng program is on the PATH."""
    return shutil.which("espeak-ng") is not None


def espeak(text: str, *, rate_wpm: int = 160, pitch: int = 50, voice: str = "en-us", word_gap_ms: int = 0
           ) -> tuple[np.ndarray, int]:
    """Synthesise ``text``; returns mono float samples and the sample rate (22050 Hz).

    ``word_gap_ms`` adds a pause between words (espeak-ng's ``-g``, in steps of 10 ms).
    """
    import soundfile as sf

    if not have_espeak():
        raise RuntimeError("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        gap = ["-g", str(int(round(word_gap_ms / 10)))] if word_gap_ms else []
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(int(rate_wpm)), "-p", str(int(pitch)), *gap, "-w",
                        str(out), text], check=True, capture_output=True)
        samples, sr = sf.read(str(out), dtype="float32")
    return samples, int(sr)


def trim(samples: np.ndarray, *, threshold_db: float = -50.0) -> np.ndarray:
    """Cut leading and trailing samples quieter than ``threshold_db`` below the peak."""
    level = np.abs(samples)
    loud = np.flatnonzero(level > level.max() * 10 ** (threshold_db / 20))
    return samples[loud[0]:loud[-1] + 1]


def with_pauses(texts: list[str], pauses_s: list[float], *, lead_s: float = 0.5, tail_s: float = 0.5,
                **espeak_kwargs) -> tuple[np.ndarray, int, list[tuple[float, float]]]:
    """Sentences separated by exact silences.

    Returns
    -------
    samples, sr, pauses
        ``pauses`` are the true (start_s, end_s) of each inserted silence.
    """
    if len(pauses_s) != len(texts) - 1:
        raise ValueError("Give one pause between each pair of sentences.")
    parts, truth, sr, t = [], [], 22050, lead_s
    for i, text in enumerate(texts):
        speech, sr = espeak(text, **espeak_kwargs)
        speech = trim(speech)
        if i == 0:
            parts.append(np.zeros(int(round(lead_s * sr)), dtype=np.float32))
        parts.append(speech)
        t += len(speech) / sr
        if i < len(pauses_s):
            gap = int(round(pauses_s[i] * sr))
            parts.append(np.zeros(gap, dtype=np.float32))
            truth.append((t, t + gap / sr))
            t += gap / sr
    parts.append(np.zeros(int(round(tail_s * sr)), dtype=np.float32))
    return np.concatenate(parts), sr, truth


def add_noise(samples: np.ndarray, snr_db: float, *, seed: int = 0) -> np.ndarray:
    """Add white Gaussian noise at ``snr_db`` relative to the signal's mean power."""
    rng = np.random.default_rng(seed)
    power = float(np.mean(samples.astype(np.float64) ** 2))
    noise = rng.standard_normal(len(samples)) * np.sqrt(power / 10 ** (snr_db / 10))
    return (samples + noise).astype(np.float32)


def video_with_audio(video: str | Path, samples: np.ndarray, sr: int, out: str | Path, *,
                     channels: int = 1) -> Path:
    """Write ``video``'s frames (H.264) with ``samples`` as an AAC track (mono, or the same on
    every channel) into ``out``; the video is looped or cut to the audio's length."""
    import av

    out = Path(out)
    with av.open(str(video)) as src:
        stream = src.streams.video[0]
        fps = stream.average_rate or 30
        frames = [f.to_ndarray(format="rgb24") for f in src.decode(stream)]
    n_frames = int(round(len(samples) / sr * float(fps)))
    height, width = frames[0].shape[:2]
    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(out), "w") as dst:
        v = dst.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = width - width % 2, height - height % 2, "yuv420p"
        a = dst.add_stream("aac", rate=int(sr), layout=layout)
        for i in range(n_frames):
            rgb = frames[i % len(frames)][: v.height, : v.width]
            for packet in v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")):
                dst.mux(packet)
        for packet in v.encode(None):
            dst.mux(packet)
        planar = np.repeat(np.asarray(samples, dtype=np.float32)[None, :], channels, axis=0)
        for start in range(0, planar.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planar[:, start:start + 1024]), format="fltp",
                                               layout=layout)
            frame.sample_rate = int(sr)
            frame.pts = start
            for packet in a.encode(frame):
                dst.mux(packet)
        for packet in a.encode(None):
            dst.mux(packet)
    return out


def main() -> None:
    import soundfile as sf

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("text")
    parser.add_argument("--rate", type=int, default=160, help="words per minute")
    parser.add_argument("--pitch", type=int, default=50, help="0-99")
    args = parser.parse_args()
    samples, sr = espeak(args.text, rate_wpm=args.rate, pitch=args.pitch)
    sf.write(args.out, samples, sr)


if __name__ == "__main__":
    main()
