"""Train, select and test every feature set x model on every task, at the participant level.

For each split (the paper's, or each cross-validation fold) and each task:

1. every feature set x model is trained on the training participants' samples (windows or
   recordings), its hyper-parameters chosen on the validation participants by the F1 of the
   diagnosis (binary tasks) or the macro F1 (multiclass), as the original's
   ``RandomizedSearchCV`` scoring (``'f1'`` / ``'f1_macro'``); each ``descriptives`` column is
   also a model of its own (``descriptives:<column>/<model>``, the original's single-feature
   TextDescriptives models), and the MLP trains on augmented copies of the training windows
   too (:mod:`~bitbox.clinical.transdiagnostic.augment`);
2. sample scores (class probabilities) are averaged over a recording's windows, then over
   a participant's recordings: one score vector per participant;
3. **late fusion**: the voice model and the text model with the best validation score
   are combined per participant by the maximum (``fusion/max``, renormalised) and by the
   mean (``fusion/mean``) of their scores; a participant with one modality keeps it;
4. a **dummy** beside them: all positive for a binary task (the paper's), the training
   set's most frequent class for the multiclass task.

Test participants' scores over all splits give the metrics: macro and per-class F1,
accuracy, the confusion matrix, AUC (and, for binary tasks, the F1 of the diagnosis, the
paper's figure), each with a 95% bootstrap interval over participants.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bitbox.clinical.stats import binary_auc, bootstrap_ci
from bitbox.errors import ParameterError
from bitbox.log import logger

from .cohort import Cohort
from .augment import augmented_features
from .features import Features
from .models import MODELS, select_model
from .protocol import Split, Task, choose_protocol, make_splits, tasks

__all__ = ["Evaluation", "evaluate", "classification_scores", "participant_scores", "selection_score",
           "SINGLE_FEATURE_MODELS"]

#: Models fitted on each ``descriptives`` column alone (the original's single-feature models are XGBoost;
#: logistic regression is Bitbox's own; an MLP on one number is in neither).
SINGLE_FEATURE_MODELS = ("logreg", "xgboost")


@dataclass
class Evaluation:
    """Results of :func:`evaluate`.

    Attributes
    ----------
    metrics : dict
        ``{task: {model: scores}}`` with model names ``"<feature set>/<model>"``,
        ``"fusion/max"``, ``"fusion/mean"`` and ``"dummy"``; scores as returned by
        :func:`classification_scores`, plus ``validation_macro_f1``, ``validation_score``
        (what selection maximised: the diagnosis's F1, or macro F1 for multiclass),
        ``selection_metric`` and ``modality``.
    predictions : pandas.DataFrame
        One row per task, model and test participant: ``split``, ``true``, ``predicted``
        and ``p_<class>``.
    splits : pandas.DataFrame
        ``split``, ``participant_id``, ``part`` (train/validation/test).
    protocol : str
        The protocol used: ``"paper"`` or ``"cv"``.
    protocol_note : str
        Which protocol and why.
    task_notes : dict
        Per task, how its controls were chosen.
    fusion : list of dict
        Per split and task, the voice and text models fused.
    training : list of dict
        Per split, task and model: the chosen ``params``, ``validation_score``, and what
        training did (XGBoost ``best_iteration`` of the early-stopped refit and
        ``n_estimators``; MLP ``best_epoch``, ``val_loss`` per epoch, ``n_augmented_samples``).
    """

    metrics: dict[str, dict[str, dict[str, Any]]]
    predictions: pd.DataFrame
    splits: pd.DataFrame
    protocol: str
    protocol_note: str
    task_notes: dict[str, str] = field(default_factory=dict)
    fusion: list[dict] = field(default_factory=list)
    training: list[dict] = field(default_factory=list)


def participant_scores(proba: np.ndarray, recording_keys, participant_of: dict[str, str],
                       classes) -> pd.DataFrame:
    """Mean of sample scores per recording, then mean of recording scores per participant.

    Parameters
    ----------
    proba : np.ndarray
        ``(n_samples, n_classes)`` class scores, one row per sample (window or recording).
    recording_keys : array-like of str
        The recording each sample belongs to, one per row of ``proba``.
    participant_of : dict of str to str
        ``recording_key`` -> ``participant_id``; every key of ``recording_keys`` must be in it.
    classes : sequence of str
        The classes, in the order of ``proba``'s columns.

    Returns
    -------
    pd.DataFrame
        Participants x classes (index ``participant_id``, in order of first appearance), each recording
        weighing the same whatever its number of samples.
    """
    proba = np.asarray(proba, dtype=float)

    def means(values: np.ndarray, groups) -> tuple[np.ndarray, np.ndarray]:
        codes, uniques = pd.factorize(np.asarray(groups))
        sums = np.zeros((len(uniques), values.shape[1]))
        np.add.at(sums, codes, values)
        return sums / np.bincount(codes)[:, None], np.asarray(uniques)

    per_recording, keys = means(proba, recording_keys)
    per_participant, participants = means(per_recording, [participant_of[k] for k in keys])
    return pd.DataFrame(per_participant, index=pd.Index(participants, name="participant_id"), columns=list(classes))


def _predict(proba: pd.DataFrame) -> np.ndarray:
    """Arg-max class per row (the first class on ties)."""
    return np.asarray(proba.columns)[proba.to_numpy().argmax(axis=1)]


def _f1_per_class(true: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """F1 of each class from integer codes (0 where a class is neither true nor predicted)."""
    tp = np.bincount(true[true == predicted], minlength=n_classes).astype(float)
    n_true = np.bincount(true, minlength=n_classes)
    n_pred = np.bincount(predicted, minlength=n_classes)
    denominator = n_true + n_pred
    return np.divide(2 * tp, denominator, out=np.zeros(n_classes), where=denominator > 0)


def classification_scores(y_true, proba: pd.DataFrame, classes, *, positive: str | None = None,
                          n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Participant-level scores with 95% bootstrap intervals.

    Parameters
    ----------
    y_true : array-like of str
        True class per participant.
    proba : pandas.DataFrame
        Scores per participant (rows) and class (columns).
    classes : sequence of str
        Every class of the task, in order (rows and columns of the confusion matrix).
    positive : str | None
        The diagnosis of a binary task.
    n_boot : int
        Bootstrap resamples (participants drawn with replacement).
    seed : int
        Seed of the bootstrap resampling (default 0).

    Returns
    -------
    dict
        ``macro_f1``, ``per_class_f1``, ``accuracy``, ``confusion_matrix`` (rows: true,
        columns: predicted, in ``labels`` order), ``labels``, ``auc`` (binary: of the
        diagnosis's score; multiclass: one-vs-rest macro average), ``n_participants``,
        ``chance_macro_f1`` (1 / number of classes: guessing at the class frequencies), and
        for binary tasks ``f1`` (of the diagnosis); ``*_ci`` intervals beside each figure.

    Raises
    ------
    ValueError
        A true label is not among ``classes``.
    """
    classes = list(classes)
    n = len(classes)
    y = np.asarray(y_true).astype(str)
    unknown = sorted(set(y) - set(classes))
    if unknown:
        raise ValueError(f"True labels {unknown} are not among the task's classes {classes}.")
    proba = proba.reindex(columns=classes).fillna(0.0)
    scores = proba.to_numpy()
    true = np.array([classes.index(v) for v in y])
    predicted = scores.argmax(axis=1)
    per_class = _f1_per_class(true, predicted, n)
    matrix = np.zeros((n, n), dtype=int)
    np.add.at(matrix, (true, predicted), 1)

    def macro(t, p):  # over the classes a resample has (as scikit-learn without ``labels``)
        present = (np.bincount(t, minlength=n) + np.bincount(p, minlength=n)) > 0
        return float(_f1_per_class(t, p, n)[present].mean())

    out: dict[str, Any] = {
        "macro_f1": float(per_class.mean()),
        "macro_f1_ci": bootstrap_ci(macro, true, predicted, n_boot=n_boot, seed=seed),
        "per_class_f1": {c: float(v) for c, v in zip(classes, per_class)},
        "accuracy": float(np.mean(true == predicted)),
        "accuracy_ci": bootstrap_ci(lambda t, p: float(np.mean(t == p)), true, predicted, n_boot=n_boot, seed=seed),
        "confusion_matrix": matrix.tolist(),
        "labels": classes,
        "n_participants": int(len(y)),
        "chance_macro_f1": 1.0 / n,
    }
    present = set(true.tolist())
    nan_pair = (float("nan"), float("nan"))
    if positive is not None:
        k = classes.index(positive)
        out["f1"] = float(per_class[k])
        out["f1_ci"] = bootstrap_ci(lambda t, p: float(_f1_per_class(t, p, n)[k]), true, predicted, n_boot=n_boot,
                                    seed=seed)
        target = (true == k).astype(int)
        if len(present) == 2:
            out["auc"] = binary_auc(target, scores[:, k])
            out["auc_ci"] = bootstrap_ci(binary_auc, target, scores[:, k], n_boot=n_boot, seed=seed)
        else:
            out["auc"], out["auc_ci"] = float("nan"), nan_pair
    elif len(present) == n:
        shares = scores / np.maximum(scores.sum(axis=1, keepdims=True), 1e-12)
        out["auc"] = float(np.mean([binary_auc((true == k).astype(int), shares[:, k]) for k in range(n)]))
        out["auc_ci"] = nan_pair
    else:
        out["auc"], out["auc_ci"] = float("nan"), nan_pair
    return out


def _validation_macro_f1(y_of: pd.Series, proba: pd.DataFrame, classes) -> float:
    """Macro F1 over all the task's classes of the participants in ``proba`` (its rows)."""
    return selection_score(y_of.loc[proba.index], proba, classes, None)


def selection_score(y_true, proba: pd.DataFrame, classes, positive: str | None) -> float:
    """What model selection maximises: the F1 of ``positive`` (binary tasks), macro F1 otherwise.

    The original scores its search with scikit-learn's ``'f1'`` (the F1 of label 1, the
    diagnosis) for binary tasks and ``'f1_macro'`` for the multiclass one. Rows of ``proba``
    are participants; the prediction is the arg-max class (the first on ties); the macro
    average is over all the task's classes.

    Parameters
    ----------
    y_true : array-like of str
        True class per participant, in the order of ``proba``'s rows.
    proba : pandas.DataFrame
        Scores per participant (rows) and class (columns; a class missing from them scores 0).
    classes : sequence of str
        Every class of the task; each true label must be one of them.
    positive : str | None
        The diagnosis of a binary task (its F1 is returned), or ``None`` for the macro F1.

    Returns
    -------
    float
        The F1 in [0, 1].
    """
    classes = list(classes)
    true = np.array([classes.index(v) for v in np.asarray(y_true).astype(str)])
    predicted = proba.reindex(columns=classes).fillna(0.0).to_numpy().argmax(axis=1)
    per_class = _f1_per_class(true, predicted, len(classes))
    return float(per_class[classes.index(positive)] if positive is not None else per_class.mean())


def _model_inputs(features: Features, models) -> list[tuple[str, pd.DataFrame, list[str]]]:
    """(feature set name, table, models) of every feature set, then of every single descriptor."""
    out = [(name, table, list(models)) for name, table in features.tables.items()]
    single = [m for m in models if m in SINGLE_FEATURE_MODELS]
    table = features.tables.get("descriptives")
    if table is not None and single:
        for column in table.columns.drop("recording_key"):
            out.append((f"descriptives:{column}", table[["recording_key", column]], single))
    return out


def _fuse(a: pd.DataFrame, b: pd.DataFrame, how: str) -> pd.DataFrame:
    """Combine two participants x classes score tables; a participant in one of them keeps its scores."""
    index = a.index.union(b.index, sort=False)
    stacked = np.stack([a.reindex(index).to_numpy(), b.reindex(index).to_numpy()])
    if how == "max":
        fused = np.nanmax(stacked, axis=0)
        fused = fused / np.maximum(fused.sum(axis=1, keepdims=True), 1e-12)
    else:
        fused = np.nanmean(stacked, axis=0)
    return pd.DataFrame(fused, index=index, columns=a.columns)


def _run_task(task: Task, split: Split, features: Features, participant_of: dict[str, str], models, *,
              n_iter: int, seed: int, mlp_params: dict | None, augmented: dict[str, pd.DataFrame] | None = None
              ) -> tuple[dict, dict, list[dict]]:
    """Validation and test scores per model of one task on one split."""
    labels = task.labels.astype(str)
    classes = list(task.classes)
    parts = {name: [p for p in getattr(split, name) if p in labels.index] for name in ("train", "validation", "test")}
    val_scores: dict[str, pd.DataFrame] = {}
    test_scores: dict[str, pd.DataFrame] = {}
    selection: dict[str, float] = {}
    info = []
    # The original weights the MLP's loss for binary tasks only (use_weights; its multiclass model has none).
    mlp = {"class_weight": "balanced" if task.positive is not None else None, **(mlp_params or {})}
    for set_name, table, set_models in _model_inputs(features, models):
        text = set_name == "tfidf"
        pid = table["recording_key"].map(participant_of)
        data = table["text"] if text else table.drop(columns=["recording_key"]).to_numpy(dtype=float)
        rows = {name: pid.isin(parts[name]).to_numpy() for name in parts}
        y_train = labels.loc[pid[rows["train"]]].to_numpy()
        if len(set(y_train)) < len(classes):
            logger.warning("transdx %s, %s: %s has training samples of %s only; skipped", task.name, split.name,
                           set_name, sorted(set(y_train)))
            continue
        train_classes = sorted(set(y_train))  # predict_proba's columns (select_model returns them too)
        x_val = data[rows["validation"]] if rows["validation"].any() else None
        y_val = labels.loc[pid[rows["validation"]]].to_numpy()
        extra = None
        if augmented and set_name in augmented:
            copies = augmented[set_name]
            copies = copies[copies["recording_key"].map(participant_of).isin(parts["train"])]
            columns = list(table.columns.drop("recording_key"))
            extra = (copies[columns].to_numpy(dtype=float),
                     labels.loc[copies["recording_key"].map(participant_of)].to_numpy())
        for model in set_models:
            name = f"{set_name}/{model}"

            def score(_pipeline, proba, _keys=table["recording_key"][rows["validation"]]):
                scores = participant_scores(proba, _keys, participant_of, train_classes)
                return selection_score(labels.loc[scores.index], scores, classes, task.positive)

            pipeline, fitted_classes, params, value, trained = select_model(
                model, text=text, X_train=data[rows["train"]], y_train=y_train, X_val=x_val, y_val=y_val,
                score=score, n_iter=n_iter, random_state=seed, mlp_params=mlp if model == "mlp" else None,
                extra_train=extra if model == "mlp" else None)
            selection[name] = value
            for part, store in (("validation", val_scores), ("test", test_scores)):
                if rows[part].any():
                    store[name] = participant_scores(pipeline.predict_proba(data[rows[part]]),
                                                     table["recording_key"][rows[part]], participant_of,
                                                     fitted_classes).reindex(columns=classes).fillna(0.0)
            info.append({"split": split.name, "task": task.name, "model": name, "params": params,
                         "validation_score": value, **trained})
    # Late fusion of the best voice and the best text model (chosen on the validation participants).
    best: dict[str, tuple[str, float]] = {}
    for name, proba in val_scores.items():
        modality = Features.modality(name.split("/")[0].split(":")[0])
        value = selection[name]
        if modality not in best or value > best[modality][1]:
            best[modality] = (name, value)
    if {"voice", "text"} <= set(best):
        voice, text_model = best["voice"][0], best["text"][0]
        empty = pd.DataFrame(columns=classes, dtype=float)  # a model without scores for a part's participants
        for how in ("max", "mean"):
            for store in (test_scores, val_scores):
                if voice in store or text_model in store:
                    store[f"fusion/{how}"] = _fuse(store.get(voice, empty), store.get(text_model, empty), how)
        info.append({"split": split.name, "task": task.name, "model": "fusion", "voice": voice, "text": text_model})
    # The dummy: all positive (binary), or the training set's most frequent class.
    if parts["test"]:
        if task.positive is not None:
            constant = task.positive
        else:
            counts = labels.loc[parts["train"]].value_counts()
            constant = max(classes, key=lambda c: (counts.get(c, 0), -classes.index(c)))
        dummy = pd.DataFrame(0.0, index=pd.Index(parts["test"], name="participant_id"), columns=classes)
        dummy[constant] = 1.0
        test_scores["dummy"] = dummy
    return val_scores, test_scores, info


def evaluate(cohort: Cohort, features: Features, *, protocol: str = "auto", models=MODELS, n_folds: int = 5,
             n_per_cell: int = 3, n_iter: int = 1000, seed: int = 42, n_boot: int = 1000,
             mlp_params: dict | None = None, mlp_augment: int = 1, window_s: float = 5.0, stride_s: float = 1.0,
             progress: bool = True) -> Evaluation:
    """Evaluate every feature set x model, their fusion and the dummy on every task.

    Parameters
    ----------
    cohort : Cohort
        The participants, their diagnoses and recordings (from
        :func:`~bitbox.clinical.transdiagnostic.read_manifest`); it decides the tasks and splits.
    features : Features
        From :func:`~bitbox.clinical.transdiagnostic.extract_features`.
    protocol : {"auto", "paper", "cv"}
        ``"auto"``: the paper's selection when the manifest has ``gender`` and
        ``matched_control_id``, participant-grouped cross-validation otherwise.
    models : sequence of str
        Among ``("logreg", "xgboost", "mlp")``.
    n_folds : int
        Folds of the cross-validation.
    n_per_cell : int
        Patients per diagnosis x gender in the paper's test (and validation) set.
    n_iter : int
        Random draws of XGBoost's hyper-parameters (the original's 1000; fewer for a quick run).
    seed : int
        Seed of the splits and the models (the paper's 42).
    n_boot : int
        Bootstrap resamples for the intervals.
    mlp_params : dict | None
        Parameters of :class:`~bitbox.clinical.transdiagnostic.MLPHead` (``class_weight``
        defaults to ``"balanced"`` for binary tasks and ``None`` for multiclass, as the
        original).
    mlp_augment : int
        Augmented copies of every training window of ``egemaps`` and ``mfcc`` for the MLP
        (:func:`~bitbox.clinical.transdiagnostic.augment.augmented_features`; 0: none).
    window_s, stride_s : float
        The windows the features were computed with (for the augmented copies).
    progress : bool
        Show a progress bar.

    Returns
    -------
    Evaluation
        The metrics per task and model, the test participants' predictions, the splits, and what
        selection, fusion and training did.

    Raises
    ------
    ParameterError
        An unknown model (or none), no feature table, or an unknown ``protocol``.
    ManifestError
        The cohort does not allow the protocol or its splits and tasks (too few participants per class
        or cell, no controls in a diagnosis's study; see :mod:`~bitbox.clinical.transdiagnostic.protocol`).
    """
    from tqdm.auto import tqdm

    models = list(models)
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise ParameterError(f"Unknown model(s) {unknown}; choose among {list(MODELS)}.")
    if not features.tables:
        raise ParameterError("No feature set has any recording: nothing to evaluate. Every recording was left out; "
                             "the reasons are in features.dropped (the batch manifests under OUT/features).")
    protocol, note = choose_protocol(cohort, protocol)
    splits = make_splits(cohort, protocol, n_folds=n_folds, n_per_cell=n_per_cell, seed=seed)
    task_list = tasks(cohort)
    participant_of = dict(zip(cohort.recordings["recording_key"], cohort.recordings["participant_id"]))
    if "xgboost" in models:
        n_inputs = len(_model_inputs(features, ["xgboost"])) + 2 * ("tfidf" in features.tables)  # 3 vocabularies
        logger.info("transdx: XGBoost searches %d configurations for each of %d inputs x %d tasks x %d splits "
                    "(%d fits; --n-iter lowers it)", int(n_iter), n_inputs, len(task_list), len(splits),
                    int(n_iter) * n_inputs * len(task_list) * len(splits))
    augmented = {}
    window_sets = [s for s in ("egemaps", "mfcc") if s in features.tables]
    if "mlp" in models and int(mlp_augment) > 0 and window_sets:
        keys = pd.unique(pd.concat([features.tables[s]["recording_key"] for s in window_sets]))
        audio = dict(zip(cohort.recordings["recording_key"], cohort.recordings["recording"]))
        logger.info("transdx: %d augmented copies of the windows of %d recordings for the MLP", int(mlp_augment),
                    len(keys))
        augmented = augmented_features({k: audio[k] for k in keys}, window_sets, n_copies=int(mlp_augment),
                                       window_s=window_s, stride_s=stride_s, seed=seed)
    collected: dict[str, dict[str, list[pd.DataFrame]]] = {t.name: {} for t in task_list}
    validation: dict[str, dict[str, list[float]]] = {t.name: {} for t in task_list}
    selected: dict[str, dict[str, list[float]]] = {t.name: {} for t in task_list}
    fusion, rows, training = [], [], []
    bar = tqdm(total=len(splits) * len(task_list), desc="transdx", unit="task", disable=not progress,
               dynamic_ncols=True)
    try:
        for split in splits:
            for task in task_list:
                val_scores, test_scores, info = _run_task(task, split, features, participant_of, models,
                                                          n_iter=n_iter, seed=seed, mlp_params=mlp_params,
                                                          augmented=augmented)
                labels = task.labels.astype(str)
                for name, proba in test_scores.items():
                    collected[task.name].setdefault(name, []).append(proba.assign(split=split.name))
                for name, proba in val_scores.items():
                    validation[task.name].setdefault(name, []).append(
                        _validation_macro_f1(labels, proba, task.classes))
                    selected[task.name].setdefault(name, []).append(
                        selection_score(labels.loc[proba.index], proba, task.classes, task.positive))
                fusion.extend(i for i in info if i["model"] == "fusion")
                training.extend(i for i in info if i["model"] != "fusion")
                bar.update(1)
    finally:
        bar.close()
    metrics: dict[str, dict[str, dict[str, Any]]] = {}
    for task in task_list:
        labels = task.labels.astype(str)
        metrics[task.name] = {}
        for name, parts in collected[task.name].items():
            proba = pd.concat(parts)
            split_of = proba.pop("split")
            y = labels.loc[proba.index].to_numpy()
            scores = classification_scores(y, proba, task.classes, positive=task.positive, n_boot=n_boot, seed=seed)
            values = validation[task.name].get(name)
            scores["validation_macro_f1"] = float(np.mean(values)) if values else float("nan")
            values = selected[task.name].get(name)
            scores["validation_score"] = float(np.mean(values)) if values else float("nan")
            scores["selection_metric"] = f"f1 of {task.positive}" if task.positive is not None else "macro_f1"
            scores["modality"] = ("fusion" if name.startswith("fusion") else "none" if name == "dummy"
                                  else Features.modality(name.split("/")[0].split(":")[0]))
            metrics[task.name][name] = scores
            predicted = _predict(proba)
            for j, pid in enumerate(proba.index):
                rows.append({"task": task.name, "model": name, "split": split_of.iloc[j], "participant_id": pid,
                             "true": y[j], "predicted": predicted[j],
                             **{f"p_{c}": float(proba.iloc[j][c]) for c in task.classes}})
    split_rows = [{"split": s.name, "participant_id": pid, "part": part} for s in splits
                  for pid, part in s.part_of().items()]
    return Evaluation(metrics=metrics, predictions=pd.DataFrame(rows), splits=pd.DataFrame(split_rows),
                      protocol=protocol, protocol_note=note, task_notes={t.name: t.controls for t in task_list},
                      fusion=fusion, training=training)
