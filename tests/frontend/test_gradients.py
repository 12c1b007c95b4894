"""``tf.gradients`` and ``tf.stop_gradient``: TF1's results and names, variables, Hessian-vector
products, and an MLP's gradients through ``Session`` against finite differences."""

from __future__ import annotations

import importlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import flowir as tf
from flowir.ir import ops
from flowir.passes.autodiff import VJP_RULES

gradients_module = importlib.import_module("flowir.frontends.graph.gradients")


@pytest.fixture(autouse=True)
def _fresh_graph():
    with tf.Graph().as_default():
        yield


def run(fetches: Any, feed_dict: dict | None = None, init: bool = False) -> Any:
    with tf.Session() as sess:
        if init:
            sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed_dict)


def test_public_names() -> None:
    assert tf.gradients is gradients_module.gradients
    assert tf.stop_gradient is gradients_module.stop_gradient


def test_simple_gradient_and_tf_names() -> None:
    x = tf.placeholder(tf.float32, [3], name="x")
    with tf.name_scope("layer"):
        y = tf.square(x, name="sq")
    (dx,) = tf.gradients(y, x)
    assert dx.name.startswith("gradients/layer/sq_grad/")
    assert dx.dtype == tf.float32 and dx.shape.as_list() == [3]
    np.testing.assert_allclose(run(dx, {x: [1.0, -2.0, 3.0]}), [2.0, -4.0, 6.0])
    (again,) = tf.gradients(y, x, name="grads")
    assert again.name.startswith("grads/layer/sq_grad/")
    (third,) = tf.gradients(y, [x])
    assert third.name.startswith("gradients_1/")


def test_unconnected_and_integer_paths_give_none() -> None:
    x = tf.placeholder(tf.float32, [2])
    z = tf.placeholder(tf.float32, [2])
    n = tf.placeholder(tf.int32, [2])
    y = tf.cast(tf.cast(x, tf.int32) + n, tf.float32) * 2.0 + tf.reduce_sum(tf.cast(tf.argmax(tf.stack([x, x]), 0), tf.float32))
    assert tf.gradients(y, [x, z, n]) == [None, None, None]
    zeros = tf.gradients(y, [x, z], unconnected_gradients="zero")
    np.testing.assert_array_equal(run(zeros, {x: [1.0, 2.0], z: [3.0, 4.0]}), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="unconnected_gradients"):
        tf.gradients(y, x, unconnected_gradients="nan")


def test_float_casts_pass_gradients() -> None:
    x = tf.placeholder(tf.float32, [2])
    y = tf.cast(tf.cast(x, tf.float64) * 3.0, tf.float32)
    (dx,) = tf.gradients(y, x)
    assert dx.dtype == tf.float32
    np.testing.assert_allclose(run(dx, {x: [1.0, 2.0]}), [3.0, 3.0])


def test_stop_gradient_and_stop_gradients() -> None:
    x = tf.placeholder(tf.float32, [2])
    sq = x * x
    y = tf.stop_gradient(sq) * x
    assert y.op.inputs[0].op.type == "array.stop_gradient"
    (dx,) = tf.gradients(y, x)
    a = np.array([2.0, -3.0], np.float32)
    np.testing.assert_allclose(run(dx, {x: a}), a**2)
    y2 = sq * x
    dx2, dsq = tf.gradients(y2, [x, sq], stop_gradients=[sq])
    got = run([dx2, dsq], {x: a})
    np.testing.assert_allclose(got[0], a**2)
    np.testing.assert_allclose(got[1], a)
    np.testing.assert_allclose(run(tf.stop_gradient(sq), {x: a}), a**2)


def test_several_ys_add_up_and_grad_ys_weigh_them() -> None:
    x = tf.placeholder(tf.float32, [2])
    y1, y2 = x * 2.0, tf.exp(x)
    a = np.array([0.5, -1.0], np.float32)
    (dx,) = tf.gradients([y1, y2], x)
    np.testing.assert_allclose(run(dx, {x: a}), 2 + np.exp(a), rtol=1e-6)
    (dx,) = tf.gradients([y1, y2], x, grad_ys=[[1.0, 10.0], None])
    np.testing.assert_allclose(run(dx, {x: a}), [2, 20] + np.exp(a), rtol=1e-6)
    with pytest.raises(ValueError, match="grad_ys"):
        tf.gradients([y1, y2], x, grad_ys=[None])
    with pytest.raises(ValueError, match="Incompatible shapes"):
        tf.gradients(y1, x, grad_ys=[[1.0, 2.0, 3.0]])


def test_gradient_with_respect_to_variables() -> None:
    w = tf.Variable([[1.0, 2.0], [3.0, 4.0]], name="w")
    b = tf.Variable([0.5, -0.5], name="b")
    x = tf.placeholder(tf.float32, [None, 2])
    y = tf.reduce_sum(tf.matmul(x, w) + b)
    gw, gb, gref = tf.gradients(y, [w, b, w.value()])
    assert gw.shape.as_list() == [2, 2] and gb.shape.as_list() == [2]
    xs = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], np.float32)
    got = run([gw, gb, gref], {x: xs}, init=True)
    np.testing.assert_allclose(got[0], np.repeat(xs.sum(0)[:, None], 2, axis=1))
    np.testing.assert_allclose(got[1], [3.0, 3.0])
    np.testing.assert_allclose(got[2], got[0])


def test_an_op_without_a_gradient_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    x = tf.placeholder(tf.float32, [2])
    y = tf.sin(x, name="wave")
    monkeypatch.delitem(VJP_RULES, ops.Sin)
    with pytest.raises(LookupError, match="'wave': no gradient is defined") as info:
        tf.gradients(y, x)
    assert "test_gradients.py" in str(info.value)


def test_none_xs_entry_is_a_type_error() -> None:
    x = tf.placeholder(tf.float32, [2])
    with pytest.raises(TypeError, match="None"):
        tf.gradients(x * 2.0, [x, None])


def test_hessian_vector_product_matches_jax() -> None:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 4))
    w0 = rng.standard_normal((4, 2))
    v0 = rng.standard_normal((4, 2))
    x = tf.constant(a)
    w = tf.placeholder(tf.float64, [4, 2])
    v = tf.placeholder(tf.float64, [4, 2])
    f = tf.reduce_sum(tf.sigmoid(tf.matmul(x, w)) * tf.tanh(tf.matmul(x, w) * 0.5)) + tf.reduce_sum(tf.square(w) * w)
    (gw,) = tf.gradients(f, w)
    (hv,) = tf.gradients(gw, w, grad_ys=v)
    (hv2,) = tf.gradients(tf.reduce_sum(gw * v), w)
    got, got2 = run([hv, hv2], {w: w0, v: v0})

    def fj(wj: Any) -> Any:
        z = a @ wj
        return jnp.sum(jax.nn.sigmoid(z) * jnp.tanh(z * 0.5)) + jnp.sum(wj**3)

    with jax.enable_x64(True):
        expected = jax.jvp(jax.grad(fj), (w0,), (v0,))[1]
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    np.testing.assert_allclose(got2, expected, rtol=1e-10)


@settings(max_examples=10)
@given(seed=st.integers(0, 2**31 - 1), batch=st.integers(1, 5))
def test_mlp_gradients_through_a_session_match_finite_differences(seed: int, batch: int) -> None:
    """tf.gradients of a small MLP's loss with respect to its Variables, run by Session,
    against central differences of the same loss with perturbed variable values."""
    rng = np.random.default_rng(seed)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [None, 5], name="x")
        labels = tf.placeholder(tf.float64, [None, 3], name="labels")
        params = []
        h = x
        for i, (n_in, n_out) in enumerate([(5, 6), (6, 3)]):
            with tf.name_scope(f"layer{i}"):
                w = tf.Variable(rng.standard_normal((n_in, n_out)), name="w")
                b = tf.Variable(rng.standard_normal(n_out) * 0.1, name="b")
                params += [w, b]
                h = tf.matmul(h, w) + b
                if i == 0:
                    h = tf.nn.relu(h)
        loss = tf.reduce_mean(tf.reduce_sum(tf.square(tf.nn.softmax(h) - labels), axis=1)) + 0.01 * tf.reduce_sum(tf.abs(params[0]))
        grads = tf.gradients(loss, params)
        feed = {x: rng.standard_normal((batch, 5)), labels: rng.uniform(0, 1, (batch, 3))}
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            values = sess.run(params)
            analytic = sess.run(grads, feed)
            eps = 1e-6
            for p, value, g in zip(params, values, analytic):
                direction = rng.standard_normal(value.shape)
                p.load(value + eps * direction, sess)
                up = sess.run(loss, feed)
                p.load(value - eps * direction, sess)
                down = sess.run(loss, feed)
                p.load(value, sess)
                numeric = (up - down) / (2 * eps)
                np.testing.assert_allclose(np.sum(g * direction), numeric, rtol=1e-5, atol=1e-8, err_msg=p.name)
