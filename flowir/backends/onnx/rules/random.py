"""Export of the random dialect: ONNX's ``RandomUniform``, ``RandomNormal`` and
``RandomUniformLike``. They draw from the runtime's own generator, so an exported model gives
other numbers than a flowir run (a seed, when the op has one, fixes ONNX's stream only).
"""

from __future__ import annotations

from flowir.backends.onnx.exporter import ExportContext, export_rule, onnx_dtype, unsupported
from flowir.ir import ops
from flowir.ir.core import Operation
from flowir.ir.errors import UnsupportedOpError

__all__: list[str] = []


def _seed(op: Operation) -> float | None:
    """ONNX's single float seed for TF's two int seeds (``None``: unseeded); kept below 2**24,
    where every integer is an exact float."""
    seed, seed2 = op.seed, op.seed2  # type: ignore[attr-defined]
    if not seed and not seed2:
        return None
    return float((seed * 1_000_003 + seed2) % (1 << 24))


@export_rule(ops.RandomUniform)
def _uniform(ctx: ExportContext, op: ops.RandomUniform) -> list[str]:
    if not op.dtype.is_floating:
        raise UnsupportedOpError("integer uniform draws have no ONNX counterpart")
    return ctx.final(
        "RandomUniform", [], dtype=onnx_dtype(op.dtype), low=op.minval, high=op.maxval, shape=list(op.shape), seed=_seed(op)
    )


@export_rule(ops.RandomNormal)
def _normal(ctx: ExportContext, op: ops.RandomNormal) -> list[str]:
    return ctx.final(
        "RandomNormal", [], dtype=onnx_dtype(op.dtype), mean=op.mean, scale=op.stddev, shape=list(op.shape), seed=_seed(op)
    )


@export_rule(ops.RandomUniformLike)
def _uniform_like(ctx: ExportContext, op: ops.RandomUniformLike, x: str) -> list[str]:
    return ctx.final("RandomUniformLike", [x], low=op.minval, high=op.maxval, seed=_seed(op))


unsupported("ONNX has no truncated normal draw", ops.TruncatedNormal)
