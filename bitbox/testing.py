"""Conformance checks for processors: :func:`check_processor`.

Every built-in processor passes it in Bitbox's test suite, and a plugin author runs it in
theirs::

    from bitbox.testing import check_processor
    check_processor(MyProcessor, "tests/data/clip.mp4")

It fails with an ``AssertionError`` that says which rule was broken.
"""
from __future__ import annotations

import inspect
import keyword
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from .catalog import Measure
from .errors import ParameterError, RecordingError
from .measurements import ProcessorResult
from .processor import Processor, QualityColumns
from . import kinds
from .recording import Recording

__all__ = ["check_processor", "check_processor_class"]


class _Unusable:
    """A parameter value no constraint accepts."""

    def __repr__(self) -> str:
        return "<unusable value>"


def _check_class(cls: type) -> None:
    assert isinstance(cls, type) and issubclass(cls, Processor), f"{cls!r} is not a bitbox.Processor subclass"
    name = cls.name
    assert isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name) and name.islower(), \
        f"{cls.__name__}.name must be a lower-case identifier; got {name!r}"
    assert isinstance(cls.version, str) and cls.version, f"{cls.__name__}.version must be a non-empty string"
    installed = kinds.available_kinds()
    assert cls.input_kinds and set(cls.input_kinds) <= set(installed), \
        f"{cls.__name__}.input_kinds must be a non-empty subset of the installed kinds {sorted(installed)}; " \
        f"got {cls.input_kinds!r}"
    assert cls.measures, f"{cls.__name__}.measures is empty: declare every output as a Measure"
    seen: set[tuple[str, str]] = set()
    for m in cls.measures:
        assert isinstance(m, Measure), f"{cls.__name__}.measures holds {m!r}, not a Measure"
        assert m.name != "time_s", f"{cls.__name__}: 'time_s' is implicit and must not be catalogued"
        assert (m.kind, m.name) not in seen, f"{cls.__name__}: measure {m.name!r} is declared twice"
        assert m.unit is not None and m.description, f"{cls.__name__}: measure {m.name!r} needs a unit and a " \
                                                     "description"
        seen.add((m.kind, m.name))
    _check_qc(cls)
    _check_constraints(cls)


def _check_qc(cls: type) -> None:
    """The quality-control columns a processor declares (``qc``) are measures of its catalog: the time-series
    ones (``quality``, ``reason``) time-series measures, the summary ones (``detected_fraction``, ``measures``)
    numeric summary measures."""
    qc = cls.qc
    if qc is None:
        return
    assert isinstance(qc, QualityColumns), f"{cls.__name__}.qc must be a bitbox.QualityColumns or None; got {qc!r}"
    for kind, names in qc.columns().items():
        for name in names:
            found = [m for m in cls.measures if m.kind == kind and m.matches(name)]
            assert found, f"{cls.__name__}.qc names {name!r}, which is not a {kind} measure of its catalog"
            assert kind == "timeseries" or found[0].dtype in ("float", "int", "bool"), \
                f"{cls.__name__}.qc names the summary measure {name!r}, a {found[0].dtype}; QC columns are numbers"


def _check_constraints(cls: type) -> None:
    """Every ``__init__`` parameter has constraints, and only those (scikit-learn's check_param_validation)."""
    names = cls._get_param_names()
    constraints = cls._parameter_constraints
    assert isinstance(constraints, dict), \
        f"{cls.__name__}._parameter_constraints must be a dict {{parameter: [constraint, ...]}}; got {constraints!r}"
    unexpected = sorted(set(constraints) - set(names))
    assert not unexpected, \
        f"{cls.__name__}._parameter_constraints names {', '.join(map(repr, unexpected))}, which " \
        f"{'is not an __init__ parameter' if len(unexpected) == 1 else 'are not __init__ parameters'}"
    missing = [name for name in names if name not in constraints]
    assert not missing, \
        f"{cls.__name__}.__init__ parameter(s) {', '.join(map(repr, missing))} have no entry in " \
        "_parameter_constraints: every parameter must declare the values it accepts, e.g. " \
        "[Interval(int, 1, None)], [Options(('a', 'b'))], [PathLike(), NoneOk()] (see bitbox.params)"
    for name, entry in constraints.items():
        assert isinstance(entry, (list, tuple)) and entry, \
            f"{cls.__name__}._parameter_constraints[{name!r}] must be a non-empty list of constraints; got {entry!r}"
        for constraint in entry:
            assert callable(getattr(constraint, "accepts", None)) and callable(getattr(constraint, "describe", None)), \
                f"{cls.__name__}._parameter_constraints[{name!r}] holds {constraint!r}, which is not a constraint " \
                "(an object with accepts(value) and describe(), e.g. bitbox.params.Interval)"


def _check_params(cls: type) -> Processor:
    signature = inspect.signature(cls.__init__)
    for p in list(signature.parameters.values())[1:]:
        assert p.kind == p.KEYWORD_ONLY, f"{cls.__name__}.__init__ parameter {p.name!r} must be keyword-only"
        assert p.default is not p.empty, f"{cls.__name__}.__init__ parameter {p.name!r} needs a default"
    proc = cls()
    defaults = {p.name: p.default for p in list(signature.parameters.values())[1:]}
    params = proc.get_params()
    assert params.keys() == defaults.keys(), f"{cls.__name__}.get_params() keys differ from __init__ parameters"
    for key, value in params.items():
        assert value is defaults[key] or value == defaults[key], \
            f"{cls.__name__}.__init__ must store {key!r} unchanged (scikit-learn rule); got {value!r}"
    extra = set(vars(proc)) - set(params)
    assert not extra, f"{cls.__name__}.__init__ sets {sorted(extra)}: __init__ must only store its parameters"
    clone = cls(**params)
    assert clone.get_params() == params, f"{cls.__name__}: parameters do not round-trip through get_params()"
    try:
        proc.validate_params()
    except ParameterError as err:
        raise AssertionError(f"{cls.__name__}: the default parameters do not pass validate_params(): {err}") from None
    # Validation happens when processing, not in __init__, and gives a ParameterError.
    for pname in cls._parameter_constraints:
        bad = cls(**{**params, pname: _Unusable()})
        try:
            bad.validate_params()
        except ParameterError as err:
            assert pname in str(err), f"{cls.__name__}: the error for a bad {pname!r} does not name it: {err}"
        else:
            raise AssertionError(f"{cls.__name__}.validate_params() accepted an unusable {pname!r}")
    return proc


def _check_wrong_kind(proc: Processor) -> None:
    installed = kinds.available_kinds()
    other = next((k for k in sorted(installed) if k not in proc.input_kinds), None)
    if other is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"not-for-you{sorted(installed[other].extensions)[0]}"
        path.write_bytes(b"bitbox conformance check\n")
        try:
            proc.process(Recording(path, kind=other))
        except RecordingError as err:
            assert str(path) in str(err), f"{proc.name}: the wrong-kind error does not name the file: {err}"
        else:
            raise AssertionError(f"{proc.name} accepted a {other} recording although input_kinds is "
                                 f"{proc.input_kinds}")


def _assert_same(a: ProcessorResult, b: ProcessorResult, what: str) -> None:
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries, check_exact=True, obj=f"{what}: time series")
    assert a.summary.keys() == b.summary.keys(), f"{what}: summary keys differ"
    for key, value in a.summary.items():
        other = b.summary[key]
        same = (value == other) or (value != value and other != other)  # NaN == NaN here
        assert same, f"{what}: summary {key!r} differs ({value!r} vs {other!r})"
    assert a.curves == b.curves, f"{what}: curves differ"


def check_processor_class(processor: type | Processor) -> None:
    """The checks of :func:`check_processor` that need no recording: class attributes, catalog and parameters.

    The quality-control columns it declares (``qc``) must be measures of its catalog. Every ``__init__``
    parameter must be keyword-only with a default, stored unchanged, and have an
    entry in ``_parameter_constraints`` (a list of constraints from :mod:`bitbox.params` or objects
    with ``accepts``/``describe``); the defaults must pass :meth:`~bitbox.Processor.validate_params`,
    and an unusable value of each parameter must fail it with a :class:`~bitbox.ParameterError`
    naming the parameter.

    Parameters
    ----------
    processor : Processor subclass or instance
        The processor to check; for an instance, its class is checked (its parameter values
        play no part).

    Raises
    ------
    AssertionError
        Saying which rule was broken.
    """
    cls = processor if isinstance(processor, type) else type(processor)
    _check_class(cls)
    _check_params(cls)


def check_processor(processor: type | Processor, recording: str | Path, **params: Any) -> ProcessorResult:
    """Check that a processor follows Bitbox's rules, running it on ``recording``.

    Checks: class attributes and catalog (the ``qc`` columns among its measures); keyword-only
    parameters with defaults, stored unchanged by ``__init__`` and round-tripping through
    ``get_params``; constraints for every parameter (``_parameter_constraints``), which the
    defaults pass; validation that names the bad parameter; refusal of a recording of the wrong
    kind; outputs that match the catalog, with ``time_s``; complete provenance; identical results
    (curves included) on a second run; a parquet/JSON round trip that reads back identical; and
    :meth:`~bitbox.Processor.report_events` of the result read back giving its four columns.

    Parameters
    ----------
    processor : Processor subclass or instance
        The processor to check. Its class is checked; the run uses a new object of the class, with
        an instance's parameter values when an instance is given (the instance itself is not run).
    recording : path
        A small recording of a kind the processor reads.
    **params
        Parameters for the run (e.g. to make it faster); they override an instance's values.

    Returns
    -------
    ProcessorResult
        The result of the run, for further checks.

    Raises
    ------
    AssertionError
        Saying which rule was broken.
    """
    cls = processor if isinstance(processor, type) else type(processor)
    _check_class(cls)
    proc = _check_params(cls)
    proc.set_params(**(processor.get_params() if isinstance(processor, Processor) else {}), **params)
    _check_wrong_kind(proc)

    result = proc.process(Recording(recording))
    frame = result.timeseries
    assert "time_s" in frame.columns, f"{cls.name}: the time series has no 'time_s' column"
    known = frame["time_s"].dropna()  # NaN where a recording has no time axis (e.g. plain text)
    assert known.is_monotonic_increasing, f"{cls.name}: time_s is not increasing"
    for key in ("processor", "processor_version", "parameters", "input_sha256", "package_versions",
                "started_utc", "finished_utc"):
        assert key in result.provenance, f"{cls.name}: provenance lacks {key!r}"
    assert result.provenance["parameters"] == proc.get_params(), f"{cls.name}: provenance parameters differ"
    assert result.provenance["input_sha256"] == Recording(recording).sha256

    again = proc.process(Recording(recording))
    _assert_same(result, again, f"{cls.name}: two runs on the same input")

    with tempfile.TemporaryDirectory() as tmp:
        result.write(tmp)
        back = ProcessorResult.read(tmp, cls.name)
    _assert_same(result, back, f"{cls.name}: written and read back")
    events = cls.report_events(back)
    assert list(events.columns) == ["onset_s", "duration_s", "label", "text"], \
        f"{cls.name}.report_events() gave the columns {list(events.columns)}; expected onset_s, duration_s, label, text"
    return result
