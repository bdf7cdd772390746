"""``chainrule playground [--port 8000]``: the playground in the browser.

    chainrule playground            # then open http://127.0.0.1:8000/

Starts the local web server of :mod:`chainrule.playground` (network view and backpropagation
view; every asset is in the package, no internet needed); needs
``pip install "chainrule[playground]"``.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import UsageError
from . import common

__all__ = ["NAME", "register", "run"]

NAME = "playground"


def register(subparsers: Any) -> argparse.ArgumentParser:
    p = common.add_parser(subparsers, NAME, help="watch a network learn and backpropagation "
                                                 "happen, in the browser",
                          description="Start the playground's local web server and print its "
                                      "address: train small networks on toy data (the "
                                      "network view) and step an expression's computation "
                                      "graph forward and backward (the backpropagation view).")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on "
                                                       "(default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    return p


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port < 65536:
        raise UsageError(f"--port must be 0..65535, got {args.port}")
    from ..playground import check_dependencies, serve

    try:
        check_dependencies()
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"chainrule playground: http://{host}:{args.port}/  (Ctrl+C stops it)", flush=True)
    serve(host=args.host, port=args.port)
    return 0
