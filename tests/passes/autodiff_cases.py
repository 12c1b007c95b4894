"""One random test case per differentiable op: a flowir function of float arguments, the
equivalent jax function, arguments away from the op's kinks, and declared input types (some
dims ``None``, sometimes the rank unknown) that make the VJP rules take their run-time paths.

``CASES[op_class](draw) -> Case``. Integer operands (indices, conditions) are constants of the
flowir function and closed over by the jax one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st

from flowir.ir import DType, Operation, TensorType, Value, ops
from flowir.ir.ops.array import strided_slice_spec
from flowir.testing.strategies import broadcastable_shapes

F64 = DType.float64
DrawFn = Callable[[st.SearchStrategy[Any]], Any]


@dataclass
class Case:
    """``fun(emit, *xs)`` builds the op on ``args`` (declared as ``types``); ``jfun(*args)`` is
    the same in jax. ``tolerances`` override ``check_grads``'s (``eps``, ``rtol``, ``atol``)."""

    fun: Callable[..., Any]
    jfun: Callable[..., Any]
    args: list[np.ndarray]
    types: list[TensorType]
    tolerances: dict[str, float] = field(default_factory=dict)


CASES: dict[type[Operation], Callable[[DrawFn], Case]] = {}


def case(*classes: type[Operation]) -> Callable[[Callable[..., Case]], Callable[..., Case]]:
    def register(fn: Callable[..., Case]) -> Callable[..., Case]:
        for cls in classes:
            CASES[cls] = (lambda c: lambda draw: fn(draw, c))(cls)
        return fn

    return register


# --------------------------------------------------------------------------------------------
# Drawing values and types


def rng_of(draw: DrawFn) -> np.random.Generator:
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


def values(rng: np.random.Generator, shape: Sequence[int], kind: str = "normal") -> np.ndarray:
    """float64 values of ``shape``: ``normal``, ``positive`` (in [0.5, 2]) or ``away`` (from
    zero: magnitude in [0.3, 2], either sign)."""
    shape = tuple(shape)
    if kind == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if kind == "away":
        return rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    return rng.standard_normal(shape)


def declared(draw: DrawFn, shape: Sequence[int], *, unknown_rank: bool = True) -> TensorType:
    """A float64 type that ``shape`` fits: exact, or with some dims ``None``, or (rarely) of
    unknown rank."""
    choice = draw(st.integers(0, 7))
    if choice < 3:
        return TensorType(F64, tuple(shape))
    if choice == 7 and unknown_rank:
        return TensorType(F64, None)
    return TensorType(F64, tuple(None if draw(st.booleans()) else d for d in shape))


def small_shape(draw: DrawFn, min_rank: int = 0, max_rank: int = 3, min_side: int = 1) -> tuple[int, ...]:
    return tuple(draw(st.lists(st.integers(min_side, 4), min_size=min_rank, max_size=max_rank)))


def make(
    draw: DrawFn,
    fun: Callable[..., Any],
    jfun: Callable[..., Any],
    args: Sequence[np.ndarray],
    *,
    exact: Sequence[int] = (),
    **tolerances: float,
) -> Case:
    """A case whose argument ``i`` is declared exactly when ``i in exact``, else by ``declared``."""
    types = [TensorType(F64, a.shape) if i in exact else declared(draw, a.shape) for i, a in enumerate(args)]
    return Case(fun, jfun, list(args), types, dict(tolerances))


def const(emit: Callable[..., Operation], value: np.ndarray) -> Value:
    return emit(ops.Constant, value=value).result


def one(emit: Callable[..., Operation], cls: type[Operation], *operands: Any, **attrs: Any) -> Value:
    return emit(cls, *operands, **attrs).result


# --------------------------------------------------------------------------------------------
# Elementwise


BINARY = {
    ops.Add: (jnp.add, "normal", "normal"),
    ops.Sub: (jnp.subtract, "normal", "normal"),
    ops.Mul: (jnp.multiply, "normal", "normal"),
    ops.Div: (jnp.divide, "normal", "away"),
    ops.Maximum: (jnp.maximum, "normal", "normal"),
    ops.Minimum: (jnp.minimum, "normal", "normal"),
    ops.Pow: (jnp.power, "positive", "normal"),
    ops.ReluGrad: (lambda x, y: jnp.where(y > 0, x, 0.0), "normal", "away"),
}


@case(*BINARY)
def _binary(draw: DrawFn, cls: type[Operation]) -> Case:
    jfn, kx, ky = BINARY[cls]
    shapes = draw(broadcastable_shapes(2, max_dims=3, max_side=4, wildcards=False)).concrete_shapes
    rng = rng_of(draw)
    x, y = values(rng, shapes[0], kx), values(rng, shapes[1], ky)
    return make(draw, lambda emit, a, b: one(emit, cls, a, b), jfn, [x, y])


@case(ops.Mod)
def _mod(draw: DrawFn, cls: type[Operation]) -> Case:
    drawn = draw(broadcastable_shapes(2, max_dims=3, max_side=4, wildcards=False))
    rng = rng_of(draw)
    # x / y stays clear of the integers, where mod jumps: one operand is made from the other
    # (broadcast to the result's shape) and a quotient with a fractional part in [0.2, 0.8].
    q = rng.integers(-3, 3, drawn.concrete_result) + rng.uniform(0.2, 0.8, drawn.concrete_result)
    if draw(st.booleans()):
        y = values(rng, drawn.concrete_shapes[1], "away")
        x = q * np.broadcast_to(y, q.shape)
    else:
        x = values(rng, drawn.concrete_shapes[0], "away")
        y = np.broadcast_to(x, q.shape) / q
    return make(draw, lambda emit, a, b: one(emit, ops.Mod, a, b), jnp.mod, [x, y])


@case(ops.Select)
def _select(draw: DrawFn, cls: type[Operation]) -> Case:
    shapes = draw(broadcastable_shapes(3, max_dims=3, max_side=4, wildcards=False)).concrete_shapes
    rng = rng_of(draw)
    cond = rng.integers(0, 2, shapes[0]).astype(bool)
    x, y = values(rng, shapes[1]), values(rng, shapes[2])
    return make(
        draw,
        lambda emit, a, b: one(emit, ops.Select, const(emit, cond), a, b),
        lambda a, b: jnp.where(cond, a, b),
        [x, y],
    )


UNARY = {
    ops.Identity: (lambda x: x, "normal"),
    ops.Neg: (jnp.negative, "normal"),
    ops.Abs: (jnp.abs, "away"),
    ops.Sign: (jnp.sign, "away"),
    ops.Exp: (jnp.exp, "normal"),
    ops.Log: (jnp.log, "positive"),
    ops.Sqrt: (jnp.sqrt, "positive"),
    ops.Rsqrt: (jax.lax.rsqrt, "positive"),
    ops.Square: (jnp.square, "normal"),
    ops.Tanh: (jnp.tanh, "normal"),
    ops.Sigmoid: (jax.nn.sigmoid, "normal"),
    ops.Sin: (jnp.sin, "normal"),
    ops.Cos: (jnp.cos, "normal"),
    ops.Softplus: (jax.nn.softplus, "normal"),
    ops.Relu: (jax.nn.relu, "away"),
}


@case(*UNARY)
def _unary(draw: DrawFn, cls: type[Operation]) -> Case:
    jfn, kind = UNARY[cls]
    x = values(rng_of(draw), small_shape(draw), kind)
    return make(draw, lambda emit, a: one(emit, cls, a), jfn, [x])


@case(ops.Cast)
def _cast(draw: DrawFn, cls: type[Operation]) -> Case:
    # Through float32 and back: the rounding in between is why the step is large.
    x = values(rng_of(draw), small_shape(draw))

    def fun(emit: Callable[..., Operation], a: Value) -> Value:
        return one(emit, ops.Cast, one(emit, ops.Cast, a, dtype=DType.float32), dtype=F64)

    return make(draw, fun, lambda a: a.astype(jnp.float32).astype(jnp.float64), [x], eps=1e-2, rtol=1e-4)


# --------------------------------------------------------------------------------------------
# Matmul and reductions


@case(ops.MatMul)
def _matmul(draw: DrawFn, cls: type[Operation]) -> Case:
    batch = draw(broadcastable_shapes(2, max_dims=2, max_side=3, wildcards=False)).concrete_shapes
    m, k, n = (draw(st.integers(1, 4)) for _ in range(3))
    ta, tb = draw(st.booleans()), draw(st.booleans())
    rng = rng_of(draw)
    a = values(rng, (*batch[0], *((k, m) if ta else (m, k))))
    b = values(rng, (*batch[1], *((n, k) if tb else (k, n))))

    def jfn(x: Any, y: Any) -> Any:
        return jnp.matmul(jnp.swapaxes(x, -1, -2) if ta else x, jnp.swapaxes(y, -1, -2) if tb else y)

    return make(draw, lambda emit, x, y: one(emit, ops.MatMul, x, y, transpose_a=ta, transpose_b=tb), jfn, [a, b])


def _axes(draw: DrawFn, rank: int) -> tuple[int, ...] | None:
    if draw(st.integers(0, 3)) == 0:
        return None
    axes = draw(st.permutations(range(rank)))[: draw(st.integers(0, rank))]
    return tuple(a - rank if draw(st.booleans()) else a for a in axes)


REDUCTIONS = {
    ops.ReduceSum: jnp.sum,
    ops.ReduceMean: jnp.mean,
    ops.ReduceMax: jnp.max,
    ops.ReduceMin: jnp.min,
    ops.ReduceProd: jnp.prod,
}


@case(*REDUCTIONS)
def _reduction(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw)
    rng = rng_of(draw)
    x = values(rng, shape)
    if cls is ops.ReduceProd and x.size and draw(st.booleans()):
        # Exact zeros: the rule's special paths.
        x.reshape(-1)[rng.choice(x.size, size=min(x.size, draw(st.integers(1, 2))), replace=False)] = 0.0
    axes = _axes(draw, len(shape))
    keepdims = draw(st.booleans())
    attrs: dict[str, Any] = {"keepdims": keepdims}
    if axes is not None:
        attrs["axes"] = list(axes)
    jfn = REDUCTIONS[cls]
    return make(draw, lambda emit, a: one(emit, cls, a, **attrs), lambda a: jfn(a, axis=axes, keepdims=keepdims), [x])


@case(ops.Softmax, ops.LogSoftmax)
def _softmax(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw, min_rank=1)
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    jfn = jax.nn.softmax if cls is ops.Softmax else jax.nn.log_softmax
    x = values(rng_of(draw), shape)
    return make(draw, lambda emit, a: one(emit, cls, a, axis=axis), lambda a: jfn(a, axis=axis), [x])


# --------------------------------------------------------------------------------------------
# Array ops


def _factorize(draw: DrawFn, n: int) -> list[int]:
    dims: list[int] = []
    p, rest = 2, n
    while rest > 1:
        while rest % p == 0:
            if dims and draw(st.booleans()):
                dims[draw(st.integers(0, len(dims) - 1))] *= p
            else:
                dims.append(p)
            rest //= p
        p += 1
    for _ in range(draw(st.integers(0, 2))):
        dims.insert(draw(st.integers(0, len(dims))), 1)
    return dims


@case(ops.Reshape)
def _reshape(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw)
    target = _factorize(draw, math.prod(shape))
    spec = list(target)
    if spec and draw(st.booleans()):
        spec[draw(st.integers(0, len(spec) - 1))] = -1
    x = values(rng_of(draw), shape)
    return make(draw, lambda emit, a: one(emit, ops.Reshape, a, shape=spec), lambda a: jnp.reshape(a, target), [x])


@case(ops.Transpose)
def _transpose(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw)
    perm = None if draw(st.booleans()) else list(draw(st.permutations(range(len(shape)))))
    attrs = {} if perm is None else {"perm": perm}
    x = values(rng_of(draw), shape)
    return make(draw, lambda emit, a: one(emit, ops.Transpose, a, **attrs), lambda a: jnp.transpose(a, perm), [x])


@case(ops.ExpandDims)
def _expand_dims(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw)
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    x = values(rng_of(draw), shape)
    return make(
        draw, lambda emit, a: one(emit, ops.ExpandDims, a, axis=axis), lambda a: jnp.expand_dims(a, axis), [x]
    )


@case(ops.Squeeze)
def _squeeze(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = list(small_shape(draw))
    for _ in range(draw(st.integers(1, 2))):
        shape.insert(draw(st.integers(0, len(shape))), 1)
    ones = [i for i, d in enumerate(shape) if d == 1]
    chosen = None if draw(st.booleans()) else sorted(set(draw(st.lists(st.sampled_from(ones), min_size=1))))
    attrs = {} if chosen is None else {"axes": chosen}
    x = values(rng_of(draw), shape)
    # Squeezing every size-1 dim needs them known: the exact type.
    return make(
        draw,
        lambda emit, a: one(emit, ops.Squeeze, a, **attrs),
        lambda a: jnp.squeeze(a, None if chosen is None else tuple(chosen)),
        [x],
        exact=(0,) if chosen is None else (),
    )


@case(ops.Concat)
def _concat(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw, min_rank=1)
    axis = draw(st.integers(0, len(shape) - 1))
    rng = rng_of(draw)
    pieces = []
    for _ in range(draw(st.integers(1, 3))):
        s = list(shape)
        s[axis] = draw(st.integers(1, 3))
        pieces.append(values(rng, s))
    spelled = axis - len(shape) if draw(st.booleans()) else axis
    return make(
        draw,
        lambda emit, *xs: one(emit, ops.Concat, list(xs), axis=spelled),
        lambda *xs: jnp.concatenate(xs, axis=spelled),
        pieces,
    )


@case(ops.Stack)
def _stack(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw)
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    rng = rng_of(draw)
    pieces = [values(rng, shape) for _ in range(draw(st.integers(1, 3)))]
    return make(
        draw,
        lambda emit, *xs: one(emit, ops.Stack, list(xs), axis=axis),
        lambda *xs: jnp.stack(xs, axis=axis),
        pieces,
    )


@case(ops.Split)
def _split(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw, min_rank=1)
    axis = draw(st.integers(0, len(shape) - 1))
    dim = shape[axis]
    if draw(st.booleans()):
        num = draw(st.sampled_from([k for k in range(1, dim + 1) if dim % k == 0]))
        attrs: dict[str, Any] = {"num": num}
        bounds = [dim // num * i for i in range(1, num)]
    else:
        cuts = sorted(draw(st.lists(st.integers(0, dim), max_size=2)))
        sizes = [b - a for a, b in zip([0, *cuts], [*cuts, dim])]
        attrs = {"sizes": sizes}
        bounds = cuts
    x = values(rng_of(draw), shape)
    return make(
        draw,
        lambda emit, a: list(emit(ops.Split, a, axis=axis, **attrs).results),
        lambda a: tuple(jnp.split(a, bounds, axis=axis)),
        [x],
    )


@case(ops.Slice)
def _slice(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw)
    begin, size = [], []
    for d in shape:
        b = draw(st.integers(0, d))
        begin.append(b)
        size.append(-1 if draw(st.integers(0, 3)) == 0 else draw(st.integers(0, d - b)))
    index = tuple(slice(b, None if s == -1 else b + s) for b, s in zip(begin, size))
    x = values(rng_of(draw), shape)
    return make(draw, lambda emit, a: one(emit, ops.Slice, a, begin=begin, size=size), lambda a: a[index], [x])


def _basic_index(draw: DrawFn, shape: Sequence[int]) -> tuple[Any, ...]:
    """A random Python basic index of a tensor of ``shape``."""

    def item(d: int) -> Any:
        if d > 0 and draw(st.integers(0, 3)) == 0:
            return draw(st.integers(-d, d - 1))
        bound = st.one_of(st.none(), st.integers(-d - 2, d + 2))
        return slice(draw(bound), draw(bound), draw(st.sampled_from([1, 1, 2, -1, -2, 3])))

    rank = len(shape)
    front = draw(st.integers(0, rank))
    items: list[Any] = [item(d) for d in shape[:front]]
    if front < rank and draw(st.booleans()):
        back = draw(st.integers(0, rank - front))
        items += [Ellipsis, *(item(d) for d in shape[rank - back :])]
    for _ in range(draw(st.integers(0, 1))):
        items.insert(draw(st.integers(0, len(items))), None)
    return tuple(items)


@case(ops.StridedSlice)
def _strided_slice(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw)
    index = _basic_index(draw, shape)
    x = values(rng_of(draw), shape)
    spec = strided_slice_spec(index)
    return make(draw, lambda emit, a: one(emit, ops.StridedSlice, a, **spec), lambda a: a[index], [x])


@case(ops.Gather)
def _gather(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw, min_rank=1)
    axis = draw(st.integers(0, len(shape) - 1))
    rng = rng_of(draw)
    idx = rng.integers(0, shape[axis], small_shape(draw, max_rank=2)).astype(np.int32)
    x = values(rng, shape)
    spelled = axis - len(shape) if draw(st.booleans()) else axis
    return make(
        draw,
        lambda emit, a: one(emit, ops.Gather, a, const(emit, idx), axis=spelled),
        lambda a: jnp.take(a, idx, axis=spelled),
        [x],
    )


@case(ops.Tile)
def _tile(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw)
    multiples = [draw(st.integers(0, 3)) for _ in shape]
    x = values(rng_of(draw), shape)
    return make(draw, lambda emit, a: one(emit, ops.Tile, a, multiples=multiples), lambda a: jnp.tile(a, multiples), [x])


def _paddings(draw: DrawFn, shape: Sequence[int], mode: str) -> list[tuple[int, int]]:
    limit = {"constant": lambda d: 2, "reflect": lambda d: d - 1, "symmetric": lambda d: d}[mode]
    return [(draw(st.integers(0, limit(d))), draw(st.integers(0, limit(d)))) for d in shape]


@case(ops.Pad)
def _pad(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw, min_rank=1, min_side=2)
    mode = draw(st.sampled_from(ops.array.PAD_MODES))
    pairs = _paddings(draw, shape, mode)
    value = float(draw(st.integers(-2, 2)))
    flat = [p for pair in pairs for p in pair]
    x = values(rng_of(draw), shape)
    kwargs = {"constant_values": value} if mode == "constant" else {}
    return make(
        draw,
        lambda emit, a: one(emit, ops.Pad, a, paddings=flat, mode=mode, constant_value=value),
        lambda a: jnp.pad(a, pairs, mode=mode, **kwargs),
        [x],
    )


@case(ops.Fill)
def _fill(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw)
    v = values(rng_of(draw), ())
    return make(draw, lambda emit, a: one(emit, ops.Fill, a, shape=list(shape)), lambda a: jnp.full(shape, a), [v])


# --------------------------------------------------------------------------------------------
# The grad dialect


def _transpose_of(fn: Callable[[Any], Any], shape: Sequence[int]) -> Callable[[Any], Any]:
    """The jax adjoint of the linear ``fn`` on arrays of ``shape`` (and ``g``'s dtype)."""
    return lambda g: jax.linear_transpose(fn, jnp.zeros(tuple(shape), g.dtype))(g)[0]


def _sum_to_jax(x: Any, shape: Sequence[int]) -> Any:
    lead = x.ndim - len(shape)
    axes = (*range(lead), *(lead + i for i, d in enumerate(shape) if d == 1 and x.shape[lead + i] != 1))
    return jnp.sum(x, axis=axes).reshape(tuple(shape)) if axes else x.reshape(tuple(shape))


@case(ops.SumTo, ops.BroadcastLike)
def _broadcasting(draw: DrawFn, cls: type[Operation]) -> Case:
    shapes = draw(broadcastable_shapes(2, max_dims=3, max_side=4, wildcards=False))
    big, small = shapes.concrete_result, shapes.concrete_shapes[0]
    rng = rng_of(draw)
    if cls is ops.SumTo:
        x, like = values(rng, big), values(rng, small)
        jfn = lambda a, lk: _sum_to_jax(a, lk.shape)  # noqa: E731
    else:
        x, like = values(rng, small), values(rng, big)
        jfn = lambda a, lk: jnp.broadcast_to(a, lk.shape)  # noqa: E731
    return make(draw, lambda emit, a, lk: one(emit, cls, a, lk), jfn, [x, like])


@case(ops.Unreduce)
def _unreduce(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw)
    axes = _axes(draw, len(shape))
    keepdims, mean = draw(st.booleans()), draw(st.booleans())
    norm = range(len(shape)) if axes is None else [a % len(shape) for a in axes]
    kept = tuple(1 if i in norm else d for i, d in enumerate(shape))
    reduced = kept if keepdims else tuple(d for i, d in enumerate(shape) if i not in norm)
    count = math.prod(shape[i] for i in norm)
    rng = rng_of(draw)
    g, like = values(rng, reduced), values(rng, shape)
    attrs: dict[str, Any] = {"keepdims": keepdims, "mean": mean}
    if axes is not None:
        attrs["axes"] = list(axes)

    def jfn(a: Any, lk: Any) -> Any:
        out = jnp.broadcast_to(a.reshape(kept), lk.shape)
        return out / count if mean else out

    return make(draw, lambda emit, a, lk: one(emit, ops.Unreduce, a, lk, **attrs), jfn, [g, like])


@case(ops.ReshapeLike)
def _reshape_like(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw)
    target = tuple(_factorize(draw, math.prod(shape)))
    rng = rng_of(draw)
    x, like = values(rng, shape), values(rng, target)
    return make(
        draw, lambda emit, a, lk: one(emit, ops.ReshapeLike, a, lk), lambda a, lk: jnp.reshape(a, lk.shape), [x, like]
    )


@case(ops.StridedSliceGrad)
def _strided_slice_grad(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw)
    index = _basic_index(draw, shape)
    rng = rng_of(draw)
    like = values(rng, shape)
    g = values(rng, np.zeros(shape)[index].shape)
    spec = strided_slice_spec(index)
    adjoint = _transpose_of(lambda z: z[index], shape)
    return make(
        draw, lambda emit, a, lk: one(emit, ops.StridedSliceGrad, a, lk, **spec), lambda a, lk: adjoint(a), [g, like]
    )


@case(ops.GatherGrad)
def _gather_grad(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw, min_rank=1)
    axis = draw(st.integers(0, len(shape) - 1))
    rng = rng_of(draw)
    idx = rng.integers(0, shape[axis], small_shape(draw, max_rank=2)).astype(np.int64)
    like = values(rng, shape)
    g = values(rng, np.take(like, idx, axis=axis).shape)
    adjoint = _transpose_of(lambda z: jnp.take(z, idx, axis=axis), shape)
    return make(
        draw,
        lambda emit, a, lk: one(emit, ops.GatherGrad, a, const(emit, idx), lk, axis=axis),
        lambda a, lk: adjoint(a),
        [g, like],
    )


@case(ops.Untile)
def _untile(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw)
    multiples = [draw(st.integers(0, 3)) for _ in shape]
    rng = rng_of(draw)
    like = values(rng, shape)
    g = values(rng, np.tile(like, multiples).shape)
    adjoint = _transpose_of(lambda z: jnp.tile(z, multiples), shape)
    return make(
        draw, lambda emit, a, lk: one(emit, ops.Untile, a, lk, multiples=multiples), lambda a, lk: adjoint(a), [g, like]
    )


@case(ops.PadGrad)
def _pad_grad(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw, min_rank=1, min_side=2)
    mode = draw(st.sampled_from(ops.array.PAD_MODES))
    pairs = _paddings(draw, shape, mode)
    flat = [p for pair in pairs for p in pair]
    g = values(rng_of(draw), tuple(d + b + a for d, (b, a) in zip(shape, pairs)))
    adjoint = _transpose_of(lambda z: jnp.pad(z, pairs, mode=mode), shape)
    return make(draw, lambda emit, a: one(emit, ops.PadGrad, a, paddings=flat, mode=mode), adjoint, [g])


@case(ops.SplitLike)
def _split_like(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw, min_rank=1)
    axis = draw(st.integers(0, len(shape) - 1))
    rng = rng_of(draw)
    likes = []
    for _ in range(draw(st.integers(1, 3))):
        s = list(shape)
        s[axis] = draw(st.integers(0, 3))
        likes.append(values(rng, s))
    whole = list(shape)
    whole[axis] = sum(lk.shape[axis] for lk in likes)
    x = values(rng, whole)
    bounds = list(np.cumsum([lk.shape[axis] for lk in likes])[:-1])
    return make(
        draw,
        lambda emit, a, *lks: list(emit(ops.SplitLike, a, list(lks), axis=axis).results),
        lambda a, *lks: tuple(jnp.split(a, bounds, axis=axis)),
        [x, *likes],
    )


# --------------------------------------------------------------------------------------------
# Ops added for ONNX: elementwise functions, cumsum, broadcast_to, activations, conv, pooling


def _in_unit(rng: np.random.Generator, shape: Sequence[int]) -> np.ndarray:
    return rng.uniform(-0.9, 0.9, tuple(shape))


def _above_one(rng: np.random.Generator, shape: Sequence[int]) -> np.ndarray:
    return rng.uniform(1.2, 3.0, tuple(shape))


FUNCTIONS: dict[type[Operation], tuple[Callable[[Any], Any], Callable[..., np.ndarray]]] = {
    ops.Tan: (jnp.tan, _in_unit),
    ops.Asin: (jnp.arcsin, _in_unit),
    ops.Acos: (jnp.arccos, _in_unit),
    ops.Atan: (jnp.arctan, lambda rng, s: values(rng, s)),
    ops.Sinh: (jnp.sinh, lambda rng, s: values(rng, s)),
    ops.Cosh: (jnp.cosh, lambda rng, s: values(rng, s)),
    ops.Asinh: (jnp.arcsinh, lambda rng, s: values(rng, s)),
    ops.Acosh: (jnp.arccosh, _above_one),
    ops.Atanh: (jnp.arctanh, _in_unit),
    ops.Erf: (jax.scipy.special.erf, lambda rng, s: values(rng, s)),
    ops.Reciprocal: (jnp.reciprocal, lambda rng, s: values(rng, s, "away")),
}


@case(*FUNCTIONS)
def _function(draw: DrawFn, cls: type[Operation]) -> Case:
    jfn, sample = FUNCTIONS[cls]
    x = sample(rng_of(draw), small_shape(draw))
    return make(draw, lambda emit, a: one(emit, cls, a), jfn, [x])


ACTIVATIONS: dict[type[Operation], tuple[Callable[..., Any], str, list[dict[str, Any]]]] = {
    ops.Gelu: (
        lambda a, approximate="none": jax.nn.gelu(a, approximate=approximate == "tanh"),
        "normal",
        [{}, {"approximate": "tanh"}, {"approximate": "none"}],
    ),
    ops.Elu: (lambda a, alpha=1.0: jax.nn.elu(a, alpha), "away", [{}, {"alpha": 0.5}, {"alpha": 2.0}]),
    ops.LeakyRelu: (lambda a, alpha=0.2: jax.nn.leaky_relu(a, alpha), "away", [{}, {"alpha": 0.01}]),
}


@case(*ACTIVATIONS)
def _activation(draw: DrawFn, cls: type[Operation]) -> Case:
    jfn, kind, choices = ACTIVATIONS[cls]
    attrs = draw(st.sampled_from(choices))
    x = values(rng_of(draw), small_shape(draw), kind)
    return make(draw, lambda emit, a: one(emit, cls, a, **attrs), lambda a: jfn(a, **attrs), [x])


@case(ops.CumSum)
def _cumsum(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw, min_rank=1)
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    exclusive, reverse = draw(st.booleans()), draw(st.booleans())

    def jfn(a: Any) -> Any:
        z = jnp.flip(a, axis) if reverse else a
        z = jnp.cumsum(z, axis=axis) - (z if exclusive else 0)
        return jnp.flip(z, axis) if reverse else z

    x = values(rng_of(draw), shape)
    return make(draw, lambda emit, a: one(emit, cls, a, axis=axis, exclusive=exclusive, reverse=reverse), jfn, [x])


@case(ops.BroadcastTo)
def _broadcast_to(draw: DrawFn, cls: type[Operation]) -> Case:
    shapes = draw(broadcastable_shapes(2, max_dims=3, max_side=4, wildcards=False)).concrete_shapes
    x, target = values(rng_of(draw), shapes[0]), list(shapes[1])
    out = np.broadcast_shapes(x.shape, tuple(target))
    return make(draw, lambda emit, a: one(emit, cls, a, shape=target), lambda a: jnp.broadcast_to(a, out), [x])


def _window_case_attrs(
    draw: DrawFn, n: int, pooling: bool, max_pads: Sequence[int] | None = None, dilated: bool = True
) -> tuple[dict[str, Any], Any]:
    """Window attributes for ``n`` spatial dims (explicit pads up to ``max_pads``, default 1)
    and the matching jax ``padding`` argument."""
    padding = draw(st.sampled_from(["VALID", "SAME_UPPER", "SAME_LOWER", "EXPLICIT"]))
    attrs: dict[str, Any] = {"padding": padding, "strides": [draw(st.integers(1, 2)) for _ in range(n)]}
    if dilated and (not pooling or draw(st.booleans())):
        attrs["dilations"] = [draw(st.integers(1, 2)) for _ in range(n)]
    jax_padding: Any = {"VALID": "VALID", "SAME_UPPER": "SAME", "SAME_LOWER": "SAME_LOWER"}.get(padding)
    if padding == "EXPLICIT":
        limits = max_pads if max_pads is not None else [1] * n
        pairs = [(draw(st.integers(0, m)), draw(st.integers(0, m))) for m in limits]
        attrs["pads"] = [p for pair in pairs for p in pair]
        jax_padding = pairs
    return attrs, jax_padding


def _conv_setup(draw: DrawFn) -> tuple[dict[str, Any], Callable[[Any, Any], Any], tuple[int, ...], tuple[int, ...]]:
    """Conv attributes, the same convolution in jax, and the shapes of ``x`` and ``w``."""
    n = draw(st.integers(1, 2))
    attrs, jax_padding = _window_case_attrs(draw, n, pooling=False)
    groups = draw(st.integers(1, 2))
    per_group, out = draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 2)) for _ in range(n)]
    sizes = [draw(st.integers(3, 5)) for _ in range(n)]
    last, hwio = draw(st.booleans()), draw(st.booleans())
    sp = "XY"[:n]
    lhs = f"N{sp}C" if last else f"NC{sp}"
    rhs = f"{sp}IO" if hwio else f"OI{sp}"
    attrs.update(groups=groups, data_format="NHWC" if last else "NCHW", filter_format="HWIO" if hwio else "OIHW")
    batch, channels = draw(st.integers(1, 2)), groups * per_group
    x_shape = (batch, *sizes, channels) if last else (batch, channels, *sizes)
    w_shape = (*kernel, per_group, out) if hwio else (out, per_group, *kernel)

    def conv(a: Any, w: Any) -> Any:
        return jax.lax.conv_general_dilated(
            a,
            w,
            window_strides=attrs["strides"],
            padding=jax_padding,
            rhs_dilation=attrs["dilations"],
            dimension_numbers=(lhs, rhs, lhs),
            feature_group_count=groups,
            precision=jax.lax.Precision.HIGHEST,
        )

    return attrs, conv, x_shape, w_shape


@case(ops.Conv)
def _conv(draw: DrawFn, cls: type[Operation]) -> Case:
    attrs, conv, x_shape, w_shape = _conv_setup(draw)
    rng = rng_of(draw)
    return make(draw, lambda emit, a, w: one(emit, cls, a, w, **attrs), conv, [values(rng, x_shape), values(rng, w_shape)])


@case(ops.ConvInputGrad)
def _conv_input_grad(draw: DrawFn, cls: type[Operation]) -> Case:
    attrs, conv, x_shape, w_shape = _conv_setup(draw)
    rng = rng_of(draw)
    x, w = values(rng, x_shape), values(rng, w_shape)
    dy = values(rng, jax.eval_shape(conv, x, w).shape)

    def jfn(g: Any, b: Any, like: Any) -> Any:
        return jax.vjp(lambda z: conv(z, b), jnp.zeros_like(like))[1](g)[0]

    return make(draw, lambda emit, g, b, lk: one(emit, cls, g, b, lk, **attrs), jfn, [dy, w, x])


@case(ops.ConvFilterGrad)
def _conv_filter_grad(draw: DrawFn, cls: type[Operation]) -> Case:
    attrs, conv, x_shape, w_shape = _conv_setup(draw)
    rng = rng_of(draw)
    x, w = values(rng, x_shape), values(rng, w_shape)
    dy = values(rng, jax.eval_shape(conv, x, w).shape)

    def jfn(a: Any, g: Any, like: Any) -> Any:
        return jax.vjp(lambda z: conv(a, z), jnp.zeros_like(like))[1](g)[0]

    return make(draw, lambda emit, a, g, lk: one(emit, cls, a, g, lk, **attrs), jfn, [x, dy, w])


def _pool_setup(
    draw: DrawFn, avg: bool, dilated: bool = True
) -> tuple[dict[str, Any], Callable[[Any], Any], tuple[int, ...]]:
    """Pool attributes (no ceil_mode: jax's reduce_window has none), the pooling in jax, and
    the shape of ``x``; channels first. ``dilated=False`` for cases whose jax side needs the
    second derivative of max pooling, which jax lacks for dilated windows."""
    n = draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 3)) for _ in range(n)]
    # Pads narrower than the kernel (as ONNX requires): no window of padding alone.
    attrs, jax_padding = _window_case_attrs(
        draw, n, pooling=True, max_pads=[min(k - 1, 1) for k in kernel], dilated=dilated
    )
    attrs["kernel_shape"] = kernel
    dilations = attrs.get("dilations", [1] * n)
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    x_shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), *(draw(st.integers(s, s + 2)) for s in spans))
    dims, strides, dil = (1, 1, *kernel), (1, 1, *attrs["strides"]), (1, 1, *dilations)
    if isinstance(jax_padding, str):
        pairs = jax.lax.padtype_to_pads(x_shape[2:], spans, attrs["strides"], jax_padding)
    else:
        pairs = jax_padding
    pads = [(0, 0), (0, 0), *pairs]
    if avg:
        include = draw(st.booleans())
        attrs["count_include_pad"] = include

        def pool(a: Any) -> Any:
            total = jax.lax.reduce_window(a, 0.0, jax.lax.add, dims, strides, pads, window_dilation=dil)
            ones = jnp.pad(jnp.ones(a.shape), pads, constant_values=1.0) if include else jnp.ones(a.shape)
            inner = pads if not include else [(0, 0)] * len(pads)
            count = jax.lax.reduce_window(ones, 0.0, jax.lax.add, dims, strides, inner, window_dilation=dil)
            # A window of padding alone averages to 0 (flowir's definition).
            return total / jnp.maximum(count, 1.0)

    else:

        def pool(a: Any) -> Any:
            return jax.lax.reduce_window(a, -jnp.inf, jax.lax.max, dims, strides, pads, window_dilation=dil)

    return attrs, pool, x_shape


def _distinct(rng: np.random.Generator, shape: Sequence[int]) -> np.ndarray:
    """Values at least 0.1 apart: max pooling's choice survives finite-difference steps."""
    n = math.prod(shape)
    return (rng.permutation(n) * 0.1 - 0.05 * n).reshape(tuple(shape))


@case(ops.MaxPool)
def _max_pool(draw: DrawFn, cls: type[Operation]) -> Case:
    attrs, pool, x_shape = _pool_setup(draw, avg=False, dilated=False)
    x = _distinct(rng_of(draw), x_shape)
    return make(draw, lambda emit, a: one(emit, cls, a, **attrs), pool, [x], eps=1e-3)


@case(ops.MaxPoolGrad)
def _max_pool_grad(draw: DrawFn, cls: type[Operation]) -> Case:
    attrs, pool, x_shape = _pool_setup(draw, avg=False, dilated=False)
    rng = rng_of(draw)
    x = _distinct(rng, x_shape)
    dy = values(rng, jax.eval_shape(pool, x).shape)
    return make(
        draw, lambda emit, a, g: one(emit, cls, a, g, **attrs), lambda a, g: jax.vjp(pool, a)[1](g)[0], [x, dy], eps=1e-3
    )


@case(ops.MaxPoolGradGrad)
def _max_pool_grad_grad(draw: DrawFn, cls: type[Operation]) -> Case:
    attrs, pool, x_shape = _pool_setup(draw, avg=False, dilated=False)
    rng = rng_of(draw)
    x = _distinct(rng, x_shape)
    g = values(rng, x_shape)
    return make(
        draw, lambda emit, a, t: one(emit, cls, a, t, **attrs), lambda a, t: jax.jvp(pool, (a,), (t,))[1], [x, g], eps=1e-3
    )


@case(ops.AvgPool)
def _avg_pool(draw: DrawFn, cls: type[Operation]) -> Case:
    attrs, pool, x_shape = _pool_setup(draw, avg=True)
    x = values(rng_of(draw), x_shape)
    return make(draw, lambda emit, a: one(emit, cls, a, **attrs), pool, [x])


@case(ops.AvgPoolGrad)
def _avg_pool_grad(draw: DrawFn, cls: type[Operation]) -> Case:
    attrs, pool, x_shape = _pool_setup(draw, avg=True)
    rng = rng_of(draw)
    x = values(rng, x_shape)
    g = values(rng, jax.eval_shape(pool, x).shape)

    def jfn(a: Any, like: Any) -> Any:
        return jax.vjp(pool, jnp.zeros_like(like))[1](a)[0]

    return make(draw, lambda emit, a, lk: one(emit, cls, a, lk, **attrs), jfn, [g, x])


def _onnx_nearest(n_in: int, n_out: int, scale: float, mode: str, nearest: str) -> list[int]:
    """ONNX Resize's nearest sampling of one axis, written out index by index."""
    if n_in == n_out and scale == 1.0:
        return list(range(n_out))
    out = []
    for i in range(n_out):
        if mode == "half_pixel" or (mode == "pytorch_half_pixel" and n_out > 1):
            c = (i + 0.5) / scale - 0.5
        elif mode == "align_corners":
            c = i * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        elif mode == "asymmetric":
            c = i / scale
        elif mode == "tf_half_pixel_for_nn":
            c = (i + 0.5) / scale
        else:
            c = 0.0
        if nearest == "floor":
            k = math.floor(c)
        elif nearest == "ceil":
            k = math.ceil(c)
        elif c == math.floor(c) + 0.5:
            k = math.floor(c) if nearest == "round_prefer_floor" else math.ceil(c)
        else:
            k = round(c)
        out.append(min(max(k, 0), n_in - 1))
    return out


def _resize_setup(draw: DrawFn) -> tuple[dict[str, Any], Callable[[Any], Any], tuple[int, ...]]:
    shape = small_shape(draw, min_rank=1, max_rank=3)
    mode = draw(st.sampled_from(ops.nn.COORDINATE_MODES))
    nearest = draw(st.sampled_from(ops.nn.NEAREST_MODES))
    scales = [draw(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0])) for _ in shape]
    outs = [max(int(math.floor(d * s)), 0) for d, s in zip(shape, scales)]
    index = [_onnx_nearest(d, o, s, mode, nearest) for d, o, s in zip(shape, outs, scales)]

    def jfn(a: Any) -> Any:
        for axis, idx in enumerate(index):
            a = jnp.take(a, jnp.asarray(idx, jnp.int32), axis=axis)
        return a

    attrs = {"scales": scales, "coordinate_transformation_mode": mode, "nearest_mode": nearest}
    return attrs, jfn, shape


@case(ops.ResizeNearest)
def _resize_nearest(draw: DrawFn, cls: type[Operation]) -> Case:
    attrs, jfn, shape = _resize_setup(draw)
    return make(draw, lambda emit, a: one(emit, cls, a, **attrs), jfn, [values(rng_of(draw), shape)])


@case(ops.ResizeNearestGrad)
def _resize_nearest_grad(draw: DrawFn, cls: type[Operation]) -> Case:
    attrs, jfn, shape = _resize_setup(draw)
    rng = rng_of(draw)
    x = values(rng, shape)
    g = values(rng, jax.eval_shape(jfn, x).shape)
    return make(
        draw, lambda emit, a, lk: one(emit, cls, a, lk, **attrs), lambda a, lk: jax.vjp(jfn, jnp.zeros_like(lk))[1](a)[0], [g, x]
    )


def _along_axis_setup(draw: DrawFn) -> tuple[tuple[int, ...], int, np.ndarray]:
    shape = small_shape(draw, min_rank=1)
    axis = draw(st.integers(0, len(shape) - 1))
    picked = list(shape)
    picked[axis] = draw(st.integers(0, 4))
    indices = rng_of(draw).integers(0, shape[axis], picked)
    return shape, axis, indices


@case(ops.TakeAlongAxis)
def _take_along_axis(draw: DrawFn, cls: type[Operation]) -> Case:
    shape, axis, indices = _along_axis_setup(draw)
    x = values(rng_of(draw), shape)
    return make(
        draw,
        lambda emit, a: one(emit, cls, a, const(emit, indices), axis=axis),
        lambda a: jnp.take_along_axis(a, jnp.asarray(indices), axis=axis),
        [x],
    )


@case(ops.TakeAlongAxisGrad)
def _take_along_axis_grad(draw: DrawFn, cls: type[Operation]) -> Case:
    shape, axis, indices = _along_axis_setup(draw)
    rng = rng_of(draw)
    like, g = values(rng, shape), values(rng, indices.shape)
    adjoint = _transpose_of(lambda z: jnp.take_along_axis(z, jnp.asarray(indices), axis=axis), shape)
    return make(
        draw, lambda emit, a, lk: one(emit, cls, a, const(emit, indices), lk, axis=axis), lambda a, lk: adjoint(a), [g, like]
    )


@case(ops.TopK)
def _top_k(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw, min_rank=1)
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    k = draw(st.integers(0, shape[axis]))
    largest = draw(st.booleans())
    # Distinct values far apart: the order survives finite-difference steps.
    n = math.prod(shape)
    x = (rng_of(draw).permutation(n) * 0.1).reshape(shape)

    def jfn(a: Any) -> Any:
        moved = jnp.moveaxis(a if largest else -a, axis, -1)
        vals = jax.lax.top_k(moved, k)[0]
        return jnp.moveaxis(vals if largest else -vals, -1, axis)

    return make(draw, lambda emit, a: emit(cls, a, k=k, axis=axis, largest=largest).results[0], jfn, [x], eps=1e-3)


@case(ops.ConvTranspose)
def _conv_transpose(draw: DrawFn, cls: type[Operation]) -> Case:
    attrs, conv, x_shape, w_shape = _conv_setup(draw)
    if attrs["padding"] not in ("VALID", "EXPLICIT"):
        attrs["padding"] = "VALID"
    jax_pads = [(attrs["pads"][2 * i], attrs["pads"][2 * i + 1]) for i in range(len(attrs["strides"]))] if "pads" in attrs else "VALID"

    def forward(a: Any, w: Any) -> Any:
        return jax.lax.conv_general_dilated(
            a,
            w,
            window_strides=attrs["strides"],
            padding=jax_pads,
            rhs_dilation=attrs["dilations"],
            dimension_numbers=_dims(attrs, len(attrs["strides"])),
            feature_group_count=attrs["groups"],
            precision=jax.lax.Precision.HIGHEST,
        )

    rng = rng_of(draw)
    w = values(rng, w_shape)
    # The transpose maps the forward convolution's output shape back to x's shape, the cells
    # that the forward stride dropped at the end coming back as output_padding.
    dy_shape = jax.eval_shape(forward, np.zeros(x_shape), w).shape
    x = values(rng, dy_shape)
    n = len(attrs["strides"])
    last = attrs["data_format"] == "NHWC"
    kernel = w_shape[:n] if attrs["filter_format"] == "HWIO" else w_shape[2:]
    pairs = jax_pads if isinstance(jax_pads, list) else [(0, 0)] * n
    spatial_in, spatial_out = (x_shape[1:-1], dy_shape[1:-1]) if last else (x_shape[2:], dy_shape[2:])
    attrs["output_padding"] = [
        size - (s * (o - 1) + (k - 1) * d + 1 - b - e)
        for size, o, k, s, d, (b, e) in zip(spatial_in, spatial_out, kernel, attrs["strides"], attrs["dilations"], pairs)
    ]

    def jfn(a: Any, b: Any) -> Any:
        return jax.vjp(lambda z: forward(z, b), jnp.zeros(x_shape))[1](a)[0]

    return make(draw, lambda emit, a, b: one(emit, cls, a, b, **attrs), jfn, [x, w])


def _dims(attrs: dict[str, Any], n: int) -> tuple[str, str, str]:
    sp = "XY"[:n]
    lhs = f"N{sp}C" if attrs["data_format"] == "NHWC" else f"NC{sp}"
    rhs = f"{sp}IO" if attrs["filter_format"] == "HWIO" else f"OI{sp}"
    return lhs, rhs, lhs


@case(ops.Trilu)
def _trilu(draw: DrawFn, cls: type[Operation]) -> Case:
    shape = small_shape(draw, min_rank=2)
    k, upper = draw(st.integers(-3, 3)), draw(st.booleans())
    jfn = jnp.triu if upper else jnp.tril
    x = values(rng_of(draw), shape)
    return make(draw, lambda emit, a: one(emit, cls, a, k=k, upper=upper), lambda a: jfn(a, k), [x])
