"""What every backend implements: ``Program`` in, ``Executable`` out.

A frontend hands a backend a ``Program``: a pure graph (``functionalize-state`` has turned its
variables into inputs and outputs) with the roles of its inputs and outputs spelled out. The
backend checks that it can run every op, then returns an ``Executable`` that maps feeds and
state values to fetches and new state values.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from flowir.ir.core import Graph, Operation
from flowir.ir.errors import UnsupportedOpError
from flowir.ir.reference import RefContext

__all__ = ["Program", "Backend", "Executable", "unsupported_op_error"]


@dataclass(frozen=True, eq=False)
class Program:
    """A pure graph and the roles of its inputs and outputs.

    ``graph.inputs`` are ``num_feeds`` feeds, then one input per variable in ``state_reads``
    (its value before the run); ``graph.outputs`` are ``num_fetches`` fetches, then one
    output per variable in ``state_writes`` (its value after the run). ``ValueError`` if the
    counts do not add up.
    """

    graph: Graph
    num_feeds: int
    state_reads: list[str]
    num_fetches: int
    state_writes: list[str]

    def __post_init__(self) -> None:
        n_in, n_out = len(self.graph.inputs), len(self.graph.outputs)
        if self.num_feeds < 0 or self.num_feeds + len(self.state_reads) != n_in:
            raise ValueError(
                f"program: graph @{self.graph.name} has {n_in} inputs, not {self.num_feeds} feeds "
                f"+ {len(self.state_reads)} state reads"
            )
        if self.num_fetches < 0 or self.num_fetches + len(self.state_writes) != n_out:
            raise ValueError(
                f"program: graph @{self.graph.name} has {n_out} outputs, not {self.num_fetches} fetches "
                f"+ {len(self.state_writes)} state writes"
            )


class Executable(abc.ABC):
    """A compiled ``Program``, called once per run.

    ``executable(feeds, state, ctx)`` takes the feed arrays (in the program's feed order) and
    the values of the ``state_reads`` variables (numpy arrays, or arrays the backend returned
    as new state), and returns ``(fetches, new_state)``: the fetch values (numpy arrays) and
    the values of the ``state_writes`` variables (numpy arrays, or the backend's own arrays,
    which the jax backend keeps on its device). ``ctx`` carries the random
    streams (a session keeps one across runs). Inputs are never modified, and no returned
    array shares memory with them, so callers may hand out and keep both; the exception: a
    backend that ``donates_state`` may consume state arrays (the old values of variables the
    run writes), which the caller then replaces by the new state. A kernel that fails
    raises a ``FlowirError`` naming the op, its operands and where it was created; nothing
    is returned then.
    """

    program: Program
    #: The devices the program runs on, for logs (empty: the host).
    devices: Sequence[Any] = ()

    @abc.abstractmethod
    def __call__(
        self, feeds: Sequence[np.ndarray], state: Sequence[np.ndarray], ctx: RefContext
    ) -> tuple[list[Any], list[Any]]: ...


class Backend(abc.ABC):
    """A way to run programs, known by ``name`` in the backend registry."""

    name: ClassVar[str] = ""
    #: Whether executables may consume (donate) the state arrays passed to them: a caller must
    #: then not pass an array it holds to one call while another call may still consume it.
    donates_state: ClassVar[bool] = False

    @abc.abstractmethod
    def unsupported_ops(self, graph: Graph) -> list[Operation]:
        """Every op of ``graph`` this backend cannot run, in program order."""

    @abc.abstractmethod
    def compile(self, program: Program) -> Executable:
        """An executable for ``program``.

        Raises ``UnsupportedOpError`` naming every op the backend cannot run (see
        ``unsupported_op_error``) before anything runs.
        """

    def with_options(self, *, allow_soft_placement: bool = True, device_count: Mapping[str, int] | None = None) -> Backend:
        """This backend configured with a session's options (``allow_soft_placement``: run ops
        placed on a missing device elsewhere rather than fail; ``device_count``: use at most
        this many devices of a type, ``{"GPU": 0}`` for none). Backends that place nothing
        ignore them and return themselves; others return one instance per setting."""
        return self

    def unsupported_reason(self, op: Operation) -> str | None:
        """Why this backend cannot run ``op``, for the error message; ``None`` if unknown."""
        return None

    def check_supported(self, graph: Graph) -> None:
        """Raise ``UnsupportedOpError`` naming every op of ``graph`` this backend cannot run."""
        bad = self.unsupported_ops(graph)
        if bad:
            raise unsupported_op_error(self, bad)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def unsupported_op_error(backend: Backend, ops: Sequence[Operation]) -> UnsupportedOpError:
    """The error for ``ops`` that ``backend`` cannot run: one line per op with its op name,
    user name, creation site and the reason."""
    lines = []
    for op in ops:
        where = f" at {op.location}" if op.location.is_known else ""
        reason = backend.unsupported_reason(op)
        lines.append(f"  {op.describe_op()}{where}" + (f": {reason}" if reason else ""))
    return UnsupportedOpError(f"the {backend.name} backend cannot run {len(ops)} op(s) of this program", lines)
