"""prune: keep what the outputs need, through operands and control dependencies."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from flowir.ir import Graph, TensorType, verify
from flowir.ir import ops as O
from flowir.ir.reference import RefContext, evaluate
from flowir.passes import PruneDeadNodesPass
from tests.passes.fixture_ops import Noise, Record
from tests.passes.helpers import F32, Program, check_pass, const, op_names, placeholder, programs


def test_erases_what_outputs_do_not_need() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    unused = placeholder(g, (3,), "unused")
    c = const(g, np.ones(3), "c")
    y = g.append(O.Add.create(x, c, name="y")).result
    dead = g.append(O.Mul.create(y, y, name="dead")).result
    g.append(O.Neg.create(dead, name="dead2"))
    g.append(O.Neg.create(unused, name="dead3"))
    g.set_outputs([y])
    assert PruneDeadNodesPass().run(g).modified is True
    verify(g)
    assert [op.user_name for op in g.ops] == ["x", "c", "y"]
    assert PruneDeadNodesPass().run(g).modified is False


def test_graph_inputs_are_kept() -> None:
    g = Graph()
    a = g.add_input(TensorType(F32, (2,)), "a")
    b = g.add_input(TensorType(F32, (2,)), "b")
    g.append(O.Neg.create(b, name="unused_neg"))
    g.set_outputs([g.append(O.Neg.create(a, name="out")).result])
    PruneDeadNodesPass().run(g)
    assert g.inputs == [a, b]
    assert op_names(g) == ["math.neg"]
    verify(g)


def test_side_effect_only_kept_through_control_deps() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    fetched_assign = g.append(Record.create(x, name="assign_needed")).result
    g.append(Record.create(x, name="assign_unfetched"))
    y = g.append(O.Neg.create(x, name="y", control_deps=[fetched_assign])).result
    g.set_outputs([y])
    PruneDeadNodesPass().run(g)
    verify(g)
    assert [op.user_name for op in g.ops] == ["x", "assign_needed", "y"]
    ctx = RefContext()
    evaluate(g, {"x": np.arange(3, dtype=np.float32)}, ctx=ctx)
    assert set(ctx.variables) == {"assign_needed"}


def test_control_deps_of_the_terminator_are_roots() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    r = g.append(Record.create(x, name="side")).result
    y = g.append(O.Neg.create(x, name="y")).result
    g.set_outputs([y])
    g.return_op.add_control_dep(r)
    assert PruneDeadNodesPass().run(g).modified is False
    assert [op.user_name for op in g.ops] == ["x", "side", "y"]


def test_transitive_control_and_data_deps() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    n = g.append(Noise.create(x, name="noise")).result
    first = g.append(Record.create(n, name="first")).result
    c = const(g, np.ones(3), "c")
    g.last_op.add_control_dep(first)
    y = g.append(O.Add.create(x, c, name="y")).result
    g.set_outputs([y])
    PruneDeadNodesPass().run(g)
    assert [op.user_name for op in g.ops] == ["x", "noise", "first", "c", "y"]


def test_keep_roots() -> None:
    def build() -> tuple[Graph, dict]:
        g = Graph()
        x = placeholder(g, (3,), "x")
        a = g.append(O.Neg.create(x, name="a")).result
        rec = g.append(Record.create(a, name="rec"))
        b = g.append(O.Abs.create(x, name="b")).result
        g.set_outputs([b])
        return g, {"a": a, "rec": rec}

    g, named = build()
    PruneDeadNodesPass(keep=[named["rec"]]).run(g)
    assert [op.user_name for op in g.ops] == ["x", "a", "rec", "b"]
    g, named = build()
    PruneDeadNodesPass(keep=[named["a"]]).run(g)
    assert [op.user_name for op in g.ops] == ["x", "a", "b"]
    g, _ = build()
    other, _ = build()
    with pytest.raises(ValueError, match="not in graph"):
        PruneDeadNodesPass(keep=[other.first_op]).run(g)


def test_empty_outputs_prune_everything() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    g.append(Record.create(x, name="r"))
    g.set_outputs([])
    assert PruneDeadNodesPass().run(g).modified is True
    assert len(g) == 0
    verify(g)


def test_long_chain_is_linear() -> None:
    g = Graph()
    v = placeholder(g, (3,), "x")
    for i in range(20000):
        v = g.append(O.Neg.create(v, name=f"n{i}")).result
    g.append(O.Abs.create(v, name="dead"))
    g.set_outputs([v])
    PruneDeadNodesPass().run(g)
    assert len(g) == 20001


@given(programs())
def test_semantics_preserved_and_idempotent(program: Program) -> None:
    check_pass(PruneDeadNodesPass, program.build, program.feeds())
