"""Face geometry (kept for imports written before the face processor became a package).

Everything lives in :mod:`bitbox.processors.face.geometry`.
"""
from .face.geometry import *  # noqa: F401,F403
from .face.geometry import (BROW_LEFT, BROW_RIGHT, EYE_LEFT, EYE_RIGHT, INNER_BROW, INNER_EYE, INNER_LIPS,  # noqa: F401
                            LID_LEFT, LID_RIGHT, MOUTH_CORNERS, N_LANDMARKS, N_MESH,
                            IRIS_LEFT, IRIS_RIGHT, NOSE_BOTTOM, OUTER_EYE, OUTER_LIPS, RIGID, FaceTemplate, euler_angles, load_template,
                            rotation_from_euler, umeyama)
