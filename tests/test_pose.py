"""The pose processor on real images with known motion, and two-person coordination."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bitbox
from bitbox import MeasurementError
from bitbox.processors.pose import PoseProcessor, pose_landmarks_array, _events
from bitbox.recording import Recording
from bitbox.testing import check_processor
from tools import synth
from tools.sample_images import astronaut

SPEEDS = (3.0, 6.0, 12.0)  # px per frame
SEGMENT = 20               # frames per speed


def _upper_body(shift_x: float = 0.0, size=(640, 480)) -> np.ndarray:
    """The astronaut's whole upper body (face, shoulders, arms, hips) in the frame."""
    return synth.warp_photo(_PHOTO, size=size, scale=0.9, centre=(256.0, 256.0), shift_px=(shift_x, 0.0))


_PHOTO = astronaut()


@pytest.fixture(scope="module")
def moving_body(media_dir):
    """Still for 20 frames, then moving right at 3, 6 and 12 px per frame (20 frames each), then still."""
    positions = [0.0] * SEGMENT
    for speed in SPEEDS:
        positions += [positions[-1] + speed * (i + 1) for i in range(SEGMENT)]
    positions = np.array(positions) - 100
    path = synth.write_video(media_dir / "moving_body.mp4", (_upper_body(x) for x in positions))
    return bitbox.process(path, processors=["pose"], store_landmarks=False)["pose"]


def test_motion_energy_is_zero_when_still_and_grows_with_speed(moving_body):
    ts, scale = moving_body.timeseries, moving_body.summary["body_scale_px"]
    assert ts["pose_detected"].all()
    energy = ts["motion_energy"].to_numpy()
    # The tracker settles during the first few frames; after that a still body measures near zero.
    still = np.median(energy[SEGMENT // 2:SEGMENT])
    moving = [np.median(energy[SEGMENT * (k + 1) + 8:SEGMENT * (k + 2)]) for k in range(len(SPEEDS))]
    assert still < 0.05 and still < 0.1 * moving[0]
    assert moving[0] < moving[1] < moving[2]
    for speed, measured in zip(SPEEDS, moving):  # every landmark moves by the set speed
        assert measured == pytest.approx(speed * 30 / scale, rel=0.2)
    assert 0.1 < moving_body.summary["time_still_fraction"] <= SEGMENT / len(ts)


def test_talking_head_has_a_pose_on_most_frames_and_conforms(talking_head):
    result = check_processor(PoseProcessor, talking_head, frame_step=3)
    assert result.summary["pose_detected_fraction"] >= 0.9
    points = pose_landmarks_array(result.timeseries)
    assert points.shape == (40, 33, 4)
    assert (points[:, 0, 1] < points[:, 11, 1]).all()  # the nose is above the shoulder
    assert result.summary["body_scale_px"] > 40


def test_no_person_is_a_clear_error(no_face_video):
    with pytest.raises(MeasurementError, match="no person was found in any of the 20 analysed frames"):
        bitbox.process(no_face_video, processors=["pose"])


def test_no_person_fails_alone_in_a_batch(tmp_path, no_face_video, talking_head):
    result = bitbox.process_folder([talking_head, no_face_video], tmp_path, processors=["pose"], progress=False,
                                   frame_step=6)
    manifest = result.manifest.set_index("recording_id")
    assert manifest.loc["talking_head", "status"] == "ok"
    assert "no person was found" in manifest.loc["coffee", "reason"]


def test_gesture_events_are_bridged_and_filtered():
    mask = np.array([0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 0, 0], dtype=bool)
    assert _events(mask, min_len=3, bridge=1).tolist() == [0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]


def test_side_by_side_halves_are_two_people(media_dir):
    photo = synth.warp_photo(_PHOTO, size=(320, 480), scale=1.0)  # face and shoulders in each half
    frame = np.concatenate([photo, photo], axis=1)
    path = synth.write_video(media_dir / "two_people.mp4", [frame] * 6)
    for processor in ("pose", "face"):
        left = bitbox.process(path, processors=[processor], crop="left")[processor].timeseries
        right = bitbox.process(path, processors=[processor], crop="right")[processor].timeseries
        column = "landmarks"
        xl = np.stack([np.asarray(v).reshape(-1, 4 if processor == "pose" else 3) for v in left[column]])[..., 0]
        xr = np.stack([np.asarray(v).reshape(-1, 4 if processor == "pose" else 3) for v in right[column]])[..., 0]
        assert np.nanmax(xl) < 320 < np.nanmin(xr), processor
        assert np.allclose(np.nanmedian(xr - xl), 320, atol=3), processor  # the same person, 320 px apart


@pytest.fixture(scope="module")
def shifted_pair(tmp_path_factory, talking_head):
    """Pose and face results of the talking head and of a copy that starts 5 frames later."""
    lag = 5
    frames = [f.rgb for f in Recording(talking_head).iter_frames()]
    folder = tmp_path_factory.mktemp("pair")
    synth.write_video(folder / "a.mp4", frames, fps=Recording(talking_head).fps)
    synth.write_video(folder / "b.mp4", frames[lag:], fps=Recording(talking_head).fps)
    out = folder / "out"
    result = bitbox.process_folder(folder, out, processors=["face", "pose"], progress=False, store_landmarks=False)
    assert result.n_failed == 0
    return out / "a", out / "b", lag / Recording(talking_head).fps


def test_a_shifted_copy_is_coordinated_at_the_known_lag(shifted_pair):
    a, b, lag_s = shifted_pair
    table = bitbox.dyad(a, b, processor="face", measures=["head_yaw_rel", "head_roll_rel", "mouth_open"],
                        max_lag_s=0.5, window_s=1.0).set_index("measure")
    frame_s = 1 / 29.97
    assert (table["coordination_peak_lag_s"] - lag_s).abs().max() <= frame_s + 1e-9
    assert (table["coordination_r_mean"] > 0.8).all()  # B is a re-encoded copy: close, not identical
    # A starts 5 frames earlier: A follows B (A(t) = B(t - lag)); B does not follow A.
    assert (table["imitation_a_follows_b_r"] > table["imitation_b_follows_a_r"]).all()
    pose = bitbox.dyad(a, b, processor="pose", measures=["speed_head"], max_lag_s=0.5, window_s=1.0)
    assert abs(pose["coordination_peak_lag_s"].iloc[0] - lag_s) <= frame_s + 1e-9
    # The same with an offset that undoes the shift: the peak moves to 0.
    aligned = bitbox.dyad(a, b, processor="face", measures=["head_yaw_rel"], offset_s=-lag_s, max_lag_s=0.5,
                          window_s=1.0)
    assert abs(aligned["coordination_peak_lag_s"].iloc[0]) <= frame_s + 1e-9


def test_dyad_command_writes_a_table(shifted_pair, tmp_path):
    import subprocess
    import sys

    a, b, lag_s = shifted_pair
    out = tmp_path / "dyad.csv"
    proc = subprocess.run([sys.executable, "-m", "bitbox", "dyad", str(a), str(b), "-p", "face", "--window", "1",
                           "--max-lag", "0.5", "-o", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out)
    assert set(table["measure"]) >= {"head_yaw_rel", "mouth_open"}
    assert "coordination_peak_lag_s" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "bitbox", "dyad", str(a), str(tmp_path / "nope")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "not a results folder" in bad.stderr
