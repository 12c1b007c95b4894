"""The TF1-style graph API: graphs, tensors, variables, sessions and the op library.

``flowir`` re-exports everything here, so ``import flowir as tf`` reads like TensorFlow 1.15
graph code. Namespaces as in TF: ``errors``, ``train``, ``nn``, ``dtypes``, ``summary``.
"""

from flowir.frontends.graph import dtypes, errors, nn, summary, train
from flowir.frontends.graph.array_ops import *  # noqa: F403
from flowir.frontends.graph.array_ops import __all__ as _array_all
from flowir.frontends.graph.building import *  # noqa: F403
from flowir.frontends.graph.building import __all__ as _building_all
from flowir.frontends.graph.dtypes import *  # noqa: F403
from flowir.frontends.graph.dtypes import __all__ as _dtypes_all
from flowir.frontends.graph.gradients import gradients, stop_gradient  # noqa: F401
from flowir.frontends.graph.graph import *  # noqa: F403
from flowir.frontends.graph.graph import __all__ as _graph_all
from flowir.frontends.graph.math_ops import *  # noqa: F403
from flowir.frontends.graph.math_ops import __all__ as _math_all
from flowir.frontends.graph.random_ops import *  # noqa: F403
from flowir.frontends.graph.random_ops import __all__ as _random_all
from flowir.frontends.graph.session import *  # noqa: F403
from flowir.frontends.graph.session import __all__ as _session_all
from flowir.frontends.graph.tensor import *  # noqa: F403
from flowir.frontends.graph.tensor import __all__ as _tensor_all
from flowir.frontends.graph.variables import *  # noqa: F403
from flowir.frontends.graph.variables import __all__ as _variables_all

__all__ = [
    "dtypes",
    "errors",
    "nn",
    "summary",
    "train",
    *_building_all,
    *_dtypes_all,
    *_graph_all,
    *_tensor_all,
    *_variables_all,
    *_session_all,
    *_array_all,
    *_math_all,
    *_random_all,
]
