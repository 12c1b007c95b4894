"""A pytest plugin for shape tests of a user's flowir graphs; pytest loads it by itself once
flowir is installed (entry point ``pytest11``).

Fixtures:

- ``flowir_graph``: a fresh ``tf.Graph``, the default graph for the test.
- ``shape_check``: ``flowir.testing.check_shapes`` with the command line's settings
  (``--flowir-backends numpy,jax,onnx``, ``--flowir-max-examples N``).

A user's test is then three lines::

    def test_mlp_shapes(flowir_graph, shape_check):
        model = build_model()
        shape_check([model.logits, model.loss])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the ``--flowir-backends`` and ``--flowir-max-examples`` options (pytest hook)."""
    group = parser.getgroup("flowir", "flowir shape checks")
    group.addoption(
        "--flowir-backends",
        default=None,
        help="comma-separated backends the shape_check fixture runs (default: every installed one of numpy,jax,onnx)",
    )
    group.addoption(
        "--flowir-max-examples",
        type=int,
        default=None,
        help="feeds per shape_check call (default: 100)",
    )


@pytest.fixture
def flowir_graph() -> Iterator[Any]:
    """A new ``tf.Graph`` that is the default graph while the test runs."""
    import flowir as tf

    graph = tf.Graph()
    with graph.as_default():
        yield graph


@pytest.fixture
def shape_check(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``check_shapes(fetches, feeds=None, **options)`` with ``--flowir-backends`` and
    ``--flowir-max-examples`` as defaults; returns its ``ShapeCheckReport``."""
    from flowir.testing.shapecheck import check_shapes

    names = request.config.getoption("--flowir-backends")
    max_examples = request.config.getoption("--flowir-max-examples")
    defaults: dict[str, Any] = {}
    if names:
        defaults["backends"] = tuple(n.strip() for n in names.split(",") if n.strip())
    if max_examples is not None:
        defaults["max_examples"] = max_examples

    def check(fetches: Any, feeds: Any = None, **options: Any) -> Any:
        return check_shapes(fetches, feeds, **{**defaults, **options})

    return check
