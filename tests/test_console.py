"""The CLI's stderr filter drops mediapipe's start-up chatter and passes everything else."""
from __future__ import annotations

import os
import threading

from bitbox.console import _pump


def test_pump_drops_known_native_noise_and_keeps_the_rest():
    src_r, src_w = os.pipe()
    dst_r, dst_w = os.pipe()
    thread = threading.Thread(target=_pump, args=(src_r, dst_w))
    thread.start()
    for chunk in (b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n",
                  b"W0000 00:00:1795828044.181382    5167 inference_feedback_manager.cc:114] Feedback manager\n",
                  b"\rbitbox:  50%|#####     | 1/2",          # a progress bar: shown at once, no newline
                  b"\nWARNING [bitbox] clip failed: bad.mp4: file is empty\n",
                  b"E0000 00:00:1 real_error.cc:1] something broke\n"):
        os.write(src_w, chunk)
    os.close(src_w)
    thread.join(5)
    os.close(dst_w)
    out = os.read(dst_r, 65536)
    assert out == (b"\rbitbox:  50%|#####     | 1/2\nWARNING [bitbox] clip failed: bad.mp4: file is empty\n"
                   b"E0000 00:00:1 real_error.cc:1] something broke\n")
