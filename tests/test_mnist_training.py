"""The seed's MNIST example: a short training run on real MNIST, the graph it builds, ``flowir mnist``.

Tests that need the data read ``FLOWIR_DATA_DIR`` and are skipped without it.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import flowir as tf
from flowir.cli import main
from flowir.datasets import mnist
from flowir.models import mnist_mlp

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = os.environ.get("FLOWIR_DATA_DIR")
needs_mnist = pytest.mark.skipif(
    not (DATA_DIR and os.path.isdir(DATA_DIR)),
    reason="real MNIST not available: set FLOWIR_DATA_DIR to a folder with the four MNIST files",
)


@pytest.fixture(scope="module")
def data() -> mnist.Datasets:
    if not (DATA_DIR and os.path.isdir(DATA_DIR)):
        pytest.skip("real MNIST not available: set FLOWIR_DATA_DIR to a folder with the four MNIST files")
    return mnist.read_data_sets(DATA_DIR, one_hot=True, seed=0, download=False)


def test_a_short_run_learns_mnist(data: mnist.Datasets) -> None:
    result = mnist_mlp.train(300, data=data, seed=0, backend="numpy")
    assert result.test_accuracy > 0.90, result
    assert result.final_loss < 0.5 and result.steps == 300 and result.backend == "numpy"


def test_the_seed_fixes_the_run(data: mnist.Datasets) -> None:
    def run() -> float:
        fresh = mnist.read_data_sets(DATA_DIR, one_hot=True, seed=3, download=False)
        return mnist_mlp.train(5, data=fresh, seed=3, backend="numpy").final_loss

    assert run() == run()


def test_the_graph_follows_the_tutorial() -> None:
    with tf.Graph().as_default() as g:
        model = mnist_mlp.build_model()
        names = [v.op.name for v in tf.trainable_variables()]
        assert names == [
            "model/layer1/weights",
            "model/layer1/biases",
            "model/layer2/weights",
            "model/layer2/biases",
            "model/layer3/weights",
            "model/layer3/biases",
        ]
        shapes = [v.shape.as_list() for v in tf.trainable_variables()]
        assert shapes == [[784, 500], [500], [500, 100], [100], [100, 10], [10]]
        assert model.x.shape.as_list() == [None, 784] and model.logits.shape.as_list() == [None, 10]
        assert model.loss.shape.as_list() == []
        op_names = [op.name for op in g.get_operations()]
        # As in the TF1 tutorial, minimize() inside the "train" scope puts the gradients there.
        assert any(n.startswith("train/gradients/") for n in op_names)
        slots = {v.op.name for v in tf.global_variables()}
        assert {"model/layer1/weights/Adam", "model/layer1/weights/Adam_1", "global_step"} <= slots
        with tf.Session(backend="numpy") as sess:
            sess.run(model.init)
            w1, b1 = sess.run(tf.trainable_variables()[:2])
    # truncated_normal(stddev=0.1): within two stddevs, whose std is 0.088 of a normal's
    assert np.abs(w1).max() <= 0.2 + 1e-6 and 0.085 < w1.std() < 0.091
    np.testing.assert_array_equal(b1, np.full(500, 0.1, np.float32))


def test_progress_bar_lines_and_notices(data: mnist.Datasets, tmp_path: Path) -> None:
    stream = io.StringIO()
    notices: list[str] = []
    mnist_mlp.train(
        20, data=data, seed=0, backend="numpy", progress=stream, logdir=str(tmp_path), notice=notices.append
    )
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("step 20/20 [") and " loss " in lines[-1]
    assert any(f"summaries written to {tmp_path}" in n for n in notices)
    assert any(n.startswith("checkpoint saved to ") for n in notices)


def _synthetic_mnist(n: int = 300) -> mnist.Datasets:
    """Random images with labels a linear rule gives, in read_data_sets' shape."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = np.eye(10, dtype=np.float32)[images[:, 0, :10].argmax(1)]
    split = n * 2 // 3
    return mnist.Datasets(
        train=mnist.DataSet(images[:split], labels[:split], seed=0),
        validation=mnist.DataSet(images[:0], labels[:0], seed=0),
        test=mnist.DataSet(images[split:], labels[split:], seed=0),
    )


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_the_example_writes_summaries_tensorboard_reads_and_a_checkpoint_restore_reads(backend: str, tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from flowir import backends

    if backend not in backends.available():
        pytest.skip(f"{backend} not installed")
    steps = 2 * mnist_mlp.SUMMARY_EVERY
    result = mnist_mlp.train(steps, data=_synthetic_mnist(), seed=1, backend=backend, batch_size=20, logdir=str(tmp_path))
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert set(events.Tags()["scalars"]) == {"summaries/cross_entropy", "summaries/accuracy"}
    points = events.Scalars("summaries/cross_entropy")
    assert [p.step for p in points] == [mnist_mlp.SUMMARY_EVERY, steps]
    assert "model/layer1/MatMul" in {node.name for node in events.Graph().node}
    # A fresh graph restores the checkpoint and computes the same test accuracy.
    with tf.Graph().as_default() as g:
        saver = tf.train.import_meta_graph(tf.train.latest_checkpoint(str(tmp_path)) + ".fir")
        with tf.Session(graph=g, backend=backend) as sess:
            saver.restore(sess, tf.train.latest_checkpoint(str(tmp_path)))
            accuracy = g.get_tensor_by_name("accuracy/Mean:0")
            data = _synthetic_mnist()
            feed = {g.get_tensor_by_name("input/x:0"): data.test.images, g.get_tensor_by_name("input/labels:0"): data.test.labels}
            assert float(sess.run(accuracy, feed)) == pytest.approx(result.test_accuracy, abs=1e-6)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_redraws_one_line() -> None:
    stream = _Terminal()
    bar = mnist_mlp._Progress(3, stream)
    for step in (1, 2, 3):
        bar.update(step, 0.5)
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\r") and text.endswith("\n") and text.count("\n") == 1
    assert "step 3/3 [" + "#" * 30 + "] loss 0.5000" in text


@needs_mnist
def test_flowir_mnist_command(tmp_path: Path, capsys) -> None:
    argv = [
        "mnist",
        "--steps",
        "30",
        "--seed",
        "0",
        "--backend",
        "numpy",
        "--data-dir",
        DATA_DIR,
        "--logdir",
        str(tmp_path),
    ]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert out.startswith("test accuracy 0.") and "after 30 steps" in out and "numpy backend" in out
    assert "step 30/30 [" in err


def test_flowir_mnist_usage_errors(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["mnist", "--steps", "0"])
    assert info.value.code == 2 and "must be at least 1, got 0" in capsys.readouterr().err
    assert main(["mnist", "--backend", "nope"]) == 1
    assert "flowir mnist: error: unknown backend 'nope' (available: " in capsys.readouterr().err


def test_flowir_mnist_without_data_reports_the_download_failure(tmp_path: Path, monkeypatch, capsys) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{s.getsockname()[1]}/"
    s.close()
    monkeypatch.setenv("FLOWIR_MNIST_MIRRORS", dead)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    assert main(["mnist", "--data-dir", str(tmp_path / "data"), "--steps", "1"]) == 1
    err = capsys.readouterr().err
    assert "flowir mnist: error: cannot download train-images-idx3-ubyte.gz" in err
    assert f"{dead}train-images-idx3-ubyte.gz: unreachable" in err and "Traceback" not in err


def test_the_example_script_is_flowir_mnist() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "mnist_mlp.py"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "--steps" in done.stdout and "--data-dir" in done.stdout
