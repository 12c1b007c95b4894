"""Ops that ONNX defines by a function body (Attention, Bernoulli's helpers, ...) import by
expanding the body into its nodes, as ONNX's ``*_expanded`` tests do, when flowir has no
converter of its own for them."""

from __future__ import annotations

from collections.abc import Callable

import onnx

__all__ = ["function_body"]


def function_body(
    node: onnx.NodeProto, opset: int, input_types: list[onnx.TypeProto]
) -> tuple[list[onnx.NodeProto], dict[str, int]] | None:
    """The nodes of ``node``'s ONNX function body at ``opset`` (wired to ``node``'s inputs and
    outputs, inner names prefixed by the node's), and the opsets the body uses; ``None`` when
    ONNX defines the op without a function."""
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, node.domain)
    except onnx.defs.SchemaError:
        return None
    node = _with_defaults(node, schema)
    fn = _pick_function(schema, node, opset, input_types)
    if fn is None:
        return None
    opsets = {("" if o.domain == "ai.onnx" else o.domain): o.version for o in fn.opset_import}
    return _inline(node, fn), opsets


def _with_defaults(node: onnx.NodeProto, schema: onnx.defs.OpSchema) -> onnx.NodeProto:
    out = onnx.NodeProto()
    out.CopyFrom(node)
    given = {a.name for a in node.attribute}
    for name, spec in schema.attributes.items():
        if name not in given and spec.default_value.name:
            out.attribute.append(spec.default_value)
    return out


def _pick_function(
    schema: onnx.defs.OpSchema, node: onnx.NodeProto, opset: int, input_types: list[onnx.TypeProto]
) -> onnx.FunctionProto | None:
    fixed = [v for v in schema.function_opset_versions if v <= opset]
    dependent = [v for v in schema.context_dependent_function_opset_versions if v <= opset]
    if not fixed and not dependent:
        return None
    fn = onnx.FunctionProto()
    if dependent and (not fixed or max(dependent) >= max(fixed)):
        data = schema.get_context_dependent_function_with_opset_version(
            max(dependent), node.SerializeToString(), [t.SerializeToString() for t in input_types]
        )
    else:
        data = schema.get_function_with_opset_version(max(fixed))
    if not data:
        return None
    fn.ParseFromString(data)
    return fn if len(fn.node) else None


def _inline(node: onnx.NodeProto, fn: onnx.FunctionProto) -> list[onnx.NodeProto]:
    prefix = f"{node.name or node.output[0]}/{node.op_type}/"
    names: dict[str, str] = {}
    for i, formal in enumerate(fn.input):
        names[formal] = node.input[i] if i < len(node.input) else ""
    for i, formal in enumerate(fn.output):
        actual = node.output[i] if i < len(node.output) else ""
        # An output the caller does not want is still computed, under an inner name.
        names[formal] = actual or prefix + formal
    attrs = {a.name: a for a in node.attribute}
    defaults = {a.name: a for a in fn.attribute_proto}

    def rename(n: str) -> str:
        if not n:
            return ""
        return names[n] if n in names else prefix + n

    out = []
    for k, inner in enumerate(fn.node):
        new = onnx.NodeProto()
        new.CopyFrom(inner)
        del new.input[:]
        new.input.extend(rename(n) for n in inner.input)
        del new.output[:]
        new.output.extend(rename(n) for n in inner.output)
        new.name = f"{prefix}{inner.name or inner.op_type + '_' + str(k)}"
        del new.attribute[:]
        for a in inner.attribute:
            if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                b = onnx.AttributeProto()
                b.CopyFrom(a)
                for g in [b.g] if a.type == onnx.AttributeProto.GRAPH else list(b.graphs):
                    _rename_graph(g, rename)
                new.attribute.append(b)
            elif a.ref_attr_name:
                ref = attrs.get(a.ref_attr_name) or defaults.get(a.ref_attr_name)
                if ref is None:
                    continue
                b = onnx.AttributeProto()
                b.CopyFrom(ref)
                b.name = a.name
                new.attribute.append(b)
            else:
                new.attribute.append(a)
        out.append(new)
    return out



def _rename_graph(graph: onnx.GraphProto, rename: Callable[[str], str]) -> None:
    """Apply the body's renaming to a nested subgraph (its names share the body's scope)."""
    for vi in list(graph.input) + list(graph.output):
        vi.name = rename(vi.name)
    for t in graph.initializer:
        t.name = rename(t.name)
    for node in graph.node:
        node.input[:] = [rename(n) for n in node.input]
        node.output[:] = [rename(n) for n in node.output]
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                _rename_graph(a.g, rename)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for g in a.graphs:
                    _rename_graph(g, rename)
