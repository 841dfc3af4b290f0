"""In-memory caches of loaded models, and one call that empties them all: :func:`clear_all`.

Loading a network (the speaker encoder, a Whisper model, a text encoder, a span model, the
voice-activity detector) takes seconds and memory; Bitbox loads each once per process and
keeps it in a :class:`Cache`. ``bitbox.clear_caches()`` (this module's :func:`clear_all`)
frees them all, e.g. between the stages of a long batch or in a notebook; the next use loads
the model again.

>>> models = Cache("doctest models")
>>> models.get_or_create("tiny", lambda: [0.0] * 3)
[0.0, 0.0, 0.0]
>>> len(models), "tiny" in models
(1, True)
>>> models.clear()
1
>>> len(models)
0
"""
from __future__ import annotations

import gc
import threading
import weakref
from collections import OrderedDict
from typing import Callable, Generic, Hashable, Iterator, TypeVar

from .log import logger

__all__ = ["Cache", "clear_all", "caches"]

V = TypeVar("V")

#: Every :class:`Cache` made with ``register=True`` (the default), for :func:`clear_all`.
_REGISTRY: "weakref.WeakSet[Cache]" = weakref.WeakSet()
_REGISTRY_LOCK = threading.Lock()


class Cache(Generic[V]):
    """A thread-safe keyed cache: each value is made once by its factory, then shared.

    Parameters
    ----------
    name : str
        What it holds, for logs and :func:`caches` (e.g. ``"speaker encoders"``).
    maxsize : int | None
        Most values kept; beyond it the least recently used one is dropped (``None``: no limit).
    register : bool
        Whether :func:`clear_all` clears it.

    Notes
    -----
    Two threads asking for the same missing key get one factory call: the second waits for
    the first's value. Different keys are made concurrently. A factory that raises stores
    nothing (the next call tries again). A factory must not ask its own cache for its own key.
    """

    def __init__(self, name: str, *, maxsize: int | None = None, register: bool = True) -> None:
        if maxsize is not None and (isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1):
            raise ValueError(f"Cache maxsize must be a positive integer or None; got {maxsize!r}")
        self.name = name
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: dict[Hashable, list] = {}  # key -> [lock, number of threads waiting or making it]
        if register:
            with _REGISTRY_LOCK:
                _REGISTRY.add(self)

    def get_or_create(self, key: Hashable, factory: Callable[[], V]) -> V:
        """The value of ``key``, made by ``factory()`` (once) when the cache does not hold it.

        Parameters
        ----------
        key : hashable
            What identifies the value (e.g. a resolved path with its size and modification time).
        factory : callable
            Makes the value; called without arguments, at most once per key at a time.

        Returns
        -------
        object
            The cached value.
        """
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            entry = self._pending.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                with self._lock:  # made by another thread while this one waited
                    if key in self._items:
                        self._items.move_to_end(key)
                        return self._items[key]
                value = factory()
                with self._lock:
                    self._items[key] = value
                    while self.maxsize is not None and len(self._items) > self.maxsize:
                        dropped, _ = self._items.popitem(last=False)
                        logger.debug("cache %s: dropped %r (more than %d)", self.name, dropped, self.maxsize)
                return value
        finally:
            with self._lock:
                entry[1] -= 1
                if entry[1] == 0 and self._pending.get(key) is entry:
                    del self._pending[key]

    def get(self, key: Hashable, default: V | None = None) -> V | None:
        """The value of ``key`` when cached, else ``default`` (nothing is made).

        Parameters
        ----------
        key : hashable
            What identifies the value, as given to :meth:`get_or_create`.
        default : object, optional
            What to return when ``key`` is not cached (``None`` unless given).

        Returns
        -------
        object
            The cached value, or ``default``. Looking a value up does not count as a use (its
            place in the least-recently-used order is kept).
        """
        with self._lock:
            return self._items.get(key, default)

    def clear(self) -> int:
        """Forget every value (a model is freed once nothing else refers to it).

        Returns
        -------
        int
            How many values were dropped.
        """
        with self._lock:
            n = len(self._items)
            self._items.clear()
        return n

    def keys(self) -> list[Hashable]:
        """The cached keys, least recently used first."""
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self.keys())

    def __repr__(self) -> str:
        size = "" if self.maxsize is None else f", maxsize={self.maxsize}"
        return f"Cache({self.name!r}{size}: {len(self)} cached)"


def caches() -> list[Cache]:
    """The registered caches (those :func:`clear_all` clears), by name."""
    with _REGISTRY_LOCK:
        return sorted(_REGISTRY, key=lambda c: c.name)


def clear_all() -> int:
    """Empty every registered :class:`Cache`: the loaded models are freed (``bitbox.clear_caches``).

    The next use of a model loads it again. Call it to give memory back, e.g. in a notebook
    after a batch, or in a long job between stages that use different models.

    Returns
    -------
    int
        How many cached values were dropped.

    Examples
    --------
    >>> import bitbox
    >>> bitbox.clear_caches() >= 0
    True
    """
    dropped = 0
    for cache in caches():
        n = cache.clear()
        if n:
            logger.debug("cache %s: cleared %d value(s)", cache.name, n)
        dropped += n
    if dropped:
        gc.collect()  # networks often hold reference cycles: free them now, not at the next collection
    return dropped
