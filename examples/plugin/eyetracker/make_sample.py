"""Write data/reading.csv: a simulated 250 Hz eye-tracker recording with known fixations and saccades.

    python examples/plugin/eyetracker/make_sample.py

The truth (9 fixations, one split by a 100 ms track loss; 7 saccades of 8 deg) is printed.
"""
from pathlib import Path

from bitbox_eyetracker import simulate

if __name__ == "__main__":
    out = Path(__file__).parent / "data" / "reading.csv"
    print(simulate(out), "->", out)
