"""A processor that kills its own process on one file: a stand-in for a crash in native code.

It can also kill its own process once (``kill_once``: a marker file records that it did):
under the Dask executor that process is the Dask worker, so this stands in for a worker
lost mid-task (out of memory, a node going down) that a retry gets past.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pandas as pd

from bitbox import Measure, Processor


class CrashingProcessor(Processor):
    """Reports the frame count; exits hard on files named with ``crash_on``, hangs on ``hang_on``."""

    name = "crashing"
    version = "1"
    input_kinds = ("video",)
    measures = (Measure("n", "1", "Frames decoded.", "summary", (0, 1e9)),
                Measure("value", "1", "Constant 1.", valid_range=(0, 1)))

    def __init__(self, *, crash_on: str = "crash", hang_on: str = "hang", kill_once: str | None = None):
        self.crash_on = crash_on
        self.hang_on = hang_on
        self.kill_once = kill_once

    def compute(self, recording, sink, progress=None):
        if self.kill_once and not Path(self.kill_once).exists():
            Path(self.kill_once).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        if self.crash_on in recording.path.name:
            os._exit(3)  # no exception, no cleanup: like a segmentation fault in a decoder
        if self.hang_on in recording.path.name:
            time.sleep(3600)  # like a decoder stuck on a broken stream
        n = recording.n_frames
        sink.append(pd.DataFrame({"time_s": [0.0], "value": [1.0]}))
        return {"n": float(n)}
