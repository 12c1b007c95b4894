"""Values, ops and graphs: construction, use lists, mutation, the verifier."""

from __future__ import annotations

import numpy as np
import pytest

from flowir.ir import (
    DType,
    DTypeError,
    Graph,
    Ints,
    Location,
    OpAttributeError,
    Operation,
    ShapeError,
    TensorType,
    Trait,
    VerificationError,
    attr,
    operand,
    register_op,
    variadic_operand,
    verify,
)
from flowir.ir.ops._base import ELEMENTWISE_COMMUTATIVE, BinaryElementwise, UnaryElementwise
from flowir.ir.ops.core import Constant, Placeholder
from flowir.ir.types import broadcast_shapes

F32 = DType.float32


@register_op
class TAdd(BinaryElementwise):
    name = "test_core.add"
    traits = ELEMENTWISE_COMMUTATIVE


@register_op
class TNeg(UnaryElementwise):
    name = "test_core.neg"


@register_op
class TConcatLike(Operation):
    """first + every rest operand broadcast; tests variadic getters between fixed ones."""

    name = "test_core.mix"
    traits = frozenset({Trait.PURE})
    first = operand()
    rest = variadic_operand()
    last = operand()
    scale = attr(float, default=1.0)
    axes = attr(Ints, default=None)

    def infer_type(self, first, rest, last):
        shape = broadcast_shapes(first.shape, *(t.shape for t in rest), last.shape)
        return TensorType(first.dtype, shape)


def placeholder(g: Graph, shape, name: str, dtype: DType = F32):
    return g.append(Placeholder.create(name=name, result_types=[TensorType(dtype, shape)])).result


def const(g: Graph, value, name: str | None = None):
    return g.append(Constant.create(value=np.asarray(value), name=name)).result


def test_create_infers_and_records_location() -> None:
    g = Graph()
    x = placeholder(g, (None, 3), "x")
    c = const(g, np.ones((1, 3), np.float32), "c")
    op = g.append(TAdd.create(x, c, name="add"))
    assert op.result.type == TensorType(F32, (None, 3))
    assert op.x is x and op.y is c
    assert op.location.file is not None and op.location.file.endswith("test_core.py")
    assert op.location.function == "test_create_infers_and_records_location"
    assert op.result.name == "add"
    assert x.users == [op] and list(x.uses) == [(op, 0)]
    verify(g)


def test_shape_error_names_everything() -> None:
    g = Graph()
    x = placeholder(g, (None, 784), "inputs/x")
    w = const(g, np.zeros((128,), np.float32), "dense_1/kernel")
    with pytest.raises(ShapeError) as info:
        TAdd.create(x, w, name="dense_1/add")
    msg = str(info.value)
    assert msg.startswith("test_core.add 'dense_1/add': shapes are not broadcast-compatible")
    assert "'inputs/x'" in msg and "f32[None, 784]" in msg
    assert "'dense_1/kernel'" in msg and "f32[128]" in msg
    assert "created at" in msg and "test_core.py" in msg
    assert isinstance(info.value, ValueError)


def test_dtype_error() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    y = placeholder(g, (3,), "y", DType.int32)
    with pytest.raises(DTypeError, match="f32 vs i32"):
        TAdd.create(x, y)


def test_attribute_errors() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    with pytest.raises(OpAttributeError, match="unknown attribute 'bogus'"):
        TNeg.create(x, bogus=1)
    with pytest.raises(OpAttributeError, match="'scale'.*expected a float"):
        TConcatLike.create(x, [], x, scale="big")
    op = TConcatLike.create(x, [], x, scale=2, axes=[0, np.int64(1)])
    assert op.scale == 2.0 and type(op.scale) is float and op.axes == (0, 1)
    assert TConcatLike.create(x, [], x, scale=1.0).attributes == {}  # defaults are not stored


def test_variadic_getters() -> None:
    g = Graph()
    a, b, c, d = (placeholder(g, (2,), n) for n in "abcd")
    op = g.append(TConcatLike.create(a, [b, c], d, name="mix"))
    assert op.first is a and op.rest == (b, c) and op.last is d
    op2 = g.append(TConcatLike.create(a, [], d))
    assert op2.rest == () and op2.last is d


def test_replace_all_uses_and_erase() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    n1 = g.append(TNeg.create(x, name="n1"))
    n2 = g.append(TNeg.create(n1.result, name="n2"))
    s = g.append(TAdd.create(n2.result, n1.result, name="s"))
    g.set_outputs([s.result])
    with pytest.raises(VerificationError, match="still used"):
        n2.erase()
    n2.result.replace_all_uses_with(x)
    assert s.operands == [x, n1.result]
    assert (s, 0) in x.uses and not n2.result.uses
    n2.erase()
    assert list(g.ops) == [x.owner, n1, s] and len(g) == 3
    assert n1.result.users == [s]
    verify(g)
    s.result.replace_all_uses_with(n1.result)  # also rewires the graph outputs
    assert g.outputs == [n1.result]
    s.erase()
    verify(g)
    assert list(n1.result.uses) == [(g.return_op, 0)]


def test_linked_list_insert_and_iterate_while_erasing() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    ops = [g.append(TNeg.create(x, name=f"n{i}")) for i in range(5)]
    first = g.insert_before(ops[0], TNeg.create(x, name="first"))
    g.insert_after(ops[4], TNeg.create(x, name="last"))
    g.insert_after(ops[1], TNeg.create(x, name="mid"))
    names = [op.user_name for op in g.ops]
    assert names == ["x", "first", "n0", "n1", "mid", "n2", "n3", "n4", "last"]
    for op in g.ops:
        if op.user_name.startswith("n"):
            op.erase()
    assert [op.user_name for op in g.ops] == ["x", "first", "mid", "last"]
    assert [op.user_name for op in g.ops_reversed()] == ["last", "mid", "first", "x"]
    assert len(g) == 4 and g.first_op is x.owner
    with pytest.raises(ValueError, match="already in a graph"):
        g.append(first)
    verify(g)


def test_ops_without_control_deps_share_a_read_only_empty_list() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    a = g.append(TNeg.create(x, name="a"))
    b = g.append(TNeg.create(x, name="b"))
    assert a.control_deps == [] and a.control_deps is b.control_deps
    with pytest.raises(TypeError, match="add_control_dep"):
        a.control_deps.append(x)
    b.add_control_dep(a.result)
    assert b.control_deps == [a.result] and a.control_deps == [] and list(a.result.uses) == [(b, -1)]
    verify(g)


def test_control_deps_uses() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    a = g.append(TNeg.create(x, name="a"))
    b = g.append(TNeg.create(x, name="b", control_deps=[a.result]))
    assert list(a.result.uses) == [(b, -1)]
    c = g.append(TNeg.create(x, name="c"))
    a.result.replace_all_uses_with(c.result)  # c is defined after b now: verifier must object
    assert b.control_deps == [c.result]
    with pytest.raises(VerificationError, match="control dependency 0 is not defined before its use"):
        verify(g)
    g.move_before(b, c)
    verify(g)
    b.set_control_deps([])
    assert not c.result.uses


def test_verifier_catches_bad_types_and_order() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    n = g.append(TNeg.create(x, name="n", loc=Location("model.py", 7, "build")))
    n.results[0].type = TensorType(F32, (4,))
    with pytest.raises(VerificationError) as info:
        verify(g)
    msg = str(info.value)
    assert "test_core.neg 'n'" in msg and "type rule gives tensor<3xf32>" in msg
    assert "created at model.py:7 in build" in msg
    n.results[0].type = TensorType(F32, (None,))  # less precise but compatible: allowed
    verify(g)
    # operand from another graph
    other = Graph()
    y = placeholder(other, (3,), "y")
    g.append(TNeg.create(y, name="alien"))
    with pytest.raises(VerificationError, match="not defined before its use"):
        verify(g)


def test_verifier_checks_arity_and_attrs() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    bad = g.append(TNeg([x, x], [TensorType(F32, (3,))], {}, user_name="bad"))
    with pytest.raises(VerificationError, match="expects 1 operand"):
        verify(g)
    bad.erase()
    g.append(TConcatLike([x, x], [TensorType(F32, (3,))], {"scale": "x"}, user_name="badattr"))
    with pytest.raises(VerificationError, match="attribute 'scale'"):
        verify(g)


def test_outputs_named() -> None:
    g = Graph()
    x = g.add_input(TensorType(F32, (None, 3)), "x")
    n = g.append(TNeg.create(x, name="neg"))
    g.set_outputs([n.result, x], ["y", None])
    assert g.output_names == ["y", None]
    assert g.outputs == [n.result, x]
    verify(g)
    with pytest.raises(VerificationError):
        g.remove_input(x)
    g.set_outputs([n.result])
    assert (g.return_op, 1) not in x.uses


def test_duplicate_op_names_rejected() -> None:
    with pytest.raises(TypeError, match="declared twice"):

        @register_op
        class Again(UnaryElementwise):  # noqa: F841
            name = "test_core.neg"
