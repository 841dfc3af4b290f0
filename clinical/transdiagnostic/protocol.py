"""Participant-level splits and the classification tasks.

Two protocols, both at the participant level (a participant's recordings are always on one
side of every split):

- ``"paper"`` (Hansen et al. 2023): for each diagnosis x gender, ``n_per_cell`` patients
  who have a transcript go to the test set with their matched controls, the next
  ``n_per_cell`` (chosen the same way) to the validation set; everyone else trains. Needs
  the ``gender`` and ``matched_control_id`` columns.
- ``"cv"``: K-fold over participants, stratified by diagnosis (and study, when given); in
  each fold a stratified part of the training participants (``validation_fraction``) is
  held out for model selection.

Tasks: ``multiclass`` (every class, when there are at least two diagnoses) and one
``<diagnosis>_vs_control`` per diagnosis, against the controls of the diagnosis's own
study when the manifest has a ``study`` column, against all controls otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bitbox.errors import ParameterError

from .cohort import Cohort, ManifestError

__all__ = ["Split", "Task", "paper_split", "grouped_cv_splits", "make_splits", "tasks", "choose_protocol"]


@dataclass(frozen=True)
class Split:
    """Participants for training, model selection (validation) and testing.

    Parameters
    ----------
    name : str
        The split's name (``"paper split"``, ``"fold 1/5"`` ...).
    train : tuple of str
        ``participant_id`` of the training participants.
    validation : tuple of str
        Those of the participants that choose the hyper-parameters and the fused models.
    test : tuple of str
        Those of the held-out participants the metrics are computed on.
    """

    name: str
    train: tuple[str, ...]
    validation: tuple[str, ...]
    test: tuple[str, ...]

    def part_of(self) -> dict[str, str]:
        """``{participant_id: "train" | "validation" | "test"}``."""
        return {**{p: "train" for p in self.train}, **{p: "validation" for p in self.validation},
                **{p: "test" for p in self.test}}


@dataclass(frozen=True)
class Task:
    """One classification task: its participants and their labels.

    Parameters
    ----------
    name : str
        ``"multiclass"`` or ``"<diagnosis>_vs_control"``.
    classes : tuple of str
        The task's classes, the control label first.
    labels : pandas.Series
        ``participant_id`` -> class, for the task's participants only.
    positive : str | None
        The diagnosis of a binary task; ``None`` (default) for the multiclass task.
    controls : str
        How the controls were chosen, in words (default ``""``).
    """

    name: str
    classes: tuple[str, ...]
    labels: pd.Series  # index participant_id -> class
    positive: str | None = None  # the diagnosis of a binary task
    controls: str = ""  # how the controls were chosen


def choose_protocol(cohort: Cohort, protocol: str = "auto") -> tuple[str, str]:
    """The protocol to use and why (``"auto"``: the paper's when the manifest allows it).

    Parameters
    ----------
    cohort : Cohort
        The cohort; the paper's protocol needs its ``gender`` and ``matched_control_id`` for every patient.
    protocol : {"auto", "paper", "cv"}
        The protocol asked for (default ``"auto"``).

    Returns
    -------
    protocol : str
        ``"paper"`` or ``"cv"``.
    note : str
        Which protocol and why, in words.

    Raises
    ------
    ParameterError
        ``protocol`` is not one of the three.
    ManifestError
        ``"paper"`` was asked for and the manifest lacks ``gender`` or ``matched_control_id`` for a patient.
    """
    if protocol not in ("auto", "paper", "cv"):
        raise ParameterError(f"protocol must be 'auto', 'paper' or 'cv'; got {protocol!r}.")
    missing = [c for c in ("gender", "matched_control_id") if not cohort.has(c)]
    if protocol == "cv":
        return "cv", "participant-grouped stratified cross-validation (chosen)"
    if missing:
        if protocol == "paper":
            raise ManifestError(f"The paper's protocol needs the manifest column(s) {missing} for every patient; "
                                "use protocol='cv' (--protocol cv: participant-grouped cross-validation).")
        return "cv", (f"participant-grouped stratified cross-validation, because the manifest has no "
                      f"{' or '.join(missing)} for every patient (the paper's test/validation selection needs them)")
    return "paper", "the paper's test/validation selection per diagnosis x gender with matched controls"


def paper_split(cohort: Cohort, *, n_per_cell: int = 3, seed: int = 42) -> Split:
    """The test/validation/train selection of Hansen et al. (2023).

    For each diagnosis and gender, patients with a transcript and a matched control are
    shuffled (``seed``); the first ``n_per_cell`` go to the test set and the next
    ``n_per_cell`` to the validation set, each with their matched control. A control
    matched to two patients follows the first one drawn, and the other patient is then
    skipped. Everyone else is in the training set.

    Parameters
    ----------
    cohort : Cohort
        The cohort, with ``gender`` and ``matched_control_id``.
    n_per_cell : int
        Patients per diagnosis x gender in the test set, and again in the validation set (default 3).
    seed : int
        Seed of the shuffle (default 42, the paper's).

    Returns
    -------
    Split
        The one split ``"paper split"``.

    Raises
    ------
    ManifestError
        When a diagnosis x gender has too few such patients, or a diagnosis would have no
        patient left for training.
    """
    p = cohort.participants
    rng = np.random.default_rng(seed)
    assigned: dict[str, str] = {}
    for diagnosis in cohort.diagnoses:
        patients = p[p["diagnosis"] == diagnosis]
        for gender in sorted(patients["gender"].dropna().unique()):
            cell = patients[(patients["gender"] == gender) & patients["has_text"]
                            & patients["matched_control_id"].notna()]
            order = list(cell.index[rng.permutation(len(cell))])
            for part in ("test", "validation"):
                chosen = 0
                while chosen < n_per_cell and order:
                    pid = order.pop(0)
                    control = cell.loc[pid, "matched_control_id"]
                    if assigned.get(control, part) != part:
                        continue
                    assigned[pid] = assigned[control] = part
                    chosen += 1
                if chosen < n_per_cell:
                    raise ManifestError(
                        f"The paper's protocol needs {2 * n_per_cell} {diagnosis} patients of gender {gender!r} with "
                        f"a transcript and their own matched control (test and validation); {len(cell)} qualify. "
                        "Use protocol='cv' (--protocol cv), or a smaller n_per_cell (--n-per-cell).")
        if all(pid in assigned for pid in patients.index):
            raise ManifestError(f"The paper's protocol leaves no {diagnosis} patient for training "
                                f"({len(patients)} in all); use protocol='cv' (--protocol cv)"
                                + (" or a smaller n_per_cell (--n-per-cell)." if n_per_cell > 1 else "."))
    part = {pid: assigned.get(pid, "train") for pid in p.index}
    return Split("paper split", *(tuple(pid for pid in p.index if part[pid] == name)
                                  for name in ("train", "validation", "test")))


def grouped_cv_splits(cohort: Cohort, *, n_folds: int = 5, validation_fraction: float = 0.2, seed: int = 42
                      ) -> list[Split]:
    """Stratified K-fold over participants, with a stratified validation part of each training set.

    Parameters
    ----------
    cohort : Cohort
        The cohort; folds are stratified by diagnosis, and by study too when every participant has one.
    n_folds : int
        Folds (default 5; at least 2).
    validation_fraction : float
        Share of each stratum of a fold's training participants held out for validation (default 0.2;
        at least one participant of a stratum of two or more, and at least one left to train).
    seed : int
        Seed of the folds and of the validation draws (default 42).

    Returns
    -------
    list of Split
        One split per fold, named ``"fold k/n_folds"``; every participant is tested exactly once.

    Raises
    ------
    ManifestError
        When a class has fewer participants than the protocol needs (``n_folds``, and at
        least 2 in every training set for the validation part), or ``n_folds`` is below 2.
    """
    from sklearn.model_selection import StratifiedKFold

    p = cohort.participants
    counts = (p.groupby(["diagnosis", "study"]).size() if cohort.has("study") else p["diagnosis"].value_counts())
    needed = max(n_folds, 3)
    if n_folds < 2 or (counts < needed).any():
        small = {(k if isinstance(k, str) else " in study ".join(map(str, k))): int(v)
                 for k, v in counts[counts < needed].items()}
        raise ManifestError(f"Participant-grouped {n_folds}-fold cross-validation needs at least {needed} "
                            f"participants per class (and study, when given); {small} have fewer. Use fewer folds "
                            "(n_folds >= 2) or merge classes.")
    ids = np.asarray(p.index)
    # Stratify by diagnosis, and by study too when given (each binary task then finds its study's controls in
    # every training set).
    y = (p["diagnosis"] + "|" + p["study"].astype(str)).to_numpy() if cohort.has("study") else p["diagnosis"].to_numpy()
    outer = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    rng = np.random.default_rng(seed)
    splits = []
    for k, (train_idx, test_idx) in enumerate(outer.split(ids, y)):
        # Validation: validation_fraction of each stratum (at least one participant, at least one left to train).
        val_idx = []
        for stratum in np.unique(y[train_idx]):
            members = rng.permutation(train_idx[y[train_idx] == stratum])
            if len(members) >= 2:
                val_idx += list(members[: min(max(1, int(round(validation_fraction * len(members)))),
                                              len(members) - 1)])
        fit_idx = [i for i in train_idx if i not in set(val_idx)]
        splits.append(Split(f"fold {k + 1}/{n_folds}", tuple(ids[fit_idx]), tuple(ids[sorted(val_idx)]),
                            tuple(ids[test_idx])))
    return splits


def make_splits(cohort: Cohort, protocol: str, *, n_folds: int = 5, n_per_cell: int = 3, seed: int = 42
                ) -> list[Split]:
    """The splits of ``protocol`` (``"paper"`` or ``"cv"``; see :func:`choose_protocol`).

    Parameters
    ----------
    cohort : Cohort
        The cohort to split.
    protocol : str
        ``"paper"`` for :func:`paper_split`; anything else for :func:`grouped_cv_splits`.
    n_folds : int
        Folds of the cross-validation (default 5; unused by the paper's protocol).
    n_per_cell : int
        Patients per diagnosis x gender of the paper's test and validation sets (default 3; unused by
        the cross-validation).
    seed : int
        Seed of the splits (default 42).

    Returns
    -------
    list of Split
        The paper's one split, or one per fold.

    Raises
    ------
    ManifestError
        The cohort has too few participants for the protocol.
    """
    if protocol == "paper":
        return [paper_split(cohort, n_per_cell=n_per_cell, seed=seed)]
    return grouped_cv_splits(cohort, n_folds=n_folds, seed=seed)


def tasks(cohort: Cohort) -> list[Task]:
    """``multiclass`` (with two diagnoses or more) and ``<diagnosis>_vs_control`` for each diagnosis.

    Parameters
    ----------
    cohort : Cohort
        The cohort. With a ``study`` for every participant, a binary task's controls are those of its
        diagnosis's studies; otherwise all controls.

    Returns
    -------
    list of Task
        ``multiclass`` first (when there is one), then the binary tasks in the order of the diagnoses.

    Raises
    ------
    ManifestError
        No control shares a study with a diagnosis's patients.
    """
    p = cohort.participants
    control = cohort.control_label
    out = []
    if len(cohort.diagnoses) >= 2:
        out.append(Task("multiclass", tuple(cohort.classes), p["diagnosis"].copy(), None, "all controls"))
    by_study = cohort.has("study")
    for diagnosis in cohort.diagnoses:
        patients = p[p["diagnosis"] == diagnosis]
        controls = p[p["diagnosis"] == control]
        how = "all controls (the manifest has no study column)"
        if by_study:
            studies = set(patients["study"])
            controls = controls[controls["study"].isin(studies)]
            how = f"the controls of the {diagnosis} study ({', '.join(sorted(map(str, studies)))})"
            if controls.empty:
                raise ManifestError(f"No controls share a study with the {diagnosis} patients "
                                    f"(studies {sorted(map(str, studies))}); add them or drop the study column.")
        labels = pd.concat([patients["diagnosis"], controls["diagnosis"]])
        out.append(Task(f"{diagnosis}_vs_control", (control, diagnosis), labels, diagnosis, how))
    return out
