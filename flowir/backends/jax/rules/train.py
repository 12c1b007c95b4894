"""Lowerings of the train dialect (fused optimizer updates), matching the reference
(``flowir/ir/reference/train.py``).

XLA fuses the update into one loop, which is the point of the op. Each operation is rounded
to the operands' dtype in the reference's order: float16 and bfloat16 compute in float32 and
round back after every step, as the reference (and the math lowerings) do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from flowir.backends.jax.lowering import LoweringContext, lowering_rule
from flowir.backends.jax.rules.math import narrow, widen
from flowir.ir import ops

__all__: list[str] = []


def _rounded(dtype: Any, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` computed on widened operands, its result rounded to ``dtype``."""
    return lambda *xs: narrow(fn(*(widen(x) for x in xs)), dtype)


@lowering_rule(ops.AdamUpdate)
def _adam_update(
    ctx: LoweringContext,
    op: ops.AdamUpdate,
    var: Any,
    m: Any,
    v: Any,
    beta1_power: Any,
    beta2_power: Any,
    lr: Any,
    beta1: Any,
    beta2: Any,
    epsilon: Any,
    grad: Any,
) -> tuple[Any, Any, Any]:
    dtype = var.dtype
    add, sub, mul, div, sqrt = (
        _rounded(dtype, f) for f in (jnp.add, jnp.subtract, jnp.multiply, jnp.true_divide, jnp.sqrt)
    )
    one = jnp.ones((), dtype)
    alpha = div(mul(lr, sqrt(sub(one, beta2_power))), sub(one, beta1_power))
    new_m = add(m, mul(sub(grad, m), sub(one, beta1)))
    new_v = add(v, mul(sub(mul(grad, grad), v), sub(one, beta2)))
    if op.use_nesterov:
        step = mul(add(mul(grad, sub(one, beta1)), mul(beta1, new_m)), alpha)
    else:
        step = mul(new_m, alpha)
    new_var = sub(var, div(step, add(sqrt(new_v), epsilon)))
    return new_var, new_m, new_v
