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

from .app import check_dependencies, create_app
from .errors import PlaygroundInputError

__all__ = ["PlaygroundInputError", "check_dependencies", "create_app", "serve"]


def serve(host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning") -> None:
    """Run the playground at ``http://host:port/`` until interrupted."""
    app = create_app()
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level=log_level)
