"""Transcripts (reading, transcription, word error rate) and the language processor."""
from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import bitbox
from bitbox.cli import main as cli
from bitbox.processors.language import (LanguageProcessor, count_syllables, mattr, tokenize, type_token_ratio)
from bitbox.processors.transcript import (read_transcript, transcribe, word_error_rate)
from bitbox.testing import check_processor
from tools import speech_synth

#: Bound on the packaged tiny.en model's word error rate over the five LibriVox clips (measured: 0.042).
WER_BOUND = 0.10


# ---------------------------------------------------------------------------- text measures
def test_hand_computed_measures(tmp_path):
    text = ("I think I I went to the the market. Um, my friend came with me.\n"
            "We went we went home after that. It was uh fine.")
    path = tmp_path / "story.txt"
    path.write_text(text)
    summary = LanguageProcessor().process(path).summary
    tokens = tokenize(text)
    assert len(tokens) == summary["word_count"] == 26
    assert summary["utterance_count"] == 4
    assert summary["mlu_words"] == pytest.approx(26 / 4)
    assert summary["first_person_singular_rate"] == pytest.approx(100 * 5 / 26)  # I, I, I, my, me
    assert summary["filler_count"] == 2 and summary["filler_rate"] == pytest.approx(100 * 2 / 26)
    assert summary["repetition_count"] == 3  # "I I", "the the", "we went we went"
    assert summary["type_token_ratio"] == pytest.approx(len(set(tokens)) / 26)
    assert summary["mattr"] == pytest.approx(summary["type_token_ratio"])  # shorter than the window
    assert summary["transcribed"] == 0
    assert "word_rate_wpm" not in summary  # plain text has no times


def test_mattr_by_hand():
    tokens = "a b a c a b".split()
    # windows of 3: (a b a)=2/3, (b a c)=3/3, (a c a)=2/3, (c a b)=3/3
    assert mattr(tokens, 3) == pytest.approx((2 + 3 + 2 + 3) / 12)
    assert type_token_ratio(tokens) == pytest.approx(3 / 6)
    assert np.isnan(mattr([], 3))


@pytest.mark.parametrize("word, syllables", [("the", 1), ("make", 1), ("jumped", 1), ("wanted", 2),
                                             ("table", 2), ("over", 2), ("peppers", 2), ("lazy", 2),
                                             ("everything", 4), ("be", 1)])
def test_count_syllables(word, syllables):
    assert count_syllables(word) == syllables


def test_readability_orders_texts(tmp_path):
    easy = tmp_path / "easy.txt"
    easy.write_text("The cat sat on the mat. The dog ran to the park. We had fun in the sun.")
    hard = tmp_path / "hard.txt"
    hard.write_text("Notwithstanding considerable methodological heterogeneity, the investigators "
                    "systematically characterized longitudinal neuropsychological trajectories.")
    e, h = (LanguageProcessor().process(p).summary for p in (easy, hard))
    assert e["flesch_reading_ease"] > 80 > 20 > h["flesch_reading_ease"]
    assert e["flesch_kincaid_grade"] < h["flesch_kincaid_grade"]


def test_coherence_on_topic_beats_topic_jumps(tmp_path):
    cooking = ["I chopped the onions for the soup.", "Then I fried the onions in butter.",
               "I added the stock and let the soup simmer.", "Finally I seasoned the soup with salt."]
    other = ["The satellite orbits the planet every ninety minutes.", "Tax returns are due in April.",
             "The violin concerto was written in 1878."]
    coherent = tmp_path / "coherent.txt"
    coherent.write_text(" ".join(cooking))
    jumpy = tmp_path / "jumpy.txt"
    jumpy.write_text(" ".join(s for pair in zip(cooking, other) for s in pair) + " " + cooking[-1])
    c, j = (LanguageProcessor().process(p).summary for p in (coherent, jumpy))
    assert c["coherence_mean"] > j["coherence_mean"] + 0.2
    assert c["coherence_min"] > j["coherence_min"]


# ---------------------------------------------------------------------------- transcript files
def test_read_txt_srt_json(tmp_path):
    srt = tmp_path / "a.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:02,500\nHello there.\n\n2\n00:00:03,000 --> 00:00:05,000\n"
                   "<i>How are you</i> today?\n")
    t = read_transcript(srt)
    assert [u.text for u in t.utterances] == ["Hello there.", "How are you today?"]
    assert (t.utterances[1].start_s, t.utterances[1].end_s) == (3.0, 5.0) and t.has_timestamps
    two = tmp_path / "two.srt"
    two.write_text("1\n00:00:00,000 --> 00:00:06,000\nOne two three. Four five six seven eight nine.\n")
    t2 = read_transcript(two)
    assert [(u.start_s, u.end_s) for u in t2.utterances] == [(0.0, 2.0), (2.0, 6.0)]  # shared by word count
    js = tmp_path / "b.json"
    js.write_text(json.dumps({"words": [{"word": "Mr.", "start": 0.0, "end": 0.3},
                                        {"word": "Smith", "start": 0.3, "end": 0.7},
                                        {"word": "left.", "start": 0.7, "end": 1.0},
                                        {"word": "Then", "start": 3.5, "end": 3.8},
                                        {"word": "rain", "start": 3.8, "end": 4.2}]}))
    t = read_transcript(js)
    assert [u.text for u in t.utterances] == ["Mr. Smith left.", "Then rain"]  # "Mr." does not end a sentence
    assert t.utterances[1].start_s == 3.5
    # The JSON that Bitbox writes reads back the same.
    again = tmp_path / "c.json"
    again.write_text(json.dumps(t.to_json()))
    assert read_transcript(again).to_json() == t.to_json()
    txt = tmp_path / "d.txt"
    txt.write_text("no punctuation on this line\nnor on this one")
    assert len(read_transcript(txt).utterances) == 2


@pytest.mark.parametrize("content, expected", [
    ("{not json", "is not valid JSON"),
    ('{"name": "x"}', "not a transcript"),
    ('{"words": [{"word": "a", "start": "soon"}]}', "non-numeric 'start'"),
    ('{"words": []}', "without any words"),
])
def test_bad_transcripts(tmp_path, content, expected):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(bitbox.RecordingError, match=expected):
        read_transcript(path)


def test_word_error_rate_by_hand():
    assert word_error_rate("the cat sat", "the cat sat") == 0
    assert word_error_rate("the cat sat", "the bat sat down") == pytest.approx(2 / 3)
    assert word_error_rate("Mr. Smith", "mister smith") == 0


# ---------------------------------------------------------------------------- transcription
def test_librivox_word_error_rate(librivox):
    errors, words = 0.0, 0
    for path, reference in librivox.values():
        samples, sr = bitbox.Recording(path).load_audio(sr=16000)
        hypothesis = transcribe(samples, sr=sr).text
        n = len(reference.split())
        errors += word_error_rate(reference, hypothesis) * n
        words += n
    wer = errors / words
    print(f"LibriVox WER of the packaged tiny.en: {wer:.3f} over {words} words")
    assert wer < WER_BOUND


def test_word_rate_of_synthesised_speech(speech_dir):
    text = ("Every morning I walk to the station and buy a newspaper. The train is usually late, so I read "
            "the news while I wait on the platform.")
    n_words = len(text.split())
    measured = []
    for rate in (120, 160, 200):
        samples, sr = speech_synth.espeak(text, rate_wpm=rate)
        path = speech_dir / f"words_{rate}.wav"
        sf.write(path, samples, sr)
        # The truth is what espeak-ng produced: words over the duration of the sound (its own
        # words/min setting is about 20% slow).
        true_rate = 60 * n_words / (len(speech_synth.trim(samples)) / sr)
        result = LanguageProcessor().process(path)
        assert result.summary["transcribed"] == 1
        assert result.summary["word_count"] == pytest.approx(n_words, abs=2)
        assert result.summary["word_rate_wpm"] == pytest.approx(true_rate, rel=0.15)
        measured.append(result.summary["word_rate_wpm"])
        ts = result.timeseries
        assert len(ts) == result.summary["utterance_count"] >= 1
        assert (ts["end_s"] > ts["time_s"]).all()
    assert measured[0] < measured[1] < measured[2]


def test_transcripts_never_reach_the_log(librivox, caplog):
    path, reference = librivox["sense_and_sensibility_01_austen_64kb-0930"]
    with caplog.at_level(logging.DEBUG, logger="bitbox"):
        result = LanguageProcessor().process(path)
    assert "amiable" in " ".join(result.timeseries["utterance_text"]).lower()
    assert "amiable" not in caplog.text.lower() and "himself" not in caplog.text.lower()


def test_missing_model_paths_are_clear(tmp_path, librivox):
    path, _ = librivox["sense_and_sensibility_01_austen_64kb-0930"]
    with pytest.raises(bitbox.ParameterError, match="model.bin"):
        LanguageProcessor(asr_model=str(tmp_path / "nowhere/model")).process(path)
    with pytest.raises(bitbox.ParameterError, match="knows only English"):
        LanguageProcessor(language="de").process(path)
    text = tmp_path / "t.txt"
    text.write_text("One sentence. Another sentence.")
    with pytest.raises(bitbox.ParameterError, match="cannot be loaded offline"):
        LanguageProcessor(embedding_model=str(tmp_path)).process(text)


def test_models_given_by_path(librivox, tmp_path):
    """The loading code for a user's own models, exercised with the packaged ones given by path."""
    from bitbox.processors.language import default_embedding_model
    from bitbox.processors.transcript import default_asr_model

    path, _ = librivox["sense_and_sensibility_01_austen_64kb-0930"]
    default = LanguageProcessor().process(path)
    by_path = LanguageProcessor(asr_model=str(default_asr_model()),
                                embedding_model=str(default_embedding_model())).process(path)
    assert list(by_path.timeseries["utterance_text"]) == list(default.timeseries["utterance_text"])
    assert by_path.summary == default.summary


def test_conformance_on_audio(librivox):
    path, _ = librivox["sense_and_sensibility_01_austen_64kb-0880"]
    check_processor(LanguageProcessor, path)


def test_conformance(tmp_path):
    path = tmp_path / "story.txt"
    path.write_text("I went to the market. I bought apples and pears. Then I went home.")
    check_processor(LanguageProcessor, path)


# ---------------------------------------------------------------------------- batch
def test_batch_uses_the_transcript_beside_a_recording(tmp_path, librivox):
    src, _ = librivox["sense_and_sensibility_01_austen_64kb-0880"]
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "clip.wav").write_bytes(src.read_bytes())
    (folder / "clip.txt").write_text("He was not an ill disposed young man.")
    out = tmp_path / "out"
    assert cli(["run", str(folder), "-o", str(out), "-p", "language", "-q"]) == 0
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["recording_id"]) == ["clip"]  # the .txt is a transcript, not a recording
    assert summary.loc[0, "language.transcribed"] == 0 and summary.loc[0, "language.word_count"] == 8
    stored = json.loads((out / "clip" / "language.json").read_text())
    assert stored["provenance"]["companion_files"]["transcript"]["path"].endswith("clip.txt")
    # Editing the transcript recomputes; an unchanged rerun skips.
    assert cli(["run", str(folder), "-o", str(out), "-p", "language", "-q"]) == 0
    assert pd.read_csv(out / "manifest.csv")["status"].tolist() == ["skipped"]
    (folder / "clip.txt").write_text("He was not an ill disposed young man at all.")
    assert cli(["run", str(folder), "-o", str(out), "-p", "language", "-q"]) == 0
    assert pd.read_csv(out / "summary.csv").loc[0, "language.word_count"] == 10


def test_speech_and_language_through_the_cli(tmp_path, librivox, talking_head):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("sense_and_sensibility_01_austen_64kb-0870", "sense_and_sensibility_01_austen_64kb-0920"):
        (folder / f"{name}.wav").write_bytes(librivox[name][0].read_bytes())
    (folder / "no_sound.mp4").write_bytes(talking_head.read_bytes())
    out = tmp_path / "out"
    assert cli(["run", str(folder), "-o", str(out), "-p", "speech,language", "-q"]) == 1  # the silent video fails
    summary = pd.read_csv(out / "summary.csv").set_index("recording_id")
    assert summary.loc["no_sound", "status"] == "failed"
    assert "no audio track" in summary.loc["no_sound", "error"]
    documented = ["speech.speech_rate_syll_per_s", "speech.articulation_rate_syll_per_s", "speech.pause_count",
                  "speech.pause_mean_s", "speech.pause_fraction", "speech.f0_mean_hz", "speech.f0_sd_semitones",
                  "speech.jitter_local", "speech.shimmer_local", "speech.hnr_db", "speech.cpp_db",
                  "language.word_count", "language.word_rate_wpm", "language.mattr", "language.mlu_words"]
    ok = summary[summary["status"] == "ok"]
    assert len(ok) == 2
    assert ok[documented].notna().all().all()
    for rid in ok.index:
        ts = pd.read_parquet(out / rid / "speech.parquet")
        assert {"time_s", "speech_active", "f0_hz", "intensity_db"} <= set(ts.columns)
        speech = ts[ts["speech_active"] == 1]
        assert len(speech) and speech[["f0_hz", "intensity_db"]].notna().all().all()
        lang = pd.read_parquet(out / rid / "language.parquet")
        assert len(lang) >= 1 and lang["utterance_text"].str.len().gt(0).all()
