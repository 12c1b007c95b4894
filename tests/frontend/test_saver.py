"""``tf.train.Saver``: round trips, the checkpoint index, crash safety, checked restores and
meta graphs rebuilt in a fresh process."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import flowir as tf
from flowir import _fileio
from flowir.frontends.graph import saver as saver_module


def _backends() -> list[str]:
    names = ["numpy"]
    try:
        import jax  # noqa: F401

        names.append("jax")
    except ImportError:
        pass
    return names


@pytest.fixture(autouse=True)
def graph():
    with tf.Graph().as_default() as g:
        yield g


VALUES = {
    "f32": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "f64": np.array([1.5, -2.25, np.pi]),
    "f16": np.array([[0.5, -1.0]], dtype=np.float16),
    "bf16": np.array([1.0, 2.5, -3.0], dtype=ml_dtypes.bfloat16),
    "i32": np.array([1, -2, 3], dtype=np.int32),
    "i64": np.array([2**40, -5], dtype=np.int64),
    "i8": np.array([-128, 127], dtype=np.int8),
    "u8": np.array([[0, 255]], dtype=np.uint8),
    "bool": np.array([True, False, True]),
    "scalar": np.float32(3.25),
    "empty": np.zeros((0, 3), dtype=np.float32),
    "nested/scope/w": np.ones((2, 2, 2), dtype=np.float32),
}


def _make_variables() -> dict[str, tf.Variable]:
    return {name: tf.Variable(value, name=name) for name, value in VALUES.items()}


def _zero_all(sess: tf.Session, variables: dict[str, tf.Variable]) -> None:
    sess.run([v.assign(tf.zeros_like(v)) for v in variables.values()])


def _assert_values(sess: tf.Session, variables: dict[str, tf.Variable], expected: dict[str, np.ndarray]) -> None:
    got = sess.run(variables)
    for name, want in expected.items():
        have = np.asarray(got[name])
        assert have.dtype == np.asarray(want).dtype, name
        assert have.shape == np.asarray(want).shape, name
        np.testing.assert_array_equal(have, want, err_msg=name)


# --------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("backend", _backends())
def test_round_trip_every_dtype(backend, tmp_path):
    variables = _make_variables()
    saver = tf.train.Saver()
    with tf.Session(backend=backend) as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "model.ckpt"))
        assert path == str(tmp_path / "model.ckpt")
        _zero_all(sess, variables)
        saver.restore(sess, path)
        _assert_values(sess, variables, VALUES)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "model.ckpt.fir", "model.ckpt.safetensors"]
    assert tf.train.list_variables(path) == sorted((k, list(np.shape(v))) for k, v in VALUES.items())


@pytest.mark.parametrize(("saving", "restoring"), [("numpy", "jax"), ("jax", "numpy")])
def test_checkpoint_moves_between_backends(saving, restoring, tmp_path):
    if "jax" not in _backends():
        pytest.skip("jax is not installed")
    variables = _make_variables()
    saver = tf.train.Saver()
    with tf.Session(backend=saving) as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "m"))
    with tf.Session(backend=restoring) as sess:
        saver.restore(sess, path)
        _assert_values(sess, variables, VALUES)


@pytest.mark.parametrize("backend", _backends())
def test_adam_training_resumes_exactly_from_a_checkpoint(backend, tmp_path):
    tf.set_random_seed(3)
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.Variable(tf.random_normal([3, 2], seed=1), name="w")
    b = tf.Variable(tf.zeros([2]), name="b")
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b))
    step = tf.train.get_or_create_global_step()
    train = tf.train.AdamOptimizer(0.1).minimize(loss, global_step=step)
    saver = tf.train.Saver()
    batch = {x: np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)}
    with tf.Session(backend=backend) as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train, batch)
        path = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=step)
        assert path.endswith("model.ckpt-3")
        for _ in range(2):
            sess.run(train, batch)
        continued = sess.run([w, b, step])
    # Adam's slots and beta powers are global variables: restoring them resumes exactly.
    with tf.Session(backend=backend) as sess:
        sess.run(tf.global_variables_initializer())
        saver.restore(sess, path)
        assert sess.run(step) == 3
        for _ in range(2):
            sess.run(train, batch)
        resumed = sess.run([w, b, step])
    np.testing.assert_allclose(resumed[0], continued[0], rtol=1e-6)
    np.testing.assert_allclose(resumed[1], continued[1], rtol=1e-6)
    assert resumed[2] == continued[2] == 5


def test_variable_of_unknown_shape(tmp_path):
    v = tf.Variable(tf.zeros([3]), validate_shape=False, name="u")
    saver = tf.train.Saver()
    with tf.Session(backend="numpy") as sess:
        sess.run(v.initializer)
        sess.run(tf.assign(v, [1.0, 2.0, 3.0]))
        path = saver.save(sess, str(tmp_path / "m"))
        sess.run(tf.assign(v, [0.0, 0.0, 0.0]))
        saver.restore(sess, path)
        np.testing.assert_array_equal(sess.run(v), [1.0, 2.0, 3.0])
    assert tf.train.list_variables(path) == [("u", [3])]


_DTYPES = [
    np.float32,
    np.float64,
    np.float16,
    ml_dtypes.bfloat16,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.bool_,
]


def _arrays(dt) -> st.SearchStrategy:
    shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
    if dt is ml_dtypes.bfloat16:  # hypothesis has no bfloat16: any 16 bits
        return hnp.arrays(np.uint16, shapes).map(lambda a: a.view(ml_dtypes.bfloat16))
    return hnp.arrays(dt, shapes)


@settings(max_examples=40)
@given(
    st.dictionaries(
        st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12).filter(
            lambda k: k != "__metadata__"
        ),
        st.sampled_from(_DTYPES).flatmap(_arrays),
        max_size=5,
    ),
    st.data(),
)
def test_weights_file_round_trip_and_any_flipped_byte(values, data):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "w.safetensors")
        saver_module._write_weights(path, values)
        back = saver_module._read_weights(path)
        assert sorted(back) == sorted(values)
        for k, v in values.items():
            assert back[k].dtype == v.dtype and back[k].shape == v.shape
            assert back[k].tobytes() == v.tobytes()
        raw = bytearray(Path(path).read_bytes())
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= data.draw(st.integers(1, 255))
        Path(path).write_bytes(bytes(raw))
        with pytest.raises(tf.errors.DataLossError, match="w.safetensors"):
            saver_module._read_weights(path)


def test_var_list_dict_uses_its_keys(tmp_path):
    a = tf.Variable([1.0, 2.0], name="a")
    b = tf.Variable(7, name="b")
    saver = tf.train.Saver({"renamed/a": a, "other": b})
    with tf.Session(backend="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "ckpt"))
    assert tf.train.list_variables(path) == [("other", []), ("renamed/a", [2])]
    np.testing.assert_array_equal(tf.train.load_variable(path, "renamed/a"), [1.0, 2.0])
    # A second graph whose variables have other names restores through the same keys.
    with tf.Graph().as_default():
        c = tf.Variable([0.0, 0.0], name="c")
        d = tf.Variable(0, name="d")
        restorer = tf.train.Saver({"renamed/a": c, "other": d})
        with tf.Session(backend="numpy") as sess:
            restorer.restore(sess, path)
            np.testing.assert_array_equal(sess.run(c), [1.0, 2.0])
            assert sess.run(d) == 7


def test_var_list_subset_and_handle_tensors(tmp_path):
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    saver = tf.train.Saver([a._ref_tensor()])
    with tf.Session(backend="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "ckpt"))
        sess.run([a.assign(10.0), b.assign(20.0)])
        saver.restore(sess, path)
        assert sess.run([a, b]) == [1.0, 20.0]
    assert tf.train.list_variables(path) == [("a", [])]


def test_var_list_errors():
    a = tf.Variable(1.0, name="a")
    with pytest.raises(TypeError, match="not a Variable"):
        tf.train.Saver([a, tf.constant(1.0)])
    with pytest.raises(TypeError, match="dict or a list"):
        tf.train.Saver("a")
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="No variables to save"):
            tf.train.Saver()
    with pytest.raises(TypeError, match="strings"):
        tf.train.Saver([tf.Variable(["x"], name="s")])


def test_duplicate_names_are_rejected(graph):
    a = tf.Variable(1.0, name="a")
    other = tf.Graph()
    with other.as_default():
        a2 = tf.Variable(1.0, name="a")
    with pytest.raises(ValueError, match="At least two variables have the same name: a"):
        saver_module.Saver([a, a2])


def test_allow_empty_saver_does_nothing(tmp_path, graph):
    saver = tf.train.Saver(allow_empty=True)
    tf.constant(1.0)
    with tf.Session(backend="numpy") as sess:
        assert saver.save(sess, str(tmp_path / "m")) is None
        saver.restore(sess, str(tmp_path / "m"))
    assert os.listdir(tmp_path) == []


def test_saver_ops_have_tf_names_and_a_second_saver_its_own_scope(graph):
    tf.Variable(1.0, name="a")
    tf.train.Saver()
    tf.train.Saver(name="mine")
    tf.train.Saver()
    names = {op.name for op in graph.get_operations()}
    assert {"save/RestoreV2", "save/Assign", "save/restore_all"} <= names
    assert {"mine/RestoreV2", "mine/restore_all", "save_1/restore_all"} <= names


def test_deferred_build(graph, tmp_path):
    saver = tf.train.Saver(defer_build=True)
    v = tf.Variable(5, name="late")
    with tf.Session(backend="numpy") as sess:
        sess.run(v.initializer)
        path = saver.save(sess, str(tmp_path / "m"))
    assert tf.train.list_variables(path) == [("late", [])]
    with pytest.raises(ValueError, match="deferred"):
        tf.train.Saver([v], defer_build=True)


def test_global_step_forms_and_padding(tmp_path):
    step = tf.Variable(42, name="global_step")
    saver = tf.train.Saver(pad_step_number=True)
    plain = tf.train.Saver()
    with tf.Session(backend="numpy") as sess:
        sess.run(step.initializer)
        assert saver.save(sess, str(tmp_path / "m"), global_step=7) == str(tmp_path / "m-00000007")
        assert plain.save(sess, str(tmp_path / "m"), global_step=step) == str(tmp_path / "m-42")
        assert plain.save(sess, str(tmp_path / "m"), global_step=np.int64(3)) == str(tmp_path / "m-3")


def test_save_argument_errors(tmp_path):
    v = tf.Variable(1.0, name="v")
    saver = tf.train.Saver()
    with tf.Session(backend="numpy") as sess:
        with pytest.raises(tf.errors.FailedPreconditionError, match="uninitialized value v"):
            saver.save(sess, str(tmp_path / "m"))
        assert os.listdir(tmp_path) == []
        sess.run(v.initializer)
        with pytest.raises(ValueError, match="Parent directory of .* doesn't exist"):
            saver.save(sess, str(tmp_path / "missing" / "m"))
        with pytest.raises(TypeError, match="must be a Session"):
            saver.save(object(), str(tmp_path / "m"))
        with pytest.raises(ValueError, match="must not contain a path"):
            saver.save(sess, str(tmp_path / "m"), latest_filename="a/b")
        with pytest.raises(ValueError, match="None"):
            saver.restore(sess, None)
    with tf.Graph().as_default():
        tf.constant(0)
        with tf.Session(backend="numpy") as other:
            with pytest.raises(ValueError, match="graph"):
                saver.save(other, str(tmp_path / "m"))


def test_write_meta_graph_and_state_flags(tmp_path):
    v = tf.Variable(1.0, name="v")
    saver = tf.train.Saver()
    with tf.Session(backend="numpy") as sess:
        sess.run(v.initializer)
        saver.save(sess, str(tmp_path / "m"), write_meta_graph=False, write_state=False)
    assert os.listdir(tmp_path) == ["m.safetensors"]
    assert tf.train.latest_checkpoint(str(tmp_path)) is None
    assert tf.train.checkpoint_exists(str(tmp_path / "m"))


# --------------------------------------------------------------------------------------------
# The index and max_to_keep


def _files(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def test_max_to_keep_removes_old_checkpoints_and_the_index_lists_the_rest(tmp_path):
    v = tf.Variable(0, name="v")
    inc = v.assign_add(1)
    saver = tf.train.Saver(max_to_keep=2)
    with tf.Session(backend="numpy") as sess:
        sess.run(v.initializer)
        for step in range(1, 5):
            sess.run(inc)
            saver.save(sess, str(tmp_path / "model.ckpt"), global_step=step)
        assert saver.last_checkpoints == [str(tmp_path / "model.ckpt-3"), str(tmp_path / "model.ckpt-4")]
    assert _files(tmp_path) == [
        "checkpoint",
        "model.ckpt-3.fir",
        "model.ckpt-3.safetensors",
        "model.ckpt-4.fir",
        "model.ckpt-4.safetensors",
    ]
    index = (tmp_path / "checkpoint").read_text()
    assert index.splitlines()[:3] == [
        'model_checkpoint_path: "model.ckpt-4"',
        'all_model_checkpoint_paths: "model.ckpt-3"',
        'all_model_checkpoint_paths: "model.ckpt-4"',
    ]
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert state.model_checkpoint_path == str(tmp_path / "model.ckpt-4")
    assert state.all_model_checkpoint_paths == [str(tmp_path / "model.ckpt-3"), str(tmp_path / "model.ckpt-4")]
    assert len(state.all_model_checkpoint_timestamps) == 2
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "model.ckpt-4")
    assert tf.train.load_variable(str(tmp_path), "v") == 4


def test_saving_the_same_prefix_again_keeps_one_entry(tmp_path):
    v = tf.Variable(1, name="v")
    saver = tf.train.Saver(max_to_keep=2)
    with tf.Session(backend="numpy") as sess:
        sess.run(v.initializer)
        for _ in range(3):
            saver.save(sess, str(tmp_path / "m"))
    assert saver.last_checkpoints == [str(tmp_path / "m")]
    assert _files(tmp_path) == ["checkpoint", "m.fir", "m.safetensors"]


@pytest.mark.parametrize("max_to_keep", [None, 0])
def test_max_to_keep_none_keeps_everything(tmp_path, max_to_keep):
    v = tf.Variable(1, name="v")
    saver = tf.train.Saver(max_to_keep=max_to_keep)
    with tf.Session(backend="numpy") as sess:
        sess.run(v.initializer)
        for step in range(7):
            saver.save(sess, str(tmp_path / "m"), global_step=step)
    assert len([f for f in os.listdir(tmp_path) if f.endswith(".safetensors")]) == 7
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert state.all_model_checkpoint_paths == [str(tmp_path / "m-6")]


def test_keep_checkpoint_every_n_hours_preserves_one_per_period(tmp_path, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(saver_module.time, "time", lambda: clock[0])
    v = tf.Variable(1, name="v")
    saver = tf.train.Saver(max_to_keep=1, keep_checkpoint_every_n_hours=1.0)
    with tf.Session(backend="numpy") as sess:
        sess.run(v.initializer)
        for step in range(6):
            saver.save(sess, str(tmp_path / "m"), global_step=step)
            clock[0] += 1500.0  # 25 minutes
    # Saves at t = 1000, 2500, 4000, 5500, 7000, 8500; the first one after each hour survives.
    kept = sorted(int(f[2:-12]) for f in os.listdir(tmp_path) if f.endswith(".safetensors"))
    assert kept == [3, 5]
    assert tf.train.get_checkpoint_state(str(tmp_path)).last_preserved_timestamp == 5500.0


def test_index_with_latest_filename_and_absolute_paths(tmp_path):
    v = tf.Variable(1, name="v")
    saver = tf.train.Saver()
    with tf.Session(backend="numpy") as sess:
        sess.run(v.initializer)
        saver.save(sess, str(tmp_path / "m"), latest_filename="my_index")
    assert tf.train.latest_checkpoint(str(tmp_path)) is None
    assert tf.train.latest_checkpoint(str(tmp_path), "my_index") == str(tmp_path / "m")
    other = tmp_path / "elsewhere"
    other.mkdir()
    tf.train.update_checkpoint_state(str(other), str(tmp_path / "m"))
    assert 'model_checkpoint_path: "' + str(tmp_path / "m") + '"' in (other / "checkpoint").read_text()
    assert tf.train.latest_checkpoint(str(other)) == str(tmp_path / "m")


def test_bad_or_stale_index(tmp_path):
    assert tf.train.get_checkpoint_state(str(tmp_path)) is None
    assert tf.train.latest_checkpoint(str(tmp_path)) is None
    (tmp_path / "checkpoint").write_text("model_checkpoint_path: unquoted\n")
    with pytest.warns(UserWarning, match="checkpoint index ignored"):
        assert tf.train.get_checkpoint_state(str(tmp_path)) is None
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "gone"\n')
    assert tf.train.get_checkpoint_state(str(tmp_path)).model_checkpoint_path == str(tmp_path / "gone")
    assert tf.train.latest_checkpoint(str(tmp_path)) is None
    with pytest.raises(tf.errors.NotFoundError, match="no checkpoint found"):
        tf.train.list_variables(str(tmp_path))


def test_recover_last_checkpoints_after_a_restart(tmp_path):
    v = tf.Variable(1, name="v")
    with tf.Session(backend="numpy") as sess:
        sess.run(v.initializer)
        first = tf.train.Saver(max_to_keep=2)
        for step in range(2):
            first.save(sess, str(tmp_path / "m"), global_step=step)
        second = tf.train.Saver(max_to_keep=2)
        second.recover_last_checkpoints(tf.train.get_checkpoint_state(str(tmp_path)).all_model_checkpoint_paths)
        second.save(sess, str(tmp_path / "m"), global_step=2)
    assert _files(tmp_path) == ["checkpoint", "m-1.fir", "m-1.safetensors", "m-2.fir", "m-2.safetensors"]


# --------------------------------------------------------------------------------------------
# Restore checks: all or nothing


@pytest.fixture
def saved(tmp_path):
    """Two variables saved with a = [1, 2, 3], b = [[4, 5]]; the session now holds other values."""
    a = tf.Variable(np.array([1.0, 2.0, 3.0], np.float32), name="a")
    b = tf.Variable(np.array([[4.0, 5.0]], np.float32), name="b")
    saver = tf.train.Saver()
    sess = tf.Session(backend="numpy")
    sess.run(tf.global_variables_initializer())
    path = saver.save(sess, str(tmp_path / "model.ckpt"))
    sess.run([a.assign([7.0, 7.0, 7.0]), b.assign([[7.0, 7.0]])])
    yield sess, saver, path, a, b
    sess.close()


def _unchanged(sess, a, b):
    np.testing.assert_array_equal(sess.run(a), [7.0, 7.0, 7.0])
    np.testing.assert_array_equal(sess.run(b), [[7.0, 7.0]])


def _save_other(path: str, values: dict[str, np.ndarray]) -> None:
    """Write ``values`` as a checkpoint from another graph."""
    with tf.Graph().as_default():
        vs = {k: tf.Variable(v, name=k) for k, v in values.items()}
        saver = tf.train.Saver(vs)
        with tf.Session(backend="numpy") as sess:
            sess.run(tf.global_variables_initializer())
            saver.save(sess, path, write_state=False)


def test_restore_missing_checkpoint(saved):
    sess, saver, path, a, b = saved
    with pytest.raises(tf.errors.NotFoundError, match="not a valid checkpoint: .*nowhere"):
        saver.restore(sess, path + "nowhere")
    _unchanged(sess, a, b)


def test_restore_missing_variable_is_not_found_and_restores_nothing(saved, tmp_path):
    sess, saver, _, a, b = saved
    other = str(tmp_path / "other")
    _save_other(other, {"a": np.zeros(3, np.float32)})
    with pytest.raises(tf.errors.NotFoundError, match=r"Key b not found in checkpoint .*other\.safetensors"):
        saver.restore(sess, other)
    _unchanged(sess, a, b)


def test_restore_dtype_mismatch(saved, tmp_path):
    sess, saver, _, a, b = saved
    other = str(tmp_path / "other")
    _save_other(other, {"a": np.zeros(3, np.float64), "b": np.zeros((1, 2), np.float32)})
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="tensor_name = a; expected dtype float32 .*original dtype float64"
    ):
        saver.restore(sess, other)
    _unchanged(sess, a, b)


def test_restore_shape_mismatch_and_reshape(saved, tmp_path):
    sess, saver, _, a, b = saved
    other = str(tmp_path / "other")
    _save_other(other, {"a": np.ones(3, np.float32), "b": np.array([8.0, 9.0], np.float32)})
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"variable 'b'.*shape \[2\] does not match the variable's shape \(1, 2\)"
    ):
        saver.restore(sess, other)
    _unchanged(sess, a, b)
    reshaping = tf.train.Saver([a, b], reshape=True)
    reshaping.restore(sess, other)
    np.testing.assert_array_equal(sess.run(b), [[8.0, 9.0]])


def test_restore_reports_every_problem(saved, tmp_path):
    sess, saver, _, a, b = saved
    other = str(tmp_path / "other")
    _save_other(other, {"a": np.ones(4, np.float32)})
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        saver.restore(sess, other)
    message = str(info.value)
    assert "2 variables cannot be restored; nothing was restored" in message
    assert "variable 'a'" in message and "Key b not found" in message
    _unchanged(sess, a, b)


@pytest.mark.parametrize("keep", [0, 8, 100, -1])
def test_restore_truncated_file(saved, keep):
    sess, saver, path, a, b = saved
    data_file = Path(path + ".safetensors")
    data = data_file.read_bytes()
    data_file.write_bytes(data[:keep] if keep >= 0 else data[:-1])
    with pytest.raises(tf.errors.DataLossError, match=r"model\.ckpt\.safetensors is corrupted or truncated"):
        saver.restore(sess, path)
    _unchanged(sess, a, b)


def test_restore_flipped_byte_in_tensor_data_names_the_tensor(saved):
    sess, saver, path, a, b = saved
    data_file = Path(path + ".safetensors")
    data = bytearray(data_file.read_bytes())
    data[-1] ^= 0x01  # the last byte of the last tensor's data
    data_file.write_bytes(bytes(data))
    with pytest.raises(tf.errors.DataLossError, match=r"tensor '(a|b)': its SHA-256 does not match"):
        saver.restore(sess, path)
    _unchanged(sess, a, b)


def test_every_single_bit_flip_is_detected(saved):
    """No corrupted byte anywhere (length prefix, header JSON, metadata, data) restores."""
    sess, saver, path, a, b = saved
    data_file = Path(path + ".safetensors")
    original = data_file.read_bytes()
    undetected = []
    for i in range(len(original)):
        for bit in (0x01, 0x20, 0x80):
            data = bytearray(original)
            data[i] ^= bit
            data_file.write_bytes(bytes(data))
            try:
                saver.restore(sess, path)
            except tf.errors.DataLossError:
                continue
            undetected.append((i, bit))
    assert undetected == []
    _unchanged(sess, a, b)
    data_file.write_bytes(original)
    saver.restore(sess, path)
    np.testing.assert_array_equal(sess.run(b), [[4.0, 5.0]])


def test_foreign_safetensors_file_is_rejected(saved):
    from safetensors.numpy import save_file

    sess, saver, path, a, b = saved
    save_file({"a": np.zeros(3, np.float32), "b": np.zeros((1, 2), np.float32)}, path + ".safetensors")
    with pytest.raises(tf.errors.DataLossError, match="integrity record"):
        saver.restore(sess, path)
    _unchanged(sess, a, b)


# --------------------------------------------------------------------------------------------
# Crash safety


class _DiskFull:
    """A file proxy whose write stores half the data, then fails as a full disk does."""

    def __init__(self, f):
        self._f = f

    def write(self, data):
        self._f.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self._f, name)


def _fail_on_write(monkeypatch, which: int) -> list[str]:
    """Make the ``which``-th file written (0-based) fail half-way with ENOSPC; returns the
    list of paths being written."""
    real = _fileio.atomic_file
    paths: list[str] = []

    @contextlib.contextmanager
    def atomic_file(path, mode="w", **kwargs):
        paths.append(path)
        with real(path, mode, **kwargs) as f:
            yield _DiskFull(f) if len(paths) - 1 == which else f

    monkeypatch.setattr(_fileio, "atomic_file", atomic_file)
    return paths


@pytest.mark.parametrize(("which", "name"), [(0, ".safetensors"), (1, ".fir"), (2, "checkpoint")])
def test_full_disk_mid_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch, which, name):
    v = tf.Variable(np.arange(1000, dtype=np.float32), name="v")
    saver = tf.train.Saver(max_to_keep=1)
    with tf.Session(backend="numpy") as sess:
        sess.run(v.initializer)
        first = saver.save(sess, str(tmp_path / "m"), global_step=1)
        before = {f: (tmp_path / f).read_bytes() for f in os.listdir(tmp_path)}
        sess.run(v.assign(v * 2))
        paths = _fail_on_write(monkeypatch, which)
        with pytest.raises(OSError, match="No space left"):
            saver.save(sess, str(tmp_path / "m"), global_step=2)
        assert paths[which].endswith(name)
        monkeypatch.undo()
        # No temporary file is left, the old files are byte for byte as they were, the index
        # still names the first checkpoint and it restores.
        assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
        for f, content in before.items():
            assert (tmp_path / f).read_bytes() == content
        assert tf.train.latest_checkpoint(str(tmp_path)) == first
        sess.run(v.assign(tf.zeros_like(v)))
        saver.restore(sess, first)
        np.testing.assert_array_equal(sess.run(v), np.arange(1000, dtype=np.float32))
        # The saver goes on working once the disk has room again.
        assert saver.save(sess, str(tmp_path / "m"), global_step=3) == str(tmp_path / "m-3")
        assert not tf.train.checkpoint_exists(first)


def test_failed_overwrite_of_the_same_prefix_keeps_the_old_weights(tmp_path, monkeypatch):
    v = tf.Variable([1.0, 2.0], name="v")
    saver = tf.train.Saver()
    with tf.Session(backend="numpy") as sess:
        sess.run(v.initializer)
        path = saver.save(sess, str(tmp_path / "m"))
        sess.run(v.assign([5.0, 6.0]))
        _fail_on_write(monkeypatch, 0)
        with pytest.raises(OSError):
            saver.save(sess, str(tmp_path / "m"))
        monkeypatch.undo()
        saver.restore(sess, path)
        np.testing.assert_array_equal(sess.run(v), [1.0, 2.0])


_CRASHING_SAVE = textwrap.dedent(
    """
    import contextlib, os, sys
    import numpy as np
    import flowir as tf
    from flowir import _fileio

    directory, crash_at = sys.argv[1], int(sys.argv[2])
    v = tf.Variable(np.arange(100000, dtype=np.float32), name="v")
    saver = tf.train.Saver(max_to_keep=1)
    with tf.Session(backend="numpy") as sess:
        sess.run(v.initializer)
        saver.save(sess, os.path.join(directory, "model.ckpt"), global_step=1)
        sess.run(v.assign(v + 1))
        real = _fileio.atomic_file
        count = [0]

        class Dying:
            # Writes part of the data, then the process dies (no cleanup runs).
            def __init__(self, f):
                self.f = f

            def write(self, data):
                self.f.write(data[: len(data) // 3])
                self.f.flush()
                os._exit(17)

        @contextlib.contextmanager
        def atomic_file(path, mode="w", **kwargs):
            count[0] += 1
            with real(path, mode, **kwargs) as f:
                yield Dying(f) if count[0] == crash_at else f

        _fileio.atomic_file = atomic_file
        saver.save(sess, os.path.join(directory, "model.ckpt"), global_step=2)
        os._exit(0 if crash_at > 3 else 99)
    """
)


@pytest.mark.parametrize("crash_at", [1, 2, 3])
def test_process_killed_mid_save_leaves_the_previous_checkpoint(tmp_path, crash_at):
    script = tmp_path / "crash.py"
    script.write_text(_CRASHING_SAVE)
    ckpt_dir = tmp_path / "ckpt"
    ckpt_dir.mkdir()
    proc = subprocess.run(
        [sys.executable, str(script), str(ckpt_dir), str(crash_at)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 17, proc.stderr
    # The dead process left its temporary file behind; nothing else changed.
    assert any(f.endswith(".tmp") for f in os.listdir(ckpt_dir))
    latest = tf.train.latest_checkpoint(str(ckpt_dir))
    assert latest == str(ckpt_dir / "model.ckpt-1")
    assert tf.train.list_variables(str(ckpt_dir)) == [("v", [100000])]
    saver = tf.train.import_meta_graph(latest + ".meta")
    with tf.Session(backend="numpy") as sess:
        saver.restore(sess, latest)
        np.testing.assert_array_equal(sess.run("v:0"), np.arange(100000, dtype=np.float32))


# --------------------------------------------------------------------------------------------
# Meta graphs


_RESTORE_IN_FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import flowir as tf

    prefix, backend = sys.argv[1], sys.argv[2]
    saver = tf.train.import_meta_graph(prefix + ".meta")
    graph = tf.get_default_graph()
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    with tf.Session(backend=backend) as sess:
        saver.restore(sess, prefix)
        logits = sess.run(graph.get_tensor_by_name("logits:0"), {"x:0": x})
        sess.run("train", {"x:0": x, "y:0": np.array([0, 2])})
        after = sess.run("model/dense/w:0")
        print(json.dumps({
            "logits": logits.tolist(),
            "after": after.tolist(),
            "step": int(sess.run("global_step:0")),
            "trainable": [v.name for v in tf.trainable_variables()],
            "global": [v.name for v in tf.global_variables()],
            "losses": [t.name for t in tf.get_collection("losses")],
            "seed": graph.seed,
        }))
    """
)


def _train_model():
    tf.set_random_seed(5)
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    y = tf.placeholder(tf.int64, [None], name="y")
    with tf.name_scope("model"), tf.name_scope("dense"):
        w = tf.Variable(tf.truncated_normal([4, 3], stddev=0.5), name="w")
        bias = tf.Variable(tf.zeros([3]), name="b")
    logits = tf.identity(tf.matmul(x, w) + bias, name="logits")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    tf.add_to_collection("losses", loss)
    step = tf.train.get_or_create_global_step()
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss, global_step=step, name="train")
    return x, y, w, logits, train, step


@pytest.mark.parametrize("backend", _backends())
def test_import_meta_graph_in_a_fresh_process(tmp_path, backend):
    x, y, w, logits, train, step = _train_model()
    saver = tf.train.Saver()
    xs = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    feed = {x: xs, y: np.array([0, 2])}
    with tf.Session(backend="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, feed)
        prefix = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=step)
        want_logits = sess.run(logits, {x: xs})
        sess.run(train, feed)
        want_after = sess.run(w)
    script = tmp_path / "restore.py"
    script.write_text(_RESTORE_IN_FRESH_PROCESS)
    proc = subprocess.run([sys.executable, str(script), prefix, backend], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(out["logits"], want_logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["after"], want_after, rtol=1e-5, atol=1e-6)
    assert out["step"] == 2
    assert out["trainable"] == ["model/dense/w:0", "model/dense/b:0"]
    assert out["global"] == ["model/dense/w:0", "model/dense/b:0", "global_step:0"]
    assert out["losses"] == [t.name for t in tf.get_collection("losses")]
    assert out["seed"] == 5


def test_imported_graph_behaves_like_the_built_one(tmp_path, graph):
    _train_model()
    saver = tf.train.Saver(max_to_keep=3)
    path = saver.export_meta_graph(str(tmp_path / "g.fir"))
    assert path.startswith("// flowir.meta_graph/1")
    with tf.Graph().as_default() as g2:
        restored = tf.train.import_meta_graph(str(tmp_path / "g.fir"))
        assert [op.name for op in g2.get_operations()] == [op.name for op in graph.get_operations()]
        assert str(g2.as_graph_def()) == str(graph.as_graph_def())
        v = tf.global_variables()[0]
        assert v.name == "model/dense/w:0" and v.initializer.name == "model/dense/w/Assign"
        assert v.value().name == "model/dense/w/read:0"
        # Names stay unique after the import, scopes included.
        with tf.name_scope("model"):
            assert tf.constant(1.0, name="c").name == "model_1/c:0"
        assert tf.constant(1.0, name="logits").name == "logits_1:0"
        with pytest.raises(ValueError, match="may not be fed"):
            with tf.Session(backend="numpy") as sess:
                sess.run(v, {v._ref_tensor(): 1.0})
        assert restored._max_to_keep == 3
        # A variable's initializer and read work as built ones do.
        with tf.Session(backend="numpy") as sess:
            sess.run(tf.global_variables_initializer())
            assert sess.run(v).shape == (4, 3)
            w2 = tf.Variable(1.0, name="extra")
            sess.run(w2.initializer)
            assert sess.run(w2) == 1.0


def test_import_meta_graph_errors(tmp_path, graph):
    tf.Variable(1.0, name="v")
    saver = tf.train.Saver()
    with tf.Session(backend="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        prefix = saver.save(sess, str(tmp_path / "m"))
    with pytest.raises(tf.errors.NotFoundError, match="not found"):
        tf.train.import_meta_graph(str(tmp_path / "nothing.meta"))
    with pytest.raises(ValueError, match="already has ops named"):
        tf.train.import_meta_graph(prefix)  # into the graph that has them
    with pytest.raises(NotImplementedError):
        tf.train.import_meta_graph(prefix, import_scope="s")
    meta = Path(prefix + ".fir")
    text = meta.read_text()
    meta.write_text(text.replace('"state.read"', '"state.reax"'))
    with tf.Graph().as_default():
        with pytest.raises(tf.errors.DataLossError, match="SHA-256 of its graph does not match"):
            tf.train.import_meta_graph(prefix)
    meta.write_text(text.split("\n", 3)[3])
    with tf.Graph().as_default():
        with pytest.raises(tf.errors.DataLossError, match="not a flowir meta graph"):
            tf.train.import_meta_graph(prefix)
    meta.write_text(text.replace('"format":"flowir.meta_graph/1"', '"format":"flowir.meta_graph/1",'))
    with tf.Graph().as_default():
        with pytest.raises(tf.errors.DataLossError, match="not JSON"):
            tf.train.import_meta_graph(prefix)


def test_meta_graph_without_saver_and_clear_devices(tmp_path):
    with tf.device("/cpu:0"):
        tf.Variable(2.0, name="v")
    text = tf.train.export_meta_graph(str(tmp_path / "g.fir"), clear_devices=True)
    assert 'device = "/device:CPU:0"' in text
    with tf.Graph().as_default() as g:
        saver = tf.train.import_meta_graph(str(tmp_path / "g.fir"))
        assert isinstance(saver, tf.train.Saver)
        assert all(op.device == "" for op in g.get_operations())
    with tf.Graph().as_default():
        tf.constant(1.0, name="c")
        tf.train.export_meta_graph(str(tmp_path / "plain.fir"))
    with tf.Graph().as_default():
        assert tf.train.import_meta_graph(str(tmp_path / "plain.fir")) is None


def test_meta_graph_file_is_a_plain_flowir_graph_for_the_cli(tmp_path):
    from flowir.ir.parser import parse_graph

    _train_model()
    text = tf.train.Saver().export_meta_graph(str(tmp_path / "g.fir"))
    graph = parse_graph(text)
    assert any(op.user_name == "save/restore_all" for op in graph.ops)


def test_weights_file_is_standard_safetensors(tmp_path):
    from safetensors.numpy import load_file

    plain = {k: v for k, v in VALUES.items() if k != "bf16"}
    variables = {k: tf.Variable(v, name=k) for k, v in plain.items()}
    saver = tf.train.Saver()
    with tf.Session(backend="numpy") as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "m"))
    loaded = load_file(path + ".safetensors")
    assert sorted(loaded) == sorted(variables)
    for k, v in plain.items():
        np.testing.assert_array_equal(loaded[k], v)
        assert loaded[k].dtype == np.asarray(v).dtype and loaded[k].shape == np.shape(v)


def test_reserved_key_is_rejected():
    v = tf.Variable(1.0, name="v")
    with pytest.raises(ValueError, match="__metadata__"):
        tf.train.Saver({"__metadata__": v})


def test_doctests():
    import doctest

    result = doctest.testmod(saver_module)
    assert result.failed == 0 and result.attempted > 0


def test_unreadable_checkpoint_is_permission_denied(saved, monkeypatch):
    sess, saver, path, a, b = saved

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(saver_module, "open", denied, raising=False)
    with pytest.raises(tf.errors.PermissionDeniedError, match=r"model\.ckpt\.safetensors cannot be read"):
        saver.restore(sess, path)
    _unchanged(sess, a, b)
