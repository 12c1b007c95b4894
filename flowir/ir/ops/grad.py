"""The grad dialect: the ops reverse-mode autodiff builds, and ``array.stop_gradient``.

Most are the transposes of catalog ops whose adjoint needs a size known only at run time:
a ``None`` dim, or an unknown rank. Each takes the value whose shape it must produce as a
``like`` operand (only its shape is read), as TF's gradient kernels take ``Shape(x)``.
``sum_to`` undoes broadcasting, ``broadcast_like`` and ``unreduce`` redo it, ``reshape_like``
restores a shape, ``strided_slice_grad``, ``gather_grad``, ``untile``, ``pad_grad`` and
``split_like`` are the adjoints of slicing, gathering, tiling, padding and concatenation, and
``relu_grad`` spares two ops on the hottest path of a network. Every op is linear in its
first operand, so its own VJP is one op (the forward op it is the adjoint of): gradients of
gradients work.

The numpy kernels are in ``flowir/ir/reference/grad.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from flowir.ir.attributes import Ints
from flowir.ir.core import PURE, Operation, attr, operand, register_op, variadic_operand
from flowir.ir.errors import OpAttributeError, ShapeError
from flowir.ir.ops._base import FLOATS, NUMERIC, BinaryElementwise, require_dtypes, same_dtype, tensor
from flowir.ir.ops.array import INDEX_DTYPES, PAD_MODES, SliceDim, StridedSlice, take_along_axis_type
from flowir.ir.ops.nn import ConvWindow, PoolWindow, ResizeWindow
from flowir.ir.types import TensorType, Type, format_shape, normalize_axes, normalize_axis, shapes_compatible

__all__ = [
    "StopGradient",
    "SumTo",
    "BroadcastLike",
    "Unreduce",
    "ReshapeLike",
    "ReluGrad",
    "StridedSliceGrad",
    "GatherGrad",
    "Untile",
    "PadGrad",
    "SplitLike",
    "ConvInputGrad",
    "ConvFilterGrad",
    "MaxPoolGrad",
    "AvgPoolGrad",
    "MaxPoolGradGrad",
    "ResizeNearestGrad",
    "TakeAlongAxisGrad",
]

Dims = tuple[int | None, ...]


def _check_fits(what: str, got: Dims, expected: Dims) -> None:
    """``got`` (a known-rank shape) must be compatible with ``expected``."""
    if not shapes_compatible(got, expected):
        raise ShapeError(f"{what} has shape {format_shape(got)}; expected {format_shape(expected)}")


@register_op
class StopGradient(Operation):
    """``x`` unchanged; gradients do not flow through it (``tf.stop_gradient``). Any dtype."""

    name = "array.stop_gradient"
    traits = PURE
    x = operand()

    def infer_type(self, x: Type) -> TensorType:
        return tensor(x, "x")


@register_op
class SumTo(Operation):
    """``x`` summed over the dims that broadcasting added to a value of ``like``'s shape: the
    leading dims beyond ``like``'s rank and the dims where ``like`` has size 1.

    ``x`` is numeric; ``like`` (any dtype, only its shape matters) must broadcast to ``x``'s
    shape. The result has ``x``'s dtype and ``like``'s shape.
    """

    name = "grad.sum_to"
    traits = PURE
    x = operand()
    like = operand(doc="the value whose shape the result has")

    def infer_type(self, x: Type, like: Type) -> TensorType:
        t, lk = tensor(x, "x"), tensor(like, "like")
        require_dtypes(t, NUMERIC, "x")
        if lk.shape is None:
            return t.with_shape(None)
        if t.shape is not None:
            lead = len(t.shape) - len(lk.shape)
            if lead < 0:
                raise ShapeError(f"like's shape {format_shape(lk.shape)} has a higher rank than x's {format_shape(t.shape)}")
            for d, e in zip(lk.shape, t.shape[lead:]):
                if d is not None and d != 1 and e is not None and e != d:
                    raise ShapeError(
                        f"like's shape {format_shape(lk.shape)} does not broadcast to x's {format_shape(t.shape)}"
                    )
        return t.with_shape(lk.shape)


@register_op
class BroadcastLike(Operation):
    """``x`` broadcast (numpy rules) to ``like``'s shape; ``x`` must broadcast to it unchanged.

    Any dtype for both; the result has ``x``'s dtype.
    """

    name = "grad.broadcast_like"
    traits = PURE
    x = operand()
    like = operand(doc="the value whose shape the result has")

    def infer_type(self, x: Type, like: Type) -> TensorType:
        t, lk = tensor(x, "x"), tensor(like, "like")
        if lk.shape is None:
            return t.with_shape(None)
        if t.shape is None:
            return t.with_shape(lk.shape)
        lead = len(lk.shape) - len(t.shape)
        if lead < 0:
            raise ShapeError(f"x's shape {format_shape(t.shape)} has a higher rank than like's {format_shape(lk.shape)}")
        out: list[int | None] = list(lk.shape[:lead])
        for d, e in zip(lk.shape[lead:], t.shape):
            if d is not None:
                if e is not None and e != 1 and e != d:
                    raise ShapeError(
                        f"x's shape {format_shape(t.shape)} does not broadcast to like's {format_shape(lk.shape)}"
                    )
                out.append(d)
            else:
                # A known size other than 1 is what the dim must be at run time.
                out.append(e if e is not None and e != 1 else None)
        return t.with_shape(out)


@register_op
class Unreduce(Operation):
    """``g``, the result of reducing a value of ``like``'s shape over ``axes`` (with or
    without ``keepdims``), broadcast back to that shape: the adjoint of ``reduce_sum``; with
    ``mean`` also divided by the number of elements reduced (the adjoint of ``reduce_mean``).

    ``axes`` is as in the reductions (``None``: all). ``g`` is numeric (float with ``mean``);
    the result has ``g``'s dtype and ``like``'s shape.
    """

    name = "grad.unreduce"
    traits = PURE
    g = operand()
    like = operand(doc="the value that was reduced")
    axes = attr(Ints, default=None, doc="the reduced axes; None for all")
    keepdims = attr(bool, default=False)
    mean = attr(bool, default=False, doc="divide by the number of reduced elements")

    def reduced_axes(self, rank: int) -> tuple[int, ...]:
        """The reduced axes of a rank-``rank`` value, normalised (all axes when ``axes`` is ``None``)."""
        if self.axes is None:
            return tuple(range(rank))
        return normalize_axes(self.axes, rank, "axis")

    def reduced_shape(self, shape: Dims) -> Dims:
        """The shape the reduction of a value of ``shape`` has (``g``'s expected shape)."""
        axes = set(self.reduced_axes(len(shape)))
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(shape))
        return tuple(d for i, d in enumerate(shape) if i not in axes)

    def infer_type(self, g: Type, like: Type) -> TensorType:
        t, lk = tensor(g, "g"), tensor(like, "like")
        require_dtypes(t, FLOATS if self.mean else NUMERIC, "g")
        if lk.shape is None:
            if self.axes is None and not self.keepdims and t.shape is not None and t.shape != ():
                raise ShapeError(f"g must be a scalar for a full reduction, got {format_shape(t.shape)}")
            return t.with_shape(None)
        expected = self.reduced_shape(lk.shape)
        if t.shape is None:
            return t.with_shape(lk.shape)
        _check_fits("g", t.shape, expected)
        # Dims that were not reduced are g's too: the result knows what either type knows.
        axes = set(self.reduced_axes(len(lk.shape)))
        kept = [i for i in range(len(lk.shape)) if self.keepdims or i not in axes]
        from_g = dict(zip(kept, t.shape))
        return t.with_shape(d if d is not None or i in axes else from_g[i] for i, d in enumerate(lk.shape))


@register_op
class ReshapeLike(Operation):
    """``x``'s elements (row-major) laid out in ``like``'s shape; the element counts must be
    equal. Any dtype; the result has ``x``'s dtype."""

    name = "grad.reshape_like"
    traits = PURE
    x = operand()
    like = operand(doc="the value whose shape the result has")

    def infer_type(self, x: Type, like: Type) -> TensorType:
        t, lk = tensor(x, "x"), tensor(like, "like")
        n, m = t.num_elements, lk.num_elements
        if n is not None and m is not None and n != m:
            raise ShapeError(
                f"cannot reshape x of shape {format_shape(t.shape)} ({n} elements) like {format_shape(lk.shape)} ({m} elements)"
            )
        return t.with_shape(lk.shape)


@register_op
class ReluGrad(BinaryElementwise):
    """``x`` where ``y > 0``, else 0 (with broadcasting): the gradient ``x`` of ``relu``
    passed back through it, ``y`` being relu's input or output (both are positive at the
    same places). Numeric."""

    name = "grad.relu_grad"


class _StridedSliceSpec(Operation):
    """The attributes of ``StridedSlice``, and its ``plan``."""

    begin = attr(Ints)
    end = attr(Ints)
    strides = attr(Ints)
    begin_mask = attr(int, default=0)
    end_mask = attr(int, default=0)
    ellipsis_mask = attr(int, default=0)
    new_axis_mask = attr(int, default=0)
    shrink_axis_mask = attr(int, default=0)

    # The slicing rules are StridedSlice's; its methods read only these attributes.
    _check_spec = StridedSlice._check_spec
    plan = StridedSlice.plan

    def sliced_shape(self, shape: Dims) -> Dims:
        """The shape of the slice of a value of ``shape`` (known rank)."""
        plan: list[SliceDim | None] = self.plan(shape)
        return tuple(1 if p is None else p.size for p in plan if p is None or not p.shrink)


@register_op
class StridedSliceGrad(_StridedSliceSpec):
    """A value of ``like``'s shape holding ``g`` where ``like[spec]`` is and zeros elsewhere:
    the adjoint of ``strided_slice`` (whose attributes it has) of a value of ``like``'s shape.

    ``g`` is numeric, of the slice's shape; the result has ``g``'s dtype and ``like``'s shape.
    """

    name = "grad.strided_slice_grad"
    traits = PURE
    g = operand()
    like = operand(doc="the value that was sliced")

    def infer_type(self, g: Type, like: Type) -> TensorType:
        t, lk = tensor(g, "g"), tensor(like, "like")
        require_dtypes(t, NUMERIC, "g")
        self._check_spec()
        if lk.shape is not None and t.shape is not None:
            _check_fits("g", t.shape, self.sliced_shape(lk.shape))
        return t.with_shape(lk.shape)


@register_op
class GatherGrad(Operation):
    """A value of ``like``'s shape holding the sum of the slices of ``g`` gathered from each
    position (zeros where nothing was gathered): the adjoint of ``gather(like, indices, axis)``.

    ``g`` is numeric, of the gather's shape; ``indices`` int32 or int64, each in
    ``[0, like.shape[axis])`` (checked at run time). The result has ``g``'s dtype and
    ``like``'s shape.
    """

    name = "grad.gather_grad"
    traits = PURE
    g = operand()
    indices = operand()
    like = operand(doc="the gathered params")
    axis = attr(int, default=0)

    def infer_type(self, g: Type, indices: Type, like: Type) -> TensorType:
        t, ix, lk = tensor(g, "g"), tensor(indices, "indices"), tensor(like, "like")
        require_dtypes(t, NUMERIC, "g")
        require_dtypes(ix, INDEX_DTYPES, "indices")
        if lk.shape is None:
            return t.with_shape(None)
        if not lk.shape:
            raise ShapeError("like must have rank >= 1, got a scalar")
        axis = normalize_axis(self.axis, len(lk.shape))
        if t.shape is not None and ix.shape is not None:
            _check_fits("g", t.shape, (*lk.shape[:axis], *ix.shape, *lk.shape[axis + 1 :]))
        return t.with_shape(lk.shape)


@register_op
class Untile(Operation):
    """``g``, a value tiled ``multiples`` times, summed over its copies back to ``like``'s
    shape: the adjoint of ``tile(like, multiples)``.

    ``g`` is numeric with ``g.shape[i] == like.shape[i] * multiples[i]``; the result has
    ``g``'s dtype and ``like``'s shape (zeros where a multiple is 0).
    """

    name = "grad.untile"
    traits = PURE
    g = operand()
    like = operand(doc="the value that was tiled")
    multiples = attr(Ints)

    def infer_type(self, g: Type, like: Type) -> TensorType:
        t, lk = tensor(g, "g"), tensor(like, "like")
        require_dtypes(t, NUMERIC, "g")
        m = self.multiples
        if any(k < 0 for k in m):
            raise OpAttributeError(f"multiples must be non-negative, got {list(m)}")
        for what, shape in (("g", t.shape), ("like", lk.shape)):
            if shape is not None and len(shape) != len(m):
                raise ShapeError(f"multiples {list(m)} have {len(m)} entries for {what} of rank {len(shape)}")
        if t.shape is None:
            return t.with_shape(lk.shape if lk.shape is not None else (None,) * len(m))
        out: list[int | None] = []
        for i, (e, k) in enumerate(zip(t.shape, m)):
            d = None if lk.shape is None else lk.shape[i]
            if d is not None and e is not None and e != d * k:
                raise ShapeError(
                    f"g's dim {i} is {e}, but like's is {d} tiled {k} times (g {format_shape(t.shape)}, like {format_shape(lk.shape)})"
                )
            if d is None and e is not None and k and e % k:
                raise ShapeError(f"g's dim {i} ({e}) is not a multiple of {k} (g {format_shape(t.shape)})")
            out.append(d if d is not None else (e // k if e is not None and k else None))
        return t.with_shape(out)


@register_op
class PadGrad(Operation):
    """``g``, a value padded by ``paddings`` in ``mode`` (``array.pad``'s attributes), with
    the padding taken off and, for ``reflect`` and ``symmetric``, added onto the elements it
    mirrors: the adjoint of ``pad``.

    ``g`` is numeric; the result has ``g``'s dtype and each dim shrunk by its two paddings.
    """

    name = "grad.pad_grad"
    traits = PURE
    g = operand()
    paddings = attr(Ints, doc="[before0, after0, before1, after1, ...]")
    mode = attr(str, default="constant", doc="constant, reflect or symmetric")

    def pairs(self) -> list[tuple[int, int]]:
        """``paddings`` as ``(before, after)`` pairs, one per dim."""
        p = self.paddings
        return [(p[2 * i], p[2 * i + 1]) for i in range(len(p) // 2)]

    def infer_type(self, g: Type) -> TensorType:
        t = tensor(g, "g")
        require_dtypes(t, NUMERIC, "g")
        p = self.paddings
        if self.mode not in PAD_MODES:
            raise OpAttributeError(f"mode must be one of {', '.join(PAD_MODES)}, got {self.mode!r}")
        if len(p) % 2 or any(v < 0 for v in p):
            raise OpAttributeError(f"paddings must hold two non-negative entries per dim, got {list(p)}")
        pairs = self.pairs()
        if t.shape is None:
            return t.with_shape((None,) * len(pairs))
        if len(pairs) != len(t.shape):
            raise ShapeError(f"paddings have {len(p)} entries for g of rank {len(t.shape)}; expected {2 * len(t.shape)}")
        slack = {"reflect": -1, "symmetric": 0}.get(self.mode)
        out: list[int | None] = []
        for i, (e, (before, after)) in enumerate(zip(t.shape, pairs)):
            if e is None:
                out.append(None)
                continue
            n = e - before - after
            if n < 0 or (slack is not None and max(before, after) > n + slack):
                raise ShapeError(
                    f"dim {i} of g (size {e}) cannot hold {self.mode} paddings ({before}, {after}) (shape {format_shape(t.shape)})"
                )
            out.append(n)
        return t.with_shape(out)


@register_op
class SplitLike(Operation):
    """``x`` cut along ``axis`` into pieces as long as each of ``likes`` is along it: the
    adjoint of ``concat(likes, axis)``.

    One result per ``like`` (at least one), with ``x``'s dtype, ``x``'s dims and the like's
    size along ``axis``; the sizes must add up to ``x``'s.
    """

    name = "grad.split_like"
    traits = PURE
    x = operand()
    likes = variadic_operand(doc="the values whose sizes along axis the pieces have")
    axis = attr(int)

    def infer_type(self, x: Type, likes: Sequence[Type]) -> tuple[TensorType, ...]:
        t = tensor(x, "x")
        if not likes:
            raise ShapeError("needs at least one like")
        lks = [tensor(v, f"likes[{i}]") for i, v in enumerate(likes)]
        if t.shape is None:
            rank = next((len(lk.shape) for lk in lks if lk.shape is not None), None)
            if rank is None:
                return tuple(t.with_shape(None) for _ in lks)
            shape: Dims = (None,) * rank
        else:
            shape = t.shape
        axis = normalize_axis(self.axis, len(shape))
        sizes: list[int | None] = []
        for i, lk in enumerate(lks):
            if lk.shape is not None and len(lk.shape) != len(shape):
                raise ShapeError(f"likes[{i}] has rank {len(lk.shape)}; x has rank {len(shape)}")
            sizes.append(None if lk.shape is None else lk.shape[axis])
        if None not in sizes and shape[axis] is not None and sum(sizes) != shape[axis]:  # type: ignore[arg-type]
            raise ShapeError(f"the likes' sizes {sizes} along axis {self.axis} do not add up to x's {shape[axis]}")
        return tuple(t.with_shape((*shape[:axis], n, *shape[axis + 1 :])) for n in sizes)


# --------------------------------------------------------------------------------------------
# Convolution and pooling


def _window_grad_type(dy: TensorType, like: TensorType, forward: Dims | None) -> TensorType:
    """``like``'s shape in ``dy``'s dtype, once ``dy`` fits ``forward`` (the forward result's
    shape, if known)."""
    if forward is not None and dy.shape is not None:
        _check_fits("dy", dy.shape, forward)
    return TensorType(dy.dtype, like.shape)


@register_op
class ConvInputGrad(ConvWindow):
    """The gradient of ``nn.conv`` with respect to ``x``: the transposed convolution of ``dy``
    with ``w``, shaped as ``like`` (the forward ``x``). Attributes as the forward op's.

    Linear in ``dy`` and in ``w``: with ``conv`` and ``grad.conv_filter_grad`` it closes the
    VJPs (second derivatives are these three ops again).
    """

    name = "grad.conv_input_grad"
    traits = PURE
    dy = operand()
    w = operand()
    like = operand(doc="the forward x: the result's shape")

    def infer_type(self, dy: Type, w: Type, like: Type) -> TensorType:
        g, tw, lk = tensor(dy, "dy"), tensor(w, "w"), tensor(like, "like")
        require_dtypes(g, FLOATS, "dy")
        same_dtype(g, tw, what="dy and w")
        rank = next((t.rank for t in (lk, tw, g) if t.rank is not None), None)
        self.check_conv_attributes(None if rank is None else rank - 2)
        forward = self.conv_shape(lk.shape, tw.shape) if lk.shape is not None and tw.shape is not None else None
        return _window_grad_type(g, lk, forward)


@register_op
class ConvFilterGrad(ConvWindow):
    """The gradient of ``nn.conv`` with respect to ``w``: the correlation of ``x`` with
    ``dy``, shaped as ``like`` (the forward ``w``). Attributes as the forward op's; linear
    in ``x`` and in ``dy``."""

    name = "grad.conv_filter_grad"
    traits = PURE
    x = operand()
    dy = operand()
    like = operand(doc="the forward w: the result's shape")

    def infer_type(self, x: Type, dy: Type, like: Type) -> TensorType:
        tx, g, lk = tensor(x, "x"), tensor(dy, "dy"), tensor(like, "like")
        require_dtypes(g, FLOATS, "dy")
        same_dtype(tx, g, what="x and dy")
        rank = next((t.rank for t in (tx, lk, g) if t.rank is not None), None)
        self.check_conv_attributes(None if rank is None else rank - 2)
        forward = self.conv_shape(tx.shape, lk.shape) if tx.shape is not None and lk.shape is not None else None
        return _window_grad_type(g, lk, forward)


@register_op
class MaxPoolGrad(PoolWindow):
    """The gradient of ``nn.max_pool`` with respect to ``x``: each window's cotangent in
    ``dy`` added at the window's first maximum of ``x`` (the first nan, if any). Attributes
    as the forward op's; ``x`` and ``dy`` float of one dtype; the result has ``x``'s type."""

    name = "grad.max_pool_grad"
    traits = PURE
    x = operand()
    dy = operand()

    def infer_type(self, x: Type, dy: Type) -> TensorType:
        tx, g = tensor(x, "x"), tensor(dy, "dy")
        same_dtype(tx, g, what="x and dy")
        require_dtypes(g, FLOATS, "dy")
        return _window_grad_type(g, tx, self.pool_shape(tx).shape)


@register_op
class MaxPoolGradGrad(PoolWindow):
    """The transpose of ``grad.max_pool_grad`` in its cotangent: ``g`` (shaped as ``x``) read
    at each window's first maximum of ``x``, giving the pooled shape (0 for a window of
    padding alone). Attributes as ``nn.max_pool``'s; ``x`` and ``g`` float of one dtype.
    Linear in ``g``; its own VJP is ``grad.max_pool_grad``."""

    name = "grad.max_pool_grad_grad"
    traits = PURE
    x = operand()
    g = operand()

    def infer_type(self, x: Type, g: Type) -> TensorType:
        tx, tg = tensor(x, "x"), tensor(g, "g")
        same_dtype(tx, tg, what="x and g")
        require_dtypes(tg, FLOATS, "g")
        if tx.shape is not None and tg.shape is not None:
            _check_fits("g", tg.shape, tx.shape)
        return self.pool_shape(tx if tx.shape is not None else tg)


@register_op
class AvgPoolGrad(PoolWindow):
    """The gradient of ``nn.avg_pool`` with respect to ``x``: each window's cotangent in
    ``dy``, divided by the window's divisor, spread over its cells inside ``like`` (the
    forward ``x``). Attributes as the forward op's; float; linear in ``dy``."""

    name = "grad.avg_pool_grad"
    traits = PURE
    dy = operand()
    like = operand(doc="the forward x: the result's shape")
    count_include_pad = attr(bool, default=False)

    def infer_type(self, dy: Type, like: Type) -> TensorType:
        g, lk = tensor(dy, "dy"), tensor(like, "like")
        require_dtypes(g, FLOATS, "dy")
        return _window_grad_type(g, lk, self.pool_shape(lk).shape)


@register_op
class ResizeNearestGrad(ResizeWindow):
    """The gradient of ``nn.resize_nearest`` with respect to ``x``: each cell of ``g`` added
    to the input cell it was sampled from, shaped as ``like`` (the forward ``x``). Attributes
    as the forward op's; float; linear in ``g``, its own VJP is ``nn.resize_nearest``."""

    name = "grad.resize_nearest_grad"
    traits = PURE
    g = operand()
    like = operand(doc="the forward x: the result's shape")

    def infer_type(self, g: Type, like: Type) -> TensorType:
        tg, lk = tensor(g, "g"), tensor(like, "like")
        require_dtypes(tg, FLOATS, "g")
        out = self.resized_shape(lk.shape)
        if out is not None and tg.shape is not None:
            _check_fits("g", tg.shape, out)
        return TensorType(tg.dtype, lk.shape)


@register_op
class TakeAlongAxisGrad(Operation):
    """The gradient of ``array.take_along_axis`` with respect to ``x``: each element of ``g``
    added at its index along ``axis`` of a zero tensor shaped as ``like`` (the forward ``x``;
    ONNX ``ScatterElements`` with ``reduction=add`` into zeros). ``g`` numeric of the
    ``indices``' shape; linear in ``g``, its own VJP is ``array.take_along_axis``. Indices
    outside ``[0, like.shape[axis])`` are a run-time error."""

    name = "grad.take_along_axis_grad"
    traits = PURE
    g = operand()
    indices = operand()
    like = operand(doc="the forward x: the result's shape")
    axis = attr(int, default=0)

    def infer_type(self, g: Type, indices: Type, like: Type) -> TensorType:
        tg, ix, lk = tensor(g, "g"), tensor(indices, "indices"), tensor(like, "like")
        require_dtypes(tg, NUMERIC, "g")
        forward = take_along_axis_type(lk, ix, self.axis)
        if forward.shape is not None and tg.shape is not None:
            _check_fits("g", tg.shape, forward.shape)
        return TensorType(tg.dtype, lk.shape)
