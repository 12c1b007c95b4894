"""``tf.train.AdamOptimizer`` on the fused ``state.apply_adam``: bit for bit the update it
composed from math ops before, over several steps, with TF's op names."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import flowir as tf
from flowir.frontends.graph.optimizers import _as


@pytest.fixture(autouse=True)
def _fresh_graph():
    with tf.Graph().as_default():
        yield


def assert_bitwise(got: np.ndarray, want: np.ndarray) -> None:
    got, want = np.ascontiguousarray(got), np.ascontiguousarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    u = f"u{got.dtype.itemsize}"
    np.testing.assert_array_equal(got.reshape(-1).view(u), want.reshape(-1).view(u))


def composed_adam(opt: tf.train.AdamOptimizer, grads_and_vars: list[tuple[Any, Any]]) -> Any:
    """The update ``AdamOptimizer`` built from math ops before it had the fused op."""
    updates = []
    with tf.name_scope("composed"):
        opt._create_slots([v for _, v in grads_and_vars])
        opt._prepare()
        b1p, b2p = opt._get_beta_accumulators()
        for grad, var in grads_and_vars:
            m, v = opt.get_slot(var, "m"), opt.get_slot(var, "v")
            p1, p2 = _as(b1p.value(), var), _as(b2p.value(), var)
            lr, beta1, beta2, eps = (_as(t, var) for t in (opt._lr_t, opt._beta1_t, opt._beta2_t, opt._epsilon_t))
            alpha = lr * tf.sqrt(1 - p2) / (1 - p1)
            m_t = tf.assign(m, m + (grad - m) * (1 - beta1))
            v_t = tf.assign(v, v + (tf.square(grad) - v) * (1 - beta2))
            updates.append(tf.assign_sub(var, m_t * alpha / (tf.sqrt(v_t) + eps)).op)
        return opt._finish(updates, "composed_step")


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64, tf.float16])
def test_optimizer_equals_the_composed_update_over_steps(dtype: Any) -> None:
    rng = np.random.default_rng(10)
    w0 = rng.standard_normal((4, 3)).astype(dtype.as_numpy_dtype)
    b0 = rng.standard_normal(3).astype(dtype.as_numpy_dtype)
    x = rng.standard_normal((5, 4)).astype(dtype.as_numpy_dtype)
    results = []
    for fused in (True, False):
        with tf.Graph().as_default():
            w = tf.Variable(w0, name="w")
            b = tf.Variable(b0, name="b")
            loss = tf.reduce_sum(tf.square(tf.matmul(tf.constant(x), w) + b))
            opt = tf.train.AdamOptimizer(0.05, epsilon=1e-4 if dtype is tf.float16 else 1e-8)
            if fused:
                step = opt.minimize(loss)
            else:
                step = composed_adam(opt, opt.compute_gradients(loss))
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                trace = []
                for _ in range(4):
                    sess.run(step)
                    trace.append(
                        sess.run([w, b, opt.get_slot(w, "m"), opt.get_slot(w, "v"), *opt._get_beta_accumulators()])
                    )
            results.append(trace)
    for fused_values, composed_values in zip(*results):
        for got, want in zip(fused_values, composed_values):
            assert_bitwise(np.asarray(got), np.asarray(want))


def test_optimizer_builds_one_apply_adam_per_variable_with_tf_names() -> None:
    w = tf.Variable(np.ones((2, 2), np.float32), name="w")
    with tf.name_scope("layer"):
        b = tf.Variable(np.zeros(2, np.float32), name="b")
    loss = tf.reduce_sum(tf.matmul(w, w) + b)
    train = tf.train.AdamOptimizer().minimize(loss)
    graph = tf.get_default_graph()
    applies = [op for op in graph.get_operations() if op.type == "state.apply_adam"]
    assert [op.name for op in applies] == ["Adam/update_w/ApplyAdam", "Adam/update_layer/b/ApplyAdam"]
    assert [i.name for i in applies[0].inputs[:3]] == ["w:0", "w/Adam:0", "w/Adam_1:0"]
    assert [i.name for i in applies[0].inputs[3:6]] == [
        "beta1_power/read:0",
        "beta2_power/read:0",
        "Adam/learning_rate:0",
    ]
    assert not [op for op in graph.get_operations() if op.type in ("state.assign_sub",) and "update_" in op.name]
    assert train.name == "Adam"
