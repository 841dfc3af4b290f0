"""Discovery: which files under the inputs are recordings, and their batch-unique ids.

Folders are searched recursively in sorted order; hidden files (a name, or a folder on the way,
starting with ``.``) are skipped and said so; a file that accompanies a recording beside it (a
companion, e.g. its transcript) is not a recording of its own; ids are safe folder names, unique
within the batch (compared case-insensitively), none of OUT's own names
(:data:`~bitbox.batch.RESERVED_IDS`). A BIDS root (a folder with ``dataset_description.json``) is
searched by BIDS's rules (:mod:`bitbox.batch.bids`): its BIDS-named data files under ``sub-*/``, never its
sidecars nor ``derivatives/``, ``sourcedata/`` or ``code/``, with the BIDS basenames as ids.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable

from .. import kinds as _kinds
from ..errors import NoRecordingsError
from ..fileio import display_path, safe_name
from ..log import logger
from .bids import bids_basename, bids_recordings, bids_root
from .jobs import Job
from .layout import not_reserved

__all__ = ["discover", "path_tag"]


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _is_candidate(path: Path) -> bool:
    """A regular file, or a FIFO, device or socket (found so that it is refused with a reason, not
    skipped in silence; :class:`~bitbox.recording.Recording` refuses it without opening it)."""
    return path.is_file() or path.is_fifo() or path.is_char_device() or path.is_block_device() or path.is_socket()


def discover(inputs: Iterable[str | Path], kinds: Iterable[str], exclude: Path | None = None,
             companions: dict[str, Iterable[str]] | None = None) -> tuple[list[Job], list[tuple[Job, str]]]:
    """Find recordings under ``inputs`` (files or folders, searched recursively in sorted order).

    In a folder, a file is a recording when an installed kind among ``kinds`` accepts it
    (:func:`bitbox.kinds.kind_of`: its extension, and its content where the kind sniffs it), unless it
    is a companion: ``companions`` maps a kind to the kinds of the recordings its files accompany
    (:attr:`Processor.companions <bitbox.Processor.companions>`), e.g. ``{"text": ["audio", "video"]}``:
    ``talk.txt`` beside ``talk.wav`` is that recording's transcript, not a recording.

    A folder that is a BIDS root, or lies inside one's ``sub-<label>/`` folders, is searched by BIDS's
    rules (:func:`bitbox.batch.bids.bids_recordings`): only BIDS-named files under ``sub-*/`` that are
    not metadata (``.json``, ``.tsv``), each with its BIDS basename as id.

    Parameters
    ----------
    inputs : iterable of str or Path
        Files (always attempted, whatever their extension) and folders (searched for recordings
        of ``kinds``).
    kinds : iterable of str
        The recording kinds to look for (those the run's processors read).
    exclude : Path or None
        A folder whose files are never recordings (the batch's output folder).
    companions : dict or None
        ``{kind: kinds of the recordings its files accompany}`` (see above).

    Returns
    -------
    jobs : list of Job
        Recordings of the given kinds, with batch-unique ids based on relative paths, made
        safe as folder names (:func:`bitbox.fileio.safe_name`: no ``..``, separators, control
        characters or leading dots). FIFOs, devices and sockets with a recording's extension
        are jobs too: processing refuses them with the reason, without opening them.
    problems : list of (Job, reason)
        Folders without recordings.

    Raises
    ------
    NoRecordingsError
        When an input does not exist (checked for every input before anything is found).
    """
    inputs = list(inputs)
    missing = [str(item) for item in inputs if not Path(item).exists()]
    if missing:
        raise NoRecordingsError(f"{'These inputs do' if len(missing) > 1 else 'This input does'} not exist: "
                                f"{', '.join(map(repr, missing))}. Check the path(s); nothing was processed.")
    kinds = sorted(kinds)
    suffixes = set(_kinds.extensions(kinds))
    found: list[tuple[str, Path]] = []
    problems: list[tuple[Job, str]] = []
    exclude = exclude.resolve() if exclude is not None else None
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            root = path
            named = sorted(p for p in root.rglob("*") if p.suffix.lower() in suffixes and _is_candidate(p)
                           and not (exclude is not None and exclude in p.resolve().parents))
            bids = bids_root(root)
            if bids is not None:  # BIDS: data files by their entities, never sidecars, derivatives/ ...
                named = bids_recordings(bids, root, named)
            kind = {p: _kinds.kind_of(p, kinds) for p in named}
            candidates = [p for p in named if kind[p] is not None]
            refused = [p for p in named if kind[p] is None and not _is_hidden(p, root)]
            if refused:  # a kind that reads the content said no: named, never skipped in silence
                shown = ", ".join(display_path(p) for p in refused[:3]) + (", ..." if len(refused) > 3 else "")
                logger.info("%d file(s) with a recording's extension are not recordings by their content (e.g. a "
                            "CSV that is not an eye-tracker export) and were left out: %s", len(refused), shown)
            files = [p for p in candidates if not _is_hidden(p, root)]
            _log_hidden([p for p in candidates if _is_hidden(p, root)])
            if not files:
                content = (f"; {len(refused)} file(s) with those extensions are not recordings by their content, "
                           f"e.g. {display_path(refused[0].name)}" if refused else "")
                problems.append((Job(not_reserved(safe_name(path.name or path.resolve().name, fallback="inputs")),
                                     str(path)),
                                 f"no recordings found in this folder (searched recursively for "
                                 f"{', '.join(sorted(suffixes))}{content})"))
            files = _without_companions(files, kind, companions or {})
            for file in files:
                found.append((bids_basename(file) if bids is not None else
                              str(file.relative_to(root).with_suffix("")).replace(os.sep, "__"), file))
        else:
            # A file named explicitly is always attempted, so a wrong type gets a clear error.
            found.append((path.stem, path))
    return _unique_ids(found), problems


def _log_hidden(hidden: list[Path]) -> None:
    """Say which files a folder search left out because they are hidden (a name, or a folder on the
    way, starting with ``.``), so that none is skipped in silence. macOS's ``._`` companion files
    (resource forks, not recordings) are only counted."""
    if not hidden:
        return
    forks = [p for p in hidden if p.name.startswith("._")]
    others = [p for p in hidden if not p.name.startswith("._")]
    if others:
        shown = ", ".join(display_path(p) for p in others[:3]) + (", ..." if len(others) > 3 else "")
        logger.warning("%d hidden file(s) skipped (their name, or a folder on the way, starts with '.'): %s. "
                       "Give such a file by name to process it, or rename it.", len(others), shown)
    if forks:
        logger.info("%d macOS '._' companion file(s) skipped (not recordings)", len(forks))


def _without_companions(files: list[Path], kind: dict[Path, str | None],
                        companions: dict[str, Iterable[str]]) -> list[Path]:
    """Drop the files that are companions of a recording beside them (same stem; see :func:`discover`).

    Such a file (e.g. a transcript) is read by the processors of that recording, not processed as a
    recording of its own. ``kind`` gives each file's kind.
    """
    stems: dict[str | None, set[Path]] = {}
    for path in files:
        stems.setdefault(kind[path], set()).add(path.with_suffix(""))
    kept = []
    for path in files:
        owners = companions.get(kind[path], ())
        if any(path.with_suffix("") in stems.get(owner, ()) for owner in owners):
            logger.debug("%s belongs to the recording beside it (a %s companion), not a recording", path, kind[path])
            continue
        kept.append(path)
    return kept


def path_tag(path: Path) -> str:
    """8 hex digits naming a file's absolute path, to tell apart two files that would get one id.

    Parameters
    ----------
    path : Path
        The file.

    Returns
    -------
    str
        The first 8 hex digits of the SHA-1 of its resolved path.
    """
    return hashlib.sha1(str(path.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:8]


def _unique_ids(found: list[tuple[str, Path]]) -> list[Job]:
    """Safe, batch-unique ids: the same sanitised id for two files gets the extension, then a hash.

    Ids are compared case-insensitively (two ids differing only in case would share a folder on
    macOS or Windows); one of OUT's own names gets ``_rec`` appended; a file given twice is one job.
    """
    unique: dict[Path, tuple[str, Path]] = {}
    for base, path in found:
        unique.setdefault(path.resolve(), (not_reserved(safe_name(base)), path))
    found = list(unique.values())
    counts: dict[str, int] = {}
    for base, _ in found:
        counts[base.casefold()] = counts.get(base.casefold(), 0) + 1
    jobs: list[Job] = []
    seen: set[str] = set()
    for base, path in found:
        rid = base
        if counts[base.casefold()] > 1:
            rid = f"{base}_{safe_name(path.suffix.lstrip('.').lower())}" if path.suffix else base
            if rid.casefold() in seen:
                rid = f"{rid}_{path_tag(path)}"
        seen.add(rid.casefold())
        jobs.append(Job(rid, str(path)))
    return jobs
