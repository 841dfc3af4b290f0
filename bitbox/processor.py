"""The :class:`Processor` base class that every processor, built-in or plugin, derives from.

A processor turns one :class:`~bitbox.recording.Recording` into a time series and a
summary of catalogued measures. It follows scikit-learn's parameter rules:

- ``__init__`` takes keyword-only parameters with defaults and only stores them;
- :meth:`get_params` / :meth:`set_params` round-trip, and the parameters go verbatim into
  the provenance of every output;
- parameters are validated when :meth:`process` runs, against ``_parameter_constraints``.

A subclass declares ``name``, ``version``, ``input_kinds``, ``measures`` and implements
:meth:`compute`::

    class Luminance(Processor):
        name = "luminance"
        version = "1.0"
        input_kinds = ("video",)
        measures = (Measure("luminance", "1", "Mean grey level / 255", valid_range=(0, 1)),)
        _parameter_constraints = {"step": [Interval(int, 1, None)]}

        def __init__(self, *, step=1):
            self.step = step

        def compute(self, recording, sink, progress=None):
            for frame in recording.iter_frames(step=self.step):
                sink.append(pd.DataFrame({"time_s": [frame.time_s],
                                          "luminance": [frame.rgb.mean() / 255]}))
            return {}

A processor that measures several parts of one recording (e.g. several people in one
shot) declares ``row_key`` (the name of the column that tells the parts apart in
``summary.csv``, e.g. ``"person"``) and ``row_key_description`` (its codebook text), and
returns a :class:`RowSummaries` from :meth:`compute`: the main summary (what a consumer of
one row per recording reads) carrying a complete summary per part in ``.rows``.
"""
from __future__ import annotations

import abc
import datetime as _dt
import functools
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Protocol, Sequence

import numpy as np
import pandas as pd

from .cache import Cache
from .catalog import Measure, validate_summary, validate_timeseries
from .events import EVENT_COLUMNS, events_frame
from .errors import ParameterError, RecordingError
from .fileio import atomic_path, confined
from .measurements import Curve, MemorySink, ProcessorResult
from .params import ParamsMixin
from .recording import Recording, sha256_file

__all__ = ["Processor", "ProgressCallback", "Summary", "RowSummaries", "QualityColumns", "EVENT_COLUMNS",
           "events_frame", "run_order", "package_versions",
           "NOTES_SEPARATOR", "join_notes", "split_notes"]

#: Between the notes of a ``notes`` summary measure (a note may itself contain "; " or ", ").
NOTES_SEPARATOR = " | "


def join_notes(notes) -> str:
    """The ``notes`` summary value: the non-empty notes joined by :data:`NOTES_SEPARATOR` (``""`` for none).

    Parameters
    ----------
    notes : iterable of str
        The notes (empty ones are left out).

    Returns
    -------
    str
        The joined notes.
    """
    return NOTES_SEPARATOR.join(note for note in notes if note)


def split_notes(text: object) -> list[str]:
    """The notes of a ``notes`` summary value (``[]`` for ``""`` or a missing value).

    Parameters
    ----------
    text : object
        A ``notes`` value (a str made by :func:`join_notes`; anything else has no notes).

    Returns
    -------
    list of str
        The notes.
    """
    return [note.strip() for note in text.split(NOTES_SEPARATOR) if note.strip()] if isinstance(text, str) else []

@dataclass(frozen=True)
class QualityColumns:
    """Where a processor's quality control is, for the report and the batch (see :attr:`Processor.qc`).

    Parameters
    ----------
    quality : str
        A time-series column of per-row quality in [0, 1]; the report shades the rows below
        :attr:`low` on its time-series plot. ``""``: none.
    reason : str
        A time-series column naming why a row's quality is reduced; the report tallies it. ``""``: none.
    detected_fraction : tuple of str
        Summary measures giving the fraction of rows where the thing measured was found (e.g.
        ``face_detected_fraction``): the cohort report's QC columns.
    low : float
        Quality below this is low.
    measures : tuple of str
        Summary measures of the recording's quality besides ``detected_fraction`` (e.g. a speech
        signal-to-noise ratio, the fraction of bad EEG channels): more QC columns of the cohort report.
    """

    quality: str = ""
    reason: str = ""
    detected_fraction: tuple[str, ...] = ()
    low: float = 0.5
    measures: tuple[str, ...] = ()

    def columns(self) -> dict[str, tuple[str, ...]]:
        """The columns it names, by where they are: ``"timeseries"`` (``quality``, ``reason``) and ``"summary"``
        (``detected_fraction`` and ``measures``).

        Returns
        -------
        dict of str to tuple of str
            The non-empty names of each kind.
        """
        return {"timeseries": tuple(c for c in (self.quality, self.reason) if c),
                "summary": (*self.detected_fraction, *self.measures)}


class Summary(dict):
    """A summary (this dict) with the :class:`~bitbox.measurements.Curve` s the report draws for the recording.

    :meth:`Processor.compute` may return one instead of a plain dict to give its result
    :attr:`~bitbox.measurements.ProcessorResult.curves` (e.g. the EEG power spectrum).

    Parameters
    ----------
    main : mapping
        The summary (``{measure: value}``).
    curves : mapping of str to Curve
        The curves by name.

    Examples
    --------
    >>> from bitbox.measurements import Curve
    >>> s = Summary({"n": 3.0}, curves={"c": Curve([0.0], {"a": [1.0]}, "t", "s", "v", "1", "C")})
    >>> s["n"], list(s.curves)
    (3.0, ['c'])
    """

    def __init__(self, main: Mapping[str, Any] | None = None, *, curves: Mapping[str, Any] | None = None) -> None:
        super().__init__(main or {})
        self.curves: dict[str, Any] = dict(curves or {})

    def __repr__(self) -> str:
        return f"Summary({dict(self)!r}, curves={list(self.curves)!r})"

    def __reduce__(self):  # pickled with its curves (worker processes, Dask)
        return (_rebuilt, (type(self), dict(self), dict(vars(self))))


def _rebuilt(cls: type, main: dict, state: dict) -> "Summary":
    summary = cls(main)
    summary.__dict__.update(state)
    return summary


class RowSummaries(Summary):
    """A summary split into parts: the main summary (this dict) and one summary per part (``rows``).

    A processor that measures several parts of one recording (e.g. every person in a shot)
    returns one from :meth:`Processor.compute`. The dict itself is the main summary, the one
    a consumer of one row per recording reads (e.g. the largest person's); ``rows`` maps each
    part's id (an ``int`` or a non-empty ``str``) to that part's complete summary. Every summary,
    the main one and each row's, is checked against the processor's catalog. The batch writes
    one ``summary.csv`` row per part, with the part's id in the column named by the processor's
    :attr:`Processor.row_key`.

    Parameters
    ----------
    main : mapping
        The main summary (``{measure: value}``).
    rows : mapping
        ``{part id: {measure: value}}``, one complete summary per part.
    curves : mapping of str to Curve
        Curves for the report (see :class:`Summary`).

    Examples
    --------
    >>> s = RowSummaries({"n": 3.0}, {0: {"n": 3.0}, 1: {"n": 1.0}})
    >>> s["n"], sorted(s.rows)
    (3.0, [0, 1])
    """

    def __init__(self, main: Mapping[str, Any] | None = None,
                 rows: Mapping[int | str, Mapping[str, Any]] | None = None, *,
                 curves: Mapping[str, Any] | None = None) -> None:
        super().__init__(main, curves=curves)
        self.rows: dict[int | str, dict[str, Any]] = {key: dict(summary) for key, summary in (rows or {}).items()}

    def __repr__(self) -> str:
        return f"RowSummaries({dict(self)!r}, rows={self.rows!r})"


def _checked_curves(processor: "Processor", computed: Mapping[str, Any]) -> dict[str, Curve]:
    """The curves of what ``compute`` returned (``{}`` for a plain dict), checked to be named :class:`Curve` s."""
    curves = dict(getattr(computed, "curves", None) or {})
    for key, curve in curves.items():
        if not isinstance(key, str) or not key or not isinstance(curve, Curve):
            raise RuntimeError(f"Processor {processor.name!r} returned a curve {key!r}: {type(curve).__name__}; "
                               "curves are bitbox.measurements.Curve objects under non-empty text names.")
    return curves


def _checked_rows(processor: "Processor", computed: Mapping[str, Any]) -> dict[int | str, dict[str, Any]]:
    """The per-part summaries of what ``compute`` returned (``{}`` for a plain dict), checked:
    part ids are ``int`` (numpy integers become ``int``) or non-empty ``str``, the processor declares
    a ``row_key``, and every part's summary is valid against the catalog."""
    rows = getattr(computed, "rows", None)
    if not rows:
        return {}
    name = processor.name
    if not processor.row_key:
        raise RuntimeError(f"Processor {name!r} returned per-part summaries (RowSummaries.rows) but declares no "
                           "row_key. Set the class attribute row_key (the summary.csv column naming the parts, "
                           "e.g. 'person').")
    checked: dict[int | str, dict[str, Any]] = {}
    for key, summary in rows.items():
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer, str)) or key == "":
            raise RuntimeError(f"Processor {name!r} returned a part id {key!r} ({type(key).__name__}); part ids "
                               "are integers or non-empty strings.")
        key = int(key) if isinstance(key, np.integer) else key
        if str(key) in {str(k) for k in checked}:
            raise RuntimeError(f"Processor {name!r} returned the part id {key!r} twice.")
        summary = dict(summary)
        validate_summary(name, processor.catalog_measures(), summary)
        checked[key] = summary
    return checked


#: ``progress(done, total)``: called by long steps; ``total`` may be ``None`` when unknown.
ProgressCallback = Callable[[int, "int | None"], None]

_CORE_PACKAGES = ("bitbox", "numpy", "pandas", "pyarrow", "scipy")


def run_order(processors: Sequence["Processor"]) -> list["Processor"]:
    """The processors in the order given, except that each runs after those it :attr:`~Processor.uses`.

    Parameters
    ----------
    processors : sequence of Processor
        The processors to run on one recording, in the order asked for. A name in
        :attr:`~Processor.uses` that is not among them (or the processor's own) does not constrain
        the order.

    Returns
    -------
    list of Processor
        The same processors (the objects themselves), each after those it uses; otherwise in the
        given order.

    Raises
    ------
    ParameterError
        When processors use each other in a cycle.
    """
    pending = list(processors)
    names = {p.name for p in pending}
    ordered: list[Processor] = []
    done: set[str] = set()
    while pending:
        ready = next((p for p in pending if all(u in done or u not in names or u == p.name for u in p.uses)), None)
        if ready is None:
            raise ParameterError("These processors use each other's results in a cycle: "
                                 + ", ".join(f"{p.name} uses {', '.join(p.uses)}" for p in pending))
        ordered.append(ready)
        done.add(ready.name)
        pending.remove(ready)
    return ordered


class TimeSeriesSink(Protocol):
    def append(self, chunk: pd.DataFrame) -> None: ...


def package_versions(names: tuple[str, ...] = ()) -> dict[str, str]:
    """Installed versions of Bitbox's core packages and of ``names`` (sorted, for provenance).

    Parameters
    ----------
    names : tuple of str, default ()
        Distribution names to add to the core ones (``bitbox``, ``numpy``, ``pandas``, ``pyarrow``,
        ``scipy``), e.g. a processor's :attr:`~Processor.dependencies`.

    Returns
    -------
    dict of str to str
        Package name -> version, ``"python"`` -> the interpreter's version, and ``"not installed"``
        for a package that is missing; sorted by name.
    """
    versions = {"python": platform.python_version()}
    for name in (*_CORE_PACKAGES, *names):
        versions[name] = _installed_version(name)
    return dict(sorted(versions.items()))


@functools.lru_cache(maxsize=None)
def _installed_version(name: str) -> str:
    """A distribution's version, read once per process: every output of a run states the same versions, and a
    run whose user cannot read the environment's metadata later (a batch run under another user id, a
    sandbox) still has them."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class _ValidatingSink:
    """Checks every chunk against the catalog and the time axis before passing it on."""

    def __init__(self, inner: TimeSeriesSink, processor: "Processor") -> None:
        self.inner = inner
        self.processor = processor
        self.n_rows = 0
        self._last_time = -float("inf")
        self._columns: list[str] | None = None

    def append(self, chunk: pd.DataFrame) -> None:
        name = self.processor.name
        validate_timeseries(name, self.processor.catalog_measures(), chunk)
        columns = list(chunk.columns)
        if self._columns is None:
            self._columns = columns
        elif columns != self._columns:
            raise RuntimeError(f"Processor {name!r} changed its time-series columns between chunks.")
        times = chunk["time_s"].to_numpy(dtype=float)
        if len(times) and (times[0] < self._last_time or (len(times) > 1 and (times[1:] < times[:-1]).any())):
            raise RuntimeError(f"Processor {name!r} produced time_s values that go backwards.")
        if len(times):
            self._last_time = times[-1]
        self.inner.append(chunk)
        self.n_rows += len(chunk)


#: ``Processor.catalog_measures()`` per (class, name, measures object).
_CATALOG_CACHE: Cache[tuple[Measure, ...]] = Cache("processor catalogs")


class Processor(ParamsMixin, abc.ABC):
    """Base class of Bitbox processors (see the module docstring for how to write one)."""

    #: Registry name (the entry-point name), e.g. ``"face"``.
    name: ClassVar[str] = ""
    #: Version of the processor's method; part of the provenance and of the resume check.
    version: ClassVar[str] = "0"
    #: Recording kinds the processor accepts.
    input_kinds: ClassVar[tuple[str, ...]] = ()
    #: The catalogued measures it produces (time series and summary).
    measures: ClassVar[tuple[Measure, ...]] = ()
    #: Python distributions whose versions go into the provenance.
    dependencies: ClassVar[tuple[str, ...]] = ()
    #: Measures plotted by default by :meth:`Measurements.plot`.
    plot_measures: ClassVar[tuple[str, ...]] = ()
    #: The ``summary.csv`` column that tells apart the parts of a recording whose :meth:`compute` returns a
    #: :class:`RowSummaries` (e.g. ``"person"``); ``""``: the processor never splits a recording.
    row_key: ClassVar[str] = ""
    #: What the ``row_key`` column holds, for the batch's ``codebook.csv``.
    row_key_description: ClassVar[str] = ""
    #: Names of processors whose results this one reads when they run on the same recording in the same
    #: call or batch: they run first, and their :class:`~bitbox.measurements.ProcessorResult` are in
    #: ``recording.upstream`` (e.g. ``("speakers",)`` for a processor that splits its measures by speaker).
    uses: ClassVar[tuple[str, ...]] = ()
    #: A regular expression of the prefixes of summary keys the processor gives per part as columns
    #: (``r"S[1-9]\d*|target"`` for ``S1_talk_time_s``, ``target_talk_time_s``): the report shows them as a
    #: table with a column per part. ``""``: none.
    part_columns: ClassVar[str] = ""
    #: What those parts are, for the report (``"speaker"``).
    part_name: ClassVar[str] = ""
    #: Files besides the time series and summary that the batch writes into the recording's folder
    #: (e.g. ``("speakers.rttm",)``); :meth:`output_files` makes their content.
    extra_outputs: ClassVar[tuple[str, ...]] = ()
    #: Recording kinds this processor is the default for: what :func:`bitbox.process` runs on such a recording
    #: when no processor is named (e.g. ``("video",)`` for ``face``). One processor per kind.
    default_for: ClassVar[tuple[str, ...]] = ()
    #: Companion files it reads beside a recording, ``{companion kind: recording kinds}``: a file of the
    #: companion kind with the same name (stem) as a recording of one of those kinds is part of that recording
    #: (e.g. a transcript ``talk.txt`` beside ``talk.wav``: ``{"text": ("audio", "video")}``), so a batch running
    #: this processor does not process it as a recording of its own. See :meth:`companion_files`.
    companions: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    #: Its quality-control columns, for the report and the batch's QC table (``None``: it has none).
    qc: ClassVar["QualityColumns | None"] = None
    #: Time-series measures :func:`bitbox.dyad` compares between two people by default (``()``: it has none).
    dyad_measures: ClassVar[tuple[str, ...]] = ()
    #: Among the processors two recordings share, :func:`bitbox.dyad` takes by default the one with the
    #: highest preference that declares :attr:`dyad_measures`.
    dyad_preference: ClassVar[int] = 0
    #: ``{parameter: [constraint, ...]}`` checked by :meth:`validate_params`.
    _parameter_constraints: ClassVar[dict[str, list]] = {}

    # ------------------------------------------------------------------ parameters
    # _get_param_names, get_params, set_params, validate_params and __repr__ come from
    # bitbox.params.ParamsMixin (the one parameter protocol of processors and models).

    # ------------------------------------------------------------------ catalog
    @classmethod
    def catalog_measures(cls) -> tuple[Measure, ...]:
        """The processor's measures, attributed to its name (made once per class and name)."""
        return _CATALOG_CACHE.get_or_create((cls, cls.name, id(cls.measures)),
                                            lambda: tuple(m.with_processor(cls.name) for m in cls.measures))

    @classmethod
    def units(cls) -> dict[str, str]:
        """Units of the (non-pattern) measures, by name (call it on the class: a processor may have a
        parameter named ``units``, as the EEG processor does)."""
        return {m.name: m.unit for m in cls.measures if not m.pattern}

    @classmethod
    def plot_result(cls, result: ProcessorResult):
        """A figure of one result for :meth:`Measurements.plot` when no measures are named, for
        processors whose outputs are not best seen over time (``None``: plot ``plot_measures``
        over time, the default).

        Parameters
        ----------
        result : ProcessorResult
            A result of this processor.

        Returns
        -------
        matplotlib.figure.Figure | None
            The figure, or ``None`` for the default plot.
        """
        return None

    @classmethod
    def report_events(cls, result: ProcessorResult) -> pd.DataFrame:
        """The events of one result that the report marks on the recording's time axis (e.g. blinks, pauses).

        Made from the result's own data (its time series and summary), so it works on a result read back
        from disk. The default is none (an empty frame); :func:`events_frame` makes one.

        Parameters
        ----------
        result : ProcessorResult
            A result of this processor.

        Returns
        -------
        pandas.DataFrame
            One row per event, sorted by onset: ``onset_s`` (float, seconds from the recording's start),
            ``duration_s`` (float, 0 for an instant), ``label`` (str, the event's kind, e.g. ``"blink"``),
            ``text`` (str, hover text, may be ``""``).
        """
        return events_frame()

    @classmethod
    def report_frames(cls, result: ProcessorResult, recording: Recording, *, n_frames: int = 4) -> list[np.ndarray]:
        """A few frames of the recording with the result drawn on them (RGB, ``uint8``, H x W x 3), for the
        report's recording page (``[]``: none, the default; e.g. ``face`` draws its landmarks).

        Called only when the report is asked to show frames and the recording is still there; an
        error reading it is logged, not fatal.

        Parameters
        ----------
        result : ProcessorResult
            This processor's result on ``recording``.
        recording : Recording
            The recording.
        n_frames : int
            How many frames at most.

        Returns
        -------
        list of numpy.ndarray
            The frames.
        """
        return []

    # ------------------------------------------------------------------ running
    @abc.abstractmethod
    def compute(self, recording: Recording, sink: TimeSeriesSink,
                progress: ProgressCallback | None = None) -> dict[str, Any]:
        """Measure one recording: append time-series chunks to ``sink``, return the summary.

        Subclasses implement this. Chunks are DataFrames with ``time_s`` and catalogued
        columns, in time order, with the same columns every time. A processor with a
        :attr:`row_key` may return a :class:`RowSummaries` (the main summary plus one summary
        per part).

        Parameters
        ----------
        recording : Recording
            The recording to measure.
        sink : TimeSeriesSink
            Where the time-series chunks go (``sink.append(frame)``).
        progress : callable | None
            Called as ``progress(done, total)`` while it runs (``None``: no progress).

        Returns
        -------
        dict, Summary or RowSummaries
            The summary (one value per catalogued summary measure); a :class:`Summary` also carries
            the result's curves.
        """

    def skip_reason(self, recording: Recording) -> str | None:
        """Why the processor cannot apply to a recording of a kind it reads (e.g. a video
        without sound for an audio processor), or ``None`` when it applies.

        A batch with several processors runs the others on such a recording and notes the
        reason; the default is ``None``.

        Parameters
        ----------
        recording : Recording
            A recording of a kind the processor reads.

        Returns
        -------
        str | None
            The reason, or ``None``.
        """
        return None

    def companion_files(self, recording: Recording) -> dict[str, Path]:
        """Files besides the recording that the outputs depend on (e.g. a transcript beside it).

        Their SHA-256 go into the provenance, so a batch recomputes when one changes.
        The default is none; override in processors that read such files.

        Parameters
        ----------
        recording : Recording
            The recording.

        Returns
        -------
        dict of str to Path
            Each file by its role (e.g. ``{"transcript": path}``).
        """
        return {}

    def output_files(self, result: ProcessorResult) -> dict[str, str | bytes]:
        """The content of the :attr:`extra_outputs` files for one result (``{file name: text or bytes}``).

        The batch writes them atomically beside ``<processor>.parquet``; the default is none.

        Parameters
        ----------
        result : ProcessorResult
            A result of this processor.

        Returns
        -------
        dict of str to str or bytes
            Each file's content by file name.
        """
        return {}

    def write_extra_outputs(self, result: ProcessorResult, folder: str | Path) -> list[Path]:
        """Write the :attr:`extra_outputs` files of ``result`` into ``folder``, each atomically.

        Parameters
        ----------
        result : ProcessorResult
            A result of this processor.
        folder : str or Path
            The folder to write into.

        Returns
        -------
        list of Path
            The files written.

        Raises
        ------
        RuntimeError
            When :meth:`output_files` makes a file the processor does not declare.
        """
        files = self.output_files(result)
        unknown = sorted(set(files) - set(self.extra_outputs))
        if unknown:
            raise RuntimeError(f"Processor {self.name!r} made output files it does not declare in extra_outputs: "
                               f"{unknown}")
        written = []
        for name, content in files.items():
            target = confined(folder, name)
            with atomic_path(target) as tmp:
                if isinstance(content, bytes):
                    tmp.write_bytes(content)
                else:
                    tmp.write_text(content, encoding="utf-8")
            written.append(target)
        return written

    def upstream_provenance(self, recording: Recording) -> dict[str, Any]:
        """What this processor's outputs depend on in ``recording.upstream`` (the :attr:`uses` results
        present): each one's processor version, parameters, input SHA-256 and companion files.

        Parameters
        ----------
        recording : Recording
            The recording, with the results of the processors run before this one.

        Returns
        -------
        dict
            The provenance of each upstream result, by processor name.
        """
        upstream = getattr(recording, "upstream", {})
        record = {}
        for name in self.uses:
            result = upstream.get(name)
            if result is not None:
                prov = result.provenance
                record[name] = {key: prov[key] for key in ("processor_version", "parameters", "input_sha256",
                                                           "companion_files", "upstream") if key in prov}
        return record

    def provenance(self, recording: Recording) -> dict[str, Any]:
        """The provenance record of this processor on ``recording`` (without timing).

        Parameters
        ----------
        recording : Recording
            The recording.

        Returns
        -------
        dict
            Versions, parameters, the input's SHA-256, companion files and upstream results.
        """
        record = {"processor": self.name, "processor_version": self.version,
                  "processor_class": f"{type(self).__module__}.{type(self).__qualname__}",
                  "parameters": self.get_params(), "input_path": str(recording.path),
                  "input_sha256": recording.sha256, "package_versions": package_versions(self.dependencies)}
        companions = self.companion_files(recording)
        if companions:
            record["companion_files"] = {key: {"path": str(path), "sha256": sha256_file(path)}
                                         for key, path in sorted(companions.items())}
        upstream = self.upstream_provenance(recording)
        if upstream:
            record["upstream"] = upstream
        return record

    def process(self, recording: Recording | str, *, sink: TimeSeriesSink | None = None,
                progress: ProgressCallback | None = None) -> ProcessorResult:
        """Run the processor on one recording, validating parameters, input kind and outputs.

        Parameters
        ----------
        recording : Recording | str
            The recording (or its path).
        sink : object with ``append(DataFrame)`` | None
            Where time-series chunks go. By default they are collected in memory and
            returned in ``result.timeseries``; with another sink (e.g. a
            :class:`~bitbox.measurements.ParquetSink`) ``result.timeseries`` is ``None``.
        progress : callable | None
            ``progress(done, total)`` called as work advances.

        Returns
        -------
        ProcessorResult
            With ``rows`` (one summary per part) and ``row_key`` when :meth:`compute` returned a
            :class:`RowSummaries`.
        """
        self.validate_params()
        if not isinstance(recording, Recording):
            recording = Recording(recording)
        if recording.kind not in self.input_kinds:
            raise RecordingError(recording.path, f"is a {recording.kind} recording; the {self.name!r} "
                                 f"processor reads {', '.join(self.input_kinds)} recordings")
        provenance = self.provenance(recording)
        provenance["started_utc"] = _utc_now()
        memory = MemorySink() if sink is None else None
        checked = _ValidatingSink(memory if memory is not None else sink, self)
        computed = self.compute(recording, checked, progress)
        summary = dict(computed)
        validate_summary(self.name, self.catalog_measures(), summary)
        rows = _checked_rows(self, computed)
        curves = _checked_curves(self, computed)
        provenance["finished_utc"] = _utc_now()
        provenance["n_rows"] = checked.n_rows
        return ProcessorResult(processor=self.name, timeseries=memory.result() if memory is not None else None,
                               summary=summary, provenance=provenance, units=type(self).units(), rows=rows,
                               row_key=self.row_key, curves=curves)
