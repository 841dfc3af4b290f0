"""The catalog of what is installed: every installed processor's measures, gathered through the registry.

:mod:`bitbox.catalog` defines :class:`~bitbox.catalog.Measure` and :class:`~bitbox.catalog.Catalog` and
sits at the bottom of the core (processors import it to declare their measures); gathering the measures
of the installed processors needs the registry, so it lives here, above :mod:`bitbox.registry`
(``errors/params/catalog -> measurements -> processor -> registry -> inventory``). Use it as
:func:`bitbox.catalog`.
"""
from __future__ import annotations

from .catalog import Catalog, Measure
from .registry import available_processors, get_processor_class

__all__ = ["catalog"]


def catalog() -> Catalog:
    """The catalog of every installed processor's measures.

    Returns
    -------
    Catalog
        The measures of each processor :func:`bitbox.available_processors` lists, in that order.

    Raises
    ------
    PluginError
        When an installed processor plugin cannot be loaded.

    Examples
    --------
    >>> import bitbox
    >>> bitbox.catalog().get("face.head_roll").unit
    'deg'
    """
    measures: list[Measure] = []
    for name in available_processors():
        measures.extend(get_processor_class(name).catalog_measures())
    return Catalog(measures)
