"""The smaller ops added for ONNX: ``math.cumsum``, ``array.broadcast_to``, the float
classifiers and rounding, erf, and the parametric activations (gelu, elu, leaky relu): type
rules, kernels against independent formulations, the jax lowerings, and the TF wrappers.
(The elementwise functions are also checked against Python's ``math`` in test_ops_math.py
and test_ops_nn.py.)"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import flowir as tf
from flowir.ir import DType, DTypeError, Graph, OpAttributeError, ShapeError, TensorType, ops
from flowir.ir.reference import run_op
from flowir.testing import generated_graphs

try:
    import jax  # noqa: F401
except ImportError:
    check_agreement = None
else:
    from tests.backends.test_jax_properties import check_agreement

F16, F32, F64, I8, I32 = DType.float16, DType.float32, DType.float64, DType.int8, DType.int32
pytestmark = pytest.mark.filterwarnings("ignore:.*which does not exist.*:RuntimeWarning")


def _input(shape: Any, dt: DType = F32) -> Any:
    return Graph().add_input(TensorType(dt, shape), "x")


def _run(cls: type, x: np.ndarray, **attrs: Any) -> np.ndarray:
    from flowir.ir import dtype_of

    op = cls.create(_input(x.shape, dtype_of(x)), **attrs)
    out = run_op(op, [x])[0]
    assert op.result.type.is_compatible_with(TensorType(op.result.type.dtype, out.shape))
    assert out.dtype == op.result.type.dtype.numpy
    return out


# --------------------------------------------------------------------------------------------
# cumsum


def _cumsum_loop(x: np.ndarray, axis: int, exclusive: bool, reverse: bool) -> np.ndarray:
    moved = np.moveaxis(x.astype(np.int64 if x.dtype.kind in "iu" else np.float64), axis, -1)
    out = np.zeros_like(moved)
    n = moved.shape[-1]
    for i in range(n):
        terms = range(i + 1, n) if reverse else range(i)
        if not exclusive:
            terms = [*terms, i]
        for j in terms:
            out[..., i] += moved[..., j]
    return np.moveaxis(out, -1, axis)


@settings(max_examples=60)
@given(
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=3),
    dt=st.sampled_from([F32, F64, I8, I32]),
    exclusive=st.booleans(),
    reverse=st.booleans(),
    data=st.data(),
)
def test_cumsum_matches_a_loop(shape: list[int], dt: DType, exclusive: bool, reverse: bool, data: st.DataObject) -> None:
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = (rng.integers(-100, 100, shape) if dt.is_integer else rng.standard_normal(shape)).astype(dt.numpy)
    out = _run(ops.CumSum, x, axis=axis, exclusive=exclusive, reverse=reverse)
    want = _cumsum_loop(x, axis % len(shape), exclusive, reverse)
    if dt.is_integer:
        np.testing.assert_array_equal(out, want.astype(dt.numpy))  # int8 wraps
    else:
        np.testing.assert_allclose(out, want, rtol=1e-5 if dt is F32 else 1e-12, atol=1e-5)


def test_cumsum_by_hand_and_type_rule() -> None:
    x = np.array([1, 2, 3], np.int32)
    assert _run(ops.CumSum, x, axis=0).tolist() == [1, 3, 6]
    assert _run(ops.CumSum, x, axis=0, exclusive=True).tolist() == [0, 1, 3]
    assert _run(ops.CumSum, x, axis=0, reverse=True).tolist() == [6, 5, 3]
    assert _run(ops.CumSum, x, axis=-1, exclusive=True, reverse=True).tolist() == [5, 3, 0]
    assert ops.CumSum.create(_input((None, 3)), axis=1).result.type == TensorType(F32, (None, 3))
    assert ops.CumSum.create(_input(None), axis=5).result.type == TensorType(F32, None)
    with pytest.raises(ShapeError, match="math.cumsum 'c': axis 2 is out of range for rank 2"):
        ops.CumSum.create(_input((2, 3)), axis=2, name="c")
    with pytest.raises(DTypeError, match="x has dtype i1"):
        ops.CumSum.create(_input((2,), DType.bool), axis=0)


# --------------------------------------------------------------------------------------------
# broadcast_to


@pytest.mark.parametrize(
    ("xs", "shape", "want"),
    [
        ((3,), [2, 3], (2, 3)),
        ((2, 1), [1, 4], (2, 4)),  # both ways, as ONNX Expand
        ((None, 1), [5], (None, 5)),
        ((None, 3), [1, 1], (None, 3)),
        ((), [2, 2], (2, 2)),
        (None, [2], None),
        ((4,), [0, 1], (0, 4)),
    ],
)
def test_broadcast_to_type_rule(xs: Any, shape: list[int], want: Any) -> None:
    assert ops.BroadcastTo.create(_input(xs), shape=shape).result.type == TensorType(F32, want)


def test_broadcast_to_kernel_and_errors() -> None:
    x = np.array([[1], [2]], np.int8)
    out = _run(ops.BroadcastTo, x, shape=[3, 1, 2])
    np.testing.assert_array_equal(out, np.broadcast_to(x, (3, 2, 2)))
    assert out.flags.writeable  # an owned array, not numpy's read-only view
    with pytest.raises(ShapeError, match="array.broadcast_to 'b': x \\[3\\] does not broadcast with \\[2\\]"):
        ops.BroadcastTo.create(_input((3,)), shape=[2], name="b")
    with pytest.raises(OpAttributeError, match="shape must be non-negative"):
        ops.BroadcastTo.create(_input((3,)), shape=[-1])


# --------------------------------------------------------------------------------------------
# top_k, take_along_axis


def _top_k_oracle(x: np.ndarray, k: int, axis: int, largest: bool) -> tuple[np.ndarray, np.ndarray]:
    """Row by row with Python's stable sort (nan ranked above every number)."""
    moved = np.moveaxis(x, axis, -1)
    vals, idxs = np.zeros((*moved.shape[:-1], k), x.dtype), np.zeros((*moved.shape[:-1], k), np.int64)
    for pos in np.ndindex(*moved.shape[:-1]):
        row = moved[pos].tolist()

        def key(i: int, row: list[float] = row) -> tuple[int, float]:
            v = row[i]
            rank = (1, 0.0) if v != v else (0, v)  # nan above all
            return (-rank[0], -rank[1]) if largest else rank

        order = sorted(range(len(row)), key=key)[:k]
        idxs[pos] = order
        vals[pos] = [row[i] for i in order]
    return np.moveaxis(vals, -1, axis), np.moveaxis(idxs, -1, axis)


@settings(max_examples=60)
@given(
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=3),
    dt=st.sampled_from([F32, F64, I8, I32]),
    largest=st.booleans(),
    data=st.data(),
)
def test_top_k_matches_a_stable_sort(shape: list[int], dt: DType, largest: bool, data: st.DataObject) -> None:
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    k = data.draw(st.integers(0, shape[axis]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(-3, 4, shape).astype(dt.numpy)  # small integers: many ties
    if not dt.is_integer and x.size and data.draw(st.booleans()):
        x.reshape(-1)[rng.integers(0, x.size)] = np.nan
    op = ops.TopK.create(_input(tuple(shape), dt), k=k, axis=axis, largest=largest, index_dtype=I32)
    vals, idx = run_op(op, [x])
    want_vals, want_idx = _top_k_oracle(x, k, axis % len(shape), largest)
    np.testing.assert_array_equal(idx, want_idx.astype(np.int32))
    np.testing.assert_array_equal(vals, want_vals)
    assert vals.dtype == x.dtype and idx.dtype == np.int32


def test_top_k_type_rule_and_errors() -> None:
    v, i = ops.TopK.create(_input((None, 5)), k=2).results
    assert v.type == TensorType(F32, (None, 2)) and i.type == TensorType(DType.int64, (None, 2))
    assert ops.TopK.create(_input((4, None)), k=3, axis=1).results[0].type == TensorType(F32, (4, 3))
    with pytest.raises(ShapeError, match="math.top_k 't': k = 6 is larger than dim 1 of x"):
        ops.TopK.create(_input((2, 5)), k=6, name="t")
    with pytest.raises(OpAttributeError, match="index_dtype must be i32 or i64"):
        ops.TopK.create(_input((5,)), k=1, index_dtype=I8)
    with pytest.raises(ShapeError, match="rank >= 1"):
        ops.TopK.create(_input(()), k=0)
    op = ops.TopK.create(_input((None,)), k=3)
    with pytest.raises(Exception, match="k = 3 is larger than dim 0 of x, of size 2"):
        run_op(op, [np.zeros(2, np.float32)])


def test_take_along_axis_and_its_gradient() -> None:
    x = np.array([[10, 20, 30], [40, 50, 60]], np.int32)
    idx = np.array([[2, 0], [1, 1]], np.int64)
    g = Graph()
    xv, iv = g.add_input(TensorType(I32, (2, None)), "x"), g.add_input(TensorType(DType.int64, (2, 2)), "i")
    op = ops.TakeAlongAxis.create(xv, iv, axis=1)
    assert op.result.type == TensorType(I32, (2, 2))
    assert run_op(op, [x, idx])[0].tolist() == [[30, 10], [50, 50]]
    gv = g.add_input(TensorType(F32, (2, 2)), "g")
    grad = ops.TakeAlongAxisGrad.create(gv, iv, xv, axis=1)
    assert grad.result.type == TensorType(F32, (2, None))
    # Repeated indices add up.
    assert run_op(grad, [np.array([[1, 2], [3, 4]], np.float32), idx, x])[0].tolist() == [[2, 0, 1], [0, 7, 0]]
    with pytest.raises(Exception, match=r"indices\[0, 0\] = 3 is not in \[0, 3\)"):
        run_op(op, [x, np.array([[3, 0], [0, 0]])])
    with pytest.raises(ShapeError, match="array.take_along_axis 'ta': indices .* differ in dim 0"):
        ops.TakeAlongAxis.create(xv, g.add_input(TensorType(I32, (3, 1)), "j"), axis=1, name="ta")
    with pytest.raises(ShapeError, match="must have the rank of x"):
        ops.TakeAlongAxis.create(xv, g.add_input(TensorType(I32, (3,)), "k"), axis=1)


def test_tf_top_k() -> None:
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 4])
        values, indices = tf.nn.top_k(x, k=2)
        assert values.name == "TopKV2:0" and indices.dtype == tf.int32
        got = tf.Session().run(tf.nn.top_k(x, 3), {x: np.array([[1.0, 4.0, 4.0, -1.0]], np.float32)})
    assert got.values.tolist() == [[4.0, 4.0, 1.0]] and got.indices.tolist() == [[1, 2, 0]]


# --------------------------------------------------------------------------------------------
# resize_nearest (checked against onnxruntime in test_ops_vs_onnxruntime.py)


def test_resize_nearest_by_hand() -> None:
    x = np.array([[1, 2], [3, 4]], np.int32)
    up = _run(ops.ResizeNearest, x, scales=[2.0, 2.0], coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    assert up.tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    row = np.arange(4, dtype=np.float32)
    # half_pixel: output 0 of 2 samples (0 + 0.5) / 0.5 - 0.5 = 0.5, a tie that goes down or up.
    assert _run(ops.ResizeNearest, row, sizes=[2]).tolist() == [0.0, 2.0]
    assert _run(ops.ResizeNearest, row, sizes=[2], nearest_mode="round_prefer_ceil").tolist() == [1.0, 3.0]
    # align_corners: 1 * 3 / 2 = 1.5, a tie that goes down.
    assert _run(ops.ResizeNearest, row, sizes=[3], coordinate_transformation_mode="align_corners").tolist() == [0.0, 1.0, 3.0]
    # Scale 1.5: outputs 0, 1, 2 sample -1/6, 0.5 (a tie, down) and 7/6.
    assert _run(ops.ResizeNearest, np.array([True, False]), scales=[1.5]).tolist() == [True, True, False]


def test_resize_nearest_type_rule_and_errors() -> None:
    assert ops.ResizeNearest.create(_input((None, 3, 4)), scales=[1, 2, 0.5]).result.type == TensorType(F32, (None, 6, 2))
    assert ops.ResizeNearest.create(_input(None), sizes=[2, 3]).result.type == TensorType(F32, (2, 3))
    assert ops.ResizeNearest.create(_input(None), scales=[2, 3]).result.type == TensorType(F32, None)
    with pytest.raises(OpAttributeError, match="nn.resize_nearest 'r': exactly one of scales and sizes"):
        ops.ResizeNearest.create(_input((2,)), name="r")
    with pytest.raises(OpAttributeError, match="exactly one of scales and sizes"):
        ops.ResizeNearest.create(_input((2,)), scales=[2.0], sizes=[4])
    with pytest.raises(ShapeError, match="scales has 1 entries for a tensor of rank 2"):
        ops.ResizeNearest.create(_input((2, 2)), scales=[2.0])
    with pytest.raises(OpAttributeError, match="scales must be positive"):
        ops.ResizeNearest.create(_input((2,)), scales=[0.0])
    with pytest.raises(OpAttributeError, match="coordinate_transformation_mode must be one of"):
        ops.ResizeNearest.create(_input((2,)), scales=[2.0], coordinate_transformation_mode="crop")
    with pytest.raises(OpAttributeError, match="nearest_mode must be one of"):
        ops.ResizeNearest.create(_input((2,)), scales=[2.0], nearest_mode="round")
    with pytest.raises(ShapeError, match="dim 0 is empty and cannot be resized to 3"):
        ops.ResizeNearest.create(_input((0,)), sizes=[3])


def test_resize_nearest_grad_is_the_adjoint() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 5))
    attrs = {"scales": [1.0, 2.5, 0.5], "coordinate_transformation_mode": "pytorch_half_pixel"}
    y = _run(ops.ResizeNearest, x, **attrs)
    g = rng.standard_normal(y.shape)
    op = ops.ResizeNearestGrad.create(*(Graph().add_input(TensorType(F64, a.shape), n) for a, n in ((g, "g"), (x, "x"))), **attrs)
    dx = run_op(op, [g, x])[0]
    assert dx.shape == x.shape
    assert math.isclose(float(np.sum(y * g)), float(np.sum(x * dx)), rel_tol=1e-12)


# --------------------------------------------------------------------------------------------
# Elementwise semantics the Python-math oracles do not reach


def test_classifiers_and_rounding_on_special_values() -> None:
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 2.5, -2.5, 0.5, 1.5], np.float32)
    assert _run(ops.IsNan, x).tolist() == [True] + [False] * 8
    assert _run(ops.IsInf, x).tolist() == [False, True, True] + [False] * 6
    r = _run(ops.Round, x)
    assert np.isnan(r[0]) and r[1:].tolist() == [np.inf, -np.inf, 0.0, -0.0, 2.0, -2.0, 0.0, 2.0]
    assert _run(ops.Floor, np.array([-0.5, 0.5], F16.numpy)).tolist() == [-1.0, 0.0]
    assert _run(ops.Ceil, np.array([-0.5, 0.5], F16.numpy)).tolist() == [-0.0, 1.0]
    assert _run(ops.Reciprocal, np.array([0.0, -0.0, 4.0])).tolist() == [np.inf, -np.inf, 0.25]
    assert _run(ops.Atanh, np.array([1.0, -1.0])).tolist() == [np.inf, -np.inf]
    assert np.isnan(_run(ops.Acosh, np.array([0.5]))).all()


def test_erf_is_exact_in_float64() -> None:
    x = np.linspace(-6, 6, 1001)
    out = _run(ops.Erf, x)
    assert out.tolist() == [math.erf(v) for v in x.tolist()]
    assert _run(ops.Erf, np.array([np.inf, -np.inf, np.nan], np.float32))[:2].tolist() == [1.0, -1.0]


def test_activations_with_attributes() -> None:
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_allclose(_run(ops.Elu, x, alpha=0.5), np.where(x > 0, x, 0.5 * np.expm1(x)), rtol=1e-15)
    np.testing.assert_allclose(_run(ops.LeakyRelu, x, alpha=0.01), np.where(x >= 0, x, 0.01 * x), rtol=1e-15)
    tanh_form = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(_run(ops.Gelu, x, approximate="tanh"), tanh_form, rtol=1e-15)
    exact = [0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.tolist()]
    np.testing.assert_allclose(_run(ops.Gelu, x), exact, rtol=1e-15)
    # elu never overflows for large inputs (only the negative part is exponentiated)
    with np.errstate(all="raise"):
        assert _run(ops.Elu, np.array([1000.0], np.float32)).tolist() == [1000.0]
    with pytest.raises(OpAttributeError, match='nn.gelu: approximate must be "none" or "tanh"'):
        ops.Gelu.create(_input((2,)), approximate="erf")
    with pytest.raises(DTypeError, match="nn.leaky_relu: x has dtype i32"):
        ops.LeakyRelu.create(_input((2,), I32))


def test_trilu_and_matrix_band_part() -> None:
    x = np.arange(1, 13, dtype=np.int32).reshape(3, 4)
    assert _run(ops.Trilu, x, k=1).tolist() == [[0, 2, 3, 4], [0, 0, 7, 8], [0, 0, 0, 12]]
    assert _run(ops.Trilu, x, k=-1, upper=False).tolist() == [[0, 0, 0, 0], [5, 0, 0, 0], [9, 10, 0, 0]]
    with pytest.raises(ShapeError, match="array.trilu: x must have rank >= 2"):
        ops.Trilu.create(_input((3,)))
    with tf.Graph().as_default():
        t = tf.constant(np.arange(16, dtype=np.float32).reshape(4, 4))
        band = tf.matrix_band_part(t, 1, 0)
        assert band.name == "MatrixBandPart:0"
        got = tf.Session().run([band, tf.matrix_band_part(t, -1, -1), tf.matrix_band_part(t, 0, -1)])
    i, j = np.indices((4, 4))
    full = np.arange(16, dtype=np.float32).reshape(4, 4)
    np.testing.assert_array_equal(got[0], np.where((i - j <= 1) & (j - i <= 0), full, 0))
    np.testing.assert_array_equal(got[1], full)
    np.testing.assert_array_equal(got[2], np.triu(full))


# --------------------------------------------------------------------------------------------
# jax

EXT_OPS = [
    ops.Trilu,
    ops.BitwiseAnd,
    ops.BitwiseOr,
    ops.BitwiseXor,
    ops.BitwiseNot,
    ops.LeftShift,
    ops.RightShift,
    ops.TopK,
    ops.TakeAlongAxis,
    ops.TakeAlongAxisGrad,
    ops.ResizeNearest,
    ops.ResizeNearestGrad,
    ops.CumSum,
    ops.BroadcastTo,
    ops.Gelu,
    ops.Elu,
    ops.LeakyRelu,
    ops.Tan,
    ops.Asin,
    ops.Acos,
    ops.Atan,
    ops.Sinh,
    ops.Cosh,
    ops.Asinh,
    ops.Acosh,
    ops.Atanh,
    ops.Erf,
    ops.Floor,
    ops.Ceil,
    ops.Round,
    ops.Reciprocal,
    ops.IsNan,
    ops.IsInf,
]


@settings(max_examples=60)
@given(case=generated_graphs(EXT_OPS, max_ops=5), data=st.data())
def test_jax_agrees_with_the_reference(case: Any, data: st.DataObject) -> None:
    if check_agreement is None:
        pytest.skip("jax is not installed")
    check_agreement(case, data.draw(case.feeds()))


@settings(max_examples=40)
@given(case=generated_graphs(EXT_OPS, max_ops=5), data=st.data())
def test_jax_agrees_on_special_values(case: Any, data: st.DataObject) -> None:
    if check_agreement is None:
        pytest.skip("jax is not installed")
    check_agreement(case, data.draw(case.feeds(special=True)))


# --------------------------------------------------------------------------------------------
# TF wrappers


def test_tf_math_wrappers() -> None:
    xv = np.array([[-2.0, 0.25, 3.0]], np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        clipped = tf.clip_by_value(x, -1.0, 1.0)
        assert clipped.name == "clip_by_value:0" and clipped.op.inputs[0].name == "clip_by_value/Minimum:0"
        cs = tf.cumsum(x, axis=1, exclusive=True)
        assert cs.name == "Cumsum:0"
        names = [f(x).name for f in (tf.erf, tf.tan, tf.floor, tf.ceil, tf.round, tf.reciprocal, tf.is_nan, tf.is_inf)]
        assert names == ["Erf:0", "Tan:0", "Floor:0", "Ceil:0", "Round:0", "Reciprocal:0", "IsNan:0", "IsInf:0"]
        b = tf.broadcast_to(tf.constant([1, 2, 3]), [2, 3])
        assert b.name == "BroadcastTo:0" and b.shape.as_list() == [2, 3]
        with pytest.raises(ShapeError, match="broadcast_to: .* does not broadcast to \\[2, 4\\]"):
            tf.broadcast_to(tf.constant([1, 2, 3]), [2, 4])
        with pytest.raises(ShapeError, match="broadcast_to"):
            tf.broadcast_to(tf.constant([[1, 2, 3]]), [3])
        got = tf.Session().run([clipped, cs, b, tf.asinh(x)], {x: xv})
    assert got[0].tolist() == [[-1.0, 0.25, 1.0]]
    assert got[1].tolist() == [[0.0, -2.0, -1.75]]
    assert got[2].tolist() == [[1, 2, 3], [1, 2, 3]]
    np.testing.assert_allclose(got[3], np.arcsinh(xv), rtol=1e-6)


def test_tf_nn_activation_wrappers() -> None:
    xv = np.array([-3.0, -0.5, 0.0, 2.0], np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [4])
        outs = [tf.nn.elu(x), tf.nn.selu(x), tf.nn.leaky_relu(x), tf.nn.leaky_relu(x, alpha=0.1), tf.nn.gelu(x), tf.nn.gelu(x, approximate=True)]
        assert [o.name for o in outs] == ["Elu:0", "Selu:0", "LeakyRelu:0", "LeakyRelu_1:0", "Gelu:0", "Gelu_1:0"]
        got = tf.Session().run(outs, {x: xv})
        grads = tf.Session().run(tf.gradients(tf.reduce_sum(outs[1]) + tf.reduce_sum(outs[4]), [x]), {x: xv})
    w = xv.astype(np.float64)
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    np.testing.assert_allclose(got[0], np.where(w > 0, w, np.expm1(w)), rtol=1e-6)
    np.testing.assert_allclose(got[1], scale * np.where(w > 0, w, alpha * np.expm1(w)), rtol=1e-6)
    np.testing.assert_allclose(got[2], np.where(w >= 0, w, 0.2 * w), rtol=1e-6)
    np.testing.assert_allclose(got[3], np.where(w >= 0, w, 0.1 * w), rtol=1e-6)
    erf = np.array([math.erf(v / math.sqrt(2)) for v in w])
    np.testing.assert_allclose(got[4], 0.5 * w * (1 + erf), rtol=1e-6, atol=1e-7)
    selu_grad = scale * np.where(w > 0, 1.0, alpha * np.exp(w))
    gelu_grad = 0.5 * (1 + erf) + w * np.exp(-(w**2) / 2) / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(grads[0], selu_grad + gelu_grad, rtol=1e-5)
