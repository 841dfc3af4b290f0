"""The speech processor's quality checks on real LibriVox speech, clean and with injected faults.

Faults come from ``tools/faults/audio.py``: mains hum at 50 and 60 Hz (fundamental + 5
harmonics, 1/k amplitudes) at -10 and -20 dB re the speech's RMS, and the clip resampled to
8, 44.1 and 192 kHz. The truth is what was injected, or, for the 60-Hz hum the LibriVox
recordings already carry, a least-squares sinusoid fit (lock-in) on the untouched clip.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bitbox.audio import read_audio
from bitbox.processors.speech import SpeechProcessor
from bitbox.processors.voice_windows import VoiceWindowsProcessor
from tools.faults import audio as faults

#: Clip whose own 60-Hz hum (-25.8 dB by lock-in) stays below what hum_db resolves under this voice.
CLEAN = "sense_and_sensibility_01_austen_64kb-0890"
#: Shortest clip (3 s), for the sample-rate runs.
SHORT = "sense_and_sensibility_01_austen_64kb-0880"
HUM_CASES = [(50.0, -10.0), (50.0, -20.0), (60.0, -10.0), (60.0, -20.0)]
RATES = (8000, 16000, 44100, 192000)


def _clip(librivox_dir: Path, stem: str) -> Path:
    return librivox_dir / f"{stem}.wav"


@pytest.fixture(scope="module")
def clean(librivox_dir):
    return SpeechProcessor().process(_clip(librivox_dir, CLEAN)).summary


@pytest.fixture(scope="module")
def hummed(librivox_dir, tmp_path_factory):
    """Summaries of the clean clip with each injected hum, notched (default) and left in."""
    folder = tmp_path_factory.mktemp("hum")
    out = {}
    for mains, level in HUM_CASES:
        path = faults.write_hum(_clip(librivox_dir, CLEAN), folder / f"hum_{mains:.0f}_{-level:.0f}.wav",
                                mains_hz=mains, level_db=level)
        out[mains, level] = SpeechProcessor().process(path).summary
    path = folder / "hum_50_10.wav"
    out["left in"] = SpeechProcessor(notch_hum=False).process(path).summary
    return out


@pytest.fixture(scope="module")
def rates(librivox_dir, tmp_path_factory):
    """(speech summary, voice_windows MFCC means) of the short clip at each sample rate."""
    folder = tmp_path_factory.mktemp("rates")
    out = {}
    for sr in RATES:
        path = faults.write_rate(_clip(librivox_dir, SHORT), folder / f"clip_{sr}.wav", sr=sr)
        speech = SpeechProcessor().process(path).summary
        windows = VoiceWindowsProcessor(egemaps=False).process(path)
        means = windows.timeseries.filter(regex=r"^mfcc_\d+_mean$").to_numpy().mean(axis=0)
        out[sr] = speech, windows.summary, means
    return out


# ---------------------------------------------------------------------------- mains hum
def test_clean_clip_has_no_notes(clean):
    assert clean["hum_db"] == -60.0 and clean["hum_mains_hz"] == 0.0
    assert clean["notes"] == ""
    assert 85 < clean["f0_median_hz"] < 100  # the LibriVox reader is a low male voice


@pytest.mark.parametrize("mains, level", HUM_CASES)
def test_hum_is_measured_and_kept_out_of_f0(clean, hummed, mains, level):
    summary = hummed[mains, level]
    assert summary["f0_median_hz"] == pytest.approx(clean["f0_median_hz"], rel=0.10)
    assert summary["hum_mains_hz"] == mains
    assert summary["hum_db"] == pytest.approx(level, abs=2.5)
    tier = "strong" if level == -10 else "weak"
    top = 20 * mains
    assert summary["notes"].startswith(
        f"{tier} mains hum at {mains:.0f} Hz and harmonics, {summary['hum_db']:.1f} dB re the speech: notched out "
        f"(fundamental and harmonics up to {top:.0f} Hz) before the voice measures")
    if tier == "strong":
        assert f"pulls F0 towards {mains:.0f} Hz" in summary["notes"]
        assert summary["f0_floor_hz"] >= 1.1 * mains


def test_hum_left_in_takes_f0_and_says_so(clean, hummed):
    """The fault the fix addresses: with the notches off, -10 dB of 50-Hz hum becomes the F0."""
    summary = hummed["left in"]
    assert summary["f0_median_hz"] == pytest.approx(50.0, rel=0.10)
    assert summary["notes"].startswith(f"mains hum at 50 Hz and harmonics, {summary['hum_db']:.1f} dB re the "
                                       "speech, was left in (notch_hum=False)")


@pytest.mark.parametrize("clip", ["0870", "0880", "0920", "0930"])
def test_real_60hz_hum_of_the_librivox_clips(librivox_dir, clip):
    """These clips carry weak real 60-Hz hum; a lock-in fit of the 60-Hz line is the truth."""
    path = _clip(librivox_dir, f"sense_and_sensibility_01_austen_64kb-{clip}")
    samples, sr = read_audio(path)
    power, freq = faults.line_power(samples, sr, 60.0)
    truth = 10 * np.log10(power / faults.speech_rms(samples, sr) ** 2)
    assert -28 < truth < -23 and freq == pytest.approx(60.0, abs=0.05)
    summary = SpeechProcessor().process(path).summary
    assert summary["hum_mains_hz"] == 60.0
    assert summary["hum_db"] == pytest.approx(truth, abs=2.0)
    assert summary["notes"].startswith(f"weak mains hum at 60 Hz and harmonics, {summary['hum_db']:.1f} dB re the "
                                       "speech: notched out")


# ---------------------------------------------------------------------------- octave jumps
def test_octave_jumps(clean, librivox_dir, tmp_path):
    assert clean["f0_octave_jump_rate"] < 0.01
    stem = "sense_and_sensibility_01_austen_64kb-0920"
    path = faults.write_hum(_clip(librivox_dir, stem), tmp_path / "hum60.wav", mains_hz=60.0, level_db=-10.0)
    left_in = SpeechProcessor(notch_hum=False).process(path).summary
    assert left_in["f0_octave_jump_rate"] > 0.01
    assert (f"F0 jumps by an octave or more between consecutive frames in {100 * left_in['f0_octave_jump_rate']:.1f}% "
            "of voiced frame pairs") in left_in["notes"]
    notched = SpeechProcessor().process(path).summary
    assert notched["f0_octave_jump_rate"] < 0.01 and "octave" not in notched["notes"]


# ---------------------------------------------------------------------------- formant ceiling
def test_formant_ceiling_follows_the_voice(clean, librivox_dir):
    assert clean["formant_ceiling_hz"] == 5000.0  # median F0 about 91 Hz: male range
    fixed = SpeechProcessor(formant_max_hz=5500.0).process(_clip(librivox_dir, CLEAN)).summary
    assert fixed["formant_ceiling_hz"] == 5500.0
    # With the female-voice ceiling a male voice's F1 comes out higher (Praat FAQ: formant analysis).
    assert fixed["f1_mean_hz"] > clean["f1_mean_hz"]


# ---------------------------------------------------------------------------- sample rates
def test_mfcc_means_do_not_depend_on_the_sample_rate(rates):
    speech = {sr: np.array([rates[sr][0][f"mfcc_{k}_mean"] for k in range(1, 13)]) for sr in RATES}
    windows = {sr: rates[sr][2] for sr in RATES}
    # 44.1 and 192 kHz copies of the same clip: the same MFCCs.
    assert np.abs(speech[44100] - speech[192000]).max() < 0.05
    assert np.abs(windows[44100] - windows[192000]).max() < 0.2
    # Against the 16-kHz original, only the resampling filters' cut just below 8 kHz differs
    # (the coefficients span about +-170).
    assert np.abs(speech[16000] - speech[44100]).max() < 1.0
    assert np.abs(windows[16000] - windows[44100]).max() < 2.5
    # F0 does not depend on the rate either.
    f0 = [rates[sr][0]["f0_median_hz"] for sr in RATES]
    assert max(f0) / min(f0) < 1.03


def test_low_sample_rate_is_noted(rates):
    for sr in RATES:
        speech, windows, _ = rates[sr]
        if sr < 16000:
            assert speech["notes"].endswith(
                "the audio is sampled at 8000 Hz: nothing above 4000 Hz was recorded, so the MFCCs (computed at "
                "16000 Hz after upsampling) and formants (ceiling 3950 Hz) are not comparable with wide-band "
                "recordings; compare it only with recordings of the same sample rate, or record at 16 kHz or more")
            assert windows["notes"].startswith("the audio is sampled at 8000 Hz: nothing above 4000 Hz was recorded")
            assert speech["formant_ceiling_hz"] == 3950.0
        else:
            assert "sampled at" not in speech["notes"] and windows["notes"] == ""


def test_a_stereo_file_with_one_channel_inverted_is_not_silent(librivox_dir, tmp_path, caplog):
    """Right = -left (a miswired balanced cable): averaging would cancel the voice to silence."""
    import soundfile as sf

    from bitbox.audio import read_audio

    voice, sr = sf.read(librivox_dir / "sense_and_sensibility_01_austen_64kb-0870.wav", dtype="float32")
    path = tmp_path / "inverted.wav"
    sf.write(path, np.stack([voice, -voice], axis=1), sr, subtype="FLOAT")
    with caplog.at_level("WARNING", logger="bitbox"):
        samples, _ = read_audio(path)
    np.testing.assert_allclose(samples, voice, atol=1e-6)
    assert "inverted.wav: the channels cancel out when averaged (one is wired with inverted polarity); using " \
           "channel 1 alone" in caplog.text
