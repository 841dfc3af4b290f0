"""Transdiagnostic pipeline cost: window features, and the models on a synthetic cohort.

Synthesises the demo cohort with espeak-ng (``tools/transdx_cohort.py``), then prints, on
one process (``workers=1``):

- ``voice_windows`` speed in x real time with eGeMAPS per 5-s window (1-s stride) against
  eGeMAPS once over the whole file (the baseline, same run): the windows cost about
  window/stride times more, the price of the paper's window-level classifiers;
- the whole feature extraction per recording (voice + text);
- the evaluation time of each model (logistic regression, XGBoost with ``--n-iter`` draws of
  the original's grid and the early-stopped refit, the MLP head with ``--mlp-augment``
  augmented copies of the training windows) over all feature sets, the single-descriptor
  models and all tasks, with the multiclass macro F1 of its
  fusion, and the ratio of each to logistic regression.

Targets: window features (eGeMAPS + MFCC, 5-s windows, 1-s stride) at least 5x real time on
one core (an hour of interviews in under 12 minutes); the whole run on the default cohort
(36 participants, 108 recordings: features, then the three models in 3-fold CV) within 10
minutes.

Usage: ``python benchmarks/transdx.py [--patients 6 --recordings 3 --n-iter 10 --mlp-augment 1]``
(the original's 1000 draws cost about 100 times the 10 here).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    import soundfile as sf

    from bitbox.clinical.transdiagnostic import evaluate, extract_features, read_manifest
    from bitbox.processors.speech import SpeechProcessor
    from bitbox.processors.voice_windows import VoiceWindowsProcessor
    from bitbox.recording import Recording
    from tools.transdx_cohort import make_cohort

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=6, help="patients per diagnosis (default 6)")
    parser.add_argument("--recordings", type=int, default=3)
    parser.add_argument("--n-iter", type=int, default=10)
    parser.add_argument("--mlp-augment", type=int, default=1, help="augmented copies per training window (MLP)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = make_cohort(Path(tmp) / "cohort", patients=args.patients, recordings=args.recordings, seed=0)
        cohort = read_manifest(manifest)
        audio_s = sum(sf.info(p).duration for p in cohort.recordings["recording"])
        print(f"{cohort!r}; {audio_s:.0f} s of audio")

        sample = Recording(cohort.recordings["recording"].iloc[0])
        seconds = sf.info(str(sample.path)).duration
        VoiceWindowsProcessor().process(sample)  # warm-up (imports, openSMILE)
        timings = {}
        for name, processor in (("windows (eGeMAPS + MFCC)", VoiceWindowsProcessor()),
                                ("windows (MFCC only)", VoiceWindowsProcessor(egemaps=False)),
                                ("eGeMAPS whole file (baseline)", SpeechProcessor(egemaps=True))):
            start = time.perf_counter()
            for _ in range(5):
                processor.process(sample)
            timings[name] = (time.perf_counter() - start) / 5
        base = timings["eGeMAPS whole file (baseline)"]
        for name, t in timings.items():
            print(f"  {name:<32} {seconds / t:6.1f}x real time   ratio to baseline {t / base:5.2f}")
        speed = seconds / timings["windows (eGeMAPS + MFCC)"]
        print(f"  window features: target >= 5x real time: {'met' if speed >= 5 else 'NOT met'}")
        print("  (the baseline is the speech processor with egemaps=True: all its measures plus eGeMAPS once)")

        start = time.perf_counter()
        features = extract_features(cohort, Path(tmp) / "out", workers=1, progress=False)
        extraction = time.perf_counter() - start
        print(f"  features of {len(cohort.recordings)} recordings: {extraction:.1f} s "
              f"({extraction / len(cohort.recordings):.2f} s per recording, {audio_s / extraction:.1f}x real time)")

        times = {}
        for model in ("logreg", "xgboost", "mlp"):
            start = time.perf_counter()
            result = evaluate(cohort, features, protocol="cv", models=[model], n_folds=3, n_iter=args.n_iter,
                              mlp_augment=args.mlp_augment, progress=False)
            times[model] = time.perf_counter() - start
            fusion = result.metrics["multiclass"]["fusion/mean"]["macro_f1"]
            ratio = times[model] / times["logreg"]
            print(f"  evaluate {model:<8} {times[model]:6.1f} s  (ratio to logreg {ratio:5.1f})"
                  f"  multiclass fusion/mean macro F1 {fusion:.2f}")
        total = extraction + sum(times.values())
        print(f"  total {total:.0f} s (target < 600 s: {'met' if total < 600 else 'NOT met'})")


if __name__ == "__main__":
    main()
