"""canonicalize: each pattern, its guards, the worklist driver and semantics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowir.ir import DType, Graph, TensorType, Value, verify
from flowir.ir import ops as O
from flowir.ir.ops.core import Constant
from flowir.passes import CanonicalizePass, PassManager
from flowir.passes.canonicalize import PATTERNS, is_splat, splat_value
from tests.passes.fixture_ops import Record
from tests.passes.helpers import F32, Program, check_pass, const, op_names, placeholder, programs


def canonicalize(g: Graph) -> Graph:
    result = CanonicalizePass().run(g)
    verify(g)
    assert CanonicalizePass().run(g).modified is False
    assert result.graph is g
    return g


def single(g: Graph, out: Value) -> Graph:
    g.set_outputs([out])
    return g


IDENTITY_CASES = [
    (O.Mul, "x", 1.0),
    (O.Mul, 1.0, "x"),
    (O.Add, "x", 0.0),
    (O.Add, 0.0, "x"),
    (O.Sub, "x", 0.0),
    (O.Div, "x", 1.0),
    (O.Pow, "x", 1.0),
]


@pytest.mark.parametrize(("cls", "lhs", "rhs"), IDENTITY_CASES)
@pytest.mark.parametrize("const_shape", [(), (3,), (1, 3), (2, 3)])
def test_identity_elements(cls, lhs, rhs, const_shape) -> None:
    g = Graph()
    x = placeholder(g, (2, 3), "x")
    c = const(g, np.full(const_shape, lhs if lhs != "x" else rhs), "c")
    y = g.append(cls.create(x if lhs == "x" else c, x if rhs == "x" else c, name="y")).result
    out = g.append(O.Exp.create(y, name="out")).result
    canonicalize(single(g, out))
    assert op_names(g) == ["flowir.placeholder", "math.exp"]
    assert g.last_op.operands[0] is x


@pytest.mark.parametrize(
    ("cls", "lhs", "rhs"),
    [(O.Sub, 0.0, "x"), (O.Div, 1.0, "x"), (O.Pow, 1.0, "x"), (O.Mul, "x", 2.0), (O.Add, "x", 1.0), (O.Mul, "x", 0.0)],
)
def test_non_identities_are_kept(cls, lhs, rhs) -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    c = const(g, np.full((3,), lhs if lhs != "x" else rhs), "c")
    canonicalize(single(g, g.append(cls.create(x if lhs == "x" else c, x if rhs == "x" else c, name="y")).result))
    assert op_names(g) == ["flowir.placeholder", "flowir.constant", cls.name]


def test_broadcasting_identity_element_is_kept() -> None:
    """``x * ones((2, 3))`` with ``x: f32[3]`` broadcasts: the result is not ``x``."""
    g = Graph()
    x = placeholder(g, (3,), "x")
    c = const(g, np.ones((2, 3)), "c")
    y = g.append(O.Mul.create(x, c, name="y")).result
    assert CanonicalizePass().run(single(g, y)).modified is False
    g = Graph()
    x = placeholder(g, (None, 3), "x")
    c = const(g, np.ones((2, 3)), "c")
    y = g.append(O.Add.create(c, x, name="y")).result
    assert y.type == TensorType(F32, (2, 3))
    assert CanonicalizePass().run(single(g, y)).modified is False


def test_mixed_constant_is_not_a_splat() -> None:
    g = Graph()
    x = placeholder(g, (2,), "x")
    c = const(g, [1.0, 2.0], "c")
    y = g.append(O.Mul.create(x, c, name="y")).result
    assert CanonicalizePass().run(single(g, y)).modified is False


@pytest.mark.parametrize("dtype", [DType.int8, DType.int32, DType.int64, DType.uint8, DType.float16, DType.bfloat16, DType.float64])
def test_splat_helper_any_dtype(dtype: DType) -> None:
    g = Graph()
    ones = const(g, np.ones((2, 2)), "ones", dtype.numpy)
    mixed = const(g, [0, 1], "mixed", dtype.numpy)
    empty = const(g, np.zeros((0,)), "empty", dtype.numpy)
    assert is_splat(ones, 1) and not is_splat(ones, 0)
    assert splat_value(mixed) is None and splat_value(empty) is None
    x = placeholder(g, (2, 2), "x", dtype)
    y = g.append(O.Mul.create(x, ones, name="y")).result
    canonicalize(single(g, y))
    assert g.outputs == [x]


def test_bool_and_string_constants() -> None:
    g = Graph()
    t = const(g, [True, True], "t", np.bool_)
    s = g.append(Constant.create(value=np.array([b"a", b"a"], dtype=object), name="s")).result
    assert splat_value(t) is np.True_
    assert splat_value(s) is None


def test_involutions() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    b = placeholder(g, (3,), "b", DType.bool)
    n3 = x
    for i in range(3):
        n3 = g.append(O.Neg.create(n3, name=f"neg{i}")).result
    n2 = g.append(O.Neg.create(g.append(O.Neg.create(x, name="m0")).result, name="m1")).result
    nb = g.append(O.LogicalNot.create(g.append(O.LogicalNot.create(b, name="l0")).result, name="l1")).result
    g.set_outputs([n3, n2, nb])
    canonicalize(g)
    assert [op.user_name for op in g.ops] == ["x", "b", "neg2"]
    assert g.outputs == [g.ops_by_name()["neg2"].result, x, b]
    assert g.ops_by_name()["neg2"].operands[0] is x


def test_identity_and_noop_cast() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    i = g.append(O.Identity.create(x, name="i")).result
    same = g.append(O.Cast.create(i, dtype=DType.float32, name="same")).result
    other = g.append(O.Cast.create(same, dtype=DType.int32, name="other")).result
    g.set_outputs([same, other])
    canonicalize(g)
    assert [op.user_name for op in g.ops] == ["x", "other"]
    assert g.outputs[0] is x and g.ops_by_name()["other"].operands[0] is x


def test_ops_with_control_deps_are_not_bypassed() -> None:
    """``with control_dependencies([assign]): y = identity(x)`` must keep ordering."""
    g = Graph()
    x = placeholder(g, (3,), "x")
    r = g.append(Record.create(x, name="assign")).result
    i = g.append(O.Identity.create(x, name="i", control_deps=[r])).result
    one = g.append(Constant.create(value=np.array(1, np.float32), name="one", control_deps=[r])).result
    m = g.append(O.Mul.create(x, one, name="m")).result
    n1 = g.append(O.Neg.create(x, name="n1", control_deps=[r])).result
    n2 = g.append(O.Neg.create(n1, name="n2")).result
    g.set_outputs([i, m, n2])
    assert CanonicalizePass().run(g).modified is False
    assert [op.user_name for op in g.ops] == ["x", "assign", "i", "one", "m", "n1", "n2"]


def test_reshape_chains() -> None:
    g = Graph()
    x = placeholder(g, (2, 3, 4), "x")
    r1 = g.append(O.Reshape.create(x, shape=[6, 4], name="r1")).result
    r2 = g.append(O.Reshape.create(r1, shape=[4, 6], name="r2")).result
    r3 = g.append(O.Reshape.create(r2, shape=[-1], name="r3")).result
    g.set_outputs([r3])
    canonicalize(g)
    assert [op.user_name for op in g.ops] == ["x", "r3"]
    assert g.ops_by_name()["r3"].operands[0] is x
    assert r3.type == TensorType(F32, (24,))


def test_reshape_chain_keeps_intermediate_with_other_users() -> None:
    g = Graph()
    x = placeholder(g, (2, 3), "x")
    r1 = g.append(O.Reshape.create(x, shape=[6], name="r1")).result
    r2 = g.append(O.Reshape.create(r1, shape=[3, 2], name="r2")).result
    g.set_outputs([r1, r2])
    canonicalize(g)
    assert [op.user_name for op in g.ops] == ["x", "r1", "r2"]
    assert g.ops_by_name()["r2"].operands[0] is x


@pytest.mark.parametrize(
    ("shape", "target", "removed"),
    [
        ((2, 3), [2, 3], True),
        ((2, 3), [-1, 3], True),
        ((2, 3), [2, -1], True),
        ((None, 3), [-1, 3], True),
        ((None, 3), [2, 3], False),
        ((2, 3), [3, 2], False),
        ((2, 3), [6], False),
        ((0, 3), [0, 3], True),
        ((None, None), [-1, 3], False),
    ],
)
def test_reshape_to_own_shape(shape, target, removed) -> None:
    g = Graph()
    x = placeholder(g, shape, "x")
    y = g.append(O.Reshape.create(x, shape=target, name="y")).result
    canonicalize(single(g, y))
    assert (g.outputs[0] is x) is removed


def test_reshape_roundtrip_to_own_shape_vanishes() -> None:
    g = Graph()
    x = placeholder(g, (2, 3), "x")
    r1 = g.append(O.Reshape.create(x, shape=[6], name="r1")).result
    r2 = g.append(O.Reshape.create(r1, shape=[2, 3], name="r2")).result
    canonicalize(single(g, r2))
    assert len(g) == 1 and g.outputs == [x]


def test_transposes_compose() -> None:
    g = Graph()
    x = placeholder(g, (2, 3, 4), "x")
    t1 = g.append(O.Transpose.create(x, perm=[1, 2, 0], name="t1")).result
    t2 = g.append(O.Transpose.create(t1, perm=[2, 0, 1], name="t2")).result
    t3 = g.append(O.Transpose.create(x, perm=[2, 0, 1], name="t3")).result
    t4 = g.append(O.Transpose.create(t3, perm=[0, 2, 1], name="t4")).result
    t5 = g.append(O.Transpose.create(x, name="t5")).result  # reversed
    t6 = g.append(O.Transpose.create(t5, name="t6")).result
    g.set_outputs([t2, t4, t6])
    expected_t4 = np.transpose(np.transpose(np.zeros((2, 3, 4)), [2, 0, 1]), [0, 2, 1]).shape
    canonicalize(g)
    assert g.outputs[0] is x and g.outputs[2] is x
    t4_op = g.ops_by_name()["t4"]
    assert t4_op.operands[0] is x and tuple(t4_op.perm) == (2, 1, 0)
    assert t4.type.shape == expected_t4
    assert [op.user_name for op in g.ops] == ["x", "t4"]


def test_identity_transpose() -> None:
    g = Graph()
    x = placeholder(g, (2, 3), "x")
    y = g.append(O.Transpose.create(x, perm=[0, 1], name="y")).result
    v = placeholder(g, (5,), "v")
    w = g.append(O.Transpose.create(v, name="w")).result
    g.set_outputs([y, w])
    canonicalize(g)
    assert g.outputs == [x, v]


@pytest.mark.parametrize(
    ("axis", "axes", "removed"),
    [
        (0, [0], True),
        (2, [2], True),
        (-1, [-1], True),
        (-1, [2], True),
        (2, [-1], True),
        (0, [-3], True),
        (1, [1], True),
        (0, [2], False),  # squeezes x's own size-1 dim instead
        (0, None, False),  # squeezes every size-1 dim
        (0, [0, 0], False),
    ],
)
def test_squeeze_of_expand_dims(axis, axes, removed) -> None:
    g = Graph()
    x = placeholder(g, (2, 1), "x")
    e = g.append(O.ExpandDims.create(x, axis=axis, name="e")).result
    s = g.append(O.Squeeze.create(e, axes=axes, name="s")).result
    canonicalize(single(g, s))
    assert (g.outputs[0] is x) is removed


def test_squeeze_of_expand_dims_unknown_rank() -> None:
    g = Graph()
    x = placeholder(g, None, "x")
    e = g.append(O.ExpandDims.create(x, axis=0, name="e")).result
    s = g.append(O.Squeeze.create(e, axes=[0], name="s")).result
    e2 = g.append(O.ExpandDims.create(x, axis=-1, name="e2")).result
    s2 = g.append(O.Squeeze.create(e2, axes=[0], name="s2")).result
    g.set_outputs([s, s2])
    canonicalize(g)
    assert g.outputs[0] is x and g.outputs[1] is s2


def test_graph_output_types_never_change() -> None:
    g = Graph()
    x = placeholder(g, (None, 3), "x")
    y = g.append(O.Identity.create(x, name="y", result_types=[TensorType(F32, (2, 3))])).result
    g.set_outputs([y])
    assert CanonicalizePass().run(g).modified is False
    assert g.outputs[0].type == TensorType(F32, (2, 3))


def test_patterns_index_is_keyed_by_op_class() -> None:
    for cls, pats in PATTERNS.items():
        assert isinstance(cls, type) and pats
    for cls in (O.Add, O.Sub, O.Mul, O.Div, O.Pow, O.Neg, O.LogicalNot, O.Identity, O.Cast, O.Reshape, O.Transpose, O.Squeeze):
        assert cls in PATTERNS


def test_worklist_revisits_rewritten_users() -> None:
    """x*1 feeding neg(neg(..)) feeding reshape chains: all collapse in one run."""
    g = Graph()
    x = placeholder(g, (2, 3), "x")
    one = const(g, 1.0, "one")
    v = g.append(O.Neg.create(x, name="n0")).result
    v = g.append(O.Mul.create(v, one, name="m")).result
    v = g.append(O.Neg.create(v, name="n1")).result
    v = g.append(O.Reshape.create(v, shape=[6], name="r0")).result
    v = g.append(O.Reshape.create(v, shape=[2, 3], name="r1")).result
    v = g.append(O.Transpose.create(v, name="t0")).result
    v = g.append(O.Identity.create(v, name="i")).result
    v = g.append(O.Transpose.create(v, name="t1")).result
    canonicalize(single(g, v))
    assert len(g) == 1 and g.outputs == [x]


def test_long_chains_are_linear() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    one = const(g, 1.0, "one")
    v = x
    for i in range(10000):
        v = g.append(O.Mul.create(v, one, name=f"m{i}")).result
        v = g.append(O.Neg.create(v, name=f"n{i}")).result
    g.set_outputs([v])
    canonicalize(g)
    assert op_names(g) == ["flowir.placeholder"]


@given(programs())
def test_semantics_preserved_and_idempotent(program: Program) -> None:
    check_pass(CanonicalizePass, program.build, program.feeds())


@st.composite
def shape_programs(draw: st.DrawFn) -> tuple:
    """Random chains of reshape/transpose/expand_dims/squeeze/identity over a 2x3x4 input."""
    steps = []
    shape = [2, 3, 4]
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["reshape", "transpose", "expand_squeeze", "identity", "neg"]))
        if kind == "reshape":
            target = draw(st.sampled_from([[24], [2, 12], [6, 4], [4, 3, 2], [2, 3, 4], shape]))
            if draw(st.booleans()):
                target = [-1, *target[1:]]
            steps.append(("reshape", target))
            shape = [24 // int(np.prod(target[1:]))] + target[1:] if target[0] == -1 else list(target)
        elif kind == "transpose":
            perm = draw(st.permutations(range(len(shape))))
            steps.append(("transpose", list(perm)))
            shape = [shape[p] for p in perm]
        elif kind == "expand_squeeze":
            axis = draw(st.integers(-len(shape) - 1, len(shape)))
            squeeze_axis = axis if draw(st.booleans()) else (axis % (len(shape) + 1))
            steps.append(("expand_squeeze", axis, squeeze_axis))
        else:
            steps.append((kind,))
    return steps


def build_shape_program(steps: list) -> Graph:
    g = Graph()
    v = placeholder(g, (2, 3, 4), "x")
    for i, step in enumerate(steps):
        if step[0] == "reshape":
            v = g.append(O.Reshape.create(v, shape=step[1], name=f"s{i}")).result
        elif step[0] == "transpose":
            v = g.append(O.Transpose.create(v, perm=step[1], name=f"s{i}")).result
        elif step[0] == "expand_squeeze":
            e = g.append(O.ExpandDims.create(v, axis=step[1], name=f"e{i}")).result
            v = g.append(O.Squeeze.create(e, axes=[step[2]], name=f"s{i}")).result
        elif step[0] == "identity":
            v = g.append(O.Identity.create(v, name=f"s{i}")).result
        else:
            v = g.append(O.Neg.create(v, name=f"s{i}")).result
    g.set_outputs([v])
    return g


@given(shape_programs())
def test_shape_chains_semantics(steps: list) -> None:
    feeds = {"x": np.arange(24, dtype=np.float32).reshape(2, 3, 4)}
    g = check_pass(CanonicalizePass, lambda: build_shape_program(steps), feeds)
    for op in g.ops:
        assert type(op) not in (O.Identity, O.ExpandDims, O.Squeeze)
        if type(op) in (O.Reshape, O.Transpose):
            assert type(op.operands[0].owner) is not type(op)


@given(programs())
def test_full_pipeline_semantics(program: Program) -> None:
    check_pass("shape-inference,prune,constant-fold,cse,canonicalize", program.build, program.feeds(), idempotent=False)


def test_pipeline_on_a_hand_built_graph() -> None:
    g = Graph()
    x = placeholder(g, (None, 4), "x")
    w = const(g, np.ones((4, 2)), "w")
    two = const(g, 2.0, "two")
    half = const(g, 0.5, "half")
    scale = g.append(O.Mul.create(two, half, name="scale")).result  # folds to 1
    h1 = g.append(O.MatMul.create(x, w, name="h1")).result
    h2 = g.append(O.MatMul.create(x, w, name="h2")).result  # duplicate of h1
    s = g.append(O.Mul.create(h2, scale, name="scaled")).result  # * 1 after folding
    y = g.append(O.Add.create(h1, s, name="y")).result
    g.append(O.Neg.create(y, name="unused"))
    g.set_outputs([y])
    PassManager("shape-inference,prune,constant-fold,cse,canonicalize", verify_each=True).run(g)
    assert [op.user_name for op in g.ops] == ["x", "w", "h1", "y"]
    assert g.ops_by_name()["y"].operands == [g.ops_by_name()["h1"].result] * 2
