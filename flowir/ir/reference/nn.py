"""Reference kernels: nn ops, computed stably (no overflow for logits of any size)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from flowir.ir import ops
from flowir.ir.core import Operation
from flowir.ir.errors import FlowirError
from flowir.ir.reference._registry import impl_rule
from flowir.ir.reference.math import narrow, unary_kernel, widen


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def _softplus(x: np.ndarray) -> np.ndarray:
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): the exponent is never positive.
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _softmax(shifted: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(shifted: np.ndarray, axis: int) -> np.ndarray:
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


UNARY: dict[type[Operation], Callable[[np.ndarray], np.ndarray]] = {
    ops.Relu: _relu,
    ops.Softplus: _softplus,
}

#: Normalisations along an axis, given the logits minus their maximum along that axis.
NORMALIZATIONS: dict[type[Operation], Callable[[np.ndarray, int], np.ndarray]] = {
    ops.Softmax: _softmax,
    ops.LogSoftmax: _log_softmax,
}

impl_rule(*UNARY)(unary_kernel(UNARY))


@impl_rule(*NORMALIZATIONS)
def _normalization(op: ops.nn.SoftmaxBase, x: np.ndarray) -> tuple[np.ndarray]:
    w = widen(x)
    with np.errstate(all="ignore"):
        shifted = w - np.max(w, axis=op.axis, keepdims=True, initial=-np.inf)
        z = NORMALIZATIONS[type(op)](shifted, op.axis)
    return (narrow(z, x.dtype),)


# --------------------------------------------------------------------------------------------
# Losses: as TF's kernels, from the logits minus their row maximum, so no exponent is positive.


def _log_sum_exp_parts(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(shifted, exp(shifted), sum of exp(shifted))`` along ``axis`` (kept as a dim)."""
    shifted = x - np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    e = np.exp(shifted)
    return shifted, e, np.sum(e, axis=axis, keepdims=True)


@impl_rule(ops.SoftmaxCrossEntropyWithLogits)
def _softmax_xent(
    op: ops.SoftmaxCrossEntropyWithLogits, logits: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    z = widen(labels)
    with np.errstate(all="ignore"):
        shifted, e, total = _log_sum_exp_parts(widen(logits), op.axis)
        loss = np.sum(z * (np.log(total) - shifted), axis=op.axis)
        backprop = e / total * np.sum(z, axis=op.axis, keepdims=True) - z
    return narrow(loss, logits.dtype), narrow(backprop, logits.dtype)


@impl_rule(ops.SparseSoftmaxCrossEntropyWithLogits)
def _sparse_softmax_xent(
    op: ops.SparseSoftmaxCrossEntropyWithLogits, logits: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    classes = logits.shape[-1]
    bad = (labels < 0) | (labels >= classes)
    if bad.any():
        raise FlowirError(
            f"received a label value of {labels[bad].flat[0]} which is outside the valid range of [0, {classes})"
        )
    index = labels[..., None].astype(np.intp)
    with np.errstate(all="ignore"):
        shifted, e, total = _log_sum_exp_parts(widen(logits), -1)
        loss = np.log(total[..., 0]) - np.take_along_axis(shifted, index, axis=-1)[..., 0]
        backprop = e / total
        np.put_along_axis(backprop, index, np.take_along_axis(backprop, index, axis=-1) - 1, axis=-1)
    return narrow(loss, logits.dtype), narrow(backprop, logits.dtype)


@impl_rule(ops.SigmoidCrossEntropyWithLogits)
def _sigmoid_xent(op: ops.SigmoidCrossEntropyWithLogits, logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray]:
    x, z = widen(logits), widen(labels)
    with np.errstate(all="ignore"):
        loss = np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))
    return (narrow(loss, logits.dtype),)
