"""A tour of the face processor on the bundled talking-head clip.

Run: ``.venv/bin/python examples/face_tour.py`` — prints the summary and saves
``face_tour.png`` (the main measures over time).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import bitbox  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> None:
    m = bitbox.process(HERE / "data" / "talking_head.mp4", processors=["face"])
    face = m["face"]
    print(f"{len(face.timeseries)} frames, face on {face.summary['face_detected_fraction']:.0%} of them")
    for key in ("blink_rate_per_min", "head_yaw_sd", "head_rotation_speed_deg_per_s", "mouth_open_sd",
                "lip_corner_pull_mean"):
        unit = bitbox.catalog().get(key, processor="face", kind="summary").unit
        print(f"  {key:32s} {face.summary[key]:8.3f} {unit}")
    fig = m.plot()
    fig.savefig("face_tour.png", dpi=110)
    print("saved face_tour.png")


if __name__ == "__main__":
    main()
