"""Diarization error rate against hand-computed cases and an exact brute-force computation."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from bitbox.errors import ParameterError
from bitbox.processors.rttm import segments_table
from bitbox.processors.speakers.metrics import DiarizationError, diarization_error_rate

# A: 0-5 s, B: 5.5-9 s (8.5 s of speech). The 0.25-s collars leave A 0.25-4.75 s and B 5.75-8.75 s
# scored: 7.5 s.
REF = segments_table([(0.0, 5.0, "A"), (5.5, 9.0, "B")])


def der(ref, hyp, **kwargs) -> DiarizationError:
    return diarization_error_rate(segments_table(ref), segments_table(hyp), **kwargs)


def test_perfect_hypothesis_scores_zero():
    result = der(REF, REF)
    assert result.der == 0 and result.missed_s == 0 and result.false_alarm_s == 0 and result.confusion_s == 0
    assert result.scored_s == pytest.approx(7.5)
    assert result.mapping == {"A": "A", "B": "B"}


def test_swapped_labels_score_zero():
    result = der(REF, [(0.0, 5.0, "S2"), (5.5, 9.0, "S1")])
    assert result.der == 0
    assert result.mapping == {"S1": "B", "S2": "A"}


def test_one_speaker_missed_entirely():
    result = der(REF, [(0.0, 5.0, "S1")])
    assert result.missed_s == pytest.approx(3.0)  # B's scored 5.75-8.75 s
    assert result.false_alarm_s == 0 and result.confusion_s == 0
    assert result.der == pytest.approx(3.0 / 7.5)


def test_everyone_one_speaker_is_confusion():
    result = der(REF, [(0.0, 9.0, "S1")])
    assert result.confusion_s == pytest.approx(3.0) and result.missed_s == 0
    assert result.false_alarm_s == 0  # the 5-5.5 s gap lies inside the collars of 5 s and 5.5 s
    assert result.mapping == {"S1": "A"}


def test_false_alarm_in_silence():
    result = der(REF, [*REF.itertuples(index=False, name=None), (10.0, 12.0, "B")])
    assert result.false_alarm_s == pytest.approx(2.0)
    assert result.der == pytest.approx(2.0 / 7.5)


def test_collar_forgives_a_boundary_shift_of_0_2_s():
    shifted = [(0.2, 5.2, "x"), (5.7, 8.8, "y")]
    assert der(REF, shifted).der == 0
    strict = der(REF, shifted, collar=0.0)
    # 0-0.2 missed, 5.0-5.2 false alarm, 5.5-5.7 missed, 8.8-9.0 missed; total speech 8.5 s
    assert strict.missed_s == pytest.approx(0.6) and strict.false_alarm_s == pytest.approx(0.2)
    assert strict.der == pytest.approx(0.8 / 8.5)
    assert der(REF, [(0.3, 5.0, "x"), (5.5, 9.0, "y")]).missed_s == pytest.approx(0.05)  # 0.25-0.3 s


def test_overlap_is_not_scored_with_skip_overlap():
    ref = [(0.0, 6.0, "A"), (5.0, 10.0, "B")]  # both speak 5-6 s
    hyp = [(0.0, 6.0, "x"), (6.0, 10.0, "y")]  # misses B's overlapped second
    assert der(ref, hyp, collar=0.0).der == 0
    kept = der(ref, hyp, collar=0.0, skip_overlap=False)
    assert kept.missed_s == pytest.approx(1.0) and kept.scored_s == pytest.approx(11.0)
    assert kept.der == pytest.approx(1.0 / 11.0)
    both = der(ref, [(0.0, 6.0, "x"), (5.0, 10.0, "y")], collar=0.0, skip_overlap=False)
    assert both.der == 0


def test_extra_hypothesis_speaker_is_confusion():
    # A's turn split into two labels: the larger part maps to A, the other is confusion
    result = der(REF, [(0.0, 3.0, "x"), (3.0, 5.0, "z"), (5.5, 9.0, "y")], collar=0.0)
    assert result.mapping == {"x": "A", "y": "B"}
    assert result.confusion_s == pytest.approx(2.0) and result.der == pytest.approx(2.0 / 8.5)


def test_empty_tables():
    assert der(REF, []).der == pytest.approx(1.0)  # all missed
    assert der([], []).der == 0
    alarm = der([], [(0.0, 1.0, "x")])
    assert alarm.der == 1.0 and alarm.false_alarm_s == pytest.approx(1.0) and alarm.scored_s == 0


def test_invalid_parameters_and_tables():
    with pytest.raises(ParameterError, match="collar"):
        der(REF, REF, collar=-0.1)
    with pytest.raises(ParameterError, match="resolution_s"):
        der(REF, REF, resolution_s=0)
    with pytest.raises(ParameterError, match="not a valid time span"):
        der([(2.0, 1.0, "A")], REF)


def test_str_prints_the_parts():
    text = str(der(REF, [(0.0, 5.0, "S1")]))
    assert text.startswith("DER 40.0% (missed 3.00 s")


# --------------------------------------------------------------------------- exact brute force
def _exact_der(ref, hyp, collar, skip_overlap):
    """Independent computation on exact elementary intervals, best mapping by trying every permutation."""
    cuts = {0.0}
    for s, e, _ in ref:
        cuts |= {s, e, max(s - collar, 0.0), s + collar, max(e - collar, 0.0), e + collar}
    for s, e, _ in hyp:
        cuts |= {s, e}
    cuts = sorted(cuts)
    pieces = []
    for a, b in zip(cuts, cuts[1:]):
        t = (a + b) / 2
        if any(abs(t - x) < collar for s, e, _ in ref for x in (s, e)):
            continue
        r = {k for s, e, k in ref if s <= t < e}
        h = {k for s, e, k in hyp if s <= t < e}
        if skip_overlap and len(r) >= 2:
            continue
        pieces.append((b - a, r, h))
    ref_labels = sorted({k for *_, k in ref})
    hyp_labels = sorted({k for *_, k in hyp})
    best = None
    n = max(len(ref_labels), len(hyp_labels))
    padded_ref = ref_labels + [None] * (n - len(ref_labels))
    for perm in itertools.permutations(padded_ref, len(hyp_labels)):
        mapping = dict(zip(hyp_labels, perm))
        err = 0.0
        for d, r, h in pieces:
            correct = len(r & {mapping[k] for k in h})
            err += d * (max(len(r) - len(h), 0) + max(len(h) - len(r), 0) + min(len(r), len(h)) - correct)
        best = err if best is None else min(best, err)
    total = sum(d * len(r) for d, r, _ in pieces)
    return (best or 0.0) / total if total else 0.0


def _random_segments(rng, labels, n):
    rows = []
    for _ in range(n):
        start = int(rng.integers(0, 3000)) / 100  # on the 10-ms grid: the frame computation is exact
        rows.append((start, start + int(rng.integers(20, 600)) / 100, str(rng.choice(labels))))
    return rows


@pytest.mark.parametrize("seed", range(12))
def test_matches_an_exact_brute_force_computation(seed):
    rng = np.random.default_rng(seed)
    ref = _random_segments(rng, ["A", "B", "C"], 8)
    hyp = _random_segments(rng, ["s1", "s2", "s3", "s4"][: 2 + seed % 3], 9)
    # the brute force counts one speaker's overlapping segments once, as the frames do
    for collar, skip in [(0.25, True), (0.0, False), (0.5, False)]:
        expected = _exact_der(ref, hyp, collar, skip)
        assert der(ref, hyp, collar=collar, skip_overlap=skip).der == pytest.approx(expected, abs=1e-9), (collar, skip)
