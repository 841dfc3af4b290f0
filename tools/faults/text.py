"""Text faults for the real-recording suite: other encodings, and a binary file named ``.txt``.

Each function takes a real text (or, in the CLI, a real file) and writes a faulty copy; the
input is never modified.

- :func:`librivox_lines` reads the utterances of Debian's pocketsphinx-testdata LibriVox
  ``transcription`` file (the ``<s> ... </s> (id)`` markers removed): a real transcript.
- :func:`encode` / :func:`write_encoded` re-encode a text as one of :data:`VARIANTS`:
  UTF-16 LE/BE and UTF-32 LE/BE with and without a byte-order mark, UTF-8 with a BOM,
  Latin-1 and Windows-1252 (what older Windows editors save), with Windows line endings
  (``\\r\\n``) when asked.
- :func:`with_accents` adds a line of accented words (which Latin-1 encodes in one byte each),
  so that a Latin-1 copy differs from its UTF-8 original in more than its name.
- :func:`write_binary` writes the first bytes of a real binary file (e.g. a LibriVox WAV) under
  a ``.txt`` name: the mistake of a wrong file beside a recording.

CLI::

    python -m tools.faults.text librivox /usr/share/pocketsphinx/test/data/librivox/transcription OUT.txt
    python -m tools.faults.text encode IN.txt OUT.txt --as utf-16-le-bom
    python -m tools.faults.text binary IN.wav OUT.txt --bytes 4096
"""
from __future__ import annotations

import argparse
import codecs
import re
from pathlib import Path

__all__ = ["VARIANTS", "ACCENTED_LINE", "librivox_lines", "with_accents", "encode", "write_text", "write_encoded",
           "write_binary"]

#: Encodings a text can be re-encoded as: name -> (Python codec, byte-order mark or b"").
VARIANTS: dict[str, tuple[str, bytes]] = {
    "utf-8": ("utf-8", b""),
    "utf-8-bom": ("utf-8", codecs.BOM_UTF8),
    "utf-16-le": ("utf-16-le", b""),
    "utf-16-le-bom": ("utf-16-le", codecs.BOM_UTF16_LE),
    "utf-16-be": ("utf-16-be", b""),
    "utf-16-be-bom": ("utf-16-be", codecs.BOM_UTF16_BE),
    "utf-32-le": ("utf-32-le", b""),
    "utf-32-le-bom": ("utf-32-le", codecs.BOM_UTF32_LE),
    "utf-32-be-bom": ("utf-32-be", codecs.BOM_UTF32_BE),
    "latin-1": ("latin-1", b""),
    "cp1252": ("cp1252", b""),
}
#: 16 words, 8 of them accented with letters Latin-1 encodes in one byte (é, ï, è, û, â, ü, ñ).
ACCENTED_LINE = "her fiancé was naïve about the crème brûlée at the château in Zürich with señor Muñoz"
_MARKERS = re.compile(r"^\s*<s>\s*|\s*</s>\s*(\([^)]*\))?\s*$")


def librivox_lines(transcription: str | Path) -> list[str]:
    """The utterances of a pocketsphinx ``transcription`` file, without ``<s>``, ``</s>`` and ``(id)``."""
    lines = Path(transcription).read_text(encoding="utf-8").splitlines()
    return [" ".join(_MARKERS.sub("", line).split()) for line in lines if line.strip()]


def with_accents(text: str, line: str = ACCENTED_LINE) -> str:
    """``text`` with a line of accented words added at its end."""
    return text.rstrip("\n") + "\n" + line + "\n"


def encode(text: str, variant: str, *, crlf: bool = False) -> bytes:
    """``text`` encoded as ``variant`` (a key of :data:`VARIANTS`), with ``\\r\\n`` line endings if ``crlf``."""
    if variant not in VARIANTS:
        raise ValueError(f"Unknown encoding variant {variant!r}; use one of {', '.join(VARIANTS)}.")
    codec, bom = VARIANTS[variant]
    if crlf:
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return bom + text.encode(codec)


def write_text(text: str, dst: str | Path, variant: str = "utf-8", *, crlf: bool = False) -> Path:
    """Write ``text`` to ``dst`` encoded as ``variant``; returns ``dst``."""
    dst = Path(dst)
    dst.write_bytes(encode(text, variant, crlf=crlf))
    return dst


def write_encoded(src: str | Path, dst: str | Path, variant: str, *, crlf: bool = False) -> Path:
    """Re-encode the UTF-8 text file ``src`` as ``variant`` into ``dst`` (``src`` is not modified)."""
    if Path(src).resolve() == Path(dst).resolve():
        raise ValueError("The faulty copy must not overwrite its input.")
    return write_text(Path(src).read_text(encoding="utf-8"), dst, variant, crlf=crlf)


def write_binary(src: str | Path, dst: str | Path, *, n_bytes: int = 4096) -> Path:
    """Copy the first ``n_bytes`` of the binary file ``src`` into ``dst`` (named e.g. ``.txt``)."""
    if Path(src).resolve() == Path(dst).resolve():
        raise ValueError("The faulty copy must not overwrite its input.")
    with open(src, "rb") as handle:
        data = handle.read(int(n_bytes))
    dst = Path(dst)
    dst.write_bytes(data)
    return dst


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m tools.faults.text", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lib = sub.add_parser("librivox", help="write a pocketsphinx transcription's utterances as UTF-8 text")
    lib.add_argument("transcription", type=Path)
    lib.add_argument("out", type=Path)
    lib.add_argument("--accents", action="store_true", help="add a line of accented words")
    enc = sub.add_parser("encode", help="re-encode a UTF-8 text file")
    enc.add_argument("src", type=Path)
    enc.add_argument("out", type=Path)
    enc.add_argument("--as", dest="variant", choices=sorted(VARIANTS), required=True)
    enc.add_argument("--crlf", action="store_true", help="Windows line endings")
    binary = sub.add_parser("binary", help="copy the first bytes of a binary file under another name")
    binary.add_argument("src", type=Path)
    binary.add_argument("out", type=Path)
    binary.add_argument("--bytes", dest="n_bytes", type=int, default=4096)
    args = parser.parse_args(argv)
    if args.command == "librivox":
        text = "\n".join(librivox_lines(args.transcription)) + "\n"
        write_text(with_accents(text) if args.accents else text, args.out)
    elif args.command == "encode":
        write_encoded(args.src, args.out, args.variant, crlf=args.crlf)
    else:
        write_binary(args.src, args.out, n_bytes=args.n_bytes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
