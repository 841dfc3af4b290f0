"""HTML reports: pages per recording with plots and QC; face pictures only on request."""
from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import bitbox
from tools import synth

from .conftest import render_in_chromium

PNG = b"\x89PNG\r\n\x1a\n"


def _images(page: str) -> list[tuple[str, bytes]]:
    found = re.findall(r"<img class='(\w+)' alt='[^']*' src='data:image/png;base64,([^']+)'>", page)
    return [(css, base64.b64decode(data)) for css, data in found]


@pytest.fixture(scope="module")
def results(tmp_path_factory, talking_head):
    inputs = tmp_path_factory.mktemp("report_inputs")
    shutil.copy(talking_head, inputs / "talking_head.mp4")
    (inputs / "broken.mp4").write_text("not a video")
    out = tmp_path_factory.mktemp("report_out")
    bitbox.process_folder(inputs, out, progress=False, frame_step=2)
    return out


def test_report_pages_have_plots_qc_and_no_faces_by_default(results):
    proc = subprocess.run([sys.executable, "-m", "bitbox", "report", str(results)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    index = (results / "report" / "index.html").read_text()
    assert "<a href='talking_head.html'>talking_head</a>" in index
    assert "broken" in index and "cannot be opened as a video" in index
    page = (results / "report" / "talking_head.html").read_text()
    images = _images(page)
    assert [css for css, _ in images] == ["plot"]
    assert images[0][1].startswith(PNG)
    assert "Quality control" in page and "blink_rate_per_min" in page and "1/min" in page
    assert "input_sha256" in page


def test_faces_only_with_show_faces(results):
    bitbox.write_report(results, show_faces=True)
    frames = [data for css, data in _images((results / "report" / "talking_head.html").read_text())
              if css == "frame"]
    assert len(frames) == 4 and all(f.startswith(PNG) for f in frames)


def test_frames_of_a_face_leaving_the_picture_are_flagged(media_dir):
    shifts = [(x, 0.0) for x in np.linspace(0, 300, 31)]
    path = synth.shift_video(media_dir / "leaving.mp4", shifts)
    ts = bitbox.process(path, store_landmarks=False)["face"].timeseries
    flagged = ts[ts["qc_reason"] == "face_partly_outside_frame"]
    assert len(flagged) > 0 and (flagged["quality"] < 1).all()
    assert ts["qc_reason"].iloc[0] == "ok" and ts["quality"].iloc[0] == pytest.approx(1.0)
    first_flag = flagged.index[0]
    assert (ts["qc_reason"].iloc[:first_flag] == "ok").all()  # only once it reaches the edge


# ---------------------------------------------------------------------------- cohort page
@pytest.fixture(scope="module")
def cohort(tmp_path_factory, talking_head, sway_video):
    """Three videos (one a shorter cut) with face and pose measures, and one broken file."""
    inputs = tmp_path_factory.mktemp("cohort_inputs")
    shutil.copy(talking_head, inputs / "talk.mp4")
    shutil.copy(sway_video, inputs / "sway.mp4")
    frames = [f.rgb for f in bitbox.Recording(sway_video).iter_frames(step=2)]
    synth.write_video(inputs / "sway_half.mp4", frames[: len(frames) // 2], fps=15.0)
    (inputs / "broken.mp4").write_bytes(b"\x00" * 100)
    out = tmp_path_factory.mktemp("cohort_out")
    bitbox.process_folder(inputs, out, processors=["face"], progress=False, frame_step=3)
    bitbox.write_report(out)
    return out


def test_cohort_page_has_failures_qc_and_distributions(cohort):
    index = (cohort / "report" / "index.html").read_text()
    assert "Failures (1)" in index and "broken" in index
    assert "face.face_detected_fraction" in index  # the QC column
    for rid in ("talk", "sway", "sway_half"):
        assert f"<a href='{rid}.html'>{rid}</a>" in index
    images = _images(index)
    assert len(images) == 1 and images[0][1].startswith(PNG)  # one distribution figure: face
    assert "blink_rate_per_min [1/min]" not in index  # measure names are in the figure, not the HTML
    assert "Distributions of the summary measures" in index


def test_cohort_page_renders_in_headless_chromium(cohort, tmp_path):
    pixels = render_in_chromium(cohort / "report" / "index.html", tmp_path)
    if pixels is None:
        pytest.skip("Chromium is not installed (make test installs Debian's chromium); the page was not rendered")
    # The embedded plots were decoded and drawn: their blue dots and orange median lines are on screen.
    blue = np.all(np.abs(pixels - [76, 114, 176]) < 40, axis=-1).sum()
    orange = np.all(np.abs(pixels - [221, 132, 82]) < 40, axis=-1).sum()
    assert blue > 200 and orange > 200, (blue, orange)


def test_a_recording_called_index_does_not_replace_the_cohort_page(results, tmp_path):
    """An OUT of an older Bitbox may hold a recording 'index' (new runs call it 'index_rec')."""
    out = tmp_path / "out"
    out.mkdir()
    shutil.copytree(results / "talking_head", out / "index")
    index = bitbox.write_report(out)
    assert index == out / "report" / "index.html"
    page = index.read_text()
    assert page.count("<h1>Bitbox report</h1>") == 1 and "<a href='index_rec.html'>index</a>" in page
    assert sorted(p.name for p in index.parent.iterdir()) == ["index.html", "index_rec.html"]
    assert "<h1>index</h1>" in (index.parent / "index_rec.html").read_text()
