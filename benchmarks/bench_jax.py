"""Benchmark the jax backend against hand-written JAX and TensorFlow 1, in one process.

Usage::

    python benchmarks/bench_jax.py [--runs 20000] [--sizes 1,100,10000] [--chain 20000]
                                   [--batches 100,1000] [--steps 100] [--json FILE]
    python benchmarks/bench_jax.py --quick        # a smoke run: 2000 runs per round, a 2000-op chain

1. Overhead: a cached ``sess.run(y)`` of ``y = x * a + b`` (``x`` fed float32, ``a`` a
   constant, ``b`` a variable) on the jax backend, against calling a ``jax.jit`` of the same
   function with ``x`` as a numpy array and ``a``, ``b`` already on the device, and fetching
   the result as numpy. Microseconds per run, best of 5 rounds; targets: the session under
   20 us for the smallest ``x`` (where a run is all overhead) and at most 2x the direct call
   at every size.
2. Compile time: an elementwise chain of ``--chain`` ops, from graph construction to the
   first result, against ``jax.jit`` tracing and compiling the same chain. Seconds; target:
   no slower than jax. The flowir time is split into building the graph (the TF1 API), the
   session's graph work (extraction, passes) and the backend's trace and XLA compile.

3. Training step: one step of the MNIST MLP (784-500-100-10, ReLU, softmax cross-entropy,
   TF1's Adam; ``flowir.models.mnist_mlp``) per ``sess.run([train_step, loss])`` on random
   data at each of ``--batches``, against the same step written in JAX (``jax.jit`` of
   ``value_and_grad`` and Adam, state donated), interleaved rounds; target: at most 1.05x.

TensorFlow 1 (``tensorflow.compat.v1`` in graph mode) is timed side by side in each part
when ``import tensorflow`` works (``--no-tf`` skips it); otherwise the table says it was
skipped. TF1 targets: the cached run at least 7x faster than TF1's, the training step at
least 1.3x faster. A separate virtual environment holding both (``pip install
tensorflow-cpu`` and ``pip install -e .``) runs the whole comparison.

Wall-clock figures on a loaded machine are inflated by other processes; the compile-time
part also reports this process's CPU seconds, which they inflate less.

Prints a table of the figures with the ratios and whether each target is met.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import numpy as np
from _timing import Stopwatch, best_interleaved_ms, round_ms, time_per_run

SESSION_TARGET_US = 20.0
RATIO_TARGET = 2.0
TF1_OVERHEAD_SPEEDUP_TARGET = 7.0
COMPILE_RATIO_TARGET = 1.0
MLP_RATIO_TARGET = 1.05
TF1_MLP_SPEEDUP_TARGET = 1.3

__all__ = ["flowir_mlp_step", "jax_mlp_step", "random_mnist", "round_ms", "trainable_values", "tf1"]


def tf1() -> Any:
    """``tensorflow.compat.v1``, or ``None`` when TensorFlow does not import (the reason is
    printed once)."""
    global _TF1
    if _TF1 is False:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            import tensorflow as tf_module
        except Exception as e:  # not installed, or a broken install
            print(f"TensorFlow 1 figures skipped: import tensorflow failed ({type(e).__name__}: {e})")
            _TF1 = None
        else:
            _TF1 = tf_module.compat.v1
    return _TF1


_TF1: Any = False


def bench_overhead(size: int, runs: int, with_tf: bool) -> dict[str, float]:
    """Microseconds per cached ``sess.run(x * a + b)`` on jax, per direct jitted call, and
    per TF1 ``sess.run`` (``nan`` without TensorFlow)."""
    import jax

    import flowir as tf

    rng = np.random.default_rng(0)
    xv, av, bv = (rng.random(size, dtype=np.float32) for _ in range(3))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [size], name="x")
        a = tf.constant(av, name="a")
        b = tf.Variable(bv, name="b")
        y = x * a + b
        with tf.Session(backend="jax") as sess:
            sess.run(b.initializer)
            np.testing.assert_allclose(sess.run(y, {x: xv}), xv * av + bv, rtol=1e-6)
            feed = {x: xv}
            session_us = time_per_run(lambda: sess.run(y, feed), runs)

    f = jax.jit(lambda x, a, b: x * a + b)
    a_dev, b_dev = jax.device_put(av), jax.device_put(bv)
    np.testing.assert_allclose(np.asarray(f(xv, a_dev, b_dev)), xv * av + bv, rtol=1e-6)
    jax_us = time_per_run(lambda: np.asarray(f(xv, a_dev, b_dev)), runs)

    tf_us = float("nan")
    v1 = tf1() if with_tf else None
    if v1 is not None:
        with v1.Graph().as_default() as g:
            x1 = v1.placeholder(v1.float32, [size], name="x")
            y1 = x1 * v1.constant(av) + v1.Variable(bv)
            with v1.Session(graph=g) as tf_sess:
                tf_sess.run(v1.global_variables_initializer())
                np.testing.assert_allclose(tf_sess.run(y1, {x1: xv}), xv * av + bv, rtol=1e-6)
                tf_feed = {x1: xv}
                tf_us = time_per_run(lambda: tf_sess.run(y1, tf_feed), max(runs // 10, 200))
    return {
        "size": size,
        "session_us": session_us,
        "jax_us": jax_us,
        "tf1_us": tf_us,
        "ratio": session_us / jax_us,
        "tf1_speedup": tf_us / session_us,
    }


#: The chain's steps, as flowir ops and as jax functions; each keeps values finite and moving.
_STEPS = ("mul", "add", "tanh", "neg")


def _flowir_chain(n_ops: int, xv: np.ndarray) -> tuple[np.ndarray, Stopwatch, Stopwatch, float]:
    """One flowir run of the chain: its output, the total and graph-building stopwatches and
    the jax backend's (trace + XLA) seconds."""
    import flowir as tf
    from flowir import backends

    backend = backends.get("jax")
    with Stopwatch() as total:
        with tf.Graph().as_default():
            with Stopwatch() as build:
                x = tf.placeholder(tf.float32, [256], name="x")
                y = x
                for i in range(n_ops):
                    step = _STEPS[i % 4]
                    y = y * 1.0001 if step == "mul" else y + 0.5 if step == "add" else tf.tanh(y) if step == "tanh" else -y
            compiling = backend.compile_seconds
            with tf.Session(backend="jax") as sess:
                out = sess.run(y, {x: xv})
    return out, total, build, backend.compile_seconds - compiling


def _jax_chain(n_ops: int, xv: np.ndarray) -> tuple[np.ndarray, Stopwatch]:
    """One ``jax.jit`` run of the chain (a new function, so nothing is cached)."""
    import jax
    import jax.numpy as jnp

    def chain(v: Any) -> Any:
        for i in range(n_ops):
            step = _STEPS[i % 4]
            v = (
                v * jnp.float32(1.0001)
                if step == "mul"
                else v + jnp.float32(0.5)
                if step == "add"
                else jnp.tanh(v)
                if step == "tanh"
                else -v
            )
        return v

    with Stopwatch() as sw:
        out = np.asarray(jax.jit(chain)(xv))
    return out, sw


def _tf1_chain(v1: Any, n_ops: int, xv: np.ndarray) -> tuple[np.ndarray, Stopwatch]:
    steps = {
        "mul": lambda t: t * 1.0001,
        "add": lambda t: t + 0.5,
        "tanh": v1.tanh,
        "neg": lambda t: -t,
    }
    with Stopwatch() as sw:
        with v1.Graph().as_default() as g:
            x1 = v1.placeholder(v1.float32, [256], name="x")
            y1 = x1
            for i in range(n_ops):
                y1 = steps[_STEPS[i % 4]](y1)
            with v1.Session(graph=g) as tf_sess:
                out = tf_sess.run(y1, {x1: xv})
    return out, sw


def bench_compile(n_ops: int, with_tf: bool, rounds: int = 2) -> dict[str, float]:
    """Seconds from graph construction to the first result of an ``n_ops`` elementwise chain,
    on flowir's jax backend, with ``jax.jit`` directly and in TF1 (``nan`` without it); wall
    and CPU seconds, the best of ``rounds`` interleaved rounds. Each contender's graph is
    garbage before the next one starts (collected in between), so none pays for another's
    objects in its garbage collections."""
    import gc

    xv = np.linspace(-1, 1, 256, dtype=np.float32)
    v1 = tf1() if with_tf else None
    best: dict[str, Any] = {}

    def keep(name: str, sw: Stopwatch, **extra: float) -> None:
        if name not in best or sw.wall < best[name][0].wall:
            best[name] = (sw, extra)

    for _ in range(rounds):
        gc.collect()
        flowir_out, total, build, backend_s = _flowir_chain(n_ops, xv)
        keep("flowir", total, build_s=build.wall, build_cpu_s=build.cpu, backend_s=backend_s)
        gc.collect()
        jax_out, jax_time = _jax_chain(n_ops, xv)
        keep("jax", jax_time)
        np.testing.assert_allclose(flowir_out, jax_out, rtol=1e-4, atol=1e-5)
        if v1 is not None:
            gc.collect()
            tf_out, tf_time = _tf1_chain(v1, n_ops, xv)
            keep("tf1", tf_time)
            np.testing.assert_allclose(tf_out, jax_out, rtol=1e-4, atol=1e-5)
        del flowir_out, jax_out
    total, extra = best["flowir"]
    jax_time = best["jax"][0]
    tf_s = best["tf1"][0].wall if "tf1" in best else float("nan")
    tf_cpu = best["tf1"][0].cpu if "tf1" in best else float("nan")
    return {
        "ops": n_ops,
        "flowir_s": total.wall,
        "flowir_cpu_s": total.cpu,
        "build_s": extra["build_s"],
        "build_cpu_s": extra["build_cpu_s"],
        "session_s": total.wall - extra["build_s"] - extra["backend_s"],
        "backend_s": extra["backend_s"],
        "jax_s": jax_time.wall,
        "jax_cpu_s": jax_time.cpu,
        "tf1_s": tf_s,
        "tf1_cpu_s": tf_cpu,
        "ratio": total.wall / jax_time.wall,
        "cpu_ratio": total.cpu / jax_time.cpu,
        "backend_ratio": extra["backend_s"] / jax_time.wall,
    }


# --------------------------------------------------------------------------------------------
# The MNIST MLP training step: flowir and hand-written JAX


def flowir_mlp_step(device_name: str | None, backend: str, batch: int, data: tuple[np.ndarray, np.ndarray]) -> Any:
    """A session running the tutorial MLP's training step (``flowir.models.mnist_mlp``, under
    ``tf.device(device_name)`` if given) on the first ``batch`` examples of ``data``; returns
    ``(step, session, model)``, ``step()`` running ``[train_step, loss]`` and giving the loss."""
    import flowir as tf
    from flowir.models import mnist_mlp

    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(1)
        if device_name:
            with tf.device(device_name):
                model = mnist_mlp.build_model()
        else:
            model = mnist_mlp.build_model()
    sess = tf.Session(graph=graph, backend=backend)
    sess.run(model.init)
    xs, ys = data
    feed = {model.x: xs[:batch], model.labels: ys[:batch]}
    fetches = [model.train_step, model.loss]

    def step() -> float:
        return sess.run(fetches, feed)[1]

    return step, sess, model


def trainable_values(sess: Any, model: Any) -> list[np.ndarray]:
    """The values of the session's trainable variables, in creation order."""
    import flowir as tf

    with sess.graph.as_default():
        trainable = tf.trainable_variables()
    return [np.asarray(sess.run(v)) for v in trainable]


def jax_mlp_step(params: list[np.ndarray], batch: int, data: tuple[np.ndarray, np.ndarray]) -> Any:
    """The same step written in JAX from ``params`` (``[w1, b1, w2, b2, w3, b3]``): forward,
    backward (``jax.value_and_grad``), TF1's Adam, one ``jax.jit`` with the state donated.
    Returns ``step(x=None, y=None)``, which runs it (on the first ``batch`` examples of
    ``data``, or on ``x``, ``y`` when given) and gives the loss."""
    import jax
    import jax.numpy as jnp

    lr, b1, b2, eps = 0.001, 0.9, 0.999, 1e-8

    def loss_fn(p: list[Any], x: Any, y: Any) -> Any:
        h = x
        for i in range(0, 6, 2):
            h = h @ p[i] + p[i + 1]
            if i < 4:
                h = jax.nn.relu(h)
        return jnp.mean(-jnp.sum(y * jax.nn.log_softmax(h), axis=1))

    def step(state: Any, x: Any, y: Any) -> Any:
        p, m, v, t = state
        loss, g = jax.value_and_grad(loss_fn)(p, x, y)
        t = t + 1
        lr_t = lr * jnp.sqrt(1 - b2**t) / (1 - b1**t)
        m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g)]
        v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g)]
        p = [pi - lr_t * mi / (jnp.sqrt(vi) + eps) for pi, mi, vi in zip(p, m, v)]
        return (p, m, v, t), loss

    jitted = jax.jit(step, donate_argnums=0)
    p = [jnp.asarray(a) for a in params]
    state = [p, [jnp.zeros_like(a) for a in p], [jnp.zeros_like(a) for a in p], jnp.float32(0)]
    xs, ys = data
    x, y = xs[:batch], ys[:batch]
    holder = [state]

    def run(bx: np.ndarray | None = None, by: np.ndarray | None = None) -> float:
        holder[0], loss = jitted(holder[0], x if bx is None else bx, y if by is None else by)
        return float(loss)

    return run


def random_mnist(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random MNIST-shaped examples: float32 images ``[n, 784]`` and one-hot labels."""
    rng = np.random.default_rng(seed)
    return rng.random((n, 784), dtype=np.float32), np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]


def tf1_mlp_step(v1: Any, params: list[np.ndarray], batch: int, data: tuple[np.ndarray, np.ndarray]) -> Any:
    """The same step in TF1 graph mode from ``params``: ``softmax_cross_entropy_with_logits_v2``,
    ``reduce_mean``, ``AdamOptimizer(0.001).minimize``. Returns ``step()``, giving the loss."""
    graph = v1.Graph()
    with graph.as_default():
        x = v1.placeholder(v1.float32, [None, 784])
        labels = v1.placeholder(v1.float32, [None, 10])
        weights = [v1.Variable(p) for p in params]
        h = x
        for i in range(0, 6, 2):
            h = v1.matmul(h, weights[i]) + weights[i + 1]
            if i < 4:
                h = v1.nn.relu(h)
        loss = v1.reduce_mean(v1.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=h))
        train = v1.train.AdamOptimizer(0.001).minimize(loss)
        init = v1.global_variables_initializer()
    sess = v1.Session(graph=graph)
    sess.run(init)
    xs, ys = data
    feed = {x: xs[:batch], labels: ys[:batch]}
    fetches = [train, loss]

    def step() -> float:
        return sess.run(fetches, feed)[1]

    return step


def bench_mlp_step(batch: int, steps: int, rounds: int, with_tf: bool) -> dict[str, float]:
    """Milliseconds per MLP training step at ``batch``: flowir's jax backend, hand-written
    JAX and TF1 (``nan`` without it), interleaved rounds, best of each."""
    data = random_mnist(batch)
    flowir_step, sess, model = flowir_mlp_step(None, "jax", batch, data)
    params = trainable_values(sess, model)
    hand_step = jax_mlp_step(params, batch, data)
    steps_fns = [flowir_step, hand_step]
    v1 = tf1() if with_tf else None
    if v1 is not None:
        steps_fns.append(tf1_mlp_step(v1, params, batch, data))
    losses = [fn() for fn in steps_fns]  # compile all; from one start, the first losses agree
    np.testing.assert_allclose(losses, losses[0], rtol=1e-4)
    best = best_interleaved_ms(steps_fns, steps, rounds)
    flowir_ms, jax_ms = best[0], best[1]
    tf_ms = best[2] if len(best) > 2 else float("nan")
    return {
        "batch": batch,
        "flowir_ms": flowir_ms,
        "jax_ms": jax_ms,
        "tf1_ms": tf_ms,
        "ratio": flowir_ms / jax_ms,
        "tf1_speedup": tf_ms / flowir_ms,
    }


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def _fmt(v: float, unit: str, digits: int = 2) -> str:
    if v != v:  # nan: not measured
        return "-"
    return f"{v:.{digits}f}x" if unit == "x" else f"{v:.{digits}f} {unit}"


def _print_table(rows: list[tuple[str, str, str, str, str, str]]) -> None:
    header = ("measure", "flowir", "jax", "TF1", "flowir/jax", "TF1/flowir")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20000, help="runs per timing round")
    parser.add_argument("--sizes", default="1,100,10000", help="sizes of x, comma-separated")
    parser.add_argument("--chain", type=int, default=20000, help="ops in the compile-time chain (0: skip)")
    parser.add_argument("--chain-rounds", type=int, default=2, help="interleaved rounds of the chain (best of)")
    parser.add_argument("--batches", default="100,1000", help="MLP training-step batch sizes ('': skip)")
    parser.add_argument("--steps", type=int, default=100, help="MLP training steps per timing round")
    parser.add_argument("--no-tf", action="store_true", help="do not time TensorFlow 1 even if it imports")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2000 runs per round, a 2000-op chain")
    args = parser.parse_args(argv)
    runs = 2000 if args.quick else args.runs
    chain = min(args.chain, 2000) if args.quick else args.chain
    with_tf = not args.no_tf

    import jax

    print(f"jax {jax.__version__} on {jax.devices()[0]}, {os.cpu_count()} CPUs")
    v1 = tf1() if with_tf else None
    if v1 is not None:
        import tensorflow

        print(f"TensorFlow {tensorflow.__version__} (compat.v1 graph mode) timed side by side")
    table: list[tuple[str, str, str, str, str, str]] = []

    print(f"cached Session.run of x * a + b on the jax backend vs a jitted JAX call vs TF1, best of 5 x {runs} runs")
    overhead = [bench_overhead(int(s), runs, with_tf) for s in args.sizes.split(",")]
    for r in overhead:
        table.append(
            (
                f"sess.run(x*a+b), size {r['size']}",
                _fmt(r["session_us"], "us"),
                _fmt(r["jax_us"], "us"),
                _fmt(r["tf1_us"], "us"),
                f"{r['ratio']:.2f}x",
                _fmt(r["tf1_speedup"], "x"),
            )
        )
    # The absolute target is for the run's overhead: the smallest x, where compute is nil.
    smallest = min(overhead, key=lambda r: r["size"])
    worst_ratio = max(r["ratio"] for r in overhead)
    verdicts = [
        f"session at size {smallest['size']}: {smallest['session_us']:.2f} us (target < {SESSION_TARGET_US:.0f} us): "
        + _verdict(smallest["session_us"] < SESSION_TARGET_US),
        f"worst session/jax ratio {worst_ratio:.2f}x (target <= {RATIO_TARGET:.0f}x): {_verdict(worst_ratio <= RATIO_TARGET)}",
    ]
    if v1 is not None:
        speedup = smallest["tf1_speedup"]
        verdicts.append(
            f"TF1/session at size {smallest['size']}: {speedup:.1f}x (target >= {TF1_OVERHEAD_SPEEDUP_TARGET:.0f}x): "
            + _verdict(speedup >= TF1_OVERHEAD_SPEEDUP_TARGET)
        )

    results: dict[str, Any] = {"overhead": overhead}
    batches = [int(s) for s in args.batches.split(",") if s]
    if batches:
        steps, rounds = (10, 2) if args.quick else (args.steps, 5)
        print(f"MNIST MLP training step (784-500-100-10, Adam), best of {rounds} x {steps} steps, interleaved")
        mlp = [bench_mlp_step(b, steps, rounds, with_tf) for b in batches]
        for r in mlp:
            table.append(
                (
                    f"MLP Adam step, batch {r['batch']}",
                    _fmt(r["flowir_ms"], "ms", 3),
                    _fmt(r["jax_ms"], "ms", 3),
                    _fmt(r["tf1_ms"], "ms", 3),
                    f"{r['ratio']:.2f}x",
                    _fmt(r["tf1_speedup"], "x"),
                )
            )
        worst = max(r["ratio"] for r in mlp)
        verdicts.append(f"worst MLP flowir/jax {worst:.2f}x (target <= {MLP_RATIO_TARGET}x): {_verdict(worst <= MLP_RATIO_TARGET)}")
        if v1 is not None:
            least = min(r["tf1_speedup"] for r in mlp)
            verdicts.append(
                f"least MLP TF1/flowir {least:.2f}x (target >= {TF1_MLP_SPEEDUP_TARGET}x): "
                + _verdict(least >= TF1_MLP_SPEEDUP_TARGET)
            )
        results["mlp"] = mlp
    if chain:
        print(f"compile time of a {chain}-op elementwise chain, construction to first result, best of interleaved rounds")
        c = bench_compile(chain, with_tf, rounds=1 if args.quick else args.chain_rounds)
        results["compile"] = c
        table.append(
            (
                f"{c['ops']}-op chain to first result (wall)",
                _fmt(c["flowir_s"], "s"),
                _fmt(c["jax_s"], "s"),
                _fmt(c["tf1_s"], "s"),
                f"{c['ratio']:.2f}x",
                _fmt(c["tf1_s"] / c["flowir_s"], "x"),
            )
        )
        table.append(
            (
                f"{c['ops']}-op chain to first result (CPU)",
                _fmt(c["flowir_cpu_s"], "s"),
                _fmt(c["jax_cpu_s"], "s"),
                _fmt(c["tf1_cpu_s"], "s"),
                f"{c['cpu_ratio']:.2f}x",
                _fmt(c["tf1_cpu_s"] / c["flowir_cpu_s"], "x"),
            )
        )
        print(
            f"  flowir: building the graph {c['build_s']:.2f} s (CPU {c['build_cpu_s']:.2f} s), session graph work "
            f"{c['session_s']:.2f} s, jax backend trace + XLA {c['backend_s']:.2f} s ({c['backend_ratio']:.2f}x jax)"
        )
        verdicts.append(
            f"chain flowir/jax {c['ratio']:.2f}x wall, {c['cpu_ratio']:.2f}x CPU (target <= {COMPILE_RATIO_TARGET:.0f}x): "
            + _verdict(c["ratio"] <= COMPILE_RATIO_TARGET)
        )
    print("figures (best of rounds; TF1 '-' when not measured)")
    _print_table(table)
    for v in verdicts:
        print("  " + v)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
