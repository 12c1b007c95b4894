"""``tf.summary`` and ``FileWriter``: what flowir writes, read back by TensorBoard's own
``EventAccumulator``."""

from __future__ import annotations

import glob
import io
import os
import threading
import wave

import numpy as np
import pytest

pytest.importorskip("tensorboard")
from PIL import Image  # noqa: E402
from tensorboard.backend.event_processing import event_accumulator as ea  # noqa: E402
from tensorboard.backend.event_processing import event_file_loader  # noqa: E402
from tensorboard.compat.proto import event_pb2, summary_pb2  # noqa: E402

import flowir as tf  # noqa: E402
from flowir.ir import FlowirError, ShapeError  # noqa: E402

BACKENDS = ["numpy", pytest.param("jax", marks=pytest.mark.filterwarnings("ignore::DeprecationWarning"))]


def accumulate(logdir: str) -> ea.EventAccumulator:
    acc = ea.EventAccumulator(
        logdir,
        size_guidance={ea.SCALARS: 0, ea.HISTOGRAMS: 0, ea.IMAGES: 0, ea.AUDIO: 0, ea.TENSORS: 0, ea.GRAPH: 1},
    )
    acc.Reload()
    return acc


def events(path: str) -> list:
    """The events of one file as written (TensorBoard's raw record reader, no data migration)."""
    return [event_pb2.Event.FromString(r) for r in event_file_loader.RawEventFileLoader(path).Load()]


@pytest.fixture
def graph():
    g = tf.Graph()
    with g.as_default():
        yield g


# --------------------------------------------------------------------------------------------
# Ops, tags and collections


def test_tags_follow_name_scopes_and_are_unique(graph):
    x = tf.constant(1.0)
    with tf.name_scope("train"):
        a = tf.summary.scalar("loss", x)
        b = tf.summary.scalar("loss", x)
    c = tf.summary.scalar("acc", x, family="eval")
    d = tf.summary.scalar("bad name!", x)
    assert [t.op.get_attr("tag") for t in (a, b, c, d)] == ["train/loss", "train/loss_1", "eval/eval/acc", "bad_name_"]
    assert [t.op.name for t in (a, b, c, d)] == ["train/loss", "train/loss_1", "eval/acc", "bad_name_"]
    assert a.dtype == tf.string and a.shape.as_list() == []
    assert a.op.type == "summary.scalar"


def test_collections_and_merge_all(graph):
    x = tf.constant([1.0, 2.0])
    s = tf.summary.scalar("s", x[0])
    h = tf.summary.histogram("h", x)
    mine = tf.summary.scalar("mine", x[1], collections=["custom"])
    nowhere = tf.summary.scalar("nowhere", x[1], collections=[])
    assert tf.get_collection(tf.GraphKeys.SUMMARIES) == [s, h]
    assert tf.get_collection("custom") == [mine]
    assert nowhere not in tf.get_collection(tf.GraphKeys.SUMMARIES)
    merged = tf.summary.merge_all()
    assert merged.op.type == "summary.merge" and merged.op.name == "Merge/MergeSummary"
    assert [t.name for t in merged.op.inputs] == [s.name, h.name]
    assert tf.summary.merge_all("empty") is None
    assert tf.summary.merge_all(scope="h").op.inputs == [h]
    with tf.Session(backend="numpy") as sess:
        out = sess.run(merged)
    assert isinstance(out, bytes)
    parsed = summary_pb2.Summary.FromString(out)
    assert [v.tag for v in parsed.value] == ["s", "h"]
    assert parsed.value[0].simple_value == 1.0 and parsed.value[1].histo.num == 2


def test_build_time_errors_name_the_summary(graph):
    with pytest.raises(ShapeError, match="summary.scalar 'loss'.*tensor must be a scalar, got shape \\[2\\]"):
        tf.summary.scalar("loss", tf.constant([1.0, 2.0]))
    with pytest.raises(ShapeError, match="images must have 1, 3 or 4 channels, got 2"):
        tf.summary.image("img", tf.zeros([1, 4, 4, 2]))
    with pytest.raises(TypeError, match="sample_rate must be a Python number"):
        tf.summary.audio("a", tf.zeros([1, 4]), tf.constant(8000.0))


def test_histogram_of_nan_fails_at_run_time_like_tf1(graph):
    h = tf.summary.histogram("layer1/weights", tf.constant([1.0, float("nan")]))
    with tf.Session(backend="numpy") as sess, pytest.raises(FlowirError, match="NaN in summary histogram for: layer1/weights"):
        sess.run(h)


# --------------------------------------------------------------------------------------------
# Writing and reading back


def test_every_kind_reads_back_exactly(graph, tmp_path):
    rng = np.random.default_rng(1)
    values = rng.normal(size=(50,)).astype(np.float32)
    pixels = rng.integers(0, 256, size=(2, 3, 5, 3), dtype=np.uint8)
    clip = np.float32([[0.0, 0.5, -0.5, 1.0]])
    with tf.name_scope("model"):
        tf.summary.scalar("loss", tf.constant(0.25))
        tf.summary.histogram("weights", tf.constant(values))
        tf.summary.image("input", tf.constant(pixels), max_outputs=2)
        tf.summary.audio("voice", tf.constant(clip), sample_rate=8000, max_outputs=1)
        tf.summary.text("notes", tf.constant(["hello", "**world**"]))
    merged = tf.summary.merge_all()
    with tf.Session(backend="numpy") as sess, tf.summary.FileWriter(str(tmp_path)) as writer:
        for step in (3, 7):
            writer.add_summary(sess.run(merged), global_step=step)
    acc = accumulate(str(tmp_path))
    tags = acc.Tags()
    assert tags["scalars"] == ["model/loss"]
    assert tags["histograms"] == ["model/weights"]
    assert tags["images"] == ["model/input/image/0", "model/input/image/1"]
    assert tags["audio"] == ["model/voice/audio"]
    assert tags["tensors"] == ["model/notes"]
    assert [(e.step, e.value) for e in acc.Scalars("model/loss")] == [(3, 0.25), (7, 0.25)]
    h = acc.Histograms("model/weights")[-1].histogram_value
    assert (h.num, h.min, h.max) == (50, float(values.min()), float(values.max()))
    assert h.sum == pytest.approx(float(values.astype(np.float64).sum()), rel=1e-12)
    assert sum(h.bucket) == 50
    for i in range(2):
        im = acc.Images(f"model/input/image/{i}")[-1]
        assert (im.width, im.height) == (5, 3)
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(im.encoded_image_string))), pixels[i])
    au = acc.Audio("model/voice/audio")[-1]
    assert (au.sample_rate, au.length_frames, au.content_type) == (8000, 4, "audio/wav")
    with wave.open(io.BytesIO(au.encoded_audio_string)) as f:
        assert np.frombuffer(f.readframes(4), "<i2").tolist() == [0, 16384, -16384, 32767]
    text = acc.Tensors("model/notes")[-1].tensor_proto
    assert list(text.string_val) == [b"hello", b"**world**"]
    assert acc.SummaryMetadata("model/notes").plugin_data.plugin_name == "text"


def test_event_file_layout(tmp_path):
    with tf.summary.FileWriter(str(tmp_path), filename_suffix=".v1") as writer:
        writer.add_summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="x", simple_value=1.0)]), 5)
        path = writer.event_file
    assert writer.get_logdir() == str(tmp_path)
    name = os.path.basename(path)
    prefix, stamp, host_and_suffix = name[: len("events.out.tfevents.")], name[20:30], name[31:]
    assert prefix == "events.out.tfevents." and stamp.isdigit() and host_and_suffix.endswith(".v1")
    first, second = events(path)
    assert first.file_version == "brain.Event:2" and first.wall_time > 0
    assert second.step == 5 and second.summary.value[0].simple_value == 1.0
    # A second writer in the same second gets its own file.
    with tf.summary.FileWriter(str(tmp_path), filename_suffix=".v1") as other:
        assert other.event_file != path


def test_plugin_metadata_is_written_once_per_tag(graph, tmp_path):
    t = tf.summary.text("notes", tf.constant("x"))
    with tf.Session(backend="numpy") as sess, tf.summary.FileWriter(str(tmp_path)) as writer:
        for step in range(3):
            writer.add_summary(sess.run(t), step)
        path = writer.event_file
    values = [e.summary.value[0] for e in events(path)[1:]]
    assert [v.HasField("metadata") for v in values] == [True, False, False]


def test_tutorial_1000_increasing_points(tmp_path, backend):
    """The tutorial: c = Variable(a*b), 1000 updates adding random_uniform([], 0, 100), a
    scalar summary of c written each step."""
    g = tf.Graph()
    with g.as_default():
        a = tf.constant(3.0, name="a")
        b = tf.constant(4.0, name="b")
        c = tf.Variable(a * b, name="c")
        update = tf.assign(c, c + tf.random_uniform([], 0, 100))
        summary = tf.summary.scalar("c_value", c)
        with tf.Session(backend=backend) as sess, tf.summary.FileWriter(str(tmp_path), sess.graph) as writer:
            sess.run(tf.global_variables_initializer())
            for step in range(1000):
                sess.run(update)
                writer.add_summary(sess.run(summary), step)
    acc = accumulate(str(tmp_path))
    points = acc.Scalars("c_value")
    assert [p.step for p in points] == list(range(1000))
    values = np.array([p.value for p in points])
    assert values[0] > 12 and (np.diff(values) > 0).all()
    # Uniform draws in [0, 100): about 50 per step.
    assert 40 * 999 < values[-1] - values[0] < 60 * 999


@pytest.fixture(params=BACKENDS)
def backend(request):
    if request.param == "jax":
        pytest.importorskip("jax")
    return request.param


# --------------------------------------------------------------------------------------------
# Graphs


def test_graph_keeps_scopes_types_inputs_and_devices(tmp_path):
    g = tf.Graph()
    with g.as_default():
        with tf.name_scope("model"):
            x = tf.placeholder(tf.float32, [None, 784], name="x")
            with tf.name_scope("layer1"):
                w = tf.Variable(tf.zeros([784, 10]), name="weights")
                with tf.device("/cpu:0"):
                    y = tf.matmul(x, w)
                with tf.control_dependencies([y]):
                    z = tf.identity(y, name="after")
    with tf.summary.FileWriter(str(tmp_path), graph=g):
        pass
    nodes = {n.name: n for n in accumulate(str(tmp_path)).Graph().node}
    ops = {op.name: op for op in g.get_operations()}
    assert set(nodes) == set(ops)
    assert {"model/x", "model/layer1/weights", "model/layer1/MatMul", "model/layer1/after"} <= set(nodes)
    for name, op in ops.items():
        assert nodes[name].op == op.type
    matmul = nodes["model/layer1/MatMul"]
    assert list(matmul.input) == ["model/x", "model/layer1/weights/read"]
    assert matmul.device == "/device:CPU:0"
    shape = matmul.attr["_output_shapes"].list.shape[0]
    assert [d.size for d in shape.dim] == [-1, 10]
    assert matmul.attr["dtype"].type == 1  # DT_FLOAT
    # A control dependency on an op that is already a data input is dropped (as TF).
    assert list(nodes["model/layer1/after"].input) == ["model/layer1/MatMul"]
    assert z.op.name == "model/layer1/after"
    variable = nodes["model/layer1/weights"]
    assert [d.size for d in variable.attr["_output_shapes"].list.shape[0].dim] == [784, 10]


def test_control_inputs_are_caret_names(tmp_path):
    g = tf.Graph()
    with g.as_default():
        a = tf.constant(1.0, name="a")
        b = tf.constant(2.0, name="b")
        with tf.control_dependencies([a]):
            tf.identity(b, name="c")
    with tf.summary.FileWriter(str(tmp_path)) as writer:
        writer.add_graph(g)
    node = {n.name: n for n in accumulate(str(tmp_path)).Graph().node}["c"]
    assert list(node.input) == ["b", "^a"]
    # flowir's own GraphDef snapshot (``as_graph_def()``) exports the same nodes.
    with tf.summary.FileWriter(str(tmp_path / "snapshot"), graph=g.as_graph_def()):
        pass
    again = accumulate(str(tmp_path / "snapshot")).Graph()
    assert [(n.name, list(n.input)) for n in again.node] == [("a", []), ("b", []), ("c", ["b", "^a"])]


# --------------------------------------------------------------------------------------------
# The background writer


def test_flush_is_exact(tmp_path):
    with tf.summary.FileWriter(str(tmp_path), max_queue=1000, flush_secs=3600) as writer:
        for step in range(500):
            writer.add_summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="x", simple_value=step)]), step)
        writer.flush()
        on_disk = events(writer.event_file)[1:]
        assert [e.step for e in on_disk] == list(range(500))


def test_close_loses_nothing_and_later_events_are_dropped(tmp_path):
    writer = tf.summary.FileWriter(str(tmp_path), max_queue=5, flush_secs=3600)
    path = writer.event_file
    done = []

    def produce(k: int) -> None:
        for step in range(200):
            s = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=f"t{k}", simple_value=step)])
            writer.add_summary(s, step)
        done.append(k)

    threads = [threading.Thread(target=produce, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    writer.close()  # idempotent
    written = events(path)[1:]
    assert len(written) == 600
    for k in range(3):
        assert [e.step for e in written if e.summary.value[0].tag == f"t{k}"] == list(range(200))
    writer.add_summary(summary_pb2.Summary(), 1)
    assert len(events(path)) == 601
    writer.reopen()
    assert writer.event_file != path
    writer.add_summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="again", simple_value=1)]), 9)
    writer.close()
    assert events(writer.event_file)[-1].step == 9


def test_events_of_a_writer_never_closed_are_written_at_exit(tmp_path):
    import subprocess
    import sys

    script = (
        "import flowir as tf\n"
        "from tensorboardX.proto import summary_pb2\n"
        f"w = tf.summary.FileWriter({str(tmp_path)!r}, flush_secs=3600)\n"
        "for i in range(3):\n"
        "    w.add_summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag='x', simple_value=i)]), i)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    (path,) = glob.glob(os.path.join(str(tmp_path), "events.out.tfevents.*"))
    assert [e.step for e in events(path)[1:]] == [0, 1, 2]


def test_periodic_flush_without_explicit_flush(tmp_path):
    import time

    writer = tf.summary.FileWriter(str(tmp_path), flush_secs=0.05)
    try:
        writer.add_summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="x", simple_value=1)]), 1)
        deadline = time.monotonic() + 10
        while len(events(writer.event_file)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(events(writer.event_file)) == 2
    finally:
        writer.close()


def test_add_summary_rejects_other_values(tmp_path):
    with tf.summary.FileWriter(str(tmp_path)) as writer, pytest.raises(TypeError, match="serialized Summary"):
        writer.add_summary(3.0, 1)


def test_write_errors_surface_on_the_next_call(tmp_path, monkeypatch):
    writer = tf.summary.FileWriter(str(tmp_path))

    def broken(data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer._writer._records, "write", broken)
    writer.add_summary(summary_pb2.Summary(), 1)
    with pytest.raises(OSError, match="No space left on device"):
        writer.flush()
    with pytest.raises(OSError, match="No space left on device"):
        writer.close()
    assert glob.glob(os.path.join(str(tmp_path), "events.out.tfevents.*"))


# --------------------------------------------------------------------------------------------
# The jax backend runs summaries on the host


def test_jax_backend_runs_summaries_beside_one_jitted_numeric_segment(graph):
    pytest.importorskip("jax")
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.Variable(tf.ones([3, 2]), name="w")
    loss = tf.reduce_mean(tf.matmul(x, w))
    step = tf.assign_add(w, tf.ones([3, 2]))
    tf.summary.scalar("loss", loss)
    tf.summary.histogram("w", w)
    tf.summary.image("x", tf.reshape(x, [-1, 1, 3, 1]), max_outputs=1)
    merged = tf.summary.merge_all()
    feed = {x: np.float32([[1, 2, 3], [4, 5, 6]])}
    results = {}
    for backend in ("numpy", "jax"):
        with tf.Session(backend=backend) as sess:
            sess.run(tf.global_variables_initializer())
            compiled = getattr(sess.backend, "compilations", 0)
            s, _ = sess.run([merged, step], feed)
            s2 = sess.run(merged, feed)
            for _ in range(3):
                sess.run([merged, step], feed)
            if backend == "jax":
                # The numeric part of each program is one XLA computation, compiled once.
                assert sess.backend.compilations - compiled == 2
            results[backend] = (s, s2)
    assert results["jax"] == results["numpy"]
    parsed = summary_pb2.Summary.FromString(results["jax"][1])
    # The variable ``w`` and the placeholder ``x`` hold the names: the summaries get ``_1``.
    assert [v.tag for v in parsed.value] == ["loss", "w_1", "x_1/image"]
    assert parsed.value[0].simple_value == pytest.approx(np.mean(feed[x] @ (2 * np.ones((3, 2)))))
