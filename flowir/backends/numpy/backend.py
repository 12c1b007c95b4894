"""The numpy backend: a program compiled to a flat schedule of reference-kernel calls.

Compilation does all graph work once: each value gets a slot in a list, each op becomes a
step ``(kernel, op, operand slots, result slots, slots to release)``, and each intermediate is
released right after its last use, so peak memory follows the widest point of the program,
not its length. A call then only moves arrays between slots and calls kernels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from flowir.backends.base import Backend, Executable, Program
from flowir.ir.core import Graph, Operation, Trait, Value
from flowir.ir.errors import FlowirError
from flowir.ir.reference import IMPL_RULES, UNSUPPORTED, ControlToken, RefContext, VariableRef

__all__ = ["NumpyBackend", "NumpyExecutable"]

_ndarray = np.ndarray
#: Kernels of ops with these traits take the run's ``RefContext`` as ``ctx=``.
_CTX_TRAITS = frozenset({Trait.RANDOM, Trait.STATEFUL})


class NumpyBackend(Backend):
    """Runs programs with the numpy reference kernels of ``flowir.ir.reference``.

    It runs every op that has a reference kernel, except stateful ones: a program reaches a
    backend functionalized (``functionalize-state``), its state passed in and out as arrays.
    """

    name = "numpy"

    def unsupported_reason(self, op: Operation) -> str | None:
        cls = type(op)
        if Trait.STATEFUL in cls.traits:
            return "a stateful op; backends run programs after the functionalize-state pass"
        if Trait.INPUT in cls.traits:
            return "an input that is not fed"
        if cls not in IMPL_RULES:
            return UNSUPPORTED.get(cls, "no reference kernel")
        return None

    def unsupported_ops(self, graph: Graph) -> list[Operation]:
        verdicts: dict[type[Operation], bool] = {}
        bad = []
        for op in graph.ops:
            cls = type(op)
            ok = verdicts.get(cls)
            if ok is None:
                ok = verdicts[cls] = self.unsupported_reason(op) is None
            if not ok:
                bad.append(op)
        return bad

    def compile(self, program: Program) -> NumpyExecutable:
        self.check_supported(program.graph)
        return NumpyExecutable(program)


#: One op of the schedule: kernel, op, operand slots, result slots, slots released after it,
#: whether the kernel takes ``ctx=``.
_Step = tuple[Any, Operation, tuple[int, ...], tuple[int, ...], tuple[int, ...], bool]


class NumpyExecutable(Executable):
    """A ``Program`` compiled for the numpy backend (see ``Executable`` for the call).

    ``ctx`` may be ``None`` for a program without random ops. ``num_slots`` is the number of
    values the schedule tracks and ``max_live`` the most of them alive at once (inputs included).
    """

    def __init__(self, program: Program) -> None:
        self.program = program
        graph = program.graph
        self._num_feeds = program.num_feeds
        self._num_state = len(program.state_reads)
        self._num_fetches = program.num_fetches
        slots: dict[Value, int] = {arg: i for i, arg in enumerate(graph.inputs)}
        ops = list(graph.ops)
        last_use: dict[int, int] = {}
        for step, op in enumerate(ops):
            for v in op.operands:
                last_use[slots[v]] = step
            for r in op.results:
                slots[r] = len(slots)
        self._out_slots = tuple(slots[v] for v in graph.outputs)
        kept = set(self._out_slots)
        release: list[list[int]] = [[] for _ in ops]
        for slot, step in last_use.items():
            if slot not in kept:
                release[step].append(slot)
        for step, op in enumerate(ops):
            for r in op.results:
                s = slots[r]
                if s not in last_use and s not in kept:
                    release[step].append(s)
        self._steps: tuple[_Step, ...] = tuple(
            (
                IMPL_RULES[type(op)],
                op,
                tuple(slots[v] for v in op.operands),
                tuple(slots[r] for r in op.results),
                tuple(sorted(release[step])),
                not _CTX_TRAITS.isdisjoint(op.traits),
            )
            for step, op in enumerate(ops)
        )
        self._needs_ctx = any(s[5] for s in self._steps)
        n_inputs = len(graph.inputs)
        self.num_slots = len(slots)
        self._blank = (None,) * (self.num_slots - n_inputs)
        self.max_live = _max_live(self._steps, n_inputs)
        self._guarded = _alias_sources(graph, ops, slots, self._out_slots)

    def __call__(
        self, feeds: Sequence[np.ndarray], state: Sequence[np.ndarray], ctx: RefContext | None
    ) -> tuple[list[Any], list[Any]]:
        if len(feeds) != self._num_feeds or len(state) != self._num_state:
            raise ValueError(
                f"this executable takes {self._num_feeds} feeds and {self._num_state} state values, "
                f"got {len(feeds)} and {len(state)}"
            )
        if ctx is None and self._needs_ctx:
            ctx = RefContext()
        env: list[Any] = [*feeds, *state, *self._blank]
        try:
            for kernel, op, args, outs, frees, takes_ctx in self._steps:
                if takes_ctx:
                    results = kernel(op, *[env[i] for i in args], ctx=ctx)
                else:
                    results = kernel(op, *[env[i] for i in args])
                for i, v in zip(outs, results):
                    env[i] = v if type(v) is _ndarray else _as_value(v)
                for i in frees:
                    env[i] = None
        except Exception as e:
            if isinstance(e, FlowirError):
                _annotate(e, op, [env[i] for i in args])
                raise
            raise _annotate(FlowirError(f"{type(e).__name__}: {e}"), op, [env[i] for i in args]) from e
        values = [env[i] for i in self._out_slots]
        if self._guarded:
            _unalias(values, (*feeds, *state), self._guarded)
        n = self._num_fetches
        return values[:n], values[n:]


def _as_value(v: Any) -> Any:
    """A kernel result as the interpreter keeps it: numpy scalars become 0-d arrays."""
    return v if isinstance(v, (_ndarray, VariableRef, ControlToken)) else np.asarray(v)


def _annotate(e: FlowirError, op: Operation, args: list[Any]) -> FlowirError:
    """Name ``op``, its operands and creation site in ``e``, and the values it was given."""
    op.annotate_error(e)
    shown = [f"{a.dtype}{list(a.shape)}" if isinstance(a, _ndarray) else repr(a) for a in args]
    if shown and not any(line.startswith("  run-time operands:") for line in e.context):
        e.add_context(f"  run-time operands: {', '.join(shown)}")
    return e


def _max_live(steps: Sequence[_Step], n_inputs: int) -> int:
    """The most slots holding a value at once during a call (inputs included)."""
    live = peak = n_inputs
    for *_, outs, frees, _ in steps:
        live += len(outs)
        peak = max(peak, live)
        live -= len(frees)
    return peak


def _alias_sources(
    graph: Graph, ops: list[Operation], slots: dict[Value, int], out_slots: tuple[int, ...]
) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """For each output that data flow connects to graph inputs: its position and those
    inputs. Kernels may return views of their operands, so only these outputs can share
    memory with the arrays passed in."""
    masks: dict[Value, int] = {arg: 1 << i for i, arg in enumerate(graph.inputs)}
    for op in ops:
        m = 0
        for v in op.operands:
            m |= masks.get(v, 0)
        if m:
            for r in op.results:
                masks[r] = m
    guarded = []
    for pos, v in enumerate(graph.outputs):
        m = masks.get(v, 0)
        if m:
            guarded.append((pos, tuple(i for i in range(m.bit_length()) if m >> i & 1)))
    return tuple(guarded)


def _unalias(values: list[Any], inputs: tuple[Any, ...], guarded: tuple[tuple[int, tuple[int, ...]], ...]) -> None:
    """Replace each output that shares memory with an input array by a copy."""
    for pos, sources in guarded:
        v = values[pos]
        if type(v) is not _ndarray:
            continue
        # An array without a base owns its memory: it is an input itself or shares nothing.
        owns = v.base is None
        for s in sources:
            if v is inputs[s] if owns else np.may_share_memory(v, inputs[s]):
                values[pos] = v.copy()
                break
