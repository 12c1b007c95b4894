"""Dead-node pruning: keep only what the graph outputs (and any extra roots) need."""

from __future__ import annotations

from collections.abc import Iterable

from flowir.ir.core import Graph, Operation, Value
from flowir.passes.manager import Pass, PassResult

__all__ = ["PruneDeadNodesPass", "live_ops"]


class PruneDeadNodesPass(Pass):
    """Erase every op that the graph outputs do not need.

    An op is needed when a graph output (an operand or control dependency of the terminator)
    or one of the ``keep`` roots reaches it through operands and control dependencies. So a
    side effect an output depends on through a control dependency is kept, and one nobody
    needs is not run (TensorFlow ``Session`` pruning). Graph inputs are never removed; unused
    placeholder ops are ops like any other and go.

    ``keep`` gives extra roots: values (their defining op is kept) or ops.
    """

    name = "prune"
    description = "Erase ops the graph outputs do not need (through operands and control dependencies)"

    def __init__(self, keep: Iterable[Value | Operation] = (), **options: object) -> None:
        super().__init__(**options)
        self.keep: tuple[Value | Operation, ...] = tuple(keep)

    def run(self, graph: Graph) -> PassResult:
        live = live_ops(graph, self.keep)
        modified = False
        # Reverse program order erases every user before the op it uses.
        for op in graph.ops_reversed():
            if op not in live:
                op.erase()
                modified = True
        return PassResult(graph, modified)


def live_ops(graph: Graph, keep: Iterable[Value | Operation] = ()) -> set[Operation]:
    """The ops of ``graph`` that its outputs, or the ``keep`` roots, depend on."""
    live: set[Operation] = set()
    stack: list[Operation] = []

    def reach(v: Value) -> None:
        op = v.owner
        if op is not None and op not in live:
            live.add(op)
            stack.append(op)

    ret = graph.return_op
    if ret is not None:
        for v in ret.operands:
            reach(v)
        for v in ret.control_deps:
            reach(v)
    for root in keep:
        if isinstance(root, Operation):
            if root.graph is not graph:
                raise ValueError(f"prune: root {root.describe_op()} is not in graph @{graph.name}")
            if root not in live:
                live.add(root)
                stack.append(root)
        else:
            owner = root.owner
            if owner is not None and owner.graph is not graph:
                raise ValueError(f"prune: root {root.describe()} is not defined in graph @{graph.name}")
            reach(root)
    while stack:
        op = stack.pop()
        for v in op.operands:
            reach(v)
        for v in op.control_deps:
            reach(v)
    return live
