"""The public API's docstrings follow numpydoc (numpydoc.validate, as numpydoc's own docstring hook runs it).

What is checked: every name of ``bitbox.__all__`` (functions, classes and their public methods and
properties), the public functions and classes of :mod:`bitbox.analysis`, the built-in processors (each
registered :class:`~bitbox.Processor` subclass: its class docstring, which documents the parameters a user
sets, and its public methods) and the ``__all__`` of every clinical module.

The checks enforced (``CHECKS``) are the ones a reader of the reference relies on: there is a docstring
(GL08), its sections are well formed and in order (GL01, GL03, GL05-GL07, GL09, GL10), the summary is a
capitalised sentence ending with a period (SS01-SS04), every parameter is documented, with a type and a
description, under its real name and in signature order (PR01-PR10), a Returns/Yields section when there is
one is well formed (RT02-RT05, YD01) and See Also entries are (SA02-SA04).

Left out, because the project's style deliberately differs:

- GL02: a one- or two-line docstring closes its quotes on the text line.
- SS05: summaries are often noun phrases ("The catalog of ...", "Whether ...", "Names of ..."), and SS05
  reads a plural noun as a third-person verb.
- SS06: a summary sentence may wrap at the 120-column line limit.
- ES01, EX01, SA01: an extended summary, examples and See Also where they help, not on every method.
- RT01: a short method says what it returns in its summary ("The catalog as a table") rather than in a
  Returns section.

A method that overrides a documented base-class method (``Processor.compute``, ``skip_reason`` ...) may go
without a docstring (it inherits the base's, as Sphinx's autodoc shows it), and its parameters are
documented by the base (PR01 is not required of it). PR01 is not required either of an exception class
that inherits its ``__init__`` (``RecordingError(path, reason, hint)`` is documented by ``FileProblem``),
nor of a :class:`typing.Protocol` (never instantiated: the ``(*args, **kwargs)`` of its signature are
typing's; its docstring says how it is called). A data class (dataclass, NamedTuple) may document its
fields as ``Attributes`` instead of ``Parameters``.

There is no list of tolerated failures: any failure of an enforced check fails the test.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpydoc.docscrape
import numpydoc.validate

import bitbox
import bitbox.analysis
import bitbox.clinical
from bitbox.registry import available_processors, get_processor_class

CHECKS = frozenset({
    "GL01", "GL03", "GL05", "GL06", "GL07", "GL08", "GL09", "GL10",
    "SS01", "SS02", "SS03", "SS04",
    "PR01", "PR02", "PR03", "PR04", "PR05", "PR06", "PR07", "PR08", "PR09", "PR10",
    "RT02", "RT03", "RT04", "RT05", "YD01",
    "SA02", "SA03", "SA04",
})


def _members(cls: type, path: str) -> list[tuple[str, object]]:
    """(dotted name, object) of the public methods and properties ``cls`` defines itself."""
    out = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if inspect.isfunction(value) or isinstance(value, (property, classmethod, staticmethod)):
            out.append((f"{path}.{name}", (cls, name)))
    return out


def _with_members(path: str, obj: object) -> list[tuple[str, object]]:
    names = [(path, obj)]
    if inspect.isclass(obj) and not issubclass(obj, BaseException):
        names += _members(obj, path)
    return names


#: Public modules of the core whose ``__all__`` is checked besides ``bitbox.__all__``.
TOOLKIT = ("bitbox.kinds", "bitbox.io", "bitbox.provenance", "bitbox.export", "bitbox.params", "bitbox.cache",
           "bitbox.processor", "bitbox.registry", "bitbox.measurements", "bitbox.recording", "bitbox.report",
           "bitbox.testing")


def public_names() -> dict[str, object]:
    """Dotted name -> object (or ``(class, member name)``) of every name checked."""
    names: list[tuple[str, object]] = []
    for name in bitbox.__all__:
        obj = getattr(bitbox, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            names += _with_members(f"bitbox.{name}", obj)
    for name in bitbox.analysis.__all__:
        obj = getattr(bitbox.analysis, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            names += _with_members(f"bitbox.analysis.{name}", obj)
    for module_name in TOOLKIT:  # the public modules plugins and clinical code build on
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                names += _with_members(f"{obj.__module__}.{obj.__qualname__}", obj)
    for name in available_processors():
        cls = get_processor_class(name)
        if cls.__module__.startswith("bitbox.processors."):  # built-ins, not plugins installed beside them
            names += _with_members(f"{cls.__module__}.{cls.__qualname__}", cls)
    for info in pkgutil.walk_packages(bitbox.clinical.__path__, "bitbox.clinical."):
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__:
                names += _with_members(f"{module.__name__}.{name}", obj)
    return dict(names)


def _overrides(member: object) -> bool:
    """Whether ``(class, name)`` overrides a method a base class documents."""
    if not isinstance(member, tuple):
        return False
    cls, name = member
    return any(name in vars(base) and inspect.getdoc(getattr(base, name)) for base in cls.__mro__[1:-1])


def _params_documented_elsewhere(obj: object) -> bool:
    """Whether a class's parameters are documented by a base class or as its ``Attributes``."""
    if not inspect.isclass(obj):
        return False
    if issubclass(obj, BaseException) and "__init__" not in vars(obj):
        return True  # the base exception that defines __init__ documents it
    if getattr(obj, "_is_protocol", False):
        return True  # a typing.Protocol is never instantiated: its (*args, **kwargs) are typing's, not parameters
    attributes = numpydoc.docscrape.ClassDoc(obj, config={"show_class_members": False})["Attributes"]
    documented = {name.strip() for item in attributes for name in item.name.split(",")}
    return bool(documented) and set(inspect.signature(obj).parameters) <= documented


def failures() -> set[tuple[str, str]]:
    """(name, "CODE: message") of every enforced check that fails."""
    out = set()
    for path, obj in public_names().items():
        override = _overrides(obj)
        if override and not getattr(*obj).__doc__:
            continue  # no docstring of its own: it shows the base's (checked there)
        skip = {"GL08", "PR01"} if override else {"PR01"} if _params_documented_elsewhere(obj) else set()
        for code, message in numpydoc.validate.validate(path)["errors"]:
            if code in CHECKS and code not in skip:
                out.add((path, f"{code}: {message}"))
    return out


def test_the_public_api_follows_numpydoc():
    found = sorted(failures())
    assert not found, "numpydoc: " + "\n".join(f"{name}: {message}" for name, message in found)


def test_every_kind_of_public_name_is_checked():
    names = public_names()
    assert "bitbox.process" in names and "bitbox.Measurements.plot" in names
    assert "bitbox.processors.face.processor.FaceProcessor" in names
    assert any(name.startswith("bitbox.analysis.") for name in names)
    assert any(name.startswith("bitbox.clinical.hba.") for name in names)
