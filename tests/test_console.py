"""The CLI's stderr filter drops mediapipe's start-up chatter and libmpg123's resync notes, and passes
everything else."""
from __future__ import annotations

import os
import threading

from bitbox.console import _pump


def test_pump_drops_known_native_noise_and_keeps_the_rest():
    src_r, src_w = os.pipe()
    dst_r, dst_w = os.pipe()
    thread = threading.Thread(target=_pump, args=(src_r, dst_w, threading.Event()))
    thread.start()
    for chunk in (b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n",
                  b"W0000 00:00:1795828044.181382    5167 inference_feedback_manager.cc:114] Feedback manager\n",
                  b"Note: Illegal Audio-MPEG-Header 0x70ca4910 at offset 56628.\nNote: Trying to resync...\n",
                  b"[src/libmpg123/parse.c:wetwork():1349] error: Giving up resync after 1024 bytes\n",
                  b"Warning: Xing stream size off by more than 1%, fuzzy seeking may be even more fuzzy\n",
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


def test_pump_stops_when_asked_although_a_child_keeps_the_pipe_open():
    src_r, src_w = os.pipe()  # src_w stays open, as in a lingering child process
    dst_r, dst_w = os.pipe()
    stop = threading.Event()
    thread = threading.Thread(target=_pump, args=(src_r, dst_w, stop))
    thread.start()
    os.write(src_w, b"last words\n")
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert os.read(dst_r, 65536) == b"last words\n"
    for fd in (src_r, src_w, dst_r, dst_w):
        os.close(fd)


def test_the_command_line_limits_heap_fragmentation_on_glibc():
    import platform

    from bitbox.console import limit_heap_fragmentation

    if platform.libc_ver()[0] == "glibc":  # Debian, where CI runs: the setting must be taken
        assert limit_heap_fragmentation() is True
    else:
        assert limit_heap_fragmentation() in (True, False)
