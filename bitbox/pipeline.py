"""Run several processors on one recording: :func:`process`."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

from .errors import BitboxError, MeasurementError, ParameterError, ProcessorNotFoundError
from .fileio import display_path
from .outcomes import internal_error, not_applicable_reason
from .log import logger, verbose
from .measurements import Measurements
from .processor import Processor, ProgressCallback, run_order
from .recording import Recording
from .registry import default_processors, get_processor_class

__all__ = ["process", "resolve_processors"]


def resolve_processors(processors: str | Processor | Iterable[str | Processor],
                       params: dict[str, Any] | None = None) -> list[Processor]:
    """Turn names (or instances) into configured processor instances.

    ``params`` are keyword parameters given to every named processor that accepts them
    (``"face.max_faces"`` targets one processor). A parameter no processor accepts is an
    error that lists the valid ones.
    """
    if isinstance(processors, (str, Processor)):
        processors = [processors]
    processors = list(processors)
    if not processors:
        raise ParameterError("No processor was given; use e.g. processors=['face'] (see `bitbox list`).")
    params = dict(params or {})
    instances: list[Processor] = []
    used: set[str] = set()
    for item in processors:
        if isinstance(item, Processor):
            instances.append(item)
            continue
        if isinstance(item, type) and issubclass(item, Processor):
            raise ParameterError(f"Pass an instance ({item.__name__}()) or the name {item.name!r}, not the class.")
        cls = get_processor_class(str(item))
        names = cls._get_param_names()
        mine: dict[str, Any] = {}
        for key, value in params.items():
            target, _, short = key.rpartition(".")
            if target and target != cls.name:
                continue
            if short in names:
                mine[short] = value
                used.add(key)
        instances.append(cls(**mine))
    unused = sorted(set(params) - used)
    if unused:
        valid = sorted({f"{p.name}.{n}" for p in instances for n in p._get_param_names()})
        raise ParameterError(f"Parameter(s) {', '.join(map(repr, unused))} are not accepted by any of the "
                             f"processors {[p.name for p in instances]}. Valid parameters: {', '.join(valid)}.")
    names = [p.name for p in instances]
    if len(set(names)) != len(names):
        raise ParameterError(f"A processor is listed twice: {names}.")
    return instances


@verbose
def process(path: str | Path | Recording, processors: str | Sequence[str | Processor] | None = None, *,
            progress: ProgressCallback | None = None, verbose: bool | str | int | None = None,
            **params: Any) -> Measurements:
    """Measure one recording with one or more processors.

    Parameters
    ----------
    path : str | Path | Recording
        The recording.
    processors : str | list of (str | Processor) | None
        Processor names (see ``bitbox list``) or configured instances. By default the
        processor that declares itself the default for the recording's kind
        (:attr:`Processor.default_for`; :func:`bitbox.registry.default_processors`): ``face``
        for video, ``speech`` for audio, ``eeg`` for EEG, ``language`` for text.
    progress : callable | None
        ``progress(done, total)`` callback for long steps.
    verbose : bool | str | int | None
        Log level for this call.
    **params
        Processor parameters, e.g. ``frame_step=2`` or ``**{"face.max_faces": 3}``.

    Returns
    -------
    Measurements
        Time series, summary and provenance per processor. With several processors each
        succeeds or fails on its own, as in a batch: the reasons of those that failed are in
        ``Measurements.failures``, of those that do not apply to the recording (e.g. ``speech``
        on a video without sound) in ``Measurements.not_applicable`` (both logged).

    Raises
    ------
    BitboxError
        With one processor, its error; with several, when none of them worked.

    Examples
    --------
    >>> import bitbox
    >>> m = bitbox.process("interview.mp4")                     # doctest: +SKIP
    >>> m["face"].timeseries[["time_s", "head_yaw", "blink"]]   # doctest: +SKIP
    >>> m.summary_row()["face.blink_rate_per_min"]              # doctest: +SKIP
    """
    recording = path if isinstance(path, Recording) else Recording(path)
    recording.clear_upstream()  # results of an earlier call on the same Recording never leak into this one
    if processors is None:
        try:
            processors = default_processors(recording.kind)
        except ProcessorNotFoundError as err:
            raise ProcessorNotFoundError(f"{display_path(recording.path)}: {err}") from None
    instances = resolve_processors(processors, params)
    if len(instances) == 1:  # one processor: its error is the call's error
        logger.info("%s: running %r", recording.path.name, instances[0])
        return Measurements([instances[0].process(recording, progress=progress)], recording_id=recording.id,
                            path=str(recording.path))
    results, failures, not_applied = [], {}, {}
    used = {name for p in instances for name in p.uses}
    for processor in run_order(instances):  # several: each succeeds or fails on its own, whatever the order
        try:
            reason = not_applicable_reason(processor, recording)
            if reason:
                not_applied[processor.name] = reason
                recording.add_upstream_failure(processor.name, f"not applicable: {reason}")
                logger.info("%s: %s not applied: %s", recording.path.name, processor.name, reason)
                continue
            logger.info("%s: running %r", recording.path.name, processor)
            results.append(processor.process(recording, progress=progress))
            if processor.name in used:
                recording.add_upstream(results[-1])
        except BitboxError as err:
            failures[processor.name] = str(err)
            recording.add_upstream_failure(processor.name, f"failed: {err}")
            logger.warning("%s: %s failed: %s", recording.path.name, processor.name, err)
        except Exception as err:  # a bug in one processor must not cost the others' results
            failures[processor.name] = internal_error(err)
            recording.add_upstream_failure(processor.name, f"failed: {failures[processor.name]}")
            logger.error("%s: %s failed with an internal error", recording.path.name, processor.name,
                         exc_info=True)
    if not results:
        raise MeasurementError(recording.path, "no processor could measure it: " + "; ".join(
            f"{name}: {reason}" for name, reason in {**failures, **not_applied}.items()))
    return Measurements(results, recording_id=recording.id, path=str(recording.path), failures=failures,
                        not_applicable=not_applied)
