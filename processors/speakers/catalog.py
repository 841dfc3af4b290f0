"""The measures of the ``speakers`` processor (catalog entries)."""
from __future__ import annotations

import math

from bitbox.catalog import Measure

__all__ = ["MEASURES", "PER_SPEAKER", "CONVERSATION_KEYS"]

INF = math.inf

_HELDNER = "Heldner & Edlund (2010), Pauses, gaps and overlaps in conversations, J Phonetics 38:555"
_WAN = ("Wan et al. (2018), Generalized end-to-end loss for speaker verification (the d-vector encoder, weights "
        "of Resemblyzer 0.1.4); Wang et al. (2018), Speaker diarization with LSTM (spectral clustering)")
_DE_JONG = "de Jong & Wempe (2009), Praat script to detect syllable nuclei, Behav Res Methods 41:385"
_HIRST = "De Looze & Hirst (2008), two-pass F0 floor/ceiling; Praat autocorrelation pitch"
_TURNS = ("Floor turns, interruptions and back-channels as defined in docs/speakers.md (after Heldner & Edlund "
          "2010)")
_EVIDENCE = ("tests/test_speakers.py on dialogues of tools/dialogues.py (flite CMU ARCTIC voices of real speakers, "
             "festival, espeak-ng; real LibriVox and pocketsphinx recordings) with known turns")

#: ``(name, unit, description, valid range, reference)`` of each per-speaker summary measure.
PER_SPEAKER = (
    ("talk_time_s", "s", "The speaker's speech time (overlapped parts included).", (0, None), _HELDNER),
    ("talk_share", "1", "The speaker's talk time over all speakers' talk time.", (0, 1), _HELDNER),
    ("turn_count", "1", "Floor turns taken (a turn runs until another speaker takes the floor).", (0, None), _TURNS),
    ("turn_mean_s", "s", "Mean floor-turn length: first onset to last offset of the speaker in the turn.",
     (0, None), _TURNS),
    ("pause_rate_per_min", "1/min", "Silences of at least min_pause_s inside the speaker's floor turns, per minute "
     "of their talk time.", (0, None), _HELDNER),
    ("speech_rate_syll_per_s", "1/s", "Syllable nuclei in the speaker's own (not overlapped) speech over that "
     "speech's time plus the pauses inside their floor turns (pauses count, as in the speech processor).",
     (0, 30), _DE_JONG),
    ("f0_median_hz", "Hz", "Median F0 of the speaker's own (not overlapped) voiced speech.", (20, 2000), _HIRST),
    ("f0_range_semitones", "st", "12 log2(F0 95th / 5th percentile) of the speaker's own voiced speech.",
     (0, 60), _HIRST),
    ("interruption_count", "1", "Times the speaker took the floor while another was speaking and outlasted them.",
     (0, None), _TURNS),
    ("backchannel_count", "1", "Turns of at most backchannel_max_s inside another speaker's speech that did not "
     "take the floor.", (0, None), _TURNS),
)

#: Conversation-level summary keys (besides the per-speaker ones).
CONVERSATION_KEYS = ("n_speakers", "conversation_s", "switch_count", "switches_per_min", "latency_median_s",
                     "latency_iqr_s", "gap_median_s", "overlap_time_s", "overlap_fraction", "interruption_count",
                     "backchannel_count")


def _range(bounds: tuple[float, float | None]) -> tuple[float, float]:
    return bounds[0], INF if bounds[1] is None else bounds[1]


def _measures() -> list[Measure]:
    out = [
        Measure("end_s", "s", "End of the speaker segment (the row's time_s is its start).", "timeseries", (0, INF)),
        Measure("speaker", "", "The speaker: S1, S2, ... in order of first speech.", "timeseries", dtype="str"),
        Measure("overlap", "s", "Time of the segment during which another speaker also speaks.", "timeseries",
                (0, INF), reference=_HELDNER),
        Measure("turn", "1", "Number of the floor turn the segment belongs to (from 1).", "timeseries", (1, INF),
                dtype="int", reference=_TURNS),
        Measure("turn_type", "", "first, switch (takes the floor after a silence), continuation (the floor holder "
                "again after a pause), interruption, backchannel or overlap (speech inside another's turn that "
                "does not take the floor).", "timeseries", dtype="str", reference=_TURNS),
        Measure("latency_s", "s", "For switch and interruption: start minus the end of the previous floor holder's "
                "speech (negative for interruptions); NaN otherwise.", "timeseries", reference=_HELDNER),
        Measure("n_speakers", "1", "Speakers found (or in the reference RTTM).", "summary", (0, INF),
                reference=_WAN, evidence=_EVIDENCE),
        Measure("conversation_s", "s", "First speech onset to last offset.", "summary", (0, INF)),
        Measure("switch_count", "1", "Changes of the floor (switches and interruptions).", "summary", (0, INF),
                reference=_TURNS),
        Measure("switches_per_min", "1/min", "Changes of the floor per minute of conversation.", "summary", (0, INF),
                reference=_TURNS),
        Measure("latency_median_s", "s", "Median response latency of the floor changes: the next speaker's start "
                "minus the previous speaker's end (negative when they overlap).", "summary", reference=_HELDNER,
                evidence=_EVIDENCE),
        Measure("latency_iqr_s", "s", "Interquartile range of the response latencies.", "summary", (0, INF),
                reference=_HELDNER),
        Measure("gap_median_s", "s", "Median of the positive response latencies (silent gaps between speakers).",
                "summary", (0, INF), reference=_HELDNER),
        Measure("overlap_time_s", "s", "Time during which two or more speakers speak.", "summary", (0, INF),
                reference=_HELDNER),
        Measure("overlap_fraction", "1", "Overlap time over conversation time.", "summary", (0, 1),
                reference=_HELDNER),
        Measure("interruption_count", "1", "Interruptions (all speakers).", "summary", (0, INF), reference=_TURNS),
        Measure("backchannel_count", "1", "Back-channels (all speakers).", "summary", (0, INF), reference=_TURNS),
        Measure("source", "", "Where the speaker turns come from: 'diarization' or 'reference RTTM <file>'.",
                "summary", dtype="str"),
        Measure("n_speakers_reason", "", "Why that number of speakers: the clustering's evidence (the spread of the "
                "embeddings' similarities, the eigengap), n_speakers, or the reference RTTM.", "summary", dtype="str",
                reference=_WAN),
        Measure("speaker_labels", "", "The speakers' names in a reference RTTM, as 'S1=<name>; S2=<name>' (empty "
                "after diarization).", "summary", dtype="str"),
        Measure("target_speaker", "", "The speaker chosen by the target parameter (e.g. the patient), '' when none.",
                "summary", dtype="str"),
        Measure("target_similarity", "1", "Cosine similarity of the target voice sample to the chosen speaker's "
                "voice (NaN unless target is a voice file).", "summary", (-1, 1), reference=_WAN,
                nan_reason="NaN unless the target is given as a voice sample of the patient (target=<file>): "
                           "nothing to fix"),
        Measure("notes", "", "What to know about this result (' | '-joined).", "summary", dtype="str"),
    ]
    for name, unit, text, bounds, reference in PER_SPEAKER:
        out.append(Measure(rf"S\d+_{name}", unit, f"Per speaker (S1, S2, ...): {text}", "summary", _range(bounds),
                           reference=reference, pattern=True, evidence=_EVIDENCE))
        out.append(Measure(f"target_{name}", unit, f"The target speaker's {name} (see target_speaker).", "summary",
                           _range(bounds), reference=reference,
                           nan_reason="NaN when no target speaker was chosen: set target ('first', 'longest', "
                                      "'S<n>', a name of the reference RTTM, or a voice sample of the patient)"))
    return out


MEASURES = tuple(_measures())
