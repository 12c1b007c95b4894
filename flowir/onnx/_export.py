"""``flowir.onnx.export``: sessions, graphs and the user's tensors in, an ONNX model out.

This is the frontend-facing half of export: it resolves what the user names (TF1 tensors,
variables, tensor or op names, IR values) to IR values and takes the variable values from a
session; ``flowir.backends.onnx.export_graph`` does the rest on the IR.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from flowir.ir.core import BlockArgument, Graph, Value
from flowir.ir.errors import FlowirError

__all__ = ["export", "model_summary"]


def export(
    session_or_graph: Any,
    inputs: Sequence[Any],
    outputs: Sequence[Any],
    path: str | None = None,
    opset: int | None = None,
    dynamic_dims: bool = True,
    *,
    variables: Mapping[str, Any] | None = None,
    check: bool = True,
) -> Any:
    """Export what ``outputs`` need from ``inputs`` as an ONNX ``ModelProto`` (and write it to
    ``path``, atomically, when given).

    ``session_or_graph``: a ``Session`` (variables are frozen at its current values), a
    ``flowir`` (TF1-style) ``Graph`` or an IR ``Graph`` (variables take their initial values
    when those are constant, or ``variables``: name -> array). ``inputs`` and ``outputs``:
    tensors, variables, or names (``"input/x:0"``, ``"input/x"``, or a last name component
    such as ``"x"`` when it is unique); IR values for an IR graph. The model's inputs and
    outputs are named after the tensors, without ``:0``. ``opset`` (17 to the newest the
    installed onnx knows) defaults to the newest the installed onnxruntime runs. With
    ``dynamic_dims`` wildcard dims become named ``dim_param`` symbols, one name per class of
    provably equal dims. With ``check`` the model is validated by ``onnx.checker`` (full
    check) and strict ONNX shape inference.

    Raises ``FlowirError`` (nothing written) for an output that needs a variable update or
    optimizer state, a placeholder that is not an input, an op that does not export, and
    ``KeyError``/``ValueError`` for a name that denotes no tensor.

    >>> import flowir as tf                                                   # doctest: +SKIP
    >>> model = export(sess, [x], [logits], "mlp.onnx")                       # doctest: +SKIP
    """
    from flowir.backends.onnx import export_graph, save_model

    graph, ir_inputs, ir_outputs, in_names, out_names, state = _resolve(session_or_graph, inputs, outputs)
    if variables is not None:
        state = {**(state or {}), **variables}
    model = export_graph(
        graph,
        ir_inputs,
        ir_outputs,
        input_names=in_names,
        output_names=out_names,
        variables=state,
        opset=opset,
        dynamic_dims=dynamic_dims,
        check=check,
    )
    if path is not None:
        save_model(model, path)
    return model


def _resolve(
    source: Any, inputs: Sequence[Any], outputs: Sequence[Any]
) -> tuple[Graph, list[Value], list[Value], list[str], list[str], dict[str, Any] | None]:
    from flowir.frontends.graph.graph import Graph as TFGraph
    from flowir.frontends.graph.session import Session

    if isinstance(inputs, (str, Value)) or not isinstance(inputs, Sequence):
        inputs = [inputs]
    if isinstance(outputs, (str, Value)) or not isinstance(outputs, Sequence):
        outputs = [outputs]
    state: dict[str, Any] | None = None
    if isinstance(source, Session):
        tf_graph = source.graph
        state = {name: np.asarray(value) for name, value in dict(source._state).items()}
    elif isinstance(source, TFGraph):
        tf_graph = source
    elif isinstance(source, Graph):
        ins = [_ir_value(source, x, "input") for x in inputs]
        outs = [_ir_value(source, x, "output") for x in outputs]
        return source, ins, outs, [_bare(v.name or f"input{i}") for i, v in enumerate(ins)], [
            _bare(v.name or f"output{i}") for i, v in enumerate(outs)
        ], None
    else:
        raise TypeError(f"export() takes a Session, a Graph or an IR Graph, got {type(source).__name__}")
    in_tensors = [_tensor(tf_graph, x, "input") for x in inputs]
    out_tensors = [_tensor(tf_graph, x, "output") for x in outputs]
    with tf_graph._lock:
        return (
            tf_graph.ir_graph,
            [t._value for t in in_tensors],
            [t._value for t in out_tensors],
            [_bare(t.name) for t in in_tensors],
            [_bare(t.name) for t in out_tensors],
            state,
        )


def _bare(name: str) -> str:
    """A tensor name without its ``:0``."""
    return name[:-2] if name.endswith(":0") else name


def _tensor(graph: Any, obj: Any, what: str) -> Any:
    """The frontend tensor ``obj`` denotes (a variable gives its value)."""
    from flowir.frontends.graph.tensor import Operation, Tensor

    if isinstance(obj, str):
        obj = _full_name(graph, obj, what)
    element = graph.as_graph_element(obj, allow_tensor=True, allow_operation=True)
    if isinstance(element, Operation):
        tensors = [t for t in element.outputs]
        if len(tensors) != 1:
            raise FlowirError(
                f"{what} {element.name!r} is an operation with {len(tensors)} tensor outputs, not a tensor: ONNX "
                "exports values (a training step or an initializer has none)"
            )
        element = tensors[0]
    assert isinstance(element, Tensor)
    if element.dtype._is_ref:
        element = graph._variable_reads[element.op]
    return element


def _full_name(graph: Any, name: str, what: str) -> str:
    """``name`` if the graph has it, else the one op whose name ends with ``/name``."""
    op_name = name.partition(":")[0]
    if op_name in graph._ir_by_name:
        return name
    matches = [n for n in graph._ir_by_name if n.endswith("/" + op_name)]
    if len(matches) == 1:
        return matches[0] + name[len(op_name) :]
    if matches:
        raise ValueError(f"{what} name {name!r} is ambiguous: it could be {', '.join(sorted(matches))}")
    raise KeyError(f"{what} name {name!r} denotes no tensor of the graph")


def _ir_value(graph: Graph, obj: Any, what: str) -> Value:
    """The IR value ``obj`` denotes: a value, a graph input's name, an op's name (its single
    result), ``name:k``, or a unique last name component."""
    if isinstance(obj, Value):
        return obj
    if not isinstance(obj, str):
        raise TypeError(f"{what}s of an IR graph are values or names, got {type(obj).__name__}")
    name = _bare(obj)
    by_name: dict[str, Value] = {}
    for arg in graph.inputs:
        if arg.name:
            by_name[arg.name] = arg
    for op in graph.ops:
        for r in op.results:
            if r.name:
                by_name.setdefault(r.name, r)
    found = by_name.get(name)
    if found is None:
        matches = [n for n in by_name if n.endswith("/" + name)]
        if len(matches) > 1:
            raise ValueError(f"{what} name {obj!r} is ambiguous: it could be {', '.join(sorted(matches))}")
        if not matches:
            raise KeyError(f"{what} name {obj!r} denotes no value of graph @{graph.name}")
        found = by_name[matches[0]]
    if isinstance(found, BlockArgument) or found.owner is not None:
        return found
    raise KeyError(f"{what} name {obj!r} denotes no value of graph @{graph.name}")


def model_summary(model: Any, path: str | None = None) -> str:
    """A short text about an ONNX model: the file (size in bytes, when ``path`` is given),
    opset and node count, its inputs and outputs with their shapes (symbolic dims by name),
    and the number of nodes per op type, most frequent first."""
    import os
    from collections import Counter

    import onnx

    def shape(vi: onnx.ValueInfoProto) -> str:
        tt = vi.type.tensor_type
        dims = [d.dim_param or (str(d.dim_value) if d.HasField("dim_value") else "?") for d in tt.shape.dim]
        return f"{onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)}[{', '.join(dims)}]"

    graph = model.graph
    counts = Counter(n.op_type for n in graph.node)
    where = f"wrote {path}: {os.path.getsize(path):,} bytes, " if path is not None else ""
    lines = [f"{where}opset {model.opset_import[0].version}, {len(graph.node)} nodes"]
    for title, values in (("inputs", graph.input), ("outputs", graph.output)):
        lines.append(f"{title}:")
        width = max((len(v.name) for v in values), default=0)
        lines += [f"  {v.name:<{width}}  {shape(v)}" for v in values]
    lines.append("nodes per op type:")
    width = max((len(k) for k in counts), default=0)
    lines += [f"  {k:<{width}}  {n}" for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return "\n".join(lines) + "\n"
