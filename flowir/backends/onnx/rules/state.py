"""The state dialect does not export: reads of variables are frozen into initializers before
the rules run, and an ONNX model has no state to assign."""

from __future__ import annotations

from flowir.backends.onnx.exporter import unsupported
from flowir.ir.ops import state as state_ops

__all__: list[str] = []

unsupported("frozen before export: a variable exports as the initializer its reads become", state_ops.Variable, state_ops.Read)
unsupported(
    "updates variable state; an ONNX model is a stateless inference function",
    state_ops.Assign,
    state_ops.AssignAdd,
    state_ops.AssignSub,
    state_ops.ApplyAdam,
)
