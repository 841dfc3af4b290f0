"""Coordination and imitation: lag sign, polarity, defaults, both conventions, the original's values."""
from __future__ import annotations

import math

import numpy as np
import pytest

import bitbox.analysis as ba
from bitbox.errors import ParameterError

FPS = 30.0
N = 240
T = np.arange(N) / FPS


def quasi(t: np.ndarray = T) -> np.ndarray:
    """A deterministic, aperiodic-looking signal (three incommensurate sines): no lag but the true one fits."""
    return (np.sin(2 * np.pi * 0.37 * t) + 0.6 * np.sin(2 * np.pi * 1.13 * t + 0.4)
            + 0.3 * np.sin(2 * np.pi * 2.9 * t))


def delayed(x: np.ndarray, frames: int) -> np.ndarray:
    """``x`` delayed by ``frames`` samples (zeros first): it follows ``x``."""
    return np.r_[np.zeros(frames), x[:-frames]]


X = quasi()


# ---------------------------------------------------------------------------- lag sign
@pytest.mark.parametrize("convention", ["bitbox", "original"])
@pytest.mark.parametrize("frames", [2, 4, -3])
def test_a_delayed_copy_gives_its_lag_with_the_sign_y_follows_x(convention, frames):
    y = delayed(X, frames) if frames > 0 else np.r_[X[-frames:], np.zeros(-frames)]  # frames < 0: y leads
    c = ba.coordination(X, y, fps=FPS, convention=convention)
    assert c["r_mean"] == pytest.approx(1.0, abs=1e-6)
    assert c["lag_s_mean"] == pytest.approx(frames / FPS, abs=1e-6) and c["lag_s_sd"] == pytest.approx(0, abs=1e-6)
    if convention == "bitbox" or abs(frames) <= 3:  # the original's profile (x unshifted) has lags +-3 frames only
        assert c["peak_lag_s"] == pytest.approx(frames / FPS)


def test_bitbox_imitation_measures_y_following_x_as_documented():
    y = delayed(X, 3)  # y imitates x 0.1 s later
    follows = ba.imitation(X, y, fps=FPS)
    assert follows["lags_s"].min() == 0 and follows["lags_s"].max() == pytest.approx(0.1)  # W // 4 = 3 frames
    assert follows["r_mean"] == pytest.approx(1.0) and follows["lag_s_mean"] == pytest.approx(0.1)
    leads = ba.imitation(y, X, fps=FPS)  # x does not follow y
    assert leads["r_mean"] < 0.9
    long = ba.imitation(X, delayed(X, 12), fps=FPS, window_s=1.0, max_lag_s=0.5)
    assert long["lag_s_mean"] == pytest.approx(0.4) and long["peak_lag_s"] == pytest.approx(0.4)


def test_the_original_imitation_reverses_its_docstring():
    # The original's underlying one-sided function with causality=True keeps lags -L..0: x follows y.
    y = delayed(X, 3)
    assert ba.imitation(y, X, fps=FPS, convention="original")["lag_s_mean"] == pytest.approx(-0.1, abs=1e-6)
    assert ba.imitation(y, X, fps=FPS, convention="original")["r_mean"] == pytest.approx(1.0, abs=1e-6)
    o = ba.imitation(X, y, fps=FPS, convention="original")  # the docstring's direction is not searched
    assert o["r_mean"] < 0.5 and o["lags_s"].max() == 0 and o["lags_s"].min() == pytest.approx(-0.1)


# ---------------------------------------------------------------------------- polarity
@pytest.mark.parametrize("convention", ["bitbox", "original"])
def test_a_mirrored_partner_gives_r_minus_one_at_lag_zero(convention):
    for name in ("coordination", "imitation"):
        r = getattr(ba, name)(X, -X, fps=FPS, convention=convention)
        assert r["r_mean"] == pytest.approx(-1.0, abs=1e-6), name
        assert r["lag_s_mean"] == 0 and r["peak_lag_s"] == 0, name
        assert r["r_by_lag"][r["lags_s"] == 0][0] == pytest.approx(-1.0, abs=1e-6)


def test_ties_go_to_the_smallest_lag_in_bitbox_and_to_the_first_in_the_original():
    # A 0.4 s sine against its negation: r = -1 at lag 0 and r = +1 at +-0.2 s (half a period).
    x = np.sin(2 * np.pi * T / 0.4)
    b = ba.imitation(-x, x, fps=FPS, window_s=1.0, max_lag_s=0.3)
    assert b["r_mean"] == pytest.approx(-1.0) and b["lag_s_mean"] == 0
    o = ba.imitation(-x, x, fps=FPS, window_s=1.0, max_lag_s=0.3, convention="original")
    assert o["r_mean"] == pytest.approx(1.0, abs=1e-6) and o["lag_s_mean"] == pytest.approx(-0.2, abs=1e-6)


# ---------------------------------------------------------------------------- sine, closed form, hand case
@pytest.mark.parametrize("convention", ["bitbox", "original"])
def test_a_sine_and_its_delayed_copy(convention):
    f, d = 0.7, 0.1  # y(t) = sin(2 pi f (t - d)): follows x by d = 3 frames
    x, y = np.sin(2 * np.pi * f * T), np.sin(2 * np.pi * f * (T - d))
    c = ba.coordination(x, y, fps=FPS, window_s=1.0, max_lag_s=0.2, convention=convention)
    assert c["r_mean"] == pytest.approx(1.0, abs=1e-6) and c["lag_s_mean"] == pytest.approx(d, abs=1e-6)
    # Over whole periods the correlation at lag l is cos(2 pi f (l - d)) in closed form.
    grid = ba.lagged_correlation(x, y, fps=FPS, window_s=1 / f, max_lag_s=0.2)
    assert grid["r"] == pytest.approx(np.cos(2 * np.pi * f * (grid["lags_s"] - d))[None, :].repeat(
        len(grid["window_start_s"]), 0), abs=0.02)


def test_the_lag_grid_is_the_pearson_r_of_x_with_y_shifted_forward():
    x = np.array([0.0, 1, 3, 2, 5, 4, 4, 7, 6, 9, 8, 8])
    y = np.array([1.0, 0, 2, 1, 3, 6, 5, 5, 8, 7, 9, 12])
    g = ba.lagged_correlation(x, y, fps=10, window_s=0.4, max_lag_s=0.2, step_s=0.3)  # W 4, lags -2..2, step 3
    assert g["lags_s"] == pytest.approx([-0.2, -0.1, 0, 0.1, 0.2]) and g["window_start_s"] == pytest.approx([0.2, 0.5])
    for w, s in enumerate((2, 5)):
        for k, lag in enumerate(range(-2, 3)):
            assert g["r"][w, k] == pytest.approx(np.corrcoef(x[s:s + 4], y[s + lag:s + lag + 4])[0, 1])


def test_defaults_are_the_originals_window_step_and_lag_range():
    g = ba.lagged_correlation(X, X, fps=FPS)  # W = 15: step W // 2 = 7, lags +-2 (W // 4) = +-6 frames
    assert np.diff(g["window_start_s"]) == pytest.approx(7 / FPS) and g["lags_s"] == pytest.approx(
        np.arange(-6, 7) / FPS)
    assert ba.imitation(X, X, fps=FPS)["lags_s"] == pytest.approx(np.arange(0, 4) / FPS)  # W // 4 = 3
    assert ba.coordination(X, X, fps=FPS, convention="original")["lags_s"] == pytest.approx(np.arange(-3, 4) / FPS)
    assert ba.coordination(X, X, fps=25.0)["lags_s"] == pytest.approx(np.arange(-6, 7) / 25)  # round(12.5) = 12


# ---------------------------------------------------------------------------- NaN, parameters
@pytest.mark.parametrize("convention", ["bitbox", "original"])
def test_short_constant_and_empty_inputs_give_nan_with_reasons(convention):
    with ba.nan_reasons() as reasons:
        short = ba.coordination(np.arange(20.0), np.arange(20.0), fps=FPS, convention=convention)
        flat = ba.imitation(np.ones(N), X, fps=FPS, convention=convention)
        empty = ba.coordination(np.full(N, np.nan), X, fps=FPS, convention=convention)
    for out in (short, flat, empty):
        assert all(math.isnan(out[k]) for k in ("r_mean", "r_sd", "lag_s_mean", "lag_s_sd", "peak_lag_s"))
    assert [r.kind for r in reasons] == ["too_short", "no_variation", "no_data"]
    needed = 27 if convention == "bitbox" else 21  # W + 2 * 6 frames, or the original's W + 2 * 3
    assert f"need {needed} samples" in reasons[0].reason


def test_windows_with_a_gap_are_skipped():
    x = X.copy()
    x[100:110] = np.nan
    c = ba.coordination(x, delayed(X, 3), fps=FPS)
    assert c["r_mean"] == pytest.approx(1.0) and c["lag_s_mean"] == pytest.approx(0.1)
    assert np.isfinite(c["r_by_lag"]).all()


def test_bad_parameters_raise():
    with pytest.raises(ParameterError, match="convention must be one of"):
        ba.coordination(X, X, fps=FPS, convention="Bitbox")
    with pytest.raises(ParameterError, match="convention must be one of"):
        ba.imitation(X, X, fps=FPS, convention=None)
    with pytest.raises(ParameterError, match="max_lag_s must be a number of seconds >= 0"):
        ba.coordination(X, X, fps=FPS, max_lag_s=-0.1)
    with pytest.raises(ParameterError, match="fewer than 3 samples"):
        ba.imitation(X, X, fps=FPS, window_s=0.05, convention="original")
    with pytest.raises(ParameterError, match="same length"):
        ba.coordination(X, X[:-1], fps=FPS, convention="original")


# ---------------------------------------------------------------------------- the original's values
# Recorded by running the original Bitbox (compsygroup/bitbox at commit 9a5e32a) on these inputs:
# social.coordination (data dicts shimmed to the 1-D signals) and, because social.imitation raises
# TypeError on every call, windowed_cross_correlation_lagged_one_sided(X, Y, polarity=True, causality=True)
# with social.imitation's statistics. (The recording script, /tmp/orig20_coordination/record.py, is not
# committed.) Values: (corr_mean, corr_std, corr_lag).
def _mixed() -> np.ndarray:
    return delayed(X, 2) + 0.5 * np.cos(2 * np.pi * 0.83 * T)


def _gap_and_flat() -> np.ndarray:
    g = X.copy()
    g[100:110], g[150:170] = np.nan, 1.0
    return g


INPUTS = {
    "delayed_4": lambda: (X, delayed(X, 4)),
    "negated": lambda: (X, -X),
    "mixed": lambda: (X, _mixed()),
    "sine_negated_short_period": lambda: (np.sin(2 * np.pi * T / 0.4), -np.sin(2 * np.pi * T / 0.4)),
    "gap_and_flat": lambda: (_gap_and_flat(), delayed(X, 3)),
}
DEFAULT, LONG = {}, {"window_s": 1.0, "max_lag_s": 0.3, "step_s": 0.25}
ORIGINAL = [  # input, parameters, coordination(x, y), imitation(x, y), imitation(y, x)
    ("delayed_4", DEFAULT, (1.0, 9.064022776783531e-08, 0.13333334028720856),
     (-0.09271702915430069, 0.6502907276153564, -0.05104167014360428),
     (0.9250043034553528, 0.04491565376520157, -0.10000000149011612)),
    ("delayed_4", LONG, (1.0000001192092896, 0.0, 0.13333335518836975),
     (0.08647491782903671, 0.6141329407691956, -0.1119999960064888),
     (1.0, 8.596303757713031e-08, -0.13333335518836975)),
    ("negated", DEFAULT, (-1.0, 1.1920928955078125e-07, 0.0), (-1.0, 7.955043201945955e-08, 0.0),
     (-1.0, 7.955043201945955e-08, 0.0)),
    ("negated", LONG, (-1.0000001192092896, 0.0, 0.0), (-1.0, 9.386548782686077e-08, 0.0),
     (-1.0, 9.386548782686077e-08, 0.0)),
    ("mixed", DEFAULT, (0.7366565465927124, 0.613608717918396, 0.05104167014360428),
     (0.4930609464645386, 0.5861611366271973, -0.01875000074505806),
     (0.9091412425041199, 0.099666066467762, -0.06666667759418488)),
    ("mixed", LONG, (0.9623677730560303, 0.028503363952040672, 0.06800000369548798),
     (0.47979506850242615, 0.6237239241600037, -0.04533333703875542),
     (0.880128800868988, 0.11250413209199905, -0.06400000303983688)),
    ("sine_negated_short_period", DEFAULT, (-1.0, 0.0, 0.0), (-0.9999999403953552, 4.828527977451813e-08, 0.0),
     (-0.9999999403953552, 4.828527977451813e-08, 0.0)),
    ("sine_negated_short_period", LONG, (-0.9999999403953552, 0.0, 0.0),
     (0.9999999403953552, 0.0, -0.20000000298023224), (0.9999999403953552, 0.0, -0.20000000298023224)),
    ("gap_and_flat", DEFAULT, (0.8004287481307983, 0.5590410828590393, 0.0788888931274414),
     (-0.10354741662740707, 0.6808192133903503, -0.054320987313985825),
     (0.8419274687767029, 0.44115543365478516, -0.095238097012043)),
    ("gap_and_flat", LONG, (0.9833164811134338, 0.043344054371118546, 0.1303030401468277),
     (0.2126438170671463, 0.6404555439949036, -0.07333333790302277),
     (0.8626917600631714, 0.3533669114112854, -0.12456139922142029)),
]


def _triple(out: dict) -> tuple[float, float, float]:
    return out["r_mean"], out["r_sd"], out["lag_s_mean"]


@pytest.mark.parametrize("name, params, co, im_xy, im_yx", ORIGINAL,
                         ids=[f"{o[0]}-{'long' if o[1] else 'default'}" for o in ORIGINAL])
def test_convention_original_reproduces_the_original(name, params, co, im_xy, im_yx):
    x, y = INPUTS[name]()
    with ba.nan_reasons():
        got = [_triple(ba.coordination(x, y, fps=FPS, convention="original", **params)),
               _triple(ba.imitation(x, y, fps=FPS, convention="original", **params)),
               _triple(ba.imitation(y, x, fps=FPS, convention="original", **params))]
    for computed, recorded in zip(got, (co, im_xy, im_yx)):
        assert computed == pytest.approx(recorded, rel=1e-6, abs=1e-6)


def test_bitbox_on_the_recorded_inputs():
    """What the fixes change on the same inputs (default parameters)."""
    b = ba.imitation(X, delayed(X, 4), fps=FPS, window_s=1.0, max_lag_s=0.3)  # the original: -0.086 at -0.11 s
    assert b["r_mean"] == pytest.approx(1.0) and b["lag_s_mean"] == pytest.approx(4 / FPS)
    m = ba.coordination(X, _mixed(), fps=FPS, window_s=1.0, max_lag_s=0.3, step_s=0.25)
    # y follows x (by 2 frames, plus a cosine); the original's 0.962 also searches x's window position
    assert 0.8 < m["r_mean"] < 0.9 and 0 < m["lag_s_mean"] < 0.3


# ---------------------------------------------------------------------------- properties of "original"
from hypothesis import given, settings, strategies as st  # noqa: E402

from tests.test_analysis_properties import _assert_nan_explained, _call, _finite_or_nan, series  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(series(max_n=400), series(max_n=400), st.sampled_from(["coordination", "imitation"]))
def test_convention_original_never_raises_and_explains_its_nan(x, y, name):
    n = min(len(x), len(y))
    result, explained = _call(getattr(ba, name), x[:n], y[:n], fps=FPS, convention="original")
    scalars = {k: result[k] for k in ("r_mean", "r_sd", "lag_s_mean", "lag_s_sd", "peak_lag_s")}
    assert _finite_or_nan(list(scalars.values())) and _finite_or_nan(result["r_by_lag"])
    assert result["r_by_lag"].shape == result["lags_s"].shape
    assert math.isnan(scalars["r_mean"]) or abs(scalars["r_mean"]) <= 1 + 1e-5  # float32: -1.0000001 happens
    if n < 21:  # W + 2 (W // 4) = 15 + 6
        assert all(math.isnan(v) for v in scalars.values())
    _assert_nan_explained(scalars, explained)
