"""The train dialect does not export: optimizer updates act on training state."""

from __future__ import annotations

from flowir.backends.onnx.exporter import unsupported
from flowir.ir.ops import train as train_ops

__all__: list[str] = []

unsupported("an optimizer step on variables and their slots: training state, not inference", train_ops.AdamUpdate)
