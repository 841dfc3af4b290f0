"""The face processor on the real carphone clip with injected face dropouts (known frames).

tools/faults/video_dropout.py writes copies of the clip with the face removed from chosen
frames (black frames, or the clip's own face-free corner tiled over the frame), one of them
trimmed to 100 frames (3.3 s: shorter than the 1 s and 4 s expressivity kernels, which
crashed the processor before).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import bitbox
from bitbox import split_notes
from bitbox.processors import face
from tools.faults import video_dropout

SHORT_DROPPED = list(range(50, 54))          # 4 black frames in a 100-frame clip
SPREAD_DROPPED = [30, 31, 60, 61, 90, 91]    # face-free frames every second of the full clip


@pytest.fixture(scope="module")
def dropout_results(carphone, tmp_path_factory):
    """Face results on the two faulty copies and on the clip's left half (computed once)."""
    folder = tmp_path_factory.mktemp("face_dropout")
    short = video_dropout.dropout_copy(carphone, folder / "short_black.mp4", frames=SHORT_DROPPED, n_frames=100)
    spread = video_dropout.dropout_copy(carphone, folder / "spread_background.mp4", frames=SPREAD_DROPPED,
                                        fill="background")
    run = dict(processors=["face"], store_landmarks=False)
    return {"short": bitbox.process(short, **run)["face"], "spread": bitbox.process(spread, **run)["face"],
            "left": bitbox.process(carphone, crop="left", **run)["face"]}


def _nan_measures(summary) -> list[str]:
    return [k for k, v in summary.items() if isinstance(v, float) and math.isnan(v)]


def _explained(name: str, notes: str) -> bool:
    region = next((r for r in face.REGIONS if name.startswith(f"expr_{r}_")), None)
    return name in notes or (region is not None and name.replace(f"expr_{region}_", "expr_*_") in notes)


@pytest.mark.parametrize("clip, dropped, n", [("short", SHORT_DROPPED, 100), ("spread", SPREAD_DROPPED, 120)])
def test_the_face_is_missing_exactly_on_the_injected_frames(dropout_results, clip, dropped, n):
    result = dropout_results[clip]
    ts = result.timeseries
    assert len(ts) == n
    assert np.flatnonzero(ts["face_detected"].to_numpy() == 0).tolist() == dropped
    assert set(ts["qc_reason"].iloc[dropped]) == {"no_face"}
    assert "no_face" not in set(ts["qc_reason"].drop(index=dropped))
    assert result.summary["face_detected_fraction"] == pytest.approx((n - len(dropped)) / n, abs=1e-12)


def test_a_short_gappy_clip_has_nan_expressivity_with_notes_saying_why(dropout_results):
    s = dropout_results["short"].summary
    notes = split_notes(s["notes"])
    assert ("expr_*_4s_frequency, expr_*_4s_mean are NaN: the 4 s scale needs at least 121 analysed frames "
            "(4.04 s at 29.97 fps) and the clip has 100 - analyse a longer recording, or use the shorter time "
            "scales") in notes
    # The 1 s kernel spans 31 frames (sigma = d/4, as the original Bitbox; zero padding beyond the ends): the gap at
    # 50-53 leaves 50 and 46 frames, enough for it. A region without events says so, with nothing to fix.
    assert all("nothing to fix" in n for n in notes if "no expressive event" in n)
    for region in face.REGIONS:
        assert math.isnan(s[f"expr_{region}_4s_frequency"]) and s[f"expr_{region}_1s_frequency"] >= 0
        assert s[f"expr_{region}_0p25s_frequency"] >= 0  # the 0.25 s kernel (31 frames) fits
    assert s["expr_mouth_0p25s_frequency"] > 0  # the man talks
    assert all(_explained(name, s["notes"]) for name in _nan_measures(s))
    # Kinematics skip the gap; LDJ uses the longest stretch with a face (frames 0-49).
    assert math.isfinite(s["head_angle_path_length_deg"]) and math.isfinite(s["head_angle_ldj"])


def test_gaps_every_second_leave_the_short_scale_only(dropout_results):
    s = dropout_results["spread"].summary
    assert all(math.isnan(s[f"expr_{r}_1s_frequency"]) for r in face.REGIONS)
    assert all(math.isfinite(s[f"expr_{r}_0p25s_frequency"]) for r in face.REGIONS)
    assert math.isfinite(s["head_rotation_speed_deg_per_s"])  # consecutive frames with a face remain
    assert all(_explained(name, s["notes"]) for name in _nan_measures(s))


def test_the_left_half_runs_and_explains_its_nan_measures(dropout_results):
    result = dropout_results["left"]
    s = result.summary
    assert s["n_frames"] == 120 and 0 < s["face_detected_fraction"] <= 1
    assert math.isfinite(s["head_angle_range_deg"])
    assert all(_explained(name, s["notes"]) for name in _nan_measures(s))
    assert result.provenance["parameters"]["crop"] == "left"
    # The face straddles the middle of the frame: most frames of the left half show it cut off, and the notes say so.
    ts = result.timeseries
    share = (ts.loc[ts["face_detected"] == 1, "qc_reason"] == "face_partly_outside_frame").mean()
    assert share > 0.3
    assert f"qc_reason face_partly_outside_frame on {100 * share:.0f}% of the frames with a face: part of the face " \
           "lies outside the frame (or outside the analysed region with crop or roi)" in s["notes"]
