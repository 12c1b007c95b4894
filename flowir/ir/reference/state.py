"""Reference kernels: state ops.

Variable values live in ``RefContext.variables`` under ``Variable.var_name``. Updates store a
new array rather than writing into the old one, so a value handed out earlier (a fetched read)
never changes behind its holder's back.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from flowir.ir import ops
from flowir.ir.dtypes import dtype_of
from flowir.ir.errors import ShapeError
from flowir.ir.reference._registry import impl_rule
from flowir.ir.reference.interpreter import RefContext, VariableRef
from flowir.ir.reference.train import adam_update, check_adam_operands
from flowir.ir.types import TensorType, format_shape

__all__: list[str] = []


@impl_rule(ops.Variable)
def _variable(op: ops.Variable, *, ctx: RefContext) -> tuple[VariableRef]:
    return (VariableRef(op.var_name),)


@impl_rule(ops.Read)
def _read(op: ops.Read, ref: VariableRef, *, ctx: RefContext) -> tuple[np.ndarray]:
    return (ctx.read(ref, op),)


@impl_rule(ops.Assign)
def _assign(op: ops.Assign, ref: VariableRef, value: np.ndarray, *, ctx: RefContext) -> tuple[np.ndarray]:
    # The op's rule on the concrete shape catches a fed value that does not fit the variable.
    op.infer_type(op.ref.type, TensorType(dtype_of(value), value.shape))
    # A copy: the caller may own ``value`` (a feed) and change it after the run.
    new = np.array(value, copy=True)
    ctx.variables[ref.name] = new
    return (new,)


def _update(combine: Callable[[np.ndarray, np.ndarray], np.ndarray]):
    def rule(
        op: ops.AssignAdd | ops.AssignSub, ref: VariableRef, delta: np.ndarray, *, ctx: RefContext
    ) -> tuple[np.ndarray]:
        old = ctx.read(ref, op)
        if old.shape != delta.shape:
            raise ShapeError(
                f"delta of shape {format_shape(delta.shape)} does not match the value of variable {ref.name!r}, "
                f"shape {format_shape(old.shape)}"
            )
        new = np.asarray(combine(old, delta)).astype(old.dtype, copy=False)
        ctx.variables[ref.name] = new
        return (new,)

    return rule


impl_rule(ops.AssignAdd)(_update(np.add))
impl_rule(ops.AssignSub)(_update(np.subtract))


@impl_rule(ops.ApplyAdam)
def _apply_adam(
    op: ops.ApplyAdam,
    var: VariableRef,
    m: VariableRef,
    v: VariableRef,
    *operands: np.ndarray,
    ctx: RefContext,
) -> tuple[np.ndarray]:
    *scalars, grad = operands
    refs = (var, m, v)
    # All three are read before any is written: the step uses the values from before it.
    old = [ctx.read(ref, op) for ref in refs]
    check_adam_operands(*old, tuple(scalars), grad)
    new = adam_update(*old, *scalars, grad, use_nesterov=op.use_nesterov)
    for ref, value in zip(refs, new):
        ctx.variables[ref.name] = value
    return (new[0],)
