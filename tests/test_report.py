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
