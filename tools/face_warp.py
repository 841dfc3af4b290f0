"""Faces with known pose, eye closure and gaze: a real photo's face mesh moved and warped.

The face mesh of a real, frontal portrait (mediapipe, single-image mode) is triangulated
(Delaunay on the image positions). A new image is made by moving the mesh points -- rotating
the 3D mesh by known angles (re-posing), lowering the upper eyelids onto the lower ones
(blinks) or shifting the irises inside the eyes (gaze) -- and warping the photo triangle by
triangle, the triangles farthest from the camera first so that nearer ones cover them.
Where the face was, the photo is first in-painted so that no ghost of the original face
shows beside a turned one.

Depth assumption: the mesh's z is mediapipe's relative depth (flatter than a real face), so a
re-posed image shows the face turned by approximately, not exactly, the set angle.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bitbox.processors import face_geometry as geo

# Eye contours (person's right / left): upper lid from outer to inner corner, lower lid likewise.
UPPER_LID = {"right": [33, 246, 161, 160, 159, 158, 157, 173, 133],
             "left": [263, 466, 388, 387, 386, 385, 384, 398, 362]}
LOWER_LID = {"right": [33, 7, 163, 144, 145, 153, 154, 155, 133],
             "left": [263, 249, 390, 373, 374, 380, 381, 382, 362]}
IRIS = {"right": list(range(468, 473)), "left": list(range(473, 478))}


def face_mesh(rgb: np.ndarray) -> np.ndarray:
    """The 478 landmarks (x, y in pixels, z = mediapipe z x width) of the face in ``rgb``."""
    import mediapipe as mp

    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as mesh:
        result = mesh.process(rgb)
    if not result.multi_face_landmarks:
        raise RuntimeError("no face found in the photo")
    h, w = rgb.shape[:2]
    return np.array([[p.x * w, p.y * h, p.z * w] for p in result.multi_face_landmarks[0].landmark])


def upright_portrait(photo: np.ndarray, **kwargs) -> np.ndarray:
    """``synth.warp_photo`` of ``photo`` rotated so that its outer eye corners are level.

    Re-posing starts from an upright face, so that a yaw set about the camera's vertical
    axis is a yaw of the face (a tilted face would turn partly into pitch).
    """
    from tools import synth

    points = face_mesh(photo)
    dx, dy = points[263, :2] - points[33, :2]
    tilt = float(np.degrees(np.arctan2(dy, dx)))  # > 0: the line falls to the right (clockwise)
    return synth.warp_photo(photo, roll_deg=tilt, **kwargs)


@dataclass
class FaceWarper:
    """Warp a portrait's face to new landmark positions (see the module docstring)."""

    photo: np.ndarray
    points: np.ndarray            # (478, 3) source landmarks
    triangles: np.ndarray         # (n, 3) indices into points
    background: np.ndarray        # the photo with the face region in-painted

    @classmethod
    def from_photo(cls, photo: np.ndarray, with_irises: bool = False) -> "FaceWarper":
        import cv2
        from scipy.spatial import Delaunay

        points = face_mesh(photo)
        used = np.arange(geo.N_LANDMARKS if with_irises else geo.N_MESH)
        triangles = used[Delaunay(points[used, :2]).simplices]
        hull = cv2.convexHull(points[:geo.N_MESH, :2].astype(np.float32)).astype(np.int32)
        mask = np.zeros(photo.shape[:2], np.uint8)
        cv2.fillConvexPoly(mask, hull, 255)
        mask = cv2.dilate(mask, np.ones((9, 9), np.uint8))
        background = cv2.inpaint(photo, mask, 7, cv2.INPAINT_TELEA)
        return cls(photo=photo, points=points, triangles=triangles, background=background)

    def render(self, target: np.ndarray) -> np.ndarray:
        """The photo with its face mesh moved to ``target`` (478 x 3; z orders the triangles)."""
        import cv2

        out = self.background.copy()
        height, width = out.shape[:2]
        depth = target[self.triangles, 2].mean(axis=1)
        for tri in self.triangles[np.argsort(-depth)]:  # farthest first
            src = self.points[tri, :2].astype(np.float32)
            dst = target[tri, :2].astype(np.float32)
            area_src = np.cross(src[1] - src[0], src[2] - src[0])
            area_dst = np.cross(dst[1] - dst[0], dst[2] - dst[0])
            if area_dst * area_src <= 0:  # turned away from the camera (or collapsed): not visible
                continue
            x, y, w, h = cv2.boundingRect(dst)
            x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
            if x1 <= x0 or y1 <= y0:
                continue
            matrix = cv2.getAffineTransform(src, dst - np.float32([x0, y0]))
            patch = cv2.warpAffine(self.photo, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REFLECT)
            mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
            cv2.fillConvexPoly(mask, np.round((dst - [x0, y0]) * 16).astype(np.int32), 1, cv2.LINE_AA, shift=4)
            region = out[y0:y1, x0:x1]
            region[mask > 0] = patch[mask > 0]
        return out

    # ------------------------------------------------------------------ targets
    def reposed(self, *, pitch: float = 0.0, yaw: float = 0.0, roll: float = 0.0) -> np.ndarray:
        """Landmarks rotated in 3D about the face's centre by known angles (bitbox conventions)."""
        rotation = geo.rotation_from_euler(pitch, yaw, roll)
        centre = self.points[:geo.N_MESH].mean(axis=0)
        return (self.points - centre) @ rotation.T + centre

    def eyes_closed(self, closure: float) -> np.ndarray:
        """Landmarks with the upper eyelids moved ``closure`` (0 open .. 1 shut) onto the lower lids."""
        target = self.points.copy()
        for side in ("right", "left"):
            upper, lower = UPPER_LID[side], LOWER_LID[side]
            target[upper] = (1 - closure) * self.points[upper] + closure * self.points[lower]
            iris = IRIS[side]  # the iris is covered, not moved: keep it behind the lid
            target[iris, 2] = self.points[iris, 2] + 1.0
        return target

    def gaze_shifted(self, dx: float, dy: float = 0.0) -> np.ndarray:
        """Landmarks with both irises shifted by (dx, dy) pixels inside fixed eye contours."""
        target = self.points.copy()
        for side in ("right", "left"):
            target[IRIS[side], 0] += dx
            target[IRIS[side], 1] += dy
        return target


# ---------------------------------------------------------------------- stimuli with known truth
POSE_ANGLES = np.arange(-30, 31, 5.0)
BLINK_STARTS = (20, 50, 75)
BLINK_CLOSURE = (0.5, 1.0, 1.0, 1.0, 0.5)  # five frames: about 170 ms at 30 fps
GAZE_SHIFTS_PX = np.arange(-4, 5, 1.0)


def astronaut_warper(with_irises: bool = False) -> FaceWarper:
    """The upright astronaut portrait (scaled 1.5x into a 640 x 480 frame), ready to warp."""
    from tools.sample_images import astronaut

    return FaceWarper.from_photo(upright_portrait(astronaut(), scale=1.5), with_irises=with_irises)


def pose_sweep_frames(warper: FaceWarper, angles=POSE_ANGLES) -> list[np.ndarray]:
    """Frames re-posed by each yaw in ``angles`` (pitch 0), then by each pitch (yaw 0)."""
    return ([warper.render(warper.reposed(yaw=a)) for a in angles]
            + [warper.render(warper.reposed(pitch=a)) for a in angles])


def blink_frames(warper: FaceWarper, n_frames: int = 100, starts=BLINK_STARTS,
                 closure=BLINK_CLOSURE) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames with blinks (eyelid closure profile ``closure``) starting at ``starts``; and the closure."""
    amount = np.zeros(n_frames)
    for start in starts:
        amount[start:start + len(closure)] = closure
    cache: dict[float, np.ndarray] = {}
    return [cache.setdefault(c, warper.render(warper.eyes_closed(c))) for c in amount], amount


def gaze_frames(warper: FaceWarper, shifts=GAZE_SHIFTS_PX) -> list[np.ndarray]:
    """Frames with both irises shifted horizontally by ``shifts`` px, then vertically by the same."""
    return ([warper.render(warper.gaze_shifted(dx)) for dx in shifts]
            + [warper.render(warper.gaze_shifted(0, dy)) for dy in shifts])
