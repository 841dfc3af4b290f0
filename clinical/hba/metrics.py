"""Human Behavior Atlas metrics, as the benchmark computes them (papers.md section 6).

Labels are compared after :func:`~bitbox.clinical.hba.tasks.normalize_answer`. Like
scikit-learn's ``precision_recall_fscore_support`` on the answer strings, the classes are
the union of the gold and predicted answers, so a prediction outside the label set is a
class of its own (precision and recall 0: it lowers macro scores); a class never predicted
has precision 0 (``zero_division=0``). ``n_invalid`` counts predictions outside the
dataset's labels.

- classification: accuracy, macro and weighted (by gold support) precision/recall/F1,
  per-class F1, the confusion matrix;
- sentiment (7 levels, highly negative = -3 ... highly positive = +3): ACC7; ACC5 (levels
  clipped to [-2, 2]); ACC3 (sign); ACC2 and its weighted F1 on the samples whose gold is
  not neutral (positive when > 0, as CMU-MOSEI's non-zero accuracy); a prediction that is
  not a level is wrong at every granularity;
- emotion: per-class weighted accuracy WA_c = (TP/P + TN/N)/2 (P, N: gold positives and
  negatives of class c) and its mean over the gold classes;
- QA: exact match of normalized answers, and the mean of a judge's scores when a judge is
  given (no network judge is built in: see :class:`Judge`).
"""
from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

import numpy as np

from .tasks import normalize_answer

__all__ = ["classification_metrics", "sentiment_metrics", "emotion_metrics", "qa_metrics", "Judge",
           "confusion_matrix"]


class Judge(Protocol):
    """Scores a free-form answer: ``judge(problem, answer, prediction) -> float`` in [0, 1] (or bool).

    Plug in any local model (e.g. an LLM you run yourself) with
    ``bitbox hba evaluate --judge package.module:function``.
    """

    def __call__(self, problem: str, answer: str, prediction: str) -> float: ...


def confusion_matrix(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Counts ``[i, j]`` of gold ``labels[i]`` predicted as ``labels[j]``."""
    index = {label: k for k, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        matrix[index[t], index[p]] += 1
    return matrix


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), 0.0)


def classification_metrics(y_true: Sequence[Any], y_pred: Sequence[Any], *,
                           label_set: Sequence[str] = ()) -> dict[str, Any]:
    """Accuracy, macro/weighted P/R/F1, per-class F1 and the confusion matrix.

    Parameters
    ----------
    y_true, y_pred : sequences of answers (normalized here)
    label_set : the dataset's valid labels (for ``n_invalid`` and ``per_class_f1``)
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} gold answers and {len(y_pred)} predictions")
    true = [normalize_answer(x) for x in y_true]
    pred = [normalize_answer(x) for x in y_pred]
    n = len(true)
    valid = set(label_set) | set(true)
    labels = sorted(set(true) | set(pred))
    if n == 0:
        return {"n": 0, "accuracy": float("nan")}
    matrix = confusion_matrix(true, pred, labels)
    tp = np.diag(matrix).astype(float)
    support = matrix.sum(axis=1).astype(float)
    predicted = matrix.sum(axis=0).astype(float)
    precision = _divide(tp, predicted)
    recall = _divide(tp, support)
    f1 = _divide(2 * precision * recall, precision + recall)
    weights = support / support.sum()
    return {
        "n": n,
        "accuracy": float(tp.sum() / n),
        "macro_precision": float(precision.mean()), "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
        "weighted_precision": float(weights @ precision), "weighted_recall": float(weights @ recall),
        "weighted_f1": float(weights @ f1),
        "per_class_f1": {label: float(f1[k]) for k, label in enumerate(labels) if label in valid},
        "n_invalid": int(sum(p not in valid for p in pred)),
        "confusion_matrix": {"labels": labels, "matrix": matrix.tolist()},
    }


def sentiment_metrics(y_true: Sequence[Any], y_pred: Sequence[Any], levels: Sequence[str]) -> dict[str, Any]:
    """ACC7/ACC5/ACC3/ACC2 and the 2-class weighted F1 (``levels`` from most negative to most positive).

    Raises
    ------
    ValueError
        When a gold answer is not one of the levels.
    """
    levels = [normalize_answer(x) for x in levels]
    centre = (len(levels) - 1) // 2
    value = {label: k - centre for k, label in enumerate(levels)}
    true_raw = [normalize_answer(x) for x in y_true]
    unknown = sorted({t for t in true_raw if t not in value})
    if unknown:
        raise ValueError(f"gold sentiment answer(s) {unknown} are not among the levels {levels}")
    true = np.array([value[t] for t in true_raw], dtype=float)
    pred = np.array([value.get(normalize_answer(p), np.nan) for p in y_pred], dtype=float)
    ok = ~np.isnan(pred)
    clip = min(2, centre)

    def acc(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.mean(ok & (a == b))) if len(a) else float("nan")

    nonzero = true != 0
    gold2 = np.where(true[nonzero] > 0, "positive", "negative")
    pred2 = np.where(~ok[nonzero], "invalid", np.where(np.nan_to_num(pred[nonzero]) > 0, "positive", "negative"))
    binary = classification_metrics(list(gold2), list(pred2), label_set=("positive", "negative"))
    return {
        "acc7": acc(true, pred),
        "acc5": acc(np.clip(true, -clip, clip), np.clip(pred, -clip, clip)),
        "acc3": acc(np.sign(true), np.sign(pred)),
        "acc2": binary["accuracy"] if nonzero.any() else float("nan"),
        "weighted_f1_2": binary["weighted_f1"] if nonzero.any() else float("nan"),
        "n_non_neutral": int(nonzero.sum()),
    }


def emotion_metrics(y_true: Sequence[Any], y_pred: Sequence[Any]) -> dict[str, Any]:
    """Per-class weighted accuracy (TP/P + TN/N)/2 over the gold classes, and its mean.

    A class that is every gold answer (N = 0) has WA = TP/P.
    """
    true = np.array([normalize_answer(x) for x in y_true], dtype=object)
    pred = np.array([normalize_answer(x) for x in y_pred], dtype=object)
    per = {}
    for label in sorted(set(true)):
        pos = true == label
        hit = pred == label
        tp_rate = float((pos & hit).sum() / pos.sum())
        n_neg = int((~pos).sum())
        per[label] = tp_rate if n_neg == 0 else (tp_rate + float((~pos & ~hit).sum() / n_neg)) / 2
    return {"mean_weighted_accuracy": float(np.mean(list(per.values()))) if per else float("nan"),
            "per_class_weighted_accuracy": per}


def qa_metrics(problems: Sequence[str], answers: Sequence[Any], predictions: Sequence[Any], *,
               judge: Callable[[str, str, str], float] | None = None) -> dict[str, Any]:
    """Exact match of normalized answers; with a judge, its mean score as ``judged_accuracy``."""
    exact = [normalize_answer(a) == normalize_answer(p) for a, p in zip(answers, predictions)]
    result: dict[str, Any] = {"n": len(exact), "exact_match": float(np.mean(exact)) if exact else float("nan")}
    if judge is not None:
        scores = []
        for problem, answer, prediction in zip(problems, answers, predictions):
            score = float(judge(problem, str(answer), "" if prediction is None else str(prediction)))
            if not 0.0 <= score <= 1.0:
                raise ValueError(f"The judge returned {score}; a judge scores in [0, 1].")
            scores.append(score)
        result["judged_accuracy"] = float(np.mean(scores)) if scores else float("nan")
    return result
