"""Fixtures for the data-layer tests: a local HTTP server (real datasets: tests/conftest.py)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves files from its directory without logging to stderr."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class TruncatingHandler(QuietHandler):
    """Announces the full Content-Length but sends only half the bytes, then hangs up."""

    def do_GET(self) -> None:  # noqa: N802
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture
def truncating_handler() -> type[QuietHandler]:
    """The handler class that cuts every response short (for ``serve(dir, handler=...)``)."""
    return TruncatingHandler


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """``serve(directory, handler=QuietHandler) -> base URL`` on 127.0.0.1 (random port).

    Servers run in daemon threads and are shut down after the test.
    """
    running = []

    def start(directory: Path, handler: type[QuietHandler] = QuietHandler) -> str:
        factory = functools.partial(handler, directory=str(directory))
        server = ThreadingHTTPServer(("127.0.0.1", 0), factory)
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused at once)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No CHAINRULE_DATA, and a private cache home, so no test touches the user's cache."""
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path
