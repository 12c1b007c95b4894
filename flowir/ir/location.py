"""Source locations: where in the user's code an op was created."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from types import CodeType

__all__ = ["Location", "UNKNOWN_LOC", "user_location", "register_exclusion"]


@dataclass(frozen=True, slots=True)
class Location:
    """A user's ``file:line`` and enclosing function; ``file=None`` when unknown."""

    file: str | None = None
    line: int = 0
    function: str | None = None

    @property
    def is_known(self) -> bool:
        """Whether the location names a file (``UNKNOWN_LOC`` does not)."""
        return self.file is not None

    def __str__(self) -> str:
        if self.file is None:
            return "<unknown>"
        where = f"{self.file}:{self.line}"
        return f"{where} in {self.function}" if self.function else where


UNKNOWN_LOC = Location()

_FLOWIR_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_EXCLUDED: list[str] = [_FLOWIR_DIR]

# Every op captures its location, so the answers are cached: whether a code object's file is
# the user's, and the ``Location`` of a line (its file shown relative to the working
# directory, which may change, hence kept with it). Ops built in a loop share one Location.
_IS_USER_CODE: dict[CodeType, bool] = {}
_LOCATIONS: dict[tuple[CodeType, int], tuple[str | None, Location]] = {}
_CACHE_LIMIT = 100_000


def register_exclusion(path: str) -> None:
    """Treat frames from files under ``path`` as library frames, not user frames."""
    _EXCLUDED.append(os.path.abspath(path))
    _IS_USER_CODE.clear()


def _is_user_file(filename: str) -> bool:
    if filename.startswith("<") and filename != "<stdin>" and not filename.startswith("<ipython"):
        return False
    return not any(filename.startswith(p) for p in _EXCLUDED)


def user_location() -> Location:
    """The innermost frame outside flowir (and other registered libraries)."""
    f = sys._getframe(1)
    is_user_code = _IS_USER_CODE
    while f is not None:
        code = f.f_code
        is_user = is_user_code.get(code)
        if is_user is None:
            if len(is_user_code) > _CACHE_LIMIT:  # code made on the fly (exec) must not pile up
                is_user_code.clear()
            is_user = is_user_code[code] = _is_user_file(code.co_filename)
        if is_user:
            return _location(code, f.f_lineno)
        f = f.f_back  # type: ignore[assignment]
    return UNKNOWN_LOC


def _location(code: CodeType, line: int) -> Location:
    try:
        cwd: str | None = os.getcwd()
    except OSError:  # the working directory was removed
        cwd = None
    key = (code, line)
    hit = _LOCATIONS.get(key)
    if hit is not None and hit[0] == cwd:
        return hit[1]
    path = code.co_filename
    func = code.co_name
    loc = Location(
        os.path.relpath(path) if cwd is not None and _should_relativize(path, cwd) else path,
        line,
        None if func == "<module>" else func,
    )
    if len(_LOCATIONS) > _CACHE_LIMIT:
        _LOCATIONS.clear()
    _LOCATIONS[key] = (cwd, loc)
    return loc


def _should_relativize(path: str, cwd: str) -> bool:
    try:
        return os.path.isabs(path) and os.path.commonpath([path, cwd]) == cwd
    except ValueError:
        return False
