"""Converters of ONNX reductions (ReduceX, ArgMax/ArgMin) and the global pools."""

from __future__ import annotations

from collections.abc import Callable

from flowir.frontends.onnx._context import NodeContext
from flowir.frontends.onnx._registry import converter_rule
from flowir.ir.core import Value
from flowir.ir.dtypes import DType
from flowir.ir.ops import array as a
from flowir.ir.ops import math as m


def reduce_axes(ctx: NodeContext) -> tuple[int, ...] | None:
    """The axes to reduce: ``None`` for all, ``()`` for none (``noop_with_empty_axes``).

    Older opsets give ``axes`` as an attribute, newer ones as input 1; either is read.
    """
    axes = ctx.attr("axes", None)
    if axes is None:
        axes = ctx.const_ints(1, "axes")
    if not axes:
        return () if ctx.attr("noop_with_empty_axes", 0) else None
    return tuple(axes)


#: The reductions that ONNX also defines on bool, and their flowir counterparts.
_BOOL_REDUCTIONS: dict[type, type] = {m.ReduceMax: m.ReduceAny, m.ReduceMin: m.ReduceAll}


def _reduction(op: type, pre: Callable[[NodeContext, Value], Value] | None, post: Callable[[NodeContext, Value], Value] | None) -> Callable[[NodeContext], list[Value]]:
    def convert(ctx: NodeContext) -> list[Value]:
        x = ctx.input(0)
        red = _BOOL_REDUCTIONS.get(op, op) if ctx.ty(x).dtype is DType.bool else op
        axes = reduce_axes(ctx)
        keepdims = bool(ctx.attr("keepdims", 1))
        if pre is not None:
            x = pre(ctx, x)
        y = x if axes == () else ctx.emit(red, x, axes=axes, keepdims=keepdims)
        if post is not None and axes != ():
            y = post(ctx, y)
        if y is ctx.optional_input(0):
            y = ctx.emit(a.Identity, y)
        return [y]

    return convert


def _abs(ctx: NodeContext, x: Value) -> Value:
    return ctx.emit(m.Abs, x)


def _square(ctx: NodeContext, x: Value) -> Value:
    return ctx.emit(m.Square, x)


def _exp(ctx: NodeContext, x: Value) -> Value:
    return ctx.emit(m.Exp, x)


def _log(ctx: NodeContext, x: Value) -> Value:
    return ctx.emit(m.Log, x)


def _sqrt(ctx: NodeContext, x: Value) -> Value:
    return ctx.emit(m.Sqrt, x)


converter_rule("ReduceSum")(_reduction(m.ReduceSum, None, None))
converter_rule("ReduceMean")(_reduction(m.ReduceMean, None, None))
converter_rule("ReduceMax")(_reduction(m.ReduceMax, None, None))
converter_rule("ReduceMin")(_reduction(m.ReduceMin, None, None))
converter_rule("ReduceProd")(_reduction(m.ReduceProd, None, None))
converter_rule("ReduceL1")(_reduction(m.ReduceSum, _abs, None))
converter_rule("ReduceL2")(_reduction(m.ReduceSum, _square, _sqrt))
converter_rule("ReduceSumSquare")(_reduction(m.ReduceSum, _square, None))
converter_rule("ReduceLogSum")(_reduction(m.ReduceSum, None, _log))


@converter_rule("ReduceLogSumExp")
def _reduce_log_sum_exp(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    axes = reduce_axes(ctx)
    if axes == ():
        return [ctx.emit(m.Log, ctx.emit(m.Exp, x))]
    keepdims = bool(ctx.attr("keepdims", 1))
    # Subtracting the maximum keeps exp from overflowing; an all -inf slice keeps its -inf.
    peak = ctx.emit(m.ReduceMax, x, axes=axes, keepdims=True)
    finite = ctx.emit(m.Equal, ctx.emit(m.Sub, peak, peak), ctx.scalar(0, x, "zero"))
    shift = ctx.emit(m.Select, finite, peak, ctx.emit(a.ZerosLike, peak))
    total = ctx.emit(m.ReduceSum, ctx.emit(m.Exp, ctx.emit(m.Sub, x, shift)), axes=axes, keepdims=keepdims)
    if not keepdims:
        shift = ctx.emit(m.ReduceMax, shift, axes=axes, keepdims=False)
    return [ctx.emit(m.Add, ctx.emit(m.Log, total), shift)]


def _arg_reduction(op: type) -> Callable[[NodeContext], list[Value]]:
    def convert(ctx: NodeContext) -> list[Value]:
        x = ctx.input(0)
        rank = ctx.rank(x)
        axis = ctx.attr("axis", 0)
        axis = axis + rank if axis < 0 else axis
        keepdims = bool(ctx.attr("keepdims", 1))
        if ctx.attr("select_last_index", 0):
            # The last extreme is the first one of the reversed axis.
            dim = ctx.static_shape(x)[axis]
            rev = ctx.emit(
                a.StridedSlice,
                x,
                begin=[0] * rank,
                end=[0] * rank,
                strides=[-1 if i == axis else 1 for i in range(rank)],
                begin_mask=(1 << rank) - 1,
                end_mask=(1 << rank) - 1,
            )
            idx = ctx.emit(m.Sub, ctx.scalar(dim - 1, DType.int64, "last"), ctx.emit(op, rev, axis=axis))
        else:
            idx = ctx.emit(op, x, axis=axis)
        if keepdims:
            idx = ctx.emit(a.ExpandDims, idx, axis=axis)
        return [idx]

    return convert


converter_rule("ArgMax")(_arg_reduction(m.ArgMax))
converter_rule("ArgMin")(_arg_reduction(m.ArgMin))


def _global_pool(op: type, pre: Callable[[NodeContext, Value], Value] | None = None) -> Callable[[NodeContext], list[Value]]:
    def convert(ctx: NodeContext) -> list[Value]:
        x = ctx.input(0)
        rank = ctx.rank(x)
        return [ctx.emit(op, x if pre is None else pre(ctx, x), axes=tuple(range(2, rank)), keepdims=True)]

    return convert


converter_rule("GlobalAveragePool")(_global_pool(m.ReduceMean))
converter_rule("GlobalMaxPool")(_global_pool(m.ReduceMax))


@converter_rule("GlobalLpPool")
def _global_lp_pool(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    p = ctx.attr("p", 2)
    rank = ctx.rank(x)
    powed = ctx.emit(m.Pow, ctx.emit(m.Abs, x), ctx.scalar(p, x, "p"))
    total = ctx.emit(m.ReduceSum, powed, axes=tuple(range(2, rank)), keepdims=True)
    return [ctx.emit(m.Pow, total, ctx.scalar(1.0 / p, x, "inv_p"))]
