"""The jax backend against the numpy reference on random programs.

Random graphs over the whole catalog (random ops excepted: their streams differ by design),
with wildcard shapes fed at random sizes and random dtypes, must compute the same fetches and
new state within per-dtype tolerances, and fail where the reference fails. Each example
compiles an XLA program, so example counts are modest.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("jax")

from flowir.backends.jax import LOWERING_RULES, JaxBackend  # noqa: E402
from flowir.ir import DType, FlowirError, Trait  # noqa: E402
from flowir.ir import ops as O  # noqa: E402
from flowir.ir.reference import RefContext, run_op  # noqa: E402
from flowir.testing import (  # noqa: E402
    TOLERANCES,
    assert_array_matches,
    assert_results_match,
    generatable_ops,
    generated_graphs,
)
from tests.backends.helpers import feedable_inputs, make_program  # noqa: E402

#: The catalog's deterministic ops that have a lowering (random ops are checked statistically
#: in test_jax.py; ops without a lowering fail the coverage test there).
DETERMINISTIC = [
    c
    for c in generatable_ops()
    if c.__module__.startswith("flowir.") and Trait.RANDOM not in c.traits and c in LOWERING_RULES
]
#: Ops whose XLA formulation multiplies structural zeros (the holes of a dilated input, the
#: padding of a transposed conv) by the operands: with an infinity fed, 0 * inf makes NaN
#: where the reference, summing only the taps that exist, gives 0. Finite values agree (the
#: tests above); this difference is XLA's, as TF's own XLA path has it.
STRUCTURAL_ZEROS = {"grad.conv_input_grad", "grad.conv_filter_grad", "nn.conv_transpose"}
SPECIAL_VALUE_OPS = [c for c in DETERMINISTIC if c.name not in STRUCTURAL_ZEROS]
#: Generated ops name devices at random; on a machine without them they run on the CPU.
pytestmark = pytest.mark.filterwarnings("ignore:.*which does not exist.*:RuntimeWarning")
JAX = JaxBackend()


def flush_subnormals(value):
    """``value`` with subnormal floats replaced by zeros of their sign, as XLA's CPU and GPU
    code (and TF's CPU kernels) compute: they flush denormals to zero. Half types hold no
    float32 subnormal but bfloat16, whose range is float32's."""
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f" and value.dtype != DType.bfloat16.numpy:
        return value
    tiny = np.finfo(np.float64 if value.dtype == np.float64 else np.float32).tiny
    wide = value.astype(np.float64)
    return np.where(np.abs(wide) < tiny, np.copysign(0.0, wide), wide).astype(value.dtype)


def reference_run(program, arrays):
    """The program run op by op by the reference kernels, flushing subnormals after each op:
    ``(fetches, new_state)`` or the ``FlowirError`` raised."""
    graph = program.graph
    env = {arg: flush_subnormals(np.asarray(a)) for arg, a in zip(graph.inputs, arrays)}
    try:
        for op in graph.ops:
            out = run_op(op, [env[v] for v in op.operands], RefContext())
            env.update(zip(op.results, (flush_subnormals(v) for v in out)))
    except FlowirError as e:
        return e
    values = [env[v] for v in graph.outputs]
    return values[: program.num_fetches], values[program.num_fetches :]


def run_both(case, feeds):
    """The generated graph's program run by the reference and by the jax backend: the
    program and, for each, ``(fetches, new_state)`` or the ``FlowirError`` it raised."""
    g, _ = case.build()
    program = make_program(g)
    inputs = [feeds.arrays[v.name] for v in feedable_inputs(g)]
    state = [feeds.variables[name] for name in program.state_reads]
    expected = reference_run(program, [*inputs, *state])
    try:
        fetches, new_state = JAX.compile(program)(list(inputs), list(state), RefContext())
        actual = (fetches, [np.asarray(v) for v in new_state])
    except FlowirError as e:
        actual = e
    return program, (expected, actual)


#: Per-dtype ``(rtol, atol)`` between backends: XLA's transcendental functions differ from
#: numpy's by a few ulps, and chains of ops compound it (``cos(log(x))`` near a large log), so
#: these are looser than ``flowir.testing.TOLERANCES``, which compares one kernel's results.
BACKEND_TOLERANCES = {
    DType.float64: (1e-7, 1e-9),
    DType.float32: (2e-4, 2e-5),
    DType.float16: (2e-2, 2e-3),
    DType.bfloat16: (5e-2, 2e-2),
}


@contextlib.contextmanager
def backend_tolerances():
    saved = dict(TOLERANCES)
    TOLERANCES.update(BACKEND_TOLERANCES)
    try:
        yield
    finally:
        TOLERANCES.clear()
        TOLERANCES.update(saved)


def check_agreement(case, feeds) -> None:
    with backend_tolerances():
        _check_agreement(case, feeds)


def _check_agreement(case, feeds) -> None:
    program, (expected, actual) = run_both(case, feeds)
    if isinstance(expected, FlowirError):
        assert isinstance(actual, FlowirError), f"the reference failed ({expected.detail}) but jax did not"
        # Both name the same failing op first (the messages' first word is the op name).
        assert actual.detail.split(" ")[0] == expected.detail.split(" ")[0]
        return
    assert not isinstance(actual, FlowirError), f"jax failed where the reference did not: {actual}"
    assert_results_match(actual[0], expected[0])
    for name, a, e in zip(program.state_writes, actual[1], expected[1]):
        assert_array_matches(a, e, f"variable {name!r}")


@settings(max_examples=150)
@given(case=generated_graphs(DETERMINISTIC, max_ops=10), data=st.data())
def test_agrees_with_the_reference_on_random_programs(case, data) -> None:
    check_agreement(case, data.draw(case.feeds()))


@settings(max_examples=50)
@given(
    case=generated_graphs(
        [O.Variable, O.Read, O.Assign, O.AssignAdd, O.AssignSub, O.Add, O.Mul, O.Identity, O.Reshape, O.Group],
        min_ops=4,
        max_ops=10,
    ),
    data=st.data(),
)
def test_agrees_with_the_reference_on_stateful_programs(case, data) -> None:
    check_agreement(case, data.draw(case.feeds()))


@settings(max_examples=60)
@given(case=generated_graphs(SPECIAL_VALUE_OPS, max_ops=8), data=st.data())
def test_agrees_with_special_values(case, data) -> None:
    """NaN, infinities and -0.0 in the feeds: nan propagation and saturation agree."""
    check_agreement(case, data.draw(case.feeds(special=True)))


@settings(max_examples=40)
@given(case=generated_graphs(DETERMINISTIC, max_ops=8, unknown_rank=True), data=st.data())
def test_agrees_on_inputs_of_unknown_rank(case, data) -> None:
    """Inputs typed ``tensor<*x...>``: every run's rank and sizes are only known when fed."""
    check_agreement(case, data.draw(case.feeds()))
