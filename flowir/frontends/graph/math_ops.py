"""Math ops of the TF1-style API: elementwise arithmetic, comparisons, logic, casts, matmul,
reductions.

Each function has the signature, default op name and dtype rules of its TensorFlow 1.15
namesake and builds ``flowir.ir.ops.math`` ops in the default graph. There is no implicit
dtype promotion: the operands of a binary op share a dtype. A Python value or list next to a
tensor converts to that tensor's dtype (``x * 2`` with ``x`` float32 multiplies by ``2.0``);
when it cannot (``int32_tensor + 2.5``), or two tensors differ, the op raises a ``DTypeError``
(a ``TypeError``) naming the op, both tensors, their dtypes and the user's line.
"""

from __future__ import annotations

from typing import Any

from flowir.frontends.graph import dtypes as _dtypes
from flowir.frontends.graph.array_ops import (
    convert_all,
    deprecated_argument_lookup,
    ir_dtype,
    ir_type,
    make1,
    static_axis,
    static_ints,
    tf_dtype,
)
from flowir.frontends.graph.building import convert_to_tensor
from flowir.frontends.graph.graph import name_scope
from flowir.frontends.graph.tensor import Tensor
from flowir.ir import ops
from flowir.ir.core import Operation
from flowir.ir.dtypes import DType
from flowir.ir.errors import ShapeError, UnsupportedOpError
from flowir.ir.location import user_location
from flowir.ir.types import meet_shapes, shapes_compatible

__all__ = [
    "add",
    "subtract",
    "multiply",
    "divide",
    "truediv",
    "div",
    "floordiv",
    "mod",
    "floormod",
    "pow",
    "maximum",
    "minimum",
    "negative",
    "abs",
    "sign",
    "exp",
    "log",
    "sqrt",
    "rsqrt",
    "square",
    "tanh",
    "sigmoid",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "asinh",
    "acosh",
    "atanh",
    "erf",
    "floor",
    "ceil",
    "round",
    "reciprocal",
    "is_nan",
    "is_inf",
    "cumsum",
    "clip_by_value",
    "equal",
    "not_equal",
    "less",
    "less_equal",
    "greater",
    "greater_equal",
    "logical_and",
    "logical_or",
    "logical_xor",
    "logical_not",
    "where",
    "cast",
    "to_float",
    "to_double",
    "to_int32",
    "to_int64",
    "matmul",
    "reduce_sum",
    "reduce_mean",
    "reduce_max",
    "reduce_min",
    "reduce_prod",
    "reduce_any",
    "reduce_all",
    "argmax",
    "argmin",
]


def _unary(op_class: type[Operation], x: Any, name: str | None, default_name: str) -> Tensor:
    with name_scope(name, default_name, [x]) as scope:
        return make1(op_class, [convert_to_tensor(x, name="x")], scope, default_name)


def _binary(op_class: type[Operation], x: Any, y: Any, name: str | None, default_name: str) -> Tensor:
    with name_scope(name, default_name, [x, y]) as scope:
        return make1(op_class, convert_all([x, y], ["x", "y"]), scope, default_name)


# --------------------------------------------------------------------------------------------
# Binary arithmetic


def add(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``x + y`` elementwise with broadcasting (``tf.add``); default name ``"Add"``."""
    return _binary(ops.Add, x, y, name, "Add")


def subtract(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``x - y`` elementwise with broadcasting (``tf.subtract``); default name ``"Sub"``."""
    return _binary(ops.Sub, x, y, name, "Sub")


def multiply(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``x * y`` elementwise with broadcasting (``tf.multiply``); default name ``"Mul"``."""
    return _binary(ops.Mul, x, y, name, "Mul")


#: ``truediv`` of integers casts both operands first, as TF's ``_TRUEDIV_TABLE``.
_TRUEDIV_DTYPES: dict[DType, DType | None] = {
    DType.uint8: DType.float32,
    DType.int8: DType.float32,
    DType.int16: DType.float32,
    DType.int32: DType.float64,
    DType.int64: DType.float64,
    DType.float16: None,
    DType.bfloat16: None,
    DType.float32: None,
    DType.float64: None,
}


def truediv(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``x / y`` as real division (``tf.truediv``, Python 3's ``/``); default name ``"truediv"``.

    Integer operands are cast first, as TF: int8, int16 and uint8 to float32, int32 and int64
    to float64 (the casts are ``truediv/Cast`` and ``truediv/Cast_1``). Operands of different
    dtypes, or of bool or string dtype, are a ``TypeError``.

    >>> import flowir as tf
    >>> with tf.Graph().as_default():
    ...     tf.truediv(tf.constant(1), 2).dtype
    tf.float64
    """
    with name_scope(name, "truediv", [x, y]) as scope:
        xt, yt = convert_all([x, y], ["x", "y"])
        dx, dy = ir_type(xt).dtype, ir_type(yt).dtype
        if dx is not dy:
            raise TypeError(f"x and y must have the same dtype, got {tf_dtype(dx)} != {tf_dtype(dy)}")
        if dx not in _TRUEDIV_DTYPES:
            raise TypeError(f"Invalid dtype {tf_dtype(dx)} in truediv; expected a numeric dtype")
        target = _TRUEDIV_DTYPES[dx]
        if target is not None:
            xt = make1(ops.Cast, [xt], None, "Cast", dtype=target)
            yt = make1(ops.Cast, [yt], None, "Cast", dtype=target)
        return make1(ops.Div, [xt, yt], scope, "truediv")


def divide(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``x / y`` (``tf.divide``): ``truediv``; default name ``"truediv"``."""
    return truediv(x, y, name=name)


def div(x: Any, y: Any, name: str | None = None) -> Tensor:
    """Python 2 division (TF1's deprecated ``tf.div``): floor division for integers, real
    division for floats; default name ``"div"``."""
    with name_scope(name, "div", [x, y]) as scope:
        xt, yt = convert_all([x, y], ["x", "y"])
        op_class = ops.Div if ir_type(xt).dtype.is_floating else ops.FloorDiv
        return make1(op_class, [xt, yt], scope, "div")


def floordiv(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``floor(x / y)`` elementwise (``tf.floordiv``, Python's ``//``); default name
    ``"floordiv"``."""
    return _binary(ops.FloorDiv, x, y, name, "floordiv")


def mod(x: Any, y: Any, name: str | None = None) -> Tensor:
    """Floor modulo, the sign of ``y`` (``tf.mod``/``tf.floormod``, Python's ``%``); default
    name ``"FloorMod"``."""
    return _binary(ops.Mod, x, y, name, "FloorMod")


floormod = mod


def pow(x: Any, y: Any, name: str | None = None) -> Tensor:  # noqa: A001
    """``x ** y`` elementwise (``tf.pow``); default name ``"Pow"``."""
    return _binary(ops.Pow, x, y, name, "Pow")


def maximum(x: Any, y: Any, name: str | None = None) -> Tensor:
    """The elementwise maximum (``tf.maximum``); default name ``"Maximum"``."""
    return _binary(ops.Maximum, x, y, name, "Maximum")


def minimum(x: Any, y: Any, name: str | None = None) -> Tensor:
    """The elementwise minimum (``tf.minimum``); default name ``"Minimum"``."""
    return _binary(ops.Minimum, x, y, name, "Minimum")


# --------------------------------------------------------------------------------------------
# Unary


def negative(x: Any, name: str | None = None) -> Tensor:
    """``-x`` (``tf.negative``); signed dtypes; default name ``"Neg"``."""
    return _unary(ops.Neg, x, name, "Neg")


def abs(x: Any, name: str | None = None) -> Tensor:  # noqa: A001
    """``|x|`` (``tf.abs``); default name ``"Abs"``."""
    return _unary(ops.Abs, x, name, "Abs")


def sign(x: Any, name: str | None = None) -> Tensor:
    """-1, 0 or 1 by the sign of ``x`` (``tf.sign``); default name ``"Sign"``."""
    return _unary(ops.Sign, x, name, "Sign")


def exp(x: Any, name: str | None = None) -> Tensor:
    """``e ** x`` (``tf.exp``); floats; default name ``"Exp"``."""
    return _unary(ops.Exp, x, name, "Exp")


def log(x: Any, name: str | None = None) -> Tensor:
    """The natural logarithm (``tf.log``); floats; default name ``"Log"``."""
    return _unary(ops.Log, x, name, "Log")


def sqrt(x: Any, name: str | None = None) -> Tensor:
    """The square root (``tf.sqrt``); floats; default name ``"Sqrt"``."""
    return _unary(ops.Sqrt, x, name, "Sqrt")


def rsqrt(x: Any, name: str | None = None) -> Tensor:
    """``1 / sqrt(x)`` (``tf.rsqrt``); floats; default name ``"Rsqrt"``."""
    return _unary(ops.Rsqrt, x, name, "Rsqrt")


def square(x: Any, name: str | None = None) -> Tensor:
    """``x * x`` (``tf.square``); default name ``"Square"``."""
    return _unary(ops.Square, x, name, "Square")


def tanh(x: Any, name: str | None = None) -> Tensor:
    """The hyperbolic tangent (``tf.tanh``, ``tf.nn.tanh``); floats; default name ``"Tanh"``."""
    return _unary(ops.Tanh, x, name, "Tanh")


def sigmoid(x: Any, name: str | None = None) -> Tensor:
    """``1 / (1 + exp(-x))`` (``tf.sigmoid``, ``tf.nn.sigmoid``); floats; default name
    ``"Sigmoid"``."""
    return _unary(ops.Sigmoid, x, name, "Sigmoid")


def sin(x: Any, name: str | None = None) -> Tensor:
    """The sine (``tf.sin``); floats; default name ``"Sin"``."""
    return _unary(ops.Sin, x, name, "Sin")


def cos(x: Any, name: str | None = None) -> Tensor:
    """The cosine (``tf.cos``); floats; default name ``"Cos"``."""
    return _unary(ops.Cos, x, name, "Cos")


def tan(x: Any, name: str | None = None) -> Tensor:
    """The tangent (``tf.tan``); floats; default name ``"Tan"``."""
    return _unary(ops.Tan, x, name, "Tan")


def asin(x: Any, name: str | None = None) -> Tensor:
    """The arcsine (``tf.asin``); floats; default name ``"Asin"``."""
    return _unary(ops.Asin, x, name, "Asin")


def acos(x: Any, name: str | None = None) -> Tensor:
    """The arccosine (``tf.acos``); floats; default name ``"Acos"``."""
    return _unary(ops.Acos, x, name, "Acos")


def atan(x: Any, name: str | None = None) -> Tensor:
    """The arctangent (``tf.atan``); floats; default name ``"Atan"``."""
    return _unary(ops.Atan, x, name, "Atan")


def sinh(x: Any, name: str | None = None) -> Tensor:
    """The hyperbolic sine (``tf.sinh``); floats; default name ``"Sinh"``."""
    return _unary(ops.Sinh, x, name, "Sinh")


def cosh(x: Any, name: str | None = None) -> Tensor:
    """The hyperbolic cosine (``tf.cosh``); floats; default name ``"Cosh"``."""
    return _unary(ops.Cosh, x, name, "Cosh")


def asinh(x: Any, name: str | None = None) -> Tensor:
    """The inverse hyperbolic sine (``tf.asinh``); floats; default name ``"Asinh"``."""
    return _unary(ops.Asinh, x, name, "Asinh")


def acosh(x: Any, name: str | None = None) -> Tensor:
    """The inverse hyperbolic cosine (``tf.acosh``); floats; default name ``"Acosh"``."""
    return _unary(ops.Acosh, x, name, "Acosh")


def atanh(x: Any, name: str | None = None) -> Tensor:
    """The inverse hyperbolic tangent (``tf.atanh``); floats; default name ``"Atanh"``."""
    return _unary(ops.Atanh, x, name, "Atanh")


def erf(x: Any, name: str | None = None) -> Tensor:
    """The error function (``tf.erf``); floats; default name ``"Erf"``."""
    return _unary(ops.Erf, x, name, "Erf")


def floor(x: Any, name: str | None = None) -> Tensor:
    """The largest integer not above ``x`` (``tf.floor``); floats; default name ``"Floor"``."""
    return _unary(ops.Floor, x, name, "Floor")


def ceil(x: Any, name: str | None = None) -> Tensor:
    """The smallest integer not below ``x`` (``tf.ceil``); floats; default name ``"Ceil"``."""
    return _unary(ops.Ceil, x, name, "Ceil")


def round(x: Any, name: str | None = None) -> Tensor:
    """``x`` rounded to the nearest integer, halves to even (``tf.round``); floats; default name ``"Round"``."""
    return _unary(ops.Round, x, name, "Round")


def reciprocal(x: Any, name: str | None = None) -> Tensor:
    """``1 / x`` (``tf.reciprocal``); floats; default name ``"Reciprocal"``."""
    return _unary(ops.Reciprocal, x, name, "Reciprocal")


def is_nan(x: Any, name: str | None = None) -> Tensor:
    """Whether each element is nan, as bool (``tf.is_nan``); floats; default name ``"IsNan"``."""
    return _unary(ops.IsNan, x, name, "IsNan")


def is_inf(x: Any, name: str | None = None) -> Tensor:
    """Whether each element is +-inf, as bool (``tf.is_inf``); floats; default name ``"IsInf"``."""
    return _unary(ops.IsInf, x, name, "IsInf")


def cumsum(x: Any, axis: Any = 0, exclusive: bool = False, reverse: bool = False, name: str | None = None) -> Tensor:
    """The running sum along ``axis`` (``tf.cumsum``): ``exclusive`` leaves each element out of
    its own sum, ``reverse`` sums from the end; numeric; default name ``"Cumsum"``."""
    with name_scope(name, "Cumsum", [x]) as scope:
        t = convert_to_tensor(x, name="x")
        ax = static_axis(axis, "cumsum")
        return make1(ops.CumSum, [t], scope, "Cumsum", axis=ax, exclusive=bool(exclusive), reverse=bool(reverse))


def clip_by_value(t: Any, clip_value_min: Any, clip_value_max: Any, name: str | None = None) -> Tensor:
    """``t`` clipped to ``[clip_value_min, clip_value_max]`` (``tf.clip_by_value``): TF's
    ``maximum(minimum(t, max), min)``, the bounds broadcasting against ``t`` without changing
    its shape; default name ``"clip_by_value"``."""
    with name_scope(name, "clip_by_value", [t, clip_value_min, clip_value_max]) as scope:
        values = convert_to_tensor(t, name="t")
        lo, hi = convert_all([values, clip_value_min, clip_value_max], ["t", "clip_value_min", "clip_value_max"])[1:]
        t_min = make1(ops.Minimum, [values, hi], None, "Minimum")
        out = make1(ops.Maximum, [t_min, lo], scope, "clip_by_value")
        if not shapes_compatible(ir_type(out).shape, ir_type(values).shape):
            raise ShapeError(
                f"clip_by_value: the bounds change the shape of t ({ir_type(values).describe()} to {ir_type(out).describe()})",
                [f"  t: {values.name!r}", f"  created at {user_location()}"],
            )
        return out


# --------------------------------------------------------------------------------------------
# Comparisons and logic


def equal(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``x == y`` elementwise, giving bool (``tf.equal``); default name ``"Equal"``."""
    return _binary(ops.Equal, x, y, name, "Equal")


def not_equal(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``x != y`` elementwise, giving bool (``tf.not_equal``); default name ``"NotEqual"``."""
    return _binary(ops.NotEqual, x, y, name, "NotEqual")


def less(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``x < y`` elementwise (``tf.less``); default name ``"Less"``."""
    return _binary(ops.Less, x, y, name, "Less")


def less_equal(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``x <= y`` elementwise (``tf.less_equal``); default name ``"LessEqual"``."""
    return _binary(ops.LessEqual, x, y, name, "LessEqual")


def greater(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``x > y`` elementwise (``tf.greater``); default name ``"Greater"``."""
    return _binary(ops.Greater, x, y, name, "Greater")


def greater_equal(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``x >= y`` elementwise (``tf.greater_equal``); default name ``"GreaterEqual"``."""
    return _binary(ops.GreaterEqual, x, y, name, "GreaterEqual")


def logical_and(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``x and y`` on bools (``tf.logical_and``); default name ``"LogicalAnd"``."""
    return _binary(ops.LogicalAnd, x, y, name, "LogicalAnd")


def logical_or(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``x or y`` on bools (``tf.logical_or``); default name ``"LogicalOr"``."""
    return _binary(ops.LogicalOr, x, y, name, "LogicalOr")


def logical_xor(x: Any, y: Any, name: str = "LogicalXor") -> Tensor:
    """``x != y`` on bools (``tf.logical_xor``); default name ``"LogicalXor"``."""
    return _binary(ops.LogicalXor, x, y, name, "LogicalXor")


def logical_not(x: Any, name: str | None = None) -> Tensor:
    """``not x`` on bools (``tf.logical_not``); default name ``"LogicalNot"``."""
    return _unary(ops.LogicalNot, x, name, "LogicalNot")


def where(condition: Any, x: Any = None, y: Any = None, name: str | None = None) -> Tensor:
    """Elements of ``x`` where ``condition`` is true, of ``y`` elsewhere (TF1's ``tf.where``);
    default name ``"Select"``.

    As TF1's ``Select``: ``x`` and ``y`` have one shape and dtype; ``condition`` (bool) has
    their shape, or is a vector that picks whole rows along the first dim. A Python value
    for ``y`` converts to ``x``'s dtype. Contradicting static shapes are a ``ShapeError``.
    The one-argument form ``where(condition)`` (coordinates of the true elements) is an
    ``UnsupportedOpError``: flowir has no op whose result size depends on the data.
    """
    if x is None and y is None:
        raise UnsupportedOpError(
            "where(condition) with one argument (the coordinates of true elements) is not "
            "supported: its result shape depends on the data; use where(condition, x, y)",
            [f"  created at {user_location()}"],
        )
    if x is None or y is None:
        raise ValueError("x and y must both be non-None or both be None.")
    with name_scope(name, "Select", [condition, x, y]) as scope:
        c = convert_to_tensor(condition, name="condition", preferred_dtype=_dtypes.bool)
        xt, yt = convert_all([x, y], ["t", "e"])
        c = _select_condition(c, xt, yt)
        return make1(ops.Select, [c, xt, yt], scope, "Select")


def _select_condition(c: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """TF1's ``Select`` shape rules on static shapes; a row-picking vector ``c`` is reshaped
    so that it broadcasts over ``x``'s trailing dims."""
    cs, xs, ys = ir_type(c).shape, ir_type(x).shape, ir_type(y).shape
    try:
        meet_shapes(xs, ys)
    except ShapeError:
        raise _where_error("x and y must have the same shape", c, x, y) from None
    xs = meet_shapes(xs, ys)
    if cs is None or xs is None:
        return c
    if len(cs) == 1 and len(xs) > 1:
        if not shapes_compatible(cs, xs[:1]):
            raise _where_error("a vector condition must match the first dim of x", c, x, y)
        return make1(ops.Reshape, [c], None, "Reshape", shape=(-1,) + (1,) * (len(xs) - 1))
    if not shapes_compatible(cs, xs):
        raise _where_error("condition must have the shape of x and y, or be a vector over their first dim", c, x, y)
    return c


def _where_error(reason: str, c: Tensor, x: Tensor, y: Tensor) -> ShapeError:
    lines = [
        f"  {what + ':':<10} {t.name!r} {ir_type(t).describe()}" for what, t in (("condition", c), ("x", x), ("y", y))
    ]
    return ShapeError(f"where: {reason}", [*lines, f"  created at {user_location()}"])


# --------------------------------------------------------------------------------------------
# Casts


def cast(x: Any, dtype: Any, name: str | None = None) -> Tensor:
    """``x`` converted to ``dtype`` (``tf.cast``); default name ``"Cast"``.

    A tensor that already has ``dtype`` is returned as is (no op), as in TF. Float to integer
    truncates toward zero; to bool is ``x != 0``.
    """
    dt = ir_dtype(dtype)
    if isinstance(x, Tensor) and x.dtype is tf_dtype(dt):
        return x
    with name_scope(name, "Cast", [x]) as scope:
        xt = convert_to_tensor(x, name="x")
        if ir_type(xt).dtype is dt:
            return xt
        return make1(ops.Cast, [xt], scope, "Cast", dtype=dt)


def to_float(x: Any, name: str = "ToFloat") -> Tensor:
    """``cast(x, float32)`` (TF1's ``tf.to_float``); default name ``"ToFloat"``."""
    return cast(x, DType.float32, name=name)


def to_double(x: Any, name: str = "ToDouble") -> Tensor:
    """``cast(x, float64)`` (TF1's ``tf.to_double``); default name ``"ToDouble"``."""
    return cast(x, DType.float64, name=name)


def to_int32(x: Any, name: str = "ToInt32") -> Tensor:
    """``cast(x, int32)`` (TF1's ``tf.to_int32``); default name ``"ToInt32"``."""
    return cast(x, DType.int32, name=name)


def to_int64(x: Any, name: str = "ToInt64") -> Tensor:
    """``cast(x, int64)`` (TF1's ``tf.to_int64``); default name ``"ToInt64"``."""
    return cast(x, DType.int64, name=name)


# --------------------------------------------------------------------------------------------
# Matrix multiplication


def matmul(
    a: Any,
    b: Any,
    transpose_a: bool = False,
    transpose_b: bool = False,
    adjoint_a: bool = False,
    adjoint_b: bool = False,
    a_is_sparse: bool = False,
    b_is_sparse: bool = False,
    name: str | None = None,
) -> Tensor:
    """The matrix product of the last two dims of ``a`` and ``b`` (rank >= 2; leading dims
    broadcast), ``tf.matmul``; default name ``"MatMul"``.

    ``adjoint_*`` equals ``transpose_*`` for real tensors (giving both is a ``ValueError``);
    the ``*_is_sparse`` hints are accepted and ignored. Contracting dims that differ
    statically are a ``ShapeError`` naming both tensors and shapes.

    >>> import flowir as tf
    >>> with tf.Graph().as_default():
    ...     tf.matmul(tf.zeros([2, 3]), tf.zeros([3, 4])).shape.as_list()
    [2, 4]
    """
    if transpose_a and adjoint_a:
        raise ValueError("Only one of transpose_a and adjoint_a can be True.")
    if transpose_b and adjoint_b:
        raise ValueError("Only one of transpose_b and adjoint_b can be True.")
    with name_scope(name, "MatMul", [a, b]) as scope:
        at, bt = convert_all([a, b], ["a", "b"])
        return make1(
            ops.MatMul,
            [at, bt],
            scope,
            "MatMul",
            transpose_a=bool(transpose_a or adjoint_a),
            transpose_b=bool(transpose_b or adjoint_b),
        )


# --------------------------------------------------------------------------------------------
# Reductions


def _reduce(
    op_class: type[Operation],
    default_name: str,
    input_tensor: Any,
    axis: Any,
    keepdims: Any,
    name: str | None,
    reduction_indices: Any,
    keep_dims: Any,
) -> Tensor:
    axis = deprecated_argument_lookup(axis, "axis", reduction_indices, "reduction_indices")
    keepdims = deprecated_argument_lookup(keepdims, "keepdims", keep_dims, "keep_dims")
    fn = f"reduce ({default_name})"
    with name_scope(name, default_name, [input_tensor]) as scope:
        x = convert_to_tensor(input_tensor, name="input_tensor")
        axes = None if axis is None else static_ints(axis, "axis", fn, allow_scalar=True)
        return make1(op_class, [x], scope, default_name, axes=axes, keepdims=bool(keepdims))


def reduce_sum(
    input_tensor: Any,
    axis: Any = None,
    keepdims: bool | None = None,
    name: str | None = None,
    reduction_indices: Any = None,
    keep_dims: bool | None = None,
) -> Tensor:
    """The sum over ``axis`` (an int, a list, or ``None`` for all dims), ``tf.reduce_sum``;
    default name ``"Sum"``.

    ``reduction_indices`` and ``keep_dims`` are TF1's older spellings of ``axis`` and
    ``keepdims`` (giving both spellings is a ``ValueError``). ``keepdims`` keeps reduced dims
    with size 1.

    >>> import flowir as tf
    >>> with tf.Graph().as_default():
    ...     tf.reduce_sum(tf.zeros([2, 3]), reduction_indices=[1], keep_dims=True).shape.as_list()
    [2, 1]
    """
    return _reduce(ops.ReduceSum, "Sum", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_mean(
    input_tensor: Any,
    axis: Any = None,
    keepdims: bool | None = None,
    name: str | None = None,
    reduction_indices: Any = None,
    keep_dims: bool | None = None,
) -> Tensor:
    """The mean over ``axis`` (``tf.reduce_mean``; integer tensors give the truncated integer
    mean, as TF); default name ``"Mean"``; arguments as ``reduce_sum``."""
    return _reduce(ops.ReduceMean, "Mean", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_max(
    input_tensor: Any,
    axis: Any = None,
    keepdims: bool | None = None,
    name: str | None = None,
    reduction_indices: Any = None,
    keep_dims: bool | None = None,
) -> Tensor:
    """The maximum over ``axis`` (``tf.reduce_max``); default name ``"Max"``; arguments as
    ``reduce_sum``."""
    return _reduce(ops.ReduceMax, "Max", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_min(
    input_tensor: Any,
    axis: Any = None,
    keepdims: bool | None = None,
    name: str | None = None,
    reduction_indices: Any = None,
    keep_dims: bool | None = None,
) -> Tensor:
    """The minimum over ``axis`` (``tf.reduce_min``); default name ``"Min"``; arguments as
    ``reduce_sum``."""
    return _reduce(ops.ReduceMin, "Min", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_prod(
    input_tensor: Any,
    axis: Any = None,
    keepdims: bool | None = None,
    name: str | None = None,
    reduction_indices: Any = None,
    keep_dims: bool | None = None,
) -> Tensor:
    """The product over ``axis`` (``tf.reduce_prod``); default name ``"Prod"``; arguments as
    ``reduce_sum``."""
    return _reduce(ops.ReduceProd, "Prod", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_any(
    input_tensor: Any,
    axis: Any = None,
    keepdims: bool | None = None,
    name: str | None = None,
    reduction_indices: Any = None,
    keep_dims: bool | None = None,
) -> Tensor:
    """Logical or over ``axis`` of a bool tensor (``tf.reduce_any``); default name ``"Any"``;
    arguments as ``reduce_sum``."""
    return _reduce(ops.ReduceAny, "Any", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_all(
    input_tensor: Any,
    axis: Any = None,
    keepdims: bool | None = None,
    name: str | None = None,
    reduction_indices: Any = None,
    keep_dims: bool | None = None,
) -> Tensor:
    """Logical and over ``axis`` of a bool tensor (``tf.reduce_all``); default name ``"All"``;
    arguments as ``reduce_sum``."""
    return _reduce(ops.ReduceAll, "All", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def _arg_reduce(
    op_class: type[Operation],
    default_name: str,
    input: Any,
    axis: Any,
    name: str | None,
    dimension: Any,
    output_type: Any,
) -> Tensor:
    axis = deprecated_argument_lookup(axis, "axis", dimension, "dimension")
    with name_scope(name, default_name, [input]) as scope:
        x = convert_to_tensor(input, name="input")
        ax = static_axis(axis, default_name.lower())
        return make1(
            op_class, [x], scope, default_name, axis=0 if ax is None else ax, output_type=ir_dtype(output_type)
        )


def argmax(
    input: Any, axis: Any = None, name: str | None = None, dimension: Any = None, output_type: Any = _dtypes.int64
) -> Tensor:
    """The index of the largest value along ``axis`` (default 0; ``dimension`` is TF1's older
    spelling), as ``output_type`` (int64 or int32), ``tf.argmax``; default name ``"ArgMax"``."""
    return _arg_reduce(ops.ArgMax, "ArgMax", input, axis, name, dimension, output_type)


def argmin(
    input: Any, axis: Any = None, name: str | None = None, dimension: Any = None, output_type: Any = _dtypes.int64
) -> Tensor:
    """The index of the smallest value along ``axis`` (default 0), ``tf.argmin``; default name
    ``"ArgMin"``; arguments as ``argmax``."""
    return _arg_reduce(ops.ArgMin, "ArgMin", input, axis, name, dimension, output_type)
