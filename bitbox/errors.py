"""The exceptions Bitbox raises.

Every error a user can cause derives from :class:`BitboxError`, so a batch can catch
exactly those and record them as a failed recording with the message as its reason.
Messages name the file, say what is wrong and what to do about it.
"""
from __future__ import annotations

from pathlib import Path

__all__ = [
    "BitboxError",
    "FileProblem",
    "RecordingError",
    "NoRecordingsError",
    "MeasurementError",
    "ParameterError",
    "ProcessorNotFoundError",
    "PluginError",
    "CatalogError",
]


class BitboxError(Exception):
    """Base class of every error Bitbox raises on purpose."""


class FileProblem(BitboxError):
    """An error about one file: its path, what is wrong, and what to do about it.

    Parameters
    ----------
    path : str or Path
        The file concerned.
    reason : str
        What is wrong, in a few words.
    hint : str
        What the user can do about it.
    """

    def __init__(self, path: str | Path, reason: str, hint: str = "") -> None:
        self.path = str(path)
        self.reason = reason
        self.hint = hint
        message = f"{self.path}: {reason}"
        if hint:
            message += f". {hint}"
        super().__init__(message)


class RecordingError(FileProblem, ValueError):
    """A recording cannot be read: missing, empty, unreadable, corrupt or of the wrong kind."""


class NoRecordingsError(BitboxError, FileNotFoundError):
    """No recording was found in the inputs of a batch."""


class MeasurementError(FileProblem):
    """A recording could be read but nothing could be measured in it (e.g. no face in any frame)."""


class ParameterError(BitboxError, ValueError):
    """A processor or function parameter has an invalid value."""


class ProcessorNotFoundError(BitboxError, LookupError):
    """No installed processor has the requested name."""


class PluginError(BitboxError):
    """An installed processor plugin is broken (cannot be imported, duplicate name, wrong type)."""


class CatalogError(BitboxError, ValueError):
    """A processor's output does not match the measure catalog (unknown name, value out of range)."""
