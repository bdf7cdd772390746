"""Int8 quantization on MNIST and Fashion-MNIST (issue 19): how much test accuracy
post-training quantization (PTQ) loses, how much quantization-aware training (QAT)
recovers, and how much smaller the saved model is.

For each dataset (``--datasets mnist,fashion``) and model (``--models mlp,cnn``, the
``chainrule train`` architectures at their defaults) and seed (``--seeds``):

1. train the float model: Adam lr 1e-3, batch 64, ``--mlp-epochs`` (3) / ``--cnn-epochs``
   (1) on all 60,000 training images (inputs in [0, 1]); score the 10,000 test images;
2. PTQ: ``chainrule.quantize(model, x_train[:500])`` (the calibration set is the first
   500 training images); score the test images;
3. QAT: ``prepare_qat`` the float model, fine-tune one pass over ``--qat-samples``
   training images (Adam lr 1e-4), ``convert`` with the same 500 calibration images;
   score the test images; the control: the same extra pass without fake quantization,
   then PTQ (so QAT is compared with equal training);
4. sizes: ``model.npz`` of the saved float and int8 model directories.

Nothing is selected on the test set (fixed recipes, one score per model). Results are
printed as a table and written to ``--out`` (JSON, default docs/quantization.json),
after every run so a partial run keeps what it measured.

    nice -n 10 python experiments/quantization.py [--seeds 2] [--models mlp,cnn]
        [--datasets mnist,fashion] [--qat-samples 10000]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import chainrule as cr
from chainrule import nn
from chainrule.data import load_fashion_mnist, load_mnist
from chainrule.models import create_model, save_model
from chainrule.optim import Adam
from chainrule.quant import convert, prepare_qat
from chainrule.random import manual_seed
from chainrule.train import Trainer

ROOT = Path(__file__).resolve().parents[1]


def accuracy(model, x, y) -> float:
    model.eval()
    correct = 0
    with cr.no_grad():
        for start in range(0, len(x), 1000):
            out = model(x[start:start + 1000]).numpy()
            correct += int((out.argmax(1) == y[start:start + 1000]).sum())
    return 100.0 * correct / len(x)


def size(model, root: Path, name: str) -> int:
    save_model(model, root / name / "1")
    return (root / name / "1" / "model.npz").stat().st_size


def recipe_arguments(p: argparse.ArgumentParser) -> None:
    """The options of the float recipe (also used by experiments/quant_onnx.py)."""
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--models", default="mlp,cnn")
    p.add_argument("--mlp-epochs", type=int, default=3)
    p.add_argument("--cnn-epochs", type=int, default=1)


def train_float(kind: str, seed: int, args, data) -> tuple:
    """The float model trained by the recipe (see the module docstring): ``(model,
    epochs, seconds, (x, y), (xt, yt))``, the images with a channel axis for ``cnn``."""
    (x, y), (xt, yt) = data
    if kind == "cnn":
        x, xt = x[:, None], xt[:, None]
    manual_seed(seed)
    model = create_model(kind, input_shape=x.shape[1:], num_classes=10)
    trainer = Trainer(model, nn.CrossEntropyLoss(), Adam(model.parameters(), lr=1e-3))
    epochs = args.mlp_epochs if kind == "mlp" else args.cnn_epochs
    start = time.perf_counter()
    if epochs:  # 0: the untrained model (a quick check of a script)
        trainer.fit((x, y), epochs=epochs, batch_size=64, seed=seed, verbose=False)
    return model, epochs, time.perf_counter() - start, (x, y), (xt, yt)


def one_run(dataset: str, kind: str, seed: int, args, data) -> dict:
    model, epochs, train_s, (x, y), (xt, yt) = train_float(kind, seed, args, data)
    calibration = x[:500]
    float_acc = accuracy(model, xt, yt)
    ptq = cr.quantize(model, calibration)
    ptq_acc = accuracy(ptq, xt, yt)
    qat = prepare_qat(model)
    qat.train()
    n = args.qat_samples
    Trainer(qat, nn.CrossEntropyLoss(), Adam(qat.parameters(), lr=1e-4)).fit(
        (x[:n], y[:n]), epochs=1, batch_size=64, seed=seed, verbose=False)
    qat_acc = accuracy(convert(qat, calibration), xt, yt)
    # the control: the same extra pass without fake quantization, then PTQ, so that the
    # QAT column is not credited with what the extra training alone gives
    tuned = copy.deepcopy(model)
    tuned.train()
    Trainer(tuned, nn.CrossEntropyLoss(), Adam(tuned.parameters(), lr=1e-4)).fit(
        (x[:n], y[:n]), epochs=1, batch_size=64, seed=seed, verbose=False)
    tuned_acc = accuracy(tuned, xt, yt)
    tuned_ptq_acc = accuracy(cr.quantize(tuned, calibration), xt, yt)
    with tempfile.TemporaryDirectory() as tmp:
        float_bytes, int8_bytes = size(model, Path(tmp), "f"), size(ptq, Path(tmp), "q")
    return {"dataset": dataset, "model": kind, "seed": seed, "epochs": epochs,
            "float": float_acc, "ptq": ptq_acc, "qat": qat_acc, "tuned_float": tuned_acc,
            "tuned_ptq": tuned_ptq_acc, "float_bytes": float_bytes,
            "int8_bytes": int8_bytes, "train_seconds": round(train_s, 1)}


def table(rows: list[dict]) -> str:
    lines = ["| dataset | model | seeds | float % | int8 PTQ % | PTQ change (points) | "
             "int8 after QAT % | control: float + same pass % | control: its PTQ % | "
             "QAT − control PTQ (points) | size float → int8 |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["model"]), []).append(r)

    def ms(values: list[float]) -> str:
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.2f} ± {sd:.2f}"

    for (dataset, kind), rs in groups.items():
        lines.append(
            f"| {dataset} | {kind} | {len(rs)} | {ms([r['float'] for r in rs])} | "
            f"{ms([r['ptq'] for r in rs])} | {ms([r['ptq'] - r['float'] for r in rs])} | "
            f"{ms([r['qat'] for r in rs])} | {ms([r['tuned_float'] for r in rs])} | "
            f"{ms([r['tuned_ptq'] for r in rs])} | "
            f"{ms([r['qat'] - r['tuned_ptq'] for r in rs])} | "
            f"{rs[0]['float_bytes'] / 1e6:.2f} MB → {rs[0]['int8_bytes'] / 1e6:.2f} MB "
            f"({rs[0]['float_bytes'] / rs[0]['int8_bytes']:.2f}×) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    recipe_arguments(p)
    p.add_argument("--datasets", default="mnist,fashion")
    p.add_argument("--qat-samples", type=int, default=10000)
    p.add_argument("--out", default=str(ROOT / "docs" / "quantization.json"))
    args = p.parse_args(argv)
    loaders = {"mnist": load_mnist, "fashion": load_fashion_mnist}
    rows: list[dict] = []
    for kind in args.models.split(","):
        for dataset in args.datasets.split(","):
            data = loaders[dataset]()
            for seed in range(args.seeds):
                row = one_run(dataset, kind, seed, args, data)
                rows.append(row)
                print(json.dumps(row), flush=True)
                Path(args.out).write_text(json.dumps(
                    {"command": "python experiments/quantization.py " + " ".join(
                        sys.argv[1:] if argv is None else argv), "runs": rows}, indent=1))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
