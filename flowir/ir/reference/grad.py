"""Reference kernels: the grad dialect and ``array.stop_gradient``.

As the array kernels do, each first re-runs its op's type rule on the concrete shapes, so a
run-time shape the static types allowed but the op cannot take fails with the op's own
``ShapeError``. Sums are taken in float32 for the half types, as the math kernels do.
Broadcasting kernels return read-only views where numpy gives one (no copy of a scalar
gradient spread over a batch).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from flowir.ir import ops
from flowir.ir.errors import FlowirError, ShapeError
from flowir.ir.reference._registry import impl_rule
from flowir.ir.reference.array import _python_slice, _recheck, check_indices_in
from flowir.ir.reference.math import narrow, widen
from flowir.ir.types import format_shape

__all__: list[str] = []


@impl_rule(ops.StopGradient)
def _stop_gradient(op: ops.StopGradient, x: np.ndarray) -> tuple[np.ndarray]:
    return (x,)


@impl_rule(ops.SumTo)
def _sum_to(op: ops.SumTo, x: np.ndarray, like: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, x, like)
    lead = x.ndim - like.ndim
    axes = (*range(lead), *(lead + i for i, d in enumerate(like.shape) if d == 1 and x.shape[lead + i] != 1))
    if not axes:
        return (x.reshape(like.shape),)
    with np.errstate(all="ignore"):
        z = np.sum(widen(x), axis=axes)
    return (narrow(z, x.dtype).reshape(like.shape),)


@impl_rule(ops.BroadcastLike)
def _broadcast_like(op: ops.BroadcastLike, x: np.ndarray, like: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, x, like)
    return (np.broadcast_to(x, like.shape),)


@impl_rule(ops.Unreduce)
def _unreduce(op: ops.Unreduce, g: np.ndarray, like: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, g, like)
    axes = op.reduced_axes(like.ndim)
    kept = tuple(1 if i in axes else d for i, d in enumerate(like.shape))
    out = np.broadcast_to(g.reshape(kept), like.shape)
    if not op.mean:
        return (out,)
    count = math.prod(like.shape[a] for a in axes)
    with np.errstate(all="ignore"):
        return (narrow(widen(out) / count, g.dtype),)


@impl_rule(ops.ReshapeLike)
def _reshape_like(op: ops.ReshapeLike, x: np.ndarray, like: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, x, like)
    return (x.reshape(like.shape),)


@impl_rule(ops.ReluGrad)
def _relu_grad(op: ops.ReluGrad, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray]:
    # np.where is about ten times slower than a multiply by the mask on the unpredictable
    # masks of a network's activations. The product is np.where's result but for the sign
    # of zero (-x * 0 is -0.0), which adding +0.0 fixes, and for a non-finite x where the
    # mask is off (inf * 0 is nan), which falls back to np.where.
    mask = y > 0
    if x.dtype.kind in "iu":
        return (narrow(np.multiply(x, mask), x.dtype),)
    zero = x.dtype.type(0)
    with np.errstate(invalid="ignore"):
        z = np.multiply(x, mask)
    z += zero
    if np.isnan(z).any():
        z = np.where(mask, x, zero)
    return (narrow(z, x.dtype),)


@impl_rule(ops.StridedSliceGrad)
def _strided_slice_grad(op: ops.StridedSliceGrad, g: np.ndarray, like: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, g, like)
    index: list[Any] = []
    for p in op.plan(like.shape):
        if p is None:
            index.append(None)
        elif p.shrink:
            index.append(p.begin)
        else:
            index.append(_python_slice(p))
    out = np.zeros(like.shape, dtype=g.dtype)
    out[(*index, Ellipsis)] = g
    return (out,)


@impl_rule(ops.GatherGrad)
def _gather_grad(op: ops.GatherGrad, g: np.ndarray, indices: np.ndarray, like: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, g, indices, like)
    axis = op.axis % like.ndim
    dim = like.shape[axis]
    bad = (indices < 0) | (indices >= dim)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise FlowirError(f"indices{list(where)} = {indices[where]} is not in [0, {dim})")
    wide = widen(g)
    acc = np.zeros(like.shape, dtype=wide.dtype)
    # Scatter along the leading dim: the gathered dims of g go first, as indices index them.
    k = indices.ndim
    src = np.moveaxis(wide, tuple(range(axis, axis + k)), tuple(range(k)))
    np.add.at(np.moveaxis(acc, axis, 0), indices, src)
    return (narrow(acc, g.dtype),)


@impl_rule(ops.Untile)
def _untile(op: ops.Untile, g: np.ndarray, like: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, g, like)
    m = op.multiples
    if 0 in m:
        return (np.zeros(like.shape, dtype=g.dtype),)
    split = [n for k, d in zip(m, like.shape) for n in (k, d)]
    with np.errstate(all="ignore"):
        z = np.sum(widen(g).reshape(split), axis=tuple(range(0, 2 * len(m), 2)))
    return (narrow(z, g.dtype),)


def _along(axis: int, ndim: int, s: slice) -> tuple[slice, ...]:
    return (slice(None),) * axis + (s,) + (slice(None),) * (ndim - axis - 1)


@impl_rule(ops.PadGrad)
def _pad_grad(op: ops.PadGrad, g: np.ndarray) -> tuple[np.ndarray]:
    out_type = _recheck(op, g)
    acc = widen(g)
    for axis, (before, after) in enumerate(op.pairs()):
        n = out_type.shape[axis]
        core = acc[_along(axis, acc.ndim, slice(before, before + n))]
        if op.mode != "constant" and (before or after):
            core = core.copy()
            left = np.flip(acc[_along(axis, acc.ndim, slice(0, before))], axis)
            right = np.flip(acc[_along(axis, acc.ndim, slice(before + n, before + n + after))], axis)
            # reflect mirrors around the edge element, symmetric around the edge itself.
            edge = 1 if op.mode == "reflect" else 0
            core[_along(axis, acc.ndim, slice(edge, edge + before))] += left
            core[_along(axis, acc.ndim, slice(n - edge - after, n - edge))] += right
        acc = core
    return (narrow(acc, g.dtype),)


@impl_rule(ops.SplitLike)
def _split_like(op: ops.SplitLike, x: np.ndarray, *likes: np.ndarray) -> tuple[np.ndarray, ...]:
    _recheck(op, x, likes)
    axis = op.axis % x.ndim
    sizes = [lk.shape[axis] for lk in likes]
    if sum(sizes) != x.shape[axis]:
        raise ShapeError(
            f"the likes' sizes {sizes} along axis {op.axis} do not add up to x's {x.shape[axis]} (shape {format_shape(x.shape)})"
        )
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))


@impl_rule(ops.TakeAlongAxisGrad)
def _take_along_axis_grad(op: ops.TakeAlongAxisGrad, g: np.ndarray, indices: np.ndarray, like: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, g, indices, like)
    axis = op.axis % like.ndim
    check_indices_in(indices, like.shape[axis])
    w = widen(g)
    acc = np.zeros(like.shape, w.dtype)
    # Repeated indices add up: np.add.at, with the other dims' positions spelled out.
    where = [np.arange(n).reshape([-1 if i == d else 1 for i in range(g.ndim)]) for d, n in enumerate(g.shape)]
    where[axis] = indices.astype(np.intp)
    with np.errstate(all="ignore"):
        np.add.at(acc, tuple(where), w)
    return (narrow(acc, g.dtype),)
