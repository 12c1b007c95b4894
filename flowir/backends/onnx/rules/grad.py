"""Export of the grad dialect (the adjoints autodiff builds), so gradients computed in a graph
export too. ``stop_gradient`` and ``relu_grad`` are legalized away first.

The ``like`` operands contribute their run-time shape (``Shape``), so the adjoints work for
dims unknown while exporting; ``strided_slice_grad`` needs a static ``like`` (its scatter
positions are computed while exporting).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from onnx import numpy_helper

from flowir.backends.onnx.exporter import INT64_MAX, INT64_MIN, PRIMARY_OPS, ExportContext, export_rule, unsupported
from flowir.backends.onnx.rules.array import strided_slice
from flowir.ir import ops
from flowir.ir.core import Operation, Value
from flowir.ir.dtypes import DType
from flowir.ir.errors import UnsupportedOpError
from flowir.ir.types import normalize_axis

__all__: list[str] = []


def _shape(v: Value, what: str) -> tuple[int | None, ...]:
    shape = v.type.shape  # type: ignore[attr-defined]
    if shape is None:
        raise UnsupportedOpError(f"{what} {v.describe()} has unknown rank, which this export needs")
    return shape


def _dims(ctx: ExportContext, like: str, shape: Sequence[int | None], pieces: Sequence[int | tuple[int]]) -> str:
    """A shape tensor of ``pieces``: ints as they are, ``(i,)`` for dim ``i`` of ``like``
    (static when ``shape`` knows it)."""
    static = [p if isinstance(p, int) else shape[p[0]] for p in pieces]
    if None not in static:
        return ctx.ints(static, "shape")  # type: ignore[arg-type]
    parts = [ctx.ints([p]) if isinstance(p, int) else ctx.dim(like, p[0]) for p in pieces]
    return ctx.one("Concat", parts, axis=0)


@export_rule(ops.SumTo)
def _sum_to(ctx: ExportContext, op: Operation, x: str, like: str) -> list[str]:
    xs, ls = _shape(op.operands[0], "x"), _shape(op.operands[1], "like")
    lead = len(xs) - len(ls)
    axes = [*range(lead), *(lead + i for i, d in enumerate(ls) if d == 1 and xs[lead + i] != 1)]
    y = ctx.reduce("ReduceSum", x, axes, True) if axes else x
    return ctx.final("Reshape", [y, ctx.shape_of(like)], allowzero=1)


@export_rule(ops.BroadcastLike)
def _broadcast_like(ctx: ExportContext, op: Operation, x: str, like: str) -> list[str]:
    return ctx.final("Expand", [x, ctx.shape_of(like)])


@export_rule(ops.ReshapeLike)
def _reshape_like(ctx: ExportContext, op: Operation, x: str, like: str) -> list[str]:
    return ctx.final("Reshape", [x, ctx.shape_of(like)], allowzero=1)


@export_rule(ops.Unreduce)
def _unreduce(ctx: ExportContext, op: ops.Unreduce, g: str, like: str) -> list[str]:
    shape = _shape(op.like, "like")
    axes = op.reduced_axes(len(shape))
    kept = g if op.keepdims or not axes else ctx.unsqueeze(g, sorted(axes))
    dtype = ctx.dtype(op.g)
    if not op.mean:
        return ctx.final("Expand", [kept, ctx.shape_of(like)])
    out = ctx.one("Expand", [kept, ctx.shape_of(like)])
    reduced = [shape[a] for a in axes]
    if None not in reduced:
        count = ctx.scalar(math.prod(reduced), dtype, "count")  # type: ignore[arg-type]
    else:
        sizes = ctx.one("Gather", [ctx.shape_of(like), ctx.ints(axes, "axes")], axis=0)
        count = ctx.cast(ctx.reduce("ReduceProd", sizes, None, False), dtype)
    return ctx.final("Div", [out, count])


@export_rule(ops.SplitLike)
def _split_like(ctx: ExportContext, op: ops.SplitLike, x: str, *likes: str) -> list[str]:
    sizes: list[int | None] = []
    for v in op.likes:
        shape = v.type.shape  # type: ignore[attr-defined]
        sizes.append(None if shape is None else shape[op.axis])
    if None not in sizes:
        return ctx.split(x, op.axis, sizes, ctx.outs)  # type: ignore[arg-type]
    parts = [ctx.ints([s]) if s is not None else ctx.dim(name, op.axis) for s, name in zip(sizes, likes)]
    return ctx.split(x, op.axis, ctx.one("Concat", parts, axis=0), ctx.outs)


@export_rule(ops.Untile)
def _untile(ctx: ExportContext, op: ops.Untile, g: str, like: str) -> list[str]:
    m = list(op.multiples)
    shape = op.like.type.shape  # type: ignore[attr-defined]
    if shape is None:
        shape = (None,) * len(m)
    # A tiled dim of size k * d holds k copies of d elements: split it in (k, d), sum over k.
    pieces: list[int | tuple[int]] = []
    for i, k in enumerate(m):
        pieces += [k, (i,)]
    interleaved = ctx.one("Reshape", [g, _dims(ctx, like, shape, pieces)], allowzero=1)
    return [ctx.reduce("ReduceSum", interleaved, list(range(0, 2 * len(m), 2)), False, ctx.outs[:1])]


@export_rule(ops.PadGrad)
def _pad_grad(ctx: ExportContext, op: ops.PadGrad, g: str) -> list[str]:
    pairs = op.pairs()
    if not any(b or a for b, a in pairs):
        return [g]
    if op.mode == "constant":
        starts = [b for b, _ in pairs]
        ends = [INT64_MAX if a == 0 else -a for _, a in pairs]
        axes = ctx.ints(range(len(pairs)), "axes")
        return ctx.final("Slice", [g, ctx.ints(starts, "starts"), ctx.ints(ends, "ends"), axes])
    # Mirror padding copies elements into the border: each border slice, reversed, adds back
    # onto the elements it copied, dim by dim (the padding is separable).
    reflect = op.mode == "reflect"
    rank = len(pairs)
    y = g
    for axis, (before, after) in enumerate(pairs):
        if not before and not after:
            continue
        ax = ctx.ints([axis], "axes")
        back = ctx.ints([-1], "steps")
        n = ctx.one("Sub", [ctx.dim(y, axis), ctx.ints([before + after])])
        end = ctx.ints([INT64_MAX if after == 0 else -after], "ends")
        total = ctx.one("Slice", [y, ctx.ints([before], "starts"), end, ax])
        if before:
            mirrored = ctx.one("Slice", [y, ctx.ints([before - 1], "starts"), ctx.ints([INT64_MIN], "ends"), ax, back])
            lead = 1 if reflect else 0
            tail = ctx.one("Sub", [n, ctx.ints([before + lead])])
            total = ctx.one("Add", [total, _pad_along(ctx, mirrored, axis, rank, ctx.ints([lead]), tail)])
        if after:
            mirrored = ctx.one("Slice", [y, ctx.ints([-1], "starts"), ctx.ints([-1 - after], "ends"), ax, back])
            trail = 1 if reflect else 0
            head = ctx.one("Sub", [n, ctx.ints([after + trail])])
            total = ctx.one("Add", [total, _pad_along(ctx, mirrored, axis, rank, head, ctx.ints([trail]))])
        y = total
    return [y]


def _pad_along(ctx: ExportContext, x: str, axis: int, rank: int, before: str, after: str) -> str:
    """``x`` zero-padded along ``axis`` by the 1-element int64 tensors ``before``/``after``."""
    zeros = [ctx.ints([0]) for _ in range(2 * rank)]
    zeros[axis], zeros[rank + axis] = before, after
    return ctx.one("Pad", [x, ctx.one("Concat", zeros, axis=0)], mode="constant")


def _zeros_like(ctx: ExportContext, like: str, dtype: DType) -> str:
    value = numpy_helper.from_array(np.zeros(1, dtype=dtype.numpy), "value")
    return ctx.one("ConstantOfShape", [ctx.shape_of(like)], value=value)


@export_rule(ops.GatherGrad)
def _gather_grad(ctx: ExportContext, op: ops.GatherGrad, g: str, indices: str, like: str) -> list[str]:
    lshape = _shape(op.like, "like")
    q = len(_shape(op.indices, "indices"))
    r = len(lshape)
    axis = normalize_axis(op.axis, r)
    dtype = ctx.dtype(op.g)
    zeros = _zeros_like(ctx, like, dtype)
    idx = ctx.unsqueeze(ctx.cast(indices, DType.int64), [-1])
    if axis == 0:
        return ctx.final("ScatterND", [zeros, idx, g], reduction="add")
    # ScatterND scatters along the leading dim: move the gathered axis (and g's index dims) first.
    perm_data = [axis, *range(axis), *range(axis + 1, r)]
    perm_g = [*range(axis, axis + q), *range(axis), *range(axis + q, axis + q + r - 1 - axis)]
    inverse = [perm_data.index(i) for i in range(r)]
    data = ctx.one("Transpose", [zeros], perm=perm_data)
    updates = ctx.one("Transpose", [g], perm=perm_g)
    scattered = ctx.one("ScatterND", [data, idx, updates], reduction="add")
    return ctx.final("Transpose", [scattered], perm=inverse)


@export_rule(ops.StridedSliceGrad)
def _strided_slice_grad(ctx: ExportContext, op: ops.StridedSliceGrad, g: str, like: str) -> list[str]:
    # Slice the flat positions of like's elements as the forward op sliced like; scatter g's
    # elements to those positions of a zero vector (a strided slice takes each position once).
    rank = len(_shape(op.like, "like"))
    shape = ctx.shape_of(like)
    count = ctx.reduce("ReduceProd", shape, None, True)
    zero, one = ctx.const(np.int64(0), "zero"), ctx.const(np.int64(1), "one")
    flat = ctx.one("Range", [zero, ctx.one("Squeeze", [count]), one])
    positions = strided_slice(ctx, op, ctx.one("Reshape", [flat, shape], allowzero=1), rank)
    flat_positions = ctx.one("Reshape", [positions, ctx.ints([-1])])
    dtype = ctx.dtype(op.g)
    value = numpy_helper.from_array(np.zeros(1, dtype=dtype.numpy), "value")
    zeros = ctx.one("ConstantOfShape", [count], value=value)
    flat_g = ctx.one("Reshape", [g, ctx.ints([-1])])
    scattered = ctx.one("ScatterElements", [zeros, flat_positions, flat_g], axis=0)
    return ctx.final("Reshape", [scattered, shape], allowzero=1)


unsupported(
    "a training-only adjoint of a convolution or pooling; export the forward graph",
    ops.grad.ConvInputGrad,
    ops.grad.ConvFilterGrad,
    ops.grad.MaxPoolGrad,
    ops.grad.AvgPoolGrad,
    ops.grad.MaxPoolGradGrad,
    ops.grad.ResizeNearestGrad,
)


PRIMARY_OPS.update({ops.SumTo: "ReduceSum", ops.Untile: "ReduceSum", ops.Unreduce: "Div"})


@export_rule(ops.TakeAlongAxisGrad)
def _take_along_axis_grad(ctx: ExportContext, op: Operation, g: str, indices: str, like: str) -> list[str]:
    zeros = _zeros_like(ctx, like, ctx.dtype(op.operands[0]))
    return ctx.final("ScatterElements", [zeros, indices, g], axis=op.axis, reduction="add")  # type: ignore[attr-defined]
