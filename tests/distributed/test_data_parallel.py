"""Data-parallel sessions in this process (one CPU device: the mesh has one device; the
several-device and several-process cases run in subprocesses, ``test_multiprocess.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import flowir as tf
from tests.distributed import worker

pytest.importorskip("jax")

DP = tf.ConfigProto(allow_soft_placement=True, data_parallel=True)


def test_trains_like_a_plain_session():
    plain = worker.train({}, 0, 1, batch=16, steps=5)
    parallel = worker.train({"config": DP}, 0, 1, batch=16, steps=5)
    for name, value in plain.items():
        np.testing.assert_allclose(parallel[name], value, rtol=0, atol=1e-6, err_msg=name)


def _model(graph):
    with graph.as_default():
        tf.set_random_seed(3)
        return worker.build_model()


def test_fetches_whole_batches_and_counts_compiles():
    xs, ys = worker.batches(1, 8)
    feed = lambda m: {m.x: xs[0], m.labels: ys[0]}  # noqa: E731
    values = []
    for config in (None, DP):
        g = tf.Graph()
        m = _model(g)
        with tf.Session(graph=g, config=config) as sess:
            sess.run(m.init)
            values.append(sess.run([m.logits, m.loss], feed(m)))
            sess.run([m.logits, m.loss], feed(m))  # cached: no new compile
            if config is DP:
                assert sess.backend.data_parallel
                assert list(sess.compile_counts.values()) == [1, 1]  # init, then logits+loss
    (logits, loss), (dp_logits, dp_loss) = values
    assert dp_logits.shape == (8, 10)
    np.testing.assert_allclose(dp_logits, logits, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dp_loss, loss, rtol=1e-6)


def test_run_timeouts():
    g = tf.Graph()
    m = _model(g)
    xs, ys = worker.batches(1, 8)
    config = tf.ConfigProto(data_parallel=True, operation_timeout_in_ms=60_000)
    with tf.Session(graph=g, config=config) as sess:
        sess.run(m.init)
        sess.run(m.train_step, {m.x: xs[0], m.labels: ys[0]}, options=tf.RunOptions(timeout_in_ms=60_000))
        # The first run of new shapes compiles: far longer than a millisecond.
        with pytest.raises(tf.errors.DeadlineExceededError, match="did not finish within 1 ms"):
            sess.run(m.loss, {m.x: xs[0][:4], m.labels: ys[0][:4]}, options=tf.RunOptions(timeout_in_ms=1))
        with pytest.raises(RuntimeError, match="this Session is closed: the data-parallel run did not finish"):
            sess.run(m.loss, {m.x: xs[0], m.labels: ys[0]})


def test_plain_sessions_ignore_timeouts():
    with tf.Graph().as_default(), tf.Session() as sess:
        assert sess.run(tf.constant(2.0) * 3, options=tf.RunOptions(timeout_in_ms=1)) == 6.0


def test_summaries_run_beside_the_data_parallel_step():
    """Host ops (summaries, string feeds and fetches) run data-parallel too: the summary holds
    the fetched loss, and the step trains as a plain session's does."""
    from tensorboard.compat.proto import summary_pb2

    xs, ys = worker.batches(2, 8)
    runs = []
    for config in (None, DP):
        g = tf.Graph()
        m = _model(g)
        with g.as_default():
            merged = tf.summary.merge([tf.summary.scalar("loss", m.loss), tf.summary.histogram("inputs", m.x)])
            note = tf.placeholder(tf.string, [None], name="note")
            with tf.Session(config=config) as sess:
                sess.run(m.init)
                out = [sess.run([merged, m.loss, m.train_step], {m.x: xs[i], m.labels: ys[i]})[:2] for i in range(2)]
                assert list(sess.run(note, {note: ["a", "bc"]})) == [b"a", b"bc"]
        runs.append([(summary_pb2.Summary.FromString(s), loss) for s, loss in out])
    for (summary, loss), (plain_summary, plain_loss) in zip(*reversed(runs)):
        values = {v.tag: v for v in summary.value}
        assert values["loss"].simple_value == pytest.approx(float(loss), rel=1e-6)
        assert loss == pytest.approx(plain_loss, rel=1e-6)
        assert values["inputs"].histo.num == 8 * 784
        assert values["inputs"].histo == {v.tag: v for v in plain_summary.value}["inputs"].histo


def test_file_writers_of_other_tasks_write_nothing(tmp_path, monkeypatch):
    from flowir.frontends.graph import distributed

    with tf.Graph().as_default() as g:
        summary = tf.summary.scalar("x", tf.constant(1.0))
        with tf.Session() as sess:
            value = sess.run(summary)
        server = tf.train.Server({"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "worker", 1, start=False)
        monkeypatch.setitem(distributed._SERVERS, server.target, server)
        assert not distributed.is_chief_process()
        with tf.summary.FileWriter(str(tmp_path / "task1"), g) as writer:
            writer.add_summary(value, 1)
            writer.add_graph(g)
            writer.flush()
            assert writer.event_file is None and writer.get_logdir() == str(tmp_path / "task1")
        writer.reopen()
        writer.add_summary(value, 2)
        writer.close()
        assert not (tmp_path / "task1").exists()
        monkeypatch.delitem(distributed._SERVERS, server.target)
        assert distributed.is_chief_process()
        with tf.summary.FileWriter(str(tmp_path / "task0")) as writer:
            writer.add_summary(value, 1)
        assert [p.name for p in (tmp_path / "task0").iterdir()] == [Path(writer.event_file).name]


def test_task_device_strings_are_recorded_and_noticed_once():
    from flowir.backends.jax import sharded

    sharded._noticed.clear()
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 2], name="x")
        with tf.device("/job:worker/task:1"):
            y = tf.reduce_sum(x * 2.0, axis=1, name="y")
        assert y.device == "/job:worker/task:1"
        with tf.Session(config=DP) as sess:
            with pytest.warns(RuntimeWarning, match="'/job:worker/task:1'.*recorded in the graph but do not place"):
                out = sess.run(y, {x: np.ones((4, 2), np.float32)})
            np.testing.assert_array_equal(out, [4.0] * 4)
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("error")
                sess.run(y * 1.0, {x: np.ones((4, 2), np.float32)})


def test_host_values_feed_device_ops():
    """A host op's result read by device ops is uploaded replicated; in a cluster, one computed
    from this task's rows of a batch feed differs between tasks and is refused."""
    from flowir.backends.jax import distributed

    g = tf.Graph()
    with g.as_default():
        words = tf.placeholder(tf.string, [None], name="words")
        hits = tf.reduce_sum(tf.cast(tf.equal(words, "a"), tf.float32), name="hits")
        with tf.Session(config=DP) as sess:
            assert sess.run(hits, {words: ["a", "b", "a"]}) == 2.0
    with g.as_default(), tf.Session(config=DP) as sess:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(distributed, "process_count", lambda: 2)
            with pytest.raises(tf.errors.UnimplementedError, match="across 2 processes computes math.equal") as e:
                sess.run(hits * 2.0, {words: ["a", "b"]})
    assert "from this process's rows of a batch feed" in str(e.value)
