"""TF 1.15's ``tf.train.ClusterSpec`` and ``tf.train.Server``, on JAX's multi-process runtime.

A cluster is a set of jobs, each a list of tasks (``host:port`` addresses). Every task runs
the same program (TF1's between-graph replication) and is one process of the JAX runtime:
the tasks, flattened in job order (a job named ``"chief"`` first, then the others by name)
and task index within a job, give the process count, and a task's position is its process
id. The first task is the coordinator: it serves JAX's coordination service on its own
address from the spec (the service binds that host and port, never every interface), and
every task connects to it. The other tasks' ports are their identities (``server.target``);
collectives (gloo on CPUs, NCCL on GPUs) open their own connections.

``Server(cluster, job_name, task_index)`` starts the runtime (``start=True``), waiting at most
``initialization_timeout`` seconds for every task to connect (first on a plain TCP
rendezvous at the coordinator's address, so a missing task is a ``DeadlineExceededError``
naming it rather than JAX's fatal exit). A peer that sends no heartbeat for
``heartbeat_timeout`` seconds counts as dead, and JAX then ends the other processes: a job
does not outlive a task. ``Session(server.target)`` runs data-parallel across the cluster
(see ``session.py``). A process serves one task, once, before jax computes anything.

>>> cluster = ClusterSpec({"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]})
>>> cluster.num_tasks("worker"), cluster.task_address("worker", 1)
(2, '127.0.0.1:2223')
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flowir.frontends.graph import errors
from flowir.frontends.graph.config import ConfigProto

__all__ = ["ClusterSpec", "Server", "ServerDef", "server_for_target", "is_chief_process"]

#: The job whose tasks come first in the process order, as TF's chief does.
CHIEF_JOB = "chief"

_ADDRESS = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+):(\d{1,5})$")


def _split(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host.strip("[]"), int(port)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _check_address(job: str, index: int, address: Any) -> str:
    if not isinstance(address, str) or _ADDRESS.match(address) is None or not 0 < int(address.rsplit(":", 1)[1]) < 65536:
        raise ValueError(f"task {index} of job {job!r} has address {address!r}; expected 'host:port'")
    return address


class ClusterSpec:
    """The jobs of a cluster and their tasks' addresses (TF's ``tf.train.ClusterSpec``).

    ``cluster``: a dict mapping job names to a list of addresses (task ``i`` at position
    ``i``) or to a dict ``{task_index: address}`` (sparse), or another ``ClusterSpec``.
    Raises ``TypeError`` for anything else and ``ValueError`` for a bad job name, task index
    or address (``host:port``). Two specs are equal when they hold the same tasks; a spec also
    equals a dict it could be built from.

    >>> ClusterSpec({"ps": {1: "h:1"}, "worker": ["h:2"]}).as_dict()
    {'ps': {1: 'h:1'}, 'worker': ['h:2']}
    """

    def __init__(self, cluster: Mapping[str, Sequence[str] | Mapping[int, str]] | ClusterSpec) -> None:
        if isinstance(cluster, ClusterSpec):
            self._jobs: dict[str, dict[int, str]] = {job: dict(tasks) for job, tasks in cluster._jobs.items()}
            return
        if not isinstance(cluster, Mapping):
            raise TypeError(f"ClusterSpec takes a dict of job names to task lists or dicts, got {type(cluster).__name__}")
        self._jobs = {}
        for job, tasks in cluster.items():
            if not isinstance(job, str) or not re.fullmatch(r"[A-Za-z0-9_]+", job):
                raise ValueError(f"job names are non-empty words of letters, digits and '_', got {job!r}")
            if isinstance(tasks, Mapping):
                items = list(tasks.items())
            elif isinstance(tasks, (list, tuple)):
                items = list(enumerate(tasks))
            else:
                raise TypeError(f"the tasks of job {job!r} must be a list or a dict of addresses, got {type(tasks).__name__}")
            by_index: dict[int, str] = {}
            for index, address in items:
                if type(index) is not int or index < 0:
                    raise ValueError(f"task indices of job {job!r} are ints >= 0, got {index!r}")
                by_index[index] = _check_address(job, index, address)
            self._jobs[job] = dict(sorted(by_index.items()))

    # -- TF's accessors ----------------------------------------------------------------------

    @property
    def jobs(self) -> list[str]:
        """The job names, sorted."""
        return sorted(self._jobs)

    def _job(self, job_name: str) -> dict[int, str]:
        try:
            return self._jobs[job_name]
        except KeyError:
            raise ValueError(f"No such job in cluster: {job_name!r}") from None

    def num_tasks(self, job_name: str) -> int:
        """How many tasks job ``job_name`` has; ``ValueError`` for an unknown job."""
        return len(self._job(job_name))

    def task_indices(self, job_name: str) -> list[int]:
        """The task indices of job ``job_name``, sorted."""
        return list(self._job(job_name))

    def task_address(self, job_name: str, task_index: int) -> str:
        """The address of task ``task_index`` of ``job_name``; ``ValueError`` if there is none."""
        tasks = self._job(job_name)
        try:
            return tasks[task_index]
        except KeyError:
            raise ValueError(f"No task with index {task_index!r} in job {job_name!r}") from None

    def job_tasks(self, job_name: str) -> list[str | None]:
        """The addresses of ``job_name`` by task index, ``None`` where an index has no task."""
        tasks = self._job(job_name)
        if not tasks:
            return []
        return [tasks.get(i) for i in range(max(tasks) + 1)]

    def as_dict(self) -> dict[str, list[str] | dict[int, str]]:
        """Each job's tasks: a list when the indices are ``0..n-1``, else a dict."""
        out: dict[str, list[str] | dict[int, str]] = {}
        for job in self.jobs:
            tasks = self._jobs[job]
            out[job] = list(tasks.values()) if list(tasks) == list(range(len(tasks))) else dict(tasks)
        return out

    def as_cluster_def(self) -> dict[str, dict[int, str]]:
        """The spec as plain data (TF's ``ClusterDef``): job name to ``{task_index: address}``."""
        return {job: dict(self._jobs[job]) for job in self.jobs}

    # -- process order -----------------------------------------------------------------------

    def tasks(self) -> list[tuple[str, int, str]]:
        """``(job, task_index, address)`` of every task in process order: the ``"chief"`` job
        first, then the others by name, each in task index order. A task's position is its
        process id; the first task coordinates."""
        jobs = sorted(self._jobs, key=lambda j: (j != CHIEF_JOB, j))
        return [(job, index, address) for job in jobs for index, address in self._jobs[job].items()]

    def process_id(self, job_name: str, task_index: int) -> int:
        """The process id of a task (its position in ``tasks()``); ``ValueError`` if unknown."""
        self.task_address(job_name, task_index)
        return next(i for i, (j, k, _) in enumerate(self.tasks()) if j == job_name and k == task_index)

    # -- comparisons -------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            try:
                other = ClusterSpec(other)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return False
        if not isinstance(other, ClusterSpec):
            return NotImplemented
        return self.as_cluster_def() == other.as_cluster_def()

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, as TF's is unhashable

    def __bool__(self) -> bool:
        return bool(self._jobs)

    def __iter__(self) -> Iterator[str]:
        return iter(self.jobs)

    def __repr__(self) -> str:
        return f"ClusterSpec({self.as_dict()!r})"


@dataclass
class ServerDef:
    """What a ``Server`` serves (TF's ``ServerDef``): the cluster, this task, the protocol."""

    cluster: ClusterSpec
    job_name: str
    task_index: int
    protocol: str = "grpc"
    default_session_config: ConfigProto = field(default_factory=ConfigProto)


_SERVERS: dict[str, Server] = {}
_servers_lock = threading.Lock()


def server_for_target(target: str) -> Server:
    """The started ``Server`` of this process whose ``target`` is ``target``.

    Raises ``errors.UnimplementedError`` when none is: a session runs on the cluster of a
    server this process started (between-graph replication), never on a remote one."""
    with _servers_lock:
        server = _SERVERS.get(target)
    if server is None:
        known = ", ".join(sorted(_SERVERS)) or "none"
        raise errors.UnimplementedError(
            None,
            None,
            f"Session target {target!r}: only in-process sessions (target '') and the targets of "
            f"tf.train.Servers started in this process (started: {known}) are supported; no tf.train.Server "
            "with this target was started here: every task runs its own Server and a Session on server.target",
        )
    return server


def is_chief_process() -> bool:
    """Whether this process writes what a cluster writes once (event files, checkpoints):
    ``True`` unless it started a ``Server`` that is not its cluster's chief (task 0). A
    process serves one task, so its started server says which task it is; nothing of jax is
    imported or asked."""
    with _servers_lock:
        return all(server.is_chief for server in _SERVERS.values())


class Server:
    """One task of a cluster, on JAX's multi-process runtime (TF's ``tf.train.Server``).

    ``server_or_cluster_def``: a ``ClusterSpec``, a dict for one, or a ``ServerDef``.
    ``job_name`` may be left out when the cluster has one job; ``task_index`` defaults to 0.
    ``protocol`` must be ``"grpc"`` (or ``None``). ``config``: the default ``ConfigProto`` of
    sessions on this server (its ``operation_timeout_in_ms`` bounds their runs).
    ``initialization_timeout`` (seconds) bounds the wait for every task to connect;
    ``heartbeat_timeout`` (seconds) is how long a silent task counts as alive. ``start=True``
    starts at once (see ``start``). ``target`` is ``"grpc://" + this task's address``.
    """

    def __init__(
        self,
        server_or_cluster_def: ClusterSpec | Mapping[str, Any] | ServerDef,
        job_name: str | None = None,
        task_index: int | None = None,
        protocol: str | None = None,
        config: ConfigProto | None = None,
        start: bool = True,
        *,
        initialization_timeout: int = 60,
        heartbeat_timeout: int = 10,
    ) -> None:
        if isinstance(server_or_cluster_def, ServerDef):
            base = server_or_cluster_def
            cluster = base.cluster
            job_name = job_name or base.job_name
            task_index = base.task_index if task_index is None else task_index
            protocol = protocol or base.protocol
            config = config or base.default_session_config
        else:
            cluster = ClusterSpec(server_or_cluster_def)  # type: ignore[arg-type]
        if not cluster:
            raise ValueError("the cluster has no jobs")
        if job_name is None:
            if len(cluster.jobs) != 1:
                raise ValueError(f"job_name must be given for a cluster of several jobs ({', '.join(cluster.jobs)})")
            job_name = cluster.jobs[0]
        task_index = 0 if task_index is None else task_index
        if protocol not in (None, "grpc"):
            raise errors.UnimplementedError(None, None, f"Server protocol {protocol!r}: only 'grpc' is supported")
        for name, value in (("initialization_timeout", initialization_timeout), ("heartbeat_timeout", heartbeat_timeout)):
            if type(value) is not int or value < 1:
                raise ValueError(f"{name} is a whole number of seconds >= 1, got {value!r}")
        self._address = cluster.task_address(job_name, task_index)
        self._process_id = cluster.process_id(job_name, task_index)
        self._tasks = cluster.tasks()
        self._server_def = ServerDef(ClusterSpec(cluster), job_name, task_index, "grpc", config or ConfigProto())
        self._initialization_timeout = initialization_timeout
        self._heartbeat_timeout = heartbeat_timeout
        self._started = False
        self._stopped = threading.Event()
        if start:
            self.start()

    @property
    def target(self) -> str:
        """What to pass to ``Session``: ``"grpc://host:port"`` of this task."""
        return f"grpc://{self._address}"

    @property
    def server_def(self) -> ServerDef:
        """The ``ServerDef`` this server was built from: cluster, job, task, protocol and default config."""
        return self._server_def

    @property
    def process_id(self) -> int:
        """This task's process id in the JAX runtime (its position in ``cluster.tasks()``)."""
        return self._process_id

    @property
    def num_processes(self) -> int:
        """The number of tasks in the cluster (processes of the JAX runtime)."""
        return len(self._tasks)

    @property
    def is_chief(self) -> bool:
        """Whether this is the first task (the coordinator; TF's chief)."""
        return self._process_id == 0

    def task_name(self, process_id: int) -> str:
        """``/job:worker/task:1`` for a process id."""
        job, index, _ = self._tasks[process_id]
        return f"/job:{job}/task:{index}"

    def start(self) -> None:
        """Join the cluster: start the JAX runtime as this task, waiting for every task.

        Must happen before jax computes anything in this process. Raises
        ``errors.DeadlineExceededError`` when the other tasks do not all connect within the
        initialization timeout, ``errors.UnavailableError`` when the runtime cannot start
        (the coordinator's address is taken), ``ValueError`` when this process already serves
        another task. Starting again does nothing."""
        if self._started:
            return
        from flowir.backends.jax import distributed

        coordinator = self._tasks[0][2]
        deadline = time.monotonic() + self._initialization_timeout
        if len(self._tasks) > 1:
            self._rendezvous(deadline)
        try:
            distributed.start(
                coordinator,
                len(self._tasks),
                self._process_id,
                bind_address=coordinator,
                initialization_timeout=max(5, int(deadline - time.monotonic()) + 1),
                heartbeat_timeout=self._heartbeat_timeout,
            )
        except distributed.RuntimeStartError as e:
            cls = errors.DeadlineExceededError if e.timed_out else errors.UnavailableError
            raise cls(None, None, f"Server {self.task_name(self._process_id)}: {e}") from e
        self._started = True
        with _servers_lock:
            _SERVERS[self.target] = self

    def _rendezvous(self, deadline: float) -> None:
        """Wait until every task has started, on the coordinator's address, before starting
        the JAX runtime: jax ends the process (a fatal log) when its own start times out,
        where a missing task must be a ``DeadlineExceededError`` naming it.

        Task 0 listens on its address (the JAX service binds it next) and, once every other
        task has said hello, tells them to go; the others retry connecting until then."""
        host, port = _split(self._tasks[0][2])
        me = self.task_name(self._process_id)
        if self._process_id == 0:
            peers: dict[int, socket.socket] = {}
            with socket.socket(_family(host), socket.SOCK_STREAM) as listener:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    listener.bind((host, port))
                except OSError as e:
                    raise errors.UnavailableError(None, None, f"Server {me}: cannot listen on {host}:{port}: {e}") from None
                listener.listen(len(self._tasks))
                try:
                    while len(peers) < len(self._tasks) - 1:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            missing = [self.task_name(p) for p in range(1, len(self._tasks)) if p not in peers]
                            raise errors.DeadlineExceededError(
                                None,
                                None,
                                f"Server {me}: {', '.join(missing)} did not connect within "
                                f"{self._initialization_timeout} s; start every task of the cluster",
                            )
                        listener.settimeout(min(left, 0.5))
                        try:
                            conn, _ = listener.accept()
                        except TimeoutError:
                            continue
                        conn.settimeout(max(0.1, deadline - time.monotonic()))
                        try:
                            hello = conn.recv(64).decode("ascii", "replace").split()
                        except OSError:
                            conn.close()
                            continue
                        if len(hello) == 2 and hello[0] == "flowir" and hello[1].isdigit():
                            old = peers.pop(int(hello[1]), None)
                            if old is not None:
                                old.close()
                            peers[int(hello[1])] = conn
                        else:
                            conn.close()
                    for conn in peers.values():
                        conn.sendall(b"go\n")
                    # The peers close first, so no connection of this port lingers here.
                    for conn in peers.values():
                        with contextlib.suppress(OSError):
                            conn.settimeout(2.0)
                            conn.recv(8)
                finally:
                    for conn in peers.values():
                        conn.close()
            return
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise errors.DeadlineExceededError(
                    None,
                    None,
                    f"Server {me}: the coordinator {self.task_name(0)} at {host}:{port} did not answer within "
                    f"{self._initialization_timeout} s; start every task of the cluster",
                )
            try:
                with socket.create_connection((host, port), timeout=min(left, 1.0)) as conn:
                    conn.sendall(f"flowir {self._process_id}\n".encode("ascii"))
                    conn.settimeout(max(0.1, deadline - time.monotonic()))
                    if conn.recv(8).startswith(b"go"):
                        return
            except OSError:
                pass
            time.sleep(0.1)

    def join(self) -> None:
        """Block until the process ends, as TF's ``server.join()`` (the parameter-server loop).
        In SPMD mode every task runs the training program, so only a task with nothing else to
        do joins."""
        self.start()
        self._stopped.wait()

    @staticmethod
    def create_local_server(config: ConfigProto | None = None, start: bool = True) -> Server:
        """A one-task cluster on a free port of 127.0.0.1 (TF's ``Server.create_local_server``)."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        return Server({"localhost": [f"127.0.0.1:{port}"]}, "localhost", 0, config=config, start=start)
