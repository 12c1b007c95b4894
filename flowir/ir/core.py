"""SSA values, operations and graphs, and the declarative op-definition machinery.

An op is declared once, as a subclass of ``Operation``::

    @register_op
    class MatMul(Operation):
        name = "math.matmul"
        traits = PURE
        a = operand()
        b = operand()
        transpose_b = attr(bool, default=False)

        def infer_type(self, a: Type, b: Type) -> Type: ...

Instances of the class are the ops of a graph. Everything else that concerns an op (kernels,
lowerings, export rules, gradients) lives in tables keyed by the class, outside ``ir``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, ClassVar, TypeVar

from flowir.ir.attributes import AttrKind, attr_key, kind_of
from flowir.ir.errors import DTypeError, FlowirError, OpAttributeError, ShapeError, VerificationError
from flowir.ir.location import UNKNOWN_LOC, Location, user_location
from flowir.ir.types import Type

__all__ = [
    "Trait",
    "PURE",
    "Value",
    "OpResult",
    "BlockArgument",
    "Operation",
    "Graph",
    "operand",
    "variadic_operand",
    "attr",
    "REQUIRED",
    "register_op",
    "OP_REGISTRY",
    "get_op_class",
]


class Trait(enum.Enum):
    """Properties of an op that passes rely on."""

    #: No side effects and deterministic: may be folded, deduplicated and removed when unused.
    PURE = "pure"
    #: Reads or writes variable state; program order matters.
    STATEFUL = "stateful"
    #: Draws random numbers: never folded or deduplicated.
    RANDOM = "random"
    #: ``op(a, b) == op(b, a)``.
    COMMUTATIVE = "commutative"
    #: Applies a scalar function elementwise (with broadcasting).
    ELEMENTWISE = "elementwise"
    #: A graph input point (placeholder): never folded or deduplicated.
    INPUT = "input"
    #: Ends a graph; holds its outputs.
    TERMINATOR = "terminator"


PURE: frozenset[Trait] = frozenset({Trait.PURE})


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: Default of an attribute that must be given.
REQUIRED: Any = _Required()


# --------------------------------------------------------------------------------------------
# Values


class Value:
    """An SSA value: its ``type`` and the ``uses`` that read it.

    ``uses`` maps ``(op, index)`` to ``None`` (an insertion-ordered set); ``index`` is the
    operand position, negative (``-1 - k``) for the k-th control dependency.
    """

    # ``_uses`` is ``None`` (no use), the one use's key, or the dict: most values of a long
    # graph have one reader, and a dict per value doubles the objects the collector walks.
    __slots__ = ("type", "_uses", "__weakref__")

    type: Type

    def __init__(self, ty: Type) -> None:
        self.type = ty
        self._uses: Any = None

    @property
    def uses(self) -> dict[tuple[Operation, int], None]:
        """The ``(op, index)`` reading this value, in order (a dict used as an ordered set;
        change it only through the ops' own methods)."""
        u = self._uses
        if type(u) is dict:
            return u
        d = {} if u is None else {u: None}
        self._uses = d
        return d

    def _add_use(self, key: tuple[Operation, int]) -> None:
        u = self._uses
        if u is None:
            self._uses = key
        elif type(u) is dict:
            u[key] = None
        else:
            self._uses = {u: None, key: None}

    @property
    def owner(self) -> Operation | None:
        """The op defining this value, ``None`` for a graph input."""
        return None

    @property
    def name(self) -> str | None:
        """The user-facing name, as the user named the tensor (``dense_1/kernel``)."""
        return None

    @property
    def has_uses(self) -> bool:
        """Whether any op reads this value (as an operand or a control dependency)."""
        u = self._uses
        return u is not None and (type(u) is not dict or bool(u))

    @property
    def users(self) -> list[Operation]:
        """The ops reading this value, each once, in use order."""
        return list(dict.fromkeys(op for op, _ in self.uses))

    def replace_all_uses_with(self, new: Value) -> None:
        """Make every reader of this value read ``new`` instead."""
        if new is self:
            return
        for op, i in list(self.uses):
            op._set(i, new)

    def describe(self) -> str:
        """``'inputs/x' f32[None, 784]`` for error messages."""
        name = self.name
        ty = self.type.describe()  # type: ignore[attr-defined]
        return f"{name!r} {ty}" if name else f"<unnamed> {ty}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name or '?'}: {self.type!r}>"


class OpResult(Value):
    """The ``index``-th result of ``op``."""

    __slots__ = ("op", "index")

    def __init__(self, ty: Type, op: Operation, index: int) -> None:
        self.type = ty
        self._uses = None
        self.op = op
        self.index = index

    @property
    def owner(self) -> Operation:
        return self.op

    @property
    def name(self) -> str | None:
        n = self.op.user_name
        if n is None or len(self.op.results) == 1:
            return n
        return f"{n}:{self.index}"


class BlockArgument(Value):
    """An input of a graph."""

    __slots__ = ("graph", "index", "_name", "location")

    def __init__(self, ty: Type, graph: Graph, index: int, name: str | None, location: Location = UNKNOWN_LOC) -> None:
        self.type = ty
        self._uses = None
        self.graph = graph
        self.index = index
        self._name = name
        self.location = location

    @property
    def name(self) -> str | None:
        return self._name


# --------------------------------------------------------------------------------------------
# Op definitions


class OperandDef:
    """A declared operand (``variadic`` ones take any number of values, including none)."""

    __slots__ = ("name", "variadic", "doc", "_get")

    def __init__(self, variadic: bool, doc: str) -> None:
        self.variadic = variadic
        self.doc = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, op: Operation | None, owner: type | None = None) -> Any:
        if op is None:
            return self
        return self._get(op)


def operand(doc: str = "") -> Any:
    """Declare one operand."""
    return OperandDef(False, doc)


def variadic_operand(doc: str = "") -> Any:
    """Declare a variadic operand: a tuple of any length. At most one per op."""
    return OperandDef(True, doc)


class AttrDef:
    """A declared attribute with its kind and default (``REQUIRED`` when it must be given)."""

    __slots__ = ("name", "kind", "default", "doc")

    def __init__(self, kind: AttrKind, default: Any, doc: str) -> None:
        self.kind = kind
        self.default = default
        self.doc = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, op: Operation | None, owner: type | None = None) -> Any:
        if op is None:
            return self
        try:
            return op.attributes[self.name]
        except KeyError:
            return self.default

    @property
    def is_required(self) -> bool:
        return self.default is REQUIRED

    def check(self, value: Any) -> Any:
        if value is None and self.default is None:
            return None
        return self.kind.check(value)


def attr(kind: Any, default: Any = REQUIRED, doc: str = "") -> Any:
    """Declare an attribute of ``kind`` (``bool``, ``int``, ``float``, ``str``, ``DType`` or an
    ``AttrKind`` such as ``Ints``); ``default=None`` makes it optional."""
    return AttrDef(kind_of(kind), default, doc)


OP_REGISTRY: dict[str, type[Operation]] = {}

OpT = TypeVar("OpT", bound="type[Operation]")


def register_op(cls: OpT) -> OpT:
    """Make an op class known by its textual name (for the parser and the catalog)."""
    name = cls.name
    if not isinstance(name, str) or "." not in name:
        raise TypeError(f"{cls.__name__}.name must be a dialect-qualified string, got {name!r}")
    other = OP_REGISTRY.get(name)
    if other is not None and other is not cls:
        raise TypeError(f"op name {name!r} is declared twice: {other.__qualname__} and {cls.__qualname__}")
    for reserved in _RESERVED_ATTRS:
        if reserved in cls.ATTRS:
            raise TypeError(f"{cls.__qualname__} declares the reserved attribute {reserved!r}")
    OP_REGISTRY[name] = cls
    return cls


#: Keys of the printed attribute dict that hold op fields, not declared attributes.
_RESERVED_ATTRS = ("name", "device")


def get_op_class(name: str) -> type[Operation]:
    """The registered op class called ``name``; ``KeyError`` if there is none."""
    return OP_REGISTRY[name]


def _make_getters(cls: type[Operation]) -> None:
    defs = cls.OPERANDS
    vi = next((i for i, d in enumerate(defs) if d.variadic), None)
    n = len(defs)
    for i, d in enumerate(defs):
        if vi is None or i < vi:
            d._get = (lambda k: lambda op: op.operands[k])(i)
        elif i == vi:
            after = n - 1 - vi
            d._get = (lambda k, a: lambda op: tuple(op.operands[k : len(op.operands) - a]))(i, after)
        else:
            d._get = (lambda back: lambda op: op.operands[len(op.operands) - back])(n - i)


# --------------------------------------------------------------------------------------------
# Operations


class _EmptyList(list):
    """The empty ``operands``/``control_deps`` list that ops without any share: it equals
    ``[]`` and refuses changes (``set_operands``, ``add_control_dep``, ``set_control_deps``
    give an op its own)."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "an op's empty operands/control_deps list is shared: use set_operands, add_control_dep or set_control_deps"
        )

    append = extend = insert = remove = pop = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse


_EMPTY_LIST: list[Any] = _EmptyList()


class Operation:
    """An op instance: operands, control dependencies, results, attributes, user name, location.

    Subclasses declare ``name`` (``"math.add"``), ``traits``, operands with ``operand()`` and
    attributes with ``attr(...)``, and implement ``infer_type``. Build ops with
    ``Op.create(...)`` (infers result types, checks shapes) and put them in a graph with
    ``Graph.append`` / ``insert_before``.
    """

    __slots__ = (
        "operands",
        "control_deps",
        "results",
        "attributes",
        "user_name",
        "location",
        "device",
        "graph",
        "_prev",
        "_next",
        "_order",
        "__dict__",
    )

    name: ClassVar[str] = "builtin.unregistered"
    traits: ClassVar[frozenset[Trait]] = frozenset()
    #: Whether the result types are given at creation rather than inferred (placeholders).
    explicit_result_types: ClassVar[bool] = False
    OPERANDS: ClassVar[tuple[OperandDef, ...]] = ()
    ATTRS: ClassVar[dict[str, AttrDef]] = {}
    _VARIADIC: ClassVar[bool] = False
    _REQUIRED_ATTRS: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        operands: list[OperandDef] = []
        attrs: dict[str, AttrDef] = {}
        for klass in reversed(cls.__mro__):
            for key, v in vars(klass).items():
                if isinstance(v, OperandDef):
                    operands = [d for d in operands if d.name != key] + [v]
                elif isinstance(v, AttrDef):
                    attrs.pop(key, None)
                    attrs[key] = v
        if sum(d.variadic for d in operands) > 1:
            raise TypeError(f"{cls.__name__} declares more than one variadic operand")
        cls.OPERANDS = tuple(operands)
        cls.ATTRS = attrs
        cls._REQUIRED_ATTRS = tuple(key for key, d in attrs.items() if d.is_required)
        cls._VARIADIC = any(d.variadic for d in operands)
        _make_getters(cls)

    def __init__(
        self,
        operands: Sequence[Value],
        result_types: Sequence[Type],
        attributes: dict[str, Any] | None = None,
        *,
        user_name: str | None = None,
        location: Location = UNKNOWN_LOC,
        control_deps: Sequence[Value] = (),
        device: str | None = None,
    ) -> None:
        """Raw construction: no type inference and no checks (the verifier checks)."""
        self.operands: list[Value] = list(operands) if operands else _EMPTY_LIST  # shared when empty
        # Most ops wait for nothing: they share one read-only empty list (an object fewer per op).
        self.control_deps: list[Value] = list(control_deps) if control_deps else _EMPTY_LIST
        self.attributes: dict[str, Any] = attributes if attributes is not None else {}
        self.user_name = user_name
        self.location = location
        #: The requested device (``"/device:GPU:0"``), recorded for backends that place ops.
        self.device: str | None = device
        self.graph: Graph | None = None
        self._prev: Operation | None = None
        self._next: Operation | None = None
        self._order = 0
        self.results: tuple[OpResult, ...] = tuple(OpResult(t, self, i) for i, t in enumerate(result_types))
        for i, v in enumerate(self.operands):
            v._add_use((self, i))
        for k, v in enumerate(self.control_deps):
            v._add_use((self, -1 - k))

    # -- construction with inference --------------------------------------------------------

    @classmethod
    def create(
        cls,
        *operands: Value | Sequence[Value],
        name: str | None = None,
        loc: Location | None = None,
        control_deps: Sequence[Value] = (),
        result_types: Sequence[Type] | None = None,
        device: str | None = None,
        **attrs: Any,
    ) -> Any:
        """Build an op from operands (a variadic operand is passed as one sequence) and
        attributes; infers and checks result types. Raises ``ShapeError``/``DTypeError``
        naming the op, its operands and the creation site.
        """
        if len(operands) != len(cls.OPERANDS):
            raise TypeError(f"{cls.name} takes {len(cls.OPERANDS)} operand group(s), got {len(operands)}")
        if cls._VARIADIC:
            flat: list[Value] = []
            for d, v in zip(cls.OPERANDS, operands):
                if d.variadic:
                    flat.extend(v)  # type: ignore[arg-type]
                else:
                    flat.append(v)  # type: ignore[arg-type]
        else:
            flat = operands  # type: ignore[assignment]  # __init__ makes the list
        loc = user_location() if loc is None else loc
        checked = cls._check_attrs(attrs, name, loc) if attrs or cls._REQUIRED_ATTRS else {}
        op = cls(flat, (), checked, user_name=name, location=loc, control_deps=control_deps, device=device)
        if cls.explicit_result_types:
            if result_types is None:
                raise TypeError(f"{cls.name} needs result_types")
            types = tuple(result_types)
        else:
            types = op.compute_result_types()
            if result_types is not None:
                types = op._refine(types, tuple(result_types))
        op.results = tuple(OpResult(t, op, i) for i, t in enumerate(types))
        op.verify_attributes()
        return op

    @classmethod
    def _check_attrs(cls, attrs: dict[str, Any], name: str | None, loc: Location) -> dict[str, Any]:
        out: dict[str, Any] = {}
        defs = cls.ATTRS
        for key, value in attrs.items():
            d = defs.get(key)
            if d is None:
                raise OpAttributeError(
                    f"{cls.name} {name!r}: unknown attribute {key!r} (known: {', '.join(defs) or 'none'})",
                    [f"  created at {loc}"],
                )
            try:
                value = d.check(value)
            except (ValueError, TypeError) as e:
                raise OpAttributeError(f"{cls.name} {name!r}: attribute {key!r}: {e}", [f"  created at {loc}"]) from None
            if value is not d.default and not (value is None and d.default is None):
                out[key] = value
        for key, d in defs.items():
            if d.is_required and key not in out:
                raise OpAttributeError(f"{cls.name} {name!r}: missing required attribute {key!r}", [f"  created at {loc}"])
        return out

    def compute_result_types(self) -> tuple[Type, ...]:
        """Run the type rule on the current operand types; errors carry the op's context."""
        ops = self.operands
        if not self._VARIADIC and len(ops) == len(self.OPERANDS):
            groups = [v.type for v in ops]
        else:
            groups = []
            for d in self.OPERANDS:
                if d.variadic:
                    groups.append(tuple(v.type for v in d._get(self)))
                else:
                    groups.append(d._get(self).type)
        try:
            out = self.infer_type(*groups)
        except (ShapeError, DTypeError, OpAttributeError) as e:
            self.annotate_error(e)
            raise
        except IndexError:
            if len(ops) < len(self.OPERANDS) - self._VARIADIC:
                raise VerificationError(
                    f"{self.describe_op()}: expects {len(self.OPERANDS)} operand(s), got {len(ops)}"
                ) from None
            raise
        return (out,) if isinstance(out, Type) else tuple(out)

    def _refine(self, inferred: tuple[Type, ...], given: tuple[Type, ...]) -> tuple[Type, ...]:
        if len(inferred) != len(given):
            raise ShapeError(f"{self.describe_op()}: expected {len(inferred)} result type(s), got {len(given)}")
        out = []
        for a, b in zip(inferred, given):
            m = a.meet(b)
            if m is None:
                e = ShapeError(f"given result type {b!r} contradicts the inferred {a!r}")
                self.annotate_error(e)
                raise e
            out.append(m)
        return tuple(out)

    # -- the op's own rules (overridden by op classes) --------------------------------------

    def infer_type(self, *operand_types: Any) -> Type | Sequence[Type]:
        """The result type(s) for the given operand types (a tuple per variadic operand)."""
        if self.explicit_result_types:
            return tuple(r.type for r in self.results)
        raise NotImplementedError(f"{type(self).__name__} has no type rule")

    def verify_attributes(self) -> None:
        """Extra attribute checks the type rule cannot express; raise a ``FlowirError``."""

    def verify_extra(self) -> None:
        """Extra checks on the whole op beyond types; raise a ``FlowirError``."""

    # -- access -----------------------------------------------------------------------------

    @property
    def result(self) -> OpResult:
        """The single result; ``ValueError`` if the op has not exactly one."""
        if len(self.results) != 1:
            raise ValueError(f"{self.name} has {len(self.results)} results")
        return self.results[0]

    @property
    def scope(self) -> str:
        """The name scope the op was created in (``layer1`` for ``layer1/MatMul``)."""
        n = self.user_name or ""
        return n.rpartition("/")[0]

    def has_trait(self, trait: Trait) -> bool:
        """Whether the op's class declares ``trait``."""
        return trait in self.traits

    @property
    def is_pure(self) -> bool:
        """Whether the op has ``Trait.PURE`` (no side effects: it may be folded, deduplicated or pruned)."""
        return Trait.PURE in self.traits

    def attr_items(self) -> list[tuple[str, Any]]:
        """The attributes that differ from their defaults, in declaration order."""
        a = self.attributes
        out = [(k, a[k]) for k in self.ATTRS if k in a]
        if len(out) != len(a):
            out += [(k, v) for k, v in a.items() if k not in self.ATTRS]
        return out

    def attr_key(self) -> tuple:
        """A hashable key for the attribute values, independent of insertion order (used by CSE)."""
        a = self.attributes
        return tuple((k, attr_key(a[k])) for k in sorted(a))

    def get_attr(self, key: str) -> Any:
        """The value of attribute ``key``, its default when unset; ``KeyError`` if the op declares no such attribute."""
        d = self.ATTRS.get(key)
        if d is None:
            raise KeyError(f"{self.name} has no attribute {key!r}")
        return self.attributes.get(key, d.default)

    # -- mutation ---------------------------------------------------------------------------

    def _set(self, index: int, new: Value) -> None:
        if index >= 0:
            old = self.operands[index]
            self.operands[index] = new
        else:
            old = self.control_deps[-1 - index]
            self.control_deps[-1 - index] = new
        del old.uses[(self, index)]
        new._add_use((self, index))

    def set_operand(self, index: int, new: Value) -> None:
        """Replace operand ``index``, keeping use lists right."""
        self._set(index, new)

    def set_operands(self, values: Sequence[Value]) -> None:
        """Replace all data operands (the count may change for variadic ops)."""
        self._drop_uses()
        self.operands = list(values)
        self._add_uses()

    def set_control_deps(self, values: Sequence[Value]) -> None:
        """Replace the control dependencies (duplicates are dropped)."""
        self._drop_uses()
        self.control_deps = list(dict.fromkeys(values))
        self._add_uses()

    def add_control_dep(self, value: Value) -> None:
        """Make the op wait for ``value``'s op (no-op if it already does)."""
        if value not in self.control_deps:
            self.control_deps = [*self.control_deps, value]
            value._add_use((self, -len(self.control_deps)))

    def set_attr(self, key: str, value: Any) -> None:
        """Set attribute ``key`` to ``value``, normalised by its kind; setting the default unsets it.

        ``KeyError`` if the op declares no attribute ``key``; ``ValueError`` for a value not of its kind.
        """
        d = self.ATTRS.get(key)
        if d is None:
            raise KeyError(f"{self.name} has no attribute {key!r}")
        value = d.check(value)
        if value is d.default or (value is None and d.default is None):
            self.attributes.pop(key, None)
        else:
            self.attributes[key] = value

    def _drop_uses(self) -> None:
        for i, v in enumerate(self.operands):
            v.uses.pop((self, i), None)
        for k, v in enumerate(self.control_deps):
            v.uses.pop((self, -1 - k), None)

    def _add_uses(self) -> None:
        for i, v in enumerate(self.operands):
            v._add_use((self, i))
        for k, v in enumerate(self.control_deps):
            v._add_use((self, -1 - k))

    def replace_all_uses_with(self, new: Operation | Sequence[Value]) -> None:
        """Make readers of each result read the matching result of ``new`` (an op or values)."""
        values = new.results if isinstance(new, Operation) else tuple(new)
        if len(values) != len(self.results):
            raise ValueError(f"{self.name}: replacing {len(self.results)} result(s) with {len(values)}")
        for r, v in zip(self.results, values):
            r.replace_all_uses_with(v)

    def erase(self) -> None:
        """Remove this op from its graph. Its results must have no uses left."""
        for r in self.results:
            if r.uses:
                users = ", ".join(op.describe_op() for op in r.users[:3])
                raise VerificationError(f"cannot erase {self.describe_op()}: result {r.index} is still used by {users}")
        self._drop_uses()
        if self.graph is not None:
            self.graph._unlink(self)

    # -- messages ---------------------------------------------------------------------------

    def describe_op(self) -> str:
        """``math.matmul 'dense_1/MatMul'`` for messages."""
        return f"{self.name} {self.user_name!r}" if self.user_name else self.name

    def context_lines(self) -> list[str]:
        """Operand lines and the creation site, for error messages."""
        lines = []
        names = []
        for d in self.OPERANDS:
            if d.variadic:
                vals = d._get(self)
                names.extend((f"{d.name}[{i}]", v) for i, v in enumerate(vals))
            else:
                try:
                    names.append((d.name, d._get(self)))
                except IndexError:
                    break
        width = max((len(n) for n, _ in names), default=0)
        vwidth = max((len(repr(v.name)) if v.name else 9 for _, v in names), default=0)
        for n, v in names:
            shown = repr(v.name) if v.name else "<unnamed>"
            lines.append(f"  {n + ':':<{width + 1}} {shown:<{vwidth}} {v.type.describe()}")  # type: ignore[attr-defined]
        if self.location.is_known:
            lines.append(f"  created at {self.location}")
        return lines

    def annotate_error(self, e: FlowirError) -> None:
        """Prefix ``e`` with this op and add its operands and creation site (once)."""
        prefix = self.describe_op()
        if e.detail.startswith(prefix):
            return
        e.with_prefix(prefix)
        e.add_context(*self.context_lines())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe_op()}>"


# --------------------------------------------------------------------------------------------
# Graphs

#: Gap between the order keys of ops appended one after another, room for later insertions.
_ORDER_STRIDE = 1 << 8


class Graph:
    """An ordered block of ops with named inputs and outputs (MLIR's func, TF's Graph).

    Ops are kept in a doubly linked list in program order, so inserting and erasing anywhere
    costs O(1); iterating while erasing the current op is safe.
    """

    __slots__ = ("name", "inputs", "_first", "_last", "_size", "_return", "_order_valid", "__weakref__")

    def __init__(self, name: str = "main") -> None:
        self.name = name
        self.inputs: list[BlockArgument] = []
        self._first: Operation | None = None
        self._last: Operation | None = None
        self._size = 0
        self._return: Operation | None = None
        self._order_valid = True

    # -- inputs and outputs -----------------------------------------------------------------

    def add_input(self, ty: Type, name: str | None = None, location: Location = UNKNOWN_LOC) -> BlockArgument:
        """Append a graph input of type ``ty`` named ``name``; returns it."""
        arg = BlockArgument(ty, self, len(self.inputs), name, location)
        self.inputs.append(arg)
        return arg

    def remove_input(self, arg: BlockArgument) -> None:
        """Remove an unused input."""
        if arg.uses:
            raise VerificationError(f"cannot remove graph input {arg.name!r}: it is still used")
        self.inputs.remove(arg)
        for i, a in enumerate(self.inputs):
            a.index = i

    @property
    def return_op(self) -> Operation | None:
        """The terminator holding the outputs (``flowir.return``), ``None`` before outputs are set."""
        return self._return

    @property
    def outputs(self) -> list[Value]:
        """The output values in order (empty without a return op)."""
        return list(self._return.operands) if self._return is not None else []

    @property
    def output_names(self) -> list[str | None]:
        """One name per output, ``None`` for an unnamed one."""
        if self._return is None:
            return []
        names = [n or None for n in self._return.attributes.get("names", ())]
        return names + [None] * (len(self._return.operands) - len(names))

    def set_outputs(self, values: Sequence[Value], names: Sequence[str | None] | None = None) -> None:
        """Make ``values`` the graph's outputs (replacing earlier ones)."""
        from flowir.ir.ops.core import Return

        if names is None:
            names = [v.name for v in values]
        if self._return is not None:
            self._return._drop_uses()
        ret = Return(list(values), (), {}, user_name=None)
        if any(n is not None for n in names):
            ret.attributes["names"] = tuple(n if n is not None else "" for n in names)
        ret.graph = self
        self._return = ret

    def clear_outputs(self) -> None:
        """Remove the graph's outputs and its return op."""
        if self._return is not None:
            self._return._drop_uses()
        self._return = None

    def set_return(self, op: Operation) -> None:
        """Install a parsed terminator op."""
        if self._return is not None:
            self._return._drop_uses()
        op.graph = self
        self._return = op

    # -- ops ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._size

    @property
    def ops(self) -> Iterator[Operation]:
        """The ops in program order (the terminator excluded). Safe against erasing the
        current op while iterating."""
        op = self._first
        while op is not None:
            nxt = op._next
            yield op
            op = nxt

    def ops_reversed(self) -> Iterator[Operation]:
        """The ops in reverse program order (terminator excluded); safe against erasing the current op."""
        op = self._last
        while op is not None:
            prv = op._prev
            yield op
            op = prv

    @property
    def first_op(self) -> Operation | None:
        """The first op in program order, ``None`` for an empty graph."""
        return self._first

    @property
    def last_op(self) -> Operation | None:
        """The last op in program order (not the terminator), ``None`` for an empty graph."""
        return self._last

    def append(self, op: Operation) -> Any:
        """Add ``op`` at the end; returns ``op``."""
        self._check_free(op)
        op.graph = self
        op._prev = self._last
        op._next = None
        if self._last is None:
            self._first = op
            op._order = 0
        else:
            self._last._next = op
            op._order = self._last._order + _ORDER_STRIDE
        self._last = op
        self._size += 1
        return op

    def insert_before(self, anchor: Operation, op: Operation) -> Any:
        """Put ``op`` right before ``anchor``; returns ``op``."""
        if anchor.graph is not self:
            raise ValueError("anchor op is not in this graph")
        self._check_free(op)
        op.graph = self
        prev = anchor._prev
        op._prev = prev
        op._next = anchor
        anchor._prev = op
        if prev is None:
            self._first = op
            op._order = anchor._order - _ORDER_STRIDE
        else:
            prev._next = op
            op._order = (prev._order + anchor._order) // 2
            if op._order == prev._order:
                self._order_valid = False
        self._size += 1
        return op

    def insert_after(self, anchor: Operation, op: Operation) -> Any:
        """Put ``op`` right after ``anchor``; returns ``op``. ``ValueError`` if ``anchor`` is in another graph."""
        if anchor._next is None:
            if anchor.graph is not self:
                raise ValueError("anchor op is not in this graph")
            return self.append(op)
        return self.insert_before(anchor._next, op)

    def order_key(self, op: Operation) -> int:
        """A key that sorts this graph's ops in program order (``sorted(ops, key=g.order_key)``).

        Amortized O(1): keys are kept while ops are appended or inserted where a gap is left
        (MLIR's ``Operation::isBeforeInBlock``); the graph is renumbered only when one is not.
        """
        if not self._order_valid:
            order = 0
            for o in self.ops:
                o._order = order
                order += _ORDER_STRIDE
            self._order_valid = True
        return op._order

    def move_before(self, anchor: Operation, op: Operation) -> None:
        """Move ``op`` (already in this graph) right before ``anchor``."""
        self._unlink(op)
        self.insert_before(anchor, op)

    def _check_free(self, op: Operation) -> None:
        if op.graph is not None:
            raise ValueError(f"{op.describe_op()} is already in a graph")

    def _unlink(self, op: Operation) -> None:
        prev, nxt = op._prev, op._next
        if prev is None:
            self._first = nxt
        else:
            prev._next = nxt
        if nxt is None:
            self._last = prev
        else:
            nxt._prev = prev
        op._prev = op._next = None
        op.graph = None
        self._size -= 1

    def erase_ops(self, ops: Iterable[Operation]) -> None:
        """Erase a set of ops that only use each other (any order)."""
        ops = list(ops)
        for op in ops:
            op._drop_uses()
        for op in ops:
            for r in op.results:
                if r.uses:
                    users = ", ".join(u.describe_op() for u in r.users[:3])
                    raise VerificationError(f"cannot erase {op.describe_op()}: still used by {users}")
        for op in ops:
            self._unlink(op)

    def ops_by_name(self) -> dict[str, Operation]:
        """Ops keyed by their user name (the last op wins for repeated names)."""
        return {op.user_name: op for op in self.ops if op.user_name is not None}

    def __repr__(self) -> str:
        return f"<Graph @{self.name}: {len(self.inputs)} inputs, {self._size} ops, {len(self.outputs)} outputs>"

    def __str__(self) -> str:
        from flowir.ir.printer import print_graph

        return print_graph(self)
