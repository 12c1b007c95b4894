"""``tf.nn``: activations, softmax, the cross-entropy losses, ``l2_loss``, ``dropout`` and
``bias_add`` of the TF1-style API.

Each function has the signature and default op name of its TensorFlow 1.15 namesake and
builds ``flowir.ir.ops.nn`` ops in the default graph (``sigmoid`` and ``tanh`` are the math
ops, as in TF; ``l2_loss``, ``dropout`` and ``bias_add`` are built from math ops).
"""

from __future__ import annotations

import numbers
from typing import Any

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
    static_axis,
    tensor_of,
)
from flowir.frontends.graph.building import convert_to_tensor, make_op
from flowir.frontends.graph.gradients import stop_gradient
from flowir.frontends.graph.graph import get_seed, name_scope
from flowir.frontends.graph.math_ops import sigmoid, tanh
from flowir.frontends.graph.random_ops import random_uniform
from flowir.frontends.graph.tensor import Tensor, TensorShape
from flowir.ir import ops
from flowir.ir.core import Operation
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

