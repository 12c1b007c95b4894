"""Export of the math dialect.

Most ops have an ONNX twin. The others are written with a few nodes, keeping flowir's
semantics (TF's): floor division and floor modulo of floats (ONNX ``Mod`` of floats is C's
``fmod``), ``not_equal``, ``rsqrt``, ``square``, the bool reductions, ``argmax`` to int32.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flowir.backends.onnx.exporter import PRIMARY_OPS, ExportContext, export_rule, onnx_dtype
from flowir.ir import ops
from flowir.ir.core import Operation
from flowir.ir.dtypes import DType
from flowir.ir.errors import UnsupportedOpError

__all__ = ["SAME_OP"]

#: Ops that are one ONNX node of the same operands: the ONNX op type.
SAME_OP: dict[type[Operation], str] = {
    ops.Add: "Add",
    ops.Sub: "Sub",
    ops.Mul: "Mul",
    ops.Div: "Div",
    ops.Pow: "Pow",
    ops.Maximum: "Max",
    ops.Minimum: "Min",
    ops.Neg: "Neg",
    ops.Abs: "Abs",
    ops.Sign: "Sign",
    ops.Exp: "Exp",
    ops.Log: "Log",
    ops.Sqrt: "Sqrt",
    ops.Tanh: "Tanh",
    ops.Sigmoid: "Sigmoid",
    ops.Sin: "Sin",
    ops.Cos: "Cos",
    ops.Equal: "Equal",
    ops.Less: "Less",
    ops.LessEqual: "LessOrEqual",
    ops.Greater: "Greater",
    ops.GreaterEqual: "GreaterOrEqual",
    ops.LogicalAnd: "And",
    ops.LogicalOr: "Or",
    ops.LogicalXor: "Xor",
    ops.LogicalNot: "Not",
    ops.Select: "Where",
    ops.Tan: "Tan",
    ops.Asin: "Asin",
    ops.Acos: "Acos",
    ops.Atan: "Atan",
    ops.Sinh: "Sinh",
    ops.Cosh: "Cosh",
    ops.Asinh: "Asinh",
    ops.Acosh: "Acosh",
    ops.Atanh: "Atanh",
    ops.Erf: "Erf",
    ops.Floor: "Floor",
    ops.Ceil: "Ceil",
    ops.Round: "Round",
    ops.Reciprocal: "Reciprocal",
    ops.IsNan: "IsNaN",
    ops.IsInf: "IsInf",
}


@export_rule(*SAME_OP)
def _same(ctx: ExportContext, op: Operation, *args: str) -> list[str]:
    return ctx.final(SAME_OP[type(op)], args)


def _dtype(ctx: ExportContext, op: Operation, i: int = 0) -> DType:
    return ctx.dtype(op.operands[i])


@export_rule(ops.NotEqual)
def _not_equal(ctx: ExportContext, op: Operation, x: str, y: str) -> list[str]:
    return ctx.final("Not", [ctx.one("Equal", [x, y])])


@export_rule(ops.Rsqrt)
def _rsqrt(ctx: ExportContext, op: Operation, x: str) -> list[str]:
    return ctx.final("Reciprocal", [ctx.one("Sqrt", [x])])


@export_rule(ops.Square)
def _square(ctx: ExportContext, op: Operation, x: str) -> list[str]:
    return ctx.final("Mul", [x, x])


@export_rule(ops.FloorDiv)
def _floordiv(ctx: ExportContext, op: Operation, x: str, y: str) -> list[str]:
    if _dtype(ctx, op).is_floating:
        # TF floors the quotient rounded to the operand dtype, which Div then Floor does.
        return ctx.final("Floor", [ctx.one("Div", [x, y])])
    # x - mod(x, y) is a multiple of y, so the truncating integer Div is exact on it.
    mod = ctx.one("Mod", [x, y], fmod=0)
    return ctx.final("Div", [ctx.one("Sub", [x, mod]), y])


@export_rule(ops.Mod)
def _mod(ctx: ExportContext, op: Operation, x: str, y: str) -> list[str]:
    if not _dtype(ctx, op).is_floating:
        return ctx.final("Mod", [x, y], fmod=0)
    # fmod takes the dividend's sign; a nonzero remainder whose sign differs from the
    # divisor's moves by one divisor to the floor modulo.
    r = ctx.one("Mod", [x, y], fmod=1)
    zero = ctx.scalar(0, _dtype(ctx, op))
    differs = ctx.one("Xor", [ctx.one("Less", [r, zero]), ctx.one("Less", [y, zero])])
    fix = ctx.one("And", [differs, ctx.one("Not", [ctx.one("Equal", [r, zero])])])
    return ctx.final("Where", [fix, ctx.one("Add", [r, y]), r])


@export_rule(ops.Cast)
def _cast(ctx: ExportContext, op: ops.Cast, x: str) -> list[str]:
    return ctx.final("Cast", [x], to=onnx_dtype(op.dtype))


@export_rule(ops.MatMul)
def _matmul(ctx: ExportContext, op: ops.MatMul, a: str, b: str) -> list[str]:
    args = []
    for name, v, flag in ((a, op.a, op.transpose_a), (b, op.b, op.transpose_b)):
        if flag:
            rank = v.type.rank  # type: ignore[attr-defined]
            if rank is None:
                raise UnsupportedOpError("a transposed operand of unknown rank does not export (Transpose needs a perm)")
            perm = [*range(rank - 2), rank - 1, rank - 2]
            name = ctx.one("Transpose", [name], perm=perm)
        args.append(name)
    return ctx.final("MatMul", args)


REDUCTIONS: dict[type[Operation], str] = {
    ops.ReduceSum: "ReduceSum",
    ops.ReduceMean: "ReduceMean",
    ops.ReduceMax: "ReduceMax",
    ops.ReduceMin: "ReduceMin",
    ops.ReduceProd: "ReduceProd",
}


def _axes(op: Operation) -> tuple[int, ...] | None:
    axes = op.axes  # type: ignore[attr-defined]
    return None if axes is None else tuple(axes)


@export_rule(*REDUCTIONS)
def _reduce(ctx: ExportContext, op: Operation, x: str) -> list[str]:
    axes = _axes(op)
    if axes == ():
        return ctx.final("Identity", [x])
    if type(op) is ops.ReduceMean and _dtype(ctx, op).is_floating and not _nonempty(op.operands[0].type, axes):
        return _mean_as_sum(ctx, op, x, axes)
    return [ctx.reduce(REDUCTIONS[type(op)], x, axes, op.keepdims, ctx.outs[:1])]  # type: ignore[attr-defined]


def _nonempty(ty: Any, axes: tuple[int, ...] | None) -> bool:
    """Whether the reduced dims of ``ty`` are static and nonzero."""
    shape = getattr(ty, "shape", None)
    if shape is None:
        return False
    dims = shape if axes is None else [shape[a] for a in axes]
    return all(d is not None and d > 0 for d in dims)


def _mean_as_sum(ctx: ExportContext, op: Operation, x: str, axes: tuple[int, ...] | None) -> list[str]:
    """``ReduceSum / count``: onnxruntime's ReduceMean of an empty set is 0, flowir's (numpy's,
    TF's) is NaN; ``0 / 0`` keeps NaN. ``count`` is the product of the reduced dims, read
    from ``Shape`` at run time."""
    dtype = _dtype(ctx, op)
    total = ctx.reduce("ReduceSum", x, axes, op.keepdims)  # type: ignore[attr-defined]
    shape = ctx.shape_of(x)
    reduced = shape if axes is None else ctx.one("Gather", [shape, ctx.ints(axes, "axes")], axis=0)
    count = ctx.cast(ctx.reduce("ReduceProd", reduced, None, False), dtype)
    return ctx.final("Div", [total, count])


@export_rule(ops.ReduceAny, ops.ReduceAll)
def _reduce_bool(ctx: ExportContext, op: Operation, x: str) -> list[str]:
    axes = _axes(op)
    if axes == ():
        return ctx.final("Identity", [x])
    # any: a sum of 0/1 is nonzero (an empty sum is 0: False); all: a min of 0/1 is nonzero
    # (an empty min is the dtype's largest value: True).
    kind = "ReduceSum" if type(op) is ops.ReduceAny else "ReduceMin"
    as_int = ctx.cast(x, DType.int32)
    return ctx.final("Cast", [ctx.reduce(kind, as_int, axes, op.keepdims)], to=onnx_dtype(DType.bool))  # type: ignore[attr-defined]


@export_rule(ops.ArgMax, ops.ArgMin)
def _arg(ctx: ExportContext, op: ops.math.ArgReduction, x: str) -> list[str]:
    kind = "ArgMax" if type(op) is ops.ArgMax else "ArgMin"
    if op.output_type is DType.int64:
        return ctx.final(kind, [x], axis=op.axis, keepdims=0)
    return ctx.final("Cast", [ctx.one(kind, [x], axis=op.axis, keepdims=0)], to=onnx_dtype(op.output_type))


@export_rule(ops.CumSum)
def _cumsum(ctx: ExportContext, op: Operation, x: str) -> list[str]:
    axis = ctx.const(np.int64(op.axis), "axis")  # type: ignore[attr-defined]
    return ctx.final("CumSum", [x, axis], exclusive=int(op.exclusive), reverse=int(op.reverse))  # type: ignore[attr-defined]


PRIMARY_OPS.update({cls: kind for cls, kind in SAME_OP.items() if cls is not ops.Select})
PRIMARY_OPS.update(REDUCTIONS)
PRIMARY_OPS.update(
    {
        ops.NotEqual: "Equal",
        ops.Rsqrt: "Sqrt",
        ops.Square: "Mul",
        ops.FloorDiv: "Div",
        ops.Mod: "Mod",
        ops.MatMul: "MatMul",
        ops.ArgMax: "ArgMax",
        ops.ArgMin: "ArgMin",
        ops.CumSum: "CumSum",
    }
)


@export_rule(ops.TopK)
def _top_k(ctx: ExportContext, op: Operation, x: str) -> list[str]:
    k = ctx.ints([op.k], "k")  # type: ignore[attr-defined]
    attrs = {"axis": op.axis, "largest": int(op.largest), "sorted": int(op.sorted)}  # type: ignore[attr-defined]
    if op.index_dtype is DType.int64:  # type: ignore[attr-defined]
        return ctx.node("TopK", [x, k], ctx.outs, **attrs)
    values, indices = ctx.node("TopK", [x, k], [ctx.outs[0], ctx.fresh("indices")], **attrs)
    return [values, ctx.node("Cast", [indices], ctx.outs[1:], to=onnx_dtype(op.index_dtype))[0]]  # type: ignore[attr-defined]


PRIMARY_OPS[ops.TopK] = "TopK"


BITWISE: dict[type[Operation], str] = {
    ops.BitwiseAnd: "BitwiseAnd",
    ops.BitwiseOr: "BitwiseOr",
    ops.BitwiseXor: "BitwiseXor",
    ops.BitwiseNot: "BitwiseNot",
}


def _need_bitwise(ctx: ExportContext) -> None:
    if ctx.opset < 18:
        raise UnsupportedOpError(f"bitwise ops need opset 18 or newer (exporting opset {ctx.opset})")


@export_rule(*BITWISE)
def _bitwise(ctx: ExportContext, op: Operation, *args: str) -> list[str]:
    _need_bitwise(ctx)
    return ctx.final(BITWISE[type(op)], args)


#: The unsigned type of each integer's width: ONNX shifts unsigned integers only.
_UNSIGNED = {
    DType.int8: onnx_dtype(DType.uint8),
    DType.uint8: onnx_dtype(DType.uint8),
    DType.int16: 4,  # TensorProto.UINT16
    DType.int32: 12,  # TensorProto.UINT32
    DType.int64: 13,  # TensorProto.UINT64
}


@export_rule(ops.LeftShift, ops.RightShift)
def _shift(ctx: ExportContext, op: Operation, x: str, y: str) -> list[str]:
    # Shift the two's complement bits as an unsigned integer of the same width; an arithmetic
    # right shift of a negative value then fills the vacated high bits with ones.
    _need_bitwise(ctx)
    dtype = _dtype(ctx, op)
    width = 8 * dtype.itemsize
    unsigned = _UNSIGNED[dtype]
    amount = ctx.one("Clip", [y, ctx.scalar(0, _dtype(ctx, op, 1)), ctx.scalar(width - 1, _dtype(ctx, op, 1))])
    amount = ctx.one("Cast", [amount], to=unsigned)
    bits = ctx.one("Cast", [x], to=unsigned)
    if type(op) is ops.LeftShift:
        return ctx.final("Cast", [ctx.one("BitShift", [bits, amount], direction="LEFT")], to=onnx_dtype(dtype))
    shifted = ctx.one("BitShift", [bits, amount], direction="RIGHT")
    if not dtype.is_signed:
        return ctx.final("Cast", [shifted], to=onnx_dtype(dtype))
    ones = ctx.one("Cast", [ctx.scalar(-1, dtype, "all_ones")], to=unsigned)
    fill = ctx.one("BitwiseNot", [ctx.one("BitShift", [ones, amount], direction="RIGHT")])
    # All ones where x is negative (-1 in two's complement), zeros elsewhere.
    negative = ctx.one("Cast", [ctx.one("Less", [x, ctx.scalar(0, dtype, "zero")])], to=onnx_dtype(dtype))
    sign = ctx.one("Cast", [ctx.one("Neg", [negative])], to=unsigned)
    filled = ctx.one("BitwiseOr", [shifted, ctx.one("BitwiseAnd", [fill, sign])])
    return ctx.final("Cast", [filled], to=onnx_dtype(dtype))
