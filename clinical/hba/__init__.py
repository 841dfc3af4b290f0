"""Human Behavior Atlas evaluation suite (Ong et al. 2025; papers.md section 6).

- :func:`iter_samples`: stream HBA samples from JSONL or parquet (media as paths or embedded);
- :func:`default_registry`: the 16 datasets as data (domain, behavior group, labels, metrics);
- :mod:`.metrics`: accuracy, macro/weighted/micro P/R/F1 over the gold classes, per-class F1,
  sentiment ACC7/5/3/2, emotion weighted accuracy, QA with a pluggable :class:`Judge`, all as
  the benchmark's code computes them;
- :mod:`.answers`: generated answers read as the benchmark reads them (``\\boxed{}``...) and its
  label map's synonym tables;
- :func:`evaluate_predictions`: any model's predictions per dataset and behavior group;
- :class:`DescriptorBaseline`: Bitbox face/pose/speech descriptors pooled over time plus
  text embeddings, one classifier per dataset;
- ``bitbox hba evaluate`` and ``bitbox hba baseline train|predict`` (:mod:`.cli`).

See docs/hba.md.
"""
from .answers import EXTRACT_RULES, LabelRules, extract_answer, prepare_answers
from .baseline import POOLINGS, DescriptorBaseline, ext_features, extract_descriptors, pool_frames, pool_timeseries, sample_text
from .evaluate import evaluate_predictions, load_judge, read_predictions
from .metrics import AVERAGES, Judge, classification_metrics, emotion_metrics, qa_metrics, sentiment_metrics
from .reader import HbaFeatureError, HbaFormatError, Media, Sample, data_files, iter_samples, read_ext_feats
from .tasks import GROUPS, SENTIMENT_LEVELS, TaskInfo, TaskRegistry, default_registry, normalize_answer

__all__ = ["POOLINGS", "DescriptorBaseline", "ext_features", "extract_descriptors", "pool_frames", "pool_timeseries", "sample_text",
           "EXTRACT_RULES", "LabelRules", "extract_answer", "prepare_answers",
           "evaluate_predictions", "load_judge", "read_predictions", "AVERAGES", "Judge", "classification_metrics",
           "emotion_metrics", "qa_metrics", "sentiment_metrics", "HbaFeatureError", "HbaFormatError", "read_ext_feats", "Media", "Sample", "data_files",
           "iter_samples", "GROUPS", "SENTIMENT_LEVELS", "TaskInfo", "TaskRegistry", "default_registry",
           "normalize_answer"]
