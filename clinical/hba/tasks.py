"""The Human Behavior Atlas task registry, as data: dataset → domain, behavior group, task type,
labels, metrics and label-map domain (``clinical/hba/data/tasks.json``, or your own file of the
same shape).

The labels and class counts are the benchmark's (``training/sft/label_maps/unified_label_map.json``,
``dataset_labels``): ``chsimsv2`` has 5 sentiment levels, ``meld_senti`` 3, ``mosei_senti`` 7; the
binary datasets answer ``depression``/``no depression``, ``anxiety``/``no anxiety``, ``ptsd``/
``no ptsd``, ``sarcasm``/``not sarcasm``, ``humour``/``not humour``. Each dataset names its
label-map domain (``meta.dataset_domain``), whose :class:`~bitbox.clinical.hba.answers.LabelRules`
(synonyms, boolean answers) map gold answers to the domain's labels as the label map does.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from bitbox.errors import ParameterError

from .answers import LabelRules, normalize_answer, rules_from_json

__all__ = ["TaskInfo", "TaskRegistry", "default_registry", "normalize_answer", "GROUPS", "SENTIMENT_LEVELS"]

_DATA = Path(__file__).parent / "data" / "tasks.json"
#: The benchmark's four behavior groups.
GROUPS = ("affective", "cognitive", "pathology", "social")
#: The benchmark's 7-point sentiment scale, most negative first (``helper_senti.py``, ``canonical``).
SENTIMENT_LEVELS = ("highly negative", "negative", "weakly negative", "neutral", "weakly positive", "positive",
                    "highly positive")


@dataclass(frozen=True)
class TaskInfo:
    """What the registry knows about one dataset.

    Parameters
    ----------
    dataset : str
        The dataset's name in the samples (``"mosei_senti"``, ``"daicwoz"``...).
    domain : str
        Its domain (``"sentiment"``, ``"emotion"``, ``"mental_health"``, ``"sarcasm"``, ``"humour"``,
        ``"qa"``; ``"other"`` for an unregistered classification dataset).
    group : str
        Its behavior group (one of :data:`GROUPS`, or ``"other"`` when unregistered).
    task : str
        ``"cls"`` (classification) or ``"qa"`` (free-form answers).
    labels : tuple of str
        The valid answers, as the label map reads them (empty for QA and unregistered datasets).
    metrics : tuple of str
        The metric families that score it: ``"classification"``, ``"sentiment"``, ``"emotion"``, ``"qa"``.
    registered : bool
        Whether the registry lists the dataset (default True); an unregistered one is scored by its
        sample's task.
    label_domain : str | None
        The label-map domain (``"sentiment_intensity"``, ``"mental_health_depression"``...) whose
        synonyms and boolean answers apply; ``None`` (default) for none.
    rules : LabelRules | None
        That domain's rules (``None`` without a label domain); not compared between entries.
    """

    dataset: str
    domain: str
    group: str
    task: str
    labels: tuple[str, ...]
    metrics: tuple[str, ...]
    registered: bool = True
    #: The label-map domain (``"sentiment_intensity"``, ``"mental_health_depression"``...) and its rules.
    label_domain: str | None = None
    rules: LabelRules | None = field(default=None, compare=False, repr=False)

    @property
    def is_qa(self) -> bool:
        """Whether the dataset is scored as free-form QA (``task == "qa"``) rather than classification."""
        return self.task == "qa"

    def canonical(self, answer: Any) -> str:
        """A gold answer as the label map reads it (synonyms, boolean answers; lower-cased).

        Parameters
        ----------
        answer : object
            The answer (converted with ``str``; ``None`` is ``""``).

        Returns
        -------
        str
            The domain's canonical label, else the stripped, lower-cased answer (always so without ``rules``).
        """
        if self.rules is not None:
            return self.rules.canonical(answer)
        return ("" if answer is None else str(answer)).strip().lower()


@dataclass(frozen=True)
class TaskRegistry:
    """Datasets of the benchmark and how each is scored.

    Parameters
    ----------
    data : mapping
        The registry JSON: ``groups``, ``domains``, ``datasets`` (each with ``domain``, ``task``,
        ``labels`` (a list, or the name of a top-level list), optional ``group`` and
        ``label_domain``), ``label_domains`` (``labels``, ``synonyms``, ``boolean``,
        ``collapse_spaces``) and ``boolean_answers``.
    """

    data: Mapping[str, Any]

    @classmethod
    def from_file(cls, path: str | Path) -> "TaskRegistry":
        """Read a registry JSON file.

        Parameters
        ----------
        path : str | Path
            A UTF-8 JSON file of the shape of ``clinical/hba/data/tasks.json`` (see the class's ``data``).

        Returns
        -------
        TaskRegistry
            The registry of the file.

        Raises
        ------
        ParameterError
            The file cannot be read or is not JSON, lacks a ``groups``, ``domains`` or ``datasets`` object,
            or a dataset names a label domain that ``label_domains`` does not define.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ParameterError(f"{path}: cannot be read as an HBA task registry ({err}).") from None
        for key in ("groups", "domains", "datasets"):
            if not isinstance(data.get(key), Mapping):
                raise ParameterError(f"{path}: an HBA task registry needs a '{key}' object.")
        domains = data.get("label_domains", {})
        for name, entry in data["datasets"].items():
            label_domain = entry.get("label_domain") if isinstance(entry, Mapping) else None
            if label_domain is not None and label_domain not in domains:
                raise ParameterError(f"{path}: dataset '{name}' names the label domain '{label_domain}', which "
                                     f"'label_domains' does not define (it has: {', '.join(domains) or 'none'}).")
        return cls(data)

    def label_rules(self, label_domain: str) -> LabelRules:
        """The :class:`~bitbox.clinical.hba.answers.LabelRules` of a label-map domain.

        Parameters
        ----------
        label_domain : str
            A key of the registry's ``label_domains`` (``"sentiment_intensity"``, ``"emotion"``...).

        Returns
        -------
        LabelRules
            Its labels, synonyms, boolean answers (with the registry's ``boolean_answers`` words) and
            space collapsing.

        Raises
        ------
        ParameterError
            The registry has no such label domain.
        """
        domains = self.data.get("label_domains", {})
        if label_domain not in domains:
            raise ParameterError(f"The HBA registry has no label domain '{label_domain}' "
                                 f"(it has: {', '.join(domains) or 'none'}).")
        return rules_from_json(label_domain, domains[label_domain], self.data.get("boolean_answers"))

    @property
    def datasets(self) -> tuple[str, ...]:
        """Names of the registered datasets, in the file's order."""
        return tuple(self.data["datasets"])

    @property
    def groups(self) -> tuple[str, ...]:
        """Names of the registry's behavior groups, in the file's order."""
        return tuple(self.data["groups"])

    def get(self, dataset: str, task: str | None = None) -> TaskInfo:
        """The dataset's entry; an unregistered dataset is scored by its sample's ``task`` suffix
        (``_qa``: QA, otherwise classification) in the group ``other``.

        Parameters
        ----------
        dataset : str
            The dataset's name.
        task : str | None
            The sample's ``task`` field (e.g. ``"my_set_qa"``), used only when the dataset is not
            registered; ``None`` (default) scores an unregistered dataset as classification.

        Returns
        -------
        TaskInfo
            The entry, its labels read through its label-map rules; ``registered=False`` (no labels,
            no rules) for an unregistered dataset.
        """
        entry = self.data["datasets"].get(dataset)
        if entry is None:
            is_qa = bool(task) and str(task).endswith("_qa")
            return TaskInfo(dataset, "qa" if is_qa else "other", "other", "qa" if is_qa else "cls", (),
                            ("qa",) if is_qa else ("classification",), registered=False)
        domain = self.data["domains"][entry["domain"]]
        labels = entry.get("labels", ())
        if isinstance(labels, str):
            labels = self.data[labels]
        group = entry.get("group") or domain["group"]
        label_domain = entry.get("label_domain")
        rules = self.label_rules(label_domain) if label_domain else None
        canonical = rules.canonical if rules is not None else (lambda x: str(x).strip().lower())
        return TaskInfo(dataset, entry["domain"], group, entry["task"], tuple(canonical(x) for x in labels),
                        tuple(domain["metrics"]), label_domain=label_domain, rules=rules)


_DEFAULT: TaskRegistry | None = None


def default_registry() -> TaskRegistry:
    """The 16 datasets of the Human Behavior Atlas (papers.md section 6)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = TaskRegistry.from_file(_DATA)
    return _DEFAULT
