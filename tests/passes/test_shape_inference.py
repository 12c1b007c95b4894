"""shape-inference: refinement from the op rules, contradictions, idempotence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowir.ir import DTypeError, Graph, ShapeError, TensorType, verify
from flowir.ir import ops as O
from flowir.passes import PassManager, ShapeInferencePass
from flowir.passes.shape_inference import infer_shapes
from tests.passes.helpers import F32, Program, check_pass, const, placeholder, programs


def refinable_graph() -> tuple[Graph, list]:
    """x: f32[None, 3], specialised afterwards to f32[2, 3] (as a feed would)."""
    g = Graph()
    x = placeholder(g, (None, 3), "x")
    b = const(g, np.ones((1, 3)), "b")
    y = g.append(O.Add.create(x, b, name="y")).result
    z = g.append(O.MatMul.create(y, const(g, np.ones((3, 4)), "w"), name="z")).result
    s = g.append(O.ReduceSum.create(z, axes=[1], name="s")).result
    g.set_outputs([s])
    return g, [x, y, z, s]


def test_refines_unknown_dims() -> None:
    g, (x, y, z, s) = refinable_graph()
    assert s.type == TensorType(F32, (None,))
    x.type = TensorType(F32, (2, 3))
    result = ShapeInferencePass().run(g)
    assert result.modified is True
    assert y.type == TensorType(F32, (2, 3))
    assert z.type == TensorType(F32, (2, 4))
    assert s.type == TensorType(F32, (2,))
    verify(g)
    assert ShapeInferencePass().run(g).modified is False


def test_keeps_recorded_knowledge() -> None:
    """The result is the meet: a recorded dim the rule cannot derive is kept."""
    g = Graph()
    x = placeholder(g, (None, 3), "x")
    y = g.append(O.Neg.create(x, name="y", result_types=[TensorType(F32, (5, 3))])).result
    g.set_outputs([y])
    assert ShapeInferencePass().run(g).modified is False
    assert y.type == TensorType(F32, (5, 3))


def test_nothing_to_do_reports_unmodified() -> None:
    g, _ = refinable_graph()
    assert PassManager("shape-inference", verify_each=True).run(g).modified is False


def test_broadcast_contradiction_names_op_tensors_and_location() -> None:
    g = Graph()
    x = placeholder(g, (None, 3), "inputs/x")
    c = const(g, np.ones((2, 3)), "bias")
    g.append(O.Add.create(x, c, name="layer/add"))
    line = test_broadcast_contradiction_names_op_tensors_and_location.__code__.co_firstlineno + 4
    g.set_outputs([g.last_op.result])
    x.type = TensorType(F32, (4, 3))
    with pytest.raises(ShapeError) as e:
        ShapeInferencePass().run(g)
    msg = str(e.value)
    assert msg.startswith("math.add 'layer/add': shapes are not broadcast-compatible: [4, 3] vs [2, 3]")
    assert "'inputs/x'" in msg and "f32[4, 3]" in msg
    assert "'bias'" in msg and "f32[2, 3]" in msg
    assert f"created at {__file__.rsplit('/', 1)[-1]}" in msg or "test_shape_inference.py" in msg
    assert f":{line}" in msg


def test_recorded_type_contradiction() -> None:
    g = Graph()
    x = placeholder(g, (None, 3), "x")
    y = g.append(O.Neg.create(x, name="negated", result_types=[TensorType(F32, (2, 3))])).result
    g.set_outputs([y])
    x.type = TensorType(F32, (5, 3))
    with pytest.raises(ShapeError) as e:
        ShapeInferencePass().run(g)
    msg = str(e.value)
    assert msg.startswith("math.neg 'negated': result is recorded as f32[2, 3] but its operands give f32[5, 3]")
    assert "x: 'x' f32[5, 3]" in msg
    assert "created at" in msg and "test_shape_inference.py" in msg


def test_dtype_errors_propagate() -> None:
    g = Graph()
    x = placeholder(g, (3,), "x")
    y = g.append(O.Neg.create(x, name="y")).result
    g.set_outputs([y])
    x.type = TensorType(x.type.dtype.__class__.uint8, (3,))
    with pytest.raises(DTypeError, match="math.neg 'y'"):
        ShapeInferencePass().run(g)


def test_unknown_rank_refined() -> None:
    g = Graph()
    x = placeholder(g, None, "x")
    y = g.append(O.Relu.create(x, name="y")).result
    s = g.append(O.ReduceSum.create(y, axes=[0], name="s")).result
    g.set_outputs([s])
    assert s.type.shape is None
    x.type = TensorType(F32, (None, 7))
    assert ShapeInferencePass().run(g).modified
    assert y.type == TensorType(F32, (None, 7)) and s.type == TensorType(F32, (7,))


@given(programs())
def test_semantics_preserved_and_idempotent(program: Program) -> None:
    check_pass(ShapeInferencePass, program.build, program.feeds())


# --------------------------------------------------------------------------------------------
# Re-inferring only around changed values (what a session does after typing its feeds)


def test_changed_values_only_reinfer_what_they_reach() -> None:
    g, (x, y, z, s) = refinable_graph()
    x.type = TensorType(F32, (2, 3))
    calls: list[str] = []
    for op in g.ops:
        original = op.compute_result_types
        op.compute_result_types = lambda original=original, op=op: (calls.append(op.user_name), original())[1]
    assert infer_shapes(g, [x]) is True
    assert calls == ["x", "y", "z", "s"]  # x's own op and what x reaches, not the constants
    assert s.type == TensorType(F32, (2,))
    calls.clear()
    assert infer_shapes(g, []) is False and calls == []


def test_a_changed_result_reinfers_its_own_op() -> None:
    """A result typed looser than its rule (placeholder_with_default's) is refined back."""
    g, (x, y, z, s) = refinable_graph()
    x.type = TensorType(F32, (2, 3))
    infer_shapes(g)
    y.type = TensorType(F32, (None, 3))
    assert infer_shapes(g, [y]) is True
    assert y.type == TensorType(F32, (2, 3))


def test_changed_values_still_report_contradictions() -> None:
    g, (x, y, z, s) = refinable_graph()
    x.type = TensorType(F32, (2, 5))
    with pytest.raises(ShapeError, match="math.add"):
        infer_shapes(g, [x])


@given(programs(), st.data())
def test_reinferring_from_the_changed_inputs_equals_the_full_pass(program: Program, data: st.DataObject) -> None:
    feeds = program.feeds()
    refine = {name for name in sorted(feeds) if data.draw(st.booleans(), label=f"refine {name}")}
    graphs = []
    for _ in range(2):
        g = program.build()
        changed = []
        for op in g.ops:
            if op.user_name in refine:
                op.results[0].type = TensorType(F32, feeds[op.user_name].shape)
                changed.append(op.results[0])
        graphs.append((g, changed))
    (full, _), (seeded, changed) = graphs
    infer_shapes(full)
    infer_shapes(seeded, changed)
    assert [r.type for op in full.ops for r in op.results] == [r.type for op in seeded.ops for r in op.results]
