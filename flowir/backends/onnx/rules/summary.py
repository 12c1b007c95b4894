"""The summary dialect does not export: TensorBoard protos are a training-time side channel."""

from __future__ import annotations

from flowir.backends.onnx.exporter import unsupported
from flowir.ir.ops import summary as summary_ops

__all__: list[str] = []

unsupported(
    "serializes TensorBoard summaries, a training-time side output with no ONNX counterpart",
    summary_ops.Scalar,
    summary_ops.Histogram,
    summary_ops.Image,
    summary_ops.Audio,
    summary_ops.Text,
    summary_ops.Merge,
)
