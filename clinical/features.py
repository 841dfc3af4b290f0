"""Feature helpers shared by the clinical modules: a batch of recordings through Bitbox's
processors, and cached sentence embeddings of texts."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from bitbox.io import atomic_path
from bitbox.log import logger

__all__ = ["run_batch", "cached_embeddings"]


def run_batch(paths: list[str], out_dir: Path, processors, *, workers: int, scheduler: str | None,
               progress: bool) -> tuple[dict[str, str], pd.DataFrame, dict[str, str]]:
    """Process ``paths`` with :func:`bitbox.process_folder` and sort the recordings into successes and failures.

    A success is a recording on which every one of ``processors`` worked (the features need
    them all); any other is a failure with the reasons of the processors that did not work.

    Parameters
    ----------
    paths : list of str
        The recordings to process.
    out_dir : Path
        The batch's output folder (resumable: recordings already done there are not recomputed).
    processors : str | list of (str | Processor)
        Processor names or configured instances, as :func:`bitbox.process_folder` takes them.
    workers : int
        Worker processes (1 = run in this process).
    scheduler : str | None
        A Dask scheduler (``"local"`` or an address), or ``None`` for the local process pool.
    progress : bool
        Show a progress bar.

    Returns
    -------
    done : dict of str to str
        Path -> recording_id of every success.
    summary : pd.DataFrame
        The batch's summary table (one row per recording of ``out_dir``), indexed by ``recording_id``.
    failed : dict of str to str
        Path -> ``"<processor>: <error or status>"`` of each processor that did not work, ``"; "``-joined.
    """
    from bitbox import process_folder

    result = process_folder(paths, out_dir, processors, workers=workers, scheduler=scheduler, progress=progress)
    manifest = result.manifest[result.manifest["path"].isin(set(map(str, paths)))]
    names = [p if isinstance(p, str) else p.name for p in ([processors] if isinstance(processors, str) else processors)]
    done, failed = {}, {}
    for row in manifest.to_dict("records"):
        missing = [n for n in names if row.get(f"{n}.status") != "ok"]
        if not missing:
            done[row["path"]] = row["recording_id"]
        else:
            failed[row["path"]] = "; ".join(f"{n}: {row.get(f'{n}.error') or row.get(f'{n}.status') or 'not run'}"
                                            for n in missing)
    return done, result.summary.set_index("recording_id"), failed


def _read_vector(path: Path) -> np.ndarray | None:
    """The cached vector, or None when the file is not a plain 1-D float array."""
    try:
        vector = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if not isinstance(vector, np.ndarray) or vector.ndim != 1 or vector.dtype.kind != "f":
        return None
    return vector


def cached_embeddings(out_dir: Path, texts: dict[str, str], model: str | None) -> dict[str, np.ndarray]:
    """Mean sentence embedding per text (sentences: its lines), cached as ``<sha256>.npy`` under ``out_dir``.

    Cache files are read with ``allow_pickle=False`` (a cache file cannot run code); one that
    is not a plain 1-D float array (damaged, or replaced) is recomputed and rewritten.

    Parameters
    ----------
    out_dir : Path
        The cache folder (created when missing). A file's name is the SHA-256 of the model and the text.
    texts : dict of str to str
        Key -> text, one sentence per line (blank lines are skipped).
    model : str | None
        A Hugging Face sentence-encoder folder; ``None`` for the packaged all-MiniLM-L6-v2.

    Returns
    -------
    dict of str to np.ndarray
        Key -> the mean of the text's unit-length sentence embeddings (1-D float array).
    """
    from bitbox.processors.text.encoder import embed_sentences

    out_dir.mkdir(parents=True, exist_ok=True)
    result = {}
    for key, sentences_text in texts.items():
        sentences = [s for s in sentences_text.split("\n") if s.strip()]
        digest = hashlib.sha256(f"{model or 'packaged'}\0{sentences_text}".encode()).hexdigest()
        path = out_dir / f"{digest}.npy"
        if path.is_file():
            cached = _read_vector(path)
            if cached is not None:
                result[key] = cached
                continue
            logger.warning("Embedding cache file %s is not a plain float vector; recomputing it", path.name)
        vector = embed_sentences(sentences, model=model).mean(axis=0)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, vector)
        result[key] = vector
    return result
