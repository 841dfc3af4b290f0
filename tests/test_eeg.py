"""The EEG processor on simulated EEG with known ERPs and spectra, and every supported format."""
from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter

import mne
import numpy as np
import pandas as pd
import pytest

import bitbox
from bitbox import MeasurementError, RecordingError
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
    assert s["erp_target_n_events"] == 60 and s["erp_target_n_rejected"] == 0
    assert s["notes"] == "" and s["bad_channels"] == ""
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
    assert s["bad_channels"] == "T7"
    assert re.search(r"bad channels T7 \(high variance, z = \+\d+\.\d\): interpolated from their neighbours; "
                     r"check these electrodes", s["notes"])
    assert np.isfinite(s["rel_power_alpha_ch_T7"])  # interpolated channels keep their columns
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
    with pytest.raises(RecordingError, match=r"companion file 'rec.eeg' that the header names \(DataFile=\) is missing"):
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


def test_microvolts_stored_as_volts_are_flagged_and_fixed_by_units(tmp_path):
    raw = simulate_raw(duration_s=20, conditions={}, seed=6)
    wrong = mne.io.RawArray(raw.get_data() * 1e6, raw.info, verbose="error")  # uV values labelled as V
    wrong.save(tmp_path / "wrong_raw.fif", verbose="error")
    s = EegProcessor(notch_hz=None).process(tmp_path / "wrong_raw.fif").summary
    assert s["units_suspect"] == 1
    assert s["notes"] == (f"median channel amplitude {s['amplitude_median_uv']:.2g} uV is implausible for scalp EEG: "
                          "the file's units are probably microvolts labelled as volts; rerun with --set eeg.units=uV")
    raw.save(tmp_path / "right_raw.fif", verbose="error")
    right = EegProcessor(notch_hz=None).process(tmp_path / "right_raw.fif").summary
    assert right["units_suspect"] == 0
    fixed = EegProcessor(notch_hz=None, units="uV").process(tmp_path / "wrong_raw.fif")
    assert fixed.summary["units_suspect"] == 0 and fixed.summary["notes"] == ""
    assert fixed.summary["amplitude_median_uv"] == pytest.approx(right["amplitude_median_uv"], rel=1e-6)  # float32
    assert fixed.provenance["parameters"]["units"] == "uV"
    tiny = mne.io.RawArray(raw.get_data() * 1e-6, raw.info, verbose="error")  # no unit makes it plausible
    tiny.save(tmp_path / "tiny_raw.fif", verbose="error")
    assert "no unit among V, mV, uV makes it plausible" in \
        EegProcessor(notch_hz=None).process(tmp_path / "tiny_raw.fif").summary["notes"]
    with pytest.raises(bitbox.ParameterError, match="'units' parameter of EegProcessor must be one of"):
        EegProcessor(units="microvolts").process(tmp_path / "right_raw.fif")


def test_units_override_the_header_of_an_edf(tmp_path):
    raw = simulate_raw(duration_s=10, conditions={}, seed=6)
    mne.export.export_raw(tmp_path / "rec.edf", raw, fmt="edf", verbose="error")  # header says uV
    as_read = read_raw(tmp_path / "rec.edf").get_data()
    np.testing.assert_allclose(read_raw(tmp_path / "rec.edf", units="uV").get_data(), as_read)
    np.testing.assert_allclose(read_raw(tmp_path / "rec.edf", units="mV").get_data(), as_read * 1e3)
    np.testing.assert_allclose(read_raw(tmp_path / "rec.edf", units="V").get_data(), as_read * 1e6)


def _with_stim(raw, codes: dict[str, int]):
    """``raw`` plus a stim channel holding its annotations as codes, and no annotations."""
    sfreq = raw.info["sfreq"]
    stim = np.zeros((1, raw.n_times))
    for a in raw.annotations:
        start = int(round(a["onset"] * sfreq))
        stim[0, start:start + 5] = codes[a["description"]]
    info = mne.create_info(["STI 014"], sfreq, "stim")
    out = raw.copy().set_annotations(None).add_channels([mne.io.RawArray(stim, info, verbose="error")])
    return out


def test_stim_channel_events_give_erps(oddball, tmp_path):
    path, raw = oddball
    _with_stim(raw, {"target": 1, "standard": 2}).save(tmp_path / "stim_raw.fif", verbose="error")
    s = EegProcessor(reference="none", components=PZ_ONLY).process(tmp_path / "stim_raw.fif").summary
    truth = EegProcessor(reference="none", components=PZ_ONLY).process(path).summary
    assert s["erp_1_n_events"] == 60 and s["erp_1_n_trials"] == 60 and s["n_channels"] == 19
    assert s["erp_1_p3_peak_amplitude_uv"] == pytest.approx(truth["erp_target_p3_peak_amplitude_uv"], rel=1e-6)
    assert s["erp_2_p3_peak_latency_ms"] == truth["erp_standard_p3_peak_latency_ms"]


def test_stim_events_of_a_cropped_recording_keep_their_samples(tmp_path):
    info = mne.create_info(["Cz", "STI 014"], 100.0, ["eeg", "stim"])
    data = np.zeros((2, 3000))
    data[0] = np.random.default_rng(0).normal(0, 1e-5, 3000)
    for sample in (500, 1500, 2500):
        data[1, sample:sample + 3] = 7
    for meas_date in (1e9, None):  # annotations count from the measurement date, or from the first sample
        raw = mne.io.RawArray(data, info, verbose="error").set_meas_date(meas_date).crop(3.0, None)
        raw.save(tmp_path / "cropped_raw.fif", overwrite=True, verbose="error")
        events, _ = mne.events_from_annotations(read_raw(tmp_path / "cropped_raw.fif"), verbose="error")
        assert list(events[:, 0]) == [500, 1500, 2500] and list(events[:, 2]) == [1, 1, 1]


def test_repeated_and_simultaneous_events_keep_every_code(oddball, tmp_path):
    path, raw = oddball
    ann = raw.annotations
    cue = mne.Annotations(ann.onset, ann.duration, ["cue"] * len(ann))  # a second code at every event's sample
    twice = mne.Annotations(ann.onset[:3], ann.duration[:3], ann.description[:3])  # three events written twice
    busy = raw.copy().set_annotations(ann + cue + twice)
    busy.save(tmp_path / "busy_raw.fif", verbose="error")
    s = EegProcessor(reference="none", components=PZ_ONLY,
                     event_names={"cue": "any stimulus"}).process(tmp_path / "busy_raw.fif").summary
    truth = EegProcessor(reference="none", components=PZ_ONLY).process(path).summary
    for cond in ("target", "standard"):
        assert s[f"erp_{cond}_n_events"] == 60 and s[f"erp_{cond}_n_trials"] == 60
        assert s[f"erp_{cond}_p3_peak_amplitude_uv"] == truth[f"erp_{cond}_p3_peak_amplitude_uv"]
    assert s["erp_any_stimulus_n_events"] == 120  # renamed by event_names
    repeated = Counter(ann.description[:3])
    assert s["notes"].startswith(
        "3 repeated events (same sample, same code) merged: "
        + ", ".join(f"{d} x{n}" for d, n in sorted(repeated.items()))
        + " | 120 samples carry several event codes (")
    assert s["notes"].endswith("): each code's events were kept and epoched as their own condition")


def test_a_condition_without_epochs_says_why(oddball):
    path, _ = oddball
    s = EegProcessor(reject_uv=1.0).process(path).summary
    assert s["erp_target_n_trials"] == 0 and s["erp_target_n_rejected"] == 60
    assert "condition 'target' has no epoch left of its 60 events: 60 rejected by the 1 uV peak-to-peak threshold" \
        in s["notes"]
    assert not any(k.startswith("erp_target_p3") for k in s)


def test_truncated_and_parameter_problems_are_clear_errors(tmp_path):
    raw = simulate_raw(duration_s=20, conditions={}, seed=11)
    mne.export.export_raw(tmp_path / "rec.edf", raw, fmt="edf", verbose="error")
    data = (tmp_path / "rec.edf").read_bytes()
    (tmp_path / "cut.edf").write_bytes(data[:len(data) - len(data) // 4])
    with pytest.raises(RecordingError, match=r"cut\.edf: is truncated: its header declares \d+ data records"):
        EegProcessor().process(tmp_path / "cut.edf")
    raw.save(tmp_path / "rec_raw.fif", verbose="error")
    with pytest.raises(MeasurementError, match=r"rec_raw\.fif: its sampling rate \(2 Hz\) leaves no band between "
                                               r"l_freq \(0\.1 Hz\) and 1 Hz below the Nyquist frequency"):
        EegProcessor(resample_hz=2.0, l_freq=0.1).process(tmp_path / "rec_raw.fif")
    with pytest.raises(bitbox.ParameterError, match="l_freq"):
        EegProcessor(l_freq=30.0, h_freq=10.0).process(tmp_path / "rec_raw.fif")


def test_a_dependency_failure_names_the_file_and_the_step(oddball, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("Event time samples were not unique")

    monkeypatch.setattr(mne, "Epochs", broken)
    with pytest.raises(RecordingError) as err:
        EegProcessor().process(oddball[0])
    assert str(err.value) == (f"{oddball[0]}: epoching around the events failed (RuntimeError: Event time samples "
                              "were not unique). Check the events and epoch_tmin/epoch_tmax, or reject_uv")
    assert err.value.__cause__ is None and err.value.__suppress_context__  # no dependency traceback


def test_a_few_channels_get_a_reference_note(tmp_path):
    raw = simulate_raw(duration_s=20, conditions={}, seed=12).pick(["C3", "Cz", "C4"])
    raw.save(tmp_path / "three_raw.fif", verbose="error")
    notes = EegProcessor().process(tmp_path / "three_raw.fif").summary["notes"]
    assert notes.startswith("average reference over only 3 channels:")
    assert EegProcessor(reference="none").process(tmp_path / "three_raw.fif").summary["notes"] == ""


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
    assert manifest.loc["video", "face.status"] == "ok" and manifest.loc["video", "eeg.status"] == "not_applicable"
    assert manifest.loc["eeg_raw", "eeg.status"] == "ok" and manifest.loc["eeg_raw", "face.status"] == "not_applicable"
    assert sorted(p.name for p in (tmp_path / "out" / "eeg_raw").iterdir()) == ["eeg.json", "eeg.parquet"]
