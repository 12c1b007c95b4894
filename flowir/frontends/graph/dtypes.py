"""TensorFlow-style dtype objects (``tf.float32`` ...) over flowir's element types.

A ``DType`` wraps an IR ``flowir.ir.DType`` and behaves as TF 1.15's: ``name``,
``as_numpy_dtype``, ``is_floating`` ..., ``base_dtype``, comparison with anything ``as_dtype``
accepts. Variables hand out the ``_ref`` variants (``int32_ref``) as TF 1.15's ref variables do.

>>> float32.name, float32.as_numpy_dtype, as_dtype("float32") is float32
('float32', <class 'numpy.float32'>, True)
>>> float32 == "float32", float32_ref.base_dtype is float32
(True, True)
"""

from __future__ import annotations

import builtins
from typing import Any

import ml_dtypes
import numpy as np

from flowir.ir.dtypes import DType as IRDType
from flowir.ir.dtypes import dtype_of

__all__ = [
    "DType",
    "as_dtype",
    "float16",
    "half",
    "bfloat16",
    "float32",
    "float64",
    "double",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "bool",
    "string",
    "float16_ref",
    "bfloat16_ref",
    "float32_ref",
    "float64_ref",
    "int8_ref",
    "int16_ref",
    "int32_ref",
    "int64_ref",
    "uint8_ref",
    "bool_ref",
    "string_ref",
]

#: TF's DataType enum values (``as_datatype_enum``); a ref type adds ``_REF_OFFSET``.
_ENUMS: dict[IRDType, int] = {
    IRDType.float32: 1,
    IRDType.float64: 2,
    IRDType.int32: 3,
    IRDType.uint8: 4,
    IRDType.int16: 5,
    IRDType.int8: 6,
    IRDType.string: 7,
    IRDType.int64: 9,
    IRDType.bool: 10,
    IRDType.bfloat16: 14,
    IRDType.float16: 19,
}
_REF_OFFSET = 100

#: TF's DataTypeString spelling (``float`` for float32), used by messages copied from TF.
_TF_TYPE_STRINGS: dict[IRDType, str] = {
    IRDType.float32: "float",
    IRDType.float64: "double",
    IRDType.float16: "half",
    IRDType.bfloat16: "bfloat16",
    IRDType.int8: "int8",
    IRDType.int16: "int16",
    IRDType.int32: "int32",
    IRDType.int64: "int64",
    IRDType.uint8: "uint8",
    IRDType.bool: "bool",
    IRDType.string: "string",
}


class DType:
    """A TensorFlow dtype: ``tf.float32``, ``tf.int32`` ... (or a ``_ref`` variant).

    Instances are interned: there is one object per element type and ref-ness, so ``is``
    works, and ``==`` also accepts anything ``as_dtype`` converts (``"float32"``,
    ``np.float32``).
    """

    __slots__ = ("_ir", "_is_ref")

    def __init__(self, ir: IRDType, is_ref: bool) -> None:
        self._ir = ir
        self._is_ref = is_ref

    @property
    def ir(self) -> IRDType:
        """The IR element type (``flowir.ir.DType``)."""
        return self._ir

    @property
    def name(self) -> str:
        """The TF name: ``"float32"``, ``"int32_ref"`` ..."""
        return self._ir.name + ("_ref" if self._is_ref else "")

    @property
    def _is_ref_dtype(self) -> bool:
        return self._is_ref

    @property
    def _as_ref(self) -> DType:
        return _REFS[self._ir]

    @property
    def base_dtype(self) -> DType:
        """The dtype without ``_ref``."""
        return _BASES[self._ir]

    @property
    def real_dtype(self) -> DType:
        """The real part's dtype; flowir has no complex dtypes, so ``base_dtype``."""
        return self.base_dtype

    @property
    def as_numpy_dtype(self) -> type:
        """The numpy scalar type (``np.float32``; ``np.object_`` for strings)."""
        return self._ir.numpy.type

    @property
    def as_datatype_enum(self) -> int:
        """TF's ``DataType`` enum value (``types.proto``: float32 is 1; a ``_ref`` type adds 100)."""
        return _ENUMS[self._ir] + (_REF_OFFSET if self._is_ref else 0)

    @property
    def is_floating(self) -> bool:
        """Whether this is a floating-point dtype (float16, bfloat16, float32, float64)."""
        return self._ir.is_floating

    @property
    def is_integer(self) -> bool:
        """Whether this is an integer dtype (signed or unsigned; not bool)."""
        return self._ir.is_integer

    @property
    def is_bool(self) -> bool:
        """Whether this is ``tf.bool``."""
        return self._ir is IRDType.bool

    @property
    def is_unsigned(self) -> bool:
        """Whether this is an unsigned integer dtype (``uint8``, the only one flowir has)."""
        return self._ir is IRDType.uint8

    @property
    def is_complex(self) -> bool:
        """Always ``False``: flowir has no complex dtypes (TF 1.15's ``complex64``/``complex128``)."""
        return False

    @property
    def is_quantized(self) -> bool:
        """Always ``False``: flowir has no quantized dtypes (TF 1.15's ``qint8`` ...)."""
        return False

    @property
    def is_numpy_compatible(self) -> bool:
        """Always ``True``: every flowir dtype has a numpy counterpart (as TF 1.15's non-quantized ones)."""
        return True

    @property
    def size(self) -> int:
        """Bytes per element (1 for strings, as TF reports)."""
        return self._ir.itemsize or 1

    @property
    def min(self) -> Any:
        """The smallest value of a numeric dtype; ``TypeError`` for bool and string."""
        return self._limits()[0]

    @property
    def max(self) -> Any:
        """The largest value of a numeric dtype; ``TypeError`` for bool and string."""
        return self._limits()[1]

    @property
    def limits(self) -> tuple[Any, Any]:
        """``(min, max)`` of a numeric dtype; ``TypeError`` for bool and string.

        Differs from TF 1.15, whose ``limits`` gives image intensity limits with the minimum clipped
        to 0 (``tf.float32.limits == (0, 1)``); flowir gives the full range, ``(dtype.min, dtype.max)``.
        """
        return self._limits()

    def _limits(self) -> tuple[Any, Any]:
        if self._ir.is_floating:
            info = ml_dtypes.finfo(self._ir.numpy)
            return info.min, info.max
        if self._ir.is_integer:
            iinfo = np.iinfo(self._ir.numpy)
            return iinfo.min, iinfo.max
        raise TypeError(f"Cannot find minimum value of {self}.")

    def is_compatible_with(self, other: Any) -> bool:
        """Whether a value of ``other`` fits where this dtype is expected (refs aside)."""
        other = as_dtype(other)
        return self is other or self is other.base_dtype or self.base_dtype is other

    def __eq__(self, other: object) -> bool:
        if other is None:
            return False
        if type(other) is DType:
            return self is other
        try:
            return self is as_dtype(other)
        except TypeError:
            return False

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash((self._ir, self._is_ref))

    def __repr__(self) -> str:
        return f"tf.{self.name}"

    def __str__(self) -> str:
        return f"<dtype: {self.name!r}>"

    def __reduce__(self) -> tuple:
        return (as_dtype, (self.name,))


_BASES: dict[IRDType, DType] = {d: DType(d, False) for d in IRDType}
_REFS: dict[IRDType, DType] = {d: DType(d, True) for d in IRDType}

float16 = half = _BASES[IRDType.float16]
bfloat16 = _BASES[IRDType.bfloat16]
float32 = _BASES[IRDType.float32]
float64 = double = _BASES[IRDType.float64]
int8 = _BASES[IRDType.int8]
int16 = _BASES[IRDType.int16]
int32 = _BASES[IRDType.int32]
int64 = _BASES[IRDType.int64]
uint8 = _BASES[IRDType.uint8]
bool = _BASES[IRDType.bool]  # noqa: A001 - TF's name
string = _BASES[IRDType.string]
float16_ref = _REFS[IRDType.float16]
bfloat16_ref = _REFS[IRDType.bfloat16]
float32_ref = _REFS[IRDType.float32]
float64_ref = _REFS[IRDType.float64]
int8_ref = _REFS[IRDType.int8]
int16_ref = _REFS[IRDType.int16]
int32_ref = _REFS[IRDType.int32]
int64_ref = _REFS[IRDType.int64]
uint8_ref = _REFS[IRDType.uint8]
bool_ref = _REFS[IRDType.bool]
string_ref = _REFS[IRDType.string]

_BY_NAME: dict[str, DType] = (
    {d.name: d for d in _BASES.values()}
    | {d.name: d for d in _REFS.values()}
    | {"half": float16, "float": float32, "double": float64, "half_ref": float16_ref, "float_ref": float32_ref, "double_ref": float64_ref}
)

#: Python types TF maps directly; ``int`` is deliberately absent, as in TF.
_PYTHON_TYPES: dict[Any, DType] = {
    float: float32,
    builtins.bool: _BASES[IRDType.bool],
    object: string,
    str: string,
    bytes: string,
}


def as_dtype(type_value: Any) -> DType:
    """The ``DType`` for ``type_value``: a ``DType``, an IR ``flowir.ir.DType``, a name
    (``"float32"``, ``"float"``, ``"float32_ref"``), a numpy dtype or scalar type, or one of
    the Python types ``float``, ``bool``, ``str``, ``bytes``, ``object``.

    Raises ``TypeError`` for anything else (``int`` included, as in TF).
    """
    if type(type_value) is DType:
        return type_value
    if isinstance(type_value, IRDType):
        return _BASES[type_value]
    if isinstance(type_value, str):
        found = _BY_NAME.get(type_value)
        if found is not None:
            return found
        raise TypeError(f"Cannot convert value {type_value!r} to a TensorFlow DType.")
    try:
        found = _PYTHON_TYPES.get(type_value)
    except TypeError:  # unhashable
        found = None
    if found is not None:
        return found
    if isinstance(type_value, np.dtype) or (isinstance(type_value, type) and issubclass(type_value, np.generic)):
        try:
            return _BASES[dtype_of(np.dtype(type_value))]
        except ValueError:
            pass
    raise TypeError(f"Cannot convert value {type_value!r} to a TensorFlow DType.")


def tf_type_string(dtype: DType) -> str:
    """TF's DataTypeString (``float`` for float32, ``double`` for float64), for messages."""
    return _TF_TYPE_STRINGS[dtype.ir] + ("_ref" if dtype._is_ref else "")
