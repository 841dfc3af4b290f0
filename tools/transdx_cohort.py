"""A small synthetic cohort for ``bitbox transdx`` (espeak-ng; Debian package ``espeak-ng``).

Three diagnosis studies (MDD, SCZ, ASD), each with patients and as many gender-matched
controls; every participant has a voice of their own (an espeak-ng voice variant, pitch
and rate offsets) and several recordings of sentences drawn from their group's pool:

- **group differences** (when ``effect=True``): MDD speaks slower, lower and with longer
  pauses, about fatigue and low mood; SCZ leaves gaps between words and jumps between
  unrelated topics with odd content; ASD speaks fast and high, about routines, numbers and
  exact details; controls describe ordinary days at an ordinary rate;
- **no group difference** with ``effect=False``: every group uses the control pool and
  rate, so only the participants' own voices differ (a null cohort).

Files: ``<out>/audio/<participant>_<k>.flac`` (16 kHz), ``<out>/text/<participant>_<k>.txt``
and ``<out>/manifest.csv`` with participant_id, diagnosis, recording, transcript, study,
gender, matched_control_id. Same arguments, same files.

Run ``python tools/transdx_cohort.py OUT --patients 6 --recordings 3``.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools.speech_synth import espeak, trim  # noqa: E402

POOLS: dict[str, tuple[str, ...]] = {
    "control": (
        "Yesterday I went to the market with my sister and we bought fresh bread.",
        "On Sunday we cooked dinner together and watched a funny film.",
        "My neighbour helped me repair the fence in the garden last week.",
        "We took the children to the park and they played football for hours.",
        "At work we finished the project early and celebrated with coffee and cake.",
        "In the summer we visited my grandparents by the sea.",
        "I enjoy walking the dog in the morning before breakfast.",
        "The weekend was busy but pleasant with friends and family around.",
    ),
    "MDD": (
        "I feel tired all the time and nothing seems worth doing anymore.",
        "Most days I stay in bed because getting up feels pointless.",
        "I used to enjoy music but now I do not feel anything.",
        "I keep thinking that I have failed everyone around me.",
        "Sleep does not help and I wake up exhausted and empty.",
        "It is hard to concentrate and my thoughts are slow and heavy.",
        "I do not see the point in making plans for the future.",
        "Everything feels grey and I cry without knowing why.",
    ),
    "SCZ": (
        "The radio sends messages about the colours of the trains.",
        "My neighbour's thoughts come through the walls at night, triangles and salt.",
        "The television knows my name and the birds repeat the numbers.",
        "Someone replaced the street signs so the clouds could follow me.",
        "Electric voices tell me the kettle is a government machine.",
        "The moon was talking about the soup and the secret police.",
        "Mirrors in the hallway keep the plans of the whole city.",
        "My teeth receive signals from the tower beside the river.",
    ),
    "ASD": (
        "The number forty two bus leaves at eight fifteen exactly every weekday.",
        "I always arrange my books by height first and then by colour.",
        "The train timetable changed on the third of March at platform nine.",
        "I eat the same breakfast every day, two slices of toast cut in four.",
        "Prime numbers between one hundred and two hundred are very interesting.",
        "The washing machine cycle takes fifty seven minutes on the cotton setting.",
        "I counted thirty one steps from the gate to the front door.",
        "Maps of the underground have eleven lines and two hundred and seventy stations.",
    ),
}
#: Group effects on the voice: rate (words/min), pitch (espeak 0-99), gap between words (ms) and pause between
#: sentences (s).
VOICE = {"control": (165, 50, 0, 0.35), "MDD": (115, 32, 40, 1.1), "SCZ": (150, 48, 120, 0.6),
         "ASD": (210, 70, 0, 0.15)}
VARIANTS = {"F": ("f1", "f2", "f3", "f4", "f5"), "M": ("m1", "m2", "m3", "m4", "m5", "m6", "m7")}


def make_cohort(out: str | Path, *, patients: int = 6, recordings: int = 3, sentences: int = 2, effect: bool = True,
                seed: int = 0) -> Path:
    """Synthesise the cohort into ``out``; returns the manifest's path.

    Parameters
    ----------
    patients : int
        Patients per diagnosis (half female, half male), each with a matched control.
    recordings : int
        Recordings per participant.
    sentences : int
        Sentences per recording.
    effect : bool
        Whether the groups differ (see the module docstring).
    seed : int
    """
    import soundfile as sf

    from bitbox.audio import resample

    out = Path(out)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    (out / "text").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    people = []
    for diagnosis in ("MDD", "SCZ", "ASD"):
        for i in range(patients):
            gender = "FM"[i % 2]
            pid = f"{diagnosis.lower()}{i + 1:02d}"
            control = f"hc_{diagnosis.lower()}{i + 1:02d}"
            people.append((pid, diagnosis, gender, control, diagnosis))
            people.append((control, "control", gender, "", diagnosis))
    rows = []
    for pid, diagnosis, gender, control, study in people:
        group = diagnosis if effect else "control"
        rate, pitch, gap, pause = VOICE[group]
        variant = VARIANTS[gender][int(rng.integers(len(VARIANTS[gender])))]
        own_pitch = int(np.clip(pitch + rng.integers(-6, 7), 5, 95))
        own_rate = int(rate + rng.integers(-8, 9))
        for k in range(recordings):
            texts = list(rng.choice(POOLS[group], size=sentences, replace=False))
            parts, sr = [], 22050
            for text in texts:
                samples, sr = espeak(text, rate_wpm=own_rate, pitch=own_pitch, voice=f"en-us+{variant}",
                                     word_gap_ms=gap)
                parts += [trim(samples), np.zeros(int(pause * sr), dtype=np.float32)]
            audio = np.concatenate([np.zeros(int(0.3 * sr), dtype=np.float32), *parts])
            name = f"{pid}_{k + 1}"
            sf.write(out / "audio" / f"{name}.flac", resample(audio, sr, 16000), 16000)
            (out / "text" / f"{name}.txt").write_text(" ".join(texts) + "\n", encoding="utf-8")
            rows.append({"participant_id": pid, "diagnosis": diagnosis, "recording": f"audio/{name}.flac",
                         "transcript": f"text/{name}.txt", "study": study, "gender": gender,
                         "matched_control_id": control})
    manifest = out / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--patients", type=int, default=6, help="patients per diagnosis (default 6)")
    parser.add_argument("--recordings", type=int, default=3, help="recordings per participant (default 3)")
    parser.add_argument("--no-effect", action="store_true", help="no group difference (a null cohort)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(make_cohort(args.out, patients=args.patients, recordings=args.recordings, effect=not args.no_effect,
                      seed=args.seed))


if __name__ == "__main__":
    main()
