"""Score any model's predictions on HBA samples, per dataset and per behavior group."""
from __future__ import annotations

import importlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from bitbox.errors import ParameterError

from .metrics import classification_metrics, emotion_metrics, qa_metrics, sentiment_metrics
from .reader import HbaFormatError, Sample, iter_samples
from .tasks import TaskRegistry, default_registry

__all__ = ["read_predictions", "evaluate_predictions", "load_judge"]

_LISTED = 50  # ids listed in metrics.json for missing/extra predictions (all are counted)


def read_predictions(path: str | Path) -> dict[str, str]:
    """``{id: prediction}`` from a JSONL file of ``{"id": ..., "prediction": ...}`` lines.

    Parameters
    ----------
    path : str | Path
        The UTF-8 JSONL file; blank lines are skipped. An id is a sample id, or its row index when the
        data has none (compared as a string); a ``null`` prediction is an empty answer.

    Returns
    -------
    dict of str to str
        Sample id -> prediction, in the file's order.

    Raises
    ------
    HbaFormatError
        For an unreadable file, invalid JSON, a line without ``id`` or ``prediction``, or an id given twice.
    """
    path = Path(path)
    out: dict[str, str] = {}
    try:
        handle = open(path, encoding="utf-8")
    except OSError as err:
        raise HbaFormatError(path, f"cannot be read ({err.strerror})") from None
    with handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as err:
                raise HbaFormatError(path, f"line {line_no} is not valid JSON ({err})") from None
            if not isinstance(item, dict) or "id" not in item or "prediction" not in item:
                raise HbaFormatError(path, f"line {line_no} needs 'id' and 'prediction'",
                                     'Write one {"id": "<sample id or row index>", "prediction": "..."} per line')
            key = str(item["id"])
            if key in out:
                raise HbaFormatError(path, f"line {line_no}: the id {key!r} was already predicted",
                                     "Give one prediction per sample")
            out[key] = "" if item["prediction"] is None else str(item["prediction"])
    return out


def load_judge(spec: str) -> Callable[[str, str, str], float]:
    """A judge from ``"package.module:function"`` (a callable ``(problem, answer, prediction) -> score``).

    Parameters
    ----------
    spec : str
        ``MODULE:FUNCTION``: an importable module (on ``sys.path``) and the name of a callable in it.
        Importing the module runs its code: name only modules you trust.

    Returns
    -------
    Judge
        The callable, scoring in [0, 1] (see :class:`~bitbox.clinical.hba.metrics.Judge`).

    Raises
    ------
    ParameterError
        ``spec`` is not ``MODULE:FUNCTION``, the module or the name cannot be loaded, or it is not callable.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ParameterError(f"--judge expects MODULE:FUNCTION (e.g. my_judges.local_llm:judge). Got {spec!r}.")
    try:
        judge = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ParameterError(f"The judge {spec!r} cannot be loaded ({type(err).__name__}: {err}).") from None
    if not callable(judge):
        raise ParameterError(f"The judge {spec!r} is not callable.")
    return judge


def _mean(values: Iterable[float]) -> float:
    values = [v for v in values if v == v]
    return float(np.mean(values)) if values else float("nan")


def evaluate_predictions(data: str | Path | Iterable[Sample], predictions: Mapping[str, str], *,
                         registry: TaskRegistry | None = None,
                         judge: Callable[[str, str, str], float] | None = None,
                         media_root: str | Path | None = None, allow_outside_paths: bool = False,
                         average: str = "gold", extract: str = "sft", synonyms: bool = False) -> dict[str, Any]:
    """Per-dataset and per-group metrics of predictions on HBA samples.

    ``average``, ``extract`` and ``synonyms`` are passed to the metrics (see
    :func:`~bitbox.clinical.hba.metrics.classification_metrics`): the defaults score as the
    benchmark's code does (macro over the gold classes, the SFT answer extraction, plain strings).

    Scoring opens no media; ``media_root`` and ``allow_outside_paths`` are passed to
    :func:`~bitbox.clinical.hba.reader.iter_samples` (paths outside are refused there, and logged).

    A sample without a prediction is scored as a wrong (empty) answer and counted in
    ``missing_predictions``; predictions whose id is not in the data are counted in
    ``extra_predictions`` and ignored. Neither is silently dropped.

    Parameters
    ----------
    data : str | Path | iterable of Sample
        HBA samples: a ``.jsonl`` or ``.parquet`` file or a folder of them (read with
        :func:`~bitbox.clinical.hba.reader.iter_samples`), or samples already read.
    predictions : mapping of str to str
        Sample id -> the model's response (e.g. from :func:`read_predictions`).
    registry : TaskRegistry | None
        How each dataset is scored; ``None`` (default) for the 16 datasets of
        :func:`~bitbox.clinical.hba.tasks.default_registry`.
    judge : Judge | None
        Scores QA answers (``judged_accuracy``); ``None`` (default): QA gets ``exact_match`` only.
    media_root : str | Path | None
        The folder media must lie in when ``data`` is a path (default: each data file's folder).
    allow_outside_paths : bool
        Accept media paths outside that folder (default False): only for data files you trust.
    average : str
        Classes of the macro averages: ``"gold"`` (default, as the benchmark) or ``"gold_and_predicted"``.
    extract : str
        How the answer is read from a response (:data:`~bitbox.clinical.hba.answers.EXTRACT_RULES`;
        default ``"sft"``).
    synonyms : bool
        Map gold and predicted answers through the label map's synonyms (default False, as the
        benchmark); applied to the datasets that have a label domain.

    Returns
    -------
    dict
        ``{"datasets": {name: metrics}, "groups": {group: summary}, "n_samples", "scoring" (the options),
        "missing_predictions": {"count", "ids"}, "extra_predictions": {"count", "ids"}}``.
        Classification datasets have the metrics of
        :func:`~bitbox.clinical.hba.metrics.classification_metrics` (plus ``sentiment`` or
        ``emotion`` metrics by domain); QA datasets ``exact_match`` (and ``judged_accuracy``).

    Raises
    ------
    HbaFormatError
        A sample id appears twice in the data, the data cannot be read, or a sentiment dataset has a gold
        answer off its scale.
    ValueError
        ``average`` or ``extract`` is unknown, or the judge scores outside [0, 1].
    """
    registry = registry or default_registry()
    samples = (iter_samples(data, media_root=media_root, allow_outside_paths=allow_outside_paths)
               if isinstance(data, (str, Path)) else data)
    by_dataset: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    seen: set[str] = set()
    missing: list[str] = []
    tasks: dict[str, str | None] = {}
    n = 0
    for sample in samples:
        if sample.id in seen:
            raise HbaFormatError(sample.source, f"the id {sample.id!r} appears twice in the data",
                                 "Sample ids must be unique (or leave 'id' out to use row indices)")
        seen.add(sample.id)
        n += 1
        prediction = predictions.get(sample.id)
        if prediction is None:
            missing.append(sample.id)
        entry = by_dataset[sample.dataset]
        entry["true"].append(sample.answer)
        entry["pred"].append(prediction or "")
        entry["problem"].append(sample.problem)
        tasks.setdefault(sample.dataset, sample.task)
    datasets: dict[str, dict[str, Any]] = {}
    for name in sorted(by_dataset):
        entry = by_dataset[name]
        info = registry.get(name, tasks.get(name))
        result: dict[str, Any] = {"domain": info.domain, "group": info.group, "task": info.task,
                                  "registered": info.registered,
                                  "n_missing": sum(1 for p in entry["pred"] if p == "")}
        if info.is_qa:
            result.update(qa_metrics(entry["problem"], entry["true"], entry["pred"], judge=judge))
        else:
            options = {"extract": extract, "synonyms": synonyms and info.rules is not None}
            result.update(classification_metrics(entry["true"], entry["pred"], label_set=info.labels, task=info,
                                                 average=average, **options))
            if "sentiment" in info.metrics:
                try:
                    result["sentiment"] = sentiment_metrics(entry["true"], entry["pred"], info.labels, task=info,
                                                            **options)
                except ValueError as err:
                    raise HbaFormatError(name, f"sentiment metrics: {err}",
                                         "Check the dataset's answers or its registry entry") from None
            if "emotion" in info.metrics:
                result["emotion"] = emotion_metrics(entry["true"], entry["pred"], task=info, **options)
        datasets[name] = result
    groups: dict[str, dict[str, Any]] = {}
    for group in sorted({d["group"] for d in datasets.values()}):
        members = {k: v for k, v in datasets.items() if v["group"] == group}
        cls = [v for v in members.values() if v["task"] != "qa"]
        qa = [v for v in members.values() if v["task"] == "qa"]
        groups[group] = {
            "datasets": sorted(members), "n": int(sum(v["n"] for v in members.values())),
            "accuracy": _mean([v["accuracy"] for v in cls]
                              + [v.get("judged_accuracy", v["exact_match"]) for v in qa]),
            "macro_f1": _mean(v["macro_f1"] for v in cls), "weighted_f1": _mean(v["weighted_f1"] for v in cls),
        }
    extra = sorted(set(predictions) - seen)
    return {"datasets": datasets, "groups": groups, "n_samples": n,
            "scoring": {"average": average, "extract": extract, "synonyms": bool(synonyms)},
            "missing_predictions": {"count": len(missing), "ids": missing[:_LISTED]},
            "extra_predictions": {"count": len(extra), "ids": extra[:_LISTED]}}
