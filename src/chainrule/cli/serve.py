"""``chainrule serve --model-dir models/ --port 8501``: serve saved models over REST.

    chainrule save-model runs/cnn-mnist/model.npz models/mnist/1
    chainrule serve --model-dir models/ --port 8501
    curl -d '{"instances": [...]}' localhost:8501/v1/models/mnist:predict

Every ``models/<name>/<version>/`` directory is served in TensorFlow Serving's REST shape
(:mod:`chainrule.serve`; docs/deploy.md); needs ``pip install "chainrule[serve]"``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import UsageError
from . import common

__all__ = ["NAME", "add_address_arguments", "check_port", "register", "run"]

NAME = "serve"


def register(subparsers: Any) -> argparse.ArgumentParser:
    p = common.add_parser(subparsers, NAME, help="serve saved models over REST "
                                                 "(TF Serving's API)",
                          description="Serve every model directory under --model-dir "
                                      "(<name>/<version>/, written by save-model) over REST: "
                                      "POST /v1/models/<name>:predict. New versions are "
                                      "picked up while serving.")
    p.add_argument("--model-dir", required=True, metavar="DIR",
                   help="the directory of models: DIR/<name>/<version>/model.json")
    add_address_arguments(p, port=8501)
    p.add_argument("--max-batch", type=int, default=32,
                   help="most examples run together by dynamic batching (default 32)")
    p.add_argument("--max-wait-ms", type=float, default=5.0,
                   help="longest a request waits for others to batch with (default 5)")
    p.add_argument("--no-batching", action="store_true", help="run each request alone")
    p.add_argument("--poll", type=float, default=1.0, metavar="SECONDS",
                   help="how often to look for new versions (default 1)")
    p.add_argument("--max-body-mb", type=float, default=10.0,
                   help="largest request body in MiB (default 10)")
    return p


def add_address_arguments(p: argparse.ArgumentParser, port: int) -> None:
    """``--host`` and ``--port``: where a command's web server listens (serve,
    playground; checked by :func:`check_port`)."""
    p.add_argument("--host", default="127.0.0.1", help="address to listen on "
                                                       "(default 127.0.0.1)")
    p.add_argument("--port", type=int, default=port, help=f"port (default {port}; 0: a free "
                                                          "one)")


def check_port(port: int) -> None:
    if not 0 <= port < 65536:
        raise UsageError(f"--port must be 0..65535, got {port}")


def run(args: argparse.Namespace) -> int:
    common.check_positive_int("--max-batch", args.max_batch)
    check_port(args.port)
    if args.max_wait_ms < 0 or args.poll <= 0 or args.max_body_mb <= 0:
        raise UsageError("--max-wait-ms must be >= 0, --poll and --max-body-mb > 0")
    if not Path(args.model_dir).is_dir():
        raise UsageError(f"--model-dir {args.model_dir}: no such directory")
    from ..serve import serve

    serve(args.model_dir, host=args.host, port=args.port, max_batch=args.max_batch,
          max_wait_ms=args.max_wait_ms, batching=not args.no_batching,
          poll_interval=args.poll, max_body_bytes=int(args.max_body_mb * 2**20))
    return 0
