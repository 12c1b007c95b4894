"""The random dialect: tensors of random numbers (``tf.random_uniform`` and friends).

Random ops carry ``Trait.RANDOM``: they are never folded or deduplicated, and each execution
draws new numbers. ``seed``/``seed2`` are TF's graph-level and op-level seeds after the
frontend resolved them; with both 0 the stream is not reproducible across graphs. The numpy
kernels in ``flowir/ir/reference/random.py`` draw from ``RefContext.rng``, so results repeat
for equal seeds and equal run counts.
"""

from __future__ import annotations

import numpy as np

from flowir.ir.attributes import Ints
from flowir.ir.core import Operation, Trait, attr, operand, register_op
from flowir.ir.dtypes import DType
from flowir.ir.errors import DTypeError, OpAttributeError
from flowir.ir.ops._base import FLOATS, require_dtypes, tensor
from flowir.ir.types import TensorType, Type

__all__ = ["RandomUniform", "RandomNormal", "TruncatedNormal", "RandomUniformLike"]

#: Integer dtypes ``RandomUniform`` can draw, as TF's ``RandomUniformInt``.
UNIFORM_INT_DTYPES = frozenset({DType.int32, DType.int64})


class RandomOp(Operation):
    """A tensor of ``shape`` and ``dtype`` (one of ``DTYPES``) drawn at random."""

    traits = frozenset({Trait.RANDOM})
    DTYPES: frozenset[DType] = FLOATS
    shape = attr(Ints)
    dtype = attr(DType, default=DType.float32)
    seed = attr(int, default=0)
    seed2 = attr(int, default=0)

    def infer_type(self) -> TensorType:
        if any(d < 0 for d in self.shape):
            raise OpAttributeError(f"shape must be non-negative, got {list(self.shape)}")
        if self.dtype not in self.DTYPES:
            names = ", ".join(sorted(d.value for d in self.DTYPES))
            raise DTypeError(f"dtype is {self.dtype.value}; expected one of {names}")
        self.check_parameters()
        return TensorType(self.dtype, self.shape)

    def check_parameters(self) -> None:
        """Checks of the distribution's parameters; raise ``OpAttributeError``."""


@register_op
class RandomUniform(RandomOp):
    """Uniform values in ``[minval, maxval)``.

    Float dtypes: reals in that interval. int32/int64: integers in it, which needs integral
    bounds the dtype holds and ``maxval > minval``.
    """

    name = "random.uniform"
    DTYPES = FLOATS | UNIFORM_INT_DTYPES
    minval = attr(float, default=0.0)
    maxval = attr(float, default=1.0)

    def check_parameters(self) -> None:
        if not self.dtype.is_integer:
            return
        info = np.iinfo(self.dtype.numpy)
        for what, v in (("minval", self.minval), ("maxval", self.maxval)):
            if not v.is_integer() or not info.min <= v <= info.max:
                raise OpAttributeError(f"{what} = {v} is not an integer that {self.dtype.value} holds")
        if self.maxval <= self.minval:
            raise OpAttributeError(f"integer uniform needs maxval > minval, got [{self.minval}, {self.maxval})")


@register_op
class RandomNormal(RandomOp):
    """Normally distributed floats with ``mean`` and ``stddev``."""

    name = "random.normal"
    mean = attr(float, default=0.0)
    stddev = attr(float, default=1.0)


@register_op
class TruncatedNormal(RandomOp):
    """Normal floats with ``mean`` and ``stddev`` whose draws beyond two standard deviations
    from the mean are re-drawn (``tf.truncated_normal``)."""

    name = "random.truncated_normal"
    mean = attr(float, default=0.0)
    stddev = attr(float, default=1.0)


@register_op
class RandomUniformLike(Operation):
    """Uniform floats in ``[minval, maxval)`` of ``x``'s type (float): only ``x``'s run-time
    shape is used, so dims unknown while building are drawn too (ONNX's
    ``RandomUniformLike``; dropout's noise for a batch of any size)."""

    name = "random.uniform_like"
    traits = frozenset({Trait.RANDOM})
    x = operand()
    minval = attr(float, default=0.0)
    maxval = attr(float, default=1.0)
    seed = attr(int, default=0)
    seed2 = attr(int, default=0)

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        require_dtypes(t, FLOATS, "x")
        return t
