"""Lowerings of the grad dialect (the adjoints autodiff builds) and ``array.stop_gradient``,
matching the reference (``flowir/ir/reference/grad.py``).

Every ``like`` operand only contributes its (static, at trace time) shape. Sums are taken in
float32 for the half types, as the reference does. A ``gather_grad`` index out of range fails
the run, as ``gather`` does.
"""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from flowir.backends.jax.lowering import LoweringContext, always, lowering_rule
from flowir.backends.jax.rules.array import check_indices, python_slice
from flowir.backends.jax.rules.math import narrow, widen
from flowir.ir import ops

__all__: list[str] = []


@lowering_rule(ops.StopGradient)
def _stop_gradient(ctx: LoweringContext, op: ops.StopGradient, x: Any) -> tuple[Any]:
    return (x,)


@lowering_rule(ops.SumTo)
def _sum_to(ctx: LoweringContext, op: ops.SumTo, x: Any, like: Any) -> tuple[Any]:
    lead = x.ndim - like.ndim
    axes = (*range(lead), *(lead + i for i, d in enumerate(like.shape) if d == 1 and x.shape[lead + i] != 1))
    if not axes:
        return (jnp.reshape(x, like.shape),)
    return (jnp.reshape(narrow(jnp.sum(widen(x), axis=axes), x.dtype), like.shape),)


@lowering_rule(ops.BroadcastLike)
def _broadcast_like(ctx: LoweringContext, op: ops.BroadcastLike, x: Any, like: Any) -> tuple[Any]:
    return (jnp.broadcast_to(x, like.shape),)


@lowering_rule(ops.Unreduce)
def _unreduce(ctx: LoweringContext, op: ops.Unreduce, g: Any, like: Any) -> tuple[Any]:
    axes = op.reduced_axes(like.ndim)
    kept = tuple(1 if i in axes else d for i, d in enumerate(like.shape))
    out = jnp.broadcast_to(jnp.reshape(g, kept), like.shape)
    if not op.mean:
        return (out,)
    count = math.prod(like.shape[a] for a in axes)
    w = widen(out)
    return (narrow(w / jnp.asarray(count, w.dtype), g.dtype),)


@lowering_rule(ops.ReshapeLike)
def _reshape_like(ctx: LoweringContext, op: ops.ReshapeLike, x: Any, like: Any) -> tuple[Any]:
    return (jnp.reshape(x, like.shape),)


@lowering_rule(ops.ReluGrad)
def _relu_grad(ctx: LoweringContext, op: ops.ReluGrad, x: Any, y: Any) -> tuple[Any]:
    return (jnp.where(y > 0, x, jnp.zeros((), x.dtype)),)


@lowering_rule(ops.StridedSliceGrad)
def _strided_slice_grad(ctx: LoweringContext, op: ops.StridedSliceGrad, g: Any, like: Any) -> tuple[Any]:
    index: list[Any] = []
    for p in op.plan(like.shape):
        if p is None:
            index.append(None)
        elif p.shrink:
            index.append(p.begin)
        else:
            index.append(python_slice(p))
    return (jnp.zeros(like.shape, g.dtype).at[(*index, Ellipsis)].set(g),)


@lowering_rule(ops.GatherGrad, may_fail=always)
def _gather_grad(ctx: LoweringContext, op: ops.GatherGrad, g: Any, indices: Any, like: Any) -> tuple[Any]:
    axis = op.axis % like.ndim
    dim = like.shape[axis]
    check_indices(ctx, op, indices, dim)
    wide = widen(g)
    # Scatter-add along the leading dim: the gathered dims of g go first, as indices index them.
    k = indices.ndim
    src = jnp.moveaxis(wide, tuple(range(axis, axis + k)), tuple(range(k)))
    acc = jnp.zeros((dim, *like.shape[:axis], *like.shape[axis + 1 :]), wide.dtype)
    acc = acc.at[jnp.clip(indices, 0, max(dim - 1, 0))].add(src, mode="drop")
    return (narrow(jnp.moveaxis(acc, 0, axis), g.dtype),)


@lowering_rule(ops.Untile)
def _untile(ctx: LoweringContext, op: ops.Untile, g: Any, like: Any) -> tuple[Any]:
    m = op.multiples
    if 0 in m:
        return (jnp.zeros(like.shape, g.dtype),)
    split = [n for k, d in zip(m, like.shape) for n in (k, d)]
    z = jnp.sum(jnp.reshape(widen(g), split), axis=tuple(range(0, 2 * len(m), 2)))
    return (narrow(z, g.dtype),)


def _along(axis: int, ndim: int, s: slice) -> tuple[slice, ...]:
    return (slice(None),) * axis + (s,) + (slice(None),) * (ndim - axis - 1)


@lowering_rule(ops.PadGrad)
def _pad_grad(ctx: LoweringContext, op: ops.PadGrad, g: Any) -> tuple[Any]:
    out_shape = ctx.result_types[0].shape  # type: ignore[attr-defined]
    acc = widen(g)
    for axis, (before, after) in enumerate(op.pairs()):
        n = out_shape[axis]
        core = lax.slice_in_dim(acc, before, before + n, axis=axis)
        if op.mode != "constant" and (before or after):
            left = jnp.flip(lax.slice_in_dim(acc, 0, before, axis=axis), axis)
            right = jnp.flip(lax.slice_in_dim(acc, before + n, before + n + after, axis=axis), axis)
            # reflect mirrors around the edge element, symmetric around the edge itself.
            edge = 1 if op.mode == "reflect" else 0
            core = core.at[_along(axis, acc.ndim, slice(edge, edge + before))].add(left)
            core = core.at[_along(axis, acc.ndim, slice(n - edge - after, n - edge))].add(right)
        acc = core
    return (narrow(acc, g.dtype),)


@lowering_rule(ops.SplitLike)
def _split_like(ctx: LoweringContext, op: ops.SplitLike, x: Any, *likes: Any) -> tuple[Any, ...]:
    axis = op.axis % x.ndim
    bounds = np.cumsum([0] + [lk.shape[axis] for lk in likes])
    return tuple(lax.slice_in_dim(x, int(a), int(b), axis=axis) for a, b in zip(bounds[:-1], bounds[1:]))


@lowering_rule(ops.TakeAlongAxisGrad, may_fail=always)
def _take_along_axis_grad(ctx: LoweringContext, op: ops.TakeAlongAxisGrad, g: Any, indices: Any, like: Any) -> tuple[Any]:
    axis = op.axis % like.ndim
    check_indices(ctx, op, indices, like.shape[axis])
    w = widen(g)
    where = [lax.broadcasted_iota(jnp.int32, g.shape, d) for d in range(g.ndim)]
    where[axis] = jnp.clip(indices, 0, max(like.shape[axis] - 1, 0)).astype(jnp.int32)
    acc = jnp.zeros(like.shape, w.dtype).at[tuple(where)].add(w)
    return (narrow(acc, g.dtype),)
