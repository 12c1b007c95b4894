"""Data-parallel (SPMD) executables: one program over every device of every process.

A program compiled with ``JaxBackend.compile_data_parallel(program, batch_feeds)`` runs as one
``jax.jit`` over a 1-D mesh (axis ``"batch"``) of all devices of the default platform, in
every process of the cluster when ``jax.distributed`` is running (``distributed.py``):

- the feeds at ``batch_feeds`` are split along their first dim: each process passes the rows
  of its own devices (``jax.make_array_from_process_local_data``), and the program is typed
  with the global batch (rows per process times the process count); the global batch must
  divide evenly over the devices;
- every other feed, the state and the random keys are replicated: each process passes the
  same full value (random keys are equal when the sessions' seeds are);
- every output, fetches and new state, is replicated: XLA's SPMD partitioner inserts the
  all-reduces, so a loss that is a mean over the batch gives the gradient of the global batch
  on every device, and replicated variables stay equal everywhere.

So N processes with batch b per process compute exactly what one process computes with batch
N*b, up to the order of floating-point sums. Device placements (``tf.device``, such as
``/job:worker/task:1``) stay recorded on the ops but are not used (one warning says so); ops on strings (summaries) are not supported here, since they run on the host of one process.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from flowir.backends.base import Program
from flowir.backends.jax import distributed
from flowir.backends.jax.backend import (
    _PRECISIONS,
    JaxExecutable,
    _DeviceFunction,
    _is_control_op,
    _is_string,
    _runtime_error,
    runs_on_host,
)
from flowir.ir.core import Value
from flowir.ir.errors import FlowirError, UnsupportedOpError
from flowir.ir.reference import CONTROL_TOKEN, RefContext

__all__ = ["AXIS", "PeerUnavailableError", "ShardedExecutable", "mesh_devices"]

#: The mesh axis the batch is split over.
AXIS = "batch"


class PeerUnavailableError(FlowirError):
    """A collective failed because another task of the cluster went away."""


def mesh_devices(platform: str) -> list[jax.Device]:
    """Every device of ``platform`` in every process, in process order (the mesh's order)."""
    return sorted(jax.devices(platform), key=lambda d: (d.process_index, d.id))


class _ShardedFunction(_DeviceFunction):
    """A ``_DeviceFunction`` jitted over a mesh: inputs split or replicated, outputs replicated."""

    def __init__(self, owner: Any, mesh: Mesh, ops: Any, inputs: list[Value], outputs: list[Value], donate: Any,
                 input_shardings: list[NamedSharding]) -> None:
        self.mesh = mesh
        self.replicated = NamedSharding(mesh, PartitionSpec())
        self.input_shardings = input_shardings
        super().__init__(owner, mesh, ops, inputs, outputs, donate)

    def _jit(self) -> Any:
        extra = len(self.captured) + (1 if self.random_ops else 0)
        in_shardings = (*self.input_shardings, *([self.replicated] * extra))
        return jax.jit(self._trace, donate_argnums=self.donated, in_shardings=in_shardings, out_shardings=self.replicated)

    def _upload(self, value: np.ndarray) -> Any:
        return jax.make_array_from_process_local_data(self.replicated, np.asarray(value), value.shape)

    def _upload_keys(self, keys: np.ndarray) -> Any:
        return self._upload(keys)

    def _error_code(self, code: Any) -> int:
        return int(np.asarray(code.addressable_data(0)))


class ShardedExecutable(JaxExecutable):
    """A ``Program`` compiled data-parallel (see the module docstring).

    Called like any executable, with this process's feeds: the feeds at ``batch_feeds`` hold
    this process's rows, the others the full value. Fetches come back whole (numpy), new state
    as replicated jax arrays. Raises ``UnsupportedOpError`` for a program with ops that run on
    the host, ``FlowirError`` for a batch that does not divide over the devices, and
    ``PeerUnavailableError`` when a collective fails because another task went away.
    """

    def __init__(self, backend: Any, program: Program, batch_feeds: Sequence[int]) -> None:
        self.program = program
        self.backend = backend
        self.backend_precision = _PRECISIONS[backend.matmul_precision]
        self.compilations = 0
        self.compile_seconds = 0.0
        graph = program.graph
        self._num_feeds = program.num_feeds
        self._num_state = len(program.state_reads)
        self._num_fetches = program.num_fetches
        host = [op for op in graph.ops if runs_on_host(op)]
        if host or any(_is_string(v) for v in (*graph.inputs, *graph.outputs)):
            lines = [f"  {op.describe_op()}" + (f" at {op.location}" if op.location.is_known else "") for op in host]
            raise UnsupportedOpError(
                "a data-parallel session cannot run ops on strings (summaries): they run on one host; "
                "fetch them from a session without data parallelism",
                lines,
            )
        _notice_placements(graph.ops)
        controls = [r for op in graph.ops if _is_control_op(op) for r in op.results]
        ops = [op for op in graph.ops if not _is_control_op(op)]
        self._controls = frozenset(controls)
        inputs, outputs = graph.inputs, graph.outputs
        reads = {name: inputs[program.num_feeds + i] for i, name in enumerate(program.state_reads)}
        donate = frozenset(
            arg
            for name, out in zip(program.state_writes, outputs[program.num_fetches :])
            if (arg := reads.get(name)) is not None and arg.type == out.type and out.type.is_static  # type: ignore[attr-defined]
        )
        self.devices = mesh_devices(backend.devices.default.platform)
        self.mesh = Mesh(np.array(self.devices), (AXIS,))
        self._batch = NamedSharding(self.mesh, PartitionSpec(AXIS))
        self._replicated = NamedSharding(self.mesh, PartitionSpec())
        self._batch_feeds = frozenset(batch_feeds)
        shardings = [self._batch if i in self._batch_feeds else self._replicated for i in range(len(inputs))]
        tensors = [v for v in outputs if v not in self._controls]
        self._control_positions = tuple(i for i, v in enumerate(outputs) if v in self._controls)
        self._functions = {}
        self._single = _ShardedFunction(self, self.mesh, ops, list(inputs), tensors, donate, shardings)
        positions = {v: i for i, v in enumerate(inputs)}
        self.donated_state = [program.state_reads[positions[inputs[i]] - self._num_feeds] for i in self._single.donated]
        self.donates_state = bool(self.donated_state)
        self._state_device = self.devices[0]
        self._processes = distributed.process_count()

    def _global(self, i: int, value: Any) -> Any:
        """Argument ``i`` as a global array: this process's rows of a batch feed, else replicated."""
        if isinstance(value, jax.Array) and value.sharding == self._replicated:
            return value
        value = np.asarray(value)
        if i in self._batch_feeds:
            shape = (value.shape[0] * self._processes, *value.shape[1:])
            if shape[0] % len(self.devices):
                name = self.program.graph.inputs[i].name or f"feed {i}"
                raise FlowirError(
                    f"a data-parallel run splits the batch of {name!r} over {len(self.devices)} devices, but its "
                    f"{shape[0]} rows ({value.shape[0]} per process) do not divide evenly: feed a multiple of "
                    f"{len(self.devices) // self._processes} rows per process"
                )
            return jax.make_array_from_process_local_data(self._batch, value, shape)
        return jax.make_array_from_process_local_data(self._replicated, value, value.shape)

    def __call__(
        self, feeds: Sequence[np.ndarray], state: Sequence[Any], ctx: RefContext | None
    ) -> tuple[list[Any], list[Any]]:
        if len(feeds) != self._num_feeds or len(state) != self._num_state:
            raise ValueError(
                f"this executable takes {self._num_feeds} feeds and {self._num_state} state values, "
                f"got {len(feeds)} and {len(state)}"
            )
        n = self._num_fetches
        with jax.enable_x64(True):
            args = [self._global(i, v) for i, v in enumerate([*feeds, *state])]
            try:
                values = self._run(args, ctx)
                if self._processes > 1:
                    # A collective fails asynchronously when a peer goes away: see it in
                    # this run, not in a later one.
                    jax.block_until_ready([v for v in values if isinstance(v, jax.Array)])
                return [_local(v) for v in values[:n]], values[n:]
            except FlowirError as e:
                raise _peer_error(e) from e
            except Exception as e:
                raise _peer_error(_runtime_error(e)) from e

    def call_on_device(self, feeds: Sequence[Any], state: Sequence[Any], ctx: RefContext | None) -> tuple[list[Any], list[Any]]:
        """Like calling the executable, but fetches stay (replicated) jax arrays."""
        with jax.enable_x64(True):
            args = [self._global(i, v) for i, v in enumerate([*feeds, *state])]
            values = self._run(args, ctx)
        n = self._num_fetches
        return values[:n], values[n:]


_noticed: list[str] = []


def _notice_placements(ops: Sequence[Any]) -> None:
    """Warn once per process that device placements are recorded but not used here."""
    if _noticed:
        return
    placed = next((op for op in ops if op.device), None)
    if placed is not None:
        _noticed.append(placed.device)
        warnings.warn(
            f"data-parallel sessions run every op on every device: placements such as {placed.device!r} "
            f"(on {placed.describe_op()}) are recorded in the graph but do not place ops; this notice is shown once",
            RuntimeWarning,
            stacklevel=2,
        )


def _local(value: Any) -> Any:
    """A replicated output as a numpy array from this process's own copy."""
    if value is CONTROL_TOKEN or not isinstance(value, jax.Array):
        return value
    return np.asarray(value.addressable_data(0))


#: What a collective's failure says when its peer went away (gloo on CPUs, the coordination
#: service otherwise).
_PEER_GONE = ("Connection reset by peer", "Connection closed by peer", "Gloo", "UNAVAILABLE", "heartbeat")


def _peer_error(e: FlowirError) -> FlowirError:
    """``e`` as a ``PeerUnavailableError`` naming the dead tasks when a peer went away."""
    text = str(e)
    if distributed.process_count() == 1 or not any(s in text for s in _PEER_GONE):
        return e
    return PeerUnavailableError(f"a peer task of the cluster went away during a data-parallel run: {text}")
