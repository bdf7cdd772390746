"""The playground's web server: a Starlette app (``pip install "chainrule[playground]"``).

Routes (JSON in and out; a bad value answers 400 ``{"error": message}``, shown on the page):

* ``GET /`` and ``/static/...``: the page and its scripts, shipped in the package;
* ``POST /api/sessions``: a new training session (one per browser tab) -> ``{"id": ...}``;
* ``POST /api/sessions/{id}/settings`` (new settings; resets), ``.../play``, ``.../pause``,
  ``.../step`` (one epoch), ``.../reset``; ``.../neuron`` ``{"layer", "unit"}``: that
  neuron's expression for the backpropagation view;
* ``GET /api/sessions/{id}/stream``: server-sent events, one ``frame`` (losses, weights,
  heat maps) whenever the network changes; while playing, a frame every ~``FRAME_S``;
* ``POST /api/backprop`` ``{"expression": ..., "values": "x=3, y=4"}``: the graph.

Each session's training runs in a worker thread, so tabs train independently and the
server answers other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from .backprop import explain, parse_values
from .errors import PlaygroundInputError
from .network import Session, Settings

__all__ = ["FRAME_S", "MAX_SESSIONS", "check_dependencies", "create_app"]

STATIC = Path(__file__).with_name("static")
FRAME_S = 0.02  # training time per frame while playing (seconds): up to ~40 frames/s
MAX_SESSIONS = 32  # the oldest is dropped beyond this


class _Tab:
    """A session with its play state, a lock (one thread trains it at a time) and an event
    that wakes its stream."""

    def __init__(self) -> None:
        self.session = Session()
        self.playing = False
        self.lock = threading.Lock()
        self.changed = asyncio.Event()
        self.version = 0

    def touch(self) -> None:
        self.version += 1
        self.changed.set()


def check_dependencies() -> None:
    """Raise ImportError naming the extra when Starlette or uvicorn is missing."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ImportError(f'the playground needs Starlette and uvicorn ({exc.name} is '
                          f'missing): pip install "chainrule[playground]"') from exc


def create_app() -> Any:
    """The Starlette application (Starlette is imported here, lazily)."""
    check_dependencies()
    from anyio import to_thread
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    tabs: OrderedDict[str, _Tab] = OrderedDict()

    def error(message: str, status: int = 400) -> Any:
        return JSONResponse({"error": message}, status_code=status)

    def tab_of(request: Any) -> _Tab | None:
        return tabs.get(request.path_params["sid"])

    async def body(request: Any) -> Any:
        try:
            return await request.json()
        except ValueError:
            raise PlaygroundInputError("the request body is not JSON") from None

    async def index(request: Any) -> Any:
        return FileResponse(STATIC / "index.html")

    async def new_session(request: Any) -> Any:
        sid = secrets.token_hex(8)
        tabs[sid] = _Tab()
        while len(tabs) > MAX_SESSIONS:
            tabs.popitem(last=False)
        return JSONResponse({"id": sid, "settings": tabs[sid].session.settings.__dict__})

    async def command(request: Any) -> Any:
        tab, action = tab_of(request), request.path_params["action"]
        if tab is None:
            return error("no such session (the server restarted?): reload the page", 404)
        try:
            if action == "settings":
                settings = Settings.from_json(await body(request))
                await to_thread.run_sync(_locked, tab, lambda: tab.session.reset(settings))
            elif action == "reset":
                await to_thread.run_sync(_locked, tab, tab.session.reset)
            elif action == "step":
                await to_thread.run_sync(_locked, tab, tab.session.train_epoch)
            elif action == "neuron":
                data = await body(request)
                if not isinstance(data, dict):
                    raise PlaygroundInputError("send {layer, unit}")
                return JSONResponse(await to_thread.run_sync(
                    tab.session.neuron, data.get("layer"), data.get("unit")))
            elif action in ("play", "pause"):
                tab.playing = action == "play"
            else:
                return error(f"unknown action {action!r}", 404)
        except PlaygroundInputError as exc:
            return error(str(exc))
        tab.touch()
        return JSONResponse({"ok": True, "playing": tab.playing})

    async def stream(request: Any) -> Any:
        tab = tab_of(request)
        if tab is None:
            return error("no such session: reload the page", 404)

        async def events() -> Any:
            sent_points = -1
            seen = -1
            while True:
                if tab.playing:
                    await to_thread.run_sync(_locked, tab,
                                             lambda: tab.session.advance(FRAME_S))
                elif seen == tab.version:
                    tab.changed.clear()
                    try:
                        await asyncio.wait_for(tab.changed.wait(), timeout=10.0)
                    except asyncio.TimeoutError:
                        yield ": keep-alive\n\n"
                    continue
                seen = tab.version
                frame = await to_thread.run_sync(_locked, tab, tab.session.frame)
                frame["playing"] = tab.playing
                if sent_points != tab.session.resets:
                    sent_points = tab.session.resets
                    frame["points"] = tab.session.points()
                yield f"event: frame\ndata: {json.dumps(frame)}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    async def backprop(request: Any) -> Any:
        try:
            data = await body(request)
            if not isinstance(data, dict):
                raise PlaygroundInputError("send {expression, values}")
            result = explain(data.get("expression", ""), parse_values(data.get("values", "")))
        except PlaygroundInputError as exc:
            return error(str(exc))
        return JSONResponse(result)

    routes = [
        Route("/", index),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Route("/api/sessions", new_session, methods=["POST"]),
        Route("/api/sessions/{sid}/stream", stream),
        Route("/api/sessions/{sid}/{action}", command, methods=["POST"]),
        Route("/api/backprop", backprop, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes)


def _locked(tab: _Tab, fn: Any) -> Any:
    with tab.lock:
        return fn()
