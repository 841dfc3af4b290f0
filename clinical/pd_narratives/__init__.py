"""Parkinson's narratives: cognitive span categories (Khanna, Bhatt et al. 2025).

- :func:`train_and_evaluate`: split annotated files 70/10/20 (stratified by entity count),
  train a :class:`~bitbox.processors.span_model.SpanCategorizer`, score it and the
  :class:`LexiconTagger` baseline on the held-out files;
- :func:`evaluate_spans`: the paper's strict and lenient per-sentence evaluation;
  :func:`parse_llm_output` / :func:`read_llm_predictions` read an LLM's answers in the
  paper's ``Annotation(start=..., end=..., term="...", label="...")`` format;
- ``bitbox narratives train|evaluate|predict`` (:mod:`.cli`).

The annotation format and the span model live with the ``narrative`` processor
(:mod:`bitbox.processors.narrative_format`, :mod:`bitbox.processors.span_model`).
See docs/narratives.md.
"""
from .baseline import LexiconTagger
from .corpus import split_narratives
from .evaluate import evaluate_spans, parse_llm_output, read_llm_predictions, read_predictions, word_overlap
from .train import TrainingRun, predict_files, train_and_evaluate, write_training_outputs

__all__ = ["LexiconTagger", "split_narratives", "evaluate_spans", "parse_llm_output", "read_llm_predictions",
           "read_predictions", "word_overlap", "TrainingRun", "predict_files", "train_and_evaluate",
           "write_training_outputs"]
