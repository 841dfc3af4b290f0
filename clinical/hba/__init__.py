"""Human Behavior Atlas evaluation suite (Ong et al. 2025; papers.md section 6).

- :func:`iter_samples`: stream HBA samples from JSONL or parquet (media as paths or embedded);
- :func:`default_registry`: the 16 datasets as data (domain, behavior group, labels, metrics);
- :mod:`.metrics`: accuracy, macro/weighted P/R/F1, per-class F1, sentiment ACC7/5/3/2,
  emotion weighted accuracy, QA exact match and a pluggable :class:`Judge`;
- :func:`evaluate_predictions`: any model's predictions per dataset and behavior group;
- :class:`DescriptorBaseline`: Bitbox face/pose/speech descriptors pooled over time plus
  text embeddings, one classifier per dataset;
- ``bitbox hba evaluate`` and ``bitbox hba baseline train|predict`` (:mod:`.cli`).

See docs/hba.md.
"""
from .baseline import POOLINGS, DescriptorBaseline, extract_descriptors, pool_frames, pool_timeseries, sample_text
from .evaluate import evaluate_predictions, load_judge, read_predictions
from .metrics import Judge, classification_metrics, emotion_metrics, qa_metrics, sentiment_metrics
from .reader import HbaFormatError, Media, Sample, data_files, iter_samples
from .tasks import GROUPS, TaskInfo, TaskRegistry, default_registry, normalize_answer

__all__ = ["POOLINGS", "DescriptorBaseline", "extract_descriptors", "pool_frames", "pool_timeseries", "sample_text",
           "evaluate_predictions", "load_judge", "read_predictions", "Judge", "classification_metrics",
           "emotion_metrics", "qa_metrics", "sentiment_metrics", "HbaFormatError", "Media", "Sample", "data_files",
           "iter_samples", "GROUPS", "TaskInfo", "TaskRegistry", "default_registry", "normalize_answer"]
