"""The math dialect: type rules against the reference kernels, kernels against Python oracles.

For every op, hypothesis draws dtypes, (broadcasting) shapes and values; the op is built once
with static operand types and once with ``None`` dims or unknown rank, and the kernel's output
must match the static inferred type exactly (dtype and shape) and the loose one compatibly.
Values are checked against an independent scalar computation in Python (big ints wrapped to
the dtype, floats in double precision rounded to the dtype).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowir.ir import (
    DType,
    DTypeError,
    FlowirError,
    Graph,
    OpAttributeError,
    Operation,
    ShapeError,
    TensorType,
    Trait,
    dtype_of,
    ops,
)
from flowir.ir.ops._base import ALL_DTYPES, FLOATS, NUMERIC
from flowir.ir.reference import IMPL_RULES, run_op

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

F16, BF16, F32, F64 = DType.float16, DType.bfloat16, DType.float32, DType.float64
I8, I32, I64, U8, BOOL, STR = DType.int8, DType.int32, DType.int64, DType.uint8, DType.bool, DType.string

RTOL = {F16: 2e-3, BF16: 1.6e-2, F32: 1e-5, F64: 1e-12}
ATOL = {F16: 1e-4, BF16: 1e-3, F32: 1e-7, F64: 1e-14}

MATH_OPS = [getattr(ops.math, n) for n in ops.math.__all__]


# --------------------------------------------------------------------------------------------
# Shared helpers (test_ops_nn.py uses them too)


def build(cls: type[Operation], types: Sequence[TensorType], **attrs: Any) -> Operation:
    """``cls`` applied to graph inputs ``in0, in1, ...`` of ``types``."""
    g = Graph()
    args = [g.add_input(t, f"in{i}") for i, t in enumerate(types)]
    return cls.create(*args, **attrs)


def static_type(a: np.ndarray) -> TensorType:
    return TensorType(dtype_of(a), a.shape)


def loose_type(data: st.DataObject, a: np.ndarray) -> TensorType:
    """``a``'s type with some dims (or the rank) made unknown."""
    if data.draw(st.integers(0, 5), label="unknown rank") == 0:
        return TensorType(dtype_of(a), None)
    mask = data.draw(st.lists(st.booleans(), min_size=a.ndim, max_size=a.ndim), label="unknown dims")
    return TensorType(dtype_of(a), tuple(None if m else d for m, d in zip(mask, a.shape)))


def run_checked(data: st.DataObject, cls: type[Operation], arrays: Sequence[np.ndarray], **attrs: Any) -> np.ndarray:
    """Run ``cls``'s kernel on ``arrays``; check it against the inferred types (static: equal;
    with unknown dims: compatible, same dtype) and return its output."""
    op = build(cls, [static_type(a) for a in arrays], **attrs)
    (out,) = run_op(op, list(arrays))
    assert isinstance(out, np.ndarray)
    assert op.result.type == TensorType(dtype_of(out), out.shape), (op.result.type, out.dtype, out.shape)
    loose = build(cls, [loose_type(data, a) for a in arrays], **attrs)
    assert loose.result.type.dtype is op.result.type.dtype
    assert loose.result.type.is_compatible_with(op.result.type), (loose.result.type, op.result.type)
    return out


def rng_from(data: st.DataObject) -> np.random.Generator:
    return np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))


def dtypes_of(allowed: frozenset[DType]) -> st.SearchStrategy[DType]:
    return st.sampled_from(sorted(allowed, key=lambda d: list(DType).index(d)))


#: Value domains: (integer range as a function of the dtype's bounds, float range).
DOMAINS: dict[str, tuple[Callable[[np.iinfo], tuple[int, int]], tuple[float, float]]] = {
    "any": (lambda i: (int(i.min), int(i.max)), (-100.0, 100.0)),
    "nonzero": (lambda i: (int(i.min), int(i.max)), (-100.0, 100.0)),
    "small": (lambda i: (max(int(i.min), -3), 3), (-3.0, 3.0)),
    "exponent": (lambda i: (0, 4), (-3.0, 3.0)),
    "base": (lambda i: (int(i.min), int(i.max)), (0.1, 4.0)),
    "positive": (lambda i: (1, int(i.max)), (0.01, 100.0)),
    "moderate": (lambda i: (max(int(i.min), -10), 10), (-10.0, 10.0)),
    "unit": (lambda i: (0, 1), (-0.99, 0.99)),
    "above_one": (lambda i: (1, 10), (1.0, 10.0)),
    "halves": (lambda i: (0, 1), (-4.0, 4.0)),
    # Shift amounts, out-of-range ones included (clamped into [0, width - 1]).
    "shift": (lambda i: (max(int(i.min), -3), min(int(i.max), 70)), (0.0, 1.0)),
}
STRINGS = ["", "a", "b", "ab"]


def values(rng: np.random.Generator, dt: DType, shape: tuple[int, ...], domain: str = "any") -> np.ndarray:
    """Random values of ``dt`` and ``shape`` from ``domain`` ("small" floats are integers, so
    that comparisons see ties; "nonzero" avoids zero)."""
    if dt is BOOL:
        return rng.random(shape) < 0.5
    if dt is STR:
        return np.array(rng.choice(STRINGS, size=shape).tolist(), dtype=object).reshape(shape)
    int_range, (lo, hi) = DOMAINS[domain]
    if dt.is_integer:
        a, b = int_range(np.iinfo(dt.numpy))
        v = rng.integers(a, b, size=shape, endpoint=True, dtype=np.int64)
        if domain == "nonzero":
            v[v == 0] = 1
        return v.astype(dt.numpy)
    v = rng.uniform(lo, hi, size=shape)
    if domain == "small":
        v = np.round(v)
    if domain == "halves":
        # Multiples of 0.5: rounding's ties (halves to even).
        v = np.round(v * 2) / 2
    if domain == "nonzero":
        v = np.where(np.abs(v) < 0.5, 0.5, v)
    return v.astype(dt.numpy)


def py(a: np.ndarray) -> list[Any]:
    """The elements of ``a`` as Python values (floats widened to double exactly)."""
    if dtype_of(a).is_floating:
        return a.astype(np.float64).ravel().tolist()
    return a.ravel().tolist()


def wrap(v: int, dt: DType) -> int:
    """``v`` wrapped into ``dt``'s range, as two's-complement arithmetic does."""
    info = np.iinfo(dt.numpy)
    return (int(v) - int(info.min)) % (int(info.max) - int(info.min) + 1) + int(info.min)


def round_to(v: float, dt: DType) -> float:
    with np.errstate(over="ignore"):
        return float(np.float64(v).astype(dt.numpy))


def expected_array(vals: Sequence[Any], dt: DType, shape: tuple[int, ...]) -> np.ndarray:
    """Oracle values as an array of ``dt``: ints wrapped, floats rounded (overflow gives inf)."""
    if dt is BOOL:
        return np.array(vals, dtype=bool).reshape(shape)
    if dt.is_integer:
        return np.array([wrap(v, dt) for v in vals], dtype=dt.numpy).reshape(shape)
    with np.errstate(over="ignore"):
        return np.array(vals, dtype=np.float64).astype(dt.numpy).reshape(shape)


def assert_matches(out: np.ndarray, expected: np.ndarray) -> None:
    assert out.dtype == expected.dtype and out.shape == expected.shape, (
        out.dtype,
        out.shape,
        expected.dtype,
        expected.shape,
    )
    dt = dtype_of(out)
    if dt.is_floating:
        np.testing.assert_allclose(
            out.astype(np.float64), expected.astype(np.float64), rtol=RTOL[dt], atol=ATOL[dt], equal_nan=True
        )
    else:
        np.testing.assert_array_equal(out, expected)


def elementwise_oracle(fn: Callable[..., Any], out_dt: DType, *arrays: np.ndarray) -> np.ndarray:
    """``fn`` applied to each broadcast tuple of Python scalars (the last argument is the
    operands' dtype)."""
    bs = np.broadcast_arrays(*arrays)
    in_dt = dtype_of(arrays[-1])
    vals = [fn(*args, in_dt) for args in zip(*(py(b) for b in bs))]
    return expected_array(vals, out_dt, bs[0].shape)


# --------------------------------------------------------------------------------------------
# Scalar oracles


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _div(a: Any, b: Any, dt: DType) -> Any:
    return _trunc_div(a, b) if dt.is_integer else a / b


def _floordiv(a: Any, b: Any, dt: DType) -> Any:
    # TF floors the quotient as rounded to the operands' dtype.
    return a // b if dt.is_integer else math.floor(round_to(a / b, dt))


def _sigmoid(a: float) -> float:
    return 1 / (1 + math.exp(-a))


def _sign(a: Any) -> Any:
    return (a > 0) - (a < 0)


BINARY_CASES: dict[type[Operation], tuple[str, str, Callable[[Any, Any, DType], Any]]] = {
    ops.Add: ("any", "any", lambda a, b, dt: a + b),
    ops.Sub: ("any", "any", lambda a, b, dt: a - b),
    ops.Mul: ("any", "any", lambda a, b, dt: a * b),
    ops.Div: ("any", "nonzero", _div),
    ops.FloorDiv: ("any", "nonzero", _floordiv),
    ops.Mod: ("any", "nonzero", lambda a, b, dt: a % b),
    ops.Pow: ("base", "exponent", lambda a, b, dt: a**b),
    ops.Maximum: ("small", "small", lambda a, b, dt: max(a, b)),
    ops.Minimum: ("small", "small", lambda a, b, dt: min(a, b)),
    ops.Equal: ("small", "small", lambda a, b, dt: a == b),
    ops.NotEqual: ("small", "small", lambda a, b, dt: a != b),
    ops.Less: ("small", "small", lambda a, b, dt: a < b),
    ops.LessEqual: ("small", "small", lambda a, b, dt: a <= b),
    ops.Greater: ("small", "small", lambda a, b, dt: a > b),
    ops.GreaterEqual: ("small", "small", lambda a, b, dt: a >= b),
    ops.LogicalAnd: ("any", "any", lambda a, b, dt: a and b),
    ops.LogicalOr: ("any", "any", lambda a, b, dt: a or b),
    ops.LogicalXor: ("any", "any", lambda a, b, dt: a != b),
    ops.BitwiseAnd: ("any", "any", lambda a, b, dt: a & b),
    ops.BitwiseOr: ("any", "any", lambda a, b, dt: a | b),
    ops.BitwiseXor: ("any", "any", lambda a, b, dt: a ^ b),
    ops.LeftShift: ("any", "shift", lambda a, b, dt: a << min(max(b, 0), 8 * np.dtype(dt.numpy).itemsize - 1)),
    ops.RightShift: ("any", "shift", lambda a, b, dt: a >> min(max(b, 0), 8 * np.dtype(dt.numpy).itemsize - 1)),
}

UNARY_CASES: dict[type[Operation], tuple[str, Callable[[Any], Any]]] = {
    ops.Neg: ("any", operator.neg),
    ops.Abs: ("any", abs),
    ops.Sign: ("any", _sign),
    ops.Exp: ("moderate", math.exp),
    ops.Log: ("positive", math.log),
    ops.Sqrt: ("positive", math.sqrt),
    ops.Rsqrt: ("positive", lambda a: 1 / math.sqrt(a)),
    ops.Square: ("any", lambda a: a * a),
    ops.Tanh: ("moderate", math.tanh),
    ops.Sigmoid: ("moderate", _sigmoid),
    ops.Sin: ("moderate", math.sin),
    ops.Cos: ("moderate", math.cos),
    ops.LogicalNot: ("any", operator.not_),
    ops.Tan: ("unit", math.tan),
    ops.Asin: ("unit", math.asin),
    ops.Acos: ("unit", math.acos),
    ops.Atan: ("moderate", math.atan),
    ops.Sinh: ("moderate", math.sinh),
    ops.Cosh: ("moderate", math.cosh),
    ops.Asinh: ("moderate", math.asinh),
    ops.Acosh: ("above_one", math.acosh),
    ops.Atanh: ("unit", math.atanh),
    ops.Erf: ("moderate", math.erf),
    ops.Floor: ("moderate", math.floor),
    ops.Ceil: ("moderate", math.ceil),
    ops.Round: ("halves", round),
    ops.Reciprocal: ("nonzero", lambda a: 1 / a),
    ops.IsNan: ("any", math.isnan),
    ops.IsInf: ("any", math.isinf),
    ops.BitwiseNot: ("any", operator.invert),
}

broadcast_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, min_side=0, max_side=3)


# --------------------------------------------------------------------------------------------
# Elementwise ops


@pytest.mark.parametrize("cls", list(BINARY_CASES), ids=lambda c: c.name)
@given(data=st.data())
def test_binary_elementwise(cls: type[Operation], data: st.DataObject) -> None:
    dom_x, dom_y, fn = BINARY_CASES[cls]
    dt = data.draw(dtypes_of(cls.DTYPES), label="dtype")
    shapes = data.draw(broadcast_pairs, label="shapes")
    rng = rng_from(data)
    x = values(rng, dt, shapes.input_shapes[0], dom_x)
    y = values(rng, dt, shapes.input_shapes[1], dom_y)
    out = run_checked(data, cls, [x, y])
    assert out.shape == shapes.result_shape
    assert_matches(out, elementwise_oracle(fn, dtype_of(out), x, y))


@pytest.mark.parametrize("cls", [c for c in MATH_OPS if Trait.COMMUTATIVE in c.traits], ids=lambda c: c.name)
@given(data=st.data())
def test_commutative_ops_commute(cls: type[Operation], data: st.DataObject) -> None:
    dt = data.draw(dtypes_of(cls.DTYPES), label="dtype")
    shapes = data.draw(broadcast_pairs, label="shapes")
    rng = rng_from(data)
    x, y = (values(rng, dt, s, "small") for s in shapes.input_shapes)
    xy = run_op(build(cls, [static_type(x), static_type(y)]), [x, y])[0]
    yx = run_op(build(cls, [static_type(y), static_type(x)]), [y, x])[0]
    np.testing.assert_array_equal(xy, yx)


@pytest.mark.parametrize("cls", list(UNARY_CASES), ids=lambda c: c.name)
@given(data=st.data())
def test_unary_elementwise(cls: type[Operation], data: st.DataObject) -> None:
    domain, fn = UNARY_CASES[cls]
    dt = data.draw(dtypes_of(cls.DTYPES), label="dtype")
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4), label="shape")
    x = values(rng_from(data), dt, shape, domain)
    out = run_checked(data, cls, [x])
    assert_matches(out, elementwise_oracle(lambda a, _dt: fn(a), dtype_of(out), x))


@given(data=st.data())
def test_cast(data: st.DataObject) -> None:
    src = data.draw(dtypes_of(NUMERIC | {BOOL}), label="src")
    dst = data.draw(dtypes_of(NUMERIC | {BOOL}), label="dst")
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=4), label="shape")
    rng = rng_from(data)
    if src.is_floating and dst.is_integer:
        # Out-of-range float-to-int conversion is undefined in TF (C++); stay inside dst.
        info = np.iinfo(dst.numpy)
        x = rng.uniform(max(-100, int(info.min)), min(100, int(info.max)), size=shape).astype(src.numpy)
    else:
        x = values(rng, src, shape)

    def convert(a: Any, _dt: DType) -> Any:
        if dst is BOOL:
            return a != 0
        if dst.is_integer:
            return int(a)  # truncates floats toward zero
        return float(a)

    out = run_checked(data, ops.Cast, [x], dtype=dst)
    assert_matches(out, elementwise_oracle(convert, dst, x))


@given(data=st.data())
def test_select(data: st.DataObject) -> None:
    dt = data.draw(dtypes_of(ALL_DTYPES), label="dtype")
    shapes = data.draw(
        hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, min_side=0, max_side=3), label="shapes"
    )
    rng = rng_from(data)
    cond = values(rng, BOOL, shapes.input_shapes[0])
    x, y = values(rng, dt, shapes.input_shapes[1]), values(rng, dt, shapes.input_shapes[2])
    out = run_checked(data, ops.Select, [cond, x, y])
    assert out.shape == shapes.result_shape
    c, xb, yb = np.broadcast_arrays(cond, x, y)
    want = [a if k else b for k, a, b in zip(c.ravel().tolist(), xb.ravel().tolist(), yb.ravel().tolist())]
    assert out.ravel().tolist() == want


# --------------------------------------------------------------------------------------------
# Matmul


def _matmul_oracle(a: np.ndarray, b: np.ndarray, dt: DType) -> np.ndarray:
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    vals = []
    for idx in np.ndindex(*batch):
        am, bm = a[idx].tolist(), b[idx].tolist()
        for i in range(m):
            for j in range(n):
                vals.append(sum((am[i][p] * bm[p][j] for p in range(k)), 0))
    return expected_array(vals, dt, batch + (m, n))


@given(data=st.data())
def test_matmul(data: st.DataObject) -> None:
    dt = data.draw(dtypes_of(NUMERIC), label="dtype")
    batch = data.draw(
        hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, min_side=0, max_side=3), label="batch"
    )
    m, k, n = (data.draw(st.integers(0, 3), label=d) for d in "mkn")
    ta, tb = data.draw(st.booleans(), label="transpose_a"), data.draw(st.booleans(), label="transpose_b")
    rng = rng_from(data)
    # Small integers keep every dtype exact, so the oracle is exact too.
    a = values(rng, dt, batch.input_shapes[0] + (m, k), "small" if dt.is_floating else "any")
    b = values(rng, dt, batch.input_shapes[1] + (k, n), "small" if dt.is_floating else "any")
    a_in = np.swapaxes(a, -1, -2) if ta else a
    b_in = np.swapaxes(b, -1, -2) if tb else b
    out = run_checked(data, ops.MatMul, [a_in, b_in], transpose_a=ta, transpose_b=tb)
    ints = (
        (a.astype(np.int64) if dt.is_floating else a).astype(object),
        (b.astype(np.int64) if dt.is_floating else b).astype(object),
    )
    assert_matches(out, _matmul_oracle(*ints, dt))


def _input(shape: tuple[int | None, ...] | None, dt: DType = F32, name: str = "x") -> Any:
    return Graph().add_input(TensorType(dt, shape), name)


@pytest.mark.parametrize(
    ("sa", "sb", "attrs", "want"),
    [
        ((None, 784), (784, 10), {}, (None, 10)),
        ((None, None), (None, 10), {}, (None, 10)),
        ((None, 784), (None, None), {}, (None, None)),
        ((3, 4), (5, 4), {"transpose_b": True}, (3, 5)),
        ((4, 3), (4, 5), {"transpose_a": True}, (3, 5)),
        ((2, 1, 3, 4), (5, 4, 6), {}, (2, 5, 3, 6)),
        ((None, 3, 4), (1, 4, 6), {}, (None, 3, 6)),
        ((None, 3, 4), (4, 6), {}, (None, 3, 6)),
        (None, (4, 6), {}, None),
        ((3, 4), None, {}, None),
    ],
)
def test_matmul_type_rule(sa: Any, sb: Any, attrs: dict[str, bool], want: Any) -> None:
    op = ops.MatMul.create(_input(sa, name="a"), _input(sb, name="b"), **attrs)
    assert op.result.type == TensorType(F32, want)


def test_matmul_error_messages() -> None:
    x = _input((None, 784), name="inputs/x")
    w = _input((128, 10), name="dense_1/kernel")
    with pytest.raises(ShapeError) as e:
        ops.MatMul.create(x, w, name="dense_1/MatMul")
    lines = str(e.value).splitlines()
    assert lines[0] == "math.matmul 'dense_1/MatMul': contracting dims differ (784 vs 128)"
    assert lines[1].split() == ["a:", "'inputs/x'", "f32[None,", "784]"]
    assert lines[2].split() == ["b:", "'dense_1/kernel'", "f32[128,", "10]"]
    assert "test_ops_math.py:" in lines[3] and "test_matmul_error_messages" in lines[3]

    with pytest.raises(ShapeError, match=r"math.matmul 'mm': a must have rank >= 2, got \[784\]"):
        ops.MatMul.create(_input((784,), name="v"), w, name="mm")
    with pytest.raises(ShapeError, match=r"batch dims are not broadcast-compatible: \[2\] vs \[3\]"):
        ops.MatMul.create(_input((2, 4, 4)), _input((3, 4, 4)))
    with pytest.raises(DTypeError, match=r"math.matmul: operands have different dtypes \(f32 vs i32\)"):
        ops.MatMul.create(_input((2, 2)), _input((2, 2), I32))
    with pytest.raises(DTypeError, match="operands has dtype i1"):
        ops.MatMul.create(_input((2, 2), BOOL), _input((2, 2), BOOL))


# --------------------------------------------------------------------------------------------
# Reductions


def _mean(row: list[Any], dt: DType) -> Any:
    if dt.is_integer:
        # TF accumulates integer means in 64 bits (wrapping only for int64 itself).
        total = wrap(sum(row), I64) if dt.is_signed else sum(row)
        return _trunc_div(total, len(row)) if row else 0
    return math.fsum(row) / len(row) if row else math.nan


def _lowest(dt: DType) -> Any:
    return -math.inf if dt.is_floating else int(np.iinfo(dt.numpy).min)


def _highest(dt: DType) -> Any:
    return math.inf if dt.is_floating else int(np.iinfo(dt.numpy).max)


REDUCTION_CASES: dict[type[Operation], Callable[[list[Any], DType], Any]] = {
    ops.ReduceSum: lambda row, dt: sum(row, 0) if dt.is_integer else math.fsum(row),
    ops.ReduceMean: _mean,
    ops.ReduceMax: lambda row, dt: max(row, default=_lowest(dt)),
    ops.ReduceMin: lambda row, dt: min(row, default=_highest(dt)),
    ops.ReduceProd: lambda row, dt: math.prod(row),
    ops.ReduceAny: lambda row, dt: any(row),
    ops.ReduceAll: lambda row, dt: all(row),
}


def reduce_oracle(
    x: np.ndarray, axes: Sequence[int] | None, keepdims: bool, fold: Callable[[list[Any], DType], Any]
) -> np.ndarray:
    """``fold`` over the rows of ``x`` along ``axes``, computed in Python."""
    dt = dtype_of(x)
    red = tuple(range(x.ndim)) if axes is None else tuple(a % x.ndim for a in axes)
    kept = [i for i in range(x.ndim) if i not in red]
    count = math.prod(x.shape[i] for i in red)
    rows = np.transpose(x, kept + list(red)).reshape(math.prod(x.shape[i] for i in kept), count)
    vals = [fold(py(row), dt) for row in rows]
    shape = tuple(1 if i in red else d for i, d in enumerate(x.shape)) if keepdims else tuple(x.shape[i] for i in kept)
    return expected_array(vals, dt, shape)


@pytest.mark.parametrize("cls", list(REDUCTION_CASES), ids=lambda c: c.name)
@given(data=st.data())
def test_reduction(cls: type[Operation], data: st.DataObject) -> None:
    dt = data.draw(dtypes_of(cls.DTYPES), label="dtype")
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3), label="shape")
    rank = len(shape)
    axes = data.draw(
        st.none()
        | st.lists(st.integers(0, max(rank - 1, 0)), unique=True, max_size=rank).flatmap(
            lambda ax: st.tuples(*(st.sampled_from([a, a - rank]) for a in ax))
        ),
        label="axes",
    )
    keepdims = data.draw(st.booleans(), label="keepdims")
    domain = "small" if cls is ops.ReduceProd or dt.is_floating else "any"
    x = values(rng_from(data), dt, shape, domain)
    out = run_checked(data, cls, [x], axes=axes, keepdims=keepdims)
    assert_matches(out, reduce_oracle(x, axes, keepdims, REDUCTION_CASES[cls]))


@pytest.mark.parametrize(
    ("shape", "attrs", "want"),
    [
        (None, {}, ()),
        (None, {"keepdims": True}, None),
        (None, {"axes": [0]}, None),
        (None, {"axes": [0], "keepdims": True}, None),
        (None, {"axes": []}, None),
        ((None, 3, 4), {}, ()),
        ((None, 3, 4), {"axes": [-1]}, (None, 3)),
        ((None, 3, 4), {"axes": [0, 2], "keepdims": True}, (1, 3, 1)),
        ((None, 3, 4), {"axes": []}, (None, 3, 4)),
        ((), {"axes": []}, ()),
    ],
)
def test_reduction_type_rule(shape: Any, attrs: dict[str, Any], want: Any) -> None:
    assert ops.ReduceMean.create(_input(shape), **attrs).result.type == TensorType(F32, want)


def test_reduction_axis_errors() -> None:
    with pytest.raises(ShapeError, match=r"math.reduce_sum 'sum': axis 2 is out of range for rank 2"):
        ops.ReduceSum.create(_input((2, 3)), axes=[2], name="sum")
    with pytest.raises(ShapeError, match=r"axis -3 is out of range for rank 2"):
        ops.ReduceSum.create(_input((2, 3)), axes=[-3])
    with pytest.raises(ShapeError, match=r"repeated axis in \[1, -1\]"):
        ops.ReduceMax.create(_input((2, 3)), axes=[1, -1])
    with pytest.raises(OpAttributeError, match="axes"):
        ops.ReduceMax.create(_input((2, 3)), axes=1.5)


def test_reduction_tf_semantics() -> None:
    def run(cls: type[Operation], x: np.ndarray, **attrs: Any) -> np.ndarray:
        return run_op(build(cls, [static_type(x)], **attrs), [x])[0]

    # Integer mean: a 64-bit sum divided with truncation toward zero, no overflow in between.
    np.testing.assert_array_equal(run(ops.ReduceMean, np.int8([-1, -2])), np.int8(-1))
    np.testing.assert_array_equal(run(ops.ReduceMean, np.int8([-3, -4, 1])), np.int8(-2))
    np.testing.assert_array_equal(run(ops.ReduceMean, np.uint8([255, 255])), np.uint8(255))
    np.testing.assert_array_equal(run(ops.ReduceMean, np.int32([2**31 - 1] * 2)), np.int32(2**31 - 1))
    # Sums and products wrap in the input dtype.
    np.testing.assert_array_equal(run(ops.ReduceSum, np.int8([127, 1])), np.int8(-128))
    np.testing.assert_array_equal(run(ops.ReduceProd, np.uint8([16, 16, 3])), np.uint8(0))
    # Empty reductions give the reducers' identities (nan for a float mean).
    empty = np.zeros((2, 0), np.float32)
    np.testing.assert_array_equal(run(ops.ReduceMax, empty, axes=[1]), np.float32([-np.inf, -np.inf]))
    np.testing.assert_array_equal(run(ops.ReduceMin, empty.astype(np.int32), axes=[1]), np.int32([2**31 - 1] * 2))
    np.testing.assert_array_equal(run(ops.ReduceMean, empty, axes=[1]), np.float32([np.nan, np.nan]))
    np.testing.assert_array_equal(run(ops.ReduceMean, empty.astype(np.int8), axes=[1]), np.int8([0, 0]))
    np.testing.assert_array_equal(run(ops.ReduceAll, empty.astype(bool), axes=[1]), [True, True])
    # Empty axes reduce nothing; a full reduction gives a 0-d array.
    x = np.arange(6, dtype=np.int16).reshape(2, 3)
    np.testing.assert_array_equal(run(ops.ReduceSum, x, axes=[]), x)
    full = run(ops.ReduceSum, x)
    assert isinstance(full, np.ndarray) and full.shape == () and full.dtype == np.int16 and full == 15
    # nan wins in max/min.
    np.testing.assert_array_equal(run(ops.ReduceMax, np.float32([1, np.nan, 3])), np.float32(np.nan))


# --------------------------------------------------------------------------------------------
# ArgMax / ArgMin


@pytest.mark.parametrize("cls", [ops.ArgMax, ops.ArgMin], ids=lambda c: c.name)
@given(data=st.data())
def test_arg_reduction(cls: type[Operation], data: st.DataObject) -> None:
    dt = data.draw(dtypes_of(NUMERIC), label="dtype")
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), label="shape")
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    out_dt = data.draw(st.sampled_from([I32, I64]), label="output_type")
    x = values(rng_from(data), dt, shape, "small")  # ties: the first index must win
    out = run_checked(data, cls, [x], axis=axis, output_type=out_dt)
    pick = max if cls is ops.ArgMax else min
    moved = np.moveaxis(x, axis, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    want = [r.index(pick(r)) for r in (py(row) for row in rows)]
    assert_matches(out, expected_array(want, out_dt, moved.shape[:-1]))


def test_arg_reduction_rules() -> None:
    assert ops.ArgMax.create(_input((None, 3, 4)), axis=-2).result.type == TensorType(I64, (None, 4))
    assert ops.ArgMin.create(_input(None), axis=0, output_type=I32).result.type == TensorType(I32, None)
    with pytest.raises(ShapeError, match=r"math.argmax: axis 2 is out of range for rank 2"):
        ops.ArgMax.create(_input((2, 3)), axis=2)
    with pytest.raises(ShapeError, match=r"axis 0 is out of range for rank 0"):
        ops.ArgMax.create(_input(()), axis=0)
    with pytest.raises(OpAttributeError, match=r"math.argmax 'am': output_type must be i32 or i64, got f32"):
        ops.ArgMax.create(_input((2, 3)), axis=0, output_type=F32, name="am")
    with pytest.raises(OpAttributeError, match="missing required attribute 'axis'"):
        ops.ArgMin.create(_input((2, 3)))
    with pytest.raises(DTypeError, match="x has dtype i1"):
        ops.ArgMin.create(_input((2, 3), BOOL), axis=0)
    op = ops.ArgMax.create(_input((2, 0)), axis=1)
    with pytest.raises(FlowirError, match=r"cannot reduce axis 1 of size 0 in shape \[2, 0\]"):
        run_op(op, [np.zeros((2, 0), np.float32)])


# --------------------------------------------------------------------------------------------
# Type rules: errors and special cases


def test_add_error_messages() -> None:
    a = _input((2, 3), name="layer/a")
    with pytest.raises(DTypeError) as e:
        ops.Add.create(a, _input((3,), I32, name="b"), name="layer/add")
    lines = str(e.value).splitlines()
    assert lines[0] == "math.add 'layer/add': operands have different dtypes (f32 vs i32)"
    assert lines[1].split() == ["x:", "'layer/a'", "f32[2,", "3]"]
    assert lines[2].split() == ["y:", "'b'", "i32[3]"]
    assert "test_ops_math.py:" in lines[3] and "test_add_error_messages" in lines[3]

    with pytest.raises(ShapeError) as e:
        ops.Add.create(a, _input((4,), name="c"), name="layer/add_1")
    lines = str(e.value).splitlines()
    assert lines[0] == "math.add 'layer/add_1': shapes are not broadcast-compatible: [2, 3] vs [4]"
    assert lines[2].split() == ["y:", "'c'", "f32[4]"]


BAD_DTYPES: list[tuple[type[Operation], DType]] = [
    (ops.Add, BOOL),
    (ops.Add, STR),
    (ops.Div, BOOL),
    (ops.Neg, U8),
    (ops.Neg, BOOL),
    (ops.Abs, BOOL),
    (ops.Exp, I32),
    (ops.Log, I64),
    (ops.Sigmoid, I8),
    (ops.Square, BOOL),
    (ops.Less, BOOL),
    (ops.Greater, STR),
    (ops.LogicalAnd, F32),
    (ops.LogicalNot, I32),
    (ops.ReduceSum, BOOL),
    (ops.ReduceAny, F32),
    (ops.Cast, STR),
]


@pytest.mark.parametrize(("cls", "dt"), BAD_DTYPES, ids=lambda v: getattr(v, "name", str(v)))
def test_rejected_dtypes(cls: type[Operation], dt: DType) -> None:
    operands = [_input((2,), dt, name=f"in{i}") for i in range(len(cls.OPERANDS))]
    attrs = {"dtype": F32} if cls is ops.Cast else {}
    with pytest.raises(DTypeError, match=rf"^{cls.name} 'bad': .*has dtype {dt.value}; expected one of") as e:
        cls.create(*operands, name="bad", **attrs)
    assert "'in0'" in str(e.value)


def test_equal_accepts_bool_and_strings() -> None:
    for dt in (BOOL, STR):
        op = ops.Equal.create(_input((2, None), dt), _input((1,), dt))
        assert op.result.type == TensorType(BOOL, (2, None))
    x = np.array(["a", "b", ""], dtype=object)
    y = np.array(["a", "c", ""], dtype=object)
    op = ops.NotEqual.create(_input((3,), STR), _input((3,), STR))
    np.testing.assert_array_equal(run_op(op, [x, y])[0], [False, True, False])


def test_cast_and_select_rules() -> None:
    assert ops.Cast.create(_input((None, 2)), dtype=BOOL).result.type == TensorType(BOOL, (None, 2))
    assert ops.Cast.create(_input(None, U8), dtype="f16").result.type == TensorType(F16, None)
    with pytest.raises(DTypeError, match="cannot cast f32 to string"):
        ops.Cast.create(_input((2,)), dtype=STR)
    with pytest.raises(OpAttributeError, match="missing required attribute 'dtype'"):
        ops.Cast.create(_input((2,)))
    sel = ops.Select.create(_input((None, 1), BOOL), _input((3,), STR), _input((1, 3), STR))
    assert sel.result.type == TensorType(STR, (None, 3))
    with pytest.raises(DTypeError, match="cond has dtype f32; expected one of i1"):
        ops.Select.create(_input((3,)), _input((3,)), _input((3,)))
    with pytest.raises(DTypeError, match=r"x and y have different dtypes \(f32 vs f64\)"):
        ops.Select.create(_input((3,), BOOL), _input((3,)), _input((3,), F64))
    with pytest.raises(ShapeError, match="not broadcast-compatible"):
        ops.Select.create(_input((2,), BOOL), _input((3,)), _input((3,)))


def test_traits() -> None:
    commutative = {
        ops.Add, ops.Mul, ops.Maximum, ops.Minimum, ops.Equal, ops.NotEqual,
        ops.LogicalAnd, ops.LogicalOr, ops.LogicalXor, ops.BitwiseAnd, ops.BitwiseOr, ops.BitwiseXor,
    }  # fmt: skip
    structural = {ops.MatMul, ops.ArgMax, ops.ArgMin, ops.CumSum, ops.TopK} | set(REDUCTION_CASES)
    for cls in MATH_OPS:
        assert Trait.PURE in cls.traits, cls.name
        assert (Trait.COMMUTATIVE in cls.traits) == (cls in commutative), cls.name
        assert (Trait.ELEMENTWISE in cls.traits) == (cls not in structural), cls.name
        assert cls in IMPL_RULES, cls.name


# --------------------------------------------------------------------------------------------
# Kernel semantics: TF's integer division, run-time errors, special values


def _run2(cls: type[Operation], x: Any, y: Any, dt: DType = I32) -> np.ndarray:
    x, y = np.asarray(x, dt.numpy), np.asarray(y, dt.numpy)
    return run_op(build(cls, [static_type(x), static_type(y)]), [x, y])[0]


def test_integer_division_semantics() -> None:
    x, y = [7, -7, 7, -7, 6], [2, 2, -2, -2, 3]
    np.testing.assert_array_equal(_run2(ops.Div, x, y), [3, -3, -3, 3, 2])
    np.testing.assert_array_equal(_run2(ops.FloorDiv, x, y), [3, -4, -4, 3, 2])
    np.testing.assert_array_equal(_run2(ops.Mod, x, y), [1, 1, -1, -1, 0])
    # The one overflowing quotient wraps, quietly.
    np.testing.assert_array_equal(_run2(ops.Div, [-128], [-1], I8), np.int8([-128]))
    np.testing.assert_array_equal(_run2(ops.FloorDiv, [-128], [-1], I8), np.int8([-128]))
    np.testing.assert_array_equal(_run2(ops.Div, [255], [2], U8), np.uint8([127]))


@pytest.mark.parametrize("cls", [ops.Div, ops.FloorDiv, ops.Mod], ids=lambda c: c.name)
@pytest.mark.parametrize("dt", [I8, U8, I64])
def test_integer_division_by_zero_raises(cls: type[Operation], dt: DType) -> None:
    with pytest.raises(FlowirError, match="integer division by zero"):
        _run2(cls, [1, 2], [1, 0], dt)


def test_float_division_by_zero_is_quiet() -> None:
    out = _run2(ops.Div, [1.0, -1.0, 0.0], [0.0, 0.0, 0.0], F32)
    np.testing.assert_array_equal(out, np.float32([np.inf, -np.inf, np.nan]))
    np.testing.assert_array_equal(_run2(ops.FloorDiv, [1.0, 0.0], [0.0, 0.0], F64), [np.inf, np.nan])
    assert np.isnan(_run2(ops.Mod, [1.0], [0.0], F16)).all()


def test_float_floordiv_and_mod_follow_tf() -> None:
    # TF floors the rounded quotient: 1 / 0.1 rounds to 10 (numpy's floor_divide says 9).
    np.testing.assert_array_equal(_run2(ops.FloorDiv, [1.0], [0.1], F64), [10.0])
    # In half precision the quotient 69.9968 rounds to 70 before the floor, as in TF.
    np.testing.assert_array_equal(_run2(ops.FloorDiv, [84.6], [1.209], F16), np.float16([70]))
    np.testing.assert_array_equal(_run2(ops.FloorDiv, [-7.5, 7.5], [2.0, -2.0], F32), np.float32([-4, -4]))
    np.testing.assert_array_equal(_run2(ops.Mod, [-7.5, 7.5, 7.5], [2.0, -2.0, 2.0], F32), np.float32([0.5, -0.5, 1.5]))


def test_pow_semantics() -> None:
    np.testing.assert_array_equal(_run2(ops.Pow, [2, -3, 2], [3, 3, 7], I8), np.int8([8, -27, -128]))
    with pytest.raises(FlowirError, match="negative integer powers"):
        _run2(ops.Pow, [2], [-1])
    np.testing.assert_allclose(_run2(ops.Pow, [4.0, 0.0], [-0.5, -1.0], F32), np.float32([0.5, np.inf]))


def test_wrapping_unary_ops() -> None:
    def run1(cls: type[Operation], x: np.ndarray) -> np.ndarray:
        return run_op(build(cls, [static_type(x)]), [x])[0]

    np.testing.assert_array_equal(run1(ops.Neg, np.int8([-128, 5])), np.int8([-128, -5]))
    np.testing.assert_array_equal(run1(ops.Abs, np.int8([-128, -5])), np.int8([-128, 5]))
    np.testing.assert_array_equal(run1(ops.Square, np.uint8([16, 3])), np.uint8([0, 9]))
    np.testing.assert_array_equal(run1(ops.Sign, np.uint8([0, 200])), np.uint8([0, 1]))
    np.testing.assert_array_equal(run1(ops.Sign, np.float32([-0.5, 0, np.nan])), np.float32([-1, 0, np.nan]))
    out = run1(ops.Log, np.float32([0.0, -1.0]))
    np.testing.assert_array_equal(out, np.float32([-np.inf, np.nan]))
    np.testing.assert_array_equal(run1(ops.Rsqrt, np.float64([0.0, 4.0])), [np.inf, 0.5])


@pytest.mark.parametrize("dt", sorted(FLOATS, key=lambda d: d.value))
def test_sigmoid_is_stable(dt: DType) -> None:
    x = np.array([-1e4, -100.0, 0.0, 100.0, 1e4, -np.inf, np.inf], dtype=dt.numpy)
    out = run_op(build(ops.Sigmoid, [static_type(x)]), [x])[0]
    assert out.dtype == dt.numpy
    np.testing.assert_allclose(out.astype(np.float64), [0.0, 0.0, 0.5, 1.0, 1.0, 0.0, 1.0], rtol=0, atol=1e-30)
    mid = np.array([-3.0, 3.0], dtype=dt.numpy)
    got = run_op(build(ops.Sigmoid, [static_type(mid)]), [mid])[0].astype(np.float64)
    np.testing.assert_allclose(got, [_sigmoid(-3.0), _sigmoid(3.0)], rtol=RTOL[dt])


def test_cast_semantics() -> None:
    def cast(x: np.ndarray, dt: DType) -> np.ndarray:
        return run_op(build(ops.Cast, [static_type(x)], dtype=dt), [x])[0]

    np.testing.assert_array_equal(cast(np.float32([-1.7, 1.7, -0.5]), I32), np.int32([-1, 1, 0]))
    np.testing.assert_array_equal(cast(np.float32([0.0, -0.0, 0.1, np.nan]), BOOL), [False, False, True, True])
    np.testing.assert_array_equal(cast(np.array([True, False]), F16), np.float16([1, 0]))
    np.testing.assert_array_equal(cast(np.int32([300, -1]), U8), np.uint8([44, 255]))
    assert cast(np.float64([1.0 + 2**-9]), BF16).astype(np.float64).tolist() == [1.0]
    cast(np.float32([np.nan, np.inf]), I32)  # undefined values, but no warning


def test_kernels_return_arrays_for_scalars() -> None:
    for cls, dt in [(ops.Add, I8), (ops.Div, I32), (ops.Maximum, BF16), (ops.Less, F16), (ops.Pow, F64)]:
        out = _run2(cls, 3, 2, dt)
        assert isinstance(out, np.ndarray) and out.shape == ()


def test_maximum_and_minimum_propagate_nan_either_way() -> None:
    for cls in (ops.Maximum, ops.Minimum):
        out = _run2(cls, [np.nan, 1.0, np.nan], [1.0, np.nan, np.nan], F32)
        assert np.isnan(out).all(), cls.name
