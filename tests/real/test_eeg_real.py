"""The EEG processor on pyedflib's real EDF/BDF files, and on faults injected into them (tools/faults/eeg.py).

The pyedflib test_generator files hold known signals: sines of named frequencies, squares,
ramps and noise, with 1-s (EDF, BDF), 0.5-s and 2-s data records; test_legacy.edf holds the
same data as test_generator.edf under a plain-EDF header; test_utf8.edf has a UTF-8 annotation.
"""
from __future__ import annotations

from collections import Counter
import math
import re
from pathlib import Path

import mne
import numpy as np
import pandas as pd
import pytest

import bitbox
from bitbox import RecordingError
from bitbox.processors.eeg import EegProcessor, read_raw
from tools.faults import eeg as faults

#: file -> (sampling rate, EEG channels, duration s, record s, {sine channel: its band}, reference="none")
GENERATORS = {
    "test_generator.edf": (200.0, 11, 600.0, 1.0, {"sine 1 Hz": "delta", "sine 8.5 Hz": "alpha",
                                                   "sine 15 Hz": "beta", "sine 17 Hz": "beta"}),
    "test_generator.bdf": (1000.0, 5, 30.0, 1.0, {"sine 5Hz": "theta"}),
    "test_generator_datarec_generator_0_5.bdf": (2000.0, 5, 30.0, 0.5, {"sine 10Hz": "alpha"}),
    "test_generator_datarec_generator_2.bdf": (500.0, 5, 30.0, 2.0, {"sine 2.5Hz": "delta"}),
}
SFREQ = 200  # test_generator.edf
#: BCI-competition-like events at t = k + 0.5 s: trial start (768) and cue (769/770 alternating) at the same
#: sample, feedback (781) at that sample too in every third trial; two events written twice.
TRIALS = list(range(2, 590, 4))
EVENTS = [e for i, k in enumerate(TRIALS)
          for e in [(k + 0.5, "768"), (k + 0.5, "770" if i % 2 == 0 else "769")] + ([(k + 0.5, "781")] if i % 3 == 0
                                                                                   else [])]
EVENTS += EVENTS[:2]  # (2.5 s, 768) and (2.5 s, 770) again
N_EVENTS = {"768": len(TRIALS), "769": len(TRIALS) // 2, "770": (len(TRIALS) + 1) // 2,
            "781": len(range(0, len(TRIALS), 3))}
N_781_WITH = {"770": len(range(0, len(TRIALS), 6)), "769": len(range(3, len(TRIALS), 6))}
SHARED_NOTE = ("2 repeated events (same sample, same code) merged: 768 x1, 770 x1 | "
               f"{len(TRIALS)} samples carry several event codes ("
               f"768+769 x{N_EVENTS['769'] - N_781_WITH['769']}, 768+770 x{N_EVENTS['770'] - N_781_WITH['770']}, "
               f"768+770+781 x{N_781_WITH['770']}, 768+769+781 x{N_781_WITH['769']}): each code's events were kept "
               "and epoched as their own condition")


def _erp_counts(summary: dict) -> dict[str, tuple[float, float, float]]:
    return {key[4:-9]: (summary[key], summary[key[:-9] + "_n_trials"], summary[key[:-9] + "_n_rejected"])
            for key in summary if key.startswith("erp_") and key.endswith("_n_events")}


@pytest.fixture(scope="module")
def faulty(real_edf_dir, tmp_path_factory):
    """Faulty copies of the real files (the inputs stay untouched)."""
    folder = tmp_path_factory.mktemp("eeg_faults")
    edf = real_edf_dir / "test_generator.edf"
    stim = [(int((k + 0.5) * SFREQ), 1 + i % 2) for i, k in enumerate(TRIALS)]
    paths = {
        "half_edf": faults.truncate(edf, folder / "half.edf"),
        "half_bdf": faults.truncate(real_edf_dir / "test_generator_datarec_generator_0_5.bdf", folder / "half.bdf"),
        "volts": faults.mislabel_units(edf, folder / "volts.edf"),
        "events": faults.add_annotations(edf, folder / "events.edf", EVENTS),
        "stim": faults.add_stim_channel(edf, folder / "stim.edf", "pulse", stim),
        "gdf": faults.to_gdf(edf, folder / "mi.gdf", [(int(round(t * SFREQ)), int(c)) for t, c in EVENTS]),
    }
    paths["events_volts"] = faults.mislabel_units(paths["events"], folder / "events_volts.edf")
    paths["half_gdf"] = faults.truncate(paths["gdf"], folder / "half.gdf", fraction=0.25)
    return paths


@pytest.fixture(scope="module")
def generator_results(real_edf_dir):
    return {name: EegProcessor(reference="none").process(real_edf_dir / name).summary for name in GENERATORS}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generator_files_read_with_their_known_layout_and_spectra(real_edf_dir, generator_results, name):
    sfreq, n_channels, duration, _, sines = GENERATORS[name]
    raw = read_raw(real_edf_dir / name)
    assert raw.info["sfreq"] == sfreq and len(raw.ch_names) == n_channels
    assert raw.n_times == duration * sfreq
    s = generator_results[name]
    assert s["duration_s"] == duration and s["units_suspect"] == 0
    for channel, band in sines.items():  # a pure sine puts (nearly) all its power in its band
        assert s[f"rel_power_{band}_ch_{channel}"] > 0.95, (channel, band)


def test_alpha_peak_of_the_10_hz_sine_in_half_second_records(generator_results):
    assert generator_results["test_generator_datarec_generator_0_5.bdf"]["alpha_peak_hz"] == pytest.approx(10, abs=0.1)


def test_the_notched_50_hz_sine_is_a_named_bad_channel(generator_results):
    s = generator_results["test_generator.edf"]
    bads = s["bad_channels"].split(", ")
    assert "sine 50 Hz" in bads and s["n_bad_channels"] == len(bads)  # the 50 Hz notch leaves it near-flat
    assert np.isnan(s["rel_power_alpha_ch_sine 50 Hz"])  # dropped (no positions to interpolate from): NaN ...
    assert "bad channels " in s["notes"] and "sine 50 Hz (low variance" in s["notes"]  # ... and named
    assert s["n_channels"] == 11 - len(bads)
    assert "dropped (no electrode positions to interpolate from)" in s["notes"]


def test_legacy_edf_gives_the_same_measures_as_its_edf_plus_twin(real_edf_dir, generator_results):
    legacy = EegProcessor(reference="none").process(real_edf_dir / "test_legacy.edf").summary
    twin = generator_results["test_generator.edf"]
    for key in ("rel_power_alpha", "abs_power_beta_uv2", "alpha_peak_hz", "rel_power_beta_ch_sine 15 Hz"):
        assert legacy[key] == pytest.approx(twin[key], rel=1e-9)


def test_average_reference_over_few_channels_is_noted(real_edf_dir):
    s = EegProcessor().process(real_edf_dir / "test_generator.bdf").summary
    assert s["notes"].startswith("average reference over only 5 channels: the average of so few channels is far "
                                 "from neutral and takes part of the signal away (use 8 or more channels spread over "
                                 "the scalp); rerun with --set eeg.reference=none to keep the recorded reference")
    # Its sines and squares have no alpha rhythm: the NaN peak says why.
    assert math.isnan(s["alpha_peak_hz"])
    assert "alpha_peak_hz is NaN: no peak between 7 and 13 Hz above the 1/f fit (no alpha rhythm" in s["notes"]


def test_utf8_annotations_become_conditions(real_edf_dir):
    path = real_edf_dir / "test_utf8.edf"
    truth = Counter(mne.io.read_raw_edf(path, verbose="error").annotations.description)
    assert truth["中文测试八个字"] == 1
    s = EegProcessor().process(path).summary
    counts = _erp_counts(s)
    assert counts["event"][0] == truth["中文测试八个字"]  # no [a-z0-9] left in the name: "event"
    assert counts["xlspike"][0] == truth["XLSpike"] and counts["clip_note"][0] == truth["Clip Note"]
    assert s["n_channels"] == 1 and "average reference skipped: only 1 good channel" in s["notes"]


# ---------------------------------------------------------------------------- injected faults
def test_truncated_edf_is_refused_with_the_missing_duration(real_edf_dir, faulty):
    size = (real_edf_dir / "test_generator.edf").stat().st_size
    record = 11 * 200 * 2 + 57 * 2  # bytes per 1-s record: 11 signals x 200 samples + the annotation signal
    held = (size // 2 - 3328) / record
    with pytest.raises(RecordingError) as err:
        EegProcessor().process(faulty["half_edf"])
    assert err.value.reason == (f"is truncated: its header declares 600 data records of 1 s (600 s) but the file "
                                f"holds only {held:.1f} s of data: {600 - held:.1f} s (50%) of the recording are "
                                f"missing ({size - size // 2} bytes)")


def test_truncated_bdf_with_half_second_records_and_gdf_are_refused(faulty):
    with pytest.raises(RecordingError, match=r"60 data records of 0\.5 s \(30 s\) but the file holds only 15 s "
                                             r"of data: 15 s \(50%\)"):
        read_raw(faulty["half_bdf"])
    gdf_size = faulty["gdf"].stat().st_size  # 12 x 256 header bytes, 600 records of 11 x 200 float32 samples
    held = (gdf_size // 4 - 12 * 256) / (11 * 200 * 4)
    with pytest.raises(RecordingError, match=rf"600 data records of 1 s \(600 s\) but the file holds only "
                                             rf"{held:.1f} s of data: {600 - held:.1f} s \(75%\)"):
        read_raw(faulty["half_gdf"])


def test_microvolts_labelled_as_volts_are_noted_and_fixed_by_units(real_edf_dir, faulty, generator_results):
    wrong = EegProcessor(reference="none").process(faulty["volts"]).summary
    assert wrong["units_suspect"] == 1
    assert wrong["notes"].startswith(f"median channel amplitude {wrong['amplitude_median_uv']:.2g} uV is implausible "
                                     "for scalp EEG: the file's units are probably microvolts labelled as volts; "
                                     "rerun with --set eeg.units=uV | ")
    np.testing.assert_allclose(read_raw(faulty["volts"], units="uV").get_data(),
                               read_raw(real_edf_dir / "test_generator.edf").get_data(), rtol=1e-12, atol=0)
    fixed = EegProcessor(reference="none", units="uV").process(faulty["volts"]).summary
    truth = generator_results["test_generator.edf"]
    assert fixed["units_suspect"] == 0 and "implausible" not in fixed["notes"]
    assert fixed["amplitude_median_uv"] == pytest.approx(truth["amplitude_median_uv"], rel=1e-9)
    assert 50 < fixed["amplitude_median_uv"] < 100  # +-100 uV test signals


def test_wrong_units_reject_every_epoch_and_say_why(faulty):
    """The report's case: with the units flag raised all epochs went, and the row said nothing."""
    right = _erp_counts(EegProcessor(reject_uv=500.0).process(faulty["events"]).summary)
    result = EegProcessor(reject_uv=500.0).process(faulty["events_volts"]).summary
    wrong = _erp_counts(result)
    for code, n in N_EVENTS.items():
        assert right[code] == (n, n, 0)  # the +-100 uV signals pass a 500 uV threshold
        assert wrong[code] == (n, 0, n)
        assert (f"condition '{code}' has no epoch left of its {n} events: {n} rejected by the 500 uV "
                "peak-to-peak threshold") in result["notes"]
    assert "rerun with --set eeg.units=uV" in result["notes"]
    fixed = _erp_counts(EegProcessor(reject_uv=500.0, units="uV").process(faulty["events_volts"]).summary)
    assert fixed == right


@pytest.fixture(scope="module")
def simultaneous(faulty):
    edf = EegProcessor(reject_uv=None).process(faulty["events"]).summary
    gdf = EegProcessor(reject_uv=None).process(faulty["gdf"]).summary
    return edf, gdf


def test_simultaneous_edf_annotations_give_every_codes_erp(simultaneous):
    s, _ = simultaneous
    counts = _erp_counts(s)
    for code, n in N_EVENTS.items():
        assert counts[code] == (n, n, 0), code
        assert f"erp_{code}_p3_mean_amplitude_uv" in s
    # 768 falls on exactly the samples of 769 and 770, so its ERP is their trial-weighted mean (linear steps).
    n9, n0 = N_EVENTS["769"], N_EVENTS["770"]
    mixed = (n9 * s["erp_769_p3_mean_amplitude_uv"] + n0 * s["erp_770_p3_mean_amplitude_uv"]) / (n9 + n0)
    assert s["erp_768_p3_mean_amplitude_uv"] == pytest.approx(mixed, rel=1e-9, abs=1e-9)
    assert SHARED_NOTE in s["notes"]
    assert "each code's events were kept and epoched as their own condition" in s["notes"]
    # EDF+ "Recording starts/ends" mark the recording, not a stimulus: no condition, no note.
    assert set(counts) == set(N_EVENTS) and "Recording" not in s["notes"]


def test_events_too_close_to_the_edges_leave_a_condition_empty_and_say_why(real_edf_dir, tmp_path):
    path = faults.add_annotations(real_edf_dir / "test_generator.edf", tmp_path / "edges.edf",
                                  [(0.05, "onset"), (599.9, "onset"), (300.5, "middle")])
    s = EegProcessor(reject_uv=None).process(path).summary
    assert _erp_counts(s) == {"onset": (2, 0, 0), "middle": (1, 1, 0)}
    assert "condition 'onset' has no epoch left of its 2 events: 2 too close to the recording's start or end for " \
           "a -0.2 to 0.8 s epoch" in s["notes"]


def test_simultaneous_gdf_events_of_a_bci_recording(simultaneous):
    """The report's case: a GDF with trial-start, cue and feedback codes sharing samples (was an internal error)."""
    edf, gdf = simultaneous
    counts = _erp_counts(gdf)
    assert counts == {code: (n, n, 0) for code, n in N_EVENTS.items()}  # codes name the conditions
    assert SHARED_NOTE in gdf["notes"]
    for code in N_EVENTS:  # the same data in GDF float32 as in EDF int16
        assert gdf[f"erp_{code}_p3_mean_amplitude_uv"] == pytest.approx(edf[f"erp_{code}_p3_mean_amplitude_uv"],
                                                                        abs=0.05)


def test_stim_channel_events_are_read_before_it_is_dropped(faulty):
    s = EegProcessor(reject_uv=None).process(faulty["stim"]).summary
    counts = _erp_counts(s)
    assert counts["1"] == (N_EVENTS["770"], N_EVENTS["770"], 0) and counts["2"] == (N_EVENTS["769"],) * 2 + (0,)
    assert not any("TRIGGER" in key for key in s)  # the stim channel is not analysed as EEG
    assert s["n_channels"] + s["n_bad_channels"] == 10


def test_batch_rows_say_what_happened(faulty, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for key in ("half_edf", "gdf", "volts"):
        (folder / faulty[key].name).write_bytes(faulty[key].read_bytes())
    result = bitbox.process_folder(folder, tmp_path / "out", processors=["eeg"], progress=False,
                                   reject_uv=None)
    summary = pd.read_csv(tmp_path / "out" / "summary.csv", keep_default_na=False).set_index("recording_id")
    assert summary.loc["half", "status"] == "failed"
    assert "is truncated" in summary.loc["half", "error"] and "internal error" not in summary.loc["half", "error"]
    assert summary.loc["mi", "status"] == "ok" and float(summary.loc["mi", "eeg.erp_781_n_events"]) == N_EVENTS["781"]
    assert "samples carry several event codes" in summary.loc["mi", "eeg.notes"]
    assert "rerun with --set eeg.units=uV" in summary.loc["volts", "eeg.notes"]
    assert "sine 50 Hz" in summary.loc["volts", "eeg.bad_channels"]
    assert len(result.manifest) == 3


def test_eegfactors_epochs_a_bci_recording_with_shared_event_samples(faulty, tmp_path):
    """``bitbox eegfactors``' epoching reads the same GDF: every code's events become epochs."""
    import mne

    from bitbox.clinical.eeg_factors.data import epochs_from_raw

    (written,) = epochs_from_raw([faulty["gdf"]], tmp_path, reject_uv=None)
    assert written.name == "mi-epo.fif"
    epochs = mne.read_epochs(written, verbose="error")
    counts = {code: len(epochs[code]) for code in N_EVENTS}
    assert counts == N_EVENTS


def test_events_carried_both_as_annotations_and_on_a_stim_channel_count_once(faulty, tmp_path):
    both = faults.add_stim_channel(faulty["events"], tmp_path / "both.edf", "pulse",
                                   [(int((k + 0.5) * SFREQ), 1 + i % 2) for i, k in enumerate(TRIALS)])
    s = EegProcessor(reject_uv=None).process(both).summary
    assert _erp_counts(s) == {code: (n, n, 0) for code, n in N_EVENTS.items()}  # no "1"/"2" twins
    assert f"{len(TRIALS)} triggers of the stim channel(s) TRIGGER lie at the samples of events the annotations " \
           "already hold: counted once" in s["notes"]


@pytest.fixture(scope="module")
def exported(faulty, tmp_path_factory):
    """The real EDF with its BCI events (first 60 s) as BrainVision and EEGLAB files, as labs exchange them."""
    folder = tmp_path_factory.mktemp("exported")
    embedded = faults.export(faulty["events"], folder / "embedded.set", seconds=60.0)
    return {"bv": faults.export(faulty["events"], folder / "rec.vhdr", seconds=60.0), "embedded": embedded,
            "set": faults.separate_fdt(embedded, folder / "rec.set")}


def _copy_set(files: list[Path], folder: Path, stem: str) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for file in files:
        out[file.suffix] = folder / f"{stem}{file.suffix}"
        out[file.suffix].write_bytes(file.read_bytes())
    return out


def test_brainvision_and_eeglab_exports_give_the_edf_s_measures(exported, faulty):
    edf = EegProcessor(reject_uv=None).process(faulty["events"]).summary
    for key in ("bv", "embedded", "set"):
        s = EegProcessor(reject_uv=None).process(exported[key]).summary
        assert s["duration_s"] == pytest.approx(60.0)
        assert s["rel_power_alpha"] == pytest.approx(edf["rel_power_alpha"], abs=0.05), key
        assert {k for k in _erp_counts(s)} == set(N_EVENTS), key


def test_a_truncated_brainvision_data_file_is_refused(exported, tmp_path):
    vhdr = exported["bv"]
    files = [vhdr, vhdr.with_suffix(".vmrk"), vhdr.with_suffix(".eeg")]
    odd = _copy_set(files, tmp_path / "odd", "rec")  # cut mid-sample (the header names rec.eeg/rec.vmrk)
    faults.cut(vhdr.with_suffix(".eeg"), odd[".eeg"], vhdr.with_suffix(".eeg").stat().st_size // 2 + 1)
    with pytest.raises(RecordingError, match=r"its data file 'rec.eeg' is truncated: \d+ bytes is not a whole "
                                             r"number of samples of its \d+ channels"):
        EegProcessor().process(odd[".vhdr"])
    whole = _copy_set(files, tmp_path / "whole", "rec")  # cut at a sample boundary: the markers tell
    n_ch = int(re.search(r"NumberOfChannels=(\d+)", vhdr.read_text()).group(1))
    frame = n_ch * {"INT_16": 2, "IEEE_FLOAT_32": 4}[re.search(r"BinaryFormat=(\w+)", vhdr.read_text()).group(1)]
    half = vhdr.with_suffix(".eeg").stat().st_size // 2 // frame * frame
    faults.cut(vhdr.with_suffix(".eeg"), whole[".eeg"], half)
    with pytest.raises(RecordingError, match=r"its data file 'rec.eeg' is probably truncated: it holds 30 s of "
                                             r"data but \d+ of the \d+ markers lie after its end"):
        EegProcessor().process(whole[".vhdr"])


def test_renamed_brainvision_files_get_the_fix_that_works(exported, tmp_path):
    vhdr = exported["bv"]
    renamed = _copy_set([vhdr, vhdr.with_suffix(".vmrk"), vhdr.with_suffix(".eeg")], tmp_path, "patient01")
    with pytest.raises(RecordingError) as err:
        EegProcessor().process(renamed[".vhdr"])
    assert str(err.value).endswith("the BrainVision companion file 'rec.eeg' that the header names (DataFile=) is "
                                   "missing. The files were probably renamed: set DataFile=patient01.eeg in "
                                   "patient01.vhdr (a text file)")


def test_a_truncated_eeglab_data_file_is_refused(exported, tmp_path):
    files = [exported["set"], exported["set"].with_suffix(".fdt")]
    copy = _copy_set(files, tmp_path, "rec")
    size = files[1].stat().st_size
    faults.cut(files[1], copy[".fdt"], size // 2)
    with pytest.raises(RecordingError, match=rf"its data file 'rec.fdt' is truncated: it holds {size // 2} of the "
                                             rf"{size} bytes that \d+ channels x 12000 points need \(50% missing\)"):
        EegProcessor().process(copy[".set"])
    copy[".fdt"].unlink()
    with pytest.raises(RecordingError, match="the EEGLAB data file 'rec.fdt' is missing"):
        EegProcessor().process(copy[".set"])
