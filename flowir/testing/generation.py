"""Random well-typed graphs over the op catalog, with matching random feeds.

Generation is constructive: graph inputs (placeholders and graph arguments with wildcard
types) and constants first, then ops drawn from the catalog, each built by its rule in
``GEN_RULES`` from values already in the graph, with some ops repeated verbatim (CSE
candidates) and some results left unused (dead code). ``Op.create`` infers every type.

>>> from hypothesis import given
>>> from flowir.ir.reference import evaluate
>>> @given(case=generated_graphs(max_ops=6), data=st.data())
... def test_runs(case, data):
...     feeds = data.draw(case.feeds())
...     evaluate(case.graph, feeds.arrays, ctx=feeds.context())
>>> test_runs()
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from flowir.ir.core import OP_REGISTRY, Graph, Operation, Trait, Value
from flowir.ir.dtypes import DType
from flowir.ir.reference import IMPL_RULES, RefContext
from flowir.ir.types import ResourceType, TensorType, Type
from flowir.testing._pool import (
    SYMBOL_BASE,
    Build,
    Entry,
    GenConfig,
    GenerationError,
    GenRule,
    Pool,
    Step,
    instantiate,
)
from flowir.testing.rules import (
    FAMILY_RULES,
    GEN_RULES,
    NOT_GENERATED,
    SIMPLIFIABLE_OPS,
    family_rule,
    gen_rule,
    rule_for,
)
from flowir.testing.strategies import DEFAULT_DTYPES, arrays_for

__all__ = [
    "GEN_RULES",
    "FAMILY_RULES",
    "NOT_GENERATED",
    "gen_rule",
    "family_rule",
    "rule_for",
    "Build",
    "Entry",
    "Pool",
    "GenRule",
    "GenerationError",
    "GeneratedGraph",
    "Feeds",
    "generated_graphs",
    "graphs",
    "generatable_ops",
    "SYMBOL_BASE",
]


class Feeds:
    """Concrete feeds for a generated graph: ``sizes`` maps each symbol to its run-time size,
    ``arrays`` each input's name to its array, ``variables`` each variable's name to its
    initial value (copy it into a ``RefContext`` per run: runs update it)."""

    __slots__ = ("sizes", "arrays", "variables")

    def __init__(self, sizes: dict[int, int], arrays: dict[str, np.ndarray], variables: dict[str, np.ndarray]) -> None:
        self.sizes = sizes
        self.arrays = arrays
        self.variables = variables

    def context(self, seed: int = 0) -> RefContext:
        """A fresh ``RefContext`` holding copies of the initial variable values."""
        return RefContext({k: v.copy() for k, v in self.variables.items()}, seed=seed)

    def __repr__(self) -> str:
        shapes = {k: v.shape for k, v in self.arrays.items()}
        return f"Feeds(sizes={self.sizes}, shapes={shapes}, variables={list(self.variables)})"


@dataclass
class GeneratedGraph:
    """A generated graph with what is needed to run it and check it.

    ``graph`` is built once and yours to mutate; ``build()`` replays the same construction
    for a fresh, identical graph. ``values`` lists ``graph``'s values in creation order and
    ``witnesses`` their witness types: the type with each run-time-varying dim replaced by a
    symbol (``SYMBOL_BASE + k``); the shape of the value in a run is
    ``instantiate(witness, feeds.sizes)``.
    """

    graph: Graph
    values: list[Value]
    witnesses: list[Type]
    steps: tuple[Step, ...]
    outputs: tuple[int, ...]
    inputs: tuple[int, ...]
    symbols: tuple[int, ...]
    variables: dict[str, TensorType]

    def build(self) -> tuple[Graph, list[Value]]:
        """A fresh copy of the graph (replayed construction) and its values in creation order."""
        g = Graph()
        values: list[Value] = []
        for step in self.steps:
            if step.cls is None:
                assert step.result_types is not None
                values.append(g.add_input(step.result_types[0], step.name))
                continue
            args = tuple(
                [values[i] for i in x] if isinstance(x, tuple) else values[x] for x in step.operands
            )
            op = step.cls.create(
                *args,
                name=step.name,
                loc=step.loc,
                result_types=step.result_types,
                control_deps=[values[i] for i in step.control_deps],
                device=step.device,
                **dict(step.attrs),
            )
            g.append(op)
            values.extend(op.results)
        _set_outputs(g, [values[i] for i in self.outputs])
        return g, values

    @property
    def input_names(self) -> list[str]:
        """The graph inputs' names, in input order (``""`` for an unnamed one)."""
        return [self.values[i].name or "" for i in self.inputs]

    def feeds(
        self, *, min_size: int = 1, max_size: int = 4, special: bool = False
    ) -> st.SearchStrategy[Feeds]:
        """Random feeds: one size in ``[min_size, max_size]`` per symbol (so dims that must
        match do), then an array per input and an initial value per variable of its witness
        shape at those sizes."""

        @st.composite
        def draw_feeds(draw: st.DrawFn) -> Feeds:
            sizes = {s: draw(st.integers(min_size, max_size)) for s in self.symbols}
            arrays = {}
            for i in self.inputs:
                ty = instantiate(self.witnesses[i], sizes)
                arrays[self.values[i].name or ""] = draw(arrays_for(ty, special=special))  # type: ignore[arg-type]
            variables = {
                name: draw(arrays_for(instantiate(w, sizes), special=special))  # type: ignore[arg-type]
                for name, w in self.variables.items()
            }
            return Feeds(sizes, arrays, variables)

        return draw_feeds()

    def expected_type(self, index: int, sizes: dict[int, int]) -> Type:
        """The concrete type value ``index`` has in a run with symbol ``sizes``."""
        return instantiate(self.witnesses[index], sizes)

    def __repr__(self) -> str:
        from flowir.ir.printer import print_graph

        try:
            text = print_graph(self.graph)
        except Exception:  # a printer bug must not hide the failing example
            text = repr(self.graph)
        syms = ", ".join(f"{s}" for s in self.symbols)
        return f"GeneratedGraph(symbols=[{syms}], variables={list(self.variables)}):\n{text}"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))


def generatable_ops(*, require_kernels: bool = True, catalog_only: bool = True) -> list[type[Operation]]:
    """Registered ops that have a generation rule (and, with ``require_kernels``, a reference
    kernel, so generated graphs can run), in registry order.

    With ``catalog_only`` (the default) only flowir's own ops are listed: ops that a program
    or a test registers for itself join a generated graph only when passed explicitly.
    """
    return [
        cls
        for cls in OP_REGISTRY.values()
        if rule_for(cls) is not None
        and (not require_kernels or cls in IMPL_RULES)
        and (not catalog_only or cls.__module__.startswith("flowir."))
    ]


def generated_graphs(
    ops: Iterable[type[Operation]] | None = None,
    *,
    min_ops: int = 3,
    max_ops: int = 12,
    max_inputs: int = 4,
    dtypes: Sequence[DType] | None = None,
    max_rank: int = 3,
    max_side: int = 4,
    wildcards: bool = True,
    unknown_rank: bool = False,
    duplicate_prob: float = 0.15,
    palette_size: int = 6,
    names: st.SearchStrategy[str] | None = None,
    locations: bool = True,
    seeded_random: bool = True,
    strict: bool = True,
) -> st.SearchStrategy[GeneratedGraph]:
    """Random well-typed graphs (as ``GeneratedGraph``) over ``ops`` (default: every registered
    op with a rule in ``GEN_RULES``).

    Each graph has 1 to ``max_inputs`` inputs (placeholders and graph arguments whose types
    have ``None`` dims with ``wildcards``, unknown rank sometimes with ``unknown_rank``),
    constants, and ``min_ops`` to ``max_ops`` ops of ``dtypes`` (default: all but string) of
    rank up to ``max_rank``, of at most ``palette_size`` kinds (drawn per graph); about
    ``duplicate_prob`` of them repeat an earlier op. ``names``
    draws op names (default ``add_3``-style); ``locations`` gives ops random ``model.py``
    locations. Random ops always get a seed with ``seeded_random`` (unseeded streams depend on
    the order in which ops first run, so they differ between a graph and its transform).
    Outputs are some of the unused values and a few others; other unused values are dead
    code.

    With ``strict``, an op whose type rule rejects wildcard operands that a concrete instance
    satisfies, or infers a type contradicting it, raises ``GenerationError``.
    """
    classes = generatable_ops() if ops is None else list(ops)
    missing = [c.name for c in classes if rule_for(c) is None]
    if missing:
        raise ValueError(f"generated_graphs(): no generation rule for {', '.join(missing)}")
    rules = {c: rule_for(c) for c in classes}
    # Hypothesis shrinks (and often generates) towards the first choice: lead with ops worth
    # composing rather than with, say, constants, which the pool makes anyway.
    focus = [c for c in SIMPLIFIABLE_OPS if c in rules]
    classes = focus + [c for c in classes if c not in focus]
    config = GenConfig(
        dtypes=tuple(DEFAULT_DTYPES if dtypes is None else dtypes),
        max_rank=max_rank,
        max_side=max_side,
        wildcards=wildcards,
        unknown_rank=unknown_rank,
        locations=locations,
        seeded_random=seeded_random,
    )

    @st.composite
    def build(draw: st.DrawFn) -> GeneratedGraph:
        pool = Pool(draw, config, names)
        if not classes:
            raise ValueError("generated_graphs(): no ops to generate")
        # A few op kinds per graph make chains of one kind (transpose of transpose ...) likely.
        palette = draw(st.lists(st.sampled_from(classes), min_size=1, max_size=palette_size, unique=True))
        if focus and draw(st.booleans()):
            palette.append(draw(st.sampled_from(focus)))
        for _ in range(draw(st.integers(1, max_inputs))):
            pool.pick()
        target = draw(st.integers(min_ops, max_ops))
        made = 0
        attempts = 0
        while made < target and attempts < 4 * target + 8:
            attempts += 1
            dup = [i for i, s in enumerate(pool.steps) if _can_duplicate(s)]
            if dup and pool.chance(duplicate_prob):
                pool.duplicate(dup[draw(st.integers(0, len(dup) - 1))])
                made += 1
                continue
            cls = draw(st.sampled_from(palette))
            pool.building = cls
            spec = rules[cls](draw, pool)
            pool.building = None
            if spec is None:
                continue
            if pool.entries and pool.chance(0.1):
                spec.control_deps = (*spec.control_deps, _control_dep(draw, pool))
            if pool.emit(cls, spec, strict=strict) is not None:
                made += 1
        outputs = _choose_outputs(draw, pool)
        _set_outputs(pool.graph, [pool.entries[i].value for i in outputs])
        return GeneratedGraph(
            graph=pool.graph,
            values=[e.value for e in pool.entries],
            witnesses=[e.witness for e in pool.entries],
            steps=tuple(pool.steps),
            outputs=tuple(outputs),
            inputs=tuple(pool.input_entries),
            symbols=tuple(pool.symbols),
            variables=dict(pool.variables),
        )

    return build()


def graphs(ops: Iterable[type[Operation]] | None = None, **kwargs: Any) -> st.SearchStrategy[Graph]:
    """Random well-typed ``Graph``s; the arguments are those of ``generated_graphs``.

    >>> from hypothesis import find
    >>> from flowir.ir.ops.math import Add
    >>> g = find(graphs([Add], min_ops=2, max_inputs=1), lambda g: len(g) >= 3)
    >>> [op.name for op in g.ops][-1]
    'math.add'
    """
    return generated_graphs(ops, **kwargs).map(lambda case: case.graph)


def _can_duplicate(step: Step) -> bool:
    return step.cls is not None and Trait.INPUT not in step.cls.traits


def _control_dep(draw: st.DrawFn, pool: Pool) -> Entry:
    controls = [e for e in pool.entries if not e.is_tensor and type(e.witness) is not ResourceType]
    if controls and draw(st.booleans()):
        return pool.choose(controls)
    return pool.choose(pool.entries)


def _choose_outputs(draw: st.DrawFn, pool: Pool) -> list[int]:
    """Most unused tensor values (the rest stay dead) plus a few used ones; never empty.

    The last op acting on each variable is an output, so every variable update is needed
    and the final variable values are part of what the graph computes."""
    tensors = [e for e in pool.entries if e.is_tensor]
    sinks = [e.index for e in tensors if not e.value.uses]
    chosen = [i for i in sinks if not pool.chance(0.25)]
    chosen += [e.index for e in pool.last_effect.values() if e.is_tensor]
    used = [e.index for e in tensors if e.value.uses]
    if used and draw(st.booleans()):
        chosen.append(used[draw(st.integers(0, len(used) - 1))])
    if not chosen:
        chosen.append(tensors[-1].index)
    return sorted(set(chosen))


def _set_outputs(g: Graph, values: list[Value]) -> None:
    g.set_outputs(values, [f"out{i}" for i in range(len(values))])

