"""The ``face`` processor (:class:`FaceProcessor`) and its parts.

Modules: :mod:`.processor` (the processor: two passes over the video), :mod:`.detect`
(small faces anywhere in the frame), :mod:`.track` (following faces, person ids),
:mod:`.mesh` (mediapipe models), :mod:`.persons` (each person's pass-1 record, whom to
report), :mod:`.descriptors` (the expression-descriptor table), :mod:`.blendshapes` (the 52
MediaPipe coefficients), :mod:`.gaze` (gaze offsets and angles), :mod:`.qc` (frame
quality), :mod:`.summary` (the summary row), :mod:`.catalog` (every measure),
:mod:`.geometry` (reference face, alignment, head pose, landmark sets).
"""
from .processor import (ASYM_REGIONS, DESCRIPTORS, NO_FACE_NOTE, REGIONS, FaceProcessor, _detect_blinks,
                        detect_blinks, face_summary, landmarks_array)

__all__ = ["FaceProcessor", "face_summary", "landmarks_array", "detect_blinks", "DESCRIPTORS", "REGIONS",
           "ASYM_REGIONS", "NO_FACE_NOTE"]
