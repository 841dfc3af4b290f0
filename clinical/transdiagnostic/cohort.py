"""The cohort manifest: who was recorded, with which diagnosis, in which files.

A manifest is a CSV file with one row per recording:

=====================  ========  ==========================================================
column                 needed    meaning
=====================  ========  ==========================================================
``participant_id``     yes       the participant (splits never separate their recordings)
``diagnosis``          yes       a free label; controls carry ``control_label``
``recording``          yes       audio (or video) file, relative to the manifest's folder
``transcript``         no        a transcript file (.txt, .srt, .json) or the text itself
``study``              no        binary tasks compare a diagnosis with its study's controls
``gender``             no        the paper's test/validation selection is per gender
``matched_control_id`` no        a patient's matched control (the paper's protocol)
=====================  ========  ==========================================================
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from bitbox.errors import BitboxError

__all__ = ["Cohort", "ManifestError", "read_manifest", "REQUIRED_COLUMNS", "OPTIONAL_COLUMNS"]

REQUIRED_COLUMNS = ("participant_id", "diagnosis", "recording")
OPTIONAL_COLUMNS = ("transcript", "study", "gender", "matched_control_id")
_TRANSCRIPT_SUFFIXES = (".txt", ".srt", ".json")


class ManifestError(BitboxError, ValueError):
    """A cohort manifest that cannot be used as it is."""


def _lines(rows) -> str:
    """CSV line numbers (the header is line 1) of DataFrame rows, at most 10."""
    rows = [int(r) + 2 for r in rows]
    return ", ".join(map(str, rows[:10])) + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")


@dataclass(frozen=True)
class Cohort:
    """A validated cohort.

    Attributes
    ----------
    recordings : pandas.DataFrame
        One row per recording: ``recording_key`` (unique), ``participant_id``,
        ``diagnosis``, ``recording`` (absolute path), ``transcript_path`` (absolute path
        or ``None``), ``transcript_text`` (inline text or ``None``), and ``study`` and
        ``gender`` when given.
    participants : pandas.DataFrame
        One row per participant (index ``participant_id``): ``diagnosis``, ``study``,
        ``gender``, ``matched_control_id`` (missing values as ``None``) and ``has_text``.
    control_label : str
        The ``diagnosis`` value of control participants (default ``"control"``).
    source : pathlib.Path | None
        The manifest file.
    """

    recordings: pd.DataFrame
    participants: pd.DataFrame
    control_label: str = "control"
    source: Path | None = None

    @property
    def diagnoses(self) -> list[str]:
        """The labels other than the control label, sorted."""
        return sorted(set(self.participants["diagnosis"]) - {self.control_label})

    @property
    def classes(self) -> list[str]:
        """The control label, then the diagnoses."""
        return [self.control_label, *self.diagnoses]

    def has(self, column: str) -> bool:
        """Whether the manifest gave ``column`` (``study``, ``gender``, ``matched_control_id``) for everyone
        it applies to.

        Parameters
        ----------
        column : str
            A column of :attr:`participants`. ``matched_control_id`` applies to the patients only (False
            when there are none); any other column to every participant.

        Returns
        -------
        bool
            True when no participant it applies to lacks a value (False for a column the cohort lacks).
        """
        if column == "matched_control_id":
            patients = self.participants[self.participants["diagnosis"] != self.control_label]
            return bool(len(patients)) and patients[column].notna().all()
        return column in self.participants and self.participants[column].notna().all()

    def shuffled(self, seed: int = 0) -> "Cohort":
        """The same cohort with diagnoses permuted across participants (a null cohort for leakage checks).

        Every recording of a participant keeps the participant's (new) label; matched
        controls and studies are dropped, as they would no longer mean anything.

        Parameters
        ----------
        seed : int
            Seed of the permutation (default 0).

        Returns
        -------
        Cohort
            A new cohort: same participants, recordings and class counts; this one is unchanged.
        """
        rng = np.random.default_rng(seed)
        participants = self.participants.copy()
        participants["diagnosis"] = rng.permutation(participants["diagnosis"].to_numpy())
        participants["matched_control_id"] = None
        participants["study"] = None
        recordings = self.recordings.copy()
        recordings["diagnosis"] = participants.loc[recordings["participant_id"], "diagnosis"].to_numpy()
        recordings["study"] = None
        return replace(self, recordings=recordings, participants=participants)

    def __len__(self) -> int:
        return len(self.participants)

    def __repr__(self) -> str:
        counts = self.participants["diagnosis"].value_counts()
        parts = ", ".join(f"{label} {counts.get(label, 0)}" for label in self.classes)
        return f"<Cohort | {len(self)} participants ({parts}), {len(self.recordings)} recordings>"


def _transcript(value, base: Path) -> tuple[str | None, str | None]:
    """(path, text) of a manifest's transcript cell: a file when it names one, the text otherwise."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or not str(value).strip():
        return None, None
    text = str(value).strip()
    if text.lower().endswith(_TRANSCRIPT_SUFFIXES):
        path = Path(text).expanduser()
        path = path if path.is_absolute() else base / path
        if path.is_file() or not any(c.isspace() for c in text):  # a file, or what can only be a file name
            return str(path.resolve()), None
    return None, text


def read_manifest(path: str | Path, *, control_label: str = "control") -> Cohort:
    """Read and validate a cohort manifest (see the module docstring for its columns).

    Parameters
    ----------
    path : str | Path
        The CSV file. Relative recording and transcript paths are relative to its folder.
    control_label : str
        The ``diagnosis`` value of control participants.

    Returns
    -------
    Cohort
        The validated cohort: absolute recording and transcript paths, one row per participant, and a
        ``recording_key`` (``<participant_id>/<file stem>``, ``#2`` ... for repeats) per recording.

    Raises
    ------
    ManifestError
        With the file, the problem, the CSV lines concerned and what to do, for: a missing
        file or column, empty cells, recordings or transcript files that do not exist, a
        recording listed twice, a participant with two diagnoses (or genders, or studies),
        a matched control that is not a control of the cohort, no controls or no diagnosis.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"The cohort manifest {path} does not exist.")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise ManifestError(f"The cohort manifest {path} is not a readable CSV file ({err}).") from None
    table = table.fillna("")  # short rows
    table.columns = [c.strip() for c in table.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ManifestError(f"The cohort manifest {path} has no column {', '.join(map(repr, missing))} (it has "
                            f"{list(table.columns)}). Needed: {list(REQUIRED_COLUMNS)}; optional: "
                            f"{list(OPTIONAL_COLUMNS)}.")
    if table.empty:
        raise ManifestError(f"The cohort manifest {path} lists no recordings.")
    for column in table.columns:
        table[column] = table[column].str.strip()
    for column in REQUIRED_COLUMNS:
        empty = table.index[table[column] == ""]
        if len(empty):
            raise ManifestError(f"The cohort manifest {path} has an empty {column!r} on line(s) {_lines(empty)}.")
    base = path.parent
    table["recording"] = [str((Path(p).expanduser() if Path(p).expanduser().is_absolute() else base / p).resolve())
                          for p in table["recording"]]
    absent = table.index[[not Path(p).is_file() for p in table["recording"]]]
    if len(absent):
        raise ManifestError(f"The cohort manifest {path} lists recordings that do not exist (line(s) "
                            f"{_lines(absent)}; e.g. {table.loc[absent[0], 'recording']}). Paths are relative to "
                            "the manifest's folder.")
    repeated = table.index[table["recording"].duplicated()]
    if len(repeated):
        raise ManifestError(f"The cohort manifest {path} lists the same recording twice (line(s) "
                            f"{_lines(repeated)}: {table.loc[repeated[0], 'recording']}).")
    cells = [_transcript(v, base) for v in table["transcript"]] if "transcript" in table else [(None, None)] * len(
        table)
    table["transcript_path"] = pd.Series([p for p, _ in cells], index=table.index, dtype=object)
    table["transcript_text"] = pd.Series([t for _, t in cells], index=table.index, dtype=object)
    absent = table.index[[p is not None and not Path(p).is_file() for p, _ in cells]]
    if len(absent):
        raise ManifestError(f"The cohort manifest {path} names transcript files that do not exist (line(s) "
                            f"{_lines(absent)}; e.g. {table.loc[absent[0], 'transcript_path']}).")
    for column in ("diagnosis", "study", "gender"):
        if column not in table:
            continue
        values = table[column].replace("", None)
        many = values.groupby(table["participant_id"]).nunique()
        many = many[many > 1]
        if len(many):
            who = many.index[0]
            found = sorted(values[table["participant_id"] == who].dropna().unique())
            raise ManifestError(f"In the cohort manifest {path}, participant {who!r} has more than one {column} "
                                f"({found}; lines {_lines(table.index[table['participant_id'] == who])}). A "
                                f"participant has one {column}: fix the rows or give them different ids.")
    labels = set(table["diagnosis"])
    if control_label not in labels:
        raise ManifestError(f"No participant in {path} has the control label {control_label!r}; the diagnoses "
                            f"are {sorted(labels)}. Name the control label (control_label=... or "
                            "--control-label).")
    if len(labels) < 2:
        raise ManifestError(f"The cohort manifest {path} has only controls: at least one diagnosis is needed.")

    def first(column: str) -> pd.Series:
        if column not in table:
            return pd.Series(None, index=pd.Index(table["participant_id"].unique(), name="participant_id"),
                             dtype=object)
        values = table[column].replace("", None)
        return values.groupby(table["participant_id"], sort=False).first()

    participants = pd.DataFrame({c: first(c) for c in ("diagnosis", "study", "gender", "matched_control_id")})
    participants.index.name = "participant_id"
    participants = participants.astype(object).where(participants.notna(), None)
    has_text = (table["transcript_path"].notna() | table["transcript_text"].notna()).groupby(
        table["participant_id"], sort=False).any()
    participants["has_text"] = has_text.reindex(participants.index).astype(bool)
    if "matched_control_id" in table:
        matched = participants["matched_control_id"].dropna()
        bad = matched[~matched.isin(participants.index[participants["diagnosis"] == control_label])]
        if len(bad):
            raise ManifestError(f"In the cohort manifest {path}, participant {bad.index[0]!r} has matched_control_id "
                                f"{bad.iloc[0]!r}, which is not a participant with diagnosis {control_label!r}.")
    counts: dict[str, int] = {}
    keys = []
    for pid, recording in zip(table["participant_id"], table["recording"]):
        key = f"{pid}/{Path(recording).stem}"
        counts[key] = counts.get(key, 0) + 1
        keys.append(key if counts[key] == 1 else f"{key}#{counts[key]}")
    table.insert(0, "recording_key", keys)
    columns = ["recording_key", "participant_id", "diagnosis", "recording", "transcript_path", "transcript_text",
               *[c for c in ("study", "gender") if c in table]]
    recordings = table[columns].replace("", None).reset_index(drop=True)
    return Cohort(recordings=recordings, participants=participants, control_label=control_label,
                  source=path.resolve())
