"""Patient data stays put (issue 18, paths and concurrency): safe recording ids, every write inside
OUT, FIFOs/devices/sockets refused unopened, scratch files inside OUT (and cleaned after a
``kill -9``), one writer per OUT (lock with PID/host/since, ``--wait``, stale locks taken over),
and OUT that is a file or read-only as a usage error."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bitbox
from bitbox import Measure, Processor
from bitbox.batch import LOCK_FILE, SCRATCH_DIR, discover
from bitbox.errors import ParameterError, RecordingError
from bitbox.fileio import (MAX_NAME_BYTES, SCRATCH_ENV, OutsideOutputError, confined, remove_stale_scratch,
                           safe_name)
from bitbox.framestore import SpillFile
from bitbox.recording import sha256_file

PY = sys.executable


class ScratchProbe(Processor):
    """Writes one spill record and notes where its spill file was (in ``probe_dir/<stem>.txt``)."""

    name = "scratch_probe"
    version = "1"
    input_kinds = ("video", "audio")
    measures = (Measure("n", "1", "Records spilled.", "summary", (0, 1e9)),
                Measure("value", "1", "Constant 1.", valid_range=(0, 1)))

    def __init__(self, *, probe_dir: str | None = None):
        self.probe_dir = probe_dir

    def compute(self, recording, sink, progress=None):
        with SpillFile((2,), prefix="bitbox-probe-") as spill:
            spill.write(np.ones(2))
            if self.probe_dir:
                Path(self.probe_dir, f"{recording.path.stem}.txt").write_text(spill.path)
        sink.append(pd.DataFrame({"time_s": [0.0], "value": [1.0]}))
        return {"n": 1.0}


@contextlib.contextmanager
def _within(seconds: float):
    """Fail (instead of hanging for ever) when the block takes longer than ``seconds``."""
    def expire(*_):
        raise TimeoutError(f"still running after {seconds} s: something blocked")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir())


# ---------------------------------------------------------------------------- ids
@settings(max_examples=25)
@given(st.text(min_size=0, max_size=150))
def test_any_text_becomes_one_safe_folder_name(text):
    name = safe_name(text)
    assert name and name not in (".", "..") and not name.startswith(".")
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert not any(ord(c) < 32 or ord(c) == 127 for c in name)
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert Path(name).name == name and len(Path(name).parts) == 1
    assert safe_name(name) == name  # already safe: unchanged


@pytest.mark.parametrize("text, expected", [
    ("..", "__"), (".", "_"), ("", "recording"), ("   ", "recording"), (".hidden", "_hidden"),
    ("a/b\\c", "a_b_c"), ("tab\there\nnul\x00", "tab_here_nul_"), ("site_a__sub-01 (2)", "site_a__sub-01 (2)"),
    ("Zoë", "Zoë"),
])
def test_safe_name_examples(text, expected):
    assert safe_name(text) == expected


def test_long_names_are_cut_and_stay_distinct():
    a, b = "x" * 300 + "a", "x" * 300 + "b"
    assert safe_name(a) != safe_name(b)
    assert len(safe_name(a).encode()) == MAX_NAME_BYTES and safe_name(a).startswith("x" * 100)


def test_ids_that_collide_after_sanitising_are_disambiguated(tmp_path):
    for name in ("a\tb.wav", "a_b.wav", "a\nb.wav"):
        (tmp_path / name).write_bytes(b"x")
    jobs, _ = discover([tmp_path], ["audio"])
    ids = [j.recording_id for j in jobs]
    assert len(set(ids)) == 3 and all(rid == safe_name(rid) and rid.startswith("a_b_wav") for rid in ids)
    assert sorted(Path(j.path).name for j in jobs) == ["a\tb.wav", "a\nb.wav", "a_b.wav"]
    # A file named explicitly: `...wav` would have the id '..' (OUT's parent); it gets '__'.
    (tmp_path / "...wav").write_bytes(b"x")
    assert [j.recording_id for j in discover([tmp_path / "...wav"], ["audio"])[0]] == ["__"]
    assert bitbox.Recording(tmp_path / "...wav").id == "__"


def test_a_dots_named_recording_lands_inside_out(tmp_path, talking_head):
    shutil.copy(talking_head, tmp_path / "....mp4")  # the stem is "...": without sanitising OUT/... is fine,
    shutil.copy(talking_head, tmp_path / "...mp4")   # but "..": OUT's parent
    out = tmp_path / "parent" / "out"
    result = bitbox.process_folder([tmp_path / "...mp4", tmp_path / "....mp4"], out, [ScratchProbe()],
                                   progress=False)
    assert sorted(result.manifest["recording_id"]) == ["__", "___"]
    assert (result.manifest["status"] == "ok").all()
    assert sorted(p.name for p in (tmp_path / "parent").iterdir()) == ["out"]  # nothing beside OUT
    assert (out / "__" / "scratch_probe.json").is_file() and (out / "___" / "scratch_probe.json").is_file()


def test_hidden_files_in_a_folder_search_are_skipped_and_named(tmp_path, talking_head, caplog):
    """A folder search leaves out hidden files (``...mp4`` too: its name starts with a dot), and says which."""
    inputs = tmp_path / "in"
    (inputs / ".hidden").mkdir(parents=True)
    shutil.copy(talking_head, inputs / "visit.mp4")
    shutil.copy(talking_head, inputs / "...mp4")
    shutil.copy(talking_head, inputs / ".hidden" / "b.mp4")
    shutil.copy(talking_head, inputs / "._visit.mp4")  # a macOS companion file: counted, not named
    with caplog.at_level("INFO", logger="bitbox"):
        jobs, _ = discover([inputs], ["video"])
    assert [j.recording_id for j in jobs] == ["visit"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [f"2 hidden file(s) skipped (their name, or a folder on the way, starts with '.'): "
                        f"{inputs / '...mp4'}, {inputs / '.hidden' / 'b.mp4'}. Give such a file by name to process "
                        "it, or rename it."]
    assert "1 macOS '._' companion file(s) skipped (not recordings)" in caplog.text


def test_control_characters_in_a_name_reach_neither_the_tables_nor_the_terminal(tmp_path, talking_head):
    import io
    import logging

    from bitbox.log import SafeFormatter, logger

    name = "x\x1b]0;PWNED\x07\x1b[2J\nline.mp4"  # retitles and clears a terminal, forges a log line
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(talking_head, inputs / name)
    os.mkfifo(inputs / "bad\x1b[2J.mp4")  # fails: its reason, with the name, is logged
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter("%(levelname)s [bitbox] %(message)s"))  # the command line's formatter
    logger.addHandler(handler)
    try:
        result = bitbox.process_folder(inputs, tmp_path / "out", [ScratchProbe()], progress=False)
    finally:
        logger.removeHandler(handler)
    assert sorted(result.manifest["status"]) == ["failed", "ok"]
    manifest = (tmp_path / "out" / "manifest.csv").read_text(encoding="utf-8")
    assert "\x1b" not in manifest and "\x07" not in manifest
    assert "x\\x1b]0;PWNED\\x07\\x1b[2J\\x0aline.mp4" in manifest
    logged = stream.getvalue()
    assert "\x1b" not in logged and "bad\\x1b[2J.mp4" in logged, logged
    assert all(line.startswith(("WARNING", "INFO", "DEBUG", "ERROR")) for line in logged.splitlines())
    # the report shows the name harmlessly (HTML-escaped) and the pages themselves keep their line breaks
    index = bitbox.write_report(tmp_path / "out")
    page = index.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>\n") and "\x1b" not in page and page.count("\n") > 10


# ---------------------------------------------------------------------------- writes inside OUT
def test_confined_follows_links_and_dotdot(tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    assert confined(out, "rec") == out / "rec"
    (out / "link").symlink_to(elsewhere)
    for target in ("../x", "link", "link/face.json", str(elsewhere), "rec/../../x"):
        with pytest.raises(OutsideOutputError, match="outside the output folder"):
            confined(out, target)
    linked_out = tmp_path / "linked_out"
    linked_out.symlink_to(out)  # OUT itself may be a link
    assert confined(linked_out, "rec") == linked_out / "rec"


def test_a_recording_folder_linked_outside_out_fails_alone_and_nothing_is_written_there(tmp_path, talking_head):
    inputs, out, elsewhere = tmp_path / "in", tmp_path / "out", tmp_path / "elsewhere"
    for folder in (inputs, out, elsewhere):
        folder.mkdir()
    shutil.copy(talking_head, inputs / "a.mp4")
    shutil.copy(talking_head, inputs / "b.mp4")
    (out / "b").symlink_to(elsewhere)  # planted: OUT/b leads out of OUT
    (elsewhere / ".x.tmp").write_text("not Bitbox's")
    result = bitbox.process_folder(inputs, out, [ScratchProbe()], progress=False)
    manifest = result.manifest.set_index("recording_id")
    assert manifest.loc["a", "status"] == "ok"
    assert manifest.loc["b", "status"] == "failed"
    assert f"resolves to {elsewhere.resolve()}, outside the output folder" in manifest.loc["b", "reason"]
    assert _files(elsewhere) == [".x.tmp"]  # nothing written, nothing deleted through the link
    assert (out / "b").is_symlink()


# ---------------------------------------------------------------------------- FIFOs, devices, sockets
@pytest.fixture
def special_files(tmp_path):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    device = tmp_path / "null.wav"
    device.symlink_to(os.devnull)
    sock_path = tmp_path / "sock.wav"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    yield {"a named pipe (FIFO)": fifo, "a character device": device, "a socket": sock_path}
    sock.close()


def test_fifos_devices_and_sockets_are_refused_without_being_opened(special_files):
    for what, path in special_files.items():
        with _within(5):
            with pytest.raises(RecordingError) as info:
                bitbox.process(path)
            assert str(info.value) == (f"{path}: is {what}, not a regular file; it was not opened (reading it could "
                                       "block or never end). Copy the recording to an ordinary file and process that")
            with pytest.raises(RecordingError, match=f"is {what.replace('(', '.').replace(')', '.')}"):
                sha256_file(path)  # e.g. a companion transcript that is a FIFO


def test_a_fifo_in_a_batch_is_a_failed_row_and_the_batch_finishes(tmp_path, talking_head):
    inputs = tmp_path / "in"
    inputs.mkdir()
    os.mkfifo(inputs / "stuck.mp4")
    os.mkfifo(tmp_path / "named.mp4")
    shutil.copy(talking_head, inputs / "fine.mp4")
    out = tmp_path / "out"
    started = time.monotonic()
    proc = subprocess.run([PY, "-m", "bitbox", "run", str(inputs), str(tmp_path / "named.mp4"), "-o", str(out),
                           "-p", "face", "--set", "face.frame_step=10", "-q"],
                          capture_output=True, text=True, timeout=60)
    assert time.monotonic() - started < 60
    assert proc.returncode == 1, proc.stderr
    assert "3 recordings: 1 processed, 0 already done, 2 failed" in proc.stdout
    manifest = pd.read_csv(out / "manifest.csv", keep_default_na=False).set_index("recording_id")
    assert manifest.loc["fine", "status"] == "ok"
    for rid, path in (("stuck", inputs / "stuck.mp4"), ("named", tmp_path / "named.mp4")):
        assert manifest.loc[rid, "status"] == "failed"
        assert manifest.loc[rid, "reason"].startswith(f"{path}: is a named pipe (FIFO), not a regular file")


# ---------------------------------------------------------------------------- scratch files
def test_spill_files_go_to_the_batch_scratch_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(SCRATCH_ENV, str(tmp_path / "scratch"))
    with SpillFile((3,), prefix="bitbox-face-") as spill:
        spill.write(np.zeros(3))
        assert Path(spill.path).parent.parent == tmp_path / "scratch"
        assert Path(spill.path).parent.name.startswith("bitbox-face-")
    assert _files(tmp_path / "scratch") == []


def test_notebook_spill_files_name_their_process_and_dead_ones_are_removed(tmp_path, monkeypatch):
    from bitbox.fileio import _HOST

    monkeypatch.delenv(SCRATCH_ENV, raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([PY, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f"bitbox-face-pid{dead_pid}-{_HOST}-abcd_123"
    live = tmp_path / f"bitbox-face-pid{os.getppid()}-{_HOST}-abcd_124"
    other_host = tmp_path / f"bitbox-face-pid{dead_pid}-{_HOST}x-abcd_125"
    not_ours = tmp_path / "bitbox-face-8h2k3j4l"  # an older Bitbox's name, or another program's: left alone
    for folder in (stale, live, other_host, not_ours):
        folder.mkdir()
        (folder / "records.f32").write_bytes(b"\0" * 8)
    with SpillFile((3,), prefix="bitbox-face-") as spill:
        spill.write(np.zeros(3))
        mine = Path(spill.path).parent
        assert mine.parent == tmp_path and mine.name.startswith(f"bitbox-face-pid{os.getpid()}-{_HOST}-")
        assert not stale.exists() and live.exists() and other_host.exists() and not_ours.exists()
    assert not mine.exists()
    assert remove_stale_scratch(tmp_path) == []


@pytest.mark.parametrize("how", ["pool", "dask_timeout"])
def test_worker_processes_keep_their_scratch_files_inside_out(tmp_path, talking_head, how):
    inputs, probes, out = tmp_path / "in", tmp_path / "probes", tmp_path / "out"
    inputs.mkdir()
    probes.mkdir()
    for name in ("a.mp4", "b.mp4"):
        shutil.copy(talking_head, inputs / name)
    kwargs = {"workers": 2} if how == "pool" else {"workers": 1, "scheduler": "local", "timeout_s": 60}
    result = bitbox.process_folder(inputs, out, [ScratchProbe(probe_dir=str(probes))], progress=False, **kwargs)
    assert result.counts["ok"] == 2
    for name in ("a", "b"):
        spill = Path((probes / f"{name}.txt").read_text())
        assert spill.parent.parent.parent == (out / SCRATCH_DIR).resolve()  # OUT/.bitbox-tmp/<run>/bitbox-probe-*/
    assert not (out / SCRATCH_DIR).exists()  # removed at the end of the run


@pytest.fixture(scope="module")
def long_video(tmp_path_factory, talking_head) -> Path:
    """The talking head looped to 480 frames (16 s): long enough to be caught mid-run."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.fail("ffmpeg is missing: apt-get install ffmpeg (make test does)", pytrace=False)
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    subprocess.run([ffmpeg, "-loglevel", "error", "-stream_loop", "3", "-i", str(talking_head), "-c", "copy",
                    str(path)], check=True)
    return path


def _poll(predicate, timeout_s: float = 60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("timed out waiting")


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def test_a_killed_face_run_leaves_its_spill_file_only_inside_out_and_the_rerun_removes_it(tmp_path, long_video):
    out, system_tmp = tmp_path / "out", tmp_path / "system_tmp"
    system_tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(system_tmp))  # the runs' system temporary folder, watched
    command = [PY, "-m", "bitbox", "-v", "run", str(long_video), "-o", str(out), "-q", "--set", "face.frame_step=3"]
    proc = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        spill = _poll(lambda: next((p for p in out.glob(f"{SCRATCH_DIR}/*/bitbox-face-*/records.f32")
                                    if p.stat().st_size > 0), None))
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole process group, mid-run
        proc.wait()
    assert spill.is_file() and spill.stat().st_size > 0  # the landmarks of a run killed mid-way ...
    # ... only inside OUT (the landmarks' and the blendshapes' spill files)
    assert all(_inside(p, out / SCRATCH_DIR) for p in out.rglob("records.f32")) and spill in out.rglob("records.f32")
    assert list(system_tmp.iterdir()) == []  # nothing in the system temporary folder
    assert not (out / "long" / "face.json").exists()
    left = len(list(out.rglob("records.f32")))
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert "1 recording: 1 processed, 0 already done, 0 failed" in rerun.stdout
    assert f"removing {left} temporary file(s) in {out / SCRATCH_DIR}, left by an interrupted run" in rerun.stderr
    assert "taking over the lock of a bitbox run that ended without releasing it" in rerun.stderr
    assert f"PID {proc.pid} on host {socket.gethostname()}" in rerun.stderr
    assert not list(out.rglob("records.f32")) and not (out / SCRATCH_DIR).exists()
    assert list(system_tmp.iterdir()) == []
    assert sorted(p.name for p in (out / "long").iterdir()) == ["face.json", "face.parquet"]
    stored = bitbox.Measurements.read(out / "long")["face"]
    assert stored.summary["n_frames"] == 160 and len(stored.timeseries) == 160
    assert (out / LOCK_FILE).read_text() == ""  # released


# ---------------------------------------------------------------------------- one writer per OUT
def test_two_concurrent_runs_the_second_stops_at_once_or_waits(tmp_path, long_video):
    out = tmp_path / "out"
    command = [PY, "-m", "bitbox", "run", str(long_video), "-o", str(out), "-q"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        holder = _poll(lambda: (out / LOCK_FILE).is_file() and (out / LOCK_FILE).read_text())
        info = json.loads(holder)
        assert info["pid"] == first.pid and info["host"] == socket.gethostname()
        assert info["command"] == f"bitbox run {long_video} -o {out} -q"
        waiting = subprocess.Popen([*command, "--wait"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started = time.monotonic()
        second = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert time.monotonic() - started < 30 and first.poll() is None  # stopped while the first still runs
        assert second.returncode == 2
        assert second.stderr == (f"bitbox: error: {out} is being written by another bitbox run (PID {first.pid} on "
                                 f"host {info['host']}, since {info['since']}: bitbox run {long_video} -o {out} -q). "
                                 "Wait for that run to finish (or run again with --wait, wait=True in Python), or "
                                 "write to another output folder.\n")
        first_out, first_err = first.communicate(timeout=120)
        waited_out, waited_err = waiting.communicate(timeout=120)
    finally:
        first.kill()
    assert first.returncode == 0, first_err
    assert "1 recording: 1 processed, 0 already done, 0 failed" in first_out
    assert sorted(p.name for p in (out / "long").iterdir()) == ["face.json", "face.parquet"]
    assert bitbox.Measurements.read(out / "long")["face"].summary["n_frames"] == 480
    # The waiting run said so, started after the first finished and reused its complete result.
    assert waiting.returncode == 0, waited_err
    assert f"{out} is being written by another bitbox run (PID {first.pid}" in waited_err
    assert "waiting for it to finish" in waited_err and "the other run into" in waited_err
    assert "1 recording: 0 processed, 1 already done, 0 failed" in waited_out
    assert pd.read_csv(out / "manifest.csv", keep_default_na=False)["reused"].tolist() == ["face"]


def test_a_held_lock_stops_the_run_before_anything_in_out_is_touched(tmp_path, talking_head):
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    shutil.copy(talking_head, inputs / "a.mp4")
    (out / "a").mkdir(parents=True)
    (out / SCRATCH_DIR / "run1" / "bitbox-face-x").mkdir(parents=True)
    leftovers = [out / ".summary.csv.k2j4h5g6.tmp", out / "a" / ".face.parquet.a1b2c3d4.tmp",
                 out / SCRATCH_DIR / "run1" / "bitbox-face-x" / "records.f32"]
    for path in leftovers:
        path.write_bytes(b"the other run's")
    holder = {"pid": 4242, "host": "scanner-pc", "since": "2031-01-02T03:04:05+00:00", "command": "bitbox run x"}
    with open(out / LOCK_FILE, "w") as held:  # another run holds OUT
        held.write(json.dumps(holder))
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ParameterError) as info:
            bitbox.process_folder(inputs, out, [ScratchProbe()], progress=False)
        assert str(info.value).startswith(f"{out} is being written by another bitbox run (PID 4242 on host "
                                          "scanner-pc, since 2031-01-02T03:04:05+00:00: bitbox run x).")
        assert all(p.read_bytes() == b"the other run's" for p in leftovers)  # nothing deleted
        assert sorted(p.name for p in out.iterdir()) == [".bitbox-tmp", ".bitbox.lock", ".summary.csv.k2j4h5g6.tmp",
                                                         "a"]
        assert json.loads((out / LOCK_FILE).read_text()) == holder  # nor the lock file rewritten
    # Released without being emptied (that run died): the next run takes it over and cleans up.
    result = bitbox.process_folder(inputs, out, [ScratchProbe()], progress=False)
    assert result.counts["ok"] == 1 and not any(p.exists() for p in leftovers)
    assert (out / LOCK_FILE).read_text() == ""


def test_out_that_is_a_file_is_a_usage_error(tmp_path, talking_head):
    (tmp_path / "results").write_text("a file, not a folder")
    proc = subprocess.run([PY, "-m", "bitbox", "run", str(talking_head), "-o", str(tmp_path / "results"), "-q"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == (f"bitbox: error: The output folder {tmp_path / 'results'} is an existing file, not a "
                           "folder. Give a folder (it is created if needed); nothing was processed.\n")
    assert (tmp_path / "results").read_text() == "a file, not a folder"
    with pytest.raises(ParameterError, match=f"{tmp_path / 'results'} is a file, not a folder"):
        bitbox.process_folder(talking_head, tmp_path / "results" / "sub", [ScratchProbe()], progress=False)


def test_out_that_is_not_writable_is_a_usage_error(tmp_path, talking_head, monkeypatch):
    import bitbox.batch.run

    out = tmp_path / "locked"
    out.mkdir()
    real_access = os.access
    monkeypatch.setattr(bitbox.batch.run.os, "access",
                        lambda path, mode, **kw: False if Path(path) == out else real_access(path, mode, **kw))
    with pytest.raises(ParameterError, match=f"The output folder {out} is not writable by this user"):
        bitbox.process_folder(talking_head, out, [ScratchProbe()], progress=False)
    with pytest.raises(ParameterError, match=f"The output folder {out / 'new'} cannot be created: its parent "
                                             f"folder {out} is not writable"):
        bitbox.process_folder(talking_head, out / "new", [ScratchProbe()], progress=False)
    assert list(out.iterdir()) == []
    # A parent that does not exist yet is created.
    made = bitbox.process_folder(talking_head, tmp_path / "new" / "deeper" / "out", [ScratchProbe()], progress=False)
    assert made.counts["ok"] == 1


def test_out_on_a_read_only_file_system_is_a_usage_error(tmp_path, talking_head):
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(ro)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here (needs root); the monkeypatched test covers the check")
    try:  # the CLI turns this ParameterError into exit code 2 (see the test of OUT as a file)
        with pytest.raises(ParameterError, match=f"cannot be created: its parent folder {ro} is not writable by "
                                                 r"this user \(or is on a read-only file system\)"):
            bitbox.process_folder(talking_head, ro / "out", [ScratchProbe()], progress=False)
    finally:
        subprocess.run(["umount", str(ro)], check=True)


# ---------------------------------------------------------------------------- security review of issue 18
def _write(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_confined_takes_relative_targets_relative_to_out_and_absolute_ones_as_they_are(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("out").mkdir()
    assert confined("out", "b") == tmp_path / "out" / "b"  # absolute, relative to the working directory
    assert confined("out", tmp_path / "out" / "b") == tmp_path / "out" / "b"
    Path("elsewhere").mkdir()
    Path("out", "link").symlink_to(tmp_path / "elsewhere")
    for target in ("link", "link/x", tmp_path / "out" / "link" / "x", Path("out", "..", "x").absolute()):
        with pytest.raises(OutsideOutputError, match=f"outside the output folder {tmp_path / 'out'}"):
            confined("out", target)


def test_a_relative_out_is_confined_like_an_absolute_one(tmp_path, talking_head, monkeypatch):
    """OUT given relative to the working directory: a link planted in OUT is caught all the same."""
    monkeypatch.chdir(tmp_path)
    for name in ("a.mp4", "b.mp4"):
        _write(tmp_path / "in" / name, talking_head.read_bytes())
    elsewhere = tmp_path / "elsewhere"
    victim = _write(elsewhere / ".scratch_probe.json.abcd1234.tmp", b"not Bitbox's")
    Path("out").mkdir()
    Path("out", "b").symlink_to(elsewhere)
    result = bitbox.process_folder("in", "out", [ScratchProbe()], progress=False)
    assert result.out_dir == tmp_path / "out"
    manifest = result.manifest.set_index("recording_id")
    assert manifest.loc["a", "status"] == "ok" and manifest.loc["b", "status"] == "failed"
    assert f"resolves to {elsewhere}, outside the output folder {tmp_path / 'out'}" in manifest.loc["b", "reason"]
    assert _files(elsewhere) == [victim.name] and victim.read_bytes() == b"not Bitbox's"
    assert _files(tmp_path / "out" / "a") == ["scratch_probe.json", "scratch_probe.parquet"]
    assert not Path("out", "out").exists()


def test_a_relative_out_gets_its_report_in_out_report(tmp_path, talking_head, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "in" / "a.mp4", talking_head.read_bytes())
    bitbox.process_folder("in", "out3", [ScratchProbe()], progress=False)
    index = bitbox.write_report("out3")
    assert index == tmp_path / "out3" / "report" / "index.html" and index.is_file()
    assert sorted(p.name for p in (tmp_path / "out3" / "report").iterdir()) == ["assets", "index.html", "recordings"]
    assert sorted(p.name for p in (tmp_path / "out3" / "report" / "recordings").iterdir()) == ["a.html"]
    assert not (tmp_path / "out3" / "out3").exists()


def test_bitbox_run_and_report_with_relative_paths(tmp_path, talking_head, monkeypatch, capsys):
    from bitbox.cli import main

    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "in" / "talk.mp4", talking_head.read_bytes())
    assert main(["run", "in", "-o", "out", "-q", "--set", "face.frame_step=20"]) == 0
    assert main(["report", "out"]) == 0
    printed = capsys.readouterr().out
    assert f"Results: {tmp_path / 'out' / 'summary.csv'}" in printed
    assert f"Report: {tmp_path / 'out' / 'report' / 'index.html'}" in printed
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".bitbox.lock", "codebook.csv", "codebook.json",
                                                                     "manifest.csv", "report", "summary.csv", "talk"]
    assert sorted(p.name for p in (tmp_path / "out" / "report").iterdir()) == ["assets", "index.html", "recordings"]
    assert sorted(p.name for p in (tmp_path / "out" / "report" / "recordings").iterdir()) == ["talk.html"]


# ---------------------------------------------------------------------------- names that are not UTF-8
@pytest.mark.parametrize("text, expected", [("M\udcfcller", "M_ller"), ("\udcff\udcfe", "__"),
                                            ("a\ud800b", "a_b")])
def test_lone_surrogates_become_underscores(text, expected):
    assert safe_name(text) == expected
    assert safe_name(text).encode("utf-8")


@settings(max_examples=25)
@given(st.lists(st.characters(codec=None, exclude_categories=()) | st.characters(categories=["Cs"]),
                max_size=150).map("".join))  # st.text() would leave out the lone surrogates
def test_any_text_even_undecodable_bytes_becomes_one_utf8_name(text):
    name = safe_name(text)
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert name and not name.startswith(".") and "/" not in name and Path(name).name == name
    assert safe_name(name) == name


def test_a_file_name_that_is_not_utf8_is_processed(tmp_path, talking_head):
    inputs = tmp_path / "in"
    inputs.mkdir()
    raw = os.path.join(os.fsencode(inputs), b"M\xfcller.mp4")  # Latin-1 bytes, not UTF-8
    with open(raw, "wb") as handle:
        handle.write(talking_head.read_bytes())
    out = tmp_path / "out"
    result = bitbox.process_folder(inputs, out, [ScratchProbe()], progress=False)
    assert result.manifest["recording_id"].tolist() == ["M_ller"] and result.counts["ok"] == 1
    assert result.manifest.loc[0, "path"] == f"{inputs}/M\\xfcller.mp4"  # shown with the byte escaped
    assert _files(out / "M_ller") == ["scratch_probe.json", "scratch_probe.parquet"]
    again = bitbox.process_folder(inputs, out, [ScratchProbe()], progress=False)  # the same file, reused
    assert again.manifest["recording_id"].tolist() == ["M_ller"] and again.counts["already_done"] == 1
    index = bitbox.write_report(out)
    assert "M\\xfcller.mp4" in (index.parent / "recordings" / "M_ller.html").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------- ids that are OUT's own names
def test_recordings_named_like_outs_own_files_get_their_own_id(tmp_path, talking_head):
    inputs, out = tmp_path / "in", tmp_path / "out"
    names = ["manifest.csv", "summary.csv", "Codebook.CSV", "report", "index", "index_rec"]
    for name in names:
        _write(inputs / f"{name}.mp4", talking_head.read_bytes())
    for _ in range(2):  # the second run reads the tables back
        result = bitbox.process_folder(inputs, out, [ScratchProbe()], progress=False)
        assert result.counts["ok"] == len(names), result.manifest[["recording_id", "reason"]]
    ids = sorted(result.manifest["recording_id"])
    tag = hashlib.sha1(str((inputs / "index_rec.mp4").resolve()).encode()).hexdigest()[:8]
    assert ids == sorted(["manifest.csv_rec", "summary.csv_rec", "Codebook.CSV_rec", "report_rec", "index_rec_mp4",
                          f"index_rec_mp4_{tag}"])  # 'index' became 'index_rec', which another file is called
    assert (out / "manifest.csv").is_file() and (out / "summary.csv").is_file()
    index = bitbox.write_report(out)
    assert index.read_text().count("<h1>Bitbox report</h1>") == 1  # the cohort page, not a recording's
    assert sorted(p.name for p in index.parent.iterdir()) == ["assets", "index.html", "recordings"]
    assert sorted(p.name for p in (index.parent / "recordings").iterdir()) == sorted(f"{i}.html" for i in ids)


# ---------------------------------------------------------------------------- scratch per task
class BarrierProbe(Processor):
    """Two of these run at once in two threads; each notes the scratch folder it sees."""

    name = "barrier_probe"
    version = "1"
    input_kinds = ("video",)
    measures = (Measure("n", "1", "Records spilled.", "summary", (0, 1e9)),
                Measure("value", "1", "Constant 1.", valid_range=(0, 1)))
    barrier = None
    a_done = None
    seen: dict = {}

    def compute(self, recording, sink, progress=None):
        import bitbox.fileio

        me = recording.path.stem
        type(self).barrier.wait(timeout=10)  # both tasks are inside their scratch scope
        with SpillFile((2,), prefix="bitbox-probe-") as spill:
            self.seen[me] = [bitbox.fileio.scratch_root(), Path(spill.path).parent.parent,
                             os.environ.get(SCRATCH_ENV)]
        type(self).barrier.wait(timeout=10)
        if me == "b":  # a's task has finished (and left its scope) while b still runs
            assert type(self).a_done.wait(timeout=10)
            self.seen["b_after"] = bitbox.fileio.scratch_root()
        sink.append(pd.DataFrame({"time_s": [0.0], "value": [1.0]}))
        return {"n": 1.0}


def test_dask_tasks_in_threads_of_one_worker_each_keep_their_own_scratch_folder(tmp_path, talking_head,
                                                                                monkeypatch):
    import threading

    from bitbox.batch import Job
    from bitbox.batch.executors import _dask_task

    monkeypatch.delenv(SCRATCH_ENV, raising=False)
    BarrierProbe.barrier, BarrierProbe.a_done, BarrierProbe.seen = threading.Barrier(2), threading.Event(), {}
    rows = {}

    def task(name: str) -> None:
        shutil.copy(talking_head, tmp_path / f"{name}.mp4")
        (tmp_path / f"scratch_{name}").mkdir()
        rows[name] = _dask_task(Job(name, str(tmp_path / f"{name}.mp4")), [BarrierProbe()], str(tmp_path / "out"),
                                False, 30, None, str(tmp_path / f"scratch_{name}"))
        if name == "a":
            BarrierProbe.a_done.set()

    threads = [threading.Thread(target=task, args=(name,)) for name in ("a", "b")]
    with _within(30):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    seen = BarrierProbe.seen
    for name in ("a", "b"):
        assert rows[name]["status"] == "ok", rows[name]
        assert seen[name] == [tmp_path / f"scratch_{name}", tmp_path / f"scratch_{name}", None]
    assert seen["b_after"] == tmp_path / "scratch_b"
    assert SCRATCH_ENV not in os.environ


def test_a_child_interpreter_gets_the_scratch_folder_explicitly(tmp_path, monkeypatch):
    import bitbox.batch.worker
    from bitbox.fileio import scratch_scope

    monkeypatch.delenv(SCRATCH_ENV, raising=False)
    seen = {}

    def fake_run(args, **kwargs):
        seen["env"] = kwargs["env"]
        return subprocess.CompletedProcess(args, 3)

    monkeypatch.setattr(bitbox.batch.worker.subprocess, "run", fake_run)
    (tmp_path / "scratch").mkdir()
    with scratch_scope(tmp_path / "scratch"):
        row = bitbox.batch.worker.run_in_subprocess(bitbox.batch.Job("a", "a.mp4"), [ScratchProbe()],
                                                    str(tmp_path / "out"), False, 30, 5.0)
    assert seen["env"][SCRATCH_ENV] == str(tmp_path / "scratch") and SCRATCH_ENV not in os.environ
    assert row["status"] == "failed" and "exit code 3" in row["reason"]


# ---------------------------------------------------------------------------- the lock
def test_a_file_system_without_locks_is_a_clear_usage_error(tmp_path, talking_head, monkeypatch):
    import errno

    def no_locks(*_):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    out = tmp_path / "out"
    for wait in (False, True):
        with pytest.raises(ParameterError) as info:
            bitbox.process_folder(talking_head, out, [ScratchProbe()], progress=False, wait=wait)
        assert str(info.value) == (f"{out} is on a file system that does not support file locks (No locks "
                                   "available), so Bitbox cannot make sure that only one run writes there. Write "
                                   "OUT to a local disk (and copy the results to the share afterwards).")
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]


def test_the_report_holds_the_out_lock(tmp_path, talking_head, monkeypatch):
    import threading

    from bitbox.fileio import out_lock

    out = tmp_path / "out"
    bitbox.process_folder(talking_head, out, [ScratchProbe()], progress=False)
    with open(out / LOCK_FILE, "r+") as held:  # a run holds OUT
        held.write(json.dumps({"pid": 4242, "host": "scanner-pc", "since": "2031", "command": "bitbox run x"}))
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ParameterError, match=f"^{out} is being written by another bitbox run \\(PID 4242 on "
                                                 "host scanner-pc, since 2031: bitbox run x\\)"):
            bitbox.write_report(out)
        assert not (out / "report").exists()
        waiting = threading.Thread(target=bitbox.write_report, args=(out,), kwargs={"wait": True})
        waiting.start()
        time.sleep(0.3)
        assert waiting.is_alive() and not (out / "report").exists()  # waits for the run
        held.seek(0)
        held.truncate()
        held.flush()
        fcntl.flock(held, fcntl.LOCK_UN)
    waiting.join(timeout=20)
    assert not waiting.is_alive() and (out / "report" / "index.html").is_file()
    with out_lock(out):  # the report inside a batch's own lock does not lock itself out
        assert bitbox.write_report(out) == out / "report" / "index.html"
    assert (out / LOCK_FILE).read_text() == ""
    from bitbox.cli import build_parser

    assert build_parser().parse_args(["report", str(out), "--wait"]).wait is True


def test_the_lock_file_must_be_a_regular_file_of_its_own(tmp_path, talking_head):
    out = tmp_path / "out"
    out.mkdir()
    victim = _write(tmp_path / "precious.txt", b"keep me")
    os.link(victim, out / LOCK_FILE)  # a hard link planted as the lock file
    with pytest.raises(ParameterError) as info:
        bitbox.process_folder(talking_head, out, [ScratchProbe()], progress=False)
    assert str(info.value) == (f"{out / LOCK_FILE} is not a regular file of its own (it has 2 hard links). Bitbox "
                               "did not write to it; remove it and run again.")
    assert victim.read_bytes() == b"keep me"
    (out / LOCK_FILE).unlink()
    os.mkfifo(out / LOCK_FILE)
    with _within(5), pytest.raises(ParameterError) as info:
        bitbox.process_folder(talking_head, out, [ScratchProbe()], progress=False)
    assert str(info.value) == (f"{out / LOCK_FILE} is not a regular file of its own (it is a named pipe (FIFO)). "
                               "Bitbox did not write to it; remove it and run again.")
    (out / LOCK_FILE).unlink()
    bitbox.process_folder(talking_head, out, [ScratchProbe()], progress=False)
    assert (out / LOCK_FILE).stat().st_mode & 0o777 == 0o600  # it names input paths: this user only


def test_a_stale_lock_is_taken_over_with_a_warning(tmp_path, talking_head, caplog):
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_FILE).write_text(json.dumps({"pid": 4242, "host": "scanner-pc", "since": "2031", "command": "x"}))
    with caplog.at_level("WARNING", logger="bitbox"):
        bitbox.process_folder(talking_head, out, [ScratchProbe()], progress=False)
    assert [(r.levelname, r.getMessage()) for r in caplog.records if "taking over" in r.getMessage()] == [
        ("WARNING", f"{out}: taking over the lock of a bitbox run that ended without releasing it (PID 4242 on "
                    "host scanner-pc, since 2031: x)")]


def test_only_the_temporary_files_of_atomic_writes_are_removed(tmp_path, talking_head):
    from bitbox.fileio import atomic_path

    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with atomic_path(out / "a" / "scratch_probe.json") as tmp:  # a real leftover's name
            leftover = tmp
            raise RuntimeError
    real = [_write(out / leftover.name), _write(out / "a" / leftover.name)]
    kept = [_write(out / ".notes.tmp"), _write(out / "a" / ".my draft.tmp"), _write(out / ".x.1234.tmp"),
            _write(out / "a" / ".x.abcdefghi.tmp")]
    shutil.copy(talking_head, tmp_path / "a.mp4")
    bitbox.process_folder(tmp_path / "a.mp4", out, [ScratchProbe()], progress=False)
    assert not any(p.exists() for p in real)
    assert all(p.read_bytes() == b"x" for p in kept)


# ---------------------------------------------------------------------------- notebook scratch
def test_stale_scratch_survives_absurd_pids_and_is_scanned_once_per_process(tmp_path, monkeypatch):
    from bitbox.fileio import _HOST

    monkeypatch.delenv(SCRATCH_ENV, raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    huge = tmp_path / f"bitbox-face-pid{10 ** 30}-{_HOST}-abcd_123"
    huge.mkdir()
    assert remove_stale_scratch(tmp_path) == [] and huge.is_dir()  # not a PID: left alone, no OverflowError
    dead = subprocess.run([PY, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    first = tmp_path / f"bitbox-face-pid{int(dead.stdout)}-{_HOST}-abcd_124"
    first.mkdir()
    with SpillFile((1,), prefix="bitbox-face-"):
        pass
    assert not first.exists()
    later = tmp_path / f"bitbox-face-pid{int(dead.stdout)}-{_HOST}-abcd_125"
    later.mkdir()
    scans = []
    real_scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda *a: scans.append(a) or real_scandir(*a))
    for _ in range(3):
        with SpillFile((1,), prefix="bitbox-face-"):
            pass
    assert str(tmp_path) not in map(str, (a[0] for a in scans if a))  # (rmtree scans the spill folders)
    assert later.exists()  # the temporary folder was scanned once, not on every spill file
