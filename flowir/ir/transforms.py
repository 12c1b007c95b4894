"""Graph-to-graph copies: the part of a graph that some outputs need, or the whole graph.

A run of a TF1-style session executes only what its fetches need, with fed tensors cut off
from what computes them (``extract_subgraph``); passes then transform the copy, so the user's
graph never changes. Copies keep each op's class, attributes, user name, location, device and
control dependencies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from flowir.ir.core import BlockArgument, Graph, Operation, Value
from flowir.ir.errors import FlowirError
from flowir.ir.location import UNKNOWN_LOC, Location

__all__ = ["extract_subgraph", "clone_graph", "needed_ops"]


def extract_subgraph(
    graph: Graph,
    outputs: Sequence[Value],
    inputs: Sequence[Value] = (),
    *,
    name: str = "main",
    share_constants: bool = False,
) -> tuple[Graph, dict[Value, Value]]:
    """A new graph computing ``outputs`` of ``graph`` from the fed values ``inputs``.

    The new graph's inputs are copies of ``inputs``, in order, named like them (a fed
    placeholder's op is not copied: its value becomes an input). Its ops are copies of exactly
    the ops that ``outputs`` need, found by following operands and control dependencies
    backwards and stopping at fed values, in ``graph``'s program order. Its outputs are the
    copies of ``outputs`` (of any type: a ``CONTROL`` result runs its op as a target), named
    by the source values' names. Needed placeholders that are not fed stay placeholder ops.

    With ``share_constants``, small constants equal to an earlier copied one (same dtype,
    shape, bytes and device, no control dependencies) are not copied: their users read the
    earlier copy, as common-subexpression elimination would make them (``x * 0.5`` written
    ten thousand times copies one constant).

    ``graph`` is not modified. The cost is proportional to the extracted part, not to
    ``graph``. Returns the new graph and the mapping from source values to new values (for
    the fed values and every value of a copied op).

    Raises ``ValueError`` for a value that is not ``graph``'s or a value fed twice, and
    ``FlowirError`` for a needed graph input that is not fed.

    >>> from flowir.ir.ops.core import Constant
    >>> import numpy as np
    >>> g = Graph()
    >>> a = g.append(Constant.create(value=np.float32([1]), name="a", loc=None)).result
    >>> b = g.append(Constant.create(value=np.float32([2]), name="b", loc=None)).result
    >>> sub, mapping = extract_subgraph(g, [b])
    >>> [op.user_name for op in sub.ops], len(g)
    (['b'], 2)
    """
    mapping: dict[Value, Value] = {}
    new = Graph(name)
    for v in inputs:
        _check_owned(graph, v, "input")
        if v in mapping:
            raise ValueError(f"extract_subgraph: {v.describe()} is fed twice")
        mapping[v] = new.add_input(v.type, v.name, _location_of(v))
    for v in outputs:
        _check_owned(graph, v, "output")
    needed = _needed_ops(outputs, mapping)
    _copy_ops(sorted(needed, key=graph.order_key), new, mapping, share_constants)
    new.set_outputs([mapping[v] for v in outputs], [v.name for v in outputs])
    return new, mapping


def clone_graph(graph: Graph) -> tuple[Graph, dict[Value, Value]]:
    """A copy of ``graph``: its inputs, every op in program order, its outputs and their names.

    Returns the copy and the mapping from ``graph``'s values to the copy's.
    """
    mapping: dict[Value, Value] = {}
    new = Graph(graph.name)
    for arg in graph.inputs:
        mapping[arg] = new.add_input(arg.type, arg.name, arg.location)
    _copy_ops(graph.ops, new, mapping)
    ret = graph.return_op
    if ret is not None:
        new.set_return(_copy_op(ret, mapping))
    return new, mapping


def needed_ops(graph: Graph, outputs: Iterable[Value]) -> list[Operation]:
    """The ops of ``graph`` that ``outputs`` reach through operands and control dependencies,
    in program order; graph inputs end the walk."""
    needed: set[Operation] = set()
    stack = list(outputs)
    while stack:
        op = stack.pop().owner
        if op is None or op in needed:
            continue
        needed.add(op)
        stack.extend(op.operands)
        stack.extend(op.control_deps)
    return sorted(needed, key=graph.order_key)


def _needed_ops(outputs: Iterable[Value], fed: dict[Value, Value]) -> set[Operation]:
    """The ops that ``outputs`` reach through operands and control dependencies, stopping
    at the ``fed`` values."""
    needed: set[Operation] = set()
    stack: list[Value] = list(outputs)
    while stack:
        v = stack.pop()
        if v in fed:
            continue
        op = v.owner
        if op is None:
            raise FlowirError(f"graph input {v.describe()} is needed but not fed")
        if op in needed:
            continue
        needed.add(op)
        stack.extend(op.operands)
        stack.extend(op.control_deps)
    return needed


#: The largest constant (in elements) ``share_constants`` compares.
_SHARED_CONSTANT_SIZE = 16


def _copy_ops(ops: Iterable[Operation], new: Graph, mapping: dict[Value, Value], share_constants: bool = False) -> None:
    shared: dict[tuple, Value] | None = None
    constant_class: type | None = None
    if share_constants:
        from flowir.ir.ops.core import Constant

        shared, constant_class = {}, Constant
    for op in ops:
        key = None
        if shared is not None and type(op) is constant_class and not op.control_deps:
            value = op.value  # type: ignore[attr-defined]
            if value.size <= _SHARED_CONSTANT_SIZE and value.dtype.kind != "O":
                key = (value.dtype.str, value.shape, value.tobytes(), op.device)
                first = shared.get(key)
                if first is not None:
                    mapping.setdefault(op.results[0], first)
                    continue
        copy = new.append(_copy_op(op, mapping))
        for r, c in zip(op.results, copy.results):
            # A fed result keeps its input: the copy's own result is left unused.
            mapping.setdefault(r, c)
        if key is not None:
            shared[key] = copy.results[0]  # type: ignore[index]


def _copy_op(op: Operation, mapping: dict[Value, Value]) -> Operation:
    return type(op)(
        [mapping[v] for v in op.operands],
        [r.type for r in op.results],
        dict(op.attributes),
        user_name=op.user_name,
        location=op.location,
        control_deps=[mapping[v] for v in op.control_deps],
        device=op.device,
    )


def _check_owned(graph: Graph, v: Value, what: str) -> None:
    home = v.graph if isinstance(v, BlockArgument) else v.owner.graph  # type: ignore[union-attr]
    if home is not graph:
        raise ValueError(f"extract_subgraph: {what} {v.describe()} is not a value of graph @{graph.name}")


def _location_of(v: Value) -> Location:
    if isinstance(v, BlockArgument):
        return v.location
    owner = v.owner
    return owner.location if owner is not None else UNKNOWN_LOC
