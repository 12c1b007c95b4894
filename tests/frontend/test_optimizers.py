"""``tf.train`` optimizers: the first updates against hand-computed numpy references, TF1's
slot and variable names, the global step, argument checks, and convergence on a small
regression."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import flowir as tf

A0 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], np.float32)
C = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.5]], np.float32)


@pytest.fixture(autouse=True)
def _fresh_graph():
    with tf.Graph().as_default():
        yield


def _quadratic(dtype: Any = tf.float32) -> tuple[tf.Variable, tf.Tensor]:
    """A variable ``w`` and ``loss = sum(c * w) + sum(w ** 2) / 2``, whose gradient is
    ``c + w`` (computed exactly by the graph: only powers of two scale it)."""
    w = tf.Variable(A0.astype(dtype.as_numpy_dtype), name="w")
    c = tf.constant(C.astype(dtype.as_numpy_dtype))
    loss = tf.reduce_sum(c * w) + 0.5 * tf.reduce_sum(tf.square(w))
    return w, loss


def _run_steps(train: tf.Operation, w: tf.Variable, n: int = 3, feed: dict | None = None) -> list[np.ndarray]:
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = []
        for _ in range(n):
            assert sess.run(train, feed) is None
            out.append(sess.run(w))
        return out


def _reference(update: Callable[[np.ndarray, np.ndarray, int], np.ndarray], dtype: Any = np.float32) -> list[np.ndarray]:
    """Three steps of ``w = update(w, grad, t)`` (``t`` from 1) in ``dtype`` arithmetic."""
    w = A0.astype(dtype)
    c = C.astype(dtype)
    out = []
    for t in range(1, 4):
        w = update(w, c + w, t).astype(dtype)
        out.append(w)
    return out


def _assert_steps(got: list[np.ndarray], want: list[np.ndarray], rtol: float = 2e-6) -> None:
    for i, (g, e) in enumerate(zip(got, want)):
        assert g.dtype == e.dtype, (i, g.dtype, e.dtype)
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * 1e-2, err_msg=f"after step {i + 1}")


# --------------------------------------------------------------------------------------------
# The first updates against the formulas


def test_gradient_descent() -> None:
    w, loss = _quadratic()
    got = _run_steps(tf.train.GradientDescentOptimizer(0.1).minimize(loss), w)
    _assert_steps(got, _reference(lambda w, g, t: w - np.float32(0.1) * g))


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum(nesterov: bool) -> None:
    lr, mu = np.float32(0.1), np.float32(0.9)
    w, loss = _quadratic()
    got = _run_steps(tf.train.MomentumOptimizer(0.1, 0.9, use_nesterov=nesterov).minimize(loss), w)
    accum = np.zeros_like(A0)

    def update(w: np.ndarray, g: np.ndarray, t: int) -> np.ndarray:
        nonlocal accum
        accum = accum * mu + g
        return w - (g * lr + accum * mu * lr if nesterov else accum * lr)

    _assert_steps(got, _reference(update))


@pytest.mark.parametrize(
    ("kwargs", "lr", "b1", "b2", "eps"),
    [({}, 0.001, 0.9, 0.999, 1e-8), ({"learning_rate": 0.1, "beta1": 0.5, "beta2": 0.8, "epsilon": 1e-3}, 0.1, 0.5, 0.8, 1e-3)],
)
def test_adam(kwargs: dict, lr: float, b1: float, b2: float, eps: float) -> None:
    w, loss = _quadratic()
    got = _run_steps(tf.train.AdamOptimizer(**kwargs).minimize(loss), w)
    m = np.zeros_like(A0)
    v = np.zeros_like(A0)

    def update(w: np.ndarray, g: np.ndarray, t: int) -> np.ndarray:
        nonlocal m, v
        lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        # epsilon is added to sqrt(v), outside the bias correction (TF1's rule).
        return w - lr_t * m / (np.sqrt(v) + eps)

    want = [x.astype(np.float32) for x in _reference_f64(update)]
    _assert_steps(got, want, rtol=1e-5)


def _reference_f64(update: Callable[[np.ndarray, np.ndarray, int], np.ndarray]) -> list[np.ndarray]:
    w = A0.astype(np.float64)
    c = C.astype(np.float64)
    out = []
    for t in range(1, 4):
        w = update(w, c + w, t)
        out.append(w)
    return out


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize(("decay", "momentum", "eps"), [(0.9, 0.0, 1e-10), (0.8, 0.5, 1e-3)])
def test_rmsprop(centered: bool, decay: float, momentum: float, eps: float) -> None:
    lr = 0.01
    w, loss = _quadratic()
    opt = tf.train.RMSPropOptimizer(lr, decay=decay, momentum=momentum, epsilon=eps, centered=centered)
    got = _run_steps(opt.minimize(loss), w)
    ms = np.ones_like(A0, dtype=np.float64)  # TF1 starts the mean square at one, not zero
    mg = np.zeros_like(ms)
    mom = np.zeros_like(ms)

    def update(w: np.ndarray, g: np.ndarray, t: int) -> np.ndarray:
        nonlocal ms, mg, mom
        ms = decay * ms + (1 - decay) * g * g
        mg = decay * mg + (1 - decay) * g
        denom = ms - mg * mg + eps if centered else ms + eps
        mom = momentum * mom + lr * g / np.sqrt(denom)
        return w - mom

    want = [x.astype(np.float32) for x in _reference_f64(update)]
    _assert_steps(got, want, rtol=1e-5)


def test_float64_variables_with_float32_hyperparameters() -> None:
    w, loss = _quadratic(tf.float64)
    lr = tf.placeholder(tf.float32, [], name="lr")
    got = _run_steps(tf.train.MomentumOptimizer(lr, 0.5).minimize(loss), w, feed={lr: 0.25})
    accum = np.zeros_like(A0, np.float64)

    def update(w: np.ndarray, g: np.ndarray, t: int) -> np.ndarray:
        nonlocal accum
        accum = accum * 0.5 + g
        return w - accum * 0.25

    _assert_steps(got, _reference(update, np.float64), rtol=1e-14)


def test_learning_rate_tensor_and_callable() -> None:
    w, loss = _quadratic()
    lr = tf.placeholder(tf.float32, [])
    train = tf.train.GradientDescentOptimizer(lr).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {lr: 0.5})
        np.testing.assert_allclose(sess.run(w), A0 - 0.5 * (C + A0), rtol=1e-6)
        sess.run(train, {lr: 0.0})
        np.testing.assert_allclose(sess.run(w), A0 - 0.5 * (C + A0), rtol=1e-6)
    with tf.Graph().as_default():
        w, loss = _quadratic()
        got = _run_steps(tf.train.GradientDescentOptimizer(lambda: tf.constant(0.1)).minimize(loss), w, n=1)
        np.testing.assert_allclose(got[0], A0 - np.float32(0.1) * (C + A0), rtol=1e-6)


def test_updates_use_the_values_from_before_the_step() -> None:
    """Each update reads the variables as they were before the step, whatever order the
    updates run in: d/da sum(a * b) = b, d/db = a."""
    a = tf.Variable([1.0, 2.0], name="a")
    b = tf.Variable([3.0, -1.0], name="b")
    train = tf.train.GradientDescentOptimizer(1.0).minimize(tf.reduce_sum(a * b))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        np.testing.assert_array_equal(sess.run(a), [1.0 - 3.0, 2.0 + 1.0])
        np.testing.assert_array_equal(sess.run(b), [3.0 - 1.0, -1.0 - 2.0])


def test_a_failing_step_changes_nothing() -> None:
    labels = tf.placeholder(tf.int32, [2])
    w = tf.Variable([[1.0, 2.0, 0.5], [0.0, -1.0, 1.0]], name="w")
    step = tf.train.get_or_create_global_step()
    loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=w))
    train = tf.train.AdamOptimizer(0.1).minimize(loss, global_step=step)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        before = sess.run(tf.global_variables())
        with pytest.raises(tf.errors.InvalidArgumentError, match="label value of 3"):
            sess.run(train, {labels: [0, 3]})
        after = sess.run(tf.global_variables())
        assert all(np.array_equal(a, b) for a, b in zip(before, after))
        sess.run(train, {labels: [0, 2]})
        assert sess.run(step) == 1


# --------------------------------------------------------------------------------------------
# Names, slots, collections


def _names(variables: list[Any]) -> list[str]:
    return sorted(v.op.name for v in variables)


def test_adam_slots_and_non_slot_variables_have_tf1_names() -> None:
    w, loss = _quadratic()
    with tf.name_scope("layer"):
        b = tf.Variable(np.zeros(3, np.float32), name="b")
    loss = loss + tf.reduce_sum(b)
    opt = tf.train.AdamOptimizer()
    train = opt.minimize(loss)
    assert train.name == "Adam"
    assert _names(tf.global_variables()) == [
        "beta1_power",
        "beta2_power",
        "layer/b",
        "layer/b/Adam",
        "layer/b/Adam_1",
        "w",
        "w/Adam",
        "w/Adam_1",
    ]
    assert _names(tf.trainable_variables()) == ["layer/b", "w"]
    assert opt.get_slot_names() == ["m", "v"]
    assert opt.get_slot(w, "m").op.name == "w/Adam" and opt.get_slot(w, "v").op.name == "w/Adam_1"
    assert opt.get_slot(w, "nope") is None
    assert [v.op.name for v in opt.variables()] == [
        "beta1_power",
        "beta2_power",
        "layer/b/Adam",
        "layer/b/Adam_1",
        "w/Adam",
        "w/Adam_1",
    ]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(opt.get_slot(w, "m")).tolist() == np.zeros_like(A0).tolist()
        powers = [v for v in opt.variables() if "power" in v.op.name]
        np.testing.assert_allclose(sess.run(powers), [0.9, 0.999], rtol=1e-7)
        sess.run(train)
        sess.run(train)
        np.testing.assert_allclose(sess.run(powers), [0.9**3, 0.999**3], rtol=1e-6)


@pytest.mark.parametrize(
    ("make", "slots"),
    [
        (lambda: tf.train.GradientDescentOptimizer(0.1), {}),
        (lambda: tf.train.MomentumOptimizer(0.1, 0.9), {"momentum": "w/Momentum"}),
        (lambda: tf.train.RMSPropOptimizer(0.1), {"rms": "w/RMSProp", "momentum": "w/RMSProp_1"}),
        (
            lambda: tf.train.RMSPropOptimizer(0.1, centered=True),
            {"rms": "w/RMSProp", "mg": "w/RMSProp_1", "momentum": "w/RMSProp_2"},
        ),
    ],
)
def test_slot_names(make: Callable[[], Any], slots: dict[str, str]) -> None:
    w, loss = _quadratic()
    opt = make()
    train = opt.minimize(loss)
    assert train.name == opt.get_name()
    assert opt.get_slot_names() == sorted(slots)
    assert {n: opt.get_slot(w, n).op.name for n in slots} == slots
    assert _names(tf.global_variables()) == sorted(["w", *slots.values()])
    assert _names(tf.trainable_variables()) == ["w"]


def test_rmsprop_mean_square_starts_at_one() -> None:
    w, loss = _quadratic()
    opt = tf.train.RMSPropOptimizer(0.1)
    opt.minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(opt.get_slot(w, "rms")), np.ones_like(A0))
        np.testing.assert_array_equal(sess.run(opt.get_slot(w, "momentum")), np.zeros_like(A0))


def test_slots_of_a_variable_with_unknown_dims_take_its_run_time_shape() -> None:
    x = tf.placeholder(tf.float32, [None])
    w = tf.Variable(x, validate_shape=False, name="w")
    opt = tf.train.MomentumOptimizer(1.0, 0.5)
    train = opt.minimize(tf.reduce_sum(tf.square(w)))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer(), {x: [1.0, -2.0, 3.0]})
        sess.run(train)
        np.testing.assert_allclose(sess.run(opt.get_slot(w, "momentum")), [2.0, -4.0, 6.0])
        np.testing.assert_allclose(sess.run(w), [-1.0, 2.0, -3.0])


def test_slots_are_named_at_the_top_even_inside_a_name_scope() -> None:
    w, loss = _quadratic()
    with tf.name_scope("train"):
        train = tf.train.AdamOptimizer().minimize(loss)
    assert train.name == "train/Adam"
    assert _names(tf.global_variables()) == ["train/beta1_power", "train/beta2_power", "w", "w/Adam", "w/Adam_1"]


def test_global_step() -> None:
    assert tf.train.get_global_step() is None
    step = tf.train.get_or_create_global_step()
    assert step.op.name == "global_step" and step.dtype.base_dtype == tf.int64 and step.shape.as_list() == []
    assert tf.train.get_or_create_global_step() is step
    assert tf.train.get_global_step() is step
    assert tf.get_collection(tf.GraphKeys.GLOBAL_STEP) == [step]
    assert step in tf.global_variables() and step not in tf.trainable_variables()
    with pytest.raises(ValueError, match="already exists"):
        tf.train.create_global_step()
    w, loss = _quadratic()
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=step)
    assert train.name == "GradientDescent"
    assert tf.get_collection(tf.GraphKeys.TRAIN_OP) == [train]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(step) == 0
        for _ in range(3):
            sess.run(train)
        assert sess.run(step) == 3
        np.testing.assert_allclose(sess.run(w), _reference(lambda w, g, t: w - np.float32(0.1) * g)[-1], rtol=2e-6)


def test_global_step_found_by_name_and_checked() -> None:
    with tf.Graph().as_default():
        v = tf.Variable(np.int64(0), name="global_step")
        assert tf.train.get_global_step().name == v.name
    with tf.Graph().as_default():
        tf.Variable(0.0, name="global_step")
        with pytest.raises(TypeError, match="integer"):
            tf.train.get_global_step()


# --------------------------------------------------------------------------------------------
# compute_gradients and apply_gradients


def test_compute_and_apply_gradients() -> None:
    w, loss = _quadratic()
    unused = tf.Variable(1.0, name="unused")
    opt = tf.train.GradientDescentOptimizer(0.5)
    pairs = opt.compute_gradients(loss)
    assert [v for _, v in pairs] == [w, unused]
    assert pairs[1][0] is None
    scaled = [(g * 2.0, v) for g, v in pairs if g is not None]
    train = opt.apply_gradients(scaled, name="step")
    assert train.name == "step"
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        np.testing.assert_allclose(sess.run(w), A0 - 1.0 * (C + A0), rtol=1e-6)
        assert sess.run(unused) == 1.0


def test_var_list_and_grad_loss() -> None:
    w, loss = _quadratic()
    other = tf.Variable(A0, name="other")
    loss = loss + tf.reduce_sum(other)
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, var_list=[other], grad_loss=tf.constant(2.0))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        np.testing.assert_array_equal(sess.run(w), A0)
        np.testing.assert_allclose(sess.run(other), A0 - 0.2, rtol=1e-6)


def test_argument_errors() -> None:
    w, loss = _quadratic()
    opt = tf.train.GradientDescentOptimizer(0.1)
    with pytest.raises(ValueError, match="Invalid type"):
        opt.minimize(tf.constant(1))
    with pytest.raises(ValueError, match="gate_gradients"):
        opt.compute_gradients(loss, gate_gradients=7)
    with pytest.raises(ValueError, match="No gradients provided"):
        opt.minimize(tf.reduce_sum(tf.constant([1.0])), var_list=[w])
    with pytest.raises(ValueError, match="No variables provided"):
        opt.apply_gradients([])
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        opt.apply_gradients([(None, w)])
    with pytest.raises(ValueError, match="No variables to optimize"):
        with tf.Graph().as_default():
            tf.train.AdamOptimizer().minimize(tf.constant(1.0))
    with pytest.raises(ValueError, match="optimizer name"):
        tf.train.Optimizer(False, "")


def test_a_user_optimizer_subclass() -> None:
    """The base class's contract, as TF's: slots, _prepare, _apply_dense, _finish."""

    class SumOfGradients(tf.train.Optimizer):
        def __init__(self) -> None:
            super().__init__(False, "SumOfGradients")

        def _create_slots(self, var_list: list) -> None:
            for v in var_list:
                self._zeros_slot(v, "total", self._name)

        def _prepare(self) -> None:
            self._half = tf.convert_to_tensor(0.5, name="half")

        def _apply_dense(self, grad: Any, var: Any) -> Any:
            total = tf.assign_add(self.get_slot(var, "total"), grad)
            return tf.assign_sub(var, total * self._half).op

    w, loss = _quadratic()
    opt = SumOfGradients()
    train = opt.minimize(loss)
    assert opt.get_slot(w, "total").op.name == "w/SumOfGradients"
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        np.testing.assert_allclose(sess.run(w), A0 - 0.5 * (C + A0), rtol=1e-6)


# --------------------------------------------------------------------------------------------
# Training


OPTIMIZERS = {
    "gd": lambda: tf.train.GradientDescentOptimizer(0.1),
    "momentum": lambda: tf.train.MomentumOptimizer(0.05, 0.9),
    "nesterov": lambda: tf.train.MomentumOptimizer(0.05, 0.9, use_nesterov=True),
    "adam": lambda: tf.train.AdamOptimizer(0.1),
    "rmsprop": lambda: tf.train.RMSPropOptimizer(0.05),
    "rmsprop-centered": lambda: tf.train.RMSPropOptimizer(0.02, momentum=0.5, centered=True),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_small_regression_converges(name: str) -> None:
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((64, 3)).astype(np.float32)
    true_w = np.array([[1.5], [-2.0], [0.5]], np.float32)
    ys = xs @ true_w + 0.3
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.placeholder(tf.float32, [None, 1])
    w = tf.Variable(tf.zeros([3, 1]), name="w")
    b = tf.Variable(0.0, name="b")
    loss = tf.losses.mean_squared_error(y, tf.matmul(x, w) + b)
    step = tf.train.get_or_create_global_step()
    train = OPTIMIZERS[name]().minimize(loss, global_step=step)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss, {x: xs, y: ys})
        for _ in range(300):
            sess.run(train, {x: xs, y: ys})
        last = sess.run(loss, {x: xs, y: ys})
        assert sess.run(step) == 300
        assert last < 1e-3 * first, (first, last)
        np.testing.assert_allclose(sess.run(w), true_w, atol=0.05)
        assert abs(sess.run(b) - 0.3) < 0.05


def test_doctests() -> None:
    import doctest

    from flowir.frontends.graph import optimizers

    result = doctest.testmod(optimizers)
    assert result.failed == 0 and result.attempted > 0
