"""Bitbox's one parameter protocol: :class:`ParamsMixin` and the constraints it validates against.

Processors (:class:`bitbox.Processor`) and models (e.g. the span categorizer, the EEG factor
model, the HBA descriptor baseline) follow scikit-learn's rules:

- ``__init__`` takes keyword-only parameters with defaults and only stores them, each under
  its own name (no ``*args``, no ``**kwargs``);
- :meth:`ParamsMixin.get_params` reads them from the signature, :meth:`ParamsMixin.set_params`
  sets them (an unknown name is a :class:`~bitbox.errors.ParameterError` listing the valid ones),
  and ``type(obj)(**obj.get_params())`` rebuilds an equal object (``sklearn.base.clone`` works);
- :meth:`ParamsMixin.validate_params` checks every parameter against the class's
  ``_parameter_constraints`` (``{name: [constraint, ...]}``, a value must satisfy one of them),
  when the object is used (``process``, ``fit``, ``load``), never in ``__init__``;
- ``repr()`` shows the parameters that differ from their defaults.

A constraint is any object with ``accepts(value) -> bool`` and ``describe() -> str``; the
error message joins the descriptions of a parameter's constraints with "or":

>>> check_param("fps", -3, Interval(float, 0, None, closed="neither"), owner="FaceProcessor")
Traceback (most recent call last):
...
bitbox.errors.ParameterError: The 'fps' parameter of FaceProcessor must be a number in (0, inf). Got -3 instead.
>>> check_param("model", 3, PathLike(), NoneOk(), owner="NarrativeProcessor")
Traceback (most recent call last):
...
bitbox.errors.ParameterError: The 'model' parameter of NarrativeProcessor must be a path (a non-empty str or \
os.PathLike) or None. Got 3 instead.
"""
from __future__ import annotations

import inspect
import math
import numbers
import os
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Protocol, TypeVar

from .errors import ParameterError

__all__ = ["ParamsMixin", "Constraint", "Interval", "Options", "Bool", "NoneOk", "InstanceOf", "PathLike",
           "Callable", "StrMatching", "check_param"]

_Self = TypeVar("_Self", bound="ParamsMixin")


class Constraint(Protocol):
    """What ``_parameter_constraints`` holds: an object that accepts values and describes what it accepts."""

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` satisfies the constraint.

        Parameters
        ----------
        value : object
            The parameter's value, as the user set it.

        Returns
        -------
        bool
            True when it is allowed; it must not raise for a value of any type.
        """

    def describe(self) -> str:
        """The accepted values in words (completes "must be ..." in an error message)."""


@dataclass(frozen=True)
class Interval:
    """A real or integer interval; ``None`` bounds are open-ended.

    Parameters
    ----------
    type : type
        ``int`` (integers only, numpy integers included) or ``float`` (any real number).
    low, high : float | None
        The bounds (``None``: unbounded).
    closed : {"both", "left", "right", "neither"}
        Which bounds belong to the interval.
    description : str | None
        Words for the error message instead of the interval (e.g. ``"a positive integer"``).

    Examples
    --------
    >>> Interval(int, 1, None).accepts(3), Interval(int, 1, None).accepts(2.0), Interval(int, 1, None).describe()
    (True, False, 'an integer in [1, inf)')
    """

    type: type
    low: float | None
    high: float | None
    closed: str = "both"  # "both", "left", "right", "neither"
    description: str | None = None

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is a number of the type inside the interval (never a bool or NaN).

        Parameters
        ----------
        value : object
            The value to check: for ``int``, any :class:`numbers.Integral` (numpy integers too); for
            ``float``, any :class:`numbers.Real` (integers too).

        Returns
        -------
        bool
            True when it is of the type, not NaN, and within the bounds (``closed`` says which bounds
            belong to the interval).
        """
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
        """``"an integer in [1, inf)"``, ``"a number in (0, 1]"`` (or ``description``)."""
        if self.description:
            return self.description
        kind = "an integer" if self.type is int else "a number"
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{kind} in {left}{low}, {high}{right}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values (of the same type: ``1`` is not ``True``, ``"1"`` is not ``1``).

    Parameters
    ----------
    values : iterable
        The allowed values (stored as a tuple, in this order, which the error message keeps).

    Examples
    --------
    >>> Options(("mean", "max")).accepts("max"), Options(("mean", "max")).describe()
    (True, "one of 'mean', 'max'")
    """

    values: tuple

    def __init__(self, values: Iterable) -> None:
        object.__setattr__(self, "values", tuple(values))

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is one of the options, of the same type.

        Parameters
        ----------
        value : object
            The value to check.

        Returns
        -------
        bool
            True when it equals one of :attr:`values` and has exactly that value's type.
        """
        return any(value == v and type(value) is type(v) for v in self.values)

    def describe(self) -> str:
        """``"one of 'a', 'b'"``."""
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class Bool:
    """``True`` or ``False`` (not ``0`` or ``1``)."""

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is a bool.

        Parameters
        ----------
        value : object
            The value to check.

        Returns
        -------
        bool
            True for ``True`` and ``False`` only (``isinstance(value, bool)``: not ``0``, ``1`` or a numpy bool).
        """
        return isinstance(value, bool)

    def describe(self) -> str:
        """``"a bool"``."""
        return "a bool"


@dataclass(frozen=True)
class NoneOk:
    """``None`` is allowed (combine it with another constraint: ``[PathLike(), NoneOk()]``)."""

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is ``None``.

        Parameters
        ----------
        value : object
            The value to check.

        Returns
        -------
        bool
            True only for ``None``.
        """
        return value is None

    def describe(self) -> str:
        """``"None"``."""
        return "None"


@dataclass(frozen=True)
class InstanceOf:
    """An instance of one of ``types`` (``isinstance``; a bool is an ``int`` only if ``bool`` is listed).

    Parameters
    ----------
    *types : type
        One or more classes the value may be an instance of.

    Raises
    ------
    TypeError
        When no type is given, or one of them is not a class.

    Examples
    --------
    >>> InstanceOf(list, tuple).accepts(("a",)), InstanceOf(list, tuple).describe()
    (True, 'an instance of list or tuple')
    >>> InstanceOf(int).accepts(True)
    False
    """

    types: tuple

    def __init__(self, *types: type) -> None:
        if not types or not all(isinstance(t, type) for t in types):
            raise TypeError(f"InstanceOf needs one or more types; got {types!r}")
        object.__setattr__(self, "types", tuple(types))

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is an instance of one of the types.

        Parameters
        ----------
        value : object
            The value to check.

        Returns
        -------
        bool
            True when ``isinstance(value, types)``; a bool only when ``bool`` (or ``object``) is one of them.
        """
        if isinstance(value, bool) and bool not in self.types and object not in self.types:
            return False
        return isinstance(value, self.types)

    def describe(self) -> str:
        """``"an instance of dict"``, ``"an instance of list or tuple"``."""
        return "an instance of " + " or ".join(t.__qualname__ for t in self.types)


@dataclass(frozen=True)
class PathLike:
    """A file or folder path: a non-empty ``str`` or an ``os.PathLike`` (e.g. a :class:`pathlib.Path`).

    Whether the file exists is not checked here (a processor checks it where it reads it, with
    its own message).

    Examples
    --------
    >>> from pathlib import Path
    >>> PathLike().accepts(Path("model")), PathLike().accepts("model"), PathLike().accepts(""), PathLike().accepts(3)
    (True, True, False, False)
    """

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is a non-empty str or an os.PathLike.

        Parameters
        ----------
        value : object
            The value to check (the path is not looked up on disk).

        Returns
        -------
        bool
            True for a non-empty ``str`` or an :class:`os.PathLike`; False for ``""``, bytes and anything else.
        """
        if isinstance(value, str):
            return value != ""
        return isinstance(value, os.PathLike)

    def describe(self) -> str:
        """``"a path (a non-empty str or os.PathLike)"``."""
        return "a path (a non-empty str or os.PathLike)"


@dataclass(frozen=True)
class Callable:
    """A callable (a function, a class, an object with ``__call__``)."""

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is callable.

        Parameters
        ----------
        value : object
            The value to check.

        Returns
        -------
        bool
            True when ``callable(value)``.
        """
        return callable(value)

    def describe(self) -> str:
        """``"a callable"``."""
        return "a callable"


@dataclass(frozen=True)
class StrMatching:
    """A ``str`` that matches a regular expression in full (:func:`re.fullmatch`).

    Parameters
    ----------
    pattern : str
        The regular expression.
    description : str | None
        Words for the error message (default: ``"a str matching '<pattern>'"``).

    Examples
    --------
    >>> language = StrMatching(r"[a-z]{2,3}", "a language code such as 'en'")
    >>> language.accepts("en"), language.accepts("English"), language.describe()
    (True, False, "a language code such as 'en'")
    """

    pattern: str
    description: str | None = None

    def __post_init__(self) -> None:
        re.compile(self.pattern)  # a bad pattern fails when the class is defined, not when a value is checked

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is a str matching the pattern in full.

        Parameters
        ----------
        value : object
            The value to check.

        Returns
        -------
        bool
            True for a ``str`` that :func:`re.fullmatch` matches with :attr:`pattern`; False for any other type.
        """
        return isinstance(value, str) and re.fullmatch(self.pattern, value) is not None

    def describe(self) -> str:
        """The description, or ``"a str matching '<pattern>'"``."""
        return self.description or f"a str matching {self.pattern!r}"


def check_param(name: str, value: Any, *constraints: Any, owner: str) -> None:
    """Raise :class:`ParameterError` unless ``value`` satisfies one of ``constraints``.

    Parameters
    ----------
    name : str
        The parameter's name (for the message).
    value : object
        Its value.
    *constraints : Constraint
        What it may be; one accepting is enough.
    owner : str
        The class (or function) the parameter belongs to (for the message).

    Raises
    ------
    ParameterError
        ``The 'name' parameter of Owner must be <descriptions joined by "or">. Got <value> instead.``
    """
    if any(c.accepts(value) for c in constraints):
        return
    allowed = " or ".join(c.describe() for c in constraints)
    raise ParameterError(f"The {name!r} parameter of {owner} must be {allowed}. Got {value!r} instead.")


def _same(value: Any, default: Any) -> bool:
    """Whether a parameter value is its default, for ``repr`` (NaN is NaN; arrays compare as a whole)."""
    if value is default:
        return True
    if isinstance(value, float) and isinstance(default, float) and math.isnan(value) and math.isnan(default):
        return True
    if type(value) is not type(default) and not (isinstance(value, numbers.Number)
                                                 and isinstance(default, numbers.Number)):
        return False
    try:
        return bool(value == default)
    except (TypeError, ValueError):  # e.g. numpy arrays: element-wise
        return repr(value) == repr(default)


class ParamsMixin:
    """Parameters by scikit-learn's rules, for Bitbox's processors and models (see the module docstring).

    A class using it lists its parameters in ``__init__`` (keyword-only, with defaults, each
    stored unchanged under its own name) and their constraints in ``_parameter_constraints``;
    it calls :meth:`validate_params` where its parameters are used (``fit``, ``process``, ``load``).

    Examples
    --------
    >>> class Smoother(ParamsMixin):
    ...     _parameter_constraints = {"window": [Interval(int, 1, None)], "mode": [Options(("mean", "median"))]}
    ...     def __init__(self, *, window=5, mode="mean"):
    ...         self.window = window
    ...         self.mode = mode
    >>> s = Smoother(window=9)
    >>> s, s.get_params()
    (Smoother(window=9), {'mode': 'mean', 'window': 9})
    >>> s.set_params(mode="max").validate_params()
    Traceback (most recent call last):
    ...
    bitbox.errors.ParameterError: The 'mode' parameter of Smoother must be one of 'mean', 'median'. Got 'max' instead.
    """

    #: ``{parameter: [constraint, ...]}`` checked by :meth:`validate_params` (one constraint accepting is enough).
    _parameter_constraints: ClassVar[dict[str, list]] = {}

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The parameter names of ``__init__``, sorted (as scikit-learn's ``_get_param_names``).

        Raises
        ------
        TypeError
            When ``__init__`` takes ``*args`` or ``**kwargs``.
        """
        init = cls.__init__
        if init is object.__init__:
            return []
        params = inspect.signature(init).parameters.values()
        for p in params:
            if p.name != "self" and p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ must list its parameters explicitly "
                                f"(no *args or **kwargs), like scikit-learn estimators.")
        return sorted(p.name for p in params if p.name != "self")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The parameters, as passed to ``__init__`` (``type(self)(**self.get_params())`` is an equal object).

        Parameters
        ----------
        deep : bool
            Accepted for scikit-learn compatibility (``clone`` passes ``deep=False``); Bitbox's
            parameters are plain values, so both give the same dict.

        Returns
        -------
        dict
            ``{name: value}``, sorted by name.
        """
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self: _Self, **params: Any) -> _Self:
        """Set parameters by name (none is set when one name is unknown).

        The values are stored as they are; they are checked by :meth:`validate_params`, when the
        object is used.

        Parameters
        ----------
        **params : object
            ``name=value`` for each parameter to change; a name is one of ``__init__``'s parameters
            (:meth:`get_params` lists them).

        Returns
        -------
        ParamsMixin
            This object itself (``self``, of its own class), so that calls chain:
            ``obj.set_params(window=9).validate_params()``.

        Raises
        ------
        ParameterError
            For a name that is not an ``__init__`` parameter; the message lists the valid ones.
        """
        valid = self._get_param_names()
        unknown = [key for key in params if key not in valid]
        if unknown:
            names = ", ".join(map(repr, unknown))
            what = "is not a parameter" if len(unknown) == 1 else "are not parameters"
            raise ParameterError(f"{names} {what} of {type(self).__name__}. "
                                 f"Valid parameters: {', '.join(valid) or 'none'}.")
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def validate_params(self) -> None:
        """Check every parameter against ``_parameter_constraints``.

        Raises
        ------
        ParameterError
            For the first parameter (in name order) that no constraint of its own accepts; the
            message names it, says what it must be and what it got.
        """
        owner = type(self).__name__
        for key, value in self.get_params(deep=False).items():
            constraints = self._parameter_constraints.get(key)
            if constraints:
                check_param(key, value, *constraints, owner=owner)

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
                    if p.name != "self"}
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_params(deep=False).items()
                         if key not in defaults or defaults[key] is inspect.Parameter.empty
                         or not _same(value, defaults[key]))
        return f"{type(self).__name__}({args})"
