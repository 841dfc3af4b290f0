"""Clinical modules (``bitbox.clinical``): models that consume Bitbox measurements.

Each module lives in its own subpackage and uses only Bitbox's public API.
"""
