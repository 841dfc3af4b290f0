"""bitbox export: a results folder as SPSS (.sav), Stata (.dta) and CSV files, read back with pyreadstat."""
from __future__ import annotations

import math
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pyreadstat
import pytest

import bitbox
from bitbox import Measure, Processor
from bitbox.errors import BitboxError, ParameterError
from bitbox.export import export, variable_names


class Counts(Processor):
    """Reads ``<word> <number>`` lines: a time series with an array column, per-channel summary columns whose
    names hold spaces (as EEG channel names do), a text note."""

    name = "counts"
    version = "1"
    input_kinds = ("text",)
    measures = (
        Measure("value", "s", "The line's number.", valid_range=(0, 1000)),
        Measure("points", "px", "Three values per line.", dtype="array"),
        Measure("value_mean", "s", "Mean of the values.", "summary", (0, 1000)),
        Measure(r"value_ch_.+", "s", "The value of one channel.", "summary", (0, 1000), pattern=True),
        Measure("n_lines", "1", "Lines read.", "summary", (0, 1e6), dtype="int"),
        Measure("flag", "", "Whether there are two lines or more.", "summary", dtype="bool"),
        Measure("notes", "", "Why a value is missing.", "summary", dtype="str"),
    )

    def __init__(self) -> None:
        pass

    def compute(self, recording, sink, progress=None):
        lines = [ln.split() for ln in recording.path.read_text().splitlines() if ln.strip()]
        values = [float(v) for _, v in lines]
        sink.append(pd.DataFrame({"time_s": np.arange(len(lines), dtype=float), "value": values,
                                  "points": [[v, v + 1, v + 2] for v in values]}))
        summary = {"value_mean": float(np.mean(values)), "n_lines": len(lines), "flag": len(lines) >= 2,
                   "notes": "no channel 2" if len(lines) < 2 else ""}
        summary.update({f"value_ch_Channel {i + 1}": v for i, v in enumerate(values[:2])})
        return summary


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("in")
    (folder / "a.txt").write_text("x 1\ny 3\n")
    (folder / "b.txt").write_text("z 5\n")
    out = tmp_path_factory.mktemp("out") / "results"
    bitbox.process_folder(folder, out, [Counts()], progress=False)
    return out


def test_names_are_valid_and_unique_in_every_format():
    long = ["eeg.rel_power_delta_ch_a_very_long_channel_name_1", "eeg.rel_power_delta_ch_a_very_long_channel_name_2"]
    stata = variable_names(["face.blink rate", "1st", "_all", *long], "stata")
    assert list(stata.values())[:3] == ["face_blink_rate", "v_1st", "v__all"]
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,31}", name) for name in stata.values())
    assert len(set(stata.values())) == len(stata)
    assert stata[long[0]].endswith("__1") and stata[long[1]].endswith("__2")  # cut names are marked
    spss = variable_names(["face.blink_rate", "with", "a."], "spss")
    assert spss == {"face.blink_rate": "face.blink_rate", "with": "with_", "a.": "a"}
    with pytest.raises(ParameterError, match="must be one of spss, stata, csv"):
        variable_names(["a"], "sas")


def test_spss_and_stata_files_read_back_with_labels_and_the_same_values(results):
    written = export(results, to="spss,stata,csv", timeseries=True)
    summary = pd.read_csv(results / "summary.csv")
    for fmt, reader in (("spss", pyreadstat.read_sav), ("stata", pyreadstat.read_dta)):
        table, meta = reader(str(written[fmt][0]))
        names = variable_names(summary.columns, fmt)
        assert list(table.columns) == [names[c] for c in summary.columns]
        for column in ("counts.value_mean", "counts.n_lines", "counts.value_ch_Channel_2"):
            back = table[names[column]].to_numpy(dtype=float)
            assert np.allclose(back, summary[column].to_numpy(dtype=float), equal_nan=True), (fmt, column)
        label = meta.column_names_to_labels[names["counts.value_mean"]]
        assert label == "counts.value_mean: Mean of the values. [s]"
        assert meta.column_names_to_labels[names["counts.value_ch_Channel_1"]] == \
            "counts.value_ch_Channel_1: The value of one channel. [s]"
        assert all(len(label) <= (80 if fmt == "stata" else 256) for label in meta.column_names_to_labels.values()
                   if label)
        assert table[names["counts.flag"]].tolist() == [1, 0]  # yes/no as 1/0, with their value labels
        assert meta.variable_value_labels[names["counts.flag"]] == {0: "no", 1: "yes"}
        assert names["counts.value_mean"] not in meta.variable_value_labels
        notes = dict(zip(table[names["recording_id"]], table[names["counts.notes"]]))
        assert notes == {"a": "", "b": "no channel 2"}  # the reason for b's missing channel 2 travels with it
    assert math.isnan(summary.set_index("recording_id").loc["b", "counts.value_ch_Channel_2"])
    variables = pd.read_csv(written["variables"][0], keep_default_na=False).set_index("column")
    assert variables.loc["counts.value_ch_Channel_1", "stata_name"] == "counts_value_ch_Channel_1"
    assert variables.loc["counts.flag", "value_labels"] == "0 = no; 1 = yes"
    assert variables.loc["counts.value_mean", "unit"] == "s"
    assert pd.read_csv(written["csv"][0]).equals(summary)
    assert [p.name for p in written["csv"]] == ["summary.csv", "codebook.csv", "codebook.json"]
    assert (written["csv"][2]).read_bytes() == (results / "codebook.json").read_bytes()


def test_time_series_as_csv_with_arrays_dropped_or_expanded(results, tmp_path):
    dropped = export(results, to="csv", timeseries=True, dest=tmp_path / "d")["timeseries"]
    assert sorted(p.relative_to(tmp_path / "d").as_posix() for p in dropped) == [
        "timeseries/a/counts.csv", "timeseries/b/counts.csv"]
    assert list(pd.read_csv(dropped[0]).columns) == ["time_s", "value"]
    expanded = export(results, to="csv", timeseries=True, landmarks="expand", dest=tmp_path / "e")["timeseries"]
    frame = pd.read_csv(expanded[0])
    assert list(frame.columns) == ["time_s", "value", "points_0", "points_1", "points_2"]
    assert frame["points_2"].tolist() == [3.0, 5.0]


def test_bad_requests_are_clear_and_the_cli_exports(results, tmp_path):
    with pytest.raises(BitboxError, match="no summary.csv"):
        export(tmp_path)
    with pytest.raises(ParameterError, match="formats must be among spss, stata, csv"):
        export(results, to="sas")
    with pytest.raises(ParameterError, match="'landmarks' parameter must be 'drop' or 'expand'"):
        export(results, landmarks="all")
    run = subprocess.run([sys.executable, "-m", "bitbox", "export", str(results), "--to", "stata", "-o",
                          str(tmp_path / "cli")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "cli" / "summary.dta").is_file() and "stata: " in run.stdout
