"""Source locations: where in the user's code an op was created."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

__all__ = ["Location", "UNKNOWN_LOC", "user_location", "register_exclusion"]


@dataclass(frozen=True, slots=True)
class Location:
    """A user's ``file:line`` and enclosing function; ``file=None`` when unknown."""

    file: str | None = None
    line: int = 0
    function: str | None = None

    @property
    def is_known(self) -> bool:
        return self.file is not None

    def __str__(self) -> str:
        if self.file is None:
            return "<unknown>"
        where = f"{self.file}:{self.line}"
        return f"{where} in {self.function}" if self.function else where


UNKNOWN_LOC = Location()

_FLOWIR_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_EXCLUDED: list[str] = [_FLOWIR_DIR]


def register_exclusion(path: str) -> None:
    """Treat frames from files under ``path`` as library frames, not user frames."""
    _EXCLUDED.append(os.path.abspath(path))


def _is_user_file(filename: str) -> bool:
    if filename.startswith("<") and filename != "<stdin>" and not filename.startswith("<ipython"):
        return False
    return not any(filename.startswith(p) for p in _EXCLUDED)


def user_location() -> Location:
    """The innermost frame outside flowir (and other registered libraries)."""
    f = sys._getframe(1)
    while f is not None:
        code = f.f_code
        if _is_user_file(code.co_filename):
            func = code.co_name
            return Location(
                os.path.relpath(code.co_filename) if _should_relativize(code.co_filename) else code.co_filename,
                f.f_lineno,
                None if func == "<module>" else func,
            )
        f = f.f_back  # type: ignore[assignment]
    return UNKNOWN_LOC


def _should_relativize(path: str) -> bool:
    try:
        return os.path.isabs(path) and os.path.commonpath([path, os.getcwd()]) == os.getcwd()
    except ValueError:
        return False
