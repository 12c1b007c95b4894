"""Lowerings of builtin and control ops, and the ops that have no lowering, with why."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from flowir.backends.jax.lowering import UNSUPPORTED, LoweringContext, lowering_rule
from flowir.ir import ops
from flowir.ir.ops import state, summary
from flowir.ir.reference import CONTROL_TOKEN, ControlToken

__all__: list[str] = []


@lowering_rule(ops.Constant)
def _constant(ctx: LoweringContext, op: ops.Constant) -> tuple[Any]:
    captured = ctx.constants.get(op)
    return (jnp.asarray(op.value) if captured is None else captured,)


@lowering_rule(ops.Group, ops.NoOp)
def _control(ctx: LoweringContext, op: ops.Group | ops.NoOp) -> tuple[ControlToken]:
    return (CONTROL_TOKEN,)


UNSUPPORTED[ops.Placeholder] = "placeholders are fed at run time, not computed"
UNSUPPORTED[ops.Return] = "the terminator only names the graph outputs"
UNSUPPORTED.update(
    dict.fromkeys(
        (getattr(state, n) for n in state.__all__),
        "stateful: programs reach backends functionalized (functionalize-state), state passed in and out",
    )
)
UNSUPPORTED.update(
    dict.fromkeys(
        (getattr(summary, n) for n in summary.__all__),
        "summaries yield strings, which live on the host: they run there with their reference kernel",
    )
)
