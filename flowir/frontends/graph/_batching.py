"""Which values of a program are row-wise in the batch dim, so padding the batch is safe.

A session that pads fed batches up to a bucket size (``Session(batch_buckets=...)``) runs the
program on extra rows and slices them off the fetched results. That is only correct when no
real row's result depends on a padded row: every op that reads a batched value (one whose
leading dim is the batch dim) must compute each result row from the same operand rows only.
``batched_outputs`` checks this for a whole program, op by op, from ``BATCH_RULES`` (keyed by
op class, a rule covering subclasses; any other op with ``Trait.ELEMENTWISE`` follows numpy
broadcasting). An op that reads a
batched value and has no rule, a reduction over the batch dim, a batched state update or a
broadcast that moves the batch dim makes padding unsafe: ``NotRowwiseError`` says which op.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from flowir.ir.core import Operation, Trait, Value
from flowir.ir.ops.array import Concat, ExpandDims, Identity, Transpose
from flowir.ir.ops.math import ArgReduction, MatMul, Reduction
from flowir.ir.ops.nn import (
    SigmoidCrossEntropyWithLogits,
    SoftmaxBase,
    SoftmaxCrossEntropyWithLogits,
    SparseSoftmaxCrossEntropyWithLogits,
)
from flowir.ir.types import TensorType, normalize_axes, normalize_axis

__all__ = ["BATCH_RULES", "NotRowwiseError", "batched_outputs"]


class NotRowwiseError(Exception):
    """Padding the batch dim would change real rows' results; the message says which op."""


#: ``rule(op, batched)``, ``batched[i]`` telling whether operand ``i`` is batched (at least one
#: is): ``None`` when every result of ``op`` is batched and row-wise, else the reason it is not.
BatchRule = Callable[[Operation, Sequence[bool]], "str | None"]

BATCH_RULES: dict[type[Operation], BatchRule] = {}


def _shape(v: Value) -> tuple[int | None, ...] | None:
    ty = v.type
    return ty.shape if type(ty) is TensorType else None  # type: ignore[attr-defined]


def _rank(v: Value) -> int | None:
    shape = _shape(v)
    return None if shape is None else len(shape)


def _broadcast(op: Operation, batched: Sequence[bool]) -> str | None:
    """Broadcasting keeps rows apart when the batched operands' leading dim is the result's
    and no other operand has a dim (other than 1) aligned with it."""
    rank = max((_rank(r) or 0) for r in op.results) if op.results else 0
    for v, is_batched in zip(op.operands, batched):
        shape = _shape(v)
        if shape is None:
            return f"{v.name or 'an operand'} has unknown rank"
        if is_batched:
            if len(shape) != rank:
                return f"broadcasting moves the batch dim of {v.name or 'an operand'}"
        elif len(shape) == rank and shape[0] != 1:
            return f"{v.name or 'an operand'} {list(shape)} has a dim aligned with the batch dim"
    return None


def _all_batched(op: Operation, batched: Sequence[bool]) -> str | None:
    return None if all(batched) else "it combines batched and unbatched rows"


def _keeps_axis0(axes: Iterable[int]) -> str | None:
    return "it reduces over the batch dim" if 0 in set(axes) else None


def _reduction(op: Reduction, batched: Sequence[bool]) -> str | None:  # type: ignore[override]
    rank = _rank(op.operands[0])
    if rank is None:
        return "its operand has unknown rank"
    return _keeps_axis0(op.reduced_axes(rank))


def _arg_reduction(op: ArgReduction, batched: Sequence[bool]) -> str | None:
    rank = _rank(op.operands[0])
    return "its operand has unknown rank" if rank is None else _keeps_axis0([normalize_axis(op.axis, rank)])


def _softmax(op: SoftmaxBase | SoftmaxCrossEntropyWithLogits, batched: Sequence[bool]) -> str | None:
    rank = _rank(op.operands[0])
    if rank is None:
        return "its operand has unknown rank"
    return _all_batched(op, batched) or _keeps_axis0([normalize_axis(op.axis, rank)])


def _sparse_softmax(op: Operation, batched: Sequence[bool]) -> str | None:
    rank = _rank(op.operands[0])
    if rank is None or rank < 2:
        return "its logits have no batch dim besides the classes"
    return _all_batched(op, batched)


def _matmul(op: MatMul, batched: Sequence[bool]) -> str | None:
    a, b = op.operands
    ra, rb = _rank(a), _rank(b)
    if ra is None or rb is None:
        return "an operand has unknown rank"
    if max(ra, rb) > 2:
        # A batched matmul: the leading dims broadcast like an elementwise op's.
        return _broadcast(op, batched)
    if batched[1]:
        return "the batch dim of its right operand is contracted"
    if op.transpose_a:
        return "the batch dim of its left operand is contracted (transpose_a)"
    return None


def _identity(op: Operation, batched: Sequence[bool]) -> str | None:
    return None


def _transpose(op: Transpose, batched: Sequence[bool]) -> str | None:
    rank = _rank(op.operands[0])
    if rank is None or op.perm is None:
        return "it moves the batch dim" if rank != 1 else None
    return None if normalize_axes(op.perm, rank, "perm")[0] == 0 else "it moves the batch dim"


def _expand_dims(op: ExpandDims, batched: Sequence[bool]) -> str | None:
    rank = _rank(op.operands[0])
    if rank is None:
        return "its operand has unknown rank"
    return "it inserts a dim before the batch dim" if normalize_axis(op.axis, rank + 1) == 0 else None


def _concat(op: Concat, batched: Sequence[bool]) -> str | None:
    rank = _rank(op.operands[0])
    if rank is None:
        return "its operands have unknown rank"
    return _all_batched(op, batched) or (
        "it concatenates along the batch dim" if normalize_axis(op.axis, rank) == 0 else None
    )


for _cls, _rule in (
    (Reduction, _reduction),
    (ArgReduction, _arg_reduction),
    (SoftmaxBase, _softmax),
    (SoftmaxCrossEntropyWithLogits, _softmax),
    (SparseSoftmaxCrossEntropyWithLogits, _sparse_softmax),
    (SigmoidCrossEntropyWithLogits, _all_batched),
    (MatMul, _matmul),
    (Identity, _identity),
    (Transpose, _transpose),
    (ExpandDims, _expand_dims),
    (Concat, _concat),
):
    BATCH_RULES[_cls] = _rule  # type: ignore[assignment]


def _rule_for(op: Operation) -> BatchRule | None:
    """The rule of ``op``'s class or its nearest base class in ``BATCH_RULES`` (a rule for
    ``Reduction`` covers every reduction); ``_broadcast`` for other elementwise ops."""
    for cls in type(op).__mro__:
        rule = BATCH_RULES.get(cls)  # type: ignore[arg-type]
        if rule is not None:
            return rule
    return _broadcast if Trait.ELEMENTWISE in op.traits else None


def batched_outputs(
    ops: Iterable[Operation], batched_inputs: Iterable[Value], outputs: Sequence[Value], num_fetches: int
) -> frozenset[int]:
    """The positions among the first ``num_fetches`` of ``outputs`` whose leading dim is the
    batch dim, given the program's ``ops`` in order and the ``batched_inputs`` (fed values
    whose leading dim is the batch). Raises ``NotRowwiseError`` naming the first op whose
    results would change with padded rows, or an output past ``num_fetches`` (new state)
    that depends on the batch."""
    batched: set[Value] = set(batched_inputs)
    for op in ops:
        flags = [v in batched for v in op.operands]
        if not any(flags):
            continue
        rule = _rule_for(op)
        reason = "it is not known to treat rows independently" if rule is None else rule(op, flags)
        if reason is None and any(not _shape(r) for r in op.results):
            reason = "a result has no batch dim"
        if reason is not None:
            raise NotRowwiseError(f"{op.describe_op()}: {reason}")
        batched.update(op.results)
    for i, v in enumerate(outputs[num_fetches:]):
        if v in batched:
            raise NotRowwiseError(f"new state value {i} ({v.name or 'unnamed'}) depends on the batch")
    return frozenset(i for i, v in enumerate(outputs[:num_fetches]) if v in batched)
