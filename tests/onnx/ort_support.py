"""Which nodes of a model the installed onnxruntime's CPU provider has kernels for.

onnxruntime implements many ONNX ops for some element types only (``Tan`` for float32, not
float64): a valid model may still not run there. Tests use ``missing_kernels`` to tell such a
model from an exporter bug before comparing results.
"""

from __future__ import annotations

import functools

import onnx

_ELEM_NAMES = {v: f"tensor({k.lower()})" for k, v in onnx.TensorProto.DataType.items()}
_ELEM_NAMES[onnx.TensorProto.FLOAT] = "tensor(float)"
_ELEM_NAMES[onnx.TensorProto.DOUBLE] = "tensor(double)"
_ELEM_NAMES[onnx.TensorProto.BOOL] = "tensor(bool)"
_ELEM_NAMES[onnx.TensorProto.FLOAT16] = "tensor(float16)"


@functools.cache
def _kernels() -> dict[str, list[tuple[tuple[int, int], set[str]]]]:
    import onnxruntime.capi._pybind_state as C

    out: dict[str, list[tuple[tuple[int, int], set[str]]]] = {}
    for k in C.get_all_opkernel_def():
        if k.provider != "CPUExecutionProvider" or k.domain not in ("", "ai.onnx"):
            continue
        types = {t for ts in k.type_constraints.values() for t in ts}
        out.setdefault(k.op_name, []).append((tuple(k.version_range), types))
    return out


def _since(op_type: str, opset: int) -> int:
    schema = onnx.defs.get_schema(op_type, opset)
    return schema.since_version


def missing_kernels(model: onnx.ModelProto) -> list[str]:
    """``op_type(dtypes)`` of each node whose input and output element types no CPU kernel of
    the installed onnxruntime takes."""
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    inferred = onnx.shape_inference.infer_shapes(model)
    elem: dict[str, int] = {}
    for vi in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        elem[vi.name] = vi.type.tensor_type.elem_type
    for init in inferred.graph.initializer:
        elem[init.name] = init.data_type
    missing = []
    for node in inferred.graph.node:
        since = _since(node.op_type, opset)
        dtypes = {_ELEM_NAMES.get(elem.get(n, 0), "?") for n in [*node.input, *node.output] if n}
        defs = [types for (lo, hi), types in _kernels().get(node.op_type, []) if lo <= since <= hi]
        if not any(dtypes <= types for types in defs):
            missing.append(f"{node.op_type}({', '.join(sorted(dtypes))})")
    return missing
