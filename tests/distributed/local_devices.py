"""Run in a subprocess with 4 forced host devices: train the MNIST MLP data-parallel over them
and on one device with the same global batch; print the result as json on the last line."""

from __future__ import annotations

import json
import time

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


def main() -> None:
    single, single_step = timed_train(tf.ConfigProto(allow_soft_placement=True))
    parallel, parallel_step = timed_train(tf.ConfigProto(allow_soft_placement=True, data_parallel=True))
    diff = max(float(np.max(np.abs(single[k] - parallel[k]))) for k in single)
    result = {"devices": jax.device_count(), "max_diff": diff, "step_1": single_step, "step_4": parallel_step}
    result.update(check_fetches())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
