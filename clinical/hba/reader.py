"""Streaming reader of Human Behavior Atlas samples (JSONL or parquet).

Each sample (papers.md section 6) has ``problem`` (the prompt, with ``<audio>``/``<video>``
placeholders), ``answer``, ``dataset`` and optionally ``id``, ``task`` (``..._cls`` or
``..._qa``), ``class_label``, ``modality_signature``, media lists ``images``, ``videos``,
``audios`` (each item a path relative to the data file, or ``{"path": ..., "bytes": ...}``
with the file embedded, as Hugging Face datasets store it; base64 text in JSONL), ``texts``,
``ext_video_feats`` and ``ext_audio_feats``. Files are read row by row (parquet in record
batches), so the 100k-sample benchmark never sits in memory.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from bitbox.errors import FileProblem

__all__ = ["Sample", "Media", "HbaFormatError", "iter_samples", "data_files", "MEDIA_FIELDS"]

MEDIA_FIELDS = ("images", "videos", "audios")
_REQUIRED = ("problem", "answer", "dataset")
_SUFFIXES = (".jsonl", ".json", ".parquet")


class HbaFormatError(FileProblem, ValueError):
    """A malformed HBA file or row: which file, which row, which field."""


@dataclass(frozen=True)
class Media:
    """One media item: a file on disk, or bytes embedded in the data file."""

    path: Path | None = None
    data: bytes | None = None
    name: str = ""

    @property
    def suffix(self) -> str:
        return Path(self.name or (self.path.name if self.path else "")).suffix.lower()

    def sha256(self) -> str:
        if self.data is not None:
            return hashlib.sha256(self.data).hexdigest()
        from bitbox.recording import sha256_file

        return sha256_file(self.path)

    def materialize(self, folder: str | Path) -> Path:
        """A path to the media: the file itself, or the embedded bytes written once under ``folder``."""
        if self.data is None:
            return self.path
        target = Path(folder) / f"{self.sha256()[:24]}{self.suffix or '.bin'}"
        if not target.exists():
            from bitbox.fileio import atomic_path

            with atomic_path(target) as tmp:
                tmp.write_bytes(self.data)
        return target


@dataclass
class Sample:
    """One benchmark sample (see the module docstring); ``index`` is its row over all files read."""

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
    ext_video_feats: Any = None
    ext_audio_feats: Any = None
    source: str = ""

    def __repr__(self) -> str:  # the prompt may hold a participant's words: never printed
        return (f"<Sample {self.id} {self.dataset} ({self.modality_signature or '?'}): {len(self.videos)} video, "
                f"{len(self.audios)} audio>")


def data_files(path: str | Path) -> list[Path]:
    """The data files of a path: the file itself, or a folder's ``*.jsonl``/``*.json``/``*.parquet`` (sorted)."""
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


def _media(value: Any, folder: Path, path: Path, where: str, name: str) -> list[Media]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for k, item in enumerate(items):
        if item is None:
            continue
        if isinstance(item, str):
            out.append(Media(path=(folder / item) if not Path(item).is_absolute() else Path(item), name=item))
            continue
        if isinstance(item, dict) and (item.get("bytes") is not None or item.get("path")):
            data = item.get("bytes")
            if isinstance(data, str):
                try:
                    data = base64.b64decode(data, validate=True)
                except ValueError:
                    raise HbaFormatError(path, f"{where}: {name}[{k}].bytes is not base64",
                                         "Embed media as base64 text in JSONL (raw bytes in parquet)") from None
            ref = item.get("path") or ""
            if data is None:
                out.append(Media(path=folder / ref if not Path(ref).is_absolute() else Path(ref), name=ref))
            else:
                out.append(Media(data=bytes(data), name=ref or f"{name}{k}"))
            continue
        raise HbaFormatError(path, f"{where}: field '{name}' item {k} is neither a path nor "
                             "{'path': ..., 'bytes': ...}", f"Got {type(item).__name__}")
    return out


def _sample(item: Any, index: int, path: Path, where: str, folder: Path) -> Sample:
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
    sample_id = item.get("id")
    return Sample(index=index, id=str(index) if sample_id is None else str(sample_id), problem=item["problem"],
                  answer=str(item["answer"]), dataset=item["dataset"].strip(), task=item.get("task"),
                  class_label=item.get("class_label"), modality_signature=item.get("modality_signature"),
                  **{name: _media(item.get(name), folder, path, where, name) for name in MEDIA_FIELDS},
                  texts=texts, ext_video_feats=item.get("ext_video_feats"),
                  ext_audio_feats=item.get("ext_audio_feats"), source=f"{path.name} {where}")


def iter_samples(path: str | Path | Sequence[str | Path]) -> Iterator[Sample]:
    """Stream the samples of a data file or folder (or several), in order.

    ``Sample.index`` counts rows over all files read; a sample without ``id`` gets its index
    as id.

    Raises
    ------
    HbaFormatError
        For a missing or unreadable file, invalid JSON, or a row without a required field,
        naming the file, the row (and line) and the field.
    """
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    files = [f for p in paths for f in data_files(p)]
    index = 0
    for file in files:
        for where, item in _rows(file):
            yield _sample(item, index, file, where, file.parent)
            index += 1
