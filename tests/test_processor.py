"""The Processor base class: scikit-learn parameter rules, validation, conformance check."""
from __future__ import annotations

import pandas as pd
import pytest

from bitbox import ParameterError, Processor, Recording, RecordingError
from bitbox.catalog import Measure
from bitbox.errors import CatalogError
from bitbox.params import Bool, Interval, Options
from bitbox.processors.face import FaceProcessor
from bitbox.testing import check_processor


class Frames(Processor):
    """A tiny real processor: the mean grey value of every frame."""

    name = "frames"
    version = "1"
    input_kinds = ("video",)
    measures = (Measure("grey", "1", "Mean grey level / 255.", valid_range=(0, 1)),
                Measure("n", "1", "Frames.", "summary", (0, 1e9)))
    _parameter_constraints = {"step": [Interval(int, 1, None)], "mode": [Options(("mean", "max"))],
                              "flag": [Bool()]}

    def __init__(self, *, step=1, mode="mean", flag=False):
        self.step = step
        self.mode = mode
        self.flag = flag

    def compute(self, recording, sink, progress=None):
        n = 0
        for frame in recording.iter_frames(step=self.step):
            value = frame.rgb.mean() if self.mode == "mean" else frame.rgb.max()
            sink.append(pd.DataFrame({"time_s": [frame.time_s], "grey": [value / 255]}))
            n += 1
        return {"n": n}


def test_params_round_trip_and_repr():
    proc = Frames(step=3)
    assert proc.get_params() == {"flag": False, "mode": "mean", "step": 3}
    assert Frames(**proc.get_params()).get_params() == proc.get_params()
    assert proc.set_params(mode="max") is proc and proc.mode == "max"
    assert repr(proc) == "Frames(mode='max', step=3)"


def test_invalid_values_fail_at_process_time_with_a_clear_message(talking_head):
    proc = Frames(step=-3)  # no validation in __init__ (scikit-learn rule)
    with pytest.raises(ParameterError, match=r"The 'step' parameter of Frames must be an integer in "
                                             r"\[1, inf\)\. Got -3 instead\."):
        proc.process(talking_head)
    with pytest.raises(ParameterError, match="must be one of 'mean', 'max'. Got 'median' instead"):
        Frames(mode="median").process(talking_head)
    with pytest.raises(ParameterError, match="'stride' is not a parameter of Frames. Valid parameters: flag, "
                                             "mode, step"):
        Frames().set_params(stride=2)


def test_processing_gives_catalogued_output_with_provenance(talking_head):
    result = Frames(step=10).process(talking_head)
    assert list(result.timeseries.columns) == ["time_s", "grey"]
    assert len(result.timeseries) == 12 and result.summary == {"n": 12}
    prov = result.provenance
    assert prov["processor"] == "frames" and prov["parameters"] == {"flag": False, "mode": "mean", "step": 10}
    assert prov["input_sha256"] == Recording(talking_head).sha256 and "numpy" in prov["package_versions"]


def test_wrong_kind_and_uncatalogued_output(tmp_path, talking_head):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(RecordingError, match="is a text recording; the 'frames' processor reads video"):
        Frames().process(text)

    class Leaky(Frames):
        def compute(self, recording, sink, progress=None):
            sink.append(pd.DataFrame({"time_s": [0.0], "grey": [0.5], "secret": [1.0]}))
            return {"n": 1}

    with pytest.raises(CatalogError, match="'secret', which is not in its catalog"):
        Leaky().process(talking_head)


def test_check_processor_accepts_a_conforming_processor(talking_head):
    result = check_processor(Frames, talking_head, step=20)
    assert len(result.timeseries) == 6


def test_check_processor_catches_logic_in_init(talking_head):
    class Clever(Frames):
        def __init__(self, *, step=1, mode="mean", flag=False):
            super().__init__(step=max(step, 2), mode=mode, flag=flag)

    with pytest.raises(AssertionError, match="must store 'step' unchanged"):
        check_processor(Clever, talking_head)

    class Nondeterministic(Frames):
        calls = [0]

        def compute(self, recording, sink, progress=None):
            self.calls[0] += 1
            sink.append(pd.DataFrame({"time_s": [0.0], "grey": [self.calls[0] / 10]}))
            return {"n": 1}

    with pytest.raises(AssertionError, match="two runs on the same input"):
        check_processor(Nondeterministic, talking_head)


def test_face_processor_conforms(talking_head):
    result = check_processor(FaceProcessor, talking_head, frame_step=4)
    assert len(result.timeseries) == 30
