"""Subject-level cross-validation of SCAN against the hand-engineered ERP baseline, and denoising.

- **Baseline** (:func:`erp_features`): per condition and channel, the mean amplitude and
  the peak latency of the classic components in fixed windows (N1 80-150 ms negative, P2
  150-250, P3 250-500, LPP 400-800 ms positive), standardised, into a logistic regression
  per label.
- **Protocol**: stratified K-fold over *subjects* (by the first label): each fold trains the
  beta-VAE + SCAN and the baseline on the training subjects only and predicts the held-out
  subjects' full-average ERPs. Accuracy and AUC (binary: the second value's probability;
  more values: one-vs-rest macro) with 95% bootstrap intervals over subjects.
- **Denoising**: for each held-out subject, averages of ``denoise_trials`` random trials
  are encoded and decoded; the correlation with the subject's full average (all trials) is
  compared with the raw small average's.
- **Known factors** (:func:`latent_factor_correlations`, simulations): the Pearson r of
  every latent dimension with every generative factor, to check which latents SCAN marks.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bitbox.clinical.stats import binary_auc, bootstrap_ci
from bitbox.log import logger
from bitbox.processors.eeg import COMPONENTS

from .data import ErpDataset
from .model import EegFactorModel

__all__ = ["erp_features", "COMPONENT_WINDOWS", "cross_validate", "bootstrap_ci", "latent_factor_correlations"]

#: Component windows (ms) and polarity of the baseline features: those of the ``eeg`` processor.
COMPONENT_WINDOWS: dict[str, tuple[float, float, str]] = {name: (t0, t1, polarity)
                                                          for name, (t0, t1, polarity, _) in COMPONENTS.items()}


def erp_features(erps: np.ndarray, times: np.ndarray, names: list[str] | None = None) -> pd.DataFrame:
    """Mean amplitude (uV) and peak latency (ms) of each component for each input channel.

    Parameters
    ----------
    erps : np.ndarray, shape (n, n_inputs, n_times)
        ERPs in microvolts, one row per average (e.g. :meth:`ErpDataset.averages`).
    times : np.ndarray
        Seconds relative to the event, one per sample (only the first ``n_times`` are used).
    names : list of str | None
        Names of the inputs (e.g. ``"target_Pz"``); ``None`` (default) names them ``in0``, ``in1`` ...

    Returns
    -------
    pd.DataFrame
        One row per ERP; columns ``<input>_<component>_mean_uv`` and ``<input>_<component>_peak_latency_ms``
        for each component of :data:`COMPONENT_WINDOWS` whose window holds a sample.
    """
    t_ms = np.asarray(times)[: erps.shape[-1]] * 1000
    names = names or [f"in{i}" for i in range(erps.shape[1])]
    columns = {}
    for comp, (lo, hi, polarity) in COMPONENT_WINDOWS.items():
        window = (t_ms >= lo) & (t_ms <= hi)
        if not window.any():
            continue
        segment = erps[..., window]
        peak = segment.argmax(axis=-1) if polarity == "positive" else segment.argmin(axis=-1)
        for i, name in enumerate(names):
            columns[f"{name}_{comp}_mean_uv"] = segment[:, i].mean(axis=-1)
            columns[f"{name}_{comp}_peak_latency_ms"] = t_ms[window][peak[:, i]]
    return pd.DataFrame(columns)


def latent_factor_correlations(model: EegFactorModel, dataset: ErpDataset) -> pd.DataFrame:
    """Pearson r of each latent dimension (subjects' full-average codes) with each known generative factor.

    Parameters
    ----------
    model : EegFactorModel
        A fitted model.
    dataset : ErpDataset
        With ``truth["factors"]`` (e.g. from :func:`~bitbox.clinical.eeg_factors.simulate_cohort`).

    Returns
    -------
    pd.DataFrame
        One row per factor, one column per latent dimension (0 for a latent that is constant
        over the subjects).
    """
    factors = dataset.truth.get("factors")
    if factors is None:
        raise ValueError("The dataset has no known generative factors (truth['factors']); only simulated "
                         "cohorts (simulate_cohort) carry them.")
    z = model.encode(dataset.averages())
    table = {name: [_pearson(z[:, d], np.asarray(values, dtype=float)) for d in range(z.shape[1])]
             for name, values in factors.items()}
    return pd.DataFrame.from_dict(table, orient="index").rename_axis(index="factor", columns="latent")


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) == 0 or np.std(b) == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _scores(y_true: np.ndarray, proba: pd.DataFrame) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, roc_auc_score

    values = list(proba.columns)
    predicted = proba.idxmax(axis=1).to_numpy()
    out: dict[str, Any] = {"accuracy": float(accuracy_score(y_true, predicted))}
    out["accuracy_ci"] = bootstrap_ci(lambda t, p: float(np.mean(t == p)), y_true, predicted)
    if len(values) == 2:
        positive = (y_true == values[1]).astype(int)
        score = proba[values[1]].to_numpy()
        out["auc"] = float(roc_auc_score(positive, score))
        out["auc_ci"] = bootstrap_ci(binary_auc, positive, score)
        out["positive_value"] = values[1]
    else:
        matrix = proba.to_numpy()
        out["auc"] = float(roc_auc_score(y_true, matrix, multi_class="ovr", labels=values))
        out["auc_ci"] = (float("nan"), float("nan"))
    out["chance_accuracy"] = float(pd.Series(y_true).value_counts(normalize=True).max())
    return out


def _baseline_proba(train: ErpDataset, test: ErpDataset, label: str) -> pd.DataFrame:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    names = [f"{c}_{ch}" for c in train.conditions for ch in train.channels]
    x_train = erp_features(train.averages(), train.times, names)
    x_test = erp_features(test.averages(), test.times, names)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    classifier.fit(x_train, train.labels[label].astype(str))
    return pd.DataFrame(classifier.predict_proba(x_test), columns=list(classifier.classes_))


def cross_validate(dataset: ErpDataset, model: EegFactorModel | None = None, *, n_folds: int = 5,
                   denoise_trials: int = 5, random_state: int = 0, progress=None) -> dict[str, Any]:
    """Subject-level K-fold cross-validation of SCAN and the baseline, and the denoising gain.

    Parameters
    ----------
    dataset : ErpDataset
        The subjects and their labels; the folds are stratified by the first label column.
    model : EegFactorModel | None
        The model whose parameters each fold trains a fresh copy with (it is not fitted itself);
        ``None`` (default) uses ``EegFactorModel()``.
    n_folds : int
        Folds (default 5), lowered to the size of the first label's smallest group.
    denoise_trials : int
        Trials per small average in the denoising check (default 5); five averages are drawn per
        held-out subject.
    random_state : int
        Seed of the fold assignment and of the trial draws.
    progress : callable | None
        Called as ``progress(folds_done, n_folds)`` after each fold; ``None`` (default) for none.

    Returns
    -------
    dict
        ``{"scan": {label: scores}, "baseline": {label: scores}, "denoising": {...},
        "n_subjects", "n_folds", "protocol", "model_parameters"}`` where scores hold ``accuracy``,
        ``accuracy_ci``, ``auc``, ``auc_ci`` and ``chance_accuracy``.

    Raises
    ------
    ValueError
        A value of the first label has fewer than two subjects.
    """
    from sklearn.model_selection import StratifiedKFold

    model = model or EegFactorModel()
    labels = list(dataset.labels.columns)
    counts = dataset.labels[labels[0]].value_counts()
    n_folds = int(min(n_folds, counts.min()))
    if n_folds < 2:
        raise ValueError(f"Label {labels[0]!r} needs at least 2 subjects per value for cross-validation; "
                         f"counts: {counts.to_dict()}.")
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=random_state)
    scan_proba = {c: [None] * len(dataset) for c in labels}
    base_proba = {c: [None] * len(dataset) for c in labels}
    rng = np.random.default_rng(random_state)
    raw_r, den_r = [], []
    for k, (train_idx, test_idx) in enumerate(folds.split(np.zeros(len(dataset)), dataset.labels[labels[0]])):
        train, test = dataset.subset(train_idx), dataset.subset(test_idx)
        fitted = EegFactorModel(**model.get_params()).fit(train)
        test_erps = test.averages()
        predicted = fitted.predict_proba(test_erps)
        for label in labels:
            base = _baseline_proba(train, test, label)
            for j, i in enumerate(test_idx):
                scan_proba[label][i] = predicted[label].iloc[j]
                base_proba[label][i] = base.iloc[j]
        # Denoising: small averages of held-out subjects against their full averages.
        small, owner = test.subset_averages(denoise_trials, 5, rng)
        denoised = fitted.denoise(small)
        n = fitted.n_times_
        for erp, clean, s in zip(small, denoised, owner):
            reference = test_erps[s][..., :n].ravel()
            raw_r.append(np.corrcoef(erp[..., :n].ravel(), reference)[0, 1])
            den_r.append(np.corrcoef(clean.ravel(), reference)[0, 1])
        logger.info("eegfactors: fold %d/%d done", k + 1, n_folds)
        if progress is not None:
            progress(k + 1, n_folds)
    result: dict[str, Any] = {"scan": {}, "baseline": {}}
    for label in labels:
        y = dataset.labels[label].astype(str).to_numpy()
        values = sorted(np.unique(y))
        for key, table in (("scan", scan_proba), ("baseline", base_proba)):
            proba = pd.DataFrame(list(table[label])).reindex(columns=values).fillna(0.0).reset_index(drop=True)
            result[key][label] = _scores(y, proba)
    result["denoising"] = {"trials_per_average": int(denoise_trials), "n_averages": len(raw_r),
                           "raw_correlation": float(np.mean(raw_r)), "denoised_correlation": float(np.mean(den_r)),
                           "gain": float(np.mean(den_r) - np.mean(raw_r)),
                           "reference": "each held-out subject's average over all its trials"}
    result.update({"n_subjects": len(dataset), "n_folds": n_folds,
                   "protocol": f"stratified {n_folds}-fold cross-validation over subjects (by {labels[0]!r}); the "
                               "beta-VAE, SCAN and the baseline are trained on the training subjects only",
                   "model_parameters": model.get_params()})
    return result
