"""Reference kernels: nn ops, computed stably (no overflow for logits of any size)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from flowir.ir import ops
from flowir.ir.core import Operation
from flowir.ir.dtypes import dtype_of
from flowir.ir.errors import FlowirError
from flowir.ir.reference._registry import impl_rule
from flowir.ir.reference.math import erf, narrow, unary_kernel, widen
from flowir.ir.types import TensorType


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def _softplus(x: np.ndarray) -> np.ndarray:
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): the exponent is never positive.
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _softmax(shifted: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(shifted: np.ndarray, axis: int) -> np.ndarray:
    # log(sum(exp)) is log(k + rest) with k maxima contributing exactly 1 each: computed as
    # log(k) + log1p(rest / k), so the result for a dominant logit (-log(1 + 1e-4)) keeps its
    # digits instead of losing them to rounding sum(exp) near 1.
    top = shifted == 0
    e = np.exp(np.where(top, -np.inf, shifted))
    k = np.sum(top, axis=axis, keepdims=True).astype(shifted.dtype)
    rest = np.sum(e, axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return shifted - (np.log(k) + np.log1p(rest / k))


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

#: sqrt(2 / pi), the scale inside the tanh approximation of gelu.
GELU_TANH_SCALE = float(np.sqrt(2 / np.pi))


def _gelu(op: ops.Gelu, x: np.ndarray) -> np.ndarray:
    if op.approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(GELU_TANH_SCALE * (x + 0.044715 * x**3)))
    return (0.5 * x * (1 + erf(x / np.sqrt(2)))).astype(x.dtype)


def _elu(op: ops.Elu, x: np.ndarray) -> np.ndarray:
    # expm1 of the negative part only: the positive part never overflows into the result.
    return np.where(x > 0, x, op.alpha * np.expm1(np.minimum(x, 0)))


def _leaky_relu(op: ops.LeakyRelu, x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, x, op.alpha * x)


#: Elementwise activations with attributes: ``fn(op, widened x)``.
ACTIVATIONS: dict[type[Operation], Callable[..., np.ndarray]] = {
    ops.Gelu: _gelu,
    ops.Elu: _elu,
    ops.LeakyRelu: _leaky_relu,
}


@impl_rule(*ACTIVATIONS)
def _activation(op: Operation, x: np.ndarray) -> tuple[np.ndarray]:
    w = widen(x)
    with np.errstate(all="ignore"):
        z = ACTIVATIONS[type(op)](op, w)
    return (narrow(z, x.dtype),)


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


# --------------------------------------------------------------------------------------------
# Resizing


#: ONNX's coordinate transformations: ``fn(i, scale, size_in, size_out)`` maps output
#: indices ``i`` (float64) to input coordinates.
COORDINATES: dict[str, Callable[[np.ndarray, float, int, int], np.ndarray]] = {
    "half_pixel": lambda i, s, n_in, n_out: (i + 0.5) / s - 0.5,
    "pytorch_half_pixel": lambda i, s, n_in, n_out: (i + 0.5) / s - 0.5 if n_out > 1 else np.zeros_like(i),
    "align_corners": lambda i, s, n_in, n_out: i * (n_in - 1) / (n_out - 1) if n_out > 1 else np.zeros_like(i),
    "asymmetric": lambda i, s, n_in, n_out: i / s,
    "tf_half_pixel_for_nn": lambda i, s, n_in, n_out: (i + 0.5) / s,
}

#: ONNX's nearest modes: a fractional coordinate to an index (halves go down or up).
NEAREST: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "round_prefer_floor": lambda c: np.ceil(c - 0.5),
    "round_prefer_ceil": lambda c: np.floor(c + 0.5),
    "floor": np.floor,
    "ceil": np.ceil,
}


def nearest_indices(op: ops.nn.ResizeWindow, axis: int, size_in: int, size_out: int) -> np.ndarray:
    """The input index each output index of ``axis`` samples, clamped into the input. An
    axis kept at its size with scale 1 is the identity, whatever the modes (onnxruntime's
    reading: ``tf_half_pixel_for_nn`` would otherwise shift it by half a cell)."""
    i = np.arange(size_out, dtype=np.float64)
    scale = op.scale_of(axis, size_in, size_out)
    if size_in == size_out and scale == 1.0:
        return np.arange(size_out, dtype=np.intp)
    coord = COORDINATES[op.coordinate_transformation_mode](i, scale, size_in, size_out)
    return np.clip(NEAREST[op.nearest_mode](coord), 0, max(size_in - 1, 0)).astype(np.intp)


def resized_axes(op: ops.nn.ResizeWindow, shape_in: tuple[int, ...]) -> list[tuple[int, np.ndarray]]:
    """``(axis, indices)`` of every axis whose sampling is not the identity."""
    out = op.resized_shape(shape_in)
    moved = []
    for axis, (n_in, n_out) in enumerate(zip(shape_in, out)):  # type: ignore[arg-type]
        idx = nearest_indices(op, axis, n_in, n_out)
        if n_in != n_out or not np.array_equal(idx, np.arange(n_in)):
            moved.append((axis, idx))
    return moved


@impl_rule(ops.ResizeNearest)
def _resize_nearest(op: ops.ResizeNearest, x: np.ndarray) -> tuple[np.ndarray]:
    op.infer_type(TensorType(dtype_of(x), x.shape))
    out = x
    for axis, idx in resized_axes(op, x.shape):
        out = np.take(out, idx, axis=axis)
    return (out.copy() if out is x else out,)


@impl_rule(ops.ResizeNearestGrad)
def _resize_nearest_grad(op: ops.ResizeNearestGrad, g: np.ndarray, like: np.ndarray) -> tuple[np.ndarray]:
    op.infer_type(TensorType(dtype_of(g), g.shape), TensorType(dtype_of(like), like.shape))
    acc = widen(g)
    # Undo the forward's takes in reverse order, each a scatter-add along its axis.
    for axis, idx in reversed(resized_axes(op, like.shape)):
        moved = np.moveaxis(acc, axis, 0)
        summed = np.zeros((like.shape[axis], *moved.shape[1:]), acc.dtype)
        np.add.at(summed, idx, moved)
        acc = np.moveaxis(summed, 0, axis)
    return (narrow(acc, g.dtype),)
