"""The EEG processor on simulated EEG with known ERPs and spectra, and every supported format."""
from __future__ import annotations

import subprocess
import sys

import mne
import numpy as np
import pandas as pd
import pytest

import bitbox
from bitbox import RecordingError
from bitbox.processors.eeg import EegProcessor, read_raw
from bitbox.processors.eeg_simulation import CHANNELS_19, ERPComponent, simulate_raw
from bitbox.testing import check_processor
from tools.gdf import write_gdf1

P3 = dict(latency_ms=350.0, amplitude_uv=10.0)
PZ_ONLY = {"p3": (250.0, 500.0, "positive", ("Pz",))}


@pytest.fixture(scope="module")
def oddball(tmp_path_factory):
    """Simulated oddball EEG (P3 of 10 uV at 350 ms for targets) saved as FIF."""
    raw = simulate_raw(seed=1, alpha_hz=9.5, conditions={
        "target": (ERPComponent(100, -4.0, 20, "Cz"), ERPComponent(P3["latency_ms"], P3["amplitude_uv"], 60, "Pz")),
        "standard": (ERPComponent(100, -4.0, 20, "Cz"), ERPComponent(350, 3.0, 60, "Pz"))})
    path = tmp_path_factory.mktemp("eeg") / "oddball_raw.fif"
    raw.save(path, verbose="error")
    return path, raw


def test_p3_latency_and_amplitude_are_recovered(oddball):
    path, _ = oddball
    s = EegProcessor(reference="none", components=PZ_ONLY).process(path).summary
    assert s["erp_target_n_trials"] == 60 and s["erp_standard_n_trials"] == 60
    assert abs(s["erp_target_p3_peak_latency_ms"] - P3["latency_ms"]) <= 10
    assert s["erp_target_p3_peak_amplitude_uv"] == pytest.approx(P3["amplitude_uv"], rel=0.1)
    assert s["erp_standard_p3_peak_amplitude_uv"] == pytest.approx(3.0, abs=1.0)


def test_average_reference_lowers_the_p3_by_the_known_topography(oddball):
    path, raw = oddball
    s = EegProcessor(reference="average", components=PZ_ONLY).process(path).summary
    positions = raw.get_montage().get_positions()["ch_pos"]
    xyz = np.array([positions[ch] for ch in CHANNELS_19])
    weight = np.exp(-np.sum((xyz - positions["Pz"]) ** 2, axis=1) / (2 * 0.06 ** 2))
    expected = P3["amplitude_uv"] * (1 - weight.mean())  # Pz minus the average of all channels
    assert s["erp_target_p3_peak_amplitude_uv"] == pytest.approx(expected, rel=0.1)
    assert abs(s["erp_target_p3_peak_latency_ms"] - P3["latency_ms"]) <= 15


@pytest.mark.parametrize("alpha_hz", [9.5, 11.0])
def test_alpha_peak_and_band_powers(tmp_path, alpha_hz):
    path = tmp_path / "rest_raw.fif"
    simulate_raw(duration_s=60, alpha_hz=alpha_hz, conditions={}, seed=2).save(path, verbose="error")
    result = EegProcessor().process(path)
    s, ts = result.summary, result.timeseries
    assert abs(s["alpha_peak_hz"] - alpha_hz) <= 0.5
    bands = ["delta", "theta", "alpha", "beta", "gamma"]
    assert sum(s[f"rel_power_{b}"] for b in bands) == pytest.approx(1.0)
    assert np.allclose(ts[[f"rel_power_{b}" for b in bands]].sum(axis=1), 1.0)
    assert s["rel_power_alpha"] == max(s[f"rel_power_{b}"] for b in bands)
    assert len(ts) == 30 and ts["time_s"].iloc[1] == 2.0
    assert s["rel_power_alpha_ch_O1"] > s["rel_power_alpha_ch_Fp1"]  # alpha is posterior
    assert not any(k.startswith("erp_") for k in s)  # no events, no ERPs


def test_line_noise_is_notched_and_bad_channels_found(tmp_path):
    raw = simulate_raw(duration_s=60, conditions={}, line_noise_hz=50.0, line_noise_uv=20.0, seed=3)
    data = raw.get_data()
    data[raw.ch_names.index("T7")] *= 40  # a broken electrode
    raw = mne.io.RawArray(data, raw.info, verbose="error").set_annotations(raw.annotations)
    path = tmp_path / "noisy_raw.fif"
    raw.save(path, verbose="error")
    s = EegProcessor(h_freq=70.0).process(path).summary
    assert s["n_bad_channels"] == 1 and s["n_channels"] == 19  # interpolated, not dropped
    assert s["rel_power_gamma"] < 0.1  # 20 uV of 50 Hz noise is gone


def _formats(raw, folder):
    """The same recording written in each supported format."""
    paths = {}
    for fmt, name in (("edf", "rec.edf"), ("bdf", "rec.bdf"), ("brainvision", "rec.vhdr"), ("eeglab", "rec.set")):
        paths[fmt] = folder / name
        mne.export.export_raw(paths[fmt], raw, fmt=fmt, overwrite=True, verbose="error")
    paths["fif"] = folder / "rec_raw.fif"
    raw.save(paths["fif"], verbose="error")
    codes = {"target": 1, "standard": 2}
    events = [(int(round(a["onset"] * raw.info["sfreq"])), codes[a["description"]]) for a in raw.annotations]
    paths["gdf"] = write_gdf1(folder / "rec.gdf", raw.get_data() * 1e6, int(raw.info["sfreq"]), raw.ch_names, events)
    return paths


def test_every_format_round_trips_through_the_reader(tmp_path):
    raw = simulate_raw(duration_s=30, n_events=5, seed=4)
    original = raw.get_data()
    for fmt, path in _formats(raw, tmp_path).items():
        back = read_raw(path)
        assert back.ch_names == raw.ch_names, fmt
        assert back.info["sfreq"] == raw.info["sfreq"], fmt
        data = back.get_data()[:, :original.shape[1]]
        tolerance = 0.05e-6 if fmt in ("edf",) else 1e-9  # EDF stores 16-bit integers
        assert np.abs(data - original).max() < max(tolerance, 1e-4 * np.abs(original).max()), fmt
        assert len(back.annotations) >= 10, fmt


def test_bad_eeg_files_give_clear_errors(tmp_path):
    raw = simulate_raw(duration_s=10, conditions={}, seed=5)
    mne.export.export_raw(tmp_path / "rec.vhdr", raw, fmt="brainvision", verbose="error")
    (tmp_path / "rec.eeg").unlink()
    with pytest.raises(RecordingError, match="companion file 'rec.eeg' is missing"):
        read_raw(tmp_path / "rec.vhdr")
    (tmp_path / "broken.edf").write_bytes(b"0       not an edf header at all")
    with pytest.raises(RecordingError, match="broken.edf: cannot be read as .edf EEG"):
        read_raw(tmp_path / "broken.edf")
    data = raw.get_data()
    data[2, 100] = np.nan
    mne.io.RawArray(data, raw.info, verbose="error").save(tmp_path / "nan_raw.fif", verbose="error")
    with pytest.raises(RecordingError, match=r"channels \['F7'\] contain NaN"):
        read_raw(tmp_path / "nan_raw.fif")
    misc = mne.io.RawArray(raw.get_data(), mne.create_info(raw.ch_names, raw.info["sfreq"], "misc"),
                           verbose="error")
    misc.save(tmp_path / "misc_raw.fif", verbose="error")
    with pytest.raises(RecordingError, match="holds no EEG channels"):
        read_raw(tmp_path / "misc_raw.fif")


def test_microvolts_stored_as_volts_are_flagged(tmp_path):
    raw = simulate_raw(duration_s=20, conditions={}, seed=6)
    wrong = mne.io.RawArray(raw.get_data() * 1e6, raw.info, verbose="error")  # uV values labelled as V
    wrong.save(tmp_path / "wrong_raw.fif", verbose="error")
    assert EegProcessor(notch_hz=None).process(tmp_path / "wrong_raw.fif").summary["units_suspect"] == 1
    raw.save(tmp_path / "right_raw.fif", verbose="error")
    assert EegProcessor(notch_hz=None).process(tmp_path / "right_raw.fif").summary["units_suspect"] == 0


def test_ica_removes_a_blink_artefact_labelled_by_iclabel(tmp_path):
    raw = simulate_raw(duration_s=90, n_events=20, seed=8)
    data = raw.get_data()
    sfreq = raw.info["sfreq"]
    blink = np.zeros(data.shape[1])
    for onset in np.arange(2.0, 88.0, 3.7):  # 150 uV frontal blinks every 3.7 s
        t = np.arange(data.shape[1]) / sfreq - onset
        blink += 150e-6 * np.exp(-t ** 2 / (2 * 0.08 ** 2))
    frontal = {"Fp1": 1.0, "Fp2": 1.0, "F7": 0.5, "F3": 0.5, "Fz": 0.5, "F4": 0.5, "F8": 0.5}
    for ch, w in frontal.items():
        data[raw.ch_names.index(ch)] += w * blink
    blinky = mne.io.RawArray(data, raw.info, verbose="error").set_annotations(raw.annotations)
    path = tmp_path / "blinks_raw.fif"
    blinky.save(path, verbose="error")
    without = EegProcessor(reject_uv=None).process(path).summary
    result = EegProcessor(ica=True, ica_method="fastica", ica_n_components=10, reject_uv=None).process(path)
    assert result.summary["n_ica_excluded"] >= 1
    assert result.provenance["parameters"]["ica"] is True
    # The blink power (delta, frontal) drops once its component is removed.
    assert result.summary["abs_power_delta_uv2_ch_Fp1"] < 0.5 * without["abs_power_delta_uv2_ch_Fp1"]


def test_eeg_processor_conforms(oddball):
    check_processor(EegProcessor, oddball[0])


def test_bitbox_run_on_an_edf_and_a_gdf_recording(tmp_path):
    raw = simulate_raw(duration_s=60, n_events=15, seed=7)
    folder = tmp_path / "recordings"
    folder.mkdir()
    mne.export.export_raw(folder / "session.edf", raw, fmt="edf", verbose="error")
    events = [(int(round(a["onset"] * raw.info["sfreq"])), 1 if a["description"] == "target" else 2)
              for a in raw.annotations]
    write_gdf1(folder / "session2.gdf", raw.get_data() * 1e6, int(raw.info["sfreq"]), raw.ch_names, events)
    proc = subprocess.run([sys.executable, "-m", "bitbox", "run", str(folder), "-o", str(tmp_path / "out"), "-p",
                           "eeg", "-q"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = pd.read_csv(tmp_path / "out" / "summary.csv").set_index("recording_id")
    assert list(summary.index) == ["session", "session2"]
    assert summary.loc["session", "eeg.erp_target_n_trials"] == 15
    assert 7 <= summary.loc["session", "eeg.alpha_peak_hz"] <= 13
    gdf = bitbox.Measurements.read(tmp_path / "out" / "session2")["eeg"].summary
    assert gdf["erp_1_n_trials"] == 15 and gdf["erp_2_n_trials"] == 15  # GDF event codes name the conditions
    assert abs(gdf["erp_1_p3_peak_latency_ms"] - summary.loc["session", "eeg.erp_target_p3_peak_latency_ms"]) <= 8


def test_resampling_keeps_spectra_and_windows(tmp_path):
    path = tmp_path / "rest_raw.fif"
    simulate_raw(duration_s=40, sfreq=500.0, alpha_hz=10.0, conditions={}, seed=9).save(path, verbose="error")
    result = EegProcessor(resample_hz=125.0).process(path)
    assert abs(result.summary["alpha_peak_hz"] - 10.0) <= 0.5
    assert len(result.timeseries) == 20
    assert result.provenance["parameters"]["resample_hz"] == 125.0


def test_a_mixed_folder_runs_each_processor_on_its_own_kind(tmp_path, talking_head):
    import shutil

    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(talking_head, folder / "video.mp4")
    simulate_raw(duration_s=20, conditions={}, seed=10).save(folder / "eeg_raw.fif", verbose="error")
    result = bitbox.process_folder(folder, tmp_path / "out", processors=["face", "eeg"], progress=False,
                                   frame_step=10)
    manifest = result.manifest.set_index("recording_id")
    assert (manifest["status"] == "ok").all()
    assert manifest.loc["video", "processors"] == "face" and manifest.loc["eeg_raw", "processors"] == "eeg"
    assert sorted(p.name for p in (tmp_path / "out" / "eeg_raw").iterdir()) == ["eeg.json", "eeg.parquet"]
