"""An ``onnx.backend.base.Backend`` running ONNX models on flowir's numpy or jax backend.

Use it as ``onnxruntime.backend``::

    import flowir.onnx.backend as backend
    rep = backend.prepare(model, device="CPU", backend="numpy")
    (y,) = rep.run([x])

``prepare`` imports the model (``flowir.onnx.import_model``) and reports an unsupported op
at once. A ``BackendRep`` compiles once per input signature (shapes and dtypes): shapes are
specialized to the fed ones, and an integer input that the model uses as a shape, axes or
pads (a Reshape's shape fed as an input) is specialized on its value, as a JIT specializes on
static arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
import onnx.backend.base as onnx_backend
from onnx import helper

from flowir.frontends.onnx import DynamicValueError, import_model
from flowir.frontends.onnx.errors import OnnxImportError
from flowir.ir.core import Graph
from flowir.ir.dtypes import DType
from flowir.ir.errors import DTypeError
from flowir.ir.ops.core import Placeholder

__all__ = ["FlowirBackend", "FlowirBackendRep", "prepare", "run_model", "run_node", "supports_device", "is_compatible"]

#: Feeds bound as constants to specialize a model are at most this large (shape-like inputs).
_BIND_LIMIT = 1 << 12


class _Outputs(tuple):
    """The outputs of a run: a tuple, also indexable by ONNX output name."""

    names: tuple[str, ...]

    def __new__(cls, values: Sequence[Any], names: Sequence[str]) -> _Outputs:
        out = super().__new__(cls, values)
        out.names = tuple(names)
        return out

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names.index(key))
        return tuple.__getitem__(self, key)


class _Compiled:
    """One specialization: the executable and which inputs are fed (the rest are bound)."""

    def __init__(self, executable: Any, fed: list[int], bound: dict[int, np.ndarray]) -> None:
        self.executable = executable
        self.fed = fed
        self.bound = bound


class FlowirBackendRep(onnx_backend.BackendRep):
    """A prepared model: ``run(inputs)`` with inputs as a list (graph input order), a dict
    by name, or one array; returns the outputs in graph output order (also by name)."""

    def __init__(self, model: onnx.ModelProto, backend: str, graph: Graph | None) -> None:
        from flowir import backends

        self.model = model
        self.backend = backends.get(backend)
        inits = {t.name for t in model.graph.initializer}
        self.input_names = [i.name for i in model.graph.input if i.name not in inits]
        self.output_names = [o.name for o in model.graph.output]
        self.graph = graph
        self._by_signature: dict[tuple, list[_Compiled]] = {}
        from flowir.ir.reference import RefContext

        # One context for the rep's lifetime, so unseeded random ops draw anew on each run.
        self._ctx = RefContext()

    def run(self, inputs: Any, **kwargs: Any) -> _Outputs:
        arrays = self._arrays(inputs)
        signature = tuple((a.shape, a.dtype.str) for a in arrays)
        candidates = self._by_signature.setdefault(signature, [])
        compiled = next((c for c in candidates if all(np.array_equal(arrays[i], v) for i, v in c.bound.items())), None)
        if compiled is None:
            compiled = self._compile(arrays)
            candidates.append(compiled)
        fetches, _ = compiled.executable([arrays[i] for i in compiled.fed], [], self._ctx)
        return _Outputs([np.asarray(f) for f in fetches], self.output_names)

    def _arrays(self, inputs: Any) -> list[np.ndarray]:
        if isinstance(inputs, Mapping):
            missing = [n for n in self.input_names if n not in inputs]
            if missing:
                raise ValueError(f"missing inputs {missing} (the model takes {self.input_names})")
            values = [inputs[n] for n in self.input_names]
        elif isinstance(inputs, np.ndarray):
            values = [inputs]
        else:
            values = list(inputs)
        if len(values) != len(self.input_names):
            raise ValueError(f"the model takes {len(self.input_names)} inputs {self.input_names}, got {len(values)}")
        arrays = [np.asarray(v) for v in values]
        # flowir holds strings as object arrays.
        return [a.astype(object) if a.dtype.kind in "SU" else a for a in arrays]

    def _compile(self, arrays: list[np.ndarray]) -> _Compiled:
        from flowir.backends import Program
        from flowir.ir.transforms import extract_subgraph

        shapes = {n: a.shape for n, a in zip(self.input_names, arrays)}
        index = {n: i for i, n in enumerate(self.input_names)}
        bound: dict[int, np.ndarray] = {}
        graph = self.graph if self.graph is not None and self._fits(self.graph, shapes) else None
        while graph is None:
            try:
                graph = import_model(
                    self.model, input_shapes=shapes, bind_inputs={self.input_names[i]: a for i, a in bound.items()}
                )
            except DynamicValueError as e:
                new = [index[n] for n in e.graph_inputs if n in index and index[n] not in bound]
                if not new or any(arrays[i].size > _BIND_LIMIT for i in new):
                    raise
                bound.update({i: arrays[i] for i in new})
        placeholders = {op.user_name: op.result for op in graph.ops if type(op) is Placeholder}
        fed = [i for i, n in enumerate(self.input_names) if n in placeholders]
        for i in fed:
            want = placeholders[self.input_names[i]].type.dtype  # type: ignore[attr-defined]
            if arrays[i].dtype != want.numpy and not (want is DType.string and arrays[i].dtype.kind in "OSU"):
                raise DTypeError(
                    f"input {self.input_names[i]!r} of the model is {want.name}, got an array of {arrays[i].dtype}"
                )
        program_graph, _ = extract_subgraph(graph, graph.outputs, [placeholders[self.input_names[i]] for i in fed])
        program = Program(program_graph, len(fed), [], len(self.output_names), [])
        return _Compiled(self.backend.compile(program), fed, bound)

    @staticmethod
    def _fits(graph: Graph, shapes: Mapping[str, tuple[int, ...]]) -> bool:
        """Whether ``graph`` was imported with exactly these (static) input shapes."""
        return all(
            op.user_name in shapes and op.result.type.shape == tuple(shapes[op.user_name])  # type: ignore[attr-defined]
            for op in graph.ops
            if type(op) is Placeholder
        )


class FlowirBackend(onnx_backend.Backend):
    """ONNX's backend interface over flowir (see the module docstring)."""

    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        """Whether flowir imports ``model`` on ``device`` (a dynamic shape-like input counts
        as compatible: runs specialize on it)."""
        if not cls.supports_device(device):
            return False
        try:
            import_model(model)
        except DynamicValueError:
            return True
        except OnnxImportError:
            return False
        return True

    @classmethod
    def prepare(cls, model: onnx.ModelProto | str, device: str = "CPU", backend: str = "numpy", **kwargs: Any) -> FlowirBackendRep:
        """Import ``model`` (a ``ModelProto`` or a path) for flowir's ``backend`` ("numpy" or
        "jax"). Raises ``UnsupportedOnnxOpError`` for an op flowir cannot import and
        ``ValueError`` for a device other than CPU."""
        if not isinstance(model, onnx.ModelProto):
            model = onnx.load(model)
        if not cls.supports_device(device):
            raise ValueError(f"flowir's ONNX backend runs on CPU, not {device!r}")
        try:
            graph: Graph | None = import_model(model)
        except DynamicValueError:
            graph = None  # resolved per input signature at run time
        return FlowirBackendRep(model, backend, graph)

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU", **kwargs: Any) -> _Outputs:
        """Import ``model`` and run it once on ``inputs``: ``prepare(model, device, **kwargs).run(inputs)``."""
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(
        cls,
        node: onnx.NodeProto,
        inputs: Any,
        device: str = "CPU",
        outputs_info: Sequence[tuple[np.dtype, tuple[int, ...]]] | None = None,
        **kwargs: Any,
    ) -> _Outputs:
        """Run one node on ``inputs`` (arrays in the node's input order, omitted optional inputs
        left out); ``opset_version`` picks the opset (default: the newest onnx knows)."""
        arrays = [np.asarray(x) for x in inputs]
        names = [n for n in node.input if n]
        graph_inputs = [
            helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape) for n, a in zip(names, arrays)
        ]
        graph_outputs = []
        for i, n in enumerate(o for o in node.output if o):
            if outputs_info is not None and i < len(outputs_info):
                dt, shape = outputs_info[i]
                graph_outputs.append(helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(np.dtype(dt)), shape))
            else:
                graph_outputs.append(helper.make_empty_tensor_value_info(n))
        opset = kwargs.pop("opset_version", onnx.defs.onnx_opset_version())
        model = helper.make_model(
            helper.make_graph([node], "run_node", graph_inputs, graph_outputs),
            opset_imports=[helper.make_opsetid(node.domain or "", opset)],
        )
        return cls.prepare(model, device, **kwargs).run(arrays)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        """flowir's ONNX backend runs on the CPU (the jax backend places arrays itself)."""
        return device.upper().startswith("CPU")


prepare = FlowirBackend.prepare
run_model = FlowirBackend.run_model
run_node = FlowirBackend.run_node
supports_device = FlowirBackend.supports_device
is_compatible = FlowirBackend.is_compatible
