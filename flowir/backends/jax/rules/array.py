"""Lowerings of the array dialect, matching the reference (``flowir/ir/reference/array.py``).

Shapes are static at trace time: the driver has already re-run each op's type rule on the
concrete operand shapes (``ctx.result_types``), so these rules only rearrange data. A gather
index out of range fails the run (``ctx.check``), as the reference raises and TF does on CPU;
XLA alone would clamp it.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from flowir.backends.jax.lowering import LoweringContext, always, lowering_rule
from flowir.ir import ops
from flowir.ir.ops.array import SliceDim
from flowir.ir.reference import IMPL_RULES
from flowir.ir.types import TensorType

__all__: list[str] = []


def _out_shape(ctx: LoweringContext, i: int = 0) -> tuple[int, ...]:
    ty = ctx.result_types[i]
    assert isinstance(ty, TensorType) and ty.is_static
    return ty.shape  # type: ignore[return-value]


@lowering_rule(ops.Identity)
def _identity(ctx: LoweringContext, op: ops.Identity, x: Any) -> tuple[Any]:
    return (x,)


@lowering_rule(ops.Reshape, ops.ExpandDims, ops.Squeeze)
def _reshape(ctx: LoweringContext, op: Any, x: Any) -> tuple[Any]:
    return (jnp.reshape(x, _out_shape(ctx)),)


@lowering_rule(ops.Transpose)
def _transpose(ctx: LoweringContext, op: ops.Transpose, x: Any) -> tuple[Any]:
    return (jnp.transpose(x, op.perm),)


@lowering_rule(ops.Concat)
def _concat(ctx: LoweringContext, op: ops.Concat, *values: Any) -> tuple[Any]:
    return (jnp.concatenate(values, axis=op.axis),)


@lowering_rule(ops.Stack)
def _stack(ctx: LoweringContext, op: ops.Stack, *values: Any) -> tuple[Any]:
    return (jnp.stack(values, axis=op.axis),)


@lowering_rule(ops.Split)
def _split(ctx: LoweringContext, op: ops.Split, x: Any) -> tuple[Any, ...]:
    axis = op.axis % x.ndim
    pieces = []
    start = 0
    for i in range(len(ctx.result_types)):
        size = _out_shape(ctx, i)[axis]
        pieces.append(lax.slice_in_dim(x, start, start + size, axis=axis))
        start += size
    return tuple(pieces)


@lowering_rule(ops.Slice)
def _slice(ctx: LoweringContext, op: ops.Slice, x: Any) -> tuple[Any]:
    sizes = _out_shape(ctx)
    return (lax.slice(x, tuple(op.begin), tuple(b + n for b, n in zip(op.begin, sizes))),)


def python_slice(p: SliceDim) -> slice:
    """A Python slice taking exactly ``range(p.begin, p.end, p.stride)`` (canonical bounds may
    be -1, "before index 0" for a negative stride, which a Python slice would misread)."""
    taken = range(p.begin, p.end, p.stride)  # type: ignore[arg-type]
    if not taken:
        return slice(0, 0)
    stop = taken[-1] + p.stride
    return slice(taken[0], stop if stop >= 0 else None, p.stride)


@lowering_rule(ops.StridedSlice)
def _strided_slice(ctx: LoweringContext, op: ops.StridedSlice, x: Any) -> tuple[Any]:
    index: list[Any] = []
    for p in op.plan(x.shape):
        if p is None:
            index.append(None)
        elif p.shrink:
            index.append(p.begin)
        else:
            index.append(python_slice(p))
    return (x[(*index, Ellipsis)],)


def _describe_bad_index(dim: int, shape: tuple[int, ...]):
    def describe(flat: np.ndarray, value: np.ndarray) -> str:
        where = [int(i) for i in np.unravel_index(int(flat), shape)]
        return f"indices{where} = {value} is not in [0, {dim})"

    return describe


def check_indices(ctx: LoweringContext, op: Any, indices: Any, dim: int) -> None:
    """Fail the run unless every index is in ``[0, dim)``, naming the first that is not."""
    bad = ((indices < 0) | (indices >= dim)).reshape(-1)
    if not indices.size:
        ctx.check(op, jnp.bool_(True), _describe_bad_index(dim, (1,)), jnp.int32(0), jnp.int32(0))
        return
    first = jnp.argmax(bad)
    ctx.check(op, ~bad[first], _describe_bad_index(dim, indices.shape), first, indices.reshape(-1)[first])


@lowering_rule(ops.Gather, may_fail=always)
def _gather(ctx: LoweringContext, op: ops.Gather, params: Any, indices: Any) -> tuple[Any]:
    axis = op.axis % params.ndim
    check_indices(ctx, op, indices, params.shape[axis])
    return (jnp.take(params, indices, axis=axis, mode="clip"),)


@lowering_rule(ops.TakeAlongAxis, may_fail=always)
def _take_along_axis(ctx: LoweringContext, op: ops.TakeAlongAxis, x: Any, indices: Any) -> tuple[Any]:
    axis = op.axis % x.ndim
    check_indices(ctx, op, indices, x.shape[axis])
    return (jnp.take_along_axis(x, indices, axis=axis, mode="clip"),)


@lowering_rule(ops.Trilu)
def _trilu(ctx: LoweringContext, op: ops.Trilu, x: Any) -> tuple[Any]:
    return ((jnp.triu if op.upper else jnp.tril)(x, op.k),)


@lowering_rule(ops.BroadcastTo)
def _broadcast_to(ctx: LoweringContext, op: ops.BroadcastTo, x: Any) -> tuple[Any]:
    return (jnp.broadcast_to(x, np.broadcast_shapes(x.shape, tuple(op.shape))),)


@lowering_rule(ops.Tile)
def _tile(ctx: LoweringContext, op: ops.Tile, x: Any) -> tuple[Any]:
    return (jnp.tile(x, op.multiples),)


@lowering_rule(ops.Pad)
def _pad(ctx: LoweringContext, op: ops.Pad, x: Any) -> tuple[Any]:
    pairs = op.pairs()
    if not x.ndim:
        return (x,)
    if op.mode != "constant":
        return (jnp.pad(x, pairs, mode=op.mode),)
    # The fill value converts as the reference converts it (numpy's cast of a Python float).
    fill = np.asarray(op.constant_value).astype(x.dtype)
    return (lax.pad(x, jnp.asarray(fill, x.dtype), [(b, a, 0) for b, a in pairs]),)


@lowering_rule(ops.Fill)
def _fill(ctx: LoweringContext, op: ops.Fill, value: Any) -> tuple[Any]:
    return (jnp.broadcast_to(value, tuple(op.shape)),)


def _constant_of(shape: tuple[int, ...], dtype: np.dtype, one: bool) -> Any:
    return jnp.full(shape, 1 if one else 0, dtype=dtype)


@lowering_rule(ops.Zeros)
def _zeros(ctx: LoweringContext, op: ops.Zeros) -> tuple[Any]:
    return (_constant_of(tuple(op.shape), op.dtype.numpy, one=False),)


@lowering_rule(ops.Ones)
def _ones(ctx: LoweringContext, op: ops.Ones) -> tuple[Any]:
    return (_constant_of(tuple(op.shape), op.dtype.numpy, one=True),)


@lowering_rule(ops.ZerosLike)
def _zeros_like(ctx: LoweringContext, op: ops.ZerosLike, x: Any) -> tuple[Any]:
    return (_constant_of(x.shape, x.dtype, one=False),)


@lowering_rule(ops.OnesLike)
def _ones_like(ctx: LoweringContext, op: ops.OnesLike, x: Any) -> tuple[Any]:
    return (_constant_of(x.shape, x.dtype, one=True),)


@lowering_rule(ops.Range)
def _range(ctx: LoweringContext, op: ops.Range) -> tuple[Any]:
    dt = op.dtype.numpy
    if op.dtype.is_integer:
        return (jnp.arange(int(op.start), int(op.limit), int(op.delta), dtype=dt),)
    # A float range is a constant of the attributes, accumulated sequentially in its dtype as
    # TF's kernel does; XLA's parallel cumsum would round differently, so the reference
    # kernel computes it once, at trace time.
    return (jnp.asarray(IMPL_RULES[ops.Range](op)[0]),)


@lowering_rule(ops.OneHot)
def _one_hot(ctx: LoweringContext, op: ops.OneHot, indices: Any) -> tuple[Any]:
    dt = op.dtype.numpy
    on = jnp.asarray(np.asarray(op.on_value).astype(dt))
    off = jnp.asarray(np.asarray(op.off_value).astype(dt))
    hot = indices.astype(np.int64)[..., None] == jnp.arange(op.depth, dtype=np.int64)
    out = jnp.where(hot, on, off)
    axis = indices.ndim if op.axis == -1 else op.axis
    return (jnp.moveaxis(out, -1, axis),)


@lowering_rule(ops.Shape)
def _shape(ctx: LoweringContext, op: ops.Shape, x: Any) -> tuple[Any]:
    return (jnp.asarray(np.asarray(x.shape, dtype=op.out_type.numpy).reshape(x.ndim)),)
