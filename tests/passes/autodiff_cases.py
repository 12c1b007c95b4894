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
