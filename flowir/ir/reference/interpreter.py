"""A straightforward evaluator of graphs through the reference kernels.

Constant folding and the tests use it; the numpy backend schedules the same kernels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from flowir.ir.core import BlockArgument, Graph, Operation, Trait, Value
from flowir.ir.errors import FlowirError, ShapeError
from flowir.ir.reference._registry import get_impl_rule
from flowir.ir.types import TensorType

__all__ = ["RefContext", "VariableRef", "ControlToken", "CONTROL_TOKEN", "evaluate", "run_op"]


class VariableRef:
    """The runtime value of a ``state.variable`` op: a handle naming a slot in the context."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"VariableRef({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is VariableRef and other.name == self.name  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(("VariableRef", self.name))


class ControlToken:
    """The runtime value of a control-typed result (``control.group``, ``control.no_op``).

    It carries no data: running the op that yields it is what orders its dependents. There is
    one instance, ``CONTROL_TOKEN``.
    """

    __slots__ = ()
    _instance: ControlToken | None = None

    def __new__(cls) -> ControlToken:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "CONTROL_TOKEN"

    def __reduce__(self) -> str:
        return "CONTROL_TOKEN"


CONTROL_TOKEN = ControlToken()


class RefContext:
    """Mutable state of reference evaluation: variable values and per-op random streams.

    ``variables`` maps a variable's name to its current value. Random ops draw from a
    generator seeded by ``(seed, seed2, run)``, ``run`` counting the op's previous draws, so
    results are reproducible for a given seed and run count.
    """

    def __init__(self, variables: dict[str, np.ndarray] | None = None, seed: int = 0) -> None:
        self.variables: dict[str, np.ndarray] = variables if variables is not None else {}
        self.seed = seed
        self._draws: dict[tuple, int] = {}
        self._streams: dict[int, int] = {}

    def rng(self, op: Operation, seed: int = 0, seed2: int = 0) -> np.random.Generator:
        """A generator for one execution of random op ``op``."""
        return np.random.default_rng(self.draw_key(op, seed, seed2))

    def draw_key(self, op: Operation, seed: int = 0, seed2: int = 0) -> tuple[int, int, int, int, int]:
        """The entropy of one execution of random op ``op``: five non-negative ints, from which
        a backend seeds its own generator (``rng`` seeds numpy's). Counts the draw.

        Equal seeds and run counts give equal keys whatever the context, as in TF; with both
        seeds 0 the key comes from the context's ``seed`` and a stream per op.
        """
        seeded = bool(seed or seed2)
        key = (seed, seed2, op.user_name if seeded else id(op))
        n = self._draws.get(key, 0)
        self._draws[key] = n + 1
        # Each unseeded op gets a stream of its own, numbered in the order of first use, drawn
        # from the context's ``seed`` (so a Session with a fresh seed differs from the last, as
        # TF's do).
        if seeded:
            return (0, seed, seed2, 0, n)
        stream = self._streams.setdefault(id(op), len(self._streams) + 1)
        return (self.seed, 0, 0, stream, n)

    def read(self, ref: VariableRef, op: Operation) -> np.ndarray:
        """The current value of variable ``ref`` for ``op``; ``FlowirError`` naming ``op`` if it is uninitialized."""
        try:
            return self.variables[ref.name]
        except KeyError:
            raise FlowirError(
                f"{op.describe_op()}: variable {ref.name!r} is read before it was initialized",
                op.context_lines(),
            ) from None


def run_op(op: Operation, args: Sequence[Any], ctx: RefContext | None = None) -> tuple[Any, ...]:
    """Apply ``op``'s reference kernel to concrete operand values."""
    rule = get_impl_rule(op)
    if Trait.STATEFUL in op.traits or Trait.RANDOM in op.traits:
        out = rule(op, *args, ctx=ctx if ctx is not None else RefContext())
    else:
        out = rule(op, *args)
    return tuple(v if isinstance(v, (np.ndarray, VariableRef, ControlToken)) else np.asarray(v) for v in out)


def evaluate(
    graph: Graph,
    feeds: Mapping[Value | str, Any] | Sequence[Any] = (),
    *,
    fetches: Sequence[Value] | None = None,
    ctx: RefContext | None = None,
) -> list[Any]:
    """Run ``graph`` op by op and return the values of ``fetches`` (default: its outputs).

    ``feeds`` gives graph inputs and placeholders, keyed by value or user name, or as a
    sequence in the order of ``graph.inputs``. Every op runs, in program order.
    """
    ctx = ctx if ctx is not None else RefContext()
    env: dict[Value, Any] = {}
    if isinstance(feeds, Mapping):
        by_name = {k: v for k, v in feeds.items() if isinstance(k, str)}
        for k, v in feeds.items():
            if isinstance(k, Value):
                env[k] = _feed(k, v)
        for arg in graph.inputs:
            if arg not in env and arg.name in by_name:
                env[arg] = _feed(arg, by_name[arg.name])
    else:
        feeds = list(feeds)
        if len(feeds) != len(graph.inputs):
            raise FlowirError(f"graph @{graph.name} has {len(graph.inputs)} inputs, got {len(feeds)} values")
        for arg, v in zip(graph.inputs, feeds):
            env[arg] = _feed(arg, v)
        by_name = {}
    for arg in graph.inputs:
        if arg not in env:
            raise FlowirError(f"graph input {arg.name!r} ({arg.type!r}) is not fed")
    for op in graph.ops:
        if Trait.INPUT in op.traits:
            r = op.results[0]
            if r in env:
                continue
            if op.user_name in by_name:
                env[r] = _feed(r, by_name[op.user_name])
                continue
            raise FlowirError(f"{op.describe_op()} is not fed", op.context_lines())
        args = [env[v] for v in op.operands]
        try:
            out = run_op(op, args, ctx)
        except FlowirError as e:
            op.annotate_error(e)
            raise
        for r, v in zip(op.results, out):
            env[r] = v
    targets = graph.outputs if fetches is None else fetches
    return [env[v] for v in targets]


def _feed(value: Value, data: Any) -> np.ndarray:
    ty = value.type
    if type(ty) is not TensorType:
        return data
    arr = np.asarray(data, dtype=ty.dtype.numpy)  # type: ignore[attr-defined]
    if not TensorType(ty.dtype, arr.shape).is_compatible_with(ty):  # type: ignore[attr-defined]
        what = value.name or (f"input {value.index}" if isinstance(value, BlockArgument) else "value")
        raise ShapeError(f"cannot feed a value of shape {arr.shape} to {what!r} of type {ty.describe()}")  # type: ignore[attr-defined]
    return arr
