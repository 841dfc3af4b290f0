"""Processors that read other processors' results (``Processor.uses``, ``recording.upstream``) and
write extra output files (``Processor.extra_outputs``): run order, provenance, resume, batch files.
Fake processors on tiny text recordings: no model needed."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest

import bitbox
from bitbox import Measure, ParameterError, Processor
from bitbox.errors import MeasurementError
from bitbox.processor import run_order
from bitbox.recording import Recording


class Words(Processor):
    """Upstream: one row per word (time = its index x step), and a ``words.txt`` extra output."""

    name = "words"
    version = "1"
    input_kinds = ("text",)
    extra_outputs = ("words.txt",)
    measures = (Measure("word", "", "The word.", dtype="str"),
                Measure("n_words", "1", "Words.", "summary", (0, 1e9)))
    _parameter_constraints = {}

    def __init__(self, *, step: float = 1.0) -> None:
        self.step = step

    def compute(self, recording, sink, progress=None):
        words = recording.path.read_text().split()
        sink.append(pd.DataFrame({"time_s": [i * self.step for i in range(len(words))], "word": words}))
        return {"n_words": float(len(words))}

    def output_files(self, result):
        return {"words.txt": "\n".join(result.timeseries["word"]) + "\n"}


class LastTime(Processor):
    """Downstream: the time of the last word in the ``words`` result, NaN when it did not run."""

    name = "last_time"
    version = "1"
    input_kinds = ("text",)
    uses = ("words",)
    measures = (Measure("last_s", "s", "Time of the last word.", "summary"),
                Measure("why", "", "Why last_s is NaN.", "summary", dtype="str"))

    def compute(self, recording, sink, progress=None):
        sink.append(pd.DataFrame({"time_s": [0.0]}))
        upstream = recording.upstream.get("words")
        return {"last_s": float(upstream.timeseries["time_s"].max()) if upstream is not None else math.nan,
                "why": recording.upstream_failures.get("words", "")}


class BrokenWords(Words):
    """Upstream that fails on every recording."""

    def compute(self, recording, sink, progress=None):
        raise MeasurementError(recording.path, "has no words today", "Try again tomorrow")


@pytest.fixture()
def text(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / "story.txt"
    path.write_text("one two three four")
    return path


def test_run_order_puts_a_processor_after_those_it_uses():
    ordered = run_order([LastTime(), Words()])
    assert [p.name for p in ordered] == ["words", "last_time"]
    assert [p.name for p in run_order([LastTime()])] == ["last_time"]  # uses one that is not there: kept

    class A(LastTime):
        name = "a"
        uses = ("b",)

    class B(LastTime):
        name = "b"
        uses = ("a",)

    with pytest.raises(ParameterError, match="cycle"):
        run_order([A(), B()])


def test_upstream_result_reaches_the_reader_in_either_order(text):
    for order in ([LastTime(), Words(step=0.5)], [Words(step=0.5), LastTime()]):
        m = bitbox.process(text, order)
        assert m["last_time"].summary["last_s"] == pytest.approx(1.5)
        assert m["last_time"].provenance["upstream"]["words"]["parameters"] == {"step": 0.5}
    alone = LastTime().process(Recording(text))
    assert math.isnan(alone.summary["last_s"]) and "upstream" not in alone.provenance
    with pytest.raises(TypeError):
        Recording(text).upstream["words"] = None  # read-only


def test_batch_passes_upstream_writes_extra_files_and_recomputes_on_upstream_change(text, tmp_path):
    out = tmp_path / "out"
    bitbox.process_folder(text.parent, out, [LastTime(), Words(step=1.0)], progress=False)
    folder = out / "story"
    assert (folder / "words.txt").read_text() == "one\ntwo\nthree\nfour\n"
    assert json.loads((folder / "last_time.json").read_text())["summary"]["last_s"] == 3.0
    summary = pd.read_csv(out / "summary.csv")
    assert summary.loc[0, "last_time.last_s"] == 3.0

    again = bitbox.process_folder(text.parent, out, [LastTime(), Words(step=1.0)], progress=False)
    assert set(pd.read_csv(out / "manifest.csv")["reused"].iloc[0].split(",")) == {"words", "last_time"}
    assert again.n_failed == 0

    bitbox.process_folder(text.parent, out, [LastTime(), Words(step=2.0)], progress=False)  # upstream changed
    assert json.loads((folder / "last_time.json").read_text())["summary"]["last_s"] == 6.0
    assert pd.read_csv(out / "manifest.csv")["reused"].fillna("").iloc[0] == ""

    (folder / "words.txt").unlink()  # a missing extra output is made again
    bitbox.process_folder(text.parent, out, [Words(step=2.0)], progress=False)
    assert (folder / "words.txt").is_file()


def test_a_reused_recording_forgets_the_last_call_and_a_failed_upstream_says_why(text):
    recording = Recording(text)
    assert bitbox.process(recording, [Words(), LastTime()])["last_time"].summary["last_s"] == 3.0
    m = bitbox.process(recording, [BrokenWords(), LastTime()])
    assert math.isnan(m["last_time"].summary["last_s"]) and "words" in m.failures
    assert m["last_time"].summary["why"].startswith("failed: ") and "no words today" in m["last_time"].summary["why"]
    alone = bitbox.process(recording, [LastTime()])["last_time"].summary
    assert math.isnan(alone["last_s"]) and alone["why"] == ""


def test_measurements_write_the_extra_outputs_too(text, tmp_path):
    m = bitbox.process(text, [Words(step=0.5), LastTime()])
    m.write(tmp_path / "out")
    # the processor is not installed under its name: write() finds no class and writes the tables only
    assert (tmp_path / "out" / "words.json").is_file() and not (tmp_path / "out" / "words.txt").exists()
    Words().write_extra_outputs(m["words"], tmp_path / "out")
    assert (tmp_path / "out" / "words.txt").read_text() == "one\ntwo\nthree\nfour\n"


def test_the_notebook_and_the_batch_write_the_same_table_file(text, tmp_path):
    """One result-writing protocol: Measurements.write and bitbox run store the same parquet bytes (the file's
    provenance holds what the outputs depend on; timing and row count are in the JSON)."""
    out = tmp_path / "out"
    bitbox.process_folder(text.parent, out, [Words(step=0.5)], progress=False)
    bitbox.process(text, [Words(step=0.5)]).write(tmp_path / "nb")
    assert (out / "story" / "words.parquet").read_bytes() == (tmp_path / "nb" / "words.parquet").read_bytes()
    assert json.loads((tmp_path / "nb" / "words.json").read_text())["provenance"]["n_rows"] == 4
