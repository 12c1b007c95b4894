"""``flowir convert``: checkpoints and IR files to ONNX, with a summary, and its errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import flowir as tf  # noqa: E402
from flowir.cli import main  # noqa: E402
from flowir.ir.printer import print_graph  # noqa: E402
from flowir.models import mnist_mlp  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A trained MLP saved by ``tf.train.Saver``, and its logits for a fixed batch."""
    directory = tmp_path_factory.mktemp("ckpt")
    g = tf.Graph()
    rng = np.random.default_rng(0)
    xs = rng.random((5, 784), dtype=np.float32)
    with g.as_default():
        tf.set_random_seed(1)
        m = mnist_mlp.build_model()
        saver = tf.train.Saver()
        with tf.Session(graph=g, backend="numpy") as sess:
            sess.run(m.init)
            ys = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 16)]
            sess.run(m.train_step, {m.x: rng.random((16, 784), dtype=np.float32), m.labels: ys})
            prefix = saver.save(sess, str(directory / "model.ckpt"), global_step=1)
            logits = sess.run(m.logits, {m.x: xs})
    return directory, prefix, xs, logits


def _run(xs, path):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(None, {"input/x": xs})[0]


@pytest.mark.parametrize("which", ["dir", "prefix", "fir", "safetensors"])
def test_convert_a_checkpoint_prints_a_summary_and_matches_the_session(checkpoint, which, tmp_path, capsys) -> None:
    directory, prefix, xs, logits = checkpoint
    source = {"dir": str(directory), "prefix": prefix, "fir": prefix + ".fir", "safetensors": prefix + ".safetensors"}[which]
    out = tmp_path / "mlp.onnx"
    assert main(["convert", source, "--inputs", "x", "--outputs", "logits", "-o", str(out), "--opset", "18"]) == 0
    text = capsys.readouterr().out
    assert f"wrote {out}: {out.stat().st_size:,} bytes, opset 18, 9 nodes" in text
    assert "input/x  float32[input/x_dim0, 784]" in text
    assert "model/logits  float32[input/x_dim0, 10]" in text
    assert re.search(r"MatMul +3\n", text) and re.search(r"Relu +2\n", text) and re.search(r"Identity +1\n", text)
    np.testing.assert_allclose(_run(xs, str(out)), logits, rtol=1e-5, atol=1e-6)


def test_convert_an_ir_file(tmp_path, capsys) -> None:
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        w = tf.constant(np.arange(6, dtype=np.float32).reshape(3, 2), name="w")
        tf.nn.softmax(tf.matmul(x, w), name="probs")
    src = tmp_path / "model.fir"
    src.write_text(print_graph(g.ir_graph))
    out = tmp_path / "model.onnx"
    assert main(["convert", str(src), "--inputs", "x", "--outputs", "probs", "-o", str(out)]) == 0
    assert "Softmax  1" in capsys.readouterr().out
    xs = np.ones((2, 3), np.float32)
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"x": xs})[0]
    z = xs @ np.arange(6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_allclose(got, np.exp(z) / np.exp(z).sum(1, keepdims=True), rtol=1e-6)


def test_convert_errors_exit_1_and_write_nothing(checkpoint, tmp_path, capsys) -> None:
    directory, prefix, _, _ = checkpoint
    out = tmp_path / "bad.onnx"
    cases = [
        (["--inputs", "x", "--outputs", "nope"], "denotes no tensor"),
        (["--inputs", "x,labels", "--outputs", "train/Adam"], "updates variable state"),
        (["--inputs", "x", "--outputs", "logits", "--opset", "12"], "opset 12 is not supported"),
    ]
    for extra, message in cases:
        assert main(["convert", prefix, *extra, "-o", str(out)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("flowir convert: error:") and message in err, err
        assert not out.exists()
    assert main(["convert", str(tmp_path / "missing.fir"), "--inputs", "x", "--outputs", "y", "-o", str(out)]) == 1
    assert "cannot read" in capsys.readouterr().err
