"""The control dialect: ops that only order others (``tf.group``, ``tf.no_op``).

Their dependencies are their control dependencies (``op.control_deps``, given as
``Op.create(control_deps=[...])``); they have no data operands and one result of type
``CONTROL``, which later ops may take as a control dependency. They are not ``PURE``: an op
that exists for its dependencies' side effects must not be folded or merged away. Their
reference kernel yields ``CONTROL_TOKEN`` (``flowir.ir.reference``), a value without data.
"""

from __future__ import annotations

from flowir.ir.core import Operation, register_op
from flowir.ir.types import CONTROL, ControlType

__all__ = ["Group", "NoOp"]


class ControlOp(Operation):
    """An op whose only result is a control token."""

    traits: frozenset = frozenset()

    def infer_type(self) -> ControlType:
        return CONTROL


@register_op
class Group(ControlOp):
    """Done when all its control dependencies are done (``tf.group``)."""

    name = "control.group"


@register_op
class NoOp(ControlOp):
    """Does nothing; with control dependencies it marks a point after them (``tf.no_op``)."""

    name = "control.no_op"
