"""The architecture flags of ``chainrule train --model mlp`` (issue 20).

    chainrule train --model mlp --dataset fashion-mnist --hidden 300,100 --dropout 0 \\
        --optimizer sgd --lr 0.01 --momentum 0 --epochs 30          # Hands-On ML ch. 10
    chainrule train --model mlp --dataset fashion-mnist --hidden 300,100 --dropout 0 \\
        --batch-norm --init he_normal --optimizer sgd --lr 0.01 --momentum 0   # ch. 11 BN
    chainrule train --model mlp --dataset fashion-mnist --hidden 100x100 --dropout 0 \\
        --activation selu --init lecun_normal --optimizer sgd --lr 0.001 --momentum 0.9

``--hidden`` lists the hidden layer sizes, separated by commas; ``SIZExN`` stands for N
layers of SIZE (``100x100``: the book's 100 hidden layers of 100 units). A flag not given
keeps the default of :func:`chainrule.models.mlp` (one hidden layer of 256, ReLU, dropout
0.2 after each hidden activation, Glorot-uniform weights, no batch norm). The flags are
for ``--model mlp`` only (``--hidden N`` also sets the size of ``--model char-lstm``); with
another classifier they are a usage error.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import UsageError
from ..models import mlp

FLAGS = {"hidden": "--hidden", "activation": "--activation", "dropout": "--dropout",
         "batch_norm": "--batch-norm", "init": "--init"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``--hidden``, ``--activation``, ``--dropout``, ``--batch-norm``, ``--init``."""
    p.add_argument("--hidden", default=None, metavar="SIZES",
                   help="mlp: hidden layer sizes, e.g. 300,100 or 100x100 (100 layers of "
                        "100; default 256); char-lstm: the LSTM's size (default 256)")
    p.add_argument("--activation", default=None,
                   help="mlp: relu, selu, elu, gelu, tanh, sigmoid or leaky_relu (default relu)")
    p.add_argument("--dropout", type=float, default=None,
                   help="mlp: dropout rate after each hidden activation, 0 for none "
                        "(default 0.2)")
    p.add_argument("--batch-norm", action="store_true", default=None,
                   help="mlp: batch norm on the inputs and after each hidden activation")
    p.add_argument("--init", default=None,
                   help="mlp: hidden weight initializer, e.g. he_normal, lecun_normal "
                        "(default glorot_uniform)")


def parse_hidden(text: str) -> tuple[int, ...]:
    """``"300,100"`` -> (300, 100); ``"300,100x3"`` -> (300, 100, 100, 100)."""
    sizes: list[int] = []
    for item in text.split(","):
        size, _, count = item.strip().lower().partition("x")
        try:
            size_n, count_n = int(size), int(count) if count else 1
        except ValueError:
            size_n = count_n = 0
        if size_n <= 0 or count_n <= 0:
            raise UsageError(f"--hidden {text!r}: expected positive sizes separated by "
                             "commas, SIZExN for N layers (e.g. 300,100 or 100x100)")
        sizes += [size_n] * count_n
    return tuple(sizes)


def lstm_hidden(value: int | str, model: str) -> int:
    """``--hidden`` of ``--model char-lstm``: one size, the LSTM's hidden units."""
    if model != "char-lstm":
        raise UsageError(f"--hidden: for --model mlp or char-lstm, not {model!r}")
    sizes = parse_hidden(value) if isinstance(value, str) else (value,)
    if len(sizes) != 1 or not isinstance(sizes[0], int) or sizes[0] <= 0:
        raise UsageError(f"--hidden {value!r}: char-lstm takes one positive size (its LSTM's "
                         "hidden units), e.g. 256")
    return sizes[0]


def check_model(args: argparse.Namespace) -> None:
    """A flag of this module given with a model that does not take it is a UsageError
    (a generative, RL or language model would otherwise ignore it silently)."""
    allowed = {"mlp": set(FLAGS), "char-lstm": {"hidden"}}.get(args.model, set())
    bad = [FLAG for key, FLAG in FLAGS.items()
           if getattr(args, key, None) is not None and key not in allowed]
    if bad:
        models = "mlp or char-lstm" if bad == ["--hidden"] else "mlp only"
        raise UsageError(f"{', '.join(bad)}: for --model {models}, not {args.model!r}")


def model_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The builder keywords of the flags given (none given: ``{}``)."""
    given = {k: getattr(args, k, None) for k in FLAGS}
    given = {k: v for k, v in given.items() if v is not None}
    if given and args.model != "mlp":
        raise UsageError(f"{', '.join(FLAGS[k] for k in given)}: for --model mlp only, not "
                         f"{args.model!r}")
    if "hidden" in given:
        given["hidden"] = parse_hidden(given["hidden"])
    try:  # the builder's own checks of the names and the rate, on a one-layer model
        mlp((1,), 1, hidden=(), **{k: v for k, v in given.items() if k != "hidden"})
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return given
