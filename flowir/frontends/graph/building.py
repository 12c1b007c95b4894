"""Building ops: ``make_op``, ``convert_to_tensor`` and the source ops (``constant``,
``placeholder``, ``placeholder_with_default``, ``identity``, ``group``, ``no_op``).

``make_op`` is how every frontend function creates an op: it names it by TF's rules in the
current name scope, applies the device and control-dependency scopes, builds the IR op with
``op_class.create`` (which infers and checks static types, so a shape mismatch raises a
``ShapeError`` right at the user's line) and appends it to the default graph.

``convert_to_tensor`` turns Python scalars, nested lists, numpy arrays, variables and lists
of tensors into tensors with TF 1.15's rules: Python ints become int32 (int64 when they do
not fit), floats float32, bools bool, strings string; numpy arrays keep their dtype.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from flowir.frontends.graph.dtypes import DType, as_dtype
from flowir.frontends.graph.graph import get_default_graph, name_scope
from flowir.frontends.graph.tensor import Operation, Tensor, TensorShape, as_shape
from flowir.ir.core import Operation as IROperation
from flowir.ir.dtypes import DType as IRDType
from flowir.ir.dtypes import dtype_of
from flowir.ir.ops import array as array_ops
from flowir.ir.ops import control as control_ops
from flowir.ir.ops import core as core_ops
from flowir.ir.types import ControlType, TensorType

__all__ = [
    "make_op",
    "make_tensor",
    "convert_to_tensor",
    "register_tensor_conversion_function",
    "constant",
    "placeholder",
    "placeholder_with_default",
    "identity",
    "group",
    "no_op",
]


def make_op(
    op_class: type[IROperation],
    inputs: Sequence[Tensor | Sequence[Tensor]],
    *,
    name: str | None = None,
    default_name: str,
    result_types: Sequence[Any] | None = None,
    control_inputs: Sequence[Any] = (),
    **attrs: Any,
) -> Operation:
    """Create an op of ``op_class`` in the default graph and return its ``Operation``.

    ``inputs`` are tensors of the default graph, one per operand (a variadic operand as a
    list). The op is named ``name`` (or ``default_name``) in the current name scope, made
    unique; a name ending in ``/`` is used as is, without the scope. ``control_inputs`` (ops
    or tensors) add to the enclosing ``control_dependencies``; ``result_types`` are given for
    ops whose types are not inferred (placeholders, variables); ``attrs`` are the op's
    attributes.

    Raises ``ValueError`` for an input of another graph or a duplicate explicit name, and the
    IR's ``ShapeError``/``DTypeError`` (naming the op, its inputs and the user's line) when the
    inputs do not fit the op.
    """
    graph = get_default_graph()
    return graph._wrap(graph._create_ir_op(op_class, inputs, name or default_name, result_types, control_inputs, attrs))


def make_tensor(
    op_class: type[IROperation],
    inputs: Sequence[Tensor | Sequence[Tensor]],
    *,
    name: str | None = None,
    default_name: str,
    **attrs: Any,
) -> Tensor:
    """``make_op(...).outputs[0]``: the first output of a new op, made without the op's
    ``Operation`` wrapper (made later if asked for: ``tensor.op``)."""
    graph = get_default_graph()
    ir_op = graph._create_ir_op(op_class, inputs, name or default_name, None, (), attrs)
    for r in ir_op.results:
        if type(r.type) is not ControlType:
            return graph._new_tensor(r)
    raise ValueError(f"{op_class.name} has no tensor output")


# --------------------------------------------------------------------------------------------
# Conversion

ConversionFunction = Callable[..., Any]

#: ``(priority, base type, function)``, tried in priority order for values that are not
#: tensors; what none of them takes is auto-packed (a list holding tensors) or a ``constant``.
_CONVERSIONS: list[tuple[int, type | tuple[type, ...], ConversionFunction]] = []


def register_tensor_conversion_function(
    base_type: type | tuple[type, ...], conversion_func: ConversionFunction, priority: int = 100
) -> None:
    """Teach ``convert_to_tensor`` a type: ``conversion_func(value, dtype=None, name=None,
    as_ref=False)`` returns a ``Tensor`` (or ``NotImplemented`` to decline). Lower
    ``priority`` runs first."""
    if not callable(conversion_func):
        raise TypeError("conversion_func must be callable.")
    _CONVERSIONS.append((priority, base_type, conversion_func))
    _CONVERSIONS.sort(key=lambda entry: entry[0])


def convert_to_tensor(
    value: Any,
    dtype: Any = None,
    name: str | None = None,
    preferred_dtype: Any = None,
    dtype_hint: Any = None,
) -> Tensor:
    """``value`` as a ``Tensor`` of the default graph (TF 1.15's rules).

    A tensor is returned as is (``ValueError`` if ``dtype`` is given and differs); a variable
    gives its value; a list holding tensors is stacked (``packed``); anything else becomes a
    ``constant``. ``preferred_dtype`` (alias ``dtype_hint``) is tried first and dropped if
    the value does not convert to it.
    """
    if dtype is not None:
        dtype = as_dtype(dtype)
    preferred = preferred_dtype if preferred_dtype is not None else dtype_hint
    if type(value) is Tensor:
        return _tensor_to_tensor(value, dtype)
    if dtype is None and preferred is not None:
        preferred = as_dtype(preferred)
        try:
            result = _convert(value, preferred, name)
        except (TypeError, ValueError):
            pass
        else:
            if result.dtype.base_dtype is not preferred.base_dtype:
                raise TypeError(
                    f"convert_to_tensor did not convert to the preferred dtype: {result.dtype.base_dtype} vs {preferred.base_dtype}"
                )
            return result
    return _convert(value, dtype, name)


def _convert(value: Any, dtype: DType | None, name: str | None) -> Tensor:
    if isinstance(value, Tensor):
        return _tensor_to_tensor(value, dtype)
    for _, base_type, fn in _CONVERSIONS:
        if isinstance(value, base_type):
            result = fn(value, dtype=dtype, name=name, as_ref=False)
            if result is NotImplemented:
                continue
            if not isinstance(result, Tensor):
                raise RuntimeError(f"{fn!r} returned {result!r}, not a Tensor")
            return _tensor_to_tensor(result, dtype)
    if isinstance(value, (list, tuple)) and _holds_tensor(value):
        return _autopack(value, dtype, name or "packed")
    return constant(value, dtype=dtype, name=name or "Const")


def _tensor_to_tensor(t: Tensor, dtype: DType | None) -> Tensor:
    if dtype is not None and not dtype.is_compatible_with(t.dtype):
        raise ValueError(f"Tensor conversion requested dtype {dtype.name} for Tensor with dtype {t.dtype.name}: {t!r}")
    if t._dtype._is_ref:
        return t.graph._variable_reads[t.op]
    return t


def _is_tensor_like(x: Any) -> bool:
    return isinstance(x, Tensor) or (hasattr(x, "_as_graph_element") and hasattr(x, "dtype") and not isinstance(x, type))


def _holds_tensor(value: Sequence[Any]) -> bool:
    return any(_is_tensor_like(x) or (isinstance(x, (list, tuple)) and _holds_tensor(x)) for x in value)


def _first_tensor_dtype(value: Sequence[Any]) -> DType | None:
    for x in value:
        if _is_tensor_like(x):
            return x.dtype.base_dtype
        if isinstance(x, (list, tuple)):
            found = _first_tensor_dtype(x)
            if found is not None:
                return found
    return None


def _autopack(value: Sequence[Any], dtype: DType | None, name: str) -> Tensor:
    """Stack a (nested) list holding tensors along a new first dim, as TF's ``Pack``."""
    if dtype is None:
        dtype = _first_tensor_dtype(value)
    with name_scope(name) as scope:
        elems: list[Any] = []
        for i, x in enumerate(value):
            if _is_tensor_like(x):
                t = convert_to_tensor(x)
                if dtype is not None and t.dtype.base_dtype is not dtype:
                    raise TypeError(f"Cannot convert a list containing a tensor of dtype {t.dtype} to {dtype} (Tensor is: {t!r})")
                elems.append(t)
            elif isinstance(x, (list, tuple)) and _holds_tensor(x):
                elems.append(_autopack(x, dtype, str(i)))
            else:
                elems.append(x)
        tensors = [e if isinstance(e, Tensor) else constant(e, dtype=dtype, name=str(i)) for i, e in enumerate(elems)]
        return make_op(array_ops.Stack, [tensors], name=scope, default_name="Pack").outputs[0]


# --------------------------------------------------------------------------------------------
# Constants


def _compatible(v: Any, dt: IRDType) -> bool:
    if dt.is_floating:
        return isinstance(v, (numbers.Real, np.integer, np.floating))
    if dt.is_integer:
        return isinstance(v, (numbers.Integral, np.integer))
    if dt is IRDType.bool:
        return isinstance(v, (bool, np.bool_))
    return isinstance(v, (str, bytes, np.str_, np.bytes_))


def _first_incompatible(value: Any, dt: IRDType) -> Any:
    if isinstance(value, (list, tuple)):
        for x in value:
            bad = _first_incompatible(x, dt)
            if bad is not None:
                return bad
        return None
    return None if _compatible(value, dt) else value


def _reject_tensors(value: Any) -> None:
    if _is_tensor_like(value) or (isinstance(value, (list, tuple)) and _holds_tensor(value)):
        raise TypeError(
            f"Failed to convert object of type {type(value).__name__} to Tensor. Contents: {value!r}. "
            "A constant holds plain values; use tf.stack or convert_to_tensor for lists of tensors."
        )


def _as_bytes_array(a: np.ndarray) -> np.ndarray:
    out = np.empty(a.shape, dtype=object)
    flat = out.reshape(-1)
    for i, x in enumerate(a.reshape(-1).tolist()):
        flat[i] = x.encode("utf-8") if isinstance(x, str) else bytes(x)
    return out


#: The numpy float types a Python float converts to directly (``x * 0.5``'s constant).
_NATIVE_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def _to_numpy(value: Any, dtype: DType | None) -> np.ndarray:
    """The array TF's ``make_tensor_proto`` would make of ``value``."""
    if type(value) is float and dtype is not None and dtype.ir.numpy in _NATIVE_FLOATS:
        # The common case on the path of every ``tensor * 0.5``: the same rounding as below.
        return np.array(value, dtype=dtype.ir.numpy)
    _reject_tensors(value)
    if isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        if arr.dtype.kind in "OUS":
            arr = _as_bytes_array(arr)
        if dtype is not None:
            if (dtype.ir is IRDType.string) != (arr.dtype.kind == "O"):
                raise TypeError(f"Expected {dtype.name}, but got an array of dtype {arr.dtype}.")
            # As TF's make_tensor_proto: a numpy value is cast to the requested dtype unchecked.
            return arr if arr.dtype.kind == "O" else arr.astype(dtype.as_numpy_dtype)
        try:
            dtype_of(arr)
        except ValueError:
            raise TypeError(f"Unsupported numpy dtype {arr.dtype} (value {value!r})") from None
        return arr
    if value is None:
        raise ValueError("None values not supported.")
    if dtype is not None:
        bad = _first_incompatible(value, dtype.ir)
        if bad is not None:
            raise TypeError(f"Expected {dtype.name}, but got {bad!r} of type {type(bad).__name__!r}.")
    try:
        arr = np.array(value)
    except ValueError as e:
        raise ValueError(f"Argument must be a dense tensor: {value!r} ({e})") from None
    if arr.dtype == object:
        if isinstance(value, (list, tuple)):
            raise ValueError(f"Argument must be a dense tensor: {value!r}")
        raise TypeError(
            f"Failed to convert object of type {type(value)} to Tensor. Contents: {value!r}. "
            "Consider casting elements to a supported type."
        )
    if arr.dtype.kind in "US":
        arr = _as_bytes_array(arr)
    if dtype is not None:
        if dtype.ir is IRDType.string:
            return arr if arr.dtype == object else _as_bytes_array(arr.astype(str))
        target = dtype.ir.numpy
        if dtype.is_integer and arr.dtype.kind in "iub":
            info = np.iinfo(target)
            if arr.size and (arr.min() < info.min or arr.max() > info.max):
                raise TypeError(f"Expected {dtype.name}, but got a value out of its range ({value!r}).")
        return arr.astype(target)
    if arr.dtype == np.float64:
        return arr.astype(np.float32)
    if arr.dtype == np.int64:
        narrow = arr.astype(np.int32)
        return narrow if np.array_equal(narrow, arr) else arr
    return arr


def constant(value: Any, dtype: Any = None, shape: Any = None, name: str = "Const", verify_shape: bool = False) -> Tensor:
    """A constant tensor (TF 1.15's ``tf.constant``).

    ``dtype`` defaults to the value's (Python ints int32 or int64 if needed, floats float32).
    With ``shape``, a value of as many elements is reshaped, a smaller one is padded with its
    last element (so a scalar fills the shape), a larger one is a ``ValueError``;
    ``verify_shape=True`` requires the value to have exactly ``shape``.

    >>> constant(7, shape=[2, 2]).shape
    TensorShape([Dimension(2), Dimension(2)])
    """
    dt = as_dtype(dtype) if dtype is not None else None
    arr = _to_numpy(value, dt)
    if shape is not None:
        target = as_shape(shape)
        if not target.is_fully_defined():
            raise ValueError(f"A constant's shape must be fully defined, got {target}")
        dims = tuple(target.as_list())
        size = int(np.prod(dims, dtype=np.int64))
        if verify_shape and arr.shape != dims:
            raise TypeError(f"Expected Tensor's shape: {dims}, got {arr.shape}.")
        if arr.size > size:
            raise ValueError(f"Too many elements provided. Needed at most {size}, but received {arr.size}")
        flat = arr.reshape(-1)
        if arr.size == size:
            arr = flat.reshape(dims)
        elif arr.size == 0:
            arr = np.zeros(dims, dtype=arr.dtype) if arr.dtype != object else np.full(dims, b"", dtype=object)
        else:
            pad = np.full(size - flat.size, flat[-1], dtype=arr.dtype)
            arr = np.concatenate([flat, pad]).reshape(dims)
    return make_tensor(core_ops.Constant, [], name=name, default_name="Const", value=arr)


# --------------------------------------------------------------------------------------------
# Placeholders, identity, grouping


def _placeholder_shape(shape: Any) -> tuple[int | None, ...] | None:
    """An IR shape from a placeholder's ``shape``: ``None`` or ``-1`` dims are unknown."""
    if shape is None:
        return None
    if isinstance(shape, TensorShape):
        return shape._to_ir()
    if isinstance(shape, (int, np.integer)):
        shape = [shape]
    return as_shape([None if (isinstance(d, (int, np.integer)) and d == -1) else d for d in shape])._to_ir()


def placeholder(dtype: Any, shape: Any = None, name: str | None = None) -> Tensor:
    """A tensor that every ``Session.run`` needing it must feed (``tf.placeholder``).

    ``dtype``: a flowir/TF dtype (``tf.float32``) or a numpy dtype. ``shape``: a list whose
    ``None`` (or ``-1``) dims take any size at run time (``[None, 784]``: any batch of
    784-vectors); ``None`` (the default) is unknown rank. ``name``: the op's name in the
    current name scope (made unique). Returns the op's one output, ``"<name>:0"``, whose
    static shape is ``shape``. As in TF 1.15, a run that needs the placeholder without feeding
    it raises ``errors.InvalidArgumentError``; a fed value of another shape, ``ValueError``.

    >>> import numpy as np
    >>> import flowir as tf
    >>> with tf.Graph().as_default():
    ...     x = tf.placeholder(tf.float32, [None, 3], name="x")
    ...     y = x * 2.0
    ...     with tf.Session(backend="numpy") as sess:
    ...         print(x.shape, sess.run(y, feed_dict={x: np.ones((1, 3))}))
    (?, 3) [[2. 2. 2.]]
    """
    dt = as_dtype(dtype).base_dtype
    ty = TensorType(dt.ir, _placeholder_shape(shape))
    return make_op(core_ops.Placeholder, [], name=name, default_name="Placeholder", result_types=[ty]).outputs[0]


def placeholder_with_default(input: Any, shape: Any, name: str | None = None) -> Tensor:  # noqa: A002 - TF's name
    """A tensor that is ``input`` unless a run feeds it (TF's ``placeholder_with_default``).

    Its static shape is ``shape`` (``None``/``-1`` dims take any size), which must be
    compatible with ``input``'s (``ValueError`` otherwise). It is an ``array.identity`` of
    ``input`` whose result type is ``shape``: feeding it cuts the graph there, as feeding
    any tensor does.
    """
    with name_scope(name, "PlaceholderWithDefault", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        declared = TensorShape._from_ir(_placeholder_shape(shape))
        if not declared.is_compatible_with(x.shape):
            raise ValueError(
                f"placeholder_with_default {scope[:-1]!r}: shape {declared} is not compatible with the "
                f"default value's shape {x.shape}"
            )
        op = make_op(array_ops.Identity, [x], name=scope, default_name="PlaceholderWithDefault")
        result = op._ir.results[0]
        # The op's rule gives the default's type; the declared type is the one feeds must fit.
        result.type = TensorType(x.dtype.ir, declared._to_ir())
        op._graph._retyped.add(result)
        return op.outputs[0]


def identity(input: Any, name: str | None = None) -> Tensor:  # noqa: A002 - TF's name
    """A tensor with ``input``'s value (a variable's current value for a variable)."""
    x = convert_to_tensor(input)
    return make_op(array_ops.Identity, [x], name=name, default_name="Identity").outputs[0]


def _flatten(items: Any) -> list[Any]:
    out = []
    for x in items:
        if isinstance(x, (list, tuple)):
            out.extend(_flatten(x))
        elif isinstance(x, dict):
            out.extend(_flatten(list(x.values())))
        else:
            out.append(x)
    return out


def group(*inputs: Any, name: str | None = None) -> Operation:
    """An op that is done when all ``inputs`` (ops or tensors, nested lists allowed) are done."""
    deps = _flatten(inputs)
    for d in deps:
        if not hasattr(d, "device") and not isinstance(d, str):
            raise TypeError(f"tf.group() expected Tensor arguments not {d!r} with type {type(d)!r}")
    with name_scope(name, "group_deps", deps) as scope:
        if not deps:
            return no_op(name=scope)
        return make_op(control_ops.Group, [], name=scope, default_name="group_deps", control_inputs=deps)


def no_op(name: str | None = None) -> Operation:
    """An op that does nothing (with control dependencies: a point after them)."""
    return make_op(control_ops.NoOp, [], name=name, default_name="NoOp")

