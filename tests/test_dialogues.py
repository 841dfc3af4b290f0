"""tools/dialogues.py: conversations whose truth (who speaks when, gaps, overlaps) matches the audio exactly."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from bitbox.errors import ParameterError
from bitbox.processors.rttm import read_rttm
from tools import dialogues as dlg

pytestmark = pytest.mark.skipif(not dlg.have_tools(), reason="needs flite, festival and espeak-ng (Debian packages)")

FRAME = 160  # 10 ms at 16 kHz


@pytest.fixture(scope="module")
def built() -> dict[str, dlg.BuiltDialogue]:
    names = ["overlaps", "short_turns", "interview"]
    out = {name: dlg.build(dlg.SCENARIOS[name]) for name in names}
    for name in names:  # the same turns without the noise floor (cached utterances: cheap)
        out[name + "_clean"] = dlg.build(dataclasses.replace(dlg.SCENARIOS[name], snr_db=None))
    return out


def _samples(t: float) -> int:
    return int(round(t * dlg.SR))


def _frame_db(x: np.ndarray) -> np.ndarray:
    n = len(x) // FRAME
    power = np.mean(x[: n * FRAME].astype(np.float64).reshape(n, FRAME) ** 2, axis=1)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(power)


def test_same_spec_gives_the_same_bytes(built, tmp_path):
    first = built["short_turns"]
    dlg.clear_cache()  # synthesise everything again (festival and espeak-ng)
    again = dlg.build(dlg.SCENARIOS["short_turns"])
    assert again.samples.tobytes() == first.samples.tobytes()
    assert again.truth == first.truth
    a = dlg.write_dialogue(first, tmp_path / "a")
    b = dlg.write_dialogue(again, tmp_path / "b")
    for kind in ("wav", "rttm", "json"):
        assert a[kind].read_bytes() == b[kind].read_bytes(), kind


def test_audio_is_silent_outside_the_turns(built):
    for name in ("overlaps_clean", "short_turns_clean", "interview_clean"):
        b = built[name]
        inside = np.zeros(len(b.samples), dtype=bool)
        for turn in b.truth["turns"]:
            inside[_samples(turn["start_s"]):_samples(turn["end_s"])] = True
        assert np.all(b.samples[~inside] == 0), name  # nothing leaks into gaps, lead or tail
        for turn in b.truth["turns"]:  # every turn starts and ends with speech: its first and last segment's ends
            levels = _frame_db(b.samples[_samples(turn["start_s"]):_samples(turn["end_s"])])
            assert levels[0] >= levels.max() - 40 and levels[-1] >= levels.max() - 40
            own = b.segments[(b.segments["speaker"] == turn["speaker"])
                             & (b.segments["start_s"] >= turn["start_s"] - 1e-9)
                             & (b.segments["end_s"] <= turn["end_s"] + 1e-9)]
            assert own["start_s"].min() == turn["start_s"] and own["end_s"].max() == turn["end_s"]


def test_truth_segments_hold_speech_and_pauses_between_are_quiet(built):
    for name in ("overlaps_clean", "short_turns_clean", "interview_clean"):
        b = built[name]
        turns = b.truth["turns"]
        spans = [(_samples(t["start_s"]), _samples(t["end_s"])) for t in turns]
        for i, (start, end) in enumerate(spans):
            if any(j != i and s < end and start < e for j, (s, e) in enumerate(spans)):
                continue  # overlapped: the other speaker's sound is there too
            levels = _frame_db(b.samples[start:end])  # frames aligned on the turn's start
            peak = levels.max()
            own = b.segments[(b.segments["speaker"] == turns[i]["speaker"])
                             & (b.segments["start_s"] >= turns[i]["start_s"] - 1e-9)
                             & (b.segments["end_s"] <= turns[i]["end_s"] + 1e-9)]
            assert len(own) >= 1
            in_segment = np.zeros(len(levels), dtype=bool)
            for s, e in zip(own["start_s"], own["end_s"]):
                a, z = (_samples(s) - start) // FRAME, (_samples(e) - start) // FRAME
                in_segment[a:z] = True
                assert levels[a] >= peak - 40 and levels[z - 1] >= peak - 40  # segments start/end with speech
                assert 10 * np.log10(np.mean(b.samples[_samples(s):_samples(e)].astype(np.float64) ** 2)) > peak - 25
            assert np.all(levels[~in_segment] < peak - 40), (name, i)  # pauses inside a turn are below -40 dB
            assert b.segments["start_s"].min() >= turns[0]["start_s"] - 1e-9


def test_noise_floor_is_at_the_requested_snr(built):
    b = built["interview"]
    gap = b.samples[_samples(b.truth["turns"][0]["end_s"]) + 200:_samples(b.truth["turns"][1]["start_s"]) - 200]
    clean = built["interview_clean"]
    noise_db = 20 * np.log10(np.std(gap.astype(np.float64)))
    # the clean and noisy mixes differ by their peak normalisation only (noise is 40 dB down)
    gain = np.abs(b.samples).max() / np.abs(clean.samples).max()
    speech = np.concatenate([clean.samples[_samples(s):_samples(e)] for s, e in
                             zip(clean.segments["start_s"], clean.segments["end_s"])]).astype(np.float64)
    speech_db = 20 * np.log10(np.sqrt(np.mean(speech ** 2)) * gain)
    assert speech_db - noise_db == pytest.approx(40.0, abs=1.5)
    assert np.abs(b.samples).max() == pytest.approx(10 ** (-3 / 20), rel=1e-6)


def test_requested_gaps_and_overlaps_are_exact(built):
    for name in ("overlaps", "short_turns", "interview"):
        spec, truth = dlg.SCENARIOS[name], built[name].truth
        latest_end = None
        for turn, got in zip(spec.turns, truth["turns"]):
            if latest_end is not None:
                assert got["start_s"] - latest_end == pytest.approx(turn.offset_s, abs=1e-9)
            latest_end = got["end_s"] if latest_end is None else max(latest_end, got["end_s"])
    truth = built["overlaps"].truth
    assert [t["kind"] for t in truth["turns"]] == ["turn", "backchannel", "interruption", "turn", "turn", "backchannel",
                                                  "turn", "interruption", "backchannel", "interruption", "turn"]
    assert [round(x["latency_s"], 9) for x in truth["latencies"]] == [-0.5, 0.4, 0.6, -0.8, -0.3, 0.7]
    assert truth["n_interruptions"] == 3 and truth["n_backchannels"] == 3 and truth["n_overlaps"] == 6
    backchannels = [t for t in truth["turns"] if t["kind"] == "backchannel"]
    assert all(t["duration_s"] <= 1.0 for t in backchannels)
    overlap = {round(o["start_s"], 6): o["duration_s"] for o in truth["overlaps"]}
    for t in truth["turns"]:
        if t["kind"] == "interruption":
            assert overlap[round(t["start_s"], 6)] == pytest.approx(-t["offset_s"], abs=1e-9)
        if t["kind"] == "backchannel":
            assert overlap[round(t["start_s"], 6)] == pytest.approx(t["duration_s"], abs=1e-9)
    assert truth["overlap_s"] == pytest.approx(sum(overlap.values()))
    # interview: no overlap; latencies are the requested gaps, all within 0.2-1.5 s
    lat = [x["latency_s"] for x in built["interview"].truth["latencies"]]
    assert lat == pytest.approx(list(dlg._INTERVIEW_GAPS), abs=1e-9)
    assert built["interview"].truth["n_overlaps"] == 0


def test_turn_lengths_and_talk_time(built):
    durations = [t["duration_s"] for t in built["interview"].truth["turns"]]
    assert 1.0 <= min(durations) and max(durations) <= 8.0
    short = [t["duration_s"] for t in built["short_turns"].truth["turns"]]
    assert min(short) < 1.3 and max(short) < 2.5
    for b in built.values():
        for label, info in b.truth["speakers"].items():
            own = b.segments[b.segments["speaker"] == label]
            assert info["talk_time_s"] == pytest.approx(float((own["end_s"] - own["start_s"]).sum()))
        assert b.truth["n_speakers"] == b.segments["speaker"].nunique() == len(dlg.SCENARIOS[b.name].voices)


def test_cli_writes_wav_rttm_and_json(tmp_path, built):
    import soundfile as sf

    assert dlg.main([str(tmp_path), "--scenario", "short_turns"]) == 0
    b = built["short_turns"]
    samples, sr = sf.read(str(tmp_path / "short_turns.wav"), dtype="float32")
    assert sr == 16000 and sf.info(str(tmp_path / "short_turns.wav")).subtype == "PCM_16"
    assert np.abs(samples - b.samples).max() <= 1 / 32768 + 1e-7
    table = read_rttm(tmp_path / "short_turns.truth.rttm")
    assert table.attrs["file_id"] == "short_turns"
    assert np.abs(table[["start_s", "end_s"]].to_numpy() - b.segments[["start_s", "end_s"]].to_numpy()).max() <= 5e-4
    assert table["speaker"].tolist() == b.segments["speaker"].tolist()
    truth = json.loads((tmp_path / "short_turns.truth.json").read_text())
    assert truth["n_turns"] == 15 and truth["speakers"]["B"]["voice"] == "espeak_f5"


def test_long_dialogue_has_the_requested_length():
    b = dlg.build(dlg.long_dialogue(1))
    assert len(b.samples) == 60 * dlg.SR
    assert b.segments["end_s"].max() <= 59.5 + 1e-9
    assert b.truth["n_speakers"] == 2 and b.truth["n_turns"] >= 12
    with pytest.raises(ParameterError, match="minutes"):
        dlg.long_dialogue(0)


@pytest.mark.skipif(not dlg.have_tools(real=True), reason="needs pocketsphinx test data and alsa-utils sounds")
def test_real_voices_dialogue():
    b = dlg.build(dlg.SCENARIOS["real"])
    assert 40 <= b.truth["duration_s"] <= 60
    assert b.truth["n_speakers"] == 3 and b.truth["n_overlaps"] == 0
    for clip in dlg.REAL_CLIPS["an4_man"]:  # each clip is cut to its speech: shorter than the file
        full = dlg._read_audio(clip)
        assert 0.5 * len(full) < len(dlg.utterance("an4_man", clip=clip)) < len(full)
    # goforward.raw: ~0.45 s of room noise before the first word (Silero VAD: speech from 0.48 s); a
    # -40-dB threshold would keep it (the noise floor is at -44 dB re the peak), the noise-floor rule cuts it
    full = dlg._read_audio(dlg.REAL_CLIPS["an4_man"][0])
    assert dlg.speech_extent(full)[0] == 0
    threshold = dlg.speech_threshold_db(full, recording=True)
    assert -32 < threshold < -25
    first, stop = dlg.speech_extent(full, threshold_db=threshold)
    assert 0.40 * dlg.SR <= first <= 0.52 * dlg.SR
    turns = b.truth["turns"]
    voices = dlg.SCENARIOS["real"].voices
    for turn in turns:  # turns start and end with frames above the clip's threshold (noise floor: 1 dB)
        levels = _frame_db(b.samples[_samples(turn["start_s"]):_samples(turn["end_s"])])
        floor = levels.max() + dlg._prepared(voices[turn["speaker"]], clip=turn["clip"]).threshold_db - 1.0
        assert levels[0] >= floor and levels[-1] >= floor


def test_bad_specs_are_refused():
    base = dlg.SCENARIOS["short_turns"]
    with pytest.raises(ParameterError, match="unknown voice 'nobody'"):
        dlg.build(dataclasses.replace(base, voices={"A": "nobody", "B": "slt"}))
    with pytest.raises(ParameterError, match="turn of 'C', who has no voice"):
        dlg.build(dataclasses.replace(base, turns=(*base.turns, dlg.Turn("C", "Hello there."))))
    with pytest.raises(ParameterError, match="before the recording"):
        dlg.build(dataclasses.replace(base, turns=base.turns[:2] + (dlg.Turn("A", "Hello there.", offset_s=-30.0),)))
    with pytest.raises(ParameterError, match="give the turn a clip"):
        dlg.build(dlg.Dialogue("x", {"r": "librivox"}, (dlg.Turn("r", "text"),)))
    with pytest.raises(ParameterError, match="offset_s is a number"):
        dlg.Turn("A", "Hi.", offset_s=float("nan"))
