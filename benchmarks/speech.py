"""Speech processor: speed against openSMILE's eGeMAPS alone, and peak memory with the recording's length.

Recordings of real read speech are built by ``tools/long_speech.py`` (the LibriVox clips of Debian's
pocketsphinx-testdata and the bundled spoken story, joined with pauses). In one run:

- **speed** (one core, warm, each in a fresh process pinned to one core; imports and model loading
  excluded by a warm-up run on 5 s; the fastest of 3 alternating runs of each): real-time factor (audio seconds / processing seconds) of the
  speech processor with its default measures (VAD, pauses, rate, Praat pitch, intensity, jitter,
  shimmer, HNR, formants, CPP, MFCC; no eGeMAPS, no transcription) and of openSMILE's 88 eGeMAPSv02
  functionals alone on the same audio, and their ratio. Floor 0.9x, target 1.0x (the speech
  processor at least as fast as eGeMAPS alone);
- **memory**: peak resident memory of ``bitbox run -p speech`` (the whole command: decoding, the three
  passes, writing the outputs, the report) on 1, 10 and 60 minutes of 16-kHz mono FLAC, and on 10
  minutes of 48-kHz stereo; bound: 60 minutes at most 1.15x the 1-minute peak;
- a profile of where the speech processor's time goes (cProfile, one core) on the speed recording.

Usage: ``python benchmarks/speech.py [--minutes 5] [--long 60] [--repeats 3] [--no-profile]``.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BIN = Path(sys.executable).parent


def _pin() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def _child(mode: str, path: str) -> None:
    _pin()
    import soundfile as sf

    def run(target: str) -> None:
        if mode == "speech":
            from bitbox.processors.speech import SpeechProcessor

            SpeechProcessor().process(target)
        elif mode == "egemaps":
            import opensmile

            smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                    feature_level=opensmile.FeatureLevel.Functionals)
            samples, sr = sf.read(target, dtype="float32")
            smile.process_signal(samples, sr)
        else:
            raise SystemExit(f"unknown mode {mode}")

    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm.wav"
        x, sr = sf.read(path, dtype="float32", frames=5 * 16000 * 3)
        sf.write(warm, x[: sr * 5], sr)
        run(str(warm))  # imports and model loading
    start, cpu = time.perf_counter(), time.process_time()
    run(path)
    print(json.dumps({"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}))


def _profile(path: str) -> None:
    _pin()
    import cProfile
    import pstats

    from bitbox.processors.speech import SpeechProcessor

    SpeechProcessor().process(path)  # warm
    profile = cProfile.Profile()
    profile.enable()
    SpeechProcessor().process(path)
    profile.disable()
    stats = pstats.Stats(profile)
    total = stats.total_tt
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])
    print(f"where the time goes ({total:.2f} s, internal time of the costliest calls):")
    for (file, line, name), (_, _, tottime, _, _) in rows[:12]:
        label = name if file.startswith("~") else f"{Path(file).name}:{name}"
        print(f"  {100 * tottime / total:5.1f}%  {tottime:6.2f} s  {label}")


def timed(mode: str, path: Path) -> float:
    proc = subprocess.run([sys.executable, __file__, "--child", mode, str(path)], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]


_MEASURE = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)")


def peak_run(path: Path, out: Path) -> tuple[float, float]:
    """Peak resident memory (MiB) and wall time (s) of ``bitbox run -p speech``, measured by a small
    fresh Python process that starts it (a child forked from a large process would count its parent's
    pages in its peak)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _MEASURE, str(BIN / "bitbox"), "run", "-q", "-p", "speech", "-o",
                           str(out), str(path)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    kib, code = proc.stdout.split()
    if int(code):
        raise SystemExit(f"bitbox run failed on {path.name}:\n{proc.stderr[-3000:]}")
    return int(kib) / 1024, seconds


def make_recording(path: Path, minutes: float, **kwargs) -> Path:
    """A long recording written by tools/long_speech.py in its own process (building an hour of audio
    takes over a GB, which this process should not keep)."""
    args = [sys.executable, str(REPO / "tools" / "long_speech.py"), str(path), "--minutes", str(minutes)]
    for key, value in kwargs.items():
        args += [f"--{key}", str(value)]
    subprocess.run(args, check=True, cwd=REPO)
    return path


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--profile":
        _profile(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="length of the speed recording")
    parser.add_argument("--long", type=float, default=60.0, help="length of the longest memory recording")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each (the fastest counts)")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        speed = make_recording(tmp / "speed.flac", args.minutes)
        duration = args.minutes * 60
        print(f"speed: {duration:.0f} s of real read speech, 16 kHz mono; one core, warm, fastest of {args.repeats}")
        # Alternating runs, the fastest of each kept: shared machines slow runs down, never speed them up.
        runs = {"egemaps": [], "speech": []}
        for _ in range(args.repeats):
            for mode in runs:
                runs[mode].append(timed(mode, speed))
        seconds = {mode: min(times) for mode, times in runs.items()}
        rtf = {mode: duration / s for mode, s in seconds.items()}
        for mode in ("speech", "egemaps"):
            print(f"  {mode:<8} {seconds[mode]:7.2f} s   real-time factor {rtf[mode]:6.1f}x")
        ratio = rtf["speech"] / rtf["egemaps"]
        verdict = "target met" if ratio >= 1.0 else "floor met" if ratio >= 0.9 else "FLOOR NOT MET"
        print(f"  speech processor / eGeMAPS alone: {ratio:.2f}x the speed (floor 0.9x, target 1.0x): {verdict}")
        if not args.no_profile:
            proc = subprocess.run([sys.executable, __file__, "--profile", str(speed)], capture_output=True,
                                  text=True)
            print(proc.stdout.rstrip() if not proc.returncode else proc.stderr[-2000:])

        print("memory: peak resident memory of `bitbox run -p speech`")
        peaks = {}
        for minutes, kwargs, label in ((1.0, {}, "16 kHz mono"), (10.0, {}, "16 kHz mono"),
                                       (args.long, {}, "16 kHz mono"),
                                       (10.0, {"sr": 48000, "channels": 2}, "48 kHz stereo")):
            path = make_recording(tmp / f"m{minutes:g}_{kwargs.get('sr', 16000)}.flac", minutes, **kwargs)
            peak, wall = peak_run(path, tmp / f"out_{path.stem}")
            peaks[(minutes, label)] = peak
            print(f"  {minutes:5g} min {label:<14} peak {peak:6.0f} MiB   ({wall:5.1f} s)")
            path.unlink()
        base, longest = peaks[(1.0, "16 kHz mono")], peaks[(args.long, "16 kHz mono")]
        ratio = longest / base
        print(f"  {args.long:g} min / 1 min: {ratio:.3f}x the peak (bound 1.15x): "
              f"{'met' if ratio <= 1.15 else 'NOT met'}")


if __name__ == "__main__":
    main()
