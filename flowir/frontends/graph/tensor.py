"""``Tensor``, ``Operation``, ``TensorShape`` and ``Dimension``: TF 1.15's graph objects over IR values.

A frontend ``Operation`` wraps one IR op of its graph's ``flowir.ir.Graph``; its ``outputs``
are ``Tensor`` objects wrapping the op's IR results (control tokens excepted). Static shapes
are the IR types' shapes, shown as TF 1.15's ``TensorShape`` of ``Dimension`` objects.

Python operators on tensors build ops through the op library (``math_ops``, ``array_ops``),
imported on first use: the op library itself imports this module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowir.frontends.graph import dtypes
from flowir.ir.core import Operation as IROperation
from flowir.ir.core import Value
from flowir.ir.types import ControlType, ResourceType, TensorType

if TYPE_CHECKING:
    from flowir.frontends.graph.graph import Graph

__all__ = ["Dimension", "TensorShape", "as_dimension", "as_shape", "unknown_shape", "Tensor", "Operation", "NodeDef"]


# --------------------------------------------------------------------------------------------
# Static shapes


class Dimension:
    """One dim of a ``TensorShape``: a non-negative int, or unknown (``value is None``).

    As in TF 1.15, comparisons involving an unknown dim give ``None`` and arithmetic with one
    gives an unknown dim.

    >>> Dimension(3) + 1, Dimension(None) == 3, str(Dimension(None))
    (Dimension(4), None, '?')
    """

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        if value is None:
            self._value = None
            return
        if isinstance(value, Dimension):
            self._value = value._value
            return
        if isinstance(value, (str, bytes, float, bool)):
            raise TypeError(f"Dimension value must be integer or None, got {value!r}")
        try:
            v = value.__index__()
        except AttributeError:
            raise TypeError(f"Dimension value must be integer or None, got {value!r}") from None
        if v < 0:
            raise ValueError(f"Dimension {v} must be >= 0")
        self._value = v

    @property
    def value(self) -> int | None:
        """The dim as an int, or ``None`` when unknown."""
        return self._value

    def __repr__(self) -> str:
        return f"Dimension({self._value!r})"

    def __str__(self) -> str:
        return "?" if self._value is None else str(self._value)

    def __int__(self) -> int:
        if self._value is None:
            raise TypeError("Cannot convert an unknown Dimension to an int")
        return self._value

    def __index__(self) -> int:
        return self.__int__()

    def __hash__(self) -> int:
        return hash(self._value)

    def __eq__(self, other: object) -> bool | None:  # type: ignore[override]
        try:
            other = as_dimension(other)
        except (TypeError, ValueError):
            return NotImplemented
        if self._value is None or other._value is None:
            return None
        return self._value == other._value

    def __ne__(self, other: object) -> bool | None:  # type: ignore[override]
        eq = self.__eq__(other)
        if eq is NotImplemented or eq is None:
            return eq
        return not eq

    def _compare(self, other: Any, fn: Callable[[int, int], bool]) -> bool | None:
        other = as_dimension(other)
        if self._value is None or other._value is None:
            return None
        return fn(self._value, other._value)

    def __lt__(self, other: Any) -> bool | None:
        return self._compare(other, lambda a, b: a < b)

    def __le__(self, other: Any) -> bool | None:
        return self._compare(other, lambda a, b: a <= b)

    def __gt__(self, other: Any) -> bool | None:
        return self._compare(other, lambda a, b: a > b)

    def __ge__(self, other: Any) -> bool | None:
        return self._compare(other, lambda a, b: a >= b)

    def _arith(self, other: Any, fn: Callable[[int, int], int]) -> Dimension:
        try:
            other = as_dimension(other)
        except (TypeError, ValueError):
            return NotImplemented
        if self._value is None or other._value is None:
            return Dimension(None)
        return Dimension(fn(self._value, other._value))

    def __add__(self, other: Any) -> Dimension:
        return self._arith(other, lambda a, b: a + b)

    __radd__ = __add__

    def __sub__(self, other: Any) -> Dimension:
        return self._arith(other, lambda a, b: a - b)

    def __rsub__(self, other: Any) -> Dimension:
        return self._arith(other, lambda a, b: b - a)

    def __mul__(self, other: Any) -> Dimension:
        return self._arith(other, lambda a, b: a * b)

    __rmul__ = __mul__

    def __floordiv__(self, other: Any) -> Dimension:
        return self._arith(other, lambda a, b: a // b)

    def __rfloordiv__(self, other: Any) -> Dimension:
        return self._arith(other, lambda a, b: b // a)

    def __mod__(self, other: Any) -> Dimension:
        return self._arith(other, lambda a, b: a % b)

    def __rmod__(self, other: Any) -> Dimension:
        return self._arith(other, lambda a, b: b % a)

    def is_compatible_with(self, other: Any) -> bool:
        """Whether ``other`` (a ``Dimension``, int or ``None``) could be the same dim: equal, or either unknown."""
        other = as_dimension(other)
        return self._value is None or other._value is None or self._value == other._value

    def assert_is_compatible_with(self, other: Any) -> None:
        """Raise ``ValueError`` unless ``is_compatible_with(other)``."""
        if not self.is_compatible_with(other):
            raise ValueError(f"Dimensions {self} and {as_dimension(other)} are not compatible")

    def merge_with(self, other: Any) -> Dimension:
        """The dim both know; ``ValueError`` if they differ."""
        other = as_dimension(other)
        self.assert_is_compatible_with(other)
        return Dimension(self._value if self._value is not None else other._value)

    def __reduce__(self) -> tuple:
        return (Dimension, (self._value,))


def as_dimension(value: Any) -> Dimension:
    """``value`` as a ``Dimension`` (itself when it is one)."""
    return value if isinstance(value, Dimension) else Dimension(value)


class TensorShape:
    """A static shape: a list of ``Dimension`` objects, or unknown rank (``dims is None``).

    >>> s = TensorShape([None, 784])
    >>> str(s), s.as_list(), s[1], s.is_compatible_with([32, 784])
    ('(?, 784)', [None, 784], Dimension(784), True)
    """

    __slots__ = ("_dims",)

    def __init__(self, dims: Any) -> None:
        if dims is None:
            self._dims: list[Dimension] | None = None
        elif isinstance(dims, TensorShape):
            self._dims = None if dims._dims is None else list(dims._dims)
        elif isinstance(dims, (str, bytes)):
            raise TypeError(f"A string has ambiguous TensorShape, please wrap in a list or convert to an int: {dims!r}")
        else:
            try:
                items = list(dims)
            except TypeError:
                items = [dims]
            self._dims = [as_dimension(d) for d in items]

    @classmethod
    def _from_ir(cls, shape: tuple[int | None, ...] | None) -> TensorShape:
        s = object.__new__(cls)
        s._dims = None if shape is None else [Dimension(d) for d in shape]
        return s

    def _to_ir(self) -> tuple[int | None, ...] | None:
        return None if self._dims is None else tuple(d._value for d in self._dims)

    @property
    def dims(self) -> list[Dimension] | None:
        """The ``Dimension`` objects, or ``None`` for unknown rank (TF 1.15's V1 behaviour)."""
        return self._dims

    @property
    def ndims(self) -> int | None:
        """The rank, or ``None`` when unknown (``rank`` is the same property)."""
        return None if self._dims is None else len(self._dims)

    rank = ndims

    def as_list(self) -> list[int | None]:
        """The dims as ints and ``None``; ``ValueError`` for unknown rank."""
        if self._dims is None:
            raise ValueError("as_list() is not defined on an unknown TensorShape.")
        return [d._value for d in self._dims]

    def num_elements(self) -> int | None:
        """The element count, ``None`` unless fully defined."""
        if not self.is_fully_defined():
            return None
        n = 1
        for d in self._dims:  # type: ignore[union-attr]
            n *= d._value  # type: ignore[operator]
        return n

    def is_fully_defined(self) -> bool:
        """Whether the rank and every dim are known."""
        return self._dims is not None and all(d._value is not None for d in self._dims)

    def assert_is_fully_defined(self) -> None:
        """Raise ``ValueError`` unless ``is_fully_defined()``."""
        if not self.is_fully_defined():
            raise ValueError(f"Shape {self} is not fully defined")

    def is_compatible_with(self, other: Any) -> bool:
        """Whether some concrete shape fits both."""
        other = as_shape(other)
        if self._dims is None or other._dims is None:
            return True
        if len(self._dims) != len(other._dims):
            return False
        return all(a.is_compatible_with(b) for a, b in zip(self._dims, other._dims))

    def assert_is_compatible_with(self, other: Any) -> None:
        """Raise ``ValueError`` unless ``is_compatible_with(other)``."""
        if not self.is_compatible_with(other):
            raise ValueError(f"Shapes {self} and {as_shape(other)} are incompatible")

    def merge_with(self, other: Any) -> TensorShape:
        """The shape that knows what either knows; ``ValueError`` if they contradict."""
        other = as_shape(other)
        if self._dims is None:
            return other
        if other._dims is None:
            return self
        if len(self._dims) != len(other._dims) or not self.is_compatible_with(other):
            raise ValueError(f"Shapes {self} and {other} are not compatible")
        return TensorShape([a.merge_with(b) for a, b in zip(self._dims, other._dims)])

    def most_specific_compatible_shape(self, other: Any) -> TensorShape:
        """The most specific shape compatible with both (unequal dims become unknown)."""
        other = as_shape(other)
        if self._dims is None or other._dims is None or len(self._dims) != len(other._dims):
            return unknown_shape()
        return TensorShape([a if a._value == b._value else Dimension(None) for a, b in zip(self._dims, other._dims)])

    def concatenate(self, other: Any) -> TensorShape:
        """The dims of this shape followed by ``other``'s; unknown rank if either's rank is unknown."""
        other = as_shape(other)
        if self._dims is None or other._dims is None:
            return unknown_shape()
        return TensorShape(self._dims + other._dims)

    def with_rank(self, rank: int) -> TensorShape:
        """This shape with rank ``rank``; ``ValueError`` if its rank is another."""
        try:
            return self.merge_with(unknown_shape(rank))
        except ValueError:
            raise ValueError(f"Shape {self} must have rank {rank}") from None

    def assert_has_rank(self, rank: int) -> None:
        """Raise ``ValueError`` if the rank is known and is not ``rank``."""
        if self._dims is not None and len(self._dims) != rank:
            raise ValueError(f"Shape {self} must have rank {rank}")

    def is_compatible_with_rank(self, rank: int) -> bool:
        """Whether the rank is ``rank`` or unknown."""
        return self._dims is None or len(self._dims) == rank

    def __len__(self) -> int:
        if self._dims is None:
            raise ValueError("Cannot take the length of shape with unknown rank.")
        return len(self._dims)

    def __bool__(self) -> bool:
        return self._dims is not None

    def __iter__(self) -> Iterator[Dimension]:
        if self._dims is None:
            raise ValueError("Cannot iterate over a shape with unknown rank.")
        return iter(self._dims)

    def __getitem__(self, key: int | slice) -> Any:
        if self._dims is not None:
            if isinstance(key, slice):
                return TensorShape(self._dims[key])
            return self._dims[key]
        if isinstance(key, slice):
            start, stop = key.start, key.stop
            if key.step is None and (start is None or start >= 0) and stop is not None and stop >= 0:
                return unknown_shape(stop - (start or 0))
            return unknown_shape()
        return Dimension(None)

    def __add__(self, other: Any) -> TensorShape:
        return self.concatenate(other)

    def __radd__(self, other: Any) -> TensorShape:
        return as_shape(other).concatenate(self)

    def __eq__(self, other: object) -> bool:
        # TF 1.15 compares Dimension lists: an unknown dim never equals anything.
        try:
            other = as_shape(other)
        except (TypeError, ValueError):
            return NotImplemented
        return self._dims == other._dims

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None  # type: ignore[assignment]  # mutable-looking and eq-by-value, as TF's

    def __str__(self) -> str:
        if self._dims is None:
            return "<unknown>"
        if len(self._dims) == 1:
            return f"({self._dims[0]},)"
        return "(" + ", ".join(str(d) for d in self._dims) + ")"

    def __repr__(self) -> str:
        if self._dims is None:
            return "TensorShape(None)"
        return f"TensorShape({self._dims!r})"

    def __reduce__(self) -> tuple:
        return (TensorShape, (self.as_list() if self._dims is not None else None,))


def as_shape(shape: Any) -> TensorShape:
    """``shape`` as a ``TensorShape`` (a list of ints/``None``/``Dimension``, ``None``, an int)."""
    return shape if isinstance(shape, TensorShape) else TensorShape(shape)


def unknown_shape(rank: int | None = None) -> TensorShape:
    """A shape of unknown rank, or of ``rank`` unknown dims."""
    return TensorShape(None if rank is None else [None] * rank)


# --------------------------------------------------------------------------------------------
# Operator overloading


def _op_library_function(name: str) -> Callable[..., Any]:
    """``name`` from the op library (``math_ops`` or ``array_ops``), imported on first use."""
    fn = _OP_FUNCTIONS.get(name)
    if fn is None:
        for module in ("flowir.frontends.graph.math_ops", "flowir.frontends.graph.array_ops"):
            fn = getattr(importlib.import_module(module), name, None)
            if fn is not None:
                break
        if fn is None:
            raise NotImplementedError(f"the op library has no {name!r}")
        _OP_FUNCTIONS[name] = fn
    return fn


_OP_FUNCTIONS: dict[str, Callable[..., Any]] = {}


_BUILDING: Any = None


def _building() -> Any:
    global _BUILDING
    if _BUILDING is None:
        from flowir.frontends.graph import building

        _BUILDING = building
    return _BUILDING


def _binary_operator(fn_name: str, scope: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``__op__`` and ``__rop__`` as TF 1.15's ``binary_op_wrapper``: ops in a name scope
    ``scope`` (``add``, ``mul``), the non-tensor operand converted to the tensor's dtype."""

    def forward(self: Any, other: Any) -> Any:
        x = self._as_tensor_operand()
        b = _building()
        with b.name_scope(None, scope, [x, other]) as name:
            if isinstance(other, Tensor):
                y = other
            else:
                try:
                    y = b.convert_to_tensor(other, preferred_dtype=x.dtype.base_dtype, name="y")
                except TypeError:
                    if hasattr(type(other), f"__r{scope}__"):
                        return NotImplemented
                    raise
            return _op_library_function(fn_name)(x, y, name=name)

    def reflected(self: Any, other: Any) -> Any:
        y = self._as_tensor_operand()
        b = _building()
        with b.name_scope(None, scope, [y, other]) as name:
            x = b.convert_to_tensor(other, dtype=y.dtype.base_dtype, name="x")
            return _op_library_function(fn_name)(x, y, name=name)

    forward.__name__ = f"__{scope}__"
    reflected.__name__ = f"__r{scope}__"
    return forward, reflected


def _unary_operator(fn_name: str) -> Callable[..., Any]:
    def unary(self: Any) -> Any:
        return _op_library_function(fn_name)(self._as_tensor_operand())

    return unary


def _comparison_operator(fn_name: str) -> Callable[..., Any]:
    def compare(self: Any, other: Any) -> Any:
        return _op_library_function(fn_name)(self._as_tensor_operand(), other)

    return compare


class _OperatorMixin:
    """TF's overloaded operators, for tensors and for variables (which use their value)."""

    __slots__ = ()
    #: Make numpy defer to our reflected operators (``np.float32(2) * t``).
    __array_priority__ = 100

    def _as_tensor_operand(self) -> Tensor:
        raise NotImplementedError

    __add__, __radd__ = _binary_operator("add", "add")
    __sub__, __rsub__ = _binary_operator("subtract", "sub")
    __mul__, __rmul__ = _binary_operator("multiply", "mul")
    __truediv__, __rtruediv__ = _binary_operator("truediv", "truediv")
    __floordiv__, __rfloordiv__ = _binary_operator("floordiv", "floordiv")
    __mod__, __rmod__ = _binary_operator("mod", "mod")
    __pow__, __rpow__ = _binary_operator("pow", "pow")
    __matmul__, __rmatmul__ = _binary_operator("matmul", "matmul")
    __and__, __rand__ = _binary_operator("logical_and", "and")
    __or__, __ror__ = _binary_operator("logical_or", "or")
    __xor__, __rxor__ = _binary_operator("logical_xor", "xor")
    __neg__ = _unary_operator("negative")
    __abs__ = _unary_operator("abs")
    __invert__ = _unary_operator("logical_not")
    __lt__ = _comparison_operator("less")
    __le__ = _comparison_operator("less_equal")
    __gt__ = _comparison_operator("greater")
    __ge__ = _comparison_operator("greater_equal")

    def __getitem__(self, index: Any) -> Tensor:
        return _op_library_function("tensor_getitem")(self._as_tensor_operand(), index)

    def __bool__(self) -> bool:
        raise TypeError(
            "Using a `tf.Tensor` as a Python `bool` is not allowed. Use `if t is not None:` instead of "
            "`if t:` to test if a tensor is defined, and use TensorFlow ops such as tf.cond to execute "
            "subgraphs conditioned on the value of a tensor."
        )

    def __iter__(self) -> Iterator[Any]:
        raise TypeError(
            "Tensor objects are only iterable when eager execution is enabled. To iterate over this tensor use tf.map_fn."
        )

    def __len__(self) -> int:
        raise TypeError(
            f"len is not well defined for symbolic Tensors. ({self.name}) "  # type: ignore[attr-defined]
            "Please call `x.shape` rather than `len(x)` for shape information."
        )

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        raise NotImplementedError(
            f"Cannot convert a symbolic Tensor ({self.name}) to a numpy array."  # type: ignore[attr-defined]
        )

    # Identity comparison and hashing, as TF 1.x tensors (``==`` does not build an op).
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__


# --------------------------------------------------------------------------------------------
# Tensors and operations


class Tensor(_OperatorMixin):
    """One output of an ``Operation``: ``name`` ``"op:index"``, ``dtype``, static ``shape``.

    A tensor holds no value: ``Session.run`` or ``eval()`` computes one. Tensors hash and
    compare by identity.
    """

    __slots__ = ("_graph", "_value_index", "_value", "_dtype", "__weakref__")

    def __init__(self, graph: Graph, value_index: int, value: Value) -> None:
        # Made by ``graph._tensor_of``, once per value: tensors are identities.
        self._graph = graph
        self._value_index = value_index
        self._value = value
        ty = value.type
        if type(ty) is ResourceType:
            self._dtype = dtypes._REFS[ty.value_type.dtype]
        else:
            self._dtype = dtypes._BASES[ty.dtype]  # type: ignore[attr-defined]

    def _as_tensor_operand(self) -> Tensor:
        return self

    @property
    def op(self) -> Operation:
        """The ``Operation`` that produces this tensor."""
        # The graph makes an op's ``Operation`` when first asked (building a long graph makes
        # no wrapper objects it does not need).
        return self._graph._wrap(self._value.owner)  # type: ignore[arg-type]

    _op = op

    @property
    def value_index(self) -> int:
        """The index of this tensor among its op's outputs."""
        return self._value_index

    @property
    def dtype(self) -> dtypes.DType:
        """The element type (``tf.float32``); a ``_ref`` dtype for a variable's handle, as TF 1.15."""
        return self._dtype

    @property
    def graph(self) -> Graph:
        """The ``Graph`` this tensor belongs to."""
        return self._graph

    @property
    def name(self) -> str:
        """The tensor's TF name, ``<op name>:<output index>`` (e.g. ``"layer1/MatMul:0"``)."""
        return f"{self._value.owner.user_name or ''}:{self._value_index}"  # type: ignore[union-attr]

    @property
    def device(self) -> str:
        """The device of the op producing it (``"/device:GPU:0"``), ``""`` when unplaced."""
        return self._value.owner.device or ""  # type: ignore[union-attr]

    @property
    def value(self) -> Value:
        """The IR value this tensor stands for."""
        return self._value

    @property
    def _tensor_type(self) -> TensorType:
        ty = self._value.type
        return ty.value_type if type(ty) is ResourceType else ty  # type: ignore[return-value,attr-defined]

    @property
    def shape(self) -> TensorShape:
        """The static shape inferred at graph construction (``None`` dims are known only at run time)."""
        return TensorShape._from_ir(self._tensor_type.shape)

    def get_shape(self) -> TensorShape:
        """The static shape; the same as ``shape``."""
        return self.shape

    def set_shape(self, shape: Any) -> None:
        """Refine the static shape with what ``shape`` knows; ``ValueError`` if they contradict."""
        merged = self.shape.merge_with(shape)
        ty = self._value.type
        if type(ty) is ResourceType:
            raise ValueError(f"cannot set the shape of the variable handle {self.name!r}")
        new = TensorType(ty.dtype, merged._to_ir())  # type: ignore[attr-defined]
        if new != ty:
            self._value.type = new
            self._graph._retyped.add(self._value)

    def consumers(self) -> list[Operation]:
        """The ops that take this tensor as a data input, in creation order."""
        wrap = self._graph._wrapper_of
        seen: dict[Operation, None] = {}
        for ir_op, index in self._value.uses:
            if index >= 0:
                op = wrap(ir_op)
                if op is not None:
                    seen[op] = None
        return sorted(seen, key=lambda o: o._id)

    def eval(self, feed_dict: Any = None, session: Any = None) -> Any:
        """This tensor's value in ``session`` (default: the default session)."""
        from flowir.frontends.graph.session import _run_using_default_session

        return _run_using_default_session(self, feed_dict, session, "evaluate tensor using `eval()`", "eval(session=sess)")

    def __repr__(self) -> str:
        return f"<tf.Tensor {self.name!r} shape={self.shape} dtype={self._dtype.name}>"

    def __str__(self) -> str:
        return f'Tensor("{self.name}", shape={self.shape}, dtype={self._dtype.name})'


@dataclass
class NodeDef:
    """A minimal stand-in for TF's ``NodeDef``: what an op is, reads and where it runs."""

    name: str
    op: str
    input: list[str] = field(default_factory=list)
    device: str = ""
    attr: dict[str, Any] = field(default_factory=dict)


class Operation:
    """A node of a ``Graph``: TF's ``tf.Operation`` over one IR op.

    ``type`` is the IR op name (``"math.mul"``); ``inputs``/``outputs`` are tensors,
    ``control_inputs`` the ops this one waits for.
    """

    __slots__ = ("_ir", "_graph", "_outputs", "__weakref__")

    def __init__(self, ir_op: IROperation, graph: Graph) -> None:
        # Made by ``graph._wrap``, once per op and only when asked for.
        self._ir = ir_op
        self._graph = graph
        tensor_of = graph._tensor_of
        self._outputs: tuple[Tensor, ...] = tuple(
            [tensor_of(r) for r in ir_op.results if type(r.type) is not ControlType]
        )

    @property
    def _id(self) -> int:
        """The op's place in creation order (ops are appended as they are built)."""
        return self._graph._ir.order_key(self._ir)

    @property
    def ir_op(self) -> IROperation:
        """The IR op this wraps."""
        return self._ir

    @property
    def name(self) -> str:
        """The op's unique name in its graph, name scopes included (``"layer1/MatMul"``)."""
        return self._ir.user_name or ""

    @property
    def type(self) -> str:
        """The op's type: the IR op name (``"math.matmul"``).

        TF 1.15 gives the TF op type (``"MatMul"``); flowir ops are IR ops and report their IR name.
        """
        return self._ir.name

    @property
    def graph(self) -> Graph:
        """The ``Graph`` this op belongs to."""
        return self._graph

    @property
    def device(self) -> str:
        """The device the op was placed on (``"/device:GPU:0"``), ``""`` when unplaced."""
        return self._ir.device or ""

    @property
    def outputs(self) -> list[Tensor]:
        """The op's output tensors, in order (a new list each call)."""
        return list(self._outputs)

    def values(self) -> tuple[Tensor, ...]:
        """The op's output tensors as a tuple (TF 1.15's older spelling of ``outputs``)."""
        return self._outputs

    @property
    def inputs(self) -> list[Tensor]:
        """The data inputs, in operand order."""
        return [self._graph._tensor_of(v) for v in self._ir.operands]

    @property
    def control_inputs(self) -> list[Operation]:
        """The ops this op waits for (its control dependencies), in the order they were added."""
        out = []
        for v in self._ir.control_deps:
            owner = v.owner
            op = self._graph._wrapper_of(owner) if owner is not None else None
            if op is not None:
                out.append(op)
        return out

    @property
    def _control_value(self) -> Value:
        """The IR value a control dependency on this op refers to."""
        return self._ir.results[0]

    def get_attr(self, name: str) -> Any:
        """The value of the IR attribute ``name``; ``ValueError`` if the op has none so named."""
        try:
            return self._ir.get_attr(name)
        except KeyError:
            raise ValueError(f"Operation {self.name!r} has no attr named {name!r}.") from None

    @property
    def node_def(self) -> NodeDef:
        """A ``NodeDef`` describing the op: name, type, inputs (``"^name"`` for control inputs), device, attrs.

        TF 1.15 returns a ``NodeDef`` protobuf; flowir's is a plain dataclass whose ``op`` is the IR
        op name and whose ``attr`` holds the IR attributes.
        """
        return NodeDef(
            name=self.name,
            op=self.type,
            input=[t.name for t in self.inputs] + [f"^{op.name}" for op in self.control_inputs],
            device=self.device,
            attr=dict(self._ir.attributes),
        )

    def run(self, feed_dict: Any = None, session: Any = None) -> None:
        """Run this op in ``session`` (default: the default session)."""
        from flowir.frontends.graph.session import _run_using_default_session

        _run_using_default_session(self, feed_dict, session, "execute operation using `run()`", "run(session=sess)")

    def __repr__(self) -> str:
        return f"<tf.Operation {self.name!r} type={self.type}>"

    def __str__(self) -> str:
        from flowir.ir.printer import Printer

        return Printer(self._graph._ir).op_line(self._ir)
