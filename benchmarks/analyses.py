"""Bitbox's analyses against the original toolkit's definitions: accuracy and cost.

Prints, on this machine:

- the LDJ of a 1 s minimum-jerk movement at 30, 60, 120 and 240 fps, Bitbox's default and
  ``convention="original"``, against the closed form -ln(204.8) (Balasubramanian et al. 2015);
  target: the default within 0.1 of it at every rate (the original grows by 2 ln 2 per doubling);
- the events per minute of a 60 s, 0.5 Hz sine at the expressivity scales, both conventions
  (truth: 30/min);
- the time of each analysis on one hour of 30 fps signals (108,000 samples; 3 signals, or a
  478-point mesh for asymmetry on 600 frames) in the default convention, and its ratio to
  ``convention="original"`` in the same run. Target: the default within 3x the original's time.

Usage: ``python benchmarks/analyses.py``.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _minimum_jerk(fps: float, duration_s: float = 1.0) -> np.ndarray:
    t = np.arange(0.0, duration_s + 0.5 / fps, 1.0 / fps) / duration_s
    return (10 * t**3 - 15 * t**4 + 6 * t**5)[:, None]


def ldj_accuracy() -> None:
    import bitbox.analysis as ba

    truth = -math.log(204.8)
    print(f"LDJ of a 1 s minimum-jerk movement (closed form {truth:.4f}):")
    for fps in (30, 60, 120, 240):
        x = _minimum_jerk(fps)
        ours = ba.smoothness(x, fps=fps)["ldj"]
        original = ba.smoothness(x, fps=fps, convention="original")["ldj"]
        print(f"  {fps:4d} fps: Bitbox {ours:8.4f} (error {ours - truth:+.4f}, target |error| < 0.1)   "
              f"original {original:8.4f}")


def sine_events() -> None:
    import bitbox.analysis as ba

    fps = 30.0
    x = np.sin(2 * np.pi * 0.5 * np.arange(0, 60, 1 / fps))
    scales = (0.25, 0.5, 1.0, 2.0)
    for convention in ("bitbox", "original"):
        e = ba.expressivity(x, fps=fps, scales_s=scales, convention=convention)
        counts = [e[f"s0_{_label(s)}s_frequency"] for s in scales]
        print(f"0.5 Hz sine, 60 s, events at {', '.join(f'{s:g}' for s in scales)} s ({convention}): "
              + ", ".join(f"{c:g}" for c in counts) + ("  (per minute)" if convention == "bitbox" else "  (counts)"))


def _label(scale: float) -> str:
    from bitbox.analysis.expressivity import scale_label

    return scale_label(scale)


def _time(fn, repeat: int = 3) -> float:
    best = math.inf
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def costs() -> None:
    import bitbox.analysis as ba
    from bitbox.processors.face_geometry import load_template

    rng = np.random.default_rng(0)
    n = 108_000
    x = np.cumsum(rng.normal(size=(n, 3)), axis=0)
    y = np.roll(x[:, 0], 5) + rng.normal(size=n)
    template = load_template()
    mesh = template.shape[:468][None] + rng.normal(scale=0.01, size=(600, 468, 3))
    mirror = template.mirror[:468]
    signals = np.abs(rng.normal(size=(n, 3)))
    cases = {
        "kinematics": lambda c: ba.kinematics(x, fps=30, convention=c),
        "smoothness": lambda c: ba.smoothness(x, fps=30, convention=c),
        "expressivity (4 scales)": lambda c: ba.expressivity(signals, fps=30, scales_s=(0.25, 0.5, 1, 2),
                                                             convention=c),
        "coordination": lambda c: ba.coordination(x[:, 0], y, fps=30, convention=c),
        "asymmetry (600 frames)": lambda c: ba.asymmetry(mesh, mirror=mirror, convention=c),
    }
    print("One hour at 30 fps (asymmetry: 600 frames of the 468-point mesh):")
    for name, fn in cases.items():
        with ba.nan_reasons():
            ours = _time(lambda: fn("bitbox"))
            original = _time(lambda: fn("original"))
        print(f"  {name:26s} Bitbox {ours:7.3f} s   original convention {original:7.3f} s   "
              f"ratio {ours / original:5.2f} (target <= 3)")


def main() -> None:
    ldj_accuracy()
    sine_events()
    costs()


if __name__ == "__main__":
    main()
