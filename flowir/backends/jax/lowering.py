"""The lowering rule table and the driver that traces ops into jax.

A lowering rule turns one op into ``jax.numpy``/``jax.lax`` calls::

    @lowering_rule(ops.Add)
    def _add(ctx: LoweringContext, op: ops.Add, x: jax.Array, y: jax.Array) -> tuple[jax.Array]:
        return (x + y,)

It receives the op's operand values (traced arrays of concrete shapes, or ``CONTROL_TOKEN``)
and returns its results in order, each of exactly the dtype and shape of the op's type rule
applied to those concrete shapes (``ctx.result_types``). The driver re-runs the type rule on
the concrete operands before calling the rule, so a fed shape that the op cannot take raises
the op's own ``ShapeError``, and checks every result against it afterwards, so a wrong
lowering fails loudly at trace time instead of computing garbage.

Rules run once per compilation (at trace time): they may use Python freely. A rule whose op
can fail at run time (an integer division by zero, an index out of range) registers a
``ctx.check`` and declares so with ``lowering_rule(..., may_fail=...)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from flowir.ir.core import Operation, Value
from flowir.ir.dtypes import dtype_of
from flowir.ir.errors import FlowirError
from flowir.ir.reference import ControlToken
from flowir.ir.types import CONTROL, TensorType, Type

__all__ = [
    "LOWERING_RULES",
    "UNSUPPORTED",
    "MAY_FAIL",
    "always",
    "may_fail",
    "LoweringRule",
    "lowering_rule",
    "LoweringContext",
    "Check",
    "lower_ops",
]

#: ``rule(ctx, op, *operand_values) -> tuple of result values``.
LoweringRule = Callable[..., tuple[Any, ...]]

LOWERING_RULES: dict[type[Operation], LoweringRule] = {}

#: Ops deliberately without a lowering, with the reason (the coverage test requires one).
UNSUPPORTED: dict[type[Operation], str] = {}

#: Ops whose lowering may add a run-time check (``ctx.check``), with the predicate telling
#: whether a given op does, from its static types. The backend must know before tracing: a
#: program with checks donates no state, since a failing run must leave the old state usable.
MAY_FAIL: dict[type[Operation], Callable[[Operation], bool]] = {}


def always(op: Operation) -> bool:
    """A ``may_fail`` predicate: every op of the class may fail."""
    return True


def lowering_rule(
    *ops: type[Operation], may_fail: Callable[[Operation], bool] | None = None
) -> Callable[[LoweringRule], LoweringRule]:
    """Register the decorated function as the jax lowering of ``ops``; ``may_fail`` declares
    the ops that add run-time checks (``always``, or a predicate of the op)."""

    def register(fn: LoweringRule) -> LoweringRule:
        for op in ops:
            if op in LOWERING_RULES:
                raise TypeError(f"{op.name} has two jax lowerings")
            LOWERING_RULES[op] = fn
            if may_fail is not None:
                MAY_FAIL[op] = may_fail
        return fn

    return register


def may_fail(op: Operation) -> bool:
    """Whether ``op``'s lowering may add a run-time check."""
    predicate = MAY_FAIL.get(type(op))
    return predicate is not None and bool(predicate(op))


class Check:
    """A run-time condition of one op: ``ok`` (a traced bool scalar) must hold, else the run
    fails with ``describe(*details)`` (``details`` are traced values fetched only then)."""

    __slots__ = ("op", "ok", "describe", "details")

    def __init__(self, op: Operation, ok: Any, describe: Callable[..., str], details: Sequence[Any]) -> None:
        self.op = op
        self.ok = ok
        self.describe = describe
        self.details = tuple(details)


class LoweringContext:
    """What a rule may ask of the trace it runs in.

    ``result_types``: the op's result types for the concrete operand shapes. ``key(op)``: the
    PRNG key of this run's draw of random op ``op``. ``check(op, ok, describe, *details)``:
    a run-time condition (integer division by zero, an index out of range) that fails the
    run, before any result or state is handed back, with a ``FlowirError`` naming the op.
    ``matmul_precision``: the ``jax.lax.Precision`` matrix products use. ``constants``: the
    traced arguments standing for large constants, which are passed in rather than baked into
    the program (keyed by their ``flowir.constant`` op).
    """

    def __init__(
        self,
        keys: Any = None,
        key_rows: dict[Operation, int] | None = None,
        constants: dict[Operation, Any] | None = None,
        matmul_precision: Any = None,
    ) -> None:
        self._keys = keys
        self._key_rows = key_rows or {}
        self.constants = constants or {}
        self.result_types: tuple[Type, ...] = ()
        self.checks: list[Check] = []
        self.matmul_precision = matmul_precision
        self._splats: dict[tuple[int, tuple[int, ...]], tuple[Any, Any]] = {}

    def splat(self, s: Any, shape: tuple[int, ...]) -> Any:
        """0-d ``s`` broadcast to ``shape``, once per trace: a scalar (``x * 0.5``'s constant)
        used by many ops of one shape is broadcast once, not once per use."""
        key = (id(s), shape)
        hit = self._splats.get(key)
        if hit is not None and hit[0] is s:
            return hit[1]
        out = jax.lax.broadcast_in_dim(s, shape, ())
        self._splats[key] = (s, out)  # keeps ``s`` alive, so its id stays its own
        return out

    def key(self, op: Operation) -> jax.Array:
        """The PRNG key of this run's draw of ``op``, from the five ``RefContext.draw_key``
        words passed in as ten uint32 halves."""
        words = self._keys[self._key_rows[op]]
        key = jax.random.key(0)
        for i in range(words.shape[0]):
            key = jax.random.fold_in(key, words[i])
        return key

    def check(self, op: Operation, ok: Any, describe: Callable[..., str], *details: Any) -> None:
        """Fail the run unless ``ok`` (a traced bool scalar) holds; the error's message is
        ``describe(*details)``, given the ``details`` (traced values) as numpy arrays. ``op``'s
        rule must be registered with ``may_fail``."""
        self.checks.append(Check(op, ok, describe, details))


def concrete_type(value: Any) -> Type:
    """The flowir type of a traced value (or ``CONTROL`` for a control token)."""
    if isinstance(value, ControlToken):
        return CONTROL
    return _tensor_type(value.dtype, value.shape)


@functools.lru_cache(maxsize=4096)
def _tensor_type(dtype: Any, shape: tuple[int, ...]) -> TensorType:
    return TensorType(dtype_of(np.dtype(dtype)), shape)


def _operand_groups(op: Operation, types: Sequence[Type]) -> list[Any]:
    """``types`` grouped as ``infer_type`` takes them: a tuple per variadic operand."""
    defs = op.OPERANDS
    if not op._VARIADIC:
        return list(types)
    vi = next(i for i, d in enumerate(defs) if d.variadic)
    after = len(defs) - 1 - vi
    end = len(types) - after
    return [*types[:vi], tuple(types[vi:end]), *types[end:]]


def _check_results(op: Operation, results: Sequence[Any], expected: Sequence[Type]) -> None:
    if len(results) != len(expected):
        raise FlowirError(f"jax lowering of {op.name} returned {len(results)} results, the op has {len(expected)}")
    for i, (v, ty) in enumerate(zip(results, expected)):
        got = concrete_type(v)
        if got is not ty and not got.is_compatible_with(ty):  # types are interned: ``is`` is the usual answer
            raise FlowirError(
                f"jax lowering of {op.name} returned {got.describe()} for result {i}; "  # type: ignore[attr-defined]
                f"its type rule says {ty.describe()}"  # type: ignore[attr-defined]
            )


def lower_ops(ops: Sequence[Operation], env: dict[Value, Any], ctx: LoweringContext) -> None:
    """Trace ``ops`` in order, reading operands from and writing results to ``env``.

    Raises the op's ``FlowirError`` (annotated with the op and its creation site) when its
    type rule rejects the concrete operands, and a ``FlowirError`` naming the op when its
    lowering fails or returns values its type rule does not allow.
    """
    for op in ops:
        args = [env[v] for v in op.operands]
        try:
            ctx.result_types = _result_types(op, args)
            try:
                results = LOWERING_RULES[type(op)](ctx, op, *args)
            except FlowirError:
                raise
            except Exception as e:
                raise FlowirError(f"jax lowering failed: {type(e).__name__}: {e}") from e
            _check_results(op, results, ctx.result_types)
        except FlowirError as e:
            op.annotate_error(e)
            raise
        for r, v in zip(op.results, results):
            env[r] = v


def _result_types(op: Operation, args: Sequence[Any]) -> tuple[Type, ...]:
    if op.explicit_result_types:
        return tuple(r.type for r in op.results)
    types = [concrete_type(a) for a in args]
    if all(a == v.type for a, v in zip(types, op.operands)):
        # The operands are what the graph says (the usual case once a session has given the
        # feeds their shapes): the verified result types are the rule's answer.
        return tuple(r.type for r in op.results)
    out = op.infer_type(*_operand_groups(op, types))
    return (out,) if isinstance(out, Type) else tuple(out)
