"""``tf.train.ClusterSpec`` and ``tf.train.Server``'s arguments (pure Python: nothing starts)."""

from __future__ import annotations

import pytest

import flowir as tf
from flowir.frontends.graph.distributed import ServerDef, server_for_target

SPEC = {"worker": ["h0:2222", "h1:2222"], "ps": ["p0:2222"]}


def test_accessors():
    c = tf.train.ClusterSpec(SPEC)
    assert c.jobs == ["ps", "worker"]
    assert c.num_tasks("worker") == 2 and c.num_tasks("ps") == 1
    assert c.task_indices("worker") == [0, 1]
    assert c.task_address("worker", 1) == "h1:2222"
    assert c.job_tasks("worker") == ["h0:2222", "h1:2222"]
    assert c.as_dict() == SPEC
    assert c.as_cluster_def() == {"ps": {0: "p0:2222"}, "worker": {0: "h0:2222", 1: "h1:2222"}}
    assert list(c) == ["ps", "worker"] and bool(c) and not tf.train.ClusterSpec({})


def test_sparse_jobs():
    c = tf.train.ClusterSpec({"worker": {1: "h1:1", 3: "h3:3"}})
    assert c.task_indices("worker") == [1, 3]
    assert c.job_tasks("worker") == [None, "h1:1", None, "h3:3"]
    assert c.as_dict() == {"worker": {1: "h1:1", 3: "h3:3"}}
    # A dict of indices 0..n-1 reads back as a list.
    assert tf.train.ClusterSpec({"w": {1: "a:1", 0: "b:2"}}).as_dict() == {"w": ["b:2", "a:1"]}


def test_equality_and_copies():
    c = tf.train.ClusterSpec(SPEC)
    assert c == tf.train.ClusterSpec(dict(reversed(list(SPEC.items()))))
    assert c == tf.train.ClusterSpec(c) and tf.train.ClusterSpec(c) is not c
    assert c == {"ps": {0: "p0:2222"}, "worker": ["h0:2222", "h1:2222"]}
    assert c != {"worker": ["h0:2222"]}
    assert c != tf.train.ClusterSpec({"worker": ["h0:2222", "h1:2223"], "ps": ["p0:2222"]})
    assert c != {"worker": "not a list"}
    assert (c == 3) is False
    with pytest.raises(TypeError):
        hash(c)


def test_process_order_puts_chief_first():
    c = tf.train.ClusterSpec({"worker": ["w0:1", "w1:1"], "chief": ["c:1"], "evaluator": ["e:1"]})
    assert c.tasks() == [("chief", 0, "c:1"), ("evaluator", 0, "e:1"), ("worker", 0, "w0:1"), ("worker", 1, "w1:1")]
    assert c.process_id("worker", 1) == 3 and c.process_id("chief", 0) == 0


@pytest.mark.parametrize(
    ("spec", "error", "text"),
    [
        ({"worker": ["nohost"]}, ValueError, "expected 'host:port'"),
        ({"worker": ["h:0"]}, ValueError, "expected 'host:port'"),
        ({"worker": ["h:70000"]}, ValueError, "expected 'host:port'"),
        ({"worker": [3]}, ValueError, "expected 'host:port'"),
        ({"work er": ["h:1"]}, ValueError, "job names"),
        ({"worker": {-1: "h:1"}}, ValueError, "task indices"),
        ({"worker": "h:1"}, TypeError, "list or a dict"),
        (["h:1"], TypeError, "dict of job names"),
    ],
)
def test_bad_specs(spec, error, text):
    with pytest.raises(error, match=text):
        tf.train.ClusterSpec(spec)


def test_ipv6_addresses():
    c = tf.train.ClusterSpec({"worker": ["[::1]:2222"]})
    assert c.task_address("worker", 0) == "[::1]:2222"


def test_unknown_job_or_task():
    c = tf.train.ClusterSpec(SPEC)
    with pytest.raises(ValueError, match="No such job"):
        c.num_tasks("chief")
    with pytest.raises(ValueError, match="No task with index 5"):
        c.task_address("worker", 5)


def test_server_without_starting():
    server = tf.train.Server(SPEC, "worker", 1, start=False)
    assert server.target == "grpc://h1:2222"
    assert server.server_def.job_name == "worker" and server.server_def.task_index == 1
    assert server.server_def.cluster == SPEC and server.server_def.protocol == "grpc"
    assert server.num_processes == 3 and server.process_id == 2 and not server.is_chief
    assert server.task_name(0) == "/job:ps/task:0"
    one_job = tf.train.Server({"worker": ["a:1", "b:2"]}, task_index=1, start=False)
    assert one_job.target == "grpc://b:2"
    again = tf.train.Server(ServerDef(tf.train.ClusterSpec(SPEC), "ps", 0), start=False)
    assert again.is_chief and again.target == "grpc://p0:2222"


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"job_name": None}, ValueError, "job_name must be given"),
        ({"job_name": "worker", "task_index": 7}, ValueError, "No task with index 7"),
        ({"job_name": "nope"}, ValueError, "No such job"),
        ({"job_name": "worker", "protocol": "grpc+verbs"}, tf.errors.UnimplementedError, "only 'grpc'"),
        ({"job_name": "worker", "initialization_timeout": 0}, ValueError, "initialization_timeout"),
        ({"job_name": "worker", "heartbeat_timeout": 1.5}, ValueError, "heartbeat_timeout"),
    ],
)
def test_bad_server_arguments(kwargs, error, text):
    with pytest.raises(error, match=text):
        tf.train.Server(SPEC, start=False, **kwargs)


def test_session_on_a_target_no_server_serves():
    with pytest.raises(tf.errors.UnimplementedError, match="no tf.train.Server with this target"):
        tf.Session("grpc://h9:1")
    with pytest.raises(tf.errors.UnimplementedError):
        server_for_target("grpc://h1:2222")  # made above, never started


def test_data_parallel_needs_jax():
    with pytest.raises(tf.errors.UnimplementedError, match="need the jax backend"):
        tf.Session(graph=tf.Graph(), config=tf.ConfigProto(data_parallel=True), backend="numpy")
