"""Speaker embeddings: the resemblyzer d-vector network, defined here, on 40-band mel frames.

The network is the GE2E speaker encoder of Resemblyzer (Resemble AI, Apache-2.0; after Wan et
al. 2018, "Generalized end-to-end loss for speaker verification"), trained on LibriSpeech,
VoxCeleb 1 and 2. Bitbox defines the same small network with :mod:`torch` and loads the
weights file that ships inside the ``resemblyzer`` wheel (``resemblyzer/pretrained.pt``,
SHA-256 ``39373b86...``) as a plain state dict with ``torch.load(weights_only=True)``, so
the package itself (and its ``webrtcvad`` dependency) is not needed.

Front end (as ``resemblyzer.audio``)
------------------------------------
Samples are resampled to 16 kHz and their level raised (never lowered) to an RMS of
-30 dBFS:

.. math:: x \\leftarrow x \\cdot 10^{\\max(0,\\,(-30 - L)/20)}, \\qquad
          L = 20 \\log_{10} \\sqrt{\\overline{x^2}}

Frames: a power (not log) mel spectrogram as ``librosa.feature.melspectrogram(y, sr=16000,
n_fft=400, hop_length=160, n_mels=40)`` computes it (librosa >= 0.10 defaults: centred frames,
zero padding of 200 samples at both ends, a periodic Hann window of 400 samples (25 ms), hop
160 samples (10 ms), :math:`|X_t(f)|^2`, and 40 Slaney mel filters with Slaney area
normalisation from 0 to 8 kHz):

.. math:: M_{t,m} = \\sum_f W_{m,f}\\, |X_t(f)|^2

:func:`mel_frames` takes the mel filters from librosa and runs the short-time Fourier transform
itself, a block of frames at a time, so that memory stays flat on long recordings (the same
numbers as ``librosa.feature.melspectrogram`` within a relative 1e-4: tested).

Network
-------
A 3-layer LSTM (40 -> 256 -> 256 -> 256, batch first) reads a window of mel frames; the last
layer's final hidden state :math:`h_T` goes through a linear layer and a ReLU and is L2
normalised:

.. math:: e = \\frac{\\mathrm{ReLU}(W h_T + b)}{\\lVert \\mathrm{ReLU}(W h_T + b) \\rVert_2}

so embeddings are unit vectors with non-negative entries and the cosine similarity of two is
their dot product, in [0, 1]. Resemblyzer trained on windows of 160 frames (1.6 s).
"""
from __future__ import annotations

import hashlib
import threading
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from bitbox.audio import resample
from bitbox.cache import Cache
from bitbox.errors import ParameterError
from bitbox.log import logger
from bitbox.modelfiles import ModelFileError

__all__ = ["SAMPLE_RATE", "N_FFT", "HOP", "N_MELS", "FRAME_S", "TARGET_DBFS", "EMBEDDING_SIZE", "TRAINED_FRAMES",
           "MODEL_SHA256", "PACKAGED_MODEL", "INSTALL_HINT", "normalize_volume", "mel_filterbank", "mel_frames",
           "SpeakerEncoder", "locate_model"]

SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
FRAME_S = HOP / SAMPLE_RATE
N_MELS = 40
TARGET_DBFS = -30.0
HIDDEN_SIZE = 256
N_LAYERS = 3
EMBEDDING_SIZE = 256
TRAINED_FRAMES = 160  # resemblyzer's partial utterances: 1.6 s
_INT16_MAX = 2 ** 15 - 1
_BLOCK_FRAMES = 4096  # frames per STFT block: memory stays flat for long recordings

#: SHA-256 of ``resemblyzer/pretrained.pt`` in the resemblyzer 0.1.4 wheel.
MODEL_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
#: Where ``tools/speaker_model.py`` installs it.
PACKAGED_MODEL = Path(__file__).resolve().parents[1] / "data" / "speaker_encoder.pt"
INSTALL_HINT = ("Install it with `make install` or `python tools/speaker_model.py` (takes the file from the "
                "resemblyzer 0.1.4 wheel), or `pip install --no-deps resemblyzer==0.1.4`, or pass "
                "encoder_model=PATH to a file of the same format")


# ---------------------------------------------------------------------------- front end
def normalize_volume(samples: np.ndarray, *, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """Raise the level of ``samples`` to an RMS of ``target_dbfs`` (never lower it).

    As ``resemblyzer.audio.normalize_volume(wav, -30, increase_only=True)``:
    :math:`x \\cdot 10^{(T - L)/20}` when :math:`L = 20\\log_{10}\\mathrm{RMS}(x) < T`, else ``x``.
    Digital silence is returned unchanged.
    """
    samples = np.asarray(samples, dtype=np.float32)
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    if rms <= 0.0 or not np.isfinite(rms):
        return samples
    change_db = target_dbfs - 20.0 * np.log10(rms)
    if change_db <= 0.0:
        return samples
    return (samples * np.float32(10.0 ** (change_db / 20.0))).astype(np.float32)


@lru_cache(maxsize=4)
def mel_filterbank(*, sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """Slaney mel filters with area normalisation, shape ``(n_mels, 1 + n_fft // 2)`` float32:
    ``librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)`` (fmin 0, fmax sr/2, htk=False,
    norm="slaney"), as ``librosa.feature.melspectrogram`` uses in Resemblyzer. Read-only (cached)."""
    import librosa

    weights = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels).astype(np.float32)
    weights.setflags(write=False)
    return weights


@lru_cache(maxsize=2)
def _hann(n: int) -> np.ndarray:
    """Periodic Hann window, as librosa's STFT takes it (``scipy.signal.get_window("hann", n, fftbins=True)``)."""
    from scipy.signal import get_window

    return get_window("hann", n, fftbins=True)


def mel_frames(samples: np.ndarray, *, sr: int, normalize: bool = True) -> np.ndarray:
    """The encoder's input: power mel frames of ``samples``, shape ``(n_frames, 40)`` float32.

    Frame ``t`` is centred on sample ``160 t`` of the 16 kHz signal (time ``t * 0.01`` s);
    ``n_frames = 1 + n // 160`` for ``n`` samples at 16 kHz.

    Parameters
    ----------
    samples : np.ndarray
        Mono samples in [-1, 1].
    sr : int
        Their sample rate (Hz); resampled to 16 kHz with :func:`bitbox.audio.resample` if needed.
    normalize : bool
        Raise the level to -30 dBFS RMS first (:func:`normalize_volume`), as resemblyzer does.
        Pass the samples whose level should count (resemblyzer normalises the whole
        utterance, pauses included).

    Returns
    -------
    np.ndarray
        ``M[t, m] = sum_f W[m, f] |X_t(f)|^2`` (see the module docstring).
    """
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ParameterError(f"mel_frames needs mono samples (a 1-D array); got shape {samples.shape}")
    if not (isinstance(sr, (int, np.integer)) and sr > 0):
        raise ParameterError(f"sr must be a positive integer sample rate in Hz; got {sr!r}")
    if samples.size and not np.all(np.isfinite(samples)):
        raise ParameterError("mel_frames got samples that are NaN or infinite; decode the audio again")
    wav = resample(samples.astype(np.float32, copy=False), int(sr), SAMPLE_RATE)
    if normalize:
        wav = normalize_volume(wav)
    pad = N_FFT // 2
    padded = np.pad(wav.astype(np.float32, copy=False), (pad, pad))
    n_frames = 1 + (padded.size - N_FFT) // HOP
    if n_frames < 1:
        return np.zeros((0, N_MELS), dtype=np.float32)
    window, weights = _hann(N_FFT), mel_filterbank().astype(np.float64)
    out = np.empty((n_frames, N_MELS), dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    for start in range(0, n_frames, _BLOCK_FRAMES):
        block = frames[start:start + _BLOCK_FRAMES] * window
        power = np.abs(np.fft.rfft(block, axis=1)) ** 2
        out[start:start + block.shape[0]] = power @ weights.T
    return out


# ---------------------------------------------------------------------------- model file
def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _expected_shapes() -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in range(N_LAYERS):
        inputs = N_MELS if layer == 0 else HIDDEN_SIZE
        shapes[f"lstm.weight_ih_l{layer}"] = (4 * HIDDEN_SIZE, inputs)
        shapes[f"lstm.weight_hh_l{layer}"] = (4 * HIDDEN_SIZE, HIDDEN_SIZE)
        shapes[f"lstm.bias_ih_l{layer}"] = (4 * HIDDEN_SIZE,)
        shapes[f"lstm.bias_hh_l{layer}"] = (4 * HIDDEN_SIZE,)
    shapes["linear.weight"] = (EMBEDDING_SIZE, HIDDEN_SIZE)
    shapes["linear.bias"] = (EMBEDDING_SIZE,)
    return shapes


def _packaged_model() -> tuple[Path, str] | None:
    """The installed package-data file and its checked SHA-256, or ``None`` when absent."""
    if not PACKAGED_MODEL.is_file():
        return None
    got = _packaged_sha256(PACKAGED_MODEL.stat().st_mtime_ns, PACKAGED_MODEL.stat().st_size)
    if got != MODEL_SHA256:
        raise ModelFileError(PACKAGED_MODEL, f"has SHA-256 {got[:16]}..., not the {MODEL_SHA256[:16]}... of "
                             "resemblyzer 0.1.4's pretrained.pt: the file is damaged or was replaced",
                             "Delete it and run `python tools/speaker_model.py` (or `make install`) to install "
                             "it again")
    return PACKAGED_MODEL, got


@lru_cache(maxsize=4)
def _packaged_sha256(_mtime_ns: int, _size: int) -> str:
    """SHA-256 of the package-data file, computed once per (mtime, size) of the file."""
    return _file_sha256(PACKAGED_MODEL)


def _resemblyzer_model() -> Path | None:
    """``pretrained.pt`` of an installed resemblyzer package, found without importing it."""
    try:
        spec = find_spec("resemblyzer")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "pretrained.pt"
        if candidate.is_file():
            return candidate
    return None


def locate_model(path: str | Path | None = None) -> tuple[Path, str]:
    """Which weights file to use, and where it came from.

    Order: ``path`` (a user's own file of the same format) -> ``processors/data/speaker_encoder.pt``
    (installed by ``tools/speaker_model.py``; its SHA-256 must be the recorded one) -> the
    ``pretrained.pt`` of an installed ``resemblyzer`` package (found with
    :func:`importlib.util.find_spec`, not imported).

    Returns
    -------
    path : Path
    source : str
        ``"user file"``, ``"bitbox package data"`` or ``"resemblyzer package"``.

    Raises
    ------
    ModelFileError
        ``path`` does not exist, the package-data file is damaged, or no file is installed
        (the message says how to install it).
    """
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise ModelFileError(path, "does not exist (given as the speaker encoder's weights file)",
                                 "Pass the path of a resemblyzer-format .pt file, or leave encoder_model unset to "
                                 "use the installed encoder")
        return path, "user file"
    packaged = _packaged_model()
    if packaged is not None:
        return packaged[0], "bitbox package data"
    found = _resemblyzer_model()
    if found is not None:
        return found, "resemblyzer package"
    raise ModelFileError(PACKAGED_MODEL, "is missing: the speaker encoder's weights are installed by a setup "
                         "step, not with the source code, and no resemblyzer package is installed either",
                         INSTALL_HINT)


def _load_state(path: Path) -> dict[str, Any]:
    """The network's tensors from ``path`` (``torch.load(weights_only=True)``), keys and shapes checked."""
    import torch

    remedy = ("Use resemblyzer's pretrained.pt (`python tools/speaker_model.py` installs it) or a file saved as "
              "{'model_state': model.state_dict()} from the same network")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # an untrusted file's decoding failure is the file's problem
        text = str(err)
        if "Weights only load failed" in text or "weights_only" in text:
            reason = ("holds Python objects other than tensors and plain containers (a pickle that can run code "
                      "when opened): refused by torch.load(weights_only=True), nothing in it was run")
        else:
            reason = f"is not a PyTorch weights file ({type(err).__name__}: {text.splitlines()[0] if text else ''})"
        raise ModelFileError(path, reason, remedy) from None
    state = checkpoint.get("model_state") if isinstance(checkpoint, Mapping) else None
    if not isinstance(state, Mapping):
        keys = sorted(map(str, checkpoint))[:6] if isinstance(checkpoint, Mapping) else type(checkpoint).__name__
        raise ModelFileError(path, f"has no 'model_state' state dict (found {keys})", remedy)
    expected = _expected_shapes()
    missing = [key for key in expected if key not in state]
    if missing:
        raise ModelFileError(path, f"is not the resemblyzer speaker encoder: its model_state lacks "
                             f"{', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}", remedy)
    for key, shape in expected.items():
        tensor = state[key]
        if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != shape:
            got = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            raise ModelFileError(path, f"is not the resemblyzer speaker encoder: {key} has shape {got}, expected "
                                 f"{shape} (a 3-layer LSTM of 256 units on 40 mel bands, linear 256 -> 256)", remedy)
        if not torch.is_floating_point(tensor) or not bool(torch.isfinite(tensor).all()):
            raise ModelFileError(path, f"{key} holds non-finite or non-float values", remedy)
    extra = sorted(set(map(str, state)) - set(expected))
    if extra:
        logger.debug("speaker encoder %s: ignoring %s (not part of the embedding network)", path, extra)
    return {key: state[key].float() for key in expected}


def _network(state: Mapping[str, Any]):
    """The d-vector network with ``state`` loaded, in eval mode."""
    import torch
    from torch import nn

    class DVectorNet(nn.Module):
        """LSTM(40, 256, 3 layers) -> last layer's final hidden state -> Linear(256, 256) -> ReLU -> L2 norm."""

        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(N_MELS, HIDDEN_SIZE, N_LAYERS, batch_first=True)
            self.linear = nn.Linear(HIDDEN_SIZE, EMBEDDING_SIZE)
            self.relu = nn.ReLU()

        def forward(self, mels: torch.Tensor) -> torch.Tensor:
            _, (hidden, _) = self.lstm(mels)
            raw = self.relu(self.linear(hidden[-1]))
            return raw / torch.linalg.vector_norm(raw, dim=1, keepdim=True).clamp_min(1e-12)

    net = DVectorNet()
    net.load_state_dict(dict(state), strict=True)
    net.eval()
    for parameter in net.parameters():
        parameter.requires_grad_(False)
    return net


# ---------------------------------------------------------------------------- encoder
#: Loaded encoders per weights file (resolved path, size and modification time); ``bitbox.clear_caches()`` frees them.
_CACHE: Cache["SpeakerEncoder"] = Cache("speaker encoders")


class SpeakerEncoder:
    """The d-vector speaker encoder with its weights loaded (see the module docstring).

    Build it with :meth:`from_path` (cached per file). Attributes: ``path`` (the weights file),
    ``source`` (``"bitbox package data"``, ``"resemblyzer package"`` or ``"user file"``) and
    ``sha256`` (of the file, for provenance).
    """

    def __init__(self, path: Path, *, source: str, sha256: str | None = None) -> None:
        self.path = Path(path)
        self.source = source
        self.sha256 = sha256 or _file_sha256(self.path)
        self._net = _network(_load_state(self.path))
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SpeakerEncoder({str(self.path)!r}, source={self.source!r}, sha256={self.sha256[:12]}...)"

    @classmethod
    def from_path(cls, path: str | Path | None = None) -> "SpeakerEncoder":
        """The encoder of ``path``, or of the installed weights when ``None`` (:func:`locate_model`).

        Loaded once per file (path, size and modification time) and cached.

        Raises
        ------
        ModelFileError
            No weights installed; ``path`` missing; a file that is not a torch file, a pickle
            refused by ``weights_only``, or a state dict of other keys or shapes.
        """
        located, source = locate_model(path)
        stat = located.stat()
        key = (str(located.resolve()), f"{stat.st_size}:{stat.st_mtime_ns}")

        def load() -> "SpeakerEncoder":
            encoder = cls(located, source=source, sha256=MODEL_SHA256 if source == "bitbox package data" else None)
            if source == "resemblyzer package" and encoder.sha256 != MODEL_SHA256:
                logger.info("speaker encoder: %s is not resemblyzer 0.1.4's pretrained.pt (SHA-256 %s)",
                            located, encoder.sha256)
            logger.debug("speaker encoder loaded from %s (%s)", located, source)
            return encoder

        return _CACHE.get_or_create(key, load)  # thread-safe: one load per file, however many threads ask

    def embed(self, mel: np.ndarray, *, starts: np.ndarray, lengths: np.ndarray | int,
              batch_size: int = 64, n_threads: int | None = 1) -> np.ndarray:
        """Embeddings of windows of mel frames, shape ``(k, 256)`` float32, unit length.

        Parameters
        ----------
        mel : np.ndarray
            ``(n_frames, 40)`` from :func:`mel_frames`.
        starts : np.ndarray
            First frame of each window (``k`` integers).
        lengths : np.ndarray or int
            Frames in each window (one number for all, or ``k`` integers, each >= 1). Windows
            of the same length are run together in batches; the result is in the order of
            ``starts``. Resemblyzer trained on 160 frames (1.6 s).
        batch_size : int
            Windows per forward pass.
        n_threads : int or None
            Torch threads while embedding (default 1: the arithmetic, and so the result, is the
            same on every machine, and batches run in parallel processes instead). The setting is
            process-wide in torch: it is set for the call and restored afterwards (the call
            holds a lock, so concurrent calls on one encoder run one after the other).
            ``None`` keeps torch's setting.

        Returns
        -------
        np.ndarray
            Row ``i`` embeds ``mel[starts[i] : starts[i] + lengths[i]]``. Deterministic.

        Raises
        ------
        ParameterError
            Windows outside ``mel``, lengths < 1, a mel array of the wrong shape or with NaN.
        """
        import torch

        mel = np.asarray(mel)
        if mel.ndim != 2 or mel.shape[1] != N_MELS:
            raise ParameterError(f"mel must have shape (n_frames, {N_MELS}) as mel_frames returns; got {mel.shape}")
        if not np.all(np.isfinite(mel)):
            raise ParameterError("mel holds NaN or infinite values")
        starts_arr = np.atleast_1d(np.asarray(starts))
        if starts_arr.ndim != 1 or (starts_arr.size and starts_arr.dtype.kind not in "iu"):
            raise ParameterError(f"starts must be a 1-D array of integer frame indices; got {starts_arr.dtype} "
                                 f"shape {starts_arr.shape}")
        lengths_arr = np.broadcast_to(np.asarray(lengths), starts_arr.shape) if np.ndim(lengths) == 0 else \
            np.asarray(lengths)
        if lengths_arr.shape != starts_arr.shape or (lengths_arr.size and lengths_arr.dtype.kind not in "iu"):
            raise ParameterError(f"lengths must be one integer or {starts_arr.size} integers; got {lengths!r}")
        if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
            raise ParameterError(f"batch_size must be a positive integer; got {batch_size!r}")
        starts_arr = starts_arr.astype(np.int64)
        lengths_arr = lengths_arr.astype(np.int64)
        if starts_arr.size == 0:
            return np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
        bad = (lengths_arr < 1) | (starts_arr < 0) | (starts_arr + lengths_arr > mel.shape[0])
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ParameterError(f"window {i} (start {starts_arr[i]}, length {lengths_arr[i]} frames) lies outside "
                                 f"the {mel.shape[0]} mel frames or is empty; windows need start >= 0, length >= 1 "
                                 "and start + length <= n_frames")
        mel = np.ascontiguousarray(mel, dtype=np.float32)
        out = np.empty((starts_arr.size, EMBEDDING_SIZE), dtype=np.float32)
        with self._lock:
            previous = torch.get_num_threads()
            if n_threads is not None:
                torch.set_num_threads(int(n_threads))
            try:
                with torch.inference_mode():
                    for length in np.unique(lengths_arr):
                        index = np.flatnonzero(lengths_arr == length)
                        offsets = np.arange(int(length))
                        for batch in np.array_split(index, -(-index.size // batch_size)):
                            windows = mel[starts_arr[batch][:, None] + offsets]
                            out[batch] = self._net(torch.from_numpy(windows)).numpy()
            finally:
                torch.set_num_threads(previous)
        return out
