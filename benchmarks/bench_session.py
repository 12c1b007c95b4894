"""Benchmark ``Session.run``: per-run overhead of a cached run, and peak memory of a long chain.

Usage::

    python benchmarks/bench_session.py [--runs 20000] [--sizes 1,100,10000] [--mb 100] [--json FILE]
    python benchmarks/bench_session.py --quick     # a smoke run: 2000 runs per round

1. Overhead: ``y = x * a + b`` with ``x`` fed (float32), ``a`` a constant and ``b`` a variable,
   run through a session after its first (compiling) run, against the same expression in plain
   numpy in the same process, for several sizes of ``x``. Reports microseconds per run (best of
   5 rounds) and the overhead; target: at most 25 us above numpy.
2. Memory: a 100-op elementwise chain over a float32 input of ``--mb`` MB, run once in a fresh
   subprocess. Reports the subprocess's peak RSS, its RSS before the input existed, and the
   ratio of the peak to the input size; target: at most 4x.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np
from _timing import time_per_run

OVERHEAD_TARGET_US = 25.0
MEMORY_TARGET_RATIO = 4.0
CHAIN_OPS = 100


def bench_overhead(size: int, runs: int) -> dict[str, float]:
    """Microseconds per cached ``sess.run(x * a + b)`` and per numpy ``x * a + b`` for ``x`` of ``size`` floats."""
    import flowir as tf

    rng = np.random.default_rng(0)
    xv = rng.random(size, dtype=np.float32)
    av = rng.random(size, dtype=np.float32)
    bv = rng.random(size, dtype=np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [size], name="x")
        a = tf.constant(av, name="a")
        b = tf.Variable(bv, name="b")
        y = x * a + b
        with tf.Session() as sess:
            sess.run(b.initializer)
            got = sess.run(y, {x: xv})
            np.testing.assert_allclose(got, xv * av + bv, rtol=1e-6)
            feed = {x: xv}
            session_us = time_per_run(lambda: sess.run(y, feed), runs)
    numpy_us = time_per_run(lambda: xv * av + bv, runs)
    return {"size": size, "session_us": session_us, "numpy_us": numpy_us, "overhead_us": session_us - numpy_us}


_CHILD = r"""
import resource, sys, json
import numpy as np
import flowir as tf

n = int(sys.argv[1]); ops = int(sys.argv[2])
x = tf.placeholder(tf.float32, [n], name="x")
y = x
steps = [lambda t: t * 1.0001, lambda t: t + 0.5, lambda t: tf.abs(t), lambda t: t - 0.25]
for i in range(ops):
    y = steps[i % len(steps)](y)
sess = tf.Session()
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before = rss()
xv = np.ones(n, dtype=np.float32)
out = sess.run(y, {x: xv})
peak = rss()
assert out.shape == (n,) and np.isfinite(out[:10]).all()
print(json.dumps({"before": before, "peak": peak, "input": xv.nbytes}))
"""


def bench_memory(megabytes: float) -> dict[str, float]:
    """Peak RSS of a ``CHAIN_OPS``-op elementwise chain over ``megabytes`` MB of float32, in a subprocess."""
    n = int(megabytes * 1e6 / 4)
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(n), str(CHAIN_OPS)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"memory benchmark failed:\n{proc.stderr}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "input_mb": r["input"] / 1e6,
        "rss_before_mb": r["before"] / 1e6,
        "peak_rss_mb": r["peak"] / 1e6,
        "ratio": r["peak"] / r["input"],
        "ratio_above_baseline": (r["peak"] - r["before"]) / r["input"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20000, help="runs per timing round")
    parser.add_argument("--sizes", default="1,100,10000", help="sizes of x, comma-separated")
    parser.add_argument("--mb", type=float, default=100.0, help="input size of the memory benchmark, MB")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2000 runs per round")
    args = parser.parse_args(argv)
    runs, mb = (2000 if args.quick else args.runs), args.mb

    print(f"cached Session.run of x * a + b (x fed, a constant, b variable) vs numpy, best of 5 x {runs} runs")
    print(f"  {'size':>8}  {'session us':>11}  {'numpy us':>9}  {'overhead us':>12}")
    overhead = [bench_overhead(int(s), runs) for s in args.sizes.split(",")]
    for r in overhead:
        print(f"  {r['size']:>8}  {r['session_us']:>11.2f}  {r['numpy_us']:>9.2f}  {r['overhead_us']:>12.2f}")
    worst = max(r["overhead_us"] for r in overhead)
    print(f"  worst overhead {worst:.2f} us (target <= {OVERHEAD_TARGET_US:.0f} us): {'ok' if worst <= OVERHEAD_TARGET_US else 'MISSED'}")

    memory = bench_memory(mb)
    print(f"peak RSS of a {CHAIN_OPS}-op elementwise chain over {memory['input_mb']:.0f} MB of float32 (fresh process)")
    print(
        f"  rss before input {memory['rss_before_mb']:.0f} MB, peak {memory['peak_rss_mb']:.0f} MB: "
        f"{memory['ratio']:.2f}x the input ({memory['ratio_above_baseline']:.2f}x above the baseline); "
        f"target <= {MEMORY_TARGET_RATIO:.0f}x: {'ok' if memory['ratio'] <= MEMORY_TARGET_RATIO else 'MISSED'}"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"overhead": overhead, "memory": memory}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
