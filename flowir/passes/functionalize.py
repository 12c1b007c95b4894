"""functionalize-state: variable reads and updates become graph inputs, dataflow and outputs.

After the pass a graph is a pure function ``(feeds, state) -> (fetches, new_state)``, which is
what every backend receives: no backend needs to know about variables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flowir.ir.core import BlockArgument, Graph, Operation, Trait, Value
from flowir.ir.errors import PassError, UnsupportedOpError
from flowir.ir.ops import math as math_ops
from flowir.ir.ops import state as state_ops
from flowir.ir.ops import train as train_ops
from flowir.ir.types import ResourceType, TensorType
from flowir.passes.manager import Pass, PassResult

__all__ = ["FunctionalizeStatePass", "StateSignature", "functionalize_state", "STATE_RULES"]


@dataclass
class StateSignature:
    """The state a functionalized graph takes and gives.

    ``reads``: the variables whose values were appended to the graph inputs, in order, with
    their value types. ``writes``: the variables whose new values were appended to the graph
    outputs, in order.
    """

    reads: list[tuple[str, TensorType]] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)


class _State:
    """The values of the variables at the current point of a walk in program order."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.current: dict[str, Value] = {}
        self.signature = StateSignature()
        self._written: set[str] = set()

    def value(self, handle: Value) -> Value:
        """The variable's current value; its first use makes it a state input."""
        var: state_ops.Variable = handle.owner  # type: ignore[assignment]  # checked up front
        name = var.var_name
        v = self.current.get(name)
        if v is None:
            ty = var.value_type
            v = self.graph.add_input(ty, name, var.location)
            self.signature.reads.append((name, ty))
            self.current[name] = v
        return v

    def assign(self, handle: Value, new: Value) -> None:
        """Make ``new`` the variable's current value."""
        name = handle.owner.var_name  # type: ignore[union-attr]
        if name not in self._written:
            self._written.add(name)
            self.signature.writes.append(name)
        self.current[name] = new


#: ``rule(op, state) -> value`` replacing a stateful op's result; it may insert ops before
#: ``op``. ``state.variable`` ops have no rule: their handles go once nothing uses them.
STATE_RULES: dict[type[Operation], Callable[[Operation, _State], Value]] = {}


def _state_rule(cls: type[Operation]) -> Callable[[Callable[[Operation, _State], Value]], Callable]:
    def register(fn: Callable[[Operation, _State], Value]) -> Callable:
        STATE_RULES[cls] = fn
        return fn

    return register


@_state_rule(state_ops.Read)
def _read(op: Operation, state: _State) -> Value:
    return state.value(op.operands[0])


@_state_rule(state_ops.Assign)
def _assign(op: Operation, state: _State) -> Value:
    ref, value = op.operands
    state.assign(ref, value)
    return value


def _update_rule(combine: type[Operation]) -> Callable[[Operation, _State], Value]:
    def rule(op: Operation, state: _State) -> Value:
        ref, delta = op.operands
        old = state.value(ref)
        new_op = combine.create(old, delta, name=op.user_name, loc=op.location, device=op.device)
        state.graph.insert_before(op, new_op)
        state.assign(ref, new_op.result)
        return new_op.result

    return rule


STATE_RULES[state_ops.AssignAdd] = _update_rule(math_ops.Add)
STATE_RULES[state_ops.AssignSub] = _update_rule(math_ops.Sub)


@_state_rule(state_ops.ApplyAdam)
def _apply_adam(op: Operation, state: _State) -> Value:
    handles = op.operands[:3]
    # Every value is taken before any is assigned: the step reads the state from before it.
    old = [state.value(h) for h in handles]
    new_op = train_ops.AdamUpdate.create(
        *old, *op.operands[3:], name=op.user_name, loc=op.location, device=op.device, use_nesterov=op.use_nesterov
    )
    state.graph.insert_before(op, new_op)
    for h, new in zip(handles, new_op.results):
        state.assign(h, new)
    return new_op.results[0]


def _check_state_ops(graph: Graph) -> None:
    """Raise, before anything changes, if some state op cannot be made dataflow."""
    unsupported = []
    for op in graph.ops:
        cls = type(op)
        if cls is state_ops.Variable:
            # Which operands of a state op may be handles is its type rule's business.
            for user, i in op.results[0].uses:
                if i >= 0 and type(user) not in STATE_RULES:
                    raise PassError(
                        f"{user.describe_op()} takes the variable handle {op.results[0].describe()} as data; "
                        "only state ops may take a handle",
                        user.context_lines(),
                    )
        elif cls in STATE_RULES:
            for handle in op.operands:
                if type(handle.type) is ResourceType and type(handle.owner) is not state_ops.Variable:
                    raise PassError(
                        f"{op.describe_op()}: its variable handle {handle.describe()} does not come from a state.variable op",
                        op.context_lines(),
                    )
        elif Trait.STATEFUL in op.traits:
            unsupported.append(op)
    if unsupported:
        raise UnsupportedOpError(
            f"functionalize-state has no rule for {len(unsupported)} stateful op(s)",
            [f"  {op.describe_op()} at {op.location}" for op in unsupported],
        )


def functionalize_state(graph: Graph) -> StateSignature:
    """Turn ``graph``'s variable reads and updates into pure dataflow, in place.

    Every variable (a ``state.variable`` op, identified by its ``var_name``) whose value the
    graph uses before assigning it becomes a graph input appended after the existing ones,
    named by the variable and typed by its value type, in order of first use. Reads and
    updates act in program order: ``state.read`` is the current value, ``state.assign(v, x)``
    makes ``x`` the value, ``state.assign_add``/``assign_sub`` a ``math.add``/``math.sub`` of
    the current value and the delta, ``state.apply_adam`` a ``train.adam_update`` of the current
    values of its variables (var, m, v) whose results are their new values; each update's
    result is the (first) new value. The final value of every assigned variable is appended
    to the graph outputs, named by the variable, in order of first assignment.

    A control dependency on a replaced op is moved to the value that replaces it, dropped
    where that is a graph input or a variable handle (nothing is left to order). Afterwards
    the graph has no ``STATEFUL`` op.

    Raises, before changing anything, ``UnsupportedOpError`` naming every stateful op without
    a rule, and ``PassError`` for a variable handle that an op other than a state op takes
    (a graph output, say) or one that does not come from a ``state.variable`` op.
    """
    _check_state_ops(graph)
    state = _State(graph)
    variables: list[Operation] = []
    for op in graph.ops:
        cls = type(op)
        if cls is state_ops.Variable:
            variables.append(op)
            continue
        rule = STATE_RULES.get(cls)
        if rule is None:
            continue
        new = rule(op, state)
        _replace_and_erase(op, new)
    for var in variables:
        _erase_handle(var)
    ret = graph.return_op
    if state.signature.writes:
        old = graph.outputs
        names = graph.output_names
        controls = list(ret.control_deps) if ret is not None else []
        graph.set_outputs(
            [*old, *(state.current[name] for name in state.signature.writes)],
            [*names, *state.signature.writes],
        )
        if controls:
            graph.return_op.set_control_deps(controls)  # type: ignore[union-attr]
    return state.signature


def _replace_and_erase(op: Operation, new: Value) -> None:
    """Make ``op``'s readers read ``new`` and erase ``op``; control dependencies that would
    point at a graph input are dropped (an input is ready before anything runs)."""
    result = op.results[0]
    control_users = [user for user, i in result.uses if i < 0]
    result.replace_all_uses_with(new)
    if isinstance(new, BlockArgument):
        for user in control_users:
            user.set_control_deps([v for v in user.control_deps if v is not new])
    op.erase()


def _erase_handle(var: Operation) -> None:
    handle = var.results[0]
    for user in handle.users:
        user.set_control_deps([v for v in user.control_deps if v is not handle])
    var.erase()


class FunctionalizeStatePass(Pass):
    """Variables become explicit state inputs and outputs (see ``functionalize_state``).

    After a run, ``signature`` holds the ``StateSignature`` of the graph it transformed.
    """

    name = "functionalize-state"
    description = "Turn variable reads and updates into graph inputs, dataflow and graph outputs"

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        self.signature = StateSignature()

    def run(self, graph: Graph) -> PassResult:
        before = len(graph.inputs), len(graph)
        self.signature = functionalize_state(graph)
        modified = bool(self.signature.reads or self.signature.writes) or (len(graph.inputs), len(graph)) != before
        return PassResult(graph, modified)
