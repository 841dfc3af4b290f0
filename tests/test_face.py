"""The face processor on real faces with known truth."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bitbox
from bitbox import MeasurementError
from bitbox.processors import face_geometry as geo
from bitbox.processors.face import FaceProcessor, _detect_blinks, landmarks_array
from tools import synth


def test_roll_matches_the_known_in_plane_rotation(roll_video):
    path, angles = roll_video
    ts = bitbox.process(path)["face"].timeseries
    assert ts["face_detected"].all()
    roll = ts["head_roll"].to_numpy()
    own_roll = roll[0]  # the photo itself is slightly tilted; frame 0 is unrotated
    assert abs(own_roll) < 5
    error = roll - own_roll - angles
    assert np.abs(error).mean() < 2.0, f"roll MAE {np.abs(error).mean():.2f} deg"
    assert np.abs(error).max() < 4.0
    # An in-plane rotation leaves yaw and pitch alone.
    assert ts["head_yaw"].std() < 2 and ts["head_pitch"].std() < 2


def test_head_position_follows_known_translations(shift_video):
    path, shifts = shift_video
    ts = bitbox.process(path, frame_step=1)["face"].timeseries
    x, y = ts["head_x"].to_numpy(), ts["head_y"].to_numpy()
    assert (np.diff(x[:40]) > 0).all(), "head_x must increase while the face moves right"
    assert (np.diff(y[40:]) > 0).all(), "head_y must increase while the face moves down"
    # The 1.5x-scaled photo moves by exactly the set shift: allow 1.5 px.
    assert np.abs((x - x[0]) - (shifts[:, 0] - shifts[0, 0])).max() < 1.5
    assert np.abs((y[40:] - y[40]) - (shifts[40:, 1] - shifts[40, 1])).max() < 1.5
    assert ts["head_size_px"].std() < 1.0  # no change of distance


def test_head_size_grows_as_the_face_comes_closer(media_dir):
    scales = np.linspace(1.0, 2.0, 12)
    photo = synth.astronaut()
    path = synth.write_video(media_dir / "zoom.mp4", (synth.warp_photo(photo, scale=s) for s in scales))
    size = bitbox.process(path)["face"].timeseries["head_size_px"].to_numpy()
    assert (np.diff(size) > 0).all()
    assert size[-1] / size[0] == pytest.approx(2.0, rel=0.05)


def test_talking_head_has_a_face_on_almost_every_frame(face_result):
    ts, summary = face_result.timeseries, face_result.summary
    assert summary["face_detected_fraction"] >= 0.95
    assert ts["face_detected"].mean() >= 0.95
    assert len(ts) == 120 and summary["n_frames"] == 120
    assert ts["time_s"].iloc[1] == pytest.approx(1 / 29.97, abs=1e-4)
    # Talking: the mouth opens and closes around the person's own baseline.
    assert ts["mouth_open"].max() > 0.1 and ts["disp_mouth"].mean() > ts["disp_eyes"].mean()
    assert summary["ear_baseline"] == pytest.approx(np.nanmedian((ts.ear_left + ts.ear_right) / 2))
    assert set(ts["qc_reason"]) <= {"ok", "face_partly_outside_frame", "face_too_small", "extreme_pose",
                                    "poor_mesh_fit", "no_face"}


def test_landmarks_are_stored_in_pixels_and_reload(face_result, tmp_path):
    ts = face_result.timeseries
    points = landmarks_array(ts)
    assert points.shape == (120, 478, 3) and points.dtype == np.float32
    assert 0 < np.nanmedian(points[..., 0]) < 176 and 0 < np.nanmedian(points[..., 1]) < 144
    # The head position is the centre of the rigid landmarks; the nose tip lies between the eyes.
    assert np.allclose(points[:, geo.RIGID, 0].mean(axis=1), ts["head_x"], atol=0.05)
    assert (np.minimum(points[:, 33, 0], points[:, 263, 0]) < points[:, 1, 0]).all()
    face_result.write(tmp_path)
    back = bitbox.ProcessorResult.read(tmp_path, "face")
    pd.testing.assert_frame_equal(back.timeseries, ts, check_exact=True)
    assert np.array_equal(landmarks_array(back.timeseries), points, equal_nan=True)


def test_no_face_in_any_frame_is_a_clear_error(no_face_video):
    with pytest.raises(MeasurementError, match="no face was found in any of the 20 analysed frames"):
        bitbox.process(no_face_video)


def test_two_people_the_larger_is_followed(media_dir):
    photo = synth.astronaut()
    big = synth.warp_photo(photo, size=(320, 480), scale=1.6)
    small = synth.warp_photo(photo, size=(320, 480), scale=0.9, roll_deg=15)
    frame = np.concatenate([small, big], axis=1)
    path = synth.write_video(media_dir / "two.mp4", [frame] * 10)
    ts = bitbox.process(path, max_faces=3)["face"].timeseries
    assert (ts["n_faces"] == 2).all()
    assert (ts["head_x"] > 320).all(), "the larger face (right half) is followed"
    assert ts["head_roll"].abs().max() < 6  # not the rolled small face


def test_frame_step_keeps_times_and_reports_progress(talking_head):
    calls = []
    ts = bitbox.process(talking_head, frame_step=10, store_landmarks=False,
                        progress=lambda done, total: calls.append((done, total)))["face"].timeseries
    assert calls[0] == (1, 12) and calls[-1] == (12, 12)
    assert ts["frame"].tolist() == list(range(0, 120, 10))
    assert np.allclose(ts["time_s"], ts["frame"] / 29.97, atol=1e-3)
    assert "landmarks" not in ts.columns


def test_blink_detection_with_hysteresis_and_maximum_length():
    ear = np.full(40, 0.3)
    ear[5:8] = 0.1       # a 3-frame blink
    ear[15:35] = 0.1     # a 20-frame closure: too long to be a blink
    ear[37] = np.nan     # face lost
    blink = _detect_blinks(ear, baseline=0.3, threshold=0.7, max_frames=10)
    assert np.flatnonzero(blink).tolist() == [5, 6, 7]


def test_pose_angles_invert():
    for pitch, yaw, roll in [(10, -20, 5), (-30, 15, -40), (0, 0, 90)]:
        rotation = geo.rotation_from_euler(pitch, yaw, roll)
        assert np.allclose(geo.euler_angles(rotation), (pitch, yaw, roll))


def test_umeyama_recovers_a_similarity_transform():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(30, 3))
    rotation = geo.rotation_from_euler(12, -25, 33)
    dst = 2.5 * src @ rotation.T + np.array([4.0, -1.0, 7.0])
    scale, rot, trans, rms = geo.umeyama(src, dst)
    assert scale == pytest.approx(2.5) and np.allclose(rot, rotation) and rms < 1e-9


def test_template_is_symmetric_with_iod_one():
    t = geo.load_template()
    mirrored = t.shape[t.mirror] * np.array([-1, 1, 1])
    assert np.allclose(mirrored, t.shape, atol=1e-9)
    assert np.linalg.norm(t.shape[33] - t.shape[263]) == pytest.approx(1.0)
    assert t.mirror[33] == 263 and t.mirror[468] == 473


def test_invalid_parameter_names_the_parameter(talking_head):
    with pytest.raises(bitbox.ParameterError, match="'frame_step' parameter of FaceProcessor must be an integer"):
        FaceProcessor(frame_step=0).process(talking_head)
    with pytest.raises(bitbox.ParameterError, match="not accepted by any of the processors"):
        bitbox.process(talking_head, frame_stride=2)


def test_bundled_sample_matches_its_truth_file(sway_video):
    truth = pd.read_csv(sway_video.with_suffix(".truth.csv"))
    ts = bitbox.process(sway_video, store_landmarks=False)["face"].timeseries
    assert len(ts) == len(truth) and np.allclose(ts["time_s"], truth["time_s"], atol=1e-6)
    roll_error = (ts["head_roll"] - ts["head_roll"].iloc[0]) - (truth["roll_deg"] - truth["roll_deg"].iloc[0])
    assert roll_error.abs().mean() < 2.0
    assert np.corrcoef(ts["head_x"], truth["shift_x_px"])[0, 1] > 0.99


def test_analyses_in_the_summary_separate_a_still_face_from_a_talking_one(sway_video, face_result):
    still = bitbox.process(sway_video, store_landmarks=False)["face"]
    s = still.summary
    # The swaying portrait moves its head but never its face: no expressive events anywhere.
    assert all(s[f"expr_{r}_1s_frequency"] == 0 for r in ("upper_face", "lower_face", "brows", "eyes", "mouth"))
    assert np.isnan(s["expression_diversity"])
    # Its roll relative to the median pose is the known 20 deg sine: SD 20 / sqrt(2).
    assert still.timeseries["head_roll_rel"].std(ddof=0) == pytest.approx(20 / np.sqrt(2), abs=0.5)
    assert s["head_angle_range_deg"] == pytest.approx(40, abs=3)
    # A rigid photo keeps its (small, real) asymmetry whatever the head roll.
    assert still.timeseries["asym_overall"].std() < 0.003
    talking = face_result.summary
    assert talking["expr_mouth_1s_frequency"] > 5 and talking["expr_mouth_1s_mean"] > 0.01
    assert 0 < talking["expression_diversity"] <= 1
