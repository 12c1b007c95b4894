"""symbolic_dims: which wildcard dims the type rules force to be equal."""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

import flowir as tf
from flowir.passes.symbolic_dims import Sym, symbolic_dims
from flowir.testing import generated_graphs


def _dims(*tensors: tf.Tensor):
    g = tensors[0].graph
    return symbolic_dims(g.ir_graph, [t.value for t in tensors])


def test_broadcasting_equates_batch_dims_and_keeps_static_ones() -> None:
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        y = tf.placeholder(tf.float32, [None, 3])
        z = x * y
        d = _dims(z)
    assert d.shape(x.value) == d.shape(y.value) == d.shape(z.value)
    assert type(d.shape(x.value)[0]) is Sym and d.shape(x.value)[1] == 3


def test_matmul_contraction_equates_inner_dims_only() -> None:
    with tf.Graph().as_default():
        a = tf.placeholder(tf.float32, [None, None])
        b = tf.placeholder(tf.float32, [None, None])
        c = tf.matmul(a, b)
        d = _dims(c)
    (m, k1), (k2, n) = d.shape(a.value), d.shape(b.value)
    assert k1 == k2
    assert len({m, k1, n}) == 3
    assert d.shape(c.value) == (m, n)


def test_a_wildcard_meeting_a_static_dim_is_bound_to_it() -> None:
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, None])
        y = x + tf.ones([2, 5])
        d = _dims(y)
    assert d.shape(x.value) == (2, 5)


def test_exact_shape_keeps_only_sizes_no_other_run_can_have() -> None:
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, None])
        y = x + tf.ones([2, 5])  # x may be [1, 5], [2, 1], [1, 1] as well
        logits = tf.placeholder(tf.float32, [None])
        loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones([1]), logits=logits)
        d = _dims(y, loss)
    assert d.shape(x.value) == (2, 5)
    assert all(type(s) is Sym for s in d.exact_shape(x.value))
    assert d.exact_shape(logits.value) == d.shape(logits.value) == (1,)
    assert d.exact_shape(loss.value) == (1,)


def test_known_shapes_seed_the_inputs() -> None:
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        y = tf.placeholder(tf.float32, [None, None])
        z = tf.concat([x, y], 0)
        a, b = Sym(0), Sym(1)
        d = symbolic_dims(x.graph.ir_graph, [z.value], known={x.value: (a, 3), y.value: (a, b)})
    assert d.shape(x.value)[0] == d.shape(y.value)[0]
    assert d.shape(y.value)[1] == 3  # the concat binds it


def test_derived_dims_get_fresh_symbols() -> None:
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 4])
        y = tf.placeholder(tf.float32, [None, 4])
        c = tf.concat([x, y], 0)
        d = _dims(c)
    sx, sy, sc = d.shape(x.value)[0], d.shape(y.value)[0], d.shape(c.value)[0]
    assert len({sx, sy, sc}) == 3
    assert d.symbols([x.value, y.value]) == [sx, sy]


def test_reshape_keeps_the_batch_symbol_through_minus_one() -> None:
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 28, 28])
        flat = tf.reshape(x, [-1, 784])
        labels = tf.placeholder(tf.float32, [None, 10])
        logits = tf.matmul(flat, tf.ones([784, 10]))
        loss = tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits)
        d = _dims(loss)
    assert d.shape(x.value)[0] == d.shape(labels.value)[0] == d.shape(loss.value)[0]
    assert d.unresolved == []


ELEMENT_COUNT_OPS = frozenset({"array.reshape", "grad.reshape_like"})


@settings(max_examples=60, deadline=None)
@given(case=generated_graphs(max_ops=10), data=st.data())
def test_equalities_hold_in_every_valid_run(case: Any, data: st.DataObject) -> None:
    """On random graphs, dims the analysis equates (or binds to a size) have that size in
    every run the generator's ground-truth witnesses allow: the equalities are necessary.
    Not so for ops relating element counts (a reshape can take ``[2, 1, 2]`` or ``[1, 2, 2]``),
    where unification picks one sufficient choice; graphs with them are left out."""
    assume(not any(op.name in ELEMENT_COUNT_OPS for op in case.graph.ops))
    feeds = data.draw(case.feeds())
    dims = symbolic_dims(case.graph)
    sizes: dict[Sym, int] = {}
    for arg in case.graph.inputs:
        shape = dims.exact_shape(arg)
        actual = feeds.arrays[arg.name].shape
        if shape is None:
            continue
        assert len(shape) == len(actual)
        for d, n in zip(shape, actual):
            if type(d) is Sym:
                assert sizes.setdefault(d, n) == n, f"{d} equated dims of sizes {sizes[d]} and {n}"
            else:
                assert d == n
