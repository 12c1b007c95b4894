"""Benchmark data-parallel training: the MNIST MLP (gradient descent) step time and samples/s.

Usage::

    python benchmarks/bench_distributed.py [--batches 100,1000] [--steps 50] [--json FILE]
    python benchmarks/bench_distributed.py --quick     # batch 100, 20 steps: a quick check

Configurations, each in fresh subprocesses on 127.0.0.1: 1 process x 1 device (a plain
session), 1 process x 4 devices (``ConfigProto(data_parallel=True)`` with
``XLA_FLAGS=--xla_force_host_platform_device_count=4``), 2 processes x 1 device
(``tf.train.Server`` + ``Session(server.target)``). ``batch`` is per task (per process); the
4-device run splits it over its devices. Each step fetches the loss (so it waits for the
step to finish, as a training loop that logs does). Step time is the mean after two warm-up steps. The
cross-process all-reduce overhead is the 2-process step time minus the 1-process step time
at the same per-task batch. On a machine with few cores the devices and processes share them,
so these figures measure overhead, not speed-up. ``PJRT_NPROC=8`` is set (see ``config.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np

MODES = ("1x1", "1x4", "2x1")


def _model():  # type: ignore[no-untyped-def]
    import flowir as tf
    from flowir.models import mnist_mlp

    x = tf.placeholder(tf.float32, [None, 784], name="x")
    labels = tf.placeholder(tf.float32, [None, 10], name="labels")
    h = x
    for scope, n_in, n_out, relu in mnist_mlp.LAYERS:
        h = mnist_mlp._dense(h, scope, n_in, n_out, relu)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=h))
    return x, labels, [tf.train.GradientDescentOptimizer(0.1).minimize(loss), loss], tf.global_variables_initializer()


def child(mode: str, batch: int, steps: int, task: int, ports: str) -> None:
    """Train ``steps`` steps and print the mean step time (seconds) of this task."""
    import flowir as tf

    args: dict[str, object] = {}
    if mode == "2x1":
        cluster = tf.train.ClusterSpec({"worker": [f"127.0.0.1:{p}" for p in ports.split(",")]})
        server = tf.train.Server(cluster, "worker", task)
        args["target"] = server.target
    elif mode == "1x4":
        args["config"] = tf.ConfigProto(data_parallel=True)
    rng = np.random.default_rng(task)
    xs = rng.random((batch, 784), dtype=np.float32)
    ys = np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]
    tf.set_random_seed(0)
    x, labels, train, init = _model()
    with tf.Session(**args) as sess:  # type: ignore[arg-type]
        sess.run(init)
        for _ in range(2):
            sess.run(train, {x: xs, labels: ys})
        start = time.perf_counter()
        for _ in range(steps):
            sess.run(train, {x: xs, labels: ys})
        seconds = (time.perf_counter() - start) / steps
    print(json.dumps({"step": seconds}), flush=True)
    if mode == "2x1":
        from flowir.backends.jax import distributed

        distributed.barrier("bench-done", 60)
    os._exit(0)


def _free_ports(n: int) -> str:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = ",".join(str(s.getsockname()[1]) for s in sockets)
    for s in sockets:
        s.close()
    return ports


def measure(mode: str, batch: int, steps: int) -> float:
    env = {**os.environ, "PJRT_NPROC": "8", "JAX_PLATFORMS": "cpu"}
    if mode == "1x4":
        env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    tasks = 2 if mode == "2x1" else 1
    ports = _free_ports(tasks)
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", mode, "--batch", str(batch), "--steps", str(steps),
             "--task", str(t), "--ports", ports],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        for t in range(tasks)
    ]
    outs = [p.communicate(timeout=300)[0].decode() for p in procs]
    return max(json.loads(o.strip().splitlines()[-1])["step"] for o in outs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="100,1000")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--json", default=None)
    parser.add_argument("--quick", action="store_true", help="batch 100 only, 20 steps")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=100, help=argparse.SUPPRESS)
    parser.add_argument("--task", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--ports", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.batch, args.steps, args.task, args.ports)
        return
    if args.quick:
        args.batches, args.steps = "100", 20
    rows = []
    print(f"{'config':>12} {'batch/task':>10} {'step ms':>9} {'samples/s':>10}")
    for batch in (int(b) for b in args.batches.split(",")):
        base = None
        for mode in MODES:
            step = measure(mode, batch, args.steps)
            samples = batch * (2 if mode == "2x1" else 1) / step
            rows.append({"mode": mode, "batch": batch, "step_ms": step * 1e3, "samples_per_s": samples})
            extra = ""
            if mode == "1x1":
                base = step
            elif mode == "2x1" and base is not None:
                extra = f"  all-reduce overhead {1e3 * (step - base):+.2f} ms/step"
            print(f"{mode.replace('x', ' proc x ') + ' dev':>12} {batch:>10} {step * 1e3:>9.2f} {samples:>10.0f}{extra}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
