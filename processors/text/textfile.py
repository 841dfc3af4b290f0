"""Reading text files whatever their encoding: one function for every text file a processor reads.

:func:`read_text_file` decodes transcripts (``.txt``, ``.srt``, ``.json``), narratives and
annotation files. It tries, in this order:

1. a byte-order mark (BOM): UTF-32 LE/BE, UTF-8, UTF-16 LE/BE (the UTF-32 LE mark
   ``FF FE 00 00`` is checked before UTF-16 LE's ``FF FE``);
2. UTF-32 or UTF-16 without a BOM, told by where the NUL bytes fall (ASCII characters
   in UTF-16 LE have a NUL high byte at every odd offset, in UTF-16 BE at every even
   offset; in UTF-32 three bytes in four are NUL), kept only when the decoded text holds
   no more than 1% control, unassigned, private-use or surrogate characters;
3. UTF-8;
4. a guess: Windows-1252 (the Western European superset of Latin-1 that Windows writes),
   or Latin-1 when a byte is undefined in Windows-1252. The result then carries a note
   saying the encoding was guessed.

Anything else is refused with a :class:`~bitbox.errors.RecordingError` that names the
offending bytes: NUL bytes that fit no UTF-16/32 pattern (binary content), control
characters in more than 1% of the text, or a BOM whose encoding does not decode.
Line endings are normalised to ``\\n`` (as :meth:`pathlib.Path.read_text` does), so
character offsets do not depend on the system that wrote the file.

Limits: UTF-16 without a BOM whose text has few ASCII characters (e.g. CJK) has few NUL
bytes and may be read as a Windows-1252 guess (with its note); a legacy encoding other
than Windows-1252/Latin-1 (e.g. cp1251, Shift-JIS) is read as a Windows-1252 guess too.
Save such files as UTF-8.
"""
from __future__ import annotations

import codecs
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from bitbox.errors import RecordingError

__all__ = ["DecodedText", "read_text_file", "decode_text", "MAX_SUSPICIOUS_FRACTION"]

#: Largest fraction of control/unassigned/private/surrogate characters a decoded text may hold.
MAX_SUSPICIOUS_FRACTION = 0.01
#: Byte-order marks, longest first where one is a prefix of another (UTF-32 LE starts like UTF-16 LE).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32 LE"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32 BE"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16 LE"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16 BE"),
)
_ALLOWED_CONTROLS = frozenset("\t\n\r\x0b\x0c")
_SAVE_AS_UTF8 = "Give a text file (UTF-8 is safest), or check that this is the file you meant"


@dataclass(frozen=True)
class DecodedText:
    """A text file's content and how it was decoded.

    Attributes
    ----------
    text : str
        The decoded text (BOM removed, line endings ``\\n``).
    codec : str
        Python codec that decoded it: ``"utf-8"``, ``"utf-16-le"``, ``"utf-16-be"``,
        ``"utf-32-le"``, ``"utf-32-be"``, ``"cp1252"`` or ``"latin-1"``.
    bom : bool
        Whether the file starts with a byte-order mark.
    guessed : bool
        Whether the encoding is a guess (the Windows-1252/Latin-1 fallback).
    note : str
        ``""``, or a note for the user when the encoding was guessed.
    """

    text: str
    codec: str
    bom: bool = False
    guessed: bool = False
    note: str = ""

    @property
    def label(self) -> str:
        """The encoding as recorded in outputs, e.g. ``"utf-8"``, ``"utf-16-le (BOM)"``, ``"cp1252 (guessed)"``."""
        return self.codec + (" (BOM)" if self.bom else "") + (" (guessed)" if self.guessed else "")


def _offsets(positions: list[int], total: int, what: str) -> str:
    shown = ", ".join(str(p) for p in positions[:3])
    more = f" and {total - 3} more" if total > 3 else ""
    return f"{what} at byte offset{'s' if total > 1 else ''} {shown}{more}"


_DROP_ALLOWED = dict.fromkeys(map(ord, _ALLOWED_CONTROLS), None)


def _suspicious(text: str) -> list[int]:
    """Character indices of control (other than whitespace), unassigned, private-use or surrogate characters."""
    if text.translate(_DROP_ALLOWED).isprintable():  # fast path (C): no "Other" character at all
        return []
    bad = {ch for ch in set(text)  # each distinct character judged once
           if ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) in ("Cc", "Cn", "Co", "Cs")}
    return [i for i, ch in enumerate(text) if ch in bad] if bad else []


def _plausible(text: str) -> bool:
    return not text or len(_suspicious(text)) <= MAX_SUSPICIOUS_FRACTION * len(text)


def _wide_candidates(data: bytes) -> list[str]:
    """UTF-32/UTF-16 codecs that the NUL bytes' positions point to, most likely first."""
    candidates = []
    n4 = len(data) // 4
    if len(data) % 4 == 0 and n4:
        lanes = [data[k::4].count(0) / n4 for k in range(4)]
        if lanes[2] > 0.9 and lanes[3] > 0.9:
            candidates.append("utf-32-le")
        if lanes[0] > 0.9 and lanes[1] > 0.9:
            candidates.append("utf-32-be")
    n2 = len(data) // 2
    if len(data) % 2 == 0 and n2:
        even, odd = data[0::2].count(0), data[1::2].count(0)
        if odd >= 0.1 * n2 and odd > 4 * even:
            candidates.append("utf-16-le")
        if even >= 0.1 * n2 and even > 4 * odd:
            candidates.append("utf-16-be")
    return candidates


def _finish(text: str, codec: str, *, bom: bool = False, guessed: bool = False, note: str = "") -> DecodedText:
    return DecodedText(text.replace("\r\n", "\n").replace("\r", "\n"), codec, bom, guessed, note)


def decode_text(data: bytes, path: str | Path) -> DecodedText:
    """Decode a text file's bytes (see the module docstring for the order of the attempts).

    Parameters
    ----------
    data : bytes
        The file's content.
    path : str | Path
        The file, for messages and notes.

    Returns
    -------
    DecodedText

    Raises
    ------
    RecordingError
        Binary content, too many control characters, or a BOM that does not decode.
    """
    path = Path(path)
    for mark, codec, name in _BOMS:
        if data.startswith(mark):
            try:
                text = data[len(mark):].decode(codec)
            except UnicodeDecodeError as err:
                raise RecordingError(path, f"starts with a {name} byte-order mark but is not valid {name} "
                                     f"(bytes {err.start + len(mark)}-{err.end + len(mark) - 1})",
                                     "Save it again as UTF-8, or check that this is the file you meant") from None
            _refuse_controls(text, path, f"{name} text")
            return _finish(text, codec, bom=True)
    nul = data.find(0)
    if nul >= 0:
        for codec in _wide_candidates(data):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                continue
            if _plausible(text):
                return _finish(text, codec)
        positions = [nul]
        while len(positions) < 3 and (nul := data.find(0, nul + 1)) >= 0:
            positions.append(nul)
        raise RecordingError(path, "is not text: binary content ("
                             + _offsets(positions, data.count(0), "NUL bytes") + ")", _SAVE_AS_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        first_bad = err.start
    else:
        _refuse_controls(text, path, "UTF-8 text")
        return _finish(text, "utf-8")
    repaired = _mostly_utf8(data)
    if repaired is not None:
        text, n_bad = repaired
        _refuse_controls(text, path, "UTF-8 text")
        note = (f"{path.name} is UTF-8 but not valid in {n_bad} place{'s' if n_bad > 1 else ''} (the first at byte "
                f"{first_bad}, 0x{data[first_bad]:02X}), each read as U+FFFD: the file is probably damaged or was "
                "cut mid-character, so check it, or save it again as UTF-8")
        return _finish(text, "utf-8", note=note)
    try:
        text, codec, name = data.decode("cp1252"), "cp1252", "Windows-1252 (Western European, a superset of Latin-1)"
    except UnicodeDecodeError:
        text, codec, name = data.decode("latin-1"), "latin-1", "Latin-1 (ISO-8859-1)"
    _refuse_controls(text, path, f"{codec} text")
    note = (f"{path.name} is not UTF-8 (byte {first_bad} is 0x{data[first_bad]:02X}) and was read as {name}: "
            "the encoding is a guess, so check its accented letters, or save the file as UTF-8")
    return _finish(text, codec, guessed=True, note=note)


def _mostly_utf8(data: bytes) -> tuple[str, int] | None:
    """UTF-8 with a few damaged places: the text (each damaged byte sequence as U+FFFD) and their
    number, when valid multi-byte characters outnumber them; else ``None`` (another encoding)."""
    text = data.decode("utf-8", errors="replace")
    n_bad = text.count("\ufffd") - data.decode("utf-8", errors="ignore").count("\ufffd")
    n_valid = len(text.encode("ascii", errors="ignore"))  # ASCII characters
    n_valid = len(text) - n_valid - text.count("\ufffd")  # valid non-ASCII characters
    return (text, n_bad) if n_valid > n_bad else None


def _refuse_controls(text: str, path: Path, what: str) -> None:
    bad = _suspicious(text)
    if bad and len(bad) > MAX_SUSPICIOUS_FRACTION * len(text):
        shown = ", ".join(f"U+{ord(text[i]):04X} at character {i}" for i in bad[:3])
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise RecordingError(path, f"is not text: binary content (read as {what}, {len(bad)} of its {len(text)} "
                             f"characters are control or unassigned characters: {shown}{more})", _SAVE_AS_UTF8)


def read_text_file(path: str | Path) -> DecodedText:
    """Read a text file in whatever encoding it was saved (see the module docstring).

    Parameters
    ----------
    path : str | Path
        The file.

    Returns
    -------
    DecodedText
        Its text, the codec, whether it had a BOM, and a note when the encoding was guessed.

    Raises
    ------
    RecordingError
        The file cannot be read, is binary, or is not text in any encoding tried.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RecordingError(path, "does not exist", "Check the path") from None
    except OSError as err:
        raise RecordingError(path, f"cannot be read ({err.strerror or type(err).__name__})",
                             "Check the file's permissions") from None
    return decode_text(data, path)
