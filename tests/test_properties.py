"""Properties of the whole IR stack on random graphs over the op catalog.

- the textual form round-trips (and the parsed graph computes the same, bit for bit);
- every pass of the default pipeline, and the pipeline, preserves what a graph computes
  (reference evaluation on the same random feeds), leaves a valid graph, and is idempotent;
- static types describe every value the reference computes, for random sizes of the
  wildcard dims;
- incompatible static shapes are a ``ShapeError`` when an op is created.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from flowir.ir import ops
from flowir.ir.core import OP_REGISTRY, Graph, Trait
from flowir.ir.dtypes import DType
from flowir.ir.errors import ShapeError
from flowir.ir.ops._base import BinaryElementwise
from flowir.ir.parser import parse_graph
from flowir.ir.printer import print_graph
from flowir.ir.reference import evaluate
from flowir.ir.types import TensorType, broadcast_shapes
from flowir.ir.verifier import verify
from flowir.passes.manager import PassManager, parse_pipeline
from flowir.testing import assert_results_match, generatable_ops, generated_graphs
from flowir.testing.generation import Feeds, GeneratedGraph
from flowir.testing.strategies import DEFAULT_DTYPES, shapes

PIPELINE = "shape-inference,prune,constant-fold,cse,canonicalize"
PASSES = PIPELINE.split(",")

#: Ops that generated graphs may hold when they must run (they have reference kernels).
RUNNABLE = generatable_ops()
#: Ops for the textual form, which needs no kernels.
ALL_OPS = generatable_ops(require_kernels=False)

#: User names with scopes, quotes, backslashes, spaces and non-ASCII text.
NAMES = st.one_of(
    st.from_regex(r"[a-z_][a-z0-9_]{0,6}(/[a-z_][a-z0-9_]{0,6}){0,2}(:[0-9])?", fullmatch=True),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=10),
)


def run(g: Graph, feeds: Feeds) -> tuple[list, dict]:
    """The graph's outputs and final variable values for ``feeds``."""
    ctx = feeds.context()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        outputs = evaluate(g, feeds.arrays, ctx=ctx)
    return outputs, ctx.variables


def effectful_names(g: Graph) -> list[str]:
    """User names of the ops whose effect or randomness a pass must keep, in order."""
    return [op.user_name or "" for op in g.ops if op.traits & {Trait.STATEFUL, Trait.RANDOM}]


# --------------------------------------------------------------------------------------------
# (a) textual form


@given(case=generated_graphs(ALL_OPS, names=NAMES, unknown_rank=True, dtypes=list(DType), seeded_random=False))
def test_print_parse_print_is_identity(case: GeneratedGraph) -> None:
    text = print_graph(case.graph)
    parsed = parse_graph(text)
    verify(parsed)
    assert print_graph(parsed) == text


@given(case=generated_graphs(RUNNABLE, unknown_rank=True), data=st.data())
def test_parsed_graph_computes_the_same(case: GeneratedGraph, data: st.DataObject) -> None:
    feeds = data.draw(case.feeds(special=True))
    parsed = parse_graph(print_graph(case.graph))
    expected, expected_vars = run(case.graph, feeds)
    got, got_vars = run(parsed, feeds)
    # Printing must keep every constant exactly: compare bits, not within a tolerance.
    for i, (a, e) in enumerate(zip(got, expected)):
        assert a.dtype == e.dtype and a.shape == e.shape, i
        # An object array's bytes are pointers: strings compare by value.
        same = a.tolist() == e.tolist() if a.dtype == object else a.tobytes() == e.tobytes()
        assert same, f"output {i}: {a!r} vs {e!r}"
    assert_results_match(got_vars, expected_vars, "variable")


# --------------------------------------------------------------------------------------------
# (b) passes preserve semantics, verify and are idempotent


@settings(max_examples=100)
@given(case=generated_graphs(RUNNABLE), data=st.data(), name=st.sampled_from(PASSES))
def test_each_pass_preserves_semantics_and_is_idempotent(case: GeneratedGraph, data: st.DataObject, name: str) -> None:
    feeds = data.draw(case.feeds())
    expected, expected_vars = run(case.graph, feeds)
    g, _ = case.build()
    result = PassManager(name, verify_each=True).run(g)
    got, got_vars = run(result.graph, feeds)
    assert_results_match(got, expected)
    assert_results_match(got_vars, expected_vars, "variable")
    text = print_graph(result.graph)
    again = PassManager(name, verify_each=True).run(result.graph)
    assert not again.modified, f"{name} changed the graph on its second run"
    assert print_graph(again.graph) == text


@settings(max_examples=100)
@given(case=generated_graphs(RUNNABLE), data=st.data())
def test_pipeline_preserves_semantics_after_every_pass(case: GeneratedGraph, data: st.DataObject) -> None:
    feeds = data.draw(case.feeds())
    expected, expected_vars = run(case.graph, feeds)
    g, _ = case.build()
    for p in parse_pipeline(PIPELINE):
        g = p.run(g).graph
        verify(g)
        got, got_vars = run(g, feeds)
        assert_results_match(got, expected, f"output after {p.name}")
        assert_results_match(got_vars, expected_vars, f"variable after {p.name}")


@settings(max_examples=100)
@given(case=generated_graphs(RUNNABLE))
def test_passes_keep_live_effects_and_random_ops(case: GeneratedGraph) -> None:
    """After pruning, no pass folds, merges or drops a stateful or random op."""
    g = PassManager("prune").run(case.build()[0]).graph
    kept = effectful_names(g)
    for name in PASSES:
        g = PassManager(name).run(g).graph
        assert effectful_names(g) == kept, f"{name} changed the effectful ops"


# --------------------------------------------------------------------------------------------
# (c) static types describe computed values


def check_types(case_values: list, witnesses: list, computed: list, sizes: dict[int, int], case: GeneratedGraph) -> None:
    for v, w, arr in zip(case_values, witnesses, computed):
        ty = v.type
        assert arr.dtype == ty.dtype.numpy, f"{v!r}: computed dtype {arr.dtype}"
        assert ty.is_compatible_with(TensorType(ty.dtype, arr.shape)), f"{v!r}: computed shape {arr.shape}"
        want = case.expected_type(case.values.index(v), sizes)
        assert arr.shape == want.shape, f"{v!r}: computed shape {arr.shape}, witness {w!r} gives {want!r}"  # type: ignore[attr-defined]


@given(case=generated_graphs(RUNNABLE, unknown_rank=True), data=st.data())
def test_static_types_describe_computed_values(case: GeneratedGraph, data: st.DataObject) -> None:
    feeds = data.draw(case.feeds())
    pairs = [(v, w) for v, w in zip(case.values, case.witnesses) if type(w) is TensorType]
    values = [v for v, _ in pairs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        computed = evaluate(case.graph, feeds.arrays, fetches=values, ctx=feeds.context())
    check_types(values, [w for _, w in pairs], computed, feeds.sizes, case)


@given(case=generated_graphs(RUNNABLE, unknown_rank=True), data=st.data())
def test_shape_inference_pass_types_describe_computed_values(case: GeneratedGraph, data: st.DataObject) -> None:
    feeds = data.draw(case.feeds())
    g, values = case.build()
    before = [v.type for v in values]
    g = PassManager("shape-inference", verify_each=True).run(g).graph
    pairs = [
        (v, w, old)
        for v, w, old in zip(values, case.witnesses, before)
        if type(w) is TensorType and (v.owner is None or v.owner.graph is g)
    ]
    for v, _, old in pairs:
        assert old.meet(v.type) == v.type, f"{v!r}: shape inference lost information ({old!r} -> {v.type!r})"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        computed = evaluate(g, feeds.arrays, fetches=[v for v, _, _ in pairs], ctx=feeds.context())
    for (v, _, _), arr in zip(pairs, computed):
        assert v.type.is_compatible_with(TensorType(v.type.dtype, arr.shape)), f"{v!r}: computed shape {arr.shape}"
        assert arr.dtype == v.type.dtype.numpy


# --------------------------------------------------------------------------------------------
# (d) incompatible shapes fail at construction

BINARY_OPS = sorted(
    (c for c in OP_REGISTRY.values() if issubclass(c, BinaryElementwise)), key=lambda c: c.name
)


@st.composite
def clashing_shapes(draw: st.DrawFn) -> tuple[tuple, tuple]:
    """Two shapes that do not broadcast: an aligned pair of static dims differs, neither 1;
    other dims random, some wildcards."""
    a = list(draw(shapes(min_rank=1, max_rank=4, min_side=1, max_side=6)))
    b = list(draw(shapes(min_rank=1, max_rank=4, min_side=1, max_side=6)))
    k = draw(st.integers(1, min(len(a), len(b))))
    x = draw(st.integers(2, 6))
    y = draw(st.integers(2, 6).filter(lambda v: v != x))
    a[-k], b[-k] = x, y
    return tuple(a), tuple(b)


def _input(g: Graph, dtype: DType, shape: tuple, name: str):
    return g.add_input(TensorType(dtype, shape), name)


@given(
    op=st.sampled_from(BINARY_OPS),
    pair=clashing_shapes(),
    data=st.data(),
)
def test_binary_ops_reject_shapes_that_do_not_broadcast(op, pair, data: st.DataObject) -> None:
    a, b = pair
    with pytest.raises(ShapeError):
        broadcast_shapes(a, b)
    dtype = data.draw(st.sampled_from(sorted(op.DTYPES & set(DEFAULT_DTYPES), key=lambda d: d.value)))
    g = Graph()
    x, y = _input(g, dtype, a, "lhs"), _input(g, dtype, b, "rhs")
    with pytest.raises(ShapeError) as info:
        op.create(x, y, name="bad_op", loc=None)
    message = str(info.value)
    assert op.name in message and "bad_op" in message and "'lhs'" in message and "'rhs'" in message


@st.composite
def bad_matmul(draw: st.DrawFn) -> tuple[tuple, tuple, dict]:
    """Operand shapes and attributes for which matmul must fail: contracting dims that
    differ, a rank below 2, or batch dims that do not broadcast."""
    ta, tb = draw(st.booleans()), draw(st.booleans())
    m, n = draw(st.sampled_from([None, 1, 2, 3])), draw(st.sampled_from([None, 1, 2, 3]))
    ka = draw(st.integers(1, 6))
    kb = draw(st.integers(1, 6))
    batch_a = draw(shapes(max_rank=2))
    batch_b = draw(shapes(max_rank=2))
    kind = draw(st.sampled_from(["contracting", "rank", "batch"]))
    if kind == "contracting":
        assume(ka != kb)
    else:
        kb = ka
    if kind == "batch":
        x = draw(st.integers(2, 5))
        y = draw(st.integers(2, 5).filter(lambda v: v != x))
        batch_a, batch_b = (*batch_a, x), (*batch_b, y)
    a = (*batch_a, *((ka, m) if ta else (m, ka)))
    b = (*batch_b, *((n, kb) if tb else (kb, n)))
    if kind == "rank":
        low = draw(st.integers(0, 1))
        if draw(st.booleans()):
            a = a[len(a) - low :]
        else:
            b = b[len(b) - low :]
    attrs = {"transpose_a": ta, "transpose_b": tb}
    return a, b, attrs


@given(case=bad_matmul(), dtype=st.sampled_from([DType.float32, DType.int32, DType.bfloat16]))
def test_matmul_rejects_incompatible_shapes(case, dtype: DType) -> None:
    a, b, attrs = case
    g = Graph()
    x, y = _input(g, dtype, a, "a_in"), _input(g, dtype, b, "b_in")
    with pytest.raises(ShapeError) as info:
        ops.MatMul.create(x, y, name="mm", loc=None, **attrs)
    assert "math.matmul 'mm'" in str(info.value)
    # numpy agrees for a concrete instance of the shapes.
    concrete_a = np.zeros([d if d is not None else 2 for d in a])
    concrete_b = np.zeros([d if d is not None else 2 for d in b])
    if attrs["transpose_a"] and concrete_a.ndim >= 2:
        concrete_a = np.swapaxes(concrete_a, -1, -2)
    if attrs["transpose_b"] and concrete_b.ndim >= 2:
        concrete_b = np.swapaxes(concrete_b, -1, -2)
    with pytest.raises(ValueError):
        if concrete_a.ndim < 2 or concrete_b.ndim < 2:
            raise ValueError("rank below 2")
        np.matmul(concrete_a, concrete_b)


# --------------------------------------------------------------------------------------------
# Every runnable op on its own: graphs made of one op kind (chains of it included), so that
# each op is exercised whatever mix the whole-catalog tests happen to draw.


@pytest.mark.parametrize("op", RUNNABLE, ids=lambda c: c.name)
@settings(max_examples=15)
@given(data=st.data())
def test_each_op_types_describe_computed_values(op, data: st.DataObject) -> None:
    case = data.draw(generated_graphs([op], max_ops=4, unknown_rank=True), label="case")
    feeds = data.draw(case.feeds(), label="feeds")
    pairs = [(v, w) for v, w in zip(case.values, case.witnesses) if type(w) is TensorType]
    values = [v for v, _ in pairs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        computed = evaluate(case.graph, feeds.arrays, fetches=values, ctx=feeds.context())
    check_types(values, [w for _, w in pairs], computed, feeds.sizes, case)


@pytest.mark.parametrize("op", RUNNABLE, ids=lambda c: c.name)
@settings(max_examples=10)
@given(data=st.data())
def test_each_op_survives_the_pipeline(op, data: st.DataObject) -> None:
    case = data.draw(generated_graphs([op], max_ops=4), label="case")
    feeds = data.draw(case.feeds(), label="feeds")
    expected, expected_vars = run(case.graph, feeds)
    g = PassManager(PIPELINE, verify_each=True).run(case.build()[0]).graph
    got, got_vars = run(g, feeds)
    assert_results_match(got, expected)
    assert_results_match(got_vars, expected_vars, "variable")
