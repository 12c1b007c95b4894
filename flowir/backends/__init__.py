"""Backends, picked by name: ``numpy`` (the reference interpreter), ``jax`` (XLA), later ``onnx``.

The registry holds loader functions, so naming a backend imports only that backend and
``import flowir`` imports none (tinygrad's ``Device.get_class``).

>>> get("numpy").name
'numpy'
>>> "numpy" in available()
True
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from flowir.backends.base import Backend, Executable, Program, unsupported_op_error

__all__ = [
    "Backend",
    "Executable",
    "Program",
    "unsupported_op_error",
    "get",
    "available",
    "default_name",
    "register_backend",
]

#: Backends in order of preference for the default, when their package is importable.
_PREFERRED = ("jax",)


def _load_numpy() -> Backend:
    from flowir.backends.numpy import NumpyBackend

    return NumpyBackend()


def _load_jax() -> Backend:
    from flowir.backends.jax import JaxBackend

    return JaxBackend()


_LOADERS: dict[str, Callable[[], Backend]] = {"numpy": _load_numpy, "jax": _load_jax}
_LOADED: dict[str, Backend] = {}


def register_backend(name: str, loader: Callable[[], Backend]) -> None:
    """Make a backend known as ``name``; ``loader()`` imports it and returns the ``Backend``.

    Registering a name again replaces the earlier backend.
    """
    if not name or not isinstance(name, str):
        raise ValueError(f"a backend name is a non-empty string, got {name!r}")
    _LOADERS[name] = loader
    _LOADED.pop(name, None)


def available() -> list[str]:
    """The names of the registered backends, sorted."""
    return sorted(_LOADERS)


def default_name() -> str:
    """The backend a session uses when none is named: the first of ``jax`` (once registered)
    whose package is installed, else ``numpy``."""
    for name in _PREFERRED:
        if name in _LOADERS and importlib.util.find_spec(name) is not None:
            return name
    return "numpy"


def get(name: str | None = None) -> Backend:
    """The backend registered as ``name`` (``None``: ``default_name()``), loaded once.

    Raises ``ValueError`` listing the available backends for an unknown name, and
    ``ImportError`` when the backend's loader fails.
    """
    if name is None:
        name = default_name()
    backend = _LOADED.get(name)
    if backend is not None:
        return backend
    loader = _LOADERS.get(name)
    if loader is None:
        raise ValueError(f"unknown backend {name!r} (available: {', '.join(available())})")
    try:
        backend = loader()
    except ImportError as e:
        raise ImportError(f"backend {name!r} could not be loaded: {e}") from e
    if not isinstance(backend, Backend):
        raise TypeError(f"the loader of backend {name!r} returned {backend!r}, not a Backend")
    _LOADED[name] = backend
    return backend
