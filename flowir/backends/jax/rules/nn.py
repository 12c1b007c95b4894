"""Lowerings of the nn dialect, computed stably as the reference (``flowir/ir/reference/nn.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from flowir.backends.jax.lowering import LoweringContext, always, lowering_rule
from flowir.backends.jax.rules.math import narrow, unary_lowering, widen
from flowir.ir import ops
from flowir.ir.core import Operation
from flowir.ir.reference.nn import resized_axes

__all__: list[str] = []


def _relu(x: Any) -> Any:
    # lax.max propagates nan, as np.maximum.
    return lax.max(x, lax.full_like(x, 0))


def _softplus(x: Any) -> Any:
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): the exponent is never positive.
    return jnp.maximum(x, 0) + jnp.log1p(jnp.exp(-jnp.abs(x)))


def _softmax(shifted: Any, axis: int) -> Any:
    e = jnp.exp(shifted)
    return e / jnp.sum(e, axis=axis, keepdims=True)


def _log_softmax(shifted: Any, axis: int) -> Any:
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


UNARY: dict[type[Operation], Callable[[Any], Any]] = {
    ops.Relu: _relu,
    ops.Softplus: _softplus,
}

#: Normalisations along an axis, given the logits minus their maximum along that axis.
NORMALIZATIONS: dict[type[Operation], Callable[[Any, int], Any]] = {
    ops.Softmax: _softmax,
    ops.LogSoftmax: _log_softmax,
}

lowering_rule(*UNARY)(unary_lowering(UNARY))

#: sqrt(2 / pi), the scale inside the tanh approximation of gelu.
GELU_TANH_SCALE = float(np.sqrt(2 / np.pi))


def _gelu(op: ops.Gelu, x: Any) -> Any:
    if op.approximate == "tanh":
        return 0.5 * x * (1 + jnp.tanh(GELU_TANH_SCALE * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + lax.erf(x * float(1 / np.sqrt(2))))


def _elu(op: ops.Elu, x: Any) -> Any:
    return jnp.where(x > 0, x, op.alpha * jnp.expm1(jnp.minimum(x, 0)))


def _leaky_relu(op: ops.LeakyRelu, x: Any) -> Any:
    return jnp.where(x >= 0, x, op.alpha * x)


#: Elementwise activations with attributes: ``fn(op, widened x)``.
ACTIVATIONS: dict[type[Operation], Callable[[Any, Any], Any]] = {
    ops.Gelu: _gelu,
    ops.Elu: _elu,
    ops.LeakyRelu: _leaky_relu,
}


@lowering_rule(*ACTIVATIONS)
def _activation(ctx: LoweringContext, op: Operation, x: Any) -> tuple[Any]:
    return (narrow(ACTIVATIONS[type(op)](op, widen(x)), x.dtype),)


@lowering_rule(*NORMALIZATIONS)
def _normalization(ctx: LoweringContext, op: ops.nn.SoftmaxBase, x: Any) -> tuple[Any]:
    w = widen(x)
    shifted = w - jnp.max(w, axis=op.axis, keepdims=True, initial=-jnp.inf)
    return (narrow(NORMALIZATIONS[type(op)](shifted, op.axis), x.dtype),)


# --------------------------------------------------------------------------------------------
# Losses: as TF's kernels, from the logits minus their row maximum, so no exponent is positive.


def _log_sum_exp_parts(x: Any, axis: int) -> tuple[Any, Any, Any]:
    """``(shifted, exp(shifted), sum of exp(shifted))`` along ``axis`` (kept as a dim)."""
    shifted = x - jnp.max(x, axis=axis, keepdims=True, initial=-jnp.inf)
    e = jnp.exp(shifted)
    return shifted, e, jnp.sum(e, axis=axis, keepdims=True)


@lowering_rule(ops.SoftmaxCrossEntropyWithLogits)
def _softmax_xent(
    ctx: LoweringContext, op: ops.SoftmaxCrossEntropyWithLogits, logits: Any, labels: Any
) -> tuple[Any, Any]:
    z = widen(labels)
    shifted, e, total = _log_sum_exp_parts(widen(logits), op.axis)
    loss = jnp.sum(z * (jnp.log(total) - shifted), axis=op.axis)
    backprop = e / total * jnp.sum(z, axis=op.axis, keepdims=True) - z
    return narrow(loss, logits.dtype), narrow(backprop, logits.dtype)


def _describe_bad_label(classes: int):
    def describe(value: np.ndarray) -> str:
        return f"received a label value of {value} which is outside the valid range of [0, {classes})"

    return describe


@lowering_rule(ops.SparseSoftmaxCrossEntropyWithLogits, may_fail=always)
def _sparse_softmax_xent(
    ctx: LoweringContext, op: ops.SparseSoftmaxCrossEntropyWithLogits, logits: Any, labels: Any
) -> tuple[Any, Any]:
    classes = logits.shape[-1]
    flat = labels.reshape(-1)
    bad = (flat < 0) | (flat >= classes)
    first = jnp.argmax(bad) if flat.size else jnp.int32(0)
    value = flat[first] if flat.size else jnp.zeros((), labels.dtype)
    ok = ~bad[first] if flat.size else jnp.bool_(True)
    ctx.check(op, ok, _describe_bad_label(classes), value)
    index = jnp.clip(labels, 0, max(classes - 1, 0))[..., None]
    shifted, e, total = _log_sum_exp_parts(widen(logits), -1)
    loss = jnp.log(total[..., 0]) - jnp.take_along_axis(shifted, index, axis=-1)[..., 0]
    hot = index == jnp.arange(classes, dtype=index.dtype)
    backprop = e / total - hot.astype(e.dtype)
    return narrow(loss, logits.dtype), narrow(backprop, logits.dtype)


@lowering_rule(ops.SigmoidCrossEntropyWithLogits)
def _sigmoid_xent(ctx: LoweringContext, op: ops.SigmoidCrossEntropyWithLogits, logits: Any, labels: Any) -> tuple[Any]:
    x, z = widen(logits), widen(labels)
    loss = jnp.maximum(x, 0) - x * z + jnp.log1p(jnp.exp(-jnp.abs(x)))
    return (narrow(loss, logits.dtype),)


# --------------------------------------------------------------------------------------------
# Resizing: the sampled indices are static (the reference's), one take per resized axis.


def _resize(op: ops.nn.ResizeWindow, x: Any) -> Any:
    for axis, idx in resized_axes(op, x.shape):
        x = jnp.take(x, jnp.asarray(idx, jnp.int32), axis=axis)
    return x


@lowering_rule(ops.ResizeNearest)
def _resize_nearest(ctx: LoweringContext, op: ops.ResizeNearest, x: Any) -> tuple[Any]:
    return (_resize(op, x),)


@lowering_rule(ops.ResizeNearestGrad)
def _resize_nearest_grad(ctx: LoweringContext, op: ops.ResizeNearestGrad, g: Any, like: Any) -> tuple[Any]:
    w = widen(g)
    _, pullback = jax.vjp(lambda a: _resize(op, a), jnp.zeros(like.shape, w.dtype))
    return (narrow(pullback(w)[0], g.dtype),)
