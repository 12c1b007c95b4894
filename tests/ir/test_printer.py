"""The printer: golden text of hand-built graphs, exact spellings, and print -> parse -> print."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import ml_dtypes
import numpy as np
import pytest

import flowir.ir.parser as parser_module
from flowir.ir import (
    DType,
    Floats,
    Graph,
    Ints,
    Location,
    Operation,
    ResourceType,
    ShapeKind,
    Strs,
    TensorType,
    Type,
    VerificationError,
    attr,
    ops,
    parse_graph,
    print_graph,
    register_op,
    variadic_operand,
    verify,
)
from flowir.ir.attributes import AttrKind, Dense
from flowir.ir.core import OP_REGISTRY, PURE
from flowir.ir.printer import Printer, format_attribute, format_dense, quote_string
from tests.golden_support import GOLDEN_DIR, assert_golden, update_golden_requested

F32 = DType.float32
NOWHERE = Location()


def tt(*shape: int | None, dtype: DType = F32) -> TensorType:
    return TensorType(dtype, shape)


# --------------------------------------------------------------------------------------------
# Test-only ops


class AttrsOp(Operation):
    """Holds one attribute of every kind; its result type does not depend on them."""

    name = "test.printer_attrs"
    traits = PURE
    flag = attr(bool, default=False)
    count = attr(int, default=0)
    scale = attr(float, default=1.0)
    label = attr(str, default="")
    dtype = attr(DType, default=DType.float32)
    ints = attr(Ints, default=None)
    floats = attr(Floats, default=None)
    strs = attr(Strs, default=None)
    shape = attr(ShapeKind, default=None)
    table = attr(Dense, default=None)
    anything = attr(AttrKind(), default=None)

    def infer_type(self) -> TensorType:
        return tt()


class SinkOp(Operation):
    """Takes any values and has no results."""

    name = "test.printer_sink"
    values = variadic_operand()

    def infer_type(self, values: tuple[Type, ...]) -> tuple[Type, ...]:
        return ()


@pytest.fixture(autouse=True, scope="module")
def _register_test_ops() -> Iterator[None]:
    """Make the test-only ops known while this module runs, and only then (registry-wide
    checks elsewhere must not see them)."""
    test_ops = [AttrsOp, SinkOp]
    for cls in test_ops:
        register_op(cls)
    yield
    for cls in test_ops:
        del OP_REGISTRY[cls.name]


# --------------------------------------------------------------------------------------------
# Graphs


def const(value: Any, name: str | None = None, loc: Location = NOWHERE) -> Operation:
    return ops.Constant.create(value=np.asarray(value) if not isinstance(value, np.ndarray) else value, name=name, loc=loc)


def placeholder(ty: Type, name: str, loc: Location = NOWHERE) -> Operation:
    return ops.Placeholder.create(name=name, loc=loc, result_types=[ty])


def mlp_graph() -> Graph:
    """A small MNIST-style classifier with constant and variable weights."""
    rng = np.random.default_rng(0)
    g = Graph("mlp")
    x = g.add_input(tt(None, 8), "images", Location("mnist.py", 5))
    w1 = g.append(const(rng.standard_normal((8, 4)).astype(np.float32), "layer1/W", Location("mnist.py", 9, "dense")))
    b1 = g.append(const(np.float32([0.5, -0.25, 0.0, 1.5]), "layer1/b", Location("mnist.py", 10, "dense")))
    h = g.append(ops.MatMul.create(x, w1.result, name="layer1/MatMul", loc=Location("mnist.py", 11, "dense")))
    h = g.append(ops.Add.create(h.result, b1.result, name="layer1/add", loc=Location("mnist.py", 11, "dense")))
    h = g.append(ops.Relu.create(h.result, name="layer1/Relu", loc=Location("mnist.py", 12, "dense")))
    var = g.append(ops.Variable.create(name="layer2/W", result_types=[ResourceType(tt(4, 3))], loc=Location("mnist.py", 14)))
    w2 = g.append(ops.Read.create(var.result, name="layer2/W/read", loc=Location("mnist.py", 14)))
    logits = g.append(ops.MatMul.create(h.result, w2.result, name="layer2/MatMul", loc=Location("mnist.py", 15)))
    probs = g.append(ops.Softmax.create(logits.result, name="probs", loc=Location("mnist.py", 16)))
    pred = g.append(ops.ArgMax.create(probs.result, axis=1, output_type=DType.int32, name="predict", loc=Location("mnist.py", 17)))
    g.set_outputs([probs.result, pred.result], ["probs", "predict"])
    return g


def multi_result_graph() -> Graph:
    """Multi-result ops, control dependencies, control tokens and a zero-result op."""
    g = Graph()
    x = g.add_input(tt(4, 6), "x")
    halves = g.append(ops.Split.create(x, axis=1, num=2, name="halves", loc=Location("split.py", 1)))
    parts = g.append(ops.Split.create(x, axis=1, sizes=[1, -1, 2], name="parts", loc=Location("split.py", 2, "parts")))
    s = g.append(ops.Add.create(halves.results[0], halves.results[1], name="sum", loc=NOWHERE))
    init = g.append(ops.NoOp.create(name="init", loc=NOWHERE))
    d = g.append(ops.Mul.create(s.result, s.result, control_deps=[init.result, parts.results[2]], loc=NOWHERE))
    g.append(SinkOp.create([parts.results[0], parts.results[1]], loc=NOWHERE))
    done = g.append(ops.Group.create(name="done", control_deps=[d.result, init.result], loc=NOWHERE))
    g.set_outputs([d.result, halves.results[1], done.result], ["d", None, "done"])
    return g


def attributes_graph() -> Graph:
    """Every attribute kind, default values omitted, special floats and escapes."""
    g = Graph()
    g.append(AttrsOp.create(loc=NOWHERE, name="defaults", flag=False, count=0, scale=1.0, label="", dtype=DType.float32))
    g.append(
        AttrsOp.create(
            loc=NOWHERE,
            name="all",
            flag=True,
            count=-3,
            scale=0.1,
            label='say "hi"\n',
            dtype=DType.bfloat16,
            ints=[1, -2, 2**63],
            floats=[1.0, -0.0, 1e-08, 1e16, 2.5e-300],
            strs=["a", "", "b\\c"],
            shape=[None, 3, 0],
            table=np.int32([[1, 2], [3, 4]]),
            anything=((1, 2.0), ("x", (True, None)), DType.string),
        )
    )
    g.append(AttrsOp.create(loc=NOWHERE, name="specials", scale=math.inf, floats=[-math.inf, math.nan, 3.0]))
    g.append(AttrsOp.create(loc=NOWHERE, name="empty", ints=[], strs=[], shape=[], anything=()))
    for dt in DType:
        g.append(AttrsOp.create(loc=NOWHERE, dtype=dt))
    g.append(AttrsOp.create(loc=NOWHERE, name="unknown-rank shape", shape=None, count=12345678901234567890))
    return g


def dense_graph() -> Graph:
    """Constants of every dtype in all three spellings: splat, nested literal and hex."""
    g = Graph()
    values: list[tuple[str, np.ndarray]] = [
        ("f32_nested", np.float32([[1.0, 2.5], [-3.0, 0.1]])),
        ("f32_splat", np.zeros((3, 3), np.float32)),
        ("f32_hex", np.arange(25, dtype=np.float32).reshape(5, 5) / 7),
        ("f32_empty", np.zeros((0, 3), np.float32)),
        ("f32_scalar", np.float32(2.0).reshape(())),
        ("f32_one", np.float32([7.0])),
        ("f32_specials", np.float32([np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-45, 3.4028235e38])),
        ("f32_nan_splat", np.full((2, 2), np.nan, np.float32)),
        ("f64", np.float64([0.1, 1 / 3, 1e300, -2.0])),
        ("f16", np.float16([0.1, 65504.0, 6e-08, -1.5])),
        ("bf16", np.array([0.1, 3.14159, -1e30, 1.0], dtype=ml_dtypes.bfloat16)),
        ("bf16_hex", np.arange(20, dtype=np.float32).astype(ml_dtypes.bfloat16)),
        ("i8", np.int8([-128, 127, 0])),
        ("ui8", np.uint8([0, 255])),
        ("i16", np.int16([-32768, 32767])),
        ("i32", np.int32([[1], [2], [3]])),
        ("i64", np.int64([-(2**63), 2**63 - 1])),
        ("i64_splat", np.full((4,), 7, np.int64)),
        ("i32_hex", np.arange(-8, 12, dtype=np.int32)),
        ("bool", np.array([True, False, True])),
        ("bool_splat", np.ones((2, 3), bool)),
        ("bool_hex", np.arange(20) % 3 == 0),
        ("str", np.array(["a", 'q"uote', "new\nline", "日本", "\x01"], dtype=object)),
        ("str_splat", np.array(["same"] * 3, dtype=object)),
        ("str_scalar", np.array("only", dtype=object)),
        ("str_empty", np.zeros((0, 2), dtype=object)),
        ("str_many", np.array([f"s{i}" for i in range(20)], dtype=object).reshape(4, 5)),
        ("bytes", np.array([b"\x00\xff", b"ok"], dtype=object)),
    ]
    for name, value in values:
        g.append(const(value, name))
    return g


def names_and_locations_graph() -> Graph:
    """Names that need escaping, locations with and without a function, a quoted graph name."""
    g = Graph("my graph")
    a = g.add_input(tt(2), 'in "quoted"', Location("C:\\models\\m.py", 3, "main"))
    b = g.add_input(tt(2), None, Location("m.py", 4))
    c = g.add_input(tt(2))
    s = g.append(ops.Add.create(a, b, name="résumé/日本", loc=Location("m.py", 10)))
    s = g.append(ops.Add.create(s.result, c, name="tab\there\x01\u2028", loc=Location("m.py", 11, "<lambda>")))
    s = g.append(ops.Add.create(s.result, c, name="", loc=NOWHERE))
    g.set_outputs([s.result], ['out\\"'])
    return g


def types_graph() -> Graph:
    """Every kind of type: unknown rank, rank 0, zero-size dims, strings, handles, tokens."""
    g = Graph()
    g.add_input(tt(None, None, dtype=DType.int64), "ids")
    tys = [
        TensorType(F32, None),
        tt(),
        tt(0, 3, dtype=DType.bool),
        tt(2, dtype=DType.string),
        tt(1, 2, 3, 4, dtype=DType.float16),
    ]
    outs = [g.append(placeholder(ty, f"p{i}")).result for i, ty in enumerate(tys)]
    var = g.append(ops.Variable.create(name="v", result_types=[ResourceType(tt(3, dtype=DType.bfloat16))], loc=NOWHERE))
    tok = g.append(ops.NoOp.create(loc=NOWHERE))
    g.set_outputs([*outs, var.result, tok.result])
    return g


def empty_graph() -> Graph:
    return Graph()


GRAPHS: dict[str, Callable[[], Graph]] = {
    "mlp": mlp_graph,
    "multi_result": multi_result_graph,
    "attributes": attributes_graph,
    "dense": dense_graph,
    "names_and_locations": names_and_locations_graph,
    "types": types_graph,
    "empty": empty_graph,
}


# --------------------------------------------------------------------------------------------
# Comparing graphs


def same_value(a: Any, b: Any) -> bool:
    """Attribute values equal in type and content (arrays: dtype, shape, bits, read-only)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        if a.dtype != b.dtype or a.shape != b.shape or b.flags.writeable:
            return False
        if a.dtype == object:
            return all(type(x) is type(y) and x == y for x, y in zip(a.ravel(), b.ravel()))
        return a.tobytes() == b.tobytes() or (a.dtype.kind == "f" and _same_floats(a, b))
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return repr(a) == repr(b)
    return a == b


def _same_floats(a: np.ndarray, b: np.ndarray) -> bool:
    # nan payloads need not survive a nested literal; everything else must be bit-identical.
    x, y = a.astype(np.float64), b.astype(np.float64)
    nan = np.isnan(x)
    return bool((nan == np.isnan(y)).all() and (x[~nan].tobytes() == y[~nan].tobytes()))


def assert_same_graph(g: Graph, h: Graph) -> None:
    assert g.name == h.name
    assert [(a.type, a.name, a.location) for a in g.inputs] == [(a.type, a.name, a.location) for a in h.inputs]
    ops_g = [*g.ops, *([g.return_op] if g.return_op else [])]
    ops_h = [*h.ops, *([h.return_op] if h.return_op else [])]
    assert len(ops_g) == len(ops_h)
    for x, y in zip(ops_g, ops_h):
        assert type(x) is type(y)
        assert (x.user_name, x.location) == (y.user_name, y.location)
        assert [r.type for r in x.results] == [r.type for r in y.results]
        assert [v.type for v in x.operands] == [v.type for v in y.operands]
        assert len(x.control_deps) == len(y.control_deps)
        assert list(x.attributes) == list(y.attributes) or sorted(x.attributes) == sorted(y.attributes)
        for key, value in x.attributes.items():
            assert same_value(value, y.attributes[key]), (x.describe_op(), key, value, y.attributes[key])


# --------------------------------------------------------------------------------------------
# Golden files


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return update_golden_requested(request.config)


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_golden(name: str, update_golden: bool) -> None:
    g = GRAPHS[name]()
    verify(g)
    assert_golden(GOLDEN_DIR / "printer" / f"{name}.fir", print_graph(g), update=update_golden)


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "token-path"])
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_round_trip(name: str, fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parser_module, "_FAST_PATH", fast)
    g = GRAPHS[name]()
    text = print_graph(g)
    h = parse_graph(text, filename=f"{name}.fir")
    assert print_graph(h) == text
    assert_same_graph(g, h)


# --------------------------------------------------------------------------------------------
# Exact spellings


def test_example_of_the_design() -> None:
    g = Graph()
    x = g.add_input(tt(None, 784), "x")
    g.add_input(ResourceType(tt(3)))
    p = g.append(placeholder(tt(None, 784), "inputs/x", Location("mnist.py", 12)))
    c = g.append(const(np.float32([1.0, 2.5]), "c", Location("mnist.py", 13, "build")))
    parts = g.append(ops.Split.create(c.result, num=2, loc=NOWHERE))
    s = g.append(ops.Add.create(parts.results[0], parts.results[1], name="layer1/add", loc=NOWHERE, control_deps=[p.result]))
    g.append(ops.Group.create(control_deps=[s.result], loc=NOWHERE))
    g.set_outputs([s.result, x], ["out", "x"])
    assert print_graph(g) == (
        'flowir.graph @main(%arg0: tensor<?x784xf32> {name = "x"}, %arg1: !flowir.var<tensor<3xf32>>) {\n'
        '  %0 = "flowir.placeholder"() {name = "inputs/x"} : () -> tensor<?x784xf32> loc("mnist.py":12)\n'
        '  %1 = "flowir.constant"() {name = "c", value = dense<[1.0, 2.5]> : tensor<2xf32>} : () -> tensor<2xf32> loc("build"("mnist.py":13))\n'
        '  %2:2 = "array.split"(%1) {num = 2} : (tensor<2xf32>) -> (tensor<1xf32>, tensor<1xf32>)\n'
        '  %3 = "math.add"(%2#0, %2#1) [%0] {name = "layer1/add"} : (tensor<1xf32>, tensor<1xf32>) -> tensor<1xf32>\n'
        '  %4 = "control.group"() [%3] : () -> !flowir.control\n'
        '  "flowir.return"(%3, %arg0) {names = ["out", "x"]} : (tensor<1xf32>, tensor<?x784xf32>) -> ()\n'
        "}\n"
    )


@pytest.mark.parametrize(
    ("s", "quoted"),
    [
        ("plain/name_1", '"plain/name_1"'),
        ('a"b', '"a\\"b"'),
        ("a\\b", '"a\\\\b"'),
        ("l1\nl2\tx", '"l1\\nl2\\tx"'),
        ("\x00\x7f\r", '"\\00\\7F\\0D"'),
        ("résumé 日本", '"résumé 日本"'),
        ("\u2028", '"\\E2\\80\\A8"'),
        ("\ud800", '"\\ED\\A0\\80"'),
        ("", '""'),
    ],
)
def test_quote_string(s: str, quoted: str) -> None:
    assert quote_string(s) == quoted


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (-3, "-3"),
        (1.0, "1.0"),
        (1e-08, "1e-08"),
        (1e16, "1e+16"),
        (0.1, "0.1"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (math.nan, "nan"),
        (-0.0, "-0.0"),
        (DType.float32, "f32"),
        (DType.bool, "i1"),
        (DType.uint8, "ui8"),
        (DType.string, "string"),
        (DType.bfloat16, "bf16"),
        ((1, (2.0, None), "x"), '[1, [2.0, none], "x"]'),
        ((), "[]"),
        (None, "none"),
        (b"\x00a", 'b"\\00a"'),
        (np.int64(5), "5"),
        (np.float32(0.5), "0.5"),
    ],
)
def test_format_attribute(value: Any, text: str) -> None:
    assert format_attribute(value) == text


def test_format_attribute_rejects_other_objects() -> None:
    with pytest.raises(TypeError, match="cannot print attribute value"):
        format_attribute(object())


@pytest.mark.parametrize(
    ("array", "text"),
    [
        (np.zeros((2, 3), np.float32), "dense<0.0> : tensor<2x3xf32>"),
        (np.float32([[1, 2], [3, 4]]), "dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>"),
        (np.float32(1.0).reshape(()), "dense<1.0> : tensor<f32>"),
        (np.float32([1.0]), "dense<[1.0]> : tensor<1xf32>"),
        (np.float32([1.0, -0.0]), "dense<[1.0, -0.0]> : tensor<2xf32>"),
        (np.float32([0.0, -0.0]), "dense<[0.0, -0.0]> : tensor<2xf32>"),
        (np.float32([0.1, 16777216.0]), "dense<[0.1, 16777216.0]> : tensor<2xf32>"),
        (np.float16([0.1, 65504]), "dense<[0.1, 65500.0]> : tensor<2xf16>"),
        (np.array([0.1, 1.0], dtype=ml_dtypes.bfloat16), "dense<[0.1, 1.0]> : tensor<2xbf16>"),
        (np.float32([1.0, 1.0, 1.0, 1.0, 1.0]).reshape(5, 1)[:, 0], "dense<1.0> : tensor<5xf32>"),
        (np.array([True, False]), "dense<[true, false]> : tensor<2xi1>"),
        (np.ones(3, bool), "dense<true> : tensor<3xi1>"),
        (np.float32([1.0] + [0.0] * 16), 'dense<"0x0000803F' + "00000000" * 16 + '"> : tensor<17xf32>'),
        (np.zeros(0, np.int32), 'dense<"0x"> : tensor<0xi32>'),
        (np.array(["a", "b"], dtype=object), 'dense<["a", "b"]> : tensor<2xstring>'),
        (np.array(["a", "a"]), 'dense<"a"> : tensor<2xstring>'),
        (np.zeros((2, 0), dtype=object), "dense<[[], []]> : tensor<2x0xstring>"),
    ],
)
def test_format_dense(array: np.ndarray, text: str) -> None:
    assert format_dense(array) == text


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16, np.float32, np.float64])
def test_float_elements_read_back_exactly(dtype: Any) -> None:
    """Every element printed in a nested literal parses back to the same bits."""
    rng = np.random.default_rng(1)
    nbits = np.dtype(dtype).itemsize * 8
    bits = rng.integers(0, 2**nbits, size=4000, dtype=np.uint64).astype(f"u{nbits // 8}")
    values = bits.view(dtype)
    with np.errstate(invalid="ignore"):
        values = values[np.isfinite(values.astype(np.float64))]
    for chunk in np.array_split(values, len(values) // 16):
        a = np.ascontiguousarray(chunk)
        g = Graph()
        g.append(const(a))
        h = parse_graph(print_graph(g))
        back = h.first_op.attributes["value"]  # type: ignore[union-attr]
        assert back.tobytes() == a.tobytes()


def test_explicit_default_attributes_are_not_printed() -> None:
    g = Graph()
    x = g.add_input(tt(2, 2))
    op = g.append(ops.MatMul([x, x], [tt(2, 2)], {"transpose_a": False, "transpose_b": True}, location=NOWHERE))
    assert '{transpose_b = true}' in Printer(g).op_line(op)
    assert "transpose_a" not in print_graph(g)


def test_printed_ids_ignore_user_names() -> None:
    g = Graph()
    x = g.add_input(tt(2), "%0")
    a = g.append(ops.Add.create(x, x, name="%5", loc=NOWHERE))
    g.append(ops.Add.create(a.result, x, name="7", loc=NOWHERE))
    lines = print_graph(g).splitlines()
    assert lines[1] == '  %0 = "math.add"(%arg0, %arg0) {name = "%5"} : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>'
    assert lines[2].startswith('  %1 = "math.add"(%0, %arg0) {name = "7"}')


def test_nearby_marks_the_op() -> None:
    g = Graph()
    x = g.add_input(tt(2))
    adds = []
    v = x
    for _ in range(6):
        op = g.append(ops.Add.create(v, x, loc=NOWHERE))
        adds.append(op)
        v = op.result
    g.set_outputs([v])
    p = Printer(g)
    lines = p.nearby(adds[2], 1)
    assert lines == [
        '   %1 = "math.add"(%0, %arg0) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>',
        '>> %2 = "math.add"(%1, %arg0) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>',
        '   %3 = "math.add"(%2, %arg0) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>',
    ]
    assert p.nearby(adds[0], 2)[0].startswith(">> %0 = ")
    tail = p.nearby(g.return_op, 1)  # type: ignore[arg-type]
    assert tail[-1] == '>> "flowir.return"(%5) : (tensor<2xf32>) -> ()'
    assert len(tail) == 2


def test_broken_graphs_still_print_for_diagnostics() -> None:
    other = Graph()
    foreign = other.add_input(tt(2))
    g = Graph()
    x = g.add_input(tt(2))
    bad = g.append(ops.Add([x, foreign], [tt(3)], {}, location=NOWHERE))
    assert Printer(g).op_line(bad) == '%0 = "math.add"(%arg0, <<UNKNOWN SSA VALUE>>) : (tensor<2xf32>, tensor<2xf32>) -> tensor<3xf32>'
    with pytest.raises(VerificationError) as info:
        verify(g)
    assert '>> %0 = "math.add"(%arg0, <<UNKNOWN SSA VALUE>>)' in str(info.value)


def test_str_of_a_graph_is_its_text() -> None:
    g = mlp_graph()
    assert str(g) == print_graph(g)


def test_verifier_shows_nearby_ir() -> None:
    g = Graph()
    x = g.add_input(tt(2))
    a = g.append(ops.Add.create(x, x, loc=NOWHERE))
    g.append(ops.Neg([a.result], [tt(5)], {}, location=Location("m.py", 3)))
    with pytest.raises(VerificationError) as info:
        verify(g)
    text = str(info.value)
    assert '   %0 = "math.add"(%arg0, %arg0)' in text
    assert '>> %1 = "math.neg"(%0) : (tensor<2xf32>) -> tensor<5xf32> loc("m.py":3)' in text


def test_device_round_trips() -> None:
    from flowir.ir import DType, Graph, TensorType, parse_graph, print_graph
    from flowir.ir.ops import Neg, Placeholder

    g = Graph()
    x = g.append(Placeholder.create(name="x", result_types=[TensorType(DType.float32, (2,))], device="/device:CPU:0"))
    g.append(Neg.create(x.result, device="/device:GPU:1"))
    text = print_graph(g)
    assert '{name = "x", device = "/device:CPU:0"}' in text
    assert '{device = "/device:GPU:1"}' in text
    g2 = parse_graph(text)
    assert [op.device for op in g2.ops] == ["/device:CPU:0", "/device:GPU:1"]
    assert print_graph(g2) == text
