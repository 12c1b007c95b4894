"""TensorBoard event files: a background writer, and graphs as TensorBoard ``GraphDef`` protos.

``EventFileWriter`` appends ``Event`` records to ``events.out.tfevents.<time>.<host>`` in a
log directory, in TFRecord framing (tensorboardX's ``RecordWriter``: length, masked CRC32C,
data, masked CRC32C). Callers only queue: a daemon thread serializes and writes, and flushes
every ``flush_secs``. ``flush()`` returns once everything queued before it is on disk;
``close()`` does the same, then stops the thread. A write error in the thread is raised by
the next call.

``graph_def(graph)`` turns a graph into a ``GraphDef`` whose node names keep their name
scopes (``model/layer1/MatMul``), so TensorBoard's graph tab folds them into boxes.

The protobuf messages are tensorboardX's copies of TensorBoard's (imported on first use).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from flowir.ir.core import Graph as IRGraph
from flowir.ir.core import Operation as IROperation
from flowir.ir.core import Value
from flowir.ir.dtypes import DType
from flowir.ir.types import ResourceType, TensorType

__all__ = ["EventFileWriter", "DiscardingEventWriter", "graph_def", "event_file_name", "TF_DTYPES"]

logger = logging.getLogger("flowir.summary")

#: ``tensorflow.DataType`` enum values of flowir's dtypes (``types.proto``).
TF_DTYPES: dict[DType, int] = {
    DType.float32: 1,
    DType.float64: 2,
    DType.int32: 3,
    DType.uint8: 4,
    DType.int16: 5,
    DType.int8: 6,
    DType.string: 7,
    DType.int64: 9,
    DType.bool: 10,
    DType.bfloat16: 14,
    DType.float16: 19,
}
_DT_RESOURCE = 20
#: Constants with at most this many elements keep their value in the exported graph.
MAX_CONSTANT_ELEMENTS = 1024


def _protos() -> Any:
    from tensorboardX.proto import attr_value_pb2, event_pb2, graph_pb2, node_def_pb2, tensor_pb2, tensor_shape_pb2

    return attr_value_pb2, event_pb2, graph_pb2, node_def_pb2, tensor_pb2, tensor_shape_pb2


def event_file_name(logdir: str, filename_suffix: str = "") -> str:
    """A new event file path in ``logdir``: TF's ``events.out.tfevents.<10-digit seconds>.<host>``
    (plus ``.<pid>.<n>`` when a writer of this second already took that name) and the suffix."""
    base = os.path.join(logdir, f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}")
    path = base + filename_suffix
    n = 0
    while os.path.exists(path):
        n += 1
        path = f"{base}.{os.getpid()}.{n}{filename_suffix}"
    return path


# --------------------------------------------------------------------------------------------
# The writer


#: Writers not yet closed; those still open when the interpreter exits are closed then, so a
#: program that never calls ``close()`` loses no event (the writer thread is a daemon).
_OPEN_WRITERS: weakref.WeakSet[EventFileWriter] = weakref.WeakSet()
_exit_hook_registered = False


def _close_open_writers() -> None:
    for writer in list(_OPEN_WRITERS):
        try:
            writer.close()
        except Exception as e:  # noqa: BLE001 - exiting: report, then close the others
            logger.error("closing %s at exit failed: %s", writer.path, e)


class EventFileWriter:
    """Writes ``Event`` protos to a new event file in ``logdir`` from a background thread.

    ``add(make_event)`` queues a function returning the ``Event`` to write; it runs on the
    writer thread, so serializing costs the caller nothing. The thread is woken once per
    ``max_queue`` events (or by ``flush``, ``close`` and the ``flush_secs`` timer), not per
    event: waking a thread per training step costs more than the write, as the threads
    trade the GIL. ``add`` blocks only while ``max_queue`` events wait and the thread is
    still writing the previous batch. The first record is the ``file_version:
    "brain.Event:2"`` event TensorBoard expects.
    """

    def __init__(self, logdir: str, max_queue: int = 10, flush_secs: float = 120, filename_suffix: str = "") -> None:
        from tensorboardX.record_writer import RecordWriter

        _, event_pb2, *_ = _protos()
        self.logdir = os.fspath(logdir)
        os.makedirs(self.logdir, exist_ok=True)
        self.path = event_file_name(self.logdir, filename_suffix or "")
        self._records = RecordWriter(self.path)
        self._records.write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString())
        self._records.flush()
        self._flush_secs = float(flush_secs)
        self._max_queue = max(int(max_queue), 1)
        self._cond = threading.Condition(threading.Lock())
        # All below are guarded by ``_cond``. Counts of events: added by callers, written by
        # the thread, and written when the file was last flushed.
        self._pending: list[Callable[[], Any]] = []
        self._writing = False
        self._added = 0
        self._written = 0
        self._synced = 0
        self._flush_target = 0
        self._stopping = False
        self._closed = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"flowir-events:{self.path}", daemon=True)
        self._thread.start()
        global _exit_hook_registered
        if not _exit_hook_registered:
            atexit.register(_close_open_writers)
            _exit_hook_registered = True
        _OPEN_WRITERS.add(self)

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called; a closed writer takes no more events."""
        return self._closed

    def add(self, make_event: Callable[[], Any]) -> None:
        """Queue one event; raises a write error the thread met, ``RuntimeError`` once closed."""
        with self._cond:
            self._raise_error()
            if self._stopping:
                raise RuntimeError(f"the event file {self.path!r} is closed")
            while len(self._pending) >= self._max_queue and self._writing and self._error is None:
                self._cond.wait()
            self._pending.append(make_event)
            self._added += 1
            if len(self._pending) >= self._max_queue:
                self._cond.notify_all()

    def flush(self) -> None:
        """Return once every event added so far is written and the file flushed to disk."""
        with self._cond:
            if self._stopping:
                return
            target = self._added
            self._flush_target = max(self._flush_target, target)
            self._cond.notify_all()
            while self._synced < target and self._error is None:
                self._cond.wait()
            self._raise_error()

    def close(self) -> None:
        """Write everything added, flush, stop the thread and close the file (idempotent)."""
        with self._cond:
            if self._stopping:
                return
            self._stopping = True
            self._flush_target = self._added
            self._cond.notify_all()
        self._thread.join()
        self._closed = True
        _OPEN_WRITERS.discard(self)
        self._records.close()
        with self._cond:
            self._raise_error()

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        next_flush = time.monotonic() + self._flush_secs
        while True:
            with self._cond:
                while True:
                    due = time.monotonic() >= next_flush
                    if (
                        self._stopping
                        or len(self._pending) >= self._max_queue
                        or self._flush_target > self._synced
                        or (due and (self._pending or self._written > self._synced))
                    ):
                        break
                    if due:
                        next_flush = time.monotonic() + self._flush_secs
                    self._cond.wait(timeout=max(next_flush - time.monotonic(), 0.0))
                batch, self._pending = self._pending, []
                self._writing = True
                sync = self._stopping or due or self._flush_target > self._synced
                stopping = self._stopping
                self._cond.notify_all()
            error = self._write(batch, sync)
            with self._cond:
                self._writing = False
                self._written += len(batch)
                if error is not None and self._error is None:
                    self._error = error
                if sync or self._error is not None:
                    # After an error nothing more is written: waiters must not wait for it.
                    self._synced = self._written if self._error is None else self._added
                    next_flush = time.monotonic() + self._flush_secs
                self._cond.notify_all()
                if stopping and not self._pending:
                    return

    def _write(self, batch: list[Callable[[], Any]], sync: bool) -> BaseException | None:
        if self._error is not None:
            return None
        try:
            for make_event in batch:
                self._records.write(make_event().SerializeToString())
            if sync:
                self._records.flush()
        except BaseException as e:  # noqa: BLE001 - handed to the caller's next call
            logger.error("writing to %s failed: %s", self.path, e)
            return e
        return None

    def _raise_error(self) -> None:
        e = self._error
        if e is not None:
            raise OSError(f"writing events to {self.path!r} failed: {e}") from e


class DiscardingEventWriter:
    """An ``EventFileWriter`` that writes nothing and creates no file: the writer of a task that
    is not the chief of its cluster. Events are accepted and dropped; ``path`` is ``None``."""

    path = None

    def __init__(self) -> None:
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called."""
        return self._closed

    def add(self, make_event: Callable[[], Any]) -> None:
        """Drop one event; ``RuntimeError`` once closed, as ``EventFileWriter``."""
        if self._closed:
            raise RuntimeError("the event writer is closed")

    def flush(self) -> None:
        """Nothing to write."""

    def close(self) -> None:
        """Accept no more events."""
        self._closed = True


# --------------------------------------------------------------------------------------------
# Graphs


def _op_names(graph: IRGraph) -> dict[IROperation, str]:
    """Each op's node name: its user name, or ``<op name>_<k>`` for unnamed ops, unique."""
    names: dict[IROperation, str] = {}
    used: set[str] = set()
    for op in graph.ops:
        name = op.user_name
        if not name or name in used:
            stem = name or op.name.rsplit(".", 1)[-1]
            k = 1
            while f"{stem}_{k}" in used:
                k += 1
            name = f"{stem}_{k}"
        used.add(name)
        names[op] = name
    return names


def _input_name(v: Value, names: dict[IROperation, str], inputs: dict[Value, str]) -> str:
    owner = v.owner
    if owner is None:
        return inputs[v]
    index = v.index  # type: ignore[attr-defined]
    return names[owner] if index == 0 else f"{names[owner]}:{index}"


def _tensor_type(ty: Any) -> TensorType | None:
    if type(ty) is TensorType:
        return ty
    if type(ty) is ResourceType:
        return ty.value_type  # type: ignore[attr-defined]
    return None


def _shape_proto(tensor_shape_pb2: Any, ty: TensorType) -> Any:
    if ty.shape is None:
        return tensor_shape_pb2.TensorShapeProto(unknown_rank=True)
    return tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=-1 if d is None else d) for d in ty.shape]
    )


def _attr_value(value: Any, protos: Any) -> Any:
    """An IR attribute as an ``AttrValue`` (``None`` for kinds TensorBoard cannot show)."""
    attr_value_pb2, _, _, _, tensor_pb2, tensor_shape_pb2 = protos
    AttrValue = attr_value_pb2.AttrValue
    if isinstance(value, bool):
        return AttrValue(b=value)
    if isinstance(value, int):
        return AttrValue(i=value)
    if isinstance(value, float):
        return AttrValue(f=value)
    if isinstance(value, str):
        return AttrValue(s=value.encode("utf-8"))
    if isinstance(value, DType):
        return AttrValue(type=TF_DTYPES.get(value, 0))
    if isinstance(value, np.ndarray):
        return AttrValue(tensor=_tensor_proto(value, tensor_pb2, tensor_shape_pb2))
    if isinstance(value, (tuple, list)):
        items = list(value)
        if all(isinstance(x, bool) for x in items):
            return AttrValue(list=AttrValue.ListValue(b=items))
        if all(isinstance(x, int) for x in items):
            return AttrValue(list=AttrValue.ListValue(i=items))
        if all(isinstance(x, (int, float)) for x in items):
            return AttrValue(list=AttrValue.ListValue(f=[float(x) for x in items]))
        if all(isinstance(x, str) for x in items):
            return AttrValue(list=AttrValue.ListValue(s=[x.encode("utf-8") for x in items]))
        # A shape with unknown dims.
        if all(x is None or isinstance(x, int) for x in items):
            return AttrValue(list=AttrValue.ListValue(i=[-1 if x is None else x for x in items]))
    return None


def _tensor_proto(a: np.ndarray, tensor_pb2: Any, tensor_shape_pb2: Any) -> Any:
    """A ``TensorProto`` of ``a``: its dtype and shape, and its value when it is small."""
    from flowir.ir.dtypes import dtype_of

    dt = dtype_of(a)
    proto = tensor_pb2.TensorProto(
        dtype=TF_DTYPES[dt], tensor_shape=_shape_proto(tensor_shape_pb2, TensorType(dt, a.shape))
    )
    if a.size <= MAX_CONSTANT_ELEMENTS:
        if dt is DType.string:
            proto.string_val.extend(x.encode("utf-8") if isinstance(x, str) else bytes(x) for x in a.reshape(-1))
        else:
            proto.tensor_content = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()
    return proto


def graph_def(graph: Any) -> Any:
    """A TensorBoard ``GraphDef`` of ``graph`` (a frontend ``Graph`` or an IR ``Graph``).

    Nodes are named as the ops (scopes kept), ``op`` is the IR op name (``math.matmul``),
    ``input`` lists data inputs (``name`` or ``name:i``) then control inputs (``^name``),
    ``device`` is the op's placement, and attributes hold the IR attributes, ``dtype`` and
    ``_output_shapes`` (unknown dims as ``-1``).
    """
    protos = _protos()
    attr_value_pb2, _, graph_pb2, node_def_pb2, _, tensor_shape_pb2 = protos
    ir = graph.ir_graph if hasattr(graph, "ir_graph") else graph
    if not isinstance(ir, IRGraph):
        raise TypeError(f"expected a flowir Graph, got {type(graph).__name__}")
    lock = getattr(graph, "_lock", None)
    with lock if lock is not None else contextlib.nullcontext():
        names = _op_names(ir)
        inputs: dict[Value, str] = {}
        nodes = []
        for i, arg in enumerate(ir.inputs):
            name = arg.name or f"input_{i}"
            inputs[arg] = name
            nodes.append(_node(node_def_pb2, attr_value_pb2, tensor_shape_pb2, name, "flowir.input", [], None, {}, [arg.type]))
        for op in ir.ops:
            if op.name == "flowir.return":
                continue
            op_inputs = [_input_name(v, names, inputs) for v in op.operands]
            op_inputs += [f"^{names[v.owner]}" for v in op.control_deps if v.owner is not None]
            attrs = {}
            for key, value in op.attributes.items():
                converted = _attr_value(value, protos)
                if converted is not None:
                    attrs[key] = converted
            nodes.append(
                _node(
                    node_def_pb2,
                    attr_value_pb2,
                    tensor_shape_pb2,
                    names[op],
                    op.name,
                    op_inputs,
                    op.device,
                    attrs,
                    [r.type for r in op.results],
                )
            )
    return graph_pb2.GraphDef(node=nodes)


def _node(
    node_def_pb2: Any,
    attr_value_pb2: Any,
    tensor_shape_pb2: Any,
    name: str,
    op: str,
    inputs: list[str],
    device: str | None,
    attrs: dict[str, Any],
    result_types: list[Any],
) -> Any:
    tensors = [t for t in (_tensor_type(ty) for ty in result_types) if t is not None]
    AttrValue = attr_value_pb2.AttrValue
    if tensors:
        attrs["_output_shapes"] = AttrValue(
            list=AttrValue.ListValue(shape=[_shape_proto(tensor_shape_pb2, t) for t in tensors])
        )
        dtypes = {t.dtype for t in tensors}
        if len(dtypes) == 1 and "dtype" not in attrs:
            attrs["dtype"] = AttrValue(type=TF_DTYPES.get(tensors[0].dtype, 0))
    if any(type(ty) is ResourceType for ty in result_types):
        attrs.setdefault("_handle_dtypes", AttrValue(list=AttrValue.ListValue(type=[_DT_RESOURCE])))
    return node_def_pb2.NodeDef(name=name, op=op, input=inputs, device=device or "", attr=attrs)

