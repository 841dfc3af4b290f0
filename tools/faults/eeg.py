"""EEG faults, injected into copies of real EDF/BDF (and GDF) files; inputs are never modified.

Each function takes a real file and writes a faulty copy:

- :func:`truncate`: the file cut short (a copy interrupted mid-transfer), header untouched;
- :func:`mislabel_units`: the signals' physical dimension rewritten (microvolts labelled as
  volts), so a reader scales every value by 1e6;
- :func:`add_annotations`: EDF+/BDF+ annotations (TALs) written into the annotation signal,
  e.g. trial-start, cue and feedback codes that share onsets, as BCI recordings have;
- :func:`add_stim_channel`: one signal turned into a trigger channel (``TRIGGER`` in EDF,
  ``Status`` in BDF) holding event codes at known samples;
- :func:`to_gdf`: the recording rewritten as GDF 1.25 (``tools/gdf.py``) with an event table.

CLI: ``python -m tools.faults.eeg {truncate,units,annotations,stim,gdf} IN OUT [options]``.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["EdfLayout", "edf_layout", "truncate", "mislabel_units", "add_annotations", "add_stim_channel",
           "to_gdf", "main"]


@dataclass(frozen=True)
class EdfLayout:
    """Where things are in an EDF/BDF file (bytes) and what its header declares."""

    header_bytes: int
    n_records: int
    record_s: float
    labels: tuple[str, ...]
    samples_per_record: tuple[int, ...]
    bytes_per_sample: int  # 2 (EDF) or 3 (BDF)

    @property
    def n_signals(self) -> int:
        return len(self.labels)

    @property
    def record_bytes(self) -> int:
        return sum(self.samples_per_record) * self.bytes_per_sample

    def field_offset(self, width_before: int, signal: int, width: int) -> int:
        """Offset of one signal's field whose per-signal block starts after ``width_before`` bytes per signal."""
        return 256 + self.n_signals * width_before + signal * width

    def signal_offset(self, record: int, signal: int) -> int:
        """Offset of ``signal``'s samples in data record ``record``."""
        return (self.header_bytes + record * self.record_bytes
                + sum(self.samples_per_record[:signal]) * self.bytes_per_sample)


#: (width, bytes per signal before this field's block) of the EDF per-signal header fields.
_FIELDS = {"label": (16, 0), "transducer": (80, 16), "dimension": (8, 96), "physical_min": (8, 104),
           "physical_max": (8, 112), "digital_min": (8, 120), "digital_max": (8, 128), "prefilter": (80, 136),
           "samples": (8, 216)}


def edf_layout(path: str | Path) -> EdfLayout:
    """Read the layout of an EDF/BDF file's header."""
    head = Path(path).read_bytes()[:256]
    n_signals = int(head[252:256])
    header = Path(path).read_bytes()[:256 * (n_signals + 1)]

    def field(name: str) -> list[str]:
        width, before = _FIELDS[name]
        start = 256 + n_signals * before
        return [header[start + i * width:start + (i + 1) * width].decode("latin-1").strip() for i in range(n_signals)]

    return EdfLayout(int(head[184:192]), int(head[236:244]), float(head[244:252]), tuple(field("label")),
                     tuple(int(s) for s in field("samples")), 3 if head[:1] == b"\xff" else 2)


def _copy(src: str | Path, dst: str | Path) -> tuple[Path, bytearray]:
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise ValueError(f"{dst}: refusing to overwrite the input; write the faulty copy elsewhere")
    dst.parent.mkdir(parents=True, exist_ok=True)
    return dst, bytearray(src.read_bytes())


def _put(buffer: bytearray, offset: int, text: str, width: int) -> None:
    encoded = text.encode("latin-1")
    if len(encoded) > width:
        raise ValueError(f"{text!r} does not fit in a {width}-byte header field")
    buffer[offset:offset + width] = encoded.ljust(width, b" ")


def truncate(src: str | Path, dst: str | Path, *, fraction: float = 0.5) -> Path:
    """Write the first ``fraction`` of ``src``'s bytes to ``dst`` (the header keeps its record count)."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1). Got {fraction} instead.")
    return cut(src, dst, int(Path(src).stat().st_size * fraction))


def mislabel_units(src: str | Path, dst: str | Path, *, dimension: str = "V",
                   signals: Sequence[str] | None = None) -> Path:
    """Rewrite the physical dimension of ``signals`` (default: all but annotations) to ``dimension``.

    The stored numbers and ranges are unchanged, so microvolt data labelled ``"V"`` read
    1e6 times too large.
    """
    layout = edf_layout(src)
    dst, data = _copy(src, dst)
    width, before = _FIELDS["dimension"]
    for i, label in enumerate(layout.labels):
        if (signals is None and "Annotations" not in label) or (signals is not None and label in signals):
            _put(data, layout.field_offset(before, i, width), dimension, width)
    dst.write_bytes(bytes(data))
    return dst


def _tal(onset_s: float, descriptions: Sequence[str] = ()) -> bytes:
    text = f"{onset_s:+.6f}".rstrip("0").rstrip(".") + "\x14" + "".join(f"{d}\x14" for d in descriptions)
    return (text + "\x00").encode("utf-8")


def add_annotations(src: str | Path, dst: str | Path, events: Sequence[tuple[float, str]]) -> Path:
    """Write ``events`` (onset in s, description) as EDF+ TALs into the annotation signal.

    Each data record keeps its time-keeping TAL (and the annotations it had); the events
    whose onsets fall in the record are appended to it, one TAL per event (so events with
    the same onset are separate annotations that share a sample). Raises ``ValueError``
    when a record's annotation signal has no room for its events.
    """
    layout = edf_layout(src)
    index = next((i for i, label in enumerate(layout.labels) if label in ("EDF Annotations", "BDF Annotations")),
                 None)
    if index is None:
        raise ValueError(f"{src}: has no annotation signal (not EDF+/BDF+)")
    dst, data = _copy(src, dst)
    room = layout.samples_per_record[index] * layout.bytes_per_sample
    by_record: dict[int, list[tuple[float, str]]] = {}
    for onset, description in events:
        by_record.setdefault(int(onset // layout.record_s), []).append((onset, description))
    for record, items in sorted(by_record.items()):
        if not 0 <= record < layout.n_records:
            raise ValueError(f"an event at {items[0][0]} s lies outside the recording")
        start = layout.signal_offset(record, index)
        kept = bytes(data[start:start + room]).rstrip(b"\x00") + b"\x00"
        block = kept + b"".join(_tal(onset, [description]) for onset, description in items)
        if len(block) > room:
            raise ValueError(f"record {record}: {len(items)} events need {len(block)} bytes; the annotation "
                             f"signal holds {room}")
        data[start:start + room] = block.ljust(room, b"\x00")
    dst.write_bytes(bytes(data))
    return dst


def add_stim_channel(src: str | Path, dst: str | Path, signal: str, events: Sequence[tuple[int, int]], *,
                     width: int = 5) -> Path:
    """Turn ``signal`` into a trigger channel holding ``events`` = (sample, code) pairs.

    The signal is renamed ``TRIGGER`` (EDF) or ``Status`` (BDF), which MNE reads as a stim
    channel; its samples (at the signal's own rate) are 0 except ``width`` samples of
    ``code`` from each event's sample; physical and digital ranges are made equal, so
    physical values are the codes.
    """
    layout = edf_layout(src)
    index = layout.labels.index(signal)
    dst, data = _copy(src, dst)
    spr = layout.samples_per_record[index]
    values = np.zeros(layout.n_records * spr, dtype=np.int64)
    for sample, code in events:
        values[sample:sample + width] = code
    bps = layout.bytes_per_sample
    lo, hi = (-(2 ** (8 * bps - 1)), 2 ** (8 * bps - 1) - 1)
    for name, text in (("label", "Status" if bps == 3 else "TRIGGER"), ("dimension", ""), ("transducer", ""),
                       ("physical_min", str(lo)), ("physical_max", str(hi)), ("digital_min", str(lo)),
                       ("digital_max", str(hi)), ("prefilter", "")):
        width_f, before = _FIELDS[name]
        _put(data, layout.field_offset(before, index, width_f), text, width_f)
    raw = (values.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :bps]).reshape(layout.n_records, spr * bps)
    for record in range(layout.n_records):
        start = layout.signal_offset(record, index)
        data[start:start + spr * bps] = raw[record].tobytes()
    dst.write_bytes(bytes(data))
    return dst


def to_gdf(src: str | Path, dst: str | Path, events: Sequence[tuple[int, int]] = ()) -> Path:
    """Rewrite a recording (any format MNE reads) as GDF 1.25 with an event table of (sample, code) pairs.

    Only integer sampling rates are supported (the writer's 1-s records).
    """
    import mne

    from tools.gdf import write_gdf1

    raw = mne.io.read_raw(str(src), preload=True, verbose="error")
    sfreq = raw.info["sfreq"]
    if sfreq != int(sfreq):
        raise ValueError(f"{src}: {sfreq} Hz is not an integer rate")
    dst = Path(dst)
    if Path(src).resolve() == dst.resolve():
        raise ValueError(f"{dst}: refusing to overwrite the input")
    return write_gdf1(dst, raw.get_data() * 1e6, int(sfreq), raw.ch_names, events)


def export(src: str | Path, dst: str | Path, *, seconds: float | None = None) -> Path:
    """Write a real EDF (or any file MNE reads) as BrainVision (``.vhdr`` + ``.vmrk`` + ``.eeg``) or
    EEGLAB (``.set`` + ``.fdt``), as the suffix of ``dst`` says, with its annotations; the first
    ``seconds`` only when given. Uses MNE's exporters (pybv, eeglabio)."""
    import mne

    src, dst = Path(src), Path(dst)
    raw = mne.io.read_raw(src, preload=True, verbose="error")
    if seconds is not None:
        raw.crop(0, seconds, include_tmax=False)
    raw.pick("eeg")
    fmt = {".vhdr": "brainvision", ".set": "eeglab"}[dst.suffix.lower()]
    mne.export.export_raw(dst, raw, fmt=fmt, overwrite=True, verbose="error")
    return dst


def separate_fdt(src: str | Path, dst: str | Path) -> Path:
    """Rewrite an EEGLAB ``.set`` with embedded data as EEGLAB's two-file form: ``dst`` (``.set``)
    naming ``<stem>.fdt``, which holds the samples (float32, channel-fastest)."""
    import scipy.io as sio

    src, dst = Path(src), Path(dst)
    fields = {k: v for k, v in sio.loadmat(src, appendmat=False).items() if not k.startswith("__")}
    data = np.asarray(fields["data"], dtype=np.float32)
    fdt = dst.with_suffix(".fdt")
    fields["data"] = fields["datfile"] = fdt.name
    sio.savemat(dst, fields, appendmat=False, format="5", oned_as="row")
    data.T.astype("<f4").tofile(fdt)
    return dst


def cut(src: str | Path, dst: str | Path, n_bytes: int) -> Path:
    """Copy the first ``n_bytes`` of ``src`` to ``dst`` (a copy that stopped early)."""
    dst, data = _copy(src, dst)
    dst.write_bytes(bytes(data[:n_bytes]))
    return dst


def _events(text: str, kind: type) -> list[tuple]:
    """``"2.5:768,2.5:769"`` -> [(2.5, "768"), (2.5, "769")] (kind=str) or [(at, code)] with ints."""
    out = []
    for item in filter(None, text.split(",")):
        at, code = item.split(":")
        out.append((float(at), code) if kind is str else (int(at), int(code)))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write one faulty copy."""
    parser = argparse.ArgumentParser(prog="python -m tools.faults.eeg", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="fault", required=True)
    for name in ("truncate", "units", "annotations", "stim", "gdf"):
        p = sub.add_parser(name)
        p.add_argument("src")
        p.add_argument("dst")
        if name == "truncate":
            p.add_argument("--fraction", type=float, default=0.5)
        elif name == "units":
            p.add_argument("--dimension", default="V")
        elif name == "annotations":
            p.add_argument("--events", required=True, help="onset_s:description,... e.g. 2.5:768,2.5:769")
        elif name == "stim":
            p.add_argument("--signal", required=True)
            p.add_argument("--events", required=True, help="sample:code,... e.g. 400:1,800:2")
        else:
            p.add_argument("--events", default="", help="sample:code,... e.g. 400:768,400:769")
    args = parser.parse_args(argv)
    if args.fault == "truncate":
        truncate(args.src, args.dst, fraction=args.fraction)
    elif args.fault == "units":
        mislabel_units(args.src, args.dst, dimension=args.dimension)
    elif args.fault == "annotations":
        add_annotations(args.src, args.dst, _events(args.events, str))
    elif args.fault == "stim":
        add_stim_channel(args.src, args.dst, args.signal, _events(args.events, int))
    else:
        to_gdf(args.src, args.dst, _events(args.events, int))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
