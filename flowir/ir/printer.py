"""Textual form: printer (being written)."""

from __future__ import annotations

from flowir.ir.core import Graph


def print_graph(graph: Graph) -> str:
    raise NotImplementedError
