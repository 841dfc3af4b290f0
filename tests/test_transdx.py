"""Transdiagnostic speech and text classification (bitbox.clinical.transdiagnostic) and voice_windows."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from bitbox.cli import main
from bitbox.clinical.transdiagnostic import (Features, ManifestError, MLPHead, classification_scores, evaluate,
                                             extract_features, grouped_cv_splits, paper_split, read_manifest, tasks)
from bitbox.processors.voice_windows import VoiceWindowsProcessor, mfcc, window_starts
from bitbox.testing import check_processor
from tests.conftest import _need_espeak, render_in_chromium

SAMPLE = "examples/data/spoken_story.flac"


# ---------------------------------------------------------------------------- voice_windows
def test_voice_windows_conformance_and_window_grid():
    result = check_processor(VoiceWindowsProcessor, SAMPLE, egemaps=False)
    duration = result.summary["duration_s"]
    ts = result.timeseries
    assert len(ts) == len(window_starts(duration, 5.0, 1.0)) == int(np.floor(duration - 5.0)) + 1
    assert np.allclose(np.diff(ts["time_s"]), 1.0) and np.allclose(ts["end_s"] - ts["time_s"], 5.0)
    assert [c for c in ts.columns if c.startswith("mfcc_")] == [f"mfcc_{k}_mean" for k in range(1, 41)]
    assert list(window_starts(3.0, 5.0, 1.0)) == [0.0]  # a short recording is one window


def test_voice_windows_egemaps_has_the_88_functionals():
    result = VoiceWindowsProcessor(window_s=5.0, stride_s=4.0).process(SAMPLE)
    assert len([c for c in result.timeseries.columns if c.startswith("egemaps_")]) == 88
    assert np.isfinite(result.timeseries.drop(columns=["time_s"]).to_numpy(float)).all()


def test_mfcc_gain_moves_c0_only():
    """+6 dB of gain adds 20 log10(2) dB to every log mel band: with an orthonormal DCT only c0
    changes, by 20 log10(2) sqrt(n_mels)."""
    rng = np.random.default_rng(0)
    samples = rng.standard_normal(16000).astype(np.float64) * 0.05  # no band below the log floor
    a = mfcc(samples, 16000, n_mfcc=40, n_mels=128)
    b = mfcc(samples * 2, 16000, n_mfcc=40, n_mels=128)
    assert np.allclose(b[0] - a[0], 20 * np.log10(2) * np.sqrt(128), atol=1e-6)
    assert np.abs(b[1:] - a[1:]).max() < 1e-6
    tone = np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000)
    low = np.sin(2 * np.pi * 200 * np.arange(16000) / 16000)
    assert np.abs(mfcc(tone, 16000)[1:].mean(axis=1) - mfcc(low, 16000)[1:].mean(axis=1)).max() > 1.0


# ---------------------------------------------------------------------------- manifest
def _wav(path, seconds=1.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(16000 * seconds), dtype=np.float32), 16000)
    return path


def _manifest(tmp_path, rows, header="participant_id,diagnosis,recording"):
    for row in rows:
        _wav(tmp_path / row.split(",")[2])
    path = tmp_path / "manifest.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_manifest_reads_paths_text_and_participants(tmp_path):
    (tmp_path / "t.txt").write_text("hello there")
    path = _manifest(tmp_path, ["p1,control,a/1.wav,t.txt,F", "p1,control,a/2.wav,I said something,F",
                                "p2,MDD,b/1.wav,,M", "p1,control,a/3.wav,I wrote it in notes.txt,F"],
                     header="participant_id,diagnosis,recording,transcript,gender")
    cohort = read_manifest(path)
    rec = cohort.recordings
    assert rec["recording"].tolist() == [str((tmp_path / p).resolve())
                                         for p in ("a/1.wav", "a/2.wav", "b/1.wav", "a/3.wav")]
    assert rec["transcript_path"].tolist() == [str((tmp_path / "t.txt").resolve()), None, None, None]
    assert rec["transcript_text"].tolist() == [None, "I said something", None, "I wrote it in notes.txt"]
    assert cohort.participants.loc["p1", "has_text"] and not cohort.participants.loc["p2", "has_text"]
    assert cohort.classes == ["control", "MDD"] and cohort.has("gender") and not cohort.has("matched_control_id")
    assert "2 participants (control 1, MDD 1), 4 recordings" in repr(cohort)


@pytest.mark.parametrize("rows, header, message", [
    (["p1,control,a.wav", "p1,MDD,b.wav"], None, r"participant 'p1' has more than one diagnosis.*lines 2, 3"),
    (["p1,control,a.wav", "p2,MDD,"], None, r"empty 'recording' on line\(s\) 3"),
    (["p1,HC,a.wav", "p2,MDD,b.wav"], None, r"control label 'control'.*\['HC', 'MDD'\]"),
    (["p1,control,a.wav", "p2,control,b.wav"], None, "only controls"),
    (["p1,control,a.wav", "p2,MDD,b.wav,p3"], "participant_id,diagnosis,recording,matched_control_id",
     "matched_control_id 'p3', which is not a participant with diagnosis 'control'"),
    (["p1,control,a.wav,missing.txt", "p2,MDD,b.wav,"], "participant_id,diagnosis,recording,transcript",
     r"transcript files that do not exist \(line\(s\) 2"),
])
def test_manifest_errors_say_what_and_where(tmp_path, rows, header, message):
    path = _manifest(tmp_path, [r for r in rows if r.split(",")[2]], header or "participant_id,diagnosis,recording")
    if any(not r.split(",")[2] for r in rows):
        path.write_text((header or "participant_id,diagnosis,recording") + "\n" + "\n".join(rows) + "\n")
    with pytest.raises(ManifestError, match=message):
        read_manifest(path)


def test_manifest_missing_recording_and_column(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("participant_id,diagnosis,recording\np1,control,nowhere.wav\n")
    with pytest.raises(ManifestError, match=r"do not exist \(line\(s\) 2; e.g. .*nowhere.wav\)"):
        read_manifest(path)
    path.write_text("participant,diagnosis,recording\n")
    with pytest.raises(ManifestError, match="no column 'participant_id'"):
        read_manifest(path)


# ---------------------------------------------------------------------------- protocol
def _cohort(tmp_path, n_per_dx=6, diagnoses=("MDD", "SCZ"), recordings=2):
    rows = []
    for dx in diagnoses:
        for i in range(n_per_dx):
            gender = "FM"[i % 2]
            for k in range(recordings):
                rows.append(f"{dx}{i},{dx},{dx}{i}_{k}.wav,some words,{dx},{gender},hc_{dx}{i}")
                rows.append(f"hc_{dx}{i},control,hc_{dx}{i}_{k}.wav,some words,{dx},{gender},")
    return read_manifest(_manifest(tmp_path, rows, "participant_id,diagnosis,recording,transcript,study,gender,"
                                                   "matched_control_id"))


def test_paper_split_keeps_matched_pairs_and_participants_apart(tmp_path):
    cohort = _cohort(tmp_path)
    split = paper_split(cohort, n_per_cell=1, seed=42)
    parts = [set(split.train), set(split.validation), set(split.test)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert set.union(*parts) == set(cohort.participants.index)
    p = cohort.participants
    for name in ("test", "validation"):
        chosen = p.loc[list(getattr(split, name))]
        patients = chosen[chosen["diagnosis"] != "control"]
        # one patient per diagnosis x gender, each with its own matched control in the same set
        assert patients.groupby(["diagnosis", "gender"]).size().tolist() == [1, 1, 1, 1]
        assert set(patients["matched_control_id"]) == set(chosen.index[chosen["diagnosis"] == "control"])
    assert paper_split(cohort, n_per_cell=1, seed=42) == split  # seeded
    with pytest.raises(ManifestError, match="needs 6 MDD patients of gender 'F'"):
        paper_split(cohort, n_per_cell=3)


def test_grouped_cv_tests_every_participant_once(tmp_path):
    cohort = _cohort(tmp_path)
    splits = grouped_cv_splits(cohort, n_folds=3, seed=1)
    tested = [p for s in splits for p in s.test]
    assert sorted(tested) == sorted(cohort.participants.index)
    for s in splits:
        assert not (set(s.train) & set(s.test) or set(s.validation) & set(s.test) or set(s.train) & set(s.validation))
        assert len(s.validation) > 0
    with pytest.raises(ManifestError, match="at least 7 participants per class"):
        grouped_cv_splits(cohort, n_folds=7)


def test_tasks_use_the_study_controls(tmp_path):
    cohort = _cohort(tmp_path)
    found = {t.name: t for t in tasks(cohort)}
    assert list(found) == ["multiclass", "MDD_vs_control", "SCZ_vs_control"]
    mdd = found["MDD_vs_control"].labels
    assert set(mdd[mdd == "control"].index) == {f"hc_MDD{i}" for i in range(6)}
    shuffled = {t.name: t for t in tasks(cohort.shuffled(seed=0))}  # no study: all controls
    assert "all controls" in shuffled["MDD_vs_control"].controls


# ---------------------------------------------------------------------------- scores and models
def test_classification_scores_match_scikit_learn():
    from sklearn.metrics import f1_score, roc_auc_score

    rng = np.random.default_rng(3)
    classes = ["control", "A", "B"]
    y = rng.choice(classes, 60)
    proba = pd.DataFrame(rng.random((60, 3)), columns=classes)
    predicted = np.array(classes)[proba.to_numpy().argmax(axis=1)]
    s = classification_scores(y, proba, classes, n_boot=200)
    assert s["macro_f1"] == pytest.approx(f1_score(y, predicted, labels=classes, average="macro"))
    shares = proba[sorted(classes)].to_numpy()
    shares = shares / shares.sum(axis=1, keepdims=True)
    assert s["auc"] == pytest.approx(roc_auc_score(y, shares, multi_class="ovr", labels=sorted(classes)))
    assert np.asarray(s["confusion_matrix"]).sum() == 60 and s["labels"] == classes
    assert s["macro_f1_ci"][0] <= s["macro_f1"] <= s["macro_f1_ci"][1]
    yb = rng.choice(["control", "A"], 60)
    pb = pd.DataFrame(rng.random((60, 2)), columns=["control", "A"])
    b = classification_scores(yb, pb, ["control", "A"], positive="A", n_boot=200)
    assert b["auc"] == pytest.approx(roc_auc_score(yb == "A", pb["A"]))
    assert b["f1"] == pytest.approx(f1_score(yb, np.array(["control", "A"])[pb.to_numpy().argmax(axis=1)],
                                             pos_label="A"))


def test_mlp_head_is_a_scikit_learn_classifier():
    from sklearn.base import clone

    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 5))
    y = np.where(X[:, 0] + 0.3 * rng.standard_normal(120) > 0.8, "pos", "neg")  # imbalanced
    head = MLPHead(lr=1e-3, n_epochs=30, random_state=1)
    assert clone(head).get_params() == head.get_params() and not hasattr(head, "module_")
    proba = head.fit(X, y).predict_proba(X)
    assert list(head.classes_) == ["neg", "pos"] and np.allclose(proba.sum(axis=1), 1)
    assert np.mean(head.predict(X) == y) > 0.85
    assert np.allclose(MLPHead(lr=1e-3, n_epochs=30, random_state=1).fit(X, y).predict_proba(X), proba)


# ---------------------------------------------------------------------------- the demo cohort, end to end
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The espeak-ng cohort (5 patients per diagnosis + matched controls, 2 recordings each) and its features."""
    _need_espeak()
    from tools.transdx_cohort import make_cohort

    root = tmp_path_factory.mktemp("transdx")
    manifest = make_cohort(root / "cohort", patients=5, recordings=2, seed=0)
    cohort = read_manifest(manifest)
    features = extract_features(cohort, root / "out", stride_s=4.0, workers=2, progress=False)  # 4-s stride: faster
    return manifest, cohort, features, root / "out"


def test_demo_features_cover_every_recording(demo):
    _, cohort, features, _ = demo
    assert features.dropped.empty
    for name, table in features.tables.items():
        assert set(table["recording_key"]) == set(cohort.recordings["recording_key"]), name
    assert len(features.tables["egemaps"]) > len(cohort.recordings)  # several windows for the longer ones
    assert features.tables["egemaps"].shape[1] == 1 + 88 and features.tables["mfcc"].shape[1] == 1 + 40
    assert features.tables["embeddings"].shape[1] == 1 + 384


def test_bad_recordings_are_left_out_with_reasons(demo, tmp_path):
    """A silent file, audio under 3 s and a transcript under 5 words are left out; the rest go on."""
    _, cohort, _, _ = demo
    good = cohort.recordings["recording"].iloc[0]
    samples, sr = sf.read(good)
    sf.write(tmp_path / "short.flac", samples[: int(2.0 * sr)], sr)
    _wav(tmp_path / "silent.wav", seconds=4.0)
    (tmp_path / "m.csv").write_text(
        "participant_id,diagnosis,recording,transcript\n"
        f"p1,control,{good},We went to the market and bought fresh bread.\n"
        "p2,MDD,silent.wav,Yes.\n"
        "p3,MDD,short.flac,I stayed in bed most of the day again.\n")
    small = read_manifest(tmp_path / "m.csv")
    features = extract_features(small, tmp_path / "out", feature_sets=["speech", "descriptives"], progress=False)
    reasons = {(r.recording_key, r.modality): r.reason for r in features.dropped.itertuples()}
    assert set(reasons) == {("p2/silent", "voice"), ("p2/silent", "text"), ("p3/short", "voice")}
    assert "silent" in reasons["p2/silent", "voice"] and "silent.wav" in reasons["p2/silent", "voice"]
    assert reasons["p3/short", "voice"].startswith("audio shorter than 3 s (2.00 s)")
    assert reasons["p2/silent", "text"] == "transcript of fewer than 5 words (1)"
    assert features.tables["speech"]["recording_key"].tolist() == [small.recordings["recording_key"][0]]
    assert len(features.tables["descriptives"]) == 2


def test_real_group_difference_gives_high_macro_f1(demo):
    _, cohort, features, _ = demo
    result = evaluate(cohort, features, protocol="cv", models=["logreg"], n_folds=3, n_boot=300, progress=False)
    multi = result.metrics["multiclass"]  # (fusion/mean 0.81, tfidf 0.95, speech 0.80, egemaps 0.65; dummy 0.17)
    assert multi["fusion/mean"]["macro_f1"] > 0.75 and multi["tfidf/logreg"]["macro_f1"] > 0.9
    assert multi["fusion/mean"]["macro_f1_ci"][0] > multi["dummy"]["macro_f1"]
    voices = ("egemaps/logreg", "speech/logreg")  # the voices differ by group too (rate, pitch, pauses)
    assert max(multi[v]["macro_f1"] for v in voices) > 0.7
    assert all(multi[v]["macro_f1_ci"][0] > multi[v]["chance_macro_f1"] for v in voices)
    binary = [result.metrics[f"{dx}_vs_control"]["fusion/mean"]["macro_f1"] for dx in ("MDD", "SCZ", "ASD")]
    assert np.mean(binary) > 0.75, binary
    # Every participant is tested exactly once per task and model, in one fold.
    counts = result.predictions.groupby(["task", "model", "participant_id"]).size()
    assert (counts == 1).all()
    assert set(result.predictions.query("task == 'multiclass'")["participant_id"]) == set(cohort.participants.index)


@pytest.fixture(scope="module")
def null_demo(tmp_path_factory):
    """A cohort whose groups do not differ (same texts and voice settings): only each participant's own
    voice (espeak variant, pitch and rate) sets their recordings apart; 3 recordings each."""
    _need_espeak()
    from tools.transdx_cohort import make_cohort

    root = tmp_path_factory.mktemp("transdx_null")
    cohort = read_manifest(make_cohort(root / "cohort", patients=4, recordings=3, effect=False, seed=1))
    features = extract_features(cohort, root / "out", feature_sets=["mfcc", "speech", "descriptives", "tfidf"],
                                workers=2, progress=False)
    return cohort, features


def test_shuffled_labels_stay_at_chance_though_voices_are_distinctive(null_demo, tmp_path):
    """Labels permuted across participants: with participant-level splits nothing generalises, although each
    participant's voice is recognisable (a recording-level split, the leak, scores high on the same data)."""
    cohort, features = null_demo
    null = cohort.shuffled(seed=7)
    result = evaluate(null, features, protocol="auto", models=["logreg"], n_folds=3, n_boot=500, progress=False)
    assert result.protocol == "cv"  # no matched controls any more
    for s in result.splits["split"].unique():
        parts = result.splits[result.splits["split"] == s]
        assert parts["participant_id"].is_unique  # no participant in two parts of a split
    counts = result.predictions.groupby(["task", "model", "participant_id"]).size()
    assert (counts == 1).all()  # each participant tested once, in one fold
    multi = result.metrics["multiclass"]
    for name in ("speech/logreg", "mfcc/logreg", "tfidf/logreg", "fusion/max", "fusion/mean"):
        low, high = multi[name]["macro_f1_ci"]
        assert low <= multi[name]["chance_macro_f1"] <= high, (name, multi[name]["macro_f1"], (low, high))
        assert multi[name]["macro_f1"] < 0.5, name
    # The leak the protocol prevents: the same pipeline on the same labels, but split by recording, so that a
    # participant's other recordings are in the training set. Their voice gives their (random) label away.
    rec = null.recordings
    manifest = tmp_path / "by_recording.csv"
    pd.DataFrame({"participant_id": rec["recording_key"], "diagnosis": rec["diagnosis"],
                  "recording": rec["recording"]}).to_csv(manifest, index=False)
    by_recording = read_manifest(manifest)
    rename = dict(zip(rec["recording_key"], by_recording.recordings["recording_key"]))
    mfcc_table = features.tables["mfcc"].assign(recording_key=features.tables["mfcc"]["recording_key"].map(rename))
    leak = evaluate(by_recording, Features({"mfcc": mfcc_table}), models=["logreg"], n_folds=5, n_boot=10,
                    progress=False).metrics["multiclass"]["mfcc/logreg"]
    # (0.53-0.65 over shuffles 0-3 and 7, against 0.11-0.34 when split by participant)
    assert leak["macro_f1"] > 0.5 and leak["macro_f1"] > multi["mfcc/logreg"]["macro_f1"] + 0.2, (
        leak["macro_f1"], multi["mfcc/logreg"]["macro_f1"])


def test_cli_writes_metrics_and_report(demo, capsys, tmp_path):
    manifest, cohort, _, out = demo
    code = main(["transdx", "evaluate", str(manifest), "-o", str(out), "--n-per-cell", "1", "--n-iter", "2",
                 "--n-boot", "200", "--workers", "2", "--stride-s", "4", "--features", "egemaps,speech,tfidf", "-q",
                 "--mlp-augment", "0"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "the paper's test/validation selection" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"multiclass", "MDD_vs_control", "SCZ_vs_control", "ASD_vs_control"}
    for task, models in metrics.items():
        assert {"dummy", "fusion/max", "fusion/mean", "egemaps/xgboost", "tfidf/mlp", "speech/logreg"} <= set(models)
        for scores in models.values():
            assert {"macro_f1", "per_class_f1", "accuracy", "confusion_matrix"} <= set(scores)
        n = len(models["dummy"]["labels"])
        assert np.asarray(models["dummy"]["confusion_matrix"]).shape == (n, n)
    assert metrics["MDD_vs_control"]["dummy"]["f1"] == pytest.approx(2 / 3)  # all positive, as in the paper
    # The features computed by the fixture were reused through the batch machinery, not recomputed.
    for modality in ("voice", "text"):
        manifest = pd.read_csv(out / "features" / modality / "manifest.csv", keep_default_na=False)
        assert (manifest["status"] == "ok").all()
        assert (manifest["reused"] == manifest["processors"]).all()
    run = json.loads((out / "run.json").read_text())
    assert run["protocol"] == "paper" and len(run["manifest_sha256"]) == 64
    splits = pd.read_csv(out / "splits.csv")
    assert splits["participant_id"].is_unique and set(splits["part"]) == {"train", "validation", "test"}
    report = (out / "report.html").read_text()
    assert "Results laid out like the paper's table" in report and "baseline ensemble" in report
    assert len(re.findall(r"src='data:image/png;base64,", report)) == 2 * len(metrics)
    pixels = render_in_chromium(out / "report.html", tmp_path, height=4000)
    if pixels is None:
        pytest.skip("Chromium is not installed (make test installs Debian's chromium); the report was not rendered")
    # The embedded macro-F1 plots were decoded and drawn: voice (blue) and text (orange) bars are on screen.
    blue = np.all(np.abs(pixels - [59, 125, 216]) < 30, axis=-1).sum()
    orange = np.all(np.abs(pixels - [224, 123, 57]) < 30, axis=-1).sum()
    assert blue > 500 and orange > 500, (blue, orange)


def test_cli_reports_a_bad_manifest(tmp_path, capsys):
    path = tmp_path / "m.csv"
    path.write_text("participant_id,diagnosis\np1,control\n")
    assert main(["transdx", "evaluate", str(path), "-o", str(tmp_path / "out")]) == 2
    assert "no column 'recording'" in capsys.readouterr().err
    _wav(tmp_path / "a.wav")
    path.write_text("participant_id,diagnosis,recording\np1,control,a.wav\np2,MDD,a.wav\n")
    assert main(["transdx", "evaluate", str(path), "-o", str(tmp_path / "out")]) == 2
    assert "the same recording twice (line(s) 3" in capsys.readouterr().err
    _wav(tmp_path / "b.wav")
    path.write_text("participant_id,diagnosis,recording\np1,control,a.wav\np2,MDD,b.wav\n")
    assert main(["transdx", "evaluate", str(path), "-o", str(tmp_path / "out"), "--features", "voice"]) == 2
    assert "Unknown feature set(s) ['voice']; choose among" in capsys.readouterr().err
    assert main(["transdx", "evaluate", str(path), "-o", str(tmp_path / "out"), "--models", "svm"]) == 2
    assert "Unknown model(s) ['svm']" in capsys.readouterr().err


# ---------------------------------------------------------------------------- as the originals train them (issue 19)
def test_xgboost_search_draws_from_exactly_the_original_grid():
    """rbroc/multidiagnosis-text train_baselines.py lines 65-75, sampled as its RandomizedSearchCV does."""
    from bitbox.clinical.transdiagnostic.models import XGB_PARAM_DISTRIBUTIONS, candidate_params

    original = {"learning_rate": [.001, .01, .1, .5], "min_child_weight": [1, 3, 5, 10], "gamma": [0, .5, 1., 2.],
                "subsample": [.6, .8, 1.0], "colsample_bytree": [.25, .5, .75, 1.], "max_depth": [1, 3, 5],
                "reg_alpha": [0, .1, .1, 5.], "reg_lambda": [.1, 1., 5.], "n_estimators": [20, 100, 500]}
    assert XGB_PARAM_DISTRIBUTIONS == original
    draws = candidate_params("xgboost", text=False, n_iter=1000, random_state=0)
    assert len(draws) == 1000
    for draw in draws:
        assert set(draw) == {f"model__{k}" for k in original}  # gamma, reg_alpha, reg_lambda included
        assert all(draw[f"model__{k}"] in values for k, values in original.items())
    for key, values in original.items():  # every value is drawn, nothing else
        assert {d[f"model__{key}"] for d in draws} == set(values), key
    # Sampled from the 82 944-point grid: 0.1 is half of reg_alpha's list, so about half of the draws.
    assert 0.45 < np.mean([d["model__reg_alpha"] == 0.1 for d in draws]) < 0.55
    assert candidate_params("xgboost", text=False, n_iter=1000, random_state=0) == draws  # seeded
    assert candidate_params("xgboost", text=False, n_iter=1000, random_state=1) != draws
    text = candidate_params("xgboost", text=True, n_iter=2, random_state=0)  # each vocabulary gets the search
    assert [d["tfidf__max_features"] for d in text] == [100, 100, 1000, 1000, 10000, 10000]


def test_binary_selection_uses_the_diagnosis_f1_not_macro_f1():
    """Hand case: 2 controls, 4 patients. A = [c, c, M, M, c, c]: F1(M) = 4/6, F1(c) = 4/6, macro 0.667;
    B = all M: F1(M) = 8/10 = 0.8, F1(c) = 0, macro 0.4. Binary selection takes B, multiclass-style A."""
    from bitbox.clinical.transdiagnostic.evaluate import selection_score
    from bitbox.clinical.transdiagnostic.models import select_model

    classes = ["control", "MDD"]
    true = np.array(["control", "control", "MDD", "MDD", "MDD", "MDD"])

    def table(predicted):
        return pd.DataFrame([[1.0, 0.0] if p == "control" else [0.0, 1.0] for p in predicted], columns=classes)

    a = table(["control", "control", "MDD", "MDD", "control", "control"])
    b = table(["MDD"] * 6)
    assert selection_score(true, a, classes, "MDD") == pytest.approx(4 / 6)
    assert selection_score(true, b, classes, "MDD") == pytest.approx(0.8)
    assert selection_score(true, a, classes, None) == pytest.approx(4 / 6)
    assert selection_score(true, b, classes, None) == pytest.approx(0.4)
    # select_model keeps the candidate the score ranks first: here the score says B for C=0.1, A otherwise.
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 2)), np.array(["control", "MDD"] * 10)
    for positive, expected in (("MDD", 0.1), (None, 0.01)):
        def stub(pipeline, proba, positive=positive):
            chosen = b if pipeline.named_steps["model"].C == 0.1 else a
            return selection_score(true, chosen, classes, positive)

        _, _, params, value, _ = select_model("logreg", text=False, X_train=X, y_train=y, X_val=X, y_val=y,
                                              score=stub)
        assert params == {"model__C": expected}
        assert value == pytest.approx(0.8 if positive else 4 / 6)


def test_xgboost_refit_stops_early_on_a_case_that_overfits():
    """Labels that are noise: the validation log-loss rises after a few rounds, and the refit stops 5 rounds
    after its best (train_baselines.py lines 374-378: eval_set=validation, early_stopping_rounds=5)."""
    from xgboost import XGBClassifier

    from bitbox.clinical.transdiagnostic.models import _refit_early_stopping, select_model

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((160, 5)), rng.integers(0, 2, 160)
    head = XGBClassifier(tree_method="hist", n_jobs=1, n_estimators=200, learning_rate=0.5, max_depth=5,
                         verbosity=0)
    refit = _refit_early_stopping(head, X[:100], y[:100], X[100:], y[100:], np.array([0, 1]))
    assert refit.best_iteration < 200 - 5
    assert refit.get_booster().num_boosted_rounds() == refit.best_iteration + 1 + 5
    assert np.allclose(refit.predict_proba(X[100:]),
                       refit.predict_proba(X[100:], iteration_range=(0, refit.best_iteration + 1)))
    labels = np.where(y == 1, "MDD", "control")
    pipeline, classes, params, _, info = select_model(
        "xgboost", text=False, X_train=X[:100], y_train=labels[:100], X_val=X[100:], y_val=labels[100:],
        score=lambda _p, proba: float(proba[:, 1].mean()), n_iter=3)
    assert list(classes) == ["MDD", "control"] and info["n_candidates"] == 3
    assert info["best_iteration"] < info["n_estimators"] == params["model__n_estimators"]
    assert pipeline.named_steps["model"].early_stopping_rounds == 5


def test_mlp_keeps_the_best_validation_epoch():
    """Validation labels opposite to the training labels: the validation loss is lowest at epoch 1 and then
    rises as the head learns; the weights kept are epoch 1's, not the last (worse) epoch's."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 4))
    y = np.where(X[:, 0] > 0, "pos", "neg")
    flipped = np.where(y == "pos", "neg", "pos")
    head = MLPHead(hidden=16, lr=0.05, n_epochs=8, class_weight=None, random_state=0).fit(X, y, X_val=X,
                                                                                          y_val=flipped)
    losses = np.array(head.val_loss_)
    assert len(losses) == 8 and head.best_epoch_ == int(losses.argmin()) + 1 == 1
    assert losses[-1] > losses.min() + 0.5
    proba = head.predict_proba(X)
    kept = -np.mean(np.log(proba[np.arange(64), np.searchsorted(head.classes_, flipped)]))
    assert kept == pytest.approx(losses.min(), rel=1e-5)  # the model returned is the best epoch's
    last = MLPHead(hidden=16, lr=0.05, n_epochs=8, class_weight=None, random_state=0).fit(X, y)
    assert last.best_epoch_ == 8 and last.val_loss_ == []  # without validation: the last epoch


def test_augmentations_do_what_they_say():
    from bitbox.clinical.transdiagnostic import augment as aug

    sr = 16000
    rng = np.random.default_rng(1)
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(2 * sr) / sr)
    rms = lambda v: np.sqrt(np.mean(v ** 2))  # noqa: E731
    # Gain: exactly 20 log10 of the amplitude ratio.
    assert 20 * np.log10(rms(aug.apply_gain(tone, -7.5)) / rms(tone)) == pytest.approx(-7.5, abs=1e-9)
    # Added noise: the SNR asked for (white, pink, brown, violet).
    for f_decay in (0.0, 1.0, 2.0, -2.0):
        noise = aug.add_colored_noise(tone, sr, 12.0, f_decay, rng) - tone
        assert 20 * np.log10(rms(tone) / rms(noise)) == pytest.approx(12.0, abs=0.05), f_decay
    white, brown = aug.colored_noise(sr, sr, 0.0, rng), aug.colored_noise(sr, sr, 2.0, rng)
    low = lambda v: np.sum(np.abs(np.fft.rfft(v))[:800] ** 2) / np.sum(np.abs(np.fft.rfft(v)) ** 2)  # noqa: E731
    assert low(brown) > 0.9 > 0.2 > low(white)  # below 800 Hz: 10% of a white spectrum, most of a brown one
    # Room response: unit energy, RT60 long, -60 dB at its end; the convolution keeps the input's length.
    ir = aug.room_impulse_response(sr, 0.4, rng)
    assert len(ir) == int(0.4 * sr) and np.sum(ir ** 2) == pytest.approx(1.0)
    impulse = np.zeros(sr)
    impulse[0] = 1.0
    out = aug.apply_impulse_response(impulse, ir)
    assert len(out) == sr and np.allclose(out[:len(ir)], ir) and np.allclose(out[len(ir):], 0)
    noisy = rng.standard_normal(4 * sr)
    assert len(aug.apply_impulse_response(noisy, ir)) == len(noisy)
    assert np.sum(aug.apply_impulse_response(noisy, ir) ** 2) / np.sum(noisy ** 2) == pytest.approx(1.0, abs=0.1)
    # Splice-out: 8 segments, each even and under 400 ms; on a constant signal the Hann cross-fades sum to 1,
    # so the output is the constant, then sum(L) / 2 zeros.
    ones = np.ones(5 * sr)
    spliced, lengths = aug.splice_out(ones, sr, rng)
    removed = sum(lengths) // 2
    assert len(lengths) == 8 and all(L % 2 == 0 and 0 <= L <= 6400 for L in lengths)
    assert len(spliced) == len(ones) and np.count_nonzero(spliced == 0) == removed > 0
    assert np.allclose(spliced[:len(ones) - removed], 1.0) and not spliced[len(ones) - removed:].any()
    # The Compose: p=1 applies all four in a random order, p=0 none.
    every = {k: {"p": 1.0} for k in aug.AUGMENTATIONS}
    _, applied = aug.augment(tone, sr, np.random.default_rng(0), every)
    assert sorted(applied) == sorted(aug.AUGMENTATIONS)
    orders = {tuple(aug.augment(tone[:sr], sr, np.random.default_rng(s), every)[1]) for s in range(6)}
    assert len(orders) > 1
    same, applied = aug.augment(tone, sr, rng, {k: {"p": 0.0} for k in aug.AUGMENTATIONS})
    assert applied == [] and np.array_equal(same, tone)
    assert all(aug.AUGMENTATIONS[k]["p"] == 0.5 for k in aug.AUGMENTATIONS)  # augmentation_config.yml


def _noise_cohort(tmp_path, n=6, seconds=2.0):
    """control / MDD / SCZ participants with one noise recording each, louder for patients."""
    rng = np.random.default_rng(0)
    rows = []
    for dx, level in (("control", 0.05), ("MDD", 0.2), ("SCZ", 0.4)):
        for i in range(n):
            path = tmp_path / f"{dx}{i}.wav"
            sf.write(path, (level * rng.standard_normal(int(16000 * seconds))).astype(np.float32), 16000)
            rows.append(f"{dx}{i},{dx},{path.name}")
    (tmp_path / "m.csv").write_text("participant_id,diagnosis,recording\n" + "\n".join(rows) + "\n")
    return read_manifest(tmp_path / "m.csv")


def test_single_descriptor_models_and_augmented_mlp(tmp_path):
    """Each descriptives column is a model of its own, equal to a descriptives set of that column alone; the
    MLP trains on augmented copies of the training windows (features computed from the augmented audio)."""
    from bitbox.clinical.transdiagnostic.augment import augmented_features
    from bitbox.processors.voice_windows import mfcc

    cohort = _noise_cohort(tmp_path)
    keys = cohort.recordings["recording_key"].tolist()
    level = {"control": 1.0, "MDD": 2.0, "SCZ": 3.0}
    rng = np.random.default_rng(1)
    dx = cohort.recordings["diagnosis"].map(level).to_numpy()
    descriptives = pd.DataFrame({"recording_key": keys, "word_count": dx + 0.3 * rng.standard_normal(len(keys)),
                                 "mlu": rng.standard_normal(len(keys))})
    result = evaluate(cohort, Features({"descriptives": descriptives}), protocol="cv", models=["logreg", "xgboost"],
                      n_folds=3, n_iter=2, n_boot=20, progress=False)
    for task in result.metrics.values():
        assert {f"descriptives:{c}/{m}" for c in ("word_count", "mlu") for m in ("logreg", "xgboost")} <= set(task)
        assert task["descriptives:word_count/logreg"]["modality"] == "text"
    alone = evaluate(cohort, Features({"descriptives": descriptives[["recording_key", "mlu"]]}), protocol="cv",
                     models=["logreg"], n_folds=3, n_boot=20, progress=False)
    assert (result.metrics["multiclass"]["descriptives:mlu/logreg"]["macro_f1"]
            == alone.metrics["multiclass"]["descriptives/logreg"]["macro_f1"])
    assert result.metrics["MDD_vs_control"]["descriptives:mlu/xgboost"]["selection_metric"] == "f1 of MDD"
    assert result.metrics["multiclass"]["descriptives:word_count/logreg"]["macro_f1"] > 0.8
    trained = [t for t in result.training if t["model"].endswith("/xgboost")]
    assert trained and all(t["best_iteration"] < t["n_estimators"] for t in trained)

    # The MLP on 2-s windows (one per recording) with 2 augmented copies of each training window.
    table = pd.DataFrame([mfcc(sf.read(p)[0], 16000, n_mfcc=41)[1:].mean(axis=1)
                          for p in cohort.recordings["recording"]], columns=[f"mfcc_{k}_mean" for k in range(1, 41)])
    table.insert(0, "recording_key", keys)
    copies = augmented_features(dict(zip(keys[:2], cohort.recordings["recording"][:2])), ["mfcc"], n_copies=2)
    assert list(copies["mfcc"].columns) == ["recording_key", "copy", *table.columns[1:]]
    assert len(copies["mfcc"]) == 4 and copies["mfcc"]["copy"].tolist() == [1, 2, 1, 2]
    original = table.iloc[[0, 0, 1, 1], 1:].to_numpy(float)
    # (a copy that drew only gain keeps its MFCC 1..40: gain moves c0 alone, which the set leaves out)
    assert not np.allclose(copies["mfcc"].iloc[:, 2:].to_numpy(float), original)
    mlp = evaluate(cohort, Features({"mfcc": table}), protocol="cv", models=["mlp"], n_folds=3, n_boot=20,
                   mlp_params={"n_epochs": 3, "hidden": 8}, mlp_augment=2, progress=False)
    split = mlp.splits[mlp.splits["split"] == "fold 1/3"]
    n_train = int((split["part"] == "train").sum())
    info = next(t for t in mlp.training if t["split"] == "fold 1/3" and t["task"] == "multiclass")
    assert info["n_augmented_samples"] == 2 * n_train and info["n_train_samples"] == 3 * n_train
    assert 1 <= info["best_epoch"] <= 3 and len(info["val_loss"]) == 3
