"""The names a batch writes in its output folder OUT, and the recording ids they keep from being."""
from __future__ import annotations

from pathlib import Path

from ..export import EXPORT_DIR
from ..fileio import LOCK_FILE
from ..outcomes import MANIFEST_FILE, SUMMARY_FILE
from ..report import INDEX_PAGE, REPORT_DIR

__all__ = ["SCRATCH_DIR", "CODEBOOK_FILE", "CODEBOOK_JSON", "RESERVED_IDS", "LOCK_FILE", "MANIFEST_FILE",
           "SUMMARY_FILE", "not_reserved"]

#: Folder of OUT holding each run's scratch folder (spill files, job files of worker processes).
SCRATCH_DIR = ".bitbox-tmp"
#: What each column of summary.csv holds (written beside it).
CODEBOOK_FILE = "codebook.csv"
#: The codebook with value labels as objects and why each empty cell of summary.csv is empty.
CODEBOOK_JSON = "codebook.json"
#: Names the batch and the report write in OUT or in OUT/report/ (``<id>.html``), compared
#: case-insensitively (macOS and Windows file systems ignore case): no recording gets them as id.
RESERVED_IDS = frozenset(name.casefold() for name in (MANIFEST_FILE, SUMMARY_FILE, CODEBOOK_FILE, CODEBOOK_JSON,
                                                      REPORT_DIR, EXPORT_DIR, Path(INDEX_PAGE).stem, LOCK_FILE,
                                                      SCRATCH_DIR))


def not_reserved(rid: str) -> str:
    """A recording id that is none of OUT's own names.

    Parameters
    ----------
    rid : str
        A safe recording id.

    Returns
    -------
    str
        ``rid``, or ``rid`` + ``_rec`` when it is one of :data:`RESERVED_IDS`.
    """
    return f"{rid}_rec" if rid.casefold() in RESERVED_IDS else rid
