"""What the interactive report draws besides the time series, on results with known truth: curves (the EEG power
spectrum and ERP waveforms, written in <processor>.json and read back identically), events on the time axis
(Processor.report_events: blinks, pauses, gestures, speaker turns, utterances, narrative spans) made from a result
read back from disk, and the QC measures every processor declares."""
from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import bitbox
from bitbox import Curve, ParameterError, Processor, ProcessorResult, QualityColumns, Summary
from bitbox.catalog import Measure
from bitbox.events import EVENT_COLUMNS, events_from_mask, truncated
from bitbox.measurements import Measurements
from bitbox.processor import RowSummaries
from bitbox.processors.eeg import EegProcessor
from bitbox.processors.eeg_simulation import ERPComponent, simulate_raw
from bitbox.processors.rttm import write_rttm
from bitbox.testing import check_processor_class


def _read_back(result: ProcessorResult, tmp_path) -> ProcessorResult:
    result.write(tmp_path / "out")
    return Measurements.read(tmp_path / "out")[result.processor]


def _curve(**changes) -> Curve:
    values = dict(x=[0.5, 1.0, 1.5], y={"mean": [1 / 3, math.nan, 2e-300], "Cz": [1.0, 2.0, 3.0]},
                  x_label="frequency", x_unit="Hz", y_label="power", y_unit="uV^2/Hz", title="Spectrum", log_y=True)
    return Curve(**{**values, **changes})


# ---------------------------------------------------------------------------- curves
def test_a_curve_round_trips_through_the_result_json_exactly(tmp_path):
    curve = _curve()
    assert curve.x.dtype == np.float64 and not curve.x.flags.writeable and list(curve.y) == ["mean", "Cz"]
    result = ProcessorResult("eeg", pd.DataFrame({"time_s": [0.0]}), {"n": 1.0}, curves={"spectrum": curve})
    back = _read_back(result, tmp_path)
    assert back.curves == {"spectrum": curve}
    assert back.curves["spectrum"].y["mean"][0] == 1 / 3 and np.isnan(back.curves["spectrum"].y["mean"][1])
    assert back.curves["spectrum"].log_y is True
    assert curve != _curve(title="Other") and curve != _curve(y={"mean": [1 / 3, math.nan, 0.0], "Cz": [1, 2, 3]})
    first = (tmp_path / "out" / "eeg.json").read_bytes()
    result.write(tmp_path / "out")  # the same result writes the same bytes
    assert (tmp_path / "out" / "eeg.json").read_bytes() == first


def test_files_without_curves_read_as_none_and_results_without_curves_write_none(tmp_path):
    result = ProcessorResult("speech", pd.DataFrame({"time_s": [0.0, 1.0]}), {"n": 1.0})
    back = _read_back(result, tmp_path)
    assert back.curves == {}
    assert "curves" not in json.loads((tmp_path / "out" / "speech.json").read_text())  # older files look the same


def test_a_curve_refuses_lines_of_another_length_and_a_processor_curves_of_another_type(tmp_path):
    with pytest.raises(ParameterError, match="line 'mean' has 2 values for 3 x values"):
        _curve(y={"mean": [1.0, 2.0]})
    with pytest.raises(ParameterError, match="must be 1-D"):
        _curve(x=np.zeros((3, 1)))

    class Bad(Processor):
        name, version, input_kinds = "bad", "1", ("text",)
        measures = (Measure("n", "1", "n", "summary"),)

        def compute(self, recording, sink, progress=None):
            sink.append(pd.DataFrame({"time_s": [0.0]}))
            return Summary({"n": 1.0}, curves={"c": "not a curve"})

    (tmp_path / "a.txt").write_text("words")
    with pytest.raises(RuntimeError, match="curves are bitbox.measurements.Curve objects"):
        Bad().process(tmp_path / "a.txt")


def test_summaries_with_curves_and_rows_pickle_with_them():
    curve = _curve()
    for summary in (Summary({"n": 1.0}, curves={"c": curve}),
                    RowSummaries({"n": 1.0}, {0: {"n": 1.0}, 1: {"n": 2.0}}, curves={"c": curve})):
        again = pickle.loads(pickle.dumps(summary))
        assert type(again) is type(summary) and dict(again) == dict(summary) and again.curves == {"c": curve}
        assert getattr(again, "rows", None) == getattr(summary, "rows", None)


@pytest.fixture(scope="module")
def eeg_files(tmp_path_factory):
    """A resting recording with a 10.5 Hz alpha rhythm, and an oddball with a P3 at 350 ms on Pz."""
    folder = tmp_path_factory.mktemp("eeg")
    simulate_raw(duration_s=30, alpha_hz=10.5, conditions={}, seed=2).save(folder / "rest_raw.fif", verbose="error")
    simulate_raw(seed=1, duration_s=100, n_events=30, alpha_hz=9.5, conditions={
        "target": (ERPComponent(100, -4.0, 20, "Cz"), ERPComponent(350, 10.0, 60, "Pz")),
        "standard": (ERPComponent(100, -4.0, 20, "Cz"), ERPComponent(350, 3.0, 60, "Pz"))},
    ).save(folder / "oddball_raw.fif", verbose="error")
    return folder


def test_the_eeg_spectrum_curve_peaks_at_the_simulated_alpha(eeg_files, tmp_path):
    result = EegProcessor().process(eeg_files / "rest_raw.fif")
    assert set(result.curves) == {"spectrum"}  # no events, no ERP curves
    spectrum = _read_back(result, tmp_path).curves["spectrum"]
    assert spectrum == result.curves["spectrum"]
    assert (spectrum.x_unit, spectrum.y_unit, spectrum.log_y) == ("Hz", "uV^2/Hz", True)
    assert spectrum.x[0] >= 0.5 and spectrum.x[-1] <= 40.0  # the pass band
    peak = spectrum.x[np.argmax(spectrum.y["mean"])]
    assert 8.0 <= peak <= 13.0 and abs(peak - 10.5) <= 0.5
    assert abs(peak - result.summary["alpha_peak_hz"]) <= 0.5


def test_the_erp_curves_peak_at_the_simulated_latency_per_condition(eeg_files, tmp_path):
    components = {"n1": (80.0, 150.0, "negative", ("Cz",)), "p3": (250.0, 500.0, "positive", ("Pz",))}
    result = EegProcessor(reference="none", components=components).process(eeg_files / "oddball_raw.fif")
    back = _read_back(result, tmp_path)
    assert set(back.curves) == {"spectrum", "erp_target", "erp_standard"} and back.curves == result.curves
    target, standard = back.curves["erp_target"], back.curves["erp_standard"]
    assert list(target.y) == ["n1 (Cz)", "p3 (Pz)"] and (target.x_unit, target.y_unit) == ("ms", "uV")
    assert target.x[0] == pytest.approx(-200.0) and target.x[-1] == pytest.approx(800.0)
    p3 = target.y["p3 (Pz)"]
    assert abs(target.x[np.argmax(p3)] - 350.0) <= 10
    assert p3.max() == pytest.approx(10.0, rel=0.15) and standard.y["p3 (Pz)"].max() == pytest.approx(3.0, abs=1.0)
    n1 = target.y["n1 (Cz)"]
    window = (target.x >= 80) & (target.x <= 150)
    assert abs(target.x[window][np.argmin(n1[window])] - 100.0) <= 10
    # the curve is the waveform the summary's peaks were measured on
    assert target.x[np.argmax(p3)] == result.summary["erp_target_p3_peak_latency_ms"]
    assert p3.max() == pytest.approx(result.summary["erp_target_p3_peak_amplitude_uv"], abs=1e-4)
    assert "30 epochs" in target.title


def test_components_on_the_same_channels_share_one_erp_line(eeg_files):
    result = EegProcessor(reference="none").process(eeg_files / "oddball_raw.fif")
    lines = list(result.curves["erp_target"].y)
    assert lines[0].startswith("n1/p2 (") and len(lines) == 3  # n1 and p2 average the same channels
    again = EegProcessor(reference="none").process(eeg_files / "oddball_raw.fif")
    assert again.curves == result.curves  # same input and parameters: the same curves


# ---------------------------------------------------------------------------- events
def _frames(times, **columns) -> pd.DataFrame:
    return pd.DataFrame({"time_s": np.asarray(times, dtype=float), **columns})


def test_the_base_class_and_a_mask_give_the_event_columns():
    empty = Processor.report_events(ProcessorResult("x", _frames([])))
    assert tuple(empty.columns) == EVENT_COLUMNS and empty.empty
    events = events_from_mask(np.arange(10) / 10, [0, 1, 1, 0, np.nan, 1, 1, 1, 0, 1], "blink")
    assert events["onset_s"].tolist() == [0.1, 0.5, 0.9] and events["duration_s"].tolist() == [0.2, 0.3, 0.1]
    assert truncated("word " * 40).endswith("…") and len(truncated("word " * 40)) <= 120
    assert truncated(None) == "" and truncated(" a \n b ") == "a b"


def test_face_blinks_at_known_frames_come_back_from_disk(tmp_path):
    fps = 30.0
    blink = np.zeros(90, dtype=np.int8)
    blink[[10, 11, 12, 40, 41, 85, 86, 87, 88, 89]] = 1  # three blinks: frames 10-12, 40-41, 85-89
    result = ProcessorResult("face", _frames(np.arange(90) / fps, frame=np.arange(90), blink=blink))
    events = bitbox.get_processor_class("face").report_events(_read_back(result, tmp_path))
    assert events["label"].tolist() == ["blink"] * 3
    assert events["onset_s"].tolist() == pytest.approx([10 / fps, 40 / fps, 85 / fps])
    assert events["duration_s"].tolist() == pytest.approx([3 / fps, 2 / fps, 5 / fps])

    # Two people (face.person="all"): each one's blinks, with the person named.
    two = pd.concat([_frames(np.arange(90) / fps, person=0, blink=blink),
                     _frames(np.arange(90) / fps, person=1, blink=np.roll(blink, 5))]).sort_values("time_s",
                                                                                                 kind="stable")
    events = bitbox.get_processor_class("face").report_events(ProcessorResult("face", two.reset_index(drop=True)))
    assert len(events) == 6 and set(events["text"]) == {"person 0", "person 1"}
    second = events[events["text"] == "person 1"]
    # np.roll moved frames 85-89 to 0-4
    assert second["onset_s"].tolist() == pytest.approx([0.0, 15 / fps, 45 / fps])
    assert second["duration_s"].tolist() == pytest.approx([5 / fps, 3 / fps, 2 / fps])
    assert events["onset_s"].is_monotonic_increasing


def test_pose_gestures_and_hand_to_face_on_plausible_frames(tmp_path):
    n = 100
    gesture, hand = np.zeros(n, dtype=np.int8), np.zeros(n, dtype=np.int8)
    gesture[20:35] = 1
    gesture[60:70] = 1
    hand[50:55] = 1
    reason = np.array(["ok"] * n, dtype=object)
    reason[65:70] = "implausible_skeleton"  # not counted, as pose_summary does not count it
    result = ProcessorResult("pose", _frames(np.arange(n) / 25, pose_detected=np.ones(n, dtype=np.int8),
                                             qc_reason=reason, gesture=gesture, hand_to_face=hand))
    events = bitbox.get_processor_class("pose").report_events(_read_back(result, tmp_path))
    assert events["label"].tolist() == ["gesture", "hand to face", "gesture"]
    assert events["onset_s"].tolist() == pytest.approx([0.8, 2.0, 2.4])
    assert events["duration_s"].tolist() == pytest.approx([0.6, 0.2, 0.2])


def test_narrative_spans_of_a_timed_transcript_and_none_for_plain_text(tmp_path):
    table = pd.DataFrame({"time_s": [1.5, 4.0], "sentence_index": [0, 1], "begin_char": [0, 20],
                          "end_char": [5, 26], "term": ["smile", "kitchen"], "label": ["joy", "room"],
                          "category": ["emotion", "location"], "score": [0.9, 0.8]})
    cls = bitbox.get_processor_class("narrative")
    events = cls.report_events(_read_back(ProcessorResult("narrative", table), tmp_path))
    assert events.values.tolist() == [[1.5, 0.0, "emotion", "smile (joy)"], [4.0, 0.0, "location", "kitchen (room)"]]
    assert cls.report_events(ProcessorResult("narrative", table.assign(time_s=math.nan))).empty


def test_speech_pauses_of_known_length(pause_file, tmp_path):
    path, truth = pause_file
    result = bitbox.get_processor_class("speech")().process(path)
    events = bitbox.get_processor_class("speech").report_events(_read_back(result, tmp_path))
    assert events["label"].tolist() == ["pause"] * len(truth) == ["pause"] * int(result.summary["pause_count"])
    for (_, onset, duration, _, text), (start, end) in zip(events.itertuples(), truth):
        assert abs(onset - start) <= 0.05 and abs(duration - (end - start)) <= 0.05
        assert text == f"pause of {duration:.2f} s"
    assert events["duration_s"].mean() == pytest.approx(result.summary["pause_mean_s"], abs=0.011)


def test_speaker_turns_and_backchannels_of_a_reference_rttm(pause_file, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    samples, sr = sf.read(pause_file[0])
    sf.write(folder / "talk.wav", samples, sr)
    # alice, then bob (alice says "mhm" inside his speech: a back-channel), then alice again
    segments = pd.DataFrame({"start_s": [0.2, 1.8, 2.3, 3.3, 5.0], "end_s": [1.4, 3.0, 2.7, 4.5, 6.0],
                             "speaker": ["alice", "bob", "alice", "bob", "alice"]})
    write_rttm(segments, folder / "talk.rttm", file_id="talk")
    result = bitbox.get_processor_class("speakers")(source="rttm").process(folder / "talk.wav")
    events = bitbox.get_processor_class("speakers").report_events(_read_back(result, tmp_path))
    assert events["onset_s"].tolist() == pytest.approx([0.2, 1.8, 2.3, 5.0])
    assert events["duration_s"].tolist() == pytest.approx([1.2, 2.7, 0.4, 1.0])
    assert events["label"].tolist() == ["speaker turn", "speaker turn", "backchannel", "speaker turn"]
    assert events["text"].tolist() == ["S1 (alice)", "S2 (bob)", "S1 (alice)", "S1 (alice)"]


def test_utterances_of_a_timed_transcript_with_their_words(tmp_path):
    srt = tmp_path / "talk.srt"
    long = "and then " * 20 + "we went home."
    srt.write_text(f"1\n00:00:01,000 --> 00:00:02,500\nHello there.\n\n2\n00:00:03,000 --> 00:00:09,000\n{long}\n")
    result = bitbox.get_processor_class("language")().process(srt)
    events = bitbox.get_processor_class("language").report_events(_read_back(result, tmp_path))
    assert events["onset_s"].tolist() == [1.0, 3.0] and events["duration_s"].tolist() == [1.5, 6.0]
    assert events["label"].tolist() == ["utterance"] * 2 and events["text"][0] == "Hello there."
    assert events["text"][1].startswith("and then and then") and len(events["text"][1]) <= 120
    assert events["text"][1].endswith("…")


# ---------------------------------------------------------------------------- quality control
@pytest.mark.parametrize("name", bitbox.available_processors())
def test_every_processor_declares_qc_measures_of_its_own_catalog(name):
    cls = bitbox.get_processor_class(name)
    assert isinstance(cls.qc, QualityColumns) and cls.qc.columns()["summary"], f"{name} declares no QC measure"
    check_processor_class(cls)  # the qc names are catalog measures (numeric summaries)
    summary = {m.name for m in cls.measures if m.kind == "summary" and not m.pattern}
    assert set(cls.qc.measures) <= summary


def test_the_conformance_check_refuses_qc_measures_outside_the_catalog():
    class Level(Processor):
        name, version, input_kinds = "level", "1", ("text",)
        measures = (Measure("level", "1", "A level."), Measure("notes", "", "Notes.", "summary", dtype="str"),
                    Measure("n", "1", "A count.", "summary"))
        qc = QualityColumns(measures=("n",))

        def __init__(self) -> None:
            pass

        def compute(self, recording, sink, progress=None):
            return {}

    check_processor_class(Level)
    Level.qc = QualityColumns(measures=("snr_db",))
    with pytest.raises(AssertionError, match="Level.qc names 'snr_db', which is not a summary measure"):
        check_processor_class(Level)
    Level.qc = QualityColumns(measures=("notes",))
    with pytest.raises(AssertionError, match="QC columns are numbers"):
        check_processor_class(Level)
    Level.qc = QualityColumns(quality="quality")
    with pytest.raises(AssertionError, match="'quality', which is not a timeseries measure"):
        check_processor_class(Level)
