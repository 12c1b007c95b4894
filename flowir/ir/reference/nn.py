"""Reference kernels: nn ops, computed stably (no overflow for logits of any size)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from flowir.ir import ops
from flowir.ir.core import Operation
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
