"""Graphs: the default-graph stack, TF's naming rules, devices, control dependencies,
collections, lookups and the graph-level seed."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import flowir as tf
from flowir.frontends.graph.graph import DEFAULT_GRAPH_SEED, DeviceSpec


@pytest.fixture(autouse=True)
def graph():
    with tf.Graph().as_default() as g:
        yield g


# -- default graph ---------------------------------------------------------------------------


def test_as_default_nests_and_restores(graph):
    assert tf.get_default_graph() is graph
    inner = tf.Graph()
    with inner.as_default() as entered:
        assert entered is inner
        assert tf.get_default_graph() is inner
        c = tf.constant(1)
    assert tf.get_default_graph() is graph
    assert c.graph is inner
    assert graph.get_operations() == []


def test_reset_default_graph_refuses_inside_a_graph_block():
    with pytest.raises(AssertionError, match="nested graphs"):
        tf.reset_default_graph()


def test_reset_default_graph_replaces_the_global_graph():
    result = {}

    def work():
        # A fresh thread has no graph block open: it sees the global default graph.
        before = tf.get_default_graph()
        tf.constant(1)
        tf.reset_default_graph()
        after = tf.get_default_graph()
        result.update(before=before, after=after, ops=len(after.get_operations()))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert result["before"] is not result["after"]
    assert result["ops"] == 0


def test_default_graph_stack_is_per_thread(graph):
    seen = []
    t = threading.Thread(target=lambda: seen.append(tf.get_default_graph()))
    t.start()
    t.join()
    assert seen[0] is not graph


# -- names -----------------------------------------------------------------------------------


def test_unique_names_follow_tf():
    names = [tf.Variable(1).name, tf.Variable(1).name, tf.Variable(1, name="Variable_1").name]
    assert names == ["Variable:0", "Variable_1:0", "Variable_1_1:0"]
    # Names that differ only in case clash, as in TF.
    assert tf.Variable(1, name="variable").name == "variable_2:0"
    consts = [tf.constant(1, name="foo").name, tf.constant(1, name="foo_1").name, tf.constant(1, name="foo").name]
    assert consts == ["foo:0", "foo_1:0", "foo_2:0"]


def test_name_scope_reuse_absolute_and_reset():
    with tf.name_scope("s") as scope:
        assert scope == "s/"
        with tf.name_scope("t") as inner:
            assert inner == "s/t/"
            assert tf.constant(1).name == "s/t/Const:0"
        with tf.name_scope(None) as top:
            assert top == ""
            assert tf.constant(1).name == "Const:0"
        with tf.name_scope("") as top:
            assert top == ""
    with tf.name_scope("s") as again:
        assert again == "s_1/"
    with tf.name_scope("s/") as exact:
        assert exact == "s/"
        assert tf.constant(1, name="x").name == "s/x:0"
    assert tf.get_default_graph().get_name_scope() == ""


def test_name_scope_default_name_and_values():
    with tf.name_scope(None, "Default") as scope:
        assert scope == "Default/"
    with pytest.raises(ValueError, match="At least one of name"):
        with tf.name_scope(None, None, [1]):
            pass


def test_name_scope_enters_the_graph_of_its_values(graph):
    other = tf.Graph()
    with other.as_default():
        t = tf.constant(1.0)
    with tf.name_scope(None, "op", [t]):
        assert tf.get_default_graph() is other
    assert tf.get_default_graph() is graph
    with pytest.raises(ValueError, match="must be from the same graph"):
        with tf.name_scope("mixed", values=[t, tf.constant(2.0)]):
            pass


def test_invalid_scope_names():
    with pytest.raises(ValueError, match="not a valid scope name"):
        with tf.name_scope("bad name"):
            pass
    with pytest.raises(ValueError, match="not a valid scope name"):
        with tf.name_scope("_leading"):
            pass
    with tf.name_scope("outer"):
        with tf.name_scope("_ok_inside"):
            pass


def test_explicit_name_ending_in_slash_is_taken_as_is_and_duplicates_fail():
    a = tf.constant(1, name="exact/")
    assert a.name == "exact:0"
    with pytest.raises(ValueError, match="Duplicate node name in graph: 'exact'"):
        tf.constant(2, name="exact/")


def test_unique_name_without_marking(graph):
    assert graph.unique_name("n", mark_as_used=False) == "n"
    assert graph.unique_name("n") == "n"
    assert graph.unique_name("n") == "n_1"


# -- devices ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "canonical"),
    [
        ("/cpu:0", "/device:CPU:0"),
        ("/gpu:0", "/device:GPU:0"),
        ("/GPU:0", "/device:GPU:0"),
        ("/cpu", "/device:CPU:*"),
        ("/device:GPU:1", "/device:GPU:1"),
        ("/device:gpu:0", "/device:GPU:0"),
        ("/job:worker/task:1/device:CPU:0", "/job:worker/task:1/device:CPU:0"),
        ("/job:worker/replica:0/task:1/gpu:2", "/job:worker/replica:0/task:1/device:GPU:2"),
        ("", ""),
    ],
)
def test_device_strings_are_canonicalized(spec, canonical):
    with tf.device(spec):
        c = tf.constant(1)
    assert c.device == canonical
    assert c.op.ir_op.device == (canonical or None)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("/foo:0", "Unknown attribute 'foo'"),
        ("gpu0", "Unknown attribute 'gpu0'"),
        ("/gpu:x", "invalid number 'x'"),
        ("/device:GPU", "Unknown attribute 'device'"),
        ("/task:x", "invalid number 'x'"),
        ("/device:CPU:0/device:GPU:0", "Multiple device types"),
        ("/job:1bad", "invalid job name"),
    ],
)
def test_invalid_device_strings(spec, message):
    with pytest.raises(ValueError, match=message):
        with tf.device(spec):
            pass


def test_devices_merge_and_none_clears():
    with tf.device("/job:worker"):
        with tf.device("/gpu:1"):
            assert tf.constant(1).device == "/job:worker/device:GPU:1"
            with tf.device("/cpu:0"):
                assert tf.constant(1).device == "/job:worker/device:CPU:0"
        with tf.device(None):
            assert tf.constant(1).device == ""
        assert tf.constant(1).device == "/job:worker"


def test_device_function_and_spec_objects():
    def place(op):
        return "/gpu:0" if op.type == "math.mul" else "/cpu:0"

    with tf.device(place):
        a = tf.constant(2.0)
        b = a * a
    assert a.device == "/device:CPU:0"
    assert b.device == "/device:GPU:0"
    with tf.device(DeviceSpec(job="ps", task=0)):
        assert tf.constant(1).device == "/job:ps/task:0"
    assert DeviceSpec.from_string("/job:w/cpu:1").merge(DeviceSpec.from_string("/gpu:0")).to_string() == "/job:w/device:GPU:0"


# -- control dependencies --------------------------------------------------------------------


def test_control_dependencies_apply_nest_and_clear():
    a = tf.constant(1.0, name="a")
    b = tf.constant(2.0, name="b")
    with tf.control_dependencies([a]):
        c = tf.constant(3.0, name="c")
        with tf.control_dependencies([b.op]):
            d = tf.constant(4.0, name="d")
        with tf.control_dependencies(None):
            e = tf.constant(5.0, name="e")
    assert [op.name for op in c.op.control_inputs] == ["a"]
    assert [op.name for op in d.op.control_inputs] == ["a", "b"]
    assert e.op.control_inputs == []
    assert [v.owner.user_name for v in d.op.ir_op.control_deps] == ["a", "b"]


def test_control_dependencies_skip_what_the_data_inputs_already_order():
    a = tf.constant(1.0, name="a")
    with tf.control_dependencies([a]):
        b = tf.constant(2.0, name="b")
        uses_a = a + 1.0  # a is a data input: no control edge to it
        uses_b = b + 1.0  # b was created inside the block: already ordered after a
    assert uses_a.op.control_inputs == []
    assert uses_b.op.control_inputs == []
    assert [op.name for op in b.op.control_inputs] == ["a"]


def test_control_dependency_orders_a_run():
    v = tf.Variable(0, name="v")
    inc = v.assign_add(1)
    with tf.control_dependencies([inc]):
        after = v.read_value()
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(after) == 1
        assert sess.run(after) == 2
        assert sess.run(v) == 2


def test_control_dependencies_reject_other_graphs():
    with tf.Graph().as_default():
        foreign = tf.constant(1)
    with pytest.raises(ValueError, match="not an element of this graph"):
        with tf.control_dependencies([foreign]):
            pass


# -- lookups ---------------------------------------------------------------------------------


def test_get_tensor_and_operation_by_name(graph):
    with tf.name_scope("s"):
        c = tf.constant(1, name="c")
    assert graph.get_tensor_by_name("s/c:0") is c
    assert graph.get_operation_by_name("s/c") is c.op
    assert graph.as_graph_element("s/c") is c.op
    assert graph.as_graph_element(c) is c


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("foo", ValueError, "refers to an Operation, not a Tensor"),
        ("nope:0", KeyError, "The operation, 'nope', does not exist in the graph"),
        ("foo:1", KeyError, "exists but only has 1 outputs"),
        ("nope", ValueError, r"looks like an \(invalid\) Operation name"),
        (3, TypeError, "Tensor names are strings"),
    ],
)
def test_get_tensor_by_name_errors(graph, name, error, message):
    tf.constant(1, name="foo")
    with pytest.raises(error, match=message):
        graph.get_tensor_by_name(name)


def test_get_operation_by_name_errors(graph):
    tf.constant(1, name="foo")
    with pytest.raises(ValueError, match="appears to refer to a Tensor"):
        graph.get_operation_by_name("foo:0")
    with pytest.raises(KeyError, match="refers to an Operation not in the graph"):
        graph.get_operation_by_name("nope")


def test_get_operations_in_creation_order(graph):
    a = tf.constant(1, name="a")
    b = a + 1
    assert [op.name for op in graph.get_operations()] == ["a", "add/y", "add"]
    assert b.op.type == "math.add"
    assert len(graph.ir_graph) == 3


def test_finalized_graph_refuses_new_ops(graph):
    tf.constant(1)
    graph.finalize()
    assert graph.finalized
    with pytest.raises(RuntimeError, match="finalized"):
        tf.constant(2)


def test_inputs_from_another_graph_are_rejected():
    with tf.Graph().as_default():
        foreign = tf.constant(1.0)
    local = tf.constant(2.0)
    from flowir.frontends.graph.building import make_op
    from flowir.ir.ops import math

    with pytest.raises(ValueError, match="must be from the same graph"):
        make_op(math.Add, [foreign, local], default_name="Add")


# -- collections -----------------------------------------------------------------------------


def test_collections(graph):
    tf.add_to_collection("things", 1)
    tf.add_to_collections(["things", "other"], 2)
    assert tf.get_collection("things") == [1, 2]
    assert tf.get_collection("other") == [2]
    assert tf.get_collection("missing") == []
    ref = tf.get_collection_ref("things")
    ref.append(3)
    assert tf.get_collection("things") == [1, 2, 3]
    copy = tf.get_collection("things")
    copy.append(4)
    assert tf.get_collection("things") == [1, 2, 3]
    assert sorted(graph.get_all_collection_keys()) == ["other", "things"]
    graph.clear_collection("other")
    assert tf.get_collection("other") == []


def test_collection_scope_filter():
    with tf.name_scope("layer1"):
        w1 = tf.Variable(1.0, name="w")
    with tf.name_scope("layer2"):
        w2 = tf.Variable(1.0, name="w", trainable=False)
    assert tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES) == [w1, w2]
    assert tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="layer2") == [w2]
    assert tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES) == [w1]
    assert tf.GraphKeys.GLOBAL_VARIABLES == "variables"
    assert tf.GraphKeys.TRAINABLE_VARIABLES == "trainable_variables"


# -- seeds -----------------------------------------------------------------------------------


def test_get_seed_rules(graph):
    assert tf.get_seed(None) == (None, None)
    assert tf.get_seed(5) == (DEFAULT_GRAPH_SEED, 5)
    tf.set_random_seed(3)
    tf.constant(1)
    tf.constant(2)
    assert tf.get_seed(None) == (3, graph._last_id) == (3, 2)
    assert tf.get_seed(7) == (3, 7)
    assert tf.get_seed(2**31 + 5) == (3, 6)
    tf.set_random_seed(0)
    assert tf.get_seed(0) == (0, 2**31 - 1)


def test_graph_seed_makes_random_ops_repeat():
    def draw():
        with tf.Graph().as_default():
            tf.set_random_seed(42)
            r = tf.random_uniform([4])
            with tf.Session() as sess:
                return sess.run(r), sess.run(r)

    first, second = draw()
    again, _ = draw()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)


# -- export ----------------------------------------------------------------------------------


def test_as_graph_def_and_write_graph(tmp_path, graph):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    y = tf.multiply(x, 2.0, name="y")
    gd = graph.as_graph_def()
    assert [n.name for n in gd.node] == ["x", "y/y", "y"]
    assert gd.node[2].input == ["x:0", "y/y:0"]
    assert '"math.mul"' in str(gd)
    path = tf.train.write_graph(graph, str(tmp_path / "logs"), "g.fir")
    assert path == str(tmp_path / "logs" / "g.fir")
    text = (tmp_path / "logs" / "g.fir").read_text()
    assert text == str(gd) + "\n" or text == str(gd)
    assert [p.name for p in (tmp_path / "logs").iterdir()] == ["g.fir"]  # no temp file left
    from flowir.ir import parse_graph, print_graph

    assert print_graph(parse_graph(text)).strip() == text.strip()
    assert y.name == "y:0"
    tf.train.write_graph(gd, str(tmp_path), "again.fir", as_text=False)
    assert (tmp_path / "again.fir").read_text().strip() == text.strip()
    with pytest.raises(TypeError, match="Graph or a GraphDef"):
        tf.train.write_graph("not a graph", str(tmp_path), "x.fir")


def test_written_graph_runs_through_flowir_opt(tmp_path):
    from flowir.cli import main

    a = tf.constant(2.0, name="a")
    tf.add(a, 3.0, name="b")
    path = tf.train.write_graph(tf.get_default_graph(), str(tmp_path), "g.fir")
    out = tmp_path / "out.fir"
    assert main(["opt", path, "--pipeline", "shape-inference,constant-fold", "-o", str(out)]) == 0
    assert "flowir.constant" in out.read_text()
