"""The worked third-party plugin in examples/plugin: installed, discovered, run, conformant."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bitbox
from bitbox import registry
from bitbox.testing import check_processor

from .conftest import REPO, bitbox_with, install_distribution


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """The example plugin installed (as a real distribution) into a private folder."""
    return install_distribution(REPO / "examples" / "plugin", tmp_path_factory.mktemp("site"))


@pytest.fixture
def plugin_on_path(plugin_site):
    sys.path.insert(0, str(plugin_site))
    registry.refresh()
    yield plugin_site
    sys.path.remove(str(plugin_site))
    for name in [m for m in sys.modules if m.startswith("bitbox_luminance")]:
        del sys.modules[name]
    registry.refresh()




def test_plugin_appears_in_the_cli_and_runs_beside_face(plugin_site, tmp_path, talking_head):
    listed = bitbox_with(plugin_site, "list")
    assert listed.returncode == 0
    assert any(line.startswith("luminance 1.0.0") for line in listed.stdout.splitlines())
    catalog = bitbox_with(plugin_site, "catalog")
    assert "## `luminance`" in catalog.stdout and "`frame_change`" in catalog.stdout
    proc = bitbox_with(plugin_site, "run", str(talking_head), "-o", str(tmp_path), "-p", "face,luminance",
                "--set", "face.frame_step=6", "-q")
    assert proc.returncode == 0, proc.stderr
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert {"face.face_detected_fraction", "luminance.luminance_mean"} <= set(summary.columns)
    ts = pd.read_parquet(tmp_path / "talking_head" / "luminance.parquet")
    assert len(ts) == 120 and ts["luminance"].between(0, 1).all()


def test_plugin_passes_the_conformance_check(plugin_on_path, talking_head):
    cls = bitbox.get_processor_class("luminance")
    assert cls.__module__ == "bitbox_luminance"
    result = check_processor(cls, talking_head, frame_step=2)
    # Known truth: the plugin's luma is the BT.601 weighted mean of the decoded frame.
    first = next(bitbox.Recording(talking_head).iter_frames()).rgb.astype(np.float64)
    expected = (first @ np.array([0.299, 0.587, 0.114])).mean() / 255
    assert result.timeseries["luminance"].iloc[0] == pytest.approx(expected, rel=1e-5)
    assert "luminance" in bitbox.catalog().processors()
