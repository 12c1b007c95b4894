"""Every public function, class, method and property of flowir has a docstring, and the
examples in docstrings run.

The public surface is what the public modules expose: every module reached by
``pkgutil.walk_packages`` whose dotted name has no ``_``-prefixed part, and in each the names in
``__all__`` (or, without one, its names not starting with ``_``). An object is checked once, at
its definition: where a public module merely imports it from another public module it is left to
that module; an object defined in a private module (``flowir.testing._pool``) is checked where a
public module re-exports it. The flowir base classes of a checked class are checked too, exported
or not, since their public methods are part of the subclass's interface. Items are reported by
definition name (``module.Class.method``).

A method or property without a docstring of its own passes when a base class documents the same
name (an override, or the implementation of an abstract member); a class needs its own docstring
(not ``@dataclass``'s generated signature).

A module that cannot be imported because an optional dependency is missing is skipped, with the
reason, by ``test_public_module_imports``; any other import failure fails.
"""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

import flowir

#: Top-level packages a public module may need that a flowir install may lack.
OPTIONAL_DEPENDENCIES = frozenset({"jax", "jaxlib", "onnx", "onnxruntime", "hypothesis", "tensorflow", "tensorboard"})

#: Known gaps (definition name -> reason). An entry that gains a docstring fails the test
#: until it is removed here.
NOT_YET_DOCUMENTED: dict[str, str] = {}


# --------------------------------------------------------------------------------------------
# Finding the public modules


def _is_private(modname: str) -> bool:
    return any(part.startswith("_") for part in modname.split("."))


def _walk(onerror: Any) -> list[str]:
    found = pkgutil.walk_packages(flowir.__path__, "flowir.", onerror=onerror)
    return ["flowir"] + sorted(m.name for m in found if not _is_private(m.name))


#: flowir's public modules. ``walk_packages`` imports each package to list its modules.
MODULES = _walk(onerror=lambda name: None)


def _missing_optional_dependency(e: ImportError) -> str | None:
    """The optional dependency whose absence caused ``e``, or ``None`` if it is another failure."""
    top = (e.name or "").partition(".")[0]
    return top if isinstance(e, ModuleNotFoundError) and top in OPTIONAL_DEPENDENCIES else None


def _importable_modules() -> list[ModuleType]:
    """The public modules, less those that need a missing optional dependency."""
    modules = []
    for modname in MODULES:
        try:
            modules.append(importlib.import_module(modname))
        except ImportError as e:
            if _missing_optional_dependency(e) is None:
                raise
    return modules


# --------------------------------------------------------------------------------------------
# Finding undocumented items


def _public_names(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    return list(names)


def _is_flowir_definition(obj: Any) -> bool:
    if not (inspect.isfunction(obj) or inspect.isclass(obj)):
        return False
    home = getattr(obj, "__module__", None) or ""
    return home.partition(".")[0] == "flowir" and "<locals>" not in obj.__qualname__


def _owned_objects(module: ModuleType) -> Iterator[Any]:
    """The functions and classes ``module`` exposes and is responsible for documenting."""
    for name in _public_names(module):
        try:
            obj = getattr(module, name, None)
        except ImportError as e:
            # A lazily loaded name (``flowir.onnx``); its home module is reported as skipped.
            if _missing_optional_dependency(e) is None:
                raise
            continue
        if _is_flowir_definition(obj) and (obj.__module__ == module.__name__ or _is_private(obj.__module__)):
            yield obj


def _has_text(doc: str | None) -> bool:
    return bool((doc or "").strip())


def _has_class_doc(cls: type) -> bool:
    doc = (cls.__doc__ or "").strip()
    # @dataclass writes "Name(field: type, ...)" into an undocumented class's __doc__.
    return bool(doc) and not (dataclasses.is_dataclass(cls) and doc.startswith(f"{cls.__name__}("))


def _member_function(member: Any) -> Any:
    """The function behind a class attribute (method, static/class method, property), or ``None``."""
    if isinstance(member, property):
        return member.fget
    if isinstance(member, (staticmethod, classmethod)):
        return member.__func__
    if hasattr(member, "func") and hasattr(member, "attrname"):  # functools.cached_property
        return member.func
    return member if inspect.isfunction(member) else None


def _undocumented(obj: Any) -> Iterator[str]:
    qualname = f"{obj.__module__}.{obj.__qualname__}"
    if not inspect.isclass(obj):
        if not _has_text(obj.__doc__):
            yield qualname
        return
    if not _has_class_doc(obj):
        yield qualname
    for attr, member in vars(obj).items():
        if attr.startswith("_"):
            continue
        func = _member_function(member)
        if func is None or _has_text(func.__doc__):
            continue
        if any(_has_text(getattr(getattr(base, attr, None), "__doc__", None)) for base in obj.__mro__[1:]):
            continue
        yield f"{qualname}.{attr}"


def undocumented_items(modules: list[ModuleType]) -> list[str]:
    """Every undocumented public item of ``modules``, each once, by its definition name."""
    seen: set[int] = set()
    missing: set[str] = set()
    todo = [obj for module in modules for obj in _owned_objects(module)]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        missing.update(_undocumented(obj))
        if inspect.isclass(obj):
            todo.extend(b for b in obj.__mro__[1:] if _is_flowir_definition(b))
    return sorted(missing)


# --------------------------------------------------------------------------------------------
# Tests


def test_every_public_package_can_be_walked() -> None:
    # walk_packages passes over a package that fails to import (and everything under it);
    # only a missing optional dependency may hide modules that way.
    failed: list[str] = []
    _walk(onerror=failed.append)
    for name in failed:
        try:
            importlib.import_module(name)
        except ImportError as e:
            if _missing_optional_dependency(e) is None:
                raise


@pytest.mark.parametrize("modname", MODULES)
def test_public_module_imports(modname: str) -> None:
    try:
        importlib.import_module(modname)
    except ImportError as e:
        dependency = _missing_optional_dependency(e)
        if dependency is None:
            raise
        pytest.skip(
            f"{modname} needs the optional dependency {dependency!r}: its docstrings are not checked (nor those of modules under it)"
        )


def test_public_api_is_documented() -> None:
    modules = _importable_modules()
    found = undocumented_items(modules)
    missing = [item for item in found if item not in NOT_YET_DOCUMENTED]
    imported = {m.__name__ for m in modules}
    stale = sorted(i for i in NOT_YET_DOCUMENTED if i not in found and i.rsplit(".", 2)[0] in imported)
    assert not missing, f"{len(missing)} public items have no docstring:\n  " + "\n  ".join(missing)
    assert not stale, f"documented now, remove from NOT_YET_DOCUMENTED: {stale}"


def test_docstring_examples_run() -> None:
    failed = []
    for module in _importable_modules():
        # A fresh default graph: examples that build ops must not leave them to later tests.
        with flowir.Graph().as_default():
            result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=False)
        if result.failed:
            failed.append(f"{module.__name__}: {result.failed} of {result.attempted} examples failed")
    assert not failed, "\n".join(failed) + "\n(the failing examples are printed above)"


def test_the_check_sees_missing_docstrings() -> None:
    module = ModuleType("flowir.fake_module")

    class Base:
        """Documents ``inherited``."""

        def inherited(self) -> None:
            """Documented here."""

    class Documented(Base):
        """Has a docstring."""

        def method(self) -> None:
            """Has one too."""

        def inherited(self) -> None:
            pass

        @property
        def prop(self) -> int:
            return 1

        @staticmethod
        def static() -> None:
            pass

    @dataclasses.dataclass
    class Record:
        x: int

    def bare() -> None:
        pass

    for obj in (Base, Documented, Record, bare):
        obj.__module__ = module.__name__
        obj.__qualname__ = obj.__name__
    module.__all__ = ["Documented", "Record", "bare"]  # type: ignore[attr-defined]
    module.Documented, module.Record, module.bare = Documented, Record, bare  # type: ignore[attr-defined]
    assert undocumented_items([module]) == [
        "flowir.fake_module.Documented.prop",
        "flowir.fake_module.Documented.static",
        "flowir.fake_module.Record",
        "flowir.fake_module.bare",
    ]
