"""ERP datasets for the EEG factor models: subjects x conditions x channels x time, with labels.

An :class:`ErpDataset` holds every subject's single trials per condition (microvolts), the
channel and condition names, the time axis, and one row of labels per subject. Models see
ERPs: averages over all of a subject's trials, or over random subsets of them (the
augmentation of Honke et al. 2021), laid out as ``(n, n_conditions * n_channels, n_times)``.

:func:`read_epochs_dir` reads one MNE ``*-epo.fif`` file per subject (the Bitbox EEG
processor's epochs, or any MNE pipeline's) and a labels CSV; :func:`simulate_cohort` makes
a cohort with known generative factors for tests, examples and benchmarks.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from bitbox.errors import BitboxError, RecordingError
from bitbox.log import logger

__all__ = ["ErpDataset", "read_epochs_dir", "read_labels", "simulate_cohort", "write_epochs_dir", "epochs_from_raw"]


@dataclass
class ErpDataset:
    """Single trials of several subjects, with labels.

    Attributes
    ----------
    trials : list of dict
        Per subject, ``{condition: array (n_trials, n_channels, n_times)}`` in microvolts.
    subjects : list of str
    conditions, channels : list of str
    times : np.ndarray
        Seconds relative to the event.
    labels : pd.DataFrame
        Indexed by subject; one column per label (categorical values as strings).
    truth : dict
        Optional known truth (simulations): ``"erps"`` (n_subjects, n_conditions, n_channels,
        n_times) noise-free ERPs and ``"factors"`` (a DataFrame of generative factors).
    """

    trials: list[dict[str, np.ndarray]]
    subjects: list[str]
    conditions: list[str]
    channels: list[str]
    times: np.ndarray
    labels: pd.DataFrame
    truth: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.subjects)

    def __repr__(self) -> str:
        n_trials = [min(len(t[c]) for c in self.conditions) for t in self.trials]
        return (f"<ErpDataset: {len(self)} subjects, conditions {self.conditions}, {len(self.channels)} channels, "
                f"{len(self.times)} samples, {min(n_trials) if n_trials else 0}-{max(n_trials) if n_trials else 0} "
                f"trials per condition, labels {list(self.labels.columns)}>")

    @property
    def n_inputs(self) -> int:
        """Input channels of the models: conditions x channels."""
        return len(self.conditions) * len(self.channels)

    def averages(self) -> np.ndarray:
        """Each subject's ERP over all its trials: ``(n_subjects, n_conditions * n_channels, n_times)``."""
        return np.stack([np.concatenate([t[c].mean(axis=0) for c in self.conditions]) for t in self.trials])

    def subset_averages(self, n_trials: int, n_draws: int, rng: np.random.Generator
                        ) -> tuple[np.ndarray, np.ndarray]:
        """Averages over ``n_trials`` random trials per condition, ``n_draws`` per subject.

        Parameters
        ----------
        n_trials : int
            Trials averaged per condition and draw, picked without replacement (all of a condition's
            trials when it has fewer).
        n_draws : int
            Random subsets drawn per subject.
        rng : np.random.Generator
            The source of the random picks.

        Returns
        -------
        erps : np.ndarray
            ``(n_subjects * n_draws, n_inputs, n_times)`` float32 averages in microvolts, subject by subject.
        owner : np.ndarray
            The subject index (position in :attr:`subjects`) of each row of ``erps``.
        """
        out, owner = [], []
        for s, subject_trials in enumerate(self.trials):
            for _ in range(n_draws):
                parts = []
                for c in self.conditions:
                    trials = subject_trials[c]
                    pick = rng.choice(len(trials), size=min(n_trials, len(trials)), replace=False)
                    parts.append(trials[pick].mean(axis=0))
                out.append(np.concatenate(parts))
                owner.append(s)
        return np.stack(out).astype(np.float32), np.asarray(owner)

    def subset(self, index: Sequence[int]) -> "ErpDataset":
        """The dataset restricted to the subjects at ``index``.

        Parameters
        ----------
        index : sequence of int
            Positions of the subjects to keep, in the order wanted (``truth`` is restricted alike).

        Returns
        -------
        ErpDataset
            A new dataset; the trial arrays are shared with this one, not copied.
        """
        index = list(index)
        truth = {}
        if "erps" in self.truth:
            truth["erps"] = self.truth["erps"][index]
        if "factors" in self.truth:
            truth["factors"] = self.truth["factors"].iloc[index]
        return ErpDataset([self.trials[i] for i in index], [self.subjects[i] for i in index], list(self.conditions),
                          list(self.channels), self.times, self.labels.iloc[index], truth)


# ---------------------------------------------------------------------------- reading
def read_labels(path: str | Path, subjects: Sequence[str] | None = None) -> pd.DataFrame:
    """Read LABELS.csv (``subject`` column, then one column per label) with clear errors.

    Parameters
    ----------
    path : str | Path
        The CSV file. Values are read as strings; a subject written ``s000-epo`` (the epochs file's
        stem) is the subject ``s000``.
    subjects : sequence of str | None
        The subjects needed, in order: the table is restricted to them and must have a row for each.
        ``None`` (default) keeps every row.

    Returns
    -------
    pd.DataFrame
        Indexed by ``subject``; one string column per label.

    Raises
    ------
    RecordingError
        The file is missing, has no ``subject`` column or no label column, lists a subject twice,
        has an empty label, lacks a row for one of ``subjects``, or a label has a single value.
    """
    path = Path(path)
    if not path.is_file():
        raise RecordingError(path, "labels file does not exist")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "subject" not in table.columns:
        raise RecordingError(path, f"has no 'subject' column (columns: {list(table.columns)})",
                             "The first column must be 'subject' (the epochs file's stem, with or without -epo)")
    if len(table.columns) < 2:
        raise RecordingError(path, "has no label column besides 'subject'")
    # ``s000-epo`` (the stem of ``s000-epo.fif`` as Python gives it) and ``s000`` name the same subject.
    table["subject"] = table["subject"].str.strip().str.replace(r"-epo$", "", regex=True)
    if table["subject"].duplicated().any():
        twice = sorted(set(table["subject"][table["subject"].duplicated()]))
        raise RecordingError(path, f"lists subjects twice: {twice}",
                             "Give each subject one row (`s000` and `s000-epo` are the same subject)")
    table = table.set_index("subject")
    empty = [(s, c) for c in table.columns for s in table.index[table[c].str.strip() == ""]]
    if empty:
        raise RecordingError(path, f"has empty labels, e.g. subject {empty[0][0]!r}, column {empty[0][1]!r}")
    if subjects is not None:
        missing = [s for s in subjects if s not in table.index]
        if missing:
            raise RecordingError(path, f"has no row for subjects {missing[:5]}{' ...' if len(missing) > 5 else ''}",
                                 "Add one row per epochs file (subject: the file name without -epo.fif, or its stem)")
        table = table.loc[list(subjects)]
    for column in table.columns:
        if table[column].nunique() < 2:
            raise RecordingError(path, f"label {column!r} has a single value; a classifier needs at least two")
    return table


def read_epochs_dir(folder: str | Path, labels: str | Path, *, channels: Sequence[str] | None = None,
                    conditions: Sequence[str] | None = None) -> ErpDataset:
    """Read one MNE ``<subject>-epo.fif`` file per subject and the labels CSV.

    Parameters
    ----------
    folder : path
        Folder of ``*-epo.fif`` files (one per subject; the subject id is the stem before
        ``-epo``).
    labels : path
        CSV with ``subject`` and one column per label.
    channels, conditions : list of str | None
        Channels and conditions (event names) to use; by default those every subject has.
    """
    import mne

    folder = Path(folder)
    files = sorted(folder.glob("*-epo.fif"))
    if not files:
        raise BitboxError(f"{folder}: no *-epo.fif files (one MNE epochs file per subject is expected).")
    epochs = {}
    for path in files:
        try:
            epochs[path.name[: -len("-epo.fif")]] = mne.read_epochs(path, preload=True, verbose="error")
        except Exception as err:
            raise RecordingError(path, f"cannot be read as MNE epochs ({type(err).__name__}: {err})") from None
    table = read_labels(labels, list(epochs))
    common_channels = set.intersection(*({e.ch_names[i] for i in mne.pick_types(e.info, eeg=True)}
                                         for e in epochs.values()))
    common_conditions = set.intersection(*(set(e.event_id) for e in epochs.values()))
    channels = list(channels) if channels else [c for c in next(iter(epochs.values())).ch_names
                                                 if c in common_channels]
    conditions = list(conditions) if conditions else sorted(common_conditions)
    for subject, e in epochs.items():
        missing = [c for c in channels if c not in e.ch_names] + [c for c in conditions if c not in e.event_id]
        if missing:
            raise RecordingError(folder / f"{subject}-epo.fif", f"lacks {missing}",
                                 "Give channels=/conditions= that every subject has")
    if not channels or not conditions:
        raise BitboxError(f"{folder}: the subjects share no EEG channel or condition.")
    reference = next(iter(epochs.values()))
    times, sfreq = reference.times, reference.info["sfreq"]
    trials = []
    for subject, e in epochs.items():
        if e.info["sfreq"] != sfreq or len(e.times) != len(times):
            raise RecordingError(folder / f"{subject}-epo.fif", f"has {e.info['sfreq']} Hz and {len(e.times)} samples; "
                                 f"the first subject has {sfreq} Hz and {len(times)}", "Epoch all subjects alike")
        e = e.copy().pick(channels)
        trials.append({c: (e[c].get_data() * 1e6).astype(np.float32) for c in conditions})
    return ErpDataset(trials, list(epochs), conditions, channels, np.asarray(times), table)


def write_epochs_dir(dataset: ErpDataset, folder: str | Path, sfreq: float | None = None) -> Path:
    """Save each subject as ``<subject>-epo.fif`` and the labels as ``labels.csv`` (for the CLI).

    Parameters
    ----------
    dataset : ErpDataset
        The subjects to write; each condition becomes an MNE event (codes 1, 2, ... in the order of
        ``dataset.conditions``) and the microvolt trials are written in volts.
    folder : str | Path
        The output folder (created when missing); existing files of the same names are overwritten.
    sfreq : float | None
        Sampling rate in Hz; ``None`` (default) derives it from the spacing of ``dataset.times``.

    Returns
    -------
    Path
        ``folder``, ready for :func:`read_epochs_dir` (``folder``, ``folder / "labels.csv"``).
    """
    import mne

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sfreq = sfreq or 1.0 / float(np.median(np.diff(dataset.times)))
    info = mne.create_info(list(dataset.channels), sfreq, ch_types="eeg")
    for subject, trials in zip(dataset.subjects, dataset.trials):
        data = np.concatenate([trials[c] for c in dataset.conditions]) * 1e-6
        codes = np.concatenate([np.full(len(trials[c]), i + 1) for i, c in enumerate(dataset.conditions)])
        events = np.column_stack([np.arange(len(codes)) * 1000, np.zeros(len(codes), int), codes])
        epochs = mne.EpochsArray(data, info, events=events, tmin=float(dataset.times[0]),
                                 event_id={c: i + 1 for i, c in enumerate(dataset.conditions)}, verbose="error")
        epochs.save(folder / f"{subject}-epo.fif", overwrite=True, verbose="error")
    dataset.labels.rename_axis("subject").reset_index().to_csv(folder / "labels.csv", index=False)
    return folder


def epochs_from_raw(recordings: Sequence[str | Path], folder: str | Path, *, tmin: float = -0.2,
                    tmax: float = 0.8, reject_uv: float | None = 150.0, **eeg_params) -> list[Path]:
    """Epoch raw EEG recordings with Bitbox's EEG preprocessing into ``<stem>-epo.fif`` files.

    Each recording is read and preprocessed exactly as the ``eeg`` processor does
    (:class:`bitbox.processors.eeg.EegProcessor`; ``eeg_params`` are its parameters), then
    cut into epochs around its events (annotations or stim channel), baseline-corrected on
    the pre-stimulus interval, with peak-to-peak rejection above ``reject_uv``.

    Parameters
    ----------
    recordings : sequence of str | Path
        Raw EEG files, in any format the ``eeg`` processor reads.
    folder : str | Path
        The output folder (created when missing); each recording is written as ``<stem>-epo.fif``,
        replacing a file of that name.
    tmin, tmax : float
        Epoch start and end in seconds relative to each event (defaults -0.2 and 0.8); the
        baseline is ``tmin`` to 0.
    reject_uv : float | None
        Drop an epoch whose peak-to-peak amplitude on any EEG channel exceeds this many microvolts
        (default 150); ``None`` keeps every epoch.
    **eeg_params
        Further parameters of :class:`~bitbox.processors.eeg.EegProcessor` (filters, reference,
        units ...), validated as the processor validates them.

    Returns
    -------
    list of Path
        The epochs files written, in the order of ``recordings``.

    Raises
    ------
    RecordingError
        A recording has no events to epoch around (no annotations or stim channel).
    ParameterError
        A parameter value is out of the ``eeg`` processor's range (an unknown name raises TypeError).
    """
    import mne

    from bitbox.processors.eeg import EegProcessor, annotation_events, read_raw

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    processor = EegProcessor(epoch_tmin=tmin, epoch_tmax=tmax, reject_uv=reject_uv, **eeg_params)
    processor.validate_params()
    written = []
    for recording in recordings:
        path = Path(recording)
        clean, _ = processor.preprocess(read_raw(path, units=str(processor.units)))
        # read_raw turns stim-channel events into annotations; exact repeats are merged, and codes that
        # share a sample (trial start, cue, feedback) are epoched one code at a time, as the processor does.
        events, event_id, notes = annotation_events(clean)
        for note in notes:
            logger.info("%s: %s", path.name, note)
        if not event_id:
            raise RecordingError(path, "has no events to epoch around (no annotations or stim channel)")
        parts = [mne.Epochs(clean, events[events[:, 2] == code], {description: code}, tmin=tmin, tmax=tmax,
                            baseline=(tmin, 0.0), preload=True,
                            reject={"eeg": reject_uv * 1e-6} if reject_uv else None, verbose="error")
                 for description, code in event_id.items() if (events[:, 2] == code).any()]
        epochs = parts[0] if len(parts) == 1 else mne.concatenate_epochs(parts, add_offset=True, verbose="error")
        out = folder / f"{path.stem}-epo.fif"
        epochs.save(out, overwrite=True, verbose="error")
        written.append(out)
    return written


# ---------------------------------------------------------------------------- simulation
def simulate_cohort(n_subjects: int = 60, n_trials: int = 40, *, noise_uv: float = 4.0, seed: int = 0
                    ) -> ErpDataset:
    """A cohort with known generative factors, in the layout of Honke et al. (3 channels x 2 conditions).

    Per subject, independently: ``group`` (patient/control) lowers the P3 amplitude
    (control ~ N(10, 1.5) uV, patient ~ N(6.5, 1.5) uV); ``age_group`` (young/old) delays the
    P3 (N(330, 15) vs N(390, 15) ms); the N1 amplitude is a nuisance factor (U(-8, -1) uV,
    unrelated to the labels). Targets carry the full P3, standards 30% of it. Each trial is
    the subject's ERP plus 1/f noise of ``noise_uv`` RMS per channel, baseline-corrected
    (pre-stimulus mean removed, as MNE epochs are). 250 Hz, 256 samples from -248 ms.

    Parameters
    ----------
    n_subjects : int
        Subjects (default 60); the groups and age groups are balanced (half each, one more for an odd count).
    n_trials : int
        Trials per condition and subject (default 40).
    noise_uv : float
        RMS of the 1/f noise added to each trial, in microvolts (default 4.0).
    seed : int
        Seed of every random draw: the same seed gives the same cohort.

    Returns
    -------
    ErpDataset
        With ``truth["erps"]`` (noise-free ERPs) and ``truth["factors"]`` (p3_amplitude_uv,
        p3_latency_ms, n1_amplitude_uv per subject).
    """
    from bitbox.processors.eeg_simulation import pink_noise

    rng = np.random.default_rng(seed)
    sfreq, n_times = 250.0, 256
    times = np.arange(n_times) / sfreq - 0.248
    t_ms = times * 1000
    channels, conditions = ["Fz", "Cz", "Pz"], ["standard", "target"]
    n1_topo, p3_topo = np.array([0.8, 1.0, 0.6]), np.array([0.4, 0.7, 1.0])
    group = rng.permutation(np.repeat(["control", "patient"], int(np.ceil(n_subjects / 2)))[:n_subjects])
    age = rng.permutation(np.repeat(["young", "old"], int(np.ceil(n_subjects / 2)))[:n_subjects])
    amplitude = np.where(group == "control", rng.normal(10.0, 1.5, n_subjects), rng.normal(6.5, 1.5, n_subjects))
    latency = np.where(age == "young", rng.normal(330.0, 15.0, n_subjects), rng.normal(390.0, 15.0, n_subjects))
    n1 = rng.uniform(-8.0, -1.0, n_subjects)
    erps = np.zeros((n_subjects, 2, 3, n_times))
    trials = []
    for s in range(n_subjects):
        n1_wave = n1[s] * np.exp(-((t_ms - 100) ** 2) / (2 * 20.0 ** 2))
        p3_wave = amplitude[s] * np.exp(-((t_ms - latency[s]) ** 2) / (2 * 60.0 ** 2))
        for c, p3_share in enumerate((0.3, 1.0)):
            erps[s, c] = n1_topo[:, None] * n1_wave + p3_topo[:, None] * p3_share * p3_wave
        subject_trials = {}
        for c, cond in enumerate(conditions):
            noise = pink_noise(rng, n_trials * 3, n_times).reshape(n_trials, 3, n_times)
            data = erps[s, c][None] + noise_uv * noise
            subject_trials[cond] = (data - data[..., times < 0].mean(axis=-1, keepdims=True)).astype(np.float32)
        trials.append(subject_trials)
    subjects = [f"sub-{i + 1:03d}" for i in range(n_subjects)]
    labels = pd.DataFrame({"group": group, "age_group": age}, index=pd.Index(subjects, name="subject"))
    factors = pd.DataFrame({"p3_amplitude_uv": amplitude, "p3_latency_ms": latency, "n1_amplitude_uv": n1},
                           index=labels.index)
    return ErpDataset(trials, subjects, conditions, channels, times, labels, {"erps": erps, "factors": factors})
