"""Evidence for the face measures: known 3D pose, synthesized blinks and gaze shifts on a real face.

The stimuli are made by tools/face_warp.py from scikit-image's astronaut portrait: its face
mesh is rotated in 3D, its upper eyelids lowered, or its irises shifted, and the photo is
warped triangle by triangle. ``benchmarks/face_validation.py`` prints the figures quoted in
docs/face.md; these tests hold them to the thresholds.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

import bitbox
from tools import face_warp, synth

ANGLES = face_warp.POSE_ANGLES


@pytest.fixture(scope="module")
def pose_sweeps(media_dir):
    """Head pose estimated on the face re-posed by known yaws, then by known pitches."""
    path = synth.write_video(media_dir / "reposed.mp4", face_warp.pose_sweep_frames(face_warp.astronaut_warper()))
    ts = bitbox.process(path, tracking=False, store_landmarks=False)["face"].timeseries
    assert ts["face_detected"].all()
    n = len(ANGLES)
    return ts.iloc[:n].reset_index(drop=True), ts.iloc[n:].reset_index(drop=True)


@pytest.mark.parametrize("angle, other, sweep", [("yaw", "pitch", 0), ("pitch", "yaw", 1)])
def test_pose_is_linear_in_the_set_angle_without_cross_talk(pose_sweeps, angle, other, sweep):
    part = pose_sweeps[sweep]
    estimate = part[f"head_{angle}"].to_numpy()
    r, slope = np.corrcoef(ANGLES, estimate)[0, 1], np.polyfit(ANGLES, estimate, 1)[0]
    assert r >= 0.98 and slope > 0, (r, slope)
    assert (np.diff(estimate) > 0).all()
    cross = part[f"head_{other}"].to_numpy()
    assert np.abs(cross - cross[ANGLES == 0][0]).max() < 4  # the angle not set stays put


def test_synthesized_blinks_are_counted_and_timed(media_dir):
    frames, _ = face_warp.blink_frames(face_warp.astronaut_warper())
    path = synth.write_video(media_dir / "blinks.mp4", frames)
    result = bitbox.process(path, store_landmarks=False)["face"]
    blink = result.timeseries["blink"].to_numpy()
    starts = np.array(face_warp.BLINK_STARTS)
    onsets = np.flatnonzero(np.diff(np.r_[0, blink]) == 1)
    offsets = np.flatnonzero(np.diff(np.r_[blink, 0]) == -1) + 1
    assert result.summary["blink_count"] == len(starts)
    assert np.abs(onsets - starts).max() <= 2
    assert np.abs(offsets - (starts + len(face_warp.BLINK_CLOSURE))).max() <= 2
    assert result.summary["blink_rate_per_min"] == pytest.approx(3 / (100 / 30 / 60))


def test_gaze_follows_a_known_iris_shift(media_dir):
    shifts = face_warp.GAZE_SHIFTS_PX
    path = synth.write_video(media_dir / "gaze.mp4", face_warp.gaze_frames(face_warp.astronaut_warper(True)))
    ts = bitbox.process(path, tracking=False, store_landmarks=False)["face"].timeseries
    gaze_x = ts["gaze_x"].to_numpy()[:len(shifts)]
    gaze_y = ts["gaze_y"].to_numpy()[len(shifts):]
    assert (np.diff(gaze_x) > 0).all(), gaze_x  # iris moved right in the image: gaze_x grows
    assert np.corrcoef(shifts, gaze_x)[0, 1] > 0.98
    # Iris moved down: gaze_y (up positive) falls. mediapipe's vertical iris estimate saturates once
    # the iris slides under the lower lid, so strict monotonicity is required from 4 px up to 1 px down.
    assert (np.diff(gaze_y[shifts <= 1]) < 0).all(), gaze_y
    assert spearmanr(shifts, gaze_y).statistic <= -0.95
    assert gaze_y[-1] < gaze_y[0] - 0.02
