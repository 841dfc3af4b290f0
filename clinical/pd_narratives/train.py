"""Train a span model on an annotated corpus and evaluate it (and the lexicon baseline) on held-out files."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from bitbox.io import atomic_path, write_json
from bitbox.processors.narrative_format import LabelHierarchy, Narrative, read_narratives, write_narrative
from bitbox.processors.span_model import SpanCategorizer

from .baseline import LexiconTagger
from .corpus import split_narratives
from .evaluate import evaluate_spans

__all__ = ["TrainingRun", "train_and_evaluate", "write_training_outputs", "predict_files"]


@dataclass
class TrainingRun:
    """A trained model, the file split and the test-set scores of the model and the lexicon baseline.

    Parameters
    ----------
    model : SpanCategorizer
        The fitted span model.
    split : dict of str to str
        File stem -> ``"train"``, ``"validation"`` or ``"test"``.
    metrics : dict
        ``model`` and ``lexicon_baseline`` (:func:`~bitbox.clinical.pd_narratives.evaluate.evaluate_spans`
        results on the test files), ``split`` (part -> file stems), ``n_spans`` (part -> annotated spans),
        ``best_epoch``, ``validation_f1`` and ``unreachable_training_spans``; empty by default.
    """

    model: SpanCategorizer
    split: dict[str, str]
    metrics: dict[str, Any] = field(default_factory=dict)

    def split_frame(self) -> pd.DataFrame:
        """``file`` and ``part`` (train, validation or test) per narrative."""
        return pd.DataFrame([{"file": name, "part": part} for name, part in sorted(self.split.items())])


def train_and_evaluate(corpus: str | Path | Sequence[Narrative], *, model: SpanCategorizer | None = None,
                       hierarchy: str | None = None, split_seed: int = 42, progress: bool = True) -> TrainingRun:
    """Split a corpus 70/10/20 by file, train on 70% (early stopping and thresholds on 10%),
    and score the model and the lexicon baseline on the held-out 20% (strict and lenient).

    Parameters
    ----------
    corpus : folder or sequence of Narrative
        The annotated narratives: a folder of annotation JSON files (read with ``hierarchy``'s labels), or
        narratives already read. Each needs a distinct name (its file stem) and there must be at least 3.
    model : SpanCategorizer | None
        An unfitted model with the wanted parameters (default parameters otherwise).
    hierarchy : str | None
        Label-hierarchy JSON file (default: the paper's labels).
    split_seed : int
        Seed of the file split.
    progress : bool
        Show a progress bar over epochs.

    Returns
    -------
    TrainingRun
        The fitted model, the split and the test-set scores.

    Raises
    ------
    ParameterError
        The corpus is too small to split, or its names are not distinct.
    AnnotationError
        An annotation file in the folder is malformed or uses a label outside the hierarchy.
    """
    from tqdm.auto import tqdm

    labels = None if hierarchy is None else LabelHierarchy.from_file(hierarchy)
    narratives = read_narratives(corpus, labels) if isinstance(corpus, (str, Path)) else list(corpus)
    split = split_narratives(narratives, seed=split_seed)
    parts = {p: [n for n in narratives if split[n.name] == p] for p in ("train", "validation", "test")}
    model = model if model is not None else SpanCategorizer()
    if hierarchy is not None:
        model.set_params(hierarchy=str(hierarchy))
    bar = tqdm(total=int(model.max_epochs), desc="narratives", unit="epoch", disable=not progress,
               dynamic_ncols=True)

    def tick(epoch: int, total: int | None) -> None:
        bar.update(epoch - bar.n)

    try:
        model.fit(parts["train"], parts["validation"], progress=tick)
    finally:
        bar.close()
    level = model.level
    lexicon = LexiconTagger(level=level, hierarchy=model.hierarchy_).fit(parts["train"])
    test = parts["test"]
    metrics = {
        "model": evaluate_spans(test, {n.name: n for n in model.predict(test)}, level=level,
                                hierarchy=model.hierarchy_),
        "lexicon_baseline": evaluate_spans(test, {n.name: n for n in lexicon.predict(test)}, level=level,
                                           hierarchy=model.hierarchy_),
        "split": {p: sorted(n.name for n in parts[p]) for p in parts},
        "n_spans": {p: sum(len(n.spans) for n in parts[p]) for p in parts},
        "best_epoch": model.best_epoch_, "validation_f1": model.validation_f1_,
        "unreachable_training_spans": model.training_["unreachable_spans"],
    }
    return TrainingRun(model=model, split=split, metrics=metrics)


def write_training_outputs(run: TrainingRun, out: str | Path) -> Path:
    """The model folder plus ``metrics.json`` (test scores), ``splits.csv`` and ``report.html``.

    Parameters
    ----------
    run : TrainingRun
        What :func:`train_and_evaluate` returned.
    out : str | Path
        The folder to write (created when missing): the model's files
        (:meth:`~bitbox.processors.span_model.SpanCategorizer.save`) and the three files beside them.

    Returns
    -------
    Path
        ``out``, a folder :class:`~bitbox.processors.span_model.SpanCategorizer` can load.
    """
    from .report import write_report

    out = Path(out)
    run.model.save(out)
    write_json(out / "metrics.json", run.metrics)
    with atomic_path(out / "splits.csv") as tmp:
        run.split_frame().to_csv(tmp, index=False)
    write_report(out / "report.html", run.metrics, title="Span model: held-out test files",
                 names=("model", "lexicon_baseline"))
    return out


def predict_files(inputs: Sequence[str | Path], out: str | Path, *, model: SpanCategorizer) -> list[Path]:
    """Annotate text or annotation-JSON files; write ``OUT/<stem>.json`` (annotation JSON) for each.

    Parameters
    ----------
    inputs : sequence of str | Path
        The files to annotate, read as the ``narrative`` processor reads them
        (:func:`~bitbox.processors.narrative.narrative_text`: a ``.txt`` as written, an annotation JSON's
        ``content``, a transcript's utterances one per line).
    out : str | Path
        The output folder (created when missing); a file of the same name is replaced.
    model : SpanCategorizer
        A fitted span model.

    Returns
    -------
    list of Path
        The annotation files written, in the order of ``inputs``.
    """
    from bitbox.processors.narrative import narrative_text
    from bitbox.recording import Recording

    out = Path(out)
    written = []
    items = []
    for path in inputs:
        recording = Recording(path)
        text, _ = narrative_text(recording)
        items.append(Narrative(text, name=Path(path).stem))
    for narrative in model.predict(items):
        target = out / f"{narrative.name}.json"
        write_narrative(target, narrative)
        written.append(target)
    return written
