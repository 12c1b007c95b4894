"""A task of the distributed tests, run as a subprocess: ``python worker.py MODE TASK PORTS OUT``.

Modes:
- ``train``: join the two-task cluster, train the MNIST MLP data-parallel on this task's half
  of each global batch (``batches``), save the final parameters to ``OUT`` (``.npz``);
- ``die``: as ``train``, but task 1 exits abruptly before step 3; task 0 records the error;
- ``stall``: as ``train``, but task 1 sleeps before step 3; task 0 runs with a timeout and
  records the error;
- ``alone``: start a server whose peer never starts, record the error.

Errors are written to ``OUT`` as ``{"error": class name, "message": text, "seconds": t}``
(json); the task then ends at once with ``os._exit`` (a stalled collective may still hold a
thread).
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

STEPS = 30
BATCH = 32  # per task
SEED = 7


def batches(steps: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The global batches of the test: ``steps`` x ``rows`` images and one-hot labels."""
    rng = np.random.default_rng(SEED)
    xs = rng.random((steps, rows, 784), dtype=np.float32)
    ys = np.eye(10, dtype=np.float32)[rng.integers(0, 10, (steps, rows))]
    return xs, ys


def train(session_args: dict, task: int, tasks: int, steps: int = STEPS, before_step=None, run_options=None):
    """Train the MLP for ``steps``; this task feeds rows ``task``-th of ``tasks`` of each batch.
    Returns the trainable variables' final values by name."""
    import flowir as tf
    from flowir.models.mnist_mlp import build_model

    xs, ys = batches(steps, BATCH * tasks)
    lo, hi = task * BATCH, (task + 1) * BATCH
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(SEED)
        model = build_model()
        with tf.Session(**session_args) as sess:
            sess.run(model.init)
            for step in range(steps):
                if before_step is not None:
                    before_step(step)
                sess.run(model.train_step, {model.x: xs[step, lo:hi], model.labels: ys[step, lo:hi]}, options=run_options)
            names = [v.op.name for v in tf.trainable_variables()]
            return dict(zip(names, sess.run(tf.trainable_variables())))


def _record(out: str, e: BaseException, start: float) -> None:
    with open(out, "w") as f:
        json.dump({"error": type(e).__name__, "message": str(e), "seconds": time.perf_counter() - start}, f)


def main() -> None:
    mode, task, ports, out = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(","), sys.argv[4]
    import flowir as tf

    cluster = tf.train.ClusterSpec({"worker": [f"127.0.0.1:{p}" for p in ports]})
    start = time.perf_counter()
    try:
        server = tf.train.Server(cluster, "worker", task, initialization_timeout=5 if mode == "alone" else 60,
                                 heartbeat_timeout=5)
    except Exception as e:
        _record(out, e, start)
        os._exit(0)
    assert server.target == f"grpc://127.0.0.1:{ports[task]}"
    before_step = None
    options = None
    if mode == "die" and task == 1:
        def before_step(step: int) -> None:
            if step == 3:
                os._exit(3)
    if mode == "stall":
        if task == 1:
            def before_step(step: int) -> None:
                if step == 3:
                    time.sleep(60)
        else:
            options = tf.RunOptions(timeout_in_ms=3000)
    start = time.perf_counter()
    try:
        params = train({"target": server.target}, task, len(ports), before_step=before_step, run_options=options)
    except Exception as e:
        _record(out, e, start)
        os._exit(0)
    np.savez(out, **{k.replace("/", "__"): v for k, v in params.items()})
    os._exit(0)


if __name__ == "__main__":
    main()
