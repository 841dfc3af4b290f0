"""The benchmark's own features (issue 19): ``ext_video_feats`` / ``ext_audio_feats`` read from
``.pt`` files as the Human Behavior Atlas loader does, pooled as its ``pool_temporal`` does.

Reference (MIT-MI/human_behavior_atlas): ``training/sft/dataset/base_dataset.py`` (the first
path of the list, joined to the data folder), ``sft_dataset.py`` (``torch.load``),
``models/bam_utils.py`` (``openpose_dict_to_framewise``, ``opensmile_to_framewise``,
``pool_temporal``). Every feature file here is written with ``torch.save``; every attack file
is a real pickle whose loading would create a marker file, and a control shows it does.
"""
from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bitbox.cli import main  # noqa: E402
from bitbox.clinical.hba import DescriptorBaseline, Sample, iter_samples  # noqa: E402
from bitbox.clinical.hba.baseline import POOLINGS, ext_features  # noqa: E402
from bitbox.clinical.hba.reader import HbaFeatureError, Media, read_ext_feats  # noqa: E402

ALL = POOLINGS["mean_std_quartiles"]
HINT_MISSING = ("Paths are relative to the data file's folder: put the benchmark's feature folders (pose/, "
                "opensmile/) there, or leave out --ext-feats (ext_feats=False)")
HINT_PT = ("Give the benchmark's .pt feature files (tensors, or dicts of tensors as the benchmark writes them), "
           "or leave out --ext-feats (ext_feats=False)")


class _Evil:
    """Unpickling this creates ``marker`` (what an attacker's ``os.system`` call would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = Path(marker)

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _pool_temporal(x: torch.Tensor, mode: str) -> torch.Tensor:
    """The benchmark's ``bam_utils.pool_temporal`` (verbatim arithmetic) for a [T, D] tensor."""
    x = x.float()
    T = x.shape[0]
    if mode == "mean":
        return x.mean(dim=0)
    if mode == "meanstd":
        return torch.cat([x.mean(dim=0), x.std(dim=0, unbiased=False)], dim=0)
    m, s = x.mean(dim=0), x.std(dim=0, unbiased=False)
    p25 = x.kthvalue(max(1, int(0.25 * T)), dim=0).values
    p75 = x.kthvalue(max(1, int(0.75 * T)), dim=0).values
    return torch.cat([m, s, p25, p75], dim=0)


def _as_benchmark_vector(pooled: dict[str, float], prefix: str, dims: int, stats) -> np.ndarray:
    """Our named columns in the benchmark's order: all dims of one statistic, then the next."""
    return np.array([pooled[f"{prefix}_{k}.{s}"] for s in stats for k in range(dims)])


def _write(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "data.jsonl"
    path.write_text("".join(json.dumps({"problem": "<audio>", "answer": "yes", "dataset": "daicwoz", **r}) + "\n"
                            for r in rows), encoding="utf-8")
    return path


def _save(folder: Path, relative: str, content) -> str:
    (folder / relative).parent.mkdir(parents=True, exist_ok=True)
    torch.save(content, folder / relative)
    return relative


# ---------------------------------------------------------------------------- reading and pooling
def test_pt_files_per_frame_and_pooled_give_the_benchmarks_pooled_values(tmp_path):
    data = tmp_path / "hba"
    frames = torch.tensor([[1.0, 10.0], [3.0, 30.0], [2.0, 20.0], [4.0, 40.0]])
    pose = torch.tensor([[[1.0, 2.0, 1.0]], [[3.0, 6.0, 0.5]]])  # [T=2, K=1, x y conf]
    face = torch.tensor([[[10.0, 20.0]], [[30.0, 40.0]]])  # [T=2, K=1, x y]
    path = _write(data, [
        {"id": "frames", "ext_audio_feats": [_save(data, "opensmile/a.pt", {"features": frames})]},
        {"id": "pooled", "ext_audio_feats": [_save(data, "opensmile/b.pt", {"features": torch.tensor([5.0, 7.0])})]},
        {"id": "pose", "ext_video_feats": [_save(data, "pose/c.pt", {"face": face, "pose": pose, "left_hand": None})],
         "ext_audio_feats": ["opensmile/a.pt", "opensmile/not_read.pt"]},  # the first path only, as the benchmark
        {"id": "bare", "ext_video_feats": [_save(data, "pose/d.pt", frames.double())]},
        {"id": "numpy", "ext_audio_feats": [_save(data, "opensmile/e.pt", {"features": frames.numpy()})]},
        {"id": "inline", "ext_audio_feats": frames.tolist()},
        {"id": "none", "ext_audio_feats": []}])
    samples = list(iter_samples(path))
    assert isinstance(samples[0].ext_audio_feats, Media) and samples[5].ext_audio_feats == frames.tolist()
    assert read_ext_feats(samples[6], "ext_audio_feats") is None
    # the pose part first, then face, each frame flattened: x, y, conf | x, y (openpose_dict_to_framewise)
    np.testing.assert_array_equal(read_ext_feats(samples[2], "ext_video_feats"),
                                  [[1, 2, 1, 10, 20], [3, 6, 0.5, 30, 40]])
    pooled, failures = ext_features(samples, ALL)
    assert failures == {}
    # [T, D] frames: mean, population std, quartiles as order statistics (1st and 3rd smallest of 4)
    assert {k: v for k, v in pooled["frames"].items() if k.startswith("ext_audio_0.")} == {
        "ext_audio_0.mean": 2.5, "ext_audio_0.std": np.sqrt(1.25), "ext_audio_0.p25": 1.0, "ext_audio_0.p75": 3.0}
    assert pooled["frames"]["ext_audio_1.p75"] == 30.0 and len(pooled["frames"]) == 8
    # a pooled [D] vector is one frame (opensmile_to_framewise): mean = the value, std 0
    assert pooled["pooled"] == {f"ext_audio_{k}.{s}": v for k, x in enumerate((5.0, 7.0))
                                for s, v in (("mean", x), ("std", 0.0), ("p25", x), ("p75", x))}
    assert pooled["pose"]["ext_video_4.mean"] == 30.0 and pooled["pose"]["ext_video_2.std"] == 0.25
    assert pooled["pose"]["ext_audio_0.mean"] == 2.5
    for sid in ("bare", "numpy", "inline"):  # a bare tensor, numpy arrays in the dict, numbers inline
        prefix = "ext_video" if sid == "bare" else "ext_audio"
        assert pooled[sid] == {k.replace("ext_audio", prefix): v for k, v in pooled["frames"].items()}
    for mode, stats in (("mean", ("mean",)), ("meanstd", ("mean", "std")), ("meanstdp25p75", ALL)):
        np.testing.assert_allclose(_as_benchmark_vector(pooled["frames"], "ext_audio", 2, stats),
                                   _pool_temporal(frames, mode).numpy(), rtol=1e-6)


def test_pooling_matches_the_benchmarks_pool_temporal_on_random_frames():
    from bitbox.clinical.hba import pool_frames

    rng = np.random.default_rng(3)
    for T in (1, 2, 3, 5, 8, 13):
        frames = rng.integers(-50, 50, (T, 4)).astype(np.float32)  # integers: float32 sums are exact
        ours = _as_benchmark_vector(pool_frames(frames, "v", ALL), "v", 4, ALL)
        np.testing.assert_allclose(ours, _pool_temporal(torch.from_numpy(frames), "meanstdp25p75").numpy(),
                                   rtol=1e-6, atol=1e-5)


def test_the_baseline_trains_on_pt_features_and_lists_a_missing_file(tmp_path, caplog):
    data = tmp_path / "hba"
    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        label = ("yes", "no")[i % 2]
        feats = torch.from_numpy(rng.normal(2.0 if label == "yes" else -2.0, 1.0, (6, 2)).astype(np.float32))
        rows.append({"id": f"s{i}", "answer": label,
                     "ext_audio_feats": [_save(data, f"opensmile/s{i}.pt", {"features": feats})]})
    rows.append({"id": "lost", "answer": "no", "ext_audio_feats": ["opensmile/lost.pt"]})
    path = _write(data, rows)
    with caplog.at_level("WARNING", logger="bitbox"):
        model = DescriptorBaseline(processors=[], text=False, ext_feats=True).fit(path, tmp_path / "c",
                                                                                  progress=False)
    resolved = (data / "opensmile" / "lost.pt").resolve()
    reason = f"{resolved}: ext_audio_feats of sample lost: file not found. {HINT_MISSING}"
    assert model.failures_ == {"sample lost ext_audio_feats[0] opensmile/lost.pt": reason}
    assert [r.levelname for r in caplog.records] == ["WARNING"] and reason in caplog.records[0].getMessage()
    assert model.columns_["daicwoz"] == [f"ext_audio_{k}.{s}" for k in range(2) for s in ("mean", "std")]
    predictions = model.predict(path, tmp_path / "c", progress=False)
    assert all(predictions[f"s{i}"] == ("yes", "no")[i % 2] for i in range(12)) and "lost" in predictions
    assert model.predict_failures_ == model.failures_
    # without ext_feats no feature file is opened: nothing is listed
    plain = DescriptorBaseline(processors=["speech"], text=False, ext_feats=False)
    with pytest.raises(Exception, match="No features for daicwoz"):
        plain.fit(path, tmp_path / "c", progress=False)
    assert plain.failures_ == {}


def test_the_cli_counts_unreadable_feature_files(tmp_path, capsys):
    data = tmp_path / "hba"
    rows = [{"id": f"s{i}", "answer": ("yes", "no")[i % 2],
             "ext_audio_feats": [_save(data, f"f/s{i}.pt", {"features": torch.full((3, 2), float(i % 2))})]}
            for i in range(6)]
    rows.append({"id": "gone", "answer": "no", "ext_audio_feats": ["f/gone.pt"]})
    path = _write(data, rows)
    assert main(["hba", "baseline", "train", "--data", str(path), "-o", str(tmp_path / "m"), "--processors", "",
                 "--no-text", "--ext-feats", "-q"]) == 0
    printed = capsys.readouterr().out
    assert ("1 media file(s) could not be measured or were refused (their features are missing): sample gone "
            f"ext_audio_feats[0] f/gone.pt: {(data / 'f' / 'gone.pt').resolve()}: ext_audio_feats of sample gone: "
            "file not found.") in printed


# ---------------------------------------------------------------------------- confinement and safety
def test_a_feature_path_climbing_out_is_refused_unless_allowed(tmp_path):
    outside = tmp_path / "outside.pt"
    torch.save({"features": torch.tensor([1.0, 2.0])}, outside)
    data = tmp_path / "hba"
    path = _write(data, [{"id": "s0", "ext_audio_feats": ["../outside.pt"]},
                         {"id": "s1", "ext_audio_feats": [str(outside)]}])
    samples = list(iter_samples(path))
    hint = ("refused, not read. Put the media under that folder, give --media-root DIR (media_root=) holding them, "
            "or --allow-outside-paths (allow_outside_paths=True) if you trust this data file")
    assert samples[0].refused_media == {
        "sample s0 ext_audio_feats[0] ../outside.pt": f"climbs out with '..' of {data.resolve()} (the data file's "
                                                      f"folder): {hint}"}
    assert samples[1].refused_media == {
        f"sample s1 ext_audio_feats[0] {outside}": f"is an absolute path outside {data.resolve()} (the data file's "
                                                   f"folder): {hint}"}
    assert samples[0].ext_audio_feats is None and samples[1].ext_audio_feats is None
    model = DescriptorBaseline(processors=[], text=False, ext_feats=True)
    table, failures = model._table(samples, tmp_path / "c", progress=False)
    assert set(failures) == {"sample s0 ext_audio_feats[0] ../outside.pt", f"sample s1 ext_audio_feats[0] {outside}"}
    assert table.empty or table.isna().all().all()
    allowed = list(iter_samples(path, allow_outside_paths=True))
    assert not any(s.refused_media for s in allowed)
    np.testing.assert_array_equal(read_ext_feats(allowed[0], "ext_audio_feats"), [[1.0, 2.0]])
    np.testing.assert_array_equal(read_ext_feats(allowed[1], "ext_audio_feats"), [[1.0, 2.0]])
    rooted = list(iter_samples(path, media_root=tmp_path))
    assert not any(s.refused_media for s in rooted)


def test_a_crafted_pt_file_never_runs_its_code(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = tmp_path / "hba"
    (data / "f").mkdir(parents=True)
    marker = tmp_path / "PWNED"
    torch.save({"features": _Evil(marker)}, data / "f" / "evil.pt")
    (data / "f" / "evil_pickle.pt").write_bytes(pickle.dumps(_Evil(marker)))
    # numpy arrays are let through (the benchmark's loader accepts them): not an object array's elements
    torch.save({"features": np.array([_Evil(marker)], dtype=object)}, data / "f" / "evil_numpy.pt")
    path = _write(data, [{"id": "a", "ext_audio_feats": ["f/evil.pt"]},
                         {"id": "b", "ext_video_feats": ["f/evil_pickle.pt"]},
                         {"id": "n", "ext_audio_feats": ["f/evil_numpy.pt"]}])
    embedded = data / "embedded.parquet"
    pq.write_table(pa.Table.from_pylist([{"id": "c", "problem": "<audio>", "answer": "yes", "dataset": "daicwoz",
                                          "ext_audio_feats": [(data / "f" / "evil.pt").read_bytes()]}]), embedded)
    samples = list(iter_samples(path)) + list(iter_samples(embedded))
    _, failures = ext_features(samples, ALL)
    hint = ("Re-save the features as tensors (torch.save of a tensor or a dict of tensors), or ask the data's "
            "provider for the original file")
    refusal = ("holds Python objects ({}) other than tensors, arrays, numbers, lists and dicts; refused before any "
               f"of it ran (torch.load weights_only=True), as loading it could run code. {hint}")
    assert failures == {
        "sample a ext_audio_feats[0] f/evil.pt": f"{(data / 'f' / 'evil.pt').resolve()}: ext_audio_feats of sample "
                                                 f"a: {refusal.format('getattr')}",
        "sample b ext_video_feats[0] f/evil_pickle.pt": f"{(data / 'f' / 'evil_pickle.pt').resolve()}: "
                                                        "ext_video_feats of sample b: is not a .pt file that "
                                                        "torch.load(weights_only=True) can read (Unsupported operand "
                                                        "149); not opened further, as loading it unsafely could run "
                                                        f"code. {hint}",
        "sample n ext_audio_feats[0] f/evil_numpy.pt": f"{(data / 'f' / 'evil_numpy.pt').resolve()}: "
                                                       f"ext_audio_feats of sample n: "
                                                       f"{refusal.format('numpy.dtypes.ObjectDType')}",
        "sample c ext_audio_feats[0] ext_audio_feats.pt": "embedded.parquet row 0 (embedded ext_audio_feats.pt): "
                                                          f"ext_audio_feats of sample c: {refusal.format('getattr')}"}
    assert not marker.exists()
    try:  # control: the same file loaded the unsafe way does run its code
        torch.load(data / "f" / "evil.pt", weights_only=False)
    except Exception:  # the marker is made while unpickling, whatever happens next
        pass
    assert marker.exists(), "the crafted file is harmless: this test would prove nothing"
    marker.unlink()
    pickle.loads((data / "f" / "evil_pickle.pt").read_bytes())  # control for the plain pickle
    assert marker.exists()


def test_files_that_are_not_the_benchmarks_layout_name_the_sample_and_the_file(tmp_path):
    data = tmp_path / "hba"
    path = _write(data, [
        {"id": "keys", "ext_audio_feats": [_save(data, "f/keys.pt", {"egemaps": torch.ones(3)})]},
        {"id": "text", "ext_audio_feats": [_save(data, "f/text.pt", "hello")]},
        {"id": "parts", "ext_video_feats": [_save(data, "f/parts.pt", {"hands": torch.ones(2, 3, 3)})]},
        {"id": "shape", "ext_video_feats": [_save(data, "f/shape.pt", {"pose": torch.ones(2, 25)})]},
        {"id": "frames", "ext_video_feats": [_save(data, "f/frames.pt", {"pose": torch.ones(2, 25, 3),
                                                                        "face": torch.ones(3, 70, 3)})]},
        {"id": "cube", "ext_audio_feats": [_save(data, "f/cube.pt", torch.ones(2, 2, 2))]},
        {"id": "junk", "ext_audio_feats": ["f/junk.pt"]},
        {"id": "empty", "ext_audio_feats": ["f/empty.pt"]},
        {"id": "ragged", "ext_audio_feats": [[1.0], [2.0, 3.0]]}])
    (data / "f" / "junk.pt").write_text("not a torch file", encoding="utf-8")
    (data / "f" / "empty.pt").write_bytes(b"")
    samples = list(iter_samples(path))
    reasons = {}
    for sample in samples:
        name = "ext_video_feats" if sample.ext_video_feats is not None else "ext_audio_feats"
        with pytest.raises(HbaFeatureError) as info:
            read_ext_feats(sample, name)
        reasons[sample.id] = str(info.value)
    f = (data / "f").resolve()
    assert reasons["keys"] == (f"{f / 'keys.pt'}: ext_audio_feats of sample keys: is a dict without 'features' "
                               "(keys: ['egemaps']), not the benchmark's openSMILE layout {'features': [frames, "
                               f"dims] or [dims]}}. {HINT_PT}")
    assert reasons["text"] == (f"{f / 'text.pt'}: ext_audio_feats of sample text: holds a str, not a tensor or a "
                               f"dict of tensors. {HINT_PT}")
    assert reasons["parts"] == (f"{f / 'parts.pt'}: ext_video_feats of sample parts: is a dict without any OpenPose "
                                "part (keys: ['hands']), not the benchmark's layout {'pose', 'face', 'left_hand', "
                                f"'right_hand'}}. {HINT_PT}")
    assert reasons["shape"] == (f"{f / 'shape.pt'}: ext_video_feats of sample shape: part 'pose' has shape [2, 25], "
                                f"not [frames, keypoints, 2 or 3] with at least one frame. {HINT_PT}")
    assert reasons["frames"] == (f"{f / 'frames.pt'}: ext_video_feats of sample frames: its OpenPose parts have "
                                 f"different frame counts {{'pose': 2, 'face': 3}}. {HINT_PT}")
    assert reasons["cube"] == (f"{f / 'cube.pt'}: ext_audio_feats of sample cube: the file's tensor has shape "
                               "[2, 2, 2], not [frames, dims] or [dims] with at least one value. Give [frames, dims] "
                               "or [dims] numbers")
    assert reasons["junk"] == (f"{f / 'junk.pt'}: ext_audio_feats of sample junk: is not a .pt file that "
                               "torch.load(weights_only=True) can read (Unsupported operand 110); not opened further, "
                               "as loading it unsafely could run code. Re-save the features as tensors (torch.save of "
                               "a tensor or a dict of tensors), or ask the data's provider for the original file")
    assert reasons["empty"] == (f"{f / 'empty.pt'}: ext_audio_feats of sample empty: is not a readable torch .pt "
                                f"file (EOFError). {HINT_PT}")
    assert reasons["ragged"].startswith("data.jsonl row 8 (line 9): ext_audio_feats of sample ragged: the inline "
                                        "value is not an array of numbers (ValueError: ")
    with pytest.raises(ValueError, match="name must be one of"):
        read_ext_feats(samples[0], "ext_text_feats")
    # a path given in Python is used as given
    direct = Sample(index=0, id="py", problem="", answer="yes", dataset="daicwoz", ext_audio_feats=f / "cube.pt")
    with pytest.raises(HbaFeatureError, match="sample py: the file's tensor has shape"):
        read_ext_feats(direct, "ext_audio_feats")


# ---------------------------------------------------------------------------- the fixture
@pytest.fixture(scope="module")
def ext_fixture(tmp_path_factory):
    if shutil.which("espeak-ng") is None and shutil.which("espeak") is None:
        pytest.skip("espeak-ng is not installed")
    from tools.hba_fixture import build

    return build(tmp_path_factory.mktemp("hba_ext"), per_class_train=2, per_class_test=1, ext_feats=True)


def test_the_fixture_writes_pt_features_the_baseline_reads_from_jsonl_and_parquet(ext_fixture, tmp_path):
    from tools.hba_fixture import OPENPOSE_KEYPOINTS

    jsonl, parquet = list(iter_samples(ext_fixture["test"])), list(iter_samples(ext_fixture["test_parquet"]))
    mosei = next(s for s in jsonl if s.dataset == "mosei_senti")
    assert mosei.ext_video_feats.name == f"pose/media/{mosei.id}.pt"
    video = read_ext_feats(mosei, "ext_video_feats")
    assert video.shape == (12, 3 * sum(OPENPOSE_KEYPOINTS.values())) and np.all(video[:, 2::3] == 1)
    for a, b in zip(jsonl, parquet):
        for name in ("ext_video_feats", "ext_audio_feats"):
            x, y = read_ext_feats(a, name), read_ext_feats(b, name)
            assert (x is None and y is None) or np.array_equal(x, y)
    model = DescriptorBaseline(processors=[], text=False, ext_feats=True).fit(ext_fixture["train"], tmp_path,
                                                                              progress=False)
    assert model.failures_ == {}
    assert model.columns_["tess"] == [f"ext_audio_{k}.{s}" for k in range(6) for s in ("mean", "std")]
    assert len(model.columns_["mosei_senti"]) == 2 * (411 + 6)
    from_jsonl = model.predict(ext_fixture["test"], tmp_path, progress=False)
    assert model.predict(ext_fixture["test_parquet"], tmp_path, progress=False) == from_jsonl
    assert len(from_jsonl) == 6 and model.predict_failures_ == {}
