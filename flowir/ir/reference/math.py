"""Reference kernels: math ops (TensorFlow 1.15 semantics, computed with numpy).

Every kernel returns arrays (0-d ones included) of exactly its op's result dtype: numpy's
promotions (int8 sums to int64, ...) are undone, so integer arithmetic wraps as in TF.
float16 and bfloat16 are computed in float32 and rounded back once, which is what TF's CPU
kernels do for most ops and spares numpy's slow or missing half-precision loops. Floating
point exceptions are silent (inf and nan, as in TF); integer division by zero and negative
integer powers raise ``FlowirError``, which TF reports as a run-time error too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from flowir.ir import ops
from flowir.ir.core import Operation
from flowir.ir.dtypes import DType
from flowir.ir.errors import FlowirError
from flowir.ir.reference._registry import ImplRule, impl_rule
from flowir.ir.types import normalize_axis

__all__ = ["widen", "narrow", "unary_kernel", "trunc_div"]

_F32 = np.dtype(np.float32)
_HALF = frozenset({DType.float16.numpy, DType.bfloat16.numpy})


def widen(x: np.ndarray) -> np.ndarray:
    """``x`` in the dtype kernels compute in: float16 and bfloat16 become float32, others stay."""
    return x.astype(_F32) if x.dtype in _HALF else x


def narrow(z: np.ndarray | np.generic, dtype: np.dtype) -> np.ndarray:
    """``z`` (an array or numpy scalar) as an array of ``dtype`` (integers wrap; values beyond a
    half type's range become inf quietly, as in TF)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(z).astype(dtype, copy=False)


def unary_kernel(table: Mapping[type[Operation], Callable[[np.ndarray], np.ndarray]]) -> ImplRule:
    """A kernel applying ``table[type(op)]`` to the widened operand, rounded back to its dtype."""

    def rule(op: Operation, x: np.ndarray) -> tuple[np.ndarray]:
        with np.errstate(all="ignore"):
            z = table[type(op)](widen(x))
        return (narrow(z, x.dtype),)

    return rule


def trunc_div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Integer ``x / y`` rounded toward zero (C's, and so TF's, integer division); ``y != 0``."""
    q = np.floor_divide(x, y)
    # numpy floors: step toward zero where an inexact quotient is negative.
    inexact = np.remainder(x, y) != 0
    return q + (inexact & ((x < 0) != (y < 0))).astype(q.dtype)


def _is_int(x: np.ndarray) -> bool:
    return x.dtype.kind in "iu"


def _check_divisor(y: np.ndarray) -> None:
    if not y.all():
        raise FlowirError("integer division by zero")


# --------------------------------------------------------------------------------------------
# Elementwise


def _div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if not _is_int(x):
        return np.true_divide(x, y)
    _check_divisor(y)
    return trunc_div(x, y)


def _mod(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if _is_int(x):
        _check_divisor(y)
    return np.remainder(x, y)


def _pow(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if _is_int(y) and (y < 0).any():
        raise FlowirError("integers to negative integer powers are not allowed")
    return np.power(x, y)


def _rsqrt(x: np.ndarray) -> np.ndarray:
    return 1 / np.sqrt(x)


_ERF = np.frompyfunc(math.erf, 1, 1)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function of a float array, exact to the last bit of float64.

    numpy has no erf ufunc (and flowir does not depend on scipy): libm's, through
    ``math.erf``, one element at a time.
    """
    return np.asarray(_ERF(x.astype(np.float64)), dtype=np.float64)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp(-|x|) never overflows; both branches are accurate where they are chosen.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _clamped_shift(shift: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``shift`` with the amount clamped into ``[0, width - 1]``, as TF's kernels do."""

    def fn(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return shift(x, np.clip(y, 0, 8 * x.dtype.itemsize - 1).astype(x.dtype))

    return fn


#: Binary ops on widened operands, rounded back once. FloorDiv has its own kernel: it rounds
#: the quotient to the operand dtype before flooring.
ARITHMETIC: dict[type[Operation], Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    ops.Add: np.add,
    ops.Sub: np.subtract,
    ops.Mul: np.multiply,
    ops.Div: _div,
    ops.Mod: _mod,
    ops.Pow: _pow,
    ops.Maximum: np.maximum,
    ops.Minimum: np.minimum,
    ops.BitwiseAnd: np.bitwise_and,
    ops.BitwiseOr: np.bitwise_or,
    ops.BitwiseXor: np.bitwise_xor,
    ops.LeftShift: _clamped_shift(np.left_shift),
    ops.RightShift: _clamped_shift(np.right_shift),
}

PREDICATES: dict[type[Operation], Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    ops.Equal: np.equal,
    ops.NotEqual: np.not_equal,
    ops.Less: np.less,
    ops.LessEqual: np.less_equal,
    ops.Greater: np.greater,
    ops.GreaterEqual: np.greater_equal,
    ops.LogicalAnd: np.logical_and,
    ops.LogicalOr: np.logical_or,
    ops.LogicalXor: np.logical_xor,
}

UNARY: dict[type[Operation], Callable[[np.ndarray], np.ndarray]] = {
    ops.Neg: np.negative,
    ops.Abs: np.abs,
    ops.Sign: np.sign,
    ops.Exp: np.exp,
    ops.Log: np.log,
    ops.Sqrt: np.sqrt,
    ops.Rsqrt: _rsqrt,
    ops.Square: np.square,
    ops.Tanh: np.tanh,
    ops.Sigmoid: _sigmoid,
    ops.Sin: np.sin,
    ops.Cos: np.cos,
    ops.Tan: np.tan,
    ops.Asin: np.arcsin,
    ops.Acos: np.arccos,
    ops.Atan: np.arctan,
    ops.Sinh: np.sinh,
    ops.Cosh: np.cosh,
    ops.Asinh: np.arcsinh,
    ops.Acosh: np.arccosh,
    ops.Atanh: np.arctanh,
    ops.Erf: erf,
    ops.Floor: np.floor,
    ops.Ceil: np.ceil,
    ops.Round: np.round,
    ops.Reciprocal: np.reciprocal,
    ops.LogicalNot: np.logical_not,
    ops.BitwiseNot: np.invert,
}

#: Float predicates: bool results, so not rounded back to the operand's dtype.
CLASSIFIERS: dict[type[Operation], Callable[[np.ndarray], np.ndarray]] = {
    ops.IsNan: np.isnan,
    ops.IsInf: np.isinf,
}

impl_rule(*UNARY)(unary_kernel(UNARY))


@impl_rule(*CLASSIFIERS)
def _classify(op: Operation, x: np.ndarray) -> tuple[np.ndarray]:
    return (np.asarray(CLASSIFIERS[type(op)](widen(x))),)


@impl_rule(*ARITHMETIC)
def _arithmetic(op: Operation, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray]:
    with np.errstate(all="ignore"):
        z = ARITHMETIC[type(op)](widen(x), widen(y))
    return (narrow(z, x.dtype),)


@impl_rule(*PREDICATES)
def _predicate(op: Operation, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray]:
    with np.errstate(all="ignore"):
        z = PREDICATES[type(op)](widen(x), widen(y))
    return (narrow(z, np.dtype(np.bool_)),)


@impl_rule(ops.FloorDiv)
def _floordiv(op: ops.FloorDiv, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray]:
    if _is_int(x):
        _check_divisor(y)
        with np.errstate(all="ignore"):
            return (narrow(np.floor_divide(x, y), x.dtype),)
    # TF floors the quotient as rounded to the operands' dtype; numpy's float floor_divide
    # works from fmod instead and can differ by one (1.0 // 0.1 is 9 in numpy, 10 in TF).
    with np.errstate(all="ignore"):
        q = narrow(np.true_divide(widen(x), widen(y)), x.dtype)
        return (narrow(np.floor(widen(q)), x.dtype),)


@impl_rule(ops.Cast)
def _cast(op: ops.Cast, x: np.ndarray) -> tuple[np.ndarray]:
    # numpy's float-to-int conversion truncates toward zero, as TF's; nan and out-of-range
    # values give the platform's result, quietly, as in TF.
    with np.errstate(all="ignore"):
        return (narrow(x, op.dtype.numpy),)


@impl_rule(ops.Select)
def _select(op: ops.Select, cond: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray]:
    return (narrow(np.where(cond, x, y), x.dtype),)


@impl_rule(ops.MatMul)
def _matmul(op: ops.MatMul, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray]:
    wa, wb = widen(a), widen(b)
    if op.transpose_a:
        wa = np.swapaxes(wa, -1, -2)
    if op.transpose_b:
        wb = np.swapaxes(wb, -1, -2)
    with np.errstate(all="ignore"):
        z = np.matmul(wa, wb)
    return (narrow(z, a.dtype),)


# --------------------------------------------------------------------------------------------
# Reductions


def _reduce_max(x: np.ndarray, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
    lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    return np.max(x, axis=axis, keepdims=keepdims, initial=lowest)


def _reduce_min(x: np.ndarray, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
    highest = np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).max
    return np.min(x, axis=axis, keepdims=keepdims, initial=highest)


#: Reductions whose empty case is numpy's (sum, prod, any, all) or made TF's (max, min: the
#: dtype's lowest/highest value, TF's reducer identities).
FOLDS: dict[type[Operation], Callable[..., np.ndarray]] = {
    ops.ReduceSum: np.sum,
    ops.ReduceProd: np.prod,
    ops.ReduceMax: _reduce_max,
    ops.ReduceMin: _reduce_min,
    ops.ReduceAny: np.any,
    ops.ReduceAll: np.all,
}


@impl_rule(*FOLDS)
def _fold(op: ops.math.Reduction, x: np.ndarray) -> tuple[np.ndarray]:
    with np.errstate(all="ignore"):
        z = FOLDS[type(op)](widen(x), axis=op.reduced_axes(x.ndim), keepdims=op.keepdims)
    return (narrow(z, x.dtype),)


@impl_rule(ops.ReduceMean)
def _reduce_mean(op: ops.ReduceMean, x: np.ndarray) -> tuple[np.ndarray]:
    axes = op.reduced_axes(x.ndim)
    count = math.prod(x.shape[a] for a in axes)
    if _is_int(x):
        # TF sums small integers in 64 bits, divides with C truncation, then casts back; an
        # empty reduction gives the sum reducer's identity, 0.
        acc = np.dtype(np.uint64 if x.dtype.kind == "u" else np.int64)
        s = np.asarray(np.sum(x, axis=axes, keepdims=op.keepdims, dtype=acc))
        z = trunc_div(s, np.asarray(count, acc)) if count else s
        return (narrow(z, x.dtype),)
    with np.errstate(all="ignore"):
        z = np.sum(widen(x), axis=axes, keepdims=op.keepdims) / count
    return (narrow(z, x.dtype),)


ARG_REDUCTIONS: dict[type[Operation], Callable[..., np.ndarray]] = {
    ops.ArgMax: np.argmax,
    ops.ArgMin: np.argmin,
}


@impl_rule(*ARG_REDUCTIONS)
def _arg_reduction(op: ops.math.ArgReduction, x: np.ndarray) -> tuple[np.ndarray]:
    axis = normalize_axis(op.axis, x.ndim)
    if x.shape[axis] == 0:
        raise FlowirError(f"cannot reduce axis {op.axis} of size 0 in shape {list(x.shape)}")
    return (narrow(ARG_REDUCTIONS[type(op)](widen(x), axis=axis), op.output_type.numpy),)


@impl_rule(ops.CumSum)
def _cumsum(op: ops.CumSum, x: np.ndarray) -> tuple[np.ndarray]:
    axis = normalize_axis(op.axis, x.ndim)
    w = widen(x)
    if op.reverse:
        w = np.flip(w, axis)
    with np.errstate(all="ignore"):
        z = np.cumsum(w, axis=axis, dtype=w.dtype)
    if op.exclusive:
        # Shift by one (a leading 0) rather than subtract: each entry is then exactly the
        # inclusive sum of the elements before it.
        z = np.delete(np.insert(z, 0, 0, axis=axis), -1, axis=axis) if z.shape[axis] else z
    if op.reverse:
        z = np.flip(z, axis)
    return (narrow(z, x.dtype),)


def top_k_order(x: np.ndarray, axis: int, largest: bool) -> np.ndarray:
    """The indices sorting ``x`` along ``axis`` best first, equal elements (and nans, which
    rank above every number) in index order: a stable ascending sort for the smallest; for
    the largest, a stable sort of the reversed array, read backwards and mapped back."""
    if not largest:
        return np.argsort(x, axis=axis, kind="stable")
    n = x.shape[axis]
    backwards = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
    return n - 1 - np.flip(backwards, axis)


@impl_rule(ops.TopK)
def _top_k(op: ops.TopK, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    axis = normalize_axis(op.axis, x.ndim)
    if op.k > x.shape[axis]:
        raise FlowirError(f"k = {op.k} is larger than dim {axis} of x, of size {x.shape[axis]}")
    order = np.take(top_k_order(widen(x), axis, op.largest), np.arange(op.k), axis=axis)
    return np.take_along_axis(x, order, axis=axis), narrow(order, op.index_dtype.numpy)
