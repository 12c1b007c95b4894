"""The nn dialect: activations and softmax.

The numpy kernels that define what each op computes are in ``flowir/ir/reference/nn.py``.
"""

from __future__ import annotations

from flowir.ir.core import PURE, Operation, attr, operand, register_op
from flowir.ir.ops._base import FLOATS, UnaryElementwise, require_dtypes, tensor
from flowir.ir.types import TensorType, Type, normalize_axis

__all__ = ["Relu", "Softplus", "Softmax", "LogSoftmax"]


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
