"""Building small ONNX models and checking flowir against ONNX's reference evaluator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

OPSET = 21


def node_model(
    op_type: str,
    inputs: dict[str, np.ndarray],
    n_outputs: int = 1,
    *,
    initializers: dict[str, np.ndarray] | None = None,
    opset: int = OPSET,
    symbolic: Sequence[str] = (),
    **attrs: Any,
) -> onnx.ModelProto:
    """A model of one ``op_type`` node reading ``inputs`` (graph inputs, in order) then
    ``initializers``; inputs named in ``symbolic`` get a symbolic first dim."""
    initializers = initializers or {}
    names = list(inputs) + list(initializers)
    outputs = [f"out{i}" for i in range(n_outputs)]
    node = helper.make_node(op_type, names, outputs, name=f"{op_type.lower()}_node", **attrs)
    graph_inputs = []
    for name, a in inputs.items():
        shape: list[Any] = list(a.shape)
        if name in symbolic:
            shape[0] = "N"
        graph_inputs.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(a.dtype), shape))
    graph = helper.make_graph(
        [node],
        f"{op_type}_graph",
        graph_inputs,
        [helper.make_empty_tensor_value_info(o) for o in outputs],
        initializer=[numpy_helper.from_array(v, k) for k, v in initializers.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def reference(model: onnx.ModelProto, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    return [np.asarray(x) for x in ReferenceEvaluator(model).run(None, inputs)]


def onnxruntime_outputs(model: onnx.ModelProto, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, inputs)


def assert_matches_reference(
    model: onnx.ModelProto,
    inputs: dict[str, np.ndarray],
    rtol: float = 1e-5,
    atol: float = 1e-6,
    backend: str = "numpy",
    oracle: str = "reference",
) -> list[np.ndarray]:
    """Run ``model`` on flowir and on ONNX's reference evaluator (``oracle="onnxruntime"``:
    on onnxruntime); outputs must agree in dtype, shape and value."""
    import flowir.onnx.backend as flowir_backend

    expected = reference(model, inputs) if oracle == "reference" else onnxruntime_outputs(model, inputs)
    got = list(flowir_backend.prepare(model, backend=backend).run(inputs))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype, (g.dtype, e.dtype)
        assert g.shape == e.shape, (g.shape, e.shape)
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
    return got
