"""The converter table: ``(domain, op_type)`` -> the function that turns one ONNX node into
flowir ops.

Converter modules (one per op family) fill ``CONVERTER_RULES`` with ``@converter_rule`` when
the importer loads them; nothing else registers rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowir.ir.core import OP_REGISTRY

if TYPE_CHECKING:
    from flowir.frontends.onnx._context import NodeContext
    from flowir.ir.core import Value

__all__ = ["ConverterRule", "CONVERTER_RULES", "converter_rule", "normalize_domain"]

#: A converter returns the node's outputs in order (``None`` for an output it does not make).
Converter = Callable[["NodeContext"], Sequence["Value | None"]]


@dataclass(frozen=True)
class ConverterRule:
    """How one ONNX op type imports: ``fn``, and the flowir ops (by name) it needs, so an op
    whose catalog ops have not been registered is reported as unsupported, not half-built."""

    fn: Converter
    requires: tuple[str, ...] = ()

    @property
    def is_available(self) -> bool:
        """Whether every flowir op the converter needs is registered."""
        return all(name in OP_REGISTRY for name in self.requires)


CONVERTER_RULES: dict[tuple[str, str], ConverterRule] = {}


def normalize_domain(domain: str) -> str:
    """ONNX's default domain is spelled ``""`` or ``"ai.onnx"``; flowir keys it as ``""``."""
    return "" if domain == "ai.onnx" else domain


def converter_rule(*op_types: str, domain: str = "", requires: Sequence[str] = ()) -> Callable[[Any], Any]:
    """Register the decorated function as the converter of ``op_types`` in ``domain``."""

    def register(fn: Converter) -> Converter:
        for op_type in op_types:
            key = (normalize_domain(domain), op_type)
            if key in CONVERTER_RULES:
                raise TypeError(f"ONNX op {op_type!r} (domain {domain!r}) has two converters")
            CONVERTER_RULES[key] = ConverterRule(fn, tuple(requires))
        return fn

    return register
