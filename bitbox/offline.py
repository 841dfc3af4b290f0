"""Offline by design: every dependency's own switch for "no network, no telemetry" is set by Bitbox.

Bitbox never opens a network connection, and neither may the libraries under it. Several
of them would, unless told not to:

- **onnxruntime** (Silero VAD, ICLabel's ONNX backend) starts Microsoft's 1DS telemetry
  when it is *imported*: a few seconds later it resolves ``mobile.events.data.microsoft.com``
  by DNS and writes ``~/.cache/Microsoft/DeveloperTools/.onnxruntime/{deviceid,onnxruntime.db}``.
  Only the ``ORT_DISABLE_TELEMETRY`` environment variable, set before ``import onnxruntime``,
  stops both; ``onnxruntime.disable_telemetry_events()`` (also called, before every session)
  does not stop the DNS lookup in onnxruntime 1.32.
- **huggingface_hub / transformers** (the text encoder; faster-whisper model names) would
  reach the Hub for a model name not in the local cache, and send telemetry; their offline
  switches are read once, when ``huggingface_hub`` is imported.

:func:`enforce_offline` runs when ``bitbox`` is imported (before any of those libraries is)
and *forces* the switches in :data:`OFFLINE_ENVIRONMENT`: a user's contrary value (e.g.
``HF_HUB_OFFLINE=0``) is overwritten, with a warning, because offline is a promise of the
toolbox, not a user preference. Child processes (worker pools, Dask workers) inherit the
environment. :func:`onnxruntime_offline` and :func:`hub_offline` are called at every place
where Bitbox creates a model, for the case where a library was imported before ``bitbox``.

The proof is at the system-call level: ``tests/test_no_network.py`` runs the demo job, a
Dask batch, Whisper transcription, EEG ICA with ICLabel and the report inside
``unshare -n`` under ``strace -f`` and asserts that no connection or DNS query is attempted
and nothing is written under ``$HOME`` (see ``docs/getting-started.md``, "Offline by design").
"""
from __future__ import annotations

import os
import sys
import warnings
from types import ModuleType

from .log import logger

__all__ = ["OFFLINE_ENVIRONMENT", "enforce_offline", "onnxruntime_offline", "hub_offline"]

#: Environment variables Bitbox forces, and why (each is its library's own documented switch).
OFFLINE_ENVIRONMENT: dict[str, str] = {
    # onnxruntime: no 1DS telemetry (no DNS lookup, no ~/.cache/Microsoft database). Read at import.
    "ORT_DISABLE_TELEMETRY": "1",
    # huggingface_hub (and transformers through it): never contact the Hub, no telemetry, no token sent.
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    # The cross-tool conventions (https://donottrack.sh/), honoured by huggingface_hub and others.
    "DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}

_ENFORCED = False


def enforce_offline() -> None:
    """Force every dependency's offline and no-telemetry switch (idempotent, cheap).

    Sets each variable of :data:`OFFLINE_ENVIRONMENT` in ``os.environ`` (overwriting a
    contrary user value, with a warning) and, for a library imported before ``bitbox``,
    its already-read setting (:func:`hub_offline`). Imports nothing heavy.
    """
    global _ENFORCED
    if _ENFORCED:
        return
    ort_was_off = os.environ.get("ORT_DISABLE_TELEMETRY", "").strip().lower() in ("1", "true", "yes", "on")
    overridden = []
    for name, value in OFFLINE_ENVIRONMENT.items():
        current = os.environ.get(name)
        if current is not None and current.strip().lower() not in ("1", "true", "yes", "on"):
            overridden.append(f"{name}={current}")
        os.environ[name] = value
    if overridden:
        _warn(f"Bitbox runs offline: {', '.join(overridden)} overridden (set to 1).")
    _patch_hub()
    if "onnxruntime" in sys.modules and not ort_was_off:
        _warn("onnxruntime was imported before bitbox, so its telemetry may already have started (a DNS lookup "
              "of mobile.events.data.microsoft.com, a database under ~/.cache/Microsoft). Import bitbox first, "
              "or set ORT_DISABLE_TELEMETRY=1.")
    _ENFORCED = True


def _warn(message: str) -> None:
    """A warning the user sees whatever their logging set-up: ``enforce_offline`` runs at ``import bitbox``,
    before a command line or a notebook has configured logging (Python shows a RuntimeWarning by default)."""
    logger.debug(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def onnxruntime_offline(required: bool = True) -> ModuleType | None:
    """``onnxruntime``, imported with its telemetry off; call before creating any ``InferenceSession``.

    Parameters
    ----------
    required : bool
        When False, a missing onnxruntime gives ``None`` instead of ``ImportError`` (for a
        library such as mne-icalabel that uses onnxruntime only as a fallback).

    Returns
    -------
    module | None
        The ``onnxruntime`` module.
    """
    enforce_offline()
    try:
        import onnxruntime
    except ImportError:
        if required:
            raise
        return None

    # onnxruntime's API for it; ORT_DISABLE_TELEMETRY (set above, before the import) is what stops the DNS lookup.
    onnxruntime.disable_telemetry_events()
    return onnxruntime


def hub_offline() -> None:
    """Force huggingface_hub's offline mode, also when it was imported (and read its switches) before bitbox."""
    enforce_offline()
    _patch_hub()


def _patch_hub() -> None:
    """Set the switches an already-imported ``huggingface_hub`` read at its import."""
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True
        constants.HF_HUB_DISABLE_TELEMETRY = True
        constants.HF_HUB_DISABLE_IMPLICIT_TOKEN = True
