"""The value pool that graph-generation rules draw operands from, and the rule table types.

Generation tracks a *witness* type for every value: its type with each wildcard dim that
varies at run time replaced by a *symbol*, a large sentinel size (``SYMBOL_BASE + k``). Two
dims with the same symbol have the same size in every run, so rules can reason about
operand compatibility as if all shapes were static, and feeds draw one size per symbol.

Every candidate op is first built on shadow values carrying the witness types: its result
witnesses come from the op's own type rule, and an op the shadow rejects (say ``?x3 + ?x3``
whose wildcards are different symbols) is never added to the graph.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

from flowir.ir.core import Graph, Operation, Trait, Value
from flowir.ir.dtypes import DType
from flowir.ir.errors import FlowirError
from flowir.ir.location import UNKNOWN_LOC, Location
from flowir.ir.ops.core import Constant, Placeholder
from flowir.ir.types import ResourceType, TensorType, Type, broadcast_shapes
from flowir.testing.strategies import DEFAULT_DTYPES, elements_for

__all__ = [
    "SYMBOL_BASE",
    "MAX_STATIC_DIM",
    "GenerationError",
    "GenConfig",
    "Entry",
    "Build",
    "Step",
    "Pool",
    "GenRule",
    "is_symbol",
    "instantiate",
]

#: Symbols (run-time-varying dims) are witness sizes ``SYMBOL_BASE + k``.
SYMBOL_BASE = 1000
#: Static dims a generated graph may hold; a witness dim above this that is not a symbol was
#: derived arithmetically from symbols (``A + B``, ``A * 3``), which generation does not track.
MAX_STATIC_DIM = 64
_MAX_SYMBOLS = 64


class GenerationError(AssertionError):
    """Generation found an op whose type rule disagrees with its behaviour on a witness: the
    wildcard type is rejected though a concrete instance is accepted, or the inferred type
    contradicts the witness. This is a bug in the op's ``infer_type``."""


def is_symbol(d: int | None) -> bool:
    return d is not None and SYMBOL_BASE <= d < SYMBOL_BASE + _MAX_SYMBOLS


def instantiate(ty: Type, sizes: dict[int, int]) -> Type:
    """``ty`` with every symbol replaced by its size in ``sizes``."""
    if type(ty) is TensorType:
        assert ty.shape is not None
        return TensorType(ty.dtype, tuple(sizes[d] if is_symbol(d) else d for d in ty.shape))
    if type(ty) is ResourceType:
        return ResourceType(instantiate(ty.value_type, sizes))  # type: ignore[arg-type]
    return ty


def _erase_symbols(ty: Type) -> Type:
    if type(ty) is TensorType and ty.shape is not None:
        return TensorType(ty.dtype, tuple(None if is_symbol(d) else d for d in ty.shape))
    if type(ty) is ResourceType:
        return ResourceType(_erase_symbols(ty.value_type))  # type: ignore[arg-type]
    return ty


@dataclass(frozen=True)
class GenConfig:
    """Knobs of graph generation (see ``flowir.testing.generation``)."""

    dtypes: tuple[DType, ...] = DEFAULT_DTYPES
    max_rank: int = 4
    min_side: int = 1
    max_side: int = 4
    wildcards: bool = True
    unknown_rank: bool = False
    constant_prob: float = 0.35
    splat_prob: float = 0.35
    locations: bool = True
    seeded_random: bool = True


class Entry:
    """A value of the graph under construction, as rules see it.

    ``value`` is the real value, ``witness`` its witness type (symbols for varying dims),
    ``index`` its position in the pool, ``op`` its defining op (``None`` for graph inputs).
    """

    __slots__ = ("value", "witness", "shadow", "index", "op")

    def __init__(self, value: Value, witness: Type, index: int, op: Operation | None) -> None:
        self.value = value
        self.witness = witness
        self.shadow = Value(witness)
        self.index = index
        self.op = op

    @property
    def is_tensor(self) -> bool:
        """Whether the value is a tensor (not a variable handle or control token)."""
        return type(self.witness) is TensorType

    @property
    def dtype(self) -> DType:
        """The tensor's element type (only for tensors)."""
        return self.witness.dtype  # type: ignore[attr-defined]

    @property
    def shape(self) -> tuple[int, ...]:
        """The witness shape (symbols for varying dims); always of known rank."""
        return self.witness.shape  # type: ignore[attr-defined,return-value]

    @property
    def rank(self) -> int:
        """The tensor's rank (only for tensors)."""
        return len(self.shape)

    @property
    def is_constant(self) -> bool:
        """Whether the value is the result of a ``flowir.constant``."""
        return type(self.op) is Constant

    def __repr__(self) -> str:
        return f"<Entry {self.index} {self.value.type!r} witness {self.witness!r}>"


@dataclass
class Build:
    """What a rule returns: operands (an ``Entry``, or a list of them for a variadic operand)
    and attributes for ``Op.create``; witness ``result_types`` for ops that take their types
    explicitly (symbols become ``None`` in the real op); ``control_deps``."""

    operands: tuple[Entry | Sequence[Entry], ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)
    result_types: tuple[Type, ...] | None = None
    control_deps: tuple[Entry, ...] = ()


#: ``rule(draw, pool) -> Build | None``: operands and attributes for a valid op of the rule's
#: class drawn from ``pool`` (which it may extend with new inputs and constants), or ``None``
#: when the pool cannot feed one.
GenRule = Callable[[st.DrawFn, "Pool"], "Build | None"]


@dataclass(frozen=True)
class Step:
    """One construction step, replayable: a graph input (``cls is None``) or an op."""

    cls: type[Operation] | None
    operands: tuple[int | tuple[int, ...], ...]
    attrs: tuple[tuple[str, Any], ...]
    name: str | None
    loc: Location
    result_types: tuple[Type, ...] | None
    control_deps: tuple[int, ...] = ()
    device: str | None = None


class Pool:
    """The values of the graph under construction and ways to pick or make operands.

    Rules call ``pick`` for an existing value (recent ones favoured, which grows chains such
    as ``neg(neg(x))``), ``operand`` for a value of a given witness shape (existing or new),
    and ``new_constant``/``new_input`` directly.
    """

    def __init__(self, draw: st.DrawFn, config: GenConfig, names: st.SearchStrategy[str] | None = None) -> None:
        self.draw = draw
        self.config = config
        self.graph = Graph()
        self.entries: list[Entry] = []
        self.steps: list[Step] = []
        self.step_entries: list[tuple[int, ...]] = []
        self.symbols: list[int] = []
        self.input_entries: list[int] = []
        #: Variables by name: the witness type of their value.
        self.variables: dict[str, TensorType] = {}
        #: The last op acting on each variable (its first result): the next one depends on it.
        self.last_effect: dict[str, Entry] = {}
        #: The op class whose rule is running (``pick`` favours values it produced).
        self.building: type[Operation] | None = None
        self._names = names
        self._counter = 0

    # -- names, locations, symbols -----------------------------------------------------------

    def _next_name(self, base: str) -> str:
        self._counter += 1
        if self._names is not None:
            return self.draw(self._names)
        return f"{base}_{self._counter}"

    def _location(self) -> Location:
        if not self.config.locations or not self.draw(st.booleans()):
            return UNKNOWN_LOC
        line = self.draw(st.integers(1, 999))
        func = self.draw(st.sampled_from([None, "build", "layer"]))
        return Location("model.py", line, func)

    def chance(self, p: float) -> bool:
        """True with probability about ``p``. Hypothesis's simplest draw gives False, so the
        simplest graphs take the common path (an existing operand, a fresh input ...)."""
        return self.draw(st.integers(0, 99)) >= 100 - round(100 * p)

    def _device(self) -> str | None:
        if not self.config.locations or not self.chance(0.1):
            return None
        return self.draw(st.sampled_from(["/device:CPU:0", "/device:GPU:0", "/job:worker/task:1/device:GPU:1"]))

    def symbol(self) -> int:
        """An existing symbol (shared dims make operands compatible) or a new one."""
        draw = self.draw
        if self.symbols and (len(self.symbols) >= _MAX_SYMBOLS or draw(st.integers(0, 2)) > 0):
            return self.symbols[draw(st.integers(0, len(self.symbols) - 1))]
        s = SYMBOL_BASE + len(self.symbols)
        self.symbols.append(s)
        return s

    # -- queries -----------------------------------------------------------------------------

    def tensors(self, where: Callable[[Entry], bool] | None = None) -> list[Entry]:
        """The tensor entries, oldest first, that satisfy ``where`` (all when ``None``)."""
        return [e for e in self.entries if e.is_tensor and (where is None or where(e))]

    def choose(self, candidates: Sequence[Entry]) -> Entry:
        """One of ``candidates``: the most recent with probability about 1/3, else uniform."""
        draw = self.draw
        if draw(st.integers(0, 2)) == 0:
            return candidates[-1]
        return candidates[len(candidates) - 1 - draw(st.integers(0, len(candidates) - 1))]

    def allowed(self, dtypes: frozenset[DType] | Sequence[DType] | None) -> list[DType]:
        """The generation dtypes among ``dtypes`` (all of them for ``None``), in a fixed order."""
        return [d for d in self.config.dtypes if dtypes is None or d in dtypes]

    def pick(
        self,
        *,
        dtypes: frozenset[DType] | Sequence[DType] | None = None,
        min_rank: int = 0,
        max_rank: int | None = None,
        where: Callable[[Entry], bool] | None = None,
        make: Callable[[], tuple[int, ...]] | None = None,
        new: bool = True,
    ) -> Entry | None:
        """A tensor value with a dtype in ``dtypes`` and witness rank in range satisfying
        ``where``: an existing one, or (``new``, when none fits or by chance) a new input or
        constant of random shape, or of shape ``make()`` (which must satisfy ``where``).
        ``None`` when none fits and none can be made."""
        hi = self.config.max_rank if max_rank is None else max_rank

        def fits(e: Entry) -> bool:
            return (dtypes is None or e.dtype in dtypes) and min_rank <= e.rank <= hi and (where is None or where(e))

        found = self.tensors(fits)
        draw = self.draw
        if found and (not new or not self.chance(0.2)):
            # Favour results of the op kind being built (chains such as neg(neg(x)) that
            # canonicalization folds) and constants (subexpressions constant folding folds).
            bias = draw(st.integers(0, 7))
            if bias < 3 and self.building is not None:
                same = [e for e in found if type(e.op) is self.building]
                if same:
                    return self.choose(same)
            elif bias == 3:
                consts = [e for e in found if e.is_constant]
                if consts:
                    return self.choose(consts)
            return self.choose(found)
        if not new or (where is not None and make is None):
            return None
        choices = self.allowed(dtypes)
        if not choices or min_rank > hi:
            return None
        dtype = draw(st.sampled_from(choices))
        if make is not None:
            return self.fresh(dtype, make())
        rank = draw(st.integers(min_rank, hi))
        shape = tuple(self.new_dim() for _ in range(rank))
        return self.fresh(dtype, shape)

    def static_shape(self, max_rank: int | None = None) -> tuple[int, ...]:
        """A random static shape (for shape attributes)."""
        hi = self.config.max_rank if max_rank is None else max_rank
        return tuple(self.new_dim(static_only=True) for _ in range(self.draw(st.integers(0, hi))))

    def broadcast_shape(self, shape: tuple[int, ...], *, static: bool = False) -> tuple[int, ...]:
        """A shape that broadcasts into ``shape`` without changing it: a suffix of it with
        some dims (with ``static``, every symbol) replaced by 1."""
        draw = self.draw
        drop = draw(st.integers(0, len(shape)))
        return tuple(
            1 if (is_symbol(d) and (static or draw(st.booleans()))) or draw(st.integers(0, 3)) == 0 else d
            for d in shape[drop:]
        )

    @staticmethod
    def broadcast_ok(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
        """Whether witness shapes ``a`` and ``b`` broadcast for every size of their symbols."""
        try:
            broadcast_shapes(a, b)
        except FlowirError:
            return False
        return True

    @staticmethod
    def broadcasts_into(have: tuple[int, ...], want: tuple[int, ...]) -> bool:
        """Whether ``have`` broadcasts with ``want`` giving ``want``."""
        return _fits(have, want, True)

    def new_dim(self, static_only: bool = False) -> int:
        """A witness dim: a static size or (with wildcards) a symbol."""
        cfg = self.config
        if cfg.wildcards and not static_only and self.draw(st.integers(0, 2)) == 0:
            return self.symbol()
        return self.draw(st.integers(cfg.min_side, cfg.max_side))

    def fresh(self, dtype: DType, shape: tuple[int, ...]) -> Entry:
        """A new constant (when ``shape`` is static, by chance) or a new input."""
        static = not any(is_symbol(d) for d in shape)
        if static and self.chance(self.config.constant_prob):
            return self.new_constant(dtype, shape)
        return self.new_input(dtype, shape)

    def operand(
        self,
        dtype: DType,
        shape: tuple[int, ...],
        *,
        broadcast: bool = False,
        existing: bool = True,
    ) -> Entry:
        """A value of ``dtype`` whose witness shape equals ``shape`` or (``broadcast``)
        broadcasts with it without changing it: an existing one or a new one."""
        if existing:
            found = self.tensors(lambda e: e.dtype is dtype and _fits(e.shape, shape, broadcast))
            if found and not self.chance(1 / 3):
                return self.choose(found)
        if broadcast:
            shape = self.broadcast_shape(shape)
        return self.fresh(dtype, shape)

    # -- making values -----------------------------------------------------------------------

    def new_input(self, dtype: DType, shape: tuple[int, ...]) -> Entry:
        """A new placeholder or graph input with witness ``shape``; symbols become ``None`` in
        its type, static dims sometimes too (pinned: fed at exactly that size), and with
        ``unknown_rank`` the whole shape sometimes."""
        draw = self.draw
        cfg = self.config
        real: tuple[int | None, ...] | None = tuple(
            None if is_symbol(d) or (cfg.wildcards and self.chance(1 / 6)) else d for d in shape
        )
        if cfg.unknown_rank and self.chance(0.2):
            real = None
        ty = TensorType(dtype, real)
        witness = TensorType(dtype, shape)
        name = f"x{len(self.input_entries)}"
        if draw(st.booleans()):
            arg = self.graph.add_input(ty, name)
            self.steps.append(Step(None, (), (), name, UNKNOWN_LOC, (ty,)))
            entry = self._add(arg, witness, None)
            self.step_entries.append((entry.index,))
        else:
            op = Placeholder.create(name=name, loc=self._location(), result_types=[ty])
            entry = self._append(op, (witness,), (), name)[0]
        self.input_entries.append(entry.index)
        return entry

    def new_constant(
        self,
        dtype: DType,
        shape: tuple[int, ...],
        *,
        elements: st.SearchStrategy[Any] | None = None,
        splat: Any = None,
    ) -> Entry:
        """A new constant of static ``shape`` (see ``draw_array``)."""
        return self.add_constant(self.draw_array(dtype, shape, elements=elements, splat=splat))

    def draw_array(
        self,
        dtype: DType,
        shape: tuple[int, ...],
        *,
        elements: st.SearchStrategy[Any] | None = None,
        splat: Any = None,
    ) -> np.ndarray:
        """An array of ``dtype`` and static ``shape``: ``splat`` everywhere if given, values
        from ``elements`` if given, else by chance a splat of 0 or 1 (seeds for algebraic
        simplification), else small random values."""
        draw = self.draw
        np_dtype = dtype.numpy
        size = math.prod(shape)
        if splat is None and elements is None and dtype is not DType.string and self.chance(self.config.splat_prob):
            splat = draw(st.sampled_from([0, 1]))
        if splat is not None:
            return np.full(shape, splat, dtype=np_dtype)
        items = draw(st.lists(elements if elements is not None else elements_for(dtype), min_size=size, max_size=size))
        if dtype.is_floating:
            return np.array(items, dtype=np.float64).astype(np_dtype).reshape(shape)
        return np.array(items, dtype=np_dtype).reshape(shape)

    def add_constant(self, arr: np.ndarray) -> Entry:
        """A new constant holding ``arr``."""
        name = self._next_name("const")
        op = Constant.create(name=name, loc=self._location(), value=arr)
        return self._append(op, (op.result.type,), (), name)[0]

    # -- ops ---------------------------------------------------------------------------------

    def emit(self, cls: type[Operation], build: Build, *, strict: bool = True) -> Operation | None:
        """Add an op of ``cls`` built from ``build``; ``None`` (and nothing added) when the
        witness types reject it. Raises ``GenerationError`` (with ``strict``) when the op's
        type rule rejects the wildcard types but accepts the witness, or contradicts it.

        An op acting on a variable gets a control dependency on the previous op acting on it,
        so program order and dependency order agree (as TF2's automatic control deps)."""
        attrs = dict(build.attrs)
        shadow_operands = tuple(
            [e.shadow for e in x] if isinstance(x, (list, tuple)) else x.shadow for x in build.operands
        )
        try:
            shadow = cls.create(*shadow_operands, loc=UNKNOWN_LOC, result_types=build.result_types, **attrs)
        except FlowirError:
            return None
        witnesses = tuple(r.type for r in shadow.results)
        shadow._drop_uses()
        if not all(_is_tracked(w) for w in witnesses):
            return None
        real_operands = tuple(
            [e.value for e in x] if isinstance(x, (list, tuple)) else x.value for x in build.operands
        )
        name = self._next_name(cls.name.rpartition(".")[2])
        real_types = None if build.result_types is None else tuple(_erase_symbols(t) for t in build.result_types)
        effects = self._effects(cls, build.operands)
        deps = tuple(dict.fromkeys([*build.control_deps, *(self.last_effect[k] for k in effects if k in self.last_effect)]))
        try:
            op = cls.create(
                *real_operands,
                name=name,
                loc=self._location(),
                result_types=real_types,
                control_deps=[e.value for e in deps],
                device=self._device(),
                **attrs,
            )
        except FlowirError as e:
            if not strict:
                return None
            shown = ", ".join(repr(v.type) for v in _flat(real_operands))
            raise GenerationError(
                f"{cls.name}: the type rule rejects operands ({shown}) although it accepts an "
                f"instance of them ({', '.join(repr(v.type) for v in _flat(shadow_operands))}) "
                f"with attributes {attrs}:\n{e}"
            ) from None
        for r, w in zip(op.results, witnesses):
            if strict and not _describes(r.type, w):
                op._drop_uses()
                raise GenerationError(
                    f"{op.describe_op()}: inferred result type {r.type!r} contradicts the "
                    f"witness {w!r} (operands {[v.type for v in op.operands]}, attributes {attrs})"
                )
        indices = tuple(
            tuple(e.index for e in x) if isinstance(x, (list, tuple)) else x.index for x in build.operands
        )
        entries = self._append(op, witnesses, indices, name, real_types, tuple(e.index for e in deps))
        self._record_effects(effects, entries)
        return op

    def duplicate(self, step_index: int) -> Operation:
        """Re-add the op of step ``step_index`` with the same operands, attributes and
        control dependencies (a CSE candidate); one acting on a variable is chained anew."""
        step = self.steps[step_index]
        cls = step.cls
        assert cls is not None
        groups = tuple(
            [self.entries[i] for i in x] if isinstance(x, tuple) else self.entries[x] for x in step.operands
        )
        args = tuple([e.value for e in x] if isinstance(x, list) else x.value for x in groups)
        effects = self._effects(cls, groups)
        deps = [self.entries[i] for i in step.control_deps]
        deps = list(dict.fromkeys([*deps, *(self.last_effect[k] for k in effects if k in self.last_effect)]))
        name = self._next_name(cls.name.rpartition(".")[2])
        op = cls.create(
            *args,
            name=name,
            loc=self._location(),
            result_types=step.result_types,
            control_deps=[e.value for e in deps],
            device=step.device,
            **dict(step.attrs),
        )
        witnesses = tuple(self.entries[i].witness for i in self.step_entries[step_index])
        entries = self._append(op, witnesses, step.operands, name, step.result_types, tuple(e.index for e in deps))
        self._record_effects(effects, entries)
        return op

    def variable_entries(self) -> list[Entry]:
        """The variable handles in the pool."""
        return [e for e in self.entries if type(e.witness) is ResourceType]

    def _effects(self, cls: type[Operation], operands: Sequence[Any]) -> list[str]:
        """The variables an op of ``cls`` with ``operands`` acts on."""
        if Trait.STATEFUL not in cls.traits:
            return []
        return [e.op.var_name for e in _flat(operands) if type(e.witness) is ResourceType]  # type: ignore[union-attr]

    def _record_effects(self, effects: list[str], entries: list[Entry]) -> None:
        for key in effects:
            if entries:
                self.last_effect[key] = entries[0]

    def _append(
        self,
        op: Operation,
        witnesses: tuple[Type, ...],
        operand_indices: tuple[int | tuple[int, ...], ...],
        name: str | None,
        result_types: tuple[Type, ...] | None = None,
        control_deps: tuple[int, ...] = (),
    ) -> list[Entry]:
        self.graph.append(op)
        if result_types is None and op.explicit_result_types:
            result_types = tuple(r.type for r in op.results)
        self.steps.append(
            Step(
                type(op),
                operand_indices,
                tuple(op.attributes.items()),
                name,
                op.location,
                result_types,
                control_deps,
                op.device,
            )
        )
        entries = [self._add(r, w, op) for r, w in zip(op.results, witnesses)]
        self.step_entries.append(tuple(e.index for e in entries))
        for e in entries:
            var_name = getattr(op, "var_name", None) if type(e.witness) is ResourceType else None
            if var_name:
                self.variables.setdefault(var_name, e.witness.value_type)  # type: ignore[attr-defined]
        return entries

    def _add(self, value: Value, witness: Type, op: Operation | None) -> Entry:
        e = Entry(value, witness, len(self.entries), op)
        self.entries.append(e)
        return e


def _flat(operands: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for x in operands:
        out.extend(x if isinstance(x, (list, tuple)) else [x])
    return out


def _fits(have: tuple[int, ...], want: tuple[int, ...], broadcast: bool) -> bool:
    if not broadcast:
        return have == want
    if len(have) > len(want):
        return False
    try:
        return broadcast_shapes(have, want) == want
    except FlowirError:
        return False


def _is_tracked(ty: Type) -> bool:
    if type(ty) is ResourceType:
        ty = ty.value_type
    if type(ty) is not TensorType:
        return True
    if ty.shape is None:
        return False
    return all(d <= MAX_STATIC_DIM or is_symbol(d) for d in ty.shape)  # type: ignore[operator]


def _describes(real: Type, witness: Type) -> bool:
    """Whether ``real`` (the inferred type with wildcards) is a sound description of every
    instance of ``witness``: symbols may only be ``None`` in it."""
    if type(real) is ResourceType and type(witness) is ResourceType:
        return _describes(real.value_type, witness.value_type)
    if type(real) is not TensorType or type(witness) is not TensorType:
        return real == witness
    if real.dtype is not witness.dtype:
        return False
    if real.shape is None:
        return True
    assert witness.shape is not None
    if len(real.shape) != len(witness.shape):
        return False
    return all(r is None or (r == w and not is_symbol(w)) for r, w in zip(real.shape, witness.shape))

