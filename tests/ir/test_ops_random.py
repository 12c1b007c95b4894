"""Random ops: types, reproducibility per seed and run count, and the distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowir.ir import DType, DTypeError, OpAttributeError, TensorType, Trait, ops
from flowir.ir.reference import RefContext, run_op
from tests.ir.kernel_checks import check_kernel

F32 = DType.float32
FLOATS = [DType.float16, DType.bfloat16, DType.float32, DType.float64]
RANDOM_OPS = [ops.RandomUniform, ops.RandomNormal, ops.TruncatedNormal]
#: The standard deviation of a standard normal truncated to [-2, 2].
TRUNCATED_STD = math.sqrt(1 - 4 * math.exp(-2) / math.sqrt(2 * math.pi) / math.erf(math.sqrt(2)))


def draw(op, ctx: RefContext | None = None) -> np.ndarray:
    return run_op(op, [], ctx)[0].astype(np.float64)


@given(
    st.sampled_from(RANDOM_OPS),
    st.lists(st.integers(0, 4), max_size=3).map(tuple),
    st.sampled_from(FLOATS),
    st.integers(0, 3),
    st.integers(0, 3),
)
def test_kernels_match_types(cls, shape, dtype, seed, seed2):
    op = cls.create(shape=shape, dtype=dtype, seed=seed, seed2=seed2, name="r")
    assert op.result.type == TensorType(dtype, shape)
    check_kernel(op, ctx=RefContext())


@given(
    st.lists(st.integers(0, 4), max_size=3).map(tuple),
    st.sampled_from([DType.int32, DType.int64]),
    st.integers(-5, 5),
    st.integers(1, 6),
)
def test_uniform_integers(shape, dtype, lo, width):
    op = ops.RandomUniform.create(shape=shape, dtype=dtype, minval=lo, maxval=lo + width)
    (out,) = check_kernel(op, ctx=RefContext())
    assert ((out >= lo) & (out < lo + width)).all()


@pytest.mark.parametrize("cls", RANDOM_OPS)
def test_equal_seeds_and_run_counts_repeat(cls):
    op = cls.create(shape=[3, 4], seed=7, seed2=3, name="r")
    ctx_a, ctx_b = RefContext(), RefContext()
    first_a, second_a = draw(op, ctx_a), draw(op, ctx_a)
    first_b, second_b = draw(op, ctx_b), draw(op, ctx_b)
    np.testing.assert_array_equal(first_a, first_b)
    np.testing.assert_array_equal(second_a, second_b)
    assert not np.array_equal(first_a, second_a)
    other = cls.create(shape=[3, 4], seed=8, seed2=3, name="r")
    assert not np.array_equal(draw(other, RefContext()), first_a)
    # An equal op (same seeds and name) built again draws the same stream.
    again = cls.create(shape=[3, 4], seed=7, seed2=3, name="r")
    np.testing.assert_array_equal(draw(again, RefContext()), first_a)


def test_unseeded_ops_draw_independent_streams():
    a = ops.RandomNormal.create(shape=[100])
    b = ops.RandomNormal.create(shape=[100])
    ctx = RefContext(seed=5)
    first_a, first_b = draw(a, ctx), draw(b, ctx)
    assert not np.array_equal(first_a, first_b)
    # A context's seed reproduces unseeded draws made in the same order.
    again = RefContext(seed=5)
    np.testing.assert_array_equal(draw(a, again), first_a)
    np.testing.assert_array_equal(draw(b, again), first_b)
    assert not np.array_equal(draw(a, RefContext(seed=6)), first_a)


def test_uniform_statistics():
    out = draw(ops.RandomUniform.create(shape=[200, 100], minval=2.0, maxval=5.0, seed=1), RefContext())
    assert out.min() >= 2.0 and out.max() < 5.0
    assert abs(out.mean() - 3.5) < 0.03
    assert abs(out.std() - 3 / math.sqrt(12)) < 0.02
    ints = draw(ops.RandomUniform.create(shape=[20000], minval=-3, maxval=4, dtype=DType.int32, seed=1), RefContext())
    assert sorted(set(ints.tolist())) == list(range(-3, 4))
    assert abs(ints.mean()) < 0.06


@pytest.mark.parametrize("dtype", FLOATS)
def test_uniform_stays_below_maxval(dtype):
    out = run_op(ops.RandomUniform.create(shape=[50000], dtype=dtype, seed=2), [], RefContext())[0]
    assert out.dtype == dtype.numpy
    assert (out >= 0).all() and (out < 1).all()


def test_normal_statistics():
    out = draw(ops.RandomNormal.create(shape=[200, 100], mean=1.0, stddev=2.0, seed=1), RefContext())
    assert abs(out.mean() - 1.0) < 0.04
    assert abs(out.std() - 2.0) < 0.03
    assert np.abs(out - 1.0).max() > 4.0  # the tails are not cut


@pytest.mark.parametrize("dtype", FLOATS)
def test_truncated_normal_statistics(dtype):
    out = draw(ops.TruncatedNormal.create(shape=[200, 100], mean=-1.0, stddev=0.5, dtype=dtype, seed=1), RefContext())
    assert np.abs(out + 1.0).max() <= 1.0 + 1e-2
    assert abs(out.mean() + 1.0) < 0.02
    assert abs(out.std() - 0.5 * TRUNCATED_STD) < 0.02


def test_errors():
    with pytest.raises(DTypeError, match="dtype is i1; expected one of"):
        ops.RandomNormal.create(shape=[2], dtype=DType.bool, name="n")
    with pytest.raises(DTypeError, match="expected one of"):
        ops.TruncatedNormal.create(shape=[2], dtype=DType.int32)
    with pytest.raises(OpAttributeError, match=r"integer uniform needs maxval > minval, got \[3.0, 3.0\)"):
        ops.RandomUniform.create(shape=[2], dtype=DType.int32, minval=3, maxval=3)
    with pytest.raises(OpAttributeError, match="maxval = 2.5 is not an integer that i64 holds"):
        ops.RandomUniform.create(shape=[2], dtype=DType.int64, maxval=2.5)
    with pytest.raises(OpAttributeError, match=r"shape must be non-negative, got \[-1\]"):
        ops.RandomUniform.create(shape=[-1])


def test_traits_and_defaults():
    for cls in RANDOM_OPS:
        assert Trait.RANDOM in cls.traits and Trait.PURE not in cls.traits
        assert cls.create(shape=[1]).result.type == TensorType(F32, (1,))
