"""Converters of elementwise ONNX ops: arithmetic, comparisons, logic, activations, casts."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from flowir.frontends.onnx._context import NodeContext, dtype_from_onnx
from flowir.frontends.onnx._registry import converter_rule
from flowir.ir.core import Value
from flowir.ir.dtypes import DType
from flowir.ir.ops import array as a
from flowir.ir.ops import math as m
from flowir.ir.ops import nn

# ONNX op type -> the flowir op computing it elementwise, one input to one output.
_UNARY: dict[str, str] = {
    "Abs": "math.abs",
    "Neg": "math.neg",
    "Exp": "math.exp",
    "Log": "math.log",
    "Sqrt": "math.sqrt",
    "Sigmoid": "math.sigmoid",
    "Tanh": "math.tanh",
    "Sin": "math.sin",
    "Cos": "math.cos",
    "Relu": "nn.relu",
    "Sign": "math.sign",
    "Not": "math.logical_not",
    "Softplus": "nn.softplus",
    "Identity": "array.identity",
    "Erf": "math.erf",
    "Tan": "math.tan",
    "Asin": "math.asin",
    "Acos": "math.acos",
    "Atan": "math.atan",
    "Sinh": "math.sinh",
    "Cosh": "math.cosh",
    "Asinh": "math.asinh",
    "Acosh": "math.acosh",
    "Atanh": "math.atanh",
    "Floor": "math.floor",
    "Ceil": "math.ceil",
    "Round": "math.round",
    "BitwiseNot": "math.bitwise_not",
}

_BINARY: dict[str, str] = {
    "Add": "math.add",
    "Sub": "math.sub",
    "Mul": "math.mul",
    "Div": "math.div",
    "Equal": "math.equal",
    "Less": "math.less",
    "LessOrEqual": "math.less_equal",
    "Greater": "math.greater",
    "GreaterOrEqual": "math.greater_equal",
    "And": "math.logical_and",
    "Or": "math.logical_or",
    "Xor": "math.logical_xor",
    "BitwiseAnd": "math.bitwise_and",
    "BitwiseOr": "math.bitwise_or",
    "BitwiseXor": "math.bitwise_xor",
}


def _unary(op_name: str) -> Callable[[NodeContext], list[Value]]:
    def convert(ctx: NodeContext) -> list[Value]:
        return [ctx.emit(op_name, ctx.input(0))]

    return convert


def _binary(op_name: str) -> Callable[[NodeContext], list[Value]]:
    def convert(ctx: NodeContext) -> list[Value]:
        return [ctx.emit(op_name, ctx.input(0), ctx.input(1))]

    return convert


for _onnx, _op in _UNARY.items():
    converter_rule(_onnx, requires=[_op])(_unary(_op))
for _onnx, _op in _BINARY.items():
    converter_rule(_onnx, requires=[_op])(_binary(_op))


def _zeros_like(ctx: NodeContext, x: Value) -> Value:
    return ctx.emit(a.ZerosLike, x)


@converter_rule("Reciprocal")
def _reciprocal(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    if ctx.has_op("math.reciprocal"):
        return [ctx.emit("math.reciprocal", x)]
    return [ctx.emit(m.Div, ctx.scalar(1, x, "one"), x)]


@converter_rule("Pow")
def _pow(ctx: NodeContext) -> list[Value]:
    x, y = ctx.input(0), ctx.input(1)
    dt = ctx.ty(x).dtype
    if ctx.ty(y).dtype is not dt:
        # ONNX lets the exponent have another numeric type; the result has the base's.
        y = ctx.emit(m.Cast, y, dtype=dt)
    return [ctx.emit(m.Pow, x, y)]


@converter_rule("Mod")
def _mod(ctx: NodeContext) -> list[Value]:
    x, y = ctx.input(0), ctx.input(1)
    r = ctx.emit(m.Mod, x, y)
    if not ctx.attr("fmod", 0):
        return [r]
    # C fmod takes the sign of x; floor modulo that of y. They differ by y where both are
    # non-zero and the signs of x and y differ.
    zero = ctx.scalar(0, x, "zero")
    signs_differ = ctx.emit(m.NotEqual, ctx.emit(m.Less, x, zero), ctx.emit(m.Less, y, zero))
    fix = ctx.emit(m.LogicalAnd, signs_differ, ctx.emit(m.NotEqual, r, zero))
    return [ctx.emit(m.Select, fix, ctx.emit(m.Sub, r, y), r)]


def _variadic(op: type) -> Callable[[NodeContext], list[Value]]:
    def convert(ctx: NodeContext) -> list[Value]:
        acc = ctx.input(0)
        for i in range(1, ctx.num_inputs):
            acc = ctx.emit(op, acc, ctx.input(i))
        if ctx.num_inputs == 1:
            acc = ctx.emit(a.Identity, acc)
        return [acc]

    return convert


converter_rule("Sum")(_variadic(m.Add))
converter_rule("Max")(_variadic(m.Maximum))
converter_rule("Min")(_variadic(m.Minimum))


@converter_rule("Mean")
def _mean(ctx: NodeContext) -> list[Value]:
    (total,) = _variadic(m.Add)(ctx)
    return [ctx.emit(m.Div, total, ctx.scalar(ctx.num_inputs, total, "count"))]


@converter_rule("Where")
def _where(ctx: NodeContext) -> list[Value]:
    return [ctx.emit(m.Select, ctx.input(0), ctx.input(1), ctx.input(2))]


@converter_rule("Cast")
def _cast(ctx: NodeContext) -> list[Value]:
    to = dtype_from_onnx(ctx.attr("to"), f"{ctx.describe()}: attribute 'to'")
    return [_cast_to(ctx, ctx.input(0), to)]


@converter_rule("CastLike")
def _cast_like(ctx: NodeContext) -> list[Value]:
    return [_cast_to(ctx, ctx.input(0), ctx.ty(ctx.input(1)).dtype)]


def _cast_to(ctx: NodeContext, x: Value, to: DType) -> Value:
    src = ctx.ty(x).dtype
    if src is to:
        return ctx.emit(a.Identity, x)
    if DType.string in (src, to):
        raise ctx.unsupported(f"casts between strings and numbers ({src.name} to {to.name}) are not in flowir's catalog")
    return ctx.emit(m.Cast, x, dtype=to)


# --------------------------------------------------------------------------------------------
# Activations


@converter_rule("LeakyRelu")
def _leaky_relu(ctx: NodeContext) -> list[Value]:
    x, alpha = ctx.input(0), ctx.attr("alpha", 0.01)
    if ctx.has_op("nn.leaky_relu"):
        return [ctx.emit("nn.leaky_relu", x, alpha=alpha)]
    neg = ctx.emit(m.Less, x, ctx.scalar(0, x, "zero"))
    return [ctx.emit(m.Select, neg, ctx.emit(m.Mul, x, ctx.scalar(alpha, x, "alpha")), x)]


@converter_rule("PRelu")
def _prelu(ctx: NodeContext) -> list[Value]:
    x, slope = ctx.input(0), ctx.input(1)
    neg = ctx.emit(m.Less, x, ctx.scalar(0, x, "zero"))
    return [ctx.emit(m.Select, neg, ctx.emit(m.Mul, x, slope), x)]


def _elu(ctx: NodeContext, x: Value, alpha: float) -> Value:
    if ctx.has_op("nn.elu"):
        return ctx.emit("nn.elu", x, alpha=alpha)
    pos = ctx.emit(m.Greater, x, ctx.scalar(0, x, "zero"))
    em1 = ctx.emit(m.Sub, ctx.emit(m.Exp, x), ctx.scalar(1, x, "one"))
    return ctx.emit(m.Select, pos, x, ctx.emit(m.Mul, em1, ctx.scalar(alpha, x, "alpha")))


@converter_rule("Elu")
def _elu_rule(ctx: NodeContext) -> list[Value]:
    return [_elu(ctx, ctx.input(0), ctx.attr("alpha", 1.0))]


@converter_rule("Selu")
def _selu(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    alpha = ctx.attr("alpha", 1.67326319217681884765625)
    gamma = ctx.attr("gamma", 1.05070102214813232421875)
    return [ctx.emit(m.Mul, _elu(ctx, x, alpha), ctx.scalar(gamma, x, "gamma"))]


@converter_rule("Celu")
def _celu(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    alpha = ctx.attr("alpha", 1.0)
    zero = ctx.scalar(0, x, "zero")
    em1 = ctx.emit(m.Sub, ctx.emit(m.Exp, ctx.emit(m.Div, x, ctx.scalar(alpha, x, "alpha"))), ctx.scalar(1, x, "one"))
    neg = ctx.emit(m.Minimum, zero, ctx.emit(m.Mul, em1, ctx.scalar(alpha, x, "alpha")))
    return [ctx.emit(m.Add, ctx.emit(m.Maximum, zero, x), neg)]


@converter_rule("ThresholdedRelu")
def _thresholded_relu(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    keep = ctx.emit(m.Greater, x, ctx.scalar(ctx.attr("alpha", 1.0), x, "alpha"))
    return [ctx.emit(m.Select, keep, x, _zeros_like(ctx, x))]


def _hard_sigmoid(ctx: NodeContext, x: Value, alpha: float, beta: float) -> Value:
    y = ctx.emit(m.Add, ctx.emit(m.Mul, x, ctx.scalar(alpha, x, "alpha")), ctx.scalar(beta, x, "beta"))
    return ctx.emit(m.Maximum, ctx.scalar(0, x, "zero"), ctx.emit(m.Minimum, ctx.scalar(1, x, "one"), y))


@converter_rule("HardSigmoid")
def _hard_sigmoid_rule(ctx: NodeContext) -> list[Value]:
    return [_hard_sigmoid(ctx, ctx.input(0), ctx.attr("alpha", 0.2), ctx.attr("beta", 0.5))]


@converter_rule("HardSwish")
def _hard_swish(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    return [ctx.emit(m.Mul, x, _hard_sigmoid(ctx, x, 1 / 6, 0.5))]


@converter_rule("Softsign")
def _softsign(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    return [ctx.emit(m.Div, x, ctx.emit(m.Add, ctx.scalar(1, x, "one"), ctx.emit(m.Abs, x)))]


@converter_rule("Mish")
def _mish(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    return [ctx.emit(m.Mul, x, ctx.emit(m.Tanh, ctx.emit(nn.Softplus, x)))]


@converter_rule("Swish")
def _swish(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    ax = ctx.emit(m.Mul, x, ctx.scalar(ctx.attr("alpha", 1.0), x, "alpha"))
    return [ctx.emit(m.Mul, x, ctx.emit(m.Sigmoid, ax))]


@converter_rule("Shrink")
def _shrink(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    bias, lambd = ctx.attr("bias", 0.0), ctx.attr("lambd", 0.5)
    below = ctx.emit(m.Less, x, ctx.scalar(-lambd, x, "neg_lambd"))
    above = ctx.emit(m.Greater, x, ctx.scalar(lambd, x, "lambd"))
    b = ctx.scalar(bias, x, "bias")
    inner = ctx.emit(m.Select, above, ctx.emit(m.Sub, x, b), _zeros_like(ctx, x))
    return [ctx.emit(m.Select, below, ctx.emit(m.Add, x, b), inner)]


@converter_rule("Gelu")
def _gelu(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    approximate = ctx.attr("approximate", "none")
    if approximate not in ("none", "tanh"):
        raise ctx.error(f"attribute 'approximate' must be 'none' or 'tanh', got {approximate!r}")
    if ctx.has_op("nn.gelu"):
        return [ctx.emit("nn.gelu", x, approximate=approximate)]
    if approximate == "none":
        if not ctx.has_op("math.erf"):
            raise ctx.unsupported("exact Gelu needs nn.gelu or math.erf in the catalog")
        inner = ctx.emit("math.erf", ctx.emit(m.Mul, x, ctx.scalar(1 / math.sqrt(2), x, "rsqrt2")))
    else:
        cube = ctx.emit(m.Mul, ctx.emit(m.Mul, x, x), x)
        poly = ctx.emit(m.Add, x, ctx.emit(m.Mul, cube, ctx.scalar(0.044715, x, "c")))
        inner = ctx.emit(m.Tanh, ctx.emit(m.Mul, poly, ctx.scalar(math.sqrt(2 / math.pi), x, "k")))
    half_x = ctx.emit(m.Mul, x, ctx.scalar(0.5, x, "half"))
    return [ctx.emit(m.Mul, half_x, ctx.emit(m.Add, ctx.scalar(1, x, "one"), inner))]


@converter_rule("IsNaN")
def _is_nan(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    if ctx.has_op("math.is_nan"):
        return [ctx.emit("math.is_nan", x)]
    return [ctx.emit(m.NotEqual, x, x)]


@converter_rule("IsInf")
def _is_inf(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    pos, neg = ctx.attr("detect_positive", 1), ctx.attr("detect_negative", 1)
    inf = ctx.scalar(np.inf, x, "inf")
    if pos and neg:
        return [ctx.emit(m.Equal, ctx.emit(m.Abs, x), inf)]
    if pos:
        return [ctx.emit(m.Equal, x, inf)]
    if neg:
        return [ctx.emit(m.Equal, x, ctx.scalar(-np.inf, x, "neg_inf"))]
    return [ctx.emit(a.ZerosLike, ctx.emit(m.Equal, x, inf))]


@converter_rule("BitShift")
def _bit_shift(ctx: NodeContext) -> list[Value]:
    # Shifting by s is multiplying or floor-dividing by 2**s (integers wrap as shifts do).
    # A shift amount outside [0, bits) (as an unsigned count, negative ones are huge) empties
    # a left shift and leaves only the sign of a right shift.
    x, s = ctx.input(0), ctx.input(1)
    direction = ctx.attr("direction")
    if direction not in ("LEFT", "RIGHT"):
        raise ctx.error(f"attribute 'direction' must be LEFT or RIGHT, got {direction!r}")
    dt = ctx.ty(x).dtype
    bits = 8 * dt.itemsize
    # 2**(bits - 1) does not fit a signed dtype's division, and a signed right shift by
    # bits - 1 only keeps the sign anyway.
    limit = bits - 1 if direction == "RIGHT" and dt.is_signed else bits
    zero = ctx.scalar(0, x, "zero")
    big = ctx.emit(m.LogicalOr, ctx.emit(m.Less, s, zero), ctx.emit(m.GreaterEqual, s, ctx.scalar(limit, x, "bits")))
    factor = ctx.emit(m.Pow, ctx.scalar(2, x, "two"), ctx.emit(m.Select, big, zero, s))
    if direction == "LEFT":
        return [ctx.emit(m.Select, big, zero, ctx.emit(m.Mul, x, factor))]
    fill = ctx.emit(m.Select, ctx.emit(m.Less, x, zero), ctx.scalar(-1, x, "minus_one"), zero) if dt.is_signed else zero
    return [ctx.emit(m.Select, big, fill, ctx.emit(m.FloorDiv, x, factor))]
