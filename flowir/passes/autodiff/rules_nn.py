"""VJP rules of the losses (``nn.*_cross_entropy_with_logits``) and of dropout's noise.

The softmax cross-entropy ops have two results, as TF's: the loss and its gradient with
respect to the logits (``backprop``). The loss's cotangent reuses that result; a cotangent of
``backprop`` itself (a gradient of a gradient) goes through the softmax Jacobian, so second
derivatives of the losses work. Every rule builds differentiable ops only.
"""

from __future__ import annotations

from flowir.ir import ops
from flowir.ir.core import Operation, Value
from flowir.passes.autodiff.builder import VjpBuilder
from flowir.passes.autodiff.rules import Cotangents, non_differentiable, vjp_rule

__all__: list[str] = []

non_differentiable("a random draw: only the operand's shape is used", ops.RandomUniformLike)


def _add(b: VjpBuilder, a: Value | None, c: Value | None) -> Value | None:
    if a is None:
        return c
    if c is None:
        return a
    return b(ops.Add, a, c)


def _xent_vjp(
    b: VjpBuilder, op: Operation, cts: Cotangents, axis: int, labels: Value | None
) -> tuple[Value | None, Value | None]:
    """The cotangents of ``logits`` and (dense) ``labels`` of a softmax cross-entropy op.

    With ``s = softmax(logits)`` and ``Z = sum(labels)`` along ``axis`` (1 for class
    indices): the loss contributes ``g * backprop`` to the logits and ``g * -log(s)`` to the
    labels; ``backprop = s * Z - labels`` contributes ``Z * (g' - sum(g' * s)) * s`` and
    ``sum(g' * s) - g'``.
    """
    g_loss, g_backprop = cts
    logits = op.operands[0]
    need_logits, need_labels = b.needs[0], labels is not None and b.needs[1]
    d_logits = d_labels = None
    if g_loss is not None:
        spread = b(ops.ExpandDims, g_loss, axis=axis)
        if need_logits:
            d_logits = b(ops.Mul, spread, op.results[1])
        if need_labels:
            d_labels = b(ops.Mul, spread, b(ops.Neg, b(ops.LogSoftmax, logits, axis=axis)))
    if g_backprop is not None:
        s = b(ops.Softmax, logits, axis=axis)
        inner = b(ops.ReduceSum, b(ops.Mul, g_backprop, s), axes=[axis], keepdims=True)
        if need_logits:
            d = b(ops.Mul, b(ops.Sub, g_backprop, inner), s)
            if labels is not None:
                d = b(ops.Mul, d, b(ops.ReduceSum, labels, axes=[axis], keepdims=True))
            d_logits = _add(b, d_logits, d)
        if need_labels:
            d_labels = _add(b, d_labels, b(ops.Sub, inner, g_backprop))
    return d_logits, d_labels


@vjp_rule(ops.SoftmaxCrossEntropyWithLogits)
def _softmax_xent(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    return list(_xent_vjp(b, op, cts, op.axis, op.operands[1]))  # type: ignore[attr-defined]


@vjp_rule(ops.SparseSoftmaxCrossEntropyWithLogits)
def _sparse_softmax_xent(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    return [_xent_vjp(b, op, cts, -1, None)[0], None]


@vjp_rule(ops.SigmoidCrossEntropyWithLogits)
def _sigmoid_xent(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    x, z = op.operands
    # d/dx = sigmoid(x) - z, d/dz = -x: shapes are equal, nothing to unbroadcast.
    return [
        b(ops.Mul, g, b(ops.Sub, b(ops.Sigmoid, x), z)) if b.needs[0] else None,
        b(ops.Neg, b(ops.Mul, g, x)) if b.needs[1] else None,
    ]
