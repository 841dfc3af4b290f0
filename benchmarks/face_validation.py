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

    blendshape_agreement()


# ---------------------------------------------------------------------- blendshapes vs the FaceLandmarker task
BS_MAX_MAD = 0.05       # pooled mean absolute difference, per input
BS_MIN_R = 0.85         # pooled Pearson r (over frames x coefficients), per input
BS_MOVING_SD = 0.05     # per-coefficient over-time r is reported for coefficients whose task SD exceeds this
BS_MIN_MEDIAN_R = 0.70  # ... and their median must reach this (measured 0.82 on the carphone clip)


def _task_blendshapes(frames: list[np.ndarray], video: bool) -> np.ndarray:
    """MediaPipe's own FaceLandmarker task (same bundle; V2 mesh + blendshapes): (n, 52), NaN without a face."""
    import mediapipe as mp
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    from bitbox.processors.face import blendshapes as bs

    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(bs.resolve_model(None))), output_face_blendshapes=True,
        running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE, num_faces=1)
    out = np.full((len(frames), len(bs.NAMES)), np.nan)
    with vision.FaceLandmarker.create_from_options(options) as task:
        for i, rgb in enumerate(frames):
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
            result = task.detect_for_video(image, int(i * 1000 / 30)) if video else task.detect(image)
            if result.face_blendshapes:
                out[i] = [c.score for c in result.face_blendshapes[0]]
    return out


def _bitbox_blendshapes(frames: list[np.ndarray], video: bool) -> np.ndarray:
    """Bitbox's route: the legacy face mesh (tracking for video), landmark pixels -> BlendshapeModel."""
    import mediapipe as mp

    from bitbox.processors.face import blendshapes as bs

    out = np.full((len(frames), len(bs.NAMES)), np.nan)
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=not video, max_num_faces=1, refine_landmarks=True) as fm, \
            bs.BlendshapeModel(bs.resolve_model(None)) as model:
        for i, rgb in enumerate(frames):
            result = fm.process(np.ascontiguousarray(rgb))
            if result.multi_face_landmarks:
                h, w = rgb.shape[:2]
                points = np.array([(p.x * w, p.y * h) for p in result.multi_face_landmarks[0].landmark])
                out[i] = model.scores(points)
    return out


def _video_frames(path: Path) -> list[np.ndarray]:
    import cv2

    capture, frames = cv2.VideoCapture(str(path)), []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


def blendshape_agreement() -> dict[str, tuple[float, float]]:
    """Bitbox blendshapes (legacy v1 mesh + Blendshape V2) vs the FaceLandmarker task on the same frames.

    For each input: pooled MAD = mean |ours - task| and pooled Pearson r over frames x the 51
    ARKit coefficients (``_neutral`` excluded), on frames where both found a face; for the clip
    also the over-time r of each coefficient whose task SD > ``BS_MOVING_SD``. Asserts MAD <=
    ``BS_MAX_MAD`` and r >= ``BS_MIN_R`` for every input.
    """
    from bitbox.processors.face import blendshapes as bs
    from tools.real_data import CARPHONE
    from tools.sample_images import astronaut, grace_hopper

    inputs = {"astronaut 512x512": ([astronaut()], False), "grace_hopper 512x600": ([grace_hopper()], False)}
    clip = _video_frames(CARPHONE)
    clip_label = f"carphone clip {clip[0].shape[1]}x{clip[0].shape[0]}, {len(clip)} frames (tracking vs VIDEO)"
    inputs[clip_label] = (clip, True)
    results, pooled = {}, []
    print("blendshapes vs MediaPipe's FaceLandmarker task (same bundle), 51 coefficients (_neutral excluded):")
    for label, (frames, video) in inputs.items():
        ours, task = _bitbox_blendshapes(frames, video)[:, 1:], _task_blendshapes(frames, video)[:, 1:]
        both = np.isfinite(ours).all(axis=1) & np.isfinite(task).all(axis=1)
        ours, task = ours[both], task[both]
        diff = np.abs(ours - task)
        mad, r = float(diff.mean()), float(np.corrcoef(ours.ravel(), task.ravel())[0, 1])
        worst = int(np.unravel_index(diff.argmax(), diff.shape)[1]) + 1
        print(f"  {label}: {int(both.sum())} frames with a face in both; MAD {mad:.3f}, pooled r {r:.3f}, "
              f"max |diff| {diff.max():.2f} ({bs.NAMES[worst]})")
        if len(ours) > 2:
            moving = np.flatnonzero(task.std(axis=0) > BS_MOVING_SD)
            per = {bs.NAMES[j + 1]: float(np.corrcoef(ours[:, j], task[:, j])[0, 1]) for j in moving}
            print(f"    over time, {len(per)} coefficients with task SD > {BS_MOVING_SD}: median r "
                  f"{np.median(list(per.values())):.2f}; " + ", ".join(f"{k} {v:.2f}" for k, v in per.items()))
            assert np.median(list(per.values())) >= BS_MIN_MEDIAN_R, f"{label}: over-time r {per}"
            for name in ("jawOpen", "mouthSmileLeft", "eyeBlinkLeft"):
                j = bs.NAMES.index(name) - 1
                print(f"    {name}: ours mean {ours[:, j].mean():.3f}, task mean {task[:, j].mean():.3f}")
        assert mad <= BS_MAX_MAD, f"{label}: blendshape MAD {mad:.3f} > {BS_MAX_MAD}"
        assert r >= BS_MIN_R, f"{label}: blendshape pooled r {r:.3f} < {BS_MIN_R}"
        results[label] = (mad, r)
        pooled.append((ours, task))
    ours, task = np.vstack([o for o, _ in pooled]), np.vstack([t for _, t in pooled])
    print(f"  all inputs pooled ({len(ours)} frames): MAD {np.abs(ours - task).mean():.3f}, "
          f"r {np.corrcoef(ours.ravel(), task.ravel())[0, 1]:.3f}")
    return results


if __name__ == "__main__":
    main()
