"""Generate ``docs/catalog.md`` from the measure catalog of Bitbox's built-in processors.

Run ``make docs`` (or ``python docs/generate_catalog.py``) after changing a measure; a
test fails while the page is out of date.
"""
from __future__ import annotations

from pathlib import Path

HEADER = """# Measure catalog

Generated from the catalog by `docs/generate_catalog.py`; do not edit by hand. The same
information is available in Python (`bitbox.catalog().to_frame()`) and on the command line
(`bitbox list --measures`, `bitbox catalog --format csv`), including installed plugins.

Units: `deg` degrees; `px` image pixels; `IOD` inter-ocular distances (distance between the
outer eye corners, so measures do not depend on how large the face is in the image);
`eye width` the width of the eye opening; `1` dimensionless; `1/min` per minute.

"""


def render() -> str:
    from bitbox.catalog import Catalog
    from bitbox.registry import available_processors, get_processor_class

    measures = []
    for name in available_processors():
        cls = get_processor_class(name)
        if cls.__module__.startswith("bitbox."):
            measures.extend(cls.catalog_measures())
    return HEADER + Catalog(measures).to_markdown()


def main() -> None:
    path = Path(__file__).with_name("catalog.md")
    path.write_text(render())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
