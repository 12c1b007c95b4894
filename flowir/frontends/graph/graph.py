"""TF 1.15's ``Graph``: ops appended to an IR graph, with names, scopes, devices and collections.

A frontend ``Graph`` owns one ``flowir.ir.Graph`` and appends an IR op to it for every op
the user creates. It keeps TF's naming rules (unique names ``Variable``, ``Variable_1``;
``scope/name``; a reused scope becomes ``scope_1``), the device and control-dependency
scopes, collections, and the graph-level random seed.

The default-graph stack and each graph's scopes live in ``contextvars`` (``Graph.as_default``,
``name_scope``, ``device``, ``control_dependencies``), so they are per thread and per task as
TF's are thread-local; a thread that never entered a graph sees the global default graph.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from flowir.frontends.graph.tensor import NodeDef, Operation, Tensor
from flowir.ir.core import Graph as IRGraph
from flowir.ir.core import Operation as IROperation
from flowir.ir.core import Value
from flowir.ir.printer import print_graph
from flowir.ir.types import ControlType

__all__ = [
    "Graph",
    "GraphDef",
    "GraphKeys",
    "DeviceSpec",
    "get_default_graph",
    "reset_default_graph",
    "name_scope",
    "device",
    "control_dependencies",
    "add_to_collection",
    "add_to_collections",
    "get_collection",
    "get_collection_ref",
    "get_seed",
    "set_random_seed",
]

_VALID_OP_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\-/>]*$")
_VALID_SCOPE_NAME = re.compile(r"^[A-Za-z0-9_.\-/>]*$")

#: TF's graph-level seed used when only an op seed is set, and the bound seeds are kept in.
DEFAULT_GRAPH_SEED = 87654321
_MAXINT32 = 2**31 - 1


class GraphKeys:
    """Standard collection names (TF's ``tf.GraphKeys``)."""

    GLOBAL_VARIABLES = "variables"
    LOCAL_VARIABLES = "local_variables"
    METRIC_VARIABLES = "metric_variables"
    MODEL_VARIABLES = "model_variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    SUMMARIES = "summaries"
    QUEUE_RUNNERS = "queue_runners"
    TABLE_INITIALIZERS = "table_initializer"
    ASSET_FILEPATHS = "asset_filepaths"
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"
    REGULARIZATION_LOSSES = "regularization_losses"
    CONCATENATED_VARIABLES = "concatenated_variables"
    SAVERS = "savers"
    WEIGHTS = "weights"
    BIASES = "biases"
    ACTIVATIONS = "activations"
    UPDATE_OPS = "update_ops"
    LOSSES = "losses"
    SAVEABLE_OBJECTS = "saveable_objects"
    RESOURCES = "resources"
    LOCAL_RESOURCES = "local_resources"
    TRAINABLE_RESOURCE_VARIABLES = "trainable_resource_variables"
    INIT_OP = "init_op"
    LOCAL_INIT_OP = "local_init_op"
    READY_OP = "ready_op"
    READY_FOR_LOCAL_INIT_OP = "ready_for_local_init_op"
    SUMMARY_OP = "summary_op"
    GLOBAL_STEP = "global_step"
    EVAL_STEP = "eval_step"
    TRAIN_OP = "train_op"
    COND_CONTEXT = "cond_context"
    WHILE_CONTEXT = "while_context"
    VARIABLES = GLOBAL_VARIABLES


# --------------------------------------------------------------------------------------------
# Device strings


@dataclass(frozen=True)
class DeviceSpec:
    """A (partial) device: ``/job:worker/replica:0/task:1/device:GPU:0``; unset parts are ``None``.

    >>> DeviceSpec.from_string("/gpu:1").to_string()
    '/device:GPU:1'
    >>> DeviceSpec.from_string("/job:worker").merge(DeviceSpec.from_string("/cpu:0")).to_string()
    '/job:worker/device:CPU:0'
    """

    job: str | None = None
    replica: int | None = None
    task: int | None = None
    device_type: str | None = None
    device_index: int | None = None

    @classmethod
    def from_string(cls, spec: str) -> DeviceSpec:
        """Parse TF's device syntax: ``/job:NAME``, ``/replica:N``, ``/task:N``,
        ``/device:TYPE:N`` (``N`` may be ``*``) and the legacy ``/cpu:N``, ``/gpu:N``.

        Raises ``ValueError`` naming the bad part of ``spec``.
        """
        if not isinstance(spec, str):
            raise TypeError(f"a device is a string, got {spec!r}")
        fields: dict[str, Any] = {}
        for part in spec.split("/"):
            if not part:
                continue
            y = part.split(":")
            key = y[0]
            if len(y) == 2 and key == "job":
                if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", y[1]):
                    raise ValueError(f"invalid job name {y[1]!r} in device spec {spec!r}")
                fields["job"] = y[1]
            elif len(y) == 2 and key in ("replica", "task"):
                fields[key] = _device_int(y[1], spec)
            elif len(y) in (1, 2) and key.upper() in ("CPU", "GPU"):
                _set_type(fields, key.upper(), spec)
                fields["device_index"] = _device_index(y[1], spec) if len(y) == 2 else None
            elif len(y) == 3 and key == "device":
                if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", y[1]):
                    raise ValueError(f"invalid device type {y[1]!r} in device spec {spec!r}")
                _set_type(fields, y[1].upper(), spec)
                fields["device_index"] = _device_index(y[2], spec)
            else:
                raise ValueError(f"Unknown attribute {key!r} is encountered while parsing the device spec: {spec!r}.")
        return cls(**fields)

    def merge(self, other: DeviceSpec) -> DeviceSpec:
        """This spec with every part that ``other`` sets replaced by ``other``'s."""
        return DeviceSpec(
            other.job if other.job is not None else self.job,
            other.replica if other.replica is not None else self.replica,
            other.task if other.task is not None else self.task,
            other.device_type if other.device_type is not None else self.device_type,
            other.device_index if other.device_index is not None else self.device_index,
        )

    def to_string(self) -> str:
        """The canonical spelling (TF's ``DeviceSpec.to_string``); ``""`` when nothing is set."""
        out = ""
        if self.job is not None:
            out += f"/job:{self.job}"
        if self.replica is not None:
            out += f"/replica:{self.replica}"
        if self.task is not None:
            out += f"/task:{self.task}"
        if self.device_type is not None:
            index = "*" if self.device_index is None else str(self.device_index)
            out += f"/device:{self.device_type}:{index}"
        return out

    def __str__(self) -> str:
        return self.to_string()


def _set_type(fields: dict[str, Any], device_type: str, spec: str) -> None:
    if "device_type" in fields:
        raise ValueError(f"Multiple device types are not allowed while parsing the device spec: {spec}.")
    fields["device_type"] = device_type


def _device_int(text: str, spec: str) -> int:
    if not text.isdigit():
        raise ValueError(f"invalid number {text!r} in device spec {spec!r}")
    return int(text)


def _device_index(text: str, spec: str) -> int | None:
    return None if text == "*" else _device_int(text, spec)


_NO_DEVICE = DeviceSpec()


# --------------------------------------------------------------------------------------------
# Per-graph building state (name scope, devices, control dependencies)


@dataclass(eq=False)
class _Controller:
    """One ``control_dependencies`` block: its control inputs and the ops created inside it."""

    control_inputs: list[Operation]
    #: The IR ops created inside the block.
    seen: set[IROperation] = field(default_factory=set)


class _BuildState(NamedTuple):
    """A graph's building state inside some scopes (a tuple: one is made per name scope)."""

    name_stack: str = ""
    #: DeviceSpec entries merge in order; callables map an op to a device string.
    devices: tuple[DeviceSpec | Callable[[Operation], Any], ...] = ()
    controllers: tuple[_Controller, ...] = ()


_EMPTY_STATE = _BuildState()
_DEFAULT_GRAPHS: contextvars.ContextVar[tuple[Graph, ...]] = contextvars.ContextVar("flowir_default_graphs", default=())


def _push(stack: contextvars.ContextVar[tuple[Any, ...]], item: Any) -> None:
    stack.set((*stack.get(), item))


def _pop(stack: contextvars.ContextVar[tuple[Any, ...]], item: Any) -> None:
    """Remove the innermost ``item`` from ``stack``; entries pushed after it stay, so blocks
    that are not left in order (an ``InteractiveSession`` closed early) undo only themselves."""
    items = stack.get()
    for i in range(len(items) - 1, -1, -1):
        if items[i] is item:
            stack.set(items[:i] + items[i + 1 :])
            return


class _scoped:  # noqa: N801 - used like a contextmanager function
    """``with _scoped(graph, state):`` makes ``state`` the building state of ``graph`` inside.

    A class rather than a generator: every op wrapper opens a name scope, so this is on the
    path of every op built."""

    __slots__ = ("_graph", "_state", "_token")

    def __init__(self, graph: Graph, state: _BuildState) -> None:
        self._graph = graph
        self._state = state

    def __enter__(self) -> None:
        self._token = self._graph._build_state.set(self._state)

    def __exit__(self, *exc: Any) -> None:
        self._graph._build_state.reset(self._token)


class _NameScope:
    """``Graph.name_scope(name)``: the scope is opened (and its name made unique) on entry,
    which gives the scope with a trailing ``/``."""

    __slots__ = ("_graph", "_name", "_scope")

    def __init__(self, graph: Graph, name: str | None) -> None:
        self._graph = graph
        self._name = name

    def __enter__(self) -> str:
        graph, name = self._graph, self._name
        state = graph._state()
        if not name:
            new_stack = ""
        else:
            if type(name) is not str or name not in _CHECKED_SCOPE_NAMES:
                if not isinstance(name, str):
                    raise TypeError(f"a name scope is a string, got {name!r}")
                pattern = _VALID_SCOPE_NAME if state.name_stack else _VALID_OP_NAME
                if not pattern.match(name):
                    raise ValueError(f"'{name}' is not a valid scope name")
                if _VALID_OP_NAME.match(name) and len(_CHECKED_SCOPE_NAMES) < 10_000:
                    _CHECKED_SCOPE_NAMES.add(name)  # valid at any depth
            new_stack = name[:-1] if name[-1] == "/" else graph.unique_name(name)
        if new_stack == state.name_stack:
            # Re-entering the current scope (an op wrapper inside its operator's scope): the
            # state does not change.
            self._scope = None
        else:
            self._scope = _scoped(graph, _BuildState(new_stack, state.devices, state.controllers))
            self._scope.__enter__()
        return f"{new_stack}/" if new_stack else ""

    def __exit__(self, *exc: Any) -> None:
        if self._scope is not None:
            self._scope.__exit__(*exc)


#: Scope names already checked against both patterns (the names op wrappers use over and over).
_CHECKED_SCOPE_NAMES: set[str] = set()


@dataclass
class GraphDef:
    """A snapshot of a graph: its ops as ``NodeDef`` entries and its textual IR (``str()``)."""

    node: list[NodeDef]
    text: str

    def __str__(self) -> str:
        return self.text


# --------------------------------------------------------------------------------------------
# Graph


class Graph:
    """A TF1 dataflow graph: ``Operation`` objects over one ``flowir.ir.Graph``.

    Build ops inside ``with g.as_default():`` (or in the global default graph). Op names are
    unique per graph; ``get_tensor_by_name("scope/op:0")`` finds them again.
    """

    def __init__(self) -> None:
        self._ir = IRGraph("main")
        self._lock = threading.RLock()
        #: This graph's building state (name scope, devices, control dependencies), per
        #: thread and asyncio task: one variable per graph, so entering a scope is one ``set``.
        self._build_state: contextvars.ContextVar[_BuildState] = contextvars.ContextVar(
            "flowir_build_state", default=_EMPTY_STATE
        )
        #: Each op by name, as its IR op: an ``Operation`` wrapper is made when first asked for
        #: (``_wrap``) and kept in ``_ops_by_ir``; each result's ``Tensor`` is in ``_tensors``.
        self._ir_by_name: dict[str, IROperation] = {}
        self._ops_by_ir: dict[IROperation, Operation] = {}
        self._tensors: dict[Value, Tensor] = {}
        self._names_in_use: dict[str, int] = {}
        self._last_id = 0
        self._collections: dict[str, list[Any]] = {}
        self._finalized = False
        #: The graph-level random seed (``set_random_seed``); ``None`` when unset.
        self.seed: int | None = None
        self._unfeedable: set[Tensor] = set()
        self._unfetchable: set[Any] = set()
        #: Placeholders a session fills from its own state each run (``report_uninitialized_variables``).
        self._session_provided: dict[Tensor, Callable[[dict[str, Any]], Any]] = {}
        #: Variable op -> the tensor that reads its value (what fetching the variable gives).
        self._variable_reads: dict[Operation, Tensor] = {}
        #: IR values whose types were changed after their consumers may have been built
        #: (``set_shape``): a session re-infers the types around them.
        self._retyped: set[Value] = set()
        #: Compiled runs, shared by this graph's sessions (see ``session.py``).
        self._run_cache: dict[Any, Any] = {}

    # -- the IR ------------------------------------------------------------------------------

    @property
    def ir_graph(self) -> IRGraph:
        """The IR graph the ops live in (treat it as read-only)."""
        return self._ir

    @property
    def version(self) -> int:
        """A number that grows as ops are added: the id of the newest op (0 for an empty graph), as TF 1.15."""
        return self._last_id

    @property
    def finalized(self) -> bool:
        """Whether ``finalize()`` was called, making the graph read-only."""
        return self._finalized

    def finalize(self) -> None:
        """Make the graph read-only: creating an op raises ``RuntimeError`` from now on."""
        self._finalized = True

    def _check_not_finalized(self) -> None:
        if self._finalized:
            raise RuntimeError("Graph is finalized and cannot be modified.")

    @property
    def building_function(self) -> bool:
        """Always ``False``: flowir graphs never represent a ``tf.function`` (TF 1.15: ``True`` for function graphs)."""
        return False

    # -- default graph -----------------------------------------------------------------------

    @contextlib.contextmanager
    def as_default(self) -> Iterator[Graph]:
        """Make this the default graph inside the ``with`` block (per thread)."""
        _push(_DEFAULT_GRAPHS, self)
        try:
            yield self
        finally:
            _pop(_DEFAULT_GRAPHS, self)

    # -- names -------------------------------------------------------------------------------

    def _state(self) -> _BuildState:
        return self._build_state.get()

    def get_name_scope(self) -> str:
        """The current name scope (``"outer/inner"``; ``""`` at the top)."""
        return self._state().name_stack

    def unique_name(self, name: str, mark_as_used: bool = True) -> str:
        """``name`` inside the current scope, suffixed ``_1``, ``_2`` ... to be unique (TF's rules;
        names differing only in case clash)."""
        stack = self._state().name_stack
        if stack:
            name = f"{stack}/{name}"
        with self._lock:
            key = name.lower()
            i = self._names_in_use.get(key, 0)
            if mark_as_used:
                self._names_in_use[key] = i + 1
            if i > 0:
                base = key
                while key in self._names_in_use:
                    key = f"{base}_{i}"
                    i += 1
                if mark_as_used:
                    self._names_in_use[key] = 1
                name = f"{name}_{i - 1}"
        return name

    def name_scope(self, name: str | None) -> contextlib.AbstractContextManager[str]:
        """Open the scope ``name`` (made unique; ``"a/b/"`` with a trailing slash is taken as
        is; ``None`` or ``""`` goes back to the top). Yields the scope with a trailing ``/``."""
        return _NameScope(self, name)

    # -- devices -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def device(self, device_name_or_function: str | DeviceSpec | Callable[[Operation], Any] | None) -> Iterator[None]:
        """Ops created inside run on this device: a device string (parts merge with enclosing
        ``device`` blocks), a ``DeviceSpec``, a function of the op returning one, or ``None``
        to clear the enclosing devices. ``ValueError`` for an invalid device string."""
        state = self._state()
        if device_name_or_function is None:
            devices: tuple = ()
        elif callable(device_name_or_function) and not isinstance(device_name_or_function, DeviceSpec):
            devices = (*state.devices, device_name_or_function)
        else:
            devices = (*state.devices, _as_device_spec(device_name_or_function))
        with _scoped(self, state._replace(devices=devices)):
            yield

    def _device_for(self, state: _BuildState) -> tuple[str | None, list[Callable[[Operation], Any]]]:
        if not state.devices:
            return None, []
        spec = _NO_DEVICE
        functions = []
        for entry in state.devices:
            if isinstance(entry, DeviceSpec):
                spec = spec.merge(entry)
            else:
                functions.append(entry)
        return spec.to_string() or None, functions

    # -- control dependencies ----------------------------------------------------------------

    def control_dependencies(self, control_inputs: Sequence[Any] | None) -> contextlib.AbstractContextManager[None]:
        """Ops created inside wait for ``control_inputs`` (ops or tensors); ``None`` clears the
        enclosing blocks. As TF, an op whose data inputs were created inside a block does not
        get that block's dependencies again."""
        state = self._state()
        if control_inputs is None:
            return _scoped(self, state._replace(controllers=()))
        current = {op for c in state.controllers for op in c.control_inputs}
        ops: list[Operation] = []
        for c in control_inputs:
            op = self._as_control_op(c)
            if op not in current and op not in ops:
                ops.append(op)
        return _scoped(self, state._replace(controllers=(*state.controllers, _Controller(ops))))

    def _as_control_op(self, c: Any) -> Operation:
        if isinstance(c, Operation):
            element = c
        else:
            element = self.as_graph_element(c)
        if isinstance(element, Tensor):
            element = element.op
        if element._graph is not self:
            raise ValueError(f"Control input {c!r} is not an element of this graph.")
        return element

    def _control_deps_for(self, state: _BuildState, input_ops: list[IROperation]) -> list[Operation]:
        deps: list[Operation] = []
        for controller in state.controllers:
            if any(op in controller.seen for op in input_ops):
                continue
            deps.extend(c for c in controller.control_inputs if c._ir not in input_ops and c not in deps)
        return deps

    # -- creating ops ------------------------------------------------------------------------

    def _create_ir_op(
        self,
        op_class: type[IROperation],
        inputs: Sequence[Any],
        name: str,
        result_types: Sequence[Any] | None,
        control_inputs: Sequence[Any],
        attrs: dict[str, Any],
    ) -> IROperation:
        """Build an IR op of ``op_class`` from tensors, name it by TF's rules, apply the
        device and control-dependency scopes and append it; no ``Operation`` wrapper is made
        for it (``_wrap`` makes one when asked). See ``building.make_op``."""
        self._check_not_finalized()
        operands: list[Any] = []
        input_ops: list[IROperation] = []
        for x in inputs:
            if type(x) is Tensor and x._graph is self:  # the usual case, checked inline
                v = x._value
                operands.append(v)
                input_ops.append(v.owner)  # type: ignore[arg-type]
            elif isinstance(x, (list, tuple)):
                operands.append([self._input_value(t, op_class, name) for t in x])
                input_ops.extend(t._value.owner for t in x)
            else:
                operands.append(self._input_value(x, op_class, name))
                input_ops.append(x._value.owner)
        state = self._state()
        with self._lock:
            if name[-1:] == "/":
                name = name[:-1]
            else:
                name = self.unique_name(name)
            if name in self._ir_by_name:
                raise ValueError(f"Duplicate node name in graph: '{name}'")
            deps = self._control_deps_for(state, input_ops) if state.controllers else []
            for c in control_inputs:
                op = self._as_control_op(c)
                if op not in deps:
                    deps.append(op)
            device, device_functions = self._device_for(state) if state.devices else (None, None)
            ir_op = op_class.create(
                *operands,
                name=name,
                control_deps=[d._control_value for d in deps] if deps else (),
                result_types=result_types,
                device=device,
                **attrs,
            )
            self._ir.append(ir_op)
            self._last_id += 1
            self._ir_by_name[name] = ir_op
            for controller in state.controllers:
                controller.seen.add(ir_op)
        if device_functions:
            spec = DeviceSpec.from_string(device) if device else _NO_DEVICE
            op = self._wrap(ir_op)
            for fn in device_functions:
                chosen = fn(op)
                if chosen:
                    spec = spec.merge(_as_device_spec(chosen))
            ir_op.device = spec.to_string() or None
        return ir_op

    def _input_value(self, t: Any, op_class: type[IROperation], name: str) -> Value:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op_class.name} {name!r}: inputs must be Tensors (convert them first), got {t!r}")
        if t._graph is not self:
            raise ValueError(f"{t} must be from the same graph as the op {name!r} being created (the default graph).")
        return t._value

    # -- lookup ------------------------------------------------------------------------------

    def _wrap(self, ir_op: IROperation) -> Operation:
        """The ``Operation`` of this graph's IR op ``ir_op`` (made on first use, then kept)."""
        op = self._ops_by_ir.get(ir_op)
        if op is None:
            with self._lock:
                op = self._ops_by_ir.get(ir_op)
                if op is None:
                    op = self._ops_by_ir[ir_op] = Operation(ir_op, self)
        return op

    def _wrapper_of(self, ir_op: IROperation) -> Operation | None:
        """The ``Operation`` of ``ir_op`` if it is one of this graph's ops, else ``None``."""
        op = self._ops_by_ir.get(ir_op)
        if op is not None:
            return op
        if self._ir_by_name.get(ir_op.user_name or "") is not ir_op:
            return None
        return self._wrap(ir_op)

    def _op_named(self, name: str) -> Operation | None:
        """The op called ``name``, ``None`` if there is none."""
        ir_op = self._ir_by_name.get(name)
        return None if ir_op is None else self._wrap(ir_op)

    def _new_tensor(self, value: Value) -> Tensor:
        """The ``Tensor`` of a result of an op just created here (``_tensor_of`` without
        its checks)."""
        # setdefault: another thread may have asked for it already (get_operations).
        return self._tensors.setdefault(value, Tensor(self, value.index, value))  # type: ignore[attr-defined]

    def _tensor_of(self, value: Value) -> Tensor:
        """The ``Tensor`` of ``value``, a result of one of this graph's ops (made once)."""
        t = self._tensors.get(value)
        if t is None:
            owner = value.owner
            if owner is None or self._ir_by_name.get(owner.user_name or "") is not owner or type(value.type) is ControlType:
                raise KeyError(f"{value!r} has no tensor in this graph")
            t = self._new_tensor(value)
        return t

    def get_operations(self) -> list[Operation]:
        """All ops, in creation order."""
        with self._lock:
            ir_ops = list(self._ir_by_name.values())
        return [self._wrap(o) for o in ir_ops]

    def as_graph_element(self, obj: Any, allow_tensor: bool = True, allow_operation: bool = True) -> Any:
        """The ``Tensor`` or ``Operation`` that ``obj`` (an object or a name) denotes in this
        graph. ``TypeError``, ``ValueError`` or ``KeyError`` as TF raises them."""
        types_str = " or ".join((["Tensor"] if allow_tensor else []) + (["Operation"] if allow_operation else []))
        if isinstance(obj, str):
            if ":" in obj and allow_tensor:
                op_name, _, index = obj.partition(":")
                try:
                    out_n = int(index)
                except ValueError:
                    raise ValueError(
                        f"The name {obj!r} looks a like a Tensor name, but is not a valid one. "
                        'Tensor names must be of the form "<op_name>:<output_index>".'
                    ) from None
                op = self._op_named(op_name)
                if op is None:
                    raise KeyError(
                        f"The name {obj!r} refers to a Tensor which does not exist. "
                        f"The operation, {op_name!r}, does not exist in the graph."
                    )
                for t in op._outputs:
                    if t._value_index == out_n:
                        return t
                raise KeyError(
                    f"The name {obj!r} refers to a Tensor which does not exist. "
                    f"The operation, {op_name!r}, exists but only has {len(op._outputs)} outputs."
                )
            if ":" in obj:
                raise ValueError(f"Name {obj!r} appears to refer to a Tensor, not a {types_str}.")
            if allow_operation:
                op = self._op_named(obj)
                if op is None:
                    raise KeyError(f"The name {obj!r} refers to an Operation not in the graph.")
                return op
            suffix = ' Tensor names must be of the form "<op_name>:<output_index>".'
            if obj in self._ir_by_name:
                raise ValueError(f"The name {obj!r} refers to an Operation, not a {types_str}.{suffix}")
            raise ValueError(f"The name {obj!r} looks like an (invalid) Operation name, not a {types_str}.{suffix}")
        if isinstance(obj, Tensor) and allow_tensor:
            if obj._graph is not self:
                raise ValueError(f"Tensor {obj} is not an element of this graph.")
            return obj
        if isinstance(obj, Operation) and allow_operation:
            if obj._graph is not self:
                raise ValueError(f"Operation {obj!r} is not an element of this graph.")
            return obj
        as_element = getattr(obj, "_as_graph_element", None)
        if as_element is not None and not isinstance(obj, type):
            return self.as_graph_element(as_element(), allow_tensor, allow_operation)
        raise TypeError(f"Can not convert a {type(obj).__name__} into a {types_str}.")

    def get_tensor_by_name(self, name: str) -> Tensor:
        """The tensor called ``name`` (``"scope/op:0"``); ``KeyError`` if there is none."""
        if not isinstance(name, str):
            raise TypeError(f"Tensor names are strings (or similar), not {type(name).__name__}.")
        return self.as_graph_element(name, allow_tensor=True, allow_operation=False)

    def get_operation_by_name(self, name: str) -> Operation:
        """The op called ``name``; ``KeyError`` if there is none."""
        if not isinstance(name, str):
            raise TypeError(f"Operation names are strings (or similar), not {type(name).__name__}.")
        return self.as_graph_element(name, allow_tensor=False, allow_operation=True)

    # -- feeding and fetching ----------------------------------------------------------------

    def prevent_feeding(self, tensor: Tensor) -> None:
        """Mark ``tensor`` as unfeedable: ``Session.run`` then rejects it in ``feed_dict``."""
        self._unfeedable.add(tensor)

    def is_feedable(self, tensor: Tensor) -> bool:
        """Whether ``tensor`` may be fed: not marked unfeedable and holding data (a variable
        handle is not)."""
        return tensor not in self._unfeedable and not tensor._dtype._is_ref

    def prevent_fetching(self, op: Operation) -> None:
        """Mark ``op`` as unfetchable: ``Session.run`` then rejects it, or any of its outputs, as a fetch."""
        self._unfetchable.add(op)

    def is_fetchable(self, tensor_or_op: Any) -> bool:
        """Whether a tensor or op may be fetched (its op was not passed to ``prevent_fetching``)."""
        op = tensor_or_op.op if isinstance(tensor_or_op, Tensor) else tensor_or_op
        return op not in self._unfetchable

    # -- collections -------------------------------------------------------------------------

    def add_to_collection(self, name: str, value: Any) -> None:
        """Append ``value`` to the collection ``name``, creating it if missing.

        Unlike TF 1.15, this is allowed on a finalized graph.
        """
        with self._lock:
            self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names: str | Sequence[str], value: Any) -> None:
        """Add ``value`` to each collection in ``names`` (a name or several; each once)."""
        names = (names,) if isinstance(names, str) else set(names)
        for name in names:
            self.add_to_collection(name, value)

    def get_collection_ref(self, name: str) -> list[Any]:
        """The collection's list itself (created empty if missing)."""
        with self._lock:
            return self._collections.setdefault(name, [])

    def get_collection(self, name: str, scope: str | None = None) -> list[Any]:
        """A copy of the collection; with ``scope``, only items whose ``name`` matches it
        (``re.match``)."""
        with self._lock:
            items = list(self._collections.get(name, ()))
        if scope is None:
            return items
        pattern = re.compile(scope)
        return [item for item in items if getattr(item, "name", None) is not None and pattern.match(item.name)]

    def get_all_collection_keys(self) -> list[str]:
        """The names of the non-empty collections, in creation order.

        TF 1.15 also lists collections that exist but are empty (made by ``get_collection_ref``).
        """
        with self._lock:
            return [k for k, v in self._collections.items() if v]

    def clear_collection(self, name: str) -> None:
        """Remove the collection ``name`` (no error if it does not exist).

        Unlike TF 1.15, this is allowed on a finalized graph.
        """
        with self._lock:
            self._collections.pop(name, None)

    # -- export ------------------------------------------------------------------------------

    def as_graph_def(self, from_version: int | None = None, add_shapes: bool = False) -> GraphDef:
        """A ``GraphDef`` snapshot: ``node`` lists the ops, ``str()`` is the textual IR."""
        with self._lock:
            return GraphDef([op.node_def for op in self.get_operations()], print_graph(self._ir))

    @property
    def graph_def_versions(self) -> None:
        """Always ``None``: flowir's ``GraphDef`` has no ``VersionDef`` (TF 1.15 returns one)."""
        return None

    def __repr__(self) -> str:
        return f"<flowir.Graph with {len(self._ir_by_name)} ops>"


def _as_device_spec(device_spec: Any) -> DeviceSpec:
    if isinstance(device_spec, DeviceSpec):
        return device_spec
    return DeviceSpec.from_string(device_spec)


# --------------------------------------------------------------------------------------------
# The default graph and module-level scopes

_global_default_graph: Graph | None = None
_global_lock = threading.Lock()


def get_default_graph() -> Graph:
    """The innermost graph entered with ``as_default()`` in this thread, else the global one."""
    stack = _DEFAULT_GRAPHS.get()
    if stack:
        return stack[-1]
    global _global_default_graph
    if _global_default_graph is None:
        with _global_lock:
            if _global_default_graph is None:
                _global_default_graph = Graph()
    return _global_default_graph


def reset_default_graph() -> None:
    """Replace the global default graph with a new, empty one.

    ``AssertionError`` inside a ``with g.as_default():`` block, as in TF.
    """
    if _DEFAULT_GRAPHS.get():
        raise AssertionError(
            "Do not use tf.reset_default_graph() to clear nested graphs. If you need a cleared graph, "
            "exit the nesting and create a new graph."
        )
    global _global_default_graph
    with _global_lock:
        _global_default_graph = Graph()


def _graph_of(value: Any) -> Graph | None:
    if isinstance(value, (Tensor, Operation)):
        return value.graph
    graph = getattr(value, "graph", None)
    return graph if isinstance(graph, Graph) and hasattr(value, "_as_graph_element") else None


def _get_graph_from_inputs(values: Sequence[Any]) -> Graph:
    """The graph of the graph elements among ``values`` (the default graph if there are none).

    ``ValueError`` if they come from different graphs.
    """
    found: Graph | None = None
    first: Any = None
    for v in values:
        g = v._graph if type(v) is Tensor else _graph_of(v)
        if g is None:
            continue
        if found is None:
            found, first = g, v
        elif g is not found:
            raise ValueError(f"{v} must be from the same graph as {first}.")
    return found if found is not None else get_default_graph()


class name_scope:  # noqa: N801 - TF's name
    """``with name_scope(name, default_name, values) as scope:`` opens a name scope in the
    graph of ``values`` (made the default graph inside), as TF 1.15's ``tf.name_scope``.

    ``name`` (or ``default_name`` when ``name`` is ``None``) is made unique; a name ending in
    ``/`` re-enters that exact scope; ``""`` or ``None`` (with no default) returns to the top.
    The ``as`` target is the scope with a trailing ``/``.
    """

    def __init__(self, name: str | None, default_name: str | None = None, values: Sequence[Any] | None = None) -> None:
        self._name = default_name if name is None else name
        self._default_name = default_name
        self._values = values
        self._stack: contextlib.AbstractContextManager[Any] | None = None

    def __enter__(self) -> str:
        if self._name is None and self._values is not None:
            raise ValueError(
                f"At least one of name ({self._name}) and default_name ({self._default_name}) must be provided."
            )
        default = get_default_graph()
        g = _get_graph_from_inputs(self._values) if self._values else default
        if g is default:
            # The common case, on the path of every op wrapper: no graph to enter.
            name = self._name
            if type(name) is str and name[-1:] == "/" and g._state().name_stack == name[:-1]:
                # Re-entering the current scope (an op wrapper called by an operator that
                # opened it) changes nothing.
                self._stack = None
                return name
            scope_cm = g.name_scope(name)
            scope = scope_cm.__enter__()
            self._stack = scope_cm
            return scope
        stack = contextlib.ExitStack()
        try:
            if g is not get_default_graph():
                stack.enter_context(g.as_default())
            scope = stack.enter_context(g.name_scope(self._name))
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return scope

    def __exit__(self, *exc: Any) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.__exit__(*exc)


def device(device_name_or_function: Any) -> contextlib.AbstractContextManager[None]:
    """``with device("/gpu:0"):`` places the ops created inside (see ``Graph.device``)."""
    return get_default_graph().device(device_name_or_function)


def control_dependencies(control_inputs: Sequence[Any] | None) -> contextlib.AbstractContextManager[None]:
    """``with control_dependencies([a, b]):`` ops created inside run after ``a`` and ``b``."""
    return get_default_graph().control_dependencies(control_inputs)


def add_to_collection(name: str, value: Any) -> None:
    """Append ``value`` to the default graph's collection ``name`` (``Graph.add_to_collection``).

    >>> import flowir as tf
    >>> with tf.Graph().as_default():
    ...     tf.add_to_collection("losses", 1.0)
    ...     tf.get_collection("losses")
    [1.0]
    """
    get_default_graph().add_to_collection(name, value)


def add_to_collections(names: str | Sequence[str], value: Any) -> None:
    """Add ``value`` to each of the default graph's collections ``names`` (``Graph.add_to_collections``)."""
    get_default_graph().add_to_collections(names, value)


def get_collection(key: str, scope: str | None = None) -> list[Any]:
    """A copy of the default graph's collection ``key`` (empty if missing; ``Graph.get_collection``).

    With ``scope``, only the items whose ``name`` matches it from the start (``re.match``), as TF 1.15.
    """
    return get_default_graph().get_collection(key, scope)


def get_collection_ref(key: str) -> list[Any]:
    """The default graph's collection ``key`` itself, a list to mutate (created empty if missing)."""
    return get_default_graph().get_collection_ref(key)


def set_random_seed(seed: int | None) -> None:
    """Set the default graph's random seed (``None`` unsets it)."""
    get_default_graph().seed = seed


def get_seed(op_seed: int | None) -> tuple[int | None, int | None]:
    """The ``(seed, seed2)`` a random op uses, by TF 1.15's rules.

    Graph seed set: ``(graph_seed, op_seed)``, the op seed defaulting to the id of the graph's
    last op (so each op gets its own stream). Only an op seed: ``(87654321, op_seed)``.
    Neither: ``(None, None)`` (not reproducible). Seeds are taken modulo ``2**31 - 1``, and
    ``(0, 0)`` becomes ``(0, 2**31 - 1)`` because kernels read ``(0, 0)`` as "unseeded".
    """
    g = get_default_graph()
    global_seed = g.seed
    if global_seed is not None:
        if op_seed is None:
            op_seed = g._last_id
        seeds: tuple[int | None, int | None] = (global_seed % _MAXINT32, op_seed % _MAXINT32)
    elif op_seed is not None:
        seeds = (DEFAULT_GRAPH_SEED, op_seed % _MAXINT32)
    else:
        seeds = (None, None)
    if seeds == (0, 0):
        return (0, _MAXINT32)
    return seeds
