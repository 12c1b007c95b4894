"""Random tensors of the TF1-style API: ``random_uniform``, ``random_normal``,
``truncated_normal``.

Each function has the signature, default op name and seed rules of its TensorFlow 1.15
namesake: the op's ``(seed, seed2)`` come from the graph-level seed (``set_random_seed``) and
the ``seed`` argument through ``get_seed``, so a graph with a seed draws the same numbers in
every session. Shapes must be known when the graph is built. Distribution parameters given
as Python values become attributes of one op; parameters that are tensors computed at run
time are applied with arithmetic ops around a standard draw, as TF builds them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flowir.frontends.graph import dtypes as _dtypes
from flowir.frontends.graph.array_ops import (
    constant_value,
    ir_dtype,
    ir_type,
    is_tensor_like,
    make1,
    static_scalar,
    static_shape,
    tf_dtype,
)
from flowir.frontends.graph.building import convert_to_tensor
from flowir.frontends.graph.graph import get_seed, name_scope
from flowir.frontends.graph.tensor import Tensor
from flowir.ir import ops
from flowir.ir.core import Operation
from flowir.ir.dtypes import DType

__all__ = ["random_uniform", "random_normal", "truncated_normal"]


@dataclass(frozen=True)
class _Distribution:
    """How one random function builds its op: the op class, the function's default name, and
    the name of the standard draw when run-time parameters are applied around it."""

    op_class: type[Operation]
    default_name: str
    draw_name: str
    #: ``(location, scale)`` tensors from the parameter tensors, for the run-time form.
    affine: Callable[[dict[str, Tensor]], tuple[Tensor, Tensor]]


def _uniform_affine(p: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    return p["minval"], make1(ops.Sub, [p["maxval"], p["minval"]], None, "sub")


def _normal_affine(p: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    return p["mean"], p["stddev"]


_UNIFORM = _Distribution(ops.RandomUniform, "random_uniform", "RandomUniform", _uniform_affine)
_NORMAL = _Distribution(ops.RandomNormal, "random_normal", "RandomStandardNormal", _normal_affine)
_TRUNCATED = _Distribution(ops.TruncatedNormal, "truncated_normal", "TruncatedNormal", _normal_affine)


def _param(value: Any, dt: DType, what: str, fn: str) -> float | Tensor:
    """A distribution parameter: a float when known while building, else a tensor of ``dt``."""
    if not is_tensor_like(value):
        return float(static_scalar(value, what, fn))
    t = convert_to_tensor(value, name=what)
    if ir_type(t).dtype is not dt:
        raise TypeError(f"{fn}: {what} {t.name!r} has dtype {t.dtype}, expected {tf_dtype(dt)}")
    found = constant_value(t)
    if found is not None and found.ndim == 0:
        return float(found)
    return t


def _random(
    dist: _Distribution, shape: Any, dt: DType, seed: int | None, name: str | None, params: dict[str, Any]
) -> Tensor:
    """A draw of ``dist`` with ``params`` (``minval``/``maxval`` or ``mean``/``stddev``).

    Parameters known while building become attributes of one op; when one is a run-time
    tensor the op draws the standard distribution and ``* scale + location`` follows, as TF
    builds it.
    """
    fn = dist.default_name
    with name_scope(name, fn, [shape, *params.values()]) as scope:
        values = {k: _param(v, dt, k, fn) for k, v in params.items()}
        dims = static_shape(shape, "shape", fn)
        seed1, seed2 = get_seed(seed)
        seeds = {"seed": seed1 or 0, "seed2": seed2 or 0}
        if not any(isinstance(v, Tensor) for v in values.values()):
            return make1(dist.op_class, [], scope, fn, shape=dims, dtype=dt, **seeds, **values)
        if dt.is_integer:
            bad = next(v for v in values.values() if isinstance(v, Tensor))
            raise TypeError(
                f"{fn}: integer bounds must be known when the graph is built, but {bad.name!r} is computed at run time"
            )
        tensors = {
            k: v if isinstance(v, Tensor) else convert_to_tensor(v, dtype=tf_dtype(dt), name=k)
            for k, v in values.items()
        }
        draw = make1(dist.op_class, [], None, dist.draw_name, shape=dims, dtype=dt, **seeds)
        loc, scale = dist.affine(tensors)
        scaled = make1(ops.Mul, [draw, scale], None, "mul")
        return make1(ops.Add, [scaled, loc], scope, fn)


def random_uniform(
    shape: Any,
    minval: Any = 0,
    maxval: Any = None,
    dtype: Any = _dtypes.float32,
    seed: int | None = None,
    name: str | None = None,
) -> Tensor:
    """Uniform values in ``[minval, maxval)`` of ``shape`` (``tf.random_uniform``); default
    name ``"random_uniform"``.

    Float dtypes draw reals (``maxval`` defaults to 1); int32/int64 draw integers and need
    ``maxval`` (and bounds known while building). ``seed`` is the op-level seed.
    """
    dt = ir_dtype(dtype)
    if maxval is None:
        if dt.is_integer:
            raise ValueError(f"Must specify maxval for integer dtype {tf_dtype(dt)}")
        maxval = 1
    return _random(_UNIFORM, shape, dt, seed, name, {"minval": minval, "maxval": maxval})


def random_normal(
    shape: Any,
    mean: Any = 0.0,
    stddev: Any = 1.0,
    dtype: Any = _dtypes.float32,
    seed: int | None = None,
    name: str | None = None,
) -> Tensor:
    """Normally distributed floats of ``shape`` with ``mean`` and ``stddev``
    (``tf.random_normal``); default name ``"random_normal"``."""
    return _random(_NORMAL, shape, ir_dtype(dtype), seed, name, {"mean": mean, "stddev": stddev})


def truncated_normal(
    shape: Any,
    mean: Any = 0.0,
    stddev: Any = 1.0,
    dtype: Any = _dtypes.float32,
    seed: int | None = None,
    name: str | None = None,
) -> Tensor:
    """Normal floats of ``shape`` with ``mean`` and ``stddev``, re-drawn beyond two standard
    deviations (``tf.truncated_normal``); default name ``"truncated_normal"``."""
    return _random(_TRUNCATED, shape, ir_dtype(dtype), seed, name, {"mean": mean, "stddev": stddev})
