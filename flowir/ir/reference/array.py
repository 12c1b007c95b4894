"""Reference kernels: array ops.

Each kernel first re-runs its op's type rule on the concrete operand shapes, so a run-time
shape that the static type allowed but the op cannot take (a fed ``None`` dim) fails with the
same ``ShapeError`` the op would raise at creation, never with a numpy message. Strings are
object arrays; their "zero" (padding, ``zeros``) is ``b""``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from flowir.ir import ops
from flowir.ir.core import Operation
from flowir.ir.dtypes import DType, dtype_of
from flowir.ir.errors import FlowirError
from flowir.ir.ops.array import SliceDim
from flowir.ir.reference._registry import impl_rule
from flowir.ir.types import TensorType

__all__: list[str] = []


def _type_of(a: np.ndarray) -> TensorType:
    return TensorType(dtype_of(a), a.shape)


def _recheck(op: Operation, *groups: np.ndarray | Sequence[np.ndarray]) -> Any:
    """``op``'s type rule applied to the concrete shapes of its operands (a sequence per
    variadic operand): the static result type(s), or the op's own ``ShapeError``."""
    types = [tuple(_type_of(a) for a in g) if isinstance(g, (list, tuple)) else _type_of(g) for g in groups]
    return op.infer_type(*types)


def _fill_value(dtype: DType, one: bool) -> Any:
    if dtype is DType.string:
        return b""
    return dtype.numpy.type(1 if one else 0)


def _filled(shape: Sequence[int], dtype: DType, one: bool) -> np.ndarray:
    return np.full(tuple(shape), _fill_value(dtype, one), dtype=dtype.numpy)


@impl_rule(ops.Identity)
def _identity(op: ops.Identity, x: np.ndarray) -> tuple[np.ndarray]:
    return (x,)


@impl_rule(ops.Reshape)
def _reshape(op: ops.Reshape, x: np.ndarray) -> tuple[np.ndarray]:
    return (x.reshape(_recheck(op, x).shape),)


@impl_rule(ops.Transpose)
def _transpose(op: ops.Transpose, x: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, x)
    return (np.transpose(x, op.perm),)


@impl_rule(ops.ExpandDims)
def _expand_dims(op: ops.ExpandDims, x: np.ndarray) -> tuple[np.ndarray]:
    return (x.reshape(_recheck(op, x).shape),)


@impl_rule(ops.Squeeze)
def _squeeze(op: ops.Squeeze, x: np.ndarray) -> tuple[np.ndarray]:
    return (x.reshape(_recheck(op, x).shape),)


@impl_rule(ops.Concat)
def _concat(op: ops.Concat, *values: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, values)
    return (np.concatenate(values, axis=op.axis),)


@impl_rule(ops.Stack)
def _stack(op: ops.Stack, *values: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, values)
    return (np.stack(values, axis=op.axis),)


@impl_rule(ops.Split)
def _split(op: ops.Split, x: np.ndarray) -> tuple[np.ndarray, ...]:
    pieces = _recheck(op, x)
    axis = op.axis % x.ndim
    bounds = np.cumsum([t.shape[axis] for t in pieces])[:-1]
    return tuple(np.split(x, bounds, axis=axis))


@impl_rule(ops.Slice)
def _slice(op: ops.Slice, x: np.ndarray) -> tuple[np.ndarray]:
    out = _recheck(op, x)
    return (x[(*(slice(b, b + n) for b, n in zip(op.begin, out.shape)), Ellipsis)],)


def _python_slice(p: SliceDim) -> slice:
    """A Python slice taking exactly ``range(p.begin, p.end, p.stride)``.

    Canonical bounds may be -1 ("before index 0" for a negative stride), which Python would
    read as "the last index"; rebuilding the slice from the taken indices avoids that.
    """
    taken = range(p.begin, p.end, p.stride)  # type: ignore[arg-type]
    if not taken:
        return slice(0, 0)
    stop = taken[-1] + p.stride
    return slice(taken[0], stop if stop >= 0 else None, p.stride)


@impl_rule(ops.StridedSlice)
def _strided_slice(op: ops.StridedSlice, x: np.ndarray) -> tuple[np.ndarray]:
    index: list[Any] = []
    for p in op.plan(x.shape):
        if p is None:
            index.append(None)
        elif p.shrink:
            index.append(p.begin)
        else:
            index.append(_python_slice(p))
    # A trailing Ellipsis keeps a full-index result a 0-d array instead of a bare element.
    return (x[(*index, Ellipsis)],)


@impl_rule(ops.Gather)
def _gather(op: ops.Gather, params: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, params, indices)
    axis = op.axis % params.ndim
    dim = params.shape[axis]
    bad = (indices < 0) | (indices >= dim)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise FlowirError(f"indices{list(where)} = {indices[where]} is not in [0, {dim})")
    # np.take gives a bare element for a 0-d index into a vector; keep it an array.
    return (np.asarray(np.take(params, indices, axis=axis), dtype=params.dtype),)


@impl_rule(ops.Tile)
def _tile(op: ops.Tile, x: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, x)
    return (np.tile(x, op.multiples),)


@impl_rule(ops.BroadcastTo)
def _broadcast_to(op: ops.BroadcastTo, x: np.ndarray) -> tuple[np.ndarray]:
    # A copy, not numpy's read-only view: results are owned arrays.
    return (np.array(np.broadcast_to(x, _recheck(op, x).shape)),)


def check_indices_in(indices: np.ndarray, dim: int) -> None:
    """``FlowirError`` naming the first index outside ``[0, dim)``."""
    bad = (indices < 0) | (indices >= dim)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise FlowirError(f"indices{list(where)} = {indices[where]} is not in [0, {dim})")


@impl_rule(ops.TakeAlongAxis)
def _take_along_axis(op: ops.TakeAlongAxis, x: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, x, indices)
    axis = op.axis % x.ndim
    check_indices_in(indices, x.shape[axis])
    return (np.take_along_axis(x, indices.astype(np.intp), axis=axis),)


@impl_rule(ops.Trilu)
def _trilu(op: ops.Trilu, x: np.ndarray) -> tuple[np.ndarray]:
    return ((np.triu if op.upper else np.tril)(x, op.k),)


@impl_rule(ops.Pad)
def _pad(op: ops.Pad, x: np.ndarray) -> tuple[np.ndarray]:
    out_type = _recheck(op, x)
    pairs = op.pairs()
    if op.mode != "constant":
        return (np.pad(x, pairs, mode=op.mode) if x.ndim else x,)
    dt = dtype_of(x)
    fill = b"" if dt is DType.string else np.asarray(op.constant_value).astype(x.dtype)
    out = np.full(out_type.shape, fill, dtype=x.dtype)
    out[tuple(slice(b, b + d) for (b, _), d in zip(pairs, x.shape))] = x
    return (out,)


@impl_rule(ops.Fill)
def _fill(op: ops.Fill, value: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, value)
    out = np.empty(op.shape, dtype=value.dtype)
    out[...] = value
    return (out,)


@impl_rule(ops.Zeros)
def _zeros(op: ops.Zeros) -> tuple[np.ndarray]:
    return (_filled(op.shape, op.dtype, one=False),)


@impl_rule(ops.Ones)
def _ones(op: ops.Ones) -> tuple[np.ndarray]:
    return (_filled(op.shape, op.dtype, one=True),)


@impl_rule(ops.ZerosLike)
def _zeros_like(op: ops.ZerosLike, x: np.ndarray) -> tuple[np.ndarray]:
    return (_filled(x.shape, dtype_of(x), one=False),)


@impl_rule(ops.OnesLike)
def _ones_like(op: ops.OnesLike, x: np.ndarray) -> tuple[np.ndarray]:
    return (_filled(x.shape, dtype_of(x), one=True),)


@impl_rule(ops.Range)
def _range(op: ops.Range) -> tuple[np.ndarray]:
    n = op.length()
    dt = op.dtype.numpy
    if op.dtype.is_integer:
        return (np.arange(int(op.start), int(op.limit), int(op.delta), dtype=dt),)
    if n == 0:
        return (np.empty((0,), dt),)
    # TF's kernel accumulates ``v += delta`` in the dtype; a sequential cumsum rounds the same way.
    steps = np.full((n,), op.delta, dtype=dt)
    steps[0] = dt.type(op.start)
    return (np.cumsum(steps, dtype=dt),)


@impl_rule(ops.OneHot)
def _one_hot(op: ops.OneHot, indices: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, indices)
    dt = op.dtype.numpy
    on = np.asarray(op.on_value).astype(dt)
    off = np.asarray(op.off_value).astype(dt)
    hot = indices.astype(np.int64)[..., None] == np.arange(op.depth)
    out = np.where(hot, on, off)
    axis = indices.ndim if op.axis == -1 else op.axis
    return (np.moveaxis(out, -1, axis),)


@impl_rule(ops.Shape)
def _shape(op: ops.Shape, x: np.ndarray) -> tuple[np.ndarray]:
    return (np.asarray(x.shape, dtype=op.out_type.numpy).reshape(x.ndim),)
