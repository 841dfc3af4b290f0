"""Long recordings block by block: the same results as a whole-file analysis, Praat's formulas, streaming input."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
import soundfile as sf

import bitbox
from bitbox.audio import audio_blocks, read_audio, resample, resample_block
from bitbox.processors import speech_blocks
from bitbox.processors.audio_quality import HumSpectrum, hum_from_spectrum, mains_hum
from bitbox.processors.perturbation import jitter, pulse_amplitudes, shimmer
from bitbox.processors.speech import BLOCK_TOLERANCES, SpeechProcessor
from bitbox.processors.voice import VadStream, vad_probabilities
from tools import speech_synth
from tools.long_speech import long_speech, write_long_speech


@pytest.fixture(scope="module")
def three_minutes(tmp_path_factory):
    """Three minutes of real read speech (LibriVox clips and the bundled story), 16 kHz mono FLAC."""
    return write_long_speech(tmp_path_factory.mktemp("long") / "reader.flac", 3.0)


def _tolerance(key: str) -> tuple[float, float]:
    for pattern, tolerance in BLOCK_TOLERANCES.items():
        if re.fullmatch(pattern, key):
            return tolerance
    raise AssertionError(f"{key} has no documented tolerance in BLOCK_TOLERANCES")


def _compare(whole, blocks, *, exact_frames: bool) -> None:
    """Every summary measure within its documented tolerance; the time series on the same frames."""
    for key, value in whole.summary.items():
        other = blocks.summary[key]
        if isinstance(value, str):
            assert other == value, key
            continue
        if math.isnan(value):
            assert math.isnan(other), key
            continue
        rel, abs_ = _tolerance(key)
        assert other == pytest.approx(value, rel=rel, abs=abs_), key
    a, b = whole.timeseries, blocks.timeseries
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    np.testing.assert_array_equal(a["time_s"], b["time_s"])
    np.testing.assert_array_equal(a["speech_active"], b["speech_active"])
    np.testing.assert_array_equal(a["vad_probability"], b["vad_probability"])
    voiced_agree = np.mean(a["voiced"].to_numpy() == b["voiced"].to_numpy())
    assert voiced_agree == 1.0 if exact_frames else voiced_agree > 0.99
    if exact_frames:  # pitch and formant frames are the whole file's
        for column in ("f0_hz", "f1_hz", "f2_hz", "f3_hz"):
            np.testing.assert_allclose(a[column], b[column], rtol=1e-6, equal_nan=True, err_msg=column)


def test_blockwise_equals_the_whole_file_on_three_minutes(three_minutes):
    whole = SpeechProcessor(block_s=None).process(three_minutes)
    blocks = SpeechProcessor(block_s=40.0).process(three_minutes)  # 5 blocks
    assert whole.summary["duration_s"] == blocks.summary["duration_s"] == pytest.approx(180.0)
    assert whole.summary["syllable_count"] > 400  # real speech throughout
    _compare(whole, blocks, exact_frames=True)
    # Praat's pulses, their amplitudes and so jitter and shimmer are those of the whole file.
    for key in ("jitter_local", "jitter_rap", "jitter_ppq5", "shimmer_local", "shimmer_apq3", "shimmer_apq5",
                "cpp_db", "f0_median_hz", "f1_mean_hz"):
        assert blocks.summary[key] == pytest.approx(whole.summary[key], rel=1e-9), key
    assert blocks.provenance["parameters"]["block_s"] == 40.0


def test_blockwise_on_stereo_44k_with_hum(tmp_path):
    """44.1-kHz stereo with -12 dB of 50-Hz hum: notched in blocks as in the whole file (to a few 1e-7)."""
    path = write_long_speech(tmp_path / "hum.wav", 0.75, sr=44100, channels=2, hum_db=-12.0, seed=1)
    whole = SpeechProcessor(block_s=None).process(path)
    blocks = SpeechProcessor(block_s=15.0).process(path)  # 3 blocks
    assert "hum at 50 Hz" in whole.summary["notes"] and whole.summary["hum_mains_hz"] == 50.0
    _compare(whole, blocks, exact_frames=True)


@pytest.mark.parametrize("sr", [11025, 22050])
def test_blockwise_at_rates_where_a_step_is_not_a_whole_number_of_samples(tmp_path, sr):
    path = write_long_speech(tmp_path / f"reader{sr}.wav", 0.57, sr=sr, seed=4)
    whole, blocks = SpeechProcessor(block_s=None).process(path), SpeechProcessor(block_s=10.0).process(path)
    _compare(whole, blocks, exact_frames=True)
    for key in ("jitter_local", "jitter_rap", "shimmer_local", "shimmer_apq3", "f1_mean_hz", "mfcc_3_sd"):
        assert blocks.summary[key] == pytest.approx(whole.summary[key], rel=1e-9), key


@pytest.mark.parametrize("offset", [0.0, 0.003, -0.002])
def test_a_block_gets_the_recordings_mean_and_both_of_its_peaks(offset):
    """Praat's pitch judges voicing against the largest distance from the Sound's mean, its glottal pulses
    against the largest magnitude: the padded block has the recording's mean and both."""
    rng = np.random.default_rng(3)
    x = rng.normal(offset, 0.05, 16000 * 30)
    x[100_000] = 0.9  # the loudest moments lie outside the block
    x[400_000] = -0.7
    block = x[200_000:300_000] + 0.01  # and the block sits a little off the recording's mean
    extremes = (float(x.min()), float(x.max()), float(x.mean()))
    pad = speech_blocks.peak_pad(8000, len(block), float(block.sum()), extremes)
    padded = np.concatenate([block, pad])
    assert padded.mean() == pytest.approx(x.mean(), abs=1e-12)
    assert np.abs(padded).max() == np.abs(x).max()
    assert np.abs(padded - padded.mean()).max() == pytest.approx(np.abs(x - x.mean()).max(), rel=1e-12)


def test_a_last_block_of_one_sample_changes_nothing(tmp_path):
    """The block before it holds the recording's end in its context: its last frames see that end, as
    in the whole file, not the silence that carries the recording's peak."""
    x = long_speech(0.34, seed=5)[:20 * 16000]
    path = tmp_path / "tail.wav"
    sf.write(path, np.concatenate([x, x[-1:]]), 16000, subtype="PCM_16")
    whole = SpeechProcessor(block_s=None).process(path)
    blocks = SpeechProcessor(block_s=10.0).process(path)
    _compare(whole, blocks, exact_frames=True)
    assert blocks.summary["syllable_count"] == whole.summary["syllable_count"]
    np.testing.assert_allclose(blocks.timeseries["intensity_db"].tail(10), whole.timeseries["intensity_db"].tail(10),
                               rtol=1e-9)


def test_praat_analyses_never_see_the_whole_recording(tmp_path, monkeypatch):
    lengths = []
    original = speech_blocks.aligned_sound

    def recording_lengths(samples, rate, *args, **kwargs):
        sound = original(samples, rate, *args, **kwargs)
        lengths.append(sound.xmax - sound.xmin)
        return sound

    monkeypatch.setattr(speech_blocks, "aligned_sound", recording_lengths)
    monkeypatch.setattr("bitbox.processors.speech.aligned_sound", recording_lengths)
    path = write_long_speech(tmp_path / "reader.wav", 0.75, seed=3)
    SpeechProcessor(block_s=12.0).process(path)
    # A block, its context on both sides, and the half second that carries the recording's peak.
    assert len(lengths) > 8 and max(lengths) <= 12.0 + 2 * speech_blocks.CONTEXT_S + 0.6


def test_jitter_and_shimmer_equal_praats(librivox):
    import parselmouth
    from parselmouth.praat import call

    path = next(iter(librivox.values()))[0]
    x, sr = read_audio(path)
    for rate, start in ((sr, 0.0), (44100, 12.34)):
        y = resample(x, sr, rate).astype(np.float64)
        sound = parselmouth.Sound(y, sampling_frequency=rate, start_time=start)
        pitch = sound.to_pitch_ac(time_step=0.01, pitch_floor=60, pitch_ceiling=300)
        points = call([sound, pitch], "To PointProcess (cc)")
        pulses = call(points, "To Matrix").values[0]
        lo, hi = 0.8 / 300, 1.25 / 60
        ours = jitter(pulses, shortest_period=lo, longest_period=hi, max_period_factor=1.3)
        times, amplitudes = pulse_amplitudes(y, rate, start, pulses, shortest_period=lo, longest_period=hi)
        ours.update(shimmer(times, amplitudes, shortest_period=lo, longest_period=hi, max_amplitude_factor=1.6))
        for kind in ("local", "rap", "ppq5"):
            assert ours[f"jitter_{kind}"] == pytest.approx(
                call(points, f"Get jitter ({kind})", 0, 0, lo, hi, 1.3), rel=1e-9)
        for kind in ("local", "apq3", "apq5"):
            assert ours[f"shimmer_{kind}"] == pytest.approx(
                call([sound, points], f"Get shimmer ({kind})", 0, 0, lo, hi, 1.3, 1.6), rel=1e-9)
        assert len(times) == call(call([points, sound], "To AmplitudeTier (period)", 0, 0, lo, hi, 1.3),
                                  "Get number of points")


def test_perturbation_edge_cases():
    assert all(math.isnan(v) for v in jitter(np.array([0.1, 0.11]), shortest_period=1e-4,
                                              longest_period=0.02).values())
    assert all(math.isnan(v) for v in shimmer(np.array([0.1]), np.array([0.3]), shortest_period=1e-4,
                                               longest_period=0.02).values())
    # A perfectly regular pulse train has no jitter; equal amplitudes no shimmer.
    pulses = np.arange(50) * 0.008
    assert jitter(pulses, shortest_period=1e-4, longest_period=0.02)["jitter_local"] == pytest.approx(0, abs=1e-12)
    assert shimmer(pulses, np.full(50, 0.2), shortest_period=1e-4, longest_period=0.02)["shimmer_apq5"] == 0


def test_hum_spectrum_is_the_same_for_any_split():
    x = long_speech(2.5, seed=2, hum_db=-15.0)
    whole = mains_hum(x, 16000)
    for piece in (1000, 77777, 16000 * 61):
        spectrum = HumSpectrum(16000)
        for start in range(0, len(x), piece):
            spectrum.feed(x[start:start + piece])
        found = hum_from_spectrum(spectrum, 16000)
        assert found.mains_hz == whole.mains_hz == 50.0
        assert found.frequency_hz == pytest.approx(whole.frequency_hz, rel=1e-12)
        np.testing.assert_allclose(found.line_power, whole.line_power, rtol=1e-9)


def test_vad_stream_gives_the_whole_files_probabilities():
    x = long_speech(0.5, seed=4)
    whole = vad_probabilities(x, 16000)
    stream = VadStream()
    for start in range(0, len(x), 12345):
        stream.feed(x[start:start + 12345])
    np.testing.assert_array_equal(stream.finish(), whole)


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp4"])
def test_audio_blocks_tile_the_file(tmp_path, talking_head, suffix):
    x = long_speech(0.4, seed=6, sr=44100, channels=2)
    path = tmp_path / f"speech{suffix}"
    if suffix == ".mp4":
        speech_synth.video_with_audio(talking_head, x[:, 0], 44100, path, channels=2)
    else:
        sf.write(path, x, 44100)
    whole, sr = read_audio(path)
    blocks = list(audio_blocks(path, block_s=7.0, margin_s=0.5, align=441))
    assert len(blocks) >= 3 and blocks[-1].last and not blocks[0].last
    np.testing.assert_array_equal(np.concatenate([b.core for b in blocks]), whole)
    for block in blocks:
        np.testing.assert_array_equal(block.samples, whole[block.offset:block.offset + len(block.samples)])
        assert block.start - block.offset <= 22050 and block.start % 441 == 0
    joined = np.concatenate([resample_block(b, 16000) for b in blocks])
    np.testing.assert_allclose(joined, resample(whole, sr, 16000), atol=1e-6)


def test_audio_blocks_refuse_truncated_and_broken_files(tmp_path):
    path = tmp_path / "cut.wav"
    sf.write(path, long_speech(0.2, seed=8), 16000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(bitbox.RecordingError, match=r"cut\.wav.*is truncated"):
        list(audio_blocks(path, block_s=3.0))
    broken = tmp_path / "noise.wav"
    broken.write_bytes(b"RIFF" + bytes(100))
    with pytest.raises(bitbox.RecordingError, match="noise.wav"):
        list(audio_blocks(broken))


@pytest.mark.parametrize("n_blocks", [1, 2])
@pytest.mark.parametrize("margin_s", [0.0, 1.0])
def test_the_last_block_is_marked_when_the_file_ends_on_a_block_edge(tmp_path, n_blocks, margin_s):
    path = tmp_path / "edge.wav"
    sf.write(path, np.random.default_rng(10).normal(0, 0.1, n_blocks * 96000), 16000)  # 6 s per block, exactly
    blocks = list(audio_blocks(path, block_s=6.0, margin_s=margin_s))
    assert [(b.start, b.stop, b.last) for b in blocks] == \
        [(k * 96000, (k + 1) * 96000, k == n_blocks - 1) for k in range(n_blocks)]


@pytest.mark.parametrize("suffix", [".flac", ".mp3"])
def test_a_file_damaged_after_its_header_is_refused_by_name(tmp_path, suffix):
    """libsndfile opens these and fails later, mid-file: a RecordingError that names the file, not its
    error; so does the whole-file reader."""
    path = tmp_path / f"damaged{suffix}"
    sf.write(path, long_speech(0.5, seed=11), 16000)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4000] = np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data[:middle + 4000]))  # corrupt, then cut: a copy that broke off
    with pytest.raises(bitbox.RecordingError, match=rf"damaged\{suffix}: is damaged or truncated"):
        list(audio_blocks(path, block_s=10.0))
    with pytest.raises(bitbox.RecordingError, match=rf"damaged\{suffix}"):
        read_audio(path)


@pytest.mark.parametrize("sr", [11025, 22050])
def test_praat_frames_stay_on_the_grid_where_a_step_is_not_a_whole_number_of_samples(sr):
    """10 ms is 110.25 samples at 11025 Hz, 220.5 at 22050 Hz: blocks start on 441 samples (4 or 2 steps)."""
    assert speech_blocks.grid_samples(0.01, sr) == 441
    assert speech_blocks.grid_samples(0.01, 16000) == 160
    rng = np.random.default_rng(1)
    total = 10 * sr + 123
    x = rng.normal(0, 0.1, total)
    whole = speech_blocks.aligned_sound(x, sr, 0, total, 0.01).to_intensity(minimum_pitch=50.0, time_step=0.01)
    for offset in (3 * sr + 17, 5 * sr + 300):
        part = speech_blocks.aligned_sound(x[offset:offset + 2 * sr], sr, offset, total, 0.01)
        assert round(part.xmin * sr) % 441 == 0
        block = part.to_intensity(minimum_pitch=50.0, time_step=0.01)
        k = (block.x1 - whole.x1) / whole.dx
        assert k == pytest.approx(round(k), abs=1e-6)  # the block's frames are the whole file's


@pytest.mark.parametrize("analysis", ["intensity", "pitch", "mfcc"])
def test_no_praat_window_is_placed_by_a_tie(analysis):
    """For every recording length, a block's Praat frames equal the whole recording's exactly: the zeros of
    tie_free_extra keep Praat from rounding a tie (which float noise decides: without them, every other
    length differs)."""
    sr, step = 16000, 0.01
    window = {"intensity": speech_blocks.INTENSITY_WINDOW_S, "pitch": 3.0 / 75.0,
              "mfcc": speech_blocks.MFCC_WINDOW_S}[analysis]
    kind = "pitch" if analysis == "pitch" else "intensity"
    t = np.arange(3 * sr + 8) / sr
    x = 0.3 * np.sin(2 * np.pi * 120 * t * (1 + 0.05 * np.sin(2 * np.pi * 0.5 * t)))
    x += np.random.default_rng(2).normal(0, 0.05, len(t))

    def frames(sound):
        if analysis == "intensity":
            return sound.to_intensity(minimum_pitch=50.0, time_step=step).values
        if analysis == "pitch":
            return sound.to_pitch_ac(time_step=step, pitch_floor=75.0, pitch_ceiling=300.0).selected_array[
                "frequency"][None]
        return np.asarray(sound.to_mfcc(number_of_coefficients=12, window_length=0.015, time_step=step).to_array())

    differing = {}
    for total in range(3 * sr, 3 * sr + 8):
        for extra in (0, speech_blocks.tie_free_extra(total, sr, window_s=window, step_s=step, kind=kind)):
            whole = frames(speech_blocks.aligned_sound(x[:total], sr, 0, total, step, extra=extra))
            part = frames(speech_blocks.aligned_sound(x[8000:total], sr, 8000, total, step, extra=extra))
            k = 8000 // 160
            n = part.shape[1]
            differing[total, extra] = float(np.max(np.abs(whole[:, k:k + n] - part)))
    tie_free = {key: d for key, d in differing.items()
                if key[1] == speech_blocks.tie_free_extra(key[0], sr, window_s=window, step_s=step, kind=kind)}
    assert max(tie_free.values()) == 0.0
    assert max(d for (total, extra), d in differing.items() if extra == 0) > 0  # the ties are real


def test_audio_blocks_follow_read_audio_on_inverted_polarity(tmp_path):
    x = long_speech(0.2, seed=9)
    path = tmp_path / "inverted.wav"
    sf.write(path, np.stack([x, -x * 0.99], axis=1), 16000)
    whole, _ = read_audio(path)
    np.testing.assert_array_equal(np.concatenate([b.core for b in audio_blocks(path, block_s=4.0)]), whole)
    assert np.max(np.abs(whole)) > 0.3  # one channel, not the cancelled mean


def test_block_s_is_constrained():
    with pytest.raises(bitbox.ParameterError, match="block_s"):
        SpeechProcessor(block_s=2.0).validate_params()
    SpeechProcessor(block_s=None).validate_params()
