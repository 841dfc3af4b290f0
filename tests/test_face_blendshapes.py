"""Blendshape coefficients (bitbox.processors.face.blendshapes) on real faces with known expressions.

Truth: skimage's astronaut smiles and matplotlib's Grace Hopper is neutral; tools/face_warp.py
warps both with known amounts of smile (lip corners raised), eyelid closure and jaw opening,
and the matching coefficient must rise with the amount.
"""
from __future__ import annotations

import math
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bitbox.errors import ParameterError
from bitbox.processors.face import blendshapes as bs

AMOUNTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _col(name: str) -> int:
    return bs.NAMES.index(name)


@pytest.fixture(scope="module")
def model():
    with bs.BlendshapeModel(bs.resolve_model(None)) as m:
        yield m


@pytest.fixture(scope="module")
def mesh():
    """Legacy face mesh (single-image mode, irises): landmarks in pixels, as the processor gives them."""
    import mediapipe as mp

    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as fm:
        def points(rgb: np.ndarray) -> np.ndarray:
            result = fm.process(np.ascontiguousarray(rgb))
            assert result.multi_face_landmarks, "no face found in the stimulus"
            h, w = rgb.shape[:2]
            return np.array([(p.x * w, p.y * h, p.z * w) for p in result.multi_face_landmarks[0].landmark])
        yield points


@pytest.fixture(scope="module")
def photos():
    from tools.sample_images import astronaut, grace_hopper

    return {"astronaut": astronaut(), "grace_hopper": grace_hopper()}


@pytest.fixture(scope="module")
def warpers(photos, mesh):
    from tools import face_warp

    out = {}
    for name, scale in (("astronaut", 1.5), ("grace_hopper", 1.0)):
        centre = tuple(mesh(photos[name])[[33, 263], :2].mean(axis=0))  # Grace is off the astronaut's centre
        out[name] = face_warp.FaceWarper.from_photo(face_warp.upright_portrait(photos[name], scale=scale,
                                                                               centre=centre))
    return out


def _sweep(model, mesh, render) -> np.ndarray:
    return np.array([model.scores(mesh(render(a))) for a in AMOUNTS])


# ------------------------------------------------------------------------------------------- names
def test_names_columns_subset_and_catalogue():
    assert len(bs.NAMES) == len(bs.COLUMNS) == 52 and len(set(bs.COLUMNS)) == 52
    assert bs.COLUMNS[0] == "bs_neutral" and bs.COLUMNS[_col("mouthSmileLeft")] == "bs_mouth_smile_left"
    assert bs.COLUMNS[_col("eyeBlinkRight")] == "bs_eye_blink_right"
    assert bs.COLUMNS[_col("browDownLeft")] == "bs_brow_down_left"
    assert len(bs.SUBSET) == 146 and len(set(bs.SUBSET.tolist())) == 146 and bs.SUBSET.max() == 477
    assert set(range(468, 478)) <= set(bs.SUBSET.tolist())  # all ten iris points
    assert set(bs.AU_CORRESPONDENCE) == set(bs.NAMES) == set(bs.ARKIT_MEANING)
    assert bs.AU_CORRESPONDENCE["mouthSmileLeft"].startswith("AU12")
    assert bs.AU_CORRESPONDENCE["jawOpen"].startswith("AU26")
    measures = bs.measures()
    ts = [m.name for m in measures if m.kind == "timeseries"]
    sm = {m.name for m in measures if m.kind == "summary"}
    assert ts == list(bs.COLUMNS)
    assert all(m.unit == "1" and m.valid_range == (0.0, 1.0) for m in measures)
    keys = bs.summarize(np.zeros((3, 52)), np.ones(3, bool))
    assert list(keys) == [f"{c}_{s}" for c in bs.COLUMNS for s in bs.SUMMARY_STATS]
    assert set(keys) == sm and len(sm) == 3 * 52


# ------------------------------------------------------------------------------------------- real photos
def test_smiling_and_neutral_photos(model, mesh, photos):
    smile = [_col("mouthSmileLeft"), _col("mouthSmileRight")]
    astro = model.scores(mesh(photos["astronaut"]))
    grace = model.scores(mesh(photos["grace_hopper"]))
    assert astro.dtype == np.float32 and astro.shape == (52,)
    assert np.all((astro >= 0) & (astro <= 1))
    assert (astro[smile] > 0.5).all(), astro[smile]
    assert (grace[smile] < 0.2).all(), grace[smile]


def test_invariant_to_translation_and_isotropic_scale(model, mesh, photos):
    points = mesh(photos["grace_hopper"])
    base = model.scores(points)
    moved = model.scores(points * 2.0 + 300.0)
    assert np.abs(moved - base).max() < 2e-3
    # unequal axis scales (normalised x/y of a non-square image) are NOT equivalent: the reason for pixels
    squashed = points.copy()
    squashed[:, 1] *= 480 / 640
    assert np.abs(model.scores(squashed) - base).max() > 0.01


def test_smile_warp_rises_monotonically(model, mesh, warpers):
    wp = warpers["grace_hopper"]
    scores = _sweep(model, mesh, lambda a: wp.render(wp.lip_corners_raised(a)))
    smile = scores[:, [_col("mouthSmileLeft"), _col("mouthSmileRight")]].mean(axis=1)
    assert (np.diff(smile) > 0).all(), smile
    assert smile[0] < 0.2 and smile[-1] > 0.5, smile


def test_eyelid_closure_raises_blink(model, mesh, warpers):
    # eyeBlink under-reads this warp (0.03 -> about 0.3 at full closure; EAR reads it fully): test the rise,
    # with a small tolerance for steps
    wp = warpers["astronaut"]
    scores = _sweep(model, mesh, lambda a: wp.render(wp.eyes_closed(a)))
    blink = scores[:, [_col("eyeBlinkLeft"), _col("eyeBlinkRight")]].mean(axis=1)
    assert (np.diff(blink) > -0.02).all(), blink
    assert blink[-1] - blink[0] > 0.15, blink
    assert np.all(np.diff(blink[[0, 2, 4]]) > 0), blink


@pytest.mark.parametrize("photo", ["astronaut", "grace_hopper"])
def test_jaw_opening_raises_jaw_open_and_lower_lip(model, mesh, warpers, photo):
    # The network reads most of an opened mandible as mouthLowerDown; jawOpen rises too, less and not at
    # every step. The sum rises at every step.
    wp = warpers[photo]
    scores = _sweep(model, mesh, wp.render_jaw_opened)
    jaw = scores[:, _col("jawOpen")]
    lower = scores[:, [_col("mouthLowerDownLeft"), _col("mouthLowerDownRight")]].mean(axis=1)
    assert (np.diff(jaw + lower) > 0).all(), (jaw, lower)
    assert jaw[-1] - jaw[0] > 0.12, jaw
    assert lower[-1] - lower[0] > 0.4, lower


def test_one_sided_blink_is_the_persons_own_side(model, mesh, warpers):
    from tools import face_warp

    wp = warpers["astronaut"]
    target = wp.points.copy()
    target[face_warp.UPPER_LID["left"]] = wp.points[face_warp.LOWER_LID["left"]]  # the person's left eye shut
    s0, s1 = model.scores(mesh(wp.render(wp.points))), model.scores(mesh(wp.render(target)))
    assert s1[_col("eyeBlinkLeft")] - s0[_col("eyeBlinkLeft")] > 0.15
    assert s1[_col("eyeBlinkRight")] - s0[_col("eyeBlinkRight")] < 0.05


# ------------------------------------------------------------------------------------------- inputs
def test_nan_points_give_nan_scores_and_bad_shapes_are_refused(model, mesh, photos):
    points = mesh(photos["astronaut"])
    broken = points.copy()
    broken[100, 0] = np.nan
    out = model.scores(broken)
    assert out.shape == (52,) and np.isnan(out).all()
    assert np.isnan(model.scores(np.full((478, 2), np.nan))).all()
    for bad in (points[:468], points[:, :1], points[None]):
        with pytest.raises(ParameterError, match="478"):
            model.scores(bad)
    assert np.isfinite(model.scores(points)).all()  # the graph still works after refused inputs


def test_deterministic(model, mesh, photos):
    points = mesh(photos["grace_hopper"])
    first = model.scores(points)
    assert np.array_equal(first, model.scores(points))
    with bs.BlendshapeModel(bs.resolve_model(None)) as other:
        assert np.array_equal(first, other.scores(points))


# ------------------------------------------------------------------------------------------- model files
def test_packaged_model_and_user_files_agree(model, mesh, photos, tmp_path):
    packaged = bs.resolve_model(None)
    assert packaged.name == "face_landmarker.task" and model.sha256 == bs.PACKAGED_SHA256
    points = mesh(photos["astronaut"])
    user_task = tmp_path / "my model.task"
    shutil.copy(packaged, user_task)
    bare = tmp_path / "face_blendshapes.tflite"
    bare.write_bytes(zipfile.ZipFile(packaged).read(bs.MODEL_MEMBER))
    expected = model.scores(points)
    for path in (user_task, str(bare)):
        resolved = bs.resolve_model(path)
        assert resolved.is_file()
        with bs.BlendshapeModel(resolved) as user:
            assert np.array_equal(user.scores(points), expected)
    assert bs.BlendshapeModel(bare).sha256 != model.sha256  # the file's own hash, not the bundle's


def _assert_refused(path, *words):
    with pytest.raises(ParameterError) as info:
        bs.BlendshapeModel(bs.resolve_model(path)).open()
    message = str(info.value)
    assert str(path) in message and "face_landmarker.task" in message, message
    for word in words:
        assert word in message, message


def test_bad_model_files_are_refused_with_the_fix(tmp_path):
    _assert_refused(tmp_path / "absent.task", "no such file")
    _assert_refused(tmp_path, "directory")
    text = tmp_path / "notes.task"
    text.write_text("not a model\n")
    _assert_refused(text, "neither")
    empty_zip = tmp_path / "other.task"
    with zipfile.ZipFile(empty_zip, "w") as z:
        z.writestr("face_detector.tflite", b"x")
    _assert_refused(empty_zip, "without face_blendshapes.tflite")
    # a real TensorFlow Lite network of the wrong kind (the bundle's face detector) under the member's name
    packaged = bs.resolve_model(None)
    wrong = tmp_path / "wrong.task"
    with zipfile.ZipFile(wrong, "w") as z:
        z.writestr(bs.MODEL_MEMBER, zipfile.ZipFile(packaged).read("face_detector.tflite"))
    _assert_refused(wrong, "(1, 146, 2)", "52 scores")
    garbage = tmp_path / "garbage.task"
    with zipfile.ZipFile(garbage, "w") as z:
        z.writestr(bs.MODEL_MEMBER, b"\x10\x00\x00\x00TFL3" + b"\xff" * 40)
    _assert_refused(garbage)


# ------------------------------------------------------------------------------------------- summary
def test_summarize_known_values():
    values = np.zeros((5, 52))
    values[:, 1] = [0.2, 0.6, 0.9, 0.5, np.nan]   # 0.5 is not above the threshold
    values[:, 2] = [1.0, 0.0, 0.0, 0.0, 0.0]
    detected = np.array([True, True, True, True, False])
    values[4] = 0.99                               # not detected: ignored
    out = bs.summarize(values, detected)
    v = np.array([0.2, 0.6, 0.9, 0.5])
    assert out["bs_brow_down_left_mean"] == pytest.approx(v.mean())
    assert out["bs_brow_down_left_sd"] == pytest.approx(v.std(ddof=1))
    assert out["bs_brow_down_left_active_fraction"] == pytest.approx(0.5)
    assert out["bs_brow_down_right_active_fraction"] == pytest.approx(0.25)
    one = bs.summarize(values[:1], np.array([True]))
    assert one["bs_brow_down_left_sd"] == 0.0 and one["bs_brow_down_left_mean"] == pytest.approx(0.2)
    none = bs.summarize(values, np.zeros(5, bool))
    assert all(math.isnan(x) for x in none.values())
    with pytest.raises(ParameterError):
        bs.summarize(values[:, :51], detected)
    with pytest.raises(ParameterError):
        bs.summarize(values, detected[:4])


def test_a_changed_bundled_model_is_refused(tmp_path, monkeypatch):
    bundled = bs.resolve_model(None)
    copy = tmp_path / "face_landmarker.task"
    data = bytearray(bundled.read_bytes())
    data[-1] ^= 0xFF  # one byte of the zip's end record: a corrupted or replaced file
    copy.write_bytes(bytes(data))
    monkeypatch.setattr(bs, "_packaged_model", lambda: copy)
    with pytest.raises(ParameterError, match="is not the file Bitbox shipped.*reinstall Bitbox"):
        bs.resolve_model(None)


def test_a_missing_face_model_is_refused_before_any_recording(tmp_path):
    from bitbox.processors.face import FaceProcessor

    with pytest.raises(ParameterError, match="'face_model' parameter of FaceProcessor must be None or the path of an "
                                             "existing MediaPipe face_landmarker.task"):
        FaceProcessor(face_model=str(tmp_path / "nope.task")).validate_params()


def test_another_tflite_network_is_refused_with_its_shapes():
    """A real TensorFlow Lite model of another network (mediapipe's face mesh, whose metadata is a zip
    appended to the flatbuffer) is read as a network and refused for its shapes, not as a bad zip."""
    import mediapipe

    other = Path(mediapipe.__file__).parent / "modules" / "face_landmark" / "face_landmark.tflite"
    assert bs.resolve_model(other) == other.resolve()
    with pytest.raises(ParameterError, match=r"the network takes \[\(1, 192, 192, 3\)\].*gives 52 scores"):
        bs.BlendshapeModel(other).open()
    from bitbox.processors.face import FaceProcessor

    with pytest.raises(ParameterError, match="the network takes"):  # before any recording
        FaceProcessor(face_model=str(other)).validate_params()
