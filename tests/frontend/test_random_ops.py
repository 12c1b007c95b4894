"""Random ops: shapes, dtypes, ranges, distributions, TF's seed rules, names, run-time
parameters."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import flowir as tf
from flowir.ir import ops
from flowir.ir.errors import DTypeError, OpAttributeError, UnsupportedOpError


@pytest.fixture(autouse=True)
def _fresh_graph():
    with tf.Graph().as_default():
        yield


def run(fetches: Any, feed_dict: dict | None = None) -> Any:
    with tf.Session() as sess:
        return sess.run(fetches, feed_dict)


def test_shapes_dtypes_and_names() -> None:
    u = tf.random_uniform([2, 3])
    n = tf.random_normal([4], dtype=tf.float64)
    t = tf.truncated_normal(np.array([5, 1]))
    i = tf.random_uniform([3], 0, 10, dtype=tf.int64)
    assert [x.op.name for x in (u, n, t, i)] == [
        "random_uniform",
        "random_normal",
        "truncated_normal",
        "random_uniform_1",
    ]
    assert [x.dtype for x in (u, n, t, i)] == [tf.float32, tf.float64, tf.float32, tf.int64]
    assert [x.shape.as_list() for x in (u, n, t, i)] == [[2, 3], [4], [5, 1], [3]]
    got = run([u, n, t, i])
    assert [g.shape for g in got] == [(2, 3), (4,), (5, 1), (3,)]
    assert [g.dtype for g in got] == [np.float32, np.float64, np.float32, np.int64]
    assert tf.random_normal([2], name="noise").name == "noise:0"


def test_uniform_ranges() -> None:
    f = tf.random_uniform([2000], minval=-2.0, maxval=3.0)
    i = tf.random_uniform([2000], minval=-3, maxval=4, dtype=tf.int32)
    fv, iv = run([f, i])
    assert fv.min() >= -2.0 and fv.max() < 3.0
    assert abs(fv.mean() - 0.5) < 0.15
    assert set(iv.tolist()) == set(range(-3, 4))


def test_normal_and_truncated_moments() -> None:
    n = tf.random_normal([5000], mean=3.0, stddev=2.0)
    t = tf.truncated_normal([5000], mean=-1.0, stddev=0.5)
    nv, tv = run([n, t])
    assert abs(nv.mean() - 3.0) < 0.15 and abs(nv.std() - 2.0) < 0.15
    assert np.all(np.abs(tv + 1.0) <= 2 * 0.5 + 1e-6)
    # A normal truncated at two standard deviations has std about 0.88 of the untruncated one.
    assert abs(tv.std() - 0.88 * 0.5) < 0.03


def test_each_run_draws_new_numbers() -> None:
    u = tf.random_uniform([4])
    with tf.Session() as sess:
        a, b = sess.run(u), sess.run(u)
        c, d = sess.run([u, u])
    assert not np.array_equal(a, b)
    assert np.array_equal(c, d)


def _draws(seed_graph: int | None, seed_op: int | None) -> list[np.ndarray]:
    with tf.Graph().as_default():
        if seed_graph is not None:
            tf.set_random_seed(seed_graph)
        u = tf.random_uniform([3], seed=seed_op)
        n = tf.random_normal([3])
        with tf.Session() as sess:
            return [*sess.run([u, n]), sess.run(u)]


def test_graph_seed_makes_runs_reproducible_across_sessions_and_graphs() -> None:
    first, second = _draws(7, None), _draws(7, None)
    for a, b in zip(first, second):
        assert np.array_equal(a, b)
    assert not np.array_equal(first[0], first[2])
    other = _draws(8, None)
    assert not np.array_equal(first[0], other[0])


def test_op_seed_alone_is_reproducible() -> None:
    a, b = _draws(None, 42), _draws(None, 42)
    assert np.array_equal(a[0], b[0])
    assert not np.array_equal(a[0], a[2])


def test_seeds_are_recorded_as_tf_computes_them() -> None:
    tf.set_random_seed(5)
    u = tf.random_uniform([2], seed=9)
    op = u.op.ir_op
    assert (op.seed, op.seed2) == (5, 9)
    assert isinstance(op, ops.RandomUniform)


def test_run_time_parameters() -> None:
    mean = tf.placeholder(tf.float32, [], name="mean")
    lo = tf.placeholder(tf.float32, [], name="lo")
    n = tf.random_normal([3000], mean=mean, stddev=0.5)
    u = tf.random_uniform([3000], minval=lo, maxval=lo + 1.0)
    assert n.op.name == "random_normal" and u.op.name == "random_uniform"
    assert n.shape.as_list() == [3000]
    nv, uv = run([n, u], {mean: 10.0, lo: -5.0})
    assert abs(nv.mean() - 10.0) < 0.1
    assert uv.min() >= -5.0 and uv.max() < -4.0
    folded = tf.random_normal([2], mean=tf.constant(1.0) * 2)
    assert isinstance(folded.op.ir_op, ops.RandomNormal) and folded.op.ir_op.mean == 2.0


def test_errors() -> None:
    with pytest.raises(ValueError, match="Must specify maxval for integer dtype"):
        tf.random_uniform([2], dtype=tf.int32)
    with pytest.raises(DTypeError):
        tf.random_normal([2], dtype=tf.int32)
    with pytest.raises(OpAttributeError):
        tf.random_uniform([2], 0, 2.5, dtype=tf.int32)
    with pytest.raises(TypeError):
        tf.random_normal([2], mean=tf.constant(1.0, tf.float64))
    with pytest.raises(TypeError, match="integer bounds"):
        tf.random_uniform([2], 0, tf.placeholder(tf.int32, []), dtype=tf.int32)
    with pytest.raises(UnsupportedOpError, match="run time"):
        tf.random_uniform(tf.placeholder(tf.int32, [2]))


def test_unseeded_ops_differ_between_sessions_seeded_ones_repeat() -> None:
    import flowir as tf

    g = tf.Graph()
    with g.as_default():
        x = tf.random_normal([4])
        with tf.Session() as s1:
            a = s1.run(x)
        with tf.Session() as s2:
            b = s2.run(x)
    assert (a != b).any()
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(5)
        y = tf.random_normal([4])
        with tf.Session() as s1:
            a, a2 = s1.run(y), s1.run(y)
        with tf.Session() as s2:
            b = s2.run(y)
    assert (a == b).all() and (a != a2).any()
