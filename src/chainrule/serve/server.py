"""Running the application with uvicorn: in the foreground (``chainrule serve``) or in a
background thread on a free loopback port (tests, benchmarks, notebooks)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .app import create_app
from .repository import ModelRepository

__all__ = ["RunningServer", "run_app", "serve", "start_app", "start_server"]


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


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def start_app(app: Any, *, host: str = "127.0.0.1", port: int = 0,
              name: str = "chainrule-app", timeout: float = 30.0) -> tuple[Any, Any, str]:
    """Run the ASGI ``app`` with uvicorn in a daemon thread (``port=0``: a free port) and
    return ``(server, thread, url)`` once it accepts connections; stop it with
    ``server.should_exit = True`` and ``thread.join()``."""
    uvicorn = _uvicorn()
    sock = _listen(host, port)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=10)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name,
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start on {host}:{port}")
        time.sleep(0.01)
    return server, thread, _url(host, sock.getsockname()[1])


def run_app(app: Any, *, host: str = "127.0.0.1", port: int = 8501,
            log_level: str = "info", banner: Callable[[str], str] | None = None) -> None:
    """Run the ASGI ``app`` with uvicorn in the foreground until interrupted (Ctrl-C):
    ``chainrule serve`` and ``chainrule playground``. The socket is bound first (with
    TCP_NODELAY, see ``_listen``; ``port=0`` picks a free one), then ``banner(url)`` is
    printed."""
    uvicorn = _uvicorn()
    sock = _listen(host, port)
    if banner is not None:
        print(banner(_url(host, sock.getsockname()[1])), flush=True)
    config = uvicorn.Config(app, log_level=log_level, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


def start_server(repository: ModelRepository, *, host: str = "127.0.0.1", port: int = 0,
                 max_body_bytes: int = 10 * 2**20) -> RunningServer:
    """Serve ``repository`` from a background thread (``port=0``: a free port) and return
    once it accepts connections; the repository starts polling for new versions."""
    app = create_app(repository, max_body_bytes=max_body_bytes)
    server, thread, url = start_app(app, host=host, port=port, name="chainrule-serve")
    repository.start()
    return RunningServer(url, int(url.rsplit(":", 1)[1]), repository, server, thread)


def serve(model_dir: str, *, host: str = "127.0.0.1", port: int = 8501,
          max_batch: int = 32, max_wait_ms: float = 5.0, batching: bool = True,
          poll_interval: float = 1.0, max_body_bytes: int = 10 * 2**20) -> None:
    """Serve every model under ``model_dir`` until interrupted (Ctrl-C)."""
    _uvicorn()  # the extra's error before anything starts
    repository = ModelRepository(model_dir, poll_interval=poll_interval, max_batch=max_batch,
                                 max_wait_ms=max_wait_ms, batching=batching)
    repository.start()
    try:
        run_app(create_app(repository, max_body_bytes=max_body_bytes), host=host, port=port,
                banner=lambda url: f"chainrule serve: "
                                   f"{', '.join(repository.names()) or 'no models yet'} on "
                                   f"{url} (Ctrl-C stops)")
    finally:
        repository.close()
