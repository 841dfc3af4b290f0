"""No connection, proven at the system-call level.

The library's real jobs run inside a fresh network namespace (``unshare -n``, only ``lo``
up, so Dask's local cluster works and any other attempt fails safely) under ``strace -f``,
with ``$HOME`` an empty folder and none of the offline switches in the environment (Bitbox
must set them itself):

1. the demo job (``bitbox run examples/data -p face,speech,speakers,language``) as a Dask batch
   (``--scheduler local --workers 2``);
2. one Python process: speech + language with Whisper transcription of a real LibriVox
   clip, EEG with ICA and ICLabel on a simulated raw, ``bitbox report`` of the batch, then
   kept alive 12 s past the creation of the ONNX session (onnxruntime's telemetry fires a few
   seconds after it is imported).

The trace must show no ``connect``/``sendto``/``sendmsg``/``sendmmsg`` to a non-loopback
address, no ``bind`` to one, no DNS (port 53) traffic to any address, and ``$HOME`` must hold
nothing but :data:`HOME_ALLOWED` (matplotlib's font cache). Needs root, ``unshare``,
``strace`` and ``ip`` (``make test`` installs them); skipped with the reason otherwise.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bitbox.offline import OFFLINE_ENVIRONMENT

REPO = Path(__file__).resolve().parents[1]
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
CLIP = "sense_and_sensibility_01_austen_64kb-0880"  # "he was not an ill disposed young man" (tiny.en: "old -sposed")

#: What may appear under $HOME (relative paths, regular expressions): matplotlib's font list,
#: rebuilt when missing, holding font names only, and the empty folder it checks for a matplotlibrc.
HOME_ALLOWED = (r"\.cache", r"\.cache/matplotlib", r"\.cache/matplotlib/fontlist-v[\d.]+\.json",
                r"\.config", r"\.config/matplotlib")

#: Variables that would move a library's caches out of $HOME, or switch a library offline for us.
_SCRUBBED = ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "MPLCONFIGDIR",
             "HF_HOME", "HF_HUB_CACHE", "TRANSFORMERS_CACHE", "TORCH_HOME", "NUMBA_CACHE_DIR", "MNE_DATA",
             "LIBROSA_DATA_DIR", *OFFLINE_ENVIRONMENT)

_TRACED = "connect,bind,sendto,sendmsg,sendmmsg"

_JOB = r'''
import json, sys, time
from pathlib import Path

import bitbox
from bitbox.cli import main as cli
from processors.eeg_simulation import simulate_raw

out, clip, eeg = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
started = time.monotonic()
spoken = bitbox.process(clip, ["speech", "language"], **{"language.transcript": "asr"})
simulate_raw(duration_s=30.0, n_events=10, seed=3).save(eeg, verbose="error")
brain = bitbox.process(eeg, ["eeg"], **{"eeg.ica": True, "eeg.ica_method": "fastica", "eeg.ica_n_components": 8,
                                        "eeg.reject_uv": None})
report = cli(["report", str(out)])
time.sleep(max(0.0, 12.0 - (time.monotonic() - started)))  # past onnxruntime's telemetry timer
print(json.dumps({
    "transcribed": float(spoken["language"].summary["transcribed"]),
    "text": " ".join(spoken["language"].timeseries["utterance_text"]),
    "phonation_s": float(spoken["speech"].summary["phonation_time_s"]),
    "ica": bool(brain["eeg"].provenance["parameters"]["ica"]),
    "n_ica_excluded": float(brain["eeg"].summary["n_ica_excluded"]),
    "report": report,
}))
'''


def _missing_tools() -> str | None:
    """Why the traced run cannot happen here, or None."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "needs root (for `unshare -n`); CI runs the suite as root"
    missing = [tool for tool in ("unshare", "strace", "ip") if shutil.which(tool) is None]
    if missing:
        return f"needs {', '.join(missing)} (apt-get install strace iproute2 util-linux; `make test` does)"
    probe = subprocess.run(["unshare", "-n", "-m", "sh", "-c", _NAMESPACE_SETUP], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create network and mount namespaces here: {probe.stderr.strip()}"
    return None


#: Sockets of daemons that resolve host names for glibc (nscd, systemd-resolved's nss-resolve, avahi's
#: nss-mdns, sssd). They live outside the network namespace, so a lookup answered by one of them would
#: leave the machine unseen by the trace: the traced commands run with empty folders mounted over them
#: (a new mount namespace), so glibc falls back to DNS on port 53, which the trace does see.
RESOLVER_SOCKET_DIRS = ("/run/nscd", "/var/run/nscd", "/run/systemd/resolve", "/run/avahi-daemon",
                        "/var/run/avahi-daemon", "/var/lib/sss/pipes")
_RESOLVER_SOCKET = re.compile(r'sa_family=AF_UNIX, sun_path="(?:/var)?/run/(?:nscd|systemd/resolve|avahi-daemon)/'
                              r'|sa_family=AF_UNIX, sun_path="/var/lib/sss/pipes/')

_NAMESPACE_SETUP = ("for d in " + " ".join(RESOLVER_SOCKET_DIRS) + "; do "
                    '[ -d "$d" ] && mount -t tmpfs -o size=1m bitbox-test "$d"; done; '
                    "ip link set lo up")


def traced(command: list[str], trace: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``command`` in new network and mount namespaces (``lo`` up, the host-name resolver daemons'
    sockets hidden) under ``strace -f``, writing the trace."""
    strace = ["strace", "-f", "-qq", "--seccomp-bpf", "-e", f"trace={_TRACED}", "-o", str(trace)]
    return subprocess.run(["unshare", "-n", "-m", "sh", "-c", _NAMESPACE_SETUP + ' && exec "$0" "$@"', *strace,
                           *command], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)


_ADDRESS = re.compile(r"sa_family=(AF_INET6?), sin6?_port=htons\((\d+)\).*?"
                      r"(?:inet_addr\(\"([^\"]+)\"\)|inet_pton\(AF_INET6, \"([^\"]+)\")")


def _loopback(address: str) -> bool:
    """127.0.0.0/8 and ::1 (a wildcard such as 0.0.0.0 or :: is not: it reaches every interface)."""
    return address.startswith("127.") or address == "::1" or address.startswith("::ffff:127.")


def network_attempts(trace_text: str) -> list[str]:
    """The traced system calls that reach (or try) beyond loopback, send to port 53, reach a host-name
    resolver daemon (a connect that succeeded), or name an internet address the parser cannot read
    (fail closed)."""
    offending = []
    for line in trace_text.splitlines():
        found = _ADDRESS.findall(line)
        if any(int(port) == 53 or not _loopback(ipv4 or ipv6) for _family, port, ipv4, ipv6 in found):
            offending.append(line.strip())
        elif len(found) < len(re.findall(r"sa_family=AF_INET6?\b", line)):
            offending.append(line.strip())  # an internet address in a form the parser does not know
        elif _RESOLVER_SOCKET.search(line) and re.search(r"\) = 0\s*$", line):
            offending.append(line.strip())
    return offending


def home_writes(home: Path) -> list[str]:
    """Everything under ``home`` that :data:`HOME_ALLOWED` does not allow."""
    found = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    return [p for p in found if not any(re.fullmatch(allowed, p) for allowed in HOME_ALLOWED)]


def test_the_parser_sees_what_onnxruntime_does():
    # strace lines from an unpatched onnxruntime 1.32 in a namespace (telemetry DNS), and Dask on loopback.
    dns = ('1887  connect(8, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16 '
           '<unfinished ...>')
    dns6 = ('12 sendto(3, "x", 1, MSG_NOSIGNAL, {sa_family=AF_INET6, sin6_port=htons(53), sin6_flowinfo=htonl(0), '
            'inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 1')
    web = '5 connect(9, {sa_family=AF_INET6, sin6_port=htons(443), inet_pton(AF_INET6, "2603:1030::5", &sin6_addr)'
    dask = ('7261  connect(13, {sa_family=AF_INET, sin_port=htons(44335), sin_addr=inet_addr("127.0.0.1")}, 16) = '
            '-1 EINPROGRESS (Operation now in progress)')
    local = '7 connect(4, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT'
    wildcard = '8 bind(5, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr("0.0.0.0")}, 16) = 0'
    assert network_attempts("\n".join([dns, dns6, web, dask, local, wildcard])) == [dns, dns6, web, wildcard]
    # a lookup answered by a resolver daemon outside the namespace (it succeeded), an address form not parsed
    resolved = '9 connect(6, {sa_family=AF_UNIX, sun_path="/run/systemd/resolve/io.systemd.Resolve"}, 41) = 0'
    odd = '10 connect(7, {sa_family=AF_INET6, sin6_port=htons(443), sin6_addr=???}, 28) = 0'
    assert network_attempts("\n".join([resolved, odd, local])) == [resolved, odd]


def test_the_resolver_daemons_are_hidden_in_the_namespace():
    """glibc cannot hand a lookup to a daemon outside the namespace: their socket folders are empty there."""
    reason = _missing_tools()
    if reason:
        pytest.skip(reason)
    present = [d for d in RESOLVER_SOCKET_DIRS if os.path.isdir(d)]
    listing = traced(["sh", "-c", 'for d in "$@"; do ls -A "$d"; done', "sh", *present], Path(os.devnull),
                     dict(os.environ), timeout=30)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.strip() == "", listing.stdout


def test_home_allow_list(tmp_path):
    (tmp_path / ".cache" / "matplotlib").mkdir(parents=True)
    (tmp_path / ".cache" / "matplotlib" / "fontlist-v3.11.0.json").write_text("{}")
    assert home_writes(tmp_path) == []
    (tmp_path / ".cache" / "Microsoft" / "DeveloperTools").mkdir(parents=True)
    assert home_writes(tmp_path) == [".cache/Microsoft", ".cache/Microsoft/DeveloperTools"]


def test_nothing_leaves_the_machine(tmp_path):
    """The demo job as a Dask batch, Whisper, EEG ICA + ICLabel and the report: no network, nothing in $HOME."""
    reason = _missing_tools()
    if reason:
        pytest.skip(reason)
    clip = LIBRIVOX / f"{CLIP}.wav"
    if not clip.is_file():
        pytest.fail(f"{clip} is missing: apt-get install pocketsphinx-testdata (make test does)", pytrace=False)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env.update(HOME=str(home), PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "out"
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    shutil.copy(clip, inputs / clip.name)  # alone in its folder: no transcript beside it, so Whisper runs

    batch = traced([sys.executable, "-m", "bitbox", "run", str(REPO / "examples" / "data"), "-o", str(out),
                    "-p", "face,speech,speakers,language", "--scheduler", "local", "--workers", "2", "-q"],
                   tmp_path / "batch.trace", env)
    assert batch.returncode == 0, batch.stderr[-3000:]
    job = traced([sys.executable, "-c", _JOB, str(out), str(inputs / clip.name), str(inputs / "sim_raw.fif")],
                 tmp_path / "job.trace", env)
    assert job.returncode == 0, job.stderr[-3000:]

    # The jobs did their work ...
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 4 and (summary["status"] == "ok").all(), summary[["recording_id", "status", "error"]]
    assert summary.set_index("recording_id").loc["interview", "speakers.n_speakers"] == 2
    done = json.loads(job.stdout.strip().splitlines()[-1])
    assert done["transcribed"] == 1.0 and done["phonation_s"] > 1.0
    assert {"he", "was", "not", "young", "man"} <= set(done["text"].lower().replace(".", "").split()), done["text"]
    assert done["ica"] is True and done["n_ica_excluded"] >= 0 and done["report"] == 0
    assert (out / "report" / "index.html").is_file()
    # ... the traces are real (Dask's scheduler and workers talk over loopback TCP) ...
    batch_trace = (tmp_path / "batch.trace").read_text()
    assert re.search(r'connect\(\d+, \{sa_family=AF_INET, sin_port=htons\(\d+\), sin_addr=inet_addr\("127\.0\.0\.1',
                     batch_trace)
    # ... and nothing tried to leave the machine or wrote under $HOME.
    for name in ("batch.trace", "job.trace"):
        offending = network_attempts((tmp_path / name).read_text())
        assert not offending, f"{name}: network system calls beyond loopback or to DNS:\n" + "\n".join(offending)
    written = home_writes(home)
    assert not written, f"written under $HOME (allowed: {HOME_ALLOWED}):\n" + "\n".join(written)
