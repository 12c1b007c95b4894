"""The ONNX backend: export of flowir graphs to ONNX ``ModelProto``s.

``EXPORT_RULES`` maps each op class to its export rule (``export_rule`` registers one);
``UNSUPPORTED`` lists the ops without one and why; ``legalize`` rewrites the ops ONNX lacks
before the rules run. ``export_graph`` exports the part of an IR graph between given values;
``flowir.onnx.export`` is the user-facing entry point (sessions, tensors, files). Importing
this package imports onnx and fills the tables.
"""

from flowir.backends.onnx import rules  # noqa: F401  (fill the rule tables)
from flowir.backends.onnx.exporter import (
    EXPORT_RULES,
    UNSUPPORTED,
    ExportContext,
    ExportRule,
    check_model,
    export_graph,
    export_rule,
    is_exportable,
    onnx_dtype,
    save_model,
    unsupported,
)
from flowir.backends.onnx.opsets import MIN_OPSET, check_opset, default_opset, newest_opset, runtime_opset

__all__ = [
    "EXPORT_RULES",
    "UNSUPPORTED",
    "ExportContext",
    "ExportRule",
    "export_rule",
    "unsupported",
    "export_graph",
    "check_model",
    "is_exportable",
    "onnx_dtype",
    "MIN_OPSET",
    "newest_opset",
    "runtime_opset",
    "default_opset",
    "check_opset",
    "save_model",
]

