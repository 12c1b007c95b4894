"""Export of the builtin ops: constants become initializers (a ``Constant`` node where the
constant is itself a model output)."""

from __future__ import annotations

from onnx import numpy_helper

from flowir.backends.onnx.exporter import ExportContext, export_rule, unsupported
from flowir.ir.ops import core as core_ops

__all__: list[str] = []


@export_rule(core_ops.Constant)
def _constant(ctx: ExportContext, op: core_ops.Constant) -> list[str]:
    name = ctx.outs[0]
    tensor = numpy_helper.from_array(op.value, name)
    if name in ctx.graph_outputs:
        return ctx.final("Constant", [], value=tensor)
    ctx.initializers.append(tensor)
    return [name]


unsupported("a placeholder exports as a model input: list it among the inputs", core_ops.Placeholder)
unsupported("the graph terminator: its operands are the model outputs", core_ops.Return)
