"""flowir: an MLIR-style graph compiler with a TensorFlow-1-style frontend.

``import flowir as tf`` gives the TF 1.15 graph API (``tf.placeholder``, ``tf.Variable``,
``tf.Session`` ...); ``flowir.ir``, ``flowir.passes`` and ``flowir.backends`` are the compiler.
``import flowir`` stays light: it never imports jax, onnx or tensorflow.
"""

from flowir.frontends.graph import *  # noqa: F403
from flowir.frontends.graph import __all__ as _graph_all
from flowir.frontends.graph import losses  # noqa: F401
from flowir.frontends.graph.gradients import gradients, stop_gradient  # noqa: F401

__version__ = "0.1.0"

__all__ = ["__version__", "losses", *_graph_all]
