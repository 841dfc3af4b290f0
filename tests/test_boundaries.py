"""Import boundaries, read from the source (ast): the core imports no processor or clinical module;
clinical code uses only public names of Bitbox and its processors."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
#: The import-linter contracts of pyproject.toml ([tool.importlinter]), by id.
CONTRACTS = {c["id"]: c for c in tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
             ["tool"]["importlinter"]["contracts"]}
#: Core modules clinical code must not reach into: use bitbox (process, process_folder ...) and bitbox.io.
CORE_INTERNALS = ("bitbox.fileio", "bitbox.batch", "bitbox.outcomes")


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, imported names, line) of every import in a file, inside functions too."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            out.extend((a.name, [], node.lineno) for a in node.names)
    return out


def test_the_core_imports_no_processor_or_clinical_module():
    bad = [f"{path.relative_to(REPO)}:{line} imports {module}"
           for path in sorted((REPO / "bitbox").rglob("*.py"))
           for module, _, line in _imports(path)
           if module.startswith(("bitbox.processors", "bitbox.clinical", "processors", "clinical"))]
    assert not bad, bad


def test_clinical_code_uses_only_public_names():
    bad = []
    for path in sorted((REPO / "clinical").rglob("*.py")):
        for module, names, line in _imports(path):
            where = f"{path.relative_to(REPO)}:{line}"
            if any(module == internal or module.startswith(internal + ".") for internal in CORE_INTERNALS):
                bad.append(f"{where} imports the core's internal {module}")
            if module.startswith("bitbox") and not module.startswith("bitbox.clinical"):
                bad.extend(f"{where} imports the private {module}.{name}" for name in names
                           if name.startswith("_") and not name.startswith("__"))  # __version__ is public
                public = _public_names(module)
                bad.extend(f"{where} imports {module}.{name}, which is not in that module's __all__" for name in names
                           if public is not None and not name.startswith("_") and name not in public)
    assert not bad, bad


def _public_names(module: str) -> set[str] | None:
    """The ``__all__`` of a module (``None`` for a package without one: its submodules are imported)."""
    import importlib

    names = getattr(importlib.import_module(module), "__all__", None)
    return set(names) if names is not None else None


@pytest.mark.parametrize("contract", sorted(CONTRACTS))
def test_import_contract_holds(contract):
    """Each import-linter contract (as `make test` runs them; about 0.5 s each)."""
    run = subprocess.run([sys.executable, str(REPO / "tools" / "lint_imports.py"), "--no-cache", "--no-logo",
                          "--contract", contract], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def test_the_core_contract_names_every_core_module():
    """A new core module is covered by the core-knows-no-modality contract (it lists the core's modules)."""
    listed = set(CONTRACTS["core-knows-no-modality"]["source_modules"])
    core = {f"bitbox.{p.stem}" for p in (REPO / "bitbox").glob("*.py") if p.name != "__init__.py"}
    core |= {f"bitbox.{p.parent.name}" for p in (REPO / "bitbox").glob("*/__init__.py")}
    assert core - listed == set(), f"add these to core-knows-no-modality in pyproject.toml: {sorted(core - listed)}"
    assert listed - core == set(), f"no longer exist; remove from core-knows-no-modality: {sorted(listed - core)}"
