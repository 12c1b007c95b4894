"""Shared checks for op tests: build an op on typed inputs, run its kernel, compare types."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from flowir.ir import DType, Graph, Operation, TensorType, Value, dtype_of
from flowir.ir.reference import RefContext, run_op

#: Dtypes the data-movement tests draw (strings included: these ops move any element).
MOVE_DTYPES = (
    DType.float32,
    DType.int32,
    DType.bool,
    DType.float16,
    DType.bfloat16,
    DType.int64,
    DType.uint8,
    DType.string,
)


def inputs(*types: TensorType) -> list[Value]:
    """Graph inputs of ``types``, named ``in0``, ``in1`` ..."""
    g = Graph()
    return [g.add_input(t, f"in{i}") for i, t in enumerate(types)]


def sample(shape: Sequence[int], dtype: DType, offset: int = 0) -> np.ndarray:
    """An array of ``shape`` whose elements are distinct where the dtype allows, so any
    misplaced element shows."""
    n = math.prod(shape)
    k = np.arange(offset, offset + n)
    if dtype is DType.string:
        flat = np.array([str(i).encode() for i in k] or [], dtype=object)
    elif dtype is DType.bool:
        flat = (k % 2).astype(bool)
    elif dtype in (DType.uint8, DType.int8):
        flat = (k % 100).astype(dtype.numpy)
    elif dtype in (DType.float16, DType.bfloat16):
        flat = (k % 200).astype(dtype.numpy)
    else:
        flat = k.astype(dtype.numpy)
    return flat.reshape(tuple(shape))


@st.composite
def declared(draw: st.DrawFn, shape: Sequence[int], unknown_rank: bool = True) -> tuple[int | None, ...] | None:
    """A type shape that ``shape`` fits: some dims made ``None``, sometimes the rank unknown."""
    if unknown_rank and draw(st.integers(0, 7)) == 0:
        return None
    return tuple(None if draw(st.booleans()) else d for d in shape)


def check_kernel(op: Operation, *args: Any, ctx: RefContext | None = None) -> tuple[Any, ...]:
    """Run ``op``'s kernel and check each result against the op's result type: the dtype is
    exactly the kernel's, the shape compatible with the kernel's."""
    outs = run_op(op, list(args), ctx)
    assert len(outs) == len(op.results)
    for r, out in zip(op.results, outs):
        assert isinstance(out, np.ndarray), type(out)
        got = TensorType(dtype_of(out), out.shape)
        assert r.type.dtype is got.dtype, (r.type, got)
        assert r.type.is_compatible_with(got), (r.type, got)
    return outs


def assert_same(a: np.ndarray, b: np.ndarray) -> None:
    """Equal dtype, shape and elements (nan-free data)."""
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.array_equal(a, b), (a, b)
