"""Kinematics, smoothness and relative motion: closed forms, both conventions, the original's values.

The values marked "original" come from running the original Bitbox toolkit's
``src/bitbox/biomechanics.py`` (compsygroup/bitbox at commit 9a5e32a: ``motion_kinematics``,
``motion_smoothness``, ``relative_motion``) on the inputs beside them, with its data helpers
stubbed to hand it the (N, d) coordinates (a scratch script, not committed).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

import bitbox.analysis as ba
from bitbox import ParameterError

LDJ_MINIMUM_JERK = -math.log(204.8)  # -5.3220

#: A hand-made 2-D trajectory (8 samples at 25 fps).
HAND = np.array([[0.0, 0.0], [1.0, 0.5], [1.5, 2.0], [3.0, 2.5], [2.0, 4.0], [4.0, 3.0], [5.0, 5.5], [4.5, 7.0]])
#: The original's outputs on HAND at fps=25 (run at commit 9a5e32a).
ORIGINAL_HAND_KINEMATICS = {"range": 8.602325267042627, "path_length": 12.5928764978015,
                            "mean_speed": 44.974558920719645, "mean_acceleration": 60.719939062565935}
ORIGINAL_HAND_SMOOTHNESS = {"mean_jerk": 123.94563199674303, "ldj": 4.874575789496696}
ORIGINAL_HAND_RELATIVE_MEAN = {"min": 0.676040864149498, "mean": 2.4448574358614583, "std": 1.335810940332851,
                               "max": 4.361138756104878}
ORIGINAL_HAND_RELATIVE_FRAME2 = {"min": 1.5811388300841898, "mean": 3.0281588913850856,  # reference=[2]
                                 "std": 1.5612163801562904, "max": 5.830951894845301}


def _minimum_jerk(fps: int, duration: float = 1.0, amplitude: float = 10.0) -> np.ndarray:
    tau = np.linspace(0, 1, int(round(duration * fps)) + 1)
    return amplitude * (10 * tau ** 3 - 15 * tau ** 4 + 6 * tau ** 5)


def _circle(radius: float = 5.0, n: int = 121) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n)  # samples at 0, pi/2, pi, 3 pi/2: extents exactly 2 r
    return np.c_[radius * np.cos(t), radius * np.sin(t)]


def _quiet(func, *args, **kwargs):
    with ba.nan_reasons() as reasons:
        return func(*args, **kwargs), reasons


# ----------------------------------------------------------------------------- the closed form itself
def test_the_minimum_jerk_closed_form_is_minus_ln_204_8():
    # x = D (10 s^3 - 15 s^4 + 6 s^5), s = t / T: v = D/T (30 s^2 - 60 s^3 + 30 s^4), peak 30/16 D/T at s = 1/2;
    # d2v/dt2 = D/T^3 (60 - 360 s + 360 s^2); integral of its square = 720 D^2 / T^5; T^3/v_peak^2 * 720 D^2/T^5
    # = 720 / (15/8)^2 = 204.8.
    integral, _ = quad(lambda s: (60 - 360 * s + 360 * s ** 2) ** 2, 0, 1)
    assert integral == pytest.approx(720)
    assert integral / (30 / 16) ** 2 == pytest.approx(204.8)
    assert LDJ_MINIMUM_JERK == pytest.approx(-5.322, abs=5e-4)


# ----------------------------------------------------------------------------- range
@pytest.mark.parametrize("convention", ["bitbox", "original"])
def test_a_circle_of_radius_5_has_range_14_14(convention):
    k = ba.kinematics(_circle(), fps=30, convention=convention)
    assert k["range"] == pytest.approx(10 * math.sqrt(2), rel=1e-12)  # the bounding box's diagonal, not 10
    assert k["path_length"] == pytest.approx(2 * np.pi * 5, rel=1e-3)  # the inscribed 120-gon: 31.412


def test_range_of_one_dimension_is_max_minus_min_and_gaps_are_skipped():
    assert ba.kinematics([1.0, 4.0, -2.0, 0.0], fps=10)["range"] == 6.0
    x = _circle()
    x[30] = np.nan  # the top of the circle: the y extent shrinks to 5 + 5 cos(3 deg)
    expected = math.hypot(10, 5 + 5 * math.sin(np.linspace(0, 2 * np.pi, 121)[29]))
    assert ba.kinematics(x, fps=30)["range"] == pytest.approx(expected)


# ----------------------------------------------------------------------------- acceleration and jerk
@pytest.mark.parametrize("fps", [30, 60, 120])
def test_constant_acceleration_gives_that_acceleration_at_any_fps(fps):
    t = np.arange(fps + 1) / fps
    x = 0.5 * 2.0 * t ** 2  # a = 2 U/s^2 for 1 s
    assert ba.kinematics(x, fps=fps)["mean_acceleration"] == pytest.approx(2.0, rel=1e-9)
    assert ba.smoothness(x, fps=fps)["mean_jerk"] == pytest.approx(0.0, abs=1e-6)
    # The original's a = diff(v) lacks one fps: 2 / fps (run at commit 9a5e32a: 0.0667, 0.0333, 0.0167).
    original = {30: 0.0666666666666667, 60: 0.033333333333333395, 120: 0.016666666666666597}[fps]
    k = ba.kinematics(x, fps=fps, convention="original")
    assert k["mean_acceleration"] == pytest.approx(original, rel=1e-12)
    assert k["mean_acceleration"] == pytest.approx(2.0 / fps, rel=1e-9)
    # Both: range 1, path 1, speed 1 (the original's values: 1.0 each).
    for convention in ("bitbox", "original"):
        k = ba.kinematics(x, fps=fps, convention=convention)
        assert (k["range"], k["path_length"], k["mean_speed"]) == pytest.approx((1.0, 1.0, 1.0), rel=1e-12)


@pytest.mark.parametrize("fps", [30, 60, 120])
def test_a_cubic_has_jerk_6_and_the_original_divides_it_by_fps_squared(fps):
    t = np.arange(fps + 1) / fps
    x = t ** 3  # jerk 6 U/s^3
    assert ba.smoothness(x, fps=fps)["mean_jerk"] == pytest.approx(6.0, rel=1e-6)
    original = {30: 0.006666666666666811, 60: 0.0016666666666669775, 120: 0.00041666666666631465}[fps]
    s = ba.smoothness(x, fps=fps, convention="original")
    assert s["mean_jerk"] == pytest.approx(original, rel=1e-9)
    assert s["mean_jerk"] == pytest.approx(6.0 / fps ** 2, rel=1e-6)
    # The original's LDJ of the cubic (run at commit 9a5e32a).
    assert s["ldj"] == pytest.approx({30: 6.400014925809036, 60: 7.84316859254414, 120: 9.258258811204124}[fps],
                                     rel=1e-12)


# ----------------------------------------------------------------------------- LDJ
@pytest.mark.parametrize("fps", [30, 60, 120])
def test_minimum_jerk_ldj_is_within_0_1_of_the_closed_form_at_video_rates(fps):
    ldj = ba.smoothness(_minimum_jerk(fps), fps=fps)["ldj"]
    assert ldj == pytest.approx(LDJ_MINIMUM_JERK, abs=0.1)
    assert ldj == pytest.approx(LDJ_MINIMUM_JERK, abs=0.015)  # -5.333, -5.325, -5.323
    # Dimensionless: amplitude, duration and direction do not matter.
    direction = np.array([0.6, -0.8])
    moved = _minimum_jerk(fps, duration=2.0, amplitude=3.0)[:, None] * direction + [100.0, 50.0]
    assert ba.smoothness(moved, fps=fps)["ldj"] == pytest.approx(LDJ_MINIMUM_JERK, abs=0.015)


@pytest.mark.parametrize("fps", [30, 60, 120])
def test_a_cosine_speed_profile_gives_its_closed_form_ldj(fps):
    # x = D (s - sin(2 pi s) / 2 pi): v = D/T (1 - cos 2 pi s), d2v/dt2 = D/T^3 (2 pi)^2 cos 2 pi s:
    # LDJ = -ln((2 pi)^4 / 8) = -5.272 (not a polynomial: the quintic fits are not exact here).
    tau = np.linspace(0, 1, fps + 1)
    x = 10 * (tau - np.sin(2 * np.pi * tau) / (2 * np.pi))
    assert ba.smoothness(x, fps=fps)["ldj"] == pytest.approx(-math.log((2 * math.pi) ** 4 / 8), abs=0.01)


def test_the_window_smooths_jitter_above_about_8_hz_and_a_short_window_keeps_it():
    fps = 2000
    position = _minimum_jerk(fps)
    jitter = position + 0.01 * np.sin(2 * np.pi * 40 * np.linspace(0, 1, fps + 1))
    assert ba.smoothness(jitter, fps=fps)["ldj"] == pytest.approx(LDJ_MINIMUM_JERK, abs=0.02)
    assert ba.smoothness(jitter, fps=fps, ldj_window_s=7 / fps)["ldj"] < LDJ_MINIMUM_JERK - 1
    # Any window is exact on the (quintic) minimum-jerk movement.
    assert ba.smoothness(position[::20], fps=100, ldj_window_s=0.5)["ldj"] == pytest.approx(LDJ_MINIMUM_JERK,
                                                                                              abs=0.015)


def test_short_series_use_one_polynomial_through_all_samples():
    x = np.array([0.0, 1.0, 3.0, 7.0])  # 4 samples: the cubic through them, jerk = third difference x fps^3
    s = ba.smoothness(x, fps=10)
    assert s["mean_jerk"] == pytest.approx(1000.0)
    assert math.isfinite(s["ldj"])
    for n in (5, 6, 7):
        assert math.isfinite(ba.smoothness(HAND[:n], fps=25)["ldj"])


@pytest.mark.parametrize("fps", [30, 60, 120])
def test_the_original_ldj_of_a_minimum_jerk_movement_is_positive_and_grows_with_fps(fps):
    # The original: -ln(T'^3 sum |diff(v)|^2 / fps / v_peak^2), T' = N / fps (run at commit 9a5e32a).
    original = {30: 5.121505351724563, 60: 6.555199376562109, 120: 7.9658385078594325}
    s = ba.smoothness(_minimum_jerk(fps), fps=fps, convention="original")
    assert s["ldj"] == pytest.approx(original[fps], rel=1e-12)
    assert s["mean_jerk"] == pytest.approx({30: 0.23111111111118493, 60: 0.060857279693411356,
                                            120: 0.015617496468922963}[fps], rel=1e-9)
    if fps > 30:  # about 2 ln 2 more per doubling of the frame rate: not dimensionless
        assert original[fps] - original[fps // 2] == pytest.approx(2 * math.log(2), abs=0.05)


def test_the_original_ldj_of_constant_acceleration():
    # Recorded from the original at commit 9a5e32a (a = 2 U/s^2 for 1 s).
    for fps, value in ((30, 6.704312609898257), (60, 8.139171837565918), (120, 9.550104583969562)):
        t = np.arange(fps + 1) / fps
        assert ba.smoothness(t ** 2, fps=fps, convention="original")["ldj"] == pytest.approx(value, rel=1e-12)


# ----------------------------------------------------------------------------- the hand case, both conventions
def test_hand_trajectory_reproduces_the_original_and_bitbox_rescales_by_fps():
    fps = 25
    orig = ba.kinematics(HAND, fps=fps, convention="original")
    assert orig == pytest.approx(ORIGINAL_HAND_KINEMATICS, rel=1e-12)
    ours = ba.kinematics(HAND, fps=fps)
    for key in ("range", "path_length", "mean_speed"):  # the same definitions
        assert ours[key] == pytest.approx(orig[key], rel=1e-12)
    assert ours["mean_acceleration"] == pytest.approx(orig["mean_acceleration"] * fps, rel=1e-12)

    orig = ba.smoothness(HAND, fps=fps, convention="original")
    assert orig == pytest.approx(ORIGINAL_HAND_SMOOTHNESS, rel=1e-12)
    ours = ba.smoothness(HAND, fps=fps)
    assert ours["mean_jerk"] == pytest.approx(orig["mean_jerk"] * fps ** 2, rel=1e-12)
    assert ours["ldj"] < 0  # dimensionless, and a zig-zag is far from smooth (-8.43)


@pytest.mark.parametrize("convention", ["bitbox", "original"])
def test_relative_motion_reproduces_the_original(convention):
    r = ba.relative_motion(HAND, convention=convention)
    assert {k: r[k] for k in ORIGINAL_HAND_RELATIVE_MEAN} == pytest.approx(ORIGINAL_HAND_RELATIVE_MEAN, rel=1e-12)
    # The original's reference=[2] (a frame index): distances of the other frames to frame 2.
    r = ba.relative_motion(np.delete(HAND, 2, axis=0), reference=HAND[2], convention=convention)
    assert {k: r[k] for k in ORIGINAL_HAND_RELATIVE_FRAME2} == pytest.approx(ORIGINAL_HAND_RELATIVE_FRAME2,
                                                                             rel=1e-12)
    # Hand case: a unit square's corners are all sqrt(2)/2 from its centre.
    square = ba.relative_motion([[0, 0], [1, 0], [1, 1], [0, 1]], convention=convention)
    assert (square["min"], square["max"], square["std"]) == pytest.approx((math.sqrt(0.5), math.sqrt(0.5), 0.0))


# ----------------------------------------------------------------------------- where the original gives no number
def test_the_original_convention_gives_nan_with_a_reason_where_the_original_gives_none():
    gap = HAND.copy()
    gap[3, 1] = np.nan  # the original: every output NaN
    (k, reasons) = _quiet(ba.kinematics, gap, fps=25, convention="original")
    assert all(math.isnan(v) for v in k.values()) and reasons[0].kind == "gaps"
    k = ba.kinematics(gap, fps=25)  # Bitbox skips the gap
    assert math.isfinite(k["path_length"]) and math.isfinite(k["mean_acceleration"])
    (r, reasons) = _quiet(ba.relative_motion, gap, convention="original")
    assert math.isnan(r["mean"]) and reasons[0].kind == "gaps"
    assert math.isfinite(ba.relative_motion(gap)["mean"])

    (k, reasons) = _quiet(ba.kinematics, HAND[:3], fps=25, convention="original")  # the original raises ValueError
    assert all(math.isnan(v) for v in k.values()) and reasons[0].kind == "too_short"
    assert math.isfinite(ba.kinematics(HAND[:3], fps=25)["mean_acceleration"])
    (s, reasons) = _quiet(ba.smoothness, HAND[:3], fps=25, convention="original")
    assert math.isnan(s["mean_jerk"]) and math.isnan(s["ldj"]) and reasons[0].kind == "too_short"

    # Constant velocity: the original returns LDJ = +inf; a still trajectory: NaN (0/0).
    (s, reasons) = _quiet(ba.smoothness, np.arange(10.0) * 3, fps=30, convention="original")
    assert s["mean_jerk"] == 0.0 and math.isnan(s["ldj"]) and "+inf" in reasons[0].reason
    (s, reasons) = _quiet(ba.smoothness, np.ones(10), fps=30, convention="original")
    assert s["mean_jerk"] == 0.0 and math.isnan(s["ldj"]) and "0/0" in reasons[0].reason


def test_original_convention_never_raises_nor_gives_inf_on_random_walks():
    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 4, 5, 50, 300):
        for scale in (1e-3, 1.0, 1e3):
            x = np.cumsum(rng.normal(scale=scale, size=(n, 2)), axis=0)
            with ba.nan_reasons():
                for out in (ba.kinematics(x, fps=30, convention="original"),
                            ba.smoothness(x, fps=30, convention="original")):
                    assert not any(math.isinf(v) for v in out.values())
                    assert all(math.isfinite(v) for v in out.values()) == (n >= 4)


# ----------------------------------------------------------------------------- parameters
@pytest.mark.parametrize("bad", ["Original", "", "bitbox2", None])
def test_an_unknown_convention_is_a_parameter_error(bad):
    for call in (lambda: ba.kinematics(HAND, fps=25, convention=bad),
                 lambda: ba.smoothness(HAND, fps=25, convention=bad),
                 lambda: ba.relative_motion(HAND, convention=bad)):
        with pytest.raises(ParameterError, match="convention must be one of 'bitbox', 'original'"):
            call()


@pytest.mark.parametrize("bad", [0, -0.1, math.nan, math.inf, True, "0.2"])
def test_a_bad_ldj_window_is_a_parameter_error(bad):
    with pytest.raises(ParameterError, match="ldj_window_s must be a positive number"):
        ba.smoothness(HAND, fps=25, ldj_window_s=bad)
