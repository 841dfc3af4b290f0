"""Finding faces anywhere in a frame: tiled full-range detection, and square crops around faces.

Why tiles. mediapipe's full-range face detector letterboxes its input into 192 x 192 pixels,
so in a 1280 x 720 frame a face with a 25-px inter-ocular distance (IOD) is under 4 px at
the detector's input and is found on about one frame in eight. The detector therefore runs on
overlapping square tiles of side ``min(H, W)`` (three 720-px tiles for 1280 x 720, 3.75 times
more pixels per face), which finds such faces on every frame, plus on the whole frame when
the frame is at most 640 x 480 (a face cut by a tile border is then still seen whole).
Boxes are mapped back to frame pixels and merged by non-maximum suppression.

Tile positions along the long side ``L`` with tile side ``s = min(H, W)``::

    n = ceil((L - s) / (0.75 s)) + 1,   offsets = linspace(0, L - s, n)   (rounded)

so neighbouring tiles overlap by at least a quarter of a tile.

Crops. The face mesh runs on a square crop around each face (side about 4 IOD), given to the
mesh as it is when its side is within [128, 512] px and resized to 256 x 256 otherwise (the mesh
resamples its input to 192 x 192 anyway), so a small face fills the mesh's input as a close-up would. Parts of the crop
outside the frame are grey (128). Landmarks found in the crop map back to frame pixels by
``x = x0 + x_n * side``, ``y = y0 + y_n * side``, ``z = z_n * side`` (z scales like x).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from bitbox.errors import ParameterError

__all__ = ["Detection", "CropTransform", "detection_views", "detect_faces", "crop_square", "box_iou",
           "nms", "NMS_IOU", "SMALL_FRAME", "GREY"]

#: boxes overlapping more than this (intersection over union) are one face
NMS_IOU = 0.3
#: frames no larger than this (either orientation) are also searched whole
SMALL_FRAME = (640, 480)
#: fill value of crop pixels outside the frame
GREY = 128
#: neighbouring tiles overlap by at least 1 - TILE_STEP of a tile
TILE_STEP = 0.75


@dataclass(frozen=True, eq=False)
class Detection:
    """One face found by the detector, in pixels of the searched image.

    Attributes
    ----------
    box : tuple of float
        ``(x, y, w, h)``: top-left corner, width and height.
    score : float
        The detector's confidence in [0, 1].
    keypoints : ndarray, shape (6, 2)
        mediapipe's six keypoints (x, y): the person's right eye, left eye, nose tip, mouth
        centre, right ear tragion, left ear tragion.
    """

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray = field(repr=False)

    @property
    def centre(self) -> np.ndarray:
        """Centre of the box, ``(x + w / 2, y + h / 2)``."""
        x, y, w, h = self.box
        return np.array([x + w / 2, y + h / 2])

    @property
    def size(self) -> float:
        """The box's larger side, ``max(w, h)`` (about 1.45-1.75 IOD)."""
        return float(max(self.box[2], self.box[3]))


@dataclass(frozen=True)
class CropTransform:
    """Where a square crop came from: frame pixel ``(x0, y0)`` is its top-left corner, and
    ``side`` frame pixels map onto the crop's ``out`` pixels."""

    x0: float
    y0: float
    side: float
    out: int

    @property
    def scale(self) -> float:
        """Frame pixels per crop pixel, ``side / out``."""
        return self.side / self.out

    def to_frame(self, normalized: np.ndarray) -> np.ndarray:
        """Map landmarks normalised to the crop (x, y in [0, 1], z in crop widths) to frame pixels.

        ``x = x0 + x_n side``, ``y = y0 + y_n side``, ``z = z_n side``. Returns a new float64 array.
        """
        points = np.asarray(normalized, dtype=np.float64) * self.side
        points[:, 0] += self.x0
        points[:, 1] += self.y0
        return points


def _check_rgb(rgb: Any) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        shape = getattr(rgb, "shape", None)
        dtype = getattr(rgb, "dtype", type(rgb).__name__)
        raise ParameterError(f"expected an RGB image (height x width x 3, uint8), got shape {shape} and "
                             f"dtype {dtype}; convert the frame with numpy first (e.g. frame.astype(np.uint8))")
    if rgb.shape[0] < 2 or rgb.shape[1] < 2:
        raise ParameterError(f"the image is {rgb.shape[1]} x {rgb.shape[0]} pixels; a face needs a larger image")
    return rgb


def _offsets(length: int, side: int) -> list[int]:
    if length <= side:
        return [0]
    n = math.ceil((length - side) / (TILE_STEP * side)) + 1
    return [int(v) for v in np.linspace(0, length - side, n).round()]


def detection_views(*, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """The regions ``(x, y, w, h)`` the detector searches in a ``width`` x ``height`` frame.

    Square tiles of side ``min(width, height)`` (see the module docstring), preceded by the
    whole frame when the frame is no larger than 640 x 480 in either orientation. A square frame
    is one view.
    """
    if width < 2 or height < 2:
        raise ParameterError(f"a frame of {width} x {height} pixels cannot hold a face")
    side = min(width, height)
    tiles = [(x, y, side, side) for y in _offsets(height, side) for x in _offsets(width, side)]
    small = max(width, height) <= max(SMALL_FRAME) and min(width, height) <= min(SMALL_FRAME)
    if len(tiles) > 1 and small:
        return [(0, 0, width, height)] + tiles
    return tiles


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes (0 when either is empty)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def nms(detections: Sequence[Detection], *, iou: float = NMS_IOU) -> list[Detection]:
    """Non-maximum suppression: highest score first, dropping boxes overlapping a kept one by IoU > ``iou``."""
    kept: list[Detection] = []
    for det in sorted(detections, key=lambda d: -d.score):
        if all(box_iou(det.box, k.box) <= iou for k in kept):
            kept.append(det)
    return kept


def _detect_view(rgb: np.ndarray, view: tuple[int, int, int, int], detector: Any,
                 min_confidence: float) -> list[Detection]:
    x, y, w, h = view
    image = rgb if (w, h) == (rgb.shape[1], rgb.shape[0]) else np.ascontiguousarray(rgb[y:y + h, x:x + w])
    out = []
    for det in detector.process(image).detections or ():
        score = float(det.score[0])
        if score < min_confidence:
            continue
        b = det.location_data.relative_bounding_box
        keypoints = np.array([(x + k.x * w, y + k.y * h) for k in det.location_data.relative_keypoints])
        out.append(Detection(box=(x + b.xmin * w, y + b.ymin * h, b.width * w, b.height * h), score=score,
                             keypoints=keypoints))
    return out


def detect_faces(rgb: np.ndarray, *, min_confidence: float, detector: Any,
                 views: Sequence[tuple[int, int, int, int]] | None = None) -> list[Detection]:
    """Faces in an RGB frame, in frame pixels, highest score first.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), uint8
        The frame.
    min_confidence : float
        Detections scoring below this are dropped (the detector's own threshold applies too).
    detector : mediapipe FaceDetection
        Made by :func:`bitbox.processors.face.mesh.face_detection` (full range); the caller owns
        and closes it.
    views : sequence of (x, y, w, h), optional
        Regions to search; default :func:`detection_views` (all tiles, and the whole frame
        when the frame is small). Passing a subset spreads a full search over several frames.

    Returns
    -------
    list of Detection
        Merged across views by non-maximum suppression (IoU > 0.3: one face, the higher score kept).
    """
    rgb = _check_rgb(rgb)
    if not 0.0 <= float(min_confidence) <= 1.0:
        raise ParameterError(f"min_confidence must be in [0, 1], got {min_confidence}")
    height, width = rgb.shape[:2]
    if views is None:
        views = detection_views(width=width, height=height)
    found: list[Detection] = []
    for view in views:
        found.extend(_detect_view(rgb, view, detector, float(min_confidence)))
    return nms(found)


def crop_square(rgb: np.ndarray, *, centre: Sequence[float], side: float,
                out: int = 256) -> tuple[np.ndarray, CropTransform]:
    """The square ``side`` x ``side`` region of ``rgb`` centred on ``centre``, resized to ``out`` x ``out``
    unless ``side`` is within ``[out / 2, 2 out]`` (then the region itself: the mesh resamples it anyway).

    The region is snapped to whole pixels (``x0 = round(cx - side / 2)``, side rounded), so the
    crop is a plain resize (``cv2.resize``: bilinear, or pixel-area averaging when shrinking by
    more than 2x) of a frame slice, about twice as fast as an affine warp; parts outside the
    frame are grey (128). The returned :class:`CropTransform` maps crop landmarks back to frame
    pixels exactly.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), uint8
    centre : (float, float)
        Crop centre ``(x, y)`` in frame pixels.
    side : float
        Side of the square, frame pixels (at least 4).
    out : int
        Side of the returned crop, pixels.
    """
    import cv2

    rgb = _check_rgb(rgb)
    cx, cy = float(centre[0]), float(centre[1])
    if not (math.isfinite(cx) and math.isfinite(cy) and math.isfinite(float(side))) or side < 4 or out < 8:
        raise ParameterError(f"crop_square needs a finite centre and side >= 4 px, out >= 8 px; got centre "
                             f"{tuple(centre)}, side {side}, out {out}")
    n = int(round(side))
    x0, y0 = int(round(cx - n / 2)), int(round(cy - n / 2))
    height, width = rgb.shape[:2]
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + n, width), min(y0 + n, height)
    if xa >= xb or ya >= yb:
        region = np.full((n, n, 3), GREY, np.uint8)
    else:
        region = rgb[ya:yb, xa:xb]
        if (xb - xa, yb - ya) != (n, n):
            region = cv2.copyMakeBorder(region, ya - y0, y0 + n - yb, xa - x0, x0 + n - xb,
                                        cv2.BORDER_CONSTANT, value=(GREY, GREY, GREY))
    if out // 2 <= n <= 2 * out:  # near the mesh's working size: the pixels as they are (the mesh resamples)
        return np.ascontiguousarray(region), CropTransform(x0=float(x0), y0=float(y0), side=float(n), out=n)
    interpolation = cv2.INTER_AREA if n > 2 * out else cv2.INTER_LINEAR
    crop = cv2.resize(region, (out, out), interpolation=interpolation)
    return crop, CropTransform(x0=float(x0), y0=float(y0), side=float(n), out=int(out))
