"""The face's expression descriptors: one table from which everything else is made.

A descriptor is measured in two steps. First the *raw features* of each frame's pose-free
face (the landmarks aligned to the reference face: head rotation, position and scale
removed, inter-ocular distance 1, image x right, y down) are computed, vectorised over the
frames; then each descriptor is a value relative to the person's own neutral baseline, the
median of each raw feature over the frames with a face. From :data:`TABLE` the processor
generates the baselines, the time-series columns, their catalogue entries and the summary's
mean and SD. Adding a descriptor is one :class:`Descriptor` entry (and, when it
needs a new geometric quantity, one :data:`RAW_FEATURES` entry).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from . import geometry as geo

__all__ = ["Descriptor", "TABLE", "RAW_FEATURES", "NAMES", "raw_features", "descriptor_values", "baselines", "ear"]

IOD = "IOD"


def ear(points: np.ndarray, idx: np.ndarray) -> np.ndarray | float:
    """Eye aspect ratio (Soukupova & Cech 2016): ``(|p2-p6| + |p3-p5|) / (2 |p1-p4|)``.

    ``points``: (..., 478, 3) landmarks of one face or of many frames; NaN where the eye's
    width is 0 or a landmark is NaN.
    """
    p = points[..., idx, :]
    vertical = np.linalg.norm(p[..., 1, :] - p[..., 5, :], axis=-1) + np.linalg.norm(p[..., 2, :] - p[..., 4, :],
                                                                                     axis=-1)
    horizontal = np.linalg.norm(p[..., 0, :] - p[..., 3, :], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(horizontal > 0, vertical / (2.0 * horizontal), np.nan)
    return float(value) if value.ndim == 0 else value


def _y(a: np.ndarray, i) -> np.ndarray:
    return a[..., i, 1]


def _dist(a: np.ndarray, i: int, j: int) -> np.ndarray:
    return np.linalg.norm(a[..., i, :] - a[..., j, :], axis=-1)


def _eye_y(a: np.ndarray) -> np.ndarray:
    return (_y(a, geo.LID_RIGHT[0]) + _y(a, geo.LID_LEFT[0])) / 2


def _lip_centre_y(a: np.ndarray) -> np.ndarray:
    return (_y(a, geo.INNER_LIPS[0]) + _y(a, geo.INNER_LIPS[1])) / 2


#: Raw geometry of pose-free faces (IOD units, y down): ``a`` is (..., 478, 3), one face or many
#: frames; each feature gives one number per face.
RAW_FEATURES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "brow_height": lambda a: _eye_y(a) - (_y(a, geo.BROW_RIGHT).mean(axis=-1) + _y(a, geo.BROW_LEFT).mean(axis=-1)) / 2,
    "inner_brow_height": lambda a: ((_y(a, geo.INNER_EYE[0]) + _y(a, geo.INNER_EYE[1])) / 2
                                    - (_y(a, geo.INNER_BROW[0]) + _y(a, geo.INNER_BROW[1])) / 2),
    "inner_brow_gap": lambda a: np.abs(a[..., geo.INNER_BROW[0], 0] - a[..., geo.INNER_BROW[1], 0]),
    "mouth_gap": lambda a: _dist(a, *geo.INNER_LIPS),
    "mouth_width": lambda a: _dist(a, *geo.MOUTH_CORNERS),
    "corner_raise": lambda a: _lip_centre_y(a) - (_y(a, geo.MOUTH_CORNERS[0]) + _y(a, geo.MOUTH_CORNERS[1])) / 2,
    "lip_thickness": lambda a: _dist(a, geo.OUTER_LIPS[0], geo.INNER_LIPS[0]) + _dist(a, geo.INNER_LIPS[1],
                                                                                     geo.OUTER_LIPS[1]),
    "ear_mean": lambda a: (ear(a, geo.EYE_LEFT) + ear(a, geo.EYE_RIGHT)) / 2,
}


@dataclass(frozen=True)
class Descriptor:
    """One expression descriptor.

    Parameters
    ----------
    name : str
        Column name.
    unit : str
        Unit (``"IOD"``: inter-ocular distances of the reference face; ``"1"``: a ratio).
    text : str
        What it measures, for the catalogue.
    value : callable
        ``value(raw, baseline) -> array``: the per-frame value from the raw features
        (arrays over frames) and the person's baselines (their medians).
    valid_range : tuple | None
        Catalogued range of the values.
    """

    name: str
    unit: str
    text: str
    value: Callable[[Mapping[str, np.ndarray], Mapping[str, float]], np.ndarray]
    valid_range: tuple[float, float] | None = None


TABLE: tuple[Descriptor, ...] = (
    Descriptor("brow_raise", IOD, "Rise of the eyebrows above the eyes (mean of 5 points per brow) relative to the "
               "person's baseline; > 0 raised.",
               lambda r, b: r["brow_height"] - b["brow_height"]),
    Descriptor("brow_lower", IOD, "Lowering and drawing together of the inner brows (mean of the inner-brow drop "
               "and the decrease of the inner-brow gap) relative to baseline; > 0 frown.",
               lambda r, b: ((b["inner_brow_height"] - r["inner_brow_height"])
                             + (b["inner_brow_gap"] - r["inner_brow_gap"])) / 2),
    Descriptor("eye_closure", "1", "1 - EAR / baseline EAR (mean of both eyes); 0 as open as usual, 1 fully "
               "closed.", lambda r, b: 1.0 - r["ear_mean"] / b["ear_mean"], (-math.inf, 1)),
    Descriptor("mouth_open", IOD, "Gap between the inner lips (landmarks 13, 14) relative to baseline; > 0 open.",
               lambda r, b: r["mouth_gap"] - b["mouth_gap"]),
    Descriptor("lip_corner_pull", IOD, "Widening of the mouth plus rise of the lip corners relative to the lip "
               "centre, relative to baseline; > 0 smile-like.",
               lambda r, b: (r["mouth_width"] - b["mouth_width"]) + (r["corner_raise"] - b["corner_raise"])),
    Descriptor("lip_press", IOD, "Thinning of the lips (upper + lower vermilion height) relative to baseline; > 0 "
               "pressed.", lambda r, b: b["lip_thickness"] - r["lip_thickness"]),
)

#: Descriptor names, in table order.
NAMES: tuple[str, ...] = tuple(d.name for d in TABLE)


def raw_features(aligned: np.ndarray) -> dict[str, np.ndarray]:
    """Every raw feature of pose-free faces: ``aligned`` (..., 478, 3) in IOD units gives arrays of
    shape ``aligned.shape[:-2]`` (floats for one face)."""
    out = {}
    for name, func in RAW_FEATURES.items():
        value = np.asarray(func(aligned), dtype=float)
        out[name] = float(value) if value.ndim == 0 else value
    return out


def baselines(raw: Mapping[str, np.ndarray], detected: np.ndarray) -> dict[str, float]:
    """The person's neutral baseline: each raw feature's median over frames with a face."""
    out = {}
    for name in RAW_FEATURES:
        values = np.asarray(raw[name], dtype=float)[detected]
        values = values[np.isfinite(values)]
        out[name] = float(np.median(values)) if values.size else math.nan
    return out


def descriptor_values(raw: Mapping[str, np.ndarray], baseline: Mapping[str, float]) -> dict[str, np.ndarray]:
    """Every descriptor's per-frame values (NaN where the raw features are NaN)."""
    return {d.name: np.asarray(d.value(raw, baseline), dtype=float) for d in TABLE}
