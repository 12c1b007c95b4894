"""Export of the array dialect.

Attributes that ONNX takes as inputs (shapes, axes, pads, split sizes) become int64
initializers. Ops ONNX lacks are written with a few nodes: ``stack`` (unsqueeze and concat),
symmetric padding (mirrored slices concatenated), ``one_hot`` (an equality against a range,
which gives the all-``off_value`` vector for an index out of range, as flowir does), and
``strided_slice`` (Slice, then Squeeze for shrunk dims and Unsqueeze for new ones).
Attribute-only ops without an ONNX twin (``range``) are evaluated into initializers with the
reference kernels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from onnx import numpy_helper

from flowir.backends.onnx.exporter import INT64_MAX, INT64_MIN, ExportContext, export_rule, onnx_dtype
from flowir.ir import ops
from flowir.ir.core import Operation
from flowir.ir.dtypes import DType
from flowir.ir.errors import UnsupportedOpError
from flowir.ir.reference import get_impl_rule
from flowir.ir.types import TensorType, normalize_axis

__all__ = ["strided_items", "strided_slice"]


def _rank(op: Operation, i: int = 0, what: str = "the operand") -> int:
    rank = op.operands[i].type.rank  # type: ignore[attr-defined]
    if rank is None:
        raise UnsupportedOpError(f"{what} has unknown rank, which this export needs")
    return rank


def _result_type(op: Operation, i: int = 0) -> TensorType:
    return op.results[i].type  # type: ignore[return-value]


@export_rule(ops.Identity)
def _identity(ctx: ExportContext, op: Operation, x: str) -> list[str]:
    return [x]


@export_rule(ops.Reshape)
def _reshape(ctx: ExportContext, op: ops.Reshape, x: str) -> list[str]:
    # ONNX reads a 0 in the target shape as "copy this dim" unless allowzero is set.
    return ctx.final("Reshape", [x, ctx.ints(op.shape, "shape")], allowzero=1 if 0 in op.shape else None)


@export_rule(ops.Transpose)
def _transpose(ctx: ExportContext, op: ops.Transpose, x: str) -> list[str]:
    return ctx.final("Transpose", [x], perm=None if op.perm is None else list(op.perm))


@export_rule(ops.ExpandDims)
def _expand_dims(ctx: ExportContext, op: ops.ExpandDims, x: str) -> list[str]:
    return [ctx.unsqueeze(x, [op.axis], ctx.outs[:1])]


@export_rule(ops.Squeeze)
def _squeeze(ctx: ExportContext, op: ops.Squeeze, x: str) -> list[str]:
    shape = op.x.type.shape  # type: ignore[attr-defined]
    if op.axes is None:
        if shape is None or None in shape:
            return ctx.final("Squeeze", [x])
        axes: Sequence[int] = [i for i, d in enumerate(shape) if d == 1]
    elif shape is not None:
        axes = sorted(op.squeezed_axes(shape))
    else:
        axes = list(dict.fromkeys(op.axes))
    if not axes:
        return [x]
    return [ctx.squeeze(x, axes, ctx.outs[:1])]


@export_rule(ops.Concat)
def _concat(ctx: ExportContext, op: ops.Concat, *values: str) -> list[str]:
    return ctx.final("Concat", values, axis=op.axis)


@export_rule(ops.Stack)
def _stack(ctx: ExportContext, op: ops.Stack, *values: str) -> list[str]:
    expanded = [ctx.unsqueeze(v, [op.axis]) for v in values]
    return ctx.final("Concat", expanded, axis=op.axis)


@export_rule(ops.Split)
def _split(ctx: ExportContext, op: ops.Split, x: str) -> list[str]:
    ty: TensorType = op.x.type  # type: ignore[assignment]
    dim = None if ty.shape is None else ty.shape[normalize_axis(op.axis, len(ty.shape))]
    sizes = op.piece_sizes(dim)
    if None not in sizes:
        return ctx.split(x, op.axis, sizes, ctx.outs)  # type: ignore[arg-type]
    if op.num is not None:
        if ctx.opset >= 18:
            return ctx.node("Split", [x], ctx.outs, axis=op.axis, num_outputs=op.num)
        return ctx.node("Split", [x], ctx.outs, axis=op.axis)
    # One piece takes what the others leave of a dim known only at run time.
    rest = sum(s for s in op.sizes if s != -1)
    left = ctx.one("Sub", [ctx.dim(x, op.axis), ctx.ints([rest])])
    parts = [left if s == -1 else ctx.ints([s]) for s in op.sizes]
    return ctx.split(x, op.axis, ctx.one("Concat", parts, axis=0), ctx.outs)


@export_rule(ops.Slice)
def _slice(ctx: ExportContext, op: ops.Slice, x: str) -> list[str]:
    ends = [INT64_MAX if s == -1 else b + s for b, s in zip(op.begin, op.size)]
    n = len(op.begin)
    if not n:
        return [x]
    return ctx.final("Slice", [x, ctx.ints(op.begin, "starts"), ctx.ints(ends, "ends"), ctx.ints(range(n), "axes")])


def strided_items(op: Operation, rank: int) -> list[tuple[int, int, int, bool, bool, bool] | None]:
    """The index items of a strided slice (``StridedSlice`` or its gradient) against an input
    of ``rank`` dims, the ellipsis expanded: ``None`` for a new dim, else ``(begin, end,
    stride, begin_masked, end_masked, shrink)`` for the next input dim."""
    n = len(op.begin)  # type: ignore[attr-defined]
    low = (1 << n) - 1
    ellipsis = op.ellipsis_mask & low  # type: ignore[attr-defined]
    new_axis = op.new_axis_mask & low & ~ellipsis  # type: ignore[attr-defined]
    shrink = op.shrink_axis_mask & low & ~ellipsis & ~new_axis  # type: ignore[attr-defined]
    consumed = n - ellipsis.bit_count() - new_axis.bit_count()
    full = (0, 0, 1, True, True, False)
    items: list[tuple[int, int, int, bool, bool, bool] | None] = []
    for i in range(n):
        bit = 1 << i
        if ellipsis & bit:
            items.extend([full] * (rank - consumed))
        elif new_axis & bit:
            items.append(None)
        else:
            items.append(
                (
                    op.begin[i],  # type: ignore[attr-defined]
                    op.end[i],  # type: ignore[attr-defined]
                    op.strides[i],  # type: ignore[attr-defined]
                    bool(op.begin_mask & bit),  # type: ignore[attr-defined]
                    bool(op.end_mask & bit),  # type: ignore[attr-defined]
                    bool(shrink & bit),
                )
            )
    if not ellipsis:
        items.extend([full] * (rank - consumed))
    return items


@export_rule(ops.StridedSlice)
def _strided_slice(ctx: ExportContext, op: ops.StridedSlice, x: str) -> list[str]:
    return [strided_slice(ctx, op, x, _rank(op, 0, "x"))]


def strided_slice(ctx: ExportContext, op: Operation, x: str, rank: int) -> str:
    """``x`` (of ``rank`` dims) sliced by ``op``'s strided-slice attributes: one Slice, then
    Squeeze for shrunk dims and Unsqueeze for new ones."""
    items = strided_items(op, rank)
    starts, ends, axes, steps, shrunk = [], [], [], [], []
    dim = 0
    for item in items:
        if item is None:
            continue
        begin, end, stride, begin_masked, end_masked, shrink = item
        if shrink:
            # Python-like bounds: index -1 runs to the end, which ONNX spells INT64_MAX.
            starts.append(begin)
            ends.append(INT64_MAX if begin == -1 else begin + 1)
            steps.append(1)
            axes.append(dim)
            shrunk.append(dim)
        elif not (begin_masked and end_masked and stride == 1):
            starts.append((0 if stride > 0 else INT64_MAX) if begin_masked else begin)
            ends.append((INT64_MAX if stride > 0 else INT64_MIN) if end_masked else end)
            steps.append(stride)
            axes.append(dim)
        dim += 1
    y = x
    if axes:
        y = ctx.one("Slice", [y, ctx.ints(starts, "starts"), ctx.ints(ends, "ends"), ctx.ints(axes, "axes"), ctx.ints(steps, "steps")])
    if shrunk:
        y = ctx.squeeze(y, shrunk)
    kept = [item for item in items if item is None or not item[5]]
    new = [i for i, item in enumerate(kept) if item is None]
    if new:
        y = ctx.unsqueeze(y, new)
    return y


@export_rule(ops.Gather)
def _gather(ctx: ExportContext, op: ops.Gather, params: str, indices: str) -> list[str]:
    return ctx.final("Gather", [params, indices], axis=op.axis)


@export_rule(ops.Tile)
def _tile(ctx: ExportContext, op: ops.Tile, x: str) -> list[str]:
    if all(m == 1 for m in op.multiples):
        return [x]
    return ctx.final("Tile", [x, ctx.ints(op.multiples, "repeats")])


def _pad_value(ctx: ExportContext, value: float, dtype: DType) -> str:
    return ctx.scalar(np.asarray(value).astype(dtype.numpy), dtype, "pad_value")


@export_rule(ops.Pad)
def _pad(ctx: ExportContext, op: ops.Pad, x: str) -> list[str]:
    pairs = op.pairs()
    if not any(b or a for b, a in pairs):
        return [x]
    dtype = ctx.dtype(op.x)
    if op.mode == "symmetric":
        return [symmetric_pad(ctx, x, pairs)]
    pads = ctx.ints([b for b, _ in pairs] + [a for _, a in pairs], "pads")
    if op.mode == "reflect":
        return ctx.final("Pad", [x, pads], mode="reflect")
    return ctx.final("Pad", [x, pads, _pad_value(ctx, op.constant_value, dtype)], mode="constant")


def symmetric_pad(ctx: ExportContext, x: str, pairs: Sequence[tuple[int, int]]) -> str:
    """``x`` mirrored with its edge (TF's SYMMETRIC), dim by dim: reversed slices of the
    first ``before`` and last ``after`` elements concatenated around it."""
    y = x
    for axis, (before, after) in enumerate(pairs):
        if not before and not after:
            continue
        parts = []
        ax = ctx.ints([axis], "axes")
        back = ctx.ints([-1], "steps")
        if before:
            parts.append(ctx.one("Slice", [y, ctx.ints([before - 1], "starts"), ctx.ints([INT64_MIN], "ends"), ax, back]))
        parts.append(y)
        if after:
            parts.append(ctx.one("Slice", [y, ctx.ints([-1], "starts"), ctx.ints([-1 - after], "ends"), ax, back]))
        y = ctx.one("Concat", parts, axis=axis)
    return y


@export_rule(ops.Fill)
def _fill(ctx: ExportContext, op: ops.Fill, value: str) -> list[str]:
    return ctx.final("Expand", [value, ctx.ints(op.shape, "shape")])


def _fill_value(value: float, dtype: DType) -> object:
    return numpy_helper.from_array(np.asarray([value]).astype(dtype.numpy), "value")


@export_rule(ops.Zeros, ops.Ones)
def _constant_of_shape(ctx: ExportContext, op: Operation, *args: str) -> list[str]:
    one = 1 if type(op) is ops.Ones else 0
    return ctx.final("ConstantOfShape", [ctx.ints(op.shape, "shape")], value=_fill_value(one, op.dtype))  # type: ignore[attr-defined]


@export_rule(ops.ZerosLike, ops.OnesLike)
def _constant_like(ctx: ExportContext, op: Operation, x: str) -> list[str]:
    one = 1 if type(op) is ops.OnesLike else 0
    dtype = ctx.dtype(op.operands[0])
    return ctx.final("ConstantOfShape", [ctx.shape_of(x)], value=_fill_value(one, dtype))


@export_rule(ops.Range)
def _range(ctx: ExportContext, op: Operation) -> list[str]:
    value = get_impl_rule(op)(op)[0]
    return ctx.final("Constant", [], value=numpy_helper.from_array(np.asarray(value), "value"))


@export_rule(ops.OneHot)
def _one_hot(ctx: ExportContext, op: ops.OneHot, indices: str) -> list[str]:
    rank = op.indices.type.rank  # type: ignore[attr-defined]
    if op.axis == -1:
        trailing = 0
    elif rank is None:
        raise UnsupportedOpError("one_hot with an explicit axis needs indices of known rank")
    else:
        trailing = rank - op.axis
    idx = ctx.unsqueeze(ctx.cast(indices, DType.int64), [op.axis])
    positions = ctx.const(np.arange(op.depth, dtype=np.int64).reshape((op.depth,) + (1,) * trailing), "positions")
    hit = ctx.one("Equal", [idx, positions])
    on = ctx.scalar(np.asarray(op.on_value).astype(op.dtype.numpy), op.dtype, "on_value")
    off = ctx.scalar(np.asarray(op.off_value).astype(op.dtype.numpy), op.dtype, "off_value")
    return ctx.final("Where", [hit, on, off])


@export_rule(ops.Shape)
def _shape(ctx: ExportContext, op: ops.Shape, x: str) -> list[str]:
    if op.out_type is DType.int64:
        return ctx.final("Shape", [x])
    return ctx.final("Cast", [ctx.shape_of(x)], to=onnx_dtype(DType.int32))


@export_rule(ops.BroadcastTo)
def _broadcast_to(ctx: ExportContext, op: Operation, x: str) -> list[str]:
    return ctx.final("Expand", [x, ctx.ints(op.shape, "shape")])  # type: ignore[attr-defined]


@export_rule(ops.TakeAlongAxis)
def _take_along_axis(ctx: ExportContext, op: Operation, x: str, indices: str) -> list[str]:
    return ctx.final("GatherElements", [x, indices], axis=op.axis)  # type: ignore[attr-defined]


@export_rule(ops.Trilu)
def _trilu(ctx: ExportContext, op: Operation, x: str) -> list[str]:
    return ctx.final("Trilu", [x, ctx.const(np.int64(op.k), "k")], upper=int(op.upper))  # type: ignore[attr-defined]
