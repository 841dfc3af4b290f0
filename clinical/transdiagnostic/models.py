"""The classifiers: logistic regression, XGBoost with the original's randomized search, and the MLP head.

Every model is a scikit-learn pipeline (preprocessing, then a classifier):

- ``logreg``: median imputation, standardisation, L2 logistic regression
  (``class_weight="balanced"``); C chosen on the validation participants (Bitbox's own
  model: not in the original).
- ``xgboost``: median imputation, gradient-boosted trees (CPU ``hist``), balanced sample
  weights. As rbroc/multidiagnosis-text ``train_baselines.py``: ``n_iter`` (1000)
  configurations drawn by scikit-learn's :class:`~sklearn.model_selection.ParameterSampler`
  from :data:`XGB_PARAM_DISTRIBUTIONS` (the original's lists, sampled without replacement),
  each fitted on the training samples and scored on the validation participants; the best
  is refitted with early stopping (:data:`EARLY_STOPPING_ROUNDS` = 5 rounds of validation
  log-loss) and that refit is the model.
- ``mlp``: :class:`MLPHead`, the head of HLasse/multidiagnosis-speech Linear(d, 1028) ->
  LeakyReLU -> Linear(1028, C) trained with NLL and AdamW, keeping the epoch of the lowest
  validation loss.

On ``tfidf`` the pipeline starts with a TF-IDF vectoriser; each vocabulary size (100, 1k,
10k, as the original's three TF-IDF models) gets the whole search, and the validation
participants choose among them.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from bitbox.errors import ParameterError
from bitbox.log import logger

__all__ = ["MLPHead", "MODELS", "XGB_PARAM_DISTRIBUTIONS", "EARLY_STOPPING_ROUNDS", "TFIDF_VOCABULARIES",
           "make_pipeline", "candidate_params", "select_model"]

MODELS = ("logreg", "xgboost", "mlp")

#: The original's XGBoost search space (train_baselines.py, ``_make_estimator_params``), values as given
#: (``reg_alpha`` lists 0.1 twice, which doubles its chance).
XGB_PARAM_DISTRIBUTIONS: dict[str, list] = {
    "learning_rate": [.001, .01, .1, .5],
    "min_child_weight": [1, 3, 5, 10],
    "gamma": [0, .5, 1., 2.],
    "subsample": [.6, .8, 1.0],
    "colsample_bytree": [.25, .5, .75, 1.],
    "max_depth": [1, 3, 5],
    "reg_alpha": [0, .1, .1, 5.],
    "reg_lambda": [.1, 1., 5.],
    "n_estimators": [20, 100, 500],
}
#: Early-stopping patience of the refit (the original's ``--early-stopping 5``, its "5es" runs).
EARLY_STOPPING_ROUNDS = 5
#: The original's TF-IDF vocabulary sizes (one model each).
TFIDF_VOCABULARIES = (100, 1000, 10000)


class MLPHead(ClassifierMixin, BaseEstimator):
    """The classification head of Hansen et al. (2023) as a scikit-learn classifier (torch, CPU).

    Linear(n_features, hidden) -> LeakyReLU -> Linear(hidden, n_classes), log-softmax, NLL
    loss and AdamW, as ``BaselineClassifier`` of HLasse/multidiagnosis-speech. The training
    samples are shuffled once (the original shuffles its table once and loads it in order).
    Given validation samples (``fit(..., X_val=, y_val=)``), the weights kept are those of
    the epoch with the lowest validation loss (the original's ``ModelCheckpoint(monitor=
    "val_loss", mode="min", save_top_k=1)``, the checkpoint its evaluation loads);
    otherwise those of the last epoch.

    Parameters
    ----------
    hidden : int
        Width of the hidden layer (the original's 1028).
    lr : float
        AdamW learning rate (the original's 5e-5).
    n_epochs : int
        Passes over the training set (the original's 20, no early stopping).
    batch_size : int
        The original's 32.
    weight_decay : float
        AdamW's default 0.01, as the original.
    class_weight : {"balanced", None}
        Class weights of the loss, training and validation alike: the original weights
        binary models (``use_weights``) and not multiclass ones.
    random_state : int
        Seed of the initialisation and the shuffle.

    Attributes
    ----------
    classes_ : np.ndarray
    n_features_in_ : int
    module_ : torch.nn.Module
        The kept weights.
    best_epoch_ : int
        1-based epoch whose weights are kept.
    val_loss_ : list of float
        Validation loss after each epoch (empty without validation samples).
    """

    def __init__(self, *, hidden: int = 1028, lr: float = 5e-5, n_epochs: int = 20, batch_size: int = 32,
                 weight_decay: float = 0.01, class_weight: str | None = "balanced", random_state: int = 0) -> None:
        self.hidden = hidden
        self.lr = lr
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.class_weight = class_weight
        self.random_state = random_state

    def _tensor(self, X):
        import torch

        X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
        return torch.as_tensor(np.asarray(X, dtype=np.float32))

    def fit(self, X, y, X_val=None, y_val=None) -> "MLPHead":
        """Train; with ``X_val``/``y_val``, keep the weights of the lowest validation loss.

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n_samples, n_features)
            Training samples (converted to float32).
        y : array-like, shape (n_samples,)
            Their labels; the sorted distinct labels become ``classes_``.
        X_val : array-like or sparse matrix | None
            Validation samples (default ``None``: the last epoch's weights are kept).
        y_val : array-like | None
            Their labels; validation samples of a label not seen in training are ignored.

        Returns
        -------
        MLPHead
            This classifier, fitted.

        Raises
        ------
        ParameterError
            ``class_weight`` is neither ``"balanced"`` nor ``None``.
        """
        import torch

        if self.class_weight not in ("balanced", None):
            raise ParameterError(f"class_weight must be 'balanced' or None; got {self.class_weight!r}.")
        torch.manual_seed(int(self.random_state))
        x = self._tensor(X)
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        self.n_features_in_ = x.shape[1]
        target = torch.as_tensor(codes, dtype=torch.long)
        weight = None
        if self.class_weight == "balanced":
            counts = np.bincount(codes, minlength=len(self.classes_)).astype(np.float64)
            weight = torch.as_tensor(len(codes) / (len(counts) * np.maximum(counts, 1)), dtype=torch.float32)
        self.module_ = torch.nn.Sequential(torch.nn.Linear(x.shape[1], int(self.hidden)), torch.nn.LeakyReLU(),
                                           torch.nn.Linear(int(self.hidden), len(self.classes_)))
        optimizer = torch.optim.AdamW(self.module_.parameters(), lr=float(self.lr),
                                      weight_decay=float(self.weight_decay))
        loss_fn = torch.nn.NLLLoss(weight=weight)
        validation = None
        if X_val is not None and y_val is not None and len(y_val):
            index = {c: i for i, c in enumerate(self.classes_)}
            known = np.array([v in index for v in np.asarray(y_val)])
            if known.any():
                x_val = self._tensor(X_val)[torch.as_tensor(known)]
                t_val = torch.as_tensor([index[v] for v in np.asarray(y_val)[known]], dtype=torch.long)
                validation = (x_val, t_val)
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(int(self.random_state)))
        self.val_loss_: list[float] = []
        best = (np.inf, None, int(self.n_epochs))
        for epoch in range(1, int(self.n_epochs) + 1):
            self.module_.train()
            for start in range(0, len(x), int(self.batch_size)):
                batch = order[start:start + int(self.batch_size)]
                optimizer.zero_grad()
                loss = loss_fn(torch.log_softmax(self.module_(x[batch]), dim=1), target[batch])
                loss.backward()
                optimizer.step()
            if validation is not None:
                self.module_.eval()
                with torch.inference_mode():
                    value = float(loss_fn(torch.log_softmax(self.module_(validation[0]), dim=1), validation[1]))
                self.val_loss_.append(value)
                if value < best[0]:  # strictly lower, as ModelCheckpoint: the first of equal minima stays
                    best = (value, copy.deepcopy(self.module_.state_dict()), epoch)
        if best[1] is not None:
            self.module_.load_state_dict(best[1])
        self.best_epoch_ = best[2]
        self.module_.eval()
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (softmax of the network's output).

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n_samples, n_features)
            Samples with the training's features.

        Returns
        -------
        np.ndarray
            ``(n_samples, n_classes)`` float64 probabilities, columns in the order of ``classes_``.
        """
        import torch

        with torch.inference_mode():
            return torch.softmax(self.module_(self._tensor(X)), dim=1).numpy().astype(np.float64)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sample.

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n_samples, n_features)
            Samples with the training's features.

        Returns
        -------
        np.ndarray
            ``(n_samples,)`` labels of ``classes_`` (the first on ties).
        """
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def make_pipeline(model: str, *, text: bool, random_state: int = 0, mlp_params: dict | None = None):
    """The scikit-learn pipeline of ``model`` for a numeric feature set, or for texts (``text=True``).

    Parameters
    ----------
    model : {"logreg", "xgboost", "mlp"}
        The classifier (see the module docstring).
    text : bool
        Texts in: a TF-IDF vectoriser (sublinear tf, 1000 words) first; otherwise median imputation.
        Both are followed by standardisation, except for ``xgboost``.
    random_state : int
        Seed of XGBoost and of the MLP (default 0).
    mlp_params : dict | None
        Parameters of :class:`MLPHead` (besides ``random_state``); ``None`` (default) for its defaults.

    Returns
    -------
    sklearn.pipeline.Pipeline
        The unfitted pipeline; its last step is named ``model``.

    Raises
    ------
    ParameterError
        ``model`` is not one of :data:`MODELS`.
    """
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
    """Hyper-parameter settings to try on the validation participants.

    ``xgboost``: ``n_iter`` draws of :class:`~sklearn.model_selection.ParameterSampler` over
    :data:`XGB_PARAM_DISTRIBUTIONS` (seeded by ``random_state``), the sampler of the
    original's ``RandomizedSearchCV``. On texts every setting is tried with each vocabulary
    size of :data:`TFIDF_VOCABULARIES`.

    Parameters
    ----------
    model : {"logreg", "xgboost", "mlp"}
        The classifier: ``logreg`` tries C in (0.01, 0.1, 1); ``mlp`` only its own parameters.
    text : bool
        Whether the pipeline is a text one (each setting is then tried with each vocabulary size).
    n_iter : int
        Draws of XGBoost's settings (at least 1; unused by the other models).
    random_state : int
        Seed of the sampler (default 0).

    Returns
    -------
    list of dict
        Pipeline parameters (``model__<name>``, ``tfidf__max_features``), one dict per candidate.

    Raises
    ------
    ParameterError
        ``model`` is unknown, or ``n_iter`` is below 1 for ``xgboost``.
    """
    from sklearn.model_selection import ParameterSampler

    if model == "logreg":
        grid = [{"model__C": c} for c in (0.01, 0.1, 1.0)]
    elif model == "mlp":
        grid = [{}]
    elif model == "xgboost":
        if int(n_iter) < 1:
            raise ParameterError(f"n_iter must be at least 1; got {n_iter}.")
        grid = [{f"model__{k}": v for k, v in draw.items()}
                for draw in ParameterSampler(XGB_PARAM_DISTRIBUTIONS, n_iter=int(n_iter), random_state=random_state)]
    else:
        raise ParameterError(f"Unknown model {model!r}; choose among {list(MODELS)}.")
    if text:
        return [{**g, "tfidf__max_features": v} for v in TFIDF_VOCABULARIES for g in grid]
    return grid


def _codes(y, classes) -> np.ndarray:
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[v] for v in np.asarray(y)])


def select_model(model: str, *, text: bool, X_train, y_train, X_val, score: Callable[[Any, np.ndarray], float],
                 y_val=None, n_iter: int = 1000, random_state: int = 0, mlp_params: dict | None = None,
                 extra_train: tuple | None = None):
    """Fit each candidate on the training samples and keep the best by ``score`` on the validation samples.

    Parameters
    ----------
    model : {"logreg", "xgboost", "mlp"}
        The classifier (see :func:`make_pipeline`).
    text : bool
        Whether the samples are texts (a TF-IDF pipeline) or numeric features.
    X_train : array-like
        Training samples (a feature table, or a sequence of texts).
    y_train : array-like
        Their labels.
    X_val : array-like | None
        Validation samples, scored by ``score``; without any, the first candidate is kept (score 0).
    score : callable
        ``score(pipeline, proba_val) -> float`` (higher is better), e.g. the participant-level
        F1 of the diagnosis (binary tasks) or macro F1 (multiclass) of the validation
        participants.
    y_val : array-like | None
        Labels of the validation samples: XGBoost's early stopping and the MLP's best
        checkpoint watch their loss.
    n_iter : int
        XGBoost configurations drawn (default 1000, the original's).
    random_state : int
        Seed of the models and of the search (default 0).
    mlp_params : dict | None
        Parameters of :class:`MLPHead`; ``None`` (default) for its defaults.
    extra_train : (X, y) | None
        More training samples (augmented copies) for the ``mlp`` only.

    Returns
    -------
    pipeline, classes, params, validation_score, info
        ``classes`` are the labels of ``predict_proba``'s columns, whatever the model;
        ``info`` says what training did (``best_iteration`` and ``n_estimators`` of the
        XGBoost refit, ``best_epoch`` and ``val_loss`` of the MLP, ``n_candidates``).
        For XGBoost ``validation_score`` is the early-stopped refit's (the model returned);
        the chosen configuration's score in the search is ``info["search_validation_score"]``.
    """
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline
    from sklearn.utils.class_weight import compute_sample_weight

    template = make_pipeline(model, text=text, random_state=random_state, mlp_params=mlp_params)
    classes, codes = np.unique(np.asarray(y_train), return_inverse=True)
    has_val = X_val is not None and len(X_val) > 0
    candidates = candidate_params(model, text=text, n_iter=n_iter, random_state=random_state)
    X_fit, y_fit = X_train, np.asarray(y_train)
    if model == "mlp" and extra_train is not None and len(extra_train[1]):
        X_fit = (np.vstack([np.asarray(X_train, dtype=float), np.asarray(extra_train[0], dtype=float)]))
        y_fit = np.concatenate([y_fit, np.asarray(extra_train[1])])
    best: tuple = (None, None, -np.inf)
    prepared: dict = {}
    for params in candidates:
        pre_params = {k: v for k, v in params.items() if not k.startswith("model__")}
        key = tuple(sorted(pre_params.items()))
        if key not in prepared:  # fit the preprocessing once per vocabulary, not once per candidate
            pre = Pipeline([(n, clone(s)) for n, s in template.steps[:-1]]).set_params(**pre_params)
            x_train = pre.fit_transform(X_fit)
            prepared[key] = (pre, x_train, pre.transform(X_val) if has_val else None)
        pre, x_train, x_val = prepared[key]
        head = clone(template.steps[-1][1]).set_params(**{k[len("model__"):]: v for k, v in params.items()
                                                          if k.startswith("model__")})
        if model == "xgboost":  # XGBoost wants integer classes; balanced weights give class weighting
            head.fit(x_train, codes, sample_weight=compute_sample_weight("balanced", codes))
        elif model == "mlp":
            head.fit(x_train, y_fit, X_val=x_val, y_val=None if y_val is None else np.asarray(y_val))
        else:
            head.fit(x_train, y_fit)
        pipeline = Pipeline([*pre.steps, ("model", head)])
        value = score(pipeline, head.predict_proba(x_val)) if has_val else 0.0
        if value > best[2] or best[0] is None:
            best = (pipeline, params, value)
    pipeline, params, value = best
    info: dict[str, Any] = {"n_candidates": len(candidates)}
    if model == "xgboost":
        info["n_estimators"] = int(params["model__n_estimators"])
        _, x_train, x_val = prepared[tuple(sorted((k, v) for k, v in params.items() if not k.startswith("model__")))]
        refit = (_refit_early_stopping(pipeline.steps[-1][1], x_train, codes, x_val, y_val, classes)
                 if has_val and y_val is not None else None)
        if refit is None:
            logger.warning("transdx: XGBoost without early stopping (no validation sample of a training class)")
        else:
            pipeline = Pipeline([*pipeline.steps[:-1], ("model", refit)])
            info["best_iteration"] = int(refit.best_iteration)
            # the score of the model that is used (the early-stopped refit), the search's beside it
            info["search_validation_score"] = float(value)
            value = score(pipeline, refit.predict_proba(x_val))
    elif model == "mlp":
        head = pipeline.steps[-1][1]
        info.update(best_epoch=int(head.best_epoch_), val_loss=[float(v) for v in head.val_loss_],
                    n_train_samples=int(len(y_fit)), n_augmented_samples=int(len(y_fit) - len(np.asarray(y_train))))
    return pipeline, classes, params, float(value), info


def _refit_early_stopping(head, x_train, codes, x_val, y_val, classes):
    """The original's refit: the chosen configuration on the training samples, stopped after
    :data:`EARLY_STOPPING_ROUNDS` rounds without a lower validation log-loss (``None`` when no
    validation sample has a training class)."""
    from sklearn.base import clone
    from sklearn.utils.class_weight import compute_sample_weight

    known = np.isin(np.asarray(y_val), classes)
    if not known.any():
        return None
    x_val = x_val.tocsr()[np.flatnonzero(known)] if hasattr(x_val, "tocsr") else np.asarray(x_val)[known]
    refit = clone(head).set_params(early_stopping_rounds=EARLY_STOPPING_ROUNDS,
                                   eval_metric="logloss" if len(classes) == 2 else "mlogloss")
    refit.fit(x_train, codes, sample_weight=compute_sample_weight("balanced", codes),
              eval_set=[(x_val, _codes(np.asarray(y_val)[known], classes))], verbose=False)
    return refit
