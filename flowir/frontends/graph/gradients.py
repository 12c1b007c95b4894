"""``tf.gradients`` and ``tf.stop_gradient``: symbolic derivatives built into the graph.

The gradient ops are IR ops like any other, built by the IR's reverse-mode pass
(``flowir.passes.autodiff``) under a ``gradients`` name scope with TF1's names
(``gradients/layer1/MatMul_grad/MatMul``), so a training graph can be printed, optimised,
run on any backend and exported.
"""

from __future__ import annotations

from typing import Any

from flowir.frontends.graph.building import convert_to_tensor, make_op
from flowir.frontends.graph.graph import Graph, name_scope
from flowir.frontends.graph.tensor import Tensor
from flowir.frontends.graph.variables import Variable
from flowir.ir import ops
from flowir.ir.core import Operation as IROperation
from flowir.ir.core import Value
from flowir.passes.autodiff import gradients as ir_gradients

__all__ = ["gradients", "stop_gradient"]

_UNCONNECTED = ("none", "zero")


def _as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _as_tensor(x: Any, what: str) -> Tensor:
    """A tensor for an entry of ``ys``, ``xs`` or ``stop_gradients``: a variable stands for its
    value (``w/read:0``), as TF's ``convert_to_tensor`` makes it."""
    if x is None:
        raise TypeError(f"gradients(): an entry of {what} is None; expected a Tensor or Variable")
    if isinstance(x, Variable):
        return x.value()
    return convert_to_tensor(x)


def _unconnected_mode(value: Any) -> str:
    mode = str(getattr(value, "value", value)).lower()
    if mode not in _UNCONNECTED:
        raise ValueError(f"unconnected_gradients must be 'none' or 'zero', got {value!r}")
    return mode


def gradients(
    ys: Any,
    xs: Any,
    grad_ys: Any = None,
    name: str = "gradients",
    colocate_gradients_with_ops: bool = False,
    gate_gradients: bool = False,
    aggregation_method: Any = None,
    stop_gradients: Any = None,
    unconnected_gradients: Any = "none",
) -> list[Tensor | None]:
    """The symbolic derivatives of ``sum(ys)`` with respect to each of ``xs`` (TF 1.15's
    ``tf.gradients``).

    ``ys`` and ``xs`` are tensors or variables (a variable means its value, ``w/read:0``), or
    lists of them; ``grad_ys`` the initial gradients of ``ys`` (default: ones), one per ``y``
    (``None`` entries take the default). Returns one tensor per ``x``, of its shape and dtype:
    ``None`` when ``x`` does not reach any ``y`` through float ops (integer and boolean paths
    carry no gradient), or zeros with ``unconnected_gradients="zero"``. ``stop_gradients``
    are tensors held constant (``tf.stop_gradient`` marks one in the graph).

    ``colocate_gradients_with_ops``, ``gate_gradients`` and ``aggregation_method`` are
    accepted for compatibility; they change nothing here (gradients are computed exactly and
    placed where the backend puts them).

    >>> import flowir as tf
    >>> g = tf.Graph()
    >>> with g.as_default():
    ...     x = tf.constant(3.0)
    ...     (dx,) = tf.gradients(x * 2.0, x)
    >>> dx.name
    'gradients/mul_grad/Mul:0'

    Raises ``LookupError`` (``NotDifferentiableError``) naming an op on the path that has no
    gradient, ``ValueError`` for ``grad_ys`` of the wrong length or shape.
    """
    y_list = [_as_tensor(y, "ys") for y in _as_list(ys)]
    x_list = [_as_tensor(x, "xs") for x in _as_list(xs)]
    stops = [_as_tensor(s, "stop_gradients") for s in _as_list(stop_gradients)] if stop_gradients is not None else []
    mode = _unconnected_mode(unconnected_gradients)
    if grad_ys is None:
        gy_list: list[Any] = [None] * len(y_list)
    else:
        gy_list = _as_list(grad_ys)
        if len(gy_list) != len(y_list):
            raise ValueError(f"Passed {len(gy_list)} grad_ys for {len(y_list)} ys")
    if not x_list:
        return []
    with name_scope(name, "gradients", [*y_list, *x_list, *stops]):
        graph: Graph = x_list[0].graph
        seeds: list[Value | None] = []
        for i, (y, gy) in enumerate(zip(y_list, gy_list)):
            if gy is None:
                seeds.append(None)
                continue
            t = convert_to_tensor(gy, dtype=y.dtype.base_dtype, name=f"grad_ys_{i}")
            if not t.shape.is_compatible_with(y.shape):
                raise ValueError(f"Incompatible shapes between op input and calculated input gradient: {t.shape} for {y}")
            seeds.append(t.value)

        def emit(cls: type[IROperation], *operands: Any, name: str, **attrs: Any) -> IROperation:
            inputs = [
                [graph._tensor_of(v) for v in x] if isinstance(x, (list, tuple)) else graph._tensor_of(x)
                for x in operands
            ]
            return make_op(cls, inputs, name=name, default_name=cls.__name__, **attrs).ir_op

        grads = ir_gradients(
            graph.ir_graph,
            [y.value for y in y_list],
            [x.value for x in x_list],
            seeds,
            stop=[s.value for s in stops],
            emit=emit,
        )
        out: list[Tensor | None] = []
        for x, g in zip(x_list, grads):
            if g is not None:
                out.append(graph._tensor_of(g))
            elif mode == "zero":
                out.append(make_op(ops.ZerosLike, [x], name="zeros_like", default_name="zeros_like").outputs[0])
            else:
                out.append(None)
    return out


def stop_gradient(input: Any, name: str | None = None) -> Tensor:  # noqa: A002 - TF's name
    """``input`` unchanged, but a constant for ``gradients`` (TF's ``tf.stop_gradient``)."""
    x = convert_to_tensor(input)
    return make_op(ops.StopGradient, [x], name=name, default_name="StopGradient").outputs[0]
