"""mediapipe face models: lazy import, model factories and a fast landmark conversion.

mediapipe is imported only when a model is made (``import bitbox`` stays light), with its
C++ logging turned down (``GLOG_minloglevel``, ``TF_CPP_MIN_LOG_LEVEL``) unless the user set
those variables. Every model runs on one thread, as mediapipe's legacy solutions do.

Landmark conversion. The legacy face mesh returns a ``NormalizedLandmarkList`` protobuf;
reading its 478 landmarks attribute by attribute costs about 0.4 ms per face. Serialised,
each landmark whose only fields are x, y and z is one 17-byte record
``0x0A 0x0F | 0x0D x:f32 | 0x15 y:f32 | 0x1D z:f32`` (field 1, length 15; fields 1-3 as
fixed 32-bit floats), so the whole list is read with one ``numpy.frombuffer`` (about 70 us),
bit-identical to the attribute values. Any other layout (visibility or presence set, other
counts) falls back to the attribute loop.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["mediapipe", "face_mesh", "face_detection", "normalized_landmarks", "mesh_landmarks"]

#: one serialised landmark holding only x, y, z (see the module docstring)
_RECORD = np.dtype([("tag", "u1"), ("len", "u1"), ("tx", "u1"), ("x", "<f4"), ("ty", "u1"), ("y", "<f4"),
                    ("tz", "u1"), ("z", "<f4")])


def mediapipe() -> Any:
    """Import mediapipe with its C++ logging turned down (unless the user set the variables)."""
    os.environ.setdefault("GLOG_minloglevel", "2")       # mediapipe's C++ logging
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import mediapipe as mp

    return mp


def face_mesh(*, static: bool, max_faces: int = 1, min_detection_confidence: float = 0.5,
              min_tracking_confidence: float = 0.5) -> Any:
    """A legacy ``FaceMesh`` with irises (``refine_landmarks=True``, 478 landmarks).

    Parameters
    ----------
    static : bool
        True: every image is searched afresh (``static_image_mode``); False: the mesh follows
        the face from the previous image and searches only when it loses it.
    max_faces : int
        ``max_num_faces``.
    min_detection_confidence, min_tracking_confidence : float
        mediapipe's thresholds for its internal short-range detector and its tracking score.
    """
    mp = mediapipe()
    return mp.solutions.face_mesh.FaceMesh(
        static_image_mode=bool(static), max_num_faces=int(max_faces), refine_landmarks=True,
        min_detection_confidence=float(min_detection_confidence),
        min_tracking_confidence=float(min_tracking_confidence))


def face_detection(*, min_confidence: float = 0.5, full_range: bool = True) -> Any:
    """A mediapipe ``FaceDetection``; ``full_range`` selects the full-range model (``model_selection=1``).

    The full-range model sees faces down to a few pixels at its 192 x 192 input; the
    short-range one only faces that fill a good part of the image.
    """
    mp = mediapipe()
    return mp.solutions.face_detection.FaceDetection(model_selection=1 if full_range else 0,
                                                     min_detection_confidence=float(min_confidence))


def _from_serialized(buffer: bytes) -> np.ndarray | None:
    """(x, y, z) of a serialised ``NormalizedLandmarkList`` whose landmarks hold only x, y, z; else None."""
    if not buffer or len(buffer) % _RECORD.itemsize:
        return None
    records = np.frombuffer(buffer, _RECORD)
    if not ((records["tag"] == 0x0A).all() and (records["len"] == 15).all() and (records["tx"] == 0x0D).all()
            and (records["ty"] == 0x15).all() and (records["tz"] == 0x1D).all()):
        return None
    out = np.empty((len(records), 3))
    out[:, 0] = records["x"]
    out[:, 1] = records["y"]
    out[:, 2] = records["z"]
    return out


def process_landmarks(mesh: Any, rgb: np.ndarray) -> list[np.ndarray]:
    """Run a ``FaceMesh`` on one RGB image: each face's normalised landmarks, ``(478, 3)`` float64.

    The same graph run as ``mesh.process(rgb)`` (the same packet, timestamp step and
    outputs), without what ``SolutionBase.process`` adds on every call (a new namedtuple
    class, parsing each landmark list into a Python message): about 0.2 ms per call. Falls
    back to ``mesh.process`` if mediapipe's internals differ from 0.10.21's.
    """
    graph = getattr(mesh, "_graph", None)
    outputs = getattr(mesh, "_graph_outputs", None)
    if graph is None or outputs is None or not hasattr(mesh, "_simulated_timestamp"):
        result = mesh.process(rgb)
        return [normalized_landmarks(lm) for lm in (result.multi_face_landmarks or ())]
    from mediapipe.python import packet_creator
    from mediapipe.python._framework_bindings import _packet_getter
    from mediapipe.python._framework_bindings.image_frame import ImageFormat

    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError("Input image must contain three channel rgb data.")
    outputs.clear()
    mesh._simulated_timestamp += 33333  # as SolutionBase.process: a 30 fps clock
    graph.add_packet_to_input_stream(stream="image", packet=packet_creator.create_image(
        rgb, image_format=ImageFormat.SRGB).at(mesh._simulated_timestamp))
    graph.wait_until_idle()
    packet = outputs.get("multi_face_landmarks")
    if packet is None or packet.is_empty():  # no face: a timestamp-bound packet
        return []
    faces = []
    for buffer in _packet_getter._get_serialized_proto_list(packet):
        points = _from_serialized(buffer)
        if points is None:
            from mediapipe.framework.formats import landmark_pb2

            message = landmark_pb2.NormalizedLandmarkList()
            message.ParseFromString(buffer)
            points = normalized_landmarks(message)
        faces.append(points)
    return faces


def normalized_landmarks(landmark_list: Any) -> np.ndarray:
    """The landmarks of one ``NormalizedLandmarkList`` as an ``(n, 3)`` float64 array of (x, y, z).

    x and y are fractions of the image width and height, z is mediapipe's relative depth in
    units of the image width. Read from the serialised message in one pass when every
    landmark holds only x, y and z; otherwise attribute by attribute (same values).
    """
    out = _from_serialized(landmark_list.SerializeToString())
    if out is not None:
        return out
    return np.array([(p.x, p.y, p.z) for p in landmark_list.landmark], dtype=np.float64).reshape(-1, 3)


def mesh_landmarks(result: Any, *, width: int, height: int) -> list[np.ndarray]:
    """Landmark pixels of every face in a ``FaceMesh.process`` result.

    Each face is an ``(478, 3)`` float64 array: ``x = x_n * width``, ``y = y_n * height``,
    ``z = z_n * width`` (z scales like x), x right and y down.
    """
    faces = []
    for landmark_list in result.multi_face_landmarks or ():
        points = normalized_landmarks(landmark_list)
        points *= (width, height, width)
        faces.append(points)
    return faces
