"""Input checks shared by the analysis functions."""
from __future__ import annotations

import numpy as np

from ..errors import ParameterError


def as_signal(x, name: str = "x", ndim: tuple[int, ...] = (1, 2)) -> np.ndarray:
    """A float array of shape (n_samples,) or (n_samples, n_dims), with a clear error otherwise."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim not in ndim:
        raise ParameterError(f"{name} must have {' or '.join(str(d) for d in ndim)} dimension(s) "
                             f"(samples first). Got shape {arr.shape} instead.")
    if arr.shape[0] < 2:
        raise ParameterError(f"{name} needs at least 2 samples. Got {arr.shape[0]}.")
    return arr


def check_fps(fps: float) -> float:
    if not isinstance(fps, (int, float, np.integer, np.floating)) or isinstance(fps, bool) or not fps > 0 \
            or not np.isfinite(fps):
        raise ParameterError(f"fps must be a positive number (samples per second). Got {fps!r} instead.")
    return float(fps)


def fps_from_times(time_s) -> float:
    """Sampling rate from a ``time_s`` column (median step), for series from a Measurements table."""
    t = np.asarray(time_s, dtype=float)
    steps = np.diff(t[np.isfinite(t)])
    if steps.size == 0 or not np.median(steps) > 0:
        raise ParameterError("time_s must hold at least two increasing times to infer the sampling rate.")
    return float(1.0 / np.median(steps))
