"""Measurements: identical read-back from parquet/JSON, wide tables, summary rows, plots."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import pandas as pd
import pyarrow.parquet as pq

from bitbox import Measurements, ProcessorResult


def _result(name="toy", n=5) -> ProcessorResult:
    frame = pd.DataFrame({"time_s": np.arange(n) / 10, "speed": np.linspace(0, 1, n).astype(np.float32),
                          "flag": np.array([0, 1, 0, 1, 0][:n], dtype=np.int8), "why": ["ok", "no_face", "ok",
                                                                                       "ok", "ok"][:n]})
    frame.loc[2, "speed"] = np.nan
    return ProcessorResult(name, frame, {"rate": 3.25, "missing": math.nan},
                           {"processor": name, "parameters": {"k": 1}, "input_sha256": "ab",
                            "started_utc": "2026-01-01T00:00:00+00:00"}, {"speed": "px/s"})


def test_write_and_read_back_identical(tmp_path):
    original = _result()
    original.write(tmp_path)
    back = ProcessorResult.read(tmp_path, "toy")
    pd.testing.assert_frame_equal(back.timeseries, original.timeseries, check_exact=True)
    assert back.timeseries["speed"].dtype == np.float32 and back.timeseries["flag"].dtype == np.int8
    assert back.summary["rate"] == 3.25 and math.isnan(back.summary["missing"])
    assert back.provenance == original.provenance and back.units == {"speed": "px/s"}
    # JSON is standard (NaN written as null) and the parquet file carries its own provenance.
    data = json.loads((tmp_path / "toy.json").read_text())
    assert data["summary"]["missing"] is None
    meta = json.loads(pq.ParquetFile(tmp_path / "toy.parquet").schema_arrow.metadata[b"bitbox.provenance"])
    assert meta["input_sha256"] == "ab" and "started_utc" not in meta
    assert not list(tmp_path.glob(".*tmp"))


def test_same_result_gives_byte_identical_parquet(tmp_path):
    _result().write(tmp_path / "a")
    _result().write(tmp_path / "b")
    assert (tmp_path / "a" / "toy.parquet").read_bytes() == (tmp_path / "b" / "toy.parquet").read_bytes()


def test_to_wide_summary_row_and_folder_read(tmp_path):
    other = ProcessorResult("other", pd.DataFrame({"time_s": [0.0, 0.05, 0.1], "x": [1.0, 2.0, 3.0]}),
                            {"rate": 1.0})
    m = Measurements([_result(), other], recording_id="rec1")
    wide = m.to_wide()
    assert list(wide.columns) == ["time_s", "toy.speed", "toy.flag", "toy.why", "other.x"]
    assert wide["time_s"].tolist() == [0.0, 0.05, 0.1, 0.2, 0.3, 0.4]
    assert wide.loc[1, "other.x"] == 2.0 and np.isnan(wide.loc[1, "toy.speed"])
    row = m.summary_row()
    assert row["toy.rate"] == 3.25 and row["other.rate"] == 1.0 and row.name == "rec1" and row.dtype == "float64"
    noted = Measurements([ProcessorResult("other", other.timeseries, {"rate": 1.0, "notes": "rate is low"})])
    row = noted.summary_row()  # a text measure keeps its text (was: ValueError converting it to float)
    assert row["other.notes"] == "rate is low" and row["other.rate"] == 1.0
    m.write(tmp_path / "rec1")
    back = Measurements.read(tmp_path / "rec1")
    assert back.processors == ["other", "toy"] and back.recording_id == "rec1"
    pd.testing.assert_frame_equal(back.to_wide(), wide[["time_s", "other.x", "toy.speed", "toy.flag", "toy.why"]])


def test_plot_draws_one_panel_per_measure():
    import matplotlib

    matplotlib.use("Agg")
    fig = Measurements([_result()], recording_id="r").plot(["speed", "flag"])
    assert len(fig.axes) == 2 and fig.axes[0].get_ylabel() == "speed\n[px/s]"
    line = fig.axes[0].lines[0]
    assert np.allclose(line.get_xdata(), np.arange(5) / 10)


def test_plot_into_given_axes_and_refuse_a_wrong_number():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pytest

    from bitbox import ParameterError

    fig, (a, b) = plt.subplots(2, 1)
    m = Measurements([_result()], recording_id="r")
    assert m.plot(["speed", "flag"], ax=[a, b]) is fig
    assert len(a.lines) == 1 and len(b.lines) == 1 and a.get_ylabel() == "speed\n[px/s]"
    with pytest.raises(ParameterError, match="2 axes for 1 measures"):
        m.plot(["speed"], ax=[a, b])
    plt.close(fig)


def test_repr_of_a_result_streamed_to_a_sink():
    result = ProcessorResult("toy", None, {"rate": 1.0})
    assert repr(result) == "<ProcessorResult 'toy': time series written to a sink, 1 summary values>"
    assert "5 rows x 4 columns" in repr(_result())


def test_verbose_true_shows_messages_without_set_log_level(tmp_path, capsys, monkeypatch):
    import logging

    import bitbox
    from bitbox.log import logger

    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    path = tmp_path / "note.txt"
    path.write_text("I went to the market. Then I came home and slept.")
    bitbox.process(path, ["language"], verbose=True)
    assert "[bitbox]" in capsys.readouterr().err


def test_plot_draws_every_processor_on_one_time_axis_and_names_own_figures(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import bitbox.measurements as measurements
    from bitbox import Processor

    class Drawn(Processor):  # a processor drawing a figure of its own (as speakers and narrative do)
        name = "drawn"

        @classmethod
        def plot_result(cls, result):
            return plt.figure()

    other = ProcessorResult("other", pd.DataFrame({"time_s": [0.0, 0.05, 0.1], "x": [1.0, 2.0, 3.0]}), {})
    drawn = ProcessorResult("drawn", pd.DataFrame({"time_s": [0.0], "y": [1.0]}), {})
    monkeypatch.setattr(measurements, "_processor_lookup", {"drawn": Drawn}.get)
    m = Measurements([_result(), other, drawn], recording_id="r")
    fig = m.plot()
    labels = [a.get_ylabel().split("\n")[0] for a in fig.axes]
    assert labels == ["toy.speed", "toy.flag", "other.x"]  # every processor's measures, one shared time axis
    assert fig.axes[0].get_shared_x_axes().joined(fig.axes[0], fig.axes[2])
    assert "r — toy, other" in fig._suptitle.get_text()
    assert any("m.plot(processor='drawn')" in t.get_text() for t in fig.texts)  # said, and how to draw it
    assert m.plot(processor="drawn") is not fig and len(m.plot(processor="other").axes) == 1
    mixed = m.plot(["toy.speed", "x"])  # a bare name is found in the processor that has it
    assert [a.get_ylabel().split("\n")[0] for a in mixed.axes] == ["toy.speed", "other.x"]
    for wrong, message in ((["face"], "not a column of any time series"), (["face.head_yaw"], "no processor 'face'")):
        with pytest.raises(KeyError, match=message):
            m.plot(wrong)
    failed = Measurements([_result()], recording_id="r", failures={"speech": "boom"})
    with pytest.raises(KeyError, match="'speech' processor has no result on r \\(failed\\)"):
        failed.plot(["speech.f0_hz"])
    plt.close("all")
