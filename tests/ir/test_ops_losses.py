"""The loss ops (``nn.*_cross_entropy_with_logits``) and ``random.uniform_like``: type rules,
kernels against Python oracles, stability for huge logits, and their VJP rules against finite
differences (first and second order) and ``jax.vjp``."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowir.ir import DType, DTypeError, FlowirError, Graph, ShapeError, TensorType, Trait, dtype_of, ops
from flowir.ir.ops._base import FLOATS
from flowir.ir.reference import IMPL_RULES, RefContext, run_op
from flowir.passes.autodiff import NON_DIFFERENTIABLE, VJP_RULES
from flowir.testing.gradcheck import check_grads, vjp
from tests.ir.kernel_checks import check_kernel, declared
from tests.ir.test_ops_math import RTOL, dtypes_of, py, rng_from

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

F16, BF16, F32, F64 = DType.float16, DType.bfloat16, DType.float32, DType.float64
I32, I64 = DType.int32, DType.int64
FLOAT_DTYPES = sorted(FLOATS, key=lambda d: list(DType).index(d))
LOSS_OPS = [ops.SoftmaxCrossEntropyWithLogits, ops.SparseSoftmaxCrossEntropyWithLogits, ops.SigmoidCrossEntropyWithLogits]


def _inputs(*types: TensorType) -> list[Any]:
    g = Graph()
    return [g.add_input(t, f"in{i}") for i, t in enumerate(types)]


def _t(shape: Any, dt: DType = F32) -> TensorType:
    return TensorType(dt, shape)


def _run(cls: type, arrays: list[np.ndarray], data: st.DataObject | None = None, **attrs: Any) -> tuple[np.ndarray, ...]:
    """Run ``cls`` on ``arrays``: the results must have the static inferred types exactly,
    and (with ``data``) fit the types inferred from loosely declared operands."""
    op = cls.create(*_inputs(*(TensorType(dtype_of(a), a.shape) for a in arrays)), **attrs)
    outs = check_kernel(op, *arrays)
    for r, out in zip(op.results, outs):
        assert r.type == TensorType(dtype_of(out), out.shape), (r.type, out.dtype, out.shape)
    if data is not None:
        loose = [TensorType(dtype_of(a), data.draw(declared(a.shape), label="declared")) for a in arrays]
        check_kernel(cls.create(*_inputs(*loose), **attrs), *arrays)
    return outs


def _close(got: np.ndarray, want: np.ndarray, dt: DType) -> None:
    tol = RTOL[dt]
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=tol, atol=tol)


# --------------------------------------------------------------------------------------------
# Type rules


def test_type_rules() -> None:
    x, z = _inputs(_t((None, 5)), _t((4, None)))
    op = ops.SoftmaxCrossEntropyWithLogits.create(x, z)
    assert [r.type for r in op.results] == [_t((4,)), _t((4, 5))]
    op = ops.SoftmaxCrossEntropyWithLogits.create(x, z, axis=0)
    assert [r.type for r in op.results] == [_t((5,)), _t((4, 5))]
    x, z = _inputs(_t(None, F16), _t(None, F16))
    assert [r.type for r in ops.SoftmaxCrossEntropyWithLogits.create(x, z).results] == [_t(None, F16)] * 2
    x, z = _inputs(_t((None, 3, 7), F64), _t((2, None), I64))
    op = ops.SparseSoftmaxCrossEntropyWithLogits.create(x, z)
    assert [r.type for r in op.results] == [_t((2, 3), F64), _t((2, 3, 7), F64)]
    x, z = _inputs(_t(None), _t((None,), I32))
    assert [r.type for r in ops.SparseSoftmaxCrossEntropyWithLogits.create(x, z).results] == [_t((None,)), _t((None, None))]
    x, z = _inputs(_t((None, 3)), _t((2, None)))
    assert ops.SigmoidCrossEntropyWithLogits.create(x, z).result.type == _t((2, 3))


def test_type_errors_name_the_op_and_shapes() -> None:
    x, z, s, i, l3 = _inputs(_t((2, 3)), _t((2, 4)), _t(()), _t((2, 3), I32), _t((2, 3), I32))
    with pytest.raises(ShapeError, match=r"nn.softmax_cross_entropy_with_logits 'xent': logits and labels must have the same shape \(\[2, 3\] vs \[2, 4\]\)"):
        ops.SoftmaxCrossEntropyWithLogits.create(x, z, name="xent")
    with pytest.raises(ShapeError, match="logits must have rank >= 1"):
        ops.SoftmaxCrossEntropyWithLogits.create(s, s)
    with pytest.raises(ShapeError, match="axis 2 is out of range for rank 2"):
        ops.SoftmaxCrossEntropyWithLogits.create(x, x, axis=2)
    with pytest.raises(DTypeError, match="logits has dtype i32"):
        ops.SoftmaxCrossEntropyWithLogits.create(i, i)
    with pytest.raises(DTypeError, match="logits and labels have different dtypes"):
        ops.SigmoidCrossEntropyWithLogits.create(x, i)
    with pytest.raises(ShapeError, match="same shape"):
        ops.SigmoidCrossEntropyWithLogits.create(x, z)
    with pytest.raises(DTypeError, match="labels has dtype f32; expected one of i32, i64"):
        ops.SparseSoftmaxCrossEntropyWithLogits.create(x, x)
    with pytest.raises(ShapeError, match=r"labels must have the rank of logits minus 1; got labels \[2, 3\], logits \[2, 3\]"):
        ops.SparseSoftmaxCrossEntropyWithLogits.create(x, l3)
    (l4,) = _inputs(_t((4,), I32))
    with pytest.raises(ShapeError, match=r"labels \[4\] must match the shape of logits \[2, 3\] without its last dim"):
        ops.SparseSoftmaxCrossEntropyWithLogits.create(x, l4)
    with pytest.raises(ShapeError, match="logits must have rank >= 1"):
        ops.SparseSoftmaxCrossEntropyWithLogits.create(s, l4)


def test_traits() -> None:
    for cls in LOSS_OPS:
        assert cls.traits == frozenset({Trait.PURE}) and cls in IMPL_RULES and cls in VJP_RULES, cls.name
    assert ops.RandomUniformLike.traits == frozenset({Trait.RANDOM})
    assert ops.RandomUniformLike in IMPL_RULES and ops.RandomUniformLike in NON_DIFFERENTIABLE


# --------------------------------------------------------------------------------------------
# Kernels against Python


def _rows(a: np.ndarray, axis: int) -> list[list[float]]:
    moved = np.moveaxis(a, axis, -1)
    return [py(r) for r in moved.reshape(-1, moved.shape[-1])]


def _logsumexp(row: list[float]) -> float:
    top = max(row)
    return top + math.log(math.fsum(math.exp(v - top) for v in row))


@settings(max_examples=40)
@given(data=st.data())
def test_softmax_cross_entropy(data: st.DataObject) -> None:
    dt = data.draw(dtypes_of(FLOATS), label="dtype")
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3), label="shape"))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    rng = rng_from(data)
    x = rng.uniform(-10, 10, shape).astype(dt.numpy)
    # Any non-negative labels: the op does not require them to be distributions.
    z = rng.uniform(0, 1, shape).astype(dt.numpy)
    loss, backprop = _run(ops.SoftmaxCrossEntropyWithLogits, [x, z], data, axis=axis)
    want_loss, want_backprop = [], []
    for xr, zr in zip(_rows(x, axis), _rows(z, axis)):
        lse = _logsumexp(xr)
        want_loss.append(math.fsum(zk * (lse - xk) for xk, zk in zip(xr, zr)))
        total = math.fsum(zr)
        want_backprop.append([math.exp(xk - lse) * total - zk for xk, zk in zip(xr, zr)])
    moved_shape = np.moveaxis(x, axis, -1).shape
    _close(loss, np.array(want_loss).reshape(moved_shape[:-1]), dt)
    _close(backprop, np.moveaxis(np.array(want_backprop).reshape(moved_shape), -1, axis), dt)


@settings(max_examples=40)
@given(data=st.data())
def test_sparse_softmax_cross_entropy(data: st.DataObject) -> None:
    dt = data.draw(dtypes_of(FLOATS), label="dtype")
    batch = tuple(data.draw(st.lists(st.integers(0, 4), max_size=2), label="batch"))
    classes = data.draw(st.integers(1, 5), label="classes")
    rng = rng_from(data)
    x = rng.uniform(-10, 10, (*batch, classes)).astype(dt.numpy)
    labels = rng.integers(0, classes, batch).astype(data.draw(st.sampled_from([np.int32, np.int64])))
    loss, backprop = _run(ops.SparseSoftmaxCrossEntropyWithLogits, [x, labels], data)
    rows = _rows(x, -1)
    want_loss = [_logsumexp(r) - r[k] for r, k in zip(rows, labels.ravel().tolist())]
    want_backprop = [
        [math.exp(v - _logsumexp(r)) - (j == k) for j, v in enumerate(r)] for r, k in zip(rows, labels.ravel().tolist())
    ]
    _close(loss, np.array(want_loss).reshape(batch), dt)
    _close(backprop, np.array(want_backprop).reshape(x.shape), dt)


@settings(max_examples=40)
@given(data=st.data())
def test_sigmoid_cross_entropy(data: st.DataObject) -> None:
    dt = data.draw(dtypes_of(FLOATS), label="dtype")
    shape = tuple(data.draw(st.lists(st.integers(0, 4), max_size=3), label="shape"))
    rng = rng_from(data)
    x = rng.uniform(-20, 20, shape).astype(dt.numpy)
    z = rng.uniform(0, 1, shape).astype(dt.numpy)
    (loss,) = _run(ops.SigmoidCrossEntropyWithLogits, [x, z], data)

    def oracle(xv: float, zv: float) -> float:
        # -z log(sigmoid(x)) - (1 - z) log(1 - sigmoid(x)), with log1p for accuracy.
        return zv * math.log1p(math.exp(-xv)) + (1 - zv) * math.log1p(math.exp(xv))

    want = [oracle(a, b) for a, b in zip(py(x), py(z))]
    _close(loss, np.array(want).reshape(shape), dt)


@pytest.mark.parametrize("dt", FLOAT_DTYPES)
def test_stable_for_huge_logits(dt: DType) -> None:
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=dt.numpy)
    onehot = np.array([[0, 1, 0], [0, 0, 1]], dtype=dt.numpy)
    big = float(np.float64(1e4).astype(dt.numpy))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, backprop = (a.astype(np.float64) for a in run_op(_build(ops.SoftmaxCrossEntropyWithLogits, x, onehot), [x, onehot]))
        sparse_loss, sparse_backprop = (
            a.astype(np.float64) for a in run_op(_build(ops.SparseSoftmaxCrossEntropyWithLogits, x, np.int32([1, 2])), [x, np.int32([1, 2])])
        )
        (sigmoid,) = run_op(_build(ops.SigmoidCrossEntropyWithLogits, x, onehot), [x, onehot])
    np.testing.assert_allclose(loss, [2 * big, 0.0], rtol=RTOL[dt])
    np.testing.assert_array_equal(sparse_loss, loss)
    np.testing.assert_allclose(backprop, [[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]], atol=1e-30)
    np.testing.assert_array_equal(sparse_backprop, backprop)
    sigmoid = sigmoid.astype(np.float64)
    np.testing.assert_allclose(sigmoid, [[big, big, math.log(2)], [0.0, 0.0, 0.0]], rtol=RTOL[dt])
    for a in (loss, backprop, sparse_loss, sparse_backprop, sigmoid):
        assert np.isfinite(a).all()


def _build(cls: type, *arrays: np.ndarray, **attrs: Any) -> Any:
    return cls.create(*_inputs(*(TensorType(dtype_of(a), a.shape) for a in arrays)), **attrs)


def test_sparse_labels_out_of_range_are_an_error() -> None:
    x = np.zeros((3, 4), np.float32)
    op = _build(ops.SparseSoftmaxCrossEntropyWithLogits, x, np.int64([0, 4, 1]))
    with pytest.raises(FlowirError, match=r"label value of 4 which is outside the valid range of \[0, 4\)"):
        run_op(op, [x, np.int64([0, 4, 1])])
    with pytest.raises(FlowirError, match=r"label value of -1"):
        run_op(op, [x, np.int64([0, 1, -1])])
    # No rows, no labels to check.
    empty = np.zeros((0, 4), np.float32)
    loss, backprop = run_op(_build(ops.SparseSoftmaxCrossEntropyWithLogits, empty, np.int64([])), [empty, np.int64([])])
    assert loss.shape == (0,) and backprop.shape == (0, 4)


# --------------------------------------------------------------------------------------------
# random.uniform_like


def test_uniform_like_draws_the_run_time_shape() -> None:
    (x,) = _inputs(_t((None, 3), F16))
    op = ops.RandomUniformLike.create(x, minval=-2.0, maxval=3.0, seed=4, seed2=5)
    assert op.result.type == _t((None, 3), F16)
    ctx = RefContext()
    a = np.zeros((100, 3), np.float16)
    (first,) = check_kernel(op, a, ctx=ctx)
    (second,) = check_kernel(op, a, ctx=ctx)
    assert first.shape == (100, 3) and first.dtype == np.float16
    assert ((first >= -2) & (first < 3)).all() and first.std() > 1
    assert not np.array_equal(first, second)
    # Equal seeds and run counts repeat in a new context.
    (again,) = check_kernel(op, a, ctx=RefContext())
    np.testing.assert_array_equal(again, first)
    (i,) = _inputs(_t((2,), I32))
    with pytest.raises(DTypeError, match="x has dtype i32"):
        ops.RandomUniformLike.create(i)


# --------------------------------------------------------------------------------------------
# VJP rules: finite differences (first and second order) and jax


def _distribution(rng: np.random.Generator, shape: tuple[int, ...], axis: int) -> np.ndarray:
    z = rng.uniform(0.1, 1.0, shape)
    return z / z.sum(axis=axis, keepdims=True)


@st.composite
def _dense_case(draw: st.DrawFn) -> tuple[Any, ...]:
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(shape) * 2
    # Labels that are not distributions too: the rule is exact for any labels.
    z = _distribution(rng, shape, axis) * (1 if draw(st.booleans()) else rng.uniform(0.5, 2))
    types = [TensorType(F64, draw(declared(shape))) for _ in range(2)]

    def fun(emit: Any, a: Any, b: Any) -> Any:
        return list(emit(ops.SoftmaxCrossEntropyWithLogits, a, b, axis=axis).results)

    return fun, [x, z], types, axis


@st.composite
def _sparse_case(draw: st.DrawFn) -> tuple[Any, ...]:
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    classes = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((*batch, classes)) * 2
    labels = rng.integers(0, classes, batch)
    types = [TensorType(F64, draw(declared(x.shape))), TensorType(I64, draw(declared(batch)))]

    def fun(emit: Any, a: Any, b: Any) -> Any:
        return list(emit(ops.SparseSoftmaxCrossEntropyWithLogits, a, b).results)

    return fun, [x, labels], types, -1


@st.composite
def _sigmoid_case(draw: st.DrawFn) -> tuple[Any, ...]:
    shape = tuple(draw(st.lists(st.integers(1, 4), max_size=3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.uniform(0.2, 3, shape) * rng.choice([-1.0, 1.0], shape)
    z = rng.uniform(0, 1, shape)
    types = [TensorType(F64, draw(declared(shape))) for _ in range(2)]

    def fun(emit: Any, a: Any, b: Any) -> Any:
        return emit(ops.SigmoidCrossEntropyWithLogits, a, b).result

    return fun, [x, z], types, None


CASES = {"softmax": _dense_case, "sparse": _sparse_case, "sigmoid": _sigmoid_case}


@pytest.mark.parametrize("kind", CASES)
@pytest.mark.parametrize("order", [1, 2])
@settings(max_examples=15)
@given(data=st.data())
def test_vjp_matches_finite_differences(kind: str, order: int, data: st.DataObject) -> None:
    fun, args, types, _ = data.draw(CASES[kind]())
    check_grads(fun, args, order, input_types=types)


def _jax_fun(kind: str, axis: int | None, labels: np.ndarray) -> Any:
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    if kind == "softmax":

        def dense(x: Any, z: Any) -> Any:
            loss = jnp.sum(-z * jax.nn.log_softmax(x, axis=axis), axis=axis)
            return loss, jax.nn.softmax(x, axis=axis) * jnp.sum(z, axis=axis, keepdims=True) - z

        return dense
    if kind == "sparse":
        # The integer labels are closed over: jax differentiates the float argument only.
        def sparse(x: Any, _labels: Any) -> Any:
            hot = jax.nn.one_hot(labels, x.shape[-1], dtype=x.dtype)
            return jnp.sum(-hot * jax.nn.log_softmax(x, axis=-1), axis=-1), jax.nn.softmax(x, axis=-1) - hot

        return sparse
    return lambda x, z: jnp.maximum(x, 0) - x * z + jnp.log1p(jnp.exp(-jnp.abs(x)))


@pytest.mark.parametrize("kind", CASES)
@settings(max_examples=10)
@given(data=st.data())
def test_vjp_matches_jax(kind: str, data: st.DataObject) -> None:
    jax = pytest.importorskip("jax")
    fun, args, types, axis = data.draw(CASES[kind]())
    jfun = _jax_fun(kind, axis, args[1])
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    with jax.enable_x64(True):
        outs, pullback = jax.vjp(jfun, *args)
        outs = list(outs) if isinstance(outs, tuple) else [outs]
        cts = [rng.standard_normal(np.shape(o)) for o in outs]
        expected = pullback(tuple(cts) if len(cts) > 1 else cts[0])
    got_outs, got = vjp(fun, args, cts, input_types=types)
    for a, e in zip(got_outs, outs):
        np.testing.assert_allclose(a, np.asarray(e), rtol=1e-12, atol=1e-12, err_msg="forward value")
    floats = 1 if kind == "sparse" else 2
    for i in range(floats):
        np.testing.assert_allclose(got[i], np.asarray(expected[i]), rtol=1e-9, atol=1e-12, err_msg=f"cotangent of argument {i}")
