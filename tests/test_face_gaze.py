"""Gaze in degrees: the eyeball model in closed form, and irises of real faces turned by known angles.

Stimuli (tools/face_warp.py): the five iris landmarks of each eye of a real portrait
(scikit-image's astronaut, matplotlib's Grace Hopper) are rotated in 3D about an eyeball centre
0.133 IOD behind the iris, and the photo is warped to them; the face mesh runs on each image,
the landmarks are aligned to the reference face as the face processor does, and
``gaze_angles`` reads the angles back. The bands around slope and offset are the documented
bias (the mesh's irises move about half as far as the set iris, and its eye corners follow a
little): they fail when the model or mediapipe changes, so that the docs get updated.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from bitbox.errors import ParameterError
from bitbox.processors.face import geometry as geo
from bitbox.processors.face import gaze
from tools import face_warp
from tools.sample_images import grace_hopper

ANGLES = face_warp.GAZE_ANGLES_DEG           # -25 .. 25 deg in steps of 5
HEAD_YAWS = (-15.0, 0.0, 15.0)
EYE_YAWS = (-20.0, 0.0, 20.0)
R = gaze.EYEBALL_RADIUS_IOD


def _old_gaze(aligned: np.ndarray) -> tuple[float, float]:
    """processors/face/processor.py's ``_gaze`` before the move, verbatim (the reference)."""
    offsets = []
    for iris, (c1, c2) in ((geo.IRIS_RIGHT, (33, 133)), (geo.IRIS_LEFT, (362, 263))):
        width = np.linalg.norm(aligned[c1, :2] - aligned[c2, :2])
        centre = (aligned[c1, :2] + aligned[c2, :2]) / 2
        offsets.append(((aligned[iris, 0] - centre[0]) / width, -(aligned[iris, 1] - centre[1]) / width))
    gx, gy = np.mean(offsets, axis=0)
    return float(np.clip(gx, -1, 1)), float(np.clip(gy, -1, 1))


def _aligned(points: np.ndarray) -> np.ndarray:
    template = geo.load_template()
    scale, rotation, translation, _ = geo.umeyama(template.rigid_shape, points[geo.RIGID])
    return (points - translation) @ rotation / scale


def _centred_template() -> np.ndarray:
    """The reference face with each iris centre (and ring) moved onto its eye-corner midpoint."""
    shape = geo.load_template().shape.copy()
    for iris, corners in gaze.EYES:
        ring = np.arange(iris, iris + 5)
        shape[ring, :2] += shape[list(corners), :2].mean(axis=0) - shape[iris, :2]
    return shape


# ---------------------------------------------------------------------- closed form
def test_iris_on_the_corner_midpoint_is_straight_ahead():
    yaw, pitch = gaze.gaze_angles(_centred_template())
    assert yaw == pytest.approx(0.0, abs=1e-9) and pitch == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("angle", [-40.0, -20.0, 5.0, 20.0, 60.0])
def test_iris_shift_of_r_sin_theta_gives_theta(angle):
    shift = R * math.sin(math.radians(angle))
    for axis, sign, k in ((0, 1.0, 0), (1, -1.0, 1)):  # x right = yaw; y down, so up = pitch
        shape = _centred_template()
        shape[[geo.IRIS_RIGHT, geo.IRIS_LEFT], axis] += sign * shift
        result = gaze.gaze_angles(shape)
        assert result[k] == pytest.approx(angle, abs=1e-6)
        assert result[1 - k] == pytest.approx(0.0, abs=1e-6)


def test_angles_are_the_mean_of_both_eyes_and_clip_at_90():
    shape = _centred_template()
    shape[geo.IRIS_RIGHT, 0] += R * math.sin(math.radians(30))
    assert gaze.gaze_angles(shape)[0] == pytest.approx(15.0, abs=1e-6)  # left eye straight: (30 + 0) / 2
    shape[geo.IRIS_LEFT, 0] += 5 * R                                      # beyond the eyeball: clipped
    assert gaze.gaze_angles(shape)[0] == pytest.approx((30 + 90) / 2, abs=1e-6)


def test_radius_sets_the_scale_and_is_checked():
    shape = _centred_template()
    shape[[geo.IRIS_RIGHT, geo.IRIS_LEFT], 0] += 0.05
    small, large = gaze.gaze_angles(shape, radius_iod=0.1)[0], gaze.gaze_angles(shape, radius_iod=0.2)[0]
    assert small == pytest.approx(math.degrees(math.asin(0.5)))
    assert large == pytest.approx(math.degrees(math.asin(0.25)))
    for bad in (0.0, -0.1, math.nan):
        with pytest.raises(ParameterError, match="radius_iod"):
            gaze.gaze_angles(shape, radius_iod=bad)


def test_many_matches_single_and_nan_frames_stay_nan():
    rng = np.random.default_rng(0)
    frames = _centred_template()[None] + rng.normal(0, 0.01, (5, geo.N_LANDMARKS, 3))
    frames[2] = np.nan
    many = gaze.gaze_angles_many(frames)
    assert many.shape == (5, 2)
    assert np.isnan(many[2]).all() and np.isfinite(np.delete(many, 2, axis=0)).all()
    for i in (0, 1, 3, 4):
        assert many[i] == pytest.approx(gaze.gaze_angles(frames[i]), abs=1e-9)
    assert all(math.isnan(v) for v in gaze.gaze_angles(frames[2]))


@pytest.mark.parametrize("shape", [(468, 3), (478,), (478, 1), (2, 478, 3)])
def test_wrong_shapes_are_refused_clearly(shape):
    with pytest.raises(ParameterError, match="refine_landmarks"):
        gaze.gaze_angles(np.zeros(shape))
    with pytest.raises(ParameterError):
        gaze.gaze_offsets(np.zeros(shape))
    with pytest.raises(ParameterError):
        gaze.gaze_angles_many(np.zeros(shape[-2:] if len(shape) == 3 else (3, *shape)))


def test_offsets_equal_the_old_gaze_on_the_same_inputs():
    rng = np.random.default_rng(1)
    template = geo.load_template().shape
    for _ in range(20):
        aligned = template + rng.normal(0, 0.03, template.shape)
        assert gaze.gaze_offsets(aligned) == _old_gaze(aligned)
    far = template.copy()
    far[[geo.IRIS_RIGHT, geo.IRIS_LEFT], 0] += 3.0  # clipped to 1 by both
    assert gaze.gaze_offsets(far) == _old_gaze(far)
    assert gaze.gaze_offsets(far)[0] == 1.0


def test_the_vectorised_offsets_and_angles_equal_the_per_frame_ones():
    rng = np.random.default_rng(2)
    template = geo.load_template().shape
    frames = np.stack([template + rng.normal(0, 0.03, template.shape) for _ in range(12)])
    frames[3] = np.nan  # a frame without a face
    offsets, angles = gaze.gaze_offsets_many(frames), gaze.gaze_angles_many(frames)
    assert np.isnan(offsets[3]).all() and np.isnan(angles[3]).all()
    for i in (0, 1, 2, 4, 11):
        np.testing.assert_allclose(offsets[i], gaze.gaze_offsets(frames[i]), rtol=0, atol=1e-12)
        np.testing.assert_allclose(angles[i], gaze.gaze_angles(frames[i]), rtol=0, atol=1e-9)


def test_catalogue_entries():
    measures = {m.name: m for m in gaze.measures()}
    assert set(measures) == {"gaze_x", "gaze_y", "gaze_yaw_deg", "gaze_pitch_deg",
                             *[f"{n}_{s}" for n in ("gaze_x", "gaze_y", "gaze_yaw_deg", "gaze_pitch_deg")
                               for s in ("mean", "sd")]}
    for name in ("gaze_yaw_deg", "gaze_pitch_deg"):
        m = measures[name]
        assert (m.unit, m.kind, m.valid_range) == ("deg", "timeseries", (-90, 90))
        assert "blink" in m.description and "eye-in-head" in m.description
        assert "Pearson r" in m.evidence and "slope" in m.evidence and "{" not in m.evidence
        assert measures[f"{name}_sd"].valid_range == (0, math.inf) and measures[f"{name}_mean"].kind == "summary"
    assert measures["gaze_x"].unit == "eye width" and "0.996" in measures["gaze_x"].evidence


# ---------------------------------------------------------------------- the warper's stimulus itself
def test_gaze_rotated_moves_the_iris_by_r_sin_angle():
    warper = _warpers()["astronaut"]
    p = warper.points
    r = 0.133 * np.linalg.norm(p[263] - p[33])
    assert np.array_equal(warper.gaze_rotated(0.0, 0.0), p)
    for a in (-25.0, 10.0, 25.0):
        moved = warper.gaze_rotated(a, 0.0)
        shift = moved[[468, 473]] - p[[468, 473]]
        assert shift[:, 0] == pytest.approx(r * math.sin(math.radians(a)), rel=0.02)  # > 0: image right
        assert np.abs(shift[:, 1]).max() < 0.02 * r
        ring = moved[[469, 471]] - moved[[471, 469]]  # the iris's horizontal diameter foreshortens
        assert np.abs(ring[0, 0]) < np.abs((p[469] - p[471])[0])
        up = warper.gaze_rotated(0.0, a)
        assert (up[[468, 473], 1] - p[[468, 473], 1]) == pytest.approx(-r * math.sin(math.radians(a)), rel=0.02)
    assert np.array_equal(moved[:geo.N_MESH], p[:geo.N_MESH])  # eye contours stay
    turned = warper.gaze_rotated(0.0, 0.0, head_yaw=15.0)
    assert turned == pytest.approx(warper.reposed(yaw=15.0))


# ---------------------------------------------------------------------- real faces, known angles
_CACHE: dict = {}


def _warpers() -> dict[str, face_warp.FaceWarper]:
    if not _CACHE:
        photo = grace_hopper()
        corners = face_warp.face_mesh(photo)[[33, 263], :2].mean(axis=0)
        _CACHE["astronaut"] = face_warp.astronaut_warper(True)
        _CACHE["grace_hopper"] = face_warp.FaceWarper.from_photo(
            face_warp.upright_portrait(photo, centre=tuple(corners), scale=1.0), with_irises=True)
    return _CACHE


@pytest.fixture(scope="module")
def measured():
    """Per face: gaze angles of the yaw sweep, the pitch sweep and the re-posed heads."""
    import mediapipe as mp

    out = {}
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as mesh:
        def angles(rgb):
            result = mesh.process(rgb)
            assert result.multi_face_landmarks, "no face found in a stimulus"
            h, w = rgb.shape[:2]
            points = np.array([[q.x * w, q.y * h, q.z * w] for q in result.multi_face_landmarks[0].landmark])
            return gaze.gaze_angles(_aligned(points))

        for name, warper in _warpers().items():
            frames = face_warp.gaze_rotated_frames(warper, ANGLES)
            sweep = np.array([angles(f) for f in frames])
            head = {(h, e): angles(warper.render(warper.gaze_rotated(e, 0.0, head_yaw=h)))
                    for h in HEAD_YAWS for e in EYE_YAWS}
            turned = np.array([angles(warper.render(warper.reposed(yaw=y))) for y in (-30.0, 30.0)])
            out[name] = dict(yaw=sweep[:len(ANGLES)], pitch=sweep[len(ANGLES):], head=head, turned=turned)
    return out


def _fit(values: np.ndarray) -> tuple[float, float, float]:
    slope, offset = np.polyfit(ANGLES, values, 1)
    return float(np.corrcoef(ANGLES, values)[0, 1]), float(slope), float(offset)


# name -> (min r, slope band, offset band, worst allowed step between neighbouring angles)
# Measured (this VM, mediapipe 0.10.21): astronaut yaw r 0.997, slope 0.338, offset -1.5, min step +0.64;
# pitch r 0.992, slope 0.103, offset +7.6, min step +0.10. Grace Hopper yaw r 0.980, slope 0.200,
# offset -2.1, min step -0.16; pitch r 0.91, slope 0.049, offset +8.5, min step -0.55.
EXPECTED = {
    ("astronaut", "yaw"): (0.95, (0.28, 0.40), (-3.5, 0.5), 0.0),
    ("astronaut", "pitch"): (0.95, (0.07, 0.14), (5.5, 9.5), -0.3),
    ("grace_hopper", "yaw"): (0.95, (0.15, 0.30), (-4.0, 0.0), -0.5),
    # Grace Hopper's vertical iris barely moves in the mesh (slope 0.05): the documented limitation.
    ("grace_hopper", "pitch"): (0.80, (0.025, 0.09), (6.0, 10.5), -1.0),
}


@pytest.mark.parametrize("face,axis", list(EXPECTED))
def test_known_eye_rotation_is_read_back_with_the_documented_bias(measured, face, axis):
    min_r, slope_band, offset_band, worst_step = EXPECTED[face, axis]
    values = measured[face][axis][:, 0 if axis == "yaw" else 1]
    r, slope, offset = _fit(values)
    assert r >= min_r, (r, values)
    assert slope_band[0] <= slope <= slope_band[1], (slope, values)
    assert offset_band[0] <= offset <= offset_band[1], (offset, values)
    steps = np.diff(values)
    if worst_step == 0.0:
        assert (steps > 0).all(), values  # strictly increasing
    else:
        assert steps.min() > worst_step, values
    assert values[-1] - values[0] > 0.5 * slope_band[0] * (ANGLES[-1] - ANGLES[0])


def test_head_pose_is_removed(measured):
    for face, data in measured.items():
        head = data["head"]
        for h in HEAD_YAWS:
            # The eye rotation is still read on a turned head ...
            assert head[h, 20.0][0] - head[h, -20.0][0] > 5.0, (face, h, head)
            # ... and turning the head by 15 deg moves gaze_yaw by much less (measured at most 3.8 deg).
            for e in EYE_YAWS:
                assert abs(head[h, e][0] - head[0.0, e][0]) < 5.0, (face, h, e, head)
        # Straight eyes, head turned +-30 deg: measured at most 5.4 deg.
        assert np.abs(data["turned"][:, 0] - head[0.0, 0.0][0]).max() < 8.0, (face, data["turned"])


def test_finite_on_every_frame_with_a_face_and_open_eyes(measured):
    for face, data in measured.items():
        values = np.concatenate([data["yaw"], data["pitch"], np.array(list(data["head"].values())), data["turned"]])
        assert np.isfinite(values).all(), face
        assert (np.abs(values) < 45).all(), (face, values)
