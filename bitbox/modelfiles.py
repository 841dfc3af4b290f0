"""Model folders that cannot run code: arrays (safetensors or npz) plus a JSON manifest.

A saved model is a folder holding

- one or more array files: ``*.safetensors`` (a JSON header and raw little-endian bytes; the
  format has no way to carry code) or ``*.npz`` (read with ``allow_pickle=False``);
- a JSON manifest (e.g. ``model.json``) with the format name and version, the SHA-256 and size
  of every array file, the fitted metadata (parameters, labels, column names...) and the
  package versions.

Loading checks the format name and version, refuses pickled files left by older versions
(``model.joblib``, ``model.pt``, ``*.pkl``...) without opening them, and checks every array
file's SHA-256 against the manifest *before* reading it: a file changed by one byte, swapped
or missing is a :class:`ModelFileError` naming the folder, the file and what to do. Nothing in
this module imports :mod:`pickle`, calls ``torch.load`` or ``np.load(allow_pickle=True)``.

Writes are atomic (:func:`bitbox.fileio.atomic_path`): the array files first, the manifest
last, so a folder interrupted mid-save never passes the checksum test with mixed contents.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from .errors import FileProblem
from .fileio import atomic_path, write_json

__all__ = ["ModelFileError", "PICKLE_SUFFIXES", "sha256_of", "write_arrays", "read_arrays", "file_record",
           "check_files", "refuse_pickles", "save_model", "load_model"]

#: File names and suffixes of pickle-based formats (torch.save, joblib, pickle, legacy Keras/TF):
#: never opened, always refused.
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".bin", ".ckpt")
_ARRAY_SUFFIXES = (".safetensors", ".npz")


class ModelFileError(FileProblem, ValueError):
    """A model folder that cannot be loaded safely: wrong format or version, a pickled file,
    a missing file, or an array file whose SHA-256 differs from the one recorded at save time."""


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_record(path: str | Path) -> dict[str, Any]:
    """``{"sha256": ..., "bytes": ...}`` of a file, as manifests record it."""
    path = Path(path)
    return {"sha256": sha256_of(path), "bytes": path.stat().st_size}


# ---------------------------------------------------------------------------- arrays
def write_arrays(path: str | Path, arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Write named arrays atomically as safetensors or npz (by ``path``'s suffix); returns its :func:`file_record`.

    Arrays must be numeric or boolean (no object or string arrays: those need pickle).
    """
    path = Path(path)
    clean = {}
    for name, value in arrays.items():
        array = np.ascontiguousarray(np.asarray(value))
        if array.dtype.kind not in "biuf":
            raise TypeError(f"Array {name!r} has dtype {array.dtype}: only numeric and boolean arrays can be "
                            "saved without pickle (put text in the JSON manifest).")
        clean[str(name)] = array
    with atomic_path(path) as tmp:
        if path.suffix == ".safetensors":
            from safetensors.numpy import save_file

            save_file(clean, str(tmp))
        elif path.suffix == ".npz":
            with open(tmp, "wb") as handle:
                np.savez(handle, **clean)
        else:
            raise ValueError(f"{path.name}: array files are .safetensors or .npz")
    return file_record(path)


def read_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Read an array file written by :func:`write_arrays` (no pickle: safetensors, or npz with ``allow_pickle=False``).

    Raises
    ------
    ModelFileError
        When the file is not a valid safetensors/npz file (e.g. a pickle under that name).
    """
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.numpy import load_file

            return dict(load_file(str(path)))
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
    except Exception as err:  # any decoding failure of an untrusted file is the file's problem
        raise ModelFileError(path, f"is not a valid {path.suffix[1:]} array file ({type(err).__name__}: {err})",
                             "The file is damaged or was replaced; save or train the model again") from None
    raise ModelFileError(path, f"{path.suffix or 'no suffix'} is not an array format Bitbox reads",
                         "Model arrays are .safetensors or .npz files")


# ---------------------------------------------------------------------------- checks
def refuse_pickles(folder: str | Path, *, what: str, remedy: str, names: Iterable[str] | None = None) -> None:
    """Raise :class:`ModelFileError` if ``folder`` holds a pickle-based model file (never opened).

    Parameters
    ----------
    folder : str or Path
    what : str
        What the folder should be, e.g. ``"an EEG factor model"``.
    remedy : str
        What the user should do (e.g. the exact command that retrains the model).
    names : iterable of str, optional
        File names to look for; default: every file with a :data:`PICKLE_SUFFIXES` suffix.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return
    if names is not None:
        found = sorted(n for n in names if (folder / n).exists())
    else:
        found = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
    if found:
        raise ModelFileError(folder, f"holds {', '.join(found)}: a pickle-based file, which can run any code when "
                             f"it is opened, so Bitbox refuses to load it as {what} (it was not opened)", remedy)


def check_files(folder: str | Path, files: Mapping[str, Mapping[str, Any]], *, remedy: str) -> None:
    """Check that every file of a manifest's ``files`` exists inside ``folder`` with its recorded SHA-256.

    Raises
    ------
    ModelFileError
        For a file that is missing, lies outside ``folder``, or whose SHA-256 differs.
    """
    folder = Path(folder)
    root = folder.resolve()
    for name, record in files.items():
        path = folder / name
        if not path.resolve().is_relative_to(root):
            raise ModelFileError(folder, f"its manifest names {name!r}, which lies outside the folder", remedy)
        if not path.is_file():
            raise ModelFileError(path, "is missing (the manifest lists it)", remedy)
        expected = record.get("sha256") if isinstance(record, Mapping) else None
        if not isinstance(expected, str):
            raise ModelFileError(folder, f"its manifest records no SHA-256 for {name}", remedy)
        actual = sha256_of(path)
        if actual != expected:
            raise ModelFileError(path, f"has SHA-256 {actual[:16]}..., not the {expected[:16]}... recorded when the "
                                 "model was saved: the file was changed or replaced after saving (do not use it)",
                                 remedy)


def _read_manifest(folder: Path, manifest: str, *, fmt: str, versions: Iterable[int], what: str,
                   remedy: str) -> dict[str, Any]:
    path = folder / manifest
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(folder, f"is not {what} (no {manifest})", remedy) from None
    except (UnicodeDecodeError, ValueError) as err:
        raise ModelFileError(path, f"is not valid JSON ({err})", remedy) from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        got = meta.get("format") if isinstance(meta, dict) else None
        raise ModelFileError(path, f"is not {what}: format {got!r}, expected {fmt!r}", remedy)
    versions = tuple(versions)
    if meta.get("format_version") not in versions:
        raise ModelFileError(path, f"has format version {meta.get('format_version')!r}; this Bitbox reads version "
                             f"{' or '.join(map(str, versions))}", remedy)
    if not isinstance(meta.get("files"), dict) or not meta["files"]:
        raise ModelFileError(path, "lists no array files with their SHA-256", remedy)
    return meta


# ---------------------------------------------------------------------------- folders
def save_model(folder: str | Path, *, fmt: str, version: int, arrays: Mapping[str, Mapping[str, np.ndarray]],
               metadata: Mapping[str, Any], manifest: str = "model.json",
               packages: Iterable[str] = ()) -> Path:
    """Save a model folder: the array files, then the manifest (format, version, files' SHA-256, metadata).

    Parameters
    ----------
    folder : str or Path
        Created if needed.
    fmt, version : str, int
        Format name and version written to the manifest and checked by :func:`load_model`.
    arrays : mapping
        ``{file name (.safetensors or .npz): {array name: array}}``.
    metadata : mapping
        JSON-serialisable content of the manifest (parameters, fitted metadata, provenance).
    manifest : str
        Manifest file name.
    packages : iterable of str
        Distributions whose versions are recorded (besides numpy and bitbox).

    Returns
    -------
    Path
        The folder.
    """
    from .processor import package_versions

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {name: write_arrays(folder / name, content) for name, content in arrays.items()}
    reserved = {"format", "format_version", "files"} & set(metadata)
    if reserved:
        raise ValueError(f"metadata may not set {sorted(reserved)}")
    write_json(folder / manifest, {"format": fmt, "format_version": int(version), "files": files, **metadata,
                                   "package_versions": package_versions(tuple(packages)),
                                   "saved_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")})
    return folder


def load_model(folder: str | Path, *, fmt: str, versions: Iterable[int], what: str, remedy: str,
               manifest: str = "model.json", legacy: Iterable[str] | None = None,
               legacy_remedy: str | None = None) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """Load a folder written by :func:`save_model`, checking everything before reading an array.

    Parameters
    ----------
    folder : str or Path
    fmt, versions : str, iterable of int
        The expected format name and the versions this code reads.
    what : str
        What the folder should be, for messages (``"an HBA baseline model"``).
    remedy : str
        What to do when the folder is wrong (e.g. "Train it again with `bitbox ...`").
    manifest : str
    legacy : iterable of str, optional
        Pickled file names of older versions (refused unopened); default: any pickle suffix.
    legacy_remedy : str, optional
        What to do with such an old folder (default ``remedy``).

    Returns
    -------
    manifest : dict
    arrays : dict
        ``{file name: {array name: array}}``.

    Raises
    ------
    ModelFileError
        Missing folder or manifest, wrong format or version, a pickled file, a missing or
        tampered array file.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ModelFileError(folder, f"is not a folder (expected {what})", remedy)
    refuse_pickles(folder, what=what, remedy=legacy_remedy or remedy, names=legacy)
    meta = _read_manifest(folder, manifest, fmt=fmt, versions=versions, what=what, remedy=remedy)
    for name in meta["files"]:
        if Path(name).suffix not in _ARRAY_SUFFIXES:
            raise ModelFileError(folder / manifest, f"lists {name!r}, which is not a .safetensors or .npz file",
                                 remedy)
    check_files(folder, meta["files"], remedy=remedy)
    return meta, {name: read_arrays(folder / name) for name in meta["files"]}
