"""Peak memory of MNIST MLP training: flowir's jax backend against hand-written JAX.

Usage::

    python benchmarks/bench_memory.py [--steps 200] [--batch 100] [--examples 10000] [--json FILE]

Each program runs in a fresh subprocess: it makes ``--examples`` random MNIST-shaped examples
(the same in both), builds the MLP (784-500-100-10, ReLU, softmax cross-entropy, TF1's Adam)
and trains ``--steps`` steps on batches of ``--batch``. flowir's program is the tutorial
model (``flowir.models.mnist_mlp``) run by ``Session.run([train_step, loss])`` on the jax
backend; the hand-written one is ``jax.jit`` of ``value_and_grad`` and Adam written in jax,
state donated (``bench_jax.jax_mlp_step``). Each reports its peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) and its RSS once set up, before training.

Prints both and the ratio of the peaks; target: at most 1.15x (donation working, no second
copy of the model's state).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

RATIO_TARGET = 1.15

_CHILD = r"""
import json, resource, sys
sys.path.insert(0, sys.argv[1])
mode, steps, batch, examples = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
import numpy as np
from bench_jax import flowir_mlp_step, jax_mlp_step, random_mnist

def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

xs, ys = random_mnist(examples)
batches = [(xs[i:i + batch], ys[i:i + batch]) for i in range(0, examples - batch + 1, batch)]
if mode == "flowir":
    import flowir as tf
    from flowir.models import mnist_mlp

    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(1)
        model = mnist_mlp.build_model()
    sess = tf.Session(graph=graph, backend="jax")
    sess.run(model.init)
    fetches = [model.train_step, model.loss]

    def step(k):
        bx, by = batches[k % len(batches)]
        return sess.run(fetches, {model.x: bx, model.labels: by})[1]
else:
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(1)
    shapes = [(784, 500), (500,), (500, 100), (100,), (100, 10), (10,)]
    params = [(rng.normal(size=s) * 0.05).astype(np.float32) for s in shapes]
    run = jax_mlp_step(params, batch, batches[0])

    def step(k):
        return run(*batches[k % len(batches)])

first = float(step(0))
setup = rss()
for k in range(1, steps):
    loss = step(k)
last = float(loss)
assert np.isfinite(first) and np.isfinite(last)
print(json.dumps({"setup": setup, "peak": rss(), "first_loss": first, "last_loss": last}))
"""


def measure(mode: str, steps: int, batch: int, examples: int) -> dict[str, Any]:
    """Run one program (``"flowir"`` or ``"jax"``) in a fresh subprocess; its RSS figures."""
    here = os.path.dirname(os.path.abspath(__file__))
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, here, mode, str(steps), str(batch), str(examples)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the {mode} memory run failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="training steps")
    parser.add_argument("--batch", type=int, default=100, help="examples per step")
    parser.add_argument("--examples", type=int, default=10000, help="random examples held in memory")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)

    figures = {mode: measure(mode, args.steps, args.batch, args.examples) for mode in ("flowir", "jax")}
    print(f"peak RSS of {args.steps} MNIST MLP training steps (batch {args.batch}), each in a fresh process")
    for mode, r in figures.items():
        print(
            f"  {mode:>6}: set up {r['setup'] / 1e6:7.1f} MB, peak {r['peak'] / 1e6:7.1f} MB "
            f"(loss {r['first_loss']:.3f} -> {r['last_loss']:.3f})"
        )
    ratio = figures["flowir"]["peak"] / figures["jax"]["peak"]
    print(f"  flowir/jax peak {ratio:.3f}x (target <= {RATIO_TARGET}x): {'ok' if ratio <= RATIO_TARGET else 'MISSED'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({**figures, "ratio": ratio}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
