"""Verified downloads for data sets: mirrors tried in turn, SHA-256 of the content, atomic writes.

A file is fetched into a temporary file beside its destination, checked (its length against
the server's ``Content-Length``, then the SHA-256 of its *decompressed* bytes when it is
gzip, of its bytes otherwise, against a known sum), synced to disk and renamed into place.
A reader therefore sees either no file or a complete, verified one, even when processes
download the same file at once. A mirror that fails in any way (unreachable, HTTP error,
timeout, dropped connection, wrong content) is skipped for the next one; when every mirror
fails, one ``DatasetError`` lists what each of them did.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Sequence

from flowir._fileio import remove_quietly, sync_directory
from flowir.ir.errors import FlowirError

__all__ = ["DatasetError", "download_verified", "raw_sha256", "is_gzip"]

_log = logging.getLogger("flowir.datasets")

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 16


class DatasetError(FlowirError):
    """A data set that cannot be found, downloaded or read: names the file or URL and why."""


def is_gzip(path: str) -> bool:
    """Whether the file at ``path`` starts with the gzip magic bytes."""
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def raw_sha256(path: str) -> str:
    """The hex SHA-256 of the file's content: of its decompressed bytes when it is gzip.

    Raises ``OSError``/``EOFError``/``zlib.error`` for unreadable or corrupt gzip data.
    """
    h = hashlib.sha256()
    opener = gzip.open if is_gzip(path) else open
    with opener(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class _MirrorFailure(Exception):
    """One mirror could not deliver the file; the message says how."""


def download_verified(
    filename: str,
    sha256: str,
    directory: str,
    mirrors: Sequence[str],
    *,
    timeout: float = 30.0,
    max_seconds: float = 600.0,
) -> str:
    """Download ``filename`` into ``directory`` from the first mirror that serves it intact.

    Each mirror is a base URL; the file's URL is the mirror joined with ``filename``.
    ``sha256`` is the hex SHA-256 of the file's raw content (decompressed when the file is
    gzip). ``timeout`` bounds every connect and read, ``max_seconds`` one whole transfer.
    Returns the path of the verified file (``directory/filename``); raises ``DatasetError``
    naming the file and what each mirror did when none delivered it, or when ``directory``
    cannot be written.
    """
    if not mirrors:
        raise DatasetError(f"cannot download {filename}: no mirrors configured")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise DatasetError(f"cannot create the data directory {directory!r}: {e.strerror or e}") from None
    target = os.path.join(directory, filename)
    failures: list[str] = []
    for mirror in mirrors:
        url = urllib.parse.urljoin(mirror if mirror.endswith("/") else mirror + "/", filename)
        _log.info("downloading %s", url)
        try:
            _fetch(url, target, sha256.lower(), timeout, max_seconds)
        except _MirrorFailure as e:
            _log.warning("%s: %s", url, e)
            failures.append(f"  {url}: {e}")
            continue
        _log.info("saved %s", target)
        return target
    raise DatasetError(f"cannot download {filename} into {directory!r}: every mirror failed", failures)


def _fetch(url: str, target: str, sha256: str, timeout: float, max_seconds: float) -> None:
    directory = os.path.dirname(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".part", dir=directory)
    except OSError as e:
        raise DatasetError(f"cannot write into the data directory {directory!r}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            _transfer(url, out, timeout, max_seconds)
            out.flush()
            os.fsync(out.fileno())
        try:
            got = raw_sha256(tmp)
        except (OSError, EOFError, zlib.error) as e:
            raise _MirrorFailure(f"corrupt gzip data ({e})") from None
        if got != sha256:
            raise _MirrorFailure(f"content SHA-256 is {got}, expected {sha256}")
        os.replace(tmp, target)
    except BaseException:
        remove_quietly(tmp)
        raise
    sync_directory(directory)


def _transfer(url: str, out, timeout: float, max_seconds: float) -> None:
    deadline = time.monotonic() + max_seconds
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            expected = response.headers.get("Content-Length")
            received = 0
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                received += len(chunk)
                if time.monotonic() > deadline:
                    raise _MirrorFailure(f"transfer took longer than {max_seconds:g} s")
    except urllib.error.HTTPError as e:
        raise _MirrorFailure(f"HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise _MirrorFailure(f"unreachable ({e.reason})") from None
    except TimeoutError:
        raise _MirrorFailure(f"timed out after {timeout:g} s") from None
    except (OSError, ValueError, http.client.HTTPException) as e:
        # Connection resets, truncated chunked bodies and malformed URLs land here.
        raise _MirrorFailure(f"transfer failed ({type(e).__name__}: {e})") from None
    # http.client returns a short body without complaint when the peer closes early.
    if expected is not None and expected.isdigit() and received != int(expected):
        raise _MirrorFailure(f"connection closed after {received} of {expected} bytes")
