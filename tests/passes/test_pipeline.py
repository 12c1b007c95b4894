"""The standard pipeline on generated graphs: semantics, fixpoint and linear scaling."""

from __future__ import annotations

import cProfile
import pstats

import numpy as np
import pytest

from flowir.ir import verify
from flowir.passes import PassManager
from tests.passes.helpers import check_pass, generate_graph

PIPELINE = "shape-inference,prune,constant-fold,cse,canonicalize"


def generated_feeds(batch: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {f"in{i}": rng.standard_normal((batch, 8)).astype(np.float32) for i in range(4)}


@pytest.mark.parametrize("seed", [0, 1])
def test_generated_graph_semantics(seed: int) -> None:
    g = check_pass(PIPELINE, lambda: generate_graph(3000, seed), generated_feeds(), idempotent=False)
    before = len(generate_graph(3000, seed))
    assert len(g) < before * 0.8, "the generated graph should give every pass work to do"


@pytest.mark.parametrize("name", PIPELINE.split(","))
def test_each_pass_on_generated_graphs(name: str) -> None:
    check_pass(name, lambda: generate_graph(2000, 3), generated_feeds())


def test_every_pass_has_work_on_generated_graphs() -> None:
    """Each pass but shape-inference (the builder already inferred every type) changes it."""
    g = generate_graph(3000)
    for name in PIPELINE.split(",")[1:]:
        result = PassManager(name).run(g)
        assert result.modified, f"{name} found nothing to do"
        verify(g)


def _pipeline_calls(n_ops: int) -> int:
    """Python function calls the pipeline makes on a generated graph of ``n_ops`` ops: a
    measure of work that, unlike time, does not depend on the machine's load."""
    g = generate_graph(n_ops)
    profiler = cProfile.Profile()
    profiler.enable()
    PassManager(PIPELINE).run(g)
    profiler.disable()
    return pstats.Stats(profiler).total_calls  # type: ignore[attr-defined,no-any-return]


def test_pipeline_scales_linearly() -> None:
    """Doubling the graph at most about doubles the work (no quadratic step)."""
    small, large = _pipeline_calls(5000), _pipeline_calls(10000)
    assert large / small < 2.3, f"5k ops: {small} calls, 10k ops: {large} calls"
