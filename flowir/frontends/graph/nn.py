"""``tf.nn``: activations and softmax of the TF1-style API.

Each function has the signature and default op name of its TensorFlow 1.15 namesake and
builds ``flowir.ir.ops.nn`` ops in the default graph (``sigmoid`` and ``tanh`` are the math
ops, as in TF).
"""

from __future__ import annotations

from typing import Any

from flowir.frontends.graph.array_ops import deprecated_argument_lookup, make1, static_axis
from flowir.frontends.graph.building import convert_to_tensor
from flowir.frontends.graph.graph import name_scope
from flowir.frontends.graph.math_ops import sigmoid, tanh
from flowir.frontends.graph.tensor import Tensor
from flowir.ir import ops
from flowir.ir.core import Operation

__all__ = ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "softplus"]


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
