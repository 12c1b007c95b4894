"""Shared pieces of type rules: operand checks and the elementwise op families."""

from __future__ import annotations

from collections.abc import Iterable

from flowir.ir.core import Operation, Trait, operand
from flowir.ir.dtypes import DType
from flowir.ir.errors import DTypeError
from flowir.ir.types import TensorType, Type, broadcast_shapes

__all__ = [
    "tensor",
    "same_dtype",
    "require_dtypes",
    "FLOATS",
    "INTS",
    "NUMERIC",
    "SIGNED_NUMERIC",
    "ALL_DTYPES",
    "UnaryElementwise",
    "BinaryElementwise",
    "ComparisonOp",
    "ELEMENTWISE",
    "ELEMENTWISE_COMMUTATIVE",
]

FLOATS = frozenset({DType.float16, DType.bfloat16, DType.float32, DType.float64})
INTS = frozenset({DType.int8, DType.int16, DType.int32, DType.int64, DType.uint8})
NUMERIC = FLOATS | INTS
SIGNED_NUMERIC = NUMERIC - {DType.uint8}
ALL_DTYPES = frozenset(DType)

ELEMENTWISE = frozenset({Trait.PURE, Trait.ELEMENTWISE})
ELEMENTWISE_COMMUTATIVE = ELEMENTWISE | {Trait.COMMUTATIVE}


def tensor(ty: Type, what: str = "operand") -> TensorType:
    """``ty`` as a ``TensorType``; ``DTypeError`` if it is a control token or variable handle."""
    if type(ty) is not TensorType:
        raise DTypeError(f"{what} must be a tensor, got {ty!r}")
    return ty  # type: ignore[return-value]


def same_dtype(*types: TensorType, what: str = "operands") -> DType:
    """The common dtype of ``types``; ``DTypeError`` if they differ (there is no implicit promotion)."""
    dt = types[0].dtype
    for t in types[1:]:
        if t.dtype is not dt:
            raise DTypeError(f"{what} have different dtypes ({' vs '.join(x.dtype.value for x in types)})")
    return dt


def require_dtypes(t: TensorType, allowed: Iterable[DType], what: str = "operand") -> None:
    if t.dtype not in allowed:
        names = ", ".join(sorted(d.value for d in allowed))
        raise DTypeError(f"{what} has dtype {t.dtype.value}; expected one of {names}")


class UnaryElementwise(Operation):
    """``y = f(x)`` elementwise; ``DTYPES`` lists the accepted dtypes, result dtype as input
    unless ``RESULT_DTYPE`` is set."""

    traits = ELEMENTWISE
    DTYPES: frozenset[DType] = NUMERIC
    RESULT_DTYPE: DType | None = None
    x = operand()

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        require_dtypes(t, self.DTYPES, "x")
        return t if self.RESULT_DTYPE is None else t.with_dtype(self.RESULT_DTYPE)


class BinaryElementwise(Operation):
    """``z = f(x, y)`` elementwise with numpy broadcasting; both operands of one dtype."""

    traits = ELEMENTWISE
    DTYPES: frozenset[DType] = NUMERIC
    RESULT_DTYPE: DType | None = None
    x = operand()
    y = operand()

    def infer_type(self, x: Type, y: Type) -> TensorType:
        a, b = tensor(x, "x"), tensor(y, "y")
        dt = same_dtype(a, b)
        require_dtypes(a, self.DTYPES, "operands")
        sa, sb = a.shape, b.shape
        # Equal shapes and a scalar operand are the common cases: nothing to broadcast.
        shape = sa if sa == sb or sb == () else sb if sa == () else broadcast_shapes(sa, sb)
        return TensorType(self.RESULT_DTYPE or dt, shape)


class ComparisonOp(BinaryElementwise):
    """A broadcasting comparison giving ``bool``."""

    DTYPES = NUMERIC | {DType.bool}
    RESULT_DTYPE = DType.bool
