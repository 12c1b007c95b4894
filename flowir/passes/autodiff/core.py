"""Reverse-mode autodiff on the IR: ``gradients(graph, ys, xs)`` builds the gradient ops into
the graph, from the per-op rules of ``VJP_RULES`` (JAX's ``backward_pass``, TF1's
``gradients_impl``).

Only float tensors carry gradients: integer and boolean values cut the path. The ops on a
path from ``xs`` to ``ys`` are visited once each, in reverse program order; each result's
cotangent is the sum of what its readers sent it, and the op's rule turns the cotangents of
its results into cotangents of the operands that lead back to an ``x``. Nothing is built for
operands that do not: the gradient graph holds only what ``xs`` need.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from flowir.ir import ops
from flowir.ir.core import Graph, Operation, Value
from flowir.ir.errors import FlowirError, ShapeError
from flowir.passes.autodiff.builder import Emit, VjpBuilder, is_float
from flowir.passes.autodiff.rules import NON_DIFFERENTIABLE, VJP_RULES

__all__ = ["gradients", "graph_emitter", "NotDifferentiableError"]


class NotDifferentiableError(FlowirError, LookupError):
    """An op on the path from ``xs`` to ``ys`` has no VJP rule."""


def graph_emitter(graph: Graph, scope: str = "gradients") -> Emit:
    """An ``emit`` that appends ops to ``graph`` named ``<scope>/<name>``, made unique among
    the graph's op names (``scope`` itself becomes ``scope_1`` ... when already in use)."""
    used = {op.user_name for op in graph.ops if op.user_name}
    prefixes = {n.split("/", 1)[0] for n in used}
    base, k = scope, 0
    while scope in prefixes or scope in used:
        k += 1
        scope = f"{base}_{k}"

    def emit(cls: type[Operation], *operands: Any, name: str, **attrs: Any) -> Operation:
        full = f"{scope}/{name}"
        unique, i = full, 0
        while unique in used:
            i += 1
            unique = f"{full}_{i}"
        used.add(unique)
        return graph.append(cls.create(*operands, name=unique, **attrs))

    return emit


def gradients(
    graph: Graph,
    ys: Sequence[Value],
    xs: Sequence[Value],
    grad_ys: Sequence[Value | None] | None = None,
    *,
    stop: Iterable[Value] = (),
    emit: Emit | None = None,
) -> list[Value | None]:
    """The gradients of ``sum(ys)`` with respect to each of ``xs``, built into ``graph``.

    ``grad_ys[i]`` is the cotangent of ``ys[i]`` (default: ones of its shape); a gradient is
    ``sum_i grad_ys[i] * d ys[i] / d x``, of ``x``'s type. Returns one value per ``x``: ``None``
    when no float path leads from ``x`` to a ``y`` (an integer or boolean ``x`` included).
    Values in ``stop`` are constants: gradients do not flow through them to the op that made
    them (their own gradient, when they are among ``xs``, is still computed).

    ``emit(op_class, *operands, name=..., **attrs)`` creates and inserts each new op (see
    ``builder.Emit``); the default appends to ``graph`` under ``gradients/``.

    Raises ``NotDifferentiableError`` naming the op and its creation site when an op on a
    path from ``xs`` to ``ys`` has no VJP rule, and ``ShapeError`` when a ``grad_ys`` entry
    does not fit its ``y``.

    >>> from flowir.ir import DType, TensorType
    >>> g = Graph()
    >>> x = g.add_input(TensorType(DType.float32, (None, 3)), "x")
    >>> y = g.append(ops.Exp.create(x, name="e", loc=None)).result
    >>> (dx,) = gradients(g, [y], [x])
    >>> dx.owner.user_name, dx.type
    ('gradients/e_grad/Mul', tensor<?x3xf32>)
    """
    ys, xs = list(ys), list(xs)
    if grad_ys is None:
        grad_ys = [None] * len(ys)
    elif len(grad_ys) != len(ys):
        raise ValueError(f"gradients(): {len(grad_ys)} grad_ys for {len(ys)} ys")
    b = VjpBuilder(emit if emit is not None else graph_emitter(graph))
    stop = set(stop)
    active = _active_values(xs, ys, stop)
    cts: dict[Value, list[Value]] = {}

    b.enter(None)
    for y, gy in zip(ys, grad_ys):
        if y not in active:
            continue
        cts.setdefault(y, []).append(_seed(b, y, gy))

    for op in _ops_between(graph, active, stop):
        cls = type(op)
        needs = [v in active for v in op.operands]
        if cls in NON_DIFFERENTIABLE or not any(needs):
            continue
        b.enter(op, needs)
        results = [_total(b, r, cts) if r in cts and r not in stop else None for r in op.results]
        if all(ct is None for ct in results):
            continue
        rule = VJP_RULES.get(cls)
        if rule is None:
            raise _no_rule(op, active)
        grads = rule(b, op, tuple(results))
        if len(grads) != len(op.operands):
            raise FlowirError(f"the VJP rule of {cls.name} gave {len(grads)} cotangents for {len(op.operands)} operands")
        for v, need, ct in zip(op.operands, needs, grads):
            if need and ct is not None:
                _check_cotangent(op, v, ct)
                cts.setdefault(v, []).append(ct)

    out: list[Value | None] = []
    for x in xs:
        if x in cts:
            b.enter(x.owner, scope=None if x.owner is not None else f"{x.name or 'x'}_grad")
            out.append(_total(b, x, cts))
        else:
            out.append(None)
    return out


def _active_values(xs: Sequence[Value], ys: Sequence[Value], stop: set[Value]) -> set[Value]:
    """The float values on a path from an ``x`` to a ``y``: those that carry gradients."""
    reached = {x for x in xs if is_float(x)}
    frontier = list(reached)
    while frontier:
        v = frontier.pop()
        for op, index in v.uses:
            if index < 0:
                continue
            for r in op.results:
                if r not in reached and r not in stop and is_float(r):
                    reached.add(r)
                    frontier.append(r)
    active: set[Value] = set()
    frontier = [y for y in ys if y in reached]
    active.update(frontier)
    while frontier:
        v = frontier.pop()
        op = v.owner
        if op is None or v in stop:
            continue
        for u in op.operands:
            if u in reached and u not in active:
                active.add(u)
                frontier.append(u)
    return active


def _ops_between(graph: Graph, active: set[Value], stop: set[Value]) -> list[Operation]:
    """The ops whose results are active, in reverse program order."""
    found = {v.owner for v in active if v.owner is not None and v not in stop}
    if not found:
        return []
    return sorted(found, key=graph.order_key, reverse=True)  # type: ignore[arg-type]


def _seed(b: VjpBuilder, y: Value, gy: Value | None) -> Value:
    """The cotangent ``y`` starts with: ``gy`` (checked), else ones of ``y``'s shape."""
    ty = y.type
    if gy is None:
        if ty.shape == ():  # type: ignore[attr-defined]
            return b.scalar(1, y)
        return b(ops.OnesLike, y)
    gt = gy.type
    if type(gt) is not type(ty) or gt.dtype is not ty.dtype or not gt.is_compatible_with(ty):  # type: ignore[attr-defined]
        raise ShapeError(
            f"gradients(): grad_ys entry {gy.describe()} does not fit its y {y.describe()}: "
            "it needs the same dtype and a compatible shape"
        )
    return gy


def _total(b: VjpBuilder, v: Value, cts: dict[Value, list[Value]]) -> Value:
    """The sum of the cotangents sent to ``v`` (computed once, then kept)."""
    parts = cts[v]
    if len(parts) > 1:
        total = parts[0]
        for p in parts[1:]:
            total = b(ops.Add, total, p)
        cts[v] = [total]
    return cts[v][0]


def _check_cotangent(op: Operation, v: Value, ct: Value) -> None:
    """A rule's cotangent must have its operand's dtype and a compatible shape."""
    if not ct.type.is_compatible_with(v.type):
        raise FlowirError(
            f"the VJP rule of {op.describe_op()} gave a cotangent of type {ct.type!r} for an operand of type {v.type!r}",
            op.context_lines(),
        )


def _no_rule(op: Operation, active: set[Value]) -> NotDifferentiableError:
    known = ", ".join(sorted(c.name for c in VJP_RULES))
    leading = [v.describe() for v in op.operands if v in active]
    return NotDifferentiableError(
        f"{op.describe_op()}: no gradient is defined for this op, which lies on a path from xs to ys "
        f"(through {', '.join(leading)})",
        [*op.context_lines(), f"  ops with gradients: {known}"],
    )
