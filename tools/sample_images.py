"""Real, public-domain face photos that ship inside installed packages."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def astronaut() -> np.ndarray:
    """scikit-image's ``astronaut`` (Eileen Collins, NASA, public domain), RGB 512 x 512."""
    import skimage.data

    return skimage.data.astronaut()


def grace_hopper() -> np.ndarray:
    """matplotlib's ``grace_hopper.jpg`` (public domain), RGB."""
    import matplotlib
    from PIL import Image

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return np.asarray(Image.open(path).convert("RGB"))


def face_photos() -> dict[str, np.ndarray]:
    """Both portraits by name."""
    return {"astronaut": astronaut(), "grace_hopper": grace_hopper()}
