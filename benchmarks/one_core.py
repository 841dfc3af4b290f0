"""One timed run in a fresh process pinned to one core (shared by the benchmark scripts).

``measure(mode, video, out, params)`` runs this file as a child process: ``mode`` is
``"decode"`` (decode every frame), ``"facemesh"`` (decode every frame and run bare mediapipe
face mesh, ``refine_landmarks=True``, tracking mode, on the whole frame: the baseline the face
processor is held to) or a processor name (``bitbox.process_folder`` with that processor and
``params``, e.g. ``{"face.person": "all"}``).
The child prints frames, seconds, fps and its peak resident memory as JSON.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def measure(mode: str, video: Path, out: Path, params: dict | None = None) -> dict:
    """Run one measurement in a fresh process and return its figures."""
    proc = subprocess.run([sys.executable, __file__, mode, str(video), str(out), json.dumps(params or {})],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _bare_face_mesh(video: str) -> int:
    os.environ.setdefault("GLOG_minloglevel", "2")
    import mediapipe as mp

    from bitbox import Recording

    n = 0
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True) as mesh:
        for frame in Recording(video).iter_frames():
            mesh.process(frame.rgb)
            n += 1
    return n


def _processor_alone(name: str, video: str, out: str, params: dict) -> int:
    from bitbox import Recording
    from bitbox.measurements import ParquetSink
    from bitbox.registry import get_processor_class

    processor = get_processor_class(name)(**params)
    recording = Recording(video)
    Path(out).mkdir(parents=True, exist_ok=True)
    sink = ParquetSink(Path(out) / f"{name}.parquet", provenance=processor.provenance(recording))
    result = processor.process(recording, sink=sink)
    sink.close()
    result.write_json(out)
    return recording.n_frames


def _child(mode: str, video: str, out: str, params: str = "{}") -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from bitbox import Recording
    from bitbox.batch import process_folder

    start = time.perf_counter()
    if mode == "decode":
        n = sum(1 for _ in Recording(video).iter_frames())
    elif mode == "facemesh":
        n = _bare_face_mesh(video)
    elif mode.startswith("processor:"):
        n = _processor_alone(mode.split(":", 1)[1], video, out, json.loads(params))
    else:
        result = process_folder([video], out, processors=[mode], progress=False, overwrite=True,
                                **json.loads(params))
        if result.n_failed:
            raise SystemExit(result.manifest.to_string())
        n = Recording(video).n_frames
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"frames": n, "seconds": seconds, "fps": n / seconds, "peak_mib": peak_mib}))


if __name__ == "__main__":
    _child(*sys.argv[1:5])
