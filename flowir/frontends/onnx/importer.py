"""``import_model``: an ONNX model as a flowir graph.

Graph inputs become placeholders named after the ONNX inputs (symbolic or missing dims are
``None``), initializers become constants (or variables), each node goes through the converter
of its ``(domain, op_type)`` in ``CONVERTER_RULES`` (or, for an op ONNX defines by a
function, through the nodes of its function body), and the graph returns the ONNX outputs
under their ONNX names.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping, Sequence

import numpy as np
import onnx

from flowir.frontends.onnx._context import ONNX_TO_DTYPE, NodeContext, array_from_tensor, dtype_from_onnx
from flowir.frontends.onnx._functions import function_body
from flowir.frontends.onnx._registry import CONVERTER_RULES, normalize_domain
from flowir.frontends.onnx.errors import DynamicValueError, OnnxImportError, UnsupportedOnnxOpError
from flowir.ir.core import Graph, Value
from flowir.ir.errors import FlowirError
from flowir.ir.location import Location
from flowir.ir.ops.core import Constant, Placeholder
from flowir.ir.ops.state import Read, Variable
from flowir.ir.types import ResourceType, TensorType

__all__ = ["import_model", "supported_op_types", "MIN_OPSET", "CONVERTER_MODULES"]

#: The oldest default-domain opset the importer reads.
MIN_OPSET = 13

#: The converter modules, one per op family; each fills ``CONVERTER_RULES`` when imported.
CONVERTER_MODULES = (
    "flowir.frontends.onnx.ops_elementwise",
    "flowir.frontends.onnx.ops_reduce",
    "flowir.frontends.onnx.ops_tensor",
    "flowir.frontends.onnx.ops_nn",
    "flowir.frontends.onnx.ops_resize",
    "flowir.frontends.onnx.ops_misc",
)

DTYPE_TO_ONNX = {dt: code for code, dt in ONNX_TO_DTYPE.items()}


def _load_rules() -> None:
    # Importing a module twice is a dictionary lookup: the rules register once.
    for name in CONVERTER_MODULES:
        importlib.import_module(name)


def supported_op_types() -> list[tuple[str, str]]:
    """The ``(domain, op_type)`` pairs that have a converter now (``""`` is ``ai.onnx``),
    sorted; ops whose flowir catalog ops are not registered are left out. Ops without a
    converter that ONNX defines by a function body (Attention, CenterCropPad ...) also import,
    through their body, when the body's ops do."""
    _load_rules()
    return sorted(key for key, rule in CONVERTER_RULES.items() if rule.is_available)


def import_model(
    model_or_path: onnx.ModelProto | str | os.PathLike[str],
    *,
    initializers_as: str = "constants",
    input_shapes: Mapping[str, Sequence[int | None]] | None = None,
    bind_inputs: Mapping[str, np.ndarray] | None = None,
) -> Graph:
    """The flowir graph of an ONNX model.

    ``model_or_path`` is a ``ModelProto`` or the path of a ``.onnx`` file. Every ONNX graph
    input that is not an initializer becomes a ``flowir.placeholder`` named after it (unknown
    and symbolic dims are ``None``; ``input_shapes`` overrides shapes by input name;
    ``bind_inputs`` turns inputs into constants of the given values instead). Initializers
    become constants, or with ``initializers_as="variables"`` variables (``state.variable``
    named after the initializer, read by ``state.read``) whose initial values are assigned by
    the ``init`` group, as a TF1 graph's initializer. The graph's outputs are the ONNX outputs,
    named as in ONNX. Each op is named after its node (``<node>/<piece>`` for the pieces of a
    decomposed op; the op making an ONNX tensor is named after that tensor) and located at
    ``<model>:<node index + 1> in <op type> '<node>'``.

    Raises ``UnsupportedOnnxOpError`` (an ``UnsupportedOpError``) for an op, mode or dtype
    flowir cannot express, ``DynamicValueError`` for a shape-like input computed at run time
    (naming the graph inputs it comes from), and ``OnnxImportError`` for an invalid model;
    each names the node, its op type, domain and opset.

    >>> from onnx import helper, TensorProto
    >>> node = helper.make_node("Relu", ["x"], ["y"])
    >>> g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
    ...                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])])
    >>> graph = import_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    >>> graph.outputs[0].name, graph.outputs[0].type
    ('y', tensor<?x3xf32>)
    """
    if initializers_as not in ("constants", "variables"):
        raise ValueError(f"initializers_as must be 'constants' or 'variables', got {initializers_as!r}")
    if isinstance(model_or_path, onnx.ModelProto):
        model, source = model_or_path, (model_or_path.graph.name or "<onnx>")
    else:
        source = os.fspath(model_or_path)
        model = onnx.load(source)
    _load_rules()
    imp = _Importer(model, os.path.basename(source), initializers_as, dict(input_shapes or {}), dict(bind_inputs or {}))
    return imp.run()


class _Importer:
    """One import: the graph being built and the flowir value of each ONNX tensor name."""

    def __init__(
        self,
        model: onnx.ModelProto,
        source: str,
        initializers_as: str,
        input_shapes: dict[str, Sequence[int | None]],
        bind_inputs: dict[str, np.ndarray],
    ) -> None:
        self.model = model
        self.source = source
        self.initializers_as = initializers_as
        self.input_shapes = input_shapes
        self.bind_inputs = bind_inputs
        self.graph = Graph(model.graph.name or "main")
        self.values: dict[str, Value] = {}
        self.opsets = {normalize_domain(o.domain): o.version for o in model.opset_import}
        self._init_ops: list[Value] = []

    # -- lookups used by NodeContext -----------------------------------------------------------

    def value(self, name: str, ctx: NodeContext) -> Value:
        v = self.values.get(name)
        if v is None:
            raise ctx.error(f"input {name!r} is not produced by an earlier node, an initializer or a graph input")
        return v

    def feeding_inputs(self, v: Value) -> tuple[str, ...]:
        """The graph inputs (placeholders) that ``v`` is computed from."""
        seen: set[int] = set()
        found: dict[str, None] = {}
        stack = [v]
        while stack:
            x = stack.pop()
            op = x.owner
            if op is None or id(op) in seen:
                continue
            seen.add(id(op))
            if type(op) is Placeholder:
                found[op.user_name or ""] = None
            stack.extend(op.operands)
        return tuple(found)

    # -- the import ------------------------------------------------------------------------------

    def run(self) -> Graph:
        g = self.model.graph
        default_opset = self.opsets.get("")
        if default_opset is not None and default_opset < MIN_OPSET:
            raise UnsupportedOnnxOpError(
                f"model {self.source!r} uses opset {default_opset} of domain 'ai.onnx'; flowir imports opset {MIN_OPSET} and newer"
            )
        initializers = {t.name: t for t in g.initializer}
        for t in g.sparse_initializer:
            raise UnsupportedOnnxOpError(f"model {self.source!r}: sparse initializer {t.values.name!r} is not supported")
        for inp in g.input:
            if inp.name not in initializers:
                self._add_input(inp)
        for t in g.initializer:
            self._add_initializer(t)
        for i, node in enumerate(g.node):
            self._convert(node, i)
        outputs, names = [], []
        for out in g.output:
            v = self.values.get(out.name)
            if v is None:
                raise OnnxImportError(f"model {self.source!r}: graph output {out.name!r} is not computed by any node")
            outputs.append(v)
            names.append(out.name)
        if self._init_ops:
            from flowir.ir.ops.control import Group

            self.graph.append(Group.create(name="init", control_deps=self._init_ops, loc=Location(self.source, 0, "initializers")))
        self.graph.set_outputs(outputs, names)
        self._erase_dead_ops()
        return self.graph

    def _erase_dead_ops(self) -> None:
        """Drop pure ops nothing reads: the constants that shape computations folded away."""
        for op in self.graph.ops_reversed():
            if op.is_pure and not any(r.uses for r in op.results):
                op.erase()

    def _add_input(self, inp: onnx.ValueInfoProto) -> None:
        loc = Location(self.source, 0, f"graph input {inp.name!r}")
        if inp.name in self.bind_inputs:
            a = np.asarray(self.bind_inputs[inp.name])
            self.values[inp.name] = self.graph.append(Constant.create(value=a, name=inp.name, loc=loc)).result
            return
        kind = inp.type.WhichOneof("value")
        if kind != "tensor_type":
            raise UnsupportedOnnxOpError(f"model {self.source!r}: graph input {inp.name!r} is a {kind}, not a tensor")
        tt = inp.type.tensor_type
        dt = dtype_from_onnx(tt.elem_type, f"model {self.source!r}: graph input {inp.name!r}")
        shape: tuple[int | None, ...] | None
        if inp.name in self.input_shapes:
            shape = tuple(self.input_shapes[inp.name])
        elif tt.HasField("shape"):
            shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim)
        else:
            shape = None
        op = Placeholder.create(name=inp.name, loc=loc, result_types=[TensorType(dt, shape)])
        self.values[inp.name] = self.graph.append(op).result

    def _add_initializer(self, t: onnx.TensorProto) -> None:
        loc = Location(self.source, 0, f"initializer {t.name!r}")
        a = array_from_tensor(t, f"model {self.source!r}: initializer {t.name!r}")
        if self.initializers_as == "constants":
            self.values[t.name] = self.graph.append(Constant.create(value=a, name=t.name, loc=loc)).result
            return
        from flowir.ir.dtypes import dtype_of
        from flowir.ir.ops.state import Assign

        ty = TensorType(dtype_of(a), a.shape)
        var = self.graph.append(Variable.create(name=t.name, loc=loc, result_types=[ResourceType(ty)])).result
        init = self.graph.append(Constant.create(value=a, name=f"{t.name}/initial_value", loc=loc)).result
        self._init_ops.append(self.graph.append(Assign.create(var, init, name=f"{t.name}/Assign", loc=loc)).result)
        self.values[t.name] = self.graph.append(Read.create(var, name=f"{t.name}/read", loc=loc)).result

    def _convert(self, node: onnx.NodeProto, index: int, opsets: dict[str, int] | None = None) -> None:
        domain = normalize_domain(node.domain)
        opset = (opsets or self.opsets).get(domain, 1)
        rule = CONVERTER_RULES.get((domain, node.op_type))
        ctx = NodeContext(self, node, index, opset)
        if rule is None or not rule.is_available:
            if self._expand(node, index, ctx):
                return
            missing = "" if rule is None else f" (needs flowir ops {', '.join(rule.requires)})"
            raise ctx.unsupported(f"op type {node.op_type!r} is not supported by the flowir importer{missing}")
        try:
            outs = list(rule.fn(ctx))
        except OnnxImportError:
            raise
        except FlowirError as e:
            e.with_prefix(ctx.describe())
            raise
        if len(outs) < ctx.num_outputs:
            outs += [None] * (ctx.num_outputs - len(outs))
        for name, v in zip(node.output, outs):
            if not name:
                continue
            if v is None:
                raise ctx.unsupported(f"output {name!r} is not supported")
            owner = v.owner
            if owner is not None and owner in ctx.created and len(owner.results) == 1:
                owner.user_name = name
            self.values[name] = v

    def inline_graph(self, graph: onnx.GraphProto, ctx: NodeContext) -> list[Value]:
        """Import a subgraph (an If branch) into the graph being built, where ``ctx``'s node
        is; returns its outputs. It reads outer values by name, as ONNX scoping allows."""
        for t in graph.initializer:
            loc = Location(self.source, ctx.index + 1, f"initializer {t.name!r} of {ctx.describe()}")
            a = array_from_tensor(t, f"{ctx.describe()}: initializer {t.name!r}")
            self.values[t.name] = self.graph.append(Constant.create(value=a, name=t.name, loc=loc)).result
        for inner in graph.node:
            self._convert(inner, ctx.index)
        missing = [o.name for o in graph.output if o.name not in self.values]
        if missing:
            raise ctx.error(f"subgraph {graph.name!r} does not compute its outputs {missing}")
        return [self.values[o.name] for o in graph.output]

    def _expand(self, node: onnx.NodeProto, index: int, ctx: NodeContext) -> bool:
        """Import ``node`` through its ONNX function body, if ONNX defines one; ``False`` if not.
        An unsupported op inside the body is reported as the node's."""
        types = [tensor_type_proto(ctx.ty(v)) if v is not None else onnx.TypeProto() for v in ctx.inputs]
        try:
            body = function_body(node, ctx.opset, types)
        except (onnx.defs.SchemaError, RuntimeError, ValueError):
            return False
        if body is None:
            return False
        nodes, opsets = body
        for inner in nodes:
            try:
                self._convert(inner, index, {**self.opsets, **opsets})
            except DynamicValueError as e:
                detail = f"in its ONNX function body: {e.detail}"
                raise ctx.error(detail, DynamicValueError, graph_inputs=e.graph_inputs) from e
            except UnsupportedOnnxOpError as e:
                raise ctx.unsupported(f"its ONNX function body needs what flowir lacks: {e.detail}") from e
        return True


def tensor_type_proto(ty: TensorType) -> onnx.TypeProto:
    """The ONNX type of a flowir tensor type (for ONNX's context-dependent functions)."""
    elem = DTYPE_TO_ONNX[ty.dtype]
    if ty.shape is None:
        return onnx.helper.make_tensor_type_proto(elem, None)
    return onnx.helper.make_tensor_type_proto(elem, list(ty.shape))
