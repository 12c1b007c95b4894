"""Converters of ONNX constants and random-number ops."""

from __future__ import annotations

import numpy as np

from flowir.frontends.onnx._context import NodeContext, dtype_from_onnx
from flowir.frontends.onnx._registry import converter_rule
from flowir.ir.core import Value
from flowir.ir.dtypes import DType
from flowir.ir.ops import random as r

#: Constant's value attributes and how each becomes an array.
_CONSTANT_ATTRS = {
    "value": lambda v: v,
    "value_float": lambda v: np.array(v, np.float32),
    "value_floats": lambda v: np.array(v, np.float32).reshape(-1),
    "value_int": lambda v: np.array(v, np.int64),
    "value_ints": lambda v: np.array(v, np.int64).reshape(-1),
    "value_string": lambda v: np.array(v.encode() if isinstance(v, str) else v, dtype=object),
    "value_strings": lambda v: np.array([s.encode() if isinstance(s, str) else s for s in v], dtype=object).reshape(-1),
}


@converter_rule("Constant")
def _constant(ctx: NodeContext) -> list[Value]:
    if ctx.has_attr("sparse_value"):
        raise ctx.unsupported("sparse constants are not supported")
    given = [key for key in _CONSTANT_ATTRS if ctx.has_attr(key)]
    if len(given) != 1:
        raise ctx.error(f"exactly one value attribute must be set, got {given or 'none'}")
    return [ctx.constant(_CONSTANT_ATTRS[given[0]](ctx.attr(given[0])), "value")]


def _dtype(ctx: NodeContext, default: DType) -> DType:
    code = ctx.attr("dtype", None)
    return default if code is None else dtype_from_onnx(code, f"{ctx.describe()}: attribute 'dtype'")


def _seed(ctx: NodeContext) -> int:
    # ONNX seeds are floats; flowir's are ints (0 means "unseeded" in both).
    return int(ctx.attr("seed", 0.0))


@converter_rule("RandomNormal")
def _random_normal(ctx: NodeContext) -> list[Value]:
    return [
        ctx.emit(
            r.RandomNormal,
            shape=list(ctx.attr("shape")),
            dtype=_dtype(ctx, DType.float32),
            mean=ctx.attr("mean", 0.0),
            stddev=ctx.attr("scale", 1.0),
            seed=_seed(ctx),
        )
    ]


@converter_rule("RandomUniform")
def _random_uniform(ctx: NodeContext) -> list[Value]:
    return [
        ctx.emit(
            r.RandomUniform,
            shape=list(ctx.attr("shape")),
            dtype=_dtype(ctx, DType.float32),
            minval=ctx.attr("low", 0.0),
            maxval=ctx.attr("high", 1.0),
            seed=_seed(ctx),
        )
    ]


@converter_rule("RandomNormalLike")
def _random_normal_like(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    return [
        ctx.emit(
            r.RandomNormal,
            shape=list(ctx.static_shape(x)),
            dtype=_dtype(ctx, ctx.ty(x).dtype),
            mean=ctx.attr("mean", 0.0),
            stddev=ctx.attr("scale", 1.0),
            seed=_seed(ctx),
        )
    ]


@converter_rule("RandomUniformLike")
def _random_uniform_like(ctx: NodeContext) -> list[Value]:
    x = ctx.input(0)
    dt = _dtype(ctx, ctx.ty(x).dtype)
    low, high = ctx.attr("low", 0.0), ctx.attr("high", 1.0)
    if dt is ctx.ty(x).dtype:
        return [ctx.emit(r.RandomUniformLike, x, minval=low, maxval=high, seed=_seed(ctx))]
    return [ctx.emit(r.RandomUniform, shape=list(ctx.static_shape(x)), dtype=dt, minval=low, maxval=high, seed=_seed(ctx))]


@converter_rule("If")
def _if(ctx: NodeContext) -> list[Value]:
    # flowir graphs have no control flow: an If whose condition is known when importing (an
    # attribute-derived flag in a function body, a specialized input) imports its taken branch.
    cond = ctx.const_input(0, "cond")
    assert cond is not None
    taken = "then_branch" if bool(np.asarray(cond).reshape(-1)[0]) else "else_branch"
    branch = next((attr.g for attr in ctx.node.attribute if attr.name == taken), None)
    if branch is None:
        raise ctx.error(f"missing required attribute {taken!r}")
    return ctx.importer.inline_graph(branch, ctx)
