"""``flowir check-shapes``: the shape property test over an IR file or a checkpoint graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import flowir as tf
from flowir.cli import main

ROOT = Path(__file__).resolve().parents[2]

BAD_IR = """\
flowir.graph @bad() {
  %0 = "flowir.placeholder"() {name = "x"} : () -> tensor<?x3xf32>
  %1 = "array.reshape"(%0) {name = "pairs", shape = [2, -1]} : (tensor<?x3xf32>) -> tensor<2x?xf32>
  %2 = "array.reshape"(%1) {name = "rows", shape = [-1, 3]} : (tensor<2x?xf32>) -> tensor<?x3xf32>
  "flowir.return"(%2) {names = ["rows"]} : (tensor<?x3xf32>) -> ()
}
"""


def test_the_example_ir_file_passes(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["check-shapes", str(ROOT / "examples" / "mlp.fir"), "--backends", "numpy", "--max-examples", "10"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "ok: 3 output(s) (probabilities, prediction, confidence), 10 feeds on numpy" in out


def test_a_graph_that_assumes_an_even_batch_fails_with_the_smallest_odd_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.fir"
    path.write_text(BAD_IR)
    rc = main(["check-shapes", str(path), "--backends", "numpy", "--max-examples", "30"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "FAILED" in out and "x:0 (1, 3) float32" in out


def test_unknown_output_and_missing_file_are_user_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-shapes", str(ROOT / "examples" / "mlp.fir"), "--outputs", "nope"]) == 1
    assert "no tensor named 'nope'" in capsys.readouterr().err
    assert main(["check-shapes", str(tmp_path / "missing.fir")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_a_checkpoint_graph_is_checked_with_its_saved_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        w = tf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2), name="w")
        tf.nn.relu(tf.matmul(x, w), name="y")
        saver = tf.train.Saver()
        with tf.Session(backend="numpy") as sess:
            sess.run(tf.global_variables_initializer())
            prefix = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=3)
    rc = main(["check-shapes", prefix + ".fir", "--outputs", "y", "--backends", "numpy", "--max-examples", "8"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "ok: 1 output(s) (y), 8 feeds on numpy" in out
