"""A small Human Behavior Atlas set in the benchmark's exact format, from media made here.

Three datasets, each with known structure a model can learn:

- ``tess`` (emotion, text + audio): the TESS carrier phrase "Say the word ..." spoken by
  espeak-ng with an emotion's prosody (happy: high and fast; sad: low and slow; neutral:
  in between) and a per-sample voice, so only the voice tells the class;
- ``mosei_senti`` (sentiment, text + video + audio): a sentence of known sentiment
  (negative / neutral / positive), spoken, with a short video of a public-domain portrait
  (scikit-image's astronaut, matplotlib's Grace Hopper) swaying; the words tell the class;
- ``siq2`` (free-form QA, text only; test split only).

Writes ``OUT/train.jsonl``, ``OUT/test.jsonl`` (media as paths under ``OUT/media``) and
``OUT/test.parquet`` (the same test samples with the media embedded as bytes, as Hugging
Face stores them). Needs espeak-ng.

With ``--ext-feats`` (``ext_feats=True``), every sample also gets the benchmark's
pre-extracted features as ``.pt`` files (``torch.save``), named in ``ext_video_feats`` /
``ext_audio_feats`` as the benchmark does (``["pose/media/<name>.pt"]``,
``["opensmile/media/<name>.pt"]``), embedded as bytes in the parquet file:

- ``opensmile/``: ``{"features": float32 [6]}``, per-recording functionals (mean and
  population std of the 25 ms frames' log energy, zero-crossing rate and spectral centroid),
  the shape of the benchmark's openSMILE functionals (``[dims]``);
- ``pose/``: an OpenPose dict ``{"pose": [T, 25, 3], "face": [T, 70, 3], "left_hand": [T, 21,
  3], "right_hand": [T, 21, 3]}`` (x, y in pixels, confidence 1), a fixed keypoint template
  turned by the video's known head roll in each frame (synthetic, not detected).

Without it the fields are ``None``, as before.

Usage: ``python tools/hba_fixture.py OUT [--per-class-train 5 --per-class-test 3] [--ext-feats]``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.sample_images import face_photos  # noqa: E402
from tools.speech_synth import espeak  # noqa: E402
from tools.synth import write_video  # noqa: E402

LEVELS = ["highly negative", "negative", "weakly negative", "neutral", "weakly positive", "positive",
          "highly positive"]
EMOTIONS = {"happy": (78, 200), "sad": (22, 105), "neutral": (50, 150)}  # espeak pitch (0-99), words/min
WORDS = ["bean", "chalk", "dime", "fall", "goose", "home", "lean", "mode", "pole", "rain", "shall", "thumb",
         "vine", "wheat", "young", "back"]
SENTENCES = {
    "negative": ["I hated every minute of that awful film.", "The service was terrible and the food was cold.",
                 "This was a painful and disappointing day.", "I am angry that nothing worked at all.",
                 "The ending was sad and really depressing.", "What a miserable waste of my time."],
    "neutral": ["The meeting starts at nine in the second room.", "The film lasts about two hours.",
                "We took the train to the city on Tuesday.", "The report has four sections and a table.",
                "The shop is on the corner of the street.", "He moved the chairs to the other room."],
    "positive": ["I loved this wonderful and beautiful film.", "The staff were kind and the food was delicious.",
                 "What a fantastic day, I am so happy.", "This is the best gift I have ever received.",
                 "The music was brilliant and joyful.", "I am delighted with how well it went."],
}
QA = [("What is the person on the left most likely feeling after losing the game?", "disappointed"),
      ("Why does the woman laugh after the joke?", "she finds it funny"),
      ("What will the man probably do next?", "leave the room")]


def _wav(path: Path, samples: np.ndarray, sr: int) -> str:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, sr, subtype="PCM_16")
    return str(path)


N_FRAMES = 12
OPENPOSE_KEYPOINTS = {"pose": 25, "face": 70, "left_hand": 21, "right_hand": 21}


def _roll_deg(phase: float, n_frames: int = N_FRAMES) -> np.ndarray:
    """The head roll of each frame of a fixture video (degrees)."""
    return 8 * np.sin(phase + np.arange(n_frames) / 3)


def _video(path: Path, photo: np.ndarray, phase: float, n_frames: int = N_FRAMES, fps: float = 10.0) -> str:
    from tools.synth import ASTRONAUT_FACE_CENTRE, warp_photo

    centre = ASTRONAUT_FACE_CENTRE if photo.shape[0] == 512 else (photo.shape[1] / 2, photo.shape[0] * 0.42)
    frames = [warp_photo(photo, size=(320, 240), roll_deg=roll, scale=0.8, centre=centre)
              for roll in _roll_deg(phase, n_frames)]
    return str(write_video(path, frames, fps=fps))


def openpose_features(phase: float, template_seed: int = 7) -> dict:
    """A benchmark-style OpenPose dict of torch tensors: a fixed template turned by each frame's roll."""
    import torch

    template_rng = np.random.default_rng(template_seed)
    out = {}
    angles = np.deg2rad(_roll_deg(phase))
    for part, n in OPENPOSE_KEYPOINTS.items():
        points = template_rng.uniform(-80, 80, (n, 2))
        cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
        x = 160 + cos * points[:, 0] - sin * points[:, 1]
        y = 120 + sin * points[:, 0] + cos * points[:, 1]
        out[part] = torch.from_numpy(np.stack([x, y, np.ones_like(x)], axis=-1).astype(np.float32))
    return out


def opensmile_features(samples: np.ndarray, sr: int) -> dict:
    """A benchmark-style openSMILE dict ``{"features": float32 [6]}``: functionals of 25 ms frames."""
    import torch

    hop, size = int(0.010 * sr), int(0.025 * sr)
    x = np.asarray(samples, dtype=np.float64)
    x = np.pad(x, (0, max(0, size - x.size)))
    frames = np.lib.stride_tricks.sliding_window_view(x, size)[::hop]
    energy = np.log(np.mean(frames ** 2, axis=1) + 1e-10)
    zcr = np.mean(np.abs(np.diff(np.sign(frames), axis=1)) > 0, axis=1)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(size), axis=1))
    freqs = np.fft.rfftfreq(size, 1 / sr)
    centroid = (spectrum @ freqs) / np.maximum(spectrum.sum(axis=1), 1e-10)
    functionals = [f(v) for v in (energy, zcr, centroid) for f in (np.mean, np.std)]
    return {"features": torch.tensor(functionals, dtype=torch.float32)}


def _save_pt(out: Path, relative: str, content: dict) -> str:
    import torch

    path = out / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(content, path)
    return relative


def _problem(media: str, transcript: str, question: str, options: list[str]) -> str:
    listed = ", ".join(options)
    return f"{media}\nTranscript: {transcript}\n{question} Answer with one word from the following: {listed}."


def build(out: Path, *, per_class_train: int = 5, per_class_test: int = 3, seed: int = 0,
          ext_feats: bool = False) -> dict[str, Path]:
    """Write the fixture under ``out``; returns the paths of train.jsonl, test.jsonl and test.parquet.

    ``ext_feats=True`` also writes the benchmark's ``.pt`` features (see the module docstring).
    """
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    media = out / "media"
    photos = list(face_photos().values())
    rows: dict[str, list[dict]] = {"train": [], "test": []}
    for split, n in (("train", per_class_train), ("test", per_class_test)):
        for emotion, (pitch, rate) in EMOTIONS.items():
            for k in range(n):
                word = WORDS[int(rng.integers(len(WORDS)))]
                text = f"Say the word {word}."
                samples, sr = espeak(text, pitch=int(np.clip(pitch + rng.integers(-6, 7), 0, 99)),
                                     rate_wpm=int(rate + rng.integers(-10, 11)),
                                     voice=("en-us", "en-gb")[k % 2])
                name = f"tess_{split}_{emotion}_{k}"
                audio = _wav(media / f"{name}.wav", samples, sr)
                ext_audio = ([_save_pt(out, f"opensmile/media/{name}.pt", opensmile_features(samples, sr))]
                             if ext_feats else None)
                rows[split].append({
                    "id": name, "problem": _problem("<audio>", text, "Which emotion does the speaker express?",
                                                    sorted(EMOTIONS)),
                    "answer": emotion, "images": [], "videos": [], "audios": [str(Path(audio).relative_to(out))],
                    "texts": [text], "dataset": "tess", "modality_signature": "text_audio",
                    "ext_video_feats": None, "ext_audio_feats": ext_audio, "task": "emotion_cls",
                    "class_label": sorted(EMOTIONS).index(emotion)})
        for polarity, sentences in SENTENCES.items():
            offset = 0 if split == "train" else per_class_train
            for k in range(n):
                text = sentences[(offset + k) % len(sentences)]
                samples, sr = espeak(text, pitch=int(rng.integers(35, 65)), rate_wpm=int(rng.integers(140, 180)))
                name = f"mosei_{split}_{polarity}_{k}"
                audio = _wav(media / f"{name}.wav", samples, sr)
                phase = float(rng.uniform(0, 6))
                video = _video(media / f"{name}.mp4", photos[k % len(photos)], phase=phase)
                ext = {"ext_video_feats": None, "ext_audio_feats": None}
                if ext_feats:
                    ext = {"ext_video_feats": [_save_pt(out, f"pose/media/{name}.pt", openpose_features(phase))],
                           "ext_audio_feats": [_save_pt(out, f"opensmile/media/{name}.pt",
                                                        opensmile_features(samples, sr))]}
                rows[split].append({
                    "id": name, "problem": _problem("<video>\n<audio>", text, "What is the sentiment of the speaker?",
                                                    LEVELS),
                    "answer": polarity, "images": [], "videos": [str(Path(video).relative_to(out))],
                    "audios": [str(Path(audio).relative_to(out))], "texts": [text], "dataset": "mosei_senti",
                    "modality_signature": "text_video_audio", **ext,
                    "task": "sentiment_cls", "class_label": LEVELS.index(polarity)})
    for k, (question, answer) in enumerate(QA):
        rows["test"].append({"id": f"siq2_test_{k}", "problem": question, "answer": answer, "images": [],
                             "videos": [], "audios": [], "texts": [], "dataset": "siq2", "modality_signature": "text",
                             "ext_video_feats": None, "ext_audio_feats": None, "task": "siq2_qa",
                             "class_label": None})
    paths = {}
    for split, items in rows.items():
        paths[split] = out / f"{split}.jsonl"
        paths[split].write_text("".join(json.dumps(r) + "\n" for r in items), encoding="utf-8")
    paths["test_parquet"] = _parquet(out / "test.parquet", rows["test"], out, ext_feats=ext_feats)
    return paths


def _parquet(path: Path, rows: list[dict], root: Path, *, ext_feats: bool = False) -> Path:
    """The rows with every media item embedded as ``{"bytes": ..., "path": name}`` (and, with
    ``ext_feats``, the ``.pt`` files' bytes as ``list<binary>``, as the benchmark's parquet holds them)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    embedded = []
    for row in rows:
        item = dict(row)
        for key in ("videos", "audios", "images"):
            item[key] = [{"bytes": (root / p).read_bytes(), "path": Path(p).name} for p in row[key]]
        item["class_label"] = None if row["class_label"] is None else int(row["class_label"])
        if ext_feats:
            for key in ("ext_video_feats", "ext_audio_feats"):
                item[key] = [(root / p).read_bytes() for p in row[key] or []]
        embedded.append(item)
    media = pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    feats = pa.list_(pa.binary()) if ext_feats else pa.null()
    schema = pa.schema([("id", pa.string()), ("problem", pa.string()), ("answer", pa.string()),
                        ("images", media), ("videos", media), ("audios", media), ("texts", pa.list_(pa.string())),
                        ("dataset", pa.string()), ("modality_signature", pa.string()),
                        ("ext_video_feats", feats), ("ext_audio_feats", feats), ("task", pa.string()),
                        ("class_label", pa.int64())])
    pq.write_table(pa.Table.from_pylist(embedded, schema=schema), path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-class-train", type=int, default=5)
    parser.add_argument("--per-class-test", type=int, default=3)
    parser.add_argument("--ext-feats", action="store_true",
                        help="also write the benchmark's .pt features (OpenPose and openSMILE layouts)")
    args = parser.parse_args()
    paths = build(args.out, per_class_train=args.per_class_train, per_class_test=args.per_class_test,
                  ext_feats=args.ext_feats)
    print("\n".join(f"{k}: {v}" for k, v in paths.items()))


if __name__ == "__main__":
    main()
