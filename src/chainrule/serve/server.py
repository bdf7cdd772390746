"""Running the application with uvicorn: in the foreground (``chainrule serve``) or in a
background thread on a free loopback port (tests, benchmarks, notebooks)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from .app import create_app
from .repository import ModelRepository

__all__ = ["RunningServer", "serve", "start_server"]


def _uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError:
        raise ImportError('chainrule serve needs Starlette and uvicorn: '
                          'pip install "chainrule[serve]"') from None
    return uvicorn


@dataclass
class RunningServer:
    """A server started by :func:`start_server`: its ``url``, and :meth:`stop`."""

    url: str
    port: int
    repository: ModelRepository
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        """Stop accepting, finish the requests in flight, stop polling and batching."""
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.repository.close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _listen(host: str, port: int) -> socket.socket:
    """A bound TCP socket for uvicorn, with TCP_NODELAY (inherited by the connections
    accepted on it on Linux): the server writes a response's head and body separately,
    and with Nagle's algorithm on, every answer after the first on a kept-alive
    connection waited for the client's delayed acknowledgement (about 40 ms)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


def start_server(repository: ModelRepository, *, host: str = "127.0.0.1", port: int = 0,
                 max_body_bytes: int = 10 * 2**20) -> RunningServer:
    """Serve ``repository`` from a background thread (``port=0``: a free port) and return
    once it accepts connections; the repository starts polling for new versions."""
    uvicorn = _uvicorn()
    app = create_app(repository, max_body_bytes=max_body_bytes)
    sock = _listen(host, port)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=10)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="chainrule-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    repository.start()
    bound = sock.getsockname()[1]
    return RunningServer(f"http://{host}:{bound}", bound, repository, server, thread)


def serve(model_dir: str, *, host: str = "127.0.0.1", port: int = 8501,
          max_batch: int = 32, max_wait_ms: float = 5.0, batching: bool = True,
          poll_interval: float = 1.0, max_body_bytes: int = 10 * 2**20) -> None:
    """Serve every model under ``model_dir`` until interrupted (Ctrl-C)."""
    uvicorn = _uvicorn()
    repository = ModelRepository(model_dir, poll_interval=poll_interval, max_batch=max_batch,
                                 max_wait_ms=max_wait_ms, batching=batching)
    repository.start()
    sock = _listen(host, port)
    print(f"chainrule serve: {', '.join(repository.names()) or 'no models yet'} on "
          f"http://{host}:{sock.getsockname()[1]} (Ctrl-C stops)", flush=True)
    try:
        config = uvicorn.Config(create_app(repository, max_body_bytes=max_body_bytes),
                                log_level="info", lifespan="off")
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        repository.close()
