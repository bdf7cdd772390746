"""Transformer block training throughput, chainrule against PyTorch, side by side.

The reference workload of the attention issue (15): one pre-LN Transformer encoder
block as a GPT uses it (``TransformerEncoderLayer(128, 4, dim_feedforward=512,
norm_first=True, batch_first=True)``, causal self-attention), batch 16, context 128,
width 128, 4 heads, float32, PyTorch's default activation ReLU (``--activation gelu`` for
GPT's), dropout off (``--dropout P`` to turn it on), an MSE loss on
the block's output and SGD with momentum. Both start from the same weights (PyTorch's,
copied). Reports training sequences per second; goal: chainrule >= 0.8x PyTorch's
throughput at the same thread count.

    python benchmarks/bench_transformer.py [--threads N] [--cpu-clock] [--quick]
    python benchmarks/bench_transformer.py --profile     # cProfile one chainrule step

``--threads N`` sets PyTorch's threads and limits NumPy's BLAS to N (through
threadpoolctl; without it set OPENBLAS_NUM_THREADS=N before starting Python).
``--cpu-clock`` (with --threads 1) times CPU time of this thread only, which ignores other
processes on a shared machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    freeze_heap,
    import_chainrule,
    measure,
    numpy_blas_threads,
    peer_arguments,
    peer_speed_table,
    start_peer_run,
)

cr = import_chainrule()
from chainrule import nn, optim  # noqa: E402

BATCH, CONTEXT, WIDTH, HEADS, FF = 16, 128, 128, 4, 512
LR, MOMENTUM = 0.01, 0.9


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, CONTEXT, WIDTH)).astype(np.float32)
    return x, rng.normal(size=(BATCH, CONTEXT, WIDTH)).astype(np.float32)


def torch_block(torch, dropout: float, activation: str):
    torch.manual_seed(0)
    return torch.nn.TransformerEncoderLayer(WIDTH, HEADS, FF, dropout=dropout,
                                            activation=activation, batch_first=True,
                                            norm_first=True)


def chainrule_step(weights: dict[str, np.ndarray] | None, dropout: float, activation: str):
    x, y = data()
    block = nn.TransformerEncoderLayer(WIDTH, HEADS, FF, dropout=dropout,
                                       activation=activation, batch_first=True,
                                       norm_first=True)
    if weights is not None:
        block.load_state_dict(weights)
    opt = optim.SGD(block.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.MSELoss()

    def step() -> None:
        opt.zero_grad()
        loss_fn(block(x, is_causal=True), y).backward()
        opt.step()

    return step


def torch_step(torch, dropout: float, activation: str):
    x, y = (torch.from_numpy(a) for a in data())
    block = torch_block(torch, dropout, activation)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(CONTEXT)
    opt = torch.optim.SGD(block.parameters(), lr=LR, momentum=MOMENTUM)

    def step() -> None:
        opt.zero_grad()
        out = block(x, src_mask=mask, is_causal=True)
        torch.nn.functional.mse_loss(out, y).backward()
        opt.step()

    return step


def main(argv: list[str] | None = None) -> int:
    p = peer_arguments(__doc__.split("\n")[0], threads=None)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--activation", choices=("relu", "gelu"), default="relu")
    p.add_argument("--profile", action="store_true", help="cProfile a chainrule step")
    a = p.parse_args(argv)
    torch, clock = start_peer_run(a)
    weights = None
    if torch is not None:
        weights = {k: v.detach().numpy().copy()
                   for k, v in torch_block(torch, a.dropout, a.activation).state_dict().items()}
    if a.profile:
        import cProfile
        import pstats

        step = chainrule_step(weights, a.dropout, a.activation)
        step()
        prof = cProfile.Profile()
        prof.runcall(lambda: [step() for _ in range(5)])
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return 0
    fns = {"chainrule": chainrule_step(weights, a.dropout, a.activation)}
    if torch is not None:
        fns["torch"] = torch_step(torch, a.dropout, a.activation)
    freeze_heap()
    timings = measure(fns, min_time=0.3 if a.quick else 1.0, repeat=3 if a.quick else 7,
                      warmup=2, clock=clock)
    blas, how = numpy_blas_threads()
    print(f"Transformer block training step: pre-LN TransformerEncoderLayer({WIDTH}, {HEADS}"
          f", ff {FF}, {a.activation}), causal, batch {BATCH}, context {CONTEXT}, float32, "
          f"dropout {a.dropout}, SGD momentum (torch threads "
          f"{torch.get_num_threads() if torch else '-'}, NumPy BLAS threads {blas} [{how}])")
    print(peer_speed_table(timings, BATCH, "sequences", goal=0.8))
    return 0


if __name__ == "__main__":
    sys.exit(main())
