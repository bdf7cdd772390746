"""``chainrule playground``: watch a network learn and watch backpropagation, in the browser.

A local web server (Starlette + uvicorn, ``pip install "chainrule[playground]"``) serves one page,
with every asset inside this package (plain canvas JavaScript, no CDN):

* the **network view** -- TensorFlow Playground's controls, with the network trained by
  chainrule on the server (:mod:`.network`) and streamed to the page as server-sent events;
* the **backpropagation view** -- an expression's computation graph stepped forward and
  backward (:mod:`.backprop`, on :mod:`chainrule.diff.symbolic` and dual numbers).

See docs/playground.md.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from .app import check_dependencies, create_app
from .errors import PlaygroundInputError

__all__ = ["PlaygroundInputError", "check_dependencies", "create_app", "serve", "start_in_thread"]


def serve(host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning") -> None:
    """Run the playground at ``http://host:port/`` until interrupted."""
    app = create_app()
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level=log_level)


def start_in_thread(host: str = "127.0.0.1", port: int = 0,
                    timeout: float = 20.0) -> tuple[str, Callable[[], None]]:
    """Start the playground in a daemon thread (``port=0``: a free port); return its URL and
    a function that stops it. For tests, benchmarks and notebooks."""
    check_dependencies()
    import uvicorn

    if port == 0:
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host=host, port=port,
                                           log_level="warning", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the playground server did not start on {host}:{port}")
        time.sleep(0.05)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)

    return f"http://{host}:{port}", stop
