"""The table of reference kernels, keyed by op class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowir.ir.core import Operation
from flowir.ir.errors import UnsupportedOpError

__all__ = ["IMPL_RULES", "UNSUPPORTED", "impl_rule", "get_impl_rule", "ImplRule"]

#: ``rule(op, *operand_arrays) -> tuple of result arrays``. Rules of ops with the ``STATEFUL``
#: or ``RANDOM`` trait also receive ``ctx=`` (a ``RefContext``).
ImplRule = Callable[..., tuple[Any, ...]]

IMPL_RULES: dict[type[Operation], ImplRule] = {}

#: Ops deliberately without a reference kernel, with the reason.
UNSUPPORTED: dict[type[Operation], str] = {}


def impl_rule(*ops: type[Operation]) -> Callable[[ImplRule], ImplRule]:
    """Register the decorated function as the reference kernel of ``ops``."""

    def register(fn: ImplRule) -> ImplRule:
        for op in ops:
            if op in IMPL_RULES:
                raise TypeError(f"{op.name} has two reference kernels")
            IMPL_RULES[op] = fn
        return fn

    return register


def get_impl_rule(op: Operation) -> ImplRule:
    """The kernel for ``op``; ``UnsupportedOpError`` naming the op when there is none."""
    rule = IMPL_RULES.get(type(op))
    if rule is None:
        reason = UNSUPPORTED.get(type(op))
        why = f" ({reason})" if reason else ""
        known = ", ".join(sorted(o.name for o in IMPL_RULES))
        raise UnsupportedOpError(f"no reference kernel for {op.describe_op()}{why}", [f"  ops with kernels: {known}"])
    return rule
