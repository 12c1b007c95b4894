"""Attribute kinds: what values an op attribute may hold, and how they are normalised.

Attribute values are plain immutable Python values: ``bool``, ``int``, ``float``, ``str``,
``DType``, tuples of those (``None`` allowed inside shapes), or a read-only ``numpy.ndarray``
for dense constants. The printer writes them from their Python type; the kind of the
attribute's declaration turns what the parser read back into the same value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flowir.ir.dtypes import DType, dtype_of

__all__ = ["AttrKind", "Ints", "Floats", "Strs", "ShapeKind", "Dense", "kind_of", "freeze_array", "attr_equal", "attr_key"]


class AttrKind:
    """Normalises and checks values of one attribute kind. ``check`` raises ``ValueError``."""

    name = "any"

    def check(self, value: Any) -> Any:
        """``value`` in this kind's normal form; ``ValueError`` if it is not of the kind (the base kind takes anything)."""
        return value


class _Bool(AttrKind):
    name = "bool"

    def check(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise ValueError(f"expected a bool, got {value!r}")


class _Int(AttrKind):
    name = "int"

    def check(self, value: Any) -> int:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"expected an int, got {value!r}")
        return int(value)


class _Float(AttrKind):
    name = "float"

    def check(self, value: Any) -> float:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"expected a float, got {value!r}")
        return float(value)


class _Str(AttrKind):
    name = "str"

    def check(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r}")
        return value


class _DTypeKind(AttrKind):
    name = "dtype"

    def check(self, value: Any) -> DType:
        if isinstance(value, DType):
            return value
        if isinstance(value, str):
            return DType.parse(value)
        return dtype_of(np.dtype(value))


class _Seq(AttrKind):
    def __init__(self, elem: AttrKind, name: str) -> None:
        self.elem = elem
        self.name = name

    def check(self, value: Any) -> tuple:
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"expected a list of {self.elem.name}, got {value!r}")
        return tuple(self.elem.check(v) for v in value)


class _ShapeKind(AttrKind):
    """A shape: a list of non-negative ints and ``None``; or ``None`` for unknown rank."""

    name = "shape"

    def check(self, value: Any) -> tuple[int | None, ...] | None:
        if value is None:
            return None
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"expected a shape, got {value!r}")
        out = []
        for d in value:
            if d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d == -1):
                out.append(None)
            elif isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0:
                out.append(int(d))
            else:
                raise ValueError(f"invalid dim {d!r} in shape {value!r}")
        return tuple(out)


class _Dense(AttrKind):
    """A dense array (the value of a constant), stored read-only."""

    name = "dense"

    def check(self, value: Any) -> np.ndarray:
        if not isinstance(value, np.ndarray):
            raise ValueError(f"expected a dense array, got {type(value).__name__}")
        dtype_of(value)  # rejects dtypes flowir cannot hold
        return freeze_array(value)


BOOL = _Bool()
INT = _Int()
FLOAT = _Float()
STR = _Str()
DTYPE = _DTypeKind()
Ints = _Seq(INT, "ints")
Floats = _Seq(FLOAT, "floats")
Strs = _Seq(STR, "strs")
ShapeKind = _ShapeKind()
Dense = _Dense()

_BY_PYTYPE: dict[Any, AttrKind] = {bool: BOOL, int: INT, float: FLOAT, str: STR, DType: DTYPE}


def kind_of(spec: Any) -> AttrKind:
    """The ``AttrKind`` for a declaration: a Python type (``bool``, ``int``, ``float``, ``str``,
    ``DType``) or a kind object (``Ints``, ``ShapeKind``, ``Dense`` ...)."""
    if isinstance(spec, AttrKind):
        return spec
    try:
        return _BY_PYTYPE[spec]
    except KeyError:
        raise TypeError(f"no attribute kind for {spec!r}") from None


def freeze_array(a: np.ndarray) -> np.ndarray:
    """A read-only array equal to ``a`` (copied unless it already is read-only)."""
    if a.flags.writeable:
        a = a.copy()
        a.flags.writeable = False
    return a


def attr_key(value: Any) -> Any:
    """A hashable key equal for equal attribute values (arrays compare by dtype, shape, bytes)."""
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return ("dense", value.shape, tuple(value.ravel().tolist()))
        return ("dense", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, float) and value != value:
        return ("nan",)
    return value


def attr_equal(a: Any, b: Any) -> bool:
    """Whether two attribute values are equal (arrays by dtype, shape and contents; nan equals nan)."""
    return attr_key(a) == attr_key(b)
