"""Saved models cannot run code (issue 18, part 2): arrays + JSON checked against their SHA-256.

Every attack file here is a real pickle whose loading would create a marker file (the
``_Evil`` class); each test checks that Bitbox refuses it with its message, that the marker
does not exist, and (control) that opening the same file with pickle does create the marker,
so a test that passes is not a test of a harmless file.
"""
from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from bitbox.cli import main
from bitbox.modelfiles import ModelFileError, load_model, read_arrays, save_model, sha256_of


class _Evil:
    """Unpickling this creates ``marker`` (what an attacker's ``os.system`` call would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = Path(marker)

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _evil_pickle(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps({"model": _Evil(marker)}))
    return path


def _control(load, path: Path, marker: Path) -> None:
    """The file is dangerous: opening it with the unsafe loader does create the marker."""
    assert not marker.exists()
    try:
        load(path)
    except Exception:  # the marker is made while unpickling, whatever the loader does next
        pass
    assert marker.exists(), "the crafted file is harmless: this test would prove nothing"


def _flip_byte(path: Path, offset: int = -3) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _reseal(folder: Path, manifest: str, name: str) -> None:
    """What an attacker who controls the whole folder does: record the swapped file's SHA-256."""
    meta = json.loads((folder / manifest).read_text())
    meta["files"][name]["sha256"] = sha256_of(folder / name)
    (folder / manifest).write_text(json.dumps(meta))


# ---------------------------------------------------------------------------- the generic helpers
ARRAYS = {"w": np.arange(12, dtype=np.float32).reshape(3, 4) / 7, "b": np.array([1.5e-300, -0.0, np.pi]),
          "n": np.array([3, -2], dtype=np.int64), "flag": np.array([True, False])}


def _save(folder: Path, suffix: str) -> Path:
    return save_model(folder, fmt="test-model", version=3, arrays={f"a{suffix}": ARRAYS},
                      metadata={"labels": ["x", "y"]})


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_arrays_round_trip_exactly_with_their_manifest(tmp_path, suffix):
    folder = _save(tmp_path / "m", suffix)
    meta = json.loads((folder / "model.json").read_text())
    assert meta["format"] == "test-model" and meta["format_version"] == 3 and meta["labels"] == ["x", "y"]
    assert meta["files"][f"a{suffix}"] == {"sha256": sha256_of(folder / f"a{suffix}"),
                                           "bytes": (folder / f"a{suffix}").stat().st_size}
    assert "numpy" in meta["package_versions"]
    loaded, arrays = load_model(folder, fmt="test-model", versions=(3,), what="a test model", remedy="Retrain")
    assert loaded == meta
    for name, value in ARRAYS.items():
        got = arrays[f"a{suffix}"][name]
        assert got.dtype == value.dtype and got.tobytes() == value.tobytes() and got.shape == value.shape
    assert sorted(p.name for p in folder.iterdir()) == [f"a{suffix}", "model.json"]  # no temporary file left


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_one_changed_byte_is_a_sha256_error(tmp_path, suffix):
    folder = _save(tmp_path / "m", suffix)
    _flip_byte(folder / f"a{suffix}")
    with pytest.raises(ModelFileError, match=rf"a\{suffix}: has SHA-256 [0-9a-f]{{16}}\.\.\., not the [0-9a-f]{{16}}"
                                             r"\.\.\. recorded when the model was saved: the file was changed or "
                                             r"replaced after saving \(do not use it\)\. Retrain"):
        load_model(folder, fmt="test-model", versions=(3,), what="a test model", remedy="Retrain")


def test_wrong_format_version_missing_file_and_missing_folder(tmp_path):
    folder = _save(tmp_path / "m", ".npz")
    kwargs = dict(fmt="test-model", what="a test model", remedy="Retrain")
    with pytest.raises(ModelFileError, match=r"model\.json: has format version 3; this Bitbox reads version 4"):
        load_model(folder, versions=(4,), **kwargs)
    with pytest.raises(ModelFileError, match=r"model\.json: is not a test model: format 'test-model', expected 'x'"):
        load_model(folder, versions=(3,), **{**kwargs, "fmt": "x"})
    (folder / "a.npz").unlink()
    with pytest.raises(ModelFileError, match=r"a\.npz: is missing \(the manifest lists it\)\. Retrain"):
        load_model(folder, versions=(3,), **kwargs)
    with pytest.raises(ModelFileError, match=r"nowhere: is not a folder \(expected a test model\)\. Retrain"):
        load_model(tmp_path / "nowhere", versions=(3,), **kwargs)
    meta = json.loads((folder / "model.json").read_text())
    meta["files"] = {"../outside.npz": {"sha256": "0" * 64}}
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match=r"names '\.\./outside\.npz', which lies outside the folder"):
        load_model(folder, versions=(3,), **kwargs)


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_a_pickle_under_an_array_name_with_a_matching_sha256_never_runs(tmp_path, suffix):
    folder = _save(tmp_path / "m", suffix)
    marker = tmp_path / "PWNED"
    _evil_pickle(folder / f"a{suffix}", marker)
    _reseal(folder, "model.json", f"a{suffix}")
    with pytest.raises(ModelFileError, match=rf"a\{suffix}: is not a valid {suffix[1:]} array file"):
        load_model(folder, fmt="test-model", versions=(3,), what="a test model", remedy="Retrain")
    assert not marker.exists()
    _control(lambda p: pickle.loads(p.read_bytes()), folder / f"a{suffix}", marker)


def test_object_arrays_are_not_saved(tmp_path):
    with pytest.raises(TypeError, match="only numeric and boolean arrays"):
        save_model(tmp_path / "m", fmt="t", version=1, arrays={"a.npz": {"s": np.array(["a", "b"], dtype=object)}},
                   metadata={})


# ---------------------------------------------------------------------------- EEG factors
@pytest.fixture(scope="module")
def eeg_model():
    from bitbox.clinical.eeg_factors import EegFactorModel, simulate_cohort

    cohort = simulate_cohort(n_subjects=12, n_trials=10, seed=3)
    return cohort, EegFactorModel(latent_dim=4, n_epochs=2, scan_epochs=2, augment_draws=3).fit(cohort)


def test_eeg_factor_model_round_trips_exactly_through_safetensors(eeg_model, tmp_path):
    from bitbox.clinical.eeg_factors import EegFactorModel

    cohort, model = eeg_model
    folder = model.save(tmp_path / "eeg", data_info={"epochs_dir": "/data/epochs", "labels": "/data/labels.csv"})
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "model.safetensors"]
    meta = json.loads((folder / "model.json").read_text())
    assert meta["format"] == "bitbox-eeg-factor-model" and meta["format_version"] == 2
    assert meta["files"]["model.safetensors"]["sha256"] == sha256_of(folder / "model.safetensors")
    loaded = EegFactorModel.load(folder)
    x = cohort.averages()
    assert np.array_equal(loaded.encode(x), model.encode(x))
    for label, proba in model.predict_proba(x).items():
        assert np.array_equal(loaded.predict_proba(x)[label].to_numpy(), proba.to_numpy())
    assert loaded.markers_ == model.markers_ and loaded.label_values_ == model.label_values_
    assert np.array_equal(loaded.mean_, model.mean_) and np.array_equal(loaded.latent_kl_, model.latent_kl_)
    _flip_byte(folder / "model.safetensors")
    with pytest.raises(ModelFileError, match=r"model\.safetensors: has SHA-256 .* changed or replaced after saving"):
        EegFactorModel.load(folder)


def test_a_crafted_torch_file_in_an_eeg_factor_folder_never_runs(eeg_model, tmp_path):
    import torch

    from bitbox.clinical.eeg_factors import EegFactorModel

    _, model = eeg_model
    folder = tmp_path / "old"
    model.save(folder, data_info={"epochs_dir": "/data/epochs", "labels": "/data/labels.csv"})
    # an old (format 1) folder: model.json beside a pickled model.pt, here a malicious one
    (folder / "model.safetensors").unlink()
    meta = json.loads((folder / "model.json").read_text())
    for key in ("format", "format_version", "files"):
        meta.pop(key)
    (folder / "model.json").write_text(json.dumps(meta))
    marker = tmp_path / "PWNED"
    torch.save({"encoder_": _Evil(marker)}, folder / "model.pt")
    with pytest.raises(ModelFileError) as info:
        EegFactorModel.load(folder)
    message = str(info.value)
    assert message.startswith(f"{folder}: holds model.pt: a pickle-based file, which can run any code when it is "
                              "opened, so Bitbox refuses to load it as an EEG factor model (it was not opened). "
                              "Train it again from the same data with this version: `bitbox eegfactors fit --epochs "
                              "/data/epochs --labels /data/labels.csv -o NEW_FOLDER --latent-dim 4 --beta 30.0 "
                              "--n-epochs 2 --seed 0"), message
    assert not marker.exists()
    _control(lambda p: torch.load(p, weights_only=False), folder / "model.pt", marker)


# ---------------------------------------------------------------------------- HBA descriptor baseline
def _samples(seed: int, n: int):
    from bitbox.clinical.hba import Sample

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        for dataset, classes in (("daicwoz", ("no", "yes")), ("cremad", ("angry", "happy", "sad")),
                                 ("mmsd", ("yes",))):
            label = classes[i % len(classes)]
            shift = classes.index(label) * 1.5
            feats = rng.normal(shift, 1.0, (15, 4))
            feats[rng.random(feats.shape) < 0.2] = np.nan
            out.append(Sample(index=len(out), id=f"{dataset}{seed}_{i}", problem="<audio>", answer=label,
                              dataset=dataset, ext_audio_feats=feats.tolist()))
    return out


@pytest.fixture(scope="module")
def hba_model(tmp_path_factory):
    from bitbox.clinical.hba import DescriptorBaseline

    cache = tmp_path_factory.mktemp("hba_cache")
    model = DescriptorBaseline(processors=[], text=False, ext_feats=True).fit(_samples(0, 24), cache,
                                                                             progress=False)
    return model, cache


def test_hba_baseline_predictions_are_identical_after_save_and_load(hba_model, tmp_path):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from bitbox.clinical.hba import DescriptorBaseline

    model, cache = hba_model
    test = _samples(1, 30)
    before = model.predict(test, cache, progress=False)
    folder = model.save(tmp_path / "hba", provenance={"data": {"/data/hba/train.jsonl": "0" * 64}})
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["format_version"] == 2 and config["datasets"]["mmsd"]["constant"] == "yes"
    loaded = DescriptorBaseline.load(folder)
    after = loaded.predict(test, cache, progress=False)
    assert after == before and len(before) == 90
    assert {before[s.id] for s in test if s.dataset == "mmsd"} == {"yes"}
    table, _ = model._table([s for s in test if s.dataset == "cremad"], cache, False)
    X = table.reindex(columns=model.columns_["cremad"]).to_numpy(dtype=float)
    assert np.array_equal(loaded.models_["cremad"].decision_function(X), model.models_["cremad"].decision_function(X))
    # the arrays predict exactly as the scikit-learn pipeline they come from
    train = [s for s in _samples(0, 24) if s.dataset == "cremad"]
    train_table, _ = model._table(train, cache, False)
    sk = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                       LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000))
    sk.fit(train_table[model.columns_["cremad"]].to_numpy(dtype=float), [s.answer for s in train])
    assert np.array_equal(sk.decision_function(X), loaded.models_["cremad"].decision_function(X))
    assert list(sk.predict(X)) == list(loaded.models_["cremad"].predict(X))
    assert np.mean([before[s.id] == s.answer for s in test if s.dataset != "mmsd"]) > 0.7


def _old_hba_folder(model, folder: Path, marker: Path) -> Path:
    """A format-1 folder: config.json beside a pickled model.joblib (here a malicious one)."""
    import joblib

    model.save(folder, provenance={"data": {"/data/hba/train.jsonl": "0" * 64}})
    (folder / "model.safetensors").unlink()
    config = json.loads((folder / "config.json").read_text())
    for key in ("format_version", "files"):
        config.pop(key)
    (folder / "config.json").write_text(json.dumps(config))
    joblib.dump({"models": _Evil(marker)}, folder / "model.joblib")
    return folder


def test_a_crafted_joblib_in_an_hba_folder_never_runs(hba_model, tmp_path, capsys):
    import joblib

    from bitbox.clinical.hba import DescriptorBaseline

    model, _ = hba_model
    marker = tmp_path / "PWNED"
    folder = _old_hba_folder(model, tmp_path / "old", marker)
    expected = (f"{folder}: holds model.joblib: a pickle-based file, which can run any code when it is opened, so "
                "Bitbox refuses to load it as an HBA baseline model (it was not opened). Train it again with this "
                "version from your own copy of the data (the same data and parameters give the same classifiers; "
                "the descriptors are cached beside the new folder, never taken from the old folder, whose contents "
                "its sender chose): `bitbox hba baseline train --data /data/hba/train.jsonl -o NEW_FOLDER "
                "--processors '' --pooling mean_std --C 1.0 --no-text --ext-feats`")
    with pytest.raises(ModelFileError) as info:
        DescriptorBaseline.load(folder)
    assert str(info.value) == expected
    assert not marker.exists()
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"problem": "p", "answer": "yes", "dataset": "daicwoz"}) + "\n")
    code = main(["hba", "baseline", "predict", "--data", str(data), "--model", str(folder), "-o",
                 str(tmp_path / "p.jsonl"), "-q"])
    assert code == 2 and expected in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "p.jsonl").exists()
    _control(joblib.load, folder / "model.joblib", marker)


def test_hba_model_with_tampered_arrays_is_refused(hba_model, tmp_path):
    from bitbox.clinical.hba import DescriptorBaseline

    model, _ = hba_model
    folder = model.save(tmp_path / "hba")
    _flip_byte(folder / "model.safetensors")
    with pytest.raises(ModelFileError, match=r"model\.safetensors: has SHA-256 .* changed or replaced after saving"):
        DescriptorBaseline.load(folder)


# ---------------------------------------------------------------------------- span model
@pytest.fixture()
def span_folder(tmp_path):
    from bitbox.processors.span_model import default_span_model_path

    return Path(shutil.copytree(default_span_model_path(), tmp_path / "span"))


def test_the_shipped_span_model_records_its_checksum():
    from bitbox.processors.span_model import default_span_model_path

    config = json.loads((default_span_model_path() / "config.json").read_text())
    assert config["format_version"] == 2
    assert config["files"]["head.npz"]["sha256"] == sha256_of(default_span_model_path() / "head.npz")


def test_a_pickle_disguised_as_the_span_head_never_runs(span_folder, tmp_path):
    from bitbox.processors.span_model import load_span_model

    marker = tmp_path / "PWNED"
    _evil_pickle(span_folder / "head.npz", marker)
    with pytest.raises(ModelFileError, match=r"head\.npz: has SHA-256 .* recorded when the model was saved"):
        load_span_model(span_folder)
    _reseal(span_folder, "config.json", "head.npz")
    with pytest.raises(ModelFileError, match=r"head\.npz: is not a valid npz array file \(ValueError: Cannot load "
                                             r"file containing pickled data when allow_pickle=False\)"):
        load_span_model(span_folder)
    assert not marker.exists()
    _control(lambda p: pickle.loads(p.read_bytes()), span_folder / "head.npz", marker)


def test_a_pickled_encoder_in_a_span_model_never_runs(span_folder, tmp_path):
    import torch

    from bitbox.processors.span_model import load_span_model

    config = json.loads((span_folder / "config.json").read_text())
    config["params"]["encoder"] = "encoder"
    (span_folder / "config.json").write_text(json.dumps(config))
    (span_folder / "encoder").mkdir()
    marker = tmp_path / "PWNED"
    torch.save({"weight": _Evil(marker)}, span_folder / "encoder" / "pytorch_model.bin")
    with pytest.raises(ModelFileError, match=r"encoder: holds pytorch_model\.bin: a pickle-based file, which can run "
                                             r"any code when it is opened, so Bitbox refuses to load it as a span "
                                             r"model's encoder \(it was not opened\)"):
        load_span_model(span_folder)
    (span_folder / "encoder" / "pytorch_model.bin").rename(span_folder / "encoder" / "weights.dat")
    with pytest.raises(ModelFileError, match=r"encoder: holds no model\.safetensors"):
        load_span_model(span_folder)
    assert not marker.exists()
    _control(lambda p: torch.load(p, weights_only=False), span_folder / "encoder" / "weights.dat", marker)


def test_a_user_encoder_folder_without_safetensors_is_refused_unopened(tmp_path):
    """A Hugging Face folder given by path (``--embedding-model DIR``) with pickled weights only."""
    import torch

    from bitbox.errors import ParameterError
    from bitbox.processors.text.encoder import default_embedding_model, load_encoder

    folder = tmp_path / "encoder"
    shutil.copytree(default_embedding_model(), folder)
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "PWNED"
    torch.save({"weight": _Evil(marker)}, folder / "pytorch_model.bin")
    with pytest.raises(ParameterError, match=r"holds pickled weights and no model\.safetensors: Bitbox loads encoder weights only as "
                                             r"safetensors"):
        load_encoder(folder)
    assert not marker.exists()


def test_an_old_span_model_is_upgraded_only_on_request(span_folder, capsys):
    from bitbox.processors.span_model import load_span_model

    config = json.loads((span_folder / "config.json").read_text())
    config["format_version"] = 1
    config.pop("files")
    (span_folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match=rf"config\.json: is a span model saved by an older Bitbox, without the "
                                             rf"SHA-256 of its files\. If you trained it \(or trust who did\), record "
                                             rf"them once with `bitbox narratives upgrade-model {span_folder}`"):
        load_span_model(span_folder)
    assert main(["narratives", "upgrade-model", str(span_folder)]) == 0
    text = "I walked to the shop."
    assert load_span_model(span_folder).predict([text])[0].spans == load_span_model().predict([text])[0].spans


# ---------------------------------------------------------------------------- embedding caches
def test_a_pickled_embedding_cache_file_is_recomputed_not_run(tmp_path, monkeypatch):
    import hashlib

    import bitbox.processors.text.encoder as text_encoder
    from bitbox.clinical.features import cached_embeddings

    monkeypatch.setattr(text_encoder, "embed_sentences", lambda sentences, model=None: np.ones((len(sentences), 3)))
    digest = hashlib.sha256("packaged\0hello".encode()).hexdigest()
    marker = tmp_path / "PWNED"
    cache = tmp_path / "emb"
    cache.mkdir()
    np.save(cache / f"{digest}.npy", np.array([_Evil(marker)], dtype=object), allow_pickle=True)
    assert np.array_equal(cached_embeddings(cache, {"a": "hello"}, None)["a"], np.ones(3))
    assert not marker.exists()
    assert np.array_equal(np.load(cache / f"{digest}.npy", allow_pickle=False), np.ones(3))  # rewritten
    _evil_pickle(tmp_path / "control.pkl", marker)
    _control(lambda p: pickle.loads(p.read_bytes()), tmp_path / "control.pkl", marker)


def test_read_arrays_refuses_other_suffixes(tmp_path):
    (tmp_path / "w.pt").write_bytes(b"x")
    with pytest.raises(ModelFileError, match=r"\.pt is not an array format Bitbox reads"):
        read_arrays(tmp_path / "w.pt")


def test_retrain_commands_quote_what_an_old_folder_says(hba_model, tmp_path):
    """The command in the refusal comes from the untrusted folder's JSON: every value is shell-quoted."""
    from bitbox.clinical.hba import DescriptorBaseline

    model, _ = hba_model
    marker = tmp_path / "PWNED"
    folder = _old_hba_folder(model, tmp_path / "old", marker)
    config = json.loads((folder / "config.json").read_text())
    config["params"]["pooling"] = f"mean; touch {marker} #"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError) as info:
        DescriptorBaseline.load(folder)
    assert f"--pooling 'mean; touch {marker} #' " in str(info.value)


def test_an_eeg_model_json_sets_only_the_fitted_attributes_save_writes(eeg_model, tmp_path):
    from bitbox.clinical.eeg_factors import EegFactorModel
    from bitbox.errors import BitboxError

    _, model = eeg_model
    folder = model.save(tmp_path / "eeg")
    meta = json.loads((folder / "model.json").read_text())
    meta["fitted"]["predict"] = "not a method"
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(BitboxError, match=r"do not describe one EEG factor model \(KeyError: .*unknown fitted "
                                          r"attribute\(s\) \['predict'\]"):
        EegFactorModel.load(folder)


def test_the_hba_feature_cache_is_never_inside_the_model_folder():
    from bitbox.clinical.hba.cli import _default_cache

    assert _default_cache("/data/hba_model") == Path("/data/hba_model-features")
    assert _default_cache("/data/hba_pred.jsonl") == Path("/data/hba_pred-features")
