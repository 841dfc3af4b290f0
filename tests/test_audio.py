"""Audio input: formats, video audio tracks, mix-down, sample rates and bad audio."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import bitbox
from bitbox.audio import read_audio, resample
from bitbox.processors.audio_quality import check_audio, has_audio_track
from bitbox.cli import main as cli
from bitbox.processors.speech import SpeechProcessor
from tools import speech_synth

SR = 22050


@pytest.fixture(scope="module")
def tone() -> np.ndarray:
    """Two seconds of a 220-Hz tone at half scale."""
    return (0.5 * np.sin(2 * np.pi * 220 * np.arange(2 * SR) / SR)).astype(np.float32)


@pytest.mark.parametrize("suffix, tolerance", [(".wav", 1e-4), (".flac", 1e-4), (".ogg", 0.05), (".mp3", 0.05)])
def test_formats_keep_the_native_rate(tmp_path, tone, suffix, tolerance):
    path = tmp_path / f"tone{suffix}"
    sf.write(path, tone, SR)
    samples, sr = read_audio(path)
    assert sr == SR and samples.dtype == np.float32 and samples.ndim == 1
    n = min(len(samples), len(tone))
    # Lossy codecs shift and smear the wave: compare levels and the dominant frequency.
    assert np.sqrt(np.mean(samples ** 2)) == pytest.approx(np.sqrt(np.mean(tone ** 2)), rel=0.1)
    spectrum = np.abs(np.fft.rfft(samples[:n]))
    assert np.fft.rfftfreq(n, 1 / sr)[np.argmax(spectrum)] == pytest.approx(220, abs=2)
    if tolerance < 1e-3:
        assert np.max(np.abs(samples[:n] - tone[:n])) < tolerance


def test_stereo_is_averaged_to_mono(tmp_path, tone):
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([tone, np.zeros_like(tone)], axis=1), SR)
    samples, _ = read_audio(path)
    assert np.allclose(samples, tone / 2, atol=1e-4)
    both, _ = read_audio(path, mono=False)
    assert both.shape == (2, len(tone))


def test_resampling(tmp_path, tone):
    path = tmp_path / "tone.wav"
    sf.write(path, tone, SR)
    samples, sr = read_audio(path, sr=16000)
    assert sr == 16000 and len(samples) == pytest.approx(2 * 16000, abs=2)
    spectrum = np.abs(np.fft.rfft(samples))
    assert np.fft.rfftfreq(len(samples), 1 / sr)[np.argmax(spectrum)] == pytest.approx(220, abs=1)
    assert resample(tone, SR, SR) is tone


def test_audio_track_of_a_video(tmp_path, talking_head, pause_file):
    path, truth = pause_file
    samples, sr = sf.read(path, dtype="float32")
    video = speech_synth.video_with_audio(talking_head, samples, sr, tmp_path / "interview.mp4", channels=2)
    assert has_audio_track(video) and not has_audio_track(talking_head)
    decoded, decoded_sr = bitbox.Recording(video).load_audio()
    assert decoded_sr == sr and abs(len(decoded) - len(samples)) < 0.1 * sr  # codec priming only
    # The speech measures of the video's sound match those of the original file.
    from_video = SpeechProcessor().process(video).summary
    assert from_video["pause_count"] == len(truth)
    assert from_video["pause_mean_s"] == pytest.approx(np.mean([b - a for a, b in truth]), abs=0.06)
    # In a batch the video gets both its video and its audio processors.
    out = tmp_path / "out"
    assert cli(["run", str(video), "-o", str(out), "-p", "face,speech", "-q"]) == 0
    row = pd.read_csv(out / "summary.csv").iloc[0]
    assert row["status"] == "ok" and row["face.face_detected_fraction"] > 0.9 and row["speech.pause_count"] == 3


def test_a_silent_video_still_gets_its_video_measures(tmp_path, talking_head):
    out = tmp_path / "out"
    assert cli(["run", str(talking_head), "-o", str(out), "-p", "face,speech", "-q"]) == 0
    manifest = pd.read_csv(out / "manifest.csv").iloc[0]
    assert manifest["status"] == "ok" and manifest["face.status"] == "ok"
    assert manifest["speech.status"] == "not_applicable"
    assert manifest["speech.error"] == "the video has no audio track"


def test_check_audio_messages(tmp_path):
    sr = 16000
    voice = 0.3 * np.sin(2 * np.pi * 150 * np.arange(2 * sr) / sr)
    check_audio(voice, sr, "ok.wav")  # passes
    with pytest.raises(bitbox.RecordingError, match=r"too short.*0\.50 s"):
        check_audio(voice[: sr // 2], sr, "short.wav")
    with pytest.raises(bitbox.RecordingError, match="silent"):
        check_audio(voice * 1e-5, sr, "quiet.wav")
    clipped = np.clip(voice * 5, -1, 1)
    with pytest.raises(bitbox.RecordingError, match=r"clipped: \d+\.\d% of samples"):
        check_audio(clipped, sr, "loud.wav")
    check_audio(clipped, sr, "loud.wav", max_clipped_fraction=1.0)  # the user may accept it


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3"])
def test_truncated_files_are_refused_clearly(tmp_path, tone, suffix):
    path = tmp_path / f"cut{suffix}"
    sf.write(path, tone, SR)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) * 2 // 3])
    with pytest.raises(bitbox.RecordingError, match=r"is truncated: its header declares 2\.00 s") as info:
        read_audio(path)
    assert f"cut{suffix}" in str(info.value)
    path.write_bytes(whole[:200])  # hardly anything left
    with pytest.raises(bitbox.RecordingError, match=f"cut{suffix}"):
        read_audio(path)


# ---------------------------------------------------------------------------- mains hum
def _hum(sr: int, mains: float, seconds: float = 4.0, amplitudes=(1.0, 0.7, 0.5)) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return sum(a * np.sin(2 * np.pi * (k + 1) * mains * t + k) for k, a in enumerate(amplitudes))


@pytest.mark.parametrize("mains", [50.0, 60.0, 50.15])
def test_mains_hum_power_and_frequency_in_noise(mains):
    from bitbox.processors.audio_quality import mains_hum

    sr = 16000
    noise = np.random.default_rng(1).standard_normal(4 * sr)  # white noise, power 1
    # Lines 14-17 dB above the noise within their 3-Hz bands (weaker lines are measured less
    # precisely: line x noise cross terms).
    hum = 0.3 * _hum(sr, mains)
    found = mains_hum(noise + hum, sr)
    assert found is not None and found.mains_hz == round(mains / 10) * 10
    assert found.frequency_hz == pytest.approx(mains, abs=0.03)
    assert list(found.found) == [1, 2, 3]
    assert 10 * np.log10(found.power / np.mean(hum ** 2)) == pytest.approx(0.0, abs=0.75)
    assert mains_hum(noise, sr) is None  # no line in white noise


def test_remove_hum_takes_out_the_lines_and_keeps_the_rest():
    from bitbox.processors.audio_quality import remove_hum

    sr = 16000
    noise = np.random.default_rng(2).standard_normal(4 * sr).astype(np.float32)
    hum = (0.3 * _hum(sr, 50.0)).astype(np.float32)
    residual = remove_hum(hum, sr, 50.0)
    assert residual.dtype == np.float32 and residual.shape == hum.shape
    middle = slice(sr, -sr)  # away from the filter's start and end transients
    assert 10 * np.log10(np.mean(residual[middle] ** 2) / np.mean(hum[middle] ** 2)) < -40
    # Broadband signal: 20 notches of a few Hz each take out well under 5% of its power.
    kept = remove_hum(noise, sr, 50.0)
    assert np.mean(kept ** 2) / np.mean(noise ** 2) == pytest.approx(1.0, abs=0.05)
    # Blocks: a long recording gives the same result as filtering it at once.
    assert np.allclose(remove_hum(noise, sr, 50.0, block_s=1.0), kept, atol=1e-3)


def test_hum_fault_has_the_requested_level():
    from tools.faults.audio import add_hum, line_power, speech_rms

    sr = 16000
    speech = (0.2 * np.random.default_rng(3).standard_normal(3 * sr)).astype(np.float32)
    for level in (-10.0, -20.0):
        out = add_hum(speech, sr, mains_hz=60.0, level_db=level)
        hum = out - speech
        assert 10 * np.log10(np.mean(hum.astype(float) ** 2) / speech_rms(speech, sr) ** 2) == pytest.approx(level,
                                                                                                          abs=0.05)
        # The fundamental carries 1 / sum(1/k^2) of the hum's power; the lock-in finds it.
        power, freq = line_power(out, sr, 60.0)
        share = 1 / sum(1 / k ** 2 for k in range(1, 7))
        assert freq == pytest.approx(60.0, abs=0.03)
        assert 10 * np.log10(power / (np.mean(hum.astype(float) ** 2) * share)) == pytest.approx(0.0, abs=0.3)
    assert np.array_equal(speech, speech.copy())  # the input is untouched
