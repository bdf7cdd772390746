"""ONNX export: agreement with chainrule and inference time, per model (issue 16).

For each model and seed: build it, export it (``chainrule.onnx.export``, dynamic batch,
traced at batch 2), run the file in onnxruntime (CPU, one thread) on a batch of 64 and
compare with chainrule's eager forward in eval mode; time both (median of repeats).
Prints a Markdown table: the largest |difference| over the seeds, the largest
|difference| / (atol + rtol |chainrule|) for the tests' rtol 1e-4, atol 1e-5 (at most 1:
within the tolerance), and ms per batch.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_onnx.py [--seeds 3] [--repeats 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.models import create_model
from chainrule.nn.module import evaluating


class RecurrentClassifier(nn.Module):
    """A recurrent layer's last output -> Dense logits (sequences of 28 steps of 28)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.rnn = getattr(nn, kind)(28, 64, return_sequences=False)
        self.out = nn.Dense(64, 10)

    def forward(self, x):
        return self.out(self.rnn(x))


def _floats(rng, *shape):
    return rng.random(shape, dtype=np.float32)


MODELS = {
    "mlp 784-256-10": (lambda: create_model("mlp", (28, 28), 10),
                       lambda rng, n: _floats(rng, n, 28, 28)),
    "cnn (32, 64)": (lambda: create_model("cnn", (1, 28, 28), 10),
                     lambda rng, n: _floats(rng, n, 1, 28, 28)),
    "LSTM classifier (64)": (lambda: RecurrentClassifier("LSTM"),
                             lambda rng, n: _floats(rng, n, 28, 28)),
    "GRU classifier (64)": (lambda: RecurrentClassifier("GRU"),
                            lambda rng, n: _floats(rng, n, 28, 28)),
    "autoencoder": (lambda: create_model("autoencoder"), lambda rng, n: _floats(rng, n, 28, 28)),
    "conv-autoencoder": (lambda: create_model("conv-autoencoder"),
                         lambda rng, n: _floats(rng, n, 1, 28, 28)),
    "gpt (4 layers, width 128, T 64)": (
        lambda: create_model("gpt", 65, context=64),
        lambda rng, n: rng.integers(0, 65, (n, 64))),
}


def _median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def main() -> None:
    import onnxruntime as ort

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    print(f"batch {args.batch}, seeds {args.seeds}, onnxruntime {ort.__version__}, "
          f"one thread\n")
    print("| model | ONNX nodes | max abs diff | diff / tolerance | chainrule ms | "
          "onnxruntime ms |")
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.onnx")
        for name, (build, data) in MODELS.items():
            worst_abs = worst_rel = 0.0
            t_cr, t_ort = [], []
            for seed in range(args.seeds):
                cr.manual_seed(seed)
                rng = np.random.default_rng(seed)
                model = build()
                proto = cr.onnx.export(model, data(rng, 2), path)
                session = ort.InferenceSession(path, options,
                                               providers=["CPUExecutionProvider"])
                x = data(rng, args.batch)
                with evaluating(model):
                    want = model(x).data
                    t_cr.append(_median_ms(lambda m=model, x=x: m(x), args.repeats))
                got = session.run(None, {"input": x})[0]
                t_ort.append(_median_ms(lambda s=session, x=x: s.run(None, {"input": x}),
                                        args.repeats))
                diff = np.abs(got - want)
                worst_abs = max(worst_abs, float(diff.max()))
                worst_rel = max(worst_rel, float((diff / (1e-5 + 1e-4 * np.abs(want))).max()))
            print(f"| {name} | {len(proto.graph.node)} | {worst_abs:.1e} | {worst_rel:.2f} | "
                  f"{statistics.median(t_cr):.2f} | {statistics.median(t_ort):.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
