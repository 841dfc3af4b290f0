"""EEG-factor training time and SCAN markers: the beta-VAE + SCAN on the simulated cohort.

Simulates the cohort of the tests (60 subjects x 2 conditions x 3 channels x 256 samples,
40 trials per condition, plus a random ``noise`` label unrelated to the ERPs), then, on this
machine's cores (torch uses 2 threads):

- times the ERP baseline's feature extraction and logistic regression (all subjects);
- times one fit of the beta-VAE + SCAN with the default parameters (target: under 5 minutes
  on 2 CPU cores), and prints the R^2 of each generative factor from its best single latent;
- prints the latent each factor lives in (Pearson r), the markers SCAN gives each label
  (in-distribution rule, ``EegFactorModel.marker_table``) with their separations, and, for
  comparison, what the rule before issue 19 (SCAN queried with one label one-hot and the others zero,
  posterior SD < 0.75) gave on the same model;
- with ``--figure PATH``, draws the separations per latent and label value against the
  threshold (the evidence figure of docs/eeg_factors.md).

Usage: ``python benchmarks/eeg_factors.py [--subjects 60] [--figure markers.png]``.
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def one_hot_markers(model, marker_sd: float = 0.75) -> dict[str, dict[str, list[int]]]:
    """The old rule, for comparison only: one label one-hot, the others zero (never seen in training)."""
    import torch

    n_labels = sum(len(v) for v in model.label_values_.values())
    markers, offset = {}, 0
    for column, values in model.label_values_.items():
        markers[column] = {}
        for k, value in enumerate(values):
            y = torch.zeros(1, n_labels)
            y[0, offset + k] = 1.0
            with torch.no_grad():
                _, logvar = model.scan_encoder_(y).chunk(2, dim=1)
            sd = (0.5 * logvar.clamp(-10, 5)).exp()[0].numpy()
            narrow = np.flatnonzero(sd < marker_sd)
            markers[column][value] = [int(i) for i in narrow[np.argsort(sd[narrow])]]
        offset += len(values)
    return markers


def marker_figure(model, path: str) -> None:
    """Bar chart: per label value, SCAN's separation (d') of every latent, the threshold, the markers filled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = model.marker_table()
    groups = list(table.groupby(["label", "value"], sort=False))
    fig, axes = plt.subplots(1, len(groups), figsize=(2.2 * len(groups), 2.4), sharey=True, squeeze=False)
    for axis, ((label, value), rows) in zip(axes[0], groups):
        colors = ["#c0392b" if marked else "#bbbbbb" for marked in rows["marker"]]
        axis.bar(rows["dim"], rows["separation"], color=colors)
        axis.axhline(rows["threshold"].iloc[0], color="#222", lw=0.8, ls="--")
        axis.set_title(f"{label}={value}", fontsize=8)
        axis.set_xticks(rows["dim"])
        axis.tick_params(labelsize=6)
        axis.set_xlabel("latent", fontsize=7)
    axes[0, 0].set_ylabel("separation d'", fontsize=7)
    fig.suptitle("SCAN posterior separation per latent (dashed: threshold; red: markers)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    from bitbox.clinical.eeg_factors import EegFactorModel, simulate_cohort
    from bitbox.clinical.eeg_factors.evaluate import _baseline_proba, latent_factor_correlations

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=60)
    parser.add_argument("--figure", default=None, help="write the marker evidence figure (PNG) here")
    args = parser.parse_args()
    cohort = simulate_cohort(n_subjects=args.subjects, n_trials=40, seed=0)
    half = int(np.ceil(args.subjects / 2))
    cohort.labels["noise"] = np.random.default_rng(19).permutation(np.repeat(["a", "b"], half)[: args.subjects])
    print(f"{cohort!r}")
    start = time.perf_counter()
    _baseline_proba(cohort, cohort, "group")
    baseline = time.perf_counter() - start
    start = time.perf_counter()
    model = EegFactorModel().fit(cohort)
    fit = time.perf_counter() - start
    correlations = latent_factor_correlations(model, cohort)
    print(f"  ERP baseline (features + logistic regression): {baseline:6.2f} s")
    print(f"  beta-VAE + SCAN fit ({model.n_epochs} + {model.scan_epochs} epochs): {fit:6.1f} s "
          f"(target < 300 s: {'met' if fit < 300 else 'NOT met'}); ratio to the baseline {fit / baseline:.0f}x")
    print("  R^2 of each generative factor from its best single latent: "
          + ", ".join(f"{k} {v:.3f}" for k, v in (correlations ** 2).max(axis=1).items()))
    for factor, row in correlations.iterrows():
        best = int(row.abs().idxmax())
        print(f"  {factor:<16} lives in latent {best} (r = {row[best]:+.2f})")
    table = model.marker_table()
    old = one_hot_markers(model)
    for (label, value), rows in table.groupby(["label", "value"], sort=False):
        top = rows.sort_values("separation", ascending=False).head(3)
        print(f"  markers {label}={value:<8} {model.markers_[label][value]!s:<8} (old one-hot rule: "
              f"{old[label][value]!s:<8}) largest d': "
              + ", ".join(f"{int(d)}: {v:.2f}" for d, v in zip(top["dim"], top["separation"]))
              + f"; threshold {rows['threshold'].iloc[0]:.2f}")
    if args.figure:
        marker_figure(model, args.figure)
        print(f"  figure: {args.figure}")


if __name__ == "__main__":
    main()
