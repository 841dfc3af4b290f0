"""Transdiagnostic speech and text classification (Hansen et al. 2023) for any cohort.

>>> from bitbox.clinical.transdiagnostic import read_manifest, extract_features, evaluate
>>> cohort = read_manifest("manifest.csv")                       # doctest: +SKIP
>>> features = extract_features(cohort, "out")                   # doctest: +SKIP
>>> result = evaluate(cohort, features)                          # doctest: +SKIP
>>> result.metrics["multiclass"]["fusion/max"]["macro_f1"]       # doctest: +SKIP

The command line does the same and writes a report: ``bitbox transdx evaluate MANIFEST -o OUT``.
"""
from .cohort import Cohort, ManifestError, read_manifest
from .evaluate import Evaluation, classification_scores, evaluate, participant_scores
from .features import FEATURE_SETS, TEXT_SETS, VOICE_SETS, Features, extract_features
from .models import MODELS, MLPHead
from .protocol import Split, Task, grouped_cv_splits, paper_split, tasks

__all__ = ["Cohort", "ManifestError", "read_manifest", "Evaluation", "classification_scores", "evaluate",
           "participant_scores", "FEATURE_SETS", "TEXT_SETS", "VOICE_SETS", "Features", "extract_features",
           "MODELS", "MLPHead", "Split", "Task", "grouped_cv_splits", "paper_split", "tasks"]
