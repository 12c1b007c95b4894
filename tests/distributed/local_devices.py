"""Run in a subprocess with 4 forced host devices: train the MNIST MLP data-parallel over them
and on one device with the same global batch, fetch summaries with a data-parallel training
step, pad batches to buckets, feed placeholders placed on a task; print the results as json on
the last line."""

from __future__ import annotations

import json
import time
import warnings

import jax
import numpy as np

import flowir as tf
from tests.distributed import worker

BATCH = 64


def timed_train(config: tf.ConfigProto) -> tuple[dict[str, np.ndarray], float]:
    """The final parameters and the mean step time (after the first, compiling, step)."""
    times: list[float] = []

    def before_step(step: int) -> None:
        times.append(time.perf_counter())

    params = worker.train({"config": config}, 0, 1, batch=BATCH, before_step=before_step)
    return params, (times[-1] - times[1]) / (len(times) - 2)


def check_fetches() -> dict[str, object]:
    """Per-example fetches come back whole; a batch that does not divide over the devices is
    an ``InvalidArgumentError`` naming the feed."""
    xs, ys = worker.batches(1, 8)
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(1)
        model = worker.build_model()
        with tf.Session(config=tf.ConfigProto(data_parallel=True)) as sess:
            sess.run(model.init)
            logits = sess.run(model.logits, {model.x: xs[0]})
            try:
                sess.run(model.logits, {model.x: xs[0][:6]})
                indivisible = ""
            except tf.errors.InvalidArgumentError as e:
                indivisible = str(e)
        with tf.Session() as plain:
            plain.run(model.init)
            expected = plain.run(model.logits, {model.x: xs[0]})
    return {
        "logits_shape": list(logits.shape),
        "logits_diff": float(np.max(np.abs(logits - expected))),
        "indivisible": indivisible,
    }


def check_summaries() -> dict[str, object]:
    """A merged scalar and histogram summary fetched with each training step, data-parallel and
    not: the values read back, and whether the data-parallel step still donates its state."""
    from tensorboard.compat.proto import summary_pb2

    xs, ys = worker.batches(3, 8)
    runs = []
    for config in (None, tf.ConfigProto(data_parallel=True)):
        with tf.Graph().as_default() as graph:
            tf.set_random_seed(1)
            model = worker.build_model()
            tf.summary.scalar("loss", model.loss)
            tf.summary.histogram("logits", model.logits)
            merged = tf.summary.merge_all()
            with tf.Session(config=config) as sess:
                sess.run(model.init)
                steps = []
                for step in range(3):
                    summary, loss, _ = sess.run([merged, model.loss, model.train_step], {model.x: xs[step], model.labels: ys[step]})
                    values = {v.tag: v for v in summary_pb2.Summary.FromString(summary).value}
                    histogram = values["logits"].histo
                    steps.append([float(loss), values["loss"].simple_value, histogram.num, histogram.sum])
                entries = [e for plan in graph._run_cache.values() for e in plan.entries.values()]
                donated = [e.executable.donated_state for e in entries if e.executable.program.num_fetches == 3]
        runs.append((steps, donated))
    (plain, _), (parallel, donated) = runs
    return {"summaries_plain": plain, "summaries_parallel": parallel, "summary_donated": donated}


def check_buckets() -> dict[str, object]:
    """``batch_buckets`` with data parallelism: per-example fetches of any batch size, padded to
    a bucket that divides over the devices; a batch that cannot be padded and does not divide
    is an error naming the feed."""
    xs, ys = worker.batches(1, 8)
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        model = worker.build_model()
        fetched = []
        for config in (None, tf.ConfigProto(data_parallel=True)):
            with tf.Session(config=config, batch_buckets=True) as sess:
                sess.run(model.init)
                fetched.append([sess.run(model.logits, {model.x: xs[0][:n]}) for n in (1, 3, 5, 8)])
                counts = sess.compile_counts
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(*fetched))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "not padding the batch": the mean is not row-wise
            try:
                with tf.Session(config=tf.ConfigProto(data_parallel=True), batch_buckets=True) as sess:
                    sess.run(model.init)
                    sess.run(model.train_step, {model.x: xs[0][:6], model.labels: ys[0][:6]})
                error = ""
            except tf.errors.InvalidArgumentError as e:
                error = str(e)
    logits = [k for k in counts if k.fetches == ("layer3/add:0",)]
    return {
        "bucket_shapes": [list(a.shape) for a in fetched[1]],
        "bucket_diff": diff,
        "bucket_compiles": counts[logits[0]],
        "bucket_error": error,
    }


def check_task_feeds() -> dict[str, object]:
    """With one process, a placeholder placed on task 0 is this process's value, whole (not
    split: 3 rows over 4 devices); one placed on task 1 is an error naming it and the device."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 2], name="x")
        with tf.device("/job:worker/task:0"):
            weights = tf.placeholder(tf.float32, [None], name="weights")
        with tf.device("/job:worker/task:1"):
            other = tf.placeholder(tf.float32, [None], name="other")
        with tf.Session(config=tf.ConfigProto(data_parallel=True)) as sess:
            feed = {x: np.ones((4, 2), np.float32), weights: np.float32([1, 2, 3])}
            weighted = sess.run(tf.reduce_sum(x, axis=1) * tf.reduce_sum(weights), feed)
            try:
                sess.run(other * 2.0, {other: np.float32([1])})
                error = ""
            except tf.errors.InvalidArgumentError as e:
                error = str(e)
    return {"task_feed": weighted.tolist(), "task_feed_error": error}


def main() -> None:
    single, single_step = timed_train(tf.ConfigProto(allow_soft_placement=True))
    parallel, parallel_step = timed_train(tf.ConfigProto(allow_soft_placement=True, data_parallel=True))
    diff = max(float(np.max(np.abs(single[k] - parallel[k]))) for k in single)
    result = {"devices": jax.device_count(), "max_diff": diff, "step_1": single_step, "step_4": parallel_step}
    result.update(check_fetches())
    result.update(check_summaries())
    result.update(check_buckets())
    result.update(check_task_feeds())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
