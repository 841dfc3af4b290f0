"""Per-speaker language measures: words given to speakers by time (an RTTM beside the recording, the speakers
processor's result, a JSON transcript's own speaker fields), against dialogues whose truth is known."""
from __future__ import annotations

import json
import math
import random

import numpy as np
import pandas as pd
import pytest

import bitbox
from bitbox.errors import CatalogError, ParameterError
from bitbox.measurements import ProcessorResult
from bitbox.processor import split_notes
from bitbox.processors.language import LanguageProcessor, assign_speakers
from bitbox.processors.rttm import RttmError, segments_table
from bitbox.recording import Recording
from bitbox.testing import check_processor

#: (RTTM speaker name, start s, end s, what was said). The interviewer ("spk_1") speaks first, so it is S1 although
#: its name sorts after the patient's. The first question has no "?", so a word-timed transcript runs it into the
#: patient's first answer as one utterance, which must be split where the speaker changes.
DIALOGUE = [
    ("spk_1", 0.0, 1.5, "How are you feeling today"),
    ("spk_0", 2.0, 4.0, "I feel tired. I slept badly."),
    ("spk_1", 4.5, 5.7, "What keeps you awake?"),
    ("spk_0", 6.0, 8.0, "My thoughts keep me awake at night."),
    ("spk_1", 8.5, 9.7, "Do you talk to anyone?"),
    ("spk_0", 10.0, 12.0, "I talk to my sister sometimes."),
]
#: The known truth: S1 = the interviewer (14 words, 3 questions, no first-person pronoun), S2 = the patient (19 words,
#: 4 sentences; I, I, my, me, I, my = 6 first-person-singular pronouns).
INTERVIEWER_WORDS, PATIENT_WORDS, PATIENT_FIRST_PERSON = 14, 19, 6


def timed_words(pieces):
    """Words with times: each piece's words spread evenly over it, each lasting 90% of its share."""
    words = []
    for _, start, end, text in pieces:
        tokens = text.split()
        step = (end - start) / len(tokens)
        words += [{"word": token, "start": round(start + i * step, 3), "end": round(start + (i + 0.9) * step, 3)}
                  for i, token in enumerate(tokens)]
    return words


def rttm_text(pieces, *, seed=0):
    lines = [f"SPEAKER dialogue 1 {start:.3f} {end - start:.3f} <NA> <NA> {name} <NA> <NA>"
             for name, start, end, _ in pieces]
    random.Random(seed).shuffle(lines)  # the reader sorts them
    return ";; reference turns\n" + "\n".join(lines) + "\n"


def patient_speaking_time():
    """Summed durations of the patient's sentences (first word's start to last word's end), from the word times."""
    total = 0.0
    for name, start, end, text in DIALOGUE:
        if name != "spk_0":
            continue
        words = timed_words([(name, start, end, text)])
        sentence = []
        for word in words:
            sentence.append(word)
            if word["word"].endswith("."):
                total += sentence[-1]["end"] - sentence[0]["start"]
                sentence = []
    return total


@pytest.fixture
def dialogue(tmp_path):
    """dialogue.json (word times) with dialogue.rttm beside it."""
    path = tmp_path / "dialogue.json"
    path.write_text(json.dumps({"words": timed_words(DIALOGUE)}))
    (tmp_path / "dialogue.rttm").write_text(rttm_text(DIALOGUE))
    return path


def speakers_result(pieces, **summary):
    """What the speakers processor gives: one row per segment, labels S1, S2 in order of first speech."""
    labels = {"spk_1": "S1", "spk_0": "S2"}
    frame = pd.DataFrame({"time_s": [p[1] for p in pieces], "end_s": [p[2] for p in pieces],
                          "speaker": [labels[p[0]] for p in pieces], "overlap": 0.0})
    return ProcessorResult(processor="speakers", timeseries=frame, summary={"n_speakers": 2.0, **summary},
                           provenance={"processor_version": "0.1.0", "parameters": {"n_speakers": None}})


def check_per_speaker(summary):
    assert summary["n_speakers"] == 2
    assert summary["S1_word_count"] == INTERVIEWER_WORDS and summary["S2_word_count"] == PATIENT_WORDS
    assert summary["S1_utterance_count"] == 3 and summary["S2_utterance_count"] == 4
    assert summary["S1_first_person_singular_rate"] == 0
    assert summary["S2_first_person_singular_rate"] == pytest.approx(100 * PATIENT_FIRST_PERSON / PATIENT_WORDS)
    assert summary["S2_mlu_words"] == pytest.approx(PATIENT_WORDS / 4)
    assert summary["S2_word_rate_wpm"] == pytest.approx(60 * PATIENT_WORDS / patient_speaking_time(), rel=1e-9)
    assert summary["word_count"] == INTERVIEWER_WORDS + PATIENT_WORDS  # pooled
    assert summary["utterance_count"] == 7  # the run-on question and answer split in two


# ---------------------------------------------------------------------------- assignment by time
def test_words_go_to_the_speaker_overlapping_most_else_the_nearest_within_half_a_second():
    segments = segments_table([(0.0, 2.0, "S1"), (1.5, 4.0, "S2"), (6.0, 7.0, "S1")])
    spans = np.array([[0.5, 1.0],    # inside S1 only
                      [1.6, 2.5],    # S1 0.4 s, S2 0.9 s -> S2
                      [1.5, 2.0],    # 0.5 s each: the tie goes to the lower label
                      [4.2, 4.4],    # after S2 by 0.2 s -> S2
                      [5.0, 5.2],    # 1.0 s from S2, 0.8 s from S1 -> nobody
                      [5.6, 5.8],    # 0.2 s before S1's second segment -> S1
                      [6.5, 6.5],    # no duration, inside S1
                      [7.5, 7.6]])   # exactly 0.5 s after S1 -> S1
    labels = assign_speakers(starts=spans[:, 0], ends=spans[:, 1], segments=segments)
    assert list(labels) == ["S1", "S2", "S1", "S2", "", "S1", "S1", "S1"]
    assert list(assign_speakers(starts=spans[:, 0], ends=spans[:, 1], segments=segments, max_distance_s=0.1)) \
        == ["S1", "S2", "S1", "", "", "", "S1", ""]


# ---------------------------------------------------------------------------- an RTTM beside the transcript
def test_rttm_beside_a_word_timed_transcript(dialogue):
    result = LanguageProcessor().process(dialogue)
    summary = result.summary
    check_per_speaker(summary)
    assert summary["speaker_labels"] == "S1=spk_1; S2=spk_0"  # in order of first speech, not of name
    assert summary["speaker_source"] == "rttm:dialogue.rttm"
    assert "target_speaker" not in summary and not any(k.startswith("target_") for k in summary)
    table = result.timeseries
    assert list(table["speaker"]) == ["S1", "S2", "S2", "S1", "S2", "S1", "S2"]
    assert table["utterance_text"].iloc[0] == "How are you feeling today"  # split where the speaker changes
    assert table["utterance_text"].iloc[1] == "I feel tired."
    for row in table.itertuples():
        name = "spk_1" if row.speaker == "S1" else "spk_0"
        assert any(row.utterance_text in text for who, _, _, text in DIALOGUE if who == name)
    turns = result.provenance["companion_files"]["speaker_turns"]
    assert turns["path"].endswith("dialogue.rttm") and len(turns["sha256"]) == 64
    assert summary["notes"] == ""  # every speaker has several utterances and enough words


def test_speaker_notes_name_the_speakers_nan_measures(tmp_path):
    pieces = [("doctor", 0.0, 1.0, "Tell me more."),
              ("patient", 1.5, 4.0, "I went out. I came back. I slept.")]
    path = tmp_path / "visit.json"
    path.write_text(json.dumps({"words": timed_words(pieces)}))
    (tmp_path / "visit.rttm").write_text(rttm_text(pieces))
    summary = LanguageProcessor().process(path).summary
    assert summary["speaker_labels"] == "S1=doctor; S2=patient"
    assert math.isnan(summary["S1_coherence_mean"]) and math.isnan(summary["S1_coherence_min"])
    assert np.isfinite(summary["S2_coherence_mean"]) and np.isfinite(summary["coherence_mean"])
    assert any(note.startswith("S1_coherence_mean, S1_coherence_min are NaN: S1's speech is a single utterance")
               for note in split_notes(summary["notes"]))
    assert summary["S2_mattr"] == pytest.approx(summary["S2_type_token_ratio"])  # shorter than the window, as pooled


def test_speakers_processor_result_works_the_same(tmp_path):
    path = tmp_path / "dialogue.json"
    path.write_text(json.dumps({"words": timed_words(DIALOGUE)}))
    recording = Recording(path)
    recording.add_upstream(speakers_result(DIALOGUE, target_speaker="S2"))
    result = LanguageProcessor().process(recording)
    summary = result.summary
    check_per_speaker(summary)
    assert summary["speaker_source"] == "speakers" and summary["speaker_labels"] == ""
    assert summary["target_speaker"] == "S2"  # designated by the speakers processor
    for key in ("word_count", "utterance_count", "first_person_singular_rate", "mattr", "coherence_mean"):
        assert summary[f"target_{key}"] == summary[f"S2_{key}"]
    assert "speaker_turns" not in result.provenance.get("companion_files", {})
    assert result.provenance["upstream"]["speakers"]["processor_version"] == "0.1.0"


def test_an_rttm_beside_the_recording_comes_before_the_speakers_result(dialogue):
    recording = Recording(dialogue)
    swapped = [(("spk_0" if who == "spk_1" else "spk_1"), a, b, t) for who, a, b, t in DIALOGUE]
    recording.add_upstream(speakers_result(swapped))
    result = LanguageProcessor().process(recording)
    assert result.summary["speaker_source"] == "rttm:dialogue.rttm"
    assert result.summary["S1_word_count"] == INTERVIEWER_WORDS
    # its turns were not used, but its target could be (when it read the same RTTM): it stays in the provenance
    assert "speakers" in result.provenance["upstream"] and result.summary.get("target_speaker", "") == ""
    dialogue.with_suffix(".rttm").unlink()
    assert "upstream" not in LanguageProcessor(by_speaker="none").process(recording).provenance
    assert "speakers" in LanguageProcessor().process(recording).provenance["upstream"]


def test_a_speakers_result_without_speech_leaves_the_measures_pooled(tmp_path):
    path = tmp_path / "dialogue.json"
    path.write_text(json.dumps({"words": timed_words(DIALOGUE)}))
    recording = Recording(path)
    recording.add_upstream(speakers_result([]))
    summary = LanguageProcessor().process(recording).summary
    assert "n_speakers" not in summary and "S1_word_count" not in summary
    assert "the speakers processor found no speech segments" in summary["notes"]


@pytest.mark.parametrize("choice, target", [("first", "S1"), ("longest", "S2"), ("S1", "S1"), ("S2", "S2")])
def test_target_speaker_choices(dialogue, choice, target):
    recording = Recording(dialogue)
    summary = LanguageProcessor(target_speaker=choice).process(recording).summary
    assert summary["target_speaker"] == target
    assert summary["target_word_count"] == (INTERVIEWER_WORDS if target == "S1" else PATIENT_WORDS)
    assert summary["target_first_person_singular_rate"] == summary[f"{target}_first_person_singular_rate"]


def test_target_speaker_parameter_overrides_the_speakers_designation_and_unknown_ones_are_noted(tmp_path):
    path = tmp_path / "dialogue.json"
    path.write_text(json.dumps({"words": timed_words(DIALOGUE)}))
    recording = Recording(path)
    recording.add_upstream(speakers_result(DIALOGUE, target_speaker="S2"))
    assert LanguageProcessor(target_speaker="first").process(recording).summary["target_speaker"] == "S1"
    summary = LanguageProcessor(target_speaker="S3").process(recording).summary
    assert "target_speaker" not in summary and "target_word_count" not in summary
    assert "target_speaker='S3' has no transcript words (the speakers with words are S1, S2)" in summary["notes"]


@pytest.mark.parametrize("params", [{"by_speaker": "both"}, {"by_speaker": None}, {"target_speaker": "S0"},
                                    {"target_speaker": "patient"}, {"target_speaker": 2},
                                    {"by_speaker": "none", "target_speaker": "first"}])
def test_bad_speaker_parameters_are_refused(dialogue, params):
    key = "target_speaker" if "target_speaker" in params else "by_speaker"
    with pytest.raises(ParameterError, match=key):
        LanguageProcessor(**params).process(dialogue)


# ---------------------------------------------------------------------------- what cannot be split
def test_a_transcript_without_times_keeps_pooled_measures_with_a_note(tmp_path):
    path = tmp_path / "dialogue.txt"
    path.write_text("\n".join(text for *_, text in DIALOGUE))
    (tmp_path / "dialogue.rttm").write_text(rttm_text(DIALOGUE))
    summary = LanguageProcessor().process(path).summary
    (tmp_path / "dialogue.rttm").unlink()
    pooled = LanguageProcessor(by_speaker="none").process(path).summary
    assert not any(k.startswith("S1_") for k in summary) and "n_speakers" not in summary
    assert {k: v for k, v in summary.items() if k in pooled and k != "notes"} == \
        {k: v for k, v in pooled.items() if k != "notes"}
    assert summary["speaker_source"] == "rttm:dialogue.rttm"
    assert ("speaker turns were found (rttm:dialogue.rttm) but the transcript has no times, so its words cannot be "
            "given to speakers - give a timed transcript (.srt, or .json") in summary["notes"]


def test_words_outside_every_turn_are_unassigned_and_noted(tmp_path):
    late = [("nobody", 20.0, 21.0, "Thank you all.")]  # 8 s after the last turn ends
    path = tmp_path / "dialogue.json"
    path.write_text(json.dumps({"words": timed_words(DIALOGUE + late)}))
    (tmp_path / "dialogue.rttm").write_text(rttm_text(DIALOGUE))
    result = LanguageProcessor().process(path)
    summary = result.summary
    check_per_speaker({**summary, "word_count": summary["word_count"] - 3, "utterance_count": 7})
    assert summary["word_count"] == INTERVIEWER_WORDS + PATIENT_WORDS + 3  # pooled: every word
    assert "3 of 36 words (8%) are outside every speaker turn (and more than 0.5 s from one)" in summary["notes"]
    assert result.timeseries["speaker"].iloc[-1] == "" and result.timeseries["utterance_text"].iloc[-1] == \
        "Thank you all."


def test_srt_cues_are_given_whole_to_the_speaker_they_overlap(tmp_path):
    def stamp(t):
        return f"00:00:{int(t):02d},{round((t % 1) * 1000):03d}"
    cues = [(2.0, 4.0, "I feel tired. I slept badly."), (4.4, 5.8, "What keeps you awake?"),
            (6.1, 7.9, "My thoughts keep me awake at night.")]
    srt = "\n\n".join(f"{i}\n{stamp(a)} --> {stamp(b)}\n{text}" for i, (a, b, text) in enumerate(cues, 1))
    path = tmp_path / "visit.srt"
    path.write_text(srt + "\n")
    (tmp_path / "visit.rttm").write_text(rttm_text(DIALOGUE[1:4]))  # the patient speaks first here: S1
    result = LanguageProcessor().process(path)
    summary = result.summary
    assert summary["speaker_labels"] == "S1=spk_0; S2=spk_1"
    assert summary["S1_word_count"] == 13 and summary["S1_utterance_count"] == 3
    assert summary["S2_word_count"] == 4 and summary["S2_utterance_count"] == 1
    assert list(result.timeseries["speaker"]) == ["S1", "S1", "S2", "S1"]


def test_a_faulty_rttm_fails_with_the_readers_error_naming_the_file(dialogue):
    rttm = dialogue.with_suffix(".rttm")
    lines = rttm.read_text().splitlines()
    lines[2] = "SPEAKER dialogue 1 4.500 abc <NA> <NA> spk_1 <NA> <NA>"
    rttm.write_text("\n".join(lines) + "\n")
    with pytest.raises(RttmError, match=r"dialogue\.rttm.*line 3.*'abc' is not a number"):
        LanguageProcessor().process(dialogue)
    assert "n_speakers" not in LanguageProcessor(by_speaker="none").process(dialogue).summary  # not read at all


def test_by_speaker_none_gives_the_pooled_output_unchanged(dialogue):
    with_rttm = LanguageProcessor(by_speaker="none").process(dialogue)
    dialogue.with_suffix(".rttm").unlink()
    alone = LanguageProcessor().process(dialogue)
    assert "speaker" not in with_rttm.timeseries.columns and "companion_files" not in with_rttm.provenance
    pd.testing.assert_frame_equal(with_rttm.timeseries, alone.timeseries.drop(columns="speaker"))
    assert with_rttm.summary == alone.summary  # no turns: no speaker measures either
    assert with_rttm.summary["utterance_count"] == 6  # the run-on question and answer stay one utterance
    assert (alone.timeseries["speaker"] == "").all()


# ---------------------------------------------------------------------------- a transcript's own speakers
def test_whisperx_style_speaker_fields_are_used_without_turns(tmp_path):
    names = {"spk_1": "SPEAKER_01", "spk_0": "SPEAKER_00"}
    segments = [{"start": start, "end": end, "text": text, "speaker": names[who]}
                for who, start, end, text in DIALOGUE]
    path = tmp_path / "whisperx.json"
    path.write_text(json.dumps({"segments": segments}))
    summary = LanguageProcessor().process(path).summary
    assert summary["speaker_source"] == "transcript"
    assert summary["speaker_labels"] == "S1=SPEAKER_01; S2=SPEAKER_00"
    assert summary["n_speakers"] == 2 and summary["utterance_count"] == 7
    assert summary["S1_word_count"] == INTERVIEWER_WORDS and summary["S2_word_count"] == PATIENT_WORDS
    assert summary["S1_utterance_count"] == 3 and summary["S2_utterance_count"] == 4
    # segment times only: the patient's two sentences of a segment share its 2 s, so S2 holds the floor 6 s
    assert summary["S2_word_rate_wpm"] == pytest.approx(60 * PATIENT_WORDS / 6.0)
    # word-level speakers without any times still split the measures
    words = [{"word": w, "speaker": names[who]} for who, *_, text in DIALOGUE for w in text.split()]
    path.write_text(json.dumps({"words": words}))
    untimed = LanguageProcessor().process(path).summary
    assert untimed["S1_word_count"] == INTERVIEWER_WORDS and untimed["S2_word_count"] == PATIENT_WORDS
    assert untimed["S2_first_person_singular_rate"] == pytest.approx(100 * PATIENT_FIRST_PERSON / PATIENT_WORDS)
    assert "S2_word_rate_wpm" not in untimed


# ---------------------------------------------------------------------------- catalog and conformance
def test_per_speaker_measures_are_catalogued():
    catalog = bitbox.catalog()
    for name in ("S1_word_count", "S12_mattr", "S3_word_rate_wpm"):
        measure = catalog.get(f"language.{name}")
        assert measure.pattern and measure.kind == "summary"
    for name in ("target_first_person_singular_rate", "target_coherence_min"):  # fixed names: pages of their own
        measure = catalog.get(f"language.{name}")
        assert not measure.pattern and measure.kind == "summary"
    assert catalog.get("language.S2_first_person_singular_rate").unit == "1/100 words"
    assert catalog.get("language.speaker", kind="timeseries").dtype == "str"
    for bad in ("S0_word_count", "s1_word_count", "S1_notes", "target_asr_avg_logprob"):
        with pytest.raises(CatalogError):
            catalog.get(f"language.{bad}")


def test_conformance_with_speaker_turns(dialogue):
    check_processor(LanguageProcessor, dialogue)
