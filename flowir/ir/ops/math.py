"""The math dialect: elementwise arithmetic, comparisons, logic, casts, matmul and reductions.

Semantics follow TensorFlow 1.15: no implicit dtype promotion (both operands of a binary op
share one dtype), numpy broadcasting, integer arithmetic wraps, results keep the input dtype.
The numpy kernels that define what each op computes are in ``flowir/ir/reference/math.py``.
"""

from __future__ import annotations

from flowir.ir.attributes import Ints
from flowir.ir.core import PURE, Operation, attr, operand, register_op
from flowir.ir.dtypes import DType
from flowir.ir.errors import DTypeError, OpAttributeError, ShapeError
from flowir.ir.ops._base import (
    ALL_DTYPES,
    ELEMENTWISE,
    ELEMENTWISE_COMMUTATIVE,
    FLOATS,
    INTS,
    NUMERIC,
    SIGNED_NUMERIC,
    BinaryElementwise,
    ComparisonOp,
    UnaryElementwise,
    require_dtypes,
    same_dtype,
    tensor,
)
from flowir.ir.types import TensorType, Type, broadcast_shapes, format_shape, normalize_axes, normalize_axis

__all__ = [
    "Add",
    "Sub",
    "Mul",
    "Div",
    "FloorDiv",
    "Mod",
    "Pow",
    "Maximum",
    "Minimum",
    "Neg",
    "Abs",
    "Sign",
    "Exp",
    "Log",
    "Sqrt",
    "Rsqrt",
    "Square",
    "Tanh",
    "Sigmoid",
    "Sin",
    "Cos",
    "Tan",
    "Asin",
    "Acos",
    "Atan",
    "Sinh",
    "Cosh",
    "Asinh",
    "Acosh",
    "Atanh",
    "Erf",
    "Floor",
    "Ceil",
    "Round",
    "Reciprocal",
    "IsNan",
    "IsInf",
    "CumSum",
    "TopK",
    "BitwiseAnd",
    "BitwiseOr",
    "BitwiseXor",
    "BitwiseNot",
    "LeftShift",
    "RightShift",
    "Equal",
    "NotEqual",
    "Less",
    "LessEqual",
    "Greater",
    "GreaterEqual",
    "LogicalAnd",
    "LogicalOr",
    "LogicalXor",
    "LogicalNot",
    "Cast",
    "Select",
    "MatMul",
    "ReduceSum",
    "ReduceMean",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceAny",
    "ReduceAll",
    "ArgMax",
    "ArgMin",
]

BOOL_ONLY = frozenset({DType.bool})
NUMERIC_OR_BOOL = NUMERIC | BOOL_ONLY
#: Dtypes ``ArgMax``/``ArgMin`` may return, as in TF.
INDEX_DTYPES = frozenset({DType.int32, DType.int64})


# --------------------------------------------------------------------------------------------
# Binary arithmetic


@register_op
class Add(BinaryElementwise):
    """``x + y`` with broadcasting; numeric; integers wrap."""

    name = "math.add"
    traits = ELEMENTWISE_COMMUTATIVE


@register_op
class Sub(BinaryElementwise):
    """``x - y`` with broadcasting; numeric; integers wrap."""

    name = "math.sub"


@register_op
class Mul(BinaryElementwise):
    """``x * y`` with broadcasting; numeric; integers wrap."""

    name = "math.mul"
    traits = ELEMENTWISE_COMMUTATIVE


@register_op
class Div(BinaryElementwise):
    """``x / y`` (TF ``Div``): true division for floats, truncation toward zero for integers.

    Integer division by zero is an error at run time; float division by zero gives inf/nan.
    """

    name = "math.div"


@register_op
class FloorDiv(BinaryElementwise):
    """``floor(x / y)`` (TF ``FloorDiv``); integer division by zero is a run-time error."""

    name = "math.floordiv"


@register_op
class Mod(BinaryElementwise):
    """Floor modulo (TF ``FloorMod``): the result takes the sign of ``y``, like Python's ``%``.

    Integer modulo by zero is a run-time error; float modulo by zero gives nan.
    """

    name = "math.mod"


@register_op
class Pow(BinaryElementwise):
    """``x ** y`` with broadcasting; integer overflow wraps, negative integer exponents are a
    run-time error (as in TF)."""

    name = "math.pow"


@register_op
class Maximum(BinaryElementwise):
    """The elementwise maximum; nan wins (either side), which keeps the op commutative."""

    name = "math.maximum"
    traits = ELEMENTWISE_COMMUTATIVE


@register_op
class Minimum(BinaryElementwise):
    """The elementwise minimum; nan wins (either side), which keeps the op commutative."""

    name = "math.minimum"
    traits = ELEMENTWISE_COMMUTATIVE


# --------------------------------------------------------------------------------------------
# Unary elementwise


@register_op
class Neg(UnaryElementwise):
    """``-x`` for signed numeric dtypes; the most negative integer wraps to itself."""

    name = "math.neg"
    DTYPES = SIGNED_NUMERIC


@register_op
class Abs(UnaryElementwise):
    """``|x|``; the most negative integer wraps to itself."""

    name = "math.abs"


@register_op
class Sign(UnaryElementwise):
    """-1, 0 or 1 by the sign of ``x`` in ``x``'s dtype (nan stays nan)."""

    name = "math.sign"


@register_op
class Exp(UnaryElementwise):
    """``e ** x``; floats."""

    name = "math.exp"
    DTYPES = FLOATS


@register_op
class Log(UnaryElementwise):
    """The natural logarithm; floats; ``log(0) = -inf``, negative inputs give nan."""

    name = "math.log"
    DTYPES = FLOATS


@register_op
class Sqrt(UnaryElementwise):
    """The square root; floats; negative inputs give nan."""

    name = "math.sqrt"
    DTYPES = FLOATS


@register_op
class Rsqrt(UnaryElementwise):
    """``1 / sqrt(x)``; floats; ``rsqrt(0) = inf``."""

    name = "math.rsqrt"
    DTYPES = FLOATS


@register_op
class Square(UnaryElementwise):
    """``x * x``; numeric; integers wrap."""

    name = "math.square"


@register_op
class Tanh(UnaryElementwise):
    """The hyperbolic tangent; floats."""

    name = "math.tanh"
    DTYPES = FLOATS


@register_op
class Sigmoid(UnaryElementwise):
    """``1 / (1 + exp(-x))``; floats; saturates to 0 and 1 without overflow."""

    name = "math.sigmoid"
    DTYPES = FLOATS


@register_op
class Sin(UnaryElementwise):
    """The sine; floats."""

    name = "math.sin"
    DTYPES = FLOATS


@register_op
class Cos(UnaryElementwise):
    """The cosine; floats."""

    name = "math.cos"
    DTYPES = FLOATS


class FloatUnary(UnaryElementwise):
    """A float-only elementwise function (values outside its domain give nan)."""

    DTYPES = FLOATS


@register_op
class Tan(FloatUnary):
    """The tangent; floats."""

    name = "math.tan"


@register_op
class Asin(FloatUnary):
    """The arcsine, in ``[-pi/2, pi/2]``; floats; nan outside ``[-1, 1]``."""

    name = "math.asin"


@register_op
class Acos(FloatUnary):
    """The arccosine, in ``[0, pi]``; floats; nan outside ``[-1, 1]``."""

    name = "math.acos"


@register_op
class Atan(FloatUnary):
    """The arctangent, in ``(-pi/2, pi/2)``; floats."""

    name = "math.atan"


@register_op
class Sinh(FloatUnary):
    """The hyperbolic sine; floats."""

    name = "math.sinh"


@register_op
class Cosh(FloatUnary):
    """The hyperbolic cosine; floats."""

    name = "math.cosh"


@register_op
class Asinh(FloatUnary):
    """The inverse hyperbolic sine; floats."""

    name = "math.asinh"


@register_op
class Acosh(FloatUnary):
    """The inverse hyperbolic cosine; floats; nan below 1."""

    name = "math.acosh"


@register_op
class Atanh(FloatUnary):
    """The inverse hyperbolic tangent; floats; +-inf at +-1, nan outside ``[-1, 1]``."""

    name = "math.atanh"


@register_op
class Erf(FloatUnary):
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``; floats."""

    name = "math.erf"


@register_op
class Floor(FloatUnary):
    """The largest integer not above ``x``, in ``x``'s float dtype."""

    name = "math.floor"


@register_op
class Ceil(FloatUnary):
    """The smallest integer not below ``x``, in ``x``'s float dtype."""

    name = "math.ceil"


@register_op
class Round(FloatUnary):
    """``x`` rounded to the nearest integer, halves to even (TF ``Round``, ONNX ``Round``)."""

    name = "math.round"


@register_op
class Reciprocal(FloatUnary):
    """``1 / x``; floats; ``1 / 0 = inf``."""

    name = "math.reciprocal"


@register_op
class IsNan(FloatUnary):
    """Whether ``x`` is nan, as bool."""

    name = "math.is_nan"
    RESULT_DTYPE = DType.bool


@register_op
class IsInf(FloatUnary):
    """Whether ``x`` is +inf or -inf, as bool."""

    name = "math.is_inf"
    RESULT_DTYPE = DType.bool


# --------------------------------------------------------------------------------------------
# Comparisons and logic


@register_op
class Equal(ComparisonOp):
    """``x == y`` with broadcasting, giving bool; any dtype, strings included."""

    name = "math.equal"
    traits = ELEMENTWISE_COMMUTATIVE
    DTYPES = ALL_DTYPES


@register_op
class NotEqual(ComparisonOp):
    """``x != y`` with broadcasting, giving bool; any dtype, strings included."""

    name = "math.not_equal"
    traits = ELEMENTWISE_COMMUTATIVE
    DTYPES = ALL_DTYPES


@register_op
class Less(ComparisonOp):
    """``x < y`` with broadcasting, giving bool; numeric."""

    name = "math.less"
    DTYPES = NUMERIC


@register_op
class LessEqual(ComparisonOp):
    """``x <= y`` with broadcasting, giving bool; numeric."""

    name = "math.less_equal"
    DTYPES = NUMERIC


@register_op
class Greater(ComparisonOp):
    """``x > y`` with broadcasting, giving bool; numeric."""

    name = "math.greater"
    DTYPES = NUMERIC


@register_op
class GreaterEqual(ComparisonOp):
    """``x >= y`` with broadcasting, giving bool; numeric."""

    name = "math.greater_equal"
    DTYPES = NUMERIC


@register_op
class LogicalAnd(BinaryElementwise):
    """``x and y`` with broadcasting; bool."""

    name = "math.logical_and"
    traits = ELEMENTWISE_COMMUTATIVE
    DTYPES = BOOL_ONLY


@register_op
class LogicalOr(BinaryElementwise):
    """``x or y`` with broadcasting; bool."""

    name = "math.logical_or"
    traits = ELEMENTWISE_COMMUTATIVE
    DTYPES = BOOL_ONLY


@register_op
class LogicalXor(BinaryElementwise):
    """``x != y`` on bools with broadcasting."""

    name = "math.logical_xor"
    traits = ELEMENTWISE_COMMUTATIVE
    DTYPES = BOOL_ONLY


@register_op
class LogicalNot(UnaryElementwise):
    """``not x``; bool."""

    name = "math.logical_not"
    DTYPES = BOOL_ONLY


# --------------------------------------------------------------------------------------------
# Bitwise (integers, two's complement as TF's and numpy's)


@register_op
class BitwiseAnd(BinaryElementwise):
    """``x & y`` with broadcasting; integers (``tf.bitwise.bitwise_and``, ONNX ``BitwiseAnd``)."""

    name = "math.bitwise_and"
    traits = ELEMENTWISE_COMMUTATIVE
    DTYPES = INTS


@register_op
class BitwiseOr(BinaryElementwise):
    """``x | y`` with broadcasting; integers."""

    name = "math.bitwise_or"
    traits = ELEMENTWISE_COMMUTATIVE
    DTYPES = INTS


@register_op
class BitwiseXor(BinaryElementwise):
    """``x ^ y`` with broadcasting; integers."""

    name = "math.bitwise_xor"
    traits = ELEMENTWISE_COMMUTATIVE
    DTYPES = INTS


@register_op
class BitwiseNot(UnaryElementwise):
    """``~x``; integers (``tf.bitwise.invert``, ONNX ``BitwiseNot``)."""

    name = "math.bitwise_not"
    DTYPES = INTS


@register_op
class LeftShift(BinaryElementwise):
    """``x << y`` with broadcasting; integers; bits shifted past the width are lost; the shift
    amount is clamped into ``[0, width - 1]`` (TF's kernel; ONNX leaves it undefined)."""

    name = "math.left_shift"
    DTYPES = INTS


@register_op
class RightShift(BinaryElementwise):
    """``x >> y`` with broadcasting; integers; arithmetic for signed types (the sign bit is
    kept), logical for unsigned; the shift amount is clamped into ``[0, width - 1]``."""

    name = "math.right_shift"
    DTYPES = INTS


# --------------------------------------------------------------------------------------------
# Cast and select


@register_op
class Cast(UnaryElementwise):
    """``x`` converted to ``dtype`` (numeric or bool, both ways).

    Float to integer truncates toward zero; to bool is ``x != 0``; from bool gives 0 and 1;
    narrowing integers wrap; float narrowing rounds to nearest even.
    """

    name = "math.cast"
    DTYPES = NUMERIC_OR_BOOL
    dtype = attr(DType, doc="the result dtype")

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        require_dtypes(t, self.DTYPES, "x")
        if self.dtype not in self.DTYPES:
            raise DTypeError(f"cannot cast {t.dtype.value} to {self.dtype.value}")
        return t.with_dtype(self.dtype)


@register_op
class Select(Operation):
    """``cond ? x : y`` elementwise (TF2 ``where``): all three broadcast together.

    ``cond`` is bool; ``x`` and ``y`` share a dtype (any), which the result has.
    """

    name = "math.select"
    traits = ELEMENTWISE
    cond = operand()
    x = operand()
    y = operand()

    def infer_type(self, cond: Type, x: Type, y: Type) -> TensorType:
        c, a, b = tensor(cond, "cond"), tensor(x, "x"), tensor(y, "y")
        require_dtypes(c, BOOL_ONLY, "cond")
        dt = same_dtype(a, b, what="x and y")
        return TensorType(dt, broadcast_shapes(c.shape, a.shape, b.shape))


# --------------------------------------------------------------------------------------------
# Matrix multiplication


@register_op
class MatMul(Operation):
    """Batched matrix product of the last two dims, like ``np.matmul``/``tf.linalg.matmul``.

    Both operands have rank >= 2 and one numeric dtype; ``transpose_a``/``transpose_b`` swap
    an operand's last two dims first. Leading (batch) dims broadcast. An unknown contracting
    dim matches any size; an operand of unknown rank gives a result of unknown rank.
    """

    name = "math.matmul"
    traits = PURE
    a = operand()
    b = operand()
    transpose_a = attr(bool, default=False)
    transpose_b = attr(bool, default=False)

    def infer_type(self, a: Type, b: Type) -> TensorType:
        ta, tb = tensor(a, "a"), tensor(b, "b")
        dt = same_dtype(ta, tb)
        require_dtypes(ta, NUMERIC, "operands")
        for what, t in (("a", ta), ("b", tb)):
            if t.rank is not None and t.rank < 2:
                raise ShapeError(f"{what} must have rank >= 2, got {format_shape(t.shape)}")
        if ta.shape is None or tb.shape is None:
            return TensorType(dt, None)
        m, ka = ta.shape[-2:][::-1] if self.transpose_a else ta.shape[-2:]
        kb, n = tb.shape[-2:][::-1] if self.transpose_b else tb.shape[-2:]
        if ka is not None and kb is not None and ka != kb:
            raise ShapeError(f"contracting dims differ ({ka} vs {kb})")
        try:
            batch = broadcast_shapes(ta.shape[:-2], tb.shape[:-2])
        except ShapeError:
            raise ShapeError(
                f"batch dims are not broadcast-compatible: {format_shape(ta.shape[:-2])} vs {format_shape(tb.shape[:-2])}"
            ) from None
        return TensorType(dt, (*batch, m, n))  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# Reductions


class Reduction(Operation):
    """Reduces ``x`` over ``axes`` (``None``: all axes; ``()``: none, the identity).

    Negative axes count from the end; out-of-range or repeated axes are a ``ShapeError``.
    ``keepdims`` keeps reduced dims as size 1. The result keeps ``x``'s dtype. For ``x`` of
    unknown rank the result has unknown rank, except a full reduction without ``keepdims``,
    which is a scalar.
    """

    traits = PURE
    DTYPES: frozenset[DType] = NUMERIC
    x = operand()
    axes = attr(Ints, default=None, doc="the axes to reduce; None for all")
    keepdims = attr(bool, default=False)

    def reduced_axes(self, rank: int) -> tuple[int, ...]:
        """The reduced axes as non-negative ints, in the order given; ``ShapeError`` if bad."""
        if self.axes is None:
            return tuple(range(rank))
        return normalize_axes(self.axes, rank, "axis")

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        require_dtypes(t, self.DTYPES, "x")
        if t.shape is None:
            return t.with_shape(() if self.axes is None and not self.keepdims else None)
        axes = set(self.reduced_axes(len(t.shape)))
        if self.keepdims:
            return t.with_shape(1 if i in axes else d for i, d in enumerate(t.shape))
        return t.with_shape(d for i, d in enumerate(t.shape) if i not in axes)


@register_op
class ReduceSum(Reduction):
    """The sum over ``axes``; integers wrap; an empty reduction gives 0."""

    name = "math.reduce_sum"


@register_op
class ReduceMean(Reduction):
    """The mean over ``axes``.

    Floats: an empty reduction gives nan. Integers (as TF): the sum is taken in 64 bits and
    divided by the count with truncation toward zero (``mean([-1, -2]) == -1``); an empty
    reduction gives 0.
    """

    name = "math.reduce_mean"


@register_op
class ReduceMax(Reduction):
    """The maximum over ``axes`` (nan wins); an empty reduction gives the dtype's lowest value
    (``-inf`` for floats), as TF."""

    name = "math.reduce_max"


@register_op
class ReduceMin(Reduction):
    """The minimum over ``axes`` (nan wins); an empty reduction gives the dtype's highest
    value (``inf`` for floats), as TF."""

    name = "math.reduce_min"


@register_op
class ReduceProd(Reduction):
    """The product over ``axes``; integers wrap; an empty reduction gives 1."""

    name = "math.reduce_prod"


@register_op
class ReduceAny(Reduction):
    """Logical or over ``axes``; bool; an empty reduction gives False."""

    name = "math.reduce_any"
    DTYPES = BOOL_ONLY


@register_op
class ReduceAll(Reduction):
    """Logical and over ``axes``; bool; an empty reduction gives True."""

    name = "math.reduce_all"
    DTYPES = BOOL_ONLY


class ArgReduction(Operation):
    """The index of the extreme value along ``axis``, which the result drops.

    ``x`` is numeric of rank >= 1; ``output_type`` is int32 or int64. Ties give the first
    index. Reducing an axis of size 0 is a run-time error.
    """

    traits = PURE
    x = operand()
    axis = attr(int)
    output_type = attr(DType, default=DType.int64)

    def verify_attributes(self) -> None:
        if self.output_type not in INDEX_DTYPES:
            e = OpAttributeError(f"output_type must be i32 or i64, got {self.output_type.value}")
            self.annotate_error(e)
            raise e

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        require_dtypes(t, NUMERIC, "x")
        if t.shape is None:
            return TensorType(self.output_type, None)
        axis = normalize_axis(self.axis, len(t.shape))
        return TensorType(self.output_type, t.shape[:axis] + t.shape[axis + 1 :])


@register_op
class ArgMax(ArgReduction):
    """The index of the largest value along ``axis`` (the first nan, if any)."""

    name = "math.argmax"


@register_op
class ArgMin(ArgReduction):
    """The index of the smallest value along ``axis`` (the first nan, if any)."""

    name = "math.argmin"


@register_op
class CumSum(Operation):
    """The running sum of ``x`` along ``axis`` (``tf.math.cumsum``, ONNX ``CumSum``).

    ``exclusive`` leaves each element out of its own sum (the first is 0); ``reverse`` sums
    from the end. Numeric; the result has ``x``'s type (integers wrap).
    """

    name = "math.cumsum"
    traits = PURE
    x = operand()
    axis = attr(int)
    exclusive = attr(bool, default=False)
    reverse = attr(bool, default=False)

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        require_dtypes(t, NUMERIC, "x")
        if t.shape is not None:
            normalize_axis(self.axis, len(t.shape))
        return t


@register_op
class TopK(Operation):
    """The ``k`` largest (or, ``largest=False``, smallest) elements of ``x`` along ``axis``
    and their indices (ONNX ``TopK``, ``tf.nn.top_k`` on the last axis).

    Two results: ``values`` (``x``'s dtype) and ``indices`` (``index_dtype``, int32 or
    int64), ``x``'s shape with ``k`` along ``axis``; ``0 <= k <= x.shape[axis]`` (a
    run-time error where that dim is ``None``). Always sorted (best first; ``sorted=False``
    allows any order, this one included); equal elements keep their order (the lower index
    first); nan ranks above every number. Numeric ``x`` of rank >= 1.
    """

    name = "math.top_k"
    traits = PURE
    x = operand()
    k = attr(int)
    axis = attr(int, default=-1)
    largest = attr(bool, default=True)
    sorted = attr(bool, default=True)
    index_dtype = attr(DType, default=DType.int64)

    def infer_type(self, x: Type) -> tuple[TensorType, TensorType]:
        t = tensor(x, "x")
        require_dtypes(t, NUMERIC, "x")
        if self.index_dtype not in INDEX_DTYPES:
            raise OpAttributeError(f"index_dtype must be i32 or i64, got {self.index_dtype.value}")
        if self.k < 0:
            raise OpAttributeError(f"k must be non-negative, got {self.k}")
        if t.shape is None:
            return t.with_shape(None), TensorType(self.index_dtype, None)
        if not t.shape:
            raise ShapeError("x must have rank >= 1, got a scalar")
        axis = normalize_axis(self.axis, len(t.shape))
        n = t.shape[axis]
        if n is not None and self.k > n:
            raise ShapeError(f"k = {self.k} is larger than dim {axis} of x {format_shape(t.shape)}")
        shape = (*t.shape[:axis], self.k, *t.shape[axis + 1 :])
        return t.with_shape(shape), TensorType(self.index_dtype, shape)
