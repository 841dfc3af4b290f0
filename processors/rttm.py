"""Reading and writing RTTM files: who spoke when, as speaker segments.

RTTM (Rich Transcription Time Marked, NIST) is the plain-text format diarization tools and
annotators exchange. One ``SPEAKER`` record per line holds one speaker segment::

    SPEAKER <file> <channel> <onset> <duration> <NA> <NA> <speaker> <NA> <NA>

with onset and duration in seconds. The speakers processor reads a reference RTTM beside a
recording (:func:`find_rttm`, :func:`read_rttm`) and writes its own result as one
(:func:`write_rttm`); the language processor reads the same files, so this module belongs to
neither processor.

Conventions
-----------
- **Segments table**: a :class:`pandas.DataFrame` with columns ``start_s`` (float, s),
  ``end_s`` (float, s, ``end_s > start_s``) and ``speaker`` (str), sorted by ``start_s`` then
  ``speaker``, index ``0..n-1``. :func:`read_rttm` returns one (the file id in
  ``table.attrs["file_id"]``); :func:`format_rttm` takes one.
- **Reading**: record types other than ``SPEAKER`` (``SPKR-INFO``, ``LEXEME``, ``SEGMENT``,
  ...) are ignored; blank lines and comments (lines starting with ``;;`` or ``#``) are skipped;
  fields are separated by any run of spaces or tabs; a line needs at least the first 8 fields
  (up to the speaker name; the last two ``<NA>`` may be missing). ``end_s = onset + duration``
  is summed in decimal, so the times written with 3 decimals read back exactly.
- **Writing**: times are rounded to the millisecond; onset and duration are written with 3
  decimals, the duration as ``round(end*1000) - round(start*1000)`` ms so that
  ``onset + duration`` is exactly the rounded end. The channel is ``1``. Spaces (and other
  white space) in the file id and speaker names are replaced by ``_``: a field cannot hold one.
- **Errors**: a file that cannot be read, is not UTF-8, holds no ``SPEAKER`` record, holds
  several file ids (and no ``file_id`` was asked for), or has a malformed line raises
  :class:`RttmError` naming the file, the line number, what is wrong and what to do.
"""
from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from bitbox.errors import ParameterError, RecordingError
from bitbox.fileio import atomic_path, display_path
from bitbox.log import logger

__all__ = ["RttmError", "SEGMENT_COLUMNS", "read_rttm", "parse_rttm", "format_rttm", "write_rttm", "find_rttm",
           "segments_table", "label_by_first_speech", "label_order", "interval_union", "RTTM_SUFFIXES"]

#: Columns of a segments table, in order.
SEGMENT_COLUMNS = ("start_s", "end_s", "speaker")
#: Suffixes :func:`find_rttm` looks for beside a recording, in order.
RTTM_SUFFIXES = (".rttm", ".RTTM")
#: RTTM record types other than SPEAKER (NIST RT-09 evaluation plan, appendix A); these lines are skipped.
_OTHER_TYPES = frozenset({"SEGMENT", "NOSCORE", "NO_RT_METADATA", "LEXEME", "NON-LEX", "NON-SPEECH", "FILLER",
                          "EDIT", "IP", "SU", "CB", "A/P", "SPKR-INFO"})
_MIN_FIELDS = 8  # type file channel onset duration ortho stype name [conf slat]
_FORMAT_HINT = ("RTTM lines look like 'SPEAKER <file> 1 <onset s> <duration s> <NA> <NA> <speaker> <NA> <NA>'; "
                "fix or remove this line")
_WHITESPACE = re.compile(r"\s+")
#: Bitbox's speaker labels: S1, S2, ... in order of first speech.
_SPEAKER_LABEL = re.compile(r"S[1-9][0-9]*")


class RttmError(RecordingError):
    """An RTTM file cannot be used: unreadable, not UTF-8, no speaker segment, or a malformed line.

    Attributes
    ----------
    line : int or None
        The 1-based line number concerned, or None for a problem of the whole file.
    """

    def __init__(self, path: str | Path, reason: str, hint: str = "", *, line: int | None = None) -> None:
        self.line = line
        where = f"line {line}: " if line is not None else ""
        super().__init__(path, where + reason, hint)


# ---------------------------------------------------------------------------- reading
def _decode(path: Path, data: bytes) -> str:
    """UTF-8 text of ``data`` (a BOM is removed); RttmError naming the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise RttmError(path, f"is not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start})",
                        "Save the RTTM file as UTF-8 (speaker names may hold any character)", line=line) from None


def _time(path: Path, text: str, what: str, line: int) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RttmError(path, f"the {what} {text!r} is not a number", _FORMAT_HINT, line=line) from None
    if not value.is_finite():
        raise RttmError(path, f"the {what} {text!r} is not a finite number", _FORMAT_HINT, line=line)
    return value


def _parse_line(path: Path, fields: list[str], line: int) -> tuple[str, float, float, str]:
    """(file id, start, end, speaker) of one SPEAKER record."""
    if len(fields) < _MIN_FIELDS:
        raise RttmError(path, f"a SPEAKER record has {len(fields)} fields, at least {_MIN_FIELDS} are needed "
                        "(type, file, channel, onset, duration, <NA>, <NA>, speaker)", _FORMAT_HINT, line=line)
    onset = _time(path, fields[3], "onset", line)
    duration = _time(path, fields[4], "duration", line)
    if onset < 0:
        raise RttmError(path, f"the onset {fields[3]} s is negative", "Onsets are seconds from the start of the "
                        "recording; fix or remove this line", line=line)
    if duration <= 0:
        raise RttmError(path, f"the duration {fields[4]} s is not positive", "Each segment must last more than "
                        "0 s; fix or remove this line", line=line)
    speaker = fields[7]
    if speaker.upper() == "<NA>":
        raise RttmError(path, "the speaker name is missing (<NA>)", "Give each SPEAKER line the speaker's "
                        "label in its 8th field", line=line)
    return fields[1], float(onset), float(onset + duration), speaker


def parse_rttm(text: str, *, path: str | Path = "<rttm>", file_id: str | None = None) -> pd.DataFrame:
    """Segments table of RTTM ``text`` (see the module's conventions).

    Parameters
    ----------
    text : str
        The RTTM content.
    path : str or Path
        Name shown in error messages.
    file_id : str, optional
        Keep the records of this file id only. Without it the text must hold one file id.

    Returns
    -------
    pandas.DataFrame
        Segments table (``start_s``, ``end_s``, ``speaker``), ``attrs["file_id"]`` set.

    Raises
    ------
    RttmError
        A malformed line, no SPEAKER record (for ``file_id``), or several file ids.
    """
    path = Path(path)
    rows: list[tuple[str, float, float, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith((";;", "#")):
            continue
        fields = _WHITESPACE.split(line)
        kind = fields[0].upper()
        if kind == "SPEAKER":
            rows.append(_parse_line(path, fields, number))
        elif kind not in _OTHER_TYPES:
            raise RttmError(path, f"{fields[0][:40]!r} is not an RTTM record type", "Check that this is an RTTM "
                            "file; " + _FORMAT_HINT, line=number)
    if not rows:
        raise RttmError(path, "holds no SPEAKER line", "An RTTM file of speaker segments has one line per "
                        "segment: 'SPEAKER <file> 1 <onset> <duration> <NA> <NA> <speaker> <NA> <NA>'")
    ids = list(dict.fromkeys(row[0] for row in rows))
    if file_id is not None:
        if file_id not in ids:
            raise RttmError(path, f"holds no segment of file id {file_id!r} (it holds {', '.join(map(repr, ids))})",
                            "Give one of those file ids, or the RTTM file of this recording")
        rows = [row for row in rows if row[0] == file_id]
    elif len(ids) > 1:
        raise RttmError(path, f"holds segments of {len(ids)} file ids ({', '.join(map(repr, ids[:10]))})",
                        "Give the file id to keep (file_id=...), or split the file into one RTTM per recording")
    table = segments_table([(start, end, speaker) for _, start, end, speaker in rows])
    table.attrs["file_id"] = rows[0][0]
    return table


def read_rttm(path: str | Path, *, file_id: str | None = None) -> pd.DataFrame:
    """Read the speaker segments of an RTTM file.

    Parameters
    ----------
    path : str or Path
        The RTTM file (UTF-8; a BOM is allowed).
    file_id : str, optional
        Keep this file id's records (an RTTM file may describe several recordings). Without it
        the file must hold one file id.

    Returns
    -------
    pandas.DataFrame
        Segments table: ``start_s``, ``end_s`` (``onset + duration``), ``speaker``, sorted by
        start then speaker; ``attrs["file_id"]`` is the file id.

    Raises
    ------
    RttmError
        The file cannot be read, is not UTF-8, holds no SPEAKER line, holds several file ids
        without ``file_id``, or has a malformed line (a bad number, a negative onset, a zero or
        negative duration, missing fields, no speaker name, an unknown record type).

    Examples
    --------
    >>> table = read_rttm("interview.rttm")  # doctest: +SKIP
    >>> table.head(2)  # doctest: +SKIP
       start_s  end_s speaker
    0    0.500  3.250   spk_0
    1    3.700  5.100   spk_1
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RttmError(path, "does not exist", "Check the path of the RTTM file") from None
    except IsADirectoryError:
        raise RttmError(path, "is a folder, not an RTTM file", "Give the path of an .rttm file") from None
    except OSError as err:
        raise RttmError(path, f"cannot be read ({err.strerror or err})", "Check the file's permissions") from None
    table = parse_rttm(_decode(path, data), path=path, file_id=file_id)
    logger.debug("read %d speaker segments of %d speakers from %s", len(table), table["speaker"].nunique(),
                 display_path(path))
    return table


# ---------------------------------------------------------------------------- tables
def segments_table(rows: Iterable[tuple[float, float, str]] | pd.DataFrame | None = None) -> pd.DataFrame:
    """A segments table (``start_s``, ``end_s``, ``speaker``) from rows or a DataFrame, sorted.

    Parameters
    ----------
    rows : iterable of (start_s, end_s, speaker), or DataFrame with those columns, or None
        The segments; None or empty gives an empty table with the three columns.

    Returns
    -------
    pandas.DataFrame
        Columns ``start_s``, ``end_s`` (float64) and ``speaker`` (str), sorted by ``start_s`` then
        ``speaker`` (then ``end_s``), index ``0..n-1``.

    Raises
    ------
    ParameterError
        A column is missing, a time is not finite or negative, an end is not after its start,
        or a speaker label is empty.
    """
    if isinstance(rows, pd.DataFrame):
        missing = [c for c in SEGMENT_COLUMNS if c not in rows.columns]
        if missing:
            raise ParameterError(f"A segments table needs the columns {list(SEGMENT_COLUMNS)}; "
                                 f"{missing} missing (it has {list(rows.columns)}).")
        frame = rows.loc[:, list(SEGMENT_COLUMNS)]
    else:
        frame = pd.DataFrame(list(rows or []), columns=list(SEGMENT_COLUMNS))
    try:
        start = frame["start_s"].to_numpy(dtype=np.float64)
        end = frame["end_s"].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"Segment times must be numbers of seconds ({err}).") from None
    speaker = [str(s) for s in frame["speaker"]]
    bad = ~(np.isfinite(start) & np.isfinite(end)) | (start < 0) | (end <= start)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParameterError(f"Segment {i} ({start[i]} s to {end[i]} s, speaker {speaker[i]!r}) is not a valid "
                             "time span: times must be finite, >= 0, and the end after the start.")
    if any(not s.strip() for s in speaker):
        raise ParameterError("A segment has an empty speaker label; give every segment a speaker.")
    table = pd.DataFrame({"start_s": start, "end_s": end, "speaker": pd.Series(speaker, dtype=object)})
    return table.sort_values(["start_s", "speaker", "end_s"], kind="mergesort").reset_index(drop=True)


def label_by_first_speech(segments: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rename a segments table's speakers ``S1``, ``S2``, ... in order of first speech.

    The speaker whose earliest segment starts first is ``S1`` (ties: by name). Both the speakers
    and the language processors label speakers this way, so their labels agree on one RTTM.

    Returns
    -------
    (DataFrame, dict)
        The table (sorted) with the new labels, and ``{new label: original name}``.
    """
    first = segments.groupby("speaker", sort=False)["start_s"].min()
    names = sorted(first.index, key=lambda name: (first[name], str(name)))
    mapping = {name: f"S{i}" for i, name in enumerate(names, start=1)}
    table = segments.assign(speaker=segments["speaker"].map(mapping))
    table = table.sort_values(["start_s", "speaker"], kind="mergesort").reset_index(drop=True)
    return table, {label: str(name) for name, label in mapping.items()}


def label_order(label: str) -> tuple[int, str]:
    """Sort key of speaker labels: ``S2`` before ``S10``; other names after them, by name."""
    return (int(label[1:]), label) if _SPEAKER_LABEL.fullmatch(label) else (10 ** 9, label)


def interval_union(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The union of intervals ``[starts[i], ends[i]]`` as sorted, disjoint, non-touching intervals."""
    order = np.argsort(np.asarray(starts, dtype=float), kind="mergesort")
    merged: list[list[float]] = []
    for a, b in zip(np.asarray(starts, dtype=float)[order], np.asarray(ends, dtype=float)[order]):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([float(a), float(b)])
    array = np.array(merged, dtype=float).reshape(-1, 2)
    return array[:, 0], array[:, 1]


# ---------------------------------------------------------------------------- writing
def _field(text: str) -> str:
    return _WHITESPACE.sub("_", text.strip())


def _millis(value: float) -> int:
    return int(math.floor(value * 1000.0 + 0.5))


def _seconds(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}"


def format_rttm(segments: pd.DataFrame, *, file_id: str) -> str:
    """RTTM text of a segments table: one ``SPEAKER`` line per segment, times to the millisecond.

    Each line is ``SPEAKER <file_id> 1 <onset> <duration> <NA> <NA> <speaker> <NA> <NA>``, with
    ``onset = round(start_s * 1000) / 1000`` and ``duration = (round(end_s * 1000) -
    round(start_s * 1000)) / 1000`` (3 decimals). White space in ``file_id`` and speaker labels
    is replaced by ``_``.

    Parameters
    ----------
    segments : pandas.DataFrame
        Segments table (``start_s``, ``end_s``, ``speaker``); other columns are ignored.
    file_id : str
        The recording's id (usually its file name without extension).

    Returns
    -------
    str
        The RTTM text, ending with a newline (empty for an empty table).

    Raises
    ------
    ParameterError
        An empty file id, an invalid segment (see :func:`segments_table`), or a segment shorter
        than 0.5 ms (its duration would round to 0).
    """
    file_field = _field(str(file_id))
    if not file_field:
        raise ParameterError("The RTTM file id is empty; give the recording's name (e.g. its file stem).")
    table = segments_table(segments)
    lines = []
    for start, end, speaker in table.itertuples(index=False, name=None):
        start_ms, end_ms = _millis(start), _millis(end)
        if end_ms <= start_ms:
            raise ParameterError(f"The segment {start} s to {end} s of speaker {speaker!r} is shorter than 1 ms "
                                 "once rounded to the millisecond; drop it before writing the RTTM file.")
        lines.append(f"SPEAKER {file_field} 1 {_seconds(start_ms)} {_seconds(end_ms - start_ms)} <NA> <NA> "
                     f"{_field(speaker)} <NA> <NA>\n")
    return "".join(lines)


def write_rttm(segments: pd.DataFrame, path: str | Path, *, file_id: str) -> Path:
    """Write a segments table as an RTTM file, atomically (a temporary file beside it, then a rename).

    Parameters
    ----------
    segments : pandas.DataFrame
        Segments table (see :func:`format_rttm`).
    path : str or Path
        The RTTM file to write (its folder is created).
    file_id : str
        The recording's id written in every line.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    text = format_rttm(segments, file_id=file_id)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")
    logger.debug("wrote %d speaker segments to %s", text.count("\n"), display_path(path))
    return path


def find_rttm(recording_path: str | Path) -> Path | None:
    """The reference RTTM file beside a recording: ``<stem>.rttm`` (or ``<stem>.RTTM``), else None.

    Parameters
    ----------
    recording_path : str or Path
        The recording (e.g. ``interview.wav``; ``interview.rttm`` is looked for in its folder).

    Returns
    -------
    Path or None
        The first of ``<stem>.rttm``, ``<stem>.RTTM`` that is a file.
    """
    recording_path = Path(recording_path)
    for suffix in RTTM_SUFFIXES:
        candidate = recording_path.with_name(recording_path.stem + suffix)
        if candidate != recording_path and candidate.is_file():
            return candidate
    return None
