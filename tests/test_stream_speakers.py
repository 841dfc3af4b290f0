"""The speakers processor on long recordings: passes over the audio block by block (block_s) give the whole
file's diarization and per-speaker measures, keeping only per-frame values and embeddings."""
from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import soundfile as sf

from bitbox.audio import AudioBlock, resample
from bitbox.errors import BitboxError, RecordingError
from bitbox.processors.speakers import SpeakersProcessor
from bitbox.processors.speakers.acoustics import speaker_voices
from bitbox.processors.speakers.cluster import cluster_speakers
from bitbox.processors.speakers.diarize import embed_windows, scan_audio
from bitbox.processors.speakers.encoder import SpeakerEncoder, mel_frames
from bitbox.processors.voice import frame_levels, vad_probabilities

INTERVIEW = "examples/data/interview.flac"  # two speakers (its reference RTTM is not copied)
STORY = "examples/data/spoken_story.flac"


def _memory_blocks(x: np.ndarray, sr: int, size: int, *, x16: np.ndarray | None = None):
    """Blocks of ``size`` samples of in-memory audio (16-kHz audio: x16 is x)."""
    def blocks():
        for a in range(0, len(x), size):
            b = min(len(x), a + size)
            block = AudioBlock(x[a:b], sr, a, a, b, b >= len(x))
            yield (block, x[a:b]) if x16 is None else block
    return blocks


def _equal(a: dict, b: dict) -> list[str]:
    """Keys whose values differ (NaN equal to NaN)."""
    def same(u, v):
        return u == v or (isinstance(u, float) and isinstance(v, float) and math.isnan(u) and math.isnan(v))
    return [k for k in a if not same(a[k], b.get(k))]


@pytest.fixture(scope="module")
def interview(tmp_path_factory):
    path = tmp_path_factory.mktemp("stream_speakers") / "interview.flac"
    shutil.copy(INTERVIEW, path)
    return path


def test_small_blocks_give_the_whole_files_result(interview):
    """Blocks of 4.7 s (embedding windows, speaker pieces and Praat chunks straddle their edges) and the whole
    file at once: the same segments and the same summary, every value."""
    whole = SpeakersProcessor(block_s=None).process(str(interview))
    blocks = SpeakersProcessor(block_s=4.7).process(str(interview))
    assert whole.summary["n_speakers"] == 2
    assert whole.timeseries.equals(blocks.timeseries)
    assert _equal(whole.summary, blocks.summary) == []


def test_a_reference_rttm_with_a_voice_sample_target_streams_too(interview, tmp_path):
    path = tmp_path / "interview.flac"
    shutil.copy(interview, path)
    shutil.copy("examples/data/interview.truth.rttm", path.with_suffix(".rttm"))
    voice = tmp_path / "voice.wav"
    x, sr = sf.read(INTERVIEW, dtype="float32")
    sf.write(voice, x[int(4.2 * sr):int(11 * sr)], sr)  # the patient alone
    whole = SpeakersProcessor(target=str(voice), block_s=None).process(str(path))
    blocks = SpeakersProcessor(target=str(voice), block_s=3.0).process(str(path))
    assert whole.summary["target_speaker"] == blocks.summary["target_speaker"] == "S2"
    assert abs(whole.summary["target_similarity"] - blocks.summary["target_similarity"]) < 1e-6
    assert _equal(whole.summary, blocks.summary) in ([], ["target_similarity"])


def test_speaker_acoustics_in_chunks_are_the_whole_joins(tmp_path):
    """Praat per chunk of 3 s of a speaker's join (1 s of context, frames on the join's grid, the join's peak
    level): F0, voicing and intensity contours identical to Praat on the whole join; at 16 and 44.1 kHz."""
    x, sr = sf.read(STORY, dtype="float32")
    pieces = {"S1": [(0.3, 5.2), (5.5, 11.0), (12.0, 12.05)], "S2": [(11.3, 17.4)]}
    rates = {"S1": 11.0, "S2": 6.0}
    for audio, rate in ((x, sr), (resample(x, sr, 44100), 44100)):
        whole = speaker_voices(_memory_blocks(audio, rate, len(audio), x16=audio), pieces, rates,
                               n_samples=len(audio), sr=rate, block_s=None)
        chunked = speaker_voices(_memory_blocks(audio, rate, 12345, x16=audio), pieces, rates,
                                 n_samples=len(audio), sr=rate, block_s=3.0)
        assert whole == chunked
        assert whole["S1"]["syllable_count"] > 20 and 80 < whole["S1"]["f0_median_hz"] < 130


def test_streamed_embeddings_match_the_whole_mel(interview):
    """Windows straddling block edges are embedded from the right frames: within 1e-6 of the whole file's
    (float32 rounding of the network in other batches; measured: 2.9e-7)."""
    x, sr = sf.read(interview, dtype="float32")
    encoder = SpeakerEncoder.from_path()
    mel = mel_frames(x, sr=sr)
    rng = np.random.default_rng(0)
    starts = np.sort(rng.integers(0, len(mel) - 150, 120))
    lengths = rng.integers(20, 150, 120)
    whole = encoder.embed(mel, starts=starts, lengths=lengths)
    scan = scan_audio(_memory_blocks(x, sr, len(x)))
    streamed = embed_windows(_memory_blocks(x, sr, 11111), encoder, starts, lengths, gain=scan.gain)
    assert np.abs(streamed - whole).max() < 1e-6


def test_scan_gives_the_whole_files_vad_and_levels(interview):
    x, sr = sf.read(interview, dtype="float32")
    scan = scan_audio(_memory_blocks(x, sr, 7777))
    assert np.array_equal(scan.probs, vad_probabilities(x, sr))
    assert np.abs(scan.levels - frame_levels(x, sr, 0.01)).max() < 1e-9
    assert scan.n16 == len(x) and scan.n_frames == len(mel_frames(x, sr=sr))


def test_float32_embeddings_cluster_as_float64_ones():
    """The diarization keeps embeddings in float32 (1 kB a window); clustering them is the same as clustering
    their float64 copy, also above max_points (the rest normalised block by block)."""
    rng = np.random.default_rng(1)
    voices = np.zeros((2, 64))
    voices[0, :32], voices[1, 32:] = 1.0, 1.0
    x = (voices[rng.integers(0, 2, 200)] + 0.4 * rng.random((200, 64))).astype(np.float32)
    for points in (60, 1000):
        a = cluster_speakers(x, max_points=points)
        b = cluster_speakers(x.astype(np.float64), max_points=points)
        assert a.n_speakers == b.n_speakers == 2 and np.array_equal(a.labels, b.labels)
        assert np.array_equal(a.centroids, b.centroids)


def test_silent_and_short_recordings_fail_as_before(tmp_path):
    sf.write(tmp_path / "silent.wav", np.zeros(16000 * 3, dtype=np.float32), 16000)
    sf.write(tmp_path / "short.wav", 0.1 * np.ones(8000, dtype=np.float32), 16000)
    with pytest.raises(RecordingError, match="is silent"):
        SpeakersProcessor(block_s=1.0).process(str(tmp_path / "silent.wav"))
    with pytest.raises(RecordingError, match="too short to measure"):
        SpeakersProcessor(block_s=1.0).process(str(tmp_path / "short.wav"))


@pytest.mark.parametrize("value", [0.5, 0, "60"])
def test_bad_block_s_is_refused(value):
    with pytest.raises(BitboxError, match="block_s"):
        SpeakersProcessor(block_s=value).validate_params()
