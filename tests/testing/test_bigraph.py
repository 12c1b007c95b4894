"""The large model-like graph generator and the pipeline benchmark's smoke mode."""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

import numpy as np

from flowir.ir import ops
from flowir.ir.core import Trait
from flowir.ir.printer import print_graph
from flowir.ir.reference import RefContext, evaluate
from flowir.ir.verifier import verify
from flowir.passes.manager import PassManager
from flowir.testing import assert_results_match
from flowir.testing.bigraph import model_graph

PIPELINE = "shape-inference,prune,constant-fold,cse,canonicalize"
ROOT = Path(__file__).resolve().parents[2]


def test_same_seed_same_graph_other_seed_other_graph() -> None:
    a, b, c = model_graph(1500, seed=3), model_graph(1500, seed=3), model_graph(1500, seed=4)
    assert print_graph(a) == print_graph(b)
    assert print_graph(a) != print_graph(c)


def test_size_and_validity() -> None:
    for n in (1, 500, 3000):
        g = model_graph(n, seed=n)
        verify(g)
        assert n <= len(g) < n + 40
        assert g.outputs


def test_holds_what_the_passes_remove() -> None:
    g = model_graph(3000, seed=0)
    kinds = {type(op) for op in g.ops}
    assert {ops.MatMul, ops.Add, ops.Reshape, ops.Transpose, ops.Identity, ops.Neg, ops.ReduceMean} <= kinds
    before = len(g)
    # Types are inferred when ops are created, so shape inference has nothing to refine here.
    for name in ("prune", "constant-fold", "cse", "canonicalize"):
        result = PassManager(name, verify_each=True).run(g)
        assert result.modified, f"{name} found nothing to do"
        g = result.graph
    assert len(g) < 0.6 * before


def test_pipeline_preserves_what_it_computes() -> None:
    g = model_graph(1500, seed=7)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 32)).astype(np.float32)
    variables = {
        op.var_name: rng.standard_normal(op.value_type.shape).astype(np.float32)
        for op in g.ops
        if type(op) is ops.Variable
    }
    expected = evaluate(g, {"inputs/x": x}, ctx=RefContext(dict(variables)))
    out = PassManager(PIPELINE, verify_each=True).run(g).graph
    assert not any(op.has_trait(Trait.RANDOM) for op in out.ops)
    got = evaluate(out, {"inputs/x": x}, ctx=RefContext(dict(variables)))
    assert_results_match(got, expected)


def test_location_capture_is_optional() -> None:
    plain = model_graph(200, seed=1)
    located = model_graph(200, seed=1, locations=True)
    assert not any(op.location.is_known for op in plain.ops)
    assert all(op.location.is_known for op in located.ops)


def test_benchmark_quick_mode_runs() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_pipeline.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "pipeline" in proc.stdout and "canonicalize" in proc.stdout


def test_doctests() -> None:
    import flowir.testing.bigraph

    result = doctest.testmod(flowir.testing.bigraph)
    assert result.failed == 0 and result.attempted > 0
