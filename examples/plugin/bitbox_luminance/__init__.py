"""A worked third-party Bitbox processor: lighting and scene-change measures of a video.

Install it (``pip install examples/plugin``) and it appears in ``bitbox list``, in the
catalog and in ``bitbox run -p luminance`` without touching Bitbox itself.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from bitbox import Measure, Processor
from bitbox.params import Interval

__all__ = ["LuminanceProcessor"]

_REF = "ITU-R BT.601 luma"


class LuminanceProcessor(Processor):
    """Per-frame brightness, contrast and change between frames (a lighting QC).

    Parameters
    ----------
    frame_step : int
        Analyse every ``frame_step``-th frame.
    dark_threshold : float
        Frames with mean luma below this (0-1) count as dark.
    chunk_frames : int
        Rows per streamed chunk.
    """

    name = "luminance"
    version = "1.0.0"
    input_kinds = ("video",)
    plot_measures = ("luminance", "contrast", "frame_change")
    measures = (
        Measure("luminance", "1", "Mean luma of the frame, 0 black to 1 white.", valid_range=(0, 1), reference=_REF),
        Measure("contrast", "1", "Standard deviation of luma within the frame.", valid_range=(0, 1), reference=_REF),
        Measure("frame_change", "1", "Mean absolute luma change from the previous analysed frame (NaN first).",
                valid_range=(0, 1)),
        Measure("luminance_mean", "1", "Mean of luminance.", "summary", (0, 1)),
        Measure("luminance_sd", "1", "Standard deviation of luminance over time.", "summary", (0, 1)),
        Measure("contrast_mean", "1", "Mean of contrast.", "summary", (0, 1)),
        Measure("frame_change_mean", "1", "Mean of frame_change.", "summary", (0, 1)),
        Measure("dark_fraction", "1", "Fraction of frames darker than dark_threshold.", "summary", (0, 1)),
    )
    _parameter_constraints = {
        "frame_step": [Interval(int, 1, None)],
        "dark_threshold": [Interval(float, 0, 1)],
        "chunk_frames": [Interval(int, 1, None)],
    }

    def __init__(self, *, frame_step: int = 1, dark_threshold: float = 0.15, chunk_frames: int = 500) -> None:
        self.frame_step = frame_step
        self.dark_threshold = dark_threshold
        self.chunk_frames = chunk_frames

    def compute(self, recording, sink, progress=None):
        rows: list[tuple[float, float, float, float]] = []
        totals = np.zeros(4)  # sum luminance, sum luminance^2, sum contrast, dark frames
        change_sum, change_n, n = 0.0, 0, 0
        previous = None
        weights = np.array([0.299, 0.587, 0.114], dtype=np.float32) / 255.0
        for frame in recording.iter_frames(step=self.frame_step):
            luma = frame.rgb.astype(np.float32) @ weights
            mean, std = float(luma.mean()), float(luma.std())
            change = float(np.abs(luma - previous).mean()) if previous is not None else float("nan")
            previous = luma
            rows.append((frame.time_s, mean, std, change))
            totals += (mean, mean * mean, std, mean < self.dark_threshold)
            if change == change:
                change_sum, change_n = change_sum + change, change_n + 1
            n += 1
            if len(rows) == self.chunk_frames:
                sink.append(pd.DataFrame(rows, columns=["time_s", "luminance", "contrast", "frame_change"]))
                rows = []
        if rows or n == 0:
            sink.append(pd.DataFrame(rows, columns=["time_s", "luminance", "contrast", "frame_change"]))
        mean = totals[0] / n
        return {"luminance_mean": mean,
                "luminance_sd": float(np.sqrt(max(totals[1] / n - mean * mean, 0.0))),
                "contrast_mean": totals[2] / n,
                "frame_change_mean": change_sum / change_n if change_n else float("nan"),
                "dark_fraction": totals[3] / n}
