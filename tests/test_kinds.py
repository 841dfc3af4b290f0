"""The kind registry (bitbox.kinds): declared kinds, content sniffing, broken and duplicate kinds, FIFOs,
pickling, and the default processor of each kind (bitbox.registry.default_processors)."""
from __future__ import annotations

import os
import pickle
import threading
from importlib import metadata
from pathlib import Path

import pytest

import bitbox
from bitbox import kinds, registry
from bitbox.batch import discover
from bitbox.errors import PluginError, ProcessorNotFoundError, RecordingError
from bitbox.kinds import Kind


def _is_log(path: Path) -> bool:
    """A sniffer: a ``.log`` file whose first line says ``SAMPLES``."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.readline(100).startswith("SAMPLES")


SAMPLES = Kind("samples", extensions=(".log",), description="test samples", can_open=_is_log)
PLAIN = Kind("plain", extensions=(".log",), description="any .log file")
LAMBDA = Kind("lam", extensions=(".lam",), description="sniffed by a lambda", can_open=lambda path: True)
NOT_A_KIND = "just a string"


@pytest.fixture
def with_kinds(monkeypatch):
    """The installed kinds plus the given test ones (module:attribute of this file)."""
    real = list(metadata.entry_points(group=kinds.ENTRY_POINT_GROUP))

    def install(**extra: str) -> None:
        eps = real + [metadata.EntryPoint(name=name, value=f"tests.test_kinds:{value}", group=kinds.ENTRY_POINT_GROUP)
                      for name, value in extra.items()]
        monkeypatch.setattr(kinds.metadata, "entry_points", lambda group: eps if group == kinds.ENTRY_POINT_GROUP
                            else metadata.entry_points(group=group))
        kinds.refresh()

    yield install
    monkeypatch.undo()
    kinds.refresh()


def test_the_built_in_kinds_are_declared_by_the_processors():
    installed = kinds.available_kinds()
    assert {"video", "audio", "eeg", "text"} <= set(installed)
    assert installed["video"].streams == {"video", "audio"} and installed["eeg"].streams == frozenset()
    assert kinds.kind_of("Interview.MP4") == "video" and kinds.kind_of("notes.xyz") is None
    assert ".edf" in kinds.extensions("eeg") and kinds.broken_kinds() == {}


@pytest.mark.parametrize("bad, message", [
    (dict(name="Gaze", extensions=(".csv",)), "lower-case identifier"),
    (dict(name="gaze", extensions=("csv",)), "with the dot"),
    (dict(name="gaze", extensions=()), "at least one"),
    (dict(name="gaze", extensions=(".csv",), streams=("frames",)), "streams are among"),
])
def test_a_kind_is_checked_when_declared(bad, message):
    with pytest.raises(ValueError, match=message):
        Kind(**bad)


def test_sniffing_decides_between_kinds_and_refuses_other_files(with_kinds, tmp_path):
    with_kinds(samples="SAMPLES")
    good, other = tmp_path / "a.log", tmp_path / "b.log"
    good.write_text("SAMPLES 1 2 3\n")
    other.write_text("a server log\n")
    assert kinds.kind_of(good) == "samples" and kinds.kind_of(other) is None
    with pytest.raises(RecordingError, match=r"is not a samples recording \(test samples\) although its extension"):
        bitbox.Recording(other)
    with_kinds(samples="SAMPLES", plain="PLAIN")  # a kind that sniffs wins over one that only knows the extension
    assert kinds.kind_of(good) == "samples" and kinds.kind_of(other) == "plain"


def test_broken_and_duplicate_kinds_are_reported_not_fatal(with_kinds):
    with_kinds(nokind="NOT_A_KIND", missing="NO_SUCH_NAME")
    broken = kinds.broken_kinds()
    assert "is not a bitbox.kinds.Kind object" in broken["nokind"]
    assert "could not be loaded: AttributeError" in broken["missing"]
    assert "video" in kinds.available_kinds()  # the others still work
    with pytest.raises(PluginError, match="could not be loaded"):
        kinds.get_kind("missing")
    with_kinds(video="SAMPLES")  # a second package claiming "video"
    assert "registered more than once" in kinds.broken_kinds()["video"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_never_opened_to_sniff_it(with_kinds, tmp_path):
    with_kinds(samples="SAMPLES")
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "pipe.log")
    (folder / "good.log").write_text("SAMPLES 1\n")
    found: list = []
    worker = threading.Thread(target=lambda: found.append(discover([folder], ["samples"])), daemon=True)
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), "discovery blocked on the FIFO"
    jobs, _ = found[0]
    assert sorted(job.recording_id for job in jobs) == ["good", "pipe"]  # the FIFO is a job: refused with a reason
    with pytest.raises(RecordingError, match="named pipe"):
        bitbox.Recording(folder / "pipe.log")


def test_a_recording_pickles_whatever_its_kind_sniffs_with(with_kinds, tmp_path):
    with_kinds(lam="LAMBDA")
    path = tmp_path / "a.lam"
    path.write_text("anything\n")
    recording = bitbox.Recording(path)
    with pytest.raises(Exception):
        pickle.dumps(LAMBDA)  # the kind itself does not pickle ...
    again = pickle.loads(pickle.dumps(recording))  # ... its recordings do: the kind travels by name
    assert again.kind == "lam" and again.kind_info is kinds.get_kind("lam") and again.path == path


def test_every_kind_has_one_default_processor_and_conflicts_are_listed(monkeypatch):
    assert {kind: registry.default_processors(kind) for kind in ("video", "audio", "eeg", "text")} == {
        "video": ("face",), "audio": ("speech",), "eeg": ("eeg",), "text": ("language",)}

    class Rival(registry.get_processor_class("pose")):
        default_for = ("video",)
    Rival.__module__ = "a_plugin"
    classes = {**registry.processor_classes(), "aface": Rival}
    monkeypatch.setattr(registry, "processor_classes", lambda: classes)
    registry._defaults.cache_clear()
    try:
        assert registry.default_processors("video") == ("face",)  # a built-in wins over a plugin's claim
        assert registry.default_conflicts() == {"video": ("face", "aface")}
    finally:
        registry._defaults.cache_clear()


def test_no_default_names_the_file_the_readers_and_the_broken(monkeypatch, tmp_path):
    monkeypatch.setattr(registry, "_defaults", lambda: {})
    monkeypatch.setattr(registry, "broken_plugins", lambda: {"face": "could not be loaded: ImportError: no mediapipe"})
    path = tmp_path / "clip.wav"
    path.write_bytes(b"RIFF....")
    with pytest.raises(ProcessorNotFoundError) as err:
        bitbox.process(path)
    text = str(err.value)
    assert str(path) in text and "No processor is the default for audio recordings" in text
    assert "those that read audio: language, narrative, speakers, speech, voice_windows" in text
    assert "Installed but broken: face: could not be loaded: ImportError: no mediapipe" in text
