"""The pass manager: registry, pipeline text, options, verification, timing and dumps."""

from __future__ import annotations

import io

import numpy as np
import pytest

from flowir.ir import Graph, PassError, ShapeError, TensorType, print_graph
from flowir.ir import ops as O
from flowir.ir.ops.core import Constant
from flowir.passes import (
    Pass,
    PassManager,
    PassOption,
    PassResult,
    available_passes,
    get_pass,
    parse_pipeline,
    register_pass,
)
from tests.passes.helpers import F32, const, placeholder

BUILTINS = ["canonicalize", "constant-fold", "cse", "prune", "shape-inference"]


def small_graph() -> Graph:
    g = Graph()
    x = placeholder(g, (None, 3), "x")
    one = const(g, np.ones(3), "one")
    y = g.append(O.Mul.create(x, one, name="y")).result
    g.append(O.Neg.create(y, name="dead"))
    g.set_outputs([y])
    return g


class CountingPass(Pass):
    """Appends its tag to a list each run; modifies nothing."""

    name = "test-counting"
    description = "records that it ran"
    options = (
        PassOption("tag", str, "t", "what to record"),
        PassOption("times", int, 1),
        PassOption("loud", bool, False),
        PassOption("ratio", float, 0.5),
    )
    log: list[str] = []

    def run(self, graph: Graph) -> PassResult:
        CountingPass.log.extend([self.tag] * self.times)
        return PassResult(graph, False)


class BreakingPass(Pass):
    """Corrupts the graph: a constant is given a type its value does not have."""

    name = "test-breaking"

    def run(self, graph: Graph) -> PassResult:
        for op in graph.ops:
            if type(op) is Constant:
                op.results[0].type = TensorType(F32, (99,))
                return PassResult(graph, True)
        return PassResult(graph, False)


register_pass(CountingPass)
register_pass(BreakingPass)


def test_builtin_registry() -> None:
    names = available_passes()
    assert set(BUILTINS) <= set(names)
    assert names == sorted(names)
    for n in BUILTINS:
        cls = get_pass(n)
        assert issubclass(cls, Pass) and cls.name == n and cls.description
    assert get_pass("constant-fold")().max_bytes == 1 << 20


def test_unknown_pass_lists_known_ones() -> None:
    with pytest.raises(PassError) as e:
        get_pass("constant-folding")
    msg = str(e.value)
    assert "unknown pass 'constant-folding'" in msg
    for n in BUILTINS:
        assert n in msg
    with pytest.raises(PassError, match="unknown pass 'nope'"):
        PassManager("prune,nope")


def test_register_pass_decorator_and_loader() -> None:
    @register_pass
    class Decorated(Pass):
        name = "test-decorated"

        def run(self, graph: Graph) -> PassResult:
            return PassResult(graph, False)

    register_pass(name="test-lazy", loader=lambda: Decorated)
    assert get_pass("test-decorated") is Decorated
    assert get_pass("test-lazy") is Decorated
    assert {"test-decorated", "test-lazy"} <= set(available_passes())


def test_pipeline_text_and_options() -> None:
    passes = parse_pipeline(" shape-inference , prune,constant-fold{max-bytes=4096},cse,canonicalize ")
    assert [p.name for p in passes] == ["shape-inference", "prune", "constant-fold", "cse", "canonicalize"]
    assert passes[2].max_bytes == 4096
    p = parse_pipeline("test-counting{tag=hello times=3, loud=true ratio=0.25}")[0]
    assert (p.tag, p.times, p.loud, p.ratio) == ("hello", 3, True, 0.25)
    assert p.pipeline_text() == "test-counting{tag=hello times=3 loud=true ratio=0.25}"
    assert parse_pipeline("test-counting{}")[0].pipeline_text() == "test-counting"
    assert parse_pipeline("") == []
    pm = PassManager("prune, constant-fold{max-bytes=0x10}")
    assert pm.pipeline_text == "prune,constant-fold{max-bytes=16}"
    assert PassManager(pm.pipeline_text).pipeline_text == pm.pipeline_text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("constant-fold{max-byte=3}", "pass 'constant-fold' has no option 'max-byte' (known options: max-bytes (default 1048576))"),
        ("prune{keep=1}", "pass 'prune' has no option 'keep' (it takes no options)"),
        ("constant-fold{max-bytes=lots}", "bad value 'lots' for option 'max-bytes'"),
        ("test-counting{loud=maybe}", "expected true or false"),
        ("prune,,cse", "expected a pass name at column 7"),
        ("prune{", "unclosed '{' at column 6"),
        ("prune cse", "expected ',' or end of pipeline, got 'c' at column 7"),
        ("constant-fold{max-bytes}", "expected key=value, got 'max-bytes'"),
        ("prune,", "expected a pass name"),
    ],
)
def test_pipeline_errors(text: str, message: str) -> None:
    with pytest.raises(PassError) as e:
        PassManager(text)
    assert message in str(e.value)


def test_constructor_options() -> None:
    p = get_pass("constant-fold")(max_bytes=8)
    assert p.max_bytes == 8 and p.pipeline_text() == "constant-fold{max-bytes=8}"
    with pytest.raises(PassError, match="has no option 'size'"):
        get_pass("constant-fold")(size=8)
    with pytest.raises(PassError, match="expected an int"):
        get_pass("constant-fold")(max_bytes="8")


def test_run_reports_modified_and_accepts_pass_objects() -> None:
    g = small_graph()
    result = PassManager("prune").run(g)
    assert result.modified is True and result.graph is g
    assert PassManager("prune").run(g).modified is False
    CountingPass.log.clear()
    result = PassManager([CountingPass(tag="a"), CountingPass(tag="b", times=2)]).run(g)
    assert result.modified is False
    assert CountingPass.log == ["a", "b", "b"]
    with pytest.raises(TypeError):
        PassManager(["prune"])  # type: ignore[list-item]


def test_verify_each_names_the_breaking_pass() -> None:
    g = small_graph()
    with pytest.raises(PassError) as e:
        PassManager("prune,test-breaking,cse", verify_each=True).run(g)
    msg = str(e.value)
    assert msg.startswith("pass 'test-breaking' left an invalid graph: flowir.constant 'one'")
    assert "result 0 has type tensor<99xf32>" in msg
    # Without verification the broken graph goes through.
    PassManager("test-breaking", verify_each=False).run(small_graph())


def test_pass_errors_name_the_pass() -> None:
    g = small_graph()
    x = g.first_op.result
    x.type = TensorType(F32, (2, 4))
    with pytest.raises(ShapeError) as e:
        PassManager("prune,shape-inference").run(g)
    assert "while running pass 'shape-inference'" in str(e.value)


def test_timing_report() -> None:
    pm = PassManager("shape-inference,prune,cse", timing=True, verify_each=True)
    pm.run(small_graph())
    names = [t.name for t in pm.timings]
    assert names == ["shape-inference", "(verify)", "prune", "(verify)", "cse", "(verify)"]
    assert all(t.seconds >= 0 for t in pm.timings)
    report = pm.timing_report()
    lines = report.splitlines()
    assert "pass" in lines[1] and "seconds" in lines[1] and "%" in lines[1]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert set(rows) == {"shape-inference", "(verify)", "prune", "cse", "total"}
    total = sum(t.seconds for t in pm.timings)
    assert float(rows["total"][0]) == pytest.approx(total, abs=1e-4)
    pcts = [float(line.split()[-1]) for line in lines[2:-1]]
    assert sum(pcts) == pytest.approx(100.0, abs=0.5)
    # Timing is off by default.
    pm = PassManager("prune")
    pm.run(small_graph())
    assert pm.timings == []


def test_dump_after_each_callable() -> None:
    seen: list[tuple[str, int]] = []
    pm = PassManager("prune,cse", dump_after_each=lambda name, g: seen.append((name, len(g))))
    pm.run(small_graph())
    assert seen == [("prune", 3), ("cse", 3)]


def test_dump_after_each_stream() -> None:
    stream = io.StringIO()
    g = small_graph()
    PassManager("prune,cse", dump_after_each=stream).run(g)
    text = stream.getvalue()
    after_prune, after_cse = text.split("// -----// IR Dump After cse //----- //\n")
    assert after_prune.startswith("// -----// IR Dump After prune //----- //\n")
    assert after_cse == print_graph(g)
    assert '"math.neg"' not in after_prune and '"math.mul"' in after_prune
