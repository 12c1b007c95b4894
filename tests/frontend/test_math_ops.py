"""The TF1-style math ops: values against numpy, default names, dtype rules, static shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import flowir as tf
from flowir.ir.dtypes import DType
from flowir.ir.errors import DTypeError, ShapeError, UnsupportedOpError
from flowir.ir.types import TensorType
from flowir.testing import strategies as fst
from flowir.testing.checks import assert_array_matches


@pytest.fixture(autouse=True)
def _fresh_graph():
    with tf.Graph().as_default():
        yield


def run(fetches: Any, feed_dict: dict | None = None) -> Any:
    # These tests pin the ops' semantics against numpy formulas, subnormals included: they run
    # on the reference backend (the jax backend, which flushes subnormals to zero as TF's
    # kernels do, is checked against the reference in tests/backends/test_jax*.py).
    with tf.Session(backend="numpy") as sess:
        return sess.run(fetches, feed_dict)


def _ty(dt: DType, shape: tuple[int, ...]) -> TensorType:
    return TensorType(dt, shape)


# --------------------------------------------------------------------------------------------
# Elementwise ops against numpy

FLOATS = (DType.float32, DType.float64)
SIGNED = (DType.float32, DType.float64, DType.int32, DType.int64, DType.int8)
NUMERIC = (*SIGNED, DType.uint8)


def _nonzero(dt: DType) -> st.SearchStrategy[Any]:
    return fst.elements_for(dt).filter(lambda v: v != 0)


def _positive(dt: DType) -> st.SearchStrategy[Any]:
    return st.floats(0.25, 8.0, width=32)


def _floor_div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "f":
        return np.floor(np.true_divide(x, y)).astype(x.dtype)
    return np.floor_divide(x, y)


def _py2_div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.true_divide(x, y).astype(x.dtype) if x.dtype.kind == "f" else np.floor_divide(x, y)


#: (function, numpy reference, dtypes, strategy for y's elements or None).
BINARY: list[tuple[Callable[..., Any], Callable[..., Any], tuple[DType, ...], Any]] = [
    (tf.add, np.add, NUMERIC, None),
    (tf.subtract, np.subtract, NUMERIC, None),
    (tf.multiply, np.multiply, NUMERIC, None),
    (tf.maximum, np.maximum, NUMERIC, None),
    (tf.minimum, np.minimum, NUMERIC, None),
    (tf.floordiv, _floor_div, NUMERIC, _nonzero),
    (tf.div, _py2_div, NUMERIC, _nonzero),
    (tf.mod, np.remainder, (DType.float32, DType.int32, DType.int64), _nonzero),
    (tf.pow, np.power, (DType.float32, DType.float64), _positive),
    (tf.pow, np.power, (DType.int32, DType.int64), lambda dt: st.integers(0, 3)),
    (tf.equal, np.equal, (*NUMERIC, DType.bool), None),
    (tf.not_equal, np.not_equal, (*NUMERIC, DType.bool), None),
    (tf.less, np.less, NUMERIC, None),
    (tf.less_equal, np.less_equal, NUMERIC, None),
    (tf.greater, np.greater, NUMERIC, None),
    (tf.greater_equal, np.greater_equal, NUMERIC, None),
    (tf.logical_and, np.logical_and, (DType.bool,), None),
    (tf.logical_or, np.logical_or, (DType.bool,), None),
    (tf.logical_xor, np.logical_xor, (DType.bool,), None),
]


@pytest.mark.parametrize(("fn", "ref", "dts", "y_elements"), BINARY, ids=lambda v: getattr(v, "__name__", ""))
@given(data=st.data())
def test_binary_matches_numpy(fn, ref, dts, y_elements, data) -> None:
    dt = data.draw(st.sampled_from(dts))
    shapes = data.draw(fst.broadcastable_shapes(2, max_dims=3, max_side=4))
    x_np = data.draw(fst.arrays_for(_ty(dt, shapes.concrete_shapes[0])))
    y_elems = None if y_elements is None else y_elements(dt)
    y_np = data.draw(fst.arrays_for(_ty(dt, shapes.concrete_shapes[1]), elements=y_elems))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.as_dtype(dt), shapes.input_shapes[0])
        y = tf.placeholder(tf.as_dtype(dt), shapes.input_shapes[1])
        z = fn(x, y)
        assert z.shape.as_list() == list(shapes.result_shape)
        got = run(z, {x: x_np, y: y_np})
    with np.errstate(all="ignore"):
        want = np.asarray(ref(x_np, y_np))
    if want.dtype != np.bool_:
        want = want.astype(dt.numpy)
    assert_array_matches(got, want)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1 / (1 + np.exp(-x.astype(np.float64)))).astype(x.dtype)


UNARY: list[tuple[Callable[..., Any], Callable[..., Any], tuple[DType, ...], Any]] = [
    (tf.negative, np.negative, SIGNED, None),
    (tf.abs, np.abs, SIGNED, None),
    (tf.sign, np.sign, SIGNED, None),
    (tf.square, np.square, NUMERIC, None),
    (tf.exp, np.exp, FLOATS, None),
    (tf.log, np.log, FLOATS, _positive),
    (tf.sqrt, np.sqrt, FLOATS, _positive),
    (tf.rsqrt, lambda x: 1 / np.sqrt(x), FLOATS, _positive),
    (tf.tanh, np.tanh, FLOATS, None),
    (tf.sigmoid, _sigmoid, FLOATS, None),
    (tf.sin, np.sin, FLOATS, None),
    (tf.cos, np.cos, FLOATS, None),
    (tf.logical_not, np.logical_not, (DType.bool,), None),
]


@pytest.mark.parametrize(("fn", "ref", "dts", "elements"), UNARY, ids=lambda v: getattr(v, "__name__", ""))
@given(data=st.data())
def test_unary_matches_numpy(fn, ref, dts, elements, data) -> None:
    dt = data.draw(st.sampled_from(dts))
    static = data.draw(fst.shapes(max_rank=3, max_side=4))
    x_np = data.draw(fst.arrays_for(_ty(dt, static), elements=None if elements is None else elements(dt)))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.as_dtype(dt), static)
        z = fn(x)
        assert z.shape.as_list() == list(static)
        assert z.dtype == tf.as_dtype(dt)
        got = run(z, {x: x_np})
    with np.errstate(all="ignore"):
        want = np.asarray(ref(x_np)).astype(x_np.dtype)
    assert_array_matches(got, want)


# --------------------------------------------------------------------------------------------
# Names


NAMED: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("Add", lambda x, b: tf.add(x, x)),
    ("Sub", lambda x, b: tf.subtract(x, x)),
    ("Mul", lambda x, b: tf.multiply(x, x)),
    ("truediv", lambda x, b: tf.truediv(x, x)),
    ("truediv", lambda x, b: tf.divide(x, x)),
    ("div", lambda x, b: tf.div(x, x)),
    ("floordiv", lambda x, b: tf.floordiv(x, x)),
    ("FloorMod", lambda x, b: tf.mod(x, x)),
    ("Pow", lambda x, b: tf.pow(x, x)),
    ("Maximum", lambda x, b: tf.maximum(x, x)),
    ("Minimum", lambda x, b: tf.minimum(x, x)),
    ("Neg", lambda x, b: tf.negative(x)),
    ("Abs", lambda x, b: tf.abs(x)),
    ("Sign", lambda x, b: tf.sign(x)),
    ("Exp", lambda x, b: tf.exp(x)),
    ("Log", lambda x, b: tf.log(x)),
    ("Sqrt", lambda x, b: tf.sqrt(x)),
    ("Rsqrt", lambda x, b: tf.rsqrt(x)),
    ("Square", lambda x, b: tf.square(x)),
    ("Tanh", lambda x, b: tf.tanh(x)),
    ("Sigmoid", lambda x, b: tf.sigmoid(x)),
    ("Sin", lambda x, b: tf.sin(x)),
    ("Cos", lambda x, b: tf.cos(x)),
    ("Equal", lambda x, b: tf.equal(x, x)),
    ("NotEqual", lambda x, b: tf.not_equal(x, x)),
    ("Less", lambda x, b: tf.less(x, x)),
    ("LessEqual", lambda x, b: tf.less_equal(x, x)),
    ("Greater", lambda x, b: tf.greater(x, x)),
    ("GreaterEqual", lambda x, b: tf.greater_equal(x, x)),
    ("LogicalAnd", lambda x, b: tf.logical_and(b, b)),
    ("LogicalOr", lambda x, b: tf.logical_or(b, b)),
    ("LogicalXor", lambda x, b: tf.logical_xor(b, b)),
    ("LogicalNot", lambda x, b: tf.logical_not(b)),
    ("Select", lambda x, b: tf.where(b, x, x)),
    ("Cast", lambda x, b: tf.cast(x, tf.int32)),
    ("ToFloat", lambda x, b: tf.to_float(b)),
    ("ToDouble", lambda x, b: tf.to_double(x)),
    ("ToInt32", lambda x, b: tf.to_int32(x)),
    ("ToInt64", lambda x, b: tf.to_int64(x)),
    ("MatMul", lambda x, b: tf.matmul(x, x)),
    ("Sum", lambda x, b: tf.reduce_sum(x)),
    ("Mean", lambda x, b: tf.reduce_mean(x)),
    ("Max", lambda x, b: tf.reduce_max(x)),
    ("Min", lambda x, b: tf.reduce_min(x)),
    ("Prod", lambda x, b: tf.reduce_prod(x)),
    ("Any", lambda x, b: tf.reduce_any(b)),
    ("All", lambda x, b: tf.reduce_all(b)),
    ("ArgMax", lambda x, b: tf.argmax(x)),
    ("ArgMin", lambda x, b: tf.argmin(x)),
]


@pytest.mark.parametrize(("name", "build"), NAMED, ids=[n for n, _ in NAMED])
def test_default_names_and_uniquifying(name: str, build: Callable[[Any, Any], Any]) -> None:
    x = tf.placeholder(tf.float32, [2, 2], name="x")
    b = tf.placeholder(tf.bool, [2, 2], name="b")
    assert build(x, b).op.name == name
    assert build(x, b).op.name == f"{name}_1"
    with tf.name_scope("scope"):
        assert build(x, b).name == f"scope/{name}:0"


def test_explicit_names() -> None:
    x = tf.placeholder(tf.float32, [2])
    assert tf.add(x, x, name="total").name == "total:0"
    assert tf.add(x, x, name="total").name == "total_1:0"
    assert tf.reduce_sum(x, name="s").name == "s:0"
    assert tf.cast(x, tf.int32, name="c").name == "c:0"


def test_python_operand_becomes_a_constant_inside_the_op_scope() -> None:
    x = tf.placeholder(tf.float32, [2], name="x")
    z = tf.maximum(x, 1)
    assert z.op.name == "Maximum"
    names = [op.name for op in tf.get_default_graph().get_operations()]
    assert "Maximum/y" in names
    # A user name "y" stays free.
    assert tf.constant(1.0, name="y").name == "y:0"


def test_truediv_casts_are_named_inside_its_scope() -> None:
    i = tf.placeholder(tf.int32, [2])
    z = tf.truediv(i, i)
    names = [op.name for op in tf.get_default_graph().get_operations()]
    assert z.op.name == "truediv"
    assert {"truediv/Cast", "truediv/Cast_1"} <= set(names)


# --------------------------------------------------------------------------------------------
# Conversions and dtype rules


@pytest.mark.parametrize(
    ("dt", "value", "expected"),
    [(tf.float32, 2, tf.float32), (tf.float64, 2, tf.float64), (tf.int64, 2, tf.int64), (tf.float16, 0.5, tf.float16)],
)
def test_python_scalar_takes_the_tensor_dtype(dt: Any, value: Any, expected: Any) -> None:
    x = tf.placeholder(dt, [3])
    for z in (tf.add(x, value), tf.add(value, x), tf.multiply(x, [value] * 3), tf.maximum(value, x)):
        assert z.dtype == expected
    got = run(tf.subtract(value, x), {x: np.arange(3)})
    assert_array_matches(got, (value - np.arange(3)).astype(expected.as_numpy_dtype))


def test_python_values_alone_use_tf_defaults() -> None:
    assert tf.add(1, 2).dtype == tf.int32
    assert tf.add(1.5, 2).dtype == tf.float32
    assert run(tf.add([1, 2], 3)).tolist() == [4, 5]


def test_float_scalar_with_int_tensor_is_a_type_error() -> None:
    i = tf.placeholder(tf.int32, [2], name="i")
    with pytest.raises(TypeError):
        tf.add(i, 2.5)
    with pytest.raises(TypeError):
        tf.multiply(2.5, i)


def test_mismatched_tensor_dtypes_name_op_and_tensors() -> None:
    x = tf.placeholder(tf.float32, [2], name="x")
    i = tf.placeholder(tf.int32, [2], name="i")
    with pytest.raises(DTypeError) as e:
        tf.add(x, i)
    msg = str(e.value)
    assert "math.add 'Add'" in msg and "'x'" in msg and "'i'" in msg and "f32" in msg and "i32" in msg
    assert "test_math_ops.py" in msg
    assert isinstance(e.value, TypeError)


@pytest.mark.parametrize(
    ("dt", "expected"),
    [
        (tf.int8, tf.float32),
        (tf.int16, tf.float32),
        (tf.uint8, tf.float32),
        (tf.int32, tf.float64),
        (tf.int64, tf.float64),
        (tf.float16, tf.float16),
        (tf.float32, tf.float32),
        (tf.float64, tf.float64),
    ],
)
def test_truediv_dtype_table(dt: Any, expected: Any) -> None:
    x = tf.placeholder(dt, [4])
    z = x / tf.constant(np.array([1, 2, 4, 8], dt.as_numpy_dtype))
    assert tf.truediv(x, x).dtype == expected
    assert z.dtype == expected
    got = run(z, {x: np.array([1, 3, 5, 7], dt.as_numpy_dtype)})
    assert_array_matches(got, np.array([1, 1.5, 1.25, 0.875], expected.as_numpy_dtype))


def test_truediv_rejects_bool_and_mixed_dtypes() -> None:
    with pytest.raises(TypeError, match="Invalid dtype"):
        tf.truediv(tf.constant(True), tf.constant(False))
    with pytest.raises(TypeError, match="same dtype"):
        tf.truediv(tf.constant(1), tf.constant(1.0))


def test_div_floors_integers_and_divides_floats() -> None:
    assert run(tf.div(tf.constant([-7, 7]), 2)).tolist() == [-4, 3]
    assert run(tf.div(tf.constant([-7.0, 7.0]), 2)).tolist() == [-3.5, 3.5]
    assert run(tf.floordiv(tf.constant([-7, 7]), 2)).tolist() == [-4, 3]
    assert run(tf.mod(tf.constant([-7, 7]), 3)).tolist() == [2, 1]


def test_unary_dtype_errors() -> None:
    with pytest.raises(DTypeError):
        tf.exp(tf.constant([1, 2]))
    with pytest.raises(DTypeError):
        tf.negative(tf.constant([1], tf.uint8))
    with pytest.raises(DTypeError):
        tf.logical_and(tf.constant([1]), tf.constant([1]))
    assert run(tf.abs([1, -2])).tolist() == [1, 2]


# --------------------------------------------------------------------------------------------
# where and cast


def test_where_selects_and_converts_python_operands() -> None:
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    z = tf.where(x > 0, x, tf.zeros_like(x))
    xv = np.array([[-1, 2, -3], [4, -5, 6]], np.float32)
    assert z.shape.as_list() == [None, 3]
    assert_array_matches(run(z, {x: xv}), np.where(xv > 0, xv, 0).astype(np.float32))
    assert run(tf.where([True, False], [1, 2], [3, 4])).tolist() == [1, 4]


def test_where_vector_condition_picks_rows() -> None:
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    z = tf.where([True, False, False, True], tf.constant(x), tf.constant(-x))
    assert z.shape.as_list() == [4, 3]
    assert_array_matches(run(z), np.where(np.array([True, False, False, True])[:, None], x, -x))


def test_where_shape_errors() -> None:
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    with pytest.raises(ShapeError, match="same shape"):
        tf.where(x > 0, x, 0.0)
    with pytest.raises(ShapeError, match="first dim"):
        tf.where(tf.ones([3], tf.bool), tf.ones([4, 3]), tf.zeros([4, 3]))
    with pytest.raises(ShapeError):
        tf.where(tf.ones([4, 2], tf.bool), tf.ones([4, 3]), tf.zeros([4, 3]))


def test_where_one_argument_and_half_given() -> None:
    c = tf.placeholder(tf.bool, [3])
    with pytest.raises(UnsupportedOpError, match="one argument"):
        tf.where(c)
    with pytest.raises(ValueError, match="both be non-None"):
        tf.where(c, x=tf.ones([3]))
    with pytest.raises(DTypeError):
        tf.where(c, tf.ones([3]), tf.ones([3], tf.int32))


def test_cast_values_and_identity_for_same_dtype() -> None:
    x = tf.placeholder(tf.float32, [4], name="x")
    assert tf.cast(x, tf.float32) is x
    assert tf.cast(x, "float32") is x
    xv = np.array([-1.7, -0.5, 0.0, 2.9], np.float32)
    assert run(tf.cast(x, tf.int32), {x: xv}).tolist() == [-1, 0, 0, 2]
    assert run(tf.cast(x, tf.bool), {x: xv}).tolist() == [True, True, False, True]
    assert tf.cast([1.5, 2], tf.int32).dtype == tf.int32
    assert tf.to_float(tf.constant([1])).dtype == tf.float32
    assert tf.to_int64(x).dtype == tf.int64
    assert tf.to_int32(x).dtype == tf.int32
    assert tf.to_double(x).dtype == tf.float64


# --------------------------------------------------------------------------------------------
# matmul


@given(data=st.data())
def test_matmul_matches_numpy(data) -> None:
    m, k, n = (data.draw(st.integers(1, 4)) for _ in range(3))
    batch = data.draw(st.sampled_from([(), (2,), (3, 1)]))
    ta, tb = data.draw(st.booleans()), data.draw(st.booleans())
    adj = data.draw(st.booleans())
    a_np = data.draw(fst.arrays_for(_ty(DType.float32, (*batch, *((k, m) if ta else (m, k))))))
    b_np = data.draw(fst.arrays_for(_ty(DType.float32, (*((n, k) if tb else (k, n)),))))
    with tf.Graph().as_default():
        a = tf.placeholder(tf.float32, [None] * (len(batch) + 2))
        kwargs = {"adjoint_a": ta} if adj else {"transpose_a": ta}
        z = tf.matmul(a, b_np, transpose_b=tb, **kwargs)
        assert z.shape.as_list() == [None] * len(batch) + [None, n]
        got = run(z, {a: a_np})
    want = np.matmul(np.swapaxes(a_np, -1, -2) if ta else a_np, b_np.T if tb else b_np)
    assert_array_matches(got, want.astype(np.float32))


def test_matmul_shape_error_names_both_tensors() -> None:
    a = tf.placeholder(tf.int32, [1, 2], name="a")
    b = tf.constant([[3], [4], [5]], name="b")
    with pytest.raises(ValueError) as e:
        tf.matmul(a, b)
    assert isinstance(e.value, ShapeError)
    msg = str(e.value)
    assert "'MatMul'" in msg and "'a'" in msg and "'b'" in msg and "[1, 2]" in msg and "[3, 1]" in msg
    assert "test_math_ops.py" in msg


def test_matmul_seed_example_and_flag_errors() -> None:
    a = tf.placeholder(tf.int32, [1, 2])
    assert run(tf.matmul(a, [[3], [4]]), {a: [[1, 2]]}).tolist() == [[11]]
    with pytest.raises(ValueError, match="Only one of transpose_a"):
        tf.matmul(a, a, transpose_a=True, adjoint_a=True)
    with pytest.raises(ShapeError, match="rank >= 2"):
        tf.matmul(tf.ones([3]), tf.ones([3, 1]))


# --------------------------------------------------------------------------------------------
# Reductions

REDUCTIONS = [
    (tf.reduce_sum, np.sum, (DType.float32, DType.int32)),
    (tf.reduce_mean, np.mean, (DType.float32, DType.float64)),
    (tf.reduce_max, np.max, (DType.float32, DType.int64)),
    (tf.reduce_min, np.min, (DType.float32, DType.int32)),
    (tf.reduce_prod, np.prod, (DType.float64, DType.int32)),
    (tf.reduce_any, np.any, (DType.bool,)),
    (tf.reduce_all, np.all, (DType.bool,)),
]


@pytest.mark.parametrize(("fn", "ref", "dts"), REDUCTIONS, ids=lambda v: getattr(v, "__name__", ""))
@given(data=st.data())
def test_reductions_match_numpy(fn, ref, dts, data) -> None:
    dt = data.draw(st.sampled_from(dts))
    static = data.draw(fst.shapes(min_rank=1, max_rank=3, max_side=4))
    concrete = data.draw(fst.concrete_shapes_for(static))
    x_np = data.draw(fst.arrays_for(_ty(dt, concrete)))
    rank = len(static)
    axis = data.draw(
        st.one_of(
            st.none(),
            st.integers(-rank, rank - 1),
            st.lists(st.integers(0, rank - 1), unique=True, max_size=rank).map(tuple),
        )
    )
    keep = data.draw(st.booleans())
    spelling = data.draw(st.sampled_from(["new", "old"]))
    kwargs = {"axis": axis, "keepdims": keep} if spelling == "new" else {"reduction_indices": axis, "keep_dims": keep}
    with tf.Graph().as_default():
        x = tf.placeholder(tf.as_dtype(dt), static)
        z = fn(x, **kwargs)
        got = run(z, {x: x_np})
        assert z.shape.is_compatible_with(got.shape)
    want = np.asarray(ref(x_np, axis=axis, keepdims=keep))
    assert_array_matches(got, want.astype(x_np.dtype))


def test_reduction_static_shapes() -> None:
    x = tf.placeholder(tf.float32, [None, 3, 4])
    assert tf.reduce_sum(x).shape.as_list() == []
    assert tf.reduce_sum(x, 1).shape.as_list() == [None, 4]
    assert tf.reduce_sum(x, [0, -1], keepdims=True).shape.as_list() == [1, 3, 1]
    assert tf.reduce_max(x, axis=tf.constant([2])).shape.as_list() == [None, 3]
    assert tf.reduce_mean(x, []).shape.as_list() == [None, 3, 4]
    assert tf.reduce_sum(tf.placeholder(tf.float32)).shape.as_list() == []


def test_reduction_argument_errors() -> None:
    x = tf.placeholder(tf.float32, [None, 3])
    with pytest.raises(ValueError, match="Cannot specify both 'axis' and 'reduction_indices'"):
        tf.reduce_sum(x, axis=0, reduction_indices=0)
    with pytest.raises(ValueError, match="Cannot specify both 'keepdims' and 'keep_dims'"):
        tf.reduce_sum(x, keepdims=True, keep_dims=True)
    with pytest.raises(ShapeError, match="out of range"):
        tf.reduce_sum(x, 2)
    with pytest.raises(DTypeError):
        tf.reduce_sum(x > 0)
    with pytest.raises(DTypeError):
        tf.reduce_any(x)
    with pytest.raises(UnsupportedOpError, match="run time"):
        tf.reduce_sum(x, axis=tf.placeholder(tf.int32, []))


def test_reduce_mean_of_ints_truncates() -> None:
    assert run(tf.reduce_mean([1, 2])).tolist() == 1
    assert run(tf.reduce_mean([-1, -2])).tolist() == -1
    assert tf.reduce_mean([1, 2]).dtype == tf.int32


@pytest.mark.parametrize(("fn", "ref"), [(tf.argmax, np.argmax), (tf.argmin, np.argmin)])
def test_arg_reductions(fn, ref) -> None:
    xv = np.array([[3, 1, 2], [0, 5, 4]], np.float32)
    x = tf.placeholder(tf.float32, [None, 3])
    z0, z1, zd = fn(x), fn(x, 1), fn(x, dimension=1, output_type=tf.int32)
    assert z0.shape.as_list() == [3] and z1.shape.as_list() == [None]
    assert z0.dtype == tf.int64 and zd.dtype == tf.int32
    got = run([z0, z1, zd], {x: xv})
    assert got[0].tolist() == ref(xv, 0).tolist()
    assert got[1].tolist() == ref(xv, 1).tolist() == got[2].tolist()
    with pytest.raises(ValueError, match="Cannot specify both 'axis' and 'dimension'"):
        fn(x, axis=1, dimension=1)
