"""Per-processor outcomes on real recordings: a face that is not there never costs the speech, the
order of ``-p`` never changes a result, and OUT's tables cover every run into it."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf

import bitbox
from bitbox.cli import main as cli
from tools import speech_synth

CLIP = "sense_and_sensibility_01_austen_64kb-0870.wav"


@pytest.fixture(scope="module")
def real_inputs(tmp_path_factory, librivox_dir, no_face_video, ffmpeg) -> Path:
    """A real reader's voice over a video without a face (a coffee cup), the same voice as an
    audio-only .mp4 (AAC, no video stream), and the voice alone as a .wav."""
    root = tmp_path_factory.mktemp("real_batch")
    samples, sr = sf.read(librivox_dir / CLIP, dtype="float32")
    speech_synth.video_with_audio(no_face_video, samples, sr, root / "speaker_off_camera.mp4")
    subprocess.run([ffmpeg, "-y", "-loglevel", "error", "-i", str(librivox_dir / CLIP), "-c:a", "aac",
                    str(root / "phone_audio_only.mp4")], check=True)
    shutil.copy(librivox_dir / CLIP, root / "reader.wav")
    return root


@pytest.fixture(scope="module")
def both_orders(real_inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("orders")
    runs = {}
    for order in ("face,speech", "speech,face"):
        code = cli(["run", str(real_inputs), "-o", str(out / order), "-p", order, "-q"])
        summary = pd.read_csv(out / order / "summary.csv", keep_default_na=False).set_index("recording_id")
        manifest = pd.read_csv(out / order / "manifest.csv", keep_default_na=False).set_index("recording_id")
        runs[order] = (code, summary, manifest)
    return runs


def test_no_face_keeps_the_speech(both_orders):
    code, summary, manifest = both_orders["face,speech"]
    assert code == 1  # a processor failed
    row = summary.loc["speaker_off_camera"]
    assert row["status"] == "partial"
    assert row["face.status"] == "failed" and "no face was found in any of the" in row["face.error"]
    assert row["speech.status"] == "ok" and row["speech.error"] == ""
    assert float(row["speech.speaking_time_s"]) > 2.0  # the reader speaks for most of the clip
    assert row["error"].startswith("face: ") and "speech" not in row["error"]
    assert manifest.loc["speaker_off_camera", "status"] == "partial"
    assert manifest.loc["speaker_off_camera", "face.error"] == row["face.error"]


def test_an_audio_only_mp4_gets_its_speech_measures(both_orders):
    _, summary, _ = both_orders["face,speech"]
    row = summary.loc["phone_audio_only"]
    assert row["speech.status"] == "ok"
    assert row["face.status"] == "not_applicable" and row["face.error"] == "the file has no video stream"
    assert row["status"] == "ok"  # nothing failed: the face processor did not apply
    wav = summary.loc["reader"]
    assert wav["face.status"] == "not_applicable" and wav["status"] == "ok"
    assert wav["face.error"] == "reads video recordings, not audio"


def test_the_order_of_processors_never_changes_a_result(both_orders):
    (_, a, ma), (_, b, mb) = both_orders["face,speech"][:3], both_orders["speech,face"][:3]
    columns = sorted(c for c in a.columns if c != "path")
    assert sorted(c for c in b.columns if c != "path") == columns
    pd.testing.assert_frame_equal(a[columns].sort_index(), b[columns].sort_index())
    assert (ma["status"] == mb["status"]).all()


def test_tables_cover_every_run_into_one_out(real_inputs, tmp_path):
    out = tmp_path / "out"
    first = bitbox.process_folder(real_inputs / "reader.wav", out, processors="speech", progress=False)
    assert first.counts == {"ok": 1, "partial": 0, "failed": 0, "already_done": 0}
    # A second folder into the same OUT: both recordings are in both tables.
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(real_inputs / "phone_audio_only.mp4", other / "phone.mp4")
    second = bitbox.process_folder(other, out, processors="speech", progress=False)
    assert sorted(second.summary["recording_id"]) == ["phone", "reader"]
    assert sorted(second.manifest["recording_id"]) == ["phone", "reader"]
    assert "1 recording: 1 processed, 0 already done, 0 failed; 2 recordings in" in second.describe()
    # Another processor on a recording already there: its columns join the row, the first stay.
    before = second.summary.set_index("recording_id").loc["reader", "speech.speaking_time_s"]
    third = bitbox.process_folder(real_inputs / "reader.wav", out, processors="language", progress=False)
    row = third.summary.set_index("recording_id").loc["reader"]
    assert row["speech.speaking_time_s"] == before and row["speech.status"] == "ok"
    assert row["language.status"] == "ok" and row["language.word_count"] > 5
    manifest = third.manifest.set_index("recording_id")
    assert manifest.loc["reader", "processors"] == "speech,language"
    # A rerun stays ok, and the manifest says it was already done.
    again = bitbox.process_folder(real_inputs / "reader.wav", out, processors="speech", progress=False)
    assert again.counts["already_done"] == 1 and again.counts["ok"] == 1
    rows = again.manifest.set_index("recording_id")
    assert rows.loc["reader", "status"] == "ok" and rows.loc["reader", "reused"] == "speech"
    assert again.summary.set_index("recording_id").loc["reader", "status"] == "ok"


def test_video_processors_do_not_apply_to_sound_only_files(real_inputs):
    from bitbox.processors.pose import PoseProcessor

    audio_only = bitbox.Recording(real_inputs / "phone_audio_only.mp4")
    assert audio_only.kind == "video"  # by its extension
    assert PoseProcessor().skip_reason(audio_only) == "the file has no video stream"
    assert PoseProcessor().skip_reason(bitbox.Recording(real_inputs / "speaker_off_camera.mp4")) is None


def test_a_second_site_with_the_same_file_names_gets_its_own_rows(real_inputs, tmp_path, librivox_dir):
    """siteA/sub01.wav and siteB/sub01.wav run into one OUT one after the other: nothing is overwritten."""
    clips = sorted(librivox_dir.glob("*.wav"))[:2]
    for site, clip in zip(("siteA", "siteB"), clips):
        (tmp_path / site).mkdir()
        shutil.copy(clip, tmp_path / site / "sub01.wav")
    out = tmp_path / "out"
    first = bitbox.process_folder(tmp_path / "siteA", out, processors="speech", progress=False)
    second = bitbox.process_folder(tmp_path / "siteB", out, processors="speech", progress=False)
    rows = second.summary.set_index("recording_id")
    assert len(rows) == 2 and "sub01" in rows.index
    other = next(rid for rid in rows.index if rid != "sub01")
    assert other.startswith("sub01_") and rows.loc[other, "path"] == str(tmp_path / "siteB" / "sub01.wav")
    assert rows.loc["sub01", "speech.duration_s"] == first.summary.set_index("recording_id").loc[
        "sub01", "speech.duration_s"]
    assert bitbox.Measurements.read(out / other)["speech"].provenance["input_path"].endswith("siteB/sub01.wav")
    # Run again: each file keeps its id and is already done.
    again = bitbox.process_folder(tmp_path / "siteB", out, processors="speech", progress=False)
    assert again.counts["already_done"] == 1 and len(again.summary) == 2


def test_one_run_per_out_at_a_time(real_inputs, tmp_path):
    import fcntl

    from bitbox.errors import ParameterError

    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".bitbox.lock", "a+") as held:  # another run holds OUT
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ParameterError, match="is being written by another bitbox run"):
            bitbox.process_folder(real_inputs / "reader.wav", out, processors="speech", progress=False)
    assert not (out / "summary.csv").exists()
    done = bitbox.process_folder(real_inputs / "reader.wav", out, processors="speech", progress=False)
    assert done.counts["ok"] == 1  # once it is released


def test_a_processor_bug_outside_compute_fails_that_processor_only(real_inputs, tmp_path, monkeypatch):
    from bitbox.processors.face import FaceProcessor

    def broken(self, recording):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(FaceProcessor, "skip_reason", broken)
    result = bitbox.process_folder(real_inputs / "speaker_off_camera.mp4", tmp_path / "out",
                                   processors=["face", "speech"], progress=False)
    row = result.summary.iloc[0]
    assert row["status"] == "partial" and row["speech.status"] == "ok"
    assert row["face.error"] == "internal error (ZeroDivisionError: division by zero); please report it with the log"
    m = bitbox.process(real_inputs / "speaker_off_camera.mp4", ["face", "speech"])
    assert m.processors == ["speech"] and m.failures["face"].startswith("internal error (ZeroDivisionError")


def test_clinical_features_need_every_processor_they_asked_for(real_inputs, tmp_path):
    """A partial recording (speech worked, face did not) is not a success for features that need both."""
    from bitbox.clinical.features import run_batch

    paths = [str(real_inputs / "speaker_off_camera.mp4"), str(real_inputs / "reader.wav")]
    done, summary, failed = run_batch(paths, tmp_path / "out", ["speech"], workers=1, scheduler=None, progress=False)
    assert set(done) == set(paths) and not failed
    done, summary, failed = run_batch(paths[:1], tmp_path / "out", ["face", "speech"], workers=1, scheduler=None,
                                      progress=False)
    assert not done and list(failed) == paths[:1]
    assert failed[paths[0]].startswith("face: ") and "no face was found" in failed[paths[0]]


def test_a_corrupt_video_is_not_taken_for_one_without_sound(real_inputs, tmp_path):
    broken = tmp_path / "cut.mp4"
    broken.write_bytes((real_inputs / "speaker_off_camera.mp4").read_bytes()[:2000])
    row = bitbox.process_folder(broken, tmp_path / "out", processors="speech", progress=False).summary.iloc[0]
    assert row["status"] == "failed" and row["speech.status"] == "failed"
    assert "no audio track" not in row["error"] and str(broken) in row["error"]


def test_a_video_cut_in_half_has_its_sound_refused_too(real_inputs, tmp_path, ffmpeg):
    """Index at the front (a phone's or a streaming copy's layout), the file cut in half: the sound that is
    left must not pass as the recording's speech."""
    front = tmp_path / "front.mp4"
    subprocess.run([ffmpeg, "-y", "-loglevel", "error", "-i", str(real_inputs / "speaker_off_camera.mp4"), "-c",
                    "copy", "-movflags", "+faststart", str(front)], check=True)
    cut = tmp_path / "cut.mp4"
    data = front.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    row = bitbox.process_folder(cut, tmp_path / "out", processors="speech", progress=False).summary.iloc[0]
    assert row["speech.status"] == "failed"
    assert re.search(r"is truncated: its header declares \d+\.\d\d s of audio but only \d+\.\d\d s can be decoded",
                     row["speech.error"])


def test_a_recording_named_dots_wav_gets_a_safe_id_inside_out(real_inputs, tmp_path):
    """`...wav` would have the id '..' and its results would land in OUT's parent (issue 18)."""
    shutil.copy(real_inputs / "reader.wav", tmp_path / "...wav")
    out = tmp_path / "study" / "out"
    done = bitbox.process_folder(tmp_path / "...wav", out, processors="speech", progress=False)
    assert done.summary["recording_id"].tolist() == ["__"] and done.counts["ok"] == 1
    assert float(done.summary.loc[0, "speech.speaking_time_s"]) > 2.0
    assert sorted(p.name for p in (tmp_path / "study").iterdir()) == ["out"]  # nothing beside OUT
    assert sorted(p.name for p in (out / "__").iterdir()) == ["speech.json", "speech.parquet"]
    assert bitbox.Measurements.read(out / "__")["speech"].provenance["input_sha256"] == \
        bitbox.Recording(real_inputs / "reader.wav").sha256
