"""Face geometry: the reference face, rigid alignment, head-pose angles and landmark sets.

Head pose is the rotation that best aligns (least squares, with scale; Umeyama 1991) the
rigid part of a frame's 3D face mesh to a reference face (``data/face_template.npz``).
The reference is the mean of mediapipe meshes of two frontal public-domain portraits
(scikit-image's astronaut, matplotlib's Grace Hopper), made exactly left-right symmetric
and scaled to an inter-ocular distance (outer eye corners) of 1. It is rebuilt by
``tools/make_face_template.py``.

Conventions (image coordinates: x right, y down; mediapipe depth z scaled like x):

- ``head_yaw`` > 0: the face turns toward the image's right (the person's left);
- ``head_pitch`` > 0: the face tilts up (chin up);
- ``head_roll`` > 0: the face rotates counter-clockwise in the image;
- angles in degrees, from ``R = Rz(roll) Ry(yaw) Rx(pitch)`` in a camera frame with y up
  and z toward the viewer; zero is the pose of the frontal reference portraits.

Depth assumption: mediapipe's z is a relative depth, flatter than a real face; rotations
out of the image plane (yaw, pitch) are therefore estimated from a flattened face and are
approximately, not exactly, proportional to the true angle. Roll does not depend on depth.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = ["FaceTemplate", "load_template", "umeyama", "euler_angles", "RIGID", "EYE_RIGHT", "EYE_LEFT"]

N_MESH = 468       # face-mesh landmarks without the irises
N_LANDMARKS = 478  # with refine_landmarks=True (irises 468-477)

# Landmarks that move little with expressions: forehead, nose, inner/outer eye corners, cheekbones.
RIGID = np.array([10, 151, 9, 8, 109, 338, 67, 297, 108, 337, 69, 299, 104, 333,
                  168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 327,
                  33, 133, 362, 263, 116, 345, 123, 352, 117, 346])

# Six eye landmarks per eye for the eye aspect ratio (Soukupova & Cech 2016): p1 outer/inner
# corner, p2, p3 upper lid, p4 other corner, p5, p6 lower lid. "Right" is the person's right.
EYE_RIGHT = np.array([33, 160, 158, 133, 153, 144])
EYE_LEFT = np.array([362, 385, 387, 263, 373, 380])
# Iris centres and the lid mid-points used for gaze.
IRIS_RIGHT, IRIS_LEFT = 468, 473
LID_RIGHT = (159, 145)   # upper, lower
LID_LEFT = (386, 374)
# Points for expression descriptors.
BROW_RIGHT = np.array([70, 63, 105, 66, 107])
BROW_LEFT = np.array([300, 293, 334, 296, 336])
INNER_BROW = (107, 336)
INNER_EYE = (133, 362)
OUTER_EYE = (33, 263)
MOUTH_CORNERS = (61, 291)
INNER_LIPS = (13, 14)    # upper, lower inner lip midpoints
OUTER_LIPS = (0, 17)     # upper, lower outer lip midpoints
NOSE_BOTTOM = 2


@dataclass(frozen=True)
class FaceTemplate:
    """The reference face: ``shape`` (478 x 3, IOD = 1, centred on the rigid points) and
    ``mirror`` (index of each landmark's left-right counterpart)."""

    shape: np.ndarray
    mirror: np.ndarray

    @property
    def rigid_shape(self) -> np.ndarray:
        return self.shape[RIGID]


@functools.lru_cache(maxsize=1)
def load_template() -> FaceTemplate:
    """Load the packaged reference face."""
    with resources.files("bitbox.processors").joinpath("data/face_template.npz").open("rb") as handle:
        data = np.load(handle, allow_pickle=False)
        return FaceTemplate(shape=data["shape"].astype(np.float64), mirror=data["mirror"].astype(np.int64))


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, float]:
    """Similarity transform ``dst ~ s * R @ src + t`` minimizing squared error (Umeyama 1991).

    Parameters
    ----------
    src, dst : ndarray, shape (n_points, 3)

    Returns
    -------
    scale : float
    rotation : ndarray, shape (3, 3)
        A proper rotation (det = +1).
    translation : ndarray, shape (3,)
    rms : float
        Root-mean-square residual distance, in ``dst`` units.
    """
    mu_s = src.mean(axis=0)
    mu_d = dst.mean(axis=0)
    a = src - mu_s
    b = dst - mu_d
    cov = b.T @ a / len(src)
    u, sing, vt = np.linalg.svd(cov)
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    rotation = (u * d) @ vt
    var_s = (a ** 2).sum() / len(src)
    scale = float((sing * d).sum() / var_s)
    translation = mu_d - scale * rotation @ mu_s
    fitted = scale * src @ rotation.T + translation
    rms = float(np.sqrt(((dst - fitted) ** 2).sum(axis=1).mean()))
    return scale, rotation, translation, rms


_FLIP = np.diag([1.0, -1.0, -1.0])  # image frame (y down, z away) -> viewer frame (y up, z toward viewer)


def euler_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """Head ``(pitch, yaw, roll)`` in degrees from a template-to-image rotation (see module doc)."""
    r = _FLIP @ rotation @ _FLIP
    # r = Rz(roll) @ Ry(yaw) @ Rx(a); pitch (chin up) = -a.
    yaw = np.arcsin(np.clip(-r[2, 0], -1.0, 1.0))
    roll = np.arctan2(r[1, 0], r[0, 0])
    a = np.arctan2(r[2, 1], r[2, 2])
    return float(np.degrees(-a)), float(np.degrees(yaw)), float(np.degrees(roll))


def rotation_from_euler(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """Inverse of :func:`euler_angles` (degrees in, template-to-image rotation out)."""
    a, b, c = np.radians([-pitch, yaw, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return _FLIP @ (rz @ ry @ rx) @ _FLIP
