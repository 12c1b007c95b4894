"""The TF1-style array ops: values against numpy, default names, static shapes, dtype rules,
static arguments given as tensors, and ``tensor[index]`` against numpy indexing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import flowir as tf
from flowir.frontends.graph.array_ops import constant_value
from flowir.ir import ops
from flowir.ir.dtypes import DType
from flowir.ir.errors import DTypeError, ShapeError, UnsupportedOpError
from flowir.ir.types import TensorType
from flowir.testing import strategies as fst
from flowir.testing.checks import assert_array_matches


@pytest.fixture(autouse=True)
def _fresh_graph():
    with tf.Graph().as_default():
        yield


def run(fetches: Any, feed_dict: dict | None = None) -> Any:
    with tf.Session() as sess:
        return sess.run(fetches, feed_dict)


def op_types(t: Any) -> type:
    return type(t.op.ir_op)


X = np.arange(24, dtype=np.float32).reshape(2, 3, 4)


def placeholder_x(shape: Any = (None, 3, 4)) -> tf.Tensor:
    return tf.placeholder(tf.float32, shape, name="x")


# --------------------------------------------------------------------------------------------
# Names

NAMED: list[tuple[str, Callable[[Any], Any]]] = [
    ("Reshape", lambda x: tf.reshape(x, [-1])),
    ("transpose", lambda x: tf.transpose(x)),
    ("ExpandDims", lambda x: tf.expand_dims(x, 0)),
    ("Squeeze", lambda x: tf.squeeze(tf.expand_dims(x, 0), [0])),
    ("concat", lambda x: tf.concat([x, x], 0)),
    ("stack", lambda x: tf.stack([x, x])),
    ("split", lambda x: tf.split(x, 2, 2)[1]),
    ("Slice", lambda x: tf.slice(x, [0, 0, 0], [1, 1, 1])),
    ("StridedSlice", lambda x: tf.strided_slice(x, [0], [1])),
    ("strided_slice", lambda x: x[0]),
    ("GatherV2", lambda x: tf.gather(x, [0])),
    ("Tile", lambda x: tf.tile(x, [1, 1, 2])),
    ("Pad", lambda x: tf.pad(x, [[0, 0], [1, 1], [0, 0]])),
    ("PadV2", lambda x: tf.pad(x, [[0, 0], [1, 1], [0, 0]], constant_values=2)),
    ("MirrorPad", lambda x: tf.pad(x, [[0, 0], [1, 1], [0, 0]], mode="reflect")),
    ("one_hot", lambda x: tf.one_hot(tf.cast(x, tf.int32), 3)),
    ("Shape", lambda x: tf.shape(x)),
    ("Size", lambda x: tf.size(x)),
    ("Rank", lambda x: tf.rank(x)),
    ("zeros", lambda x: tf.zeros([2])),
    ("ones", lambda x: tf.ones([2])),
    ("Fill", lambda x: tf.fill([2], 1.0)),
    ("zeros_like", lambda x: tf.zeros_like(x)),
    ("ones_like", lambda x: tf.ones_like(x)),
    ("range", lambda x: tf.range(3)),
]


@pytest.mark.parametrize(("name", "build"), NAMED, ids=[n for n, _ in NAMED])
def test_default_names(name: str, build: Callable[[Any], Any]) -> None:
    x = placeholder_x()
    assert build(x).op.name == name
    assert build(x).op.name == f"{name}_1"
    assert build(tf.placeholder(tf.float32, [2, 3, 4])).op.name == f"{name}_2"


def test_explicit_names_and_multi_result_names() -> None:
    x = placeholder_x()
    assert tf.reshape(x, [-1], name="flat").name == "flat:0"
    parts = tf.split(x, [1, 3], axis=2, name="parts")
    assert [p.name for p in parts] == ["parts:0", "parts:1"]
    assert tf.unstack(x, axis=1)[2].shape.as_list() == [None, 4]


# --------------------------------------------------------------------------------------------
# Shape manipulation


def test_reshape_values_and_static_shapes() -> None:
    x = placeholder_x()
    flat = tf.reshape(x, [-1, 4])
    assert flat.shape.as_list() == [None, 4]
    assert tf.reshape(tf.constant(X), np.array([4, 6])).shape.as_list() == [4, 6]
    assert tf.reshape(tf.constant(X), tf.constant([6, -1])).shape.as_list() == [6, 4]
    assert tf.reshape(tf.ones([1]), []).shape.as_list() == []
    assert_array_matches(run(flat, {x: X}), X.reshape(-1, 4))


def test_reshape_with_run_time_batch_dim() -> None:
    x = placeholder_x()
    batch = tf.shape(x)[0]
    a = tf.reshape(x, [batch, -1])
    b = tf.reshape(x, tf.stack([batch, 12]))
    c = tf.reshape(x, [batch, 12])
    for t in (a, b, c):
        assert t.shape.as_list() == [None, 12]
    got = run([a, b, c], {x: X})
    for g in got:
        assert_array_matches(g, X.reshape(2, 12))


def test_reshape_dynamic_shape_is_unsupported() -> None:
    x = placeholder_x()
    shape = tf.placeholder(tf.int32, [3], name="new_shape")
    with pytest.raises(UnsupportedOpError, match="'new_shape:0'.*run time"):
        tf.reshape(x, shape)
    y = tf.placeholder(tf.float32, [None, None])
    with pytest.raises(UnsupportedOpError, match=r"\[\?, \?\]"):
        tf.reshape(x, [tf.shape(y)[0], tf.shape(y)[1]])


def test_reshape_static_error() -> None:
    with pytest.raises(ShapeError, match="6 elements"):
        tf.reshape(tf.ones([2, 3]), [4])


def test_transpose_expand_squeeze() -> None:
    x = placeholder_x()
    t = tf.transpose(x, [2, 0, 1])
    assert t.shape.as_list() == [4, None, 3]
    assert tf.transpose(x).shape.as_list() == [4, 3, None]
    e = tf.expand_dims(x, -1)
    assert e.shape.as_list() == [None, 3, 4, 1]
    assert tf.expand_dims(x, dim=1).shape.as_list() == [None, 1, 3, 4]
    s = tf.squeeze(tf.expand_dims(e, 0))
    assert s.shape.ndims is None  # x's unknown batch dim may be 1
    s2 = tf.squeeze(e, squeeze_dims=[3])
    assert s2.shape.as_list() == [None, 3, 4]
    assert tf.squeeze(tf.ones([1, 2, 1]), []).shape.as_list() == [2]
    assert tf.squeeze(tf.ones([1, 2, 1]), 2).shape.as_list() == [1, 2]
    got = run([t, e, s, s2], {x: X})
    assert_array_matches(got[0], X.transpose(2, 0, 1))
    assert_array_matches(got[1], X[..., None])
    assert_array_matches(got[2], X)
    assert_array_matches(got[3], X)


def test_shape_manipulation_errors() -> None:
    x = placeholder_x()
    with pytest.raises(ValueError, match="Must specify an axis"):
        tf.expand_dims(x)
    with pytest.raises(ValueError, match="Cannot specify both 'axis' and 'squeeze_dims'"):
        tf.squeeze(x, axis=[0], squeeze_dims=[0])
    with pytest.raises(ShapeError, match="cannot squeeze dim 1"):
        tf.squeeze(tf.ones([1, 2, 1]), [1])
    with pytest.raises(ShapeError):
        tf.expand_dims(x, 4)
    with pytest.raises(ValueError):
        tf.transpose(x, [0, 0, 1])


# --------------------------------------------------------------------------------------------
# Joining and splitting


def test_concat_and_stack_values() -> None:
    x = placeholder_x()
    c = tf.concat([x, x], -1)
    assert c.shape.as_list() == [None, 3, 8]
    m = tf.concat([tf.constant([[1.0, 2.0]]), [[3, 4]]], 0)
    assert m.dtype == tf.float32
    s = tf.stack([x, x], axis=1)
    assert s.shape.as_list() == [None, 2, 3, 4]
    got = run([c, m, s], {x: X})
    assert_array_matches(got[0], np.concatenate([X, X], -1))
    assert_array_matches(got[1], np.float32([[1, 2], [3, 4]]))
    assert_array_matches(got[2], np.stack([X, X], 1))


def test_stack_of_python_values_is_a_constant() -> None:
    s = tf.stack([1, 2])
    assert op_types(s) is ops.Constant and s.op.name == "stack"
    assert op_types(tf.stack([[1, 2]], axis=1)) is ops.Stack
    mixed = tf.stack([tf.constant([1.0, 2.0]), [3, 4]])
    assert mixed.dtype == tf.float32 and mixed.shape.as_list() == [2, 2]


def test_concat_errors() -> None:
    with pytest.raises(ShapeError):
        tf.concat([tf.ones([2, 3]), tf.ones([2, 4])], 0)
    with pytest.raises(DTypeError):
        tf.concat([tf.ones([2]), tf.ones([2], tf.int32)], 0)


def test_split_and_unstack() -> None:
    x = placeholder_x()
    eq = tf.split(x, 2, axis=2)
    sized = tf.split(x, [1, -1], 1)
    via_tensor = tf.split(x, tf.constant([3, 1]), 2)
    un = tf.unstack(x, axis=1)
    assert [p.shape.as_list() for p in sized] == [[None, 1, 4], [None, 2, 4]]
    assert len(un) == 3 and un[0].shape.as_list() == [None, 4]
    got = run([eq, sized, via_tensor, un], {x: X})
    for g, w in zip(got[0], np.split(X, 2, axis=2)):
        assert_array_matches(g, w)
    for g, w in zip(got[1], np.split(X, [1], axis=1)):
        assert_array_matches(g, w)
    for g, w in zip(got[2], np.split(X, [3], axis=2)):
        assert_array_matches(g, w)
    for i, g in enumerate(got[3]):
        assert_array_matches(g, X[:, i])
    with pytest.raises(ShapeError, match="equal pieces"):
        tf.split(x, 3, axis=2)
    with pytest.raises(ValueError, match="Cannot infer num"):
        tf.unstack(x)
    with pytest.raises(ShapeError):
        tf.unstack(x, num=2, axis=1)


# --------------------------------------------------------------------------------------------
# Slicing and indexing


def test_slice_and_strided_slice() -> None:
    x = placeholder_x()
    a = tf.slice(x, [0, 1, 0], [-1, 2, 3])
    b = tf.strided_slice(x, [0, 2], [-1, 0], [1, -1], shrink_axis_mask=1)
    c = tf.slice(x, tf.constant([1, 0, 0]), [1, -1, -1])
    assert a.shape.as_list() == [None, 2, 3] and b.shape.as_list() == [2, 4]
    got = run([a, b, c], {x: X})
    assert_array_matches(got[0], X[:, 1:3, 0:3])
    assert_array_matches(got[1], X[0, 2:0:-1])
    assert_array_matches(got[2], X[1:2])


@st.composite
def _basic_indices(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[Any, ...]]:
    """A shape and a basic index into it: an int or slice per dim (trailing ones may be left
    out), a run of dims possibly replaced by ``...``, and ``None``s anywhere."""
    shape = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple))
    items: list[Any] = []
    for d in shape:
        bound = st.one_of(st.none(), st.integers(-d - 2, d + 2))
        step = st.one_of(st.none(), st.integers(-3, 3).filter(bool))
        items.append(draw(st.one_of(st.integers(-d, d - 1), st.builds(slice, bound, bound, step))))
    if draw(st.booleans()):
        start = draw(st.integers(0, len(items)))
        stop = draw(st.integers(start, len(items)))
        items[start:stop] = [Ellipsis]
    else:
        del items[draw(st.integers(0, len(items))) :]
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), None)
    return shape, tuple(items)


@given(case=_basic_indices(), wildcard=st.booleans(), as_list=st.booleans())
def test_getitem_matches_numpy(case: tuple[tuple[int, ...], tuple[Any, ...]], wildcard: bool, as_list: bool) -> None:
    shape, index = case
    value = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.int32, [None] * len(shape) if wildcard else shape)
        key: Any = list(index) if as_list and len(index) > 1 else (index[0] if len(index) == 1 else index)
        y = x[key]
        assert y.op.name == "strided_slice"
        got = run(y, {x: value})
    want = value[index]
    assert_array_matches(got, np.asarray(want))
    assert y.shape.is_compatible_with(want.shape)
    if not wildcard:
        assert y.shape.as_list() == list(want.shape)


def test_getitem_with_tensors_and_errors() -> None:
    x = tf.constant(X)
    assert_array_matches(run(x[tf.constant(1), :, tf.constant(-1)]), X[1, :, -1])
    assert_array_matches(run(x[np.int64(1)]), X[1])
    assert x[:, tf.newaxis].shape.as_list() == [2, 1, 3, 4]
    with pytest.raises(ShapeError, match="out of bounds"):
        x[5]
    with pytest.raises(TypeError):
        x[True]
    with pytest.raises(ValueError, match="non-zero"):
        x[::0]
    with pytest.raises(ValueError, match="ellipsis"):
        x[..., ...]
    with pytest.raises(UnsupportedOpError, match="index"):
        x[tf.placeholder(tf.int32, [])]


def test_gather_and_tile() -> None:
    x = placeholder_x()
    g0 = tf.gather(x, [1, 0, 1])
    g2 = tf.gather(x, tf.constant([[3, 0]], tf.int64), axis=2)
    t = tf.tile(x, tf.constant([1, 2, 1]))
    assert g0.shape.as_list() == [3, 3, 4] and g2.shape.as_list() == [None, 3, 1, 2]
    assert t.shape.as_list() == [None, 6, 4]
    got = run([g0, g2, t], {x: X})
    assert_array_matches(got[0], X[[1, 0, 1]])
    assert_array_matches(got[1], np.take(X, [[3, 0]], axis=2))
    assert_array_matches(got[2], np.tile(X, [1, 2, 1]))
    with pytest.raises(DTypeError):
        tf.gather(x, [0.0])
    with pytest.raises(ShapeError):
        tf.tile(x, [2])
    with pytest.raises(UnsupportedOpError, match="batch_dims"):
        tf.gather(x, [0], batch_dims=1)


@pytest.mark.parametrize("mode", ["CONSTANT", "reflect", "Symmetric"])
def test_pad_modes(mode: str) -> None:
    x = placeholder_x()
    pads = [[0, 1], [2, 1], [1, 0]]
    p = tf.pad(x, pads, mode=mode)
    assert p.shape.as_list() == [None, 6, 5]
    np_mode = {"CONSTANT": "constant", "reflect": "reflect", "Symmetric": "symmetric"}[mode]
    assert_array_matches(run(p, {x: X}), np.pad(X, pads, mode=np_mode))


def test_pad_constant_values_and_errors() -> None:
    i = tf.constant([[1, 2]])
    p = tf.pad(i, tf.constant([[1, 0], [0, 2]]), constant_values=7)
    assert run(p).tolist() == [[7, 7, 7, 7], [1, 2, 7, 7]]
    assert run(tf.pad(tf.constant(["a"]), [[1, 1]])).tolist() == [b"", b"a", b""]
    with pytest.raises(TypeError):
        tf.pad(i, [[1, 0], [0, 0]], constant_values=1.5)
    with pytest.raises(ValueError, match="padding mode"):
        tf.pad(i, [[1, 0], [0, 0]], mode="wrap")
    with pytest.raises(ShapeError):
        tf.pad(tf.ones([2]), [[2, 0]], mode="REFLECT")


def test_one_hot_values_and_dtype_rules() -> None:
    idx = tf.placeholder(tf.int32, [None], name="idx")
    feed = {idx: [0, 2, 5, -1]}
    a = tf.one_hot(idx, 3)
    b = tf.one_hot(idx, tf.constant(3), on_value=5, off_value=-1)
    c = tf.one_hot(idx, 3, axis=0, dtype=tf.float64)
    d = tf.one_hot(idx, 3, on_value=True, off_value=False)
    e = tf.one_hot(idx, 3, on_value=5, dtype=tf.float32)
    assert [t.dtype for t in (a, b, c, d, e)] == [tf.float32, tf.int32, tf.float64, tf.bool, tf.float32]
    assert a.shape.as_list() == [None, 3] and c.shape.as_list() == [3, None]
    got = run([a, b, c, d, e], feed)
    eye = np.eye(3)[[0, 2]]
    want = np.concatenate([eye, np.zeros((2, 3))])
    assert_array_matches(got[0], want.astype(np.float32))
    assert_array_matches(got[1], np.where(want > 0, 5, -1).astype(np.int32))
    assert_array_matches(got[2], want.T)
    assert_array_matches(got[3], want > 0)
    assert_array_matches(got[4], (5 * want).astype(np.float32))
    with pytest.raises(TypeError, match="on_value does not match dtype .* of off_value"):
        tf.one_hot(idx, 3, on_value=5, off_value=0.0)
    with pytest.raises(TypeError, match="does not match dtype parameter"):
        tf.one_hot(idx, 3, on_value=5.5, dtype=tf.int32)
    with pytest.raises(DTypeError):
        tf.one_hot(tf.constant([0.0]), 3)


# --------------------------------------------------------------------------------------------
# Shapes


def test_shape_size_rank_are_constants_when_static() -> None:
    s = tf.ones([2, 3])
    for t, want in ((tf.shape(s), [2, 3]), (tf.size(s), 6), (tf.rank(s), 2), (tf.rank(placeholder_x()), 3)):
        assert op_types(t) is ops.Constant
        assert run(t).tolist() == want
    assert tf.shape(s, out_type=tf.int64).dtype == tf.int64
    with pytest.raises(TypeError, match="out_type"):
        tf.shape(s, out_type=tf.float32)


def test_shape_size_rank_at_run_time() -> None:
    x = placeholder_x()
    u = tf.placeholder(tf.float32, None, name="u")
    sh, sz, rk = tf.shape(x), tf.size(x, out_type=tf.int64), tf.rank(u)
    assert op_types(sh) is ops.Shape and sh.shape.as_list() == [3]
    assert sz.dtype == tf.int64 and sz.shape.as_list() == [] and rk.shape.as_list() == []
    got = run([sh, sz, rk], {x: X, u: np.zeros((2, 1, 1, 1))})
    assert got[0].tolist() == [2, 3, 4] and got[1] == 24 and got[2] == 4


# --------------------------------------------------------------------------------------------
# Creation


def test_zeros_ones_fill() -> None:
    z = tf.zeros([2, 3], tf.int32)
    o = tf.ones(np.array([2]), dtype=tf.bool)
    f = tf.fill([2, 2], 1.5)
    n = tf.zeros(3)
    s = tf.zeros([2], tf.string)
    assert [t.dtype for t in (z, o, f, n, s)] == [tf.int32, tf.bool, tf.float32, tf.float32, tf.string]
    got = run([z, o, f, n, s])
    assert got[0].tolist() == [[0, 0, 0], [0, 0, 0]]
    assert got[1].tolist() == [True, True]
    assert got[2].tolist() == [[1.5, 1.5], [1.5, 1.5]]
    assert got[3].tolist() == [0.0, 0.0, 0.0]
    assert got[4].tolist() == [b"", b""]
    with pytest.raises(DTypeError):
        tf.ones([2], tf.string)
    with pytest.raises(ShapeError):
        tf.fill([2], [1, 2])


def test_creation_from_a_run_time_shape() -> None:
    x = placeholder_x()
    z = tf.zeros(tf.shape(x), tf.int32)
    o = tf.ones(tf.shape(x))
    f = tf.fill(tf.shape(x), 7)
    for t in (z, o, f):
        assert t.shape.as_list() == [None, 3, 4]
    got = run([z, o, f], {x: X})
    assert_array_matches(got[0], np.zeros(X.shape, np.int32))
    assert_array_matches(got[1], np.ones(X.shape, np.float32))
    assert_array_matches(got[2], np.full(X.shape, 7, np.int32))
    with pytest.raises(UnsupportedOpError, match="run time"):
        tf.zeros(tf.placeholder(tf.int32, [2]))
    with pytest.raises(UnsupportedOpError, match=r"\[\?, 3\]"):
        tf.zeros([tf.shape(x)[0], 3])


def test_zeros_like_ones_like() -> None:
    x = placeholder_x()
    a, b = tf.zeros_like(x), tf.ones_like(x, dtype=tf.int32)
    c = tf.zeros_like([1, 2])
    assert a.dtype == tf.float32 and b.dtype == tf.int32 and c.dtype == tf.int32
    assert a.shape.as_list() == b.shape.as_list() == [None, 3, 4]
    got = run([a, b, c], {x: X})
    assert_array_matches(got[0], np.zeros_like(X))
    assert_array_matches(got[1], np.ones(X.shape, np.int32))
    assert got[2].tolist() == [0, 0]


@pytest.mark.parametrize(
    ("args", "kwargs", "dtype", "values"),
    [
        ((5,), {}, tf.int32, list(range(5))),
        ((5.0,), {}, tf.float32, [0.0, 1.0, 2.0, 3.0, 4.0]),
        ((1, 5.0), {}, tf.float32, [1.0, 2.0, 3.0, 4.0]),
        ((5, 1, -2), {}, tf.int32, [5, 3]),
        ((1, np.float64(2.5), 0.5), {}, tf.float64, [1.0, 1.5, 2.0]),
        ((1, 4), {"dtype": tf.float32}, tf.float32, [1.0, 2.0, 3.0]),
        ((1, 4), {"dtype": tf.int64}, tf.int64, [1, 2, 3]),
        ((0, 1, 0.25), {}, tf.float32, [0.0, 0.25, 0.5, 0.75]),
    ],
)
def test_range_dtype_inference_and_values(args: tuple, kwargs: dict, dtype: Any, values: list) -> None:
    r = tf.range(*args, **kwargs)
    assert r.dtype == dtype
    assert r.shape.as_list() == [len(values)]
    assert run(r).tolist() == values


def test_range_from_tensors_and_errors() -> None:
    limit = tf.constant(4, tf.int64)
    r = tf.range(limit)
    assert r.dtype == tf.int64 and run(r).tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="start must be <= limit"):
        tf.range(3, 1)
    with pytest.raises(ValueError, match="delta must be non-zero"):
        tf.range(0, 5, 0)
    with pytest.raises(TypeError):
        tf.range(1.5, 5, dtype=tf.int64)
    with pytest.raises(TypeError, match="range"):
        tf.range(tf.constant(3, tf.uint8))
    with pytest.raises(UnsupportedOpError, match="limit"):
        tf.range(tf.placeholder(tf.int32, []))


# --------------------------------------------------------------------------------------------
# Static evaluation


def test_constant_value() -> None:
    x = placeholder_x()
    assert constant_value(tf.constant([1, 2]) * 3).tolist() == [3, 6]
    assert constant_value(tf.shape(tf.ones([2, 5]))).tolist() == [2, 5]
    assert constant_value(tf.reduce_prod(tf.constant([2, 3]))) == 6
    assert constant_value(x) is None
    assert constant_value(tf.shape(x)) is None
    assert constant_value(tf.shape(x)[1]) is None
    assert constant_value(tf.random_uniform([2])) is None
    assert constant_value(tf.placeholder_with_default(3, [])) is None
    assert constant_value([1, 2]).tolist() == [1, 2]
    assert tf.get_static_value(tf.constant(3) + 1) == 4


def test_a_placeholder_with_default_is_not_folded_into_attributes() -> None:
    batch = tf.placeholder_with_default(2, [], name="batch")
    with pytest.raises(UnsupportedOpError, match="'batch:0'"):
        tf.range(batch)
    x = tf.placeholder(tf.float32, [None, 3, 4])
    y = tf.reshape(x, [batch, 12])
    assert y.shape.as_list() == [None, 12]
    assert_array_matches(run(y, {x: X}), X.reshape(2, 12))


def test_static_arguments_fold_through_ops() -> None:
    x = tf.constant(X)
    axis = tf.constant(2) - 1
    assert tf.reduce_sum(x, axis).shape.as_list() == [2, 4]
    assert tf.concat([x, x], axis).shape.as_list() == [2, 6, 4]
    perm = tf.stack([tf.constant(2), 0, 1])
    assert tf.transpose(x, perm).shape.as_list() == [4, 2, 3]


@given(
    ty=fst.tensor_types(DType.float32, max_rank=3, max_side=4).filter(lambda t: t.shape.count(None) <= 1),
    data=st.data(),
)
def test_reshape_to_flat_and_back(ty: TensorType, data: Any) -> None:
    value = data.draw(fst.arrays_for(ty))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, ty.shape)
        back = tf.reshape(tf.reshape(x, [-1]), tf.shape(x))
        assert back.shape.is_compatible_with(value.shape)
        assert_array_matches(run(back, {x: value}), value)
