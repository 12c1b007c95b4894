"""Reference kernels: the train dialect (fused optimizer updates).

An update is computed in its operands' dtype, one rounding per operation in the order TF's CPU
kernel (``ApplyAdamNonCuda``) evaluates, so its results are bitwise those of the same formula
built from math ops: for float16 and bfloat16 the math kernels compute each op in float32 and
round back, which is exactly what numpy's float16 and ml_dtypes' bfloat16 loops do.

Temporaries are kept down with ``out=``: besides its three results a kernel allocates one
scratch array, and it never writes into its operands (they may be feeds, or values a caller
still holds).
"""

from __future__ import annotations

import numpy as np

from flowir.ir import ops
from flowir.ir.dtypes import dtype_of
from flowir.ir.ops.train import adam_update_type
from flowir.ir.reference._registry import impl_rule
from flowir.ir.types import TensorType

__all__ = ["adam_update", "check_adam_operands"]


def check_adam_operands(
    var: np.ndarray, m: np.ndarray, v: np.ndarray, scalars: tuple[np.ndarray, ...], grad: np.ndarray
) -> None:
    """Raise the type rule's ``ShapeError`` unless ``var``, ``m``, ``v`` and ``grad`` have one
    shape and every one of ``scalars`` is 0-d (what wildcard types let through to run time)."""
    if var.shape == m.shape == v.shape == grad.shape and all(s.ndim == 0 for s in scalars):
        return

    def ty(a: np.ndarray) -> TensorType:
        return TensorType(dtype_of(a), a.shape)

    adam_update_type(ty(var), ty(m), ty(v), tuple(ty(s) for s in scalars), ty(grad))


def adam_update(
    var: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    beta1_power: np.ndarray,
    beta2_power: np.ndarray,
    lr: np.ndarray,
    beta1: np.ndarray,
    beta2: np.ndarray,
    epsilon: np.ndarray,
    grad: np.ndarray,
    use_nesterov: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(new_var, new_m, new_v)``: one Adam step by TF1's rule (see ``train.adam_update``),
    in fresh arrays. The operands have one float dtype; ``var``, ``m``, ``v`` and ``grad`` one
    shape (``check_adam_operands``), the others are 0-d."""
    shape, dtype = var.shape, var.dtype
    one = dtype.type(1)

    def fresh() -> np.ndarray:
        # An explicit ``out`` keeps 0-d results arrays (numpy returns scalars for them), so the
        # in-place steps below work for every shape.
        return np.empty(shape, dtype)

    with np.errstate(all="ignore"):
        alpha = lr * np.sqrt(one - beta2_power) / (one - beta1_power)
        # m + (grad - m) * (1 - beta1), v + (grad * grad - v) * (1 - beta2): each in place in
        # its result, which adds the old value last (addition commutes bitwise).
        new_m = np.subtract(grad, m, out=fresh())
        new_m *= one - beta1
        new_m += m
        new_v = np.multiply(grad, grad, out=fresh())
        new_v -= v
        new_v *= one - beta2
        new_v += v
        new_var = fresh()
        if use_nesterov:
            step = np.multiply(grad, one - beta1, out=fresh())
            np.multiply(new_m, beta1, out=new_var)
            step += new_var
            step *= alpha
        else:
            step = np.multiply(new_m, alpha, out=fresh())
        np.sqrt(new_v, out=new_var)
        new_var += epsilon
        step /= new_var
        np.subtract(var, step, out=new_var)
    return new_var, new_m, new_v


@impl_rule(ops.AdamUpdate)
def _adam_update(
    op: ops.AdamUpdate,
    var: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    beta1_power: np.ndarray,
    beta2_power: np.ndarray,
    lr: np.ndarray,
    beta1: np.ndarray,
    beta2: np.ndarray,
    epsilon: np.ndarray,
    grad: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scalars = (beta1_power, beta2_power, lr, beta1, beta2, epsilon)
    check_adam_operands(var, m, v, scalars, grad)
    return adam_update(var, m, v, *scalars, grad, use_nesterov=op.use_nesterov)
