"""Device placement on the jax backend: TF device names, the default device, soft placement,
and programs split across devices (on a machine with one CPU, a subprocess makes two)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import flowir as tf  # noqa: E402
from flowir.backends.jax import DevicePlacementError, JaxBackend, parse_device  # noqa: E402
from flowir.ir import DType, Graph, TensorType  # noqa: E402
from flowir.ir import ops as O  # noqa: E402
from flowir.ir.ops.core import Placeholder  # noqa: E402
from tests.backends.helpers import make_program  # noqa: E402


@pytest.mark.parametrize(
    "spec, parsed",
    [
        ("/cpu:0", ("CPU", 0)),
        ("/gpu:1", ("GPU", 1)),
        ("/device:GPU:1", ("GPU", 1)),
        ("/job:localhost/replica:0/task:0/device:CPU:0", ("CPU", 0)),
        ("/device:GPU:*", ("GPU", 0)),
        ("/job:worker", None),
    ],
)
def test_parse_device(spec: str, parsed) -> None:
    assert parse_device(spec) == parsed


def placed_graph(device: str | None) -> Graph:
    g = Graph()
    x = g.append(Placeholder.create(name="x", result_types=[TensorType(DType.float32, (3,))], device=device)).result
    g.set_outputs([g.append(O.Mul.create(x, x, name="sq", device=device)).result])
    return g


def test_ops_without_a_device_run_on_the_default_device() -> None:
    exe = JaxBackend().compile(make_program(placed_graph(None)))
    assert exe.devices == [jax.devices()[0]]
    assert exe.devices[0].platform == ("gpu" if any(d.platform == "gpu" for d in jax.devices()) else "cpu")


@pytest.mark.skipif(any(d.platform == "gpu" for d in jax.devices()), reason="needs a machine without GPUs")
def test_a_missing_gpu_falls_back_to_the_cpu_with_one_warning() -> None:
    backend = JaxBackend()
    with pytest.warns(RuntimeWarning, match=r"math.mul 'sq' is placed on '/device:GPU:1', which does not exist"):
        exe = backend.compile(make_program(placed_graph("/device:GPU:1")))
    assert exe.devices == [jax.devices("cpu")[0]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = backend.compile(make_program(placed_graph("/device:GPU:1")))
    (y,), _ = again([np.float32([1, 2, 3])], [], None)
    np.testing.assert_array_equal(y, [1, 4, 9])


@pytest.mark.skipif(any(d.platform == "gpu" for d in jax.devices()), reason="needs a machine without GPUs")
def test_without_soft_placement_a_missing_gpu_is_an_error() -> None:
    strict = JaxBackend().with_options(allow_soft_placement=False)
    assert not strict.soft_placement and strict.with_options(allow_soft_placement=False) is strict
    with pytest.raises(DevicePlacementError, match="'/gpu:0', which does not exist.*allow soft placement"):
        strict.compile(make_program(placed_graph("/gpu:0")))
    with tf.Graph().as_default():
        with tf.device("/gpu:0"):
            x = tf.placeholder(tf.float32, [2])
            y = x * 2.0
        with tf.Session(backend="jax", config={"allow_soft_placement": False}) as sess:
            with pytest.raises(tf.errors.InvalidArgumentError, match="does not exist"):
                sess.run(y, {x: [1.0, 2.0]})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with tf.Session(backend="jax") as sess:
                np.testing.assert_array_equal(sess.run(y, {x: [1.0, 2.0]}), [2.0, 4.0])


_TWO_CPUS = textwrap.dedent(
    """
    import numpy as np, jax
    import flowir as tf
    cpu0, cpu1 = jax.devices("cpu")
    with tf.device("/cpu:1"):
        x = tf.placeholder(tf.float32, [3], name="x")
        v = tf.Variable([1.0, 2.0, 3.0], name="v")
        y = x * v
        step = v.assign_add(x)
    z = y + 1.0          # no device: the default, cpu:0
    with tf.device("/cpu:0"):
        w = tf.reduce_sum(z * 2.0)
    with tf.Session(backend="jax") as sess:
        sess.run(v.initializer)
        assert sess._state["v"].devices() == {cpu1}, sess._state["v"].devices()
        out = sess.run([z, w], {x: np.float32([1, 1, 2])})
        np.testing.assert_array_equal(out[0], [2, 3, 7])
        assert out[1] == 24
        sess.run(step, {x: np.float32([1, 1, 1])})
        assert sess._state["v"].devices() == {cpu1}
        np.testing.assert_array_equal(sess.run(v), [2, 3, 4])
    from flowir.backends.jax import JaxBackend
    from flowir.ir.transforms import extract_subgraph
    from flowir.passes.functionalize import functionalize_state
    from flowir.backends import Program
    g = z.graph.ir_graph
    sub, _ = extract_subgraph(g, [w._value], [x._value])
    sig = functionalize_state(sub)
    exe = JaxBackend().compile(Program(sub, 1, [n for n, _ in sig.reads], 1, sig.writes))
    assert set(exe.devices) == {cpu0, cpu1}, exe.devices
    print("ok")
    """
)


def test_a_graph_split_across_two_devices() -> None:
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", _TWO_CPUS], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")


def test_device_count_hides_devices_and_config_proto_sets_soft_placement() -> None:
    hidden = JaxBackend().with_options(device_count={"GPU": 0})
    assert hidden.devices.default.platform == "cpu"
    assert hidden.with_options(device_count={"gpu": 0}) is hidden  # one instance per setting
    with pytest.raises(DevicePlacementError, match="'/gpu:0', which does not exist"):
        hidden.with_options(allow_soft_placement=False, device_count={"GPU": 0}).compile(
            make_program(placed_graph("/gpu:0"))
        )
    with tf.Graph().as_default():
        with tf.device("/gpu:0"):
            x = tf.placeholder(tf.float32, [2])
            y = x * 2.0
        strict = tf.ConfigProto(device_count={"GPU": 0})  # TF's default: no soft placement
        with tf.Session(backend="jax", config=strict) as sess:
            with pytest.raises(tf.errors.InvalidArgumentError, match="does not exist"):
                sess.run(y, {x: [1.0, 2.0]})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            soft = tf.ConfigProto(allow_soft_placement=True, device_count={"GPU": 0})
            with tf.Session(backend="jax", config=soft) as sess:
                np.testing.assert_array_equal(sess.run(y, {x: [1.0, 2.0]}), [2.0, 4.0])
                assert sess.backend.device_count == {"GPU": 0}
