"""State ops: variables, reads and assignments, through the reference interpreter."""

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
    OpAttributeError,
    Operation,
    ResourceType,
    ShapeError,
    TensorType,
    Trait,
    Value,
    dtype_of,
    ops,
    verify,
)
from flowir.ir.reference import RefContext, VariableRef, evaluate
from tests.ir.kernel_checks import check_kernel, declared, inputs, sample

F32, I32 = DType.float32, DType.int32


def var_type(dtype: DType, shape) -> ResourceType:
    return ResourceType(TensorType(dtype, shape))


class Builder:
    """A graph under construction and the feeds that stand in for its constants (this layer
    has no kernel for ``flowir.constant``)."""

    def __init__(self) -> None:
        self.g = Graph()
        self.feeds: dict[str, np.ndarray] = {}

    def variable(self, name: str, ty: ResourceType, **attrs: Any) -> ops.Variable:
        return self.g.append(ops.Variable.create(name=name, result_types=[ty], **attrs))

    def const(self, value: Any) -> Value:
        value = np.asarray(value)
        arg = self.g.add_input(TensorType(dtype_of(value), value.shape), f"const{len(self.g.inputs)}")
        self.feeds[arg.name] = value
        return arg

    def add(self, op: Operation) -> Operation:
        return self.g.append(op)

    def run(self, *outputs: Value, ctx: RefContext | None = None) -> list[Any]:
        self.g.set_outputs(list(outputs))
        verify(self.g)
        return evaluate(self.g, self.feeds, ctx=ctx)


def test_assign_then_read():
    b = Builder()
    v = b.variable("w", var_type(F32, (2, 3)))
    a = b.add(ops.Assign.create(v.result, b.const(np.arange(6, dtype=np.float32).reshape(2, 3)), name="w/assign"))
    r = b.add(ops.Read.create(v.result, name="w/read", control_deps=[a.result]))
    ctx = RefContext()
    assigned, read = b.run(a.result, r.result, ctx=ctx)
    np.testing.assert_array_equal(read, np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(assigned, read)
    assert read.dtype == np.float32
    assert set(ctx.variables) == {"w"}


def test_updates_accumulate_across_runs():
    b = Builder()
    v = b.variable("counter", var_type(I32, ()))
    add = b.add(ops.AssignAdd.create(v.result, b.const(np.int32(3)), name="add"))
    sub = b.add(ops.AssignSub.create(v.result, b.const(np.int32(1)), name="sub"))
    ctx = RefContext({"counter": np.asarray(10, np.int32)})
    for run in range(1, 4):
        after_add, after_sub = b.run(add.result, sub.result, ctx=ctx)
        assert after_add.dtype == np.int32 and after_sub.dtype == np.int32
        assert int(after_add) == 10 + 2 * (run - 1) + 3
        assert int(after_sub) == 10 + 2 * run
    assert int(ctx.variables["counter"]) == 16


def test_integer_updates_wrap():
    b = Builder()
    v = b.variable("b", var_type(DType.int8, (2,)))
    add = b.add(ops.AssignAdd.create(v.result, b.const(np.array([1, -1], np.int8))))
    (out,) = b.run(add.result, ctx=RefContext({"b": np.array([127, -128], np.int8)}))
    assert out.dtype == np.int8 and out.tolist() == [-128, 127]


def test_fetched_values_do_not_change_later():
    b = Builder()
    v = b.variable("w", var_type(F32, (2,)))
    r = b.add(ops.Read.create(v.result))
    add = b.add(ops.AssignAdd.create(v.result, b.const(np.float32([1, 1])), control_deps=[r.result]))
    before, after = b.run(r.result, add.result, ctx=RefContext({"w": np.float32([0, 5])}))
    assert before.tolist() == [0, 5] and after.tolist() == [1, 6]


def test_shared_name_is_the_identity():
    b = Builder()
    ty = var_type(F32, (1,))
    v1 = b.variable("a", ty, shared_name="shared")
    v2 = b.variable("b", ty, shared_name="shared")
    assert v1.var_name == v2.var_name == "shared"
    a = b.add(ops.Assign.create(v1.result, b.const(np.float32([4]))))
    r = b.add(ops.Read.create(v2.result, control_deps=[a.result]))
    (out,) = b.run(r.result)
    assert out.tolist() == [4]


def test_feed_with_unknown_dims_is_checked_at_run_time():
    b = Builder()
    v = b.variable("w", var_type(F32, (3,)))
    x = b.g.add_input(TensorType(F32, (None,)), "x")
    a = b.add(ops.Assign.create(v.result, x, name="w/assign"))
    b.feeds["x"] = np.zeros(3, np.float32)
    assert b.run(a.result)[0].shape == (3,)
    b.feeds["x"] = np.zeros(4, np.float32)
    with pytest.raises(
        ShapeError, match=r"state.assign 'w/assign': value of shape \[4\] does not fit the variable's shape \[3\]"
    ):
        b.run(a.result)


def test_assign_copies_its_value():
    b = Builder()
    v = b.variable("w", var_type(F32, (2,)))
    fed = np.float32([1, 2])
    a = b.add(ops.Assign.create(v.result, b.const(fed)))
    ctx = RefContext()
    b.run(a.result, ctx=ctx)
    b.feeds["const0"][0] = 99
    assert ctx.variables["w"].tolist() == [1, 2]


def test_read_before_init_is_an_error():
    b = Builder()
    v = b.variable("w", var_type(F32, (2,)))
    r = b.add(ops.Read.create(v.result, name="w/read"))
    with pytest.raises(FlowirError, match="state.read 'w/read': variable 'w' is read before it was initialized"):
        b.run(r.result)
    b = Builder()
    v = b.variable("w", var_type(F32, (2,)))
    add = b.add(ops.AssignAdd.create(v.result, b.const(np.float32([1, 1])), name="w/add"))
    with pytest.raises(FlowirError, match="state.assign_add 'w/add': variable 'w' is read before"):
        b.run(add.result)


@given(
    st.data(),
    st.lists(st.integers(0, 3), max_size=3).map(tuple),
    st.sampled_from([F32, I32, DType.bool, DType.float16, DType.int64, DType.string]),
)
def test_kernels_match_types(data, shape, dtype):
    ty = var_type(dtype, data.draw(declared(shape)))
    (ref,) = inputs(ty)
    (val,) = inputs(TensorType(dtype, data.draw(declared(shape))))
    x = sample(shape, dtype)
    ctx = RefContext()
    handle = VariableRef("v")
    assign = ops.Assign.create(ref, val)
    (new,) = check_kernel(assign, handle, x, ctx=ctx)
    np.testing.assert_array_equal(new, x)
    (got,) = check_kernel(ops.Read.create(ref), handle, ctx=ctx)
    np.testing.assert_array_equal(got, x)
    if dtype.is_numeric:
        (summed,) = check_kernel(ops.AssignAdd.create(ref, val), handle, x, ctx=ctx)
        np.testing.assert_array_equal(summed, x + x)
        (back,) = check_kernel(ops.AssignSub.create(ref, val), handle, x, ctx=ctx)
        np.testing.assert_array_equal(back, x)


def test_type_rules():
    ref, good, partial, wrong_dtype, wrong_shape = inputs(
        var_type(F32, (None, 3)),
        TensorType(F32, (2, 3)),
        TensorType(F32, None),
        TensorType(I32, (2, 3)),
        TensorType(F32, (2, 4)),
    )
    assert ops.Read.create(ref).result.type == TensorType(F32, (None, 3))
    assert ops.Assign.create(ref, good).result.type == TensorType(F32, (2, 3))
    assert ops.Assign.create(ref, partial).result.type == TensorType(F32, (None, 3))
    assert ops.AssignAdd.create(ref, good).result.type == TensorType(F32, (2, 3))
    with pytest.raises(DTypeError, match="value has dtype i32 but the variable holds f32") as e:
        ops.Assign.create(ref, wrong_dtype, name="w/assign")
    assert "ref:   'in0' var<f32[None, 3]>" in str(e.value)
    with pytest.raises(ShapeError, match=r"delta of shape \[2, 4\] does not fit the variable's shape \[None, 3\]"):
        ops.AssignSub.create(ref, wrong_shape)
    with pytest.raises(DTypeError, match="ref must be a variable handle"):
        ops.Read.create(good)
    (bref, bval) = inputs(var_type(DType.bool, (2,)), TensorType(DType.bool, (2,)))
    with pytest.raises(DTypeError, match="delta has dtype i1; expected one of"):
        ops.AssignAdd.create(bref, bval)


def test_variable_definition():
    v = ops.Variable.create(name="w", result_types=[var_type(F32, (2,))])
    assert v.var_name == "w" and v.value_type == TensorType(F32, (2,))
    with pytest.raises(
        DTypeError, match=r"state.variable 'w': the result must be a variable handle, got tensor<2xf32>"
    ):
        ops.Variable.create(name="w", result_types=[TensorType(F32, (2,))])
    with pytest.raises(OpAttributeError, match="needs a user name or a shared_name"):
        ops.Variable.create(result_types=[var_type(F32, (2,))])
    assert ops.Variable.create(result_types=[var_type(F32, (2,))], shared_name="s").var_name == "s"
    with pytest.raises(TypeError, match="needs result_types"):
        ops.Variable.create(name="w")


def test_traits():
    for cls in (ops.Variable, ops.Read, ops.Assign, ops.AssignAdd, ops.AssignSub):
        assert Trait.STATEFUL in cls.traits and Trait.PURE not in cls.traits
