"""Element types of flowir tensors and their numpy counterparts."""

from __future__ import annotations

import enum

import ml_dtypes
import numpy as np

__all__ = ["DType", "dtype_of"]


class DType(enum.Enum):
    """An element type. ``value`` is the short textual name used in the IR (``f32``).

    >>> DType.float32.numpy
    dtype('float32')
    >>> DType.parse("bf16") is DType.bfloat16
    True
    """

    bool = "i1"
    int8 = "i8"
    int16 = "i16"
    int32 = "i32"
    int64 = "i64"
    uint8 = "ui8"
    float16 = "f16"
    bfloat16 = "bf16"
    float32 = "f32"
    float64 = "f64"
    string = "string"

    #: Members are singletons compared by identity: hash by identity too, in C (``Enum``'s
    #: own ``__hash__`` is a Python call, and dtype sets and dicts are on every op's path).
    __hash__ = object.__hash__

    @property
    def numpy(self) -> np.dtype:
        """The numpy dtype holding this element type (``object`` for strings)."""
        return _TO_NUMPY[self]

    @property
    def short(self) -> str:
        """The short IR name (``f32``, ``i64``, ``i1`` for bool)."""
        return self.value

    @property
    def is_floating(self) -> bool:
        """Whether this is a floating-point type (f16, bf16, f32, f64)."""
        return self in _FLOATS

    @property
    def is_integer(self) -> bool:
        """Whether this is an integer type, signed or unsigned (bool is not)."""
        return self in _INTS

    @property
    def is_signed(self) -> bool:
        """Whether values can be negative: the floats and signed integers."""
        return self in _FLOATS or self in _SIGNED

    @property
    def is_numeric(self) -> bool:
        """Whether this is a float or integer type (not bool or string)."""
        return self in _FLOATS or self in _INTS

    @property
    def is_bool(self) -> bool:
        """Whether this is ``bool`` (``i1``)."""
        return self is DType.bool

    @property
    def itemsize(self) -> int:
        """Bytes per element; 0 for strings, which have no fixed size."""
        return 0 if self is DType.string else self.numpy.itemsize

    @staticmethod
    def parse(text: str) -> DType:
        """The dtype spelled ``text``: a short name (``f32``) or a long one (``float32``)."""
        try:
            return _BY_NAME[text]
        except KeyError:
            raise ValueError(f"unknown dtype {text!r}") from None

    def __repr__(self) -> str:
        return f"DType.{self.name}"

    def __str__(self) -> str:
        return self.name


_TO_NUMPY: dict[DType, np.dtype] = {
    DType.bool: np.dtype(np.bool_),
    DType.int8: np.dtype(np.int8),
    DType.int16: np.dtype(np.int16),
    DType.int32: np.dtype(np.int32),
    DType.int64: np.dtype(np.int64),
    DType.uint8: np.dtype(np.uint8),
    DType.float16: np.dtype(np.float16),
    DType.bfloat16: np.dtype(ml_dtypes.bfloat16),
    DType.float32: np.dtype(np.float32),
    DType.float64: np.dtype(np.float64),
    DType.string: np.dtype(object),
}
_FROM_NUMPY: dict[np.dtype, DType] = {v: k for k, v in _TO_NUMPY.items() if k is not DType.string}
_FLOATS = frozenset({DType.float16, DType.bfloat16, DType.float32, DType.float64})
_INTS = frozenset({DType.int8, DType.int16, DType.int32, DType.int64, DType.uint8})
_SIGNED = frozenset({DType.int8, DType.int16, DType.int32, DType.int64})
_BY_NAME: dict[str, DType] = {d.value: d for d in DType} | {d.name: d for d in DType}


def dtype_of(x: object) -> DType:
    """The flowir dtype of a numpy dtype, numpy array or numpy scalar type.

    Strings (numpy ``str``/``bytes``/``object`` arrays) map to ``DType.string``.
    """
    if isinstance(x, np.dtype):
        dt = x
    elif isinstance(x, (np.ndarray, np.generic)):
        dt = x.dtype
    else:
        dt = np.dtype(x)  # type: ignore[call-overload]
    found = _FROM_NUMPY.get(dt)
    if found is not None:
        return found
    if dt.kind in "OUS":
        return DType.string
    raise ValueError(f"numpy dtype {dt} has no flowir counterpart")
