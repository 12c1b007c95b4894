"""The train dialect: pure, fused optimizer updates.

An optimizer step updates each variable from its gradient and slot values in a dozen
elementwise operations. TF runs them as one kernel (``ApplyAdam``); the state dialect has its
stateful counterpart (``state.apply_adam``), which functionalize-state turns into the pure op
here: new values computed from old ones, every result a fresh value, so backends can fuse the
update (the numpy kernel in ``flowir/ir/reference/train.py`` allocates only its results and
one temporary) and passes can treat it like any other pure op.

Operands follow TF's ``ApplyAdam``: the updated tensors, then the scalar hyperparameters, then
the gradient.
"""

from __future__ import annotations

from flowir.ir.core import PURE, Operation, attr, operand, register_op
from flowir.ir.errors import ShapeError
from flowir.ir.ops._base import FLOATS, require_dtypes, same_dtype, tensor
from flowir.ir.types import TensorType, Type, format_shape

__all__ = ["AdamUpdate"]

#: The scalar operands of the Adam update ops, in operand order.
ADAM_SCALARS = ("beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon")


def adam_update_type(
    var: TensorType, m: TensorType, v: TensorType, scalars: tuple[Type, ...], grad: Type
) -> TensorType:
    """The type of an Adam update's new values, checking its operands (TF's ``ApplyAdam``
    shape function).

    ``var``, ``m``, ``v`` and ``grad`` hold floats of one dtype and compatible shapes (no
    broadcasting); each of ``scalars`` (named as ``ADAM_SCALARS``) is a rank-0 tensor of that
    dtype (or of unknown rank). The result is what all four shapes tell. Raises
    ``DTypeError`` or ``ShapeError`` naming the offending operand.
    """
    g = tensor(grad, "grad")
    require_dtypes(var, FLOATS, "var")
    same_dtype(var, m, v, g, what="var, m, v and grad")
    new = var
    seen = ["var"]
    for what, t in (("m", m), ("v", v), ("grad", g)):
        met = new.meet(t)
        if met is None:
            raise ShapeError(
                f"{what} has shape {format_shape(t.shape)}, which does not fit the shape {format_shape(new.shape)} "
                f"of {', '.join(seen)}"
            )
        new = met
        seen.append(what)
    for what, s in zip(ADAM_SCALARS, scalars):
        t = tensor(s, what)
        same_dtype(var, t, what=f"var and {what}")
        if t.shape is not None and t.shape != ():
            raise ShapeError(f"{what} must be a scalar, got shape {format_shape(t.shape)}")
    return new


class AdamOperands(Operation):
    """The operands and attribute shared by ``train.adam_update`` and its stateful
    counterpart ``state.apply_adam`` (TF's ``ApplyAdam`` order); not an op itself."""

    var = operand()
    m = operand(doc="the first moment estimate")
    v = operand(doc="the second moment estimate")
    beta1_power = operand(doc="beta1 to the power of the step number")
    beta2_power = operand(doc="beta2 to the power of the step number")
    lr = operand(doc="the learning rate")
    beta1 = operand()
    beta2 = operand()
    epsilon = operand()
    grad = operand()
    use_nesterov = attr(bool, default=False)


@register_op
class AdamUpdate(AdamOperands):
    """One Adam step, TF1's rule (``ApplyAdam``): ``(new_var, new_m, new_v)`` from ``var``,
    its moments ``m`` and ``v``, and the gradient ``grad``::

        lr_t = lr * sqrt(1 - beta2_power) / (1 - beta1_power)
        new_m = m + (grad - m) * (1 - beta1)
        new_v = v + (grad * grad - v) * (1 - beta2)
        new_var = var - new_m * lr_t / (sqrt(new_v) + epsilon)

    and with ``use_nesterov`` ``new_var = var - (grad * (1 - beta1) + beta1 * new_m) * lr_t /
    (sqrt(new_v) + epsilon)``. Each operation is rounded to the operands' dtype, in this
    order, as TF's CPU kernel computes. Operand rules: see ``adam_update_type``; the three
    results have that type.
    """

    name = "train.adam_update"
    traits = PURE

    def infer_type(
        self,
        var: Type,
        m: Type,
        v: Type,
        beta1_power: Type,
        beta2_power: Type,
        lr: Type,
        beta1: Type,
        beta2: Type,
        epsilon: Type,
        grad: Type,
    ) -> tuple[TensorType, TensorType, TensorType]:
        new = adam_update_type(
            tensor(var, "var"),
            tensor(m, "m"),
            tensor(v, "v"),
            (beta1_power, beta2_power, lr, beta1, beta2, epsilon),
            grad,
        )
        return new, new, new
