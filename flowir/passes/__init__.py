"""Graph passes and the pass manager.

``PassManager("shape-inference,prune,constant-fold,cse,canonicalize").run(graph)`` runs a
pipeline; ``available_passes()`` lists the registered pass names. The pass classes are
imported on first use (``from flowir.passes import ConstantFoldPass`` works).
"""

from __future__ import annotations

import importlib
from typing import Any

from flowir.passes.manager import (
    Pass,
    PassManager,
    PassOption,
    PassResult,
    PassTiming,
    available_passes,
    get_pass,
    parse_pipeline,
    register_pass,
)

#: Public names defined in the pass modules, loaded lazily by ``__getattr__``.
_LAZY: dict[str, str] = {
    "ShapeInferencePass": "flowir.passes.shape_inference",
    "infer_shapes": "flowir.passes.shape_inference",
    "PruneDeadNodesPass": "flowir.passes.prune",
    "live_ops": "flowir.passes.prune",
    "ConstantFoldPass": "flowir.passes.fold",
    "CSEPass": "flowir.passes.cse",
    "CanonicalizePass": "flowir.passes.canonicalize",
    "PATTERNS": "flowir.passes.canonicalize",
    "rewrite_pattern": "flowir.passes.canonicalize",
    "FunctionalizeStatePass": "flowir.passes.functionalize",
    "functionalize_state": "flowir.passes.functionalize",
    "StateSignature": "flowir.passes.functionalize",
    "LegalizePass": "flowir.passes.legalize",
}

__all__ = [
    "Pass",
    "PassManager",
    "PassOption",
    "PassResult",
    "PassTiming",
    "available_passes",
    "get_pass",
    "parse_pipeline",
    "register_pass",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flowir.passes' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
