"""Import boundaries, read from the source (ast): the core imports no processor or clinical module;
clinical code uses only public names of Bitbox and its processors."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Core modules clinical code must not reach into: use bitbox (process, process_folder ...) and bitbox.io.
CORE_INTERNALS = ("bitbox.fileio", "bitbox.batch", "bitbox.worker", "bitbox.outcomes")


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
            if module in CORE_INTERNALS:
                bad.append(f"{where} imports the core's internal {module}")
            if module.startswith("bitbox") and not module.startswith("bitbox.clinical"):
                bad.extend(f"{where} imports the private {module}.{name}" for name in names
                           if name.startswith("_") and not name.startswith("__"))  # __version__ is public
    assert not bad, bad
