"""beta-VAE + SCAN EEG factors on a simulated cohort with known generative factors."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import bitbox
from bitbox.cli import main as cli
from bitbox.clinical.eeg_factors import (EegFactorModel, active_dims, read_epochs_dir, simulate_cohort,
                                         write_epochs_dir)
from bitbox.clinical.eeg_factors.evaluate import erp_features, latent_factor_correlations


@pytest.fixture(scope="module")
def cohort():
    data = simulate_cohort(n_subjects=60, n_trials=40, seed=0)
    # A label unrelated to the ERPs (balanced, random): it must mark no latent.
    data.labels["noise"] = np.random.default_rng(19).permutation(np.repeat(["a", "b"], 30))
    return data


@pytest.fixture(scope="module")
def fitted(cohort):
    return EegFactorModel().fit(cohort)  # the defaults, as users get them


def test_each_generative_factor_lives_in_one_latent_dimension(cohort, fitted):
    z = fitted.encode(cohort.averages())
    best = {}
    for factor, values in cohort.truth["factors"].items():
        r2 = [np.corrcoef(z[:, d], values)[0, 1] ** 2 for d in range(z.shape[1])]
        best[factor] = (int(np.argmax(r2)), max(r2))
    print("best single latent per factor (dim, R^2):", best)
    assert all(r2 >= 0.8 for _, r2 in best.values()), best
    assert len({dim for dim, _ in best.values()}) == 3  # three different dimensions
    assert len(active_dims(fitted)) <= 6  # the rest collapse to the prior


def test_scan_classifies(cohort, fitted):
    predicted = fitted.predict(cohort.averages())
    for label in ("group", "age_group"):
        assert (predicted[label].to_numpy() == cohort.labels[label].to_numpy()).mean() > 0.8


def assert_markers_follow_the_factors(markers: dict, correlations: pd.DataFrame) -> None:
    """group (P3 amplitude) and age_group (P3 latency) mark their factor's latent first, both values; noise none."""
    for label, factor in (("group", "p3_amplitude_uv"), ("age_group", "p3_latency_ms")):
        best = int(correlations.loc[factor].abs().idxmax())
        for value, dims in markers[label].items():
            assert dims and dims[0] == best and len(dims) <= 2, (label, value, dims, best)
    assert markers["noise"] == {"a": [], "b": []}, markers["noise"]


def test_markers_name_the_latent_of_the_factor_each_label_changes(cohort, fitted):
    correlations = latent_factor_correlations(fitted, cohort)
    print("r(latent, factor):\n", correlations.round(2).to_string())
    print("markers:", fitted.markers_)
    assert correlations.loc["p3_amplitude_uv"].abs().max() > 0.8  # the factor has a latent of its own
    assert_markers_follow_the_factors(fitted.markers_, correlations)
    table = fitted.marker_table()
    print(table.pivot_table(index=["label", "value"], columns="dim", values="separation").round(2))
    assert (table["threshold"] == 1.0).all()  # 30 vs 30 subjects: the noise bound (about 0.73) is below marker_shift
    assert table.loc[table.label == "noise", "separation"].max() < 1.0


def test_scan_is_queried_only_with_label_vectors_seen_in_training(cohort, fitted):
    seen = {tuple(row) for row in fitted._label_matrix(cohort.labels)}
    queried = []
    encoder = fitted.scan_encoder_

    def recording(y):
        queried.extend(tuple(row) for row in y.numpy())
        return encoder(y)

    fitted.scan_encoder_ = recording
    try:
        fitted._set_markers(cohort.labels)
    finally:
        fitted.scan_encoder_ = encoder
    assert queried and set(queried) <= seen and len(set(queried)) == len(seen) == 8


class _StubScan:
    """SCAN posteriors by hand: latent 0 = 0.75 * (L=a) - 0.75 * (L=b), latent 1 = 2 * (M=x) - 2 * (M=y), SD 1."""

    def __call__(self, y):
        import torch

        mu = torch.stack([0.75 * (y[:, 0] - y[:, 1]), 2.0 * (y[:, 2] - y[:, 3])], dim=1)
        return torch.cat([mu, torch.zeros_like(mu)], dim=1)


@pytest.mark.parametrize("per_cell, expected_l, threshold", [(10, [0], 1.0), (2, [], 2.2414 / np.sqrt(2))])
def test_marker_rule_by_hand(per_cell, expected_l, threshold):
    model = EegFactorModel(latent_dim=2)
    model.label_values_ = {"L": ["a", "b"], "M": ["x", "y"]}
    model.scan_encoder_ = _StubScan()
    cells = [(l, m) for l in "ab" for m in "xy" for _ in range(per_cell)]
    model._set_markers(pd.DataFrame(cells, columns=["L", "M"]))
    # d' = |0.75 - (-0.75)| / sqrt((1 + 1) / 2) = 1.5 for L on latent 0; 4 for M on latent 1; 0 elsewhere.
    # Weights 1 / (1/n + 1/n) = n/2 per context, two contexts: noise bound z(0.05 / 4) / sqrt(n) = 2.2414 / sqrt(n),
    # 0.71 for n = 10 (below marker_shift = 1) and 1.58 for n = 2 (1.5 is then not enough).
    effect = model.marker_effects_["L"]["a"]
    assert effect["separation"] == pytest.approx([1.5, 0.0]) and effect["n_contexts"] == 2
    assert effect["threshold"] == pytest.approx(threshold, abs=1e-4)
    assert model.markers_ == {"L": {"a": expected_l, "b": expected_l}, "M": {"x": [1], "y": [1]}}
    assert model.marker_effects_["M"]["y"]["separation"] == pytest.approx([0.0, 4.0])


def test_a_value_confounded_with_another_label_marks_nothing_and_says_why(caplog):
    model = EegFactorModel(latent_dim=2)
    model.label_values_ = {"L": ["a", "b"], "M": ["x", "y"]}
    model.scan_encoder_ = _StubScan()
    model._set_markers(pd.DataFrame([("a", "x")] * 5 + [("b", "y")] * 5, columns=["L", "M"]))
    assert model.markers_ == {"L": {"a": [], "b": []}, "M": {"x": [], "y": []}}
    assert "L=a never shares the other labels' values with another value of L" in caplog.text


def test_denoising_brings_small_averages_closer_to_the_true_erp(cohort, fitted):
    rng = np.random.default_rng(5)
    small, owner = cohort.subset_averages(5, 4, rng)
    truth = cohort.truth["erps"].reshape(len(cohort), cohort.n_inputs, -1)
    raw = [np.corrcoef(x.ravel(), truth[s].ravel())[0, 1] for x, s in zip(small, owner)]
    clean = [np.corrcoef(x.ravel(), truth[s].ravel())[0, 1] for x, s in zip(fitted.denoise(small), owner)]
    assert np.mean(clean) > np.mean(raw) + 0.05, (np.mean(raw), np.mean(clean))


def test_relabelling_retrains_only_scan_and_save_load_round_trips(cohort, fitted, tmp_path):
    import torch

    before = {k: v.clone() for k, v in fitted.encoder_.state_dict().items()}
    relabelled = cohort.subset(range(len(cohort)))
    relabelled.labels = pd.DataFrame({"late_p3": np.where(cohort.truth["factors"]["p3_latency_ms"] > 360, "yes", "no")},
                                     index=cohort.labels.index)
    fitted.fit_scan(relabelled)
    assert all(torch.equal(before[k], v) for k, v in fitted.encoder_.state_dict().items())
    predicted = fitted.predict(cohort.averages())["late_p3"].to_numpy()
    assert (predicted == relabelled.labels["late_p3"].to_numpy()).mean() > 0.8
    latency = int(latent_factor_correlations(fitted, cohort).loc["p3_latency_ms"].abs().idxmax())
    assert fitted.markers_["late_p3"]["yes"][:1] == [latency]  # one label: one context, all subjects
    fitted.save(tmp_path / "model")
    loaded = EegFactorModel.load(tmp_path / "model")
    np.testing.assert_allclose(loaded.encode(cohort.averages()[:5]), fitted.encode(cohort.averages()[:5]), atol=1e-5)
    assert loaded.markers_ == fitted.markers_
    pd.testing.assert_frame_equal(loaded.marker_table(), fitted.marker_table())
    meta = json.loads((tmp_path / "model" / "model.json").read_text())
    assert meta["parameters"]["beta"] == fitted.beta and "torch" in meta["package_versions"]
    fitted.fit_scan(cohort)  # back to the cohort's labels for the other tests


def test_a_model_saved_with_the_old_marker_rule_still_loads_and_says_so(fitted, tmp_path, caplog):
    folder = fitted.save(tmp_path / "old")
    meta = json.loads((folder / "model.json").read_text())
    for key in ("marker_shift", "marker_alpha"):
        del meta["parameters"][key]
    meta["parameters"]["marker_sd"] = 0.75
    del meta["fitted"]["marker_effects_"]
    meta["fitted"]["markers_"] = {label: {value: [3] for value in values}  # what the old rule gave
                                  for label, values in fitted.label_values_.items()}
    (folder / "model.json").write_text(json.dumps(meta))
    loaded = EegFactorModel.load(folder)
    assert loaded.marker_shift == 1.0 and loaded.markers_["group"]["control"] == [3]
    assert "run model.fit_scan(dataset) to recompute them" in caplog.text
    with pytest.raises(bitbox.BitboxError, match=r"run model.fit_scan\(dataset\) \(SCAN only, seconds\)"):
        loaded.marker_table()


def test_training_is_deterministic():
    small = simulate_cohort(n_subjects=12, n_trials=10, seed=3)
    a = EegFactorModel(n_epochs=3, scan_epochs=3).fit(small)
    b = EegFactorModel(n_epochs=3, scan_epochs=3).fit(small)
    np.testing.assert_array_equal(a.encode(small.averages()), b.encode(small.averages()))


def test_baseline_features_by_hand():
    times = np.arange(256) / 250 - 0.248
    erp = 5 * np.exp(-((times * 1000 - 360) ** 2) / (2 * 40.0 ** 2))
    table = erp_features(erp[None, None, :], times, ["target_Pz"])
    assert table.loc[0, "target_Pz_p3_peak_latency_ms"] == pytest.approx(360, abs=4)
    assert table.loc[0, "target_Pz_p3_mean_uv"] == pytest.approx(erp[(times >= 0.25) & (times <= 0.5)].mean())


def test_cli_fit_and_evaluate(tmp_path):
    small = simulate_cohort(n_subjects=24, n_trials=20, seed=2)
    folder = write_epochs_dir(small, tmp_path / "epochs")
    again = read_epochs_dir(folder, folder / "labels.csv")
    np.testing.assert_allclose(again.averages(), small.averages(), atol=1e-3)
    args = ["--epochs", str(folder), "--labels", str(folder / "labels.csv"), "--n-epochs", "5"]
    assert cli(["eegfactors", "fit", *args, "-o", str(tmp_path / "model")]) == 0
    assert EegFactorModel.load(tmp_path / "model").predict(small.averages()).shape == (24, 2)
    assert cli(["eegfactors", "evaluate", *args, "--folds", "3", "-o", str(tmp_path / "out")]) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    for model in ("scan", "baseline"):
        for label in ("group", "age_group"):
            scores = metrics[model][label]
            assert 0 <= scores["accuracy"] <= 1 and 0 <= scores["auc"] <= 1 and len(scores["accuracy_ci"]) == 2
    assert metrics["denoising"]["gain"] > 0
    report = (tmp_path / "out" / "report.html").read_text()
    assert "data:image/png;base64," in report and "Marker dimensions" in report and "ERP baseline" in report


def test_bad_labels_are_reported_clearly(tmp_path):
    small = simulate_cohort(n_subjects=6, n_trials=4, seed=4)
    folder = write_epochs_dir(small, tmp_path / "epochs")
    labels = pd.read_csv(folder / "labels.csv")
    labels.iloc[:-1].to_csv(tmp_path / "missing.csv", index=False)
    with pytest.raises(bitbox.RecordingError, match="has no row for subjects"):
        read_epochs_dir(folder, tmp_path / "missing.csv")
    labels.assign(group="control").to_csv(tmp_path / "single.csv", index=False)
    with pytest.raises(bitbox.RecordingError, match="single value"):
        read_epochs_dir(folder, tmp_path / "single.csv")


def test_epochs_from_raw_recordings_with_bitbox_preprocessing(tmp_path):
    from bitbox.processors.eeg_simulation import simulate_raw

    paths = []
    for i in range(2):
        path = tmp_path / f"sub-{i + 1}_raw.fif"
        simulate_raw(duration_s=80, n_events=20, seed=i).save(path, verbose="error")
        paths.append(path)
    assert cli(["eegfactors", "epochs", *map(str, paths), "-o", str(tmp_path / "epochs"), "--tmax", "0.82"]) == 0
    pd.DataFrame({"subject": ["sub-1_raw", "sub-2_raw"], "group": ["a", "b"]}).to_csv(tmp_path / "labels.csv",
                                                                                       index=False)
    data = read_epochs_dir(tmp_path / "epochs", tmp_path / "labels.csv", channels=["Fz", "Cz", "Pz"])
    assert data.conditions == ["standard", "target"] and data.channels == ["Fz", "Cz", "Pz"]
    erp = data.averages()[0]  # standard Fz Cz Pz, then target Fz Cz Pz
    t = data.times
    p3 = (t > 0.3) & (t < 0.4)
    assert erp[5, p3].mean() > erp[2, p3].mean() + 3  # the simulated target P3 at Pz (10 vs 3 uV)


def test_labels_may_name_subjects_by_the_file_stem(tmp_path):
    small = simulate_cohort(n_subjects=6, n_trials=4, seed=4)
    folder = write_epochs_dir(small, tmp_path / "epochs")
    labels = pd.read_csv(folder / "labels.csv")
    stems = labels.assign(subject=[(folder / f"{s}-epo.fif").stem for s in labels["subject"]])
    assert stems["subject"].iloc[0] == "sub-001-epo"  # what Path.stem gives for sub-001-epo.fif
    stems.to_csv(tmp_path / "stems.csv", index=False)
    data = read_epochs_dir(folder, tmp_path / "stems.csv")
    assert data.subjects == list(labels["subject"])
    assert list(data.labels["group"]) == list(labels["group"])
    pd.concat([labels, stems.iloc[:1]]).to_csv(tmp_path / "twice.csv", index=False)
    with pytest.raises(bitbox.RecordingError, match=r"lists subjects twice: \['sub-001'\]"):
        read_epochs_dir(folder, tmp_path / "twice.csv")
