"""Asymmetry (bitbox.analysis.asymmetry): closed forms, both conventions, and the original's values.

The hand-made faces use the original Bitbox's 51-point ibug layout (compsygroup/bitbox,
src/bitbox/utilities/landmarks.py at commit 9a5e32a): its left-right index lists below are
the features it measures. ORIGINAL_* numbers come from running the original ``asymmetry``
(src/bitbox/expressions.py at commit 9a5e32a) on exactly these arrays, passed as its landmark
dict (``type="landmark"``, ``schema="ibug51"``); the script that ran it is not committed.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import bitbox.analysis as ba
from bitbox import ParameterError
from bitbox.processors import face_geometry as geo

# ---------------------------------------------------------------------------- the ibug-51 layout
# The original's left lists and their counterparts, pair by pair (landmarks.py: le/re, lb/rb, lno/rno, lm/rm).
IBUG_LEFT = {"eye": [19, 20, 21, 22, 23, 24], "brow": [0, 1, 2, 3, 4], "nose": [14, 15],
             "mouth": [31, 32, 33, 43, 44, 50, 42, 41]}
IBUG_RIGHT = {"eye": [28, 27, 26, 25, 30, 29], "brow": [9, 8, 7, 6, 5], "nose": [18, 17],
              "mouth": [37, 36, 35, 47, 46, 48, 38, 39]}
IBUG_MIDLINE = [10, 11, 12, 13, 16, 34, 40, 45, 49]  # shared by left and right: no feature uses them


def _ibug_mirror() -> np.ndarray:
    mirror = np.arange(51)
    for name, left in IBUG_LEFT.items():
        mirror[left], mirror[IBUG_RIGHT[name]] = IBUG_RIGHT[name], left
    return mirror


IBUG_MIRROR = _ibug_mirror()
IBUG_REGIONS = {name: IBUG_LEFT[name] + IBUG_RIGHT[name] for name in IBUG_LEFT}
IBUG_REGIONS["nose"] = IBUG_REGIONS["nose"] + [10, 11, 12, 13, 16]  # midline points join, and are left out
IBUG_SIDE = [i for left in IBUG_LEFT.values() for i in left]
FEATURES = ("eye", "brow", "nose", "mouth", "overall")

# (x, y, z) of each left point (x < 0), in the order of IBUG_LEFT; right points are mirrored (x -> -x).
_LEFT_XYZ = {
    "brow": [(-1.00, 1.00, 0.10), (-0.80, 1.10, 0.20), (-0.60, 1.15, 0.25), (-0.40, 1.10, 0.30), (-0.20, 1.00, 0.30)],
    "eye": [(-0.75, 0.60, 0.10), (-0.62, 0.68, 0.15), (-0.48, 0.68, 0.15), (-0.35, 0.60, 0.12),
            (-0.48, 0.53, 0.14), (-0.62, 0.53, 0.14)],
    "nose": [(-0.20, -0.20, 0.50), (-0.10, -0.25, 0.55)],
    "mouth": [(-0.45, -0.60, 0.30), (-0.30, -0.52, 0.38), (-0.12, -0.48, 0.42), (-0.35, -0.60, 0.32),
              (-0.15, -0.57, 0.40), (-0.15, -0.64, 0.39), (-0.30, -0.72, 0.35), (-0.12, -0.76, 0.38)],
}
_MIDLINE_YZ = {10: (0.60, 0.45), 11: (0.40, 0.60), 12: (0.20, 0.75), 13: (0.00, 0.90), 16: (-0.27, 0.60),
               34: (-0.47, 0.44), 40: (-0.78, 0.40), 45: (-0.55, 0.44), 49: (-0.66, 0.42)}


def symmetric_ibug_face() -> np.ndarray:
    """A hand-made symmetric 51-point face, shape (51, 3)."""
    face = np.zeros((51, 3))
    for name, points in _LEFT_XYZ.items():
        face[IBUG_LEFT[name]] = points
        face[IBUG_RIGHT[name]] = np.array(points) * [-1, 1, 1]
    for i, (y, z) in _MIDLINE_YZ.items():
        face[i] = (0.0, y, z)
    return face


def noisy_ibug_face(sign: float = 1.0) -> np.ndarray:
    """The symmetric face with a deterministic, everywhere-asymmetric perturbation (about 0.04)."""
    k, j = np.meshgrid(np.arange(51), np.arange(3), indexing="ij")
    return symmetric_ibug_face() + sign * 0.04 * np.sin(1.3 * k + 2.1 * j + 0.5)


def raised_brow_face(lift: float = 0.1) -> np.ndarray:
    face = symmetric_ibug_face()
    face[IBUG_LEFT["brow"], 1] += lift
    return face


def collapsed_brows_face() -> np.ndarray:
    """Both brows centred on the midline: their centroids coincide, so the brow plane is undefined."""
    face = symmetric_ibug_face()
    left = face[IBUG_LEFT["brow"]]
    left[:, 0] -= left[:, 0].mean()
    face[IBUG_LEFT["brow"]], face[IBUG_RIGHT["brow"]] = left, left * [-1, 1, 1]
    return face


def nan_nose_face() -> np.ndarray:
    face = noisy_ibug_face()
    face[14] = np.nan
    return face


def ibug_inputs() -> dict[str, np.ndarray]:
    """The arrays the original was run on, (n_frames, 51, d)."""
    noisy = np.stack([noisy_ibug_face(), noisy_ibug_face(-1.0)])
    return {"symmetric": symmetric_ibug_face()[None], "raised_brow": raised_brow_face()[None], "noisy": noisy,
            "noisy_2d": noisy[:, :, :2], "collapsed_brows": collapsed_brows_face()[None],
            "nan_nose": nan_nose_face()[None], "tiny": noisy * 1e-9, "large": noisy * 40.0,
            "large_2d": noisy[:, :, :2] * 40.0}


def _ibug(landmarks, **kwargs) -> dict[str, np.ndarray]:
    return ba.asymmetry(landmarks, mirror=IBUG_MIRROR, regions=IBUG_REGIONS, left=IBUG_SIDE, **kwargs)
# Values of the original's asymmetry (expressions.py at commit 9a5e32a) on ibug_inputs(): (input, normalize)
# -> column -> one value per frame; normalize None is the original's normalize=False, '3DI' / '3DIl' its
# normalize=True with landmarks['backend'] so named, '2D' normalize=True on 2-D landmarks.
ORIGINAL = {
    ("raised_brow", None): {
        "eye": [0.0],
        "brow": [0.04307179020215972],
        "nose": [0.0],
        "mouth": [0.0],
        "overall": [0.01076794755053993],
    },
    ("noisy", None): {
        "eye": [0.04460797398011578, 0.04451738271224101],
        "brow": [0.035211062616100276, 0.03522926044283733],
        "nose": [0.061266775765611105, 0.04555430511383041],
        "mouth": [0.06965221055384402, 0.06983238761665127],
        "overall": [0.052684505728917794, 0.04878333397139001],
    },
    ("noisy_2d", None): {
        "eye": [0.027972832330193955, 0.028422215408140702],
        "brow": [0.028155266574660182, 0.028173398289987283],
        "nose": [0.0329698773498779, 0.029289796816943665],
        "mouth": [0.0509651043470179, 0.05116404842747993],
        "overall": [0.035015770150437484, 0.034262364735637894],
    },
    ("collapsed_brows", None): {
        "eye": [0.0],
        "brow": [0.48],
        "nose": [0.0],
        "mouth": [0.0],
        "overall": [0.12],
    },
    ("nan_nose", None): {
        "eye": [0.04460797398011578],
        "brow": [0.035211062616100276],
        "nose": [math.nan],
        "mouth": [0.06965221055384402],
        "overall": [math.nan],
    },
    ("tiny", None): {
        "eye": [1.1072141581020428e-09, 1.0949236470541554e-09],
        "brow": [1.2011234646220836e-09, 1.2006216097274354e-09],
        "nose": [2.643602253562843e-10, 3.5150654272247076e-10],
        "mouth": [4.932091542344226e-10, 4.904830330250927e-10],
        "overall": [7.664767505787083e-10, 7.843837081322885e-10],
    },
    ("large", None): {
        "eye": [1.784318959204633, 1.7806953084896397],
        "brow": [1.4084425046440088, 1.4091704177134903],
        "nose": [2.450671030624444, 1.8221722045532143],
        "mouth": [2.7860884221537594, 2.7932955046660517],
        "overall": [2.1073802291567114, 1.951333358855599],
    },
    ("large", "3DI"): {
        "eye": [0.472076114000797, 0.47065557587111995],
        "brow": [0.43478496449347814, 0.4352931772069331],
        "nose": [1.757893541386234, 1.2885843821335232],
        "mouth": [0.3903446780549053, 0.39192649678812425],
        "overall": [0.8238501930322376, 0.737579256333259],
    },
    ("large", "3DIl"): {
        "eye": [1.3709425872614769, 1.3669753760560979],
        "brow": [0.38578357759923826, 0.3862825925231304],
        "nose": [3.6946663936564215, 2.6816121930258126],
        "mouth": [0.8089291755542874, 0.81233259570554],
        "overall": [1.9081574007049933, 1.7031831851511874],
    },
    ("large_2d", None): {
        "eye": [1.1189132932077606, 1.1368886163256267],
        "brow": [1.1262106629864033, 1.1269359315994905],
        "nose": [1.318795093995115, 1.171591872677746],
        "mouth": [2.038604173880713, 2.0465619370991965],
        "overall": [1.400630806017498, 1.370494589425515],
    },
    ("large_2d", "2D"): {
        "eye": [0.1859132932077605, 0.2038886163256266],
        "brow": [0.015210662986403278, 0.01593593159949047],
        "nose": [1.318695093995115, 1.171491872677746],
        "mouth": [1.3365041738807129, 1.3444619370991966],
        "overall": [0.6317308060174979, 0.6015945894255149],
    },
    ("nan_nose", "3DI"): {
        "eye": [0.0],
        "brow": [0.0],
        "nose": [math.nan],
        "mouth": [0.0],
        "overall": [math.nan],
    },
    ("symmetric", "3DI"): {
        "eye": [0.0],
        "brow": [0.0],
        "nose": [0.0],
        "mouth": [0.0],
        "overall": [0.0],
    },
}

# ---------------------------------------------------------------------------- MediaPipe's mesh
# The face processor's features on the 468-point mesh (mediapipe's FACEMESH_* sets): the points on the
# face's left (template x > 0) and, in the same order, their counterparts (the template's mirror).
MP_LEFT = {"eye": [249, 263, 362, 373, 374, 380, 381, 382, 384, 385, 386, 387, 388, 390, 398, 466],
           "brow": [276, 282, 283, 285, 293, 295, 296, 300, 334, 336],
           "nose": [275, 278, 294, 326, 327, 344, 440],
           "mouth": [267, 269, 270, 291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405, 409, 415]}
MP_RIGHT = {"eye": [7, 33, 133, 144, 145, 153, 154, 155, 157, 158, 159, 160, 161, 163, 173, 246],
            "brow": [46, 52, 53, 55, 63, 65, 66, 70, 105, 107],
            "nose": [45, 48, 64, 97, 98, 115, 220],
            "mouth": [37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181, 185, 191]}
MP_MIDLINE = {"eye": [], "brow": [], "nose": [1, 2, 4, 5, 6, 19, 94, 168, 195, 197], "mouth": [0, 13, 14, 17]}
MP_REGIONS = {name: MP_LEFT[name] + MP_RIGHT[name] + MP_MIDLINE[name] for name in MP_LEFT}


@pytest.fixture(scope="module")
def mesh():
    template = geo.load_template()
    return template.shape[:geo.N_MESH].copy(), template.mirror[:geo.N_MESH]


def _mp(face, mirror, **kwargs) -> dict[str, float]:
    return {k: float(v[0]) for k, v in ba.asymmetry(face, mirror=mirror, regions=MP_REGIONS, **kwargs).items()}


def test_the_mesh_features_are_mirror_pairs(mesh):
    face, mirror = mesh
    for name in MP_LEFT:
        assert mirror[MP_LEFT[name]].tolist() == MP_RIGHT[name]
        assert (face[MP_LEFT[name], 0] > 0).all() and (mirror[MP_MIDLINE[name]] == MP_MIDLINE[name]).all()


# ---------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("convention", ["bitbox", "original"])
def test_a_symmetric_face_scores_zero_everywhere_at_any_pose_and_size(mesh, convention):
    face, mirror = mesh
    posed = 80 * face @ geo.rotation_from_euler(10, 25, -15).T + [300, 200, 0]
    a = _mp(posed, mirror, convention=convention)
    assert set(a) == set(FEATURES) and all(v == pytest.approx(0, abs=1e-11) for v in a.values())  # coordinates ~300
    turn = np.deg2rad(-15)  # 2-D: a rolled, scaled, shifted frontal face is still symmetric
    flat = 50 * face[:, :2] @ np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]]).T + [60, 90]
    flat = _mp(flat, mirror, convention=convention)
    assert all(v == pytest.approx(0, abs=1e-11) for v in flat.values())
    ibug = _ibug(ibug_inputs()["symmetric"], convention=convention)
    assert all(v[0] == 0.0 for v in ibug.values())


@pytest.mark.parametrize("convention", ["bitbox", "original"])
def test_one_raised_brow_leaves_the_other_features_at_exactly_zero(mesh, convention):
    face, mirror = mesh
    raised = face.copy()
    raised[MP_LEFT["brow"], 1] += 0.1  # the left brow up by 0.1 IOD
    a = _mp(raised, mirror, convention=convention)
    assert a["brow"] > 0.03
    assert a["eye"] == pytest.approx(0, abs=1e-12) and a["mouth"] == pytest.approx(0, abs=1e-12)
    assert a["nose"] == pytest.approx(0, abs=1e-12)
    assert a["overall"] == pytest.approx(a["brow"] / 4, rel=1e-12)
    # One mid-sagittal plane for the whole face (Bitbox before issue 20) leaks into the eyes.
    assert _mp(raised, mirror, plane="face")["eye"] > 0.003


def test_a_brow_tilt_about_its_centroid_has_the_closed_form(mesh):
    face, mirror = mesh
    delta, k = 0.05, len(MP_LEFT["brow"])
    tilted = face.copy()
    tilted[MP_LEFT["brow"][0], 1] += delta  # one point up, another down: the centroid and so the plane stay
    tilted[MP_LEFT["brow"][-1], 1] -= delta
    for convention in ("bitbox", "original"):
        assert _mp(tilted, mirror, convention=convention)["brow"] == pytest.approx(2 * delta / k, rel=1e-10)


def test_one_point_moved_outward_has_the_closed_form(mesh):
    # The left centroid moves by delta / k along the normal: the plane by delta / (2k), the reflected right
    # points by delta / k. Residuals: delta (1 - 1/k) for the moved point, delta / k for the k - 1 others.
    face, mirror = mesh
    delta, k = 0.04, len(MP_LEFT["eye"])
    moved = face.copy()
    moved[MP_LEFT["eye"][3], 0] += delta
    a = _mp(moved, mirror)
    assert a["eye"] == pytest.approx(2 * delta * (k - 1) / k ** 2, rel=1e-10)
    assert a["brow"] == pytest.approx(0, abs=1e-12)


def test_lifting_one_side_of_a_square_feature_tilts_its_plane():
    # Right side (-1, +-1), left side (1, +-1) lifted by 2: centroids (-1, 0) and (1, 2); the plane is the
    # line x + y = 1, which maps (x, y) to (1 - y, 1 - x): (-1, 1) -> (0, 2), (-1, -1) -> (2, 2), each
    # sqrt(2) from its partner (1, 3), (1, 1).
    square = np.array([[-1.0, 1.0], [-1.0, -1.0], [1.0, 3.0], [1.0, 1.0]])
    a = ba.asymmetry(square, mirror=[2, 3, 0, 1], regions={"f": [0, 1, 2, 3]})
    assert a["f"][0] == pytest.approx(math.sqrt(2), rel=1e-12) and a["overall"][0] == a["f"][0]


def test_a_rigid_outward_shift_is_invisible_to_the_feature_plane_but_not_to_the_face_plane():
    # The left eye moved 0.05 outward: its own plane moves with it (by 0.025) and the eye scores 0. A plane
    # fitted on the other features stays at x = 0: every eye point is 0.05 from its counterpart's reflection.
    face = symmetric_ibug_face()
    face[IBUG_LEFT["eye"], 0] -= 0.05
    assert _ibug(face)["eye"][0] == pytest.approx(0, abs=1e-12)
    others = [i for name in ("brow", "nose", "mouth") for i in IBUG_REGIONS[name]] + IBUG_MIDLINE
    face_plane = _ibug(face, plane="face", align_on=others)
    assert face_plane["eye"][0] == pytest.approx(0.05, rel=1e-9)
    assert face_plane["brow"][0] == pytest.approx(0, abs=1e-12)
    assert face_plane["overall"][0] == pytest.approx(0.05 / 4, rel=1e-9)


def test_a_one_pair_feature_always_scores_zero_and_scale_divides():
    rng = np.random.default_rng(3)
    points = rng.normal(size=(20, 3, 3))
    a = ba.asymmetry(points, mirror=[1, 0, 2], regions={"pair": [0, 1, 2]}, scale=np.full(20, 2.0))
    assert np.allclose(a["pair"], 0, atol=1e-12)
    noisy = ibug_inputs()["noisy"]
    halved = _ibug(noisy, scale=2.0)
    assert all(np.allclose(halved[c], _ibug(noisy)[c] / 2, rtol=1e-14) for c in FEATURES)


def test_which_side_is_called_left_does_not_matter():
    noisy = ibug_inputs()["noisy"]
    ours = _ibug(noisy)
    other = ba.asymmetry(noisy, mirror=IBUG_MIRROR, regions=IBUG_REGIONS, left=IBUG_MIRROR[IBUG_SIDE])
    default = ba.asymmetry(noisy, mirror=IBUG_MIRROR, regions=IBUG_REGIONS)  # by x
    for c in FEATURES:
        np.testing.assert_allclose(other[c], ours[c], rtol=1e-13)
        np.testing.assert_allclose(default[c], ours[c], rtol=1e-13)


def test_without_regions_all_pairs_are_one_feature():
    noisy = ibug_inputs()["noisy"]
    whole = ba.asymmetry(noisy, mirror=IBUG_MIRROR)
    assert set(whole) == {"overall"}
    one = ba.asymmetry(noisy, mirror=IBUG_MIRROR, regions={"all": list(range(51))})
    np.testing.assert_allclose(whole["overall"], one["all"], rtol=1e-14)


# ---------------------------------------------------------------------------- the original's values
@pytest.mark.parametrize("case", list(ORIGINAL), ids=[f"{n}-{k}" for n, k in ORIGINAL])
def test_the_original_convention_reproduces_the_original(case):
    name, normalize = case
    with ba.nan_reasons() as reasons:
        ours = _ibug(ibug_inputs()[name], convention="original", normalize=normalize)
    assert list(ours) == list(FEATURES)
    for column, expected in ORIGINAL[case].items():
        np.testing.assert_allclose(ours[column], expected, rtol=1e-12, atol=0)
    nan_keys = {c for c, v in ORIGINAL[case].items() if np.isnan(v).any()}
    assert {k for r in reasons for k in r.keys} == nan_keys  # every NaN with a reason


@pytest.mark.parametrize("name", ["raised_brow", "noisy", "noisy_2d", "large", "large_2d"])
def test_bitbox_equals_the_original_unnormalised_where_the_original_is_sound(name):
    ours = _ibug(ibug_inputs()[name])
    for column, expected in ORIGINAL[(name, None)].items():
        np.testing.assert_allclose(ours[column], expected, rtol=1e-12, atol=0)


def test_coinciding_centroids_give_nan_with_a_reason_not_an_unreflected_comparison():
    face = ibug_inputs()["collapsed_brows"]
    with ba.nan_reasons() as reasons:
        ours = _ibug(face)
    assert np.isnan(ours["brow"][0]) and np.isnan(ours["overall"][0])
    assert all(ours[c][0] == pytest.approx(0, abs=1e-12) for c in ("eye", "nose", "mouth"))
    assert [(r.keys, r.kind) for r in reasons] == [(("brow", "overall"), "no_variation")]
    # The original compares the sides unreflected: mean 2|x| of the centred brow x (-.4 -.2 0 .2 .4) = 0.48.
    assert ORIGINAL[("collapsed_brows", None)]["brow"] == [0.48]
    # A feature collapsed to one point is symmetric about any plane: 0.
    point = symmetric_ibug_face()
    point[IBUG_REGIONS["brow"]] = (0.0, 1.0, 0.3)
    assert _ibug(point)["brow"][0] == 0.0


def test_bitbox_is_free_of_the_original_absolute_threshold():
    # Coordinates of 1e-9 put every centroid distance under the original's absolute 1e-8: it stops
    # reflecting. Bitbox's threshold is relative: the values scale with the landmarks.
    inputs = ibug_inputs()
    tiny, noisy = _ibug(inputs["tiny"]), _ibug(inputs["noisy"])
    for c in FEATURES:
        np.testing.assert_allclose(tiny[c], 1e-9 * noisy[c], rtol=1e-9)
    assert not np.allclose(ORIGINAL[("tiny", None)]["nose"], 1e-9 * noisy["nose"], rtol=0.1, atol=0)


def test_a_nan_point_makes_the_frame_nan_in_bitbox_and_only_its_feature_in_the_original():
    with ba.nan_reasons() as reasons:
        ours = _ibug(ibug_inputs()["nan_nose"])
    assert all(np.isnan(v[0]) for v in ours.values()) and {k for r in reasons for k in r.keys} == set(FEATURES)
    original = _ibug(ibug_inputs()["nan_nose"], convention="original")
    assert np.isnan(original["nose"][0]) and np.isnan(original["overall"][0]) and np.isfinite(original["eye"][0])


# ---------------------------------------------------------------------------- parameters
@pytest.mark.parametrize("kwargs, match", [
    ({"convention": "bitbox2"}, "convention must be one of"),
    ({"plane": "head"}, "plane must be one of"),
    ({"normalize": "3DI"}, "needs convention='original'"),
    ({"convention": "original", "normalize": "2D"}, "for 2-D landmarks"),
    ({"convention": "original", "normalize": "MediaPipe"}, "normalize must be None or one of"),
    ({"convention": "original", "scale": 2.0}, "has no scale"),
    ({"convention": "original", "plane": "face"}, "plane='face' is a Bitbox option"),
    ({"left": [0, 9]}, "exactly one point of every left-right pair"),
    ({"left": [10] + IBUG_SIDE}, "exactly one point of every left-right pair"),
    ({"regions": {"midline": IBUG_MIDLINE}}, "has no left-right pair"),
    ({"regions": {"overall": [0, 9]}}, "name no region 'overall'"),
    ({"regions": {"eye": [0, 99]}}, "point indices in 0..50"),
])
def test_bad_parameters_are_clear(kwargs, match):
    kwargs = {"mirror": IBUG_MIRROR, "regions": IBUG_REGIONS, **kwargs}
    with pytest.raises(ParameterError, match=match):
        ba.asymmetry(symmetric_ibug_face(), **kwargs)


def test_a_mirror_that_is_not_an_involution_is_refused():
    with pytest.raises(ParameterError, match="mirror must give each point's counterpart"):
        ba.asymmetry(np.zeros((3, 2)), mirror=[1, 2, 0])
