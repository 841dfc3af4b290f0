"""The ``face`` processor (:class:`FaceProcessor`) and its parts.

Modules: :mod:`.processor` (the processor), :mod:`.geometry` (reference face, alignment,
head pose, landmark sets).
"""
from .processor import (ASYM_REGIONS, DESCRIPTORS, NO_FACE_NOTE, REGIONS, FaceProcessor, _detect_blinks,
                        face_summary, landmarks_array)

__all__ = ["FaceProcessor", "face_summary", "landmarks_array", "DESCRIPTORS", "REGIONS", "ASYM_REGIONS",
           "NO_FACE_NOTE"]
