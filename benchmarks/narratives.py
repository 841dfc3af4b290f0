"""Narrative span categories: training and annotation cost, and the model against the lexicon.

Prints, on this machine:

- training time of the default span model on the bundled corpus (33 training and 5
  validation narratives; frozen packaged MiniLM; torch's default threads, as the shipped
  model was trained), whether a second training gives the same model byte for byte, and
  whether it equals the shipped model (floating-point sums depend on the thread count:
  compare on a machine with as many cores);
- annotation speed (torch on one thread, as a batch worker runs) of the ``narrative``
  processor in words per second over the corpus,
  against the ``language`` processor on the same files (the baseline, same run: it runs the
  same encoder once per sentence) as a ratio;
- held-out lenient micro F1 of the model and of the lexicon baseline, and the ratio.

Targets: training under 2 minutes; annotation at least 500 words/s on one core
(a year of daily 200-word diaries in under 3 minutes); the model at least 3x the lexicon
baseline's held-out lenient micro F1.

Usage: ``python benchmarks/narratives.py``.
"""
from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
CORPUS = Path(__file__).resolve().parents[1] / "examples" / "narratives"


def _digest(folder: Path) -> str:
    return hashlib.sha256((folder / "head.npz").read_bytes()).hexdigest()[:16]


def main() -> None:
    import torch

    from bitbox.clinical.pd_narratives.train import train_and_evaluate, write_training_outputs
    from bitbox.processors.language import LanguageProcessor
    from bitbox.processors.narrative import NarrativeProcessor
    from bitbox.processors.narrative_format import read_narratives
    from bitbox.processors.span_model import default_span_model_path

    narratives = read_narratives(CORPUS)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        run = train_and_evaluate(narratives, progress=False)
        train_s = time.perf_counter() - start
        write_training_outputs(run, tmp / "a")
        write_training_outputs(train_and_evaluate(narratives, progress=False), tmp / "b")
        print(f"training: {train_s:.1f} s on {torch.get_num_threads()} thread(s) ({run.model.best_epoch_} epochs "
              f"kept of {len(run.model.history_)}); a second training identical: "
              f"{_digest(tmp / 'a') == _digest(tmp / 'b')}; equal to the shipped model: "
              f"{_digest(tmp / 'a') == _digest(default_span_model_path())}")
        torch.set_num_threads(1)

        texts = []
        for narrative in narratives:
            path = tmp / "txt" / f"{narrative.name}.txt"
            path.parent.mkdir(exist_ok=True)
            path.write_text(narrative.content, encoding="utf-8")
            texts.append(path)
        words = sum(len(n.content.split()) for n in narratives)
        speeds = {}
        for name, processor in (("narrative", NarrativeProcessor()), ("language (baseline)", LanguageProcessor())):
            processor.process(texts[0])  # warm-up: model loading
            start = time.perf_counter()
            for path in texts:
                processor.process(path)
            speeds[name] = words / (time.perf_counter() - start)
        print(f"annotation: {speeds['narrative']:.0f} words/s ({words} words, {len(texts)} files); "
              f"language processor {speeds['language (baseline)']:.0f} words/s; "
              f"ratio {speeds['narrative'] / speeds['language (baseline)']:.2f}")

    model_f1 = run.metrics["model"]["lenient"]["micro"]["f1"]
    lexicon_f1 = run.metrics["lexicon_baseline"]["lenient"]["micro"]["f1"]
    print(f"held-out lenient micro F1: model {model_f1:.2f}, lexicon baseline {lexicon_f1:.2f}, "
          f"ratio {model_f1 / max(lexicon_f1, 1e-9):.1f}")
    print(f"targets: training < 120 s [{'met' if train_s < 120 else 'MISSED'}]; annotation >= 500 words/s "
          f"[{'met' if speeds['narrative'] >= 500 else 'MISSED'}]; model >= 3x lexicon "
          f"[{'met' if model_f1 >= 3 * lexicon_f1 else 'MISSED'}]")


if __name__ == "__main__":
    main()
