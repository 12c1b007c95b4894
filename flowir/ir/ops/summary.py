"""The summary dialect: ops that serialize tensors into TensorBoard ``Summary`` protos.

Each op yields a scalar string tensor (``tensor<string>``) holding one serialized ``Summary``;
``summary.merge`` combines several. Summary ops are neither pure nor stateful: a frontend
fetches them explicitly. Only their type rules are defined here so far; their kernels are
registered as ``UNSUPPORTED`` in ``flowir/ir/reference/summary.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from flowir.ir.core import Operation, attr, operand, register_op, variadic_operand
from flowir.ir.dtypes import DType
from flowir.ir.errors import OpAttributeError, ShapeError
from flowir.ir.ops._base import FLOATS, NUMERIC, require_dtypes
from flowir.ir.ops._base import tensor as as_tensor
from flowir.ir.types import TensorType, Type, format_shape

__all__ = ["Scalar", "Histogram", "Image", "Audio", "Text", "Merge"]

#: The type of every summary op's result: one serialized ``Summary``.
SUMMARY_TYPE = TensorType(DType.string, ())
#: Image pixel dtypes, as TF's ``ImageSummary``.
IMAGE_DTYPES = frozenset({DType.uint8, DType.float16, DType.float32, DType.float64})
#: Channel counts of an image: grayscale, RGB, RGBA.
IMAGE_CHANNELS = (1, 3, 4)


def _check_max_outputs(n: int) -> None:
    if n < 1:
        raise OpAttributeError(f"max_outputs must be >= 1, got {n}")


class SummaryOp(Operation):
    """A summary of one tensor under ``tag``."""

    traits: frozenset = frozenset()
    tag = attr(str, doc="the name TensorBoard shows")


@register_op
class Scalar(SummaryOp):
    """A scalar summary of a real-valued scalar ``tensor`` (``tf.summary.scalar``)."""

    name = "summary.scalar"
    tensor = operand()

    def infer_type(self, tensor: Type) -> TensorType:
        t = as_tensor(tensor, "tensor")
        require_dtypes(t, NUMERIC, "tensor")
        if t.shape is not None and t.shape != ():
            raise ShapeError(f"tensor must be a scalar, got shape {format_shape(t.shape)}")
        return SUMMARY_TYPE


@register_op
class Histogram(SummaryOp):
    """A histogram of the real values of ``values``, of any shape (``tf.summary.histogram``)."""

    name = "summary.histogram"
    values = operand()

    def infer_type(self, values: Type) -> TensorType:
        require_dtypes(as_tensor(values, "values"), NUMERIC, "values")
        return SUMMARY_TYPE


@register_op
class Image(SummaryOp):
    """Up to ``max_outputs`` images of ``tensor`` (``[N, H, W, C]``, C in 1, 3, 4; uint8 or
    float) (``tf.summary.image``)."""

    name = "summary.image"
    tensor = operand()
    max_outputs = attr(int, default=3)

    def infer_type(self, tensor: Type) -> TensorType:
        t = as_tensor(tensor, "tensor")
        require_dtypes(t, IMAGE_DTYPES, "tensor")
        _check_max_outputs(self.max_outputs)
        if t.shape is not None:
            if len(t.shape) != 4:
                raise ShapeError(
                    f"tensor must have rank 4 [batch, height, width, channels], got {format_shape(t.shape)}"
                )
            c = t.shape[3]
            if c is not None and c not in IMAGE_CHANNELS:
                raise ShapeError(f"images must have 1, 3 or 4 channels, got {c} (shape {format_shape(t.shape)})")
        return SUMMARY_TYPE


@register_op
class Audio(SummaryOp):
    """Up to ``max_outputs`` clips of ``tensor`` (float, ``[N, frames]`` or
    ``[N, frames, channels]``, values in [-1, 1]) at ``sample_rate`` Hz (``tf.summary.audio``)."""

    name = "summary.audio"
    tensor = operand()
    sample_rate = attr(float)
    max_outputs = attr(int, default=3)

    def infer_type(self, tensor: Type) -> TensorType:
        t = as_tensor(tensor, "tensor")
        require_dtypes(t, FLOATS, "tensor")
        _check_max_outputs(self.max_outputs)
        if not self.sample_rate > 0:
            raise OpAttributeError(f"sample_rate must be positive, got {self.sample_rate}")
        if t.shape is not None and len(t.shape) not in (2, 3):
            raise ShapeError(f"tensor must have rank 2 or 3 [batch, frames(, channels)], got {format_shape(t.shape)}")
        return SUMMARY_TYPE


@register_op
class Text(SummaryOp):
    """The strings of ``tensor`` (any shape) as text (``tf.summary.text``)."""

    name = "summary.text"
    tensor = operand()

    def infer_type(self, tensor: Type) -> TensorType:
        require_dtypes(as_tensor(tensor, "tensor"), {DType.string}, "tensor")
        return SUMMARY_TYPE


@register_op
class Merge(Operation):
    """One summary holding the values of all ``inputs`` (one or more scalar string tensors,
    each a serialized summary) (``tf.summary.merge``)."""

    name = "summary.merge"
    traits: frozenset = frozenset()
    inputs = variadic_operand()

    def infer_type(self, inputs: Sequence[Type]) -> TensorType:
        if not inputs:
            raise ShapeError("needs at least one input")
        for i, ty in enumerate(inputs):
            t = as_tensor(ty, f"inputs[{i}]")
            require_dtypes(t, {DType.string}, f"inputs[{i}]")
            if t.shape is not None and t.shape != ():
                raise ShapeError(f"inputs[{i}] must be a scalar string, got shape {format_shape(t.shape)}")
        return SUMMARY_TYPE
