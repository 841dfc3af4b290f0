"""Speech-processor speed: real-time factors on one core, against openSMILE eGeMAPS alone.

Builds a recording of ``--minutes`` minutes from the bundled ``examples/data/spoken_story.flac``
(16 kHz mono), then times, each in a fresh process pinned to one core and after one
warm-up run (model loading and imports excluded):

- ``speech``: the full speech processor (VAD, pauses, syllable nuclei, Praat measures, CPP,
  MFCC), without eGeMAPS and without transcription;
- ``egemaps``: openSMILE's 88 eGeMAPSv02 functionals alone on the same audio;
- ``transcribe``: decoding + faster-whisper with the packaged tiny.en (greedy);
- ``speech`` on the same audio with 50-Hz mains hum at -10 dB re the speech
  (``tools/faults/audio.py``): the hum is measured on every recording and notched out
  when present, which this line prices.

Real-time factor = audio seconds / processing seconds (higher is faster). Targets: speech
processor >= 20x, transcription >= 5x.

Usage: ``python benchmarks/speech.py [--minutes 5]``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SAMPLE = REPO / "examples" / "data" / "spoken_story.flac"


def _child(mode: str, path: str) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import soundfile as sf

    def run():
        if mode == "speech":
            from bitbox.processors.speech import SpeechProcessor

            SpeechProcessor().process(path)
        elif mode == "egemaps":
            import opensmile

            smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                    feature_level=opensmile.FeatureLevel.Functionals)
            samples, sr = sf.read(path, dtype="float32")
            smile.process_signal(samples, sr)
        elif mode == "transcribe":
            from bitbox.audio import read_audio
            from bitbox.processors.text.transcript import transcribe

            samples, sr = read_audio(path, sr=16000)
            transcribe(samples, sr=sr)
        else:
            raise SystemExit(f"unknown mode {mode}")

    warm = tempfile.NamedTemporaryFile(suffix=".wav", delete=False)
    x, sr = sf.read(path, dtype="float32")
    sf.write(warm.name, x[: sr * 5], sr)
    saved, path = path, warm.name
    run()  # warm-up: imports and model loading
    path = saved
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    os.unlink(warm.name)
    import resource

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mib": peak_mib}))


def measure(mode: str, path: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", mode, str(path)], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    args = parser.parse_args()
    import soundfile as sf

    samples, sr = sf.read(SAMPLE, dtype="float32")
    repeats = int(np.ceil(args.minutes * 60 * sr / len(samples)))
    audio = np.tile(samples, repeats)[: int(args.minutes * 60 * sr)]
    duration = len(audio) / sr
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.wav"
        sf.write(path, audio, sr)
        short = Path(tmp) / "short.wav"
        sf.write(short, audio[: 60 * sr], sr)
        from tools.faults.audio import add_hum

        hummed = Path(tmp) / "hum.wav"
        sf.write(hummed, add_hum(audio, sr, mains_hz=50.0, level_db=-10.0), sr)
        print(f"audio: {duration:.0f} s at {sr} Hz (spoken_story.flac repeated); one core, warm")
        rtf = {}
        for mode in ("egemaps", "speech", "transcribe"):
            figures = measure(mode, path)
            if mode == "speech":
                figures_speech = figures
            rtf[mode] = duration / figures["seconds"]
            print(f"  {mode:<11} {figures['seconds']:7.2f} s   real-time factor {rtf[mode]:7.1f}x   "
                  f"peak memory {figures['peak_mib']:6.0f} MiB")
        figures = measure("speech", hummed)
        print(f"  {'speech, 50-Hz hum at -10 dB':<11} {figures['seconds']:7.2f} s   real-time factor "
              f"{duration / figures['seconds']:7.1f}x   peak memory {figures['peak_mib']:6.0f} MiB")
        one_minute = measure("speech", short)["peak_mib"]
        per_minute = (figures_speech["peak_mib"] - one_minute) / max(duration / 60 - 1, 1e-9)
        print(f"speech peak memory: {one_minute:.0f} MiB for 1 min, {figures_speech['peak_mib']:.0f} MiB for "
              f"{duration / 60:.0f} min: {per_minute:.1f} MiB per extra minute at {sr} Hz (the decoded audio and "
              "Praat's copy of it; the analyses run in blocks)")
    print(f"speech processor vs eGeMAPS alone: {rtf['speech'] / rtf['egemaps']:.2f}x the speed "
          f"(it computes VAD, pauses, rate, Praat voice measures, CPP and MFCC)")
    print(f"targets: speech >= 20x ({'met' if rtf['speech'] >= 20 else 'NOT met'}), "
          f"transcription >= 5x ({'met' if rtf['transcribe'] >= 5 else 'NOT met'})")


if __name__ == "__main__":
    main()
