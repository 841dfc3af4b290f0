"""docs/architecture.md and docs/adding-a-processor.md follow the code: every batch module, entry-point group,
import contract and processor declaration they describe exists, and every one that exists is described."""
from __future__ import annotations

import re

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from bitbox.processor import Processor

from .conftest import REPO

ARCHITECTURE = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
ADDING = (REPO / "docs" / "adding-a-processor.md").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_batch_module_is_described():
    modules = sorted(p.name for p in (REPO / "bitbox" / "batch").glob("*.py") if p.name != "__init__.py")
    described = set(re.findall(r"^\| `(\w+\.py)` \|", ARCHITECTURE, flags=re.M))
    assert described == set(modules), (sorted(described), modules)


def test_every_entry_point_group_and_contract_is_described():
    groups = sorted(g for g in PYPROJECT["project"]["entry-points"] if g.startswith("bitbox."))
    assert groups == ["bitbox.commands", "bitbox.kinds", "bitbox.processors"]
    for group in groups:
        assert f"`{group}`" in ARCHITECTURE, group
    for contract in PYPROJECT["tool"]["importlinter"]["contracts"]:
        assert f"`{contract['id']}`" in ARCHITECTURE, contract["id"]


def test_every_processor_declaration_is_documented_for_plugin_authors():
    declared = [name for name, value in vars(Processor).items()
                if not name.startswith("_") and not callable(value)
                and not isinstance(value, (property, classmethod, staticmethod))]
    hooks = [name for name, value in vars(Processor).items()
             if isinstance(value, classmethod) and name in ("plot_result", "report_frames", "report_events")]
    assert {"default_for", "companions", "qc", "dyad_measures", "dyad_preference"} <= set(declared)
    missing = [name for name in (*declared, *hooks) if f"`{name}" not in ADDING and f"    {name} = " not in ADDING]
    assert not missing, f"docs/adding-a-processor.md does not mention {missing}"
