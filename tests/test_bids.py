"""BIDS datasets as input (mne-bids): recordings found by their entities, events from events.tsv, bad channels
from channels.tsv, BIDS basenames as ids, and the output as a BIDS derivative.

The datasets are written by ``mne_bids.write_raw_bids`` from simulated EEG whose ERPs have known latencies;
their events exist only in events.tsv (the data files carry no stim channel and no annotations).
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import mne
import mne_bids
import pandas as pd
import pytest

import bitbox
from bitbox import ParameterError, RecordingError
from bitbox.batch import discover
from bitbox.batch.bids import bids_root
from bitbox.cli import main
from bitbox.processors.eeg import EegProcessor, bids_path, bids_sidecars
from bitbox.processors.eeg_simulation import ERPComponent, simulate_raw

#: Known P3 latencies (ms) of the two conditions, named in events.tsv's trial_type only.
LATENCY = {"target": 300.0, "standard": 500.0}
P3_PZ = {"p3": (200.0, 650.0, "positive", ("Pz",))}
PARAMS = {"eeg.components": P3_PZ, "eeg.reference": "none"}
#: A channel of normal data that channels.tsv marks bad (the detection alone would keep it).
MARKED_BAD = "C3"
EEG_01 = "sub-01_ses-1_task-oddball_run-1_eeg"
EEG_02 = "sub-02_task-oddball_eeg"
BEH_01 = "sub-01_ses-1_task-play_beh"


def _write_eeg(root: Path, seed: int, fmt: str, bads=(), duration_s: float = 100.0, n_events: int = 30,
               **entities) -> Path:
    """One simulated recording written into ``root`` by mne-bids, its events given only as events.tsv."""
    raw = simulate_raw(duration_s=duration_s, seed=seed, alpha_uv=4.0, n_events=n_events, conditions={
        name: (ERPComponent(latency, 12.0, 50, "Pz"),) for name, latency in LATENCY.items()})
    events, event_id = mne.events_from_annotations(raw, verbose="error")
    raw.set_annotations(None)  # no events in the data file: events.tsv is their only source
    raw.info["bads"] = list(bads)
    raw.info["line_freq"] = 50.0
    path = mne_bids.BIDSPath(root=root, datatype="eeg", **entities)
    written = mne_bids.write_raw_bids(raw, path, events=events, event_id=event_id, allow_preload=True, format=fmt,
                                      overwrite=True, verbose="error")
    return written.fpath


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, talking_head) -> Path:
    """Two subjects (EDF with a session, BrainVision without), a behaviour video with its sidecars, and the
    folders BIDS keeps beside the raw data (derivatives/, sourcedata/, code/) holding files of recording kinds."""
    root = tmp_path_factory.mktemp("bids") / "oddball"
    _write_eeg(root, 1, "EDF", bads=[MARKED_BAD], subject="01", session="1", task="oddball", run="1")
    _write_eeg(root, 2, "BrainVision", subject="02", task="oddball")
    beh = root / "sub-01" / "ses-1" / "beh"
    beh.mkdir(parents=True)
    shutil.copy(talking_head, beh / f"{BEH_01}.mp4")
    (beh / f"{BEH_01}.json").write_text(json.dumps({"TaskName": "play"}), encoding="utf-8")
    (beh / f"{BEH_01}.tsv").write_text("onset\tduration\n1.0\t2.0\n", encoding="utf-8")
    (beh / "notes_by_hand.txt").write_text("not BIDS-named", encoding="utf-8")
    (root / "CHANGES").write_text("1.0.0 initial\n", encoding="utf-8")
    for folder in ("derivatives/prep/sub-01/eeg", "sourcedata/sub-01", "code"):
        (root / folder).mkdir(parents=True)
    edf = root / "sub-01" / "ses-1" / "eeg" / f"{EEG_01}.edf"
    shutil.copy(edf, root / "derivatives" / "prep" / "sub-01" / "eeg" / "sub-01_task-oddball_desc-clean_eeg.edf")
    shutil.copy(edf, root / "sourcedata" / "sub-01" / "original.edf")
    (root / "code" / "convert.txt").write_text("how the data were converted", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def run(dataset, tmp_path_factory):
    """``bitbox.process_folder`` on the BIDS root, its output a derivative inside the root."""
    out = dataset / "derivatives" / "bitbox"
    result = bitbox.process_folder(dataset, out, processors=["eeg"], bids_derivative=True, progress=False, **PARAMS)
    return out, result


def test_recordings_are_found_by_bids_entities_and_sidecars_are_not_recordings(dataset, caplog):
    with caplog.at_level("INFO", logger="bitbox"):
        jobs, problems = discover([dataset], ["eeg", "video", "audio", "text"], companions={"text": ["audio", "video"]})
    assert problems == []
    found = {job.recording_id: Path(job.path).relative_to(dataset).as_posix() for job in jobs}
    assert found == {EEG_01: f"sub-01/ses-1/eeg/{EEG_01}.edf", EEG_02: f"sub-02/eeg/{EEG_02}.vhdr",
                     BEH_01: f"sub-01/ses-1/beh/{BEH_01}.mp4"}
    # what a loose-folder search would take as text recordings are the dataset's sidecars
    assert sorted(p.name for p in dataset.rglob("*.json") if "derivatives" not in p.parts)[:2] == [
        "dataset_description.json", "participants.json"]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("derivatives/, sourcedata/, code/ skipped" in m for m in messages) == 1
    assert any("not BIDS-named" in m and "notes_by_hand.txt" in m for m in messages)
    # a folder inside the dataset is searched by the same rules; a folder in derivatives/ as loose files
    jobs, _ = discover([dataset / "sub-02"], ["eeg", "text"])
    assert [job.recording_id for job in jobs] == [EEG_02]
    assert bids_root(dataset / "sub-01" / "ses-1") == dataset and bids_root(dataset / "derivatives") is None


def test_bids_run_gives_the_known_erp_latencies_of_each_condition_from_events_tsv(run, dataset):
    out, result = run
    summary = result.summary.set_index("recording_id")
    assert sorted(summary.index) == sorted([EEG_01, EEG_02]) and set(summary["status"]) == {"ok"}
    for rid in (EEG_01, EEG_02):
        row = summary.loc[rid]
        for condition, latency in LATENCY.items():
            assert row[f"eeg.erp_{condition}_n_trials"] == 30
            assert abs(row[f"eeg.erp_{condition}_p3_peak_latency_ms"] - latency) <= 12, (rid, condition)
    # the data files themselves hold no event: the conditions come from events.tsv's trial_type
    edf = dataset / "sub-01" / "ses-1" / "eeg" / f"{EEG_01}.edf"
    assert len(mne.io.read_raw_edf(edf, verbose="error").annotations) == 0
    loose = EegProcessor(**{k.split(".")[1]: v for k, v in PARAMS.items()}).process(_loose_copy(edf, dataset.parent))
    assert not any(k.startswith("erp_") for k in loose.summary) and loose.summary["bad_channels"] == ""


def _loose_copy(path: Path, folder: Path) -> Path:
    """The same data file outside any BIDS dataset."""
    target = folder / "loose" / "recording.edf"
    target.parent.mkdir(exist_ok=True)
    shutil.copy(path, target)
    return target


def test_a_channel_marked_bad_in_channels_tsv_is_excluded_and_reported(run, dataset):
    out, result = run
    summary = result.summary.set_index("recording_id")
    assert summary.loc[EEG_01, "eeg.bad_channels"] == MARKED_BAD and summary.loc[EEG_01, "eeg.n_bad_channels"] == 1
    assert f"{MARKED_BAD} (status bad in channels.tsv)" in summary.loc[EEG_01, "eeg.notes"]
    assert summary.loc[EEG_02, "eeg.bad_channels"] == ""
    # without interpolation the marked channel is dropped: no band power of its own
    edf = dataset / "sub-01" / "ses-1" / "eeg" / f"{EEG_01}.edf"
    s = EegProcessor(interpolate_bads=False, reference="none").process(edf).summary
    assert s["bad_channels"] == MARKED_BAD and s["n_channels"] == 18
    assert pd.isna(s[f"rel_power_alpha_ch_{MARKED_BAD}"]) and s["rel_power_alpha_ch_Pz"] > 0


def test_provenance_records_the_sidecars_read_with_their_sha256(run, dataset):
    out, _ = run
    provenance = json.loads((out / EEG_01 / "eeg.json").read_text(encoding="utf-8"))["provenance"]
    sidecars = provenance["companion_files"]
    events = dataset / "sub-01" / "ses-1" / "eeg" / "sub-01_ses-1_task-oddball_run-1_events.tsv"
    assert sidecars["bids_events"] == {"path": str(events), "sha256": hashlib.sha256(events.read_bytes()).hexdigest()}
    assert Path(sidecars["bids_channels"]["path"]).name == "sub-01_ses-1_task-oddball_run-1_channels.tsv"
    assert Path(sidecars["bids_sidecar"]["path"]).name == f"{EEG_01}.json"
    # outside BIDS there are none
    loose = _loose_copy(dataset / "sub-01" / "ses-1" / "eeg" / f"{EEG_01}.edf", dataset.parent)
    assert bids_path(loose) is None and bids_sidecars(loose) == {}


def test_the_output_is_a_bids_derivative_that_is_not_taken_as_input(run, dataset):
    out, result = run
    description = json.loads((out / "dataset_description.json").read_text(encoding="utf-8"))
    assert description["DatasetType"] == "derivative" and description["BIDSVersion"] == "1.9.0"
    assert description["Name"] and description["GeneratedBy"][0]["Name"] == "bitbox"
    assert description["GeneratedBy"][0]["Version"] == bitbox.__version__
    assert description["SourceDatasets"] == [{"URL": "bids:raw:"}]
    assert description["DatasetLinks"] == {"raw": dataset.as_uri()}
    assert (out / EEG_01 / "eeg.parquet").is_file() and (out / "summary.csv").is_file()
    # a second run (the CLI) finds the same recordings, not OUT's files, and reuses every result
    assert main(["run", str(dataset), "-o", str(out), "-p", "eeg", "--bids-derivative", "-q",
                 "--set", f"eeg.components={json.dumps(P3_PZ)}", "--set", "eeg.reference=none"]) == 0
    manifest = pd.read_csv(out / "manifest.csv", dtype=str)
    assert sorted(manifest["recording_id"]) == sorted([EEG_01, EEG_02])
    assert set(manifest["reused"]) == {"eeg"}  # already done: nothing recomputed


def test_a_derivative_never_overwrites_a_raw_dataset_and_needs_bids_input(dataset, tmp_path, talking_head):
    before = (dataset / "dataset_description.json").read_bytes()
    with pytest.raises(ParameterError, match="not a Bitbox derivative"):
        bitbox.process_folder(dataset, dataset, processors=["eeg"], bids_derivative=True, progress=False)
    assert (dataset / "dataset_description.json").read_bytes() == before
    shutil.copy(talking_head, tmp_path / "visit.mp4")
    with pytest.raises(ParameterError, match="needs a BIDS dataset"):
        bitbox.process_folder(tmp_path, tmp_path / "out", processors=["eeg", "face"], bids_derivative=True,
                              progress=False)


@pytest.fixture()
def small(tmp_path) -> Path:
    """A short BIDS recording whose sidecars the tests below break."""
    return _write_eeg(tmp_path / "ds", 3, "EDF", duration_s=20.0, n_events=5, subject="01", task="oddball")


def test_a_malformed_events_tsv_is_an_error_naming_the_file_and_the_fix(small):
    events = small.with_name("sub-01_task-oddball_events.tsv")
    text = events.read_text(encoding="utf-8")
    events.write_text(text.replace("\t", ","), encoding="utf-8")
    with pytest.raises(RecordingError, match="separated by ','") as err:
        EegProcessor().process(small)
    assert err.value.path == str(events) and "tab-separated" in str(err.value)
    lines = text.splitlines()
    lines[2] = "\t".join(["soon", *lines[2].split("\t")[1:]])
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RecordingError, match="line 3 of this BIDS events file has onset 'soon'"):
        EegProcessor().process(small)
    # in a batch: the recording fails with that reason, the run goes on
    result = bitbox.process_folder(small.parents[2], small.parents[3] / "out", processors=["eeg"], progress=False)
    assert result.counts["failed"] == 1 and "onset 'soon'" in result.manifest.loc[0, "reason"]


def test_missing_sidecars_are_notes_and_a_mismatched_channels_tsv_an_error(small):
    small.with_name("sub-01_task-oddball_events.tsv").unlink()
    s = EegProcessor(reference="none").process(small).summary
    assert "no BIDS events file (sub-01_task-oddball_events.tsv)" in s["notes"]
    assert not any(k.startswith("erp_") for k in s)
    channels = small.with_name("sub-01_task-oddball_channels.tsv")
    channels.write_text(channels.read_text(encoding="utf-8").replace("\nPz\t", "\nPZ_typo\t"), encoding="utf-8")
    with pytest.raises(RecordingError, match="lacks the data file's channel.s. Pz and lists channel.s. the data "
                                             "file does not have: PZ_typo") as err:
        EegProcessor().process(small)
    assert err.value.path == str(channels)
    assert set(bids_sidecars(small)) >= {"bids_channels", "bids_sidecar"} and "bids_events" not in bids_sidecars(small)


def test_an_edited_events_tsv_makes_the_batch_recompute_the_recording(small):
    out = small.parents[3] / "out"
    first = bitbox.process_folder(small.parents[2], out, processors=["eeg"], progress=False, **PARAMS)
    again = bitbox.process_folder(small.parents[2], out, processors=["eeg"], progress=False, **PARAMS)
    assert again.counts["already_done"] == 1
    events = small.with_name("sub-01_task-oddball_events.tsv")
    lines = events.read_text(encoding="utf-8").splitlines()
    events.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")  # one event fewer
    edited = bitbox.process_folder(small.parents[2], out, processors=["eeg"], progress=False, **PARAMS)
    assert edited.counts["already_done"] == 0
    n = {name: edited.summary.loc[0, f"eeg.erp_{name}_n_events"] for name in LATENCY}
    assert sum(n.values()) == sum(first.summary.loc[0, f"eeg.erp_{name}_n_events"] for name in LATENCY) - 1
