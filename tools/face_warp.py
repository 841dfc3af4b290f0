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
# Inner lip contours from the person's right mouth corner (78) to the left one (308).
UPPER_INNER_LIP = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
LOWER_INNER_LIP = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]
MOUTH_CORNERS = [61, 291, 78, 308]
INNER_MOUTH_RGB = (40, 15, 20)  # the dark of an open mouth, painted into the gap of an opened jaw


def smooth_shift(points: np.ndarray, index: int, delta, sigma: float) -> np.ndarray:
    """``points`` with those near ``points[index]`` moved by ``delta`` (x, y pixels), Gaussian fall-off.

    Point ``k`` moves by ``w_k delta`` with ``w_k = exp(-d_k^2 / (2 sigma^2))`` and ``d_k`` its
    image distance to ``points[index]`` (so ``points[index]`` itself moves by ``delta``).
    """
    distance = np.linalg.norm(points[:, :2] - points[index, :2], axis=1)
    weight = np.exp(-0.5 * (distance / sigma) ** 2)
    out = points.copy()
    out[:, :2] += weight[:, None] * np.asarray(delta, dtype=float)
    return out


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

    def gaze_rotated(self, yaw_deg: float, pitch_deg: float = 0.0, radius_iod: float = 0.133, *,
                     head_pitch: float = 0.0, head_yaw: float = 0.0, head_roll: float = 0.0) -> np.ndarray:
        """Landmarks with both irises rotated in 3D by known eye-in-head angles (degrees).

        The five points of each iris rotate about an eyeball centre ``c`` lying ``r = radius_iod`` x
        IOD (3D distance of the outer eye corners, pixels) behind the iris centre,
        ``p' = c + R (p - c)`` with ``R = Ry(yaw) Rx(pitch)`` in the image frame (x right, y down,
        z away from the camera). The iris centre moves by ``r sin(yaw)`` toward the image's right for
        ``yaw_deg`` > 0 (bitbox's convention, as ``head_yaw`` and ``gaze_x``) and by ``r sin(pitch)``
        up for ``pitch_deg`` > 0; the iris ring foreshortens as a real iris would; the eye contours
        stay. The rotation is made in the (frontal) photo's own head frame; ``head_*`` then re-pose
        the whole face as :meth:`reposed` does, so the eye-in-head angles stay the set ones. Needs a
        warper made ``with_irises=True`` for the iris pixels to move.
        """
        target = self.points.copy()
        radius = radius_iod * float(np.linalg.norm(self.points[263] - self.points[33]))
        a, b = np.radians(yaw_deg), np.radians(pitch_deg)
        # Ry(-a) of the usual right-handed form, so that the iris at (0, 0, -r) from the centre goes to +x.
        ry = np.array([[np.cos(a), 0.0, -np.sin(a)], [0.0, 1.0, 0.0], [np.sin(a), 0.0, np.cos(a)]])
        rx = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(b), np.sin(b)], [0.0, -np.sin(b), np.cos(b)]])
        rotation = ry @ rx
        for side in ("right", "left"):
            idx = IRIS[side]
            centre = self.points[idx].mean(axis=0) + [0.0, 0.0, radius]  # behind the iris (z grows away)
            target[idx] = (self.points[idx] - centre) @ rotation.T + centre
        if head_pitch or head_yaw or head_roll:
            head = geo.rotation_from_euler(head_pitch, head_yaw, head_roll)
            centre = self.points[:geo.N_MESH].mean(axis=0)
            target = (target - centre) @ head.T + centre
        return target

    def _iod_2d(self) -> float:
        return float(np.linalg.norm(self.points[263, :2] - self.points[33, :2]))

    def lip_corners_raised(self, amount: float, up_iod: float = 0.10, out_iod: float = 0.06,
                           sigma_iod: float = 0.12) -> np.ndarray:
        """Landmarks of a smile: both lip corners raised and pulled outward (AU12-like).

        Each outer lip corner (61, 291) moves by ``amount`` x (``out_iod`` outward, ``up_iod`` up)
        x IOD (image distance of the outer eye corners), and the landmarks around it follow with
        a Gaussian fall-off of ``sigma_iod`` x IOD (:func:`smooth_shift`). ``amount`` 0 is the
        photo, 1 a clear smile (measured on Grace Hopper: mouthSmile 0.00 -> 0.76).
        """
        iod = self._iod_2d()
        target = smooth_shift(self.points, 61, (-amount * out_iod * iod, -amount * up_iod * iod), sigma_iod * iod)
        return smooth_shift(target, 291, (amount * out_iod * iod, -amount * up_iod * iod), sigma_iod * iod)

    def jaw_opened(self, amount: float, max_deg: float = 12.0) -> np.ndarray:
        """Landmarks with the whole mandible rotated open by ``amount`` x ``max_deg`` degrees.

        Landmarks below the mouth line (lower lip, chin, jaw line) rotate in the (y, z) plane about
        a horizontal axis through the ears: ``y' = y0 + dy cos(t) - dz sin(t)``,
        ``z' = z0 + dy sin(t) + dz cos(t)`` with ``(dy, dz)`` the point's offset from the pivot
        ``(y0, z0)`` and ``t = w amount max_deg``. The pivot's height is that of landmarks 234/454
        (beside the ears); its depth is the chin's plus the chin's height below the pivot (a real
        condyle is about as far behind the chin as above it; mediapipe's z is too flat to say).
        The weight ``w`` is 1 for the lower inner lip, 0 for the upper inner lip, 0.35 at the mouth
        corners, and elsewhere ``clip((y - y_mouth) / (0.12 IOD) + 0.5, 0, 1)`` (0 above the mouth
        line, 1 from a little below it). Render with :meth:`render_jaw_opened`, which paints the
        gap between the lips dark. At ``amount`` 1 the lower lip drops about 0.24 IOD.
        """
        p = self.points
        pivot = p[[234, 454]].mean(axis=0)
        pivot[2] = p[152, 2] + (p[152, 1] - pivot[1])
        y_mouth = p[[13, 14], 1].mean()
        weight = np.clip((p[:, 1] - y_mouth) / (0.12 * self._iod_2d()) + 0.5, 0.0, 1.0)
        weight[UPPER_INNER_LIP] = 0.0
        weight[LOWER_INNER_LIP[1:-1]] = 1.0
        weight[MOUTH_CORNERS] = 0.35
        angle = np.radians(amount * max_deg) * weight
        dy, dz = p[:, 1] - pivot[1], p[:, 2] - pivot[2]
        target = p.copy()
        target[:, 1] = pivot[1] + dy * np.cos(angle) - dz * np.sin(angle)
        target[:, 2] = pivot[2] + dy * np.sin(angle) + dz * np.cos(angle)
        return target

    def render_jaw_opened(self, amount: float, max_deg: float = 12.0) -> np.ndarray:
        """The photo with the jaw opened (:meth:`jaw_opened`) and the inner-mouth gap painted dark."""
        import cv2

        target = self.jaw_opened(amount, max_deg)
        image = self.render(target)
        if amount > 0:
            gap = np.vstack([target[UPPER_INNER_LIP, :2], target[LOWER_INNER_LIP[::-1], :2]])
            cv2.fillPoly(image, [np.round(gap * 16).astype(np.int32)], INNER_MOUTH_RGB, cv2.LINE_AA, shift=4)
        return image


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


GAZE_ANGLES_DEG = np.arange(-25, 26, 5.0)


def gaze_rotated_frames(warper: FaceWarper, angles=GAZE_ANGLES_DEG) -> list[np.ndarray]:
    """Frames with both irises rotated by each yaw in ``angles`` (pitch 0), then each pitch (yaw 0), degrees."""
    return ([warper.render(warper.gaze_rotated(a, 0.0)) for a in angles]
            + [warper.render(warper.gaze_rotated(0.0, a)) for a in angles])
