"""The ONNX export rule table and the driver that turns a flowir graph into a ``ModelProto``.

An export rule writes one op as ONNX nodes::

    @export_rule(ops.Relu)
    def _relu(ctx: ExportContext, op: ops.Relu, x: str) -> list[str]:
        return ctx.node("Relu", [x], ctx.outs)

It receives the ONNX names of the op's operands (a variadic operand's names spread out) and
returns the names holding its results, in order. ``ctx.outs`` are the names the results
should get (the user's names; a graph output's own name): a rule writes its last node into
them, or returns another name (an operand, for an op that is the identity), which the driver
then uses in their place. Rules see ``ctx.opset`` and use the helpers that follow the
attribute-to-input changes between opsets (``ctx.reduce``, ``ctx.split``).

``export_graph`` is the whole path: the pruned subgraph from the inputs to the outputs,
variables frozen as initializers, ``legalize`` for ONNX, symbolic dims named, rules run, and
the model checked by ``onnx.checker`` (full check) and strict ONNX shape inference against
flowir's own types.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from flowir.backends.onnx.opsets import check_opset, ir_version_for
from flowir.ir.core import Graph, Operation, Trait, Value
from flowir.ir.dtypes import DType
from flowir.ir.errors import FlowirError, UnsupportedOpError
from flowir.ir.ops import core as core_ops
from flowir.ir.ops import state as state_ops
from flowir.ir.types import TensorType, Type, format_shape

__all__ = [
    "EXPORT_RULES",
    "UNSUPPORTED",
    "PRIMARY_OPS",
    "WIDER",
    "ExportRule",
    "ExportContext",
    "export_rule",
    "unsupported",
    "export_graph",
    "is_exportable",
    "onnx_dtype",
    "INT64_MAX",
    "INT64_MIN",
    "save_model",
]

#: ``rule(ctx, op, *operand_names) -> result names``.
ExportRule = Callable[..., Sequence[str | None]]

EXPORT_RULES: dict[type[Operation], ExportRule] = {}

#: Ops deliberately without an export rule (and no legalization), with the reason.
UNSUPPORTED: dict[type[Operation], str] = {}

#: The ONNX op whose type constraint on its first input decides whether an op's operands are
#: widened first (``WIDER``): ONNX has, say, no int8 ``CumSum`` and no float16 ``Erf`` before
#: some opset. Computing in the wider type and casting back once is what flowir's own
#: semantics say for the half floats, and gives the same wrapped results for small integers.
PRIMARY_OPS: dict[type[Operation], str] = {}

#: The dtypes a dtype is computed in, first choice first, when its ONNX op lacks it (each
#: holds every value of the narrow one, except int64 beyond 2**53 in float64).
WIDER: dict[DType, tuple[DType, ...]] = {
    DType.int8: (DType.int32, DType.int64, DType.float32, DType.float64),
    DType.int16: (DType.int32, DType.int64, DType.float32, DType.float64),
    DType.uint8: (DType.int32, DType.int64, DType.float32, DType.float64),
    DType.int32: (DType.int64, DType.float64),
    DType.int64: (DType.float64,),
    DType.float16: (DType.float32, DType.float64),
    DType.bfloat16: (DType.float32, DType.float64),
}

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min

_ONNX_DTYPES: dict[DType, int] = {
    DType.bool: TensorProto.BOOL,
    DType.int8: TensorProto.INT8,
    DType.int16: TensorProto.INT16,
    DType.int32: TensorProto.INT32,
    DType.int64: TensorProto.INT64,
    DType.uint8: TensorProto.UINT8,
    DType.float16: TensorProto.FLOAT16,
    DType.bfloat16: TensorProto.BFLOAT16,
    DType.float32: TensorProto.FLOAT,
    DType.float64: TensorProto.DOUBLE,
    DType.string: TensorProto.STRING,
}


def onnx_dtype(dtype: DType) -> int:
    """The ``TensorProto`` element type of a flowir dtype."""
    return _ONNX_DTYPES[dtype]


def export_rule(*ops: type[Operation]) -> Callable[[ExportRule], ExportRule]:
    """Register the decorated function as the ONNX export rule of ``ops``."""

    def register(fn: ExportRule) -> ExportRule:
        for op in ops:
            if op in EXPORT_RULES:
                raise TypeError(f"{op.name} has two ONNX export rules")
            EXPORT_RULES[op] = fn
        return fn

    return register


def unsupported(reason: str, *ops: type[Operation]) -> None:
    """Record that ``ops`` do not export, and why."""
    for op in ops:
        UNSUPPORTED[op] = reason


def is_exportable(op: Operation) -> bool:
    """Whether an export rule takes ``op`` (legalization must have rewritten the others)."""
    return type(op) in EXPORT_RULES


# --------------------------------------------------------------------------------------------
# The context rules write into


class ExportContext:
    """The ONNX graph being written, and what a rule may ask of it.

    ``opset``: the default-domain opset. ``op``: the op being exported; ``outs``: the names its
    results should get. ``types``: the flowir type of each ONNX name that holds a flowir value.
    """

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.types: dict[str, Type] = {}
        self.op: Operation | None = None
        self.outs: list[str] = []
        #: The names of the model's outputs (a constant that is one needs a node).
        self.graph_outputs: set[str] = set()
        self._taken: set[str] = set()
        self._node_names: set[str] = set()
        self._consts: dict[tuple, str] = {}
        self._dtypes: dict[Value, DType] = {}

    # -- names ------------------------------------------------------------------------------

    def reserve(self, name: str) -> str:
        """``name``, or ``name_1``, ``name_2`` ... whichever is free; marks it taken."""
        base = name or "v"
        candidate, k = base, 0
        while candidate in self._taken:
            k += 1
            candidate = f"{base}_{k}"
        self._taken.add(candidate)
        return candidate

    def fresh(self, hint: str) -> str:
        """A new value name under the current op's name (``dense/MatMul/Transpose``)."""
        base = self.op.user_name if self.op is not None and self.op.user_name else "tmp"
        return self.reserve(f"{base}/{hint}")

    def _node_name(self, op_type: str) -> str:
        op = self.op
        base = op.user_name if op is not None and op.user_name else op_type
        name = base if base not in self._node_names else f"{base}/{op_type}"
        candidate, k = name, 0
        while candidate in self._node_names:
            k += 1
            candidate = f"{name}_{k}"
        self._node_names.add(candidate)
        return candidate

    # -- nodes ------------------------------------------------------------------------------

    def node(
        self, op_type: str, inputs: Sequence[str], outputs: Sequence[str] | int = 1, **attrs: Any
    ) -> list[str]:
        """Add a node; ``outputs`` are names or a count of fresh names. Returns the output names.

        The first node of an op is named like the op (its user name), later ones
        ``<name>/<op_type>``, so a user finds their layers under their own names.
        """
        names = [self.fresh(op_type) for _ in range(outputs)] if isinstance(outputs, int) else list(outputs)
        empty = [k for k, v in attrs.items() if isinstance(v, (list, tuple)) and not v]
        attrs = {k: v for k, v in attrs.items() if v is not None and k not in empty}
        node = helper.make_node(op_type, list(inputs), names, name=self._node_name(op_type), **attrs)
        # An empty list has no element to tell its type by: the attributes that take one are ints.
        node.attribute.extend(helper.make_attribute(k, [], attr_type=onnx.AttributeProto.INTS) for k in empty)
        self.nodes.append(node)
        return names

    def one(self, op_type: str, inputs: Sequence[str], **attrs: Any) -> str:
        """A node with one fresh output; its name."""
        return self.node(op_type, inputs, 1, **attrs)[0]

    def final(self, op_type: str, inputs: Sequence[str], **attrs: Any) -> list[str]:
        """A node writing the op's (single) result under its own name."""
        return self.node(op_type, inputs, self.outs[:1], **attrs)

    # -- constants --------------------------------------------------------------------------

    def const(self, array: Any, hint: str = "const", *, name: str | None = None) -> str:
        """An initializer holding ``array``; equal small constants are shared."""
        a = np.asarray(array)
        key = None
        if name is None and a.size <= 16 and a.dtype != object:
            key = (a.dtype.str, a.shape, a.tobytes())
            found = self._consts.get(key)
            if found is not None:
                return found
        n = self.reserve(name) if name is not None else self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(a.copy(order="C"), n))
        if key is not None:
            self._consts[key] = n
        return n

    def ints(self, values: Sequence[int], hint: str = "ints") -> str:
        """A 1-D int64 constant (axes, shapes, pads)."""
        return self.const(np.asarray(list(values), dtype=np.int64).reshape(-1), hint)

    def scalar(self, value: Any, dtype: DType, hint: str = "scalar") -> str:
        """A rank-0 constant of ``dtype``."""
        return self.const(np.asarray(value, dtype=dtype.numpy), hint)

    # -- helpers across opsets ----------------------------------------------------------------

    def reduce(self, op_type: str, x: str, axes: Sequence[int] | None, keepdims: bool, outputs: Sequence[str] | int = 1) -> str:
        """``op_type`` (``ReduceSum`` ...) over ``axes`` (``None``: all); axes are an input
        from opset 13 (ReduceSum) or 18 (the others), an attribute before."""
        as_input = self.opset >= (13 if op_type == "ReduceSum" else 18)
        keep = int(bool(keepdims))
        if axes is None:
            return self.node(op_type, [x], outputs, keepdims=keep)[0]
        if as_input:
            return self.node(op_type, [x, self.ints(axes, "axes")], outputs, keepdims=keep)[0]
        return self.node(op_type, [x], outputs, keepdims=keep, axes=list(axes))[0]

    def cast(self, x: str, dtype: DType) -> str:
        """``Cast(x)`` to flowir dtype ``dtype``; the new value's name."""
        return self.one("Cast", [x], to=onnx_dtype(dtype))

    def shape_of(self, x: str, start: int | None = None, end: int | None = None) -> str:
        """``Shape(x)`` (int64), optionally sliced to ``[start, end)``."""
        return self.one("Shape", [x], start=start, end=end)

    def dim(self, x: str, axis: int) -> str:
        """Dim ``axis`` of ``x`` as a 1-element int64 tensor."""
        return self.shape_of(x, axis, axis + 1) if axis != -1 else self.shape_of(x, -1)

    def unsqueeze(self, x: str, axes: Sequence[int], outputs: Sequence[str] | int = 1) -> str:
        """``Unsqueeze(x)`` inserting size-1 dims at ``axes`` (an int64 initializer, opset 13+)."""
        return self.node("Unsqueeze", [x, self.ints(axes, "axes")], outputs)[0]

    def squeeze(self, x: str, axes: Sequence[int], outputs: Sequence[str] | int = 1) -> str:
        """``Squeeze(x)`` removing the size-1 dims at ``axes`` (an int64 initializer, opset 13+)."""
        return self.node("Squeeze", [x, self.ints(axes, "axes")], outputs)[0]

    def split(self, x: str, axis: int, sizes: Sequence[int] | str, outputs: Sequence[str]) -> list[str]:
        """``x`` split along ``axis`` into pieces of ``sizes`` (a list, or a tensor name)."""
        split = sizes if isinstance(sizes, str) else self.ints(sizes, "split")
        return self.node("Split", [x, split], outputs, axis=axis)

    def dtype(self, value: Value) -> DType:
        """The element type ``value`` has in the ONNX graph: its own, or the one it was widened
        to for the current op (see ``PRIMARY_OPS``)."""
        found = self._dtypes.get(value)
        return found if found is not None else value.type.dtype  # type: ignore[attr-defined]

    def type_of(self, value: Value) -> TensorType:
        """``value``'s tensor type; ``UnsupportedOpError`` for a value that is not a tensor
        (a resource, a control token), which ONNX cannot hold."""
        ty = value.type
        if type(ty) is not TensorType:
            raise UnsupportedOpError(f"{value.describe()} is not a tensor; ONNX values are tensors")
        return ty  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# The driver


def export_graph(
    graph: Graph,
    inputs: Sequence[Value],
    outputs: Sequence[Value],
    *,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    variables: Mapping[str, Any] | None = None,
    opset: int | None = None,
    dynamic_dims: bool = True,
    check: bool = True,
    graph_name: str | None = None,
) -> onnx.ModelProto:
    """The ONNX model computing ``outputs`` of ``graph`` from ``inputs``.

    Only what the outputs need is exported, cut at the inputs (values of ``graph``: graph
    inputs, placeholders or any op result). ``input_names``/``output_names`` name the model's
    inputs and outputs (default: the values' names). Each variable read becomes an
    initializer named like the variable, holding ``variables[name]`` (a session's values),
    or, when ``variables`` is ``None``, the variable's initial value if it is a constant
    expression. Wildcard dims become ``dim_param`` symbols with ``dynamic_dims`` (one name
    per class of provably equal dims), unnamed dims otherwise. ``opset`` defaults to the
    newest the installed onnxruntime runs. With ``check`` the model is checked by
    ``onnx.checker.check_model(full_check=True)`` and strict ONNX shape inference, whose
    output types must agree with flowir's.

    Raises, before anything is built: ``FlowirError`` for a needed placeholder that is not an
    input, an output that needs a variable update or optimizer state (naming it, and why), a
    variable without a value; ``UnsupportedOpError`` listing every op that does not export.
    """
    from flowir.ir.transforms import extract_subgraph
    from flowir.ir.verifier import verify
    from flowir.passes.legalize import LegalizePass
    from flowir.passes.prune import PruneDeadNodesPass
    from flowir.passes.symbolic_dims import bind_proven_sizes, symbolic_dims

    opset = check_opset(opset)
    inputs, outputs = list(inputs), list(outputs)
    in_names = list(input_names) if input_names is not None else [_default_name(v, "input", i) for i, v in enumerate(inputs)]
    out_names = list(output_names) if output_names is not None else [_default_name(v, "output", i) for i, v in enumerate(outputs)]
    if len(in_names) != len(inputs) or len(out_names) != len(outputs):
        raise ValueError("export_graph: one name per input and per output")
    if not outputs:
        raise FlowirError("nothing to export: give at least one output")
    for what, names in (("input", in_names), ("output", out_names)):
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise FlowirError(f"{what} names must be unique; repeated: {', '.join(map(repr, dup))}")
    clash = sorted(set(in_names) & set(out_names))
    if clash:
        raise FlowirError(f"a name cannot be both an input and an output: {', '.join(map(repr, clash))}")
    for v, n in zip(outputs, out_names):
        if type(v.type) is not TensorType:
            raise FlowirError(f"output {n!r} is {v.type.describe()}, not a tensor: ONNX outputs are tensors")  # type: ignore[attr-defined]

    sub, _ = extract_subgraph(graph, outputs, inputs, name=graph_name or graph.name)
    _check_needed(sub, out_names)
    _freeze_variables(sub, graph, variables, out_names)
    # ONNX has no control edges: what the outputs reach only through them (no-ops, groups,
    # side effects of pure ops) is not part of the model.
    for op in [*sub.ops, sub.return_op]:
        if op is not None and op.control_deps:
            op.set_control_deps([])
    sub = PruneDeadNodesPass().run(sub).graph
    # Twice: before legalization the catalog ops' own rules (a loss's labels and logits have
    # one shape) prove more about the inputs than the broadcasting ONNX ops they decompose
    # into; after it, every value the model names gets its symbols from those facts.
    inputs_known = None
    if dynamic_dims:
        inputs_known = bind_proven_sizes(sub, sub.inputs)
    sub = LegalizePass(legal=_legal, target="onnx").run(sub).graph
    sub = PruneDeadNodesPass().run(sub).graph
    verify(sub)
    dims = symbolic_dims(sub, known=inputs_known) if dynamic_dims else None

    for what, values, names_ in (("input", sub.inputs, in_names), ("output", sub.outputs, out_names)):
        for v, n in zip(values, names_):
            if type(v.type) is TensorType and v.type.shape is None:  # type: ignore[attr-defined]
                raise FlowirError(
                    f"{what} {n!r} has unknown rank ({v.type.describe()}): ONNX model inputs and outputs need a "  # type: ignore[attr-defined]
                    "known rank; give the tensor a shape (a placeholder's shape, a reshape)"
                )

    ctx = ExportContext(opset)
    names: dict[Value, str | None] = {}
    dim_names: dict[Any, str] = {}

    def onnx_type(v: Value, name: str) -> onnx.TypeProto:
        ty = ctx.type_of(v)
        shape: list[int | str | None] | None
        if ty.shape is None:
            shape = None
        else:
            sym = dims.exact_shape(v) if dims is not None else None
            shape = []
            for axis, d in enumerate(ty.shape):
                if d is not None:
                    shape.append(d)
                elif sym is None:
                    shape.append(None)
                else:
                    s = sym[axis]
                    if isinstance(s, int):
                        # Every run flowir accepts has this size here (a wildcard that a
                        # same-shape rule matches against a static dim).
                        shape.append(s)
                    else:
                        shape.append(dim_names.setdefault(s, f"{name}_dim{axis}"))
        return helper.make_tensor_type_proto(onnx_dtype(ty.dtype), shape)

    graph_inputs = []
    for arg, n in zip(sub.inputs, in_names):
        names[arg] = ctx.reserve(n)
        graph_inputs.append(helper.make_value_info(names[arg], onnx_type(arg, n)))
    for n in out_names:
        ctx.reserve(n)
    ctx.graph_outputs = set(out_names)
    out_values = sub.outputs
    wanted: dict[Value, str] = {}
    for v, n in zip(out_values, out_names):
        wanted.setdefault(v, n)

    value_infos = []
    for op in sub.ops:
        rule = EXPORT_RULES[type(op)]
        ctx.op = op
        ctx.outs = [wanted.get(r) or ctx.reserve(_result_name(r, i)) for i, r in enumerate(op.results)]
        args = []
        for v in op.operands:
            n = names.get(v)
            if n is None:
                raise FlowirError(f"{op.describe_op()}: operand {v.describe()} has no ONNX value")
            args.append(n)
        try:
            got = _run_rule(ctx, rule, op, args)
        except FlowirError as e:
            op.annotate_error(e)
            raise
        if len(got) != len(op.results):
            raise FlowirError(f"the ONNX rule of {op.describe_op()} returned {len(got)} values for {len(op.results)} results")
        for r, want, have in zip(op.results, ctx.outs, got):
            names[r] = have
            if have == want and type(r.type) is TensorType and r.type.shape is not None and r not in wanted:  # type: ignore[attr-defined]
                value_infos.append(helper.make_value_info(want, onnx_type(r, want)))
    ctx.op = None
    ctx.outs = []

    graph_outputs = []
    for v, n in zip(out_values, out_names):
        have = names.get(v)
        if have != n:
            ctx.node("Identity", [have], [n])  # type: ignore[list-item]
        graph_outputs.append(helper.make_value_info(n, onnx_type(v, n)))

    # Rules that read only an operand's static type (a split's sizes) leave its value unused.
    used = {n for node in ctx.nodes for n in node.input} | set(out_names)
    initializers = [t for t in ctx.initializers if t.name in used]
    onnx_graph = helper.make_graph(
        ctx.nodes, graph_name or graph.name, graph_inputs, graph_outputs, initializer=initializers, value_info=value_infos
    )
    model = helper.make_model(
        onnx_graph,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="flowir",
        producer_version=_flowir_version(),
    )
    model.ir_version = ir_version_for(opset)
    if check:
        check_model(model, sub.outputs, out_names)
    return model


def check_model(model: onnx.ModelProto, values: Sequence[Value], names: Sequence[str]) -> None:
    """Run ``onnx.checker`` (full check) and strict shape inference on ``model`` and compare
    the inferred output types with the flowir types of ``values``.

    Raises ``FlowirError`` (an exporter bug, not a user mistake) when either fails.
    """
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        raise FlowirError(f"the exported model fails onnx.checker (an exporter bug): {e}") from e
    bare = onnx.ModelProto()
    bare.CopyFrom(model)
    for out in bare.graph.output:
        out.type.tensor_type.ClearField("shape")
    try:
        inferred = onnx.shape_inference.infer_shapes(bare, check_type=True, strict_mode=True, data_prop=True)
    except onnx.shape_inference.InferenceError as e:
        raise FlowirError(f"the exported model fails strict ONNX shape inference (an exporter bug): {e}") from e
    got = {o.name: o.type.tensor_type for o in inferred.graph.output}
    for v, n in zip(values, names):
        ty: TensorType = v.type  # type: ignore[assignment]
        tt = got[n]
        if tt.elem_type != onnx_dtype(ty.dtype):
            raise FlowirError(f"output {n!r}: ONNX infers element type {tt.elem_type}, flowir {ty.dtype.value}")
        if ty.shape is None or not tt.HasField("shape"):
            continue
        inferred_shape = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        if len(inferred_shape) != len(ty.shape) or any(
            a is not None and b is not None and a != b for a, b in zip(inferred_shape, ty.shape)
        ):
            raise FlowirError(
                f"output {n!r}: ONNX infers shape {format_shape(tuple(inferred_shape))}, flowir {format_shape(ty.shape)} "
                "(an exporter bug)"
            )


def _flowir_version() -> str:
    # The package's own __version__ lives in flowir/__init__.py, which imports the frontends.
    import importlib.metadata

    try:
        return importlib.metadata.version("flowir")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def save_model(model: onnx.ModelProto, path: str) -> int:
    """Write ``model`` to ``path`` atomically (readers see the old file or the whole new one);
    the number of bytes written."""
    from flowir import _fileio

    data = model.SerializeToString()
    _fileio.write_atomically(path, data)
    return len(data)


def _run_rule(ctx: ExportContext, rule: ExportRule, op: Operation, args: list[str]) -> list[str]:
    """Run ``rule``; when its ONNX op lacks the operands' dtype, on widened operands, with the
    results cast back to their dtypes."""
    wide = _widening(op, ctx.opset)
    if not wide:
        return list(rule(ctx, op, *args))  # type: ignore[arg-type]
    wanted = ctx.outs
    for v in op.operands:
        if type(v.type) is TensorType and v.type.dtype in wide:  # type: ignore[attr-defined]
            ctx._dtypes[v] = wide[v.type.dtype]  # type: ignore[attr-defined]
    args = [ctx.cast(a, ctx._dtypes[v]) if v in ctx._dtypes else a for a, v in zip(args, op.operands)]
    ctx.outs = [ctx.fresh("wide") for _ in op.results]
    try:
        got = list(rule(ctx, op, *args))
    finally:
        ctx._dtypes.clear()
        ctx.outs = wanted
    out = []
    for r, name, want in zip(op.results, got, wanted):
        dtype = r.type.dtype if type(r.type) is TensorType else None  # type: ignore[attr-defined]
        if dtype in wide and name is not None:
            name = ctx.node("Cast", [name], [want], to=onnx_dtype(dtype))[0]  # type: ignore[arg-type]
        out.append(name)
    return out


_ALLOWED: dict[tuple[str, int], frozenset[str]] = {}


def _widening(op: Operation, opset: int) -> dict[DType, DType] | None:
    primary = PRIMARY_OPS.get(type(op))
    if primary is None:
        return None
    allowed = _ALLOWED.get((primary, opset))
    if allowed is None:
        schema = onnx.defs.get_schema(primary, opset)
        param = schema.inputs[0].type_str
        allowed = frozenset(
            t for c in schema.type_constraints if c.type_param_str == param for t in c.allowed_type_strs
        ) or frozenset({param})
        _ALLOWED[(primary, opset)] = allowed
    wide = {}
    for v in op.operands:
        dtype = getattr(v.type, "dtype", None)
        if dtype in WIDER and _type_str(dtype) not in allowed:
            choice = next((w for w in WIDER[dtype] if _type_str(w) in allowed), None)
            if choice is not None:
                wide[dtype] = choice
    return wide or None


@functools.cache
def _type_str(dtype: DType) -> str:
    """ONNX's spelling of a tensor type in type constraints (``tensor(float)``)."""
    return "tensor(" + onnx.helper.tensor_dtype_to_string(onnx_dtype(dtype)).removeprefix("TensorProto.").lower() + ")"


def _legal(op: Operation) -> bool:
    return type(op) in EXPORT_RULES or type(op) in (state_ops.Variable,)


def _default_name(v: Value, what: str, i: int) -> str:
    n = v.name
    return n if n else f"{what}{i}"


def _result_name(r: Value, i: int) -> str:
    n = r.name
    return n if n else f"v{i}"


def _reaching_output(graph: Graph, op: Operation, out_names: Sequence[str]) -> str:
    """The name of an output of ``graph`` that needs ``op`` (through operands or control deps)."""
    for v, n in zip(graph.outputs, out_names):
        seen: set[Operation] = set()
        stack = [v.owner]
        while stack:
            o = stack.pop()
            if o is None or o in seen:
                continue
            if o is op:
                return n
            seen.add(o)
            stack.extend(x.owner for x in (*o.operands, *o.control_deps))
    return out_names[0]


def _check_needed(graph: Graph, out_names: Sequence[str]) -> None:
    """Reject placeholders left unfed and ops that update state, naming the output needing them."""
    for op in graph.ops:
        if type(op) is core_ops.Placeholder:
            out = _reaching_output(graph, op, out_names)
            raise FlowirError(
                f"output {out!r} needs the placeholder {op.user_name!r} ({op.result.type.describe()}), "  # type: ignore[attr-defined]
                "which is not among the inputs: add it to the inputs or export another output"
            )
        if Trait.STATEFUL in op.traits and type(op) not in (state_ops.Variable, state_ops.Read):
            out = _reaching_output(graph, op, out_names)
            where = f" at {op.location}" if op.location.is_known else ""
            raise FlowirError(
                f"output {out!r} needs {op.describe_op()}{where}, which updates variable state: an ONNX model is "
                "a stateless inference function, so only the inference part of a training graph exports "
                "(outputs that read variables, not the training step, assignments or optimizer slots)"
            )


def _freeze_variables(sub: Graph, source: Graph, variables: Mapping[str, Any] | None, out_names: Sequence[str]) -> None:
    """Replace every variable read of ``sub`` by a constant named like the variable."""
    frozen: dict[str, Value] = {}
    for op in list(sub.ops):
        if type(op) is not state_ops.Read:
            continue
        var = op.operands[0].owner
        if type(var) is not state_ops.Variable:
            raise FlowirError(f"{op.describe_op()} reads a handle that does not come from a variable")
        name = var.var_name
        const = frozen.get(name)
        if const is None:
            value = _variable_value(var, source, variables, lambda op=op: _reaching_output(sub, op, out_names))
            vt = var.value_type
            arr = np.asarray(value)
            if arr.dtype != vt.dtype.numpy or not vt.is_compatible_with(TensorType(vt.dtype, arr.shape)):
                raise FlowirError(
                    f"the value of variable {name!r} ({arr.dtype}{list(arr.shape)}) does not fit its type {vt.describe()}"
                )
            new = core_ops.Constant.create(value=arr, name=name, loc=var.location)
            sub.insert_before(op, new)
            const = frozen[name] = new.result
        op.results[0].replace_all_uses_with(const)
        op.erase()
    for op in list(sub.ops):
        if type(op) is not state_ops.Variable:
            continue
        handle = op.results[0]
        # Ordering after a variable's creation means nothing once it is a constant.
        for user in [u for u, i in handle.uses if i < 0]:
            user.set_control_deps([v for v in user.control_deps if v is not handle])
        if handle.has_uses:
            users = ", ".join(u.describe_op() for u in handle.users[:3])
            raise FlowirError(f"variable {op.var_name!r} is used as a handle by {users}; only its value exports")


def _variable_value(
    var: Operation, source: Graph, variables: Mapping[str, Any] | None, needed_by: Callable[[], str]
) -> np.ndarray:
    name = var.var_name  # type: ignore[attr-defined]
    if variables is not None:
        if name not in variables:
            raise FlowirError(
                f"output {needed_by()!r} reads variable {name!r}, which has no value in the session: "
                "run its initializer (or restore a checkpoint) before exporting"
            )
        return np.asarray(variables[name])
    init = _initial_value(source, name)
    if init is None:
        raise FlowirError(
            f"output {needed_by()!r} reads variable {name!r}, whose initial value is not a constant expression; "
            "export from a session holding its value (or a checkpoint) instead of a bare graph"
        )
    return init


def _initial_value(graph: Graph, name: str) -> np.ndarray | None:
    """The value the first ``state.assign`` of variable ``name`` gives it, if that is a
    constant expression (pure ops over constants), evaluated with the reference kernels."""
    from flowir.ir.reference import evaluate
    from flowir.ir.transforms import extract_subgraph

    for op in graph.ops:
        if type(op) is not state_ops.Assign:
            continue
        handle, value = op.operands
        if type(handle.owner) is not state_ops.Variable or handle.owner.var_name != name:  # type: ignore[attr-defined]
            continue
        try:
            sub, _ = extract_subgraph(graph, [value])
        except FlowirError:
            return None
        if any(not o.is_pure for o in sub.ops):
            return None
        return np.asarray(evaluate(sub, {})[0])
    return None
