"""Bitbox's behavioral analyses: plain keyword-only functions on arrays.

They work on any time series — a face processor's output, a pose processor's, or your own:

>>> import bitbox.analysis as ba
>>> ts = bitbox.process("clip.mp4")["face"].timeseries                      # doctest: +SKIP
>>> fps = ba.fps_from_times(ts["time_s"])                                    # doctest: +SKIP
>>> ba.kinematics(ts[["head_yaw", "head_pitch"]].to_numpy(), fps=fps)        # doctest: +SKIP
>>> ba.expressivity(ts[["mouth_open", "brow_raise"]], fps=fps)               # doctest: +SKIP

Each function follows the original Bitbox toolkit's definition where it is sound and fixes it
where it is wrong (docs/analyses.md: "original vs Bitbox"); ``convention="original"`` reproduces
the original's code exactly, for labs that must match published numbers.

Parameter names are the same everywhere: ``fps`` (samples per second), ``window_s``,
``scales_s``, ``max_lag_s``. Inputs have samples first; NaN marks missing samples.

No function raises on its data: gaps, series shorter than a window or kernel, constant
series and single samples give NaN outputs, each with a reason that is logged as a warning
or, inside ``with ba.nan_reasons() as reasons:``, collected as :class:`NanReason` entries.
Only invalid parameters raise :class:`~bitbox.errors.ParameterError`.
"""
from ._common import NanReason, fps_from_times, nan_reasons, uniform_rows
from .asymmetry import asymmetry, mirror_align
from .events import longest_run, runs
from .coordination import coordination, imitation, lagged_correlation
from .expressivity import (DEFAULT_SCALES_S, ORIGINAL_SCALES_S, PYWAVELETS_PRECISION, diversity, expressivity,
                           min_samples, multiscale_response, original_scales, peak_activations, peak_threshold,
                           ricker_kernel)
from .kinematics import kinematics, relative_motion, smoothness

__all__ = ["NanReason", "nan_reasons", "fps_from_times", "uniform_rows", "runs", "longest_run", "asymmetry", "mirror_align",
           "coordination", "imitation", "lagged_correlation", "DEFAULT_SCALES_S", "ORIGINAL_SCALES_S",
           "PYWAVELETS_PRECISION", "original_scales", "peak_activations", "diversity", "expressivity",
           "min_samples", "multiscale_response", "peak_threshold", "ricker_kernel", "kinematics", "relative_motion",
           "smoothness"]
