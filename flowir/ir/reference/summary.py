"""Reference kernels: summary ops, each yielding one serialized TensorBoard ``Summary``.

The encodings are TF1's (``tensorflow/core/kernels/summary_*_op.cc``): a scalar is a
``simple_value``; a histogram a ``HistogramProto`` over TF's default exponential buckets
(``histogram.cc``); images are PNG-encoded, float images rescaled to uint8 as TF1 does, tagged
``tag/image`` (``max_outputs == 1``) or ``tag/image/i``; audio clips are 16-bit PCM WAV,
tagged ``tag/audio[/i]``; text is a string tensor under the ``text`` plugin; ``merge``
concatenates its inputs' values, rejecting an input that is no ``Summary`` and a tag seen twice.

Two deliberate differences: ``-0.0`` counts as ``0.0`` in scalars and histograms (a summary
does not depend on the sign of a zero, so passes that rewrite ``x + 0`` to ``x`` keep it
byte-identical), and a NaN audio sample encodes as silence (TF's conversion is undefined).

The protobuf messages come from ``tensorboardX`` and PNG encoding from Pillow, both imported
on first use so that ``flowir.ir`` stays importable with numpy alone.
"""

from __future__ import annotations

import functools
import io
import sys
import wave
from typing import Any

import numpy as np

from flowir.ir.dtypes import dtype_of
from flowir.ir.errors import FlowirError
from flowir.ir.ops import summary as ops
from flowir.ir.reference._registry import impl_rule
from flowir.ir.types import TensorType

__all__ = ["DEFAULT_BUCKET_LIMITS", "summary_pb2", "histogram_proto"]

#: ``TensorProto.dtype`` of a string tensor (``DT_STRING``).
_DT_STRING = 7
#: The color of a non-finite pixel of a float image (TF's ``bad_color`` default), per channel.
_BAD_COLOR = np.array([255, 0, 0, 255], dtype=np.uint8)
#: Below this a float image's range counts as zero (TF's ``kZeroThreshold``).
_ZERO_THRESHOLD = np.float32(1e-6)
_DBL_MAX = sys.float_info.max


@functools.cache
def summary_pb2() -> Any:
    """The protobuf module holding ``Summary`` (tensorboardX's copy of TensorBoard's protos)."""
    try:
        from tensorboardX.proto import summary_pb2 as pb2
    except ImportError as e:  # pragma: no cover - tensorboardX is a dependency of flowir
        raise FlowirError(f"summaries need the tensorboardX package ({e}); pip install tensorboardX") from e
    return pb2


def _default_bucket_limits() -> np.ndarray:
    """TF's default histogram bucket limits: ``±1e-12 * 1.1**k`` below ``1e20``, ``±DBL_MAX``
    and ``0``, ascending (``InitDefaultBucketsInner`` in ``histogram.cc``)."""
    positive = []
    v = 1.0e-12
    while v < 1.0e20:
        positive.append(v)
        v *= 1.1  # the same repeated product as TF, so the limits are bit-identical
    positive.append(_DBL_MAX)
    return np.array([-x for x in reversed(positive)] + [0.0] + positive, dtype=np.float64)


#: TF's default histogram bucket limits (1551 of them; bucket ``i`` holds values in
#: ``[limit[i-1], limit[i])``).
DEFAULT_BUCKET_LIMITS = _default_bucket_limits()


def _serialized(summary: Any) -> tuple[np.ndarray]:
    out = np.empty((), dtype=object)
    out[()] = summary.SerializeToString()
    return (out,)


def _recheck(op: Any, *operands: Any) -> None:
    """Apply ``op``'s type rule to the concrete operands (a tuple per variadic operand): a
    fed value of the wrong rank raises the op's own ``ShapeError``."""
    op.infer_type(
        *(
            tuple(TensorType(dtype_of(a), a.shape) for a in x) if isinstance(x, tuple) else TensorType(dtype_of(x), x.shape)
            for x in operands
        )
    )


def _as_bytes(x: Any) -> bytes:
    return x.encode("utf-8") if isinstance(x, str) else bytes(x)


# --------------------------------------------------------------------------------------------
# Scalars and histograms


@impl_rule(ops.Scalar)
def _scalar(op: ops.Scalar, x: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, x)
    pb2 = summary_pb2()
    value = float(np.asarray(x, dtype=np.float64)) + 0.0  # -0.0 becomes 0.0
    return _serialized(pb2.Summary(value=[pb2.Summary.Value(tag=op.tag, simple_value=value)]))


def histogram_proto(values: np.ndarray) -> Any:
    """The ``HistogramProto`` of the finite real ``values`` (any shape) as TF's
    ``Histogram::EncodeToProto`` writes it: runs of empty buckets collapse into their last one."""
    pb2 = summary_pb2()
    v = np.asarray(values, dtype=np.float64).reshape(-1) + 0.0  # -0.0 becomes 0.0
    limits = DEFAULT_BUCKET_LIMITS
    counts = np.bincount(
        np.minimum(np.searchsorted(limits, v, side="right"), len(limits) - 1), minlength=len(limits)
    ).astype(np.float64)
    # Emit a bucket where a non-empty one is, and where an empty run ends before a non-empty
    # bucket or at the end: that last empty limit stands for the run (TF's encoding).
    nonzero = counts > 0
    keep = nonzero.copy()
    keep[:-1] |= ~nonzero[:-1] & nonzero[1:]
    keep[-1] = True
    # TF sums in order, so cumulative sums (sequential in numpy) reproduce its rounding.
    total = float(np.cumsum(v)[-1]) if v.size else 0.0
    squares = float(np.cumsum(v * v)[-1]) if v.size else 0.0
    return pb2.HistogramProto(
        min=float(v.min()) if v.size else _DBL_MAX,
        max=float(v.max()) if v.size else -_DBL_MAX,
        num=float(v.size),
        sum=total,
        sum_squares=squares,
        bucket_limit=limits[keep].tolist(),
        bucket=counts[keep].tolist(),
    )


@impl_rule(ops.Histogram)
def _histogram(op: ops.Histogram, values: np.ndarray) -> tuple[np.ndarray]:
    wide = np.asarray(values, dtype=np.float64)
    if not np.isfinite(wide).all():
        what = "NaN" if np.isnan(wide).any() else "Infinity"
        raise FlowirError(f"{what} in summary histogram for: {op.tag}")
    pb2 = summary_pb2()
    return _serialized(pb2.Summary(value=[pb2.Summary.Value(tag=op.tag, histo=histogram_proto(wide))]))


# --------------------------------------------------------------------------------------------
# Images and audio


def _media_tag(tag: str, kind: str, max_outputs: int, i: int) -> str:
    # The tag depends on the number requested, not the number produced (as TF).
    return f"{tag}/{kind}/{i}" if max_outputs > 1 else f"{tag}/{kind}"


def _float_image_to_uint8(image: np.ndarray) -> np.ndarray:
    """A float ``[H, W, C]`` image as uint8, by TF1's ``NormalizeFloatImage``: positive
    images scaled by ``255 / max``, signed ones by ``127 / max|x|`` around 128, computed in the
    image's own float type; pixels with a non-finite channel are ``bad_color`` (red)."""
    depth = image.shape[-1]
    finite = np.isfinite(image).all(axis=-1)
    good = image[finite].astype(np.float32)
    lo = good.min() if good.size else np.float32(np.inf)
    hi = good.max() if good.size else np.float32(-np.inf)
    t = image.dtype.type
    if lo < 0:
        max_val = max(abs(lo), abs(hi))
        scale = t(0.0 if max_val < _ZERO_THRESHOLD else np.float32(127.0) / max_val)
        offset = t(128.0)
    else:
        scale = t(0.0 if hi < _ZERO_THRESHOLD else np.float32(255.0) / hi)
        offset = t(0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = image * scale + offset
    # A C++ float -> uint8 cast truncates toward zero.
    out = np.clip(np.trunc(np.where(np.isfinite(scaled), scaled, 0)), 0, 255).astype(np.uint8)
    out[~finite] = _BAD_COLOR[:depth]
    return out


def _png(image: np.ndarray) -> bytes:
    """``image`` (uint8 ``[H, W, C]``, C in 1, 3, 4) as PNG bytes (gray, RGB or RGBA)."""
    from PIL import Image

    pixels = np.ascontiguousarray(image[:, :, 0] if image.shape[2] == 1 else image)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@impl_rule(ops.Image)
def _image(op: ops.Image, tensor: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, tensor)
    pb2 = summary_pb2()
    batch, h, w, depth = tensor.shape
    if h * w == 0 or depth == 0:
        raise FlowirError(f"image summary {op.tag!r}: images must have non-zero dims, got shape {list(tensor.shape)}")
    values = []
    for i in range(min(op.max_outputs, batch)):
        image = tensor[i]
        if image.dtype != np.uint8:
            image = _float_image_to_uint8(image)
        encoded = pb2.Summary.Image(height=h, width=w, colorspace=depth, encoded_image_string=_png(image))
        values.append(pb2.Summary.Value(tag=_media_tag(op.tag, "image", op.max_outputs, i), image=encoded))
    return _serialized(pb2.Summary(value=values))


def _wav(clip: np.ndarray, sample_rate: int) -> bytes:
    """A float ``[frames, channels]`` clip as 16-bit little-endian PCM WAV, samples
    ``round(x * 32768)`` (half away from zero) clamped to int16 as TF's ``wav_io.cc``."""
    scaled = clip.astype(np.float32).astype(np.float64) * 32768.0
    rounded = np.copysign(np.floor(np.abs(scaled) + 0.5), scaled)
    samples = np.clip(np.nan_to_num(rounded, nan=0.0), -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as f:
        f.setnchannels(clip.shape[1])
        f.setsampwidth(2)
        f.setframerate(sample_rate)
        f.writeframes(samples.tobytes())
    return buffer.getvalue()


@impl_rule(ops.Audio)
def _audio(op: ops.Audio, tensor: np.ndarray) -> tuple[np.ndarray]:
    _recheck(op, tensor)
    pb2 = summary_pb2()
    clips = tensor if tensor.ndim == 3 else tensor[:, :, None]
    batch, frames, channels = clips.shape
    if channels == 0:
        raise FlowirError(f"audio summary {op.tag!r}: clips must have at least one channel, got shape {list(tensor.shape)}")
    rate = np.float32(op.sample_rate)
    # TF passes the rate rounded to an integer (lrintf: half to even), at least 1, to the WAV header.
    wav_rate = max(int(np.rint(rate)), 1)
    values = []
    for i in range(min(op.max_outputs, batch)):
        audio = pb2.Summary.Audio(
            sample_rate=float(rate),
            num_channels=channels,
            length_frames=frames,
            encoded_audio_string=_wav(clips[i], wav_rate),
            content_type="audio/wav",
        )
        values.append(pb2.Summary.Value(tag=_media_tag(op.tag, "audio", op.max_outputs, i), audio=audio))
    return _serialized(pb2.Summary(value=values))


# --------------------------------------------------------------------------------------------
# Text and merging


@functools.cache
def _text_metadata() -> Any:
    pb2 = summary_pb2()
    return pb2.SummaryMetadata(plugin_data=pb2.SummaryMetadata.PluginData(plugin_name="text"))


@impl_rule(ops.Text)
def _text(op: ops.Text, tensor: np.ndarray) -> tuple[np.ndarray]:
    from tensorboardX.proto import tensor_pb2, tensor_shape_pb2

    pb2 = summary_pb2()
    proto = tensor_pb2.TensorProto(
        dtype=_DT_STRING,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in tensor.shape]
        ),
        string_val=[_as_bytes(s) for s in tensor.reshape(-1).tolist()],
    )
    return _serialized(pb2.Summary(value=[pb2.Summary.Value(tag=op.tag, metadata=_text_metadata(), tensor=proto)]))


@impl_rule(ops.Merge)
def _merge(op: ops.Merge, *inputs: np.ndarray) -> tuple[np.ndarray]:
    from google.protobuf.message import DecodeError

    _recheck(op, inputs)
    pb2 = summary_pb2()

    seen: set[str] = set()
    parts = []
    for i, x in enumerate(inputs):
        data = _as_bytes(np.asarray(x, dtype=object)[()])
        parsed = pb2.Summary()
        try:
            parsed.ParseFromString(data)
        except DecodeError:
            raise FlowirError(f"inputs[{i}] is not a serialized Summary (could not parse it)") from None
        for value in parsed.value:
            # Values without a tag (TF's tensor summaries may have none) never clash.
            if value.tag and value.tag in seen:
                raise FlowirError(f"duplicate tag {value.tag!r} found in summary inputs")
            seen.add(value.tag)
        # A serialized Summary is its values' records back to back: concatenating inputs is
        # merging them, byte for byte what re-serializing the merged message gives.
        parts.append(data)
    out = np.empty((), dtype=object)
    out[()] = b"".join(parts)
    return (out,)

