"""Discovery of processors through the ``bitbox.processors`` entry-point group.

Built-in processors register exactly like third-party ones::

    [project.entry-points."bitbox.processors"]
    face = "bitbox.processors.face:FaceProcessor"

Discovery is cached (:func:`refresh` clears the cache after installing a plugin). A plugin
that cannot be imported, two distributions claiming the same name, or an entry point that
is not a :class:`~bitbox.processor.Processor` subclass is reported as a
:class:`~bitbox.errors.PluginError` when that name is used, and listed by ``bitbox list``.
"""
from __future__ import annotations

import difflib
import functools
from importlib import metadata
from typing import Any

from . import measurements
from .errors import PluginError, ProcessorNotFoundError
from .log import logger

__all__ = ["available_processors", "get_processor_class", "make_processor", "refresh", "broken_plugins",
           "default_processors", "default_conflicts", "processor_classes", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "bitbox.processors"


@functools.lru_cache(maxsize=1)
def _entry_points() -> tuple[dict[str, metadata.EntryPoint], dict[str, str]]:
    found: dict[str, list[metadata.EntryPoint]] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, [])
        if all(other.value != ep.value for other in found[ep.name]):  # same plugin seen twice on sys.path
            found[ep.name].append(ep)
    good: dict[str, metadata.EntryPoint] = {}
    broken: dict[str, str] = {}
    for name, eps in sorted(found.items()):
        if len(eps) > 1:
            where = "; ".join(f"{ep.value} (from {_dist_name(ep)})" for ep in eps)
            broken[name] = f"the processor name {name!r} is registered more than once: {where}. " \
                           "Uninstall one of these packages."
        else:
            good[name] = eps[0]
    return good, broken


def _dist_name(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"


def refresh() -> None:
    """Forget cached discovery results, of processors and of kinds (call after installing or removing a plugin)."""
    from . import kinds

    _entry_points.cache_clear()
    _load.cache_clear()
    _defaults.cache_clear()
    kinds.refresh()


def available_processors() -> list[str]:
    """Names of the installed processors, sorted (broken plugins excluded; see :func:`broken_plugins`)."""
    return sorted(_entry_points()[0])


def broken_plugins() -> dict[str, str]:
    """Installed processor names that cannot be used, with the reason."""
    good, broken = _entry_points()
    problems = dict(broken)
    for name in good:
        try:
            _load(name)
        except PluginError as err:
            problems[name] = str(err)
    return dict(sorted(problems.items()))


@functools.lru_cache(maxsize=None)
def _load(name: str) -> type:
    from .processor import Processor

    ep = _entry_points()[0][name]
    try:
        obj = ep.load()
    except Exception as err:  # a plugin's import can fail in any way; report it, don't hide it
        raise PluginError(f"The processor plugin {name!r} ({ep.value}, from {_dist_name(ep)}) could not be "
                          f"loaded: {type(err).__name__}: {err}") from err
    if not (isinstance(obj, type) and issubclass(obj, Processor)):
        raise PluginError(f"The processor plugin {name!r} ({ep.value}) is not a subclass of "
                          "bitbox.Processor.")
    if obj.name != name:
        raise PluginError(f"The processor plugin {ep.value} is registered as {name!r} but its class "
                          f"says name = {obj.name!r}; they must be equal.")
    return obj


def get_processor_class(name: str) -> type:
    """The processor class registered under ``name``.

    Parameters
    ----------
    name : str
        The processor's name (its ``bitbox.processors`` entry point).

    Returns
    -------
    type
        The :class:`~bitbox.Processor` subclass.

    Raises
    ------
    ProcessorNotFoundError
        With the installed names and a "Did you mean" suggestion.
    PluginError
        When the plugin is installed but broken.
    """
    good, broken = _entry_points()
    if name in broken:
        raise PluginError(broken[name])
    if name not in good:
        known = sorted(good)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ProcessorNotFoundError(f"No processor named {name!r}.{hint} Installed processors: "
                                     f"{', '.join(known) or 'none'}.")
    return _load(name)


def make_processor(name: str, **params: Any):
    """An instance of the processor ``name`` with ``params`` set (validated when it runs).

    Parameters
    ----------
    name : str
        The processor's name.
    **params
        Its parameters (see the processor's class docstring).

    Returns
    -------
    Processor
        The processor, ready to run.
    """
    cls = get_processor_class(name)
    processor = cls()
    processor.set_params(**params)
    logger.debug("made processor %r", processor)
    return processor


def processor_classes() -> dict[str, type]:
    """The classes of the installed processors that load, by name (broken ones left out: :func:`broken_plugins`)."""
    classes = {}
    for name in available_processors():
        try:
            classes[name] = _load(name)
        except PluginError as err:
            logger.debug("processor %r left out: %s", name, err)
    return classes


@functools.lru_cache(maxsize=1)
def _defaults() -> dict[str, tuple[str, ...]]:
    """``{kind: (chosen, *also claiming)}``: the processors declaring themselves the default of each kind
    (:attr:`Processor.default_for <bitbox.Processor.default_for>`), a built-in one first, then by name."""
    claims: dict[str, list[str]] = {}
    classes = processor_classes()
    for name, cls in classes.items():
        for kind in cls.default_for:
            claims.setdefault(kind, []).append(name)
    table = {}
    for kind, names in sorted(claims.items()):
        names.sort(key=lambda n: (not classes[n].__module__.startswith("bitbox.processors."), n))
        if len(names) > 1:
            logger.warning("several processors say they are the default for %s recordings: %s; %r runs when none "
                           "is named (name the processors to choose)", kind, ", ".join(names), names[0])
        table[kind] = tuple(names)
    return table


def default_conflicts() -> dict[str, tuple[str, ...]]:
    """Kinds that several installed processors claim as their default: ``{kind: (chosen, *others)}``."""
    return {kind: names for kind, names in _defaults().items() if len(names) > 1}


def default_processors(kind: str) -> tuple[str, ...]:
    """The processor run on a recording of ``kind`` when none is named: the one declaring it in
    :attr:`Processor.default_for <bitbox.Processor.default_for>` (when several do, a built-in one,
    then the first by name; logged, and listed by ``bitbox list``).

    Parameters
    ----------
    kind : str
        A recording kind's name (:mod:`bitbox.kinds`, e.g. ``"video"`` or ``"eeg"``).

    Returns
    -------
    tuple of str
        The name of the one default processor, as a one-element tuple.

    Raises
    ------
    ProcessorNotFoundError
        When no installed processor is the default for ``kind``: those that read it are listed, and
        the processors that are installed but cannot be loaded, with the reason.
    """
    table = _defaults()
    if kind in table:
        return table[kind][:1]
    classes = processor_classes()
    readers = sorted(name for name, cls in classes.items() if kind in cls.input_kinds)
    broken = broken_plugins()
    message = (f"No processor is the default for {kind} recordings; name the processors to run"
               + (f" (those that read {kind}: {', '.join(readers)})." if readers else
                  f" (none of the installed processors reads {kind}; see `bitbox list`)."))
    if broken:
        message += " Installed but broken: " + "; ".join(f"{name}: {reason}" for name, reason in broken.items())
    raise ProcessorNotFoundError(message)


def _lookup(name: str) -> type | None:
    """The installed class of ``name``, or ``None`` (not installed, or broken)."""
    try:
        return get_processor_class(name)
    except (PluginError, ProcessorNotFoundError):
        return None


measurements.use_processor_lookup(_lookup)  # results find their processor's declarations (plots, extra outputs)
