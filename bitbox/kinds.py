"""Recording kinds: which files are recordings, of what kind, declared by the packages that read them.

The core knows no modality. A kind (``"video"``, ``"eeg"``, a plugin's ``"gaze"``) is a
:class:`Kind` object registered through the ``bitbox.kinds`` entry-point group, as xarray's
backends are; the built-in kinds come from ``bitbox.processors`` exactly as a third party's
would::

    [project.entry-points."bitbox.kinds"]
    gaze = "bitbox_eyetracker:GAZE"

A kind names the file extensions it opens and may sniff a file's content
(:attr:`Kind.can_open`, xarray's ``guess_can_open``), so that a ``.csv`` of eye-tracker samples
is a recording and another ``.csv`` is not. :func:`kind_of` is what :class:`~bitbox.Recording`
and the batch's discovery use. A kind that cannot be loaded, or two packages claiming one name,
is reported by :func:`broken_kinds` (and ``bitbox list``), never fatal for the others.

Examples
--------
>>> from bitbox.kinds import Kind
>>> gaze = Kind("gaze", extensions=(".csv",), description="eye-tracker samples (CSV)")
>>> gaze.extensions
frozenset({'.csv'})
"""
from __future__ import annotations

import functools
import os
import stat
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable

from .errors import PluginError
from .log import logger

__all__ = ["Kind", "available_kinds", "get_kind", "kind_of", "extensions", "broken_kinds", "refresh",
           "ENTRY_POINT_GROUP", "MEDIA_STREAMS"]

ENTRY_POINT_GROUP = "bitbox.kinds"

#: Media streams the core decodes for a kind that carries them (PyAV/FFmpeg): frames and sound.
MEDIA_STREAMS = frozenset({"video", "audio"})


@dataclass(frozen=True)
class Kind:
    """A kind of recording: its name, the extensions it opens and what it holds.

    Parameters
    ----------
    name : str
        The kind's name, used in :attr:`Processor.input_kinds <bitbox.Processor.input_kinds>`
        (lower case, e.g. ``"eeg"``); equal to its entry-point name.
    extensions : iterable of str
        File extensions, with the dot (``".edf"``); matched case-insensitively.
    description : str
        One line for ``bitbox list`` and the docs.
    streams : iterable of {"video", "audio"}
        Media streams the core can decode from such a file (:meth:`Recording.iter_frames
        <bitbox.Recording.iter_frames>`, :meth:`Recording.load_audio <bitbox.Recording.load_audio>`);
        empty for files a processor reads itself (EEG, text, CSV).
    can_open : callable or None
        ``can_open(path) -> bool``: whether a regular file with one of the extensions is such a
        recording (e.g. a CSV whose header has gaze columns). ``None``: every file with the extension
        is. It should read little (a header); an exception counts as "no". Give a module-level
        function (not a lambda or a closure), so that recordings can be sent to worker processes.
    """

    name: str
    extensions: frozenset[str] = field(default_factory=frozenset)
    description: str = ""
    streams: frozenset[str] = field(default_factory=frozenset)
    can_open: Callable[[Path], bool] | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.name.isidentifier() or self.name != self.name.lower():
            raise ValueError(f"A kind's name is a lower-case identifier (e.g. 'eeg'). Got {self.name!r}.")
        exts = frozenset(str(e).lower() for e in self.extensions)
        bad = sorted(e for e in exts if not e.startswith(".") or len(e) < 2)
        if bad or not exts:
            raise ValueError(f"Kind {self.name!r}: extensions are like '.csv' (with the dot), at least one. "
                             f"Got {sorted(exts) or 'none'}.")
        unknown = set(self.streams) - MEDIA_STREAMS
        if unknown:
            raise ValueError(f"Kind {self.name!r}: streams are among {sorted(MEDIA_STREAMS)}. Got {sorted(unknown)}.")
        object.__setattr__(self, "extensions", exts)
        object.__setattr__(self, "streams", frozenset(self.streams))

    def accepts(self, path: str | Path) -> bool:
        """Whether ``path`` is a recording of this kind: its extension, then :attr:`can_open`.

        Only a regular, readable file is sniffed: a FIFO, a device, a socket, a file that cannot be
        read or went away is judged by its extension alone, so that it is never opened here (reading a
        FIFO blocks) and :class:`~bitbox.Recording` refuses it with the reason.

        Parameters
        ----------
        path : str or Path
            The file; its extension is compared case-insensitively with :attr:`extensions`.

        Returns
        -------
        bool
            True when the extension is one of the kind's and :attr:`can_open` (when set) accepts a
            regular file; False otherwise, also when :attr:`can_open` raises (logged at debug level).
        """
        path = Path(path)
        if path.suffix.lower() not in self.extensions:
            return False
        if self.can_open is None:
            return True
        try:
            if not stat.S_ISREG(os.stat(path).st_mode) or not os.access(path, os.R_OK):
                return True  # judged by its extension: Recording then says what is wrong with it
        except OSError:
            return True
        try:
            return bool(self.can_open(path))
        except Exception as err:  # a sniffer must not break discovery: the file is simply not this kind
            logger.debug("%s: kind %r could not sniff it (%s: %s)", path, self.name, type(err).__name__, err)
            return False


def _dist_name(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"


@functools.lru_cache(maxsize=1)
def _load() -> tuple[dict[str, Kind], dict[str, str]]:
    found: dict[str, list[metadata.EntryPoint]] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        eps = found.setdefault(ep.name, [])
        if all(other.value != ep.value for other in eps):  # the same plugin seen twice on sys.path
            eps.append(ep)
    good: dict[str, Kind] = {}
    broken: dict[str, str] = {}
    for name, eps in sorted(found.items()):
        if len(eps) > 1:
            where = "; ".join(f"{ep.value} (from {_dist_name(ep)})" for ep in eps)
            broken[name] = f"the kind {name!r} is registered more than once: {where}. Uninstall one of these packages."
            continue
        ep = eps[0]
        try:
            obj = ep.load()
        except Exception as err:  # a plugin's import can fail in any way: report it, keep the others
            broken[name] = (f"the kind {name!r} ({ep.value}, from {_dist_name(ep)}) could not be loaded: "
                            f"{type(err).__name__}: {err}")
            continue
        if not isinstance(obj, Kind):
            broken[name] = f"the kind {name!r} ({ep.value}) is not a bitbox.kinds.Kind object"
        elif obj.name != name:
            broken[name] = f"the kind {ep.value} is registered as {name!r} but says name = {obj.name!r}"
        else:
            good[name] = obj
    return good, broken


def refresh() -> None:
    """Forget the kinds found so far (after installing or removing a plugin)."""
    _load.cache_clear()


def available_kinds() -> dict[str, Kind]:
    """The installed kinds by name, sorted (broken ones left out: see :func:`broken_kinds`)."""
    return dict(_load()[0])


def broken_kinds() -> dict[str, str]:
    """Kinds that are installed but cannot be used, with the reason."""
    return dict(_load()[1])


def get_kind(name: str) -> Kind:
    """The kind registered as ``name``.

    Parameters
    ----------
    name : str
        The kind's name (its entry-point name in the ``bitbox.kinds`` group, e.g. ``"video"``).

    Returns
    -------
    Kind
        The installed kind.

    Raises
    ------
    PluginError
        When no such kind is installed (the installed ones are listed), or it is broken.
    """
    good, broken = _load()
    if name in broken:
        raise PluginError(broken[name])
    if name not in good:
        raise PluginError(f"No recording kind named {name!r}. Installed kinds: {', '.join(good) or 'none'}.")
    return good[name]


def extensions(kinds: str | Iterable[str] | None = None) -> frozenset[str]:
    """The file extensions of ``kinds`` (a name or several; ``None``: every installed kind).

    Parameters
    ----------
    kinds : str, iterable of str or None, default None
        One kind's name, several names, or ``None`` for every installed (not broken) kind.

    Returns
    -------
    frozenset of str
        The extensions, lower case with the dot (``".edf"``).

    Raises
    ------
    PluginError
        When a name is not an installed kind, or a broken one (:func:`get_kind`).
    """
    if kinds is None:
        names = list(available_kinds())
    else:
        names = [kinds] if isinstance(kinds, str) else list(kinds)
    return frozenset(ext for name in names for ext in get_kind(name).extensions)


def kind_of(path: str | Path, kinds: Iterable[str] | None = None) -> str | None:
    """The kind of the recording at ``path``, or ``None`` when no installed kind accepts it.

    Parameters
    ----------
    path : str | Path
        The file.
    kinds : iterable of str or None
        Consider only these kinds (``None``: all installed).

    Returns
    -------
    str or None
        The kind whose extensions include the file's and whose :attr:`Kind.can_open` (if any)
        accepts it. When several do, a kind that sniffed the content wins over one that only
        knows the extension; among equals, the first name in alphabetical order.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    table = available_kinds()
    candidates = [table[k] for k in (sorted(kinds) if kinds is not None else table) if k in table
                  and suffix in table[k].extensions]
    if not candidates:
        return None
    sniffed = [k for k in candidates if k.can_open is not None and k.accepts(path)]
    if sniffed:
        return sniffed[0].name
    plain = [k for k in candidates if k.can_open is None]
    return plain[0].name if plain else None
