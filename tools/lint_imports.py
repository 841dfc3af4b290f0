"""``lint-imports`` (import-linter) for Bitbox's source layout: ``make test`` runs the contracts of pyproject.toml.

Bitbox installs three source folders as one package (``[tool.setuptools] package-dir``): ``bitbox/`` is
``bitbox``, ``processors/`` is ``bitbox.processors`` and ``clinical/`` is ``bitbox.clinical``. Grimp, the
import graph behind import-linter, finds a root package's modules by walking its one folder, so a plain
``lint-imports`` sees neither ``bitbox.processors`` nor ``bitbox.clinical`` (and a subpackage cannot be a
root package of its own). This runs the same command with grimp told about the mapped folders: every
module of the three folders is in the graph under its installed name, and the imports are read from the
files as usual (inside functions too).

Usage: ``python tools/lint_imports.py [lint-imports options]``, e.g. ``--no-cache``, ``--contract ID``,
``--verbose``.
"""
from __future__ import annotations

import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from grimp.adaptors.modulefinder import ModuleFinder
from grimp.adaptors.packagefinder import ImportLibPackageFinder
from grimp.application.config import settings as grimp_settings

REPO = Path(__file__).resolve().parents[1]


def mapped_subpackages(pyproject: Path = REPO / "pyproject.toml") -> dict[str, str]:
    """Subpackages whose folder is not inside their parent package's folder.

    Parameters
    ----------
    pyproject : Path
        The project file whose ``[tool.setuptools] package-dir`` maps packages to folders.

    Returns
    -------
    dict of str to str
        Dotted package name to its folder (absolute), e.g.
        ``{"bitbox.processors": "/repo/processors"}``.
    """
    with open(pyproject, "rb") as file:
        package_dir = tomllib.load(file).get("tool", {}).get("setuptools", {}).get("package-dir", {})
    root = pyproject.parent
    folders = {name: (root / folder).resolve() for name, folder in package_dir.items()}
    mapped = {}
    for name, folder in folders.items():
        parent, _, tail = name.rpartition(".")
        parent_folder = folders.get(parent, root / parent.replace(".", "/")) if parent else None
        if parent_folder is not None and folder != Path(parent_folder).resolve() / tail:
            mapped[name] = str(folder)
    return mapped


class MappedPackageFinder(ImportLibPackageFinder):
    """Grimp's package finder, adding the folders of a root package's mapped subpackages."""

    def __init__(self, mapped: dict[str, str]) -> None:
        self.mapped = mapped

    def determine_package_directories(self, package_name, file_system):  # noqa: D102 (grimp's interface)
        directories = super().determine_package_directories(package_name, file_system)
        return directories | {folder for name, folder in self.mapped.items() if name.startswith(package_name + ".")}


class MappedModuleFinder(ModuleFinder):
    """Grimp's module finder, naming the modules of a mapped folder after its subpackage."""

    def __init__(self, mapped: dict[str, str]) -> None:
        self.mapped = mapped

    def find_package(self, package_name, package_directory, file_system):  # noqa: D102 (grimp's interface)
        for name, folder in self.mapped.items():
            if name.startswith(package_name + ".") and folder == package_directory:
                return super().find_package(name, package_directory, file_system)
        return super().find_package(package_name, package_directory, file_system)


def configure_grimp(mapped: dict[str, str] | None = None) -> None:
    """Make grimp's graphs include the mapped subpackages (see the module docstring).

    Parameters
    ----------
    mapped : dict of str to str | None
        Subpackage name to folder; by default :func:`mapped_subpackages` of this repository.
    """
    mapped = mapped_subpackages() if mapped is None else mapped
    grimp_settings.configure(PACKAGE_FINDER=MappedPackageFinder(mapped), MODULE_FINDER=MappedModuleFinder(mapped))


def main() -> None:
    """Run ``lint-imports`` with the command-line arguments, on the full Bitbox package."""
    configure_grimp()
    from importlinter.cli import lint_imports_command

    sys.exit(lint_imports_command())


if __name__ == "__main__":
    main()
