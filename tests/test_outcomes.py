"""The recording's status from its processors' outcomes, and OUT's tables merged over runs."""
from __future__ import annotations

import pandas as pd

from bitbox.outcomes import merge_row, read_tables, recording_status, write_tables


def test_status_from_per_processor_outcomes():
    assert recording_status({"face": ("ok", ""), "speech": ("ok", "")}) == ("ok", "")
    assert recording_status({"face": ("failed", "no face"), "speech": ("ok", "")}) == ("partial", "face: no face")
    # Not applicable is neither a failure nor a success.
    assert recording_status({"face": ("ok", ""), "speech": ("not_applicable", "no audio track")}) == ("ok", "")
    assert recording_status({"face": ("failed", "no face"), "speech": ("not_applicable", "no audio track")}) == (
        "failed", "no face")
    # Nothing applied: that is why nothing worked.
    assert recording_status({"face": ("not_applicable", "no video stream"),
                             "speech": ("not_applicable", "no audio track")}) == (
        "failed", "face: no video stream; speech: no audio track")
    # One reason for all (a file that cannot be opened, or a single processor): given once.
    assert recording_status({"face": ("failed", "x.mp4: file is empty"), "speech": ("failed", "x.mp4: file is empty")}
                            ) == ("failed", "x.mp4: file is empty")
    assert recording_status({"face": ("failed", "no face")}) == ("failed", "no face")


def test_a_run_replaces_only_its_processors_columns():
    old = {"recording_id": "a", "path": "a.mp4", "status": "partial", "error": "speech: silent",
           "face.status": "ok", "face.error": "", "face.blink_count": 3.0,
           "speech.status": "failed", "speech.error": "silent", "speech.mfcc_1_mean": 1.0}
    new = {"recording_id": "a", "path": "a.mp4", "status": "ok", "error": "",
           "speech.status": "ok", "speech.error": "", "speech.pause_count": 2.0}
    merged = merge_row(old, new, ["speech"])
    assert merged["face.blink_count"] == 3.0 and merged["speech.pause_count"] == 2.0
    assert "speech.mfcc_1_mean" not in merged  # a pattern measure of the old speech result is gone
    assert (merged["status"], merged["error"]) == ("ok", "")
    worse = merge_row(merged, {"recording_id": "a", "path": "a.mp4", "status": "failed", "error": "no face",
                               "face.status": "failed", "face.error": "no face"}, ["face"])
    assert (worse["status"], worse["error"]) == ("partial", "face: no face")
    assert "face.blink_count" not in worse and worse["speech.pause_count"] == 2.0


def test_tables_round_trip_and_tables_of_an_older_bitbox_are_read(tmp_path):
    summary = {"a": {"recording_id": "a", "path": "a.mp4", "status": "ok", "error": "", "face.status": "ok",
                     "face.error": "", "face.notes": "", "face.blink_count": 3.0},
               "007": {"recording_id": "007", "path": "007.mp4", "status": "failed", "error": "bad",
                       "face.status": "failed", "face.error": "bad"}}
    manifest = {rid: {"recording_id": rid, "path": row["path"], "status": row["status"], "reason": row["error"],
                      "sha256": "", "seconds": 1.0, "processors": "face", "reused": "", "finished_utc": ""}
                for rid, row in summary.items()}
    write_tables(tmp_path, manifest, summary, ["a", "007"], ["face.status", "face.error", "face.notes",
                                                             "face.blink_count"])
    m, s, order, columns = read_tables(tmp_path)
    assert order == ["a", "007"] and columns == ["face.status", "face.error", "face.notes", "face.blink_count"]
    assert s["007"]["face.error"] == "bad" and s["a"]["face.notes"] == "" and s["a"]["face.blink_count"] == 3.0
    assert pd.read_csv(tmp_path / "manifest.csv", dtype=str).loc[1, "face.status"] == "failed"
    # Tables written before per-processor outcomes: the row's status gives its processors' outcomes.
    old = tmp_path / "old"
    old.mkdir()
    pd.DataFrame({"recording_id": ["x", "y"], "path": ["x.mp4", "y.mp4"], "status": ["skipped", "failed"],
                  "reason": ["", "no face"], "sha256": ["", ""], "seconds": [1, 1], "processors": ["face", "face"],
                  "finished_utc": ["", ""]}).to_csv(old / "manifest.csv", index=False)
    pd.DataFrame({"recording_id": ["x", "y"], "path": ["x.mp4", "y.mp4"], "status": ["skipped", "failed"],
                  "error": ["", "no face"], "face.blink_count": [2.0, None]}).to_csv(old / "summary.csv", index=False)
    m, s, order, _ = read_tables(old)
    assert order == ["x", "y"] and m["x"]["status"] == "ok"  # "skipped" is gone from both tables
    assert (s["x"]["face.status"], s["x"]["status"]) == ("ok", "ok")
    assert (s["y"]["face.status"], s["y"]["face.error"]) == ("failed", "no face")
