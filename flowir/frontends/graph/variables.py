"""TF 1.15's ``Variable`` and the functions around it (``assign``, initializers, collections).

A ``Variable`` named ``a`` is TF's four ops, with TF's names: the initial value
(``a/initial_value``), the variable itself (``a``, an IR ``state.variable`` whose handle is
the tensor ``a:0``), its initializer (``a/Assign``) and its value snapshot (``a/read``, an
IR ``state.read``). A session keeps the variable's value under the name ``a``.

A variable works wherever a tensor does: Python operators, ``convert_to_tensor`` and op
arguments use its value (``a/read:0``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from flowir.frontends.graph.building import (
    convert_to_tensor,
    group,
    make_op,
    no_op,
    placeholder,
    register_tensor_conversion_function,
)
from flowir.frontends.graph.dtypes import DType, as_dtype, string
from flowir.frontends.graph.graph import Graph, GraphKeys, get_default_graph, name_scope
from flowir.frontends.graph.tensor import Operation, Tensor, TensorShape, _OperatorMixin
from flowir.ir.ops import state as state_ops
from flowir.ir.types import ResourceType, TensorType

__all__ = [
    "Variable",
    "assign",
    "assign_add",
    "assign_sub",
    "global_variables",
    "trainable_variables",
    "local_variables",
    "variables_initializer",
    "global_variables_initializer",
    "local_variables_initializer",
    "initialize_all_variables",
    "report_uninitialized_variables",
]


class Variable(_OperatorMixin):
    """A tensor-shaped value that persists across ``Session.run`` calls (TF 1.15's ref variable).

    ``initial_value`` (anything ``convert_to_tensor`` takes, or a function returning it) fixes
    the dtype (``dtype`` converts it) and, with ``validate_shape``, the shape. The variable is
    added to ``collections`` (default: global variables), and to trainable variables when
    ``trainable``. ``name`` (default ``"Variable"``, made unique in the current name scope)
    names its ops; ``shape`` declares the static shape, which must be compatible with the
    initial value's (``ValueError`` otherwise). Run ``initializer`` (or
    ``global_variables_initializer()``) before reading: reading an uninitialized variable
    raises ``errors.FailedPreconditionError``.

    Differences from TF 1.15: ``constraint`` is stored but not applied by the optimizers;
    ``caching_device``, ``expected_shape``, ``import_scope``, ``use_resource`` (the variable
    is always a ref variable), ``synchronization`` and ``aggregation`` are accepted and
    ignored; ``variable_def`` raises ``NotImplementedError``.

    >>> import flowir as tf
    >>> with tf.Graph().as_default():
    ...     v = tf.Variable([1.0, 2.0], name="a")
    ...     print(v.name, v.initializer.name, v.value().name)
    ...     bump = v.assign_add([10.0, 10.0])
    ...     with tf.Session(backend="numpy") as sess:
    ...         sess.run(tf.global_variables_initializer())
    ...         print(sess.run(bump), sess.run(v))
    a:0 a/Assign a/read:0
    [11. 12.] [11. 12.]
    """

    def __init__(
        self,
        initial_value: Any = None,
        trainable: bool = True,
        collections: Sequence[str] | None = None,
        validate_shape: bool = True,
        caching_device: Any = None,
        name: str | None = None,
        variable_def: Any = None,
        dtype: Any = None,
        expected_shape: Any = None,
        import_scope: Any = None,
        constraint: Any = None,
        use_resource: Any = None,
        synchronization: Any = None,
        aggregation: Any = None,
        shape: Any = None,
    ) -> None:
        if variable_def is not None:
            raise NotImplementedError("Variable(variable_def=...) is not supported; create the variable from an initial value")
        if initial_value is None:
            raise ValueError("initial_value must be specified.")
        init_from_fn = callable(initial_value)
        if collections is None:
            collections = [GraphKeys.GLOBAL_VARIABLES]
        if not isinstance(collections, (list, tuple, set)):
            raise ValueError(f"collections argument to Variable constructor must be a list, tuple, or set. Got {collections} of type {type(collections)}")
        collections = list(collections)
        if trainable and GraphKeys.TRAINABLE_VARIABLES not in collections:
            collections.append(GraphKeys.TRAINABLE_VARIABLES)
        self._trainable = trainable
        self._constraint = constraint
        with name_scope(name, "Variable", [] if init_from_fn else [initial_value]) as scope, get_default_graph().control_dependencies(None):
            if init_from_fn:
                with name_scope("Initializer"):
                    init = convert_to_tensor(initial_value(), name="initial_value", dtype=dtype)
            else:
                init = convert_to_tensor(initial_value, name="initial_value", dtype=dtype)
            self._initial_value = init
            if shape is not None:
                static = TensorShape(shape)
                if not static.is_compatible_with(init.shape):
                    raise ValueError(f"The initial value's shape ({init.shape}) is not compatible with the explicitly supplied `shape` argument ({static}).")
            elif validate_shape:
                static = init.shape
            else:
                static = TensorShape(None)
            value_type = TensorType(init.dtype.base_dtype.ir, static._to_ir())
            self._variable_op = make_op(state_ops.Variable, [], name=scope, default_name="Variable", result_types=[ResourceType(value_type)])
            self._ref = self._variable_op.outputs[0]
            self._initializer_op = make_op(state_ops.Assign, [self._ref, init], default_name="Assign")
            self._snapshot = make_op(state_ops.Read, [self._ref], default_name="read").outputs[0]
        graph = self._variable_op.graph
        graph._variable_reads[self._variable_op] = self._snapshot
        graph.prevent_feeding(self._ref)
        graph.add_to_collections(collections, self)

    @classmethod
    def _from_ops(
        cls, variable_op: Operation, initializer: Operation, snapshot: Tensor, initial_value: Tensor, trainable: bool
    ) -> Variable:
        """A ``Variable`` over ops already in a graph (what ``import_meta_graph`` rebuilds).

        Registers the snapshot as the variable's read and makes the handle unfeedable, as the
        constructor does; adds the variable to no collection (the caller restores those).
        """
        v = cls.__new__(cls)
        v._trainable = trainable
        v._constraint = None
        v._initial_value = initial_value
        v._variable_op = variable_op
        v._ref = variable_op.outputs[0]
        v._initializer_op = initializer
        v._snapshot = snapshot
        graph = variable_op.graph
        graph._variable_reads[variable_op] = snapshot
        graph.prevent_feeding(v._ref)
        return v

    # -- identity ----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The name of the variable's handle tensor, ``"<variable name>:0"`` (``"dense/kernel:0"``)."""
        return self._ref.name

    @property
    def op(self) -> Operation:
        """The variable op itself (an IR ``state.variable``; TF 1.15's is a ``VariableV2``)."""
        return self._variable_op

    @property
    def graph(self) -> Graph:
        """The ``Graph`` the variable belongs to."""
        return self._variable_op.graph

    @property
    def device(self) -> str:
        """The device of the variable op (``"/device:GPU:0"``), ``""`` when unplaced."""
        return self._variable_op.device

    @property
    def dtype(self) -> DType:
        """The ref dtype (``float32_ref``), as TF 1.15 reports it; ``dtype.base_dtype`` is the value's."""
        return self._ref.dtype

    @property
    def shape(self) -> TensorShape:
        """The static shape (unknown rank when created with ``validate_shape=False`` and no ``shape``)."""
        return self._ref.shape

    def get_shape(self) -> TensorShape:
        """The static shape; the same as ``shape``."""
        return self.shape

    @property
    def trainable(self) -> bool:
        """Whether the variable was created with ``trainable=True`` (and so added to ``TRAINABLE_VARIABLES``)."""
        return self._trainable

    @property
    def constraint(self) -> Any:
        """The ``constraint`` function given at creation, or ``None``.

        Stored only: TF 1.15's ``tf.train`` optimizers apply it after each dense update, flowir's do not.
        """
        return self._constraint

    @property
    def initializer(self) -> Operation:
        """The op that sets the variable to its initial value (``a/Assign``)."""
        return self._initializer_op

    @property
    def initial_value(self) -> Tensor:
        """The tensor the initializer assigns: ``a/initial_value:0``, or, when ``initial_value`` was
        a function, its result (created under ``a/Initializer/``)."""
        return self._initial_value

    def _as_graph_element(self) -> Tensor:
        return self._ref

    def _ref_tensor(self) -> Tensor:
        return self._ref

    def _as_tensor_operand(self) -> Tensor:
        return self._snapshot

    # -- values ------------------------------------------------------------------------------

    def value(self) -> Tensor:
        """The snapshot of the variable's value (``a/read:0``), shared by every reader."""
        return self._snapshot

    def read_value(self) -> Tensor:
        """A new read of the variable, created here (so it sees the enclosing control dependencies)."""
        return make_op(state_ops.Read, [self._ref], default_name="read").outputs[0]

    def eval(self, session: Any = None) -> Any:
        """The variable's value in ``session`` (default: the default session)."""
        return self._snapshot.eval(session=session)

    def load(self, value: Any, session: Any = None) -> None:
        """Set the variable to ``value`` in ``session`` (default: the default session)."""
        from flowir.frontends.graph.session import _run_using_default_session

        # TF's way: run the initializer with the initial value replaced by ``value``.
        feed = {self._initial_value: value}
        _run_using_default_session(self._initializer_op, feed, session, "load a variable using `load()`", "load(value, session=sess)")

    # -- updates -----------------------------------------------------------------------------

    def assign(self, value: Any, use_locking: Any = None, name: str | None = None, read_value: bool = True) -> Any:
        """Set the variable to ``value``; returns the new value (the op if not ``read_value``)."""
        return _update(state_ops.Assign, self, value, name, "Assign", read_value)

    def assign_add(self, delta: Any, use_locking: Any = None, name: str | None = None, read_value: bool = True) -> Any:
        """Add ``delta`` (same shape) to the variable; returns the new value."""
        return _update(state_ops.AssignAdd, self, delta, name, "AssignAdd", read_value)

    def assign_sub(self, delta: Any, use_locking: Any = None, name: str | None = None, read_value: bool = True) -> Any:
        """Subtract ``delta`` (same shape) from the variable; returns the new value."""
        return _update(state_ops.AssignSub, self, delta, name, "AssignSub", read_value)

    def __repr__(self) -> str:
        return f"<tf.Variable {self.name!r} shape={self.shape} dtype={self.dtype.name}>"

    def __str__(self) -> str:
        return repr(self)


def _handle_of(ref: Any) -> Tensor:
    if isinstance(ref, Variable):
        return ref._ref
    if isinstance(ref, Tensor) and ref.dtype._is_ref:
        return ref
    raise TypeError(f"the target of an assignment must be a Variable, got {ref!r}")


def _update(op_class: type, ref: Any, value: Any, name: str | None, default_name: str, read_value: bool = True) -> Any:
    handle = _handle_of(ref)
    with name_scope(name, default_name, [handle]) as scope:
        v = convert_to_tensor(value, dtype=handle.dtype.base_dtype, name="value")
        op = make_op(op_class, [handle, v], name=scope, default_name=default_name)
    return op.outputs[0] if read_value else op


def assign(ref: Any, value: Any, validate_shape: Any = None, use_locking: Any = None, name: str | None = None) -> Tensor:
    """Set the variable ``ref`` to ``value`` (its dtype, a compatible shape); returns the new value."""
    return _update(state_ops.Assign, ref, value, name, "Assign")


def assign_add(ref: Any, value: Any, use_locking: Any = None, name: str | None = None) -> Tensor:
    """Add ``value`` to the variable ``ref``; returns the new value."""
    return _update(state_ops.AssignAdd, ref, value, name, "AssignAdd")


def assign_sub(ref: Any, value: Any, use_locking: Any = None, name: str | None = None) -> Tensor:
    """Subtract ``value`` from the variable ``ref``; returns the new value."""
    return _update(state_ops.AssignSub, ref, value, name, "AssignSub")


def _variable_conversion(v: Variable, dtype: Any = None, name: str | None = None, as_ref: bool = False) -> Tensor:
    if dtype is not None and not as_dtype(dtype).is_compatible_with(v.dtype):
        raise ValueError(f"Incompatible type conversion requested to type '{as_dtype(dtype).name}' for variable of type '{v.dtype.name}'")
    return v._ref if as_ref else v._snapshot


register_tensor_conversion_function(Variable, _variable_conversion)


# --------------------------------------------------------------------------------------------
# Collections and initializers


def global_variables(scope: str | None = None) -> list[Variable]:
    """The default graph's global variables (matching ``scope`` if given)."""
    return get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES, scope)


def trainable_variables(scope: str | None = None) -> list[Variable]:
    """The default graph's trainable variables (``TRAINABLE_VARIABLES``), in creation order.

    With ``scope``, only those whose name matches it from the start (``re.match``).

    >>> import flowir as tf
    >>> with tf.Graph().as_default():
    ...     w = tf.Variable(tf.zeros([2, 2]), name="w")
    ...     step = tf.Variable(0, trainable=False, name="step")
    ...     [v.name for v in tf.trainable_variables()], [v.name for v in tf.global_variables()]
    (['w:0'], ['w:0', 'step:0'])
    """
    return get_default_graph().get_collection(GraphKeys.TRAINABLE_VARIABLES, scope)


def local_variables(scope: str | None = None) -> list[Variable]:
    """The default graph's local variables (``LOCAL_VARIABLES``: created with
    ``collections=[GraphKeys.LOCAL_VARIABLES]``), matching ``scope`` if given."""
    return get_default_graph().get_collection(GraphKeys.LOCAL_VARIABLES, scope)


def variables_initializer(var_list: Iterable[Variable], name: str = "init") -> Operation:
    """One op that runs the initializers of ``var_list`` (a no-op for an empty list)."""
    var_list = list(var_list)
    if var_list:
        return group(*[v.initializer for v in var_list], name=name)
    return no_op(name=name)


def global_variables_initializer() -> Operation:
    """The op (``init``) that initializes every global variable of the default graph."""
    return variables_initializer(global_variables())


def local_variables_initializer() -> Operation:
    """The op (``init``) that initializes every local variable of the default graph (a no-op if none)."""
    return variables_initializer(local_variables())


def initialize_all_variables() -> Operation:
    """Deprecated alias of ``global_variables_initializer``."""
    return global_variables_initializer()


def report_uninitialized_variables(var_list: Iterable[Variable] | None = None, name: str = "report_uninitialized_variables") -> Tensor:
    """A 1-D string tensor of the names of the variables of ``var_list`` (default: global and
    local variables) that are not initialized when it is evaluated.

    It is a placeholder that the session fills from its variable state on each run.
    """
    if var_list is None:
        var_list = global_variables() + local_variables()
    names = [v.op.name for v in var_list]
    t = placeholder(string, [None], name=name)

    def provide(state: dict[str, Any]) -> np.ndarray:
        out = np.empty(0, dtype=object)
        missing = [n.encode("utf-8") for n in names if n not in state]
        if missing:
            out = np.empty(len(missing), dtype=object)
            out[:] = missing
        return out

    t.graph._session_provided[t] = provide
    t.graph.prevent_feeding(t)
    return t
