"""Rebuild ``processors/data/face_template.npz``, the reference face used for head pose.

Runs mediapipe's face mesh (0.10.21, refined landmarks, single-image mode) on two frontal
public-domain portraits that ship inside packages (scikit-image's astronaut and
matplotlib's Grace Hopper), aligns and averages the two meshes, finds each landmark's
left-right counterpart, and makes the mean face exactly symmetric with its symmetry plane
at x = 0. The result keeps the portraits' own pitch, so "pitch 0" means the pose of a
person facing the camera as in these portraits.

Usage: ``python tools/make_face_template.py [OUT.npz]`` (needs scikit-image).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools.sample_images import face_photos  # noqa: E402
from bitbox.processors.face_geometry import RIGID, OUTER_EYE, umeyama  # noqa: E402


def mesh_of(rgb: np.ndarray) -> np.ndarray:
    import mediapipe as mp

    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                         refine_landmarks=True) as mesh:
        result = mesh.process(rgb)
    if not result.multi_face_landmarks:
        raise RuntimeError("no face found in a reference portrait")
    h, w = rgb.shape[:2]
    return np.array([[p.x * w, p.y * h, p.z * w] for p in result.multi_face_landmarks[0].landmark])


def normalise(shape: np.ndarray) -> np.ndarray:
    shape = shape - shape[RIGID].mean(axis=0)
    return shape / np.linalg.norm(shape[OUTER_EYE[0]] - shape[OUTER_EYE[1]])


def mirror_permutation(shape: np.ndarray) -> np.ndarray:
    """Index of each landmark's mirror image, by optimal matching of the reflected mesh.

    The mesh (0-467) and the irises (468-477) are matched separately.
    """
    reflected = shape * np.array([-1.0, 1.0, 1.0])
    perm = np.arange(len(shape))
    groups = (np.arange(468), np.arange(468, len(shape)))
    # The portraits are frontal: reflecting about the face's own centre is a good start.
    moved = reflected + (shape.mean(axis=0) - reflected.mean(axis=0))
    for _ in range(3):
        for group in groups:
            cost = np.linalg.norm(shape[group][:, None, :] - moved[group][None, :, :], axis=2)
            cost = (cost + cost.T) / 2  # i -> j costs what j -> i costs
            _, cols = linear_sum_assignment(cost)
            perm[group] = group[cols]
        _, rot, trans, _ = umeyama(reflected[perm], shape)
        moved = reflected @ rot.T + trans
    return perm


def build() -> dict[str, np.ndarray]:
    shapes = [normalise(mesh_of(rgb)) for rgb in face_photos().values()]
    reference = shapes[0]
    aligned = []
    for shape in shapes:
        scale, rot, trans, _ = umeyama(shape[RIGID], reference[RIGID])
        aligned.append(scale * shape @ rot.T + trans)
    mean = normalise(np.mean(aligned, axis=0))
    perm = mirror_permutation(mean)
    bad = np.flatnonzero(perm[perm] != np.arange(len(perm)))
    assert bad.size == 0, f"mirror matching is not an involution at {bad}"
    reflected = (mean * np.array([-1.0, 1.0, 1.0]))[perm]
    # Rotate the reflected copy onto the mean; the symmetric face is their average.
    _, rot, trans, _ = umeyama(reflected, mean)
    symmetric = (mean + reflected @ rot.T + trans) / 2
    # Symmetry plane: normal = direction of (point - mirror point); rotate it onto +x minimally.
    diffs = symmetric - symmetric[perm]
    normal = diffs[np.abs(diffs[:, 0]) > 1e-6]
    normal = (normal * np.sign(normal[:, :1])).sum(axis=0)
    normal /= np.linalg.norm(normal)
    axis = np.cross(normal, [1.0, 0.0, 0.0])
    angle = np.arcsin(np.clip(np.linalg.norm(axis), -1, 1))
    if np.linalg.norm(axis) > 1e-12:
        k = axis / np.linalg.norm(axis)
        kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        rot = np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx
        symmetric = symmetric @ rot.T
    symmetric = normalise(symmetric)
    symmetric[:, 0] -= symmetric[:, 0].mean()  # symmetry plane at x = 0
    return {"shape": symmetric.astype(np.float64), "mirror": perm.astype(np.int16)}


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        Path(__file__).resolve().parents[1] / "processors" / "data" / "face_template.npz"
    data = build()
    np.savez_compressed(out, **data)
    asym = np.abs(data["shape"] - data["shape"][data["mirror"]] * np.array([-1, 1, 1])).max()
    print(f"wrote {out}: {len(data['shape'])} landmarks, max asymmetry {asym:.2e}")


if __name__ == "__main__":
    main()
