"""The pose processor on real images with known motion, and two-person coordination."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bitbox
from bitbox import MeasurementError
from bitbox.catalog import validate_summary
from bitbox.processors import pose as pose_module
from bitbox.processors.pose import (SEGMENTS, SKELETON_CHECKS, PoseProcessor, _events, pose_landmarks_array,
                                    pose_summary, skeleton_flags, skeleton_geometry)
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
    # A real upper body: the skeleton plausibility check leaves (almost) every frame in.
    assert moving_body.summary["implausible_skeleton_fraction"] <= 0.05
    assert "implausible" not in moving_body.summary["notes"]


def test_talking_head_has_a_pose_on_most_frames_and_conforms(talking_head):
    result = check_processor(PoseProcessor, talking_head, frame_step=3)
    assert result.summary["pose_detected_fraction"] >= 0.9
    points = pose_landmarks_array(result.timeseries)
    assert points.shape == (40, 33, 4)
    assert (points[:, 0, 1] < points[:, 11, 1]).all()  # the nose is above the shoulder
    assert result.summary["body_scale_px"] > 40
    assert result.summary["implausible_skeleton_fraction"] <= 0.05  # shoulders visible at the frame bottom


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
        if processor == "pose":
            assert (left["qc_reason"] != "implausible_skeleton").all()
            assert (right["qc_reason"] != "implausible_skeleton").all()


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
    # A follows B: lag -5 frames (lag > 0 would mean B follows A, the original Bitbox's sign)
    assert (table["coordination_peak_lag_s"] + lag_s).abs().max() <= frame_s + 1e-9
    assert (table["coordination_r_mean"] > 0.8).all()  # B is a re-encoded copy: close, not identical
    # A starts 5 frames earlier: A follows B (A(t) = B(t - lag)); B does not follow A.
    assert (table["imitation_a_follows_b_r"] > table["imitation_b_follows_a_r"]).all()
    pose = bitbox.dyad(a, b, processor="pose", measures=["speed_head"], max_lag_s=0.5, window_s=1.0)
    assert abs(pose["coordination_peak_lag_s"].iloc[0] + lag_s) <= frame_s + 1e-9
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


# ---------------------------------------------------------------- skeleton plausibility
def _skeleton(face: float = 40.0, x: float = 300.0, y: float = 200.0) -> np.ndarray:
    """A frontal adult upper body (33, 4) in adult proportions (face width ``face`` px, ear to ear):
    shoulders 2.6 face widths wide and 1.3 below the nose, torso 1.25 shoulder widths long."""
    f = face / 40.0
    xy = {0: (0, 0), 1: (4, -10), 2: (8, -10), 3: (12, -10), 4: (-4, -10), 5: (-8, -10), 6: (-12, -10),
          7: (20, -5), 8: (-20, -5), 9: (8, 15), 10: (-8, 15), 11: (52, 52), 12: (-52, 52), 13: (60, 142),
          14: (-60, 142), 15: (55, 212), 16: (-55, 212), 17: (57, 222), 18: (-57, 222), 19: (53, 224),
          20: (-53, 224), 21: (50, 218), 22: (-50, 218), 23: (35, 182), 24: (-35, 182), 25: (37, 300),
          26: (-37, 300), 27: (38, 420), 28: (-38, 420), 29: (38, 430), 30: (-38, 430), 31: (45, 440),
          32: (-45, 440)}
    points = np.zeros((33, 4))
    for i, (dx, dy) in xy.items():
        points[i] = (x + f * dx, y + f * dy, 0.0, 1.0)
    return points


def _flags(points: np.ndarray, **kwargs) -> dict[str, np.ndarray]:
    return skeleton_flags(skeleton_geometry(points), **kwargs)


def test_an_adult_skeleton_is_plausible_at_any_size_and_place():
    for face, x, y in ((40, 300, 200), (12, 50, 30), (150, 900, 400)):
        flags = _flags(_skeleton(face, x, y))
        assert not any(mask.any() for mask in flags.values()), flags
    assert set(_flags(_skeleton())) == set(SKELETON_CHECKS)


def test_shoulders_at_the_chin_with_hips_at_the_chest_are_implausible():
    points = _skeleton()
    points[[11, 12], 1] = 200 + 20            # shoulders 0.1 face widths below the mouth
    points[[23, 24], 1] = 200 + 20 + 60       # hips 60 px lower: the torso of a doll
    flags = _flags(points)
    assert flags["shoulders_at_chin"][0] and flags["short_torso"][0]
    assert not flags["narrow_shoulders"][0]
    upside_down = _skeleton()
    upside_down[[11, 12], 1] = 150            # shoulders above the face
    assert _flags(upside_down)["shoulders_at_chin"][0]


def test_narrow_shoulders_and_crossings_are_implausible():
    narrow = _skeleton()
    narrow[11, 0], narrow[12, 0] = 300 + 25, 300 - 25      # 1.25 face widths
    assert _flags(narrow)["narrow_shoulders"][0]
    swapped = _skeleton()
    swapped[[11, 12]] = swapped[[12, 11]]                    # left/right shoulders swapped against the face
    assert _flags(swapped)["swapped_shoulders"][0]
    crossed = _skeleton()
    crossed[[23, 24]] = crossed[[24, 23]]                    # hips crossed against the shoulders
    flags = _flags(crossed)
    assert flags["crossed_hips"][0] and not flags["swapped_shoulders"][0]


def test_a_turned_head_keeps_a_face_size_and_unseen_landmarks_are_not_judged():
    profile = _skeleton()
    profile[[7, 8], 0] = 300 + 3, 300 - 3                   # ears 6 px apart: the head turned to profile
    geometry = skeleton_geometry(profile)
    assert geometry["face_px"][0] == pytest.approx(1.5 * 25)  # 1.5 x eye-to-mouth
    assert np.isnan(geometry["ears_shoulders_cos"][0])
    assert not any(mask.any() for mask in skeleton_flags(geometry).values())
    hidden = _skeleton()
    hidden[[11, 12], 1] = 220                                 # at the chin, but not seen
    hidden[[11, 12], 3] = 0.2
    assert not any(mask.any() for mask in _flags(hidden).values())
    assert not any(mask.any() for mask in _flags(np.full((33, 4), np.nan)).values())


def test_a_limb_much_longer_than_the_persons_own_is_implausible():
    frames = np.stack([_skeleton()] * 10)
    frames[7, 15, 1] += 200                     # the left forearm 3.8x its length in one frame
    flags = _flags(frames)
    assert flags["limb_too_long"].tolist() == [False] * 7 + [True] + [False] * 2
    assert not _flags(frames[:4])["limb_too_long"].any()   # too few frames for a median: not judged


def test_all_frames_implausible_is_a_clear_error(talking_head, monkeypatch):
    def everything(geometry, *, reference=None):
        n = len(geometry["face_px"])
        return {**dict.fromkeys(SKELETON_CHECKS, np.zeros(n, bool)), "short_torso": np.ones(n, bool)}

    monkeypatch.setattr(pose_module, "skeleton_flags", everything)
    with pytest.raises(MeasurementError, match=r"the pose was implausible on all 20 analysed frames with a person "
                                               r"\(hips too close to the shoulders\)\. The body is probably too "
                                               r"small or cut off in the frame; crop the video to the person"):
        bitbox.process(talking_head, processors=["pose"], frame_step=6)


_COLUMNS = ("motion_energy", *(f"speed_{seg}" for seg in SEGMENTS), "trunk_lean_deg", "shoulder_width_rel",
            "arm_openness")


def _series(n: int, seed: int, detect: float, implausible: float, nan_runs: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    detected = rng.random(n) < detect
    flagged = detected & (rng.random(n) < implausible)
    frame = pd.DataFrame({"time_s": np.arange(n) / 30.0, "frame": np.arange(n), "pose_detected":
                          detected.astype(np.int8)})
    frame["qc_reason"] = np.where(~detected, "no_person", np.where(flagged, "implausible_skeleton", "ok"))
    for name in _COLUMNS:
        values = rng.gamma(1.0, 0.3, n) if name != "trunk_lean_deg" else rng.normal(0, 10, n)
        for _ in range(nan_runs):
            start = int(rng.integers(0, n))
            values[start:start + int(rng.integers(1, 200))] = np.nan
        values[~detected] = np.nan
        values[flagged] = 1e6                  # wild values on implausible frames must never count
        frame[name] = values.astype(np.float32)
    for name in ("hand_to_face", "gesture"):
        frame[name] = (rng.random(n) < 0.2).astype(np.int8)
    return frame


@given(n=st.integers(1, 2000), seed=st.integers(0, 2 ** 32 - 1), detect=st.floats(0, 1),
       implausible=st.floats(0, 1), nan_runs=st.integers(0, 5), with_paths=st.booleans())
def test_pose_summary_is_finite_or_nan_on_any_series(n, seed, detect, implausible, nan_runs, with_paths):
    frame = _series(n, seed, detect, implausible, nan_runs)
    paths = None
    if with_paths:
        rng = np.random.default_rng(seed + 1)
        paths = {seg: np.where(rng.random((n, 1)) < 0.1, np.nan, np.cumsum(rng.normal(0, 0.01, (n, 2)), axis=0))
                 for seg in SEGMENTS}
    summary = pose_summary(frame, fps=30.0, body_scale_px=80.0, segment_paths=paths,
                           implausible_checks={"short_torso": 3})
    validate_summary("pose", PoseProcessor.measures, summary)       # names and valid ranges
    assert set(summary) == {m.name for m in PoseProcessor.measures if m.kind == "summary"}
    for key, value in summary.items():
        if key == "notes":
            assert isinstance(value, str)
        else:
            assert math.isnan(value) or math.isfinite(value), key
    assert not summary["motion_energy_mean"] >= 1e5                  # implausible frames left out
    flagged = (frame["qc_reason"] == "implausible_skeleton").sum()
    detected = frame["pose_detected"].sum()
    if detected:
        assert summary["implausible_skeleton_fraction"] == pytest.approx(flagged / detected)
        if flagged / detected >= 0.1:
            assert summary["notes"].startswith(f"pose implausible on {100 * flagged / detected:.0f}% of frames "
                                               "(hips too close to the shoulders): the summary comes from the "
                                               f"other {detected - flagged} frame")
    else:
        assert math.isnan(summary["implausible_skeleton_fraction"]) and "implausible" not in summary["notes"]
    for key, value in summary.items():  # a segment measure that is NaN says why
        if key.endswith(("_sw", "_sw_per_s", "_sw_per_s2", "_sw_per_s3", "_ldj")) and math.isnan(value) \
                and with_paths and n >= 2:
            assert key in summary["notes"], (key, summary["notes"])


def test_pose_summary_of_unevenly_spaced_frames_uses_a_uniform_grid():
    """Every segment moving at a known 1 SW/s, filmed at 30 fps with frames 60-119 kept at 10 fps."""
    from bitbox.processors.pose import SEGMENTS, pose_summary

    fps, n = 30.0, 180
    keep = np.array([i for i in range(n) if not 60 <= i < 120 or i % 3 == 0])
    times = np.arange(n)[keep] / fps
    ts = pd.DataFrame({"time_s": times, "pose_detected": np.ones(len(keep), np.int8),
                       "qc_reason": ["ok"] * len(keep)})
    paths = {seg: np.column_stack([times * 1.0, np.zeros(len(keep))]) for seg in SEGMENTS}  # x = t SW
    summary = pose_summary(ts, fps=fps, segment_paths=paths)
    for seg in SEGMENTS:
        assert summary[f"{seg}_mean_speed_sw_per_s"] == pytest.approx(1.0, rel=1e-9)
    assert "a uniform 30 fps grid, with the 40 grid times that have no frame left as gaps" in summary["notes"]
    even = pose_summary(ts.assign(time_s=np.arange(len(keep)) / fps), fps=fps, segment_paths=paths)
    assert even["head_mean_speed_sw_per_s"] > 1.2  # taken as evenly spaced, the 10-fps part looks 3x faster
    assert "unevenly spaced" not in even["notes"]
