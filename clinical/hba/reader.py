"""Streaming reader of Human Behavior Atlas samples (JSONL or parquet).

Each sample (papers.md section 6) has ``problem`` (the prompt, with ``<audio>``/``<video>``
placeholders), ``answer``, ``dataset`` and optionally ``id``, ``task`` (``..._cls`` or
``..._qa``), ``class_label``, ``modality_signature``, media lists ``images``, ``videos``,
``audios`` (each item a path relative to the data file, or ``{"path": ..., "bytes": ...}``
with the file embedded, as Hugging Face datasets store it; base64 text in JSONL), ``texts``,
``ext_video_feats`` and ``ext_audio_feats`` (the benchmark's pre-extracted OpenPose and
openSMILE features: a list holding one ``.pt`` path relative to the data file, or the ``.pt``
bytes in parquet, or, in Bitbox, the numbers inline). Files are read row by row (parquet in
record batches), so the 100k-sample benchmark never sits in memory; ``.pt`` feature files are
only opened by :func:`read_ext_feats`.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from bitbox.errors import FileProblem
from bitbox.log import logger

__all__ = ["Sample", "Media", "MediaPolicy", "HbaFormatError", "HbaFeatureError", "iter_samples", "data_files",
           "read_ext_feats", "MEDIA_FIELDS", "EXT_FIELDS", "OPENPOSE_PARTS"]

MEDIA_FIELDS = ("images", "videos", "audios")
#: The benchmark's pre-extracted feature fields.
EXT_FIELDS = ("ext_video_feats", "ext_audio_feats")
#: The OpenPose parts of an ``ext_video_feats`` file, concatenated in this order (the benchmark's
#: ``openpose_dict_to_framewise``).
OPENPOSE_PARTS = ("pose", "face", "left_hand", "right_hand")
_REQUIRED = ("problem", "answer", "dataset")
_SUFFIXES = (".jsonl", ".json", ".parquet")


class HbaFormatError(FileProblem, ValueError):
    """A malformed HBA file or row: which file, which row, which field."""


class HbaFeatureError(HbaFormatError):
    """A sample's ``ext_*_feats`` cannot be read: missing, refused, not a tensor file, or of the wrong shape.

    ``path`` is the feature file (or the data row, for numbers given inline); the message names
    the sample and the field.
    """


@dataclass(frozen=True)
class Media:
    """One media item: a file on disk, or bytes embedded in the data file.

    Parameters
    ----------
    path : Path | None
        The file on disk (already checked by the reader's :class:`MediaPolicy`); ``None`` for embedded bytes.
    data : bytes | None
        The embedded file's bytes; ``None`` for a file on disk.
    name : str
        The path as the data file gives it (for embedded bytes, only a name: its suffix tells the format).
    """

    path: Path | None = None
    data: bytes | None = None
    name: str = ""

    @property
    def suffix(self) -> str:
        """The lower-case extension of ``name`` (else of the file's name), e.g. ``".mp4"``; ``""`` when none."""
        return Path(self.name or (self.path.name if self.path else "")).suffix.lower()

    def sha256(self) -> str:
        """The SHA-256 (hex) of the media's bytes: the embedded ones, or the file's content (read from disk)."""
        if self.data is not None:
            return hashlib.sha256(self.data).hexdigest()
        from bitbox.provenance import sha256_file

        return sha256_file(self.path)

    def materialize(self, folder: str | Path) -> Path:
        """A path to the media: the file itself, or the embedded bytes written once under ``folder``.

        Parameters
        ----------
        folder : str | Path
            Where embedded bytes are written, as ``<first 24 hex digits of their SHA-256><suffix>``
            (``.bin`` without a suffix), atomically; a file already there is reused, and the folder is
            created when missing. Unused for a file on disk.

        Returns
        -------
        Path
            The file on disk, or the written copy of the embedded bytes.
        """
        if self.data is None:
            return self.path
        target = Path(folder) / f"{self.sha256()[:24]}{self.suffix or '.bin'}"
        if not target.exists():
            from bitbox.io import atomic_path

            with atomic_path(target) as tmp:
                tmp.write_bytes(self.data)
        return target


@dataclass
class Sample:
    """One benchmark sample (see the module docstring); ``index`` is its row over all files read.

    Parameters
    ----------
    index : int
        The sample's row, counted over all files read (from 0).
    id : str
        The row's ``id``, else ``str(index)``.
    problem : str
        The prompt, with ``<audio>``/``<video>`` placeholders (a participant's words: never logged).
    answer : str
        The gold answer, as text.
    dataset : str
        The dataset's name (stripped), as the task registry knows it.
    task : str | None
        The row's ``task`` (``..._cls`` or ``..._qa``), or ``None``.
    class_label : object
        The row's ``class_label`` as given, or ``None``.
    modality_signature : str | None
        The row's ``modality_signature`` (the modalities the sample uses, as the benchmark names them), or ``None``.
    images, videos, audios : list of Media
        The media items whose paths were accepted (refused ones are in ``refused_media``).
    texts : list of str
        The row's ``texts`` (a single string is one text).
    ext_video_feats, ext_audio_feats : Media | list | None
        The benchmark's pre-extracted OpenPose / openSMILE features: a ``.pt`` file (or its bytes), the
        numbers inline, or ``None``; read with :func:`read_ext_feats`.
    source : str
        Where the sample was read: ``"<data file name> row <n> (line <m>)"``.
    refused_media : dict of str to str
        ``"sample <id> <field>[<k>] <path>"`` -> why the reader's :class:`MediaPolicy` refused that path.
    """

    index: int
    id: str
    problem: str
    answer: str
    dataset: str
    task: str | None = None
    class_label: Any = None
    modality_signature: str | None = None
    images: list[Media] = field(default_factory=list)
    videos: list[Media] = field(default_factory=list)
    audios: list[Media] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    #: The benchmark's features: a :class:`Media` (a ``.pt`` file, or its bytes), numbers inline
    #: (``[frames, dims]`` or ``[dims]``), or ``None``; read with :func:`read_ext_feats`.
    ext_video_feats: Any = None
    ext_audio_feats: Any = None
    source: str = ""
    #: Media paths refused by the reader's :class:`MediaPolicy` (left out of the media lists), with the reason.
    refused_media: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # the prompt may hold a participant's words: never printed
        return (f"<Sample {self.id} {self.dataset} ({self.modality_signature or '?'}): {len(self.videos)} video, "
                f"{len(self.audios)} audio>")


def data_files(path: str | Path) -> list[Path]:
    """The data files of a path: the file itself, or a folder's ``*.jsonl``/``*.json``/``*.parquet`` (sorted).

    Parameters
    ----------
    path : str | Path
        A data file (``.jsonl``, ``.json`` or ``.parquet``) or a folder holding some (not searched recursively).

    Returns
    -------
    list of Path
        The data files, sorted by name.

    Raises
    ------
    HbaFormatError
        The path does not exist, is a file of another extension, or is a folder without data files.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _SUFFIXES and p.is_file())
        if not files:
            raise HbaFormatError(path, "holds no .jsonl or .parquet files", "Give the benchmark's data file or folder")
        return files
    if not path.exists():
        raise HbaFormatError(path, "does not exist")
    if path.suffix.lower() not in _SUFFIXES:
        raise HbaFormatError(path, f"{path.suffix or 'no extension'} is not an HBA data file", "Use .jsonl or .parquet")
    return [path]


def _rows(path: Path) -> Iterator[tuple[str, Any]]:
    """``(where, row)`` pairs; ``where`` names the row (and line) for error messages."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            handle = pq.ParquetFile(path)
        except Exception as err:
            raise HbaFormatError(path, f"is not a readable parquet file ({type(err).__name__}: {err})") from None
        row = 0
        for batch in handle.iter_batches(batch_size=512):
            for item in batch.to_pylist():
                yield f"row {row}", item
                row += 1
        return
    with open(path, encoding="utf-8") as handle:
        row = 0
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as err:
                raise HbaFormatError(path, f"row {row} (line {line_no}) is not valid JSON ({err})",
                                     "Each line must be one JSON object") from None
            yield f"row {row} (line {line_no})", item
            row += 1


@dataclass(frozen=True)
class MediaPolicy:
    """Where media paths may point.

    Parameters
    ----------
    media_root : Path, optional
        Media must resolve under this folder (default: the folder of the data file naming them).
    allow_outside_paths : bool
        Accept any path (absolute, with ``..``, or a symbolic link leading out): only for data
        files you trust.
    """

    media_root: Path | None = None
    allow_outside_paths: bool = False

    def check(self, item: str, folder: Path) -> tuple[Path, str | None]:
        """``(path, None)`` for an accepted media path, ``(path, reason)`` for a refused one.

        Relative paths are relative to ``folder`` (the data file's); the path must resolve
        (following symbolic links) inside the root.

        Parameters
        ----------
        item : str
            The media path as the data file gives it.
        folder : Path
            The data file's folder: the base of a relative path, and the root without ``media_root``.

        Returns
        -------
        path : Path
            The media's path (``folder / item`` for a relative one), not resolved.
        reason : str | None
            ``None`` when accepted; else why it was refused, with what to do about it.
        """
        raw = Path(item)
        path = raw if raw.is_absolute() else folder / raw
        if self.allow_outside_paths:
            return path, None
        root = (self.media_root if self.media_root is not None else folder).resolve()
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError) as err:  # a symbolic-link loop
            return path, f"cannot be resolved ({type(err).__name__}: {err})"
        if resolved.is_relative_to(root):
            return path, None
        if raw.is_absolute():
            how = "is an absolute path outside"
        elif ".." in raw.parts:
            how = "climbs out with '..' of"
        else:
            how = f"leads through a symbolic link to {resolved}, outside"
        where = "--media-root" if self.media_root is not None else "the data file's folder"
        return path, (f"{how} {root} ({where}): refused, not read. Put the media under that folder, give "
                      "--media-root DIR (media_root=) holding them, or --allow-outside-paths "
                      "(allow_outside_paths=True) if you trust this data file")


def _media(value: Any, folder: Path, path: Path, where: str, name: str, policy: MediaPolicy,
           refused: dict[str, str]) -> list[Media]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for k, item in enumerate(items):
        if item is None:
            continue
        if isinstance(item, str) or (isinstance(item, dict) and item.get("bytes") is None and item.get("path")):
            ref = item if isinstance(item, str) else item["path"]
            if not isinstance(ref, str):
                raise HbaFormatError(path, f"{where}: {name}[{k}].path must be text, got {type(ref).__name__}")
            media_path, reason = policy.check(ref, folder)
            if reason is None:
                out.append(Media(path=media_path, name=ref))
            else:
                refused[f"{name}[{k}] {ref}"] = reason
            continue
        if isinstance(item, dict) and item.get("bytes") is not None:
            data = item.get("bytes")
            if isinstance(data, str):
                try:
                    data = base64.b64decode(data, validate=True)
                except ValueError:
                    raise HbaFormatError(path, f"{where}: {name}[{k}].bytes is not base64",
                                         "Embed media as base64 text in JSONL (raw bytes in parquet)") from None
            ref = item.get("path") or ""
            # embedded bytes: the path is only a name (for its suffix), never opened
            out.append(Media(data=bytes(data), name=str(ref) or f"{name}{k}"))
            continue
        raise HbaFormatError(path, f"{where}: field '{name}' item {k} is neither a path nor "
                             "{'path': ..., 'bytes': ...}", f"Got {type(item).__name__}")
    return out


def _is_reference(item: Any) -> bool:
    return isinstance(item, (str, bytes, bytearray, dict))


def _ext_feats(value: Any, folder: Path, path: Path, where: str, name: str, policy: MediaPolicy,
               refused: dict[str, str]) -> Any:
    """A ``.pt`` reference as a :class:`Media` (paths checked by ``policy``), numbers as given, or ``None``.

    The benchmark's rows hold a list of paths of which its loader reads the first
    (``base_dataset.py``, ``ext_video_feats_path = ... video_rel_path[0]``); so does this one.
    """
    if value is None or (isinstance(value, (list, tuple)) and len(value) == 0):
        return None
    if _is_reference(value):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise HbaFormatError(path, f"{where}: field '{name}' must be a list of .pt paths or of numbers, "
                             f"got {type(value).__name__}")
    first = value[0]
    if first is not None and not _is_reference(first):
        return list(value)  # numbers inline: checked when read (read_ext_feats)
    if isinstance(first, (bytes, bytearray)):  # parquet's list<binary>: the .pt file's bytes
        first = {"bytes": bytes(first), "path": f"{name}.pt"}
    media = _media([first], folder, path, where, name, policy, refused)
    return media[0] if media else None


def _sample(item: Any, index: int, path: Path, where: str, folder: Path, policy: MediaPolicy) -> Sample:
    if not isinstance(item, dict):
        raise HbaFormatError(path, f"{where} is not an object (got {type(item).__name__})")
    for key in _REQUIRED:
        value = item.get(key)
        if value is None:
            raise HbaFormatError(path, f"{where}: field '{key}' is missing",
                                 "Every sample needs 'problem', 'answer' and 'dataset'")
        if key != "answer" and not isinstance(value, str):
            raise HbaFormatError(path, f"{where}: field '{key}' must be text, got {type(value).__name__}")
    if not item["dataset"].strip():
        raise HbaFormatError(path, f"{where}: field 'dataset' is empty")
    if isinstance(item["answer"], (dict, list)):
        raise HbaFormatError(path, f"{where}: field 'answer' must be text, got {type(item['answer']).__name__}")
    texts = item.get("texts") or []
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise HbaFormatError(path, f"{where}: field 'texts' must be a list of strings")
    sample_id = str(index) if item.get("id") is None else str(item["id"])
    refused: dict[str, str] = {}
    media = {name: _media(item.get(name), folder, path, where, name, policy, refused) for name in MEDIA_FIELDS}
    ext = {name: _ext_feats(item.get(name), folder, path, where, name, policy, refused) for name in EXT_FIELDS}
    if refused:
        logger.warning("HBA %s %s (sample %s): %d media path(s) refused: %s", path.name, where, sample_id,
                       len(refused), "; ".join(f"{k} {v}" for k, v in refused.items()))
    return Sample(index=index, id=sample_id, problem=item["problem"],
                  answer=str(item["answer"]), dataset=item["dataset"].strip(), task=item.get("task"),
                  class_label=item.get("class_label"), modality_signature=item.get("modality_signature"),
                  **media, texts=texts, **ext, source=f"{path.name} {where}",
                  refused_media={f"sample {sample_id} {k}": v for k, v in refused.items()})


_PT_HINT = ("Give the benchmark's .pt feature files (tensors, or dicts of tensors as the benchmark "
            "writes them), or leave out --ext-feats (ext_feats=False)")
_PT_UNSAFE_HINT = ("Re-save the features as tensors (torch.save of a tensor or a dict of tensors), or ask the "
                   "data's provider for the original file")
_UNSAFE_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)|but got <class '([\w.]+)'>")
_WEIGHTS_ERROR = re.compile(r"(Unsupported (?:operand|class) [^\n.]+)")


def read_ext_feats(sample: Sample, name: str) -> np.ndarray | None:
    """A sample's ``ext_video_feats`` or ``ext_audio_feats`` as a float ``(frames, dims)`` array.

    The field may hold a :class:`Media` (a ``.pt`` file, or its bytes embedded in parquet),
    a path given in Python (used as given), or numbers inline (``[frames, dims]`` or one
    pooled ``[dims]`` vector, read as one frame). A ``.pt`` file is loaded with
    ``torch.load(..., weights_only=True, map_location="cpu")``, so a file holding anything but
    tensors, numpy arrays of numbers, numbers, lists and dicts is refused without running its
    code. Its content is read
    as the benchmark's ``bam_utils.py`` does:

    - ``ext_video_feats``: an OpenPose dict ``{"pose", "face", "left_hand", "right_hand"}``, each
      ``[frames, keypoints, 2 or 3]`` (x, y and confidence), flattened per frame and concatenated
      in that order (``openpose_dict_to_framewise``, confidences kept); absent or ``None`` parts
      are skipped, as there;
    - ``ext_audio_feats``: an openSMILE dict ``{"features": [frames, dims] or [dims]}``
      (``opensmile_to_framewise``);
    - either field: a bare tensor ``[frames, dims]`` or ``[dims]``.

    Parameters
    ----------
    sample : Sample
        The sample, as :func:`iter_samples` read it.
    name : {"ext_video_feats", "ext_audio_feats"}
        The field to read.

    Returns
    -------
    ndarray, shape (frames, dims), or None
        ``None`` when the sample has no such features (or its path was refused by the reader:
        see ``Sample.refused_media``).

    Raises
    ------
    HbaFeatureError
        The file does not exist (the message names the sample, the field and the resolved
        path), cannot be loaded safely, or holds something else than the layouts above.
    ValueError
        ``name`` is not one of :data:`EXT_FIELDS`.
    """
    if name not in EXT_FIELDS:
        raise ValueError(f"name must be one of {EXT_FIELDS}, got {name!r}")
    value = getattr(sample, name)
    if value is None:
        return None
    if isinstance(value, (str, Path)):
        value = Media(path=Path(value).expanduser(), name=str(value))
    if isinstance(value, Media):
        where = value.path.resolve() if value.path is not None else f"{sample.source} (embedded {value.name})"
        content = _load_pt(value, sample, name, where)
        frames = _framewise(content, sample, name, where)
    else:
        where = sample.source or f"sample {sample.id}"
        frames = _as_frames(value, sample, name, where, "the inline value")
    return frames


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


def _numpy_globals() -> list:
    """What ``torch.load(weights_only=True)`` needs to rebuild numpy arrays (their elements still go
    through the same restricted unpickler, so this lets no code run)."""
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:
        from numpy.core.multiarray import _reconstruct

    return [_reconstruct, np.ndarray, np.dtype, *(type(np.dtype(c)) for c in "?bhilqBHILQefdgFDG")]


def _load_pt(media: Media, sample: Sample, name: str, where: Any) -> Any:
    import warnings

    import torch

    what = f"{name} of sample {sample.id}"
    if media.path is not None and not media.path.is_file():
        raise HbaFeatureError(where, f"{what}: file not found" + (" (a folder)" if media.path.is_dir() else ""),
                              "Paths are relative to the data file's folder: put the benchmark's feature "
                              "folders (pose/, opensmile/) there, or leave out --ext-feats (ext_feats=False)")
    source = media.path if media.data is None else io.BytesIO(media.data)
    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals(_numpy_globals()):
            warnings.simplefilter("ignore")  # torch's own advice would say to load it unsafely
            return torch.load(source, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as err:  # what torch's weights-only unpickler stops at, before it runs
        unsafe, detail = _UNSAFE_GLOBAL.search(str(err)), _WEIGHTS_ERROR.search(str(err))
        if unsafe:
            reason = (f"holds Python objects ({unsafe.group(1) or unsafe.group(2)}) other than tensors, arrays, "
                      "numbers, lists and dicts; refused before any of it ran (torch.load weights_only=True), "
                      "as loading it could run code")
        else:
            reason = ("is not a .pt file that torch.load(weights_only=True) can read ("
                      f"{detail.group(1) if detail else 'its weights-only unpickler refused it'}); not opened "
                      "further, as loading it unsafely could run code")
        raise HbaFeatureError(where, f"{what}: {reason}", _PT_UNSAFE_HINT) from None
    except Exception as err:  # noqa: BLE001 - torch raises many types (RuntimeError, KeyError, EOFError...)
        raise HbaFeatureError(where, f"{what}: is not a readable torch .pt file ({_first_line(err)})",
                              _PT_HINT) from None


def _floats(value: Any, sample: Sample, name: str, where: Any, what: str) -> np.ndarray:
    """``value`` (a tensor, an array or nested lists) as a float64 array."""
    try:
        if hasattr(value, "detach"):  # a torch tensor
            value = value.detach().cpu().double().numpy()
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError) as err:
        raise HbaFeatureError(where, f"{name} of sample {sample.id}: {what} is not an array of numbers "
                              f"({_first_line(err)})", "Give [frames, dims] or [dims] numbers, rows of equal "
                              "length") from None


def _as_frames(value: Any, sample: Sample, name: str, where: Any, what: str) -> np.ndarray:
    """``value`` as a ``(frames, dims)`` array; a ``[dims]`` vector is one frame (``opensmile_to_framewise``)."""
    array = _floats(value, sample, name, where, what)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.size == 0:
        raise HbaFeatureError(where, f"{name} of sample {sample.id}: {what} has shape {list(array.shape)}, not "
                              "[frames, dims] or [dims] with at least one value", "Give [frames, dims] or [dims] "
                              "numbers")
    return array


def _framewise(content: Any, sample: Sample, name: str, where: Any) -> np.ndarray:
    """The benchmark's ``openpose_dict_to_framewise`` / ``opensmile_to_framewise``, or a bare tensor."""
    what = f"{name} of sample {sample.id}"
    if not isinstance(content, dict):
        if hasattr(content, "detach") or isinstance(content, (list, tuple, np.ndarray)):
            return _as_frames(content, sample, name, where, "the file's tensor")
        raise HbaFeatureError(where, f"{what}: holds a {type(content).__name__}, not a tensor or a dict of tensors",
                              _PT_HINT)
    keys = sorted(map(str, content))
    if name == "ext_audio_feats":
        if content.get("features") is None:
            raise HbaFeatureError(where, f"{what}: is a dict without 'features' (keys: {keys}), not the "
                                  "benchmark's openSMILE layout {'features': [frames, dims] or [dims]}", _PT_HINT)
        return _as_frames(content["features"], sample, name, where, "the file's 'features'")
    parts: dict[str, np.ndarray] = {}
    for part in OPENPOSE_PARTS:
        if content.get(part) is None:  # absent parts are skipped, as in the benchmark
            continue
        values = _floats(content[part], sample, name, where, f"part '{part}'")
        if values.ndim != 3 or values.shape[-1] not in (2, 3) or values.shape[0] == 0:
            raise HbaFeatureError(where, f"{what}: part '{part}' has shape {list(values.shape)}, not [frames, "
                                  "keypoints, 2 or 3] with at least one frame", _PT_HINT)
        parts[part] = values.reshape(values.shape[0], -1)
    if not parts:
        raise HbaFeatureError(where, f"{what}: is a dict without any OpenPose part (keys: {keys}), not the "
                              f"benchmark's layout {{{', '.join(map(repr, OPENPOSE_PARTS))}}}", _PT_HINT)
    counts = {part: values.shape[0] for part, values in parts.items()}
    if len(set(counts.values())) > 1:
        raise HbaFeatureError(where, f"{what}: its OpenPose parts have different frame counts {counts}", _PT_HINT)
    return np.concatenate(list(parts.values()), axis=1)


def iter_samples(path: str | Path | Sequence[str | Path], *, media_root: str | Path | None = None,
                 allow_outside_paths: bool = False) -> Iterator[Sample]:
    """Stream the samples of a data file or folder (or several), in order.

    ``Sample.index`` counts rows over all files read; a sample without ``id`` gets its index
    as id.

    Media paths, and the ``.pt`` paths of ``ext_video_feats`` / ``ext_audio_feats``, are
    relative to the data file and must resolve (following symbolic links) inside its folder,
    or inside ``media_root`` when given; an absolute path, a ``..`` or a link leading
    elsewhere is refused: left out of the sample (``ext_*_feats`` set to ``None``), with the
    reason in ``Sample.refused_media`` (the other samples and media are read as usual).
    Embedded bytes are never refused (their ``path`` is only a name). Feature files are not
    opened here (see :func:`read_ext_feats`).

    Parameters
    ----------
    path : str, Path or sequence of them
        Data files or folders.
    media_root : str or Path, optional
        The folder media must lie in (default: each data file's folder).
    allow_outside_paths : bool
        Read media from anywhere: only for data files you trust.

    Yields
    ------
    Sample
        One per row, in file order (the files of a folder sorted by name).

    Raises
    ------
    HbaFormatError
        For a missing or unreadable file, invalid JSON, or a row without a required field,
        naming the file, the row (and line) and the field; also when ``media_root`` is not a folder.
    """
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    files = [f for p in paths for f in data_files(p)]
    if media_root is not None and not Path(media_root).expanduser().is_dir():
        raise HbaFormatError(media_root, "is not a folder", "--media-root must be the folder that holds the media")
    policy = MediaPolicy(None if media_root is None else Path(media_root).expanduser(), bool(allow_outside_paths))
    index = 0
    for file in files:
        for where, item in _rows(file):
            yield _sample(item, index, file, where, file.parent, policy)
            index += 1
