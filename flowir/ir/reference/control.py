"""Reference kernels: control ops, which yield the data-free ``CONTROL_TOKEN``."""

from __future__ import annotations

from flowir.ir import ops
from flowir.ir.reference._registry import impl_rule
from flowir.ir.reference.interpreter import CONTROL_TOKEN, ControlToken

__all__: list[str] = []


@impl_rule(ops.Group, ops.NoOp)
def _control(op: ops.Group | ops.NoOp) -> tuple[ControlToken]:
    return (CONTROL_TOKEN,)
