"""check_shapes passes on every example model of the repository, on every installed backend."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

import flowir as tf
from flowir.models import mnist_mlp
from flowir.testing import check_shapes

ROOT = Path(__file__).resolve().parents[2]


def test_mnist_mlp_inference_and_loss_shapes() -> None:
    g = tf.Graph()
    with g.as_default():
        model = mnist_mlp.build_model()
        report = check_shapes([model.logits, model.loss, model.accuracy], max_examples=12, max_side=3)
    assert report.examples == 12
    assert report.backends[0] == "numpy"


def test_tf1_basics_example_shapes(capsys: pytest.CaptureFixture[str]) -> None:
    g = tf.Graph()
    with g.as_default():
        names = runpy.run_path(str(ROOT / "examples" / "tf1_basics.py"))
        capsys.readouterr()
        report = check_shapes([names["y"], names["total"]], max_examples=12)
    assert report.examples == 12
