"""Who spoke when: offline speaker diarization, per-speaker measures and turn-taking (``speakers``).

- :class:`SpeakersProcessor` (``processors=["speakers"]``): speaker segments (one row per
  speaker turn), the number of speakers, per-speaker talk time, turns, speech rate, F0 and
  pauses, and turn-taking (switches, response latencies, overlaps, interruptions,
  back-channels); a reference RTTM beside the recording is used instead of diarizing.
- :func:`diarize` (:mod:`.diarize`): the diarization method on samples; :func:`diarize_blocks` on a
  recording read block by block.
- :mod:`.turns`: turn-taking measures on any segments table.
- :func:`diarization_error_rate` (:mod:`.metrics`): DER against a reference.
- :mod:`.encoder` (the d-vector network), :mod:`.cluster` (spectral clustering).
"""
from .diarize import Diarization, diarize, diarize_blocks
from .metrics import DiarizationError, diarization_error_rate
from .processor import SpeakersProcessor
from .turns import annotate_turns, turn_taking_summary

__all__ = ["SpeakersProcessor", "Diarization", "diarize", "diarize_blocks", "DiarizationError",
           "diarization_error_rate", "annotate_turns", "turn_taking_summary"]
