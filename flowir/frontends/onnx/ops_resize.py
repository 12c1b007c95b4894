"""Converters of ONNX's separable linear resamplings: Resize and DFT.

Resizing is separable: along each resized axis the output is a fixed linear map of the
input, an ``(out, in)`` interpolation matrix that depends only on the sizes and attributes,
so it is computed here (in float64, as ONNX's reference does) and applied in the graph:
``nearest`` as a gather of the chosen indices (any dtype), ``linear`` and ``cubic`` as a
matrix product along the axis (floats).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from flowir.frontends.onnx._context import NodeContext
from flowir.frontends.onnx._registry import converter_rule
from flowir.ir.core import Value
from flowir.ir.ops import array as a
from flowir.ir.ops import math as m

_COORDINATE_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize")


def _source_coords(mode: str, y: np.ndarray, scale: float, n_in: int, n_out: int, roi: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Each output index's coordinate in the input, and (tf_crop_and_resize) which are outside."""
    out_w = scale * n_in
    outside = None
    if mode == "align_corners":
        x = np.zeros_like(y) if out_w == 1 else y * (n_in - 1) / (out_w - 1)
    elif mode == "asymmetric":
        x = y / scale
    elif mode == "tf_crop_and_resize":
        lo, hi = roi  # type: ignore[misc]
        x = np.full_like(y, (hi - lo) * (n_in - 1) / 2) if out_w == 1 else y * (hi - lo) * (n_in - 1) / (out_w - 1)
        x = x + lo * (n_in - 1)
        outside = (x < 0) | (x > n_in - 1)
    elif mode == "pytorch_half_pixel":
        x = np.full_like(y, -0.5) if out_w == 1 else (y + 0.5) / scale - 0.5
    elif mode == "half_pixel":
        x = (y + 0.5) / scale - 0.5
    else:  # half_pixel_symmetric
        offset = n_in / 2 * (1 - n_out / out_w)
        x = offset + (y + 0.5) / scale - 0.5
    return x, outside


def _nearest(rounding: str) -> Callable[[float, float], np.ndarray]:
    def coeffs(ratio: float, scale: float) -> np.ndarray:
        if float(ratio).is_integer():
            return np.array([0.0, 1.0])
        pick_right = {
            "round_prefer_floor": ratio > 0.5,
            "round_prefer_ceil": ratio >= 0.5,
            "floor": False,
            "ceil": True,
        }[rounding]
        return np.array([0.0, 1.0]) if pick_right else np.array([1.0, 0.0])

    return coeffs


def _linear(antialias: bool) -> Callable[[float, float], np.ndarray]:
    def coeffs(ratio: float, scale: float) -> np.ndarray:
        if not antialias:
            return np.array([1 - ratio, ratio])
        s = min(scale, 1.0)
        start = int(np.floor(-1 / s) + 1)
        args = (np.arange(start, start + 2 - 2 * start) - ratio) * s
        c = np.clip(1 - np.abs(args), 0, 1)
        return c / c.sum()

    return coeffs


def _cubic(antialias: bool, A: float) -> Callable[[float, float], np.ndarray]:
    def kernel(x: float) -> float:
        x = abs(x)
        if x <= 1:
            return (A + 2) * x**3 - (A + 3) * x**2 + 1
        if x < 2:
            return A * x**3 - 5 * A * x**2 + 8 * A * x - 4 * A
        return 0.0

    def coeffs(ratio: float, scale: float) -> np.ndarray:
        if not antialias:
            return np.array([kernel(ratio + 1), kernel(ratio), kernel(1 - ratio), kernel(2 - ratio)])
        s = min(scale, 1.0)
        start = int(np.floor(-2 / s) + 1)
        c = np.array([kernel(s * (i - ratio)) for i in range(start, 2 - start)])
        return c / c.sum()

    return coeffs


def resize_matrix(
    n_in: int,
    n_out: int,
    scale: float,
    get_coeffs: Callable[[float, float], np.ndarray],
    coordinate_mode: str,
    exclude_outside: bool,
    roi: tuple[float, float] | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The ``(n_out, n_in)`` matrix mapping an axis of ``n_in`` samples to ``n_out``, and the
    output positions that take the extrapolation value (or ``None``)."""
    y = np.arange(n_out, dtype=np.float64)
    x, outside = _source_coords(coordinate_mode, y, scale, n_in, n_out, roi)
    base = np.floor(x)
    ratios = np.where(x == base, 1.0, x - base)
    mat = np.zeros((n_out, n_in))
    for i in range(n_out):
        c = np.asarray(get_coeffs(float(ratios[i]), scale), dtype=np.float64)
        n = len(c)
        # The n taps nearest x (ties to the smaller index), on an edge-padded axis.
        pad = int(np.ceil(n / 2))
        xp = x[i] + pad
        p = int(np.floor(xp))
        frac = xp - p
        if n % 2 == 0:
            start = p - n // 2 if frac == 0 else p - n // 2 + 1
        else:
            start = p - (n - 1) // 2 + (0 if frac <= 0.5 else 1)
        idx = start + np.arange(n) - pad
        if exclude_outside:
            c = np.where((idx < 0) | (idx >= n_in), 0.0, c)
            total = c.sum()
            c = c / (total if total != 0 else 1.0)
        np.add.at(mat[i], np.clip(idx, 0, n_in - 1), c)
    return mat, outside


@converter_rule("Resize")
def _resize(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    shape = ctx.static_shape(x)
    rank = len(shape)
    mode = ctx.attr("mode", "nearest")
    coordinate_mode = ctx.attr("coordinate_transformation_mode", "half_pixel")
    if coordinate_mode not in _COORDINATE_MODES:
        raise ctx.error(f"unknown coordinate_transformation_mode {coordinate_mode!r}")
    antialias = bool(ctx.attr("antialias", 0))
    if mode == "nearest":
        if antialias:
            raise ctx.error("antialias is not defined for mode 'nearest'")
        get_coeffs = _nearest(ctx.attr("nearest_mode", "round_prefer_floor"))
    elif mode == "linear":
        get_coeffs = _linear(antialias)
    elif mode == "cubic":
        get_coeffs = _cubic(antialias, ctx.attr("cubic_coeff_a", -0.75))
    else:
        raise ctx.error(f"attribute 'mode' must be nearest, linear or cubic, got {mode!r}")
    if mode != "nearest" and not ctx.ty(x).dtype.is_floating:
        raise ctx.unsupported(f"{mode} Resize of {ctx.ty(x).dtype.name} tensors (flowir interpolates floats)")
    axes = ctx.attr("axes", None)
    axes = list(range(rank)) if axes is None else [ax + rank if ax < 0 else ax for ax in axes]
    roi_a = ctx.const_input(1, "roi")
    scales_a = ctx.const_input(2, "scales")
    sizes_a = ctx.const_input(3, "sizes")
    roi = None
    if coordinate_mode == "tf_crop_and_resize":
        if roi_a is None or roi_a.size != 2 * len(axes):
            raise ctx.error("tf_crop_and_resize needs a roi of two entries per resized axis")
        r = roi_a.astype(np.float64).reshape(-1)
        roi = {ax: (float(r[i]), float(r[len(axes) + i])) for i, ax in enumerate(axes)}
    scales = dict.fromkeys(range(rank), 1.0)
    sizes = dict(enumerate(shape))
    if sizes_a is not None and sizes_a.size:
        for ax, n in zip(axes, sizes_a.reshape(-1).tolist()):
            sizes[ax] = int(n)
        factors = {ax: sizes[ax] / shape[ax] for ax in axes}
        policy = ctx.attr("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            pick = min if policy == "not_larger" else max
            s = pick(factors.values())
            factors = dict.fromkeys(axes, s)
            sizes.update({ax: int(s * shape[ax] + 0.5) for ax in axes})
        scales.update(factors)
    elif scales_a is not None and scales_a.size:
        for ax, s in zip(axes, scales_a.reshape(-1).tolist()):
            scales[ax] = float(s)
            sizes[ax] = int(s * shape[ax])
    else:
        raise ctx.error("one of scales and sizes must be given")
    y = x
    for ax in axes:
        n_in, n_out = shape[ax], sizes[ax]
        ax_roi = None if roi is None else roi[ax]
        if math.isclose(scales[ax], 1.0) and n_out == n_in and (ax_roi is None or ax_roi == (0.0, 1.0)):
            continue
        mat, outside = resize_matrix(n_in, n_out, scales[ax], get_coeffs, coordinate_mode, bool(ctx.attr("exclude_outside", 0)), ax_roi)
        y = _apply_along(ctx, y, ax, rank, mat, mode == "nearest")
        if outside is not None and outside.any():
            mask = ctx.constant(outside.reshape([n_out if k == ax else 1 for k in range(rank)]), "outside")
            fill = ctx.scalar(ctx.attr("extrapolation_value", 0.0), y, "extrapolation_value")
            y = ctx.emit(m.Select, mask, fill, y)
    if y is x:
        y = ctx.emit(a.Identity, x)
    return [y]


def _apply_along(ctx: NodeContext, x: Value, axis: int, rank: int, mat: np.ndarray, nearest: bool) -> Value:
    """``mat`` (out, in) applied to ``x`` along ``axis``."""
    if nearest:
        return ctx.emit(a.Gather, x, ctx.constant(mat.argmax(axis=1).astype(np.int64), "indices"), axis=axis)
    perm = [k for k in range(rank) if k != axis] + [axis]
    moved = ctx.emit(a.Transpose, x, perm=perm)
    weights = ctx.constant(mat.T.astype(ctx.ty(x).dtype.numpy), "weights")
    out = ctx.emit(m.MatMul, moved if rank >= 2 else ctx.emit(a.ExpandDims, moved, axis=0), weights)
    if rank < 2:
        return ctx.emit(a.Squeeze, out, axes=[0])
    inverse = [perm.index(k) for k in range(rank)]
    return ctx.emit(a.Transpose, out, perm=inverse)


@converter_rule("DFT")
def _dft(ctx: NodeContext) -> list[Value]:
    # Every DFT variant is linear in the real and imaginary parts along the axis: its matrices
    # are numpy's FFT of the basis vectors, computed here, and applied as matrix products.
    x = ctx.input(0)
    shape = ctx.static_shape(x)
    rank = len(shape)
    if shape[-1] not in (1, 2):
        raise ctx.error(f"the last dim of the input must be 1 (real) or 2 (complex), got {shape[-1]}")
    if not ctx.ty(x).dtype.is_floating:
        raise ctx.error("the input must be a float tensor")
    length_a = ctx.const_input(1, "dft_length")
    if ctx.opset >= 20:
        axis_a = ctx.const_input(2, "axis")
        axis = -2 if axis_a is None else int(axis_a.reshape(-1)[0])
    else:
        axis = ctx.attr("axis", 1)
    axis = axis % rank
    if axis == rank - 1:
        raise ctx.error("axis must not be the last (real/imaginary) dim")
    inverse, onesided = bool(ctx.attr("inverse", 0)), bool(ctx.attr("onesided", 0))
    n_in = shape[axis]
    if length_a is not None:
        n = int(length_a.reshape(-1)[0])
    else:
        n = 2 * (n_in - 1) if inverse and onesided else n_in

    def transform(v: np.ndarray) -> np.ndarray:
        if not inverse:
            out = np.fft.fft(v, n=n)
            return out[: n // 2 + 1] if onesided else out
        return np.fft.irfft(v, n=n) if onesided else np.fft.ifft(v, n=n)

    eye = np.eye(n_in)
    from_re = np.stack([transform(e) for e in eye], axis=0)  # (n_in, n_out): row j = T(e_j)
    from_im = np.stack([transform(1j * e) for e in eye], axis=0)
    dt = ctx.ty(x).dtype
    perm = [k for k in range(rank - 1) if k != axis] + [axis]
    inverse_perm = [perm.index(k) for k in range(rank - 1)]

    def part(i: int) -> Value:
        p = ctx.emit(a.Slice, x, begin=[0] * (rank - 1) + [i], size=[-1] * (rank - 1) + [1])
        return ctx.emit(a.Transpose, ctx.emit(a.Squeeze, p, axes=[-1]), perm=perm)

    re_in = part(0)
    im_in = part(1) if shape[-1] == 2 else None

    def apply(mat_re: np.ndarray, mat_im: np.ndarray) -> Value:
        y = ctx.emit(m.MatMul, re_in, ctx.constant(mat_re.astype(dt.numpy), "dft_re"))
        if im_in is not None:
            y = ctx.emit(m.Add, y, ctx.emit(m.MatMul, im_in, ctx.constant(mat_im.astype(dt.numpy), "dft_im")))
        return ctx.emit(a.ExpandDims, ctx.emit(a.Transpose, y, perm=inverse_perm), axis=-1)

    out_re = apply(np.real(from_re), np.real(from_im))
    if inverse and onesided:
        return [out_re]
    out_im = apply(np.imag(from_re), np.imag(from_im))
    return [ctx.emit(a.Concat, [out_re, out_im], axis=-1)]
