"""The seed spread of README's MNIST ``cnn`` command line (issue 14 item 12 leftover).

Runs ``chainrule train --model cnn --dataset mnist --epochs 5 --batch-size 64 --seed S``
for each seed in a fresh folder, reads the accuracies the command prints, and writes them
with mean and sample standard deviation to ``docs/cnn_cli_seeds.json``.

    CHAINRULE_DATA=/work/shared/data python experiments/cnn_cli_seeds.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATTERN = re.compile(r"(validation|test) accuracy: ([0-9.]+) %")


def run(seed: int, folder: Path) -> dict[str, float]:
    cmd = [sys.executable, "-c", "import sys; from chainrule.cli import main; sys.exit(main())",
           "train", "--model", "cnn", "--dataset", "mnist",
           "--epochs", "5", "--batch-size", "64", "--seed", str(seed), "--quiet",
           "--out", str(folder / f"cnn-{seed}")]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    found = dict(PATTERN.findall(done.stdout))
    return {"seed": seed, "val_accuracy": float(found["validation"]),
            "test_accuracy": float(found["test"]),
            "seconds": round(time.perf_counter() - start, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", default=str(ROOT / "docs" / "cnn_cli_seeds.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        for seed in args.seeds:
            runs.append(run(seed, Path(tmp)))
            print(runs[-1], flush=True)
    tests = [r["test_accuracy"] for r in runs]
    summary = {"command": "chainrule train --model cnn --dataset mnist --epochs 5 "
                          "--batch-size 64 --seed S", "runs": runs,
               "test_mean": round(statistics.mean(tests), 3),
               "test_std": round(statistics.stdev(tests), 3) if len(tests) > 1 else None}
    Path(args.json).write_text(json.dumps(summary, indent=1) + "\n")
    print(f"test accuracy {summary['test_mean']:.2f} ± {summary['test_std']} % "
          f"over seeds {args.seeds}")


if __name__ == "__main__":
    main()
