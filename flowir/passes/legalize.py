"""legalize: decompose the ops a target lacks into ops it has.

``LEGALIZE_RULES[target]`` maps an op class to a rewrite ``rule(op, build) -> values``
returning the values that replace the op's results, built from catalog ops with ``build``
(which inserts them before the op, with its location, control dependencies and a user name
under its own: ``loss/xent`` becomes ``loss/xent/LogSoftmax``). Rules may return operands
(an op that is the identity for the target) and may build ops that have rules themselves:
the pass rewrites until none is left.

A backend that knows which ops it can take passes ``legal``: every op left that it rejects
is then reported, all at once, by an ``UnsupportedOpError`` naming the op and where it was
created, before the backend writes anything.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from flowir.ir.core import Graph, Operation, Value
from flowir.ir.errors import PassError, UnsupportedOpError
from flowir.ir.ops import array as array_ops
from flowir.ir.ops import core as core_ops
from flowir.ir.ops import grad as grad_ops
from flowir.ir.ops import math as math_ops
from flowir.ir.ops import nn as nn_ops
from flowir.passes.manager import Pass, PassOption, PassResult

__all__ = ["LegalizePass", "LEGALIZE_RULES", "legalize", "legalize_rule", "Builder"]


class Builder:
    """Builds replacement ops right before ``anchor``, carrying its location, device and
    control dependencies; ``build(Cls, *operands, suffix="Mul", **attrs)`` returns the new op,
    named ``<anchor's name>/<suffix>``."""

    def __init__(self, anchor: Operation) -> None:
        self.anchor = anchor
        self.created: list[Operation] = []

    def __call__(self, cls: type[Operation], *operands: Any, suffix: str, **attrs: Any) -> Operation:
        a = self.anchor
        base = a.user_name
        op = cls.create(
            *operands,
            name=f"{base}/{suffix}" if base else None,
            loc=a.location,
            control_deps=list(a.control_deps),
            device=a.device,
            **attrs,
        )
        a.graph.insert_before(a, op)  # type: ignore[union-attr]
        self.created.append(op)
        return op

    def value(self, cls: type[Operation], *operands: Any, suffix: str, **attrs: Any) -> Value:
        """The single result of ``self(cls, ...)``."""
        return self(cls, *operands, suffix=suffix, **attrs).result

    def scalar(self, value: float, like: Value, suffix: str) -> Value:
        """A rank-0 constant of ``like``'s dtype."""
        dtype = like.type.dtype.numpy  # type: ignore[attr-defined]
        return self.value(core_ops.Constant, suffix=suffix, value=np.asarray(value, dtype=dtype))


#: ``rule(op, build) -> replacement values`` (one per result of ``op``; ``None`` for a result
#: nobody uses, which the rule may skip building).
LegalizeRule = Callable[[Operation, Builder], Sequence[Value | None]]

#: The rewrites of each target, keyed by target name then op class.
LEGALIZE_RULES: dict[str, dict[type[Operation], LegalizeRule]] = {"onnx": {}}


def legalize_rule(target: str, *classes: type[Operation]) -> Callable[[LegalizeRule], LegalizeRule]:
    """Register the decorated function as ``target``'s rewrite of ``classes``."""

    def register(fn: LegalizeRule) -> LegalizeRule:
        table = LEGALIZE_RULES.setdefault(target, {})
        for cls in classes:
            if cls in table:
                raise TypeError(f"{cls.name} has two {target} legalizations")
            table[cls] = fn
        return fn

    return register


# --------------------------------------------------------------------------------------------
# onnx: ops without an ONNX counterpart, written with catalog ops that have one


def _dense_xent(op: Operation, build: Builder, logits: Value, labels: Value, axis: int) -> list[Value | None]:
    """``-sum(labels * log_softmax(logits))`` along ``axis`` and, when used, its gradient
    ``softmax(logits) * sum(labels) - labels``."""
    lsm = build.value(nn_ops.LogSoftmax, logits, suffix="LogSoftmax", axis=axis)
    prod = build.value(math_ops.Mul, labels, lsm, suffix="Mul")
    total = build.value(math_ops.ReduceSum, prod, suffix="Sum", axes=[axis])
    loss = build.value(math_ops.Neg, total, suffix="Neg")
    backprop: Value | None = None
    if op.results[1].has_uses:
        sm = build.value(nn_ops.Softmax, logits, suffix="Softmax", axis=axis)
        mass = build.value(math_ops.ReduceSum, labels, suffix="LabelSum", axes=[axis], keepdims=True)
        scaled = build.value(math_ops.Mul, sm, mass, suffix="Scaled")
        backprop = build.value(math_ops.Sub, scaled, labels, suffix="Backprop")
    return [loss, backprop]


@legalize_rule("onnx", nn_ops.SoftmaxCrossEntropyWithLogits)
def _softmax_xent(op: Operation, build: Builder) -> list[Value | None]:
    logits, labels = op.operands
    return _dense_xent(op, build, logits, labels, op.axis)  # type: ignore[attr-defined]


@legalize_rule("onnx", nn_ops.SparseSoftmaxCrossEntropyWithLogits)
def _sparse_softmax_xent(op: Operation, build: Builder) -> list[Value | None]:
    logits, labels = op.operands
    shape = logits.type.shape  # type: ignore[attr-defined]
    dtype = logits.type.dtype  # type: ignore[attr-defined]
    classes = None if shape is None else shape[-1]
    if classes is not None:
        one_hot = build.value(array_ops.OneHot, labels, suffix="OneHot", depth=classes, dtype=dtype)
    else:
        # The class count is known at run time only: number the classes by a running sum of
        # ones along the class dim and compare each with the label.
        ones = build.value(array_ops.OnesLike, logits, suffix="Ones")
        count = build.value(math_ops.CumSum, ones, suffix="Count", axis=-1)
        positions = build.value(math_ops.Sub, count, build.scalar(1, logits, "One"), suffix="Positions")
        label = build.value(math_ops.Cast, build.value(array_ops.ExpandDims, labels, suffix="Label", axis=-1), suffix="LabelCast", dtype=dtype)
        hit = build.value(math_ops.Equal, positions, label, suffix="Hit")
        one_hot = build.value(math_ops.Cast, hit, suffix="OneHot", dtype=dtype)
    return _dense_xent(op, build, logits, one_hot, -1)


@legalize_rule("onnx", nn_ops.SigmoidCrossEntropyWithLogits)
def _sigmoid_xent(op: Operation, build: Builder) -> list[Value]:
    x, z = op.operands
    relu = build.value(nn_ops.Relu, x, suffix="Relu")
    xz = build.value(math_ops.Mul, x, z, suffix="Mul")
    neg_abs = build.value(math_ops.Neg, build.value(math_ops.Abs, x, suffix="Abs"), suffix="NegAbs")
    soft = build.value(nn_ops.Softplus, neg_abs, suffix="Softplus")
    return [build.value(math_ops.Add, build.value(math_ops.Sub, relu, xz, suffix="Sub"), soft, suffix="Add")]


@legalize_rule("onnx", grad_ops.StopGradient)
def _stop_gradient(op: Operation, build: Builder) -> list[Value]:
    return [op.operands[0]]


@legalize_rule("onnx", grad_ops.ReluGrad)
def _relu_grad(op: Operation, build: Builder) -> list[Value]:
    x, y = op.operands
    positive = build.value(math_ops.Greater, y, build.scalar(0, y, "ZeroY"), suffix="Positive")
    return [build.value(math_ops.Select, positive, x, build.scalar(0, x, "Zero"), suffix="Select")]


# --------------------------------------------------------------------------------------------
# The pass


def legalize(graph: Graph, target: str = "onnx", legal: Callable[[Operation], bool] | None = None) -> bool:
    """Rewrite ``graph``'s ops that have a ``target`` rule until none is left, in place;
    whether anything changed.

    Raises ``PassError`` for an unknown target, and ``UnsupportedOpError`` listing every op
    left that ``legal`` rejects (with its creation site), or that a rule cannot rewrite.
    """
    rules = LEGALIZE_RULES.get(target)
    if rules is None:
        raise PassError(f"legalize: unknown target {target!r} (known: {', '.join(sorted(LEGALIZE_RULES))})")
    modified = False
    pending = deque(op for op in graph.ops if type(op) in rules)
    while pending:
        op = pending.popleft()
        build = Builder(op)
        new = list(rules[type(op)](op, build))
        for r, v in zip(op.results, new):
            if v is None:
                if r.has_uses:
                    raise PassError(f"legalize: the {target} rule of {op.describe_op()} built no value for a used result")
                continue
            r.replace_all_uses_with(v)
        op.erase()
        modified = True
        pending.extend(o for o in build.created if type(o) in rules)
    if legal is not None:
        bad = [op for op in graph.ops if not legal(op)]
        if bad:
            raise UnsupportedOpError(
                f"cannot legalize {len(bad)} op(s) for {target}",
                [f"  {op.describe_op()}" + (f" at {op.location}" if op.location.is_known else "") for op in bad],
            )
    return modified


class LegalizePass(Pass):
    """Decompose the ops ``target`` lacks (see ``legalize``); ``legal`` (a constructor argument,
    not a pipeline option) rejects ops the target cannot take after the rewrites."""

    name = "legalize"
    description = "Decompose ops the target lacks into ops it has"
    options = (PassOption("target", str, "onnx", "the target whose rewrites run (onnx)"),)

    def __init__(self, legal: Callable[[Operation], bool] | None = None, **options: object) -> None:
        super().__init__(**options)
        self.legal = legal

    def run(self, graph: Graph) -> PassResult:
        return PassResult(graph, legalize(graph, self.target, self.legal))  # type: ignore[attr-defined]
