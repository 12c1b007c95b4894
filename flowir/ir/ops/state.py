"""The state dialect: variables and the ops that read and update them.

A ``state.variable`` op yields a handle (``ResourceType``) naming a mutable slot; reads and
assignments take the handle. All these ops are ``STATEFUL``: their order in the graph is the
order in which they act, and no pass may fold, deduplicate or reorder them. The numpy kernels
in ``flowir/ir/reference/state.py`` keep the values in ``RefContext.variables``, keyed by
``Variable.var_name``.
"""

from __future__ import annotations

from flowir.ir.core import Operation, Trait, attr, operand, register_op
from flowir.ir.errors import DTypeError, OpAttributeError, ShapeError
from flowir.ir.ops._base import NUMERIC, require_dtypes, tensor
from flowir.ir.ops.train import AdamOperands, adam_update_type
from flowir.ir.types import ResourceType, TensorType, Type, format_shape

__all__ = ["Variable", "Read", "Assign", "AssignAdd", "AssignSub", "ApplyAdam"]

STATEFUL = frozenset({Trait.STATEFUL})


def resource(ty: Type, what: str = "ref") -> ResourceType:
    """``ty`` as a ``ResourceType``; ``DTypeError`` if it is not a variable handle."""
    if type(ty) is not ResourceType:
        raise DTypeError(f"{what} must be a variable handle, got {ty!r}")
    return ty  # type: ignore[return-value]


@register_op
class Variable(Operation):
    """A variable: its one result is a handle of the ``ResourceType`` given at creation.

    ``shared_name`` is the variable's identity (the key of its value in the state); ``""``
    means the op's user name. A variable without either is an ``OpAttributeError``.

    >>> from flowir.ir.dtypes import DType
    >>> v = Variable.create(name="w", result_types=[ResourceType(TensorType(DType.float32, (2,)))], loc=None)
    >>> v.var_name, v.result.type
    ('w', !flowir.var<tensor<2xf32>>)
    """

    name = "state.variable"
    traits = STATEFUL
    explicit_result_types = True
    shared_name = attr(str, default="", doc="the variable's identity; '' for the op's name")

    @property
    def var_name(self) -> str:
        """The name that identifies the variable's value in the state."""
        return self.shared_name or self.user_name or ""

    @property
    def value_type(self) -> TensorType:
        """The type of the values the variable holds (its handle's ``ResourceType.value_type``)."""
        return resource(self.results[0].type, "result").value_type

    def verify_attributes(self) -> None:
        # create() calls this once the explicit result types are in place, so the result
        # type is checked here rather than in a type rule.
        try:
            if len(self.results) != 1:
                raise DTypeError(f"a variable has one result, got {len(self.results)}")
            resource(self.results[0].type, "the result")
            if not self.var_name:
                raise OpAttributeError("a variable needs a user name or a shared_name")
        except (DTypeError, OpAttributeError) as e:
            self.annotate_error(e)
            raise


@register_op
class Read(Operation):
    """The current value of the variable ``ref``; reading one never assigned is a run-time error."""

    name = "state.read"
    traits = STATEFUL
    ref = operand()

    def infer_type(self, ref: Type) -> TensorType:
        return resource(ref).value_type


def _checked_update(ref: Type, value: Type, what: str, numeric: bool) -> TensorType:
    var = resource(ref).value_type
    t = tensor(value, what)
    if t.dtype is not var.dtype:
        raise DTypeError(f"{what} has dtype {t.dtype.value} but the variable holds {var.dtype.value}")
    if numeric:
        require_dtypes(t, NUMERIC, what)
    new = var.meet(t)
    if new is None:
        raise ShapeError(
            f"{what} of shape {format_shape(t.shape)} does not fit the variable's shape {format_shape(var.shape)}"
        )
    return new  # type: ignore[return-value]


@register_op
class Assign(Operation):
    """Sets the variable ``ref`` to ``value`` and yields the new value.

    ``value`` has the variable's dtype and a shape compatible with its type; the result type
    is what both types know.
    """

    name = "state.assign"
    traits = STATEFUL
    ref = operand()
    value = operand()

    def infer_type(self, ref: Type, value: Type) -> TensorType:
        return _checked_update(ref, value, "value", numeric=False)


class DeltaUpdate(Operation):
    """The shape of ``assign_add`` and ``assign_sub``: a variable ``ref`` and a numeric
    ``delta`` of its dtype and shape; not an op itself."""

    traits = STATEFUL
    ref = operand()
    delta = operand()

    def infer_type(self, ref: Type, delta: Type) -> TensorType:
        return _checked_update(ref, delta, "delta", numeric=True)


@register_op
class AssignAdd(DeltaUpdate):
    """Adds ``delta`` (numeric, the variable's dtype and shape; no broadcasting) to the
    variable ``ref`` and yields the new value; integers wrap."""

    name = "state.assign_add"


@register_op
class AssignSub(DeltaUpdate):
    """Subtracts ``delta`` (numeric, the variable's dtype and shape; no broadcasting) from
    the variable ``ref`` and yields the new value; integers wrap."""

    name = "state.assign_sub"


@register_op
class ApplyAdam(AdamOperands):
    """One Adam step on the variables ``var``, ``m`` and ``v`` (TF's ``ApplyAdam``): sets
    them to the ``train.adam_update`` of their values and ``grad`` (same operands, same rule)
    and yields the new value of ``var``.

    Every new value is computed from the values before the step (all three are read first,
    then written in the order var, m, v). Operand rules: see ``adam_update_type``, with the
    handles' value types for var, m and v.
    """

    name = "state.apply_adam"
    traits = STATEFUL

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
    ) -> TensorType:
        return adam_update_type(
            resource(var, "var").value_type,
            resource(m, "m").value_type,
            resource(v, "v").value_type,
            (beta1_power, beta2_power, lr, beta1, beta2, epsilon),
            grad,
        )
