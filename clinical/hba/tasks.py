"""The Human Behavior Atlas task registry, as data: dataset → domain, behavior group, task type,
labels and metrics (``clinical/hba/data/tasks.json``, or your own file of the same shape)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from bitbox.errors import ParameterError

__all__ = ["TaskInfo", "TaskRegistry", "default_registry", "normalize_answer", "GROUPS"]

_DATA = Path(__file__).parent / "data" / "tasks.json"
#: The benchmark's four behavior groups.
GROUPS = ("affective", "cognitive", "pathology", "social")


def normalize_answer(text: Any) -> str:
    """An answer as compared by the metrics: lower case, single spaces, without surrounding quotes
    or final punctuation (``" Happy."`` → ``"happy"``)."""
    if text is None:
        return ""
    value = " ".join(str(text).strip().lower().split())
    value = value.strip("\"'`")
    return re.sub(r"[\s.!?,;:]+$", "", value).strip()


@dataclass(frozen=True)
class TaskInfo:
    """What the registry knows about one dataset."""

    dataset: str
    domain: str
    group: str
    task: str
    labels: tuple[str, ...]
    metrics: tuple[str, ...]
    registered: bool = True

    @property
    def is_qa(self) -> bool:
        return self.task == "qa"


@dataclass(frozen=True)
class TaskRegistry:
    """Datasets of the benchmark and how each is scored.

    Parameters
    ----------
    data : mapping
        The registry JSON (``groups``, ``domains``, ``datasets`` and named label lists).
    """

    data: Mapping[str, Any]

    @classmethod
    def from_file(cls, path: str | Path) -> "TaskRegistry":
        """Read a registry JSON file."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ParameterError(f"{path}: cannot be read as an HBA task registry ({err}).") from None
        for key in ("groups", "domains", "datasets"):
            if not isinstance(data.get(key), Mapping):
                raise ParameterError(f"{path}: an HBA task registry needs a '{key}' object.")
        return cls(data)

    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(self.data["datasets"])

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(self.data["groups"])

    def get(self, dataset: str, task: str | None = None) -> TaskInfo:
        """The dataset's entry; an unregistered dataset is scored by its sample's ``task`` suffix
        (``_qa``: QA, otherwise classification) in the group ``other``."""
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
        return TaskInfo(dataset, entry["domain"], group, entry["task"], tuple(normalize_answer(x) for x in labels),
                        tuple(domain["metrics"]))


_DEFAULT: TaskRegistry | None = None


def default_registry() -> TaskRegistry:
    """The 16 datasets of the Human Behavior Atlas (papers.md section 6)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = TaskRegistry.from_file(_DATA)
    return _DEFAULT
