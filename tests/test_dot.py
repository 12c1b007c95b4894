"""Graph pictures: ``to_dot`` and ``flowir graph``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

import flowir as tf
from flowir.cli import main
from flowir.ir.parser import parse_graph
from flowir.ir.printer import print_graph
from flowir.tools.dot import RenderError, render, to_dot

EXAMPLE = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "mlp.fir")
HAS_DOT = shutil.which("dot") is not None


def clusters(text: str) -> list[str]:
    return re.findall(r'subgraph "cluster_([^"]*)"', text)


def node_ids(text: str) -> dict[str, str]:
    """tooltip (the op's full name) -> node id."""
    return {m.group(2): m.group(1) for m in re.finditer(r'(\w+) \[label="[^"]*", tooltip="([^"]*)"', text)}


@pytest.fixture
def model():
    g = tf.Graph()
    with g.as_default():
        with tf.name_scope("model"):
            x = tf.placeholder(tf.float32, [None, 4], name="x")
            with tf.name_scope("layer1"):
                w = tf.Variable(tf.zeros([4, 3]), name="weights")
                h = tf.nn.relu(tf.matmul(x, w))
            with tf.name_scope("layer2"), tf.control_dependencies([h]):
                tf.identity(tf.constant(1.0), name="after")
    return g


def test_scopes_are_nested_clusters(model):
    text = to_dot(model)
    assert clusters(text) == ["model", "model/layer1", "model/layer1/weights", "model/layer2"]
    # Nesting: layer1 opens inside model, and the variable sits with its read in "weights".
    body = text[text.index('subgraph "cluster_model"') :]
    assert body.index('"cluster_model/layer1"') < body.index('"cluster_model/layer2"')
    weights = body[body.index('"cluster_model/layer1/weights"') :]
    weights = weights[: weights.index("}")]
    assert 'tooltip="model/layer1/weights"' in weights and 'tooltip="model/layer1/weights/read"' in weights
    ids = node_ids(text)
    assert set(ids) == {op.name for op in model.get_operations()}


def test_edges_carry_types_and_control_dependencies_are_dashed(model):
    text = to_dot(model)
    ids = node_ids(text)
    assert f'{ids["model/x"]} -> {ids["model/layer1/MatMul"]} [label="f32[?,4]"];' in text
    assert f'{ids["model/layer1/weights/read"]} -> {ids["model/layer1/MatMul"]} [label="f32[4,3]"];' in text
    assert f'{ids["model/layer1/MatMul"]} -> {ids["model/layer1/Relu"]} [label="f32[?,3]"];' in text
    # The constant, created inside control_dependencies([h]), waits for the Relu.
    assert f"{ids['model/layer1/Relu']} -> {ids['model/layer2/Const']} [style=dashed, arrowhead=odot];" in text
    assert f'{ids["model/layer2/Const"]} -> {ids["model/layer2/after"]} [label="f32[]"];' in text


def test_graph_inputs_outputs_devices_and_quoting():
    g = parse_graph(
        """flowir.graph @main(%x: tensor<?x2xf32> {name = "in \\"quoted\\""}) {
  %0 = "math.neg"(%x) {name = "a/b\\\\c"} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %1 = "math.neg"(%0) : (tensor<?x2xf32>) -> tensor<?x2xf32>
  "flowir.return"(%1) : (tensor<?x2xf32>) -> ()
}"""
    )
    next(iter(g.ops)).device = "/device:CPU:0"
    text = to_dot(g)
    assert 'in0 [shape=ellipse, label="in \\"quoted\\""];' in text
    assert 'op0 [label="b\\\\c\\nmath.neg", tooltip="a/b\\\\c", xlabel="/device:CPU:0"];' in text
    assert 'op1 [label="math.neg"];' in text
    assert 'in0 -> op0 [label="f32[?,2]"];' in text
    assert 'op1 -> ret [label="0: f32[?,2]"];' in text
    assert clusters(text) == ["a"]


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
def test_dot_accepts_the_text():
    text = to_dot(parse_graph(open(EXAMPLE).read()))
    done = subprocess.run(["dot", "-Tsvg"], input=text.encode(), capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert b"<svg" in done.stdout and b"layer1" in done.stdout


def test_to_dot_rejects_other_things():
    with pytest.raises(TypeError, match="to_dot takes a flowir graph"):
        to_dot(42)


# --------------------------------------------------------------------------------------------
# flowir graph


def test_cli_prints_dot(capsys):
    assert main(["graph", EXAMPLE]) == 0
    out = capsys.readouterr().out
    assert out.startswith('digraph "mnist_mlp" {') and '"cluster_layer1"' in out
    assert out == to_dot(parse_graph(open(EXAMPLE).read()))


def test_cli_reads_a_saved_frontend_graph(model, tmp_path, capsys):
    path = tmp_path / "model.fir"
    path.write_text(print_graph(model.ir_graph))
    out_path = tmp_path / "model.dot"
    assert main(["graph", str(path), "--format", "dot", "-o", str(out_path)]) == 0
    assert out_path.read_text() == to_dot(model)


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("fmt, magic", [("svg", b"<?xml"), ("png", b"\x89PNG\r\n\x1a\n")])
def test_cli_renders_with_graphviz(tmp_path, fmt, magic):
    out = tmp_path / f"g.{fmt}"
    assert main(["graph", EXAMPLE, "--format", fmt, "-o", str(out)]) == 0
    assert out.read_bytes().startswith(magic)


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_missing_graphviz_is_a_clear_error(monkeypatch, tmp_path, capsys, fmt):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["graph", EXAMPLE, "--format", fmt, "-o", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"flowir graph: error: --format {fmt} needs Graphviz's 'dot' executable")
    assert "--format dot" in err
    assert not (tmp_path / "x").exists()
    with pytest.raises(RenderError):
        render("digraph {}", fmt)


def test_cli_errors(tmp_path, capsys):
    assert main(["graph", str(tmp_path / "missing.fir")]) == 1
    assert "cannot read" in capsys.readouterr().err
    bad = tmp_path / "bad.fir"
    bad.write_text("flowir.graph @main( {")
    assert main(["graph", str(bad)]) == 1
    assert capsys.readouterr().err.startswith("flowir graph: error:")
    with pytest.raises(SystemExit):
        main(["graph", EXAMPLE, "--format", "gif"])
