"""Variables, assignments, initializers and the source ops around them."""

from __future__ import annotations

import numpy as np
import pytest

import flowir as tf
from flowir.ir.errors import ShapeError


@pytest.fixture(autouse=True)
def graph():
    with tf.Graph().as_default() as g:
        yield g


@pytest.fixture
def sess(graph):
    with tf.Session(graph=graph) as s:
        yield s


def test_variable_is_tf_1_15s_four_ops(graph):
    v = tf.Variable([1.0, 2.0], name="a")
    assert [op.name for op in graph.get_operations()] == ["a/initial_value", "a", "a/Assign", "a/read"]
    assert [op.type for op in graph.get_operations()] == ["flowir.constant", "state.variable", "state.assign", "state.read"]
    assert v.name == "a:0"
    assert v.op.name == "a" and v.op.ir_op.var_name == "a"
    assert v.dtype is tf.float32_ref and v.dtype.base_dtype is tf.float32
    assert v.shape.as_list() == [2]
    assert v.get_shape().as_list() == [2]
    assert v.initializer.name == "a/Assign"
    assert v.initial_value.name == "a/initial_value:0"
    assert v.value().name == "a/read:0"
    assert v.value().dtype is tf.float32
    assert v.graph is graph
    assert v.trainable
    assert str(v) == repr(v) == "<tf.Variable 'a:0' shape=(2,) dtype=float32_ref>"


def test_variable_dtype_and_shape_options():
    assert tf.Variable(1, dtype=tf.float32).dtype.base_dtype is tf.float32
    unshaped = tf.Variable([1, 2], validate_shape=False)
    assert unshaped.shape.ndims is None
    shaped = tf.Variable(tf.placeholder_with_default([1, 2], [None]), shape=[2])
    assert shaped.shape.as_list() == [2]
    with pytest.raises(ValueError, match="not compatible"):
        tf.Variable([1, 2], shape=[3])
    with pytest.raises(ValueError, match="initial_value must be specified"):
        tf.Variable()
    with pytest.raises(ValueError, match="collections argument"):
        tf.Variable(1, collections="oops")


def test_callable_initial_value(sess):
    v = tf.Variable(lambda: tf.constant([3, 4]), name="w")
    assert v.initial_value.name == "w/Initializer/Const:0"
    sess.run(v.initializer)
    np.testing.assert_array_equal(sess.run(v), [3, 4])


def test_variable_creation_ignores_enclosing_control_dependencies():
    a = tf.constant(1.0)
    with tf.control_dependencies([a]):
        v = tf.Variable(2.0)
    assert v.initializer.control_inputs == []
    assert v.op.control_inputs == []


def test_assignments_return_the_new_value(sess):
    v = tf.Variable(10, name="v")
    sess.run(v.initializer)
    assert sess.run(v.assign(3)) == 3
    assert sess.run(v.assign_add(4)) == 7
    assert sess.run(v.assign_sub(2)) == 5
    assert sess.run(tf.assign(v, 1)) == 1
    assert sess.run(tf.assign_add(v, 5)) == 6
    assert sess.run(tf.assign_sub(v, 6)) == 0
    assert sess.run(v) == 0
    op = v.assign(9, read_value=False)
    assert isinstance(op, tf.Operation)
    assert sess.run(op) is None
    assert sess.run(v) == 9
    assert v.assign(1).name == "Assign_3:0"
    assert v.assign(1).op.inputs[1].name == "Assign_4/value:0"
    assert tf.assign(v, 2, name="set").name == "set:0"


def test_assignment_dtype_and_shape_checks():
    v = tf.Variable([1.0, 2.0], name="v")
    with pytest.raises(ValueError, match="Tensor conversion requested dtype float32 for Tensor with dtype int32"):
        v.assign(tf.constant([1, 2]))
    with pytest.raises(ShapeError, match="does not fit the variable's shape"):
        v.assign([1.0, 2.0, 3.0])
    with pytest.raises(ShapeError):
        v.assign_add(1.0)
    with pytest.raises(TypeError, match="must be a Variable"):
        tf.assign(tf.constant(1.0), 2.0)


def test_read_value_sees_control_dependencies_value_does_not(sess):
    v = tf.Variable(0, name="v")
    inc = v.assign_add(1)
    with tf.control_dependencies([inc]):
        fresh = v.read_value()
        snapshot_plus = v + 0
    sess.run(v.initializer)
    assert sess.run(fresh) == 1
    # ``v + 0`` reads the snapshot ``v/read``, which nothing orders after ``inc``.
    assert sess.run(snapshot_plus) == 1
    assert sess.run(v) == 2


def test_variables_act_as_tensors(sess):
    v = tf.Variable([1.0, 2.0], name="v")
    w = tf.Variable(3.0)
    exprs = [v * 2.0, 2.0 * v, v + w, v[1], -v, tf.identity(v), tf.convert_to_tensor(v), tf.matmul(tf.reshape(v, [1, 2]), tf.ones([2, 1]))]
    assert tf.convert_to_tensor(v) is v.value()
    with pytest.raises(ValueError, match="Incompatible type conversion requested to type 'int32'"):
        tf.convert_to_tensor(v, dtype=tf.int32)
    sess.run(tf.global_variables_initializer())
    got = sess.run(exprs)
    expected = [[2.0, 4.0], [2.0, 4.0], [4.0, 5.0], 2.0, [-1.0, -2.0], [1.0, 2.0], [1.0, 2.0], [[3.0]]]
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e)
    assert v.eval() is not None
    np.testing.assert_array_equal(v.eval(session=sess), [1.0, 2.0])
    with pytest.raises(TypeError, match="not iterable|only iterable"):
        list(v)


def test_load_sets_the_value(sess):
    v = tf.Variable([0, 0], name="v")
    v.load([5, 6], sess)
    np.testing.assert_array_equal(sess.run(v), [5, 6])
    with sess.as_default():
        v.load([7, 8])
    np.testing.assert_array_equal(sess.run(v), [7, 8])


def test_collections_and_initializers(graph, sess):
    a = tf.Variable(1, name="a")
    b = tf.Variable(2, name="b", trainable=False)
    c = tf.Variable(3, name="c", collections=[tf.GraphKeys.LOCAL_VARIABLES], trainable=False)
    assert tf.global_variables() == [a, b]
    assert tf.trainable_variables() == [a]
    assert tf.local_variables() == [c]
    init = tf.global_variables_initializer()
    assert init.name == "init" and init.type == "control.group"
    assert [op.name for op in init.control_inputs] == ["a/Assign", "b/Assign"]
    assert tf.variables_initializer([]).type == "control.no_op"
    assert tf.initialize_all_variables().name == "init_2"
    assert sess.run(init) is None
    assert sess.run([a, b]) == [1, 2]
    with pytest.raises(tf.errors.FailedPreconditionError, match="uninitialized value c"):
        sess.run(c)
    sess.run(tf.local_variables_initializer())
    assert sess.run(c) == 3
    assert sess.run(tf.variables_initializer([a])) is None


def test_report_uninitialized_variables(sess):
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    report = tf.report_uninitialized_variables()
    assert report.dtype is tf.string and report.shape.as_list() == [None]
    np.testing.assert_array_equal(sess.run(report), np.array([b"a", b"b"], dtype=object))
    sess.run(a.initializer)
    np.testing.assert_array_equal(sess.run(report), np.array([b"b"], dtype=object))
    sess.run(b.initializer)
    assert sess.run(report).shape == (0,)
    only_b = tf.report_uninitialized_variables([b])
    assert sess.run(only_b).shape == (0,)
    with pytest.raises(ValueError, match="may not be fed"):
        sess.run(report, {report: [b"x"]})


def test_placeholder_with_default(sess):
    p = tf.placeholder_with_default([1, 2, 3], shape=[None])
    assert p.name == "PlaceholderWithDefault:0"
    assert p.shape.as_list() == [None]
    assert p.op.inputs[0].name == "PlaceholderWithDefault/input:0"
    doubled = p * 2
    np.testing.assert_array_equal(sess.run(doubled), [2, 4, 6])
    np.testing.assert_array_equal(sess.run(doubled, {p: [5]}), [10])
    with pytest.raises(ValueError, match="Cannot feed value of shape \\(1, 1\\)"):
        sess.run(doubled, {p: [[5]]})
    with pytest.raises(ValueError, match="not compatible with the default value's shape"):
        tf.placeholder_with_default([1, 2, 3], shape=[2])
    scalar = tf.placeholder_with_default(4.0, shape=[], name="s")
    assert sess.run(scalar) == 4.0 and sess.run(scalar, {scalar: 1.5}) == 1.5


def test_identity_group_and_no_op(sess):
    v = tf.Variable(0, name="v")
    x = tf.identity(tf.constant(3), name="x")
    assert x.name == "x:0" and x.op.type == "array.identity"
    g = tf.group(v.initializer, [x])
    assert g.name == "group_deps"
    assert [op.name for op in g.control_inputs] == ["v/Assign", "x"]
    assert tf.group().type == "control.no_op"
    assert tf.no_op(name="nothing").name == "nothing"
    assert sess.run(g) is None
    assert sess.run(v) == 0
    with pytest.raises(TypeError, match="expected Tensor arguments"):
        tf.group(3)
