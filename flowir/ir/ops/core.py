"""Builtin ops: constants, placeholders and the graph terminator."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from flowir.ir.attributes import Dense, Strs
from flowir.ir.core import PURE, Operation, Trait, attr, register_op, variadic_operand
from flowir.ir.dtypes import dtype_of
from flowir.ir.types import TensorType, Type

__all__ = ["Constant", "Placeholder", "Return"]


@register_op
class Constant(Operation):
    """A constant tensor; its type is the value's dtype and shape.

    >>> import numpy as np
    >>> Constant.create(value=np.float32([1, 2]), loc=None).result.type
    tensor<2xf32>
    """

    name = "flowir.constant"
    traits = PURE
    value = attr(Dense)

    def infer_type(self) -> TensorType:
        v: np.ndarray = self.value
        return TensorType(dtype_of(v), v.shape)


@register_op
class Placeholder(Operation):
    """A value fed at run time; its result type (with ``None`` wildcards) is given at creation."""

    name = "flowir.placeholder"
    traits = frozenset({Trait.INPUT})
    explicit_result_types = True

    def infer_type(self) -> Type:
        return self.results[0].type

    def verify_extra(self) -> None:
        from flowir.ir.errors import VerificationError

        if len(self.results) != 1 or type(self.results[0].type) is not TensorType:
            raise VerificationError(f"{self.describe_op()}: a placeholder has one tensor result")


@register_op
class Return(Operation):
    """The graph terminator: its operands are the graph outputs, ``names`` their names."""

    name = "flowir.return"
    traits = frozenset({Trait.TERMINATOR})
    values = variadic_operand()
    names = attr(Strs, default=())

    def infer_type(self, values: Sequence[Type]) -> tuple[Type, ...]:
        return ()
