"""RTTM reading and writing: exact round trips, real-format files, and files with injected faults."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bitbox.errors import ParameterError, RecordingError
from bitbox.processors import rttm
from bitbox.processors.rttm import RttmError, find_rttm, format_rttm, parse_rttm, read_rttm, segments_table, write_rttm

# A file as pyannote and md-eval users exchange them: SPKR-INFO records, comments, tabs, 9 and 10 fields.
REAL_FORMAT = """;; reference of interview_03, annotated by hand
SPKR-INFO interview_03 1 <NA> <NA> <NA> unknown clinician <NA>
SPKR-INFO interview_03 1 <NA> <NA> <NA> unknown patient <NA>
SPEAKER interview_03 1 0.480 3.020 <NA> <NA> clinician <NA> <NA>
SPEAKER\tinterview_03\t1\t3.900\t6.155\t<NA>\t<NA>\tpatient\t<NA>\t<NA>

# a 9-field line (older RTTM without the slat field)
SPEAKER interview_03 1 9.700 0.400 <NA> <NA> clinician <NA>
SPEAKER interview_03 1 10.050 2.5 <NA> <NA> patient 1.00 <NA>
"""

GOOD = ["SPEAKER rec 1 0.500 1.250 <NA> <NA> A <NA> <NA>",
        "SPEAKER rec 1 2.000 0.750 <NA> <NA> B <NA> <NA>",
        "SPEAKER rec 1 3.100 0.400 <NA> <NA> A <NA> <NA>"]


def _with_line(line: str, at: int = 1) -> str:
    lines = list(GOOD)
    lines[at] = line
    return "\n".join(lines) + "\n"


def test_round_trip_is_exact_to_the_millisecond(tmp_path):
    rng = np.random.default_rng(3)
    start_ms = np.sort(rng.integers(0, 3_600_000, 300))
    dur_ms = rng.integers(1, 20_000, 300)
    table = segments_table([(s / 1000, (s + d) / 1000, f"spk{k % 4}")
                            for k, (s, d) in enumerate(zip(start_ms, dur_ms))])
    path = write_rttm(table, tmp_path / "rec.rttm", file_id="rec")
    back = read_rttm(path)
    pd.testing.assert_frame_equal(back, table)  # exact float equality, same order and labels
    assert back.attrs["file_id"] == "rec"
    assert [p.name for p in tmp_path.iterdir()] == ["rec.rttm"]  # the atomic write left nothing beside it


def test_format_rounds_to_the_millisecond_and_sums_exactly():
    table = segments_table([(1.23449, 2.00051, "A"), (0.0004, 0.0016, "B")])
    text = format_rttm(table, file_id="x")
    assert text.splitlines() == ["SPEAKER x 1 0.000 0.002 <NA> <NA> B <NA> <NA>",
                                 "SPEAKER x 1 1.234 0.767 <NA> <NA> A <NA> <NA>"]
    back = parse_rttm(text)
    assert back["end_s"].tolist() == [0.002, 2.001]  # onset + duration, summed in decimal


def test_spaces_in_file_id_and_speaker_are_replaced():
    text = format_rttm(segments_table([(0.0, 1.0, "Dr Smith")]), file_id="visit 1 (left)")
    assert text == "SPEAKER visit_1_(left) 1 0.000 1.000 <NA> <NA> Dr_Smith <NA> <NA>\n"
    assert parse_rttm(text)["speaker"].tolist() == ["Dr_Smith"]
    assert parse_rttm(text).attrs["file_id"] == "visit_1_(left)"


def test_reads_a_real_format_file(tmp_path):
    path = tmp_path / "interview_03.rttm"
    path.write_bytes(b"\xef\xbb\xbf" + REAL_FORMAT.encode())  # with a UTF-8 BOM, as Windows editors save
    table = read_rttm(path)
    assert table.attrs["file_id"] == "interview_03"
    assert table["speaker"].tolist() == ["clinician", "patient", "clinician", "patient"]
    assert table["start_s"].tolist() == [0.48, 3.9, 9.7, 10.05]
    assert table["end_s"].tolist() == [3.5, 10.055, 10.1, 12.55]


def test_unsorted_lines_are_sorted_by_start_then_speaker():
    text = "\n".join([GOOD[2], GOOD[0], "SPEAKER rec 1 0.500 0.2 <NA> <NA> 0_first <NA> <NA>", GOOD[1]])
    table = parse_rttm(text)
    assert table["start_s"].tolist() == [0.5, 0.5, 2.0, 3.1]
    assert table["speaker"].tolist() == ["0_first", "A", "B", "A"]


def test_utf8_speaker_names_survive(tmp_path):
    table = segments_table([(0.0, 1.5, "Müller"), (2.0, 3.0, "José")])
    back = read_rttm(write_rttm(table, tmp_path / "a.rttm", file_id="a"))
    assert back["speaker"].tolist() == ["Müller", "José"]


@pytest.mark.parametrize("line, line_no, message", [
    ("SPEAKER rec 1 2.0x0 0.750 <NA> <NA> B <NA> <NA>", 2, r"line 2: the onset '2\.0x0' is not a number"),
    ("SPEAKER rec 1 2.000 abc <NA> <NA> B <NA> <NA>", 2, r"line 2: the duration 'abc' is not a number"),
    ("SPEAKER rec 1 2.000 NaN <NA> <NA> B <NA> <NA>", 2, r"line 2: the duration 'NaN' is not a finite number"),
    ("SPEAKER rec 1 2.000 -0.750 <NA> <NA> B <NA> <NA>", 2, r"line 2: the duration -0\.750 s is not positive"),
    ("SPEAKER rec 1 2.000 0.000 <NA> <NA> B <NA> <NA>", 2, r"line 2: the duration 0\.000 s is not positive"),
    ("SPEAKER rec 1 -2.000 0.750 <NA> <NA> B <NA> <NA>", 2, r"line 2: the onset -2\.000 s is negative"),
    ("SPEAKER rec 1 2.000 0.750", 2, r"line 2: a SPEAKER record has 5 fields, at least 8"),
    ("SPEAKER rec 1 2.000 0.750 <NA> <NA> <NA> <NA> <NA>", 2, r"line 2: the speaker name is missing"),
    ("SPEAKR rec 1 2.000 0.750 <NA> <NA> B <NA> <NA>", 2, r"line 2: 'SPEAKR' is not an RTTM record type"),
])
def test_malformed_line_names_file_line_and_fault(tmp_path, line, line_no, message):
    path = tmp_path / "faulty.rttm"
    path.write_text(_with_line(line), encoding="utf-8")
    with pytest.raises(RttmError, match=message) as info:
        read_rttm(path)
    assert info.value.line == line_no
    assert str(info.value).startswith(f"{path}: line {line_no}: ")  # names the file and the line
    assert isinstance(info.value, RecordingError) and len(info.value.hint) > 20  # says what to do


def test_two_file_ids_are_refused_unless_one_is_chosen(tmp_path):
    path = tmp_path / "two.rttm"
    path.write_text(_with_line("SPEAKER other 1 2.000 0.750 <NA> <NA> B <NA> <NA>"), encoding="utf-8")
    with pytest.raises(RttmError, match=r"holds segments of 2 file ids \('rec', 'other'\)") as info:
        read_rttm(path)
    assert "file_id" in info.value.hint
    assert read_rttm(path, file_id="rec")["start_s"].tolist() == [0.5, 3.1]
    assert read_rttm(path, file_id="other")["speaker"].tolist() == ["B"]
    with pytest.raises(RttmError, match=r"no segment of file id 'third' \(it holds 'rec', 'other'\)"):
        read_rttm(path, file_id="third")


def test_no_speaker_line_is_an_error(tmp_path):
    path = tmp_path / "empty.rttm"
    path.write_text(";; nothing here\nSPKR-INFO rec 1 <NA> <NA> <NA> unknown A <NA>\n\n", encoding="utf-8")
    with pytest.raises(RttmError, match="holds no SPEAKER line") as info:
        read_rttm(path)
    assert info.value.line is None
    (tmp_path / "zero.rttm").write_bytes(b"")
    with pytest.raises(RttmError, match="holds no SPEAKER line"):
        read_rttm(tmp_path / "zero.rttm")


def test_non_utf8_bytes_are_an_error_naming_the_line(tmp_path):
    path = tmp_path / "latin1.rttm"
    data = _with_line("SPEAKER rec 1 2.000 0.750 <NA> <NA> M\xfcller <NA> <NA>").encode("latin-1")
    path.write_bytes(data)
    with pytest.raises(RttmError, match=r"line 2: is not UTF-8 text \(byte 0xfc at offset \d+\)") as info:
        read_rttm(path)
    assert "UTF-8" in info.value.hint


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(RttmError, match="does not exist"):
        read_rttm(tmp_path / "absent.rttm")
    with pytest.raises(RttmError, match="is a folder"):
        read_rttm(tmp_path)


@pytest.mark.parametrize("rows, message", [
    ([(1.0, 1.0, "A")], "not a valid time span"),
    ([(2.0, 1.0, "A")], "not a valid time span"),
    ([(-0.5, 1.0, "A")], "not a valid time span"),
    ([(0.0, float("nan"), "A")], "not a valid time span"),
    ([(0.0, 1.0, " ")], "empty speaker label"),
    ([(0.1, 0.1004, "A")], "shorter than 1 ms"),
])
def test_format_refuses_invalid_segments(rows, message):
    with pytest.raises(ParameterError, match=message):
        format_rttm(pd.DataFrame(rows, columns=["start_s", "end_s", "speaker"]), file_id="x")


def test_format_refuses_missing_columns_and_empty_file_id():
    with pytest.raises(ParameterError, match=r"\['speaker'\] missing"):
        format_rttm(pd.DataFrame({"start_s": [0.0], "end_s": [1.0]}), file_id="x")
    with pytest.raises(ParameterError, match="file id is empty"):
        format_rttm(segments_table([(0.0, 1.0, "A")]), file_id="  ")
    assert format_rttm(segments_table(), file_id="x") == ""


def test_find_rttm_beside_the_recording(tmp_path):
    wav = tmp_path / "visit.wav"
    wav.write_bytes(b"")
    assert find_rttm(wav) is None
    (tmp_path / "visit.RTTM").write_text(GOOD[0] + "\n")
    found = find_rttm(wav)
    assert found is not None and found.name.lower() == "visit.rttm"
    (tmp_path / "visit.rttm").write_text(GOOD[0] + "\n")
    assert find_rttm(wav).name in {"visit.rttm", "visit.RTTM"}
    assert find_rttm(tmp_path / "other.wav") is None
    assert rttm.RTTM_SUFFIXES[0] == ".rttm"
