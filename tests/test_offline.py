"""The offline switches Bitbox sets itself (:mod:`bitbox.offline`).

The proof that nothing leaves the machine is at the system-call level, in
``tests/test_no_network.py``; these tests check the switches behind it, quickly, in fresh
interpreters (the switches act at import time).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bitbox import offline
from bitbox.offline import OFFLINE_ENVIRONMENT

REPO = Path(__file__).resolve().parents[1]


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in OFFLINE_ENVIRONMENT}
    clean.update(env, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    run = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def test_importing_bitbox_forces_the_switches_and_nothing_heavy():
    run = _python("import json, os, sys; import bitbox; "
                  "print(json.dumps({'env': {k: os.environ.get(k) for k in bitbox.offline.OFFLINE_ENVIRONMENT}, "
                  "'heavy': [m for m in ('onnxruntime', 'huggingface_hub', 'transformers', 'torch', 'mne', "
                  "'faster_whisper', 'mediapipe', 'dask') if m in sys.modules]}))",
                  HF_HUB_OFFLINE="0", ORT_DISABLE_TELEMETRY="false")
    found = json.loads(run.stdout)
    # A user's contrary value is overwritten (offline is not a preference), and the user is told (a warning
    # Python shows by default: no logging set up).
    assert found["env"] == OFFLINE_ENVIRONMENT
    assert "Bitbox runs offline: ORT_DISABLE_TELEMETRY=false, HF_HUB_OFFLINE=0 overridden (set to 1)." in run.stderr
    assert found["heavy"] == []


def test_libraries_imported_before_bitbox():
    # A stand-in for onnxruntime: the real one would start its telemetry in this interpreter.
    run = _python("import sys, types; "
                  "sys.modules['onnxruntime'] = types.ModuleType('onnxruntime'); import huggingface_hub, bitbox; "
                  "from huggingface_hub import constants; "
                  "print(constants.is_offline_mode(), constants.HF_HUB_DISABLE_TELEMETRY)")
    # huggingface_hub read its switches at its import: Bitbox sets the values it read ...
    assert run.stdout.split() == ["True", "True"]
    # ... but onnxruntime's telemetry starts at its import: only a warning can help then.
    assert "onnxruntime was imported before bitbox" in run.stderr and "ORT_DISABLE_TELEMETRY=1" in run.stderr


def test_onnxruntime_offline(monkeypatch):
    offline.enforce_offline()
    offline.enforce_offline()  # idempotent
    ort = offline.onnxruntime_offline()
    assert ort.__name__ == "onnxruntime" and os.environ["ORT_DISABLE_TELEMETRY"] == "1"
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    assert offline.onnxruntime_offline(required=False) is None
    with pytest.raises(ImportError):
        offline.onnxruntime_offline()
