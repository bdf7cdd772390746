"""Load test of ``chainrule serve`` on loopback (issue 19).

Serves MNIST ``cnn`` (a model directory; trained weights with ``--checkpoint``, else a
fresh initialisation: the speed does not depend on the weights) and drives it with 1, 8
and 32 concurrent clients (``--clients``), each sending ``--requests`` predict requests of
ONE image, with dynamic batching on and off. Reports throughput, p50/p99 latency, failed
requests, wrong predictions (each answer is compared with the answering version's local
output) and, for the batching runs, the mean batch size. The last run drops version 2 into
the directory a third of the way in: its answers must all succeed and come from version 1
then version 2.

    python benchmarks/bench_serve.py [--clients 1,8,32] [--requests 100]
        [--max-batch 32] [--max-wait-ms 5] [--checkpoint runs/cnn/model.npz] [--quick]

The server and the clients share the machine (and the GIL of this process: the clients
are threads here too), so absolute numbers are a floor; the ratios batching/no batching
are the point.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _common import import_chainrule, machine_summary

cr = import_chainrule()

import numpy as np  # noqa: E402

from chainrule.models import create_model, load_model, save_model  # noqa: E402
from chainrule.random import manual_seed  # noqa: E402
from chainrule.serve import ModelRepository, start_server  # noqa: E402
from chainrule.serve.loadtest import drive  # noqa: E402
from chainrule.serve.repository import run_model  # noqa: E402


def _images(n: int) -> np.ndarray:
    try:
        from chainrule.data import load_mnist

        (_, _), (x, _) = load_mnist(download=False)
        return x[:n, None].astype(np.float32)
    except Exception:  # noqa: BLE001 - no MNIST here: random images of the same shape
        return np.random.default_rng(0).random((n, 1, 28, 28), dtype=np.float32)


def _model(seed: int, checkpoint: str | None):
    if checkpoint:
        return load_model(checkpoint)
    manual_seed(seed)
    return create_model("cnn", input_shape=(1, 28, 28), num_classes=10).eval()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", default="1,8,32")
    p.add_argument("--requests", type=int, default=100, help="per client")
    p.add_argument("--max-batch", type=int, default=32)
    p.add_argument("--max-wait-ms", type=float, default=5.0)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--quick", action="store_true", help="1,8 clients, 20 requests each")
    a = p.parse_args(argv)
    clients = [1, 8] if a.quick else [int(c) for c in a.clients.split(",")]
    requests = 20 if a.quick else a.requests
    images = _images(256)
    models = {"1": _model(0, a.checkpoint), "2": _model(1, None)}
    # what each version answers for each image, computed here once (one image at a time)
    outputs = {v: np.concatenate([run_model(m, x[None]) for x in images])
               for v, m in models.items()}

    def expected(version: str, row: int) -> np.ndarray:
        return outputs[version][row]

    print(f"# chainrule serve load test: {machine_summary()}")
    print("| batching | clients | requests | failed | wrong | req/s | p50 ms | p99 ms "
          "| mean batch | versions |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    failed = 0
    for batching in (False, True):
        for n in clients:
            swap = batching and n == clients[-1]
            with tempfile.TemporaryDirectory() as root:
                save_model(models["1"], Path(root) / "mnist" / "1")
                repo = ModelRepository(root, poll_interval=0.1, max_batch=a.max_batch,
                                       max_wait_ms=a.max_wait_ms, batching=batching)
                with start_server(repo) as server:
                    drive(server.url, "mnist", images, clients=2, requests=3,
                          expected=expected)  # warm-up
                    first = repo.get("mnist").batcher.batches

                    def new_version(root: str = root) -> None:
                        save_model(models["2"], Path(root) / "mnist" / "2")

                    result = drive(server.url, "mnist", images, clients=n,
                                   requests=requests, expected=expected,
                                   during=new_version if swap else None)
                    runs = sum(repo.get("mnist", int(v)).batcher.batches
                               for v in result.versions) - first
            mean_batch = result.requests / runs if runs else float("nan")
            versions = ", ".join(f"v{v}: {c}" for v, c in sorted(result.versions.items()))
            print(f"| {'on' if batching else 'off'} | {n} | {result.requests} | "
                  f"{result.failures} | {result.wrong} | {result.throughput:.0f} | "
                  f"{result.percentile(50):.1f} | {result.percentile(99):.1f} | "
                  f"{mean_batch:.1f} | {versions}{' (swap)' if swap else ''} |")
            failed += result.failures + result.wrong
            for line in result.errors[:3]:
                print(f"  error: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
