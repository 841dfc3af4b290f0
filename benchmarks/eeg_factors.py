"""EEG-factor training time: the beta-VAE + SCAN on the simulated 60-subject cohort.

Simulates the cohort of the tests (60 subjects x 2 conditions x 3 channels x 256 samples,
40 trials per condition), then times, on this machine's cores (torch uses 2 threads):

- the ERP baseline's feature extraction and logistic regression (all subjects);
- one fit of the beta-VAE + SCAN with the default parameters (target: under 5 minutes on
  2 CPU cores), and the R^2 of each generative factor from its best single latent.

Usage: ``python benchmarks/eeg_factors.py [--subjects 60]``.
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    from bitbox.clinical.eeg_factors import EegFactorModel, simulate_cohort
    from bitbox.clinical.eeg_factors.evaluate import _baseline_proba

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=60)
    args = parser.parse_args()
    cohort = simulate_cohort(n_subjects=args.subjects, n_trials=40, seed=0)
    print(f"{cohort!r}")
    start = time.perf_counter()
    _baseline_proba(cohort, cohort, "group")
    baseline = time.perf_counter() - start
    start = time.perf_counter()
    model = EegFactorModel().fit(cohort)
    fit = time.perf_counter() - start
    z = model.encode(cohort.averages())
    r2 = {name: max(np.corrcoef(z[:, d], values)[0, 1] ** 2 for d in range(z.shape[1]))
          for name, values in cohort.truth["factors"].items()}
    print(f"  ERP baseline (features + logistic regression): {baseline:6.2f} s")
    print(f"  beta-VAE + SCAN fit ({model.n_epochs} + {model.scan_epochs} epochs): {fit:6.1f} s "
          f"(target < 300 s: {'met' if fit < 300 else 'NOT met'}); ratio to the baseline {fit / baseline:.0f}x")
    print("  R^2 of each generative factor from its best single latent: "
          + ", ".join(f"{k} {v:.3f}" for k, v in r2.items()))


if __name__ == "__main__":
    main()
