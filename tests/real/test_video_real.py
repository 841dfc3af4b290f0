"""Videos as phones and screen recorders write them, made from the real carphone clip.

- rotation: frames stored turned with a display matrix (tools/faults/video_container.py,
  lossless, so the truth is the original clip's pixels), and the display matrix alone, checked
  against ffmpeg's own autorotate (what players show);
- variable frame rate: frames dropped in a segment, the others kept at their original
  presentation timestamps (the truth);
- a constant-rate copy: no flag, times ``index / fps`` exactly.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

import bitbox
from bitbox import Recording
from tools.faults.video_container import (phone_rotated, repeat_timestamps, set_display_rotation, slow_segment,
                                          variable_frame_rate)

N_FRAMES = 120
FPS = 30000 / 1001
KEEP = slow_segment(N_FRAMES, 40, 80, 3)  # 30 fps, then every third frame (10 fps) in frames 40-79


@pytest.fixture(scope="module")
def original(carphone) -> list[np.ndarray]:
    return [frame.rgb for frame in Recording(carphone).iter_frames()]


@pytest.fixture(scope="module")
def faulty(carphone, ffmpeg, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("video-faults")
    files = {f"phone{d}": phone_rotated(carphone, folder / f"phone{d}.mp4", d, ffmpeg=ffmpeg) for d in (90, 180, 270)}
    files["vfr"] = folder / "vfr.mp4"
    files["vfr_times"] = variable_frame_rate(carphone, files["vfr"], KEEP)
    files["cfr"] = folder / "cfr.mp4"
    variable_frame_rate(carphone, files["cfr"], range(N_FRAMES))
    files["mkv"] = folder / "cfr.mkv"  # Matroska's 1-ms clock: intervals of 33 and 34 ms
    subprocess.run([ffmpeg, "-v", "error", "-i", str(carphone), "-c", "copy", str(files["mkv"])], check=True)
    return files


def _stored_size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as container:
        context = container.streams.video[0].codec_context
        return context.width, context.height


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_a_phone_video_is_decoded_upright(faulty, original, degrees):
    path = faulty[f"phone{degrees}"]
    rec = Recording(path)
    info = rec.video_info
    assert info.rotation_deg == degrees and not info.mirrored
    assert rec.size == (176, 144)  # as displayed
    assert _stored_size(path) == ((144, 176) if degrees in (90, 270) else (176, 144))
    frames = [frame.rgb for frame in rec.iter_frames()]
    assert len(frames) == N_FRAMES
    difference = np.abs(np.stack(frames).astype(int) - np.stack(original))
    assert difference.mean() < 0.5 and difference.max() <= 8  # lossless: the original's pixels
    assert info.notes == (info.rotation_note,)
    assert info.rotation_note == (
        f"the video is stored turned (display matrix): its frames were rotated {degrees} deg counterclockwise so "
        "they are upright as a player shows them (176x144); landmark pixels refer to the upright frames")


@pytest.mark.parametrize("degrees, hflip", [(90, False), (180, False), (270, False), (90, True)])
def test_a_display_matrix_is_applied_as_ffmpeg_shows_it(carphone, ffmpeg, tmp_path, degrees, hflip):
    tagged = set_display_rotation(carphone, tmp_path / "tagged.mp4", degrees, hflip=hflip)
    shown = tmp_path / "shown.mp4"  # ffmpeg's autorotate: what a player shows
    subprocess.run([ffmpeg, "-v", "error", "-i", str(tagged), "-frames:v", "10", "-c:v", "libx264", "-qp", "0",
                    "-pix_fmt", "yuv420p", str(shown)], check=True)
    truth = [frame.rgb for frame in Recording(shown).iter_frames()]
    rec = Recording(tagged)
    assert (rec.video_info.rotation_deg, rec.video_info.mirrored) == ((90, True) if hflip else (degrees, False))
    assert rec.size == ((144, 176) if degrees in (90, 270) else (176, 144))
    got = [frame.rgb for frame, _ in zip(rec.iter_frames(), range(10))]
    assert all(g.shape == t.shape and np.abs(g.astype(int) - t).max() <= 2 for g, t in zip(got, truth))


def test_variable_frame_rate_times_come_from_the_timestamps(faulty, original):
    rec = Recording(faulty["vfr"])
    info = rec.video_info
    frames = list(rec.iter_frames())
    truth = np.array(KEEP) / FPS
    assert len(frames) == len(KEEP) == info.n_frames == 94
    assert np.allclose(faulty["vfr_times"], truth, atol=1e-9)
    assert np.abs(np.array([f.time_s for f in frames]) - truth).max() < 1e-3
    assert np.abs(np.arange(len(KEEP)) / info.fps - truth).max() > 0.15  # what index / fps would say
    assert all((f.rgb == original[k]).all() for f, k in zip(frames[::10], KEEP[::10]))  # the right frames
    assert info.duration_s == pytest.approx(N_FRAMES / FPS, abs=1e-6)
    assert info.frame_rate_varies
    assert info.fps_min == pytest.approx(FPS / 3) and info.fps_max == pytest.approx(FPS)
    assert info.fps == pytest.approx(94 / info.duration_s)
    assert info.notes == (info.frame_rate_note,)
    assert info.frame_rate_note == (
        "the frame rate varies (10.0-30.0 fps, median 29.97; 14% of the frame intervals differ from the median by "
        "more than 10%): times come from the timestamps; rates per frame are not uniform, so use time_s rather "
        "than frame counts for durations and speeds, or re-encode at a constant rate "
        "(`ffmpeg -i IN -fps_mode cfr -r 30 OUT.mp4`)")


def test_the_frame_rate_warning_is_logged(faulty, caplog):
    with caplog.at_level("WARNING", logger="bitbox"):
        Recording(faulty["vfr"]).video_info
    assert "vfr.mp4: the frame rate varies (10.0-30.0 fps" in caplog.text


@pytest.mark.parametrize("name", ["cfr", "mkv", "carphone"])
def test_a_constant_frame_rate_has_no_flag_and_index_over_fps_times(faulty, carphone, name):
    rec = Recording(carphone if name == "carphone" else faulty[name])
    info = rec.video_info
    assert not info.frame_rate_varies and info.notes == () and info.frame_rate_note == ""
    assert info.fps == pytest.approx(FPS) and info.n_frames == N_FRAMES
    assert info.duration_s == pytest.approx(N_FRAMES / FPS)
    assert [f.time_s for f in rec.iter_frames()] == [i / info.fps for i in range(N_FRAMES)]


def test_face_head_roll_of_a_phone_video_matches_the_upright_clip(faulty, carphone):
    step = {"frame_step": 3}
    upright = bitbox.process(carphone, processors=["face"], **step)["face"].timeseries
    phone = bitbox.process(faulty["phone270"], processors=["face"], **step)["face"].timeseries
    assert len(phone) == len(upright) == N_FRAMES // 3
    assert np.nanmedian(phone["head_roll"]) == pytest.approx(np.nanmedian(upright["head_roll"]), abs=3)
    assert (phone["time_s"].to_numpy() == upright["time_s"].to_numpy()).all()


def test_face_on_a_variable_frame_rate_video_measures_on_a_uniform_grid(faulty, face_result):
    """Frames 40-79 at 10 fps: the time-based face measures are computed on a 29.97 fps grid (the
    missing frames are gaps), so speeds and durations match the original clip's, not a clip 20% shorter."""
    import bitbox

    vfr = bitbox.process(faulty["vfr"], processors=["face"])["face"]
    assert vfr.summary["n_frames"] == len(KEEP) and vfr.summary["face_detected_fraction"] == 1.0
    assert vfr.summary["duration_s"] == pytest.approx(face_result.summary["duration_s"], abs=0.04)
    assert "computed on a uniform 29.97 fps grid, with the 26 grid times that have no frame left as gaps" \
        in vfr.summary["notes"]
    assert "the frame rate varies" not in vfr.summary["notes"]  # handled: the grid note above says how
    # Head rotation speed between consecutive frames: the same motion as the original's, whereas a mean
    # rate over the kept frames (25 fps) would understate it.
    assert vfr.summary["head_rotation_speed_deg_per_s"] == pytest.approx(
        face_result.summary["head_rotation_speed_deg_per_s"], rel=0.25)
    # The blinks: the clip's third blink is borderline (its deepest frame at 0.64 of the open-eye EAR against
    # the 0.7 threshold) and re-encoding at a variable rate moves it across (0.74), so it may or may not be
    # counted; the others are (the first at 0.70 on the kept frames: its deepest frame is one of those dropped).
    ts = vfr.timeseries
    ear = ((ts["ear_left"] + ts["ear_right"]) / 2 / vfr.summary["ear_baseline"]).to_numpy()
    assert face_result.summary["blink_count"] - 1 <= vfr.summary["blink_count"] <= face_result.summary["blink_count"]
    assert (ear[ts["blink"].to_numpy() == 1] < 0.7).any() and not (ear[ts["blink"].to_numpy() == 0] < 0.6).any()


def test_timestamps_that_repeat_are_not_trusted_and_noted(faulty, tmp_path):
    """A broken muxer's file (three packets with the previous packet's timestamp): times fall back to the
    frame index, which always increases, and the notes say why; it is not taken for a variable frame rate."""
    broken = repeat_timestamps(faulty["cfr"], tmp_path / "broken.mkv", [30, 60, 61])
    rec = Recording(broken)
    info = rec.video_info
    assert info.broken_timestamps == 3 and not info.frame_rate_varies
    times = np.array([f.time_s for f in rec.iter_frames()])
    assert len(times) == N_FRAMES and np.allclose(times, np.arange(N_FRAMES) / info.fps)
    assert info.notes == (f"3 frame timestamps repeat or go backwards (a broken muxer): times are the frame index / "
                          f"{info.fps:.4g} fps, as at a constant frame rate; re-encode the file to repair its "
                          "timestamps (`ffmpeg -i IN -c:v libx264 OUT.mp4`)",)


def test_a_variable_frame_rate_matroska_with_millisecond_ticks(faulty, ffmpeg, tmp_path):
    """WebM/Matroska (as browsers record) round 29.97 fps to 33 and 34 ms ticks: the typical rate is still
    29.97, so the uniform grid has exactly the dropped frames as gaps, not a drifting extra one every 100."""
    import subprocess

    from bitbox.analysis import uniform_rows

    mkv = tmp_path / "vfr.mkv"
    subprocess.run([ffmpeg, "-y", "-loglevel", "error", "-i", str(faulty["vfr"]), "-c", "copy", str(mkv)], check=True)
    rec = Recording(mkv)
    assert rec.video_info.frame_rate_varies and rec.video_info.fps_median == pytest.approx(FPS, abs=0.02)
    times = [frame.time_s for frame in rec.iter_frames()]
    rows = uniform_rows(times, fps=rec.video_info.fps_median)
    assert (rows < 0).sum() == N_FRAMES - len(KEEP)  # the dropped frames, and only they
