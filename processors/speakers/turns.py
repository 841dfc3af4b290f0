"""Turn-taking: floor turns, switches, response latencies, overlaps, interruptions and back-channels.

Input is a *segments table* (``start_s``, ``end_s``, ``speaker``): each row one speaker's
continuous speech (a "speech turn" in pyannote's words; what an RTTM line holds). Segments of
different speakers may overlap. The definitions (Heldner & Edlund 2010 for pauses, gaps and
overlaps; the issue's for interruptions and back-channels):

- The **floor** belongs to the speaker who spoke last without being displaced. A speaker's
  **floor turn** runs from the first to the last of their segments before another speaker takes
  the floor; silences inside it are the speaker's **pauses**.
- Another speaker's segment that starts while the floor holder is **silent** takes the floor (a
  **switch**); its **response latency** is the silence between them (start minus the holder's last
  end, >= 0).
- One that starts while the holder is **speaking** (inside one of the holder's segments) is judged
  with the run of speech it starts (its speaker's segments until someone else speaks in one of
  their pauses):
  - the run ends before the holder's segment ends, or the holder speaks again during it: it does
    not take the floor. At most ``backchannel_max_s`` long it is a **back-channel**, longer an
    **overlap** (both talk, the holder keeps the floor);
  - the run outlasts the holder's speech (the holder does not speak again during it): an
    **interruption**, a switch whose latency is negative (the overlap at the hand-over).
- Timing cannot tell a back-channel spoken in the holder's *pause* from a short answer ("yes")
  between two questions: both take the floor here (a switch), and the holder's next speech is a
  switch back.
- **Overlap time**: the time during which two or more speakers speak.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bitbox.errors import ParameterError
from bitbox.processors.rttm import interval_union, segments_table

__all__ = ["TURN_TYPES", "merge_same_speaker", "annotate_turns", "overlap_time",
           "turn_taking_summary", "speaker_turn_summary", "FloorTurn", "floor_turns"]

#: Values of the ``turn_type`` column, in the order they are described in the docs.
TURN_TYPES = ("first", "switch", "continuation", "interruption", "backchannel", "overlap")
#: Segments that start while the floor holder is speaking and last at most this are back-channels (s).
BACKCHANNEL_MAX_S = 1.0


def merge_same_speaker(segments: pd.DataFrame, *, min_pause_s: float = 0.0) -> pd.DataFrame:
    """Each speaker's segments with overlaps removed: segments of one speaker that overlap, touch or are
    separated by less than ``min_pause_s`` are joined (a speaker cannot overlap themselves)."""
    table = segments_table(segments)
    rows = []
    for speaker, own in table.groupby("speaker", sort=False):
        start = end = None
        for s, e in zip(own["start_s"].to_numpy(), own["end_s"].to_numpy()):
            if end is not None and (s <= end or s - end < min_pause_s):
                end = max(end, e)
                continue
            if end is not None:
                rows.append((start, end, speaker))
            start, end = s, e
        rows.append((start, end, speaker))
    merged = pd.DataFrame(rows, columns=["start_s", "end_s", "speaker"])
    return merged.sort_values(["start_s", "speaker"], kind="stable").reset_index(drop=True)


def _intervals_overlap(starts: np.ndarray, ends: np.ndarray, s: float, e: float) -> float:
    """Total time of [s, e) covered by the union of the intervals (starts, ends) (merged, disjoint)."""
    return float(np.sum(np.clip(np.minimum(ends, e) - np.maximum(starts, s), 0.0, None)))


def overlap_time(segments: pd.DataFrame) -> float:
    """Time (s) during which at least two speakers speak (each speaker's own segments merged first)."""
    table = merge_same_speaker(segments)
    edges = np.concatenate([table["start_s"].to_numpy(), table["end_s"].to_numpy()])
    steps = np.concatenate([np.ones(len(table)), -np.ones(len(table))])
    order = np.lexsort((steps, edges))  # at equal times, ends (-1) before starts (+1)
    edges, steps = edges[order], steps[order]
    active = np.cumsum(steps)
    return float(np.sum(np.diff(edges)[active[:-1] >= 2])) if len(edges) else 0.0


def _run(speakers: np.ndarray, starts: np.ndarray, ends: np.ndarray, i: int, holder: str) -> tuple[float, bool]:
    """The end of the run of speech that segment ``i`` starts (its speaker's segments until someone else
    speaks in one of its pauses), and whether the floor ``holder`` starts speaking again during it."""
    speaker, run_end = speakers[i], ends[i]
    for k in range(i + 1, len(speakers)):
        if speakers[k] == speaker:
            run_end = max(run_end, ends[k])
        elif starts[k] >= run_end:  # someone else speaks in a pause of the run: it ends there
            break
        elif speakers[k] == holder:  # the holder speaks again while the run goes on
            return run_end, True
    return run_end, False


def annotate_turns(segments: pd.DataFrame, *, backchannel_max_s: float = BACKCHANNEL_MAX_S) -> pd.DataFrame:
    """The segments (each speaker's merged) with their place in the conversation.

    Columns added: ``overlap`` (s of the segment during which another speaker speaks), ``turn``
    (the number of the floor turn the segment belongs to, from 1; back-channels and overlaps
    belong to the turn they occur in), ``turn_type`` (one of :data:`TURN_TYPES`: ``first``,
    ``switch``, ``continuation`` (the floor holder again, after a pause), ``interruption``,
    ``backchannel``, ``overlap``) and ``latency_s`` (for ``switch`` and ``interruption``: the
    segment's start minus the end of the previous holder's last speech; NaN otherwise).
    """
    if not (isinstance(backchannel_max_s, (int, float)) and 0 < backchannel_max_s < math.inf):
        raise ParameterError(f"backchannel_max_s must be a positive number of seconds. Got {backchannel_max_s!r}.")
    table = merge_same_speaker(segments)
    n = len(table)
    starts, ends = table["start_s"].to_numpy(), table["end_s"].to_numpy()
    speakers = table["speaker"].to_numpy()
    overlap = np.zeros(n)
    for speaker in np.unique(speakers):
        mine = speakers == speaker
        other_s, other_e = interval_union(starts[~mine], ends[~mine])
        for i in np.flatnonzero(mine):
            overlap[i] = _intervals_overlap(other_s, other_e, starts[i], ends[i])
    turn = np.zeros(n, dtype=np.int64)
    kinds = np.empty(n, dtype=object)
    latency = np.full(n, np.nan)
    holder, holder_end, current = None, -math.inf, 0
    for i in range(n):
        speaker, s, e = speakers[i], starts[i], ends[i]
        if holder is None or speaker == holder:
            if holder is None:
                current, kinds[i] = 1, "first"
            else:
                kinds[i] = "continuation"
            holder, holder_end = speaker, max(holder_end, e)
        elif s >= holder_end:  # the holder is silent: this speaker takes the floor
            current += 1
            kinds[i], latency[i] = "switch", s - holder_end
            holder, holder_end = speaker, e
        else:  # starts while the holder speaks
            run_end, resumes = _run(speakers, starts, ends, i, holder)
            if run_end <= holder_end or resumes:
                kinds[i] = "backchannel" if e - s <= backchannel_max_s else "overlap"
            else:
                current += 1
                kinds[i], latency[i] = "interruption", s - holder_end
                holder, holder_end = speaker, e
        turn[i] = current
    table["overlap"] = overlap
    table["turn"] = turn
    table["turn_type"] = kinds.astype(str) if n else np.array([], dtype=str)
    table["latency_s"] = latency
    return table


@dataclass(frozen=True)
class FloorTurn:
    """One floor turn: its speaker, first start and last end (s), and its segments' speech time (s)."""

    speaker: str
    start_s: float
    end_s: float
    speech_s: float
    n_pauses: int

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def floor_turns(annotated: pd.DataFrame) -> list[FloorTurn]:
    """The floor turns of an :func:`annotate_turns` table (back-channels and overlaps left out)."""
    holding = annotated[~annotated["turn_type"].isin(["backchannel", "overlap"])]
    turns = []
    for _, rows in holding.groupby("turn", sort=True):
        turns.append(FloorTurn(str(rows["speaker"].iloc[0]), float(rows["start_s"].min()), float(rows["end_s"].max()),
                               float((rows["end_s"] - rows["start_s"]).sum()), int(len(rows) - 1)))
    return turns


def turn_taking_summary(annotated: pd.DataFrame) -> dict[str, Any]:
    """Conversation measures of an :func:`annotate_turns` table.

    ``conversation_s`` (first speech onset to last offset), ``switch_count`` and
    ``switches_per_min`` (floor changes, interruptions included, per minute of conversation),
    ``latency_median_s`` / ``latency_iqr_s`` (of the switches' response latencies; negative for
    interruptions), ``gap_median_s`` (of the positive ones), ``overlap_time_s`` and
    ``overlap_fraction`` (of the conversation), ``interruption_count``, ``backchannel_count``.
    """
    if not len(annotated):
        return {"conversation_s": 0.0, "switch_count": 0.0, "switches_per_min": math.nan,
                "latency_median_s": math.nan, "latency_iqr_s": math.nan, "gap_median_s": math.nan,
                "overlap_time_s": 0.0, "overlap_fraction": math.nan, "interruption_count": 0.0,
                "backchannel_count": 0.0}
    conversation = float(annotated["end_s"].max() - annotated["start_s"].min())
    latencies = annotated["latency_s"].dropna().to_numpy()
    gaps = latencies[latencies >= 0]
    overlapped = overlap_time(annotated)
    kinds = annotated["turn_type"]
    q25, q75 = np.percentile(latencies, [25, 75]) if len(latencies) else (math.nan, math.nan)
    return {
        "conversation_s": conversation,
        "switch_count": float(len(latencies)),
        "switches_per_min": 60.0 * len(latencies) / conversation if conversation > 0 else math.nan,
        "latency_median_s": float(np.median(latencies)) if len(latencies) else math.nan,
        "latency_iqr_s": float(q75 - q25),
        "gap_median_s": float(np.median(gaps)) if len(gaps) else math.nan,
        "overlap_time_s": overlapped,
        "overlap_fraction": overlapped / conversation if conversation > 0 else math.nan,
        "interruption_count": float((kinds == "interruption").sum()),
        "backchannel_count": float((kinds == "backchannel").sum()),
    }


def speaker_turn_summary(annotated: pd.DataFrame, speaker: str) -> dict[str, Any]:
    """One speaker's share of the conversation in an :func:`annotate_turns` table.

    ``talk_time_s`` (the speaker's speech, overlapped parts included), ``talk_share`` (of all
    speakers' talk time), ``turn_count`` and ``turn_mean_s`` (floor turns: first start to last
    end), ``pause_count`` / ``pause_rate_per_min`` (silences inside the speaker's floor turns, per
    minute of their talk time), ``interruption_count`` (made), ``backchannel_count`` (given),
    ``overlap_time_s`` (of the speaker's speech spoken while someone else spoke).
    """
    durations = annotated["end_s"] - annotated["start_s"]
    mine = annotated["speaker"] == speaker
    talk = float(durations[mine].sum())
    total = float(durations.sum())
    turns = [t for t in floor_turns(annotated) if t.speaker == speaker]
    pauses = sum(t.n_pauses for t in turns)
    kinds = annotated.loc[mine, "turn_type"]
    return {
        "talk_time_s": talk,
        "talk_share": talk / total if total > 0 else math.nan,
        "turn_count": float(len(turns)),
        "turn_mean_s": float(np.mean([t.duration_s for t in turns])) if turns else math.nan,
        "pause_count": float(pauses),
        "pause_rate_per_min": 60.0 * pauses / talk if talk > 0 else math.nan,
        "interruption_count": float((kinds == "interruption").sum()),
        "backchannel_count": float((kinds == "backchannel").sum()),
        "overlap_time_s": float(annotated.loc[mine, "overlap"].sum()),
    }
