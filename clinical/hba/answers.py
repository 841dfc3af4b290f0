"""Answers as the Human Behavior Atlas compares them: extraction of a generated answer, the label
map's synonym tables, and Bitbox's older normalisation (kept as a named option).

The benchmark (MIT-MI/human_behavior_atlas) reads a generated answer in three places, each with
its own rule; :func:`extract_answer` implements each one exactly:

- ``"sft"`` (``training/sft/trainer/sft_trainer.py``, ``_extract_answer``, the generation
  validation of classification datasets): the first ``\\boxed{...}`` (non-empty), else the first
  ``<answer>...</answer>``, else the text before the first ``.``, ``,``, ``!``, ``?`` or newline;
  stripped; then lower-cased by the caller;
- ``"reward"`` (``training/rl/reward_function/human_behaviour_harpo.py``, the RL reward): spaces
  around ``<``, ``>`` and ``/`` removed, then the first ``\\boxed{...}`` (possibly empty), else
  the first ``[...]``, else ``<answer>...</answer>``, else the whole text; stripped and lower-cased;
- ``"judge"`` (``evaluation/llm_grader/llm_judge_eval.py``, ``extract_boxed_answer``, the QA
  judge's input): the first non-empty ``\\boxed{...}`` as is, else the stripped text.

:class:`LabelRules` is the label map's mapping of an answer to its domain's canonical label
(``training/sft/label_maps/_build_label_map.py``, ``resolve_global_index``; the metrics use it
with ``synonyms=True``, for gold answers and predictions alike): stripped and
lower-cased, runs of spaces collapsed for the mental-health domains, the domain's synonym table
(``strongly positive`` → ``highly positive``, ``angry`` → ``anger``...) and, for depression,
sarcasm and humour, the boolean answers (``yes``/``true``/``1``/``y``/``t`` → ``depression``...).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

__all__ = ["EXTRACT_RULES", "LabelRules", "extract_answer", "normalize_answer", "prepare_answers"]

#: The benchmark's rules to read a generated answer (see :func:`extract_answer`), and ``"none"``.
EXTRACT_RULES = ("sft", "reward", "judge", "none")

_BOXED_NONEMPTY = re.compile(r"\\boxed\{([^}]+)\}")
_BOXED_ANY = re.compile(r"\\boxed{([^}]*)}")
_ANSWER_TAG_SFT = re.compile(r"<answer>([^<]+)</answer>")
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>")
_BRACKETS = re.compile(r"\[(.*?)\]")
_FIRST_PHRASE = re.compile(r"^([^.\n,!?]+)")
_TAG_SPACES = re.compile(r"\s*(<|>|/)\s*")


def normalize_answer(text: Any) -> str:
    """Bitbox's own answer normalisation (the HBA metrics' default before they followed the
    benchmark's code): lower case, single spaces, without surrounding quotes or final punctuation
    (``" Happy."`` → ``"happy"``).

    Not the benchmark's rule (see :func:`extract_answer`); pass ``normalize=normalize_answer``
    to the metrics to score with it.

    Parameters
    ----------
    text : object
        An answer (converted with ``str``); ``None`` is the empty answer.

    Returns
    -------
    str
        The normalised answer (``""`` for ``None``).
    """
    if text is None:
        return ""
    value = " ".join(str(text).strip().lower().split())
    value = value.strip("\"'`")
    return re.sub(r"[\s.!?,;:]+$", "", value).strip()


def _sft(text: str) -> str:
    match = _BOXED_NONEMPTY.search(text) or _ANSWER_TAG_SFT.search(text)
    if match:
        return match.group(1).strip()
    text = text.strip()
    match = _FIRST_PHRASE.match(text)
    return match.group(1).strip() if match else text


def _reward(text: str) -> str:
    text = _TAG_SPACES.sub(r"\1", text)
    for pattern in (_BOXED_ANY, _BRACKETS, _ANSWER_TAG):
        match = pattern.search(text)
        if match:
            return match.group(1).strip()
    return text.strip()


def _judge(text: str) -> str:
    match = _BOXED_NONEMPTY.search(text)
    return match.group(1) if match else text.strip()


def extract_answer(text: Any, rule: str = "sft") -> str:
    """The answer inside a generated response, by one of the benchmark's rules (module docstring).

    Parameters
    ----------
    text : object
        The model's response (converted with ``str``; ``None`` is an empty answer).
    rule : str
        ``"sft"`` (default: the benchmark's generation evaluation of classification datasets),
        ``"reward"``, ``"judge"`` or ``"none"`` (the text as given).

    Returns
    -------
    str
        The extracted answer, not lower-cased (``"sft"`` and ``"judge"`` as the benchmark; its
        callers lower-case).

    Raises
    ------
    ValueError
        ``rule`` is not one of :data:`EXTRACT_RULES`.

    Examples
    --------
    >>> extract_answer("<think>Sounds angry.</think> \\\\boxed{Anger} I hope this helps.")
    'Anger'
    >>> extract_answer("Neutral. Well, the speaker...")
    'Neutral'
    """
    text = "" if text is None else str(text)
    if rule == "sft":
        return _sft(text)
    if rule == "reward":
        return _reward(text)
    if rule == "judge":
        return _judge(text)
    if rule == "none":
        return text
    raise ValueError(f"Unknown answer extraction rule {rule!r}; use one of {', '.join(EXTRACT_RULES)}.")


@dataclass(frozen=True)
class LabelRules:
    """One label-map domain: its canonical labels and how an answer maps onto them.

    Parameters
    ----------
    name : str
        The domain (``"sentiment_intensity"``, ``"emotion"``, ``"mental_health_depression"``...).
    labels : tuple of str
        Its canonical labels (the global classes), in the label map's order.
    synonyms : mapping of str to str
        ``{answer: canonical label}``, looked up with the stripped, lower-cased answer (empty by default).
    boolean : tuple of str
        ``(label for a true answer, label for a false answer)``, or empty (default) for a domain
        without boolean answers.
    collapse_spaces : bool
        Collapse runs of white space before the look-up (the label map does for mental-health
        domains); default False.
    true_words, false_words : frozenset of str
        The lower-case answers read as true (default ``true``, ``yes``, ``1``, ``y``, ``t``) and as
        false (``false``, ``no``, ``0``, ``n``, ``f``) when ``boolean`` is set.
    """

    name: str
    labels: tuple[str, ...]
    synonyms: Mapping[str, str] = field(default_factory=dict, hash=False)
    boolean: tuple[str, ...] = ()
    collapse_spaces: bool = False
    true_words: frozenset[str] = frozenset({"true", "yes", "1", "y", "t"})
    false_words: frozenset[str] = frozenset({"false", "no", "0", "n", "f"})

    def canonical(self, answer: Any) -> str:
        """The domain label for an answer; an unrecognised answer comes back lower-cased (and
        stripped), so it stays a wrong answer.

        Parameters
        ----------
        answer : object
            A gold answer or an extracted prediction (converted with ``str``; ``None`` is ``""``).

        Returns
        -------
        str
            The boolean label, else the synonym's canonical label, else the stripped, lower-cased answer.

        Examples
        --------
        >>> LabelRules("humour", ("not humour", "humour"), boolean=("humour", "not humour")).canonical(" Yes")
        'humour'
        """
        low = ("" if answer is None else str(answer)).strip().lower()
        if self.collapse_spaces:
            low = " ".join(low.split())
        if self.boolean:
            if low in self.true_words:
                return self.boolean[0]
            if low in self.false_words:
                return self.boolean[1]
        return self.synonyms.get(low, low)


def _read(value: Any, rules: LabelRules | None, extract: str | None) -> str:
    text = ("" if value is None else str(value)) if extract is None else extract_answer(value, extract)
    text = text.strip().lower()
    return rules.canonical(text) if rules is not None else text


def prepare_answers(y_true: Iterable[Any], y_pred: Iterable[Any], *, rules: LabelRules | None = None,
                    extract: str = "sft", synonyms: bool = False,
                    normalize: Callable[[Any], str] | None = None) -> tuple[list[str], list[str]]:
    """Gold and predicted answers as the benchmark compares them.

    Parameters
    ----------
    y_true : iterable
        Gold answers, one per sample (``None`` is ``""``).
    y_pred : iterable
        The model's responses, in the order of ``y_true``.
    rules : LabelRules | None
        The dataset's label-map domain (used with ``synonyms=True`` only).
    extract : str
        How to read a response (:data:`EXTRACT_RULES`; default ``"sft"``); gold answers are not
        extracted. Both are then stripped and lower-cased (``sft_trainer.py`` compares
        ``_extract_answer(prediction).lower() == str(gt).lower()``).
    synonyms : bool
        Map gold answers **and** predictions to ``rules``' labels, as the label map reads an
        answer (``yes`` → ``depression``, ``Strongly positive`` → ``highly positive``); default False.
        The benchmark's generation evaluation compares the strings (a ``yes`` for DAIC-WOZ, whose
        answers are ``depression``/``no depression``, is wrong); on the distributed data the
        gold answers are already the label map's labels.
    normalize : callable | None
        A callable applied to both instead of all of the above (e.g. :func:`normalize_answer`,
        Bitbox's older convention); ``None`` (default) follows the benchmark.

    Returns
    -------
    y_true : list of str
        The gold answers as compared.
    y_pred : list of str
        The predictions as compared.

    Raises
    ------
    ValueError
        ``extract`` is not one of :data:`EXTRACT_RULES` (and ``normalize`` is not given).
    """
    if normalize is not None:
        return [normalize(x) for x in y_true], [normalize(x) for x in y_pred]
    if extract not in EXTRACT_RULES:
        raise ValueError(f"Unknown answer extraction rule {extract!r}; use one of {', '.join(EXTRACT_RULES)}.")
    rules = rules if synonyms else None
    return [_read(x, rules, None) for x in y_true], [_read(x, rules, extract) for x in y_pred]


def rules_from_json(name: str, entry: Mapping[str, Any], booleans: Mapping[str, Sequence[str]] | None = None
                    ) -> LabelRules:
    """A :class:`LabelRules` from its registry JSON entry (``labels``, ``synonyms``, ``boolean``,
    ``collapse_spaces``) and the registry's ``boolean_answers`` (``{"true": [...], "false": [...]}``)."""
    extra: dict[str, Any] = {}
    if booleans:
        extra = {"true_words": frozenset(booleans.get("true", ())), "false_words": frozenset(booleans.get("false", ()))}
    return LabelRules(name, tuple(entry["labels"]), dict(entry.get("synonyms", {})), tuple(entry.get("boolean", ())),
                      bool(entry.get("collapse_spaces", False)), **extra)
