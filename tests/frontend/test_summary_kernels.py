"""The summary ops' reference kernels: TF1's encodings of scalars, histograms, images, audio,
text and merged summaries, decoded with TensorBoard's own protos, Pillow and ``wave``."""

from __future__ import annotations

import bisect
import io
import sys
import wave

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

pytest.importorskip("tensorboard")
from PIL import Image  # noqa: E402
from tensorboard.compat.proto import summary_pb2  # noqa: E402

from flowir.ir import DType, FlowirError, ShapeError, TensorType, ops  # noqa: E402
from flowir.ir.reference import run_op  # noqa: E402
from flowir.ir.reference.summary import DEFAULT_BUCKET_LIMITS  # noqa: E402
from tests.ir.kernel_checks import inputs  # noqa: E402

DBL_MAX = sys.float_info.max


def make(cls, dtype: DType, shape, **attrs):
    (v,) = inputs(TensorType(dtype, shape))
    return cls.create(v, **attrs)


def run(op, *args) -> summary_pb2.Summary:
    (out,) = run_op(op, list(args))
    assert out.dtype == object and out.shape == ()
    return summary_pb2.Summary.FromString(out[()])


# --------------------------------------------------------------------------------------------
# Scalars


@pytest.mark.parametrize("dtype", [DType.float32, DType.float64, DType.int32, DType.int64, DType.float16, DType.uint8])
def test_scalar_is_a_simple_value(dtype):
    op = make(ops.Scalar, dtype, (), tag="train/loss")
    s = run(op, np.asarray(7, dtype=dtype.numpy))
    assert len(s.value) == 1
    assert s.value[0].tag == "train/loss" and s.value[0].WhichOneof("value") == "simple_value"
    assert s.value[0].simple_value == 7.0


def test_scalar_of_a_fed_value_of_the_wrong_rank_is_the_ops_shape_error():
    op = make(ops.Scalar, DType.float32, None, tag="loss")
    with pytest.raises(ShapeError, match=r"tensor must be a scalar, got shape \[2\]"):
        run_op(op, [np.float32([1, 2])])


# --------------------------------------------------------------------------------------------
# Histograms: against a line-by-line transcription of TF's histogram.cc


def tf_bucket_limits() -> list[float]:
    buckets, neg = [], []
    v = 1.0e-12
    while v < 1.0e20:
        buckets.append(v)
        neg.append(-v)
        v *= 1.1
    buckets.append(DBL_MAX)
    neg.append(-DBL_MAX)
    return list(reversed(neg)) + [0.0] + buckets


def tf_histogram(values) -> dict:
    limits = tf_bucket_limits()
    counts = [0.0] * len(limits)
    lo, hi, num, total, squares = limits[-1], -DBL_MAX, 0, 0.0, 0.0
    for value in values:
        b = bisect.bisect_right(limits, value)
        counts[b] += 1.0
        lo, hi = min(lo, value), max(hi, value)
        num += 1
        total += value
        squares += value * value
    out_limits, out_counts = [], []
    i = 0
    while i < len(counts):
        end, count = limits[i], counts[i]
        i += 1
        if count <= 0.0:
            while i < len(counts) and counts[i] <= 0.0:
                end, count = limits[i], counts[i]
                i += 1
        out_limits.append(end)
        out_counts.append(count)
    return dict(min=lo, max=hi, num=num, sum=total, sum_squares=squares, bucket_limit=out_limits, bucket=out_counts)


def test_default_buckets_are_tfs():
    assert DEFAULT_BUCKET_LIMITS.tolist() == tf_bucket_limits()
    assert len(DEFAULT_BUCKET_LIMITS) == 1551
    assert DEFAULT_BUCKET_LIMITS[775] == 0.0 and DEFAULT_BUCKET_LIMITS[776] == 1e-12
    assert DEFAULT_BUCKET_LIMITS[0] == -DBL_MAX and DEFAULT_BUCKET_LIMITS[-1] == DBL_MAX


def histo_fields(h) -> dict:
    return dict(
        min=h.min,
        max=h.max,
        num=h.num,
        sum=h.sum,
        sum_squares=h.sum_squares,
        bucket_limit=list(h.bucket_limit),
        bucket=list(h.bucket),
    )


@given(
    values=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=30),
        elements=st.one_of(
            st.floats(-1e6, 1e6, allow_subnormal=False),
            st.sampled_from([0.0, 1e-12, -1e-12, 1.0, 1e25, -1e25, 1e-300]),
        ),
    )
)
def test_histogram_matches_tfs_algorithm(values):
    op = make(ops.Histogram, DType.float64, None, tag="w")
    s = run(op, values)
    assert s.value[0].tag == "w"
    expected = tf_histogram(values.reshape(-1).tolist())
    # TF sums in order; so does the kernel: the fields are equal exactly.
    assert histo_fields(s.value[0].histo) == expected


def test_histogram_of_known_values():
    op = make(ops.Histogram, DType.int32, (None,), tag="h")
    h = run(op, np.int32([1, 1, 2, -3])).value[0].histo
    assert (h.min, h.max, h.num, h.sum, h.sum_squares) == (-3, 2, 4, 1, 15)
    assert sum(h.bucket) == 4 and h.bucket_limit[-1] == DBL_MAX and h.bucket[-1] == 0
    # 1 lies in [1.1**k * 1e-12 ...): the bucket whose limit is the first above 1.
    i = list(h.bucket).index(2.0)
    assert h.bucket_limit[i] > 1 and h.bucket_limit[i - 1] <= 1


def test_empty_histogram_is_one_empty_bucket():
    op = make(ops.Histogram, DType.float32, (None,), tag="h")
    h = run(op, np.float32([])).value[0].histo
    assert (h.min, h.max, h.num) == (DBL_MAX, -DBL_MAX, 0)
    assert list(h.bucket_limit) == [DBL_MAX] and list(h.bucket) == [0.0]


def test_signed_zero_counts_as_zero():
    op = make(ops.Histogram, DType.float32, (None,), tag="h")
    assert run(op, np.float32([-0.0, 1])).SerializeToString() == run(op, np.float32([0.0, 1])).SerializeToString()


@pytest.mark.parametrize("bad, word", [(np.nan, "NaN"), (np.inf, "Infinity"), (-np.inf, "Infinity")])
def test_histogram_of_non_finite_values_fails_as_tf1(bad, word):
    op = make(ops.Histogram, DType.float32, (None,), tag="layer1/weights")
    with pytest.raises(FlowirError, match=f"{word} in summary histogram for: layer1/weights"):
        run_op(op, [np.float32([1, bad])])


# --------------------------------------------------------------------------------------------
# Images


def decode_png(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(data)))


@pytest.mark.parametrize("channels, mode", [(1, "L"), (3, "RGB"), (4, "RGBA")])
def test_uint8_images_are_pngs_of_their_pixels(channels, mode):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 4, 6, channels), dtype=np.uint8)
    op = make(ops.Image, DType.uint8, (None, 4, 6, channels), tag="input", max_outputs=3)
    s = run(op, images)
    assert [v.tag for v in s.value] == ["input/image/0", "input/image/1", "input/image/2"]
    for i, v in enumerate(s.value):
        im = v.image
        assert (im.height, im.width, im.colorspace) == (4, 6, channels)
        assert Image.open(io.BytesIO(im.encoded_image_string)).mode == mode
        pixels = decode_png(im.encoded_image_string)
        np.testing.assert_array_equal(pixels.reshape(4, 6, channels), images[i])


def test_one_output_is_tagged_without_an_index_and_fewer_images_than_requested():
    op = make(ops.Image, DType.uint8, (None, 2, 2, 1), tag="x", max_outputs=1)
    assert [v.tag for v in run(op, np.zeros((3, 2, 2, 1), np.uint8)).value] == ["x/image"]
    op = make(ops.Image, DType.uint8, (None, 2, 2, 1), tag="x", max_outputs=4)
    assert [v.tag for v in run(op, np.zeros((2, 2, 2, 1), np.uint8)).value] == ["x/image/0", "x/image/1"]
    assert list(run(op, np.zeros((0, 2, 2, 1), np.uint8)).value) == []


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_non_negative_float_images_scale_by_255_over_max(dtype):
    image = np.array([[[0.0], [0.5]], [[1.0], [2.0]]], dtype=dtype)[None]
    op = make(ops.Image, DType.parse(np.dtype(dtype).name), (1, 2, 2, 1), tag="f")
    pixels = decode_png(run(op, image).value[0].image.encoded_image_string)
    # 255 / 2 = 127.5: 0.5 -> 63.75 -> 63, 1 -> 127, 2 -> 255 (truncated as TF's cast).
    np.testing.assert_array_equal(pixels, [[0, 63], [127, 255]])


def test_signed_float_images_scale_around_128():
    image = np.float32([[[-2.0], [-1.0]], [[0.0], [2.0]]])[None]
    op = make(ops.Image, DType.float32, (1, 2, 2, 1), tag="f")
    pixels = decode_png(run(op, image).value[0].image.encoded_image_string)
    # 127 / 2 = 63.5: -2 -> 1, -1 -> 64.5 -> 64, 0 -> 128, 2 -> 255.
    np.testing.assert_array_equal(pixels, [[1, 64], [128, 255]])


def test_non_finite_pixels_are_red_and_ignored_for_the_range():
    image = np.float32([[[1.0, 1.0, 1.0], [np.nan, 0.0, 0.0]], [[0.5, 0.0, 0.25], [np.inf, 1.0, 1.0]]])[None]
    op = make(ops.Image, DType.float32, (1, 2, 2, 3), tag="f")
    pixels = decode_png(run(op, image).value[0].image.encoded_image_string)
    np.testing.assert_array_equal(pixels, [[[255, 255, 255], [255, 0, 0]], [[127, 0, 63], [255, 0, 0]]])


def test_an_all_zero_float_image_is_black():
    op = make(ops.Image, DType.float32, (1, 2, 2, 1), tag="f")
    pixels = decode_png(run(op, np.zeros((1, 2, 2, 1), np.float32)).value[0].image.encoded_image_string)
    np.testing.assert_array_equal(pixels, np.zeros((2, 2)))


def test_images_without_pixels_fail():
    op = make(ops.Image, DType.uint8, (None, None, None, 1), tag="f")
    with pytest.raises(FlowirError, match=r"image summary 'f': images must have non-zero dims, got shape \[1, 0, 2, 1\]"):
        run_op(op, [np.zeros((1, 0, 2, 1), np.uint8)])


# --------------------------------------------------------------------------------------------
# Audio


def decode_wav(data: bytes) -> tuple[wave._wave_params, np.ndarray]:
    with wave.open(io.BytesIO(data), "rb") as f:
        params = f.getparams()
        frames = np.frombuffer(f.readframes(params.nframes), dtype="<i2")
    return params, frames.reshape(params.nframes, params.nchannels)


def test_audio_is_16_bit_pcm_wav():
    clip = np.float32([[0.0, 0.5, -0.5], [1.0, -1.0, 2.0], [0.25, np.nan, -0.00001]])
    op = make(ops.Audio, DType.float32, (None, 3), tag="voice", sample_rate=16000.0, max_outputs=2)
    s = run(op, clip)
    assert [v.tag for v in s.value] == ["voice/audio/0", "voice/audio/1"]
    a = s.value[1].audio
    assert (a.sample_rate, a.num_channels, a.length_frames, a.content_type) == (16000.0, 1, 3, "audio/wav")
    params, frames = decode_wav(a.encoded_audio_string)
    assert (params.nchannels, params.sampwidth, params.framerate, params.nframes) == (1, 2, 16000, 3)
    # round(x * 32768) half away from zero, clamped to int16.
    np.testing.assert_array_equal(frames[:, 0], [32767, -32768, 32767])
    np.testing.assert_array_equal(decode_wav(s.value[0].audio.encoded_audio_string)[1][:, 0], [0, 16384, -16384])


def test_stereo_audio_and_one_output():
    clip = np.float32([[[0.5, -0.5], [0.25, 0.0]]])
    op = make(ops.Audio, DType.float64, (1, 2, 2), tag="st", sample_rate=44100.4, max_outputs=1)
    s = run(op, clip.astype(np.float64))
    assert [v.tag for v in s.value] == ["st/audio"]
    params, frames = decode_wav(s.value[0].audio.encoded_audio_string)
    assert (params.nchannels, params.framerate) == (2, 44100)
    np.testing.assert_array_equal(frames, [[16384, -16384], [8192, 0]])


# --------------------------------------------------------------------------------------------
# Text and merge


def test_text_is_a_string_tensor_under_the_text_plugin():
    op = make(ops.Text, DType.string, (2, 2), tag="notes")
    s = run(op, np.array([[b"a", b"**b**"], ["\u00e9", b""]], dtype=object))
    v = s.value[0]
    assert v.tag == "notes" and v.metadata.plugin_data.plugin_name == "text"
    assert v.tensor.dtype == 7 and [d.size for d in v.tensor.tensor_shape.dim] == [2, 2]
    assert list(v.tensor.string_val) == [b"a", b"**b**", "\u00e9".encode(), b""]


def summary_value(tag: str, x: float) -> np.ndarray:
    out = np.empty((), dtype=object)
    out[()] = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=x)]).SerializeToString()
    return out


def test_merge_concatenates_values_in_order():
    a, b, c = inputs(*[TensorType(DType.string, ())] * 3)
    op = ops.Merge.create([a, b, c])
    s = run(op, summary_value("x", 1), summary_value("y", 2), np.array(b"", dtype=object))
    assert [(v.tag, v.simple_value) for v in s.value] == [("x", 1.0), ("y", 2.0)]


def test_merge_rejects_duplicate_tags_and_non_summaries():
    a, b = inputs(*[TensorType(DType.string, ())] * 2)
    op = ops.Merge.create([a, b], name="merged")
    with pytest.raises(FlowirError, match="duplicate tag 'x' found in summary inputs"):
        run_op(op, [summary_value("x", 1), summary_value("x", 2)])
    with pytest.raises(FlowirError, match=r"inputs\[1\] is not a serialized Summary"):
        run_op(op, [summary_value("x", 1), np.array(b"\xff\xff\xff", dtype=object)])
