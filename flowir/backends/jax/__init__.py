"""The jax backend: programs lowered to ``jax.numpy``/``jax.lax`` and compiled by XLA.

``LOWERING_RULES`` maps each op class to its lowering (``lowering_rule`` registers one);
``UNSUPPORTED`` lists the ops without one and why. Importing this package imports jax and
fills the tables; ``flowir.backends.get("jax")`` does it lazily.
"""

from flowir.backends.jax import rules  # noqa: F401  (fill the rule tables)
from flowir.backends.jax.backend import JaxBackend, JaxExecutable, runs_on_host
from flowir.backends.jax.devices import DevicePlacementError, parse_device
from flowir.backends.jax.lowering import (
    LOWERING_RULES,
    MAY_FAIL,
    UNSUPPORTED,
    LoweringContext,
    LoweringRule,
    always,
    lowering_rule,
)

__all__ = [
    "JaxBackend",
    "JaxExecutable",
    "LOWERING_RULES",
    "UNSUPPORTED",
    "MAY_FAIL",
    "LoweringContext",
    "LoweringRule",
    "lowering_rule",
    "always",
    "runs_on_host",
    "DevicePlacementError",
    "parse_device",
]
