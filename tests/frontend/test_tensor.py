"""Tensors, operations, static shapes, dtypes and conversion to tensors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import flowir as tf
from flowir.frontends.graph.tensor import Dimension


@pytest.fixture(autouse=True)
def graph():
    with tf.Graph().as_default() as g:
        yield g


# -- TensorShape and Dimension ---------------------------------------------------------------


def test_tensor_shape_basics():
    s = tf.TensorShape([None, 784])
    assert str(s) == "(?, 784)"
    assert repr(s) == "TensorShape([Dimension(None), Dimension(784)])"
    assert s.as_list() == [None, 784]
    assert s.ndims == s.rank == 2
    assert s.dims == [Dimension(None), Dimension(784)] or s.dims[1].value == 784
    assert s[1] == 784 and isinstance(s[1], Dimension)
    assert s[0].value is None
    assert s[1:].as_list() == [784]
    assert s[-1].value == 784
    assert not s.is_fully_defined()
    assert s.num_elements() is None
    assert tf.TensorShape([2, 3]).num_elements() == 6
    assert len(s) == 2
    assert [d.value for d in s] == [None, 784]
    assert str(tf.TensorShape([3])) == "(3,)"
    assert str(tf.TensorShape([])) == "()"
    assert str(tf.TensorShape(None)) == "<unknown>"


def test_tensor_shape_compatibility_and_merging():
    s = tf.TensorShape([None, 3])
    assert s.is_compatible_with([5, 3])
    assert not s.is_compatible_with([5, 4])
    assert not s.is_compatible_with([3])
    assert s.is_compatible_with(tf.TensorShape(None))
    assert s.merge_with([2, None]).as_list() == [2, 3]
    with pytest.raises(ValueError, match=r"Shapes \(\?, 3\) and \(2, 4\) are not compatible"):
        s.merge_with([2, 4])
    assert s.concatenate([4]).as_list() == [None, 3, 4]
    assert (tf.TensorShape([1, 2]) + tf.TensorShape([3])).as_list() == [1, 2, 3]
    assert s.concatenate(tf.TensorShape(None)).ndims is None
    assert tf.TensorShape([1, 2]).most_specific_compatible_shape([1, 3]).as_list() == [1, None]
    assert s.with_rank(2) is not None
    with pytest.raises(ValueError, match="must have rank 3"):
        s.with_rank(3)


def test_tensor_shape_equality_is_tf_1_15s():
    assert tf.TensorShape([2, 3]) == [2, 3]
    assert tf.TensorShape([2, 3]) != [2, 4]
    assert tf.TensorShape([1]) != [2]
    # An unknown dim equals nothing, not even another unknown dim (TF 1.15's Dimension rule).
    assert not (tf.TensorShape([None]) == tf.TensorShape([None]))
    assert tf.TensorShape(None) == tf.TensorShape(None)
    with pytest.raises(TypeError):
        hash(tf.TensorShape([1]))


def test_unknown_rank_shape():
    s = tf.TensorShape(None)
    assert not bool(s)
    assert bool(tf.TensorShape([]))
    assert s.ndims is None
    assert s[0].value is None
    assert s[1:].ndims is None
    with pytest.raises(ValueError, match="as_list\\(\\) is not defined on an unknown TensorShape"):
        s.as_list()
    with pytest.raises(ValueError, match="Cannot take the length of shape with unknown rank"):
        len(s)


def test_dimension_arithmetic_and_comparisons():
    d = Dimension(3)
    assert (d + 1).value == 4
    assert (2 * d).value == 6
    assert (d * Dimension(None)).value is None
    assert (d == None) is None  # noqa: E711 - TF's Dimension semantics
    assert (Dimension(None) == 3) is None
    assert (Dimension(None) != 3) is None
    assert int(d) == 3 and d.value == 3
    assert str(Dimension(None)) == "?"
    assert d.merge_with(None).value == 3
    with pytest.raises(ValueError, match="are not compatible"):
        d.merge_with(4)
    with pytest.raises(ValueError, match="must be >= 0"):
        Dimension(-1)
    with pytest.raises(TypeError):
        Dimension(1.5)
    assert pickle.loads(pickle.dumps(tf.TensorShape([None, 2]))).as_list() == [None, 2]


# -- Tensor ----------------------------------------------------------------------------------


def test_tensor_attributes(graph):
    x = tf.placeholder(tf.float32, [None, 784], name="x")
    assert x.name == "x:0"
    assert x.op.name == "x"
    assert x.op.type == "flowir.placeholder"
    assert x.dtype is tf.float32
    assert x.shape.as_list() == [None, 784]
    assert x.get_shape() == x.shape or x.get_shape().as_list() == [None, 784]
    assert x.graph is graph
    assert x.value_index == 0
    assert x.value is x.op.ir_op.results[0]
    assert repr(x) == "<tf.Tensor 'x:0' shape=(?, 784) dtype=float32>"
    assert str(x) == 'Tensor("x:0", shape=(?, 784), dtype=float32)'
    assert tf.placeholder(tf.float32).shape.ndims is None
    assert tf.placeholder(tf.float32, [-1, 3]).shape.as_list() == [None, 3]
    assert tf.placeholder(tf.float32, []).shape.as_list() == []


def test_tensor_consumers_and_hashing():
    a = tf.constant(1.0, name="a")
    b = a + 1.0
    c = a * b
    assert [op.name for op in a.consumers()] == ["add", "mul"]
    assert [op.name for op in b.consumers()] == ["mul"]
    assert c.consumers() == []
    assert len({a, b, c, a}) == 3
    assert (a == a) is True
    assert (a == b) is False  # identity comparison, as TF 1.x tensors


def test_tensor_is_not_a_python_bool_iterable_or_array():
    x = tf.placeholder(tf.float32, [3], name="x")
    with pytest.raises(TypeError, match="as a Python `bool` is not allowed"):
        bool(x)
    with pytest.raises(TypeError, match="only iterable when eager execution"):
        iter(x)
    with pytest.raises(TypeError, match="len is not well defined"):
        len(x)
    with pytest.raises(NotImplementedError, match="Cannot convert a symbolic Tensor"):
        np.asarray(x)


def test_set_shape_refines_and_checks():
    x = tf.placeholder(tf.float32, [None, 3])
    x.set_shape([5, None])
    assert x.shape.as_list() == [5, 3]
    with pytest.raises(ValueError, match="not compatible"):
        x.set_shape([4, 3])


def test_operators_build_tf_named_ops():
    x = tf.constant(3)
    y = x + 2
    assert y.name == "add:0"
    assert [t.name for t in y.op.inputs] == ["Const:0", "add/y:0"]
    assert (2 * x).name == "mul:0"
    assert (x - 1).name == "sub:0"
    assert (10 - x).op.inputs[0].name == "sub_1/x:0"
    ops = [x // 2, x % 2, x**2, -x, abs(x), x < 2, x <= 2, x > 2, x >= 2]
    assert [t.op.type for t in ops] == [
        "math.floordiv",
        "math.mod",
        "math.pow",
        "math.neg",
        "math.abs",
        "math.less",
        "math.less_equal",
        "math.greater",
        "math.greater_equal",
    ]
    f = tf.constant([[1.0, 2.0]])
    m = f @ tf.constant([[1.0], [1.0]])
    assert m.op.type == "math.matmul" and m.shape.as_list() == [1, 1]
    assert (f / 2).dtype is tf.float32
    t = tf.constant(True)
    assert [(t & False).op.type, (t | False).op.type, (t ^ True).op.type, (~t).op.type] == [
        "math.logical_and",
        "math.logical_or",
        "math.logical_xor",
        "math.logical_not",
    ]
    assert f[0, 1:].shape.as_list() == [1]
    with tf.Session() as sess:
        got = sess.run([y, 2 * x, 10 - x, x // 2, -x, x < 4, f[0, 1:], 7.0 / f])
    assert got[:6] == [5, 6, 7, 1, -3, True]
    np.testing.assert_array_equal(got[6], [2.0])
    np.testing.assert_array_equal(got[7], [[7.0, 3.5]])


def test_operator_scalars_take_the_tensor_dtype():
    f = tf.constant([1.0, 2.0])
    assert (f + 1).dtype is tf.float32
    assert (1 + f).dtype is tf.float32
    assert (f * np.float64(2)).dtype is tf.float32
    assert (np.float32(2) * f).dtype is tf.float32
    i = tf.constant([1, 2])
    with pytest.raises(TypeError):
        i + 2.5
    with pytest.raises(TypeError, match="Expected int32, but got 2.5"):
        2.5 + i
    with pytest.raises(TypeError):
        f + i


def test_eval_and_run_with_the_default_session():
    x = tf.placeholder(tf.int32, [], name="x")
    y = x * 2
    with pytest.raises(ValueError, match="No default session is registered"):
        y.eval({x: 1})
    with tf.Session() as sess:
        assert y.eval({x: 4}) == 8
        assert y.eval(feed_dict={x: 5}, session=sess) == 10
        assert tf.get_default_session() is sess
    with pytest.raises(ValueError, match="No default session is registered"):
        tf.no_op().run()


# -- Operation -------------------------------------------------------------------------------


def test_operation_wrapper():
    a = tf.constant([1.0, 2.0], name="a")
    with tf.control_dependencies([a]):
        g = tf.group(a, name="g")
    with tf.device("/cpu:0"):
        b = tf.identity(a, name="b")
    op = b.op
    assert op.name == "b"
    assert op.type == "array.identity"
    assert op.inputs == [a]
    assert op.outputs == [b] and op.values() == (b,)
    assert op.device == "/device:CPU:0"
    assert op.graph is a.graph
    assert repr(op) == "<tf.Operation 'b' type=array.identity>"
    assert '"array.identity"' in str(op)
    assert g.outputs == []
    assert [c.name for c in g.control_inputs] == ["a"]
    assert g.node_def.input == ["^a"]
    assert b.op.node_def.input == ["a:0"] and b.op.node_def.device == "/device:CPU:0"
    np.testing.assert_array_equal(a.op.get_attr("value"), [1.0, 2.0])
    with pytest.raises(ValueError, match="has no attr named 'nope'"):
        a.op.get_attr("nope")


def test_operation_run_uses_the_default_session():
    v = tf.Variable(1, name="v")
    with tf.Session() as sess:
        assert v.initializer.run() is None
        assert sess.run(v) == 1


# -- dtypes ----------------------------------------------------------------------------------


def test_dtype_objects():
    assert tf.float32.name == "float32"
    assert repr(tf.float32) == "tf.float32"
    assert str(tf.float32) == "<dtype: 'float32'>"
    assert tf.float32.as_numpy_dtype is np.float32
    assert tf.string.as_numpy_dtype is np.object_
    assert tf.float32.is_floating and not tf.float32.is_integer
    assert tf.int32.is_integer and tf.uint8.is_unsigned and tf.bool.is_bool
    assert tf.float32.base_dtype is tf.float32
    assert tf.float32_ref.base_dtype is tf.float32
    assert tf.float32.as_datatype_enum == 1 and tf.float32_ref.as_datatype_enum == 101
    assert tf.int8.min == -128 and tf.uint8.max == 255
    assert tf.float16.max == np.finfo(np.float16).max
    assert tf.bfloat16.size == 2 and tf.float64.size == 8
    assert tf.half is tf.float16 and tf.double is tf.float64
    with pytest.raises(TypeError):
        tf.bool.min  # noqa: B018


def test_as_dtype_and_equality():
    assert tf.as_dtype("float32") is tf.float32
    assert tf.as_dtype("float") is tf.float32
    assert tf.as_dtype(np.float64) is tf.float64
    assert tf.as_dtype(np.dtype("int16")) is tf.int16
    assert tf.as_dtype(float) is tf.float32
    assert tf.as_dtype(bool) is tf.bool
    assert tf.as_dtype(str) is tf.string
    assert tf.as_dtype("float32_ref") is tf.float32_ref
    from flowir.ir import DType

    assert tf.as_dtype(DType.int64) is tf.int64
    assert tf.float32 == "float32" and tf.float32 == np.float32
    assert tf.float32 != tf.float32_ref
    assert tf.float32 != "nonsense" and tf.float32 is not None
    assert tf.float32.is_compatible_with(tf.float32_ref)
    assert not tf.float32.is_compatible_with(tf.int32)
    assert hash(tf.float32) == hash(tf.as_dtype("float32"))
    assert pickle.loads(pickle.dumps(tf.int32_ref)) is tf.int32_ref
    for bad in (int, "nonsense", np.complex64, object()):
        with pytest.raises(TypeError, match="Cannot convert value"):
            tf.as_dtype(bad)


# -- conversion and constants ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "dtype", "shape"),
    [
        (1, tf.int32, []),
        (2**40, tf.int64, []),
        (1.5, tf.float32, []),
        (True, tf.bool, []),
        ("s", tf.string, []),
        (b"s", tf.string, []),
        ([1, 2.5], tf.float32, [2]),
        ([[1, 2], [3, 4]], tf.int32, [2, 2]),
        (np.float64(1), tf.float64, []),
        (np.array([1, 2]), tf.int64, [2]),
        (np.array([1, 2], np.int8), tf.int8, [2]),
        ([], tf.float32, [0]),
    ],
)
def test_convert_to_tensor_infers_tf_dtypes(value, dtype, shape):
    t = tf.convert_to_tensor(value)
    assert t.dtype is dtype
    assert t.shape.as_list() == shape


def test_convert_to_tensor_with_dtype():
    assert tf.convert_to_tensor(1, dtype=tf.float32).dtype is tf.float32
    assert tf.convert_to_tensor([True], dtype=tf.int32).dtype is tf.int32
    assert tf.convert_to_tensor(np.array([1.7]), dtype=tf.int32).dtype is tf.int32
    with pytest.raises(TypeError, match="Expected int32, but got 1.5 of type 'float'"):
        tf.convert_to_tensor([1.5], dtype=tf.int32)
    with pytest.raises(TypeError, match="Expected bool, but got 1 of type 'int'"):
        tf.convert_to_tensor([1], dtype=tf.bool)
    with pytest.raises(TypeError, match="out of its range"):
        tf.convert_to_tensor(2**40, dtype=tf.int32)
    with pytest.raises(TypeError, match="Expected string, but got an array of dtype int64"):
        tf.constant(np.array([1, 2]), dtype=tf.string)
    with pytest.raises(TypeError, match="Expected float32, but got an array of dtype object"):
        tf.constant(np.array(["a"]), dtype=tf.float32)
    assert tf.constant(np.array(["a"]), dtype=tf.string).dtype is tf.string
    t = tf.constant(1)
    assert tf.convert_to_tensor(t) is t
    assert tf.convert_to_tensor(t, dtype=tf.int32) is t
    with pytest.raises(ValueError, match="Tensor conversion requested dtype float32 for Tensor with dtype int32"):
        tf.convert_to_tensor(t, dtype=tf.float32)
    assert tf.convert_to_tensor(2, preferred_dtype=tf.float32).dtype is tf.float32
    assert tf.convert_to_tensor(2.5, preferred_dtype=tf.int32).dtype is tf.float32
    assert tf.convert_to_tensor(t, preferred_dtype=tf.float32) is t


def test_convert_to_tensor_rejects_bad_values():
    with pytest.raises(ValueError, match="dense tensor"):
        tf.convert_to_tensor([[1, 2], [3]])
    with pytest.raises(ValueError, match="None values not supported"):
        tf.convert_to_tensor(None)
    with pytest.raises(TypeError, match="Failed to convert object"):
        tf.convert_to_tensor(object())
    with pytest.raises(TypeError, match="Failed to convert object"):
        tf.constant([tf.constant(1)])


def test_auto_packing_lists_of_tensors(graph):
    x = tf.constant(1, name="x")
    packed = tf.convert_to_tensor([x, 2])
    assert packed.name == "packed:0"
    assert packed.op.type == "array.stack"
    assert [op.name for op in graph.get_operations()][-2:] == ["packed/1", "packed"]
    nested = tf.convert_to_tensor([[x, 1], [2, 3]])
    assert nested.shape.as_list() == [2, 2]
    with pytest.raises(TypeError, match="Expected int32, but got 2.5"):
        tf.convert_to_tensor([x, 2.5])
    with pytest.raises(TypeError, match="Cannot convert a list containing a tensor of dtype"):
        tf.convert_to_tensor([x, 2], dtype=tf.float32)
    v = tf.Variable(5)
    with tf.Session() as sess:
        sess.run(v.initializer)
        np.testing.assert_array_equal(sess.run(nested), [[1, 1], [2, 3]])
        np.testing.assert_array_equal(sess.run(tf.convert_to_tensor([v, x])), [5, 1])


def test_register_tensor_conversion_function():
    class Meters:
        def __init__(self, value):
            self.value = value

    def convert(value, dtype=None, name=None, as_ref=False):
        return tf.constant(value.value, dtype=dtype or tf.float32, name=name or "Meters")

    tf.register_tensor_conversion_function(Meters, convert)
    t = tf.convert_to_tensor(Meters(3))
    assert t.dtype is tf.float32 and t.op.name == "Meters"
    with tf.Session() as sess:
        assert sess.run(tf.constant(2.0) * Meters(4)) == 8.0


def test_constant_shapes_follow_tf_1_15():
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(tf.constant(7, shape=[2, 2])), [[7, 7], [7, 7]])
        np.testing.assert_array_equal(sess.run(tf.constant([1, 2], shape=[5])), [1, 2, 2, 2, 2])
        np.testing.assert_array_equal(sess.run(tf.constant([1, 2, 3, 4], shape=[2, 2])), [[1, 2], [3, 4]])
        assert sess.run(tf.constant([], shape=[2], dtype=tf.float32)).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="Too many elements provided. Needed at most 2, but received 3"):
        tf.constant([1, 2, 3], shape=[2])
    with pytest.raises(TypeError, match="Expected Tensor's shape"):
        tf.constant([1, 2], shape=[1, 2], verify_shape=True)
    with pytest.raises(ValueError, match="fully defined"):
        tf.constant(1, shape=[None])
    assert tf.constant(1, name="k").name == "k:0"
    with tf.Graph().as_default():
        assert tf.constant(1).name == "Const:0"
