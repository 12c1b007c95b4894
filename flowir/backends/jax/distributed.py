"""JAX's multi-process runtime for flowir's distributed sessions (``tf.train.Server``).

``start`` connects this process to the others of a cluster through ``jax.distributed``: task
0 runs the coordination service, bound to its own address from the cluster spec (never to
every interface, jax's default), and every task connects to it within the initialization
timeout. Cross-process collectives on the CPU use gloo. A peer that dies makes the collective
waiting on it fail at once (gloo sees its connection close); the service declares a task that
stops sending heartbeats for ``heartbeat_timeout`` seconds dead, and jax then ends the other
processes (a fatal log): a job does not outlive a task, as in TF1.

Run bookkeeping for timeouts: a session that bounds its runs records, before each run, how
many runs it has started (``record_run``) in the service's key-value store; when a run misses
its deadline, ``lagging_tasks`` names the tasks that have not started as many.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import jax

from flowir.ir.errors import FlowirError

__all__ = [
    "RuntimeStartError",
    "start",
    "is_started",
    "process_index",
    "process_count",
    "record_run",
    "lagging_tasks",
    "barrier",
]

_lock = threading.Lock()
_started: dict[str, object] = {}


class RuntimeStartError(FlowirError):
    """The distributed runtime did not start: a peer never connected, or the address is taken.

    ``timed_out`` tells the two apart (the peers did not all connect within the timeout)."""

    def __init__(self, message: str, *, timed_out: bool) -> None:
        super().__init__(message)
        self.timed_out = timed_out


def start(
    coordinator_address: str,
    num_processes: int,
    process_id: int,
    *,
    bind_address: str,
    initialization_timeout: int,
    heartbeat_timeout: int,
) -> None:
    """Connect this process to a cluster of ``num_processes`` as ``process_id``.

    Task 0 serves the coordination service on ``bind_address`` (``host:port``);
    ``initialization_timeout`` bounds the wait for every task to connect and
    ``heartbeat_timeout`` (seconds) how long a silent task counts as alive. Must run before
    jax computes anything in this process. Raises ``RuntimeStartError`` when the peers do not
    all connect in time or the runtime cannot start; ``ValueError`` when this process already
    joined a different cluster.
    """
    key = (coordinator_address, num_processes, process_id)
    with _lock:
        if _started:
            if _started["key"] != key:
                raise ValueError(
                    f"this process already joined the cluster at {_started['key'][0]} as task "  # type: ignore[index]
                    f"{_started['key'][2]}; a process serves one task"  # type: ignore[index]
                )
            return
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        try:
            jax.distributed.initialize(
                coordinator_address=coordinator_address,
                num_processes=num_processes,
                process_id=process_id,
                cluster_detection_method="deactivate",
                initialization_timeout=initialization_timeout,
                heartbeat_timeout_seconds=heartbeat_timeout,
                shutdown_timeout_seconds=max(heartbeat_timeout, 1),
                coordinator_bind_address=bind_address,
            )
        except Exception as e:
            text = str(e)
            timed_out = "DEADLINE_EXCEEDED" in text or "timed out" in text.lower()
            jax.distributed.shutdown()
            first = text.strip().splitlines()[0] if text.strip() else ""
            raise RuntimeStartError(
                f"task {process_id} of {num_processes} could not join the cluster at {coordinator_address}"
                + (f" within {initialization_timeout} s (did every task start?)" if timed_out else "")
                + f": {type(e).__name__}: {first}",
                timed_out=timed_out,
            ) from e
        _started["key"] = key


def is_started() -> bool:
    """Whether ``start`` connected this process to a cluster."""
    return bool(_started)


def process_index() -> int:
    """This process's task position in the cluster (0 without one)."""
    return jax.process_index()


def process_count() -> int:
    """The number of processes in the cluster (1 without one)."""
    return jax.process_count()


def _client():  # type: ignore[no-untyped-def]
    from jax._src import distributed

    return distributed.global_state.client


_runs = [0]


def record_run() -> int:
    """Count one more bounded run started by this task, publish the count, and return it."""
    with _lock:
        _runs[0] += 1
        count = _runs[0]
    client = _client()
    if client is not None:
        client.key_value_set(f"flowir/runs/{jax.process_index()}", str(count), allow_overwrite=True)
    return count


def lagging_tasks(count: int, tasks: Sequence[int]) -> list[int]:
    """Those of ``tasks`` that have not started ``count`` bounded runs (or cannot be asked)."""
    client = _client()
    if client is None:
        return []
    behind = []
    for task in tasks:
        try:
            seen = int(client.key_value_try_get(f"flowir/runs/{task}"))
        except Exception:  # not published yet, or the service is gone
            seen = -1
        if seen < count:
            behind.append(task)
    return behind


def barrier(name: str, timeout: float) -> None:
    """Wait until every task has reached the barrier ``name`` (at most ``timeout`` seconds)."""
    client = _client()
    if client is not None:
        client.wait_at_barrier(name, int(timeout * 1000))
