"""The verifier: SSA structure, op schemas and type rules, checked over a whole graph."""

from __future__ import annotations

from flowir.ir.core import OP_REGISTRY, Graph, Operation, Value
from flowir.ir.errors import FlowirError, VerificationError

__all__ = ["verify", "verify_op"]


def verify(graph: Graph) -> None:
    """Check ``graph``; raise ``VerificationError`` naming the op, its location and the rule.

    Checked: ops belong to the graph and are linked in order; every operand and control
    dependency is defined earlier (graph inputs first); use lists match operands; each op is
    registered, has the operands and attributes its definition asks for, and its result types
    agree with its type rule (``infer_type``) and its own extra checks.
    """
    defined: set[Value] = set(graph.inputs)
    for i, arg in enumerate(graph.inputs):
        if arg.graph is not graph or arg.index != i:
            raise VerificationError(f"graph input {i} ({arg.name!r}) has a stale index or graph")
    prev: Operation | None = None
    count = 0
    for op in graph.ops:
        count += 1
        if op.graph is not graph or op._prev is not prev:
            _fail(graph, op, "the op list is corrupt (op not linked into this graph)")
        prev = op
        _check_operands(graph, op, defined)
        try:
            verify_op(op)
        except VerificationError as e:
            _fail(graph, op, e.detail)
        except FlowirError as e:
            _fail(graph, op, e.detail)
        for r in op.results:
            defined.add(r)
    if count != len(graph):
        raise VerificationError(f"graph @{graph.name} counts {len(graph)} ops but holds {count}")
    ret = graph.return_op
    if ret is not None:
        _check_operands(graph, ret, defined)
        if ret.results:
            _fail(graph, ret, "the terminator has results")
        names = ret.attributes.get("names", ())
        if names and len(names) != len(ret.operands):
            _fail(graph, ret, f"{len(names)} output names for {len(ret.operands)} outputs")


def _check_operands(graph: Graph, op: Operation, defined: set[Value]) -> None:
    for i, v in enumerate(op.operands):
        if v not in defined:
            _fail(graph, op, f"operand {i} is not defined before its use{_where(graph, v)}")
        if (op, i) not in v.uses:
            _fail(graph, op, f"operand {i} is missing from its value's use list")
    for k, v in enumerate(op.control_deps):
        if v not in defined:
            _fail(graph, op, f"control dependency {k} is not defined before its use{_where(graph, v)}")
        if (op, -1 - k) not in v.uses:
            _fail(graph, op, f"control dependency {k} is missing from its value's use list")
    for r in op.results:
        for user, i in r.uses:
            target = user.operands if i >= 0 else user.control_deps
            j = i if i >= 0 else -1 - i
            if j >= len(target) or target[j] is not r or (user.graph is not graph):
                _fail(graph, op, f"result {r.index} has a stale use by {user.describe_op()}")


def _where(graph: Graph, v: Value) -> str:
    owner = v.owner
    if owner is None:
        return " (a value of another graph)"
    if owner.graph is not graph:
        return f" ({owner.describe_op()} is not in this graph)"
    return f" (it is defined later, by {owner.describe_op()})"


def verify_op(op: Operation) -> None:
    """Check one op against its definition; raise ``VerificationError``."""
    cls = type(op)
    if OP_REGISTRY.get(cls.name) is not cls:
        raise VerificationError(f"{op.describe_op()}: op {cls.name!r} is not registered")
    n_fixed = len(cls.OPERANDS) - cls._VARIADIC
    n = len(op.operands)
    if (n != n_fixed) if not cls._VARIADIC else (n < n_fixed):
        want = f"at least {n_fixed}" if cls._VARIADIC else str(n_fixed)
        raise VerificationError(f"{op.describe_op()}: expects {want} operand(s), got {n}")
    for key, value in op.attributes.items():
        d = cls.ATTRS.get(key)
        if d is None:
            raise VerificationError(f"{op.describe_op()}: unknown attribute {key!r}")
        try:
            d.check(value)
        except (TypeError, ValueError) as e:
            raise VerificationError(f"{op.describe_op()}: attribute {key!r}: {e}") from None
    for key, d in cls.ATTRS.items():
        if d.is_required and key not in op.attributes:
            raise VerificationError(f"{op.describe_op()}: missing required attribute {key!r}")
    op.verify_attributes()
    inferred = op.compute_result_types()
    if len(inferred) != len(op.results):
        raise VerificationError(f"{op.describe_op()}: has {len(op.results)} result(s), its type rule gives {len(inferred)}")
    for r, t in zip(op.results, inferred):
        if not r.type.is_compatible_with(t):
            raise VerificationError(
                f"{op.describe_op()}: result {r.index} has type {r.type!r} but its type rule gives {t!r}"
            )
    op.verify_extra()


def _fail(graph: Graph, op: Operation, rule: str) -> None:
    detail = rule if rule.startswith(op.describe_op()) else f"{op.describe_op()}: {rule}"
    context = []
    if op.location.is_known:
        context.append(f"  created at {op.location}")
    context.extend(_nearby_ir(graph, op))
    error = VerificationError(detail, context)
    error.op = op  # type: ignore[attr-defined]  # the parser maps the error to the op's line
    raise error


def _nearby_ir(graph: Graph, op: Operation, radius: int = 2) -> list[str]:
    """The printed ops around ``op``, the failing one marked."""
    try:
        from flowir.ir.printer import Printer

        printer = Printer(graph)
        lines = printer.nearby(op, radius)
    except Exception:  # the graph may be too broken to print; the message stands without it
        return []
    return ["  nearby IR:", *("    " + line for line in lines)]
