"""Each converter family of the ONNX importer against ONNX's reference evaluator."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("onnx")

from tests.onnx.helpers import assert_matches_reference, node_model  # noqa: E402

RNG = np.random.default_rng(0)


def f32(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def pos32(*shape: int) -> np.ndarray:
    return (RNG.random(shape) + 0.5).astype(np.float32)


def i64(*values: int) -> np.ndarray:
    return np.array(values, np.int64)


# (op type, graph inputs, initializers, attributes)
Case = tuple[str, dict[str, np.ndarray], dict[str, np.ndarray], dict[str, Any]]

ELEMENTWISE: list[Case] = [
    *[(op, {"x": f32(2, 3)}, {}, {}) for op in ("Abs", "Neg", "Exp", "Sigmoid", "Tanh", "Sin", "Cos", "Relu", "Sign", "Softplus", "Softsign", "Identity", "Erf", "Floor", "Ceil", "Round", "Atan", "Sinh", "Asinh", "Mish", "HardSwish")],
    *[(op, {"x": pos32(2, 3)}, {}, {}) for op in ("Log", "Sqrt", "Reciprocal")],
    ("Acosh", {"x": pos32(2, 3) + 1}, {}, {}),
    ("Asin", {"x": (RNG.random((4,)) - 0.5).astype(np.float32)}, {}, {}),
    ("Atanh", {"x": (RNG.random((4,)) - 0.5).astype(np.float32)}, {}, {}),
    *[(op, {"x": f32(2, 3), "y": f32(3)}, {}, {}) for op in ("Add", "Sub", "Mul", "Div", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual")],
    ("Pow", {"x": pos32(3), "y": np.array([2, 3, -1], np.int64)}, {}, {}),
    ("Mod", {"x": np.array([-7, 7, 5], np.int32), "y": np.array([3, -3, 2], np.int32)}, {}, {}),
    ("Mod", {"x": np.array([-7.5, 7.5, 5.0], np.float32), "y": np.array([2.0, -2.0, 3.0], np.float32)}, {}, {"fmod": 1}),
    ("Max", {"a": f32(2, 3), "b": f32(3), "c": f32(1, 3)}, {}, {}),
    ("Min", {"a": f32(2, 3), "b": f32(3)}, {}, {}),
    ("Sum", {"a": f32(2, 3), "b": f32(3), "c": f32(2, 1)}, {}, {}),
    ("Mean", {"a": f32(2, 3), "b": f32(3)}, {}, {}),
    ("And", {"x": RNG.random((3, 2)) > 0.5, "y": RNG.random((2,)) > 0.5}, {}, {}),
    ("Or", {"x": RNG.random((3, 2)) > 0.5, "y": RNG.random((2,)) > 0.5}, {}, {}),
    ("Xor", {"x": RNG.random((3, 2)) > 0.5, "y": RNG.random((2,)) > 0.5}, {}, {}),
    ("Not", {"x": RNG.random((3, 2)) > 0.5}, {}, {}),
    ("Where", {"c": RNG.random((2, 3)) > 0.5, "x": f32(2, 3), "y": f32(3)}, {}, {}),
    ("Cast", {"x": f32(4) * 10}, {}, {"to": 6}),
    ("CastLike", {"x": np.array([1, 0, 3], np.int64), "like": np.array([True])}, {}, {}),
    ("LeakyRelu", {"x": f32(5)}, {}, {"alpha": 0.1}),
    ("PRelu", {"x": f32(2, 3), "slope": f32(3)}, {}, {}),
    ("Elu", {"x": f32(5)}, {}, {"alpha": 0.5}),
    ("Selu", {"x": f32(5)}, {}, {}),
    ("Celu", {"x": f32(5)}, {}, {"alpha": 2.0}),
    ("ThresholdedRelu", {"x": f32(5)}, {}, {"alpha": 0.3}),
    ("HardSigmoid", {"x": f32(5)}, {}, {"alpha": 0.3, "beta": 0.4}),
    ("Shrink", {"x": f32(6)}, {}, {"lambd": 0.3, "bias": 0.1}),
    ("Gelu", {"x": f32(5)}, {}, {"approximate": "tanh"}),
    ("Gelu", {"x": f32(5)}, {}, {}),
    ("IsNaN", {"x": np.array([1.0, np.nan, np.inf], np.float32)}, {}, {}),
    ("IsInf", {"x": np.array([1.0, -np.inf, np.inf], np.float32)}, {}, {"detect_negative": 0}),
    ("BitShift", {"x": np.array([-8, 4, 100], np.int8), "s": np.array([1, 9, -1], np.int8)}, {}, {"direction": "RIGHT"}),
    ("BitShift", {"x": np.array([3, 4, 200], np.uint8), "s": np.array([1, 7, 2], np.uint8)}, {}, {"direction": "LEFT"}),
]

REDUCTIONS: list[Case] = [
    *[(op, {"x": f32(2, 3, 4)}, {"axes": i64(1)}, {"keepdims": k}) for op in ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp") for k in (0, 1)],
    ("ReduceLogSum", {"x": pos32(2, 3)}, {}, {}),
    ("ReduceSum", {"x": f32(2, 3)}, {"axes": np.zeros((0,), np.int64)}, {"noop_with_empty_axes": 1}),
    ("ReduceMax", {"x": RNG.random((3, 2)) > 0.5}, {"axes": i64(0)}, {}),
    ("ArgMax", {"x": f32(3, 4)}, {}, {"axis": 1}),
    ("ArgMin", {"x": np.array([[1, 0, 0, 1]], np.float32)}, {}, {"axis": 1, "keepdims": 0, "select_last_index": 1}),
    ("GlobalAveragePool", {"x": f32(1, 2, 3, 3)}, {}, {}),
    ("GlobalMaxPool", {"x": f32(1, 2, 3, 3)}, {}, {}),
]

TENSOR: list[Case] = [
    ("Reshape", {"x": f32(2, 3, 4)}, {"shape": i64(0, -1)}, {}),
    ("Flatten", {"x": f32(2, 3, 4)}, {}, {"axis": 2}),
    ("Transpose", {"x": f32(2, 3, 4)}, {}, {"perm": [2, 0, 1]}),
    ("Squeeze", {"x": f32(2, 1, 4)}, {"axes": i64(1)}, {}),
    ("Unsqueeze", {"x": f32(2, 4)}, {"axes": i64(-1, 0)}, {}),
    ("Concat", {"a": f32(2, 3), "b": f32(2, 1)}, {}, {"axis": -1}),
    ("Split", {"x": f32(7, 2)}, {}, {"axis": 0, "num_outputs": 3}),
    ("Split", {"x": f32(6, 2)}, {"split": i64(2, 4)}, {}),
    ("Slice", {"x": f32(5, 6)}, {"starts": i64(1, -1), "ends": i64(4, -7), "axes": i64(0, 1), "steps": i64(2, -2)}, {}),
    ("Gather", {"x": f32(5, 3)}, {"i": i64(-1, 0, 2)}, {"axis": 0}),
    ("Tile", {"x": f32(2, 3)}, {"r": i64(2, 1)}, {}),
    ("Pad", {"x": f32(2, 3)}, {"pads": i64(1, 0, 0, 2), "v": np.array(1.5, np.float32)}, {}),
    ("Pad", {"x": f32(3, 4)}, {"pads": i64(0, 2, 1, 1)}, {"mode": "reflect"}),
    ("Expand", {"x": f32(3, 1)}, {"shape": i64(2, 1, 4)}, {}),
    ("ConstantOfShape", {}, {"shape": i64(2, 3)}, {}),
    ("Shape", {"x": f32(2, 3, 4)}, {}, {"start": 1}),
    ("Size", {"x": f32(2, 3, 4)}, {}, {}),
    ("Range", {}, {"s": np.array(1, np.int64), "l": np.array(10, np.int64), "d": np.array(3, np.int64)}, {}),
    ("OneHot", {"i": i64(0, 2, -1)}, {"depth": np.array(3, np.int64), "v": np.array([0, 5], np.float32)}, {"axis": 0}),
    ("DepthToSpace", {"x": f32(1, 8, 2, 3)}, {}, {"blocksize": 2, "mode": "CRD"}),
    ("SpaceToDepth", {"x": f32(1, 2, 4, 6)}, {}, {"blocksize": 2}),
    ("EyeLike", {"x": f32(3, 4)}, {}, {"k": 1}),
    ("Trilu", {"x": f32(3, 4)}, {"k": i64(-1)}, {"upper": 0}),
    ("CumSum", {"x": f32(2, 4)}, {"axis": np.array(1, np.int64)}, {"reverse": 1}),
    ("TopK", {"x": np.array([[3, 1, 3, 2], [0, 5, 5, 4]], np.float32)}, {"k": i64(3)}, {"axis": 1}),
    ("TopK", {"x": np.array([[3, 1, 3], [0, 5, 5]], np.int32)}, {"k": i64(2)}, {"axis": 0, "largest": 0}),
    ("CumProd", {"x": f32(2, 5)}, {"axis": np.array(1, np.int64)}, {"exclusive": 1, "reverse": 1}),
    ("Pad", {"x": f32(3, 4)}, {"pads": i64(1, 2, 2, 0)}, {"mode": "edge"}),
    ("Pad", {"x": f32(3, 4)}, {"pads": i64(2, 0, 1, 3)}, {"mode": "wrap"}),
    ("ScatterElements", {"x": f32(3, 4)}, {"i": np.array([[1, -1], [0, 0]], np.int64), "u": f32(2, 2)}, {"axis": 1, "reduction": "add"}),
    ("ScatterElements", {"x": f32(3, 4)}, {"i": np.array([[1, 2, 0]], np.int64), "u": f32(1, 3)}, {"axis": 0, "reduction": "max"}),
    ("ScatterND", {"x": f32(3, 4)}, {"i": np.array([[1], [-1], [1]], np.int64), "u": f32(3, 4)}, {"reduction": "mul"}),
    ("ScatterND", {"x": f32(2, 3)}, {"i": np.array([[0, 2], [1, 0]], np.int64), "u": f32(2)}, {}),
    ("GatherND", {"x": f32(2, 3, 4)}, {"i": np.array([[[1], [0]], [[2], [-1]]], np.int64)}, {"batch_dims": 1}),
    ("ReverseSequence", {"x": f32(4, 3, 2)}, {"lens": i64(4, 1, 2)}, {}),
    ("DFT", {"x": f32(2, 6, 1)}, {"n": np.array(8, np.int64), "axis": np.array(1, np.int64)}, {"onesided": 1}),
    ("DFT", {"x": f32(2, 5, 2)}, {"n": np.array(5, np.int64), "axis": np.array(-2, np.int64)}, {"inverse": 1}),
    ("GatherElements", {"x": f32(3, 4)}, {"i": np.array([[0, -1], [2, 1], [3, 3]], np.int64)}, {"axis": 1}),
    ("Resize", {"x": f32(1, 1, 3, 4)}, {"roi": np.zeros(0, np.float32), "scales": np.array([1, 1, 2, 0.5], np.float32)}, {"mode": "nearest"}),
    ("Resize", {"x": f32(1, 1, 3, 4)}, {"roi": np.zeros(0, np.float32), "scales": np.zeros(0, np.float32), "sizes": i64(1, 1, 5, 3)}, {"mode": "linear", "antialias": 1}),
    ("Resize", {"x": f32(2, 4)}, {"roi": np.zeros(0, np.float32), "scales": np.array([1.5], np.float32)}, {"mode": "cubic", "axes": [1], "coordinate_transformation_mode": "align_corners"}),
]

NN: list[Case] = [
    ("MatMul", {"a": f32(2, 3, 4), "b": f32(4)}, {}, {}),
    ("MatMul", {"a": f32(4), "b": f32(2, 4, 5)}, {}, {}),
    ("Gemm", {"a": f32(4, 3), "b": f32(5, 4)}, {"c": f32(5)}, {"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0}),
    ("Softmax", {"x": f32(2, 5)}, {}, {"axis": 0}),
    ("LogSoftmax", {"x": f32(2, 5)}, {}, {}),
    ("Hardmax", {"x": f32(2, 5)}, {}, {}),
    ("Clip", {"x": f32(6)}, {"lo": np.array(-0.5, np.float32), "hi": np.array(0.5, np.float32)}, {}),
    ("Dropout", {"x": f32(6)}, {}, {}),
    ("BatchNormalization", {"x": f32(2, 3, 4)}, {"s": f32(3), "b": f32(3), "m": f32(3), "v": pos32(3)}, {}),
    ("InstanceNormalization", {"x": f32(2, 3, 4)}, {"s": f32(3), "b": f32(3)}, {}),
    ("LayerNormalization", {"x": f32(2, 3, 4)}, {"s": f32(4), "b": f32(4)}, {}),
    ("GroupNormalization", {"x": f32(2, 4, 3)}, {"s": f32(4), "b": f32(4)}, {"num_groups": 2}),
    ("MeanVarianceNormalization", {"x": f32(2, 3, 2, 2)}, {}, {}),
    ("LpNormalization", {"x": f32(3, 4)}, {}, {"axis": 0}),
    # ONNX's reference sums x, not |x|, for p=1: positive inputs agree with the spec.
    ("LpNormalization", {"x": pos32(3, 4)}, {}, {"p": 1}),
    ("Conv", {"x": f32(1, 2, 5, 5)}, {"w": f32(4, 1, 3, 3), "b": f32(4)}, {"group": 2, "pads": [1, 0, 1, 2], "strides": [2, 1]}),
    ("MaxPool", {"x": f32(1, 1, 5, 5)}, {}, {"kernel_shape": [2, 2], "ceil_mode": 1, "strides": [2, 2]}),
    ("AveragePool", {"x": f32(1, 1, 5, 5)}, {}, {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    ("BatchNormalization", {"x": f32(2, 3, 4)}, {"s": f32(3), "b": f32(3), "m": f32(3), "v": pos32(3)}, {"training_mode": 1, "momentum": 0.8}),
    ("RMSNormalization", {"x": f32(2, 3, 4)}, {"s": f32(3, 4)}, {"axis": 1}),
    ("ConvTranspose", {"x": f32(1, 2, 3, 3)}, {"w": f32(2, 3, 3, 3), "b": f32(3)}, {"strides": [2, 2], "pads": [1, 0, 0, 1], "output_padding": [1, 1]}),
    # N == C: ONNX's reference loops over dim 0 where it means channels.
    ("LRN", {"x": f32(4, 4, 2, 2)}, {}, {"size": 3, "alpha": 0.01, "beta": 0.5, "bias": 2.0}),
    ("LpPool", {"x": f32(1, 2, 5, 5)}, {}, {"kernel_shape": [2, 3], "p": 3, "strides": [1, 2]}),
    ("Einsum", {"a": f32(2, 3, 4), "b": f32(2, 4, 5)}, {}, {"equation": "bij,bjk->bik"}),
    ("Einsum", {"a": f32(3, 3, 2)}, {}, {"equation": "ii...->...i"}),
    ("Einsum", {"a": f32(3), "b": f32(3)}, {}, {"equation": "i,i"}),
    ("NegativeLogLikelihoodLoss", {"x": f32(3, 4)}, {"t": i64(0, 3, 1), "w": pos32(4)}, {"ignore_index": 3}),
    ("SoftmaxCrossEntropyLoss", {"x": f32(3, 4, 2)}, {"t": np.array([[0, 1], [2, 3], [1, 1]], np.int64)}, {"reduction": "sum"}),
]


def _run(case: Case, n_outputs: int = 1) -> None:
    op, inputs, inits, attrs = case
    model = node_model(op, inputs, n_outputs, initializers=inits, **attrs)
    assert_matches_reference(model, inputs, rtol=1e-4, atol=1e-5)


def _outputs(case: Case) -> int:
    op, _, inits, attrs = case
    if op == "TopK":
        return 2
    if op == "Split":
        return attrs.get("num_outputs", len(inits.get("split", ())))
    if op == "BatchNormalization" and attrs.get("training_mode"):
        return 3
    return {"LayerNormalization": 3, "SoftmaxCrossEntropyLoss": 2}.get(op, 1)


def _id(case: Case) -> str:
    return case[0]


@pytest.mark.parametrize("case", ELEMENTWISE, ids=_id)
def test_elementwise(case: Case) -> None:
    _run(case)


@pytest.mark.parametrize("case", REDUCTIONS, ids=_id)
def test_reductions(case: Case) -> None:
    _run(case)


@pytest.mark.parametrize("case", TENSOR, ids=_id)
def test_tensor_ops(case: Case) -> None:
    _run(case, _outputs(case))


@pytest.mark.parametrize("case", NN, ids=_id)
def test_nn_ops(case: Case) -> None:
    _run(case, _outputs(case))


#: Cases ONNX's reference evaluator cannot run (no kernel, or a grouped 1-D ConvTranspose).
ORT_CASES: list[Case] = [
    ("GlobalLpPool", {"x": f32(1, 2, 3, 3)}, {}, {"p": 3}),
    ("ConvTranspose", {"x": f32(1, 2, 4)}, {"w": f32(2, 2, 3)}, {"strides": [2], "auto_pad": "SAME_UPPER", "group": 2}),
]


@pytest.mark.parametrize("case", ORT_CASES, ids=_id)
def test_against_onnxruntime(case: Case) -> None:
    pytest.importorskip("onnxruntime")
    op, inputs, inits, attrs = case
    model = node_model(op, inputs, initializers=inits, **attrs)
    assert_matches_reference(model, inputs, rtol=1e-4, atol=1e-5, oracle="onnxruntime")


def test_random_ops_shapes_dtypes_and_ranges() -> None:
    import flowir.onnx.backend as flowir_backend

    x = f32(50, 40)
    for op, attrs, lo, hi in (
        ("RandomUniformLike", {"low": 2.0, "high": 3.0}, 2.0, 3.0),
        ("RandomNormalLike", {"mean": 10.0, "scale": 0.1, "dtype": 11}, 9.0, 11.0),
    ):
        (y,) = flowir_backend.run_model(node_model(op, {"x": x}, **attrs), [x])
        assert y.shape == x.shape and y.dtype == (np.float64 if "dtype" in attrs else np.float32)
        assert lo <= y.min() and y.max() <= hi and y.std() > 0
    (y,) = flowir_backend.run_model(node_model("RandomUniform", {}, shape=[3, 2], seed=3.0), [])
    (y2,) = flowir_backend.run_model(node_model("RandomUniform", {}, shape=[3, 2], seed=3.0), [])
    np.testing.assert_array_equal(y, y2)  # seeded: reproducible
    (z,) = flowir_backend.run_model(node_model("RandomNormal", {}, shape=[1000]), [])
    assert abs(z.mean()) < 0.2 and 0.8 < z.std() < 1.2


def test_if_with_a_known_condition_imports_the_taken_branch() -> None:
    from onnx import TensorProto, helper

    import flowir.onnx.backend as flowir_backend
    from flowir.frontends.onnx import import_model

    then_g = helper.make_graph([helper.make_node("Neg", ["x"], ["t"])], "then", [], [helper.make_empty_tensor_value_info("t")])
    else_g = helper.make_graph([helper.make_node("Abs", ["x"], ["e"])], "else", [], [helper.make_empty_tensor_value_info("e")])
    node = helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)
    g = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("c", TensorProto.BOOL, []), helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_empty_tensor_value_info("y")],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    x = np.array([-1.0, 2.0, -3.0], np.float32)
    # The condition is an input: each run specializes on its value.
    rep = flowir_backend.prepare(model)
    np.testing.assert_array_equal(rep.run([np.array(True), x])[0], -x)
    np.testing.assert_array_equal(rep.run([np.array(False), x])[0], np.abs(x))
    graph = import_model(model, bind_inputs={"c": np.array(False)})
    assert [op.name for op in graph.ops if op.name != "flowir.placeholder"] == ["math.abs"]


def test_negative_pads_crop() -> None:
    ort = pytest.importorskip("onnxruntime")
    import flowir.onnx.backend as flowir_backend

    x = f32(3, 4)
    model = node_model("Pad", {"x": x}, initializers={"pads": i64(0, 2, 0, -1)})
    (expected,) = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    (got,) = flowir_backend.run_model(model, [x])
    np.testing.assert_array_equal(got, expected)
    assert got.shape == (3, 5)


def test_constant_attributes() -> None:
    from onnx import helper

    from flowir.frontends.onnx import import_model

    nodes = [
        helper.make_node("Constant", [], ["a"], value_floats=[1.0, 2.0]),
        helper.make_node("Constant", [], ["b"], value_int=3),
        helper.make_node("Cast", ["b"], ["c"], to=1),
        helper.make_node("Add", ["a", "c"], ["y"]),
    ]
    g = helper.make_graph(nodes, "g", [], [helper.make_empty_tensor_value_info("y")])
    graph = import_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    # Constant subgraphs fold while importing: the output is one constant.
    (out,) = graph.outputs
    np.testing.assert_array_equal(out.owner.value, [4.0, 5.0])
