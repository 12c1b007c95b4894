"""Export of the nn dialect. The cross-entropy losses have no ONNX op: ``legalize`` writes
them with LogSoftmax, Mul and ReduceSum before the rules run (``flowir.passes.legalize``)."""

from __future__ import annotations

import math

import numpy as np

from flowir.backends.onnx.exporter import PRIMARY_OPS, ExportContext, export_rule
from flowir.ir import ops
from flowir.ir.core import Operation
from flowir.ir.dtypes import DType
from flowir.ir.errors import UnsupportedOpError

__all__: list[str] = []


def _dtype(ctx: ExportContext, op: Operation) -> DType:
    return ctx.dtype(op.operands[0])


@export_rule(ops.Relu)
def _relu(ctx: ExportContext, op: Operation, x: str) -> list[str]:
    dtype = _dtype(ctx, op)
    if dtype.is_floating:
        return ctx.final("Relu", [x])
    return ctx.final("Max", [x, ctx.scalar(0, dtype, "zero")])


@export_rule(ops.Softplus)
def _softplus(ctx: ExportContext, op: Operation, x: str) -> list[str]:
    # max(x, 0) + log(1 + exp(-|x|)): exact where exp(x) would overflow, and in every float
    # dtype (onnxruntime implements Softplus for float32 only).
    dtype = _dtype(ctx, op)
    tail = ctx.one("Exp", [ctx.one("Neg", [ctx.one("Abs", [x])])])
    log = ctx.one("Log", [ctx.one("Add", [tail, ctx.scalar(1, dtype, "one")])])
    return ctx.final("Add", [ctx.one("Relu", [x]), log])


@export_rule(ops.Softmax, ops.LogSoftmax)
def _softmax(ctx: ExportContext, op: Operation, x: str) -> list[str]:
    return ctx.final("Softmax" if type(op) is ops.Softmax else "LogSoftmax", [x], axis=op.axis)  # type: ignore[attr-defined]


@export_rule(ops.nn.Elu)
def _elu(ctx: ExportContext, op: Operation, x: str) -> list[str]:
    return ctx.final("Elu", [x], alpha=op.alpha)  # type: ignore[attr-defined]


@export_rule(ops.nn.LeakyRelu)
def _leaky_relu(ctx: ExportContext, op: Operation, x: str) -> list[str]:
    return ctx.final("LeakyRelu", [x], alpha=op.alpha)  # type: ignore[attr-defined]


@export_rule(ops.nn.Gelu)
def _gelu(ctx: ExportContext, op: Operation, x: str) -> list[str]:
    approximate = op.approximate  # type: ignore[attr-defined]
    if ctx.opset >= 20:
        return ctx.final("Gelu", [x], approximate=approximate)
    dtype = _dtype(ctx, op)
    half = ctx.one("Mul", [x, ctx.scalar(0.5, dtype, "half")])
    if approximate == "tanh":
        cube = ctx.one("Mul", [ctx.one("Mul", [x, x]), x])
        inner = ctx.one("Add", [x, ctx.one("Mul", [cube, ctx.scalar(0.044715, dtype, "c")])])
        t = ctx.one("Tanh", [ctx.one("Mul", [inner, ctx.scalar(math.sqrt(2 / math.pi), dtype, "k")])])
    else:
        t = ctx.one("Erf", [ctx.one("Mul", [x, ctx.scalar(1 / math.sqrt(2), dtype, "k")])])
    return ctx.final("Mul", [half, ctx.one("Add", [t, ctx.scalar(1, dtype, "one")])])


# --------------------------------------------------------------------------------------------
# Convolution and pooling: ONNX computes channels first with OIHW filters, so channels-last
# data and HWIO filters are transposed around the node.


def _channels_first(ctx: ExportContext, op: Operation, x: str) -> tuple[str, int]:
    """``x`` in NC... layout, and its rank."""
    rank = op.operands[0].type.rank  # type: ignore[attr-defined]
    if rank is None:
        raise UnsupportedOpError("a convolution or pooling of unknown rank does not export")
    if op.data_format == "NHWC":  # type: ignore[attr-defined]
        x = ctx.one("Transpose", [x], perm=[0, rank - 1, *range(1, rank - 1)])
    return x, rank


def _window_attrs(op: Operation, spatial: int) -> dict[str, object]:
    padding = op.padding  # type: ignore[attr-defined]
    attrs: dict[str, object] = {
        "strides": list(op.strides or (1,) * spatial),  # type: ignore[attr-defined]
    }
    if padding in ("SAME_UPPER", "SAME_LOWER"):
        attrs["auto_pad"] = padding
    else:
        pads = list(op.pads or (0,) * (2 * spatial)) if padding == "EXPLICIT" else [0] * (2 * spatial)  # type: ignore[attr-defined]
        attrs["pads"] = pads[0::2] + pads[1::2]
    return attrs


def _finish(ctx: ExportContext, op: Operation, kind: str, inputs: list[str], rank: int, **attrs: object) -> list[str]:
    if op.data_format != "NHWC":  # type: ignore[attr-defined]
        return ctx.final(kind, inputs, **attrs)
    y = ctx.one(kind, inputs, **attrs)
    return ctx.final("Transpose", [y], perm=[0, *range(2, rank), 1])


@export_rule(ops.nn.Conv, ops.nn.ConvTranspose)
def _conv(ctx: ExportContext, op: Operation, x: str, w: str) -> list[str]:
    # A transposed convolution's filter is laid out as its forward convolution's, which is
    # ONNX ConvTranspose's W layout once HWIO is moved to OIHW.
    x, rank = _channels_first(ctx, op, x)
    if op.filter_format == "HWIO":  # type: ignore[attr-defined]
        w = ctx.one("Transpose", [w], perm=[rank - 1, rank - 2, *range(rank - 2)])
    spatial = rank - 2
    attrs = _window_attrs(op, spatial)
    attrs["dilations"] = list(op.dilations or (1,) * spatial)  # type: ignore[attr-defined]
    attrs["group"] = op.groups  # type: ignore[attr-defined]
    if type(op) is ops.nn.ConvTranspose:
        attrs["output_padding"] = list(op.output_padding or (0,) * spatial)  # type: ignore[attr-defined]
        return _finish(ctx, op, "ConvTranspose", [x, w], rank, **attrs)
    return _finish(ctx, op, "Conv", [x, w], rank, **attrs)


@export_rule(ops.nn.MaxPool, ops.nn.AvgPool)
def _pool(ctx: ExportContext, op: Operation, x: str) -> list[str]:
    x, rank = _channels_first(ctx, op, x)
    spatial = rank - 2
    attrs = _window_attrs(op, spatial)
    attrs["kernel_shape"] = list(op.kernel_shape)  # type: ignore[attr-defined]
    attrs["ceil_mode"] = int(op.ceil_mode)  # type: ignore[attr-defined]
    dilations = list(op.dilations or (1,) * spatial)  # type: ignore[attr-defined]
    if type(op) is ops.nn.MaxPool:
        return _finish(ctx, op, "MaxPool", [x], rank, dilations=dilations, **attrs)
    if any(d != 1 for d in dilations):
        if ctx.opset < 19:
            raise UnsupportedOpError(f"a dilated average pool needs opset 19 or newer (exporting opset {ctx.opset})")
        attrs["dilations"] = dilations
    return _finish(ctx, op, "AveragePool", [x], rank, count_include_pad=int(op.count_include_pad), **attrs)  # type: ignore[attr-defined]


PRIMARY_OPS.update(
    {
        ops.Softplus: "Exp",
        ops.Softmax: "Softmax",
        ops.LogSoftmax: "LogSoftmax",
        ops.nn.Elu: "Elu",
        ops.nn.LeakyRelu: "LeakyRelu",
        ops.nn.Gelu: "Erf",
        ops.nn.Conv: "Conv",
        ops.nn.ConvTranspose: "ConvTranspose",
        ops.nn.MaxPool: "MaxPool",
        ops.nn.AvgPool: "AveragePool",
    }
)


@export_rule(ops.nn.ResizeNearest)
def _resize_nearest(ctx: ExportContext, op: Operation, x: str) -> list[str]:
    mode = op.coordinate_transformation_mode  # type: ignore[attr-defined]
    nearest = op.nearest_mode  # type: ignore[attr-defined]
    if mode == "tf_half_pixel_for_nn":
        # ONNX dropped this mode; its coordinate is half_pixel's plus 0.5, so flooring it is
        # rounding half_pixel's with ties up. Other roundings of it have no ONNX spelling.
        if nearest != "floor":
            raise UnsupportedOpError(f"coordinate_transformation_mode {mode!r} exports with nearest_mode 'floor' only")
        mode, nearest = "half_pixel", "round_prefer_ceil"
    if op.scales is not None:  # type: ignore[attr-defined]
        inputs = [x, "", ctx.const(np.asarray(op.scales, dtype=np.float32), "scales")]  # type: ignore[attr-defined]
    else:
        inputs = [x, "", "", ctx.ints(op.sizes, "sizes")]  # type: ignore[attr-defined]
    return ctx.final("Resize", inputs, mode="nearest", coordinate_transformation_mode=mode, nearest_mode=nearest)
