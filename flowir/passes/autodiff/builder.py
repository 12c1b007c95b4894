"""``VjpBuilder``: what a VJP rule builds its ops with.

A rule gets the builder, the forward op and the cotangents of the op's results, and returns
one cotangent (or ``None``) per operand. It creates ops through the builder, which names them
under the forward op's gradient scope (``layer1/MatMul_grad/MatMul``) and hands them to the
driver's ``emit``, and it uses the builder's shape helpers, which pick the smallest correct
graph from what the static types know (a ``reduce_sum`` when the broadcast dims are known, a
``grad.sum_to`` when only the run-time shapes tell).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from flowir.ir import ops
from flowir.ir.core import Operation, Value
from flowir.ir.dtypes import DType
from flowir.ir.types import Shape, TensorType

__all__ = ["Emit", "VjpBuilder", "is_float"]

#: How gradient ops are named after their class, where TF's name differs.
_KIND_NAMES: dict[type[Operation], str] = {ops.Constant: "Const"}

#: ``emit(op_class, *operands, name=..., **attrs) -> Operation``: creates an op and inserts it
#: in the graph being differentiated. ``name`` is relative to the gradient name scope
#: (``layer1/MatMul_grad/MatMul``); the emitter scopes it and makes it unique.
Emit = Callable[..., Operation]


def _shape(v: Value) -> Shape:
    return v.type.shape  # type: ignore[attr-defined]


def _dtype(v: Value) -> DType:
    return v.type.dtype  # type: ignore[attr-defined]


class VjpBuilder:
    """Builds the ops of VJP rules: ``b(ops.Mul, g, y)`` appends ``math.mul`` and returns
    its result; ``b.emit`` returns the op (for several results).

    ``op`` is the forward op being differentiated and ``needs[i]`` whether operand ``i``
    wants a cotangent: a rule may return ``None`` for the others, and should not build
    their ops.
    """

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._scope = ""
        self._constants: dict[tuple[float, DType], Value] = {}
        self.op: Operation | None = None
        self.needs: tuple[bool, ...] = ()

    def enter(self, op: Operation | None, needs: Sequence[bool] = (), scope: str | None = None) -> None:
        """Build for ``op`` from now on: its ops go under ``<op name>_grad`` (or ``scope``)."""
        self.op = op
        self.needs = tuple(needs)
        if scope is not None:
            self._scope = scope
        elif op is not None:
            self._scope = f"{op.user_name or type(op).__name__}_grad"
        else:
            self._scope = ""

    # -- creating ops ------------------------------------------------------------------------

    def emit(self, cls: type[Operation], *operands: Value | Sequence[Value], **attrs: Any) -> Operation:
        """Create an op of ``cls`` named ``<scope>/<ClassName>`` and insert it."""
        kind = _KIND_NAMES.get(cls, cls.__name__)
        name = f"{self._scope}/{kind}" if self._scope else kind
        return self._emit(cls, *operands, name=name, **attrs)

    def __call__(self, cls: type[Operation], *operands: Value | Sequence[Value], **attrs: Any) -> Value:
        """``emit(...)``'s single result."""
        return self.emit(cls, *operands, **attrs).result

    def scalar(self, value: float, like: Value) -> Value:
        """A scalar constant of ``like``'s dtype (one per value and dtype)."""
        dt = _dtype(like)
        key = (float(value), dt)
        found = self._constants.get(key)
        if found is None:
            found = self._constants[key] = self(ops.Constant, value=np.asarray(value, dtype=dt.numpy))
        return found

    def zeros_like(self, v: Value) -> Value:
        """Zeros of ``v``'s dtype and shape (an ``array.zeros_like`` of ``v``)."""
        return self(ops.ZerosLike, v)

    # -- shape helpers -----------------------------------------------------------------------

    def sum_to(self, g: Value, x: Value, others: Sequence[Shape] = ()) -> Value:
        """``g`` (of the broadcast result shape) summed back to ``x``'s shape.

        ``others`` are the shapes ``x`` was broadcast against (right-aligned, ``None`` for an
        unknown rank). When the types tell which dims were broadcast this is a ``reduce_sum``
        (or nothing); otherwise a ``grad.sum_to`` that decides at run time.
        """
        gs, xs = _shape(g), _shape(x)
        if gs is None or xs is None or len(gs) < len(xs):
            return self(ops.SumTo, g, x)
        lead = len(gs) - len(xs)
        kept: list[int] = []
        for i, d in enumerate(xs):
            j = lead + i
            if d == 1:
                if gs[j] != 1:
                    kept.append(j)
            elif d is None and not self._unbroadcast_there(j, len(gs), others):
                return self(ops.SumTo, g, x)
        dropped = list(range(lead))
        if dropped and kept:
            return self(ops.SumTo, g, x)
        if dropped:
            return self(ops.ReduceSum, g, axes=dropped)
        if kept:
            return self(ops.ReduceSum, g, axes=kept, keepdims=True)
        return g

    @staticmethod
    def _unbroadcast_there(j: int, rank: int, others: Sequence[Shape]) -> bool:
        """Whether every other operand has size 1 (or no dim) at result dim ``j``, so that an
        unknown dim of ``x`` there is the result's, never broadcast."""
        for o in others:
            if o is None:
                return False
            k = j - (rank - len(o))
            if k >= 0 and o[k] != 1:
                return False
        return True

    def reshape_to(self, g: Value, x: Value) -> Value:
        """``g`` (with as many elements as ``x``) in ``x``'s shape: a ``reshape`` when the
        types fix the shape (a single unknown dim becomes ``-1``), else ``grad.reshape_like``."""
        xs = _shape(x)
        if xs is not None:
            unknown = xs.count(None)
            if unknown == 0:
                if _shape(g) == xs:
                    return g
                return self(ops.Reshape, g, shape=list(xs))
            if unknown == 1 and 0 not in xs:
                return self(ops.Reshape, g, shape=[-1 if d is None else d for d in xs])
        return self(ops.ReshapeLike, g, x)

    def matrix_batch(self, v: Value) -> Shape:
        """``v``'s shape with its matrix dims as 1s: what a matmul operand broadcasts with."""
        s = _shape(v)
        return None if s is None else (*s[:-2], 1, 1)


def is_float(v: Value) -> bool:
    """Whether ``v`` is a floating-point tensor (the only values that carry gradients)."""
    ty = v.type
    return type(ty) is TensorType and ty.dtype.is_floating  # type: ignore[attr-defined]
