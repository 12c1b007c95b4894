"""The nn dialect: activations, softmax and the cross-entropy losses.

The numpy kernels that define what each op computes are in ``flowir/ir/reference/nn.py``.
"""

from __future__ import annotations

from flowir.ir.core import PURE, Operation, attr, operand, register_op
from flowir.ir.dtypes import DType
from flowir.ir.errors import ShapeError
from flowir.ir.ops._base import FLOATS, UnaryElementwise, require_dtypes, same_dtype, tensor
from flowir.ir.types import Shape, TensorType, Type, format_shape, meet_shapes, normalize_axis

__all__ = [
    "Relu",
    "Softplus",
    "Softmax",
    "LogSoftmax",
    "SoftmaxCrossEntropyWithLogits",
    "SparseSoftmaxCrossEntropyWithLogits",
    "SigmoidCrossEntropyWithLogits",
]

#: Dtypes of the class indices of ``SparseSoftmaxCrossEntropyWithLogits``, as in TF.
LABEL_DTYPES = frozenset({DType.int32, DType.int64})


@register_op
class Relu(UnaryElementwise):
    """``max(x, 0)``; numeric (nan stays nan)."""

    name = "nn.relu"


@register_op
class Softplus(UnaryElementwise):
    """``log(1 + exp(x))``; floats; equals ``x`` for large ``x`` without overflow."""

    name = "nn.softplus"
    DTYPES = FLOATS


class SoftmaxBase(Operation):
    """A normalisation of ``x`` along ``axis``; ``x`` is float of rank >= 1, the result has
    its type. Computed stably (the maximum along ``axis`` is subtracted first)."""

    traits = PURE
    x = operand()
    axis = attr(int, default=-1)

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        require_dtypes(t, FLOATS, "x")
        if t.shape is not None:
            normalize_axis(self.axis, len(t.shape))
        return t


@register_op
class Softmax(SoftmaxBase):
    """``exp(x) / sum(exp(x))`` along ``axis``."""

    name = "nn.softmax"


@register_op
class LogSoftmax(SoftmaxBase):
    """``x - log(sum(exp(x)))`` along ``axis``; finite for finite logits of any size."""

    name = "nn.log_softmax"


# --------------------------------------------------------------------------------------------
# Losses


def _same_shape(a: TensorType, b: TensorType) -> Shape:
    """What the shapes of ``logits`` (``a``) and ``labels`` (``b``) both say; ``ShapeError``
    when they differ (the losses do not broadcast)."""
    try:
        return meet_shapes(a.shape, b.shape)
    except ShapeError:
        raise ShapeError(
            f"logits and labels must have the same shape ({format_shape(a.shape)} vs {format_shape(b.shape)})"
        ) from None


@register_op
class SoftmaxCrossEntropyWithLogits(Operation):
    """Cross-entropy of the distributions ``labels`` against ``softmax(logits)`` along ``axis``.

    ``logits`` and ``labels``: one float dtype and one shape, of rank >= 1. Two results, as
    TF's op: ``loss``, ``sum(labels * (logsumexp(logits) - logits))`` along ``axis`` (the
    shape without that dim), and ``backprop``, the gradient of ``loss`` with respect to
    ``logits``, ``softmax(logits) * sum(labels) - labels`` (``logits``' type; TF's
    ``softmax(logits) - labels`` when each row of labels is a distribution, as TF requires).
    Finite for finite logits of any size.
    """

    name = "nn.softmax_cross_entropy_with_logits"
    traits = PURE
    logits = operand()
    labels = operand()
    axis = attr(int, default=-1, doc="the class dim")

    def infer_type(self, logits: Type, labels: Type) -> tuple[TensorType, TensorType]:
        a, b = tensor(logits, "logits"), tensor(labels, "labels")
        dt = same_dtype(a, b, what="logits and labels")
        require_dtypes(a, FLOATS, "logits")
        shape = _same_shape(a, b)
        if shape is None:
            return TensorType(dt, None), TensorType(dt, None)
        if not shape:
            raise ShapeError("logits must have rank >= 1, got a scalar")
        ax = normalize_axis(self.axis, len(shape))
        return TensorType(dt, shape[:ax] + shape[ax + 1 :]), TensorType(dt, shape)


@register_op
class SparseSoftmaxCrossEntropyWithLogits(Operation):
    """Cross-entropy of class indices ``labels`` against ``softmax(logits)`` along the last dim.

    ``logits``: float of rank >= 1, classes in the last dim. ``labels``: int32 or int64 of
    ``logits``' shape without the last dim; each in ``[0, classes)`` (a run-time
    ``FlowirError`` otherwise, as TF's CPU kernel). Results as
    ``SoftmaxCrossEntropyWithLogits``: ``loss``, ``logsumexp(logits) - logits[label]``, of
    ``labels``' shape, and ``backprop``, ``softmax(logits) - one_hot(labels)``.
    """

    name = "nn.sparse_softmax_cross_entropy_with_logits"
    traits = PURE
    logits = operand()
    labels = operand()

    def infer_type(self, logits: Type, labels: Type) -> tuple[TensorType, TensorType]:
        a, b = tensor(logits, "logits"), tensor(labels, "labels")
        require_dtypes(a, FLOATS, "logits")
        require_dtypes(b, LABEL_DTYPES, "labels")
        dt = a.dtype
        if a.shape is not None and not a.shape:
            raise ShapeError("logits must have rank >= 1, got a scalar")
        if a.shape is None:
            if b.shape is None:
                return TensorType(dt, None), TensorType(dt, None)
            return TensorType(dt, b.shape), TensorType(dt, (*b.shape, None))
        batch, classes = a.shape[:-1], a.shape[-1]
        if b.shape is not None and len(b.shape) != len(batch):
            raise ShapeError(
                f"labels must have the rank of logits minus 1; got labels {format_shape(b.shape)}, "
                f"logits {format_shape(a.shape)}"
            )
        try:
            batch = meet_shapes(batch, b.shape)  # type: ignore[assignment]
        except ShapeError:
            raise ShapeError(
                f"labels {format_shape(b.shape)} must match the shape of logits {format_shape(a.shape)} "
                "without its last dim"
            ) from None
        return TensorType(dt, batch), TensorType(dt, (*batch, classes))  # type: ignore[misc]


@register_op
class SigmoidCrossEntropyWithLogits(Operation):
    """Elementwise logistic loss, ``max(x, 0) - x * z + log(1 + exp(-|x|))`` for logits ``x``
    and labels ``z`` (probabilities), computed without overflow.

    ``logits`` and ``labels``: one float dtype and one shape (no broadcasting, as TF); the
    result has that type.
    """

    name = "nn.sigmoid_cross_entropy_with_logits"
    traits = PURE
    logits = operand()
    labels = operand()

    def infer_type(self, logits: Type, labels: Type) -> TensorType:
        a, b = tensor(logits, "logits"), tensor(labels, "labels")
        dt = same_dtype(a, b, what="logits and labels")
        require_dtypes(a, FLOATS, "logits")
        return TensorType(dt, _same_shape(a, b))
