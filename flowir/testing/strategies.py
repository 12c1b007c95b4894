"""Hypothesis strategies for flowir types, shapes, arrays and graphs.

Import them in your own tests::

    from hypothesis import given
    from flowir.testing import strategies as fst

    @given(fst.tensor_types(max_rank=3).flatmap(lambda t: fst.arrays_for(t).map(lambda a: (t, a))))
    def test_array_fits_its_type(case):
        ty, a = case
        assert ty.is_compatible_with(TensorType(ty.dtype, a.shape))

Shapes are tuples of ints and ``None`` (a wildcard dim, as in a placeholder ``None``/``-1``),
or ``None`` for unknown rank, exactly as ``flowir.ir.TensorType`` spells them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import strategies as st

from flowir.ir.dtypes import DType
from flowir.ir.types import Shape, TensorType, broadcast_shapes

__all__ = [
    "DEFAULT_DTYPES",
    "dtypes",
    "shapes",
    "tensor_types",
    "BroadcastShapes",
    "broadcastable_shapes",
    "MatmulShapes",
    "matmul_shapes",
    "elements_for",
    "arrays_for",
    "concrete_shapes_for",
]

#: Every dtype except ``string`` (which only summaries use), in a fixed order so that
#: derandomized runs are stable.
DEFAULT_DTYPES: tuple[DType, ...] = tuple(d for d in DType if d is not DType.string)


def dtypes(include: Iterable[DType] | None = None, exclude: Iterable[DType] = ()) -> st.SearchStrategy[DType]:
    """Element types drawn from ``include`` (default: all but ``string``) minus ``exclude``.

    Shrinks towards the first dtype of ``DType``'s declaration order (``bool``).

    >>> from hypothesis import find
    >>> find(dtypes(exclude=[DType.bool]), lambda d: d.is_floating)
    DType.float16
    """
    pool = DEFAULT_DTYPES if include is None else tuple(include)
    excluded = frozenset(exclude)
    order = {d: i for i, d in enumerate(DType)}
    chosen = sorted({d for d in pool if d not in excluded}, key=order.__getitem__)
    if not chosen:
        raise ValueError("dtypes(): no dtype left after include/exclude")
    return st.sampled_from(chosen)


def shapes(
    min_rank: int = 0,
    max_rank: int = 4,
    min_side: int = 1,
    max_side: int = 5,
    wildcards: bool = True,
    unknown_rank: bool = False,
) -> st.SearchStrategy[Shape]:
    """Static shapes, or with ``wildcards`` shapes whose dims may be ``None``; with
    ``unknown_rank`` sometimes ``None`` (rank unknown).

    Shrinks towards rank ``min_rank`` and dims of size ``min_side``.

    >>> from hypothesis import find
    >>> find(shapes(min_rank=2, wildcards=False), lambda s: True)
    (1, 1)
    >>> s = find(shapes(max_rank=3), lambda s: len(s) == 3 and 5 in s)
    >>> len(s), s.count(5), s.count(None) + s.count(1)
    (3, 1, 2)
    """
    if not 0 <= min_rank <= max_rank:
        raise ValueError(f"shapes(): need 0 <= min_rank <= max_rank, got {min_rank}, {max_rank}")
    if not 0 <= min_side <= max_side:
        raise ValueError(f"shapes(): need 0 <= min_side <= max_side, got {min_side}, {max_side}")
    dim: st.SearchStrategy[int | None] = st.integers(min_side, max_side)
    if wildcards:
        dim = st.one_of(dim, st.none())
    known = st.lists(dim, min_size=min_rank, max_size=max_rank).map(tuple)
    if unknown_rank:
        return st.one_of(known, st.none())
    return known


def tensor_types(
    dtype: st.SearchStrategy[DType] | DType | None = None,
    shape: st.SearchStrategy[Shape] | Shape | None = None,
    **shape_kwargs: Any,
) -> st.SearchStrategy[TensorType]:
    """``TensorType``s of ``dtype`` (a dtype or a strategy; default ``dtypes()``) and ``shape``
    (a shape or a strategy; default ``shapes(**shape_kwargs)``).

    >>> from hypothesis import find
    >>> t = find(tensor_types(DType.float32, max_rank=2), lambda t: t.rank == 2)
    >>> t.dtype, t.rank
    (DType.float32, 2)
    """
    dts = dtypes() if dtype is None else (st.just(dtype) if isinstance(dtype, DType) else dtype)
    if shape is None:
        shs = shapes(**shape_kwargs)
    elif isinstance(shape, st.SearchStrategy):
        shs = shape
    else:
        shs = st.just(shape)
    return st.builds(TensorType, dts, shs)


class BroadcastShapes(NamedTuple):
    """Shapes that broadcast together.

    ``input_shapes`` may hold ``None`` dims; ``concrete_shapes`` is one static instance of
    them that numpy broadcasts to ``concrete_result``; ``result_shape`` is what
    ``flowir.ir.broadcast_shapes`` infers from ``input_shapes``.
    """

    input_shapes: tuple[Shape, ...]
    result_shape: Shape
    concrete_shapes: tuple[tuple[int, ...], ...]
    concrete_result: tuple[int, ...]


def broadcastable_shapes(
    num_shapes: int = 2,
    min_dims: int = 0,
    max_dims: int = 4,
    min_side: int = 1,
    max_side: int = 5,
    wildcards: bool = True,
) -> st.SearchStrategy[BroadcastShapes]:
    """``num_shapes`` shapes that broadcast together (``hypothesis.extra.numpy``'s
    ``mutually_broadcastable_shapes``), then, with ``wildcards``, some dims replaced by ``None``.

    A dim of size 1 that is broadcast against a larger size never becomes ``None``: at run
    time a wildcard there could hold any size, which would not broadcast.

    >>> from hypothesis import find
    >>> b = find(broadcastable_shapes(), lambda b: None in sum(b.input_shapes, ()))
    >>> broadcast_shapes(*b.input_shapes) == b.result_shape
    True
    """

    @st.composite
    def build(draw: st.DrawFn) -> BroadcastShapes:
        base = draw(
            hnp.mutually_broadcastable_shapes(
                num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
            )
        )
        concrete = tuple(tuple(s) for s in base.input_shapes)
        result = tuple(base.result_shape)
        if not wildcards:
            return BroadcastShapes(concrete, result, concrete, result)
        out = []
        for s in concrete:
            offset = len(result) - len(s)
            dims: list[int | None] = []
            for i, d in enumerate(s):
                stretched = d == 1 and result[offset + i] != 1
                dims.append(None if not stretched and draw(st.booleans()) else d)
            out.append(tuple(dims))
        inputs = tuple(out)
        return BroadcastShapes(inputs, broadcast_shapes(*inputs), concrete, result)

    return build()


class MatmulShapes(NamedTuple):
    """Operand shapes of a (batched) matrix product ``a @ b``.

    ``a_shape``/``b_shape`` may hold ``None`` dims; ``concrete_a``/``concrete_b`` are one
    static instance that ``np.matmul`` multiplies to ``concrete_result``. Batch dims broadcast
    as numpy's; ``a`` is ``[..., m, k]`` and ``b`` ``[..., k, n]`` (rank >= 2 both).
    """

    a_shape: Shape
    b_shape: Shape
    concrete_a: tuple[int, ...]
    concrete_b: tuple[int, ...]
    concrete_result: tuple[int, ...]


def matmul_shapes(
    min_batch_dims: int = 0,
    max_batch_dims: int = 2,
    min_side: int = 1,
    max_side: int = 5,
    wildcards: bool = True,
) -> st.SearchStrategy[MatmulShapes]:
    """Shapes ``[..., m, k]`` and ``[..., k, n]`` that ``np.matmul`` accepts, built on
    ``hypothesis.extra.numpy.mutually_broadcastable_shapes`` with the gufunc signature
    ``(m,k),(k,n)->(m,n)``; with ``wildcards`` some dims become ``None`` (a batch dim of size 1
    broadcast against a larger one never does: a wildcard there could hold any size).

    >>> from hypothesis import find
    >>> m = find(matmul_shapes(), lambda m: len(m.concrete_a) == 3)
    >>> m.concrete_a[-1] == m.concrete_b[-2]
    True
    """

    @st.composite
    def build(draw: st.DrawFn) -> MatmulShapes:
        base = draw(
            hnp.mutually_broadcastable_shapes(
                signature="(m,k),(k,n)->(m,n)",
                min_dims=min_batch_dims,
                max_dims=max_batch_dims,
                min_side=min_side,
                max_side=max_side,
            )
        )
        a, b = (tuple(s) for s in base.input_shapes)
        result = tuple(base.result_shape)
        if not wildcards:
            return MatmulShapes(a, b, a, b, result)
        batch = result[:-2]

        def erase(s: tuple[int, ...]) -> tuple[int | None, ...]:
            offset = len(batch) - (len(s) - 2)
            dims: list[int | None] = []
            for i, d in enumerate(s):
                stretched = i < len(s) - 2 and d == 1 and batch[offset + i] != 1
                dims.append(None if not stretched and draw(st.booleans()) else d)
            return tuple(dims)

        return MatmulShapes(erase(a), erase(b), a, b, result)

    return build()


_SMALL_FLOAT = 8.0
_SMALL_INT = 8


def elements_for(dtype: DType, *, special: bool = False, small: bool = True) -> st.SearchStrategy[Any]:
    """Scalar values of ``dtype``: small magnitudes by default (``|x| <= 8``) so that
    arithmetic chains stay finite; ``special`` adds NaN, infinities and ``-0.0`` to floats;
    ``small=False`` uses the whole range of integer dtypes.

    Float values are exactly representable in ``dtype`` (drawn at its width and rounded).
    """
    if dtype is DType.bool:
        return st.booleans()
    if dtype is DType.string:
        return st.text(max_size=8)
    if dtype.is_integer:
        info = np.iinfo(dtype.numpy)
        lo, hi = int(info.min), int(info.max)
        if small:
            lo, hi = max(lo, -_SMALL_INT), min(hi, _SMALL_INT)
        return st.integers(lo, hi)
    width = 16 if dtype is DType.float16 else 32 if dtype in (DType.float32, DType.bfloat16) else 64
    bound = _SMALL_FLOAT if small else None
    finite = st.floats(
        min_value=-bound if bound else None,
        max_value=bound,
        width=width,  # type: ignore[arg-type]
        allow_nan=False,
        allow_infinity=False,
        allow_subnormal=False,
    )
    if dtype is DType.bfloat16:
        np_bf16 = dtype.numpy
        finite = finite.map(lambda x: float(np.asarray(x, dtype=np_bf16)))
    if special:
        return st.one_of(finite, st.sampled_from([float("nan"), float("inf"), float("-inf"), -0.0]))
    return finite


def concrete_shapes_for(shape: Shape, *, min_side: int = 1, max_side: int = 4, max_rank: int = 4) -> st.SearchStrategy[tuple[int, ...]]:
    """Static shapes matching ``shape``: each ``None`` dim drawn in ``[min_side, max_side]``
    (independently), a random rank up to ``max_rank`` when the rank is unknown."""
    if shape is None:
        return shapes(0, max_rank, min_side, max_side, wildcards=False)  # type: ignore[return-value]
    parts = [st.just(d) if d is not None else st.integers(min_side, max_side) for d in shape]
    return st.tuples(*parts)


def arrays_for(
    ty: TensorType,
    *,
    elements: st.SearchStrategy[Any] | None = None,
    special: bool = False,
    min_side: int = 1,
    max_side: int = 4,
    max_rank: int = 4,
) -> st.SearchStrategy[np.ndarray]:
    """Numpy arrays of ``ty``'s exact numpy dtype whose shape matches ``ty`` (wildcard dims
    drawn in ``[min_side, max_side]``; unknown rank drawn up to ``max_rank``).

    ``elements`` overrides the scalar strategy (default ``elements_for(ty.dtype, special=special)``).

    >>> from hypothesis import find
    >>> a = find(arrays_for(TensorType(DType.int32, (None, 2))), lambda a: a.shape[0] == 3)
    >>> a.shape, a.dtype
    ((3, 2), dtype('int32'))
    """
    elems = elements if elements is not None else elements_for(ty.dtype, special=special)
    shape_st = concrete_shapes_for(ty.shape, min_side=min_side, max_side=max_side, max_rank=max_rank)
    np_dtype = ty.dtype.numpy
    if ty.dtype is DType.bfloat16:
        # hypothesis does not know ml_dtypes; draw float32 values that bfloat16 holds exactly.
        return hnp.arrays(np.float32, shape_st, elements=elems).map(lambda a: a.astype(np_dtype))
    return hnp.arrays(np_dtype, shape_st, elements=elems)
