"""Benchmark summaries: training steps per second with a scalar summary written every step
against none.

Usage::

    python benchmarks/bench_summary.py [--steps 200] [--rounds 5] [--backend numpy jax] [--json FILE]
    python benchmarks/bench_summary.py --quick        # a smoke run: 20 steps per round, 2 rounds

The tutorial MLP (784 -> 500 -> 100 -> 10, Adam, batches of 100 random images) trains with
``sess.run([train_step, loss])`` (baseline) and with ``sess.run([train_step, loss,
summary])`` followed by ``writer.add_summary(summary, step)`` on a ``FileWriter`` (the
summary is ``tf.summary.scalar`` of the loss), the two alternating step by step after a
warm-up of each. Reports steps per second from the median step time of each (robust to a
busy machine), the fastest steps, and the overhead; target: within 5%. Every point written
is read back and counted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any

import numpy as np

OVERHEAD_TARGET = 0.05
BATCH = 100


def bench(backend: str | None, steps: int, rounds: int) -> dict[str, Any]:
    import flowir as tf
    from flowir.models import mnist_mlp

    rng = np.random.default_rng(0)
    batches = [
        (rng.random((BATCH, 784), dtype=np.float32), np.eye(10, dtype=np.float32)[rng.integers(0, 10, BATCH)])
        for _ in range(steps)
    ]
    graph = tf.Graph()
    with graph.as_default(), tempfile.TemporaryDirectory() as logdir:
        tf.set_random_seed(0)
        model = mnist_mlp.build_model()
        summary = tf.summary.scalar("train_loss", model.loss)
        sess = tf.Session(graph=graph, backend=backend)
        sess.run(model.init)
        writer = tf.summary.FileWriter(logdir, flush_secs=120)
        counter = [0]

        def plain(xs: np.ndarray, ys: np.ndarray) -> None:
            sess.run([model.train_step, model.loss], {model.x: xs, model.labels: ys})

        def with_summary(xs: np.ndarray, ys: np.ndarray) -> None:
            s, _, _ = sess.run([summary, model.train_step, model.loss], {model.x: xs, model.labels: ys})
            writer.add_summary(s, counter[0])
            counter[0] += 1

        for xs, ys in batches[:2]:
            plain(xs, ys)
            with_summary(xs, ys)
        writer.flush()
        # Steps alternate between the two, so a machine whose load drifts slows both alike.
        base, summ = [], []
        for _ in range(rounds):
            for xs, ys in batches:
                for fn, times in ((plain, base), (with_summary, summ)):
                    start = time.perf_counter()
                    fn(xs, ys)
                    times.append(time.perf_counter() - start)
        writer.close()
        written = _count_points(writer.event_file)
        sess.close()
    base_s, summ_s = float(np.median(base)), float(np.median(summ))
    return {
        "backend": sess.backend.name,
        "steps_per_round": steps,
        "rounds": rounds,
        "baseline_steps_per_s": 1 / base_s,
        "summary_steps_per_s": 1 / summ_s,
        "baseline_fastest_step_ms": min(base) * 1e3,
        "summary_fastest_step_ms": min(summ) * 1e3,
        "overhead": summ_s / base_s - 1,
        "points_written": written,
        "points_expected": counter[0],
    }


def _count_points(path: str) -> int:
    from tensorboardX.proto import event_pb2

    try:
        from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    except ImportError:  # the reader is a dev dependency; without it, trust the writer
        return -1
    return sum(1 for r in RawEventFileLoader(path).Load() if event_pb2.Event.FromString(r).HasField("summary"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--backend", nargs="+", default=["numpy", "jax"])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.rounds = 20, 2
    reports = [bench(b, args.steps, args.rounds) for b in args.backend]
    print(f"{'backend':<8} {'baseline steps/s':>17} {'with summary':>13} {'overhead':>9} {'fastest ms':>15} {'points':>11}")
    ok = True
    for r in reports:
        points = f"{r['points_written']}/{r['points_expected']}"
        print(
            f"{r['backend']:<8} {r['baseline_steps_per_s']:>17.1f} {r['summary_steps_per_s']:>13.1f} "
            f"{r['overhead']:>8.1%} {r['baseline_fastest_step_ms']:>7.2f}/{r['summary_fastest_step_ms']:<7.2f} {points:>11}"
        )
        ok &= r["overhead"] <= OVERHEAD_TARGET and r["points_written"] in (-1, r["points_expected"])
    print(f"target: overhead <= {OVERHEAD_TARGET:.0%}: {'met' if ok else 'NOT met'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(reports, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))
    sys.exit(main())
