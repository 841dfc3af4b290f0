"""Model files that cannot run code: what checking them costs.

Prints, on this machine, each against a baseline in the same run:

- an EEG factor model (the default 10-d beta-VAE + SCAN): ``EegFactorModel.save``/``load``
  (safetensors, SHA-256 of every array file checked before reading) against ``torch.save`` /
  ``torch.load(weights_only=False)`` of the same state plus rebuilding the networks (how
  Bitbox loaded its pickled ``model.pt`` before);
- an HBA descriptor baseline's predictions with Bitbox's array form (:class:`LinearPipeline`,
  rebuilt from safetensors) against the fitted scikit-learn pipeline it replaces, on 20,000
  samples, and whether the two agree exactly;
- confinement checks: ``bitbox.fileio.confined`` per call, and ``safe_name`` per id.

Targets: loading within 3x the pickle load's time (the checksum reads the file once more);
predictions identical and within 2x scikit-learn's time; a confinement check under 1 ms.

Usage: ``python benchmarks/model_files.py``.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def eeg_model(tmp: Path) -> None:
    import torch

    from bitbox.clinical.eeg_factors import EegFactorModel, simulate_cohort

    cohort = simulate_cohort(n_subjects=12, n_trials=10, seed=3)
    model = EegFactorModel(n_epochs=2, scan_epochs=2, augment_draws=3).fit(cohort)
    folder = tmp / "eeg"
    save_s = _best(lambda: model.save(folder))
    load_s = _best(lambda: EegFactorModel.load(folder))
    state = {name: getattr(model, name).state_dict() for name in
             ("encoder_", "decoder_", "scan_encoder_", "scan_decoder_")}
    state["arrays"] = {"mean_": model.mean_, "latent_kl_": model.latent_kl_}
    pickled = tmp / "model.pt"
    pickle_save_s = _best(lambda: torch.save(state, pickled))
    from bitbox.clinical.eeg_factors.model import _build, _build_scan

    def old_load() -> None:  # Bitbox's earlier EegFactorModel.load: unpickle, then rebuild the networks
        loaded = torch.load(pickled, weights_only=False)
        encoder, decoder = _build(model.n_inputs_, model.n_times_, int(model.latent_dim))
        n_labels = sum(len(v) for v in model.label_values_.values())
        scan_encoder, scan_decoder = _build_scan(n_labels, int(model.latent_dim))
        for net, name in ((encoder, "encoder_"), (decoder, "decoder_"), (scan_encoder, "scan_encoder_"),
                          (scan_decoder, "scan_decoder_")):
            net.load_state_dict(loaded[name])

    pickle_load_s = _best(old_load)
    size = (folder / "model.safetensors").stat().st_size / 1e6
    print(f"EEG factor model ({size:.1f} MB of arrays):")
    print(f"  save {save_s * 1e3:.1f} ms vs torch.save {pickle_save_s * 1e3:.1f} ms "
          f"({save_s / pickle_save_s:.2f}x)")
    print(f"  load {load_s * 1e3:.1f} ms (format, version, SHA-256, rebuild) vs the pickle load (torch.load, "
          f"rebuild) {pickle_load_s * 1e3:.1f} ms: {load_s / pickle_load_s:.2f}x (target <= 3x)")


def hba_pipeline() -> None:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from bitbox.clinical.hba.baseline import LinearPipeline

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 200))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = np.array(["anger", "joy", "sadness", "neutral"])[rng.integers(0, 4, 2000)]
    sk = Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                   ("scale", StandardScaler()),
                   ("model", LogisticRegression(max_iter=2000, class_weight="balanced"))]).fit(X, y)
    ours = LinearPipeline.from_sklearn(sk)
    test = rng.normal(size=(20000, 200))
    test[rng.random(test.shape) < 0.1] = np.nan
    sk_s = _best(lambda: sk.predict(test))
    ours_s = _best(lambda: ours.predict(test))
    same = np.array_equal(sk.predict(test), ours.predict(test))
    print(f"HBA baseline, 20,000 samples x 200 features, 4 classes: arrays {ours_s * 1e3:.1f} ms vs "
          f"scikit-learn {sk_s * 1e3:.1f} ms ({ours_s / sk_s:.2f}x, target <= 2x); identical predictions: {same}")


def confinement(tmp: Path) -> None:
    from bitbox.fileio import confined, safe_name

    out = tmp / "out"
    (out / "rec").mkdir(parents=True)
    n = 2000
    started = time.perf_counter()
    for i in range(n):
        confined(out, out / "rec" / f"face_{i}.parquet")
    per_check = (time.perf_counter() - started) / n
    names = [f"../sub-{i:04d}/ses 1\x00run.{i}" for i in range(n)]
    started = time.perf_counter()
    for name in names:
        safe_name(name)
    per_name = (time.perf_counter() - started) / n
    print(f"confined(): {per_check * 1e6:.0f} us per check (target < 1000 us); safe_name(): {per_name * 1e6:.1f} us")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bitbox-bench-") as tmp:
        eeg_model(Path(tmp))
        hba_pipeline()
        confinement(Path(tmp))


if __name__ == "__main__":
    main()
