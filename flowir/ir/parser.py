"""The textual form of graphs, read back: ``parse_graph(text) -> Graph``.

Reads what ``flowir.ir.printer`` writes (MLIR's generic op syntax, see there), plus ``//``
comments, blank lines and free whitespace between tokens. Grammar::

    graph     := 'flowir.graph' symbol '(' [arg (',' arg)*] ')' '{' op* '}'
    arg       := value-id ':' type ['{' 'name' '=' string '}'] [loc]
    op        := [value-id [':' int] '='] string '(' [use (',' use)*] ')' ['[' use (',' use)* ']']
                 [attr-dict] ':' '(' [type (',' type)*] ')' '->' (type | '(' [type (',' type)*] ')') [loc]
    attr-dict := '{' [key '=' value (',' key '=' value)*] '}'
    value     := string | b-string | int | float | 'true' | 'false' | 'none' | dtype
                 | '[' [value (',' value)*] ']' | 'dense' '<' elements '>' ':' type
    loc       := 'loc' '(' string ':' int ')' | 'loc' '(' string '(' string ':' int ')' ')'

Ops are built raw from their registered class (``OP_REGISTRY``), without type inference;
attribute values are normalised through the op's attribute declarations, so
``print(parse(print(g))) == print(g)``. Every mistake in the text is a ``ParseError`` with
line and column, saying what was expected and what was found.

Most lines of printed IR take a fast path: one regular expression splits a whole op line in
canonical spacing, and anything unusual (or wrong) is parsed again token by token, which
also produces the precise error.
"""

from __future__ import annotations

import difflib
import gc
import re
import sys
from typing import Any, NoReturn

import numpy as np

from flowir.ir.core import OP_REGISTRY, REQUIRED, Graph, Operation, Trait, Value
from flowir.ir.dtypes import DType
from flowir.ir.errors import FlowirError, ParseError
from flowir.ir.location import UNKNOWN_LOC, Location
from flowir.ir.printer import is_default_value
from flowir.ir.types import CONTROL, ResourceType, TensorType, Type
from flowir.ir.verifier import verify as verify_graph
from flowir.ir.verifier import verify_op

__all__ = ["parse_graph", "MAX_NESTING"]

#: Deepest nesting of attribute lists and dense literals the parser accepts.
MAX_NESTING = 64
#: Largest splat ``dense<x>`` (in bytes) the parser materialises.
MAX_SPLAT_BYTES = 1 << 31

# Set to False to parse every op token by token (the tests compare both paths).
_FAST_PATH = True

_WS = re.compile(r"(?:[ \t\r\n]+|//[^\n]*)*")
_STRING_BODY = r'"[^"\\\n]*(?:\\[^\n][^"\\\n]*)*"'
_TOKEN = re.compile(
    rf"""
      (?P<string>{_STRING_BODY})
    | (?P<bytes>b{_STRING_BODY})
    | (?P<value>%[A-Za-z0-9_$.\-]+(?:\#[0-9]+)?)
    | (?P<symbol>@(?:[A-Za-z_][A-Za-z0-9_$.\-]*|{_STRING_BODY}))
    | (?P<number>-?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|inf\b|nan\b))
    | (?P<ident>[A-Za-z_][A-Za-z0-9_$.]*)
    | (?P<bang>![A-Za-z_][A-Za-z0-9_$.]*)
    | (?P<punct>->|[(){{}}\[\]<>,:=*?])
    """,
    re.X,
)
_ESCAPE = re.compile(r"\\(?:([0-9A-Fa-f]{2})|(.))|[^\\]+", re.S)
_SIMPLE_ESCAPES = {"n": b"\n", "t": b"\t", '"': b'"', "\\": b"\\"}

_DIMS = r"(\*x|(?:(?:\?|[0-9]{1,19})x)*)([A-Za-z_][A-Za-z0-9_]*)"
_TYPE = re.compile(rf"tensor<{_DIMS}>|!flowir\.control(?![A-Za-z0-9_$.])|!flowir\.var<tensor<{_DIMS}>>")
_DIM = re.compile(r"(\?|[0-9]+|\*)x")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DTYPES: dict[str, DType] = {d.value: d for d in DType}
_KEYWORDS: dict[str, Any] = {"true": True, "false": False, "none": None}

# One op line in the printer's canonical spacing (see the module docstring of the printer).
_V = r"%[A-Za-z0-9_$.\-]+(?:#[0-9]+)?"
_T = r"(?:tensor<[^<>\s,]*>|!flowir\.var<tensor<[^<>\s,]*>>|!flowir\.control)"
_S = r'"[^"\\\n]*"'
_ATTR_VALUE = rf'(?:{_S}|[^\s,"{{}}\[\]<>]+|\[(?:[^\[\]"\n]|{_S})*\])'
_ATTR_ENTRY = rf"[A-Za-z_][A-Za-z0-9_$.]* = {_ATTR_VALUE}"
_FAST_OP = re.compile(
    rf"(?:%([A-Za-z0-9_$.\-]+)(?::([0-9]{{1,9}}))? = )?"
    rf'"([^"\\\n]*)"'
    rf"\(((?:{_V})(?:, {_V})*)?\)"
    rf"(?: \[((?:{_V})(?:, {_V})*)\])?"
    rf"(?: \{{(name = ({_S})|{_ATTR_ENTRY}(?:, {_ATTR_ENTRY})*)\}})?"
    rf" : \(((?:{_T})(?:, {_T})*)?\) -> ({_T}|\((?:{_T}(?:, {_T})*)?\))"
    rf'( loc\((?:"([^"\\\n]*)":([0-9]{{1,18}})|"([^"\\\n]*)"\("([^"\\\n]*)":([0-9]{{1,18}})\))\))?'
    rf"[ \t\r]*(?://[^\n]*)?(?=\n|\Z)"
)


class _Retry(Exception):
    """The fast path met something it does not handle; parse the op again token by token."""


class _OpSyntax:
    """One op as written, before it is checked and built. Positions are ``None`` on the
    fast path (an error there re-parses the op slowly, which knows every position)."""

    __slots__ = (
        "start",
        "result",
        "result_pos",
        "result_count",
        "name",
        "name_pos",
        "operands",
        "operand_pos",
        "controls",
        "control_pos",
        "attrs",
        "in_types",
        "in_pos",
        "fn_pos",
        "out_types",
        "out_pos",
        "loc",
    )

    def __init__(self, start: int) -> None:
        self.start = start
        self.result: str | None = None
        self.result_pos: int | None = None
        self.result_count: int | None = None
        self.name = ""
        self.name_pos: int | None = None
        self.operands: list[str] = []
        self.operand_pos: list[int] | None = None
        self.controls: list[str] = []
        self.control_pos: list[int] | None = None
        #: ``(key, value, key position, value position)``
        self.attrs: list[tuple[str, Any, int | None, int | None]] = []
        self.in_types: list[Type] = []
        self.in_pos: list[int] | None = None
        self.fn_pos: int | None = None
        self.out_types: list[Type] = []
        self.out_pos: int | None = None
        self.loc: Location = UNKNOWN_LOC


def parse_graph(text: str, *, filename: str = "<string>", verify: bool = True) -> Graph:
    """Read one graph from its textual form.

    ``filename`` names the source in error messages. With ``verify`` (the default) the graph
    is verified and a verifier failure becomes a ``ParseError`` at the offending op's line.
    Raises ``ParseError`` (and nothing else) for any text that is not a valid graph.

    >>> g = parse_graph('flowir.graph @main(%arg0: tensor<2xf32>) {\\n  "flowir.return"(%arg0) : (tensor<2xf32>) -> ()\\n}\\n')
    >>> g.inputs[0].type
    tensor<2xf32>
    """
    # The graph is one large web of cyclic references (ops <-> results <-> uses): the cyclic
    # garbage collector would rescan it over and over while it grows, for nothing.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _Parser(text, filename).parse(verify)
    finally:
        if gc_was_enabled:
            gc.enable()


class _Parser:
    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        self.pos = 0
        self.types: dict[str, Type] = {}
        self.locs: dict[tuple, Location] = {}
        #: value id (``%3``, ``%2#1``, ``%arg0``) -> value
        self.values: dict[str, Value] = {}
        #: bound result or argument name (``%2`` for ``%2:2``) -> where it was bound
        self.bound: dict[str, int] = {}
        self.op_pos: dict[Operation, int] = {}

    # -- errors -----------------------------------------------------------------------------

    def error(self, detail: str, pos: int) -> ParseError:
        text = self.text
        if pos >= len(text):
            pos = len(text.rstrip(" \t\r\n"))
        line_start = text.rfind("\n", 0, pos) + 1
        line_end = text.find("\n", pos)
        source = text[line_start : len(text) if line_end < 0 else line_end].rstrip("\r")
        column = pos - line_start + 1
        # Hex constants make lines of megabytes; show what is around the error.
        if len(source) > max(240, column + 80):
            source = source[: max(240, column + 80)] + " ..."
        return ParseError(detail, text.count("\n", 0, line_start) + 1, column, source, self.filename)

    def fail(self, detail: str, pos: int | None) -> NoReturn:
        if pos is None:
            raise _Retry
        raise self.error(detail, pos)

    def found(self, pos: int) -> str:
        text = self.text
        if pos >= len(text):
            return "end of input"
        m = _TOKEN.match(text, pos)
        if m is not None:
            tok = m.group()
            return f"'{tok[:27]}...'" if len(tok) > 30 else f"'{tok}'"
        ch = text[pos]
        if ch == '"' or text.startswith('b"', pos):
            return "an unterminated string"
        if ch in " \t\r\n":
            return "whitespace"
        return f"unexpected character {ch!r}"

    def expected(self, what: str, pos: int | None = None) -> NoReturn:
        pos = self.skip() if pos is None else pos
        raise self.error(f"expected {what} but found {self.found(pos)}", pos)

    # -- tokens -----------------------------------------------------------------------------

    def skip(self) -> int:
        self.pos = _WS.match(self.text, self.pos).end()  # type: ignore[union-attr]
        return self.pos

    def peek(self) -> re.Match[str] | None:
        return _TOKEN.match(self.text, self.skip())

    def take(self, punct: str) -> bool:
        """Consume ``punct`` if it comes next."""
        start = self.skip()
        if self.text.startswith(punct, start):
            self.pos = start + len(punct)
            return True
        return False

    def expect(self, punct: str) -> int:
        start = self.skip()
        if not self.text.startswith(punct, start):
            self.expected(f"'{punct}'", start)
        self.pos = start + len(punct)
        return start

    def token(self, kind: str, what: str) -> re.Match[str]:
        m = self.peek()
        if m is None or m.lastgroup != kind:
            self.expected(what)
        self.pos = m.end()
        return m

    def string(self, what: str = "a string") -> str:
        m = self.token("string", what)
        return self.decode_string(m.group(), m.start())

    def integer(self, what: str = "an integer") -> int:
        m = self.peek()
        if m is None or not m.group().isdigit() or len(m.group()) > 18:
            self.expected(what)
        self.pos = m.end()
        return int(m.group())

    def decode_string(self, tok: str, pos: int) -> str:
        body = tok[1:-1]
        if "\\" not in body:
            return body
        try:
            return self._unescape(body, pos).decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            self.fail("the escapes of this string are not valid UTF-8", pos)

    def decode_bytes(self, tok: str, pos: int) -> bytes:
        return self._unescape(tok[2:-1], pos)

    def _unescape(self, body: str, pos: int) -> bytes:
        out = bytearray()
        for m in _ESCAPE.finditer(body):
            hexbyte, ch = m.groups()
            if hexbyte is not None:
                out.append(int(hexbyte, 16))
            elif ch is not None:
                simple = _SIMPLE_ESCAPES.get(ch)
                if simple is None:
                    self.fail(f"invalid escape '\\{ch}' in string (use \\n, \\t, \\\", \\\\ or \\XX hex)", pos)
                out += simple
            else:
                out += m.group().encode("utf-8", "surrogatepass")
        return bytes(out)

    # -- types and locations ----------------------------------------------------------------

    def parse_type(self) -> Type:
        start = self.skip()
        m = _TYPE.match(self.text, start)
        if m is None:
            self._type_error(start)
        key = m.group()
        ty = self.types.get(key)
        if ty is None:
            ty = self._make_type(m)
            if ty is None:
                dtype_group = 2 if m.group(2) is not None else 4
                self.fail(f"unknown element type '{m.group(dtype_group)}' (known: {', '.join(_DTYPES)})", m.start(dtype_group))
            self.types[key] = ty
        self.pos = m.end()
        return ty

    def fast_type(self, key: str) -> Type:
        ty = self.types.get(key)
        if ty is None:
            m = _TYPE.fullmatch(key)
            ty = None if m is None else self._make_type(m)
            if ty is None:
                raise _Retry
            self.types[key] = ty
        return ty

    @staticmethod
    def _make_type(m: re.Match[str]) -> Type | None:
        if m.group(2) is not None:
            dims, name, wrap = m.group(1), m.group(2), False
        elif m.group(4) is not None:
            dims, name, wrap = m.group(3), m.group(4), True
        else:
            return CONTROL
        dtype = _DTYPES.get(name)
        if dtype is None:
            return None
        if dims == "*x":
            shape = None
        else:
            shape = tuple(None if d == "?" else int(d) for d in dims[:-1].split("x")) if dims else ()
        ty = TensorType(dtype, shape)
        return ResourceType(ty) if wrap else ty

    def _type_error(self, start: int) -> NoReturn:
        text = self.text
        for prefix in ("tensor<", "!flowir.var<tensor<"):
            if text.startswith(prefix, start):
                p = start + len(prefix)
                first = p
                while (m := _DIM.match(text, p)) is not None:
                    dim = m.group(1)
                    if dim == "*" and (p != first or _DIM.match(text, m.end())):
                        self.fail("'*' (unknown rank) must be the only dimension", p)
                    if dim.isdigit() and len(dim) > 19:
                        self.fail(f"dimension {dim[:20]}... is too large", p)
                    p = m.end()
                m = _WORD.match(text, p)
                if m is None:
                    self.expected("a dimension ('?', '*' or a size followed by 'x') or an element type", p)
                if m.group() not in _DTYPES:
                    self.fail(f"unknown element type '{m.group()}' (known: {', '.join(_DTYPES)})", p)
                p = m.end()
                for close in ">>" if prefix != "tensor<" else ">":
                    if not text.startswith(close, p):
                        self.expected("'>'", p)
                    p += 1
        if text.startswith("!flowir.var<", start):
            self.expected("'tensor<' (a variable holds a tensor)", start + len("!flowir.var<"))
        if text.startswith("!", start):
            m = _TOKEN.match(text, start)
            word = m.group() if m is not None else "!"
            self.fail(f"unknown type '{word}' (expected tensor<...>, !flowir.control or !flowir.var<tensor<...>>)", start)
        self.expected("a type", start)

    def type_list(self, close: str) -> tuple[list[Type], list[int]]:
        types: list[Type] = []
        positions: list[int] = []
        if self.take(close):
            return types, positions
        while True:
            positions.append(self.skip())
            types.append(self.parse_type())
            if self.take(","):
                continue
            self.expect(close)
            return types, positions

    def parse_optional_loc(self) -> Location:
        m = self.peek()
        if m is None or m.group() != "loc":
            return UNKNOWN_LOC
        self.pos = m.end()
        self.expect("(")
        m = self.peek()
        if m is not None and m.group() == "unknown":
            self.pos = m.end()
            self.expect(")")
            return UNKNOWN_LOC
        first = self.string("a file name string")
        if self.take("("):
            file = self.string("a file name string")
            self.expect(":")
            line = self.integer("a line number")
            self.expect(")")
            loc = Location(file, line, first)
        else:
            self.expect(":")
            loc = Location(first, self.integer("a line number"))
        self.expect(")")
        return loc

    # -- attributes -------------------------------------------------------------------------

    def attr_dict(self) -> list[tuple[str, Any, int | None, int | None]]:
        self.expect("{")
        items: list[tuple[str, Any, int | None, int | None]] = []
        if self.take("}"):
            return items
        while True:
            m = self.peek()
            if m is None or m.lastgroup not in ("ident", "string"):
                self.expected("an attribute name")
            key = m.group() if m.lastgroup == "ident" else self.decode_string(m.group(), m.start())
            self.pos = m.end()
            self.expect("=")
            value_pos = self.skip()
            items.append((key, self.attr_value(0), m.start(), value_pos))
            if self.take(","):
                continue
            self.expect("}")
            return items

    def attr_value(self, depth: int) -> Any:
        if depth > MAX_NESTING:
            self.fail(f"attribute lists are nested deeper than {MAX_NESTING} levels", self.skip())
        m = self.peek()
        if m is None:
            self.expected("an attribute value")
        kind, tok = m.lastgroup, m.group()
        if kind == "string":
            self.pos = m.end()
            return self.decode_string(tok, m.start())
        if kind == "bytes":
            self.pos = m.end()
            return self.decode_bytes(tok, m.start())
        if kind == "number":
            self.pos = m.end()
            return self.number(tok, m.start())
        if kind == "ident":
            if tok in _KEYWORDS:
                self.pos = m.end()
                return _KEYWORDS[tok]
            if tok in _DTYPES:
                self.pos = m.end()
                return _DTYPES[tok]
            if tok == "dense":
                self.pos = m.end()
                return self.dense()
        if tok == "[":
            self.pos = m.end()
            items = []
            if self.take("]"):
                return ()
            while True:
                items.append(self.attr_value(depth + 1))
                if self.take(","):
                    continue
                self.expect("]")
                return tuple(items)
        self.expected("an attribute value")

    def number(self, tok: str, pos: int) -> int | float:
        if "." in tok or "e" in tok or "E" in tok or "n" in tok:
            return float(tok)
        if len(tok) > 4000:
            self.fail("integer literal is too long", pos)
        return int(tok)

    # -- dense literals ---------------------------------------------------------------------

    def dense(self) -> np.ndarray:
        self.expect("<")
        body_pos = self.skip()
        body = self.dense_elements(0)
        self.expect(">")
        self.expect(":")
        type_pos = self.skip()
        ty = self.parse_type()
        if type(ty) is not TensorType or not ty.is_static:
            self.fail(f"expected a static tensor type for a dense literal but found {ty!r}", type_pos)
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                a = self.build_dense(body, ty, body_pos)
        except ParseError:
            raise
        except (ValueError, MemoryError, OverflowError) as e:
            self.fail(f"cannot build a dense array of type {ty!r}: {e}", body_pos)
        a.flags.writeable = False
        return a

    def dense_elements(self, depth: int) -> Any:
        """A leaf ``(value, position)`` or a (nested) list of them."""
        if depth > MAX_NESTING:
            self.fail(f"dense literals are nested deeper than {MAX_NESTING} levels", self.skip())
        m = self.peek()
        if m is None:
            self.expected("a dense element")
        kind, tok, pos = m.lastgroup, m.group(), m.start()
        if tok == "[":
            self.pos = m.end()
            items: list[Any] = []
            if self.take("]"):
                return items
            while True:
                items.append(self.dense_elements(depth + 1))
                if self.take(","):
                    continue
                self.expect("]")
                return items
        self.pos = m.end()
        if kind == "string":
            return (self.decode_string(tok, pos), pos)
        if kind == "bytes":
            return (self.decode_bytes(tok, pos), pos)
        if kind == "number":
            return (self.number(tok, pos), pos)
        if tok == "true" or tok == "false":
            return (tok == "true", pos)
        self.expected("a dense element (a number, true, false, a string or '[')", pos)

    def build_dense(self, body: Any, ty: TensorType, body_pos: int) -> np.ndarray:
        dt = ty.dtype
        npdt = dt.numpy
        shape: tuple[int, ...] = ty.shape  # type: ignore[assignment]
        size = 1
        for d in shape:
            size *= d
        if isinstance(body, tuple):
            value, pos = body
            if isinstance(value, str) and dt is not DType.string:
                return self.dense_hex(value, pos, ty, size)
            element = self.dense_element(value, pos, ty)
            if size * max(npdt.itemsize, 8) > MAX_SPLAT_BYTES:
                self.fail(f"a splat of {size} elements is too large", pos)
            if dt is DType.string:
                a = np.empty(shape, dtype=object)
                a.fill(element)
                return a
            return np.full(shape, np.asarray(element, dtype=npdt), dtype=npdt)
        leaves: list[tuple[Any, int]] = []
        if not _flatten(body, shape, 0, leaves):
            self.fail(f"a dense literal of shape {_literal_shape(body)} does not fit {ty!r}", body_pos)
        values = [self.dense_element(v, p, ty) for v, p in leaves]
        if dt is DType.string:
            a = np.empty(len(values), dtype=object)
            a[:] = values
            return a.reshape(shape)
        return np.array(values, dtype=npdt).reshape(shape)

    def dense_element(self, value: Any, pos: int, ty: TensorType) -> Any:
        dt = ty.dtype
        if dt is DType.string:
            if isinstance(value, str | bytes):
                return value
            want = "a string"
        elif dt is DType.bool:
            if type(value) is bool:
                return value
            want = "true or false"
        elif dt.is_integer:
            if type(value) is int:
                info = np.iinfo(dt.numpy)
                if not info.min <= value <= info.max:
                    self.fail(f"integer {value} is out of range for {dt.value}", pos)
                return value
            want = "an integer"
        else:
            if type(value) is float:
                return value
            if type(value) is int:
                try:
                    return float(value)
                except OverflowError:
                    self.fail(f"integer {value} is out of range for {dt.value}", pos)
            want = "a number"
        self.fail(f"expected {want} as an element of {ty!r} but found {self.found(pos)}", pos)

    def dense_hex(self, value: str, pos: int, ty: TensorType, size: int) -> np.ndarray:
        if not value.startswith("0x"):
            self.fail(f"expected a hex string \"0x...\" for the data of {ty!r} but found {self.found(pos)}", pos)
        try:
            data = bytes.fromhex(value[2:])
        except ValueError:
            self.fail("invalid hex data (expected pairs of hex digits after '0x')", pos)
        npdt = ty.dtype.numpy
        if len(data) != size * npdt.itemsize:
            self.fail(f"expected {size * npdt.itemsize} bytes of data for {ty!r} but found {len(data)}", pos)
        a = np.frombuffer(data, dtype=npdt).copy()
        if sys.byteorder == "big":
            a = a.byteswap()
        if ty.dtype is DType.bool and a.size and a.view(np.uint8).max() > 1:
            self.fail("bool data holds bytes other than 00 and 01", pos)
        return a.reshape(ty.shape)  # type: ignore[arg-type]

    # -- graphs and ops ---------------------------------------------------------------------

    def parse(self, verify: bool) -> Graph:
        header = self.skip()
        m = self.peek()
        if m is None or m.group() != "flowir.graph":
            self.expected("'flowir.graph'")
        self.pos = m.end()
        m = self.token("symbol", "a graph name ('@main')")
        sym = m.group()[1:]
        graph = Graph(self.decode_string(sym, m.start() + 1) if sym.startswith('"') else sym)
        self.expect("(")
        if not self.take(")"):
            while True:
                self.parse_arg(graph)
                if self.take(","):
                    continue
                self.expect(")")
                break
        self.expect("{")
        text = self.text
        end = len(text)
        while True:
            start = self.skip()
            if start >= end or text[start] == "}":
                break
            op = None
            if _FAST_PATH:
                m = _FAST_OP.match(text, start)
                if m is not None:
                    try:
                        op = self.build(self.fast_op(m, start))
                        self.pos = m.end()
                    except _Retry:
                        self.pos = start
            if op is None:
                op = self.build(self.slow_op(start))
            if Trait.TERMINATOR in op.traits:
                graph.set_return(op)
                if not self.text.startswith("}", self.skip()):
                    self.expected(f"'}}' after the terminator '{op.name}'")
                break
            graph.append(op)
        self.expect("}")
        if self.skip() < end:
            self.expected("the end of input (one graph per text)")
        if verify:
            self.verify(graph, header)
        return graph

    def parse_arg(self, graph: Graph) -> None:
        m = self.token("value", "a graph input ('%arg0')")
        name = m.group()
        if "#" in name:
            self.fail(f"expected an input name without '#' but found '{name}'", m.start())
        if name in self.bound:
            self.fail(f"redefinition of value '{name}'", m.start())
        self.expect(":")
        ty = self.parse_type()
        user_name = None
        m2 = self.peek()
        if m2 is not None and m2.group() == "{":
            for key, value, key_pos, value_pos in self.attr_dict():
                if key != "name":
                    self.fail(f"unknown attribute '{key}' of a graph input (only 'name' is allowed)", key_pos)
                if not isinstance(value, str):
                    self.fail(f"expected a string for 'name' but found {self.found(value_pos)}", value_pos)  # type: ignore[arg-type]
                user_name = value
        arg = graph.add_input(ty, user_name, self.parse_optional_loc())
        self.values[name] = arg
        self.bound[name] = m.start()

    def fast_op(self, m: re.Match[str], start: int) -> _OpSyntax:
        (result, count, name, operands, controls, attrs, plain_name, in_types, out_types, loc, file, line, fn, file2, line2) = m.groups()
        s = _OpSyntax(start)
        s.name = name
        if result is not None:
            s.result = "%" + result
            if count is not None:
                s.result_count = int(count)
        if operands is not None:
            s.operands = operands.split(", ")
        if controls is not None:
            s.controls = controls.split(", ")
        if attrs is not None:
            if plain_name is not None:
                s.attrs = [("name", plain_name[1:-1], None, None)]
            else:
                brace = m.start(6) - 1
                self.pos = brace
                s.attrs = self.attr_dict()
                if self.pos != m.end(6) + 1:
                    raise _Retry
        fast_type = self.fast_type
        if in_types is not None:
            s.in_types = [fast_type(t) for t in in_types.split(", ")]
        if out_types[0] == "(":
            s.out_types = [fast_type(t) for t in out_types[1:-1].split(", ")] if len(out_types) > 2 else []
        else:
            s.out_types = [fast_type(out_types)]
        if loc is not None:
            key = (file, line, fn, file2, line2)
            where = self.locs.get(key)
            if where is None:
                where = self.locs[key] = Location(file, int(line)) if file is not None else Location(file2, int(line2), fn)
            s.loc = where
        return s

    def slow_op(self, start: int) -> _OpSyntax:
        s = _OpSyntax(start)
        m = self.peek()
        if m is not None and m.lastgroup == "value":
            s.result, s.result_pos = m.group(), m.start()
            if "#" in s.result:
                self.fail(f"expected a result name without '#' but found '{s.result}'", m.start())
            self.pos = m.end()
            if self.take(":"):
                s.result_count = self.integer("a result count")
            self.expect("=")
        m = self.token("string", "an op name string ('\"math.add\"')")
        s.name, s.name_pos = self.decode_string(m.group(), m.start()), m.start()
        self.expect("(")
        s.operands, s.operand_pos = self.value_list(")")
        if self.take("["):
            s.controls, s.control_pos = self.value_list("]")
        m = self.peek()
        if m is not None and m.group() == "{":
            s.attrs = self.attr_dict()
        self.expect(":")
        s.fn_pos = self.expect("(")
        s.in_types, s.in_pos = self.type_list(")")
        self.expect("->")
        s.out_pos = self.skip()
        if self.take("("):
            s.out_types, _ = self.type_list(")")
        else:
            s.out_types = [self.parse_type()]
        s.loc = self.parse_optional_loc()
        return s

    def value_list(self, close: str) -> tuple[list[str], list[int]]:
        names: list[str] = []
        positions: list[int] = []
        if self.take(close):
            return names, positions
        while True:
            m = self.token("value", "a value ('%0')")
            names.append(m.group())
            positions.append(m.start())
            if self.take(","):
                continue
            self.expect(close)
            return names, positions

    def build(self, s: _OpSyntax) -> Operation:
        """Check an op against its class and the values in scope, then create it."""
        fail = self.fail
        cls = OP_REGISTRY.get(s.name)
        if cls is None:
            close = difflib.get_close_matches(s.name, OP_REGISTRY, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            fail(f"unknown op '{s.name}'{hint}", s.name_pos)
        n_results = len(s.out_types)
        keys: list[str] = []
        if s.result is None:
            if n_results:
                fail(f"'{s.name}' has {n_results} result(s) but none is bound (write '%0 = ...')", s.name_pos)
        else:
            if s.result in self.bound:
                line = self.text.count("\n", 0, self.bound[s.result]) + 1
                fail(f"redefinition of value '{s.result}' (first defined on line {line})", s.result_pos)
            if s.result_count is None:
                if n_results != 1:
                    fail(f"expected 1 result type for '{s.result}' but found {n_results} (bind several results with '{s.result}:{n_results} = ...')", s.out_pos)
                keys = [s.result]
            else:
                if s.result_count != n_results or n_results == 0:
                    fail(f"expected {s.result_count} result type(s) for '{s.result}:{s.result_count}' but found {n_results}", s.out_pos)
                keys = [f"{s.result}#{i}" for i in range(n_results)]
        values = self.values
        try:
            operands = [values[n] for n in s.operands]
            controls = [values[n] for n in s.controls]
        except KeyError:
            self._fail_undefined(s)
        in_types = s.in_types
        if len(in_types) != len(operands):
            fail(f"expected {len(operands)} operand type(s) but found {len(in_types)}", s.fn_pos)
        for v, ty in zip(operands, in_types):
            if v.type is not ty and v.type != ty:
                self._fail_operand_type(s, operands)
        user_name = None
        device = None
        attributes: dict[str, Any] = {}
        seen: set[str] = set()
        defs = cls.ATTRS
        for key, value, key_pos, value_pos in s.attrs:
            if key in seen:
                fail(f"duplicate attribute '{key}'", key_pos)
            seen.add(key)
            if key == "name":
                if not isinstance(value, str):
                    fail(f"expected a string for 'name' but found {self.found(value_pos)}", value_pos)  # type: ignore[arg-type]
                user_name = value
                continue
            if key == "device":
                if not isinstance(value, str):
                    fail(f"expected a string for 'device' but found {self.found(value_pos)}", value_pos)  # type: ignore[arg-type]
                device = value
                continue
            d = defs.get(key)
            if d is None:
                fail(f"unknown attribute '{key}' of '{s.name}' (known: {', '.join(['name', 'device', *defs])})", key_pos)
            try:
                value = d.check(value)
            except Exception as e:  # any failure of an op's own attribute check is a mistake in the text
                fail(f"invalid value for attribute '{key}' of '{s.name}': {e}", value_pos)
            if not (d.default is not REQUIRED and is_default_value(value, d.default)):
                attributes[key] = value
        op = cls(operands, s.out_types, attributes, user_name=user_name, location=s.loc, control_deps=controls, device=device)  # type: ignore[arg-type]
        for key, r in zip(keys, op.results):
            values[key] = r
        if s.result is not None:
            self.bound[s.result] = s.start
        self.op_pos[op] = s.start
        return op

    def _fail_undefined(self, s: _OpSyntax) -> NoReturn:
        for names, positions in ((s.operands, s.operand_pos), (s.controls, s.control_pos)):
            for i, name in enumerate(names):
                if name not in self.values:
                    self.fail(self._undefined(name), None if positions is None else positions[i])
        raise AssertionError("no undefined value")

    def _fail_operand_type(self, s: _OpSyntax, operands: list[Value]) -> NoReturn:
        for i, (v, ty) in enumerate(zip(operands, s.in_types)):
            if v.type != ty:
                self.fail(
                    f"expected type {v.type!r} for operand {i} ('{s.operands[i]}') but found {ty!r}",
                    None if s.in_pos is None else s.in_pos[i],
                )
        raise AssertionError("no operand of the wrong type")

    def _undefined(self, name: str) -> str:
        if name + "#0" in self.values:
            return f"use of undefined value '{name}' (it has several results: '{name}#0', '{name}#1', ...)"
        base = name.partition("#")[0]
        if base in self.values:
            return f"use of undefined value '{name}' ('{base}' has one result, used as '{base}')"
        return f"use of undefined value '{name}'"

    def verify(self, graph: Graph, header: int) -> None:
        try:
            verify_graph(graph)
        except FlowirError as e:
            op = getattr(e, "op", None)
            raise self.error(e.detail, self.op_pos.get(op, header)) from None  # type: ignore[arg-type]
        except Exception as e:  # a crash in some op's type rule must not escape as a non-ParseError
            culprit = self._first_failing_op(graph)
            where = header if culprit is None else self.op_pos.get(culprit, header)
            what = "" if culprit is None else f"{culprit.describe_op()}: "
            raise self.error(f"{what}verification failed with {type(e).__name__}: {e}", where) from None

    @staticmethod
    def _first_failing_op(graph: Graph) -> Operation | None:
        for op in graph.ops:
            try:
                verify_op(op)
            except Exception:
                return op
        return None


def _flatten(node: Any, shape: tuple[int, ...], depth: int, out: list[tuple[Any, int]]) -> bool:
    """Collect the leaves of a nested literal into ``out``; ``False`` if it does not fit ``shape``."""
    if depth == len(shape):
        if isinstance(node, list):
            return False
        out.append(node)
        return True
    if not isinstance(node, list) or len(node) != shape[depth]:
        return False
    return all(_flatten(child, shape, depth + 1, out) for child in node)


def _literal_shape(node: Any) -> list[int]:
    dims = []
    while isinstance(node, list):
        dims.append(len(node))
        if not node:
            break
        node = node[0]
    return dims

