"""A local HTTP mirror for download tests: 127.0.0.1 only, each file with a chosen behaviour."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest


@dataclass
class Mirror:
    """One server: ``files`` (name -> bytes) and per-file ``modes``.

    Modes: ``"ok"`` (the default), ``"corrupt"`` (one byte flipped in the middle),
    ``"drop"`` (announces the full length, sends half, closes), ``"hang"`` (never answers
    until the test ends). Files not in ``files`` get a 404. ``requests`` records the paths asked.
    """

    files: dict[str, bytes] = field(default_factory=dict)
    modes: dict[str, str] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    url: str = ""
    release: threading.Event = field(default_factory=threading.Event)


class _Handler(http.server.BaseHTTPRequestHandler):
    mirror: Mirror

    def do_GET(self) -> None:
        m = self.mirror
        name = self.path.rsplit("/", 1)[-1]
        m.requests.append(self.path)
        body = m.files.get(name)
        if body is None:
            self.send_error(404, "no such file")
            return
        mode = m.modes.get(name, "ok")
        if mode == "hang":
            m.release.wait(timeout=30)
            self.close_connection = True
            return
        if mode == "corrupt":
            mid = len(body) // 2
            body = body[:mid] + bytes([body[mid] ^ 0xFF]) + body[mid + 1 :]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "drop":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def mirror_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """Start local mirrors on demand: ``mirror_factory(files, modes) -> Mirror`` with ``.url``."""
    # A proxy configured in the environment must not see (or break) requests to 127.0.0.1.
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    servers: list[tuple[http.server.ThreadingHTTPServer, Mirror, threading.Thread]] = []

    def start(files: dict[str, bytes], modes: dict[str, str] | None = None) -> Mirror:
        mirror = Mirror(files=dict(files), modes=dict(modes or {}))
        handler = type("Handler", (_Handler,), {"mirror": mirror})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        mirror.url = f"http://127.0.0.1:{server.server_address[1]}/mnist/"
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, mirror, thread))
        return mirror

    yield start
    for server, mirror, thread in servers:
        mirror.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
