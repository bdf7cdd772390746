"""Does an Embedding(sparse=True) training step cost the same for any vocabulary size?

One step = ``zero_grad``, lookup of a (32, 8) batch of indices in an (V, 32) float32
table, a loss on the looked-up rows, ``backward``, ``step``. Timed for several vocabulary
sizes V, for chainrule's sparse table (SGD, SGD with momentum, SparseAdam), its dense
table (SGD, Adam) and PyTorch's ``nn.Embedding(sparse=True)`` (SGD, SparseAdam),
interleaved repeat by repeat in one process (``_common.measure``). Reported: ms per step
(median of the repeats) and the ratio of the largest V's time to the smallest's — about
1 when the step cost does not depend on V.

SGD with momentum is the exception by design (as in PyTorch): its buffer covers every row
touched so far, so its cost grows with the rows seen, here a fixed set of batches that
covers at most ``steps * 256`` rows.

Run: ``python benchmarks/bench_sparse_embedding.py [--vocab 1000 1000000] [--repeat 5]
[--json benchmarks/results/sparse_embedding.json]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    format_table,
    freeze_heap,
    import_chainrule,
    import_torch,
    limit_numpy_blas_threads,
    machine_summary,
    measure,
)

DIM, BATCH = 32, (32, 8)


def _batches(vocab: int, n: int = 64) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, vocab, size=BATCH) for _ in range(n)]


def chainrule_step(cr, vocab: int, sparse: bool, opt_name: str):
    from chainrule import nn, optim

    emb = nn.Embedding(vocab, DIM, sparse=sparse)
    make = {"sgd": lambda ps: optim.SGD(ps, lr=0.01),
            "momentum": lambda ps: optim.SGD(ps, lr=0.01, momentum=0.9),
            "adam": lambda ps: optim.Adam(ps, lr=1e-3),
            "sparse_adam": lambda ps: optim.SparseAdam(ps, lr=1e-3)}[opt_name]
    opt = make(emb.parameters())
    batches = _batches(vocab)
    target = cr.tensor(np.ones(DIM, dtype=np.float32))
    k = [0]

    def step() -> None:
        idx = batches[k[0] % len(batches)]
        k[0] += 1
        opt.zero_grad()
        out = emb(idx)
        ((out - target) ** 2).mean().backward()
        opt.step()

    return step


def torch_step(torch, vocab: int, opt_name: str):
    emb = torch.nn.Embedding(vocab, DIM, sparse=True)
    opt = (torch.optim.SGD(emb.parameters(), lr=0.01) if opt_name == "sgd"
           else torch.optim.SparseAdam(emb.parameters(), lr=1e-3))
    batches = [torch.from_numpy(b) for b in _batches(vocab)]
    target = torch.ones(DIM)
    k = [0]

    def step() -> None:
        idx = batches[k[0] % len(batches)]
        k[0] += 1
        opt.zero_grad()
        out = emb(idx)
        ((out - target) ** 2).mean().backward()
        opt.step()

    return step


CANDIDATES = [  # (label, library, sparse, optimizer)
    ("chainrule sparse, SGD", "cr", True, "sgd"),
    ("chainrule sparse, SGD momentum", "cr", True, "momentum"),
    ("chainrule sparse, SparseAdam", "cr", True, "sparse_adam"),
    ("chainrule dense, SGD", "cr", False, "sgd"),
    ("chainrule dense, Adam", "cr", False, "adam"),
    ("torch sparse, SGD", "torch", True, "sgd"),
    ("torch sparse, SparseAdam", "torch", True, "sparse_adam"),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vocab", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    cr = import_chainrule()
    cr.set_default_dtype("float32")
    limit_numpy_blas_threads(1)
    torch = import_torch()
    if torch is not None:
        torch.set_num_threads(1)
    freeze_heap()
    ms: dict[str, dict[int, float]] = {c[0]: {} for c in CANDIDATES}
    for vocab in args.vocab:
        fns = {}
        for label, lib, sparse, opt_name in CANDIDATES:
            if lib == "torch":
                if torch is not None:
                    fns[label] = torch_step(torch, vocab, opt_name)
            else:
                fns[label] = chainrule_step(cr, vocab, sparse, opt_name)
        timings = measure(fns, min_time=args.min_time, repeat=args.repeat)
        for label, t in timings.items():
            ms[label][vocab] = t.median * 1e3
        del fns
    lo, hi = min(args.vocab), max(args.vocab)
    rows = [[label] + [f"{ms[label][v]:.3f}" if v in ms[label] else "-" for v in args.vocab]
            + [f"{ms[label][hi] / ms[label][lo]:.2f}" if ms[label] else "-"]
            for label, *_ in CANDIDATES]
    print(format_table(["ms / step"] + [f"V={v:,}" for v in args.vocab] + [f"V={hi:,} / V={lo:,}"],
                       rows))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "machine": machine_summary(), "dim": DIM, "batch": list(BATCH),
            "repeat": args.repeat, "ms_per_step_median": {k: {str(v): x for v, x in d.items()}
                                                         for k, d in ms.items()}}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
