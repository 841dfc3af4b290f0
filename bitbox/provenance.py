"""Provenance of outputs made outside a processor: the public toolkit for clinical modules and plugins.

A processor's outputs carry their provenance by themselves (:meth:`Processor.provenance
<bitbox.Processor.provenance>`). A clinical model, an evaluation or a report that a module writes
records the same facts with these:

- :func:`sha256_file`: the SHA-256 of an input file (read in chunks; a FIFO or a device is refused,
  never opened);
- :func:`package_versions`: the versions of Python, Bitbox's core packages and the named ones.

>>> from bitbox.provenance import package_versions, sha256_file
>>> package_versions(("scikit-learn",))["scikit-learn"]          # doctest: +SKIP
'1.9.1'
"""
from __future__ import annotations

from .processor import package_versions
from .recording import sha256_file

__all__ = ["sha256_file", "package_versions"]
