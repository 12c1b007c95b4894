"""``tf.train``: ``write_graph``, the optimizers, the global step and checkpoints (``Saver``,
``latest_checkpoint``, ``import_meta_graph``, ``list_variables``)."""

# The module is the ``tf.train`` namespace: helpers are imported under private names (and no
# ``from __future__`` import), so that ``dir(tf.train)`` shows only TF's names.
import os as _os

from flowir._fileio import write_atomically as _write_atomically
from flowir.frontends.graph.distributed import ClusterSpec, Server, ServerDef
from flowir.frontends.graph.graph import Graph as _Graph
from flowir.frontends.graph.graph import GraphDef as _GraphDef
from flowir.frontends.graph.optimizers import *  # noqa: F403
from flowir.frontends.graph.optimizers import __all__ as _optimizers_all
from flowir.frontends.graph.saver import *  # noqa: F403
from flowir.frontends.graph.saver import __all__ as _saver_all
from flowir.ir.printer import print_graph as _print_graph

__all__ = ["write_graph", "ClusterSpec", "Server", "ServerDef", *_optimizers_all, *_saver_all]


def write_graph(graph_or_graph_def: _Graph | _GraphDef, logdir: str, name: str, as_text: bool = True) -> str:
    """Write a graph as flowir's textual IR (what ``flowir opt`` reads) to ``logdir/name``.

    ``graph_or_graph_def`` is a ``Graph`` or a ``GraphDef`` (``graph.as_graph_def()``,
    ``sess.graph_def``). ``logdir`` is created if missing. The file is replaced atomically
    (written to a temporary file beside it, synced, then renamed), so a reader never sees
    half a graph. flowir has one, textual, graph format: ``as_text=False`` writes the same
    text. Returns the path written.
    """
    if isinstance(graph_or_graph_def, _Graph):
        with graph_or_graph_def._lock:
            text = _print_graph(graph_or_graph_def.ir_graph)
    elif isinstance(graph_or_graph_def, _GraphDef):
        text = graph_or_graph_def.text
    else:
        raise TypeError(f"write_graph takes a Graph or a GraphDef, got {type(graph_or_graph_def).__name__}")
    if not text.endswith("\n"):
        text += "\n"
    logdir = _os.fspath(logdir)
    if logdir:
        _os.makedirs(logdir, exist_ok=True)
    path = _os.path.join(logdir, name)
    _write_atomically(path, text)
    return path
