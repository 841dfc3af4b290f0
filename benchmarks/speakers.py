"""Speakers-processor speed and memory: real-time factor on one core for 1 and 10 minutes.

Builds two-speaker dialogues of 1 and 10 minutes with ``tools/dialogues.py`` (flite CMU ARCTIC
voices slt and rms; gaps, interruptions and back-channels), then times, each in a fresh process
pinned to one core and after one warm-up run on 20 s (model loading and imports excluded):

- ``speakers``: the whole processor (VAD, embeddings, clustering, resegmentation, per-speaker
  F0 and rate, turn-taking);
- ``vad``: Silero voice activity alone on the same audio: the baseline, as every speech
  processor runs it (the speakers processor costs this plus the embeddings and the rest);
- ``speech``: the ``speech`` processor on the same audio, for scale.

Real-time factor = audio seconds / processing seconds (higher is faster); peak memory is the
process's maximum resident set. Target: speakers >= 10x on one core, memory growing by at most a
few MiB per minute of audio (the decoded audio and its mel frames; the clustering of long
recordings works on a bounded subsample). The DER against the dialogue's truth is printed too.

Usage: ``python benchmarks/speakers.py [--minutes 1 10]``.
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


def _child(mode: str, path: str, warm: str) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    def run(file: str):
        if mode == "speakers":
            from bitbox.processors.speakers import SpeakersProcessor

            return SpeakersProcessor(source="diarize").process(file)
        if mode == "vad":
            from bitbox.audio import read_audio
            from bitbox.processors.voice import vad_probabilities

            samples, sr = read_audio(file)
            return vad_probabilities(samples, sr)
        if mode == "speech":
            from bitbox.processors.speech import SpeechProcessor

            return SpeechProcessor().process(file)
        raise SystemExit(f"unknown mode {mode}")

    run(warm)  # warm-up: imports and model loading
    start = time.perf_counter()
    result = run(path)
    seconds = time.perf_counter() - start
    import resource

    out = {"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if mode == "speakers":
        import pandas as pd

        from bitbox.processors.rttm import read_rttm
        from bitbox.processors.speakers import diarization_error_rate

        table = result.timeseries
        hyp = pd.DataFrame({"start_s": table["time_s"], "end_s": table["end_s"], "speaker": table["speaker"]})
        out["der"] = diarization_error_rate(read_rttm(Path(path).with_suffix(".truth.rttm")), hyp).der
        out["n_speakers"] = result.summary["n_speakers"]
    print(json.dumps(out))


def measure(mode: str, path: Path, warm: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", mode, str(path), str(warm)], capture_output=True,
                          text=True)
    if proc.returncode:
        raise SystemExit(f"{mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    args = parser.parse_args()
    import soundfile as sf

    from tools import dialogues as dlg

    with tempfile.TemporaryDirectory() as tmp:
        warm = dlg.build(dlg.long_dialogue(20 / 60, seed=1))
        warm_path = Path(tmp) / "warm.wav"
        sf.write(warm_path, warm.samples, warm.sr)
        figures = {}
        for minutes in args.minutes:
            built = dlg.build(dlg.long_dialogue(minutes))
            written = dlg.write_dialogue(built, tmp)
            path = written["wav"]
            duration = len(built.samples) / built.sr
            print(f"{minutes:g}-minute dialogue ({duration:.0f} s, {built.truth['n_speakers']} speakers, "
                  f"{built.truth['n_turns']} turns), one core, warm:")
            for mode in ("vad", "speakers", "speech"):
                result = measure(mode, path, warm_path)
                figures[(minutes, mode)] = result
                extra = (f"   DER {100 * result['der']:.1f}%, {result['n_speakers']:.0f} speakers"
                         if mode == "speakers" else "")
                print(f"  {mode:<9} {result['seconds']:7.2f} s   real-time factor {duration / result['seconds']:7.1f}x"
                      f"   peak memory {result['peak_mib']:6.0f} MiB{extra}")
            ratio = figures[(minutes, "vad")]["seconds"] / figures[(minutes, "speakers")]["seconds"]
            print(f"  speakers runs at {ratio:.2f}x the speed of the VAD alone")
        speakers = {m: figures[(m, "speakers")] for m in args.minutes}
        longest = max(args.minutes)
        rtf = longest * 60 / speakers[longest]["seconds"]
        if len(args.minutes) > 1:
            low, high = min(args.minutes), longest
            per_minute = (speakers[high]["peak_mib"] - speakers[low]["peak_mib"]) / (high - low)
            print(f"speakers peak memory: {speakers[low]['peak_mib']:.0f} MiB for {low:g} min, "
                  f"{speakers[high]['peak_mib']:.0f} MiB for {high:g} min: {per_minute:.1f} MiB per extra minute")
        print(f"target: speakers >= 10x real time on one core ({'met' if rtf >= 10 else 'NOT met'}: {rtf:.1f}x "
              f"on {longest:g} min)")


if __name__ == "__main__":
    main()
