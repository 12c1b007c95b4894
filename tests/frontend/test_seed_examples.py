"""The seed examples of TF1 graph mode, run with ``import flowir as tf``."""

from __future__ import annotations

import numpy as np
import pytest

import flowir as tf
import flowir.ir.transforms as transforms


@pytest.fixture(autouse=True)
def graph():
    with tf.Graph().as_default() as g:
        yield g


@pytest.fixture
def extracted(monkeypatch):
    """The op names of every subgraph a session extracts to compile a run."""
    seen: list[list[str]] = []
    real = transforms.extract_subgraph

    def spy(*args, **kwargs):
        sub, mapping = real(*args, **kwargs)
        seen.append(sorted(op.user_name for op in sub.ops))
        return sub, mapping

    monkeypatch.setattr(transforms, "extract_subgraph", spy)
    return seen


def test_variable_named_a():
    a = tf.Variable([1, 2, 3], name="a")
    assert a.name == "a:0"
    assert repr(a) == "<tf.Variable 'a:0' shape=(3,) dtype=int32_ref>"
    with tf.Session() as sess:
        sess.run(a.initializer)
        np.testing.assert_array_equal(sess.run(a), np.array([1, 2, 3], np.int32))


def test_placeholder_matmul_constant():
    x = tf.placeholder(tf.int32, [1, 2])
    w = tf.constant([[3], [4]])
    y = tf.matmul(x, w)
    assert y.shape.as_list() == [1, 1]
    with tf.Session() as sess:
        out = sess.run(y, feed_dict={x: [[1, 2]]})
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[11]])


def test_product_of_two_variables_needs_the_initializer():
    a = tf.Variable(3)
    b = tf.Variable(4)
    c = a * b
    assert repr(c) == "<tf.Tensor 'mul:0' shape=() dtype=int32>"
    with tf.Session() as sess:
        with pytest.raises(tf.errors.FailedPreconditionError, match="Attempting to use uninitialized value Variable"):
            sess.run(c)
        sess.run(tf.global_variables_initializer())
        out = sess.run(c)
    assert out == 12
    assert isinstance(out, np.int32)


def test_only_what_the_fetch_needs_is_computed(extracted):
    a = tf.constant(5, name="a")
    b = tf.constant(2, name="b")
    c = tf.multiply(a, b, name="c")
    d = tf.add(a, c, name="d")
    unused = tf.placeholder(tf.int32, name="unused") * 100  # never fed: must not be needed
    with tf.Session() as sess:
        assert sess.run(d) == 15
        assert sess.run(c) == 10
    assert extracted == [["a", "b", "c", "d"], ["a", "b", "c"]]
    assert unused.name == "mul:0"


def test_result_is_kept_after_the_session_closes():
    v = tf.Variable([1.0, 2.0], name="v")
    doubled = v * 2.0
    sess = tf.Session()
    sess.run(v.initializer)
    kept = sess.run(doubled)
    state = sess.run(v)
    sess.close()
    np.testing.assert_array_equal(kept, [2.0, 4.0])
    np.testing.assert_array_equal(state, [1.0, 2.0])
    kept += 1  # results are plain arrays the caller owns
    np.testing.assert_array_equal(kept, [3.0, 5.0])
    with pytest.raises(RuntimeError, match="closed Session"):
        sess.run(doubled)


def test_nested_name_scopes():
    with tf.name_scope("primitives"):
        a = tf.constant(5, name="a")
        with tf.name_scope("inner"):
            b = tf.Variable(1, name="b")
    assert a.name == "primitives/a:0"
    assert b.name == "primitives/inner/b:0"
    assert b.initializer.name == "primitives/inner/b/Assign"
    with tf.name_scope("primitives"):
        again = tf.constant(6, name="a")
    assert again.name == "primitives_1/a:0"


def test_cpu_device_block_runs():
    with tf.device("/cpu:0"):
        a = tf.constant([1.0, 2.0])
        b = a * 3.0
    assert a.device == "/device:CPU:0"
    assert b.op.device == "/device:CPU:0"
    assert b.op.ir_op.device == "/device:CPU:0"
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(b), [3.0, 6.0])


ISSUE_NAMES = """
Graph get_default_graph reset_default_graph name_scope device control_dependencies identity group no_op
Tensor TensorShape constant placeholder placeholder_with_default Variable assign assign_add assign_sub
global_variables_initializer variables_initializer global_variables trainable_variables
report_uninitialized_variables zeros ones fill zeros_like ones_like range random_uniform random_normal
truncated_normal set_random_seed add subtract multiply divide truediv floordiv mod pow negative abs sign exp
log sqrt rsqrt square tanh sigmoid sin cos maximum minimum equal not_equal less less_equal greater
greater_equal logical_and logical_or logical_not where cast matmul reduce_sum reduce_mean reduce_max
reduce_min reduce_prod reduce_any reduce_all argmax argmin reshape transpose expand_dims squeeze concat
stack split slice gather tile pad one_hot shape size rank float16 bfloat16 float32 float64 int8 int16 int32
int64 uint8 bool string Session InteractiveSession errors train nn convert_to_tensor get_collection
add_to_collection GraphKeys Operation as_dtype get_default_session
""".split()


def test_the_public_surface_has_every_name_of_the_issue():
    missing = [n for n in ISSUE_NAMES if not hasattr(tf, n)]
    assert missing == []
    for n in ("relu", "sigmoid", "tanh", "softmax", "log_softmax", "softplus"):
        assert callable(getattr(tf.nn, n))
    assert callable(tf.train.write_graph)
    assert issubclass(tf.errors.FailedPreconditionError, tf.errors.OpError)
    assert set(tf.__all__) >= set(ISSUE_NAMES)


def test_import_flowir_is_light():
    import subprocess
    import sys

    code = (
        "import sys, flowir\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'jax', 'onnx', 'onnxruntime', 'hypothesis', 'tensorflow'})\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
