"""The control dialect does not export: ONNX has no control edges, so the exporter drops
control dependencies first, and with them the groups and no-ops they reached (a control op
asked for as an output is refused as not a tensor)."""

from __future__ import annotations

from flowir.backends.onnx.exporter import unsupported
from flowir.ir.ops import control as control_ops

__all__: list[str] = []

unsupported(
    "orders side effects only; ONNX has no control edges (control dependencies are dropped before export)",
    control_ops.Group,
    control_ops.NoOp,
)
