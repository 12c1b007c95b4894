"""Round trips through ONNX: export -> import -> run equals the original, and import ->
export -> onnxruntime equals the original model in onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import flowir.onnx as flowir_onnx  # noqa: E402
import flowir.onnx.backend as flowir_backend  # noqa: E402
from flowir.ir.ops.core import Placeholder  # noqa: E402
from tests.onnx.test_import import mlp_model  # noqa: E402


def _ort(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _conv_model() -> onnx.ModelProto:
    rng = np.random.default_rng(2)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    b = rng.standard_normal((4,)).astype(np.float32)
    scale, bias = rng.random(4).astype(np.float32) + 0.5, rng.standard_normal(4).astype(np.float32)
    mean, var = rng.standard_normal(4).astype(np.float32), rng.random(4).astype(np.float32) + 0.5
    fc = rng.standard_normal((4 * 2 * 2, 5)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["bn"], name="bn"),
        helper.make_node("Relu", ["bn"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
        helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc"], ["y"], name="fc"),
    ]
    inits = {"w": w, "b": b, "scale": scale, "bias": bias, "mean": mean, "var": var, "fc": fc}
    g = helper.make_graph(
        nodes,
        "cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("make_model", [mlp_model, _conv_model], ids=["mlp", "cnn"])
def test_import_export_matches_onnxruntime(make_model) -> None:
    from flowir.backends.onnx import EXPORT_RULES

    original = make_model()
    graph = flowir_onnx.import_model(original)
    missing = sorted({op.name for op in graph.ops if op.name.startswith("nn.") and type(op) not in EXPORT_RULES})
    if missing:
        pytest.skip(f"the ONNX exporter has no rule for {', '.join(missing)} yet")
    inputs = [op.result for op in graph.ops if isinstance(op, Placeholder)]
    exported = flowir_onnx.export(graph, inputs, graph.outputs)
    onnx.checker.check_model(exported, full_check=True)
    assert [o.name for o in exported.graph.output] == [o.name for o in original.graph.output]
    shape = [3] + [d.dim_value for d in original.graph.input[0].type.tensor_type.shape.dim[1:]]
    for batch in (1, 3):
        x = np.random.default_rng(batch).standard_normal([batch, *shape[1:]]).astype(np.float32)
        expected = _ort(original, {"x": x})
        got = _ort(exported, {"x": x})
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


def test_export_import_run_matches_the_session() -> None:
    import flowir as tf

    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 6], name="x")
        w = tf.Variable(np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32), name="w")
        b = tf.Variable(np.arange(3, dtype=np.float32), name="b")
        logits = tf.add(tf.matmul(tf.nn.relu(x), w), b, name="logits")
        probs = tf.nn.softmax(logits, name="probs")
        init = tf.global_variables_initializer()
    feed = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    with tf.Session(graph=g, backend="numpy") as sess:
        sess.run(init)
        expected = sess.run([logits, probs], {x: feed})
        model = flowir_onnx.export(sess, [x], [logits, probs])
    got = flowir_backend.run_model(model, {"x": feed})
    assert got.names == ("logits", "probs")
    for a, e in zip(got, expected):
        np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-6)
