"""Convolution and pooling (``nn.conv``, ``nn.max_pool``, ``nn.avg_pool``) and their gradient
ops: type rules, kernels against naive loops over every output cell, the adjoint identities
of the gradient ops, the jax lowerings against the kernels, and the TF wrappers."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import flowir as tf
from flowir.ir import DType, DTypeError, Graph, OpAttributeError, ShapeError, TensorType, ops
from flowir.ir.reference import run_op
from flowir.testing import check_grads, generated_graphs

try:
    import jax  # noqa: F401
except ImportError:
    check_agreement = None
else:
    from tests.backends.test_jax_properties import check_agreement

F32, F64 = DType.float32, DType.float64
#: Generated ops name devices at random; on a machine without them they run on the CPU.
pytestmark = pytest.mark.filterwarnings("ignore:.*which does not exist.*:RuntimeWarning")


def _inputs(*types: TensorType) -> list[Any]:
    g = Graph()
    return [g.add_input(t, f"in{i}") for i, t in enumerate(types)]


def _run(cls: type, arrays: list[np.ndarray], **attrs: Any) -> np.ndarray:
    vals = _inputs(*(TensorType(DType.float64 if a.dtype == np.float64 else DType.float32, a.shape) for a in arrays))
    op = cls.create(*vals, **attrs)
    out = run_op(op, arrays)[0]
    assert op.results[0].type.is_compatible_with(TensorType(op.results[0].type.dtype, out.shape))
    return out


# --------------------------------------------------------------------------------------------
# Independent geometry and naive kernels (channels first, OIHW)


def _geometry(size: int, k: int, s: int, d: int, padding: str, pads: tuple[int, int], ceil: bool) -> tuple[int, int, int]:
    """``(out, begin, end)`` by TF's and ONNX's formulas."""
    span = (k - 1) * d + 1
    if padding in ("SAME_UPPER", "SAME_LOWER"):
        out = math.ceil(size / s)
        total = max((out - 1) * s + span - size, 0)
        lo = total // 2 if padding == "SAME_UPPER" else total - total // 2
        return out, lo, total - lo
    b, e = pads
    if ceil:
        out = math.ceil((size + b + e - span) / s) + 1
        if (out - 1) * s >= size + b:
            out -= 1
    else:
        out = (size + b + e - span) // s + 1
    return out, b, e


def _naive_conv(x: np.ndarray, w: np.ndarray, strides, dilations, padding, pads, groups) -> np.ndarray:
    n = x.ndim - 2
    geo = [
        _geometry(x.shape[2 + i], w.shape[2 + i], strides[i], dilations[i], padding, pads[i], False) for i in range(n)
    ]
    batch, channels = x.shape[:2]
    o_total, per_group = w.shape[:2]
    y = np.zeros((batch, o_total, *(g[0] for g in geo)))
    for b, o in itertools.product(range(batch), range(o_total)):
        grp = o // (o_total // groups)
        for pos in itertools.product(*(range(g[0]) for g in geo)):
            acc = 0.0
            for c in range(per_group):
                for kk in itertools.product(*(range(k) for k in w.shape[2:])):
                    idx = [pos[i] * strides[i] + kk[i] * dilations[i] - geo[i][1] for i in range(n)]
                    if all(0 <= v < x.shape[2 + i] for i, v in enumerate(idx)):
                        acc += x[(b, grp * per_group + c, *idx)] * w[(o, c, *kk)]
            y[(b, o, *pos)] = acc
    return y


def _naive_pool(x: np.ndarray, kernel, strides, dilations, padding, pads, ceil, kind: str, include_pad: bool) -> np.ndarray:
    n = x.ndim - 2
    geo = [_geometry(x.shape[2 + i], kernel[i], strides[i], dilations[i], padding, pads[i], ceil) for i in range(n)]
    y = np.zeros((*x.shape[:2], *(g[0] for g in geo)))
    for b, c in itertools.product(*(range(v) for v in x.shape[:2])):
        for pos in itertools.product(*(range(g[0]) for g in geo)):
            cells, count = [], 0
            for kk in itertools.product(*(range(k) for k in kernel)):
                idx = [pos[i] * strides[i] + kk[i] * dilations[i] - geo[i][1] for i in range(n)]
                inside = all(0 <= v < x.shape[2 + i] for i, v in enumerate(idx))
                padded = all(-geo[i][1] <= v < x.shape[2 + i] + geo[i][2] for i, v in enumerate(idx))
                if inside:
                    cells.append(x[(b, c, *idx)])
                count += inside or (include_pad and padded)
            if kind == "max":
                y[(b, c, *pos)] = max(cells) if cells else -np.inf
            else:
                y[(b, c, *pos)] = sum(cells) / max(count, 1)
    return y


@st.composite
def window_cases(draw: st.DrawFn, pooling: bool, max_n: int = 3) -> dict[str, Any]:
    n = draw(st.integers(1, max_n))
    padding = draw(st.sampled_from(ops.nn.PADDINGS))
    kernel = [draw(st.integers(1, 3)) for _ in range(n)]
    dilations = [draw(st.integers(1, 2)) for _ in range(n)]
    strides = [draw(st.integers(1, 3)) for _ in range(n)]
    pads = [(draw(st.integers(0, 2)), draw(st.integers(0, 2))) if padding == "EXPLICIT" else (0, 0) for _ in range(n)]
    sizes = []
    for k, d, (b, e) in zip(kernel, dilations, pads):
        span = (k - 1) * d + 1
        low = max(span - b - e, 1) if padding in ("VALID", "EXPLICIT") else 1
        sizes.append(draw(st.integers(low, low + 3)))
    attrs: dict[str, Any] = {"padding": padding, "strides": strides, "dilations": dilations}
    if padding == "EXPLICIT":
        attrs["pads"] = [v for p in pads for v in p]
    ceil = pooling and padding in ("VALID", "EXPLICIT") and draw(st.booleans())
    if ceil:
        attrs["ceil_mode"] = True
    return {"n": n, "kernel": kernel, "sizes": sizes, "pads": pads, "attrs": attrs, "ceil": ceil}


def _to_last(a: np.ndarray) -> np.ndarray:
    return np.moveaxis(a, 1, -1)


def _hwio(w: np.ndarray) -> np.ndarray:
    n = w.ndim - 2
    return np.transpose(w, (*range(2, n + 2), 1, 0))


# --------------------------------------------------------------------------------------------
# Kernels against the naive loops


@settings(max_examples=40)
@given(case=window_cases(pooling=False), data=st.data())
def test_conv_matches_a_naive_loop_in_every_layout(case: dict[str, Any], data: st.DataObject) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    groups = data.draw(st.integers(1, 2))
    per_group, out = data.draw(st.integers(1, 2)), groups * data.draw(st.integers(1, 2))
    x = rng.standard_normal((data.draw(st.integers(1, 2)), groups * per_group, *case["sizes"]))
    w = rng.standard_normal((out, per_group, *case["kernel"]))
    attrs = {**case["attrs"], "groups": groups}
    want = _naive_conv(x, w, attrs["strides"], attrs["dilations"], attrs["padding"], case["pads"], groups)
    np.testing.assert_allclose(_run(ops.Conv, [x, w], **attrs), want, rtol=1e-12, atol=1e-12)
    last = _run(ops.Conv, [_to_last(x), _hwio(w)], **attrs, data_format="NHWC", filter_format="HWIO")
    np.testing.assert_allclose(last, _to_last(want), rtol=1e-12, atol=1e-12)
    mixed = _run(ops.Conv, [x, _hwio(w)], **attrs, filter_format="HWIO")
    np.testing.assert_allclose(mixed, want, rtol=1e-12, atol=1e-12)


@settings(max_examples=40)
@given(case=window_cases(pooling=True), kind=st.sampled_from(["max", "avg"]), data=st.data())
def test_pools_match_a_naive_loop(case: dict[str, Any], kind: str, data: st.DataObject) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)), *case["sizes"]))
    include = kind == "avg" and data.draw(st.booleans())
    attrs = {**case["attrs"], "kernel_shape": case["kernel"]}
    cls = ops.MaxPool if kind == "max" else ops.AvgPool
    if include:
        attrs["count_include_pad"] = True
    a = case["attrs"]
    want = _naive_pool(x, case["kernel"], a["strides"], a["dilations"], a["padding"], case["pads"], case["ceil"], kind, include)
    np.testing.assert_allclose(_run(cls, [x], **attrs), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_run(cls, [_to_last(x)], **attrs, data_format="NHWC"), _to_last(want), rtol=1e-12, atol=1e-12)


def test_pool_semantics_by_hand() -> None:
    x = np.array([[[1.0, 5.0, 2.0, 4.0, 3.0]]])
    # SAME_UPPER, k=2, s=2: windows [1,5] [2,4] [3,pad]; the pad is never the max or counted.
    assert _run(ops.MaxPool, [x], kernel_shape=[2], strides=[2], padding="SAME_UPPER").tolist() == [[[5.0, 4.0, 3.0]]]
    assert _run(ops.AvgPool, [x], kernel_shape=[2], strides=[2], padding="SAME_UPPER").tolist() == [[[3.0, 3.0, 3.0]]]
    inc = _run(ops.AvgPool, [x], kernel_shape=[2], strides=[2], padding="SAME_UPPER", count_include_pad=True)
    assert inc.tolist() == [[[3.0, 3.0, 1.5]]]
    # ceil_mode adds the partial last window; its extension is never counted.
    ceil = _run(ops.AvgPool, [x], kernel_shape=[2], strides=[2], ceil_mode=True, count_include_pad=True)
    assert ceil.tolist() == [[[3.0, 3.0, 3.0]]]
    assert _run(ops.AvgPool, [x], kernel_shape=[2], strides=[2]).tolist() == [[[3.0, 3.0]]]
    # Dilation 2 over 5 cells: windows {0, 2}, {1, 3}, {2, 4}.
    assert _run(ops.MaxPool, [x], kernel_shape=[2], dilations=[2]).tolist() == [[[2.0, 5.0, 3.0]]]
    # A window of padding alone averages to 0 and maxes to -inf.
    assert _run(ops.AvgPool, [x[..., :1]], kernel_shape=[1], padding="EXPLICIT", pads=[1, 0]).tolist() == [[[0.0, 1.0]]]
    assert _run(ops.MaxPool, [x[..., :1]], kernel_shape=[1], padding="EXPLICIT", pads=[1, 0]).tolist() == [[[-np.inf, 1.0]]]


def test_max_pool_of_integers_and_nan() -> None:
    vals = _inputs(TensorType(DType.int8, (1, 1, 4)))
    op = ops.MaxPool.create(*vals, kernel_shape=[2], padding="SAME_LOWER")
    x = np.array([[[-128, -5, 7, 3]]], np.int8)
    # SAME_LOWER pads the start: windows [pad, -128] [-128, -5] [-5, 7] [7, 3].
    assert run_op(op, [x])[0].tolist() == [[[-128, -5, 7, 7]]]
    xf = np.array([[[1.0, np.nan, 2.0, 3.0]]])
    assert np.isnan(_run(ops.MaxPool, [xf], kernel_shape=[2])).tolist() == [[[True, True, False]]]


def test_half_precision_rounds_once() -> None:
    x = np.full((1, 1, 3, 3), 0.1, np.float16)
    w = np.full((1, 1, 3, 3), 0.1, np.float16)
    g = Graph()
    op = ops.Conv.create(g.add_input(TensorType(DType.float16, x.shape), "x"), g.add_input(TensorType(DType.float16, w.shape), "w"))
    out = run_op(op, [x, w])[0]
    assert out.dtype == np.float16
    assert out.item() == np.float16(np.float32(np.float16(0.1)) ** 2 * 9)


# --------------------------------------------------------------------------------------------
# Type rules


def _t(shape: Any, dt: DType = F32) -> TensorType:
    return TensorType(dt, shape)


@pytest.mark.parametrize(
    ("xs", "ws", "attrs", "want"),
    [
        ((None, 3, 8, 8), (4, 3, 3, 3), {}, (None, 4, 6, 6)),
        ((2, 8, 8, 3), (3, 3, 3, 4), {"data_format": "NHWC", "filter_format": "HWIO", "padding": "SAME_UPPER", "strides": [2, 2]}, (2, 4, 4, 4)),
        ((1, 4, None, 7), (6, 2, 2, 3), {"groups": 2, "dilations": [1, 2]}, (1, 6, None, 3)),
        ((1, 2, 5), (3, 2, 3), {"padding": "EXPLICIT", "pads": [2, 1], "strides": [2]}, (1, 3, 3)),
        ((1, 2, 4, 4, 4), (1, 2, 2, 2, 2), {"strides": [2, 1, 2]}, (1, 1, 2, 3, 2)),
        (None, (4, 3, 3, 3), {}, (None, None, None, None)),
        ((1, 3, 8, 8), None, {}, (None, None, None, None)),
        (None, None, {}, None),
        ((2, None, 8, 8), (None, 3, 3, 3), {}, (2, None, 6, 6)),
    ],
)
def test_conv_type_rule(xs: Any, ws: Any, attrs: dict[str, Any], want: Any) -> None:
    x, w = _inputs(_t(xs), _t(ws))
    assert ops.Conv.create(x, w, **attrs).result.type == _t(want)


@pytest.mark.parametrize(
    ("xs", "ws", "attrs", "error", "message"),
    [
        ((1, 3, 8, 8), (4, 2, 3, 3), {}, ShapeError, "x .* has 3 channels but w .* takes 2 per group x 1 groups"),
        ((1, 4, 8, 8), (3, 2, 3, 3), {"groups": 2}, ShapeError, "3 out channels of w .* do not split into 2 groups"),
        ((1, 3, 2, 8), (4, 3, 3, 3), {}, ShapeError, "spatial dim 0: the window .* is larger than the padded input"),
        ((1, 3, 8), (4, 3, 3, 3), {}, ShapeError, "must have one rank"),
        ((1, 3), (4, 3), {}, ShapeError, "1 to 3 spatial dims"),
        ((1, 3, 8, 8), (4, 3, 3, 3), {"padding": "SAME"}, OpAttributeError, "padding must be one of"),
        ((1, 3, 8, 8), (4, 3, 3, 3), {"pads": [1, 1, 1, 1]}, OpAttributeError, "pads must be given with padding EXPLICIT"),
        ((1, 3, 8, 8), (4, 3, 3, 3), {"padding": "EXPLICIT"}, OpAttributeError, "pads must be given"),
        ((1, 3, 8, 8), (4, 3, 3, 3), {"padding": "EXPLICIT", "pads": [1, 1]}, OpAttributeError, "pads must hold 4"),
        ((1, 3, 8, 8), (4, 3, 3, 3), {"strides": [1]}, OpAttributeError, "strides must hold 2 positive entries"),
        ((1, 3, 8, 8), (4, 3, 3, 3), {"dilations": [1, 0]}, OpAttributeError, "dilations must hold 2 positive"),
        ((1, 3, 8, 8), (4, 3, 3, 3), {"data_format": "NCW"}, OpAttributeError, "data_format must be NCHW or NHWC"),
        ((1, 3, 8, 8), (4, 3, 3, 3), {"filter_format": "IOHW"}, OpAttributeError, "filter_format must be OIHW or HWIO"),
        ((1, 3, 8, 8), (4, 3, 3, 3), {"groups": 0}, OpAttributeError, "groups must be >= 1"),
    ],
)
def test_conv_errors_name_the_op(xs: Any, ws: Any, attrs: dict[str, Any], error: type, message: str) -> None:
    x, w = _inputs(_t(xs), _t(ws))
    with pytest.raises(error, match=f"nn.conv 'c1': .*{message}"):
        ops.Conv.create(x, w, name="c1", **attrs)


def test_conv_rejects_integers_and_mixed_dtypes() -> None:
    x, w = _inputs(_t((1, 1, 3), DType.int32), _t((1, 1, 1), DType.int32))
    with pytest.raises(DTypeError, match="nn.conv: x has dtype i32; expected one of"):
        ops.Conv.create(x, w)
    x, w = _inputs(_t((1, 1, 3)), _t((1, 1, 1), F64))
    with pytest.raises(DTypeError, match="x and w have different dtypes"):
        ops.Conv.create(x, w)


@pytest.mark.parametrize(
    ("xs", "attrs", "want"),
    [
        ((None, 3, 7, 7), {"kernel_shape": [3, 3], "strides": [2, 2]}, (None, 3, 3, 3)),
        ((None, 3, 7, 7), {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": True}, (None, 3, 3, 3)),
        ((None, 3, 8, 8), {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": True}, (None, 3, 4, 4)),
        ((2, 9, 9, 5), {"kernel_shape": [2, 2], "padding": "SAME_LOWER", "strides": [2, 2], "data_format": "NHWC"}, (2, 5, 5, 5)),
        ((2, 4, None), {"kernel_shape": [2]}, (2, 4, None)),
        (None, {"kernel_shape": [2, 2]}, (None, None, None, None)),
    ],
)
def test_pool_type_rule(xs: Any, attrs: dict[str, Any], want: Any) -> None:
    (x,) = _inputs(_t(xs))
    assert ops.MaxPool.create(x, **attrs).result.type == _t(want)
    assert ops.AvgPool.create(x, **attrs).result.type == _t(want)


def test_pool_errors() -> None:
    (x,) = _inputs(_t((1, 2, 5, 5)))
    with pytest.raises(ShapeError, match="nn.max_pool 'p': x .* must have rank 3 for a 1-D kernel_shape"):
        ops.MaxPool.create(x, kernel_shape=[2], name="p")
    with pytest.raises(OpAttributeError, match="kernel_shape must be positive"):
        ops.AvgPool.create(x, kernel_shape=[0, 2])
    with pytest.raises(ShapeError, match="larger than the padded input"):
        ops.MaxPool.create(x, kernel_shape=[6, 1])
    (b,) = _inputs(_t((1, 2, 5), DType.int32))
    with pytest.raises(DTypeError, match="nn.avg_pool: x has dtype i32"):
        ops.AvgPool.create(b, kernel_shape=[2])


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_a_window_that_no_longer_fits_at_run_time_names_the_op(backend: str) -> None:
    if backend == "jax":
        pytest.importorskip("jax")
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [1, None, 1], name="x")
        y = tf.nn.max_pool1d(x, 3, 1, "VALID", name="pool")
        with tf.Session(backend=backend) as sess:
            with pytest.raises(tf.errors.InvalidArgumentError, match="nn.max_pool .pool.: .*larger than the padded input"):
                sess.run(y, {x: np.zeros((1, 2, 1), np.float32)})


def test_gradient_op_type_rules() -> None:
    x, w, dy = _inputs(_t((None, 3, 8, 8)), _t((4, 3, 3, 3)), _t((None, 4, 6, 6)))
    assert ops.ConvInputGrad.create(dy, w, x).result.type == _t((None, 3, 8, 8))
    assert ops.ConvFilterGrad.create(x, dy, w).result.type == _t((4, 3, 3, 3))
    (bad,) = _inputs(_t((2, 4, 5, 6)))
    with pytest.raises(ShapeError, match="dy has shape .*; expected"):
        ops.ConvInputGrad.create(bad, w, x)
    p, pdy = _inputs(_t((None, 3, 8, 8)), _t((None, 3, 4, 4)))
    assert ops.MaxPoolGrad.create(p, pdy, kernel_shape=[2, 2], strides=[2, 2]).result.type == _t((None, 3, 8, 8))
    assert ops.AvgPoolGrad.create(pdy, p, kernel_shape=[2, 2], strides=[2, 2]).result.type == _t((None, 3, 8, 8))
    assert ops.MaxPoolGradGrad.create(p, p, kernel_shape=[2, 2], strides=[2, 2]).result.type == _t((None, 3, 4, 4))


# --------------------------------------------------------------------------------------------
# Gradient ops: adjoint identities, routing, finite differences


@settings(max_examples=30)
@given(case=window_cases(pooling=False, max_n=2), last=st.booleans(), data=st.data())
def test_conv_gradient_ops_are_the_adjoints(case: dict[str, Any], last: bool, data: st.DataObject) -> None:
    """<conv(x, w), g> = <x, conv_input_grad(g, w)> = <w, conv_filter_grad(x, g)>."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    groups = data.draw(st.integers(1, 2))
    x = rng.standard_normal((2, 2 * groups, *case["sizes"]))
    w = rng.standard_normal((2 * groups, 2, *case["kernel"]))
    attrs = {**case["attrs"], "groups": groups}
    if last:
        x, w = _to_last(x), _hwio(w)
        attrs.update(data_format="NHWC", filter_format="HWIO")
    y = _run(ops.Conv, [x, w], **attrs)
    g = rng.standard_normal(y.shape)
    dx = _run(ops.ConvInputGrad, [g, w, x], **attrs)
    dw = _run(ops.ConvFilterGrad, [x, g, w], **attrs)
    total = float(np.sum(y * g))
    assert math.isclose(total, float(np.sum(x * dx)), rel_tol=1e-10, abs_tol=1e-10)
    assert math.isclose(total, float(np.sum(w * dw)), rel_tol=1e-10, abs_tol=1e-10)


@settings(max_examples=30)
@given(case=window_cases(pooling=False, max_n=2), last=st.booleans(), data=st.data())
def test_conv_transpose_is_the_transpose_of_conv(case: dict[str, Any], last: bool, data: st.DataObject) -> None:
    """<conv_transpose(g, w), x> = <g, conv(x, w)>, with output_padding restoring the cells
    the stride dropped; the gradient op agrees."""
    attrs = dict(case["attrs"])
    if attrs["padding"].startswith("SAME"):
        attrs["padding"] = "VALID"
        spans = [(k - 1) * d + 1 for k, d in zip(case["kernel"], attrs["dilations"])]
        assume(all(size >= span for size, span in zip(case["sizes"], spans)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    groups = data.draw(st.integers(1, 2))
    x = rng.standard_normal((2, 2 * groups, *case["sizes"]))
    w = rng.standard_normal((3 * groups, 2, *case["kernel"]))
    y = _run(ops.Conv, [x, w], groups=groups, **attrs)
    g = rng.standard_normal(y.shape)
    pads = [(attrs["pads"][2 * i], attrs["pads"][2 * i + 1]) for i in range(case["n"])] if "pads" in attrs else case["pads"]
    extra = [
        size - (s * (o - 1) + (k - 1) * d + 1 - b - e)
        for size, o, k, s, d, (b, e) in zip(x.shape[2:], y.shape[2:], case["kernel"], attrs["strides"], attrs["dilations"], pads)
    ]
    t_attrs = {**attrs, "groups": groups, "output_padding": extra}
    if last:
        t = _run(ops.ConvTranspose, [_to_last(g), _hwio(w)], **t_attrs, data_format="NHWC", filter_format="HWIO")
        t = np.moveaxis(t, -1, 1)
    else:
        t = _run(ops.ConvTranspose, [g, w], **t_attrs)
    assert t.shape == x.shape
    assert math.isclose(float(np.sum(t * x)), float(np.sum(g * y)), rel_tol=1e-10, abs_tol=1e-10)
    np.testing.assert_allclose(t, _run(ops.ConvInputGrad, [g, w, x], groups=groups, **attrs), rtol=1e-12, atol=1e-12)


def test_conv_transpose_type_rule() -> None:
    x, w = _inputs(_t((None, 4, 3, 3)), _t((4, 2, 3, 3)))
    assert ops.ConvTranspose.create(x, w, strides=[2, 2]).result.type == _t((None, 2, 7, 7))
    assert ops.ConvTranspose.create(x, w, strides=[2, 2], output_padding=[1, 0]).result.type == _t((None, 2, 8, 7))
    y = ops.ConvTranspose.create(x, w, groups=2, padding="EXPLICIT", pads=[1, 1, 0, 2])
    assert y.result.type == _t((None, 4, 3, 3))
    with pytest.raises(OpAttributeError, match="nn.conv_transpose 'ct': padding must be VALID or EXPLICIT"):
        ops.ConvTranspose.create(x, w, padding="SAME_UPPER", name="ct")
    with pytest.raises(OpAttributeError, match="output_padding must hold 2 entries, each in \\[0, stride\\)"):
        ops.ConvTranspose.create(x, w, output_padding=[1, 0])
    with pytest.raises(ShapeError, match="has 4 channels but w .* takes 3"):
        ops.ConvTranspose.create(x, _inputs(_t((3, 2, 3, 3)))[0])
    with pytest.raises(ShapeError, match="crop more than"):
        ops.ConvTranspose.create(x, w, padding="EXPLICIT", pads=[5, 5, 0, 0])


def test_tf_conv2d_transpose_is_the_gradient_of_conv2d() -> None:
    rng = np.random.default_rng(4)
    xv = rng.standard_normal((2, 4, 3, 3)).astype(np.float32)
    wv = rng.standard_normal((3, 2, 5, 3)).astype(np.float32)
    for padding, out_hw in (("SAME", (8, 6)), ("VALID", (9, 7)), ("SAME", (7, 5))):
        with tf.Graph().as_default():
            x = tf.placeholder(tf.float32, [None, 4, 3, 3])
            y = tf.nn.conv2d_transpose(x, wv, [-1, *out_hw, 5], strides=[1, 2, 2, 1], padding=padding)
            assert y.name == "conv2d_transpose:0" and y.shape.as_list() == [None, *out_hw, 5]
            probe = tf.placeholder(tf.float32, [None, *out_hw, 5])
            conv = tf.nn.conv2d(probe, wv, strides=[1, 2, 2, 1], padding=padding)
            (grad,) = tf.gradients(conv, [probe], grad_ys=[x])
            got, want = _session_run([y, grad], {x: xv, probe: np.zeros((2, *out_hw, 5), np.float32)})
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 4, 3, 3])
        with pytest.raises(ValueError, match="output_shape .* does not fit"):
            tf.nn.conv2d_transpose(x, wv, [-1, 20, 6, 5], strides=[1, 2, 2, 1])


@settings(max_examples=30)
@given(case=window_cases(pooling=True, max_n=2), include=st.booleans(), data=st.data())
def test_avg_pool_grad_is_the_adjoint(case: dict[str, Any], include: bool, data: st.DataObject) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((1, 2, *case["sizes"]))
    attrs = {**case["attrs"], "kernel_shape": case["kernel"], "count_include_pad": include}
    y = _run(ops.AvgPool, [x], **attrs)
    g = rng.standard_normal(y.shape)
    dx = _run(ops.AvgPoolGrad, [g, x], **attrs)
    assert math.isclose(float(np.sum(y * g)), float(np.sum(x * dx)), rel_tol=1e-10, abs_tol=1e-10)


@settings(max_examples=30)
@given(case=window_cases(pooling=True, max_n=2), data=st.data())
def test_max_pool_grad_grad_is_the_adjoint_of_max_pool_grad(case: dict[str, Any], data: st.DataObject) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    # Small integers: many ties, which both ops must break the same way.
    x = rng.integers(-2, 3, (1, 2, *case["sizes"])).astype(np.float64)
    attrs = {**case["attrs"], "kernel_shape": case["kernel"]}
    dy = rng.standard_normal(_run(ops.MaxPool, [x], **attrs).shape)
    t = rng.standard_normal(x.shape)
    dx = _run(ops.MaxPoolGrad, [x, dy], **attrs)
    picked = _run(ops.MaxPoolGradGrad, [x, t], **attrs)
    assert math.isclose(float(np.sum(dx * t)), float(np.sum(dy * picked)), rel_tol=1e-10, abs_tol=1e-10)


def test_max_pool_grad_routes_to_the_first_maximum() -> None:
    x = np.array([[[3.0, 3.0, 1.0, np.nan, 2.0]]])
    dy = np.array([[[10.0, 20.0]]])
    # Windows [3, 3] and [1, nan]: the first 3 takes 10, the nan (the max) takes 20.
    dx = _run(ops.MaxPoolGrad, [x, dy], kernel_shape=[2], strides=[2])
    assert dx.tolist() == [[[10.0, 0.0, 0.0, 20.0, 0.0]]]
    # Stride 1: windows [3, 3] [3, 1] [1, nan] [nan, 2] pick cells 0, 1, 3, 3; overlaps add up.
    dy4 = np.array([[[1.0, 2.0, 4.0, 8.0]]])
    dx4 = _run(ops.MaxPoolGrad, [x, dy4], kernel_shape=[2])
    assert dx4.tolist() == [[[1.0, 2.0, 0.0, 12.0, 0.0]]]
    picked = _run(ops.MaxPoolGradGrad, [x, np.array([[[1.0, 2.0, 3.0, 4.0, 5.0]]])], kernel_shape=[2])
    assert picked.tolist() == [[[1.0, 2.0, 4.0, 4.0]]]


@pytest.mark.parametrize("last", [False, True])
def test_conv_and_pool_gradients_by_finite_differences(last: bool) -> None:
    rng = np.random.default_rng(0)
    fmt = {"data_format": "NHWC"} if last else {}
    x = rng.standard_normal((2, 5, 4, 3) if last else (2, 3, 5, 4))
    w = rng.standard_normal((2, 2, 3, 4) if last else (4, 3, 2, 2))
    conv_attrs = {"strides": [2, 1], "padding": "SAME_LOWER", "dilations": [1, 2], **fmt}
    if last:
        conv_attrs["filter_format"] = "HWIO"

    def net(emit: Any, a: Any, b: Any) -> Any:
        y = emit(ops.Conv, a, b, **conv_attrs).result
        m = emit(ops.MaxPool, y, kernel_shape=[2, 2], padding="SAME_UPPER", **fmt).result
        v = emit(ops.AvgPool, y, kernel_shape=[2, 1], strides=[1, 1], padding="EXPLICIT", pads=[1, 0, 0, 1], **fmt).result
        return [m, v]

    check_grads(net, [x, w], order=2)


# --------------------------------------------------------------------------------------------
# jax lowerings against the kernels

WINDOW_OPS = [
    ops.Conv,
    ops.ConvTranspose,
    ops.ConvInputGrad,
    ops.ConvFilterGrad,
    ops.MaxPool,
    ops.AvgPool,
    ops.MaxPoolGrad,
    ops.MaxPoolGradGrad,
    ops.AvgPoolGrad,
]


@settings(max_examples=40)
@given(case=generated_graphs(WINDOW_OPS, max_ops=4), data=st.data())
def test_jax_agrees_with_the_reference(case: Any, data: st.DataObject) -> None:
    if check_agreement is None:
        pytest.skip("jax is not installed")
    check_agreement(case, data.draw(case.feeds()))


@pytest.mark.parametrize("cls", [ops.MaxPoolGrad, ops.MaxPoolGradGrad])
def test_jax_breaks_ties_as_the_reference(cls: type) -> None:
    pytest.importorskip("jax")
    from flowir.backends.jax import JaxBackend
    from flowir.backends.numpy import NumpyBackend
    from flowir.ir.ops.core import Placeholder
    from tests.backends.helpers import make_program

    x = np.array([[[[1.0, 1.0, 1.0], [1.0, np.nan, 1.0], [0.0, 1.0, 1.0]]]], np.float32)
    t = np.arange(9, dtype=np.float32).reshape(x.shape) + 1
    pooled_shape = (1, 1, 2, 2)
    g = Graph()
    px = g.append(Placeholder.create(name="x", result_types=[TensorType(F32, x.shape)])).result
    second = t if cls is ops.MaxPoolGradGrad else t.reshape(-1)[:4].reshape(pooled_shape)
    pt = g.append(Placeholder.create(name="t", result_types=[TensorType(F32, second.shape)])).result
    g.set_outputs([g.append(cls.create(px, pt, kernel_shape=[2, 2], padding="SAME_UPPER", strides=[2, 2])).result])
    program = make_program(g)
    from flowir.ir.reference import RefContext

    want, _ = NumpyBackend().compile(program)([x, second], [], RefContext())
    got, _ = JaxBackend().compile(program)([x, second], [], RefContext())
    np.testing.assert_array_equal(np.asarray(got[0]), want[0])


# --------------------------------------------------------------------------------------------
# TF wrappers


def _session_run(fetches: Any, feed: dict) -> Any:
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def test_tf_conv2d_and_pools_follow_tf() -> None:
    rng = np.random.default_rng(1)
    xv = rng.standard_normal((2, 7, 6, 3)).astype(np.float32)
    wv = rng.standard_normal((3, 2, 3, 4)).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 7, 6, 3], name="x")
        y = tf.nn.conv2d(x, wv, strides=[1, 2, 2, 1], padding="SAME")
        e = tf.nn.conv2d(x, wv, strides=1, padding=[[0, 0], [1, 0], [0, 2], [0, 0]], dilations=[1, 2, 1, 1])
        m = tf.nn.max_pool(y, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
        a = tf.nn.avg_pool(y, ksize=3, strides=1, padding="VALID")
        assert y.name == "Conv2D:0" and m.name == "MaxPool:0" and a.name == "AvgPool:0"
        assert y.shape.as_list() == [None, 4, 3, 4] and m.shape.as_list() == [None, 2, 2, 4]
        got_y, got_e, got_m, got_a = _session_run([y, e, m, a], {x: xv})
    xc, wc = np.moveaxis(xv, -1, 1).astype(np.float64), np.transpose(wv, (3, 2, 0, 1)).astype(np.float64)
    # TF's SAME: 7 rows at stride 2 need 2 rows of padding (1 + 1), 6 columns 1 (0 + 1).
    want_y = _naive_conv(xc, wc, [2, 2], [1, 1], "EXPLICIT", [(1, 1), (0, 1)], 1)
    np.testing.assert_allclose(got_y, _to_last(want_y), rtol=1e-4, atol=1e-5)
    want_e = _naive_conv(xc, wc, [1, 1], [2, 1], "EXPLICIT", [(1, 0), (0, 2)], 1)
    np.testing.assert_allclose(got_e, _to_last(want_e), rtol=1e-4, atol=1e-5)
    yc = np.moveaxis(got_y, -1, 1).astype(np.float64)
    want_m = _naive_pool(yc, [2, 2], [2, 2], [1, 1], "SAME_UPPER", [(0, 0)] * 2, False, "max", False)
    np.testing.assert_allclose(got_m, _to_last(want_m), rtol=1e-6)
    want_a = _naive_pool(yc, [3, 3], [1, 1], [1, 1], "VALID", [(0, 0)] * 2, False, "avg", False)
    np.testing.assert_allclose(got_a, _to_last(want_a), rtol=1e-5, atol=1e-6)


def test_tf_conv_1d_3d_and_nchw() -> None:
    with tf.Graph().as_default():
        x1 = tf.placeholder(tf.float32, [None, 9, 2])
        assert tf.nn.conv1d(x1, np.ones((3, 2, 5), np.float32), stride=2, padding="VALID").shape.as_list() == [None, 4, 5]
        x3 = tf.placeholder(tf.float32, [1, 4, 4, 4, 2])
        c3 = tf.nn.conv3d(x3, np.ones((2, 2, 2, 2, 3), np.float32), strides=[1, 1, 2, 1, 1], padding="SAME")
        assert c3.name == "Conv3D:0" and c3.shape.as_list() == [1, 4, 2, 4, 3]
        xn = tf.placeholder(tf.float32, [1, 2, 6, 6])
        cn = tf.nn.conv2d(xn, np.ones((3, 3, 2, 4), np.float32), strides=[1, 1, 2, 2], padding="VALID", data_format="NCHW")
        assert cn.shape.as_list() == [1, 4, 2, 2]
        assert tf.nn.max_pool3d(x3, 2, 2, "VALID").shape.as_list() == [1, 2, 2, 2, 2]
        assert tf.nn.avg_pool1d(x1, 3, 3, "SAME").shape.as_list() == [None, 3, 2]
        assert tf.nn.convolution(x1, np.ones((1, 2, 1), np.float32), padding="VALID").shape.as_list() == [None, 9, 1]
        with pytest.raises(ValueError, match="conv2d: strides must be 1 in the batch and channel dims"):
            tf.nn.conv2d(xn, np.ones((3, 3, 2, 4), np.float32), strides=[2, 1, 1, 1], padding="VALID")
        with pytest.raises(ValueError, match="padding must be 'SAME', 'VALID'"):
            tf.nn.max_pool(xn, 2, 2, "FULL")
        with pytest.raises(ShapeError, match="Conv2D.*has 6 channels but w"):
            tf.nn.conv2d(xn, np.ones((3, 3, 2, 4), np.float32), strides=1, padding="VALID")


def test_tf_batch_normalization_and_moments() -> None:
    rng = np.random.default_rng(2)
    xv = rng.standard_normal((4, 3, 3, 5)).astype(np.float32) * 3 + 1
    scale, offset = rng.standard_normal(5).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 3, 3, 5])
        mean, var = tf.nn.moments(x, axes=[0, 1, 2])
        kept = tf.nn.moments(x, axes=[1], keepdims=True)
        bn = tf.nn.batch_normalization(x, mean, var, offset, scale, 1e-3)
        assert mean.shape.as_list() == [5] and kept[0].shape.as_list() == [None, 1, 3, 5]
        m, v, y = _session_run([mean, var, bn], {x: xv})
        grads = tf.gradients(tf.reduce_sum(bn), [x])
        (gx,) = _session_run(grads, {x: xv})
    wide = xv.astype(np.float64)
    np.testing.assert_allclose(m, wide.mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(v, wide.var(axis=(0, 1, 2)), rtol=1e-4)
    want = (wide - wide.mean((0, 1, 2))) / np.sqrt(wide.var((0, 1, 2)) + 1e-3) * scale + offset
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)
    assert gx.shape == xv.shape and np.all(np.isfinite(gx))
