"""Recording: media information, hashing, streaming and clear errors for bad files."""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from bitbox import Recording, RecordingError
from bitbox.recording import VideoInfo, _orient, _orientation, _Timing
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


# ---------------------------------------------------------------------------- orientation and timing
_ONE = 1 << 16  # 1.0 in the display matrix's 16.16 fixed point


def _matrix(a, b, c, d):
    return np.array([[a * _ONE, b * _ONE, 0], [c * _ONE, d * _ONE, 0], [0, 0, 1 << 30]], dtype=np.int32)


@pytest.mark.parametrize("matrix, expected", [
    (None, (0, False)),
    (_matrix(1, 0, 0, 1), (0, False)),
    (_matrix(0, -1, 1, 0), (90, False)),   # what ffmpeg 5.1's `rotate=90` tag and PyAV's rotation 90 write
    (_matrix(-1, 0, 0, -1), (180, False)),
    (_matrix(0, 1, -1, 0), (270, False)),
    (_matrix(-1, 0, 0, 1), (0, True)),     # mirrored left-right
    (_matrix(1, 0, 0, -1), (180, True)),   # upside down = rotated 180 and mirrored
    (_matrix(0, 1, 1, 0), (270, True)),    # a transpose
    (_matrix(0, -1, -1, 0), (90, True)),   # the anti-transpose
])
def test_orientation_follows_ffmpeg_autorotate(matrix, expected):
    assert _orientation(matrix, Path("x.mp4")) == expected


def test_a_rotation_off_the_right_angles_is_left_undone_and_logged(caplog):
    c, s = np.cos(np.radians(45)), np.sin(np.radians(45))
    with caplog.at_level(logging.WARNING, logger="bitbox"):
        assert _orientation(_matrix(c, -s, s, c), Path("x.mp4")) == (0, False)
    assert "asks for a 315 deg clockwise rotation, which is not a multiple of 90 deg" in caplog.text


def test_orient_rotates_counterclockwise_then_mirrors():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    assert _orient(rgb, 0, False) is rgb
    turned = _orient(rgb, 90, False)
    assert turned.shape == (3, 2, 3) and turned.flags.c_contiguous
    assert (turned[0, 0] == rgb[0, 2]).all()  # the top-right corner comes to the top-left
    assert (_orient(rgb, 180, True) == rgb[::-1]).all()  # = an upside-down flip


def _timing(pts, duration=0):
    timing = _Timing()
    for value in pts:
        timing.add(int(value), duration)
    return timing


def test_constant_timestamps_do_not_vary_and_memory_stays_flat():
    timing = _timing(np.arange(100_000) * 1001, duration=1001)
    fields = timing.fields(Fraction(1, 30000))
    assert len(timing.intervals) == 1  # one count per distinct interval, not per frame
    assert not fields["frame_rate_varies"] and fields["irregular_fraction"] == 0
    assert fields["timestamps_duration_s"] == pytest.approx(100_000 * 1001 / 30000)
    assert fields["fps_median"] == pytest.approx(30000 / 1001)


def test_millisecond_clocks_rounding_a_constant_rate_do_not_vary():
    pts = np.round(np.arange(300) * 1000 / 29.97)  # 33 and 34 ms intervals (Matroska, WebM)
    fields = _timing(pts).fields(Fraction(1, 1000))
    assert not fields["frame_rate_varies"]


def test_variable_timestamps_give_the_rate_range_and_a_note():
    pts = np.concatenate([np.arange(0, 30) * 3000, 90000 + np.arange(0, 10) * 7500])  # 30 intervals at 30 fps, 9 at 12
    fields = _timing(pts, duration=7500).fields(Fraction(1, 90000))
    info = VideoInfo(fps=len(pts) / fields["timestamps_duration_s"], n_frames=len(pts), width=4, height=4,
                     **fields)
    assert info.frame_rate_varies and info.fps_min == pytest.approx(12) and info.fps_max == pytest.approx(30)
    assert info.duration_s == pytest.approx((90000 + 9 * 7500 + 7500) / 90000)
    assert info.notes == (info.frame_rate_note,)
    assert info.frame_rate_note.startswith(
        "the frame rate varies (12.0-30.0 fps, median 30.00; 23% of the frame intervals differ from the median "
        "by more than 10%): times come from the timestamps; rates per frame are not uniform")


def test_a_constant_rate_video_keeps_index_over_fps(talking_head):
    rec = Recording(talking_head)
    info = rec.video_info
    assert not info.frame_rate_varies and info.notes == () and info.rotation_deg == 0
    assert info.fps_min == pytest.approx(info.fps) == pytest.approx(info.fps_max)
    assert [f.time_s for f in rec.iter_frames()] == [i / rec.fps for i in range(120)]  # exactly, as before


def test_a_display_matrix_turns_the_frames(tmp_path):
    from tools.faults.video_container import set_display_rotation

    plain = synth.write_video(tmp_path / "plain.mp4", synth.moving_face_frames(6, size=(64, 48)))
    turned = set_display_rotation(plain, tmp_path / "turned.mp4", 90)
    rec = Recording(turned)
    assert rec.size == (48, 64) and rec.video_info.rotation_deg == 90 and not rec.video_info.mirrored
    assert "turned 90 deg" in repr(rec)
    assert rec.video_info.rotation_note.startswith(
        "the video is stored turned (display matrix): its frames were rotated 90 deg counterclockwise")
    stored = [f.rgb for f in Recording(plain).iter_frames()]
    shown = [f.rgb for f in rec.iter_frames()]
    assert len(shown) == 6 and all((s == np.rot90(p)).all() for s, p in zip(shown, stored))
