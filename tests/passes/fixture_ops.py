"""Test-only ops (dialect ``test_passes``) for behaviours the catalog may not exercise:
side effects, randomness, several results, missing or misbehaving kernels.

Importing this module registers them once (ops and reference kernels).
"""

from __future__ import annotations

import numpy as np

from flowir.ir import PURE, Operation, TensorType, Trait, operand, register_op
from flowir.ir.ops._base import UnaryElementwise, tensor
from flowir.ir.reference import impl_rule

__all__ = ["Record", "Noise", "NoKernel", "Halves", "WrongDType", "Fails"]


@register_op
class Record(Operation):
    """Stores ``x`` in the context under the op's name and returns it (a side effect)."""

    name = "test_passes.record"
    traits = frozenset({Trait.STATEFUL})
    x = operand()

    def infer_type(self, x):
        return tensor(x)


@register_op
class Noise(Operation):
    """Random values shaped like ``x``."""

    name = "test_passes.noise"
    traits = frozenset({Trait.RANDOM})
    x = operand()

    def infer_type(self, x):
        return tensor(x)


@register_op
class NoKernel(UnaryElementwise):
    """A pure op without a reference kernel."""

    name = "test_passes.no_kernel"


@register_op
class Halves(Operation):
    """Two results: the first and the second half of a 1-d ``x``."""

    name = "test_passes.halves"
    traits = PURE
    x = operand()

    def infer_type(self, x):
        t = tensor(x)
        n = None if t.shape is None or t.shape[0] is None else t.shape[0] // 2
        return (TensorType(t.dtype, (n,)), TensorType(t.dtype, (n,)))


@register_op
class WrongDType(UnaryElementwise):
    """A pure op whose (buggy) kernel returns float64 whatever the input."""

    name = "test_passes.wrong_dtype"


@register_op
class Fails(UnaryElementwise):
    """A pure op whose kernel always raises."""

    name = "test_passes.fails"


@impl_rule(Record)
def _record(op, x, *, ctx):
    ctx.variables[op.user_name or "record"] = x
    return (x,)


@impl_rule(Noise)
def _noise(op, x, *, ctx):
    return (ctx.rng(op).standard_normal(x.shape).astype(x.dtype),)


@impl_rule(Halves)
def _halves(op, x):
    n = x.shape[0] // 2
    return (x[:n].copy(), x[n : 2 * n].copy())


@impl_rule(WrongDType)
def _wrong_dtype(op, x):
    return (x.astype(np.float64),)


@impl_rule(Fails)
def _fails(op, x):
    raise ValueError("this kernel always fails")

