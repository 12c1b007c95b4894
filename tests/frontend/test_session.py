"""Session.run: fetch structures, feeds, caching, state, default sessions and closing."""

from __future__ import annotations

import collections
import logging
import warnings

import numpy as np
import pytest

import flowir as tf
import flowir.ir.transforms as transforms
from flowir.frontends.graph.session import FetchSignature


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


# -- options, compile counts and batch buckets ----------------------------------------------


def test_config_proto_fields_and_session_config():
    config = tf.ConfigProto(allow_soft_placement=True, device_count={"GPU": 0}, intra_op_parallelism_threads=2)
    config.gpu_options.allow_growth = True
    config.inter_op_parallelism_threads = 3
    config.operation_timeout_in_ms = 5000
    assert not tf.ConfigProto().allow_soft_placement  # TF's proto default
    with pytest.raises(ValueError, match='has no "allow_growths" field'):
        config.gpu_options.allow_growths = True
    with pytest.raises(TypeError):
        tf.ConfigProto(no_such_field=1)
    with pytest.raises(ValueError, match="device_count"):
        tf.ConfigProto(device_count={"GPU": -1})
    with tf.Session(config=config) as sess:
        assert sess.config == config and sess.config is not config  # the session keeps a copy
        assert sess.config.gpu_options.allow_growth and sess.config.operation_timeout_in_ms == 5000
        assert sess.run(tf.constant(2.0) * 3.0, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
                        run_metadata=tf.RunMetadata()) == 6.0
    assert tf.Session().config.allow_soft_placement  # flowir's default without a config
    assert not tf.Session(config={"allow_soft_placement": False}).config.allow_soft_placement
    assert tf.Session(config={"gpu_options": {"allow_growth": True}}).config.gpu_options.allow_growth
    with pytest.raises(ValueError, match="Session config"):
        tf.Session(config={"allow_soft_placment": True})
    merged = tf.ConfigProto(log_device_placement=True)
    merged.MergeFrom(tf.ConfigProto(device_count={"CPU": 1}))
    assert merged.log_device_placement and merged.device_count == {"CPU": 1}


def test_a_foreign_config_object_is_read_by_field_names():
    class Gpu:
        allow_growth = True

    class Foreign:
        allow_soft_placement = False
        log_device_placement = True
        device_count = {"GPU": 0}
        gpu_options = Gpu()

    config = tf.Session(config=Foreign()).config
    assert isinstance(config, tf.ConfigProto)
    assert (config.allow_soft_placement, config.log_device_placement, config.device_count) == (False, True, {"GPU": 0})
    assert config.gpu_options.allow_growth


def test_compile_counts_per_fetch_signature_and_an_info_log_per_compile(sess, caplog):
    x = tf.placeholder(tf.float32, [None], name="x")
    y = x * 2.0
    z = x + 1.0
    with caplog.at_level(logging.INFO, logger="flowir.session"):
        sess.run(y, {x: [1.0]})
        sess.run(y, {x: [2.0]})  # cached: no compile
        sess.run("mul:0", {"x:0": [1.0, 2.0]})  # same signature, new shape
        sess.run([y, z], {x: [1.0]})
    sig = FetchSignature(("mul:0",), ("x:0",))
    assert sess.compile_counts == {sig: 2, FetchSignature(("mul:0", "add:0"), ("x:0",)): 1}
    logged = [r.getMessage() for r in caplog.records if r.name == "flowir.session"]
    assert len(logged) == 3
    assert "fetches [mul:0] for feed shapes {x:0: [2]} (compilation 2 of these fetches" in logged[1]
    assert "batch_buckets" in logged[1]  # a new batch size recompiled: the log says what helps
    sess.compile_counts.clear()  # a copy
    assert sess.compile_counts[sig] == 2
    with tf.Session(graph=sess.graph) as other:
        other.run(y, {x: [3.0]})  # compiled by the first session: reused, not counted
        assert other.compile_counts == {}


def test_log_device_placement_logs_where_a_run_runs(caplog):
    y = tf.constant([1.0]) * 2.0
    with tf.Session(config=tf.ConfigProto(log_device_placement=True)) as sess:
        with caplog.at_level(logging.INFO, logger="flowir.session"):
            sess.run(y)
    assert any(" run on " in r.getMessage() for r in caplog.records if r.name == "flowir.session")


def _fed_compiles(sess):
    """The compilations of ``sess`` for fetch signatures with feeds."""
    return sum(n for sig, n in sess.compile_counts.items() if sig.feeds)


def _classifier():
    """A batch-rowwise graph: logits, probabilities and predicted classes of a linear model."""
    x = tf.placeholder(tf.float32, [None, 5], name="x")
    w = tf.Variable(np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32), name="w")
    b = tf.Variable(np.float32([0.5, -1.0, 0.25]), name="b")
    logits = tf.matmul(x, w) + b
    return x, [logits, tf.nn.softmax(logits), tf.argmax(logits, 1), tf.reduce_sum(logits * logits, axis=1), w], [w, b]


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_batch_buckets_pad_to_powers_of_two_and_slice_results_back(backend):
    if backend == "jax":
        pytest.importorskip("jax")
    sessions = []
    for buckets in (None, True):  # one graph each: sessions on one graph share compiled runs
        with tf.Graph().as_default() as g:
            x, fetches, variables = _classifier()
            sess = tf.Session(graph=g, backend=backend, batch_buckets=buckets)
            sess.run(tf.variables_initializer(variables))
            sessions.append((sess, x, fetches))
    rng = np.random.default_rng(1)
    sizes = [1, 3, 5, 2, 7, 8, 13, 16, 9, 4]
    for n in sizes:
        xv = rng.normal(size=(n, 5)).astype(np.float32)
        (exact, x1, f1), (padded, x2, f2) = sessions
        want, got = exact.run(f1, {x1: xv}), padded.run(f2, {x2: xv})
        for w_, g_ in zip(want, got):
            assert g_.shape == w_.shape and g_.dtype == w_.dtype
            np.testing.assert_allclose(g_, w_, rtol=1e-6, atol=1e-6)
    assert _fed_compiles(sessions[0][0]) == len(set(sizes))
    assert _fed_compiles(sessions[1][0]) == len({1, 4, 8, 2, 16})  # the buckets used


def test_batch_buckets_given_as_sizes():
    x, fetches, variables = _classifier()
    with tf.Session(backend="numpy", batch_buckets=[4, 10]) as sess:
        sess.run(tf.variables_initializer(variables))
        for n in (1, 2, 3, 4, 6, 10, 11, 12):
            xv = np.ones((n, 5), np.float32) * n
            assert sess.run(fetches[0], {x: xv}).shape == (n, 3)
        # 1-4 share 4, 6 and 10 share 10; 11 and 12 are above the largest bucket: run exactly.
        assert _fed_compiles(sess) == 4
    with pytest.raises(ValueError, match="batch_buckets"):
        tf.Session(batch_buckets=[0, 4])
    with pytest.raises(ValueError, match="batch_buckets"):
        tf.Session(batch_buckets=[])


def test_padding_repeats_real_rows_so_run_time_checks_see_no_new_values():
    x = tf.placeholder(tf.int32, [None], name="x")
    y = tf.constant(100) // x  # integer division by zero is a run-time error
    with tf.Session(backend="numpy", batch_buckets=True) as sess:
        np.testing.assert_array_equal(sess.run(y, {x: [1, 2, 3]}), [100, 50, 33])


def test_padding_that_would_change_results_is_not_used(recwarn):
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    mean = tf.reduce_mean(x)
    total = tf.Variable(0.0, name="total")
    accumulate = tf.assign_add(total, tf.reduce_sum(x))
    with tf.Session(backend="numpy", batch_buckets=True) as sess:
        sess.run(total.initializer)
        with pytest.warns(RuntimeWarning, match="not padding the batch for fetches \\[Mean:0\\]: math.reduce_mean 'Mean': it reduces over the batch dim"):
            assert sess.run(mean, {x: [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]}) == 3.5
        assert sess.run(mean, {x: [[1.0, 1.0]] * 5}) == 1.0  # warned once per fetches
        with pytest.warns(RuntimeWarning, match="reduces over the batch dim"):
            sess.run(accumulate, {x: [[1.0, 2.0]] * 3})
        assert sess.run(total) == 9.0
        assert sess.compile_counts[FetchSignature(("Mean:0",), ("x:0",))] == 2


def test_batch_feeds_of_different_sizes_are_not_padded():
    a = tf.placeholder(tf.float32, [None], name="a")
    b = tf.placeholder(tf.float32, [None], name="b")
    with tf.Session(backend="numpy", batch_buckets=True) as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="not broadcast-compatible: \\[5\\] vs \\[6\\]"):
            sess.run(a + b, {a: np.ones(5, np.float32), b: np.ones(6, np.float32)})  # not hidden by padding to 8
        np.testing.assert_array_equal(sess.run(a + b, {a: [1.0, 2.0, 3.0], b: [1.0, 1.0, 1.0]}), [2.0, 3.0, 4.0])


@pytest.mark.parametrize(
    "build, rowwise",
    [
        (lambda x: x + tf.constant(np.ones((1, 4), np.float32)), True),
        (lambda x: x + tf.constant(np.ones((8, 4), np.float32)), False),  # a dim aligned with the batch
        (lambda x: tf.reshape(x, [-1]) + 1.0, False),  # reshape has no rule: conservative
        (lambda x: tf.matmul(x, x, transpose_a=True), False),  # contracts the batch
        (lambda x: tf.matmul(x, tf.ones([4, 2])), True),
        (lambda x: tf.transpose(x), False),
        (lambda x: tf.expand_dims(x, 1), True),
        (lambda x: tf.expand_dims(x, 0), False),
        (lambda x: tf.concat([x, x], 1), True),
        (lambda x: tf.concat([x, x], 0), False),
        (lambda x: tf.argmax(x, 0), False),
        (lambda x: tf.nn.log_softmax(x), True),
        (lambda x: tf.shape(x), False),
    ],
)
def test_which_ops_keep_rows_apart(build, rowwise):
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    y = build(x)
    xv = np.arange(12, dtype=np.float32).reshape(3, 4)
    with tf.Session(backend="numpy") as exact, tf.Session(backend="numpy", batch_buckets=True) as padded:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                want = exact.run(y, {x: xv})
            except (ValueError, tf.errors.OpError):
                want = None
            if want is not None:
                np.testing.assert_allclose(padded.run(y, {x: xv}), want)
        warned = [w for w in caught if "not padding the batch" in str(w.message)]
        assert bool(warned) is (not rowwise and want is not None)


def test_compiling_pauses_the_garbage_collector_and_restores_it(sess, monkeypatch):
    import gc

    seen = []
    real = tf.Session._compile

    def spying(self, *args, **kwargs):
        seen.append(gc.isenabled())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(tf.Session, "_compile", spying)
    x = tf.placeholder(tf.float32, [None], name="x")
    assert gc.isenabled()
    sess.run(x * 2.0, {x: [1.0]})
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        sess.run(x * 2.0, {x: [1.0, 2.0]})
        assert not gc.isenabled()  # a collector the user turned off stays off
    finally:
        gc.enable()
    with pytest.raises(ValueError):
        sess.run(x * 2.0, {x: [[1.0]]})
    assert gc.isenabled()  # and comes back after a failed compile


# --------------------------------------------------------------------------------------------
# The program's types: the ops were typed when built; a run re-infers around what changed


def _programs_typed(monkeypatch) -> list:
    """The program graphs a session compiles, right after its shape inference."""
    from flowir.passes import shape_inference

    seen = []
    original = shape_inference.infer_shapes

    def spy(graph, changed=None):
        out = original(graph, changed)
        seen.append({op.user_name: op.results[0].type for op in graph.ops if op.results})
        return out

    monkeypatch.setattr(shape_inference, "infer_shapes", spy)
    return seen


def test_feeds_and_set_shape_refine_the_program_types(monkeypatch) -> None:
    seen = _programs_typed(monkeypatch)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        w = tf.placeholder(tf.float32, [None], name="w")
        y = tf.multiply(x, 2.0, name="y")
        v = tf.identity(w, name="v")
        u = tf.add(v, 1.0, name="u")
        v.set_shape([4])  # after u was built: u's static type still says [None]
        assert u.shape.as_list() == [None]
        with tf.Session(backend="numpy") as sess:
            out = sess.run([y, u], {x: np.ones((2, 3), np.float32), w: np.zeros(4, np.float32)})
    np.testing.assert_array_equal(out[0], np.full((2, 3), 2, np.float32))
    (types,) = seen
    assert types["y"].shape == (2, 3)  # from the feed
    assert types["u"].shape == (4,)  # from set_shape


def test_placeholder_with_default_unfed_takes_the_defaults_shape(monkeypatch) -> None:
    seen = _programs_typed(monkeypatch)
    with tf.Graph().as_default():
        p = tf.placeholder_with_default(np.ones((2, 3), np.float32), [None, 3], name="p")
        q = tf.reduce_sum(p, axis=1, name="q")
        assert q.shape.as_list() == [None]
        with tf.Session(backend="numpy") as sess:
            np.testing.assert_array_equal(sess.run(q), [3.0, 3.0])
    assert seen[0]["q"].shape == (2,)
