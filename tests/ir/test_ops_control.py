"""Control ops: control-typed results that order their dependencies."""

from __future__ import annotations

import numpy as np
import pytest

from flowir.ir import CONTROL, DType, Graph, ResourceType, TensorType, Trait, VerificationError, ops, verify
from flowir.ir.reference import CONTROL_TOKEN, RefContext, evaluate, run_op

F32 = DType.float32


@pytest.mark.parametrize("cls", [ops.Group, ops.NoOp])
def test_type_and_kernel(cls):
    op = cls.create(name="g")
    assert op.result.type == CONTROL
    assert not op.operands and not op.control_deps
    assert run_op(op, []) == (CONTROL_TOKEN,)
    assert Trait.PURE not in cls.traits


def test_group_orders_its_dependencies():
    g = Graph()
    v = g.append(ops.Variable.create(name="w", result_types=[ResourceType(TensorType(F32, (2,)))]))
    x = g.add_input(TensorType(F32, (2,)), "x")
    a = g.append(ops.Assign.create(v.result, x, name="assign"))
    add = g.append(ops.AssignAdd.create(v.result, x, name="add", control_deps=[a.result]))
    init = g.append(ops.Group.create(name="init", control_deps=[a.result, add.result]))
    done = g.append(ops.NoOp.create(name="done", control_deps=[init.result]))
    assert init.control_deps == [a.result, add.result]
    assert (init, -1) in a.result.uses and (done, -1) in init.result.uses
    g.set_outputs([init.result, done.result])
    verify(g)
    ctx = RefContext()
    tokens = evaluate(g, [np.float32([1, 2])], ctx=ctx)
    assert tokens == [CONTROL_TOKEN, CONTROL_TOKEN]
    assert ctx.variables["w"].tolist() == [2, 4]


def test_verifier_checks_control_results():
    g = Graph()
    g.append(ops.Group(operands=[], result_types=[TensorType(F32, ())], user_name="bad"))
    with pytest.raises(
        VerificationError, match="result 0 has type tensor<f32> but its type rule gives !flowir.control"
    ):
        verify(g)
