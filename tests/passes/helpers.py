"""Reusable helpers for pass tests: graph building, semantic checks, random programs.

``check_pass(make_pass, build, feeds)`` is the contract every pass test relies on: the pass
leaves a verified graph that computes the same outputs as the original, and a second run
reports ``modified=False``. ``programs()`` draws random elementwise programs (constants,
duplicate subexpressions, identity elements, dead code) that can be built any number of
times, so a graph before and after a pass can both be evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

from flowir.ir import DType, Graph, Operation, TensorType, Value, verify
from flowir.ir import ops as O
from flowir.ir.ops.core import Constant, Placeholder
from flowir.ir.reference import evaluate
from flowir.passes import Pass, PassManager, PassResult
from tests.passes import fixture_ops  # noqa: F401  (registers the test ops)

F32 = DType.float32

__all__ = [
    "F32",
    "placeholder",
    "const",
    "op_names",
    "check_pass",
    "assert_same_outputs",
    "Program",
    "programs",
    "generate_graph",
]


def placeholder(g: Graph, shape: Sequence[int | None] | None, name: str, dtype: DType = F32) -> Value:
    """Append a placeholder of ``dtype[shape]`` named ``name``; return its value."""
    ty = TensorType(dtype, shape)
    return g.append(Placeholder.create(name=name, result_types=[ty])).result


def const(g: Graph, value: Any, name: str | None = None, dtype: Any = np.float32) -> Value:
    """Append a constant holding ``value`` (as ``dtype``); return its value."""
    return g.append(Constant.create(value=np.asarray(value, dtype=dtype), name=name)).result


def op_names(g: Graph) -> list[str]:
    """The textual op names of ``g`` in program order."""
    return [op.name for op in g.ops]


def assert_same_outputs(before: Sequence[Any], after: Sequence[Any]) -> None:
    """Outputs equal exactly: same dtype, shape and values (nan equals nan)."""
    assert len(before) == len(after)
    for i, (a, b) in enumerate(zip(before, after)):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype, f"output {i}: dtype {a.dtype} became {b.dtype}"
        assert a.shape == b.shape, f"output {i}: shape {a.shape} became {b.shape}"
        np.testing.assert_array_equal(a, b, err_msg=f"output {i}")


def _run(make_pass: Callable[[], Pass] | str, g: Graph) -> PassResult:
    if isinstance(make_pass, str):
        return PassManager(make_pass, verify_each=True).run(g)
    return make_pass().run(g)


def check_pass(
    make_pass: Callable[[], Pass] | str,
    build: Callable[[], Graph],
    feeds: Mapping[str, Any] | Sequence[Any] = (),
    *,
    expect_modified: bool | None = None,
    idempotent: bool = True,
) -> Graph:
    """Run a pass (a factory or pipeline text) on ``build()`` and check its contract.

    Checks: the result verifies; it computes the same outputs as a fresh ``build()`` on
    ``feeds`` (exactly); with ``idempotent``, running the pass again reports
    ``modified=False`` and changes nothing (a pipeline need not be: a later pass can give an
    earlier one new work). Returns the transformed graph.
    """
    g = build()
    verify(g)
    expected = evaluate(build(), feeds)
    result = _run(make_pass, g)
    assert result.graph is g
    if expect_modified is not None:
        assert result.modified is expect_modified
    verify(g)
    assert_same_outputs(expected, evaluate(g, feeds))
    if not idempotent:
        return g
    snapshot = _structure(g)
    again = _run(make_pass, g)
    assert again.modified is False, "the pass is not idempotent"
    assert _structure(g) == snapshot
    return g


def _structure(g: Graph) -> list[tuple]:
    """A comparable description of ``g``: ops, operand positions, types and attributes."""
    index: dict[Value, int] = {v: i for i, v in enumerate(g.inputs)}
    out = []
    for op in g.ops:
        out.append(
            (
                op.name,
                op.user_name,
                tuple(index[v] for v in op.operands),
                tuple(index[v] for v in op.control_deps),
                op.attr_key(),
                tuple(r.type for r in op.results),
            )
        )
        for r in op.results:
            index[r] = len(index)
    out.append(("return", tuple(index[v] for v in g.outputs)))
    return out


# --------------------------------------------------------------------------------------------
# Random elementwise programs

#: Shapes that broadcast with each other (the result is at most (2, 3)).
SHAPES: tuple[tuple[int, ...], ...] = ((), (3,), (1, 3), (2, 1), (2, 3))
UNARY = (O.Neg, O.Abs, O.Square, O.Tanh, O.Relu)
BINARY = (O.Add, O.Sub, O.Mul, O.Div, O.Maximum, O.Minimum)


@dataclass
class Program:
    """A recipe for an elementwise float32 graph that can be built repeatedly.

    ``steps`` are ``("input", shape, static)``, ``("const", array)``, ``("unary", cls, a)``,
    ``("binary", cls, a, b)``, each defining the next value; ``outputs`` index the values.
    """

    steps: list[tuple] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)

    def build(self) -> Graph:
        g = Graph()
        values: list[Value] = []
        for k, step in enumerate(self.steps):
            kind = step[0]
            if kind == "input":
                _, shape, static = step
                dims = shape if static else tuple(None for _ in shape)
                values.append(placeholder(g, dims, f"in{k}"))
            elif kind == "const":
                values.append(const(g, step[1], f"c{k}"))
            elif kind == "unary":
                values.append(g.append(step[1].create(values[step[2]], name=f"v{k}")).result)
            else:
                _, cls, a, b = step
                values.append(g.append(cls.create(values[a], values[b], name=f"v{k}")).result)
        g.set_outputs([values[i] for i in self.outputs])
        return g

    def feeds(self, seed: int = 0) -> dict[str, np.ndarray]:
        """Random values for every input, by placeholder name."""
        rng = np.random.default_rng(seed)
        return {
            f"in{k}": rng.standard_normal(step[1]).astype(np.float32)
            for k, step in enumerate(self.steps)
            if step[0] == "input"
        }


@st.composite
def programs(draw: st.DrawFn, max_steps: int = 14) -> Program:
    """Random elementwise programs with inputs, constants (identity elements among them),
    duplicate subexpressions and dead values."""
    p = Program()
    n_inputs = draw(st.integers(1, 3))
    for _ in range(n_inputs):
        p.steps.append(("input", draw(st.sampled_from(SHAPES)), draw(st.booleans())))
    n = draw(st.integers(1, max_steps))
    for _ in range(n):
        count = len(p.steps)
        kind = draw(st.sampled_from(["const", "unit", "unary", "binary", "binary", "dup"]))
        if kind == "const":
            shape = draw(st.sampled_from(SHAPES))
            value = draw(st.sampled_from([0.0, 1.0, -2.0, 0.5]))
            p.steps.append(("const", np.full(shape, value, np.float32)))
        elif kind == "unit":
            # An identity element canonicalize can remove, or cannot when it broadcasts.
            shape = draw(st.sampled_from(SHAPES))
            p.steps.append(("const", np.full(shape, draw(st.sampled_from([0.0, 1.0])), np.float32)))
            cls = draw(st.sampled_from(BINARY))
            a = draw(st.integers(0, count - 1))
            p.steps.append(("binary", cls, a, count) if draw(st.booleans()) else ("binary", cls, count, a))
        elif kind == "unary":
            p.steps.append(("unary", draw(st.sampled_from(UNARY)), draw(st.integers(0, count - 1))))
        elif kind == "binary":
            a, b = draw(st.integers(0, count - 1)), draw(st.integers(0, count - 1))
            p.steps.append(("binary", draw(st.sampled_from(BINARY)), a, b))
        else:
            computed = [i for i, s in enumerate(p.steps) if s[0] in ("unary", "binary")]
            if computed:
                p.steps.append(p.steps[draw(st.sampled_from(computed))])
            else:
                p.steps.append(("unary", O.Neg, draw(st.integers(0, count - 1))))
    total = len(p.steps)
    p.outputs = draw(st.lists(st.integers(0, total - 1), min_size=1, max_size=3))
    return p


# --------------------------------------------------------------------------------------------
# Large generated graphs (pass scaling)


def generate_graph(n_ops: int, seed: int = 0) -> Graph:
    """A graph of about ``n_ops`` ops mixing what the standard pipeline works on.

    Float32 values of shape ``(None, 8)`` or ``(8,)``: elementwise unary and binary ops,
    constants, constant-only subexpressions (foldable), exact duplicates (CSE), ``x * 1``,
    ``x + 0``, ``neg(neg(x))`` and no-op reshapes (canonicalize), and dead ops (prune).
    Deterministic for a given ``seed``; feeds are ``in0``..``in3`` of shape ``(b, 8)``.
    """
    from flowir.ir.location import UNKNOWN_LOC

    rng = np.random.default_rng(seed)
    g = Graph()
    loc = UNKNOWN_LOC
    pool: list[Value] = []
    for i in range(4):
        pool.append(g.append(Placeholder.create(name=f"in{i}", loc=loc, result_types=[TensorType(F32, (None, 8))])).result)
    one = g.append(Constant.create(value=np.ones(8, np.float32), name="one", loc=loc)).result
    zero = g.append(Constant.create(value=np.zeros(8, np.float32), name="zero", loc=loc)).result
    unary = (O.Neg, O.Abs, O.Tanh, O.Relu, O.Square)
    binary = (O.Add, O.Sub, O.Mul, O.Maximum, O.Minimum)
    recent: list[Operation] = []
    k = 0

    inputs = pool[:4]

    def pick() -> Value:
        # Inputs reappear now and then, so input-dependent work never dies out.
        if rng.random() < 0.05:
            return inputs[int(rng.integers(0, 4))]
        return pool[len(pool) - 1 - int(rng.integers(0, min(len(pool), 32)))]

    def add(op: Operation, live: bool = True) -> Value:
        nonlocal k
        k += 1
        g.append(op)
        if live:
            pool.append(op.result)
        return op.result

    while len(g) < n_ops:
        r = rng.random()
        name = f"op{k}"
        if r < 0.08:
            add(Constant.create(value=rng.standard_normal(8).astype(np.float32), name=name, loc=loc))
        elif r < 0.14:
            a = add(Constant.create(value=np.full(8, 2.0, np.float32), name=name, loc=loc), live=False)
            b = add(Constant.create(value=np.full(8, 0.5, np.float32), name=f"op{k}", loc=loc), live=False)
            add(O.Mul.create(a, b, name=f"op{k}", loc=loc))
        elif r < 0.44:
            op = rng.choice(binary).create(pick(), pick(), name=name, loc=loc)
            recent.append(op)
            add(op)
        elif r < 0.60:
            add(rng.choice(unary).create(pick(), name=name, loc=loc))
        elif r < 0.70 and recent:
            src = recent[-1 - int(rng.integers(0, min(len(recent), 16)))]
            add(type(src).create(*src.operands, name=name, loc=loc))
        elif r < 0.76:
            add(O.Mul.create(pick(), one, name=name, loc=loc))
        elif r < 0.80:
            add(O.Add.create(zero, pick(), name=name, loc=loc))
        elif r < 0.84:
            n1 = add(O.Neg.create(pick(), name=name, loc=loc), live=False)
            add(O.Neg.create(n1, name=f"op{k}", loc=loc))
        elif r < 0.88:
            v = pick()
            if v.type.rank == 2:
                add(O.Reshape.create(v, shape=[-1, 8], name=name, loc=loc))
        else:
            add(rng.choice(unary).create(pick(), name=name, loc=loc), live=False)
    # Every value meant to be live reaches an output; only the deliberately dead ops are dead.
    g.set_outputs([v for v in pool if not v.uses])
    return g
