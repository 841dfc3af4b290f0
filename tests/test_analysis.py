"""Bitbox's analyses against closed-form truth."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import bitbox.analysis as ba
from bitbox import ParameterError
from bitbox.processors import face_geometry as geo

FPS = 30.0


def test_constant_velocity_path_has_known_length_speed_and_no_acceleration():
    t = np.arange(0, 10, 1 / FPS)
    path = np.c_[3 * t, 4 * t]  # 5 units/s along a straight line
    k = ba.kinematics(path, fps=FPS)
    assert k["mean_speed"] == pytest.approx(5.0)
    assert k["path_length"] == pytest.approx(5.0 * t[-1])
    assert k["mean_acceleration"] == pytest.approx(0.0, abs=1e-9)
    assert k["range"] == pytest.approx(5 * t[-1])  # the bounding box's diagonal (extents 3 t and 4 t)


def test_kinematics_skips_gaps():
    x = np.arange(10.0)
    x[5] = np.nan
    k = ba.kinematics(x, fps=1.0)
    assert k["path_length"] == pytest.approx(7.0)  # 9 steps minus the 2 touching the gap
    assert k["mean_speed"] == pytest.approx(1.0)


@pytest.mark.parametrize("fps", [30, 2000])
def test_minimum_jerk_movement_has_the_closed_form_ldj(fps):
    tau = np.linspace(0, 1, fps + 1)
    position = 10 * (10 * tau ** 3 - 15 * tau ** 4 + 6 * tau ** 5)  # minimum-jerk, 10 units in 1 s
    s = ba.smoothness(position, fps=fps)
    assert s["ldj"] == pytest.approx(-math.log(204.8), abs=0.02)
    tremor = position + 0.05 * np.sin(2 * np.pi * 4 * tau)  # a 4 Hz tremor of 0.5 % of the amplitude
    assert ba.smoothness(tremor, fps=fps)["ldj"] < s["ldj"] - 1


def test_relative_motion_from_the_mean_and_a_reference():
    x = np.array([[0.0, 0.0], [2.0, 0.0]])
    r = ba.relative_motion(x)
    assert (r["min"], r["mean"], r["max"]) == (1.0, 1.0, 1.0)
    r = ba.relative_motion(x, reference=[0.0, 0.0])
    assert r["series"].tolist() == [0.0, 2.0] and r["mean"] == 1.0 and r["std"] == 1.0


def test_sinusoid_peak_frequency_is_found_at_every_scale():
    t = np.arange(0, 60, 1 / FPS)
    x = np.sin(2 * np.pi * 0.5 * t)  # 0.5 Hz: 30 peaks per minute
    e = ba.expressivity(x, fps=FPS, scales_s=(0.1, 1.0), names=["x"])
    assert e["x_1s_frequency"] == 30 and e["x_0p1s_frequency"] == 30  # every positive maximum counts
    assert e["x_0p1s_mean"] == 1.0  # activations: the raw signal at the peak frames
    assert e["x_1s_density"] == pytest.approx(e["x_1s_frequency"] * e["x_1s_mean"] / 1800)  # per frame
    doubled = ba.expressivity(2 * x, fps=FPS, scales_s=(1.0,), names=["x"])  # activations are in signal units
    assert doubled["x_1s_mean"] == pytest.approx(2 * e["x_1s_mean"])
    assert doubled["x_1s_frequency"] == e["x_1s_frequency"]
    thresholded = ba.expressivity(x, fps=FPS, scales_s=(0.1,), names=["x"], threshold=ba.peak_threshold(x))
    assert thresholded["x_0p1s_frequency"] == 0  # far too slow for the 0.1 s scale's response to pass it


def test_expressivity_counts_isolated_events_and_their_height():
    x = np.zeros(int(60 * FPS))
    for start in range(60, len(x) - 60, 180):  # 10 bumps of height 2 lasting 0.5 s, every 6 s
        x[start:start + 15] = 2.0
    e = ba.expressivity(pd.DataFrame({"brow": x}), fps=FPS, scales_s=(1.0,), threshold=0.5)
    assert e["brow_1s_frequency"] == 10
    assert e["brow_1s_mean"] == 2.0


def test_diversity_is_one_for_equal_and_zero_for_a_single_signal():
    equal = np.ones((50, 4))
    d = ba.diversity(equal)
    assert d["overall"] == pytest.approx(1.0) and d["framewise_mean"] == pytest.approx(1.0)
    single = np.zeros((50, 4))
    single[:, 2] = 3.0
    d = ba.diversity(single)
    assert d["overall"] == pytest.approx(0.0) and d["framewise_mean"] == pytest.approx(0.0)
    alternating = np.zeros((50, 2))
    alternating[::2, 0] = 1
    alternating[1::2, 1] = 1
    d = ba.diversity(alternating)  # each frame uses one signal, the recording uses both equally
    assert d["overall"] == pytest.approx(1.0) and d["framewise_mean"] == pytest.approx(0.0)


def test_mirrored_face_has_zero_asymmetry_and_a_moved_corner_does_not():
    template = geo.load_template()
    face = template.shape.copy()
    rotation = geo.rotation_from_euler(10, 25, -15)
    posed = 80 * face @ rotation.T + [300, 200, 0]  # any pose and size: still symmetric
    regions = {"mouth": [61, 291, 13, 14, 0, 17], "eye": [33, 133, 362, 263]}
    a = ba.asymmetry(posed, mirror=template.mirror, regions=regions, scale=80)
    assert a["overall"][0] == pytest.approx(0, abs=1e-9) and a["mouth"][0] == pytest.approx(0, abs=1e-9)
    crooked = face.copy()
    crooked[291, 1] -= 0.1  # lift the left lip corner by 0.1 IOD
    # One plane for the face, fitted on the rigid points (plane="face"): two corners of six points differ by 0.1.
    a = ba.asymmetry(crooked, mirror=template.mirror, regions=regions, align_on=geo.RIGID, plane="face")
    assert a["mouth"][0] == pytest.approx(2 * 0.1 / 6, rel=1e-6)
    assert a["eye"][0] == pytest.approx(0, abs=1e-9)
    # Each feature about its own plane (the default, the original's): this mouth has one pair (the corners),
    # whose plane follows the lifted corner, so it scores 0; the eyes stay at 0 too.
    a = ba.asymmetry(crooked, mirror=template.mirror, regions=regions)
    assert a["mouth"][0] == pytest.approx(0, abs=1e-12) and a["eye"][0] == pytest.approx(0, abs=1e-12)


def test_shifted_copy_is_coordinated_at_the_true_lag():
    rng = np.random.default_rng(1)
    y = np.convolve(rng.normal(size=900), np.ones(5) / 5, mode="same")
    lag = 6  # x follows y by 6 frames = 0.2 s: lag -0.2 s (lag > 0 means the second signal follows the first)
    x = np.r_[np.zeros(lag), y[:-lag]]
    c = ba.coordination(x, y, fps=FPS, window_s=1.0, max_lag_s=0.5)
    assert c["peak_lag_s"] == pytest.approx(-0.2)
    assert c["r_by_lag"][np.argmin(np.abs(c["lags_s"] + 0.2))] == pytest.approx(1.0)
    assert c["r_mean"] == pytest.approx(1.0) and c["lag_s_mean"] == pytest.approx(-0.2)
    i = ba.imitation(y, x, fps=FPS, window_s=1.0, max_lag_s=0.5)  # x imitates y
    assert i["peak_lag_s"] == pytest.approx(0.2) and i["lags_s"].min() == 0
    reverse = ba.imitation(x, y, fps=FPS, window_s=1.0, max_lag_s=0.5)  # y does not follow x
    assert reverse["r_mean"] < 0.9


def test_bad_arguments_are_clear():
    with pytest.raises(ParameterError, match="fps must be a positive number"):
        ba.kinematics(np.zeros(5), fps=0)
    with pytest.raises(ParameterError, match="same length"):
        ba.coordination(np.zeros(50), np.zeros(40), fps=FPS)
    with pytest.raises(ParameterError, match="shorter than one sample"):
        ba.ricker_kernel(0.01, fps=FPS)
    assert ba.fps_from_times([0.0, 0.5, 1.0]) == 2.0


def test_runs_and_longest_run():
    starts, stops = ba.runs([0, 1, 1, 0, 1, 1, 1, 0])
    assert starts.tolist() == [1, 4] and stops.tolist() == [3, 7]
    assert ba.longest_run([0, 1, 1, 0, 1, 1, 1, 0]) == slice(4, 7)
    assert ba.longest_run([0, 0]) == slice(0, 0)


def test_a_clip_shorter_than_the_kernels_with_a_gap_gives_nan_with_the_reason():
    # The reported crash: 100 frames at 29.97 fps (3.3 s) with a face lost on 4 frames.
    x = np.sin(np.arange(100) / 5.0)
    x[50:54] = np.nan
    with ba.nan_reasons() as reasons:
        e = ba.expressivity(x, fps=29.97, scales_s=(0.25, 2.0, 4.0), names=["x"])
    assert math.isfinite(e["x_0p25s_frequency"]) and e["x_0p25s_frequency"] > 0
    assert all(math.isnan(e[f"x_{s}s_{stat}"]) for s in ("2", "4")
               for stat in ("frequency", "density", "mean", "std", "min", "max"))
    by_kind = {r.kind: r for r in reasons}
    assert by_kind["too_short"].reason == ("the 4 s scale needs at least 121 samples (4.04 s at 29.97 fps) and the "
                                           "series has 100")
    assert by_kind["gaps"].reason == ("the gaps (NaN) leave no stretch long enough for the 2 s scale (a window of "
                                      "121 samples without NaN, or 61 at either end)")
    assert set(by_kind["too_short"].keys) == {f"x_4s_{s}" for s in ("frequency", "density", "mean", "std", "min",
                                                                    "max")}
    assert ba.min_samples(4.0, fps=29.97) == 121 and ba.min_samples(2.0, fps=29.97) == 61


def test_rates_count_only_the_time_where_the_response_is_defined():
    t = np.arange(0, 60, 1 / FPS)
    x = np.sin(2 * np.pi * 0.5 * t)
    gappy = x.copy()
    gappy[len(x) // 2] = np.nan  # the 1 s kernel (121 samples) cannot cross it
    full = ba.expressivity(x, fps=FPS, scales_s=(1.0,), names=["x"])["x_1s_frequency"]
    assert ba.expressivity(gappy, fps=FPS, scales_s=(1.0,), names=["x"])["x_1s_frequency"] == pytest.approx(full,
                                                                                                          abs=1)


def test_degenerate_inputs_give_nan_with_a_reason_instead_of_raising(caplog):
    with ba.nan_reasons() as reasons:
        assert math.isnan(ba.kinematics([3.0], fps=FPS)["mean_speed"])
        assert ba.kinematics([3.0], fps=FPS)["range"] == 0.0
        assert math.isnan(ba.smoothness(np.full(50, 2.0), fps=FPS)["ldj"])
        assert math.isnan(ba.coordination(np.zeros(10), np.zeros(10), fps=FPS)["r_mean"])
        assert math.isnan(ba.coordination(np.ones(100), np.arange(100.0), fps=FPS)["r_mean"])
        assert math.isnan(ba.diversity(np.zeros((1, 3)))["overall"])
        assert math.isnan(ba.fps_from_times([1.0]))
    assert [r.reason for r in reasons] == [
        "speed needs 2 consecutive samples (the series has 1)",
        "acceleration needs 3 consecutive samples (the series has 1)",
        "speed needs 2 consecutive samples (the series has 1)",
        "acceleration needs 3 consecutive samples (the series has 1)",
        "the trajectory does not move (peak speed 0)",
        "the signals (10 samples, 0.33 s) are shorter than one window with its lags (window_s=0.5 and max_lag_s=0.2 "
        "need 27 samples, 0.90 s)",
        "x or y is constant in every window: there is no correlation to measure",
        "no activation (every value is 0, negative or NaN)",
        "time_s holds fewer than two increasing finite times: the sampling rate is unknown"]
    assert not caplog.records  # collected, not logged as warnings
    with caplog.at_level("WARNING", logger="bitbox"):
        ba.smoothness(np.full(5, 1.0), fps=FPS)
    assert "bitbox.analysis.smoothness: ldj NaN: the trajectory does not move (peak speed 0)" in caplog.text
    assert ba.runs([np.nan, 1, 1, np.nan, 1])[0].tolist() == [1, 4]  # NaN is not True
