"""Diarization error rate (DER): how far a hypothesis of who spoke when is from a reference.

Conventions (those of NIST md-eval and pyannote.metrics)
---------------------------------------------------------
Time is cut into frames of ``resolution_s`` (10 ms); frame ``i`` covers
``[i*r, (i+1)*r)`` and belongs to a segment ``[start, end)`` when its centre ``(i + 1/2) r``
does. A frame is **scored** unless it lies within ``collar`` seconds of a reference segment
boundary (a start or an end ``b``: centre in ``[b - collar, b + collar)``), or (``skip_overlap``) two or more
reference speakers speak in it. On the scored frames, with ``R_t`` and ``H_t`` the numbers of
reference and hypothesis speakers active in frame ``t`` and ``C_t`` the number of reference
speakers whose mapped hypothesis speaker is active too:

.. math::

    \\text{missed} = r \\sum_t \\max(0, R_t - H_t), \\qquad
    \\text{false alarm} = r \\sum_t \\max(0, H_t - R_t),

    \\text{confusion} = r \\sum_t (\\min(R_t, H_t) - C_t), \\qquad
    \\text{scored} = r \\sum_t R_t,

    \\text{DER} = (\\text{missed} + \\text{false alarm} + \\text{confusion}) / \\text{scored}.

The mapping of hypothesis labels to reference labels is one-to-one and maximises the total
co-occurrence time on the scored frames (Hungarian algorithm,
:func:`scipy.optimize.linear_sum_assignment`); labels left unpaired (more hypothesis than
reference speakers or the reverse) count as confusion where they speak.

Compared with pyannote.metrics: its ``collar`` is the *total* width of the collar centred
on a boundary (``collar/2`` either side), so ``collar=0.25`` here (md-eval's ``-c 0.25``)
is pyannote's ``collar=0.5``; pyannote works on exact segment times, this on 10-ms frames
(each boundary may move by up to half a frame); a reference speaker's overlapping segments
count once here, as two overlapping tracks in pyannote's ``skip_overlap``; with no scored
reference speech both return DER 0 when nothing is wrong and 1 otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from bitbox.errors import ParameterError

from ..rttm import segments_table

__all__ = ["DiarizationError", "diarization_error_rate", "activity_matrix"]


@dataclass(frozen=True)
class DiarizationError:
    """The diarization error rate and its parts.

    Attributes
    ----------
    der : float
        ``(missed_s + false_alarm_s + confusion_s) / scored_s`` (0 when nothing is scored and
        nothing is wrong; 1 when nothing is scored but the hypothesis speaks there).
    missed_s : float
        Reference speaker time (s) with too few hypothesis speakers.
    false_alarm_s : float
        Hypothesis speaker time (s) beyond the reference speakers present.
    confusion_s : float
        Speaker time (s) given to the wrong (mapped) speaker.
    scored_s : float
        Total reference speaker time (s) in the scored region: the denominator.
    mapping : dict
        ``{hypothesis label: reference label}`` of the optimal one-to-one mapping (pairs that
        never co-occur are left out).
    """

    der: float
    missed_s: float
    false_alarm_s: float
    confusion_s: float
    scored_s: float
    mapping: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return (f"DER {100 * self.der:.1f}% (missed {self.missed_s:.2f} s, false alarm {self.false_alarm_s:.2f} s, "
                f"confusion {self.confusion_s:.2f} s, of {self.scored_s:.2f} s scored speech)")


def _frame_index(times: np.ndarray, resolution_s: float) -> np.ndarray:
    """First frame whose centre is at or after ``times``: ``ceil(t / r - 1/2)`` (1e-9 tolerance)."""
    return np.maximum(np.ceil(times / resolution_s - 0.5 - 1e-9), 0).astype(np.int64)


def activity_matrix(segments: pd.DataFrame, labels: list[str], *, n_frames: int, resolution_s: float
                    ) -> np.ndarray:
    """Boolean ``(n_frames, len(labels))`` matrix: whether each speaker speaks in each frame.

    Frame ``i`` belongs to segment ``[s, e)`` when ``s <= (i + 1/2) r < e``.

    Parameters
    ----------
    segments : pandas.DataFrame
        Segments table (``start_s``, ``end_s``, ``speaker``).
    labels : list of str
        Column order (every speaker of ``segments`` must be in it).
    n_frames : int
        Number of frames.
    resolution_s : float
        Frame length ``r`` (s).

    Returns
    -------
    numpy.ndarray of bool
    """
    active = np.zeros((n_frames, len(labels)), dtype=bool)
    column = {label: j for j, label in enumerate(labels)}
    first = _frame_index(segments["start_s"].to_numpy(dtype=np.float64), resolution_s)
    stop = _frame_index(segments["end_s"].to_numpy(dtype=np.float64), resolution_s)
    for a, b, speaker in zip(first, np.minimum(stop, n_frames), segments["speaker"]):
        active[a:b, column[speaker]] = True
    return active


def _scored_frames(reference: pd.DataFrame, ref_active: np.ndarray, *, collar: float, skip_overlap: bool,
                   resolution_s: float) -> np.ndarray:
    """Frames outside the reference boundary collars and (skip_overlap) outside reference overlap."""
    n_frames = ref_active.shape[0]
    scored = np.ones(n_frames, dtype=bool)
    if collar > 0 and len(reference):
        boundaries = np.concatenate([reference["start_s"].to_numpy(np.float64),
                                     reference["end_s"].to_numpy(np.float64)])
        # frame centres strictly within collar of a boundary are not scored
        first = _frame_index(boundaries - collar, resolution_s)
        stop = np.minimum(_frame_index(boundaries + collar, resolution_s), n_frames)
        edges = np.zeros(n_frames + 1, dtype=np.int64)
        np.add.at(edges, first, 1)
        np.add.at(edges, stop, -1)
        scored &= np.cumsum(edges[:-1]) == 0
    if skip_overlap:
        scored &= ref_active.sum(axis=1) < 2
    return scored


def _check(resolution_s: float, collar: float) -> None:
    if not (np.isfinite(resolution_s) and 0 < resolution_s <= 1):
        raise ParameterError(f"resolution_s must be in (0, 1] s; got {resolution_s!r}.")
    if not (np.isfinite(collar) and collar >= 0):
        raise ParameterError(f"collar must be >= 0 s (seconds either side of each reference boundary); "
                             f"got {collar!r}.")


def diarization_error_rate(reference: pd.DataFrame, hypothesis: pd.DataFrame, *, collar: float = 0.25,
                           skip_overlap: bool = True, resolution_s: float = 0.01) -> DiarizationError:
    """Diarization error rate of ``hypothesis`` against ``reference`` (NIST md-eval conventions).

    Parameters
    ----------
    reference, hypothesis : pandas.DataFrame
        Segments tables (``start_s``, ``end_s``, ``speaker``); labels of the two need not match
        (they are mapped optimally). Either may be empty.
    collar : float
        Seconds not scored either side of every reference segment boundary (md-eval ``-c``;
        pyannote.metrics' ``collar`` is twice this).
    skip_overlap : bool
        Leave out of scoring the time where two or more reference speakers speak.
    resolution_s : float
        Frame length (s) of the computation.

    Returns
    -------
    DiarizationError
        DER, missed, false alarm, confusion and scored time (s), and the label mapping. The
        formulas are in the module's docstring.

    Raises
    ------
    ParameterError
        An invalid table (see :func:`~bitbox.processors.rttm.segments_table`), a negative
        collar or a resolution outside (0, 1] s.

    Examples
    --------
    >>> ref = segments_table([(0.0, 5.0, "A"), (5.5, 9.0, "B")])
    >>> hyp = segments_table([(0.0, 5.1, "S2"), (5.6, 9.0, "S1")])
    >>> result = diarization_error_rate(ref, hyp)
    >>> round(result.der, 3), result.mapping
    (0.0, {'S1': 'B', 'S2': 'A'})
    """
    _check(resolution_s, collar)
    reference, hypothesis = segments_table(reference), segments_table(hypothesis)
    ref_labels = sorted(set(reference["speaker"]))
    hyp_labels = sorted(set(hypothesis["speaker"]))
    end = max([0.0, *reference["end_s"], *hypothesis["end_s"]])
    n_frames = int(np.ceil(end / resolution_s)) + 1
    ref_active = activity_matrix(reference, ref_labels, n_frames=n_frames, resolution_s=resolution_s)
    hyp_active = activity_matrix(hypothesis, hyp_labels, n_frames=n_frames, resolution_s=resolution_s)
    scored = _scored_frames(reference, ref_active, collar=collar, skip_overlap=skip_overlap,
                            resolution_s=resolution_s)
    ref_active, hyp_active = ref_active[scored], hyp_active[scored]

    # co-occurrence (frames) of every hypothesis x reference pair, and the best one-to-one mapping
    cooccurrence = hyp_active.T.astype(np.int64) @ ref_active.astype(np.int64)
    mapping: dict[str, str] = {}
    correct = 0
    if cooccurrence.size:
        rows, cols = linear_sum_assignment(cooccurrence, maximize=True)
        for i, j in zip(rows, cols):
            if cooccurrence[i, j] > 0:
                mapping[hyp_labels[i]] = ref_labels[j]
                correct += int(cooccurrence[i, j])
    n_ref = ref_active.sum(axis=1)
    n_hyp = hyp_active.sum(axis=1)
    missed = int(np.maximum(n_ref - n_hyp, 0).sum())
    false_alarm = int(np.maximum(n_hyp - n_ref, 0).sum())
    confusion = int(np.minimum(n_ref, n_hyp).sum()) - correct
    total = int(n_ref.sum())
    errors = missed + false_alarm + confusion
    der = errors / total if total else (0.0 if errors == 0 else 1.0)
    return DiarizationError(der=float(der), missed_s=missed * resolution_s, false_alarm_s=false_alarm * resolution_s,
                            confusion_s=confusion * resolution_s, scored_s=total * resolution_s,
                            mapping=dict(sorted(mapping.items())))
