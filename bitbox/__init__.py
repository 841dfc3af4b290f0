"""Bitbox: standardized, interpretable behavioral measurements from recordings of people.

>>> import bitbox
>>> m = bitbox.process("interview.mp4")                          # doctest: +SKIP
>>> m["face"].timeseries.head()                                   # doctest: +SKIP
>>> bitbox.process_folder(["videos/"], "results/", workers=2)     # doctest: +SKIP
"""
from __future__ import annotations

from importlib import metadata as _metadata

# First, before anything can import onnxruntime or huggingface_hub: their offline and no-telemetry switches.
from .offline import enforce_offline as _enforce_offline

_enforce_offline()

from . import examples
from .batch import process_folder
from .cache import clear_all as clear_caches
from .catalog import Catalog, Measure
from .dyad import dyad
from .errors import (BitboxError, CatalogError, MeasurementError, NoRecordingsError, ParameterError,
                     PluginError, ProcessorNotFoundError, RecordingError)
from .inventory import catalog
from .log import logger, set_log_level
from .measurements import Curve, Measurements, ProcessorResult
from .pipeline import process
from .report import write_report
from .processor import Processor, QualityColumns, RowSummaries, Summary, join_notes, split_notes
from .recording import Recording
from .registry import available_processors, get_processor_class, make_processor

try:
    __version__ = _metadata.version("bitbox")
except _metadata.PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

__all__ = [
    "__version__", "process", "process_folder", "Recording", "Measurements", "ProcessorResult", "Curve", "Processor",
    "Summary", "RowSummaries", "QualityColumns", "Measure", "Catalog", "catalog", "available_processors",
    "get_processor_class", "make_processor",
    "write_report", "dyad", "set_log_level", "logger", "BitboxError", "RecordingError", "NoRecordingsError", "MeasurementError",
    "ParameterError", "ProcessorNotFoundError", "PluginError", "CatalogError", "join_notes", "split_notes",
    "clear_caches", "examples",
]
