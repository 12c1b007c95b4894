"""Shape inference: re-derive every result type from the op type rules, in program order."""

from __future__ import annotations

from collections.abc import Iterable

from flowir.ir.core import Graph, Operation, Value
from flowir.ir.errors import ShapeError
from flowir.ir.types import Type
from flowir.passes.manager import Pass, PassResult

__all__ = ["ShapeInferencePass", "infer_shapes"]


class ShapeInferencePass(Pass):
    """Refine result types from the op type rules: each result becomes the meet of its
    recorded type and the type its rule infers from the (already refined) operand types.

    Unknown dims become known wherever the inputs determine them. Raises ``ShapeError`` (or
    the rule's own ``DTypeError``) naming the op, its operand tensors, shapes and creation
    site when a rule rejects its operands or contradicts a recorded type. Idempotent.
    """

    name = "shape-inference"
    description = "Refine result types (unknown dims) from the op type rules; report contradictions"

    def __init__(self, *, changed: Iterable[Value] | None = None, **options: object) -> None:
        """``changed``: re-infer only around these values (see ``infer_shapes``); a program's
        builder passes it, pipeline text cannot."""
        super().__init__(**options)
        self.changed = changed

    def run(self, graph: Graph) -> PassResult:
        return PassResult(graph, infer_shapes(graph, self.changed))


def infer_shapes(graph: Graph, changed: Iterable[Value] | None = None) -> bool:
    """Run shape inference over ``graph`` in place; return whether any type changed.

    With ``changed``, only the ops that own or consume a value whose type changed (those
    values, then every result this refines) are re-inferred: the caller vouches that every
    other op's result types already are what its rule gives for its operands' types (a
    graph built with ``Operation.create`` whose inputs were then given more specific types).
    """
    modified = False
    dirty: set[Value] | None = None if changed is None else set(changed)
    for op in graph.ops:
        if dirty is not None and not (
            any(v in dirty for v in op.operands) or any(r in dirty for r in op.results)
        ):
            continue
        inferred = op.compute_result_types()
        results = op.results
        if len(inferred) != len(results):
            _contradiction(op, f"its type rule gives {len(inferred)} result(s), the op has {len(results)}")
        for r, ty in zip(results, inferred):
            old = r.type
            if old is ty or old == ty:
                continue
            new = old.meet(ty)
            if new is None:
                _contradiction(op, _mismatch(r.index, len(results), old, ty))
            if new != old:
                r.type = new
                modified = True
                if dirty is not None:
                    dirty.add(r)
    return modified


def _mismatch(index: int, count: int, recorded: Type, inferred: Type) -> str:
    which = "result" if count == 1 else f"result {index}"
    return f"{which} is recorded as {_spell(recorded)} but its operands give {_spell(inferred)}"


def _spell(ty: Type) -> str:
    describe = getattr(ty, "describe", None)
    return describe() if describe is not None else repr(ty)


def _contradiction(op: Operation, reason: str) -> None:
    e = ShapeError(reason)
    op.annotate_error(e)
    raise e
