"""Hypothesis strategies and checks for testing flowir and code built on it.

Strategies for dtypes, shapes, types and arrays live in ``flowir.testing.strategies``; random
well-typed graphs over the whole op catalog, with matching feeds, in
``flowir.testing.generation``; per-dtype comparison in ``flowir.testing.checks``; large
model-like graphs for benchmarks in ``flowir.testing.bigraph``; gradients against finite
differences (``check_grads``) in ``flowir.testing.gradcheck``.

A property test of a pass: the pass must not change what a graph computes.

>>> from hypothesis import given, settings, strategies as st
>>> from flowir.ir.reference import evaluate
>>> from flowir.passes.manager import PassManager
>>> from flowir.testing import assert_results_match, generated_graphs
>>> @settings(max_examples=10, deadline=None)
... @given(case=generated_graphs(max_ops=8), data=st.data())
... def test_cse_preserves_semantics(case, data):
...     feeds = data.draw(case.feeds())
...     before = evaluate(case.graph, feeds.arrays, ctx=feeds.context())
...     after_graph = PassManager("cse", verify_each=True).run(case.build()[0]).graph
...     after = evaluate(after_graph, feeds.arrays, ctx=feeds.context())
...     assert_results_match(after, before)
>>> test_cse_preserves_semantics()

Each generated graph's values have *witness* types (``case.witnesses``): the type with every
dim that varies between runs replaced by a symbol, which ``feeds()`` sizes once per run, so
dims that must agree do. Add a rule for your own op with ``gen_rule``.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public names and the submodule defining each. Loaded on first use, so that
#: ``flowir.testing.bigraph`` (used by benchmarks) does not need hypothesis.
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(["TOLERANCES", "assert_array_matches", "assert_results_match"], "checks"),
    **dict.fromkeys(
        [
            "FAMILY_RULES",
            "GEN_RULES",
            "NOT_GENERATED",
            "Build",
            "Entry",
            "Feeds",
            "GeneratedGraph",
            "GenerationError",
            "Pool",
            "family_rule",
            "gen_rule",
            "generatable_ops",
            "generated_graphs",
            "graphs",
            "rule_for",
        ],
        "generation",
    ),
    **dict.fromkeys(
        ["arrays_for", "broadcastable_shapes", "dtypes", "elements_for", "matmul_shapes", "shapes", "tensor_types"], "strategies"
    ),
    "model_graph": "bigraph",
    **dict.fromkeys(["feeds_for", "FeedPlan", "INDEX_OPERANDS"], "feeds"),
    **dict.fromkeys(["check_shapes", "ShapeCheckError", "ShapeCheckReport"], "shapecheck"),
    **dict.fromkeys(["check_grads", "vjp"], "gradcheck"),
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'flowir.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"flowir.testing.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
