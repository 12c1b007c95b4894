"""Lowerings of the math dialect, matching the numpy reference (``flowir/ir/reference/math.py``).

As the reference does, float16 and bfloat16 are computed in float32 and rounded back once.
Integer arithmetic wraps (XLA's integers are two's complement, as numpy's). Integer division
and modulo by zero and negative integer powers fail the run through ``ctx.check``, as the
reference raises: XLA itself would quietly give -1 or garbage.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from flowir.backends.jax.lowering import LoweringContext, lowering_rule
from flowir.ir import ops
from flowir.ir.core import Operation
from flowir.ir.dtypes import DType
from flowir.ir.errors import FlowirError
from flowir.ir.types import TensorType, normalize_axis

__all__ = ["widen", "narrow", "is_int"]

_HALF = frozenset({np.dtype(np.float16), DType.bfloat16.numpy})
_F32 = np.dtype(np.float32)


def widen(x: Any) -> Any:
    """``x`` in the dtype rules compute in: float16 and bfloat16 become float32."""
    return x.astype(_F32) if x.dtype in _HALF else x


def narrow(z: Any, dtype: np.dtype) -> Any:
    """``z`` converted to ``dtype`` (a no-op when it has it)."""
    return z if z.dtype == dtype else lax.convert_element_type(z, dtype)


def is_int(x: Any) -> bool:
    """Whether ``x`` holds integers, signed or unsigned (bool is not)."""
    return x.dtype.kind in "iu"


def is_float(x: Any) -> bool:
    """Whether ``x`` holds floats (bfloat16, an ml_dtypes type, has numpy kind ``V``)."""
    return x.dtype.kind == "f" or x.dtype in _HALF


def _no_zero_divisor(ctx: LoweringContext, op: Operation, y: Any) -> None:
    ctx.check(op, jnp.all(y != 0), lambda: "integer division by zero")


# --------------------------------------------------------------------------------------------
# Elementwise


def _div(ctx: LoweringContext, op: Operation, x: Any, y: Any) -> Any:
    if not is_int(x):
        return lax.div(*broadcast(x, y))
    _no_zero_divisor(ctx, op, y)
    # XLA's integer division truncates toward zero, as C's and TF's; a zero divisor is
    # replaced so that the (discarded) lanes stay defined.
    x, y = broadcast(x, y)
    return lax.div(x, jnp.where(y == 0, jnp.ones_like(y), y))


def _mod(ctx: LoweringContext, op: Operation, x: Any, y: Any) -> Any:
    if is_int(x):
        _no_zero_divisor(ctx, op, y)
        y = jnp.where(y == 0, jnp.ones_like(y), y)
    return jnp.remainder(x, y)


def _pow(ctx: LoweringContext, op: Operation, x: Any, y: Any) -> Any:
    if is_int(y):
        if y.dtype.kind == "i":
            ctx.check(op, jnp.all(y >= 0), lambda: "integers to negative integer powers are not allowed")
        x, y = broadcast(x, y)
        return _int_pow(x, jnp.maximum(y, 0))
    return lax.pow(*broadcast(x, y))


def _int_pow(x: Any, y: Any) -> Any:
    """``x ** y`` for integer arrays by squaring, wrapping like numpy's."""
    bits = max(1, 8 * y.dtype.itemsize - (1 if y.dtype.kind == "i" else 0))
    acc = jnp.ones_like(x)
    base = x
    for _ in range(bits):
        acc = jnp.where((y & 1) == 1, acc * base, acc)
        base = base * base
        y = y >> 1
    return acc


def broadcast_to(x: Any, shape: tuple[int, ...]) -> Any:
    """``x`` broadcast to ``shape`` by numpy's rules (trailing dims aligned)."""
    if x.shape == shape:
        return x
    return lax.broadcast_in_dim(x, shape, tuple(range(len(shape) - x.ndim, len(shape))))


def broadcast(x: Any, y: Any) -> tuple[Any, Any]:
    """``x`` and ``y`` broadcast to one shape (numpy's rules), as ``lax``'s binary ops need."""
    if x.shape == y.shape:
        return x, y
    shape = np.broadcast_shapes(x.shape, y.shape)
    return broadcast_to(x, shape), broadcast_to(y, shape)


def broadcast_elementwise(x: Any, y: Any, ctx: LoweringContext | None = None) -> tuple[Any, Any]:
    """``broadcast`` for ``lax``'s elementwise binary ops. A 0-d operand against a tensor is
    broadcast once per trace and shape with ``ctx`` (``ctx.splat``: the common ``x * 2.0``
    of a long program makes one broadcast, not one per op), else passed as it is (``lax``
    takes it)."""
    if not y.ndim:
        return (x, y) if ctx is None or not x.ndim else (x, ctx.splat(y, x.shape))
    if not x.ndim:
        return (x, y) if ctx is None else (ctx.splat(x, y.shape), y)
    return broadcast(x, y)


def _clamped_shift(shift: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``shift`` with the amount clamped into ``[0, width - 1]``, as the reference."""

    def fn(x: Any, y: Any) -> Any:
        return shift(x, lax.clamp(jnp.zeros((), y.dtype), y, jnp.asarray(8 * x.dtype.itemsize - 1, y.dtype)))

    return fn


def _shift_right(x: Any, y: Any) -> Any:
    return lax.shift_right_logical(x, y) if x.dtype.kind == "u" else lax.shift_right_arithmetic(x, y)


#: Binary ops on widened operands of one shape, rounded back once. ``lax`` primitives rather
#: than ``jnp`` wrappers: each ``jnp`` call is a jitted function of its own, which makes
#: tracing a long program several times slower. ``lax.max``/``lax.min`` propagate nan.
ARITHMETIC: dict[type[Operation], Callable[[Any, Any], Any]] = {
    ops.Add: lax.add,
    ops.Sub: lax.sub,
    ops.Mul: lax.mul,
    ops.Maximum: lax.max,
    ops.Minimum: lax.min,
    ops.BitwiseAnd: lax.bitwise_and,
    ops.BitwiseOr: lax.bitwise_or,
    ops.BitwiseXor: lax.bitwise_xor,
    ops.LeftShift: _clamped_shift(lax.shift_left),
    ops.RightShift: _clamped_shift(_shift_right),
}

#: Binary ops that may fail the run; they take ``ctx, op`` too.
CHECKED_ARITHMETIC: dict[type[Operation], Callable[[LoweringContext, Operation, Any, Any], Any]] = {
    ops.Div: _div,
    ops.Mod: _mod,
    ops.Pow: _pow,
}

PREDICATES: dict[type[Operation], Callable[[Any, Any], Any]] = {
    ops.Equal: lax.eq,
    ops.NotEqual: lax.ne,
    ops.Less: lax.lt,
    ops.LessEqual: lax.le,
    ops.Greater: lax.gt,
    ops.GreaterEqual: lax.ge,
    ops.LogicalAnd: lax.bitwise_and,
    ops.LogicalOr: lax.bitwise_or,
    ops.LogicalXor: lax.bitwise_xor,
}


def _sigmoid(x: Any) -> Any:
    # exp(-|x|) never overflows; both branches are accurate where they are chosen.
    e = lax.exp(lax.neg(lax.abs(x)))
    one = lax.full_like(e, 1)
    return lax.select(x >= 0, lax.div(one, one + e), lax.div(e, one + e))


def _abs(x: Any) -> Any:
    return x if x.dtype.kind == "u" else lax.abs(x)


def _sign(x: Any) -> Any:
    return lax.convert_element_type(x != 0, x.dtype) if x.dtype.kind == "u" else lax.sign(x)


UNARY: dict[type[Operation], Callable[[Any], Any]] = {
    ops.Neg: lax.neg,
    ops.Abs: _abs,
    ops.Sign: _sign,
    ops.Exp: lax.exp,
    ops.Log: lax.log,
    ops.Sqrt: lax.sqrt,
    ops.Rsqrt: lax.rsqrt,
    ops.Square: lambda x: lax.mul(x, x),
    ops.Tanh: lax.tanh,
    ops.Sigmoid: _sigmoid,
    ops.Sin: lax.sin,
    ops.Cos: lax.cos,
    ops.Tan: lax.tan,
    ops.Asin: lax.asin,
    ops.Acos: lax.acos,
    ops.Atan: lax.atan,
    ops.Sinh: lax.sinh,
    ops.Cosh: lax.cosh,
    ops.Asinh: lax.asinh,
    ops.Acosh: lax.acosh,
    ops.Atanh: lax.atanh,
    ops.Erf: lax.erf,
    ops.Floor: lax.floor,
    ops.Ceil: lax.ceil,
    ops.Round: lambda x: lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN),
    ops.Reciprocal: lambda x: lax.div(lax.full_like(x, 1), x),
    ops.LogicalNot: lax.bitwise_not,
    ops.BitwiseNot: lax.bitwise_not,
}

#: Float predicates: bool results.
CLASSIFIERS: dict[type[Operation], Callable[[Any], Any]] = {
    ops.IsNan: lambda x: lax.ne(x, x),
    ops.IsInf: lambda x: lax.eq(lax.abs(x), lax.full_like(x, np.inf)),
}


def unary_lowering(table: Mapping[type[Operation], Callable[[Any], Any]]) -> Callable[..., tuple[Any]]:
    """A rule applying ``table[type(op)]`` to the widened operand, rounded back to its dtype."""

    def rule(ctx: LoweringContext, op: Operation, x: Any) -> tuple[Any]:
        return (narrow(table[type(op)](widen(x)), x.dtype),)

    return rule


lowering_rule(*UNARY)(unary_lowering(UNARY))


@lowering_rule(*CLASSIFIERS)
def _classify(ctx: LoweringContext, op: Operation, x: Any) -> tuple[Any]:
    return (CLASSIFIERS[type(op)](widen(x)),)


@lowering_rule(*ARITHMETIC)
def _arithmetic(ctx: LoweringContext, op: Operation, x: Any, y: Any) -> tuple[Any]:
    return (narrow(ARITHMETIC[type(op)](*broadcast_elementwise(widen(x), widen(y), ctx)), x.dtype),)


def integer_divisor(op: Operation) -> bool:
    """A ``may_fail`` predicate: the second operand holds integers (a zero divisor, a negative
    exponent)."""
    ty = op.operands[1].type
    return isinstance(ty, TensorType) and ty.dtype.is_integer


@lowering_rule(*CHECKED_ARITHMETIC, may_fail=integer_divisor)
def _checked_arithmetic(ctx: LoweringContext, op: Operation, x: Any, y: Any) -> tuple[Any]:
    return (narrow(CHECKED_ARITHMETIC[type(op)](ctx, op, widen(x), widen(y)), x.dtype),)


@lowering_rule(*PREDICATES)
def _predicate(ctx: LoweringContext, op: Operation, x: Any, y: Any) -> tuple[Any]:
    return (PREDICATES[type(op)](*broadcast_elementwise(widen(x), widen(y), ctx)),)


@lowering_rule(ops.FloorDiv, may_fail=integer_divisor)
def _floordiv(ctx: LoweringContext, op: ops.FloorDiv, x: Any, y: Any) -> tuple[Any]:
    if is_int(x):
        _no_zero_divisor(ctx, op, y)
        return (jnp.floor_divide(x, jnp.where(y == 0, jnp.ones_like(y), y)),)
    # TF floors the quotient as rounded to the operands' dtype (1.0 // 0.1 is 10).
    q = narrow(lax.div(*broadcast(widen(x), widen(y))), x.dtype)
    return (narrow(jnp.floor(widen(q)), x.dtype),)


#: Integer types a float converts to through int32 (numpy's and TF's casts on x86 convert to
#: int32 and keep the low bits).
_NARROW_INTS = frozenset(np.dtype(t) for t in (np.int8, np.int16, np.uint8))


def _float_to_int(x: Any, dt: np.dtype) -> Any:
    """``x`` truncated toward zero into ``dt``, as x86's conversions (numpy's, TF's CPU kernels)
    give it: nan and values outside the 32-bit (for int64: 64-bit) range become the most
    negative integer, and narrow types keep the low bits of the int32. XLA alone saturates."""
    wide = np.dtype(np.int64 if dt == np.int64 else np.int32)
    bound = float(2 ** (8 * wide.itemsize - 1))
    x = widen(x)
    valid = (x >= -bound) & (x < bound)
    z = jnp.where(valid, lax.convert_element_type(jnp.where(valid, x, 0), wide), np.iinfo(wide).min)
    return lax.convert_element_type(z, dt)


@lowering_rule(ops.Cast)
def _cast(ctx: LoweringContext, op: ops.Cast, x: Any) -> tuple[Any]:
    dt = op.dtype.numpy
    if is_float(x) and dt.kind in "iu":
        return (_float_to_int(x, dt),)
    return (lax.convert_element_type(x, dt),)


@lowering_rule(ops.Select)
def _select(ctx: LoweringContext, op: ops.Select, cond: Any, x: Any, y: Any) -> tuple[Any]:
    return (jnp.where(cond, x, y),)


@lowering_rule(ops.MatMul)
def _matmul(ctx: LoweringContext, op: ops.MatMul, a: Any, b: Any) -> tuple[Any]:
    if op.transpose_a:
        a = jnp.swapaxes(a, -1, -2)
    if op.transpose_b:
        b = jnp.swapaxes(b, -1, -2)
    # Half types accumulate in float32 and round once, as the reference.
    acc = _F32 if a.dtype in _HALF else a.dtype
    z = jnp.matmul(a, b, precision=ctx.matmul_precision, preferred_element_type=acc)
    return (narrow(z, a.dtype),)


# --------------------------------------------------------------------------------------------
# Reductions


def _lowest(dtype: np.dtype) -> Any:
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _highest(dtype: np.dtype) -> Any:
    return np.inf if dtype.kind == "f" else np.iinfo(dtype).max


def _reduce_max(x: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    return jnp.max(x, axis=axis, keepdims=keepdims, initial=_lowest(x.dtype))


def _reduce_min(x: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    return jnp.min(x, axis=axis, keepdims=keepdims, initial=_highest(x.dtype))


def _reduce_sum(x: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    # Integers sum in their own width: wrapping commutes with addition, so this is numpy's
    # (wider) sum narrowed.
    return jnp.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype)


def _reduce_prod(x: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    return jnp.prod(x, axis=axis, keepdims=keepdims, dtype=x.dtype)


FOLDS: dict[type[Operation], Callable[..., Any]] = {
    ops.ReduceSum: _reduce_sum,
    ops.ReduceProd: _reduce_prod,
    ops.ReduceMax: _reduce_max,
    ops.ReduceMin: _reduce_min,
    ops.ReduceAny: jnp.any,
    ops.ReduceAll: jnp.all,
}


@lowering_rule(*FOLDS)
def _fold(ctx: LoweringContext, op: ops.math.Reduction, x: Any) -> tuple[Any]:
    z = FOLDS[type(op)](widen(x), axis=op.reduced_axes(x.ndim), keepdims=op.keepdims)
    return (narrow(z, x.dtype),)


@lowering_rule(ops.ReduceMean)
def _reduce_mean(ctx: LoweringContext, op: ops.ReduceMean, x: Any) -> tuple[Any]:
    axes = op.reduced_axes(x.ndim)
    count = math.prod(x.shape[a] for a in axes)
    if is_int(x):
        # As TF: the sum in 64 bits, divided with truncation toward zero (lax.div's), cast back.
        acc = np.dtype(np.uint64 if x.dtype.kind == "u" else np.int64)
        s = jnp.sum(x, axis=axes, keepdims=op.keepdims, dtype=acc)
        z = lax.div(s, jnp.asarray(count, acc)) if count else s
        return (narrow(z, x.dtype),)
    w = widen(x)
    z = jnp.sum(w, axis=axes, keepdims=op.keepdims) / jnp.asarray(count, w.dtype)
    return (narrow(z, x.dtype),)


ARG_REDUCTIONS: dict[type[Operation], Callable[..., Any]] = {
    ops.ArgMax: jnp.argmax,
    ops.ArgMin: jnp.argmin,
}


@lowering_rule(*ARG_REDUCTIONS)
def _arg_reduction(ctx: LoweringContext, op: ops.math.ArgReduction, x: Any) -> tuple[Any]:
    axis = normalize_axis(op.axis, x.ndim)
    if x.shape[axis] == 0:
        raise FlowirError(f"cannot reduce axis {op.axis} of size 0 in shape {list(x.shape)}")
    return (narrow(ARG_REDUCTIONS[type(op)](widen(x), axis=axis), op.output_type.numpy),)


@lowering_rule(ops.CumSum)
def _cumsum(ctx: LoweringContext, op: ops.CumSum, x: Any) -> tuple[Any]:
    axis = normalize_axis(op.axis, x.ndim)
    w = widen(x)
    z = lax.cumsum(w, axis=axis, reverse=op.reverse)
    if op.exclusive and x.shape[axis]:
        # Shift by one toward the summing direction, a 0 entering at the start.
        n = x.shape[axis]
        lo, hi = (1, n) if op.reverse else (0, n - 1)
        kept = lax.slice_in_dim(z, lo, hi, axis=axis)
        pad = [(0, 0, 0)] * x.ndim
        pad[axis] = (0, 1, 0) if op.reverse else (1, 0, 0)
        z = lax.pad(kept, lax.full((), 0, z.dtype), pad)
    return (narrow(z, x.dtype),)


def _order(x: Any, axis: int, largest: bool) -> Any:
    """As the reference's ``top_k_order``: stable sorts (nan last), read backwards for the
    largest, so that equal elements keep their index order."""
    if not largest:
        return jnp.argsort(x, axis=axis, stable=True)
    n = x.shape[axis]
    return n - 1 - jnp.flip(jnp.argsort(jnp.flip(x, axis), axis=axis, stable=True), axis)


@lowering_rule(ops.TopK)
def _top_k(ctx: LoweringContext, op: ops.TopK, x: Any) -> tuple[Any, Any]:
    axis = normalize_axis(op.axis, x.ndim)
    if op.k > x.shape[axis]:
        raise FlowirError(f"k = {op.k} is larger than dim {axis} of x, of size {x.shape[axis]}")
    order = lax.slice_in_dim(_order(widen(x), axis, op.largest), 0, op.k, axis=axis)
    return jnp.take_along_axis(x, order, axis=axis), narrow(order, op.index_dtype.numpy)
