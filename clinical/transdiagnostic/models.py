"""The classifiers: logistic regression, XGBoost with randomized search, and the paper's MLP head.

Every model is a scikit-learn pipeline ending in a classifier with class weighting:

- ``logreg``: median imputation, standardisation, L2 logistic regression
  (``class_weight="balanced"``); C chosen on the validation participants.
- ``xgboost``: median imputation, gradient-boosted trees (CPU ``hist``), balanced sample
  weights; ``n_iter`` random draws of depth, trees, learning rate, subsampling and
  minimum child weight, the one with the best validation macro F1 kept (randomized
  search on a predefined split, as in the paper).
- ``mlp``: :class:`MLPHead`, the paper's head Linear(d, 1028) -> LeakyReLU ->
  Linear(1028, C) with a class-balanced negative log-likelihood and AdamW.

On ``tfidf`` the pipeline starts with a TF-IDF vectoriser whose vocabulary size (100, 1k or
10k, as in the paper) is chosen with the other hyper-parameters.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from bitbox.errors import ParameterError

__all__ = ["MLPHead", "MODELS", "make_pipeline", "candidate_params", "select_model"]

MODELS = ("logreg", "xgboost", "mlp")


class MLPHead(ClassifierMixin, BaseEstimator):
    """The classification head of Hansen et al. (2023) as a scikit-learn classifier (torch, CPU).

    Linear(n_features, hidden) -> LeakyReLU -> Linear(hidden, n_classes), trained with a
    class-balanced negative log-likelihood and AdamW on standardised inputs.

    Parameters
    ----------
    hidden : int
        Width of the hidden layer (the paper's 1028).
    lr : float
        AdamW learning rate.
    n_epochs : int
        Passes over the training set.
    batch_size : int
    weight_decay : float
    random_state : int
        Seed of the initialisation and batch order.

    Attributes
    ----------
    classes_ : np.ndarray
    n_features_in_ : int
    module_ : torch.nn.Module
    """

    def __init__(self, *, hidden: int = 1028, lr: float = 5e-5, n_epochs: int = 20, batch_size: int = 16,
                 weight_decay: float = 0.01, random_state: int = 0) -> None:
        self.hidden = hidden
        self.lr = lr
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.random_state = random_state

    def _tensor(self, X):
        import torch

        X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
        return torch.as_tensor(np.asarray(X, dtype=np.float32))

    def fit(self, X, y, sample_weight=None) -> "MLPHead":
        import torch

        torch.manual_seed(int(self.random_state))
        x = self._tensor(X)
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        self.n_features_in_ = x.shape[1]
        target = torch.as_tensor(codes, dtype=torch.long)
        counts = np.bincount(codes, minlength=len(self.classes_)).astype(np.float64)
        weight = torch.as_tensor(len(codes) / (len(counts) * np.maximum(counts, 1)), dtype=torch.float32)
        self.module_ = torch.nn.Sequential(torch.nn.Linear(x.shape[1], int(self.hidden)), torch.nn.LeakyReLU(),
                                           torch.nn.Linear(int(self.hidden), len(self.classes_)))
        optimizer = torch.optim.AdamW(self.module_.parameters(), lr=float(self.lr),
                                      weight_decay=float(self.weight_decay))
        loss_fn = torch.nn.NLLLoss(weight=weight)
        generator = torch.Generator().manual_seed(int(self.random_state))
        self.module_.train()
        for _ in range(int(self.n_epochs)):
            order = torch.randperm(len(x), generator=generator)
            for start in range(0, len(x), int(self.batch_size)):
                batch = order[start:start + int(self.batch_size)]
                optimizer.zero_grad()
                loss = loss_fn(torch.log_softmax(self.module_(x[batch]), dim=1), target[batch])
                loss.backward()
                optimizer.step()
        self.module_.eval()
        return self

    def predict_proba(self, X) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return torch.softmax(self.module_(self._tensor(X)), dim=1).numpy().astype(np.float64)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def make_pipeline(model: str, *, text: bool, random_state: int = 0, mlp_params: dict | None = None):
    """The scikit-learn pipeline of ``model`` for a numeric feature set, or for texts (``text=True``)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if model == "logreg":
        head = LogisticRegression(max_iter=5000, class_weight="balanced")
    elif model == "xgboost":
        from xgboost import XGBClassifier

        head = XGBClassifier(tree_method="hist", n_jobs=1, random_state=random_state, verbosity=0)
    elif model == "mlp":
        head = MLPHead(random_state=random_state, **(mlp_params or {}))
    else:
        raise ParameterError(f"Unknown model {model!r}; choose among {list(MODELS)}.")
    if text:
        steps = [("tfidf", TfidfVectorizer(sublinear_tf=True, max_features=1000))]
        if model != "xgboost":
            steps.append(("scale", StandardScaler(with_mean=False)))
    else:
        steps = [("impute", SimpleImputer(strategy="median", keep_empty_features=True))]
        if model != "xgboost":
            steps.append(("scale", StandardScaler()))
    return Pipeline([*steps, ("model", head)])


def candidate_params(model: str, *, text: bool, n_iter: int, random_state: int = 0) -> list[dict[str, Any]]:
    """Hyper-parameter settings to try on the validation participants."""
    rng = np.random.default_rng(random_state)
    vocabulary = [100, 1000, 10000] if text else [None]
    if model == "logreg":
        grid = [{"model__C": c} for c in (0.01, 0.1, 1.0)]
    elif model == "mlp":
        grid = [{}]
    else:
        grid = [{"model__n_estimators": int(rng.choice([50, 100, 200, 400])),
                 "model__max_depth": int(rng.choice([2, 3, 4, 6])),
                 "model__learning_rate": float(np.exp(rng.uniform(np.log(0.01), np.log(0.3)))),
                 "model__subsample": float(rng.uniform(0.6, 1.0)),
                 "model__colsample_bytree": float(rng.uniform(0.5, 1.0)),
                 "model__min_child_weight": float(rng.choice([1, 3, 5]))} for _ in range(max(int(n_iter), 1))]
    if text:
        if model == "xgboost":  # the draws already vary; give each one a vocabulary size
            return [{**g, "tfidf__max_features": vocabulary[i % 3]} for i, g in enumerate(grid)]
        return [{**g, "tfidf__max_features": v} for g in grid for v in vocabulary]
    return grid


def select_model(model: str, *, text: bool, X_train, y_train, X_val, score: Callable[[Any, np.ndarray], float],
                 n_iter: int = 20, random_state: int = 0, mlp_params: dict | None = None):
    """Fit each candidate on the training samples and keep the best by ``score`` on the validation samples.

    Parameters
    ----------
    score : callable
        ``score(pipeline, proba_val) -> float`` (higher is better), e.g. the participant-level
        macro F1 of the validation participants.

    Returns
    -------
    pipeline, classes, params, validation_score
        ``classes`` are the labels of ``predict_proba``'s columns, whatever the model.
    """
    from sklearn.base import clone
    from sklearn.utils.class_weight import compute_sample_weight

    template = make_pipeline(model, text=text, random_state=random_state, mlp_params=mlp_params)
    best = (None, None, -np.inf)
    classes, codes = np.unique(np.asarray(y_train), return_inverse=True)
    for params in candidate_params(model, text=text, n_iter=n_iter, random_state=random_state):
        pipeline = clone(template).set_params(**params)
        if model == "xgboost":  # XGBoost wants integer classes; balanced weights give class weighting
            pipeline.fit(X_train, codes, model__sample_weight=compute_sample_weight("balanced", codes))
        else:
            pipeline.fit(X_train, np.asarray(y_train))
        proba = pipeline.predict_proba(X_val) if X_val is not None and len(X_val) else None
        value = score(pipeline, proba) if proba is not None else 0.0
        if value > best[2] or best[0] is None:
            best = (pipeline, params, value)
    pipeline, params, value = best
    return pipeline, classes, params, float(value)
