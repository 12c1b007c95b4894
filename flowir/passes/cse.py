"""Common-subexpression elimination of pure ops."""

from __future__ import annotations

from collections.abc import Hashable

from flowir.ir.core import Graph, Operation, Trait
from flowir.passes.manager import Pass, PassResult

__all__ = ["CSEPass", "cse_key"]

_NEVER_DEDUPE = frozenset({Trait.RANDOM, Trait.STATEFUL, Trait.INPUT, Trait.TERMINATOR})

#: Per op class: ``None`` if never deduplicated, else whether its operands commute.
_Kind = bool | None


def _class_kind(cls: type[Operation]) -> _Kind:
    traits = cls.traits
    if Trait.PURE not in traits or not traits.isdisjoint(_NEVER_DEDUPE):
        return None
    return Trait.COMMUTATIVE in traits


def cse_key(op: Operation) -> Hashable | None:
    """The key under which ``op`` equals every op computing the same value; ``None`` if the op
    must never be deduplicated (not pure, random, stateful, an input, or without results).

    Equal keys mean: same op class, same operands (in any order for ``COMMUTATIVE`` ops),
    same control dependencies (as a set), same attribute values (constants compare by
    dtype, shape and bytes) and same result types.
    """
    commutative = _class_kind(type(op))
    return None if commutative is None else _key(op, commutative)


def _key(op: Operation, commutative: bool) -> Hashable | None:
    results = op.results
    if not results:
        return None
    operands = op.operands
    if commutative and len(operands) > 1:
        operands_key: tuple = tuple(sorted(operands, key=id))
    else:
        operands_key = tuple(operands)
    attrs = op.attr_key() if op.attributes else ()
    types = results[0].type if len(results) == 1 else tuple(r.type for r in results)
    deps = frozenset(op.control_deps) if op.control_deps else None
    return (type(op), operands_key, deps, attrs, types)


class CSEPass(Pass):
    """Replace each pure op that repeats an earlier one (same class, operands, control
    dependencies, attributes and result types) by that earlier op; the first op survives.

    Random, stateful and input ops are never merged. A single forward pass in program order,
    O(number of ops): users of a merged op see the survivor before they are keyed, so
    chains of duplicates collapse in one run.
    """

    name = "cse"
    description = "Merge pure ops that compute the same value (common-subexpression elimination)"

    def run(self, graph: Graph) -> PassResult:
        seen: dict[Hashable, Operation] = {}
        kinds: dict[type[Operation], _Kind] = {}
        modified = False
        for op in graph.ops:
            cls = type(op)
            try:
                kind = kinds[cls]
            except KeyError:
                kind = kinds[cls] = _class_kind(cls)
            if kind is None:
                continue
            key = _key(op, kind)
            if key is None:
                continue
            first = seen.setdefault(key, op)
            if first is op:
                continue
            op.replace_all_uses_with(first)
            op.erase()
            modified = True
        return PassResult(graph, modified)
