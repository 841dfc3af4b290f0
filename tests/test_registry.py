"""Entry-point discovery: built-ins, unknown names, broken and duplicate plugins."""
from __future__ import annotations

from importlib import metadata

import pytest

import bitbox
from bitbox import registry
from bitbox.errors import PluginError, ProcessorNotFoundError
from bitbox.processors.face import FaceProcessor


@pytest.fixture
def fake_entry_points(monkeypatch):
    """Replace the installed entry points by the given ones for one test."""

    def install(*eps: metadata.EntryPoint) -> None:
        monkeypatch.setattr(registry.metadata, "entry_points", lambda group: list(eps))
        registry.refresh()

    yield install
    monkeypatch.undo()
    registry.refresh()


def _ep(name: str, value: str) -> metadata.EntryPoint:
    return metadata.EntryPoint(name=name, value=value, group=registry.ENTRY_POINT_GROUP)


def test_face_is_registered_through_its_entry_point():
    assert "face" in bitbox.available_processors()
    assert bitbox.get_processor_class("face") is FaceProcessor
    proc = bitbox.make_processor("face", frame_step=2)
    assert isinstance(proc, FaceProcessor) and proc.frame_step == 2


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ProcessorNotFoundError, match="No processor named 'fce'. Did you mean 'face'"):
        bitbox.get_processor_class("fce")


def test_broken_plugin_is_reported(fake_entry_points):
    fake_entry_points(_ep("face", "bitbox.processors.face:FaceProcessor"),
                      _ep("ghost", "bitbox_no_such_module:Ghost"),
                      _ep("notaproc", "bitbox.recording:Recording"))
    assert bitbox.available_processors() == ["face", "ghost", "notaproc"]
    with pytest.raises(PluginError, match="'ghost' .* could not be loaded: ModuleNotFoundError"):
        bitbox.get_processor_class("ghost")
    with pytest.raises(PluginError, match="is not a subclass of bitbox.Processor"):
        bitbox.get_processor_class("notaproc")
    assert set(registry.broken_plugins()) == {"ghost", "notaproc"}


def test_duplicate_names_are_an_error(fake_entry_points):
    fake_entry_points(_ep("face", "bitbox.processors.face:FaceProcessor"),
                      _ep("face", "other_package:FaceProcessor"))
    with pytest.raises(PluginError, match="registered more than once"):
        bitbox.get_processor_class("face")


def test_name_must_match_the_class(fake_entry_points):
    fake_entry_points(_ep("mouth", "bitbox.processors.face:FaceProcessor"))
    with pytest.raises(PluginError, match="registered as 'mouth' but its class says name = 'face'"):
        bitbox.get_processor_class("mouth")
