"""A tour of the Human Behavior Atlas suite on the fixture: the Bitbox descriptor baseline, the
benchmark's metrics, and a pluggable judge for free-form answers.

Needs espeak-ng (to make the fixture's speech). Run from the repository root:
``python examples/hba_tour.py [OUT_DIR]``.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bitbox.clinical.hba import DescriptorBaseline, evaluate_predictions, iter_samples  # noqa: E402
from bitbox.clinical.hba.report import results_markdown, write_report  # noqa: E402
from tools.hba_fixture import build  # noqa: E402


def overlap_judge(problem: str, answer: str, prediction: str) -> float:
    """A toy local judge: the share of the reference answer's words found in the prediction."""
    words = set(answer.lower().split())
    return len(words & set(prediction.lower().split())) / len(words) if words else 0.0


def main(out: Path) -> None:
    paths = build(out / "data")
    print(f"fixture: {sum(1 for _ in iter_samples(paths['train']))} training and "
          f"{sum(1 for _ in iter_samples(paths['test']))} test samples in {out / 'data'}")

    # The descriptor baseline: face + pose + speech pooled over time, text embeddings, one classifier per dataset.
    model = DescriptorBaseline(pooling="mean_std").fit(paths["train"], out / "features")
    predictions = model.predict(paths["test_parquet"], out / "features")  # media embedded in the parquet file

    # Any model's answers can be scored the same way; here the QA answers come from a "model" that paraphrases.
    qa = {s.id: f"I think {s.answer}" for s in iter_samples(paths["test"]) if s.dataset == "siq2"}
    metrics = evaluate_predictions(paths["test"], {**predictions, **qa}, judge=overlap_judge)
    print(results_markdown(metrics))
    print("groups:", {g: round(v["accuracy"], 3) for g, v in metrics["groups"].items()})
    print("report:", write_report(out / "report.html", metrics))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="bitbox-hba-")))
