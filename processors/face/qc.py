"""Per-frame quality of the face measures: a score in [0, 1] and the reason it is reduced."""
from __future__ import annotations

from typing import Mapping

import numpy as np

__all__ = ["QC_REASONS", "QC_ADVICE", "QC_NOTE_FRACTION", "MIN_IOD_PX", "quality"]

#: ``qc_reason`` values; the first reason that applies wins, in the order of :func:`quality`.
QC_REASONS = ("ok", "no_face", "face_partly_outside_frame", "face_too_small", "extreme_pose", "poor_mesh_fit")
#: A ``notes`` entry when at least this fraction of the frames with a face has one frame problem.
QC_NOTE_FRACTION = 0.1
#: Inter-ocular distance (px, outer eye corners) below which landmarks are coarse: ``face_too_small``.
MIN_IOD_PX = 30.0
QC_ADVICE = {
    "face_partly_outside_frame": "part of the face lies outside the frame (or outside the analysed region with crop "
                                 "or roi), so its landmarks, pose and expressions there are less reliable - frame the "
                                 "face fully, or with crop=left/right or roi keep each person inside their region",
    "face_too_small": "the face is under 30 px between the eyes, so landmarks are coarse - move the camera closer "
                      "or record at a higher resolution",
    "extreme_pose": "the head is turned beyond 60 deg yaw or 45 deg pitch, where pose and expressions are "
                    "unreliable - prefer frontal views",
    "poor_mesh_fit": "the landmark mesh fits the face poorly (occlusion by hands or a mask, or not a face) - check "
                     "those frames; weight frames by quality",
}


def quality(s: Mapping[str, np.ndarray], detected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame quality and reason from pass 1's per-frame scalars.

    ``quality = inside x size x fit`` where ``inside`` is the fraction of landmarks in the
    analysed region, ``size = min(IOD / 30 px, 1)`` and
    ``fit = clip(1 - (rms - 0.04) / 0.08, 0, 1)`` with ``rms`` the rigid alignment's residual
    in IOD (<= 0.04 good, >= 0.12 poor); 0 without a face.
    """
    size = np.clip(s["scale"] / MIN_IOD_PX, 0, 1)
    fit = np.clip(1.0 - (s["rms"] - 0.04) / 0.08, 0, 1)
    score = np.where(detected, s["inframe"] * size * fit, 0.0)
    reasons = np.full(len(detected), "ok", dtype=object)
    extreme = (np.abs(s["yaw"]) > 60) | (np.abs(s["pitch"]) > 45)
    for mask, reason in ((fit < 0.5, "poor_mesh_fit"), (extreme, "extreme_pose"),
                         (s["scale"] < MIN_IOD_PX, "face_too_small"), (s["inframe"] < 1, "face_partly_outside_frame")):
        reasons[detected & mask] = reason
    reasons[~detected] = "no_face"
    return np.nan_to_num(score), reasons
