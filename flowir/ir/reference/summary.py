"""Reference kernels: summary ops (not yet: they are listed in ``UNSUPPORTED``)."""

from __future__ import annotations

from flowir.ir.ops import summary
from flowir.ir.reference._registry import UNSUPPORTED

__all__: list[str] = []

UNSUPPORTED.update(
    dict.fromkeys((getattr(summary, n) for n in summary.__all__), "summary semantics arrive with the summaries issue")
)
