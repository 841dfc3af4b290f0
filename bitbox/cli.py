"""The ``bitbox`` command.

::

    bitbox run INPUT... -o OUT [-p face,speech] [--workers N] [--scheduler local|ADDRESS] [--overwrite]
               [--timeout SECONDS] [--set face.frame_step=2] [--wait] [--bids-derivative]
    bitbox list                    processors and their measures
    bitbox report OUT [--show-faces] [--wait]   HTML pages with plots and QC
    bitbox dyad A B [--offset S]   coordination and imitation between two recordings
    bitbox dyad A --persons P Q    ... between two people of one recording (A's person column)
    bitbox catalog [--format md]   the measure catalog (markdown or csv)
    bitbox export OUT [--to spss,stata,csv] [-o DIR] [--timeseries]   results for SPSS, Stata, R, Excel

and the command groups installed in the ``bitbox.commands`` entry-point group (each a
``register(subparsers)`` function adding one group of the entry point's name): Bitbox's clinical
modules (``bitbox eegfactors``, ``bitbox transdx``, ``bitbox narratives``, ``bitbox hba``) and any
plugin's. Only the group a command line names is imported (all of them for ``bitbox -h``); one that
cannot be loaded is reported when it is called and by ``bitbox list``, and never stops the others.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

from . import __version__
from .errors import BitboxError, NoRecordingsError
from .console import filter_native_stderr, limit_heap_fragmentation
from .log import set_log_level

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


#: Python's spellings, as the docs and a notebook write them (JSON's are true, false, null).
_PYTHON_WORDS = {"True": True, "False": False, "None": None}


def _parse_value(text: str) -> Any:
    if text in _PYTHON_WORDS:
        return _PYTHON_WORDS[text]
    try:
        return json.loads(text)
    except ValueError:
        return text


def _parse_sets(items: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BitboxError(f"--set expects KEY=VALUE (e.g. face.frame_step=2). Got {item!r}.")
        params[key.strip()] = _parse_value(value.strip())
    return params


def _cmd_run(args: argparse.Namespace) -> int:
    from .batch import process_folder

    processors = [p.strip() for p in args.processors.split(",") if p.strip()] if args.processors is not None else None
    try:
        result = process_folder(args.inputs, args.output, processors=processors, workers=args.workers,
                                overwrite=args.overwrite, timeout_s=args.timeout, scheduler=args.scheduler,
                                progress=not args.quiet, wait=args.wait, bids_derivative=args.bids_derivative,
                                **_parse_sets(args.set))
    except NoRecordingsError as err:
        print(f"bitbox: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    print(result.describe())
    print(f"Results: {result.out_dir / 'summary.csv'}")
    return EXIT_FAILED if result.n_failed else EXIT_OK


def _cmd_list(args: argparse.Namespace) -> int:
    from .registry import available_processors, broken_plugins, get_processor_class

    for name in available_processors():
        try:
            cls = get_processor_class(name)
        except BitboxError:
            continue
        measures = cls.catalog_measures()
        n_ts = sum(m.kind == "timeseries" for m in measures)
        n_sm = sum(m.kind == "summary" for m in measures)
        print(f"{name} {cls.version}  ({', '.join(cls.input_kinds)}; {n_ts} time-series measures, "
              f"{n_sm} summary measures)  {cls.__module__}.{cls.__qualname__}")
        if args.measures:
            for m in measures:
                print(f"    {m.kind:10s} {m.name:36s} [{m.unit}] {m.description}")
    for name, reason in broken_plugins().items():
        print(f"{name}  BROKEN: {reason}")
    _list_kinds()
    broken = _add_command_groups(argparse.ArgumentParser().add_subparsers(), None)
    for name, reason in broken.items():
        print(f"command 'bitbox {name}'  BROKEN: {reason}")
    return EXIT_OK


def _list_kinds() -> None:
    """The installed recording kinds (:mod:`bitbox.kinds`), their extensions and default processor."""
    from . import kinds
    from .registry import default_conflicts, processor_classes

    classes = processor_classes()
    conflicts = default_conflicts()
    print("\nrecording kinds:")
    installed = kinds.available_kinds()
    width = max((len(name) for name in installed), default=8)
    for name, kind in installed.items():
        claims = conflicts.get(name)
        default = (f"{claims[0]} (also claimed by {', '.join(claims[1:])}: name one with -p)" if claims else
                   ", ".join(n for n, cls in classes.items() if name in cls.default_for) or "none")
        sniffs = " (content checked)" if kind.can_open is not None else ""
        print(f"  {name:{width}s} {' '.join(sorted(kind.extensions))}{sniffs}  default: {default}  {kind.description}")
    for name, reason in kinds.broken_kinds().items():
        print(f"  {name}  BROKEN: {reason}")


def _cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    index = write_report(args.output, show_faces=args.show_faces, wait=args.wait)
    print(f"Report: {index}")
    return EXIT_OK


def _cmd_dyad(args: argparse.Namespace) -> int:
    from .dyad import dyad
    from .fileio import atomic_path

    measures = [m.strip() for m in args.measures.split(",") if m.strip()] if args.measures else None
    if args.persons is None and args.b is None:
        raise BitboxError("bitbox dyad needs two results folders (A B), or one with --persons P Q (two person ids "
                          "of that recording, e.g. --persons 0 1).")
    if args.persons is not None and args.b is not None:
        raise BitboxError("Give two results folders (A B) or one folder with --persons P Q, not both.")
    split = {} if args.persons is None else {"split_by": args.split_by, "parts": tuple(args.persons)}
    table = dyad(args.a, args.b, **split, processor=args.processor, measures=measures, offset_s=args.offset,
                 window_s=args.window, max_lag_s=args.max_lag, convention=args.convention)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if args.output:
        with atomic_path(args.output) as tmp:
            table.to_csv(tmp, index=False)
        print(f"Written: {args.output}")
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import export

    written = export(args.output, to=args.to, dest=args.dest, timeseries=args.timeseries, landmarks=args.landmarks)
    for fmt, paths in written.items():
        shown = paths if len(paths) <= 3 else [*paths[:2], f"... {len(paths)} files"]
        print(f"{fmt}: " + ", ".join(str(p) for p in shown))
    return EXIT_OK


def _cmd_examples(args: argparse.Namespace) -> int:
    from . import examples

    if args.name:
        print(examples.path(args.name))
        return EXIT_OK
    print(examples.path())
    if not args.quiet:
        for name in examples.names():
            if "/" not in name:
                print(f"  {name}", file=sys.stderr)
        print(f"  and {sum('/' in n for n in examples.names())} narratives in "
              f"{examples.path('narratives/n01_breakfast.json').parent}. "
              '`bitbox run "$(bitbox examples)" -o results` measures the recordings.', file=sys.stderr)
    return EXIT_OK


def _cmd_catalog(args: argparse.Namespace) -> int:
    from .inventory import catalog

    cat = catalog()
    if args.format == "csv":
        cat.to_frame().to_csv(sys.stdout, index=False)
    else:
        print(cat.to_markdown())
    return EXIT_OK


#: The entry-point group of ``bitbox`` command groups (``name = "package.module:register"``).
COMMAND_GROUP = "bitbox.commands"


class _Duplicate:
    """A command group name that several installed packages claim: loading it says so."""

    def __init__(self, name: str, values: list[str]) -> None:
        self.name, self.values = name, values

    def load(self):
        raise RuntimeError(f"the command name {self.name!r} is registered more than once ({'; '.join(self.values)}); "
                           "uninstall one of these packages")


def command_entry_points() -> dict[str, Any]:
    """The installed command groups (``bitbox.commands`` entry points), by name (a name two packages claim
    is reported as broken, never one silently taking the other's place)."""
    from importlib.metadata import entry_points

    found: dict[str, list[Any]] = {}
    for ep in sorted(entry_points(group=COMMAND_GROUP), key=lambda ep: ep.name):
        eps = found.setdefault(ep.name, [])
        if all(other.value != ep.value for other in eps):  # the same package seen twice on sys.path
            eps.append(ep)
    return {name: eps[0] if len(eps) == 1 else _Duplicate(name, [ep.value for ep in eps])
            for name, eps in found.items()}


def _add_command_groups(sub: Any, only: set[str] | None) -> dict[str, str]:
    """Register the command groups (those in ``only``; all for ``None``); returns those that cannot be
    loaded, with the reason. A broken group stays callable and says why it fails."""
    broken: dict[str, str] = {}
    for name, entry in command_entry_points().items():
        if only is not None and name not in only:
            continue
        try:
            entry.load()(sub)
        except Exception as err:  # a broken plugin or clinical module must not break `bitbox run`
            reason = f"{type(err).__name__}: {err}"
            broken[name] = reason
            group = sub.add_parser(name, help=f"BROKEN: {reason}")
            group.set_defaults(func=lambda args, n=name, r=reason: _broken_command(n, r))
    return broken


def _broken_command(name: str, reason: str) -> int:
    print(f"bitbox: error: the '{name}' command cannot be loaded ({reason}). Reinstall the package that provides "
          f"it, or check `bitbox list`.", file=sys.stderr)
    return EXIT_USAGE


def _named_command(argv: Sequence[str] | None) -> str | None:
    """The command a command line names (``None`` for none, e.g. ``bitbox -h``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    return next((a for a in args if not a.startswith("-")), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``bitbox`` argument parser; with ``argv``, only the command group it names is imported."""
    parser = argparse.ArgumentParser(prog="bitbox", description="Behavioral measurements from recordings, offline.")
    parser.add_argument("--version", action="version", version=f"bitbox {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log messages (-vv: debug)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="process recordings (files or folders) into an output folder")
    run.add_argument("inputs", nargs="+", help="recordings and/or folders (searched recursively)")
    run.add_argument("-o", "--output", required=True, help="output folder")
    run.add_argument("-p", "--processors", default=None,
                     help="comma-separated processor names (default: the default processor of each recording's kind, "
                          "as `bitbox list` shows under 'recording kinds')")
    run.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    run.add_argument("--scheduler", default=None, metavar="local|ADDRESS",
                     help="run on Dask: 'local' starts a LocalCluster of --workers processes; an address such as "
                          "tcp://host:8786 uses an existing scheduler (default: the local process pool)")
    run.add_argument("--overwrite", action="store_true", help="recompute even when outputs are up to date")
    run.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                     help="stop a recording that takes longer and record it as failed")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="processor parameter, e.g. --set face.frame_step=2 (repeatable)")
    run.add_argument("--wait", action="store_true",
                     help="when another bitbox run is writing to OUT, wait for it to finish (default: stop at once "
                          "with exit code 2)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.add_argument("--bids-derivative", action="store_true",
                     help="write OUT as a BIDS derivative of the input BIDS dataset (its dataset_description.json), "
                          "e.g. bitbox run ROOT -o ROOT/derivatives/bitbox --bids-derivative (docs/bids.md)")
    run.set_defaults(func=_cmd_run)

    lst = sub.add_parser("list", help="installed processors")
    lst.add_argument("--measures", action="store_true", help="also list each processor's measures")
    lst.set_defaults(func=_cmd_list)

    rep = sub.add_parser("report", help="write HTML pages with plots for a results folder")
    rep.add_argument("output", help="results folder written by `bitbox run`")
    rep.add_argument("--show-faces", action="store_true",
                     help="include frames of the recordings with the results drawn, where a processor draws them "
                          "(e.g. face landmarks; off by default: privacy)")
    rep.add_argument("--wait", action="store_true",
                     help="when a bitbox run is writing to OUT, wait for it to finish (default: stop at once with "
                          "exit code 2)")
    rep.set_defaults(func=_cmd_report)

    dy = sub.add_parser("dyad", help="coordination and imitation between two recordings' results, or two people "
                                      "of one recording")
    dy.add_argument("a", help="results folder of person A (OUT/<recording_id>), or of the recording with both "
                              "people (with --persons)")
    dy.add_argument("b", nargs="?", default=None, help="results folder of person B (not with --persons)")
    dy.add_argument("--persons", nargs=2, default=None, metavar=("P", "Q"),
                    help="compare two people of recording A: their ids in A's person column (e.g. --persons 0 1; "
                         "the recording must have been processed with every person measured)")
    dy.add_argument("--split-by", default="person", metavar="COLUMN",
                    help="with --persons: the time-series column holding the ids (default: person)")
    dy.add_argument("-p", "--processor", default=None, help="whose measures to compare (default: of the processors both have, the one "
                    "that declares default dyad measures with the highest preference)")
    dy.add_argument("--measures", default=None, help="comma-separated measures (default: movement measures)")
    dy.add_argument("--offset", type=float, default=0.0, help="B's clock minus A's, in seconds (default 0)")
    dy.add_argument("--window", type=float, default=0.5, help="correlation window in seconds (default 0.5)")
    dy.add_argument("--max-lag", type=float, default=None,
                    help="largest lag in seconds (default: the original Bitbox's, 0.2 s for a 0.5 s window at "
                         "30 fps; imitation 0.1 s)")
    dy.add_argument("--convention", choices=("bitbox", "original"), default="bitbox",
                    help="bitbox (default: the original's definitions, its bugs fixed) or original (the original "
                         "Bitbox's code exactly, for matching published numbers)")
    dy.add_argument("-o", "--output", default=None, help="also write the table to this CSV file")
    dy.set_defaults(func=_cmd_dyad)

    cat = sub.add_parser("catalog", help="print the measure catalog")
    cat.add_argument("--format", choices=("md", "csv"), default="md")
    cat.set_defaults(func=_cmd_catalog)

    ex = sub.add_parser("examples", help="where the sample recordings are (their folder, or one sample's path)")
    ex.add_argument("name", nargs="?", default="", help="a sample's file name, e.g. talking_head.mp4")
    ex.add_argument("-q", "--quiet", action="store_true", help="print the folder only (the list goes to stderr)")
    ex.set_defaults(func=_cmd_examples)

    exp = sub.add_parser("export", help="write a results folder as SPSS (.sav), Stata (.dta) and CSV files")
    exp.add_argument("output", help="results folder written by `bitbox run`")
    exp.add_argument("--to", default="spss,stata,csv", help="formats, comma-separated (default: spss,stata,csv)")
    exp.add_argument("-o", "--dest", default=None, help="export folder (default: OUTPUT/export)")
    exp.add_argument("--timeseries", action="store_true",
                     help="also write every time series as CSV (timeseries/<recording_id>/<processor>.csv)")
    exp.add_argument("--landmarks", choices=("drop", "expand"), default="drop",
                     help="array columns of the time series (face landmarks): left out, or one column per value")
    exp.set_defaults(func=_cmd_export)

    wanted = _named_command(argv)  # import only the group named; none for a built-in command; all for -h or a typo
    only = set() if wanted in sub.choices else {wanted} if wanted in command_entry_points() else None
    _add_command_groups(sub, only)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    restore_stderr = filter_native_stderr()
    limit_heap_fragmentation()
    set_log_level({0: "warning", 1: "info"}.get(args.verbose, "debug"))
    try:
        return args.func(args)
    except BitboxError as err:
        print(f"bitbox: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        restore_stderr()


if __name__ == "__main__":
    sys.exit(main())
