"""The measure catalog: declarations, validation of outputs, generated docs."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import bitbox
from bitbox.catalog import Measure, validate_summary, validate_timeseries
from bitbox.errors import CatalogError

from .conftest import REPO

MEASURES = [
    Measure("speed", "px/s", "How fast.", valid_range=(0, math.inf)),
    Measure(r"lm_\d{3}_x", "px", "Landmarks.", pattern=True),
    Measure("rate", "1/min", "How often.", "summary", (0, 100)),
]


def test_valid_output_passes():
    frame = pd.DataFrame({"time_s": [0.0, 0.1], "speed": [1.0, np.nan], "lm_001_x": [3.0, 4.0]})
    validate_timeseries("toy", MEASURES, frame)
    validate_summary("toy", MEASURES, {"rate": 12.0})


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"speed": [1.0]}), "without a 'time_s' column"),
    (pd.DataFrame({"time_s": [0.0], "colour": [1.0]}), "'colour', which is not in its catalog"),
    (pd.DataFrame({"time_s": [0.0], "speed": [-2.0]}), r"speed=-2.0, outside its valid range \[0, inf\]"),
    (pd.DataFrame({"time_s": [0.0], "lm_1_x": [1.0]}), "'lm_1_x', which is not in its catalog"),
    (pd.DataFrame({"time_s": [0.0], "speed": ["fast"]}), "non-numeric values in 'speed'"),
])
def test_bad_timeseries_is_rejected(frame, message):
    with pytest.raises(CatalogError, match=message):
        validate_timeseries("toy", MEASURES, frame)


def test_bad_summary_is_rejected():
    with pytest.raises(CatalogError, match="not in its catalog"):
        validate_summary("toy", MEASURES, {"speed": 1.0})
    with pytest.raises(CatalogError, match="outside its valid range"):
        validate_summary("toy", MEASURES, {"rate": 101.0})


def test_measure_declaration_errors():
    with pytest.raises(ValueError, match="kind must be one of"):
        Measure("x", "1", "x", kind="perframe")
    with pytest.raises(ValueError, match="low > high"):
        Measure("x", "1", "x", valid_range=(2, 1))


def test_installed_catalog_lookup():
    cat = bitbox.catalog()
    assert "face" in cat.processors()
    roll = cat.get("face.head_roll")
    assert roll.unit == "deg" and roll.kind == "timeseries" and roll.processor == "face"
    assert cat.get("landmarks", processor="face").dtype == "array"
    assert cat.get("blink_rate_per_min", kind="summary").unit == "1/min"
    with pytest.raises(CatalogError, match="not a catalogued measure"):
        cat.get("face.smile_intensity")
    table = cat.to_frame()
    assert {"processor", "name", "unit", "description", "valid_min", "valid_max"} <= set(table.columns)


def test_docs_are_generated_from_the_catalog():
    """docs/catalog.md and docs/measures/ must be regenerated (`make docs`) whenever a measure changes."""
    from docs.generate_catalog import render, render_pages

    assert (REPO / "docs" / "catalog.md").read_text() == render()
    pages = render_pages()
    on_disk = set((REPO / "docs" / "measures").rglob("*.md"))
    assert on_disk == set(pages), "docs/measures is out of date: run `make docs`"
    for path, text in pages.items():
        assert path.read_text() == text, f"{path} is out of date: run `make docs`"
    roll = pages[REPO / "docs" / "measures" / "face" / "head_roll.md"]
    assert "| unit | deg |" in roll and "mean absolute error 0.30 deg" in roll
