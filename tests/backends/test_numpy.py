"""The numpy backend against the reference interpreter, and its compile- and run-time contract."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowir import backends
from flowir.backends import Program
from flowir.backends.numpy import NumpyBackend, NumpyExecutable
from flowir.ir import (
    DType,
    FlowirError,
    Graph,
    Location,
    ResourceType,
    ShapeError,
    TensorType,
    UnsupportedOpError,
    Value,
)
from flowir.ir import ops as O
from flowir.ir.ops.core import Constant, Placeholder
from flowir.ir.reference import CONTROL_TOKEN, RefContext, evaluate
from flowir.ir.transforms import extract_subgraph
from flowir.testing import assert_array_matches, assert_results_match, generatable_ops, generated_graphs
from tests.backends.helpers import feedable_inputs, make_program
from tests.passes.fixture_ops import Fails, NoKernel, Record

F32 = DType.float32
#: The catalog's ops (tests register ops of their own, some with failing kernels).
CATALOG = [c for c in generatable_ops() if c.__module__.startswith("flowir.")]


def placeholder(g: Graph, name: str, shape=(3,), dtype: DType = F32) -> Value:
    return g.append(Placeholder.create(name=name, result_types=[TensorType(dtype, shape)])).result


def const(g: Graph, value, name: str | None = None, dtype=np.float32) -> Value:
    return g.append(Constant.create(value=np.asarray(value, dtype=dtype), name=name)).result


def variable(g: Graph, name: str, shape=(3,), dtype: DType = F32) -> Value:
    return g.append(O.Variable.create(name=name, result_types=[ResourceType(TensorType(dtype, shape))])).result


def frozen(a: np.ndarray) -> np.ndarray:
    """A read-only copy: a kernel that writes into its operand fails on it."""
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


def compile_graph(g: Graph, **kwargs) -> NumpyExecutable:
    return NumpyBackend().compile(make_program(g, **kwargs))


def test_x_times_a_plus_b() -> None:
    g = Graph()
    x = placeholder(g, "x")
    a = const(g, [2, 2, 2], "a")
    b = g.append(O.Read.create(variable(g, "b"), name="b/read")).result
    y = g.append(O.Add.create(g.append(O.Mul.create(x, a, name="mul")).result, b, name="add")).result
    g.set_outputs([y])
    exe = compile_graph(g)
    assert exe.program.state_reads == ["b"] and exe.program.state_writes == []
    fetches, new_state = exe([np.float32([1, 2, 3])], [np.float32([10, 20, 30])], RefContext())
    np.testing.assert_array_equal(fetches[0], [12, 24, 36])
    assert fetches[0].dtype == np.float32 and new_state == []


def test_state_updates_come_back_as_new_state() -> None:
    g = Graph()
    x = placeholder(g, "x")
    v = variable(g, "v")
    w = variable(g, "w")
    inc = g.append(O.AssignAdd.create(v, x, name="inc")).result
    copy = g.append(O.Assign.create(w, inc, name="copy")).result
    # Only what the fetches need runs: the read names the update it must see.
    r = g.append(O.Read.create(w, name="r", control_deps=[copy])).result
    g.set_outputs([r])
    exe = compile_graph(g)
    assert exe.program.state_reads == ["v"] and exe.program.state_writes == ["v", "w"]
    fetches, new_state = exe([np.float32([1, 1, 1])], [np.float32([1, 2, 3])], None)
    np.testing.assert_array_equal(fetches[0], [2, 3, 4])
    np.testing.assert_array_equal(new_state[0], [2, 3, 4])
    np.testing.assert_array_equal(new_state[1], [2, 3, 4])


def test_outputs_never_share_memory_with_inputs() -> None:
    g = Graph()
    x = placeholder(g, "x", (2, 3))
    v = variable(g, "v", (2, 3))
    r = g.append(O.Read.create(v, name="r")).result
    flat = g.append(O.Reshape.create(x, shape=[6], name="flat")).result
    done = g.append(O.Group.create(name="done", control_deps=[g.append(O.Assign.create(v, x, name="set")).result]))
    doubled = g.append(O.Add.create(x, x, name="doubled")).result
    g.set_outputs([x, r, flat, doubled, done.result])
    exe = compile_graph(g)
    feed, old = np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)
    fetches, new_state = exe([feed], [old], None)
    assert len(new_state) == 1
    for out in (*fetches[:4], *new_state):
        assert not np.may_share_memory(out, feed) and not np.may_share_memory(out, old)
    feed[...] = 7  # the caller's arrays are the caller's: nothing returned changes
    np.testing.assert_array_equal(new_state[0], np.ones((2, 3)))
    np.testing.assert_array_equal(fetches[2], np.ones(6))


def test_control_results_and_several_results() -> None:
    g = Graph()
    x = placeholder(g, "x", (4,))
    lo, hi = g.append(O.Split.create(x, num=2, name="split")).results
    s = g.append(O.Sub.create(hi, lo, name="s")).result
    grp = g.append(O.Group.create(name="done", control_deps=[s])).result
    g.set_outputs([s, grp])
    exe = compile_graph(g)
    fetches, _ = exe([np.float32([1, 2, 10, 20])], [], None)
    np.testing.assert_array_equal(fetches[0], [9, 18])
    assert fetches[1] is CONTROL_TOKEN


def test_random_ops_draw_from_the_context() -> None:
    g = Graph()
    u = g.append(O.RandomUniform.create(shape=[4], seed=3, seed2=5, name="u")).result
    g.set_outputs([u])
    exe = compile_graph(g)
    ctx = RefContext(seed=1)
    first, _ = exe([], [], ctx)
    second, _ = exe([], [], ctx)
    assert not np.array_equal(first[0], second[0])
    ref_ctx = RefContext(seed=1)
    assert_results_match(first, evaluate(g, ctx=ref_ctx))
    assert_results_match(second, evaluate(g, ctx=ref_ctx))


def test_unsupported_ops_are_all_reported_at_compile_time() -> None:
    g = Graph()
    x = placeholder(g, "x", ())
    y = placeholder(g, "y", ())
    v = variable(g, "v", ())
    loc = Location("model.py", 12, "build")
    s = g.append(O.Scalar.create(x, tag="loss", name="loss_summary", loc=loc)).result
    rec = g.append(Record.create(x, name="rec")).result
    r = g.append(O.Read.create(v, name="v/read")).result
    nk = g.append(NoKernel.create(y, name="nk")).result
    boom = g.append(Fails.create(x, name="boom")).result
    g.set_outputs([s, rec, r, nk, boom])
    # The program is left stateful and ``y`` unfed, as a frontend that skipped a step would.
    sub, _ = extract_subgraph(g, g.outputs, [x])
    program = Program(sub, 1, [], 5, [])
    backend = backends.get("numpy")
    bad = backend.unsupported_ops(sub)
    # The summary runs (its kernel is a reference kernel like any other).
    assert [op.user_name for op in bad] == ["y", "v", "rec", "v/read", "nk"]
    with pytest.raises(UnsupportedOpError) as info:
        backend.compile(program)
    text = str(info.value)
    assert "numpy backend cannot run 5 op(s)" in text
    for expected in (
        "flowir.placeholder 'y'",
        "state.variable 'v'",
        "test_passes.record 'rec'",
        "state.read 'v/read'",
        "test_passes.no_kernel 'nk'",
        "functionalize-state",
        "not fed",
    ):
        assert expected in text
    assert "boom" not in text and "loss_summary" not in text


def test_runtime_errors_name_the_op_and_its_creation_site() -> None:
    g = Graph()
    x = placeholder(g, "x")
    n = g.append(O.Neg.create(x, name="n")).result
    boom = g.append(Fails.create(n, name="layer/boom", loc=Location("model.py", 7))).result
    g.set_outputs([boom])
    exe = compile_graph(g)
    with pytest.raises(FlowirError) as info:
        exe([np.float32([1, 2, 3])], [], None)
    e = info.value
    assert type(e) is FlowirError
    text = str(e)
    assert text.startswith("test_passes.fails 'layer/boom': ValueError: this kernel always fails")
    assert "created at model.py:7" in text
    assert "'n'" in text and "run-time operands: float32[3]" in text
    assert isinstance(e.__cause__, ValueError)


def test_flowir_errors_keep_their_type() -> None:
    g = Graph()
    x = placeholder(g, "x", (None,))
    r = g.append(O.Reshape.create(x, shape=[2, -1], name="pairs", loc=Location("model.py", 9))).result
    g.set_outputs([r])
    exe = compile_graph(g)
    np.testing.assert_array_equal(exe([np.float32([1, 2, 3, 4])], [], None)[0][0], [[1, 2], [3, 4]])
    with pytest.raises(ShapeError) as info:
        exe([np.float32([1, 2, 3])], [], None)
    text = str(info.value)
    assert text.startswith("array.reshape 'pairs'") and "created at model.py:9" in text

    g = Graph()
    a = placeholder(g, "a", (2,), DType.int32)
    b = placeholder(g, "b", (2,), DType.int32)
    q = g.append(O.Div.create(a, b, name="q")).result
    g.set_outputs([q])
    with pytest.raises(FlowirError, match="math.div 'q': integer division by zero"):
        compile_graph(g)([np.int32([1, 2]), np.int32([1, 0])], [], None)


def test_wrong_number_of_inputs() -> None:
    g = Graph()
    x = placeholder(g, "x")
    g.set_outputs([x])
    exe = compile_graph(g)
    with pytest.raises(ValueError, match="1 feeds and 0 state values, got 2 and 0"):
        exe([np.zeros(3, np.float32)] * 2, [], None)


def test_program_checks_its_counts() -> None:
    g = Graph()
    g.add_input(TensorType(F32, (3,)), "x")
    g.set_outputs([g.inputs[0]])
    with pytest.raises(ValueError, match="1 inputs, not 2 feeds"):
        Program(g, 2, [], 1, [])
    with pytest.raises(ValueError, match="1 outputs, not 1 fetches \\+ 1 state writes"):
        Program(g, 1, [], 1, ["v"])


def long_chain(n_ops: int, size: int) -> Graph:
    g = Graph()
    v = g.add_input(TensorType(F32, (size,)), "x")
    c = g.append(Constant.create(value=np.float32([1.5]), name="c")).result
    steps = [
        lambda v: O.Add.create(v, c),
        lambda v: O.Mul.create(v, c),
        lambda v: O.Tanh.create(v),
        lambda v: O.Neg.create(v),
    ]
    for i in range(n_ops):
        v = g.append(steps[i % len(steps)](v)).result
    g.set_outputs([v])
    return g


def test_intermediates_are_released_after_their_last_use() -> None:
    g = long_chain(100, 4)
    exe = NumpyBackend().compile(Program(g, 1, [], 1, []))
    # The input, the constant, and the one intermediate being replaced.
    assert exe.max_live == 3
    assert exe.num_slots == 102

    # A value read at the end stays alive all along; the others still go.
    g = Graph()
    x = g.add_input(TensorType(F32, (4,)), "x")
    v = x
    for _ in range(10):
        v = g.append(O.Neg.create(v)).result
    g.set_outputs([g.append(O.Add.create(v, x)).result])
    assert NumpyBackend().compile(Program(g, 1, [], 1, [])).max_live == 3


def test_peak_memory_of_a_long_chain_stays_a_few_inputs() -> None:
    size = 1 << 20  # 4 MiB of float32
    exe = NumpyBackend().compile(Program(long_chain(100, size), 1, [], 1, []))
    x = np.random.default_rng(0).random(size, dtype=np.float32)
    expected = evaluate(long_chain(100, size), [x])[0]
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        (out,), _ = exe([x], [], None)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert_array_matches(out, expected)
    # The previous value and the new one; the input is the caller's.
    assert peak < 2.5 * x.nbytes


def run_both(case, feeds):
    """The generated graph run by the reference interpreter and by the numpy backend."""
    ctx = feeds.context()
    expected = evaluate(case.graph, feeds.arrays, ctx=ctx)
    g, _ = case.build()
    program = make_program(g)
    inputs = [frozen(feeds.arrays[v.name]) for v in feedable_inputs(g)]
    state = [frozen(feeds.variables[name]) for name in program.state_reads]
    fetches, new_state = NumpyBackend().compile(program)(inputs, state, feeds.context())
    return expected, ctx, program, (inputs, state), (fetches, new_state)


@given(case=generated_graphs(CATALOG, max_ops=12), data=st.data())
def test_matches_the_reference_on_random_programs(case, data) -> None:
    feeds = data.draw(case.feeds())
    expected, ctx, program, (inputs, state), (fetches, new_state) = run_both(case, feeds)
    assert_results_match(fetches, expected)
    assert len(new_state) == len(program.state_writes)
    for name, value in zip(program.state_writes, new_state):
        assert_array_matches(value, np.asarray(ctx.variables[name]), f"variable {name!r}")
    for out in (*fetches, *new_state):
        if isinstance(out, np.ndarray):
            assert not any(np.may_share_memory(out, a) for a in (*inputs, *state))
    # Inputs were read-only: no kernel wrote into them.
    for name, a in zip([v.name for v in feedable_inputs(case.graph)], inputs):
        assert_array_matches(a, np.asarray(feeds.arrays[name], dtype=a.dtype))


@given(
    case=generated_graphs(
        [O.Variable, O.Read, O.Assign, O.AssignAdd, O.AssignSub, O.Add, O.Mul, O.Identity, O.Reshape, O.Group],
        min_ops=4,
        max_ops=12,
    ),
    data=st.data(),
)
def test_matches_the_reference_on_stateful_programs(case, data) -> None:
    feeds = data.draw(case.feeds())
    expected, ctx, program, _, (fetches, new_state) = run_both(case, feeds)
    assert_results_match(fetches, expected)
    for name, value in zip(program.state_writes, new_state):
        assert_array_matches(value, np.asarray(ctx.variables[name]), f"variable {name!r}")
