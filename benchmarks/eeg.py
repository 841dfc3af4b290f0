"""EEG-processor speed: real-time factor on simulated 19-channel EEG, against reading alone.

Simulates 10 minutes of 19-channel, 250 Hz EEG with ERPs (bitbox.processors.eeg_simulation),
saves it as FIF, and times in the same run: reading only, and the full processor (filtering,
bad channels, average reference, band powers, ERPs), without and with ICA (FastICA + ICLabel).

Usage: ``python benchmarks/eeg.py [--minutes 10]``.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bitbox.processors.eeg import EegProcessor, read_raw
from bitbox.processors.eeg_simulation import simulate_raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sim_raw.fif"
        simulate_raw(duration_s=seconds, n_events=int(seconds / 3), seed=0).save(path, verbose="error")
        timings = {}
        start = time.perf_counter()
        read_raw(path)
        timings["read only"] = time.perf_counter() - start
        for label, processor in (("eeg processor", EegProcessor()),
                                 ("eeg processor + ICA", EegProcessor(ica=True, ica_method="fastica"))):
            start = time.perf_counter()
            processor.process(path)
            timings[label] = time.perf_counter() - start
    print(f"eeg processor, 19 channels, 250 Hz, {args.minutes:g} min of EEG")
    for label, value in timings.items():
        print(f"  {label:22s}: {value:7.2f} s   ({seconds / value:8.0f}x real time)")
    print(f"  ratio processor/read  : {timings['eeg processor'] / timings['read only']:7.1f}")


if __name__ == "__main__":
    main()
