"""What a converter sees of the import: the node, its inputs as flowir values, attribute
access, and ``emit`` to build flowir ops (folding those whose operands are all constants)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from flowir.frontends.onnx.errors import (
    DynamicValueError,
    OnnxImportError,
    UnsupportedDTypeError,
    UnsupportedOnnxOpError,
)
from flowir.ir.core import OP_REGISTRY, Operation, Trait, Value
from flowir.ir.dtypes import DType, dtype_of
from flowir.ir.errors import FlowirError
from flowir.ir.location import Location
from flowir.ir.ops.core import Constant
from flowir.ir.reference import IMPL_RULES
from flowir.ir.types import TensorType

if TYPE_CHECKING:
    from flowir.frontends.onnx.importer import _Importer

__all__ = ["NodeContext", "ONNX_TO_DTYPE", "dtype_from_onnx", "array_from_tensor"]

#: ONNX element types that flowir has a dtype for.
ONNX_TO_DTYPE: dict[int, DType] = {
    TensorProto.FLOAT: DType.float32,
    TensorProto.DOUBLE: DType.float64,
    TensorProto.FLOAT16: DType.float16,
    TensorProto.BFLOAT16: DType.bfloat16,
    TensorProto.INT8: DType.int8,
    TensorProto.INT16: DType.int16,
    TensorProto.INT32: DType.int32,
    TensorProto.INT64: DType.int64,
    TensorProto.UINT8: DType.uint8,
    TensorProto.BOOL: DType.bool,
    TensorProto.STRING: DType.string,
}

#: Results of folded ops above this many elements stay ops (the constant-fold pass may still
#: fold them later); folding here is for the small shape computations later converters read.
FOLD_LIMIT = 1 << 16

_NO_DEFAULT: Any = object()


def dtype_from_onnx(elem_type: int, what: str) -> DType:
    """The flowir dtype of ONNX element type ``elem_type``; ``UnsupportedDTypeError`` naming
    ``what`` when flowir has none."""
    dt = ONNX_TO_DTYPE.get(elem_type)
    if dt is None:
        name = TensorProto.DataType.Name(elem_type) if elem_type in TensorProto.DataType.values() else str(elem_type)
        raise UnsupportedDTypeError(f"{what}: element type {name} has no flowir dtype")
    return dt


def array_from_tensor(t: onnx.TensorProto, what: str) -> np.ndarray:
    """A TensorProto (initializer, attribute) as a numpy array of a flowir dtype."""
    dt = dtype_from_onnx(t.data_type, what)
    a = numpy_helper.to_array(t)
    if dt is DType.string:
        return np.asarray(a, dtype=object)
    # Not ascontiguousarray: it makes a 0-d tensor 1-d.
    return np.array(a, dtype=dt.numpy, order="C")


class NodeContext:
    """One ONNX node being converted.

    ``inputs`` are the flowir values of the node's inputs (``None`` for an omitted optional
    input). Converters build ops with ``emit`` and return the node's outputs in order.
    """

    def __init__(self, importer: _Importer, node: onnx.NodeProto, index: int, opset: int) -> None:
        self.importer = importer
        self.node = node
        self.index = index
        self.opset = opset
        self.op_type = node.op_type
        self.domain = node.domain
        self.base_name = node.name or (node.output[0] if node.output and node.output[0] else f"{node.op_type}_{index}")
        self.loc = Location(importer.source, index + 1, f"{node.op_type} {self.base_name!r}")
        self.inputs: list[Value | None] = [importer.value(n, self) if n else None for n in node.input]
        self._attrs = {a.name: a for a in node.attribute}
        self._count = 0
        self.created: list[Operation] = []

    # -- messages ----------------------------------------------------------------------------

    def describe(self) -> str:
        """``Gemm 'fc1' (domain 'ai.onnx', opset 17)`` for messages."""
        return f"{self.op_type} {self.base_name!r} (domain {self.domain or 'ai.onnx'!r}, opset {self.opset})"

    def error(self, detail: str, cls: type[OnnxImportError] = OnnxImportError, **kw: Any) -> OnnxImportError:
        """An import error for this node (raise it)."""
        return cls(f"{self.describe()}: {detail}", context=[f"  at {self.loc}"], **kw)

    def unsupported(self, detail: str) -> UnsupportedOnnxOpError:
        """An ``UnsupportedOnnxOpError`` for this node (raise it): flowir cannot import the node as given."""
        return self.error(detail, UnsupportedOnnxOpError)  # type: ignore[return-value]

    # -- inputs and attributes ---------------------------------------------------------------

    @property
    def num_inputs(self) -> int:
        """The number of inputs the node lists, omitted optional ones included."""
        return len(self.inputs)

    @property
    def num_outputs(self) -> int:
        """The number of outputs the node lists, unnamed (unwanted) ones included."""
        return len(self.node.output)

    def output_wanted(self, i: int) -> bool:
        """Whether the node names output ``i`` (an optional output may be left out or ``""``)."""
        return i < len(self.node.output) and bool(self.node.output[i])

    def input(self, i: int, what: str = "") -> Value:
        """Input ``i``, which the op requires."""
        v = self.inputs[i] if i < len(self.inputs) else None
        if v is None:
            raise self.error(f"input {i}{' (' + what + ')' if what else ''} is missing")
        return v

    def optional_input(self, i: int) -> Value | None:
        """Input ``i``, ``None`` when omitted."""
        return self.inputs[i] if i < len(self.inputs) else None

    def has_attr(self, name: str) -> bool:
        """Whether the node sets attribute ``name``."""
        return name in self._attrs

    def attr(self, name: str, default: Any = _NO_DEFAULT) -> Any:
        """Attribute ``name`` as a Python value (strings decoded, tensors as arrays)."""
        a = self._attrs.get(name)
        if a is None:
            if default is _NO_DEFAULT:
                raise self.error(f"missing required attribute {name!r}")
            return default
        if a.type == onnx.AttributeProto.TENSOR:
            return array_from_tensor(a.t, f"{self.describe()}: attribute {name!r}")
        if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
            raise self.unsupported(f"attribute {name!r} holds a subgraph")
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            return v.decode("utf-8")
        if isinstance(v, list) and v and isinstance(v[0], bytes):
            return [s.decode("utf-8") for s in v]
        return v

    def ty(self, v: Value) -> TensorType:
        """``v``'s tensor type (ONNX values are tensors)."""
        return v.type  # type: ignore[return-value]

    def const_value(self, v: Value | None) -> np.ndarray | None:
        """The value of ``v`` when it is a constant (after folding), else ``None``."""
        if v is None:
            return None
        op = v.owner
        return op.value if type(op) is Constant else None  # type: ignore[union-attr]

    def const_input(self, i: int, what: str) -> np.ndarray | None:
        """Optional input ``i`` as a constant array (``None`` when omitted);
        ``DynamicValueError`` when it is computed at run time."""
        v = self.optional_input(i)
        if v is None:
            return None
        a = self.const_value(v)
        if a is None:
            raise self.error(
                f"input {i} ({what}) must be known when importing; it is computed at run time",
                DynamicValueError,
                graph_inputs=self.importer.feeding_inputs(v),
            )
        return a

    def const_ints(self, i: int, what: str) -> list[int] | None:
        """Optional input ``i`` as a flat list of ints (``None`` when omitted); ``DynamicValueError`` when
        it is computed at run time."""
        a = self.const_input(i, what)
        return None if a is None else [int(x) for x in np.asarray(a).reshape(-1)]

    def static_shape(self, v: Value, what: str = "input") -> tuple[int, ...]:
        """``v``'s shape when every dim is known; ``DynamicValueError`` otherwise."""
        t = self.ty(v)
        if not t.is_static:
            raise self.dynamic_error(v, f"{what} has shape {t.describe()}; this op needs it known when importing")
        return t.shape  # type: ignore[return-value]

    def dynamic_error(self, v: Value, detail: str) -> DynamicValueError:
        """The error for a value or shape that must be known when importing but is not."""
        return self.error(detail, DynamicValueError, graph_inputs=self.importer.feeding_inputs(v))  # type: ignore[return-value]

    def rank(self, v: Value, what: str = "input") -> int:
        """``v``'s rank; ``UnsupportedOnnxOpError`` when it is unknown."""
        r = self.ty(v).rank
        if r is None:
            raise self.unsupported(f"{what} has unknown rank")
        return r

    # -- building ----------------------------------------------------------------------------

    def has_op(self, name: str) -> bool:
        """Whether the flowir op ``name`` (``"nn.gelu"``) is registered."""
        return name in OP_REGISTRY

    def _name(self, suffix: str) -> str:
        self._count += 1
        return f"{self.base_name}/{suffix}" if self._count == 1 else f"{self.base_name}/{suffix}_{self._count}"

    def emit(self, op: type[Operation] | str, *operands: Value | Sequence[Value], suffix: str = "", **attrs: Any) -> Any:
        """Build ``op`` (a class or registered name) and add it to the graph; returns its
        result, or the tuple of results for several. Ops whose operands are all constants are
        evaluated now and give constants."""
        cls = OP_REGISTRY[op] if isinstance(op, str) else op
        name = self._name(suffix or cls.name.rpartition(".")[2])
        try:
            built = cls.create(*operands, name=name, loc=self.loc, **attrs)
        except FlowirError as e:
            e.with_prefix(self.describe())
            raise
        folded = self._fold(built)
        if folded is not None:
            return folded[0] if len(folded) == 1 else folded
        self.importer.graph.append(built)
        self.created.append(built)
        return built.results[0] if len(built.results) == 1 else built.results

    def _fold(self, op: Operation) -> tuple[Value, ...] | None:
        cls = type(op)
        if Trait.PURE not in cls.traits or Trait.RANDOM in cls.traits or cls is Constant:
            return None
        rule = IMPL_RULES.get(cls)
        if rule is None or not all(type(v.owner) is Constant for v in op.operands):
            return None
        if any(not r.type.is_static or r.type.num_elements > FOLD_LIMIT for r in op.results):  # type: ignore[attr-defined]
            return None
        try:
            arrays = rule(op, *(v.owner.value for v in op.operands))  # type: ignore[union-attr]
        except FlowirError:
            return None  # left to fail at run time, where the error names the op
        op._drop_uses()
        return tuple(self.constant(a, op.user_name.rpartition("/")[2]) for a in arrays)  # type: ignore[union-attr]

    def constant(self, value: Any, suffix: str = "const", dtype: DType | None = None) -> Value:
        """A constant op holding ``value`` (converted to ``dtype`` when given)."""
        a = np.asarray(value, dtype=None if dtype is None else dtype.numpy)
        if dtype is None:
            dtype_of(a)  # raises for a numpy dtype flowir lacks
        op = Constant.create(value=a, name=self._name(suffix), loc=self.loc)
        self.importer.graph.append(op)
        self.created.append(op)
        return op.result

    def scalar(self, value: Any, like: Value | DType, suffix: str = "const") -> Value:
        """A 0-d constant of ``like``'s dtype (a value's or a dtype)."""
        dt = like if isinstance(like, DType) else self.ty(like).dtype
        return self.constant(np.asarray(value).astype(dt.numpy), suffix)

