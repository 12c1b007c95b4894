"""Random graph generation (``flowir.testing.generation``): coverage of the op catalog, validity
of what it builds, its feeds, and how often it produces what the passes rewrite."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import flowir.testing
import flowir.testing.generation
from flowir.ir import ops
from flowir.ir.core import OP_REGISTRY, Operation, Trait
from flowir.ir.dtypes import DType
from flowir.ir.printer import print_graph
from flowir.ir.reference import IMPL_RULES, UNSUPPORTED
from flowir.ir.types import ResourceType, TensorType
from flowir.ir.verifier import verify
from flowir.testing import (
    GEN_RULES,
    NOT_GENERATED,
    Build,
    GeneratedGraph,
    GenerationError,
    Pool,
    generatable_ops,
    generated_graphs,
    graphs,
    rule_for,
)
from flowir.testing._pool import SYMBOL_BASE, GenConfig, is_symbol
from flowir.testing.rules import SIMPLIFIABLE_OPS

ALL_OPS = generatable_ops(require_kernels=False)


def _catalog() -> list[type[Operation]]:
    """The registered ops flowir defines (tests register fixture ops of their own)."""
    return [cls for cls in OP_REGISTRY.values() if cls.__module__.startswith("flowir.")]


def test_every_registered_op_has_a_rule_or_a_reason() -> None:
    missing = [cls.name for cls in _catalog() if rule_for(cls) is None and cls not in NOT_GENERATED]
    assert not missing, f"ops with no generation rule and no entry in NOT_GENERATED: {missing}"


def test_not_generated_entries_are_registered_and_explained() -> None:
    for cls, reason in NOT_GENERATED.items():
        assert OP_REGISTRY.get(cls.name) is cls
        assert reason.strip()
        assert cls not in GEN_RULES, f"{cls.name} has a rule but is listed as not generated"


def test_generated_ops_without_kernels_are_declared_unsupported() -> None:
    """Ops dropped from runnable graphs for lack of a reference kernel must say so."""
    catalog = set(_catalog())
    silent = [cls.name for cls in ALL_OPS if cls in catalog and cls not in IMPL_RULES and cls not in UNSUPPORTED]
    assert not silent, f"ops with a generation rule but neither a kernel nor an UNSUPPORTED entry: {silent}"


def test_simplifiable_ops_are_generated() -> None:
    assert all(rule_for(cls) is not None for cls in SIMPLIFIABLE_OPS)


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda c: c.name)
@settings(max_examples=10)
@given(data=st.data())
def test_each_rule_builds_its_op(op: type[Operation], data: st.DataObject) -> None:
    """Every rule yields valid graphs, and in most of them the op it is for (a rule that
    always returns None would pass the coverage test but generate nothing)."""
    seen = 0
    for _ in range(3):
        case = data.draw(generated_graphs([op], min_ops=2, max_ops=4, unknown_rank=True, dtypes=list(DType)))
        verify(case.graph)
        seen += any(type(o) is op for o in case.graph.ops)
    assert seen > 0, f"no {op.name} in three graphs made of {op.name} ops"


@given(case=generated_graphs(ALL_OPS, unknown_rank=True))
def test_witnesses_agree_with_static_types(case: GeneratedGraph) -> None:
    """Static types describe every instance of the witness: symbol dims are unknown
    statically, static dims are known or unknown (never another size)."""
    assert len(case.values) == len(case.witnesses)
    for v, w in zip(case.values, case.witnesses):
        ty = v.type
        if type(w) is ResourceType:
            ty, w = ty.value_type, w.value_type  # type: ignore[attr-defined]
        if type(w) is not TensorType:
            assert ty == w
            continue
        assert ty.dtype is w.dtype
        if ty.shape is None:
            continue
        assert len(ty.shape) == len(w.shape)
        for d, wd in zip(ty.shape, w.shape):
            assert d is None if is_symbol(wd) else d in (None, wd)


@given(case=generated_graphs(ALL_OPS, unknown_rank=True))
def test_build_replays_the_same_graph(case: GeneratedGraph) -> None:
    g, values = case.build()
    verify(g)
    assert print_graph(g) == print_graph(case.graph)
    assert [v.type for v in values] == [v.type for v in case.values]


@given(case=generated_graphs(generatable_ops()), data=st.data())
def test_feeds_match_inputs_and_share_symbol_sizes(case: GeneratedGraph, data: st.DataObject) -> None:
    feeds = data.draw(case.feeds(min_size=1, max_size=5))
    assert set(feeds.sizes) == set(case.symbols)
    assert all(1 <= n <= 5 for n in feeds.sizes.values())
    by_symbol: dict[int, set[int]] = {}
    for i in case.inputs:
        v, w = case.values[i], case.witnesses[i]
        arr = feeds.arrays[v.name]
        assert arr.dtype == v.type.dtype.numpy
        assert v.type.is_compatible_with(TensorType(v.type.dtype, arr.shape))
        for d, n in zip(w.shape, arr.shape):
            if is_symbol(d):
                by_symbol.setdefault(d, set()).add(n)
    assert all(len(sizes) == 1 for sizes in by_symbol.values())
    assert set(feeds.variables) == set(case.variables)


@given(case=generated_graphs(generatable_ops()))
def test_variable_updates_are_chained_and_needed(case: GeneratedGraph) -> None:
    """Ops on one variable depend on each other in program order, and the last one is an
    output, so pruning keeps every update."""
    last: dict[str, Operation] = {}
    outputs = set(case.graph.outputs)
    for op in case.graph.ops:
        if Trait.STATEFUL not in op.traits:
            continue
        for v in op.operands:
            if type(v.type) is ResourceType:
                name = v.owner.var_name  # type: ignore[union-attr]
                if name in last:
                    assert last[name].results[0] in op.control_deps
                last[name] = op
    for op in last.values():
        assert op.results[0] in outputs


def test_outputs_are_tensors_and_named() -> None:
    @given(case=generated_graphs(ALL_OPS))
    def check(case: GeneratedGraph) -> None:
        assert case.graph.outputs
        assert all(type(v.type) is TensorType for v in case.graph.outputs)
        assert case.graph.output_names == [f"out{i}" for i in range(len(case.graph.outputs))]

    check()


def test_graphs_restricted_to_ops() -> None:
    allowed = {ops.Add, ops.Neg, ops.Constant, ops.Placeholder}

    @given(g=graphs([ops.Add, ops.Neg]))
    def check(g) -> None:
        assert {type(op) for op in g.ops} <= allowed

    check()


def test_unknown_op_lists_are_rejected() -> None:
    with pytest.raises(ValueError, match="flowir.return"):
        generated_graphs([ops.Return])


def test_a_rule_that_breaks_type_inference_is_reported() -> None:
    """An op whose type rule rejects wildcards that a concrete instance satisfies is a
    ``GenerationError`` naming the op."""
    from flowir.ir.core import register_op
    from flowir.ir.errors import ShapeError
    from flowir.ir.ops._base import UnaryElementwise

    @register_op
    class _NeedsStatic(UnaryElementwise):
        name = "test.needs_static"

        def infer_type(self, x):
            if x.shape is None or None in x.shape:
                raise ShapeError("needs a static shape")
            return x

    try:
        config = GenConfig()

        @given(data=st.data())
        @settings(max_examples=1, database=None)
        def check(data: st.DataObject) -> None:
            pool = Pool(data.draw, config)
            pool.symbols.append(SYMBOL_BASE)
            x = pool.new_input(DType.float32, (SYMBOL_BASE,))
            with pytest.raises(GenerationError, match="test.needs_static"):
                pool.emit(_NeedsStatic, Build((x,)))

        check()
    finally:
        del OP_REGISTRY[_NeedsStatic.name]


# --------------------------------------------------------------------------------------------
# What the passes rewrite is generated often enough


def _has_chain(g, cls) -> bool:
    return any(type(op) is cls and type(op.operands[0].owner) is cls for op in g.ops)


def _has_splat_operand(g, cls, value) -> bool:
    for op in g.ops:
        if type(op) is not cls:
            continue
        for v in op.operands:
            owner = v.owner
            if type(owner) is ops.Constant and owner.value.size and np.all(owner.value == value):
                return True
    return False


def _has_duplicate(g) -> bool:
    seen = set()
    for op in g.ops:
        key = (type(op), tuple(map(id, op.operands)), op.attr_key())
        if op.is_pure and key in seen:
            return True
        seen.add(key)
    return False


def _has_constant_subexpression(g) -> bool:
    return any(
        op.is_pure and op.operands and all(type(v.owner) is ops.Constant for v in op.operands) for op in g.ops
    )


#: Each pattern, what to detect it with, and the ops to generate graphs of.
PATTERNS = {
    "x * 1": (lambda g: _has_splat_operand(g, ops.Mul, 1), [ops.Mul]),
    "x + 0": (lambda g: _has_splat_operand(g, ops.Add, 0), [ops.Add]),
    "neg(neg(x))": (lambda g: _has_chain(g, ops.Neg), [ops.Neg]),
    "reshape(reshape(x))": (lambda g: _has_chain(g, ops.Reshape), [ops.Reshape]),
    "transpose(transpose(x))": (lambda g: _has_chain(g, ops.Transpose), [ops.Transpose]),
    "identity(x)": (lambda g: any(type(op) is ops.Identity for op in g.ops), SIMPLIFIABLE_OPS),
    "duplicate op": (_has_duplicate, None),
    "constant subexpression": (_has_constant_subexpression, None),
}


@pytest.mark.parametrize("pattern", PATTERNS)
def test_generation_reaches_rewrite_patterns(pattern: str) -> None:
    """A fair share of graphs (over the pattern's ops, or the whole catalog) holds each
    pattern that canonicalization, CSE or constant folding rewrites."""
    found, op_list = PATTERNS[pattern]
    n, hits = 100, [0]

    @settings(max_examples=n, derandomize=True, database=None)
    @given(case=generated_graphs(op_list if op_list is not None else generatable_ops()))
    def collect(case: GeneratedGraph) -> None:
        hits[0] += found(case.graph)

    collect()
    assert hits[0] >= 0.1 * n, f"{pattern!r} in {hits[0]} of {n} graphs"


def test_doctests() -> None:
    for module in (flowir.testing, flowir.testing.generation):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0, module.__name__
