"""Human Behavior Atlas suite: reading and scoring at benchmark size, and the descriptor baseline.

Prints, on this machine:

- streaming 100,000 synthetic samples (the benchmark's size; prompts of realistic length)
  with :func:`iter_samples`: samples per second and peak Python memory, against loading the
  whole JSONL into a list first (the baseline, same run) as a ratio;
- ``evaluate_predictions`` on those 100,000 samples (all 16 datasets): seconds;
- the descriptor baseline on the fixture (``tools/hba_fixture.py``, espeak-ng needed): feature
  extraction per sample, and test accuracy per dataset for each pooling (mean; mean+std;
  mean+std+p25+p75) and for text only / descriptors only.

Targets: reading at least 20,000 samples/s with peak memory under a fifth of the load-all
baseline's; scoring 100,000 predictions within 30 s.

Usage: ``python benchmarks/hba.py [--samples 100000] [--skip-baseline]``.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _synthetic(path: Path, n: int) -> None:
    from bitbox.clinical.hba import default_registry

    registry = default_registry()
    rng = np.random.default_rng(0)
    names = list(registry.datasets)
    filler = " ".join(["and then we talked about the week"] * 12)
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            info = registry.get(names[i % len(names)])
            labels = info.labels or ("a free-form answer",)
            handle.write(json.dumps({
                "id": f"s{i}", "problem": f"<video>\n<audio>\nTranscript: {filler}\nQuestion? Answer with one word "
                f"from the following: {', '.join(labels)}.", "answer": labels[int(rng.integers(len(labels)))],
                "images": [], "videos": [f"media/{i}.mp4"], "audios": [f"media/{i}.wav"], "texts": [filler],
                "dataset": info.dataset, "modality_signature": "text_video_audio", "ext_video_feats": None,
                "ext_audio_feats": None, "task": f"{info.domain}_{info.task}", "class_label": 0}) + "\n")


def _peak(fn) -> tuple[float, float, object]:
    """Seconds of a plain run, and peak Python memory (MiB) of a second run under tracemalloc."""
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    return seconds, peak, result


def reading_and_scoring(n: int) -> None:
    from bitbox.clinical.hba import evaluate_predictions, iter_samples

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.jsonl"
        _synthetic(path, n)

        def stream():
            count = 0
            for _ in iter_samples(path):
                count += 1
            return count

        def load_all():
            with open(path, encoding="utf-8") as handle:
                return len([json.loads(line) for line in handle])

        t_stream, m_stream, count = _peak(stream)
        t_all, m_all, _ = _peak(load_all)
        print(f"reading {count} samples: streaming {count / t_stream:,.0f} samples/s, peak {m_stream:.1f} MiB; "
              f"load-all baseline {count / t_all:,.0f} samples/s, peak {m_all:.1f} MiB; memory ratio "
              f"{m_stream / m_all:.3f}")
        rng = np.random.default_rng(1)
        answers = [s.answer for s in iter_samples(path)]
        predictions = {f"s{i}": (a if rng.random() < 0.6 else "wrong") for i, a in enumerate(answers)}
        start = time.perf_counter()
        metrics = evaluate_predictions(path, predictions)
        t_eval = time.perf_counter() - start
        print(f"scoring {metrics['n_samples']} predictions over {len(metrics['datasets'])} datasets: {t_eval:.1f} s")
        print(f"targets: >= 20,000 samples/s [{'met' if count / t_stream >= 20000 else 'MISSED'}]; memory < 1/5 of "
              f"load-all [{'met' if m_stream < m_all / 5 else 'MISSED'}]; scoring <= 30 s "
              f"[{'met' if t_eval <= 30 else 'MISSED'}]")


def descriptor_baseline() -> None:
    from bitbox.clinical.hba import DescriptorBaseline, evaluate_predictions, iter_samples
    from tools.hba_fixture import build
    from tools.speech_synth import have_espeak

    if not have_espeak():
        print("descriptor baseline: skipped (espeak-ng is not installed)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = build(tmp / "data")
        cache = tmp / "cache"
        n = sum(1 for _ in iter_samples(paths["train"])) + sum(1 for _ in iter_samples(paths["test"]))
        start = time.perf_counter()
        DescriptorBaseline().fit(paths["train"], cache, progress=False).predict(paths["test"], cache, progress=False)
        print(f"descriptor extraction (face + pose + speech + text) and training: {time.perf_counter() - start:.1f} s "
              f"for {n} samples (cached afterwards)")
        variants = {"mean": {"pooling": "mean"}, "mean_std": {"pooling": "mean_std"},
                    "mean_std_quartiles": {"pooling": "mean_std_quartiles"},
                    "text only": {"processors": [], "text": True},
                    "descriptors only": {"text": False}}
        print(f"{'variant':<20} {'tess acc':>9} {'mosei_senti acc':>16}")
        for name, params in variants.items():
            model = DescriptorBaseline(**params).fit(paths["train"], cache, progress=False)
            metrics = evaluate_predictions(paths["test"], model.predict(paths["test"], cache, progress=False))
            row = metrics["datasets"]
            print(f"{name:<20} {row['tess']['accuracy']:>9.2f} {row['mosei_senti']['accuracy']:>16.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    reading_and_scoring(args.samples)
    if not args.skip_baseline:
        descriptor_baseline()


if __name__ == "__main__":
    main()
