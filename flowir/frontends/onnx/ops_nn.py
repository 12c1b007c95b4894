"""Converters of ONNX neural-network ops: matmul/Gemm, softmax family, clipping,
normalizations, convolution and pooling, and the classification losses."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from flowir.frontends.onnx._context import NodeContext
from flowir.frontends.onnx._registry import converter_rule
from flowir.ir.core import Value
from flowir.ir.dtypes import DType
from flowir.ir.ops import array as a
from flowir.ir.ops import math as m
from flowir.ir.ops import nn


def _axis(ctx: NodeContext, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise ctx.error(f"axis {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


@converter_rule("MatMul")
def _matmul(ctx: NodeContext) -> list[Value]:
    x, y = ctx.input(0), ctx.input(1)
    rx, ry = ctx.rank(x, "A"), ctx.rank(y, "B")
    # numpy's 1-D rules: a vector operand gets a unit dim that the result then drops.
    if rx == 1:
        x = ctx.emit(a.ExpandDims, x, axis=0)
    if ry == 1:
        y = ctx.emit(a.ExpandDims, y, axis=-1)
    out = ctx.emit(m.MatMul, x, y)
    if rx == 1:
        out = ctx.emit(a.Squeeze, out, axes=[-1 if ry == 1 else -2])
    if ry == 1:
        out = ctx.emit(a.Squeeze, out, axes=[-1])
    return [out]


@converter_rule("Gemm")
def _gemm(ctx: NodeContext) -> list[Value]:
    x, w, c = ctx.input(0), ctx.input(1), ctx.optional_input(2)
    alpha, beta = ctx.attr("alpha", 1.0), ctx.attr("beta", 1.0)
    y = ctx.emit(m.MatMul, x, w, transpose_a=bool(ctx.attr("transA", 0)), transpose_b=bool(ctx.attr("transB", 0)))
    if alpha != 1.0:
        y = ctx.emit(m.Mul, y, ctx.scalar(alpha, y, "alpha"))
    if c is not None:
        if beta != 1.0:
            c = ctx.emit(m.Mul, c, ctx.scalar(beta, c, "beta"))
        y = ctx.emit(m.Add, y, c)
    return [y]


def _softmax(op: type) -> Callable[[NodeContext], list[Value]]:
    def convert(ctx: NodeContext) -> list[Value]:
        return [ctx.emit(op, ctx.input(0), axis=ctx.attr("axis", -1))]

    return convert


converter_rule("Softmax")(_softmax(nn.Softmax))
converter_rule("LogSoftmax")(_softmax(nn.LogSoftmax))


@converter_rule("Hardmax")
def _hardmax(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    rank = ctx.rank(x)
    axis = _axis(ctx, ctx.attr("axis", -1), rank)
    depth = ctx.ty(x).shape[axis]  # type: ignore[index]
    if depth is None:
        raise ctx.dynamic_error(x, f"Hardmax needs the size of axis {axis} known")
    idx = ctx.emit(m.ArgMax, x, axis=axis)
    return [ctx.emit(a.OneHot, idx, depth=depth, axis=axis, dtype=ctx.ty(x).dtype)]


@converter_rule("Clip")
def _clip(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    y = x
    lo, hi = ctx.optional_input(1), ctx.optional_input(2)
    if lo is None and ctx.has_attr("min"):
        lo = ctx.scalar(ctx.attr("min"), x, "min")
    if hi is None and ctx.has_attr("max"):
        hi = ctx.scalar(ctx.attr("max"), x, "max")
    if lo is not None:
        y = ctx.emit(m.Maximum, y, lo)
    if hi is not None:
        y = ctx.emit(m.Minimum, y, hi)
    if y is x:
        y = ctx.emit(a.Identity, x)
    return [y]


@converter_rule("Dropout")
def _dropout(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    training = ctx.const_input(2, "training_mode")
    if training is not None and bool(training.reshape(-1)[0]):
        raise ctx.unsupported("Dropout in training mode draws ONNX's random mask, which flowir cannot reproduce")
    y = ctx.emit(a.Identity, x)
    mask = ctx.emit(a.OnesLike, ctx.emit(m.Equal, x, x)) if ctx.output_wanted(1) else None
    return [y, mask]


# --------------------------------------------------------------------------------------------
# Normalizations


def _normalize(ctx: NodeContext, x: Value, axes: tuple[int, ...], eps: float) -> tuple[Value, Value, Value]:
    """``(x - mean) / sqrt(var + eps)`` over ``axes``, with the mean and ``1/sqrt(var + eps)``
    (both keeping the reduced dims)."""
    mean = ctx.emit(m.ReduceMean, x, axes=axes, keepdims=True)
    centered = ctx.emit(m.Sub, x, mean)
    var = ctx.emit(m.ReduceMean, ctx.emit(m.Square, centered), axes=axes, keepdims=True)
    inv = ctx.emit(m.Rsqrt, ctx.emit(m.Add, var, ctx.scalar(eps, x, "epsilon")))
    return ctx.emit(m.Mul, centered, inv), mean, inv


def _channel_param(ctx: NodeContext, p: Value, rank: int) -> Value:
    """A per-channel ``[C]`` parameter shaped ``[C, 1, ...]`` to broadcast against NC... data."""
    return ctx.emit(a.Reshape, p, shape=[-1] + [1] * (rank - 2))


@converter_rule("BatchNormalization")
def _batch_norm(ctx: NodeContext) -> list[Value]:
    x, scale, bias, mean, var = (ctx.input(i) for i in range(5))
    rank = ctx.rank(x)
    eps = ctx.attr("epsilon", 1e-5)
    outputs: list[Value | None] = []
    if ctx.attr("training_mode", 0):
        # Normalize with the batch's statistics; the running ones move towards them.
        axes = tuple(k for k in range(rank) if k != 1)
        batch_mean = ctx.emit(m.ReduceMean, x, axes=axes)
        centered = ctx.emit(m.Sub, x, _channel_param(ctx, batch_mean, rank))
        batch_var = ctx.emit(m.ReduceMean, ctx.emit(m.Square, centered), axes=axes)
        momentum = ctx.attr("momentum", 0.9)
        keep, take = ctx.scalar(momentum, mean, "momentum"), ctx.scalar(1 - momentum, mean, "one_minus_momentum")
        outputs = [
            ctx.emit(m.Add, ctx.emit(m.Mul, mean, keep), ctx.emit(m.Mul, batch_mean, take)),
            ctx.emit(m.Add, ctx.emit(m.Mul, var, keep), ctx.emit(m.Mul, batch_var, take)),
        ]
        mean, var = batch_mean, batch_var
    inv = ctx.emit(m.Rsqrt, ctx.emit(m.Add, var, ctx.scalar(eps, var, "epsilon")))
    k = ctx.emit(m.Mul, scale, inv)
    shift = ctx.emit(m.Sub, bias, ctx.emit(m.Mul, mean, k))
    y = ctx.emit(m.Mul, x, _channel_param(ctx, k, rank))
    return [ctx.emit(m.Add, y, _channel_param(ctx, shift, rank)), *outputs]


@converter_rule("InstanceNormalization")
def _instance_norm(ctx: NodeContext) -> list[Value]:
    x, scale, bias = ctx.input(0), ctx.input(1), ctx.input(2)
    rank = ctx.rank(x)
    y, _, _ = _normalize(ctx, x, tuple(range(2, rank)), ctx.attr("epsilon", 1e-5))
    y = ctx.emit(m.Mul, y, _channel_param(ctx, scale, rank))
    return [ctx.emit(m.Add, y, _channel_param(ctx, bias, rank))]


def _stash_cast(ctx: NodeContext, x: Value) -> tuple[Value, DType]:
    """``x`` in the ``stash_type`` precision the normalization computes in, and x's dtype."""
    dt = ctx.ty(x).dtype
    stash = ctx.attr("stash_type", 1)
    if stash == 1 and dt is not DType.float32:
        return ctx.emit(m.Cast, x, dtype=DType.float32), dt
    return x, dt


@converter_rule("LayerNormalization")
def _layer_norm(ctx: NodeContext) -> list[Value]:
    x0, scale, bias = ctx.input(0), ctx.input(1), ctx.optional_input(2)
    rank = ctx.rank(x0)
    axis = _axis(ctx, ctx.attr("axis", -1), rank)
    x, dt = _stash_cast(ctx, x0)
    y, mean, inv = _normalize(ctx, x, tuple(range(axis, rank)), ctx.attr("epsilon", 1e-5))
    if ctx.ty(y).dtype is not dt:
        y = ctx.emit(m.Cast, y, dtype=dt)
    y = ctx.emit(m.Mul, y, scale)
    if bias is not None:
        y = ctx.emit(m.Add, y, bias)
    return [y, mean, inv]


@converter_rule("RMSNormalization")
def _rms_norm(ctx: NodeContext) -> list[Value]:
    x0, scale = ctx.input(0), ctx.input(1)
    rank = ctx.rank(x0)
    axis = _axis(ctx, ctx.attr("axis", -1), rank)
    x, dt = _stash_cast(ctx, x0)
    ms = ctx.emit(m.ReduceMean, ctx.emit(m.Square, x), axes=tuple(range(axis, rank)), keepdims=True)
    inv = ctx.emit(m.Rsqrt, ctx.emit(m.Add, ms, ctx.scalar(ctx.attr("epsilon", 1e-5), x, "epsilon")))
    y = ctx.emit(m.Mul, x, inv)
    if ctx.ty(y).dtype is not dt:
        y = ctx.emit(m.Cast, y, dtype=dt)
    return [ctx.emit(m.Mul, y, scale)]


@converter_rule("GroupNormalization")
def _group_norm(ctx: NodeContext) -> list[Value]:
    x0, scale, bias = ctx.input(0), ctx.input(1), ctx.input(2)
    shape = ctx.static_shape(x0)
    groups = ctx.attr("num_groups")
    x, dt = _stash_cast(ctx, x0)
    grouped = ctx.emit(a.Reshape, x, shape=[shape[0], groups, -1])
    y, _, _ = _normalize(ctx, grouped, (2,), ctx.attr("epsilon", 1e-5))
    y = ctx.emit(a.Reshape, y, shape=list(shape))
    if ctx.ty(y).dtype is not dt:
        y = ctx.emit(m.Cast, y, dtype=dt)
    rank = len(shape)
    y = ctx.emit(m.Mul, y, _channel_param(ctx, scale, rank))
    return [ctx.emit(m.Add, y, _channel_param(ctx, bias, rank))]


@converter_rule("MeanVarianceNormalization")
def _mvn(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    axes = tuple(ctx.attr("axes", [0, 2, 3]))
    mean = ctx.emit(m.ReduceMean, x, axes=axes, keepdims=True)
    centered = ctx.emit(m.Sub, x, mean)
    var = ctx.emit(m.ReduceMean, ctx.emit(m.Square, centered), axes=axes, keepdims=True)
    # ONNX's function body adds 1e-9 before the square root.
    std = ctx.emit(m.Sqrt, ctx.emit(m.Add, var, ctx.scalar(1e-9, x, "epsilon")))
    return [ctx.emit(m.Div, centered, std)]


@converter_rule("LpNormalization")
def _lp_normalization(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    axis = ctx.attr("axis", -1)
    p = ctx.attr("p", 2)
    if p == 1:
        norm = ctx.emit(m.ReduceSum, ctx.emit(m.Abs, x), axes=[axis], keepdims=True)
    elif p == 2:
        norm = ctx.emit(m.Sqrt, ctx.emit(m.ReduceSum, ctx.emit(m.Square, x), axes=[axis], keepdims=True))
    else:
        raise ctx.error(f"attribute 'p' must be 1 or 2, got {p}")
    zero = ctx.scalar(0, x, "zero")
    # A zero norm gives 0, not nan.
    is_zero = ctx.emit(m.Equal, norm, zero)
    safe = ctx.emit(m.Select, is_zero, ctx.emit(a.OnesLike, norm), norm)
    return [ctx.emit(m.Select, is_zero, ctx.emit(a.ZerosLike, x), ctx.emit(m.Div, x, safe))]


# --------------------------------------------------------------------------------------------
# Convolution and pooling


def _conv_padding(ctx: NodeContext, spatial: int) -> dict[str, object]:
    auto_pad = ctx.attr("auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER", "VALID"):
        return {"padding": auto_pad}
    if auto_pad != "NOTSET":
        raise ctx.error(f"attribute 'auto_pad' must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got {auto_pad!r}")
    pads = ctx.attr("pads", [0] * (2 * spatial))
    if not any(pads):
        return {"padding": "VALID"}
    # ONNX lists all begins then all ends; flowir interleaves them per dim.
    return {"padding": "EXPLICIT", "pads": [p for i in range(spatial) for p in (pads[i], pads[spatial + i])]}


def _window_attrs(ctx: NodeContext, spatial: int) -> dict[str, object]:
    out: dict[str, object] = _conv_padding(ctx, spatial)
    for key in ("strides", "dilations"):
        if ctx.has_attr(key):
            out[key] = list(ctx.attr(key))
    return out


@converter_rule("Conv", requires=["nn.conv"])
def _conv(ctx: NodeContext) -> list[Value]:
    x, w, b = ctx.input(0), ctx.input(1), ctx.optional_input(2)
    rank = ctx.rank(x)
    y = ctx.emit("nn.conv", x, w, groups=ctx.attr("group", 1), **_window_attrs(ctx, rank - 2))
    if b is not None:
        y = ctx.emit(m.Add, y, _channel_param(ctx, b, rank))
    return [y]


@converter_rule("MaxPool", requires=["nn.max_pool"])
def _max_pool(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    if ctx.output_wanted(1):
        raise ctx.unsupported("MaxPool's Indices output is not in flowir's catalog")
    if ctx.attr("storage_order", 0):
        raise ctx.unsupported("MaxPool storage_order=1 only concerns Indices, which flowir lacks")
    attrs = _window_attrs(ctx, ctx.rank(x) - 2)
    return [ctx.emit("nn.max_pool", x, kernel_shape=list(ctx.attr("kernel_shape")), ceil_mode=bool(ctx.attr("ceil_mode", 0)), **attrs)]


@converter_rule("AveragePool", requires=["nn.avg_pool"])
def _avg_pool(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    attrs = _window_attrs(ctx, ctx.rank(x) - 2)
    return [
        ctx.emit(
            "nn.avg_pool",
            x,
            kernel_shape=list(ctx.attr("kernel_shape")),
            ceil_mode=bool(ctx.attr("ceil_mode", 0)),
            count_include_pad=bool(ctx.attr("count_include_pad", 0)),
            **attrs,
        )
    ]


# --------------------------------------------------------------------------------------------
# Losses


def _nll(ctx: NodeContext, logp: Value, target: Value, weight: Value | None) -> Value:
    """ONNX's NegativeLogLikelihoodLoss of log-probabilities ``logp`` (N, C, d...) for class
    indices ``target`` (N, d...)."""
    classes = ctx.ty(logp).shape[1]  # type: ignore[index]
    if classes is None:
        raise ctx.dynamic_error(logp, "the loss needs the number of classes (dim 1) known")
    ignore = ctx.attr("ignore_index", None)
    reduction = ctx.attr("reduction", "mean")
    if reduction not in ("none", "sum", "mean"):
        raise ctx.error(f"attribute 'reduction' must be none, sum or mean, got {reduction!r}")
    if ctx.ty(target).dtype not in (DType.int32, DType.int64):
        target = ctx.emit(m.Cast, target, dtype=DType.int64)
    keep = None
    if ignore is not None:
        keep = ctx.emit(m.NotEqual, target, ctx.scalar(ignore, target, "ignore_index"))
        target = ctx.emit(m.Select, keep, target, ctx.emit(a.ZerosLike, target))
    picked_mask = ctx.emit(a.OneHot, target, depth=classes, axis=1, dtype=ctx.ty(logp).dtype)
    loss = ctx.emit(m.Neg, ctx.emit(m.ReduceSum, ctx.emit(m.Mul, logp, picked_mask), axes=[1]))
    w = None if weight is None else ctx.emit(a.Gather, weight, target)
    if keep is not None:
        kf = ctx.emit(m.Cast, keep, dtype=ctx.ty(logp).dtype)
        w = kf if w is None else ctx.emit(m.Mul, w, kf)
    if w is not None:
        loss = ctx.emit(m.Mul, loss, w)
    if reduction == "none":
        return loss
    total = ctx.emit(m.ReduceSum, loss)
    if reduction == "sum":
        return total
    count = ctx.emit(m.ReduceSum, w) if w is not None else ctx.emit(m.Cast, ctx.emit(m.ReduceProd, ctx.emit(a.Shape, loss, out_type=DType.int64)), dtype=ctx.ty(logp).dtype)
    return ctx.emit(m.Div, total, count)


@converter_rule("NegativeLogLikelihoodLoss")
def _nll_loss(ctx: NodeContext) -> list[Value]:
    return [_nll(ctx, ctx.input(0), ctx.input(1), ctx.optional_input(2))]


@converter_rule("SoftmaxCrossEntropyLoss")
def _softmax_cross_entropy(ctx: NodeContext) -> list[Value]:
    scores = ctx.input(0)
    logp = ctx.emit(nn.LogSoftmax, scores, axis=1)
    return [_nll(ctx, logp, ctx.input(1), ctx.optional_input(2)), logp]




@converter_rule("ConvTranspose", requires=["grad.conv_input_grad"])
def _conv_transpose(ctx: NodeContext) -> list[Value]:
    # A transposed convolution is the gradient of the convolution that maps the output back
    # to the input, which flowir's catalog has.
    x, w, b = ctx.input(0), ctx.input(1), ctx.optional_input(2)
    shape = ctx.static_shape(x)
    w_shape = ctx.static_shape(w, "W")
    spatial = len(shape) - 2
    group = ctx.attr("group", 1)
    strides = list(ctx.attr("strides", [1] * spatial))
    dilations = list(ctx.attr("dilations", [1] * spatial))
    kernel = list(ctx.attr("kernel_shape", w_shape[2:]))
    out_pad = list(ctx.attr("output_padding", [0] * spatial))
    output_shape = ctx.attr("output_shape", None)
    auto_pad = ctx.attr("auto_pad", "NOTSET")
    extent = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    natural = [s * (n - 1) + op + e for s, n, op, e in zip(strides, shape[2:], out_pad, extent)]
    if ctx.has_attr("pads") or auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        pads = list(ctx.attr("pads", [0] * (2 * spatial)))
        begin, end = pads[:spatial], pads[spatial:]
        out = list(output_shape) if output_shape is not None else [n - pb - pe for n, pb, pe in zip(natural, begin, end)]
    else:
        out = list(output_shape) if output_shape is not None else [n * s for n, s in zip(shape[2:], strides)]
        total = [n - o for n, o in zip(natural, out)]
        upper = auto_pad == "SAME_UPPER"
        begin = [t // 2 if upper else t - t // 2 for t in total]
        end = [t - t // 2 if upper else t // 2 for t in total]
    out = out[-spatial:]
    like = ctx.emit(a.Zeros, shape=[shape[0], w_shape[1] * group, *out], dtype=ctx.ty(x).dtype)
    y = ctx.emit(
        "grad.conv_input_grad",
        x,
        w,
        like,
        strides=strides,
        dilations=dilations,
        groups=group,
        padding="EXPLICIT",
        pads=[p for i in range(spatial) for p in (begin[i], end[i])],
    )
    if b is not None:
        y = ctx.emit(m.Add, y, _channel_param(ctx, b, len(shape)))
    return [y]


@converter_rule("LpPool", requires=["nn.avg_pool"])
def _lp_pool(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    p = ctx.attr("p", 2)
    kernel = list(ctx.attr("kernel_shape"))
    powed = ctx.emit(m.Pow, ctx.emit(m.Abs, x), ctx.scalar(p, x, "p"))
    # The window sum is the mean over every cell of the window, pads included, times its size.
    mean = ctx.emit(
        "nn.avg_pool",
        powed,
        kernel_shape=kernel,
        ceil_mode=bool(ctx.attr("ceil_mode", 0)),
        count_include_pad=True,
        **_window_attrs(ctx, ctx.rank(x) - 2),
    )
    total = ctx.emit(m.Mul, mean, ctx.scalar(float(math.prod(kernel)), x, "window"))
    return [ctx.emit(m.Pow, total, ctx.scalar(1.0 / p, x, "inv_p"))]


@converter_rule("Einsum")
def _einsum(ctx: NodeContext) -> list[Value]:
    # Every operand is laid out over all the equation's letters (size-1 dims for the ones it
    # lacks), the operands are multiplied with broadcasting, and the letters missing from the
    # output are summed away.
    eq = ctx.attr("equation").replace(" ", "")
    lhs, _, rhs = eq.partition("->")
    terms = lhs.split(",")
    operands = [ctx.input(i) for i in range(ctx.num_inputs)]
    if len(terms) != len(operands):
        raise ctx.error(f"equation {eq!r} has {len(terms)} operands, the node {len(operands)}")
    ranks = [ctx.rank(v) for v in operands]
    n_ell = max((r - (len(t) - 3) for t, r in zip(terms, ranks) if "..." in t), default=0)
    ell = [chr(0x100 + i) for i in range(n_ell)]  # letters no equation uses
    terms = [t.replace("...", "".join(ell[n_ell - (r - (len(t) - 3)) :])) for t, r in zip(terms, ranks)]
    if "->" not in eq:
        once = sorted(c for c in set("".join(terms)) if c not in ell and "".join(terms).count(c) == 1)
        rhs = "".join(ell) + "".join(once)
    else:
        rhs = rhs.replace("...", "".join(ell))
    letters = list(dict.fromkeys("".join(terms) + rhs))
    product = None
    for term, v in zip(terms, operands):
        v, term = _einsum_diagonals(ctx, v, term)
        order = [c for c in letters if c in term]
        if list(term) != order:
            v = ctx.emit(a.Transpose, v, perm=[term.index(c) for c in order])
        for i, c in enumerate(letters):
            if c not in term:
                v = ctx.emit(a.ExpandDims, v, axis=i)
        product = v if product is None else ctx.emit(m.Mul, product, v)
    assert product is not None
    summed = [i for i, c in enumerate(letters) if c not in rhs]
    if summed:
        product = ctx.emit(m.ReduceSum, product, axes=summed)
    kept = [c for c in letters if c in rhs]
    if kept != list(rhs):
        product = ctx.emit(a.Transpose, product, perm=[kept.index(c) for c in rhs])
    if product is ctx.optional_input(0):
        product = ctx.emit(a.Identity, product)
    return [product]


def _einsum_diagonals(ctx: NodeContext, v: Value, term: str) -> tuple[Value, str]:
    """Take the diagonal for each letter repeated in ``term`` (``ii`` -> ``i``)."""
    while len(set(term)) != len(term):
        c = next(ch for ch in term if term.count(ch) > 1)
        i = term.index(c)
        j = term.index(c, i + 1)
        n = ctx.static_shape(v)[i]
        eye = np.eye(n, dtype=ctx.ty(v).dtype.numpy).reshape([n if k in (i, j) else 1 for k in range(len(term))])
        v = ctx.emit(m.ReduceSum, ctx.emit(m.Mul, v, ctx.constant(eye, "eye")), axes=[j])
        term = term[:j] + term[j + 1 :]
    return v, term


@converter_rule("LRN")
def _lrn(ctx: NodeContext) -> list[Value]:
    # y = x / (bias + alpha / size * sum of x**2 over the `size` channels around c) ** beta
    x = ctx.input(0)
    shape = ctx.static_shape(x)
    rank, channels = len(shape), shape[1]
    size = ctx.attr("size")
    before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    padded = ctx.emit(a.Pad, ctx.emit(m.Square, x), paddings=[p for k in range(rank) for p in ((before, after) if k == 1 else (0, 0))])
    window = None
    for offset in range(size):
        piece = ctx.emit(a.Slice, padded, begin=[offset if k == 1 else 0 for k in range(rank)], size=[channels if k == 1 else -1 for k in range(rank)])
        window = piece if window is None else ctx.emit(m.Add, window, piece)
    assert window is not None
    scaled = ctx.emit(m.Mul, window, ctx.scalar(ctx.attr("alpha", 1e-4) / size, x, "alpha_over_size"))
    base = ctx.emit(m.Add, scaled, ctx.scalar(ctx.attr("bias", 1.0), x, "bias"))
    return [ctx.emit(m.Div, x, ctx.emit(m.Pow, base, ctx.scalar(ctx.attr("beta", 0.75), x, "beta")))]
