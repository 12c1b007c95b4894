"""``tf.nn``: activations, softmax, the cross-entropy losses, ``l2_loss``, ``dropout`` and
``bias_add`` of the TF1-style API.

Each function has the signature and default op name of its TensorFlow 1.15 namesake and
builds ``flowir.ir.ops.nn`` ops in the default graph (``sigmoid`` and ``tanh`` are the math
ops, as in TF; ``l2_loss``, ``dropout`` and ``bias_add`` are built from math ops).
"""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import numpy as np

from flowir.frontends.graph.array_ops import (
    _DimOf,
    _shape_arg,
    constant_value,
    convert_all,
    deprecated_argument_lookup,
    ir_type,
    is_tensor_like,
    make1,
    squeeze,
    static_axis,
    static_int,
    static_ints,
    tensor_of,
)
from flowir.frontends.graph.building import convert_to_tensor, make_op
from flowir.frontends.graph.gradients import stop_gradient
from flowir.frontends.graph.graph import get_seed, name_scope
from flowir.frontends.graph.math_ops import add, multiply, negative, reduce_mean, rsqrt, sigmoid, square, subtract, tanh
from flowir.frontends.graph.random_ops import random_uniform
from flowir.frontends.graph.tensor import Tensor, TensorShape
from flowir.ir import ops
from flowir.ir.core import Operation
from flowir.ir.dtypes import DType
from flowir.ir.errors import ShapeError, UnsupportedOpError
from flowir.ir.location import user_location
from flowir.ir.types import format_shape

__all__ = [
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "softplus",
    "softmax_cross_entropy_with_logits",
    "softmax_cross_entropy_with_logits_v2",
    "sparse_softmax_cross_entropy_with_logits",
    "sigmoid_cross_entropy_with_logits",
    "l2_loss",
    "dropout",
    "bias_add",
    "gelu",
    "elu",
    "selu",
    "leaky_relu",
    "conv1d",
    "conv2d",
    "conv3d",
    "convolution",
    "conv2d_transpose",
    "max_pool",
    "avg_pool",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "moments",
    "batch_normalization",
    "top_k",
]


def relu(features: Any, name: str | None = None) -> Tensor:
    """``max(features, 0)`` elementwise (``tf.nn.relu``); numeric; default name ``"Relu"``."""
    with name_scope(name, "Relu", [features]) as scope:
        return make1(ops.Relu, [convert_to_tensor(features, name="features")], scope, "Relu")


def softplus(features: Any, name: str | None = None) -> Tensor:
    """``log(1 + exp(features))`` elementwise, without overflow (``tf.nn.softplus``); floats;
    default name ``"Softplus"``."""
    with name_scope(name, "Softplus", [features]) as scope:
        return make1(ops.Softplus, [convert_to_tensor(features, name="features")], scope, "Softplus")


def _softmax(
    op_class: type[Operation], default_name: str, logits: Any, axis: Any, name: str | None, dim: Any
) -> Tensor:
    axis = deprecated_argument_lookup(axis, "axis", dim, "dim")
    with name_scope(name, default_name, [logits]) as scope:
        x = convert_to_tensor(logits, name="logits")
        ax = static_axis(axis, default_name)
        return make1(op_class, [x], scope, default_name, axis=-1 if ax is None else ax)


def softmax(logits: Any, axis: Any = None, name: str | None = None, dim: Any = None) -> Tensor:
    """``exp(logits) / sum(exp(logits))`` along ``axis`` (default -1, the last dim; ``dim`` is
    TF1's older spelling), ``tf.nn.softmax``; float logits of rank >= 1; default name
    ``"Softmax"``.

    >>> import flowir as tf
    >>> with tf.Graph().as_default():
    ...     tf.nn.softmax([[1.0, 2.0]]).name
    'Softmax:0'
    """
    return _softmax(ops.Softmax, "Softmax", logits, axis, name, dim)


def log_softmax(logits: Any, axis: Any = None, name: str | None = None, dim: Any = None) -> Tensor:
    """``logits - log(sum(exp(logits)))`` along ``axis`` (``tf.nn.log_softmax``); arguments as
    ``softmax``; default name ``"LogSoftmax"``."""
    return _softmax(ops.LogSoftmax, "LogSoftmax", logits, axis, name, dim)


# --------------------------------------------------------------------------------------------
# Cross-entropy losses


def _ensure_xent_args(fn: str, sentinel: Any, labels: Any, logits: Any) -> None:
    if sentinel is not None:
        raise ValueError(f"Only call `{fn}` with named arguments (labels=..., logits=..., ...)")
    if labels is None or logits is None:
        raise ValueError("Both labels and logits must be provided.")


def softmax_cross_entropy_with_logits_v2(
    labels: Any, logits: Any, axis: Any = None, name: str | None = None, dim: Any = None
) -> Tensor:
    """The cross-entropy of the distributions ``labels`` against ``softmax(logits)`` along
    ``axis`` (default -1; ``dim`` is TF1's older spelling), ``tf.nn.softmax_cross_entropy_with_logits_v2``.

    ``logits``: float, rank >= 1; ``labels`` (cast to ``logits``' dtype) of the same shape.
    Returns the loss per example, ``logits``' shape without ``axis``, finite for logits of any
    size. Gradients flow into both ``logits`` and ``labels``. Default name
    ``"softmax_cross_entropy_with_logits"``.
    """
    axis = deprecated_argument_lookup(axis, "axis", dim, "dim")
    with name_scope(name, "softmax_cross_entropy_with_logits", [logits, labels]) as scope:
        x = convert_to_tensor(logits, name="logits")
        z = convert_to_tensor(labels, name="labels")
        if z.dtype.base_dtype is not x.dtype.base_dtype:
            z = make1(ops.Cast, [z], None, "Cast", dtype=ir_type(x).dtype)
        ax = static_axis(axis, "softmax_cross_entropy_with_logits")
        op = make_op(
            ops.SoftmaxCrossEntropyWithLogits,
            [x, z],
            name=scope,
            default_name="softmax_cross_entropy_with_logits",
            axis=-1 if ax is None else ax,
        )
        return op.outputs[0]


def softmax_cross_entropy_with_logits(
    _sentinel: Any = None,
    labels: Any = None,
    logits: Any = None,
    dim: Any = -1,
    name: str | None = None,
    axis: Any = None,
) -> Tensor:
    """TF1's ``tf.nn.softmax_cross_entropy_with_logits``: ``softmax_cross_entropy_with_logits_v2``
    with no gradient into ``labels`` (they pass through ``stop_gradient``); default name
    ``"softmax_cross_entropy_with_logits_sg"``. Call with keyword arguments.

    ``axis`` overrides the default ``dim`` of -1 (TF 1.15 rejects ``axis`` unless ``dim=None``
    is passed too; flowir only rejects two explicit values).
    """
    _ensure_xent_args("softmax_cross_entropy_with_logits", _sentinel, labels, logits)
    if axis is not None and dim == -1:
        dim = None
    with name_scope(name, "softmax_cross_entropy_with_logits_sg", [logits, labels]) as scope:
        labels = stop_gradient(labels, name="labels_stop_gradient")
    return softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits, axis=axis, name=scope, dim=dim)


def sparse_softmax_cross_entropy_with_logits(
    _sentinel: Any = None, labels: Any = None, logits: Any = None, name: str | None = None
) -> Tensor:
    """The cross-entropy of class indices ``labels`` against ``softmax(logits)``
    (``tf.nn.sparse_softmax_cross_entropy_with_logits``). Call with keyword arguments.

    ``logits``: float, classes in the last dim; ``labels``: int32 or int64 of ``logits``'
    shape without the last dim, each in ``[0, classes)`` (a run-time ``InvalidArgumentError``
    otherwise). Returns the loss per example (``labels``' shape). A static rank or shape
    mismatch is a ``ValueError``. The op is ``name`` (default
    ``"SparseSoftmaxCrossEntropyWithLogits"``) inside a scope of that name, as in TF.
    """
    _ensure_xent_args("sparse_softmax_cross_entropy_with_logits", _sentinel, labels, logits)
    with name_scope(name, "SparseSoftmaxCrossEntropyWithLogits", [labels, logits]):
        z = convert_to_tensor(labels)
        x = convert_to_tensor(logits)
        xs, zs = ir_type(x).shape, ir_type(z).shape
        if xs is not None and not xs:
            raise ValueError(f"Logits cannot be scalars - received shape {x.shape}.")
        if xs is not None and zs is not None and len(zs) != len(xs) - 1:
            raise ValueError(
                f"Rank mismatch: Rank of labels (received {len(zs)}) should equal rank of logits minus 1 "
                f"(received {len(xs)})."
            )
        op = make_op(
            ops.SparseSoftmaxCrossEntropyWithLogits,
            [x, z],
            name=name,
            default_name="SparseSoftmaxCrossEntropyWithLogits",
        )
        return op.outputs[0]


def sigmoid_cross_entropy_with_logits(
    _sentinel: Any = None, labels: Any = None, logits: Any = None, name: str | None = None
) -> Tensor:
    """The elementwise logistic loss of ``logits`` for the probabilities ``labels``,
    ``max(x, 0) - x * z + log(1 + exp(-|x|))`` (``tf.nn.sigmoid_cross_entropy_with_logits``),
    without overflow for logits of any size. Call with keyword arguments.

    ``logits`` and ``labels`` have one float dtype (Python values take ``logits``') and one
    shape (``ValueError`` otherwise). Default name ``"logistic_loss"``.
    """
    _ensure_xent_args("sigmoid_cross_entropy_with_logits", _sentinel, labels, logits)
    with name_scope(name, "logistic_loss", [logits, labels]) as scope:
        x, z = convert_all([logits, labels], ["logits", "labels"])
        if not x.shape.is_compatible_with(z.shape):
            raise ValueError(f"logits and labels must have the same shape ({x.shape} vs {z.shape})")
        return make1(ops.SigmoidCrossEntropyWithLogits, [x, z], scope, "logistic_loss")


# --------------------------------------------------------------------------------------------
# l2_loss, dropout, bias_add


def l2_loss(t: Any, name: str | None = None) -> Tensor:
    """``sum(t ** 2) / 2`` as a scalar of ``t``'s float dtype (``tf.nn.l2_loss``, TF's
    ``L2Loss``); default name ``"L2Loss"``."""
    with name_scope(name, "L2Loss", [t]) as scope:
        x = convert_to_tensor(t, name="t")
        if not x.dtype.is_floating:
            raise TypeError(f"l2_loss: t {x.name!r} has dtype {x.dtype}; expected a float dtype")
        squares = make1(ops.Square, [x], None, "Square")
        total = make1(ops.ReduceSum, [squares], None, "Sum")
        half = make1(ops.Constant, [], None, "Const", value=np.asarray(0.5, dtype=ir_type(x).dtype.numpy))
        return make1(ops.Mul, [total, half], scope, "L2Loss")


def dropout(
    x: Any,
    keep_prob: Any = None,
    noise_shape: Any = None,
    seed: int | None = None,
    name: str | None = None,
    rate: Any = None,
) -> Tensor:
    """Zero each element of ``x`` with probability ``rate = 1 - keep_prob`` and scale the
    others by ``1 / keep_prob`` (TF 1.15's ``tf.nn.dropout``); default name ``"dropout"``.

    Give one of ``keep_prob`` and ``rate``: a Python float (``keep_prob`` in ``(0, 1]``) or a
    float scalar tensor, say a placeholder fed at run time. ``keep_prob=1`` (``rate=0``) known
    while building returns ``x`` itself; fed at run time it gives exactly ``x``.
    ``noise_shape`` (broadcastable to ``x``'s shape) shares one draw across the dims where it
    is 1; its ``None`` dims take ``x``'s, and ``tf.shape(x)[i]`` entries follow ``x``'s
    run-time dims. ``seed`` as for ``random_uniform``. ``x`` must be float (``ValueError``).

    >>> import flowir as tf
    >>> with tf.Graph().as_default():
    ...     x = tf.ones([2, 3])
    ...     tf.nn.dropout(x, 0.5).name, tf.nn.dropout(x, keep_prob=1.0) is x
    ('dropout/mul_1:0', True)
    """
    try:
        keep = None if keep_prob is None else 1.0 - keep_prob
    except TypeError:
        raise ValueError(f"keep_prob must be a floating point number or Tensor (got {keep_prob!r})") from None
    rate = deprecated_argument_lookup(rate, "rate", keep, "keep_prob")
    if rate is None:
        raise ValueError("You must provide a rate to dropout.")
    return _dropout(x, rate, noise_shape, seed, name)


def _dropout(x: Any, rate: Any, noise_shape: Any, seed: int | None, name: str | None) -> Tensor:
    """TF 1.15's ``dropout_v2``: ``x * (1 / (1 - rate)) * cast(uniform >= rate)``."""
    with name_scope(name, "dropout", [x]):
        x = convert_to_tensor(x, name="x")
        if not x.dtype.is_floating:
            raise ValueError(
                f"x has to be a floating point tensor since it's going to be scaled. Got a {x.dtype} tensor instead."
            )
        if isinstance(rate, numbers.Real) and not is_tensor_like(rate):
            if not 0 <= rate < 1:
                raise ValueError(f"rate must be a scalar tensor or a float in the range [0, 1), got {rate:g}")
            if rate == 0:
                return x
        r = convert_to_tensor(rate, dtype=x.dtype, name="rate")
        if not r.shape.is_compatible_with(TensorShape([])):
            raise ValueError(f"dropout: rate {r.name!r} must be a scalar, got shape {r.shape}")
        known = constant_value(r)
        if known is not None and known == 0:
            return x
        noise = _uniform_noise(x, noise_shape, seed)
        keep_prob = 1 - r
        scale = 1 / keep_prob
        mask = make1(ops.Cast, [noise >= r], None, "Cast", dtype=ir_type(x).dtype)
        return make1(ops.Mul, [x * scale, mask], None, "mul")


def _uniform_noise(x: Tensor, noise_shape: Any, seed: int | None) -> Tensor:
    """Uniform ``[0, 1)`` draws of ``noise_shape`` (default: ``x``'s run-time shape).

    A fully known noise shape is a ``random.uniform`` op. Otherwise its unknown entries must
    all be dims of one tensor ``s`` at their own positions (``tf.shape(s)[i]``; ``x``'s for
    ``None``), the others 1 or ``s``'s static dims, and the draw is a ``random.uniform_like``
    of ``s``, sliced to size 1 where the noise is 1.
    """
    dims = ir_type(x).shape
    if noise_shape is None:
        if dims is None:
            return _uniform_like(x, seed)
        entries: list[Any] = [_DimOf(x.value, i) if d is None else d for i, d in enumerate(dims)]
    else:
        entries = _noise_entries(x, noise_shape)
    if all(isinstance(e, int) for e in entries):
        if dims is not None and not _broadcasts_into(entries, dims):
            raise ValueError(
                f"dropout: noise_shape {list(entries)} does not broadcast to the shape {format_shape(dims)} of x {x.name!r}"
            )
        return random_uniform(entries, dtype=x.dtype, seed=seed)
    sources = {e.source for e in entries if isinstance(e, _DimOf)}
    src = next(iter(sources))
    src_dims = src.type.shape  # type: ignore[attr-defined]
    if len(sources) != 1 or src_dims is None or len(src_dims) != len(entries):
        raise _noise_error(x, noise_shape, "its run-time dims must be those of one tensor, at their own positions")
    sizes = []
    for i, (e, d) in enumerate(zip(entries, src_dims)):
        if e == _DimOf(src, i) or (d is not None and e == d):
            sizes.append(-1)
        elif e == 1:
            sizes.append(1)
        else:
            raise _noise_error(x, noise_shape, f"entry {i} is neither 1 nor dim {i} of the tensor giving its run-time dims")
    template = tensor_of(src)
    if template.dtype.base_dtype is not x.dtype.base_dtype:
        template = make1(ops.Cast, [template], None, "Cast", dtype=ir_type(x).dtype)
    if any(size == 1 for size in sizes):
        template = make1(ops.Slice, [template], None, "Slice", begin=[0] * len(sizes), size=sizes)
    return _uniform_like(template, seed)


def _broadcasts_into(noise: list[int], dims: tuple[int | None, ...]) -> bool:
    """Whether a static ``noise`` shape broadcasts with ``dims`` without changing them."""
    if len(noise) > len(dims):
        return False
    return all(n == 1 or d is None or n == d for n, d in zip(noise[::-1], dims[::-1]))


def _noise_entries(x: Tensor, noise_shape: Any) -> list[Any]:
    """The entries of ``noise_shape`` (ints, traced dims, ``None``), with TF's filling of the
    ``None`` dims of a static shape from ``x``'s static dims."""
    if isinstance(noise_shape, TensorShape) or (
        isinstance(noise_shape, (list, tuple)) and any(d is None for d in noise_shape)
    ):
        given = TensorShape(noise_shape).as_list()
        if given is None:
            raise _noise_error(x, noise_shape, "its rank must be known")
        entries: list[Any] = list(given)
    else:
        entries = _shape_arg(noise_shape, "dropout")
    dims = ir_type(x).shape
    if dims is not None and len(dims) == len(entries):
        entries = [
            (_DimOf(x.value, i) if d is None else d) if e is None else e for i, (e, d) in enumerate(zip(entries, dims))
        ]
    if any(e is None for e in entries):
        raise _noise_error(x, noise_shape, "some of its dims are unknown")
    return entries


def _uniform_like(template: Tensor, seed: int | None) -> Tensor:
    seed1, seed2 = get_seed(seed)
    return make1(ops.RandomUniformLike, [template], None, "random_uniform", seed=seed1 or 0, seed2=seed2 or 0)


def _noise_error(x: Tensor, noise_shape: Any, reason: str) -> UnsupportedOpError:
    shown = noise_shape.name if isinstance(noise_shape, Tensor) else noise_shape
    return UnsupportedOpError(
        f"dropout: noise_shape {shown!r} for x {x.name!r} {ir_type(x).describe()}: {reason}",
        [f"  created at {user_location()}"],
    )


def bias_add(value: Any, bias: Any, data_format: str | None = None, name: str | None = None) -> Tensor:
    """``value + bias`` with the 1-D ``bias`` added along the channel dim (``tf.nn.bias_add``):
    the last dim for ``data_format`` ``None`` or ``"N...C"`` (``value`` of rank >= 2), dim 1
    for ``"NC..."`` (rank >= 3). ``bias`` is converted to ``value``'s dtype; a static size
    mismatch is a ``ValueError``. Default name ``"BiasAdd"``."""
    channels_first = False
    if data_format is not None:
        if data_format.startswith("NC"):
            channels_first = True
        elif not (data_format.startswith("N") and data_format.endswith("C")):
            raise ValueError("data_format must be of the form `N...C` or `NC...`")
    with name_scope(name, "BiasAdd", [value, bias]) as scope:
        v = convert_to_tensor(value, name="input")
        b = convert_to_tensor(bias, dtype=v.dtype.base_dtype, name="bias")
        vs, bs = ir_type(v).shape, ir_type(b).shape
        min_rank = 3 if channels_first else 2
        if bs is not None and len(bs) != 1:
            raise _bias_error(v, b, f"bias must be 1-D, got shape {format_shape(bs)}")
        if vs is None:
            if channels_first:
                raise _bias_error(v, b, "bias_add with data_format NC... needs the rank of value")
            return make1(ops.Add, [v, b], scope, "BiasAdd")
        if len(vs) < min_rank:
            raise _bias_error(v, b, f"value must have rank at least {min_rank}, got shape {format_shape(vs)}")
        axis = 1 if channels_first else len(vs) - 1
        if bs is not None and None not in (bs[0], vs[axis]) and bs[0] != vs[axis]:
            raise _bias_error(v, b, f"Dimensions must be equal, but are {vs[axis]} and {bs[0]}")
        if channels_first:
            b = make1(ops.Reshape, [b], None, "Reshape", shape=(-1,) + (1,) * (len(vs) - 2))
        return make1(ops.Add, [v, b], scope, "BiasAdd")


def _bias_error(v: Tensor, b: Tensor, reason: str) -> ShapeError:
    return ShapeError(
        f"bias_add: {reason}",
        [f"  value: {v.name!r} {ir_type(v).describe()}", f"  bias:  {b.name!r} {ir_type(b).describe()}", f"  created at {user_location()}"],
    )



# --------------------------------------------------------------------------------------------
# More activations


def gelu(features: Any, approximate: bool = False, name: str | None = None) -> Tensor:
    """``features * Phi(features)`` (``tf.nn.gelu``): the erf form, or with ``approximate``
    the tanh form; floats; default name ``"Gelu"``."""
    with name_scope(name, "Gelu", [features]) as scope:
        x = convert_to_tensor(features, name="features")
        return make1(ops.Gelu, [x], scope, "Gelu", approximate="tanh" if approximate else "none")


def elu(features: Any, name: str | None = None) -> Tensor:
    """``features`` where positive, else ``exp(features) - 1`` (``tf.nn.elu``); floats;
    default name ``"Elu"``."""
    with name_scope(name, "Elu", [features]) as scope:
        return make1(ops.Elu, [convert_to_tensor(features, name="features")], scope, "Elu")


#: SELU's constants (Klambauer et al.), as TF's kernel.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(features: Any, name: str | None = None) -> Tensor:
    """``scale * elu(features, alpha)`` with SELU's constants (``tf.nn.selu``); floats;
    default name ``"Selu"`` (an ``Elu`` and a ``Mul`` inside it)."""
    with name_scope(name, "Selu", [features]) as scope:
        x = convert_to_tensor(features, name="features")
        e = make1(ops.Elu, [x], None, "Elu", alpha=_SELU_ALPHA)
        return make1(ops.Mul, convert_all([e, _SELU_SCALE], ["x", "y"]), scope, "Selu")


def leaky_relu(features: Any, alpha: float = 0.2, name: str | None = None) -> Tensor:
    """``features`` where non-negative, else ``alpha * features`` (``tf.nn.leaky_relu``);
    floats; default name ``"LeakyRelu"``."""
    with name_scope(name, "LeakyRelu", [features]) as scope:
        x = convert_to_tensor(features, name="features")
        return make1(ops.LeakyRelu, [x], scope, "LeakyRelu", alpha=float(alpha))


# --------------------------------------------------------------------------------------------
# Convolution and pooling (TF's layouts: filters HWIO, data NHWC unless data_format says NC...)


def _channels_last(data_format: str | None, fn: str) -> bool:
    """Whether ``data_format`` (``N...C``, the default, or ``NC...``) puts channels last."""
    if data_format is None or (data_format.startswith("N") and data_format.endswith("C")):
        return True
    if data_format.startswith("NC"):
        return False
    raise ValueError(f"{fn}: data_format must be of the form N...C or NC..., got {data_format!r}")


def _per_dim(value: Any, n: int, channels_last: bool, what: str, fn: str) -> list[int] | None:
    """A TF window argument (an int, or a list of 1, ``n`` or ``n + 2`` ints, the batch and
    channel entries 1) as one int per spatial dim; ``None`` for the default."""
    if value is None:
        return None
    vals = list(static_ints(value, what, fn, allow_scalar=True))
    if len(vals) == 1:
        return vals * n
    if len(vals) == n:
        return vals
    if len(vals) == n + 2:
        outer = (vals[0], vals[-1]) if channels_last else (vals[0], vals[1])
        if outer != (1, 1):
            raise ValueError(f"{fn}: {what} must be 1 in the batch and channel dims, got {vals}")
        return vals[1:-1] if channels_last else vals[2:]
    raise ValueError(f"{fn}: {what} must have 1, {n} or {n + 2} entries, got {vals}")


def _padding_attrs(padding: Any, n: int, channels_last: bool, fn: str) -> dict[str, Any]:
    """TF's ``padding`` (``"SAME"``, ``"VALID"`` or explicit ``[[before, after], ...]`` for
    every dim, in the data's layout) as window attributes."""
    if isinstance(padding, str):
        mode = padding.upper()
        if mode not in ("SAME", "VALID"):
            raise ValueError(f"{fn}: padding must be 'SAME', 'VALID' or a list of pairs, got {padding!r}")
        return {"padding": "SAME_UPPER" if mode == "SAME" else "VALID"}
    pairs = [tuple(int(v) for v in p) for p in padding]
    if len(pairs) != n + 2 or any(len(p) != 2 for p in pairs):
        raise ValueError(f"{fn}: explicit padding must hold {n + 2} [before, after] pairs, got {padding!r}")
    outer = (pairs[0], pairs[-1]) if channels_last else (pairs[0], pairs[1])
    if outer != ((0, 0), (0, 0)):
        raise ValueError(f"{fn}: explicit padding must be 0 in the batch and channel dims, got {padding!r}")
    inner = pairs[1:-1] if channels_last else pairs[2:]
    return {"padding": "EXPLICIT", "pads": [v for p in inner for v in p]}


def _spatial_rank(x: Tensor, fn: str, n: int | None) -> int:
    rank = ir_type(x).rank
    if n is None:
        if rank is None:
            raise ValueError(f"{fn}: the rank of {x.name!r} must be known")
        n = rank - 2
    if rank is not None and rank != n + 2:
        raise ValueError(f"{fn}: {x.name!r} must have rank {n + 2}, got shape {format_shape(ir_type(x).shape)}")
    return n


def _conv(
    fn: str,
    default_name: str,
    n: int | None,
    input: Any,
    filters: Any,
    strides: Any,
    padding: Any,
    data_format: str | None,
    dilations: Any,
    name: str | None,
) -> Tensor:
    if filters is None or padding is None:
        raise ValueError(f"{fn}: filters and padding are required")
    last = _channels_last(data_format, fn)
    with name_scope(name, default_name, [input, filters]) as scope:
        x = convert_to_tensor(input, name="input")
        w = convert_to_tensor(filters, dtype=x.dtype.base_dtype, name="filters")
        k = _spatial_rank(x, fn, n)
        attrs: dict[str, Any] = {
            "data_format": "NHWC" if last else "NCHW",
            "filter_format": "HWIO",
            **_padding_attrs(padding, k, last, fn),
        }
        s, d = _per_dim(strides, k, last, "strides", fn), _per_dim(dilations, k, last, "dilations", fn)
        if s is not None:
            attrs["strides"] = s
        if d is not None:
            attrs["dilations"] = d
        return make1(ops.Conv, [x, w], scope, default_name, **attrs)


def conv2d(
    input: Any,
    filter: Any = None,
    strides: Any = None,
    padding: Any = None,
    use_cudnn_on_gpu: bool = True,
    data_format: str = "NHWC",
    dilations: Any = None,
    name: str | None = None,
    filters: Any = None,
) -> Tensor:
    """2-D convolution (``tf.nn.conv2d``): ``input`` NHWC (or NCHW), ``filter`` HWIO;
    ``strides``/``dilations`` an int or 1, 2 or 4 ints; ``padding`` ``"SAME"``, ``"VALID"``
    or explicit pairs; default name ``"Conv2D"``."""
    filters = deprecated_argument_lookup(filters, "filters", filter, "filter")
    return _conv("conv2d", "Conv2D", 2, input, filters, strides, padding, data_format, dilations, name)


def conv1d(
    value: Any = None,
    filters: Any = None,
    stride: Any = None,
    padding: Any = None,
    use_cudnn_on_gpu: Any = None,
    data_format: str | None = None,
    name: str | None = None,
    input: Any = None,
    dilations: Any = None,
) -> Tensor:
    """1-D convolution (``tf.nn.conv1d``): ``value`` NWC (or NCW), ``filters`` WIO; default
    name ``"conv1d"``."""
    value = deprecated_argument_lookup(input, "input", value, "value")
    return _conv("conv1d", "conv1d", 1, value, filters, stride, padding, data_format, dilations, name)


def conv3d(
    input: Any,
    filter: Any = None,
    strides: Any = None,
    padding: Any = None,
    data_format: str = "NDHWC",
    dilations: Any = None,
    name: str | None = None,
    filters: Any = None,
) -> Tensor:
    """3-D convolution (``tf.nn.conv3d``): ``input`` NDHWC (or NCDHW), ``filter`` DHWIO;
    default name ``"Conv3D"``."""
    filters = deprecated_argument_lookup(filters, "filters", filter, "filter")
    return _conv("conv3d", "Conv3D", 3, input, filters, strides, padding, data_format, dilations, name)


def convolution(
    input: Any,
    filter: Any = None,
    padding: Any = None,
    strides: Any = None,
    dilation_rate: Any = None,
    name: str | None = None,
    data_format: str | None = None,
    filters: Any = None,
    dilations: Any = None,
) -> Tensor:
    """N-D convolution, 1 to 3 spatial dims taken from ``input``'s rank (``tf.nn.convolution``);
    default name ``"convolution"``."""
    filters = deprecated_argument_lookup(filters, "filters", filter, "filter")
    dilations = deprecated_argument_lookup(dilations, "dilations", dilation_rate, "dilation_rate")
    return _conv("convolution", "convolution", None, input, filters, strides, padding, data_format, dilations, name)


def conv2d_transpose(
    value: Any = None,
    filter: Any = None,
    output_shape: Any = None,
    strides: Any = None,
    padding: str = "SAME",
    data_format: str = "NHWC",
    name: str | None = None,
    input: Any = None,
    filters: Any = None,
    dilations: Any = None,
) -> Tensor:
    """The transpose of ``conv2d`` (``tf.nn.conv2d_transpose``): ``filter`` HWIO as the
    forward convolution's (``[h, w, output channels, input channels]``), a static
    ``output_shape`` (the batch entry may be ``-1``/``None``), ``padding`` ``"SAME"`` or
    ``"VALID"`` as the forward convolution's; default name ``"conv2d_transpose"``."""
    value = deprecated_argument_lookup(input, "input", value, "value")
    filters = deprecated_argument_lookup(filters, "filters", filter, "filter")
    fn = "conv2d_transpose"
    if filters is None or output_shape is None or strides is None:
        raise ValueError(f"{fn}: filter, output_shape and strides are required")
    last = _channels_last(data_format, fn)
    with name_scope(name, "conv2d_transpose", [value, filters]) as scope:
        x = convert_to_tensor(value, name="value")
        w = convert_to_tensor(filters, dtype=x.dtype.base_dtype, name="filter")
        shape = [None if v is None or v == -1 else int(v) for v in (output_shape.as_list() if isinstance(output_shape, TensorShape) else list(output_shape))]
        if len(shape) != 4 or any(v is None for v in (shape[1:3] if last else shape[2:])):
            raise ValueError(f"{fn}: output_shape must hold 4 entries with static spatial sizes, got {output_shape!r}")
        st, dl = _per_dim(strides, 2, last, "strides", fn), _per_dim(dilations, 2, last, "dilations", fn) or [1, 1]
        sizes = ir_type(x).shape
        wshape = ir_type(w).shape
        if sizes is None or wshape is None or any(d is None for d in (sizes[1:3] if last else sizes[2:])) or None in wshape[:2]:
            raise ValueError(f"{fn}: the spatial sizes of value and filter must be static")
        mode = str(padding).upper()
        if mode not in ("SAME", "VALID"):
            raise ValueError(f"{fn}: padding must be 'SAME' or 'VALID', got {padding!r}")
        pads: list[int] = []
        extra: list[int] = []
        for i in range(2):
            size_in = (sizes[1 + i] if last else sizes[2 + i])
            out = shape[1 + i] if last else shape[2 + i]
            span = (wshape[i] - 1) * dl[i] + 1
            total = max((size_in - 1) * st[i] + span - out, 0) if mode == "SAME" else 0
            full = st[i] * (size_in - 1) + span - total
            pads += [total // 2, total - total // 2]
            extra.append(out - full)  # type: ignore[operator]
        if any(not 0 <= e < s for e, s in zip(extra, st)):
            raise ValueError(f"{fn}: output_shape {shape} does not fit value {format_shape(sizes)} with {mode} padding")
        attrs: dict[str, Any] = {
            "strides": st,
            "dilations": dl,
            "padding": "EXPLICIT",
            "pads": pads,
            "output_padding": extra,
            "data_format": "NHWC" if last else "NCHW",
            "filter_format": "HWIO",
        }
        return make1(ops.ConvTranspose, [x, w], scope, "conv2d_transpose", **attrs)


def _pool(
    op_class: type[Operation],
    fn: str,
    default_name: str,
    n: int | None,
    value: Any,
    ksize: Any,
    strides: Any,
    padding: Any,
    data_format: str | None,
    name: str | None,
) -> Tensor:
    if ksize is None or strides is None or padding is None:
        raise ValueError(f"{fn}: ksize, strides and padding are required")
    last = _channels_last(data_format, fn)
    with name_scope(name, default_name, [value]) as scope:
        x = convert_to_tensor(value, name="input")
        k = _spatial_rank(x, fn, n)
        attrs: dict[str, Any] = {
            "kernel_shape": _per_dim(ksize, k, last, "ksize", fn),
            "strides": _per_dim(strides, k, last, "strides", fn),
            "data_format": "NHWC" if last else "NCHW",
            **_padding_attrs(padding, k, last, fn),
        }
        return make1(op_class, [x], scope, default_name, **attrs)


def max_pool(
    value: Any,
    ksize: Any,
    strides: Any,
    padding: Any,
    data_format: str = "NHWC",
    name: str | None = None,
    input: Any = None,
) -> Tensor:
    """The maximum over each window (``tf.nn.max_pool``); the spatial rank is ``value``'s
    rank minus 2; ``ksize``/``strides`` an int or 1, n or n + 2 ints; default name
    ``"MaxPool"``."""
    value = deprecated_argument_lookup(input, "input", value, "value")
    return _pool(ops.MaxPool, "max_pool", "MaxPool", None, value, ksize, strides, padding, data_format, name)


def avg_pool(
    value: Any,
    ksize: Any,
    strides: Any,
    padding: Any,
    data_format: str = "NHWC",
    name: str | None = None,
    input: Any = None,
) -> Tensor:
    """The mean over each window, padding not counted (``tf.nn.avg_pool``); arguments as
    ``max_pool``; default name ``"AvgPool"``."""
    value = deprecated_argument_lookup(input, "input", value, "value")
    return _pool(ops.AvgPool, "avg_pool", "AvgPool", None, value, ksize, strides, padding, data_format, name)


def max_pool1d(input: Any, ksize: Any, strides: Any, padding: Any, data_format: str = "NWC", name: str | None = None) -> Tensor:
    """``max_pool`` over one spatial dim (``tf.nn.max_pool1d``); default name ``"MaxPool1d"``."""
    return _pool(ops.MaxPool, "max_pool1d", "MaxPool1d", 1, input, ksize, strides, padding, data_format, name)


def max_pool2d(input: Any, ksize: Any, strides: Any, padding: Any, data_format: str = "NHWC", name: str | None = None) -> Tensor:
    """``max_pool`` over two spatial dims (``tf.nn.max_pool2d``); default name ``"MaxPool2d"``."""
    return _pool(ops.MaxPool, "max_pool2d", "MaxPool2d", 2, input, ksize, strides, padding, data_format, name)


def max_pool3d(input: Any, ksize: Any, strides: Any, padding: Any, data_format: str = "NDHWC", name: str | None = None) -> Tensor:
    """``max_pool`` over three spatial dims (``tf.nn.max_pool3d``); default name ``"MaxPool3D"``."""
    return _pool(ops.MaxPool, "max_pool3d", "MaxPool3D", 3, input, ksize, strides, padding, data_format, name)


def avg_pool1d(input: Any, ksize: Any, strides: Any, padding: Any, data_format: str = "NWC", name: str | None = None) -> Tensor:
    """``avg_pool`` over one spatial dim (``tf.nn.avg_pool1d``); default name ``"AvgPool1D"``."""
    return _pool(ops.AvgPool, "avg_pool1d", "AvgPool1D", 1, input, ksize, strides, padding, data_format, name)


def avg_pool2d(input: Any, ksize: Any, strides: Any, padding: Any, data_format: str = "NHWC", name: str | None = None) -> Tensor:
    """``avg_pool`` over two spatial dims (``tf.nn.avg_pool2d``); default name ``"AvgPool2D"``."""
    return _pool(ops.AvgPool, "avg_pool2d", "AvgPool2D", 2, input, ksize, strides, padding, data_format, name)


def avg_pool3d(input: Any, ksize: Any, strides: Any, padding: Any, data_format: str = "NDHWC", name: str | None = None) -> Tensor:
    """``avg_pool`` over three spatial dims (``tf.nn.avg_pool3d``); default name ``"AvgPool3D"``."""
    return _pool(ops.AvgPool, "avg_pool3d", "AvgPool3D", 3, input, ksize, strides, padding, data_format, name)


# --------------------------------------------------------------------------------------------
# Normalization (built from math ops, as in TF)


def moments(
    x: Any, axes: Any, shift: Any = None, name: str | None = None, keep_dims: Any = None, keepdims: Any = None
) -> tuple[Tensor, Tensor]:
    """The mean and variance of ``x`` over ``axes`` (``tf.nn.moments``): the variance is the
    mean squared deviation from the (gradient-stopped) mean; ``keepdims`` keeps the reduced
    dims; ``shift`` is accepted and unused, as in TF 1.15. Default scope ``"moments"``."""
    keep = bool(deprecated_argument_lookup(keepdims, "keepdims", keep_dims, "keep_dims"))
    with name_scope(name, "moments", [x, axes]):
        y = convert_to_tensor(x, name="x")
        axes_list = list(static_ints(axes, "axes", "moments", allow_scalar=True))
        mean = reduce_mean(y, axes_list, keepdims=True, name="mean")
        variance = reduce_mean(square(subtract(y, stop_gradient(mean))), axes_list, keepdims=True, name="variance")
        if not keep:
            mean = squeeze(mean, axes_list)
            variance = squeeze(variance, axes_list)
        return mean, variance


def batch_normalization(
    x: Any, mean: Any, variance: Any, offset: Any, scale: Any, variance_epsilon: float, name: str | None = None
) -> Tensor:
    """``(x - mean) * scale / sqrt(variance + variance_epsilon) + offset``
    (``tf.nn.batch_normalization``), as TF computes it: ``x * inv + (offset - mean * inv)``
    with ``inv = scale * rsqrt(variance + variance_epsilon)``; ``offset`` and ``scale`` may
    be ``None``. The statistics broadcast against ``x``. Default scope ``"batchnorm"``."""
    with name_scope(name, "batchnorm", [x, mean, variance, scale, offset]):
        xt = convert_to_tensor(x, name="x")
        inv = rsqrt(add(variance, variance_epsilon))
        if scale is not None:
            inv = multiply(inv, scale)
        shift = subtract(offset, multiply(mean, inv)) if offset is not None else negative(multiply(mean, inv))
        return add(multiply(xt, inv), shift)


class TopKV2(NamedTuple):
    """``tf.nn.top_k``'s result: the values and their int32 indices."""

    values: Tensor
    indices: Tensor


def top_k(input: Any, k: Any = 1, sorted: bool = True, name: str | None = None) -> TopKV2:
    """The ``k`` largest entries along the last dim and their int32 indices
    (``tf.nn.top_k``): best first, equal entries in index order; default name ``"TopKV2"``."""
    with name_scope(name, "TopKV2", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        kk = static_int(k, "k", "top_k")
        out = make_op(ops.TopK, [x], name=scope, default_name="TopKV2", k=kk, axis=-1, sorted=bool(sorted), index_dtype=DType.int32)
        return TopKV2(*out.outputs)
