"""Constant folding through the reference kernels."""

from __future__ import annotations

import numpy as np

from flowir.ir.attributes import freeze_array
from flowir.ir.core import Graph, Operation, Trait, Value
from flowir.ir.dtypes import dtype_of
from flowir.ir.ops.core import Constant
from flowir.ir.reference import IMPL_RULES, run_op
from flowir.ir.types import TensorType
from flowir.passes.manager import Pass, PassOption, PassResult

__all__ = ["ConstantFoldPass", "is_foldable"]

#: Ops with any of these traits are never folded: their value is not a function of operands.
_NEVER_FOLD = frozenset({Trait.RANDOM, Trait.STATEFUL, Trait.INPUT, Trait.TERMINATOR})


def is_foldable(op: Operation) -> bool:
    """Whether ``op`` may be folded by kind: pure, not random, stateful or an input, with a
    reference kernel, and not itself a constant."""
    return _foldable_class(type(op)) and bool(op.results)


def _foldable_class(cls: type[Operation]) -> bool:
    traits = cls.traits
    return Trait.PURE in traits and traits.isdisjoint(_NEVER_FOLD) and cls is not Constant and cls in IMPL_RULES


class ConstantFoldPass(Pass):
    """Evaluate ops whose data operands are all constants and replace them by constants.

    Folding runs the op's reference kernel (``flowir.ir.reference``), so it computes exactly
    what the numpy backend would. The new ``flowir.constant`` ops take the folded op's place,
    user name (``name:i`` for the i-th of several results) and location; they carry its
    control dependencies and those of the operand constants, so ordering is kept. Operand
    constants left unused are erased.

    Not folded: ops that are not ``PURE`` or are ``RANDOM``/``STATEFUL``/``INPUT``, ops
    without a kernel, kernels that raise, and results larger than ``max-bytes`` (a folded
    constant must not inflate an exported model). A folded value must have the result's dtype
    and a shape compatible with the result type; the constant's type is its exact type.
    """

    name = "constant-fold"
    description = "Replace ops whose operands are all constants by their value (reference kernels)"
    options = (PassOption("max-bytes", int, 1 << 20, "largest folded constant, in bytes"),)

    max_bytes: int

    def run(self, graph: Graph) -> PassResult:
        modified = False
        max_bytes = self.max_bytes
        # The verdict depends on the class only; caching it keeps the loop cheap.
        foldable: dict[type[Operation], bool] = {}
        # Folding must not warn where running would merely produce inf/nan.
        with np.errstate(all="ignore"):
            for op in graph.ops:
                cls = type(op)
                ok = foldable.get(cls)
                if ok is None:
                    ok = foldable[cls] = _foldable_class(cls)
                if not ok or not op.results:
                    continue
                if not all(type(v.owner) is Constant for v in op.operands):
                    continue
                if not _fits_statically(op, max_bytes):
                    continue
                values = _fold(op, max_bytes)
                if values is None:
                    continue
                _replace_with_constants(graph, op, values)
                modified = True
        return PassResult(graph, modified)


def _fits_statically(op: Operation, max_bytes: int) -> bool:
    """False when a result's static type already shows it exceeds the cap (skip the work)."""
    for r in op.results:
        ty = r.type
        if type(ty) is not TensorType:
            return False
        n = ty.num_elements
        if n is not None and n * max(ty.dtype.itemsize, 1) > max_bytes:
            return False
    return True


def _fold(op: Operation, max_bytes: int) -> list[tuple[np.ndarray, TensorType]] | None:
    """The folded values of ``op``'s results with their exact types, or ``None`` when the
    kernel fails or a value is too large or does not fit its result type."""
    args = [v.owner.value for v in op.operands]  # type: ignore[union-attr]
    try:
        out = run_op(op, args)
    except Exception:
        # A kernel that rejects these values leaves the op for run time to report.
        return None
    if len(out) != len(op.results):
        return None
    folded = []
    for r, v in zip(op.results, out):
        if not isinstance(v, np.ndarray) or v.nbytes > max_bytes:
            return None
        try:
            ty = TensorType(dtype_of(v), v.shape)
        except ValueError:
            return None
        if not ty.is_compatible_with(r.type):
            return None
        folded.append((v, ty))
    return folded


def _replace_with_constants(graph: Graph, op: Operation, folded: list[tuple[np.ndarray, TensorType]]) -> None:
    sources = [v.owner for v in op.operands]
    control = list(op.control_deps)
    if any(c.control_deps for c in sources):  # type: ignore[union-attr]
        deps: dict[Value, None] = dict.fromkeys(control)
        for c in sources:
            deps.update(dict.fromkeys(c.control_deps))  # type: ignore[union-attr]
        control = list(deps)
    single = len(op.results) == 1
    new_values = []
    for r, (v, ty) in zip(op.results, folded):
        # Built directly: the value is checked above, and its type is exactly ``ty``.
        c = Constant(
            (),
            (ty,),
            {"value": freeze_array(v)},
            user_name=op.user_name if single else r.name,
            location=op.location,
            control_deps=control,
        )
        graph.insert_before(op, c)
        new_values.append(c.results[0])
    op.replace_all_uses_with(new_values)
    op.erase()
    for c in dict.fromkeys(sources):
        if c.graph is graph and not any(r.uses for r in c.results):  # type: ignore[union-attr]
            c.erase()  # type: ignore[union-attr]
