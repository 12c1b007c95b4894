"""A task of the distributed tests, run as a subprocess: ``python worker.py MODE TASK PORTS OUT``.

Modes:
- ``train``: join the two-task cluster, train the MNIST MLP data-parallel on this task's half
  of each global batch (``batches``), then run ``cluster_checks`` (summaries written by the
  chief, placeholders placed on a task), save the final parameters and the checks' values to
  ``OUT`` (``.npz``);
- ``die``: as ``train``, but task 1 exits abruptly before step 3; task 0 records the error;
- ``stall``: as ``train``, but task 1 sleeps before step 3; task 0 runs step 3 with a 3 s
  timeout and records the error;
- ``alone``: start a server whose peer never starts, record the error;
- ``local``: train 5 steps on ``Server.create_local_server()`` (a one-task cluster).

Errors are written to ``OUT`` as ``{"error": class name, "message": text, "seconds": t}``
(json); the task then ends at once with ``os._exit`` (a stalled collective may still hold a
thread).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

STEPS = 50
BATCH = 32  # per task
SEED = 7


def batches(steps: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The global batches of the test: ``steps`` x ``rows`` images and one-hot labels."""
    rng = np.random.default_rng(SEED)
    xs = rng.random((steps, rows, 784), dtype=np.float32)
    ys = np.eye(10, dtype=np.float32)[rng.integers(0, 10, (steps, rows))]
    return xs, ys


def build_model() -> Any:
    """The MNIST MLP of ``flowir.models.mnist_mlp`` (784-500-100-10, ReLU, mean softmax
    cross-entropy) trained by plain gradient descent.

    Not Adam (``mnist_mlp.build_model``): Adam's first steps move every weight by about the
    learning rate times the sign of its gradient, and a sharded sum rounds a near-zero gradient
    differently, flipping that sign; gradient descent keeps rounding differences at rounding
    size, so data-parallel and single-device training can be compared to 1e-5.
    """
    import flowir as tf
    from flowir.models import mnist_mlp

    with tf.name_scope("input"):
        x = tf.placeholder(tf.float32, [None, 784], name="x")
        labels = tf.placeholder(tf.float32, [None, 10], name="labels")
    h = x
    for scope, n_in, n_out, relu in mnist_mlp.LAYERS:
        h = mnist_mlp._dense(h, scope, n_in, n_out, relu)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=h))
    train_step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    return mnist_mlp.Model(x, labels, h, loss, loss, train_step, None, tf.global_variables_initializer())


def train(
    session_args: dict[str, Any],
    task: int,
    tasks: int,
    *,
    batch: int = BATCH,
    steps: int = STEPS,
    before_step: Callable[[int], None] | None = None,
    run_options: Any = None,
    checkpoint: str | None = None,
) -> dict[str, np.ndarray]:
    """Train the MLP for ``steps`` on global batches of ``batch * tasks`` rows, this task
    feeding rows ``task * batch`` to ``(task + 1) * batch`` of each. Returns the trainable
    variables' final values by name. With ``checkpoint`` (a directory holding ``task<i>/``
    for every task), each task then saves to ``task<i>/model`` (only the chief writes),
    scrambles its variables, and restores them from the chief's checkpoint."""
    import flowir as tf

    xs, ys = batches(steps, batch * tasks)
    lo, hi = task * batch, (task + 1) * batch
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
            if checkpoint is not None:
                saver = tf.train.Saver()
                saved = saver.save(sess, os.path.join(checkpoint, f"task{task}", "model"))
                assert saved == os.path.join(checkpoint, f"task{task}", "model")
                sess.run([v.assign(v * 0.0) for v in tf.trainable_variables()])
                saver.restore(sess, os.path.join(checkpoint, "task0", "model"))
            names = [v.op.name for v in tf.trainable_variables()]
            return dict(zip(names, sess.run(tf.trainable_variables())))


#: ``cluster_checks``: steps, rows per task and features of its linear model.
CHECK_STEPS, CHECK_ROWS, CHECK_FEATURES = 3, 4, 3


def check_batches(tasks: int) -> np.ndarray:
    """The global batches of ``cluster_checks``: ``CHECK_STEPS`` x ``CHECK_ROWS * tasks`` rows."""
    rng = np.random.default_rng(SEED + 1)
    return rng.random((CHECK_STEPS, CHECK_ROWS * tasks, CHECK_FEATURES), dtype=np.float32)


def build_check_model() -> Any:
    """A linear model whose training step is fetched with a merged summary of the loss (a
    replicated device value), the weights, and the fed batch (read on the host directly)."""
    import flowir as tf

    x = tf.placeholder(tf.float32, [None, CHECK_FEATURES], name="x")
    w = tf.Variable(tf.fill([CHECK_FEATURES, 1], 0.5), name="w")
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - 1.0))
    train_step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    tf.summary.scalar("loss", loss)
    tf.summary.histogram("weights", w)
    tf.summary.histogram("inputs", x)
    return x, loss, train_step, tf.summary.merge_all(), tf.global_variables_initializer()


def cluster_checks(target: str, task: int, tasks: int, logdir: str) -> dict[str, np.ndarray]:
    """Train ``build_check_model`` for ``CHECK_STEPS`` on this task's rows, fetching the merged
    summary with every step and writing it with a ``FileWriter`` to ``logdir/task<i>`` (only
    the chief's writes a file); then fetch placeholders placed on task 1: ``shift`` (dynamic
    shape) fed by every task with its own value, ``scale`` (static shape) fed by task 1 only;
    one placed on each task's own task (each task's own rows), and one placed on the other
    task, which the tasks disagree on. Returns the fetched losses, the placed values and the
    disagreement's error."""
    import os

    import flowir as tf

    xs = check_batches(tasks)
    lo, hi = task * CHECK_ROWS, (task + 1) * CHECK_ROWS
    with tf.Graph().as_default():
        x, loss, train_step, merged, init = build_check_model()
        with tf.device("/job:worker/task:1"):
            shift = tf.placeholder(tf.float32, [None], name="shift")
            scale = tf.placeholder(tf.float32, [2], name="scale")
        with tf.device(f"/job:worker/task:{task}"):  # TF1's replica_device_setter pattern
            own = tf.placeholder(tf.float32, [None], name="own")
        with tf.device(f"/job:worker/task:{tasks - 1 - task}"):
            swapped = tf.placeholder(tf.float32, [2], name="swapped")
        placed = [shift + tf.reduce_sum(x) * 0.0, scale * 2.0]
        losses = []
        with tf.Session(target) as sess, tf.summary.FileWriter(os.path.join(logdir, f"task{task}"), sess.graph) as writer:
            sess.run(init)
            for step in range(CHECK_STEPS):
                summary, value, _ = sess.run([merged, loss, train_step], {x: xs[step, lo:hi]})
                writer.add_summary(summary, step)
                losses.append(value)
            feed = {x: xs[0, lo:hi], shift: np.full(3, 10.0 * (task + 1), np.float32)}
            if task == 1:
                feed[scale] = np.float32([1.5, -2.0])
            got_shift, got_scale = sess.run(placed, feed)
            got_own = sess.run(own * 2.0, {own: np.float32([1.0, 2.0]) + 2 * task})
            try:
                sess.run(swapped * 2.0, {swapped: np.float32([1.0, 2.0])})
                disagreement = ""
            except tf.errors.InvalidArgumentError as e:
                disagreement = str(e)
    return {
        "check_losses": np.array(losses),
        "check_shift": got_shift,
        "check_scale": got_scale,
        "check_own": got_own,
        "check_disagreement": np.array(disagreement),
    }


def _at_step_3(action: Callable[[], Any]) -> Callable[[int], None]:
    def before_step(step: int) -> None:
        if step == 3:
            action()

    return before_step


def _record(out: str, e: BaseException, start: float) -> None:
    with open(out, "w") as f:
        json.dump({"error": type(e).__name__, "message": str(e), "seconds": time.perf_counter() - start}, f)


def local_checks(target: str, out: str) -> None:
    """On a one-task cluster (job ``localhost``): a placeholder placed on its task is this
    process's value, one placed on a task the cluster lacks is an error naming both; the
    results go to ``OUT`` with ``.json`` for ``.npz``."""
    import flowir as tf

    with tf.Graph().as_default():
        with tf.device("/job:localhost/task:0"):
            mine = tf.placeholder(tf.float32, [None], name="mine")
        with tf.device("/job:worker/task:0"):
            missing = tf.placeholder(tf.float32, [2], name="missing")
        with tf.Session(target) as sess:
            value = sess.run(mine * 2.0, {mine: np.float32([1, 2, 3])})
            try:
                sess.run(missing * 2.0, {missing: np.float32([1, 2])})
                error = ""
            except tf.errors.InvalidArgumentError as e:
                error = str(e)
    with open(out.replace(".npz", ".json"), "w") as f:
        json.dump({"mine": value.tolist(), "missing": error}, f)


def main() -> None:
    mode, task, ports, out = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(","), sys.argv[4]
    import flowir as tf

    if mode == "local":
        server = tf.train.Server.create_local_server()
        assert server.target.startswith("grpc://127.0.0.1:") and server.num_processes == 1
        params = train({"target": server.target}, 0, 1, steps=5)
        np.savez(out, **{k.replace("/", "__"): v for k, v in params.items()})
        local_checks(server.target, out)
        return
    cluster = tf.train.ClusterSpec({"worker": [f"127.0.0.1:{p}" for p in ports]})
    start = time.perf_counter()
    try:
        server = tf.train.Server(
            cluster, "worker", task, initialization_timeout=5 if mode == "alone" else 60, heartbeat_timeout=5
        )
    except Exception as e:
        _record(out, e, start)
        os._exit(0)
    assert server.target == f"grpc://127.0.0.1:{ports[task]}"
    before_step = None
    options = None
    if mode == "die" and task == 1:
        before_step = _at_step_3(lambda: os._exit(3))
    if mode == "stall":
        if task == 1:
            before_step = _at_step_3(lambda: time.sleep(60))
        else:
            # Generous while the first steps compile, tight once task 1 stalls.
            options = tf.RunOptions(timeout_in_ms=60_000)

            def before_step(step: int) -> None:
                if step == 3:
                    options.timeout_in_ms = 3000
    start = time.perf_counter()
    try:
        checkpoint = os.path.join(os.path.dirname(out), "checkpoints") if mode == "train" else None
        params = train(
            {"target": server.target},
            task,
            len(ports),
            before_step=before_step,
            run_options=options,
            checkpoint=checkpoint,
        )
        if mode == "train":
            logdir = os.path.join(os.path.dirname(out), "events")
            params.update(cluster_checks(server.target, task, len(ports), logdir))
    except Exception as e:
        _record(out, e, start)
        os._exit(0)
    np.savez(out, **{k.replace("/", "__"): v for k, v in params.items()})
    # Both tasks leave together: a task that ends first takes the runtime down for the other.
    from flowir.backends.jax import distributed

    distributed.barrier("flowir-test-done", 60)
    os._exit(0)


if __name__ == "__main__":
    main()
