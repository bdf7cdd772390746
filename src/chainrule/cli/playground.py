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
from .serve import add_address_arguments, check_port

__all__ = ["NAME", "register", "run"]

NAME = "playground"


def register(subparsers: Any) -> argparse.ArgumentParser:
    p = common.add_parser(subparsers, NAME, help="watch a network learn and backpropagation "
                                                 "happen, in the browser",
                          description="Start the playground's local web server and print its "
                                      "address: train small networks on toy data (the "
                                      "network view) and step an expression's computation "
                                      "graph forward and backward (the backpropagation view).")
    add_address_arguments(p, port=8000)
    return p


def run(args: argparse.Namespace) -> int:
    check_port(args.port)
    from ..playground import check_dependencies, create_app

    try:
        check_dependencies()
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    from ..serve.server import run_app  # the one way a command starts a uvicorn app

    run_app(create_app(), host=args.host, port=args.port, log_level="warning",
            banner=lambda url: f"chainrule playground: {url}/  (Ctrl+C stops it)")
    return 0
