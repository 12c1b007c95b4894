"""The backend registry: lookup by name, the default, lazy loading."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flowir import backends
from flowir.backends import Backend, Program
from flowir.backends.numpy import NumpyBackend
from flowir.ir import Graph, Operation


class FakeBackend(Backend):
    name = "fake"

    def unsupported_ops(self, graph: Graph) -> list[Operation]:
        return list(graph.ops)

    def compile(self, program: Program):
        self.check_supported(program.graph)
        raise AssertionError("unreachable in these tests")


@pytest.fixture
def registry(monkeypatch):
    """The registry, restored after the test."""
    monkeypatch.setattr(backends, "_LOADERS", dict(backends._LOADERS))
    monkeypatch.setattr(backends, "_LOADED", dict(backends._LOADED))
    return backends


def test_numpy_by_name_loaded_once() -> None:
    b = backends.get("numpy")
    assert isinstance(b, NumpyBackend) and b.name == "numpy"
    assert backends.get("numpy") is b
    assert "numpy" in backends.available()


def test_default_is_numpy_until_jax_registers(registry, monkeypatch) -> None:
    registry._LOADERS.pop("jax", None)
    assert registry.default_name() == "numpy"
    assert isinstance(registry.get(), NumpyBackend)
    fake = FakeBackend()
    registry.register_backend("jax", lambda: fake)
    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name: object() if name == "jax" else None)
    assert registry.default_name() == "jax"
    assert registry.get() is fake
    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name: None)
    assert registry.default_name() == "numpy"


def test_unknown_name_lists_the_available_ones(registry) -> None:
    registry.register_backend("fake", FakeBackend)
    with pytest.raises(ValueError, match=r"unknown backend 'nope' \(available: fake, jax, numpy\)"):
        registry.get("nope")


def test_register_replaces_and_loader_errors(registry) -> None:
    first, second = FakeBackend(), FakeBackend()
    registry.register_backend("fake", lambda: first)
    assert registry.get("fake") is first
    registry.register_backend("fake", lambda: second)
    assert registry.get("fake") is second

    def broken() -> Backend:
        raise ImportError("No module named 'fakelib'")

    registry.register_backend("broken", broken)
    with pytest.raises(ImportError, match="backend 'broken' could not be loaded: No module named 'fakelib'"):
        registry.get("broken")
    registry.register_backend("odd", lambda: object())
    with pytest.raises(TypeError, match="not a Backend"):
        registry.get("odd")
    with pytest.raises(ValueError):
        registry.register_backend("", FakeBackend)


def test_importing_the_registry_loads_no_backend() -> None:
    code = (
        "import sys, flowir.backends as b\n"
        "assert 'flowir.backends.numpy' not in sys.modules\n"
        "assert 'jax' not in sys.modules\n"
        "b.get('numpy')\n"
        "assert 'flowir.backends.numpy' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
