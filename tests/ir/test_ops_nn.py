"""The nn dialect: type rules, kernels against Python oracles, numerical stability."""

from __future__ import annotations

import math
import warnings
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowir.ir import DType, DTypeError, Graph, Operation, ShapeError, TensorType, Trait, dtype_of, ops
from flowir.ir.ops._base import FLOATS
from flowir.ir.reference import IMPL_RULES, run_op
from tests.ir.test_ops_math import (
    RTOL,
    assert_matches,
    build,
    dtypes_of,
    elementwise_oracle,
    expected_array,
    py,
    rng_from,
    run_checked,
    static_type,
    values,
)

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

F16, BF16, F32, F64 = DType.float16, DType.bfloat16, DType.float32, DType.float64
FLOAT_DTYPES = sorted(FLOATS, key=lambda d: list(DType).index(d))
NN_OPS = [getattr(ops.nn, n) for n in ops.nn.__all__]


def _run1(cls: type[Operation], x: np.ndarray, **attrs: Any) -> np.ndarray:
    return run_op(build(cls, [static_type(x)], **attrs), [x])[0]


def _input(shape: Any, dt: DType = F32, name: str = "x") -> Any:
    return Graph().add_input(TensorType(dt, shape), name)


UNARY_CASES = {
    ops.Relu: ("any", lambda a: max(a, 0)),
    ops.Softplus: ("moderate", lambda a: math.log1p(math.exp(a))),
    ops.Gelu: ("moderate", lambda a: 0.5 * a * (1 + math.erf(a / math.sqrt(2)))),
    ops.Elu: ("any", lambda a: a if a > 0 else math.expm1(a)),
    ops.LeakyRelu: ("any", lambda a: a if a >= 0 else 0.2 * a),
}


@pytest.mark.parametrize("cls", list(UNARY_CASES), ids=lambda c: c.name)
@given(data=st.data())
def test_unary(cls: type[Operation], data: st.DataObject) -> None:
    domain, fn = UNARY_CASES[cls]
    dt = data.draw(dtypes_of(cls.DTYPES), label="dtype")
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4), label="shape")
    x = values(rng_from(data), dt, shape, domain)
    out = run_checked(data, cls, [x])
    assert_matches(out, elementwise_oracle(lambda a, _dt: fn(a), dtype_of(out), x))


def _softmax_row(row: list[float]) -> list[float]:
    exps = [math.exp(v) for v in row]
    total = math.fsum(exps)
    return [e / total for e in exps]


def _log_softmax_row(row: list[float]) -> list[float]:
    log_total = math.log(math.fsum(math.exp(v) for v in row))
    return [v - log_total for v in row]


@pytest.mark.parametrize(
    ("cls", "fn"), [(ops.Softmax, _softmax_row), (ops.LogSoftmax, _log_softmax_row)], ids=["softmax", "log_softmax"]
)
@given(data=st.data())
def test_softmax(cls: type[Operation], fn: Any, data: st.DataObject) -> None:
    dt = data.draw(dtypes_of(FLOATS), label="dtype")
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), label="shape")
    axis = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1), label="axis")
    x = values(rng_from(data), dt, shape, "moderate")
    attrs = {} if axis is None else {"axis": axis}
    out = run_checked(data, cls, [x], **attrs)
    ax = -1 if axis is None else axis
    moved = np.moveaxis(x, ax, -1)
    rows = [fn(py(r)) for r in moved.reshape(-1, moved.shape[-1])]
    want = expected_array([v for r in rows for v in r], dt, moved.shape)
    assert_matches(out, np.moveaxis(want, -1, ax))


def test_type_rules() -> None:
    assert ops.Relu.create(_input((None, 3), DType.int8)).result.type == TensorType(DType.int8, (None, 3))
    assert ops.Softmax.create(_input(None)).result.type == TensorType(F32, None)
    assert ops.LogSoftmax.create(_input((None, 5), F16), axis=0).result.type == TensorType(F16, (None, 5))
    with pytest.raises(ShapeError, match=r"nn.softmax 'sm': axis 2 is out of range for rank 2"):
        ops.Softmax.create(_input((2, 3)), axis=2, name="sm")
    with pytest.raises(ShapeError, match=r"axis -1 is out of range for rank 0"):
        ops.LogSoftmax.create(_input(()))
    with pytest.raises(DTypeError, match=r"nn.softmax: x has dtype i32; expected one of"):
        ops.Softmax.create(_input((2,), DType.int32))
    with pytest.raises(DTypeError, match=r"nn.softplus: x has dtype i32; expected one of"):
        ops.Softplus.create(_input((2,), DType.int32))
    with pytest.raises(DTypeError, match=r"nn.relu: x has dtype i1; expected one of"):
        ops.Relu.create(_input((2,), DType.bool))


def test_traits() -> None:
    for cls in NN_OPS:
        assert Trait.PURE in cls.traits and cls in IMPL_RULES, cls.name
        assert (Trait.ELEMENTWISE in cls.traits) == (cls in UNARY_CASES), cls.name
        assert Trait.COMMUTATIVE not in cls.traits


@pytest.mark.parametrize("dt", FLOAT_DTYPES)
def test_stable_for_huge_logits(dt: DType) -> None:
    x = np.array([[-1e4, 0.0, 1e4], [1e4, 1e4, -1e4]], dtype=dt.numpy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        softplus = _run1(ops.Softplus, x).astype(np.float64)
        softmax = _run1(ops.Softmax, x).astype(np.float64)
        log_softmax = _run1(ops.LogSoftmax, x).astype(np.float64)
        log_softmax0 = _run1(ops.LogSoftmax, x, axis=0).astype(np.float64)
    big = float(np.float64(1e4).astype(dt.numpy))  # 1e4 as the dtype holds it
    np.testing.assert_allclose(softplus, [[0.0, math.log(2), big], [big, big, 0.0]], rtol=RTOL[dt])
    np.testing.assert_allclose(softmax, [[0.0, 0.0, 1.0], [0.5, 0.5, 0.0]], rtol=RTOL[dt], atol=1e-30)
    np.testing.assert_allclose(
        log_softmax, [[-2 * big, -big, 0.0], [-math.log(2), -math.log(2), -2 * big - math.log(2)]], rtol=RTOL[dt]
    )
    np.testing.assert_allclose(log_softmax0, [[-2 * big, -big, 0.0], [0.0, 0.0, -2 * big]], rtol=RTOL[dt])
    assert np.isfinite(log_softmax).all() and np.isfinite(log_softmax0).all()


def test_special_values() -> None:
    np.testing.assert_array_equal(_run1(ops.Relu, np.int8([-128, 0, 127])), np.int8([0, 0, 127]))
    np.testing.assert_array_equal(_run1(ops.Relu, np.float32([-np.inf, np.nan, 2])), np.float32([0, np.nan, 2]))
    np.testing.assert_array_equal(_run1(ops.Softplus, np.float32([-np.inf, np.inf])), np.float32([0, np.inf]))
    # A row of size one normalises to 1 (log 0), whatever its value.
    np.testing.assert_array_equal(_run1(ops.Softmax, np.float32([[3e38], [-3e38]])), np.float32([[1], [1]]))
    np.testing.assert_array_equal(_run1(ops.LogSoftmax, np.float64([[7.0]])), [[0.0]])
    assert _run1(ops.Softmax, np.zeros((2, 0), np.float32)).shape == (2, 0)
