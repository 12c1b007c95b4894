"""The fused Adam update: ``train.adam_update`` (pure), ``state.apply_adam`` (stateful) and the
functionalize-state rule between them (``tf.train.AdamOptimizer`` on them: tests/frontend).

The update must equal TF's ``ApplyAdamNonCuda`` formula evaluated op by op in the operands'
dtype, which is also what the optimizer computed when it composed the update from math ops:
the fused op changes the speed, never a bit of the result.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowir.ir import (
    DType,
    DTypeError,
    FlowirError,
    Graph,
    PassError,
    ResourceType,
    ShapeError,
    TensorType,
    Trait,
    Value,
    ops,
    verify,
)
from flowir.ir.dtypes import dtype_of
from flowir.ir.reference import RefContext, VariableRef, evaluate, run_op
from flowir.ir.reference.math import narrow, widen
from flowir.passes.functionalize import functionalize_state

F16, BF16, F32, F64 = DType.float16, DType.bfloat16, DType.float32, DType.float64
FLOAT_DTYPES = [F32, F64, F16, BF16]
SCALARS = ("beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon")
HYPER = {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}


def bits(a: np.ndarray) -> np.ndarray:
    """The raw bits of ``a``, so that comparisons see the sign of zero and NaN payloads."""
    a = np.ascontiguousarray(a)
    return a.reshape(-1).view(f"u{a.dtype.itemsize}")


def assert_bitwise(got: np.ndarray, want: np.ndarray) -> None:
    """Equal bits, the sign of zero included; NaN matches NaN whatever its sign and payload
    (IEEE 754 leaves a computed NaN's sign open: x86 makes ``inf - inf`` negative, while a
    NaN carried through from an input keeps its own, so the order of operations shows)."""
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    nan_got, nan_want = np.isnan(got.astype(np.float64)), np.isnan(want.astype(np.float64))
    np.testing.assert_array_equal(nan_got, nan_want)
    np.testing.assert_array_equal(bits(np.where(nan_got, 0, got).astype(got.dtype)), bits(np.where(nan_want, 0, want).astype(want.dtype)))


def tf_formula(dtype: DType, var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad, nesterov=False):
    """TF's ApplyAdamNonCuda, one numpy operation at a time, each rounded to ``dtype`` as the
    math kernels round (computed in float32 for the half types)."""
    nd = dtype.numpy

    def r(z: Any) -> np.ndarray:
        return narrow(z, nd)

    def w(x: Any) -> np.ndarray:
        return widen(np.asarray(x, nd))

    one = w(1)
    with np.errstate(all="ignore"):
        alpha = r(w(r(w(lr) * w(r(np.sqrt(w(r(one - w(beta2_power)))))))) / w(r(one - w(beta1_power))))
        new_m = r(w(m) + w(r(w(r(w(grad) - w(m))) * w(r(one - w(beta1))))))
        new_v = r(w(v) + w(r(w(r(w(r(w(grad) * w(grad))) - w(v))) * w(r(one - w(beta2))))))
        if nesterov:
            num = r(w(r(w(grad) * w(r(one - w(beta1))))) + w(r(w(beta1) * w(new_m))))
            step = r(w(num) * w(alpha))
        else:
            step = r(w(new_m) * w(alpha))
        denom = r(w(r(np.sqrt(w(new_v)))) + w(epsilon))
        new_var = r(w(var) - w(r(w(step) / w(denom))))
    return new_var, new_m, new_v


def sample_case(rng: np.random.Generator, dtype: DType, shape: tuple[int, ...], t: int = 3) -> dict[str, np.ndarray]:
    nd = dtype.numpy
    f = lambda x: np.asarray(x, np.float64).astype(nd)  # noqa: E731
    b1, b2 = 0.9, 0.999
    return {
        "var": f(rng.standard_normal(shape)),
        "m": f(rng.standard_normal(shape) * 0.1),
        "v": f(np.abs(rng.standard_normal(shape)) * 0.01),
        "beta1_power": f(b1**t),
        "beta2_power": f(b2**t),
        "lr": f(HYPER["lr"]),
        "beta1": f(b1),
        "beta2": f(b2),
        "epsilon": f(HYPER["epsilon"]),
        "grad": f(rng.standard_normal(shape)),
    }


ORDER = ("var", "m", "v", *SCALARS, "grad")


def tensor_inputs(g: Graph, case: dict[str, np.ndarray], declared: dict[str, Any] | None = None) -> list[Value]:
    declared = declared or {}
    out = []
    for k in ORDER:
        a = case[k]
        shape = declared.get(k, a.shape)
        out.append(g.add_input(TensorType(dtype_of(a), shape), k))
    return out


def adam_op(case: dict[str, np.ndarray], declared: dict[str, Any] | None = None, **attrs: Any) -> ops.AdamUpdate:
    g = Graph()
    return g.append(ops.AdamUpdate.create(*tensor_inputs(g, case, declared), name="update", **attrs))


# --------------------------------------------------------------------------------------------
# train.adam_update: the type rule


def test_adam_update_types() -> None:
    case = sample_case(np.random.default_rng(0), F32, (2, 3))
    op = adam_op(case, {"var": (None, 3), "m": (2, None), "v": None, "grad": (2, 3), "lr": None})
    assert [r.type for r in op.results] == [TensorType(F32, (2, 3))] * 3
    assert op.traits == frozenset({Trait.PURE})
    assert op.use_nesterov is False
    assert [r.name for r in op.results] == ["update:0", "update:1", "update:2"]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (
            {"grad": np.zeros((3, 3), np.float32)},
            ShapeError,
            r"grad has shape \[3, 3\], which does not fit the shape \[2, 3\] of var, m, v",
        ),
        ({"m": np.zeros((3,), np.float32)}, ShapeError, r"m has shape \[3\]"),
        ({"lr": np.zeros((2,), np.float32)}, ShapeError, r"lr must be a scalar, got shape \[2\]"),
        ({"epsilon": np.float64(1e-8)}, DTypeError, "var and epsilon have different dtypes"),
        ({"v": np.zeros((2, 3), np.float64)}, DTypeError, "var, m, v and grad have different dtypes"),
        (
            {k: np.zeros((2, 3), np.int32) if k in ("var", "m", "v", "grad") else np.int32(1) for k in ORDER},
            DTypeError,
            "var has dtype i32",
        ),
    ],
)
def test_adam_update_rejects_bad_operands(change: dict[str, Any], error: type, message: str) -> None:
    case = sample_case(np.random.default_rng(0), F32, (2, 3))
    case.update({k: np.asarray(v) for k, v in change.items()})
    with pytest.raises(error, match=message) as info:
        adam_op(case)
    assert "train.adam_update 'update'" in str(info.value)


def test_adam_update_rejects_variable_handles() -> None:
    g = Graph()
    case = sample_case(np.random.default_rng(0), F32, (2,))
    args = tensor_inputs(g, case)
    args[0] = g.add_input(ResourceType(TensorType(F32, (2,))), "h")
    with pytest.raises(DTypeError, match="var must be a tensor"):
        ops.AdamUpdate.create(*args, name="u")


# --------------------------------------------------------------------------------------------
# train.adam_update: the kernel


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: d.value)
@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("shape", [(), (5,), (4, 3), (7, 33)])
def test_kernel_is_tf_formula_bit_for_bit(dtype: DType, nesterov: bool, shape: tuple[int, ...]) -> None:
    case = sample_case(np.random.default_rng(1), dtype, shape)
    op = adam_op(case, use_nesterov=nesterov)
    got = run_op(op, [case[k] for k in ORDER])
    want = tf_formula(dtype, *(case[k] for k in ORDER), nesterov=nesterov)
    for g_, w_ in zip(got, want):
        assert type(g_) is np.ndarray
        assert_bitwise(g_, w_)


@given(
    data=st.data(),
    dtype=st.sampled_from(FLOAT_DTYPES),
    nesterov=st.booleans(),
    shape=st.lists(st.integers(0, 4), max_size=3).map(tuple),
)
def test_kernel_matches_the_formula_on_arbitrary_values(
    data: st.DataObject, dtype: DType, nesterov: bool, shape
) -> None:
    """Special values included: inf and nan propagate as in the formula, sign of zero too."""
    elements = st.floats(
        allow_nan=True, allow_infinity=True, width=16 if dtype is F16 else 32 if dtype is not F64 else 64
    )
    nd = dtype.numpy

    def arr(s: tuple[int, ...]) -> np.ndarray:
        n = int(np.prod(s))
        return np.array(data.draw(st.lists(elements, min_size=n, max_size=n)), np.float64).astype(nd).reshape(s)

    case = {k: arr(shape if k in ("var", "m", "v", "grad") else ()) for k in ORDER}
    op = adam_op(case, use_nesterov=nesterov)
    got = run_op(op, [case[k] for k in ORDER])
    want = tf_formula(dtype, *(case[k] for k in ORDER), nesterov=nesterov)
    for g_, w_ in zip(got, want):
        assert_bitwise(g_, w_)


def test_kernel_never_writes_into_its_operands() -> None:
    case = sample_case(np.random.default_rng(2), F32, (3, 4))
    before = {k: a.copy() for k, a in case.items()}
    for k in case:
        case[k].setflags(write=False)
    # A broadcast view, as a gradient of a broadcast can be: read-only, zero strides.
    case["grad"] = np.broadcast_to(np.float32(0.5), (3, 4))
    before["grad"] = case["grad"].copy()
    results = run_op(adam_op(case), [case[k] for k in ORDER])
    for k in ORDER:
        assert_bitwise(case[k], before[k])
    for r in results:
        assert r.flags.writeable and r.flags.c_contiguous
        assert not any(np.shares_memory(r, case[k]) for k in ORDER)
    assert not np.shares_memory(results[0], results[1]) and not np.shares_memory(results[1], results[2])


def test_kernel_rejects_run_time_shapes_the_types_let_through() -> None:
    case = sample_case(np.random.default_rng(3), F32, (2, 3))
    op = adam_op(case, {"grad": (None, 3), "lr": None})
    bad = dict(case, grad=np.zeros((4, 3), np.float32))
    with pytest.raises(ShapeError, match=r"grad has shape \[4, 3\]"):
        run_op(op, [bad[k] for k in ORDER])
    bad = dict(case, lr=np.full((1,), 0.1, np.float32))
    with pytest.raises(ShapeError, match="lr must be a scalar"):
        run_op(op, [bad[k] for k in ORDER])


def composed_update_graph(dtype: DType, nesterov: bool) -> tuple[Graph, list[Value]]:
    """The update built from math ops as ``AdamOptimizer`` built it before the fused op."""
    g = Graph()
    var, m, v, b1p, b2p, lr, b1, b2, eps, grad = (
        g.add_input(TensorType(dtype, () if k in SCALARS else (64,)), k) for k in ORDER
    )
    one = g.add_input(TensorType(dtype, ()), "one")

    def op(cls: type, *xs: Value) -> Value:
        return g.append(cls.create(*xs)).result

    alpha = op(ops.Div, op(ops.Mul, lr, op(ops.Sqrt, op(ops.Sub, one, b2p))), op(ops.Sub, one, b1p))
    m_t = op(ops.Add, m, op(ops.Mul, op(ops.Sub, grad, m), op(ops.Sub, one, b1)))
    v_t = op(ops.Add, v, op(ops.Mul, op(ops.Sub, op(ops.Square, grad), v), op(ops.Sub, one, b2)))
    if nesterov:
        num = op(ops.Add, op(ops.Mul, grad, op(ops.Sub, one, b1)), op(ops.Mul, b1, m_t))
        step = op(ops.Mul, num, alpha)
    else:
        step = op(ops.Mul, m_t, alpha)
    var_t = op(ops.Sub, var, op(ops.Div, step, op(ops.Add, op(ops.Sqrt, v_t), eps)))
    g.set_outputs([var_t, m_t, v_t])
    return g, [var, m, v, b1p, b2p, lr, b1, b2, eps, grad, one]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: d.value)
@pytest.mark.parametrize("nesterov", [False, True])
def test_kernel_equals_the_composed_math_ops_over_steps(dtype: DType, nesterov: bool) -> None:
    composed, inputs = composed_update_graph(dtype, nesterov)
    rng = np.random.default_rng(4)
    nd = dtype.numpy
    state = {k: sample_case(rng, dtype, (64,))[k] for k in ("var", "m", "v")}
    fused_state = dict(state)
    b1, b2 = nd.type(0.9), nd.type(0.999)
    b1p, b2p = b1, b2
    for _ in range(5):
        grad = (rng.standard_normal(64) + state["var"].astype(np.float64)).astype(nd)
        hyper = {
            "beta1_power": b1p,
            "beta2_power": b2p,
            "lr": nd.type(0.05),
            "beta1": b1,
            "beta2": b2,
            "epsilon": nd.type(1e-8),
        }
        feeds = {**state, **hyper, "grad": grad}
        state = dict(
            zip(("var", "m", "v"), evaluate(composed, [np.asarray(feeds[v.name]) for v in inputs[:-1]] + [nd.type(1)]))
        )
        fused_feeds = {**fused_state, **hyper, "grad": grad}
        case = {k: np.asarray(fused_feeds[k]) for k in ORDER}
        fused_state = dict(
            zip(("var", "m", "v"), run_op(adam_op(case, use_nesterov=nesterov), [case[k] for k in ORDER]))
        )
        for k in state:
            assert_bitwise(fused_state[k], state[k])
        b1p, b2p = nd.type(b1p * b1), nd.type(b2p * b2)


# --------------------------------------------------------------------------------------------
# state.apply_adam


def var_type(dtype: DType, shape: Any) -> ResourceType:
    return ResourceType(TensorType(dtype, shape))


def apply_adam_graph(shape: Any = (3,), dtype: DType = F32, nesterov: bool = False) -> tuple[Graph, ops.ApplyAdam]:
    g = Graph()
    handles = [
        g.append(ops.Variable.create(name=n, result_types=[var_type(dtype, shape)])).result
        for n in ("w", "w/Adam", "w/Adam_1")
    ]
    scalars = [g.add_input(TensorType(dtype, ()), k) for k in SCALARS]
    grad = g.add_input(TensorType(dtype, shape), "grad")
    op = g.append(ops.ApplyAdam.create(*handles, *scalars, grad, name="Adam/update_w/ApplyAdam", use_nesterov=nesterov))
    return g, op


def test_apply_adam_types() -> None:
    g, op = apply_adam_graph((None, 2))
    assert op.result.type == TensorType(F32, (None, 2))
    assert Trait.STATEFUL in op.traits
    handles = [v for v in op.operands[:3]]
    scalars = [g.add_input(TensorType(F32, ()), f"s{i}") for i in range(6)]
    with pytest.raises(DTypeError, match="m must be a variable handle"):
        ops.ApplyAdam.create(handles[0], scalars[0], handles[2], *scalars, g.inputs[-1], name="bad")
    other = g.append(ops.Variable.create(name="o", result_types=[var_type(F32, (3,))])).result
    with pytest.raises(ShapeError, match=r"v has shape \[3\]"):
        ops.ApplyAdam.create(handles[0], handles[1], other, *scalars, g.inputs[-1], name="bad")


@pytest.mark.parametrize("nesterov", [False, True])
def test_apply_adam_updates_the_three_variables(nesterov: bool) -> None:
    g, op = apply_adam_graph(nesterov=nesterov)
    case = sample_case(np.random.default_rng(5), F32, (3,))
    ctx = RefContext({"w": case["var"], "w/Adam": case["m"], "w/Adam_1": case["v"]})
    feeds = {k: case[k] for k in (*SCALARS, "grad")}
    g.set_outputs([op.result])
    verify(g)
    (new_var,) = evaluate(g, feeds, ctx=ctx)
    want = tf_formula(F32, *(case[k] for k in ORDER), nesterov=nesterov)
    assert_bitwise(new_var, want[0])
    for name, w_ in zip(("w", "w/Adam", "w/Adam_1"), want):
        assert_bitwise(ctx.variables[name], w_)
    assert ctx.variables["w"] is new_var
    # The old arrays are left alone: a fetched value never changes behind its holder's back.
    assert_bitwise(case["var"], sample_case(np.random.default_rng(5), F32, (3,))["var"])


def test_apply_adam_kernel_reads_every_value_before_writing() -> None:
    """With one variable passed as var, m and v, all three are read first, then written in
    the order var, m, v (as functionalize-state assigns them)."""
    g = Graph()
    h = g.append(ops.Variable.create(name="w", result_types=[var_type(F32, (2,))])).result
    scalars = [g.add_input(TensorType(F32, ()), k) for k in SCALARS]
    grad = g.add_input(TensorType(F32, (2,)), "grad")
    op = g.append(ops.ApplyAdam.create(h, h, h, *scalars, grad, name="a"))
    case = sample_case(np.random.default_rng(6), F32, (2,))
    case["m"] = case["v"] = case["var"]
    ctx = RefContext({"w": case["var"]})
    run_op(op, [VariableRef("w"), VariableRef("w"), VariableRef("w"), *(case[k] for k in (*SCALARS, "grad"))], ctx)
    want = tf_formula(F32, *(case[k] for k in ORDER))
    assert_bitwise(ctx.variables["w"], want[2])
    g.set_outputs([op.result])
    sig = functionalize_state(g)
    out = evaluate(g, {**{k: case[k] for k in (*SCALARS, "grad")}, "w": case["var"]})
    assert sig.writes == ["w"]
    assert_bitwise(out[-1], want[2])


def test_apply_adam_of_an_uninitialized_variable_fails() -> None:
    g, op = apply_adam_graph()
    case = sample_case(np.random.default_rng(7), F32, (3,))
    ctx = RefContext({"w": case["var"], "w/Adam": case["m"]})
    g.set_outputs([op.result])
    with pytest.raises(FlowirError, match="'w/Adam_1' is read before it was initialized"):
        evaluate(g, {k: case[k] for k in (*SCALARS, "grad")}, ctx=ctx)


# --------------------------------------------------------------------------------------------
# functionalize-state


@pytest.mark.parametrize("nesterov", [False, True])
def test_functionalize_turns_apply_adam_into_adam_update(nesterov: bool) -> None:
    case = sample_case(np.random.default_rng(8), F32, (3,))
    feeds = {k: case[k] for k in (*SCALARS, "grad")}
    g, op = apply_adam_graph(nesterov=nesterov)
    g.set_outputs([op.result])
    ctx = RefContext({"w": case["var"], "w/Adam": case["m"], "w/Adam_1": case["v"]})
    (expected,) = evaluate(g, feeds, ctx=ctx)

    g, op = apply_adam_graph(nesterov=nesterov)
    g.set_outputs([op.result])
    sig = functionalize_state(g)
    verify(g)
    assert [type(o) for o in g.ops] == [ops.AdamUpdate]
    (update,) = g.ops
    assert update.user_name == "Adam/update_w/ApplyAdam" and update.use_nesterov is nesterov
    assert sig.reads == [(n, TensorType(F32, (3,))) for n in ("w", "w/Adam", "w/Adam_1")]
    assert sig.writes == ["w", "w/Adam", "w/Adam_1"]
    assert g.outputs == [update.results[0], *update.results]
    out = evaluate(g, {**feeds, "w": case["var"], "w/Adam": case["m"], "w/Adam_1": case["v"]})
    assert_bitwise(out[0], expected)
    for name, value in zip(sig.writes, out[1:]):
        assert_bitwise(value, ctx.variables[name])


def test_functionalize_reads_slots_after_earlier_updates() -> None:
    """An update of m before the step is seen by it; a read after the step sees its result."""
    g, op = apply_adam_graph()
    m_handle = op.operands[1]
    zero = g.add_input(TensorType(F32, (3,)), "zero")
    reset = ops.Assign.create(m_handle, zero, name="reset")
    g.insert_before(op, reset)
    op.add_control_dep(reset.result)
    after = g.append(ops.Read.create(m_handle, name="m_after", control_deps=[op.result]))
    g.set_outputs([after.result])
    case = sample_case(np.random.default_rng(9), F32, (3,))
    feeds = {**{k: case[k] for k in (*SCALARS, "grad")}, "zero": np.zeros(3, np.float32)}
    ctx = RefContext({"w": case["var"], "w/Adam": case["m"], "w/Adam_1": case["v"]})
    (expected,) = evaluate(g, feeds, ctx=ctx)
    sig = functionalize_state(g)
    verify(g)
    assert ("w/Adam", TensorType(F32, (3,))) not in sig.reads
    out = evaluate(g, {**feeds, "w": case["var"], "w/Adam_1": case["v"]})
    want = tf_formula(F32, *(dict(case, m=np.zeros(3, np.float32))[k] for k in ORDER))
    assert_bitwise(expected, want[1])
    assert_bitwise(out[0], want[1])


def test_functionalize_rejects_a_slot_handle_not_from_a_variable() -> None:
    g = Graph()
    w = g.append(ops.Variable.create(name="w", result_types=[var_type(F32, (2,))])).result
    loose = g.add_input(var_type(F32, (2,)), "loose")
    scalars = [g.add_input(TensorType(F32, ()), k) for k in SCALARS]
    grad = g.add_input(TensorType(F32, (2,)), "grad")
    op = g.append(ops.ApplyAdam.create(w, loose, w, *scalars, grad, name="a"))
    g.set_outputs([op.result])
    with pytest.raises(PassError, match="'a': its variable handle 'loose'.*state.variable"):
        functionalize_state(g)
