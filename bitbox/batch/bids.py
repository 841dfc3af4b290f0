"""BIDS datasets as input and output: which files of a BIDS root are recordings, and a derivative's description.

A folder holding ``dataset_description.json`` is a BIDS root (https://bids-specification.readthedocs.io).
Inside it, recordings are the BIDS-named data files under the ``sub-<label>/`` folders (found by their
entities, :func:`mne_bids.get_entities_from_fname`) that an installed kind accepts, as loose files are;
the metadata beside them (``.json`` sidecars, ``.tsv`` tables such as ``events.tsv`` or
``channels.tsv``, ``README``, ``CHANGES``, ``participants.tsv``) never are, nor anything in
``derivatives/``, ``sourcedata/``, ``code/``, ``stimuli/`` or ``phenotype/``. Recording ids are
the BIDS basenames (``sub-01_ses-1_task-oddball_run-1_eeg``).

This module knows BIDS's layout only, no modality: what a processor reads from the sidecars of its
recordings (e.g. an EEG processor's events and channels) is the processor's.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from ..errors import ParameterError
from ..fileio import display_path, write_json
from ..log import logger

__all__ = ["DATASET_DESCRIPTION", "NOT_RECORDING_FOLDERS", "METADATA_EXTENSIONS", "bids_root", "bids_basename",
           "bids_recordings", "derivative_description", "check_derivative_target", "write_derivative_description"]

#: The file that makes a folder a BIDS root (and a derivative dataset's description).
DATASET_DESCRIPTION = "dataset_description.json"
#: Top-level folders of a BIDS root that hold no raw recordings: skipped (and said so once).
NOT_RECORDING_FOLDERS = ("derivatives", "sourcedata", "code", "stimuli", "phenotype")
#: Extensions of BIDS metadata and tabular files (sidecars, events, channels, scans): never recordings in a BIDS root.
METADATA_EXTENSIONS = (".json", ".tsv", ".tsv.gz", ".bval", ".bvec")
#: BIDS version written in a derivative's description when the source dataset states none.
DEFAULT_BIDS_VERSION = "1.9.0"


def _has_description(folder: Path) -> bool:
    return (folder / DATASET_DESCRIPTION).is_file()


def bids_root(folder: str | Path) -> Path | None:
    """The BIDS dataset whose recordings a folder holds: the folder itself when it is a BIDS root, or the
    BIDS root above it when the folder lies inside one of its ``sub-<label>/`` folders.

    Parameters
    ----------
    folder : str or Path
        A folder given as input.

    Returns
    -------
    Path or None
        The BIDS root (absolute), or None: the folder is not part of a BIDS dataset's raw data (a
        folder in ``derivatives/`` or ``sourcedata/`` is searched as loose files are).
    """
    folder = Path(folder).absolute()
    if _has_description(folder):
        return folder
    for parent in folder.parents:
        if _has_description(parent):
            first = folder.relative_to(parent).parts[0]
            return parent if first.startswith("sub-") else None
    return None


def bids_basename(path: str | Path) -> str:
    """A BIDS file's basename: its name without the extension (``sub-01_task-rest_eeg.vhdr`` ->
    ``sub-01_task-rest_eeg``; BIDS labels hold no ``.``, so ``.tsv.gz`` goes whole).

    Parameters
    ----------
    path : str or Path
        A BIDS-named file.

    Returns
    -------
    str
        The basename.
    """
    return Path(path).name.partition(".")[0]


def _is_metadata(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(METADATA_EXTENSIONS)


def _entities(path: Path) -> dict[str, str | None] | None:
    """The BIDS entities of a file's name (None when it is not BIDS-named: no ``sub-<label>`` first)."""
    from mne_bids import get_entities_from_fname

    if not path.name.startswith("sub-"):
        return None
    try:
        return get_entities_from_fname(path.name, on_error="ignore", verbose="error")
    except Exception:  # a name mne-bids cannot parse is not BIDS-named
        return None


def bids_recordings(root: Path, folder: Path, files: Iterable[Path]) -> list[Path]:
    """Of the files found under ``folder`` (inside the BIDS dataset ``root``), those that can be recordings.

    A recording lies under a ``sub-<label>/`` folder of the root, is BIDS-named with that subject
    (``sub-<label>_..._<suffix>.<ext>``) and is not a metadata file (:data:`METADATA_EXTENSIONS`).
    What is left out is logged: the top-level folders that hold no recordings
    (:data:`NOT_RECORDING_FOLDERS`) once, the sidecars as a count, files that are not BIDS-named by name.

    Parameters
    ----------
    root : Path
        The BIDS root (:func:`bids_root`).
    folder : Path
        The folder searched (the root or a folder inside one of its ``sub-<label>/`` folders).
    files : iterable of Path
        The files found there that an installed kind would take (by extension).

    Returns
    -------
    list of Path
        The files that are BIDS recordings, in the given order.
    """
    root = Path(root).absolute()
    kept: list[Path] = []
    sidecars: list[Path] = []
    unnamed: list[Path] = []
    for path in files:
        parts = Path(path).absolute().relative_to(root).parts
        if len(parts) < 2 or not parts[0].startswith("sub-"):
            if parts[0] not in NOT_RECORDING_FOLDERS:  # dataset_description.json, participants.json ...
                sidecars.append(path)
        elif _is_metadata(path):
            sidecars.append(path)
        else:
            entities = _entities(path)
            if entities is None or f"sub-{entities.get('subject')}" != parts[0]:
                unnamed.append(path)
            else:
                kept.append(path)
    if Path(folder).absolute() == root:
        present = [name for name in NOT_RECORDING_FOLDERS if (root / name).is_dir()]
        if present:
            logger.info("BIDS dataset %s: %s skipped (no raw recordings there; give a file there by name to "
                        "process it)", display_path(root), ", ".join(f"{name}/" for name in present))
    if sidecars:
        logger.info("BIDS dataset %s: %d metadata file(s) (sidecars, dataset files; e.g. %s) are not recordings",
                    display_path(root), len(sidecars), display_path(sidecars[0].name))
    if unnamed:
        shown = ", ".join(display_path(p) for p in unnamed[:3]) + (", ..." if len(unnamed) > 3 else "")
        logger.warning("BIDS dataset %s: %d file(s) under sub-*/ are not BIDS-named (sub-<label>_..._<suffix>) and "
                       "were left out: %s. Rename them, or give them by name to process them.",
                       display_path(root), len(unnamed), shown)
    return kept


def _read_description(root: Path) -> dict:
    try:
        with open(root / DATASET_DESCRIPTION, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _bitbox_version() -> str:
    from ..processor import package_versions  # read once per process, as the outputs' provenance states it

    return package_versions()["bitbox"]


def derivative_description(sources: Iterable[str | Path]) -> dict:
    """The ``dataset_description.json`` of a BIDS derivative dataset made by Bitbox from ``sources``.

    Parameters
    ----------
    sources : iterable of str or Path
        The BIDS roots the recordings came from.

    Returns
    -------
    dict
        ``Name``, ``BIDSVersion`` (the first source's, else :data:`DEFAULT_BIDS_VERSION`),
        ``DatasetType`` ``"derivative"``, ``GeneratedBy`` (Bitbox's name and version),
        ``SourceDatasets`` (one ``{"URL": "bids:<link>:"}`` per source, with its ``DOI`` when its
        description has a ``DatasetDOI``) and ``DatasetLinks`` (each link's ``file://`` URI).
    """
    roots = [Path(s).absolute() for s in sources]
    described = [_read_description(root) for root in roots]
    names = [str(d.get("Name") or root.name) for d, root in zip(described, roots)]
    links: dict[str, str] = {}
    datasets = []
    for i, (root, desc) in enumerate(zip(roots, described)):
        link = "raw" if len(roots) == 1 else f"raw{i + 1}"
        links[link] = root.as_uri()
        entry = {"URL": f"bids:{link}:"}
        if desc.get("DatasetDOI"):
            entry["DOI"] = str(desc["DatasetDOI"])
        datasets.append(entry)
    return {
        "Name": f"Bitbox measurements of {', '.join(names)}" if names else "Bitbox measurements",
        "BIDSVersion": str(next((d["BIDSVersion"] for d in described if d.get("BIDSVersion")),
                                DEFAULT_BIDS_VERSION)),
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "bitbox", "Version": _bitbox_version(),
                         "Description": "Behavioral measurements from recordings of people (bitbox run "
                                        "--bids-derivative); one folder per recording, named by its BIDS basename"}],
        "SourceDatasets": datasets,
        "DatasetLinks": links,
    }


def check_derivative_target(out_dir: Path, inputs: Iterable[str | Path]) -> list[Path]:
    """The BIDS roots of ``inputs``, checked for writing ``out_dir`` as their derivative.

    Parameters
    ----------
    out_dir : Path
        The output folder.
    inputs : iterable of str or Path
        The run's inputs.

    Returns
    -------
    list of Path
        The BIDS roots of the inputs (folders, or the dataset of a file given by name), without repeats
        (empty when an input does not exist: the discovery of the recordings says so).

    Raises
    ------
    ParameterError
        When no input is part of a BIDS dataset, or ``out_dir`` holds a ``dataset_description.json``
        that is not a Bitbox derivative's (e.g. the raw dataset itself): it is never overwritten.
    """
    inputs = list(inputs)
    roots: list[Path] = []
    for item in inputs:
        path = Path(item).absolute()
        root = bids_root(path if path.is_dir() else path.parent)
        if root is None and not path.is_dir():  # a file given by name in sub-*/.../ of a dataset
            root = next((p for p in path.parents if _has_description(p)), None)
        if root is not None and root not in roots:
            roots.append(root)
    if not roots and all(Path(item).exists() for item in inputs):
        raise ParameterError("--bids-derivative (bids_derivative=True) needs a BIDS dataset as input: a folder "
                             f"with {DATASET_DESCRIPTION}, or files inside one. None of the inputs is; run without "
                             "it, or give the dataset's root. Nothing was processed.")
    existing = Path(out_dir) / DATASET_DESCRIPTION
    if existing.is_file():
        desc = _read_description(Path(out_dir))
        ours = desc.get("DatasetType") == "derivative" and any(
            isinstance(g, dict) and g.get("Name") == "bitbox" for g in desc.get("GeneratedBy") or [])
        if not ours:
            raise ParameterError(f"The output folder {out_dir} already holds a {DATASET_DESCRIPTION} that is not a "
                                 "Bitbox derivative's (is it the raw dataset itself?); it is never overwritten. Write "
                                 "the derivative elsewhere, e.g. -o ROOT/derivatives/bitbox. Nothing was processed.")
    return roots


def write_derivative_description(out_dir: str | Path, sources: Iterable[str | Path]) -> Path:
    """Write OUT's ``dataset_description.json`` as a BIDS derivative of ``sources`` (atomically).

    Parameters
    ----------
    out_dir : str or Path
        The output folder (written while the batch holds its lock).
    sources : iterable of str or Path
        The BIDS roots of the inputs.

    Returns
    -------
    Path
        The file written.
    """
    target = Path(out_dir) / DATASET_DESCRIPTION
    write_json(target, derivative_description(sources))
    logger.info("BIDS derivative: %s written", display_path(target))
    return target
