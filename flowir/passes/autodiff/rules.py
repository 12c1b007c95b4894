"""VJP rules: the reverse-mode derivative of each op, in a table keyed by op class.

``VJP_RULES[cls](b, op, cts)`` returns one cotangent (a ``Value``, or ``None`` for no
gradient) per operand of ``op`` (variadic operands flattened), given ``cts``, the cotangents
of its results (``None`` for a result that gets none; single-result ops always get one). The
rule builds its ops with ``b`` (a ``VjpBuilder``) and skips operands whose ``b.needs[i]`` is
false. Rules reuse forward values (``exp``'s gradient multiplies by its result) and build only
catalog ops and the ``grad`` dialect, whose ops have rules too: gradients of gradients work.

``NON_DIFFERENTIABLE`` lists the ops that pass no gradient to their operands, with the
reason (TF's ``NotDifferentiable``). Integer and boolean values never carry a gradient; the
driver does not ask for one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from flowir.ir import ops
from flowir.ir.core import Operation, Value
from flowir.ir.ops.array import strided_slice_spec
from flowir.ir.types import normalize_axis
from flowir.passes.autodiff.builder import VjpBuilder, is_float

__all__ = ["Cotangents", "VjpRule", "VJP_RULES", "NON_DIFFERENTIABLE", "vjp_rule", "non_differentiable"]

Cotangents = tuple[Value | None, ...]
#: ``rule(b, op, cts) -> one cotangent or None per operand``.
VjpRule = Callable[[VjpBuilder, Operation, Cotangents], Sequence[Value | None]]

VJP_RULES: dict[type[Operation], VjpRule] = {}

#: Ops that pass no gradient to their operands, with the reason.
NON_DIFFERENTIABLE: dict[type[Operation], str] = {}


def vjp_rule(*classes: type[Operation]) -> Callable[[VjpRule], VjpRule]:
    """Register the decorated function as the VJP rule of ``classes``."""

    def register(fn: VjpRule) -> VjpRule:
        for cls in classes:
            if cls in VJP_RULES or cls in NON_DIFFERENTIABLE:
                raise TypeError(f"{cls.name} has two VJP rules")
            VJP_RULES[cls] = fn
        return fn

    return register


def non_differentiable(reason: str, *classes: type[Operation]) -> None:
    """Declare ``classes`` as passing no gradient to their operands, because ``reason``."""
    for cls in classes:
        if cls in VJP_RULES or cls in NON_DIFFERENTIABLE:
            raise TypeError(f"{cls.name} has two VJP rules")
        NON_DIFFERENTIABLE[cls] = reason


def _shape(v: Value) -> tuple[int | None, ...] | None:
    return v.type.shape  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# Not differentiable

non_differentiable(
    "a boolean result",
    ops.Equal,
    ops.NotEqual,
    ops.Less,
    ops.LessEqual,
    ops.Greater,
    ops.GreaterEqual,
    ops.LogicalAnd,
    ops.LogicalOr,
    ops.LogicalXor,
    ops.LogicalNot,
    ops.ReduceAny,
    ops.ReduceAll,
)
non_differentiable("an integer result", ops.ArgMax, ops.ArgMin, ops.Shape)
non_differentiable("piecewise constant: no gradient, as in TF", ops.FloorDiv, ops.Floor, ops.Ceil, ops.Round)
non_differentiable("a boolean result", ops.IsNan, ops.IsInf)
non_differentiable(
    "integers only",
    ops.BitwiseAnd,
    ops.BitwiseOr,
    ops.BitwiseXor,
    ops.BitwiseNot,
    ops.LeftShift,
    ops.RightShift,
)
non_differentiable(
    "the result does not depend on the operand's values",
    ops.ZerosLike,
    ops.OnesLike,
)
non_differentiable("integer indices", ops.OneHot)
non_differentiable(
    "no tensor operands: a constant or input",
    ops.Constant,
    ops.Placeholder,
    ops.Zeros,
    ops.Ones,
    ops.Range,
)
non_differentiable("random draws", ops.RandomUniform, ops.RandomNormal, ops.TruncatedNormal)
non_differentiable("blocks gradients by definition", ops.StopGradient)
non_differentiable("a variable handle", ops.Variable)
non_differentiable(
    "reads a variable: differentiate with respect to the read value (as tf.gradients(loss, var) does)",
    ops.Read,
)
non_differentiable(
    "updates state: not differentiable, as in TF", ops.Assign, ops.AssignAdd, ops.AssignSub, ops.ApplyAdam
)
non_differentiable(
    "an optimizer step, the pure form of state.apply_adam: TF registers no gradient for ApplyAdam "
    "(differentiating through a training step is meta-learning, built from the math ops)",
    ops.AdamUpdate,
)
non_differentiable("control tokens only", ops.Group, ops.NoOp)
non_differentiable("the graph terminator", ops.Return)
non_differentiable(
    "a serialized summary (string)",
    ops.Scalar,
    ops.Histogram,
    ops.Image,
    ops.Audio,
    ops.Text,
    ops.Merge,
)


# --------------------------------------------------------------------------------------------
# Elementwise arithmetic


def _others(op: Operation, i: int) -> list:
    """The shapes operand ``i`` of an elementwise op is broadcast against (the operand itself,
    read twice as in ``x * x``, broadcasts nothing)."""
    x = op.operands[i]
    return [_shape(v) for v in op.operands if v is not x]


@vjp_rule(ops.Add)
def _add(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    x, y = op.operands
    return [
        b.sum_to(g, x, _others(op, 0)) if b.needs[0] else None,
        b.sum_to(g, y, _others(op, 1)) if b.needs[1] else None,
    ]


@vjp_rule(ops.Sub)
def _sub(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    x, y = op.operands
    return [
        b.sum_to(g, x, _others(op, 0)) if b.needs[0] else None,
        b(ops.Neg, b.sum_to(g, y, _others(op, 1))) if b.needs[1] else None,
    ]


@vjp_rule(ops.Mul)
def _mul(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    x, y = op.operands
    return [
        b.sum_to(b(ops.Mul, g, y), x, _others(op, 0)) if b.needs[0] else None,
        b.sum_to(b(ops.Mul, g, x), y, _others(op, 1)) if b.needs[1] else None,
    ]


@vjp_rule(ops.Div)
def _div(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    x, y = op.operands
    # d(x/y)/dy = -(x/y)/y: g/y serves both operands, and x/y is the op's own result.
    g_y = b(ops.Div, g, y)
    return [
        b.sum_to(g_y, x, _others(op, 0)) if b.needs[0] else None,
        b.sum_to(b(ops.Neg, b(ops.Mul, g_y, op.result)), y, _others(op, 1)) if b.needs[1] else None,
    ]


@vjp_rule(ops.Mod)
def _mod(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    x, y = op.operands
    # x mod y = x - floor(x / y) * y, the floor being piecewise constant (TF's FloorMod grad).
    return [
        b.sum_to(g, x, _others(op, 0)) if b.needs[0] else None,
        b.sum_to(b(ops.Neg, b(ops.Mul, g, b(ops.FloorDiv, x, y))), y, _others(op, 1)) if b.needs[1] else None,
    ]


@vjp_rule(ops.Pow)
def _pow(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    x, y = op.operands
    z = op.result
    dx = dy = None
    if b.needs[0]:
        dx = b(ops.Mul, g, b(ops.Mul, y, b(ops.Pow, x, b(ops.Sub, y, b.scalar(1, y)))))
        dx = b.sum_to(dx, x, _others(op, 0))
    if b.needs[1]:
        # log(x) where x > 0, else 0: TF's choice, which keeps x <= 0 from giving nan.
        zero = b.scalar(0, x)
        log_x = b(ops.Select, b(ops.Greater, x, zero), b(ops.Log, x), zero)
        dy = b.sum_to(b(ops.Mul, g, b(ops.Mul, z, log_x)), y, _others(op, 1))
    return [dx, dy]


def _extremum_rule(mask_op: type[Operation]) -> VjpRule:
    """Maximum and minimum: the gradient goes to ``x`` where ``mask_op(x, y)`` (ties: to
    ``x``, as TF), else to ``y``."""

    def rule(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
        (g,) = cts
        x, y = op.operands
        mask = b(mask_op, x, y)
        zeros = b.zeros_like(g)
        return [
            b.sum_to(b(ops.Select, mask, g, zeros), x, _others(op, 0)) if b.needs[0] else None,
            b.sum_to(b(ops.Select, mask, zeros, g), y, _others(op, 1)) if b.needs[1] else None,
        ]

    return rule


VJP_RULES[ops.Maximum] = _extremum_rule(ops.GreaterEqual)
VJP_RULES[ops.Minimum] = _extremum_rule(ops.LessEqual)


@vjp_rule(ops.ReluGrad)
def _relu_grad_grad(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    # Linear in the incoming gradient; piecewise constant in relu's value.
    (g,) = cts
    x, y = op.operands
    return [b.sum_to(b(ops.ReluGrad, g, y), x, _others(op, 0)) if b.needs[0] else None, None]


@vjp_rule(ops.Select)
def _select(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    cond, x, y = op.operands
    zeros = b.zeros_like(g)
    return [
        None,
        b.sum_to(b(ops.Select, cond, g, zeros), x, _others(op, 1)) if b.needs[1] else None,
        b.sum_to(b(ops.Select, cond, zeros, g), y, _others(op, 2)) if b.needs[2] else None,
    ]


# --------------------------------------------------------------------------------------------
# Unary elementwise


def _unary(fn: Callable[[VjpBuilder, Value, Value, Value], Value]) -> VjpRule:
    """A rule from ``fn(b, g, x, y) -> dx`` (``y`` the op's result)."""

    def rule(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
        return [fn(b, cts[0], op.operands[0], op.result)]  # type: ignore[arg-type]

    return rule


def _rsqrt(b: VjpBuilder, g: Value, x: Value, y: Value) -> Value:
    # d(x^-1/2)/dx = -y^3 / 2.
    cube = b(ops.Mul, b(ops.Square, y), y)
    return b(ops.Mul, b(ops.Mul, g, cube), b.scalar(-0.5, y))


def _one_minus_square(b: VjpBuilder, x: Value) -> Value:
    return b(ops.Sub, b.scalar(1, x), b(ops.Square, x))


def _erf(b: VjpBuilder, g: Value, x: Value, y: Value) -> Value:
    # d erf(x)/dx = 2/sqrt(pi) * exp(-x^2).
    return b(ops.Mul, g, b(ops.Mul, b.scalar(2 / math.sqrt(math.pi), x), b(ops.Exp, b(ops.Neg, b(ops.Square, x)))))


UNARY_DERIVATIVES: dict[type[Operation], Callable[[VjpBuilder, Value, Value, Value], Value]] = {
    ops.Identity: lambda b, g, x, y: g,
    ops.Neg: lambda b, g, x, y: b(ops.Neg, g),
    ops.Abs: lambda b, g, x, y: b(ops.Mul, g, b(ops.Sign, x)),
    # TF gives zeros (not None) for sign.
    ops.Sign: lambda b, g, x, y: b.zeros_like(x),
    ops.Exp: lambda b, g, x, y: b(ops.Mul, g, y),
    ops.Log: lambda b, g, x, y: b(ops.Div, g, x),
    ops.Sqrt: lambda b, g, x, y: b(ops.Mul, b(ops.Div, g, y), b.scalar(0.5, y)),
    ops.Rsqrt: _rsqrt,
    ops.Square: lambda b, g, x, y: b(ops.Mul, b(ops.Mul, g, x), b.scalar(2, x)),
    ops.Tanh: lambda b, g, x, y: b(ops.Mul, g, b(ops.Sub, b.scalar(1, y), b(ops.Square, y))),
    ops.Sigmoid: lambda b, g, x, y: b(ops.Mul, g, b(ops.Mul, y, b(ops.Sub, b.scalar(1, y), y))),
    ops.Sin: lambda b, g, x, y: b(ops.Mul, g, b(ops.Cos, x)),
    ops.Cos: lambda b, g, x, y: b(ops.Neg, b(ops.Mul, g, b(ops.Sin, x))),
    ops.Softplus: lambda b, g, x, y: b(ops.Mul, g, b(ops.Sigmoid, x)),
    ops.Relu: lambda b, g, x, y: b(ops.ReluGrad, g, y),
    ops.Tan: lambda b, g, x, y: b(ops.Mul, g, b(ops.Add, b.scalar(1, y), b(ops.Square, y))),
    ops.Asin: lambda b, g, x, y: b(ops.Mul, g, b(ops.Rsqrt, _one_minus_square(b, x))),
    ops.Acos: lambda b, g, x, y: b(ops.Neg, b(ops.Mul, g, b(ops.Rsqrt, _one_minus_square(b, x)))),
    ops.Atan: lambda b, g, x, y: b(ops.Div, g, b(ops.Add, b.scalar(1, x), b(ops.Square, x))),
    ops.Sinh: lambda b, g, x, y: b(ops.Mul, g, b(ops.Cosh, x)),
    ops.Cosh: lambda b, g, x, y: b(ops.Mul, g, b(ops.Sinh, x)),
    ops.Asinh: lambda b, g, x, y: b(ops.Mul, g, b(ops.Rsqrt, b(ops.Add, b(ops.Square, x), b.scalar(1, x)))),
    ops.Acosh: lambda b, g, x, y: b(ops.Mul, g, b(ops.Rsqrt, b(ops.Sub, b(ops.Square, x), b.scalar(1, x)))),
    ops.Atanh: lambda b, g, x, y: b(ops.Div, g, _one_minus_square(b, x)),
    ops.Erf: _erf,
    ops.Reciprocal: lambda b, g, x, y: b(ops.Neg, b(ops.Mul, g, b(ops.Square, y))),
}

for _cls, _fn in UNARY_DERIVATIVES.items():
    VJP_RULES[_cls] = _unary(_fn)


@vjp_rule(ops.Cast)
def _cast(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    # Only float-to-float casts carry a gradient; the driver asks for nothing else.
    (g,) = cts
    (x,) = op.operands
    if not is_float(x):
        return [None]
    dt = x.type.dtype  # type: ignore[attr-defined]
    return [g if g.type.dtype is dt else b(ops.Cast, g, dtype=dt)]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# Matmul


@vjp_rule(ops.MatMul)
def _matmul(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    a, w = op.operands
    ta, tb = op.transpose_a, op.transpose_b  # type: ignore[attr-defined]
    da = dw = None
    # The gradient of each operand in its stored layout, with one matmul (TF's table).
    if b.needs[0]:
        if ta:
            da = b(ops.MatMul, w, g, transpose_a=tb, transpose_b=True)
        else:
            da = b(ops.MatMul, g, w, transpose_b=not tb)
        da = b.sum_to(da, a, [b.matrix_batch(w)])
    if b.needs[1]:
        if tb:
            dw = b(ops.MatMul, g, a, transpose_a=True, transpose_b=ta)
        else:
            dw = b(ops.MatMul, a, g, transpose_a=not ta)
        dw = b.sum_to(dw, w, [b.matrix_batch(a)])
    return [da, dw]


# --------------------------------------------------------------------------------------------
# Reductions


@vjp_rule(ops.ReduceSum, ops.ReduceMean)
def _reduce_sum(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    return [
        b(
            ops.Unreduce,
            g,
            op.operands[0],
            axes=op.axes,  # type: ignore[attr-defined]
            keepdims=op.keepdims,  # type: ignore[attr-defined]
            mean=type(op) is ops.ReduceMean,
        )
    ]


def _spread(b: VjpBuilder, op: Operation, v: Value) -> Value:
    """``v`` (of the reduction's result shape) broadcast back over the reduced dims."""
    if op.keepdims:  # type: ignore[attr-defined]
        return v
    return b(ops.Unreduce, v, op.operands[0], axes=op.axes, keepdims=False)  # type: ignore[attr-defined]


@vjp_rule(ops.ReduceMax, ops.ReduceMin)
def _reduce_extremum(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    # Split evenly among the elements equal to the extremum, as TF.
    (g,) = cts
    (x,) = op.operands
    hits = b(ops.Cast, b(ops.Equal, x, _spread(b, op, op.result)), dtype=x.type.dtype)  # type: ignore[attr-defined]
    count = b(ops.ReduceSum, hits, axes=op.axes, keepdims=True)  # type: ignore[attr-defined]
    return [b(ops.Mul, b(ops.Div, hits, count), _spread(b, op, g))]


@vjp_rule(ops.ReduceProd)
def _reduce_prod(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    # d(prod)/dx_i is the product of the other elements. It is taken over the non-zero
    # elements (zeros replaced by 1) divided by x_i's stand-in, and is 0 wherever another
    # element of the group is 0, so zeros give exact results rather than 0/0.
    (g,) = cts
    (x,) = op.operands
    axes = op.axes  # type: ignore[attr-defined]
    zero, one = b.scalar(0, x), b.scalar(1, x)
    is_zero = b(ops.Equal, x, zero)
    stand_in = b(ops.Select, is_zero, one, x)
    product = b(ops.ReduceProd, stand_in, axes=axes, keepdims=True)
    zeros_here = b(ops.Cast, is_zero, dtype=x.type.dtype)  # type: ignore[attr-defined]
    zeros_elsewhere = b(ops.Sub, b(ops.ReduceSum, zeros_here, axes=axes, keepdims=True), zeros_here)
    others = b(ops.Div, product, stand_in)
    keep = b(ops.Equal, zeros_elsewhere, zero)
    return [b(ops.Select, keep, b(ops.Mul, others, _spread(b, op, g)), zero)]


@vjp_rule(ops.CumSum)
def _cumsum(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    # Each input adds into the sums on its side: the transpose sums from the other end.
    (g,) = cts
    return [b(ops.CumSum, g, axis=op.axis, exclusive=op.exclusive, reverse=not op.reverse)]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# nn


@vjp_rule(ops.Softmax)
def _softmax(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    y = op.result
    inner = b(ops.ReduceSum, b(ops.Mul, g, y), axes=[op.axis], keepdims=True)  # type: ignore[attr-defined]
    return [b(ops.Mul, y, b(ops.Sub, g, inner))]


@vjp_rule(ops.LogSoftmax)
def _log_softmax(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    total = b(ops.ReduceSum, g, axes=[op.axis], keepdims=True)  # type: ignore[attr-defined]
    return [b(ops.Sub, g, b(ops.Mul, b(ops.Exp, op.result), total))]


# --------------------------------------------------------------------------------------------
# Array ops


@vjp_rule(ops.Reshape, ops.Squeeze, ops.ReshapeLike)
def _reshape(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    return [b.reshape_to(cts[0], op.operands[0])] + [None] * (len(op.operands) - 1)  # type: ignore[arg-type]


@vjp_rule(ops.ExpandDims)
def _expand_dims(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    # Negative axes count from the end of the result, which is g: squeeze takes them as is.
    return [b(ops.Squeeze, cts[0], axes=[op.axis])]  # type: ignore[attr-defined]


@vjp_rule(ops.Transpose)
def _transpose(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    perm = op.perm  # type: ignore[attr-defined]
    if perm is None:
        return [b(ops.Transpose, cts[0])]
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p] = i
    return [b(ops.Transpose, cts[0], perm=inverse)]


def _piece_sizes(values: Sequence[Value], axis: int) -> list[int | None] | None:
    """The sizes of ``values`` along ``axis``, ``None`` if a rank is unknown."""
    sizes = []
    for v in values:
        s = _shape(v)
        if s is None:
            return None
        sizes.append(s[normalize_axis(axis, len(s))])
    return sizes


@vjp_rule(ops.Concat)
def _concat(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    values = op.operands
    if len(values) == 1:
        return [g]
    axis = op.axis  # type: ignore[attr-defined]
    sizes = _piece_sizes(values, axis)
    if sizes is not None and sizes.count(None) <= 1:
        pieces = b.emit(ops.Split, g, axis=axis, sizes=[-1 if n is None else n for n in sizes]).results
    else:
        pieces = b.emit(ops.SplitLike, g, list(values), axis=axis).results
    return [p if need else None for p, need in zip(pieces, b.needs)]


@vjp_rule(ops.SplitLike)
def _split_like(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    return [_join(b, op, cts)] + [None] * (len(op.operands) - 1)


@vjp_rule(ops.Split)
def _split(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    return [_join(b, op, cts)]


def _join(b: VjpBuilder, op: Operation, cts: Cotangents) -> Value:
    """The pieces' cotangents (zeros for those without) concatenated along the op's axis."""
    parts = [ct if ct is not None else b.zeros_like(r) for ct, r in zip(cts, op.results)]
    if len(parts) == 1:
        return parts[0]
    return b(ops.Concat, parts, axis=op.axis)  # type: ignore[attr-defined]


@vjp_rule(ops.Stack)
def _stack(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    (g,) = cts
    axis = op.axis  # type: ignore[attr-defined]
    out: list[Value | None] = []
    for i, need in enumerate(b.needs):
        if not need:
            out.append(None)
            continue
        # Index i along axis, counted from the front or (negative axis, any rank) the back.
        index = (slice(None),) * axis + (i,) if axis >= 0 else (Ellipsis, i) + (slice(None),) * (-axis - 1)
        out.append(b(ops.StridedSlice, g, **strided_slice_spec(index)))
    return out


@vjp_rule(ops.Slice)
def _slice(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    begin, size = op.begin, op.size  # type: ignore[attr-defined]
    end_mask = sum(1 << i for i, n in enumerate(size) if n == -1)
    end = [0 if n == -1 else s + n for s, n in zip(begin, size)]
    spec = {"begin": begin, "end": end, "strides": [1] * len(begin), "end_mask": end_mask}
    return [b(ops.StridedSliceGrad, cts[0], op.operands[0], **spec)]


_SLICE_ATTRS = ("begin", "end", "strides", "begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")


@vjp_rule(ops.StridedSlice)
def _strided_slice(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    spec = {k: getattr(op, k) for k in _SLICE_ATTRS}
    return [b(ops.StridedSliceGrad, cts[0], op.operands[0], **spec)]


@vjp_rule(ops.StridedSliceGrad)
def _strided_slice_grad(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    spec = {k: getattr(op, k) for k in _SLICE_ATTRS}
    return [b(ops.StridedSlice, cts[0], **spec), None]


@vjp_rule(ops.Gather)
def _gather(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    params, indices = op.operands
    return [b(ops.GatherGrad, cts[0], indices, params, axis=op.axis), None]  # type: ignore[attr-defined]


@vjp_rule(ops.GatherGrad)
def _gather_grad(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    _, indices, _ = op.operands
    return [b(ops.Gather, cts[0], indices, axis=op.axis), None, None]  # type: ignore[attr-defined]


@vjp_rule(ops.Tile)
def _tile(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    return [b(ops.Untile, cts[0], op.operands[0], multiples=op.multiples)]  # type: ignore[attr-defined]


@vjp_rule(ops.Untile)
def _untile(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    return [b(ops.Tile, cts[0], multiples=op.multiples), None]  # type: ignore[attr-defined]


@vjp_rule(ops.Pad)
def _pad(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    return [b(ops.PadGrad, cts[0], paddings=op.paddings, mode=op.mode)]  # type: ignore[attr-defined]


@vjp_rule(ops.PadGrad)
def _pad_grad(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    return [b(ops.Pad, cts[0], paddings=op.paddings, mode=op.mode)]  # type: ignore[attr-defined]


@vjp_rule(ops.Fill)
def _fill(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    return [b(ops.ReduceSum, cts[0])]


# --------------------------------------------------------------------------------------------
# The grad dialect's broadcasting ops


@vjp_rule(ops.SumTo)
def _sum_to(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    return [b(ops.BroadcastLike, cts[0], op.operands[0]), None]


@vjp_rule(ops.BroadcastLike)
def _broadcast_like(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    x, like = op.operands
    return [b.sum_to(cts[0], x, [_shape(like)]), None]  # type: ignore[arg-type]


@vjp_rule(ops.Unreduce)
def _unreduce(b: VjpBuilder, op: Operation, cts: Cotangents) -> list[Value | None]:
    reduce = ops.ReduceMean if op.mean else ops.ReduceSum  # type: ignore[attr-defined]
    return [b(reduce, cts[0], axes=op.axes, keepdims=op.keepdims), None]  # type: ignore[attr-defined]
