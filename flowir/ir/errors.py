"""The flowir exception tree. Every error a user can cause is a ``FlowirError``."""

from __future__ import annotations

__all__ = [
    "FlowirError",
    "ShapeError",
    "DTypeError",
    "OpAttributeError",
    "VerificationError",
    "ParseError",
    "PassError",
    "UnsupportedOpError",
]


class FlowirError(Exception):
    """Base of all flowir errors.

    ``detail`` is the one-line reason; ``context`` holds further lines (operands with their
    types, the creation site, nearby IR) appended to the message.
    """

    def __init__(self, detail: str, context: list[str] | None = None) -> None:
        self.detail = detail
        self.context: list[str] = list(context or [])
        super().__init__(self._message())

    def _message(self) -> str:
        return "\n".join([self.detail, *self.context])

    def add_context(self, *lines: str) -> None:
        """Append ``lines`` to the context shown below the reason (the message is updated)."""
        self.context.extend(lines)
        self.args = (self._message(),)

    def with_prefix(self, prefix: str) -> None:
        """Put ``prefix`` (which op failed) before the reason, once."""
        if not self.detail.startswith(prefix):
            self.detail = f"{prefix}: {self.detail}"
            self.args = (self._message(),)

    def __str__(self) -> str:
        return self._message()


class ShapeError(FlowirError, ValueError):
    """Shapes that cannot work together: clashing dims, bad ranks, out-of-range axes."""


class DTypeError(FlowirError, TypeError):
    """Element types that cannot work together."""


class OpAttributeError(FlowirError, ValueError):
    """An op attribute that is missing, of the wrong kind, or out of range."""


class VerificationError(FlowirError):
    """A graph breaks an IR rule: SSA order, types, an op's own constraints."""


class ParseError(FlowirError, ValueError):
    """Textual IR that does not parse; ``line`` and ``column`` are 1-based."""

    def __init__(self, detail: str, line: int, column: int, source_line: str | None = None, filename: str = "<string>") -> None:
        self.line = line
        self.column = column
        self.filename = filename
        context = []
        if source_line is not None:
            context = [f"  {source_line}", "  " + " " * (column - 1) + "^"]
        super().__init__(f"{filename}:{line}:{column}: {detail}", context)


class PassError(FlowirError):
    """A pass failed or left an invalid graph."""


class UnsupportedOpError(FlowirError, NotImplementedError):
    """An op that a backend, a rule table or a pass has no rule for."""
