"""Converters of ONNX tensor-manipulation ops: reshaping, slicing, joining, gathering,
padding and tensor creation. Shape-like inputs (shapes, axes, pads, starts) must be known
at import time; the importer folds the small shape computations that produce them."""

from __future__ import annotations

import math

import numpy as np

from flowir.frontends.onnx._context import NodeContext
from flowir.frontends.onnx._registry import converter_rule
from flowir.ir.core import Value
from flowir.ir.dtypes import DType, dtype_of
from flowir.ir.ops import array as a
from flowir.ir.ops import math as m

_INT64_MAX = np.iinfo(np.int64).max


def _axis(ctx: NodeContext, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise ctx.error(f"axis {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


@converter_rule("Reshape")
def _reshape(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    shape = ctx.const_ints(1, "shape")
    assert shape is not None
    if not ctx.attr("allowzero", 0) and 0 in shape:
        # A 0 copies the input's dim; an unknown one can become the -1 if there is none yet.
        dims = ctx.ty(x).shape
        if dims is None:
            raise ctx.unsupported("a 0 in the shape of an input of unknown rank")
        out = []
        for i, s in enumerate(shape):
            if s != 0:
                out.append(s)
            elif dims[i] is not None:
                out.append(dims[i])
            elif -1 not in shape and -1 not in out:
                out.append(-1)
            else:
                raise ctx.dynamic_error(x, f"shape {shape} copies unknown dims of {ctx.ty(x).describe()}")
        shape = out
    return [ctx.emit(a.Reshape, x, shape=shape)]


def _product(dims: tuple[int | None, ...]) -> int | None:
    return None if None in dims else math.prod(dims)  # type: ignore[arg-type]


@converter_rule("Flatten")
def _flatten(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    rank = ctx.rank(x)
    axis = ctx.attr("axis", 1)
    axis = axis + rank if axis < 0 else axis
    dims = ctx.ty(x).shape
    assert dims is not None
    outer, inner = _product(dims[:axis]), _product(dims[axis:])
    if outer is None and inner is None:
        raise ctx.dynamic_error(x, f"flattening {ctx.ty(x).describe()} needs one side of axis {axis} known")
    return [ctx.emit(a.Reshape, x, shape=[-1 if outer is None else outer, -1 if inner is None else inner])]


@converter_rule("Transpose")
def _transpose(ctx: NodeContext) -> list[Value]:
    perm = ctx.attr("perm", None)
    return [ctx.emit(a.Transpose, ctx.input(0), perm=perm)]


def _axes_input(ctx: NodeContext) -> list[int] | None:
    axes = ctx.attr("axes", None)
    return list(axes) if axes is not None else ctx.const_ints(1, "axes")


@converter_rule("Squeeze")
def _squeeze(ctx: NodeContext) -> list[Value]:
    return [ctx.emit(a.Squeeze, ctx.input(0), axes=_axes_input(ctx))]


@converter_rule("Unsqueeze")
def _unsqueeze(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    axes = _axes_input(ctx)
    if not axes:
        raise ctx.error("axes must not be empty")
    out_rank = ctx.rank(x) + len(axes)
    y = x
    for ax in sorted(_axis(ctx, ax, out_rank) for ax in axes):
        y = ctx.emit(a.ExpandDims, y, axis=ax)
    return [y]


@converter_rule("Concat")
def _concat(ctx: NodeContext) -> list[Value]:
    values = [v for v in ctx.inputs if v is not None]
    return [ctx.emit(a.Concat, values, axis=ctx.attr("axis"))]


@converter_rule("Split")
def _split(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    rank = ctx.rank(x)
    axis = _axis(ctx, ctx.attr("axis", 0), rank)
    sizes = ctx.attr("split", None)
    if sizes is None:
        sizes = ctx.const_ints(1, "split")
    n = ctx.attr("num_outputs", ctx.num_outputs)
    if sizes is None:
        dim = ctx.ty(x).shape[axis]  # type: ignore[index]
        if dim is not None and dim % n:
            # Opset 18: uneven splits give equal chunks of ceil(dim / n) and a smaller last one.
            chunk = -(-dim // n)
            sizes = [chunk] * (n - 1) + [dim - chunk * (n - 1)]
        else:
            pieces = ctx.emit(a.Split, x, axis=axis, num=n)
            return list(pieces) if n > 1 else [pieces]
    pieces = ctx.emit(a.Split, x, axis=axis, sizes=list(sizes))
    return list(pieces) if len(sizes) > 1 else [pieces]


@converter_rule("Slice")
def _slice(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    rank = ctx.rank(x)
    starts = ctx.const_ints(1, "starts")
    ends = ctx.const_ints(2, "ends")
    assert starts is not None and ends is not None
    axes = ctx.const_ints(3, "axes") or list(range(len(starts)))
    steps = ctx.const_ints(4, "steps") or [1] * len(starts)
    begin, end, strides = [0] * rank, [0] * rank, [1] * rank
    full = (1 << rank) - 1
    begin_mask = end_mask = full
    for s, e, ax, st in zip(starts, ends, axes, steps):
        ax = _axis(ctx, ax, rank)
        if st == 0:
            raise ctx.error("steps must be non-zero")
        begin[ax], end[ax], strides[ax] = s, e, st
        begin_mask &= ~(1 << ax)
        end_mask &= ~(1 << ax)
        # Past-the-end bounds mean "to the end" in the step's direction (TF clamps the same way,
        # but its masks also cover the huge sentinels ONNX exporters write).
        if (st > 0 and e >= _INT64_MAX) or (st < 0 and e <= -_INT64_MAX):
            end_mask |= 1 << ax
    return [ctx.emit(a.StridedSlice, x, begin=begin, end=end, strides=strides, begin_mask=begin_mask, end_mask=end_mask)]


def _normalize_indices(ctx: NodeContext, indices: Value, dim: int | None) -> Value:
    """ONNX indices may be negative (counting from the end); flowir's are in ``[0, dim)``."""
    known = ctx.const_value(indices)
    if known is not None and not (known < 0).any():
        return indices
    if dim is None:
        raise ctx.dynamic_error(ctx.input(0), "negative indices into a dim of unknown size")
    size = ctx.scalar(dim, indices, "dim")
    neg = ctx.emit(m.Less, indices, ctx.scalar(0, indices, "zero"))
    return ctx.emit(m.Select, neg, ctx.emit(m.Add, indices, size), indices)


@converter_rule("Gather")
def _gather(ctx: NodeContext) -> list[Value]:
    x, indices = ctx.input(0), ctx.input(1)
    axis = _axis(ctx, ctx.attr("axis", 0), ctx.rank(x))
    indices = _normalize_indices(ctx, indices, ctx.ty(x).shape[axis])  # type: ignore[index]
    return [ctx.emit(a.Gather, x, indices, axis=axis)]


@converter_rule("Tile")
def _tile(ctx: NodeContext) -> list[Value]:
    repeats = ctx.const_ints(1, "repeats")
    return [ctx.emit(a.Tile, ctx.input(0), multiples=repeats)]


_PAD_MODES = {"constant": "constant", "reflect": "reflect"}


def _pad_by_copies(ctx: NodeContext, x: Value, before: list[int], after: list[int], mode: str) -> Value:
    """ONNX's ``edge`` (repeat the border element) and ``wrap`` (continue periodically)
    paddings, one axis at a time, from slices of ``x`` joined by concat."""
    rank = len(before)
    y = x
    for ax in range(rank):
        if not before[ax] and not after[ax]:
            continue
        parts = []
        for count, at_start in ((before[ax], True), (after[ax], False)):
            if not count:
                parts.append(None)
                continue
            if mode == "edge":
                lo, hi = (0, 1) if at_start else (-1, 0)
                piece = _axis_slice(ctx, y, ax, rank, lo, hi, hi == 0)
                piece = ctx.emit(a.Tile, piece, multiples=[count if i == ax else 1 for i in range(rank)])
            else:
                lo, hi = (-count, 0) if at_start else (0, count)
                piece = _axis_slice(ctx, y, ax, rank, lo, hi, hi == 0)
            parts.append(piece)
        y = ctx.emit(a.Concat, [v for v in (parts[0], y, parts[1]) if v is not None], axis=ax)
    return y


def _axis_slice(ctx: NodeContext, x: Value, axis: int, rank: int, begin: int, end: int, to_end: bool) -> Value:
    """``x[..., begin:end, ...]`` along ``axis`` (``to_end``: up to the end)."""
    full = (1 << rank) - 1
    return ctx.emit(
        a.StridedSlice,
        x,
        begin=[begin if i == axis else 0 for i in range(rank)],
        end=[end if i == axis else 0 for i in range(rank)],
        strides=[1] * rank,
        begin_mask=full & ~(1 << axis),
        end_mask=(full & ~(1 << axis)) | ((1 << axis) if to_end else 0),
    )


@converter_rule("Pad")
def _pad(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    rank = ctx.rank(x)
    mode = ctx.attr("mode", "constant")
    if mode not in _PAD_MODES and mode not in ("edge", "wrap"):
        raise ctx.error(f"attribute 'mode' must be constant, reflect, edge or wrap, got {mode!r}")
    pads = ctx.attr("pads", None)
    if pads is None:
        pads = ctx.const_ints(1, "pads")
    value = ctx.const_input(2, "constant_value")
    fill = 0.0 if value is None or value.size == 0 else value.reshape(-1)[0].item()
    axes = ctx.const_ints(3, "axes")
    axes = list(range(rank)) if axes is None else [_axis(ctx, ax, rank) for ax in axes]
    if len(pads) != 2 * len(axes):
        raise ctx.error(f"pads has {len(pads)} entries for {len(axes)} axes")
    before, after = [0] * rank, [0] * rank
    for i, ax in enumerate(axes):
        before[ax], after[ax] = pads[i], pads[len(axes) + i]
    y = x
    if mode in ("edge", "wrap") and any(p > 0 for p in before + after):
        y = _pad_by_copies(ctx, y, [max(p, 0) for p in before], [max(p, 0) for p in after], mode)
    elif any(p > 0 for p in before + after):
        flat = [max(p, 0) for pair in zip(before, after) for p in pair]
        if isinstance(fill, bool):
            fill = float(fill)
        y = ctx.emit(a.Pad, y, paddings=flat, mode=_PAD_MODES[mode], constant_value=float(fill))
    if any(p < 0 for p in before + after):
        # Negative pads crop.
        begin = [-p if p < 0 else 0 for p in before]
        end = [p if p < 0 else 0 for p in after]
        end_mask = sum(1 << i for i, p in enumerate(after) if p >= 0)
        y = ctx.emit(a.StridedSlice, y, begin=begin, end=end, strides=[1] * rank, end_mask=end_mask)
    if y is x:
        y = ctx.emit(a.Identity, x)
    return [y]


@converter_rule("Expand")
def _expand(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    shape = ctx.const_ints(1, "shape")
    if ctx.has_op("array.broadcast_to"):
        return [ctx.emit("array.broadcast_to", x, shape=shape)]
    dt = ctx.ty(x).dtype
    zeros = ctx.emit(a.Zeros, shape=shape, dtype=dt)
    if dt is DType.bool:
        return [ctx.emit(m.LogicalOr, x, zeros)]
    return [ctx.emit(m.Add, x, zeros)]


@converter_rule("ConstantOfShape")
def _constant_of_shape(ctx: NodeContext) -> list[Value]:
    shape = ctx.const_ints(0, "shape")
    value = ctx.attr("value", None)
    if value is None:
        value = np.zeros((1,), np.float32)
    scalar = ctx.constant(value.reshape(()), "value")
    return [ctx.emit(a.Fill, scalar, shape=shape)]


@converter_rule("Shape")
def _shape(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    rank = ctx.rank(x)
    start, end = ctx.attr("start", 0), ctx.attr("end", rank)
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    dims = ctx.ty(x).shape[start:end]  # type: ignore[index]
    if None not in dims:
        return [ctx.constant(np.array(dims, np.int64), "shape")]
    full = ctx.emit(a.Shape, x, out_type=DType.int64)
    if (start, end) == (0, rank):
        return [full]
    return [ctx.emit(a.Slice, full, begin=[start], size=[max(end - start, 0)])]


@converter_rule("Size")
def _size(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    n = ctx.ty(x).num_elements
    if n is not None:
        return [ctx.constant(np.array(n, np.int64), "size")]
    return [ctx.emit(m.ReduceProd, ctx.emit(a.Shape, x, out_type=DType.int64))]


@converter_rule("Range")
def _range(ctx: NodeContext) -> list[Value]:
    start, limit, delta = (ctx.const_input(i, what) for i, what in enumerate(("start", "limit", "delta")))
    assert start is not None and limit is not None and delta is not None
    dt = dtype_of(start)
    s0, l0, d0 = (np.asarray(v).reshape(-1)[0] for v in (start, limit, delta))
    if d0 == 0:
        raise ctx.error("delta must be non-zero")
    # ONNX's count, max(ceil((limit - start) / delta), 0), with values start + i * delta.
    n = max(int(math.ceil((float(l0) - float(s0)) / float(d0))), 0)
    values = (np.arange(n).astype(dt.numpy) * d0 + s0).astype(dt.numpy)
    return [ctx.constant(values, "range")]


@converter_rule("OneHot")
def _one_hot(ctx: NodeContext) -> list[Value]:
    indices = ctx.input(0)
    depth_a = ctx.const_input(1, "depth")
    values = ctx.const_input(2, "values")
    assert depth_a is not None and values is not None
    depth = int(depth_a.reshape(-1)[0])
    if ctx.ty(indices).dtype not in (DType.int32, DType.int64):
        indices = ctx.emit(m.Cast, indices, dtype=DType.int64)
    neg = ctx.emit(m.Less, indices, ctx.scalar(0, indices, "zero"))
    indices = ctx.emit(m.Select, neg, ctx.emit(m.Add, indices, ctx.scalar(depth, indices, "depth")), indices)
    off, on = values.reshape(-1)[:2].tolist()
    axis = ctx.attr("axis", -1)
    if axis < -1:
        # ONNX counts a negative axis from the end of the result, flowir only allows -1.
        axis += ctx.rank(indices) + 1
    return [ctx.emit(a.OneHot, indices, depth=depth, on_value=float(on), off_value=float(off), axis=axis, dtype=dtype_of(values))]


@converter_rule("DepthToSpace")
def _depth_to_space(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    n, c, h, w = ctx.static_shape(x)
    b = ctx.attr("blocksize")
    if ctx.attr("mode", "DCR") == "DCR":
        y = ctx.emit(a.Reshape, x, shape=[n, b, b, c // (b * b), h, w])
        y = ctx.emit(a.Transpose, y, perm=[0, 3, 4, 1, 5, 2])
    else:
        y = ctx.emit(a.Reshape, x, shape=[n, c // (b * b), b, b, h, w])
        y = ctx.emit(a.Transpose, y, perm=[0, 1, 4, 2, 5, 3])
    return [ctx.emit(a.Reshape, y, shape=[n, c // (b * b), h * b, w * b])]


@converter_rule("SpaceToDepth")
def _space_to_depth(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    n, c, h, w = ctx.static_shape(x)
    b = ctx.attr("blocksize")
    y = ctx.emit(a.Reshape, x, shape=[n, c, h // b, b, w // b, b])
    crd = ctx.attr("mode", "DCR") == "CRD"
    y = ctx.emit(a.Transpose, y, perm=[0, 1, 3, 5, 2, 4] if crd else [0, 3, 5, 1, 2, 4])
    return [ctx.emit(a.Reshape, y, shape=[n, c * b * b, h // b, w // b])]


@converter_rule("EyeLike")
def _eye_like(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    rows, cols = ctx.static_shape(x)
    dt_code = ctx.attr("dtype", None)
    if dt_code is None:
        dt = ctx.ty(x).dtype
    else:
        from flowir.frontends.onnx._context import dtype_from_onnx

        dt = dtype_from_onnx(dt_code, f"{ctx.describe()}: attribute 'dtype'")
    return [ctx.constant(np.eye(rows, cols, k=ctx.attr("k", 0), dtype=dt.numpy), "eye")]


@converter_rule("Trilu")
def _trilu(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    shape = ctx.static_shape(x)
    k_a = ctx.const_input(1, "k")
    k = 0 if k_a is None else int(k_a.reshape(-1)[0])
    rows, cols = shape[-2:]
    ones = np.ones((rows, cols), bool)
    keep = np.triu(ones, k) if ctx.attr("upper", 1) else np.tril(ones, k)
    return [ctx.emit(m.Select, ctx.constant(keep, "mask"), x, ctx.emit(a.ZerosLike, x))]


@converter_rule("CumSum", requires=["math.cumsum"])
def _cumsum(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    axis_a = ctx.const_input(1, "axis")
    assert axis_a is not None
    axis = _axis(ctx, int(axis_a.reshape(-1)[0]), ctx.rank(x))
    return [
        ctx.emit(
            "math.cumsum", x, axis=axis, exclusive=bool(ctx.attr("exclusive", 0)), reverse=bool(ctx.attr("reverse", 0))
        )
    ]


@converter_rule("GatherElements")
def _gather_elements(ctx: NodeContext) -> list[Value]:
    data = ctx.input(0)
    axis = _axis(ctx, ctx.attr("axis", 0), ctx.rank(data))
    return [_take_along(ctx, data, ctx.input(1), axis)]


def _take_along(ctx: NodeContext, data: Value, indices: Value, axis: int) -> Value:
    """``out[..., i, ...] = data[..., indices[..., i, ...], ...]`` along ``axis``: each index
    is compared with every position of the axis (a one-hot mask) to keep the matching element."""
    d_shape = ctx.static_shape(data, "data")
    i_shape = ctx.static_shape(indices, "indices")
    rank = len(d_shape)
    dim = d_shape[axis]
    indices = _normalize_indices(ctx, indices, dim)
    if any(i != d for k, (i, d) in enumerate(zip(i_shape, d_shape)) if k != axis):
        data = ctx.emit(
            a.StridedSlice,
            data,
            begin=[0] * rank,
            end=[i_shape[k] if k != axis else 0 for k in range(rank)],
            strides=[1] * rank,
            end_mask=1 << axis,
        )
    moved = ctx.emit(a.Transpose, data, perm=[k for k in range(rank) if k != axis] + [axis])
    moved = ctx.emit(a.ExpandDims, moved, axis=axis)
    mask = ctx.emit(a.OneHot, indices, depth=dim, axis=-1, dtype=DType.bool)
    dt = ctx.ty(data).dtype
    picked = ctx.emit(m.Select, mask, moved, ctx.scalar(0, data, "zero"))
    reduce = m.ReduceAny if dt is DType.bool else m.ReduceSum
    return ctx.emit(reduce, picked, axes=[-1])


@converter_rule("ReverseSequence")
def _reverse_sequence(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    lens_a = ctx.const_input(1, "sequence_lens")
    assert lens_a is not None
    shape = ctx.static_shape(x)
    rank = len(shape)
    batch_axis = _axis(ctx, ctx.attr("batch_axis", 1), rank)
    time_axis = _axis(ctx, ctx.attr("time_axis", 0), rank)
    lens = lens_a.reshape(-1).astype(np.int64)
    t = np.arange(shape[time_axis]).reshape([-1 if k == time_axis else 1 for k in range(rank)])
    n = lens.reshape([-1 if k == batch_axis else 1 for k in range(rank)])
    # The first len[b] steps of each batch entry reversed, the rest kept.
    index = np.broadcast_to(np.where(t < n, n - 1 - t, t), shape).astype(np.int64)
    return [_take_along(ctx, x, ctx.constant(index, "indices"), time_axis)]


def _scatter_reduce(ctx: NodeContext, values: Value, axis: int, reduce: type, rank: int, pads: list[int], fill: float) -> Value:
    """Reduce ``values`` (indices' shape + [dim]) over ``axis``, put the one-hot dim in its
    place and pad the other dims up to data's shape with ``fill``."""
    r = ctx.emit(reduce, values, axes=[axis])
    others = [k for k in range(rank) if k != axis]
    r = ctx.emit(a.Transpose, r, perm=[rank - 1 if k == axis else others.index(k) for k in range(rank)])
    if any(pads):
        r = ctx.emit(a.Pad, r, paddings=[p for extra in pads for p in (0, extra)], constant_value=fill)
    return r


@converter_rule("ScatterElements")
def _scatter_elements(ctx: NodeContext) -> list[Value]:
    # Each data position along axis collects the updates whose index names it (a one-hot
    # mask over the axis), reduced as the node says; positions no index names keep data.
    data, indices, updates = ctx.input(0), ctx.input(1), ctx.input(2)
    d_shape = ctx.static_shape(data, "data")
    i_shape = ctx.static_shape(indices, "indices")
    rank = len(d_shape)
    axis = _axis(ctx, ctx.attr("axis", 0), rank)
    reduction = ctx.attr("reduction", "none")
    dim = d_shape[axis]
    indices = _normalize_indices(ctx, indices, dim)
    pads = [0 if k == axis else d - i for k, (d, i) in enumerate(zip(d_shape, i_shape))]
    mask = ctx.emit(a.OneHot, indices, depth=dim, axis=-1, dtype=DType.bool)
    upd = ctx.emit(a.ExpandDims, updates, axis=-1)
    dt = ctx.ty(data).dtype
    hit = _scatter_reduce(ctx, mask, axis, m.ReduceAny, rank, pads, 0.0)
    if reduction in ("none", "add"):
        summed = _scatter_reduce(ctx, ctx.emit(m.Select, mask, upd, ctx.scalar(0, data, "zero")), axis, m.ReduceSum, rank, pads, 0.0)
        if reduction == "add":
            return [ctx.emit(m.Add, data, summed)]
        return [ctx.emit(m.Select, hit, summed, data)]
    if reduction == "mul":
        prod = _scatter_reduce(ctx, ctx.emit(m.Select, mask, upd, ctx.scalar(1, data, "one")), axis, m.ReduceProd, rank, pads, 1.0)
        return [ctx.emit(m.Mul, data, prod)]
    if reduction in ("max", "min"):
        info = np.finfo(dt.numpy) if dt.is_floating else np.iinfo(dt.numpy)
        neutral = -np.inf if dt.is_floating and reduction == "max" else np.inf if dt.is_floating else info.min if reduction == "max" else info.max
        red, pick = (m.ReduceMax, m.Maximum) if reduction == "max" else (m.ReduceMin, m.Minimum)
        vals = _scatter_reduce(ctx, ctx.emit(m.Select, mask, upd, ctx.scalar(neutral, data, "neutral")), axis, red, rank, pads, 0.0)
        return [ctx.emit(m.Select, hit, ctx.emit(pick, data, vals), data)]
    raise ctx.error(f"attribute 'reduction' must be none, add, mul, max or min, got {reduction!r}")


def _reverse(ctx: NodeContext, x: Value, axis: int, rank: int) -> Value:
    full = (1 << rank) - 1
    return ctx.emit(
        a.StridedSlice,
        x,
        begin=[0] * rank,
        end=[0] * rank,
        strides=[-1 if k == axis else 1 for k in range(rank)],
        begin_mask=full,
        end_mask=full,
    )


def _shift(ctx: NodeContext, x: Value, axis: int, rank: int, dim: int, by: int, fill: float) -> Value:
    """``x`` moved ``by`` places up ``axis`` (the first ``by`` entries become ``fill``)."""
    padded = ctx.emit(a.Pad, x, paddings=[p for k in range(rank) for p in ((by, 0) if k == axis else (0, 0))], constant_value=fill)
    return ctx.emit(a.Slice, padded, begin=[0] * rank, size=[dim if k == axis else -1 for k in range(rank)])


@converter_rule("CumProd")
def _cumprod(ctx: NodeContext) -> list[Value]:
    # Prefix products by doubling: after step j each entry holds the product of the 2**j
    # entries ending at it (Hillis and Steele), log2(n) elementwise products in all.
    x = ctx.input(0)
    rank = ctx.rank(x)
    axis_a = ctx.const_input(1, "axis")
    assert axis_a is not None
    axis = _axis(ctx, int(axis_a.reshape(-1)[0]), rank)
    dim = ctx.static_shape(x)[axis]
    reverse = bool(ctx.attr("reverse", 0))
    y = _reverse(ctx, x, axis, rank) if reverse else x
    if ctx.attr("exclusive", 0):
        y = _shift(ctx, y, axis, rank, dim, 1, 1.0)
    step = 1
    while step < dim:
        y = ctx.emit(m.Mul, y, _shift(ctx, y, axis, rank, dim, step, 1.0))
        step *= 2
    if reverse:
        y = _reverse(ctx, y, axis, rank)
    if y is x:
        y = ctx.emit(a.Identity, x)
    return [y]


@converter_rule("TopK")
def _top_k(ctx: NodeContext) -> list[Value]:
    # k rounds of arg-extreme: each picks the next element (ties to the lower index, as ONNX
    # sorts) and masks it out. The cost is k passes over the axis.
    x = ctx.input(0)
    rank = ctx.rank(x)
    k_a = ctx.const_input(1, "K")
    assert k_a is not None
    k = int(k_a.reshape(-1)[0])
    axis = _axis(ctx, ctx.attr("axis", -1), rank)
    dim = ctx.static_shape(x)[axis]
    largest = bool(ctx.attr("largest", 1))
    dt = ctx.ty(x).dtype
    if not dt.is_numeric:
        raise ctx.unsupported(f"TopK of {dt.name} tensors")
    info = np.finfo(dt.numpy) if dt.is_floating else np.iinfo(dt.numpy)
    used = -np.inf if dt.is_floating and largest else np.inf if dt.is_floating else info.min if largest else info.max
    arg, red = (m.ArgMax, m.ReduceMax) if largest else (m.ArgMin, m.ReduceMin)
    cur = x
    values, indices = [], []
    for _ in range(k):
        idx = ctx.emit(arg, cur, axis=axis, output_type=DType.int64)
        values.append(ctx.emit(red, cur, axes=[axis], keepdims=True))
        indices.append(ctx.emit(a.ExpandDims, idx, axis=axis))
        hit = ctx.emit(a.OneHot, idx, depth=dim, axis=axis, dtype=DType.bool)
        cur = ctx.emit(m.Select, hit, ctx.scalar(used, x, "used"), cur)
    if k == 0:
        empty = [0 if i == axis else d for i, d in enumerate(ctx.static_shape(x))]
        return [ctx.emit(a.Zeros, shape=empty, dtype=dt), ctx.emit(a.Zeros, shape=empty, dtype=DType.int64)]
    if k == 1:
        return [values[0], indices[0]]
    return [ctx.emit(a.Concat, values, axis=axis), ctx.emit(a.Concat, indices, axis=axis)]


@converter_rule("GatherND")
def _gather_nd(ctx: NodeContext) -> list[Value]:
    # Each index tuple becomes one linear index into data flattened over the batch dims and
    # the k indexed dims; one gather then picks the slices.
    data, indices = ctx.input(0), ctx.input(1)
    d_shape = ctx.static_shape(data, "data")
    i_shape = ctx.static_shape(indices, "indices")
    b = ctx.attr("batch_dims", 0)
    k = i_shape[-1]
    indexed = d_shape[b : b + k]
    if ctx.ty(indices).dtype is not DType.int64:
        indices = ctx.emit(m.Cast, indices, dtype=DType.int64)
    dims = ctx.constant(np.array(indexed, np.int64), "dims")
    neg = ctx.emit(m.Less, indices, ctx.scalar(0, indices, "zero"))
    indices = ctx.emit(m.Select, neg, ctx.emit(m.Add, indices, dims), indices)
    strides = np.array([math.prod(indexed[j + 1 :]) for j in range(k)], np.int64)
    linear = ctx.emit(m.ReduceSum, ctx.emit(m.Mul, indices, ctx.constant(strides, "strides")), axes=[-1])
    if b:
        batch = d_shape[:b]
        offsets = (np.arange(math.prod(batch), dtype=np.int64) * math.prod(indexed)).reshape(
            list(batch) + [1] * (len(i_shape) - 1 - b)
        )
        linear = ctx.emit(m.Add, linear, ctx.constant(offsets, "batch_offsets"))
    flat = ctx.emit(a.Reshape, data, shape=[-1, *d_shape[b + k :]])
    return [ctx.emit(a.Gather, flat, linear, axis=0)]


@converter_rule("Compress")
def _compress(ctx: NodeContext) -> list[Value]:
    # The result's size depends on the condition's values, so the condition must be known
    # when importing (the ONNX backend specializes runs on it); the kept positions are gathered.
    x = ctx.input(0)
    cond = ctx.const_input(1, "condition")
    assert cond is not None
    keep = np.flatnonzero(cond.reshape(-1)).astype(np.int64)
    axis = ctx.attr("axis", None)
    if axis is None:
        x = ctx.emit(a.Reshape, x, shape=[-1])
        axis = 0
    axis = _axis(ctx, axis, ctx.rank(x))
    return [ctx.emit(a.Gather, x, ctx.constant(keep, "kept"), axis=axis)]


@converter_rule("ScatterND")
def _scatter_nd(ctx: NodeContext) -> list[Value]:
    # data is viewed as [P, rest...] over its k indexed dims; each index tuple is a linear
    # position p, and a one-hot mask [M, P] routes the M update slices to their positions.
    data, indices, updates = ctx.input(0), ctx.input(1), ctx.input(2)
    d_shape = ctx.static_shape(data, "data")
    i_shape = ctx.static_shape(indices, "indices")
    k = i_shape[-1]
    indexed, rest = d_shape[:k], d_shape[k:]
    positions, count = math.prod(indexed), math.prod(i_shape[:-1])
    reduction = ctx.attr("reduction", "none")
    if ctx.ty(indices).dtype is not DType.int64:
        indices = ctx.emit(m.Cast, indices, dtype=DType.int64)
    dims = ctx.constant(np.array(indexed, np.int64), "dims")
    indices = ctx.emit(m.Select, ctx.emit(m.Less, indices, ctx.scalar(0, indices, "zero")), ctx.emit(m.Add, indices, dims), indices)
    strides = np.array([math.prod(indexed[j + 1 :]) for j in range(k)], np.int64)
    linear = ctx.emit(m.ReduceSum, ctx.emit(m.Mul, indices, ctx.constant(strides, "strides")), axes=[-1])
    linear = ctx.emit(a.Reshape, linear, shape=[count])
    flat = ctx.emit(a.Reshape, data, shape=[positions, *rest])
    upd = ctx.emit(a.Reshape, updates, shape=[count, 1, *rest])
    mask = ctx.emit(a.OneHot, linear, depth=positions, axis=-1, dtype=DType.bool)
    mask = ctx.emit(a.Reshape, mask, shape=[count, positions] + [1] * len(rest))
    hit = ctx.emit(m.ReduceAny, mask, axes=[0])

    def routed(neutral: float, reduce: type) -> Value:
        return ctx.emit(reduce, ctx.emit(m.Select, mask, upd, ctx.scalar(neutral, data, "neutral")), axes=[0])

    dt = ctx.ty(data).dtype
    if reduction in ("none", "add"):
        summed = routed(0, m.ReduceSum)
        out = ctx.emit(m.Add, flat, summed) if reduction == "add" else ctx.emit(m.Select, hit, summed, flat)
    elif reduction == "mul":
        out = ctx.emit(m.Mul, flat, routed(1, m.ReduceProd))
    elif reduction in ("max", "min"):
        info = np.finfo(dt.numpy) if dt.is_floating else np.iinfo(dt.numpy)
        neutral = (-np.inf if reduction == "max" else np.inf) if dt.is_floating else (info.min if reduction == "max" else info.max)
        red, pick = (m.ReduceMax, m.Maximum) if reduction == "max" else (m.ReduceMin, m.Minimum)
        out = ctx.emit(m.Select, hit, ctx.emit(pick, flat, routed(neutral, red)), flat)
    else:
        raise ctx.error(f"attribute 'reduction' must be none, add, mul, max or min, got {reduction!r}")
    return [ctx.emit(a.Reshape, out, shape=list(d_shape))]
