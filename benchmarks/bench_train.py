"""Benchmark training: one step of the MNIST MLP on flowir against the same step in plain numpy.

Usage::

    python benchmarks/bench_train.py [--steps 50] [--rounds 5] [--backend numpy] [--json FILE]
    python benchmarks/bench_train.py --quick          # a smoke run: 10 steps per round, 2 rounds
    python benchmarks/bench_train.py --profile        # cProfile of the flowir steps, top functions
    python benchmarks/bench_train.py --full           # also the 20000-step run: wall time, accuracy
    python benchmarks/bench_train.py --full --full-reference   # and the numpy reference's full run

1. Step time: the tutorial MLP (784 -> 500 -> 100 -> 10, ReLU, mean softmax cross-entropy,
   TF1's Adam) takes one batch of 100 per ``sess.run([train_step, loss])`` on the chosen
   backend, after its first (compiling) run; the same forward, backward and Adam update are
   written directly in numpy (``NumpyMLP``) and run in the same process on the same batches,
   from the same initial weights. The two are checked to agree after a step first. Reports
   milliseconds per step (best over interleaved rounds of the mean of ``--steps`` steps) and
   the ratio; target: at most 1.3x numpy.
2. ``--full``: ``flowir.models.mnist_mlp.train`` with its defaults (20000 steps), per backend:
   wall time, steps per second and test accuracy (target >= 97.5%).

MNIST is read from ``FLOWIR_DATA_DIR`` (or the cache) when present; the step benchmark falls
back to random data of the same shapes without it.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from typing import Any

import numpy as np

STEP_RATIO_TARGET = 1.3
ACCURACY_TARGET = 0.975
BATCH = 100
SIZES = (784, 500, 100, 10)


class NumpyMLP:
    """The MLP's training step written directly in numpy (float32): forward, backward, Adam.

    ``params`` are ``[w1, b1, w2, b2, w3, b3]``; Adam follows TF1 (``lr_t = lr *
    sqrt(1 - beta2^t) / (1 - beta1^t)``, epsilon added to ``sqrt(v)``).
    """

    def __init__(
        self, params: list[np.ndarray], lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ):
        self.params = [np.array(p, np.float32) for p in params]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps

    @staticmethod
    def initial_params(rng: np.random.Generator) -> list[np.ndarray]:
        params = []
        for n_in, n_out in zip(SIZES[:-1], SIZES[1:]):
            w = rng.standard_normal((n_in, n_out), dtype=np.float32)
            while (bad := np.abs(w) > 2.0).any():
                w[bad] = rng.standard_normal(int(bad.sum()), dtype=np.float32)
            params += [w * np.float32(0.1), np.full(n_out, 0.1, np.float32)]
        return params

    def logits(self, x: np.ndarray) -> np.ndarray:
        w1, b1, w2, b2, w3, b3 = self.params
        h1 = np.maximum(x @ w1 + b1, 0)
        h2 = np.maximum(h1 @ w2 + b2, 0)
        return h2 @ w3 + b3

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One Adam step on the batch ``(x, y)`` (one-hot labels); returns the batch's loss."""
        w1, b1, w2, b2, w3, b3 = self.params
        z1 = x @ w1 + b1
        h1 = np.maximum(z1, 0)
        z2 = h1 @ w2 + b2
        h2 = np.maximum(z2, 0)
        logits = h2 @ w3 + b3
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        loss = float(-(y * (shifted - np.log(total))).sum(axis=1).mean())
        g3 = (exp / total - y) / np.float32(x.shape[0])
        g2 = (g3 @ w3.T) * (z2 > 0)
        g1 = (g2 @ w2.T) * (z1 > 0)
        grads = [x.T @ g1, g1.sum(axis=0), h1.T @ g2, g2.sum(axis=0), h2.T @ g3, g3.sum(axis=0)]
        self.t += 1
        lr_t = np.float32(self.lr * np.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t))
        b1_, b2_ = np.float32(self.beta1), np.float32(self.beta2)
        for p, m, v, g in zip(self.params, self.m, self.v, grads):
            m *= b1_
            m += (1 - b1_) * g
            v *= b2_
            v += (1 - b2_) * (g * g)
            p -= lr_t * m / (np.sqrt(v) + np.float32(self.eps))
        return loss


def load_batches(count: int, seed: int = 0) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """``count`` training batches of MNIST (or random data of its shapes) and where they came from."""
    from flowir.datasets import DatasetError, mnist

    try:
        data = mnist.read_data_sets(one_hot=True, seed=seed, download=False)
    except DatasetError:
        rng = np.random.default_rng(seed)
        labels = np.eye(10, dtype=np.float32)[rng.integers(0, 10, (count, BATCH))]
        return [
            (rng.random((BATCH, 784), dtype=np.float32), labels[i]) for i in range(count)
        ], "random data (no MNIST found)"
    return [data.train.next_batch(BATCH) for _ in range(count)], "MNIST"


def bench_step(backend: str | None, steps: int, rounds: int, profile: bool) -> dict[str, Any]:
    """Milliseconds per training step on flowir (``backend``) and in numpy, and their ratio."""
    import flowir as tf
    from flowir.models import mnist_mlp

    batches, source = load_batches(steps)
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(0)
        model = mnist_mlp.build_model()
        params = tf.trainable_variables()
        sess = tf.Session(graph=graph, backend=backend)
        sess.run(model.init)
        ref = NumpyMLP(sess.run(params))

        def flowir_step(xs: np.ndarray, ys: np.ndarray) -> float:
            return sess.run([model.train_step, model.loss], {model.x: xs, model.labels: ys})[1]

        # Same start, same batch: the two implementations must agree before being compared.
        xs, ys = batches[0]
        loss_f, loss_n = flowir_step(xs, ys), ref.step(xs, ys)
        np.testing.assert_allclose(loss_f, loss_n, rtol=1e-4)
        for got, want in zip(sess.run(params), ref.params):
            np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5)

        def timed(fn: Any) -> float:
            start = time.perf_counter()
            for xs, ys in batches:
                fn(xs, ys)
            return (time.perf_counter() - start) / len(batches) * 1e3

        flowir_ms, numpy_ms = [], []
        for _ in range(rounds):
            flowir_ms.append(timed(flowir_step))
            numpy_ms.append(timed(ref.step))
        report = {
            "backend": sess.backend.name,
            "data": source,
            "steps_per_round": steps,
            "rounds": rounds,
            "flowir_ms": min(flowir_ms),
            "numpy_ms": min(numpy_ms),
            "flowir_ms_median": float(np.median(flowir_ms)),
            "numpy_ms_median": float(np.median(numpy_ms)),
        }
        report["ratio"] = report["flowir_ms"] / report["numpy_ms"]
        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            timed(flowir_step)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
            report["profile"] = out.getvalue()
        sess.close()
    return report


def bench_full(backend: str | None, seed: int) -> dict[str, Any]:
    """The default 20000-step run of ``flowir mnist`` on ``backend``: wall time and accuracy."""
    from flowir.datasets import mnist
    from flowir.models import mnist_mlp

    data = mnist.read_data_sets(one_hot=True, seed=seed)
    r = mnist_mlp.train(data=data, backend=backend, seed=seed, progress=sys.stderr)
    return {
        "backend": r.backend,
        "steps": r.steps,
        "seconds": r.seconds,
        "steps_per_s": r.steps / r.seconds,
        "test_accuracy": r.test_accuracy,
    }


def reference_full(steps: int, seed: int) -> dict[str, Any]:
    """The same 20000 steps with ``NumpyMLP``: the accuracy and time flowir should match."""
    from flowir.datasets import mnist

    data = mnist.read_data_sets(one_hot=True, seed=seed)
    ref = NumpyMLP(NumpyMLP.initial_params(np.random.default_rng(seed)))
    start = time.perf_counter()
    for _ in range(steps):
        ref.step(*data.train.next_batch(BATCH))
    seconds = time.perf_counter() - start
    accuracy = float((ref.logits(data.test.images).argmax(1) == data.test.labels.argmax(1)).mean())
    return {
        "backend": "numpy reference",
        "steps": steps,
        "seconds": seconds,
        "steps_per_s": steps / seconds,
        "test_accuracy": accuracy,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="MNIST MLP training step: flowir against plain numpy")
    parser.add_argument("--steps", type=int, default=50, help="steps per timing round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (best is reported)")
    parser.add_argument("--backend", action="append", help="backend(s) to measure (default: numpy)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 10 steps per round, 2 rounds")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the flowir steps")
    parser.add_argument("--full", action="store_true", help="also the full 20000-step run (minutes)")
    parser.add_argument(
        "--full-reference", action="store_true", help="with --full, also the numpy reference's full run"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.rounds = 10, 2
    backends = args.backend or ["numpy"]
    results: dict[str, Any] = {"step": [], "full": []}
    print(f"MNIST MLP training step, batch {BATCH} (best of {args.rounds} rounds of {args.steps} steps)")
    print(f"{'backend':<10} {'flowir ms':>10} {'numpy ms':>10} {'ratio':>7}  (target <= {STEP_RATIO_TARGET}x)")
    for name in backends:
        r = bench_step(name, args.steps, args.rounds, args.profile)
        results["step"].append(r)
        flag = "ok" if r["ratio"] <= STEP_RATIO_TARGET else "MISSED"
        print(
            f"{r['backend']:<10} {r['flowir_ms']:>10.2f} {r['numpy_ms']:>10.2f} {r['ratio']:>6.2f}x  {flag}  [{r['data']}]"
        )
        if args.profile:
            print(r["profile"])
    if args.full:
        runs = [bench_full(name, args.seed) for name in backends]
        if args.full_reference:
            runs.append(reference_full(20000, args.seed))
        print(f"\nfull run, 20000 steps (target >= {ACCURACY_TARGET:.1%} test accuracy)")
        print(f"{'backend':<16} {'seconds':>9} {'steps/s':>9} {'accuracy':>9}")
        for r in runs:
            print(f"{r['backend']:<16} {r['seconds']:>9.1f} {r['steps_per_s']:>9.1f} {r['test_accuracy']:>9.2%}")
        results["full"] = runs
    if args.json:
        for r in results["step"]:
            r.pop("profile", None)
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
