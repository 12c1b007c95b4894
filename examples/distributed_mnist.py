"""Data-parallel MNIST on two workers: TF1's between-graph replication on flowir.

Every worker runs this same program. ``tf.train.Server`` joins the cluster (JAX's
multi-process runtime; worker 0 coordinates), and ``tf.Session(server.target)`` trains the
tutorial MLP with each worker feeding its own batches: the step averages the gradients of all
workers' rows, so two workers with batches of 100 train as one process with batches of 200.
Only worker 0 writes the checkpoint and the TensorBoard events (the loss summary is computed
on every worker, beside the training step; the other workers' ``FileWriter`` writes nothing).

Two workers on one machine (two terminals, or ``&``)::

    python examples/distributed_mnist.py --task 0 --ports 2222,2223 &
    python examples/distributed_mnist.py --task 1 --ports 2222,2223

With ``--data-dir MNIST_data`` it reads MNIST (``flowir.datasets.mnist``), else it trains on
random images (a smoke run). On separate machines give every worker the same ``--hosts``
(one ``host:port`` per worker, worker 0 first) instead of ``--ports``.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

import flowir as tf
from flowir.models import mnist_mlp


def main() -> None:
    parser = argparse.ArgumentParser(description="Data-parallel MNIST on several workers")
    parser.add_argument("--task", type=int, required=True, help="this worker's index")
    parser.add_argument("--ports", default="2222,2223", help="ports of the workers on 127.0.0.1")
    parser.add_argument("--hosts", default=None, help="host:port of every worker, comma-separated")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100, help="rows per worker and step")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--logdir", default=os.path.join(tempfile.gettempdir(), "distributed_mnist"))
    args = parser.parse_args()

    hosts = args.hosts.split(",") if args.hosts else [f"127.0.0.1:{p}" for p in args.ports.split(",")]
    cluster = tf.train.ClusterSpec({"worker": hosts})
    server = tf.train.Server(cluster, job_name="worker", task_index=args.task)

    if args.data_dir:
        data = mnist_mlp.mnist.read_data_sets(args.data_dir, one_hot=True, seed=args.task)
        next_batch = lambda: data.train.next_batch(args.batch)  # noqa: E731
    else:
        rng = np.random.default_rng(args.task)
        next_batch = lambda: (  # noqa: E731
            rng.random((args.batch, 784), dtype=np.float32),
            np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.batch)],
        )

    tf.set_random_seed(0)
    model = mnist_mlp.build_model()
    loss_summary = tf.summary.scalar("loss", model.loss)
    saver = tf.train.Saver()
    config = tf.ConfigProto(operation_timeout_in_ms=60_000)  # a stalled worker: DeadlineExceededError
    os.makedirs(args.logdir, exist_ok=True)
    with tf.Session(server.target, config=config) as sess, tf.summary.FileWriter(args.logdir, sess.graph) as writer:
        sess.run(model.init)
        for step in range(1, args.steps + 1):
            xs, ys = next_batch()
            _, loss, summary = sess.run([model.train_step, model.loss, loss_summary], {model.x: xs, model.labels: ys})
            writer.add_summary(summary, step)
            if step % 50 == 0 and server.is_chief:
                print(f"step {step}: loss {loss:.4f} (over all workers' rows)")
        path = saver.save(sess, os.path.join(args.logdir, "model.ckpt"), global_step=args.steps)
        if server.is_chief:
            print(f"checkpoint: {path}")


if __name__ == "__main__":
    main()
