"""A plugin with a new kind of recording (examples/plugin/eyetracker): a CSV of eye-tracker samples.

Installed as a real distribution into a private folder, it brings the kind ``gaze`` and the processor
``eyetracker`` through entry points only; Bitbox finds, lists, catalogues, runs and reports them without a
change to ``bitbox/``. Its fixation and saccade counts are checked against the simulated truth.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import bitbox
from bitbox import kinds, registry
from bitbox.errors import MeasurementError, RecordingError
from bitbox.testing import check_processor

from .conftest import REPO

PLUGIN = REPO / "examples" / "plugin" / "eyetracker"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("eyesite")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "--target", str(target), str(PLUGIN)],
                   check=True, capture_output=True, text=True, timeout=300)
    return target


@pytest.fixture
def installed(site):
    sys.path.insert(0, str(site))
    registry.refresh()
    import bitbox_eyetracker

    yield bitbox_eyetracker
    sys.path.remove(str(site))
    for name in [m for m in sys.modules if m.startswith("bitbox_eyetracker")]:
        del sys.modules[name]
    registry.refresh()


@pytest.fixture(scope="module")
def folder(tmp_path_factory, site) -> tuple[Path, dict]:
    """Two gaze recordings, a CSV that is not one, a broken gaze file and a video-free folder."""
    sys.path.insert(0, str(site))
    try:
        import bitbox_eyetracker as plugin

        root = tmp_path_factory.mktemp("gaze")
        truth = plugin.simulate(root / "reading.csv")
        plugin.simulate(root / "search.csv", n_fixations=5, amplitude_deg=12.0, loss_s=None, seed=3)
        (root / "scores.csv").write_text("subject,score\n1,3\n2,5\n")  # a CSV of another kind: not a recording
        (root / "backwards.csv").write_text("time_s,gaze_x,gaze_y\n0.000,1,1\n0.004,1,1\n0.002,1,1\n0.006,1,1\n")
    finally:
        sys.path.remove(str(site))
        for name in [m for m in sys.modules if m.startswith("bitbox_eyetracker")]:
            del sys.modules[name]
    return root, truth


def _cli(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "bitbox", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def test_the_kind_sniffs_the_header(installed, folder):
    root, _ = folder
    assert kinds.kind_of(root / "reading.csv") == "gaze"
    assert kinds.kind_of(root / "scores.csv") is None  # a .csv of another kind is no recording
    with pytest.raises(RecordingError, match="is not a gaze recording although its extension is '.csv'"):
        bitbox.Recording(root / "scores.csv")
    assert bitbox.registry.default_processors("gaze") == ("eyetracker",)


def test_fixations_and_saccades_match_the_truth(installed, folder):
    root, truth = folder
    m = bitbox.process(root / "reading.csv")  # the default processor of the kind
    summary = m["eyetracker"].summary
    assert summary["fixation_count"] == truth["n_fixations"] == 9  # the loss splits one fixation in two
    assert summary["saccade_count"] == truth["n_saccades"] == 7
    assert summary["saccade_amplitude_mean_deg"] == pytest.approx(truth["amplitude_deg"], rel=0.03)
    assert summary["sampling_rate_hz"] == pytest.approx(250.0)
    assert summary["valid_fraction"] == pytest.approx(truth["valid_fraction"])
    ts = m["eyetracker"].timeseries
    assert set(ts["event"]) == {"fixation", "saccade", "lost"}


def test_a_bad_file_is_a_clear_error(installed, folder):
    root, _ = folder
    with pytest.raises(MeasurementError, match=r"time_s does not increase \(sample 3, line 4 of the file"):
        bitbox.process(root / "backwards.csv")


def test_the_plugin_passes_the_conformance_check(installed, folder):
    root, _ = folder
    check_processor(installed.EyeTrackerProcessor, root / "reading.csv")


def test_listed_catalogued_run_by_default_and_reported(site, folder, tmp_path):
    root, truth = folder
    listed = _cli(site, "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert any(line.startswith("eyetracker 1.0.0  (gaze;") for line in lines)
    assert any(line.split()[:3] == ["gaze", ".csv", ".tsv"] and "default: eyetracker" in line for line in lines)
    catalog = _cli(site, "catalog")
    assert "## `eyetracker`" in catalog.stdout and "`saccade_amplitude_mean_deg`" in catalog.stdout
    out = tmp_path / "out"
    run = _cli(site, "run", str(root), "-o", str(out), "-p", "eyetracker", "-q")
    assert run.returncode == 1, run.stderr  # backwards.csv fails, with its reason; the others are measured
    manifest = pd.read_csv(out / "manifest.csv").set_index("recording_id")
    assert sorted(manifest.index) == ["backwards", "reading", "search"]  # scores.csv is not a recording
    assert manifest.loc["reading", "status"] == "ok" and manifest.loc["search", "status"] == "ok"
    assert "does not increase" in manifest.loc["backwards", "reason"]
    summary = pd.read_csv(out / "summary.csv").set_index("recording_id")
    assert summary.loc["reading", "eyetracker.fixation_count"] == truth["n_fixations"]
    report = _cli(site, "report", str(out))
    assert report.returncode == 0, report.stderr
    index = (out / "report" / "index.html").read_text()
    assert "<th>eyetracker.valid_fraction</th>" in index  # the declared QC column
    page = (out / "report" / "reading.html").read_text()
    assert "<h3>Overview</h3>" in page and "fixation_count" in page  # the plugin's own figure and its summary
