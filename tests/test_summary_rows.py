"""Summary rows per part: RowSummaries, <processor>.json rows, summary.csv one row per recording and
part (the key column), resume, re-runs, old tables, codebook.csv, and dyad between two parts of one
recording. Fake processors on tiny text recordings: no model needed."""
from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pandas as pd
import pytest

import bitbox
from bitbox import Measure, Measurements, ParameterError, Processor, ProcessorResult, RowSummaries
from bitbox.catalog import validate_summary
from bitbox.dyad import dyad
from bitbox.errors import CatalogError
from bitbox.measurements import split_measurements
from bitbox.processor import QualityColumns


class Parts(Processor):
    """Reads ``<id> <level>`` lines: one part per line, a time series in long format (3 times x parts,
    sorted by time then part) and a summary per part; the main summary is the part with the highest
    level. A file without such lines (``-``) has no parts (a plain dict)."""

    name = "parts"
    version = "1"
    input_kinds = ("text",)
    row_key = "person"
    row_key_description = "Stable id of the part, 0-based."
    qc = QualityColumns(detected_fraction=("level_detected_fraction",))  # the report's QC column
    measures = (Measure("person", "1", "Part id.", dtype="int"),
                Measure("level", "1", "The part's level at this time.", valid_range=(0, 100)),
                Measure("level_mean", "1", "Mean level.", "summary", (0, 100)),
                Measure("n_parts", "1", "Parts in the recording.", "summary", (0, 100), dtype="int"),
                Measure("level_detected_fraction", "1", "Level / 100.", "summary", (0, 1)),
                Measure(r"extra_\w+", "1", "A pattern measure.", "summary", pattern=True))

    def compute(self, recording, sink, progress=None):
        lines = [line.split() for line in recording.path.read_text().splitlines() if len(line.split()) == 2]
        parts = {int(pid): float(level) for pid, level in lines}
        times = np.repeat([0.0, 0.1, 0.2], max(len(parts), 1))
        ids = np.tile(sorted(parts) or [0], 3)
        sink.append(pd.DataFrame({"time_s": times, "person": ids,
                                  "level": [parts.get(int(i), 0.0) + t for i, t in zip(ids, times)]}))
        if not parts:
            return {"level_mean": math.nan, "n_parts": 0}
        rows = {pid: {"level_mean": level + 0.1, "n_parts": len(parts), "level_detected_fraction": level / 100}
                for pid, level in parts.items()}
        main = rows[max(parts, key=parts.get)]
        main["extra_main_only"] = 1.0  # a measure of one part only: no other part's row may show it
        return RowSummaries(main, rows)


class Length(Processor):
    """A processor that never splits: the file's length."""

    name = "length"
    version = "1"
    input_kinds = ("text",)
    measures = (Measure("n_chars", "1", "Characters in the file.", "summary", (0, 1e9)),)

    def compute(self, recording, sink, progress=None):
        sink.append(pd.DataFrame({"time_s": [0.0]}))
        return {"n_chars": float(len(recording.path.read_text()))}


class Speakers(Parts):
    name = "speakers"
    row_key = "speaker"


class NoKey(Parts):
    name = "nokey"
    row_key = ""


class BadRow(Parts):
    """One part's level is out of its valid range."""

    name = "badrow"

    def compute(self, recording, sink, progress=None):
        summary = super().compute(recording, sink, progress)
        summary.rows[1]["level_mean"] = 500.0
        return summary


class FloatKey(Parts):
    name = "floatkey"

    def compute(self, recording, sink, progress=None):
        summary = super().compute(recording, sink, progress)
        return RowSummaries(summary, {0.5: summary})


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("in")
    (folder / "a.txt").write_text("0 10\n1 30\n2 20\n")   # three parts, the main one is 1
    (folder / "b.txt").write_text("-\n")                  # no parts
    return folder


def _run(inputs, out, processors, files=None, **kw):
    return bitbox.process_folder([inputs / f for f in files] if files else [inputs], out, processors,
                                 progress=False, **kw)


def _csv(out, name="summary.csv"):
    return pd.read_csv(out / name, dtype=str, keep_default_na=False)


# ---------------------------------------------------------------------------- processor and result
def test_row_summaries_are_the_main_summary_and_carry_their_rows(inputs):
    result = Parts().process(inputs / "a.txt")
    assert result.summary == {"level_mean": 30.1, "n_parts": 3, "level_detected_fraction": 0.3,
                              "extra_main_only": 1.0}
    assert type(result.summary) is dict
    assert sorted(result.rows) == [0, 1, 2] and result.row_key == "person"
    assert result.rows[0] == {"level_mean": 10.1, "n_parts": 3, "level_detected_fraction": 0.1}
    assert result.rows[1]["extra_main_only"] == 1.0 and "extra_main_only" not in result.rows[2]
    assert Length().process(inputs / "a.txt").rows == {}
    plain = Parts().process(inputs / "b.txt")
    assert plain.rows == {} and plain.row_key == "person"
    summary = RowSummaries({"n": 1.0}, {0: {"n": 1.0}})
    back = pickle.loads(pickle.dumps(summary))  # worker processes and Dask pickle them
    assert type(back) is RowSummaries and back == {"n": 1.0} and back.rows == {0: {"n": 1.0}}


def test_every_row_is_validated_and_part_ids_are_checked(inputs):
    with pytest.raises(CatalogError, match="level_mean=500.0, outside its valid range"):
        BadRow().process(inputs / "a.txt")
    with pytest.raises(RuntimeError, match="declares no row_key"):
        NoKey().process(inputs / "a.txt")
    with pytest.raises(RuntimeError, match="part id 0.5"):
        FloatKey().process(inputs / "a.txt")
    measures = Parts.catalog_measures()
    validate_summary("parts", measures, Parts().process(inputs / "a.txt").rows[2])
    with pytest.raises(CatalogError, match="not in its catalog"):
        validate_summary("parts", measures, {"unknown": 1.0})


def test_rows_round_trip_through_the_json_and_old_json_loads(tmp_path, inputs):
    result = Parts().process(inputs / "a.txt")
    result.rows[0]["level_mean"] = math.nan
    result.write(tmp_path)
    data = json.loads((tmp_path / "parts.json").read_text())
    assert data["row_key"] == "person" and data["rows"][0] == {"key": 0, "summary": {
        "level_mean": None, "n_parts": 3, "level_detected_fraction": 0.1}}
    back = ProcessorResult.read(tmp_path, "parts")
    assert list(back.rows) == [0, 1, 2] and back.row_key == "person"  # integer ids stay integers
    assert math.isnan(back.rows[0]["level_mean"]) and back.rows[1] == result.rows[1]
    del data["rows"], data["row_key"]  # a file written before parts existed
    (tmp_path / "parts.json").write_text(json.dumps(data))
    old = ProcessorResult.read(tmp_path, "parts")
    assert old.rows == {} and old.row_key == "" and old.summary == result.summary
    Length().process(inputs / "a.txt").write(tmp_path)  # a processor that never splits writes no rows
    assert "rows" not in json.loads((tmp_path / "length.json").read_text())


def test_measurements_summary_table_has_a_row_per_part(inputs):
    m = bitbox.process(inputs / "a.txt", [Parts(), Length()])
    table = m.summary_table()
    assert list(table.columns[:2]) == ["recording_id", "person"] and table["person"].tolist() == [0, 1, 2]
    assert table["parts.level_mean"].tolist() == [10.1, 30.1, 20.1]
    assert table["length.n_chars"].tolist() == [15.0] * 3  # not split: the same on each row
    assert table["parts.extra_main_only"].isna().tolist() == [True, False, True]
    assert m.summary_row()["parts.level_mean"] == 30.1  # one row per recording: the main summary
    single = bitbox.process(inputs / "b.txt", [Parts(), Length()]).summary_table()
    assert single["person"].tolist() == [""] and len(single) == 1 and single["length.n_chars"].tolist() == [2.0]
    assert list(bitbox.process(inputs / "a.txt", [Length()]).summary_table().columns) == ["recording_id",
                                                                                       "length.n_chars"]


# ---------------------------------------------------------------------------- summary.csv
@pytest.fixture(scope="module")
def first(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "out"
    return out, _run(inputs, out, [Parts(), Length()])


def test_summary_has_a_row_per_recording_and_part(first):
    out, result = first
    table = _csv(out)
    assert list(table.columns[:5]) == ["recording_id", "person", "path", "status", "error"]
    assert list(zip(table["recording_id"], table["person"])) == [("a", "0"), ("a", "1"), ("a", "2"), ("b", "")]
    assert table["parts.level_mean"].tolist() == ["10.1", "30.1", "20.1", ""]
    # every row stands alone: the recording's columns and the other processor's values repeat
    a = table[table["recording_id"] == "a"]
    assert set(a["path"]) == {str(out.parent.parent / "in" / "a.txt")} or len(set(a["path"])) == 1
    for column in ("status", "error", "parts.status", "length.status", "length.error", "length.n_chars"):
        assert a[column].nunique() == 1, column
    assert a["length.n_chars"].iloc[0] == "15.0" and a["status"].iloc[0] == "ok"
    assert table["parts.extra_main_only"].tolist() == ["", "1.0", "", ""]
    manifest = _csv(out, "manifest.csv")
    assert manifest["recording_id"].tolist() == ["a", "b"]  # one row per recording
    assert result.summary["person"].dtype == "Int64" and result.summary["person"].isna().tolist() == [
        False, False, False, True]
    assert result.summary["parts.level_mean"].iloc[1] == 30.1 and len(result.manifest) == 2


def test_codebook_documents_every_column_and_the_key(first):
    out, _ = first
    codebook = _csv(out, "codebook.csv").set_index("column")
    codebook = codebook[codebook["table"] == "summary.csv"]
    assert codebook.index.tolist() == _csv(out).columns.tolist()
    assert codebook.loc["person", "description"].startswith("Stable id of the part, 0-based.")
    assert codebook.loc["person", "processor"] == "parts"
    assert codebook.loc["parts.level_mean", "description"] == "Mean level."
    assert codebook.loc["parts.extra_main_only", "description"] == "A pattern measure."
    assert codebook.loc["length.status", "description"].startswith("The length processor on this recording")


def test_summary_columns_follow_the_catalog(first):
    out, _ = first
    assert list(_csv(out).columns[5:]) == ["parts.status", "parts.error", "parts.level_mean", "parts.n_parts",
                                           "parts.level_detected_fraction", "parts.extra_main_only",
                                           "length.status", "length.error", "length.n_chars"]


@pytest.fixture
def installed(monkeypatch):
    """Parts and Length found by the registry, as an installed plugin's processors are (the report reads the
    processors' declarations, e.g. their QC columns, from there)."""
    from bitbox import registry

    real = registry.get_processor_class
    mine = {"parts": Parts, "length": Length}
    monkeypatch.setattr(registry, "get_processor_class", lambda name: mine.get(name) or real(name))


def test_the_report_shows_every_part(first, inputs, tmp_path, installed):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(first[0], out)
    index = bitbox.write_report(out).read_text()
    assert "<td class='num'>0.1 / 0.3 / 0.2</td>" in index  # the QC column: one value per part
    page = (out / "report" / "recordings" / "a.html").read_text()
    # the main summary is person 1's: the header and the notes box say so
    assert ("<th>measure</th><th>main (person 1)</th><th>person 0</th><th>person 1</th><th>person 2</th><th>unit</th>"
            in page)
    row = "</td><td class='num'>30.1</td><td class='num'>10.1</td>"  # its name, described on hover when catalogued
    assert f"<tr><td>level_mean{row}" in page or f">level_mean</abbr>{row}" in page


def test_a_resumed_batch_reuses_and_writes_the_same_rows(first, inputs):
    out, _ = first
    before = (out / "summary.csv").read_bytes()
    again = _run(inputs, out, [Parts(), Length()])
    assert again.counts["already_done"] == 2
    assert (out / "summary.csv").read_bytes() == before
    assert _csv(out, "manifest.csv")["reused"].tolist() == ["parts,length", "parts,length"]


def test_worker_processes_write_the_same_rows(first, inputs, tmp_path):
    _run(inputs, tmp_path / "out", [Parts(), Length()], workers=2)
    assert (tmp_path / "out" / "summary.csv").read_text() == (first[0] / "summary.csv").read_text()


def test_a_rerun_replaces_the_group_and_other_processors_keep_theirs(tmp_path, inputs):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.txt").write_text((inputs / "a.txt").read_text())
    out = tmp_path / "out"
    _run(src, out, [Parts(), Length()])
    (src / "a.txt").write_text("5 40\n7 50\n")  # now two parts, other ids
    _run(src, out, [Length()])  # only the processor that does not split: the parts stay
    table = _csv(out)
    assert table["person"].tolist() == ["0", "1", "2"] and set(table["length.n_chars"]) == {"10.0"}
    assert table["parts.level_mean"].tolist() == ["10.1", "30.1", "20.1"]
    _run(src, out, [Parts()])  # the splitting one: its rows are replaced as a group
    table = _csv(out)
    assert table["person"].tolist() == ["5", "7"] and table["parts.level_mean"].tolist() == ["40.1", "50.1"]
    assert set(table["length.n_chars"]) == {"10.0"}
    (src / "a.txt").write_text("-\n")  # no parts any more: one row, an empty key
    _run(src, out, [Parts(), Length()])
    table = _csv(out)
    assert table["person"].tolist() == [""] and table["length.n_chars"].tolist() == ["2.0"]


def test_an_old_summary_without_the_key_column_is_read_and_merged(tmp_path, inputs):
    out = tmp_path / "out"
    _run(inputs, out, [Length()])  # tables without a key column
    assert list(_csv(out).columns[:2]) == ["recording_id", "path"]
    (inputs / "c.txt").write_text("0 1\n")
    try:
        _run(inputs, out, [Parts()], files=["a.txt"])
        table = _csv(out)
        assert list(zip(table["recording_id"], table["person"])) == [("a", "0"), ("a", "1"), ("a", "2"), ("b", "")]
        assert table["length.n_chars"].tolist() == ["15.0", "15.0", "15.0", "2.0"]  # kept from the first run
        assert table["parts.status"].tolist() == ["ok", "ok", "ok", ""]
        # A run into it afterwards without any splitting processor keeps the key column and the parts.
        result = _run(inputs, out, [Length()], files=["c.txt"])
        table = _csv(out)
        assert list(zip(table["recording_id"], table["person"])) == [("a", "0"), ("a", "1"), ("a", "2"), ("b", ""),
                                                                     ("c", "")]
        assert result.summary["person"].tolist()[:3] == [0, 1, 2]
    finally:
        (inputs / "c.txt").unlink()


def test_a_split_whose_processor_is_not_installed_survives_other_runs(tmp_path, inputs):
    """Parts read back from summary.csv are found without the processor that made them when their
    values differ; when they are identical the parts still stay while nothing replaces them."""
    out = tmp_path / "out"
    _run(inputs, out, [Parts(), Length()], files=["a.txt"])
    table = _csv(out)
    table.loc[1, "parts.level_mean"] = "10.1"  # identical parts
    table.loc[2, "parts.level_mean"] = "10.1"
    table.loc[1, "parts.extra_main_only"] = ""
    table.loc[1, "parts.level_detected_fraction"] = "0.1"
    table.loc[2, "parts.level_detected_fraction"] = "0.1"
    table.to_csv(out / "summary.csv", index=False)
    _run(inputs, out, [Length()], files=["a.txt"], overwrite=True)
    assert _csv(out)["person"].tolist() == ["0", "1", "2"]


def test_processors_splitting_by_different_keys_are_refused(tmp_path, inputs):
    with pytest.raises(ParameterError, match=r"parts by 'person', speakers by 'speaker'"):
        _run(inputs, tmp_path / "out", [Parts(), Speakers()])
    assert not (tmp_path / "out").exists()  # refused before anything was written
    _run(inputs, tmp_path / "out", [Parts()], files=["b.txt"])
    with pytest.raises(ParameterError, match=r"one row per recording and 'person'.*speakers splits recordings by "
                                             r"'speaker'"):
        _run(inputs, tmp_path / "out", [Speakers()], files=["a.txt"])


# ---------------------------------------------------------------------------- dyad between two parts
def _two_people(n=300, fps=30.0, lag=3):
    """Person 1 moves like person 0, ``lag`` frames later; long format sorted by (time, person)."""
    rng = np.random.default_rng(0)
    signal = np.convolve(rng.standard_normal(n + lag + 20), np.ones(5) / 5, mode="same")
    time = np.arange(n) / fps
    a, b = signal[lag:n + lag], signal[:n]
    long = pd.DataFrame({"time_s": np.repeat(time, 2), "person": np.tile([0, 1], n),
                         "yaw": np.ravel(np.column_stack([a, b]))})
    split = ProcessorResult("motion", long, {"x": 1.0}, row_key="person",
                            rows={0: {"x": 0.5}, 1: {"x": 2.0}})
    whole = ProcessorResult("scene", pd.DataFrame({"time_s": time, "yaw": a}), {"y": 3.0})
    separate = [Measurements([ProcessorResult("motion", pd.DataFrame({"time_s": time, "yaw": v}))],
                             recording_id=f"p{i}") for i, v in enumerate((a, b))]
    return Measurements([split, whole], recording_id="session"), separate


def test_split_measurements_gives_one_part_as_if_alone():
    m, (alone0, _) = _two_people()
    part = split_measurements(m, "person", "0")  # text ids from the command line match integers
    assert part.processors == ["motion"] and part.recording_id == "session:person=0"
    pd.testing.assert_frame_equal(part["motion"].timeseries, alone0["motion"].timeseries)
    assert part["motion"].summary == {"x": 0.5} and part["motion"].rows == {}


def test_dyad_of_two_parts_equals_dyad_of_the_parts_given_separately(tmp_path):
    m, (alone0, alone1) = _two_people()
    together = dyad(m, split_by="person", parts=(0, 1), processor="motion", measures=["yaw"])
    separately = dyad(alone0, alone1, processor="motion", measures=["yaw"])
    pd.testing.assert_frame_equal(together, separately)
    assert together.loc[0, "coordination_peak_lag_s"] == pytest.approx(0.1)  # person 1 follows by 3 frames
    assert together.loc[0, "coordination_r_mean"] > 0.95 and together.loc[0, "n_samples"] == 300
    m.write(tmp_path / "session")
    from bitbox.cli import main

    assert main(["dyad", str(tmp_path / "session"), "--persons", "0", "1", "-p", "motion", "--measures", "yaw",
                 "-o", str(tmp_path / "d.csv")]) == 0
    written = pd.read_csv(tmp_path / "d.csv")
    assert written.loc[0, "coordination_peak_lag_s"] == pytest.approx(0.1)


def test_dyad_between_parts_says_what_is_wrong(tmp_path, capsys):
    m, (alone0, alone1) = _two_people()
    with pytest.raises(ParameterError, match=r"no rows with person = 5\. The person ids present: 0, 1\."):
        dyad(m, split_by="person", parts=(0, 5), processor="motion", measures=["yaw"])
    with pytest.raises(ParameterError, match=r"no time series has a 'speaker' column.*motion: person, yaw"):
        dyad(m, split_by="speaker", parts=(0, 1))
    with pytest.raises(ParameterError, match="not both"):
        dyad(alone0, alone1, split_by="person", parts=(0, 1))
    with pytest.raises(ParameterError, match="two different person ids"):
        dyad(m, split_by="person", parts=(1, "1"))
    with pytest.raises(ParameterError, match="the two person ids to compare"):
        dyad(m, split_by="person", parts=(0,))
    with pytest.raises(ParameterError, match="or one recording and the two parts"):
        dyad(m)
    from bitbox.cli import main

    m.write(tmp_path / "session")
    assert main(["dyad", str(tmp_path / "session")]) == 2
    assert main(["dyad", str(tmp_path / "session"), str(tmp_path / "session"), "--persons", "0", "1"]) == 2
    assert main(["dyad", str(tmp_path / "session"), "--persons", "0", "9", "-p", "motion"]) == 2
    err = capsys.readouterr().err
    assert "--persons P Q" in err and "not both" in err and "The person ids present: 0, 1." in err
