"""Benchmark ONNX export: export time of the MNIST MLP and of a 10k-op model-like graph, and
inference latency of the exported MLP in onnxruntime against flowir's jax backend.

Usage::

    python benchmarks/bench_onnx.py [--ops 10000] [--rounds 5] [--json FILE]
    python benchmarks/bench_onnx.py --quick      # a smoke run: 2000 ops, 2 rounds

- export: ``flowir.onnx.export`` from a session (the MLP: 784-500-100-10, variables frozen)
  or ``export_graph`` of ``flowir.testing.model_graph(--ops)`` (its variables given random
  values), with the model checked (``onnx.checker`` full check and strict shape inference)
  and without (``check=False``); best of ``--rounds``, milliseconds.
- latency: one ``InferenceSession.run`` of the exported MLP's logits (CPU provider) against
  one ``Session.run`` of the same logits on the jax backend (compiled, warm), for batches of
  1, 100 and 1000 (the same inputs); best of ``--rounds`` interleaved rounds, milliseconds
  per call.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _timing import best_interleaved_ms  # noqa: E402


def _best_ms(fn, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - t) * 1e3)
    return best


def _mlp(backend: str):
    import flowir as tf
    from flowir.models import mnist_mlp

    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(0)
        model = mnist_mlp.build_model()
    sess = tf.Session(graph=g, backend=backend)
    sess.run(model.init)
    return sess, model


def bench_export(num_ops: int, rounds: int) -> dict:
    import flowir.onnx
    from flowir.backends.onnx import export_graph
    from flowir.ir import ops
    from flowir.testing import model_graph

    sess, m = _mlp("numpy")
    out: dict = {}
    for check in (True, False):
        out[f"mlp_export_ms{'' if check else '_nocheck'}"] = _best_ms(
            lambda check=check: flowir.onnx.export(sess, [m.x], [m.logits], check=check), rounds
        )
    sess.close()

    g = model_graph(num_ops, seed=0)
    rng = np.random.default_rng(0)
    variables = {
        op.var_name: rng.standard_normal(op.value_type.shape).astype(op.value_type.dtype.numpy)
        for op in g.ops
        if isinstance(op, ops.Variable)
    }
    inputs = [*g.inputs, *(op.result for op in g.ops if isinstance(op, ops.Placeholder))]
    names = [f"out{i}" for i in range(len(g.outputs))]
    model = None
    for check in (True, False):
        def run(check=check):
            nonlocal model
            model = export_graph(g, inputs, g.outputs, output_names=names, variables=variables, check=check)

        out[f"graph_export_ms{'' if check else '_nocheck'}"] = _best_ms(run, max(1, rounds // 2))
    out["graph_ops"] = len(g)
    out["graph_onnx_nodes"] = len(model.graph.node)  # type: ignore[union-attr]
    return out


def bench_latency(rounds: int, batches: tuple[int, ...] = (1, 100, 1000)) -> dict:
    import onnxruntime as ort

    import flowir.onnx

    sess, m = _mlp("jax")
    model = flowir.onnx.export(sess, [m.x], [m.logits])
    opts = ort.SessionOptions()
    rt = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    out: dict = {}
    for batch in batches:
        xs = rng.random((batch, 784), dtype=np.float32)
        expected = sess.run(m.logits, {m.x: xs})
        got = rt.run(None, {"input/x": xs})[0]
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
        steps = max(5, 2000 // batch)
        ort_ms, jax_ms = best_interleaved_ms(
            [lambda xs=xs: rt.run(None, {"input/x": xs}), lambda xs=xs: sess.run(m.logits, {m.x: xs})], steps, rounds
        )
        out[batch] = {"onnxruntime_ms": ort_ms, "jax_ms": jax_ms}
    sess.close()
    return out


def _table(results: dict) -> str:
    e = results["export"]
    lines = [
        f"export (best of {results['rounds']} rounds, ms)     checked   unchecked",
        f"  MNIST MLP (784-500-100-10)        {e['mlp_export_ms']:>9.1f} {e['mlp_export_ms_nocheck']:>11.1f}",
        f"  model graph ({e['graph_ops']} ops -> {e['graph_onnx_nodes']} nodes) {e['graph_export_ms']:>9.1f} {e['graph_export_ms_nocheck']:>11.1f}",
        "",
        "MLP inference latency (ms per call)",
        f"  {'batch':>6} {'onnxruntime':>12} {'flowir jax':>11} {'ratio':>7}",
    ]
    for batch, r in results["latency"].items():
        lines.append(
            f"  {batch:>6} {r['onnxruntime_ms']:>12.3f} {r['jax_ms']:>11.3f} {r['onnxruntime_ms'] / r['jax_ms']:>6.2f}x"
        )
    lines.append("ratio: onnxruntime's time over jax's (below 1: onnxruntime is faster)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", default=None, metavar="FILE")
    parser.add_argument("--quick", action="store_true", help="2000 ops, 2 rounds")
    args = parser.parse_args(argv)
    if args.quick:
        args.ops, args.rounds = 2000, 2
    results = {"rounds": args.rounds, "export": bench_export(args.ops, args.rounds), "latency": bench_latency(args.rounds)}
    print(_table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
