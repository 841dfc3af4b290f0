"""What the kind registry costs: finding the recordings of a large folder.

Makes a folder tree of ``--n`` small files (videos, audio, EEG, texts, transcripts beside audio, hidden
files, unrelated files, and CSV files of which half have eye-tracker headers), then times, in the same run:

- a bare listing (``os.walk`` and a set of extensions), for scale;
- the baseline: :func:`bitbox.batch.discover` with the kind of a file looked up in a fixed table of
  extensions (what discovery did before kinds were declared by entry points);
- :func:`bitbox.batch.discover` with the installed kinds (:func:`bitbox.kinds.kind_of`), companions;
- the same with a kind that sniffs content (the ``gaze`` kind of ``examples/plugin/eyetracker``, which
  reads each ``.csv`` file's first line);
- creating a :class:`bitbox.Recording` for each found file (kind lookup and file checks).

Prints files per second and the ratios. Targets: the kind registry within 1.5x the fixed table; a
sniffing kind at most 2x (one header line read per candidate file).

Usage: ``python benchmarks/discovery.py [--n 4000] [--repeat 3]``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "examples" / "plugin" / "eyetracker"))


def make_tree(root: Path, n: int) -> None:
    """``n`` files in ten sub-folders, of every sort discovery must tell apart."""
    sorts = ("clip{}.mp4", "talk{}.wav", "talk{}.txt", "rest{}.edf", "story{}.json", "gaze{}.csv", "table{}.csv",
             ".hidden{}.wav", "notes{}.docx", "image{}.png")
    for i in range(n):
        folder = root / f"site_{i // len(sorts) % 10}"
        folder.mkdir(exist_ok=True)
        name = sorts[i % len(sorts)].format(i // len(sorts))
        path = folder / name
        if name.startswith("gaze"):
            path.write_text("time_s,gaze_x,gaze_y\n0.0,1.0,2.0\n")
        elif name.startswith("table"):
            path.write_text("subject,score\n1,3\n")
        else:
            path.write_bytes(b"x" * 64)


def baseline(root: Path, suffixes: set[str]) -> int:
    """The bare listing: every non-hidden file whose extension is a recording's."""
    count = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        count += sum(1 for f in sorted(files) if not f.startswith(".") and Path(f).suffix.lower() in suffixes)
    return count


def best_of(repeat: int, func) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = func()
        times.append(time.perf_counter() - start)
    return min(times), value


def with_gaze_kind():
    """Register the example plugin's kind beside the built-in ones (as installing the plugin does)."""
    from bitbox import kinds

    real = list(metadata.entry_points(group=kinds.ENTRY_POINT_GROUP))
    gaze = metadata.EntryPoint(name="gaze", value="bitbox_eyetracker:GAZE", group=kinds.ENTRY_POINT_GROUP)
    kinds.metadata = type("M", (), {"entry_points": staticmethod(lambda group: real + [gaze]),
                                    "EntryPoint": metadata.EntryPoint})
    kinds.refresh()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000, help="files in the tree")
    parser.add_argument("--repeat", type=int, default=3, help="timings per step (the best is kept)")
    args = parser.parse_args()
    from bitbox import Recording, kinds
    from bitbox.batch import discover

    built_in = ["audio", "eeg", "text", "video"]
    companions = {"text": {"audio", "video"}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tree"
        root.mkdir()
        make_tree(root, args.n)
        bare_s, base_n = best_of(args.repeat, lambda: baseline(root, set(kinds.extensions(built_in))))
        disc_s, (jobs, _) = best_of(args.repeat, lambda: discover([root], built_in, companions=companions))
        table = {ext: name for name in built_in for ext in kinds.get_kind(name).extensions}
        registry_kind_of = kinds.kind_of
        kinds.kind_of = lambda path, names=None: table.get(Path(path).suffix.lower())
        try:
            base_s, (fixed_jobs, _) = best_of(args.repeat, lambda: discover([root], built_in, companions=companions))
        finally:
            kinds.kind_of = registry_kind_of
        assert [j.recording_id for j in fixed_jobs] == [j.recording_id for j in jobs]
        rec_s, _ = best_of(1, lambda: [Recording(job.path) for job in jobs])
        with_gaze_kind()
        sniff_s, (gaze_jobs, _) = best_of(args.repeat, lambda: discover([root], [*built_in, "gaze"],
                                                                        companions=companions))
    print(f"{args.n} files; {base_n} with a built-in kind's extension; {len(jobs)} recordings after companions; "
          f"{len(gaze_jobs) - len(jobs)} gaze CSV files of {args.n // 10 * 2} CSV files")
    for label, seconds in (("bare listing: os.walk + extensions", bare_s),
                           ("baseline: discover, fixed table", base_s), ("discover, kind registry", disc_s),
                           ("discover, + a sniffing kind", sniff_s), ("Recording() per found file", rec_s)):
        print(f"  {label:36s} {seconds * 1000:8.1f} ms  {args.n / seconds:10.0f} files/s")
    print(f"  ratio kind registry / fixed table: {disc_s / base_s:.2f} (target <= 1.5)")
    print(f"  ratio sniffing / kind registry:    {sniff_s / disc_s:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
