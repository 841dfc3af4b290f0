"""Recording: media information, hashing, streaming and clear errors for bad files."""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from bitbox import Recording, RecordingError
from tools import synth

from .conftest import make_bad_inputs, running_as_root


def test_video_info_of_the_talking_head(talking_head):
    rec = Recording(talking_head)
    assert rec.kind == "video"
    assert rec.fps == pytest.approx(29.97, abs=0.01)
    assert rec.n_frames == 120
    assert rec.size == (176, 144)
    assert rec.duration_s == pytest.approx(120 / rec.fps)
    assert rec.sha256 == hashlib.sha256(talking_head.read_bytes()).hexdigest()
    assert "176x144" in repr(rec)


def test_frames_stream_with_times_and_step(talking_head):
    rec = Recording(talking_head)
    frames = list(rec.iter_frames(step=7))
    assert [f.index for f in frames] == list(range(0, 120, 7))
    assert frames[3].time_s == pytest.approx(21 / rec.fps)
    assert frames[0].rgb.shape == (144, 176, 3) and frames[0].rgb.dtype.name == "uint8"


@pytest.mark.parametrize("name, message", [
    ("empty", "file is empty (0 bytes)"),
    ("text", "cannot be opened as a video"),
    ("truncated", "cannot be opened as a video (not a video file, truncated"),
])
def test_bad_files_give_errors_naming_the_file(tmp_path, talking_head, name, message):
    path = make_bad_inputs(tmp_path, talking_head)[name]
    with pytest.raises(RecordingError, match="cannot|empty") as info:
        Recording(path).video_info
    assert str(path) in str(info.value) and message in str(info.value)


def test_truncated_avi_is_detected_while_streaming(tmp_path):
    whole = synth.write_video(tmp_path / "whole.avi", synth.moving_face_frames(40))
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    rec = Recording(cut)
    assert rec.n_frames == 40  # the header still promises every frame
    with pytest.raises(RecordingError, match=r"truncated or corrupt: only \d+ of the 40 frames"):
        list(rec.iter_frames())


def test_missing_folder_and_unknown_extension(tmp_path):
    with pytest.raises(RecordingError, match="does not exist"):
        Recording(tmp_path / "nope.mp4")
    with pytest.raises(RecordingError, match="is a folder"):
        Recording(tmp_path)
    odd = tmp_path / "clip.xyz"
    odd.write_bytes(b"data")
    with pytest.raises(RecordingError, match="'.xyz' is not a known recording type"):
        Recording(odd)


def test_unreadable_file(talking_head):
    folder = Path(tempfile.mkdtemp(prefix="bitbox-perm-"))  # a folder any user may enter
    folder.chmod(0o755)
    path = folder / "locked.mp4"
    path.write_bytes(talking_head.read_bytes())
    path.chmod(0)
    as_root = running_as_root()
    try:
        if as_root:
            os.seteuid(65534)  # root reads everything: check as an ordinary user ("nobody")
        try:
            with pytest.raises(RecordingError, match="permission denied: the file cannot be read") as info:
                Recording(path)
            assert str(path) in str(info.value)
        finally:
            if as_root:
                os.seteuid(0)
    finally:
        shutil.rmtree(folder)
