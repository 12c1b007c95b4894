"""The ONNX importer: ``import_model`` turns an ONNX model into a flowir graph.

Converters live in one module per op family (``ops_elementwise``, ``ops_reduce``,
``ops_tensor``, ``ops_nn``, ``ops_resize``, ``ops_misc``) and register in
``CONVERTER_RULES``, keyed by ``(domain, op_type)``; each decomposes its ONNX op into flowir
catalog ops. An op without a converter that ONNX defines by a function body imports
through that body.
"""

from __future__ import annotations

from flowir.frontends.onnx._registry import CONVERTER_RULES, ConverterRule, converter_rule
from flowir.frontends.onnx.errors import (
    DynamicValueError,
    OnnxImportError,
    UnsupportedDTypeError,
    UnsupportedOnnxOpError,
)
from flowir.frontends.onnx.importer import MIN_OPSET, import_model, supported_op_types

__all__ = [
    "import_model",
    "supported_op_types",
    "MIN_OPSET",
    "CONVERTER_RULES",
    "ConverterRule",
    "converter_rule",
    "OnnxImportError",
    "UnsupportedOnnxOpError",
    "UnsupportedDTypeError",
    "DynamicValueError",
]
