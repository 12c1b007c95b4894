"""``tf.summary``: summary ops and ``FileWriter``, as TF 1.15.

Each summary function adds an IR op (``summary.scalar`` ...) whose value is one serialized
``Summary`` protobuf (``bytes`` when fetched), tagged with the op's name scope: inside
``name_scope("train")``, ``scalar("loss", x)`` is tagged ``train/loss`` (a second one
``train/loss_1``). The op joins the ``collections`` given (default
``GraphKeys.SUMMARIES``), which ``merge_all`` merges.

``FileWriter`` writes what a session computed to an event file that TensorBoard reads::

    merged = tf.summary.merge_all()
    with tf.summary.FileWriter("/tmp/logs", sess.graph) as writer:
        for step in range(1000):
            s, _ = sess.run([merged, train_op])
            writer.add_summary(s, step)

``add_summary`` only queues; a background thread serializes and writes (see
``event_writer.py``), so logging every step costs training little.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from flowir.frontends.graph.building import convert_to_tensor, make_op
from flowir.frontends.graph.distributed import is_chief_process
from flowir.frontends.graph.event_writer import DiscardingEventWriter, EventFileWriter
from flowir.frontends.graph.event_writer import graph_def as _to_graph_def
from flowir.frontends.graph.graph import GraphKeys, add_to_collection, get_collection, name_scope
from flowir.frontends.graph.tensor import Tensor
from flowir.ir.ops import summary as summary_ops

__all__ = ["scalar", "histogram", "image", "audio", "text", "merge", "merge_all", "FileWriter"]

logger = logging.getLogger("flowir.summary")

_INVALID_TAG_CHARACTERS = re.compile(r"[^-/\w.]")


def _clean_tag(name: str | None) -> str | None:
    """``name`` with characters TensorBoard tags cannot hold replaced by ``_`` and leading
    slashes removed (TF's ``clean_tag``; logged when it changes anything)."""
    if name is None:
        return None
    new = _INVALID_TAG_CHARACTERS.sub("_", name).lstrip("/")
    if new != name:
        logger.info("Summary name %s is illegal; using %s instead.", name, new)
    return new


@contextmanager
def _summary_scope(name: str, family: str | None, values: Sequence[Any]) -> Iterator[tuple[str, str]]:
    """Open the name scope of a summary; yields ``(tag, scope)`` (TF's ``summary_scope``):
    the tag is the unique scope, prefixed with ``family/`` when a family is given."""
    name = _clean_tag(name) or ""
    family = _clean_tag(family)
    base = name if family is None else f"{family}/{name}"
    with name_scope(base, None, values) as scope:
        tag = scope.rstrip("/")
        yield (tag if family is None else f"{family}/{tag}"), scope


def _collect(t: Tensor, collections: Sequence[str] | None, default: Sequence[str]) -> None:
    for key in default if collections is None else collections:
        add_to_collection(key, t)


def _summary(
    op_class: type,
    name: str,
    tensor: Any,
    collections: Sequence[str] | None,
    family: str | None,
    **attrs: Any,
) -> Tensor:
    with _summary_scope(name, family, [tensor]) as (tag, scope):
        t = convert_to_tensor(tensor)
        out = make_op(op_class, [t], name=scope, default_name=op_class.__name__, tag=tag, **attrs).outputs[0]
    _collect(out, collections, [GraphKeys.SUMMARIES])
    return out


def scalar(name: str, tensor: Any, collections: Sequence[str] | None = None, family: str | None = None) -> Tensor:
    """A summary of the real scalar ``tensor`` (TensorBoard's scalars tab).

    Returns a string scalar tensor: a serialized ``Summary`` with one ``simple_value``.
    ``ShapeError`` if ``tensor`` is not a scalar.
    """
    return _summary(summary_ops.Scalar, name, tensor, collections, family)


def histogram(name: str, values: Any, collections: Sequence[str] | None = None, family: str | None = None) -> Tensor:
    """A histogram of the real ``values`` (any shape), over TF's default exponential buckets.

    Running it fails with ``FlowirError`` ("NaN in summary histogram for: tag") when
    ``values`` holds a NaN or an infinity, as TF1.
    """
    return _summary(summary_ops.Histogram, name, values, collections, family)


def image(
    name: str, tensor: Any, max_outputs: int = 3, collections: Sequence[str] | None = None, family: str | None = None
) -> Tensor:
    """Up to ``max_outputs`` PNG images of ``tensor`` (``[batch, height, width, channels]``,
    channels 1, 3 or 4; uint8, or float rescaled to 0..255 as TF1: ``255 / max`` for
    non-negative images, ``127 / max|x|`` around 128 otherwise), tagged ``tag/image/i``
    (``tag/image`` when ``max_outputs`` is 1)."""
    return _summary(summary_ops.Image, name, tensor, collections, family, max_outputs=max_outputs)


def audio(
    name: str,
    tensor: Any,
    sample_rate: float,
    max_outputs: int = 3,
    collections: Sequence[str] | None = None,
    family: str | None = None,
) -> Tensor:
    """Up to ``max_outputs`` WAV clips of the float ``tensor`` (``[batch, frames]`` or
    ``[batch, frames, channels]``, samples in [-1, 1]) at ``sample_rate`` Hz (a number),
    tagged ``tag/audio/i`` (``tag/audio`` when ``max_outputs`` is 1)."""
    if isinstance(sample_rate, Tensor):
        raise TypeError(
            f"summary.audio {name!r}: sample_rate must be a Python number in flowir (it is an attribute of "
            f"the op), got the tensor {sample_rate.name!r}"
        )
    return _summary(
        summary_ops.Audio, name, tensor, collections, family, sample_rate=float(sample_rate), max_outputs=max_outputs
    )


def text(name: str, tensor: Any, collections: Sequence[str] | None = None) -> Tensor:
    """The strings of ``tensor`` (any shape; markdown) for TensorBoard's text tab."""
    return _summary(summary_ops.Text, name, tensor, collections, None)


def merge(inputs: Sequence[Any], collections: Sequence[str] | None = None, name: str | None = None) -> Tensor:
    """One summary holding the values of all ``inputs`` (summary tensors).

    Running it fails with ``FlowirError`` when two inputs hold the same tag, or an input is
    not a serialized ``Summary``.
    """
    tensors = [convert_to_tensor(x) for x in inputs]
    with name_scope(name, "Merge", tensors):
        out = make_op(summary_ops.Merge, [tensors], name=name, default_name="MergeSummary").outputs[0]
    _collect(out, collections, [])
    return out


def merge_all(key: str = GraphKeys.SUMMARIES, scope: str | None = None, name: str | None = None) -> Tensor | None:
    """``merge`` of the summaries in collection ``key`` (those whose name matches ``scope``),
    or ``None`` when there are none."""
    found = get_collection(key, scope=scope)
    if not found:
        return None
    return merge(found, name=name)


# --------------------------------------------------------------------------------------------
# FileWriter


def _summary_pb2() -> Any:
    from flowir.ir.reference.summary import summary_pb2

    return summary_pb2()


def _summary_bytes(summary: Any) -> bytes:
    """A summary as given to ``add_summary`` (what ``Session.run`` returned for a summary
    tensor, ``bytes``, or a ``Summary`` protobuf) as serialized bytes."""
    if isinstance(summary, (bytes, bytearray, memoryview)):
        return bytes(summary)
    if isinstance(summary, np.ndarray) and summary.shape == () and summary.dtype == object:
        return _summary_bytes(summary[()])
    serialize = getattr(summary, "SerializeToString", None)
    if serialize is not None and type(summary).__name__ == "Summary":
        return serialize()
    raise TypeError(f"add_summary takes a serialized Summary (bytes) or a Summary protobuf, got {type(summary).__name__}")


class FileWriter:
    """Writes summaries, events and graphs to an event file in ``logdir`` (TF 1.15's
    ``tf.summary.FileWriter``).

    ``graph`` (or ``graph_def``) is written first when given. ``add_summary``/``add_event``/
    ``add_graph`` queue an event (at most ``max_queue`` wait; a background thread writes
    them and flushes every ``flush_secs``). ``flush()`` returns when everything added before it
    is on disk; ``close()`` flushes and closes the file (``reopen()`` starts a new one). Also a
    context manager that closes on exit.

    In a cluster only the chief writes, as TF1's ``MonitoredTrainingSession``: in a process
    whose ``tf.train.Server`` is not task 0 (create the server first), the writer accepts
    every call (``add_summary``, ``add_graph``, ``flush``, ``close`` ...) and writes no file
    (``event_file`` is ``None``), so every task can run the same program.
    """

    def __init__(
        self,
        logdir: str,
        graph: Any = None,
        max_queue: int = 10,
        flush_secs: float = 120,
        graph_def: Any = None,
        filename_suffix: str | None = None,
        session: Any = None,
    ) -> None:
        if session is not None:
            raise NotImplementedError("FileWriter(session=...) writes through TF2 summary ops, which flowir lacks")
        self._logdir = str(logdir)
        self._max_queue = max_queue
        self._flush_secs = flush_secs
        self._suffix = filename_suffix or ""
        self._writer = self._open()
        #: Tags whose plugin metadata was written once; later values omit it (as TF).
        self._seen_tags: set[str] = set()
        self._warned_closed = False
        if graph is not None or graph_def is not None:
            self.add_graph(graph, graph_def=graph_def)

    # -- events ------------------------------------------------------------------------------

    def get_logdir(self) -> str:
        """The directory the event file is in."""
        return self._logdir

    def _open(self) -> EventFileWriter | DiscardingEventWriter:
        if not is_chief_process():
            return DiscardingEventWriter()
        return EventFileWriter(self._logdir, self._max_queue, self._flush_secs, self._suffix)

    @property
    def event_file(self) -> str | None:
        """The path of the event file being written (``None`` on a task that is not the chief)."""
        return self._writer.path

    def _add(self, make: Any) -> None:
        if self._writer.closed:
            if not self._warned_closed:
                logger.warning("FileWriter for %s is closed: events added after close() are dropped", self._logdir)
                self._warned_closed = True
            return
        self._writer.add(make)

    def add_event(self, event: Any) -> None:
        """Queue an ``Event`` protobuf as is."""
        data = event.SerializeToString()

        def make() -> Any:
            from tensorboardX.proto import event_pb2

            return event_pb2.Event.FromString(data)

        self._add(make)

    def _add_event(self, global_step: Any, **fields: Any) -> None:
        wall_time = time.time()
        step = None if global_step is None else int(global_step)

        def make() -> Any:
            from tensorboardX.proto import event_pb2

            event = event_pb2.Event(wall_time=wall_time, **{k: f() for k, f in fields.items()})
            if step is not None:
                event.step = step
            return event

        self._add(make)

    def add_summary(self, summary: Any, global_step: Any = None) -> None:
        """Queue ``summary`` (bytes from ``Session.run``, or a ``Summary`` protobuf) as an
        event at ``global_step``. Plugin metadata is kept on the first value of each tag only."""
        data = _summary_bytes(summary)
        self._add_event(global_step, summary=lambda: self._parse_summary(data))

    def _parse_summary(self, data: bytes) -> Any:
        # Runs on the writer thread, the only one touching ``_seen_tags``.
        parsed = _summary_pb2().Summary.FromString(data)
        for value in parsed.value:
            if not value.HasField("metadata"):
                continue
            if value.tag in self._seen_tags:
                value.ClearField("metadata")
            else:
                self._seen_tags.add(value.tag)
        return parsed

    def add_session_log(self, session_log: Any, global_step: Any = None) -> None:
        """Queue a ``SessionLog`` protobuf (``START``, ``STOP``, ``CHECKPOINT``) event."""
        data = session_log.SerializeToString()

        def make() -> Any:
            from tensorboardX.proto import event_pb2

            return event_pb2.SessionLog.FromString(data)

        self._add_event(global_step, session_log=make)

    def add_graph(self, graph: Any, global_step: Any = None, graph_def: Any = None) -> None:
        """Queue a graph: a flowir ``Graph`` (converted with its name scopes, shapes and
        dtypes; see ``event_writer.graph_def``) or, as ``graph_def``, a ``GraphDef``
        protobuf."""
        if graph is not None and graph_def is not None:
            raise ValueError("Please pass only graph, or graph_def (deprecated), but not both.")
        if graph is not None:
            proto = _graph_def_of(graph)
        elif graph_def is not None:
            proto = graph_def
        else:
            raise TypeError("add_graph needs a graph (or a graph_def)")
        data = proto.SerializeToString()
        self._add_event(global_step, graph_def=lambda: data)

    def flush(self) -> None:
        """Return once every event added so far is written to disk."""
        self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file; later events are dropped until ``reopen()``."""
        self._writer.close()

    def reopen(self) -> None:
        """After ``close()``: start a new event file in the same directory."""
        if self._writer.closed:
            self._writer = self._open()
            self._warned_closed = False

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<FileWriter {self._writer.path!r}>"


def _graph_def_of(graph: Any) -> Any:
    from flowir.frontends.graph.graph import Graph as FrontendGraph
    from flowir.frontends.graph.graph import GraphDef
    from flowir.ir.core import Graph as IRGraph

    if isinstance(graph, (FrontendGraph, IRGraph)):
        return _to_graph_def(graph)
    if isinstance(graph, GraphDef):
        # flowir's GraphDef snapshot holds the graph's text: rebuild the graph to export it.
        from flowir.ir.parser import parse_graph

        return _to_graph_def(parse_graph(graph.text))
    if hasattr(graph, "SerializeToString"):
        return graph
    raise TypeError(f"add_graph takes a flowir Graph, GraphDef or a GraphDef protobuf, got {type(graph).__name__}")

