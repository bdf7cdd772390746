"""Int8 models in ONNX (QDQ form) on MNIST (issue 19): do onnxruntime's outputs match
chainrule's int8 model, how often do their predictions agree, and how large is the file?

For each model (``--models mlp,cnn``) and seed (``--seeds``), the recipe of
``experiments/quantization.py``: train the float model (Adam lr 1e-3, batch 64, mlp 3
epochs / cnn 1 epoch on all 60,000 training images, inputs in [0, 1]), quantize it with
``chainrule.quantize(model, x_train[:500])``, export both with ``chainrule.onnx.export``
and run the 10,000 test images through onnxruntime (CPU, its default graph
optimizations). Reported: file sizes; the largest output difference (absolute, and
relative to the largest |output|); the share of test images with any output differing by
more than 1e-5 of the largest |output| (the images where a value sat at a rounding
boundary, see tests/onnx/test_export_quant.py); argmax agreement; test accuracy in
chainrule and in onnxruntime. Nothing is tuned on the test set.

    nice -n 10 python experiments/quant_onnx.py [--seeds 2] [--models mlp,cnn]

Writes ``--out`` (JSON, default docs/quant_onnx.json) after every run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from quantization import recipe_arguments, train_float  # experiments/quantization.py

import chainrule as cr
from chainrule.data import load_mnist

ROOT = Path(__file__).resolve().parents[1]


def outputs(model, x) -> np.ndarray:
    model.eval()
    with cr.no_grad():
        return np.concatenate([model(x[s:s + 1000]).numpy() for s in range(0, len(x), 1000)])


def one_run(kind: str, seed: int, args, data, tmp: Path) -> dict:
    import onnxruntime as ort

    model, epochs, _, (x, _), (xt, yt) = train_float(kind, seed, args, data)
    qmodel = cr.quantize(model, x[:500])
    row: dict = {"model": kind, "seed": seed, "epochs": epochs}
    for label, m in (("float", model), ("int8", qmodel)):
        path = tmp / f"{kind}-{seed}-{label}.onnx"
        cr.onnx.export(m, x[:2], path)
        row[f"{label}_bytes"] = path.stat().st_size
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = np.concatenate([session.run(None, {"input": xt[s:s + 1000]})[0]
                              for s in range(0, len(xt), 1000)])
        want = outputs(m, xt)
        diff = np.abs(got - want)
        top = float(np.abs(want).max())
        row[label] = {
            "max_abs_diff": float(diff.max()),
            "max_rel_diff": float(diff.max() / top),
            "images_beyond_1e-5": int((diff > 1e-5 * top).any(axis=1).sum()),
            "argmax_disagree": int((got.argmax(1) != want.argmax(1)).sum()),
            "acc_chainrule": 100.0 * float((want.argmax(1) == yt).mean()),
            "acc_onnxruntime": 100.0 * float((got.argmax(1) == yt).mean()),
        }
    return row


def table(rows: list[dict], args_n: int = 10000) -> str:
    def ms(values: list[float], fmt: str = ".2f") -> str:
        if len(values) == 1:
            return format(values[0], fmt)
        return f"{statistics.mean(values):{fmt}} ± {statistics.stdev(values):{fmt}}"

    lines = ["| model | seeds | float .onnx | int8 .onnx (QDQ) | int8 max abs diff | "
             "relative to max output | test images beyond 1e-5 | argmax disagree | "
             "int8 acc chainrule % | int8 acc onnxruntime % | float max abs diff |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for kind in dict.fromkeys(r["model"] for r in rows):
        rs = [r for r in rows if r["model"] == kind]
        fb, qb = rs[0]["float_bytes"], rs[0]["int8_bytes"]
        q = [r["int8"] for r in rs]
        def each(key: str, fmt: str, rows_: list = q) -> str:
            return " / ".join(format(v[key], fmt) for v in rows_)

        lines.append(
            f"| {kind} | {len(rs)} | {fb / 1e6:.2f} MB | {qb / 1e6:.2f} MB ({fb / qb:.2f}x) | "
            f"{each('max_abs_diff', '.1e')} | {each('max_rel_diff', '.1e')} | "
            f"{each('images_beyond_1e-5', 'd')} of {args_n} | {each('argmax_disagree', 'd')} | "
            f"{ms([v['acc_chainrule'] for v in q])} | "
            f"{ms([v['acc_onnxruntime'] for v in q])} | "
            f"{each('max_abs_diff', '.1e', [r['float'] for r in rs])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    recipe_arguments(p)
    p.add_argument("--out", default=str(ROOT / "docs" / "quant_onnx.json"))
    args = p.parse_args(argv)
    data = load_mnist()
    rows: list[dict] = []
    command = "python experiments/quant_onnx.py " + " ".join(argv or sys.argv[1:])
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.models.split(","):
            for seed in range(args.seeds):
                rows.append(one_run(kind, seed, args, data, Path(tmp)))
                Path(args.out).write_text(json.dumps({"command": command.strip(),
                                                      "runs": rows}, indent=1) + "\n")
                print(json.dumps(rows[-1]), flush=True)
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
