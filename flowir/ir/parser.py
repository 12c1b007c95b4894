"""Textual form: parser (being written)."""

from __future__ import annotations

from flowir.ir.core import Graph


def parse_graph(text: str) -> Graph:
    raise NotImplementedError
