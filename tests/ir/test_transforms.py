"""extract_subgraph and clone_graph: copies that leave the source graph alone."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowir.ir import CONTROL, DType, FlowirError, Graph, Location, TensorType, Trait, Value, print_graph, verify
from flowir.ir import ops as O
from flowir.ir.ops.core import Constant, Placeholder
from flowir.ir.reference import evaluate
from flowir.ir.transforms import clone_graph, extract_subgraph
from flowir.testing import assert_results_match, generatable_ops, generated_graphs

F32 = DType.float32
VEC = TensorType(F32, (3,))
#: The catalog's ops (tests register ops of their own, some with failing kernels).
CATALOG = [c for c in generatable_ops() if c.__module__.startswith("flowir.")]
#: Ops whose values depend only on their operands, so a part of a graph computes what the
#: whole graph computes there.
PURE_OPS = [c for c in CATALOG if Trait.PURE in c.traits]


def placeholder(g: Graph, name: str, ty: TensorType = VEC) -> Value:
    return g.append(Placeholder.create(name=name, result_types=[ty])).result


def const(g: Graph, value, name: str) -> Value:
    return g.append(Constant.create(value=np.float32(value), name=name)).result


def names(g: Graph) -> list[str | None]:
    return [op.user_name for op in g.ops]


def sample_graph() -> tuple[Graph, dict[str, Value]]:
    g = Graph()
    v: dict[str, Value] = {}
    v["x"] = placeholder(g, "x")
    v["unused_in"] = placeholder(g, "unused_in")
    v["c"] = const(g, [1, 2, 3], "c")
    v["a"] = g.append(O.Add.create(v["x"], v["c"], name="a", loc=Location("m.py", 3), device="/device:CPU:0")).result
    v["dead"] = g.append(O.Neg.create(v["a"], name="dead")).result
    v["side"] = g.append(O.Exp.create(v["c"], name="side")).result
    v["b"] = g.append(O.Mul.create(v["a"], v["a"], name="b", control_deps=[v["side"]])).result
    v["r"] = g.append(O.ReduceSum.create(v["b"], axes=[0], keepdims=True, name="r")).result
    v["grp"] = g.append(O.Group.create(name="grp", control_deps=[v["dead"]])).result
    g.set_outputs([v["r"]])
    return g, v


def test_extracts_what_outputs_need_in_program_order() -> None:
    g, v = sample_graph()
    before = print_graph(g)
    sub, mapping = extract_subgraph(g, [v["r"], v["a"]])
    verify(sub)
    assert print_graph(g) == before
    # ``side`` is needed through ``b``'s control dependency; ``dead`` and ``grp`` are not.
    assert names(sub) == ["x", "c", "a", "side", "b", "r"]
    assert sub.output_names == ["r", "a"]
    assert sub.outputs == [mapping[v["r"]], mapping[v["a"]]]
    a = mapping[v["a"]].owner
    assert a.location == Location("m.py", 3) and a.device == "/device:CPU:0"
    assert a is not v["a"].owner and type(a) is O.Add
    b = mapping[v["b"]].owner
    assert b.control_deps == [mapping[v["side"]]]
    r = mapping[v["r"]].owner
    assert r.axes == (0,) and r.keepdims is True
    out = evaluate(sub, {"x": np.float32([1, 1, 1])})
    np.testing.assert_array_equal(out[0], [29])
    np.testing.assert_array_equal(out[1], [2, 3, 4])


def test_a_control_result_as_a_target() -> None:
    g, v = sample_graph()
    sub, mapping = extract_subgraph(g, [v["grp"]], [v["x"]])
    verify(sub)
    assert names(sub) == ["c", "a", "dead", "grp"]
    assert sub.outputs[0].type == CONTROL
    assert mapping[v["grp"]].owner.control_deps == [mapping[v["dead"]]]


def test_fed_values_cut_the_graph() -> None:
    g, v = sample_graph()
    before = print_graph(g)
    sub, mapping = extract_subgraph(g, [v["r"]], [v["b"], v["x"]], name="run")
    verify(sub)
    assert print_graph(g) == before
    assert sub.name == "run"
    assert names(sub) == ["r"]
    assert [(a.name, a.type) for a in sub.inputs] == [("b", v["b"].type), ("x", VEC)]
    assert mapping[v["b"]] is sub.inputs[0] and mapping[v["x"]] is sub.inputs[1]
    assert mapping[v["r"]].owner.operands == [sub.inputs[0]]
    out = evaluate(sub, [np.float32([1, 2, 3]), np.float32([0, 0, 0])])
    np.testing.assert_array_equal(out[0], [6])


def test_fed_placeholder_is_not_copied_and_unfed_ones_stay() -> None:
    g = Graph()
    x = placeholder(g, "x")
    y = placeholder(g, "y")
    s = g.append(O.Add.create(x, y, name="s")).result
    sub, mapping = extract_subgraph(g, [s], [x])
    verify(sub)
    assert names(sub) == ["y", "s"]
    assert sub.inputs[0].name == "x"
    assert type(mapping[y].owner) is Placeholder


def test_a_fed_result_of_an_op_still_needed_for_another_result() -> None:
    g = Graph()
    x = placeholder(g, "x", TensorType(F32, (4,)))
    split = g.append(O.Split.create(x, num=2, name="split"))
    lo, hi = split.results
    s = g.append(O.Add.create(lo, hi, name="s")).result
    sub, mapping = extract_subgraph(g, [s], [lo])
    verify(sub)
    assert names(sub) == ["x", "split", "s"]
    assert mapping[lo] is sub.inputs[0]
    assert mapping[s].owner.operands == [sub.inputs[0], mapping[hi]]
    out = evaluate(sub, {mapping[lo]: np.float32([10, 10]), "x": np.float32([1, 2, 3, 4])})
    np.testing.assert_array_equal(out[0], [13, 14])


def test_fetching_a_fed_value_and_duplicate_outputs() -> None:
    g, v = sample_graph()
    sub, mapping = extract_subgraph(g, [v["a"], v["a"], v["x"]], [v["x"]])
    assert sub.outputs == [mapping[v["a"]], mapping[v["a"]], sub.inputs[0]]
    assert sub.output_names == ["a", "a", "x"]


def test_errors() -> None:
    g, v = sample_graph()
    other, w = sample_graph()
    with pytest.raises(ValueError, match="not a value of graph"):
        extract_subgraph(g, [w["r"]])
    with pytest.raises(ValueError, match="not a value of graph"):
        extract_subgraph(g, [v["r"]], [w["x"]])
    with pytest.raises(ValueError, match="fed twice"):
        extract_subgraph(g, [v["r"]], [v["x"], v["x"]])
    h = Graph()
    arg = h.add_input(VEC, "arg")
    n = h.append(O.Neg.create(arg, name="n")).result
    with pytest.raises(FlowirError, match="'arg'.*not fed"):
        extract_subgraph(h, [n])
    sub, _ = extract_subgraph(h, [n], [arg])
    assert names(sub) == ["n"]


def test_program_order_after_insertions_in_the_middle() -> None:
    g = Graph()
    x = placeholder(g, "x")
    last = g.append(O.Neg.create(x, name="last")).result
    anchor = last.owner
    made = []
    # Many insertions at one spot exhaust the gap between order keys and force a renumbering.
    for i in range(40):
        op = O.Exp.create(x, name=f"e{i}")
        g.insert_before(anchor, op)
        made.append(op.result)
    first = Constant.create(value=np.float32([1, 2, 3]), name="first")
    g.insert_before(g.first_op, first)
    s = made[0]
    for m in made[1:]:
        s = g.append(O.Add.create(s, m, name=f"s_{m.name}")).result
    total = g.append(O.Add.create(s, g.append(O.Add.create(last, first.result, name="lf")).result, name="t")).result
    sub, _ = extract_subgraph(g, [total])
    verify(sub)
    assert names(sub) == [op.user_name for op in g.ops]


@given(case=generated_graphs(PURE_OPS, max_ops=10), data=st.data())
def test_random_extractions_compute_what_the_graph_computes(case, data) -> None:
    g = case.graph
    before = print_graph(g)
    values = [v for v in case.values if v.owner is None or v.owner.graph is g]
    outputs = data.draw(st.lists(st.sampled_from(values), min_size=1, max_size=4))
    fed = data.draw(st.lists(st.sampled_from(values), max_size=3, unique=True))
    feeds = data.draw(case.feeds())
    fed = list(dict.fromkeys([*fed, *g.inputs]))
    full = evaluate(g, feeds.arrays, fetches=[*outputs, *fed], ctx=feeds.context())
    expected, fed_values = full[: len(outputs)], full[len(outputs) :]

    sub, mapping = extract_subgraph(g, outputs, fed)
    assert print_graph(g) == before
    verify(sub)
    assert [a.name for a in sub.inputs] == [v.name for v in fed]
    assert sub.output_names == [v.name for v in outputs]
    copied = [op for op in g.ops if any(r in mapping and mapping[r].owner is not None for r in op.results)]
    assert [(type(op), op.user_name, op.location, op.device) for op in copied] == [
        (type(c), c.user_name, c.location, c.device) for c in sub.ops
    ]
    assert [op.attributes for op in copied] == [c.attributes for c in sub.ops]
    sub_feeds: dict = {mapping[v]: a for v, a in zip(fed, fed_values)}
    sub_feeds.update({k: a for k, a in feeds.arrays.items()})
    assert_results_match(evaluate(sub, sub_feeds, ctx=feeds.context()), expected)


@given(case=generated_graphs(CATALOG, max_ops=12), data=st.data())
def test_clone_is_identical_and_independent(case, data) -> None:
    g = case.graph
    before = print_graph(g)
    copy, mapping = clone_graph(g)
    verify(copy)
    assert print_graph(copy) == before
    assert all(mapping[v] is not v for v in case.values if v in mapping)
    assert set(mapping) >= set(g.inputs) | {r for op in g.ops for r in op.results}
    feeds = data.draw(case.feeds())
    assert_results_match(evaluate(copy, feeds.arrays, ctx=feeds.context()), evaluate(g, feeds.arrays, ctx=feeds.context()))
    # Emptying the copy leaves the source alone.
    copy.set_outputs([])
    for op in list(copy.ops_reversed()):
        op.erase()
    assert len(copy) == 0
    assert print_graph(g) == before


def test_extraction_costs_what_the_extracted_part_costs() -> None:
    g = Graph()
    x = placeholder(g, "x")
    v = x
    n = 200_000
    for i in range(n):
        # The raw constructor skips type inference: building the big graph stays quick.
        v = g.append(O.Neg([v], [VEC], user_name=f"n{i}")).result
    cut = v.owner.operands[0]
    for _ in range(10):
        cut = cut.owner.operands[0]
    start = time.perf_counter()
    sub, _ = extract_subgraph(g, [v], [cut])
    small = time.perf_counter() - start
    assert len(sub) == 11 and names(sub)[-1] == f"n{n - 1}"
    start = time.perf_counter()
    whole, _ = extract_subgraph(g, [v])
    big = time.perf_counter() - start
    assert len(whole) == n + 1
    # Linear in the extracted part: 11 ops cost a tiny fraction of 200k.
    assert small < big / 200


def test_share_constants_copies_each_small_constant_once() -> None:
    def const(g: Graph, value: float, name: str) -> Value:
        return g.append(Constant.create(value=np.array(value, np.float32), name=name)).result

    g = Graph()
    x = placeholder(g, "x")
    y = x
    for i in range(3):
        y = g.append(O.Mul.create(y, const(g, 0.5, f"half{i}"), name=f"m{i}")).result
    z = g.append(O.Add.create(y, const(g, -0.0, "negzero"), name="z")).result
    w = g.append(O.Add.create(z, const(g, 0.0, "zero"), name="w")).result  # -0.0 and 0.0 differ
    big = g.append(Constant.create(value=np.full(17, 0.5, np.float32), name="big1")).result
    big2 = g.append(Constant.create(value=np.full(17, 0.5, np.float32), name="big2")).result
    g.set_outputs([w, big, big2])
    sub, mapping = extract_subgraph(g, [w, big, big2], [x], share_constants=True)
    verify(sub)
    assert names(sub) == ["half0", "m0", "m1", "m2", "negzero", "z", "zero", "w", "big1", "big2"]
    assert mapping[g.ops_by_name()["half2"].result] is mapping[g.ops_by_name()["half0"].result]
    feeds = {"x": np.float32([1, -2, 3])}
    assert_results_match(evaluate(sub, {sub.inputs[0]: feeds["x"]}), evaluate(g, feeds))
    plain, _ = extract_subgraph(g, [w, big, big2], [x])
    assert len(plain) == len(sub) + 2
