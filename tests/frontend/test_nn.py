"""``tf.nn``: activations and softmax against numpy, names, dtype rules, the namespace."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import flowir as tf
from flowir.frontends.graph import nn as nn_module
from flowir.ir.dtypes import DType
from flowir.ir.errors import DTypeError, ShapeError
from flowir.ir.types import TensorType
from flowir.testing import strategies as fst
from flowir.testing.checks import assert_array_matches


@pytest.fixture(autouse=True)
def _fresh_graph():
    with tf.Graph().as_default():
        yield


def run(fetches: Any, feed_dict: dict | None = None) -> Any:
    # These tests pin the ops' semantics against numpy formulas, subnormals included: they run
    # on the reference backend (the jax backend, which flushes subnormals to zero as TF's
    # kernels do, is checked against the reference in tests/backends/test_jax*.py).
    with tf.Session(backend="numpy") as sess:
        return sess.run(fetches, feed_dict)


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    w = x.astype(np.float64)
    e = np.exp(w - w.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    return np.log(_softmax(x, axis))


ELEMENTWISE = [
    (tf.nn.relu, lambda x: np.maximum(x, 0), (DType.float32, DType.float64, DType.int32)),
    (tf.nn.sigmoid, lambda x: 1 / (1 + np.exp(-x.astype(np.float64))), (DType.float32, DType.float64)),
    (tf.nn.tanh, np.tanh, (DType.float32, DType.float64)),
    (tf.nn.softplus, lambda x: np.log1p(np.exp(x.astype(np.float64))), (DType.float32, DType.float64)),
]


@pytest.mark.parametrize(("fn", "ref", "dts"), ELEMENTWISE, ids=lambda v: getattr(v, "__name__", ""))
@given(data=st.data())
def test_elementwise_matches_numpy(fn, ref, dts, data) -> None:
    dt = data.draw(st.sampled_from(dts))
    shape = data.draw(fst.shapes(max_rank=3, max_side=4))
    x_np = data.draw(fst.arrays_for(TensorType(dt, shape)))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.as_dtype(dt), shape)
        y = fn(x)
        assert y.shape.as_list() == list(shape) and y.dtype == tf.as_dtype(dt)
        got = run(y, {x: x_np})
    assert_array_matches(got, np.asarray(ref(x_np)).astype(x_np.dtype))


@pytest.mark.parametrize(("fn", "ref"), [(tf.nn.softmax, _softmax), (tf.nn.log_softmax, _log_softmax)])
@given(data=st.data())
def test_softmax_family_matches_numpy(fn, ref, data) -> None:
    shape = data.draw(fst.shapes(min_rank=1, max_rank=3, max_side=4))
    x_np = data.draw(fst.arrays_for(TensorType(DType.float32, shape)))
    rank = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-rank, rank - 1)))
    spelling = data.draw(st.sampled_from(["axis", "dim"]))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape)
        y = fn(x, **{spelling: axis})
        assert y.shape.as_list() == list(shape)
        got = run(y, {x: x_np})
    want = ref(x_np, -1 if axis is None else axis).astype(np.float32)
    assert_array_matches(got, want)


def test_softmax_is_stable_for_large_logits() -> None:
    x = tf.constant([[1000.0, 0.0, -1000.0]])
    got = run([tf.nn.softmax(x), tf.nn.log_softmax(x), tf.nn.softplus(x)])
    assert_array_matches(got[0], np.float32([[1, 0, 0]]))
    assert_array_matches(got[1], np.float32([[0, -1000, -2000]]))
    assert_array_matches(got[2], np.float32([[1000, np.log(2), 0]]))


def test_names() -> None:
    x = tf.placeholder(tf.float32, [2, 3])
    assert [
        f(x).op.name for f in (tf.nn.relu, tf.nn.sigmoid, tf.nn.tanh, tf.nn.softmax, tf.nn.log_softmax, tf.nn.softplus)
    ] == [
        "Relu",
        "Sigmoid",
        "Tanh",
        "Softmax",
        "LogSoftmax",
        "Softplus",
    ]
    assert tf.nn.relu(x).op.name == "Relu_1"
    assert tf.nn.softmax(x, name="probs").name == "probs:0"


def test_conversions_and_errors() -> None:
    assert run(tf.nn.relu([1.0, -1.0])).tolist() == [1.0, 0.0]
    assert tf.nn.relu(tf.constant([1, -1])).dtype == tf.int32
    with pytest.raises(DTypeError):
        tf.nn.softmax(tf.constant([1, 2]))
    with pytest.raises(DTypeError):
        tf.nn.softplus(tf.constant([1, 2]))
    with pytest.raises(DTypeError):
        tf.nn.sigmoid(tf.constant([1, 2]))
    with pytest.raises(ShapeError):
        tf.nn.softmax(tf.constant([1.0, 2.0]), axis=1)
    with pytest.raises(ValueError, match="Cannot specify both 'axis' and 'dim'"):
        tf.nn.softmax(tf.constant([1.0]), axis=0, dim=0)


def test_namespace() -> None:
    assert set(nn_module.__all__) == {
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
        "elu",
        "selu",
        "gelu",
        "leaky_relu",
        "conv1d",
        "conv2d",
        "conv3d",
        "convolution",
        "conv2d_transpose",
        "avg_pool",
        "avg_pool1d",
        "avg_pool2d",
        "avg_pool3d",
        "max_pool",
        "max_pool1d",
        "max_pool2d",
        "max_pool3d",
        "moments",
        "batch_normalization",
        "top_k",
    }
    assert tf.nn is nn_module
    assert tf.nn.sigmoid is tf.sigmoid and tf.nn.tanh is tf.tanh
