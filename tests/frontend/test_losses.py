"""``tf.nn`` losses, ``l2_loss``, ``dropout`` and ``bias_add``, and ``tf.losses``: values
against numpy, TF's names, gradients (into labels for ``_v2`` only), stability for huge
logits, dropout's statistics and exactness at ``keep_prob=1``, argument errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import flowir as tf
from flowir.ir.errors import UnsupportedOpError

RNG = np.random.default_rng(0)
LOGITS = (RNG.standard_normal((4, 5)) * 3).astype(np.float32)
LABELS = RNG.uniform(0.1, 1, (4, 5)).astype(np.float32)
LABELS /= LABELS.sum(axis=1, keepdims=True)
CLASSES = np.array([0, 2, 4, 1])
ONEHOT = np.eye(5, dtype=np.float32)[CLASSES]
HUGE = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], np.float32)


@pytest.fixture(autouse=True)
def _fresh_graph():
    with tf.Graph().as_default():
        yield


def run(fetches: Any, feed_dict: dict | None = None) -> Any:
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed_dict)


def _log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    w = x.astype(np.float64)
    shifted = w - w.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# --------------------------------------------------------------------------------------------
# Cross-entropy


def test_softmax_cross_entropy_v2_values_names_and_axis() -> None:
    loss = tf.nn.softmax_cross_entropy_with_logits_v2(labels=LABELS, logits=LOGITS)
    assert loss.name == "softmax_cross_entropy_with_logits:0" and loss.shape.as_list() == [4]
    by_columns = tf.nn.softmax_cross_entropy_with_logits_v2(labels=LABELS.T, logits=LOGITS.T, axis=0, name="xent")
    assert by_columns.name == "xent:0"
    old_spelling = tf.nn.softmax_cross_entropy_with_logits_v2(labels=LABELS.T, logits=LOGITS.T, dim=0)
    want = -(LABELS * _log_softmax(LOGITS)).sum(axis=1)
    for got in run([loss, by_columns, old_spelling]):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    with pytest.raises(ValueError, match="Cannot specify both"):
        tf.nn.softmax_cross_entropy_with_logits_v2(labels=LABELS, logits=LOGITS, axis=0, dim=0)


def test_v1_stops_the_gradient_into_labels_and_v2_does_not() -> None:
    x = tf.constant(LOGITS)
    z = tf.constant(LABELS)
    v1 = tf.nn.softmax_cross_entropy_with_logits(labels=z, logits=x)
    v2 = tf.nn.softmax_cross_entropy_with_logits_v2(labels=z, logits=x)
    assert v1.name == "softmax_cross_entropy_with_logits_sg:0"
    (dz1,) = tf.gradients(v1, [z])
    assert dz1 is None
    dx1, dx2, dz2 = run(tf.gradients(v1, [x]) + tf.gradients(v2, [x, z]))
    softmax = np.exp(_log_softmax(LOGITS))
    np.testing.assert_allclose(dx1, softmax - LABELS, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dx2, dx1)
    np.testing.assert_allclose(dz2, -_log_softmax(LOGITS), rtol=1e-5)
    with pytest.raises(ValueError, match="named arguments"):
        tf.nn.softmax_cross_entropy_with_logits(LABELS, LABELS, LOGITS)
    with pytest.raises(ValueError, match="Both labels and logits"):
        tf.nn.softmax_cross_entropy_with_logits(logits=LOGITS)


def test_sparse_softmax_cross_entropy() -> None:
    labels = tf.placeholder(tf.int64, [None])
    logits = tf.placeholder(tf.float32, [None, 5])
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    assert loss.name == "SparseSoftmaxCrossEntropyWithLogits/SparseSoftmaxCrossEntropyWithLogits:0"
    assert loss.shape.as_list() == [None]
    (dx,) = tf.gradients(tf.reduce_sum(loss), [logits])
    got, grad = run([loss, dx], {labels: CLASSES, logits: LOGITS})
    np.testing.assert_allclose(got, -_log_softmax(LOGITS)[np.arange(4), CLASSES], rtol=1e-6)
    np.testing.assert_allclose(grad, np.exp(_log_softmax(LOGITS)) - ONEHOT, rtol=1e-5, atol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"label value of 5 which is outside the valid range of \[0, 5\)"):
        run(loss, {labels: [0, 5, 1, 1], logits: LOGITS})
    with pytest.raises(ValueError, match="Rank mismatch"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[[0]], logits=LOGITS)
    with pytest.raises(ValueError, match="Logits cannot be scalars"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=0, logits=1.0)
    with pytest.raises(ValueError, match="must match the shape of logits"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 1], logits=LOGITS)


def test_sigmoid_cross_entropy() -> None:
    z = (LABELS > 0.2).astype(np.float32)
    x = tf.constant(LOGITS)
    loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x)
    assert loss.name == "logistic_loss:0" and loss.shape.as_list() == [4, 5]
    (dx,) = tf.gradients(loss, [x])
    got, grad = run([loss, dx])
    w = LOGITS.astype(np.float64)
    np.testing.assert_allclose(got, np.maximum(w, 0) - w * z + np.log1p(np.exp(-np.abs(w))), rtol=1e-6)
    np.testing.assert_allclose(grad, 1 / (1 + np.exp(-w)) - z, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="same shape"):
        tf.nn.sigmoid_cross_entropy_with_logits(labels=z[:, :2], logits=x)


def test_losses_and_gradients_are_finite_for_huge_logits() -> None:
    x = tf.constant(HUGE)
    onehot = np.array([[0, 1, 0], [0, 0, 1]], np.float32)
    losses = [
        tf.nn.softmax_cross_entropy_with_logits_v2(labels=onehot, logits=x),
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[1, 2], logits=x),
        tf.nn.sigmoid_cross_entropy_with_logits(labels=onehot, logits=x),
        tf.losses.softmax_cross_entropy(onehot, x),
        tf.losses.sigmoid_cross_entropy(onehot, x),
    ]
    grads = [tf.gradients(loss, [x])[0] for loss in losses]
    values = run(losses + grads)
    for v in values:
        assert np.isfinite(v).all(), v
    np.testing.assert_allclose(values[0], [2e4, 0.0])
    np.testing.assert_allclose(values[1], [2e4, 0.0])
    np.testing.assert_allclose(values[2], [[1e4, 1e4, np.log(2)], [0, 0, 0]], rtol=1e-6)


# --------------------------------------------------------------------------------------------
# l2_loss, bias_add


def test_l2_loss() -> None:
    x = tf.constant(LOGITS)
    loss = tf.nn.l2_loss(x)
    assert loss.name == "L2Loss:0" and loss.shape.as_list() == []
    (dx,) = tf.gradients(loss, [x])
    got, grad = run([loss, dx])
    np.testing.assert_allclose(got, (LOGITS.astype(np.float64) ** 2).sum() / 2, rtol=1e-6)
    np.testing.assert_allclose(grad, LOGITS, rtol=1e-6)
    with pytest.raises(TypeError, match="float"):
        tf.nn.l2_loss(tf.constant([1, 2]))


def test_bias_add() -> None:
    value = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    last = tf.nn.bias_add(value, np.arange(5, dtype=np.float32))
    assert last.name == "BiasAdd:0"
    nhwc = tf.nn.bias_add(value, np.arange(5, dtype=np.float32), data_format="NHWC")
    nchw = tf.nn.bias_add(value, np.arange(3, dtype=np.float32), data_format="NCHW")
    b = tf.Variable(np.ones(5, np.float32))
    (db,) = tf.gradients(tf.nn.bias_add(tf.constant(value), b), [b])
    got = run([last, nhwc, nchw, db])
    np.testing.assert_allclose(got[0], value + np.arange(5))
    np.testing.assert_allclose(got[1], got[0])
    np.testing.assert_allclose(got[2], value + np.arange(3)[:, None, None])
    np.testing.assert_allclose(got[3], np.full(5, 24.0))
    with pytest.raises(ValueError, match="Dimensions must be equal, but are 5 and 4"):
        tf.nn.bias_add(value, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="bias must be 1-D"):
        tf.nn.bias_add(value, np.zeros((1, 5), np.float32))
    with pytest.raises(ValueError, match="rank at least 2"):
        tf.nn.bias_add(np.zeros(5, np.float32), np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="data_format"):
        tf.nn.bias_add(value, np.zeros(5, np.float32), data_format="HWCN")


# --------------------------------------------------------------------------------------------
# Dropout


def test_dropout_statistics() -> None:
    ones = np.ones((200, 500), np.float32)
    x = tf.placeholder(tf.float32, [None, 500])
    y = tf.nn.dropout(x, 0.3)
    assert y.shape.as_list() == [None, 500]
    got = run(y, {x: ones})
    kept = got != 0
    # 100000 Bernoulli(0.3) draws: the kept fraction is within 5 standard deviations of 0.3.
    assert abs(kept.mean() - 0.3) < 5 * np.sqrt(0.3 * 0.7 / kept.size)
    np.testing.assert_allclose(got[kept], 1 / 0.3, rtol=1e-6)
    # Rows are not all alike: each element is drawn on its own.
    assert len({r.tobytes() for r in kept[:20]}) == 20


def test_dropout_keep_prob_one_is_exact() -> None:
    x = tf.placeholder(tf.float32, [None, 7])
    assert tf.nn.dropout(x, 1.0) is x
    assert tf.nn.dropout(x, rate=0.0) is x
    assert tf.nn.dropout(x, tf.constant(1.0)) is x
    keep = tf.placeholder(tf.float32, [])
    y = tf.nn.dropout(x, keep)
    values = (RNG.standard_normal((50, 7)) * 1e3).astype(np.float32)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: values, keep: 1.0}), values)
        half = sess.run(y, {x: values, keep: 0.5})
    assert np.isin(half, [0.0, *(2 * values.ravel())]).all()
    assert 0 < np.count_nonzero(half) < half.size


def test_dropout_rate_seed_and_noise_shape() -> None:
    x = tf.placeholder(tf.float32, [None, 6])
    by_rate = tf.nn.dropout(x, rate=0.5, seed=3)
    rows = tf.nn.dropout(x, 0.5, noise_shape=[tf.shape(x)[0], 1])
    rows_static = tf.nn.dropout(x, 0.5, noise_shape=[None, 1])
    cols = tf.nn.dropout(tf.constant(np.ones((4, 6), np.float32)), 0.5, noise_shape=[1, 6])
    ones = np.ones((40, 6), np.float32)
    with tf.Session() as sess:
        a, r, rs, c = sess.run([by_rate, rows, rows_static, cols], {x: ones})
    with tf.Session() as sess:
        b = sess.run(by_rate, {x: ones})
    np.testing.assert_array_equal(a, b)  # a seed repeats across sessions
    assert set(np.unique(a)) <= {0.0, 2.0}
    for m in (r, rs):
        assert all(len(set(row)) == 1 for row in m.tolist()) and set(np.unique(m)) == {0.0, 2.0}
    assert all(len(set(col)) == 1 for col in c.T.tolist())


def test_dropout_gradient_is_the_scaled_mask() -> None:
    x = tf.placeholder(tf.float32, [None, 8])
    y = tf.nn.dropout(x, 0.25)
    (dx,) = tf.gradients(tf.reduce_sum(y * 3.0), [x])
    out, grad = run([y, dx], {x: np.ones((10, 8), np.float32)})
    np.testing.assert_allclose(grad, np.where(out != 0, 3.0 / np.float32(0.25), 0.0), rtol=1e-6)


def test_dropout_argument_errors() -> None:
    x = tf.constant(np.ones((2, 2), np.float32))
    with pytest.raises(ValueError, match="Cannot specify both"):
        tf.nn.dropout(x, keep_prob=0.5, rate=0.5)
    with pytest.raises(ValueError, match="provide a rate"):
        tf.nn.dropout(x)
    with pytest.raises(ValueError, match=r"range \[0, 1\)"):
        tf.nn.dropout(x, keep_prob=0.0)
    with pytest.raises(ValueError, match=r"range \[0, 1\)"):
        tf.nn.dropout(x, rate=-0.5)
    with pytest.raises(ValueError, match="keep_prob must be a floating point number"):
        tf.nn.dropout(x, keep_prob="half")
    with pytest.raises(ValueError, match="floating point tensor"):
        tf.nn.dropout(tf.constant([1, 2]), 0.5)
    with pytest.raises(ValueError, match="must be a scalar"):
        tf.nn.dropout(x, tf.constant([0.5, 0.5]))
    y = tf.placeholder(tf.float32, [None, 3])
    with pytest.raises(ValueError, match=r"noise_shape \[1, 2\] does not broadcast to the shape \[None, 3\]"):
        tf.nn.dropout(y, 0.5, noise_shape=[1, 2])
    other = tf.placeholder(tf.float32, [None])
    with pytest.raises(UnsupportedOpError, match="noise_shape"):
        tf.nn.dropout(y, 0.5, noise_shape=[tf.shape(other)[0], 1])


# --------------------------------------------------------------------------------------------
# tf.losses


L = RNG.standard_normal((4, 3)).astype(np.float32)
P = RNG.standard_normal((4, 3)).astype(np.float32)


@pytest.mark.parametrize(
    ("weights", "reduction", "expected"),
    [
        (1.0, "weighted_sum_by_nonzero_weights", lambda sq, w: sq.mean()),
        (0.0, "weighted_sum_by_nonzero_weights", lambda sq, w: 0.0),
        (np.array([[1], [0], [2], [0]], np.float32), "weighted_sum_by_nonzero_weights", lambda sq, w: (sq * w).sum() / 6),
        (np.array([[1], [0], [2], [0]], np.float32), "weighted_mean", lambda sq, w: (sq * w).sum() / 9),
        (np.array([[1], [0], [2], [0]], np.float32), "weighted_sum", lambda sq, w: (sq * w).sum()),
        (2.0, "weighted_sum_over_batch_size", lambda sq, w: (sq * 2).sum() / 12),
        (2.0, "none", lambda sq, w: sq * 2),
    ],
)
def test_mean_squared_error(weights: Any, reduction: str, expected: Any) -> None:
    loss = tf.losses.mean_squared_error(L, P, weights=weights, reduction=reduction)
    sq = (P.astype(np.float64) - L) ** 2
    np.testing.assert_allclose(run(loss), expected(sq, weights), rtol=1e-5, atol=1e-7)
    assert tf.losses.get_losses() == [loss]


def test_mean_squared_error_default_names_and_gradient() -> None:
    p = tf.Variable(P, name="p")
    loss = tf.losses.mean_squared_error(L, p)
    assert loss.name == "mean_squared_error/value:0" and loss.shape.as_list() == []
    (dp,) = tf.gradients(loss, [p])
    np.testing.assert_allclose(run(dp), 2 * (P - L) / L.size, rtol=1e-5)
    # All weights zero: the loss is 0 and so is its gradient (no division by zero).
    zero = tf.losses.mean_squared_error(L, p, weights=0.0)
    (dz,) = tf.gradients(zero, [p])
    assert run(zero) == 0.0 and not run(dz).any()


def test_other_losses_and_total() -> None:
    logits = tf.constant(LOGITS)
    sce = tf.losses.softmax_cross_entropy(ONEHOT, logits)
    smoothed = tf.losses.softmax_cross_entropy(ONEHOT, logits, weights=np.float32([1, 0, 2, 1]), label_smoothing=0.1)
    sparse = tf.losses.sparse_softmax_cross_entropy(CLASSES[:, None], logits, weights=np.float32([[1], [0], [2], [1]]))
    sig = tf.losses.sigmoid_cross_entropy(ONEHOT, logits, label_smoothing=0.2)
    absolute = tf.losses.absolute_difference(L, P)
    assert sce.name == "softmax_cross_entropy_loss/value:0"
    total = tf.losses.get_total_loss()
    assert total.name == "total_loss:0"
    got = run([sce, smoothed, sparse, sig, absolute, total])
    ls = _log_softmax(LOGITS)
    xent = -(ONEHOT * ls).sum(axis=1)
    smooth_labels = ONEHOT * 0.9 + 0.1 / 5
    w = np.array([1, 0, 2, 1])
    z = ONEHOT * 0.8 + 0.1
    x = LOGITS.astype(np.float64)
    want = [
        xent.mean(),
        (-(smooth_labels * ls).sum(axis=1) * w).sum() / 3,
        (xent * w).sum() / 3,
        (np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))).mean(),
        np.abs(P - L).mean(),
    ]
    np.testing.assert_allclose(got[:5], want, rtol=1e-5)
    np.testing.assert_allclose(got[5], sum(want), rtol=1e-5)
    (d_labels,) = tf.gradients(sce, [logits])
    assert d_labels is not None


def test_losses_argument_errors() -> None:
    with pytest.raises(ValueError, match="Invalid Reduction Key"):
        tf.losses.mean_squared_error(L, P, reduction="mean")
    with pytest.raises(ValueError, match="incompatible"):
        tf.losses.mean_squared_error(L, P[:, :2])
    with pytest.raises(ValueError, match="can not be broadcast"):
        tf.losses.mean_squared_error(L, P, weights=np.ones((4, 2), np.float32))
    with pytest.raises(ValueError, match="labels must not be None"):
        tf.losses.mean_squared_error(None, P)
    with pytest.raises(ValueError, match="No losses"):
        tf.losses.get_total_loss()
    assert tf.losses.Reduction.SUM_OVER_NONZERO_WEIGHTS == tf.losses.Reduction.SUM_BY_NONZERO_WEIGHTS
    assert "none" in tf.losses.Reduction.all()


def test_doctests() -> None:
    import doctest

    from flowir.frontends.graph import losses, nn

    for module in (nn, losses):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__
