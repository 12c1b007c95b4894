"""Crash-safe file writing shared by the commands, the frontend and the datasets.

A file is written to a temporary name in its directory, flushed and fsynced, then renamed
over the target, and the directory is fsynced: a reader sees the old file or the whole new
one, never half of it, and a failure leaves no temporary file behind.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Iterator
from typing import IO

__all__ = ["atomic_file", "write_atomically", "remove_quietly", "sync_directory"]


@contextlib.contextmanager
def atomic_file(path: str, mode: str = "w", *, suffix: str = ".tmp") -> Iterator[IO]:
    """Yield a file object that replaces ``path`` when the block ends without an exception.

    ``mode`` is ``"w"`` (UTF-8 text) or ``"wb"``. ``OSError`` from creating the temporary
    file propagates; on any exception the temporary file is removed and ``path`` is untouched.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=suffix, dir=directory)
    try:
        # mkstemp creates the file 0600; give it the mode open() would (0666 less the umask), so
        # that a checkpoint or event file is readable by whoever could read a plain file there.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise
    sync_directory(directory)


@functools.cache
def _umask() -> int:
    # Reading the umask means setting it: do it once, not while other threads create files.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomically(path: str, data: str | bytes) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8), atomically."""
    with atomic_file(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def remove_quietly(path: str) -> None:
    """Remove ``path`` if it exists; errors are ignored (cleanup must not mask the real one)."""
    try:
        os.unlink(path)
    except OSError:
        pass


def sync_directory(directory: str) -> None:
    """Make a rename in ``directory`` durable; a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
