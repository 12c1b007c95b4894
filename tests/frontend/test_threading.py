"""Sessions and graphs used from several threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import flowir as tf

THREADS = 8
RUNS = 1000


@pytest.fixture(autouse=True)
def graph():
    with tf.Graph().as_default() as g:
        yield g


def _run_in_threads(work, n=THREADS):
    errors = []
    barrier = threading.Barrier(n)

    def target(k):
        try:
            barrier.wait()
            work(k)
        except BaseException as e:  # reported by the test below
            errors.append(e)

    threads = [threading.Thread(target=target, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_concurrent_assign_add_loses_no_update():
    counter = tf.Variable(0, name="counter")
    total = tf.Variable(0.0, name="total")
    inc = tf.group(counter.assign_add(1), total.assign_add(0.5))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())

        def work(_):
            for _ in range(RUNS):
                sess.run(inc)

        _run_in_threads(work)
        assert sess.run(counter) == THREADS * RUNS
        assert sess.run(total) == THREADS * RUNS * 0.5


def test_each_run_sees_a_consistent_state():
    a = tf.Variable(0, name="a")
    b = tf.Variable(0, name="b")
    step = tf.group(a.assign_add(1), b.assign_sub(1))
    total = a + b  # every committed state has a + b == 0
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sums = []

        def work(k):
            for _ in range(200):
                if k % 2:
                    sess.run(step)
                else:
                    sums.append(int(sess.run(total)))

        _run_in_threads(work)
        assert set(sums) == {0}
        assert sess.run([a, b]) == [THREADS // 2 * 200, -THREADS // 2 * 200]


def test_pure_runs_from_many_threads():
    x = tf.placeholder(tf.float32, [None], name="x")
    y = x * 2.0 + 1.0
    with tf.Session() as sess:
        results = {}

        def work(k):
            out = None
            for i in range(100):
                out = sess.run(y, {x: np.full(k + 1, float(i))})
            results[k] = out

        _run_in_threads(work)
    for k, out in results.items():
        np.testing.assert_array_equal(out, np.full(k + 1, 199.0))


def test_building_ops_from_many_threads_keeps_names_unique(graph):
    def work(_):
        with graph.as_default():
            for _ in range(50):
                tf.constant(1.0, name="c")

    _run_in_threads(work)
    names = [op.name for op in graph.get_operations()]
    assert len(names) == len(set(names)) == THREADS * 50


def test_default_graph_and_session_are_per_thread(graph):
    seen = {}
    c = tf.constant(1)
    with tf.Session() as sess:

        def work(k):
            seen[k] = (tf.get_default_graph() is graph, tf.get_default_session() is sess)

        _run_in_threads(work, 2)
        assert c.eval() == 1
    assert seen == {0: (False, False), 1: (False, False)}
