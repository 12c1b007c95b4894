"""Benchmark the jax backend against hand-written JAX, in one process.

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

Prints a table of the figures with the ratios and whether each target is met.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np

SESSION_TARGET_US = 20.0
RATIO_TARGET = 2.0
COMPILE_RATIO_TARGET = 1.0
MLP_RATIO_TARGET = 1.05


def time_per_run(fn: Any, runs: int, rounds: int = 5) -> float:
    """The best over ``rounds`` of the mean microseconds per call of ``fn`` over ``runs`` calls."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(runs):
            fn()
        best = min(best, (time.perf_counter() - start) / runs * 1e6)
    return best


def bench_overhead(size: int, runs: int) -> dict[str, float]:
    """Microseconds per cached ``sess.run(x * a + b)`` on jax and per direct jitted call."""
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
    return {"size": size, "session_us": session_us, "jax_us": jax_us, "ratio": session_us / jax_us}


#: The chain's steps, as flowir ops and as jax functions; each keeps values finite and moving.
_STEPS = ("mul", "add", "tanh", "neg")


def bench_compile(n_ops: int) -> dict[str, float]:
    """Seconds from graph construction to the first result of an ``n_ops`` elementwise chain,
    on flowir's jax backend and with ``jax.jit`` directly."""
    import jax
    import jax.numpy as jnp

    import flowir as tf

    xv = np.linspace(-1, 1, 256, dtype=np.float32)

    from flowir import backends

    backend = backends.get("jax")
    start = time.perf_counter()
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [256], name="x")
        y = x
        for i in range(n_ops):
            step = _STEPS[i % 4]
            y = y * 1.0001 if step == "mul" else y + 0.5 if step == "add" else tf.tanh(y) if step == "tanh" else -y
        built = time.perf_counter()
        compiling = backend.compile_seconds
        with tf.Session(backend="jax") as sess:
            flowir_out = sess.run(y, {x: xv})
    flowir_s = time.perf_counter() - start
    build_s = built - start
    backend_s = backend.compile_seconds - compiling

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

    start = time.perf_counter()
    jax_out = np.asarray(jax.jit(chain)(xv))
    jax_s = time.perf_counter() - start
    np.testing.assert_allclose(flowir_out, jax_out, rtol=1e-4, atol=1e-5)
    return {
        "ops": n_ops,
        "flowir_s": flowir_s,
        "build_s": build_s,
        "session_s": flowir_s - build_s - backend_s,
        "backend_s": backend_s,
        "jax_s": jax_s,
        "ratio": flowir_s / jax_s,
        "backend_ratio": backend_s / jax_s,
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
    Returns ``step()``, which runs it and gives the loss."""
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

    def run() -> float:
        holder[0], loss = jitted(holder[0], x, y)
        return float(loss)

    return run


def random_mnist(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random MNIST-shaped examples: float32 images ``[n, 784]`` and one-hot labels."""
    rng = np.random.default_rng(seed)
    return rng.random((n, 784), dtype=np.float32), np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]


def round_ms(fn: Any, steps: int) -> float:
    """Milliseconds per call of ``fn`` over ``steps`` calls."""
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps * 1e3


def bench_mlp_step(batch: int, steps: int, rounds: int) -> dict[str, float]:
    """Milliseconds per MLP training step at ``batch``: flowir's jax backend and hand-written
    JAX, interleaved rounds, best of each."""
    data = random_mnist(batch)
    flowir_step, sess, model = flowir_mlp_step(None, "jax", batch, data)
    hand_step = jax_mlp_step(trainable_values(sess, model), batch, data)
    flowir_step(), hand_step()  # compile both
    flowir_ms = jax_ms = float("inf")
    for _ in range(rounds):
        flowir_ms = min(flowir_ms, round_ms(flowir_step, steps))
        jax_ms = min(jax_ms, round_ms(hand_step, steps))
    return {"batch": batch, "flowir_ms": flowir_ms, "jax_ms": jax_ms, "ratio": flowir_ms / jax_ms}


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20000, help="runs per timing round")
    parser.add_argument("--sizes", default="1,100,10000", help="sizes of x, comma-separated")
    parser.add_argument("--chain", type=int, default=20000, help="ops in the compile-time chain (0: skip)")
    parser.add_argument("--batches", default="100,1000", help="MLP training-step batch sizes ('': skip)")
    parser.add_argument("--steps", type=int, default=100, help="MLP training steps per timing round")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2000 runs per round, a 2000-op chain")
    args = parser.parse_args(argv)
    runs = 2000 if args.quick else args.runs
    chain = min(args.chain, 2000) if args.quick else args.chain

    import jax

    print(f"jax {jax.__version__} on {jax.devices()[0]}")
    print(f"cached Session.run of x * a + b on the jax backend vs a jitted JAX call, best of 5 x {runs} runs")
    print(f"  {'size':>8}  {'session us':>11}  {'jax us':>8}  {'ratio':>6}")
    overhead = [bench_overhead(int(s), runs) for s in args.sizes.split(",")]
    for r in overhead:
        print(f"  {r['size']:>8}  {r['session_us']:>11.2f}  {r['jax_us']:>8.2f}  {r['ratio']:>5.2f}x")
    # The absolute target is for the run's overhead: the smallest x, where compute is nil.
    smallest = min(overhead, key=lambda r: r["size"])
    worst_ratio = max(r["ratio"] for r in overhead)
    print(
        f"  session at size {smallest['size']}: {smallest['session_us']:.2f} us "
        f"(target < {SESSION_TARGET_US:.0f} us): {_verdict(smallest['session_us'] < SESSION_TARGET_US)}"
    )
    print(f"  worst ratio {worst_ratio:.2f}x (target <= {RATIO_TARGET:.0f}x): {_verdict(worst_ratio <= RATIO_TARGET)}")

    results: dict[str, Any] = {"overhead": overhead}
    if chain:
        c = bench_compile(chain)
        results["compile"] = c
        print(f"compile time of a {c['ops']}-op elementwise chain, construction to first result")
        print(
            f"  flowir {c['flowir_s']:.2f} s (building the graph {c['build_s']:.2f} s, session graph work "
            f"{c['session_s']:.2f} s, jax backend trace + XLA {c['backend_s']:.2f} s); jax.jit {c['jax_s']:.2f} s"
        )
        print(
            f"  end to end {c['ratio']:.2f}x, backend alone {c['backend_ratio']:.2f}x "
            f"(target <= {COMPILE_RATIO_TARGET:.0f}x): {_verdict(c['ratio'] <= COMPILE_RATIO_TARGET)}"
        )
    batches = [int(s) for s in args.batches.split(",") if s]
    if batches:
        steps, rounds = (10, 2) if args.quick else (args.steps, 5)
        print(f"MNIST MLP training step (784-500-100-10, Adam) vs hand-written JAX, best of {rounds} x {steps} steps")
        print(f"  {'batch':>8}  {'flowir ms':>10}  {'jax ms':>8}  {'ratio':>6}")
        mlp = [bench_mlp_step(b, steps, rounds) for b in batches]
        for r in mlp:
            print(f"  {r['batch']:>8}  {r['flowir_ms']:>10.3f}  {r['jax_ms']:>8.3f}  {r['ratio']:>5.2f}x")
        worst = max(r["ratio"] for r in mlp)
        print(f"  worst ratio {worst:.2f}x (target <= {MLP_RATIO_TARGET}x): {_verdict(worst <= MLP_RATIO_TARGET)}")
        results["mlp"] = mlp
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
