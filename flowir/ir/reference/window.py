"""Reference kernels: convolution and pooling (``nn.conv``, ``nn.max_pool``, ``nn.avg_pool``)
and their gradients (``grad.conv_input_grad``, ``grad.conv_filter_grad``,
``grad.max_pool_grad``, ``grad.avg_pool_grad``).

Every kernel works channels first with an ``OIHW`` filter (other layouts are transposed in
and out), on the input padded once. The windows are a strided view of the padded input of
shape ``(N, C, out..., kernel...)`` (im2col without a copy until it is contracted); a
convolution is one ``einsum`` over it, a pooling one reduction. The adjoints scatter back one
kernel offset at a time: for a fixed offset the windows touch distinct cells, so each step is
a plain strided ``+=`` over all output positions at once.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from flowir.ir import ops
from flowir.ir.core import Operation
from flowir.ir.dtypes import dtype_of
from flowir.ir.ops.nn import ConvWindow, PoolWindow, Window, WindowOp
from flowir.ir.reference._registry import impl_rule
from flowir.ir.reference.math import narrow, widen
from flowir.ir.types import TensorType

__all__ = ["channels_first", "channels_restored", "filter_oihw", "filter_restored", "pool_counts"]

_LETTERS = "ABCDEFHIJKLM"  # einsum labels of the spatial and kernel dims (n, g, c, o are taken)


def channels_first(op: WindowOp, x: np.ndarray) -> np.ndarray:
    """``x`` laid out ``(N, C, spatial...)``."""
    return np.moveaxis(x, -1, 1) if op.channels_last() else x


def channels_restored(op: WindowOp, y: np.ndarray) -> np.ndarray:
    """A channels-first ``y`` back in ``op``'s ``data_format``."""
    return np.moveaxis(y, 1, -1) if op.channels_last() else y


def filter_oihw(op: ConvWindow, w: np.ndarray) -> np.ndarray:
    """The filter ``w`` laid out ``(O, I, spatial...)``."""
    if op.filter_format == "HWIO":
        n = w.ndim - 2
        return np.transpose(w, (n + 1, n, *range(n)))
    return w


def filter_restored(op: ConvWindow, w: np.ndarray) -> np.ndarray:
    """An ``OIHW`` filter back in ``op``'s ``filter_format``."""
    if op.filter_format == "HWIO":
        n = w.ndim - 2
        return np.transpose(w, (*range(2, n + 2), 1, 0))
    return w


def _padded(x: np.ndarray, wins: Sequence[Window], value: float | int) -> np.ndarray:
    pads = [(0, 0), (0, 0)] + [(w.begin, w.end + w.extra) for w in wins]
    return np.pad(x, pads, constant_values=value)


def _patches(xp: np.ndarray, wins: Sequence[Window], kernel: Sequence[int], op: WindowOp) -> np.ndarray:
    """The read-only ``(N, C, out..., kernel...)`` view of the windows of padded ``xp``."""
    n = len(wins)
    strides, dilations = op.stride_list(n), op.dilation_list(n)
    shape = (*xp.shape[:2], *(w.out for w in wins), *kernel)
    step = xp.strides[2:]
    view_strides = (
        *xp.strides[:2],
        *(st * s for st, s in zip(step, strides)),
        *(st * d for st, d in zip(step, dilations)),
    )
    return as_strided(xp, shape, view_strides, writeable=False)


def _scatter(cols: np.ndarray, x_shape: Sequence[int], wins: Sequence[Window], kernel: Sequence[int], op: WindowOp) -> np.ndarray:
    """The adjoint of ``_patches`` then cropping: ``cols`` ``(N, C, out..., kernel...)`` summed
    into an array of the unpadded channels-first ``x_shape``."""
    n = len(wins)
    strides, dilations = op.stride_list(n), op.dilation_list(n)
    padded = (*x_shape[:2], *(size + w.begin + w.end + w.extra for size, w in zip(x_shape[2:], wins)))
    acc = np.zeros(padded, cols.dtype)
    lead = (slice(None),) * (2 + n)
    for offset in itertools.product(*(range(k) for k in kernel)):
        target = tuple(
            slice(o * d, o * d + s * (w.out - 1) + 1, s) for o, d, s, w in zip(offset, dilations, strides, wins)
        )
        acc[(slice(None), slice(None), *target)] += cols[(*lead, *offset)]
    crop = tuple(slice(w.begin, w.begin + size) for size, w in zip(x_shape[2:], wins))
    return acc[(slice(None), slice(None), *crop)]


def _recheck(op: Operation, *arrays: np.ndarray) -> None:
    """``op``'s type rule on the run-time shapes: its own ``ShapeError`` for a window that
    does not fit a dim that was ``None`` when the graph was built."""
    op.infer_type(*(TensorType(dtype_of(a), a.shape) for a in arrays))


def _labels(n: int) -> tuple[str, str]:
    """Einsum labels of ``n`` output spatial dims and of ``n`` kernel dims."""
    return _LETTERS[:n], _LETTERS[n : 2 * n]


# --------------------------------------------------------------------------------------------
# Convolution


def _conv_geometry(op: ConvWindow, x_shape: Sequence[int], w_shape: Sequence[int]) -> list[Window]:
    """The windows of a channels-first ``x_shape`` under an ``OIHW`` filter of ``w_shape``."""
    return op.windows(tuple(x_shape[2:]), tuple(w_shape[2:]))


def _grouped_patches(op: ConvWindow, xc: np.ndarray, wins: list[Window], kernel: Sequence[int]) -> np.ndarray:
    p = _patches(_padded(xc, wins, 0), wins, kernel, op)
    n, c = p.shape[:2]
    return p.reshape(n, op.groups, c // op.groups, *p.shape[2:])


def _grouped(a: np.ndarray, groups: int, axis: int) -> np.ndarray:
    """``a`` with dim ``axis`` split into ``(groups, rest)``."""
    return a.reshape(*a.shape[:axis], groups, a.shape[axis] // groups, *a.shape[axis + 1 :])


@impl_rule(ops.Conv)
def _conv(op: ops.Conv, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, x, w)
    xc, wc = widen(channels_first(op, x)), widen(filter_oihw(op, w))
    kernel = wc.shape[2:]
    wins = _conv_geometry(op, xc.shape, wc.shape)
    sp, ks = _labels(len(kernel))
    patches = _grouped_patches(op, xc, wins, kernel)
    y = np.einsum(f"ngc{sp}{ks},goc{ks}->ngo{sp}", patches, _grouped(wc, op.groups, 0), optimize=True)
    y = y.reshape(y.shape[0], -1, *y.shape[3:])
    return (narrow(channels_restored(op, y), x.dtype),)


def _transposed(op: ConvWindow, gc: np.ndarray, wc: np.ndarray, x_shape: Sequence[int]) -> np.ndarray:
    """The transposed convolution of channels-first ``gc`` with the ``OIHW`` filter ``wc``
    into a channels-first result of ``x_shape`` (the forward convolution's input)."""
    kernel = wc.shape[2:]
    wins = _conv_geometry(op, x_shape, wc.shape)
    sp, ks = _labels(len(kernel))
    cols = np.einsum(
        f"ngo{sp},goc{ks}->ngc{sp}{ks}", _grouped(gc, op.groups, 1), _grouped(wc, op.groups, 0), optimize=True
    )
    cols = cols.reshape(cols.shape[0], -1, *cols.shape[3:])
    return _scatter(cols, x_shape, wins, kernel, op)


@impl_rule(ops.ConvInputGrad)
def _conv_input_grad(op: ops.ConvInputGrad, dy: np.ndarray, w: np.ndarray, like: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, dy, w, like)
    dx = _transposed(op, widen(channels_first(op, dy)), widen(filter_oihw(op, w)), channels_first(op, like).shape)
    return (narrow(channels_restored(op, dx), dy.dtype),)


@impl_rule(ops.ConvTranspose)
def _conv_transpose(op: ops.ConvTranspose, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, x, w)
    xc, wc = widen(channels_first(op, x)), widen(filter_oihw(op, w))
    sizes = op.transposed_sizes(xc.shape[2:], wc.shape[2:])
    out_shape = (xc.shape[0], wc.shape[1] * op.groups, *sizes)
    y = _transposed(op, xc, wc, out_shape)  # type: ignore[arg-type]
    return (narrow(channels_restored(op, y), x.dtype),)


@impl_rule(ops.ConvFilterGrad)
def _conv_filter_grad(op: ops.ConvFilterGrad, x: np.ndarray, dy: np.ndarray, like: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, x, dy, like)
    xc, gc = widen(channels_first(op, x)), widen(channels_first(op, dy))
    w_shape = filter_oihw(op, like).shape
    kernel = w_shape[2:]
    wins = _conv_geometry(op, xc.shape, w_shape)
    sp, ks = _labels(len(kernel))
    patches = _grouped_patches(op, xc, wins, kernel)
    dw = np.einsum(f"ngc{sp}{ks},ngo{sp}->goc{ks}", patches, _grouped(gc, op.groups, 1), optimize=True)
    dw = dw.reshape(-1, *dw.shape[2:])
    return (narrow(filter_restored(op, dw), dy.dtype),)


# --------------------------------------------------------------------------------------------
# Pooling


def _lowest(dtype: np.dtype) -> float | int:
    return -np.inf if dtype.kind == "f" else int(np.iinfo(dtype).min)


def pool_counts(op: PoolWindow, sizes: Sequence[int], wins: Sequence[Window], count_include_pad: bool) -> np.ndarray:
    """The divisor of each average-pooling window, of the output's spatial shape: the window's
    cells inside the input, or inside the input and its padding (never ``ceil_mode``'s
    extension); at least 1, so that a window of padding alone averages to 0."""
    n = len(sizes)
    strides, dilations = op.stride_list(n), op.dilation_list(n)
    counts = np.ones((), np.int64)
    for size, w, k, s, d in zip(sizes, wins, op.kernel_shape, strides, dilations):
        padded = np.zeros(size + w.begin + w.end + w.extra, np.int64)
        if count_include_pad:
            padded[: size + w.begin + w.end] = 1
        else:
            padded[w.begin : w.begin + size] = 1
        cells = np.arange(w.out)[:, None] * s + np.arange(k)[None, :] * d
        counts = np.multiply.outer(counts, padded[cells].sum(axis=1))
    return np.maximum(counts, 1)


def _pool_geometry(op: PoolWindow, x_shape: Sequence[int]) -> list[Window]:
    return op.windows(tuple(x_shape[2:]), tuple(op.kernel_shape))


@impl_rule(ops.MaxPool)
def _max_pool(op: ops.MaxPool, x: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, x)
    xc = widen(channels_first(op, x))
    wins = _pool_geometry(op, xc.shape)
    n = len(wins)
    patches = _patches(_padded(xc, wins, _lowest(xc.dtype)), wins, op.kernel_shape, op)
    y = np.max(patches, axis=tuple(range(-n, 0)))
    return (narrow(channels_restored(op, y), x.dtype),)


@impl_rule(ops.AvgPool)
def _avg_pool(op: ops.AvgPool, x: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, x)
    xc = widen(channels_first(op, x))
    wins = _pool_geometry(op, xc.shape)
    n = len(wins)
    patches = _patches(_padded(xc, wins, 0), wins, op.kernel_shape, op)
    counts = pool_counts(op, xc.shape[2:], wins, op.count_include_pad)
    with np.errstate(all="ignore"):
        y = np.sum(patches, axis=tuple(range(-n, 0))) / counts.astype(xc.dtype)
    return (narrow(channels_restored(op, y), x.dtype),)


@impl_rule(ops.AvgPoolGrad)
def _avg_pool_grad(op: ops.AvgPoolGrad, dy: np.ndarray, like: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, dy, like)
    gc = widen(channels_first(op, dy))
    x_shape = channels_first(op, like).shape
    wins = _pool_geometry(op, x_shape)
    n = len(wins)
    counts = pool_counts(op, x_shape[2:], wins, op.count_include_pad)
    with np.errstate(all="ignore"):
        share = gc / counts.astype(gc.dtype)
    cols = np.broadcast_to(share[(..., *(None,) * n)], (*share.shape, *op.kernel_shape))
    dx = _scatter(cols, x_shape, wins, op.kernel_shape, op)
    return (narrow(channels_restored(op, dx), dy.dtype),)


def _first_max(op: PoolWindow, xc: np.ndarray, wins: list[Window]) -> np.ndarray:
    """The flat kernel offset of each window's first maximum of channels-first ``xc`` (the
    first nan, where there is one), of shape ``(N, C, out...)``."""
    kernel = tuple(op.kernel_shape)
    patches = _patches(_padded(xc, wins, _lowest(xc.dtype)), wins, kernel, op)
    flat = patches.reshape(*patches.shape[: -len(kernel)], math.prod(kernel))
    return np.argmax(flat, axis=-1)


@impl_rule(ops.MaxPoolGradGrad)
def _max_pool_grad_grad(op: ops.MaxPoolGradGrad, x: np.ndarray, g: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, x, g)
    xc, gc = widen(channels_first(op, x)), widen(channels_first(op, g))
    wins = _pool_geometry(op, xc.shape)
    kernel = tuple(op.kernel_shape)
    first = _first_max(op, xc, wins)
    # Padding cells read 0: a window whose first maximum is padding takes nothing.
    patches = _patches(_padded(gc, wins, 0), wins, kernel, op)
    flat = patches.reshape(*patches.shape[: -len(kernel)], math.prod(kernel))
    picked = np.take_along_axis(flat, first[..., None], axis=-1)[..., 0]
    return (narrow(channels_restored(op, picked), g.dtype),)


@impl_rule(ops.MaxPoolGrad)
def _max_pool_grad(op: ops.MaxPoolGrad, x: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, x, dy)
    xc, gc = widen(channels_first(op, x)), widen(channels_first(op, dy))
    wins = _pool_geometry(op, xc.shape)
    kernel = tuple(op.kernel_shape)
    first = _first_max(op, xc, wins)
    cols = np.where(np.arange(math.prod(kernel)) == first[..., None], gc[..., None], 0).astype(gc.dtype)
    dx = _scatter(cols.reshape(*cols.shape[:-1], *kernel), xc.shape, wins, kernel, op)
    return (narrow(channels_restored(op, dx), dy.dtype),)
