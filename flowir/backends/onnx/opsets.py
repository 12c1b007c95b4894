"""Which ONNX opsets the exporter writes: 17 through the newest the installed ``onnx`` knows.

The default is the newest opset the installed ``onnxruntime`` loads, found once, on first
use, by loading a one-node model per opset (newest first): onnxruntime has no API that
states it, and importing it at module import would slow ``import flowir.onnx`` down.
"""

from __future__ import annotations

import functools

import onnx
from onnx import TensorProto, helper

from flowir.ir.errors import FlowirError

__all__ = ["MIN_OPSET", "newest_opset", "runtime_opset", "default_opset", "check_opset", "ir_version_for"]

#: The oldest opset the export rules write.
MIN_OPSET = 17


def newest_opset() -> int:
    """The newest default-domain opset the installed ``onnx`` defines."""
    return onnx.defs.onnx_opset_version()


def ir_version_for(opset: int) -> int:
    """The oldest ONNX IR version that holds ``opset`` (readers back to it accept the model)."""
    return helper.find_min_ir_version_for([helper.make_opsetid("", opset)])


@functools.cache
def runtime_opset() -> int | None:
    """The newest opset in ``[MIN_OPSET, newest_opset()]`` that the installed onnxruntime
    loads; ``None`` without onnxruntime."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe", [x], [y])
    for opset in range(newest_opset(), MIN_OPSET - 1, -1):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = ir_version_for(opset)
        try:
            ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        except Exception:  # onnxruntime raises its own Fail for opsets it does not know
            continue
        return opset
    return None


def default_opset() -> int:
    """The newest opset the installed onnxruntime runs, else the newest ``onnx`` defines."""
    rt = runtime_opset()
    return rt if rt is not None else newest_opset()


def check_opset(opset: int | None) -> int:
    """``opset``, or the default for ``None``; ``FlowirError`` if it is outside the range."""
    if opset is None:
        return default_opset()
    newest = newest_opset()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise FlowirError(f"opset {opset!r} is not supported: the exporter writes opsets {MIN_OPSET} to {newest}")
    return opset
