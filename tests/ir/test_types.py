"""Types, dtypes and the shape algebra over unknown dims."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowir.ir import (
    CONTROL,
    DType,
    ResourceType,
    ShapeError,
    TensorType,
    broadcast_shapes,
    dtype_of,
    join_shapes,
    meet_shapes,
    shapes_compatible,
)

dims = st.one_of(st.none(), st.integers(0, 5))
shapes = st.lists(dims, max_size=4).map(tuple)
maybe_shapes = st.one_of(st.none(), shapes)


def test_dtype_numpy_mapping() -> None:
    assert DType.bfloat16.numpy == np.dtype(ml_dtypes.bfloat16)
    assert DType.bool.numpy == np.dtype(bool)
    assert DType.string.numpy == np.dtype(object)
    for d in DType:
        if d is not DType.string:
            assert dtype_of(d.numpy) is d
        assert DType.parse(d.value) is d
        assert DType.parse(d.name) is d
    assert dtype_of(np.array(["a"])) is DType.string
    with pytest.raises(ValueError):
        DType.parse("f31")
    with pytest.raises(ValueError):
        dtype_of(np.complex64)


def test_dtype_predicates() -> None:
    assert DType.float16.is_floating and not DType.int8.is_floating
    assert DType.uint8.is_integer and not DType.uint8.is_signed
    assert DType.bool.is_bool and not DType.bool.is_numeric


def test_tensor_type_format_and_equality() -> None:
    t = TensorType(DType.float32, (None, 784))
    assert t.format() == "tensor<?x784xf32>"
    assert TensorType(DType.float32, ()).format() == "tensor<f32>"
    assert TensorType(DType.int64, None).format() == "tensor<*xi64>"
    assert t == TensorType(DType.float32, [None, np.int64(784)])
    assert hash(t) == hash(TensorType(DType.float32, (None, 784)))
    assert t != TensorType(DType.float64, (None, 784))
    assert t.describe() == "f32[None, 784]"
    assert t.rank == 2 and not t.is_static and t.num_elements is None
    assert TensorType(DType.bool, (2, 3)).num_elements == 6
    with pytest.raises(ValueError):
        TensorType(DType.float32, (-1,))
    with pytest.raises(ValueError):
        TensorType(DType.float32, (True,))
    with pytest.raises(AttributeError):
        t.shape = (1,)  # type: ignore[misc]


def test_other_types() -> None:
    r = ResourceType(TensorType(DType.float32, (3,)))
    assert r.format() == "!flowir.var<tensor<3xf32>>"
    assert r.is_compatible_with(ResourceType(TensorType(DType.float32, (None,))))
    assert not r.is_compatible_with(TensorType(DType.float32, (3,)))
    assert CONTROL.format() == "!flowir.control"
    assert not CONTROL.is_compatible_with(r)


@given(shapes, shapes)
def test_meet_join_compat(a, b) -> None:
    if shapes_compatible(a, b):
        m = meet_shapes(a, b)
        assert shapes_compatible(m, a) and shapes_compatible(m, b)
        # the meet knows at least as much as each
        if len(a) == len(b):
            for x, y, z in zip(a, b, m):
                assert z == (x if x is not None else y)
    else:
        with pytest.raises(ShapeError):
            meet_shapes(a, b)
    j = join_shapes(a, b)
    assert shapes_compatible(j, a) and shapes_compatible(j, b)
    assert join_shapes(a, a) == a


@given(st.lists(st.integers(1, 4), max_size=4), st.lists(st.integers(1, 4), max_size=4), st.data())
def test_broadcast_matches_numpy(a, b, data) -> None:
    a, b = tuple(a), tuple(b)
    try:
        expected = np.broadcast_shapes(a, b)
    except ValueError:
        with pytest.raises(ShapeError):
            broadcast_shapes(a, b)
        return
    assert broadcast_shapes(a, b) == expected
    # forgetting dims never contradicts the concrete result
    wa = tuple(None if data.draw(st.booleans()) else d for d in a)
    wb = tuple(None if data.draw(st.booleans()) else d for d in b)
    out = broadcast_shapes(wa, wb)
    assert shapes_compatible(out, expected)
    assert broadcast_shapes(None, b) is None


def test_broadcast_unknown_dims() -> None:
    assert broadcast_shapes((None, 1, 3), (4, 1)) == (None, 4, 3)
    assert broadcast_shapes((None,), (1,)) == (None,)
    assert broadcast_shapes((None,), (5,)) == (5,)
    assert broadcast_shapes((), (2, 3)) == (2, 3)
    with pytest.raises(ShapeError, match=r"\[2\] vs \[3\]"):
        broadcast_shapes((2,), (3,))


def test_tensor_type_meet_join() -> None:
    a = TensorType(DType.float32, (None, 3))
    b = TensorType(DType.float32, (2, None))
    assert a.meet(b) == TensorType(DType.float32, (2, 3))
    assert a.join(b) == TensorType(DType.float32, (None, None))
    assert a.meet(TensorType(DType.float32, (2, 4))) is None
    assert a.meet(TensorType(DType.int32, (2, 3))) is None
    assert a.meet(TensorType(DType.float32, None)) == a
