"""flowir and ONNX: ``export`` a graph to ONNX (``model_summary`` describes the result),
``import_model`` an ONNX model, and the ``flowir.onnx.backend`` module (an
``onnx.backend.base.Backend`` over flowir).

The names load lazily, so ``import flowir.onnx`` imports neither onnx nor a backend.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["export", "import_model", "model_summary"]

#: Public name -> the module defining it.
_LAZY = {
    "export": "flowir.onnx._export",
    "model_summary": "flowir.onnx._export",
    "import_model": "flowir.frontends.onnx",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flowir.onnx' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
