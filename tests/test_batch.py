"""Batch runs through the CLI and the Python API: bad inputs, resuming, workers, discovery."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

import bitbox
from bitbox.batch import discover

from .conftest import make_bad_inputs, running_as_root


def bitbox_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bitbox", *args], capture_output=True, text=True, timeout=600)


def _fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def batch_inputs(tmp_path_factory, talking_head, sway_video, no_face_video) -> Path:
    """A folder with two good recordings and one of each kind of bad input."""
    root = tmp_path_factory.mktemp("inputs")
    shutil.copy(talking_head, root / "talking_head.mp4")
    (root / "site_b").mkdir()
    shutil.copy(sway_video, root / "site_b" / "sway.mp4")
    shutil.copy(no_face_video, root / "no_face.mp4")
    make_bad_inputs(root / "bad", talking_head)
    (root / "notes.txt").write_text("not a recording; ignored by discovery")
    (root / ".hidden.mp4").write_text("hidden files are skipped")
    return root


@pytest.fixture(scope="module")
def first_run(batch_inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "results"
    empty_folder = tmp_path_factory.mktemp("empty_folder")
    before = _fingerprint(batch_inputs)
    proc = bitbox_cli("run", str(batch_inputs), str(empty_folder), "-o", str(out), "-p", "face",
                      "--set", "face.frame_step=3", "-q")
    return proc, out, before, empty_folder


def test_bad_inputs_fail_alone_with_reasons(first_run, batch_inputs):
    proc, out, _, empty_folder = first_run
    assert proc.returncode == 1, proc.stderr
    assert "7 recordings: 2 processed, 0 already done, 5 failed" in proc.stdout
    manifest = pd.read_csv(out / "manifest.csv", keep_default_na=False).set_index("recording_id")
    expected = {
        "talking_head": ("ok", ""),
        "site_b__sway": ("ok", ""),
        "bad__empty": ("failed", "file is empty (0 bytes)"),
        "bad__notes_named_as_video": ("failed", "cannot be opened as a video"),
        "bad__truncated": ("failed", "truncated or corrupt"),
        "no_face": ("failed", "no face was found in any of the 7 analysed frames"),
        empty_folder.name: ("failed", "no recordings found in this folder"),
    }
    for rid, (status, reason) in expected.items():
        assert manifest.loc[rid, "status"] == status, rid
        assert reason in manifest.loc[rid, "reason"], (rid, manifest.loc[rid, "reason"])
    assert str(batch_inputs / "bad" / "empty.mp4") in manifest.loc["bad__empty", "reason"]
    assert len(manifest.loc["talking_head", "sha256"]) == 64
    # Per-processor outcomes: the one processor's status and reason beside the recording's.
    assert manifest.loc["talking_head", "face.status"] == "ok" and manifest.loc["talking_head", "face.error"] == ""
    assert manifest.loc["no_face", "face.status"] == "failed"
    assert manifest.loc["no_face", "face.error"] == manifest.loc["no_face", "reason"]


def test_without_processors_each_kind_gets_its_default(tmp_path, talking_head, librivox):
    """No -p: a video gets face, a real LibriVox clip speech, a text language; a transcript beside the clip is
    part of it (language's companion), not a recording; a default never measures another kind."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    wav, transcript = next(iter(librivox.values()))
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(talking_head), "-i", str(wav), "-c:v", "copy", "-c:a", "aac",
                    "-shortest", str(folder / "talking_head.mp4")], check=True, timeout=60)  # a video with sound
    shutil.copy(wav, folder / "reader.wav")
    (folder / "reader.txt").write_text(transcript)  # the clip's transcript: not a recording of its own
    (folder / "story.txt").write_text("We walked to the river in the morning. Then we sat down and talked. " * 3)
    out = tmp_path / "out"
    proc = bitbox_cli("run", str(folder), "-o", str(out), "--set", "face.frame_step=6", "-q")
    assert proc.returncode == 0, proc.stderr
    manifest = pd.read_csv(out / "manifest.csv", keep_default_na=False).set_index("recording_id")
    assert sorted(manifest.index) == ["reader", "story", "talking_head"]
    ran = {rid: {p: manifest.loc[rid, f"{p}.status"] for p in ("face", "speech", "language")} for rid in manifest.index}
    # a default runs on its own kind only: the others are not run on it at all (no status, no columns)
    assert ran == {"talking_head": {"face": "ok", "speech": "", "language": ""},
                   "reader": {"face": "", "speech": "ok", "language": ""},
                   "story": {"face": "", "speech": "", "language": "ok"}}
    assert manifest.loc["reader", "processors"] == "speech"
    summary = pd.read_csv(out / "summary.csv").set_index("recording_id")
    assert summary.loc["story", "language.word_count"] == 42
    assert summary.loc["reader", "speech.speaking_time_s"] > 1
    # a parameter of a default processor whose kind is absent is valid; a rerun reuses everything and keeps
    # what an earlier named run stored (speech on the video, which a default run does not run)
    assert bitbox_cli("run", str(folder / "talking_head.mp4"), "-o", str(out), "-p", "speech", "-q").returncode == 0
    again = bitbox_cli("run", str(folder), "-o", str(out), "--set", "face.frame_step=6", "--set", "eeg.l_freq=1", "-q")
    assert again.returncode == 0, again.stderr
    assert "3 already done" in again.stdout and "0 processed" in again.stdout
    summary = pd.read_csv(out / "summary.csv").set_index("recording_id")
    assert summary.loc["talking_head", "speech.status"] == "ok" and summary.loc["talking_head", "face.status"] == "ok"


def test_a_missing_input_is_a_usage_error_before_anything_runs(tmp_path, batch_inputs):
    out = tmp_path / "out"
    proc = bitbox_cli("run", str(batch_inputs / "talking_head.mp4"), str(tmp_path / "missing.mp4"), "-o", str(out),
                      "-q")
    assert proc.returncode == 2
    assert f"This input does not exist: '{tmp_path / 'missing.mp4'}'. Check the path(s); nothing was processed." \
        in proc.stderr
    assert not out.exists()  # checked before anything ran


def test_outputs_are_complete_and_nothing_is_half_written(first_run):
    _, out, _, _ = first_run
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == ["site_b__sway", "talking_head"]
    for rid in folders:
        assert sorted(p.name for p in (out / rid).iterdir()) == ["face.json", "face.parquet"]
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    summary = pd.read_csv(out / "summary.csv")
    # the face processor's key column (one row per recording and person) comes right after recording_id
    assert list(summary.columns[:5]) == ["recording_id", "person", "path", "status", "error"]
    assert len(summary) == 7 and summary["recording_id"].is_unique
    ok = summary.set_index("recording_id").loc["talking_head"]
    assert ok["face.face_detected_fraction"] >= 0.95 and ok["face.n_frames"] == 40
    stored = bitbox.Measurements.read(out / "talking_head")
    assert stored["face"].summary["n_frames"] == 40
    assert stored["face"].provenance["parameters"]["frame_step"] == 3


def test_inputs_are_never_modified(first_run, batch_inputs):
    _, _, before, _ = first_run
    assert _fingerprint(batch_inputs) == before


def test_rerun_skips_only_up_to_date_recordings(first_run, batch_inputs):
    _, out, _, _ = first_run
    stamp = _fingerprint(out / "talking_head")
    again = bitbox_cli("run", str(batch_inputs), "-o", str(out), "-p", "face", "--set", "face.frame_step=3", "-q")
    assert "2 already done" in again.stdout and "0 processed" in again.stdout
    assert _fingerprint(out / "talking_head") == stamp
    manifest = pd.read_csv(out / "manifest.csv", keep_default_na=False).set_index("recording_id")
    # The row stays ok with its values; that it was already done is the manifest's business.
    assert manifest.loc["talking_head", "status"] == "ok" and manifest.loc["talking_head", "reused"] == "face"
    summary = pd.read_csv(out / "summary.csv").set_index("recording_id")
    assert summary.loc["talking_head", "status"] == "ok" and summary.loc["talking_head", "face.n_frames"] == 40
    assert manifest.loc["no_face", "status"] == "failed" and manifest.loc["no_face", "reused"] == ""

    (out / "site_b__sway" / "face.json").unlink()  # an interrupted result: recomputed alone
    partial = bitbox_cli("run", str(batch_inputs), "-o", str(out), "-p", "face", "--set", "face.frame_step=3", "-q")
    assert "1 processed, 1 already done" in partial.stdout
    assert pd.read_csv(out / "manifest.csv", keep_default_na=False).set_index("recording_id").loc[
        "site_b__sway", "reused"] == ""

    changed = bitbox_cli("run", str(batch_inputs / "talking_head.mp4"), "-o", str(out),
                         "--set", "face.frame_step=4", "-q")
    assert "1 processed" in changed.stdout, changed.stdout + changed.stderr
    assert bitbox.Measurements.read(out / "talking_head")["face"].summary["n_frames"] == 30
    forced = bitbox_cli("run", str(batch_inputs / "talking_head.mp4"), "-o", str(out),
                        "--set", "face.frame_step=4", "--overwrite", "-q")
    assert "1 processed" in forced.stdout and forced.returncode == 0


def test_two_workers_give_identical_files(tmp_path, talking_head, sway_video):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(talking_head, inputs / "a.mp4")
    shutil.copy(sway_video, inputs / "b.mp4")
    one = bitbox.process_folder(inputs, tmp_path / "one", workers=1, progress=False, frame_step=5)
    two = bitbox.process_folder(inputs, tmp_path / "two", workers=2, progress=False, frame_step=5)
    assert one.counts == two.counts == {"ok": 2, "partial": 0, "failed": 0, "already_done": 0}
    for rid in ("a", "b"):
        assert (tmp_path / "one" / rid / "face.parquet").read_bytes() == \
               (tmp_path / "two" / rid / "face.parquet").read_bytes()
    pd.testing.assert_frame_equal(one.summary, two.summary)


def test_unreadable_file_fails_alone(talking_head):
    # A processor that needs no package data: as "nobody" the virtual environment itself may be unreadable
    # (e.g. a checkout under a private temporary folder), which is not what this test is about.
    from tests.crashing import CrashingProcessor

    folder = Path(tempfile.mkdtemp(prefix="bitbox-perm-"))  # folders any user may enter
    out = Path(tempfile.mkdtemp(prefix="bitbox-out-"))
    folder.chmod(0o755)
    out.chmod(0o777)
    shutil.copy(talking_head, folder / "fine.mp4")
    shutil.copy(talking_head, folder / "locked.mp4")
    (folder / "locked.mp4").chmod(0)
    as_root = running_as_root()
    # Warm-up as the current user, so every module the batch imports lazily is loaded before the switch
    # (an ordinary user may not be allowed to read the Python installation).
    warm = Path(tempfile.mkdtemp())
    bitbox.process_folder(folder / "fine.mp4", warm, processors=[CrashingProcessor()], progress=False)
    shutil.rmtree(warm)
    try:
        if as_root:
            os.seteuid(65534)  # root reads everything: run the batch as an ordinary user
        try:
            result = bitbox.process_folder(folder, out, processors=[CrashingProcessor()], progress=False)
        finally:
            if as_root:
                os.seteuid(0)
        manifest = result.manifest.set_index("recording_id")
        assert manifest.loc["fine", "status"] == "ok"
        assert manifest.loc["locked", "status"] == "failed"
        assert "locked.mp4: permission denied" in manifest.loc["locked", "reason"]
    finally:
        shutil.rmtree(folder)
        shutil.rmtree(out)


def test_no_recordings_and_unknown_processor_are_usage_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = bitbox_cli("run", str(empty), "-o", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "No recordings to process" in proc.stderr and str(empty) in proc.stderr
    assert not (tmp_path / "out").exists()
    proc = bitbox_cli("run", str(empty), "-o", str(tmp_path / "out"), "-p", "fcae")
    assert proc.returncode == 2 and "Did you mean 'face'?" in proc.stderr
    proc = bitbox_cli("run", str(empty), "-o", str(tmp_path / "out"), "--set", "face.frame_step")
    assert proc.returncode == 2 and "--set expects KEY=VALUE" in proc.stderr


def test_discovery_is_sorted_recursive_and_ids_are_unique(tmp_path):
    for rel in ("b/clip.mp4", "a/clip.mp4", "a/clip.avi", "top.mkv", ".git/x.mp4", "a/readme.md", "out/old.mp4"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    jobs, problems = discover([tmp_path], ["video"], exclude=tmp_path / "out")
    assert [(j.recording_id, Path(j.path).relative_to(tmp_path).as_posix()) for j in jobs] == [
        ("a__clip_avi", "a/clip.avi"), ("a__clip_mp4", "a/clip.mp4"), ("b__clip", "b/clip.mp4"),
        ("top", "top.mkv")]
    assert problems == []


def test_numeric_recording_ids_stay_text(tmp_path):
    """Files named 001.txt and 1002.txt keep the ids "001" and "1002" in the result and the report."""
    (tmp_path / "in").mkdir()
    for stem in ("001", "1002"):
        (tmp_path / "in" / f"{stem}.txt").write_text("We walked to the river and sat down.")
    result = bitbox.process_folder(tmp_path / "in", tmp_path / "out", ["language"], progress=False)
    assert result.summary["recording_id"].tolist() == ["001", "1002"]
    assert result.manifest["recording_id"].tolist() == ["001", "1002"]
    assert (tmp_path / "out" / "001" / "language.json").is_file()
    bitbox.write_report(tmp_path / "out")
    assert "<a href='recordings/001.html'>001</a>" in (tmp_path / "out" / "report" / "index.html").read_text()


def test_list_and_catalog_commands():
    listed = bitbox_cli("list", "--measures")
    processors, _, kinds = listed.stdout.partition("\nrecording kinds:\n")
    names = [ln.split()[0] for ln in processors.splitlines() if not ln.startswith(" ")]
    assert listed.returncode == 0 and names == ["eeg", "face", "language", "narrative", "pose", "speakers", "speech",
                                              "voice_windows"]
    defaults = {ln.split()[0]: ln.split("default: ")[1].split()[0] for ln in kinds.splitlines() if "default: " in ln}
    assert defaults == {"audio": "speech", "eeg": "eeg", "text": "language", "video": "face"}
    assert "head_roll" in listed.stdout and "[deg]" in listed.stdout
    csv = bitbox_cli("catalog", "--format", "csv")
    assert csv.returncode == 0 and "face,head_roll,timeseries,deg" in csv.stdout


def test_a_crashing_worker_fails_only_its_recording(tmp_path, talking_head):
    from tests.crashing import CrashingProcessor

    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.mp4", "crash_me.mp4", "b.mp4", "c.mp4"):
        shutil.copy(talking_head, folder / name)
    result = bitbox.process_folder(folder, tmp_path / "out", processors=[CrashingProcessor()], workers=2,
                                   progress=False)
    manifest = result.manifest.set_index("recording_id")
    assert manifest.loc["crash_me", "status"] == "failed"
    assert "worker process processing this recording died (exit code 3)" in manifest.loc["crash_me", "reason"]
    assert (manifest.drop(index="crash_me")["status"] == "ok").all()
    assert not (tmp_path / "out" / "crash_me").exists()  # no half-written file left behind
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name.endswith(".tmp")]


def test_a_recording_over_the_timeout_is_stopped_and_the_rest_go_on(tmp_path, talking_head):
    from tests.crashing import CrashingProcessor

    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.mp4", "hang_forever.mp4"):
        shutil.copy(talking_head, folder / name)
    # A timeout far above the few seconds a worker needs to start and read the clip on a loaded machine.
    result = bitbox.process_folder(folder, tmp_path / "out", processors=[CrashingProcessor()], timeout_s=20,
                                   progress=False)
    manifest = result.manifest.set_index("recording_id")
    assert manifest.loc["a", "status"] == "ok"
    assert manifest.loc["hang_forever", "status"] == "failed"
    assert "timed out after 20 s" in manifest.loc["hang_forever", "reason"]
    with pytest.raises(bitbox.ParameterError, match="'timeout_s' parameter must be a positive number"):
        bitbox.process_folder(folder, tmp_path / "out2", processors=[CrashingProcessor()], timeout_s=0)


def test_a_killed_batch_resumes_to_the_same_result(tmp_path, talking_head, sway_video):
    import signal
    import time

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        shutil.copy(talking_head if i % 2 else sway_video, folder / f"rec{i}.mp4")
    clean = tmp_path / "clean"
    assert bitbox_cli("run", str(folder), "-o", str(clean), "-q", "--set", "face.frame_step=2").returncode == 0
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "bitbox", "run", str(folder), "-o", str(killed), "-q",
                             "--set", "face.frame_step=2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (killed / "rec0" / "face.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # mid-batch: rec0 done, rec1 under way
    proc.wait()
    assert not (killed / "rec3" / "face.json").exists()
    stamp = (killed / "rec0" / "face.parquet").stat().st_mtime_ns
    again = bitbox_cli("run", str(folder), "-o", str(killed), "-q", "--set", "face.frame_step=2")
    assert again.returncode == 0 and "already done" in again.stdout
    assert (killed / "rec0" / "face.parquet").stat().st_mtime_ns == stamp  # not recomputed
    for rid in (f"rec{i}" for i in range(4)):
        assert (killed / rid / "face.parquet").read_bytes() == (clean / rid / "face.parquet").read_bytes()
        assert sorted(p.name for p in (killed / rid).iterdir()) == ["face.json", "face.parquet"]
    assert not [p for p in killed.rglob("*") if p.name.endswith(".tmp")]
    # The tables too: same rows, same columns, same values, whatever the kill left (timings aside).
    volatile = ["path", "seconds", "finished_utc", "reused"]
    for name in ("summary.csv", "manifest.csv"):
        a = pd.read_csv(killed / name, keep_default_na=False)
        b = pd.read_csv(clean / name, keep_default_na=False)
        assert list(a.columns) == list(b.columns)
        pd.testing.assert_frame_equal(a.drop(columns=[c for c in volatile if c in a]),
                                      b.drop(columns=[c for c in volatile if c in b]))


# ---------------------------------------------------------------------------- Dask
def test_dask_local_cluster_gives_the_pool_s_files(tmp_path, talking_head, sway_video):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(talking_head, folder / "talk.mp4")
    shutil.copy(sway_video, folder / "sway.mp4")
    pool = bitbox.process_folder(folder, tmp_path / "pool", processors=["face"], workers=2, progress=False,
                                 frame_step=3)
    dask = bitbox.process_folder(folder, tmp_path / "dask", processors=["face"], workers=2, scheduler="local",
                                 progress=False, frame_step=3)
    assert pool.counts == dask.counts == {"ok": 2, "partial": 0, "failed": 0, "already_done": 0}
    for rid in ("talk", "sway"):
        assert (tmp_path / "pool" / rid / "face.parquet").read_bytes() == \
            (tmp_path / "dask" / rid / "face.parquet").read_bytes()
        a, b = (json.loads((tmp_path / d / rid / "face.json").read_text()) for d in ("pool", "dask"))
        assert a["summary"] == b["summary"]
    # A rerun through Dask skips everything.
    again = bitbox.process_folder(folder, tmp_path / "dask", processors=["face"], workers=2, scheduler="local",
                                  progress=False, frame_step=3)
    assert again.counts["already_done"] == 2


def test_dask_worker_crash_fails_only_its_recording(tmp_path, talking_head):
    from tests.crashing import CrashingProcessor

    folder = tmp_path / "in"
    folder.mkdir()
    # More recordings than workers, so that some wait for a worker while crash_me kills its own: a
    # worker killed by crash_me must not take a waiting recording's retries with it.
    for name in ("a.mp4", "b.mp4", "crash_me.mp4", "c.mp4", "d.mp4", "e.mp4"):
        shutil.copy(talking_head, folder / name)
    result = bitbox.process_folder(folder, tmp_path / "out", processors=[CrashingProcessor()], workers=2,
                                   scheduler="local", progress=False)
    manifest = result.manifest.set_index("recording_id")
    assert manifest.loc["crash_me", "status"] == "failed"
    assert "Dask workers processing this recording died every time" in manifest.loc["crash_me", "reason"]
    assert (manifest.drop(index="crash_me")["status"] == "ok").all()
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name.endswith(".tmp")]


def test_a_dask_worker_dying_mid_task_gets_the_recording_retried(tmp_path, talking_head):
    from tests.crashing import CrashingProcessor

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(talking_head, folder / "a.mp4")
    marker = tmp_path / "killed-once"
    result = bitbox.process_folder(folder, tmp_path / "out", processors=[CrashingProcessor(
        kill_once=str(marker))], workers=1, scheduler="local", progress=False)
    assert marker.exists()  # the first attempt killed its Dask worker ...
    assert result.counts == {"ok": 1, "partial": 0, "failed": 0, "already_done": 0}  # ... and the retry finished the recording


def test_dask_timeout_and_bad_scheduler(tmp_path, talking_head):
    from tests.crashing import CrashingProcessor

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(talking_head, folder / "hang.mp4")
    shutil.copy(talking_head, folder / "fine.mp4")
    # Each recording runs in a child process of its Dask worker: starting one took over 5 s on a loaded CI
    # machine, so the timeout leaves ample room for the fine one.
    result = bitbox.process_folder(folder, tmp_path / "out", processors=[CrashingProcessor()], workers=2,
                                   scheduler="local", timeout_s=30, progress=False)
    manifest = result.manifest.set_index("recording_id")
    assert "timed out after 30 s" in manifest.loc["hang", "reason"]
    assert manifest.loc["fine", "status"] == "ok", manifest.loc["fine", "reason"]
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}), \
            pytest.raises(bitbox.ParameterError, match="Cannot reach the Dask scheduler"):
        bitbox.process_folder(folder, tmp_path / "x", processors=["face"], scheduler="tcp://127.0.0.1:9",
                              progress=False)


def test_set_values_take_json_and_python_spellings():
    from bitbox.cli import _parse_sets

    assert _parse_sets(["face.blendshapes=False", "face.tracking=true", "face.roi=10,20,300,200", "face.person=2",
                        "face.face_model=None", "face.person_name=all"]) == {
        "face.blendshapes": False, "face.tracking": True, "face.roi": "10,20,300,200", "face.person": 2,
        "face.face_model": None, "face.person_name": "all"}


def test_a_script_without_the_main_guard_is_told_what_to_do(tmp_path):
    """Worker processes are spawned and import the script again: process_folder() at a script's top level,
    not under `if __name__ == "__main__":`, is stopped in each worker with the remedy (not a lock error)."""
    (tmp_path / "in").mkdir()
    for name in ("a", "b"):
        (tmp_path / "in" / f"{name}.txt").write_text("We walked to the river. Then we talked.\n")
    script = tmp_path / "noguard.py"
    script.write_text("import bitbox\nbitbox.process_folder('in', 'out', ['language'], workers=2, progress=False)\n")
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert "Put the call under `if __name__ == \"__main__\":`" in run.stderr, run.stderr[-3000:]
    assert str(script) in run.stderr and "is being written by another bitbox run" not in run.stderr
