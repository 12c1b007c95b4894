"""``tf.train``: ``write_graph``, the optimizers, the global step and checkpoints (``Saver``,
``latest_checkpoint``, ``import_meta_graph``, ``list_variables``)."""

from __future__ import annotations

import os

from flowir._fileio import write_atomically
from flowir.frontends.graph.distributed import ClusterSpec, Server, ServerDef
from flowir.frontends.graph.graph import Graph, GraphDef
from flowir.frontends.graph.optimizers import *  # noqa: F403
from flowir.frontends.graph.optimizers import __all__ as _optimizers_all
from flowir.frontends.graph.saver import *  # noqa: F403
from flowir.frontends.graph.saver import __all__ as _saver_all
from flowir.ir.printer import print_graph

__all__ = ["write_graph", "ClusterSpec", "Server", "ServerDef", *_optimizers_all, *_saver_all]


def write_graph(graph_or_graph_def: Graph | GraphDef, logdir: str, name: str, as_text: bool = True) -> str:
    """Write a graph as flowir's textual IR (what ``flowir opt`` reads) to ``logdir/name``.

    ``graph_or_graph_def`` is a ``Graph`` or a ``GraphDef`` (``graph.as_graph_def()``,
    ``sess.graph_def``). ``logdir`` is created if missing. The file is replaced atomically
    (written to a temporary file beside it, synced, then renamed), so a reader never sees
    half a graph. flowir has one, textual, graph format: ``as_text=False`` writes the same
    text. Returns the path written.
    """
    if isinstance(graph_or_graph_def, Graph):
        with graph_or_graph_def._lock:
            text = print_graph(graph_or_graph_def.ir_graph)
    elif isinstance(graph_or_graph_def, GraphDef):
        text = graph_or_graph_def.text
    else:
        raise TypeError(f"write_graph takes a Graph or a GraphDef, got {type(graph_or_graph_def).__name__}")
    if not text.endswith("\n"):
        text += "\n"
    logdir = os.fspath(logdir)
    if logdir:
        os.makedirs(logdir, exist_ok=True)
    path = os.path.join(logdir, name)
    write_atomically(path, text)
    return path
