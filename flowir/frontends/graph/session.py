"""TF 1.15's ``Session`` and ``InteractiveSession``: run the parts of a graph that fetches need.

``Session.run(fetches, feed_dict)`` looks up a compiled run by (fetches, fed tensors, feed
shapes, backend). On a miss it extracts what the fetches need, cut at the fed tensors
(``extract_subgraph``), gives the feeds their concrete types, turns variable state into
inputs and outputs (``functionalize_state``), runs ``shape-inference,constant-fold,cse,
canonicalize`` and compiles the pure program with the session's backend. A hit does no graph
work: it converts the feeds, reads the variables, calls the executable and commits the new
variable values.

Recompilation is visible: ``Session.compile_counts`` counts, per fetch signature (the fetched
and fed tensors' names), the runs this session compiled, one per new combination of feed
shapes, and each compile is logged at INFO on the ``flowir.session`` logger with the shapes.
For feeds of many batch sizes, ``Session(batch_buckets=True)`` pads the batch (the leading
``None`` dim of the fed tensors) up to the next power of two (or the next of the given bucket
sizes), runs, and slices the padding off the fetched values, so the sizes of one bucket share
one compiled run. Padding repeats the last real row, and is used only where it is provably
invisible (``_batching.batched_outputs``: every op that reads the batch treats rows
independently, and no state update depends on it); otherwise the session warns once and runs
each size exactly.

State: a session owns its variables' values (``name -> array``: numpy arrays stored
read-only, or the backend's device arrays, which the jax backend keeps on its device between
runs) and one ``RefContext`` for random streams. A run commits all its new values together
after it succeeds, so a failing run changes nothing; runs that update state hold the session
lock from reading to committing, so concurrent ``assign_add`` runs lose no update. With a
backend that donates state (``Backend.donates_state``: an update consumes the old arrays),
runs that only read state hold the lock through the call too.
"""

from __future__ import annotations

import bisect
import contextlib
import contextvars
import gc
import logging
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from flowir.frontends.graph import errors
from flowir.frontends.graph._batching import NotRowwiseError, batched_outputs
from flowir.frontends.graph.config import ConfigProto, GPUOptions, RunMetadata, RunOptions
from flowir.frontends.graph.dtypes import tf_type_string
from flowir.frontends.graph.graph import DeviceSpec, Graph, _pop, _push, get_default_graph
from flowir.frontends.graph.tensor import Operation, Tensor
from flowir.ir.core import Trait
from flowir.ir.errors import DTypeError, FlowirError, ShapeError, UnsupportedOpError
from flowir.ir.ops.core import Placeholder
from flowir.ir.ops.state import Variable as VariableOp
from flowir.ir.reference import RefContext
from flowir.ir.types import TensorType

__all__ = [
    "Session",
    "InteractiveSession",
    "get_default_session",
    "ConfigProto",
    "GPUOptions",
    "RunOptions",
    "RunMetadata",
]

logger = logging.getLogger("flowir.session")

#: The passes every compiled run goes through (pruning is implied by the extraction).
PIPELINE = "shape-inference,constant-fold,cse,canonicalize"

_DEFAULT_SESSIONS: contextvars.ContextVar[tuple[Session, ...]] = contextvars.ContextVar("flowir_default_sessions", default=())

_ndarray = np.ndarray


def get_default_session() -> Session | None:
    """The innermost session made default in this thread (``with sess.as_default():``,
    ``with Session() as sess:``, an ``InteractiveSession``), else ``None``."""
    stack = _DEFAULT_SESSIONS.get()
    return stack[-1] if stack else None


# --------------------------------------------------------------------------------------------
# Fetch structures


class _Leaf:
    """Marks where a fetched value goes in a fetch structure."""


_LEAF = _Leaf()


def _flatten_fetches(fetches: Any, leaves: list[Any]) -> Any:
    """Collect the leaves of ``fetches`` in order; return a template to rebuild the structure."""
    if fetches is None:
        raise TypeError(f"Fetch argument None has invalid type {type(None)}")
    if isinstance(fetches, (Tensor, Operation, str)) or (
        hasattr(fetches, "_as_graph_element") and not isinstance(fetches, type)
    ):
        leaves.append(fetches)
        return _LEAF
    if isinstance(fetches, dict):
        return (dict, type(fetches), [(k, _flatten_fetches(v, leaves)) for k, v in fetches.items()])
    if isinstance(fetches, tuple) and hasattr(fetches, "_fields"):
        return (tuple, type(fetches), [_flatten_fetches(v, leaves) for v in fetches])
    if isinstance(fetches, (list, tuple)):
        return (list, type(fetches), [_flatten_fetches(v, leaves) for v in fetches])
    raise TypeError(
        f"Fetch argument {fetches!r} has invalid type {type(fetches)!r}, must be a string or Tensor. "
        f"(Can not convert a {type(fetches).__name__} into a Tensor or Operation.)"
    )


def _rebuild(template: Any, values: Iterator[Any]) -> Any:
    if template is _LEAF:
        return next(values)
    kind, cls, items = template
    if kind is dict:
        out = {k: _rebuild(t, values) for k, t in items}
        return out if cls is dict else cls(out)
    built = [_rebuild(t, values) for t in items]
    if cls is list:
        return built
    if kind is tuple:
        return cls(*built)
    return cls(built)


# --------------------------------------------------------------------------------------------
# Compiled runs


class FetchSignature(NamedTuple):
    """What ``Session.compile_counts`` counts compilations by: the names of the fetched
    tensors and ops (in fetch order) and of the fed tensors (in feed order)."""

    fetches: tuple[str, ...]
    feeds: tuple[str, ...]


class _Plan:
    """What one (backend, fetches, feed keys) combination needs on every run: the resolved
    fed tensors and their numpy dtypes, and the compiled runs per feed shapes."""

    __slots__ = (
        "feeds", "np_dtypes", "targets", "slots", "string_slots", "entries", "signature", "batch_feeds", "unpaddable",
        "padded_fetches", "order", "fills", "sources",
    )

    def __init__(self) -> None:
        self.signature = FetchSignature((), ())
        #: The feeds whose leading dim is a wildcard (the batch dim, when padding batches).
        self.batch_feeds: tuple[int, ...] = ()
        #: Why padding the batch would change results (set once found), else ``None``.
        self.unpaddable: str | None = None
        #: Per padded feed shapes, the fetches whose leading dim is the batch.
        self.padded_fetches: dict[tuple[tuple[int, ...], ...], frozenset[int]] = {}
        self.feeds: list[Tensor] = []
        self.np_dtypes: list[np.dtype] = []
        #: The IR values to compute (unique), and for each fetch leaf its index in them
        #: (``None`` for an op, which gives ``None``).
        self.targets: list[Any] = []
        self.slots: list[int | None] = []
        self.string_slots: frozenset[int] = frozenset()
        self.entries: dict[tuple[tuple[int, ...], ...], _Entry] = {}
        #: Data-parallel runs with placeholders placed on a task: for each program feed, the
        #: index of its value in the feed_dict (``None``: left out here, ``fills`` has it);
        #: ``None`` when the feeds are the feed_dict's, in order.
        self.order: tuple[int | None, ...] | None = None
        self.fills: dict[int, np.ndarray] = {}
        #: Per program feed placed on a task: the process whose value every task uses, and
        #: how errors name the feed.
        self.sources: dict[int, tuple[int, str]] = {}


class _Entry:
    """A compiled run: the executable and everything the run does around it, precomputed."""

    __slots__ = ("executable", "reads", "writes", "provided", "locked")

    def __init__(
        self,
        executable: Callable[..., tuple[list[Any], list[Any]]],
        reads: list[str],
        writes: list[str],
        provided: list[Callable[[dict[str, Any]], Any]],
        locked: bool,
    ) -> None:
        self.executable = executable
        self.reads = reads
        self.writes = writes
        self.provided = provided
        #: Whether the run holds the session lock from reading state to committing it.
        self.locked = locked


def _missing_feed_message(op: Operation) -> str:
    t = op.outputs[0]
    msg = f"You must feed a value for placeholder tensor {op.name!r} with dtype {tf_type_string(t.dtype)}"
    shape = t.shape
    if shape.ndims:
        msg += " and shape [" + ",".join("?" if d is None else str(d) for d in shape.as_list()) + "]"
    return msg


#: Which ``OpError`` a flowir error raised while compiling or running becomes.
_ERROR_CLASSES: tuple[tuple[type[BaseException], type[errors.OpError]], ...] = (
    (UnsupportedOpError, errors.UnimplementedError),
    (ShapeError, errors.InvalidArgumentError),
    (DTypeError, errors.InvalidArgumentError),
    (MemoryError, errors.ResourceExhaustedError),
    (FlowirError, errors.InvalidArgumentError),
)


def _as_op_error(e: BaseException) -> errors.OpError:
    for source, target in _ERROR_CLASSES:
        if isinstance(e, source):
            return target(None, None, str(e))
    return errors.InternalError(None, None, f"{type(e).__name__}: {e}")


# --------------------------------------------------------------------------------------------
# Sessions


class Session:
    """Runs ``graph`` (default: the default graph) on a backend (default: the best installed).

    ``target``: ``""`` (in-process) or the ``target`` of a ``tf.train.Server`` this process
    started (``"grpc://host:port"``), which makes the session data-parallel across the
    server's cluster (see ``Session`` data parallelism below). ``config``: a ``ConfigProto`` (see
    ``flowir.frontends.graph.config`` for what each field does), a dict of its fields, or an
    object with its field names as attributes (TensorFlow's own ``ConfigProto``); without one,
    ``allow_soft_placement`` is True (an op placed on a missing device runs on the CPU).
    ``batch_buckets``: ``True`` pads fed batches up to the next power of two, a sequence of
    sizes pads up to the next of them (larger batches run as they are); see the module
    docstring for when padding applies. ``backend``: a name from ``flowir.backends.available()``
    (``"numpy"``, ``"jax"`` ...); default ``jax`` when installed, else ``numpy``. ``backend`` and
    ``batch_buckets`` are flowir's; TF 1.15's ``Session`` has neither. Use as a context manager
    (which also makes the session and its graph the defaults) or call ``close()``.

    >>> import flowir as tf
    >>> with tf.Graph().as_default():
    ...     x = tf.placeholder(tf.float32, [None, 2], name="x")
    ...     total = tf.reduce_sum(x, axis=1)
    ...     with tf.Session(backend="numpy") as sess:
    ...         sess.run(total, feed_dict={x: [[1.0, 2.0], [3.0, 4.0]]})
    array([3., 7.], dtype=float32)

    Data parallelism (jax backend): with a server's target, or ``ConfigProto(data_parallel=
    True)`` for the devices of this process, every run is one SPMD program over all devices
    (of all tasks): fed tensors whose leading dim is ``None`` (the batch) are split along it
    (each task feeds its own rows; the global batch must divide over the devices), other feeds
    (equal on every task) and variables are replicated, and a loss that is a mean over the
    batch averages gradients over the global batch, so N tasks with batch b train as one
    process with batch N*b. Runs are then bounded by ``RunOptions(timeout_in_ms=...)`` or the
    config's ``operation_timeout_in_ms``: past it ``errors.DeadlineExceededError`` names the
    tasks that did not answer, and the session is closed (the stalled step still holds its
    variables). A task that dies makes the others' runs raise ``errors.UnavailableError`` at
    once; JAX's runtime then ends them after the server's heartbeat timeout (a job does not
    outlive a task), so a handler has that long to save what it needs.
    Unseeded random ops draw the same numbers on every task (the session seed is fixed), so
    replicated variables start equal. Summaries (ops on strings) run on every task's host from
    its copy of the replicated values, so a summary of the loss or the weights is the same
    everywhere, but one that reads a fed batch directly sees this task's own rows (as TF1's
    chief summarised its own batch); only the chief's ``FileWriter`` writes. A placeholder
    that every task's graph places on one task k (``tf.device("/job:worker/task:k")``) is not
    split: every task uses the value task k fed (broadcast each run, after checking that every
    task feeds the same shape); the other tasks may leave it out when its shape is static. One
    that each task places on its own task (TF1's ``replica_device_setter`` pattern) is each
    task's own data, as if unplaced. With
    ``batch_buckets``, a padded batch is rounded up to divide over this process's devices.
    """

    def __init__(
        self,
        target: str = "",
        graph: Graph | None = None,
        config: Any = None,
        backend: str | None = None,
        *,
        batch_buckets: bool | Sequence[int] | None = None,
    ) -> None:
        server = None
        if target:
            from flowir.frontends.graph.distributed import server_for_target

            server = server_for_target(target)
            if config is None:
                config = server.server_def.default_session_config
        if graph is None:
            graph = get_default_graph()
        elif not isinstance(graph, Graph):
            raise TypeError(f"graph must be a tf.Graph, but got {type(graph)}")
        from flowir import backends

        self._graph = graph
        self._config = _as_config(config)
        self._server = server
        #: Whether runs are data-parallel (compiled with ``compile_data_parallel``).
        self._data_parallel = server is not None or self._config.data_parallel
        self._closed_reason = "Attempted to use a closed Session."
        chosen = backends.get(backend)
        if self._data_parallel:
            if not hasattr(chosen, "compile_data_parallel"):
                raise errors.UnimplementedError(
                    None, None, f"data-parallel sessions need the jax backend; the {chosen.name} backend runs on one device"
                )
            self._backend = chosen.with_options(  # type: ignore[call-arg]
                allow_soft_placement=self._config.allow_soft_placement,
                device_count=self._config.device_count,
                data_parallel=True,
            )
        else:
            self._backend = chosen.with_options(
                allow_soft_placement=self._config.allow_soft_placement, device_count=self._config.device_count
            )
        self._buckets = _as_buckets(batch_buckets)
        self._rows_per_device: int | None = None
        self._compile_counts: dict[FetchSignature, int] = {}
        self._state: dict[str, Any] = {}
        self._lock = threading.Lock()
        # Unseeded random ops differ from one session to the next, as in TF; the tasks of a
        # cluster must draw alike, or their replicated variables would start apart.
        self._ctx = RefContext(seed=0 if server is not None else secrets.randbits(64))
        self._closed = False
        self._context_managers: list[contextlib.AbstractContextManager[Any]] = []

    # -- properties --------------------------------------------------------------------------

    @property
    def graph(self) -> Graph:
        """The ``Graph`` this session runs."""
        return self._graph

    @property
    def graph_def(self) -> Any:
        """A snapshot of the session's graph, ``graph.as_graph_def()``.

        TF 1.15 returns a ``GraphDef`` protobuf; flowir's ``GraphDef`` lists the ops as ``node`` and
        prints as the textual IR.
        """
        return self._graph.as_graph_def()

    @property
    def sess_str(self) -> str:
        """The session's target: ``""`` in-process, else the server's ``"grpc://host:port"``."""
        return "" if self._server is None else self._server.target

    @property
    def is_chief(self) -> bool:
        """Whether this session writes checkpoints: ``True`` unless it runs on a server's
        cluster as a task other than the first (the chief)."""
        return self._server is None or self._server.is_chief

    @property
    def backend(self) -> Any:
        """The ``flowir.backends.Backend`` this session compiles runs for."""
        return self._backend

    @property
    def config(self) -> ConfigProto:
        """The session's options (a copy of the ``config`` it was made with, as a ``ConfigProto``)."""
        return self._config

    @property
    def compile_counts(self) -> dict[FetchSignature, int]:
        """How many runs this session compiled per fetch signature: one per new combination
        of feed shapes (with ``batch_buckets``, per bucket). With the jax backend each is one
        XLA compilation per device the program runs on. A copy; runs another session on the
        same graph compiled are reused, not counted again."""
        return dict(self._compile_counts)

    # -- default session ---------------------------------------------------------------------

    @contextlib.contextmanager
    def as_default(self) -> Iterator[Session]:
        """Make this the default session (for ``Tensor.eval``, ``Operation.run``) in the block."""
        _push(_DEFAULT_SESSIONS, self)
        try:
            yield self
        finally:
            _pop(_DEFAULT_SESSIONS, self)

    def __enter__(self) -> Session:
        graph_cm = self._graph.as_default()
        session_cm = self.as_default()
        graph_cm.__enter__()
        session_cm.__enter__()
        self._context_managers.extend((graph_cm, session_cm))
        return self

    def __exit__(self, *exc: Any) -> None:
        self._exit_contexts()
        self.close()

    def _exit_contexts(self) -> None:
        while self._context_managers:
            self._context_managers.pop().__exit__(None, None, None)

    def close(self) -> None:
        """Free the session's variable values; later ``run`` calls raise ``RuntimeError``."""
        with self._lock:
            self._closed = True
            self._state = {}

    # -- running -----------------------------------------------------------------------------

    def run(self, fetches: Any, feed_dict: dict[Any, Any] | None = None, options: Any = None, run_metadata: Any = None) -> Any:
        """Compute ``fetches`` (a tensor, op, variable, tensor or op name, or any nested
        list/tuple/namedtuple/dict of them) with ``feed_dict`` replacing tensors' values.

        Returns the same structure with numpy values (0-d ones as numpy scalars, strings as
        bytes) and ``None`` for ops. Only what the fetches need runs. Raises
        ``ValueError`` for a fed value whose shape does not fit (before running anything),
        ``errors.InvalidArgumentError`` for a missing feed, ``errors.FailedPreconditionError``
        for an uninitialized variable, ``RuntimeError`` once closed.
        """
        if self._closed:
            raise RuntimeError(self._closed_reason)
        if type(fetches) is Tensor:
            leaves: tuple[Any, ...] = (fetches,)
            template: Any = _LEAF
        else:
            found: list[Any] = []
            template = _flatten_fetches(fetches, found)
            leaves = tuple(found)
        if feed_dict:
            keys = tuple(feed_dict)
            values = list(feed_dict.values())
        else:
            keys = ()
            values = []
        cache = self._graph._run_cache
        plan_key = (self._backend, leaves, keys)
        plan = cache.get(plan_key)
        if plan is None:
            plan = cache[plan_key] = self._make_plan(leaves, keys)
        if plan.order is None:
            arrays = []
            for i, v in enumerate(values):
                dt = plan.np_dtypes[i]
                if type(v) is not _ndarray or (v.dtype is not dt and v.dtype != dt):
                    v = self._convert_feed(plan.feeds[i], v, dt)
                arrays.append(v)
        else:
            arrays = self._ordered_feeds(plan, values)
        timeout = self._timeout(options) if self._data_parallel else None
        padded = None
        if self._buckets is not None and plan.batch_feeds and plan.unpaddable is None:
            padded = self._run_padded(plan, arrays, timeout)
        if padded is not None:
            fetched = padded
        else:
            shapes = tuple([a.shape for a in arrays])
            entry = plan.entries.get(shapes)
            if entry is None:
                with _gc_paused():
                    entry = self._compile(plan, arrays, shapes)
                    fetched = self._execute(entry, arrays, timeout)  # the backend's own compile, if lazy
            else:
                fetched = self._execute(entry, arrays, timeout)
        string_slots = plan.string_slots
        results = []
        for k, slot in enumerate(plan.slots):
            if slot is None:
                results.append(None)
                continue
            v = fetched[slot]
            if type(v) is _ndarray:
                if k in string_slots:
                    v = _as_bytes(v)
                if not v.shape:
                    v = v[()]
                elif not v.flags.writeable:
                    # State and constants are stored read-only: hand out a copy the caller owns.
                    v = v.copy()
            results.append(v)
        if template is _LEAF:
            return results[0]
        return _rebuild(template, iter(results))

    def _run_padded(self, plan: _Plan, arrays: list[np.ndarray], timeout: float | None) -> list[Any] | None:
        """The fetched values of a run with the batch padded to its bucket and the padding
        sliced off again; ``None`` when the batch is not padded (see ``_pad``) or padding
        would change results."""
        padded = self._pad(plan, arrays)
        if padded is None:
            return None
        rows, arrays = padded
        shapes = tuple([a.shape for a in arrays])
        batched = plan.padded_fetches.get(shapes)
        if batched is None:
            batched = self._padded_fetches(plan, arrays, shapes)
            if batched is None:
                return None
        entry = plan.entries.get(shapes)
        if entry is None:
            with _gc_paused():
                entry = self._compile(plan, arrays, shapes)
                fetched = list(self._execute(entry, arrays, timeout))
        else:
            fetched = list(self._execute(entry, arrays, timeout))
        for slot in batched:
            fetched[slot] = fetched[slot][:rows]
        return fetched

    def _execute(self, entry: _Entry, feeds: list[np.ndarray], timeout: float | None = None) -> list[Any]:
        if entry.locked:
            with self._lock:
                if self._closed:
                    raise RuntimeError(self._closed_reason)
                state_dict = self._state
                if entry.provided:
                    feeds = feeds + [provide(state_dict) for provide in entry.provided]
                state = self._read_state(entry, state_dict)
                fetched, new_state = self._call(entry, feeds, state, timeout)
                if new_state:
                    for name, value in zip(entry.writes, new_state):
                        if type(value) is _ndarray:
                            value.flags.writeable = False
                        state_dict[name] = value
            return fetched
        if entry.reads:
            with self._lock:
                state = self._read_state(entry, self._state)
                if self._backend.donates_state:
                    # A concurrent update may donate (consume) these arrays once the lock is free.
                    return self._call(entry, feeds, state, timeout)[0]
        else:
            state = []
        return self._call(entry, feeds, state, timeout)[0]

    def _call(
        self, entry: _Entry, feeds: list[np.ndarray], state: list[np.ndarray], timeout: float | None = None
    ) -> tuple[list[Any], list[Any]]:
        try:
            if timeout is None:
                return entry.executable(feeds, state, self._ctx)
            return self._call_bounded(entry, feeds, state, timeout)
        except errors.OpError:
            raise
        except (FlowirError, MemoryError) as e:
            if self._data_parallel:
                from flowir.backends.jax.sharded import PeerUnavailableError

                if isinstance(e, PeerUnavailableError):
                    raise errors.UnavailableError(None, None, str(e)) from e
            raise _as_op_error(e) from e

    def _timeout(self, options: Any) -> float | None:
        """A data-parallel run's time limit in seconds: ``options.timeout_in_ms``, else the
        config's ``operation_timeout_in_ms``; ``None`` when neither is set (> 0)."""
        ms = getattr(options, "timeout_in_ms", 0) if options is not None else 0
        if not ms or ms <= 0:
            ms = self._config.operation_timeout_in_ms
        return ms / 1000.0 if ms and ms > 0 else None

    def _call_bounded(
        self, entry: _Entry, feeds: list[np.ndarray], state: list[np.ndarray], timeout: float
    ) -> tuple[list[Any], list[Any]]:
        """``entry``'s executable run in a worker thread, given ``timeout`` seconds.

        A collective waiting on a stalled task cannot be cancelled, so on expiry the worker is
        left behind (a daemon thread: it does not keep the process alive), the session is
        closed and ``errors.DeadlineExceededError`` names the tasks that have not started
        this run."""
        count = None
        if self._server is not None:
            from flowir.backends.jax import distributed

            count = distributed.record_run()
        result: list[Any] = []

        def work() -> None:
            try:
                result.append((True, entry.executable(feeds, state, self._ctx)))
            except BaseException as e:  # handed to the caller's thread
                result.append((False, e))

        start = time.perf_counter()
        worker = threading.Thread(target=work, name="flowir-session-run", daemon=True)
        worker.start()
        worker.join(timeout)
        if result:
            ok, value = result[0]
            if ok:
                return value
            raise value
        waited = time.perf_counter() - start
        who = ""
        if self._server is not None and count is not None:
            from flowir.backends.jax import distributed

            others = [p for p in range(self._server.num_processes) if p != self._server.process_id]
            late = distributed.lagging_tasks(count, others)
            names = [self._server.task_name(p) for p in late]
            who = f"; no answer from {', '.join(names)}" if names else "; every task started it"
        message = f"the data-parallel run did not finish within {timeout * 1000:.0f} ms (waited {waited:.1f} s){who}"
        self._closed = True
        self._closed_reason = f"this Session is closed: {message}"
        raise errors.DeadlineExceededError(None, None, message)

    def _read_state(self, entry: _Entry, state: dict[str, np.ndarray]) -> list[np.ndarray]:
        try:
            return [state[name] for name in entry.reads]
        except KeyError:
            name = next(n for n in entry.reads if n not in state)
            op = self._graph._op_named(name)
            raise errors.FailedPreconditionError(
                op.node_def if op is not None else None, op, f"Attempting to use uninitialized value {name}"
            ) from None

    # -- feeds -------------------------------------------------------------------------------

    def _pad(self, plan: _Plan, arrays: list[np.ndarray]) -> tuple[int, list[np.ndarray]] | None:
        """``(rows, padded arrays)``: the batch feeds padded to their bucket by repeating the
        last row; ``None`` when nothing is padded (the batch feeds' leading sizes differ, are
        0, already a bucket size, or above the largest bucket)."""
        rows = -1
        for i in plan.batch_feeds:
            shape = arrays[i].shape
            if not shape or (rows >= 0 and shape[0] != rows):
                return None
            rows = shape[0]
        if rows <= 0:
            return None
        size = _bucket(self._buckets, rows)  # type: ignore[arg-type]
        if size is not None and self._data_parallel:
            # A data-parallel batch must divide over this process's devices: round the bucket up.
            multiple = self._rows_multiple()
            size = -(-size // multiple) * multiple
        if size is None or size == rows:
            return None
        out = list(arrays)
        for i in plan.batch_feeds:
            a = arrays[i]
            out[i] = np.concatenate((a, np.repeat(a[-1:], size - rows, axis=0)))
        return rows, out

    def _rows_multiple(self) -> int:
        """What a data-parallel batch feed's rows per process must be a multiple of: the
        number of this process's devices in the mesh."""
        if self._rows_per_device is None:
            from flowir.backends.jax.sharded import local_mesh_size

            self._rows_per_device = local_mesh_size(self._backend)
        return self._rows_per_device

    def _convert_feed(self, t: Tensor, value: Any, dt: np.dtype) -> np.ndarray:
        """``value`` as an array of ``t``'s dtype, converting only where no value changes kind
        (ints to floats, wider to narrower of one kind; Python ints must fit)."""
        if isinstance(value, Tensor) or hasattr(value, "_as_graph_element"):
            raise TypeError(
                "The value of a feed cannot be a tf.Tensor object. Acceptable feed values include Python scalars, "
                f"strings, lists, numpy ndarrays, or TensorHandles. For reference, the tensor object was {value} "
                f"which was passed to the argument `feed_dict` with key {t}."
            )
        arr = value if isinstance(value, _ndarray) else np.asarray(value)
        if arr.dtype == dt:
            return arr
        if dt.kind == "O":
            if arr.dtype.kind not in "OUS":
                raise TypeError(f"Cannot feed a value of dtype {arr.dtype} for the string Tensor {t.name!r}")
            return _as_bytes(arr.astype(object))
        # Integers may change width or signedness (the values are checked below).
        integral = arr.dtype.kind in "iub" and dt.kind in "iu"
        if arr.dtype.kind in "OUS" or not (integral or np.can_cast(arr.dtype, dt, casting="same_kind")):
            raise TypeError(
                f"Cannot feed a value of dtype {arr.dtype} for Tensor {t.name!r} of dtype {t.dtype.name}: "
                "the conversion would change values; cast it first"
            )
        out = arr.astype(dt)
        if dt.kind in "iu" and arr.dtype.kind in "iub" and out.size and not np.array_equal(out, arr):
            raise TypeError(
                f"Type of feed value {value!r} is not compatible with Tensor type {t.dtype.name} of {t.name!r}: "
                "its values do not fit. Try a larger type (e.g. int64) for the feed tensor."
            )
        return out

    def _resolve_feed_key(self, key: Any) -> Tensor:
        if hasattr(key, "_as_graph_element") and not isinstance(key, (Tensor, Operation)):
            raise TypeError(
                f"Cannot interpret feed_dict key as Tensor: {key!r} is a variable; variables are not fed "
                "(feed its value tensor `v.value()` or assign to it)"
            )
        try:
            t = self._graph.as_graph_element(key, allow_tensor=True, allow_operation=False)
        except (KeyError, ValueError, TypeError) as e:
            raise TypeError(f"Cannot interpret feed_dict key as Tensor: {e.args[0] if e.args else e}") from None
        if not self._graph.is_feedable(t):
            raise ValueError(f"Tensor {t} may not be fed.")
        return t

    # -- compiling ---------------------------------------------------------------------------

    def _resolve_fetch(self, leaf: Any) -> Tensor | Operation:
        try:
            element = self._graph.as_graph_element(leaf, allow_tensor=True, allow_operation=True)
        except TypeError as e:
            raise TypeError(f"Fetch argument {leaf!r} has invalid type {type(leaf)!r}, must be a string or Tensor. ({e})") from None
        except (KeyError, ValueError) as e:
            raise ValueError(f"Fetch argument {leaf!r} cannot be interpreted as a Tensor. ({e.args[0] if e.args else e})") from None
        if not self._graph.is_fetchable(element):
            raise ValueError(f"Operation {element.name!r} has been marked as not fetchable.")
        if isinstance(element, Tensor) and element.dtype._is_ref:
            element = self._graph._variable_reads[element.op]
        return element

    def _make_plan(self, leaves: tuple[Any, ...], keys: tuple[Any, ...]) -> _Plan:
        if not self._graph._ir_by_name:
            raise RuntimeError("The Session graph is empty. Add operations to the graph before calling run().")
        plan = _Plan()
        index: dict[Any, int] = {}
        strings = set()
        names = []
        for k, leaf in enumerate(leaves):
            element = self._resolve_fetch(leaf)
            names.append(element.name)
            if isinstance(element, Operation):
                plan.slots.append(None)
                if isinstance(element._ir, VariableOp):
                    continue  # creating a variable does nothing at run time
                value = element._control_value
            else:
                value = element._value
                if element.dtype.ir.numpy.kind == "O":
                    strings.add(k)
            slot = index.get(value)
            if slot is None:
                slot = index[value] = len(plan.targets)
                plan.targets.append(value)
            if isinstance(element, Tensor):
                plan.slots.append(slot)
        plan.string_slots = frozenset(strings)
        seen: set[Tensor] = set()
        for key in keys:
            t = key if type(key) is Tensor and self._graph.is_feedable(key) and key.graph is self._graph else self._resolve_feed_key(key)
            if t in seen:
                raise ValueError(f"Tensor {t.name!r} is fed twice (by {key!r} and another key)")
            seen.add(t)
            plan.feeds.append(t)
            plan.np_dtypes.append(t.dtype.ir.numpy)
        dims = [t.shape.as_list() if t.shape.ndims else None for t in plan.feeds]
        plan.batch_feeds = tuple(i for i, d in enumerate(dims) if d and d[0] is None)
        plan.signature = FetchSignature(tuple(names), tuple(t.name for t in plan.feeds))
        if self._data_parallel:
            self._place_task_feeds(plan)
        return plan

    def _place_task_feeds(self, plan: _Plan) -> None:
        """Give the placeholders placed on a task (``/job:worker/task:1``) that ``plan`` reads
        the value that task feeds (see ``Session``): not split along the batch, broadcast from
        the task's process, fed last in name order (every task's program has the same inputs),
        and filled with zeros on the tasks that leave them out."""
        on_task = {
            op.outputs[0]
            for op in self._graph.get_operations()
            if type(op._ir) is Placeholder and op.device and DeviceSpec.from_string(op.device).task is not None
        }
        if not on_task:
            return
        fed = {t: j for j, t in enumerate(plan.feeds)}
        unfed = [t for t in self._unfed_placeholders(plan) if t in on_task]
        placed = {t: self._task_process(t.op) for t in [*(t for t in plan.feeds if t in on_task), *unfed]}
        me = self._server.process_id if self._server is not None else 0
        placed = self._agree_on_sources(placed, me)
        if not placed:
            return
        left_out = [t for t in unfed if placed[t] != me]
        for t in left_out:
            if not t.shape.is_fully_defined():
                raise errors.InvalidArgumentError(
                    t.op.node_def, t.op,
                    f"placeholder {t.op.name!r} is placed on {t.op.device!r}, so every task uses the value that task "
                    f"feeds; this task may leave it out only when its shape is static, and it is {t.shape}: feed a "
                    "value of the shape the other task feeds here too (its values are not used), or give the "
                    "placeholder a full shape",
                )
        tasks = sorted([t for t in plan.feeds if t in placed] + left_out, key=lambda t: t.name)
        for t in tasks:
            if t.dtype.ir.numpy.kind == "O":
                raise errors.UnimplementedError(
                    t.op.node_def, t.op,
                    f"placeholder {t.op.name!r} is placed on {t.op.device!r}: string values cannot be broadcast "
                    "from one task to the others; create it outside the task's tf.device block",
                )
        feeds = [t for t in plan.feeds if t not in placed] + tasks
        order = tuple(fed.get(t) for t in feeds)
        if order != tuple(range(len(plan.feeds))):
            plan.order = order
        plan.feeds = feeds
        plan.np_dtypes = [t.dtype.ir.numpy for t in feeds]
        first = len(feeds) - len(tasks)
        plan.fills = {}
        for k, t in enumerate(tasks, first):
            plan.sources[k] = (placed[t], f"placeholder {t.op.name!r} (placed on {t.op.device!r})")
            if order[k] is None:
                fill = np.zeros(t.shape.as_list(), t.dtype.ir.numpy)
                fill.flags.writeable = False
                plan.fills[k] = fill
        dims = [t.shape.as_list() if t.shape.ndims else None for t in feeds[:first]]
        plan.batch_feeds = tuple(i for i, d in enumerate(dims) if d and d[0] is None)
        plan.signature = FetchSignature(plan.signature.fetches, tuple(t.name for t in feeds))

    def _agree_on_sources(self, placed: dict[Tensor, int], me: int) -> dict[Tensor, int]:
        """The placeholders of ``placed`` that take one task's value on every task.

        Every task builds its own graph (TF1's between-graph replication), so one placement
        can mean two things, told apart by what all tasks say (one small collective per plan):
        every task naming the same task k (``with tf.device("/job:worker/task:0")`` around a
        placeholder in the shared program) selects k's value for all; every task naming itself
        (``replica_device_setter(worker_device="/job:worker/task:%d" % task_index)`` around the
        whole model, as the TF1 tutorial does) is each task's own data, fed and split along the
        batch like an unplaced placeholder. Anything else is an error naming the placeholder.
        """
        processes = self._server.num_processes if self._server is not None else 1
        if not placed or processes == 1:
            # One process (task 0): the value fed here, whole, on every device.
            return placed
        from flowir.backends.jax.sharded import gather_from_processes

        order = sorted(placed, key=lambda t: t.name)
        everyone = gather_from_processes(self._backend, np.array([placed[t] for t in order], dtype=np.int64))
        shared: dict[Tensor, int] = {}
        for k, t in enumerate(order):
            column = everyone[:, k].tolist()
            if len(set(column)) == 1:
                shared[t] = column[0]
            elif column != list(range(processes)):
                named = ", ".join(f"task {self._server.task_name(p)} names {self._server.task_name(c)}" for p, c in enumerate(column))  # type: ignore[union-attr]
                raise errors.InvalidArgumentError(
                    t.op.node_def,
                    t.op,
                    f"placeholder {t.op.name!r} is placed on different tasks by different tasks ({named}): place it on "
                    "one task in every task's graph to use that task's value everywhere, or on each task's own task "
                    "(or on none) to feed each task's own rows",
                )
        return shared

    def _task_process(self, op: Operation) -> int:
        """The process of the task a placeholder is placed on (its device names a task);
        ``errors.InvalidArgumentError`` when the task is not in the cluster."""
        spec = DeviceSpec.from_string(op.device)
        task = spec.task or 0
        server = self._server
        if server is None:
            if task == 0:
                return 0
            raise errors.InvalidArgumentError(
                op.node_def, op,
                f"placeholder {op.name!r} is placed on {op.device!r}, but this data-parallel session runs in one "
                "process, which is task 0; place it on task 0 or on no task, or run it on a tf.train.Server's target",
            )
        cluster = server.server_def.cluster
        try:
            return cluster.process_id(spec.job or server.server_def.job_name, task)
        except ValueError:
            raise errors.InvalidArgumentError(
                op.node_def, op,
                f"placeholder {op.name!r} is placed on {op.device!r}, which is no task of the cluster "
                f"{cluster.as_dict()}: placing a placeholder on a task selects the task whose fed value every task uses",
            ) from None

    def _unfed_placeholders(self, plan: _Plan) -> list[Tensor]:
        """The placeholders that ``plan``'s fetches read and its feeds do not give."""
        from flowir.ir.transforms import extract_subgraph

        graph = self._graph
        cut = [t._value for t in plan.feeds] + [t._value for t in graph._session_provided if t not in plan.feeds]
        try:
            with graph._lock:
                program_graph, _ = extract_subgraph(graph.ir_graph, plan.targets, cut)
        except (FlowirError, ValueError):
            return []  # compiling reports it
        ops = (graph._op_named(op.user_name or "") for op in program_graph.ops if type(op) is Placeholder)
        return [op.outputs[0] for op in ops if op is not None]

    def _ordered_feeds(self, plan: _Plan, values: list[Any]) -> list[np.ndarray]:
        """The feed_dict's ``values`` converted and in the program's order (``plan.order``),
        with the left-out placeholders' fills."""
        arrays = []
        for k, j in enumerate(plan.order):  # type: ignore[arg-type]
            if j is None:
                arrays.append(plan.fills[k])
                continue
            v, dt = values[j], plan.np_dtypes[k]
            if type(v) is not _ndarray or (v.dtype is not dt and v.dtype != dt):
                v = self._convert_feed(plan.feeds[k], v, dt)
            arrays.append(v)
        return arrays

    def _compile(self, plan: _Plan, arrays: list[np.ndarray], shapes: tuple[tuple[int, ...], ...]) -> _Entry:
        """Compile and cache the run of ``plan`` for feeds of ``shapes``."""
        from flowir.passes import PassManager
        from flowir.passes.functionalize import functionalize_state
        from flowir.passes.shape_inference import ShapeInferencePass

        program_graph, used, retyped = self._extract(plan, arrays)
        try:
            signature = functionalize_state(program_graph)
            passes = PassManager(PIPELINE).passes
            # PIPELINE's shape inference only where types changed: the ops of the user's graph
            # were typed from their operands when built.
            passes[0] = ShapeInferencePass(changed=retyped)
            program_graph = PassManager(passes).run(program_graph).graph
            program = _program(program_graph, len(arrays) + len(used), signature, len(plan.targets))
            if self._data_parallel:
                executable = self._backend.compile_data_parallel(program, plan.batch_feeds)  # type: ignore[attr-defined]
                if plan.sources:
                    executable.broadcast_feeds(plan.sources)
            else:
                executable = self._backend.compile(program)
        except errors.OpError:
            raise
        except (FlowirError, MemoryError) as e:
            raise _as_op_error(e) from e
        random = any(Trait.RANDOM in op.traits for op in program_graph.ops)
        entry = _Entry(
            executable,
            [name for name, _ in signature.reads],
            list(signature.writes),
            used,
            locked=bool(signature.writes) or random or bool(used),
        )
        plan.entries[shapes] = entry
        self._count_compile(plan, shapes, executable)
        return entry

    def _extract(
        self, plan: _Plan, arrays: list[np.ndarray]
    ) -> tuple[Any, list[Callable[[dict[str, Any]], Any]], set[Any]]:
        """The part of the graph ``plan`` runs, cut at the feeds (typed as ``arrays``) and the
        tensors the session provides, the providers of those the program reads, and the
        values whose types changed since their consumers were built (the fed inputs' and
        ``set_shape``'s)."""
        from flowir.ir.transforms import extract_subgraph

        for t, a in zip(plan.feeds, arrays):
            if not t.shape.is_compatible_with(a.shape):
                raise ValueError(
                    f"Cannot feed value of shape {a.shape!r} for Tensor {t.name!r}, which has shape {str(t.get_shape())!r}"
                )
        graph = self._graph
        fed = {t._value for t in plan.feeds}
        provided = [(t, fn) for t, fn in graph._session_provided.items() if t._value not in fed]
        with graph._lock:
            program_graph, mapping = extract_subgraph(
                graph.ir_graph,
                plan.targets,
                [t._value for t in plan.feeds] + [t._value for t, _ in provided],
                share_constants=True,  # the pipeline's cse would merge them
            )
            retyped = {mapping[v] for v in graph._retyped if v in mapping}
        inputs = program_graph.inputs
        processes = self._server.num_processes if self._server is not None else 1
        for k, (arg, a) in enumerate(zip(inputs, arrays)):
            shape = a.shape
            if processes > 1 and k in plan.batch_feeds:
                # Each task feeds its own rows: the program computes on all of them.
                shape = (shape[0] * processes, *shape[1:])
            ty = TensorType(arg.type.dtype, shape)  # type: ignore[attr-defined]
            if ty != arg.type:
                arg.type = ty
                retyped.add(arg)
        used = []
        for arg, (_, fn) in zip(inputs[len(arrays) :], provided):
            if arg.has_uses or arg in program_graph.outputs:
                used.append(fn)
            else:
                program_graph.remove_input(arg)
        for op in program_graph.ops:
            if isinstance(op, Placeholder):
                source = graph._op_named(op.user_name or "")
                raise errors.InvalidArgumentError(
                    source.node_def if source is not None else None, source, _missing_feed_message(source)
                )
        return program_graph, used, retyped

    def _padded_fetches(
        self, plan: _Plan, arrays: list[np.ndarray], shapes: tuple[tuple[int, ...], ...]
    ) -> frozenset[int] | None:
        """Which fetches of ``plan`` have the batch as their leading dim when run on the padded
        ``arrays``; ``None`` when padding would change results (the plan remembers why, and the
        session warns) or the program cannot be built for these shapes (the unpadded run
        reports why). Decided on the program before constant folding, whose folded shapes
        would hide where the batch goes."""
        from flowir.passes import PassManager
        from flowir.passes.functionalize import functionalize_state

        try:
            program_graph, _, _ = self._extract(plan, arrays)
            functionalize_state(program_graph)
            program_graph = PassManager("shape-inference").run(program_graph).graph
        except (errors.OpError, FlowirError, ValueError):
            return None
        inputs = program_graph.inputs
        try:
            batched = batched_outputs(
                program_graph.ops, [inputs[i] for i in plan.batch_feeds], program_graph.outputs, len(plan.targets)
            )
        except NotRowwiseError as e:
            plan.unpaddable = str(e)
            warnings.warn(
                f"Session: not padding the batch for fetches [{', '.join(plan.signature.fetches)}]: {e}; "
                "each batch size compiles separately",
                RuntimeWarning,
                stacklevel=4,
            )
            return None
        plan.padded_fetches[shapes] = batched
        return batched

    def _count_compile(self, plan: _Plan, shapes: tuple[tuple[int, ...], ...], executable: Any) -> None:
        sig = plan.signature
        count = self._compile_counts[sig] = self._compile_counts.get(sig, 0) + 1
        if not logger.isEnabledFor(logging.INFO):
            return
        feeds = ", ".join(f"{name}: {list(shape)}" for name, shape in zip(sig.feeds, shapes)) or "none"
        hint = ""
        if count > 1 and plan.batch_feeds and self._buckets is None:
            hint = "; for many batch sizes, Session(batch_buckets=True) pads batches to fewer shapes"
        logger.info(
            "Session: compiling fetches [%s] for feed shapes {%s} (compilation %d of these fetches in this session%s)",
            ", ".join(sig.fetches),
            feeds,
            count,
            hint,
        )
        if self._config.log_device_placement:
            devices = ", ".join(str(d) for d in executable.devices) or "the host"
            logger.info("Session: fetches [%s] run on %s", ", ".join(sig.fetches), devices)

    def make_callable(self, fetches: Any, feed_list: Sequence[Any] | None = None, accept_options: bool = False) -> Callable[..., Any]:
        """A function running ``fetches`` with its positional arguments fed to ``feed_list``."""
        feed_list = list(feed_list or ())

        def call(*args: Any, **kwargs: Any) -> Any:
            if len(args) != len(feed_list):
                raise TypeError(f"this callable takes {len(feed_list)} feed values, got {len(args)}")
            return self.run(fetches, dict(zip(feed_list, args)))

        return call


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a run compiles (if it was on).

    Compiling a long program allocates hundreds of thousands of IR and tracer objects, and
    the collections that triggers traverse the whole heap again and again: about half of the
    compile time of a 20000-op program. Nothing compiling makes is cyclic garbage (reference
    counting frees it), and the collector runs as usual afterwards."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _as_config(config: Any) -> ConfigProto:
    """A session's ``config`` as a ``ConfigProto`` of its own: a copy of a ``ConfigProto``;
    a dict of fields (``allow_soft_placement`` True unless given); any other object's
    attributes of the same names (TensorFlow's ``ConfigProto``); ``None``: the defaults with
    ``allow_soft_placement`` True."""
    if isinstance(config, ConfigProto):
        out = ConfigProto()
        out.CopyFrom(config)
        return out
    if config is None or isinstance(config, dict):
        fields = {"allow_soft_placement": True, **(config or {})}
        gpu = fields.get("gpu_options")
        if isinstance(gpu, dict):
            fields["gpu_options"] = GPUOptions(**gpu)
        try:
            return ConfigProto(**fields)
        except TypeError as e:
            raise ValueError(f"Session config: {e}") from None
    out = ConfigProto()
    for name in ("intra_op_parallelism_threads", "inter_op_parallelism_threads", "allow_soft_placement",
                 "log_device_placement", "operation_timeout_in_ms", "data_parallel"):
        setattr(out, name, type(getattr(out, name))(getattr(config, name, getattr(out, name))))
    out.device_count = {str(k): int(v) for k, v in dict(getattr(config, "device_count", {})).items()}
    gpu = getattr(config, "gpu_options", None)
    for name in ("per_process_gpu_memory_fraction", "allow_growth", "allocator_type", "visible_device_list"):
        if gpu is not None and hasattr(gpu, name):
            setattr(out.gpu_options, name, getattr(gpu, name))
    return out


def _as_buckets(buckets: bool | Sequence[int] | None) -> tuple[int, ...] | None:
    """``batch_buckets`` as sorted sizes; ``()`` for powers of two; ``None`` for no padding."""
    if buckets is None or buckets is False:
        return None
    if buckets is True:
        return ()
    sizes = tuple(sorted(set(buckets)))
    if not sizes or any(type(n) is not int or n < 1 for n in sizes):
        raise ValueError(f"batch_buckets must be True or a non-empty sequence of sizes >= 1, got {buckets!r}")
    return sizes


def _bucket(buckets: tuple[int, ...], rows: int) -> int | None:
    """The bucket a batch of ``rows`` is padded to: the next power of two (``buckets`` empty)
    or the smallest bucket size ``>= rows``; ``None`` above the largest."""
    if not buckets:
        return 1 << (rows - 1).bit_length()
    i = bisect.bisect_left(buckets, rows)
    return buckets[i] if i < len(buckets) else None



def _program(graph: Any, num_feeds: int, signature: Any, num_fetches: int) -> Any:
    from flowir.backends import Program

    return Program(graph, num_feeds, [name for name, _ in signature.reads], num_fetches, list(signature.writes))


def _as_bytes(a: np.ndarray) -> np.ndarray:
    """A string array with every element as ``bytes`` (what TF hands out)."""
    if a.dtype.kind != "O" or all(type(x) is bytes for x in a.reshape(-1).tolist()):
        return a
    out = np.empty(a.shape, dtype=object)
    flat = out.reshape(-1)
    for i, x in enumerate(a.reshape(-1).tolist()):
        flat[i] = x.encode("utf-8") if isinstance(x, str) else x
    return out


class InteractiveSession(Session):
    """A session that makes itself (and its graph) the default on creation, for shells and
    notebooks: ``t.eval()`` works without a ``with`` block. ``close()`` undoes it."""

    def __init__(
        self,
        target: str = "",
        graph: Graph | None = None,
        config: Any = None,
        backend: str | None = None,
        *,
        batch_buckets: bool | Sequence[int] | None = None,
    ) -> None:
        super().__init__(target, graph, config, backend, batch_buckets=batch_buckets)
        self.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        super().close()
        self._exit_contexts()


def _session_for(graph: Graph, session: Session | None, what: str, hint: str) -> Session:
    if session is None:
        session = get_default_session()
        if session is None:
            raise ValueError(
                f"Cannot {what}: No default session is registered. Use `with sess.as_default()` or pass an "
                f"explicit session to `{hint}`"
            )
        if session.graph is not graph:
            raise ValueError(
                f"Cannot use the default session to {what.split(' using')[0]}: the graph is different from the "
                f"session's graph. Pass an explicit session to `{hint}`."
            )
    elif session.graph is not graph:
        raise ValueError(
            f"Cannot use the given session to {what.split(' using')[0]}: the graph is different from the session's graph."
        )
    return session


def _run_using_default_session(element: Any, feed_dict: Any, session: Session | None, what: str, hint: str) -> Any:
    """``session.run(element, feed_dict)``, the default session when ``session`` is ``None``."""
    return _session_for(element.graph, session, what, hint).run(element, feed_dict)
