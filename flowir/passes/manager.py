"""Pass infrastructure: the ``Pass`` base class, the pass registry and the ``PassManager``.

A pipeline is text, MLIR-style: pass names separated by commas, each with optional options in
braces (``"shape-inference,prune,constant-fold{max-bytes=4096},cse"``), or a list of ``Pass``
objects. The registry holds loader functions, so naming a pass imports only that pass.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TextIO

from flowir.ir.core import Graph
from flowir.ir.errors import FlowirError, PassError, VerificationError
from flowir.ir.printer import print_graph
from flowir.ir.verifier import verify

__all__ = [
    "Pass",
    "PassOption",
    "PassResult",
    "PassManager",
    "PassTiming",
    "register_pass",
    "get_pass",
    "available_passes",
    "parse_pipeline",
]


@dataclass(frozen=True)
class PassResult:
    """What a pass returns: the (possibly new) graph and whether it changed anything."""

    graph: Graph
    modified: bool


@dataclass(frozen=True)
class PassOption:
    """A declared pass option: its pipeline spelling (``max-bytes``), type, default and help.

    The option is the pass attribute named like the option with ``_`` for ``-`` (``max_bytes``).
    """

    name: str
    type: type
    default: Any
    help: str = ""

    @property
    def attr_name(self) -> str:
        """The pass attribute holding the option: the name with ``_`` for ``-`` (``max_bytes``)."""
        return self.name.replace("-", "_")

    def parse(self, text: str) -> Any:
        """The option's value spelled ``text`` in a pipeline; ``ValueError`` if it is invalid."""
        if self.type is bool:
            low = text.strip().lower()
            if low in ("true", "1", "yes", "on"):
                return True
            if low in ("false", "0", "no", "off"):
                return False
            raise ValueError(f"expected true or false, got {text!r}")
        if self.type is int:
            try:
                return int(text)
            except ValueError:
                return int(text, 0)  # 0x10, 1_000
        return self.type(text)

    def check(self, value: Any) -> Any:
        """``value`` converted to the option's type; ``ValueError`` if it has another type."""
        if self.type is bool and not isinstance(value, bool):
            raise ValueError(f"expected a bool, got {value!r}")
        if self.type is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"expected an int, got {value!r}")
        if self.type is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"expected a number, got {value!r}")
        return self.type(value)


class Pass:
    """A graph transformation with a pipeline ``name`` and declared ``options``.

    Subclasses set ``name``, ``description`` and ``options`` and implement ``run(graph)``,
    which may mutate ``graph`` in place and returns a ``PassResult``. A pass is idempotent
    unless it says otherwise: running it twice, the second run reports ``modified=False``.

    Options are constructor keywords (``ConstantFoldPass(max_bytes=4096)``) and attributes
    of the instance; in pipeline text they are spelled ``constant-fold{max-bytes=4096}``.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: ClassVar[tuple[PassOption, ...]] = ()

    def __init__(self, **options: Any) -> None:
        by_attr = {o.attr_name: o for o in self.options}
        for opt in self.options:
            setattr(self, opt.attr_name, opt.default)
        for key, value in options.items():
            opt = by_attr.get(key) or by_attr.get(key.replace("-", "_"))
            if opt is None:
                raise PassError(f"pass {self.name!r} has no option {key!r}{_known_options(self)}")
            try:
                value = opt.check(value)
            except ValueError as e:
                raise PassError(f"pass {self.name!r}: option {opt.name!r}: {e}") from None
            setattr(self, opt.attr_name, value)

    def run(self, graph: Graph) -> PassResult:
        """Transform ``graph``; return it (or a new graph) and whether anything changed."""
        raise NotImplementedError(f"{type(self).__name__} does not implement run()")

    def __call__(self, graph: Graph) -> PassResult:
        return self.run(graph)

    def option_values(self) -> dict[str, Any]:
        """The options by pipeline name, with their current values."""
        return {o.name: getattr(self, o.attr_name) for o in self.options}

    def pipeline_text(self) -> str:
        """The pass as pipeline text; options that differ from their defaults in braces."""
        changed = [
            f"{o.name}={_format_option(getattr(self, o.attr_name))}"
            for o in self.options
            if getattr(self, o.attr_name) != o.default
        ]
        return f"{self.name}{{{' '.join(changed)}}}" if changed else self.name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.pipeline_text()}>"


def _format_option(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _known_options(p: Pass | type[Pass]) -> str:
    if not p.options:
        return " (it takes no options)"
    return " (known options: " + ", ".join(f"{o.name} (default {_format_option(o.default)})" for o in p.options) + ")"


# --------------------------------------------------------------------------------------------
# Registry


#: Built-in passes, by name: the module and class that define each. Loaded on first use.
_BUILTIN_PASSES: dict[str, tuple[str, str]] = {
    "shape-inference": ("flowir.passes.shape_inference", "ShapeInferencePass"),
    "prune": ("flowir.passes.prune", "PruneDeadNodesPass"),
    "constant-fold": ("flowir.passes.fold", "ConstantFoldPass"),
    "cse": ("flowir.passes.cse", "CSEPass"),
    "canonicalize": ("flowir.passes.canonicalize", "CanonicalizePass"),
    "functionalize-state": ("flowir.passes.functionalize", "FunctionalizeStatePass"),
    "legalize": ("flowir.passes.legalize", "LegalizePass"),
}


def _builtin_loader(module: str, cls_name: str) -> Callable[[], type[Pass]]:
    def load() -> type[Pass]:
        return getattr(importlib.import_module(module), cls_name)

    return load


_PASS_LOADERS: dict[str, Callable[[], type[Pass]]] = {
    name: _builtin_loader(module, cls_name) for name, (module, cls_name) in _BUILTIN_PASSES.items()
}


def register_pass(
    pass_cls: type[Pass] | None = None, *, name: str | None = None, loader: Callable[[], type[Pass]] | None = None
) -> Any:
    """Make a pass known by name: ``register_pass(MyPass)``, ``@register_pass`` on the class,
    or ``register_pass(name="my-pass", loader=load)`` where ``load()`` returns the class.

    Re-registering a name replaces the earlier pass. Returns the class (decorator use).
    """
    if pass_cls is None and loader is None:
        return lambda cls: register_pass(cls, name=name)
    if pass_cls is not None:
        key = name or pass_cls.name
        if not key:
            raise TypeError(f"{pass_cls.__name__} has no pass name")
        _PASS_LOADERS[key] = lambda: pass_cls
        return pass_cls
    if not name:
        raise TypeError("register_pass(loader=...) needs name=")
    _PASS_LOADERS[name] = loader  # type: ignore[assignment]
    return None


def available_passes() -> list[str]:
    """The names of all registered passes, sorted."""
    return sorted(_PASS_LOADERS)


def get_pass(name: str) -> type[Pass]:
    """The pass class registered as ``name``; ``PassError`` listing the known passes if none."""
    loader = _PASS_LOADERS.get(name)
    if loader is None:
        raise PassError(f"unknown pass {name!r} (known passes: {', '.join(available_passes())})")
    return loader()


# --------------------------------------------------------------------------------------------
# Pipeline text


def parse_pipeline(text: str) -> list[Pass]:
    """Pass instances for pipeline text ``"a,b{opt=1 other=x},c"``.

    Options inside braces are ``key=value`` pairs separated by spaces or commas. Raises
    ``PassError`` for a syntax error (with its column), an unknown pass (listing the known
    ones), an unknown option (listing the pass's options) or a value that does not parse.

    >>> [p.pipeline_text() for p in parse_pipeline("prune, constant-fold{max-bytes=64}")]
    ['prune', 'constant-fold{max-bytes=64}']
    """
    passes: list[Pass] = []
    i, n = 0, len(text)

    def fail(msg: str, at: int) -> PassError:
        return PassError(f"pipeline {text!r}: {msg} at column {at + 1}")

    def skip_space(j: int) -> int:
        while j < n and text[j].isspace():
            j += 1
        return j

    i = skip_space(i)
    if i == n:
        return passes
    while True:
        start = i
        while i < n and (text[i].isalnum() or text[i] in "-_."):
            i += 1
        name = text[start:i]
        if not name:
            raise fail("expected a pass name", i)
        i = skip_space(i)
        raw: dict[str, tuple[str, int]] = {}
        if i < n and text[i] == "{":
            close = text.find("}", i)
            if close < 0:
                raise fail("unclosed '{'", i)
            for part_start, part in _split_options(text, i + 1, close):
                key, eq, value = part.partition("=")
                if not eq or not key.strip():
                    raise fail(f"expected key=value, got {part!r}", part_start)
                raw[key.strip()] = (value.strip(), part_start)
            i = skip_space(close + 1)
        passes.append(_instantiate(name, raw, text))
        if i == n:
            return passes
        if text[i] != ",":
            raise fail(f"expected ',' or end of pipeline, got {text[i]!r}", i)
        i = skip_space(i + 1)


def _split_options(text: str, begin: int, end: int) -> Iterable[tuple[int, str]]:
    j = begin
    while j < end:
        while j < end and (text[j].isspace() or text[j] == ","):
            j += 1
        start = j
        while j < end and not (text[j].isspace() or text[j] == ","):
            j += 1
        if j > start:
            yield start, text[start:j]


def _instantiate(name: str, raw: dict[str, tuple[str, int]], text: str) -> Pass:
    cls = get_pass(name)
    by_name = {o.name: o for o in cls.options}
    values: dict[str, Any] = {}
    for key, (value, _) in raw.items():
        opt = by_name.get(key)
        if opt is None:
            raise PassError(f"pass {name!r} has no option {key!r}{_known_options(cls)}")
        try:
            values[opt.attr_name] = opt.parse(value)
        except ValueError as e:
            raise PassError(f"pass {name!r}: bad value {value!r} for option {key!r}: {e}") from None
    return cls(**values)


# --------------------------------------------------------------------------------------------
# The pass manager


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while passes run.

    A large graph is millions of tracked objects, and the ops passes create trigger full
    collections that walk all of them again and again: on a 100k-op graph that costs more
    than the passes themselves. Garbage made meanwhile (erased ops) is collected afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Stream(Protocol):
    def write(self, text: str, /) -> Any: ...


DumpTarget = Callable[[str, Graph], None] | TextIO | _Stream


@dataclass
class PassTiming:
    """Wall time of one pass run (``name`` is ``"(verify)"`` for the verifier's share)."""

    name: str
    seconds: float


class PassManager:
    """Runs a pipeline of passes over a graph.

    ``pipeline`` is pipeline text or a sequence of ``Pass`` objects. With ``verify_each``
    the graph is verified after every pass, and a broken graph raises ``PassError`` naming the
    pass that broke it. With ``timing`` each pass's wall time is collected
    (``timings``, ``timing_report()``). ``dump_after_each`` receives the IR after every pass:
    a callable ``(pass_name, graph)`` or a text stream that gets the printed IR.

    >>> pm = PassManager("shape-inference,prune")
    >>> [p.name for p in pm.passes]
    ['shape-inference', 'prune']
    """

    def __init__(
        self,
        pipeline: str | Sequence[Pass],
        *,
        verify_each: bool = False,
        timing: bool = False,
        dump_after_each: DumpTarget | None = None,
    ) -> None:
        if isinstance(pipeline, str):
            self.passes: list[Pass] = parse_pipeline(pipeline)
        else:
            self.passes = list(pipeline)
            for p in self.passes:
                if not isinstance(p, Pass):
                    raise TypeError(f"a pipeline holds Pass objects, got {p!r}")
        self.verify_each = verify_each
        self.timing = timing
        self.dump_after_each = dump_after_each
        self.timings: list[PassTiming] = []

    @property
    def pipeline_text(self) -> str:
        """The pipeline as text, passes comma-separated with their non-default options (``"prune,constant-fold{max-bytes=64}"``)."""
        return ",".join(p.pipeline_text() for p in self.passes)

    def run(self, graph: Graph) -> PassResult:
        """Run every pass in order on ``graph``; ``modified`` if any pass changed it.

        Errors raised by a pass (a ``ShapeError`` from shape inference, say) propagate with a
        line naming the pass; a graph left invalid raises ``PassError``.
        """
        self.timings = []
        with _gc_paused():
            return self._run(graph)

    def _run(self, graph: Graph) -> PassResult:
        modified = False
        clock = time.perf_counter
        for p in self.passes:
            start = clock()
            try:
                result = p.run(graph)
            except FlowirError as e:
                e.add_context(f"  while running pass {p.name!r}")
                raise
            elapsed = clock() - start
            if self.timing:
                self.timings.append(PassTiming(p.name, elapsed))
            if not isinstance(result, PassResult):
                raise PassError(f"pass {p.name!r} returned {type(result).__name__}, not a PassResult")
            graph = result.graph
            modified = modified or result.modified
            if self.verify_each:
                start = clock()
                try:
                    verify(graph)
                except VerificationError as e:
                    raise PassError(f"pass {p.name!r} left an invalid graph: {e.detail}", e.context) from e
                if self.timing:
                    self.timings.append(PassTiming("(verify)", clock() - start))
            if self.dump_after_each is not None:
                self._dump(p.name, graph)
        return PassResult(graph, modified)

    def _dump(self, name: str, graph: Graph) -> None:
        target = self.dump_after_each
        write = getattr(target, "write", None)
        if write is None:
            target(name, graph)  # type: ignore[operator]
            return
        text = print_graph(graph)
        write(f"// -----// IR Dump After {name} //----- //\n{text}")
        if not text.endswith("\n"):
            write("\n")

    def timing_report(self) -> str:
        """A table of the last run's per-pass wall times: pass, seconds, % of total."""
        total = sum(t.seconds for t in self.timings)
        width = max([len("pass"), len("total"), *(len(t.name) for t in self.timings)])
        lines = [
            "===-- pass execution timing report --===",
            f"  {'pass':<{width}}  {'seconds':>10}  {'%':>6}",
        ]
        for t in self.timings:
            pct = 100.0 * t.seconds / total if total > 0 else 0.0
            lines.append(f"  {t.name:<{width}}  {t.seconds:>10.4f}  {pct:>6.1f}")
        lines.append(f"  {'total':<{width}}  {total:>10.4f}  {100.0 if total > 0 else 0.0:>6.1f}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"PassManager({self.pipeline_text!r})"
