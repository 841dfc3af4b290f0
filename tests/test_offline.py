"""The offline guarantee: the whole demo job runs with the network blocked and never tries it.

Every Python-level way out (``socket.connect`` to an internet address, ``create_connection``,
DNS lookups through ``getaddrinfo``) is replaced, in the child processes, by a stub that
records the attempt and fails. When the tests run as root with ``unshare`` available (as in
CI), the job also runs in a fresh network namespace with no interface up, so native code
cannot reach the network either.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]

_GUARD = '''
import os, socket
_LOG = os.environ["BITBOX_NETWORK_LOG"]

def _record(what):
    with open(_LOG, "a") as handle:
        handle.write(what + "\\n")

_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex

def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _record(f"connect {address!r}")
        raise OSError("network access blocked by the offline test")
    return _connect(self, address)

def connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _record(f"connect_ex {address!r}")
        return 101
    return _connect_ex(self, address)

def getaddrinfo(host, *args, **kwargs):
    _record(f"getaddrinfo {host!r}")
    raise socket.gaierror("name resolution blocked by the offline test")

socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
socket.getaddrinfo = getaddrinfo
'''


def _isolated(command: list[str]) -> list[str]:
    """The command in a new network namespace when we may create one (root and unshare)."""
    unshare = shutil.which("unshare")
    if unshare and hasattr(os, "geteuid") and os.geteuid() == 0:
        probe = subprocess.run([unshare, "-n", "true"], capture_output=True)
        if probe.returncode == 0:
            return [unshare, "-n", *command]
    return command


def test_the_demo_job_never_touches_the_network(tmp_path):
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(_GUARD)
    log = tmp_path / "network.log"
    env = dict(os.environ, BITBOX_NETWORK_LOG=str(log),
               PYTHONPATH=os.pathsep.join([str(guard), str(REPO), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "out"
    bitbox = [sys.executable, "-m", "bitbox"]
    run = subprocess.run(_isolated([*bitbox, "run", str(REPO / "examples" / "data"), "-o", str(out), "-p",
                                    "face,speech,language", "-q"]), env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    report = subprocess.run(_isolated([*bitbox, "report", str(out)]), env=env, capture_output=True, text=True)
    assert report.returncode == 0, report.stderr[-3000:]
    # The guard was active in the children (it logs to the file it was given) ...
    check = subprocess.run([sys.executable, "-c", "import socket; socket.getaddrinfo('example.org', 80)"],
                           env=dict(env, BITBOX_NETWORK_LOG=str(tmp_path / "probe.log")), capture_output=True)
    assert check.returncode != 0 and "example.org" in (tmp_path / "probe.log").read_text()
    # ... and the demo job never tried to connect or resolve a name.
    assert not log.exists(), log.read_text()
    summary = pd.read_csv(out / "summary.csv")
    assert (summary["status"] == "ok").all() and len(summary) == 3
