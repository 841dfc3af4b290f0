"""Command groups come from the ``bitbox.commands`` entry points: only the one named is imported, and a
broken one is reported without stopping the others."""
from __future__ import annotations

import subprocess
import sys

from bitbox import cli


class _Broken:
    name = "broken"

    def load(self):
        raise ImportError("No module named 'lost_dependency'")


def test_the_clinical_command_groups_are_entry_points():
    assert {"eegfactors", "transdx", "narratives", "hba"} <= set(cli.command_entry_points())
    parser = cli.build_parser([])
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"run", "list", "report", "eegfactors", "transdx", "narratives", "hba"} <= set(sub.choices)


def test_only_the_named_group_is_imported():
    code = ("import sys; from bitbox.cli import build_parser; build_parser(['run', 'a', '-o', 'b']); "
            "print(sorted(m for m in sys.modules if m.startswith('bitbox.clinical')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_broken_group_is_reported_and_the_rest_work(monkeypatch, capsys):
    good = cli.command_entry_points()
    monkeypatch.setattr(cli, "command_entry_points", lambda: {**good, "broken": _Broken()})
    assert cli.main(["broken"]) == cli.EXIT_USAGE
    assert "the 'broken' command cannot be loaded (ImportError: No module named 'lost_dependency')" in \
        capsys.readouterr().err
    assert cli.main(["list"]) == cli.EXIT_OK
    assert "command 'bitbox broken'  BROKEN: ImportError" in capsys.readouterr().out
    assert cli.main(["catalog", "--format", "csv"]) == cli.EXIT_OK


def test_a_command_name_two_packages_claim_is_reported(monkeypatch, capsys):
    from importlib import metadata

    eps = [metadata.EntryPoint(name="dup", value=f"{pkg}.cli:register", group=cli.COMMAND_GROUP)
           for pkg in ("pkg_one", "pkg_two")]
    monkeypatch.setattr(metadata, "entry_points", lambda group=None: eps if group == cli.COMMAND_GROUP else [])
    groups = cli.command_entry_points()
    assert list(groups) == ["dup"]
    assert cli.main(["dup"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "'dup' is registered more than once (pkg_one.cli:register; pkg_two.cli:register)" in err
