"""Reference semantics: the numpy kernel of every op, in tables keyed by op class.

Constant folding evaluates through these kernels and the numpy backend schedules them, so
each op's meaning is written once. Importing this package fills ``IMPL_RULES``.
"""

from flowir.ir.reference import array, control, core, grad, math, nn, random, state, summary, train, window  # noqa: F401  (fill the table)
from flowir.ir.reference._registry import IMPL_RULES, UNSUPPORTED, ImplRule, get_impl_rule, impl_rule
from flowir.ir.reference.interpreter import CONTROL_TOKEN, ControlToken, RefContext, VariableRef, evaluate, run_op

__all__ = [
    "IMPL_RULES",
    "UNSUPPORTED",
    "ImplRule",
    "impl_rule",
    "get_impl_rule",
    "RefContext",
    "VariableRef",
    "ControlToken",
    "CONTROL_TOKEN",
    "evaluate",
    "run_op",
]
