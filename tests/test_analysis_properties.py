"""Property-based tests of every public analysis function and of the face summary.

Series of 1..2000 samples with random NaN runs, constant series, single samples and all-NaN
series. Properties: never raises; outputs finite or NaN (never inf); shapes and keys as
documented; NaN exactly when the input cannot support a value, and then with a reason.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

import bitbox.analysis as ba
from bitbox.analysis._common import KINDS
from bitbox.catalog import validate_summary
from bitbox.processors import face
from bitbox.processors.face import blendshapes
from bitbox.processors.face import FaceProcessor, face_summary

FPS = 30.0
KINDS_OF_SERIES = ("random", "constant", "all_nan", "single")


@st.composite
def series(draw, max_n: int = 2000, dims: int | None = None, kinds=KINDS_OF_SERIES):
    """A (n,) or (n, dims) float series with random NaN runs; its kind decides its content."""
    kind = draw(st.sampled_from(kinds))
    n = 1 if kind == "single" else min(max_n, draw(st.one_of(  # short, kernel-sized and long series alike
        st.integers(1, 30), st.integers(30, 300), st.integers(300, 2000))))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    shape = (n,) if dims is None else (n, dims)
    if kind == "constant":
        x = np.full(shape, draw(st.floats(-1e3, 1e3)))
    elif kind == "all_nan":
        x = np.full(shape, np.nan)
    else:
        x = np.cumsum(rng.normal(scale=draw(st.sampled_from([1e-3, 1.0, 1e3])), size=shape), axis=0)
    if kind != "all_nan" and draw(st.booleans()):  # NaN runs
        for _ in range(draw(st.integers(1, 6))):
            start, length = int(rng.integers(0, n)), int(rng.integers(1, max(2, n // 5)))
            x[start:start + length] = np.nan
    return x


def _scalars(result: dict) -> dict[str, float]:
    return {k: v for k, v in result.items() if not isinstance(v, np.ndarray)}


def _finite_or_nan(values) -> bool:
    arr = np.asarray(values, dtype=float)
    return not np.isinf(arr).any()


def _has_run(valid: np.ndarray, k: int) -> bool:
    """Whether ``valid`` has k consecutive True values."""
    if len(valid) < k:
        return False
    windows = np.lib.stride_tricks.sliding_window_view(valid, k)
    return bool(windows.all(axis=1).any())


def _call(func, *args, **kwargs):
    """Call an analysis; return its result and the keys it gave reasons for (each reason checked)."""
    with ba.nan_reasons() as reasons:
        result = func(*args, **kwargs)
    explained = set()
    for reason in reasons:
        assert reason.kind in KINDS and reason.reason and "; " not in reason.reason
        assert reason.reason != "the input does not support a value"  # the fallback: a reason is missing
        explained.update(reason.keys)
    return result, explained


def _assert_nan_explained(scalars: dict[str, float], explained: set[str]) -> None:
    nan_keys = {k for k, v in scalars.items() if isinstance(v, float) and math.isnan(v)}
    assert nan_keys <= explained, f"NaN without a reason: {sorted(nan_keys - explained)}"


# ---------------------------------------------------------------------------- kinematics
@given(series(dims=2))
def test_kinematics(x):
    result, explained = _call(ba.kinematics, x, fps=FPS)
    assert set(result) == {"range", "path_length", "mean_speed", "mean_acceleration"}
    assert _finite_or_nan(list(result.values()))
    rows = np.isfinite(x).all(axis=1)
    assert math.isnan(result["range"]) == (not np.isfinite(x).any())
    assert math.isnan(result["path_length"]) == math.isnan(result["mean_speed"]) == (not _has_run(rows, 2))
    assert math.isnan(result["mean_acceleration"]) == (not _has_run(rows, 3))
    assert all(v >= 0 for v in result.values() if not math.isnan(v))
    _assert_nan_explained(result, explained)


@given(series())
def test_smoothness(x):
    result, explained = _call(ba.smoothness, x, fps=FPS)
    assert set(result) == {"mean_jerk", "ldj"} and _finite_or_nan(list(result.values()))
    assert math.isnan(result["mean_jerk"]) == (not _has_run(np.isfinite(x), 4))
    moves = len(x) >= 4 and np.isfinite(x).all() and np.diff(x).any() and np.diff(x, 3).any()
    if moves:  # LDJ is defined: gap-free, >= 4 samples, moving, with curvature
        assert math.isfinite(result["ldj"])
    elif len(x) < 4 or not np.isfinite(x).all() or not np.diff(x).any():
        assert math.isnan(result["ldj"])
    _assert_nan_explained(result, explained)


@given(series(dims=3))
def test_relative_motion(x):
    result, explained = _call(ba.relative_motion, x)
    assert set(result) == {"min", "mean", "std", "max", "series"}
    assert result["series"].shape == (len(x),) and _finite_or_nan(result["series"])
    assert np.array_equal(np.isnan(result["series"]), ~np.isfinite(x).all(axis=1))
    stats = _scalars(result)
    assert all(math.isnan(v) for v in stats.values()) == (not np.isfinite(x).all(axis=1).any())
    _assert_nan_explained(stats, explained)


# ---------------------------------------------------------------------------- expressivity
def _defined(x: np.ndarray, half: int) -> np.ndarray:
    """Independent truth: samples whose kernel window (mirrored at the ends) holds no NaN."""
    if len(x) <= half:
        return np.zeros(len(x), bool)
    padded = np.pad(np.isfinite(x), half, mode="symmetric")
    return np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1).all(axis=1)


SCALES = (0.25, 1.0, 4.0)


@given(series())
def test_multiscale_response(x):
    out, explained = _call(ba.multiscale_response, x, fps=FPS, scales_s=SCALES)
    assert out.shape == (len(SCALES), len(x)) and _finite_or_nan(out)
    for k, scale in enumerate(SCALES):
        defined = _defined(x, ba.min_samples(scale, fps=FPS) - 1)
        assert np.array_equal(np.isfinite(out[k]), defined)
        if not defined.any():
            assert f"{scale:g}s".replace(".", "p") in explained
    if np.isfinite(x).any() and np.nanmax(x) == np.nanmin(x):  # constant: no response
        assert np.all(out[np.isfinite(out)] == 0)


@given(series())
def test_expressivity(x):
    result, explained = _call(ba.expressivity, x, fps=FPS, scales_s=SCALES, names=["x"], min_threshold=0.01)
    stats = ("frequency", "density", "mean", "std", "min", "max")
    assert set(result) == {f"x_{s}s_{stat}" for s in ("0p25", "1", "4") for stat in stats}
    assert _finite_or_nan(list(result.values()))
    for scale, label in zip(SCALES, ("0p25", "1", "4")):
        defined = _defined(x, ba.min_samples(scale, fps=FPS) - 1).any()
        assert math.isfinite(result[f"x_{label}s_frequency"]) == defined
        assert math.isfinite(result[f"x_{label}s_density"]) == defined
        events = defined and result[f"x_{label}s_frequency"] > 0
        assert all(math.isfinite(result[f"x_{label}s_{stat}"]) == events for stat in ("mean", "std", "min", "max"))
    _assert_nan_explained(result, explained)


@given(series())
def test_peak_threshold(x):
    level, explained = _call(ba.peak_threshold, x, min_threshold=0.01)
    assert math.isnan(level) == (not np.isfinite(x).any())
    assert math.isnan(level) or level >= 0.01
    assert not math.isnan(level) or "threshold" in explained


@given(series(dims=3, kinds=("random", "constant", "all_nan", "single")), st.booleans())
def test_diversity(a, rectify):
    a = np.abs(a) if rectify else a
    result, explained = _call(ba.diversity, a)
    assert set(result) == {"overall", "framewise_mean", "framewise"}
    assert result["framewise"].shape == (len(a),)
    active = np.isfinite(a) & (a > 0)
    assert np.array_equal(np.isfinite(result["framewise"]), active.any(axis=1))
    for key in ("overall", "framewise_mean"):
        assert math.isnan(result[key]) == (not active.any())
        assert math.isnan(result[key]) or 0 <= result[key] <= 1
    _assert_nan_explained(_scalars(result), explained)


@given(st.floats(0.1, 10), st.sampled_from([10.0, 29.97, 30.0, 60.0]))
def test_ricker_kernel_and_min_samples(scale, fps):
    kernel = ba.ricker_kernel(scale, fps=fps)
    assert len(kernel) % 2 == 1 and np.isfinite(kernel).all()
    assert abs(kernel.sum()) < 1e-9 and kernel[kernel > 0].sum() == pytest.approx(1.0)
    assert ba.min_samples(scale, fps=fps) == len(kernel) // 2 + 1


# ---------------------------------------------------------------------------- asymmetry
MIRROR = np.array([1, 0, 2, 4, 3])  # two pairs and a midline point


@given(series(max_n=300, dims=10))
def test_asymmetry(flat):
    landmarks = flat.reshape(len(flat), 5, 2)
    result, explained = _call(ba.asymmetry, landmarks, mirror=MIRROR, regions={"pair": [0, 1]})
    assert set(result) == {"overall", "pair"}
    valid = np.isfinite(landmarks).all(axis=(1, 2))
    for values in result.values():
        assert values.shape == (len(landmarks),) and _finite_or_nan(values)
        assert np.array_equal(np.isfinite(values), valid)
        assert np.all(values[valid] >= 0)
    if not valid.any():
        assert explained == {"overall", "pair"}


@given(series(max_n=1, dims=10, kinds=("random", "constant", "all_nan", "single")))
def test_mirror_align(flat):
    points = flat.reshape(5, 2)
    out, explained = _call(ba.mirror_align, points, MIRROR)
    assert out.shape == points.shape and _finite_or_nan(out)
    assert np.isfinite(out).all() == np.isfinite(points).all()
    assert np.isfinite(out).all() or explained == {"points"}


# ---------------------------------------------------------------------------- coordination
@given(series(max_n=600), series(max_n=600), st.sampled_from(["coordination", "imitation"]))
def test_coordination_and_imitation(x, y, name):
    n = min(len(x), len(y))
    x, y = x[:n], y[:n]
    result, explained = _call(getattr(ba, name), x, y, fps=FPS, window_s=0.5, max_lag_s=0.5)
    scalars = ("r_mean", "r_sd", "lag_s_mean", "lag_s_sd", "peak_lag_s")
    assert set(result) == {*scalars, "lags_s", "r_by_lag"}
    assert result["r_by_lag"].shape == result["lags_s"].shape
    assert _finite_or_nan([result[k] for k in scalars]) and _finite_or_nan(result["r_by_lag"])
    needed = 15 + 15 + (15 if name == "coordination" else 0)  # window + positive and negative lags
    if n < needed:
        assert all(math.isnan(result[k]) for k in scalars)
    r = result["r_mean"]
    assert math.isnan(r) or -1 <= r <= 1
    assert all(math.isnan(result[k]) for k in scalars) == math.isnan(r)
    _assert_nan_explained({k: result[k] for k in scalars}, explained)


@given(series(max_n=400), series(max_n=400))
def test_lagged_correlation(x, y):
    n = min(len(x), len(y))
    result, explained = _call(ba.lagged_correlation, x[:n], y[:n], fps=FPS, window_s=0.5, max_lag_s=0.2)
    r = result["r"]
    assert r.shape == (len(result["window_start_s"]), len(result["lags_s"]))
    assert _finite_or_nan(r) and np.all(np.abs(r[np.isfinite(r)]) <= 1)
    assert np.isfinite(r).any() or explained == {"r"}


# ---------------------------------------------------------------------------- events and times
@given(series(max_n=500))
def test_runs_and_longest_run(x):
    mask = np.where(np.isnan(x), np.nan, (np.nan_to_num(x) > 0).astype(float))
    starts, stops = ba.runs(mask)
    rebuilt = np.zeros(len(x), bool)
    for a, b in zip(starts, stops):
        rebuilt[a:b] = True
    assert np.array_equal(rebuilt, np.nan_to_num(mask) > 0)  # NaN counts as False
    longest = ba.longest_run(mask)
    assert longest.stop - longest.start == (max(stops - starts) if starts.size else 0)


@given(series(kinds=("random", "single")), st.sampled_from([10.0, 25.0, 29.97]))
def test_fps_from_times(noise, fps):
    t = np.arange(len(noise)) / fps
    t[np.isnan(noise)] = np.nan
    rate, explained = _call(ba.fps_from_times, t)
    if np.isfinite(t).sum() >= 2:
        assert rate == pytest.approx(1 / np.median(np.diff(t[np.isfinite(t)])))  # median step of the finite times
    else:
        assert math.isnan(rate) and explained == {"fps"}


# ---------------------------------------------------------------------------- face summary
def _face_series(detected: np.ndarray, rng: np.random.Generator, fps: float) -> pd.DataFrame:
    """A face time series: plausible values on frames with a face, NaN elsewhere."""
    n = len(detected)

    def walk(scale, offset=0.0):
        values = offset + np.cumsum(rng.normal(scale=scale, size=n))
        return np.where(detected, values, np.nan)

    columns = {
        "time_s": np.arange(n) / fps, "face_detected": detected.astype(np.int8),
        "n_faces": detected.astype(float), "quality": np.where(detected, rng.uniform(0.5, 1, n), 0.0),
        **{f"head_{a}": walk(0.5) for a in ("pitch", "yaw", "roll")},
        **{f"head_{a}_rel": walk(0.5) for a in ("pitch", "yaw", "roll")},
        "head_x": walk(0.5, 80), "head_y": walk(0.5, 70), "head_size_px": np.where(detected, 40.0, np.nan),
        "ear_left": np.where(detected, 0.3, np.nan), "ear_right": np.where(detected, 0.3, np.nan),
        "blink": (rng.uniform(size=n) < 0.02).astype(np.int8) * detected,
        "gaze_x": walk(0.001), "gaze_y": walk(0.001), "gaze_yaw_deg": walk(0.5), "gaze_pitch_deg": walk(0.5),
        **{name: walk(0.002) for name in face.DESCRIPTORS},
        **{c: np.clip(np.abs(walk(0.05)), 0, 1) for c in blendshapes.COLUMNS},
        **{f"disp_{r}": np.abs(walk(0.005)) for r in face.REGIONS},
        **{f"asym_{r}": np.abs(walk(0.001)) for r in face.ASYM_REGIONS},
    }
    return pd.DataFrame(columns)


def _explained_in_notes(name: str, notes: str) -> bool:
    if name in notes or notes == face.NO_FACE_NOTE:
        return True
    if name.startswith("expr_"):
        region = next(r for r in face.REGIONS if name.startswith(f"expr_{r}_"))
        return name.replace(f"expr_{region}_", "expr_*_") in notes
    return False


@settings(max_examples=25)
@given(series(kinds=("random", "constant", "all_nan", "single")), st.integers(0, 2 ** 32 - 1),
       st.sampled_from([30.0, 10.0, 2.0]))
def test_face_summary(gaps, seed, fps):
    detected = np.isfinite(gaps)
    ts = _face_series(detected, np.random.default_rng(seed), fps)
    summary = face_summary(ts, fps=fps, duration_s=len(ts) / fps)
    measures = [m for m in FaceProcessor.measures if m.kind == "summary"]
    assert set(summary) == {m.name for m in measures}  # every summary measure
    validate_summary("face", measures, summary)  # types and valid ranges (never inf)
    notes = summary["notes"]
    assert isinstance(notes, str)
    for name, value in summary.items():
        if isinstance(value, float) and math.isnan(value):
            assert _explained_in_notes(name, notes), f"{name} is NaN without a note: {notes!r}"
    assert summary["face_detected_fraction"] == pytest.approx(detected.mean())
    if detected.all() and len(ts) >= ba.min_samples(4.0, fps=fps) and fps >= 1:
        assert all(math.isfinite(summary[f"expr_{r}_{s}s_frequency"]) for r in face.REGIONS
                   for s in ("0p25", "1", "4") if float(s.replace("p", ".")) * fps >= 1)
    if detected.all() and len(ts) >= 3:
        assert math.isfinite(summary["head_angle_mean_acceleration_deg_per_s2"])


def test_face_summary_of_unevenly_spaced_frames_is_computed_on_a_uniform_grid():
    """A head turning at a known 30 deg/s, filmed at 30 fps with frames 60-119 kept at 10 fps (a variable
    frame rate): speeds and a blink's duration come out as filmed, with the missing frames as gaps."""
    fps, n = 30.0, 180
    keep = np.array([i for i in range(n) if not 60 <= i < 120 or i % 3 == 0])
    ts = _face_series(np.ones(n, bool), np.random.default_rng(0), fps)
    for name in ("head_yaw", "head_yaw_rel"):
        ts[name] = 30.0 * ts["time_s"]  # deg, 30 deg/s
    for name in ("head_pitch", "head_roll", "head_pitch_rel", "head_roll_rel"):
        ts[name] = 0.0
    ts["blink"] = 0
    ts.loc[20:22, "blink"] = 1  # a 3-frame blink: 0.1 s
    uneven = ts.iloc[keep].reset_index(drop=True)
    summary = face_summary(uneven, fps=fps, duration_s=n / fps)
    assert summary["n_frames"] == len(keep) and summary["face_detected_fraction"] == 1.0
    assert summary["head_angle_mean_speed_deg_per_s"] == pytest.approx(30.0, rel=1e-6)
    assert summary["blink_count"] == 1 and summary["blink_duration_mean_s"] == pytest.approx(0.1)
    assert "uniform 30 fps grid, with the 40 grid times that have no frame left as gaps" in summary["notes"]
    # Taken as evenly spaced, the kept frames would give a wrong speed (the 10-fps part moves 3x per step).
    naive = face_summary(uneven.assign(time_s=np.arange(len(keep)) / fps), fps=fps)
    assert naive["head_angle_mean_speed_deg_per_s"] > 35.0  # about (120 * 30 + 20 * 90) / 140
