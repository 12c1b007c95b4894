"""The array dialect: reshaping, slicing, joining, gathering, padding and tensor creation.

Semantics follow TensorFlow 1.15 (``tf.reshape``, ``tf.strided_slice``, ``tf.pad`` ...). Type
rules use the shape algebra of ``flowir.ir.types``: a ``None`` dim is unknown and propagates
to the result dims that depend on it; an operand of unknown rank gives a result of unknown
rank unless the attributes fix the rank. A contradiction that is visible statically is a
``ShapeError`` when the op is created; the numpy kernels in ``flowir/ir/reference/array.py``
re-check the same rules on concrete shapes, so a bad feed fails with the same message.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from flowir.ir.attributes import Ints
from flowir.ir.core import PURE, Operation, attr, operand, register_op, variadic_operand
from flowir.ir.dtypes import DType
from flowir.ir.errors import DTypeError, OpAttributeError, ShapeError
from flowir.ir.ops._base import ALL_DTYPES, FLOATS, NUMERIC, require_dtypes, same_dtype, tensor
from flowir.ir.types import TensorType, Type, broadcast_shapes, format_shape, normalize_axis

__all__ = [
    "Identity",
    "Reshape",
    "Transpose",
    "ExpandDims",
    "Squeeze",
    "Concat",
    "Stack",
    "Split",
    "Slice",
    "StridedSlice",
    "Gather",
    "Tile",
    "BroadcastTo",
    "TakeAlongAxis",
    "Trilu",
    "Pad",
    "Fill",
    "Zeros",
    "Ones",
    "ZerosLike",
    "OnesLike",
    "Range",
    "OneHot",
    "Shape",
]
# ``__all__`` lists the op classes only (``flowir.ir.ops`` re-exports them); the public helpers
# ``strided_slice_spec`` and ``SliceDim`` are imported from this module by name.

#: Dtypes of index operands (``gather`` indices), as in TF.
INDEX_DTYPES = frozenset({DType.int32, DType.int64})
#: Dtypes of ``one_hot`` indices, as in TF.
ONE_HOT_INDEX_DTYPES = frozenset({DType.uint8, DType.int32, DType.int64})
#: Dtypes that have a "one" (everything but strings).
NUMERIC_OR_BOOL = NUMERIC | {DType.bool}
#: ``Pad`` modes.
PAD_MODES = ("constant", "reflect", "symmetric")
#: Dtypes ``Range`` can produce: TF's ``Tidx`` less the unsigned ones (a negative delta would wrap).
RANGE_DTYPES = FLOATS | {DType.int8, DType.int16, DType.int32, DType.int64}

Dims = tuple[int | None, ...]


def _check_sizes(values: Sequence[int], what: str) -> None:
    """Sizes given as attributes (``Fill``'s shape, ``Tile``'s multiples ...) are non-negative."""
    bad = [v for v in values if v < 0]
    if bad:
        raise OpAttributeError(f"{what} must be non-negative, got {list(values)}")


# --------------------------------------------------------------------------------------------
# Identity and shape manipulation


@register_op
class Identity(Operation):
    """``x`` unchanged; any dtype."""

    name = "array.identity"
    traits = PURE
    x = operand()

    def infer_type(self, x: Type) -> TensorType:
        return tensor(x, "x")


@register_op
class Reshape(Operation):
    """``x`` with its elements (in row-major order) laid out in ``shape``.

    At most one entry of ``shape`` is ``-1``: it takes the size that keeps the element count,
    known statically when ``x``'s shape is; it is ``None`` in the result otherwise. Element
    counts that cannot match are a ``ShapeError`` (also when ``x`` has unknown dims but its
    known dims already rule every size out). A ``-1`` next to a 0 dim is an error, as in TF.

    >>> from flowir.ir.core import Graph
    >>> x = Graph().add_input(TensorType(DType.float32, (None, 4)), "x")
    >>> Reshape.create(x, shape=[-1, 2], loc=None).result.type
    tensor<?x2xf32>
    """

    name = "array.reshape"
    traits = PURE
    x = operand()
    shape = attr(Ints, doc="the new shape; at most one -1")

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        target = self.shape
        if any(d < -1 for d in target) or target.count(-1) > 1:
            raise OpAttributeError(f"shape must hold sizes >= 0 and at most one -1, got {list(target)}")
        known = math.prod([d for d in target if d != -1])
        has_wild = -1 in target
        if t.shape is None:
            return t.with_shape(None if d == -1 else d for d in target)
        if t.is_static:
            n = t.num_elements
            assert n is not None
            if has_wild:
                if known == 0 or n % known:
                    raise ShapeError(f"cannot reshape {format_shape(t.shape)} ({n} elements) into {list(target)}")
                return t.with_shape(n // known if d == -1 else d for d in target)
            if known != n:
                raise ShapeError(
                    f"cannot reshape {format_shape(t.shape)} ({n} elements) into {list(target)} ({known} elements)"
                )
            return t.with_shape(target)
        # Some input dims are unknown: the element count is (known dims) * (any size >= 0).
        known_in = math.prod([d for d in t.shape if d is not None])
        if has_wild:
            if known == 0:
                raise ShapeError(f"cannot infer the -1 dim of {list(target)} when the other dims hold 0 elements")
            # A known 0 input dim makes the tensor empty whatever the unknown dims are.
            wild = 0 if known_in == 0 else None
            return t.with_shape(wild if d == -1 else d for d in target)
        if known_in and known % known_in:
            raise ShapeError(
                f"cannot reshape {format_shape(t.shape)} into {list(target)}: {known} elements is not a multiple of {known_in}"
            )
        if known_in == 0 and known != 0:
            raise ShapeError(
                f"cannot reshape {format_shape(t.shape)} (0 elements) into {list(target)} ({known} elements)"
            )
        return t.with_shape(target)


@register_op
class Transpose(Operation):
    """``x`` with its dims permuted: result dim ``i`` is ``x``'s dim ``perm[i]``.

    ``perm`` (default: the dims reversed) must be a permutation of ``range(rank)``. For ``x``
    of unknown rank and no ``perm`` the result has unknown rank.
    """

    name = "array.transpose"
    traits = PURE
    x = operand()
    perm = attr(Ints, default=None, doc="the permutation; None reverses the dims")

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        perm = self.perm
        if perm is not None and sorted(perm) != list(range(len(perm))):
            raise OpAttributeError(f"perm must be a permutation of range({len(perm)}), got {list(perm)}")
        if t.shape is None:
            return t.with_shape(None if perm is None else (None,) * len(perm))
        if perm is None:
            return t.with_shape(t.shape[::-1])
        if len(perm) != len(t.shape):
            raise ShapeError(f"perm {list(perm)} has {len(perm)} entries for a tensor of rank {len(t.shape)}")
        return t.with_shape(t.shape[p] for p in perm)


@register_op
class ExpandDims(Operation):
    """``x`` with a dim of size 1 inserted at ``axis`` (in ``[-rank-1, rank]``; negative axes
    count from the end of the result)."""

    name = "array.expand_dims"
    traits = PURE
    x = operand()
    axis = attr(int)

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        if t.shape is None:
            return t
        axis = normalize_axis(self.axis, len(t.shape) + 1)
        return t.with_shape((*t.shape[:axis], 1, *t.shape[axis:]))


@register_op
class Squeeze(Operation):
    """``x`` without the size-1 dims listed in ``axes`` (default: all size-1 dims).

    Axes may be negative and repeat (as in TF); squeezing a dim known to differ from 1 is a
    ``ShapeError``. ``axes=()`` squeezes nothing (TF's empty ``squeeze_dims`` means "all": a
    frontend passes ``None`` for it). With ``axes=None`` and unknown dims the result rank is
    unknown, since each unknown dim may or may not be 1.
    """

    name = "array.squeeze"
    traits = PURE
    x = operand()
    axes = attr(Ints, default=None, doc="the dims to remove; None for all size-1 dims")

    def squeezed_axes(self, shape: Dims) -> frozenset[int]:
        """The removed dims of a tensor of ``shape`` (known rank). ``ShapeError`` if bad."""
        if self.axes is None:
            return frozenset(i for i, d in enumerate(shape) if d == 1)
        rank = len(shape)
        axes = frozenset(normalize_axis(a, rank) for a in self.axes)
        for a in sorted(axes):
            if shape[a] is not None and shape[a] != 1:
                raise ShapeError(f"cannot squeeze dim {a} of size {shape[a]} (shape {format_shape(shape)})")
        return axes

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        if t.shape is None or (self.axes is None and None in t.shape):
            return t.with_shape(None)
        axes = self.squeezed_axes(t.shape)
        return t.with_shape(d for i, d in enumerate(t.shape) if i not in axes)


# --------------------------------------------------------------------------------------------
# Joining and splitting


def _common_shape(types: Sequence[TensorType], skip_axis: int | None, what: str) -> Dims | None:
    """The meet of known-rank shapes, ignoring dim ``skip_axis``; ``None`` if no rank is known."""
    known = [t.shape for t in types if t.shape is not None]
    if not known:
        return None
    rank = len(known[0])
    out: list[int | None] = [None] * rank
    for shape in known:
        if len(shape) != rank:
            ranks = " vs ".join(format_shape(s) for s in known)
            raise ShapeError(f"{what} must have equal ranks: {ranks}")
        for i, d in enumerate(shape):
            if i == skip_axis or d is None:
                continue
            if out[i] is not None and out[i] != d:
                shapes = ", ".join(format_shape(s) for s in known)
                raise ShapeError(f"{what} differ in dim {i} ({out[i]} vs {d}): {shapes}")
            out[i] = d
    return tuple(out)


def _values_types(values: Sequence[Type]) -> tuple[list[TensorType], DType]:
    if not values:
        raise ShapeError("needs at least one value")
    types = [tensor(v, f"values[{i}]") for i, v in enumerate(values)]
    return types, same_dtype(*types, what="values")


@register_op
class Concat(Operation):
    """``values`` joined along ``axis``.

    At least one value; all share a dtype and a rank; dims other than ``axis`` agree (an
    unknown dim matches any); the ``axis`` dim is the sum (``None`` if any is unknown).
    """

    name = "array.concat"
    traits = PURE
    values = variadic_operand()
    axis = attr(int)

    def infer_type(self, values: Sequence[Type]) -> TensorType:
        types, dt = _values_types(values)
        rank = next((len(t.shape) for t in types if t.shape is not None), None)
        if rank is None:
            return TensorType(dt, None)
        axis = normalize_axis(self.axis, rank)
        shape = _common_shape(types, axis, "values")
        assert shape is not None
        sizes = [None if t.shape is None else t.shape[axis] for t in types]
        total = None if None in sizes else sum(sizes)  # type: ignore[arg-type]
        return TensorType(dt, (*shape[:axis], total, *shape[axis + 1 :]))


@register_op
class Stack(Operation):
    """``values`` (at least one, equal shapes and dtype) stacked along a new dim ``axis``
    (in ``[-rank-1, rank]``)."""

    name = "array.stack"
    traits = PURE
    values = variadic_operand()
    axis = attr(int, default=0)

    def infer_type(self, values: Sequence[Type]) -> TensorType:
        types, dt = _values_types(values)
        shape = _common_shape(types, None, "values")
        if shape is None:
            return TensorType(dt, None)
        axis = normalize_axis(self.axis, len(shape) + 1)
        return TensorType(dt, (*shape[:axis], len(types), *shape[axis:]))


@register_op
class Split(Operation):
    """``x`` cut along ``axis`` into ``num`` equal pieces or pieces of ``sizes``.

    Exactly one of ``num`` (>= 1; the dim must divide evenly) and ``sizes`` (>= 1 entries,
    at most one ``-1`` taking what is left; the sizes must add up to the dim) is given. The op
    has one result per piece.
    """

    name = "array.split"
    traits = PURE
    x = operand()
    axis = attr(int, default=0)
    num = attr(int, default=None, doc="the number of equal pieces")
    sizes = attr(Ints, default=None, doc="the size of each piece; one may be -1")

    def piece_sizes(self, dim: int | None) -> list[int | None]:
        """The size of each piece when the split dim is ``dim``; ``ShapeError`` if it cannot be."""
        if self.num is not None:
            if dim is None:
                return [None] * self.num
            if dim % self.num:
                raise ShapeError(f"cannot split dim {self.axis} of size {dim} into {self.num} equal pieces")
            return [dim // self.num] * self.num
        sizes = list(self.sizes)
        if -1 not in sizes:
            if dim is not None and sum(sizes) != dim:
                raise ShapeError(f"sizes {sizes} add up to {sum(sizes)}, not the split dim's size {dim}")
            return sizes  # type: ignore[return-value]
        rest = sum(s for s in sizes if s != -1)
        if dim is None:
            return [None if s == -1 else s for s in sizes]
        if rest > dim:
            raise ShapeError(f"sizes {sizes} add up to more than the split dim's size {dim}")
        return [dim - rest if s == -1 else s for s in sizes]

    def infer_type(self, x: Type) -> tuple[TensorType, ...]:
        t = tensor(x, "x")
        if (self.num is None) == (self.sizes is None):
            raise OpAttributeError("give exactly one of num and sizes")
        if self.num is not None and self.num < 1:
            raise OpAttributeError(f"num must be >= 1, got {self.num}")
        if self.sizes is not None:
            s = self.sizes
            if not s or any(v < -1 for v in s) or s.count(-1) > 1:
                raise OpAttributeError(f"sizes must be one or more sizes >= 0 with at most one -1, got {list(s)}")
        count = self.num if self.num is not None else len(self.sizes)
        if t.shape is None:
            return (t,) * count
        axis = normalize_axis(self.axis, len(t.shape))
        shape = t.shape
        return tuple(t.with_shape((*shape[:axis], n, *shape[axis + 1 :])) for n in self.piece_sizes(shape[axis]))


# --------------------------------------------------------------------------------------------
# Slicing


@register_op
class Slice(Operation):
    """The block of ``x`` starting at ``begin`` with extent ``size`` (``tf.slice``).

    One entry per dim; ``begin`` is in ``[0, dim]``; a size of ``-1`` runs to the end of the
    dim; ``begin + size`` must not pass the end.
    """

    name = "array.slice"
    traits = PURE
    x = operand()
    begin = attr(Ints)
    size = attr(Ints, doc="the extent per dim; -1 runs to the end")

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        begin, size = self.begin, self.size
        if len(begin) != len(size):
            raise OpAttributeError(f"begin {list(begin)} and size {list(size)} differ in length")
        if any(b < 0 for b in begin) or any(s < -1 for s in size):
            raise OpAttributeError(f"begin must be >= 0 and size >= -1, got begin {list(begin)}, size {list(size)}")
        if t.shape is None:
            return t.with_shape(None if s == -1 else s for s in size)
        if len(begin) != len(t.shape):
            raise ShapeError(f"begin and size have {len(begin)} entries for a tensor of rank {len(t.shape)}")
        out: list[int | None] = []
        for i, (b, s, d) in enumerate(zip(begin, size, t.shape)):
            if d is None:
                out.append(None if s == -1 else s)
                continue
            end = d if s == -1 else b + s
            if b > d or end > d:
                raise ShapeError(f"slice [{b}, {end}) of dim {i} passes its size {d} (shape {format_shape(t.shape)})")
            out.append(end - b)
        return t.with_shape(out)


@dataclass(frozen=True)
class SliceDim:
    """How a strided slice treats one dim of its input.

    ``begin``/``end`` are canonical positions (``range(begin, end, stride)`` lists the taken
    indices; both ``None`` when the dim is unknown); a ``shrink`` dim takes index ``begin``
    and disappears from the result; ``size`` is the number of taken indices (``None`` when
    unknown).
    """

    begin: int | None
    end: int | None
    stride: int
    shrink: bool
    size: int | None


def strided_slice_spec(index: Any) -> dict[str, Any]:
    """The ``StridedSlice`` attributes for a Python basic index, as TF's ``__getitem__``
    builds them.

    ``index`` is one item or a tuple of items: ints (a dim taken and removed), slices with int
    or ``None`` bounds and steps, ``Ellipsis`` and ``None`` (a new dim of size 1).

    >>> strided_slice_spec((1, slice(None, None, 2), None, ...))
    {'begin': (1, 0, 0, 0), 'end': (2, 0, 0, 0), 'strides': (1, 2, 1, 1), 'begin_mask': 2, 'end_mask': 2, 'ellipsis_mask': 8, 'new_axis_mask': 4, 'shrink_axis_mask': 1}

    Raises ``TypeError`` for anything else (bools, arrays, lists: not basic indexing).
    """
    items = index if isinstance(index, tuple) else (index,)
    begin: list[int] = []
    end: list[int] = []
    strides: list[int] = []
    masks = {"begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0, "shrink_axis_mask": 0}
    for i, item in enumerate(items):
        bit = 1 << i
        if isinstance(item, slice):
            if item.start is None:
                begin.append(0)
                masks["begin_mask"] |= bit
            else:
                begin.append(_index_int(item.start))
            if item.stop is None:
                end.append(0)
                masks["end_mask"] |= bit
            else:
                end.append(_index_int(item.stop))
            strides.append(1 if item.step is None else _index_int(item.step))
        elif item is Ellipsis:
            begin.append(0)
            end.append(0)
            strides.append(1)
            masks["ellipsis_mask"] |= bit
        elif item is None:
            begin.append(0)
            end.append(0)
            strides.append(1)
            masks["new_axis_mask"] |= bit
        else:
            k = _index_int(item)
            begin.append(k)
            end.append(k + 1)
            strides.append(1)
            masks["shrink_axis_mask"] |= bit
    return {"begin": tuple(begin), "end": tuple(end), "strides": tuple(strides), **masks}


def _index_int(x: Any) -> int:
    if not isinstance(x, (bool, np.bool_)):
        try:
            return operator.index(x)
        except TypeError:
            pass
    raise TypeError(f"only integers, slices, Ellipsis and None are valid indices, got {x!r}")


@register_op
class StridedSlice(Operation):
    """``x[begin:end:strides]`` per dim with TF's masks (``tf.strided_slice``).

    ``begin``, ``end`` and ``strides`` have one entry per index item. Bit ``i`` of a mask
    concerns item ``i``: ``begin_mask``/``end_mask`` ignore the bound (take the dim from its
    start / to its end in the stride's direction), ``ellipsis_mask`` (at most one bit) stands
    for as many full dims as needed, ``new_axis_mask`` inserts a dim of size 1,
    ``shrink_axis_mask`` takes the single index ``begin`` and removes the dim (its stride is
    ignored). Without an ellipsis, trailing dims are taken whole. Negative bounds count from
    the end; bounds out of range are clamped like Python slices, except a shrink index, which
    must be in range. Strides are non-zero. Mask bits past the last item are ignored.
    ``strided_slice_spec`` turns a Python index into these attributes.
    """

    name = "array.strided_slice"
    traits = PURE
    x = operand()
    begin = attr(Ints)
    end = attr(Ints)
    strides = attr(Ints)
    begin_mask = attr(int, default=0)
    end_mask = attr(int, default=0)
    ellipsis_mask = attr(int, default=0)
    new_axis_mask = attr(int, default=0)
    shrink_axis_mask = attr(int, default=0)

    def _check_spec(self) -> None:
        n = len(self.begin)
        if len(self.end) != n or len(self.strides) != n:
            raise OpAttributeError(
                f"begin, end and strides differ in length ({n}, {len(self.end)}, {len(self.strides)})"
            )
        if 0 in self.strides:
            raise OpAttributeError(f"strides must be non-zero, got {list(self.strides)}")
        masks = (self.begin_mask, self.end_mask, self.ellipsis_mask, self.new_axis_mask, self.shrink_axis_mask)
        if any(m < 0 for m in masks):
            raise OpAttributeError("masks must be non-negative")
        if (self.ellipsis_mask & ((1 << n) - 1)).bit_count() > 1:
            raise OpAttributeError("at most one ellipsis is allowed")

    def plan(self, shape: Dims) -> list[SliceDim | None]:
        """What the op does to a tensor of ``shape`` (known rank): one entry per result item in
        order, ``None`` for a new dim of size 1, else the ``SliceDim`` of the next input dim.

        Raises ``ShapeError`` when the index uses more dims than ``shape`` has or a shrink
        index is out of range.
        """
        self._check_spec()
        n = len(self.begin)
        low = (1 << n) - 1
        ellipsis = self.ellipsis_mask & low
        new_axis = self.new_axis_mask & low & ~ellipsis
        shrink = self.shrink_axis_mask & low & ~ellipsis & ~new_axis
        consumed = n - ellipsis.bit_count() - new_axis.bit_count()
        rank = len(shape)
        if consumed > rank:
            raise ShapeError(f"the index uses {consumed} dims but the tensor has shape {format_shape(shape)}")
        full = _DenseItem(0, 0, 1, True, True, False)
        items: list[_DenseItem | None] = []
        for i in range(n):
            bit = 1 << i
            if ellipsis & bit:
                items.extend([full] * (rank - consumed))
            elif new_axis & bit:
                items.append(None)
            else:
                items.append(
                    _DenseItem(
                        self.begin[i],
                        self.end[i],
                        self.strides[i],
                        bool(self.begin_mask & bit),
                        bool(self.end_mask & bit),
                        bool(shrink & bit),
                    )
                )
        if not ellipsis:
            items.extend([full] * (rank - consumed))
        out: list[SliceDim | None] = []
        dims = iter(enumerate(shape))
        for item in items:
            if item is None:
                out.append(None)
            else:
                j, d = next(dims)
                out.append(item.resolve(j, d, shape))
        return out

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        self._check_spec()
        if t.shape is None:
            return t
        return t.with_shape(1 if p is None else p.size for p in self.plan(t.shape) if p is None or not p.shrink)


@dataclass(frozen=True)
class _DenseItem:
    """One input dim's part of a strided slice before its size is known."""

    begin: int
    end: int
    stride: int
    begin_masked: bool
    end_masked: bool
    shrink: bool

    def resolve(self, j: int, dim: int | None, shape: Dims) -> SliceDim:
        """Canonical bounds and size against dim ``j`` of size ``dim`` (TF's ValidateStridedSliceOp)."""
        stride = self.stride
        if self.shrink:
            if dim is None:
                return SliceDim(None, None, stride, True, 1)
            k = self.begin + dim if self.begin < 0 else self.begin
            if not 0 <= k < dim:
                raise ShapeError(
                    f"index {self.begin} is out of bounds for dim {j} of size {dim} (shape {format_shape(shape)})"
                )
            return SliceDim(k, k + 1, stride, True, 1)
        if dim is None:
            return SliceDim(None, None, stride, False, None)
        lo, hi = (0, dim) if stride > 0 else (-1, dim - 1)

        def canonical(x: int, masked: bool, is_begin: bool) -> int:
            if masked:
                return lo if (is_begin == (stride > 0)) else hi
            x = x + dim if x < 0 else x
            return min(max(x, lo), hi)

        b = canonical(self.begin, self.begin_masked, True)
        e = canonical(self.end, self.end_masked, False)
        length = e - b
        size = 0 if length == 0 or (length < 0) != (stride < 0) else -(-length // stride)
        return SliceDim(b, e, stride, False, size)


# --------------------------------------------------------------------------------------------
# Gathering, tiling, padding


@register_op
class Gather(Operation):
    """Slices of ``params`` along ``axis`` picked by ``indices`` (``tf.gather``).

    ``indices`` are int32 or int64; the result has shape
    ``params.shape[:axis] + indices.shape + params.shape[axis+1:]``. An index outside
    ``[0, params.shape[axis])`` is an error at run time (as TF on CPU).
    """

    name = "array.gather"
    traits = PURE
    params = operand()
    indices = operand()
    axis = attr(int, default=0)

    def infer_type(self, params: Type, indices: Type) -> TensorType:
        p, ix = tensor(params, "params"), tensor(indices, "indices")
        require_dtypes(ix, INDEX_DTYPES, "indices")
        if p.shape is None:
            return p
        if not p.shape:
            raise ShapeError("params must have rank >= 1, got a scalar")
        axis = normalize_axis(self.axis, len(p.shape))
        if ix.shape is None:
            return p.with_shape(None)
        return p.with_shape((*p.shape[:axis], *ix.shape, *p.shape[axis + 1 :]))


@register_op
class TakeAlongAxis(Operation):
    """Elements of ``x`` picked along ``axis`` by ``indices`` (``np.take_along_axis``, ONNX
    ``GatherElements``): ``out[..., i, ...] = x[..., indices[..., i, ...], ...]``.

    ``indices`` are int32 or int64 of ``x``'s rank; their dims other than ``axis`` equal
    ``x``'s. The result has ``x``'s dtype and ``indices``' shape. An index outside
    ``[0, x.shape[axis])`` is an error at run time (as ``array.gather``).
    """

    name = "array.take_along_axis"
    traits = PURE
    x = operand()
    indices = operand()
    axis = attr(int, default=0)

    def infer_type(self, x: Type, indices: Type) -> TensorType:
        return take_along_axis_type(tensor(x, "x"), tensor(indices, "indices"), self.axis)


def take_along_axis_type(t: TensorType, ix: TensorType, axis: int) -> TensorType:
    """The result type of ``take_along_axis`` of ``t`` by ``ix`` along ``axis`` (the rule of
    ``array.take_along_axis`` and of its gradient op)."""
    require_dtypes(ix, INDEX_DTYPES, "indices")
    rank = t.rank if t.rank is not None else ix.rank
    if rank is None:
        return t.with_shape(None)
    if rank == 0:
        raise ShapeError("x must have rank >= 1, got a scalar")
    axis = normalize_axis(axis, rank)
    if t.shape is None or ix.shape is None:
        return t.with_shape(ix.shape if ix.shape is not None else (None,) * rank)
    if len(t.shape) != len(ix.shape):
        raise ShapeError(f"indices {format_shape(ix.shape)} must have the rank of x {format_shape(t.shape)}")
    out: list[int | None] = []
    for i, (d, k) in enumerate(zip(t.shape, ix.shape)):
        if i != axis and d is not None and k is not None and d != k:
            raise ShapeError(
                f"indices {format_shape(ix.shape)} and x {format_shape(t.shape)} differ in dim {i}, which is not the axis"
            )
        out.append(k if i == axis or k is not None else d)
    return t.with_shape(out)


@register_op
class Trilu(Operation):
    """The upper (or lower) triangle of the matrices in the last two dims of ``x``, the rest
    zeroed (ONNX ``Trilu``, ``np.triu``/``np.tril``): ``upper`` keeps ``x[..., i, j]`` where
    ``j - i >= k``, lower where ``j - i <= k``. Numeric or bool ``x`` of rank >= 2; the
    result has its type."""

    name = "array.trilu"
    traits = PURE
    x = operand()
    k = attr(int, default=0, doc="the diagonal: 0 the main one, > 0 above it")
    upper = attr(bool, default=True)

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        require_dtypes(t, NUMERIC | {DType.bool}, "x")
        if t.rank is not None and t.rank < 2:
            raise ShapeError(f"x must have rank >= 2, got {format_shape(t.shape)}")
        return t


@register_op
class Tile(Operation):
    """``x`` repeated ``multiples[i]`` times along each dim ``i`` (one non-negative entry per dim)."""

    name = "array.tile"
    traits = PURE
    x = operand()
    multiples = attr(Ints)

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        m = self.multiples
        _check_sizes(m, "multiples")
        if t.shape is None:
            return t.with_shape(0 if k == 0 else None for k in m)
        if len(m) != len(t.shape):
            raise ShapeError(f"multiples {list(m)} have {len(m)} entries for a tensor of rank {len(t.shape)}")
        return t.with_shape(0 if k == 0 else None if d is None else d * k for d, k in zip(t.shape, m))


@register_op
class BroadcastTo(Operation):
    """``x`` broadcast with a value of ``shape`` (numpy's rules, both ways: ONNX ``Expand``).

    The result shape is ``broadcast_shapes(x.shape, shape)``; ``tf.broadcast_to`` is the case
    where that is ``shape`` itself. Entries of ``shape`` are non-negative; a 1 keeps ``x``'s
    dim, so a ``None`` dim of ``x`` against 1 stays ``None``. Any dtype.
    """

    name = "array.broadcast_to"
    traits = PURE
    x = operand()
    shape = attr(Ints, doc="the shape to broadcast with")

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        _check_sizes(self.shape, "shape")
        if t.shape is None:
            return t.with_shape(None)
        try:
            return t.with_shape(broadcast_shapes(t.shape, tuple(self.shape)))
        except ShapeError:
            raise ShapeError(f"x {format_shape(t.shape)} does not broadcast with {list(self.shape)}") from None


@register_op
class Pad(Operation):
    """``x`` padded by ``paddings`` (``tf.pad``): ``[before0, after0, before1, after1, ...]``,
    two non-negative entries per dim.

    ``mode`` ``constant`` fills with ``constant_value`` (cast to ``x``'s dtype; strings pad
    with ``b""`` and need the default 0.0); ``reflect`` mirrors without the edge (each padding
    < the dim) and ``symmetric`` with it (each padding <= the dim), as TF's ``MirrorPad``.
    """

    name = "array.pad"
    traits = PURE
    x = operand()
    paddings = attr(Ints, doc="[before0, after0, before1, after1, ...]")
    mode = attr(str, default="constant", doc="constant, reflect or symmetric")
    constant_value = attr(float, default=0.0)

    def pairs(self) -> list[tuple[int, int]]:
        """``paddings`` as ``(before, after)`` pairs, one per dim."""
        p = self.paddings
        return [(p[2 * i], p[2 * i + 1]) for i in range(len(p) // 2)]

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        p = self.paddings
        if self.mode not in PAD_MODES:
            raise OpAttributeError(f"mode must be one of {', '.join(PAD_MODES)}, got {self.mode!r}")
        if len(p) % 2:
            raise OpAttributeError(f"paddings must hold two entries per dim, got {len(p)}")
        _check_sizes(p, "paddings")
        if t.dtype is DType.string and self.mode == "constant" and self.constant_value != 0.0:
            raise DTypeError("a string tensor pads with b'' only: constant_value must be 0.0")
        pairs = self.pairs()
        if t.shape is None:
            return t.with_shape((None,) * len(pairs))
        if len(pairs) != len(t.shape):
            raise ShapeError(
                f"paddings have {len(p)} entries for a tensor of rank {len(t.shape)}; expected {2 * len(t.shape)}"
            )
        limit_slack = {"reflect": -1, "symmetric": 0}.get(self.mode)
        out: list[int | None] = []
        for i, (d, (before, after)) in enumerate(zip(t.shape, pairs)):
            if d is None:
                out.append(None)
                continue
            if limit_slack is not None and max(before, after) > d + limit_slack:
                rule = "less than" if limit_slack else "at most"
                raise ShapeError(
                    f"{self.mode} paddings ({before}, {after}) of dim {i} must be {rule} its size {d} (shape {format_shape(t.shape)})"
                )
            out.append(before + d + after)
        return t.with_shape(out)


# --------------------------------------------------------------------------------------------
# Creation


@register_op
class Fill(Operation):
    """A tensor of ``shape`` filled with the scalar ``value`` (whose dtype it has)."""

    name = "array.fill"
    traits = PURE
    value = operand()
    shape = attr(Ints)

    def infer_type(self, value: Type) -> TensorType:
        t = tensor(value, "value")
        if t.shape is not None and t.shape != ():
            raise ShapeError(f"value must be a scalar, got shape {format_shape(t.shape)}")
        _check_sizes(self.shape, "shape")
        return t.with_shape(self.shape)


class _ConstantOfShape(Operation):
    """A tensor of ``shape`` and ``dtype`` holding one value."""

    traits = PURE
    DTYPES: frozenset[DType] = ALL_DTYPES
    shape = attr(Ints)
    dtype = attr(DType, default=DType.float32)

    def infer_type(self) -> TensorType:
        _check_sizes(self.shape, "shape")
        if self.dtype not in self.DTYPES:
            raise DTypeError(f"{self.name} cannot make a {self.dtype.value} tensor")
        return TensorType(self.dtype, self.shape)


@register_op
class Zeros(_ConstantOfShape):
    """Zeros of ``shape`` and ``dtype`` (False for bool, ``b""`` for strings)."""

    name = "array.zeros"


@register_op
class Ones(_ConstantOfShape):
    """Ones of ``shape`` and ``dtype`` (True for bool; strings have no one)."""

    name = "array.ones"
    DTYPES = NUMERIC_OR_BOOL


class _ConstantLike(Operation):
    """A tensor of ``x``'s type holding one value."""

    traits = PURE
    DTYPES: frozenset[DType] = ALL_DTYPES
    x = operand()

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        require_dtypes(t, self.DTYPES, "x")
        return t


@register_op
class ZerosLike(_ConstantLike):
    """Zeros of ``x``'s type (False for bool, ``b""`` for strings)."""

    name = "array.zeros_like"


@register_op
class OnesLike(_ConstantLike):
    """Ones of ``x``'s type (True for bool; not strings)."""

    name = "array.ones_like"
    DTYPES = NUMERIC_OR_BOOL


@register_op
class Range(Operation):
    """``start, start + delta, ...`` up to (excluding) ``limit``, as ``tf.range``.

    ``delta`` is non-zero, and ``start <= limit`` when it is positive, ``start >= limit`` when
    negative (TF errors otherwise rather than giving an empty range). There are
    ``ceil(|limit - start| / |delta|)`` elements, computed in ``dtype`` after casting the
    bounds to it; integer dtypes need integral bounds that the dtype holds. Float values are
    accumulated in ``dtype`` (``v += delta``), as TF's kernel does.
    """

    name = "array.range"
    traits = PURE
    start = attr(float)
    limit = attr(float)
    delta = attr(float, default=1.0)
    dtype = attr(DType, default=DType.int32)

    def length(self) -> int:
        """The number of elements; ``OpAttributeError`` for invalid bounds."""
        if self.dtype not in RANGE_DTYPES:
            raise DTypeError(f"range cannot make a {self.dtype.value} tensor")
        start, limit, delta = self.start, self.limit, self.delta
        if self.dtype.is_integer:
            info = np.iinfo(self.dtype.numpy)
            for what, v in (("start", start), ("limit", limit), ("delta", delta)):
                if not v.is_integer() or not info.min <= v <= info.max:
                    raise OpAttributeError(f"{what} = {v} is not an integer that {self.dtype.value} holds")
        if delta == 0:
            raise OpAttributeError("delta must be non-zero")
        if delta > 0 and start > limit:
            raise OpAttributeError(f"start must be <= limit when delta > 0, got start {start}, limit {limit}")
        if delta < 0 and start < limit:
            raise OpAttributeError(f"start must be >= limit when delta < 0, got start {start}, limit {limit}")
        if self.dtype.is_integer:
            span, step = abs(int(limit) - int(start)), abs(int(delta))
            return (span + step - 1) // step
        dt = self.dtype.numpy
        with np.errstate(all="ignore"):
            n = np.abs((dt.type(limit) - dt.type(start)) / dt.type(delta))
        if not np.isfinite(n):
            raise OpAttributeError(f"range({start}, {limit}, {delta}) has no finite length in {self.dtype.value}")
        return math.ceil(float(n))

    def infer_type(self) -> TensorType:
        return TensorType(self.dtype, (self.length(),))


@register_op
class OneHot(Operation):
    """One-hot vectors of length ``depth`` for ``indices``, inserted as dim ``axis``.

    ``indices`` are uint8, int32 or int64; an index outside ``[0, depth)`` gives a vector of
    ``off_value`` only. ``axis`` is ``-1`` (last) or in ``[0, rank]``. ``on_value`` and
    ``off_value`` are cast to ``dtype`` (numeric or bool).
    """

    name = "array.one_hot"
    traits = PURE
    indices = operand()
    depth = attr(int)
    on_value = attr(float, default=1.0)
    off_value = attr(float, default=0.0)
    axis = attr(int, default=-1)
    dtype = attr(DType, default=DType.float32)

    def infer_type(self, indices: Type) -> TensorType:
        t = tensor(indices, "indices")
        require_dtypes(t, ONE_HOT_INDEX_DTYPES, "indices")
        if self.dtype not in NUMERIC_OR_BOOL:
            raise DTypeError(f"one_hot cannot make a {self.dtype.value} tensor")
        if self.depth < 0:
            raise OpAttributeError(f"depth must be non-negative, got {self.depth}")
        if t.shape is None:
            if self.axis < -1:
                raise ShapeError(f"axis must be -1 or in [0, rank], got {self.axis}")
            return TensorType(self.dtype, None)
        rank = len(t.shape)
        if not -1 <= self.axis <= rank:
            raise ShapeError(f"axis must be -1 or in [0, {rank}] for indices of rank {rank}, got {self.axis}")
        axis = rank if self.axis == -1 else self.axis
        return TensorType(self.dtype, (*t.shape[:axis], self.depth, *t.shape[axis:]))


@register_op
class Shape(Operation):
    """The dims of ``x`` as a 1-D tensor of ``out_type`` (int32 or int64)."""

    name = "array.shape"
    traits = PURE
    x = operand()
    out_type = attr(DType, default=DType.int32)

    def infer_type(self, x: Type) -> TensorType:
        t = tensor(x, "x")
        if self.out_type not in INDEX_DTYPES:
            raise DTypeError(f"out_type must be i32 or i64, got {self.out_type.value}")
        return TensorType(self.out_type, (t.rank,))
