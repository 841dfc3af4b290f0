"""voice_windows on long recordings: block by block (block_s) gives the whole file's values, at flat memory."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from bitbox.audio import resample
from bitbox.errors import BitboxError, RecordingError
from bitbox.processors.audio_quality import check_audio
from bitbox.processors.voice import audio_blocks_16k
from bitbox.processors.voice_windows import VoiceWindowsProcessor
from bitbox.recording import Recording

SAMPLE = "examples/data/spoken_story.flac"


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """The story tiled to 40 s (several 7-s blocks), and a 44.1-kHz copy (resampled block by block)."""
    x, sr = sf.read(SAMPLE, dtype="float32")
    folder = tmp_path_factory.mktemp("stream_vw")
    tiled = np.tile(x, 3)[:40 * sr]
    sf.write(folder / "story.flac", tiled, sr)
    sf.write(folder / "story44.wav", resample(tiled, sr, 44100), 44100, subtype="FLOAT")
    return folder


def _same(a: pd.DataFrame, b: pd.DataFrame) -> float:
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    return float(np.abs(a.to_numpy(float) - b.to_numpy(float)).max())


def test_blocks_give_the_whole_files_windows(story):
    """Blocks of 7 s (windows and MFCC frames straddling their edges) and the whole file at once: the same
    rows, eGeMAPS and MFCC means (measured: identical, 0.0)."""
    whole = VoiceWindowsProcessor(stride_s=4.0, block_s=None).process(str(story / "story.flac"))
    blocks = VoiceWindowsProcessor(stride_s=4.0, block_s=7.0).process(str(story / "story.flac"))
    assert len(whole.timeseries) == 9 and _same(whole.timeseries, blocks.timeseries) == 0.0
    assert whole.summary == blocks.summary


def test_a_44k_recording_resampled_block_by_block_gives_the_same_mfccs(story):
    whole = VoiceWindowsProcessor(egemaps=False, block_s=None).process(str(story / "story44.wav"))
    blocks = VoiceWindowsProcessor(egemaps=False, block_s=3.3).process(str(story / "story44.wav"))
    assert _same(whole.timeseries, blocks.timeseries) < 1e-9


def test_rows_reach_the_sink_block_by_block(story):
    chunks: list[pd.DataFrame] = []

    class Sink:
        def append(self, chunk):
            chunks.append(chunk)

    summary = VoiceWindowsProcessor(egemaps=False, block_s=10.0).compute(Recording(story / "story.flac"), Sink())
    assert len(chunks) == 4 and sum(len(c) for c in chunks) == summary["window_count"] == 36
    assert all(len(c) <= 10 for c in chunks)


def test_blocks_are_aligned_for_the_resampler(story):
    """audio_blocks_16k joined is read_audio(sr=16000) of the whole file."""
    from bitbox.audio import read_audio

    whole, _ = read_audio(story / "story44.wav", sr=16000)
    joined = np.concatenate([x16 for _, x16 in audio_blocks_16k(story / "story44.wav", block_s=2.5)])
    assert len(joined) == len(whole) and np.abs(joined - whole).max() < 1e-6


@pytest.mark.parametrize("make", ["short", "silent", "clipped"])
def test_checks_raise_what_check_audio_raises(tmp_path, make):
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(16000 * 3)).astype(np.float32)
    if make == "short":
        x = x[:8000]
    elif make == "silent":
        x *= 1e-5
    else:
        x[::20] = 1.0
    path = tmp_path / f"{make}.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    with pytest.raises(RecordingError) as expected:
        check_audio(x, 16000, path)
    with pytest.raises(RecordingError) as got:
        VoiceWindowsProcessor(egemaps=False, block_s=1.0).process(str(path))
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("value", [0.5, 0, -3.0, "60"])
def test_bad_block_s_is_refused(value):
    with pytest.raises(BitboxError, match="block_s"):
        VoiceWindowsProcessor(block_s=value).validate_params()
