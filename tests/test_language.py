"""Transcripts (reading in any encoding, transcription and its confidence, word error rate) and the language
processor."""
from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from hypothesis import given, strategies as st

import bitbox
from bitbox.cli import main as cli
from bitbox.errors import FileProblem
from bitbox.processors.language import (LanguageProcessor, count_syllables, mattr, tokenize, type_token_ratio)
from bitbox.processors.text.textfile import decode_text, read_text_file
from bitbox.processors.text.transcript import (RecognitionConfidence, read_transcript, transcribe, word_error_rate)
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
    from bitbox.processors.text.transcript import default_asr_model

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
    manifest = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    assert manifest[["status", "reused"]].values.tolist() == [["ok", "language"]]
    (folder / "clip.txt").write_text("He was not an ill disposed young man at all.", encoding="utf-16")
    assert cli(["run", str(folder), "-o", str(out), "-p", "language", "-q"]) == 0
    summary = pd.read_csv(out / "summary.csv", keep_default_na=False)
    assert summary.loc[0, "language.word_count"] == 10 and summary.loc[0, "language.text_encoding"] == "utf-16-le (BOM)"
    assert "was read as" not in summary.loc[0, "language.notes"]  # a BOM: nothing guessed
    assert pd.read_csv(out / "manifest.csv", keep_default_na=False).loc[0, "reused"] == ""


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


# ---------------------------------------------------------------------------- text encodings
_BOM_CASES = [  # (bytes of "Héllo wörld\n", expected label)
    (b"\xef\xbb\xbf" + "Héllo wörld\n".encode("utf-8"), "utf-8 (BOM)"),
    (b"\xff\xfe" + "Héllo wörld\n".encode("utf-16-le"), "utf-16-le (BOM)"),
    (b"\xfe\xff" + "Héllo wörld\n".encode("utf-16-be"), "utf-16-be (BOM)"),
    (b"\xff\xfe\x00\x00" + "Héllo wörld\n".encode("utf-32-le"), "utf-32-le (BOM)"),
    (b"\x00\x00\xfe\xff" + "Héllo wörld\n".encode("utf-32-be"), "utf-32-be (BOM)"),
    ("Héllo wörld\n".encode("utf-16-le"), "utf-16-le"),
    ("Héllo wörld\n".encode("utf-16-be"), "utf-16-be"),
    ("Héllo wörld\n".encode("utf-32-le"), "utf-32-le"),
    ("Héllo wörld\n".encode("utf-32-be"), "utf-32-be"),
    ("Héllo wörld\n".encode("utf-8"), "utf-8"),
    ("Héllo wörld\n".encode("cp1252"), "cp1252 (guessed)"),
]


@pytest.mark.parametrize("data, label", _BOM_CASES, ids=[label for _, label in _BOM_CASES])
def test_encodings_are_detected(data, label):
    decoded = decode_text(data, "t.txt")
    assert decoded.text == "Héllo wörld\n" and decoded.label == label
    assert decoded.guessed == label.endswith("(guessed)") and bool(decoded.note) == decoded.guessed


def test_latin1_without_a_cp1252_meaning_and_line_endings():
    data = b"caf\xe9\r\n" + b"word " * 30 + b"na\x81ve\rend"  # 0x81 is undefined in Windows-1252
    decoded = decode_text(data, "t.txt")  # one C1 control in 166 characters: below the 1% refused
    assert decoded.label == "latin-1 (guessed)" and decoded.text == "café\n" + "word " * 30 + "na\x81ve\nend"
    assert decoded.note == ("t.txt is not UTF-8 (byte 3 is 0xE9) and was read as Latin-1 (ISO-8859-1): the "
                            "encoding is a guess, so check its accented letters, or save the file as UTF-8")


@pytest.mark.parametrize("data, reason", [
    (b"abc\x00def", "is not text: binary content (NUL bytes at byte offset 3)"),
    (b"\x00\x01\x02\x00\x00\x00\x07hello", "is not text: binary content (NUL bytes at byte offsets 0, 3, 4 "
                                           "and 1 more)"),
    (b"\xff\xfe" + b"\x00\xd8", "starts with a UTF-16 LE byte-order mark but is not valid UTF-16 LE (bytes 2-3)"),
    (b"ok\x01\x02\x03\x04 text", "is not text: binary content (read as UTF-8 text, 4 of its 11 characters are "
                                 "control or unassigned characters: U+0001 at character 2, U+0002 at character 3, "
                                 "U+0003 at character 4 and 1 more)"),
])
def test_non_text_is_refused_with_its_reason(data, reason):
    with pytest.raises(bitbox.RecordingError) as err:
        decode_text(data, "t.txt")
    assert err.value.reason == reason


def test_missing_text_file(tmp_path):
    with pytest.raises(bitbox.RecordingError, match="does not exist"):
        read_text_file(tmp_path / "none.txt")


_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cn"), blacklist_characters="\ufeff")
                | st.sampled_from("\n\t"), max_size=60)


@given(text=_TEXT, variant=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]))
def test_any_text_round_trips_through_a_bom_or_utf8(text, variant):
    """UTF-8 (with or without BOM) and BOM'd UTF-16/32 give back any text exactly."""
    assert decode_text(text.encode(variant), "t.txt").text == text


@given(text=st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz ABC.,'éüñçß\n"), min_size=1, max_size=80),
       codec=st.sampled_from(["utf-16-le", "utf-16-be"]))
def test_utf16_without_bom_is_found_by_its_nul_bytes(text, codec):
    decoded = decode_text(text.encode(codec), "t.txt")
    assert (decoded.text, decoded.codec, decoded.bom, decoded.note) == (text, codec, False, "")


def test_utf16_transcripts_read_like_utf8(tmp_path):
    """The reported bug: a UTF-16 transcript was read as 1-letter garbage and reported ok."""
    text = "I went to the café. Then I went home!\nWe had crème brûlée."
    plain, wide = tmp_path / "a.txt", tmp_path / "b.txt"
    plain.write_text(text, encoding="utf-8")
    wide.write_text(text, encoding="utf-16")
    a, b = (LanguageProcessor().process(p).summary for p in (plain, wide))
    assert a["word_count"] == b["word_count"] == 13 and a["utterance_count"] == b["utterance_count"] == 3
    assert a["mean_word_length_chars"] == b["mean_word_length_chars"] == pytest.approx(43 / 13)
    assert (a["text_encoding"], b["text_encoding"]) == ("utf-8", "utf-16-le (BOM)")
    assert a["notes"] == b["notes"] == "" and np.isnan(a["asr_avg_logprob"])
    for suffix, content in ((".srt", "1\n00:00:01,000 --> 00:00:02,500\nHéllo there.\n"),
                            (".json", json.dumps({"text": "Héllo there."}, ensure_ascii=False))):
        path = tmp_path / f"c{suffix}"
        path.write_text(content, encoding="utf-16-be")
        t = read_transcript(path)
        assert t.text == "Héllo there." and t.encoding == "utf-16-be"


def test_accented_words_stay_whole():
    assert tokenize("Un café naïf, l'été") == ["un", "café", "naïf", "l'été"]
    assert count_syllables("café") == count_syllables("cafe")


def test_narratives_read_any_encoding(tmp_path, caplog):
    from bitbox.processors.narrative import narrative_text
    from bitbox.processors.narrative_format import read_narrative

    text = "I walked to the café.\nThen I felt happy."
    wide = tmp_path / "n.txt"
    wide.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    assert narrative_text(bitbox.Recording(wide)) == (text, [])  # no BOM character, no \r: offsets unchanged
    latin = tmp_path / "l.txt"
    latin.write_bytes(text.encode("latin-1"))
    with caplog.at_level(logging.WARNING, logger="bitbox"):
        assert narrative_text(bitbox.Recording(latin)) == (text, [])
    assert "l.txt is not UTF-8 (byte 19 is 0xE9)" in caplog.text
    annotation = tmp_path / "a.json"
    annotation.write_text(json.dumps({"content": text, "indexes": {"0": {"Entity": [
        {"begin": 2, "end": 8, "semantic": "action"}]}}}), encoding="utf-16")
    assert read_narrative(annotation).content == text
    binary = tmp_path / "b.json"
    binary.write_bytes(b"PK\x03\x04\x00\x00")
    with pytest.raises(FileProblem, match=r"b.json: is not text: binary content \(NUL bytes at byte "
                                                 r"offsets 4, 5\)"):
        read_narrative(binary)


# ---------------------------------------------------------------------------- transcription confidence
class _Seg:
    def __init__(self, start, end, avg_logprob, compression_ratio, no_speech_prob):
        self.start, self.end = start, end
        self.avg_logprob, self.compression_ratio, self.no_speech_prob = avg_logprob, compression_ratio, no_speech_prob


def test_confidence_is_aggregated_by_duration():
    c = RecognitionConfidence.from_segments([_Seg(0, 1, -0.2, 1.1, 0.1), _Seg(1, 4, -1.4, 2.6, 0.7)])
    assert c.avg_logprob == pytest.approx((-0.2 * 1 + -1.4 * 3) / 4)
    assert c.no_speech_prob == pytest.approx((0.1 + 0.7 * 3) / 4)
    assert c.compression_ratio == 2.6 and c.n_segments == 2  # the largest: one looping window is enough
    assert c.note("tiny.en") == (
        "low transcription confidence (mean log-probability -1.10 is below -1, compression ratio 2.60 is above 2.4 "
        "(repetitive text, a sign of hallucination)): the speech may be in a language tiny.en does not know, "
        "unclear, noisy or absent, so check the transcript, or put a transcript beside the recording")
    quiet = RecognitionConfidence(-0.3, 1.2, 0.9, 1)
    assert quiet.note().startswith("low transcription confidence (no-speech probability 0.90 is above 0.6): ")
    same = RecognitionConfidence.from_segments([_Seg(2, 2, -0.5, 1.0, 0.2), _Seg(3, 3, -0.7, 1.2, 0.8)])
    assert same.avg_logprob == pytest.approx(-0.6) and same.no_speech_prob == pytest.approx(0.5)  # no durations
    assert same.note() == "" and RecognitionConfidence.from_segments([]) is None


def test_a_metadata_json_beside_a_recording_is_not_its_transcript(tmp_path):
    """A BIDS sidecar (an object without segments or words) is skipped; a Whisper-style JSON is the transcript."""
    from bitbox.processors.text.transcript import find_transcript

    video = tmp_path / "sub-01_task-play_beh.mp4"
    video.write_bytes(b"")
    sidecar = video.with_suffix(".json")
    sidecar.write_text(json.dumps({"TaskName": "play", "SamplingFrequency": 30}))
    assert find_transcript(video) is None
    video.with_suffix(".txt").write_text("Hello there.\n")
    assert find_transcript(video) == video.with_suffix(".txt")
    sidecar.write_text(json.dumps({"segments": [{"start": 0.0, "end": 1.0, "text": "Hello there."}]}))
    assert find_transcript(video) == sidecar
    sidecar.write_text("{not json")  # a broken transcript is still found, and its reader says what is wrong
    assert find_transcript(video) == sidecar
