"""Body motion of one person over time, and how two people move together.

Run: ``.venv/bin/python examples/pose_dyad.py`` — processes the bundled talking-head clip
with the pose and face processors, and a copy of it that starts 5 frames later (a stand-in
for a second person who follows the first), then saves

- ``pose_motion.png``: motion energy and head and torso speed over time;
- ``dyad_matrix.png``: the coordination matrix of the two "people"'s head movements
  (rows: person A's measure, columns: person B's), and prints the dyad table.

For one video of two people side by side, process each half as its own person:
``bitbox run video.mp4 -o left --set face.crop=left --set pose.crop=left -p face,pose`` (and
``right``), then ``bitbox dyad left/video right/video``.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import bitbox  # noqa: E402
from bitbox.dyad import coordination_matrix  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from tools import synth  # noqa: E402


def main() -> None:
    clip = HERE / "data" / "talking_head.mp4"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        frames = [f.rgb for f in bitbox.Recording(clip).iter_frames()]
        synth.write_video(tmp / "person_a.mp4", frames, fps=bitbox.Recording(clip).fps)
        synth.write_video(tmp / "person_b.mp4", frames[5:], fps=bitbox.Recording(clip).fps)
        bitbox.process_folder(tmp, tmp / "out", processors=["face", "pose"], progress=False)
        a, b = tmp / "out" / "person_a", tmp / "out" / "person_b"

        pose = bitbox.Measurements.read(a)
        fig = pose.plot(["motion_energy", "speed_head", "speed_torso"], processor="pose")
        fig.savefig("pose_motion.png", dpi=110)

        measures = ["head_yaw_rel", "head_pitch_rel", "head_roll_rel", "mouth_open"]
        print(bitbox.dyad(a, b, processor="face", measures=measures, window_s=1.0, max_lag_s=0.5).round(3)
              .to_string(index=False))
        matrix = coordination_matrix(a, b, processor="face", measures=measures, window_s=1.0, max_lag_s=0.5)
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    image = ax.imshow(matrix.to_numpy(dtype=float), vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(measures)), [f"B {m}" for m in measures], rotation=35, ha="right")
    ax.set_yticks(range(len(measures)), [f"A {m}" for m in measures])
    for i in range(len(measures)):
        for j in range(len(measures)):
            ax.text(j, i, f"{matrix.iat[i, j]:.2f}", ha="center", va="center", fontsize=8)
    fig.colorbar(image, label="mean windowed r (best lag)")
    ax.set_title("Coordination of A and B")
    fig.tight_layout()
    fig.savefig("dyad_matrix.png", dpi=110)
    print("saved pose_motion.png and dyad_matrix.png")


if __name__ == "__main__":
    main()
