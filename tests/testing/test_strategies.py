"""The dtype, shape, type and array strategies of ``flowir.testing.strategies``."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from hypothesis import find, given
from hypothesis import strategies as st

import flowir.testing.checks
import flowir.testing.strategies
from flowir.ir.dtypes import DType, dtype_of
from flowir.ir.errors import ShapeError
from flowir.ir.types import TensorType, broadcast_shapes, shapes_compatible
from flowir.testing import assert_array_matches, assert_results_match
from flowir.testing.strategies import (
    DEFAULT_DTYPES,
    arrays_for,
    broadcastable_shapes,
    dtypes,
    elements_for,
    shapes,
    tensor_types,
)


@given(dtypes())
def test_dtypes_default_to_all_but_string(dt: DType) -> None:
    assert dt in DEFAULT_DTYPES and dt is not DType.string


@given(dtypes(include=[DType.int8, DType.float32, DType.bool], exclude=[DType.bool]))
def test_dtypes_include_and_exclude(dt: DType) -> None:
    assert dt in (DType.int8, DType.float32)


def test_dtypes_rejects_an_empty_choice() -> None:
    with pytest.raises(ValueError):
        dtypes(include=[DType.bool], exclude=[DType.bool])


@given(shapes(min_rank=1, max_rank=3, min_side=2, max_side=4))
def test_shapes_respect_bounds(shape) -> None:
    assert 1 <= len(shape) <= 3
    assert all(d is None or 2 <= d <= 4 for d in shape)


@given(shapes(wildcards=False, min_side=0))
def test_static_shapes_have_no_wildcards(shape) -> None:
    assert all(isinstance(d, int) and d >= 0 for d in shape)


@given(st.lists(shapes(unknown_rank=True), min_size=30, max_size=30))
def test_unknown_rank_is_drawn_only_when_asked(batch) -> None:
    assert all(s is None or isinstance(s, tuple) for s in batch)


@given(st.lists(shapes(), min_size=1, max_size=5))
def test_known_rank_by_default(batch) -> None:
    assert all(isinstance(s, tuple) for s in batch)


@given(tensor_types(DType.int16, max_rank=2))
def test_tensor_types_fix_a_dtype(ty: TensorType) -> None:
    assert ty.dtype is DType.int16 and ty.rank is not None and ty.rank <= 2


@given(broadcastable_shapes(num_shapes=3))
def test_broadcastable_shapes(b) -> None:
    # The concrete instance broadcasts as numpy does, and matches the wildcard shapes.
    assert np.broadcast_shapes(*b.concrete_shapes) == b.concrete_result
    for wild, concrete in zip(b.input_shapes, b.concrete_shapes):
        assert shapes_compatible(wild, concrete)
    # flowir's rule accepts the wildcard shapes and its result fits the concrete one.
    assert broadcast_shapes(*b.input_shapes) == b.result_shape
    assert shapes_compatible(b.result_shape, b.concrete_result)


@given(broadcastable_shapes(wildcards=False))
def test_static_broadcastable_shapes_agree_with_numpy(b) -> None:
    assert b.input_shapes == b.concrete_shapes
    assert broadcast_shapes(*b.input_shapes) == np.broadcast_shapes(*b.input_shapes)


@given(st.data(), tensor_types(shape=shapes(max_rank=3, unknown_rank=True)))
def test_arrays_for_match_their_type(data: st.DataObject, ty: TensorType) -> None:
    a = data.draw(arrays_for(ty, max_side=3))
    assert a.dtype == ty.dtype.numpy
    assert dtype_of(a) is ty.dtype
    assert ty.is_compatible_with(TensorType(ty.dtype, a.shape))
    if ty.dtype.is_numeric:
        assert np.all(np.abs(a.astype(np.float64)) <= 8)


@given(st.data(), dtypes(include=[DType.float16, DType.bfloat16, DType.float32, DType.float64]))
def test_float_elements_are_exact_in_their_dtype(data: st.DataObject, dt: DType) -> None:
    x = data.draw(elements_for(dt, special=True))
    if math.isfinite(x):
        assert float(np.asarray(x, dtype=dt.numpy)) == x


def test_special_float_elements_are_reachable() -> None:
    for special in (math.isnan, math.isinf):
        find(elements_for(DType.bfloat16, special=True), special)


@given(st.data(), dtypes(include=[DType.int8, DType.uint8, DType.int64]))
def test_full_range_integers_fit_their_dtype(data: st.DataObject, dt: DType) -> None:
    x = data.draw(elements_for(dt, small=False))
    info = np.iinfo(dt.numpy)
    assert info.min <= x <= info.max


def test_assert_array_matches_tolerances() -> None:
    assert_array_matches(np.float16([1.0, np.inf, np.nan]), np.float16([1.004, np.inf, np.nan]))
    with pytest.raises(AssertionError):
        assert_array_matches(np.float32([1.0]), np.float32([1.001]))
    with pytest.raises(AssertionError):
        assert_array_matches(np.int32([1]), np.int32([2]))
    with pytest.raises(AssertionError):
        assert_array_matches(np.float64([np.inf]), np.float64([-np.inf]))
    with pytest.raises(AssertionError):
        assert_array_matches(np.float32([1.0]), np.float32([[1.0]]))
    with pytest.raises(AssertionError):
        assert_results_match([np.float32(1)], [])
    assert_results_match({"v": np.bool_([True])}, {"v": np.bool_([True])})


def test_broadcast_shapes_rejects_what_numpy_rejects() -> None:
    with pytest.raises(ShapeError):
        broadcast_shapes((2, 3), (4, 3))


@pytest.mark.parametrize("module", [flowir.testing.strategies, flowir.testing.checks], ids=lambda m: m.__name__)
def test_doctests(module) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
