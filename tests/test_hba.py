"""Human Behavior Atlas suite: metrics on hand-computed cases, the reader, the evaluation CLI, and
the Bitbox descriptor baseline end to end on a fixture in the benchmark's format."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bitbox
from bitbox.cli import main
from bitbox.clinical.hba import (GROUPS, HbaFormatError, classification_metrics, default_registry,
                                 emotion_metrics, evaluate_predictions, iter_samples, pool_frames, pool_timeseries,
                                 qa_metrics,
                                 read_predictions, sentiment_metrics)
from tests.conftest import _need_espeak, render_in_chromium

LEVELS = default_registry().get("mosei_senti").labels


@pytest.fixture(scope="module")
def hba_fixture(tmp_path_factory):
    _need_espeak()
    from tools.hba_fixture import build

    return build(tmp_path_factory.mktemp("hba"), per_class_train=4, per_class_test=2)


# ---------------------------------------------------------------------------- metrics
def test_classification_metrics_match_a_hand_computed_confusion_matrix():
    true = ["a", "a", "a", "b", "b", "c"]
    pred = ["a", "a", "b", "b", "c", "c"]
    # confusion (rows gold a,b,c): [[2,1,0],[0,1,1],[0,0,1]]
    m = classification_metrics(true, pred)
    assert m["confusion_matrix"] == {"labels": ["a", "b", "c"], "matrix": [[2, 1, 0], [0, 1, 1], [0, 0, 1]]}
    precision = np.array([2 / 2, 1 / 2, 1 / 2])
    recall = np.array([2 / 3, 1 / 2, 1 / 1])
    f1 = 2 * precision * recall / (precision + recall)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["macro_f1"] == pytest.approx(f1.mean()) and m["macro_precision"] == pytest.approx(precision.mean())
    assert m["weighted_f1"] == pytest.approx(f1 @ [3 / 6, 2 / 6, 1 / 6])
    assert m["per_class_f1"] == pytest.approx(dict(zip("abc", f1)))
    from sklearn.metrics import f1_score

    assert m["weighted_f1"] == pytest.approx(f1_score(true, pred, average="weighted"))


def test_a_class_absent_from_predictions_and_an_invalid_answer():
    m = classification_metrics(["a", "a", "b", "b"], ["a", "a", "a", "a"])
    # a: P = 2/4, R = 1, F1 = 2/3; b never predicted: P = R = F1 = 0
    assert m["per_class_f1"] == pytest.approx({"a": 2 / 3, "b": 0.0})
    assert m["macro_f1"] == pytest.approx(1 / 3) and m["weighted_f1"] == pytest.approx(1 / 3)
    assert m["accuracy"] == 0.5 and m["macro_recall"] == pytest.approx(0.5)
    m = classification_metrics(["a", "b"], ["a", "Maybe."], label_set=("a", "b"))
    assert m["n_invalid"] == 1 and m["confusion_matrix"]["labels"] == ["a", "b", "maybe"]
    assert m["macro_f1"] == pytest.approx((1 + 0) / 2)  # averaged over the gold classes a, b (the benchmark's rule)


def test_a_dataset_with_a_single_class():
    m = classification_metrics(["yes", "yes", "yes"], ["yes", "yes", "no"], label_set=("yes", "no"))
    # yes: P = 1, R = 2/3, F1 = 0.8; "no" has no gold support, so it is not averaged (the benchmark's rule)
    assert m["per_class_f1"] == pytest.approx({"yes": 0.8}) and m["n_invalid"] == 0
    assert m["macro_f1"] == pytest.approx(0.8) and m["weighted_f1"] == pytest.approx(0.8)
    wa = emotion_metrics(["sad", "sad"], ["sad", "happy"])
    assert wa["per_class_weighted_accuracy"] == {"sad": 0.25}  # N = 0 counts as 0: (TP/P + 0) / 2 = (1/2) / 2


def test_sentiment_accuracies_at_7_5_3_and_2_classes():
    true = ["highly negative", "weakly negative", "neutral", "positive", "highly positive"]   # -3 -1 0 2 3
    pred = ["negative", "weakly negative", "weakly positive", "highly positive", "no idea"]   # -2 -1 1 3 invalid
    s = sentiment_metrics(true, pred, LEVELS)
    assert s["acc7"] == pytest.approx(1 / 5)            # only -1
    assert s["acc5"] == pytest.approx(1 / 5)            # groups {hn} {n, wn} {0} {wp, p} {hp}: only wn = wn
    assert s["acc3"] == pytest.approx(3 / 5)            # signs: -, -, + (neutral gold vs + pred wrong)
    assert s["acc2"] == pytest.approx(3 / 4) and s["n_non_neutral"] == 4
    # 2 classes: negative F1 1 (2 of 2), positive P 1 R 1/2 -> 2/3; weights 1/2 each
    assert s["weighted_f1_2"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    with pytest.raises(ValueError, match="not among the levels"):
        sentiment_metrics(["very good"], ["positive"], LEVELS)


def test_emotion_weighted_accuracy_by_hand():
    e = emotion_metrics(["happy", "happy", "sad", "neutral"], ["happy", "sad", "sad", "sad"])
    # happy: TP/P 1/2, TN/N 2/2 -> .75; sad: 1/1, 1/3 -> 2/3; neutral: 0/1, 3/3 -> .5
    assert e["per_class_weighted_accuracy"] == pytest.approx({"happy": 0.75, "sad": 2 / 3, "neutral": 0.5})
    assert e["mean_weighted_accuracy"] == pytest.approx((0.75 + 2 / 3 + 0.5) / 3)


def test_qa_exact_match_and_a_pluggable_judge():
    q = qa_metrics(["q1", "q2"], ["Leave the room", "funny"], ["leave the room.", "amusing"])
    assert q["exact_match"] == 0.5 and "judged_accuracy" not in q
    judged = qa_metrics(["q1", "q2"], ["leave", "funny"], ["leave", "amusing"],
                        judge=lambda problem, answer, prediction: 1.0 if prediction in (answer, "amusing") else 0)
    assert judged["judged_accuracy"] == 1.0
    with pytest.raises(ValueError, match=r"scores in \[0, 1\]"):
        qa_metrics(["q"], ["a"], ["b"], judge=lambda *args: 3)


def test_registry_holds_the_16_datasets_in_four_groups():
    registry = default_registry()
    assert len(registry.datasets) == 16 and set(registry.groups) == set(GROUPS)
    assert {registry.get(d).group for d in registry.datasets} == set(GROUPS)
    assert registry.get("mosei_senti").labels[0] == "highly negative" and "sentiment" in registry.get(
        "mosei_senti").metrics
    assert registry.get("siq2").is_qa and registry.get("daicwoz").group == "pathology"
    unknown = registry.get("my_new_set", "my_new_set_qa")
    assert unknown.is_qa and unknown.group == "other" and not unknown.registered


# ---------------------------------------------------------------------------- reader
def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_reader_streams_rows_and_names_the_bad_row_and_field(tmp_path):
    ok = {"problem": "p", "answer": "yes", "dataset": "daicwoz"}
    path = _write_jsonl(tmp_path / "a.jsonl", [ok, "", {**ok, "id": "x7"}, {"problem": "p", "dataset": "mmsd"}])
    samples = iter_samples(path)
    first = next(samples)
    assert first.id == "0" and first.answer == "yes"     # no id: the row index
    assert next(samples).id == "x7"
    with pytest.raises(HbaFormatError, match=r"a\.jsonl: row 2 \(line 4\): field 'answer' is missing"):
        next(samples)
    _write_jsonl(tmp_path / "b.jsonl", [ok, "{not json"])
    with pytest.raises(HbaFormatError, match=r"row 1 \(line 2\) is not valid JSON"):
        list(iter_samples(tmp_path / "b.jsonl"))
    _write_jsonl(tmp_path / "c.jsonl", [{**ok, "dataset": 3}])
    with pytest.raises(HbaFormatError, match="field 'dataset' must be text"):
        list(iter_samples(tmp_path / "c.jsonl"))
    _write_jsonl(tmp_path / "d.jsonl", [{**ok, "audios": [{"bytes": "@@not base64@@", "path": "x.wav"}]}])
    with pytest.raises(HbaFormatError, match=r"audios\[0\]\.bytes is not base64"):
        list(iter_samples(tmp_path / "d.jsonl"))
    embedded = {**ok, "audios": [{"bytes": base64.b64encode(b"RIFF....").decode(), "path": "x.wav"}],
                "videos": ["clips/v.mp4"]}
    sample = next(iter_samples(_write_jsonl(tmp_path / "e.jsonl", [embedded])))
    assert sample.audios[0].data == b"RIFF...." and sample.videos[0].path == tmp_path / "clips" / "v.mp4"
    assert sample.audios[0].materialize(tmp_path / "m").read_bytes() == b"RIFF...."
    with pytest.raises(HbaFormatError, match="does not exist"):
        list(iter_samples(tmp_path / "missing.jsonl"))


def _outside_paths(tmp_path: Path) -> Path:
    """A data file whose samples name media outside its folder: '..', an absolute path, a link leading out."""
    data_dir = tmp_path / "hba"
    (data_dir / "clips").mkdir(parents=True)
    (tmp_path / "secret.png").write_bytes(b"not for you")
    (data_dir / "clips" / "ok.wav").write_bytes(b"RIFF")
    (data_dir / "clips" / "link.wav").symlink_to(tmp_path / "secret.png")
    ok = {"problem": "<audio>", "answer": "yes", "dataset": "daicwoz"}
    return _write_jsonl(data_dir / "test.jsonl", [
        {**ok, "id": "s0", "images": ["../secret.png"]},
        {**ok, "id": "s1", "videos": [{"path": str(tmp_path / "secret.png"), "bytes": None}]},
        {**ok, "id": "s2", "audios": ["clips/ok.wav", "clips/link.wav"]},
        {**ok, "id": "s3", "audios": [{"path": "/etc/passwd.wav", "bytes": base64.b64encode(b"RIFF").decode()}]}])


def test_media_paths_outside_the_data_folder_are_refused_per_sample(tmp_path):
    data = _outside_paths(tmp_path)
    root, secret = (tmp_path / "hba").resolve(), tmp_path / "secret.png"
    s0, s1, s2, s3 = iter_samples(data)
    hint = ("refused, not read. Put the media under that folder, give --media-root DIR (media_root=) holding them, "
            "or --allow-outside-paths (allow_outside_paths=True) if you trust this data file")
    assert s0.images == [] and s0.refused_media == {
        "sample s0 images[0] ../secret.png": f"climbs out with '..' of {root} (the data file's folder): {hint}"}
    assert s1.videos == [] and s1.refused_media == {
        f"sample s1 videos[0] {secret}": f"is an absolute path outside {root} (the data file's folder): {hint}"}
    assert [m.path for m in s2.audios] == [tmp_path / "hba" / "clips" / "ok.wav"] and s2.refused_media == {
        "sample s2 audios[1] clips/link.wav": f"leads through a symbolic link to {secret.resolve()}, outside {root} "
                                              f"(the data file's folder): {hint}"}
    assert s3.audios[0].data == b"RIFF" and s3.refused_media == {}  # embedded bytes: the path is only a name
    trusted = list(iter_samples(data, allow_outside_paths=True))
    assert [m.path for s in trusted for m in s.images + s.videos + s.audios if m.path] == [
        tmp_path / "hba" / "../secret.png", secret, tmp_path / "hba" / "clips" / "ok.wav",
        tmp_path / "hba" / "clips" / "link.wav"]
    assert not any(s.refused_media for s in trusted)
    rooted = list(iter_samples(data, media_root=tmp_path))
    assert not any(s.refused_media for s in rooted) and rooted[0].images[0].path.resolve() == secret.resolve()
    narrow = list(iter_samples(data, media_root=tmp_path / "hba" / "clips"))
    assert narrow[2].refused_media == {
        "sample s2 audios[1] clips/link.wav": f"leads through a symbolic link to {secret.resolve()}, outside "
                                              f"{(tmp_path / 'hba' / 'clips').resolve()} (--media-root): {hint}"}
    with pytest.raises(HbaFormatError, match="nowhere: is not a folder. --media-root must be the folder"):
        list(iter_samples(data, media_root=tmp_path / "nowhere"))


def test_baseline_predict_records_refused_media_and_goes_on(tmp_path, capsys):
    from bitbox.clinical.hba import DescriptorBaseline, Sample

    rng = np.random.default_rng(0)
    train = [Sample(index=i, id=f"t{i}", problem="<audio>", answer=("yes", "no")[i % 2], dataset="daicwoz",
                    ext_audio_feats=rng.normal(2.0 if i % 2 == 0 else -2.0, 1.0, (10, 2)).tolist())
             for i in range(12)]
    DescriptorBaseline(processors=[], text=False, ext_feats=True).fit(train, tmp_path / "c", progress=False).save(
        tmp_path / "model")
    data = _outside_paths(tmp_path)
    out = tmp_path / "pred.jsonl"
    assert main(["hba", "baseline", "predict", "--data", str(data), "--model", str(tmp_path / "model"), "-o",
                 str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "bitbox hba: 4 prediction(s)" in printed
    assert ("3 media file(s) could not be measured or were refused (their features are missing): sample s0 "
            "images[0] ../secret.png: climbs out with '..' of") in printed
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["s0", "s1", "s2", "s3"]
    assert main(["hba", "baseline", "predict", "--data", str(data), "--model", str(tmp_path / "model"), "-o",
                 str(out), "-q", "--media-root", str(tmp_path)]) == 0
    assert "refused" not in capsys.readouterr().out
    assert main(["hba", "evaluate", "--data", str(data), "--predictions", str(out), "-o", str(tmp_path / "ev"),
                 "--media-root", str(tmp_path / "nowhere")]) == 2


def test_jsonl_and_parquet_with_embedded_media_read_the_same(hba_fixture):
    from_jsonl = list(iter_samples(hba_fixture["test"]))
    from_parquet = list(iter_samples(hba_fixture["test_parquet"]))
    assert [s.id for s in from_jsonl] == [s.id for s in from_parquet]
    assert [s.answer for s in from_jsonl] == [s.answer for s in from_parquet]
    for a, b in zip(from_jsonl, from_parquet):
        assert [m.sha256() for m in a.audios + a.videos] == [m.sha256() for m in b.audios + b.videos]
        assert all(m.data is not None for m in b.audios + b.videos) and a.texts == b.texts


# ---------------------------------------------------------------------------- evaluation
def test_missing_extra_and_duplicate_predictions_are_reported(hba_fixture, tmp_path):
    samples = list(iter_samples(hba_fixture["test"]))
    predictions = {s.id: s.answer for s in samples[1:]}
    predictions["not_a_sample"] = "happy"
    result = evaluate_predictions(hba_fixture["test"], predictions)
    assert result["missing_predictions"] == {"count": 1, "ids": [samples[0].id]}
    assert result["extra_predictions"] == {"count": 1, "ids": ["not_a_sample"]}
    first = result["datasets"][samples[0].dataset]
    assert first["n_missing"] == 1 and first["accuracy"] < 1
    path = _write_jsonl(tmp_path / "dup.jsonl", [{"id": "a", "prediction": "x"}, {"id": "a", "prediction": "y"}])
    with pytest.raises(HbaFormatError, match="already predicted"):
        read_predictions(path)


def test_hba_evaluate_cli_on_perfect_predictions(hba_fixture, tmp_path, capsys):
    samples = list(iter_samples(hba_fixture["test"]))
    preds = _write_jsonl(tmp_path / "p.jsonl", [{"id": s.id, "prediction": s.answer.upper()} for s in samples])
    assert main(["hba", "evaluate", "--data", str(hba_fixture["test"]), "--predictions", str(preds),
                 "-o", str(tmp_path / "ev")]) == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert set(metrics["datasets"]) == {"tess", "mosei_senti", "siq2"}
    for name in ("tess", "mosei_senti"):
        row = metrics["datasets"][name]
        assert row["accuracy"] == 1 and row["macro_f1"] == 1 and row["weighted_f1"] == 1
        assert set(row["per_class_f1"].values()) == {1.0}
    assert metrics["datasets"]["mosei_senti"]["sentiment"]["acc7"] == 1
    assert metrics["datasets"]["tess"]["emotion"]["mean_weighted_accuracy"] == 1
    assert metrics["datasets"]["siq2"]["exact_match"] == 1
    assert set(metrics["groups"]) == {"affective", "social"} and metrics["groups"]["affective"]["accuracy"] == 1
    assert (tmp_path / "ev" / "report.html").is_file() and "| tess | affective |" in capsys.readouterr().out
    bad = _write_jsonl(tmp_path / "bad.jsonl", ['{"id": 1}'])
    assert main(["hba", "evaluate", "--data", str(hba_fixture["test"]), "--predictions", str(bad),
                 "-o", str(tmp_path / "e2")]) == 2
    assert "line 1 needs 'id' and 'prediction'" in capsys.readouterr().err


def test_pooling_over_time():
    frame = pd.DataFrame({"time_s": [0.0, 1, 2, 3, 4], "x": [1.0, 2, 3, 4, np.nan], "flag": [True, False, True, True,
                                                                                                 False],
                          "label": ["a", "b", "c", "d", "e"]})
    pooled = pool_timeseries(frame)
    assert pooled["x.mean"] == 2.5 and pooled["x.std"] == pytest.approx(np.std([1, 2, 3, 4]))
    assert pooled["x.p25"] == 1.75 and pooled["x.p75"] == 3.25 and pooled["flag.mean"] == 0.6
    assert not any(k.startswith(("time_s", "label")) for k in pooled)
    frames = pool_frames([[1.0, 10.0], [3.0, 30.0]], "ext_audio", ("mean", "std"))
    assert frames == {"ext_audio_0.mean": 2.0, "ext_audio_0.std": 1.0, "ext_audio_1.mean": 20.0,
                      "ext_audio_1.std": 10.0}
    assert pool_frames([1.0, 2.0], "v", ("mean",)) == {"v_0.mean": 1.0, "v_1.mean": 2.0}
    assert pool_frames(None, "v") == {} and pool_frames([[1.0], [2.0, 3.0]], "v") == {}


def test_baseline_on_the_benchmarks_own_ext_features(tmp_path):
    from bitbox.clinical.hba import DescriptorBaseline, Sample

    rng = np.random.default_rng(0)

    def sample(i: int, label: str) -> Sample:
        shift = 2.0 if label == "yes" else -2.0
        return Sample(index=i, id=f"s{i}", problem="<audio>", answer=label, dataset="daicwoz",
                      ext_audio_feats=(rng.normal(shift, 1.0, (20, 3))).tolist())

    train = [sample(i, ("yes", "no")[i % 2]) for i in range(20)]
    test = [sample(100 + i, ("yes", "no")[i % 2]) for i in range(10)]
    model = DescriptorBaseline(processors=[], text=False, ext_feats=True).fit(train, tmp_path, progress=False)
    predictions = model.predict(test, tmp_path, progress=False)
    assert np.mean([predictions[s.id] == s.answer for s in test]) == 1.0
    assert model.columns_["daicwoz"] == [f"ext_audio_{k}.{s}" for k in range(3) for s in ("mean", "std")]
    with pytest.raises(bitbox.ParameterError, match="No features for daicwoz"):
        DescriptorBaseline(processors=["speech"], text=False).fit(train, tmp_path, progress=False)


def test_descriptor_baseline_trains_predicts_and_evaluates_end_to_end(hba_fixture, tmp_path, capsys):
    model = tmp_path / "model"
    assert main(["hba", "baseline", "train", "--data", str(hba_fixture["train"]), "-o", str(model), "-q"]) == 0
    config = json.loads((model / "config.json").read_text())
    assert set(config["datasets"]) == {"tess", "mosei_senti"} and config["params"]["pooling"] == "mean_std"
    assert config["datasets"]["tess"]["n_features"] > 384  # speech descriptors beside the text embedding
    # predict from the parquet file, whose media are embedded bytes
    preds = tmp_path / "pred.jsonl"
    assert main(["hba", "baseline", "predict", "--data", str(hba_fixture["test_parquet"]), "--model", str(model),
                 "-o", str(preds), "-q"]) == 0
    assert main(["hba", "evaluate", "--data", str(hba_fixture["test"]), "--predictions", str(preds),
                 "-o", str(tmp_path / "ev")]) == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    # three balanced classes each: chance is 1/3
    assert metrics["datasets"]["tess"]["accuracy"] >= 2 / 3, metrics["datasets"]["tess"]
    assert metrics["datasets"]["mosei_senti"]["accuracy"] >= 2 / 3, metrics["datasets"]["mosei_senti"]
    assert metrics["datasets"]["siq2"]["n_missing"] == 3 and metrics["missing_predictions"]["count"] == 3
    # the voice alone tells TESS emotions (same carrier words in every class)
    from bitbox.clinical.hba import DescriptorBaseline

    voice = DescriptorBaseline(processors=["speech"], text=False).fit(hba_fixture["train"], model / "features",
                                                                      progress=False)
    voice_preds = voice.predict(hba_fixture["test_parquet"], model / "features", progress=False)
    tess = [s for s in iter_samples(hba_fixture["test"]) if s.dataset == "tess"]
    assert np.mean([voice_preds[s.id] == s.answer for s in tess]) >= 2 / 3
    with pytest.raises(bitbox.ParameterError, match="pooling"):
        DescriptorBaseline(pooling="max").fit(hba_fixture["train"], tmp_path / "c", progress=False)
    pixels = render_in_chromium(tmp_path / "ev" / "report.html", tmp_path, height=1400)
    if pixels is None:
        pytest.skip("Chromium is not installed (make test installs Debian's chromium); the report was not rendered")
    blue = np.all(np.abs(pixels - [59, 125, 216]) < 30, axis=-1).sum()
    assert blue > 300, blue


def test_descriptor_baseline_params_round_trip():
    from bitbox.clinical.hba.baseline import DescriptorBaseline

    model = DescriptorBaseline(processors=("face",), pooling="mean_std", C=0.5)
    params = model.get_params()
    assert params["processors"] is model.processors and DescriptorBaseline(**params).get_params() == params
