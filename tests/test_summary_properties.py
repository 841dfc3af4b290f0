"""Property-based tests of the summary functions of the speech, voice_windows, eeg and language processors.

Each summary is computed from the processor's frame-level data (F0 and intensity contours
and speech segments; the per-window table; the recording's spectrum; the per-utterance
table), so the random data are those series, 1..2000 frames / windows / frequencies /
utterances long, with random NaN runs, constant, single and all-NaN. Properties: never
raises on the data (ParameterError only on invalid arguments); every value finite or NaN,
never inf; every value inside the catalog's valid range (``validate_summary``); the keys
exactly the documented ones; every NaN the data cause named in ``notes`` with its reason.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from bitbox.catalog import validate_summary
from bitbox.errors import ParameterError
from bitbox.processors.eeg import BANDS, EegProcessor, spectral_summary
from bitbox.processors.language import (FILLERS, FIRST_PERSON_SINGULAR, LANGUAGE_SUMMARY_KEYS, LanguageProcessor,
                                        language_summary, tokenize)
from bitbox.processors.speech import (MAX_SYLLABLE_RATE, SPEECH_SUMMARY_KEYS, SpeechProcessor, speech_summary)
from bitbox.processors.text.transcript import RecognitionConfidence
from bitbox.processors.voice_windows import SAMPLE_RATE, VoiceWindowsProcessor, voice_windows_summary

KINDS = ("random", "constant", "all_nan", "single")
HOP = 0.01


@st.composite
def layouts(draw, max_n: int = 2000, kinds=KINDS):
    """(kind, n, rng, nan mask): a length (short, kernel-sized or long) and where random NaN runs fall."""
    kind = draw(st.sampled_from(kinds))
    n = 1 if kind == "single" else draw(st.one_of(st.integers(1, 30), st.integers(30, 300),
                                                  st.integers(300, max_n), st.sampled_from([1000, max_n])))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    gaps = np.full(n, kind == "all_nan")
    if kind != "all_nan" and draw(st.booleans()):
        for _ in range(draw(st.integers(1, 6))):
            start = int(rng.integers(0, n))
            gaps[start:start + int(rng.integers(1, max(2, n // 5)))] = True
    return kind, n, rng, gaps


def _numbers_finite_or_nan(summary: dict) -> None:
    for key, value in summary.items():
        if isinstance(value, str):
            continue
        assert isinstance(value, float), (key, value)
        assert not math.isinf(value), key


def _nan_keys(summary: dict) -> list[str]:
    return [k for k, v in summary.items() if isinstance(v, float) and math.isnan(v)]


def _named(key: str, notes: str) -> bool:
    """Whether a NaN key is named in the notes (as itself, or its band family written with ``*``)."""
    family = re.sub(r"^(rel|abs)_power_(delta|theta|alpha|beta|gamma)", r"\1_power_*", key)
    return any(re.search(re.escape(name) + r"(?=[,: ]|$)", notes) for name in {key, family})


# ---------------------------------------------------------------------------- speech
def _segments(rng: np.random.Generator, n: int, count: int) -> list[tuple[float, float]]:
    """Sorted, non-overlapping (start, end) segments over about the frames' span."""
    if count == 0:
        return []
    edges = np.unique(np.round(rng.uniform(0, n * HOP * 1.05 + 0.02, 2 * count), 3))
    if len(edges) % 2:
        edges = edges[:-1]
    return [(float(a), float(b)) for a, b in edges.reshape(-1, 2)]


@given(layouts(), layouts(), st.integers(0, 8), st.sampled_from(["nan", "zero"]))
def test_speech_summary(f0_layout, level_layout, n_segments, unvoiced):
    kind, n, rng, gaps = f0_layout
    if kind == "constant":
        f0 = np.full(n, rng.uniform(20, 2000))
    else:
        f0 = np.clip(150 * 2 ** np.cumsum(rng.normal(0, 0.05, n)), 20, 2000)
        f0[rng.random(n) < 0.02] *= 2  # octave jumps
        f0 = np.clip(f0, 20, 2000)
    f0[gaps] = np.nan if unvoiced == "nan" else 0.0
    level_kind, _, _, level_gaps = level_layout
    level = (np.full(n, 60.0) if level_kind == "constant" else
             np.clip(60 + np.cumsum(rng.normal(0, 3, n)), 0, 200))
    level[np.resize(level_gaps, n) | (level_kind == "all_nan")] = np.nan
    segments = _segments(rng, n, n_segments)

    summary = speech_summary(f0, level, segments, hop_s=HOP, f0_range_hz=(60.0, 400.0))
    assert list(summary) == list(SPEECH_SUMMARY_KEYS)
    validate_summary("speech", SpeechProcessor.catalog_measures(), summary)
    _numbers_finite_or_nan(summary)
    for key in _nan_keys(summary):
        assert _named(key, summary["notes"]), (key, summary["notes"])

    # Known truth, computed independently.
    times = np.round(np.arange(n) * HOP, 6)
    inside = np.zeros(n, bool)
    for a, b in segments:
        inside |= (times >= a) & (times < b)
    voiced = np.isfinite(f0) & (f0 > 0) & inside
    assert summary["pause_count"] == max(len(segments) - 1, 0)
    assert summary["phonation_time_s"] == pytest.approx(sum(b - a for a, b in segments))
    assert summary["speaking_time_s"] == pytest.approx(segments[-1][1] - segments[0][0] if segments else 0.0)
    if inside.any():
        assert summary["voiced_fraction"] == pytest.approx(voiced.sum() / inside.sum())
    assert math.isnan(summary["f0_median_hz"]) == (not voiced.any())
    if voiced.any():
        assert summary["f0_median_hz"] == pytest.approx(np.median(f0[voiced]))
    if not segments:
        assert summary["notes"].startswith("speech_rate_syll_per_s, articulation_rate_syll_per_s, "
                                           "pause_rate_per_min, pause_mean_s")
        assert "NaN: no speech segment - check that the recording holds speech" in summary["notes"]


def test_speech_summary_refuses_syllable_rates_no_voice_has():
    """An intensity contour that peaks every other frame (50 nuclei/s): the rates are NaN with the reason."""
    n = 400
    level = np.where(np.arange(n) % 2 == 0, 70.0, 60.0)
    summary = speech_summary(np.full(n, 120.0), level, [(0.0, n * HOP)], hop_s=HOP)
    assert summary["syllable_count"] > MAX_SYLLABLE_RATE * n * HOP
    assert math.isnan(summary["speech_rate_syll_per_s"]) and math.isnan(summary["articulation_rate_syll_per_s"])
    assert summary["notes"].startswith("speech_rate_syll_per_s is NaN: 50 syllable nuclei per second of speaking "
                                       "time is faster than speech (above 30/s)")
    validate_summary("speech", SpeechProcessor.catalog_measures(), summary)


@pytest.mark.parametrize("f0, level, segments, match", [
    ([100.0, np.inf], [60.0, 60.0], [(0.0, 0.02)], "'f0_hz' argument of speech_summary must hold values from 20"),
    ([100.0, 5.0], [60.0, 60.0], [(0.0, 0.02)], "'f0_hz' argument"),
    ([100.0, 100.0], [60.0, -3.0], [(0.0, 0.02)], "'intensity_db' argument"),
    ([100.0], [60.0, 60.0], [(0.0, 0.02)], "must have the same length"),
    ([100.0, 100.0], [60.0, 60.0], [(0.5, 0.2)], "sorted and not overlapping"),
    ([100.0, 100.0], [60.0, 60.0], [(0.0, 0.3), (0.2, 0.5)], "sorted and not overlapping"),
])
def test_speech_summary_invalid_arguments(f0, level, segments, match):
    with pytest.raises(ParameterError, match=re.escape(match)):
        speech_summary(f0, level, segments)


# ---------------------------------------------------------------------------- voice_windows
@given(layouts(), st.sampled_from([8000, 11025, 16000, 44100]), st.booleans())
def test_voice_windows_summary(layout, sample_rate, egemaps):
    kind, n, rng, gaps = layout
    columns = {"time_s": np.arange(n, dtype=float), "end_s": np.arange(n) + 5.0}
    names = [f"mfcc_{k}_mean" for k in (1, 2, 3)] + (["egemaps_F0semitoneFrom27.5Hz_sma3nz_amean"] if egemaps else [])
    for name in names:
        values = np.full(n, -3.0) if kind == "constant" else rng.normal(0, 10, n)
        values[gaps] = np.nan
        columns[name] = values
    table = pd.DataFrame(columns)
    summary = voice_windows_summary(table, duration_s=n + 4.0, sample_rate=sample_rate)
    assert set(summary) == {m.name for m in VoiceWindowsProcessor.measures if m.kind == "summary"}
    validate_summary("voice_windows", VoiceWindowsProcessor.catalog_measures(), summary)
    _numbers_finite_or_nan(summary)
    assert summary["window_count"] == n and summary["duration_s"] == n + 4.0
    assert ("the audio is sampled at" in summary["notes"]) == (sample_rate < SAMPLE_RATE)
    missing = int(gaps.sum())
    assert (f"{missing} of {n} windows have features that are NaN" in summary["notes"]) == (missing > 0)


def test_voice_windows_summary_invalid_arguments():
    table = pd.DataFrame({"time_s": [0.0], "end_s": [5.0], "mfcc_1_mean": [1.0]})
    with pytest.raises(ParameterError, match="needs at least one window"):
        voice_windows_summary(table.iloc[:0], duration_s=5.0, sample_rate=16000)
    with pytest.raises(ParameterError, match="'duration_s' argument"):
        voice_windows_summary(table, duration_s=math.inf, sample_rate=16000)
    with pytest.raises(ParameterError, match="'sample_rate' argument"):
        voice_windows_summary(table, duration_s=5.0, sample_rate=0)


# ---------------------------------------------------------------------------- eeg
def _spectrum(rng: np.random.Generator, freqs: np.ndarray, kind: str, alpha_hz: float | None) -> np.ndarray:
    if kind == "constant":
        return np.full(len(freqs), rng.choice([0.0, 1.0, 7.5]))
    psd = 20.0 / np.maximum(freqs, 0.5) * rng.lognormal(0, 0.3, len(freqs))
    if alpha_hz is not None:
        psd += 15.0 * np.exp(-0.5 * ((freqs - alpha_hz) / 0.8) ** 2)
    return psd


@settings(max_examples=30)
@given(layouts(), st.integers(0, 5), st.integers(0, 2), st.sampled_from([0.125, 0.5, 1.0, 4.0]),
       st.one_of(st.none(), st.floats(7.5, 12.5)), st.booleans())
def test_eeg_spectral_summary(layout, n_channels, n_dropped, df, alpha_hz, one_gap_per_channel):
    kind, n, rng, gaps = layout
    freqs = np.arange(n) * df
    channels = [f"C{k}" for k in range(n_channels)]
    dropped = [f"bad{k}" for k in range(n_dropped)]
    recorded = list(rng.permutation(channels + dropped)) + ["not_analysed"]
    psd = np.stack([_spectrum(rng, freqs, kind, alpha_hz) for _ in channels]) if channels else np.empty((0, n))
    if channels:
        psd[:, gaps] = np.nan
        if one_gap_per_channel and kind != "all_nan":
            psd[int(rng.integers(0, n_channels)), int(rng.integers(0, n))] = np.nan

    summary = spectral_summary(psd, freqs, channels=channels, dropped=dropped, recorded=recorded)
    expected = {"alpha_peak_hz", "notes"}
    for band in BANDS:
        expected |= {f"rel_power_{band}", f"abs_power_{band}_uv2"}
        expected |= {f"{kind_}_power_{band}{unit}_ch_{ch}" for kind_, unit in (("rel", ""), ("abs", "_uv2"))
                     for ch in channels + dropped}
    assert set(summary) == expected
    validate_summary("eeg", EegProcessor.catalog_measures(), summary)
    _numbers_finite_or_nan(summary)
    for key in _nan_keys(summary):
        if any(key.endswith(f"_ch_{ch}") for ch in dropped):
            continue  # dropped bad channels: NaN, named by the processor's bad-channel note
        assert _named(key, summary["notes"]), (key, summary["notes"])
    rel = [summary[f"rel_power_{b}"] for b in BANDS]
    if all(math.isfinite(v) for v in rel):
        assert sum(rel) == pytest.approx(1.0)
    if channels and kind == "random" and not gaps.any() and not one_gap_per_channel and df <= 0.5 and n * df > 40:
        assert all(math.isfinite(summary[f"abs_power_{b}_uv2_ch_{ch}"]) for b in BANDS for ch in channels)
        if alpha_hz is not None:  # a clear alpha bump over 1/f noise is found
            assert summary["alpha_peak_hz"] == pytest.approx(alpha_hz, abs=0.6)


@pytest.mark.parametrize("psd, freqs, channels, match", [
    (np.ones((1, 4)), np.arange(4.0), ["a", "b"], "needs psd of shape"),
    (-np.ones((1, 4)), np.arange(4.0), ["a"], "non-negative"),
    (np.full((1, 4), np.inf), np.arange(4.0), ["a"], "non-negative, finite"),
    (np.ones((1, 4)), np.array([0.0, 1.0, 3.0, 4.0]), ["a"], "evenly spaced"),
])
def test_eeg_spectral_summary_invalid_arguments(psd, freqs, channels, match):
    with pytest.raises(ParameterError, match=match):
        spectral_summary(psd, freqs, channels=channels)


def test_eeg_spectral_summary_names_an_unmeasured_band():
    """A spectrum that stops at 25 Hz (50 Hz sampling) has no gamma band: NaN, and the note says why."""
    freqs = np.arange(0, 25.5, 0.5)
    summary = spectral_summary(np.ones((2, len(freqs))), freqs, channels=["Fz", "Cz"])
    assert math.isnan(summary["abs_power_gamma_uv2"]) and math.isnan(summary["rel_power_gamma_ch_Cz"])
    assert summary["notes"].startswith("rel_power_gamma, abs_power_gamma_uv2 are NaN: no analysed channel has a value")
    assert ("rel_power_gamma_ch_Fz, abs_power_gamma_uv2_ch_Fz, rel_power_gamma_ch_Cz, abs_power_gamma_uv2_ch_Cz are "
            "NaN: the spectrum (to 25 Hz, in 0.5-Hz steps) has no frequency in the gamma band (30-40 Hz) - use a "
            "higher sampling rate") in summary["notes"]
    assert sum(summary[f"rel_power_{b}"] for b in BANDS if b != "gamma") == pytest.approx(1.0)


# ---------------------------------------------------------------------------- language
WORDS = ("the", "dog", "ran", "home", "I", "me", "my", "um", "uh", "we", "went", "café", "naïf", "42", "don't",
         "beautiful", "strengths", "a", "e", "-", "...", "")
CONFIDENCE = RecognitionConfidence(avg_logprob=-0.3, compression_ratio=1.4, no_speech_prob=0.05, n_segments=3)


@settings(max_examples=30)
@given(layouts(), st.sampled_from(["timed", "untimed", "no_columns", "gappy"]), st.booleans(),
       st.sampled_from(["", "utf-8", "cp1252 (guessed)"]), st.sampled_from([2, 50]))
def test_language_summary(layout, times, transcribed, encoding, window):
    kind, n, rng, gaps = layout
    if kind == "all_nan":
        texts = [None] * n
    elif kind == "constant":
        texts = ["I went home."] * n
    else:
        texts = [" ".join(rng.choice(WORDS, int(rng.integers(0, 9)))) for _ in range(n)]
    starts = np.cumsum(rng.uniform(0, 4, n))
    ends = starts + rng.choice([0.0, 0.05, 1.0, 3.0], n)  # 0.05 s: too fast for a person
    similarity = rng.uniform(-1, 1, n)
    similarity[0] = np.nan
    similarity[gaps] = np.nan
    table = pd.DataFrame({"utterance_text": texts, "coherence_prev": similarity})
    if times != "no_columns":
        table["time_s"], table["end_s"] = (starts, ends) if times != "untimed" else (np.nan, np.nan)
        if times == "gappy":
            table.loc[gaps | (kind == "all_nan"), ["time_s", "end_s"]] = np.nan
    confidence = CONFIDENCE if transcribed else None

    summary = language_summary(table, mattr_window=window, transcribed=transcribed, confidence=confidence,
                               encoding=encoding, notes=["a note of the transcript"])
    timed = times == "timed" or (times == "gappy" and not (gaps.all() or kind == "all_nan"))
    expected = set(LANGUAGE_SUMMARY_KEYS) | ({"word_rate_wpm"} if timed else set())
    expected |= ({"coherence_mean", "coherence_min"} if n >= 1 else set()) | ({"text_encoding"} if encoding else set())
    assert set(summary) == expected
    validate_summary("language", LanguageProcessor.catalog_measures(), summary)
    _numbers_finite_or_nan(summary)
    assert summary["notes"].startswith("a note of the transcript")
    for key in _nan_keys(summary):
        if key.startswith("asr_") and not transcribed:
            continue  # catalogued: NaN when the transcript was read from a file
        assert _named(key, summary["notes"]), (key, summary["notes"])
    tokens = [t for text in texts for t in tokenize(text or "")]
    assert summary["word_count"] == len(tokens)
    assert summary["utterance_count"] == sum(bool(tokenize(text or "")) for text in texts)
    assert summary["filler_count"] == sum(t in FILLERS for t in tokens)
    if tokens:
        assert summary["first_person_singular_rate"] == pytest.approx(
            100 * sum(t in FIRST_PERSON_SINGULAR for t in tokens) / len(tokens))
    if n >= 2 and np.isfinite(similarity).any():
        assert summary["coherence_min"] == pytest.approx(np.nanmin(similarity))


def test_language_summary_word_rate_beyond_any_speaker():
    """Six words in 0.1 s (3600 words/min): the times are wrong; NaN in the summary and the time series."""
    table = pd.DataFrame({"utterance_text": ["the cat sat on the mat", "ok then"], "time_s": [1.0, 1.05],
                          "end_s": [1.1, 1.1], "coherence_prev": [np.nan, 0.2]})
    summary = language_summary(table)
    assert math.isnan(summary["word_rate_wpm"])
    assert summary["notes"] == ("word_rate_wpm is NaN: 8 words in 0.1 s is 4800 words/min, faster than anyone speaks "
                                "(above 1000) - check the transcript's times | 2 utterances are faster than 1000 "
                                "words/min: their word_rate_wpm in the time series is NaN - check the transcript's "
                                "times")


def test_language_summary_invalid_arguments():
    with pytest.raises(ParameterError, match="needs an 'utterance_text' column"):
        language_summary(pd.DataFrame({"text": ["hello"]}))
    with pytest.raises(ParameterError, match="'mattr_window' argument"):
        language_summary(pd.DataFrame({"utterance_text": ["hello"]}), mattr_window=1)
    with pytest.raises(ParameterError, match="'coherence_prev' column"):
        language_summary(pd.DataFrame({"utterance_text": ["a", "b"], "coherence_prev": [np.nan, 1.5]}))
