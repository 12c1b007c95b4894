"""``import_model``: graph structure, names, locations, symbolic dims, initializers, errors,
function-body expansion, and the ``flowir.onnx.backend`` API."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx")

import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import flowir.onnx.backend as flowir_backend  # noqa: E402
from flowir.frontends.onnx import (  # noqa: E402
    CONVERTER_RULES,
    DynamicValueError,
    OnnxImportError,
    UnsupportedDTypeError,
    UnsupportedOnnxOpError,
    import_model,
    supported_op_types,
)
from flowir.ir.dtypes import DType  # noqa: E402
from flowir.ir.errors import FlowirError, UnsupportedOpError  # noqa: E402
from flowir.ir.ops.core import Constant, Placeholder  # noqa: E402
from flowir.ir.ops.state import Read, Variable  # noqa: E402
from flowir.ir.types import TensorType  # noqa: E402
from flowir.ir.verifier import verify  # noqa: E402
from tests.onnx.helpers import assert_matches_reference, node_model  # noqa: E402


def mlp_model(opset: int = 17) -> onnx.ModelProto:
    """x[N, 4] -> Gemm -> Relu -> MatMul + Add -> Softmax, with initializers."""
    rng = np.random.default_rng(1)
    w1 = rng.standard_normal((4, 8)).astype(np.float32)
    b1 = rng.standard_normal((8,)).astype(np.float32)
    w2 = rng.standard_normal((8, 3)).astype(np.float32)
    b2 = rng.standard_normal((3,)).astype(np.float32)
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1"),
        helper.make_node("Relu", ["h"], ["a"], name="act"),
        helper.make_node("MatMul", ["a", "w2"], ["z"], name="fc2"),
        helper.make_node("Add", ["z", "b2"], ["logits"], name="bias2"),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax"),
    ]
    g = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3]),
            helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 3]),
        ],
        initializer=[numpy_helper.from_array(v, k) for k, v in {"w1": w1, "b1": b1, "w2": w2, "b2": b2}.items()],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def test_at_least_100_op_types_are_supported() -> None:
    ops = supported_op_types()
    assert len(ops) >= 100
    assert ("", "Gemm") in ops and ("", "Conv") in ops
    # Every rule is keyed by (domain, op type) and points at a callable.
    assert all(callable(rule.fn) for rule in CONVERTER_RULES.values())


def test_graph_structure_names_and_symbolic_dims() -> None:
    graph = import_model(mlp_model())
    verify(graph)
    (x,) = [op for op in graph.ops if isinstance(op, Placeholder)]
    assert x.user_name == "x"
    assert x.result.type == TensorType(DType.float32, (None, 4))
    assert graph.output_names == ["logits", "probs"]
    assert [v.type for v in graph.outputs] == [TensorType(DType.float32, (None, 3))] * 2
    # The op making an ONNX tensor is named after it; pieces of a decomposed op after the node.
    assert graph.outputs[0].name == "logits"
    names = [op.user_name for op in graph.ops]
    assert "h" in names and "a" in names
    consts = {op.user_name for op in graph.ops if isinstance(op, Constant)}
    assert {"w1", "b1", "w2", "b2"} <= consts


def test_locations_name_the_onnx_node() -> None:
    graph = import_model(mlp_model())
    relu = next(op for op in graph.ops if op.user_name == "a")
    assert relu.location.line == 2
    assert relu.location.function == "Relu 'act'"
    assert str(relu.location) == "mlp:2 in Relu 'act'"


def test_input_shapes_override() -> None:
    graph = import_model(mlp_model(), input_shapes={"x": (5, 4)})
    assert graph.outputs[1].type == TensorType(DType.float32, (5, 3))


def test_model_from_path(tmp_path) -> None:
    path = tmp_path / "mlp.onnx"
    onnx.save(mlp_model(), path)
    graph = import_model(path)
    relu = next(op for op in graph.ops if op.user_name == "a")
    assert relu.location.file == "mlp.onnx"


def test_runs_like_the_reference_for_several_batch_sizes() -> None:
    model = mlp_model()
    rep = flowir_backend.prepare(model)
    for batch in (1, 7):
        x = np.random.default_rng(batch).standard_normal((batch, 4)).astype(np.float32)
        assert_matches_reference(model, {"x": x})
        out = rep.run({"x": x})
        assert out["probs"].shape == (batch, 3)


def test_initializers_as_variables() -> None:
    graph = import_model(mlp_model(), initializers_as="variables")
    verify(graph)
    variables = {op.var_name for op in graph.ops if isinstance(op, Variable)}
    assert variables == {"w1", "b1", "w2", "b2"}
    assert sum(isinstance(op, Read) for op in graph.ops) == 4
    init = next(op for op in graph.ops if op.user_name == "init")
    assert len(init.control_deps) == 4
    with pytest.raises(ValueError, match="initializers_as"):
        import_model(mlp_model(), initializers_as="arrays")


def test_variables_graph_runs_in_a_session_after_init() -> None:
    """The imported graph with variables runs through the numpy interpreter: init first."""
    from flowir.backends import Program, get
    from flowir.ir.reference import RefContext
    from flowir.ir.transforms import extract_subgraph
    from flowir.passes.functionalize import functionalize_state

    model = mlp_model()
    graph = import_model(model, initializers_as="variables")
    x_op = next(op for op in graph.ops if isinstance(op, Placeholder))
    sub, _ = extract_subgraph(graph, graph.outputs, [x_op.result])
    signature = functionalize_state(sub)
    program = Program(sub, 1, [n for n, _ in signature.reads], 2, list(signature.writes))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    x = np.ones((2, 4), np.float32)
    fetches, _ = get("numpy").compile(program)([x], [inits[n] for n, _ in signature.reads], RefContext())
    expected = flowir_backend.run_model(model, [x])
    np.testing.assert_allclose(fetches[1], expected[1], rtol=1e-6)


# --------------------------------------------------------------------------------------------
# Errors


def test_unsupported_op_names_node_op_domain_and_opset() -> None:
    x = np.ones((2,), np.float32)
    model = node_model("Unique", {"x": x}, 4, opset=19)
    with pytest.raises(UnsupportedOnnxOpError) as e:
        import_model(model)
    msg = str(e.value)
    assert "Unique 'unique_node' (domain 'ai.onnx', opset 19)" in msg
    assert "op type 'Unique' is not supported" in msg
    assert "at Unique_graph:1 in Unique 'unique_node'" in msg
    assert isinstance(e.value, UnsupportedOpError) and isinstance(e.value, FlowirError)


def test_custom_domain_op_is_unsupported() -> None:
    node = helper.make_node("Foo", ["x"], ["y"], domain="com.example", name="foo")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])], [helper.make_empty_tensor_value_info("y")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 3)])
    with pytest.raises(UnsupportedOnnxOpError, match=r"Foo 'foo' \(domain 'com.example', opset 3\)"):
        import_model(model)


def test_bad_attribute_names_the_node() -> None:
    model = node_model("Gelu", {"x": np.ones(2, np.float32)}, approximate="cubic", opset=20)
    with pytest.raises(OnnxImportError, match=r"Gelu 'gelu_node' \(domain 'ai.onnx', opset 20\).*approximate"):
        import_model(model)


def test_shape_error_names_the_node() -> None:
    model = node_model("MatMul", {"a": np.ones((2, 3), np.float32), "b": np.ones((4, 5), np.float32)})
    with pytest.raises(FlowirError, match=r"MatMul 'matmul_node' \(domain 'ai.onnx', opset 21\).*contracting dims differ"):
        import_model(model)


def test_unsupported_dtype() -> None:
    model = node_model("Abs", {"x": np.ones(2, np.uint32)})
    with pytest.raises(UnsupportedDTypeError, match="graph input 'x': element type UINT32"):
        import_model(model)


def test_old_opset_is_rejected() -> None:
    with pytest.raises(UnsupportedOnnxOpError, match="opset 11 .* opset 13 and newer"):
        import_model(mlp_model(opset=11))


def test_dynamic_shape_input_names_the_graph_input() -> None:
    x = np.ones((2, 6), np.float32)
    model = node_model("Reshape", {"x": x, "shape": np.array([3, 4], np.int64)})
    with pytest.raises(DynamicValueError) as e:
        import_model(model)
    assert e.value.graph_inputs == ("shape",)
    assert "input 1 (shape) must be known" in str(e.value)
    # Binding the input resolves it; the backend does this per run.
    graph = import_model(model, bind_inputs={"shape": np.array([3, 4], np.int64)})
    assert graph.outputs[0].type == TensorType(DType.float32, (3, 4))
    (y,) = flowir_backend.run_model(model, [x, np.array([4, 3], np.int64)])
    assert y.shape == (4, 3)


def test_unknown_output_is_an_error() -> None:
    g = helper.make_graph([], "g", [], [helper.make_empty_tensor_value_info("y")])
    with pytest.raises(OnnxImportError, match="graph output 'y'"):
        import_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))


# --------------------------------------------------------------------------------------------
# Function bodies, shape computations


def test_function_op_imports_through_its_body() -> None:
    """Attention has no converter of its own: it expands through its ONNX function body."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((1, 2, 3, 4)).astype(np.float32) for _ in range(3))
    model = node_model("Attention", {"q": q, "k": k, "v": v}, opset=23)
    graph = import_model(model)
    assert any("Attention/" in (op.user_name or "") for op in graph.ops)
    assert_matches_reference(model, {"q": q, "k": k, "v": v}, rtol=1e-5)


def test_shape_computations_fold_when_dims_are_known() -> None:
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Constant", [], ["minus1"], value_ints=[-1]),
        helper.make_node("Constant", [], ["zero"], value_ints=[0]),
        helper.make_node("Constant", [], ["one"], value_ints=[1]),
        helper.make_node("Slice", ["s", "zero", "one"], ["s0"]),
        helper.make_node("Concat", ["s0", "minus1"], ["new_shape"], axis=0),
        helper.make_node("Reshape", ["x", "new_shape"], ["y"]),
    ]
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])], [helper.make_empty_tensor_value_info("y")]
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    graph = import_model(model)
    assert graph.outputs[0].type == TensorType(DType.float32, (2, 12))
    # Only the placeholder, the folded shape constant and the reshape remain.
    assert [op.name for op in graph.ops if not isinstance(op, Constant)] == ["flowir.placeholder", "array.reshape"]


# --------------------------------------------------------------------------------------------
# The onnx.backend API


def test_backend_module_api() -> None:
    assert flowir_backend.supports_device("CPU")
    assert not flowir_backend.supports_device("CUDA")
    model = mlp_model()
    assert flowir_backend.is_compatible(model)
    x = np.ones((3, 4), np.float32)
    out = flowir_backend.run_model(model, {"x": x})
    assert out.names == ("logits", "probs")
    np.testing.assert_allclose(out["probs"].sum(axis=1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="CPU"):
        flowir_backend.prepare(model, device="CUDA")
    with pytest.raises(UnsupportedOnnxOpError):
        flowir_backend.prepare(node_model("Unique", {"x": np.ones(2, np.float32)}, 4))


def test_run_node() -> None:
    node = helper.make_node("Gemm", ["a", "b"], ["y"], transB=1)
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.ones((4, 3), np.float32)
    (y,) = flowir_backend.run_node(node, [a, b])
    np.testing.assert_array_equal(y, a @ b.T)


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_backends_agree(backend: str) -> None:
    if backend == "jax":
        pytest.importorskip("jax")
    model = mlp_model()
    x = np.random.default_rng(3).standard_normal((5, 4)).astype(np.float32)
    assert_matches_reference(model, {"x": x}, backend=backend)


def test_wrong_inputs() -> None:
    from flowir.ir.errors import DTypeError

    rep = flowir_backend.prepare(mlp_model())
    with pytest.raises(ValueError, match="takes 1 inputs"):
        rep.run([np.ones((1, 4), np.float32)] * 2)
    with pytest.raises(DTypeError, match="input 'x' of the model is float32, got an array of float64"):
        rep.run([np.ones((1, 4))])
    with pytest.raises(ValueError, match="missing inputs"):
        rep.run({"y": np.ones((1, 4), np.float32)})


def test_string_inputs() -> None:
    model = node_model("Equal", {"a": np.array([b"x", b"y"], dtype=object), "b": np.array([b"x", b"z"], dtype=object)})
    (eq,) = flowir_backend.run_model(model, [np.array(["x", "y"]), np.array(["x", "z"])])
    np.testing.assert_array_equal(eq, [True, False])


def test_unseeded_random_ops_draw_anew_on_each_run() -> None:
    rep = flowir_backend.prepare(node_model("RandomUniform", {}, shape=[4]))
    assert not np.array_equal(rep.run([])[0], rep.run([])[0])


def test_value_dependent_shapes_specialize_per_run() -> None:
    """Compress's result size depends on its condition: runs specialize on the fed value."""
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    model = node_model("Compress", {"x": x, "cond": np.array([True, False, True])}, axis=0)
    with pytest.raises(DynamicValueError, match="condition"):
        import_model(model)
    rep = flowir_backend.prepare(model)
    for cond in ([True, False, True], [False, True, False], [True, False, True]):
        (y,) = rep.run([x, np.array(cond)])
        np.testing.assert_array_equal(y, x[np.array(cond)])
    assert len(rep._by_signature) == 1 and len(next(iter(rep._by_signature.values()))) == 2


def test_a_rank_0_initializer_stays_rank_0() -> None:
    init = numpy_helper.from_array(np.array(2.0, np.float32), "c")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])
    graph = helper.make_graph([helper.make_node("Mul", ["x", "c"], ["y"])], "g", [x], [y], [init])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    g = import_model(model)
    const = next(op for op in g.ops if type(op) is Constant)
    assert const.results[0].type == TensorType(DType.float32, ())
