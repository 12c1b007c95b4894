"""VJP rules of the ops added for ONNX: the parametric activations (gelu, elu, leaky relu),
``array.broadcast_to``, and convolution, pooling and nearest resizing with their gradient ops.

Convolution's adjoints close under three ops: ``conv(x, w)``, ``conv_input_grad(dy, w)``
(linear in both, the transpose in ``x``) and ``conv_filter_grad(x, dy)`` (linear in both, the
transpose in ``w``); each rule below is the transpose of a bilinear form, so derivatives of
any order are these ops again. Average pooling and its gradient are each other's transposes,
as are max pooling's gradient and ``grad.max_pool_grad_grad``, nearest resizing and its
gradient, and ``array.take_along_axis`` and its gradient (which is also top-k's).
"""

from __future__ import annotations

import math
from typing import Any

from flowir.ir import ops
from flowir.ir.core import Operation, Value
from flowir.passes.autodiff.builder import VjpBuilder
from flowir.passes.autodiff.rules import Cotangents, vjp_rule

__all__: list[str] = []

#: sqrt(2 / pi) and gelu's cubic coefficient, as the kernels use them.
_GELU_SCALE = math.sqrt(2 / math.pi)
_GELU_CUBIC = 0.044715


def _carried(op: Operation, target: type[Operation]) -> dict[str, Any]:
    """``op``'s non-default attributes that ``target`` declares too (the window attributes
    the forward and gradient ops share)."""
    return {k: v for k, v in op.attr_items() if k in target.ATTRS}


# --------------------------------------------------------------------------------------------
# Activations


def _gelu_derivative(b: VjpBuilder, x: Value, approximate: str) -> Value:
    half = b.scalar(0.5, x)
    one = b.scalar(1, x)
    if approximate == "tanh":
        # With t = tanh(u), u = c (x + a x^3): 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2).
        x2 = b(ops.Square, x)
        u = b(ops.Mul, b.scalar(_GELU_SCALE, x), b(ops.Add, x, b(ops.Mul, b.scalar(_GELU_CUBIC, x), b(ops.Mul, x2, x))))
        t = b(ops.Tanh, u)
        du = b(ops.Mul, b.scalar(_GELU_SCALE, x), b(ops.Add, one, b(ops.Mul, b.scalar(3 * _GELU_CUBIC, x), x2)))
        inner = b(ops.Mul, b(ops.Mul, x, b(ops.Sub, one, b(ops.Square, t))), du)
        return b(ops.Mul, half, b(ops.Add, b(ops.Add, one, t), inner))
    # Phi(x) + x phi(x), the normal distribution's cdf and density.
    cdf = b(ops.Mul, half, b(ops.Add, one, b(ops.Erf, b(ops.Mul, x, b.scalar(1 / math.sqrt(2), x)))))
    density = b(ops.Mul, b.scalar(1 / math.sqrt(2 * math.pi), x), b(ops.Exp, b(ops.Mul, b(ops.Square, x), b.scalar(-0.5, x))))
    return b(ops.Add, cdf, b(ops.Mul, x, density))


@vjp_rule(ops.Gelu)
def _gelu(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    return [b(ops.Mul, g, _gelu_derivative(b, op.operands[0], op.approximate))]  # type: ignore[attr-defined]


@vjp_rule(ops.Elu)
def _elu(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    # Below 0 the slope alpha * exp(x) is the result plus alpha.
    (g,) = cts
    x, y = op.operands[0], op.result
    slope = b(ops.Add, y, b.scalar(op.alpha, y))  # type: ignore[attr-defined]
    return [b(ops.Select, b(ops.Greater, x, b.scalar(0, x)), g, b(ops.Mul, g, slope))]


@vjp_rule(ops.LeakyRelu)
def _leaky_relu(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    x = op.operands[0]
    return [b(ops.Select, b(ops.Greater, x, b.scalar(0, x)), g, b(ops.Mul, g, b.scalar(op.alpha, g)))]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# Broadcasting


@vjp_rule(ops.BroadcastTo)
def _broadcast_to(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    return [b.sum_to(g, op.operands[0], [tuple(op.shape)])]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# Convolution


@vjp_rule(ops.Conv)
def _conv(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    x, w = op.operands
    return [
        b(ops.ConvInputGrad, g, w, x, **_carried(op, ops.ConvInputGrad)) if b.needs[0] else None,
        b(ops.ConvFilterGrad, x, g, w, **_carried(op, ops.ConvFilterGrad)) if b.needs[1] else None,
    ]


@vjp_rule(ops.ConvInputGrad)
def _conv_input_grad(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    # <conv_input_grad(dy, w), G> = <dy, conv(G, w)> = <conv_filter_grad(G, dy), w>.
    (g,) = cts
    dy, w, _ = op.operands
    return [
        b(ops.Conv, g, w, **_carried(op, ops.Conv)) if b.needs[0] else None,
        b(ops.ConvFilterGrad, g, dy, w, **_carried(op, ops.ConvFilterGrad)) if b.needs[1] else None,
        None,
    ]


@vjp_rule(ops.ConvFilterGrad)
def _conv_filter_grad(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    # <conv_filter_grad(x, dy), G> = <dy, conv(x, G)> = <conv_input_grad(dy, G), x>.
    (g,) = cts
    x, dy, _ = op.operands
    return [
        b(ops.ConvInputGrad, dy, g, x, **_carried(op, ops.ConvInputGrad)) if b.needs[0] else None,
        b(ops.Conv, x, g, **_carried(op, ops.Conv)) if b.needs[1] else None,
        None,
    ]


@vjp_rule(ops.ConvTranspose)
def _conv_transpose(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    # conv_transpose(x, w) is conv_input_grad(x, w) into the result's shape: its adjoints are
    # conv (which maps the result's shape back to x's) and conv_filter_grad with x as dy.
    (g,) = cts
    x, w = op.operands
    return [
        b(ops.Conv, g, w, **_carried(op, ops.Conv)) if b.needs[0] else None,
        b(ops.ConvFilterGrad, g, x, w, **_carried(op, ops.ConvFilterGrad)) if b.needs[1] else None,
    ]


# --------------------------------------------------------------------------------------------
# Pooling


@vjp_rule(ops.MaxPool)
def _max_pool(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    return [b(ops.MaxPoolGrad, op.operands[0], g, **_carried(op, ops.MaxPoolGrad))]


@vjp_rule(ops.AvgPool)
def _avg_pool(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    return [b(ops.AvgPoolGrad, g, op.operands[0], **_carried(op, ops.AvgPoolGrad))]


@vjp_rule(ops.AvgPoolGrad)
def _avg_pool_grad(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    return [b(ops.AvgPool, g, **_carried(op, ops.AvgPool)) if b.needs[0] else None, None]


@vjp_rule(ops.MaxPoolGrad)
def _max_pool_grad(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    # Linear in dy, piecewise constant in x (which only picks the window maxima).
    (g,) = cts
    x = op.operands[0]
    return [None, b(ops.MaxPoolGradGrad, x, g, **_carried(op, ops.MaxPoolGradGrad)) if b.needs[1] else None]


@vjp_rule(ops.MaxPoolGradGrad)
def _max_pool_grad_grad(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    x = op.operands[0]
    return [None, b(ops.MaxPoolGrad, x, g, **_carried(op, ops.MaxPoolGrad)) if b.needs[1] else None]


# --------------------------------------------------------------------------------------------
# Resizing


@vjp_rule(ops.ResizeNearest)
def _resize_nearest(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    return [b(ops.ResizeNearestGrad, g, op.operands[0], **_carried(op, ops.ResizeNearestGrad))]


@vjp_rule(ops.ResizeNearestGrad)
def _resize_nearest_grad(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    return [b(ops.ResizeNearest, g, **_carried(op, ops.ResizeNearest)) if b.needs[0] else None, None]


# --------------------------------------------------------------------------------------------
# Picking along an axis


@vjp_rule(ops.TopK)
def _top_k(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    g = cts[0]
    if g is None:
        return [None]
    return [b(ops.TakeAlongAxisGrad, g, op.results[1], op.operands[0], axis=op.axis)]  # type: ignore[attr-defined]


@vjp_rule(ops.TakeAlongAxis)
def _take_along_axis(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    x, indices = op.operands
    return [b(ops.TakeAlongAxisGrad, g, indices, x, axis=op.axis), None]  # type: ignore[attr-defined]


@vjp_rule(ops.TakeAlongAxisGrad)
def _take_along_axis_grad(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    _, indices, _ = op.operands
    return [b(ops.TakeAlongAxis, g, indices, axis=op.axis) if b.needs[0] else None, None, None]  # type: ignore[attr-defined]


@vjp_rule(ops.Trilu)
def _trilu(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    # A mask: its own transpose.
    (g,) = cts
    return [b(ops.Trilu, g, **_carried(op, ops.Trilu))]
