"""TF 1.15's optimizers (``tf.train.Optimizer`` and its subclasses) and the global step.

``minimize(loss)`` is ``compute_gradients`` (``tf.gradients`` of ``loss`` with respect to
the trainable variables) then ``apply_gradients``, which builds each variable's update from
IR assigns (Adam's from one fused ``state.apply_adam``, TF's ``ApplyAdam``) and groups them
(with the global step's increment after them) into one op.
Running that op once applies every update as one atomic step: the session commits all new
values together, and every update reads the values from before the step (the variables'
snapshots), as TF's fused ``Apply*`` kernels do. The update formulas are TF's CPU kernels',
operation for operation, so float32 results match TensorFlow's.

Optimizers keep their state in variables that are global but not trainable, so
``global_variables_initializer()`` created after ``minimize`` initializes them: slots named
``<var>/<optimizer name>`` (``w/Adam``, ``w/Adam_1``) and, for Adam, ``beta1_power`` and
``beta2_power``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from flowir.frontends.graph import dtypes as _dtypes
from flowir.frontends.graph.array_ops import ones, ones_like, zeros, zeros_like
from flowir.frontends.graph.building import convert_to_tensor, group, make_op
from flowir.frontends.graph.gradients import gradients
from flowir.frontends.graph.graph import Graph, GraphKeys, get_default_graph, name_scope
from flowir.frontends.graph.math_ops import cast, sqrt, square
from flowir.frontends.graph.tensor import Operation, Tensor
from flowir.frontends.graph.variables import Variable, assign, assign_add, assign_sub, trainable_variables
from flowir.ir.ops import state as state_ops

__all__ = [
    "Optimizer",
    "GradientDescentOptimizer",
    "MomentumOptimizer",
    "AdamOptimizer",
    "RMSPropOptimizer",
    "get_global_step",
    "create_global_step",
    "get_or_create_global_step",
    "assert_global_step",
]

#: The dtypes optimizers update (and that a loss must have), as TF's ``_valid_dtypes``.
_VALID_DTYPES = (_dtypes.float16, _dtypes.bfloat16, _dtypes.float32, _dtypes.float64)


def _call_if_callable(param: Any) -> Any:
    return param() if callable(param) else param


class Optimizer:
    """The base of the optimizers (TF 1.15's ``tf.train.Optimizer``).

    Subclasses implement ``_create_slots(var_list)`` (make the slot variables),
    ``_prepare()`` (convert the hyperparameters to tensors) and ``_apply_dense(grad, var)``
    (the op updating ``var``), and may override ``_finish(update_ops, name)``.
    """

    GATE_NONE = 0
    GATE_OP = 1
    GATE_GRAPH = 2

    def __init__(self, use_locking: bool, name: str) -> None:
        if not name:
            raise ValueError("Must specify the optimizer name")
        self._use_locking = use_locking
        self._name = name
        #: slot name -> {variable op -> slot variable}
        self._slots: dict[str, dict[Operation, Variable]] = {}
        self._non_slot_dict: dict[tuple[str, Graph], Variable] = {}

    def get_name(self) -> str:
        """The ``name`` given at creation (``"GradientDescent"``, ``"Adam"`` ... by default): the default name
        scope of ``apply_gradients``' ops and the suffix of slot variables (``w/Adam``)."""
        return self._name

    # -- the public steps --------------------------------------------------------------------

    def minimize(
        self,
        loss: Any,
        global_step: Any = None,
        var_list: Sequence[Variable] | None = None,
        gate_gradients: int = GATE_OP,
        aggregation_method: Any = None,
        colocate_gradients_with_ops: bool = False,
        name: str | None = None,
        grad_loss: Any = None,
    ) -> Operation:
        """An op that takes one optimization step on ``loss``: ``compute_gradients`` then
        ``apply_gradients`` (see both). ``ValueError`` when no variable gets a gradient."""
        grads_and_vars = self.compute_gradients(
            loss,
            var_list=var_list,
            gate_gradients=gate_gradients,
            aggregation_method=aggregation_method,
            colocate_gradients_with_ops=colocate_gradients_with_ops,
            grad_loss=grad_loss,
        )
        if not any(g is not None for g, _ in grads_and_vars):
            raise ValueError(
                "No gradients provided for any variable, check your graph for ops that do not support gradients, "
                f"between variables {[str(v) for _, v in grads_and_vars]} and loss {loss}."
            )
        return self.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def compute_gradients(
        self,
        loss: Any,
        var_list: Sequence[Variable] | None = None,
        gate_gradients: int = GATE_OP,
        aggregation_method: Any = None,
        colocate_gradients_with_ops: bool = False,
        grad_loss: Any = None,
    ) -> list[tuple[Tensor | None, Variable]]:
        """``[(gradient, variable), ...]`` of ``loss`` (a float tensor, or a function
        returning one) for ``var_list`` (default: the trainable variables); a gradient is
        ``None`` for a variable ``loss`` does not depend on. ``grad_loss`` weights the loss's
        gradient (default: ones). ``aggregation_method`` and ``colocate_gradients_with_ops``
        are accepted for TF compatibility.

        Raises ``ValueError`` for an invalid ``gate_gradients``, a loss or variable that is not
        float, or no variables.
        """
        if callable(loss):
            loss = loss()
        if gate_gradients not in (Optimizer.GATE_NONE, Optimizer.GATE_OP, Optimizer.GATE_GRAPH):
            raise ValueError(
                "gate_gradients must be one of: Optimizer.GATE_NONE, Optimizer.GATE_OP, Optimizer.GATE_GRAPH.  "
                f"Not {gate_gradients}"
            )
        loss = convert_to_tensor(loss)
        self._assert_valid_dtypes([loss])
        if grad_loss is not None:
            grad_loss = convert_to_tensor(grad_loss)
            self._assert_valid_dtypes([grad_loss])
        var_list = trainable_variables() if var_list is None else list(_flatten(var_list))
        if not var_list:
            raise ValueError("No variables to optimize.")
        for v in var_list:
            if not isinstance(v, Variable):
                raise TypeError(f"var_list must hold Variables, got {v!r}")
        grads = gradients(loss, var_list, grad_ys=None if grad_loss is None else [grad_loss])
        grads_and_vars = list(zip(grads, var_list))
        self._assert_valid_dtypes([v for g, v in grads_and_vars if g is not None])
        return grads_and_vars

    def apply_gradients(
        self, grads_and_vars: Iterable[tuple[Any, Variable]], global_step: Any = None, name: str | None = None
    ) -> Operation:
        """One op applying each gradient to its variable (pairs with a ``None`` gradient are
        skipped), named ``name`` (default: the optimizer's name).

        The variables' updates are grouped under ``<name>/update``; with ``global_step`` (an
        integer variable) the returned op is its increment by 1, which runs after them.
        Slots are made on first use. Raises ``ValueError`` for no pairs or no gradients,
        ``TypeError`` for a gradient that is not a tensor.
        """
        pairs = tuple(grads_and_vars)
        if not pairs:
            raise ValueError("No variables provided.")
        converted: list[tuple[Tensor | None, Variable]] = []
        for g, v in pairs:
            if g is not None:
                try:
                    g = convert_to_tensor(g)
                except (TypeError, ValueError):
                    raise TypeError(f"Gradient must be convertible to a Tensor or None: {g}") from None
            if not isinstance(v, Variable):
                raise TypeError(f"Trying to update a Tensor {v!r}; only Variables can be updated.")
            converted.append((g, v))
        var_list = [v for g, v in converted if g is not None]
        if not var_list:
            raise ValueError(f"No gradients provided for any variable: {[str(v) for _, v in converted]}.")
        graph = get_default_graph()
        with graph.control_dependencies(None):
            self._create_slots(var_list)
        with name_scope(name, self._name) as scope:
            self._prepare()
            update_ops = []
            for grad, var in converted:
                if grad is None:
                    continue
                with name_scope("update_" + var.op.name):
                    update_ops.append(self._apply_dense(grad, var))
            if global_step is None:
                apply_updates = self._finish(update_ops, scope)
            else:
                with graph.control_dependencies([self._finish(update_ops, "update")]):
                    apply_updates = assign_add(global_step, 1, name=scope).op
        train_ops = graph.get_collection_ref(GraphKeys.TRAIN_OP)
        if apply_updates not in train_ops:
            train_ops.append(apply_updates)
        return apply_updates

    # -- slots and other state ---------------------------------------------------------------

    def get_slot_names(self) -> list[str]:
        """The names of this optimizer's slots (``"m"``, ``"v"`` for Adam), sorted."""
        return sorted(self._slots)

    def get_slot(self, var: Variable, name: str) -> Variable | None:
        """The slot variable ``name`` of ``var``, ``None`` if there is none."""
        return self._slots.get(name, {}).get(var.op)

    def variables(self) -> list[Variable]:
        """The variables this optimizer made in the default graph, sorted by name."""
        graph = get_default_graph()
        found = [v for (_, g), v in self._non_slot_dict.items() if g is graph]
        found += [v for slots in self._slots.values() for v in slots.values() if v.graph is graph]
        return sorted(found, key=lambda v: v.name)

    def _get_or_make_slot(self, var: Variable, val: Any, slot_name: str, op_name: str | None = None) -> Variable:
        """The slot ``slot_name`` of ``var``, made on first use: a non-trainable global
        variable named ``<var>/<op_name>`` (default: the optimizer's name; made unique) at the
        top name scope, whose initial value is ``val`` (a tensor, or a function returning
        one, called inside the variable's scope)."""
        slots = self._slots.setdefault(slot_name, {})
        found = slots.get(var.op)
        if found is None:
            with name_scope(None):
                found = Variable(val, trainable=False, name=f"{var.op.name}/{op_name or self._name}")
            slots[var.op] = found
        return found

    def _filled_slot(
        self, var: Variable, slot_name: str, op_name: str | None, fill: Callable[..., Tensor], fill_like: Callable[..., Tensor]
    ) -> Variable:
        """A slot holding ``fill(shape, dtype)`` for ``var``'s shape and dtype, or
        ``fill_like`` of ``var``'s initial value when its shape is not fully known."""
        dtype = var.dtype.base_dtype
        shape = var.shape.as_list() if var.shape.is_fully_defined() else None

        def init() -> Tensor:
            return fill(shape, dtype) if shape is not None else fill_like(var.initial_value, dtype=dtype)

        return self._get_or_make_slot(var, init, slot_name, op_name)

    def _zeros_slot(self, var: Variable, slot_name: str, op_name: str | None = None) -> Variable:
        """The slot ``slot_name`` of ``var``, zeros at first (see ``_get_or_make_slot``)."""
        return self._filled_slot(var, slot_name, op_name, zeros, zeros_like)

    def _ones_slot(self, var: Variable, slot_name: str, op_name: str | None = None) -> Variable:
        """The slot ``slot_name`` of ``var``, ones at first (see ``_get_or_make_slot``)."""
        return self._filled_slot(var, slot_name, op_name, ones, ones_like)

    def _get_non_slot_variable(self, name: str, graph: Graph | None = None) -> Variable | None:
        return self._non_slot_dict.get((name, graph if graph is not None else get_default_graph()))

    def _create_non_slot_variable(self, initial_value: Any, name: str, colocate_with: Any = None) -> Variable:
        """The optimizer's variable ``name`` of the default graph, made on first use
        (non-trainable, global, in the current name scope). ``colocate_with`` is accepted for
        TF compatibility."""
        key = (name, get_default_graph())
        v = self._non_slot_dict.get(key)
        if v is None:
            v = self._non_slot_dict[key] = Variable(initial_value, name=name, trainable=False)
        return v

    # -- what subclasses define ---------------------------------------------------------------

    def _create_slots(self, var_list: list[Variable]) -> None:
        """Make the slots of ``var_list`` (none by default)."""

    def _prepare(self) -> None:
        """Convert the hyperparameters to tensors, in the optimizer's name scope."""

    def _apply_dense(self, grad: Tensor, var: Variable) -> Operation:
        raise NotImplementedError(f"{type(self).__name__} does not implement _apply_dense")

    def _finish(self, update_ops: list[Operation], name_scope: str) -> Operation:
        """The op that is done when ``update_ops`` are, named ``name_scope``."""
        return group(*update_ops, name=name_scope)

    # -- checks --------------------------------------------------------------------------------

    def _valid_dtypes(self) -> tuple[Any, ...]:
        return _VALID_DTYPES

    def _assert_valid_dtypes(self, tensors: Iterable[Any]) -> None:
        valid = self._valid_dtypes()
        for t in tensors:
            dtype = t.dtype.base_dtype
            if dtype not in valid:
                raise ValueError(f"Invalid type {dtype!r} for {t.name}, expected: {list(valid)}.")


def _flatten(values: Any) -> Iterable[Any]:
    if isinstance(values, (list, tuple)):
        for v in values:
            yield from _flatten(v)
    else:
        yield values


def _as(t: Tensor, var: Variable) -> Tensor:
    """A hyperparameter tensor in ``var``'s dtype (itself when it has it)."""
    return cast(t, var.dtype.base_dtype)


# --------------------------------------------------------------------------------------------
# The optimizers


class GradientDescentOptimizer(Optimizer):
    """``var -= learning_rate * grad`` (``tf.train.GradientDescentOptimizer``).

    ``learning_rate``: a float, a scalar tensor, or a function returning one.

    >>> import flowir as tf
    >>> with tf.Graph().as_default():
    ...     w = tf.Variable(2.0, name="w")
    ...     train = tf.train.GradientDescentOptimizer(0.25).minimize(tf.square(w))
    ...     with tf.Session() as sess:
    ...         sess.run(tf.global_variables_initializer())
    ...         sess.run(train)
    ...         sess.run(w)
    np.float32(1.0)
    """

    def __init__(self, learning_rate: Any, use_locking: bool = False, name: str = "GradientDescent") -> None:
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._learning_rate_tensor: Tensor | None = None

    def _prepare(self) -> None:
        self._learning_rate_tensor = convert_to_tensor(_call_if_callable(self._learning_rate), name="learning_rate")

    def _apply_dense(self, grad: Tensor, var: Variable) -> Operation:
        lr = _as(self._learning_rate_tensor, var)  # type: ignore[arg-type]
        return assign_sub(var, grad * lr, name="ApplyGradientDescent").op


class MomentumOptimizer(Optimizer):
    """Momentum (``tf.train.MomentumOptimizer``): ``accum = accum * momentum + grad``, then
    ``var -= lr * accum``, or with ``use_nesterov`` ``var -= grad * lr + accum * momentum * lr``.
    Slot ``"momentum"`` (variable ``<var>/Momentum``), zeros at first.
    """

    def __init__(
        self, learning_rate: Any, momentum: Any, use_locking: bool = False, name: str = "Momentum", use_nesterov: bool = False
    ) -> None:
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._momentum = momentum
        self._use_nesterov = use_nesterov

    def _create_slots(self, var_list: list[Variable]) -> None:
        for v in var_list:
            self._zeros_slot(v, "momentum")

    def _prepare(self) -> None:
        self._learning_rate_tensor = convert_to_tensor(_call_if_callable(self._learning_rate), name="learning_rate")
        self._momentum_tensor = convert_to_tensor(_call_if_callable(self._momentum), name="momentum")

    def _apply_dense(self, grad: Tensor, var: Variable) -> Operation:
        accum = self.get_slot(var, "momentum")
        lr, momentum = _as(self._learning_rate_tensor, var), _as(self._momentum_tensor, var)
        accum_t = assign(accum, accum * momentum + grad)
        if self._use_nesterov:
            delta = grad * lr + accum_t * momentum * lr
        else:
            delta = accum_t * lr
        return assign_sub(var, delta, name="ApplyMomentum").op


class AdamOptimizer(Optimizer):
    """Adam (``tf.train.AdamOptimizer``) with TF1's update rule, at step ``t``:

    ``lr_t = learning_rate * sqrt(1 - beta2^t) / (1 - beta1^t)``,
    ``m = m + (grad - m) * (1 - beta1)``, ``v = v + (grad^2 - v) * (1 - beta2)``,
    ``var -= m * lr_t / (sqrt(v) + epsilon)`` (epsilon outside the square root, added to the
    uncorrected ``sqrt(v)``). Slots ``"m"`` and ``"v"`` (variables ``<var>/Adam`` and
    ``<var>/Adam_1``); ``beta1^t`` and ``beta2^t`` are the variables ``beta1_power`` and
    ``beta2_power`` (starting at ``beta1``, ``beta2``), multiplied by ``beta1``, ``beta2``
    after each step. Each variable's update is one ``state.apply_adam`` op,
    ``<name>/update_<var>/ApplyAdam``, as TF's fused kernel.

    >>> import flowir as tf
    >>> with tf.Graph().as_default():
    ...     w = tf.Variable([1.0, 2.0], name="w")
    ...     train = tf.train.AdamOptimizer().minimize(tf.reduce_sum(w * w))
    ...     sorted(v.op.name for v in tf.global_variables())
    ['beta1_power', 'beta2_power', 'w', 'w/Adam', 'w/Adam_1']
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta1: Any = 0.9,
        beta2: Any = 0.999,
        epsilon: Any = 1e-08,
        use_locking: bool = False,
        name: str = "Adam",
    ) -> None:
        super().__init__(use_locking, name)
        self._lr = learning_rate
        self._beta1 = beta1
        self._beta2 = beta2
        self._epsilon = epsilon

    def _get_beta_accumulators(self) -> tuple[Variable, Variable]:
        graph = get_default_graph()
        return self._get_non_slot_variable("beta1_power", graph), self._get_non_slot_variable("beta2_power", graph)  # type: ignore[return-value]

    def _create_slots(self, var_list: list[Variable]) -> None:
        self._create_non_slot_variable(self._beta1, "beta1_power")
        self._create_non_slot_variable(self._beta2, "beta2_power")
        for v in var_list:
            self._zeros_slot(v, "m")
            self._zeros_slot(v, "v")

    def _prepare(self) -> None:
        self._lr_t = convert_to_tensor(_call_if_callable(self._lr), name="learning_rate")
        self._beta1_t = convert_to_tensor(_call_if_callable(self._beta1), name="beta1")
        self._beta2_t = convert_to_tensor(_call_if_callable(self._beta2), name="beta2")
        self._epsilon_t = convert_to_tensor(_call_if_callable(self._epsilon), name="epsilon")

    def _apply_dense(self, grad: Tensor, var: Variable) -> Operation:
        m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
        beta1_power, beta2_power = self._get_beta_accumulators()
        # One fused op per variable, as TF's ApplyAdam: its numpy kernel allocates its results
        # and one temporary where the formula in math ops allocated a dozen arrays.
        operands = [
            var._ref_tensor(),
            m._ref_tensor(),  # type: ignore[union-attr]
            v._ref_tensor(),  # type: ignore[union-attr]
            _as(beta1_power.value(), var),
            _as(beta2_power.value(), var),
            _as(self._lr_t, var),
            _as(self._beta1_t, var),
            _as(self._beta2_t, var),
            _as(self._epsilon_t, var),
            grad,
        ]
        return make_op(state_ops.ApplyAdam, operands, default_name="ApplyAdam")

    def _finish(self, update_ops: list[Operation], name_scope: str) -> Operation:
        beta1_power, beta2_power = self._get_beta_accumulators()
        with get_default_graph().control_dependencies(update_ops):
            update_beta1 = beta1_power.assign(beta1_power * self._beta1_t)
            update_beta2 = beta2_power.assign(beta2_power * self._beta2_t)
        return group(*update_ops, update_beta1, update_beta2, name=name_scope)


class RMSPropOptimizer(Optimizer):
    """RMSProp (``tf.train.RMSPropOptimizer``) with TF1's update rule:

    ``ms = ms + (grad^2 - ms) * (1 - decay)``; centered, also ``mg = mg + (grad - mg) * (1 -
    decay)`` and ``denom = ms - mg^2 + epsilon``, else ``denom = ms + epsilon``;
    ``mom = mom * momentum + grad * learning_rate / sqrt(denom)``; ``var -= mom``.
    Slots ``"rms"`` (``<var>/RMSProp``, ones at first, as TF1), ``"mg"`` when centered
    (zeros) and ``"momentum"`` (zeros), named in that order.
    """

    def __init__(
        self,
        learning_rate: Any,
        decay: Any = 0.9,
        momentum: Any = 0.0,
        epsilon: Any = 1e-10,
        use_locking: bool = False,
        centered: bool = False,
        name: str = "RMSProp",
    ) -> None:
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._decay = decay
        self._momentum = momentum
        self._epsilon = epsilon
        self._centered = centered

    def _create_slots(self, var_list: list[Variable]) -> None:
        for v in var_list:
            self._ones_slot(v, "rms")
            if self._centered:
                self._zeros_slot(v, "mg")
            self._zeros_slot(v, "momentum")

    def _prepare(self) -> None:
        self._learning_rate_tensor = convert_to_tensor(_call_if_callable(self._learning_rate), name="learning_rate")
        self._decay_tensor = convert_to_tensor(_call_if_callable(self._decay), name="decay")
        self._momentum_tensor = convert_to_tensor(_call_if_callable(self._momentum), name="momentum")
        self._epsilon_tensor = convert_to_tensor(_call_if_callable(self._epsilon), name="epsilon")

    def _apply_dense(self, grad: Tensor, var: Variable) -> Operation:
        rms, mom = self.get_slot(var, "rms"), self.get_slot(var, "momentum")
        lr, decay = _as(self._learning_rate_tensor, var), _as(self._decay_tensor, var)
        momentum, epsilon = _as(self._momentum_tensor, var), _as(self._epsilon_tensor, var)
        ms_t = assign(rms, rms + (square(grad) - rms) * (1 - decay))
        if self._centered:
            mg = self.get_slot(var, "mg")
            mg_t = assign(mg, mg + (grad - mg) * (1 - decay))
            denom = ms_t - square(mg_t) + epsilon
        else:
            denom = ms_t + epsilon
        mom_t = assign(mom, mom * momentum + grad * lr / sqrt(denom))
        return assign_sub(var, mom_t, name="ApplyRMSProp").op


# --------------------------------------------------------------------------------------------
# The global step


def assert_global_step(global_step_tensor: Any) -> None:
    """``TypeError`` unless ``global_step_tensor`` is an integer scalar variable or tensor."""
    if not isinstance(global_step_tensor, (Variable, Tensor)):
        raise TypeError(f'Existing "global_step" must be a Variable or Tensor: {global_step_tensor}.')
    if not global_step_tensor.dtype.base_dtype.is_integer:
        raise TypeError(f'Existing "global_step" does not have integer type: {global_step_tensor.dtype}')
    shape = global_step_tensor.get_shape()
    if shape.ndims != 0 and shape.is_fully_defined():
        raise TypeError(f'Existing "global_step" is not scalar: {shape}')


def get_global_step(graph: Graph | None = None) -> Any:
    """The global step of ``graph`` (default: the default graph): the one variable in the
    ``GLOBAL_STEP`` collection, else the tensor ``global_step:0``; ``None`` when there is
    none (or several)."""
    graph = graph or get_default_graph()
    found = graph.get_collection(GraphKeys.GLOBAL_STEP)
    if len(found) == 1:
        step = found[0]
    elif not found:
        try:
            step = graph.get_tensor_by_name("global_step:0")
        except KeyError:
            return None
    else:
        return None
    assert_global_step(step)
    return step


def create_global_step(graph: Graph | None = None) -> Variable:
    """A new global step: the int64 scalar variable ``global_step``, 0 at first, not
    trainable, in the ``GLOBAL_VARIABLES`` and ``GLOBAL_STEP`` collections, made at the top
    name scope. ``ValueError`` if ``graph`` has one already."""
    graph = graph or get_default_graph()
    if get_global_step(graph) is not None:
        raise ValueError('"global_step" already exists.')
    with graph.as_default(), name_scope(None), graph.control_dependencies(None):
        return Variable(
            lambda: zeros([], dtype=_dtypes.int64),
            trainable=False,
            name=GraphKeys.GLOBAL_STEP,
            collections=[GraphKeys.GLOBAL_VARIABLES, GraphKeys.GLOBAL_STEP],
        )


def get_or_create_global_step(graph: Graph | None = None) -> Any:
    """The global step of ``graph`` (default: the default graph), made if missing."""
    graph = graph or get_default_graph()
    step = get_global_step(graph)
    return step if step is not None else create_global_step(graph)
