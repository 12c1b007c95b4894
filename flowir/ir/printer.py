"""The textual form of graphs: MLIR's generic op syntax, written out.

::

    flowir.graph @main(%arg0: tensor<?x784xf32> {name = "x"}) {
      %0 = "flowir.constant"() {value = dense<[1.0, 2.5]> : tensor<2xf32>} : () -> tensor<2xf32>
      %1:2 = "array.split"(%0) {num = 2} : (tensor<2xf32>) -> (tensor<1xf32>, tensor<1xf32>)
      %2 = "math.add"(%1#0, %1#1) [%0] {name = "layer1/add"} : (tensor<1xf32>, tensor<1xf32>) -> tensor<1xf32> loc("mnist.py":12)
      "flowir.return"(%2) {names = ["out"]} : (tensor<1xf32>) -> ()
    }

Results are numbered ``%0, %1, ...`` in program order (independent of user names); the
results of a multi-result op are ``%N#i``; graph inputs are ``%argK``. Control dependencies
follow the operands in square brackets. The attribute dict holds the user name first, then
the op's non-default attributes in declaration order. ``flowir.ir.parser`` reads the same
syntax back; ``print(parse(print(g))) == print(g)`` for every graph.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from flowir.ir.core import REQUIRED, Graph, Operation, Value
from flowir.ir.dtypes import DType, dtype_of
from flowir.ir.location import Location
from flowir.ir.types import TensorType, Type

__all__ = [
    "Printer",
    "print_graph",
    "quote_string",
    "format_attribute",
    "format_type",
    "is_default_value",
    "MAX_LITERAL_ELEMENTS",
]

#: Dense constants with more elements than this (and not a splat) print as raw hex bytes.
MAX_LITERAL_ELEMENTS = 16

#: What the printer writes for an operand that is not defined in the graph being printed
#: (only a broken graph has one; the parser rejects it).
UNKNOWN_VALUE = "<<UNKNOWN SSA VALUE>>"

# Printable ASCII except '"' and '\\': such strings need no escaping (the common case).
_PLAIN_STRING = re.compile(r'[ !#-\[\]-~]*\Z')
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$.]*\Z")
_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_$.\-]*\Z")
# Words the parser reads as numbers, so an attribute key spelled so must be quoted.
_NUMBER_WORDS = frozenset({"inf", "nan"})
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t"}


def quote_string(s: str) -> str:
    """``s`` as a double-quoted IR string literal.

    ``\\``, ``"``, newline and tab get backslash escapes; other non-printable characters are
    written as ``\\XX`` hex escapes of their UTF-8 bytes; printable non-ASCII text stays as is.
    """
    if _PLAIN_STRING.match(s):
        return f'"{s}"'
    out = []
    for ch in s:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif " " <= ch <= "~" or (ch > "\x7f" and ch.isprintable()):
            out.append(ch)
        else:
            out.extend(f"\\{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
    return '"' + "".join(out) + '"'


def quote_bytes(b: bytes) -> str:
    """``b`` as a bytes literal ``b"..."`` (escapes as in ``quote_string``, every non-ASCII
    byte as ``\\XX``)."""
    out = []
    for byte in b:
        ch = chr(byte)
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif 0x20 <= byte <= 0x7E:
            out.append(ch)
        else:
            out.append(f"\\{byte:02X}")
    return 'b"' + "".join(out) + '"'


def format_type(ty: Type) -> str:
    """The IR spelling of a type (``tensor<?x784xf32>``, ``!flowir.control``, ...)."""
    fmt = getattr(ty, "format", None)
    return fmt() if fmt is not None else repr(ty)


def format_location(loc: Location) -> str:
    """`` loc("file.py":12)`` (with a leading space), or ``""`` for an unknown location."""
    if loc.file is None:
        return ""
    inner = f"{quote_string(loc.file)}:{loc.line}"
    if loc.function is not None:
        inner = f"{quote_string(loc.function)}({inner})"
    return f" loc({inner})"


# --------------------------------------------------------------------------------------------
# Attribute values


def _format_float(v: float) -> str:
    # repr is the shortest text that reads back to the same double, and always shows a '.'
    # or an exponent (so it never reads back as an int); inf and nan are keywords.
    return repr(v)


def _format_seq(v: tuple | list) -> str:
    return "[" + ", ".join([format_attribute(x) for x in v]) + "]"


_ATTR_FORMATTERS: dict[type, Callable[[Any], str]] = {
    bool: lambda v: "true" if v else "false",
    int: str,
    float: _format_float,
    str: quote_string,
    bytes: quote_bytes,
    DType: lambda v: v.value,
    tuple: _format_seq,
    list: _format_seq,
    type(None): lambda v: "none",
}


def format_attribute(value: Any) -> str:
    """The IR spelling of an attribute value (see ``flowir.ir.attributes``).

    Raises ``TypeError`` for a value that is no attribute value.
    """
    fmt = _ATTR_FORMATTERS.get(type(value))
    if fmt is not None:
        return fmt(value)
    if isinstance(value, np.ndarray):
        return format_dense(value)
    # Subclasses and numpy scalars that slipped past attribute normalisation.
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return _format_float(float(value))
    if isinstance(value, str):
        return quote_string(value)
    if isinstance(value, DType):
        return value.value
    if isinstance(value, tuple | list):
        return _format_seq(value)
    raise TypeError(f"cannot print attribute value {value!r} of type {type(value).__name__}")


# --------------------------------------------------------------------------------------------
# Dense arrays

_UINT_OF_SIZE = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def format_dense(a: np.ndarray) -> str:
    """``dense<...> : tensor<...>`` for an array: a splat, a nested literal or raw hex bytes.

    A splat ``dense<0.0>`` when the array has more than one element and all are bitwise equal;
    a nested literal when it has at most ``MAX_LITERAL_ELEMENTS`` elements or holds strings;
    otherwise its little-endian bytes in hex, ``dense<"0x0000803F">`` (empty arrays too).
    """
    dt = dtype_of(a)
    ty = TensorType(dt, a.shape).format()
    if dt is DType.string:
        return f"dense<{_format_string_elements(a)}> : {ty}"
    size = a.size
    if size > 1 and _is_splat(a):
        return f"dense<{_format_element(a.reshape(-1)[0], a.dtype)}> : {ty}"
    if 0 < size <= MAX_LITERAL_ELEMENTS:
        flat = [_format_element(x, a.dtype) for x in a.reshape(-1)]
        return f"dense<{_nest(flat, a.shape)}> : {ty}"
    data = np.ascontiguousarray(a)
    if sys.byteorder == "big":
        data = data.byteswap()
    return f'dense<"0x{data.tobytes().hex().upper()}"> : {ty}'


def _is_splat(a: np.ndarray) -> bool:
    bits = np.ascontiguousarray(a).reshape(-1).view(_UINT_OF_SIZE[a.dtype.itemsize])
    return bool((bits == bits[0]).all())


def _format_element(x: Any, dtype: np.dtype) -> str:
    kind = dtype.kind
    if kind == "b":
        return "true" if x else "false"
    if kind in "iu":
        return str(int(x))
    return _format_float_element(x, dtype)


def _format_float_element(x: Any, dtype: np.dtype) -> str:
    """The shortest decimal that reads back (through a double) to exactly ``x`` in ``dtype``."""
    f = float(x)
    if not math.isfinite(f):
        return repr(f)
    if dtype.itemsize < 8:
        uint = _UINT_OF_SIZE[dtype.itemsize]
        want = np.asarray(x, dtype=dtype).view(uint)
        # Too few digits may round past the largest finite value: that is just a miss.
        with np.errstate(over="ignore"):
            for digits in range(1, 10):
                s = repr(float(f"{f:.{digits}g}"))
                if np.asarray(float(s), dtype=dtype).view(uint) == want:
                    return s
    return repr(f)


def _nest(flat: list[str], shape: tuple[int, ...]) -> str:
    """The nested ``[[a, b], [c, d]]`` literal of C-ordered element texts."""
    if not shape:
        return flat[0]

    def level(start: int, dim: int) -> tuple[str, int]:
        if dim == len(shape) - 1:
            end = start + shape[dim]
            return "[" + ", ".join(flat[start:end]) + "]", end
        parts = []
        for _ in range(shape[dim]):
            text, start = level(start, dim + 1)
            parts.append(text)
        return "[" + ", ".join(parts) + "]", start

    return level(0, 0)[0]


def _format_string_item(x: Any) -> str:
    if isinstance(x, bytes):
        return quote_bytes(x)
    return quote_string(x if isinstance(x, str) else str(x))


def _format_string_elements(a: np.ndarray) -> str:
    items = [_format_string_item(x) for x in a.reshape(-1).tolist()]
    if len(items) > 1 and all(s == items[0] for s in items):
        return items[0]
    if not a.shape:
        return items[0]
    return _nest(items, a.shape)


# --------------------------------------------------------------------------------------------
# Graphs


class Printer:
    """Prints one graph: numbers its values once, then writes ops or the whole graph.

    >>> from flowir.ir.ops.core import Placeholder
    >>> g = Graph()
    >>> ty = TensorType(DType.float32, (2,))
    >>> x = g.append(Placeholder.create(name="x", loc=Location("m.py", 3), result_types=[ty]))
    >>> Printer(g).op_line(x)
    '%0 = "flowir.placeholder"() {name = "x"} : () -> tensor<2xf32> loc("m.py":3)'
    """

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._names: dict[Value, str] = {}
        self._types: dict[Type, str] = {}
        self._locs: dict[Location, str] = {}
        self._op_names: dict[str, str] = {}
        names = self._names
        for i, arg in enumerate(graph.inputs):
            names[arg] = f"%arg{i}"
        n = 0
        ops = list(graph.ops)
        if graph.return_op is not None:
            ops.append(graph.return_op)
        for op in ops:
            results = op.results
            if len(results) == 1:
                names[results[0]] = f"%{n}"
                n += 1
            elif results:
                for i, r in enumerate(results):
                    names[r] = f"%{n}#{i}"
                n += 1

    def value_name(self, value: Value) -> str:
        """The printed id of ``value`` (``%3``, ``%2#1``, ``%arg0``)."""
        return self._names.get(value, UNKNOWN_VALUE)

    def type_text(self, ty: Type) -> str:
        """The IR spelling of ``ty`` (``tensor<?x3xf32>``), cached per printer."""
        text = self._types.get(ty)
        if text is None:
            text = self._types[ty] = format_type(ty)
        return text

    def print_graph(self) -> str:
        """The whole graph, ending with a newline."""
        g = self.graph
        args = []
        for arg in g.inputs:
            text = f"{self._names[arg]}: {self.type_text(arg.type)}"
            if arg.name is not None:
                text += f" {{name = {quote_string(arg.name)}}}"
            args.append(text + self._loc(arg.location))
        sym = g.name if _SYMBOL.match(g.name) else quote_string(g.name)
        lines = [f"flowir.graph @{sym}({', '.join(args)}) {{"]
        op_line = self.op_line
        lines += ["  " + op_line(op) for op in g.ops]
        if g.return_op is not None:
            lines.append("  " + op_line(g.return_op))
        lines.append("}\n")
        return "\n".join(lines)

    def op_line(self, op: Operation) -> str:
        """One op in the generic syntax, without indentation."""
        get = self._names.get
        results = op.results
        if not results:
            head = ""
        elif len(results) == 1:
            head = get(results[0], UNKNOWN_VALUE) + " = "
        else:
            head = f"{get(results[0], UNKNOWN_VALUE).partition('#')[0]}:{len(results)} = "
        op_name = self._op_names.get(op.name)
        if op_name is None:
            op_name = self._op_names[op.name] = quote_string(op.name)
        operands = op.operands
        types = self._types
        in_types = []
        for v in operands:
            text = types.get(v.type)
            in_types.append(text if text is not None else self.type_text(v.type))
        out_types = []
        for r in results:
            text = types.get(r.type)
            out_types.append(text if text is not None else self.type_text(r.type))
        out = out_types[0] if len(out_types) == 1 else "(" + ", ".join(out_types) + ")"
        ctrl = ""
        if op.control_deps:
            ctrl = " [" + ", ".join([get(v, UNKNOWN_VALUE) for v in op.control_deps]) + "]"
        loc = self._locs.get(op.location)
        if loc is None:
            loc = self._loc(op.location)
        return (
            f"{head}{op_name}({', '.join([get(v, UNKNOWN_VALUE) for v in operands])}){ctrl}"
            f"{self._attr_dict(op)} : ({', '.join(in_types)}) -> {out}{loc}"
        )

    def nearby(self, op: Operation, radius: int = 2) -> list[str]:
        """The printed lines of the ops within ``radius`` of ``op``; ``op``'s line starts with
        ``">> "``, the others with ``"   "``."""
        ops = list(self.graph.ops)
        if self.graph.return_op is not None:
            ops.append(self.graph.return_op)
        index = next((i for i, o in enumerate(ops) if o is op), None)
        if index is None:
            return [">> " + self.op_line(op)]
        window = ops[max(0, index - radius) : index + radius + 1]
        return [(">> " if o is op else "   ") + self.op_line(o) for o in window]

    def _loc(self, loc: Location) -> str:
        text = self._locs.get(loc)
        if text is None:
            text = self._locs[loc] = format_location(loc)
        return text

    def _attr_dict(self, op: Operation) -> str:
        user_name = op.user_name
        if user_name is None and not op.attributes and op.device is None:
            return ""
        parts = [] if user_name is None else ["name = " + quote_string(user_name)]
        if op.device is not None:
            parts.append("device = " + quote_string(op.device))
        if op.attributes:
            defs = op.ATTRS
            for key, value in op.attr_items():
                d = defs.get(key)
                if d is not None and d.default is not REQUIRED and is_default_value(value, d.default):
                    continue
                parts.append(f"{_format_key(key)} = {format_attribute(value)}")
        return " {" + ", ".join(parts) + "}" if parts else ""


def is_default_value(value: Any, default: Any) -> bool:
    """Whether an attribute value equals its declared default (so it is not printed)."""
    if value is default:
        return True
    if type(value) is not type(default) or isinstance(value, np.ndarray):
        return False
    # repr tells -0.0 from 0.0 and finds nan equal to itself, unlike ==.
    return repr(value) == repr(default)


def _format_key(key: str) -> str:
    if _IDENTIFIER.match(key) and key not in _NUMBER_WORDS:
        return key
    return quote_string(key)


def print_graph(graph: Graph) -> str:
    """The textual IR of ``graph`` (see the module docstring); ``parse_graph`` reads it back."""
    return Printer(graph).print_graph()
