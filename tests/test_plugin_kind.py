"""A plugin with a new kind of recording (examples/plugin/eyetracker): a CSV of eye-tracker samples.

Installed as a real distribution into a private folder, it brings the kind ``gaze`` and the processor
``eyetracker`` through entry points only; Bitbox finds, lists, catalogues, runs and reports them without a
change to ``bitbox/``. Its fixation and saccade counts are checked against the simulated truth, and
the faults of real exports (a byte-order mark, decimal commas, text in a number column, empty times,
dropped rows, a first line that is no header, too few samples, all samples lost) are injected into
files written by its ``simulate()`` and then edited.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bitbox
from bitbox import kinds, registry
from bitbox.errors import MeasurementError, RecordingError
from bitbox.testing import check_processor

from .conftest import REPO, bitbox_with, install_distribution

PLUGIN = REPO / "examples" / "plugin" / "eyetracker"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return install_distribution(PLUGIN, tmp_path_factory.mktemp("eyesite"))


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




def test_the_kind_sniffs_the_header(installed, folder):
    root, _ = folder
    assert kinds.kind_of(root / "reading.csv") == "gaze"
    assert kinds.kind_of(root / "scores.csv") is None  # a .csv of another kind is no recording
    with pytest.raises(RecordingError, match=r"is not a gaze recording \(eye-tracker samples .*\) although its "
                                             r"extension is '.csv'"):
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
    assert set(ts["event"]) == {"fixation", "saccade", "lost", "unknown"}
    unknown = np.flatnonzero(ts["event"] == "unknown")  # no velocity: the edges and two samples beside the loss
    lost = np.flatnonzero(ts["event"] == "lost")
    assert list(unknown) == [0, 1, lost[0] - 2, lost[0] - 1, lost[-1] + 1, lost[-1] + 2, len(ts) - 2, len(ts) - 1]
    assert ts["velocity"].iloc[unknown].isna().all() and ts["velocity"].notna().sum() == len(ts) - 8 - len(lost)


def test_a_bad_file_is_a_clear_error(installed, folder):
    root, _ = folder
    with pytest.raises(MeasurementError, match=r"time_s does not increase \(sample 3, line 4 of the file"):
        bitbox.process(root / "backwards.csv")


def test_the_plugin_passes_the_conformance_check(installed, folder):
    root, _ = folder
    check_processor(installed.EyeTrackerProcessor, root / "reading.csv")


def test_listed_catalogued_run_by_default_and_reported(site, folder, tmp_path):
    root, truth = folder
    listed = bitbox_with(site, "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert any(line.startswith("eyetracker 1.1.0  (gaze;") for line in lines)
    assert any(line.split()[:3] == ["gaze", ".csv", ".tsv"] and "default: eyetracker" in line for line in lines)
    catalog = bitbox_with(site, "catalog")
    assert "## `eyetracker`" in catalog.stdout and "`saccade_amplitude_mean_deg`" in catalog.stdout
    out = tmp_path / "out"
    run = bitbox_with(site, "run", str(root), "-o", str(out), "-p", "eyetracker", "-q")
    assert run.returncode == 1, run.stderr  # backwards.csv fails, with its reason; the others are measured
    manifest = pd.read_csv(out / "manifest.csv").set_index("recording_id")
    assert sorted(manifest.index) == ["backwards", "reading", "search"]  # scores.csv is not a recording
    assert manifest.loc["reading", "status"] == "ok" and manifest.loc["search", "status"] == "ok"
    assert "does not increase" in manifest.loc["backwards", "reason"]
    summary = pd.read_csv(out / "summary.csv").set_index("recording_id")
    assert summary.loc["reading", "eyetracker.fixation_count"] == truth["n_fixations"]
    report = bitbox_with(site, "report", str(out))
    assert report.returncode == 0, report.stderr
    index = (out / "report" / "index.html").read_text()
    assert "<th data-column='eyetracker.valid_fraction'>" in index  # the declared QC column
    page = (out / "report" / "recordings" / "reading.html").read_text()
    assert "<h3>Overview</h3>" in page and "fixation_count" in page  # the plugin's own figure and its summary


# --- faults of real exports, injected into a file written by simulate() ---------------------------------------

RATE = 250.0
N_FIX, N_SAC = 75, 9  # samples per fixation and per saccade in simulate()'s defaults (0.3 s; 8 deg: 38.6 ms)


def _simulated(plugin, path: Path, **kwargs) -> tuple[list[str], dict]:
    truth = plugin.simulate(path, **kwargs)
    return path.read_text().splitlines(), truth


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def _set(lines: list[str], line: int, column: int, value: str) -> None:
    """Set one cell; ``line`` as the file counts (the header is line 1)."""
    cells = lines[line - 1].split(",")
    cells[column] = value
    lines[line - 1] = ",".join(cells)


def _summary(path: Path) -> dict:
    return bitbox.process(path)["eyetracker"].summary


def test_a_byte_order_mark_is_read(installed, tmp_path):
    path = tmp_path / "bom.csv"
    truth = installed.simulate(path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # what spreadsheet programs write as "CSV UTF-8"
    assert kinds.kind_of(path) == "gaze"
    summary = _summary(path)
    assert (summary["fixation_count"], summary["saccade_count"]) == (truth["n_fixations"], truth["n_saccades"])


def test_semicolons_and_decimal_commas_are_read(installed, tmp_path):
    lines, truth = _simulated(installed, tmp_path / "plain.csv")
    plain = _summary(tmp_path / "plain.csv")
    european = _write(tmp_path / "european.csv", [line.replace(",", ";").replace(".", ",") for line in lines])
    assert european.read_text().splitlines()[2] == "0,004;-0,038;-0,0187"
    tabbed = _write(tmp_path / "tabbed.tsv", [line.replace(",", "\t").replace(".", ",") for line in lines])
    for path in (european, tabbed):
        summary = _summary(path)
        assert summary["fixation_count"] == truth["n_fixations"] and summary["saccade_count"] == truth["n_saccades"]
        for name in ("saccade_amplitude_mean_deg", "fixation_duration_mean_ms", "valid_fraction"):
            assert summary[name] == pytest.approx(plain[name])
    broken = european.read_text().splitlines()
    cells = broken[40].split(";")
    broken[40] = ";".join([cells[0], "1,2,3", cells[2]])  # line 41: a cell that is no number with decimal commas
    with pytest.raises(MeasurementError, match=r"gaze_x column holds 1 value\(s\) that are not numbers \(the first "
                       r"at line 41: '1,2,3'; the file was read with decimal commas\)"):
        _summary(_write(tmp_path / "broken.csv", broken))
    quoted = list(lines)
    _set(quoted, 41, 1, '"1,5"')  # a decimal comma in a comma-separated file
    with pytest.raises(MeasurementError, match="at line 41: '1,5'; a comma-separated file cannot hold decimal commas"):
        _summary(_write(tmp_path / "quoted.csv", quoted))


def test_text_in_a_gaze_column_is_refused_and_missing_markers_are_loss(installed, tmp_path):
    lines, truth = _simulated(installed, tmp_path / "plain.csv")
    for line in (101, 201, 301):
        _set(lines, line, 1, "err")
    with pytest.raises(MeasurementError, match=r"its gaze_x column holds 3 value\(s\) that are not numbers "
                       r"\(the first at line 101: 'err'"):
        _summary(_write(tmp_path / "text.csv", lines))
    lines, _ = _simulated(installed, tmp_path / "plain.csv")
    for line, marker in ((101, "."), (151, "NaN"), (301, "")):  # EyeLink's '.', NaN, empty: track loss
        _set(lines, line, 2, marker)
    summary = _summary(_write(tmp_path / "markers.csv", lines))
    assert summary["valid_fraction"] == pytest.approx(truth["valid_fraction"] - 3 / (len(lines) - 1))
    assert bitbox.process(tmp_path / "markers.csv")["eyetracker"].timeseries["event"].iloc[[99, 149, 299]].eq(
        "lost").all()


def test_an_empty_time_names_its_line(installed, tmp_path):
    lines, _ = _simulated(installed, tmp_path / "plain.csv")
    _set(lines, 50, 0, "")
    with pytest.raises(MeasurementError, match=r"its time_s is empty or not a finite number at line 50 \(1 such"):
        _summary(_write(tmp_path / "empty.csv", lines))
    lines, truth = _simulated(installed, tmp_path / "plain.csv")
    with pytest.raises(MeasurementError, match="its time_s is empty or not a finite number at line 60 "):
        _summary(_write(tmp_path / "blank.csv", lines[:59] + [""] + lines[59:]))  # a blank line among the samples
    ended = _write(tmp_path / "ended.csv", lines + ["", ""])  # blank lines at the end are no samples
    assert _summary(ended)["fixation_count"] == truth["n_fixations"]


def test_the_velocity_uses_the_real_times(installed):
    rng = np.random.default_rng(1)
    t = np.cumsum(rng.uniform(0.8, 1.2, 200)) * 0.004  # jittered 250 Hz, no interval over 1.5 medians
    x, y = 20.0 * t, -10.0 * t  # constant velocity: sqrt(20^2 + 10^2) deg/s
    velocity, event = installed.ivt(t, x, y, np.ones(len(t), bool))
    assert np.isnan(velocity[[0, 1, -2, -1]]).all()
    np.testing.assert_allclose(velocity[2:-2], np.hypot(20, 10), rtol=1e-9)  # the median interval is off by ~10%
    assert set(event[2:-2]) == {"fixation"} and set(event[[0, 1, -2, -1]]) == {"unknown"}
    assert np.isnan(installed.ivt(t[:4], x[:4], y[:4], np.ones(4, bool))[0]).all()  # under five samples: none


def test_dropped_rows_are_a_gap_not_a_saccade(installed, tmp_path):
    lines, truth = _simulated(installed, tmp_path / "plain.csv")
    start = 5 * (N_FIX + N_SAC)  # fixation 6 (no loss near it): samples start .. start + 74
    cut = start + 32  # drop 10 rows (40 ms) in its middle: 32 samples stay before, 33 after
    gapped = _write(tmp_path / "gapped.csv", lines[:cut + 1] + lines[cut + 11:])  # +1: the header
    # The truth: no velocity spans the gap, and two samples on either side of it have none, so the fixation's
    # parts are 32 - 2 and 33 - 2 samples (120 and 124 ms), both at least 60 ms: the gap splits it in two.
    assert min(32 - 2, 33 - 2) / RATE >= 0.06
    m = bitbox.process(gapped)
    summary, ts = m["eyetracker"].summary, m["eyetracker"].timeseries
    assert summary["fixation_count"] == truth["n_fixations"] + 1
    assert summary["saccade_count"] == truth["n_saccades"]  # no spurious saccade
    assert summary["saccade_amplitude_mean_deg"] == pytest.approx(truth["amplitude_deg"], rel=0.03)
    assert list(ts["event"].iloc[cut - 2:cut + 2]) == ["unknown"] * 4  # samples cut-2 .. cut+1 of the new file
    assert ts["event"].iloc[start + 2:cut - 2].eq("fixation").all() and ts["event"].iloc[cut + 2:cut + 31].eq(
        "fixation").all()
    assert summary["notes"] == ("a gap in time of 44 ms after 1.804 s (over 1.5 sample intervals): track loss, "
                                "no velocity across it")
    # Rows dropped over a whole saccade: the 8-degree jump across the gap is no saccade of known start and end
    # (with the median interval it read as one peaking at 666 deg/s); the fixations on both sides stay.
    first = 4 * (N_FIX + N_SAC) + N_FIX - 1  # the last sample of fixation 5, then saccade 5, then fixation 6
    skipped = _write(tmp_path / "skipped.csv", lines[:first + 1] + lines[first + 12:])  # samples first .. first + 10
    summary = _summary(skipped)
    assert summary["saccade_count"] == truth["n_saccades"] - 1
    assert summary["fixation_count"] == truth["n_fixations"]
    assert summary["notes"].startswith("a gap in time of 48 ms after ")
    both = _write(tmp_path / "both.csv", lines[:first + 1] + lines[first + 12:cut + 1] + lines[cut + 11:])
    assert _summary(both)["notes"].startswith("2 gaps in time over 1.5 sample intervals (92 ms in all, the longest "
                                              "48 ms after ")


def test_a_saccade_right_after_a_blink_is_no_fixation(installed, tmp_path):
    blink = (0.25, 0.3)  # samples 63 to 74 lost: saccade 1 (samples 75 to 83) starts right after the blink
    truth = installed.simulate(tmp_path / "blink.csv", loss_s=blink)
    assert (truth["n_fixations"], truth["n_saccades"]) == (8, 6)  # saccade 1 has no known start
    m = bitbox.process(tmp_path / "blink.csv")
    summary, ts = m["eyetracker"].summary, m["eyetracker"].timeseries
    assert list(ts["event"].iloc[75:77]) == ["unknown", "unknown"]  # fast, but their velocity spans the loss
    assert ts["event"].iloc[77:N_FIX + N_SAC].isin(["saccade", "unknown"]).all()
    assert (summary["fixation_count"], summary["saccade_count"]) == (truth["n_fixations"], truth["n_saccades"])


def test_a_first_line_that_is_no_header_is_no_gaze(installed, tmp_path):
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"\x00\x01gaze_x,gaze_y,time_s\x00\xff\n0,1,1\n")
    long = tmp_path / "long.csv"
    long.write_text("time_s,gaze_x,gaze_y," + ",".join(f"c{i}" for i in range(12000)) + "\n0,1,1\n")
    assert len(long.read_text().splitlines()[0]) > 65536
    for path in (junk, long):
        assert kinds.kind_of(path) is None and not installed.looks_like_gaze(path)
        with pytest.raises(MeasurementError, match="its first line is not a header of column names"):
            installed.read_gaze(path)
    with pytest.raises(RecordingError, match="is not a gaze recording"):
        bitbox.Recording(long)  # named explicitly, it is refused with the reason


def test_too_few_samples_and_all_lost(installed, tmp_path):
    lines, _ = _simulated(installed, tmp_path / "plain.csv")
    with pytest.raises(MeasurementError, match="holds 4 samples; at least 5 are needed"):
        _summary(_write(tmp_path / "four.csv", lines[:5]))
    blank = [lines[0]] + [line.split(",")[0] + ",," for line in lines[1:]]
    summary = _summary(_write(tmp_path / "lost.csv", blank))
    assert summary["valid_fraction"] == 0 and summary["fixation_count"] == 0 and summary["saccade_count"] == 0
    assert summary["notes"] == "no valid gaze sample: no velocity, fixation or saccade"
    assert np.isnan(summary["fixation_duration_mean_ms"]) and np.isnan(summary["saccade_amplitude_mean_deg"])
