"""cse: merging pure ops that compute the same value."""

from __future__ import annotations

import numpy as np
from hypothesis import given

from flowir.ir import DType, Graph, TensorType, verify
from flowir.ir import ops as O
from flowir.ir.ops.core import Constant
from flowir.passes import CSEPass
from tests.passes.fixture_ops import Noise, Record
from tests.passes.helpers import F32, Program, check_pass, const, placeholder, programs


def names(g: Graph) -> list[str | None]:
    return [op.user_name for op in g.ops]


def test_merges_duplicates_and_their_users_in_one_pass() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    a1 = g.append(O.Neg.create(x, name="a1")).result
    a2 = g.append(O.Neg.create(x, name="a2")).result
    b1 = g.append(O.Exp.create(a1, name="b1")).result
    b2 = g.append(O.Exp.create(a2, name="b2")).result
    g.set_outputs([b1, b2])
    assert CSEPass().run(g).modified is True
    verify(g)
    assert names(g) == ["x", "a1", "b1"]
    assert g.outputs == [b1, b1]
    assert CSEPass().run(g).modified is False


def test_commutative_operands_in_any_order() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    y = placeholder(g, (3,), "y")
    s1 = g.append(O.Add.create(x, y, name="s1")).result
    s2 = g.append(O.Add.create(y, x, name="s2")).result
    d1 = g.append(O.Sub.create(x, y, name="d1")).result
    d2 = g.append(O.Sub.create(y, x, name="d2")).result
    g.set_outputs([s1, s2, d1, d2])
    CSEPass().run(g)
    assert names(g) == ["x", "y", "s1", "d1", "d2"]


def test_attributes_and_types_must_match() -> None:
    g = Graph()
    x = placeholder(g, (2, 3), "x")
    outs = [
        g.append(O.ReduceSum.create(x, axes=[0], name="r0")).result,
        g.append(O.ReduceSum.create(x, axes=[1], name="r1")).result,
        g.append(O.ReduceSum.create(x, axes=[0], keepdims=True, name="r0k")).result,
        g.append(O.ReduceSum.create(x, keepdims=True, axes=[0], name="r0k_again")).result,
        g.append(O.ReduceSum.create(x, axes=[0], name="r0_again")).result,
        g.append(O.Cast.create(x, dtype=DType.int32, name="c32")).result,
        g.append(O.Cast.create(x, dtype=DType.int64, name="c64")).result,
        g.append(O.ReduceMean.create(x, axes=[0], name="m0")).result,
    ]
    g.set_outputs(outs)
    CSEPass().run(g)
    assert names(g) == ["x", "r0", "r1", "r0k", "c32", "c64", "m0"]


def test_result_types_are_part_of_the_key() -> None:
    g = Graph()
    x = placeholder(g, (None, 3), "x")
    n1 = g.append(O.Neg.create(x, name="n1")).result
    n2 = g.append(O.Neg.create(x, name="n2", result_types=[TensorType(F32, (4, 3))])).result
    g.set_outputs([n1, n2])
    assert CSEPass().run(g).modified is False


def test_constants_merge_by_value() -> None:
    g = Graph()
    outs = [
        const(g, [1.0, 2.0], "a"),
        const(g, [1.0, 2.0], "a_again"),
        const(g, [1.0, 2.0], "as_f64", np.float64),
        const(g, [[1.0, 2.0]], "other_shape"),
        const(g, [0.0, 2.0], "zero"),
        const(g, [-0.0, 2.0], "negative_zero"),
        const(g, [np.nan, 2.0], "nan"),
        const(g, [np.nan, 2.0], "nan_again"),
    ]
    g.set_outputs(outs)
    CSEPass().run(g)
    assert names(g) == ["a", "as_f64", "other_shape", "zero", "negative_zero", "nan"]
    verify(g)


def test_random_stateful_and_inputs_are_never_merged() -> None:
    g = Graph()
    x1 = placeholder(g, (3,), "x")
    x2 = placeholder(g, (3,), "x")
    outs = [
        g.append(Noise.create(x1, name="noise")).result,
        g.append(Noise.create(x1, name="noise")).result,
        g.append(Record.create(x1, name="rec")).result,
        g.append(Record.create(x1, name="rec")).result,
    ]
    g.set_outputs([x1, x2, *outs])
    assert CSEPass().run(g).modified is False
    assert len(g) == 6


def test_control_deps_must_match_as_a_set() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    r1 = g.append(Record.create(x, name="r1")).result
    r2 = g.append(Record.create(x, name="r2")).result
    outs = [
        g.append(O.Neg.create(x, name="n_r1", control_deps=[r1])).result,
        g.append(O.Neg.create(x, name="n_r2", control_deps=[r2])).result,
        g.append(O.Neg.create(x, name="n_r1r2", control_deps=[r1, r2])).result,
        g.append(O.Neg.create(x, name="n_r2r1", control_deps=[r2, r1])).result,
        g.append(O.Neg.create(x, name="n_none")).result,
    ]
    g.set_outputs(outs)
    CSEPass().run(g)
    assert names(g) == ["x", "r1", "r2", "n_r1", "n_r2", "n_r1r2", "n_none"]


def test_control_users_follow_the_survivor() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    a = g.append(O.Neg.create(x, name="a")).result
    b = g.append(O.Neg.create(x, name="b")).result
    r = g.append(Record.create(x, name="r", control_deps=[b])).result
    g.set_outputs([a, r])
    CSEPass().run(g)
    verify(g)
    assert g.ops_by_name()["r"].control_deps == [a]


def test_scales_linearly() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    outs = []
    for i in range(5000):
        c = g.append(Constant.create(value=np.float32([1, 2, 3]), name=f"c{i}")).result
        outs.append(g.append(O.Add.create(x, c, name=f"a{i}")).result)
    g.set_outputs(outs)
    CSEPass().run(g)
    assert names(g) == ["x", "c0", "a0"]


@given(programs())
def test_semantics_preserved_and_idempotent(program: Program) -> None:
    check_pass(CSEPass, program.build, program.feeds())
