"""Real transcripts in the encodings people save them in, a binary file named .txt, and
Whisper's confidence on speech it cannot know.

Known truth: the LibriVox ``transcription`` of Debian's pocketsphinx-testdata (its five
utterances plus a line of accented words) written as UTF-8 is the original; every
re-encoding (tools/faults/text.py) must give exactly its words. The binary file is the start
of a real LibriVox WAV; its reason names its NUL bytes, counted here from its bytes.
"""
from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import pytest

from bitbox import split_notes
from bitbox.errors import RecordingError
from bitbox.processors.language import LanguageProcessor
from bitbox.processors.text.transcript import read_transcript
from tools.faults import text as faults

#: The re-encodings tested against the UTF-8 original, with the encoding each must be recorded as.
ENCODINGS = {
    "utf-16-le-bom": "utf-16-le (BOM)", "utf-16-le": "utf-16-le",
    "utf-16-be-bom": "utf-16-be (BOM)", "utf-16-be": "utf-16-be",
    "utf-8-bom": "utf-8 (BOM)", "utf-32-le-bom": "utf-32-le (BOM)", "latin-1": "cp1252 (guessed)",
}
GERMAN = ("Der Hund läuft schnell über die grüne Wiese, und die Kinder spielen fröhlich im Garten hinter "
          "dem Haus.")
ENGLISH = ("The dog runs quickly across the green meadow, and the children play happily in the garden behind "
           "the house.")


@pytest.fixture(scope="module")
def original(librivox_dir, tmp_path_factory) -> tuple[Path, list[str]]:
    """The LibriVox transcript with accented words, as UTF-8, and its words (split on white space)."""
    lines = faults.librivox_lines(librivox_dir / "transcription")
    assert len(lines) == 5 and lines[1] == "he was not an ill disposed young man"
    text = faults.with_accents("\n".join(lines))
    path = faults.write_text(text, tmp_path_factory.mktemp("text") / "librivox.txt", "utf-8")
    return path, text.split()


@pytest.fixture(scope="module")
def language() -> LanguageProcessor:
    return LanguageProcessor()


@pytest.fixture(scope="module")
def original_summary(original, language) -> dict:
    return language.process(original[0]).summary


def test_original_is_read_as_utf8(original, original_summary):
    path, words = original
    assert len(words) == 22 + 8 + 14 + 19 + 8 + 16  # five LibriVox utterances (counted by hand), accented line
    assert original_summary["word_count"] == len(words)
    assert original_summary["text_encoding"] == "utf-8" and original_summary["notes"] == ""
    # A transcript read from a file has no recognition confidence (NaN, documented).
    assert all(math.isnan(original_summary[k]) for k in ("asr_avg_logprob", "asr_compression_ratio",
                                                         "asr_no_speech_prob"))
    assert [w.text for w in read_transcript(path).words] == words


@pytest.mark.parametrize("variant", sorted(ENCODINGS))
@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_reencoded_transcript_gives_the_original_words(variant, crlf, original, original_summary, language):
    path, words = original
    faulty = faults.write_encoded(path, path.with_name(f"librivox_{variant}_{'crlf' if crlf else 'lf'}.txt"),
                                  variant, crlf=crlf)
    assert faulty.read_bytes() != path.read_bytes()
    assert [w.text for w in read_transcript(faulty).words] == words
    if crlf:  # the processor once per encoding is enough
        return
    summary = language.process(faulty).summary
    assert summary["word_count"] == original_summary["word_count"] == len(words)
    assert summary["mean_word_length_chars"] == original_summary["mean_word_length_chars"]
    assert summary["mattr"] == original_summary["mattr"]
    assert summary["text_encoding"] == ENCODINGS[variant]
    if variant == "latin-1":
        first = next(i for i, byte in enumerate(faulty.read_bytes()) if byte >= 0x80)
        assert faulty.read_bytes()[first] == 0xE9  # the é of "fiancé"
        assert summary["notes"] == (
            f"{faulty.name} is not UTF-8 (byte {first} is 0xE9) and was read as Windows-1252 (Western European, "
            "a superset of Latin-1): the encoding is a guess, so check its accented letters, or save the file as "
            "UTF-8")
    else:
        assert summary["notes"] == ""


def test_binary_file_named_txt_is_refused(librivox_dir, tmp_path, language):
    wav = librivox_dir / "sense_and_sensibility_01_austen_64kb-0880.wav"
    faulty = faults.write_binary(wav, tmp_path / "transcript.txt", n_bytes=4096)
    data = faulty.read_bytes()
    nuls = [i for i, byte in enumerate(data) if byte == 0]
    assert nuls[:3] == [7, 17, 18]  # RIFF size high byte, then the fmt chunk's size
    with pytest.raises(RecordingError) as err:
        language.process(faulty)
    assert str(err.value) == (f"{faulty}: is not text: binary content (NUL bytes at byte offsets 7, 17, 18 and "
                              f"{len(nuls) - 3} more). Give a text file (UTF-8 is safest), or check that this is "
                              "the file you meant")


# ---------------------------------------------------------------------------- transcription confidence
@pytest.fixture(scope="module")
def espeak(tmp_path_factory) -> dict[str, Path]:
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.fail("espeak-ng is missing: apt-get install espeak-ng (make test does)", pytrace=False)
    folder = tmp_path_factory.mktemp("espeak")
    out = {}
    for voice, sentence in (("de", GERMAN), ("en", ENGLISH)):
        out[voice] = folder / f"{voice}.wav"
        subprocess.run([exe, "-v", voice, "-w", str(out[voice]), sentence], check=True, capture_output=True)
    return out


def test_german_speech_gets_a_low_confidence_note(espeak, language):
    summary = language.process(espeak["de"]).summary
    assert summary["transcribed"] == 1 and "text_encoding" not in summary
    assert summary["asr_avg_logprob"] < -1.0  # measured: -1.38 (tiny.en knows only English)
    assert summary["asr_compression_ratio"] <= 2.4 and summary["asr_no_speech_prob"] <= 0.6
    assert split_notes(summary["notes"])[0] == (
        f"low transcription confidence (mean log-probability {summary['asr_avg_logprob']:.2f} is below -1): the "
        "speech may be in a language tiny.en (packaged) does not know, unclear, noisy or absent, so check the "
        "transcript, or put a transcript beside the recording")


@pytest.mark.parametrize("clip", ["espeak-en", "librivox-0870"])
def test_english_speech_has_no_note(clip, espeak, librivox_dir, language):
    path = espeak["en"] if clip == "espeak-en" else librivox_dir / "sense_and_sensibility_01_austen_64kb-0870.wav"
    summary = language.process(path).summary  # no transcript beside either: transcribed
    assert summary["transcribed"] == 1
    assert "transcription confidence" not in summary["notes"]
    assert -1.0 < summary["asr_avg_logprob"] < 0  # measured: -0.39 (espeak-ng), -0.22 (LibriVox)
    assert 0 < summary["asr_compression_ratio"] < 2.4 and 0 <= summary["asr_no_speech_prob"] < 0.6


def test_a_narrative_in_latin1_gives_the_utf8_spans_and_notes_the_guess(original, tmp_path):
    from bitbox.processors.narrative import NarrativeProcessor

    path, _ = original
    latin = faults.write_encoded(path, tmp_path / "diary_latin1.txt", "latin-1")
    narrative = NarrativeProcessor()
    clean, guessed = narrative.process(path), narrative.process(latin)
    assert clean.summary["notes"] == "" and clean.summary["text_encoding"] == "utf-8"
    assert guessed.summary["text_encoding"] == "cp1252 (guessed)"
    assert guessed.summary["notes"].startswith("diary_latin1.txt is not UTF-8 (byte ")
    assert "was read as Windows-1252" in guessed.summary["notes"]
    assert guessed.timeseries[["begin_char", "end_char", "term", "label"]].equals(
        clean.timeseries[["begin_char", "end_char", "term", "label"]])
    assert guessed.summary["word_count"] == clean.summary["word_count"]


def test_utf8_cut_mid_character_keeps_its_accents_and_says_where(original, tmp_path, language):
    """A UTF-8 transcript cut in the middle of its last character (a copy that stopped early) stays UTF-8:
    the accented words read right, the damaged place is U+FFFD and named, not the whole file read as cp1252."""
    path, words = original
    data = path.read_bytes().rstrip(b"\n") + "é".encode()[:1]
    cut = tmp_path / "cut.txt"
    cut.write_bytes(data)
    summary = language.process(cut).summary
    assert summary["text_encoding"] == "utf-8"
    assert summary["notes"] == (f"cut.txt is UTF-8 but not valid in 1 place (the first at byte {len(data) - 1}, "
                                "0xC3), each read as U+FFFD: the file is probably damaged or was cut mid-character, "
                                "so check it, or save it again as UTF-8")
    read = [w.text for w in read_transcript(cut).words]
    assert read[:-1] == words[:-1] and read[-1] == words[-1] + "\ufffd"  # the cut character, marked


def test_subtitles_out_of_time_order_are_sorted_and_noted(librivox_dir, tmp_path, language):
    """Cues saved out of order (as subtitle editors can), one overlapping the next: the language measures
    follow the times (was an internal error: time_s going backwards) and the notes say what was done."""
    lines = faults.librivox_lines(librivox_dir / "transcription")[:3]
    cues = [(2, "00:00:06,000 --> 00:00:09,000", lines[2]), (1, "00:00:03,000 --> 00:00:06,500", lines[1]),
            (0, "00:00:00,000 --> 00:00:02,500", lines[0])]
    srt = tmp_path / "unsorted.srt"
    srt.write_text("\n\n".join(f"{i + 1}\n{t}\n{text}" for i, t, text in cues) + "\n", encoding="utf-8")
    result = language.process(srt)
    assert result.timeseries["time_s"].tolist() == [0.0, 3.0, 6.0]
    assert result.timeseries["utterance_text"].str.lower().tolist() == lines
    notes = result.summary["notes"]
    assert "unsorted.srt: 2 utterances (cues or segments) came before the one above in time; they were sorted by " \
           "their start times" in notes
    assert "unsorted.srt: 1 utterance starts before the one before ends (overlapping cues" in notes
    assert result.timeseries["pause_before_s"].tolist()[1:] == [0.5, 0.0]
