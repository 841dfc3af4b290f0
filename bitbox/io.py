"""Writing files the way Bitbox writes its outputs: the public toolkit for clinical modules and plugins.

Every file is written atomically (a temporary file beside it, then one rename: a reader sees the old
file or the complete new one, never half of one), JSON with NaN and infinities as ``null``.

>>> from bitbox.io import write_json, read_json
>>> write_json("metrics.json", {"auc": 0.81, "missing": float("nan")})   # doctest: +SKIP
>>> read_json("metrics.json")["missing"] is None                          # doctest: +SKIP
True

- :func:`atomic_path`: a context manager yielding the temporary path to write (``with
  atomic_path(out) as tmp: figure.savefig(tmp, format="png")``);
- :func:`write_bytes`, :func:`write_text`, :func:`write_json`, :func:`read_json`;
- :func:`jsonable`: numpy scalars (and one-element arrays) and NaN made JSON-ready;
- :func:`safe_name`: a file-name-safe version of an id;
- :func:`display_path`: a path as printable text (file-name bytes that are not UTF-8 escaped), for messages.
"""
from __future__ import annotations

from .fileio import atomic_path, display_path, jsonable, read_json, safe_name, write_bytes, write_json, write_text

__all__ = ["atomic_path", "write_bytes", "write_text", "write_json", "read_json", "jsonable", "safe_name", "display_path"]
