"""Serving models over REST (issue 19): ``chainrule serve --model-dir models/ --port 8501``.

* :class:`ModelRepository`: the model directories under a root (``models/<name>/<version>/``,
  written by :func:`chainrule.save_model`), the highest version served, new versions picked
  up and swapped in without failing requests in flight, broken ones refused.
* :class:`Batcher`: dynamic batching (bounded size and wait).
* :func:`create_app`: the Starlette application in TensorFlow Serving's REST shape.
* :func:`serve` (foreground) and :func:`start_server` (a background thread, a free port);
  under them :func:`run_app` and :func:`start_app`, the one way chainrule's commands start
  an ASGI app with uvicorn (``chainrule playground`` too).

Language models take token ids of any length (up to their context): the metadata shows
the free axis as -1, and the batcher runs one batch per length.

Needs ``pip install "chainrule[serve]"`` (Starlette and uvicorn); docs/deploy.md.
"""

from .app import ClientError, create_app, parse_instances
from .batching import Batcher
from .repository import LoadedVersion, ModelRepository, NotFound
from .server import RunningServer, run_app, serve, start_app, start_server

__all__ = ["Batcher", "ClientError", "LoadedVersion", "ModelRepository", "NotFound",
           "RunningServer", "create_app", "parse_instances", "run_app", "serve", "start_app",
           "start_server"]
