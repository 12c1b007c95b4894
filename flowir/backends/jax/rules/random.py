"""Lowerings of the random dialect, drawing with ``jax.random`` from per-run keys.

``ctx.key(op)`` derives each draw's key from ``RefContext.draw_key`` (graph seed, op seed and
run count, or the session's seed and the op's stream), so a run repeats exactly for equal
seeds and run counts, as in TF. The streams are jax's, not numpy's: the numpy reference and
this backend agree in distribution only. Half types are drawn in float32 and rounded.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from flowir.backends.jax.lowering import LoweringContext, lowering_rule
from flowir.backends.jax.rules.math import narrow
from flowir.ir import ops
from flowir.ir.reference.random import TRUNCATION

__all__: list[str] = []

_F32 = np.dtype(np.float32)


def _draw_dtype(dt: np.dtype) -> np.dtype:
    return dt if dt.itemsize >= 4 else _F32


def _real_uniform(key: Any, shape: tuple[int, ...], dt: np.dtype, lo: float, hi: float) -> Any:
    out = narrow(jax.random.uniform(key, shape, _draw_dtype(dt), lo, hi), dt)
    if hi > lo:
        # Rounding to a narrow float can land on maxval; keep the interval half-open.
        below = np.nextafter(np.asarray(hi, dt), np.asarray(-np.inf, dt))
        out = jnp.minimum(out, jnp.asarray(below, dt))
    return out


@lowering_rule(ops.RandomUniform)
def _uniform(ctx: LoweringContext, op: ops.RandomUniform) -> tuple[Any]:
    dt = op.dtype.numpy
    shape = tuple(op.shape)
    if op.dtype.is_integer:
        return (jax.random.randint(ctx.key(op), shape, int(op.minval), int(op.maxval), dtype=dt),)
    return (_real_uniform(ctx.key(op), shape, dt, op.minval, op.maxval),)


@lowering_rule(ops.RandomUniformLike)
def _uniform_like(ctx: LoweringContext, op: ops.RandomUniformLike, x: Any) -> tuple[Any]:
    return (_real_uniform(ctx.key(op), x.shape, x.dtype, op.minval, op.maxval),)


@lowering_rule(ops.RandomNormal)
def _normal(ctx: LoweringContext, op: ops.RandomNormal) -> tuple[Any]:
    dt = op.dtype.numpy
    z = jax.random.normal(ctx.key(op), tuple(op.shape), _draw_dtype(dt))
    return (narrow(op.mean + op.stddev * z, dt),)


@lowering_rule(ops.TruncatedNormal)
def _truncated_normal(ctx: LoweringContext, op: ops.TruncatedNormal) -> tuple[Any]:
    dt = op.dtype.numpy
    z = jax.random.truncated_normal(ctx.key(op), -TRUNCATION, TRUNCATION, tuple(op.shape), _draw_dtype(dt))
    return (narrow(op.mean + op.stddev * z, dt),)
