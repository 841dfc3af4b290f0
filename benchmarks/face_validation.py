"""Validation figures of the face measures on stimuli with known truth (docs/face.md).

Prints roll accuracy (in-plane rotation), yaw/pitch linearity and cross-talk (3D re-posing),
blink count and timing (eyelid warp) and gaze response (iris shift), all made from
scikit-image's astronaut portrait by tools/synth.py and tools/face_warp.py.

Usage: ``python benchmarks/face_validation.py`` (about 1 minute).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import bitbox  # noqa: E402
from tools import face_warp, synth  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        angles = synth.roll_angles(90, amplitude_deg=30.0, period_frames=60)
        ts = bitbox.process(synth.roll_video(tmp / "roll.mp4", angles), store_landmarks=False)["face"].timeseries
        error = ts["head_roll"].to_numpy() - ts["head_roll"].iloc[0] - angles
        print(f"roll (in-plane +-30 deg, 90 frames): MAE {np.abs(error).mean():.2f} deg, max {np.abs(error).max():.2f}")

        set_angles = face_warp.POSE_ANGLES
        n = len(set_angles)
        path = synth.write_video(tmp / "pose.mp4", face_warp.pose_sweep_frames(face_warp.astronaut_warper()))
        ts = bitbox.process(path, tracking=False, store_landmarks=False)["face"].timeseries
        for name, other, part in (("yaw", "pitch", ts.iloc[:n]), ("pitch", "yaw", ts.iloc[n:])):
            est = part[f"head_{name}"].to_numpy()
            r = np.corrcoef(set_angles, est)[0, 1]
            slope = np.polyfit(set_angles, est, 1)[0]
            cross = part[f"head_{other}"].to_numpy()
            talk = np.abs(cross - cross[set_angles == 0][0]).max()
            print(f"{name} (re-posed -30..30 deg): Pearson r {r:.4f}, slope {slope:.2f} deg/deg, "
                  f"{other} cross-talk max {talk:.2f} deg")

        frames, _ = face_warp.blink_frames(face_warp.astronaut_warper())
        result = bitbox.process(synth.write_video(tmp / "blink.mp4", frames), store_landmarks=False)["face"]
        blink = result.timeseries["blink"].to_numpy()
        onsets = np.flatnonzero(np.diff(np.r_[0, blink]) == 1)
        starts = np.array(face_warp.BLINK_STARTS)
        print(f"blinks (3 synthesized, 5 frames each): {int(result.summary['blink_count'])} detected, onset "
              f"errors {list(onsets - starts) if len(onsets) == len(starts) else onsets} frames")

        shifts = face_warp.GAZE_SHIFTS_PX
        path = synth.write_video(tmp / "gaze.mp4", face_warp.gaze_frames(face_warp.astronaut_warper(True)))
        ts = bitbox.process(path, tracking=False, store_landmarks=False)["face"].timeseries
        gx, gy = ts["gaze_x"].to_numpy()[:len(shifts)], ts["gaze_y"].to_numpy()[len(shifts):]
        print(f"gaze_x (iris shifted -4..4 px): r {np.corrcoef(shifts, gx)[0, 1]:.4f}, "
              f"strictly increasing: {bool((np.diff(gx) > 0).all())}, "
              f"{np.polyfit(shifts, gx, 1)[0]:.4f} eye widths/px")
        print(f"gaze_y (iris shifted -4..4 px down): Spearman {spearmanr(shifts, gy).statistic:.3f}, "
              f"range {gy[0]:.3f} -> {gy[-1]:.3f}")


if __name__ == "__main__":
    main()
