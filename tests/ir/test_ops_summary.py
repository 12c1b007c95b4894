"""Summary ops: type rules and verification."""

from __future__ import annotations

import numpy as np
import pytest

from flowir.ir import DType, DTypeError, OpAttributeError, ShapeError, TensorType, Trait, ops
from flowir.ir.reference import IMPL_RULES, UNSUPPORTED, run_op
from tests.ir.kernel_checks import inputs

F32, U8, STR = DType.float32, DType.uint8, DType.string
SUMMARY = TensorType(STR, ())
SUMMARY_OPS = [ops.Scalar, ops.Histogram, ops.Image, ops.Audio, ops.Text, ops.Merge]


def t(dtype: DType, shape):
    return inputs(TensorType(dtype, shape))[0]


@pytest.mark.parametrize(
    "cls, operand, attrs",
    [
        (ops.Scalar, t(F32, ()), {}),
        (ops.Scalar, t(DType.int64, None), {}),
        (ops.Histogram, t(F32, (None, 3)), {}),
        (ops.Image, t(U8, (None, 28, 28, 1)), {"max_outputs": 5}),
        (ops.Image, t(F32, (2, 8, 8, None)), {}),
        (ops.Image, t(DType.float16, None), {}),
        (ops.Audio, t(F32, (None, 100)), {"sample_rate": 16000.0}),
        (ops.Audio, t(F32, (1, 100, 2)), {"sample_rate": 8000}),
        (ops.Text, t(STR, (3,)), {}),
    ],
)
def test_types(cls, operand, attrs):
    op = cls.create(operand, tag="t", **attrs)
    assert op.result.type == SUMMARY
    assert op.tag == "t"


def test_merge():
    a, b = inputs(SUMMARY, TensorType(STR, None))
    assert ops.Merge.create([a, b]).result.type == SUMMARY
    with pytest.raises(ShapeError, match="needs at least one input"):
        ops.Merge.create([])
    (v,) = inputs(TensorType(STR, (2,)))
    with pytest.raises(ShapeError, match=r"inputs\[1\] must be a scalar string, got shape \[2\]"):
        ops.Merge.create([a, v])
    (f,) = inputs(TensorType(F32, ()))
    with pytest.raises(DTypeError, match=r"inputs\[0\] has dtype f32"):
        ops.Merge.create([f])


@pytest.mark.parametrize(
    "cls, operand, attrs, error, message",
    [
        (ops.Scalar, t(F32, (2,)), {}, ShapeError, r"tensor must be a scalar, got shape \[2\]"),
        (ops.Scalar, t(DType.bool, ()), {}, DTypeError, "tensor has dtype i1"),
        (ops.Histogram, t(STR, (2,)), {}, DTypeError, "values has dtype string"),
        (
            ops.Image,
            t(F32, (2, 8, 8)),
            {},
            ShapeError,
            r"tensor must have rank 4 \[batch, height, width, channels\], got \[2, 8, 8\]",
        ),
        (ops.Image, t(F32, (2, 8, 8, 2)), {}, ShapeError, "images must have 1, 3 or 4 channels, got 2"),
        (ops.Image, t(DType.int32, (2, 8, 8, 3)), {}, DTypeError, "tensor has dtype i32"),
        (ops.Image, t(U8, (2, 8, 8, 3)), {"max_outputs": 0}, OpAttributeError, "max_outputs must be >= 1"),
        (ops.Audio, t(F32, (2,)), {"sample_rate": 1.0}, ShapeError, "tensor must have rank 2 or 3"),
        (ops.Audio, t(F32, (2, 5)), {"sample_rate": 0.0}, OpAttributeError, "sample_rate must be positive"),
        (ops.Audio, t(DType.int16, (2, 5)), {"sample_rate": 1.0}, DTypeError, "tensor has dtype i16"),
        (ops.Text, t(F32, (2,)), {}, DTypeError, "tensor has dtype f32; expected one of string"),
    ],
)
def test_errors(cls, operand, attrs, error, message):
    with pytest.raises(error, match=message) as e:
        cls.create(operand, tag="loss", name="summary", **attrs)
    assert str(e.value).startswith(f"{cls.name} 'summary': ")


def test_tag_is_required():
    with pytest.raises(OpAttributeError, match="missing required attribute 'tag'"):
        ops.Scalar.create(t(F32, ()))
    with pytest.raises(OpAttributeError, match="missing required attribute 'sample_rate'"):
        ops.Audio.create(t(F32, (1, 2)), tag="a")


VALID = {
    ops.Scalar: lambda: ops.Scalar.create(t(F32, ()), tag="s"),
    ops.Histogram: lambda: ops.Histogram.create(t(F32, (3,)), tag="h"),
    ops.Image: lambda: ops.Image.create(t(U8, (1, 2, 2, 3)), tag="i"),
    ops.Audio: lambda: ops.Audio.create(t(F32, (1, 8)), tag="a", sample_rate=8000.0),
    ops.Text: lambda: ops.Text.create(t(STR, ()), tag="x"),
    ops.Merge: lambda: ops.Merge.create([t(STR, ())]),
}


@pytest.mark.parametrize("cls", SUMMARY_OPS)
def test_kernels_yield_one_serialized_summary(cls):
    """Kernels exist (their encodings are checked in tests/frontend/test_summary_kernels.py)."""
    assert cls not in UNSUPPORTED and cls in IMPL_RULES
    assert Trait.PURE not in cls.traits and Trait.STATEFUL not in cls.traits
    op = VALID[cls]()
    assert op.result.type == SUMMARY
    args = [EXAMPLE_ARGS[cls]()]
    if cls is ops.Merge:
        args = [run_op(VALID[ops.Scalar](), [np.float32(2.0)])[0]]
    (out,) = run_op(op, args)
    assert out.dtype == object and out.shape == () and isinstance(out[()], bytes) and out[()]


EXAMPLE_ARGS = {
    ops.Scalar: lambda: np.float32(1.5),
    ops.Histogram: lambda: np.float32([1, 2, 3]),
    ops.Image: lambda: np.zeros((1, 2, 2, 3), np.uint8),
    ops.Audio: lambda: np.zeros((1, 8), np.float32),
    ops.Text: lambda: np.array(b"hello", dtype=object),
    ops.Merge: lambda: None,
}
