"""Array ops of the TF1-style API: reshaping, slicing, joining, gathering, padding, creation.

Each function has the signature, default op name and dtype rules of its TensorFlow 1.15
namesake and builds ``flowir.ir.ops.array`` ops in the default graph. Arguments that flowir's
ops hold as attributes (shapes, axes, paddings, slice bounds ...) may be Python values, numpy
arrays or tensors whose value is known when the graph is built (constants and what folds from
them, such as ``tf.shape`` of a statically shaped tensor); a value only known at run time is
an ``UnsupportedOpError`` that says so.

The module also holds the helpers the other op modules share: op creation in a name scope,
conversion of several operands to one dtype, reading static arguments, and the static
evaluation of tensors (``constant_value``).
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from flowir.frontends.graph import dtypes as _dtypes
from flowir.frontends.graph.building import convert_to_tensor, make_op, make_tensor
from flowir.frontends.graph.graph import get_default_graph, name_scope
from flowir.frontends.graph.tensor import Tensor
from flowir.ir import ops
from flowir.ir.core import Operation, Trait, Value
from flowir.ir.dtypes import DType
from flowir.ir.errors import FlowirError, ShapeError, UnsupportedOpError
from flowir.ir.location import user_location
from flowir.ir.ops.array import strided_slice_spec
from flowir.ir.reference import IMPL_RULES, run_op
from flowir.ir.types import TensorType, format_shape, normalize_axis

__all__ = [
    "reshape",
    "transpose",
    "expand_dims",
    "squeeze",
    "concat",
    "stack",
    "unstack",
    "split",
    "slice",
    "strided_slice",
    "tensor_getitem",
    "newaxis",
    "gather",
    "tile",
    "broadcast_to",
    "matrix_band_part",
    "pad",
    "one_hot",
    "shape",
    "size",
    "rank",
    "zeros",
    "ones",
    "fill",
    "zeros_like",
    "ones_like",
    "range",
    "get_static_value",
]


# --------------------------------------------------------------------------------------------
# Shared helpers (used by math_ops, nn and random_ops too)


def ir_type(t: Tensor) -> TensorType:
    """The IR type of a frontend tensor."""
    return t.value.type  # type: ignore[return-value]


def tensor_of(value: Value) -> Tensor:
    """The frontend tensor of an IR value of the default graph."""
    return get_default_graph()._tensor_of(value)


def ir_dtype(dtype: Any) -> DType:
    """The IR dtype of anything ``tf.as_dtype`` accepts (``tf.float32``, ``"int32"``, ``np.int64``)."""
    return _dtypes.as_dtype(dtype).ir


def tf_dtype(dtype: DType) -> Any:
    """The frontend dtype (``tf.float32``) of an IR dtype."""
    return _dtypes.as_dtype(dtype)


def make1(
    op_class: type[Operation], inputs: Sequence[Any], name: str | None, default_name: str, **attrs: Any
) -> Tensor:
    """The one result of a new ``op_class`` op built by ``make_op``.

    Functions open TF's ``name_scope(name, default_name, values)`` and pass the scope
    (``"truediv/"``) as ``name``: the main op takes it as its exact name and helper ops
    (casts, converted constants) land inside it (``truediv/Cast``, ``Maximum/y``), as in TF.
    """
    return make_tensor(op_class, inputs, name=name, default_name=default_name, **attrs)


def is_tensor_like(value: Any) -> bool:
    """Whether ``value`` is already a graph value (a ``Tensor`` or a ``Variable``): converting
    it never changes its dtype."""
    return isinstance(value, Tensor) or (
        hasattr(value, "_as_graph_element") and hasattr(value, "dtype") and not isinstance(value, type)
    )


def convert_all(values: Sequence[Any], names: Sequence[str], dtype: Any = None) -> list[Tensor]:
    """Convert ``values`` for one op whose operands share a dtype, as TF's op wrappers do.

    With ``dtype`` given every value must have (or convert to) it. Otherwise the first
    graph value, or else the first value once converted, fixes the dtype that the other
    Python values and lists are converted to (``x + 1`` with ``x`` float32 adds ``1.0``;
    ``add(1.5, 2)`` adds two float32s); a value that cannot take it keeps its own dtype and
    the op reports the mismatch.
    """
    hint = None
    if dtype is None:
        hint = next((v.dtype.base_dtype for v in values if is_tensor_like(v)), None)
    out = []
    for v, n in zip(values, names):
        if dtype is not None or is_tensor_like(v):
            out.append(convert_to_tensor(v, dtype=dtype, name=n))
        elif hint is None:
            t = convert_to_tensor(v, name=n)
            hint = t.dtype.base_dtype
            out.append(t)
        else:
            out.append(convert_to_tensor(v, name=n, preferred_dtype=hint))
    return out


def deprecated_argument_lookup(new: Any, new_name: str, old: Any, old_name: str) -> Any:
    """The value of whichever of two spellings of an argument is given (TF's helper of the
    same name); both is a ``ValueError``."""
    if old is not None:
        if new is not None:
            raise ValueError(f"Cannot specify both '{new_name}' and '{old_name}'")
        return old
    return new


def _constant(value: Any, dtype: DType, name: str | None, default_name: str) -> Tensor:
    """A ``flowir.constant`` op holding ``value`` as ``dtype``."""
    return make1(ops.Constant, [], name, default_name, value=np.asarray(value, dtype=dtype.numpy))


def unsupported_dynamic(what: str, fn: str, t: Tensor) -> UnsupportedOpError:
    """The error for a tensor argument whose value is only known at run time."""
    return UnsupportedOpError(
        f"{fn}: {what} must be known when the graph is built, but {t.name!r} "
        f"({ir_type(t).describe()}) is computed at run time; flowir does not support a "
        f"run-time {what} here",
        [f"  created at {user_location()}"],
    )


# --------------------------------------------------------------------------------------------
# Static evaluation


#: Largest tensor (in elements) that static evaluation computes; attributes are small.
_FOLD_LIMIT = 1 << 16
#: How many ops back static evaluation looks before giving up.
_FOLD_DEPTH = 64
#: Traits whose ops have no value at graph-building time.
_NOT_STATIC = frozenset({Trait.RANDOM, Trait.STATEFUL, Trait.INPUT})
#: Ops whose value a run may replace: ``placeholder_with_default`` is an identity, and a
#: default folded into an attribute would silently ignore the feed.
_OPAQUE: frozenset[type[Operation]] = frozenset({ops.Identity})


def _static_shape_value(op: ops.Shape) -> np.ndarray | None:
    ty = op.x.type
    if type(ty) is not TensorType or not ty.is_static:
        return None
    return np.asarray(ty.shape, dtype=op.out_type.numpy).reshape(len(ty.shape))


#: Ops whose value is known from their operands' static types, not their values.
_TYPE_VALUE_RULES = {ops.Shape: _static_shape_value}


def constant_value(tensor: Any) -> np.ndarray | None:
    """The value of ``tensor`` if it can be computed while the graph is built, else ``None``
    (``tf.get_static_value``).

    Constants, ``shape`` of statically shaped tensors, and pure ops over those (evaluated with
    the reference kernels) have a static value; placeholders, variables, random ops and
    identities (``placeholder_with_default`` is one) do not. A Python value or numpy array is
    returned as an array.

    >>> import flowir as tf
    >>> with tf.Graph().as_default():
    ...     constant_value(tf.constant([1, 2]) * 3)
    array([3, 6], dtype=int32)
    """
    if not isinstance(tensor, Tensor):
        if is_tensor_like(tensor):
            return None
        return np.asarray(tensor)
    return _fold(tensor.value, {}, _FOLD_DEPTH)


#: TF's public name for ``constant_value``.
get_static_value = constant_value


def _fold(value: Value, memo: dict[Value, np.ndarray | None], depth: int) -> np.ndarray | None:
    if value in memo:
        return memo[value]
    result = None
    op = value.owner
    if op is not None and depth > 0:
        cls = type(op)
        type_rule = _TYPE_VALUE_RULES.get(cls)
        if cls is ops.Constant:
            result = op.value
        elif type_rule is not None:
            result = type_rule(op)
        if result is None and _is_foldable(op, value):
            args = [_fold(v, memo, depth - 1) for v in op.operands]
            if all(a is not None for a in args):
                try:
                    with np.errstate(all="ignore"):
                        result = run_op(op, args)[value.index]  # type: ignore[attr-defined]
                except FlowirError:
                    result = None
    memo[value] = result
    return result


def _is_foldable(op: Operation, value: Value) -> bool:
    ty = value.type
    return (
        Trait.PURE in op.traits
        and op.traits.isdisjoint(_NOT_STATIC)
        and type(op) not in _OPAQUE
        and type(op) in IMPL_RULES
        and type(ty) is TensorType
        and ty.num_elements is not None
        and ty.num_elements <= _FOLD_LIMIT
    )


@dataclass(frozen=True)
class _DimOf:
    """A run-time size known to equal dim ``axis`` of ``source`` (an entry of ``tf.shape(x)``)."""

    source: Value
    axis: int


#: An entry of a partially known shape: a size, a traced dim, or unknown.
_Entry = int | _DimOf | None


def _partial_vector(value: Value, depth: int = _FOLD_DEPTH) -> list[_Entry] | None:
    """What is known of a 1-D integer tensor, entry by entry; ``None`` if not even its length
    is (TF's ``constant_value_as_shape``)."""
    full = _fold(value, {}, depth)
    if full is not None:
        return [int(v) for v in full.reshape(-1)] if full.ndim == 1 else None
    op = value.owner
    if op is None or depth <= 0:
        return None
    rule = _PARTIAL_VECTOR_RULES.get(type(op))
    return rule(op, depth - 1) if rule is not None else None


def _partial_scalar(value: Value, depth: int = _FOLD_DEPTH) -> _Entry:
    """What is known of a scalar integer tensor."""
    full = _fold(value, {}, depth)
    if full is not None:
        return int(full) if full.ndim == 0 else None
    op = value.owner
    if op is None or depth <= 0:
        return None
    rule = _PARTIAL_SCALAR_RULES.get(type(op))
    return rule(op, depth - 1) if rule is not None else None


def _shape_entries(op: ops.Shape, depth: int) -> list[_Entry] | None:
    ty = op.x.type
    if type(ty) is not TensorType or ty.shape is None:
        return None
    return [_DimOf(op.x, i) if d is None else d for i, d in enumerate(ty.shape)]


def _stack_entries(op: ops.Stack, depth: int) -> list[_Entry] | None:
    if op.axis not in (0, -1) or any(type(v.type) is not TensorType or v.type.shape != () for v in op.values):
        return None
    return [_partial_scalar(v, depth) for v in op.values]


def _concat_entries(op: ops.Concat, depth: int) -> list[_Entry] | None:
    out: list[_Entry] = []
    for v in op.values:
        part = _partial_vector(v, depth)
        if part is None:
            return None
        out.extend(part)
    return out


def _passthrough_vector(op: Operation, depth: int) -> list[_Entry] | None:
    return _partial_vector(op.operands[0], depth)


def _passthrough_scalar(op: Operation, depth: int) -> _Entry:
    return _partial_scalar(op.operands[0], depth)


def _sliced_entries(op: ops.StridedSlice, depth: int) -> list[_Entry] | None:
    src = _partial_vector(op.x, depth)
    if src is None:
        return None
    plan = op.plan((len(src),))
    if len(plan) != 1 or plan[0] is None or plan[0].shrink:
        return None
    p = plan[0]
    return [src[i] for i in builtins.range(p.begin, p.end, p.stride)]  # type: ignore[arg-type]


def _sliced_scalar(op: ops.StridedSlice, depth: int) -> _Entry:
    src = _partial_vector(op.x, depth)
    if src is None:
        return None
    try:
        plan = op.plan((len(src),))
    except ShapeError:
        return None
    if len(plan) != 1 or plan[0] is None or not plan[0].shrink:
        return None
    return src[plan[0].begin]  # type: ignore[index]


_PARTIAL_VECTOR_RULES = {
    ops.Shape: _shape_entries,
    ops.Stack: _stack_entries,
    ops.Concat: _concat_entries,
    ops.StridedSlice: _sliced_entries,
    ops.Cast: _passthrough_vector,
}
_PARTIAL_SCALAR_RULES = {
    ops.StridedSlice: _sliced_scalar,
    ops.Cast: _passthrough_scalar,
}


# --------------------------------------------------------------------------------------------
# Static arguments


def _static_array(value: Any, what: str, fn: str) -> np.ndarray:
    """``value`` (a Python value, array or tensor with a static value) as a numpy array."""
    if hasattr(value, "as_list") and not isinstance(value, Tensor):
        dims = value.as_list()
        if dims is None or None in dims:
            raise ValueError(f"{fn}: {what} {value} is not fully defined")
        return np.asarray(dims, dtype=np.int64)
    if isinstance(value, (list, tuple)) and any(is_tensor_like(v) for v in value):
        value = [_static_array(v, what, fn) for v in value]
    if is_tensor_like(value):
        if not isinstance(value, Tensor):
            value = convert_to_tensor(value)
        found = constant_value(value)
        if found is None:
            raise unsupported_dynamic(what, fn, value)
        return found
    return np.asarray(value)


def static_ints(value: Any, what: str, fn: str, *, allow_scalar: bool = False) -> tuple[int, ...]:
    """``value`` as a tuple of ints (a 1-D integer list, array or static tensor).

    ``allow_scalar`` accepts one int as a 1-element list (``reduce_sum(x, 1)``).
    """
    a = _static_array(value, what, fn)
    if a.ndim == 0 and allow_scalar:
        a = a.reshape(1)
    if a.ndim != 1 or not (a.size == 0 or a.dtype.kind in "iu"):
        raise TypeError(f"{fn}: {what} must be a 1-D list of integers, got {_show(value)}")
    return tuple(int(v) for v in a)


def static_int(value: Any, what: str, fn: str) -> int:
    """``value`` as one int (a Python int, numpy integer or static scalar tensor)."""
    a = _static_array(value, what, fn)
    if a.ndim != 0 and a.size == 1 and a.ndim == 1:
        a = a.reshape(())
    if a.ndim != 0 or a.dtype.kind not in "iu":
        raise TypeError(f"{fn}: {what} must be an integer scalar, got {_show(value)}")
    return int(a)


def static_scalar(value: Any, what: str, fn: str) -> Any:
    """``value`` as a Python scalar (a number, numpy scalar or static scalar tensor)."""
    a = _static_array(value, what, fn)
    if a.ndim != 0:
        raise ValueError(f"{fn}: {what} must be a scalar, got shape {list(a.shape)}")
    return a.item()


def static_axis(axis: Any, fn: str) -> int | None:
    """An optional axis argument as an int."""
    return None if axis is None else static_int(axis, "axis", fn)


def _show(value: Any) -> str:
    return repr(value.name) if isinstance(value, Tensor) else repr(value)


def _shape_arg(value: Any, fn: str, *, allow_scalar: bool = False) -> list[_Entry]:
    """A shape argument (list, array, ``TensorShape`` or 1-D int tensor) entry by entry: ints
    where known, ``_DimOf`` for a traced ``tf.shape(x)[i]``, ``None`` for other run-time sizes.

    ``allow_scalar`` reads one int as a 1-D shape, as ``tf.zeros(3)`` does.
    """
    if isinstance(value, Tensor):
        entries = _partial_vector(value.value)
        if entries is not None:
            return entries
        if allow_scalar and ir_type(value).rank == 0:
            one = _partial_scalar(value.value)
            if one is not None:
                return [one]
        raise unsupported_dynamic("shape", fn, value)
    if isinstance(value, (list, tuple)) and any(is_tensor_like(v) for v in value):
        return [_partial_scalar(v.value) if isinstance(v, Tensor) else static_int(v, "shape entry", fn) for v in value]
    return list(static_ints(value, "shape", fn, allow_scalar=allow_scalar))


def _require_static(entries: list[_Entry], value: Any, what: str, fn: str) -> tuple[int, ...]:
    """``entries`` of the shape argument ``value`` as ints; ``UnsupportedOpError`` if some are
    only known at run time."""
    if any(not isinstance(e, int) for e in entries):
        if isinstance(value, Tensor):
            raise unsupported_dynamic(what, fn, value)
        raise UnsupportedOpError(
            f"{fn}: {what} must be known when the graph is built, got {_describe_entries(entries)}",
            [f"  created at {user_location()}"],
        )
    if any(e < 0 for e in entries):  # type: ignore[operator]
        raise ValueError(f"{fn}: {what} must be non-negative, got {list(entries)}")
    return tuple(entries)  # type: ignore[arg-type]


def static_shape(value: Any, what: str, fn: str, *, allow_scalar: bool = False) -> tuple[int, ...]:
    """A shape argument whose every entry is known when the graph is built, as ints."""
    return _require_static(_shape_arg(value, fn, allow_scalar=allow_scalar), value, what, fn)


def _like_source(entries: Sequence[_Entry]) -> Value | None:
    """The tensor whose full run-time shape ``entries`` spell (``tf.shape(x)``), if they do and
    some entry is only known at run time."""
    sources = {e.source for e in entries if isinstance(e, _DimOf)}
    if len(sources) != 1:
        return None
    (src,) = sources
    shape = src.type.shape  # type: ignore[attr-defined]
    if shape is None or len(shape) != len(entries):
        return None
    for i, (e, d) in enumerate(zip(entries, shape)):
        if e != (_DimOf(src, i) if d is None else d):
            return None
    return src


def _describe_entries(entries: Sequence[_Entry]) -> str:
    return "[" + ", ".join("?" if not isinstance(e, int) else str(e) for e in entries) + "]"


# --------------------------------------------------------------------------------------------
# Shape manipulation


def reshape(tensor: Any, shape: Any, name: str | None = None) -> Tensor:
    """``tensor`` with its elements laid out in ``shape`` (``tf.reshape``); default name
    ``"Reshape"``.

    ``shape`` is a list, tuple, numpy array or 1-D int tensor with at most one ``-1``. Its
    entries must be known when the graph is built, with one relief for the usual idioms: a
    single entry computed at run time (``tf.shape(x)[0]``, a batch size) stands for the size
    that keeps the element count, so ``reshape(x, [tf.shape(x)[0], -1])`` works when the
    other dims of ``x`` are static. A run-time entry that contradicts the element count is
    then not detected. Anything more dynamic is an ``UnsupportedOpError``.

    >>> import flowir as tf
    >>> with tf.Graph().as_default():
    ...     tf.reshape(tf.zeros([2, 3]), [3, -1]).shape.as_list()
    [3, 2]
    """
    with name_scope(name, "Reshape", [tensor, shape]) as scope:
        x = convert_to_tensor(tensor, name="tensor")
        entries = _shape_arg(shape, "reshape")
        target = _resolve_reshape(ir_type(x), x.value, entries)
        return make1(ops.Reshape, [x], scope, "Reshape", shape=target)


def _resolve_reshape(ty: TensorType, x: Value, entries: list[_Entry]) -> list[int]:
    dynamic = [i for i, e in enumerate(entries) if not isinstance(e, int)]
    if not dynamic:
        return entries  # type: ignore[return-value]
    out = list(entries)
    if len(dynamic) == 1 and -1 not in entries:
        out[dynamic[0]] = -1
        return out  # type: ignore[return-value]
    # reshape(x, [tf.shape(x)[0], -1]): a traced dim of x itself is x's size there; when
    # x's remaining dims are static the -1 is a static size and the traced entry can be -1.
    if len(dynamic) == 1 and ty.shape is not None:
        e = entries[dynamic[0]]
        if isinstance(e, _DimOf) and e.source is x:
            rest = [d for i, d in enumerate(ty.shape) if i != e.axis]
            known = math.prod(v for v in entries if isinstance(v, int) and v != -1)
            if None not in rest and known and math.prod(rest) % known == 0:  # type: ignore[arg-type]
                out[entries.index(-1)] = math.prod(rest) // known  # type: ignore[arg-type]
                out[dynamic[0]] = -1
                return out  # type: ignore[return-value]
    raise UnsupportedOpError(
        f"reshape: the new shape {_describe_entries(entries)} of {x.name!r} ({ty.describe()}) has more "
        "sizes known only at run time than flowir can infer (at most one unknown size, or "
        "tf.shape(x)[i] of the reshaped tensor next to a -1 when its other dims are static)",
        [f"  created at {user_location()}"],
    )


def transpose(a: Any, perm: Any = None, name: str = "transpose", conjugate: bool = False) -> Tensor:
    """``a`` with its dims permuted by ``perm`` (default: reversed), ``tf.transpose``; default
    name ``"transpose"``. ``conjugate`` has no effect on real tensors."""
    with name_scope(name, "transpose", [a]) as scope:
        x = convert_to_tensor(a, name="a")
        p = None if perm is None else static_ints(perm, "perm", "transpose")
        return make1(ops.Transpose, [x], scope, "transpose", perm=p)


def expand_dims(input: Any, axis: Any = None, name: str | None = None, dim: Any = None) -> Tensor:
    """``input`` with a size-1 dim inserted at ``axis`` (``dim`` is TF1's older spelling);
    default name ``"ExpandDims"``."""
    axis = deprecated_argument_lookup(axis, "axis", dim, "dim")
    if axis is None:
        raise ValueError("Must specify an axis argument to tf.expand_dims()")
    with name_scope(name, "ExpandDims", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        return make1(ops.ExpandDims, [x], scope, "ExpandDims", axis=static_int(axis, "axis", "expand_dims"))


def squeeze(input: Any, axis: Any = None, name: str | None = None, squeeze_dims: Any = None) -> Tensor:
    """``input`` without the size-1 dims in ``axis`` (all size-1 dims when ``None`` or empty);
    ``squeeze_dims`` is TF1's older spelling; default name ``"Squeeze"``."""
    axis = deprecated_argument_lookup(axis, "axis", squeeze_dims, "squeeze_dims")
    with name_scope(name, "Squeeze", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        axes = None if axis is None else static_ints(axis, "axis", "squeeze", allow_scalar=True)
        return make1(ops.Squeeze, [x], scope, "Squeeze", axes=axes or None)


# --------------------------------------------------------------------------------------------
# Joining and splitting


def concat(values: Any, axis: Any, name: str = "concat") -> Tensor:
    """``values`` joined along ``axis`` (``tf.concat``); default name ``"concat"``. Python
    values among them convert to the dtype of the first tensor."""
    values = list(values) if isinstance(values, (list, tuple)) else [values]
    with name_scope(name, "concat", values) as scope:
        ts = convert_all(values, [f"values_{i}" if i else "values" for i in builtins.range(len(values))])
        return make1(ops.Concat, [ts], scope, "concat", axis=static_int(axis, "axis", "concat"))


def stack(values: Any, axis: int = 0, name: str = "stack") -> Tensor:
    """``values`` (equal shapes) stacked along a new dim ``axis`` (``tf.stack``); default name
    ``"stack"``. Python values only (no tensor among them) and ``axis=0`` make one constant,
    as in TF."""
    values = list(values)
    if axis == 0 and not any(is_tensor_like(v) for v in _flatten(values)):
        return convert_to_tensor(values, name=name)
    with name_scope(name, "stack", values) as scope:
        ts = convert_all(values, [f"values_{i}" if i else "values" for i in builtins.range(len(values))])
        return make1(ops.Stack, [ts], scope, "stack", axis=static_int(axis, "axis", "stack"))


def _flatten(values: Any) -> Iterator[Any]:
    for v in values:
        if isinstance(v, (list, tuple)):
            yield from _flatten(v)
        else:
            yield v


def unstack(value: Any, num: int | None = None, axis: int = 0, name: str = "unstack") -> list[Tensor]:
    """The ``num`` slices of ``value`` along ``axis``, that dim removed (``tf.unstack``).

    ``num`` defaults to the static size of that dim; ``ValueError`` if it is unknown.
    """
    with name_scope(name, "unstack", [value]) as scope:
        x = convert_to_tensor(value, name="value")
        ty = ir_type(x)
        if ty.shape is None:
            if num is None:
                raise ValueError(f"Cannot infer num from shape {format_shape(ty.shape)}")
            axis_n = axis
        else:
            axis_n = normalize_axis(axis, len(ty.shape))
            dim = ty.shape[axis_n]
            if num is None:
                if dim is None:
                    raise ValueError(f"Cannot infer num from shape {format_shape(ty.shape)}")
                num = dim
            elif dim is not None and dim != num:
                raise ShapeError(
                    f"unstack: dimension {axis} must be {num} but is {dim} (shape {format_shape(ty.shape)})"
                )
        if num == 0:
            return []
        pieces = make_op(ops.Split, [x], name=scope, default_name="unstack", axis=axis_n, num=num).outputs
        return [make1(ops.Squeeze, [p], None, "Squeeze", axes=(axis_n,)) for p in pieces]


def split(
    value: Any, num_or_size_splits: Any, axis: Any = 0, num: int | None = None, name: str = "split"
) -> list[Tensor]:
    """``value`` cut along ``axis`` into ``num_or_size_splits`` equal pieces (an int) or
    pieces of the listed sizes (one may be -1), ``tf.split``; default name ``"split"``.
    ``num`` is accepted for TF compatibility; sizes must be known when the graph is built."""
    with name_scope(name, "split", [value]) as scope:
        x = convert_to_tensor(value, name="value")
        a = _static_array(num_or_size_splits, "num_or_size_splits", "split")
        ax = static_int(axis, "axis", "split")
        if a.ndim == 0:
            attrs: dict[str, Any] = {"num": int(a)}
        else:
            sizes = static_ints(a, "num_or_size_splits", "split")
            if num is not None and num != len(sizes):
                raise ValueError(f"split: num={num} disagrees with {len(sizes)} sizes {list(sizes)}")
            attrs = {"sizes": sizes}
        return list(make_op(ops.Split, [x], name=scope, default_name="split", axis=ax, **attrs).outputs)


# --------------------------------------------------------------------------------------------
# Slicing


def slice(input_: Any, begin: Any, size: Any, name: str | None = None) -> Tensor:  # noqa: A001
    """The block of ``input_`` at ``begin`` with extent ``size`` (-1: to the end), ``tf.slice``;
    default name ``"Slice"``."""
    with name_scope(name, "Slice", [input_]) as scope:
        x = convert_to_tensor(input_, name="input")
        b = static_ints(begin, "begin", "slice")
        s = static_ints(size, "size", "slice")
        return make1(ops.Slice, [x], scope, "Slice", begin=b, size=s)


def strided_slice(
    input_: Any,
    begin: Any,
    end: Any,
    strides: Any = None,
    begin_mask: int = 0,
    end_mask: int = 0,
    ellipsis_mask: int = 0,
    new_axis_mask: int = 0,
    shrink_axis_mask: int = 0,
    var: Any = None,
    name: str | None = None,
) -> Tensor:
    """``input_[begin:end:strides]`` with TF's masks (``tf.strided_slice``); default name
    ``"StridedSlice"``. ``strides`` defaults to ones; ``var`` is accepted and ignored."""
    with name_scope(name, "StridedSlice", [input_]) as scope:
        x = convert_to_tensor(input_, name="input")
        b = static_ints(begin, "begin", "strided_slice")
        e = static_ints(end, "end", "strided_slice")
        s = (1,) * len(b) if strides is None else static_ints(strides, "strides", "strided_slice")
        return make1(
            ops.StridedSlice,
            [x],
            scope,
            "StridedSlice",
            begin=b,
            end=e,
            strides=s,
            begin_mask=begin_mask,
            end_mask=end_mask,
            ellipsis_mask=ellipsis_mask,
            new_axis_mask=new_axis_mask,
            shrink_axis_mask=shrink_axis_mask,
        )


#: ``x[:, tf.newaxis]`` inserts a dim of size 1 (it is ``None``, as in numpy and TF).
newaxis = None


def tensor_getitem(tensor: Any, index: Any) -> Tensor:
    """``tensor[index]`` for basic indexing: ints, slices (any step, negative too), ``None``
    (``tf.newaxis``) and ``Ellipsis``; default name ``"strided_slice"``.

    Scalar tensors with a static value may stand for ints. A list is read as a tuple of
    index items, as TF1 does (``x[[1, 2]]`` is ``x[1, 2]``). Out-of-range ints on static dims
    are a ``ShapeError`` when the op is built.
    """
    items = tuple(index) if isinstance(index, (tuple, list)) else (index,)
    with name_scope(None, "strided_slice", [tensor]) as scope:
        x = convert_to_tensor(tensor, name="tensor")
        spec = strided_slice_spec(tuple(_static_index_item(i) for i in items))
        return make1(ops.StridedSlice, [x], scope, "strided_slice", **spec)


def _static_index_item(item: Any) -> Any:
    if isinstance(item, builtins.slice):
        return builtins.slice(*(_static_index_bound(v) for v in (item.start, item.stop, item.step)))
    if isinstance(item, (bool, np.bool_)):
        raise TypeError(f"only integers, slices, Ellipsis and None (tf.newaxis) are valid indices, got {item!r}")
    return _static_index_bound(item)


def _static_index_bound(v: Any) -> Any:
    if v is None or v is Ellipsis or not is_tensor_like(v):
        return v
    return static_int(v, "index", "tensor.__getitem__")


def gather(
    params: Any,
    indices: Any,
    validate_indices: Any = None,
    name: str | None = None,
    axis: Any = None,
    batch_dims: int = 0,
) -> Tensor:
    """Slices of ``params`` along ``axis`` (default 0) picked by int32/int64 ``indices``
    (``tf.gather``); default name ``"GatherV2"``. ``batch_dims`` other than 0 is not
    supported."""
    if batch_dims != 0:
        raise UnsupportedOpError(
            f"gather: batch_dims={batch_dims} is not supported; only 0", [f"  created at {user_location()}"]
        )
    with name_scope(name, "GatherV2", [params, indices]) as scope:
        p = convert_to_tensor(params, name="params")
        ix = convert_to_tensor(indices, name="indices")
        ax = 0 if axis is None else static_int(axis, "axis", "gather")
        return make1(ops.Gather, [p, ix], scope, "GatherV2", axis=ax)


def tile(input: Any, multiples: Any, name: str | None = None) -> Tensor:
    """``input`` repeated ``multiples[i]`` times along dim ``i`` (``tf.tile``); default name
    ``"Tile"``."""
    with name_scope(name, "Tile", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        return make1(ops.Tile, [x], scope, "Tile", multiples=static_ints(multiples, "multiples", "tile"))


def broadcast_to(input: Any, shape: Any, name: str | None = None) -> Tensor:
    """``input`` broadcast to ``shape`` (``tf.broadcast_to``, a static shape); a ``ShapeError``
    when ``input`` does not broadcast to exactly ``shape``; default name ``"BroadcastTo"``."""
    with name_scope(name, "BroadcastTo", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        target = static_ints(shape, "shape", "broadcast_to")
        have = ir_type(x).shape
        if have is not None and (
            len(have) > len(target) or any(d not in (1, None, t) for d, t in zip(have[::-1], target[::-1]))
        ):
            raise ShapeError(
                f"broadcast_to: {ir_type(x).describe()} does not broadcast to {list(target)}",
                [f"  input: {x.name!r}", f"  created at {user_location()}"],
            )
        return make1(ops.BroadcastTo, [x], scope, "BroadcastTo", shape=target)


def matrix_band_part(input: Any, num_lower: Any, num_upper: Any, name: str | None = None) -> Tensor:
    """The band of the matrices in the last two dims (``tf.matrix_band_part``): keeps
    ``x[..., i, j]`` where ``i - j <= num_lower`` and ``j - i <= num_upper`` (a negative
    bound keeps that whole triangle), zeroes the rest; default name ``"MatrixBandPart"``."""
    with name_scope(name, "MatrixBandPart", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        lower = static_int(num_lower, "num_lower", "matrix_band_part")
        upper = static_int(num_upper, "num_upper", "matrix_band_part")
        masks = ([{"k": -lower, "upper": True}] if lower >= 0 else []) + ([{"k": upper, "upper": False}] if upper >= 0 else [])
        if not masks:
            return make1(ops.Identity, [x], scope, "MatrixBandPart")
        for i, attrs in enumerate(masks):
            x = make1(ops.Trilu, [x], scope if i == len(masks) - 1 else None, "Trilu", **attrs)
        return x


#: ``tf.pad`` modes and the TF op each makes (its default name).
_PAD_MODES = {
    "CONSTANT": ("constant", "Pad"),
    "REFLECT": ("reflect", "MirrorPad"),
    "SYMMETRIC": ("symmetric", "MirrorPad"),
}


def pad(
    tensor: Any, paddings: Any, mode: str = "CONSTANT", name: str | None = None, constant_values: Any = 0
) -> Tensor:
    """``tensor`` padded by ``paddings`` (``[[before, after], ...]``, one pair per dim),
    ``tf.pad``.

    ``mode`` is ``"CONSTANT"`` (fill with ``constant_values``), ``"REFLECT"`` or
    ``"SYMMETRIC"``, any case. Default names as TF's ops: ``"Pad"``, ``"PadV2"`` (a non-zero
    constant) and ``"MirrorPad"``.
    """
    key = str(mode).upper()
    if key not in _PAD_MODES:
        raise ValueError(f'Unknown padding mode: {mode}; expected one of "CONSTANT", "REFLECT", or "SYMMETRIC"')
    ir_mode, default = _PAD_MODES[key]
    is_zero = not is_tensor_like(constant_values) and np.all(np.asarray(constant_values) == 0)
    if ir_mode == "constant" and not is_zero:
        default = "PadV2"
    with name_scope(name, default, [tensor]) as scope:
        x = convert_to_tensor(tensor, name="tensor")
        fill: Any = 0.0
        if not is_zero:
            # As TF's PadV2: the fill value takes the tensor's dtype (1.5 cannot pad int32).
            cv = convert_to_tensor(constant_values, dtype=x.dtype, name="constant_values")
            fill = static_scalar(cv, "constant_values", "pad")
            if isinstance(fill, (bytes, str)):
                if fill not in ("", b""):
                    raise UnsupportedOpError(
                        f"pad: string tensors pad with '' only, got {fill!r}", [f"  created at {user_location()}"]
                    )
                fill = 0.0
        pairs = _static_array(paddings, "paddings", "pad")
        if pairs.size and (pairs.ndim != 2 or pairs.shape[1] != 2 or pairs.dtype.kind not in "iu"):
            raise ValueError(f"pad: paddings must be integer pairs of shape [rank, 2], got shape {list(pairs.shape)}")
        flat = tuple(int(v) for v in pairs.reshape(-1))
        return make1(ops.Pad, [x], scope, default, paddings=flat, mode=ir_mode, constant_value=float(fill))


def one_hot(
    indices: Any,
    depth: Any,
    on_value: Any = None,
    off_value: Any = None,
    axis: Any = None,
    dtype: Any = None,
    name: str | None = None,
) -> Tensor:
    """One-hot vectors of length ``depth`` for ``indices`` (``tf.one_hot``); default name
    ``"one_hot"``.

    The dtype is ``dtype``, else that of ``on_value``/``off_value``, else float32; given
    values of another dtype are a ``TypeError``, as in TF. ``on_value``/``off_value`` default
    to 1 and 0 and must be known when the graph is built; ``axis`` defaults to -1 (last).
    """
    with name_scope(name, "one_hot", [indices, depth, on_value, off_value]) as scope:
        ix = convert_to_tensor(indices, name="indices")
        given = {
            what: convert_to_tensor(v, name=what, preferred_dtype=dtype)
            for what, v in (("on_value", on_value), ("off_value", off_value))
            if v is not None
        }
        ir_dt = None if dtype is None else ir_dtype(dtype)
        for what, t in given.items():
            if ir_dt is not None and ir_type(t).dtype is not ir_dt:
                raise TypeError(f"dtype {t.dtype} of {what} does not match dtype parameter {tf_dtype(ir_dt)}")
        if len(given) == 2 and ir_type(given["on_value"]).dtype is not ir_type(given["off_value"]).dtype:
            on, off = given["on_value"], given["off_value"]
            raise TypeError(f"dtype {on.dtype} of on_value does not match dtype {off.dtype} of off_value")
        if ir_dt is None:
            ir_dt = ir_type(next(iter(given.values()))).dtype if given else DType.float32
        values = {what: float(static_scalar(t, what, "one_hot")) for what, t in given.items()}
        return make1(
            ops.OneHot,
            [ix],
            scope,
            "one_hot",
            depth=static_int(depth, "depth", "one_hot"),
            on_value=values.get("on_value", 1.0),
            off_value=values.get("off_value", 0.0),
            axis=-1 if axis is None else static_int(axis, "axis", "one_hot"),
            dtype=ir_dt,
        )


# --------------------------------------------------------------------------------------------
# Shapes


def _index_dtype(out_type: Any, fn: str) -> DType:
    dt = ir_dtype(out_type)
    if dt not in (DType.int32, DType.int64):
        raise TypeError(f"{fn}: out_type must be int32 or int64, got {tf_dtype(dt)}")
    return dt


def shape(input: Any, name: str | None = None, out_type: Any = _dtypes.int32) -> Tensor:
    """The dims of ``input`` as a 1-D ``out_type`` tensor (``tf.shape``); default name
    ``"Shape"``. A statically known shape gives a constant, as in TF1 graph mode."""
    dt = _index_dtype(out_type, "shape")
    x = convert_to_tensor(input)
    ty = ir_type(x)
    if ty.is_static:
        return _constant(ty.shape, dt, name, "Shape")
    return make1(ops.Shape, [x], name, "Shape", out_type=dt)


def size(input: Any, name: str | None = None, out_type: Any = _dtypes.int32) -> Tensor:
    """The number of elements of ``input`` as an ``out_type`` scalar (``tf.size``); default name
    ``"Size"``; a constant when the shape is static."""
    dt = _index_dtype(out_type, "size")
    x = convert_to_tensor(input)
    ty = ir_type(x)
    if ty.is_static:
        return _constant(ty.num_elements, dt, name, "Size")
    with name_scope(name, "Size", [x]) as scope:
        dims = make1(ops.Shape, [x], None, "Shape", out_type=dt)
        return make1(ops.ReduceProd, [dims], scope, "Size")


def rank(input: Any, name: str | None = None) -> Tensor:
    """The rank of ``input`` as an int32 scalar (``tf.rank``); default name ``"Rank"``; a
    constant when the rank is static."""
    x = convert_to_tensor(input)
    ty = ir_type(x)
    if ty.rank is not None:
        return _constant(ty.rank, DType.int32, name, "Rank")
    with name_scope(name, "Rank", [x]) as scope:
        dims = make1(ops.Shape, [x], None, "Shape")
        count = make1(ops.Shape, [dims], None, "Shape")
        return make1(ops.Reshape, [count], scope, "Rank", shape=())


# --------------------------------------------------------------------------------------------
# Creation


def _filled_like(op_class: type[Operation], src: Tensor, dtype: DType, scope: str, default: str) -> Tensor:
    """``zeros_like``/``ones_like`` of ``src`` as ``dtype`` (a cast when it differs)."""
    if ir_type(src).dtype is dtype:
        return make1(op_class, [src], scope, default)
    like = make1(op_class, [src], None, default)
    return make1(ops.Cast, [like], scope, default, dtype=dtype)


def _constant_of_shape(
    op_class: type[Operation], like_class: type[Operation], shape: Any, dtype: Any, name: str | None, default: str
) -> Tensor:
    dt = ir_dtype(dtype)
    with name_scope(name, default, [shape]) as scope:
        entries = _shape_arg(shape, default, allow_scalar=True)
        src = _like_source(entries)
        if src is not None:
            return _filled_like(like_class, tensor_of(src), dt, scope, default)
        dims = _require_static(entries, shape, "shape", default)
        return make1(op_class, [], scope, default, shape=dims, dtype=dt)


def zeros(shape: Any, dtype: Any = _dtypes.float32, name: str | None = None) -> Tensor:
    """A tensor of ``shape`` filled with zeros (``tf.zeros``); default name ``"zeros"``.

    ``shape`` is a list, an int, or a static 1-D int tensor; ``tf.shape(x)`` of a tensor with
    unknown dims also works (the zeros take ``x``'s run-time shape).
    """
    return _constant_of_shape(ops.Zeros, ops.ZerosLike, shape, dtype, name, "zeros")


def ones(shape: Any, dtype: Any = _dtypes.float32, name: str | None = None) -> Tensor:
    """A tensor of ``shape`` filled with ones (``tf.ones``); default name ``"ones"``; ``shape``
    as for ``zeros``."""
    return _constant_of_shape(ops.Ones, ops.OnesLike, shape, dtype, name, "ones")


def fill(dims: Any, value: Any, name: str | None = None) -> Tensor:
    """A tensor of shape ``dims`` filled with the scalar ``value``, whose dtype it takes
    (``tf.fill``); default name ``"Fill"``.

    ``dims`` as for ``zeros`` (but not a bare int); with ``tf.shape(x)`` of a tensor with
    unknown dims the value is broadcast to ``x``'s run-time shape.
    """
    with name_scope(name, "Fill", [dims, value]) as scope:
        v = convert_to_tensor(value, name="value")
        entries = _shape_arg(dims, "fill")
        src = _like_source(entries)
        if src is not None:
            # Selecting value everywhere by a mask of x's shape broadcasts it, any dtype.
            ones_ = make1(ops.OnesLike, [tensor_of(src)], None, "ones_like")
            mask = make1(ops.Cast, [ones_], None, "Cast", dtype=DType.bool)
            return make1(ops.Select, [mask, v, v], scope, "Fill")
        return make1(ops.Fill, [v], scope, "Fill", shape=_require_static(entries, dims, "dims", "fill"))


def _like(op_class: type[Operation], tensor: Any, dtype: Any, name: str | None, default: str) -> Tensor:
    with name_scope(name, default, [tensor]) as scope:
        x = convert_to_tensor(tensor, name="tensor")
        dt = ir_type(x).dtype if dtype is None else ir_dtype(dtype)
        return _filled_like(op_class, x, dt, scope, default)


def zeros_like(tensor: Any, dtype: Any = None, name: str | None = None, optimize: bool = True) -> Tensor:
    """Zeros of ``tensor``'s shape and of ``dtype`` (default: its dtype), ``tf.zeros_like``;
    default name ``"zeros_like"``. ``optimize`` is accepted for TF compatibility."""
    return _like(ops.ZerosLike, tensor, dtype, name, "zeros_like")


def ones_like(tensor: Any, dtype: Any = None, name: str | None = None, optimize: bool = True) -> Tensor:
    """Ones of ``tensor``'s shape and of ``dtype`` (default: its dtype), ``tf.ones_like``;
    default name ``"ones_like"``."""
    return _like(ops.OnesLike, tensor, dtype, name, "ones_like")


#: ``tf.range``'s dtype inference: the widest of the arguments' dtypes in this order.
_RANGE_HIERARCHY = (DType.int32, DType.int64, DType.float32, DType.float64)


def range(start: Any, limit: Any = None, delta: Any = 1, dtype: Any = None, name: str = "range") -> Tensor:  # noqa: A001
    """``start, start + delta, ...`` up to, not including, ``limit`` (``tf.range``); default
    name ``"range"``.

    ``range(n)`` counts from 0. Without ``dtype`` the result takes the widest dtype of the
    arguments in the order int32, int64, float32, float64 (Python ints are int32, floats
    float32), as TF. The bounds must be known when the graph is built.

    >>> import flowir as tf
    >>> with tf.Graph().as_default():
    ...     tf.range(1, 5.0).dtype
    tf.float32
    """
    if limit is None:
        start, limit = 0, start
    with name_scope(name, "Range", [start, limit, delta]) as scope:
        args = {
            "start": _range_arg(start, dtype, "start"),
            "limit": _range_arg(limit, dtype, "limit"),
            "delta": _range_arg(delta, dtype, "delta"),
        }
        if dtype is None:
            dts = [dt for dt, _ in args.values()]
            bad = [dt for dt in dts if dt not in _RANGE_HIERARCHY]
            if bad:
                raise TypeError(f"range: arguments must be int32, int64, float32 or float64, got {tf_dtype(bad[0])}")
            dt = max(dts, key=_RANGE_HIERARCHY.index)
        else:
            dt = ir_dtype(dtype)
        bounds = {k: float(v) for k, (_, v) in args.items()}
        return make1(ops.Range, [], scope, "range", dtype=dt, **bounds)


def _range_arg(value: Any, dtype: Any, what: str) -> tuple[DType, Any]:
    """A ``range`` bound: its dtype (as ``convert_to_tensor`` gives it) and static value."""
    t = convert_to_tensor(value, dtype=dtype, name=what)
    return ir_type(t).dtype, static_scalar(t, what, "range")
