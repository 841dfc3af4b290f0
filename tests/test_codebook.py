"""The codebook beside every results folder (codebook.csv and codebook.json) and safe column names: every
column of summary.csv and of each time series described, renamed columns traced to the processor's names,
value labels of codes, and a reason for every empty cell of summary.csv."""
from __future__ import annotations

import json
import math
import re
import shutil

import numpy as np
import pandas as pd
import pytest

import bitbox
from bitbox import Measure, Processor
from bitbox.catalog import SAFE_COLUMN, safe_key, summary_columns
from bitbox.processors.eeg_simulation import simulate_raw

FALLBACK = "gave no value and no note"


class Channels(Processor):
    """Reads ``<channel name> <value>`` lines (names with spaces, as EEG channel names have): a time series
    with an indicator column, one summary value per channel, a NaN mean explained by a note."""

    name = "channels"
    version = "1"
    input_kinds = ("text",)
    measures = (
        Measure("value", "uV", "The line's value.", valid_range=(-1000, 1000)),
        Measure("high", "1", "1 when the value is above 10.", valid_range=(0, 1), dtype="int"),
        Measure("state", "1", "A coded state.", valid_range=(0, 2), dtype="int",
                value_labels={0: "rest", 1: "task", 2: "break"}),
        Measure(r"value_ch_.+", "uV", "The value of one channel.", "summary", (-1000, 1000), pattern=True),
        Measure("value_mean", "uV", "Mean of the positive values.", "summary", (0, 1000)),
        Measure("notes", "", "Why values are missing.", "summary", dtype="str"),
    )

    def __init__(self) -> None:
        pass

    def compute(self, recording, sink, progress=None):
        lines = [ln.rsplit(" ", 1) for ln in recording.path.read_text().splitlines() if ln.strip()]
        values = np.array([float(v) for _, v in lines])
        sink.append(pd.DataFrame({"time_s": np.arange(len(values), dtype=float), "value": values,
                                  "high": (values > 10).astype(int), "state": np.arange(len(values)) % 3}))
        positive = values[values > 0]
        summary = {f"value_ch_{name}": float(v) for name, v in lines}
        summary["value_mean"] = float(positive.mean()) if len(positive) else math.nan
        summary["notes"] = "" if len(positive) else "value_mean is NaN: no positive value - record longer"
        return summary


class Fails(Processor):
    name = "fails"
    version = "1"
    input_kinds = ("text",)
    measures = (Measure("n", "1", "Never measured.", "summary", (0, 10)),)

    def __init__(self) -> None:
        pass

    def compute(self, recording, sink, progress=None):
        raise bitbox.RecordingError(recording.path, "has nothing this processor can read")


def _codebook(out):
    table = pd.read_csv(out / "codebook.csv", keep_default_na=False)
    data = json.loads((out / "codebook.json").read_text())
    return table, data


def _reasons(data):
    return {(m["recording_id"], col): r["reason"] for m in data["missing"] for r in m["reasons"]
            for col in r["columns"]}


def test_safe_names_keep_safe_keys_and_tell_collisions_apart():
    assert safe_key("rel_power_delta_ch_Channel 1") == "rel_power_delta_ch_Channel_1"
    assert safe_key("abs_power_alpha_uv2_ch_EEG Fpz-Cz") == "abs_power_alpha_uv2_ch_EEG_Fpz_Cz"
    assert safe_key("Müller ") == "Muller" and safe_key("1st") == "m_1st" and safe_key("a.b") == "a.b"
    columns, originals = summary_columns("eeg", {"x y": 1, "x_y": 2, "x-y": 3})
    assert list(columns.values()) == [1, 2, 3] and "eeg.x_y" in columns  # the safe key keeps its name
    assert sorted(originals.values()) == ["eeg.x y", "eeg.x-y"] and all(re.fullmatch(r"eeg\.x_y_[0-9a-f]{6}", c)
                                                                      for c in originals)
    again, _ = summary_columns("eeg", {"x-y": 3, "x y": 1, "x_y": 2})  # the same original, the same column
    assert {v: c for c, v in again.items()} == {v: c for c, v in columns.items()}
    alpha, beta = summary_columns("eeg", {"ch_α": 1, "ch_β": 2})[0]  # no ASCII letter left: told apart
    assert alpha != beta and alpha.startswith("eeg.ch")


def test_codebook_describes_every_column_renames_and_codes(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("EEG Fz 12\nEEG Pz-ref 3\n")
    (folder / "b.txt").write_text("EEG Fz -4\n")
    out = tmp_path / "out"
    result = bitbox.process_folder(folder, out, [Channels(), Fails()], progress=False)
    summary = pd.read_csv(out / "summary.csv")
    assert all(SAFE_COLUMN.fullmatch(c) for c in summary.columns)
    assert "channels.value_ch_EEG_Pz_ref" in summary.columns and "channels.value_ch_EEG_Fz" in result.summary
    table, data = _codebook(out)
    assert table["column"].tolist() == [r["column"] for r in data["columns"]]
    rows = table[table["table"] == "summary.csv"].set_index("column")
    assert rows.index.tolist() == summary.columns.tolist()
    assert rows.loc["channels.value_ch_EEG_Pz_ref", "original"] == "channels.value_ch_EEG Pz-ref"
    assert rows.loc["channels.value_ch_EEG_Pz_ref", "measure"] == r"value_ch_.+"
    assert rows.loc["channels.value_ch_EEG_Pz_ref", "unit"] == "uV"
    assert rows.loc["channels.value_mean", "valid_min"] == "0" and rows.loc["channels.value_mean", "original"] == ""
    assert rows.loc["status", "value_labels"].startswith("ok = no processor failed")
    series = table[table["table"] == "channels.parquet"].set_index("column")
    assert series.index.tolist() == ["time_s", "value", "high", "state"]
    assert series.loc["high", "value_labels"] == "0 = no; 1 = yes"
    assert series.loc["state", "value_labels"] == "0 = rest; 1 = task; 2 = break"
    state = next(r for r in data["columns"] if r["column"] == "state")
    assert state["value_labels"] == {"0": "rest", "1": "task", "2": "break"} and state["valid_max"] == 2
    reasons = _reasons(data)
    assert reasons[("b", "channels.value_mean")] == "value_mean is NaN: no positive value - record longer"
    assert "other recordings have and this one does not" in reasons[("b", "channels.value_ch_EEG_Pz_ref")]
    assert reasons[("a", "fails.*")].startswith("fails failed: ") and "has nothing" in reasons[("a", "fails.*")]
    assert ("a", "channels.value_mean") not in reasons
    # every empty cell of the channels processor has its own reason; the failed processor's, its error
    for row in summary.to_dict("records"):
        for column, value in row.items():
            name = column.split(".", 1)[0]
            if name in ("channels", "fails") and not column.endswith(("status", "error", "notes")) \
                    and isinstance(value, float) and math.isnan(value):
                key = (row["recording_id"], column if name == "channels" else "fails.*")
                assert key in reasons, key


def test_a_later_run_keeps_the_original_names(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("EEG Fz 12\n")
    out = tmp_path / "out"
    bitbox.process_folder(folder, out, [Channels()], progress=False)
    (folder / "c.txt").write_text("Cz 1\n")
    bitbox.process_folder(folder, out, [Channels()], progress=False)  # a is reused, c is new
    rows = pd.read_csv(out / "codebook.csv", keep_default_na=False).set_index("column")
    assert rows.loc["channels.value_ch_EEG_Fz", "original"] == "channels.value_ch_EEG Fz"
    assert rows.loc["channels.value_ch_Cz", "original"] == ""


def test_a_mixed_face_speech_eeg_batch_is_fully_described(tmp_path, talking_head):
    """A real video (face), a read story (speech, speakers) and EEG whose channel names hold spaces, with a flat
    electrode and every epoch rejected: every empty cell's reason is the processor's own, none is a guess."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(talking_head, folder / "talking_head.mp4")
    shutil.copy(talking_head.parent / "spoken_story.flac", folder / "spoken_story.flac")
    raw = simulate_raw(duration_s=60, n_events=20, seed=3)
    raw.rename_channels({"Fz": "EEG Fz", "Pz": "EEG Pz-ref"})
    raw._data[raw.ch_names.index("Cz")] = 0.0  # a flat electrode: marked bad and, not interpolated, dropped
    raw.save(folder / "eeg_raw.fif", verbose="error")
    out = tmp_path / "out"
    bitbox.process_folder(folder, out, ["face", "speech", "speakers", "eeg"], progress=False, frame_step=10,
                          interpolate_bads=False, reject_uv=20.0)
    summary = pd.read_csv(out / "summary.csv")
    assert all(SAFE_COLUMN.fullmatch(c) for c in summary.columns)
    table, data = _codebook(out)
    rows = table[table["table"] == "summary.csv"]
    assert rows["column"].tolist() == summary.columns.tolist()
    assert not rows["description"].str.startswith("Not in the catalog").any()
    assert rows.set_index("column").loc["eeg.rel_power_alpha_ch_EEG_Pz_ref", "original"] == \
        "eeg.rel_power_alpha_ch_EEG Pz-ref"
    for parquet in sorted(out.glob("*/*.parquet")):  # every column of every time series
        columns = pd.read_parquet(parquet).columns
        described = table[table["table"] == parquet.name]
        assert set(columns) <= set(described["column"]), parquet
        assert not described["description"].str.startswith("Not in the catalog").any(), parquet
    face = table[table["table"] == "face.parquet"].set_index("column")
    assert face.loc["face_detected", "value_labels"] == "0 = no; 1 = yes" and face.loc["landmarks", "dtype"] == "array"
    reasons = _reasons(data)
    text = set(rows.loc[rows["dtype"] == "str", "column"])  # empty text is no missing value
    n_empty = 0
    for row in summary.to_dict("records"):
        rid = row["recording_id"]
        for column, value in row.items():
            name = column.split(".", 1)[0]
            if "." not in column or column in text:
                continue
            if isinstance(value, float) and math.isnan(value):
                n_empty += 1
                why = reasons.get((rid, column)) or reasons.get((rid, f"{name}.*"))
                assert why and FALLBACK not in why, (rid, column)
    assert n_empty > 100  # face and EEG columns of the audio file, speech on the silent video, short-clip scales
    assert re.search(r"speech not applicable: .*no audio", reasons[("talking_head", "speech.*")])
    assert "marked bad and dropped" in reasons[("eeg_raw", "eeg.rel_power_alpha_ch_Cz")]  # not "lacks"
    eeg_notes = summary.set_index("recording_id").loc["eeg_raw", "eeg.notes"]
    assert "erp_target_* are NaN: condition 'target' has no epoch left" in eeg_notes  # all rejected
    assert "no target speaker was chosen" in reasons[("spoken_story", "speakers.target_talk_time_s")]
    assert not any("does not" in why for (rid, _), why in reasons.items() if rid == "eeg_raw")


def test_an_out_of_unsafe_names_is_renamed_on_the_next_run(tmp_path):
    """summary.csv written before names were made safe: its columns are renamed, none kept twice."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("EEG Fz 12\n")
    out = tmp_path / "out"
    bitbox.process_folder(folder, out, [Channels()], progress=False)
    old = pd.read_csv(out / "summary.csv").rename(columns={"channels.value_ch_EEG_Fz": "channels.value_ch_EEG Fz"})
    old.to_csv(out / "summary.csv", index=False)
    (out / "codebook.json").unlink()
    bitbox.process_folder(folder, out, [Channels()], progress=False)  # reused
    summary = pd.read_csv(out / "summary.csv")
    assert all(SAFE_COLUMN.fullmatch(c) for c in summary.columns)
    assert summary["channels.value_ch_EEG_Fz"].tolist() == [12.0]
    rows = pd.read_csv(out / "codebook.csv", keep_default_na=False).set_index("column")
    assert rows.loc["channels.value_ch_EEG_Fz", "original"] == "channels.value_ch_EEG Fz"
