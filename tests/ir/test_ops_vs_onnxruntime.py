"""The ops added for ONNX against onnxruntime running the ONNX op they stand for, with the
attribute mapping documented in /work/notes/catalog_ext.md (ONNX ``pads`` list all begins,
then all ends; flowir's interleave them per dim; ``auto_pad`` SAME_UPPER/SAME_LOWER/VALID are
flowir's ``padding``). An independent implementation of each op's semantics."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowir.ir import DType, Graph, TensorType, dtype_of, ops
from flowir.ir.reference import run_op

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

OPSET = 21
# onnxruntime warns on stderr for every deprecated Resize mode the tests exercise.
ort.set_default_logger_severity(3)


ELEM = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float64): TensorProto.DOUBLE,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.bool_): TensorProto.BOOL,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.uint8): TensorProto.UINT8,
}


def _onnx_run(
    op_type: str, inputs: list[np.ndarray | None], attrs: dict[str, Any], out: np.dtype | None = None, opset: int = OPSET
) -> np.ndarray:
    """``op_type`` run by onnxruntime on ``inputs`` (``None``: an omitted optional input),
    giving ``out`` (default: the first input's dtype)."""
    elem = ELEM
    names = ["" if a is None else f"i{k}" for k, a in enumerate(inputs)]
    node = helper.make_node(op_type, names, ["y"], **attrs)
    fed = {n: a for n, a in zip(names, inputs) if a is not None}
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info(n, elem[a.dtype], a.shape) for n, a in fed.items()],
        [helper.make_tensor_value_info("y", elem[out if out is not None else inputs[0].dtype], None)],  # type: ignore[union-attr]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    options = ort.SessionOptions()
    options.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return sess.run(None, fed)[0]


def _flowir_run(cls: type, arrays: list[np.ndarray], **attrs: Any) -> np.ndarray:
    g = Graph()
    vals = [g.add_input(TensorType(dtype_of(a), a.shape), f"x{k}") for k, a in enumerate(arrays)]
    op = cls.create(*vals, **attrs)
    out = run_op(op, arrays)[0]
    assert op.result.type.is_compatible_with(TensorType(op.result.type.dtype, out.shape))
    return out


@st.composite
def onnx_windows(draw: st.DrawFn, pooling: bool) -> tuple[dict[str, Any], dict[str, Any], list[int], list[int]]:
    """ONNX window attributes, the flowir ones they map to, the kernel and the input sizes."""
    n = draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 3)) for _ in range(n)]
    strides = [draw(st.integers(1, 2)) for _ in range(n)]
    dilations = [draw(st.integers(1, 2)) for _ in range(n)]
    auto_pad = draw(st.sampled_from(["NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"]))
    if auto_pad.startswith("SAME"):
        # onnxruntime rejects dilations with auto_pad SAME_* (exporters give explicit pads),
        # and strides beyond the window, where ONNX's formula gives negative pads (flowir, as
        # TF, pads by 0 there).
        dilations = [1] * n
        strides = [min(s, k) for s, k in zip(strides, kernel)]
    # ONNX (and onnxruntime) want pads smaller than the kernel.
    pairs = [(draw(st.integers(0, k - 1)), draw(st.integers(0, k - 1))) for k in kernel]
    sizes = [draw(st.integers(max((k - 1) * d + 1, 1), (k - 1) * d + 4)) for k, d in zip(kernel, dilations)]
    onnx_attrs: dict[str, Any] = {"strides": strides, "dilations": dilations, "auto_pad": auto_pad}
    ours: dict[str, Any] = {"strides": strides, "dilations": dilations}
    if auto_pad == "NOTSET":
        onnx_attrs["pads"] = [p[0] for p in pairs] + [p[1] for p in pairs]
        ours.update(padding="EXPLICIT", pads=[v for p in pairs for v in p])
    else:
        ours["padding"] = auto_pad
    if pooling and auto_pad in ("NOTSET", "VALID") and draw(st.booleans()):
        onnx_attrs["ceil_mode"] = 1
        ours["ceil_mode"] = True
    return onnx_attrs, ours, kernel, sizes


@settings(max_examples=40, deadline=None)
@given(case=onnx_windows(pooling=False), groups=st.integers(1, 2), seed=st.integers(0, 2**31))
def test_conv(case: Any, groups: int, seed: int) -> None:
    onnx_attrs, ours, kernel, sizes = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 2 * groups, *sizes)).astype(np.float32)
    w = rng.standard_normal((3 * groups, 2, *kernel)).astype(np.float32)
    want = _onnx_run("Conv", [x, w], {**onnx_attrs, "group": groups, "kernel_shape": kernel})
    got = _flowir_run(ops.Conv, [x, w], groups=groups, **ours)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@settings(max_examples=40, deadline=None)
@given(case=onnx_windows(pooling=False), groups=st.integers(1, 2), data=st.data())
def test_conv_transpose(case: Any, groups: int, data: st.DataObject) -> None:
    onnx_attrs, ours, kernel, sizes = case
    if onnx_attrs["auto_pad"] != "NOTSET":
        # SAME_* become explicit pads in flowir (the importer computes them).
        onnx_attrs = {**onnx_attrs, "auto_pad": "VALID"}
        ours = {**ours, "padding": "VALID"}
    extra = [data.draw(st.integers(0, s - 1)) for s in onnx_attrs["strides"]]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    x = rng.standard_normal((2, 2 * groups, *sizes)).astype(np.float32)
    w = rng.standard_normal((2 * groups, 3, *kernel)).astype(np.float32)
    # onnxruntime's ConvTranspose (CPU) wants output_padding below the stride, as flowir.
    want = _onnx_run("ConvTranspose", [x, w], {**onnx_attrs, "group": groups, "kernel_shape": kernel, "output_padding": extra})
    got = _flowir_run(ops.ConvTranspose, [x, w], groups=groups, output_padding=extra, **ours)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@settings(max_examples=40, deadline=None)
@given(case=onnx_windows(pooling=True), seed=st.integers(0, 2**31))
def test_max_pool(case: Any, seed: int) -> None:
    onnx_attrs, ours, kernel, sizes = case
    x = np.random.default_rng(seed).standard_normal((1, 2, *sizes)).astype(np.float32)
    want = _onnx_run("MaxPool", [x], {**onnx_attrs, "kernel_shape": kernel})
    np.testing.assert_array_equal(_flowir_run(ops.MaxPool, [x], kernel_shape=kernel, **ours), want)


@settings(max_examples=40, deadline=None)
@given(case=onnx_windows(pooling=True), include=st.booleans(), seed=st.integers(0, 2**31))
def test_avg_pool(case: Any, include: bool, seed: int) -> None:
    onnx_attrs, ours, kernel, sizes = case
    x = np.random.default_rng(seed).standard_normal((1, 2, *sizes)).astype(np.float32)
    want = _onnx_run("AveragePool", [x], {**onnx_attrs, "kernel_shape": kernel, "count_include_pad": int(include)})
    got = _flowir_run(ops.AvgPool, [x], kernel_shape=kernel, count_include_pad=include, **ours)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    mode=st.sampled_from(ops.nn.COORDINATE_MODES),
    nearest=st.sampled_from(ops.nn.NEAREST_MODES),
    data=st.data(),
)
def test_resize_nearest(shape: list[int], mode: str, nearest: str, data: st.DataObject) -> None:
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    use_sizes = data.draw(st.booleans())
    attrs = {"mode": "nearest", "coordinate_transformation_mode": mode, "nearest_mode": nearest}
    if use_sizes:
        sizes = np.array([data.draw(st.integers(1, 7)) for _ in shape], np.int64)
        want = _onnx_run("Resize", [x, None, None, sizes], attrs)
        got = _flowir_run(ops.ResizeNearest, [x], sizes=sizes.tolist(), coordinate_transformation_mode=mode, nearest_mode=nearest)
    else:
        scales = np.array([data.draw(st.sampled_from([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])) for _ in shape], np.float32)
        if any(int(np.floor(d * s)) == 0 for d, s in zip(shape, scales)):
            return
        want = _onnx_run("Resize", [x, None, scales], attrs)
        got = _flowir_run(ops.ResizeNearest, [x], scales=scales.tolist(), coordinate_transformation_mode=mode, nearest_mode=nearest)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
def test_cumsum(exclusive: int, reverse: int) -> None:
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    want = _onnx_run("CumSum", [x, np.array(1, np.int64)], {"exclusive": exclusive, "reverse": reverse})
    got = _flowir_run(ops.CumSum, [x], axis=1, exclusive=bool(exclusive), reverse=bool(reverse))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


ELEMENTWISE = [
    ("Erf", ops.Erf, {}, {}),
    ("Tan", ops.Tan, {}, {}),
    ("Asinh", ops.Asinh, {}, {}),
    ("Atan", ops.Atan, {}, {}),
    ("Sinh", ops.Sinh, {}, {}),
    ("Cosh", ops.Cosh, {}, {}),
    ("Floor", ops.Floor, {}, {}),
    ("Ceil", ops.Ceil, {}, {}),
    ("Round", ops.Round, {}, {}),
    ("Reciprocal", ops.Reciprocal, {}, {}),
    ("IsNaN", ops.IsNan, {}, {}),
    ("IsInf", ops.IsInf, {}, {}),
    ("Elu", ops.Elu, {"alpha": 0.7}, {"alpha": 0.7}),
    ("LeakyRelu", ops.LeakyRelu, {"alpha": 0.01}, {"alpha": 0.01}),
    ("Gelu", ops.Gelu, {}, {}),
    ("Gelu", ops.Gelu, {"approximate": "tanh"}, {"approximate": "tanh"}),
]


@pytest.mark.parametrize(("op_type", "cls", "onnx_attrs", "ours"), ELEMENTWISE, ids=[f"{e[0]}{e[2]}" for e in ELEMENTWISE])
def test_elementwise(op_type: str, cls: type, onnx_attrs: dict, ours: dict) -> None:
    x = np.concatenate([np.linspace(-3, 3, 25), [-2.5, -0.5, 0.5, 1.5, np.inf, -np.inf, np.nan]]).astype(np.float32)
    got = _flowir_run(cls, [x], **ours)
    want = _onnx_run(op_type, [x], onnx_attrs, out=got.dtype)
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("largest", [0, 1])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_top_k(largest: int, axis: int) -> None:
    x = np.random.default_rng(axis + 5).integers(-3, 4, (4, 5, 3)).astype(np.float32)  # ties
    k = 2
    node = helper.make_node("TopK", ["x", "k"], ["values", "indices"], axis=axis, largest=largest)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape), helper.make_tensor_value_info("k", TensorProto.INT64, [1])],
        [helper.make_tensor_value_info("values", TensorProto.FLOAT, None), helper.make_tensor_value_info("indices", TensorProto.INT64, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want_values, want_indices = sess.run(None, {"x": x, "k": np.array([k], np.int64)})
    op = ops.TopK.create(Graph().add_input(TensorType(DType.float32, x.shape), "x"), k=k, axis=axis, largest=bool(largest))
    values, indices = run_op(op, [x])
    np.testing.assert_array_equal(values, want_values)
    np.testing.assert_array_equal(indices, want_indices)


def test_gather_elements_is_take_along_axis() -> None:
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    idx = np.array([[0, 3], [2, 2], [1, 0]], np.int64)
    want = _onnx_run("GatherElements", [x, idx], {"axis": 1})
    np.testing.assert_array_equal(_flowir_run(ops.TakeAlongAxis, [x, idx], axis=1), want)


@pytest.mark.parametrize(
    ("op_type", "cls", "attrs"),
    [
        ("BitwiseAnd", ops.BitwiseAnd, {}),
        ("BitwiseOr", ops.BitwiseOr, {}),
        ("BitwiseXor", ops.BitwiseXor, {}),
        ("BitShift", ops.LeftShift, {"direction": "LEFT"}),
        ("BitShift", ops.RightShift, {"direction": "RIGHT"}),
    ],
)
def test_bitwise(op_type: str, cls: type, attrs: dict) -> None:
    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, (3, 4)).astype(np.uint8)
    y = (rng.integers(0, 8, (3, 4)) if op_type == "BitShift" else rng.integers(0, 256, (3, 4))).astype(np.uint8)
    np.testing.assert_array_equal(_flowir_run(cls, [x, y]), _onnx_run(op_type, [x, y], attrs))
    if op_type != "BitShift":
        xi, yi = rng.integers(-1000, 1000, (5,)).astype(np.int32), rng.integers(-1000, 1000, (5,)).astype(np.int32)
        np.testing.assert_array_equal(_flowir_run(cls, [xi, yi]), _onnx_run(op_type, [xi, yi], attrs))


def test_bitwise_not() -> None:
    x = np.array([-3, 0, 7], np.int32)
    np.testing.assert_array_equal(_flowir_run(ops.BitwiseNot, [x]), _onnx_run("BitwiseNot", [x], {}))


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [-2, 0, 1])
def test_trilu(upper: int, k: int) -> None:
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    want = _onnx_run("Trilu", [x, np.array(k, np.int64)], {"upper": upper})
    np.testing.assert_array_equal(_flowir_run(ops.Trilu, [x], k=k, upper=bool(upper)), want)


def test_expand_is_broadcast_to() -> None:
    x = np.arange(3, dtype=np.float32).reshape(3, 1)
    want = _onnx_run("Expand", [x, np.array([2, 1, 4], np.int64)], {})
    np.testing.assert_array_equal(_flowir_run(ops.BroadcastTo, [x], shape=[2, 1, 4]), want)
    assert want.shape == (2, 3, 4)
    assert DType.float32 is dtype_of(want)
