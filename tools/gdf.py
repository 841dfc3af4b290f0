"""A minimal GDF 1.25 writer (float32 samples, 1-s records, an event table), for tests.

MNE reads GDF but does not write it, and no installable package here does; this writes the
subset of the format (Schloegl 2006, GDF version 1.25) that MNE's reader understands, so
that the ``.gdf`` path of the EEG reader can be checked on a file with known content.
"""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Sequence

import numpy as np


def _text(value: str, size: int) -> bytes:
    return value.encode("latin-1")[:size].ljust(size, b" ")


def write_gdf1(path: str | Path, data_uv: np.ndarray, sfreq: int, ch_names: Sequence[str],
               events: Sequence[tuple[int, int]] = ()) -> Path:
    """Write ``data_uv`` (channels x samples, microvolts) as GDF 1.25; ``events`` = (sample, code) pairs."""
    path = Path(path)
    sfreq = int(sfreq)
    n_ch, n_times = data_uv.shape
    n_records = -(-n_times // sfreq)
    padded = np.zeros((n_ch, n_records * sfreq), dtype=np.float32)
    padded[:, :n_times] = data_uv
    header_bytes = 256 * (n_ch + 1)
    fixed = b"GDF 1.25" + _text("X X", 80) + _text("bitbox test", 80) + _text("20260101120000" + "00", 16)
    fixed += struct.pack("<q", header_bytes) + bytes(8) + bytes(8) + bytes(8) + bytes(20)
    fixed += struct.pack("<qIII", n_records, 1, 1, n_ch)
    assert len(fixed) == 256
    lo = float(np.floor(padded.min())) - 1.0
    hi = float(np.ceil(padded.max())) + 1.0
    channels = b"".join(_text(name, 16) for name in ch_names)
    channels += b"".join(_text("", 80) for _ in ch_names)            # transducer
    channels += b"".join(_text("uV", 8) for _ in ch_names)           # physical dimension
    channels += struct.pack(f"<{n_ch}d", *[lo] * n_ch) + struct.pack(f"<{n_ch}d", *[hi] * n_ch)
    channels += struct.pack(f"<{n_ch}q", *[int(lo)] * n_ch) + struct.pack(f"<{n_ch}q", *[int(hi)] * n_ch)
    channels += b"".join(_text("", 80) for _ in ch_names)            # prefiltering
    channels += struct.pack(f"<{n_ch}i", *[sfreq] * n_ch)            # samples per record
    channels += struct.pack(f"<{n_ch}i", *[16] * n_ch)               # float32
    channels += bytes(32 * n_ch)
    records = padded.reshape(n_ch, n_records, sfreq).transpose(1, 0, 2)  # record, channel, sample
    table = struct.pack("<B", 1) + struct.pack("<I", sfreq)[:3] + struct.pack("<I", len(events))
    table += b"".join(struct.pack("<I", s + 1) for s, _ in events)   # 1-based positions
    table += b"".join(struct.pack("<H", c) for _, c in events)
    path.write_bytes(fixed + channels + records.astype("<f4").tobytes() + table)
    return path
