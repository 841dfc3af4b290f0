"""Whom the face processor reports: the ``person`` parameter's choice among the people tracked."""
from __future__ import annotations

import pytest

from bitbox.errors import MeasurementError
from bitbox.processors.face.persons import select_persons

# id -> frames with the face, median head size (px), median head x (px), over 100 analysed frames
STATS = {0: {"n": 100.0, "size": 40.0, "x": 900.0},
         1: {"n": 90.0, "size": 60.0, "x": 300.0},
         2: {"n": 20.0, "size": 120.0, "x": 600.0},   # a big face seen briefly: not "largest"
         3: {"n": 1.0, "size": 30.0, "x": 50.0}}       # a one-frame detection: not in "all"


@pytest.mark.parametrize(("person", "expected"), [("largest", [1]), ("left", [1]), ("right", [0]), (2, [2]),
                                                  ("all", [0, 1, 2])])
def test_person_choice(person, expected):
    chosen, dropped = select_persons(person, STATS, n_frames=100, path="clip.mp4")
    assert chosen == expected
    assert dropped == ([3] if person == "all" else [])


def test_an_id_that_was_not_seen_lists_the_ids_seen():
    with pytest.raises(MeasurementError, match=r"person 7 was not seen; the people seen are 0 \(100% of frames\), "
                                               r"1 \(90% of frames\)"):
        select_persons(7, STATS, n_frames=100, path="clip.mp4")


def test_no_face_at_all_says_what_to_do():
    with pytest.raises(MeasurementError, match="no face was found in any of the 12 analysed frames.*roi"):
        select_persons("largest", {0: {"n": 0.0, "size": float("nan"), "x": float("nan")}}, n_frames=12,
                       path="clip.mp4")


def test_short_clips_keep_a_person_seen_on_few_frames():
    """In a 10-frame clip, 2% is 0.2 frames: one frame is enough to be reported."""
    chosen, dropped = select_persons("all", {0: {"n": 10.0, "size": 40.0, "x": 1.0}, 1: {"n": 1.0, "size": 40.0,
                                                                                        "x": 2.0}},
                                     n_frames=10, path="clip.mp4")
    assert chosen == [0, 1] and dropped == []
