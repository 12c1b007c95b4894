"""Lowerings of convolution and pooling and their gradients, matching the numpy reference
(``flowir/ir/reference/window.py``).

The window geometry (output sizes, paddings, ``ceil_mode``'s extension, average divisors)
comes from the op definitions and the reference helpers, computed once at trace time from
the static shapes. Convolutions are ``lax.conv_general_dilated`` at full precision (no TF32
on GPU: results must agree with the reference); poolings are ``lax.reduce_window``. The
linear adjoints (of conv in either operand, of average pooling) are ``jax.vjp`` of the
forward lowering. Max pooling's adjoint routes each cotangent to the window's first maximum,
as the reference does, which ``jax.vjp`` of ``reduce_window`` does not promise for ties.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from flowir.backends.jax.lowering import LoweringContext, lowering_rule
from flowir.backends.jax.rules.math import narrow, widen
from flowir.ir import ops
from flowir.ir.ops.nn import ConvWindow, PoolWindow, Window, WindowOp
from flowir.ir.reference.window import pool_counts

__all__: list[str] = []

_SPATIAL = "XYZ"


def _spatial_sizes(op: WindowOp, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape[a] for a in op.spatial_axes(len(shape)))


def _window_dims(op: WindowOp, inner: tuple[int, ...], rank: int) -> tuple[int, ...]:
    """``inner`` (one entry per spatial dim) as a full-rank tuple in ``data_format`` order,
    1 for the batch and channel dims."""
    full = [1] * rank
    for a, v in zip(op.spatial_axes(rank), inner):
        full[a] = v
    return tuple(full)


def _window_padding(op: WindowOp, wins: list[Window], rank: int) -> list[tuple[int, int]]:
    full = [(0, 0)] * rank
    for a, w in zip(op.spatial_axes(rank), wins):
        full[a] = (w.begin, w.end + w.extra)
    return full


# --------------------------------------------------------------------------------------------
# Convolution


def _conv(op: ConvWindow, x: Any, w: Any) -> Any:
    """The convolution of widened ``x`` and ``w`` under ``op``'s attributes."""
    n = x.ndim - 2
    sp = _SPATIAL[:n]
    lhs = f"N{sp}C" if op.channels_last() else f"NC{sp}"
    rhs = f"{sp}IO" if op.filter_format == "HWIO" else f"OI{sp}"
    kernel = op.filter_dims(w.shape)[2]
    wins = op.windows(_spatial_sizes(op, x.shape), kernel)  # type: ignore[arg-type]
    return lax.conv_general_dilated(
        x,
        w,
        window_strides=op.stride_list(n),
        padding=[(win.begin, win.end) for win in wins],
        rhs_dilation=op.dilation_list(n),
        dimension_numbers=(lhs, rhs, lhs),
        feature_group_count=op.groups,
        precision=lax.Precision.HIGHEST,
    )


@lowering_rule(ops.Conv)
def _conv_rule(ctx: LoweringContext, op: ops.Conv, x: Any, w: Any) -> tuple[Any]:
    return (narrow(_conv(op, widen(x), widen(w)), x.dtype),)


@lowering_rule(ops.ConvInputGrad)
def _conv_input_grad(ctx: LoweringContext, op: ops.ConvInputGrad, dy: Any, w: Any, like: Any) -> tuple[Any]:
    g, ww = widen(dy), widen(w)
    _, pullback = jax.vjp(lambda a: _conv(op, a, ww), jnp.zeros(like.shape, g.dtype))
    return (narrow(pullback(g)[0], dy.dtype),)


@lowering_rule(ops.ConvTranspose)
def _conv_transpose(ctx: LoweringContext, op: ops.ConvTranspose, x: Any, w: Any) -> tuple[Any]:
    xw, ww = widen(x), widen(w)
    _, i, kernel = op.filter_dims(w.shape)
    sizes = op.transposed_sizes(_spatial_sizes(op, x.shape), kernel)
    out_shape = op.layout(x.shape[0], i * op.groups, sizes)
    # The transpose of the convolution whose input has the result's shape.
    _, pullback = jax.vjp(lambda a: _conv(op, a, ww), jnp.zeros(out_shape, xw.dtype))
    return (narrow(pullback(xw)[0], x.dtype),)


@lowering_rule(ops.ConvFilterGrad)
def _conv_filter_grad(ctx: LoweringContext, op: ops.ConvFilterGrad, x: Any, dy: Any, like: Any) -> tuple[Any]:
    g, xw = widen(dy), widen(x)
    _, pullback = jax.vjp(lambda b: _conv(op, xw, b), jnp.zeros(like.shape, g.dtype))
    return (narrow(pullback(g)[0], dy.dtype),)


# --------------------------------------------------------------------------------------------
# Pooling


def _lowest(dtype: np.dtype) -> Any:
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _first_windows(y: Any, axes: Sequence[int], wins: Sequence[Window]) -> Any:
    """``y`` cut to each spatial dim's ``out`` windows: ``ceil_mode`` drops a last window that
    starts in the end padding, which ``reduce_window`` would keep."""
    for a, w in zip(axes, wins):
        if y.shape[a] != w.out:
            y = lax.slice_in_dim(y, 0, w.out, axis=a)
    return y


def _reduce_windows(op: PoolWindow, x: Any, init: Any, reducer: Any) -> Any:
    rank = x.ndim
    wins = op.windows(_spatial_sizes(op, x.shape), tuple(op.kernel_shape))
    n = rank - 2
    y = lax.reduce_window(
        x,
        init,
        reducer,
        window_dimensions=_window_dims(op, tuple(op.kernel_shape), rank),
        window_strides=_window_dims(op, op.stride_list(n), rank),
        padding=_window_padding(op, wins, rank),
        window_dilation=_window_dims(op, op.dilation_list(n), rank),
    )
    return _first_windows(y, op.spatial_axes(rank), wins)


def _avg_pool(op: PoolWindow, x: Any, count_include_pad: bool) -> Any:
    """The average pooling of widened ``x``."""
    sizes = _spatial_sizes(op, x.shape)
    wins = op.windows(sizes, tuple(op.kernel_shape))
    counts = pool_counts(op, sizes, wins, count_include_pad)
    if op.channels_last():
        counts = counts[..., None]
    sums = _reduce_windows(op, x, np.array(0, x.dtype), lax.add)
    return sums / jnp.asarray(counts, x.dtype)


@lowering_rule(ops.MaxPool)
def _max_pool(ctx: LoweringContext, op: ops.MaxPool, x: Any) -> tuple[Any]:
    xw = widen(x)
    return (narrow(_reduce_windows(op, xw, np.array(_lowest(xw.dtype), xw.dtype), lax.max), x.dtype),)


@lowering_rule(ops.AvgPool)
def _avg_pool_rule(ctx: LoweringContext, op: ops.AvgPool, x: Any) -> tuple[Any]:
    return (narrow(_avg_pool(op, widen(x), op.count_include_pad), x.dtype),)


@lowering_rule(ops.AvgPoolGrad)
def _avg_pool_grad(ctx: LoweringContext, op: ops.AvgPoolGrad, dy: Any, like: Any) -> tuple[Any]:
    g = widen(dy)
    if any(d > 1 for d in op.dilation_list(like.ndim - 2)):
        return (narrow(_dilated_avg_pool_grad(op, g, like.shape), dy.dtype),)
    _, pullback = jax.vjp(lambda a: _avg_pool(op, a, op.count_include_pad), jnp.zeros(like.shape, g.dtype))
    return (narrow(pullback(g)[0], dy.dtype),)


def _dilated_avg_pool_grad(op: PoolWindow, g: Any, shape: tuple[int, ...]) -> Any:
    """The average pooling's gradient for a dilated window, written out as jax's transpose
    of a windowed sum (pad the cotangent, sum its windows) with an optimization barrier
    between the two: XLA:CPU (jaxlib 0.10.2) folds that pad into a dilated reduce_window
    wrongly (a size-1 dim whose window is padding alone gets the cotangent, not 0)."""
    rank = len(shape)
    n = rank - 2
    sizes = _spatial_sizes(op, shape)
    wins = op.windows(sizes, tuple(op.kernel_shape))
    counts = pool_counts(op, sizes, wins, op.count_include_pad)
    if op.channels_last():
        counts = counts[..., None]
    ct = g / jnp.asarray(counts, g.dtype)
    window = _window_dims(op, tuple(op.kernel_shape), rank)
    strides = _window_dims(op, op.stride_list(n), rank)
    dilation = _window_dims(op, op.dilation_list(n), rank)
    padding = _window_padding(op, wins, rank)
    # The summed windows before ``_first_windows`` cut them (``ceil_mode``): zeros there.
    full = jax.eval_shape(
        lambda a: lax.reduce_window(a, np.array(0, g.dtype), lax.add, window, strides, padding, window_dilation=dilation),
        jax.ShapeDtypeStruct(shape, g.dtype),
    ).shape
    ct = lax.pad(ct, np.array(0, g.dtype), [(0, f - c, 0) for f, c in zip(full, ct.shape)])
    config = []
    for size, k, s, d, (lo, _), out in zip(shape, window, strides, dilation, padding, full):
        span = 1 + d * (k - 1)
        before = span - lo - 1
        after = size + span - 1 - (1 + s * (out - 1) if out else 0) - before
        config.append((before, after, s - 1))
    padded = lax.optimization_barrier(lax.pad(ct, np.array(0, g.dtype), config))
    ones = (1,) * rank
    return lax.reduce_window(padded, np.array(0, g.dtype), lax.add, window, ones, [(0, 0)] * rank, window_dilation=dilation)


def _first_max(a: tuple[Any, Any], b: tuple[Any, Any]) -> tuple[Any, Any]:
    """The larger of two (value, index) pairs; nan is the largest, ties go to the lower index."""
    (va, ia), (vb, ib) = a, b
    nan_a, nan_b = va != va, vb != vb
    take_a = (va > vb) | (nan_a & ~nan_b) | (((va == vb) | (nan_a & nan_b)) & (ia < ib))
    return lax.select(take_a, va, vb), lax.select(take_a, ia, ib)


def _first_max_index(op: PoolWindow, xc: Any) -> tuple[Any, int]:
    """For channels-first widened ``xc``: the index (in its ``(batch, channel)`` plane) of
    each window's first maximum, shaped ``(N, C, out...)``, and the plane's size, which
    stands for padding (a window of padding alone)."""
    batch, channels, *spatial = xc.shape
    cells = math.prod(spatial)
    index = lax.broadcasted_iota(jnp.int32, (batch, channels, cells), 2).reshape(xc.shape)
    n = xc.ndim - 2
    wins = op.windows(tuple(spatial), tuple(op.kernel_shape))
    _, where = lax.reduce_window(
        (xc, index),
        (np.array(_lowest(xc.dtype), xc.dtype), np.array(cells, np.int32)),
        _first_max,
        window_dimensions=(1, 1, *op.kernel_shape),
        window_strides=(1, 1, *op.stride_list(n)),
        padding=[(0, 0), (0, 0), *((w.begin, w.end + w.extra) for w in wins)],
        window_dilation=(1, 1, *op.dilation_list(n)),
    )
    return _first_windows(where, range(2, n + 2), wins), cells


def _planes(op: PoolWindow, *arrays: Any) -> list[Any]:
    """``arrays`` widened and channels first."""
    out = [widen(a) for a in arrays]
    return [jnp.moveaxis(a, -1, 1) for a in out] if op.channels_last() else out


def _restored(op: PoolWindow, y: Any) -> Any:
    return jnp.moveaxis(y, 1, -1) if op.channels_last() else y


def _plane_rows(where: Any) -> Any:
    """The ``(batch, channel)`` plane of each entry of ``where``, as a row index."""
    channels = where.shape[1]
    return lax.broadcasted_iota(jnp.int32, where.shape, 0) * channels + lax.broadcasted_iota(jnp.int32, where.shape, 1)


@lowering_rule(ops.MaxPoolGrad)
def _max_pool_grad(ctx: LoweringContext, op: ops.MaxPoolGrad, x: Any, dy: Any) -> tuple[Any]:
    xc, g = _planes(op, x, dy)
    where, cells = _first_max_index(op, xc)
    planes = jnp.zeros((xc.shape[0] * xc.shape[1], cells), g.dtype)
    # Windows of padding alone point one past the plane: "drop" routes them nowhere.
    dx = planes.at[_plane_rows(where).reshape(-1), where.reshape(-1)].add(g.reshape(-1), mode="drop")
    return (narrow(_restored(op, dx.reshape(xc.shape)), dy.dtype),)


@lowering_rule(ops.MaxPoolGradGrad)
def _max_pool_grad_grad(ctx: LoweringContext, op: ops.MaxPoolGradGrad, x: Any, g: Any) -> tuple[Any]:
    xc, gc = _planes(op, x, g)
    where, cells = _first_max_index(op, xc)
    planes = gc.reshape(xc.shape[0] * xc.shape[1], cells)
    picked = planes.at[_plane_rows(where), where].get(mode="fill", fill_value=0)
    return (narrow(_restored(op, picked), g.dtype),)
