"""``check_grads``: reverse-mode gradients checked against central finite differences (JAX's
``jax.test_util.check_grads`` for flowir graphs).

The function under test builds IR ops: ``fun(emit, *xs)`` with ``emit(op_class, *operands,
**attrs) -> Operation`` (the op is appended to the graph being built) returns a value or a
sequence of values. For each argument ``x_i`` and random directions, the VJP's
``<vjp_i(ct), v_i>`` must match ``<ct, (f(x_i + eps v_i) - f(x_i - eps v_i)) / 2 eps>``; with
``order=2`` the VJP itself is checked the same way (Hessian-vector products), and so on.

>>> import numpy as np
>>> from flowir.ir import ops
>>> check_grads(lambda emit, x: emit(ops.Tanh, emit(ops.Mul, x, x).result).result, [np.linspace(-1, 1, 5)], order=2)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from flowir.ir.core import Graph, Operation, Value
from flowir.ir.dtypes import DType, dtype_of
from flowir.ir.reference import evaluate, run_op
from flowir.ir.types import TensorType
from flowir.passes.autodiff import gradients

__all__ = ["check_grads", "vjp", "GradFun"]

#: ``fun(emit, *xs) -> Value | Sequence[Value]``.
GradFun = Callable[..., Any]

#: ``(eps, rtol, atol)`` per float dtype.
_DEFAULTS: dict[DType, tuple[float, float, float]] = {
    DType.float64: (1e-6, 1e-5, 1e-8),
    DType.float32: (1e-3, 3e-2, 1e-4),
}


class _Built:
    """``fun`` built on inputs of ``types``, with its VJP for cotangent inputs."""

    def __init__(self, fun: GradFun, types: Sequence[TensorType]) -> None:
        g = Graph("check_grads")
        self.graph = g
        self.xs = [g.add_input(t, f"x{i}") for i, t in enumerate(types)]
        emit = _emitter(g)
        self.outs = _as_values(fun(emit, *self.xs))
        self.cts = [g.add_input(o.type, f"ct{j}") for j, o in enumerate(self.outs)]
        self.grads = gradients(g, self.outs, self.xs, self.cts, emit=emit)
        self._forward_ops = _needed_ops(self.outs)

    def forward(self, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        """``fun``'s outputs, from the ops they need only."""
        env: dict[Value, Any] = dict(zip(self.xs, args))
        for op in self.graph.ops:
            if op in self._forward_ops:
                env.update(zip(op.results, run_op(op, [env[v] for v in op.operands])))
        return [np.asarray(env[o]) for o in self.outs]

    def vjp(self, args: Sequence[np.ndarray], cts: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One cotangent per argument (zeros where the gradient is ``None``)."""
        live = [v for v in self.grads if v is not None]
        got = iter(evaluate(self.graph, [*args, *cts], fetches=live))
        return [np.zeros_like(a) if v is None else np.asarray(next(got)) for v, a in zip(self.grads, args)]


def _needed_ops(outs: Sequence[Value]) -> set[Operation]:
    need: set[Operation] = set()
    stack = [o.owner for o in outs if o.owner is not None]
    while stack:
        op = stack.pop()
        if op not in need:
            need.add(op)
            stack.extend(v.owner for v in op.operands if v.owner is not None)
    return need


def _emitter(g: Graph) -> Callable[..., Operation]:
    def emit(cls: type[Operation], *operands: Any, name: str | None = None, **attrs: Any) -> Operation:
        return g.append(cls.create(*operands, name=name, **attrs))

    return emit


def _as_values(out: Value | Sequence[Value]) -> list[Value]:
    return [out] if isinstance(out, Value) else list(out)


def _types(args: Sequence[np.ndarray], input_types: Sequence[TensorType] | None) -> list[TensorType]:
    if input_types is None:
        return [TensorType(dtype_of(a), a.shape) for a in args]
    if len(input_types) != len(args):
        raise ValueError(f"{len(input_types)} input types for {len(args)} arguments")
    return list(input_types)


def vjp(
    fun: GradFun,
    args: Sequence[Any],
    cts: Sequence[Any] | None = None,
    *,
    input_types: Sequence[TensorType] | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``fun``'s outputs at ``args`` and their VJP for the cotangents ``cts`` (default: ones),
    one array per argument (zeros where the gradient is ``None``)."""
    arrays = [np.asarray(a) for a in args]
    built = _Built(fun, _types(arrays, input_types))
    outs = built.forward(arrays)
    ct_arrays = [np.ones_like(o) for o in outs] if cts is None else [np.asarray(c) for c in cts]
    return outs, built.vjp(arrays, ct_arrays)


def check_grads(
    fun: GradFun,
    args: Sequence[Any],
    order: int = 1,
    *,
    eps: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    seed: int = 0,
    input_types: Sequence[TensorType] | None = None,
) -> None:
    """Check ``fun``'s gradients up to ``order`` at ``args`` (float arrays, float64 advised)
    against central finite differences with step ``eps``.

    ``input_types`` are the types of the graph inputs (default: the arrays' exact types); give
    ``None`` dims or unknown ranks to exercise the run-time shape paths of the rules.
    Tolerances default per dtype; a check passes when the two sides differ by at most
    ``atol + rtol * scale``, ``scale`` summing the magnitudes of the terms of both sides.
    Raises ``AssertionError`` naming the derivative, the argument and both values.
    """
    arrays = [np.asarray(a) for a in args]
    if not arrays:
        raise ValueError("check_grads(): no arguments")
    dtype = dtype_of(arrays[0])
    d_eps, d_rtol, d_atol = _DEFAULTS.get(dtype, _DEFAULTS[DType.float32])
    eps = d_eps if eps is None else eps
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol
    rng = np.random.default_rng(seed)
    types = _types(arrays, input_types)
    for level in range(1, order + 1):
        built, cts = _check_level(fun, arrays, types, level, rng, eps, rtol, atol)
        live = [i for i, g in enumerate(built.grads) if g is not None]
        if not live:
            return
        # The next level checks the VJP as a function of the arguments and the cotangents.
        fun = _vjp_fun(fun, len(arrays), live)
        arrays = [*arrays, *cts]
        types = [*types, *(o.type for o in built.outs)]  # type: ignore[list-item]


def _check_level(
    fun: GradFun,
    arrays: list[np.ndarray],
    types: list[TensorType],
    level: int,
    rng: np.random.Generator,
    eps: float,
    rtol: float,
    atol: float,
) -> tuple[_Built, list[np.ndarray]]:
    """Check ``fun``'s VJP at ``arrays`` for random cotangents (returned) and directions."""
    built = _Built(fun, types)
    outs = built.forward(arrays)
    cts = [rng.standard_normal(o.shape).astype(o.dtype) for o in outs]
    grads = built.vjp(arrays, cts)
    for i, (x, gx) in enumerate(zip(arrays, grads)):
        if not np.issubdtype(x.dtype, np.floating):
            continue
        v = rng.standard_normal(x.shape).astype(x.dtype)
        plus = built.forward(_replace(arrays, i, x + eps * v))
        minus = built.forward(_replace(arrays, i, x - eps * v))
        numeric_terms = [
            c.astype(np.float64) * (p.astype(np.float64) - m.astype(np.float64)) / (2 * eps)
            for c, p, m in zip(cts, plus, minus)
        ]
        numeric = float(sum(t.sum() for t in numeric_terms))
        analytic_terms = gx.astype(np.float64) * v.astype(np.float64)
        analytic = float(analytic_terms.sum())
        scale = float(sum(np.abs(t).sum() for t in numeric_terms)) + float(np.abs(analytic_terms).sum())
        if not abs(numeric - analytic) <= atol + rtol * scale:
            raise AssertionError(
                f"derivative {level}: the VJP of argument {i} (shape {x.shape}) along a random direction is "
                f"{analytic!r}, finite differences give {numeric!r} (eps {eps}, scale {scale:.3g})"
            )
    return built, cts


def _vjp_fun(fun: GradFun, n: int, live: list[int]) -> GradFun:
    """``(xs, cts) -> the gradients of fun at xs for cts`` (those at ``live``), as a ``GradFun``."""

    def vjp_fun(emit: Callable[..., Operation], *values: Value) -> list[Value]:
        xs, ct_values = list(values[:n]), list(values[n:])
        inner = _as_values(fun(emit, *xs))
        got = gradients(xs[0].graph, inner, xs, ct_values, emit=emit)  # type: ignore[attr-defined]
        return [got[i] for i in live]  # type: ignore[misc]

    return vjp_fun


def _replace(arrays: Sequence[np.ndarray], i: int, new: np.ndarray) -> list[np.ndarray]:
    out = list(arrays)
    out[i] = new.astype(arrays[i].dtype)
    return out
