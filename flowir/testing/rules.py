"""Generation rules: how to build a valid op of each class from a pool of values.

``GEN_RULES`` maps an op class to ``rule(draw, pool) -> Build | None``; ``FAMILY_RULES`` maps
a base class (``UnaryElementwise``, ``Reduction`` ...) to a factory making the rule of each
subclass, so new ops of a family are covered without an entry. ``NOT_GENERATED`` lists the
ops deliberately left out, with the reason. ``rule_for(cls)`` resolves the three.

Rules keep every dim that varies at run time (a symbol of the witness shape) uniform: such a
dim is only ever matched with the same symbol, broadcast against 1, reduced, or taken whole;
indices, slice bounds, paddings and split points only touch static dims. That keeps the
witness shape exact for every size the symbol takes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from hypothesis import strategies as st

from flowir.ir import ops
from flowir.ir.core import Operation
from flowir.ir.dtypes import DType
from flowir.ir.errors import FlowirError
from flowir.ir.location import UNKNOWN_LOC
from flowir.ir.ops._base import FLOATS, NUMERIC, BinaryElementwise, UnaryElementwise
from flowir.ir.types import ResourceType, TensorType
from flowir.testing._pool import Build, Entry, GenRule, Pool, is_symbol

__all__ = ["GEN_RULES", "FAMILY_RULES", "NOT_GENERATED", "SIMPLIFIABLE_OPS", "gen_rule", "family_rule", "rule_for"]

GEN_RULES: dict[type[Operation], GenRule] = {}

#: Rule factories for op families, keyed by the family's base class; ``rule_for`` uses the
#: first base in an op's MRO that has one.
FAMILY_RULES: dict[type[Operation], Callable[[type[Operation]], GenRule]] = {}

#: Registered ops ``graphs()`` never draws, with the reason.
NOT_GENERATED: dict[type[Operation], str] = {
    ops.Return: "the terminator: graphs() makes it with Graph.set_outputs",
    ops.Placeholder: "inputs are made by Pool.new_input, which gives them unique feed names",
}


#: Ops whose chains and identity operands simplification rewrites (``neg(neg(x))``,
#: ``transpose(transpose(x))``, ``x * 1``, ``identity(x)``, no-op casts and reshapes);
#: ``graphs()`` puts one in most graphs so that those rewrites get exercised.
SIMPLIFIABLE_OPS: tuple[type[Operation], ...] = (
    ops.Add,
    ops.Mul,
    ops.Sub,
    ops.Div,
    ops.Neg,
    ops.LogicalNot,
    ops.Identity,
    ops.Cast,
    ops.Reshape,
    ops.Transpose,
    ops.ExpandDims,
    ops.Squeeze,
)


def gen_rule(*classes: type[Operation]) -> Callable[[GenRule], GenRule]:
    """Register the decorated function as the generation rule of ``classes``."""

    def register(fn: GenRule) -> GenRule:
        for cls in classes:
            if cls in GEN_RULES:
                raise TypeError(f"{cls.name} has two generation rules")
            GEN_RULES[cls] = fn
        return fn

    return register


def family_rule(*bases: type[Operation]) -> Callable[[Callable[[type[Operation]], GenRule]], Callable[[type[Operation]], GenRule]]:
    """Register the decorated ``factory(cls) -> rule`` for every op deriving from ``bases``."""

    def register(factory: Callable[[type[Operation]], GenRule]) -> Callable[[type[Operation]], GenRule]:
        for base in bases:
            FAMILY_RULES[base] = factory
        return factory

    return register


def rule_for(cls: type[Operation]) -> GenRule | None:
    """The generation rule of ``cls``: its own, else its family's; ``None`` if it has none
    or is listed in ``NOT_GENERATED``."""
    if cls in NOT_GENERATED:
        return None
    rule = GEN_RULES.get(cls)
    if rule is not None:
        return rule
    for base in cls.__mro__:
        factory = FAMILY_RULES.get(base)
        if factory is not None:
            return factory(cls)
    return None


# --------------------------------------------------------------------------------------------
# Helpers


def _static_axes(x: Entry, *, min_size: int = 0) -> list[int]:
    return [i for i, d in enumerate(x.shape) if not is_symbol(d) and d >= min_size]


def _shape_with(pool: Pool, size: int | None = None) -> tuple[int, ...]:
    """A witness shape of rank >= 1 with a static dim (of ``size`` if given) at a random place."""
    draw = pool.draw
    dims = [pool.new_dim() for _ in range(draw(st.integers(0, pool.config.max_rank - 1)))]
    static = size if size is not None else draw(st.integers(max(pool.config.min_side, 1), pool.config.max_side))
    dims.insert(draw(st.integers(0, len(dims))), static)
    return tuple(dims)


def _axis(draw: st.DrawFn, axis: int, rank: int) -> int:
    """``axis`` spelled positive or negative, at random."""
    return axis - rank if draw(st.booleans()) else axis


def _index_dtype(pool: Pool, allowed: Sequence[DType] = (DType.int32, DType.int64)) -> DType | None:
    choices = pool.allowed(allowed)
    return pool.draw(st.sampled_from(choices)) if choices else None


def _out_dtype(draw: st.DrawFn, pool: Pool, allowed: Sequence[DType] | frozenset[DType]) -> DType | None:
    choices = pool.allowed(allowed)
    return draw(st.sampled_from(choices)) if choices else None


def _nonzero(dtype: DType) -> st.SearchStrategy[int]:
    info = np.iinfo(dtype.numpy)
    return st.integers(max(int(info.min), -8), min(int(info.max), 8)).filter(bool)


# --------------------------------------------------------------------------------------------
# Builtins


@gen_rule(ops.Constant)
def _constant(draw: st.DrawFn, pool: Pool) -> Build | None:
    dtype = _out_dtype(draw, pool, pool.config.dtypes)
    if dtype is None:
        return None
    rank = draw(st.integers(0, pool.config.max_rank))
    shape = tuple(pool.new_dim(static_only=True) for _ in range(rank))
    return Build((), {"value": pool.draw_array(dtype, shape)})


# --------------------------------------------------------------------------------------------
# Elementwise families


@family_rule(UnaryElementwise)
def _unary_family(cls: type[Operation]) -> GenRule:
    dtypes = cls.DTYPES  # type: ignore[attr-defined]

    def rule(draw: st.DrawFn, pool: Pool) -> Build | None:
        x = pool.pick(dtypes=dtypes)
        return None if x is None else Build((x,))

    return rule


@family_rule(BinaryElementwise)
def _binary_family(cls: type[Operation]) -> GenRule:
    dtypes = cls.DTYPES  # type: ignore[attr-defined]

    def rule(draw: st.DrawFn, pool: Pool) -> Build | None:
        x = pool.pick(dtypes=dtypes)
        return None if x is None else _binary_with(draw, pool, x)

    return rule


def _binary_with(draw: st.DrawFn, pool: Pool, x: Entry) -> Build:
    """``x`` and a value broadcasting with it, in either order; by chance a splat of 0 or 1
    that leaves ``x``'s type unchanged (``x + 0``, ``1 * x``: identities to canonicalize)."""
    if pool.chance(0.2):
        shape = pool.broadcast_shape(x.shape, static=True)
        y = pool.new_constant(x.dtype, shape, splat=draw(st.sampled_from([0, 1])))
    else:
        y = pool.operand(x.dtype, x.shape, broadcast=True)
    return Build((y, x) if draw(st.booleans()) else (x, y))


def _integer_divisor_rule(cls: type[Operation], divisor: Callable[[DType], st.SearchStrategy[int]]) -> GenRule:
    """Integer division and powers fail at run time for some divisors (zero, negative
    exponents): for integers the right operand is a constant drawn from ``divisor``."""
    def rule(draw: st.DrawFn, pool: Pool) -> Build | None:
        x = pool.pick(dtypes=cls.DTYPES)  # type: ignore[attr-defined]
        if x is None:
            return None
        if not x.dtype.is_integer:
            return _binary_with(draw, pool, x)
        shape = pool.broadcast_shape(x.shape, static=True)
        y = pool.new_constant(x.dtype, shape, elements=divisor(x.dtype))
        return Build((x, y))

    return rule


GEN_RULES[ops.Div] = _integer_divisor_rule(ops.Div, _nonzero)
GEN_RULES[ops.FloorDiv] = _integer_divisor_rule(ops.FloorDiv, _nonzero)
GEN_RULES[ops.Mod] = _integer_divisor_rule(ops.Mod, _nonzero)
GEN_RULES[ops.Pow] = _integer_divisor_rule(ops.Pow, lambda dt: st.integers(0, 3))


@gen_rule(ops.Cast)
def _cast(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = pool.pick(dtypes=ops.Cast.DTYPES)
    dtype = _out_dtype(draw, pool, ops.Cast.DTYPES)
    if x is None or dtype is None:
        return None
    return Build((x,), {"dtype": dtype})


@gen_rule(ops.Select)
def _select(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = pool.pick()
    if x is None:
        return None
    y = pool.operand(x.dtype, x.shape, broadcast=True)
    if DType.bool in pool.config.dtypes:
        cond = pool.operand(DType.bool, x.shape, broadcast=True)
    else:
        found = pool.tensors(lambda e: e.dtype is DType.bool and pool.broadcasts_into(e.shape, x.shape))
        if not found:
            return None
        cond = pool.choose(found)
    return Build((cond, x, y) if draw(st.booleans()) else (cond, y, x))


# --------------------------------------------------------------------------------------------
# Matmul and reductions


@gen_rule(ops.MatMul)
def _matmul(draw: st.DrawFn, pool: Pool) -> Build | None:
    a = pool.pick(dtypes=NUMERIC, min_rank=2)
    if a is None:
        return None
    ta, tb = draw(st.booleans()), draw(st.booleans())
    k = a.shape[-2] if ta else a.shape[-1]

    def fits(e: Entry) -> bool:
        if e.dtype is not a.dtype or e.rank < 2 or e.index == a.index and not ta and not tb:
            return False
        kb = e.shape[-1] if tb else e.shape[-2]
        return kb == k and pool.broadcast_ok(e.shape[:-2], a.shape[:-2])

    found = pool.tensors(fits)
    if found and draw(st.booleans()):
        b = pool.choose(found)
    else:
        batch = pool.broadcast_shape(a.shape[:-2])
        n = pool.new_dim()
        b = pool.fresh(a.dtype, (*batch, n, k) if tb else (*batch, k, n))
    attrs = {}
    if ta:
        attrs["transpose_a"] = True
    if tb:
        attrs["transpose_b"] = True
    return Build((a, b), attrs)


@family_rule(ops.math.Reduction)
def _reduction_family(cls: type[Operation]) -> GenRule:
    dtypes = cls.DTYPES  # type: ignore[attr-defined]

    def rule(draw: st.DrawFn, pool: Pool) -> Build | None:
        x = pool.pick(dtypes=dtypes)
        if x is None:
            return None
        attrs: dict = {}
        if draw(st.integers(0, 3)) > 0:
            axes = draw(st.permutations(range(x.rank)))[: draw(st.integers(0, x.rank))]
            attrs["axes"] = [_axis(draw, a, x.rank) for a in axes]
        if draw(st.booleans()):
            attrs["keepdims"] = True
        return Build((x,), attrs)

    return rule


@family_rule(ops.math.ArgReduction)
def _arg_reduction_family(cls: type[Operation]) -> GenRule:
    def rule(draw: st.DrawFn, pool: Pool) -> Build | None:
        x = pool.pick(
            dtypes=NUMERIC, min_rank=1, where=lambda e: any(d != 0 for d in e.shape), make=lambda: _shape_with(pool)
        )
        if x is None:
            return None
        axes = [i for i, d in enumerate(x.shape) if d != 0]
        out = _index_dtype(pool)
        if not axes or out is None:
            return None
        axis = draw(st.sampled_from(axes))
        return Build((x,), {"axis": _axis(draw, axis, x.rank), "output_type": out})

    return rule


@family_rule(ops.nn.SoftmaxBase)
def _softmax_family(cls: type[Operation]) -> GenRule:
    def rule(draw: st.DrawFn, pool: Pool) -> Build | None:
        x = pool.pick(dtypes=FLOATS, min_rank=1)
        if x is None:
            return None
        attrs = {}
        if draw(st.booleans()):
            attrs["axis"] = _axis(draw, draw(st.integers(0, x.rank - 1)), x.rank)
        return Build((x,), attrs)

    return rule


# --------------------------------------------------------------------------------------------
# Array ops


@gen_rule(ops.Identity)
def _identity(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = pool.pick()
    return None if x is None else Build((x,))


@gen_rule(ops.Reshape)
def _reshape(draw: st.DrawFn, pool: Pool) -> Build | None:
    """A new shape regrouping ``x``'s static elements; a single symbol dim keeps its own
    ``-1`` entry (an element count with two symbols is not a tracked size)."""
    x = pool.pick(where=lambda e: sum(map(is_symbol, e.shape)) <= 1, make=lambda: _shape_with(pool))
    if x is None:
        return None
    if pool.chance(0.2):
        # x's own shape: a no-op reshape.
        return Build((x,), {"shape": [-1 if is_symbol(d) else d for d in x.shape]})
    has_symbol = any(map(is_symbol, x.shape))
    n = math.prod(d for d in x.shape if not is_symbol(d))
    target = _factorize(draw, n, pool.config.max_rank - has_symbol)
    if has_symbol:
        target.insert(draw(st.integers(0, len(target))), -1)
    elif target and draw(st.integers(0, 2)) == 0 and n > 0:
        target[draw(st.integers(0, len(target) - 1))] = -1
    return Build((x,), {"shape": target})


def _factorize(draw: st.DrawFn, n: int, max_rank: int) -> list[int]:
    """A list of sizes multiplying to ``n``, of at most ``max_rank`` entries (1s included)."""
    if n == 0:
        return [0] + [draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, max(0, max_rank - 1))))]
    factors = [p for p in _prime_factors(n)]
    dims: list[int] = []
    for f in factors:
        if dims and (len(dims) >= max_rank or draw(st.booleans())):
            dims[draw(st.integers(0, len(dims) - 1))] *= f
        else:
            dims.append(f)
    while len(dims) < max_rank and draw(st.integers(0, 3)) == 0:
        dims.insert(draw(st.integers(0, len(dims))), 1)
    return dims


def _prime_factors(n: int) -> list[int]:
    out, p = [], 2
    while p * p <= n:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    if n > 1:
        out.append(n)
    return out


@gen_rule(ops.Transpose)
def _transpose(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = pool.pick()
    if x is None:
        return None
    if draw(st.integers(0, 3)) == 0:
        return Build((x,))
    return Build((x,), {"perm": list(draw(st.permutations(range(x.rank))))})


@gen_rule(ops.ExpandDims)
def _expand_dims(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = pool.pick(max_rank=pool.config.max_rank - 1)
    if x is None:
        return None
    return Build((x,), {"axis": _axis(draw, draw(st.integers(0, x.rank)), x.rank + 1)})


@gen_rule(ops.Squeeze)
def _squeeze(draw: st.DrawFn, pool: Pool) -> Build | None:
    """All size-1 dims only when no dim is a symbol (a symbol may be 1 at run time);
    otherwise a subset of the static size-1 dims."""
    expanded = pool.tensors(lambda e: type(e.op) is ops.ExpandDims and not e.op.control_deps)
    if expanded and pool.chance(1 / 3):
        # Undo an expand_dims: squeeze(expand_dims(x, a), [a]) canonicalizes to x.
        x = pool.choose(expanded)
        axis = x.op.axis  # type: ignore[union-attr]
        return Build((x,), {"axes": [_axis(draw, axis % x.rank, x.rank)]})
    x = pool.pick(where=lambda e: 1 in e.shape, make=lambda: _shape_with(pool, 1))
    if x is None:
        return None
    ones = [i for i, d in enumerate(x.shape) if d == 1]
    if not any(map(is_symbol, x.shape)) and draw(st.booleans()):
        return Build((x,))
    chosen = draw(st.lists(st.sampled_from(ones), max_size=len(ones) + 1))
    return Build((x,), {"axes": [_axis(draw, a, x.rank) for a in chosen]})


@gen_rule(ops.Concat)
def _concat(draw: st.DrawFn, pool: Pool) -> Build | None:
    """Values equal to the first but along a static axis, where their sizes may differ."""
    x = pool.pick(min_rank=1, where=lambda e: bool(_static_axes(e)), make=lambda: _shape_with(pool))
    if x is None:
        return None
    axes = _static_axes(x)
    if not axes:
        return None
    axis = draw(st.sampled_from(axes))
    values = [x]
    for _ in range(draw(st.integers(0, 3))):
        shape = list(x.shape)
        shape[axis] = draw(st.integers(pool.config.min_side, pool.config.max_side))
        values.append(pool.operand(x.dtype, tuple(shape)))
    values = draw(st.permutations(values))
    return Build((values,), {"axis": _axis(draw, axis, x.rank)})


@gen_rule(ops.Stack)
def _stack(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = pool.pick(max_rank=pool.config.max_rank - 1)
    if x is None:
        return None
    values = [x] + [pool.operand(x.dtype, x.shape) for _ in range(draw(st.integers(0, 3)))]
    attrs = {}
    if draw(st.booleans()):
        attrs["axis"] = _axis(draw, draw(st.integers(0, x.rank)), x.rank + 1)
    return Build((values,), attrs)


@gen_rule(ops.Split)
def _split(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = pool.pick(min_rank=1, where=lambda e: bool(_static_axes(e)), make=lambda: _shape_with(pool))
    if x is None:
        return None
    axis = draw(st.sampled_from(_static_axes(x)))
    dim = x.shape[axis]
    attrs: dict = {"axis": _axis(draw, axis, x.rank)}
    divisors = [k for k in range(1, dim + 1) if dim % k == 0] or [1]
    if draw(st.booleans()):
        attrs["num"] = draw(st.sampled_from(divisors))
    else:
        sizes: list[int] = []
        left = dim
        while left > 0 and len(sizes) < 4:
            s = draw(st.integers(0, left))
            sizes.append(s)
            left -= s
        if left or draw(st.booleans()):
            sizes.append(left)
            if draw(st.booleans()):
                sizes[-1] = -1
        attrs["sizes"] = sizes
    return Build((x,), attrs)


@gen_rule(ops.Slice)
def _slice(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = pool.pick()
    if x is None:
        return None
    begin, size = [], []
    for d in x.shape:
        if is_symbol(d):
            begin.append(0)
            size.append(-1)
            continue
        b = draw(st.integers(0, d))
        begin.append(b)
        size.append(-1 if draw(st.integers(0, 3)) == 0 else draw(st.integers(0, d - b)))
    return Build((x,), {"begin": begin, "size": size})


@gen_rule(ops.StridedSlice)
def _strided_slice(draw: st.DrawFn, pool: Pool) -> Build | None:
    """Python-style indexing of ``x``: bounds (negative, clamped, masked), strides, shrinks
    and new axes on static dims; symbol dims taken whole (forwards or backwards)."""
    x = pool.pick()
    if x is None:
        return None
    rank = x.rank

    def index(d: int) -> object:
        if is_symbol(d):
            return slice(None, None, draw(st.sampled_from([1, -1])))
        if d > 0 and draw(st.integers(0, 3)) == 0:
            return draw(st.integers(-d, d - 1))
        bound = st.one_of(st.none(), st.integers(-d - 2, d + 2))
        return slice(draw(bound), draw(bound), draw(st.sampled_from([1, 1, 2, -1, -2, 3])))

    # Items index the leading dims; after an ellipsis, they index the trailing ones.
    front = draw(st.integers(0, rank))
    back = draw(st.integers(0, rank - front)) if front < rank and pool.chance(1 / 3) else None
    items: list[object] = [index(d) for d in x.shape[:front]]
    if back is not None:
        items += [Ellipsis, *(index(d) for d in x.shape[rank - back :])]
    for _ in range(pool.config.max_rank - rank):
        if pool.chance(1 / 6):
            items.insert(draw(st.integers(0, len(items))), None)
    return Build((x,), ops.array.strided_slice_spec(tuple(items)))


@gen_rule(ops.Gather)
def _gather(draw: st.DrawFn, pool: Pool) -> Build | None:
    """Indices are a new constant in range of a static, non-empty axis."""
    params = pool.pick(
        min_rank=1, where=lambda e: bool(_static_axes(e, min_size=1)), make=lambda: _shape_with(pool)
    )
    dtype = _index_dtype(pool)
    if params is None or dtype is None:
        return None
    axis = draw(st.sampled_from(_static_axes(params, min_size=1)))
    rank = draw(st.integers(0, max(0, pool.config.max_rank - params.rank + 1)))
    shape = tuple(pool.new_dim(static_only=True) for _ in range(min(rank, 2)))
    indices = pool.new_constant(dtype, shape, elements=st.integers(0, params.shape[axis] - 1))
    if axis == 0 and draw(st.booleans()):
        return Build((params, indices))
    return Build((params, indices), {"axis": _axis(draw, axis, params.rank)})


@gen_rule(ops.Tile)
def _tile(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = pool.pick()
    if x is None:
        return None
    multiples = [1 if is_symbol(d) else draw(st.integers(0, 3)) for d in x.shape]
    return Build((x,), {"multiples": multiples})


@gen_rule(ops.Pad)
def _pad(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = pool.pick(dtypes=[d for d in pool.config.dtypes if d is not DType.string])
    if x is None:
        return None
    mode = draw(st.sampled_from(ops.array.PAD_MODES))
    paddings: list[int] = []
    for d in x.shape:
        limit = 0 if is_symbol(d) else {"constant": 3, "reflect": d - 1, "symmetric": d}[mode]
        paddings += [draw(st.integers(0, max(limit, 0))), draw(st.integers(0, max(limit, 0)))]
    attrs: dict = {"paddings": paddings, "mode": mode}
    if mode == "constant" and draw(st.booleans()):
        attrs["constant_value"] = float(draw(st.integers(-3, 3)))
    return Build((x,), attrs)


@gen_rule(ops.Fill)
def _fill(draw: st.DrawFn, pool: Pool) -> Build | None:
    value = pool.pick(max_rank=0)
    if value is None:
        return None
    return Build((value,), {"shape": pool.static_shape()})


def _constant_of_shape_rule(cls: type[Operation]) -> GenRule:
    def rule(draw: st.DrawFn, pool: Pool) -> Build | None:
        dtype = _out_dtype(draw, pool, cls.DTYPES)  # type: ignore[attr-defined]
        if dtype is None:
            return None
        return Build((), {"shape": pool.static_shape(), "dtype": dtype})

    return rule


def _constant_like_rule(cls: type[Operation]) -> GenRule:
    def rule(draw: st.DrawFn, pool: Pool) -> Build | None:
        x = pool.pick(dtypes=cls.DTYPES)  # type: ignore[attr-defined]
        return None if x is None else Build((x,))

    return rule


for _cls in (ops.Zeros, ops.Ones):
    GEN_RULES[_cls] = _constant_of_shape_rule(_cls)
for _cls in (ops.ZerosLike, ops.OnesLike):
    GEN_RULES[_cls] = _constant_like_rule(_cls)


@gen_rule(ops.Range)
def _range(draw: st.DrawFn, pool: Pool) -> Build | None:
    dtype = _out_dtype(draw, pool, ops.array.RANGE_DTYPES)
    if dtype is None:
        return None
    start = draw(st.integers(-5, 5))
    delta = draw(st.sampled_from([1, 2, 3, -1, -2]))
    count = draw(st.integers(0, pool.config.max_side))
    limit = start
    if count:
        # Anywhere in the last step's span gives ``count`` elements.
        limit += delta * (count - 1) + (1 if delta > 0 else -1) * draw(st.integers(1, abs(delta)))
    return Build((), {"start": float(start), "limit": float(limit), "delta": float(delta), "dtype": dtype})


@gen_rule(ops.OneHot)
def _one_hot(draw: st.DrawFn, pool: Pool) -> Build | None:
    index_dtypes = ops.array.ONE_HOT_INDEX_DTYPES
    indices = pool.pick(dtypes=index_dtypes, max_rank=pool.config.max_rank - 1)
    dtype = _out_dtype(draw, pool, ops.array.NUMERIC_OR_BOOL)
    if indices is None or dtype is None:
        return None
    attrs: dict = {"depth": draw(st.integers(0, 5)), "dtype": dtype}
    if draw(st.booleans()):
        attrs["axis"] = draw(st.integers(-1, indices.rank))
    if draw(st.booleans()):
        attrs["on_value"] = float(draw(st.integers(-2, 5)))
        attrs["off_value"] = float(draw(st.integers(-2, 2)))
    return Build((indices,), attrs)


@gen_rule(ops.Shape)
def _shape(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = pool.pick()
    dtype = _index_dtype(pool)
    if x is None or dtype is None:
        return None
    return Build((x,), {"out_type": dtype})



# --------------------------------------------------------------------------------------------
# State: variables, reads and updates (the pool chains the ops acting on one variable)


def _variable(draw: st.DrawFn, pool: Pool, dtypes: frozenset[DType] | None = None) -> Entry | None:
    """An existing variable handle (of ``dtypes``) or a new variable."""
    found = [e for e in pool.variable_entries() if dtypes is None or e.witness.value_type.dtype in dtypes]  # type: ignore[attr-defined]
    if found and not pool.chance(1 / 3):
        return pool.choose(found)
    build = _new_variable(draw, pool, dtypes)
    if build is None:
        return None
    op = pool.emit(ops.Variable, build)
    return None if op is None else pool.entries[-1]


def _new_variable(draw: st.DrawFn, pool: Pool, dtypes: frozenset[DType] | None = None) -> Build | None:
    dtype = _out_dtype(draw, pool, dtypes if dtypes is not None else pool.config.dtypes)
    if dtype is None:
        return None
    shape = tuple(pool.new_dim() for _ in range(draw(st.integers(0, pool.config.max_rank))))
    # A shared name of its own keeps the variable's identity when generated names repeat.
    name = f"var{len(pool.variables)}"
    return Build((), {"shared_name": name}, result_types=(ResourceType(TensorType(dtype, shape)),))


@gen_rule(ops.Variable)
def _variable_rule(draw: st.DrawFn, pool: Pool) -> Build | None:
    return _new_variable(draw, pool)


@gen_rule(ops.Read)
def _read(draw: st.DrawFn, pool: Pool) -> Build | None:
    ref = _variable(draw, pool)
    return None if ref is None else Build((ref,))


def _update_rule(dtypes: frozenset[DType] | None) -> GenRule:
    def rule(draw: st.DrawFn, pool: Pool) -> Build | None:
        ref = _variable(draw, pool, dtypes)
        if ref is None:
            return None
        vt: TensorType = ref.witness.value_type  # type: ignore[attr-defined]
        return Build((ref, pool.operand(vt.dtype, vt.shape)))  # type: ignore[arg-type]

    return rule


GEN_RULES[ops.Assign] = _update_rule(None)
GEN_RULES[ops.AssignAdd] = _update_rule(NUMERIC)
GEN_RULES[ops.AssignSub] = _update_rule(NUMERIC)


def _slot_variable(draw: st.DrawFn, pool: Pool, value_type: TensorType, taken: Sequence[Entry]) -> Entry | None:
    """A variable holding ``value_type`` (an optimizer slot) other than those ``taken``: an
    existing one or a new one."""
    found = [e for e in pool.variable_entries() if e.witness.value_type == value_type and e not in taken]  # type: ignore[attr-defined]
    if found and pool.chance(0.5):
        return pool.choose(found)
    build = Build((), {"shared_name": f"var{len(pool.variables)}"}, result_types=(ResourceType(value_type),))
    return None if pool.emit(ops.Variable, build) is None else pool.entries[-1]


@gen_rule(ops.ApplyAdam)
def _apply_adam(draw: st.DrawFn, pool: Pool) -> Build | None:
    var = _variable(draw, pool, FLOATS)
    if var is None:
        return None
    vt: TensorType = var.witness.value_type  # type: ignore[attr-defined]
    m = _slot_variable(draw, pool, vt, [var])
    v = None if m is None else _slot_variable(draw, pool, vt, [var, m])
    if v is None:
        return None
    grad = pool.operand(vt.dtype, vt.shape)  # type: ignore[arg-type]
    return Build((var, m, v, *_adam_scalars(draw, pool, vt.dtype), grad), {"use_nesterov": draw(st.booleans())})


# --------------------------------------------------------------------------------------------
# Train: fused optimizer updates


def _adam_scalars(draw: st.DrawFn, pool: Pool, dtype: DType) -> list[Entry]:
    """Constants for Adam's ``beta1_power, beta2_power, lr, beta1, beta2, epsilon`` as an
    optimizer sets them (betas in [0, 1), their powers at a step ``t`` in 1..3, so the bias
    correction never divides by zero); the tensors updated are arbitrary."""
    beta1 = draw(st.sampled_from([0.9, 0.5, 0.0]))
    beta2 = draw(st.sampled_from([0.999, 0.9, 0.5]))
    t = draw(st.integers(1, 3))
    values = [beta1**t, beta2**t, draw(st.sampled_from([1e-3, 0.1, 1.0])), beta1, beta2, draw(st.sampled_from([1e-8, 1e-3, 1.0]))]
    return [pool.new_constant(dtype, (), splat=x) for x in values]


@gen_rule(ops.AdamUpdate)
def _adam_update(draw: st.DrawFn, pool: Pool) -> Build | None:
    var = pool.pick(dtypes=FLOATS)
    if var is None:
        return None
    m, v, grad = (pool.operand(var.dtype, var.shape) for _ in range(3))
    return Build((var, m, v, *_adam_scalars(draw, pool, var.dtype), grad), {"use_nesterov": draw(st.booleans())})


# --------------------------------------------------------------------------------------------
# Random


@family_rule(ops.random.RandomOp)
def _random_family(cls: type[Operation]) -> GenRule:
    params: dict[type[Operation], Callable[[st.DrawFn, DType], dict]] = {
        ops.RandomUniform: _uniform_params,
        ops.RandomNormal: _normal_params,
        ops.TruncatedNormal: _normal_params,
    }

    def rule(draw: st.DrawFn, pool: Pool) -> Build | None:
        dtype = _out_dtype(draw, pool, cls.DTYPES)  # type: ignore[attr-defined]
        if dtype is None:
            return None
        attrs = {"shape": pool.static_shape(), "dtype": dtype}
        # Unseeded streams are numbered by first use, which a pass removing another random
        # op changes; seeded ones repeat across graphs, so semantics can be compared.
        if pool.config.seeded_random or draw(st.booleans()):
            attrs["seed"] = draw(st.integers(0, 100))
            attrs["seed2"] = draw(st.integers(1, 100))
        make = params.get(cls)
        if make is not None:
            attrs.update(make(draw, dtype))
        return Build((), attrs)

    return rule


@gen_rule(ops.RandomUniformLike)
def _uniform_like(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = pool.pick(dtypes=FLOATS)
    if x is None:
        return None
    attrs = _uniform_params(draw, x.dtype)
    if pool.config.seeded_random or draw(st.booleans()):
        attrs["seed"] = draw(st.integers(0, 100))
        attrs["seed2"] = draw(st.integers(1, 100))
    return Build((x,), attrs)


def _uniform_params(draw: st.DrawFn, dtype: DType) -> dict:
    lo = draw(st.integers(-5, 5))
    hi = lo + draw(st.integers(1, 6))
    return {"minval": float(lo), "maxval": float(hi)}


def _normal_params(draw: st.DrawFn, dtype: DType) -> dict:
    return {"mean": float(draw(st.integers(-3, 3))), "stddev": draw(st.sampled_from([0.5, 1.0, 2.0]))}


# --------------------------------------------------------------------------------------------
# Control


@gen_rule(ops.Group, ops.NoOp)
def _control(draw: st.DrawFn, pool: Pool) -> Build | None:
    if not pool.entries:
        return None
    deps = {pool.choose(pool.entries).index: None for _ in range(draw(st.integers(0, 3)))}
    return Build((), control_deps=tuple(pool.entries[i] for i in deps))


# --------------------------------------------------------------------------------------------
# Summaries


_TAGS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)


@gen_rule(ops.Scalar)
def _summary_scalar(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = pool.pick(dtypes=NUMERIC, max_rank=0)
    return None if x is None else Build((x,), {"tag": draw(_TAGS)})


@gen_rule(ops.Histogram)
def _summary_histogram(draw: st.DrawFn, pool: Pool) -> Build | None:
    # A NaN or an infinity fails the run (as TF1), and computed or fed floats may hold them:
    # float values are constants of finite elements.
    if draw(st.booleans()):
        x = pool.pick(dtypes=NUMERIC - FLOATS)
    else:
        dtype = _out_dtype(draw, pool, FLOATS)
        x = None if dtype is None else pool.new_constant(dtype, pool.static_shape())
    return None if x is None else Build((x,), {"tag": draw(_TAGS)})


@gen_rule(ops.Image)
def _summary_image(draw: st.DrawFn, pool: Pool) -> Build | None:
    dtypes = ops.summary.IMAGE_DTYPES
    # Images without pixels fail the run (as TF).
    x = pool.pick(
        dtypes=dtypes,
        min_rank=4,
        max_rank=4,
        where=lambda e: e.shape[3] in ops.summary.IMAGE_CHANNELS and e.shape[1] != 0 and e.shape[2] != 0,
    )
    if x is None:
        dtype = _out_dtype(draw, pool, dtypes)
        if dtype is None:
            return None
        shape = (pool.new_dim(), pool.new_dim(), pool.new_dim(), draw(st.sampled_from(ops.summary.IMAGE_CHANNELS)))
        x = pool.fresh(dtype, shape)
    attrs: dict = {"tag": draw(_TAGS)}
    if draw(st.booleans()):
        attrs["max_outputs"] = draw(st.integers(1, 5))
    return Build((x,), attrs)


@gen_rule(ops.Audio)
def _summary_audio(draw: st.DrawFn, pool: Pool) -> Build | None:
    # Clips without channels fail the run (as TF).
    x = pool.pick(
        dtypes=FLOATS,
        min_rank=2,
        max_rank=3,
        where=lambda e: e.rank == 2 or e.shape[2] != 0,
        make=lambda: tuple(pool.new_dim() for _ in range(draw(st.integers(2, 3)))),
    )
    if x is None:
        return None
    attrs: dict = {"tag": draw(_TAGS), "sample_rate": float(draw(st.sampled_from([8000, 16000, 44100])))}
    if draw(st.booleans()):
        attrs["max_outputs"] = draw(st.integers(1, 5))
    return Build((x,), attrs)


@gen_rule(ops.Text)
def _summary_text(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = pool.pick(dtypes={DType.string})
    return None if x is None else Build((x,), {"tag": draw(_TAGS)})


def _summary_tags(op: Operation | None) -> frozenset[str] | None:
    """The tags of the values of the summary ``op`` yields (``None`` if it is no summary)."""
    if op is None:
        return None
    if type(op) is ops.Merge:
        found = [_summary_tags(v.owner) for v in op.operands]
        return None if any(t is None for t in found) else frozenset().union(*found)  # type: ignore[arg-type]
    if type(op) is ops.Constant:
        value = op.value
        if value.dtype != object or value.shape != ():
            return None
        from flowir.ir.reference.summary import summary_pb2

        try:
            parsed = summary_pb2().Summary.FromString(bytes(value[()]))
        except Exception:  # any undecodable string: not a summary
            return None
        return frozenset(v.tag for v in parsed.value)
    tag = op.attributes.get("tag") if op.name.startswith("summary.") else None
    return None if tag is None else frozenset({tag})


@gen_rule(ops.Merge)
def _summary_merge(draw: st.DrawFn, pool: Pool) -> Build | None:
    # Merging fails on an input that is no summary or on a tag seen twice (as TF): inputs are
    # summaries with disjoint tags.
    candidates = pool.tensors(lambda e: e.rank == 0 and _summary_tags(e.op) is not None)
    if not candidates or pool.chance(0.2):
        from flowir.ir.reference.summary import summary_pb2

        pb2 = summary_pb2()
        value = pb2.Summary.Value(tag=draw(_TAGS), simple_value=draw(st.floats(width=32)))
        summary = np.empty((), dtype=object)
        summary[()] = pb2.Summary(value=[value]).SerializeToString()
        candidates = [*candidates, pool.add_constant(summary)]
    inputs: list[Entry] = []
    seen: set[str] = set()
    for _ in range(draw(st.integers(1, 3))):
        x = pool.choose(candidates)
        tags = _summary_tags(x.op)
        assert tags is not None
        if not tags & seen:
            inputs.append(x)
            seen |= tags
    return Build((inputs,))


# --------------------------------------------------------------------------------------------
# Losses


@gen_rule(ops.nn.SoftmaxCrossEntropyWithLogits)
def _softmax_cross_entropy(draw: st.DrawFn, pool: Pool) -> Build | None:
    logits = pool.pick(dtypes=FLOATS, min_rank=1)
    if logits is None:
        return None
    labels = pool.operand(logits.dtype, logits.shape)
    attrs = {}
    if draw(st.booleans()):
        attrs["axis"] = _axis(draw, draw(st.integers(0, logits.rank - 1)), logits.rank)
    return Build((logits, labels), attrs)


@gen_rule(ops.nn.SparseSoftmaxCrossEntropyWithLogits)
def _sparse_softmax_cross_entropy(draw: st.DrawFn, pool: Pool) -> Build | None:
    """Labels must be valid class indices: a constant in range when the batch dims are
    static, else the argmax of a value shaped like ``logits`` (in range for any batch size)."""
    logits = pool.pick(
        dtypes=FLOATS,
        min_rank=1,
        where=lambda e: not is_symbol(e.shape[-1]) and e.shape[-1] >= 1,
        make=lambda: (*pool.static_shape(pool.config.max_rank - 1), draw(st.integers(1, pool.config.max_side))),
    )
    dtype = _out_dtype(draw, pool, ops.nn.LABEL_DTYPES)
    if logits is None or dtype is None:
        return None
    batch, classes = logits.shape[:-1], logits.shape[-1]
    if not any(map(is_symbol, batch)) and pool.chance(0.5):
        labels = pool.new_constant(dtype, batch, elements=st.integers(0, classes - 1))
    else:
        scores = pool.operand(logits.dtype, logits.shape)
        if pool.emit(ops.ArgMax, Build((scores,), {"axis": -1, "output_type": dtype})) is None:
            return None
        labels = pool.entries[-1]
    return Build((logits, labels))


@gen_rule(ops.nn.SigmoidCrossEntropyWithLogits)
def _sigmoid_cross_entropy(draw: st.DrawFn, pool: Pool) -> Build | None:
    logits = pool.pick(dtypes=FLOATS)
    if logits is None:
        return None
    labels = pool.operand(logits.dtype, logits.shape)
    return Build((logits, labels) if draw(st.booleans()) else (labels, logits))


# --------------------------------------------------------------------------------------------
# The grad dialect: each op is built as the adjoint of a forward op drawn by that op's rule,
# so its operands have the shapes the forward op relates.


def _forward_witness(cls: type[Operation], build: Build) -> tuple[TensorType, ...] | None:
    """The witness result types of ``cls`` built from ``build`` (the op itself is not added)."""
    operands = tuple([e.shadow for e in x] if isinstance(x, (list, tuple)) else x.shadow for x in build.operands)
    try:
        op = cls.create(*operands, loc=UNKNOWN_LOC, **build.attrs)
    except FlowirError:
        return None
    op._drop_uses()
    return tuple(r.type for r in op.results)  # type: ignore[misc]


def _adjoint_rule(forward: type[Operation], make: Callable[[Pool, Build, tuple[Entry, ...]], Build]) -> GenRule:
    """A rule drawing ``forward`` with its own rule, then a numeric cotangent of each of its
    results' witness shapes, and building the adjoint with ``make(pool, build, cotangents)``."""

    def rule(draw: st.DrawFn, pool: Pool) -> Build | None:
        build = rule_for(forward)(draw, pool)  # type: ignore[misc]
        dtypes = pool.allowed(NUMERIC)
        if build is None or not dtypes:
            return None
        results = _forward_witness(forward, build)
        if results is None:
            return None
        dtype = draw(st.sampled_from(dtypes))
        return make(pool, build, tuple(pool.operand(dtype, r.shape) for r in results))  # type: ignore[arg-type]

    return rule


GEN_RULES[ops.StopGradient] = _identity
GEN_RULES[ops.StridedSliceGrad] = _adjoint_rule(ops.StridedSlice, lambda pool, b, cts: Build((cts[0], b.operands[0]), b.attrs))
GEN_RULES[ops.GatherGrad] = _adjoint_rule(ops.Gather, lambda pool, b, cts: Build((cts[0], b.operands[1], b.operands[0]), b.attrs))
GEN_RULES[ops.Untile] = _adjoint_rule(ops.Tile, lambda pool, b, cts: Build((cts[0], b.operands[0]), b.attrs))
GEN_RULES[ops.PadGrad] = _adjoint_rule(
    ops.Pad, lambda pool, b, cts: Build((cts[0],), {k: v for k, v in b.attrs.items() if k != "constant_value"})
)
GEN_RULES[ops.SplitLike] = _adjoint_rule(ops.Concat, lambda pool, b, cts: Build((cts[0], b.operands[0]), b.attrs))


@gen_rule(ops.SumTo)
def _sum_to(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = pool.pick(dtypes=NUMERIC)
    if x is None:
        return None
    like = pool.operand(draw(st.sampled_from(pool.allowed(None))), x.shape, broadcast=True)
    return Build((x, like))


@gen_rule(ops.BroadcastLike)
def _broadcast_like(draw: st.DrawFn, pool: Pool) -> Build | None:
    like = pool.pick()
    if like is None:
        return None
    x = pool.operand(draw(st.sampled_from(pool.allowed(None))), like.shape, broadcast=True)
    return Build((x, like))


@gen_rule(ops.Unreduce)
def _unreduce(draw: st.DrawFn, pool: Pool) -> Build | None:
    """``g`` shaped as a reduction of ``like`` (drawn by the reductions' rule) would be."""
    mean = draw(st.booleans())
    dtypes = pool.allowed(FLOATS if mean else NUMERIC)
    build = rule_for(ops.ReduceSum)(draw, pool)  # type: ignore[misc]
    if build is None or not dtypes:
        return None
    results = _forward_witness(ops.ReduceSum, build)
    if results is None:
        return None
    g = pool.operand(draw(st.sampled_from(dtypes)), results[0].shape)  # type: ignore[arg-type]
    return Build((g, build.operands[0]), {**build.attrs, "mean": mean})


@gen_rule(ops.ReshapeLike)
def _reshape_like(draw: st.DrawFn, pool: Pool) -> Build | None:
    """``like`` regroups ``x``'s elements (a reshape of it drawn by the reshape rule, its -1
    taking ``x``'s symbol)."""
    build = _reshape(draw, pool)
    if build is None:
        return None
    (x,) = build.operands
    symbol = next((d for d in x.shape if is_symbol(d)), None)
    n = math.prod(d for d in x.shape if not is_symbol(d))
    known = math.prod(d for d in build.attrs["shape"] if d != -1)
    shape = tuple((symbol if symbol is not None else n // known) if d == -1 else d for d in build.attrs["shape"])
    like = pool.operand(draw(st.sampled_from(pool.allowed(None))), shape)
    return Build((x, like))


# --------------------------------------------------------------------------------------------
# Catalog extensions for ONNX: parametric activations, cumsum, broadcast_to, conv and pooling


@gen_rule(ops.Gelu)
def _gelu(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = pool.pick(dtypes=FLOATS)
    if x is None:
        return None
    return Build((x,), {"approximate": draw(st.sampled_from(["none", "tanh"]))})


@gen_rule(ops.Elu, ops.LeakyRelu)
def _alpha_activation(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = pool.pick(dtypes=FLOATS)
    if x is None:
        return None
    attrs = {"alpha": draw(st.sampled_from([0.01, 0.2, 1.0, 1.5]))} if draw(st.booleans()) else {}
    return Build((x,), attrs)


@gen_rule(ops.CumSum)
def _cumsum(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = pool.pick(dtypes=NUMERIC, min_rank=1)
    if x is None:
        return None
    axis = _axis(draw, draw(st.integers(0, x.rank - 1)), x.rank)
    return Build((x,), {"axis": axis, "exclusive": draw(st.booleans()), "reverse": draw(st.booleans())})


@gen_rule(ops.BroadcastTo)
def _broadcast_to(draw: st.DrawFn, pool: Pool) -> Build | None:
    """``shape`` has 1 against every symbol of ``x`` (which keeps it), and against static
    dims either 1, the dim, or (against 1) a new size; by chance extra leading dims."""
    x = pool.pick()
    if x is None:
        return None
    shape: list[int] = []
    for d in x.shape[draw(st.integers(0, x.rank)) :]:
        if is_symbol(d):
            shape.append(1)
        elif d == 1:
            shape.append(draw(st.integers(1, pool.config.max_side)))
        else:
            shape.append(draw(st.sampled_from([1, d])))
    lead = [pool.new_dim(static_only=True) for _ in range(draw(st.integers(0, max(pool.config.max_rank - x.rank, 0))))]
    return Build((x,), {"shape": lead + shape})


def _window_input(draw: st.DrawFn, pool: Pool, dtypes: frozenset[DType]) -> Entry | None:
    """A value of rank 3 to 5 whose dims but the first (the batch) are static and non-zero:
    window sizes and channel counts are attributes, so only the batch may vary."""
    hi = min(pool.config.max_rank, 5)
    if hi < 3:
        return None

    def fits(e: Entry) -> bool:
        return all(not is_symbol(d) and d >= 1 for d in e.shape[1:])

    def make() -> tuple[int, ...]:
        rank = draw(st.integers(3, hi))
        side = st.integers(max(pool.config.min_side, 1), max(pool.config.max_side, 1) + 2)
        return (pool.new_dim(), *(draw(side) for _ in range(rank - 1)))

    return pool.pick(dtypes=dtypes, min_rank=3, max_rank=hi, where=fits, make=make)


def _window_attrs(draw: st.DrawFn, sizes: Sequence[int], pooling: bool) -> tuple[dict, list[int]]:
    """Window attributes for spatial ``sizes`` with which every window fits, and the kernel."""
    n = len(sizes)
    padding = draw(st.sampled_from(ops.nn.PADDINGS))
    pads = [draw(st.integers(0, 2)) for _ in range(2 * n)] if padding == "EXPLICIT" else [0] * (2 * n)
    kernel, dilations = [], []
    for i, size in enumerate(sizes):
        room = size + pads[2 * i] + pads[2 * i + 1]
        k = draw(st.integers(1, min(room, 3) if padding in ("VALID", "EXPLICIT") else 3))
        d = draw(st.integers(1, 2))
        if padding in ("VALID", "EXPLICIT") and (k - 1) * d + 1 > room:
            d = 1
        kernel.append(k)
        dilations.append(d)
    attrs: dict = {"padding": padding}
    if padding == "EXPLICIT":
        attrs["pads"] = pads
    if any(d != 1 for d in dilations) or draw(st.booleans()):
        attrs["dilations"] = dilations
    if draw(st.booleans()):
        attrs["strides"] = [draw(st.integers(1, 3)) for _ in range(n)]
    if pooling and padding in ("VALID", "EXPLICIT") and draw(st.booleans()):
        attrs["ceil_mode"] = True
    return attrs, kernel


def _conv_build(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = _window_input(draw, pool, FLOATS)
    if x is None:
        return None
    data_format = draw(st.sampled_from(ops.nn.DATA_FORMATS))
    last = data_format == "NHWC"
    channels = x.shape[-1] if last else x.shape[1]
    sizes = x.shape[1:-1] if last else x.shape[2:]
    attrs, kernel = _window_attrs(draw, sizes, pooling=False)
    groups = draw(st.sampled_from([g for g in range(1, channels + 1) if channels % g == 0]))
    out = groups * draw(st.integers(1, 2))
    filter_format = draw(st.sampled_from(ops.nn.FILTER_FORMATS))
    per_group = channels // groups
    w_shape = (*kernel, per_group, out) if filter_format == "HWIO" else (out, per_group, *kernel)
    w = pool.operand(x.dtype, tuple(w_shape))
    attrs.update(data_format=data_format, filter_format=filter_format)
    if groups != 1:
        attrs["groups"] = groups
    return Build((x, w), attrs)


def _pool_build(draw: st.DrawFn, pool: Pool, dtypes: frozenset[DType], avg: bool) -> Build | None:
    x = _window_input(draw, pool, dtypes)
    if x is None:
        return None
    data_format = draw(st.sampled_from(ops.nn.DATA_FORMATS))
    sizes = x.shape[1:-1] if data_format == "NHWC" else x.shape[2:]
    attrs, kernel = _window_attrs(draw, sizes, pooling=True)
    attrs.update(kernel_shape=kernel, data_format=data_format)
    if avg and draw(st.booleans()):
        attrs["count_include_pad"] = True
    return Build((x,), attrs)


GEN_RULES[ops.Conv] = _conv_build
GEN_RULES[ops.MaxPool] = lambda draw, pool: _pool_build(draw, pool, NUMERIC, avg=False)
GEN_RULES[ops.AvgPool] = lambda draw, pool: _pool_build(draw, pool, FLOATS, avg=True)


def _window_adjoint(
    forward: type[Operation], build_forward: GenRule, make: Callable[[Build, Entry], Build]
) -> GenRule:
    """A rule drawing ``forward`` (of float operands), then a cotangent of its result's
    witness shape and dtype, and building the adjoint with ``make(build, cotangent)``."""

    def rule(draw: st.DrawFn, pool: Pool) -> Build | None:
        build = build_forward(draw, pool)
        if build is None:
            return None
        results = _forward_witness(forward, build)
        if results is None:
            return None
        return make(build, pool.operand(results[0].dtype, results[0].shape))  # type: ignore[arg-type]

    return rule


GEN_RULES[ops.ConvInputGrad] = _window_adjoint(
    ops.Conv, _conv_build, lambda b, dy: Build((dy, b.operands[1], b.operands[0]), b.attrs)
)
GEN_RULES[ops.ConvFilterGrad] = _window_adjoint(
    ops.Conv, _conv_build, lambda b, dy: Build((b.operands[0], dy, b.operands[1]), b.attrs)
)
GEN_RULES[ops.MaxPoolGrad] = _window_adjoint(
    ops.MaxPool,
    lambda draw, pool: _pool_build(draw, pool, FLOATS, avg=False),
    lambda b, dy: Build((b.operands[0], dy), b.attrs),
)
GEN_RULES[ops.AvgPoolGrad] = _window_adjoint(
    ops.AvgPool,
    lambda draw, pool: _pool_build(draw, pool, FLOATS, avg=True),
    lambda b, dy: Build((dy, b.operands[0]), b.attrs),
)


@gen_rule(ops.MaxPoolGradGrad)
def _max_pool_grad_grad(draw: st.DrawFn, pool: Pool) -> Build | None:
    """A float max pooling's operand ``x`` and a tangent ``g`` of ``x``'s witness shape."""
    build = _pool_build(draw, pool, FLOATS, avg=False)
    if build is None:
        return None
    (x,) = build.operands
    return Build((x, pool.operand(x.dtype, x.shape)), build.attrs)


def _resize_build(draw: st.DrawFn, pool: Pool, dtypes: frozenset[DType] | None) -> Build | None:
    """Symbols keep scale 1 (their size varies); static dims get a scale or, with ``sizes``,
    a new size (a static dim of 0 stays 0)."""
    x = pool.pick(dtypes=dtypes, min_rank=1)
    if x is None:
        return None
    attrs: dict = {
        "coordinate_transformation_mode": draw(st.sampled_from(ops.nn.COORDINATE_MODES)),
        "nearest_mode": draw(st.sampled_from(ops.nn.NEAREST_MODES)),
    }
    if not any(is_symbol(d) for d in x.shape) and draw(st.booleans()):
        attrs["sizes"] = [0 if d == 0 else draw(st.integers(1, 6)) for d in x.shape]
    else:
        attrs["scales"] = [1.0 if is_symbol(d) else draw(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0])) for d in x.shape]
    return Build((x,), attrs)


GEN_RULES[ops.ResizeNearest] = lambda draw, pool: _resize_build(draw, pool, NUMERIC | {DType.bool})


@gen_rule(ops.ResizeNearestGrad)
def _resize_nearest_grad(draw: st.DrawFn, pool: Pool) -> Build | None:
    build = _resize_build(draw, pool, None)
    dtypes = pool.allowed(FLOATS)
    if build is None or not dtypes:
        return None
    results = _forward_witness(ops.ResizeNearest, build)
    if results is None:
        return None
    g = pool.operand(draw(st.sampled_from(dtypes)), results[0].shape)  # type: ignore[arg-type]
    return Build((g, build.operands[0]), build.attrs)


def _static_shape_with_axis(draw: st.DrawFn, pool: Pool) -> tuple[int, ...]:
    """A static witness shape of rank >= 1 with a non-empty dim."""
    dims = [pool.new_dim(static_only=True) for _ in range(draw(st.integers(0, max(pool.config.max_rank - 1, 0))))]
    dims.insert(draw(st.integers(0, len(dims))), draw(st.integers(1, max(pool.config.max_side, 1))))
    return tuple(dims)


def _take_along_axis_build(draw: st.DrawFn, pool: Pool, dtypes: frozenset[DType] | None) -> Build | None:
    """A static ``x`` (indices are constants, which must match its other dims) and indices
    in range of a non-empty axis."""
    x = pool.pick(
        dtypes=dtypes,
        min_rank=1,
        where=lambda e: not any(is_symbol(d) for d in e.shape) and bool(_static_axes(e, min_size=1)),
        make=lambda: _static_shape_with_axis(draw, pool),
    )
    dtype = _index_dtype(pool)
    if x is None or dtype is None or not _static_axes(x, min_size=1):
        return None
    axis = draw(st.sampled_from(_static_axes(x, min_size=1)))
    shape = list(x.shape)
    shape[axis] = draw(st.integers(0, pool.config.max_side))
    indices = pool.new_constant(dtype, tuple(shape), elements=st.integers(0, x.shape[axis] - 1))
    return Build((x, indices), {"axis": _axis(draw, axis, x.rank)})


GEN_RULES[ops.TakeAlongAxis] = lambda draw, pool: _take_along_axis_build(draw, pool, None)


@gen_rule(ops.TakeAlongAxisGrad)
def _take_along_axis_grad(draw: st.DrawFn, pool: Pool) -> Build | None:
    build = _take_along_axis_build(draw, pool, None)
    dtypes = pool.allowed(NUMERIC)
    if build is None or not dtypes:
        return None
    x, indices = build.operands
    g = pool.operand(draw(st.sampled_from(dtypes)), indices.shape)
    return Build((g, indices, x), build.attrs)


@gen_rule(ops.TopK)
def _top_k(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = pool.pick(dtypes=NUMERIC, min_rank=1, where=lambda e: bool(_static_axes(e)), make=lambda: _shape_with(pool))
    dtype = _index_dtype(pool)
    if x is None or dtype is None or not _static_axes(x):
        return None
    axis = draw(st.sampled_from(_static_axes(x)))
    attrs = {"k": draw(st.integers(0, x.shape[axis])), "axis": _axis(draw, axis, x.rank), "index_dtype": dtype}
    if draw(st.booleans()):
        attrs["largest"] = False
    return Build((x,), attrs)


@gen_rule(ops.ConvTranspose)
def _conv_transpose(draw: st.DrawFn, pool: Pool) -> Build | None:
    """A convolution's input (VALID or EXPLICIT padding) as the result's shape: its ``x``
    has the convolution's output shape, so every crop fits."""
    build = _conv_build(draw, pool)
    if build is None or build.attrs.get("padding") not in ("VALID", "EXPLICIT"):
        return None
    results = _forward_witness(ops.Conv, build)
    if results is None or any(d == 0 for d in results[0].shape[1:]):  # type: ignore[union-attr]
        return None
    x = pool.operand(results[0].dtype, results[0].shape)  # type: ignore[arg-type]
    attrs = dict(build.attrs)
    strides = attrs.get("strides")
    if strides and draw(st.booleans()):
        attrs["output_padding"] = [draw(st.integers(0, s - 1)) for s in strides]
    return Build((x, build.operands[1]), attrs)


@gen_rule(ops.Trilu)
def _trilu(draw: st.DrawFn, pool: Pool) -> Build | None:
    x = pool.pick(dtypes=NUMERIC | {DType.bool}, min_rank=2)
    if x is None:
        return None
    attrs: dict = {"k": draw(st.integers(-3, 3))}
    if draw(st.booleans()):
        attrs["upper"] = False
    return Build((x,), attrs)
