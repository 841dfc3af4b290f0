"""Human Behavior Atlas metrics, as the benchmark's code computes them (papers.md section 6).

The rules are those of MIT-MI/human_behavior_atlas, ``training/sft/evaluate/``
(``multi_task_evaluation.py``, ``detailed_multi_task_evaluation.py``, ``helper_senti.py``,
``helper_emo.py``); docs/hba.md has the file and line of each.

Answers are first read as the benchmark's generation evaluation reads them
(:func:`~bitbox.clinical.hba.answers.prepare_answers`): a prediction is extracted from the
response (``\\boxed{...}``, ``<answer>``, or its first phrase; ``extract="sft"``), then gold and
prediction are stripped, lower-cased and compared as strings. ``synonyms=True`` (with the
dataset's :class:`~bitbox.clinical.hba.tasks.TaskInfo`) maps both through the label map's
synonym tables and boolean answers; ``normalize=normalize_answer`` scores with Bitbox's older
convention instead.

- classification: the classes are the **gold** classes. A prediction outside them is wrong for
  its sample (a false negative of its gold class) but adds no class to the averages. Per class
  P = TP/(TP+FP), R = TP/support, F1 (0 when undefined); macro = their mean over the gold
  classes, weighted = weighted by gold support, micro = from the pooled TP/FP/FN of the gold
  classes (so micro precision exceeds accuracy when predictions fall outside the gold classes).
  ``average="gold_and_predicted"`` averages over gold ∪ predicted classes instead (Bitbox's
  older convention, scikit-learn's ``precision_recall_fscore_support`` on the strings);
- sentiment, on the benchmark's 7-point scale (highly negative ... highly positive, positions
  0-6, whatever the dataset's own levels): ACC7 (the positions), ACC5 ({highly negative},
  {negative, weakly negative}, {neutral}, {weakly positive, positive}, {highly positive}), ACC3
  (negative, neutral, positive groups), ACC2 (samples with non-neutral gold; negative vs
  positive, a neutral prediction wrong), each with its weighted F1; a prediction off the scale is
  wrong at every granularity;
- emotion: per gold class WA_c = (TP/P + TN/N)/2 (a ratio with a zero denominator is 0) and the
  mean over the gold classes;
- QA: the benchmark scores QA with an LLM judge only; :func:`qa_metrics` gives the judge the
  benchmark's inputs, and adds an exact match of Bitbox's own.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

import numpy as np

from .answers import LabelRules, extract_answer, normalize_answer, prepare_answers
from .tasks import SENTIMENT_LEVELS, TaskInfo, default_registry

__all__ = ["classification_metrics", "sentiment_metrics", "emotion_metrics", "qa_metrics", "Judge",
           "confusion_matrix", "AVERAGES"]

#: Which classes the macro averages run over: the benchmark's (``"gold"``) or Bitbox's older.
AVERAGES = ("gold", "gold_and_predicted")


class Judge(Protocol):
    """Scores a free-form answer: ``judge(problem, answer, prediction) -> float`` in [0, 1] (or bool).

    It receives what the benchmark's judge receives (``llm_judge_eval.py``): the gold answer
    lower-cased and the prediction's ``\\boxed{...}`` content (else the stripped response).
    Plug in any local model (e.g. an LLM you run yourself) with
    ``bitbox hba evaluate --judge package.module:function``.
    """

    def __call__(self, problem: str, answer: str, prediction: str) -> float: ...


def confusion_matrix(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Counts ``[i, j]`` of gold ``labels[i]`` predicted as ``labels[j]``.

    Parameters
    ----------
    y_true : sequence of str
        Gold answers, as compared (e.g. from :func:`~bitbox.clinical.hba.answers.prepare_answers`).
    y_pred : sequence of str
        Predictions, in the order of ``y_true``.
    labels : sequence of str
        The rows' and columns' labels, in order; every gold answer and prediction must be one of them.

    Returns
    -------
    np.ndarray
        ``(len(labels), len(labels))`` int64 counts.

    Raises
    ------
    KeyError
        A gold answer or prediction is not in ``labels``.
    """
    index = {label: k for k, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        matrix[index[t], index[p]] += 1
    return matrix


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / b`` with 0 where ``b`` is 0 (the benchmark's ``_safe_div``)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b > 0)


def _class_scores(true: Sequence[Any], pred: Sequence[Any], classes: Sequence[Any]) -> dict[str, np.ndarray]:
    """One-vs-rest TP/FP/FN, support, precision, recall and F1 of each class."""
    t = np.asarray(list(true), dtype=object)
    p = np.asarray(list(pred), dtype=object)
    tp = np.array([np.sum((t == c) & (p == c)) for c in classes], dtype=float)
    fp = np.array([np.sum((t != c) & (p == c)) for c in classes], dtype=float)
    support = np.array([np.sum(t == c) for c in classes], dtype=float)
    fn = support - tp
    precision, recall = _divide(tp, tp + fp), _divide(tp, support)
    return {"tp": tp, "fp": fp, "fn": fn, "support": support, "precision": precision, "recall": recall,
            "f1": _divide(2 * precision * recall, precision + recall)}


def _weighted_f1_and_accuracy(true: Sequence[Any], pred: Sequence[Any]) -> tuple[float, float]:
    """The benchmark's weighted F1 over the gold classes and its accuracy (``micro_accuracy``)."""
    if not len(true):
        return float("nan"), float("nan")
    scores = _class_scores(true, pred, sorted(set(true)))
    n = scores["support"].sum()
    return float(scores["support"] @ scores["f1"] / n), float(scores["tp"].sum() / n)


def _label_set(label_set: Sequence[str], task: TaskInfo | None, normalize: Callable | None) -> set[str]:
    if not label_set and task is not None:
        return set(task.labels)
    if normalize is not None:
        return {normalize(x) for x in label_set}
    return {str(x).strip().lower() for x in label_set}


def classification_metrics(y_true: Sequence[Any], y_pred: Sequence[Any], *, label_set: Sequence[str] = (),
                           task: TaskInfo | None = None, average: str = "gold", extract: str = "sft",
                           synonyms: bool = False, normalize: Callable[[Any], str] | None = None) -> dict[str, Any]:
    """Accuracy, macro/weighted/micro P/R/F1, per-class F1 and the confusion matrix.

    Parameters
    ----------
    y_true : sequence
        Gold answers, one per sample.
    y_pred : sequence
        The model's responses, in the order of ``y_true``.
    label_set : sequence of str
        The dataset's valid labels, for ``n_invalid`` (default: ``task.labels``).
    task : TaskInfo | None
        The dataset's registry entry (its labels, and its label-map rules for ``synonyms``).
    average : str
        ``"gold"`` (default; the benchmark: macro over the gold classes) or ``"gold_and_predicted"``
        (:data:`AVERAGES`).
    extract, synonyms, normalize : str, bool, callable | None
        How answers are read (:func:`~bitbox.clinical.hba.answers.prepare_answers`; defaults
        ``"sft"``, False, None).

    Returns
    -------
    dict
        ``n``, ``accuracy``, ``macro_*``, ``weighted_*``, ``micro_*`` (precision, recall, f1),
        ``per_class_f1`` (the averaged classes that are valid labels), ``n_invalid`` (predictions
        outside ``label_set`` ∪ gold), ``n_empty`` (no answer: missing or empty predictions, wrong
        but neither invalid nor a class of their own), ``confusion_matrix`` (gold ∪ predicted
        answers, ``""`` for no answer), ``average``. Only ``n``, ``accuracy`` (NaN) and ``average``
        when there are no samples.

    Raises
    ------
    ValueError
        ``y_true`` and ``y_pred`` differ in length, ``average`` is unknown, or ``synonyms=True``
        without a ``task`` that has label-map rules (and no ``normalize``).

    Examples
    --------
    >>> m = classification_metrics(["yes", "yes", "no", "no"], ["yes", "yes", "no", "maybe"])
    >>> round(m["macro_f1"], 3), m["n_invalid"]
    (0.833, 1)
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} gold answers and {len(y_pred)} predictions")
    if average not in AVERAGES:
        raise ValueError(f"average={average!r}: use one of {', '.join(AVERAGES)}.")
    rules = task.rules if task is not None else None
    if synonyms and rules is None and normalize is None:
        raise ValueError("synonyms=True needs the dataset's task=TaskInfo with a label domain "
                         "(default_registry().get(dataset)); without it there is no synonym table to read.")
    true, pred = prepare_answers(y_true, y_pred, rules=rules, extract=extract, synonyms=synonyms, normalize=normalize)
    n = len(true)
    if n == 0:
        return {"n": 0, "accuracy": float("nan"), "average": average}
    valid = _label_set(label_set, task, normalize) | set(true)
    labels = sorted(set(true) | set(pred))
    # no answer at all (a missing prediction, or an empty one): wrong, but neither an invalid answer nor a class
    classes = sorted(set(true)) if average == "gold" else sorted((set(true) | set(pred)) - {""} | set(true))
    s = _class_scores(true, pred, classes)
    support = s["support"]
    ptp, pfp, pfn = s["tp"].sum(), s["fp"].sum(), s["fn"].sum()
    micro_p, micro_r = float(_divide(ptp, ptp + pfp)), float(_divide(ptp, ptp + pfn))
    result: dict[str, Any] = {"n": n, "accuracy": float(np.mean([t == p for t, p in zip(true, pred)]))}
    for key in ("precision", "recall", "f1"):
        result[f"macro_{key}"] = float(s[key].mean())
    for key in ("precision", "recall", "f1"):
        result[f"weighted_{key}"] = float(support @ s[key] / n)
    result.update({
        "micro_precision": micro_p, "micro_recall": micro_r,
        "micro_f1": float(_divide(2 * micro_p * micro_r, micro_p + micro_r)),
        "per_class_f1": {label: float(f) for label, f in zip(classes, s["f1"]) if label in valid},
        "n_invalid": int(sum(p not in valid and p != "" for p in pred)),
        "n_empty": int(sum(p == "" for p in pred)),
        "confusion_matrix": {"labels": labels, "matrix": confusion_matrix(true, pred, labels).tolist()},
        "average": average,
    })
    return result


# Sentiment groups on the 7-point scale (helper_senti.py, _sentiment_sets / _collapse_positions).
_NEG, _NEU, _POS = (0, 1, 2), 3, (4, 5, 6)
_COLLAPSE = {
    7: {k: k for k in range(7)},
    5: {0: 0, 1: 1, 2: 1, 3: 2, 4: 3, 5: 3, 6: 4},
    3: {0: 0, 1: 0, 2: 0, 3: 1, 4: 2, 5: 2, 6: 2},
    2: {0: 0, 1: 0, 2: 0, 4: 1, 5: 1, 6: 1},   # neutral (3) is wrong, as off-scale answers
}


def _collapse(positions: Sequence[int], mode: int) -> list[int]:
    return [_COLLAPSE[mode].get(p, -1) for p in positions]


def _sentiment_scale(levels: Sequence[str] | None, rules: LabelRules) -> tuple[str, ...]:
    """The benchmark's 7-point scale when ``levels`` are (a subset of) its labels; a custom
    7-level scale (most negative first) otherwise."""
    if levels is None:
        return SENTIMENT_LEVELS
    levels = [rules.canonical(x) for x in levels]
    if set(levels) <= set(SENTIMENT_LEVELS):
        return SENTIMENT_LEVELS
    if len(levels) == 7 and len(set(levels)) == 7:
        return tuple(levels)
    raise ValueError(f"sentiment levels {levels} are neither among the benchmark's seven {list(SENTIMENT_LEVELS)} "
                     "nor a scale of 7 distinct levels")


def sentiment_metrics(y_true: Sequence[Any], y_pred: Sequence[Any], levels: Sequence[str] | None = None, *,
                      task: TaskInfo | None = None, extract: str = "sft", synonyms: bool = False,
                      normalize: Callable[[Any], str] | None = None) -> dict[str, Any]:
    """ACC7/ACC5/ACC3/ACC2 and their weighted F1, on the benchmark's 7-point sentiment scale.

    Parameters
    ----------
    y_true : sequence
        Gold answers, one per sample; each must be on the scale.
    y_pred : sequence
        The model's responses, in the order of ``y_true``.
    levels : sequence of str | None
        The dataset's levels (``chsimsv2``'s 5, ``meld_senti``'s 3...): answers are placed on
        the benchmark's 7-point scale whatever they are; 7 levels of your own (most negative
        first) define a scale of their own. ``None`` (default): the benchmark's scale.
    task : TaskInfo | None
        The dataset's registry entry (its label-map rules for ``synonyms``; default: the
        benchmark's ``sentiment_intensity`` rules).
    extract, synonyms, normalize : str, bool, callable | None
        How answers are read (:func:`~bitbox.clinical.hba.answers.prepare_answers`; defaults
        ``"sft"``, False, None).

    Returns
    -------
    dict
        ``acc7``, ``acc5``, ``acc3``, ``acc2``, ``weighted_f1_7`` ... ``weighted_f1_2``,
        ``n_non_neutral`` (the samples ACC2 is computed on; ACC2 is NaN when there are none),
        ``n_off_scale`` (predictions not on the scale).

    Raises
    ------
    ValueError
        When a gold answer is not on the scale, or ``levels`` are neither among the benchmark's
        seven nor seven distinct levels.
    """
    rules = task.rules if task is not None and task.rules is not None else \
        default_registry().label_rules("sentiment_intensity")
    scale = _sentiment_scale(levels, rules)
    true_raw, pred_raw = prepare_answers(y_true, y_pred, rules=rules, extract=extract, synonyms=synonyms,
                                         normalize=normalize)
    position = {label: k for k, label in enumerate(scale)}
    unknown = sorted({t for t in true_raw if t not in position})
    if unknown:
        hint = "" if synonyms or normalize is not None else " (synonyms=True reads them as the label map does)"
        raise ValueError(f"gold sentiment answer(s) {unknown} are not among the levels {list(scale)}{hint}")
    true = [position[t] for t in true_raw]
    pred = [position.get(p, -1) for p in pred_raw]
    result: dict[str, Any] = {}
    for mode in (7, 5, 3):
        f1, acc = _weighted_f1_and_accuracy(_collapse(true, mode), _collapse(pred, mode))
        result[f"acc{mode}"], result[f"weighted_f1_{mode}"] = acc, f1
    keep = [k for k, t in enumerate(true) if t != _NEU]
    f1, acc = _weighted_f1_and_accuracy(_collapse([true[k] for k in keep], 2), _collapse([pred[k] for k in keep], 2))
    result["acc2"], result["weighted_f1_2"] = acc, f1
    result["n_non_neutral"] = len(keep)
    result["n_off_scale"] = int(sum(p < 0 for p in pred))
    return result


def emotion_metrics(y_true: Sequence[Any], y_pred: Sequence[Any], *, task: TaskInfo | None = None,
                    extract: str = "sft", synonyms: bool = False,
                    normalize: Callable[[Any], str] | None = None) -> dict[str, Any]:
    """Per gold class weighted accuracy WA_c = (TP/P + TN/N)/2, and its mean (``helper_emo.py``).

    A ratio with a zero denominator is 0, as the benchmark's: a class that is every gold answer
    (N = 0) has WA = TP/P / 2. ``synonyms=True`` reads answers with ``task``'s label-map rules
    (default: the benchmark's ``emotion`` synonyms).

    Parameters
    ----------
    y_true : sequence
        Gold answers, one per sample.
    y_pred : sequence
        The model's responses, in the order of ``y_true``.
    task : TaskInfo | None
        The dataset's registry entry (its label-map rules for ``synonyms``); ``None`` (default) uses the
        benchmark's ``emotion`` rules.
    extract, synonyms, normalize : str, bool, callable | None
        How answers are read (:func:`~bitbox.clinical.hba.answers.prepare_answers`; defaults
        ``"sft"``, False, None).

    Returns
    -------
    dict
        ``mean_weighted_accuracy`` (NaN without samples) and ``per_class_weighted_accuracy``
        (gold class -> WA_c).
    """
    rules = task.rules if task is not None and task.rules is not None else default_registry().label_rules("emotion")
    true_raw, pred_raw = prepare_answers(y_true, y_pred, rules=rules, extract=extract, synonyms=synonyms,
                                         normalize=normalize)
    true = np.array(true_raw, dtype=object)
    pred = np.array(pred_raw, dtype=object)
    per = {}
    for label in sorted(set(true_raw)):
        pos, hit = true == label, pred == label
        tp_rate = float(_divide((pos & hit).sum(), pos.sum()))
        tn_rate = float(_divide((~pos & ~hit).sum(), (~pos).sum()))
        per[label] = 0.5 * (tp_rate + tn_rate)
    return {"mean_weighted_accuracy": float(np.mean(list(per.values()))) if per else float("nan"),
            "per_class_weighted_accuracy": per}


def qa_metrics(problems: Sequence[str], answers: Sequence[Any], predictions: Sequence[Any], *,
               judge: Callable[[str, str, str], float] | None = None, extract: str = "judge",
               normalize: Callable[[Any], str] = normalize_answer) -> dict[str, Any]:
    """The judge's mean score as ``judged_accuracy`` (the benchmark's QA metric), and
    ``exact_match`` (Bitbox's: ``normalize`` of the answer and of the extracted prediction equal).

    The judge gets the problem, the gold answer lower-cased and the prediction read by
    ``extract`` (default ``"judge"``: the ``\\boxed{...}`` content, else the stripped response),
    as ``llm_judge_eval.py`` passes them.

    Parameters
    ----------
    problems : sequence of str
        The questions, one per sample (only the judge reads them).
    answers : sequence
        Gold answers, in the order of ``problems``.
    predictions : sequence
        The model's responses, in the same order.
    judge : Judge | None
        Scores ``judge(problem, answer, prediction)`` in [0, 1]; ``None`` (default) gives no
        ``judged_accuracy``.
    extract : str
        How the prediction is read from a response (:data:`~bitbox.clinical.hba.answers.EXTRACT_RULES`).
    normalize : callable
        Applied to the gold answer and the extracted prediction before the exact match (default
        :func:`~bitbox.clinical.hba.answers.normalize_answer`).

    Returns
    -------
    dict
        ``n``, ``exact_match`` (the fraction matching; NaN without samples) and, with a judge,
        ``judged_accuracy`` (its mean score).

    Raises
    ------
    ValueError
        The judge returned a score outside [0, 1], or ``extract`` is unknown.
    """
    extracted = [extract_answer(p, extract) for p in predictions]
    exact = [normalize(a) == normalize(p) for a, p in zip(answers, extracted)]
    result: dict[str, Any] = {"n": len(exact), "exact_match": float(np.mean(exact)) if exact else float("nan")}
    if judge is not None:
        scores = []
        for problem, answer, prediction in zip(problems, answers, extracted):
            score = float(judge(problem, ("" if answer is None else str(answer)).lower(), prediction))
            if not 0.0 <= score <= 1.0:
                raise ValueError(f"The judge returned {score}; a judge scores in [0, 1].")
            scores.append(score)
        result["judged_accuracy"] = float(np.mean(scores)) if scores else float("nan")
    return result
