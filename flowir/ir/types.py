"""Types of IR values: tensors (with ``None`` wildcard dims), control tokens, variable handles.

Shape algebra over unknown dims lives here, once: compatibility, ``meet`` (merge what two
types know), ``join`` (the most specific type that describes both) and numpy broadcasting.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from flowir.ir.dtypes import DType
from flowir.ir.errors import ShapeError

__all__ = [
    "Shape",
    "Type",
    "TensorType",
    "ControlType",
    "ResourceType",
    "CONTROL",
    "shapes_compatible",
    "meet_shapes",
    "join_shapes",
    "broadcast_shapes",
    "format_shape",
    "normalize_axis",
]

#: A shape: a tuple of dim sizes, ``None`` for an unknown dim; ``None`` itself for unknown rank.
Shape = tuple[int | None, ...] | None


class Type:
    """Base of all IR value types. Types are immutable and compare by value."""

    __slots__ = ()

    def is_compatible_with(self, other: Type) -> bool:
        """Whether a value of type ``other`` may stand where this type is expected (equality here)."""
        return self == other

    def meet(self, other: Type) -> Type | None:
        """The type that knows everything either type knows; ``None`` if they contradict."""
        return self if self == other else None

    def join(self, other: Type) -> Type | None:
        """The most specific type describing values of both; ``None`` if there is none."""
        return self if self == other else None


#: The shared ``TensorType`` of each ``(dtype, shape)`` made so far (cleared when it grows past
#: the limit: sharing saves memory, equality does not depend on it).
_INTERNED: dict[tuple[DType, Shape], TensorType] = {}
_INTERN_LIMIT = 100_000


class TensorType(Type):
    """A tensor of ``dtype`` with ``shape``: dims are ints or ``None`` (unknown); ``shape=None``
    is unknown rank.

    >>> t = TensorType(DType.float32, (None, 784))
    >>> t
    tensor<?x784xf32>
    >>> t.is_compatible_with(TensorType(DType.float32, (32, 784)))
    True
    """

    __slots__ = ("dtype", "shape", "_hash")

    dtype: DType
    shape: Shape

    def __new__(cls, dtype: DType, shape: Iterable[int | None] | None) -> TensorType:
        if shape is not None:
            shape = tuple(shape)
            for d in shape:
                if d is None or (type(d) is int and d >= 0):
                    continue
                shape = tuple(_check_dim(x, shape) for x in shape)
                break
        # Types are immutable values: equal ones are shared (fewer objects in big graphs).
        key = (dtype, shape)
        self = _INTERNED.get(key)
        if self is None:
            self = object.__new__(cls)
            object.__setattr__(self, "dtype", dtype)
            object.__setattr__(self, "shape", shape)
            object.__setattr__(self, "_hash", hash(key))
            if len(_INTERNED) >= _INTERN_LIMIT:
                _INTERNED.clear()
            _INTERNED[key] = self
        return self

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("TensorType is immutable")

    def __eq__(self, other: object) -> bool:
        return self is other or (
            type(other) is TensorType
            and self.dtype is other.dtype  # type: ignore[attr-defined]
            and self.shape == other.shape  # type: ignore[attr-defined]
        )

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self):
        return (TensorType, (self.dtype, self.shape))

    @property
    def rank(self) -> int | None:
        """The number of dims, ``None`` for unknown rank."""
        return None if self.shape is None else len(self.shape)

    @property
    def is_static(self) -> bool:
        """Whether rank and every dim are known."""
        return self.shape is not None and None not in self.shape

    @property
    def num_elements(self) -> int | None:
        """The element count, ``None`` unless the shape is static."""
        if not self.is_static:
            return None
        n = 1
        for d in self.shape:  # type: ignore[union-attr]
            n *= d  # type: ignore[operator]
        return n

    def with_shape(self, shape: Iterable[int | None] | None) -> TensorType:
        """This type with ``shape`` instead (``None``: unknown rank)."""
        return TensorType(self.dtype, shape)

    def with_dtype(self, dtype: DType) -> TensorType:
        """This type with element type ``dtype`` instead."""
        return TensorType(dtype, self.shape)

    def is_compatible_with(self, other: Type) -> bool:
        """Whether ``other`` is a tensor of the same dtype whose shape could be this one (``None`` dims match any)."""
        return (
            type(other) is TensorType
            and self.dtype is other.dtype
            and shapes_compatible(self.shape, other.shape)
        )

    def meet(self, other: Type) -> TensorType | None:
        """The type that knows everything either type knows; ``None`` if they contradict."""
        if type(other) is not TensorType or self.dtype is not other.dtype:
            return None
        try:
            return TensorType(self.dtype, meet_shapes(self.shape, other.shape))
        except ShapeError:
            return None

    def join(self, other: Type) -> TensorType | None:
        """The most specific type describing both (unequal dims become ``None``)."""
        if type(other) is not TensorType or self.dtype is not other.dtype:
            return None
        return TensorType(self.dtype, join_shapes(self.shape, other.shape))

    def __repr__(self) -> str:
        return self.format()

    def format(self) -> str:
        """The IR spelling, ``tensor<?x784xf32>``; ``tensor<*xf32>`` for unknown rank."""
        if self.shape is None:
            return f"tensor<*x{self.dtype.value}>"
        dims = "".join(("?" if d is None else str(d)) + "x" for d in self.shape)
        return f"tensor<{dims}{self.dtype.value}>"

    def describe(self) -> str:
        """The user-facing spelling of error messages, ``f32[None, 784]``."""
        return f"{self.dtype.value}{format_shape(self.shape)}"


class ControlType(Type):
    """The type of a control token: the result of ops that only order others (group, no-op)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return type(other) is ControlType

    def __hash__(self) -> int:
        return hash(ControlType)

    def __repr__(self) -> str:
        """The IR spelling, ``!flowir.control``."""
        return "!flowir.control"

    format = __repr__

    def describe(self) -> str:
        """The user-facing spelling of error messages, ``control``."""
        return "control"


CONTROL = ControlType()


class ResourceType(Type):
    """A handle to a mutable variable holding values of ``value_type``."""

    __slots__ = ("value_type",)

    value_type: TensorType

    def __init__(self, value_type: TensorType) -> None:
        object.__setattr__(self, "value_type", value_type)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("ResourceType is immutable")

    def __eq__(self, other: object) -> bool:
        return type(other) is ResourceType and self.value_type == other.value_type  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((ResourceType, self.value_type))

    def __reduce__(self):
        return (ResourceType, (self.value_type,))

    def is_compatible_with(self, other: Type) -> bool:
        """Whether ``other`` is a handle to a variable of a compatible value type."""
        return type(other) is ResourceType and self.value_type.is_compatible_with(other.value_type)

    def meet(self, other: Type) -> ResourceType | None:
        """The handle type whose value type is the two value types' meet; ``None`` if they contradict."""
        if type(other) is not ResourceType:
            return None
        t = self.value_type.meet(other.value_type)
        return None if t is None else ResourceType(t)

    def join(self, other: Type) -> ResourceType | None:
        """The handle type whose value type is the two value types' join; ``None`` if there is none."""
        if type(other) is not ResourceType:
            return None
        t = self.value_type.join(other.value_type)
        return None if t is None else ResourceType(t)

    def __repr__(self) -> str:
        """The IR spelling, ``!flowir.var<tensor<2xf32>>``."""
        return f"!flowir.var<{self.value_type.format()}>"

    format = __repr__

    def describe(self) -> str:
        """The user-facing spelling of error messages, ``var<f32[2]>``."""
        return f"var<{self.value_type.describe()}>"


def _check_dim(d: object, shape: tuple) -> int | None:
    if d is None:
        return None
    if isinstance(d, bool) or not hasattr(d, "__index__"):
        raise ValueError(f"invalid dim {d!r} in shape {shape}")
    d = d.__index__()  # type: ignore[attr-defined]
    if d < 0:
        raise ValueError(f"negative dim {d} in shape {shape}")
    return d


def format_shape(shape: Shape) -> str:
    """``[None, 784]`` for a shape, ``[*]`` for unknown rank."""
    if shape is None:
        return "[*]"
    return "[" + ", ".join("None" if d is None else str(d) for d in shape) + "]"


def shapes_compatible(a: Shape, b: Shape) -> bool:
    """Whether some concrete shape fits both."""
    if a is None or b is None:
        return True
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x is not None and y is not None and x != y:
            return False
    return True


def meet_shapes(a: Shape, b: Shape) -> Shape:
    """Merge what two shapes know: ``(None, 3)`` and ``(2, None)`` give ``(2, 3)``.

    Raises ``ShapeError`` when they contradict.
    """
    if a is None:
        return b
    if b is None:
        return a
    if len(a) != len(b):
        raise ShapeError(f"ranks differ ({len(a)} vs {len(b)})")
    out = []
    for x, y in zip(a, b):
        if x is None:
            out.append(y)
        elif y is None or x == y:
            out.append(x)
        else:
            raise ShapeError(f"dims differ ({x} vs {y}) in shapes {format_shape(a)} and {format_shape(b)}")
    return tuple(out)


def join_shapes(a: Shape, b: Shape) -> Shape:
    """The most specific shape describing both: unequal dims become ``None``; unequal ranks
    give unknown rank."""
    if a is None or b is None or len(a) != len(b):
        return None
    return tuple(x if x == y else None for x, y in zip(a, b))


def broadcast_shapes(*shapes: Shape) -> Shape:
    """Numpy broadcasting over shapes with unknown dims.

    An unknown dim against 1 stays unknown; against ``k != 1`` it becomes ``k`` (any other
    runtime size would be an error). Raises ``ShapeError`` when static dims clash.

    >>> broadcast_shapes((None, 1, 3), (4, 1))
    (None, 4, 3)
    """
    if any(s is None for s in shapes):
        # Known dims can still clash, but the result rank is unknown.
        return None
    rank = max((len(s) for s in shapes), default=0)  # type: ignore[arg-type]
    out: list[int | None] = [1] * rank
    for s in shapes:
        offset = rank - len(s)  # type: ignore[arg-type]
        for i, d in enumerate(s):  # type: ignore[arg-type]
            j = offset + i
            cur = out[j]
            if d == 1:
                continue
            if cur == 1:
                out[j] = d
            elif d is None:
                continue
            elif cur is None:
                out[j] = d
            elif cur != d:
                raise ShapeError(
                    "shapes are not broadcast-compatible: "
                    + " vs ".join(format_shape(x) for x in shapes)
                )
    return tuple(out)


def normalize_axis(axis: int, rank: int, what: str = "axis") -> int:
    """``axis`` in ``[0, rank)``, counting negative axes from the end; ``ShapeError`` if out of range."""
    if not -rank <= axis < rank:
        raise ShapeError(f"{what} {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def normalize_axes(axes: Sequence[int], rank: int, what: str = "axis") -> tuple[int, ...]:
    out = tuple(normalize_axis(a, rank, what) for a in axes)
    if len(set(out)) != len(out):
        raise ShapeError(f"repeated {what} in {list(axes)}")
    return out
