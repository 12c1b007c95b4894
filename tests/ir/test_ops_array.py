"""Array ops: type rules against the numpy kernels, kernels against independent numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowir.ir import (
    DType,
    DTypeError,
    FlowirError,
    Graph,
    OpAttributeError,
    ShapeError,
    TensorType,
    dtype_of,
    ops,
    verify,
)
from flowir.ir.ops.array import strided_slice_spec
from flowir.ir.reference import evaluate
from tests.ir.kernel_checks import MOVE_DTYPES, assert_same, check_kernel, declared, inputs, sample

F32, I32 = DType.float32, DType.int32

dims = st.integers(0, 4)
shapes = st.lists(dims, min_size=0, max_size=4).map(tuple)
move_dtypes = st.sampled_from(MOVE_DTYPES)


def one_input(data: st.DataObject, shape: tuple[int, ...], dtype: DType, unknown_rank: bool = True):
    x = sample(shape, dtype)
    (v,) = inputs(TensorType(dtype, data.draw(declared(shape, unknown_rank))))
    return x, v


# --------------------------------------------------------------------------------------------
# Identity, reshape, transpose, expand_dims, squeeze


@given(st.data(), shapes, move_dtypes)
def test_identity(data, shape, dtype):
    x, v = one_input(data, shape, dtype)
    op = ops.Identity.create(v)
    assert op.result.type == v.type
    assert_same(check_kernel(op, x)[0], x)


@st.composite
def reshape_case(draw):
    shape = draw(shapes)
    n = math.prod(shape)
    rank = draw(st.integers(0, 4))
    target: list[int] = []
    left = n
    for _ in range(rank):
        if left == 0:
            target.append(draw(st.integers(0, 3)))
        else:
            target.append(draw(st.sampled_from([d for d in range(1, left + 1) if left % d == 0])))
            left //= target[-1]
    if left not in (0, 1) or (left == 0 and 0 not in target):
        target.append(left if left else 0)
    if n == 0 and 0 not in target:
        target.append(0)
    if math.prod(target) != 0 and target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return shape, draw(st.permutations(target))


@given(st.data(), reshape_case(), move_dtypes)
def test_reshape(data, case, dtype):
    shape, target = case
    x, v = one_input(data, shape, dtype)
    op = ops.Reshape.create(v, shape=target)
    if v.type.is_static:
        assert op.result.type.is_static
    out = check_kernel(op, x)[0]
    assert_same(out, x.reshape(target))


@pytest.mark.parametrize(
    "shape, target, message",
    [
        ((2, 3), [4, 2], "cannot reshape [2, 3] (6 elements) into [4, 2] (8 elements)"),
        ((2, 3), [4, -1], "cannot reshape [2, 3] (6 elements) into [4, -1]"),
        ((0, 3), [0, -1], "cannot reshape [0, 3] (0 elements) into [0, -1]"),
        ((None, 4), [6], "6 elements is not a multiple of 4"),
        ((None, 0), [2], "(0 elements) into [2] (2 elements)"),
        ((None, 3), [0, -1], "cannot infer the -1 dim"),
    ],
)
def test_reshape_errors(shape, target, message):
    (v,) = inputs(TensorType(F32, shape))
    with pytest.raises(ShapeError) as e:
        ops.Reshape.create(v, shape=target, name="r")
    text = str(e.value)
    assert text.startswith("array.reshape 'r': ")
    assert message in text
    assert "x: 'in0' f32" in text
    assert "created at" in text and "test_ops_array.py" in text


def test_reshape_partial_shapes():
    (v,) = inputs(TensorType(F32, (None, 4)))
    assert ops.Reshape.create(v, shape=[-1, 2]).result.type == TensorType(F32, (None, 2))
    assert ops.Reshape.create(v, shape=[8]).result.type == TensorType(F32, (8,))
    (z,) = inputs(TensorType(F32, (None, 0)))
    assert ops.Reshape.create(z, shape=[3, -1]).result.type == TensorType(F32, (3, 0))
    (u,) = inputs(TensorType(F32, None))
    assert ops.Reshape.create(u, shape=[-1, 5]).result.type == TensorType(F32, (None, 5))
    with pytest.raises(OpAttributeError, match="at most one -1"):
        ops.Reshape.create(v, shape=[-1, -1])


def test_reshape_bad_feed_is_a_shape_error():
    g = Graph()
    x = g.add_input(TensorType(F32, (None, 4)), "x")
    op = g.append(ops.Reshape.create(x, shape=[3, 4], name="r"))
    g.set_outputs([op.result])
    assert evaluate(g, {"x": np.zeros((3, 4), np.float32)})[0].shape == (3, 4)
    with pytest.raises(ShapeError, match=r"array.reshape 'r': cannot reshape \[2, 4\] \(8 elements\)"):
        evaluate(g, {"x": np.zeros((2, 4), np.float32)})


@given(st.data(), shapes, move_dtypes)
def test_transpose(data, shape, dtype):
    x, v = one_input(data, shape, dtype)
    perm = data.draw(st.none() | st.permutations(range(len(shape))))
    op = ops.Transpose.create(v, perm=perm)
    out = check_kernel(op, x)[0]
    expected = np.empty(tuple(shape[::-1] if perm is None else [shape[p] for p in perm]), x.dtype)
    order = list(range(len(shape)))[::-1] if perm is None else list(perm)
    for idx in np.ndindex(*shape):
        expected[tuple(idx[p] for p in order)] = x[idx]
    assert_same(out, expected)


def test_transpose_errors():
    (v,) = inputs(TensorType(F32, (2, 3)))
    with pytest.raises(ShapeError, match=r"perm \[0, 1, 2\] has 3 entries for a tensor of rank 2"):
        ops.Transpose.create(v, perm=[0, 1, 2])
    with pytest.raises(OpAttributeError, match="permutation"):
        ops.Transpose.create(v, perm=[0, 0])
    (u,) = inputs(TensorType(F32, None))
    assert ops.Transpose.create(u).result.type == TensorType(F32, None)
    assert ops.Transpose.create(u, perm=[1, 0]).result.type == TensorType(F32, (None, None))


@given(st.data(), shapes, move_dtypes)
def test_expand_dims(data, shape, dtype):
    x, v = one_input(data, shape, dtype)
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    op = ops.ExpandDims.create(v, axis=axis)
    pos = axis if axis >= 0 else axis + len(shape) + 1
    assert_same(check_kernel(op, x)[0], x.reshape(shape[:pos] + (1,) + shape[pos:]))


def test_expand_dims_axis_range():
    (v,) = inputs(TensorType(F32, (2, 3)))
    with pytest.raises(ShapeError, match="axis 3 is out of range for rank 3"):
        ops.ExpandDims.create(v, axis=3)
    with pytest.raises(ShapeError, match="axis -4 is out of range"):
        ops.ExpandDims.create(v, axis=-4)


@given(st.data(), st.lists(st.integers(1, 3), max_size=5).map(tuple), move_dtypes)
def test_squeeze(data, shape, dtype):
    x, v = one_input(data, shape, dtype)
    ones = [i for i, d in enumerate(shape) if d == 1]
    axes = data.draw(st.none() | st.lists(st.sampled_from(ones), unique=True) if ones else st.none() | st.just([]))
    if axes is not None:
        axes = [a - len(shape) if data.draw(st.booleans()) else a for a in axes]
    op = ops.Squeeze.create(v, axes=axes)
    out = check_kernel(op, x)[0]
    drop = set(ones) if axes is None else {a % len(shape) for a in axes}
    assert_same(out, x.reshape(tuple(d for i, d in enumerate(shape) if i not in drop)))


def test_squeeze_types():
    (v,) = inputs(TensorType(F32, (None, 1, 3, 1)))
    assert ops.Squeeze.create(v).result.type == TensorType(F32, None)
    assert ops.Squeeze.create(v, axes=[0, -1]).result.type == TensorType(F32, (1, 3))
    assert ops.Squeeze.create(v, axes=[1, 1]).result.type == TensorType(F32, (None, 3, 1))
    (s,) = inputs(TensorType(F32, (1, 3, 1)))
    assert ops.Squeeze.create(s).result.type == TensorType(F32, (3,))
    with pytest.raises(ShapeError, match=r"cannot squeeze dim 2 of size 3 \(shape \[None, 1, 3, 1\]\)"):
        ops.Squeeze.create(v, axes=[2], name="sq")
    g = Graph()
    x = g.add_input(TensorType(F32, (None, 3)), "x")
    op = g.append(ops.Squeeze.create(x, axes=[0], name="sq"))
    g.set_outputs([op.result])
    with pytest.raises(ShapeError, match="cannot squeeze dim 0 of size 2"):
        evaluate(g, [np.zeros((2, 3), np.float32)])


# --------------------------------------------------------------------------------------------
# Concat, stack, split


@st.composite
def join_case(draw, vary_axis: bool):
    base = draw(st.lists(dims, min_size=1, max_size=3).map(tuple))
    axis = draw(st.integers(-len(base), len(base) - 1))
    k = draw(st.integers(1, 4))
    shapes_ = []
    for _ in range(k):
        s = list(base)
        if vary_axis:
            s[axis] = draw(dims)
        shapes_.append(tuple(s))
    return shapes_, axis


@given(st.data(), join_case(vary_axis=True), move_dtypes)
def test_concat(data, case, dtype):
    shapes_, axis = case
    xs = [sample(s, dtype, offset=100 * i) for i, s in enumerate(shapes_)]
    vs = inputs(*(TensorType(dtype, data.draw(declared(s))) for s in shapes_))
    op = ops.Concat.create(vs, axis=axis)
    out = check_kernel(op, *xs)[0]
    a = axis % len(shapes_[0])
    sizes = [x.shape[a] for x in xs]
    expected = np.empty((*xs[0].shape[:a], sum(sizes), *xs[0].shape[a + 1 :]), xs[0].dtype)
    for x, start in zip(xs, np.cumsum([0, *sizes])):
        expected[(slice(None),) * a + (slice(start, start + x.shape[a]),)] = x
    assert_same(out, expected)


def test_concat_types_and_errors():
    a, b, c = inputs(TensorType(F32, (None, 3)), TensorType(F32, (2, None)), TensorType(F32, None))
    assert ops.Concat.create([a, b], axis=0).result.type == TensorType(F32, (None, 3))
    assert ops.Concat.create([a, b], axis=1).result.type == TensorType(F32, (2, None))
    assert ops.Concat.create([a, c], axis=-1).result.type == TensorType(F32, (None, None))
    assert ops.Concat.create([c], axis=5).result.type == TensorType(F32, None)
    (s,) = inputs(TensorType(F32, (2, 4)))
    assert ops.Concat.create([s, s, s], axis=1).result.type == TensorType(F32, (2, 12))
    (d,) = inputs(TensorType(F32, (3, 4)))
    with pytest.raises(ShapeError, match=r"values differ in dim 0 \(2 vs 3\)") as e:
        ops.Concat.create([s, d], axis=1, name="cat")
    assert "values[1]: 'in0' f32[3, 4]" in str(e.value)
    (r3,) = inputs(TensorType(F32, (2, 4, 1)))
    with pytest.raises(ShapeError, match="equal ranks"):
        ops.Concat.create([s, r3], axis=0)
    (i,) = inputs(TensorType(I32, (2, 4)))
    with pytest.raises(DTypeError, match="different dtypes"):
        ops.Concat.create([s, i], axis=0)
    with pytest.raises(ShapeError, match="at least one value"):
        ops.Concat.create([], axis=0)
    (sc,) = inputs(TensorType(F32, ()))
    with pytest.raises(ShapeError, match="out of range for rank 0"):
        ops.Concat.create([sc, sc], axis=0)


@given(st.data(), join_case(vary_axis=False), move_dtypes)
def test_stack(data, case, dtype):
    shapes_, _ = case
    rank = len(shapes_[0])
    axis = data.draw(st.integers(-rank - 1, rank))
    xs = [sample(s, dtype, offset=100 * i) for i, s in enumerate(shapes_)]
    vs = inputs(*(TensorType(dtype, data.draw(declared(s))) for s in shapes_))
    op = ops.Stack.create(vs, axis=axis)
    out = check_kernel(op, *xs)[0]
    a = axis % (rank + 1)
    expected = np.empty((*shapes_[0][:a], len(xs), *shapes_[0][a:]), xs[0].dtype)
    for i, x in enumerate(xs):
        expected[(slice(None),) * a + (i,)] = x
    assert_same(out, expected)


def test_stack_types():
    a, b = inputs(TensorType(F32, (None, 3)), TensorType(F32, (2, None)))
    assert ops.Stack.create([a, b], axis=1).result.type == TensorType(F32, (2, 2, 3))
    with pytest.raises(ShapeError, match="values differ in dim 1"):
        ops.Stack.create(inputs(TensorType(F32, (2, 3)), TensorType(F32, (2, 4))))


@st.composite
def split_case(draw):
    shape = draw(st.lists(dims, min_size=1, max_size=3).map(tuple))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    d = shape[axis]
    if draw(st.booleans()):
        num = draw(st.sampled_from([k for k in range(1, 5) if d % k == 0]))
        return shape, axis, {"num": num}, [d // num] * num
    sizes: list[int] = []
    left = d
    while left and len(sizes) < 4:
        sizes.append(draw(st.integers(0, left)))
        left -= sizes[-1]
    sizes.append(left)
    attr = list(sizes)
    if draw(st.booleans()):
        attr[draw(st.integers(0, len(attr) - 1))] = -1
    return shape, axis, {"sizes": attr}, sizes


@given(st.data(), split_case(), move_dtypes)
def test_split(data, case, dtype):
    shape, axis, attrs, sizes = case
    x, v = one_input(data, shape, dtype)
    op = ops.Split.create(v, axis=axis, **attrs)
    assert len(op.results) == len(sizes)
    outs = check_kernel(op, x)
    a = axis % len(shape)
    start = 0
    for out, n in zip(outs, sizes):
        assert_same(out, x[(slice(None),) * a + (slice(start, start + n),)])
        start += n


def test_split_types_and_errors():
    (v,) = inputs(TensorType(F32, (None, 6)))
    assert [r.type for r in ops.Split.create(v, axis=1, num=3).results] == [TensorType(F32, (None, 2))] * 3
    assert [r.type for r in ops.Split.create(v, axis=0, sizes=[1, -1]).results] == [
        TensorType(F32, (1, 6)),
        TensorType(F32, (None, 6)),
    ]
    assert [r.type for r in ops.Split.create(v, axis=1, sizes=[1, -1]).results] == [
        TensorType(F32, (None, 1)),
        TensorType(F32, (None, 5)),
    ]
    with pytest.raises(ShapeError, match="cannot split dim 1 of size 6 into 4 equal pieces"):
        ops.Split.create(v, axis=1, num=4)
    with pytest.raises(ShapeError, match="add up to 5, not the split dim's size 6"):
        ops.Split.create(v, axis=1, sizes=[2, 3])
    with pytest.raises(ShapeError, match="add up to more than"):
        ops.Split.create(v, axis=1, sizes=[4, -1, 3])
    with pytest.raises(OpAttributeError, match="exactly one of num and sizes"):
        ops.Split.create(v, axis=1)
    with pytest.raises(OpAttributeError, match="exactly one of num and sizes"):
        ops.Split.create(v, axis=1, num=2, sizes=[3, 3])
    with pytest.raises(OpAttributeError, match="at most one -1"):
        ops.Split.create(v, axis=1, sizes=[-1, -1])
    (u,) = inputs(TensorType(F32, None))
    assert [r.type for r in ops.Split.create(u, num=2).results] == [TensorType(F32, None)] * 2


# --------------------------------------------------------------------------------------------
# Slice and strided slice


@st.composite
def slice_case(draw):
    shape = draw(shapes)
    begin, size = [], []
    for d in shape:
        b = draw(st.integers(0, d))
        begin.append(b)
        size.append(draw(st.sampled_from([-1, draw(st.integers(0, d - b))])))
    return shape, begin, size


@given(st.data(), slice_case(), move_dtypes)
def test_slice(data, case, dtype):
    shape, begin, size = case
    x, v = one_input(data, shape, dtype)
    op = ops.Slice.create(v, begin=begin, size=size)
    out = check_kernel(op, x)[0]
    expected = x
    for axis, (b, s) in enumerate(zip(begin, size)):
        stop = shape[axis] if s == -1 else b + s
        expected = np.take(expected, np.arange(b, stop, dtype=np.int64), axis=axis)
    assert_same(out, expected)


def test_slice_errors():
    (v,) = inputs(TensorType(F32, (4, None)))
    assert ops.Slice.create(v, begin=[1, 2], size=[-1, 3]).result.type == TensorType(F32, (3, 3))
    assert ops.Slice.create(v, begin=[1, 2], size=[2, -1]).result.type == TensorType(F32, (2, None))
    with pytest.raises(ShapeError, match=r"slice \[3, 5\) of dim 0 passes its size 4"):
        ops.Slice.create(v, begin=[3, 0], size=[2, 1])
    with pytest.raises(ShapeError, match="begin and size have 1 entries for a tensor of rank 2"):
        ops.Slice.create(v, begin=[0], size=[1])
    with pytest.raises(OpAttributeError, match="begin must be >= 0"):
        ops.Slice.create(v, begin=[-1, 0], size=[1, 1])


@st.composite
def basic_index(draw, shape: tuple[int, ...]):
    """A random Python basic index for an array of ``shape``, valid for numpy."""
    rank = len(shape)

    def item(d: int):
        bound = st.none() | st.integers(-d - 2, d + 2)
        choices = [st.builds(slice, bound, bound, st.none() | st.sampled_from([-3, -2, -1, 1, 2, 3]))]
        if d:
            choices.append(st.integers(-d, d - 1))
        return draw(st.one_of(choices))

    if draw(st.booleans()):
        k1 = draw(st.integers(0, rank))
        k2 = draw(st.integers(0, rank - k1))
        items = [item(d) for d in shape[:k1]] + [Ellipsis] + [item(d) for d in shape[rank - k2 :]]
    else:
        k = draw(st.integers(0, rank))
        items = [item(d) for d in shape[:k]]
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), None)
    if len(items) == 1 and draw(st.booleans()):
        return items[0]
    return tuple(items)


@given(st.data(), shapes, move_dtypes)
def test_strided_slice_matches_python_indexing(data, shape, dtype):
    x, v = one_input(data, shape, dtype)
    index = data.draw(basic_index(shape))
    op = ops.StridedSlice.create(v, **strided_slice_spec(index))
    out = check_kernel(op, x)[0]
    expected = x[index]
    if not isinstance(expected, np.ndarray):  # numpy gives an element for a full index
        expected = np.array(expected, dtype=x.dtype)
    assert_same(out, expected)


def test_strided_slice_spec():
    assert strided_slice_spec(3) == {
        "begin": (3,),
        "end": (4,),
        "strides": (1,),
        "begin_mask": 0,
        "end_mask": 0,
        "ellipsis_mask": 0,
        "new_axis_mask": 0,
        "shrink_axis_mask": 1,
    }
    spec = strided_slice_spec((slice(1, None), slice(None, None, 2), None, Ellipsis, 3))
    assert spec == {
        "begin": (1, 0, 0, 0, 3),
        "end": (0, 0, 0, 0, 4),
        "strides": (1, 2, 1, 1, 1),
        "begin_mask": 0b00010,
        "end_mask": 0b00011,
        "ellipsis_mask": 0b01000,
        "new_axis_mask": 0b00100,
        "shrink_axis_mask": 0b10000,
    }
    assert strided_slice_spec(np.int64(2))["begin"] == (2,)
    for bad in (True, [1, 2], np.array([0]), 1.5):
        with pytest.raises(TypeError, match="valid indices"):
            strided_slice_spec(bad)


def test_strided_slice_unknown_dims():
    (v,) = inputs(TensorType(F32, (None, 5, None)))
    ty = lambda index: ops.StridedSlice.create(v, **strided_slice_spec(index)).result.type  # noqa: E731
    assert ty((0, slice(1, 4), ...)) == TensorType(F32, (3, None))
    assert ty((..., None, -1)) == TensorType(F32, (None, 5, 1))
    assert ty((slice(None, None, -2),)) == TensorType(F32, (None, 5, None))
    assert ty((slice(None), slice(None, None, -2), slice(0, 0))) == TensorType(F32, (None, 3, None))
    (u,) = inputs(TensorType(F32, None))
    assert ops.StridedSlice.create(u, **strided_slice_spec((0, None))).result.type == TensorType(F32, None)


def test_strided_slice_errors():
    (v,) = inputs(TensorType(F32, (4, 3)))
    with pytest.raises(ShapeError, match=r"index 4 is out of bounds for dim 0 of size 4"):
        ops.StridedSlice.create(v, **strided_slice_spec(4), name="ss")
    with pytest.raises(ShapeError, match=r"index -5 is out of bounds for dim 0"):
        ops.StridedSlice.create(v, **strided_slice_spec(-5))
    with pytest.raises(ShapeError, match="the index uses 3 dims but the tensor has shape"):
        ops.StridedSlice.create(v, **strided_slice_spec((0, 1, 2)))
    with pytest.raises(OpAttributeError, match="strides must be non-zero"):
        ops.StridedSlice.create(v, **strided_slice_spec(slice(None, None, 0)))
    with pytest.raises(OpAttributeError, match="at most one ellipsis"):
        ops.StridedSlice.create(v, begin=[0, 0], end=[0, 0], strides=[1, 1], ellipsis_mask=3)
    with pytest.raises(OpAttributeError, match="differ in length"):
        ops.StridedSlice.create(v, begin=[0, 0], end=[1], strides=[1, 1])
    g = Graph()
    x = g.add_input(TensorType(F32, (None,)), "x")
    op = g.append(ops.StridedSlice.create(x, **strided_slice_spec(5), name="ss"))
    g.set_outputs([op.result])
    with pytest.raises(ShapeError, match="array.strided_slice 'ss': index 5 is out of bounds for dim 0 of size 3"):
        evaluate(g, [np.zeros(3, np.float32)])


def test_strided_slice_tf_examples():
    # The examples of tf.strided_slice's documentation.
    t = np.array([[[1, 1, 1], [2, 2, 2]], [[3, 3, 3], [4, 4, 4]], [[5, 5, 5], [6, 6, 6]]], np.int32)
    (v,) = inputs(TensorType(I32, t.shape))

    def run(**attrs):
        return check_kernel(ops.StridedSlice.create(v, **attrs), t)[0]

    assert run(begin=[1, 0, 0], end=[2, 1, 3], strides=[1, 1, 1]).tolist() == [[[3, 3, 3]]]
    assert run(begin=[1, 0, 0], end=[2, 2, 3], strides=[1, 1, 1]).tolist() == [[[3, 3, 3], [4, 4, 4]]]
    assert run(begin=[1, -1, 0], end=[2, -3, 3], strides=[1, -1, 1]).tolist() == [[[4, 4, 4], [3, 3, 3]]]


# --------------------------------------------------------------------------------------------
# Gather, tile, pad


@st.composite
def gather_case(draw):
    params = draw(st.lists(dims, min_size=1, max_size=3).map(tuple))
    axis = draw(st.integers(-len(params), len(params) - 1))
    ishape = draw(st.lists(dims, max_size=2).map(tuple))
    d = params[axis]
    if d == 0:
        ishape = (*ishape[:-1], 0) if ishape else (0,)
    n = math.prod(ishape)
    idx = draw(st.lists(st.integers(0, max(d - 1, 0)), min_size=n, max_size=n))
    return params, axis, np.array(idx, dtype=draw(st.sampled_from([np.int32, np.int64]))).reshape(ishape)


@given(st.data(), gather_case(), move_dtypes)
def test_gather(data, case, dtype):
    pshape, axis, idx = case
    p = sample(pshape, dtype)
    vp, vi = inputs(
        TensorType(dtype, data.draw(declared(pshape))), TensorType(dtype_of(idx), data.draw(declared(idx.shape)))
    )
    op = ops.Gather.create(vp, vi, axis=axis)
    out = check_kernel(op, p, idx)[0]
    a = axis % len(pshape)
    expected = np.empty(pshape[:a] + idx.shape + pshape[a + 1 :], p.dtype)
    for pos in np.ndindex(*expected.shape):
        k = idx[pos[a : a + idx.ndim]]
        expected[pos] = p[pos[:a] + (k,) + pos[a + idx.ndim :]]
    assert_same(out, expected)


def test_gather_errors():
    p, i, f = inputs(TensorType(F32, (5, 3)), TensorType(I32, (None,)), TensorType(F32, (2,)))
    assert ops.Gather.create(p, i, axis=1).result.type == TensorType(F32, (5, None))
    with pytest.raises(DTypeError, match="indices has dtype f32"):
        ops.Gather.create(p, f)
    with pytest.raises(ShapeError, match="axis 2 is out of range for rank 2"):
        ops.Gather.create(p, i, axis=2)
    g = Graph()
    x = g.add_input(TensorType(F32, (5, 3)), "x")
    ix = g.add_input(TensorType(I32, (None,)), "ix")
    op = g.append(ops.Gather.create(x, ix, name="g"))
    g.set_outputs([op.result])
    for bad in ([0, 5], [-1]):
        with pytest.raises(FlowirError, match=r"array.gather 'g': indices\[\d\] = -?\d is not in \[0, 5\)"):
            evaluate(g, [np.zeros((5, 3), np.float32), np.array(bad, np.int32)])


@given(st.data(), shapes, move_dtypes)
def test_tile(data, shape, dtype):
    x, v = one_input(data, shape, dtype)
    multiples = data.draw(st.lists(st.integers(0, 3), min_size=len(shape), max_size=len(shape)))
    op = ops.Tile.create(v, multiples=multiples)
    out = check_kernel(op, x)[0]
    out_shape = tuple(d * m for d, m in zip(shape, multiples))
    expected = np.empty(out_shape, x.dtype)
    for pos in np.ndindex(*out_shape):
        expected[pos] = x[tuple(p % d for p, d in zip(pos, shape))]
    assert_same(out, expected)


def test_tile_types():
    (v,) = inputs(TensorType(F32, (None, 3)))
    assert ops.Tile.create(v, multiples=[2, 2]).result.type == TensorType(F32, (None, 6))
    assert ops.Tile.create(v, multiples=[0, 1]).result.type == TensorType(F32, (0, 3))
    with pytest.raises(ShapeError, match=r"multiples \[2\] have 1 entries for a tensor of rank 2"):
        ops.Tile.create(v, multiples=[2])
    with pytest.raises(OpAttributeError, match="non-negative"):
        ops.Tile.create(v, multiples=[-1, 1])


def _mirror(i: int, d: int, mode: str) -> int:
    """Where padded position ``i`` (relative to the original start) reads from."""
    period = 2 * d - 2 if mode == "reflect" else 2 * d
    j = i % period if period else 0
    if mode == "reflect":
        return j if j < d else period - j
    return j if j < d else period - 1 - j


@st.composite
def pad_case(draw):
    mode = draw(st.sampled_from(["constant", "reflect", "symmetric"]))
    shape = draw(st.lists(st.integers(1 if mode == "reflect" else 0, 4), max_size=3).map(tuple))
    paddings = []
    for d in shape:
        limit = {"constant": 3, "reflect": d - 1, "symmetric": d}[mode]
        paddings += [draw(st.integers(0, limit)), draw(st.integers(0, limit))]
    return shape, paddings, mode


@given(st.data(), pad_case(), move_dtypes, st.sampled_from([0.0, 2.0, -1.5]))
def test_pad(data, case, dtype, value):
    shape, paddings, mode = case
    if dtype is DType.string or (dtype is DType.uint8 and value < 0):
        value = 0.0
    x, v = one_input(data, shape, dtype)
    op = ops.Pad.create(v, paddings=paddings, mode=mode, constant_value=value)
    out = check_kernel(op, x)[0]
    pairs = list(zip(paddings[::2], paddings[1::2]))
    out_shape = tuple(b + d + a for d, (b, a) in zip(shape, pairs))
    expected = np.empty(out_shape, x.dtype)
    fill = b"" if dtype is DType.string else np.asarray(value).astype(x.dtype)
    for pos in np.ndindex(*out_shape):
        src = [p - b for p, (b, _) in zip(pos, pairs)]
        if all(0 <= s < d for s, d in zip(src, shape)):
            expected[pos] = x[tuple(src)]
        elif mode == "constant":
            expected[pos] = fill
        else:
            expected[pos] = x[tuple(_mirror(s, d, mode) for s, d in zip(src, shape))]
    assert_same(out, expected)


def test_pad_errors():
    (v,) = inputs(TensorType(F32, (3, None)))
    assert ops.Pad.create(v, paddings=[1, 2, 0, 1]).result.type == TensorType(F32, (6, None))
    assert ops.Pad.create(v, paddings=[2, 2, 0, 0], mode="reflect").result.type == TensorType(F32, (7, None))
    with pytest.raises(ShapeError, match=r"reflect paddings \(3, 0\) of dim 0 must be less than its size 3"):
        ops.Pad.create(v, paddings=[3, 0, 0, 0], mode="reflect")
    assert ops.Pad.create(v, paddings=[3, 3, 0, 0], mode="symmetric").result.type == TensorType(F32, (9, None))
    with pytest.raises(ShapeError, match=r"symmetric paddings \(0, 4\) of dim 0 must be at most its size 3"):
        ops.Pad.create(v, paddings=[0, 4, 0, 0], mode="symmetric")
    with pytest.raises(ShapeError, match="paddings have 2 entries for a tensor of rank 2; expected 4"):
        ops.Pad.create(v, paddings=[1, 1])
    with pytest.raises(OpAttributeError, match="mode must be one of"):
        ops.Pad.create(v, paddings=[0, 0, 0, 0], mode="edge")
    with pytest.raises(OpAttributeError, match="non-negative"):
        ops.Pad.create(v, paddings=[-1, 0, 0, 0])
    g = Graph()
    x = g.add_input(TensorType(F32, (None,)), "x")
    op = g.append(ops.Pad.create(x, paddings=[2, 0], mode="reflect", name="p"))
    g.set_outputs([op.result])
    with pytest.raises(ShapeError, match="must be less than its size 2"):
        evaluate(g, [np.zeros(2, np.float32)])


# --------------------------------------------------------------------------------------------
# Creation


@given(st.data(), shapes, move_dtypes)
def test_fill(data, shape, dtype):
    value = sample((), dtype, offset=7)
    (v,) = inputs(TensorType(dtype, data.draw(st.sampled_from([(), None]))))
    op = ops.Fill.create(v, shape=shape)
    assert op.result.type == TensorType(dtype, shape)
    out = check_kernel(op, value)[0]
    assert out.shape == shape and all(e == value[()] for e in out.ravel())


def test_fill_errors():
    (v,) = inputs(TensorType(F32, (1,)))
    with pytest.raises(ShapeError, match=r"value must be a scalar, got shape \[1\]"):
        ops.Fill.create(v, shape=[2])


@pytest.mark.parametrize("cls, one", [(ops.Zeros, False), (ops.Ones, True)])
@given(shape=shapes, dtype=move_dtypes)
def test_zeros_ones(cls, one, shape, dtype):
    if one and dtype is DType.string:
        with pytest.raises(DTypeError, match="cannot make a string tensor"):
            cls.create(shape=shape, dtype=dtype)
        return
    op = cls.create(shape=shape, dtype=dtype)
    assert op.result.type == TensorType(dtype, shape)
    out = check_kernel(op)[0]
    expected = b"" if dtype is DType.string else dtype.numpy.type(int(one))
    assert all(e == expected for e in out.ravel())


@pytest.mark.parametrize("cls, one", [(ops.ZerosLike, False), (ops.OnesLike, True)])
@given(data=st.data(), shape=shapes, dtype=move_dtypes)
def test_zeros_ones_like(cls, one, data, shape, dtype):
    x, v = one_input(data, shape, dtype)
    if one and dtype is DType.string:
        with pytest.raises(DTypeError):
            cls.create(v)
        return
    op = cls.create(v)
    assert op.result.type == v.type
    out = check_kernel(op, x)[0]
    expected = b"" if dtype is DType.string else dtype.numpy.type(int(one))
    assert out.shape == x.shape and all(e == expected for e in out.ravel())


def test_zeros_default_dtype():
    assert ops.Zeros.create(shape=[2]).result.type == TensorType(F32, (2,))


@given(
    st.integers(-20, 20),
    st.integers(-20, 20),
    st.integers(-5, 5).filter(bool),
    st.sampled_from([DType.int32, DType.int64, DType.int16]),
)
def test_range_int(start, limit, delta, dtype):
    if (limit - start) * delta < 0:
        with pytest.raises(OpAttributeError, match="start must be"):
            ops.Range.create(start=start, limit=limit, delta=delta, dtype=dtype)
        return
    op = ops.Range.create(start=start, limit=limit, delta=delta, dtype=dtype)
    out = check_kernel(op)[0]
    assert op.result.type.is_static
    assert out.tolist() == list(range(start, limit, delta))


@given(
    st.floats(-10, 10, width=16),
    st.floats(-10, 10, width=16),
    st.floats(0.25, 3, width=16) | st.floats(-3, -0.25, width=16),
    st.sampled_from([DType.float32, DType.float64, DType.float16, DType.bfloat16]),
)
def test_range_float(start, limit, delta, dtype):
    if (limit - start) * delta < 0:
        with pytest.raises(OpAttributeError, match="start must be"):
            ops.Range.create(start=start, limit=limit, delta=delta, dtype=dtype)
        return
    op = ops.Range.create(start=start, limit=limit, delta=delta, dtype=dtype)
    out = check_kernel(op)[0]
    t = dtype.numpy.type
    n = math.ceil(float(abs((t(limit) - t(start)) / t(delta))))
    expected, val = [], t(start)
    for _ in range(n):
        expected.append(val)
        val = t(val + t(delta))
    assert_same(out, np.array(expected, dtype=dtype.numpy).reshape(n))


def test_range_errors():
    with pytest.raises(OpAttributeError, match="delta must be non-zero"):
        ops.Range.create(start=0, limit=3, delta=0)
    with pytest.raises(OpAttributeError, match="start = 0.5 is not an integer that i32 holds"):
        ops.Range.create(start=0.5, limit=3)
    with pytest.raises(DTypeError, match="range cannot make a i1 tensor"):
        ops.Range.create(start=0, limit=3, dtype=DType.bool)
    assert ops.Range.create(start=0, limit=1, delta=0.3, dtype=F32).result.type == TensorType(F32, (4,))
    assert ops.Range.create(start=3, limit=3).result.type == TensorType(I32, (0,))


@given(
    st.data(),
    st.lists(dims, max_size=3).map(tuple),
    st.integers(0, 4),
    st.sampled_from([DType.float32, DType.int32, DType.bool, DType.float16]),
)
def test_one_hot(data, shape, depth, dtype):
    idx = np.array(
        data.draw(st.lists(st.integers(-1, depth + 1), min_size=math.prod(shape), max_size=math.prod(shape))), np.int64
    )
    idx = idx.astype(data.draw(st.sampled_from([np.int32, np.int64]))).reshape(shape)
    (v,) = inputs(TensorType(dtype_of(idx), data.draw(declared(shape))))
    axis = data.draw(st.integers(-1, len(shape)))
    on, off = data.draw(st.sampled_from([(1.0, 0.0), (5.0, -2.0), (0.0, 1.0)]))
    op = ops.OneHot.create(v, depth=depth, axis=axis, on_value=on, off_value=off, dtype=dtype)
    out = check_kernel(op, idx)[0]
    a = len(shape) if axis == -1 else axis
    expected = np.empty((*shape[:a], depth, *shape[a:]), dtype.numpy)
    for pos in np.ndindex(*expected.shape):
        expected[pos] = on if idx[pos[:a] + pos[a + 1 :]] == pos[a] else off
    assert_same(out, expected)


def test_one_hot_errors():
    (v,) = inputs(TensorType(I32, (None, 3)))
    assert ops.OneHot.create(v, depth=5, axis=1).result.type == TensorType(F32, (None, 5, 3))
    with pytest.raises(ShapeError, match=r"axis must be -1 or in \[0, 2\]"):
        ops.OneHot.create(v, depth=5, axis=3)
    with pytest.raises(ShapeError, match="axis must be -1"):
        ops.OneHot.create(v, depth=5, axis=-2)
    with pytest.raises(OpAttributeError, match="depth must be non-negative"):
        ops.OneHot.create(v, depth=-1)
    (f,) = inputs(TensorType(F32, (2,)))
    with pytest.raises(DTypeError, match="indices has dtype f32"):
        ops.OneHot.create(f, depth=2)


@given(st.data(), shapes, move_dtypes, st.sampled_from([DType.int32, DType.int64]))
def test_shape(data, shape, dtype, out_type):
    x, v = one_input(data, shape, dtype)
    op = ops.Shape.create(v, out_type=out_type)
    assert op.result.type == TensorType(out_type, (None if v.type.shape is None else len(shape),))
    assert_same(check_kernel(op, x)[0], np.array(shape, dtype=out_type.numpy).reshape(len(shape)))


def test_shape_errors():
    (v,) = inputs(TensorType(F32, (2,)))
    with pytest.raises(DTypeError, match="out_type must be i32 or i64"):
        ops.Shape.create(v, out_type=F32)


# --------------------------------------------------------------------------------------------
# The dialect as a whole


def test_every_array_op_is_pure_and_has_a_kernel():
    from flowir.ir.core import Operation, Trait
    from flowir.ir.ops import array
    from flowir.ir.reference import IMPL_RULES

    classes = [
        c for c in (getattr(array, n) for n in array.__all__) if isinstance(c, type) and issubclass(c, Operation)
    ]
    assert len(classes) == 24
    for cls in classes:
        assert cls.name.startswith("array."), cls
        assert Trait.PURE in cls.traits, cls
        assert cls in IMPL_RULES, cls


def test_ops_verify_in_a_graph():
    g = Graph()
    x = g.add_input(TensorType(F32, (None, 4)), "x")
    r = g.append(ops.Reshape.create(x, shape=[-1, 2, 2], name="r"))
    t = g.append(ops.Transpose.create(r.result, perm=[1, 2, 0], name="t"))
    s = g.append(ops.StridedSlice.create(t.result, **strided_slice_spec((0, ..., slice(None, None, -1))), name="s"))
    parts = g.append(ops.Split.create(s.result, axis=0, num=2, name="sp"))
    c = g.append(ops.Concat.create(list(parts.results), axis=1, name="c"))
    g.set_outputs([c.result])
    verify(g)
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    (out,) = evaluate(g, [a])
    ref = a.reshape(-1, 2, 2).transpose(1, 2, 0)[0, ..., ::-1]
    np.testing.assert_array_equal(out, np.concatenate([ref[:1], ref[1:]], axis=1))
