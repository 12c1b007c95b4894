"""functionalize-state: variables become state inputs, dataflow and state outputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowir.ir import (
    DType,
    Graph,
    PassError,
    ResourceType,
    TensorType,
    Trait,
    UnsupportedOpError,
    Value,
    print_graph,
    verify,
)
from flowir.ir import ops as O
from flowir.ir.reference import RefContext, evaluate
from flowir.passes import PassManager, get_pass
from flowir.passes.functionalize import FunctionalizeStatePass, StateSignature, functionalize_state
from flowir.testing import assert_array_matches, assert_results_match, generated_graphs
from tests.passes.fixture_ops import Record
from tests.passes.helpers import F32, const, placeholder

STATE_OPS = [O.Variable, O.Read, O.Assign, O.AssignAdd, O.AssignSub]


def variable(g: Graph, name: str, shape: tuple[int, ...] = (2,), dtype: DType = F32, shared: str = "") -> Value:
    ty = ResourceType(TensorType(dtype, shape))
    return g.append(O.Variable.create(name=name, shared_name=shared, result_types=[ty])).result


def stateful_ops(g: Graph) -> list[str]:
    return [op.name for op in g.ops if Trait.STATEFUL in op.traits]


def run_both(build, feeds: dict[str, np.ndarray], variables: dict[str, np.ndarray]):
    """Evaluate the stateful graph and its functionalized copy from the same state.

    Returns (stateful outputs, variables afterwards, pure outputs, new state by name, signature).
    """
    g = build()
    ctx = RefContext({k: v.copy() for k, v in variables.items()})
    expected = evaluate(g, feeds, ctx=ctx)
    f = build()
    n_out = len(f.outputs)
    n_in = len(f.inputs)
    sig = functionalize_state(f)
    verify(f)
    assert stateful_ops(f) == []
    pure_feeds: dict = dict(feeds)
    for arg, (name, _) in zip(f.inputs[n_in:], sig.reads):
        pure_feeds[arg] = variables[name]
    out = evaluate(f, pure_feeds, ctx=RefContext())
    new_state = dict(zip(sig.writes, out[n_out:]))
    return expected, ctx.variables, out[:n_out], new_state, sig


def test_read_assign_sequence_in_program_order() -> None:
    def build() -> Graph:
        g = Graph()
        v = variable(g, "v")
        r0 = g.append(O.Read.create(v, name="r0")).result
        a1 = g.append(O.Assign.create(v, const(g, [1, 2]), name="a1")).result
        r1 = g.append(O.Read.create(v, name="r1")).result
        a2 = g.append(O.AssignAdd.create(v, const(g, [10, 10]), name="a2")).result
        a3 = g.append(O.AssignSub.create(v, const(g, [0.5, 0.5]), name="a3")).result
        r2 = g.append(O.Read.create(v, name="r2")).result
        g.set_outputs([r0, a1, r1, a2, a3, r2])
        return g

    expected, variables, out, new_state, sig = run_both(build, {}, {"v": np.float32([7, 8])})
    assert_results_match(out, expected)
    np.testing.assert_array_equal(out[0], [7, 8])
    np.testing.assert_array_equal(out[5], [10.5, 11.5])
    assert sig == StateSignature([("v", TensorType(F32, (2,)))], ["v"])
    assert_results_match(new_state, variables)


def test_rewritten_graph_shape() -> None:
    g = Graph()
    x = placeholder(g, (2,), "x")
    v = variable(g, "v")
    a = g.append(O.AssignAdd.create(v, x, name="step")).result
    g.set_outputs([a], ["out"])
    sig = functionalize_state(g)
    verify(g)
    assert [op.name for op in g.ops] == ["flowir.placeholder", "math.add"]
    add = g.last_op
    assert add.user_name == "step" and add.operands[0] is g.inputs[0] and add.operands[1] is x
    assert [a.name for a in g.inputs] == ["v"]
    assert g.outputs == [add.result, add.result]
    assert g.output_names == ["out", "v"]
    assert sig.reads == [("v", TensorType(F32, (2,)))] and sig.writes == ["v"]


def test_only_assigned_variable_is_not_read() -> None:
    g = Graph()
    v = variable(g, "v")
    c = const(g, [3, 4])
    g.append(O.Assign.create(v, c, name="init"))
    g.set_outputs([])
    sig = functionalize_state(g)
    assert sig.reads == [] and sig.writes == ["v"]
    assert g.inputs == [] and g.outputs == [c]
    assert g.output_names == ["v"]


def test_several_variables_ordered_by_first_use_and_first_assignment() -> None:
    def build() -> Graph:
        g = Graph()
        a = variable(g, "a")
        b = variable(g, "b")
        c = variable(g, "c")
        rb = g.append(O.Read.create(b, name="rb")).result
        g.append(O.Assign.create(a, rb, name="a_from_b"))
        ra = g.append(O.Read.create(a, name="ra")).result
        rc = g.append(O.Read.create(c, name="rc")).result
        g.append(O.AssignAdd.create(b, rc, name="b_plus_c"))
        g.append(O.AssignSub.create(a, const(g, [1, 1]), name="a_minus_1"))
        g.set_outputs([ra])
        return g

    init = {"a": np.float32([100, 100]), "b": np.float32([1, 2]), "c": np.float32([5, 6])}
    expected, variables, out, new_state, sig = run_both(build, {}, init)
    # ``a`` is assigned before its first read, so its old value is not an input.
    assert [name for name, _ in sig.reads] == ["b", "c"]
    assert sig.writes == ["a", "b"]
    assert_results_match(out, expected)
    np.testing.assert_array_equal(out[0], [1, 2])
    assert_results_match(new_state, {k: variables[k] for k in ("a", "b")})
    np.testing.assert_array_equal(new_state["a"], [0, 1])
    np.testing.assert_array_equal(new_state["b"], [6, 8])


def test_variable_ops_sharing_a_name_share_the_state() -> None:
    g = Graph()
    v1 = variable(g, "v1", shared="w")
    v2 = variable(g, "v2", shared="w")
    g.append(O.AssignAdd.create(v1, const(g, [1, 1]), name="inc"))
    r = g.append(O.Read.create(v2, name="r")).result
    g.set_outputs([r])
    sig = functionalize_state(g)
    verify(g)
    assert [n for n, _ in sig.reads] == ["w"] and sig.writes == ["w"]
    out = evaluate(g, [np.float32([1, 2])])
    np.testing.assert_array_equal(out[0], [2, 3])
    np.testing.assert_array_equal(out[1], [2, 3])


def test_control_dependency_on_assign_is_rewired_and_the_update_kept() -> None:
    def build() -> Graph:
        g = Graph()
        x = placeholder(g, (2,), "x")
        v = variable(g, "v")
        a = g.append(O.Assign.create(v, x, name="set")).result
        c = const(g, [0, 0], name="c")
        y = g.append(O.Identity.create(c, name="y", control_deps=[a])).result
        g.set_outputs([y])
        return g

    feeds = {"x": np.float32([5, 6])}
    expected, variables, out, new_state, sig = run_both(build, feeds, {"v": np.float32([0, 0])})
    assert_results_match(out, expected)
    assert_results_match(new_state, variables)
    np.testing.assert_array_equal(new_state["v"], [5, 6])

    g = build()
    functionalize_state(g)
    y = g.outputs[0].owner
    x = next(op for op in g.ops if op.user_name == "x").result
    assert y.control_deps == [x]
    assert x.uses  # the new value also reaches the state output
    assert g.outputs[1] is x


def test_control_dependencies_on_reads_group_and_handles() -> None:
    def build() -> Graph:
        g = Graph()
        v = variable(g, "v")
        r = g.append(O.Read.create(v, name="r")).result
        inc = g.append(O.AssignAdd.create(v, const(g, [1, 1]), name="inc", control_deps=[r])).result
        grp = g.append(O.Group.create(name="train", control_deps=[inc, v])).result
        y = g.append(O.Identity.create(const(g, [9, 9], name="c"), name="y", control_deps=[r, grp])).result
        g.set_outputs([y, grp])
        return g

    expected, variables, out, new_state, sig = run_both(build, {}, {"v": np.float32([1, 1])})
    assert_results_match(out, expected)
    assert_results_match(new_state, variables)
    np.testing.assert_array_equal(new_state["v"], [2, 2])

    g = build()
    functionalize_state(g)
    verify(g)
    by_name = {op.user_name: op for op in g.ops}
    add = by_name["inc"]
    assert add.name == "math.add" and add.control_deps == []  # the read became an input
    assert by_name["train"].control_deps == [add.result]  # the handle is gone
    assert by_name["y"].control_deps == [by_name["train"].result]


def test_return_control_dependencies_are_kept() -> None:
    g = Graph()
    v = variable(g, "v")
    c = const(g, [1, 2])
    grp = g.append(O.Group.create(name="g")).result
    g.append(O.Assign.create(v, c, name="set"))
    g.set_outputs([c])
    g.return_op.add_control_dep(grp)
    functionalize_state(g)
    verify(g)
    assert g.return_op.control_deps == [grp]
    assert g.outputs == [c, c]


def test_errors_name_the_op() -> None:
    g = Graph()
    x = placeholder(g, (2,), "x")
    v = variable(g, "v")
    g.append(Record.create(x, name="rec1"))
    g.append(O.Read.create(v, name="r"))
    g.append(Record.create(x, name="rec2"))
    g.set_outputs([])
    with pytest.raises(UnsupportedOpError) as info:
        functionalize_state(g)
    assert "rec1" in str(info.value) and "rec2" in str(info.value)
    assert len(g) == 5  # nothing changed

    g = Graph()
    handle = g.add_input(ResourceType(TensorType(F32, (2,))), "h")
    r = g.append(O.Read.create(handle, name="r")).result
    g.set_outputs([r])
    with pytest.raises(PassError, match="'r'.*state.variable"):
        functionalize_state(g)

    g = Graph()
    v = variable(g, "v")
    r = g.append(O.Read.create(v, name="r")).result
    g.set_outputs([r, v])
    before = print_graph(g)
    with pytest.raises(PassError, match="flowir.return takes the variable handle 'v'"):
        functionalize_state(g)
    assert print_graph(g) == before


def test_pass_is_registered_and_idempotent() -> None:
    assert get_pass("functionalize-state") is FunctionalizeStatePass
    g = Graph()
    v = variable(g, "v")
    r = g.append(O.Read.create(v, name="r")).result
    g.set_outputs([r])
    pm = PassManager("functionalize-state", verify_each=True)
    assert pm.run(g).modified
    assert pm.passes[0].signature.reads == [("v", TensorType(F32, (2,)))]
    p = FunctionalizeStatePass()
    assert p.run(g).modified is False
    assert p.signature == StateSignature([], [])


@given(case=generated_graphs([*STATE_OPS, O.Add, O.Mul, O.Identity, O.Group, O.Neg], min_ops=4, max_ops=12), data=st.data())
def test_matches_the_stateful_reference(case, data) -> None:
    feeds = data.draw(case.feeds())
    ctx = feeds.context()
    expected = evaluate(case.graph, feeds.arrays, ctx=ctx)

    g, _ = case.build()
    n_in, n_out = len(g.inputs), len(g.outputs)
    sig = functionalize_state(g)
    verify(g)
    assert stateful_ops(g) == []
    pure_feeds: dict = dict(feeds.arrays)
    for arg, (name, ty) in zip(g.inputs[n_in:], sig.reads):
        assert arg.name == name and arg.type == ty
        pure_feeds[arg] = feeds.variables[name]
    out = evaluate(g, pure_feeds, ctx=feeds.context())
    assert_results_match(out[:n_out], expected)
    assert len(sig.writes) == len(set(sig.writes)) == len(out) - n_out
    # np.asarray: the reference assign_add stores a 0-d update as a numpy scalar.
    after = {k: np.asarray(ctx.variables[k]) for k in sig.writes}
    assert_results_match(dict(zip(sig.writes, out[n_out:])), after)
    # Variables never assigned keep their values.
    for name, value in feeds.variables.items():
        if name not in sig.writes:
            assert_array_matches(ctx.variables[name], value)
