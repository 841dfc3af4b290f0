"""Expressivity and diversity against closed forms, hand cases and the original's recorded values.

The ``ORIGINAL_*`` numbers come from running the original Bitbox (compsygroup/bitbox at commit
9a5e32a: ``expressions.expressivity`` / ``expressions.diversity`` with PyWavelets 1.9.0) on
the inputs built here, with a scratch script that is not committed.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import entropy

import bitbox.analysis as ba
from bitbox import ParameterError
from bitbox.analysis.expressivity import ORIGINAL_SCALES_S, original_scales, peak_activations, ricker_kernel

FPS = 30.0
STATS = ("frequency", "density", "mean", "std", "min", "max")


def _sine() -> np.ndarray:
    t = np.arange(0, 60, 1 / FPS)
    return np.sin(2 * np.pi * 0.5 * t)  # 60 s, 0.5 Hz, amplitude 1: 30 maxima, at frames 15 + 60 k


def _blobs(heights, spacing: int = 60, width: float = 3.0) -> np.ndarray:
    """Gaussian bumps of the given heights, centred on frames 60, 120, ... (0 between them)."""
    k = np.arange(spacing * (len(heights) + 1))
    return sum(h * np.exp(-(k - spacing * (i + 1)) ** 2 / (2 * width ** 2)) for i, h in enumerate(heights))


def _mix() -> np.ndarray:
    t = np.arange(0, 20, 1 / FPS)
    return np.c_[np.sin(2 * np.pi * 0.7 * t) + 0.4 * np.sin(2 * np.pi * 2.3 * t + 1),
                 np.sin(2 * np.pi * 0.3 * t) ** 2 + 0.2 * np.cos(2 * np.pi * 1.1 * t),
                 0.5 + 0.3 * np.sin(2 * np.pi * 0.45 * t + 2) * np.sin(2 * np.pi * 0.05 * t)]


def _row(result: dict, key: str) -> list[float]:
    return [result[f"{key}_{stat}"] for stat in STATS]


# Recorded from the original (see the module docstring): frequency, density, mean, std, min, max.
_SINE_ORIG = [30.0, 0.016575364922804574, 0.9945218953682744, 7.792679584060017e-16, 0.9945218953682732,
              0.9945218953682761]
ORIGINAL_SINE = {"0p25": _SINE_ORIG, "0p5": _SINE_ORIG, "2": _SINE_ORIG,
                 "1": [29.0, 0.016022852758711088, 0.9945218953682743, 7.713922098636097e-16, 0.9945218953682732,
                       0.9945218953682761]}
ORIGINAL_SINE_GRID6 = {"0p1": [30.0, 0.016666666666666666, 1.0, 0.0, 1.0, 1.0],
                       "0p88": [29.0, 0.01611111111111111, 1.0, 0.0, 1.0, 1.0],
                       "1p66": [29.0, 0.01611111111111111, 1.0, 0.0, 1.0, 1.0],
                       "2p44": [28.0, 0.015555555555555555, 1.0, 0.0, 1.0, 1.0],
                       "3p22": [27.0, 0.015, 1.0, 0.0, 1.0, 1.0],
                       "4": [25.0, 0.013888888888888888, 1.0, 0.0, 1.0, 1.0]}
ORIGINAL_BLOBS_0P5 = {  # heights -> the 0.5 s row; the original reads each bump one frame late (x 0.9460)
    (1, 1.1, 1.2, 1.3, 5): [5.0, 0.025225585837513744, 1.8162421803009896, 1.4598456483221447, 0.9459594689067654,
                            4.729797344533827],
    (1, 1.1, 1.2, 1.3, 1.4, 5): [5.0, 0.013513706698668077, 1.1351513626881184, 0.13377887103831973,
                                 0.9459594689067654, 1.3243432564694715],
    (0.2, 1, 1.1, 1.2, 1.3, 1.4): [5.0, 0.013513706698668077, 1.1351513626881184, 0.13377887103831973,
                                   0.9459594689067654, 1.3243432564694715],
    (1, 1, 1, 1, 1, 5): [5.0, 0.011261422248890063, 0.9459594689067654, 0.0, 0.9459594689067654,
                         0.9459594689067654],
}
ORIGINAL_MIX = {
    "s0_0p25s": [46.0, 0.03074487873202613, 0.4010201573742539, 0.707782812377845, -0.6328459505435023,
                 1.3791002780953565],
    "s0_1s": [14.0, 0.024095929013776003, 1.0326826720189717, 0.2974891748648994, 0.6150922327858799,
              1.3791002780953565],
    "s0_2s": [14.0, 0.022172879594995382, 0.9502662683569449, 0.30378818429979415, 0.5258495379838611,
              1.3791002780953565],
    "s1_0p25s": [21.0, 0.02726331356443241, 0.7789518161266403, 0.33678227771552005, 0.1986584299173925,
                 1.1875212501636525],
    "s1_1s": [12.0, 0.021374100285616513, 1.0687050142808256, 0.10655469283223615, 0.9258773538701444,
              1.1875212501636525],
    "s1_2s": [12.0, 0.02026504133338659, 1.0132520666693294, 0.14039983612235282, 0.8267949192431105,
              1.1875212501636532],
    "s2_0p25s": [10.0, 0.011176957523592171, 0.6706174514155302, 0.103739912792385, 0.5062027740292863,
                 0.7915045218797858],
    "s2_1s": [10.0, 0.011199973121445229, 0.6719983872867138, 0.10363057873735773, 0.5062027740292863,
              0.7915045218797858],
    "s2_2s": [10.0, 0.011230788532348388, 0.6738473119409033, 0.10314379919685049, 0.5051217606875466,
              0.7915045218797858],
}
#: The same original run with PyWavelets < 1.9 (cwt's wavelet on 2**10 points, recorded by patching
#: pywt.cwt(precision=10) into PyWavelets 1.9.0): the sine at 0.25, 0.5, 1, 2 s and the 0.5 s boxes at 1 and 2 s.
ORIGINAL_P10_SINE_COUNTS = [30.0, 29.0, 29.0, 30.0]
ORIGINAL_P10_BOXES = {"1": [0.0] * 6, "2": [2.0, 0.0022222222222222222, 2.0, 0.0, 2.0, 2.0]}
#: The original's diversity(mix, scales=[0.25, 1, 2]): scale -> (overall, frame_wise).
ORIGINAL_MIX_DIVERSITY = {0.25: (0.849396165654708, 0.00010932967263491966), 1.0: (0.9574123124961558, 0.0),
                          2.0: (0.9651041971988292, 0.0)}


def _approx(values):
    return pytest.approx(values, rel=1e-12, abs=1e-15)


# ---------------------------------------------------------------------------- the clean sine
def test_sine_counts_30_per_minute_at_every_scale_with_activation_1():
    e = ba.expressivity(_sine(), fps=FPS, scales_s=(0.1, 0.25, 0.5, 1.0, 2.0, 4.0), names=["x"])
    for label in ("0p1", "0p25", "0p5", "1", "2", "4"):
        assert e[f"x_{label}s_frequency"] == 30.0  # 30 events in 1 minute (not 29: no fence on identical peaks)
        assert e[f"x_{label}s_max"] == 1.0
    for label in ("0p1", "0p25", "0p5", "2"):  # every event read at the sine's maxima: exactly 1
        assert _row(e, f"x_{label}s") == [30.0, 30 / 1800, 1.0, 0.0, 1.0, 1.0]
    # At 1 s the zero-padded start moves the first maximum one frame: sin(pi/2 + pi/30) = cos(pi/30).
    assert e["x_1s_mean"] == pytest.approx((29 + math.cos(math.pi / 30)) / 30, rel=1e-12)
    assert e["x_1s_min"] == pytest.approx(math.cos(math.pi / 30), rel=1e-12)


def test_sine_original_convention_gives_the_original_values():
    e = ba.expressivity(_sine(), fps=FPS, scales_s=[0.25, 0.5, 1, 2], names=["x"], convention="original")
    for label, row in ORIGINAL_SINE.items():
        assert _row(e, f"x_{label}s") == _approx(row)
    # 29 at 1 s: the fence (IQR ~1e-16) drops the first, real, event; every event read one frame late.
    assert e["x_1s_frequency"] == 29 and e["x_0p25s_mean"] == pytest.approx(math.cos(math.pi / 30), rel=1e-12)


def test_the_original_scale_grid_is_an_option():
    assert ORIGINAL_SCALES_S == pytest.approx(original_scales(6))
    orig = ba.expressivity(_sine(), fps=FPS, scales_s=6, names=["x"], convention="original")
    for label, row in ORIGINAL_SINE_GRID6.items():
        assert _row(orig, f"x_{label}s") == _approx(row)
    ours = ba.expressivity(_sine(), fps=FPS, scales_s=6, names=["x"])
    assert all(ours[f"x_{label}s_frequency"] == 30.0 for label in ORIGINAL_SINE_GRID6)


def test_frequency_is_per_minute_and_density_per_frame():
    x = np.tile(_sine(), 2)  # 2 minutes: the original's count doubles, the rate does not
    e = ba.expressivity(x, fps=FPS, scales_s=(0.5,), names=["x"])
    assert e["x_0p5s_frequency"] == 30.0 and e["x_0p5s_density"] == pytest.approx(60 / 3600)
    o = ba.expressivity(x, fps=FPS, scales_s=[0.5], names=["x"], convention="original")
    assert o["x_0p5s_frequency"] == 60.0 and o["x_0p5s_density"] == pytest.approx(60 * math.cos(math.pi / 30) / 3600)


def test_older_pywavelets_releases_are_an_option_of_the_original_convention():
    e = ba.expressivity(_sine(), fps=FPS, scales_s=[0.25, 0.5, 1, 2], names=["x"], convention="original",
                        pywavelets_precision=10)
    assert [e[f"x_{s}s_frequency"] for s in ("0p25", "0p5", "1", "2")] == ORIGINAL_P10_SINE_COUNTS
    x = np.zeros(int(60 * FPS))
    for start in range(60, len(x) - 60, 180):
        x[start:start + 15] = 2.0
    e = ba.expressivity(x, fps=FPS, scales_s=[1, 2], names=["b"], convention="original", pywavelets_precision=10)
    for label, row in ORIGINAL_P10_BOXES.items():  # flat-topped responses: the original's strict maxima miss them
        assert _row(e, f"b_{label}s") == _approx(row)
    with pytest.raises(ParameterError, match="convention='original' only"):
        ba.expressivity(x, fps=FPS, pywavelets_precision=10)


# ---------------------------------------------------------------------------- events and their activations
def test_events_are_the_raw_values_at_the_peaks_of_single_bumps_and_box_edges():
    x = np.zeros(int(60 * FPS))
    for start in range(60, len(x) - 60, 180):  # 10 boxes of height 2 lasting 0.5 s, every 6 s
        x[start:start + 15] = 2.0
    for convention in ("bitbox", "original"):  # the original gives the same: 20, 20, 10, 10 events of 2.0
        e = ba.expressivity(x, fps=FPS, scales_s=[0.25, 0.5, 1, 2], names=["b"], convention=convention)
        assert [e[f"b_{s}s_frequency"] for s in ("0p25", "0p5", "1", "2")] == [20, 20, 10, 10]  # 60 s: rate = count
        assert all(e[f"b_{s}s_mean"] == 2.0 and e[f"b_{s}s_std"] == 0.0 for s in ("0p25", "0p5", "1", "2"))
    # A 0.5 s box is longer than the 0.5 s scale's positive lobe (d / 2): its onset and offset are two events.


def test_no_events_give_zero_rates_and_nan_activations_with_a_reason():
    x = np.full(300, 4.0)
    with ba.nan_reasons() as reasons:
        e = ba.expressivity(x, fps=FPS, scales_s=(0.5,), names=["c"])
    assert e["c_0p5s_frequency"] == 0.0 and e["c_0p5s_density"] == 0.0
    assert all(math.isnan(e[f"c_0p5s_{s}"]) for s in ("mean", "std", "min", "max"))
    assert reasons[0].kind == "no_events"
    o = ba.expressivity(x, fps=FPS, scales_s=[0.5], names=["c"], convention="original")
    assert _row(o, "c_0p5s") == [0.0] * 6


def test_a_threshold_is_an_option_not_the_default():
    x = _sine()
    e = ba.expressivity(x, fps=FPS, scales_s=(0.1, 1.0), names=["x"], threshold=ba.peak_threshold(x))
    assert e["x_0p1s_frequency"] == 0 and e["x_1s_frequency"] == 30  # the 0.1 s response of a 2 s period is tiny
    with pytest.raises(ParameterError, match="no threshold"):
        ba.expressivity(x, fps=FPS, scales_s=(1.0,), threshold=0.1, convention="original")


# ---------------------------------------------------------------------------- the outlier fence
@pytest.mark.parametrize("heights, kept", [
    ((1, 1.1, 1.2, 1.3, 5), (1, 1.1, 1.2, 1.3, 5)),      # 5 events: no fence
    ((1, 1.1, 1.2, 1.3, 1.4, 5), (1, 1.1, 1.2, 1.3, 1.4)),  # 6: Q1 1.125, Q3 1.375, upper fence 1.75
    ((0.2, 1, 1.1, 1.2, 1.3, 1.4), (1, 1.1, 1.2, 1.3, 1.4)),  # 6: Q1 1.025, lower fence 0.65 (both sides)
    ((1, 1, 1, 1, 1, 5), (1, 1, 1, 1, 1, 5)),            # IQR 0: no spread to judge by, no fence (Bitbox's fix)
])
def test_outliers_beyond_1p5_iqr_are_dropped_from_6_events_on(heights, kept):
    e = ba.expressivity(_blobs(heights), fps=FPS, scales_s=(0.5,), names=["b"])
    minutes = len(_blobs(heights)) / FPS / 60
    assert e["b_0p5s_frequency"] == pytest.approx(len(kept) / minutes)
    assert e["b_0p5s_mean"] == pytest.approx(np.mean(kept), rel=1e-12)  # read at the bumps' centres
    assert e["b_0p5s_min"] == pytest.approx(min(kept)) and e["b_0p5s_max"] == pytest.approx(max(kept))
    o = ba.expressivity(_blobs(heights), fps=FPS, scales_s=[0.5], names=["b"], convention="original")
    assert _row(o, "b_0p5s") == _approx(ORIGINAL_BLOBS_0P5[heights])  # the original drops the 5 at IQR 0


# ---------------------------------------------------------------------------- baseline and edges
def test_response_is_the_mean_removed_signal_convolved_with_zero_padding():
    x = np.zeros(300)
    x[100:110] = 1.0
    x[200:] = 0.3  # median 0, mean 0.1333: a baseline that matters at the zero-padded end
    kernel = ricker_kernel(1.0, fps=FPS)
    r = ba.multiscale_response(x, fps=FPS, scales_s=(1.0,))[0]
    assert r == pytest.approx(np.convolve(x - x.mean(), kernel, mode="same"), abs=1e-12)
    assert not np.allclose(r, np.convolve(x - np.median(x), kernel, mode="same"))
    assert len(kernel) == 2 * 30 + 1 and np.argmax(kernel) == 30  # sigma = d / 4 = 7.5 frames, +-4 sigma
    assert kernel[30 + 8] < 0 < kernel[30 + 7]  # zero crossings at +-sigma


def test_an_expression_cut_by_the_start_counts_once_with_zero_padding():
    x = np.zeros(300)
    x[:10] = 1.0  # an expression already under way when the recording starts
    for convention in ("bitbox", "original"):
        e = ba.expressivity(x, fps=FPS, scales_s=[0.5, 1], names=["e"], convention=convention)
        for label in ("0p5", "1"):  # 1 event (6 per minute over 10 s), read at 1.0; mirrored ends see none at 1 s
            assert e[f"e_{label}s_mean"] == 1.0
            assert e[f"e_{label}s_frequency"] == (6.0 if convention == "bitbox" else 1.0)


def test_short_series_and_gaps():
    with ba.nan_reasons() as reasons:
        e = ba.expressivity(np.sin(np.arange(40) / 3.0), fps=FPS, scales_s=(0.5, 2.0), names=["x"])
    assert math.isfinite(e["x_0p5s_frequency"]) and math.isnan(e["x_2s_frequency"])
    assert reasons[0].reason == "the 2 s scale needs at least 61 samples (2.03 s at 30 fps) and the series has 40"
    assert ba.min_samples(2.0, fps=FPS) == 61 and ba.min_samples(2.0, fps=FPS, convention="original") == 61
    assert ba.min_samples(0.25, fps=29.97) == 9 and ba.min_samples(0.25, fps=29.97, convention="original") == 8
    with ba.nan_reasons() as reasons:  # the original raises (ValueError) for a series not longer than a scale
        o = ba.expressivity(np.sin(np.arange(60) / 3.0), fps=FPS, scales_s=[0.5, 2], names=["x"],
                            convention="original")
    assert all(math.isnan(v) for v in o.values()) and "refuses" in reasons[0].reason
    gappy = _sine()
    gappy[900] = np.nan  # bitbox skips the gap; the original's NaN mean reports 0 everywhere
    assert ba.expressivity(gappy, fps=FPS, scales_s=(0.5,), names=["x"])["x_0p5s_frequency"] == pytest.approx(30, abs=1)
    o = ba.expressivity(gappy, fps=FPS, scales_s=[0.5], names=["x"], convention="original")
    assert _row(o, "x_0p5s") == [0.0] * 6


def test_mixed_signals_give_the_original_values():
    o = ba.expressivity(_mix(), fps=FPS, scales_s=[0.25, 1, 2], convention="original")
    for key, row in ORIGINAL_MIX.items():
        assert _row(o, key) == _approx(row)
    e = ba.expressivity(_mix(), fps=FPS, scales_s=[0.25, 1, 2])
    minutes = len(_mix()) / FPS / 60  # same events here except those the original shifts or fences
    assert e["s2_1s_frequency"] * minutes == ORIGINAL_MIX["s2_1s"][0]


# ---------------------------------------------------------------------------- diversity
def test_diversity_closed_forms_on_hand_activations():
    a = np.array([[1.0, 1.0, 1.0],   # H = 1
                  [1.0, 1.0, 0.0],   # H = log3 2
                  [2.0, 1.0, 1.0],   # p = (1/2, 1/4, 1/4): H = 1.5 ln 2 / ln 3
                  [0.0, 0.0, 0.0],   # no activation: H counted as 0 in the mean
                  [0.0, 3.0, 0.0]])  # H = 0
    h = [1.0, math.log(2, 3), 1.5 * math.log(2) / math.log(3), 0.0, 0.0]
    total = a.sum(axis=0)  # (4, 6, 2)
    for convention in ("bitbox", "original"):
        d = ba.diversity(a, convention=convention)
        assert d["overall"] == pytest.approx(entropy(total, base=3), rel=1e-12)
        assert d["framewise_mean"] == pytest.approx(sum(h) / 5, rel=1e-12)  # over all 5 frames
    assert ba.diversity(a)["framewise"] == pytest.approx([*h[:3], np.nan, 0.0], nan_ok=True)
    assert ba.diversity(a, convention="original")["framewise"] == pytest.approx(h)


def test_diversity_conventions_differ_on_signs_nan_and_silence():
    signed = np.array([[-1.0, 1.0], [1.0, 1.0]])
    assert ba.diversity(signed)["framewise_mean"] == pytest.approx(0.5)  # negative is no activation
    assert ba.diversity(signed, convention="original")["framewise_mean"] == pytest.approx(1.0)  # |a|
    lost = np.array([[1.0, 1.0], [np.nan, np.nan]])  # a frame without any defined signal is unknown, not empty
    assert ba.diversity(lost)["framewise_mean"] == 1.0
    silent = np.zeros((10, 2))
    with ba.nan_reasons():
        assert math.isnan(ba.diversity(silent)["overall"]) and math.isnan(ba.diversity(silent)["framewise_mean"])
    assert ba.diversity(silent, convention="original")["overall"] == 0.0
    with pytest.raises(ParameterError, match="at least 2"):
        ba.diversity(np.ones((5, 1)), convention="original")


def test_diversity_of_peak_frames_gives_the_original_values():
    mix = _mix()
    for scale, (overall, framewise) in ORIGINAL_MIX_DIVERSITY.items():
        a = peak_activations(mix, fps=FPS, scale_s=scale, convention="original")
        d = ba.diversity(a, convention="original")
        assert (d["overall"], d["framewise_mean"]) == _approx((overall, framewise))
        ours = ba.diversity(peak_activations(mix, fps=FPS, scale_s=scale))
        assert 0 <= ours["framewise_mean"] <= 1 and 0 < ours["overall"] <= 1
    a = peak_activations(mix, fps=FPS, scale_s=1.0)  # single frames: the raw values at the events, 0 elsewhere
    e = ba.expressivity(mix, fps=FPS, scales_s=(1.0,))
    assert (a[:, 2] != 0).sum() / (len(mix) / FPS / 60) == pytest.approx(e["s2_1s_frequency"])
    assert a[:, 2][a[:, 2] != 0].mean() == pytest.approx(e["s2_1s_mean"])


# ---------------------------------------------------------------------------- parameters
def test_invalid_parameters_raise():
    x = _sine()
    with pytest.raises(ParameterError, match="convention"):
        ba.expressivity(x, fps=FPS, convention="matlab")
    with pytest.raises(ParameterError, match="convention"):
        ba.diversity(np.ones((3, 2)), convention="")
    with pytest.raises(ParameterError, match="shorter than one sample"):
        ricker_kernel(0.02, fps=FPS)
    with pytest.raises(ParameterError, match="positive integer"):
        ba.expressivity(x, fps=FPS, scales_s=0)
    with pytest.raises(ParameterError, match="positive numbers"):
        ba.expressivity(x, fps=FPS, scales_s=(1.0, -2.0))
