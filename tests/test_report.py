"""HTML reports: interactive, offline pages per recording and for the cohort; face pictures only on request."""
from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bitbox
from bitbox.measurements import Measurements, ProcessorResult
from bitbox.report import charts
from tools import synth

from .conftest import DATA, render_in_chromium

PNG = b"\x89PNG\r\n\x1a\n"


def _images(page: str) -> list[tuple[str, bytes]]:
    found = re.findall(r"<img class='(\w+)' alt='[^']*' src='data:image/png;base64,([^']+)'>", page)
    return [(css, base64.b64decode(data)) for css, data in found]


def _figures(page: str) -> dict[str, dict]:
    """The page's Plotly figures by id, as the page holds them."""
    found = re.findall(r"<script type='application/json' id='([^']+)'>(.*?)</script>", page, re.S)
    return {fid: json.loads(text) for fid, text in found}


def _catalogued(processor: str, name: str, kind: str):
    return bitbox.catalog().get(name, processor=processor, kind=kind)


@pytest.fixture(scope="module")
def results(tmp_path_factory, talking_head):
    """A mixed batch: a video (face), a spoken story (speech, speakers, language), simulated EEG with ERPs, a
    broken file."""
    from bitbox.processors.eeg_simulation import simulate_raw

    inputs = tmp_path_factory.mktemp("report_inputs")
    shutil.copy(talking_head, inputs / "talking_head.mp4")
    shutil.copy(DATA / "spoken_story.flac", inputs / "spoken_story.flac")
    simulate_raw(duration_s=40.0, n_events=12, seed=3).save(inputs / "eeg_raw.fif", verbose="error")
    (inputs / "broken.mp4").write_text("not a video")
    out = tmp_path_factory.mktemp("report_out")
    bitbox.process_folder(inputs, out, processors=["face", "speech", "speakers", "language", "eeg"], progress=False,
                          frame_step=2)
    return out


def test_report_layout_charts_qc_and_no_faces_by_default(results):
    proc = subprocess.run([sys.executable, "-m", "bitbox", "report", str(results)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    report = results / "report"
    assert sorted(str(p.relative_to(report)) for p in report.rglob("*") if p.is_file()) == [
        "assets/plotly.min.js", "index.html", "recordings/eeg_raw.html", "recordings/spoken_story.html",
        "recordings/talking_head.html"]
    from plotly.offline import get_plotlyjs

    assert (report / "assets" / "plotly.min.js").read_text() == get_plotlyjs()  # the library, written once
    index = (report / "index.html").read_text()
    assert "<a href='recordings/talking_head.html'>talking_head</a>" in index
    assert "broken" in index and "cannot be opened as a video" in index
    assert "<script src='assets/plotly.min.js'></script>" in index
    page = (report / "recordings" / "talking_head.html").read_text()
    assert "<script src='../assets/plotly.min.js'></script>" in page and "<a href='../index.html'>" in page
    assert not [css for css, _ in _images(page) if css == "frame"]  # no face without --show-faces
    assert "Quality control" in page and "blink_rate_per_min" in page and "1/min" in page
    assert "input_sha256" in page
    # the summary table explains each measure where it is shown
    blink = _catalogued("face", "blink_rate_per_min", "summary")
    assert f"<abbr title='{blink.description} [1/min]'>blink_rate_per_min</abbr>" in page.replace("&#x27;", "'")


def test_hovering_a_measure_shows_its_description_and_unit(results):
    bitbox.write_report(results)
    page = (results / "report" / "recordings" / "talking_head.html").read_text()
    timeline = _figures(page)["timeline"]
    yaw = _catalogued("face", "head_yaw", "timeseries")
    traces = [t for t in timeline["data"] if t.get("hovertemplate", "").startswith("<b>head_yaw [deg]</b>")]
    assert len(traces) == 1
    hover = traces[0]["hovertemplate"].replace("<br>", " ")
    assert yaw.unit == "deg" and " deg at " in hover
    assert " ".join(html.escape(yaw.description).split()) in " ".join(hover.split())
    # the values drawn are the time series' (every row: a short clip is not reduced)
    face = Measurements.read(results / "talking_head")["face"].timeseries
    drawn = np.array([np.nan if v is None else v for v in traces[0]["y"]])
    assert np.allclose(drawn, face["head_yaw"].to_numpy(dtype=float), rtol=1e-3, atol=1e-3, equal_nan=True)


def test_events_are_marked_on_one_time_axis_spanning_the_recording(results):
    bitbox.write_report(results)
    m = Measurements.read(results / "spoken_story")
    page = (results / "report" / "recordings" / "spoken_story.html").read_text()
    timeline = _figures(page)["timeline"]
    assert {t["xaxis"] for t in timeline["data"]} == {"x"}  # one shared time axis
    # the axis ends where the longest processor's data ends (its last row or event, or the duration it gives)
    end = max(max(r.timeseries["time_s"].max(), r.timeseries.get("end_s", pd.Series([0.0])).max(),
                  r.summary.get("duration_s") or 0.0) for r in m.values())
    assert end >= m["language"].timeseries["end_s"].max() + 0.2  # speech goes on after the last utterance
    assert timeline["layout"]["xaxis"]["range"] == [0, pytest.approx(end, abs=1e-3)]
    lanes = {t["y"][0] for t in timeline["data"] if t.get("y") and isinstance(t["y"][0], str)}
    assert {"pause", "utterance", "speaker turn"} <= lanes
    words = [t for t in timeline["data"] if t["type"] == "scatter" and t["y"] and t["y"][0] == "utterance"][0]
    utterances = m["language"].timeseries
    assert len(words["x"]) == len(utterances)
    assert words["x"] == pytest.approx(utterances["time_s"].to_numpy(dtype=float), abs=1e-3)
    first_words = " ".join(str(utterances["utterance_text"].iloc[0]).split()[:3])
    assert first_words in words["hovertext"][0].replace("<br>", " ")


def test_eeg_page_has_the_spectrum_and_the_erp_of_each_condition(results):
    bitbox.write_report(results)
    result = Measurements.read(results / "eeg_raw")["eeg"]
    assert "spectrum" in result.curves and any(name.startswith("erp_") for name in result.curves)
    figures = _figures((results / "report" / "recordings" / "eeg_raw.html").read_text())
    curves = [f for fid, f in figures.items() if fid.startswith("curve-eeg-")]
    assert len(curves) == len(result.curves)
    for figure, curve in zip(curves, result.curves.values()):
        assert figure["layout"]["title"]["text"] == curve.title
        assert figure["layout"]["yaxis"]["type"] == ("log" if curve.log_y else "linear")
        assert [t["name"] for t in figure["data"]] == list(curve.y)
        for trace, values in zip(figure["data"], curve.y.values()):
            assert np.allclose(np.array(trace["y"], dtype=float), values, rtol=1e-3, equal_nan=True)
        assert f"[{curve.x_unit}]" in figure["layout"]["xaxis"]["title"]["text"]


def test_faces_only_with_show_faces(results):
    bitbox.write_report(results, show_faces=True)
    page = (results / "report" / "recordings" / "talking_head.html").read_text()
    frames = [data for css, data in _images(page) if css == "frame"]
    assert len(frames) == 4 and all(f.startswith(PNG) for f in frames)
    assert page.index("id='timeline'") < page.index("class='frame'")  # beside the timeline
    bitbox.write_report(results)  # and gone again without
    assert not [c for c, _ in _images((results / "report" / "recordings" / "talking_head.html").read_text())
                if c == "frame"]


def test_frames_of_a_face_leaving_the_picture_are_flagged(media_dir):
    shifts = [(x, 0.0) for x in np.linspace(0, 300, 31)]
    path = synth.shift_video(media_dir / "leaving.mp4", shifts)
    ts = bitbox.process(path, store_landmarks=False)["face"].timeseries
    flagged = ts[ts["qc_reason"] == "face_partly_outside_frame"]
    assert len(flagged) > 0 and (flagged["quality"] < 1).all()
    assert ts["qc_reason"].iloc[0] == "ok" and ts["quality"].iloc[0] == pytest.approx(1.0)
    first_flag = flagged.index[0]
    assert (ts["qc_reason"].iloc[:first_flag] == "ok").all()  # only once it reaches the edge


# ---------------------------------------------------------------------------- long recordings, small pages
def test_a_ten_minute_recording_gives_a_small_page_with_its_extremes_and_low_quality_shaded(tmp_path):
    n, rate = 36000, 60.0  # 10 minutes at 60 Hz
    t = np.arange(n) / rate
    rng = np.random.default_rng(0)
    quality = np.ones(n)
    quality[(t >= 100) & (t < 110)] = 0.2  # a known stretch of low quality
    frame = pd.DataFrame({"time_s": t, "frame": np.arange(n), "pose_detected": 1, "quality": quality,
                          "qc_reason": np.where(quality < 0.5, "pose_partly_outside_frame", "ok")})
    for name in ("motion_energy", "speed_head", "speed_torso", "speed_left_hand", "speed_right_hand",
                 "trunk_lean_deg", "shoulder_width_rel"):
        frame[name] = rng.normal(1.0, 0.1, n)
    frame.loc[12345, "motion_energy"] = 50.0  # one spike
    result = ProcessorResult("pose", frame, summary={"n_frames": float(n)}, provenance={"processor": "pose"})
    result.write(tmp_path / "out" / "long")
    bitbox.write_report(tmp_path / "out")
    page = (tmp_path / "out" / "report" / "recordings" / "long.html").read_text()
    assert len(page.encode()) < 1.5e6
    timeline = _figures(page)["timeline"]
    assert all(len(trace["x"]) <= charts.MAX_POINTS for trace in timeline["data"])
    energy = next(tr for tr in timeline["data"] if tr["hovertemplate"].startswith("<b>motion_energy"))
    assert max(energy["y"]) == 50.0  # the spike survives the reduction
    said = re.search(r"([^.<]*): 36000 rows shown as the minimum and maximum of every 18 consecutive rows "
                     r"\(4000 points\)", page)
    assert said and "pose motion_energy" in said.group(1).split(", ")
    bands = [(s["x0"], s["x1"]) for s in timeline["layout"]["shapes"] if s["yref"] == "y domain"]
    assert bands == [(pytest.approx(100.0, abs=0.02), pytest.approx(110.0 - 1 / rate, abs=0.02))]
    assert "pose quality below 0.5" in page
    from plotly.offline import get_plotlyjs

    assert get_plotlyjs()[:5000] not in page  # the library is beside the pages, not in them


def test_reduce_series_keeps_each_bins_minimum_and_maximum_in_time_order():
    t = np.arange(10.0)
    y = np.array([0, 5, 1, 2, 9, -3, np.nan, np.nan, 4, 4], dtype=float)
    reduced = charts.reduce_series(t, y, max_points=6)  # bins of 4 rows: [0 5 1 2] [9 -3 nan nan] [4 4]
    assert reduced.per_bin == 4 and reduced.n_rows == 10
    assert reduced.t.tolist() == [0, 1, 4, 5, 8, 8]
    assert reduced.y.tolist() == [0, 5, 9, -3, 4, 4]
    values = np.array([1, 2, np.nan, np.nan] + [np.nan] * 4 + [3, 4, 5, 6.0])
    gap = charts.reduce_series(np.arange(12.0), values, max_points=6)
    assert np.isnan(gap.y[2:4]).all() and gap.t[2:4].tolist() == [4, 4]  # a bin without values stays a gap
    assert gap.y[[0, 1, 4, 5]].tolist() == [1, 2, 3, 6]
    assert charts.reduce_series(t, y, max_points=10).describe() == ""


def test_low_quality_bands_are_the_runs_below_the_threshold():
    t = np.arange(0, 10, 0.5)
    quality = np.ones_like(t)
    quality[[2, 3, 10]] = 0.1
    quality[15] = np.nan  # unknown quality counts as low
    assert charts.low_quality_bands(t, quality, 0.5) == [(0.75, 1.75), (4.75, 5.25), (7.25, 7.75)]
    assert charts.low_quality_bands(t, np.ones_like(t), 0.5) == []
    assert charts.low_quality_bands(t, quality, 0.5, max_bands=2) == [(0.75, 1.75), (4.75, 7.75)]


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


def test_cohort_page_has_failures_qc_and_labelled_distributions(cohort):
    index = (cohort / "report" / "index.html").read_text()
    assert "Failures (1)" in index and "broken" in index
    assert "<th data-column='face.face_detected_fraction'><abbr title='" in index  # the QC column, described
    for rid in ("talk", "sway", "sway_half"):
        assert f"<a href='recordings/{rid}.html'>{rid}</a>" in index
    assert not _images(index)
    figure = _figures(index)["cohort-face"]
    summary = pd.read_csv(cohort / "summary.csv").set_index("recording_id")
    box = next(t for t in figure["data"] if t["name"] == "blink_rate_per_min")
    expected = summary["face.blink_rate_per_min"].dropna()
    drawn = dict(zip(box["text"], box["y"]))
    assert sorted(drawn) == sorted(expected.index)
    assert [drawn[rid] for rid in expected.index] == pytest.approx(expected.tolist(), rel=1e-3)
    assert box["customdata"] == [f"recordings/{rid}.html" for rid in box["text"]]  # a click opens the page
    description = _catalogued("face", "blink_rate_per_min", "summary").description
    assert "%{text}" in box["hovertemplate"] and " ".join(description.split()[:5]) in box["hovertemplate"]
    assert "Distributions of the summary measures" in index


def test_cohort_page_draws_small_families_and_leaves_channels_to_the_pages(results):
    """Per-condition ERP measures (a family of few columns) are distributions; per-channel powers are not."""
    bitbox.write_report(results)
    figure = _figures((results / "report" / "index.html").read_text())["cohort-eeg"]
    names = {t["name"] for t in figure["data"]}
    assert {"erp_target_p3_peak_latency_ms", "erp_standard_p3_peak_latency_ms", "alpha_peak_hz"} <= names
    assert not any("_ch_" in name for name in names)


def test_cohort_page_has_qc_columns_for_every_modality(results):
    bitbox.write_report(results)
    index = (results / "report" / "index.html").read_text()
    header = index[index.index("<table class='sortable' id='qc'>"): index.index("</thead>")]
    summary = pd.read_csv(results / "summary.csv")
    for processor in ("face", "speech", "speakers", "language", "eeg"):
        qc = bitbox.get_processor_class(processor).qc
        declared = [f"{processor}.{m}" for m in (*qc.detected_fraction, *qc.measures)]
        present = [c for c in declared if c in summary.columns]
        assert present, processor
        for column in present:
            assert f"<th data-column='{column}'><abbr title='" in header
    assert header.index("'face.face_detected_fraction'") < header.index("'eeg.n_bad_channels'")


# ---------------------------------------------------------------------------- in a browser, offline
_CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                   "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--virtual-time-budget=20000"]


def _browser() -> str | None:
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                None)


def _load_offline(page: Path, tmp_path: Path) -> tuple[str, list[str], list[str]]:
    """Open ``page`` in headless Chromium (in a network namespace of its own when root can make one; under strace
    for the files it opens): the DOM after the scripts ran, the files opened under ``tmp_path``'s parent tree of
    the page, and the requests the page made (from Chromium's net log: those with the page as initiator; the
    browser's own update checks have none)."""
    browser = _browser()
    if browser is None or shutil.which("strace") is None:
        pytest.skip("needs chromium and strace (make test installs them)")
    run = tmp_path / f"run_{page.stem}"
    run.mkdir()
    net, trace = run / "net.json", run / "trace.txt"
    command = [browser, *_CHROMIUM_FLAGS, f"--user-data-dir={run / 'profile'}", f"--log-net-log={net}",
               "--dump-dom", page.as_uri()]
    isolate = (["unshare", "-n"] if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("unshare")
               and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0 else [])
    proc = subprocess.run(["strace", "-f", "-qq", "-e", "trace=open,openat", "-o", str(trace), *isolate, *command],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    opened = sorted(set(re.findall(r'open(?:at)?\([^"]*"([^"]+)"', trace.read_text())))
    log = json.loads(net.read_text())
    kinds = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    requests = [e["params"]["url"] for e in log["events"] if kinds.get(e["type"]) == "URL_REQUEST_START_JOB"
                and "url" in e.get("params", {}) and e["params"].get("initiator") != "not an origin"]
    requests += [e["params"]["url"] for e in log["events"] if str(e.get("params", {}).get("url", "")).startswith("ws")]
    return proc.stdout, opened, requests


def test_pages_render_in_chromium_with_no_request_leaving_them(results, tmp_path):
    bitbox.write_report(results)
    report = results / "report"
    for page in (report / "index.html", report / "recordings" / "talking_head.html",
                 report / "recordings" / "eeg_raw.html"):
        text = page.read_text()
        assert not re.search(r"(?:https?|wss?|ftp):|//[a-z0-9]", text.replace("file:", ""), re.I), page
        charts_on_page = text.count("<div class='chart' data-figure=")
        dom, opened, requests = _load_offline(page, tmp_path)
        assert requests == [], requests
        drawn = re.findall(r'<div class="chart js-plotly-plot" data-figure="', dom)  # Plotly took every chart
        assert len(drawn) == charts_on_page >= 1
        assert dom.count('class="main-svg"') >= charts_on_page  # and drew it (as SVG)
        under_out = [p for p in opened if p.startswith(str(results))]
        assert sorted(under_out) == sorted([str(page), str(report / "assets" / "plotly.min.js")])


def test_the_request_detector_sees_a_page_reaching_out(results, tmp_path):
    """The check above is not vacuous: a page loading a script and an image from the internet is caught."""
    page = results / "report" / "recordings" / "reaching_out.html"
    page.write_text("<!DOCTYPE html><html><head><script src='https://cdn.example.invalid/plotly.js'></script></head>"
                    "<body><img src='http://example.invalid/x.png'></body></html>")
    try:
        _dom, _opened, requests = _load_offline(page, tmp_path)
    finally:
        page.unlink()
    assert sorted(requests) == ["http://example.invalid/x.png", "https://cdn.example.invalid/plotly.js"]


def test_qc_table_sorts_in_chromium(cohort, tmp_path):
    """Clicking a column's name sorts the QC table (a recording's reasons stay under it)."""
    probe = cohort / "report" / "sorted.html"
    script = ("<script>var th = document.querySelector('#qc thead th'); th.click(); th.click();"
              "var p = document.createElement('pre'); p.id = 'order'; p.textContent = Array.prototype.map.call("
              "document.querySelectorAll('#qc tbody tr.rec td.rid'), function (td) { return td.textContent; })"
              ".join(','); document.body.appendChild(p);</script></body>")
    probe.write_text((cohort / "report" / "index.html").read_text().replace("</body>", script))
    try:
        dom, _opened, requests = _load_offline(probe, tmp_path)
    finally:
        probe.unlink()
    order = re.search(r'<pre id="order">([^<]*)</pre>', dom).group(1).split(",")
    assert order == ["talk", "sway_half", "sway", "broken"]  # descending after two clicks
    assert requests == []


def test_cohort_page_dots_are_drawn_on_screen(cohort, tmp_path):
    pixels = render_in_chromium(cohort / "report" / "index.html", tmp_path)
    if pixels is None:
        pytest.skip("Chromium is not installed (make test installs Debian's chromium); the page was not rendered")
    blue = np.all(np.abs(pixels - [76, 114, 176]) < 30, axis=-1).sum()  # the recordings' dots
    assert blue > 200, blue


# ---------------------------------------------------------------------------- names
def test_recordings_called_index_or_report_do_not_collide_with_the_report(results, tmp_path):
    """Recording pages have a folder of their own: an OUT of an older Bitbox may hold recordings 'index' and
    'report' (new runs call them 'index_rec' and 'report_rec'); both get their page, the cohort page stays, and
    the pages an older report wrote beside the cohort page go."""
    from bitbox.batch.layout import not_reserved

    assert not_reserved("report") == "report_rec" and not_reserved("Index") == "Index_rec"
    out = tmp_path / "out"
    out.mkdir()
    for rid in ("index", "report", "recordings", "assets"):
        shutil.copytree(results / "talking_head", out / rid)
    old = out / "report" / "talking_head.html"
    old.write_text("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>Bitbox report: talking_head"
                   "</title></head><body></body></html>\n")
    mine = out / "report" / "my_notes.html"
    mine.write_text("<p>not Bitbox's</p>")
    index = bitbox.write_report(out)
    assert index == out / "report" / "index.html"
    page = index.read_text()
    assert page.count("<h1>Bitbox report</h1>") == 1
    for rid in ("index", "report", "recordings", "assets"):
        assert f"<a href='recordings/{rid}.html'>{rid}</a>" in page
        assert f"<h1>{rid}</h1>" in (out / "report" / "recordings" / f"{rid}.html").read_text()
    assert (out / "report" / "face.json").is_file()  # the old recording's results are untouched
    assert not old.exists() and mine.exists()
