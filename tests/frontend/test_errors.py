"""Every error the TF1 API promises: its class, its message and when it is raised."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import flowir as tf
from flowir.frontends.graph.building import make_op
from flowir.ir import PURE, Operation, operand, register_op
from flowir.ir.errors import DTypeError, FlowirError, ShapeError
from flowir.ir.types import Type


@register_op
class NoKernel(Operation):
    """A test-only op that no backend can run."""

    name = "test_errors.no_kernel"
    traits = PURE
    x = operand()

    def infer_type(self, x: Type) -> Type:
        return x


@pytest.fixture(autouse=True)
def graph():
    with tf.Graph().as_default() as g:
        yield g


@pytest.fixture
def sess(graph):
    with tf.Session(graph=graph) as s:
        yield s


def _line() -> int:
    return inspect.currentframe().f_back.f_lineno  # type: ignore[union-attr]


def test_static_shape_error_at_construction_names_both_tensors_and_the_line():
    a = tf.placeholder(tf.float32, [1, 2], name="a")
    b = tf.constant(np.ones((3, 1), np.float32), name="b")
    with pytest.raises(ShapeError) as info:
        line = _line() + 1
        tf.matmul(a, b)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "math.matmul 'MatMul'" in message
    assert "'a' f32[1, 2]" in message
    assert "'b' f32[3, 1]" in message
    assert f"test_errors.py:{line}" in message
    assert tf.get_default_graph().get_operations()[-1].name == "b"  # nothing was added


def test_dtype_error_at_construction():
    with pytest.raises(DTypeError) as info:
        tf.add(tf.constant(1.0, name="f"), tf.constant(1, name="i"))
    assert isinstance(info.value, TypeError)
    assert "'f'" in str(info.value) and "'i'" in str(info.value)


@pytest.mark.parametrize(
    ("dtype", "shape", "message"),
    [
        (tf.float32, [None, 784], "You must feed a value for placeholder tensor 'x' with dtype float and shape [?,784]"),
        (tf.int32, [2, 3], "You must feed a value for placeholder tensor 'x' with dtype int32 and shape [2,3]"),
        (tf.float64, [], "You must feed a value for placeholder tensor 'x' with dtype double"),
        (tf.bool, None, "You must feed a value for placeholder tensor 'x' with dtype bool"),
    ],
)
def test_missing_feed_is_invalid_argument(sess, dtype, shape, message):
    x = tf.placeholder(dtype, shape, name="x")
    y = tf.identity(x)
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        sess.run(y)
    error = info.value
    assert error.message == message
    assert error.error_code == tf.errors.INVALID_ARGUMENT
    assert error.op is x.op
    assert error.node_def.name == "x"
    assert isinstance(error, tf.errors.OpError) and isinstance(error, FlowirError)
    assert "created at" in str(error)


def test_uninitialized_variable_is_failed_precondition(sess):
    with tf.name_scope("layer"):
        w = tf.Variable([1.0], name="w")
    with pytest.raises(tf.errors.FailedPreconditionError) as info:
        sess.run(w * 2.0)
    assert info.value.message == "Attempting to use uninitialized value layer/w"
    assert info.value.op is w.op
    assert info.value.error_code == tf.errors.FAILED_PRECONDITION


def test_feed_shape_mismatch_is_value_error(sess):
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    with pytest.raises(ValueError) as info:
        sess.run(x, {x: np.zeros((2, 3))})
    assert str(info.value) == "Cannot feed value of shape (2, 3) for Tensor 'x:0', which has shape '(?, 4)'"
    assert not isinstance(info.value, tf.errors.OpError)


def test_runtime_kernel_failure_is_invalid_argument_naming_the_op(sess):
    idx = tf.placeholder(tf.int32, [None], name="idx")
    picked = tf.gather(tf.constant([1.0, 2.0], name="params"), idx, name="pick")
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        sess.run(picked, {idx: [7]})
    assert "array.gather 'pick'" in str(info.value)
    assert isinstance(info.value.__cause__, FlowirError)


def test_runtime_shape_mismatch_is_invalid_argument(sess):
    a = tf.placeholder(tf.float32, [None], name="a")
    b = tf.placeholder(tf.float32, [None], name="b")
    with pytest.raises(tf.errors.InvalidArgumentError, match="math.add 'add'"):
        sess.run(a + b, {a: [1.0, 2.0], b: [1.0, 2.0, 3.0]})


def test_op_without_a_kernel_is_unimplemented_before_running(sess):
    v = tf.Variable(0, name="v")
    sess.run(v.initializer)
    op = make_op(NoKernel, [tf.constant(1.0)], default_name="NoKernel")
    with pytest.raises(tf.errors.UnimplementedError, match="test_errors.no_kernel 'NoKernel'"):
        sess.run([v.assign_add(1), op.outputs[0]])
    assert sess.run(v) == 0


def test_error_classes_and_codes():
    classes = {
        tf.errors.CancelledError: tf.errors.CANCELLED,
        tf.errors.UnknownError: tf.errors.UNKNOWN,
        tf.errors.InvalidArgumentError: tf.errors.INVALID_ARGUMENT,
        tf.errors.DeadlineExceededError: tf.errors.DEADLINE_EXCEEDED,
        tf.errors.NotFoundError: tf.errors.NOT_FOUND,
        tf.errors.AlreadyExistsError: tf.errors.ALREADY_EXISTS,
        tf.errors.PermissionDeniedError: tf.errors.PERMISSION_DENIED,
        tf.errors.UnauthenticatedError: tf.errors.UNAUTHENTICATED,
        tf.errors.ResourceExhaustedError: tf.errors.RESOURCE_EXHAUSTED,
        tf.errors.FailedPreconditionError: tf.errors.FAILED_PRECONDITION,
        tf.errors.AbortedError: tf.errors.ABORTED,
        tf.errors.OutOfRangeError: tf.errors.OUT_OF_RANGE,
        tf.errors.UnimplementedError: tf.errors.UNIMPLEMENTED,
        tf.errors.InternalError: tf.errors.INTERNAL,
        tf.errors.UnavailableError: tf.errors.UNAVAILABLE,
        tf.errors.DataLossError: tf.errors.DATA_LOSS,
    }
    assert len(set(classes.values())) == 16
    for cls, code in classes.items():
        e = cls(None, None, "boom")
        assert isinstance(e, tf.errors.OpError)
        assert (e.error_code, e.message, e.op, e.node_def, str(e)) == (code, "boom", None, None, "boom")
        assert tf.errors.exception_type_from_error_code(code) is cls
        assert tf.errors.error_code_from_exception_type(cls) == code
    base = tf.errors.OpError(None, None, "generic", tf.errors.ABORTED)
    assert base.error_code == tf.errors.ABORTED
    import pickle

    again = pickle.loads(pickle.dumps(tf.errors.NotFoundError(None, None, "gone")))
    assert type(again) is tf.errors.NotFoundError and again.message == "gone"


def test_graph_building_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match="'bad name' is not a valid scope name"):
        with tf.name_scope("bad name"):
            pass
    with pytest.raises(ValueError, match="Unknown attribute 'tpu0'"):
        with tf.device("/tpu0:1"):
            pass
    with pytest.raises(KeyError, match="The operation, 'nope', does not exist"):
        tf.get_default_graph().get_tensor_by_name("nope:0")
