"""Parameter constraints and their validation, with scikit-learn style messages.

>>> check_param("fps", -3, Interval(float, 0, None, closed="neither"), owner="FaceProcessor")
Traceback (most recent call last):
...
bitbox.errors.ParameterError: The 'fps' parameter of FaceProcessor must be a number in (0, inf). Got -3 instead.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Iterable

from .errors import ParameterError

__all__ = ["Interval", "Options", "Bool", "NoneOk", "Box", "check_param"]


@dataclass(frozen=True)
class Interval:
    """A real or integer interval; ``None`` bounds are open-ended."""

    type: type
    low: float | None
    high: float | None
    closed: str = "both"  # "both", "left", "right", "neither"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if self.type is int:
            if not isinstance(value, numbers.Integral):
                return False
        elif not isinstance(value, numbers.Real):
            return False
        if value != value:  # NaN
            return False
        if self.low is not None:
            if value < self.low or (value == self.low and self.closed in ("right", "neither")):
                return False
        if self.high is not None:
            if value > self.high or (value == self.high and self.closed in ("left", "neither")):
                return False
        return True

    def describe(self) -> str:
        kind = "an integer" if self.type is int else "a number"
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{kind} in {left}{low}, {high}{right}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: tuple

    def __init__(self, values: Iterable) -> None:
        object.__setattr__(self, "values", tuple(values))

    def accepts(self, value: Any) -> bool:
        return any(value == v and type(value) is type(v) for v in self.values)

    def describe(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class Bool:
    """``True`` or ``False``."""

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "a bool"


@dataclass(frozen=True)
class NoneOk:
    """``None`` is allowed."""

    def accepts(self, value: Any) -> bool:
        return value is None

    def describe(self) -> str:
        return "None"


@dataclass(frozen=True)
class Box:
    """A pixel box ``(x, y, w, h)``: ``"x,y,w,h"`` or four integers, ``x, y >= 0``, ``w, h > 0``."""

    def accepts(self, value: Any) -> bool:
        from .recording import parse_box

        if value is None:
            return False
        try:
            parse_box(value)
        except ValueError:
            return False
        return True

    def describe(self) -> str:
        return "a box 'x,y,w,h' (four integers, pixels; x, y >= 0, w, h > 0)"


def check_param(name: str, value: Any, *constraints: Any, owner: str) -> None:
    """Raise :class:`ParameterError` unless ``value`` satisfies one of ``constraints``."""
    if any(c.accepts(value) for c in constraints):
        return
    allowed = " or ".join(c.describe() for c in constraints)
    raise ParameterError(f"The {name!r} parameter of {owner} must be {allowed}. Got {value!r} instead.")
