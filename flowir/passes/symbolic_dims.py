"""Symbolic dims: which wildcard (``None``) dims of a graph are provably the same size.

A ``tensor<?x784xf32>`` placeholder ``x`` and a ``tensor<?x10xf32>`` placeholder ``labels``
feeding one loss have batch dims that must agree at run time, although each type alone says
only ``?``. This analysis finds such equalities by running the ops' own type rules on
*witness* types: every wildcard dim of an input becomes a distinct symbol, a huge sentinel size
no real dim has, and the rules propagate symbols the way they propagate sizes (``matmul`` keeps
the batch symbol, ``reshape`` to ``[-1, 784]`` divides it back out). Where a rule rejects
its witnesses because two different symbols meet (``x - labels`` broadcasting ``s0``
against ``s1``), the analysis looks for the smallest unification that the rule accepts and
records it. For rules that compare dims one to one (broadcasting, matmul's contraction,
concat's other dims, the losses) those dims are then equal in every run the graph accepts.
For rules relating element counts (a reshape of ``[?, ?]`` to ``[-1, 6]``) the unification
is one sufficient choice among several. A dim that a rule derives arithmetically
(``s0 + s1`` from a concat) or that depends on values gets a fresh symbol: it is not related
to any other.

Shapes only: a run the type rules accept may still fail on values (a gather's index range). Users:
``flowir.testing.feeds_for`` draws one size per symbol, the ONNX exporter names one
``dim_param`` per symbol.

>>> import numpy as np
>>> from flowir.ir.core import Graph
>>> from flowir.ir.dtypes import DType
>>> from flowir.ir.types import TensorType
>>> from flowir.ir.ops import math as m
>>> from flowir.ir.ops.core import Placeholder
>>> g = Graph()
>>> x = g.append(Placeholder.create(name="x", loc=None, result_types=[TensorType(DType.float32, (None, 3))])).result
>>> y = g.append(Placeholder.create(name="y", loc=None, result_types=[TensorType(DType.float32, (None, 3))])).result
>>> z = g.append(m.Add.create(x, y, name="z", loc=None)).result
>>> dims = symbolic_dims(g)
>>> dims.shape(x), dims.shape(y), dims.shape(z)
((s0, 3), (s0, 3), (s0, 3))
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from flowir.ir.core import Graph, Operation, Trait, Value
from flowir.ir.errors import FlowirError
from flowir.ir.transforms import needed_ops
from flowir.ir.types import ResourceType, TensorType, Type

__all__ = ["Sym", "SymbolicDims", "bind_proven_sizes", "symbolic_dims"]

#: Symbol k is the witness size ``_BASE + k * _STRIDE``: far above any real dim, and spaced so
#: that ``s - 1`` or ``s + 2`` (a slice, a pad) is never another symbol; sums and products of
#: symbols (``>= 2 * _BASE``) are not symbols either.
_BASE = 1 << 40
_STRIDE = 1 << 16
_MAX_SYMBOLS = 1 << 22
#: How many unifications to try for one op the witness types do not satisfy.
_MAX_TRIES = 400


@dataclass(frozen=True)
class Sym:
    """A wildcard dim's equality class: dims with the same ``Sym`` have the same size."""

    id: int

    def __repr__(self) -> str:
        return f"s{self.id}"


Dim = int | Sym


class SymbolicDims:
    """The result of ``symbolic_dims``: for each analysed value, its shape with each wildcard
    dim replaced by its ``Sym`` (or the static size it was proven to have).

    ``shape(v)`` is ``None`` for a value of unknown rank or that is not a tensor (or
    resource); ``unresolved`` lists the ops whose type rule rejected every unification tried
    (their results got fresh symbols).
    """

    def __init__(self) -> None:
        self._witness: dict[Value, Type] = {}
        self._parent: list[int] = []
        self._bound: dict[int, int] = {}
        #: Roots bound to a static size that the rule would also have accepted as 1 or 0 (a
        #: broadcast against 7: the dim is 7 or 1), which ``exact_shape`` does not report.
        self._loose: set[int] = set()
        self._ids: dict[int, int] = {}
        self.unresolved: list[Operation] = []

    # -- union-find over symbol indices ---------------------------------------------------------

    def _fresh(self) -> int:
        k = len(self._parent)
        if k >= _MAX_SYMBOLS:
            raise FlowirError(f"symbolic dims: more than {_MAX_SYMBOLS} wildcard dims")
        self._parent.append(k)
        return _BASE + k * _STRIDE

    @staticmethod
    def _index(d: int) -> int | None:
        if d < _BASE:
            return None
        k, r = divmod(d - _BASE, _STRIDE)
        return k if r == 0 and k < _MAX_SYMBOLS else None

    def _find(self, k: int) -> int:
        parent = self._parent
        root = k
        while parent[root] != root:
            root = parent[root]
        while parent[k] != root:
            parent[k], k = root, parent[k]
        return root

    def _canon(self, d: int | None) -> int | None:
        """A witness dim with its symbol replaced by its class's representative (or bound size)."""
        if d is None:
            return None
        k = self._index(d) if d >= _BASE else None
        if k is None or k >= len(self._parent):
            return d
        root = self._find(k)
        bound = self._bound.get(root)
        return bound if bound is not None else _BASE + root * _STRIDE

    def _is_symbol(self, d: int | None) -> bool:
        if d is None:
            return False
        k = self._index(d)
        return k is not None and k < len(self._parent)

    def _apply(self, subst: dict[int, int], loose: frozenset[int] = frozenset()) -> None:
        """Record that symbol witness ``s`` equals ``d`` (a symbol or a static size) for each
        item of ``subst``; for the witnesses in ``loose``, a static ``d`` or 1."""
        for s, d in subst.items():
            is_loose = s in loose
            # A symbol already bound loosely (7 or 1) that a rule now binds exactly.
            k = self._index(s)
            if k is not None and k < len(self._parent):
                r = self._find(k)
                if r in self._loose:
                    if not is_loose and self._canon(d) == self._bound.get(r):
                        self._loose.discard(r)
                    is_loose = True
            s, d = self._canon(s), self._canon(d)  # type: ignore[assignment]
            if s == d:
                continue
            if not self._is_symbol(s):
                s, d = d, s
            if not self._is_symbol(s):
                continue  # two different static sizes: the rule accepted them, nothing to record
            root = self._find(self._index(s))  # type: ignore[arg-type]
            if self._is_symbol(d):
                self._parent[root] = self._find(self._index(d))  # type: ignore[arg-type]
            else:
                self._bound[root] = d
                if is_loose:
                    self._loose.add(root)

    # -- queries --------------------------------------------------------------------------------

    def shape(self, value: Value) -> tuple[Dim, ...] | None:
        """``value``'s shape with ``Sym`` for each wildcard dim (a resource: its value's)."""
        return self._shape(value, exact=False)

    def exact_shape(self, value: Value) -> tuple[Dim, ...] | None:
        """Like ``shape``, but a static size appears for a wildcard dim only where the rules
        prove the dim is exactly that size; a dim proven to be that size *or 1* (a broadcast
        operand) keeps its symbol."""
        return self._shape(value, exact=True)

    def _shape(self, value: Value, exact: bool) -> tuple[Dim, ...] | None:
        ty = self._witness.get(value)
        if type(ty) is ResourceType:
            ty = ty.value_type
        if type(ty) is not TensorType or ty.shape is None:
            return None
        out: list[Dim] = []
        for d in ty.shape:
            k = self._index(d) if d is not None and d >= _BASE else None
            if k is not None and k < len(self._parent) and (root := self._find(k)) in self._loose and exact:
                out.append(Sym(self._ids.setdefault(root, len(self._ids))))
                continue
            c = self._canon(d)
            if self._is_symbol(c):
                k = self._index(c)  # type: ignore[arg-type]
                out.append(Sym(self._ids.setdefault(k, len(self._ids))))  # type: ignore[arg-type]
            else:
                out.append(c)  # type: ignore[arg-type]
        return tuple(out)

    def symbols(self, values: Iterable[Value]) -> list[Sym]:
        """The distinct symbols in the shapes of ``values``, in order of first appearance."""
        seen: dict[Sym, None] = {}
        for v in values:
            for d in self.shape(v) or ():
                if type(d) is Sym:
                    seen[d] = None
        return list(seen)

    # -- propagation ----------------------------------------------------------------------------

    def _witness_of(self, ty: Type) -> Type:
        """``ty`` with a fresh symbol for each wildcard dim."""
        if type(ty) is ResourceType:
            return ResourceType(self._witness_of(ty.value_type))  # type: ignore[arg-type]
        if type(ty) is not TensorType or ty.shape is None:
            return ty
        return TensorType(ty.dtype, tuple(self._fresh() if d is None else d for d in ty.shape))

    def _current(self, v: Value) -> Type:
        ty = self._witness.get(v)
        if ty is None:
            ty = self._witness[v] = self._witness_of(v.type)
        return self._canon_type(ty)

    def _canon_type(self, ty: Type) -> Type:
        if type(ty) is ResourceType:
            return ResourceType(self._canon_type(ty.value_type))  # type: ignore[arg-type]
        if type(ty) is not TensorType or ty.shape is None:
            return ty
        return TensorType(ty.dtype, tuple(self._canon(d) for d in ty.shape))

    def _settle(self, real: Type, inferred: Type | None) -> Type:
        """The witness of a result whose declared type is ``real`` and whose type rule gave
        ``inferred`` on witnesses: symbols where both agree, static sizes where ``real`` has
        them, fresh symbols for dims only ``real`` leaves open."""
        if type(real) is ResourceType:
            inner = inferred.value_type if type(inferred) is ResourceType else None
            return ResourceType(self._settle(real.value_type, inner))  # type: ignore[arg-type]
        if type(real) is not TensorType or real.shape is None:
            return real
        got = inferred.shape if type(inferred) is TensorType and inferred.shape is not None else None
        if got is None or len(got) != len(real.shape):
            return self._witness_of(real)
        dims = []
        for r, w in zip(real.shape, got):
            if r is not None:
                dims.append(r)
            elif self._is_symbol(w):
                dims.append(w)
            else:
                dims.append(self._fresh())
        return TensorType(real.dtype, tuple(dims))

    def _probe(self, op: Operation, types: Sequence[Type]) -> tuple[Type, ...] | None:
        """``op``'s type rule on ``types``; ``None`` if the rule rejects them."""
        probe = type(op)([Value(t) for t in types], (), op.attributes)
        try:
            return probe.compute_result_types()
        except (FlowirError, ValueError, TypeError, ArithmeticError):
            return None

    def _visit(self, op: Operation) -> None:
        if Trait.INPUT in op.traits or type(op).explicit_result_types or not op.operands and not type(op).OPERANDS:
            for r in op.results:
                self._witness[r] = self._witness_of(r.type)
            return
        types = [self._current(v) for v in op.operands]
        inferred = self._probe(op, types)
        if inferred is None:
            subst = self._unify(op, types)
            if subst is None:
                self.unresolved.append(op)
            else:
                necessary, standins, loose = self._split(op, types, subst)
                inferred = self._probe(op, [_substitute(t, {**necessary, **standins}) for t in types])
                self._apply(necessary, loose)
        for i, r in enumerate(op.results):
            got = inferred[i] if inferred is not None and i < len(inferred) else None
            self._witness[r] = self._settle(r.type, got)

    def _unify(self, op: Operation, types: Sequence[Type]) -> dict[int, int] | None:
        """The first substitution of symbols (by other symbols or static sizes) under which
        ``op``'s rule accepts ``types``: all right-aligned dims at once, then one symbol, then
        two; ``None`` if none is found."""
        shapes = [_shape_of(t) for t in types]
        shapes = [s for s in shapes if s is not None]
        candidates: list[dict[int, int]] = []
        dims = list(dict.fromkeys(d for s in shapes for d in s if d is not None))
        syms = [d for d in dims if self._is_symbol(d)]
        # Smallest first, and a symbol before a static size: equating all aligned dims at
        # once would also equate dims the rule never compares (a concat's axis).
        singles = [{s: d} for s in syms for d in dims if d != s and d != 1]
        singles.sort(key=lambda m: not self._is_symbol(next(iter(m.values()))))
        candidates += singles
        candidates += [{**a, **b} for a, b in itertools.combinations(singles, 2) if not set(a) & set(b)]
        aligned = self._aligned(shapes)
        if aligned:
            candidates.append(aligned)
        # Last: symbols that can only be 1 (wildcards against static 1s under a rule that
        # does not broadcast).
        candidates += [{s: 1} for s in syms]
        aligned_ones = self._aligned(shapes, ones=True)
        if aligned_ones and aligned_ones != aligned:
            candidates.append(aligned_ones)
        for subst in candidates[:_MAX_TRIES]:
            if self._probe(op, [_substitute(t, subst) for t in types]) is not None:
                return subst
        return None

    def _split(
        self, op: Operation, types: Sequence[Type], subst: dict[int, int]
    ) -> tuple[dict[int, int], dict[int, int], frozenset[int]]:
        """Split an accepted substitution into the equalities the rule requires and the ones
        it merely tolerates. An entry ``s -> d`` is required unless the rule also accepts ``s``
        as another small size (2, 3 or 5; never 1, which broadcasting accepts anywhere): a
        conv kernel dim that must not exceed the input is not thereby equal to it. Tolerated
        entries become stand-in sizes for this op's probe only. The third result lists the
        required entries binding a static size that the rule would also accept as 1 or 0
        (a broadcast, a slice no longer than the size)."""
        necessary: dict[int, int] = {}
        standins: dict[int, int] = {}
        loose: set[int] = set()
        for s, d in subst.items():
            rest = {k: v for k, v in subst.items() if k != s and k not in standins}
            for size in (2, 3, 5):
                if size != d and self._probe(op, [_substitute(t, {**rest, **standins, s: size}) for t in types]) is not None:
                    standins[s] = size
                    break
            else:
                necessary[s] = d
        for s, d in necessary.items():
            if self._is_symbol(d):
                continue
            rest = {k: v for k, v in necessary.items() if k != s}
            for size in (0, 1):
                if size != d and self._probe(op, [_substitute(t, {**rest, **standins, s: size}) for t in types]) is not None:
                    loose.add(s)
                    break
        return necessary, standins, frozenset(loose)

    def _aligned(self, shapes: Sequence[tuple[int | None, ...]], ones: bool = False) -> dict[int, int]:
        """The substitution equating the dims of ``shapes`` at each position from the right
        (numpy broadcasting's alignment), ignoring 1s unless ``ones``; each symbol maps to the
        position's static size if it has one, else to its first symbol."""
        subst: dict[int, int] = {}
        longest = max((len(s) for s in shapes), default=0)
        for pos in range(1, longest + 1):
            column = [s[-pos] for s in shapes if len(s) >= pos and s[-pos] is not None and (ones or s[-pos] != 1)]
            statics = [d for d in column if not self._is_symbol(d)]
            syms = [d for d in column if self._is_symbol(d)]
            if not syms or len(set(statics)) > 1:
                continue
            target = statics[0] if statics else syms[0]
            for s in syms:
                if s != target:
                    subst[s] = target
        return subst


def _shape_of(ty: Type) -> tuple[int | None, ...] | None:
    if type(ty) is ResourceType:
        ty = ty.value_type
    if type(ty) is TensorType and ty.shape is not None:
        return ty.shape
    return None


def _substitute(ty: Type, subst: dict[int, int]) -> Type:
    if type(ty) is ResourceType:
        return ResourceType(_substitute(ty.value_type, subst))  # type: ignore[arg-type]
    if type(ty) is not TensorType or ty.shape is None:
        return ty
    return TensorType(ty.dtype, tuple(subst.get(d, d) if d is not None else None for d in ty.shape))  # type: ignore[arg-type]


def symbolic_dims(
    graph: Graph, outputs: Sequence[Value] | None = None, *, known: Mapping[Value, Sequence[Dim]] | None = None
) -> SymbolicDims:
    """Analyse the ops that ``outputs`` need (default: every op of ``graph``), in program
    order, and return which wildcard dims are provably equal.

    Graph inputs and input ops (placeholders) get one fresh symbol per wildcard dim, or, for
    the values in ``known``, the shapes given there (a static size, or a ``Sym`` shared by
    every dim given the same one: facts an earlier analysis proved); every other op's results
    get the symbols its type rule derives from its operands' witnesses. Nothing in ``graph``
    changes.
    """
    dims = SymbolicDims()
    seeds: dict[Sym, int] = {}

    def witness(v: Value) -> Type:
        shape = known.get(v) if known else None
        ty = v.type
        inner = ty.value_type if type(ty) is ResourceType else ty
        if shape is None or type(inner) is not TensorType or inner.shape is None or len(shape) != len(inner.shape):
            return dims._witness_of(ty)
        w = tuple(
            d if d is not None else (seeds.setdefault(k, dims._fresh()) if type(k) is Sym else k)  # type: ignore[misc]
            for d, k in zip(inner.shape, shape)
        )
        out = TensorType(inner.dtype, w)
        return ResourceType(out) if type(ty) is ResourceType else out

    for arg in graph.inputs:
        dims._witness[arg] = witness(arg)
    ops: Iterable[Operation] = graph.ops if outputs is None else needed_ops(graph, outputs)
    for op in ops:
        if known and Trait.INPUT in op.traits and any(r in known for r in op.results):
            for r in op.results:
                dims._witness[r] = witness(r)
            continue
        dims._visit(op)
    return dims


def bind_proven_sizes(graph: Graph, values: Sequence[Value]) -> dict[Value, tuple[Dim, ...]]:
    """Give each of ``values`` (graph inputs, placeholders) the static sizes the analysis
    proves its wildcard dims to have (``exact_shape``: logits of shape ``[None]`` that a loss
    matches against labels of shape ``[1]``), refine the types downstream (shape inference),
    and return each value's symbolic shape. Changes ``graph`` in place: for a copy about to be
    exported or compiled, where a consumer (an ONNX model's inputs) should see the sizes
    every accepted run has.
    """
    from flowir.passes.shape_inference import infer_shapes

    analysis = symbolic_dims(graph)
    known: dict[Value, tuple[Dim, ...]] = {}
    changed = False
    for v in values:
        sym = analysis.exact_shape(v)
        if sym is None:
            continue
        known[v] = sym
        ty = v.type
        if type(ty) is TensorType and ty.shape is not None:
            shape = tuple(d if d is not None or type(k) is not int else k for d, k in zip(ty.shape, sym))
            if shape != ty.shape:
                v.type = TensorType(ty.dtype, shape)
                changed = True
    if changed:
        infer_shapes(graph)
    return known
