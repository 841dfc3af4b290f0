"""Bitbox's one logger and the ``verbose`` switch of public functions (as in MNE-Python)."""
from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import re
from typing import Any, Callable, Iterator, TypeVar

__all__ = ["logger", "set_log_level", "use_log_level", "verbose", "escape_controls"]

logger = logging.getLogger("bitbox")
logger.addHandler(logging.NullHandler())

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR, "critical": logging.CRITICAL}

F = TypeVar("F", bound=Callable[..., Any])

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    r"""``text`` with control characters (C0, DEL, C1: newlines, escape sequences that would move a
    terminal's cursor, retitle it or clear it) shown as ``\xNN``, so that a file name cannot forge a
    log line or rewrite the screen when a table is printed.

    Examples
    --------
    >>> escape_controls("a\x1b[2Jb\nc")
    'a\\x1b[2Jb\\x0ac'
    """
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _to_level(verbose: bool | str | int | None) -> int | None:
    if verbose is None:
        return None
    if isinstance(verbose, bool):
        return logging.INFO if verbose else logging.WARNING
    if isinstance(verbose, str):
        try:
            return _LEVELS[verbose.lower()]
        except KeyError:
            raise ValueError(
                f"verbose must be a bool, an int or one of {sorted(_LEVELS)}. Got {verbose!r} instead."
            ) from None
    return int(verbose)


class SafeFormatter(logging.Formatter):
    """A formatter whose messages show control characters as ``\\xNN``: a file name in a message
    (a newline, terminal escape sequences) can neither forge a log line nor rewrite the screen."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))


def set_log_level(verbose: bool | str | int | None = "info") -> None:
    """Set the level of the ``bitbox`` logger and make sure its messages are shown.

    Parameters
    ----------
    verbose : bool | str | int | None
        ``True``/``"info"`` shows progress messages, ``False``/``"warning"`` only problems,
        ``"debug"`` everything.
    """
    level = _to_level(verbose)
    if level is None:
        return
    logger.setLevel(level)
    _ensure_handler()


def _ensure_handler() -> None:
    """Give the ``bitbox`` logger a handler writing to stderr, unless it (or the root logger, which it
    propagates to, as set by ``logging.basicConfig``) has one."""
    if any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.NullHandler)
           for h in (*logger.handlers, *logging.getLogger().handlers)):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(SafeFormatter("%(levelname)s [bitbox] %(message)s"))
    logger.addHandler(handler)


@contextlib.contextmanager
def use_log_level(verbose: bool | str | int | None) -> Iterator[None]:
    """Temporarily change the logger's level (no-op for ``None``)."""
    level = _to_level(verbose)
    if level is None:
        yield
        return
    old = logger.level
    logger.setLevel(level)
    _ensure_handler()  # verbose=True shows its messages even before set_log_level() has run
    try:
        yield
    finally:
        logger.setLevel(old)


def verbose(func: F) -> F:
    """Decorator giving a function a ``verbose`` keyword that sets the log level for the call."""
    signature = inspect.signature(func)
    if "verbose" not in signature.parameters:
        raise TypeError(f"{func.__qualname__} must take a 'verbose' parameter to use @verbose")

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind_partial(*args, **kwargs)
        with use_log_level(bound.arguments.get("verbose")):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]

