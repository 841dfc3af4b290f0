"""The speech processor against speech with known truth (espeak-ng) and real speech (LibriVox)."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import bitbox
from bitbox.processors.speech import (SpeechProcessor, cepstral_peak_prominence, speech_segments,
                                      syllable_nuclei)
from bitbox.testing import check_processor
from tools import speech_synth


@pytest.fixture(scope="module")
def rate_results(rate_files):
    return {rate: (SpeechProcessor().process(path), syllables) for rate, (path, syllables) in rate_files.items()}


def test_conformance(pause_file):
    check_processor(SpeechProcessor, pause_file[0])


def test_speech_rate_tracks_the_set_rate(rate_results):
    rates = sorted(rate_results)
    measured = [rate_results[r][0].summary["speech_rate_syll_per_s"] for r in rates]
    assert all(b > a for a, b in zip(measured, measured[1:])), measured
    for rate in rates:
        result, syllables = rate_results[rate]
        truth = syllables / result.summary["speaking_time_s"]
        assert result.summary["speech_rate_syll_per_s"] == pytest.approx(truth, rel=0.15), rate
        assert result.summary["syllable_count"] == pytest.approx(syllables, rel=0.15)
        # Articulation rate excludes pauses, so it is never below the speech rate.
        assert result.summary["articulation_rate_syll_per_s"] >= result.summary["speech_rate_syll_per_s"]


def test_f0_tracks_the_set_pitch(speech_dir):
    means = []
    for pitch in (30, 50, 70, 90):
        samples, sr = speech_synth.espeak(speech_synth.SENTENCES[0][0], pitch=pitch)
        path = speech_dir / f"pitch_{pitch}.wav"
        sf.write(path, samples, sr)
        means.append(SpeechProcessor().process(path).summary["f0_mean_hz"])
    assert all(b > a * 1.05 for a, b in zip(means, means[1:])), means


def test_inserted_silences_come_out_as_pauses(pause_file):
    path, truth = pause_file
    result = SpeechProcessor().process(path)
    ts = result.timeseries
    active = ts["speech_active"].to_numpy()
    times = ts["time_s"].to_numpy()
    # The pauses are the inactive runs between the first and last speech frames.
    edges = np.flatnonzero(np.diff(active)) + 1
    runs = [(times[a], times[b] if b < len(times) else times[-1] + 0.01)
            for a, b in zip(np.r_[0, edges], np.r_[edges, len(active)]) if active[a] == 0]
    inner = [(a, b) for a, b in runs if a > times[0] and b < times[-1]]
    assert len(inner) == len(truth) == result.summary["pause_count"]
    for (start, end), (true_start, true_end) in zip(inner, truth):
        assert abs((end - start) - (true_end - true_start)) <= 0.05
        assert abs(start - true_start) <= 0.05 and abs(end - true_end) <= 0.05
    assert result.summary["pause_mean_s"] == pytest.approx(np.mean([b - a for a, b in truth]), abs=0.05)


def test_no_nan_where_speech_exists(pause_file):
    result = SpeechProcessor().process(pause_file[0])
    ts = result.timeseries
    speech = ts[ts["speech_active"] == 1]
    assert len(speech) > 100
    for column in ("f0_hz", "intensity_db", "f1_hz", "f2_hz", "f3_hz", "vad_probability"):
        assert speech[column].notna().all(), column
    assert ts.loc[ts["speech_active"] == 0, "f0_hz"].isna().all()
    for key in ("speech_rate_syll_per_s", "articulation_rate_syll_per_s", "pause_count", "pause_mean_s",
                "pause_fraction", "f0_mean_hz", "f0_sd_semitones", "jitter_local", "shimmer_local", "hnr_db",
                "cpp_db", "mfcc_1_mean"):
        assert np.isfinite(result.summary[key]), key


def test_voice_quality_falls_with_noise(speech_dir):
    samples, sr = speech_synth.espeak(" ".join(s for s, _ in speech_synth.SENTENCES[:2]))
    hnr, cpp = [], []
    for snr in (40, 20, 10):
        path = speech_dir / f"noise_{snr}.wav"
        sf.write(path, speech_synth.add_noise(samples, snr), sr)
        summary = SpeechProcessor().process(path).summary
        hnr.append(summary["hnr_db"])
        cpp.append(summary["cpp_db"])
    assert hnr[0] > hnr[1] > hnr[2], hnr
    assert cpp[0] > cpp[1] > cpp[2], cpp


def test_cpp_of_a_pulse_train_beats_noise():
    sr = 16000
    pulses = np.zeros((4, 640))
    pulses[:, ::80] = 1.0  # 200 Hz
    noise = np.random.default_rng(0).standard_normal((4, 640))
    assert cepstral_peak_prominence(pulses * np.hanning(640), sr).min() > \
        cepstral_peak_prominence(noise * np.hanning(640), sr).max() + 10


def test_syllable_nuclei_hand_made_contour():
    times = np.arange(0, 1.0, 0.01)
    contour = 60 + 10 * np.sin(2 * np.pi * 4 * times)  # four peaks of 20 dB dips
    voiced = np.ones_like(times, dtype=bool)
    assert len(syllable_nuclei(contour, times, voiced)) == 4
    voiced[times > 0.5] = False
    assert len(syllable_nuclei(contour, times, voiced)) == 2
    shallow = 60 + 0.5 * np.sin(2 * np.pi * 4 * times)  # 1-dB dips: one nucleus at most
    assert len(syllable_nuclei(shallow, times, np.ones_like(times, dtype=bool))) <= 1


def test_vad_hysteresis():
    probs = np.array([0.1] * 10 + [0.9] * 20 + [0.4] * 2 + [0.9] * 20 + [0.1] * 10 + [0.6] * 3 + [0.1] * 5)
    segments = speech_segments(probs, threshold=0.5, hop_s=0.032)
    # The 2-frame dip (64 ms, above the exit threshold 0.35) does not split; the 96-ms blip is too short.
    assert len(segments) == 1
    assert segments[0][0] == pytest.approx(10 * 0.032)
    assert segments[0][1] == pytest.approx(52 * 0.032)


def test_egemaps_option(pause_file):
    summary = SpeechProcessor(egemaps=True).process(pause_file[0]).summary
    egemaps = {k: v for k, v in summary.items() if k.startswith("egemaps_")}
    assert len(egemaps) == 88
    assert "egemaps_F0semitoneFrom27.5Hz_sma3nz_amean" in egemaps


def test_real_speech_librivox(librivox):
    path, _ = librivox["sense_and_sensibility_01_austen_64kb-0920"]
    summary = SpeechProcessor().process(path).summary
    assert 80 < summary["f0_mean_hz"] < 300
    assert 2.0 < summary["speech_rate_syll_per_s"] < 7.0
    assert 0 < summary["jitter_local"] < 0.05 and 0 < summary["shimmer_local"] < 0.3


@pytest.mark.parametrize("problem", ["silent", "clipped", "short", "corrupt", "no_audio"])
def test_bad_audio_gives_clear_errors(problem, tmp_path, talking_head):
    sr = 16000
    tone = 0.3 * np.sin(2 * np.pi * 150 * np.arange(3 * sr) / sr)
    path = tmp_path / f"{problem}.wav"
    if problem == "silent":
        sf.write(path, np.zeros(3 * sr), sr)
        expected = "is silent"
    elif problem == "clipped":
        sf.write(path, np.clip(tone * 10, -1, 1), sr)
        expected = "is clipped"
    elif problem == "short":
        sf.write(path, tone[: sr // 2], sr)
        expected = "too short"
    elif problem == "corrupt":
        path.write_bytes(b"RIFF" + bytes(range(256)) * 20)
        expected = "cannot be"
    else:
        path = talking_head
        expected = "no audio track"
    with pytest.raises(bitbox.RecordingError, match=expected) as info:
        SpeechProcessor().process(path)
    assert path.name in str(info.value)


def test_process_picks_the_speech_processor_for_audio():
    from tests.conftest import DATA

    m = bitbox.process(DATA / "spoken_story.flac")
    assert m.processors == ["speech"]
    assert m["speech"].summary["pause_count"] >= 2  # the story has two inserted pauses


def test_octave_jump_rate_counts_halvings_and_doublings():
    f0 = np.array([100.0, 101, 202, 204, 102, 103, 104, 70, 140, 141])
    voiced = np.ones(len(f0), dtype=bool)
    # Pairs: 101->202 (x2), 204->102 (/2), 70->140 (x2); 104->70 is 0.57 octave: not a jump.
    assert SpeechProcessor._octave_jump_rate(f0, voiced) == pytest.approx(3 / 9)
    voiced[2] = False  # pairs touching an unvoiced frame do not count
    assert SpeechProcessor._octave_jump_rate(f0, voiced) == pytest.approx(2 / 7)
    assert SpeechProcessor._octave_jump_rate(f0, np.zeros(len(f0), dtype=bool)) == 0.0


@settings(max_examples=20)
@given(st.floats(60, 400), st.floats(-1.5, 1.5))
def test_octave_jump_threshold(base, octaves):
    assume(abs(abs(octaves) - 0.75) > 1e-6)
    f0 = base * 2.0 ** (octaves * (np.arange(10) % 2))
    rate = SpeechProcessor._octave_jump_rate(f0, np.ones(10, dtype=bool))
    assert rate == (1.0 if abs(octaves) >= 0.75 else 0.0)


@pytest.mark.parametrize("voice, pitch, ceiling", [("en-us", 10, 5000.0), ("en-us+f3", 80, 5500.0)])
def test_formant_ceiling_from_the_voice(speech_dir, voice, pitch, ceiling):
    """espeak-ng's low male voice (F0 about 70 Hz) and high female voice (about 270 Hz)."""
    samples, sr = speech_synth.espeak(speech_synth.SENTENCES[0][0], pitch=pitch, voice=voice)
    path = speech_dir / f"ceiling_{voice}_{pitch}.wav"
    sf.write(path, samples, sr)
    summary = SpeechProcessor().process(path).summary
    assert (summary["f0_median_hz"] < 160) == (ceiling == 5000.0)
    assert summary["formant_ceiling_hz"] == ceiling
    assert summary["notes"] == "" and summary["hum_db"] == -60.0


def test_voice_windows_mfcc_is_librosas_with_frames_starting_at_zero():
    """voice_windows.mfcc is librosa.feature.mfcc (defaults) with frame i's 25-ms window at i x 10 ms."""
    import librosa

    from bitbox.processors.voice_windows import mfcc

    x = np.random.default_rng(0).normal(0, 1e-3, 16000)
    x[1600] = 1.0  # a click at 0.1 s: inside the windows [160 i, 160 i + 400) of frames 8 and 9 (10 starts on it at 0)
    c = mfcc(x, 16000, n_mfcc=13)
    assert c.shape == (13, 1 + (16000 - 400) // 160)
    loud = np.flatnonzero(c[0] > np.median(c[0]) + 200)
    assert loud.tolist() == [8, 9]
    padded = np.pad(x, (56, 56))
    np.testing.assert_allclose(c, librosa.feature.mfcc(y=padded, sr=16000, n_mfcc=13, n_fft=512, win_length=400,
                                                       hop_length=160, n_mels=128, center=False))
