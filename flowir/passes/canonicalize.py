"""Canonicalization: algebraic identities as small rewrite patterns, applied to a fixpoint.

Patterns live in ``PATTERNS``, an index keyed by op class (xDSL ``op_type_rewrite_pattern``,
tinygrad ``PatternMatcher.pdict``), so the driver looks up only the patterns of the op at hand.
A pattern is ``pattern(op, rewriter) -> bool``: it returns ``True`` when it changed the graph,
and makes every change through the ``Rewriter`` so the driver knows what to revisit.

Contract for patterns: the rewritten graph computes the same values; a replacement value has
exactly the type of the value it replaces (so no graph output, nor any user, changes type);
an op with control dependencies is never bypassed or replaced (its ordering would be lost).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

from flowir.ir.core import Graph, Operation, Trait, Value
from flowir.ir.ops import array as array_ops
from flowir.ir.ops import math as math_ops
from flowir.ir.ops.core import Constant
from flowir.passes.manager import Pass, PassResult

__all__ = ["CanonicalizePass", "Rewriter", "PATTERNS", "Pattern", "rewrite_pattern", "apply_patterns", "splat_value"]

#: ``pattern(op, rewriter) -> bool``: rewrite ``op`` through ``rewriter``; ``True`` if it did.
Pattern = Callable[[Operation, "Rewriter"], bool]

#: Canonicalization patterns by the op class they match at the root.
PATTERNS: dict[type[Operation], list[Pattern]] = {}

_NOT_REMOVABLE = frozenset({Trait.RANDOM, Trait.STATEFUL, Trait.INPUT, Trait.TERMINATOR})


def rewrite_pattern(*op_classes: type[Operation]) -> Callable[[Pattern], Pattern]:
    """Register the decorated function as a pattern rooted at each of ``op_classes``."""

    def register(fn: Pattern) -> Pattern:
        for cls in op_classes:
            PATTERNS.setdefault(cls, []).append(fn)
        return fn

    return register


class Rewriter:
    """The mutation API given to patterns; it keeps the driver's worklist up to date.

    Ops whose operands changed and ops that were created are revisited; pure ops left
    without users by a rewrite are erased.
    """

    def __init__(self, graph: Graph, ops: Sequence[Operation] | None = None) -> None:
        self.graph = graph
        initial = list(graph.ops) if ops is None else list(ops)
        self._queue: deque[Operation] = deque(initial)
        self._queued: set[Operation] = set(initial)

    def push(self, op: Operation | None) -> None:
        """Visit ``op`` (again) later."""
        if op is not None and op not in self._queued and op.graph is self.graph:
            self._queued.add(op)
            self._queue.append(op)

    def pop(self) -> Operation | None:
        """The next op still in the graph to visit, ``None`` when done."""
        queue, queued = self._queue, self._queued
        while queue:
            op = queue.popleft()
            queued.discard(op)
            if op.graph is self.graph:
                return op
        return None

    def replace_op(self, op: Operation, values: Sequence[Value]) -> None:
        """Make the users of ``op``'s results use ``values``, then erase ``op`` (and any pure
        producer that this leaves unused)."""
        for r in op.results:
            for user, _ in r.uses:
                self.push(user)
        op.replace_all_uses_with(values)
        self.erase_op(op)

    def set_operand(self, op: Operation, index: int, value: Value) -> None:
        """Make operand ``index`` of ``op`` read ``value``; revisit ``op``."""
        old = op.operands[index]
        op.set_operand(index, value)
        self.push(op)
        self.erase_if_dead(old.owner)

    def set_attr(self, op: Operation, key: str, value: object) -> None:
        """Change an attribute of ``op`` in place; revisit ``op``."""
        op.set_attr(key, value)
        self.push(op)

    def insert_before(self, anchor: Operation, op: Operation) -> Operation:
        """Put a new ``op`` before ``anchor`` and visit it."""
        self.graph.insert_before(anchor, op)
        self.push(op)
        return op

    def erase_op(self, op: Operation) -> None:
        """Erase ``op`` (its results must be unused), then producers it leaves dead."""
        producers = [v.owner for v in (*op.operands, *op.control_deps)]
        op.erase()
        for p in producers:
            self.erase_if_dead(p)

    def erase_if_dead(self, op: Operation | None) -> None:
        """Erase ``op`` if it is pure and unused, and so on up through its producers."""
        stack = [op]
        while stack:
            cur = stack.pop()
            if cur is None or cur.graph is not self.graph or not _is_removable(cur):
                continue
            if any(r.uses for r in cur.results):
                continue
            producers = [v.owner for v in (*cur.operands, *cur.control_deps)]
            cur.erase()
            stack.extend(producers)


def _is_removable(op: Operation) -> bool:
    traits = op.traits
    return Trait.PURE in traits and traits.isdisjoint(_NOT_REMOVABLE)


def apply_patterns(
    graph: Graph, patterns: dict[type[Operation], list[Pattern]] | None = None
) -> bool:
    """Apply ``patterns`` (default ``PATTERNS``) to every op until none matches; return
    whether the graph changed.

    Starts from all ops in program order; after a rewrite only the ops it touched are
    revisited, so the work is proportional to the graph plus the rewrites made. Ops with
    control dependencies are not rewritten.
    """
    table = PATTERNS if patterns is None else patterns
    rw = Rewriter(graph)
    modified = False
    while (op := rw.pop()) is not None:
        pats = table.get(type(op))
        if not pats or op.control_deps:
            continue
        for pat in pats:
            if pat(op, rw):
                modified = True
                break
    return modified


class CanonicalizePass(Pass):
    """Simplify the graph with algebraic identities (``PATTERNS``) until none applies.

    Rewrites: ``x*1``, ``1*x``, ``x+0``, ``0+x``, ``x-0``, ``x/1``, ``x**1`` to ``x`` (when
    broadcasting leaves ``x``'s type unchanged); ``neg(neg(x))``, ``not(not(x))``,
    ``identity(x)`` and a cast to ``x``'s own dtype to ``x``; ``reshape(reshape(x))`` to one
    reshape and a reshape to ``x``'s own shape to ``x``; ``transpose(transpose(x))`` to one
    transpose (none for the identity permutation); ``squeeze(expand_dims(x, a), [a])`` to
    ``x``. Pure ops left unused by a rewrite are erased. Idempotent.
    """

    name = "canonicalize"
    description = "Apply algebraic simplifications (x*1, neg(neg(x)), reshape chains, ...) to a fixpoint"

    def run(self, graph: Graph) -> PassResult:
        return PassResult(graph, apply_patterns(graph))


# --------------------------------------------------------------------------------------------
# Helpers for patterns


def splat_value(v: Value) -> object | None:
    """The single element of a constant whose elements are all equal, for any dtype; ``None``
    if ``v`` is not such a constant (or has control dependencies, which must not be dropped).

    >>> import numpy as np
    >>> splat_value(Constant.create(value=np.full((2, 2), 3.0), loc=None).result)
    np.float64(3.0)
    """
    op = v.owner
    if type(op) is not Constant or op.control_deps:
        return None
    arr: np.ndarray = op.value  # type: ignore[attr-defined]
    if arr.size == 0 or arr.dtype == object:
        return None
    first = arr.flat[0]
    if arr.size > 1 and not bool(np.all(arr == first)):
        return None
    return first


def is_splat(v: Value, scalar: object) -> bool:
    """Whether ``v`` is a constant with every element equal to ``scalar``."""
    s = splat_value(v)
    return s is not None and bool(s == scalar)


def _producer(v: Value, cls: type[Operation]) -> Operation | None:
    """``v``'s defining op if it is a ``cls`` that may be looked through (no control deps)."""
    op = v.owner
    if type(op) is cls and not op.control_deps:  # type: ignore[union-attr]
        return op
    return None


def _forward(op: Operation, rw: Rewriter, x: Value) -> bool:
    """Replace ``op``'s single result by ``x`` when their types are equal."""
    if x.type != op.results[0].type:
        return False
    rw.replace_op(op, [x])
    return True


# --------------------------------------------------------------------------------------------
# Patterns

#: The operand value that leaves a binary op's other operand unchanged, on each side.
_RIGHT_IDENTITY: dict[type[Operation], int] = {
    math_ops.Add: 0,
    math_ops.Sub: 0,
    math_ops.Mul: 1,
    math_ops.Div: 1,
    math_ops.Pow: 1,
}
_LEFT_IDENTITY: dict[type[Operation], int] = {math_ops.Add: 0, math_ops.Mul: 1}


@rewrite_pattern(*_RIGHT_IDENTITY)
def _identity_element(op: Operation, rw: Rewriter) -> bool:
    """``x + 0``, ``0 + x``, ``x - 0``, ``x * 1``, ``1 * x``, ``x / 1``, ``x ** 1`` -> ``x``."""
    x, y = op.operands
    unit = _RIGHT_IDENTITY.get(type(op))
    if unit is not None and is_splat(y, unit) and _forward(op, rw, x):
        return True
    unit = _LEFT_IDENTITY.get(type(op))
    return unit is not None and is_splat(x, unit) and _forward(op, rw, y)


#: Unary ops that undo themselves: ``f(f(x)) == x``.
_INVOLUTIONS: tuple[type[Operation], ...] = (math_ops.Neg, math_ops.LogicalNot)


@rewrite_pattern(*_INVOLUTIONS)
def _involution(op: Operation, rw: Rewriter) -> bool:
    """``neg(neg(x))``, ``logical_not(logical_not(x))`` -> ``x``."""
    inner = _producer(op.operands[0], type(op))
    return inner is not None and _forward(op, rw, inner.operands[0])


@rewrite_pattern(array_ops.Identity)
def _identity(op: Operation, rw: Rewriter) -> bool:
    """``identity(x)`` -> ``x`` (an identity with control dependencies is never visited)."""
    return _forward(op, rw, op.operands[0])


@rewrite_pattern(math_ops.Cast)
def _noop_cast(op: Operation, rw: Rewriter) -> bool:
    """A cast to ``x``'s own dtype -> ``x``."""
    x = op.operands[0]
    return getattr(x.type, "dtype", None) is op.dtype and _forward(op, rw, x)  # type: ignore[attr-defined]


@rewrite_pattern(array_ops.Reshape)
def _noop_reshape(op: Operation, rw: Rewriter) -> bool:
    """A reshape to ``x``'s own shape -> ``x``."""
    x = op.operands[0]
    return _reshape_is_noop(getattr(x.type, "shape", None), op.shape) and _forward(op, rw, x)  # type: ignore[attr-defined]


def _reshape_is_noop(shape: tuple[int | None, ...] | None, target: Sequence[int | None]) -> bool:
    """Whether reshaping a tensor of ``shape`` to ``target`` (``-1``/``None``: inferred) keeps it."""
    if shape is None or len(shape) != len(target):
        return False
    wild = [i for i, t in enumerate(target) if t is None or t == -1]
    if len(wild) > 1:
        return False
    rest = 1
    for i, (d, t) in enumerate(zip(shape, target)):
        if i in wild:
            continue
        if d is None or d != t:
            return False
        rest *= d
    # With every other dim equal, the inferred dim is x's own, unless they hold no elements.
    return not wild or rest != 0


@rewrite_pattern(array_ops.Reshape)
def _reshape_of_reshape(op: Operation, rw: Rewriter) -> bool:
    """``reshape(reshape(x, s1), s2)`` -> ``reshape(x, s2)``."""
    inner = _producer(op.operands[0], array_ops.Reshape)
    if inner is None:
        return False
    rw.set_operand(op, 0, inner.operands[0])
    return True


def _resolved_perm(perm: Sequence[int] | None, rank: int | None) -> tuple[int, ...] | None:
    if perm is None:
        return None if rank is None else tuple(range(rank - 1, -1, -1))
    return tuple(perm)


def _is_identity_perm(perm: Sequence[int]) -> bool:
    return all(p == i for i, p in enumerate(perm))


@rewrite_pattern(array_ops.Transpose)
def _identity_transpose(op: Operation, rw: Rewriter) -> bool:
    """A transpose by the identity permutation -> ``x``."""
    x = op.operands[0]
    perm = _resolved_perm(op.perm, getattr(x.type, "rank", None))  # type: ignore[attr-defined]
    return perm is not None and _is_identity_perm(perm) and _forward(op, rw, x)


@rewrite_pattern(array_ops.Transpose)
def _transpose_of_transpose(op: Operation, rw: Rewriter) -> bool:
    """``transpose(transpose(x, p), q)`` -> ``transpose(x, p∘q)``, or ``x`` if that is the
    identity."""
    inner = _producer(op.operands[0], array_ops.Transpose)
    if inner is None:
        return False
    x = inner.operands[0]
    p = _resolved_perm(inner.perm, getattr(x.type, "rank", None))  # type: ignore[attr-defined]
    q = _resolved_perm(op.perm, None if p is None else len(p))  # type: ignore[attr-defined]
    if p is None or q is None or len(p) != len(q):
        return False
    composed = tuple(p[i] for i in q)
    if _is_identity_perm(composed) and _forward(op, rw, x):
        return True
    rw.set_attr(op, "perm", composed)
    rw.set_operand(op, 0, x)
    return True


@rewrite_pattern(array_ops.Squeeze)
def _squeeze_of_expand_dims(op: Operation, rw: Rewriter) -> bool:
    """``squeeze(expand_dims(x, a), [a])`` -> ``x``."""
    inner = _producer(op.operands[0], array_ops.ExpandDims)
    axes = op.axes  # type: ignore[attr-defined]
    if inner is None or axes is None or len(axes) != 1:
        return False
    x = inner.operands[0]
    a, s = inner.axis, axes[0]  # type: ignore[attr-defined]
    if a != s:
        rank = getattr(x.type, "rank", None)
        if rank is None:
            return False
        # Both axes index the expanded tensor, of rank + 1.
        if a % (rank + 1) != s % (rank + 1) or not (-rank - 1 <= min(a, s) and max(a, s) <= rank):
            return False
    return _forward(op, rw, x)
