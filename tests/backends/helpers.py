"""Turning a graph into a backend ``Program`` the way a session does: cut, then functionalize."""

from __future__ import annotations

from collections.abc import Sequence

from flowir.backends import Program
from flowir.ir import Graph, Trait, Value
from flowir.ir.transforms import extract_subgraph
from flowir.passes.functionalize import functionalize_state

__all__ = ["make_program", "feedable_inputs"]


def feedable_inputs(graph: Graph) -> list[Value]:
    """The graph inputs, then the placeholders' values, in program order."""
    return [*graph.inputs, *(op.results[0] for op in graph.ops if Trait.INPUT in op.traits)]


def make_program(graph: Graph, fetches: Sequence[Value] | None = None, feeds: Sequence[Value] | None = None) -> Program:
    """A program computing ``fetches`` (default: the graph outputs) from ``feeds`` (default:
    ``feedable_inputs``); ``graph`` is left as it is."""
    fetches = list(graph.outputs if fetches is None else fetches)
    feeds = feedable_inputs(graph) if feeds is None else list(feeds)
    sub, _ = extract_subgraph(graph, fetches, feeds)
    sig = functionalize_state(sub)
    return Program(sub, len(feeds), [name for name, _ in sig.reads], len(fetches), sig.writes)
