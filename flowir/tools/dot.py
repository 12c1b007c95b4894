"""Graph pictures: a graph as Graphviz DOT text, its name scopes drawn as nested clusters.

``to_dot(graph)`` draws every op as a box labelled with its user name's last component and
its op name, inside one cluster per name scope (``model/layer1/MatMul`` sits in cluster
``layer1`` inside cluster ``model``), graph inputs as ellipses and graph outputs as a
``return`` node. Data edges carry the value's type (``f32[?,784]``); control dependencies
are dashed. ``render(dot_text, "svg")`` runs Graphviz's ``dot`` executable.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

from flowir.ir.core import Graph, Operation, Value
from flowir.ir.types import ControlType, ResourceType, TensorType

__all__ = ["to_dot", "render", "RenderError", "FORMATS"]

#: Output formats ``render`` accepts (``dot`` needs no Graphviz).
FORMATS = ("dot", "svg", "png")


class RenderError(RuntimeError):
    """Graphviz is missing or failed to render."""


def _quote(text: str) -> str:
    """``text`` as a DOT double-quoted string (newlines as centered line breaks)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _edge_label(ty: Any) -> str:
    if type(ty) is TensorType:
        shape = ty.shape
        dims = "*" if shape is None else ",".join("?" if d is None else str(d) for d in shape)
        return f"{ty.dtype.value}[{dims}]"
    if type(ty) is ResourceType:
        return f"resource<{_edge_label(ty.value_type)}>"  # type: ignore[attr-defined]
    return str(ty)


class _Scope:
    __slots__ = ("name", "children", "nodes")

    def __init__(self, name: str) -> None:
        self.name = name
        self.children: dict[str, _Scope] = {}
        self.nodes: list[str] = []


def to_dot(graph: Any, *, name: str | None = None) -> str:
    """The DOT text drawing ``graph`` (an IR ``Graph``, or a frontend graph with ``ir_graph``).

    >>> from flowir.ir.parser import parse_graph
    >>> text = to_dot(parse_graph('''flowir.graph @main(%x: tensor<2xf32>) {
    ...   %0 = "math.neg"(%x) {name = "scope/neg"} : (tensor<2xf32>) -> tensor<2xf32>
    ...   "flowir.return"(%0) : (tensor<2xf32>) -> ()
    ... }'''))
    >>> 'subgraph "cluster_scope"' in text and 'label="f32[2]"' in text
    True
    """
    ir: Graph = graph.ir_graph if hasattr(graph, "ir_graph") else graph
    if not isinstance(ir, Graph):
        raise TypeError(f"to_dot takes a flowir graph, got {type(graph).__name__}")
    ids: dict[Operation, str] = {}
    inputs: dict[Value, str] = {}
    root = _Scope("")
    node_lines: dict[str, str] = {}
    for i, arg in enumerate(ir.inputs):
        node = f"in{i}"
        inputs[arg] = node
        label = arg.name or f"input {i}"
        node_lines[node] = f"{node} [shape=ellipse, label={_quote(label)}];"
        root.nodes.append(node)
    # An op named like a scope (``kernel`` beside ``kernel/read``) is drawn inside it, as
    # TensorBoard folds a variable with its ``read``.
    scope_paths = {
        "/".join(parts[:i]) for op in ir.ops if op.user_name for parts in [op.user_name.split("/")] for i in range(1, len(parts))
    }
    for k, op in enumerate(ir.ops):
        node = f"op{k}"
        ids[op] = node
        user = op.user_name or ""
        *scopes, leaf = user.split("/") if user else [""]
        label = f"{leaf}\n{op.name}" if leaf else op.name
        attrs = f"label={_quote(label)}"
        if user:
            attrs += f", tooltip={_quote(user)}"
        if op.device:
            attrs += f", xlabel={_quote(op.device)}"
        node_lines[node] = f"{node} [{attrs}];"
        scope = root
        for s in (*scopes, leaf) if user in scope_paths else scopes:
            scope = scope.children.setdefault(s, _Scope(f"{scope.name}/{s}" if scope.name else s))
        scope.nodes.append(node)

    def source(v: Value) -> str | None:
        return inputs.get(v) if v.owner is None else ids.get(v.owner)

    edges: list[str] = []
    for op in ir.ops:
        for v in op.operands:
            src = source(v)
            if src is not None:
                edges.append(f"{src} -> {ids[op]} [label={_quote(_edge_label(v.type))}];")
        for v in op.control_deps:
            src = source(v)
            if src is not None:
                edges.append(f"{src} -> {ids[op]} [style=dashed, arrowhead=odot];")
    if ir.outputs:
        node_lines["ret"] = 'ret [shape=doublecircle, label="return"];'
        root.nodes.append("ret")
        for i, v in enumerate(ir.outputs):
            src = source(v)
            if src is not None:
                style = "style=dashed" if type(v.type) is ControlType else f"label={_quote(f'{i}: ' + _edge_label(v.type))}"
                edges.append(f"{src} -> ret [{style}];")

    lines = [
        f"digraph {_quote(name or ir.name or 'graph')} {{",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fillcolor="#f4f4f4", fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=8];',
    ]

    def emit(scope: _Scope, indent: str) -> None:
        for child in scope.children.values():
            lines.append(f"{indent}subgraph {_quote('cluster_' + child.name)} {{")
            lines.append(f'{indent}  label={_quote(child.name.rsplit("/", 1)[-1])}; style="rounded"; color="#8888aa";')
            emit(child, indent + "  ")
            lines.append(f"{indent}}}")
        for node in scope.nodes:
            lines.append(f"{indent}{node_lines[node]}")

    emit(root, "  ")
    lines.extend(f"  {e}" for e in edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_text: str, fmt: str, *, timeout: float = 120.0) -> bytes:
    """``dot_text`` rendered as ``fmt`` (``dot`` returns the text itself; ``svg``/``png`` run
    Graphviz's ``dot``). ``RenderError`` when ``dot`` is not installed or fails."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if fmt == "dot":
        return dot_text.encode("utf-8")
    exe = shutil.which("dot")
    if exe is None:
        raise RenderError(
            f"--format {fmt} needs Graphviz's 'dot' executable, which is not on PATH "
            "(install graphviz, e.g. apt-get install graphviz), or use --format dot"
        )
    try:
        done = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RenderError(f"running {exe} failed: {e}") from e
    if done.returncode != 0:
        raise RenderError(f"dot -T{fmt} failed: {done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout
