"""The samples from any folder: bitbox.examples.path(), `bitbox examples`, and the wheel that ships them."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import bitbox
from bitbox.errors import ParameterError

REPO = Path(__file__).resolve().parents[1]


def test_path_finds_every_sample_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = bitbox.examples.path()
    assert folder.is_absolute() and (folder / "talking_head.mp4").is_file()
    names = bitbox.examples.names()
    assert {"talking_head.mp4", "spoken_story.flac", "interview.flac", "astronaut_sway.mp4"} <= set(names)
    assert all(bitbox.examples.path(name).is_file() for name in names)
    assert bitbox.examples.path("narratives/n01_breakfast.json").parent.name == "narratives"
    with pytest.raises(ParameterError, match=r"no sample 'nope.mp4'.*talking_head.mp4.*48 narratives"):
        bitbox.examples.path("nope.mp4")


def test_the_command_prints_the_folder_for_a_run(tmp_path):
    run = subprocess.run([sys.executable, "-m", "bitbox", "examples"], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert Path(run.stdout.strip()) == bitbox.examples.path() and "talking_head.mp4" in run.stderr
    one = subprocess.run([sys.executable, "-m", "bitbox", "examples", "interview.flac"], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)
    assert Path(one.stdout.strip()) == bitbox.examples.path("interview.flac")
    bad = subprocess.run([sys.executable, "-m", "bitbox", "examples", "x.wav"], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert bad.returncode == 2 and "There is no sample 'x.wav'" in bad.stderr


def test_the_wheel_ships_the_samples(tmp_path):
    """A user who installs the wheel (not a clone) has the samples too."""
    source = tmp_path / "src"  # a copy: building writes build/ and *.egg-info beside the sources
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    for name in listed:
        if (REPO / name).is_file() and not name.startswith("examples/plugin/"):
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            str(source), "-w", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    names = set(zipfile.ZipFile(next(tmp_path.glob("bitbox-*.whl"))).namelist())
    assert {f"bitbox/examples/data/{n}" for n in bitbox.examples.names() if "/" not in n} <= names
    assert "bitbox/examples/narratives/n01_breakfast.json" in names and "bitbox/examples/__init__.py" in names
