"""Session.run: fetch structures, feeds, caching, state, default sessions and closing."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import flowir as tf
import flowir.ir.transforms as transforms


@pytest.fixture(autouse=True)
def graph():
    with tf.Graph().as_default() as g:
        yield g


@pytest.fixture
def sess(graph):
    with tf.Session(graph=graph) as s:
        yield s


@pytest.fixture
def compilations(sess, monkeypatch):
    """Counts the programs the session's backend compiles."""
    count = [0]
    backend = sess.backend
    real = type(backend).compile

    def counting(self, program):
        count[0] += 1
        return real(self, program)

    monkeypatch.setattr(type(backend), "compile", counting)
    return count


# -- fetches ---------------------------------------------------------------------------------


def test_fetch_structures(sess):
    a = tf.constant(1, name="a")
    b = tf.constant([2.0, 3.0], name="b")
    v = tf.Variable(4, name="v")
    sess.run(v.initializer)
    Pair = collections.namedtuple("Pair", "first second")
    got = sess.run({"x": (a, [b, "v:0"]), "y": Pair(v, v.initializer), "z": "a"})
    assert got["x"][0] == 1 and isinstance(got["x"], tuple)
    np.testing.assert_array_equal(got["x"][1][0], [2.0, 3.0])
    assert got["x"][1][1] == 4
    assert isinstance(got["y"], Pair) and got["y"].first == 4 and got["y"].second is None
    assert got["z"] is None
    assert sess.run([]) == []
    assert sess.run(()) == ()
    assert sess.run([a, a]) == [1, 1]
    assert sess.run("a:0") == 1
    ordered = collections.OrderedDict([("k", a)])
    assert sess.run(ordered) == ordered.__class__([("k", 1)])


def test_fetched_values_are_numpy(sess):
    s = sess.run(tf.constant(3))
    assert type(s) is np.int32
    assert type(sess.run(tf.constant(3.0))) is np.float32
    arr = sess.run(tf.constant([1, 2]))
    assert type(arr) is np.ndarray and arr.dtype == np.int32
    assert sess.run(tf.constant("ab")) == b"ab"
    strings = sess.run(tf.constant(["ab", "c"]))
    assert strings.dtype == object and strings.tolist() == [b"ab", b"c"]
    assert sess.run(tf.no_op()) is None


def test_fetch_errors(sess):
    tf.constant(1)
    with pytest.raises(TypeError, match="Fetch argument None has invalid type"):
        sess.run(None)
    with pytest.raises(TypeError, match="has invalid type"):
        sess.run(3)
    with pytest.raises(ValueError, match="cannot be interpreted as a Tensor.*'nope', does not exist"):
        sess.run("nope:0")
    with tf.Graph().as_default():
        foreign = tf.constant(1)
    with pytest.raises(ValueError, match="is not an element of this graph"):
        sess.run(foreign)


def test_empty_graph_and_closed_session():
    with tf.Graph().as_default() as g:
        with pytest.raises(RuntimeError, match="The Session graph is empty"):
            tf.Session(graph=g).run([])
        c = tf.constant(1)
        s = tf.Session()
        assert s.graph is g
        assert s.run(c) == 1
        s.close()
        with pytest.raises(RuntimeError, match="Attempted to use a closed Session"):
            s.run(c)


def test_fetched_state_is_a_copy_the_caller_owns(sess):
    v = tf.Variable([1.0, 2.0], name="v")
    sess.run(v.initializer)
    got = sess.run(v)
    got[0] = 100.0
    np.testing.assert_array_equal(sess.run(v), [1.0, 2.0])
    new = sess.run(v.assign_add([1.0, 1.0]))
    new[:] = 0.0
    np.testing.assert_array_equal(sess.run(v), [2.0, 3.0])
    view = sess.run(tf.reshape(v, [2, 1]))
    view[:] = -1.0
    np.testing.assert_array_equal(sess.run(v), [2.0, 3.0])


# -- feeds -----------------------------------------------------------------------------------


def test_feeds_by_tensor_and_name(sess):
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    y = x * 2.0
    np.testing.assert_array_equal(sess.run(y, {x: [[1, 2]]}), [[2.0, 4.0]])
    np.testing.assert_array_equal(sess.run(y, {"x:0": [[3, 4]]}), [[6.0, 8.0]])
    np.testing.assert_array_equal(sess.run(y, feed_dict={x: np.ones((3, 2), np.float32)}), np.full((3, 2), 2.0))
    assert sess.run(x, {x: [[5, 6]]}).tolist() == [[5.0, 6.0]]


def test_feeding_any_tensor_cuts_the_graph_there(sess):
    x = tf.placeholder(tf.float32, [2], name="x")
    hidden = x * 10.0
    out = hidden + 1.0
    np.testing.assert_array_equal(sess.run(out, {hidden: [1.0, 2.0]}), [2.0, 3.0])
    v = tf.Variable([1.0, 1.0], name="v")
    # The variable is never initialized: feeding its value tensor cuts the read away.
    np.testing.assert_array_equal(sess.run(v.value() * 3.0, {v.value(): [2.0, 3.0]}), [6.0, 9.0])


def test_unfed_placeholder_on_an_unused_branch_is_fine(sess):
    x = tf.placeholder(tf.float32, name="x")
    used = tf.constant(2.0) * 3.0
    _unused = x + 1.0
    assert sess.run(used) == 6.0


def test_feed_conversions(sess):
    f = tf.placeholder(tf.float32, [2], name="f")
    i = tf.placeholder(tf.int32, [2], name="i")
    s = tf.placeholder(tf.string, [None], name="s")
    assert sess.run(f, {f: [1, 2]}).dtype == np.float32
    assert sess.run(f, {f: np.array([1, 2], np.int64)}).tolist() == [1.0, 2.0]
    assert sess.run(f, {f: np.array([1.5, 2.5], np.float64)}).dtype == np.float32
    assert sess.run(f, {f: np.array([True, False])}).tolist() == [1.0, 0.0]
    assert sess.run(i, {i: np.array([1, 2], np.int64)}).dtype == np.int32
    assert sess.run(i, {i: [3, 4]}).tolist() == [3, 4]
    assert sess.run(s, {s: ["a", "bc"]}).tolist() == [b"a", b"bc"]
    u = tf.placeholder(tf.uint8, [2], name="u")
    assert sess.run(u, {u: [0, 255]}).tolist() == [0, 255]
    with pytest.raises(TypeError, match="do not fit"):
        sess.run(u, {u: [-1, 2]})
    with pytest.raises(TypeError, match="would change values"):
        sess.run(i, {i: [1.5, 2.5]})
    with pytest.raises(TypeError, match="do not fit"):
        sess.run(i, {i: [2**40, 2]})
    with pytest.raises(TypeError, match="would change values"):
        sess.run(f, {f: ["a", "b"]})
    with pytest.raises(TypeError, match="string Tensor"):
        sess.run(s, {s: [1, 2]})


def test_feed_shape_must_fit_before_anything_runs(sess):
    v = tf.Variable(0, name="v")
    sess.run(v.initializer)
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    with pytest.raises(ValueError) as info:
        sess.run([v.assign_add(1), x], {x: np.zeros((2, 3))})
    assert str(info.value) == "Cannot feed value of shape (2, 3) for Tensor 'x:0', which has shape '(?, 4)'"
    assert sess.run(v) == 0
    with pytest.raises(ValueError, match="Cannot feed value of shape \\(4,\\)"):
        sess.run(x, {x: np.zeros(4)})


def test_feed_key_and_value_errors(sess):
    x = tf.placeholder(tf.float32, [], name="x")
    v = tf.Variable(1.0, name="v")
    with pytest.raises(TypeError, match="The value of a feed cannot be a tf.Tensor"):
        sess.run(x, {x: tf.constant(1.0)})
    with pytest.raises(TypeError, match="Cannot interpret feed_dict key as Tensor.*'nope', does not exist"):
        sess.run(x, {"nope:0": 1.0})
    with pytest.raises(TypeError, match="variables are not fed"):
        sess.run(x, {v: 1.0, x: 2.0})
    with pytest.raises(ValueError, match="may not be fed"):
        sess.run(x, {"v:0": 1.0, x: 2.0})
    with tf.Graph().as_default():
        foreign = tf.placeholder(tf.float32)
    with pytest.raises(TypeError, match="not an element of this graph"):
        sess.run(x, {foreign: 1.0, x: 2.0})
    with pytest.raises(ValueError, match="fed twice"):
        sess.run(x, {x: 1.0, "x:0": 2.0})


# -- caching ---------------------------------------------------------------------------------


def test_second_run_does_no_graph_work(sess, compilations, monkeypatch):
    x = tf.placeholder(tf.float32, [None], name="x")
    b = tf.Variable(1.0, name="b")
    y = x * 2.0 + b
    sess.run(b.initializer)
    assert compilations[0] == 1
    extractions = [0]
    real = transforms.extract_subgraph

    def counting(*args, **kwargs):
        extractions[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(transforms, "extract_subgraph", counting)
    np.testing.assert_array_equal(sess.run(y, {x: [1.0, 2.0]}), [3.0, 5.0])
    assert (compilations[0], extractions[0]) == (2, 1)
    for k in range(5):
        np.testing.assert_array_equal(sess.run(y, {x: [float(k), 0.0]}), [2.0 * k + 1.0, 1.0])
    assert (compilations[0], extractions[0]) == (2, 1)
    sess.run(y, {x: [1.0, 2.0, 3.0]})  # a new feed shape compiles once more
    assert compilations[0] == 3
    sess.run(y, {"x:0": [1.0, 2.0]})  # a new feed key, too
    assert compilations[0] == 4
    sess.run([y], {x: [1.0, 2.0]})  # another structure around the same fetches does not
    assert compilations[0] == 4
    other = tf.Session(graph=sess.graph)
    other.run(b.initializer)
    before = compilations[0]
    other.run(y, {x: [1.0, 2.0]})
    assert compilations[0] == before  # sessions of one graph share compiled runs
    other.close()


# -- state -----------------------------------------------------------------------------------


def test_variables_keep_their_values_for_the_session_life(graph):
    v = tf.Variable(0, name="v")
    inc = v.assign_add(1)
    with tf.Session() as s1, tf.Session() as s2:
        s1.run(v.initializer)
        s2.run(v.initializer)
        for _ in range(3):
            s1.run(inc)
        assert s1.run(v) == 3
        assert s2.run(v) == 0


def test_a_failing_run_changes_no_state(sess):
    v = tf.Variable(1.0, name="v")
    w = tf.Variable(10.0, name="w")
    idx = tf.placeholder(tf.int32, [None], name="idx")
    picked = tf.gather(tf.constant([1.0, 2.0]), idx)
    sess.run(tf.global_variables_initializer())
    with pytest.raises(tf.errors.InvalidArgumentError, match="GatherV2"):
        sess.run([v.assign_add(1.0), w.assign(0.0), picked], {idx: [5]})
    assert sess.run([v, w]) == [1.0, 10.0]
    got = sess.run([v.assign_add(1.0), w.assign(0.0), picked], {idx: [1]})
    assert got[0] == 2.0 and got[1] == 0.0
    assert sess.run([v, w]) == [2.0, 0.0]


def test_one_run_commits_all_its_updates_together(sess):
    a = tf.Variable(1, name="a")
    b = tf.Variable(2, name="b")
    swap = tf.group(a.assign(b.value()), b.assign(a.value()))
    sess.run(tf.global_variables_initializer())
    sess.run(swap)
    assert sess.run([a, b]) == [2, 1]


# -- default sessions ------------------------------------------------------------------------


def test_with_session_makes_session_and_graph_default():
    g = tf.Graph()
    with g.as_default():
        c = tf.constant(5)
    with tf.Session(graph=g) as sess:
        assert tf.get_default_session() is sess
        assert tf.get_default_graph() is g
        assert c.eval() == 5
    assert tf.get_default_session() is None
    assert tf.get_default_graph() is not g


def test_as_default_does_not_close():
    c = tf.constant(2)
    sess = tf.Session()
    with sess.as_default():
        assert c.eval() == 2
    assert sess.run(c) == 2
    sess.close()


def test_interactive_session():
    c = tf.constant(3)
    sess = tf.InteractiveSession()
    try:
        assert tf.get_default_session() is sess
        assert c.eval() == 3
    finally:
        sess.close()
    assert tf.get_default_session() is None
    with pytest.raises(ValueError, match="No default session"):
        c.eval()


def test_eval_in_a_session_of_another_graph_fails():
    c = tf.constant(1)
    with tf.Graph().as_default() as other:
        tf.constant(2)
    with tf.Session(graph=other) as sess:
        with pytest.raises(ValueError, match="graph is different"):
            c.eval(session=sess)
        with pytest.raises(ValueError, match="graph is different"):
            c.eval()


def test_session_arguments():
    tf.constant(1)
    with pytest.raises(ValueError, match="unknown backend 'nope'"):
        tf.Session(backend="nope")
    with pytest.raises(tf.errors.UnimplementedError, match="only in-process sessions"):
        tf.Session("grpc://localhost:2222")
    with pytest.raises(TypeError, match="graph must be a tf.Graph"):
        tf.Session(graph="g")
    with tf.Session(backend="numpy", config=object()) as sess:
        assert sess.backend.name == "numpy"
        assert sess.sess_str == ""
        assert '"flowir.constant"' in str(sess.graph_def)


def test_make_callable(sess):
    x = tf.placeholder(tf.float32, [], name="x")
    y = x * 3.0
    triple = sess.make_callable(y, [x])
    assert triple(2.0) == 6.0
    assert sess.make_callable([y, tf.constant(1)], ["x:0"])(1.0) == [3.0, 1]
    with pytest.raises(TypeError, match="takes 1 feed values"):
        triple()


def test_random_draws_differ_per_run_and_repeat_per_seed(sess):
    r = tf.random_uniform([3], seed=7)
    first, second = sess.run(r), sess.run(r)
    assert not np.array_equal(first, second)
    with tf.Session(graph=sess.graph) as again:
        np.testing.assert_array_equal(again.run(r), first)


def test_interactive_sessions_closed_out_of_order():
    c = tf.constant(1)
    first = tf.InteractiveSession()
    second = tf.InteractiveSession()
    assert tf.get_default_session() is second
    first.close()
    assert tf.get_default_session() is second
    assert c.eval() == 1
    second.close()
    assert tf.get_default_session() is None
