"""Reverse-mode automatic differentiation on the IR.

``gradients(graph, ys, xs)`` builds the ops computing the gradients of ``ys`` with respect to
``xs`` into ``graph`` and returns their values; the per-op derivatives are the rules of
``VJP_RULES`` (``vjp_rule`` registers one), ops that pass no gradient are listed in
``NON_DIFFERENTIABLE``. Importing this package fills both tables.
"""

from flowir.passes.autodiff import rules_nn, rules_window  # noqa: F401  (register the loss, conv and pooling rules)
from flowir.passes.autodiff.builder import Emit, VjpBuilder
from flowir.passes.autodiff.core import NotDifferentiableError, gradients, graph_emitter
from flowir.passes.autodiff.rules import NON_DIFFERENTIABLE, VJP_RULES, VjpRule, non_differentiable, vjp_rule

__all__ = [
    "gradients",
    "graph_emitter",
    "NotDifferentiableError",
    "Emit",
    "VjpBuilder",
    "VjpRule",
    "VJP_RULES",
    "NON_DIFFERENTIABLE",
    "vjp_rule",
    "non_differentiable",
]
