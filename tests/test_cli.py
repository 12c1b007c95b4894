"""The ``flowir`` command: ``flowir opt`` and the command frame."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flowir.cli import main, write_atomically
from flowir.ir import Graph, parse_graph, print_graph
from flowir.ir import ops as O
from flowir.ir.reference import RefContext, evaluate
from flowir.passes import available_passes
from tests.passes.helpers import const, placeholder

ROOT = Path(__file__).resolve().parents[1]
MLP = ROOT / "examples" / "mlp.fir"
PIPELINE = "shape-inference,prune,constant-fold,cse,canonicalize"


def small_ir() -> str:
    g = Graph()
    x = placeholder(g, (None, 3), "x")
    one = const(g, np.ones(3), "one")
    two = const(g, 2.0, "two")
    y = g.append(O.Mul.create(x, one, name="y")).result
    z = g.append(O.Add.create(y, g.append(O.Mul.create(two, two, name="four")).result, name="z")).result
    g.append(O.Neg.create(z, name="dead"))
    g.set_outputs([z])
    return print_graph(g)


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str], stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def ir_file(tmp_path: Path) -> Path:
    p = tmp_path / "small.fir"
    p.write_text(small_ir())
    return p


def test_no_pipeline_prints_the_input_unchanged(ir_file: Path, capsys) -> None:
    code, out, err = run_main(["opt", str(ir_file)], capsys)
    assert code == 0 and err == ""
    assert out == ir_file.read_text()


def test_example_round_trips_unchanged(capsys) -> None:
    code, out, _ = run_main(["opt", str(MLP)], capsys)
    assert code == 0
    assert out == MLP.read_text()


def test_pipeline_output(ir_file: Path, capsys) -> None:
    code, out, err = run_main(["opt", str(ir_file), "--pipeline", PIPELINE], capsys)
    assert code == 0 and err == ""
    g = parse_graph(out)
    assert [op.user_name for op in g.ops] == ["x", "four", "z"]
    four = g.ops_by_name()["four"]
    assert type(four) is O.Constant and four.value == 4.0
    assert g.ops_by_name()["z"].operands[0] is g.ops_by_name()["x"].result


def test_example_pipeline_is_semantics_preserving(capsys) -> None:
    code, out, err = run_main(["opt", str(MLP), "-p", PIPELINE, "--timing"], capsys)
    assert code == 0
    before, after = parse_graph(MLP.read_text()), parse_graph(out)
    assert len(after) < len(before)
    names = {op.name for op in after.ops}
    assert "array.reshape" not in names and "state.assign_add" not in names
    assert sum(op.name == "nn.softmax" for op in after.ops) == 1
    rng = np.random.default_rng(0)
    feeds = {"inputs/x": rng.random((5, 784), dtype=np.float32), "inputs/labels": np.zeros((5, 10), np.float32)}
    variables = {
        "layer1/kernel": rng.standard_normal((784, 128)).astype(np.float32),
        "layer2/kernel": rng.standard_normal((128, 10)).astype(np.float32),
        "global_step": np.float32(0),
    }
    want = evaluate(before, feeds, ctx=RefContext(dict(variables)))
    got = evaluate(after, feeds, ctx=RefContext(dict(variables)))
    for a, b in zip(want, got):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    for name in ("shape-inference", "prune", "constant-fold", "cse", "canonicalize", "total"):
        assert f"  {name} " in err


def test_timing_goes_to_stderr(ir_file: Path, capsys) -> None:
    code, out, err = run_main(["opt", str(ir_file), "--pipeline", "prune,cse", "--timing"], capsys)
    assert code == 0
    assert "timing report" in err and "prune" in err and "(verify)" in err and "%" in err
    assert "timing" not in out


def test_no_verify_each_drops_verifier_rows(ir_file: Path, capsys) -> None:
    code, _, err = run_main(["opt", str(ir_file), "-p", "prune", "--timing", "--no-verify-each"], capsys)
    assert code == 0 and "(verify)" not in err and "prune" in err


def test_dump_after_each(ir_file: Path, capsys) -> None:
    code, out, err = run_main(["opt", str(ir_file), "-p", "prune,cse", "--dump-after-each"], capsys)
    assert code == 0
    assert err.index("IR Dump After prune") < err.index("IR Dump After cse")
    assert err.count("flowir.graph @main") == 2
    assert out.count("flowir.graph @main") == 1


def test_stdin(ir_file: Path, capsys, monkeypatch) -> None:
    code, out, _ = run_main(["opt", "-", "-p", "prune"], capsys, stdin=ir_file.read_text(), monkeypatch=monkeypatch)
    assert code == 0
    assert "dead" not in out and '"flowir.return"' in out


def test_output_file_is_written_atomically(ir_file: Path, tmp_path: Path, capsys) -> None:
    out_path = tmp_path / "out" / "result.fir"
    out_path.parent.mkdir()
    out_path.write_text("old contents")
    code, out, err = run_main(["opt", str(ir_file), "-p", "prune", "-o", str(out_path)], capsys)
    assert code == 0 and out == "" and err == ""
    text = out_path.read_text()
    assert "dead" not in text and text.startswith("flowir.graph @main")
    assert os.listdir(out_path.parent) == ["result.fir"]


def test_failed_run_leaves_the_output_untouched(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.fir"
    bad.write_text("flowir.graph @main() {\n  %0 = \"math.nope\"() : () -> tensor<f32>\n}\n")
    out_path = tmp_path / "result.fir"
    out_path.write_text("old contents")
    code, _, err = run_main(["opt", str(bad), "-o", str(out_path)], capsys)
    assert code == 1
    assert out_path.read_text() == "old contents"
    assert sorted(os.listdir(tmp_path)) == ["bad.fir", "result.fir"]


def test_write_atomically_cleans_up_on_failure(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "x.txt"
    target.write_text("before")

    def failing_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(Exception, match="No space left on device"):
        write_atomically(str(target), "after")
    assert target.read_text() == "before"
    assert os.listdir(tmp_path) == ["x.txt"]


def test_parse_error(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.fir"
    bad.write_text("flowir.graph @main() {\n  %0 = oops\n}\n")
    code, out, err = run_main(["opt", str(bad)], capsys)
    assert code == 1 and out == ""
    assert err.startswith(f"flowir opt: error: {bad}:2:")
    assert "Traceback" not in err


SHAPE_CLASH = """\
flowir.graph @main() {
  %0 = "flowir.placeholder"() {name = "x"} : () -> tensor<?x3xf32>
  %1 = "flowir.constant"() {name = "c2", value = dense<1.0> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
  %2 = "flowir.constant"() {name = "c4", value = dense<1.0> : tensor<4x3xf32>} : () -> tensor<4x3xf32>
  %3 = "math.add"(%0, %1) {name = "a"} : (tensor<?x3xf32>, tensor<2x3xf32>) -> tensor<?x3xf32>
  %4 = "math.add"(%0, %2) {name = "b"} : (tensor<?x3xf32>, tensor<4x3xf32>) -> tensor<?x3xf32>
  %5 = "math.add"(%3, %4) {name = "out"} : (tensor<?x3xf32>, tensor<?x3xf32>) -> tensor<?x3xf32> loc("model.py":9)
  "flowir.return"(%5) : (tensor<?x3xf32>) -> ()
}
"""


def test_shape_error_from_a_pass(tmp_path: Path, capsys) -> None:
    """Each recorded type is compatible with its rule, but refining them exposes a clash."""
    bad = tmp_path / "shape.fir"
    bad.write_text(SHAPE_CLASH)
    code, out, err = run_main(["opt", str(bad), "-p", "prune"], capsys)
    assert code == 0
    code, out, err = run_main(["opt", str(bad), "-p", "shape-inference"], capsys)
    assert code == 1 and out == ""
    assert err.startswith(
        "flowir opt: error: math.add 'out': shapes are not broadcast-compatible: [2, 3] vs [4, 3]\n"
    )
    assert "'a' f32[2, 3]" in err and "'b' f32[4, 3]" in err
    assert "created at model.py:9" in err
    assert "while running pass 'shape-inference'" in err
    assert "Traceback" not in err


def test_verification_error_at_parse(tmp_path: Path, capsys) -> None:
    text = small_ir().replace("tensor<?x3xf32>", "tensor<?x4xf32>", 1)
    bad = tmp_path / "types.fir"
    bad.write_text(text)
    code, out, err = run_main(["opt", str(bad), "-p", "shape-inference"], capsys)
    assert code == 1 and out == ""
    assert err.startswith(f"flowir opt: error: {bad}:")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "nope"], "unknown pass 'nope' (known passes: canonicalize, constant-fold"),
        (["-p", "constant-fold{size=1}"], "pass 'constant-fold' has no option 'size'"),
    ],
)
def test_pipeline_errors(ir_file: Path, capsys, args: list[str], message: str) -> None:
    code, out, err = run_main(["opt", str(ir_file), *args], capsys)
    assert code == 1 and out == ""
    assert err.startswith("flowir opt: error: ") and message in err


def test_missing_file(tmp_path: Path, capsys) -> None:
    code, _, err = run_main(["opt", str(tmp_path / "missing.fir")], capsys)
    assert code == 1
    assert err == f"flowir opt: error: cannot read {str(tmp_path / 'missing.fir')!r}: No such file or directory\n"


def test_missing_file_argument(capsys) -> None:
    code, _, err = run_main(["opt"], capsys)
    assert code == 1 and "no input file" in err


def test_list_passes(capsys) -> None:
    code, out, _ = run_main(["opt", "--list-passes"], capsys)
    assert code == 0
    for name in available_passes():
        assert f"  {name} " in out
    assert "max-bytes=1048576" in out


def test_help_and_usage_errors(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["opt", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "--pipeline" in out and "flowir opt examples/mlp.fir" in out
    with pytest.raises(SystemExit) as e:
        main(["opt", "--bogus"])
    assert e.value.code == 2
    assert main([]) == 2
    assert "opt" in capsys.readouterr().err


def test_console_script_and_module(ir_file: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for cmd in ([sys.executable, "-m", "flowir"], [str(Path(sys.executable).with_name("flowir"))]):
        if not Path(cmd[0]).exists():
            continue
        ok = subprocess.run([*cmd, "opt", str(ir_file), "-p", "prune"], capture_output=True, text=True, env=env, cwd=ROOT)
        assert ok.returncode == 0, ok.stderr
        assert "dead" not in ok.stdout
        bad = subprocess.run([*cmd, "opt", str(ir_file), "-p", "nope"], capture_output=True, text=True, env=env, cwd=ROOT)
        assert bad.returncode == 1
        assert bad.stderr.startswith("flowir opt: error: unknown pass 'nope'")
        assert "Traceback" not in bad.stderr
        piped = subprocess.run([*cmd, "opt", "-"], input=ir_file.read_text(), capture_output=True, text=True, env=env, cwd=ROOT)
        assert piped.returncode == 0 and piped.stdout == ir_file.read_text()


def test_binary_input(tmp_path: Path, capsys) -> None:
    p = tmp_path / "bin.fir"
    p.write_bytes(b"\xff\xfe")
    code, _, err = run_main(["opt", str(p)], capsys)
    assert code == 1
    assert err == f"flowir opt: error: cannot read {str(p)!r}: not UTF-8 text (invalid start byte at byte 0)\n"
