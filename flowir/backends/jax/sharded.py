"""Data-parallel (SPMD) executables: one program over every device of every process.

A program compiled with ``JaxBackend.compile_data_parallel(program, batch_feeds)`` runs as one
``jax.jit`` over a 1-D mesh (axis ``"batch"``) of all devices of the default platform, in
every process of the cluster when ``jax.distributed`` is running (``distributed.py``):

- the feeds at ``batch_feeds`` are split along their first dim: each process passes the rows
  of its own devices (``jax.make_array_from_process_local_data``), and the program is typed
  with the global batch (rows per process times the process count); the global batch must
  divide evenly over the devices;
- every other feed, the state and the random keys are replicated: each process passes the
  same full value (random keys are equal when the sessions' seeds are), except feeds given a
  source process (``broadcast_feeds``: a placeholder placed on one task), whose value that
  process broadcasts each call;
- every output, fetches and new state, is replicated: XLA's SPMD partitioner inserts the
  all-reduces, so a loss that is a mean over the batch gives the gradient of the global batch
  on every device, and replicated variables stay equal everywhere.

So N processes with batch b per process compute exactly what one process computes with batch
N*b, up to the order of floating-point sums. Device placements (``tf.device``, such as
``/job:worker/task:1``) stay recorded on the ops but do not place them (one warning says so).

Ops on strings (summaries) run on the host, as in ``JaxExecutable``: the program is then
partitioned (``backend._partition``) into device segments, each one ``jax.jit`` over the mesh
as above, and host segments, which run in every process with the reference kernels on this
process's copy of their operands: a replicated device value is read from this process's own
shard (``addressable_data(0)``), so a summary of the loss or of the weights is the same on
every task, while a host op that reads a batch feed directly sees this process's own rows
(TF1's between-graph semantics: the chief summarises its own batch). A host value that a later
device segment reads is uploaded replicated, which every process computes alike; in a
cluster, one derived from a batch feed's rows is refused (``UnsupportedOpError``), since it
differs between the processes. A program without host ops stays one jitted call.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from flowir.backends.base import Program
from flowir.backends.jax import distributed
from flowir.backends.jax.backend import (
    JaxExecutable,
    _DeviceFunction,
    _is_control_op,
    _is_string,
    _partition,
    _run_on_host,
    _runtime_error,
    _Segment,
    runs_on_host,
)
from flowir.ir.core import BlockArgument, Value
from flowir.ir.errors import FlowirError, UnsupportedOpError
from flowir.ir.reference import CONTROL_TOKEN, RefContext

__all__ = ["AXIS", "PeerUnavailableError", "ShardedExecutable", "local_mesh_size", "mesh_devices"]

#: The mesh axis the batch is split over.
AXIS = "batch"


class PeerUnavailableError(FlowirError):
    """A collective failed because another task of the cluster went away."""


def mesh_devices(platform: str) -> list[jax.Device]:
    """Every device of ``platform`` in every process, in process order (the mesh's order)."""
    return sorted(jax.devices(platform), key=lambda d: (d.process_index, d.id))


def local_mesh_size(backend: Any) -> int:
    """How many devices of this process the mesh of ``backend``'s data-parallel programs
    holds: a batch feed's rows per process must be a multiple of it."""
    me = distributed.process_index()
    return sum(d.process_index == me for d in mesh_devices(backend.devices.default.platform))


def gather_from_processes(backend: Any, row: np.ndarray) -> np.ndarray:
    """Every process's ``row`` (the same shape and dtype on each), stacked in process order,
    on every process: one collective over the mesh of ``backend``'s default platform. Every
    process of the cluster must call it at the same point of its program."""
    devices = mesh_devices(backend.devices.default.platform)
    mesh = Mesh(np.array(devices), (AXIS,))
    me = distributed.process_index()
    local = sum(d.process_index == me for d in devices)
    rows = np.broadcast_to(row, (local, *row.shape))
    with jax.enable_x64(True):
        stacked = jax.make_array_from_process_local_data(NamedSharding(mesh, PartitionSpec(AXIS)), rows, (len(devices), *row.shape))
        everyone = _local(jax.jit(jax.numpy.copy, out_shardings=NamedSharding(mesh, PartitionSpec()))(stacked))
    first = {d.process_index: i for i, d in reversed(list(enumerate(devices)))}
    return everyone[[first[p] for p in sorted(first)]]


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


class _MeshPlaces:
    """``_partition``'s device resolver for a data-parallel program: every op that does not run
    on the host runs on the mesh, wherever its ``device`` says."""

    def __init__(self, mesh: Mesh) -> None:
        self.mesh = mesh

    def resolve(self, device: str | None, what: str) -> Mesh:
        return self.mesh


class ShardedExecutable(JaxExecutable):
    """A ``Program`` compiled data-parallel (see the module docstring).

    Called like any executable, with this process's feeds: the feeds at ``batch_feeds`` hold
    this process's rows, the others the full value. Fetches come back whole (numpy; a host
    op's result as this process computed it), new state as replicated jax arrays. Raises
    ``FlowirError`` for a batch that does not divide over the devices,
    ``PeerUnavailableError`` when a collective fails because another task went away, and
    ``UnsupportedOpError`` (when compiling) for a host value computed from a batch feed's
    rows that a device op reads in a cluster of several processes.
    """

    def __init__(self, backend: Any, program: Program, batch_feeds: Sequence[int]) -> None:
        donate = self._setup(backend, program)
        graph = program.graph
        _notice_placements(graph.ops)
        inputs, outputs = graph.inputs, graph.outputs
        self.devices = mesh_devices(backend.devices.default.platform)
        self.mesh = Mesh(np.array(self.devices), (AXIS,))
        self._batch = NamedSharding(self.mesh, PartitionSpec(AXIS))
        self._replicated = NamedSharding(self.mesh, PartitionSpec())
        self._batch_feeds = frozenset(batch_feeds)
        self._processes = distributed.process_count()
        self._positions = {v: i for i, v in enumerate(inputs)}
        self._copy_replicated = jax.jit(jax.numpy.copy, out_shardings=self._replicated)
        self._take_row = jax.jit(_take_row, static_argnums=1, out_shardings=self._replicated)
        #: Per feed position fed by one task, that task's process and how to name the feed.
        self._sources: dict[int, tuple[int, str]] = {}
        local = [d for d in self.devices if d.process_index == distributed.process_index()]
        self._local_devices = len(local)
        #: The mesh row of each process's first device.
        self._first_row = {d.process_index: i for i, d in reversed(list(enumerate(self.devices)))}
        self._functions = {}
        self._single = None
        host = any(runs_on_host(op) for op in graph.ops) or any(_is_string(v) for v in (*inputs, *outputs))
        if host:
            self._segments, controls = _partition(graph, _MeshPlaces(self.mesh))  # type: ignore[arg-type]
            self._controls = frozenset(controls)
            self._compile_segments(donate)
            fns = list(self._functions.values())
        else:
            controls = [r for op in graph.ops if _is_control_op(op) for r in op.results]
            self._controls = frozenset(controls)
            ops = [op for op in graph.ops if not _is_control_op(op)]
            shardings = [self._sharding(v) for v in inputs]
            tensors = [v for v in outputs if v not in self._controls]
            self._single = _ShardedFunction(self, self.mesh, ops, list(inputs), tensors, donate, shardings)
            fns = [self._single]
        self._control_positions = tuple(i for i, v in enumerate(outputs) if v in self._controls)
        self.donated_state = [
            program.state_reads[self._positions[fn.inputs[i]] - self._num_feeds] for fn in fns for i in fn.donated
        ]
        self.donates_state = bool(self.donated_state)
        self._state_device = self.devices[0]

    def broadcast_feeds(self, sources: dict[int, tuple[int, str]]) -> None:
        """Feed ``position`` takes the value that process ``sources[position][0]`` feeds, on
        every process (a placeholder placed on one task); the string names the feed in errors.

        Each call then first checks that every process names the same source and feeds the same
        shape and dtype (a ``FlowirError`` on every process otherwise), then broadcasts the
        source's value: two small collectives per call. Those feeds must not be batch feeds.
        With one process the fed value is used as it is."""
        self._sources = dict(sources)

    def _broadcast(self, feeds: Sequence[Any]) -> list[Any]:
        """``feeds`` with those of ``_sources`` replaced by their source's value (replicated)."""
        feeds = list(feeds)
        me = distributed.process_index()
        positions = sorted(self._sources)
        mine = np.array([[self._sources[i][0], _shape_code(feeds[i])] for i in positions], dtype=np.int64)
        everyone = self._gather(mine)
        for k, i in enumerate(positions):
            rows = everyone[:, k]
            if (rows == rows[0]).all():
                continue
            source, what = self._sources[i]
            if len(set(rows[:, 0].tolist())) > 1:
                named = ", ".join(f"{p}: {int(r[0])}" for p, r in enumerate(rows))
                detail = (
                    f"the tasks name different source tasks (process: source {named}): every task must build the "
                    "same graph; for each task's own rows, split along the batch, create the placeholder outside "
                    "the task's tf.device block"
                )
            else:
                value = np.asarray(feeds[i])
                detail = (
                    f"the tasks feed values of different shapes or dtypes (this task: {value.dtype}{list(value.shape)}): "
                    "every task feeds the shape the source task feeds, or leaves out a placeholder of static shape"
                )
            raise FlowirError(f"{what} takes the value that process {source} feeds, but {detail}")
        for i in positions:
            source = self._sources[i][0]
            value = np.asarray(feeds[i])
            if me != source:
                value = np.zeros_like(value)
            rows = np.broadcast_to(value, (self._local_devices, *value.shape))
            stacked = jax.make_array_from_process_local_data(self._batch, rows, (len(self.devices), *value.shape))
            feeds[i] = self._take_row(stacked, self._first_row[source])
        return feeds

    def _gather(self, row: np.ndarray) -> np.ndarray:
        """Every process's ``row`` (equal shapes), stacked in process order, on every process."""
        rows = np.broadcast_to(row, (self._local_devices, *row.shape))
        stacked = jax.make_array_from_process_local_data(self._batch, rows, (len(self.devices), *row.shape))
        everyone = _local(self._copy_replicated(stacked))
        return everyone[[self._first_row[p] for p in sorted(self._first_row)]]

    def _sharding(self, v: Value) -> NamedSharding:
        """How a device function receives ``v``: split along the batch for a batch feed, else
        replicated (state, other feeds, and every value computed by an earlier segment)."""
        return self._batch if self._positions.get(v) in self._batch_feeds else self._replicated

    def _compile_segments(self, donate: frozenset[Value]) -> None:
        """One ``_ShardedFunction`` per device segment; checks that no device segment reads a
        host value that differs between processes."""
        segments: list[_Segment] = self._segments
        outputs = self.program.graph.outputs
        on_device = [k for k, seg in enumerate(segments) if seg.place is not None]
        # Host values computed from a batch feed's rows: this process's own, not the cluster's.
        local = {v for v in self._positions if self._positions[v] in self._batch_feeds}
        for k, seg in enumerate(segments):
            if seg.place is None:
                for op in seg.ops:
                    if any(v in local for v in op.operands):
                        local.update(op.results)
                continue
            per_process = [v for v in seg.inputs if v in local and not isinstance(v, BlockArgument)]
            if per_process and self._processes > 1:
                op = per_process[0].owner  # type: ignore[attr-defined]
                raise UnsupportedOpError(
                    f"a data-parallel run across {self._processes} processes computes {op.describe_op()} on the host "
                    "from this process's rows of a batch feed, so its value differs between the processes, and "
                    "device ops read it; compute it from replicated values, or outside the data-parallel session",
                    [f"  {op.describe_op()}" + (f" at {op.location}" if op.location.is_known else "")],
                )
            # The only device segment (a training step, with summaries on the host) may donate
            # the state it updates, as the single function does, unless another segment reads
            # it or it is passed through to an output.
            seg_donate: frozenset[Value] = frozenset()
            if len(on_device) == 1:
                elsewhere = {v for j, other in enumerate(segments) if j != k for v in other.inputs}
                elsewhere.update(outputs)
                seg_donate = frozenset(v for v in seg.inputs if v in donate and v not in elsewhere)
            shardings = [self._sharding(v) for v in seg.inputs]
            self._functions[k] = _ShardedFunction(self, self.mesh, seg.ops, seg.inputs, seg.outputs, seg_donate, shardings)

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
            try:
                if self._sources and self._processes > 1:
                    feeds = self._broadcast(feeds)
                values = self._run_all([*feeds, *state], ctx)
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
        """Like calling the executable, but fetches computed on the devices stay (replicated)
        jax arrays."""
        with jax.enable_x64(True):
            if self._sources and self._processes > 1:
                feeds = self._broadcast(feeds)
            values = self._run_all([*feeds, *state], ctx)
        n = self._num_fetches
        return values[:n], values[n:]

    def _run_all(self, args: list[Any], ctx: RefContext | None) -> list[Any]:
        if self._single is not None:
            return self._run([self._global(i, v) for i, v in enumerate(args)], ctx)
        return self._run_segments(args, ctx)

    def _run_segments(self, args: list[Any], ctx: RefContext | None) -> list[Any]:
        """Run the segments in order: device segments on global arrays, host segments on this
        process's copies. ``args`` are the feeds (this process's) and the state."""
        graph = self.program.graph
        env: dict[Value, Any] = dict(zip(graph.inputs, args))
        on_mesh: dict[Value, Any] = {}

        def global_value(v: Value) -> Any:
            found = on_mesh.get(v)
            if found is None:
                value = env[v]
                i = self._positions.get(v)
                if i is not None:
                    found = self._global(i, value)
                elif isinstance(value, jax.Array):
                    found = value
                else:
                    # Computed on the host from replicated values: equal in every process.
                    found = jax.make_array_from_process_local_data(self._replicated, value, value.shape)
                on_mesh[v] = found
            return found

        for v in self._controls:
            env[v] = CONTROL_TOKEN
        for k, seg in enumerate(self._segments):
            fn = self._functions.get(k)
            if fn is None:
                local = {v: _local(env[v]) for v in seg.inputs}
                _run_on_host(seg, local, ctx)
                env.update((v, local[v]) for v in seg.outputs)
                continue
            outs = fn([global_value(v) for v in seg.inputs], ctx)
            env.update(zip(seg.outputs, outs))
        n = self._num_fetches
        out = []
        for i, v in enumerate(graph.outputs):
            value = env[v]
            if isinstance(v, BlockArgument) and not _is_string(v):
                # Passed through: a copy of its own (the input may be donated later), replicated
                # like every output (a batch feed is gathered).
                value = self._copy_replicated(global_value(v))
            elif isinstance(value, np.ndarray):
                if i >= n and value.dtype.kind != "O":
                    value = global_value(v)
                elif any(isinstance(a, np.ndarray) and np.may_share_memory(value, a) for a in args):
                    # Host kernels may return views of their operands: hand out no feed's memory.
                    value = value.copy()
            out.append(value)
        return out


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
            f"(on {placed.describe_op()}) are recorded in the graph but do not place ops (a placeholder placed "
            "on a task takes the value that task feeds); this notice is shown once",
            RuntimeWarning,
            stacklevel=2,
        )


def _shape_code(value: Any) -> int:
    """A checksum of a fed value's shape and dtype, to compare across processes."""
    value = np.asarray(value)
    return zlib.crc32(f"{value.shape}{value.dtype}".encode())


def _take_row(stacked: Any, row: int) -> Any:
    return stacked[row]


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
