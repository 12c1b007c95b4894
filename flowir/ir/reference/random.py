"""Reference kernels: random ops.

Numbers are drawn in float64 from ``ctx.rng(op, seed, seed2)`` and rounded to the op's dtype;
the streams are numpy's, not TF's, so only the distributions match TensorFlow.
"""

from __future__ import annotations

import numpy as np

from flowir.ir import ops
from flowir.ir.reference._registry import impl_rule
from flowir.ir.reference.interpreter import RefContext

__all__: list[str] = []

#: How far (in standard deviations) a truncated normal may stray, as TF.
TRUNCATION = 2.0


def _real_uniform(rng: np.random.Generator, shape: tuple[int, ...], dt: np.dtype, lo: float, hi: float) -> np.ndarray:
    out = (lo + (hi - lo) * rng.random(shape)).astype(dt)
    if hi > lo:
        # Rounding to a narrow float can land on maxval; keep the interval half-open.
        below = np.nextafter(np.asarray(hi, dt), np.asarray(-np.inf, dt))
        out = np.minimum(out, below)
    return out


@impl_rule(ops.RandomUniform)
def _uniform(op: ops.RandomUniform, *, ctx: RefContext) -> tuple[np.ndarray]:
    rng = ctx.rng(op, op.seed, op.seed2)
    dt = op.dtype.numpy
    lo, hi = op.minval, op.maxval
    if op.dtype.is_integer:
        return (rng.integers(int(lo), int(hi), size=op.shape, dtype=dt),)
    return (_real_uniform(rng, op.shape, dt, lo, hi),)


@impl_rule(ops.RandomUniformLike)
def _uniform_like(op: ops.RandomUniformLike, x: np.ndarray, *, ctx: RefContext) -> tuple[np.ndarray]:
    rng = ctx.rng(op, op.seed, op.seed2)
    return (_real_uniform(rng, x.shape, x.dtype, op.minval, op.maxval),)


@impl_rule(ops.RandomNormal)
def _normal(op: ops.RandomNormal, *, ctx: RefContext) -> tuple[np.ndarray]:
    z = ctx.rng(op, op.seed, op.seed2).standard_normal(op.shape)
    return ((op.mean + op.stddev * z).astype(op.dtype.numpy),)


@impl_rule(ops.TruncatedNormal)
def _truncated_normal(op: ops.TruncatedNormal, *, ctx: RefContext) -> tuple[np.ndarray]:
    rng = ctx.rng(op, op.seed, op.seed2)
    z = rng.standard_normal(op.shape)
    outside = np.abs(z) > TRUNCATION
    while outside.any():
        z[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(z) > TRUNCATION
    return ((op.mean + op.stddev * z).astype(op.dtype.numpy),)
