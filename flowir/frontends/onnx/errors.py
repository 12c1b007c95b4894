"""Errors of the ONNX importer: every one names the node, its op type, domain and opset."""

from __future__ import annotations

from flowir.ir.errors import FlowirError, UnsupportedOpError

__all__ = ["OnnxImportError", "UnsupportedOnnxOpError", "UnsupportedDTypeError", "DynamicValueError"]


class OnnxImportError(FlowirError, ValueError):
    """An ONNX model that flowir cannot import as it is: a bad attribute, a missing input, an
    unsupported opset. The message starts with the node (``Gemm 'fc1' (domain '', opset 17)``)."""


class UnsupportedOnnxOpError(OnnxImportError, UnsupportedOpError):
    """An ONNX op (or one of its modes) that flowir's catalog cannot express."""


class UnsupportedDTypeError(UnsupportedOnnxOpError):
    """A tensor element type that flowir has no dtype for (uint16, complex64, float8 ...)."""


class DynamicValueError(UnsupportedOnnxOpError):
    """An input that flowir needs as a constant (a shape, axes, pads) is computed at run time.

    ``graph_inputs`` names the graph inputs that value is computed from: importing again with
    those inputs bound to values (``import_model(..., bind_inputs=...)``) resolves it.
    """

    def __init__(self, detail: str, graph_inputs: tuple[str, ...] = (), context: list[str] | None = None) -> None:
        self.graph_inputs = graph_inputs
        super().__init__(detail, context)
