"""The seed's MNIST example: TF1's tutorial MLP, trained with flowir (``flowir mnist``).

A 784 -> 500 -> 100 -> 10 network with ReLU, weights ``truncated_normal(stddev=0.1)`` and
biases 0.1, each layer in its own name scope under ``model``; mean softmax cross-entropy;
``AdamOptimizer(0.001)``; batches of 100 for 20000 steps by default. Written as TensorFlow 1
code (``import flowir as tf``), so it reads like the tutorial it comes from. With a logdir,
loss and accuracy are written for TensorBoard every 100 steps (tags ``summaries/cross_entropy``,
``summaries/accuracy``), the graph with its name scopes, and a checkpoint at the end.

>>> from flowir.models import mnist_mlp
>>> result = mnist_mlp.train(steps=500, data_dir="MNIST_data")   # doctest: +SKIP
>>> result.test_accuracy                                           # doctest: +SKIP
0.95...
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import flowir as tf
from flowir.datasets import mnist

__all__ = ["Model", "TrainResult", "build_model", "train"]

LAYERS: tuple[tuple[str, int, int, bool], ...] = (
    # (name scope, inputs, outputs, ReLU)
    ("layer1", 784, 500, True),
    ("layer2", 500, 100, True),
    ("layer3", 100, 10, False),
)

DEFAULT_STEPS = 20000
DEFAULT_BATCH_SIZE = 100
DEFAULT_LEARNING_RATE = 0.001
SUMMARY_EVERY = 100


@dataclass
class Model:
    """The tensors and ops of the training graph."""

    x: tf.Tensor
    labels: tf.Tensor
    logits: tf.Tensor
    loss: tf.Tensor
    accuracy: tf.Tensor
    train_step: tf.Operation
    global_step: Any
    init: tf.Operation


@dataclass
class TrainResult:
    """What a training run reports."""

    test_accuracy: float
    final_loss: float
    steps: int
    seconds: float
    backend: str
    logdir: str | None


def _dense(x: tf.Tensor, scope: str, n_in: int, n_out: int, relu: bool) -> tf.Tensor:
    with tf.name_scope(scope):
        weights = tf.Variable(tf.truncated_normal([n_in, n_out], stddev=0.1), name="weights")
        biases = tf.Variable(tf.constant(0.1, shape=[n_out]), name="biases")
        z = tf.matmul(x, weights) + biases
        return tf.nn.relu(z) if relu else z


def build_model(learning_rate: float = DEFAULT_LEARNING_RATE) -> Model:
    """Build the MLP, its loss, accuracy and Adam training step in the default graph."""
    with tf.name_scope("input"):
        x = tf.placeholder(tf.float32, [None, 784], name="x")
        labels = tf.placeholder(tf.float32, [None, 10], name="labels")
    with tf.name_scope("model"):
        h = x
        for scope, n_in, n_out, relu in LAYERS:
            h = _dense(h, scope, n_in, n_out, relu)
        # A name users can fetch and export by (`flowir convert ... --outputs logits`).
        logits = tf.identity(h, name="logits")
    with tf.name_scope("loss"):
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits))
    with tf.name_scope("accuracy"):
        correct = tf.equal(tf.argmax(logits, 1), tf.argmax(labels, 1))
        accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
    global_step = tf.train.get_or_create_global_step()
    with tf.name_scope("train"):
        train_step = tf.train.AdamOptimizer(learning_rate).minimize(loss, global_step=global_step)
    return Model(x, labels, logits, loss, accuracy, train_step, global_step, tf.global_variables_initializer())


def train(
    steps: int = DEFAULT_STEPS,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    backend: str | None = None,
    data_dir: str | None = None,
    data: mnist.Datasets | None = None,
    seed: int | None = None,
    logdir: str | None = None,
    progress: TextIO | None = None,
    notice: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train the MLP on MNIST for ``steps`` batches and return the test accuracy.

    ``data`` (one-hot ``read_data_sets`` output) or ``data_dir`` (see ``read_data_sets``)
    gives the data. ``seed`` fixes the initial weights and the batch order. ``backend``
    names the session's backend (default: the best installed). ``logdir`` receives the
    summaries and the checkpoint when those APIs exist (``None``: no summaries or
    checkpoint). ``progress``: a stream for the progress bar (``None``: none). ``notice``
    receives one-line messages (features skipped, files written).
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    say = notice or (lambda _message: None)
    if data is None:
        data = mnist.read_data_sets(data_dir, one_hot=True, seed=seed)
    graph = tf.Graph()
    with graph.as_default():
        if seed is not None:
            tf.set_random_seed(seed)
        model = build_model(learning_rate)
        merged = _summaries(model, logdir)
        saver = tf.train.Saver() if logdir is not None else None
        bar = _Progress(steps, progress) if progress is not None else None
        start = time.perf_counter()
        with tf.Session(graph=graph, backend=backend) as sess:
            sess.run(model.init)
            writer = tf.summary.FileWriter(logdir, sess.graph) if merged is not None else None
            loss_value = float("nan")
            for step in range(1, steps + 1):
                xs, ys = data.train.next_batch(batch_size)
                feed = {model.x: xs, model.labels: ys}
                if writer is not None and step % SUMMARY_EVERY == 0:
                    summary, _, loss_value = sess.run([merged, model.train_step, model.loss], feed_dict=feed)
                    writer.add_summary(summary, step)
                else:
                    _, loss_value = sess.run([model.train_step, model.loss], feed_dict=feed)
                if bar is not None:
                    bar.update(step, float(loss_value))
            if bar is not None:
                bar.close()
            accuracy = float(
                sess.run(model.accuracy, feed_dict={model.x: data.test.images, model.labels: data.test.labels})
            )
            if writer is not None:
                writer.close()
                say(f"summaries written to {logdir}")
            if saver is not None and logdir is not None:
                path = saver.save(sess, os.path.join(logdir, "model.ckpt"), global_step=steps)
                say(f"checkpoint saved to {path}")
            backend_name = sess.backend.name
        seconds = time.perf_counter() - start
    return TrainResult(accuracy, float(loss_value), steps, seconds, backend_name, logdir)


def _summaries(model: Model, logdir: str | None) -> Any:
    """The merged scalar summaries of the batch loss and accuracy (``None`` without a logdir)."""
    if logdir is None:
        return None
    with tf.name_scope("summaries"):
        tf.summary.scalar("cross_entropy", model.loss)
        tf.summary.scalar("accuracy", model.accuracy)
    return tf.summary.merge_all()


class _Progress:
    """A one-line progress bar with the current loss on a terminal, a line per 10% otherwise."""

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.next_report = max(1, total // 10)

    def update(self, step: int, loss: float) -> None:
        now = time.perf_counter()
        if self.tty:
            if now - self.last_draw < 0.1 and step != self.total:
                return
            self.last_draw = now
            self.stream.write("\r" + self._line(step, loss, now))
        elif step >= self.next_report or step == self.total:
            self.next_report += max(1, self.total // 10)
            self.stream.write(self._line(step, loss, now) + "\n")
        self.stream.flush()

    def _line(self, step: int, loss: float, now: float) -> str:
        filled = self.WIDTH * step // self.total
        elapsed = now - self.start
        rate = step / elapsed if elapsed > 0 else 0.0
        eta = (self.total - step) / rate if rate > 0 else 0.0
        return (
            f"step {step:>{len(str(self.total))}}/{self.total} [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
            f"loss {loss:.4f}  {rate:.0f} steps/s  eta {eta:.0f} s"
        )

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
