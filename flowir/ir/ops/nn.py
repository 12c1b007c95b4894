"""The nn dialect: activations, softmax and the cross-entropy losses.

The numpy kernels that define what each op computes are in ``flowir/ir/reference/nn.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flowir.ir.attributes import Floats, Ints
from flowir.ir.core import PURE, Operation, attr, operand, register_op
from flowir.ir.dtypes import DType
from flowir.ir.errors import OpAttributeError, ShapeError
from flowir.ir.ops._base import FLOATS, NUMERIC, UnaryElementwise, require_dtypes, same_dtype, tensor
from flowir.ir.types import Shape, TensorType, Type, format_shape, meet_shapes, normalize_axis

# ``__all__`` lists the op classes only (``flowir.ir.ops`` re-exports them); the window helpers
# (``WindowOp``, ``ConvWindow``, ``PoolWindow``, ``Window``, ``window``, ``PADDINGS`` ...) are
# imported from this module by name.
__all__ = [
    "Relu",
    "Softplus",
    "Gelu",
    "Elu",
    "LeakyRelu",
    "Conv",
    "MaxPool",
    "AvgPool",
    "ConvTranspose",
    "ResizeNearest",
    "Softmax",
    "LogSoftmax",
    "SoftmaxCrossEntropyWithLogits",
    "SparseSoftmaxCrossEntropyWithLogits",
    "SigmoidCrossEntropyWithLogits",
]

#: Dtypes of the class indices of ``SparseSoftmaxCrossEntropyWithLogits``, as in TF.
LABEL_DTYPES = frozenset({DType.int32, DType.int64})


@register_op
class Relu(UnaryElementwise):
    """``max(x, 0)``; numeric (nan stays nan)."""

    name = "nn.relu"


@register_op
class Softplus(UnaryElementwise):
    """``log(1 + exp(x))``; floats; equals ``x`` for large ``x`` without overflow."""

    name = "nn.softplus"
    DTYPES = FLOATS


@register_op
class Gelu(UnaryElementwise):
    """The Gaussian error linear unit ``x * Phi(x)`` (ONNX ``Gelu``, ``tf.nn.gelu``); floats.

    ``approximate`` ``"none"``: ``0.5 x (1 + erf(x / sqrt(2)))``; ``"tanh"``:
    ``0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))``.
    """

    name = "nn.gelu"
    DTYPES = FLOATS
    approximate = attr(str, default="none", doc='"none" (erf) or "tanh"')

    def infer_type(self, x: Type) -> TensorType:
        if self.approximate not in ("none", "tanh"):
            raise OpAttributeError(f'approximate must be "none" or "tanh", got {self.approximate!r}')
        return super().infer_type(x)


@register_op
class Elu(UnaryElementwise):
    """``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)`` (``tf.nn.elu``, ONNX ``Elu``); floats."""

    name = "nn.elu"
    DTYPES = FLOATS
    alpha = attr(float, default=1.0)


@register_op
class LeakyRelu(UnaryElementwise):
    """``x`` where ``x >= 0``, else ``alpha * x`` (``tf.nn.leaky_relu``, ONNX ``LeakyRelu``);
    floats. The default ``alpha`` is TF's, 0.2 (ONNX's is 0.01)."""

    name = "nn.leaky_relu"
    DTYPES = FLOATS
    alpha = attr(float, default=0.2)


class SoftmaxBase(Operation):
    """A normalisation of ``x`` along ``axis``; ``x`` is float of rank >= 1, the result has
    its type. Computed stably (the maximum along ``axis`` is subtracted first)."""

    traits = PURE
    x = operand()
    axis = attr(int, default=-1)

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        require_dtypes(t, FLOATS, "x")
        if t.shape is not None:
            normalize_axis(self.axis, len(t.shape))
        return t


@register_op
class Softmax(SoftmaxBase):
    """``exp(x) / sum(exp(x))`` along ``axis``."""

    name = "nn.softmax"


@register_op
class LogSoftmax(SoftmaxBase):
    """``x - log(sum(exp(x)))`` along ``axis``; finite for finite logits of any size."""

    name = "nn.log_softmax"


# --------------------------------------------------------------------------------------------
# Losses


def _same_shape(a: TensorType, b: TensorType) -> Shape:
    """What the shapes of ``logits`` (``a``) and ``labels`` (``b``) both say; ``ShapeError``
    when they differ (the losses do not broadcast)."""
    try:
        return meet_shapes(a.shape, b.shape)
    except ShapeError:
        raise ShapeError(
            f"logits and labels must have the same shape ({format_shape(a.shape)} vs {format_shape(b.shape)})"
        ) from None


@register_op
class SoftmaxCrossEntropyWithLogits(Operation):
    """Cross-entropy of the distributions ``labels`` against ``softmax(logits)`` along ``axis``.

    ``logits`` and ``labels``: one float dtype and one shape, of rank >= 1. Two results, as
    TF's op: ``loss``, ``sum(labels * (logsumexp(logits) - logits))`` along ``axis`` (the
    shape without that dim), and ``backprop``, the gradient of ``loss`` with respect to
    ``logits``, ``softmax(logits) * sum(labels) - labels`` (``logits``' type; TF's
    ``softmax(logits) - labels`` when each row of labels is a distribution, as TF requires).
    Finite for finite logits of any size.
    """

    name = "nn.softmax_cross_entropy_with_logits"
    traits = PURE
    logits = operand()
    labels = operand()
    axis = attr(int, default=-1, doc="the class dim")

    def infer_type(self, logits: Type, labels: Type) -> tuple[TensorType, TensorType]:
        a, b = tensor(logits, "logits"), tensor(labels, "labels")
        dt = same_dtype(a, b, what="logits and labels")
        require_dtypes(a, FLOATS, "logits")
        shape = _same_shape(a, b)
        if shape is None:
            return TensorType(dt, None), TensorType(dt, None)
        if not shape:
            raise ShapeError("logits must have rank >= 1, got a scalar")
        ax = normalize_axis(self.axis, len(shape))
        return TensorType(dt, shape[:ax] + shape[ax + 1 :]), TensorType(dt, shape)


@register_op
class SparseSoftmaxCrossEntropyWithLogits(Operation):
    """Cross-entropy of class indices ``labels`` against ``softmax(logits)`` along the last dim.

    ``logits``: float of rank >= 1, classes in the last dim. ``labels``: int32 or int64 of
    ``logits``' shape without the last dim; each in ``[0, classes)`` (a run-time
    ``FlowirError`` otherwise, as TF's CPU kernel). Results as
    ``SoftmaxCrossEntropyWithLogits``: ``loss``, ``logsumexp(logits) - logits[label]``, of
    ``labels``' shape, and ``backprop``, ``softmax(logits) - one_hot(labels)``.
    """

    name = "nn.sparse_softmax_cross_entropy_with_logits"
    traits = PURE
    logits = operand()
    labels = operand()

    def infer_type(self, logits: Type, labels: Type) -> tuple[TensorType, TensorType]:
        a, b = tensor(logits, "logits"), tensor(labels, "labels")
        require_dtypes(a, FLOATS, "logits")
        require_dtypes(b, LABEL_DTYPES, "labels")
        dt = a.dtype
        if a.shape is not None and not a.shape:
            raise ShapeError("logits must have rank >= 1, got a scalar")
        if a.shape is None:
            if b.shape is None:
                return TensorType(dt, None), TensorType(dt, None)
            return TensorType(dt, b.shape), TensorType(dt, (*b.shape, None))
        batch, classes = a.shape[:-1], a.shape[-1]
        if b.shape is not None and len(b.shape) != len(batch):
            raise ShapeError(
                f"labels must have the rank of logits minus 1; got labels {format_shape(b.shape)}, "
                f"logits {format_shape(a.shape)}"
            )
        try:
            batch = meet_shapes(batch, b.shape)  # type: ignore[assignment]
        except ShapeError:
            raise ShapeError(
                f"labels {format_shape(b.shape)} must match the shape of logits {format_shape(a.shape)} "
                "without its last dim"
            ) from None
        return TensorType(dt, batch), TensorType(dt, (*batch, classes))  # type: ignore[misc]


@register_op
class SigmoidCrossEntropyWithLogits(Operation):
    """Elementwise logistic loss, ``max(x, 0) - x * z + log(1 + exp(-|x|))`` for logits ``x``
    and labels ``z`` (probabilities), computed without overflow.

    ``logits`` and ``labels``: one float dtype and one shape (no broadcasting, as TF); the
    result has that type.
    """

    name = "nn.sigmoid_cross_entropy_with_logits"
    traits = PURE
    logits = operand()
    labels = operand()

    def infer_type(self, logits: Type, labels: Type) -> TensorType:
        a, b = tensor(logits, "logits"), tensor(labels, "labels")
        dt = same_dtype(a, b, what="logits and labels")
        require_dtypes(a, FLOATS, "logits")
        return TensorType(dt, _same_shape(a, b))


# --------------------------------------------------------------------------------------------
# Convolution and pooling

#: How the spatial dims are padded: not at all, to ``ceil(size / stride)`` outputs with the odd
#: extra cell at the end (TF's ``SAME``, ONNX's ``SAME_UPPER``) or at the start, or by ``pads``.
PADDINGS = ("VALID", "SAME_UPPER", "SAME_LOWER", "EXPLICIT")
#: Channels first (``N, C, spatial...``) or last (``N, spatial..., C``), for any spatial rank.
DATA_FORMATS = ("NCHW", "NHWC")
#: ``(O, I / groups, spatial...)`` (ONNX) or ``(spatial..., I / groups, O)`` (TF).
FILTER_FORMATS = ("OIHW", "HWIO")


@dataclass(frozen=True)
class Window:
    """The geometry of one spatial dim of a sliding window: ``out`` positions, the input
    padded by ``begin`` and ``end`` cells (the user's padding), then by ``extra`` more at the
    end that ``ceil_mode`` needs (they never count as padding for averages)."""

    out: int
    begin: int
    end: int
    extra: int = 0


def window(
    size: int, kernel: int, stride: int, dilation: int, padding: str, pads: tuple[int, int], ceil_mode: bool
) -> Window:
    """The ``Window`` of a spatial dim of ``size`` cells; ``ShapeError`` if the (dilated)
    kernel does not fit the padded input."""
    span = (kernel - 1) * dilation + 1
    if padding in ("SAME_UPPER", "SAME_LOWER"):
        out = -(-size // stride)
        total = max((out - 1) * stride + span - size, 0)
        small = total // 2
        big = total - small
        return Window(out, big, small) if padding == "SAME_LOWER" else Window(out, small, big)
    begin, end = pads if padding == "EXPLICIT" else (0, 0)
    room = size + begin + end - span
    if room < 0:
        raise ShapeError(
            f"the window (kernel {kernel}, dilation {dilation}, span {span}) is larger than the padded "
            f"input ({size} + {begin} + {end})"
        )
    if not ceil_mode:
        return Window(room // stride + 1, begin, end)
    out = -(-room // stride) + 1
    if (out - 1) * stride >= size + begin:
        # A last window starting in the end padding is dropped (ONNX, PyTorch).
        out -= 1
    return Window(out, begin, end, max((out - 1) * stride + span - (size + begin + end), 0))


class WindowOp(Operation):
    """An op sliding a window over the spatial dims of ``x`` (rank 3 to 5: batch, channels,
    1 to 3 spatial dims, laid out by ``data_format``).

    ``strides`` and ``dilations`` have one entry per spatial dim (default all 1).
    ``padding`` is one of ``PADDINGS``; ``pads`` (only with ``EXPLICIT``, required there) is
    ``[begin0, end0, begin1, end1, ...]``, two non-negative entries per spatial dim (the order
    of ``array.pad``; ONNX's ``pads`` lists all begins, then all ends). Output spatial size:
    ``floor((size + begin + end - (k - 1) * d - 1) / s) + 1`` (``ceil`` with ``ceil_mode``),
    or ``ceil(size / s)`` for the ``SAME`` paddings. ``None`` dims stay ``None``.
    """

    traits = PURE
    strides = attr(Ints, default=None, doc="one per spatial dim; None for all 1")
    dilations = attr(Ints, default=None, doc="one per spatial dim; None for all 1")
    padding = attr(str, default="VALID", doc="VALID, SAME_UPPER, SAME_LOWER or EXPLICIT")
    pads = attr(Ints, default=None, doc="[begin0, end0, begin1, end1, ...] with EXPLICIT")
    data_format = attr(str, default="NCHW", doc="NCHW (channels first) or NHWC (channels last)")

    def channels_last(self) -> bool:
        """Whether ``data_format`` puts channels last (``NHWC``)."""
        return self.data_format == "NHWC"

    def spatial_axes(self, rank: int) -> tuple[int, ...]:
        """The axes of ``x`` (and of the result) holding the spatial dims."""
        return tuple(range(1, rank - 1)) if self.channels_last() else tuple(range(2, rank))

    def channel_axis(self, rank: int) -> int:
        """The axis of ``x`` (and of the result) holding the channels, for rank ``rank``."""
        return rank - 1 if self.channels_last() else 1

    def _per_dim(self, value: tuple[int, ...] | None, what: str, n: int) -> tuple[int, ...]:
        if value is None:
            return (1,) * n
        if len(value) != n or any(v < 1 for v in value):
            raise OpAttributeError(f"{what} must hold {n} positive entries (one per spatial dim), got {list(value)}")
        return tuple(value)

    def stride_list(self, n: int) -> tuple[int, ...]:
        """The strides of ``n`` spatial dims (all 1 when unset); ``OpAttributeError`` if they do not fit."""
        return self._per_dim(self.strides, "strides", n)

    def dilation_list(self, n: int) -> tuple[int, ...]:
        """The dilations of ``n`` spatial dims (all 1 when unset); ``OpAttributeError`` if they do not fit."""
        return self._per_dim(self.dilations, "dilations", n)

    def pad_pairs(self, n: int) -> list[tuple[int, int]]:
        """The explicit ``(begin, end)`` paddings per spatial dim (zeros without ``EXPLICIT``)."""
        if self.padding != "EXPLICIT":
            return [(0, 0)] * n
        p = self.pads
        return [(p[2 * i], p[2 * i + 1]) for i in range(n)]

    def check_attributes(self, n: int) -> None:
        """``OpAttributeError`` unless the window attributes fit ``n`` spatial dims."""
        if not 1 <= n <= 3:
            raise ShapeError(f"x must have 1 to 3 spatial dims (rank 3 to 5), got {n} (rank {n + 2})")
        if self.padding not in PADDINGS:
            raise OpAttributeError(f"padding must be one of {', '.join(PADDINGS)}, got {self.padding!r}")
        if self.data_format not in DATA_FORMATS:
            raise OpAttributeError(f"data_format must be NCHW or NHWC, got {self.data_format!r}")
        if (self.pads is not None) != (self.padding == "EXPLICIT"):
            raise OpAttributeError("pads must be given with padding EXPLICIT, and only then")
        if self.pads is not None and (len(self.pads) != 2 * n or any(p < 0 for p in self.pads)):
            raise OpAttributeError(f"pads must hold {2 * n} non-negative entries, got {list(self.pads)}")
        self.stride_list(n)
        self.dilation_list(n)

    def windows(self, sizes: tuple[int, ...], kernel: tuple[int, ...]) -> list[Window]:
        """The ``Window`` of each spatial dim, for static ``sizes`` and ``kernel``."""
        n = len(sizes)
        return [
            window(size, k, s, d, self.padding, p, bool(getattr(self, "ceil_mode", False)))
            for size, k, s, d, p in zip(sizes, kernel, self.stride_list(n), self.dilation_list(n), self.pad_pairs(n))
        ]

    def out_sizes(self, sizes: Shape, kernel: Shape) -> list[int | None]:
        """The output spatial sizes; ``None`` where a size or kernel dim is unknown."""
        n = len(sizes)  # type: ignore[arg-type]
        strides, dilations, pads = self.stride_list(n), self.dilation_list(n), self.pad_pairs(n)
        ceil_mode = bool(getattr(self, "ceil_mode", False))
        out: list[int | None] = []
        for i, (size, k) in enumerate(zip(sizes, kernel)):  # type: ignore[arg-type]
            if size is None or k is None:
                out.append(None)
                continue
            try:
                out.append(window(size, k, strides[i], dilations[i], self.padding, pads[i], ceil_mode).out)
            except ShapeError as e:
                raise ShapeError(f"spatial dim {i}: {e.detail}") from None
        return out

    def layout(self, batch: int | None, channels: int | None, spatial: list[int | None]) -> tuple[int | None, ...]:
        """A shape in ``data_format`` order."""
        return (batch, *spatial, channels) if self.channels_last() else (batch, channels, *spatial)


class ConvWindow(WindowOp):
    """The attributes of ``nn.conv`` (shared with its gradient ops): ``WindowOp``'s, ``groups``
    and ``filter_format``."""

    groups = attr(int, default=1)
    filter_format = attr(str, default="OIHW", doc="OIHW (ONNX) or HWIO (TF)")

    def check_conv_attributes(self, n: int | None) -> None:
        """``OpAttributeError`` unless the attributes are valid (for ``n`` spatial dims if known)."""
        if self.filter_format not in FILTER_FORMATS:
            raise OpAttributeError(f"filter_format must be OIHW or HWIO, got {self.filter_format!r}")
        if self.groups < 1:
            raise OpAttributeError(f"groups must be >= 1, got {self.groups}")
        if n is not None:
            self.check_attributes(n)

    def conv_shape(self, xs: tuple[int | None, ...], ws: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """The result shape of the convolution of shapes ``xs`` and ``ws`` (one known rank)."""
        rank = len(xs)
        o, i, kernel = self.filter_dims(ws)
        c = xs[self.channel_axis(rank)]
        if c is not None and i is not None and c != i * self.groups:
            raise ShapeError(
                f"x {format_shape(xs)} has {c} channels but w {format_shape(ws)} ({self.filter_format}) takes "
                f"{i} per group x {self.groups} groups"
            )
        if o is not None and o % self.groups:
            raise ShapeError(f"the {o} out channels of w {format_shape(ws)} do not split into {self.groups} groups")
        sizes = tuple(xs[a] for a in self.spatial_axes(rank))
        return self.layout(xs[0], o, self.out_sizes(sizes, kernel))

    def filter_dims(self, shape: tuple[int | None, ...]) -> tuple[int | None, int | None, tuple[int | None, ...]]:
        """``(out channels, in channels per group, kernel spatial dims)`` of a filter shape."""
        if self.filter_format == "HWIO":
            return shape[-1], shape[-2], shape[:-2]
        return shape[0], shape[1], shape[2:]


def _conv_operands(tx: TensorType, tw: TensorType) -> tuple[DType, int | None]:
    """The dtype and rank shared by a convolution's input and filter (``None``: unknown)."""
    dt = same_dtype(tx, tw, what="x and w")
    require_dtypes(tx, FLOATS, "x")
    if tx.rank is not None and tw.rank is not None and tx.rank != tw.rank:
        raise ShapeError(f"x {format_shape(tx.shape)} and w {format_shape(tw.shape)} must have one rank")
    return dt, tx.rank if tx.rank is not None else tw.rank


@register_op
class Conv(ConvWindow):
    """N-D convolution (cross-correlation, as TF's and ONNX's ``Conv``) of ``x`` with ``w``.

    ``x``: float, rank 3 to 5 in ``data_format``. ``w``: ``x``'s dtype and rank, laid out by
    ``filter_format`` (``OIHW``: out channels, in channels / groups, spatial...; ``HWIO``:
    spatial..., in channels / groups, out channels). ``groups`` splits the channels into
    independent convolutions: ``x``'s channels are ``groups`` times ``w``'s in channels, and
    ``groups`` divides the out channels. Window attributes as ``WindowOp``, the kernel being
    ``w``'s spatial dims. The result: ``x``'s dtype, ``(N, O, out spatial...)`` in
    ``data_format``. No bias.
    """

    name = "nn.conv"
    x = operand()
    w = operand(doc="the filter")

    def infer_type(self, x: Type, w: Type) -> TensorType:
        tx, tw = tensor(x, "x"), tensor(w, "w")
        dt, rank = _conv_operands(tx, tw)
        if rank is None:
            self.check_conv_attributes(None)
            return TensorType(dt, None)
        self.check_conv_attributes(rank - 2)
        if tx.shape is None or tw.shape is None:
            return TensorType(dt, (None,) * rank)
        return TensorType(dt, self.conv_shape(tx.shape, tw.shape))


@register_op
class ConvTranspose(ConvWindow):
    """The transposed convolution of ``x`` with ``w`` (ONNX ``ConvTranspose``,
    ``tf.nn.conv2d_transpose``): the gradient of ``nn.conv`` with respect to its input, as a
    forward op. ``w`` is laid out as the filter of that convolution (``filter_format``
    ``OIHW``: ``(x's channels, out channels / groups, spatial...)``, ONNX's layout; ``HWIO``:
    ``(spatial..., out channels / groups, x's channels)``, TF's).

    ``padding`` is ``VALID`` or ``EXPLICIT`` (``pads`` crop the result; ONNX's ``SAME_*``
    auto_pad are explicit pads computed from static shapes). Output spatial size:
    ``stride * (size - 1) + output_padding + (k - 1) * dilation + 1 - begin - end``;
    ``output_padding`` (default 0) adds cells at the end, each below its stride.
    The result: ``x``'s dtype, ``(N, out channels, out spatial...)`` in ``data_format``.
    """

    name = "nn.conv_transpose"
    x = operand()
    w = operand(doc="the filter, laid out as the forward convolution's")
    output_padding = attr(Ints, default=None, doc="one per spatial dim; None for all 0")

    def output_padding_list(self, n: int) -> tuple[int, ...]:
        """The output padding of ``n`` spatial dims (all 0 when unset)."""
        return (0,) * n if self.output_padding is None else tuple(self.output_padding)

    def check_transpose(self, n: int) -> None:
        """``OpAttributeError`` (or ``ShapeError``) unless the attributes fit ``n`` spatial dims: ``VALID``
        or ``EXPLICIT`` padding, each ``output_padding`` below its stride."""
        if self.padding not in ("VALID", "EXPLICIT"):
            raise OpAttributeError(f"padding must be VALID or EXPLICIT, got {self.padding!r}")
        self.check_conv_attributes(n)
        extra = self.output_padding_list(n)
        strides = self.stride_list(n)
        if len(extra) != n or any(not 0 <= e < s for e, s in zip(extra, strides)):
            raise OpAttributeError(f"output_padding must hold {n} entries, each in [0, stride), got {list(extra)}")

    def transposed_sizes(self, sizes: Shape, kernel: Shape) -> list[int | None]:
        """The output spatial sizes for input ``sizes`` and ``kernel`` (``None`` where unknown)."""
        n = len(sizes)  # type: ignore[arg-type]
        out: list[int | None] = []
        for size, k, s, d, (b, e), extra in zip(  # type: ignore[arg-type]
            sizes, kernel, self.stride_list(n), self.dilation_list(n), self.pad_pairs(n), self.output_padding_list(n)
        ):
            if size is None or k is None:
                out.append(None)
                continue
            o = s * (size - 1) + extra + (k - 1) * d + 1 - b - e
            if o < 0:
                raise ShapeError(f"the pads ({b}, {e}) crop more than the {o + b + e} cells of the result")
            out.append(o)
        return out

    def infer_type(self, x: Type, w: Type) -> TensorType:
        tx, tw = tensor(x, "x"), tensor(w, "w")
        dt, rank = _conv_operands(tx, tw)
        if rank is None:
            self.check_conv_attributes(None)
            return TensorType(dt, None)
        self.check_transpose(rank - 2)
        if tx.shape is None or tw.shape is None:
            return TensorType(dt, (None,) * rank)
        o, i, kernel = self.filter_dims(tw.shape)
        c = tx.shape[self.channel_axis(rank)]
        if c is not None and o is not None and c != o:
            raise ShapeError(f"x {format_shape(tx.shape)} has {c} channels but w {format_shape(tw.shape)} ({self.filter_format}) takes {o}")
        if o is not None and o % self.groups:
            raise ShapeError(f"the {o} input channels of w {format_shape(tw.shape)} do not split into {self.groups} groups")
        sizes = tuple(tx.shape[a] for a in self.spatial_axes(rank))
        channels = None if i is None else i * self.groups
        return TensorType(dt, self.layout(tx.shape[0], channels, self.transposed_sizes(sizes, kernel)))


class PoolWindow(WindowOp):
    """The attributes of the pooling ops (shared with their gradient ops): ``WindowOp``'s,
    ``kernel_shape`` (spatial dims only) and ``ceil_mode``."""

    kernel_shape = attr(Ints, doc="the window, one entry per spatial dim")
    ceil_mode = attr(bool, default=False)

    def pool_shape(self, t: TensorType) -> TensorType:
        """``t`` with the pooled spatial sizes; ``ShapeError``/``OpAttributeError`` if invalid."""
        n = len(self.kernel_shape)
        if any(k < 1 for k in self.kernel_shape):
            raise OpAttributeError(f"kernel_shape must be positive, got {list(self.kernel_shape)}")
        if t.shape is None:
            self.check_attributes(n)
            return t.with_shape((None,) * (n + 2))
        if len(t.shape) != n + 2:
            raise ShapeError(f"x {format_shape(t.shape)} must have rank {n + 2} for a {n}-D kernel_shape")
        self.check_attributes(n)
        rank = n + 2
        sizes = tuple(t.shape[a] for a in self.spatial_axes(rank))
        out = self.out_sizes(sizes, tuple(self.kernel_shape))
        return t.with_shape(self.layout(t.shape[0], t.shape[self.channel_axis(rank)], out))


class Pool(PoolWindow):
    """A pooling of each channel of ``x`` over windows of ``kernel_shape`` (spatial dims only).

    Window attributes as ``WindowOp``; ``ceil_mode`` rounds the output size up (a last window
    that would start in the end padding is dropped). The result: ``x``'s type with the
    spatial sizes of the output.
    """

    x = operand()

    DTYPES: frozenset[DType] = FLOATS

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        require_dtypes(t, self.DTYPES, "x")
        return self.pool_shape(t)


@register_op
class MaxPool(Pool):
    """The maximum over each window (nan wins); padding never does. Numeric."""

    name = "nn.max_pool"
    DTYPES = NUMERIC


@register_op
class AvgPool(Pool):
    """The mean over each window; floats. The divisor counts the window's cells inside ``x``,
    and also those in the ``pads``/``SAME`` padding with ``count_include_pad`` (never the
    cells ``ceil_mode`` adds); a window of padding alone (pads wider than the kernel) gives 0."""

    name = "nn.avg_pool"
    count_include_pad = attr(bool, default=False)


# --------------------------------------------------------------------------------------------
# Resizing

#: How an output coordinate maps to an input coordinate (ONNX ``Resize``'s
#: ``coordinate_transformation_mode``), ``scale`` being the output over the input size.
COORDINATE_MODES = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn")
#: How a fractional input coordinate picks a cell (ONNX ``Resize``'s ``nearest_mode``).
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


class ResizeWindow(Operation):
    """The attributes of ``nn.resize_nearest`` (shared with its gradient op)."""

    scales = attr(Floats, default=None, doc="output size over input size, one per dim")
    sizes = attr(Ints, default=None, doc="the output shape")
    coordinate_transformation_mode = attr(str, default="half_pixel")
    nearest_mode = attr(str, default="round_prefer_floor")

    def check_resize(self, rank: int | None) -> None:
        """``OpAttributeError``/``ShapeError`` unless the attributes are valid for ``rank``."""
        if (self.scales is None) == (self.sizes is None):
            raise OpAttributeError("exactly one of scales and sizes must be given")
        if self.coordinate_transformation_mode not in COORDINATE_MODES:
            raise OpAttributeError(
                f"coordinate_transformation_mode must be one of {', '.join(COORDINATE_MODES)}, "
                f"got {self.coordinate_transformation_mode!r}"
            )
        if self.nearest_mode not in NEAREST_MODES:
            raise OpAttributeError(f"nearest_mode must be one of {', '.join(NEAREST_MODES)}, got {self.nearest_mode!r}")
        if self.scales is not None and any(not v > 0 for v in self.scales):
            raise OpAttributeError(f"scales must be positive, got {list(self.scales)}")
        if self.sizes is not None and any(v < 0 for v in self.sizes):
            raise OpAttributeError(f"sizes must be non-negative, got {list(self.sizes)}")
        what, given = ("scales", self.scales) if self.scales is not None else ("sizes", self.sizes)
        if rank is not None and len(given) != rank:
            raise ShapeError(f"{what} has {len(given)} entries for a tensor of rank {rank}")

    def resized_shape(self, shape: Shape) -> Shape:
        """The output shape for an input of ``shape`` (``None`` entries stay ``None`` under
        ``scales``)."""
        self.check_resize(None if shape is None else len(shape))
        if self.sizes is not None:
            return tuple(self.sizes)
        if shape is None:
            return None
        return tuple(None if d is None else int(math.floor(d * s)) for d, s in zip(shape, self.scales))

    def scale_of(self, axis: int, size_in: int, size_out: int) -> float:
        """The scale of ``axis``: the given one, else output size over input size."""
        if self.scales is not None:
            return float(self.scales[axis])
        return size_out / size_in if size_in else 1.0


@register_op
class ResizeNearest(ResizeWindow):
    """``x`` resized by nearest-neighbour sampling (ONNX ``Resize`` with ``mode=nearest``,
    ``tf.image.resize_nearest_neighbor``).

    Exactly one of ``scales`` (per dim; output size ``floor(size * scale)``) and ``sizes``
    (the output shape). Each output index ``i`` of a dim maps to the input coordinate given
    by ``coordinate_transformation_mode`` (ONNX's formulas, ``scale`` as above), which
    ``nearest_mode`` rounds to an index, clamped into the input; a dim kept at its size with
    scale 1 is left as it is (as onnxruntime does). Any numeric or bool dtype;
    the result has ``x``'s dtype. An empty input dim needs an empty output dim.
    """

    name = "nn.resize_nearest"
    traits = PURE
    x = operand()

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        require_dtypes(t, NUMERIC | {DType.bool}, "x")
        out = self.resized_shape(t.shape)
        if t.shape is not None and out is not None:
            for i, (d, o) in enumerate(zip(t.shape, out)):
                if d == 0 and o:
                    raise ShapeError(f"dim {i} is empty and cannot be resized to {o}")
        return t.with_shape(out)
