"""flowir.testing's user toolkit: feeds_for and check_shapes catch planted shape bugs."""

from __future__ import annotations

import doctest
import importlib
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings

import flowir as tf
from flowir.frontends.graph.building import make_op
from flowir.ir import PURE, Operation, operand, register_op
from flowir.ir.core import Value
from flowir.ir.dtypes import DType
from flowir.ir.errors import ShapeError
from flowir.ir.ops._base import tensor as as_tensor
from flowir.ir.reference import impl_rule
from flowir.ir.types import TensorType, Type
from flowir.passes.symbolic_dims import Sym, symbolic_dims
from flowir.testing import ShapeCheckError, check_shapes, feeds_for, matmul_shapes

# -- test-only ops with planted bugs ------------------------------------------------------------


@register_op
class Pairs(Operation):
    """Planted wrong type rule: claims ``x``'s shape, the kernel gives ``[n, n]`` (x @ x.T)."""

    name = "test_shapecheck.pairs"
    traits = PURE
    x = operand()

    def infer_type(self, x: Type) -> Type:
        return as_tensor(x, "x")


@impl_rule(Pairs)
def _pairs(op: Operation, x: np.ndarray) -> tuple[np.ndarray, ...]:
    return (x @ x.T,)


@register_op
class SqueezeOnes(Operation):
    """Planted kernel bug: drops every dim of size 1 (the rule keeps the shape)."""

    name = "test_shapecheck.squeeze_ones"
    traits = PURE
    x = operand()

    def infer_type(self, x: Type) -> Type:
        return as_tensor(x, "x")


@impl_rule(SqueezeOnes)
def _squeeze_ones(op: Operation, x: np.ndarray) -> tuple[np.ndarray, ...]:
    return (np.squeeze(x) if 1 in x.shape else x.copy(),)


@register_op
class ClampFive(Operation):
    """Planted backend disagreement: numpy clamps at 5, the jax lowering at 6."""

    name = "test_shapecheck.clamp_five"
    traits = PURE
    x = operand()

    def infer_type(self, x: Type) -> Type:
        return as_tensor(x, "x")


@impl_rule(ClampFive)
def _clamp_five(op: Operation, x: np.ndarray) -> tuple[np.ndarray, ...]:
    return (np.minimum(x, x.dtype.type(5)),)


@register_op
class NonEmpty(Operation):
    """A type rule that rejects an empty leading dim."""

    name = "test_shapecheck.nonempty"
    traits = PURE
    x = operand()

    def infer_type(self, x: Type) -> Type:
        t = as_tensor(x, "x")
        if t.shape and t.shape[0] == 0:
            raise ShapeError("x must not be empty")
        return t


@impl_rule(NonEmpty)
def _nonempty(op: Operation, x: np.ndarray) -> tuple[np.ndarray, ...]:
    return (x.copy(),)


def _register_jax_rules() -> bool:
    try:
        from flowir.backends.jax.lowering import LOWERING_RULES
    except ImportError:
        return False
    LOWERING_RULES.setdefault(ClampFive, lambda ctx, op, x: (x.clip(None, 6),))
    LOWERING_RULES.setdefault(Pairs, lambda ctx, op, x: (x @ x.T,))
    return True


def _backends_available() -> list[str]:
    from flowir import backends

    return backends.available()


# -- feeds_for ---------------------------------------------------------------------------------


def test_feeds_for_draws_one_size_for_dims_the_graph_equates() -> None:
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 5], name="x")
        labels = tf.placeholder(tf.float32, [None, 3], name="labels")
        other = tf.placeholder(tf.float32, [None, 2], name="other")
        logits = tf.matmul(x, tf.ones([5, 3]))
        loss = tf.reduce_sum(tf.square(logits - labels)) + tf.reduce_sum(other)
    seen: set[tuple[int, int]] = set()

    @settings(max_examples=60, deadline=None, database=None)
    @given(feed=feeds_for(loss, max_side=4))
    def check(feed: dict) -> None:
        assert set(feed) == {x, labels, other}
        assert feed[x].shape[0] == feed[labels].shape[0]
        assert feed[x].shape[1:] == (5,) and feed[labels].shape[1:] == (3,)
        seen.add((feed[x].shape[0], feed[other].shape[0]))

    check()
    batch_sizes = {b for b, _ in seen}
    assert {0, 1} <= batch_sizes, "edge sizes 0 and 1 are drawn"
    assert any(b != o for b, o in seen), "unrelated wildcard dims vary independently"


def test_feeds_for_keeps_index_feeds_in_range() -> None:
    g = tf.Graph()
    with g.as_default():
        table = tf.placeholder(tf.float32, [None, 3], name="table")
        idx = tf.placeholder(tf.int64, [None], name="idx")
        logits = tf.placeholder(tf.float32, [None, 7], name="logits")
        labels = tf.placeholder(tf.int32, [None], name="labels")
        rows = tf.gather(table, idx)
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)

    @settings(max_examples=40, deadline=None, database=None)
    @given(feed=feeds_for([rows, loss]))
    def check(feed: dict) -> None:
        n = feed[table].shape[0]
        assert ((feed[idx] >= 0) & (feed[idx] < max(n, 1))).all()
        assert ((feed[labels] >= 0) & (feed[labels] < 7)).all()
        assert feed[labels].shape[0] == feed[logits].shape[0]

    check()


def test_feeds_for_skips_zero_where_the_rules_reject_it() -> None:
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 4], name="x")
        other = tf.placeholder(tf.float32, [None], name="other")
        y = make_op(NonEmpty, [x], name="nonempty", default_name="nonempty").outputs[0]
        z = tf.reduce_sum(y) + tf.reduce_sum(other)
    sizes: set[int] = set()
    other_sizes: set[int] = set()

    @settings(max_examples=60, deadline=None, database=None)
    @given(feed=feeds_for(z))
    def check(feed: dict) -> None:
        sizes.add(feed[x].shape[0])
        other_sizes.add(feed[other].shape[0])

    check()
    assert min(sizes) == 1
    assert 0 in other_sizes


def test_symbolic_dims_relates_batch_dims_through_the_loss() -> None:
    g = tf.Graph()
    with g.as_default():
        model = _mnist_like()
    dims = symbolic_dims(g.ir_graph, [model["loss"].value])
    x_shape = dims.shape(model["x"].value)
    labels_shape = dims.shape(model["labels"].value)
    assert type(x_shape[0]) is Sym and x_shape[0] == labels_shape[0]
    assert x_shape[1:] == (12,)
    assert dims.unresolved == []


# -- check_shapes --------------------------------------------------------------------------------


def _mnist_like() -> dict:
    x = tf.placeholder(tf.float32, [None, 12], name="x")
    labels = tf.placeholder(tf.float32, [None, 4], name="labels")
    w1 = tf.Variable(tf.truncated_normal([12, 8], stddev=0.1), name="w1")
    w2 = tf.Variable(tf.truncated_normal([8, 4], stddev=0.1), name="w2")
    logits = tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2, name="logits")
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits), name="loss")
    return {"x": x, "labels": labels, "logits": logits, "loss": loss}


def test_check_shapes_passes_on_a_correct_model() -> None:
    g = tf.Graph()
    with g.as_default():
        m = _mnist_like()
        report = check_shapes([m["logits"], m["loss"]], max_examples=15)
    assert report.examples == 15
    assert "numpy" in report.backends


def test_planted_wrong_shape_rule_fails_with_a_shrunk_feed() -> None:
    _register_jax_rules()
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        y = make_op(Pairs, [x], name="pairs", default_name="pairs").outputs[0]
    with pytest.raises(ShapeCheckError) as info:
        check_shapes(y, backends=("numpy",), max_examples=50)
    msg = str(info.value)
    # The smallest counterexample: batch 0 gives (0, 0), which does not fit (?, 3).
    assert "'pairs:0'" in msg and "tensor<?x3xf32>" in msg
    assert "x:0 (0, 3) float32" in msg
    assert "'numpy'" in msg


def test_planted_kernel_dropping_a_dim_fails_at_the_size_that_triggers_it() -> None:
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 4], name="x")
        y = make_op(SqueezeOnes, [x], name="squeezed", default_name="squeezed").outputs[0]
    with pytest.raises(ShapeCheckError) as info:
        check_shapes(y, backends=("numpy",), max_examples=100)
    msg = str(info.value)
    # Only batch 1 triggers the bug: hypothesis must have found and kept exactly it.
    assert "x:0 (1, 4) float32" in msg
    assert "'squeezed:0'" in msg


@pytest.mark.skipif("jax" not in _backends_available(), reason="jax not installed")
def test_planted_backend_disagreement_is_reported_with_both_backends() -> None:
    assert _register_jax_rules()
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None], name="x")
        y = make_op(ClampFive, [x], name="clamped", default_name="clamped").outputs[0]
    with pytest.raises(ShapeCheckError) as info:
        check_shapes(y, backends=("numpy", "jax"), max_examples=200)
    msg = str(info.value)
    assert "backend 'jax' disagrees with 'numpy' on 'clamped:0'" in msg
    # Shrunk to one element above 5.
    assert "x:0 (1,) float32" in msg


def test_check_shapes_with_one_fixed_feed_and_variables_from_a_session() -> None:
    g = tf.Graph()
    with g.as_default():
        m = _mnist_like()
        with tf.Session(backend="numpy") as sess:
            sess.run(tf.global_variables_initializer())
            feed = {m["x"]: np.ones((2, 12), np.float32), m["labels"]: np.eye(4, dtype=np.float32)[:2]}
            report = check_shapes(m["logits"], feed, session=sess, backends=("numpy",))
    assert report.examples == 1


def test_check_shapes_rejects_an_unknown_backend() -> None:
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None], name="x")
        with pytest.raises(ValueError, match="backend 'tpu'"):
            check_shapes(x * 2.0, backends=("tpu",))


@settings(max_examples=50, deadline=None)
@given(m=matmul_shapes())
def test_matmul_shapes_fit_the_matmul_type_rule(m: Any) -> None:
    from flowir.ir.ops.math import MatMul

    a = Value(TensorType(DType.float32, m.a_shape))
    b = Value(TensorType(DType.float32, m.b_shape))
    result = MatMul.create(a, b, loc=None).result.type
    assert np.matmul(np.zeros(m.concrete_a), np.zeros(m.concrete_b)).shape == m.concrete_result
    assert result.is_compatible_with(TensorType(DType.float32, m.concrete_result))


@pytest.mark.parametrize(
    "name",
    ["flowir.passes.symbolic_dims", "flowir.testing.feeds", "flowir.testing.shapecheck", "flowir.frontends.graph.building"],
)
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
