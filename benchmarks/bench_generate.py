"""Character GPT sampling: the key/value cache against recomputing the whole context.

The character GPT of docs/attention.md (4 layers, 4 heads, width 128, context 128, ReLU
MLP, float32; random weights: the cost does not depend on them) generates ``--length``
characters after a ``--prompt-length`` prompt, top-k 10, temperature 0.8, batch 1:

* ``cache``: ``generate(..., use_cache=True)``: the prompt runs once, then each new
  character is one position's forward pass against the cached keys and values (the
  cache is rebuilt from the last context // 2 characters when it fills);
* ``recompute``: ``use_cache=False``: every new character runs the whole window of the
  last ``context`` characters again (what nanoGPT's ``generate`` does).

Reports milliseconds per generated character and the speed-up (recompute / cache).

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_generate.py [--cpu-clock] [--quick]

``--cpu-clock`` times the CPU time of this thread only (with one BLAS thread), which
ignores other processes on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import freeze_heap, import_chainrule, load_warning, measure  # noqa: E402

cr = import_chainrule()
from chainrule.models import create_model  # noqa: E402
from chainrule.models.gpt import generate  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--length", type=int, default=256, help="characters to generate")
    p.add_argument("--prompt-length", type=int, default=32)
    p.add_argument("--context", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--cpu-clock", action="store_true")
    p.add_argument("--quick", action="store_true")
    a = p.parse_args(argv)
    cr.manual_seed(0)
    model = create_model("gpt", 65, context=a.context, layers=a.layers, heads=4,
                         width=a.width, activation="relu")
    prompt = np.random.default_rng(0).integers(0, 65, a.prompt_length)

    def run(use_cache: bool):
        return lambda: generate(model, prompt, a.length, temperature=0.8, top_k=10, seed=0,
                                use_cache=use_cache)

    same = (run(True)()[:a.context - a.prompt_length]
            == run(False)()[:a.context - a.prompt_length]).all()
    freeze_heap()
    clock = time.thread_time if a.cpu_clock else time.perf_counter
    timings = measure({"cache": run(True), "recompute": run(False)},
                      min_time=0.5 if a.quick else 2.0, repeat=3 if a.quick else 5,
                      warmup=1, clock=clock)
    print(f"GPT sampling: {a.layers} layers x width {a.width}, context {a.context}, "
          f"{model.num_parameters():,} parameters; prompt {a.prompt_length}, "
          f"{a.length} new characters, batch 1, float32"
          f"{' (CPU clock)' if a.cpu_clock else ''}")
    warning = load_warning()
    if warning:
        print(warning)
    print(f"identical text while the context is not full: {bool(same)}")
    print(f"{'generation':<10} {'ms/char':>9} {'chars/s':>9}")
    for name, t in timings.items():
        per_char = t.best / a.length
        print(f"{name:<10} {per_char * 1e3:>9.2f} {1 / per_char:>9,.0f}")
    speedup = timings["recompute"].best / timings["cache"].best
    print(f"speed-up of the key/value cache: {speedup:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
