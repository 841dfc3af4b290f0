"""Turn-taking on hand-made segments tables (no audio, no model): floor turns, switches, response
latencies, interruptions, back-channels, overlaps, per-speaker turn measures; labels in order of first
speech."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from bitbox.errors import ParameterError
from bitbox.processors.rttm import label_by_first_speech
from bitbox.processors.speakers.turns import (annotate_turns, merge_same_speaker, overlap_time, speaker_turn_summary,
                                              turn_taking_summary)


def table(*rows):
    return pd.DataFrame(rows, columns=["start_s", "end_s", "speaker"])


def test_switches_interruptions_backchannels_and_latencies():
    seg = table((0.0, 3.0, "A"), (3.5, 6.0, "A"), (4.0, 4.5, "B"), (6.4, 9.0, "B"), (8.5, 12.0, "A"),
                (12.8, 14.0, "B"), (13.0, 13.6, "A"))
    t = annotate_turns(seg)
    assert t["turn_type"].tolist() == ["first", "continuation", "backchannel", "switch", "interruption", "switch",
                                       "backchannel"]
    assert t["latency_s"].round(3).tolist()[3:6] == [0.4, -0.5, 0.8]
    assert t["turn"].tolist() == [1, 1, 1, 2, 3, 4, 4]
    assert t["overlap"].round(3).tolist() == [0.0, 0.5, 0.5, 0.5, 0.5, 0.6, 0.6]
    conv = turn_taking_summary(t)
    assert conv["switch_count"] == 3 and conv["interruption_count"] == 1 and conv["backchannel_count"] == 2
    assert conv["latency_median_s"] == pytest.approx(0.4) and conv["overlap_time_s"] == pytest.approx(1.6)
    assert conv["switches_per_min"] == pytest.approx(60 * 3 / 14.0)
    a, b = speaker_turn_summary(t, "A"), speaker_turn_summary(t, "B")
    assert a["talk_time_s"] == pytest.approx(3 + 2.5 + 3.5 + 0.6) and b["talk_time_s"] == pytest.approx(0.5 + 2.6 + 1.2)
    assert a["talk_share"] + b["talk_share"] == pytest.approx(1.0)
    assert a["turn_count"] == 2 and a["pause_count"] == 1 and a["turn_mean_s"] == pytest.approx((6.0 + 3.5) / 2)
    assert a["interruption_count"] == 1 and b["backchannel_count"] == 1 and a["backchannel_count"] == 1


def test_an_interrupter_who_pauses_after_starting_is_one_interruption():
    t = annotate_turns(table((0, 5, "A"), (4.0, 4.6, "B"), (4.9, 9, "B"), (9.5, 12, "A")))
    assert t["turn_type"].tolist() == ["first", "interruption", "continuation", "switch"]
    assert t["latency_s"].iloc[1] == pytest.approx(-1.0) and t["latency_s"].iloc[3] == pytest.approx(0.5)


def test_speech_over_the_holder_that_the_holder_talks_through_does_not_take_the_floor():
    t = annotate_turns(table((0, 5, "A"), (4.0, 6.5, "B"), (5.5, 10, "A")))  # A resumes while B still speaks
    assert t["turn_type"].tolist() == ["first", "overlap", "continuation"] and t["latency_s"].isna().all()
    t = annotate_turns(table((0, 5, "A"), (4.0, 4.6, "B"), (5.2, 6, "A"), (6.5, 9, "B")))
    assert t["turn_type"].tolist() == ["first", "backchannel", "continuation", "switch"]


def test_a_short_reply_in_the_holders_pause_is_a_turn():
    """Documented: timing cannot tell a back-channel in a pause from a short answer."""
    t = annotate_turns(table((0, 2, "A"), (2.3, 2.8, "B"), (3.3, 5, "A")))
    assert t["turn_type"].tolist() == ["first", "switch", "switch"]
    assert t["latency_s"].round(3).tolist()[1:] == [0.3, 0.5]


def test_one_speaker_and_no_speech():
    t = annotate_turns(table((0, 2, "A"), (2.5, 4, "A")))
    conv = turn_taking_summary(t)
    assert conv["switch_count"] == 0 and math.isnan(conv["latency_median_s"]) and conv["overlap_time_s"] == 0
    assert speaker_turn_summary(t, "A")["pause_rate_per_min"] == pytest.approx(60 / 3.5)
    empty = turn_taking_summary(annotate_turns(table()))
    assert empty["conversation_s"] == 0 and math.isnan(empty["switches_per_min"])


def test_merging_a_speakers_own_segments():
    merged = merge_same_speaker(table((0, 1, "A"), (1.1, 2, "A"), (0.5, 1.5, "B"), (3, 4, "A")), min_pause_s=0.25)
    assert merged.values.tolist() == [[0, 2, "A"], [0.5, 1.5, "B"], [3, 4, "A"]]
    assert overlap_time(table((0, 2, "A"), (1, 3, "B"), (1.5, 2.5, "C"))) == pytest.approx(1.5)


def test_bad_tables_and_parameters_are_refused():
    with pytest.raises(ParameterError, match="columns"):
        annotate_turns(pd.DataFrame({"start_s": [0.0], "end_s": [1.0]}))
    with pytest.raises(ParameterError, match="valid time span"):
        annotate_turns(table((2.0, 1.0, "A")))
    with pytest.raises(ParameterError, match="backchannel_max_s"):
        annotate_turns(table((0, 1, "A")), backchannel_max_s=0)


def test_labels_follow_first_speech_also_past_nine_speakers():
    rows = [(float(i), i + 0.5, f"spk{(7 * i) % 11}") for i in range(11)]
    relabelled, names = label_by_first_speech(table(*rows))
    assert relabelled["speaker"].tolist() == [f"S{i}" for i in range(1, 12)]
    assert names["S10"] == "spk8" and names["S2"] == "spk7"
