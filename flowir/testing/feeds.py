"""Feeds for a user's graph: concrete arrays for every placeholder some fetches need.

``feeds_for(fetches)`` is a hypothesis strategy drawing a feed dict. Wildcard dims that the
graph forces to agree (the batch dim of ``x`` and of ``labels`` feeding one loss) get one
size, found by ``flowir.passes.symbolic_dims``. Sizes include the edge cases: 1, and 0 for
each dim where the type rules allow an empty tensor. Integer
placeholders that index something (``tf.gather`` indices, sparse labels) get values in range.

>>> import flowir as tf
>>> from hypothesis import find
>>> g = tf.Graph()
>>> with g.as_default():
...     x = tf.placeholder(tf.float32, [None, 3], name="x")
...     labels = tf.placeholder(tf.float32, [None, 2], name="labels")
...     logits = tf.matmul(x, tf.ones([3, 2]))
...     loss = tf.reduce_mean(tf.square(logits - labels))
>>> feed = find(feeds_for(loss), lambda f: f[x].shape[0] == 2)
>>> feed[x].shape, feed[labels].shape
((2, 3), (2, 2))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from flowir.ir.core import BlockArgument, Graph, Operation, Value, get_op_class
from flowir.ir.errors import FlowirError
from flowir.ir.ops.core import Placeholder
from flowir.ir.transforms import needed_ops
from flowir.ir.types import TensorType, Type
from flowir.passes.symbolic_dims import Sym, symbolic_dims
from flowir.testing.strategies import arrays_for

__all__ = ["feeds_for", "FeedPlan", "INDEX_OPERANDS", "resolve_fetches"]

Dim = int | Sym

#: Ops with an operand whose values index into a dim of another operand: op class ->
#: ``(index operand position, bound)`` where ``bound(op, shapes)`` is the indexed dim (an int
#: or a ``Sym``) given the symbolic operand shapes. A placeholder reaching such an operand
#: (directly or through the shape-only ops of ``_TRANSPARENT``) draws values in
#: ``[0, bound)``. Add an entry for your own op.
INDEX_OPERANDS: dict[type[Operation], tuple[int, Callable[[Operation, Sequence[tuple[Dim, ...] | None]], Dim | None]]] = {}


def _register_index_operands() -> None:
    def at_axis(op: Operation, shapes: Sequence[tuple[Dim, ...] | None]) -> Dim | None:
        params = shapes[0]
        if params is None:
            return None
        return params[op.get_attr("axis") % len(params)] if params else None

    def classes(op: Operation, shapes: Sequence[tuple[Dim, ...] | None]) -> Dim | None:
        logits = shapes[0]
        return logits[-1] if logits else None

    for name, entry in (
        ("array.gather", (1, at_axis)),
        ("nn.sparse_softmax_cross_entropy_with_logits", (1, classes)),
    ):
        INDEX_OPERANDS[get_op_class(name)] = entry  # type: ignore[assignment]


_register_index_operands()

#: Ops that pass their operand's values through (maybe reshaped or re-typed): an index
#: constraint on their result applies to their first operand.
_TRANSPARENT = frozenset({"array.identity", "math.cast", "array.reshape", "array.expand_dims", "array.squeeze", "array.stop_gradient"})


def resolve_fetches(fetches: Any) -> tuple[Graph, list[Value], Any]:
    """The IR graph and values of ``fetches`` (a tensor, variable, op, IR value, or a list of
    them) and the frontend graph they belong to (``None`` for IR values)."""
    items = list(fetches) if isinstance(fetches, (list, tuple)) else [fetches]
    if not items:
        raise ValueError("no fetches given")
    values: list[Value] = []
    frontend = None
    for item in items:
        if isinstance(item, Value):
            values.append(item)
            continue
        as_element = getattr(item, "_as_graph_element", None)
        element = as_element() if as_element is not None else item
        value = getattr(element, "value", None)
        if isinstance(value, Value):
            values.append(value)
            frontend = element.graph
        elif hasattr(element, "ir_op"):
            ir_op = element.ir_op
            values.extend(ir_op.results[:1] if ir_op.results else [])
            frontend = element.graph
        else:
            raise TypeError(f"cannot fetch {item!r}: expected a tensor, variable, operation or flowir Value")
    graphs = {_graph_of(v) for v in values}
    if len(graphs) != 1:
        raise ValueError("the fetches belong to different graphs")
    return graphs.pop(), values, frontend


def _graph_of(v: Value) -> Graph:
    if isinstance(v, BlockArgument):
        return v.graph
    assert v.owner is not None and v.owner.graph is not None
    return v.owner.graph


@dataclass
class FeedPlan:
    """What ``feeds_for`` knows about a graph: the placeholders the fetches need, their
    symbolic shapes, the sizes each symbol may take and the value bounds of index feeds."""

    graph: Graph
    ops: list[Operation]
    placeholders: list[Value]
    shapes: dict[Value, tuple[Dim, ...] | None]
    symbols: list[Sym]
    zero_ok: dict[Sym, bool]
    index_bounds: dict[Value, list[Dim]] = field(default_factory=dict)

    @classmethod
    def build(cls, graph: Graph, outputs: Sequence[Value]) -> FeedPlan:
        """The plan for computing ``outputs`` of ``graph``: the needed placeholders, their symbolic
        shapes, and for each symbol whether size 0 is accepted."""
        ops = needed_ops(graph, outputs)
        placeholders = [op.results[0] for op in ops if type(op) is Placeholder]
        dims = symbolic_dims(graph, outputs)
        shapes = {v: dims.shape(v) for v in placeholders}
        symbols = dims.symbols(placeholders)
        plan = cls(graph, ops, placeholders, shapes, symbols, {})
        plan.index_bounds = _index_bounds(ops, placeholders, dims.shape)
        for s in symbols:
            sizes = dict.fromkeys(symbols, 2)
            sizes[s] = 0
            plan.zero_ok[s] = plan.accepts(sizes)
        return plan

    def concrete_shape(self, v: Value, sizes: Mapping[Sym, int]) -> tuple[int, ...] | None:
        """Placeholder ``v``'s shape with each symbol replaced by its size in ``sizes``; ``None`` for unknown rank."""
        shape = self.shapes[v]
        if shape is None:
            return None
        return tuple(sizes[d] if type(d) is Sym else d for d in shape)  # type: ignore[misc]

    def accepts(self, sizes: Mapping[Sym, int]) -> bool:
        """Whether every needed op's type rule accepts the placeholders at these sizes."""
        types: dict[Value, Type] = {}
        for v in self.placeholders:
            shape = self.concrete_shape(v, sizes)
            if shape is not None:
                types[v] = TensorType(v.type.dtype, shape)  # type: ignore[attr-defined]
        for op in self.ops:
            if type(op) is Placeholder or type(op).explicit_result_types:
                continue
            operand_types = [types.get(v, v.type) for v in op.operands]
            probe = type(op)([Value(t) for t in operand_types], (), op.attributes)
            try:
                inferred = probe.compute_result_types()
            except (FlowirError, ValueError, TypeError, ArithmeticError):
                return False
            for r, t in zip(op.results, inferred):
                if r.type.meet(t) is None:
                    return False
                types[r] = t
        return True


def _index_bounds(
    ops: Sequence[Operation], placeholders: Sequence[Value], shape_of: Callable[[Value], tuple[Dim, ...] | None]
) -> dict[Value, list[Dim]]:
    """For each placeholder whose values index a dim, the bounds of every dim it indexes."""
    wanted = set(placeholders)
    out: dict[Value, list[Dim]] = {}
    for op in ops:
        entry = INDEX_OPERANDS.get(type(op))
        if entry is None:
            continue
        position, bound_of = entry
        bound = bound_of(op, [shape_of(v) for v in op.operands])
        source = op.operands[position]
        while source.owner is not None and source.owner.name in _TRANSPARENT and source.owner.operands:
            source = source.owner.operands[0]
        if source in wanted and bound is not None:
            out.setdefault(source, []).append(bound)
    return out


def feeds_for(
    fetches: Any,
    *,
    min_side: int = 0,
    max_side: int = 4,
    elements: Mapping[Any, st.SearchStrategy[Any]] | None = None,
    special: bool = False,
    valid_only: bool = False,
) -> st.SearchStrategy[dict[Any, np.ndarray]]:
    """A strategy of feed dicts for every placeholder that ``fetches`` need.

    ``fetches``: tensors, variables or ops of one graph (a frontend graph: keys of the drawn
    dict are its placeholder tensors, usable as ``feed_dict``), or flowir IR values (keys are
    the placeholders' IR values). Each wildcard dim gets a size in ``[min_side, max_side]``
    (``0`` only where the type rules accept an empty dim), one size per group of dims the
    graph forces to agree. ``elements`` maps a placeholder (tensor or IR value) to the
    strategy for its scalar values (default: small finite values of its dtype; ``special``
    adds NaN and infinities to floats). A placeholder of unknown rank gets a random shape.

    Sizes are otherwise free: a batch size the graph cannot take (a reshape that assumes an
    even batch) is drawn, because feeding it is a mistake a shape test should find.
    ``valid_only`` draws only sizes that every type rule accepts.
    """
    graph, outputs, frontend = resolve_fetches(fetches)
    plan = FeedPlan.build(graph, outputs)
    keys: dict[Value, Any] = {v: (frontend._tensor_of(v) if frontend is not None else v) for v in plan.placeholders}
    overrides: dict[Value, st.SearchStrategy[Any]] = {}
    for k, strategy in (elements or {}).items():
        value = k if isinstance(k, Value) else getattr(k, "value", None)
        if value not in keys:
            raise ValueError(f"elements: {k!r} is not a placeholder that these fetches need")
        overrides[value] = strategy
    size_of = {s: st.integers(min_side if plan.zero_ok[s] else max(min_side, 1), max(max_side, min_side, 1)) for s in plan.symbols}

    @st.composite
    def draw_feeds(draw: st.DrawFn) -> dict[Any, np.ndarray]:
        sizes = {s: draw(strategy) for s, strategy in size_of.items()}
        if valid_only:
            assume(plan.accepts(sizes))
        feed: dict[Any, np.ndarray] = {}
        for v in plan.placeholders:
            ty: TensorType = v.type  # type: ignore[assignment]
            shape = plan.concrete_shape(v, sizes)
            concrete = TensorType(ty.dtype, shape) if shape is not None else ty
            elems = overrides.get(v)
            if elems is None and v in plan.index_bounds:
                bound = min(sizes[b] if type(b) is Sym else b for b in plan.index_bounds[v])  # type: ignore[type-var]
                if bound <= 0:
                    assume(shape is not None and 0 in shape)
                    bound = 1
                elems = st.integers(0, bound - 1)
            feed[keys[v]] = draw(arrays_for(concrete, elements=elems, special=special, min_side=max(min_side, 1), max_side=max_side))
        return feed

    return draw_feeds()

